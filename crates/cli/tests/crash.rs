//! D5 under a real crash: the desk process is killed with SIGKILL while sending 200 replies, then
//! restarted. Every reply must reach Meta (the simulator); a reply may arrive twice only if it was in
//! flight at the kill, and then it is marked "may have been sent twice". Runs on both backends.
#![allow(clippy::unwrap_used)] // scenario functions called from the #[test]s

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use windowdesk_core::{DeliveryState, Timestamp};
use windowdesk_sim::{Say, SimConfig, SimNumber};
use windowdesk_store::testing::{Backend, TestDb};
use windowdesk_store::{NewOutbound, StoreOptions, TicketFilter};

const PNID: &str = "106540352242922";
const REPLIES: usize = 200;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The desk as a child process, killed when dropped so a failing test leaves nothing running.
struct Desk(Child);

impl Drop for Desk {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_desk(config: &std::path::Path) -> Desk {
    Desk(
        Command::new(env!("CARGO_BIN_EXE_windowdesk"))
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    )
}

async fn wait_healthy(port: u16) {
    let url = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..200 {
        if reqwest::get(&url).await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the desk did not come up on port {port}");
}

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

    let dir = tempfile_dir();
    let config = dir.join("desk.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{desk_port}\"\n[database]\nurl = {:?}\n[media]\ndir = {:?}\n[whatsapp]\napi_base_url = {sim_url:?}\nrequest_timeout_seconds = 1\n\
             [dispatcher]\nthroughput_per_second = 40\npair_interval_seconds = 1\npair_burst = 10000\nconcurrency = 8\nclaim_lease_seconds = 6\n\
             [[business_numbers]]\nphone_number_id = \"{PNID}\"\nwaba_id = \"102290129340398\"\ndisplay_number = \"+1 555-078-3881\"\n\
             name = \"Support\"\naccess_token = \"sim-access-token\"\napp_secret = \"appsecret\"\nverify_token = \"v\"\n",
            db.url,
            dir.join("media").display().to_string()
        ),
    )
    .unwrap();

    let mut desk = spawn_desk(&config);
    wait_healthy(desk_port).await;
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
    desk.0.kill().unwrap(); // SIGKILL
    desk.0.wait().unwrap();
    let at_kill = sim.handle.received().len();
    let in_flight =
        store.ticket_messages(ticket).await.unwrap().iter().filter(|m| m.delivery_state == Some(DeliveryState::Sending)).count();
    assert!(at_kill < REPLIES + 1, "killed before the end ({at_kill} received)");

    let desk = spawn_desk(&config);
    wait_healthy(desk_port).await;
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

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("windowdesk-crash-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d5_sigkill_mid_send_loses_nothing_on_sqlite() {
    kill_mid_send(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d5_sigkill_mid_send_loses_nothing_on_postgres() {
    kill_mid_send(Backend::Postgres).await;
}
