//! Attachments from the composer (issue 15 item 2), in a real browser (headless Debian Chromium over
//! WebDriver) against a desk on SQLite with the simulator: an image (with a caption) and a PDF chosen
//! in the picker reach the simulator as media sends by uploaded id and show in the thread without a
//! reload; a file dropped on the composer is taken; a file over Meta's limit is refused in the page
//! with the limit named, and nothing is uploaded. Screenshots are saved under target/browser-artifacts.
#![allow(clippy::unwrap_used)] // a panic is a failed test with its message
mod common;

use std::time::Duration;

use common::browser::Browser;
use common::*;
use serde_json::json;
use windowdesk_server::api::admin::create_agent;
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;
use windowdesk_store::AgentRole;

const EMAIL: &str = "ana@example.com";
const PASSWORD: &str = "correct horse battery";
const WAIT: Duration = Duration::from_secs(10);
const CUSTOMER: &str = "4915112345670";

/// A real 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63,
    0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44,
    0xAE, 0x42, 0x60, 0x82,
];

async fn signed_in(app: &TestApp) -> Option<Browser> {
    create_agent(app.store().as_ref(), "Ana Lima", EMAIL, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    let browser = Browser::start().await?;
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", EMAIL).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_text("main h1", "Inbox", WAIT).await;
    Some(browser)
}

/// Chooses a file in the composer's picker, as a person would through the file dialog.
async fn choose(browser: &Browser, path: &std::path::Path) {
    if browser.exec("return document.getElementById('attach').open", vec![]).await != json!(true) {
        browser.click("#attach-summary").await;
    }
    let input = browser.wait_for("#attach-file", WAIT).await;
    input.send_keys(path.to_str().unwrap()).await.unwrap();
}

#[tokio::test]
async fn an_image_and_a_pdf_from_the_composer_reach_meta_and_show_in_the_thread() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("broken-part.png");
    std::fs::write(&png, PNG).unwrap();
    let pdf = dir.path().join("Invoice 2291.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n%%EOF\n").unwrap();
    app.sim().say(Say::text(CUSTOMER, "Can you send the invoice and a photo?").name("Rosa Jansen")).await.unwrap();
    browser.click("#unassigned li.ticket-row a").await;
    browser.wait_for("#reply-body", WAIT).await;
    browser.exec("window.__samePage = true;", vec![]).await;

    choose(&browser, &png).await;
    browser.wait_for_text("#attach-chosen", "broken-part.png (", WAIT).await;
    browser.fill("#attach-caption", "This is the part we shipped").await;
    browser.click("#send-file").await;
    browser.wait_for_text("#notice", "File queued", WAIT).await;
    browser.wait_for(".bubble.out img.media", WAIT).await;
    browser.wait_for_text(".bubble.out .body", "This is the part we shipped", WAIT).await;

    choose(&browser, &pdf).await;
    browser.click("#send-file").await;
    browser.wait_for_text(".bubble.out .document a", "Download Invoice 2291.pdf", WAIT).await;
    assert_eq!(browser.exec("return window.__samePage === true", vec![]).await, json!(true), "no reload");
    assert_eq!(
        browser.exec("return document.getElementById('attach-file').files.length", vec![]).await,
        json!(0),
        "the picker is empty again"
    );

    app.eventually("both files at Meta", || async { (app.sim().received().len() == 2).then_some(()) }).await;
    let received = app.sim().received();
    assert_eq!(received.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(), ["image", "document"]);
    let image_id = received[0].request["image"]["id"].as_str().unwrap();
    assert_eq!(app.sim().media_bytes(image_id).unwrap().as_ref(), PNG, "the agent's bytes, uploaded");
    assert_eq!(received[1].request["document"]["filename"], "Invoice 2291.pdf");
    // The image in the thread is the desk's copy, and opens full size.
    let src = browser.attr(".bubble.out img.media", "src").await.unwrap();
    assert_eq!(browser.attr(".bubble.out a.media-link", "href").await.as_deref(), Some(src.as_str()));
    browser.wait_for(".bubble.out[data-kind='image'] .ticks[data-state='read']", WAIT).await;
    browser.screenshot("attachments-sent").await;
    browser.assert_accessible("ticket page with attachments").await;
    browser.assert_no_errors("ticket page with attachments").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_file_over_metas_limit_is_refused_in_the_page_and_a_dropped_file_is_taken() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("scan.png");
    std::fs::write(&big, vec![0x89u8; 6_000_000]).unwrap();
    app.sim().say(Say::text(CUSTOMER, "Here is the scan you asked for").name("Rosa Jansen")).await.unwrap();
    let ticket = app.only_ticket().await;
    browser.goto(&app.url(&format!("/tickets/{ticket}"))).await;
    browser.wait_for("#reply-body", WAIT).await;

    choose(&browser, &big).await;
    browser.wait_for_text("#attach-problem", "the image is 6 MB; WhatsApp accepts images up to 5 MB", WAIT).await;
    browser.click("#send-file").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.store().ticket_messages(ticket).await.unwrap().len(), 1, "nothing stored");
    assert!(app.sim().received().is_empty(), "nothing uploaded or sent");
    browser.screenshot("attachments-over-limit").await;

    // A PDF dropped on the composer replaces it and may go.
    browser
        .exec(
            "const dt = new DataTransfer(); \
             dt.items.add(new File(['%PDF-1.4\\n%%EOF\\n'], 'terms.pdf', {type: 'application/pdf'})); \
             document.getElementById('reply-body').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));",
            vec![],
        )
        .await;
    browser.wait_for_text("#attach-chosen", "terms.pdf (", WAIT).await;
    assert!(browser.try_find("#attach-problem").await.is_none(), "the problem left with the file");
    browser.click("#send-file").await;
    browser.wait_for_text(".bubble.out .document a", "Download terms.pdf", WAIT).await;
    app.eventually("the dropped file at Meta", || async { app.sim().received().into_iter().find(|r| r.kind == "document") }).await;
    browser.assert_no_errors("ticket page after a refused file").await;
    browser.close().await;
    app.stop().await;
}
