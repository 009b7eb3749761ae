//! `cargo xtask conformance`: the smtp-conform suites against independent
//! peers and this workspace's halves (issue 9).
//!
//! - Server suite against smtp-receive, a private Postfix (Debian
//!   defaults, plus TLS, a Maildir and a SASL user) and aiosmtpd, all over
//!   STARTTLS with AUTH. Unless `--quick`, the idle and slow-client cases
//!   run too, waiting 330 s (past RFC 5321's 5 minutes), in parallel.
//! - Client suite: curl, swaks, msmtp, Python's smtplib and smtp-send each
//!   send one message to the judging receiver, once per scenario.
//!
//! Prints the matrix (Markdown, as in docs/conformance.md) and writes it
//! with every report (text, JSON for the servers, and an HTML page each) to
//! `target/conformance/` (or `--out`).

mod clients;
mod servers;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use smtp_conformance::client::Scenario;
use smtp_conformance::{Outcome, Report, output};
use smtp_testkit::bins::{Bins, Profile};
use smtp_testkit::certs::TestPki;

use crate::repo_root;
use clients::{Client, Files};

/// The AUTH user on every server, and what clients log in with.
const USER: &str = "alice";
/// Its password (test-only).
const PASSWORD: &str = "conform-s3cret";
/// The idle cases wait this long: past the 5 minutes of RFC 5321 §4.5.3.2.7.
const IDLE_WAIT: Duration = Duration::from_secs(330);

/// Options of `cargo xtask conformance`.
#[derive(clap::Args)]
pub struct Args {
    /// Skip the idle and slow-client cases (they take five and a half minutes).
    #[arg(long)]
    quick: bool,
    /// Where to write the matrix and the reports [default: target/conformance].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Only the peers whose name contains one of these (repeatable, case-insensitive).
    #[arg(long, value_name = "NAME")]
    only: Vec<String>,
    /// Only these client scenarios (comma-separated; default: all).
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    scenarios: Vec<Scenario>,
}

/// Runs the task.
pub fn run(args: Args) -> Result<()> {
    smtp_peers::stop_peers_on_signal();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| repo_root().join("target").join("conformance"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let work = tempfile::Builder::new()
        .prefix("smtp-conformance-")
        .tempdir()
        .context("creating the work folder")?;
    smtp_peers::set_temp_parent(work.path(), false).context("preparing the work folder")?;
    let pki = TestPki::generate()
        .context("generating the test PKI")?
        .write(&work.path().join("pki"))
        .context("writing the test PKI")?;
    println!("building smtp-receive and smtp-send");
    let bins = Bins::build(Profile::Debug)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let wanted = |name: &str| {
        args.only.is_empty()
            || args
                .only
                .iter()
                .any(|o| name.to_lowercase().contains(&o.to_lowercase()))
    };
    let started = Instant::now();

    // --- servers -----------------------------------------------------------
    let mut server_rows = Vec::new();
    let mut targets = Vec::new();
    type Starter<'a> = Box<dyn Fn() -> Result<servers::Target> + 'a>;
    let starters: Vec<(&str, Starter)> = vec![
        (
            "smtp-receive",
            Box::new(|| servers::start_receive(&bins.receive, &pki, work.path())),
        ),
        ("Postfix", Box::new(|| servers::start_postfix(&pki))),
        ("aiosmtpd", Box::new(|| servers::start_aiosmtpd(&pki))),
    ];
    for (name, start) in starters {
        if !wanted(name) {
            continue;
        }
        match start() {
            Ok(t) => targets.push(t),
            Err(e) => server_rows.push(ServerRow::missing(name, &format!("{e:#}"))),
        }
    }
    let pki = Arc::new(pki);
    let idle: Vec<_> = if args.quick {
        Vec::new()
    } else {
        targets
            .iter()
            .map(|t| {
                let (endpoint, pki) = (t.endpoint.clone(), pki.clone());
                runtime.spawn(async move { servers::run_idle(&endpoint, &pki, IDLE_WAIT).await })
            })
            .collect()
    };
    let mut reports = Vec::new();
    for t in &targets {
        println!(
            "server suite: {} {} on {}",
            t.endpoint.name, t.version, t.endpoint.addr
        );
        let report = runtime.block_on(servers::run_main(&t.endpoint, &pki));
        reports.push(report);
    }

    // --- clients -----------------------------------------------------------
    let files = Files::write(&work.path().join("clients"), &bins.send)?;
    let scenarios: Vec<Scenario> = if args.scenarios.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        args.scenarios.clone()
    };
    let mut client_rows = Vec::new();
    for client in Client::ALL {
        if !wanted(client.name()) {
            continue;
        }
        let version = client.version(&bins.send);
        let mut row = ClientRow {
            name: client.name(),
            version: version.clone().unwrap_or_else(|| "not installed".into()),
            sessions: Vec::new(),
        };
        if version.is_some() {
            for &scenario in &scenarios {
                println!("client suite: {} / {scenario}", client.name());
                let judged = runtime.block_on(clients::judge(
                    client,
                    scenario,
                    &work.path().join("clients"),
                    &files,
                ))?;
                if let Some(r) = &judged.report {
                    let file = format!("client-{}-{scenario}", client.name().replace(' ', "-"));
                    std::fs::write(out.join(format!("{file}.txt")), output::text(r, true))?;
                    std::fs::write(
                        out.join(format!("{file}.html")),
                        output::html(std::slice::from_ref(r)),
                    )?;
                }
                row.sessions.push((scenario, judged));
            }
        }
        client_rows.push(row);
    }

    // --- the idle cases, then the server rows --------------------------------
    if !idle.is_empty() {
        let left = IDLE_WAIT.saturating_sub(started.elapsed());
        println!(
            "waiting for the idle cases (up to {} s more)",
            left.as_secs() + 30
        );
    }
    let mut idle_reports = Vec::new();
    for handle in idle {
        idle_reports.push(runtime.block_on(handle).ok());
    }
    for (i, t) in targets.iter().enumerate() {
        let mut report = match reports.remove(0) {
            Ok(r) => r,
            Err(e) => {
                server_rows.push(ServerRow::missing(t.endpoint.name, &format!("{e:#}")));
                continue;
            }
        };
        if let Some(Some(Ok(idle))) = idle_reports.get_mut(i).map(Option::take) {
            servers::merge(&mut report, idle);
        }
        let slug = t.endpoint.name.to_lowercase();
        std::fs::write(
            out.join(format!("server-{slug}.txt")),
            output::text(&report, false),
        )?;
        std::fs::write(
            out.join(format!("server-{slug}.json")),
            output::json(&report),
        )?;
        std::fs::write(
            out.join(format!("server-{slug}.html")),
            output::html(std::slice::from_ref(&report)),
        )?;
        server_rows.push(ServerRow {
            name: t.endpoint.name.to_string(),
            version: t.version.clone(),
            report: Ok(report),
        });
    }
    drop(targets);

    let markdown = render(&server_rows, &client_rows, args.quick);
    println!("\n{markdown}");
    let path = out.join("matrix.md");
    std::fs::write(&path, &markdown)?;
    println!("written: {} (and the reports beside it)", path.display());
    Ok(())
}

struct ServerRow {
    name: String,
    version: String,
    report: Result<Report, String>,
}

impl ServerRow {
    fn missing(name: &str, why: &str) -> ServerRow {
        ServerRow {
            name: name.to_string(),
            version: "-".into(),
            report: Err(why.to_string()),
        }
    }
}

struct ClientRow {
    name: &'static str,
    version: String,
    sessions: Vec<(Scenario, clients::Judged)>,
}

fn cell(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Pass) => "pass",
        Some(Outcome::Fail) => "**FAIL**",
        Some(Outcome::Warn) => "warn",
        Some(Outcome::Skip) => "skip",
        Some(Outcome::Inconclusive) => "?",
        None => "-",
    }
}

fn render(servers: &[ServerRow], clients: &[ClientRow], quick: bool) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "### Server suite (STARTTLS, AUTH user, `--rcpt inbox@example.test`)\n"
    );
    let _ = writeln!(
        md,
        "| server | version | cases | pass | fail (MUST / hardening) | warn | skip | inconclusive |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for row in servers {
        match &row.report {
            Ok(r) => {
                let s = r.summary();
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} ({} / {}) | {} | {} | {} |",
                    row.name,
                    row.version,
                    r.results.len(),
                    s.passed,
                    s.failed,
                    s.must_failed,
                    s.hardening_failed,
                    s.warned,
                    s.skipped,
                    s.inconclusive
                );
            }
            Err(why) => {
                let _ = writeln!(
                    md,
                    "| {} | - | not run: {} | | | | | |",
                    row.name,
                    why.replace('|', "/")
                );
            }
        }
    }
    if quick {
        let _ = writeln!(
            md,
            "\n(`--quick`: the idle and slow-client cases were not run.)"
        );
    }
    for row in servers {
        let Ok(r) = &row.report else { continue };
        let notable: Vec<_> = r
            .results
            .iter()
            .filter(|c| {
                matches!(
                    c.outcome,
                    Outcome::Fail | Outcome::Warn | Outcome::Inconclusive
                )
            })
            .collect();
        if notable.is_empty() {
            continue;
        }
        let _ = writeln!(md, "\n{} {}: not passed\n", row.name, row.version);
        for c in notable {
            let _ = writeln!(
                md,
                "- {} `{}` ({}, {}): {}",
                cell(Some(c.outcome)),
                c.info.id,
                c.info.level,
                c.info.rfc,
                c.detail.replace('\n', " ")
            );
        }
    }

    let scenarios: Vec<Scenario> = clients
        .iter()
        .flat_map(|c| c.sessions.iter().map(|(s, _)| *s))
        .fold(Vec::new(), |mut v, s| {
            if !v.contains(&s) {
                v.push(s);
            }
            v
        });
    let _ = writeln!(
        md,
        "\n### Client suite (STARTTLS, TLS required, CA given)\n"
    );
    let _ = write!(
        md,
        "| client | version | checks (normal): pass / fail / warn |"
    );
    for s in scenarios.iter().filter(|s| s.reaction().is_some()) {
        let _ = write!(md, " {s} |");
    }
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "|---|---|---|{}",
        "---|".repeat(scenarios.iter().filter(|s| s.reaction().is_some()).count())
    );
    for row in clients {
        let normal = row
            .sessions
            .iter()
            .find(|(s, _)| *s == Scenario::Normal)
            .and_then(|(_, j)| j.report.as_ref());
        let checks = match normal {
            Some(r) => {
                let s = r.summary();
                format!("{} / {} / {}", s.passed, s.failed, s.warned)
            }
            None => "-".into(),
        };
        let _ = write!(md, "| {} | {} | {} |", row.name, row.version, checks);
        for s in scenarios.iter().filter(|s| s.reaction().is_some()) {
            let id = s.reaction().map(|i| i.id).unwrap_or("");
            let outcome = row
                .sessions
                .iter()
                .find(|(sc, _)| sc == s)
                .and_then(|(_, j)| j.report.as_ref())
                .and_then(|r| r.result(id))
                .map(|r| r.outcome);
            let _ = write!(md, " {} |", cell(outcome));
        }
        let _ = writeln!(md);
    }
    for row in clients {
        // Every check that failed or warned in any scenario, with where.
        let mut seen: BTreeMap<&str, (Outcome, String, Vec<String>)> = BTreeMap::new();
        for (scenario, judged) in &row.sessions {
            let Some(r) = &judged.report else {
                seen.entry("(no session)")
                    .or_insert((
                        Outcome::Inconclusive,
                        format!("client {}", judged.exit),
                        Vec::new(),
                    ))
                    .2
                    .push(scenario.to_string());
                continue;
            };
            for c in r.results.iter().filter(|c| {
                matches!(
                    c.outcome,
                    Outcome::Fail | Outcome::Warn | Outcome::Inconclusive
                )
            }) {
                seen.entry(c.info.id)
                    .or_insert((c.outcome, c.detail.clone(), Vec::new()))
                    .2
                    .push(scenario.to_string());
            }
        }
        if seen.is_empty() {
            continue;
        }
        let _ = writeln!(md, "\n{} {}: not passed\n", row.name, row.version);
        for (id, (outcome, detail, where_)) in seen {
            let _ = writeln!(
                md,
                "- {} `{id}` in {}: {}",
                cell(Some(outcome)),
                where_.join(", "),
                detail.replace('\n', " ")
            );
        }
    }
    md
}
