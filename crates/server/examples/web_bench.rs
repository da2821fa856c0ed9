//! Web interface benchmark (BENCHMARKS.md): server time to render a ticket with 1,000 messages and the
//! inbox with 10,000 tickets on SQLite, and, when Chromium is installed, the first contentful paint of
//! the ticket page on loopback.
//!
//!   cargo run --release -p windowdesk-server --example web_bench -- [sqlite|postgres-url] [requests]
//!
//! Times are taken at the client over loopback HTTP, so they include the request's own overhead.
#![allow(clippy::unwrap_used, clippy::print_stdout, dead_code)]

#[path = "../tests/common/browser.rs"]
mod browser;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use windowdesk_server::config::Config;
use windowdesk_store::{AgentRole, NewAgent, NewSession};

const PNID: &str = "1122334455667";
const SECRET: &str = "bench-secret";

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn change(wa_id: &str, name: &str, messages: Vec<Value>) -> Value {
    json!({"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PNID},
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
        "messages": messages,
    }})
}

fn text(wa_id: &str, wamid: &str, ts: i64, body: &str) -> Value {
    json!({"from": wa_id, "id": wamid, "timestamp": ts.to_string(), "type": "text", "text": {"body": body}})
}

async fn post(client: &reqwest::Client, desk: &str, changes: Vec<Value>) {
    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": changes}]})).unwrap();
    let sig = windowdesk_whatsapp::signature::sign(SECRET.as_bytes(), &body);
    let res = client
        .post(format!("{desk}/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "webhook answered {}", res.status());
}

async fn time_get(client: &reqwest::Client, url: &str, cookie: &str, n: usize) -> (Vec<f64>, usize) {
    let mut times = Vec::with_capacity(n);
    let mut bytes = 0;
    for i in 0..n + 20 {
        let t0 = Instant::now();
        let res = client.get(url).header("cookie", cookie).send().await.unwrap();
        assert_eq!(res.status(), 200, "{url}");
        let body = res.bytes().await.unwrap();
        if i >= 20 {
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        bytes = body.len();
    }
    times.sort_by(f64::total_cmp);
    (times, bytes)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let backend = args.get(1).cloned().unwrap_or_else(|| "sqlite".into());
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300);
    let dir = std::env::temp_dir().join(format!("windowdesk-web-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = if backend == "sqlite" { format!("sqlite://{}", dir.join("bench.db").display()) } else { backend.clone() };
    let config = Config::from_toml(&format!(
        "[database]\nurl = {url:?}\n[media]\ndir = {:?}\n[log]\nlevel = \"warn\"\n[web]\nsecure_cookies = false\n[whatsapp]\napi_base_url = \"http://127.0.0.1:9\"\n\
         [[business_numbers]]\nphone_number_id = {PNID:?}\nwaba_id = \"1\"\ndisplay_number = \"+1 555 000 1111\"\nname = \"Bench\"\n\
         access_token = \"t\"\napp_secret = {SECRET:?}\nverify_token = \"v\"\n",
        dir.join("media").display().to_string(),
    ))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = windowdesk_server::start(&config, listener, None).await?;
    let desk = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    let now = running.state.clock.now().unix_seconds();

    // 10,000 customers with one message each (one ticket each), 200 to a webhook.
    let t0 = Instant::now();
    for chunk in 0..50 {
        let changes = (0..200)
            .map(|j| {
                let i = chunk * 200 + j;
                let wa = format!("4917{i:08}");
                change(
                    &wa,
                    &format!("Customer {i}"),
                    vec![text(&wa, &format!("wamid.bench.{i}"), now - 60 - (i % 80_000), "Hello, where is my order?")],
                )
            })
            .collect();
        post(&client, &desk, changes).await;
    }
    // One customer who wrote 1,000 messages in the last hour.
    let big = "4915100000001";
    for chunk in 0..10 {
        let msgs = (0..100)
            .map(|j| {
                let i = chunk * 100 + j;
                text(
                    big,
                    &format!("wamid.big.{i}"),
                    now - 3600 + i,
                    &format!("Message number {i}: the parcel still has not arrived, can you check?"),
                )
            })
            .collect();
        post(&client, &desk, vec![change(big, "Big Thread", msgs)]).await;
    }
    println!("seeded 10,000 tickets and a 1,000-message thread in {:.1} s", t0.elapsed().as_secs_f64());

    let store = &running.state.store;
    let agent = store
        .create_agent(&NewAgent {
            name: "Bench".into(),
            email: "bench@example.com".into(),
            role: AgentRole::Agent,
            password_hash: None,
            now: running.state.clock.now(),
        })
        .await?;
    let secret = "bench-session-secret";
    let now_ts = running.state.clock.now();
    store
        .create_session(&NewSession {
            token_hash: windowdesk_store::tokens::hash(secret),
            agent_id: agent.id,
            csrf_token: "x".into(),
            now: now_ts,
            expires_at: now_ts.plus(Duration::from_secs(3600)),
        })
        .await?;
    let cookie = format!("wd_session={secret}");
    let big_ticket = store
        .query_tickets(&windowdesk_store::TicketQuery { limit: 1, ..Default::default() })
        .await?
        .first()
        .map(|t| t.ticket.id)
        .ok_or_else(|| anyhow::anyhow!("no tickets"))?;
    assert_eq!(store.ticket_messages(big_ticket).await?.len(), 1000, "ticket {big_ticket} is the big thread");

    for (name, path) in [("ticket, 1,000 messages", format!("/tickets/{big_ticket}")), ("inbox, 10,000 tickets", "/".to_owned())] {
        let (t, bytes) = time_get(&client, &format!("{desk}{path}"), &cookie, n).await;
        println!(
            "{name:24} p50 {:6.2} ms  p90 {:6.2} ms  p99 {:6.2} ms  max {:6.2} ms  ({} KiB, {n} requests)",
            pct(&t, 0.5),
            pct(&t, 0.9),
            pct(&t, 0.99),
            pct(&t, 1.0),
            bytes / 1024
        );
    }

    // First contentful paint of the ticket page in headless Chromium.
    if let Some(b) = browser::Browser::start().await {
        windowdesk_server::api::admin::create_agent(
            store.as_ref(),
            "Bench Browser",
            "browser@example.com",
            AgentRole::Agent,
            Some("bench-password"),
        )
        .await?;
        b.goto(&format!("{desk}/login")).await;
        b.fill("#email", "browser@example.com").await;
        b.fill("#password", "bench-password").await;
        b.click("#sign-in").await;
        b.wait_for("main h1", Duration::from_secs(10)).await;
        let mut fcps = Vec::new();
        for path in [format!("/tickets/{}", big_ticket + 1), format!("/tickets/{big_ticket}")] {
            for _ in 0..10 {
                b.goto(&format!("{desk}{path}")).await;
                if let Some(ms) = b.first_contentful_paint_ms().await {
                    fcps.push((path.clone(), ms));
                }
            }
        }
        for path in [format!("/tickets/{}", big_ticket + 1), format!("/tickets/{big_ticket}")] {
            let mut v: Vec<f64> = fcps.iter().filter(|(p, _)| *p == path).map(|(_, ms)| *ms).collect();
            v.sort_by(f64::total_cmp);
            if !v.is_empty() {
                println!(
                    "first contentful paint {path:>14}: median {:.0} ms, max {:.0} ms ({} loads)",
                    pct(&v, 0.5),
                    pct(&v, 1.0),
                    v.len()
                );
            }
        }
        b.close().await;
    } else {
        println!("chromium not installed: first contentful paint not measured");
    }
    running.stop().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
