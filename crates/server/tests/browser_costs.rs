//! The cost report in a real browser (issue 17 item 5): headless Debian Chromium against a desk on
//! SQLite with the simulator. After a few charged and free messages, `/reports/costs` shows its
//! charts and the table behind them at 360 CSS pixels and in the dark colour scheme, scrolls only
//! up and down, passes axe-core's checks (contrast included), and a bar leads to the messages
//! behind it. Screenshots: target/browser-artifacts/costs-<width>-<scheme>.png.
#![allow(clippy::unwrap_used)] // a panic is a failed test with its message
mod common;

use std::time::Duration;

use common::api::Api;
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

#[tokio::test]
async fn the_cost_report_shows_its_charts_and_table_on_a_phone_in_the_dark() {
    let app = TestApp::start_with_sim_and_config(Backend::Sqlite, None, |_| {}, |c| c.sms.price_per_message = "0.0079".into()).await;
    app.sync_templates().await;
    create_agent(app.store().as_ref(), "Ana Lima", EMAIL, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    let api = Api::new(&app).await;
    let now = now_secs();
    app.sim().say(Say::text("4915112345678", "Wo ist mein Paket?").name("Rosa Jansen").at(now - 600)).await.unwrap();
    app.sim().say(Say::text("5511987654321", "Vocês entregam no sábado?").name("Camila Souza").at(now - 30 * 3600)).await.unwrap();
    let rosa = app.eventually("Rosa's ticket", || common::web::ticket_of(&app, "4915112345678")).await;
    let camila = app.eventually("Camila's ticket", || common::web::ticket_of(&app, "5511987654321")).await;
    let (s, r) = api.post(&format!("/api/v1/tickets/{rosa}/replies"), json!({"body": "Heute unterwegs."})).await;
    assert_eq!(s, 202, "{r}");
    for (name, params) in [("spring_sale", json!({"1": "Camila", "2": "SABADO"})), ("order_update", json!({"1": "Camila", "2": "#7"}))] {
        let (s, r) = api
            .post(
                &format!("/api/v1/tickets/{camila}/templates"),
                json!({"name": name, "language": "en_US", "parameters": {"body": params}}),
            )
            .await;
        assert_eq!(s, 202, "{r}");
    }
    let (s, r) = api.post(&format!("/api/v1/tickets/{camila}/sms"), json!({"body": "Sim, aos sábados."})).await;
    assert_eq!(s, 202, "{r}");
    app.eventually("the costs settled", || async {
        windowdesk_server::costs::settle_once(&app.running.state).await.unwrap();
        let costs = [app.store().ticket_costs(rosa).await.unwrap(), app.store().ticket_costs(camila).await.unwrap()].concat();
        (costs.len() == 4 && costs.iter().all(|c| c.is_final)).then_some(())
    })
    .await;

    let Some(browser) = Browser::start().await else { return };
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", EMAIL).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_text("main h1", "Inbox", WAIT).await;
    for (width, height, dark) in [(360, 740, true), (360, 740, false), (1440, 900, true)] {
        browser.emulate(width, height, dark).await;
        let scheme = if dark { "dark" } else { "light" };
        for group in ["day", "category"] {
            browser.goto(&app.url(&format!("/reports/costs?group={group}"))).await;
            browser.wait_for_text("main h1", "What messages cost", WAIT).await;
            // Two charts, each with bars, and the table they picture, with a row per category.
            assert_eq!(browser.find_all("figure.chart svg").await.len(), 2, "{group}");
            assert!(!browser.find_all("figure.chart rect.bar").await.is_empty(), "bars are drawn ({group})");
            browser.wait_for("#report-table", WAIT).await;
            assert_eq!(
                browser.attr("#chart-cost svg", "data-table").await.as_deref(),
                Some("report-table"),
                "the chart pictures the table"
            );
            let total = browser.text("#report-table tfoot tr th").await;
            assert_eq!(total, "Total");
            if group == "category" {
                let keys = browser
                    .exec("return Array.from(document.querySelectorAll('#report-table tbody tr')).map(r => r.dataset.key).sort();", vec![])
                    .await;
                assert_eq!(keys, json!(["marketing", "service", "sms", "utility"]), "{group}");
            }
            // The bars take the theme's colour: in the dark they are not the light theme's green on black.
            let fill = browser.exec("return getComputedStyle(document.querySelector('figure.chart rect.bar')).fill;", vec![]).await;
            assert!(fill.as_str().is_some_and(|f| f.starts_with("rgb")), "{fill}");
            browser.screenshot(&format!("costs-{group}-{width}-{scheme}")).await;
            assert_eq!(browser.horizontal_overflow().await, 0, "the page scrolls only up and down at {width} px ({group}, {scheme})");
            browser.assert_accessible(&format!("costs by {group} at {width} px, {scheme}")).await;
        }
    }
    // A bar leads to the messages behind it.
    browser.goto(&app.url("/reports/costs?group=category")).await;
    browser.wait_for("#chart-cost a", WAIT).await;
    let href = browser.attr("#chart-cost a", "href").await.unwrap();
    browser.goto(&app.url(&href)).await;
    browser.wait_for_text("main h1", "Messages and what they cost", WAIT).await;
    assert!(!browser.find_all("#cost-messages tbody tr").await.is_empty());
    browser.screenshot("costs-messages-1440-dark").await;
    browser.assert_accessible("cost messages").await;
    browser.assert_no_errors("the cost report").await;
    browser.close().await;
    app.stop().await;
}
