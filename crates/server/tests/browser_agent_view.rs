//! What the agent sees (issue 11) in a real browser (headless Debian Chromium over WebDriver), against
//! a desk on SQLite with the Cloud API simulator playing WhatsApp and the SMS provider: inbox rows
//! with the latest message, the customer's wait and windows coloured by urgency; the live region
//! announcing without showing; a held reply released by the customer's message shown after it with
//! both of its times; a failure's story once resent or replaced by an SMS; the event log in words,
//! with the stored detail for admins only. Every page is checked with axe-core; screenshots are
//! saved under target/browser-artifacts.
#![allow(clippy::unwrap_used)] // a panic is a failed test with its message
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::browser::Browser;
use common::*;
use serde_json::json;
use windowdesk_core::{ManualClock, Timestamp};
use windowdesk_server::api::admin::create_agent;
use windowdesk_sim::{Fault, FaultPlan, Say};
use windowdesk_store::testing::Backend;
use windowdesk_store::AgentRole;

const CUSTOMER: &str = "4915112345678";
const ADMIN: &str = "ana@example.com";
const AGENT: &str = "ben@example.com";
const PASSWORD: &str = "correct horse battery";
const WAIT: Duration = Duration::from_secs(10);

async fn sign_in(browser: &Browser, app: &TestApp, email: &str) {
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", email).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_text("main h1", "Inbox", WAIT).await;
    browser.wait_for("body[data-live='connected']", WAIT).await;
}

/// Ana (admin) and Ben (agent); a browser signed in as Ana, or `None` when no browser is installed
/// outside CI.
async fn signed_in(app: &TestApp) -> Option<Browser> {
    create_agent(app.store().as_ref(), "Ana Lima", ADMIN, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    create_agent(app.store().as_ref(), "Ben Okafor", AGENT, AgentRole::Agent, Some(PASSWORD)).await.unwrap();
    let browser = Browser::start().await?;
    sign_in(&browser, app, ADMIN).await;
    Some(browser)
}

/// The live region: in the accessibility tree (not display:none, not visibility:hidden, not
/// aria-hidden) and no bigger than a pixel on screen.
async fn assert_live_region_hidden_but_present(browser: &Browser) -> serde_json::Value {
    let region = browser
        .exec(
            "const el = document.getElementById('live-status');
             const cs = getComputedStyle(el); const r = el.getBoundingClientRect();
             return { display: cs.display, visibility: cs.visibility, hidden: el.hidden || el.getAttribute('aria-hidden') === 'true',
                      width: r.width, height: r.height, text: el.textContent, role: el.getAttribute('role') };",
            vec![],
        )
        .await;
    assert_ne!(region["display"], json!("none"), "{region}");
    assert_ne!(region["visibility"], json!("hidden"), "{region}");
    assert_eq!(region["hidden"], json!(false), "{region}");
    assert_eq!(region["role"], json!("status"), "{region}");
    assert!(region["width"].as_f64().unwrap() <= 1.0 && region["height"].as_f64().unwrap() <= 1.0, "visually hidden: {region}");
    region
}

async fn ticket_of_customer(app: &TestApp, wa_id: &str) -> i64 {
    app.eventually("the ticket", || common::web::ticket_of(app, wa_id)).await
}

#[tokio::test]
async fn the_inbox_shows_the_latest_message_the_wait_and_window_urgency_and_hides_the_live_region() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    let now = now_secs();
    // Four customers, four windows: 20 min, 3 h and 23 h left, and one closed.
    app.sim().say(Say::text("4915100000001", "My order never arrived").name("Rosa Jansen").at(now - 23 * 3600 - 3000)).await.unwrap();
    app.sim().say(Say::text("4915100000001", "Hello? Anyone?").at(now - 23 * 3600 - 2400)).await.unwrap();
    app.sim().say(Say::text("4915100000002", "Can I change my address?").name("Lucas Martin").at(now - 21 * 3600)).await.unwrap();
    app.sim().say(Say::text("4915100000003", "Do you ship to Spain?").name("Oliver Smith").at(now - 3600)).await.unwrap();
    app.sim().say(Say::text("4915100000004", "Thanks for the help").name("Mia Chen").at(now - 25 * 3600)).await.unwrap();
    let oliver = ticket_of_customer(&app, "4915100000003").await;
    let rosa = ticket_of_customer(&app, "4915100000001").await;
    app.eventually("Rosa's two messages", || async { (app.store().ticket_messages(rosa).await.unwrap().len() == 2).then_some(()) }).await;
    ticket_of_customer(&app, "4915100000004").await;
    // Ana answers Oliver: his ticket is hers now ([web] assign_on_reply), and his row, under
    // Assigned to you, shows her answer; he is not waiting.
    browser.goto(&app.url(&format!("/tickets/{oliver}"))).await;
    browser.fill("#reply-body", "Yes, in three to five days.").await;
    browser.click("#send-open").await;
    browser.wait_for(".bubble.out .ticks[data-state='read']", WAIT).await;

    browser.goto(&app.url("/")).await;
    browser.wait_for_text("#assigned li.ticket-row", "Ana Lima: Yes, in three to five days.", WAIT).await;
    let rows = browser
        .exec(
            "return Array.from(document.querySelectorAll('#assigned li.ticket-row, #unassigned li.ticket-row')).map(li => ({
                name: li.querySelector('.name').textContent,
                latest: li.querySelector('.latest').textContent,
                urgency: li.querySelector('.window').dataset.urgency,
                pill: getComputedStyle(li.querySelector('.window')).backgroundColor,
                status: getComputedStyle(li.querySelector('.status')).backgroundColor,
                waiting: li.querySelector('.waiting') ? li.querySelector('.waiting').textContent : null }));",
            vec![],
        )
        .await;
    let row =
        |name: &str| rows.as_array().unwrap().iter().find(|r| r["name"] == json!(name)).unwrap_or_else(|| panic!("{name}: {rows}")).clone();
    assert_eq!(row("Rosa Jansen")["urgency"], json!("urgent"), "{rows}");
    assert_eq!(row("Rosa Jansen")["latest"], json!("Rosa Jansen: Hello? Anyone?"), "{rows}");
    assert!(row("Rosa Jansen")["waiting"].as_str().unwrap().starts_with("waiting 23 h 40 min"), "{rows}");
    assert_eq!(row("Lucas Martin")["urgency"], json!("warning"), "{rows}");
    assert_eq!(row("Oliver Smith")["urgency"], json!("calm"), "{rows}");
    assert_eq!(row("Oliver Smith")["waiting"], json!(null), "{rows}");
    assert_eq!(row("Mia Chen")["urgency"], json!("closed"), "{rows}");
    let colours: std::collections::BTreeSet<String> =
        ["Rosa Jansen", "Lucas Martin", "Oliver Smith", "Mia Chen"].iter().map(|n| row(n)["pill"].as_str().unwrap().to_owned()).collect();
    assert_eq!(colours.len(), 4, "four levels, four colours: {rows}");
    let red = "rgb(253, 232, 233)";
    assert!(rows.as_array().unwrap().iter().all(|r| r["status"] != json!(red)), "no red status pill: {rows}");
    assert_live_region_hidden_but_present(&browser).await;
    browser.screenshot("agent-view-inbox").await;
    browser.assert_accessible("inbox with urgency").await;
    browser.assert_no_errors("inbox").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_released_held_reply_and_resent_failures_read_in_order_with_their_story_and_the_log_in_words() {
    let start = Timestamp::from_unix_seconds(now_secs());
    let clock = Arc::new(ManualClock::new(start));
    let app = TestApp::start_with_sim(Backend::Sqlite, Some(clock.clone()), |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    app.sim().say(Say::text(CUSTOMER, "Where is my refund?").name("Rosa Jansen").at(now_secs() - 25 * 3600)).await.unwrap();
    let id = ticket_of_customer(&app, CUSTOMER).await;
    browser.goto(&app.url(&format!("/tickets/{id}"))).await;
    browser.wait_for("#composer[data-state='closed']", WAIT).await;
    let held = "Your refund was approved this morning.";
    browser.fill("#held-body", held).await;
    browser.click("#hold-reply").await;
    browser.wait_for(".bubble.out[data-state='held'] .held-badge", WAIT).await;

    // Two hours later (on the desk's and Meta's clocks) the customer writes; the reply goes out.
    clock.set(start.plus(Duration::from_secs(2 * 3600)));
    app.sim().advance_clock(Duration::from_secs(2 * 3600));
    app.sim().say(Say::text(CUSTOMER, "Hello again")).await.unwrap();
    browser.wait_for(".bubble.out .ticks[data-state='read']", Duration::from_secs(15)).await;
    browser.wait_for("#composer[data-state='open']", WAIT).await;
    let region = assert_live_region_hidden_but_present(&browser).await;
    assert!(region["text"].as_str().unwrap_or_default().contains("window is open"), "announced: {region}");
    let order =
        browser.exec("return Array.from(document.querySelectorAll('#thread li.bubble .body')).map(b => b.textContent)", vec![]).await;
    assert_eq!(order, json!(["Where is my refund?", "Hello again", held]), "where the customer got it");
    let written = browser.text(".bubble.out .written").await;
    assert!(written.starts_with("written ") && written.contains(", sent "), "{written}");

    // A reply refused by Meta, resent as it was; another replaced by an SMS.
    app.sim().set_fault(FaultPlan { count: Some(1), fault: Fault::Error { code: 131_026, http_status: 400 } });
    browser.fill("#reply-body", "The money should arrive tomorrow.").await;
    browser.click("#send-open").await;
    browser.click(".bubble.out[data-state='failed'] button[data-action='as_is']").await;
    browser.wait_for_text(".bubble.out .story", "resent", WAIT).await;
    app.sim().set_fault(FaultPlan { count: Some(1), fault: Fault::Error { code: 131_026, http_status: 400 } });
    browser.fill("#reply-body", "Reply here if it does not.").await;
    browser.click("#send-open").await;
    browser.click(".bubble.out[data-state='failed'] button[data-action='sms']").await;
    browser.wait_for_text(".bubble.out[data-kind='sms'] .ticks", "SMS accepted by the provider", WAIT).await;
    browser.wait_for_text(".bubble.out .story", "resent via SMS", WAIT).await;
    // Each reply: its story, then its foot (when, and the state now).
    let lines = browser
        .exec(
            "return Array.from(document.querySelectorAll('#thread .bubble.out')).map(b =>
               ((b.querySelector('.story') || {}).textContent || '') + ' | ' + b.querySelector('.foot').textContent)",
            vec![],
        )
        .await;
    let lines: Vec<String> =
        lines.as_array().unwrap().iter().map(|l| l.as_str().unwrap().split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert!(lines.iter().any(|l| l.contains("Held") && l.contains("released") && l.contains("| written ")), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("Failed") && l.contains("(error 131026) — resent") && l.contains("Read on WhatsApp")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("— resent via SMS") && l.contains("Failed on WhatsApp")), "{lines:?}");
    browser.exec("document.getElementById('thread').scrollIntoView({ block: 'start' });", vec![]).await;
    browser.screenshot("agent-view-thread-top").await;
    browser.exec("document.querySelector('.bubble.out[data-kind=\"sms\"]').scrollIntoView({ block: 'end' });", vec![]).await;
    browser.screenshot("agent-view-thread").await;
    browser.assert_accessible("ticket with a delivery story").await;

    // The event log: words for everyone, the stored detail for admins.
    browser.exec("const d = document.getElementById('events'); d.open = true; d.scrollIntoView({ block: 'start' });", vec![]).await;
    let log = browser.text("#events").await;
    assert!(!log.contains("wamid") && !log.contains('{'), "{log}");
    assert!(log.contains(&format!("WhatsApp reports the customer read “{held}”")), "{log}");
    browser.exec("const r = document.querySelector('#events details.raw'); r.open = true;", vec![]).await;
    browser.screenshot("agent-view-event-log-admin").await;
    browser.assert_accessible("event log (admin)").await;
    browser.assert_no_errors("ticket").await;

    browser.find("button.link[type='submit']").await.click().await.unwrap();
    browser.wait_for("#email", WAIT).await;
    sign_in(&browser, &app, AGENT).await;
    browser.goto(&app.url(&format!("/tickets/{id}"))).await;
    browser.exec("const d = document.getElementById('events'); d.open = true; d.scrollIntoView({ block: 'start' });", vec![]).await;
    assert!(browser.try_find("#events details.raw").await.is_none(), "agents get the words only");
    browser.screenshot("agent-view-event-log-agent").await;
    browser.assert_accessible("event log (agent)").await;
    browser.assert_no_errors("ticket as an agent").await;
    browser.close().await;
    app.stop().await;
}
