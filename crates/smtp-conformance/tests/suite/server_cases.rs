//! Every server case passes against the reference server and detects the
//! fault it targets.

use std::collections::BTreeSet;
use std::sync::Arc;

use smtp_conformance::server::{self, TlsMode};
use smtp_conformance::{Level, Outcome};
use tokio::sync::Semaphore;

use crate::common::{lmtp_options, options, server_tls};
use crate::refserver::{self, Config, Fault, Fault::*, Naive};

/// How the reference server runs for a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Run {
    /// SMTP in the clear.
    Plain,
    /// SMTP, every session upgraded with STARTTLS.
    Tls,
    /// LMTP (RFC 2033) with STARTTLS, at `lmtp:HOST:PORT`.
    Lmtp,
    /// LMTP in the clear (the suite still runs when LHLO is refused).
    LmtpPlain,
    /// SMTP with STARTTLS, relaying mail for `relay@relay.test` to the
    /// suite's judge.
    Relay,
}

/// The relay recipient of [`Run::Relay`].
pub(crate) const RELAY_RCPT: &str = "relay@relay.test";

/// A loopback address for a relay judge: a port free a moment ago (the
/// reference server must know it before the suite starts the judge).
pub(crate) fn judge_addr() -> std::net::SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap()
}

impl Run {
    fn tls(self) -> TlsMode {
        match self {
            Run::Plain | Run::LmtpPlain => TlsMode::None,
            Run::Tls | Run::Lmtp | Run::Relay => TlsMode::StartTls,
        }
    }

    /// The suite's options; `judge` is where a relay run's judge listens.
    fn options(
        self,
        addr: std::net::SocketAddr,
        judge: std::net::SocketAddr,
    ) -> server::ServerOptions {
        match self {
            Run::Lmtp | Run::LmtpPlain => lmtp_options(addr, self.tls()),
            Run::Relay => {
                let mut o = options(addr, self.tls());
                o.relay = Some(server::RelayOptions {
                    rcpt: RELAY_RCPT.into(),
                    judge_listen: judge.to_string(),
                    wait: std::time::Duration::from_secs(5),
                });
                o
            }
            _ => options(addr, self.tls()),
        }
    }

    fn config(self, faults: Vec<Fault>, judge: std::net::SocketAddr) -> Config {
        let mut c = reference(self.tls(), faults);
        c.lmtp = matches!(self, Run::Lmtp | Run::LmtpPlain);
        if self == Run::Relay {
            c.relay = Some((RELAY_RCPT.into(), judge));
        }
        c
    }
}

/// (case id, the faults that break it, how the reference server runs).
fn table() -> Vec<(&'static str, Vec<Fault>, Run)> {
    use Run::{Lmtp, LmtpPlain, Plain, Relay, Tls};
    vec![
        (
            "greet.code-220",
            vec![Greeting("250 ref.example.test ready\r\n")],
            Tls,
        ),
        (
            "greet.domain",
            vec![Greeting("220 *** welcome ***\r\n")],
            Tls,
        ),
        (
            "ehlo.accepted",
            vec![On("EHLO", "502 5.5.1 EHLO not supported\r\n")],
            Plain,
        ),
        (
            "ehlo.reply-syntax",
            vec![On(
                "EHLO",
                "250-ref.example.test\r\n250 PIPELINING\r\n250 SIZE 100000\r\n",
            )],
            Plain,
        ),
        (
            "ehlo.first-line-domain",
            vec![On("EHLO", "250-*** hello\r\n250 PIPELINING\r\n")],
            Plain,
        ),
        ("ehlo.keyword-syntax", vec![AddCap("X_BAD")], Tls),
        (
            "ehlo.missing-domain",
            vec![On("EHLO$", "250 ref.example.test\r\n")],
            Tls,
        ),
        (
            "ehlo.address-literal",
            vec![On("EHLO [", "501 5.5.4 domain name required\r\n")],
            Tls,
        ),
        ("ehlo.repeat-resets", vec![EhloKeepsTransaction], Tls),
        (
            "ehlo.advertised-commands",
            vec![On("HELP", "502 5.5.1 not implemented\r\n")],
            Tls,
        ),
        (
            "helo.accepted",
            vec![On("HELO", "502 5.5.1 use EHLO\r\n")],
            Tls,
        ),
        ("helo.plain-reply", vec![HeloLikeEhlo], Tls),
        ("cmd.case-insensitive", vec![CaseSensitiveVerbs], Tls),
        ("order.mail-before-ehlo", vec![NoHeloRequired], Tls),
        (
            "order.rcpt-before-mail",
            vec![On("RCPT", "250 2.1.5 ok\r\n")],
            Tls,
        ),
        (
            "order.data-before-mail",
            vec![On("DATA", "354 go ahead\r\n")],
            Tls,
        ),
        ("order.data-before-rcpt", vec![DataWithoutRecipients], Tls),
        ("order.nested-mail", vec![NestedMailAllowed], Tls),
        ("order.rset-clears", vec![RsetKeepsTransaction], Tls),
        (
            "order.data-after-rejected-rcpt",
            vec![CountsRejectedRcpts],
            Tls,
        ),
        (
            "order.state-kept-after-error",
            vec![ErrorResetsTransaction],
            Tls,
        ),
        (
            "syntax.null-reverse-path",
            vec![On("MAIL FROM:<>", "553 5.1.7 sender required\r\n")],
            Tls,
        ),
        (
            "syntax.postmaster",
            vec![On("RCPT TO:<POSTMASTER>", "550 5.1.1 unknown user\r\n")],
            Tls,
        ),
        (
            "syntax.postmaster-any-case",
            vec![PostmasterCaseSensitive],
            Tls,
        ),
        (
            "syntax.quoted-local-part",
            vec![On("MAIL FROM:<\"", "501 5.1.7 bad address\r\n")],
            Tls,
        ),
        (
            "syntax.source-route",
            vec![On("MAIL FROM:<@", "501 5.1.7 bad address\r\n")],
            Tls,
        ),
        ("syntax.missing-brackets", vec![LenientPaths], Tls),
        ("syntax.unknown-mail-param", vec![IgnoreUnknownParams], Tls),
        ("syntax.unknown-rcpt-param", vec![IgnoreUnknownParams], Tls),
        (
            "syntax.rcpt-null-path",
            vec![On("RCPT TO:<>", "250 2.1.5 ok\r\n")],
            Tls,
        ),
        ("syntax.non-ascii-address", vec![Utf8AnyTime], Tls),
        (
            "syntax.underscore-domain",
            vec![On("*BAD_LABEL", "250 2.1.0 ok\r\n")],
            Tls,
        ),
        ("syntax.local-part-64", vec![MaxLocalPart(32)], Tls),
        ("basic.noop", vec![On("NOOP$", "502 5.5.1 no\r\n")], Tls),
        (
            "basic.noop-argument",
            vec![On("NOOP ", "501 5.5.4 no arguments\r\n")],
            Tls,
        ),
        (
            "basic.rset",
            vec![CloseOn("RSET", "221 2.0.0 bye\r\n")],
            Tls,
        ),
        (
            "basic.rset-argument",
            vec![On("RSET ", "250 2.0.0 ok\r\n")],
            Tls,
        ),
        ("basic.before-ehlo", vec![RequireHeloForAll], Tls),
        (
            "basic.vrfy",
            vec![On("VRFY", "502 5.5.1 VRFY disabled\r\n")],
            Tls,
        ),
        (
            "basic.vrfy-syntax",
            vec![On("VRFY$", "252 2.1.5 ok\r\n")],
            Tls,
        ),
        (
            "basic.expn",
            vec![On("EXPN", "500 5.5.1 unknown command\r\n")],
            Tls,
        ),
        ("basic.help", vec![On("HELP", "502 5.5.1 no help\r\n")], Tls),
        (
            "basic.unknown-command",
            vec![On("XYZZY", "250 2.0.0 ok\r\n")],
            Tls,
        ),
        (
            "basic.one-reply",
            vec![On("NOOP$", "250 2.0.0 ok\r\n250 2.0.0 ok\r\n")],
            Tls,
        ),
        (
            "relic.turn",
            vec![On("TURN", "250 2.0.0 switching roles\r\n")],
            Tls,
        ),
        ("relic.send", vec![On("SEND", "250 2.1.0 ok\r\n")], Tls),
        ("relic.soml", vec![On("SOML", "250 2.1.0 ok\r\n")], Tls),
        ("relic.saml", vec![On("SAML", "250 2.1.0 ok\r\n")], Tls),
        (
            "quit.reply-and-close",
            vec![QuitKeepsOpen, NoIdleTimeout],
            Tls,
        ),
        ("quit.in-transaction", vec![QuitRefusedInTransaction], Tls),
        ("quit.before-ehlo", vec![RequireHeloForAll], Tls),
        (
            "data.accepted",
            vec![DataFinal("451 4.3.0 failed\r\n")],
            Tls,
        ),
        ("data.dot-stuffing", vec![Naive(Naive::UnstuffFirst)], Tls),
        ("data.leading-dot", vec![Naive(Naive::LeadingDot)], Tls),
        ("data.dot-mid-line", vec![Naive(Naive::SuffixDotCrlf)], Tls),
        (
            "data.empty",
            vec![Naive(Naive::NeedsCrlfDotCrlf), NoIdleTimeout],
            Tls,
        ),
        ("data.line-998", vec![MaxTextLine(512)], Tls),
        ("data.long-line-split", vec![Naive(Naive::SplitAt1000)], Tls),
        (
            "data.transaction-cleared",
            vec![KeepsEnvelopeAfterData],
            Tls,
        ),
        ("data.second-transaction", vec![OneMessagePerSession], Tls),
        ("data.argument", vec![On("DATA ", "354 go ahead\r\n")], Tls),
        ("smuggle.lf-dot-lf", vec![Naive(Naive::LfStripCr)], Tls),
        ("smuggle.lf-dot-crlf", vec![Naive(Naive::LfStripCr)], Tls),
        ("smuggle.crlf-dot-lf", vec![Naive(Naive::LfStripCr)], Tls),
        ("smuggle.cr-dot-cr", vec![Naive(Naive::AnyNewline)], Tls),
        ("smuggle.crlf-dot-cr", vec![Naive(Naive::AnyNewline)], Tls),
        ("smuggle.cr-dot-crlf", vec![Naive(Naive::AnyNewline)], Tls),
        (
            "smuggle.crcrlf-dot-crcrlf",
            vec![Naive(Naive::LfStripCr)],
            Tls,
        ),
        ("smuggle.bare-lf-command", vec![AcceptBareLf], Tls),
        ("pipe.replies-in-order", vec![DiscardPipelined], Tls),
        ("pipe.grouped-replies", vec![SlowReplies], Tls),
        ("pipe.transaction-group", vec![DiscardAfterData], Tls),
        (
            "pipe.data-all-rcpt-rejected",
            vec![CountsRejectedRcpts],
            Tls,
        ),
        (
            "size.keyword-syntax",
            vec![ReplaceCap("SIZE", "SIZE 100KB")],
            Tls,
        ),
        (
            "size.declared-ok",
            vec![On("*SIZE=", "555 5.5.4 SIZE not supported\r\n")],
            Tls,
        ),
        ("size.declared-over-limit", vec![IgnoreDeclaredSize], Tls),
        ("size.actual-over-limit", vec![IgnoreActualSize], Tls),
        (
            "8bitmime.body-8bitmime",
            vec![On("*BODY=8BITMIME", "555 5.5.4 BODY not supported\r\n")],
            Tls,
        ),
        (
            "8bitmime.body-7bit",
            vec![On("*BODY=7BIT", "501 5.5.4 bad BODY\r\n")],
            Tls,
        ),
        (
            "8bitmime.bad-body-value",
            vec![On("*BODY=9BIT", "250 2.1.0 ok\r\n")],
            Tls,
        ),
        (
            "smtputf8.address",
            vec![On("*SMTPUTF8", "555 5.5.4 SMTPUTF8 not supported\r\n")],
            Tls,
        ),
        (
            "chunking.bdat-last",
            vec![On("BDAT", "502 5.5.1 BDAT not implemented\r\n")],
            Tls,
        ),
        ("chunking.dot-is-data", vec![BdatDotEnds], Tls),
        (
            "chunking.multi-chunk",
            vec![On("BDAT 0", "501 5.5.4 bad chunk size\r\n")],
            Tls,
        ),
        (
            "chunking.refused-chunk-consumed",
            vec![BdatRefusedNotConsumed],
            Tls,
        ),
        ("chunking.no-rcpt", vec![BdatWithoutRcpt], Tls),
        ("chunking.data-after-bdat", vec![DataAfterBdat], Tls),
        ("chunking.rset-discards", vec![RsetKeepsChunks], Tls),
        ("chunking.after-last", vec![BdatAfterLastAccepted], Tls),
        ("chunking.bad-size", vec![BdatLenientSize], Tls),
        ("chunking.over-size-limit", vec![BdatIgnoresSize], Tls),
        ("chunking.pipelined", vec![BdatDropsPipelined], Tls),
        ("enhanced.present", vec![On("NOOP$", "250 OK\r\n")], Tls),
        (
            "dsn.mail-params",
            vec![On("*RET=HDRS", "555 5.5.4 RET not supported\r\n")],
            Tls,
        ),
        (
            "dsn.rcpt-params",
            vec![On("*NOTIFY=SUCCESS", "555 5.5.4 NOTIFY not supported\r\n")],
            Tls,
        ),
        (
            "dsn.notify-never-alone",
            vec![On("*NOTIFY=NEVER", "250 2.1.5 ok\r\n")],
            Tls,
        ),
        (
            "dsn.bad-ret-value",
            vec![On("*RET=EVERYTHING", "250 2.1.0 ok\r\n")],
            Tls,
        ),
        (
            "enhanced.class-matches",
            vec![On("XYZZY", "500 2.5.1 unknown\r\n")],
            Tls,
        ),
        (
            "tls.handshake",
            vec![On("STARTTLS", "454 4.7.0 TLS not available\r\n")],
            Plain,
        ),
        (
            "tls.no-starttls-after-tls",
            vec![StartTlsOfferedAfterTls],
            Tls,
        ),
        ("tls.starttls-again", vec![StartTlsTwice], Tls),
        ("tls.state-reset", vec![KeepsEhloAcrossTls], Tls),
        ("tls.command-injection", vec![KeepBufferAcrossTls], Tls),
        (
            "tls.starttls-argument",
            vec![On("STARTTLS ", "220 2.0.0 go ahead\r\n")],
            Tls,
        ),
        ("tls.auth-not-offered-in-clear", vec![AuthInClear], Tls),
        ("tls.auth-refused-in-clear", vec![AuthInClear], Tls),
        ("auth.bad-credentials", vec![AcceptAnyPassword], Tls),
        ("auth.good-credentials", vec![RejectAllPasswords], Tls),
        ("auth.twice", vec![AuthTwiceAllowed], Tls),
        ("auth.cancel", vec![AuthCancelWrongCode], Tls),
        ("auth.in-transaction", vec![AuthInTransaction], Tls),
        (
            "auth.unknown-mechanism",
            vec![On("AUTH X-", "535 5.7.8 no\r\n")],
            Tls,
        ),
        (
            "auth.bad-base64",
            vec![On("AUTH PLAIN !", "535 5.7.8 authentication failed\r\n")],
            Tls,
        ),
        ("limit.command-line-512", vec![MaxCommandLine(256)], Tls),
        (
            "limit.command-line-overlong",
            vec![SplitLongCommandLines],
            Tls,
        ),
        ("limit.message-64k", vec![SizeLimit(32 * 1024)], Tls),
        ("limit.recipients-100", vec![MaxRecipients(50)], Tls),
        ("limit.recipients-bounded", vec![NoRecipientLimit], Tls),
        ("limit.error-limit", vec![NoErrorLimit, NoIdleTimeout], Tls),
        ("limit.idle-timeout", vec![NoIdleTimeout], Tls),
        ("limit.slow-command", vec![NoCommandDeadline], Tls),
        ("limit.concurrent-sessions", vec![Serial], Tls),
        (
            "lmtp.lhlo",
            vec![On("LHLO", "502 5.5.1 not implemented\r\n")],
            LmtpPlain,
        ),
        (
            "lmtp.ehlo-refused",
            vec![On("EHLO", "250 ref.example.test\r\n")],
            Lmtp,
        ),
        (
            "lmtp.helo-refused",
            vec![On("HELO", "250 ref.example.test\r\n")],
            Lmtp,
        ),
        ("lmtp.reply-per-recipient", vec![LmtpOneReply], Lmtp),
        (
            "lmtp.refused-rcpt-no-reply",
            vec![LmtpRepliesPerRcptTried],
            Lmtp,
        ),
        ("lmtp.reply-order", vec![LmtpRepliesReversed], Lmtp),
        ("lmtp.data-no-recipients", vec![LmtpNoRcpt554], Lmtp),
        ("lmtp.bdat-per-recipient", vec![LmtpBdatOneReply], Lmtp),
        ("relay.trace-added", vec![RelayNoReceived], Relay),
        ("relay.no-return-path", vec![RelayAddsReturnPath], Relay),
        ("relay.dot-stuffing", vec![RelayNoDotStuffing], Relay),
        ("relay.8bit-kept", vec![RelayDrops8BitMime], Relay),
        (
            "relay.no-smuggling",
            vec![Naive(Naive::LfStripCr), AcceptBareLf],
            Relay,
        ),
    ]
}

pub(crate) fn reference(mode: TlsMode, faults: Vec<Fault>) -> Config {
    let mut c = Config::new(Some(server_tls()));
    c.implicit = mode == TlsMode::Implicit;
    c.faults = faults;
    c
}

pub(crate) fn failures(report: &smtp_conformance::Report, allowed: &[Outcome]) -> Vec<String> {
    report
        .results
        .iter()
        .filter(|r| !allowed.contains(&r.outcome))
        .map(|r| {
            format!(
                "{} {}: {}\n    {}",
                r.outcome,
                r.info.id,
                r.detail,
                r.evidence.join("\n    ")
            )
        })
        .collect()
}

/// The ids of the cases a run skipped, each with its reason.
fn skipped(report: &smtp_conformance::Report) -> Vec<(&'static str, String)> {
    report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Skip)
        .map(|r| (r.info.id, r.detail.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reference_server_passes_every_case_with_starttls() {
    let server = refserver::spawn(reference(TlsMode::StartTls, vec![])).await;
    let report = server::run(&options(server.addr, TlsMode::StartTls))
        .await
        .unwrap();
    let bad = failures(&report, &[Outcome::Pass, Outcome::Skip]);
    assert!(
        bad.is_empty(),
        "the reference server must pass every case:\n{}",
        bad.join("\n")
    );
    // Only the LMTP cases are skipped, and the relay ones (no --relay-to),
    // saying why.
    for (id, why) in skipped(&report) {
        match id.split('.').next() {
            Some("lmtp") => assert!(why.contains("speaks SMTP"), "{id}: {why}"),
            Some("relay") => assert!(why.contains("--relay-to"), "{id}: {why}"),
            _ => panic!("{id} skipped: {why}"),
        }
    }
    assert_eq!(report.results.len(), server::catalogue().len());
    assert!(report.conforms());
}

/// Under LMTP every SMTP case but the EHLO/HELO ones runs (with LHLO), and
/// passes, and so do the LMTP cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reference_server_passes_every_case_over_lmtp() {
    let judge = judge_addr();
    let server = refserver::spawn(Run::Lmtp.config(vec![], judge)).await;
    let report = server::run(&Run::Lmtp.options(server.addr, judge))
        .await
        .unwrap();
    let bad = failures(&report, &[Outcome::Pass, Outcome::Skip]);
    assert!(bad.is_empty(), "over LMTP:\n{}", bad.join("\n"));
    let skipped: Vec<_> = skipped(&report)
        .into_iter()
        .filter(|(id, why)| !(id.starts_with("relay.") && why.contains("no relay")))
        .collect();
    let ids: BTreeSet<&str> = skipped.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        BTreeSet::from(["ehlo.accepted", "helo.accepted", "helo.plain-reply"]),
        "{skipped:?}"
    );
    assert!(skipped.iter().all(|(_, why)| why.contains("RFC 2033")));
    let lmtp_passed = report
        .results
        .iter()
        .filter(|r| r.info.id.starts_with("lmtp.") && r.outcome == Outcome::Pass)
        .count();
    assert_eq!(lmtp_passed, 8);
    assert!(
        report.notes.iter().any(|n| n.starts_with("LHLO (TLS)")),
        "{:?}",
        report.notes
    );
}

/// Relaying to the judge, the reference server passes the relay cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reference_relay_passes_every_relay_case() {
    let judge = judge_addr();
    let server = refserver::spawn(Run::Relay.config(vec![], judge)).await;
    let mut o = Run::Relay.options(server.addr, judge);
    o.only = vec!["relay".into()];
    let report = server::run(&o).await.unwrap();
    let bad = failures(&report, &[Outcome::Pass]);
    assert!(bad.is_empty(), "relaying:\n{}", bad.join("\n"));
    assert_eq!(report.results.len(), 5);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("relay judge listening on")),
        "{:?}",
        report.notes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reference_server_passes_in_plain_and_implicit_modes() {
    for mode in [TlsMode::None, TlsMode::Implicit] {
        let server = refserver::spawn(reference(mode, vec![])).await;
        let mut o = options(server.addr, mode);
        // The slow cases already ran in the STARTTLS test.
        o.skip = vec!["limit".into()];
        let report = server::run(&o).await.unwrap();
        let bad = failures(&report, &[Outcome::Pass, Outcome::Skip]);
        assert!(bad.is_empty(), "{mode:?}:\n{}", bad.join("\n"));
        let passed = report.summary().passed;
        assert!(passed > 70, "{mode:?}: only {passed} cases ran");
    }
}

#[test]
fn every_case_has_a_fault_in_the_table() {
    let cases: BTreeSet<&str> = server::catalogue().iter().map(|c| c.id).collect();
    let table: BTreeSet<&str> = table().iter().map(|(id, _, _)| *id).collect();
    let untested: Vec<_> = cases.difference(&table).collect();
    let unknown: Vec<_> = table.difference(&cases).collect();
    assert!(untested.is_empty(), "cases without a fault: {untested:?}");
    assert!(unknown.is_empty(), "faults for unknown cases: {unknown:?}");
    assert!(cases.len() >= 60, "only {} cases", cases.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_case_detects_its_fault() {
    let levels: std::collections::HashMap<&str, Level> = server::catalogue()
        .into_iter()
        .map(|c| (c.id, c.level))
        .collect();
    let permits = Arc::new(Semaphore::new(12));
    let mut set = tokio::task::JoinSet::new();
    for (id, faults, run) in table() {
        let expected = levels[id].violated();
        let permits = permits.clone();
        set.spawn(async move {
            let _permit = permits.acquire().await.unwrap();
            let shown = format!("{faults:?}");
            let judge = judge_addr();
            let server = refserver::spawn(run.config(faults, judge)).await;
            let mut o = run.options(server.addr, judge);
            o.only = vec![id.to_string()];
            let report = match server::run(&o).await {
                Ok(r) => r,
                Err(e) => return Some(format!("{id} with {shown}: the suite did not run: {e}")),
            };
            let r = report.result(id).unwrap();
            (r.outcome != expected).then(|| {
                format!(
                    "{id} with {shown}: expected {expected}, got {} ({})\n    {}",
                    r.outcome,
                    r.detail,
                    r.evidence.join("\n    ")
                )
            })
        });
    }
    let mut missed = Vec::new();
    while let Some(result) = set.join_next().await {
        missed.extend(result.unwrap());
    }
    assert!(
        missed.is_empty(),
        "faults not detected:\n{}",
        missed.join("\n")
    );
}
