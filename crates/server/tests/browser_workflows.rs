//! Building a workflow and adding an HTTP target in the admin pages (issue 14 items 3, 4 and 7), in a
//! real browser (headless Debian Chromium over WebDriver), against a desk on SQLite with the
//! simulator: the step builder with its Window check branches; the check as you type naming a
//! free-form reply after a wait at its step, with Save off; the saved workflow running on a customer's
//! message, its steps in the run list and on the ticket; an HTTP target refused for a bad address,
//! added with its secret shown once, and its delivery log. Every page is checked with axe-core;
//! screenshots are saved under target/browser-artifacts.
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

const ADMIN: &str = "ana@example.com";
const PASSWORD: &str = "correct horse battery";
const WAIT: Duration = Duration::from_secs(10);

/// Chooses `value` in the select `css` by clicking its option.
async fn choose(browser: &Browser, css: &str, value: &str) {
    browser.click(&format!("{css} option[value='{value}']")).await;
}

/// Adds a step of `kind` to the step list at `list_id` (`rb-steps-0-open`).
async fn add_step(browser: &Browser, list_id: &str, kind: &str) {
    choose(browser, &format!("#add-{list_id}"), kind).await;
    browser.click(&format!("#add-{list_id}-button")).await;
}

#[tokio::test]
async fn an_admin_builds_a_window_check_workflow_sees_free_form_after_a_wait_refused_and_watches_it_run() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    app.sync_templates().await;
    create_agent(app.store().as_ref(), "Ana Lima", ADMIN, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    let Some(browser) = Browser::start().await else { return };
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", ADMIN).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_text("main h1", "Inbox", WAIT).await;

    // Rules → Workflows → New workflow.
    browser.goto(&app.url("/admin/rules")).await;
    browser.click("#workflows-link").await;
    browser.wait_for_text("main h1", "Workflows", WAIT).await;
    browser.wait_for_text("main .empty", "No workflows yet", WAIT).await;
    browser.assert_accessible("workflows list, empty").await;
    browser.click("#new-workflow").await;
    browser.wait_for_text("main h1", "New workflow", WAIT).await;
    browser.wait_for("#rb-name", WAIT).await;
    browser.wait_for_text("#workflow-status", "problems are shown as you go", WAIT).await;
    assert_eq!(browser.attr("#workflow-save", "disabled").await.as_deref(), Some("true"));

    // On a customer's message: a Window check, with a wait and a reply in Open.
    browser.fill("#rb-name", "Answer while the window is open").await;
    choose(&browser, "#rb-event", "message_received").await;
    add_step(&browser, "rb-steps-0-open", "wait").await;
    browser.fill("#rb-steps-0-open-0-minutes", "1500").await;
    add_step(&browser, "rb-steps-0-open", "do:reply").await;
    browser.fill("#rb-steps-0-open-1-action-text", "Hi {{firstName || there}}, we are on it.").await;

    // The check names the reply's step: the wait can outlast the window. Save is off.
    let error = browser.wait_for_text(".rb-error[data-error-path='steps[0].open[1]']", "comes after a wait of 1500 minutes", WAIT).await;
    assert!(error.text().await.unwrap().starts_with("steps[0].open[1]: "), "names the step");
    browser.wait_for_text("#workflow-status", "1 problem to fix before saving", WAIT).await;
    assert_eq!(browser.attr("#workflow-save", "disabled").await.as_deref(), Some("true"));
    browser.exec("document.querySelector('.rb-error').scrollIntoView({ block: 'center' });", vec![]).await;
    browser.screenshot("workflow-builder-error").await;
    browser.assert_accessible("workflow builder with an error").await;

    // Without the wait it is fine; Closed sends a template.
    browser.click("li[data-path='steps[0].open[0]'] button[aria-label='Remove step 1']").await;
    add_step(&browser, "rb-steps-0-closed", "do:send_template").await;
    browser.fill("#rb-steps-0-closed-0-action-name", "hello_world").await;
    browser.fill("#rb-steps-0-closed-0-action-language", "en_US").await;
    // The editor says what the template costs, from the rate card in force (issue 17).
    let price = browser.wait_for_text("li[data-path='steps[0].closed[0]'] .rb-price", "Cost: utility: ", WAIT).await;
    let price = price.text().await.unwrap();
    assert!(price.contains(" USD by the customer's country (Meta USD "), "{price}");
    browser.wait_for_text("#workflow-status", "No problems: ready to save.", WAIT).await;
    assert!(browser.try_find(".rb-error").await.is_none());
    browser.screenshot("workflow-builder").await;
    browser.assert_accessible("workflow builder").await;
    browser.click("#workflow-save").await;
    browser.wait_for_text("#notice", "Saved.", WAIT).await;
    let row = browser.wait_for_text("#workflows tbody tr", "Answer while the window is open", WAIT).await;
    let row_text = row.text().await.unwrap();
    assert!(row_text.contains("Window check") && row_text.contains("reply (skipped when closed)"), "{row_text}");
    assert!(row_text.contains("send template hello_world"), "{row_text}");
    browser.screenshot("workflows-list").await;
    browser.assert_accessible("workflows list").await;
    let rows = app.store().workflows().await.unwrap();
    let draft = windowdesk_server::rules::workflows::draft_of(&rows[0]).unwrap();
    assert_eq!(
        serde_json::to_value(&draft.steps).unwrap(),
        json!([{"type": "window_check",
                "open": [{"type": "do", "action": {"type": "reply", "text": "Hi {{firstName || there}}, we are on it.", "when_closed": {"kind": "skip"}}}],
                "closed": [{"type": "do", "action": {"type": "send_template", "name": "hello_world", "language": "en_US", "params": {}}}]}])
    );

    // A customer writes: the run takes the Open branch; the run list and the ticket show its steps.
    let customer = "4915100000021";
    app.sim().say(Say::text(customer, "hello").name("Marta Silva")).await.unwrap();
    app.eventually("the reply at the simulator", || async {
        app.sim().received().into_iter().find(|m| m.to == customer && m.text.as_deref() == Some("Hi Marta, we are on it."))
    })
    .await;
    browser.goto(&app.url("/admin/workflow-runs")).await;
    let run = browser.wait_for_text("#workflow-runs tbody tr", "done", WAIT).await;
    let run_text = run.text().await.unwrap();
    assert!(run_text.contains("steps[0] window_check: open") && run_text.contains("steps[0].open[0] reply: reply queued"), "{run_text}");
    browser.screenshot("workflow-runs").await;
    browser.assert_accessible("workflow runs").await;
    browser.click("#workflow-runs tbody tr td a").await;
    browser.click("#events summary").await;
    // The log is live (the reply's statuses arrive meanwhile): matched by its text, not read after.
    browser
        .wait_for_text("#event-list li[data-kind='workflow_step']", "ran a step of the workflow “Answer while the window is open”", WAIT)
        .await;
    browser.screenshot("workflow-steps-on-the-ticket").await;
    browser.assert_no_errors("workflow pages").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn an_admin_adds_an_http_target_sees_its_secret_once_and_its_delivery_log() {
    let app = TestApp::start(Backend::Sqlite).await;
    create_agent(app.store().as_ref(), "Ana Lima", ADMIN, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    let Some(browser) = Browser::start().await else { return };
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", ADMIN).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_text("main h1", "Inbox", WAIT).await;
    browser.goto(&app.url("/admin/rules")).await;
    browser.click("#http-targets-link").await;
    browser.wait_for_text("main h1", "HTTP targets", WAIT).await;
    browser.assert_accessible("HTTP targets, empty").await;

    browser.fill("#target-name", "CRM").await;
    browser.exec("document.getElementById('target-url').setAttribute('type', 'text')", vec![]).await;
    browser.fill("#target-url", "ftp://crm.example.com/hooks").await;
    browser.click("#add-target").await;
    browser.wait_for_text("#target-error", "must be an http:// or https:// address with a host", WAIT).await;
    assert!(app.store().http_targets().await.unwrap().is_empty());
    // The refused form is answered 422, which the browser logs; nothing else may be.
    let logged = browser.console_errors().await;
    assert!(logged.iter().all(|e| e.message.contains("status of 422")), "{logged:?}");

    browser.fill("#target-url", "https://crm.example.com/hooks/windowdesk").await;
    browser.click("#add-target").await;
    let secret = browser.wait_for_text("#created-secret", "shown this once", WAIT).await;
    assert!(secret.text().await.unwrap().contains("whsec_"));
    let row = browser.wait_for_text("#http-targets tbody tr", "CRM", WAIT).await;
    assert!(row.text().await.unwrap().contains("nothing delivered yet"));
    browser.screenshot("http-targets").await;
    browser.assert_accessible("HTTP targets").await;
    // Shown once: the list does not show it again.
    browser.goto(&app.url("/admin/http-targets")).await;
    browser.wait_for("#http-targets", WAIT).await;
    assert!(browser.try_find("#created-secret").await.is_none());
    browser.click("#http-targets tbody tr a").await;
    browser.wait_for_text("main h2", "Delivery log", WAIT).await;
    browser.wait_for_text("main .empty", "Nothing sent to this target yet", WAIT).await;
    browser.assert_accessible("HTTP target delivery log").await;
    browser.assert_no_errors("HTTP target pages").await;
    browser.close().await;
    app.stop().await;
}
