//! HTTP targets (SPEC 10, issue 14 items 4 and 7): where rules' `call_http` action POSTs signed JSON,
//! and each target's delivery log. The signing secret is answered once, when the target is created.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use windowdesk_core::signing::SigningSecret;
use windowdesk_store::{HttpDeliveryRow, HttpTargetRow, HttpTargetWrite};

use super::auth::ApiCaller;
use super::dto::{rfc3339, Page};
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, PathId};
use super::schema::{self, digits};
use super::tickets::parse_limit;
use crate::AppState;

/// A target as written: `POST` and `PUT` bodies.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpTargetIn {
    #[schema(value_type = schema::AgentName)]
    pub name: String,
    #[schema(value_type = schema::TargetUrl)]
    pub url: String,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

#[derive(Serialize, ToSchema)]
pub struct HttpTargetOut {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    /// Failing since then (no success since); null while it works.
    pub failing_since: Option<String>,
    pub last_success_at: Option<String>,
    /// Failing for longer than `[http_targets] attention_after_minutes`.
    pub needs_attention: bool,
    pub created_at: String,
    /// Only in the answer to `POST`: the `whsec_…` secret receivers verify signatures with. Keep it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct HttpDeliveryOut {
    pub id: i64,
    /// The `webhook-id` header, the same on every attempt.
    pub webhook_id: String,
    pub ticket_id: Option<i64>,
    pub event_type: String,
    /// `pending`, `delivered` or `gave_up`.
    pub state: String,
    pub attempts: i32,
    /// For a pending delivery: the next attempt.
    pub next_attempt_at: String,
    /// The last answer's HTTP status, if any came.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// The JSON that is POSTed.
    pub body: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListParams {
    #[param(value_type = Option<schema::PageLimit>, inline)]
    pub limit: Option<u32>,
    #[param(value_type = Option<schema::TicketCursor>, inline)]
    pub before: Option<String>,
}

pub fn out_of(state: &AppState, t: &HttpTargetRow, secret: Option<String>) -> HttpTargetOut {
    HttpTargetOut {
        id: t.id,
        name: t.name.clone(),
        url: t.url.clone(),
        enabled: t.enabled,
        failing_since: t.failing_since.map(rfc3339),
        last_success_at: t.last_success_at.map(rfc3339),
        needs_attention: crate::http_targets::needs_attention(t, state.clock.now(), state.http_attention_after),
        created_at: rfc3339(t.created_at),
        secret,
    }
}

fn delivery_out(d: HttpDeliveryRow) -> HttpDeliveryOut {
    HttpDeliveryOut {
        id: d.id,
        webhook_id: d.webhook_id,
        ticket_id: d.ticket_id,
        event_type: d.event_type,
        state: d.state,
        attempts: d.attempts,
        next_attempt_at: rfc3339(d.next_attempt_at),
        last_status: d.last_status,
        last_error: d.last_error,
        created_at: rfc3339(d.created_at),
        finished_at: d.finished_at.map(rfc3339),
        body: d.body,
    }
}

/// A target as the store keeps it, after checking the name and URL.
pub fn write_of(state: &AppState, t: &HttpTargetIn) -> Result<HttpTargetWrite, ApiError> {
    let name = t.name.trim();
    if name.is_empty() || name.chars().count() > super::admin::MAX_NAME_CHARS {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters, not only whitespace"));
    }
    let url = reqwest::Url::parse(t.url.trim()).map_err(|e| ApiError::invalid("url", format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(ApiError::invalid("url", "must be an http:// or https:// address with a host"));
    }
    Ok(HttpTargetWrite { name: name.to_owned(), url: url.to_string(), enabled: t.enabled, now: state.clock.now() })
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("HTTP target {id} does not exist"))
}

#[utoipa::path(get, path = "/api/v1/http-targets", tag = "rules",
    responses((status = 200, description = "Every HTTP target, by name", body = Page<HttpTargetOut>)))]
pub async fn list_targets(State(state): State<AppState>, _caller: ApiCaller) -> Result<Json<Page<HttpTargetOut>>, ApiError> {
    let rows = state.store.http_targets().await?;
    Ok(Json(Page { data: rows.iter().map(|t| out_of(&state, t, None)).collect(), next: None }))
}

#[utoipa::path(post, path = "/api/v1/http-targets", tag = "rules", request_body = HttpTargetIn,
    responses(
        (status = 201, description = "Created; `secret` is answered this once", body = HttpTargetOut),
        (status = 422, description = "The name or URL is invalid", body = super::error::ErrorBody),
    ))]
pub async fn post_target(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiJson(body): ApiJson<HttpTargetIn>,
) -> Result<(StatusCode, Json<HttpTargetOut>), ApiError> {
    let write = write_of(&state, &body)?;
    let secret = SigningSecret::from_bytes(rand::random::<[u8; 32]>()).written();
    let row = state.store.create_http_target(&write, &secret).await?;
    Ok((StatusCode::CREATED, Json(out_of(&state, &row, Some(secret)))))
}

#[utoipa::path(get, path = "/api/v1/http-targets/{id}", tag = "rules", params(("id" = i64, Path, description = "Target id")),
    responses((status = 200, description = "The target", body = HttpTargetOut), (status = 404, description = "No such target", body = super::error::ErrorBody)))]
pub async fn get_target(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<Json<HttpTargetOut>, ApiError> {
    let row = state.store.http_target(id).await?.ok_or_else(|| not_found(id))?;
    Ok(Json(out_of(&state, &row, None)))
}

#[utoipa::path(put, path = "/api/v1/http-targets/{id}", tag = "rules", params(("id" = i64, Path, description = "Target id")), request_body = HttpTargetIn,
    responses(
        (status = 200, description = "The target as stored (its secret does not change)", body = HttpTargetOut),
        (status = 404, description = "No such target", body = super::error::ErrorBody),
        (status = 422, description = "The name or URL is invalid", body = super::error::ErrorBody),
    ))]
pub async fn put_target(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<HttpTargetIn>,
) -> Result<Json<HttpTargetOut>, ApiError> {
    let write = write_of(&state, &body)?;
    if !state.store.update_http_target(id, &write).await? {
        return Err(not_found(id));
    }
    get_target(State(state), caller, PathId(id)).await
}

#[utoipa::path(delete, path = "/api/v1/http-targets/{id}", tag = "rules", params(("id" = i64, Path, description = "Target id")),
    responses((status = 204, description = "Deleted, with its delivery log; rules calling it fail that action from now on"), (status = 404, description = "No such target", body = super::error::ErrorBody)))]
pub async fn delete_target(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<StatusCode, ApiError> {
    if !state.store.delete_http_target(id).await? {
        return Err(not_found(id));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/http-targets/{id}/deliveries", tag = "rules", params(("id" = i64, Path, description = "Target id"), DeliveryListParams),
    responses((status = 200, description = "The target's delivery log, newest first", body = Page<HttpDeliveryOut>), (status = 404, description = "No such target", body = super::error::ErrorBody)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    _caller: ApiCaller,
    PathId(id): PathId,
    ApiQuery(p): ApiQuery<DeliveryListParams>,
) -> Result<Json<Page<HttpDeliveryOut>>, ApiError> {
    state.store.http_target(id).await?.ok_or_else(|| not_found(id))?;
    let limit = parse_limit(p.limit)?;
    let before = match p.before.as_deref() {
        None => None,
        Some(c) => Some(digits(c, 18).ok_or_else(|| ApiError::invalid("before", "is not a cursor returned by this API"))?),
    };
    let rows = state.store.http_deliveries(id, before, limit).await?;
    let next = (rows.len() == limit as usize).then(|| rows.last().map(|r| r.id.to_string())).flatten();
    Ok(Json(Page { data: rows.into_iter().map(delivery_out).collect(), next }))
}
