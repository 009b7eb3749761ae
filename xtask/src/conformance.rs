//! `cargo xtask conformance`: the smtp-conform suites against independent
//! peers and this workspace's halves (issue 9).
//!
//! - Server suite against smtp-receive, a private Postfix (Debian
//!   defaults, plus TLS, a Maildir and a SASL user), aiosmtpd, nodemailer's
//!   smtp-server and a private Exim, all over STARTTLS with AUTH. Unless
//!   `--quick`, the idle and slow-client cases run too, waiting 330 s (past
//!   RFC 5321's 5 minutes), in parallel.
//! - Client suite: curl, swaks, msmtp, Python's smtplib, nodemailer and
//!   smtp-send each send one message to the judging receiver, once per TLS
//!   mode (STARTTLS, implicit TLS, none) and scenario that means something
//!   in that mode; `--quick` runs every scenario over STARTTLS and a few in
//!   the other two modes.
//!
//! Prints the matrix (Markdown) and writes it with every report (text, JSON
//! for the servers, an HTML page per server and per client) to
//! `target/conformance/` (or `--out`); a run of every peer and scenario
//! also rewrites the matrix section of docs/conformance.md.

mod clients;
mod servers;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use smtp_conformance::client::{ClientTls, Scenario};
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
    /// Do not rewrite the matrix section of docs/conformance.md (it is
    /// rewritten only after a run of every peer and scenario anyway).
    #[arg(long)]
    no_docs: bool,
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
        (
            "smtp-server",
            Box::new(|| servers::start_node_smtp_server(&pki)),
        ),
        ("Exim", Box::new(|| servers::start_exim(&pki))),
        (
            "smtp-receive LMTP",
            Box::new(|| servers::start_receive_lmtp(&bins.receive, work.path())),
        ),
        ("Dovecot LMTP", Box::new(servers::start_dovecot_lmtp)),
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
    let clients_started = Instant::now();
    for client in Client::ALL {
        if !wanted(client.name()) {
            continue;
        }
        let version = client.version(&bins.send);
        let slug = client.name().replace(' ', "-");
        let mut row = ClientRow {
            name: client.name(),
            version: version.clone().unwrap_or_else(|| "not installed".into()),
            installed: version.is_some(),
            modes: Vec::new(),
        };
        let mut pages = Vec::new();
        for mode in clients::MODES {
            let mut mode_row = ModeRow {
                mode,
                supported: true,
                sessions: Vec::new(),
            };
            let planned = scenarios.iter().filter(|s| {
                clients::applies(**s, mode) && (!args.quick || clients::in_quick(**s, mode))
            });
            for &scenario in planned {
                if !row.installed {
                    break;
                }
                println!(
                    "client suite: {} / {} / {scenario}",
                    client.name(),
                    clients::mode_name(mode)
                );
                let judged = runtime.block_on(clients::judge(
                    client,
                    mode,
                    scenario,
                    &work.path().join("clients"),
                    &files,
                ))?;
                let Some(mut judged) = judged else {
                    mode_row.supported = false;
                    break;
                };
                if let Some(r) = &mut judged.report {
                    // The judge's target is "PEER (scenario NAME)".
                    let peer = r.target.split(" (scenario").next().unwrap_or_default();
                    r.target = format!(
                        "{} {}, {}, scenario {scenario}, from {peer}",
                        client.name(),
                        row.version,
                        clients::mode_name(mode)
                    );
                    let file = format!("client-{slug}-{}-{scenario}", clients::mode_slug(mode));
                    std::fs::write(out.join(format!("{file}.txt")), output::text(r, true))?;
                    pages.push(r.clone());
                }
                mode_row.sessions.push((scenario, judged));
            }
            row.modes.push(mode_row);
        }
        if !pages.is_empty() {
            std::fs::write(
                out.join(format!("client-{slug}.html")),
                output::html(&pages),
            )?;
        }
        client_rows.push(row);
    }
    let clients_took = clients_started.elapsed();

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

    let took = started.elapsed();
    let run = RunInfo {
        command: if args.quick {
            "cargo xtask conformance --quick"
        } else {
            "cargo xtask conformance"
        },
        seconds: took.as_secs(),
        client_seconds: clients_took.as_secs(),
        date: today(),
    };
    let tables = render_tables(&server_rows, &client_rows, args.quick, &run);
    let markdown = format!("{tables}{}", render_details(&server_rows, &client_rows));
    println!("\n{markdown}");
    let path = out.join("matrix.md");
    std::fs::write(&path, &markdown)?;
    println!("written: {} (and the reports beside it)", path.display());
    let everything = args.only.is_empty() && args.scenarios.is_empty();
    if everything && !args.no_docs {
        let docs = repo_root().join("docs").join("conformance.md");
        write_docs(&docs, &tables)?;
        println!("rewrote the matrix section of {}", docs.display());
    } else if !args.no_docs {
        println!("docs/conformance.md left as it is (--only or --scenarios narrowed the run)");
    }
    println!(
        "took {} s (client suite {} s)",
        run.seconds, run.client_seconds
    );
    Ok(())
}

/// Where the generated matrix goes in docs/conformance.md.
const DOCS_BEGIN: &str =
    "<!-- matrix: generated by `cargo xtask conformance`, do not edit by hand -->";
const DOCS_END: &str = "<!-- matrix: end -->";

/// Replaces what is between the markers in `path` with `tables`.
fn write_docs(path: &std::path::Path, tables: &str) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (Some(begin), Some(end)) = (text.find(DOCS_BEGIN), text.find(DOCS_END)) else {
        anyhow::bail!(
            "{} has no matrix markers ({DOCS_BEGIN} ... {DOCS_END})",
            path.display()
        );
    };
    anyhow::ensure!(
        begin < end,
        "{}: the matrix markers are out of order",
        path.display()
    );
    let updated = format!(
        "{}{DOCS_BEGIN}\n\n{}\n{}",
        &text[..begin],
        tables.trim(),
        &text[end..]
    );
    std::fs::write(path, updated).with_context(|| format!("writing {}", path.display()))
}

/// Today's date (UTC), `YYYY-MM-DD`.
fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "?".into())
}

/// What the matrix says about its run.
struct RunInfo {
    command: &'static str,
    seconds: u64,
    client_seconds: u64,
    date: String,
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
    installed: bool,
    modes: Vec<ModeRow>,
}

/// A client's sessions in one TLS mode.
struct ModeRow {
    mode: ClientTls,
    /// False when the client cannot be set up for this mode.
    supported: bool,
    sessions: Vec<(Scenario, clients::Judged)>,
}

impl ModeRow {
    fn outcome(&self, scenario: Scenario, id: &str) -> Option<Option<Outcome>> {
        let (_, judged) = self.sessions.iter().find(|(s, _)| *s == scenario)?;
        Some(
            judged
                .report
                .as_ref()
                .and_then(|r| r.result(id))
                .map(|r| r.outcome),
        )
    }
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

/// The two tables (what docs/conformance.md holds).
fn render_tables(
    servers: &[ServerRow],
    clients: &[ClientRow],
    quick: bool,
    run: &RunInfo,
) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "### Server suite (SMTP: STARTTLS, AUTH user, `--rcpt inbox@example.test`; \
         LMTP rows: `lmtp:HOST:PORT`, no TLS or AUTH, three recipients)\n"
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
                    why.replace('|', "/").replace('\n', " ")
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

    let scenarios: Vec<Scenario> = Scenario::ALL
        .into_iter()
        .filter(|s| s.reaction().is_some())
        .filter(|s| {
            clients
                .iter()
                .flat_map(|c| &c.modes)
                .any(|m| m.sessions.iter().any(|(sc, _)| sc == s))
        })
        .collect();
    let _ = writeln!(
        md,
        "\n### Client suite (each TLS mode: TLS required, CA given, AUTH; no TLS: no AUTH)\n"
    );
    let _ = write!(
        md,
        "| client | version | TLS | checks (normal): pass / fail / warn |"
    );
    for s in &scenarios {
        let _ = write!(md, " {s} |");
    }
    let _ = writeln!(md);
    let _ = writeln!(md, "|---|---|---|---|{}", "---|".repeat(scenarios.len()));
    for row in clients {
        if !row.installed {
            let _ = writeln!(
                md,
                "| {} | not installed | | |{}",
                row.name,
                " |".repeat(scenarios.len())
            );
            continue;
        }
        for m in &row.modes {
            let _ = write!(
                md,
                "| {} | {} | {} |",
                row.name,
                row.version,
                clients::mode_name(m.mode)
            );
            if !m.supported {
                let _ = writeln!(
                    md,
                    " cannot be set up for this mode |{}",
                    " |".repeat(scenarios.len())
                );
                continue;
            }
            let normal = m
                .sessions
                .iter()
                .find(|(s, _)| *s == Scenario::Normal)
                .map(|(_, j)| j.report.as_ref());
            let checks = match normal {
                Some(Some(r)) => {
                    let s = r.summary();
                    format!("{} / {} / {}", s.passed, s.failed, s.warned)
                }
                Some(None) => "-".into(),
                None => String::new(),
            };
            let _ = write!(md, " {checks} |");
            for s in &scenarios {
                let id = s.reaction().map(|i| i.id).unwrap_or("");
                let text = if !clients::applies(*s, m.mode) {
                    "n/a"
                } else {
                    match m.outcome(*s, id) {
                        Some(outcome) => cell(outcome),
                        None => "",
                    }
                };
                let _ = write!(md, " {text} |");
            }
            let _ = writeln!(md);
        }
    }
    let _ = writeln!(
        md,
        "\nn/a: the scenario means nothing in that mode (STARTTLS injection and a \
         missing STARTTLS need STARTTLS, certificates need TLS); -: the client \
         never connected; ?: inconclusive; empty: not run{}.",
        if quick {
            " (`--quick` runs every scenario over STARTTLS, `normal` and \
             `ehlo-refused` without TLS, `normal` and the two certificate \
             scenarios over implicit TLS)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        md,
        "\nGenerated by `{}` on {}: {} s in all, {} s of them for the client suite \
         (2 vCPUs shared with other work, loopback). The reports (an HTML page per \
         server and per client, text, JSON) are in `target/conformance/`.",
        run.command, run.date, run.seconds, run.client_seconds
    );
    md
}

/// Every case or check that did not pass, per peer (matrix.md only).
fn render_details(servers: &[ServerRow], clients: &[ClientRow]) -> String {
    let mut md = String::new();
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
    for row in clients {
        // Every check that failed or warned in any session, with where:
        // per check, the sessions by mode.
        type Where = BTreeMap<usize, Vec<String>>;
        let mut seen: BTreeMap<&str, (Outcome, String, Where)> = BTreeMap::new();
        for (mode_index, m) in row.modes.iter().enumerate() {
            for (scenario, judged) in &m.sessions {
                let Some(r) = &judged.report else {
                    seen.entry("(no session)")
                        .or_insert((
                            Outcome::Inconclusive,
                            format!("client {}", judged.exit),
                            Where::new(),
                        ))
                        .2
                        .entry(mode_index)
                        .or_default()
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
                        .or_insert((c.outcome, c.detail.clone(), Where::new()))
                        .2
                        .entry(mode_index)
                        .or_default()
                        .push(scenario.to_string());
                }
            }
        }
        if seen.is_empty() {
            continue;
        }
        let _ = writeln!(md, "\n{} {}: not passed\n", row.name, row.version);
        for (id, (outcome, detail, where_)) in seen {
            let places: Vec<String> = where_
                .iter()
                .map(|(i, scenarios)| {
                    format!(
                        "{}: {}",
                        clients::mode_name(row.modes[*i].mode),
                        scenarios.join(", ")
                    )
                })
                .collect();
            let _ = writeln!(
                md,
                "- {} `{id}` in {}: {}",
                cell(Some(outcome)),
                places.join("; "),
                detail.replace('\n', " ")
            );
        }
    }
    md
}
