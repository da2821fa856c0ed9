//! Failed deliveries across tickets (SPEC D4): outbound messages in `failed` or `blocked`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use windowdesk_core::Timestamp;
use windowdesk_store::FailedCursor;

use super::auth::ApiCaller;
use super::dto::{FailedDeliveryOut, Page};
use super::error::ApiError;
use super::tickets::parse_limit;
use crate::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FailedParams {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<String>,
    /// The `next` cursor of the previous page.
    pub before: Option<String>,
}

/// Cursors are `<unix millis>_<message id>` of the last row of a page.
fn parse_cursor(raw: &str) -> Result<FailedCursor, ApiError> {
    let bad = || ApiError::invalid("before", "is not a cursor returned by this API");
    let (at, id) = raw.split_once('_').ok_or_else(bad)?;
    Ok(FailedCursor { at: Timestamp::from_unix_millis(at.parse().map_err(|_| bad())?), message_id: id.parse().map_err(|_| bad())? })
}

#[utoipa::path(
    get, path = "/api/v1/deliveries/failed", tag = "deliveries",
    params(FailedParams),
    responses(
        (status = 200, description = "Failed and blocked outbound messages, newest first, with their ticket and reason",
         body = Page<FailedDeliveryOut>),
        (status = 401, description = "Missing or invalid token", body = super::error::ErrorBody),
        (status = 422, description = "Invalid `limit` or `before`", body = super::error::ErrorBody),
    )
)]
pub async fn failed_deliveries(
    State(state): State<AppState>,
    _caller: ApiCaller,
    params: Result<Query<FailedParams>, QueryRejection>,
) -> Result<Json<Page<FailedDeliveryOut>>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = parse_limit(p.limit.as_deref())?;
    let before = p.before.as_deref().map(parse_cursor).transpose()?;
    let rows = state.store.failed_deliveries(before, limit).await?;
    let next = (rows.len() == limit as usize).then(|| rows.last().map(|r| format!("{}_{}", r.at.unix_millis(), r.message_id))).flatten();
    Ok(Json(Page { data: rows.into_iter().map(FailedDeliveryOut::from).collect(), next }))
}
