//! The Maildir functions behind `smtp-receive list` and `smtp-receive show`, on a real
//! Maildir in a temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use smtp_mime::{
    Address, Attachment, MessageBuilder, MimeError, find_message, inspect, list_maildir,
    render_listing, render_message, save_attachment,
};

fn deliver(dir: &Path, sub: &str, name: &str, bytes: &[u8], age_secs: u64) {
    let path = dir.join(sub).join(name);
    fs::write(&path, bytes).unwrap();
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
        .unwrap();
}

fn maildir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["new", "cur", "tmp"] {
        fs::create_dir(dir.path().join(sub)).unwrap();
    }
    let with_attachments = MessageBuilder::new()
        .from(Address::with_name("Zoë Dupont", "zoe@example.org"))
        .to(Address::new("bob@example.net"))
        .subject("Quarterly report — final")
        .text("Here it is.\n")
        .attach(Attachment {
            filename: "report.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: b"%PDF-1.4 report".to_vec(),
        })
        .attach(Attachment {
            filename: "data.csv".into(),
            content_type: "text/csv".into(),
            bytes: b"a,b\r\n1,2\r\n".to_vec(),
        })
        .build()
        .unwrap();
    let plain = b"From: ann@example.org\r\nTo: bob@example.net\r\nSubject: Lunch?\r\nDate: Mon, 1 Jan 2024 12:30:00 +0100\r\n\r\nNoon?\r\n";
    let hostile = b"From: \x1b[2Jevil@example.org\r\nSubject: \x1b]0;pwned\x07 hi\r\n\r\nx\r\n";
    deliver(dir.path(), "cur", "1704100000.M1P1.host:2,S", plain, 300);
    deliver(
        dir.path(),
        "new",
        "1704100100.M2P2.host",
        &with_attachments.bytes,
        200,
    );
    deliver(dir.path(), "new", "1704100200.M3P3.host", hostile, 100);
    deliver(
        dir.path(),
        "tmp",
        "1704100300.M4P4.host",
        b"Subject: in progress\r\n\r\n",
        50,
    );
    deliver(dir.path(), "new", ".hidden", b"Subject: hidden\r\n\r\n", 10);
    fs::create_dir(dir.path().join("new").join("subdir")).unwrap();
    dir
}

#[test]
fn listing_reads_new_and_cur_in_delivery_order() {
    let dir = maildir();
    let list = list_maildir(dir.path()).unwrap();
    let ids: Vec<_> = list.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "1704100000.M1P1.host:2,S",
            "1704100100.M2P2.host",
            "1704100200.M3P3.host"
        ]
    );

    assert_eq!(list[0].from, "ann@example.org");
    assert_eq!(list[0].subject, "Lunch?");
    assert_eq!(list[0].date.as_deref(), Some("2024-01-01 12:30"));
    assert_eq!(list[0].attachments, 0);
    assert_eq!(
        list[0].path,
        dir.path().join("cur/1704100000.M1P1.host:2,S")
    );
    assert_eq!(list[0].size, fs::metadata(&list[0].path).unwrap().len());

    assert_eq!(list[1].from, "Zoë Dupont");
    assert_eq!(list[1].subject, "Quarterly report — final");
    assert_eq!(list[1].attachments, 2);
    assert!(list[1].date.is_some());

    let table = render_listing(&list);
    let lines: Vec<_> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("SUBJECT"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("17041000 ") && lines[1].contains("Lunch?"),
        "{table}"
    );
    // The ID column shows the shortest unique prefix, which `show` accepts.
    for (line, summary) in lines[1..4].iter().zip(&list) {
        let shown_id = line.split_whitespace().next().unwrap();
        assert_eq!(find_message(dir.path(), shown_id).unwrap(), summary.path);
    }
    assert!(
        lines[2].contains("Zoë Dupont") && lines[2].trim_end().ends_with('2'),
        "{table}"
    );
    assert!(lines[4].starts_with("3 message(s)"), "{table}");
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{7}'),
        "escapes reach the terminal: {table:?}"
    );
}

#[test]
fn messages_are_found_by_id_or_unique_prefix() {
    let dir = maildir();
    let path = find_message(dir.path(), "1704100100.M2P2.host").unwrap();
    assert_eq!(path, dir.path().join("new/1704100100.M2P2.host"));
    assert_eq!(
        find_message(dir.path(), "17041000").unwrap(),
        dir.path().join("cur/1704100000.M1P1.host:2,S")
    );
    assert!(matches!(
        find_message(dir.path(), "170410"),
        Err(MimeError::Ambiguous(_))
    ));
    assert!(matches!(
        find_message(dir.path(), "999"),
        Err(MimeError::NotFound(_))
    ));
    assert!(matches!(
        find_message(dir.path(), ""),
        Err(MimeError::NotFound(_))
    ));
    assert!(
        matches!(
            find_message(dir.path(), "1704100300"),
            Err(MimeError::NotFound(_))
        ),
        "tmp/ is not delivered mail"
    );
    assert!(matches!(
        find_message(dir.path(), "../tmp/1704100300.M4P4.host"),
        Err(MimeError::NotFound(_))
    ));
}

#[test]
fn show_and_save_an_attachment() {
    let dir = maildir();
    let path = find_message(dir.path(), "1704100100").unwrap();
    let msg = inspect(&fs::read(path).unwrap());
    let shown = render_message(&msg);
    assert!(
        shown.contains("Subject: Quarterly report — final"),
        "{shown}"
    );
    assert!(
        shown.contains("From: Zoë Dupont <zoe@example.org>"),
        "{shown}"
    );
    assert!(shown.contains("multipart/mixed"), "{shown}");
    assert!(shown.contains("└── text/csv \"data.csv\""), "{shown}");
    assert!(shown.contains("Here it is."), "{shown}");
    assert!(
        shown.contains("  1. report.pdf  application/pdf  15 B"),
        "{shown}"
    );

    let out = dir.path().join("saved.pdf");
    assert_eq!(save_attachment(&msg, "report.pdf", &out).unwrap(), 15);
    assert_eq!(fs::read(&out).unwrap(), b"%PDF-1.4 report");
    assert!(
        matches!(
            save_attachment(&msg, "report.pdf", &out),
            Err(MimeError::Io { .. })
        ),
        "no overwrite"
    );
    let csv = dir.path().join("second.csv");
    save_attachment(&msg, "2", &csv).unwrap();
    assert_eq!(fs::read(&csv).unwrap(), b"a,b\r\n1,2\r\n");
    assert!(matches!(
        save_attachment(&msg, "nope.txt", &dir.path().join("x")),
        Err(MimeError::NoAttachment(_))
    ));
    assert!(matches!(
        save_attachment(&msg, "3", &dir.path().join("x")),
        Err(MimeError::NoAttachment(_))
    ));
}

#[test]
fn not_a_maildir_and_empty_maildir() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        list_maildir(dir.path()),
        Err(MimeError::NotMaildir(_))
    ));
    assert!(matches!(
        list_maildir(&dir.path().join("missing")),
        Err(MimeError::NotMaildir(_))
    ));
    fs::create_dir(dir.path().join("new")).unwrap();
    let list = list_maildir(dir.path()).unwrap();
    assert!(list.is_empty());
    assert_eq!(render_listing(&list), "(no messages)\n");
}
