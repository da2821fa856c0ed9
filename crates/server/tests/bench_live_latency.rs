//! Live latency, measured in Chromium (issue 15; BENCHMARKS.md, "Live latency"). Not a test: it
//! asserts nothing about time and is ignored by the suite. It reports figures:
//!
//! - from the webhook's 200 to the customer's message in the DOM of an open ticket page and of an
//!   open inbox (200 messages, one every 250 ms; each page stamps the moment a message's text
//!   appears with a MutationObserver, on the same machine clock as the 200);
//! - from Ctrl+Enter in the composer to the simulator receiving the reply (20 replies, each once the
//!   page has the answer to the one before).
//!
//! ```sh
//! cargo test --release -p windowdesk-server --test bench_live_latency -- --ignored --nocapture
//! ```
#![allow(clippy::unwrap_used, clippy::print_stderr)] // a benchmark's report
mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::browser::Browser;
use common::*;
use fantoccini::key::Key;
use serde_json::Value;
use windowdesk_server::api::admin::create_agent;
use windowdesk_store::testing::Backend;
use windowdesk_store::AgentRole;

const EMAIL: &str = "ana@example.com";
const PASSWORD: &str = "correct horse battery";
const CUSTOMER: &str = "4915112345678";
const MESSAGES: usize = 200;
const REPLIES: usize = 20;

fn epoch_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

/// Stamps, in `window.__seen`, when each "probe N" text first appears on the page.
const OBSERVER: &str = "window.__seen = {};
    const look = () => document.querySelectorAll('.bubble .body, li.ticket-row .latest').forEach((e) => {
      const m = e.textContent.match(/probe (\\d+)/);
      if (m && !(m[1] in window.__seen)) window.__seen[m[1]] = performance.timeOrigin + performance.now();
    });
    new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true });
    look();";

async fn signed_in(app: &TestApp, path: &str) -> Browser {
    let browser = Browser::start().await.expect("the benchmark needs chromium and chromedriver");
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", EMAIL).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_text("main h1", "Inbox", Duration::from_secs(10)).await;
    browser.goto(&app.url(path)).await;
    browser.wait_for("body[data-live='connected']", Duration::from_secs(10)).await;
    browser.exec(OBSERVER, vec![]).await;
    browser
}

fn report(what: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    eprintln!("{what}: n={} p50={:.1} ms p90={:.1} ms p99={:.1} ms max={:.1} ms", ms.len(), at(0.5), at(0.9), at(0.99), ms[ms.len() - 1]);
}

async fn seen(browser: &Browser) -> Vec<(usize, f64)> {
    match browser.exec("return window.__seen;", vec![]).await {
        Value::Object(m) => m.into_iter().map(|(k, v)| (k.parse().unwrap(), v.as_f64().unwrap())).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it on purpose (see the module documentation); it reports figures"]
async fn live_latency_in_chromium() {
    // The customer's messages go straight to the desk's webhook (to time its 200), so the simulator
    // does not know their window is open: it does not check windows here. Nor Meta's pair rate (one
    // message per 6 s to one customer after a burst of 10): 20 replies to one customer would time
    // Meta's pacing, not the desk.
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |s| {
        s.window_enforcement = windowdesk_sim::WindowEnforcement::Off;
        s.pair_rate = windowdesk_sim::PairRate { interval_ms: 0, burst: 10 };
    })
    .await;
    create_agent(app.store().as_ref(), "Ana Lima", EMAIL, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    assert_eq!(app.post(&text("wamid.first", CUSTOMER, now_secs(), "hello")).await, 200);
    let ticket = app.only_ticket().await;
    let ticket_page = signed_in(&app, &format!("/tickets/{ticket}")).await;
    let inbox = signed_in(&app, "/").await;

    let mut acked = Vec::with_capacity(MESSAGES);
    for i in 0..MESSAGES {
        let payload = text(&format!("wamid.probe{i}"), CUSTOMER, now_secs(), &format!("probe {i}"));
        assert_eq!(app.post(&payload).await, 200);
        acked.push(epoch_ms());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (name, page) in [("ticket page", &ticket_page), ("inbox", &inbox)] {
        let seen = seen(page).await;
        assert_eq!(seen.len(), MESSAGES, "{name} saw {} of {MESSAGES} messages", seen.len());
        report(&format!("webhook 200 → visible in the {name}"), seen.into_iter().map(|(i, at)| at - acked[i]).collect());
    }

    let mut sent = Vec::with_capacity(REPLIES);
    for i in 0..REPLIES {
        let body = format!("reply {i}");
        ticket_page.fill("#reply-body", &body).await;
        let start = epoch_ms();
        ticket_page.press(&[Key::Control.into(), Key::Enter.into()]).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if app.sim().received().iter().any(|m| m.text.as_deref() == Some(body.as_str())) {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                let notice = ticket_page.exec("const n = document.getElementById('notice'); return n ? n.textContent : null", vec![]).await;
                let shot = ticket_page.screenshot("bench-composer-stuck").await;
                panic!("reply {i} never reached the simulator; notice {notice}; screenshot {}", shot.display());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        sent.push(epoch_ms() - start);
        // The box empties when the page has the answer; the next reply starts from there.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = ticket_page.exec("return document.getElementById('reply-body').value", vec![]).await;
            if left == "" {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "reply {i}: the box still holds {left} after the send");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    report("Ctrl+Enter in the composer → the simulator has the reply", sent);
    ticket_page.close().await;
    inbox.close().await;
    app.stop().await;
}
