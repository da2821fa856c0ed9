//! The ticket page as an agent's workspace (issue 15 item 1), in a real browser (headless Debian
//! Chromium over WebDriver) against a desk on SQLite with the simulator: a reply sent with
//! Ctrl+Enter without a reload, its ticks advancing in place and the ticket taken by the agent who
//! answered; the composer docked in view on a ticket of 1,000 messages with the thread open at the
//! newest; a draft kept across a reload until it is sent; the shortcuts and their help. Screenshots
//! are saved under target/browser-artifacts.
#![allow(clippy::unwrap_used)] // a panic is a failed test with its message
mod common;

use std::time::Duration;

use common::browser::Browser;
use common::*;
use fantoccini::key::Key;
use serde_json::json;
use windowdesk_server::api::admin::create_agent;
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;
use windowdesk_store::AgentRole;

const EMAIL: &str = "ana@example.com";
const PASSWORD: &str = "correct horse battery";
const WAIT: Duration = Duration::from_secs(10);
const CUSTOMER: &str = "4915112345678";

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

/// Whether the element is entirely inside the viewport.
async fn in_view(browser: &Browser, css: &str) -> bool {
    let js = format!(
        "const r = document.querySelector({css:?}).getBoundingClientRect(); \
         return r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth;"
    );
    browser.exec(&js, vec![]).await == json!(true)
}

#[tokio::test]
async fn a_reply_sent_with_ctrl_enter_goes_out_without_a_reload_and_its_ticks_advance() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    app.sim().say(Say::text(CUSTOMER, "Where is my parcel?").name("Rosa Jansen")).await.unwrap();
    browser.click("#unassigned li.ticket-row a").await;
    browser.wait_for("#reply-body", WAIT).await;
    // Anything the page keeps across a reload would be lost by one: this marks the page.
    browser.exec("window.__samePage = true;", vec![]).await;

    browser.fill("#reply-body", "It left the warehouse this morning.").await;
    browser.press(&[Key::Control.into(), Key::Enter.into()]).await;
    browser.wait_for(".bubble.out .ticks[data-state='read']", WAIT).await;
    assert_eq!(browser.text(".bubble.out .body").await, "It left the warehouse this morning.");
    browser.wait_for_text("#notice", "Reply queued", WAIT).await;
    assert_eq!(browser.exec("return window.__samePage === true", vec![]).await, json!(true), "no reload");
    assert_eq!(browser.exec("return document.getElementById('reply-body').value", vec![]).await, json!(""), "the box is empty again");
    assert_eq!(app.sim().received().len(), 1, "sent once");
    // Replying took the unassigned ticket ([web] assign_on_reply).
    let assignee = browser.exec("return document.getElementById('assignee').selectedOptions[0].textContent", vec![]).await;
    assert_eq!(assignee, json!("Ana Lima"));
    browser.screenshot("workspace-sent-in-place").await;

    // A note, the same way; then the status from the side panel, in place too.
    browser.fill("#note-body", "Asked the carrier.").await;
    browser.press(&[Key::Control.into(), Key::Enter.into()]).await;
    browser.wait_for_text("#notice", "Note added", WAIT).await;
    browser.wait_for_text(".bubble.note .body", "Asked the carrier.", WAIT).await;
    browser.click("#status option[value='pending']").await;
    browser.click("#save-ticket").await;
    browser.wait_for_text("#ticket-status", "pending", WAIT).await;
    assert_eq!(browser.exec("return window.__samePage === true", vec![]).await, json!(true), "still no reload");
    browser.assert_accessible("ticket page after sending in place").await;
    browser.assert_no_errors("ticket page after sending in place").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn the_composer_stays_in_view_on_a_ticket_of_1000_messages_and_a_draft_survives_a_reload() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    let now = now_secs();
    // 1,000 customer messages on one ticket, through the webhook in batches of 100.
    for batch in 0..10 {
        let msgs = (0..100)
            .map(|i| {
                let n = batch * 100 + i;
                json!({"from": CUSTOMER, "id": format!("wamid.long{n}"), "timestamp": (now - 2_000 + n).to_string(),
                       "type": "text", "text": {"body": format!("message number {n}")}})
            })
            .collect();
        assert_eq!(app.post(&messages(msgs, CUSTOMER)).await, 200);
    }
    let ticket = app.only_ticket().await;
    app.eventually("1,000 messages on the ticket", || async {
        (app.store().ticket_messages(ticket).await.unwrap().len() >= 1000).then_some(())
    })
    .await;
    let Some(browser) = signed_in(&app).await else { return };
    browser.goto(&app.url(&format!("/tickets/{ticket}"))).await;
    browser.wait_for("#reply-body", WAIT).await;
    assert!(in_view(&browser, "#reply-body").await, "the reply box is in view");
    assert!(in_view(&browser, "#window-banner").await, "the window banner stays in view above the thread");
    assert!(in_view(&browser, "#thread > li:last-child").await, "the thread opens at the newest message");
    assert_eq!(browser.text("#thread > li:last-child .body").await, "message number 999");
    browser.screenshot("workspace-1000-messages").await;

    // A draft outlives a reload, and goes once it is sent.
    browser.fill("#note-body", "Half-written note").await;
    browser.goto(&app.url(&format!("/tickets/{ticket}"))).await;
    browser.wait_for("#note-body", WAIT).await;
    assert_eq!(browser.exec("return document.getElementById('note-body').value", vec![]).await, json!("Half-written note"));
    browser.click("#add-note").await;
    browser.wait_for_text("#notice", "Note added", WAIT).await;
    browser.goto(&app.url(&format!("/tickets/{ticket}"))).await;
    browser.wait_for("#note-body", WAIT).await;
    assert_eq!(browser.exec("return document.getElementById('note-body').value", vec![]).await, json!(""));

    // The shortcuts: ? lists them; a assigns; r goes to the reply box.
    browser.exec("document.activeElement.blur();", vec![]).await;
    browser.press(&['?']).await;
    browser.wait_for_text("dialog#shortcuts[open]", "Keyboard shortcuts", WAIT).await;
    browser.screenshot("workspace-shortcuts").await;
    browser.assert_accessible("shortcuts").await;
    browser.press(&[Key::Escape.into()]).await;
    assert!(browser.try_find("dialog#shortcuts[open]").await.is_none());
    browser.press(&['a']).await;
    browser.wait_for_text("#notice", "Ticket updated", WAIT).await;
    let assignee = browser.exec("return document.getElementById('assignee').selectedOptions[0].textContent", vec![]).await;
    assert_eq!(assignee, json!("Ana Lima"));
    browser.exec("document.activeElement.blur();", vec![]).await;
    browser.press(&['r']).await;
    assert_eq!(browser.exec("return document.activeElement.id", vec![]).await, json!("reply-body"));
    browser.assert_no_errors("ticket of 1,000 messages").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_reply_to_one_message_is_quoted_at_whatsapp_and_in_the_thread() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    let first = app.sim().say(Say::text(CUSTOMER, "Do you have it in blue?").name("Rosa Jansen")).await.unwrap();
    app.sim().say(Say::text(CUSTOMER, "Also, when does the shop open?")).await.unwrap();
    let ticket = app.only_ticket().await;
    browser.goto(&app.url(&format!("/tickets/{ticket}"))).await;
    browser.wait_for_text(".bubble.in:nth-of-type(2) .body", "Also, when", WAIT).await;
    browser.click(".bubble.in:first-of-type button.quote-reply").await;
    browser.wait_for_text("#replying-to-text", "Do you have it in blue?", WAIT).await;
    browser.type_keys("Yes, in navy blue.").await;
    browser.press(&[Key::Control.into(), Key::Enter.into()]).await;
    browser.wait_for_text(".bubble.out a.quoted .excerpt", "Do you have it in blue?", WAIT).await;
    assert_eq!(browser.exec("return document.getElementById('replying-to').hidden", vec![]).await, json!(true), "the quote is cleared");
    let sent = app.eventually("the reply at Meta", || async { app.sim().received().into_iter().next() }).await;
    assert_eq!(sent.request["context"]["message_id"], json!(first.wamid));
    browser.screenshot("workspace-reply-to").await;
    browser.assert_accessible("ticket page with a quoted reply").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_mention_is_suggested_as_you_type_and_highlighted_in_the_note() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    create_agent(app.store().as_ref(), "Bea Costa", "bea@example.com", AgentRole::Agent, None).await.unwrap();
    create_agent(app.store().as_ref(), "Ben Okafor", "ben@example.com", AgentRole::Agent, None).await.unwrap();
    app.sim().say(Say::text(CUSTOMER, "My invoice is wrong").name("Rosa Jansen")).await.unwrap();
    let ticket = app.only_ticket().await;
    browser.goto(&app.url(&format!("/tickets/{ticket}"))).await;
    browser.click("#note-body").await;
    browser.type_keys("Can you check this @be").await;
    browser.wait_for("#mention-list li", WAIT).await;
    let offered = browser.exec("return Array.from(document.querySelectorAll('#mention-list li')).map(li => li.textContent)", vec![]).await;
    assert_eq!(offered, json!(["Bea Costa (@bea)", "Ben Okafor (@ben)"]));
    browser.press(&[Key::Down.into()]).await;
    browser.press(&[Key::Enter.into()]).await;
    assert_eq!(browser.exec("return document.getElementById('note-body').value", vec![]).await, json!("Can you check this @ben "));
    assert_eq!(browser.exec("return document.getElementById('mention-list').hidden", vec![]).await, json!(true));
    browser.type_keys("please").await;
    browser.press(&[Key::Control.into(), Key::Enter.into()]).await;
    browser.wait_for_text(".bubble.note mark.mention", "@ben", WAIT).await;
    assert_eq!(browser.text(".bubble.note .body").await, "Can you check this @ben please");
    browser.screenshot("workspace-mention").await;
    browser.assert_accessible("ticket page with a mention").await;
    browser.assert_no_errors("ticket page with a mention").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn another_agent_on_the_same_ticket_is_shown_viewing_then_writing() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    common::web::add_agent(&app, "Bea Costa", "bea@example.com").await;
    app.sim().say(Say::text(CUSTOMER, "Is anyone there?").name("Rosa Jansen")).await.unwrap();
    let ticket = app.only_ticket().await;
    browser.goto(&app.url(&format!("/tickets/{ticket}"))).await;
    browser.wait_for("#reply-body", WAIT).await;
    assert_eq!(browser.exec("return document.getElementById('presence').hidden", vec![]).await, json!(true), "alone on it");
    // Bea opens the same ticket in her browser (her page says so), then starts writing.
    let bea = common::web::Web::sign_in(&app, "bea@example.com").await;
    let said = bea.post_raw(&format!("/tickets/{ticket}/presence"), &[], &[("x-csrf-token", &bea.csrf)]).await;
    assert_eq!(said.status, 204, "{}", said.body);
    browser.wait_for_text("#presence", "Bea Costa is also viewing this ticket.", WAIT).await;
    let typing = bea.post_raw(&format!("/tickets/{ticket}/typing"), &[], &[("x-csrf-token", &bea.csrf)]).await;
    assert_eq!(typing.status, 204);
    browser.wait_for_text("#presence", "Bea Costa is writing a reply to this customer.", WAIT).await;
    // Without her token nothing is said.
    let forged = bea.post_raw(&format!("/tickets/{ticket}/presence"), &[], &[]).await;
    assert_eq!(forged.status, 403);
    browser.screenshot("workspace-collision").await;
    browser.assert_accessible("ticket page with a colleague writing").await;
    browser.close().await;
    app.stop().await;
}
