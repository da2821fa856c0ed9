//! Building a trigger in the admin page (issue 13 item 7) in a real browser (headless Debian Chromium
//! over WebDriver), against a desk on SQLite: the condition/action builder, the check as you type
//! naming an unknown placeholder at its row with Save disabled, the dry run over the newest tickets,
//! and the saved rule in the list and in the store exactly as built. Every page is checked with
//! axe-core; screenshots are saved under target/browser-artifacts.
#![allow(clippy::unwrap_used)] // a panic is a failed test with its message
mod common;

use std::time::Duration;

use common::browser::Browser;
use common::*;
use serde_json::json;
use windowdesk_server::api::admin::create_agent;
use windowdesk_store::testing::Backend;
use windowdesk_store::AgentRole;

const ADMIN: &str = "ana@example.com";
const PASSWORD: &str = "correct horse battery";
const WAIT: Duration = Duration::from_secs(10);

/// Chooses `value` in the select `css` by clicking its option.
async fn choose(browser: &Browser, css: &str, value: &str) {
    browser.click(&format!("{css} option[value='{value}']")).await;
}

#[tokio::test]
async fn an_admin_builds_a_trigger_sees_a_bad_placeholder_named_dry_runs_it_and_saves_it() {
    let app = TestApp::start(Backend::Sqlite).await;
    let now = now_secs();
    assert_eq!(app.post(&text("wamid.br1", "4915100000001", now - 120, "Hi, I want my money back for order 1234")).await, 200);
    assert_eq!(app.post(&text("wamid.br2", "4915100000002", now - 60, "Do you ship to Spain?")).await, 200);
    let refund = app.eventually("the refund ticket", || common::web::ticket_of(&app, "4915100000001")).await;
    app.eventually("the other ticket", || common::web::ticket_of(&app, "4915100000002")).await;
    create_agent(app.store().as_ref(), "Ana Lima", ADMIN, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    let Some(browser) = Browser::start().await else { return };
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", ADMIN).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_text("main h1", "Inbox", WAIT).await;

    // Admin → Rules, from the header.
    browser.click("header.top a[href='/admin/rules']").await;
    browser.wait_for_text("main h1", "Rules", WAIT).await;
    browser.wait_for_text("main .empty", "No rules yet", WAIT).await;
    browser.assert_accessible("rules list, empty").await;
    browser.click("#new-rule").await;
    browser.wait_for_text("main h1", "New rule", WAIT).await;
    browser.wait_for("#rb-name", WAIT).await;
    assert!(browser.try_find("#rule-json-details[open]").await.is_none(), "the JSON is folded away when the builder runs");
    browser.wait_for_text("#rule-status", "problems are shown as you go", WAIT).await;
    assert_eq!(browser.attr("#rule-save", "disabled").await.as_deref(), Some("true"), "nothing to save yet");
    browser.screenshot("rules-builder-new").await;
    browser.assert_accessible("rule builder, new").await;

    // The trigger: on a customer's message that mentions a refund, tag it and answer.
    browser.fill("#rb-name", "Refund requests").await;
    choose(&browser, "#rb-event", "message_received").await;
    choose(&browser, "#add-all-field", "message_text").await;
    browser.click("#add-all-field-button").await;
    browser.fill("#rb-conditions-all-0-words", "refund, money back").await;
    choose(&browser, "#add-action-type", "add_tags").await;
    browser.click("#add-action-type-button").await;
    browser.fill("#rb-actions-0-tags", "refund").await;
    choose(&browser, "#add-action-type", "reply").await;
    browser.click("#add-action-type-button").await;
    choose(&browser, "#rb-actions-1-when-closed", "template").await;
    browser.fill("#rb-actions-1-when-closed-name", "ticket_received").await;
    browser.click("#rb-actions-1-when-closed-params-add").await;
    browser.fill("#rb-actions-1-when-closed-params-1", "{{ticket.id}}").await;
    browser.click("#rb-once").await;
    browser.fill("#rb-actions-1-text", "Hi {{firstName || there}}, your ticket is {{ticket.idd}}.").await;

    // The check names the token at the reply's text, and Save is off.
    let error = browser.wait_for_text(".rb-error[data-error-path='actions[1].text']", "unknown placeholder {{ticket.idd}}", WAIT).await;
    assert!(error.text().await.unwrap().starts_with("actions[1].text: "), "names the field path");
    assert_eq!(browser.attr("#rb-actions-1-text", "aria-invalid").await.as_deref(), Some("true"));
    let described = browser.attr("#rb-actions-1-text", "aria-describedby").await.unwrap_or_default();
    assert!(described.split(' ').any(|id| id.starts_with("rb-err-")), "the error describes the field: {described}");
    browser.wait_for_text("#rule-status", "1 problem to fix before saving", WAIT).await;
    assert_eq!(browser.attr("#rule-save", "disabled").await.as_deref(), Some("true"));
    assert_eq!(browser.attr("#rule-dry-run", "disabled").await.as_deref(), Some("true"));
    browser.exec("document.querySelector('.rb-error').scrollIntoView({ block: 'center' });", vec![]).await;
    browser.screenshot("rules-builder-error").await;
    browser.assert_accessible("rule builder with an error").await;

    // Fixed: no problems, Save is on.
    browser.fill("#rb-actions-1-text", "Hi {{firstName || there}}, your ticket is {{ticket.id}}.").await;
    browser.wait_for_text("#rule-status", "No problems: ready to save.", WAIT).await;
    assert!(browser.try_find(".rb-error").await.is_none());
    assert_eq!(browser.attr("#rule-save", "disabled").await, None);

    // The dry run: the refund ticket, and only it.
    browser.click("#rule-dry-run").await;
    browser.wait_for_text("#dry-run-summary", "Checked the 2 newest tickets as if the event happened now: 1 would match.", WAIT).await;
    let links =
        browser.exec("return Array.from(document.querySelectorAll('#dry-run-matches a')).map(a => a.getAttribute('href'))", vec![]).await;
    assert_eq!(links, json!([format!("/tickets/{refund}")]));
    browser.exec("document.getElementById('dry-run-result').scrollIntoView({ block: 'end' });", vec![]).await;
    browser.screenshot("rules-builder-dry-run").await;
    browser.assert_accessible("rule builder with a dry run").await;
    assert!(app.store().rules().await.unwrap().is_empty(), "a dry run stores nothing");

    // Saved: in the list, switched on, with its summary.
    browser.click("#rule-save").await;
    browser.wait_for_text("#notice", "Saved.", WAIT).await;
    let row = browser.wait_for_text("#rules tbody tr", "Refund requests", WAIT).await;
    let row_text = row.text().await.unwrap();
    assert!(row_text.contains("Message received"), "{row_text}");
    assert!(
        row_text.contains("If message contains “refund” or “money back”: add tags “refund”; reply (when closed: template ticket_received)"),
        "{row_text}"
    );
    assert_eq!(browser.attr("#rules tbody tr button.switch", "aria-checked").await.as_deref(), Some("true"));
    browser.screenshot("rules-list").await;
    browser.assert_accessible("rules list").await;
    browser.assert_no_errors("rules pages").await;

    // Stored as built.
    let rows = app.store().rules().await.unwrap();
    assert_eq!(rows.len(), 1);
    let draft = windowdesk_server::rules::draft_of(&rows[0]).unwrap();
    assert_eq!(
        serde_json::to_value(&draft).unwrap(),
        json!({
            "name": "Refund requests",
            "enabled": true,
            "position": 10,
            "event": "message_received",
            "once_per_episode": true,
            "conditions": {"all": [{"field": "message_text", "op": "contains_any", "words": ["refund", "money back"]}], "any": []},
            "actions": [
                {"type": "add_tags", "tags": ["refund"]},
                {"type": "reply", "text": "Hi {{firstName || there}}, your ticket is {{ticket.id}}.",
                 "when_closed": {"kind": "template", "name": "ticket_received", "language": "en", "params": {"1": "{{ticket.id}}"}}}
            ]
        })
    );
    assert!(rows[0].created_by.as_deref().is_some_and(|a| a.starts_with("agent:")), "{:?}", rows[0].created_by);

    // Opened again, the builder shows it as saved.
    browser.click("#rules a.rule-name").await;
    browser.wait_for("#rb-conditions-all-0-words", WAIT).await;
    let words = browser.exec("return document.getElementById('rb-conditions-all-0-words').value", vec![]).await;
    assert_eq!(words, json!("refund, money back"));
    browser.wait_for_text("#rule-status", "No problems: ready to save.", WAIT).await;
    browser.screenshot("rules-builder-edit").await;
    browser.assert_no_errors("rule editor").await;
    browser.close().await;
    app.stop().await;
}
