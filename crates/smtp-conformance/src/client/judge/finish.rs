//! The end of a session: one result per check, plus the scenario reaction.

use std::time::Duration;

use super::Judge;
use crate::client::checks::Check;
use crate::client::rules;
use crate::client::scenario::Scenario;
use crate::model::{CaseResult, Report, Verdict};

fn skip_reason(check: Check) -> &'static str {
    match check {
        Check::GreetingWait | Check::Crlf => "the client sent nothing",
        Check::CommandSyntax => "no command",
        Check::EhloFirst | Check::CommandOrder => "no MAIL sent",
        Check::EhloPreferred => "no EHLO or HELO",
        Check::WaitsForReplies => "fewer than two commands",
        Check::DotStuffing => "no message sent with DATA",
        Check::LineLength | Check::EightBit => "no message sent",
        Check::SmtpUtf8 | Check::ParamsOffered => "no MAIL or RCPT",
        Check::SizeDeclared => "SIZE not offered, or no message sent",
        Check::NoAuthInClear => "no AUTH",
        Check::EhloAfterTls => "no TLS handshake",
        Check::Quit => "the judge ended the session",
    }
}

pub(super) fn report(mut j: Judge, target: String, duration: Duration) -> Report {
    if j.commands > 0 {
        j.findings
            .exercised(Check::GreetingWait, "waited for the greeting");
    }
    if j.commands > 1 {
        j.findings
            .exercised(Check::WaitsForReplies, "waited where it had to");
    }
    // A client that refused the certificate after the handshake cannot
    // be asked to send QUIT over that session.
    let dropped_bad_tls = matches!(
        j.cfg.scenario,
        Scenario::BadCertName | Scenario::UntrustedCert
    ) && j.ever_tls
        && j.commands_in_tls == 0;
    if !j.quit && !j.closed_by_us && !dropped_bad_tls && j.commands > 0 {
        let how = j
            .ended
            .clone()
            .unwrap_or_else(|| "the session ended".into());
        j.fault(Some(rules::no_quit(&how)));
    }
    let mut results: Vec<CaseResult> = Check::ALL
        .iter()
        .map(|&check| {
            let (verdict, evidence) = j.findings.verdict(check, skip_reason(check));
            result(check.info(), verdict, evidence)
        })
        .collect();
    if let Some(info) = j.cfg.scenario.reaction() {
        let (verdict, evidence) = reaction(&j);
        results.push(result(info, verdict, evidence));
    }
    let mut notes = vec![format!(
        "scenario {}: {}",
        j.cfg.scenario,
        j.cfg.scenario.describe()
    )];
    notes.push(format!(
        "{} commands, {} messages, TLS {}, ended: {}",
        j.commands,
        j.messages,
        if j.ever_tls { "yes" } else { "no" },
        j.ended.clone().unwrap_or_else(|| "?".into())
    ));
    Report {
        suite: "client",
        target,
        notes,
        results,
        session: crate::model::report_lines(j.transcript.lines()),
        duration,
    }
}

fn result(info: crate::model::CaseInfo, verdict: Verdict, evidence: Vec<String>) -> CaseResult {
    CaseResult {
        info,
        outcome: verdict.outcome(info.level),
        detail: verdict.detail().to_string(),
        evidence,
        transcript: Vec::new(),
        duration: Duration::ZERO,
    }
}

fn reaction(j: &Judge) -> (Verdict, Vec<String>) {
    if let Some((text, evidence)) = &j.reaction.violation {
        return (Verdict::Violation(text.clone()), evidence.clone());
    }
    let r = &j.reaction;
    let note = |default: &str| r.note.clone().unwrap_or_else(|| default.to_string());
    let verdict = match j.cfg.scenario {
        Scenario::Normal | Scenario::Minimal => Verdict::Skip("no reaction expected".into()),
        Scenario::EhloRefused if !r.triggered => Verdict::Skip("the client sent no EHLO".into()),
        Scenario::EhloRefused if j.helo_after_refusal => Verdict::Pass("fell back to HELO".into()),
        // With STARTTLS on offer, a client that requires TLS is right to
        // give up: without EHLO there is no STARTTLS.
        Scenario::EhloRefused if j.cfg.tls != crate::client::ClientTls::None => {
            Verdict::Inconclusive(format!(
                "the client gave up without HELO ({}): right if it requires TLS; run with --tls none to judge the fallback",
                j.ended.clone().unwrap_or_default()
            ))
        }
        Scenario::EhloRefused => Verdict::Violation(format!(
            "EHLO was refused and the client did not try HELO ({})",
            j.ended.clone().unwrap_or_default()
        )),
        Scenario::RcptRefused if !r.triggered => Verdict::Skip("no RCPT sent".into()),
        Scenario::RcptRefused => Verdict::Pass(note("no message text after a refused DATA")),
        Scenario::SizeTooSmall => Verdict::Pass(note("no oversized message transmitted")),
        Scenario::Shutdown421 | Scenario::TempfailMail if !r.triggered => {
            Verdict::Skip("no MAIL sent".into())
        }
        Scenario::Shutdown421 => Verdict::Pass("nothing but QUIT after the 421".into()),
        Scenario::TempfailMail => Verdict::Pass("no RCPT or DATA after the 451".into()),
        Scenario::MultilineGreeting if j.commands == 0 => {
            Verdict::Skip("the client sent nothing".into())
        }
        Scenario::MultilineGreeting => Verdict::Pass("waited for the last greeting line".into()),
        Scenario::StartTlsInjection => match &j.tls_failure {
            Some(e) => Verdict::Pass(format!("the client stopped at the handshake ({e})")),
            None if !j.ever_tls => Verdict::Inconclusive("the client did not use STARTTLS".into()),
            None if !r.triggered => Verdict::Inconclusive("no EHLO after the handshake".into()),
            None => Verdict::Pass("waited for the real EHLO reply inside TLS".into()),
        },
        Scenario::NoStartTls => Verdict::Pass("no mail sent in the clear".into()),
        Scenario::BadCertName | Scenario::UntrustedCert => match &j.tls_failure {
            Some(e) => Verdict::Pass(format!("handshake refused: {e}")),
            None if !j.ever_tls => Verdict::Inconclusive("the client did not start TLS".into()),
            None => Verdict::Pass("nothing sent over the bad TLS session".into()),
        },
    };
    (verdict, Vec::new())
}
