//! docs/rfc821-walkthrough.md shows a real transcript; this test regenerates
//! it and fails when the document and the code disagree.
//! Fix a failure with `cargo xtask walkthrough` (and reread the prose).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use smtp_e2e::harness::Receiver;
use smtp_e2e::{demo, walkthrough};

#[tokio::test]
async fn the_walkthrough_transcript_matches_the_code() {
    let doc_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/rfc821-walkthrough.md");
    let doc = std::fs::read_to_string(doc_path).unwrap();
    let in_doc = walkthrough::extract(&doc).expect("transcript markers in the walkthrough");

    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start_in(dir.path()).await.unwrap();
    let c = demo::classic_rfc821(&receiver).await;
    receiver.stop().await.unwrap();
    assert!(c.passed(), "{:?}", c.checks);

    let now = walkthrough::normalize(&demo::render(&c.transcript));
    assert_eq!(
        in_doc, now,
        "docs/rfc821-walkthrough.md is out of date: run `cargo xtask walkthrough`"
    );
}
