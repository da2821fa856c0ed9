//! Search in a real browser (issue 16 item 3; the `/` shortcut of issue 15 item 1), headless Debian
//! Chromium over WebDriver against a desk on SQLite with the simulator: `/` focuses the search box
//! from the inbox; `whatsapp:"3211"`, `whatsapp:"123)123-3"` and `11231233211` all find the customer
//! of +1 (123) 123-3211 in the Customers tab; a Portuguese word is found with and without its accent
//! in the Messages tab, highlighted; a malformed query says what is wrong. Screenshots are saved
//! under target/browser-artifacts.
#![allow(clippy::unwrap_used)] // a panic is a failed test with its message
mod common;

use std::time::Duration;

use common::browser::Browser;
use common::*;
use windowdesk_server::api::admin::create_agent;
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;
use windowdesk_store::AgentRole;

const EMAIL: &str = "ana@example.com";
const PASSWORD: &str = "correct horse battery";
const WAIT: Duration = Duration::from_secs(10);

async fn search_from_the_box(browser: &Browser, query: &str) {
    browser.exec("document.activeElement && document.activeElement.blur()", vec![]).await;
    browser.press(&['/']).await;
    let focused = browser.exec("return document.activeElement && document.activeElement.id", vec![]).await;
    assert!(focused == "search-q" || focused == "search-page-q", "/ focuses the search box, not {focused}");
    browser.exec("document.activeElement.value = ''", vec![]).await;
    browser.type_keys(query).await;
    browser.press(&['\u{E007}']).await; // Enter
    browser.wait_for_text("main h1", "Search", WAIT).await;
}

#[tokio::test]
async fn the_search_box_finds_customers_by_any_form_of_their_number_and_words_without_accents() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    create_agent(app.store().as_ref(), "Ana Lima", EMAIL, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    app.sim().say(Say::text("11231233211", "Hello, where is my order?").name("Sam Seed")).await.unwrap();
    app.sim().say(Say::text("5511987654321", "Vocês entregam no sábado?").name("Camila Souza")).await.unwrap();
    app.eventually("two tickets", || async { (app.store().list_tickets(&Default::default()).await.unwrap().len() == 2).then_some(()) })
        .await;
    let Some(browser) = Browser::start().await else { return };
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", EMAIL).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_text("main h1", "Inbox", WAIT).await;

    for query in [r#"whatsapp:"3211""#, r#"whatsapp:"123)123-3""#, "11231233211"] {
        search_from_the_box(&browser, query).await;
        assert_eq!(browser.attr("#search-page-q", "value").await.as_deref(), Some(query));
        browser.click("a[data-tab='customers']").await;
        browser.wait_for("#search-results[data-tab='customers']", WAIT).await;
        let names =
            browser.exec("return Array.from(document.querySelectorAll('li.customer-row .name')).map(e => e.textContent)", vec![]).await;
        assert_eq!(names, serde_json::json!(["Sam Seed"]), "{query}");
        assert_eq!(browser.text("a[data-tab='tickets'] .count").await, "1", "{query}");
    }
    browser.screenshot("search-customers").await;
    browser.click("li.customer-row a").await;
    browser.wait_for_text("main h1", "Sam Seed", WAIT).await;

    for query in ["sabado", "sábado"] {
        search_from_the_box(&browser, query).await;
        browser.click("a[data-tab='messages']").await;
        browser.wait_for("#search-results[data-tab='messages']", WAIT).await;
        assert_eq!(browser.text("li.message-hit mark").await, "sábado", "{query}");
        assert!(browser.text("li.message-hit .name").await.starts_with("Camila Souza"));
    }
    browser.screenshot("search-messages").await;
    browser.assert_accessible("search results").await;
    browser.click("li.message-hit a").await;
    browser.wait_for("#composer, #reply-body, .ticket", WAIT).await;
    assert!(browser.current_url().await.contains("/tickets/"));

    search_from_the_box(&browser, "status:opn").await;
    let error = browser.text("#search-error").await;
    assert!(error.contains("status: \"opn\" is not a status"), "{error}");
    browser.assert_no_errors("search").await;
    browser.close().await;
    app.stop().await;
}

const SECOND: &str = "106540352242922";

#[tokio::test]
async fn merging_the_same_person_from_two_numbers_and_replying_on_each_ticket() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |c| {
        let mut n = c.numbers[0].clone();
        n.phone_number_id = SECOND.into();
        c.numbers.push(n);
    })
    .await;
    create_agent(app.store().as_ref(), "Ana Lima", EMAIL, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    app.sim().say(Say::text("11231233211", "Hello from the first chat").name("Sam Seed")).await.unwrap();
    let mut other = Say::text("11231233211", "Hello from the other chat").name("Sam Seed");
    other.phone_number_id = Some(SECOND.into());
    app.sim().say(other).await.unwrap();
    let tickets = app
        .eventually("two tickets", || async {
            let t = app.store().list_tickets(&Default::default()).await.unwrap();
            (t.len() == 2).then_some(t)
        })
        .await;
    let Some(browser) = Browser::start().await else { return };
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", EMAIL).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_text("main h1", "Inbox", WAIT).await;

    // From the first ticket: its customer, the suggested duplicate, the preview, the merge.
    let first = tickets.iter().map(|t| t.id).min().unwrap();
    browser.goto(&app.url(&format!("/tickets/{first}"))).await;
    browser.click("#contact-name a").await;
    browser.wait_for_text("main h1", "Sam Seed", WAIT).await;
    browser.click("#duplicates a.review-merge").await;
    browser.wait_for("#merge-preview", WAIT).await;
    assert!(browser.text("#moves-tickets").await.starts_with("1 ticket"));
    browser.screenshot("merge-preview").await;
    browser.assert_accessible("merge preview").await;
    browser.click("#merge-submit").await;
    browser.client().accept_alert().await.unwrap();
    browser.wait_for_text(".notice", "Merged", WAIT).await;
    let rows = browser.exec("return document.querySelectorAll('#customer-tickets li.ticket-row').length", vec![]).await;
    assert_eq!(rows, 2, "both tickets on one customer");
    browser.screenshot("merged-customer").await;

    // Reply on each ticket: each goes out from the number it came in on.
    for t in &tickets {
        browser.goto(&app.url(&format!("/tickets/{}", t.id))).await;
        browser.wait_for("#reply-body", WAIT).await;
        browser.fill("#reply-body", &format!("Answer on ticket {}", t.id)).await;
        browser.click("#send-open").await;
        browser.wait_for_text("#ticket-live", &format!("Answer on ticket {}", t.id), WAIT).await;
    }
    app.eventually("both replies at Meta", || async { (app.sim().received().len() == 2).then_some(()) }).await;
    for t in &tickets {
        let pnid = app.store().ticket_summary(t.id).await.unwrap().unwrap().phone_number_id;
        let sent = app.sim().received().into_iter().find(|m| m.text.as_deref() == Some(&format!("Answer on ticket {}", t.id))).unwrap();
        assert_eq!((sent.phone_number_id, sent.to), (pnid, "11231233211".to_owned()));
    }
    browser.assert_no_errors("merge").await;
    browser.close().await;
    app.stop().await;
}
