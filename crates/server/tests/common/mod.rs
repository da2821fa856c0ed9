//! A desk on a random port with a fresh database, and helpers to talk to it like Meta does.
#![allow(clippy::unwrap_used)] // test support: a panic is a failed test with its message
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};
use windowdesk_server::config::Config;
use windowdesk_server::Running;
use windowdesk_store::testing::{Backend, TestDb};
use windowdesk_store::Store;
pub mod api;
pub mod browser;
pub mod web;

pub const SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "test-verify-token";
/// The business number most fixtures are addressed to.
pub const PNID: &str = "1122334455667";
pub const WABA: &str = "102290129340398";
/// Other numbers the fixtures use (calls, edits, user preferences).
const OTHER_PNIDS: &[&str] = &["106540352242922", "743897493242", "5483758353", "37489742"];
/// (phone_number_id, WABA) of numbers on the fixtures' other accounts: account changes apply only
/// to accounts the desk serves (see [`TestApp::start_serving_fixture_accounts`]).
const FIXTURE_ACCOUNTS: &[(&str, &str)] = &[("200000000001", "57438975935"), ("200000000002", "2949482758682047")];

pub struct TestApp {
    pub db: TestDb,
    pub running: Running,
    pub base: String,
    pub client: reqwest::Client,
    /// Database id of `PNID`.
    pub bn: i64,
    /// The Cloud API simulator playing Meta, when started with one.
    pub sim: Option<windowdesk_sim::RunningSim>,
}

/// The SMS sender of `PNID` when the simulator plays the SMS provider.
pub const SMS_FROM: &str = "+15550001111";

/// The access token the desk uses and the simulator expects.
pub const ACCESS_TOKEN: &str = "token";

pub fn config_for(url: &str) -> Config {
    static MEDIA: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let media = std::env::temp_dir().join(format!(
        "windowdesk-test-media-{}-{}",
        std::process::id(),
        MEDIA.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut toml = format!(
        // Without a simulator the Cloud API is a closed local port: tests never reach out of the machine.
        "[database]\nurl = {url:?}\nmax_in_flight = 3\n[media]\ndir = {:?}\n[web]\nsecure_cookies = false\n\
         [rules]\nseed_defaults = false\n[whatsapp]\napi_base_url = \"http://127.0.0.1:9\"\n",
        media.display().to_string()
    );
    for (pnid, waba) in std::iter::once(&PNID).chain(OTHER_PNIDS).map(|pnid| (*pnid, WABA)) {
        toml.push_str(&format!(
            "[[business_numbers]]\nphone_number_id = \"{pnid}\"\nwaba_id = \"{waba}\"\ndisplay_number = \"+1 555 {pnid}\"\nname = \"Support {pnid}\"\n\
             access_token = \"token\"\napp_secret = \"{SECRET}\"\nverify_token = \"{VERIFY_TOKEN}\"\n"
        ));
    }
    Config::from_toml(&toml).expect("test config is valid")
}

impl TestApp {
    pub async fn start(backend: Backend) -> TestApp {
        Self::start_with(backend, None, None, |_| {}).await
    }

    /// A desk talking to a Cloud API simulator that delivers its webhooks back to the desk.
    pub async fn start_with_sim(
        backend: Backend,
        clock: Option<Arc<dyn windowdesk_core::Clock>>,
        tweak: impl FnOnce(&mut windowdesk_sim::SimConfig),
    ) -> TestApp {
        let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sim_url = format!("http://{}", sim_listener.local_addr().unwrap());
        Self::start_with(backend, clock, Some((sim_listener, sim_url)), tweak).await
    }

    /// A desk and a simulator that both allow `per_second` messages per second for the number.
    pub async fn start_with_sim_throughput(backend: Backend, per_second: usize) -> TestApp {
        let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sim_url = format!("http://{}", sim_listener.local_addr().unwrap());
        let limit = u32::try_from(per_second).unwrap();
        Self::start_configured(backend, None, Some((sim_listener, sim_url)), Some(limit), move |c| {
            c.numbers[0].throughput_per_second = limit;
        })
        .await
    }

    async fn start_with(
        backend: Backend,
        clock: Option<Arc<dyn windowdesk_core::Clock>>,
        sim: Option<(tokio::net::TcpListener, String)>,
        tweak: impl FnOnce(&mut windowdesk_sim::SimConfig),
    ) -> TestApp {
        Self::start_configured(backend, clock, sim, None, tweak).await
    }

    /// A desk with the simulator, where the test also changes the desk's own configuration.
    /// A desk without a simulator that also serves a number on each account the fixtures' template
    /// and account webhooks come from.
    pub async fn start_serving_fixture_accounts(backend: Backend) -> TestApp {
        Self::start_full(
            backend,
            None,
            None,
            None,
            |_| {},
            |c| {
                for (pnid, waba) in FIXTURE_ACCOUNTS {
                    let mut n = c.business_numbers[0].clone();
                    n.phone_number_id = (*pnid).into();
                    n.waba_id = (*waba).into();
                    c.business_numbers.push(n);
                }
            },
        )
        .await
    }

    pub async fn start_with_sim_and_config(
        backend: Backend,
        clock: Option<Arc<dyn windowdesk_core::Clock>>,
        tweak: impl FnOnce(&mut windowdesk_sim::SimConfig),
        desk: impl FnOnce(&mut Config),
    ) -> TestApp {
        let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sim_url = format!("http://{}", sim_listener.local_addr().unwrap());
        Self::start_full(backend, clock, Some((sim_listener, sim_url)), None, tweak, desk).await
    }

    async fn start_configured(
        backend: Backend,
        clock: Option<Arc<dyn windowdesk_core::Clock>>,
        sim: Option<(tokio::net::TcpListener, String)>,
        throughput: Option<u32>,
        tweak: impl FnOnce(&mut windowdesk_sim::SimConfig),
    ) -> TestApp {
        Self::start_full(backend, clock, sim, throughput, tweak, |_| {}).await
    }

    async fn start_full(
        backend: Backend,
        clock: Option<Arc<dyn windowdesk_core::Clock>>,
        sim: Option<(tokio::net::TcpListener, String)>,
        throughput: Option<u32>,
        tweak: impl FnOnce(&mut windowdesk_sim::SimConfig),
        desk: impl FnOnce(&mut Config),
    ) -> TestApp {
        let db = TestDb::new(backend).await.expect("test database");
        let mut config = config_for(&db.url);
        if let Some(t) = throughput {
            config.dispatcher.throughput_per_second = t;
        }
        // Tests should not wait for production backoff.
        config.dispatcher.retry_initial_ms = 20;
        config.dispatcher.retry_max_ms = 200;
        config.dispatcher.pair_interval_seconds = 1;
        config.dispatcher.pair_burst = 1000;
        // Held replies are checked for expiry every second, not every half minute.
        config.holds.expiry_check_seconds = 1;
        // Automations are swept every second, and a dead instance's claim runs out after two.
        config.rules.sweep_interval_seconds = 1;
        config.rules.claim_seconds = 2;
        if let Some((_, url)) = &sim {
            config.whatsapp.api_base_url = url.clone();
            // The simulator plays the SMS provider too, with its default account.
            config.sms.api_base_url = url.clone();
            config.sms.account_sid = windowdesk_sim::DEFAULT_SMS_ACCOUNT_SID.into();
            config.sms.auth_token = windowdesk_sim::DEFAULT_SMS_AUTH_TOKEN.to_owned().into();
            config.business_numbers[0].sms_from = Some(SMS_FROM.into());
        }
        desk(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let desk_url = format!("http://{}", listener.local_addr().unwrap());
        let running = windowdesk_server::start(&config, listener, clock).await.expect("desk starts");
        let base = format!("http://{}", running.addr);
        let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
        let bn = running.state.numbers.get(PNID).expect("PNID is served").id;
        let sim = sim.map(|(sim_listener, _)| {
            let mut sim_config = windowdesk_sim::SimConfig {
                webhook_url: Some(format!("{desk_url}/webhooks/whatsapp")),
                numbers: vec![windowdesk_sim::SimNumber {
                    phone_number_id: PNID.into(),
                    display_number: "+1 555 000 1111".into(),
                    waba_id: WABA.into(),
                    access_token: ACCESS_TOKEN.into(),
                    app_secret: SECRET.into(),
                    ..windowdesk_sim::SimNumber::default()
                }],
                status_delays: windowdesk_sim::StatusDelays { sent_ms: 5, delivered_ms: Some(10), read_ms: Some(20), played_ms: None },
                ..windowdesk_sim::SimConfig::default()
            };
            tweak(&mut sim_config);
            windowdesk_sim::Sim::start(sim_config, sim_listener).expect("simulator starts")
        });
        TestApp { db, running, base, client, bn, sim }
    }

    pub fn sim(&self) -> &windowdesk_sim::SimHandle {
        &self.sim.as_ref().expect("started with a simulator").handle
    }

    /// Polls `check` until it returns Some, for at most 10 seconds.
    pub async fn eventually<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(v) = check().await {
                return v;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The first ticket, once there is one.
    pub async fn only_ticket(&self) -> i64 {
        self.eventually("the ticket", || async {
            self.store().list_tickets(&windowdesk_store::TicketFilter::default()).await.unwrap().first().map(|t| t.id)
        })
        .await
    }

    pub async fn message(&self, ticket: i64, id: i64) -> windowdesk_store::MessageRow {
        self.store().ticket_messages(ticket).await.unwrap().into_iter().find(|m| m.id == id).unwrap()
    }

    /// Waits until message `id` of `ticket` is in `state`.
    pub async fn wait_for_state(&self, ticket: i64, id: i64, state: windowdesk_core::DeliveryState) -> windowdesk_store::MessageRow {
        self.eventually(&format!("message {id} to be {state:?}"), || async {
            let m = self.message(ticket, id).await;
            (m.delivery_state == Some(state)).then_some(m)
        })
        .await
    }

    /// Syncs every account's templates from the simulator now, with the desk's page size.
    pub async fn sync_templates(&self) {
        let s = &self.running.state;
        windowdesk_server::templates::sync_all(&s.store, &s.cloud_api, &s.numbers, s.template_page_size, s.clock.now(), &|_, _, _| {})
            .await
            .unwrap();
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.running.state.store
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post_raw(&self, body: Vec<u8>, signature: Option<String>) -> reqwest::Response {
        let mut req = self.client.post(self.url("/webhooks/whatsapp")).header("content-type", "application/json");
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        req.body(body).send().await.unwrap()
    }

    /// Posts a payload signed like Meta signs it; returns the status code.
    pub async fn post(&self, payload: &Value) -> u16 {
        let body = serde_json::to_vec(payload).unwrap();
        let sig = windowdesk_whatsapp::signature::sign(SECRET.as_bytes(), &body);
        self.post_raw(body, Some(sig)).await.status().as_u16()
    }

    pub async fn stop(self) {
        self.running.stop().await.unwrap();
        if let Some(sim) = self.sim {
            sim.stop().await.unwrap();
        }
        self.db.cleanup().await;
    }
}

/// All fixtures as "file/name" → payload, with documentation placeholders for the business number
/// replaced by the test number.
pub fn fixtures() -> BTreeMap<String, Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pywa-updates");
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap().replace("<BUSINESS_PHONE_NUMBER_ID>", PNID);
        let file: BTreeMap<String, Value> = serde_json::from_str(&text).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        for (name, payload) in file {
            all.insert(format!("{stem}/{name}"), payload);
        }
    }
    all
}

/// A one-message text payload from `from`, sent at `ts` (unix seconds).
pub fn text(wamid: &str, from: &str, ts: i64, body: &str) -> Value {
    message(json!({"from": from, "id": wamid, "timestamp": ts.to_string(), "type": "text", "text": {"body": body}}), from)
}

/// Wraps one message object in a payload with the contact's profile.
pub fn message(msg: Value, from: &str) -> Value {
    messages(vec![msg], from)
}

pub fn messages(msgs: Vec<Value>, from: &str) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": PNID},
            "contacts": [{"profile": {"name": format!("Customer {from}")}, "wa_id": from}],
            "messages": msgs
        }}]}]
    })
}

pub fn statuses(items: Vec<Value>) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": PNID},
            "statuses": items
        }}]}]
    })
}

pub fn status(wamid: &str, status: &str, ts: i64) -> Value {
    json!({"id": wamid, "status": status, "timestamp": ts.to_string(), "recipient_id": "15550002222",
           "pricing": {"billable": true, "pricing_model": "PMP", "category": "service", "type": "free_customer_service"}})
}

pub fn now_secs() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// Runs the named async test functions once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(windowdesk_store::testing::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(windowdesk_store::testing::Backend::Postgres).await
                }
            )*
        }
    };
}
