//! `POST /{version}/{phone-number-id}/messages`: the checks in Meta's order (token, number, body,
//! template, the 24 h rule, limits), then the answer and the statuses that follow. The customer is
//! the one `to` (a phone number) or `recipient` (a BSUID or parent BSUID) names.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::auth::{authorize_number, check_version};
use crate::config::WindowEnforcement;
use crate::error::GraphError;
use crate::request::{self, Addressee, SendRequest};
use crate::state::{new_wamid, Fault, ReadReceipt, ReceivedMessage, SimHandle};
use crate::statuses::{price, StatusPlan, DAY_MS};
use crate::template_send;

pub(crate) async fn send(
    State(sim): State<SimHandle>,
    Path((version, phone_number_id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&sim, &version, &phone_number_id, q.get("access_token").map(String::as_str), &headers, &body).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            tracing::debug!(code = e.code, details = ?e.details, "send refused");
            e.into_response()
        }
    }
}

async fn handle(
    sim: &SimHandle,
    version: &str,
    phone_number_id: &str,
    query_token: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, GraphError> {
    check_version(version)?;
    let number = authorize_number(sim, headers, query_token, phone_number_id, "post")?.clone();
    let out = match request::parse(body)? {
        SendRequest::MarkRead { message_id, typing } => {
            let at_ms = sim.0.clock.now_ms();
            sim.lock().read_receipts.push(ReadReceipt { phone_number_id: number.phone_number_id.clone(), message_id, at_ms, typing });
            return Ok(json!({"success": true}));
        }
        SendRequest::Message(m) => m,
    };

    let fault = sim.lock().take_fault();
    match fault {
        None => {}
        Some(Fault::ServerError) => return Err(GraphError::internal()),
        Some(Fault::Error { code, http_status }) => return Err(GraphError::whatsapp(http_status, code)),
        Some(Fault::Hang { ms }) => {
            tokio::select! {
                () = sim.0.cancel.cancelled() => return Err(GraphError::internal()),
                () = tokio::time::sleep(Duration::from_millis(ms)) => {}
            }
        }
    }

    let checked = match &out.template {
        Some(t) => Some(template_send::check_send(sim, &number.waba_id, t)?),
        None => None,
    };
    let parent_bsuids = sim.0.config.parent_bsuids;
    if let (Addressee::UserId(id), Some(c)) = (&out.to, &checked) {
        // Authentication templates (one-tap, zero-tap, copy-code) still need a phone number.
        if c.used.category.eq_ignore_ascii_case("AUTHENTICATION") {
            return Err(GraphError::whatsapp(400, 131_062).with_details(format!(
                "recipient {id}: authentication templates cannot be sent to a BSUID; send them to the phone number"
            )));
        }
    }
    let now_ms = sim.0.clock.now_ms();
    let wamid = new_wamid();
    let accepted = Instant::now();
    // One critical section from the window check to the record, so concurrent sends count each other.
    let plan = {
        let mut inner = sim.lock();
        let (wa_id, user_id) = match &out.to {
            Addressee::Phone { wa_id, .. } => (Some(wa_id.clone()), None),
            Addressee::UserId(id) => (inner.wa_id_of_bsuid(&number.waba_id, id, parent_bsuids), Some(id.clone())),
        };
        // A BSUID no customer has is kept as the customer's key: its window is closed, its pair rate counted.
        let key = wa_id.clone().or_else(|| user_id.clone()).unwrap_or_default();
        let enforcement = inner.enforcement;
        let customer = inner.customer(&number.phone_number_id, &key).clone();
        let window_open = customer.last_inbound_ms.is_some_and(|t| now_ms < t + DAY_MS);
        let mut failure = None;
        if checked.is_none() && !window_open {
            match enforcement {
                WindowEnforcement::Sync => return Err(GraphError::whatsapp(400, 131_047)),
                WindowEnforcement::Async => failure = Some(GraphError::whatsapp(400, 131_047)),
                WindowEnforcement::Off => {}
            }
        }
        inner.limits.admit(&number.phone_number_id, &key, now_ms, number.throughput_per_second, sim.0.config.pair_rate)?;
        if failure.is_none() && wa_id.is_none() {
            failure = Some(
                GraphError::whatsapp(400, 131_026)
                    .with_details(format!("No WhatsApp user has the business-scoped user ID {key} for this business")),
            );
        }
        let media_id = out.media_id.as_deref().or(checked.as_ref().and_then(|c| c.media_id.as_deref()));
        if failure.is_none() {
            if let Some(id) = media_id.filter(|id| !inner.media.contains_key(*id)) {
                failure = Some(GraphError::whatsapp(400, 131_053).with_details(format!("Media id {id} was not found for this number")));
            }
        }
        let category = checked.as_ref().map(|c| c.used.category.clone());
        let (pricing, conversation) = price(inner.customer(&number.phone_number_id, &key), category.as_deref(), window_open, now_ms);
        let seq = inner.next_seq();
        inner.received.push(ReceivedMessage {
            seq,
            wamid: wamid.clone(),
            phone_number_id: number.phone_number_id.clone(),
            to: key.clone(),
            recipient: user_id.clone(),
            kind: out.kind.clone(),
            text: checked.as_ref().map(|c| c.rendered.clone()).or_else(|| out.text.clone()),
            template: checked.as_ref().map(|c| c.used.clone()),
            request: out.raw.clone(),
            accepted_at_ms: now_ms,
            status: "accepted".into(),
            error_code: None,
            pricing: failure.is_none().then(|| pricing.clone()),
        });
        StatusPlan {
            number: number.clone(),
            wamid: wamid.clone(),
            wa_id,
            user_id,
            parent_bsuids,
            profile_name: customer.profile_name.clone(),
            is_audio: out.kind == "audio",
            pricing,
            conversation,
            biz_opaque_callback_data: out.biz_opaque_callback_data.clone(),
            failure,
            generation: inner.generation,
            accepted,
        }
    };
    sim.0.received_wake.notify_waiters();
    sim.spawn_statuses(plan);

    let mut message = json!({ "id": wamid });
    if checked.is_some() {
        message["message_status"] = json!("accepted");
    }
    // `contacts[].wa_id` for a send to a phone number, `contacts[].user_id` for one to a BSUID.
    let contact = match &out.to {
        Addressee::Phone { input, wa_id } => json!({"input": input, "wa_id": wa_id}),
        Addressee::UserId(id) => json!({"input": id, "user_id": id}),
    };
    Ok(json!({
        "messaging_product": "whatsapp",
        "contacts": [contact],
        "messages": [message],
    }))
}
