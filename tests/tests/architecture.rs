//! The architecture invariants that a test can check (rust-analyzer style:
//! an invariant written down is an invariant enforced).
//!
//! * **The protocol cores are sans-IO.** `smtp-wire`, `smtp-receiver-core`
//!   and `smtp-sender-core` depend on no runtime and no I/O crate, and their
//!   sources never name `tokio`, `std::net`, `std::fs`, `std::process`,
//!   `std::thread`, `std::env`, never read a clock and never `await`:
//!   bytes and time come in as values, bytes and deadlines go out as values.
//!   Address *values* come from `core::net`, which has no sockets.
//! * **Libraries carry no CLI weight**: with default features off, the
//!   halves and the conformance library do not depend on clap, anyhow,
//!   tracing-subscriber (nor the sender on rustyline, nor the receiver on
//!   mail-parser, or on the test inbox's axum, tower-http, rusqlite,
//!   prometheus-client, bcrypt, nor on the program's allocator, jemalloc).
//! * **Benchmark-only crates stay benchmark-only**: `smtp-proto` (the
//!   codec smtp-wire is measured against) is no workspace member's normal
//!   dependency.
//!
//! Each rule is also run against a deliberate violation, so the check
//! itself is known to bite.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The protocol cores and the dependencies each may have.
const CORES: &[(&str, &[&str])] = &[
    (
        "smtp-wire",
        &["thiserror", "memchr", "base64", "fearless_simd"],
    ),
    ("smtp-receiver-core", &["smtp-wire", "thiserror", "memchr"]),
    ("smtp-sender-core", &["smtp-wire", "thiserror", "memchr"]),
];

/// What a sans-IO core's source must never contain.
const FORBIDDEN: &[(&str, &str)] = &[
    ("tokio", "an async runtime"),
    ("std::net", "sockets (use core::net for address values)"),
    ("std::fs", "the file system"),
    ("std::process", "processes"),
    ("std::thread", "threads"),
    ("std::env", "the environment"),
    ("std::io::stdin", "standard input"),
    ("Instant::now", "a clock (time comes in as a value)"),
    ("SystemTime::now", "a clock (time comes in as a value)"),
    (".await", "async code"),
    ("async fn", "async code"),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The source with comments and string literals blanked, so that a doc
/// comment may say "tokio" and a reply text may say anything.
fn code_only(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut previous = ' ';
                for c in chars.by_ref() {
                    if previous == '*' && c == '/' {
                        break;
                    }
                    previous = c;
                }
                out.push(' ');
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            // A char literal such as '"' must not open a string.
            '\'' => {
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with("\\") || rest.chars().nth(1) == Some('\'') {
                    let skip = if rest.starts_with("\\") { 3 } else { 2 };
                    for _ in 0..skip {
                        chars.next();
                    }
                    out.push_str("' '");
                } else {
                    out.push(c);
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Every line of `source` that breaks the sans-IO rule, as
/// `line N: <token> (<why>)`.
fn violations(source: &str) -> Vec<String> {
    let code = code_only(source);
    let mut found = Vec::new();
    for (number, line) in code.lines().enumerate() {
        for (token, why) in FORBIDDEN {
            if contains_token(line, token) {
                found.push(format!("line {}: {token} ({why})", number + 1));
            }
        }
    }
    found
}

/// True when `token` stands in `line` as a whole: not as the start of a
/// longer name (`.awaiting` is not `.await`, `tokio_like` is not `tokio`)
/// nor as the end of one.
fn contains_token(line: &str, token: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    line.match_indices(token).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + token.len()..].chars().next();
        let glued_before = token.starts_with(word) && before.is_some_and(word);
        let glued_after = token.ends_with(word) && after.is_some_and(word);
        !glued_before && !glued_after
    })
}

/// The non-test sources of a crate: `src/**/*.rs`, without `tests` folders
/// and `tests.rs` files (tests may use a clock to make instants).
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "tests" {
                sources(&path, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" {
            out.push(path);
        }
    }
}

/// The names in a manifest's `[dependencies]` table.
fn dependencies(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if inside && let Some((name, _)) = line.split_once('=') {
            let name = name.trim().trim_end_matches(".workspace").trim();
            if !name.is_empty() && !name.starts_with('#') {
                names.push(name.to_string());
            }
        }
    }
    names
}

#[test]
fn the_protocol_cores_touch_no_io_and_no_clock() {
    let root = workspace();
    let mut report = Vec::new();
    for (krate, allowed) in CORES {
        let dir = root.join("crates").join(krate);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{krate}: no Cargo.toml ({e})"));
        for dependency in dependencies(&manifest) {
            if !allowed.contains(&dependency.as_str()) {
                report.push(format!(
                    "{krate}/Cargo.toml: depends on {dependency} (a protocol core may depend on {allowed:?} only)"
                ));
            }
        }
        let mut files = Vec::new();
        sources(&dir.join("src"), &mut files);
        assert!(!files.is_empty(), "{krate}: no sources found");
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            for violation in violations(&source) {
                let shown = file.strip_prefix(&root).unwrap_or(&file).display();
                report.push(format!("{shown}: {violation}"));
            }
        }
    }
    assert!(
        report.is_empty(),
        "the sans-IO rule is broken (docs/architecture.md, 'Invariants'):\n{}",
        report.join("\n")
    );
}

#[test]
fn the_checks_catch_a_violation() {
    let bad = "use tokio::net::TcpStream;\nfn f() { let t = std::time::Instant::now(); }\n\
               async fn g() { h().await }\n";
    assert_eq!(
        violations("self.awaiting.pop(); let tokio_like = 1;"),
        Vec::<String>::new()
    );
    let found = violations(bad);
    assert!(
        found.iter().any(|v| v.starts_with("line 1: tokio")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|v| v.starts_with("line 2: Instant::now")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|v| v.starts_with("line 3: .await")),
        "{found:?}"
    );
    let fine = "/// Driven by tokio in smtp-receiver.\nlet text = \"std::net is not here\"; // tokio\n\
                let quote = '\"'; let s = \"tokio\";\n";
    assert_eq!(violations(fine), Vec::<String>::new());
    assert_eq!(
        dependencies(
            "[package]\nname = \"x\"\n[dependencies]\nsmtp-wire.workspace = true\ntokio = \"1\"\n[dev-dependencies]\nproptest = \"1\"\n"
        ),
        ["smtp-wire", "tokio"]
    );
}

/// The normal (non-dev) dependency tree of `krate` without default features.
fn tree_without_defaults(krate: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            krate,
            "--no-default-features",
            "-e",
            "normal",
        ])
        .args(["--prefix", "none", "--format", "{p}"])
        .current_dir(workspace())
        .output()
        .expect("running cargo tree");
    assert!(
        output.status.success(),
        "cargo tree -p {krate} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_libraries_carry_no_cli_weight() {
    let cli_only = ["clap", "anyhow", "tracing-subscriber"];
    let mut report = Vec::new();
    for (krate, also) in [
        // `smtp-send shell`'s line editor is the binary's alone.
        ("smtp-sender", &["rustyline"][..]),
        // The test inbox (feature `inbox`, on with `cli`) and its HTTP
        // stack, SQLite and metrics stay out of an embedder's tree.
        (
            "smtp-receiver",
            &[
                "mail-parser",
                "axum",
                "tower-http",
                "rusqlite",
                "prometheus-client",
                "metrics",
                "metrics-exporter-prometheus",
                "bcrypt",
                "smtp-conformance",
                // The program's allocator: an embedder chooses its own.
                "tikv-jemallocator",
                "tikv-jemalloc-sys",
            ][..],
        ),
        ("smtp-conformance", &[][..]),
    ] {
        let tree = tree_without_defaults(krate);
        for line in tree.lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            if cli_only.contains(&name) || also.contains(&name) {
                report.push(format!("{krate} --no-default-features pulls in {line}"));
            }
        }
    }
    report.sort();
    report.dedup();
    assert!(report.is_empty(), "{}", report.join("\n"));
}

/// Crates that only benchmarks may use: never a normal dependency of any
/// workspace member (docs/architecture.md, "Dependencies beyond
/// DESIGN.md's list").
const BENCH_ONLY: &[&str] = &["smtp-proto"];

#[test]
fn benchmark_only_crates_are_dev_dependencies() {
    let root = workspace();
    let mut manifests = vec![root.join("tests/Cargo.toml"), root.join("xtask/Cargo.toml")];
    for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        manifests.push(entry.path().join("Cargo.toml"));
    }
    let mut report = Vec::new();
    for manifest in manifests {
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        for dependency in dependencies(&text) {
            if BENCH_ONLY.contains(&dependency.as_str()) {
                let shown = manifest.strip_prefix(&root).unwrap_or(&manifest).display();
                report.push(format!("{shown}: {dependency} is for benchmarks only"));
            }
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
    // The check bites: the same manifest with the crate moved up a table.
    let wire = std::fs::read_to_string(root.join("crates/smtp-wire/Cargo.toml")).unwrap();
    assert!(
        wire.contains("smtp-proto"),
        "smtp-wire benchmarks against smtp-proto"
    );
    let moved = wire.replace(
        "[dev-dependencies]",
        "[dependencies]\nsmtp-proto.workspace = true\n[dev-dependencies]",
    );
    assert!(dependencies(&moved).iter().any(|d| d == "smtp-proto"));
}
