//! Building a macro on the Macros page (issue 13 items 4 and 7) in a real browser (headless Debian
//! Chromium over WebDriver), against a desk on SQLite: the rule page's builder on a macro (a name, a
//! "shared" box and only the actions a macro holds), the check as you type naming an unknown
//! placeholder at its row with Save disabled, the saved macro in the list and the store exactly as
//! built, then chosen on a ticket with `M` and the keyboard, its reply rendered in the composer; and
//! an agent's builder, whose "shared" box is off and locked. Every page is checked with axe-core;
//! screenshots are saved under target/browser-artifacts.
#![allow(clippy::unwrap_used)] // a panic is a failed test with its message
mod common;

use std::time::Duration;

use common::browser::Browser;
use common::*;
use fantoccini::key::Key;
use serde_json::json;
use windowdesk_server::api::admin::create_agent;
use windowdesk_store::testing::Backend;
use windowdesk_store::AgentRole;

const ADMIN: &str = "ana@example.com";
const AGENT: &str = "ben@example.com";
const PASSWORD: &str = "correct horse battery";
const CUSTOMER: &str = "4915100000007";
const WAIT: Duration = Duration::from_secs(10);

/// Chooses `value` in the select `css` by clicking its option.
async fn choose(browser: &Browser, css: &str, value: &str) {
    browser.click(&format!("{css} option[value='{value}']")).await;
}

async fn sign_in(browser: &Browser, app: &TestApp, email: &str) {
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", email).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_text("main h1", "Inbox", WAIT).await;
}

#[tokio::test]
async fn an_admin_builds_a_shared_macro_sees_a_bad_placeholder_named_saves_it_and_applies_it_with_m() {
    let app = TestApp::start(Backend::Sqlite).await;
    assert_eq!(app.post(&common::web::text_as("wamid.bm1", CUSTOMER, "Rosa Jansen", now_secs() - 60, "Where is my refund?")).await, 200);
    let ticket = app.eventually("the ticket", || common::web::ticket_of(&app, CUSTOMER)).await;
    create_agent(app.store().as_ref(), "Ana Lima", ADMIN, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    create_agent(app.store().as_ref(), "Ben Okafor", AGENT, AgentRole::Agent, Some(PASSWORD)).await.unwrap();
    let Some(browser) = Browser::start().await else { return };
    sign_in(&browser, &app, ADMIN).await;

    // Macros, from the header.
    browser.click("header.top a[href='/macros']").await;
    browser.wait_for_text("main h1", "Macros", WAIT).await;
    browser.wait_for_text("main .empty", "No macros yet", WAIT).await;
    browser.assert_accessible("macros list, empty").await;
    browser.click("#new-macro").await;
    browser.wait_for_text("main h1", "New macro", WAIT).await;
    browser.wait_for("#rb-name", WAIT).await;
    assert!(browser.try_find("#macro-json-details[open]").await.is_none(), "the JSON is folded away when the builder runs");
    browser.wait_for_text("#macro-status", "Name the macro and add what it does", WAIT).await;
    assert_eq!(browser.attr("#macro-save", "disabled").await.as_deref(), Some("true"), "nothing to save yet");
    // Only what a macro holds: no event, no conditions, no dry run, no sends but the reply.
    assert!(browser.try_find("#rb-event").await.is_none() && browser.try_find("#rb-all").await.is_none());
    assert!(browser.try_find("#rule-dry-run").await.is_none());
    let offered = browser.exec("return Array.from(document.querySelectorAll('#add-action-type option')).map(o => o.value)", vec![]).await;
    assert_eq!(
        offered,
        json!(["reply", "add_tags", "remove_tags", "set_status", "set_priority", "set_assignee", "unassign", "internal_note"])
    );
    assert_eq!(browser.attr("#rb-shared", "disabled").await, None, "an admin may share");
    browser.screenshot("macros-builder-new").await;
    browser.assert_accessible("macro builder, new").await;

    // The macro: shared, a reply with a placeholder typed wrong, a tag and a status.
    browser.fill("#rb-name", "Refund on its way").await;
    browser.click("#rb-shared").await;
    choose(&browser, "#add-action-type", "reply").await;
    browser.click("#add-action-type-button").await;
    choose(&browser, "#add-action-type", "add_tags").await;
    browser.click("#add-action-type-button").await;
    browser.fill("#rb-actions-1-tags", "refund").await;
    choose(&browser, "#add-action-type", "set_status").await;
    browser.click("#add-action-type-button").await;
    choose(&browser, "#rb-actions-2-status", "solved").await;
    browser.fill("#rb-actions-0-text", "Hi {{firstName || there}}, the refund for ticket {{ticket.idd}} is on its way.").await;

    // The check names the token at the reply's text, and Save is off.
    let error = browser.wait_for_text(".rb-error[data-error-path='actions[0].text']", "unknown placeholder {{ticket.idd}}", WAIT).await;
    assert!(error.text().await.unwrap().starts_with("actions[0].text: "), "names the field path");
    assert_eq!(browser.attr("#rb-actions-0-text", "aria-invalid").await.as_deref(), Some("true"));
    let described = browser.attr("#rb-actions-0-text", "aria-describedby").await.unwrap_or_default();
    assert!(described.split(' ').any(|id| id.starts_with("rb-err-")), "the error describes the field: {described}");
    browser.wait_for_text("#macro-status", "1 problem to fix before saving", WAIT).await;
    assert_eq!(browser.attr("#macro-save", "disabled").await.as_deref(), Some("true"));
    browser.exec("document.querySelector('.rb-error').scrollIntoView({ block: 'center' });", vec![]).await;
    browser.screenshot("macros-builder-error").await;
    browser.assert_accessible("macro builder with an error").await;

    // Fixed: no problems, Save is on.
    browser.fill("#rb-actions-0-text", "Hi {{firstName || there}}, the refund for ticket {{ticket.id}} is on its way.").await;
    browser.wait_for_text("#macro-status", "No problems: ready to save.", WAIT).await;
    assert!(browser.try_find(".rb-error").await.is_none());
    assert_eq!(browser.attr("#macro-save", "disabled").await, None);
    browser.screenshot("macros-builder-ready").await;

    // Saved: in the list, shared, with its summary.
    browser.click("#macro-save").await;
    browser.wait_for_text("#notice", "Saved.", WAIT).await;
    let row = browser.wait_for_text("#macro-table tbody tr", "Refund on its way", WAIT).await;
    let row_text = row.text().await.unwrap();
    assert!(row_text.contains("Shared") && row_text.contains("Ana Lima"), "{row_text}");
    assert!(row_text.contains("reply (skipped when closed); add tags “refund”; set status solved"), "{row_text}");
    browser.screenshot("macros-list").await;
    browser.assert_accessible("macros list").await;
    browser.assert_no_errors("macros pages").await;

    // Stored as built: shared (nobody's own).
    let rows = app.store().macros(None).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].owner_agent_id, None);
    let body: serde_json::Value = serde_json::from_str(&rows[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "name": "Refund on its way",
            "shared": true,
            "actions": [
                {"type": "reply", "text": "Hi {{firstName || there}}, the refund for ticket {{ticket.id}} is on its way.", "when_closed": {"kind": "skip"}},
                {"type": "add_tags", "tags": ["refund"]},
                {"type": "set_status", "status": "solved"}
            ]
        })
    );

    // Opened again, the builder shows it as saved.
    browser.click("#macro-table a.rule-name").await;
    browser.wait_for("#rb-actions-1-tags", WAIT).await;
    let tags = browser.exec("return document.getElementById('rb-actions-1-tags').value", vec![]).await;
    assert_eq!(tags, json!("refund"));
    assert_eq!(browser.exec("return document.getElementById('rb-shared').checked", vec![]).await, json!(true));
    browser.wait_for_text("#macro-status", "No problems: ready to save.", WAIT).await;
    browser.screenshot("macros-builder-edit").await;
    browser.assert_accessible("macro builder, editing").await;

    // On the ticket: M opens the picker, the keyboard chooses the macro, the composer holds its reply.
    browser.goto(&app.url(&format!("/tickets/{ticket}"))).await;
    browser.wait_for("#composer[data-state='open']", WAIT).await;
    browser.press(&['m']).await;
    browser.wait_for("#macros[open] #macro-q", WAIT).await;
    browser.type_keys("refund").await;
    browser.press(&[Key::Down.into()]).await;
    browser.press(&[Key::Enter.into()]).await;
    browser.wait_for("#macro-chosen", WAIT).await;
    let value = browser.exec("return document.getElementById('reply-body').value", vec![]).await;
    assert_eq!(value, json!(format!("Hi Rosa, the refund for ticket {ticket} is on its way.")), "the composer holds the rendered reply");
    let panel = browser.text("#macro-chosen").await;
    assert!(panel.contains("Status → solved") && panel.contains("refund"), "{panel}");
    browser.screenshot("macros-applied-on-ticket").await;
    browser.assert_accessible("ticket with the macro chosen").await;
    browser.assert_no_errors("ticket page").await;

    // An agent sees the shared macro but cannot change it, and their builder's "shared" box is locked.
    browser.goto(&app.url("/macros")).await;
    browser.click("header.top form[action='/logout'] button").await;
    browser.wait_for("#email", WAIT).await;
    sign_in(&browser, &app, AGENT).await;
    browser.goto(&app.url("/macros")).await;
    let row = browser.wait_for_text("#macro-table tbody tr", "Refund on its way", WAIT).await;
    assert!(row.find(fantoccini::Locator::Css("a")).await.is_err(), "no link to edit a shared macro");
    browser.click("#new-macro").await;
    browser.wait_for("#rb-shared", WAIT).await;
    assert_eq!(browser.attr("#rb-shared", "disabled").await.as_deref(), Some("true"));
    assert!(browser.text("#rb-shared-hint").await.contains("only admins share macros"));
    browser.screenshot("macros-builder-agent").await;
    browser.assert_accessible("macro builder, agent").await;
    browser.assert_no_errors("agent's macro pages").await;
    browser.close().await;
    app.stop().await;
}
