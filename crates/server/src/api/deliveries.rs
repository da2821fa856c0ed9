//! Failed deliveries across tickets (SPEC D4): outbound messages in `failed` or `blocked`.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use windowdesk_core::Timestamp;
use windowdesk_store::FailedCursor;

use super::auth::ApiCaller;
use super::dto::{FailedDeliveryOut, Page};
use super::error::ApiError;
use super::extract::ApiQuery;
use super::schema::{self, digits};
use super::tickets::parse_limit;
use crate::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FailedParams {
    #[param(value_type = Option<schema::PageLimit>, inline)]
    pub limit: Option<u32>,
    #[param(value_type = Option<schema::FailedCursor>, inline)]
    pub before: Option<String>,
}

/// Cursors are `<unix millis>_<message id>` of the last row of a page.
fn parse_cursor(raw: &str) -> Result<FailedCursor, ApiError> {
    let bad = || ApiError::invalid("before", "is not a cursor returned by this API");
    let (at, id) = raw.split_once('_').ok_or_else(bad)?;
    Ok(FailedCursor { at: Timestamp::from_unix_millis(digits(at, 15).ok_or_else(bad)?), message_id: digits(id, 18).ok_or_else(bad)? })
}

#[utoipa::path(
    get, path = "/api/v1/deliveries/failed", tag = "deliveries",
    params(FailedParams),
    responses(
        (status = 200, description = "Failed and blocked outbound messages, newest first, with their ticket and reason",
         body = Page<FailedDeliveryOut>),
    )
)]
pub async fn failed_deliveries(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(p): ApiQuery<FailedParams>,
) -> Result<Json<Page<FailedDeliveryOut>>, ApiError> {
    let limit = parse_limit(p.limit)?;
    let before = p.before.as_deref().map(parse_cursor).transpose()?;
    let rows = state.store.failed_deliveries(before, limit).await?;
    let next = (rows.len() == limit as usize).then(|| rows.last().map(|r| format!("{}_{}", r.at.unix_millis(), r.message_id))).flatten();
    Ok(Json(Page { data: rows.into_iter().map(FailedDeliveryOut::from).collect(), next }))
}
