//! The WhatsApp webhook: `GET` verification (I1) and `POST` deliveries (I2–I5).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use windowdesk_core::inbound::Change;
use windowdesk_store::{IngestItem, IngestPayload};
use windowdesk_whatsapp::signature::{decode_header, verify_decoded};
use windowdesk_whatsapp::{normalize_payload, parse_envelope, NormalizeOptions};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct VerifyQuery {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// I1: Meta registers the webhook URL by asking it to echo `hub.challenge`.
pub async fn verify(State(state): State<AppState>, Query(q): Query<VerifyQuery>) -> Result<String, ApiError> {
    let (Some(mode), Some(token), Some(challenge)) = (q.mode, q.verify_token, q.challenge) else {
        return Err(ApiError::Forbidden("expected hub.mode, hub.verify_token and hub.challenge".into()));
    };
    if mode != "subscribe" {
        return Err(ApiError::Forbidden(format!("hub.mode must be \"subscribe\", got {mode:?}")));
    }
    if !state.numbers.verify_token_matches(&token) {
        tracing::warn!("webhook verification with an unknown verify token");
        return Err(ApiError::Forbidden("hub.verify_token does not match any business number".into()));
    }
    Ok(challenge)
}

/// I2–I5: verify the signature, parse, normalise, commit, and only then answer 200.
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let received_at = state.clock.now();
    let metrics = &state.metrics;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Metrics::inc(&metrics.webhooks_too_large, 1);
            ApiError::TooLarge(state.max_body_bytes)
        } else {
            Metrics::inc(&metrics.webhooks_malformed, 1);
            ApiError::BadRequest(format!("could not read the request body: {rejection}"))
        }
    })?;

    // I2: the signature, against every app secret the desk knows, before anything else is looked at.
    let header = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
    let signature = decode_header(header).map_err(|e| {
        Metrics::inc(&metrics.webhooks_bad_signature, 1);
        ApiError::Unauthorized(e.to_string())
    })?;
    let Some(secret_index) = state.numbers.secrets().iter().position(|s| verify_decoded(s.expose_secret().as_bytes(), &body, &signature))
    else {
        Metrics::inc(&metrics.webhooks_bad_signature, 1);
        tracing::warn!(bytes = body.len(), "webhook with a signature that no app secret produced");
        return Err(ApiError::Unauthorized("the X-Hub-Signature-256 signature does not match the body".into()));
    };

    let envelope = parse_envelope(&body).map_err(|e| {
        Metrics::inc(&metrics.webhooks_malformed, 1);
        ApiError::BadRequest(e.to_string())
    })?;
    let numbers = &state.numbers;
    let redact_for = |pnid: &str| numbers.get(pnid).is_none_or(|n| n.redact_card_numbers);
    let changes = normalize_payload(envelope, &NormalizeOptions { received_at, redact_for: &redact_for });

    let mut items = Vec::with_capacity(changes.len());
    for change in changes {
        match change {
            Change::Number(change) => match numbers.get(&change.phone_number_id) {
                // A number is only served by the app whose secret signed the body.
                Some(n) if n.secret_index == secret_index => {
                    if change.unreadable > 0 {
                        Metrics::inc(&metrics.parts_kept_raw, u64::from(change.unreadable));
                        tracing::warn!(phone_number_id = %change.phone_number_id, parts = change.unreadable, "webhook parts without Meta's documented shape; kept raw");
                    }
                    items.push(IngestItem::Number { business_number_id: n.id, change })
                }
                _ => {
                    Metrics::inc(&metrics.unknown_number_changes, 1);
                    tracing::warn!(phone_number_id = %change.phone_number_id, "webhook for a phone_number_id this desk does not serve");
                    items.push(IngestItem::UnknownNumber { phone_number_id: change.phone_number_id });
                }
            },
            // An account's templates and settings change only by a webhook of an app that serves a
            // number of that account; anything else is recorded and counted like an unknown number.
            Change::Account(event) if numbers.serves_account(&event.waba_id, secret_index) => {
                items.push(IngestItem::Account { business_number_id: None, event })
            }
            Change::Account(event) => {
                Metrics::inc(&metrics.unserved_account_changes, 1);
                tracing::warn!(waba_id = %event.waba_id, field = %event.field, "account webhook for a WhatsApp Business account this app does not serve");
                items.push(IngestItem::UnknownNumber { phone_number_id: format!("waba:{}", event.waba_id) });
            }
        }
    }

    let summary = state.store.ingest(IngestPayload { received_at, items }).await.map_err(|e| {
        Metrics::inc(&metrics.webhooks_store_failed, 1);
        ApiError::Unavailable(e)
    })?;
    if summary.messages_new > 0 {
        state.media_wake.notify_one();
    }
    if summary.held_released > 0 {
        state.outbox_queued();
    }
    // A template changed at Meta (components, category…): fetch the registry again.
    if summary.account_events > 0 {
        state.templates_wake.notify_one();
    }
    Metrics::inc(&metrics.webhooks_accepted, 1);
    Metrics::inc(&metrics.messages_new, u64::from(summary.messages_new));
    Metrics::inc(&metrics.messages_duplicate, u64::from(summary.messages_duplicate));
    Metrics::inc(&metrics.statuses_new, u64::from(summary.statuses_new));
    for ticket_id in &summary.tickets {
        state.events.ticket(*ticket_id);
    }
    tracing::debug!(?summary, "webhook committed");
    Ok((StatusCode::OK, Json(json!({"status": "received"}))))
}
