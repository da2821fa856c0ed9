//! Rate cards (SPEC 11, issue 17 item 1): list, read, import and export them as CSV (the form
//! `docs/pricing.md` describes), delete them.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use windowdesk_core::pricing::RateCard;
use windowdesk_store::RateCardRow;

use super::auth::ApiCaller;
use super::dto::{rfc3339, Page};
use super::error::ApiError;
use super::extract::{ApiQuery, PathId};
use crate::AppState;

/// A rate card, without its prices.
#[derive(Serialize, ToSchema)]
pub struct RateCardOut {
    pub id: i64,
    pub name: String,
    /// `YYYY-MM-DD`: the first day (UTC) the card is in force.
    pub effective_from: String,
    pub currency: String,
    /// `PMP` (per message) or `CBP` (per conversation).
    pub model: String,
    pub utility_free_in_window: bool,
    pub free_entry_point_free: bool,
    /// Shipped with the desk, rather than imported.
    pub shipped: bool,
    /// The card prices messages today: the latest of its currency to have started. Only cards in
    /// the desk's currency (`[pricing] currency`) are used.
    pub in_force: bool,
    /// The card's currency is the desk's.
    pub desk_currency: bool,
    pub prices: usize,
    pub markets: usize,
    pub created_at: String,
}

/// One price of a card.
#[derive(Serialize, ToSchema)]
pub struct RateOut {
    pub market: String,
    pub category: String,
    /// Decimal, exact as the card gives it.
    pub price: String,
    /// The first message of the month this price applies from: 1 for the list price.
    pub volume_from: u64,
    pub source: Option<String>,
}

/// A rate card with its prices.
#[derive(Serialize, ToSchema)]
pub struct RateCardDetail {
    #[serde(flatten)]
    pub card: RateCardOut,
    pub rates: Vec<RateOut>,
}

/// A card as listed: `all` are every stored card, to tell which is in force.
pub(crate) fn card_out(state: &AppState, row: &RateCardRow, all: &[RateCardRow]) -> RateCardOut {
    let today = windowdesk_core::pricing::quote::day(state.clock.now());
    let c = &row.card;
    // In force: started, and no later-starting card of its currency has (ties go to the later name,
    // as `RateBook::card_on` has it).
    let key = |card: &RateCard| (card.effective_from, card.name.clone());
    let in_force = c.effective_from <= today
        && !all.iter().any(|r| r.card.currency == c.currency && r.card.effective_from <= today && key(&r.card) > key(c));
    RateCardOut {
        id: row.id,
        name: c.name.clone(),
        effective_from: c.effective_from.to_string(),
        currency: c.currency.clone(),
        model: c.model.as_str().to_owned(),
        utility_free_in_window: c.utility_free_in_window,
        free_entry_point_free: c.free_entry_point_free,
        shipped: row.shipped,
        in_force,
        desk_currency: c.currency == state.pricing.currency(),
        prices: c.rates.len(),
        markets: c.markets().len(),
        created_at: rfc3339(row.created_at),
    }
}

#[utoipa::path(
    get, path = "/api/v1/rate-cards", tag = "pricing",
    responses((status = 200, description = "Every rate card, oldest first, without prices", body = Page<RateCardOut>))
)]
pub async fn list_rate_cards(State(state): State<AppState>, _caller: ApiCaller) -> Result<Json<Page<RateCardOut>>, ApiError> {
    let rows = state.store.rate_cards().await?;
    Ok(Json(Page { data: rows.iter().map(|r| card_out(&state, r, &rows)).collect(), next: None }))
}

#[utoipa::path(
    get, path = "/api/v1/rate-cards/{id}", tag = "pricing",
    params(("id" = i64, Path, description = "Rate card id")),
    responses(
        (status = 200, description = "The card and its prices", body = RateCardDetail),
        (status = 404, description = "No such card", body = super::error::ErrorBody),
    )
)]
pub async fn get_rate_card(
    State(state): State<AppState>,
    _caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<RateCardDetail>, ApiError> {
    let rows = state.store.rate_cards().await?;
    let row = rows.iter().find(|r| r.id == id).ok_or_else(|| ApiError::NotFound(format!("there is no rate card {id}")))?;
    let rates = row
        .card
        .rates
        .iter()
        .map(|r| RateOut {
            market: r.market.to_string(),
            category: r.category.to_string(),
            price: r.price.normalize().to_string(),
            volume_from: r.volume_from,
            source: r.source.clone(),
        })
        .collect();
    Ok(Json(RateCardDetail { card: card_out(&state, row, &rows), rates }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Replace the cards of the same names instead of refusing them (409).
    #[serde(default)]
    pub replace: bool,
}

#[utoipa::path(
    post, path = "/api/v1/rate-cards", tag = "pricing",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "One or more cards in the CSV form of docs/pricing.md: one row per price, each with its card's fields"),
    responses(
        (status = 201, description = "The imported cards", body = Page<RateCardOut>),
        (status = 409, description = "A card of that name exists (import with `replace=true` to replace it)", body = super::error::ErrorBody),
        (status = 415, description = "The body is not `text/csv`", body = super::error::ErrorBody),
        (status = 422, description = "The CSV cannot be read: the message names the line and column", body = super::error::ErrorBody),
    )
)]
pub async fn import_rate_cards(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Page<RateCardOut>>), ApiError> {
    let csv_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("text/csv")));
    if !csv_body {
        return Err(ApiError::UnsupportedMediaType("send the cards as text/csv (see docs/pricing.md)".into()));
    }
    let body = std::str::from_utf8(&body).map_err(|e| ApiError::invalid("csv", format!("the body is not UTF-8 text: {e}")))?;
    let cards = RateCard::from_csv(body).map_err(|e| ApiError::invalid("csv", e.to_string()))?;
    let ids = state.store.import_rate_cards(&cards, q.replace, state.clock.now()).await?;
    state.pricing.forget().await;
    let rows = state.store.rate_cards().await?;
    let data = rows.iter().filter(|r| ids.contains(&r.id)).map(|r| card_out(&state, r, &rows)).collect();
    Ok((StatusCode::CREATED, Json(Page { data, next: None })))
}

#[utoipa::path(
    get, path = "/api/v1/rate-cards/export", tag = "pricing",
    responses((status = 200, description = "Every rate card as CSV, in the form import reads", content_type = "text/csv", body = String))
)]
pub async fn export_rate_cards(State(state): State<AppState>, _caller: ApiCaller) -> Result<impl IntoResponse, ApiError> {
    let cards: Vec<RateCard> = state.store.rate_cards().await?.into_iter().map(|r| r.card).collect();
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, "attachment; filename=\"rate-cards.csv\"")],
        RateCard::to_csv(&cards),
    ))
}

#[utoipa::path(
    delete, path = "/api/v1/rate-cards/{id}", tag = "pricing",
    params(("id" = i64, Path, description = "Rate card id")),
    responses(
        (status = 204, description = "Deleted (a shipped card is not seeded again)"),
        (status = 404, description = "No such card", body = super::error::ErrorBody),
    )
)]
pub async fn delete_rate_card(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<StatusCode, ApiError> {
    if !state.store.delete_rate_card(id).await? {
        return Err(ApiError::NotFound(format!("there is no rate card {id}")));
    }
    state.pricing.forget().await;
    Ok(StatusCode::NO_CONTENT)
}
