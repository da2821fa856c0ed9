//! Every screen at phone and desktop width, light and dark (issue 15 item 5), in a real browser
//! (headless Debian Chromium over WebDriver) against a desk on SQLite with the simulator: at 360 and
//! 1440 CSS pixels, in the light and the dark colour scheme (`prefers-color-scheme`, emulated), the
//! inbox, a ticket, the failed deliveries and the admin pages scroll only up and down, and pass
//! axe-core's checks (contrast included). Screenshots of each are saved under
//! target/browser-artifacts (`screen-<page>-<width>-<scheme>.png`).
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

#[tokio::test]
async fn every_screen_fits_a_phone_and_a_desktop_in_light_and_dark() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    app.sync_templates().await;
    let ana = create_agent(app.store().as_ref(), "Ana Lima", EMAIL, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    let now = now_secs();
    app.sim()
        .say(
            Say::text("4915112345678", "Hallo! Mein Paket ist seit einer Woche unterwegs. Wo bleibt es? Bestellnummer 100423.")
                .name("Rosa Jansen")
                .at(now - 600),
        )
        .await
        .unwrap();
    app.sim()
        .say(Say::text("447911123456", "Can I still change the delivery address for order 1042?").name("Oliver Smith").at(now - 23 * 3600))
        .await
        .unwrap();
    app.sim().say(Say::text("5511987654321", "Vocês entregam no sábado?").name("Camila Souza").at(now - 30 * 3600)).await.unwrap();
    let ticket = app.eventually("Rosa's ticket", || common::web::ticket_of(&app, "4915112345678")).await;
    let closed = app.eventually("Camila's ticket", || common::web::ticket_of(&app, "5511987654321")).await;
    let contact = app.store().ticket_summary(ticket).await.unwrap().unwrap().ticket.requester_id;
    let Some(browser) = Browser::start().await else { return };
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", EMAIL).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_text("main h1", "Inbox", WAIT).await;

    let pages = [
        ("/".to_owned(), "inbox"),
        (format!("/tickets/{ticket}"), "ticket"),
        (format!("/tickets/{closed}"), "ticket-window-closed"),
        (format!("/tickets/{closed}#ways-out"), "ticket-ways-out"),
        ("/failed".to_owned(), "failed"),
        ("/views/closing-soon".to_owned(), "closing-soon"),
        ("/settings".to_owned(), "settings"),
        ("/macros".to_owned(), "macros"),
        ("/admin/agents".to_owned(), "agents"),
        (format!("/admin/agents/{}", ana.id), "agent"),
        ("/admin/api-tokens".to_owned(), "api-tokens"),
        ("/views/all".to_owned(), "all-tickets"),
        ("/search?q=paket".to_owned(), "search"),
        ("/search?q=whatsapp%3A%2212345%22&tab=customers".to_owned(), "search-customers"),
        (format!("/customers/{}", contact), "customer"),
        ("/admin/numbers".to_owned(), "numbers"),
        ("/admin/templates".to_owned(), "templates"),
        ("/admin/hours".to_owned(), "hours"),
        ("/admin/rate-cards".to_owned(), "rate-cards"),
        ("/reports/costs".to_owned(), "costs"),
        ("/reports/costs?group=category".to_owned(), "costs-by-category"),
        ("/reports/costs/messages".to_owned(), "cost-messages"),
        ("/admin/rules".to_owned(), "rules"),
        ("/admin/rules/new".to_owned(), "rule-builder"),
        ("/admin/workflows".to_owned(), "workflows"),
        ("/admin/workflows/new".to_owned(), "workflow-builder"),
        ("/admin/http-targets".to_owned(), "http-targets"),
    ];
    let mut too_wide = Vec::new();
    for (width, height) in [(360, 740), (1024, 768), (1440, 900)] {
        for dark in [false, true] {
            browser.emulate(width, height, dark).await;
            let scheme = if dark { "dark" } else { "light" };
            for (path, name) in &pages {
                browser.goto(&app.url(path)).await;
                browser.wait_for("main h1", WAIT).await;
                browser.screenshot(&format!("screen-{name}-{width}-{scheme}")).await;
                let overflow = browser.horizontal_overflow().await;
                if overflow > 0 {
                    let culprits = browser
                        .exec(
                            "const w = document.documentElement.clientWidth; return Array.from(document.querySelectorAll('body *'))
                               .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('[hidden], nav.side'))
                               .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).split(' ').join('.') : ''));",
                            vec![],
                        )
                        .await;
                    too_wide.push(format!("{name} at {width} px ({scheme}): {overflow} px too wide: {culprits}"));
                }
                if width == 360 || dark {
                    browser.assert_accessible(&format!("{name} at {width} px, {scheme}")).await;
                }
            }
        }
    }
    assert!(too_wide.is_empty(), "pages that scroll sideways:\n{}", too_wide.join("\n"));
    browser.assert_no_errors("every screen").await;
    browser.close().await;
    app.stop().await;
}
