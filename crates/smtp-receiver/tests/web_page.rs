//! The web page as served, without a browser: types, the CSP, cache
//! headers, every asset and module import reachable, no inline script or
//! HTML-parsing call in the sources; and the endpoints the page added
//! (the MIME tree, remote images on request, `cid:` images).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
mod inbox_support;

use inbox_support::{python, smtplib_send, start_inbox};
use smtp_receiver::inbox::api::ApiOptions;
use smtp_receiver::inbox::web;

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_and_its_assets_are_served_strictly() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = start_inbox(dir.path(), ApiOptions::default(), |_| {}).await;
    let http = &inbox.http;

    let page = http.get(inbox.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "cache-control"), "no-cache");
    let csp = header(&page, "content-security-policy").to_string();
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "style-src 'self';",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let etag = header(&page, "etag").to_string();
    let html = page.text().await.unwrap();
    assert!(!html.contains("{{version}}"));

    // Revalidation: the same page is 304.
    let again = http
        .get(inbox.url("/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // No inline script, style or handler in the page itself.
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap();
        if tag.starts_with("script") {
            assert!(tag.contains("src="), "inline script: <{tag}>");
        }
        assert!(!tag.starts_with("style"), "inline style element");
        for attribute in tag.split_whitespace().skip(1) {
            assert!(!attribute.starts_with("style="), "<{tag}>");
            assert!(!attribute.starts_with("on"), "handler in <{tag}>");
        }
    }

    // Every asset the page names, and every module those import.
    let prefix = format!("/ui/{}/", web::version());
    let mut queue: Vec<String> = html
        .split('"')
        .filter(|s| s.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    assert!(queue.iter().any(|u| u.ends_with("js/app.js")), "{queue:?}");
    let mut seen = std::collections::HashSet::new();
    while let Some(url) = queue.pop() {
        if !seen.insert(url.clone()) {
            continue;
        }
        let response = http.get(inbox.url(&url)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(
            header(&response, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        let media = header(&response, "content-type").to_string();
        let expected = match url.rsplit('.').next().unwrap() {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "svg" => "image/svg+xml",
            other => panic!("unexpected asset type {other}"),
        };
        assert_eq!(media, expected, "{url}");
        if !url.ends_with(".js") {
            continue;
        }
        let source = response.text().await.unwrap();
        // Received mail reaches the DOM as text only: no call that parses
        // a string as HTML or code.
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "srcdoc",
        ] {
            assert!(!source.contains(banned), "{banned} in {url}");
        }
        for import in source.lines().filter(|l| l.starts_with("import ")) {
            let target = import.split('"').nth(1).unwrap();
            let base = url.rsplit_once('/').unwrap().0;
            queue.push(format!("{base}/{}", target.trim_start_matches("./")));
        }
    }
    assert!(seen.len() >= 14, "{seen:?}");

    // An older page's version is served, not cached; an unknown file is 404.
    let old = http
        .get(inbox.url("/ui/0123456789ab/js/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (old.status().as_u16(), header(&old, "cache-control")),
        (200, "no-cache")
    );
    let missing = http
        .get(inbox.url(&format!("{prefix}js/nothing.js")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    inbox.stop().await;
}

/// smtplib: an HTML body with an inline image (`cid:`, multipart/related)
/// and a remote one.
const SEND_INLINE_IMAGE: &str = r#"
import smtplib, sys
from email.message import EmailMessage
host, port = sys.argv[1], int(sys.argv[2])
m = EmailMessage()
m["From"] = "a@example.com"
m["To"] = "b@example.org"
m["Subject"] = "inline image"
m.set_content("text")
m.add_alternative('<p><img src="cid:logo@x"><img src="https://tracker.example/p.gif"></p>', subtype="html")
m.get_payload()[1].add_related(b"\x89PNG\r\n\x1a\nfake", maintype="image", subtype="png", cid="<logo@x>")
with smtplib.SMTP(host, port) as s:
    s.send_message(m)
print("sent")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_mime_tree_remote_images_and_inline_parts() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = start_inbox(dir.path(), ApiOptions::default(), |_| {}).await;
    smtplib_send(&inbox, "Tree").await;
    let id = inbox.json("/api/v1/message/latest").await["ID"]
        .as_str()
        .unwrap()
        .to_string();

    let tree = inbox.json(&format!("/api/v1/message/{id}/tree")).await;
    assert_eq!(tree["ContentType"], "multipart/mixed");
    assert_eq!(tree["Download"], false);
    let children = tree["Children"].as_array().unwrap();
    assert_eq!(children[0]["ContentType"], "multipart/alternative");
    assert_eq!(children[0]["Children"][0]["Body"], true);
    assert_eq!(children[0]["Children"][0]["Download"], false);
    let blob = &children[1];
    assert_eq!(
        (&blob["FileName"], &blob["Size"], &blob["Download"]),
        (
            &serde_json::json!("blob.bin"),
            &serde_json::json!(768),
            &serde_json::json!(true)
        )
    );
    let part = inbox
        .http
        .get(inbox.url(&format!(
            "/api/v1/message/{id}/part/{}",
            blob["PartID"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(part.bytes().await.unwrap().len(), 768);

    // Remote images only when asked for.
    let view = |remote: bool| {
        let url = inbox.url(&format!(
            "/view/{id}.html{}",
            if remote { "?remote=1" } else { "" }
        ));
        let http = inbox.http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    let blocked = view(false).await;
    let csp = header(&blocked, "content-security-policy");
    assert!(csp.contains("sandbox") && !csp.contains("https:"), "{csp}");
    let allowed = view(true).await;
    let csp = header(&allowed, "content-security-policy");
    assert!(csp.contains("sandbox") && csp.contains("https:"), "{csp}");
    assert!(!blocked.text().await.unwrap().contains("<base"));
    let embedded = inbox
        .http
        .get(inbox.url(&format!("/view/{id}.html?embed=1")))
        .send()
        .await
        .unwrap();
    let csp = header(&embedded, "content-security-policy");
    assert!(
        csp.contains("sandbox allow-popups allow-popups-to-escape-sandbox")
            && !csp.contains("allow-scripts"),
        "{csp}"
    );
    assert!(
        embedded
            .text()
            .await
            .unwrap()
            .starts_with("<base target=\"_blank\">")
    );

    // An inline image's cid: becomes a data: URL of its bytes.
    let port = inbox.smtp().port().to_string();
    let out = tokio::task::spawn_blocking(move || python(SEND_INLINE_IMAGE, &["127.0.0.1", &port]))
        .await
        .unwrap();
    assert_eq!(out.trim(), "sent");
    let latest = inbox.json("/api/v1/message/latest").await;
    let id = latest["ID"].as_str().unwrap();
    let html = inbox
        .http
        .get(inbox.url(&format!("/view/{id}.html")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(latest["Inline"][0]["ContentType"], "image/png");
    // base64 of the PNG signature and "fake".
    assert!(
        html.contains("<img src=\"data:image/png;base64,iVBORw0KGgpmYWtl\">"),
        "{html}"
    );
    assert!(html.contains("https://tracker.example/p.gif"));
    inbox.stop().await;
}
