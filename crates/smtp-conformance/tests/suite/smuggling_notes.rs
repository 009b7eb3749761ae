//! A server that keeps bare line ends as data (as one that normalises bare
//! LFs, Postfix 3.9+ by default) passes every smuggling case: the data
//! still ended only at <CRLF>.<CRLF>. The report says so in its notes, once
//! per kind, and says nothing of the sort about a server that refuses.

use smtp_conformance::Outcome;
use smtp_conformance::server::{self, TlsMode};

use crate::common::options;
use crate::refserver::{self, Fault};
use crate::server_cases::{failures, reference};

/// The report's notes that start with `prefix`.
fn notes_starting(report: &smtp_conformance::Report, prefix: &str) -> usize {
    report
        .notes
        .iter()
        .filter(|n| n.starts_with(prefix))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bare_line_ends_kept_as_data_pass_with_one_note_each() {
    for (faults, kept) in [(vec![Fault::KeepBareLineEnds], 1), (vec![], 0)] {
        let server = refserver::spawn(reference(TlsMode::StartTls, faults)).await;
        let mut o = options(server.addr, TlsMode::StartTls);
        o.only = vec!["smuggle".into()];
        let report = server::run(&o).await.unwrap();
        let bad = failures(&report, &[Outcome::Pass]);
        assert!(bad.is_empty(), "{}", bad.join("\n"));
        assert_eq!(report.results.len(), 8);
        for prefix in [
            "bare-LF message content accepted",
            "bare-CR message content accepted",
        ] {
            assert_eq!(
                notes_starting(&report, prefix),
                kept,
                "{prefix}: {:?}",
                report.notes
            );
        }
    }
}
