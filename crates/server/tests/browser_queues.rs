//! Queues that stay clean (issue 15 item 3), in a real browser (headless Debian Chromium over
//! WebDriver) against a desk on SQLite with the simulator: the Unassigned link opens its own list;
//! three tickets ticked there are assigned in one go (the ticks survive a live refresh); rows say who
//! is assigned; the Pending, Solved and All views show what their names say, with counts; a ticket is
//! closed from its page after a confirmation. Screenshots are saved under target/browser-artifacts.
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

async fn rows(browser: &Browser) -> i64 {
    browser.exec("return document.querySelectorAll('#view li.ticket-row').length", vec![]).await.as_i64().unwrap()
}

#[tokio::test]
async fn three_tickets_assigned_at_once_views_by_status_and_closing_a_ticket() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    let bea = create_agent(app.store().as_ref(), "Bea Costa", "bea@example.com", AgentRole::Agent, None).await.unwrap();
    for (i, name) in ["Rosa Jansen", "Tomás Ruiz", "Ines Berg", "Kofi Mensah"].iter().enumerate() {
        app.sim().say(Say::text(&format!("49151000000{i:02}"), "Hello, a question about my order").name(name)).await.unwrap();
    }
    app.eventually("four tickets", || async {
        (app.store().inbox_count(&windowdesk_store::InboxList::Unassigned).await.unwrap() == 4).then_some(())
    })
    .await;

    browser.click("nav.side a[href='/views/unassigned']").await;
    browser.wait_for_text("main h1", "Unassigned", WAIT).await;
    assert_eq!(browser.attr("nav.side a[href='/views/unassigned']", "aria-current").await.as_deref(), Some("page"));
    assert_eq!(rows(&browser).await, 4);
    assert_eq!(browser.text("#view li.ticket-row .assignee").await, "Unassigned");
    // The test desk serves two business numbers: each row says which one.
    let badge = browser.attr("#view li.ticket-row .number-badge", "title").await.unwrap();
    assert!(badge.starts_with("Business number +"), "{badge}");
    for n in 1..=3 {
        browser.click(&format!("#view li.ticket-row:nth-child({n}) input.pick")).await;
    }
    browser.wait_for_text("#bulk-count", "3 selected", WAIT).await;
    // A customer writes meanwhile: the list refreshes live, and the ticks stay.
    app.sim().say(Say::text("4915100000099", "Anyone there?").name("Lars Olsen")).await.unwrap();
    browser.wait_for_text("[data-count='unassigned']", "5", WAIT).await;
    let ticked = browser.exec("return document.querySelectorAll('input.pick:checked').length", vec![]).await;
    assert_eq!(ticked, json!(3), "the ticks survive");
    browser.click(&format!("#bulk-assignee option[value='{}']", bea.id)).await;
    browser.fill("#bulk-tag", "order").await;
    browser.click("#bulk-apply").await;
    browser.wait_for_text("#notice", "3 tickets changed.", WAIT).await;
    assert_eq!(rows(&browser).await, 2, "two left unassigned");
    browser.wait_for_text("[data-count='unassigned']", "2", WAIT).await;
    browser.screenshot("queues-bulk-assigned").await;

    browser.click("nav.side a[href='/views/all']").await;
    browser.wait_for_text("main h1", "All tickets", WAIT).await;
    assert_eq!(rows(&browser).await, 5);
    let assignees = browser.exec("return Array.from(document.querySelectorAll('#view .assignee')).map(e => e.textContent)", vec![]).await;
    let assignees: Vec<String> = serde_json::from_value(assignees).unwrap();
    assert_eq!(assignees.iter().filter(|a| a.ends_with("Bea Costa")).count(), 3, "{assignees:?}");
    let tagged = browser.exec("return document.querySelectorAll('#view .tag').length", vec![]).await;
    assert_eq!(tagged, json!(3));

    // Two to pending: the Pending view and its count follow.
    browser.click("#view li.ticket-row:nth-child(1) input.pick").await;
    browser.click("#view li.ticket-row:nth-child(2) input.pick").await;
    browser.click("#bulk-status option[value='pending']").await;
    browser.click("#bulk-apply").await;
    browser.wait_for_text("#notice", "2 tickets changed.", WAIT).await;
    browser.wait_for_text("[data-count='pending']", "2", WAIT).await;
    browser.click("nav.side a[href='/views/pending']").await;
    browser.wait_for_text("main h1", "Pending", WAIT).await;
    assert_eq!(rows(&browser).await, 2);
    browser.assert_accessible("the Pending view").await;

    // Close one from its page, after saying yes.
    browser.click("#view li.ticket-row a").await;
    browser.wait_for("#close-ticket", WAIT).await;
    browser.click("#close-ticket").await;
    browser.client().accept_alert().await.unwrap();
    browser.wait_for_text("#notice", "Ticket closed.", WAIT).await;
    browser.wait_for_text("#composer .notice", "This ticket is closed", WAIT).await;
    assert!(browser.try_find("#reply-body").await.is_none(), "a closed ticket is read-only");
    browser.goto(&app.url("/views/pending")).await;
    browser.wait_for_text("main h1", "Pending", WAIT).await;
    assert_eq!(rows(&browser).await, 1);
    browser.goto(&app.url("/views/solved")).await;
    browser.wait_for_text("#view .empty", "No solved tickets.", WAIT).await;
    browser.assert_no_errors("the queues").await;
    browser.close().await;
    app.stop().await;
}
