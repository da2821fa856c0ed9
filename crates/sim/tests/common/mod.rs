//! Test helpers: a stand-in desk that checks the sim's webhooks exactly as the real desk does
//! (signature, envelope, normalisation), a sim wired to it, and polling with a deadline.
#![allow(clippy::unwrap_used, dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use windowdesk_core::inbound::{Change, InboundMessage, StatusReport};
use windowdesk_core::{MetaStatus, Timestamp};
use windowdesk_sim::{RetryConfig, RunningSim, Sim, SimConfig, SimNumber, StatusDelays};
use windowdesk_whatsapp::{normalize_payload, parse_envelope, verify_signature, NormalizeOptions};

pub const PNID: &str = "1122334455667";
pub const WABA: &str = "5467539754836534";
pub const TOKEN: &str = "test-token";
pub const SECRET: &str = "test-app-secret";
pub const CUSTOMER: &str = "972987654321";

#[derive(Default)]
pub struct DeskState {
    pub payloads: Mutex<Vec<Value>>,
    pub changes: Mutex<Vec<Change>>,
    /// Answer 500 to this many requests first (to exercise the sim's retries).
    pub fail_next: AtomicU32,
    pub bad_signatures: AtomicU32,
}

/// A tiny webhook receiver that accepts only what the real desk would accept.
pub struct Desk {
    pub url: String,
    pub state: Arc<DeskState>,
}

async fn hook(State(st): State<Arc<DeskState>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if st.fail_next.load(Ordering::SeqCst) > 0 {
        st.fail_next.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let sig = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
    if verify_signature(SECRET.as_bytes(), &body, sig).is_err() {
        st.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(env) = parse_envelope(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let redact = |_: &str| true;
    let opts = NormalizeOptions { received_at: Timestamp::from_unix_millis(i64::MAX / 2), redact_for: &redact };
    let changes = normalize_payload(env, &opts);
    st.payloads.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
    st.changes.lock().unwrap().extend(changes);
    StatusCode::OK
}

impl Desk {
    pub async fn start() -> Desk {
        let state = Arc::new(DeskState::default());
        let app = Router::new().route("/webhooks/whatsapp", post(hook)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks/whatsapp", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Desk { url, state }
    }

    pub fn messages(&self) -> Vec<InboundMessage> {
        self.number_changes().into_iter().flat_map(|c| c.messages).collect()
    }

    pub fn statuses(&self) -> Vec<StatusReport> {
        self.number_changes().into_iter().flat_map(|c| c.statuses).collect()
    }

    /// Template registry changes (`message_template_status_update`…), as the desk reads them.
    pub fn template_changes(&self) -> Vec<windowdesk_core::inbound::TemplateChange> {
        let changes = self.state.changes.lock().unwrap();
        changes
            .iter()
            .filter_map(|c| match c {
                Change::Account(a) => a.template.clone(),
                Change::Number(_) => None,
            })
            .collect()
    }

    fn number_changes(&self) -> Vec<windowdesk_core::inbound::NumberChange> {
        let changes = self.state.changes.lock().unwrap();
        changes
            .iter()
            .filter_map(|c| match c {
                Change::Number(n) => Some(n.clone()),
                Change::Account(_) => None,
            })
            .collect()
    }

    /// The status `status` of `wamid`, once it arrived.
    pub async fn status(&self, wamid: &str, status: MetaStatus) -> StatusReport {
        eventually(&format!("{status:?} status for {wamid}"), || {
            self.statuses().into_iter().find(|s| s.wamid == wamid && s.status == Some(status))
        })
        .await
    }

    /// The raw `statuses[]` item of `wamid` with `status`, as the sim sent it.
    pub fn raw_status(&self, wamid: &str, status: &str) -> Option<Value> {
        let payloads = self.state.payloads.lock().unwrap();
        payloads.iter().find_map(|p| {
            let value = &p["entry"][0]["changes"][0]["value"];
            value["statuses"].as_array()?.iter().find(|s| s["id"] == wamid && s["status"] == status).map(|_| value.clone())
        })
    }
}

/// Polls `f` every 10 ms until it gives a value; fails after 10 s.
pub async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn number() -> SimNumber {
    SimNumber {
        phone_number_id: PNID.into(),
        display_number: "+972 12-345-6789".into(),
        waba_id: WABA.into(),
        access_token: TOKEN.into(),
        app_secret: SECRET.into(),
        throughput_per_second: 80,
        webhook_url: None,
        verified_name: "Test Shop".into(),
    }
}

pub fn config(desk_url: &str) -> SimConfig {
    SimConfig {
        webhook_url: Some(desk_url.to_owned()),
        numbers: vec![number()],
        status_delays: StatusDelays { sent_ms: 5, delivered_ms: Some(10), read_ms: Some(15), played_ms: Some(20) },
        webhook_retry: RetryConfig { max_attempts: 3, initial_backoff_ms: 10, max_backoff_ms: 50, timeout_ms: 5_000 },
        ..SimConfig::default()
    }
}

pub struct Setup {
    pub sim: RunningSim,
    pub desk: Desk,
    pub http: reqwest::Client,
}

impl Setup {
    pub async fn new() -> Setup {
        Self::with(|_| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut SimConfig)) -> Setup {
        let desk = Desk::start().await;
        let mut cfg = config(&desk.url);
        adjust(&mut cfg);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sim = Sim::start(cfg, listener).unwrap();
        Setup { sim, desk, http: reqwest::Client::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.url())
    }

    /// `POST /v23.0/{PNID}/messages` with the right token: (HTTP status, JSON body).
    pub async fn send(&self, body: Value) -> (u16, Value) {
        self.send_with(Some(TOKEN), PNID, body).await
    }

    pub async fn send_with(&self, token: Option<&str>, pnid: &str, body: Value) -> (u16, Value) {
        let mut req = self.http.post(self.url(&format!("/v23.0/{pnid}/messages"))).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    pub async fn get(&self, path_or_url: &str, token: Option<&str>) -> reqwest::Response {
        let url = if path_or_url.starts_with("http") { path_or_url.to_owned() } else { self.url(path_or_url) };
        let mut req = self.http.get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// A control call: `POST /sim/{path}` with a JSON body.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        let resp = self.http.post(self.url(&format!("/sim/{path}"))).json(&body).send().await.unwrap();
        assert!(resp.status().is_success(), "control {path}: {}", resp.status());
        resp.json().await.unwrap()
    }
}

pub fn text_to(to: &str, body: &str) -> Value {
    serde_json::json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text", "text": {"body": body}})
}

pub fn template_to(to: &str, name: &str, lang: &str, params: &[&str]) -> Value {
    let parameters: Vec<Value> = params.iter().map(|p| serde_json::json!({"type": "text", "text": p})).collect();
    serde_json::json!({"messaging_product": "whatsapp", "to": to, "type": "template", "template": {
        "name": name, "language": {"code": lang}, "components": [{"type": "body", "parameters": parameters}]}})
}

/// The `error` object of a Meta error body, checked for Meta's required fields.
pub fn meta_error(body: &Value) -> &Value {
    let e = &body["error"];
    assert!(e["message"].is_string(), "error.message in {body}");
    assert!(e["type"].is_string(), "error.type in {body}");
    assert!(e["code"].is_i64(), "error.code in {body}");
    assert!(e["fbtrace_id"].is_string(), "error.fbtrace_id in {body}");
    e
}
