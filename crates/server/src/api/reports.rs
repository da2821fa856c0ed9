//! Cost reports (SPEC 11, issue 17 item 5): `/api/v1/reports/costs` and the messages behind it,
//! as JSON or CSV. The web page (`/reports/costs`) shows the same rows.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::ApiCaller;
use super::dto::Page;
use super::error::ApiError;
use super::extract::ApiQuery;
use crate::reports::{self, CostMessageOut, Report, ReportParams};
use crate::AppState;

fn query(state: &AppState, p: &ReportParams) -> Result<windowdesk_core::pricing::report::ReportQuery, ApiError> {
    let today = windowdesk_core::pricing::report::day_of(state.clock.now());
    p.query(today).map_err(|reports::BadParam(field, message)| ApiError::invalid(field, message))
}

#[utoipa::path(
    get, path = "/api/v1/reports/costs", tag = "pricing",
    params(ReportParams),
    responses(
        (status = 200, description = "Message counts and costs per period or group, with totals per currency. Groupings not about time list the 100 most expensive rows (`truncated` says when there are more; the export has them all).", body = Report),
        (status = 422, description = "A parameter is not understood: the error names it", body = super::error::ErrorBody),
    )
)]
pub async fn cost_report(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(p): ApiQuery<ReportParams>,
) -> Result<Json<Report>, ApiError> {
    let q = query(&state, &p)?;
    Ok(Json(reports::build(&state, &q, reports::SHOWN).await?))
}

#[utoipa::path(
    get, path = "/api/v1/reports/costs/export", tag = "pricing",
    params(ReportParams),
    responses(
        (status = 200, description = "The report as CSV: every row (not only the 100 most expensive), then the totals", content_type = "text/csv", body = String),
        (status = 422, description = "A parameter is not understood: the error names it", body = super::error::ErrorBody),
    )
)]
pub async fn export_cost_report(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(p): ApiQuery<ReportParams>,
) -> Result<axum::response::Response, ApiError> {
    let q = query(&state, &p)?;
    Ok(reports::table_download(&state, &q).await?)
}

/// How many messages a page holds.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Limit {
    /// 1 to 1000 (default 100).
    pub limit: Option<u32>,
}

#[utoipa::path(
    get, path = "/api/v1/reports/costs/messages", tag = "pricing",
    params(ReportParams, Limit),
    responses(
        (status = 200, description = "The messages behind the report (or, with `row`, behind one of its rows), oldest first; `next` is the `after` of the next page", body = Page<CostMessageOut>),
        (status = 422, description = "A parameter is not understood: the error names it", body = super::error::ErrorBody),
    )
)]
pub async fn cost_messages(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(p): ApiQuery<ReportParams>,
    ApiQuery(l): ApiQuery<Limit>,
) -> Result<Json<Page<CostMessageOut>>, ApiError> {
    let q = query(&state, &p)?;
    let after = p.after().map_err(|reports::BadParam(field, message)| ApiError::invalid(field, message))?;
    let limit = l.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", format!("{limit} is not between 1 and 1000")));
    }
    let rows = state.store.cost_messages(&q, after, limit).await?;
    let next = (rows.len() == limit as usize).then(|| rows.last().map(reports::cursor)).flatten();
    Ok(Json(Page { data: rows.iter().map(reports::message_out).collect(), next }))
}

#[utoipa::path(
    get, path = "/api/v1/reports/costs/messages/export", tag = "pricing",
    params(ReportParams),
    responses(
        (status = 200, description = "Every message behind the report as CSV, streamed (written while it is read, in constant memory)", content_type = "text/csv", body = String),
        (status = 422, description = "A parameter is not understood: the error names it", body = super::error::ErrorBody),
    )
)]
pub async fn export_cost_messages(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(p): ApiQuery<ReportParams>,
) -> Result<axum::response::Response, ApiError> {
    let q = query(&state, &p)?;
    Ok(reports::messages_download(&state, q))
}

/// What a ticket's messages cost, what is free now, and what the next message of each kind would
/// cost (SPEC 11, issue 17 item 4).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TicketCosts {
    /// Per currency, the desk's first.
    pub totals: Vec<crate::costs::TicketCostTotal>,
    /// The ticket's outbound messages, oldest first.
    pub messages: Vec<TicketCostOut>,
    /// Windows in which messages are free, open now.
    pub open: Vec<crate::costs::FreeWindow>,
    /// The price of each kind of message if sent now.
    pub next: Vec<crate::costs::NextPrice>,
}

/// One message's estimate and cost.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TicketCostOut {
    pub message_id: i64,
    pub at: String,
    pub channel: String,
    /// Charged in (Meta's category once it said), else the estimate's.
    pub category: String,
    pub market: Option<String>,
    pub currency: Option<String>,
    pub estimate: Option<String>,
    pub free_because: Option<String>,
    /// Once settled; `null` while pending or unpriced.
    pub cost: Option<String>,
    /// `meta`, `estimate`, `not_delivered`, `pending`.
    pub settled_by: Option<String>,
    pub settled: bool,
}

#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/costs", tag = "pricing",
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "The ticket's costs, its free windows and the next message's prices", body = TicketCosts),
        (status = 404, description = "No such ticket", body = super::error::ErrorBody),
    )
)]
pub async fn ticket_costs(
    State(state): State<AppState>,
    _caller: ApiCaller,
    super::extract::PathId(id): super::extract::PathId,
) -> Result<Json<TicketCosts>, ApiError> {
    let outlook = crate::replies::Outlook::load(&state, id).await?;
    let rows = state.store.ticket_costs(id).await?;
    let dec = |v: Option<i64>| v.map(|v| windowdesk_core::pricing::from_micros(v).to_string());
    Ok(Json(TicketCosts {
        totals: crate::costs::ticket_totals(&rows, state.pricing.currency()),
        open: crate::costs::open_windows(&outlook, &rows),
        next: crate::costs::next_prices(&outlook),
        messages: rows
            .iter()
            .map(|c| TicketCostOut {
                message_id: c.message_id,
                at: c.at.to_rfc3339(),
                channel: c.channel.clone(),
                category: c.charged_category.clone().unwrap_or_else(|| c.category.clone()),
                market: c.market.clone(),
                currency: c.currency.clone(),
                estimate: dec(c.estimate_micros),
                free_because: c.free_because.clone(),
                cost: if c.is_final { dec(c.amount_micros) } else { None },
                settled_by: c.settled_by.clone(),
                settled: c.is_final,
            })
            .collect(),
    }))
}
