//! A tour of smtp-mime: compose a message, print it as it goes on the wire, deliver it
//! into a scratch Maildir, then list the Maildir and show the message as
//! `smtp-receive list` / `smtp-receive show` do.
//!
//! ```text
//! cargo run -p smtp-mime --example mime_tour
//! ```

use std::error::Error;

use smtp_mime::{Attachment, MessageBuilder, find_message, inspect, list_maildir};

fn main() -> Result<(), Box<dyn Error>> {
    let msg = MessageBuilder::new()
        .from("Zoë Dupont <zoe@example.org>".parse()?)
        .to("Bob <bob@example.net>".parse()?)
        .cc("carol@example.net".parse()?)
        .subject("Réunion: café ☕ at 10")
        .text("Hello Bob,\nthe plan is attached.\n")
        .html("<p>Hello <b>Bob</b>, the plan: <img src=\"cid:logo@example.org\"></p>")
        .inline_image(
            "logo@example.org",
            Attachment {
                filename: "logo.png".into(),
                content_type: "image/png".into(),
                bytes: b"\x89PNG\r\n\x1a\n...".to_vec(),
            },
        )
        .attach(Attachment {
            filename: "Jahresabschluß 2024.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: b"%PDF-1.4 not really".to_vec(),
        })
        .header("X-Mailer", "smtp-mime tour")
        .build()?;
    println!(
        "===== on the wire ({} octets, 8BITMIME needed: {}, SMTPUTF8 needed: {})",
        msg.size(),
        msg.needs_8bitmime,
        msg.needs_smtputf8
    );
    print!("{}", String::from_utf8_lossy(&msg.bytes));

    let maildir = std::env::temp_dir().join(format!("smtp-mime-tour-{}", std::process::id()));
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(maildir.join(sub))?;
    }
    let id = "1732800000.M1P1.mx.example.net";
    let delivered = [
        &b"Return-Path: <zoe@example.org>\r\nReceived: from client.example.org by mx.example.net with ESMTPS; Thu, 28 Nov 2024 14:00:00 +0000\r\n"[..],
        &msg.bytes,
    ]
    .concat();
    std::fs::write(maildir.join("new").join(id), delivered)?;

    println!("\n===== smtp-receive list --maildir {}", maildir.display());
    print!("{}", smtp_mime::render_listing(&list_maildir(&maildir)?));
    println!(
        "\n===== smtp-receive show --maildir {} 17328",
        maildir.display()
    );
    let shown = inspect(&std::fs::read(find_message(&maildir, "17328")?)?);
    print!("{}", smtp_mime::render_message(&shown));
    std::fs::remove_dir_all(&maildir)?;
    Ok(())
}
