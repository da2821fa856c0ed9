//! `/sim/…`: the control endpoints for tests, the CLI and the demo. Not Meta's API, not token-checked
//! (the sim listens on loopback for people who drive it).

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::config::{TemplateConfig, WindowEnforcement};
use crate::customer::Say;
use crate::error::SimError;
use crate::sms::SmsFault;
use crate::state::{FaultPlan, SimHandle};
use crate::template_control::TemplateStatusChange;

pub(crate) fn routes() -> Router<SimHandle> {
    Router::new()
        .route("/status", get(status))
        .route("/messages", get(messages))
        .route("/inbound", get(inbound))
        .route("/read-receipts", get(read_receipts))
        .route("/say", post(say))
        .route("/reset", post(reset))
        .route("/faults", get(get_fault).put(set_fault).post(set_fault).delete(clear_fault))
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance))
        .route("/clock/freeze", post(freeze))
        .route("/clock/unfreeze", post(unfreeze))
        .route("/window-enforcement", get(get_enforcement).put(set_enforcement).post(set_enforcement))
        .route("/webhook-url", get(get_webhook_url).put(set_webhook_url).post(set_webhook_url))
        .route("/deliveries", get(deliveries))
        .route("/sms", get(sms))
        .route("/sms/faults", get(get_sms_fault).put(set_sms_fault).post(set_sms_fault).delete(clear_sms_fault))
        .route("/templates", get(templates).post(add_template))
        .route("/templates/status", put(set_template_status).post(set_template_status))
        .merge(crate::phone::routes())
}

fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, SimError> {
    payload.map(|Json(v)| v).map_err(|e| SimError::invalid("body", e.body_text()))
}

async fn status(State(sim): State<SimHandle>) -> Json<serde_json::Value> {
    let numbers: Vec<_> = sim
        .config()
        .numbers
        .iter()
        .map(|n| json!({"phone_number_id": n.phone_number_id, "display_number": n.display_number, "waba_id": n.waba_id}))
        .collect();
    let inner = sim.lock();
    Json(json!({
        "api_version": sim.config().api_version,
        "base_url": sim.base_url(),
        "numbers": numbers,
        "window_enforcement": inner.enforcement,
        "webhook_url": inner.webhook_url,
        "clock": clock_json(&sim),
        "received": inner.received.len(),
        "inbound": inner.inbound.len(),
        "deliveries": inner.stats,
        "fault": inner.fault,
        "sms": inner.sms.len(),
        "sms_fault": inner.sms_fault,
    }))
}

/// Filters shared by the lists: `phone_number_id`, and the customer (`to` / `from`).
fn keep(q: &HashMap<String, String>, phone_number_id: &str, customer_key: &str, customer: &str) -> bool {
    q.get("phone_number_id").is_none_or(|p| p == phone_number_id) && q.get(customer_key).is_none_or(|c| c == customer)
}

async fn messages(State(sim): State<SimHandle>, Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    let list: Vec<_> = sim.received().into_iter().filter(|m| keep(&q, &m.phone_number_id, "to", &m.to)).collect();
    Json(json!({ "messages": list }))
}

async fn inbound(State(sim): State<SimHandle>, Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    let list: Vec<_> = sim.inbound().into_iter().filter(|m| keep(&q, &m.phone_number_id, "from", &m.from)).collect();
    Json(json!({ "messages": list }))
}

async fn read_receipts(State(sim): State<SimHandle>) -> impl IntoResponse {
    Json(json!({ "read_receipts": sim.read_receipts() }))
}

async fn say(State(sim): State<SimHandle>, payload: Result<Json<Say>, JsonRejection>) -> Response {
    let say = match body(payload) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    match sim.say(say).await {
        Ok(said) => Json(said).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn reset(State(sim): State<SimHandle>) -> impl IntoResponse {
    sim.reset();
    Json(json!({"reset": true}))
}

async fn get_fault(State(sim): State<SimHandle>) -> impl IntoResponse {
    Json(json!({ "fault": sim.fault() }))
}

async fn set_fault(State(sim): State<SimHandle>, payload: Result<Json<FaultPlan>, JsonRejection>) -> Response {
    match body(payload) {
        Ok(plan) => {
            sim.set_fault(plan.clone());
            Json(json!({ "fault": plan })).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn clear_fault(State(sim): State<SimHandle>) -> impl IntoResponse {
    sim.clear_fault();
    Json(json!({ "fault": null }))
}

fn clock_json(sim: &SimHandle) -> serde_json::Value {
    let clock = sim.clock();
    let now_ms = clock.now_ms();
    json!({
        "now_ms": now_ms,
        "now": windowdesk_core::Timestamp::from_unix_millis(now_ms).to_rfc3339(),
        "offset_ms": clock.offset_ms(),
        "frozen": clock.is_frozen(),
    })
}

async fn clock(State(sim): State<SimHandle>) -> impl IntoResponse {
    Json(clock_json(&sim))
}

/// `{"hours": 24}`, `{"seconds": 90}` or `{"ms": 1500}`; they add up.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    #[serde(default)]
    hours: u64,
    #[serde(default)]
    seconds: u64,
    #[serde(default)]
    ms: u64,
}

async fn advance(State(sim): State<SimHandle>, payload: Result<Json<Advance>, JsonRejection>) -> Response {
    let a = match body(payload) {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let total = Duration::from_secs(a.hours.saturating_mul(3600).saturating_add(a.seconds)).saturating_add(Duration::from_millis(a.ms));
    sim.advance_clock(total);
    Json(clock_json(&sim)).into_response()
}

async fn freeze(State(sim): State<SimHandle>) -> impl IntoResponse {
    sim.clock().freeze();
    Json(clock_json(&sim))
}

async fn unfreeze(State(sim): State<SimHandle>) -> impl IntoResponse {
    sim.clock().unfreeze();
    Json(clock_json(&sim))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Mode {
    mode: WindowEnforcement,
}

async fn get_enforcement(State(sim): State<SimHandle>) -> impl IntoResponse {
    Json(json!({ "mode": sim.window_enforcement() }))
}

async fn set_enforcement(State(sim): State<SimHandle>, payload: Result<Json<Mode>, JsonRejection>) -> Response {
    match body(payload) {
        Ok(m) => {
            sim.set_window_enforcement(m.mode);
            Json(json!({ "mode": m.mode })).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookUrl {
    url: Option<String>,
}

async fn get_webhook_url(State(sim): State<SimHandle>) -> impl IntoResponse {
    Json(json!({ "url": sim.webhook_url() }))
}

async fn set_webhook_url(State(sim): State<SimHandle>, payload: Result<Json<WebhookUrl>, JsonRejection>) -> Response {
    match body(payload) {
        Ok(WebhookUrl { url: Some(url) }) if !(url.starts_with("http://") || url.starts_with("https://")) => {
            SimError::invalid("url", "must be an http(s) URL").into_response()
        }
        Ok(w) => {
            sim.set_webhook_url(w.url.clone());
            Json(json!({ "url": w.url })).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn deliveries(State(sim): State<SimHandle>, Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    let list: Vec<_> = sim
        .deliveries()
        .into_iter()
        .filter(|d| q.get("wamid").is_none_or(|w| *w == d.wamid))
        .filter(|d| q.get("phone_number_id").is_none_or(|p| *p == d.phone_number_id))
        .collect();
    Json(json!({ "stats": sim.delivery_stats(), "deliveries": list }))
}

/// `GET /sim/sms?to=…`: what the SMS provider received (`to` compares digits only).
async fn sms(State(sim): State<SimHandle>, Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let to = q.get("to").map(|t| digits(t));
    let list: Vec<_> =
        sim.sms().into_iter().filter(|r| to.as_ref().is_none_or(|want| r.to.as_deref().is_some_and(|t| digits(t) == *want))).collect();
    Json(json!({ "sms": list }))
}

async fn get_sms_fault(State(sim): State<SimHandle>) -> impl IntoResponse {
    Json(json!({ "fault": sim.sms_fault() }))
}

async fn set_sms_fault(State(sim): State<SimHandle>, payload: Result<Json<SmsFault>, JsonRejection>) -> Response {
    match body(payload).and_then(|f| sim.set_sms_fault(f)) {
        Ok(fault) => Json(json!({ "fault": fault })).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn clear_sms_fault(State(sim): State<SimHandle>) -> impl IntoResponse {
    sim.clear_sms_fault();
    Json(json!({ "fault": null }))
}

async fn templates(State(sim): State<SimHandle>) -> impl IntoResponse {
    Json(json!({ "templates": sim.templates() }))
}

async fn add_template(State(sim): State<SimHandle>, payload: Result<Json<TemplateConfig>, JsonRejection>) -> Response {
    match body(payload).and_then(|t| sim.add_template(t)) {
        Ok(t) => (axum::http::StatusCode::CREATED, Json(json!({ "template": t }))).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn set_template_status(State(sim): State<SimHandle>, payload: Result<Json<TemplateStatusChange>, JsonRejection>) -> Response {
    let change = match body(payload) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match sim.set_template_status(change).await {
        Ok(changed) => Json(changed).into_response(),
        Err(e) => e.into_response(),
    }
}
