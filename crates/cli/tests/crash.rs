//! D5 under a real crash: the desk process is killed with SIGKILL while sending 200 replies, then
//! restarted. Every reply must reach Meta (the simulator); a reply may arrive twice only if it was in
//! flight at the kill, and then it is marked "may have been sent twice". Runs on both backends.
#![allow(clippy::unwrap_used)] // scenario functions called from the #[test]s

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{desk_config, free_port, temp_dir, Desk};

use windowdesk_core::{DeliveryState, Timestamp};
use windowdesk_sim::{Say, SimConfig, SimNumber};
use windowdesk_store::testing::{Backend, TestDb};
use windowdesk_store::{NewOutbound, StoreOptions, TicketFilter};

const REPLIES: usize = 200;

async fn kill_mid_send(backend: Backend) {
    let db = TestDb::new(backend).await.unwrap();
    let desk_port = free_port();
    let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_url = format!("http://{}", sim_listener.local_addr().unwrap());
    let sim = windowdesk_sim::Sim::start(
        SimConfig {
            webhook_url: Some(format!("http://127.0.0.1:{desk_port}/webhooks/whatsapp")),
            numbers: vec![SimNumber { throughput_per_second: 0, ..SimNumber::default() }],
            pair_rate: windowdesk_sim::PairRate { interval_ms: 1, burst: 10_000 },
            ..SimConfig::default()
        },
        sim_listener,
    )
    .unwrap();

    let dir = temp_dir("crash");
    let dispatcher = "throughput_per_second = 40\npair_interval_seconds = 1\npair_burst = 10000\nconcurrency = 8\nclaim_lease_seconds = 8";
    let config = desk_config(&dir, desk_port, &db.url, &sim_url, &[SimNumber::default()], dispatcher);

    let mut desk = Desk::spawn(&config, desk_port);
    desk.healthy().await;
    sim.handle.say(Say::text("4915112345678", "please answer")).await.unwrap();

    // The test plays the API: 200 replies committed to the outbox of the running desk.
    let store = windowdesk_store::open(&db.url, StoreOptions::default()).await.unwrap();
    let ticket = store.list_tickets(&TicketFilter::default()).await.unwrap()[0].id;
    let now = Timestamp::from_unix_seconds(
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap(),
    );
    for i in 0..REPLIES {
        let body = format!("reply {i}");
        store
            .enqueue(&NewOutbound {
                ticket_id: ticket,
                kind: "text".into(),
                body: Some(body.clone()),
                author: "api:test".into(),
                request:
                    serde_json::json!({"messaging_product": "whatsapp", "to": "4915112345678", "type": "text", "text": {"body": body}})
                        .to_string(),
                free_form: true,
                window_end: Some(now.plus(Duration::from_secs(3600))),
                now,
                channel: Default::default(),
                hold_until: None,
                replaces: None,
                dedupe_key: None,
                media: None,
                reply_to_wamid: None,
                estimate: None,
            })
            .await
            .unwrap();
    }

    // Kill it in the middle of sending.
    for _ in 0..600 {
        if sim.handle.received().len() >= 60 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    desk.kill();
    let at_kill = sim.handle.received().len();
    let in_flight =
        store.ticket_messages(ticket).await.unwrap().iter().filter(|m| m.delivery_state == Some(DeliveryState::Sending)).count();
    assert!(at_kill < REPLIES + 1, "killed before the end ({at_kill} received)");

    let desk = Desk::spawn(&config, desk_port);
    desk.healthy().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done = store
            .ticket_messages(ticket)
            .await
            .unwrap()
            .iter()
            .filter(|m| m.author.as_deref() == Some("api:test") && m.wamid.is_some())
            .count();
        if done == REPLIES {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {done} of {REPLIES} replies accepted after the restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(desk);

    let mut copies: HashMap<String, usize> = HashMap::new();
    for m in sim.handle.received() {
        *copies.entry(m.text.clone().unwrap_or_default()).or_default() += 1;
    }
    for i in 0..REPLIES {
        assert!(copies.contains_key(&format!("reply {i}")), "reply {i} never reached the simulator: lost");
    }
    let duplicates: usize = copies.values().map(|n| n - 1).sum();
    let messages = store.ticket_messages(ticket).await.unwrap();
    for (body, n) in &copies {
        if *n > 1 {
            let m = messages.iter().find(|m| m.body.as_deref() == Some(body.as_str())).unwrap();
            assert!(m.maybe_duplicate, "{body:?} arrived {n} times but is not marked 'may have been sent twice'");
        }
    }
    eprintln!(
        "[{backend:?}] received before kill: {at_kill}; in flight at kill: {in_flight}; duplicates: {duplicates}; marked maybe-duplicate: {}",
        messages.iter().filter(|m| m.maybe_duplicate).count()
    );
    assert!(duplicates <= in_flight, "{duplicates} duplicates but only {in_flight} sends were in flight at the kill");
    store.close().await;
    sim.stop().await.unwrap();
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d5_sigkill_mid_send_loses_nothing_on_sqlite() {
    kill_mid_send(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d5_sigkill_mid_send_loses_nothing_on_postgres() {
    kill_mid_send(Backend::Postgres).await;
}
