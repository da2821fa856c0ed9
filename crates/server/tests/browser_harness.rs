//! The browser-test harness itself (tests/common/browser.rs), against a tiny page served here with the
//! same strict Content-Security-Policy the desk's pages send.
#![allow(clippy::unwrap_used)] // a panic is a failed test with its message
mod common;

use std::time::{Duration, Instant};

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use common::browser::{axe_path, in_ci, Browser};

const CSP: &str = "default-src 'self'; script-src 'self'";

fn html(body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CONTENT_SECURITY_POLICY, CSP)], body)
}

const GOOD: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Harness check</title><script src="/app.js" defer></script></head>
<body>
<main>
  <h1>Harness check</h1>
  <label for="name">Your name</label>
  <input id="name" name="name" type="text">
  <button id="go" type="button">Greet</button>
  <p id="out">Waiting</p>
</main>
</body>
</html>"#;

const APP_JS: &str = r#"document.getElementById('go').addEventListener('click', () => {
  document.getElementById('out').textContent = 'Hello, ' + document.getElementById('name').value + '!';
});"#;

/// An input without a label: axe-core's `label` rule fails.
const BAD: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Bad page</title></head>
<body><main><h1>Bad page</h1><input id="nolabel" type="text"></main></body>
</html>"#;

/// An inline script, which `script-src 'self'` refuses.
const INLINE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Inline script</title></head>
<body><main><h1 id="h">Inline script</h1><script>document.getElementById('h').textContent = 'ran';</script></main></body>
</html>"#;

async fn serve() -> String {
    let app = Router::new()
        .route("/", get(|| async { html(GOOD) }))
        .route("/bad", get(|| async { html(BAD) }))
        .route("/inline", get(|| async { html(INLINE) }))
        .route("/app.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], APP_JS) }))
        .route("/favicon.ico", get(|| async { axum::http::StatusCode::NO_CONTENT }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_harness_drives_headless_chromium() {
    let started = Instant::now();
    let base = serve().await;
    let Some(b) = Browser::start().await else { return };
    eprintln!("browser started in {:?}", started.elapsed());

    // Navigation, typing and clicking through an external same-origin script under the strict CSP.
    b.goto(&format!("{base}/")).await;
    assert_eq!(b.current_url().await, format!("{base}/"));
    b.wait_for("#name", Duration::from_secs(5)).await;
    assert_eq!(b.text("#out").await, "Waiting");
    assert_eq!(b.attr("#name", "type").await.as_deref(), Some("text"));
    b.fill("#name", "Ada").await;
    b.click("#go").await;
    b.wait_for_text("#out", "Hello, Ada!", Duration::from_secs(5)).await;
    assert_eq!(b.exec("return arguments[0] + document.title;", vec![serde_json::json!("title: ")]).await, "title: Harness check");
    let async_result =
        b.exec_async("const done = arguments[arguments.length - 1]; setTimeout(() => done(arguments[0] * 2), 10);", vec![21.into()]).await;
    assert_eq!(async_result, 42);

    // Paint timing, for the benchmark.
    let fcp = b.first_contentful_paint_ms().await.expect("first-contentful-paint is reported");
    assert!(fcp > 0.0 && fcp < 30_000.0, "first contentful paint {fcp} ms");

    // A screenshot is a real PNG.
    let shot = b.screenshot("harness-good-page").await;
    let png = std::fs::read(&shot).unwrap();
    assert!(png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", shot.display());

    // axe-core runs under `script-src 'self'` (and its injection logs nothing) and finds nothing on the good page.
    let axe = axe_path().is_file() || in_ci();
    if axe {
        let violations = b.axe_check().await.expect("axe-core runs");
        assert!(violations.is_empty(), "unexpected violations: {violations:#?}");
        b.assert_accessible("harness-good-page").await;
    } else {
        eprintln!("\n*** SKIPPED: the axe-core checks: {} is missing (run `npm ci` in tests/browser) ***\n", axe_path().display());
    }
    assert_eq!(b.console_errors().await, vec![], "the good page logs no errors");
    assert!(b.csp_violations().await.is_empty());
    assert!(b.page_errors().await.is_empty());

    // ... and finds the unlabelled input on the bad page.
    if axe {
        b.goto(&format!("{base}/bad")).await;
        let violations = b.axe_check().await.unwrap();
        let label = violations.iter().find(|v| v.id == "label").unwrap_or_else(|| panic!("no `label` violation in {violations:#?}"));
        assert!(label.nodes.iter().any(|n| n.target.iter().any(|t| t.contains("nolabel"))), "{label:#?}");
        // The report `assert_accessible` panics with names the rule and the element.
        let report = b.accessibility_report("harness-bad-page").await.expect_err("the bad page is reported");
        assert!(report.contains("- label [critical]") && report.contains("at #nolabel"), "report: {report}");
    }

    // An inline script is refused by the CSP, and the test can see it, both ways.
    b.goto(&format!("{base}/inline")).await;
    assert_eq!(b.text("#h").await, "Inline script", "the inline script must not have run");
    let csp = b.csp_violations().await;
    assert!(csp.iter().any(|v| v.directive == "script-src-elem" || v.directive == "script-src"), "captured: {csp:?}");
    assert_eq!(csp[0].blocked_uri, "inline");
    let errors = b.console_errors().await;
    assert!(errors.iter().any(|e| e.message.contains("Content Security Policy")), "console errors: {errors:?}");

    b.close().await;
    eprintln!("harness test took {:?}", started.elapsed());
}
