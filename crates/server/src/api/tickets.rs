//! Tickets: list with filters and keyset pagination, one ticket with its thread, and changes
//! (status, assignee, tags). Every change is a ticket event with the token as actor.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use windowdesk_core::TicketStatus;
use windowdesk_store::{AssigneeFilter, TicketChange, TicketQuery};

use super::auth::ApiCaller;
use super::dto::{EventOut, MessageOut, Page, TicketDetail, TicketOut};
use super::error::{ApiError, ApiJson, PathId};
use crate::AppState;

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;
const MAX_TAG_CHARS: usize = 50;

/// Filters of `GET /api/v1/tickets`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketListParams {
    /// `new`, `open`, `pending`, `on_hold`, `solved` or `closed`.
    pub status: Option<String>,
    /// Meta's `phone_number_id` of the business number.
    pub business_number: Option<String>,
    /// An agent id, or `none` for unassigned tickets.
    pub assignee: Option<String>,
    /// Tickets with this tag.
    pub tag: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<String>,
    /// The `next` cursor of the previous page.
    pub before: Option<String>,
}

pub fn parse_status(field: &str, s: &str) -> Result<TicketStatus, ApiError> {
    TicketStatus::parse(s).ok_or_else(|| {
        let names: Vec<&str> = TicketStatus::ALL.iter().map(|st| st.as_str()).collect();
        ApiError::invalid(field, format!("{s:?} is not a status; use one of {}", names.join(", ")))
    })
}

pub fn parse_limit(limit: Option<&str>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid("limit", format!("must be a whole number from 1 to {MAX_PAGE}"))),
        },
    }
}

/// Tags are compared lowercased and trimmed; `field` names the list entry in errors.
pub(crate) fn normalize_tag(field: String, raw: &str) -> Result<String, ApiError> {
    let tag = raw.trim().to_lowercase();
    if tag.is_empty() {
        return Err(ApiError::invalid(field, "a tag must not be empty"));
    }
    if tag.chars().count() > MAX_TAG_CHARS || tag.chars().any(|c| c.is_control() || c == ',') {
        return Err(ApiError::invalid(field, format!("a tag is at most {MAX_TAG_CHARS} characters, without commas or control characters")));
    }
    Ok(tag)
}

fn normalize_tags(field: &str, tags: &[String]) -> Result<Vec<String>, ApiError> {
    tags.iter().enumerate().map(|(i, t)| normalize_tag(format!("{field}[{i}]"), t)).collect()
}

#[utoipa::path(
    get, path = "/api/v1/tickets", tag = "tickets",
    params(TicketListParams),
    responses(
        (status = 200, description = "Tickets, newest first, each with its window state", body = Page<TicketOut>),
        (status = 401, description = "Missing or invalid token", body = super::error::ErrorBody),
        (status = 422, description = "A filter has an invalid value (named in details.field)", body = super::error::ErrorBody),
    )
)]
pub async fn list_tickets(
    State(state): State<AppState>,
    _caller: ApiCaller,
    params: Result<Query<TicketListParams>, QueryRejection>,
) -> Result<Json<Page<TicketOut>>, ApiError> {
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = parse_limit(p.limit.as_deref())?;
    let status = p.status.as_deref().map(|s| parse_status("status", s)).transpose()?;
    let business_number_id = match p.business_number.as_deref() {
        None => None,
        Some(pnid) => Some(
            state
                .numbers
                .get(pnid)
                .map(|n| n.id)
                .ok_or_else(|| ApiError::invalid("business_number", format!("{pnid:?} is not a business number of this desk")))?,
        ),
    };
    let assignee = match p.assignee.as_deref() {
        None => None,
        Some("none") => Some(AssigneeFilter::Unassigned),
        Some(id) => Some(AssigneeFilter::Agent(id.parse().map_err(|_| ApiError::invalid("assignee", "must be an agent id or `none`"))?)),
    };
    let tag = p.tag.as_deref().map(|t| normalize_tag("tag".into(), t)).transpose()?;
    let before_id = match p.before.as_deref() {
        None => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| ApiError::invalid("before", "is not a cursor returned by this API"))?),
    };
    let query = TicketQuery { status, business_number_id, assignee, tag, before_id, limit };
    let rows = state.store.query_tickets(&query).await?;
    let next = (rows.len() == limit as usize).then(|| rows.last().map(|r| r.ticket.id.to_string())).flatten();
    let now = state.clock.now();
    let data = rows.into_iter().map(|s| TicketOut::new(s, state.policy, now)).collect();
    Ok(Json(Page { data, next }))
}

#[utoipa::path(
    get, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "The ticket with its requester, window, tags, thread, events and follow-up links", body = TicketDetail),
        (status = 401, description = "Missing or invalid token", body = super::error::ErrorBody),
        (status = 404, description = "No such ticket", body = super::error::ErrorBody),
    )
)]
pub async fn get_ticket(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<Json<TicketDetail>, ApiError> {
    let summary = state.store.ticket_summary(id).await?.ok_or_else(|| no_ticket(id))?;
    let (messages, events, followups, reactions) = tokio::try_join!(
        state.store.ticket_messages(id),
        state.store.ticket_events(id),
        state.store.followups(id),
        state.store.ticket_reactions(id),
    )?;
    let ticket = TicketOut::new(summary, state.policy, state.clock.now());
    Ok(Json(TicketDetail {
        ticket,
        followups,
        messages: messages.into_iter().map(|m| MessageOut::new(m, &reactions)).collect(),
        events: events.into_iter().map(EventOut::from).collect(),
    }))
}

pub fn no_ticket(id: i64) -> ApiError {
    ApiError::NotFound(format!("ticket {id} does not exist"))
}

/// Fields of `PATCH /api/v1/tickets/{id}`; each is optional.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketPatch {
    /// New status. `closed` is final: a closed ticket cannot be changed.
    pub status: Option<String>,
    /// An agent id, or null to unassign.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable = true)]
    pub assignee_id: Option<Option<i64>>,
    /// Replaces all tags.
    pub tags: Option<Vec<String>>,
    /// Tags to add (after `tags`).
    pub add_tags: Option<Vec<String>>,
    /// Tags to remove (after `tags` and `add_tags`).
    pub remove_tags: Option<Vec<String>>,
}

/// Tells an absent field (`None`) from an explicit null (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[utoipa::path(
    patch, path = "/api/v1/tickets/{id}", tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = TicketPatch,
    responses(
        (status = 200, description = "The ticket after the change", body = TicketOut),
        (status = 401, description = "Missing or invalid token", body = super::error::ErrorBody),
        (status = 404, description = "No such ticket", body = super::error::ErrorBody),
        (status = 409, description = "The ticket is closed, so read-only", body = super::error::ErrorBody),
        (status = 422, description = "A field has an invalid value (named in details.field)", body = super::error::ErrorBody),
    )
)]
pub async fn patch_ticket(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<TicketPatch>,
) -> Result<Json<TicketOut>, ApiError> {
    let status = patch.status.as_deref().map(|s| parse_status("status", s)).transpose()?;
    if let Some(Some(agent)) = patch.assignee_id {
        if state.store.agent(agent).await?.is_none() {
            return Err(ApiError::invalid("assignee_id", format!("there is no agent {agent}")));
        }
    }
    let change = TicketChange {
        status,
        assignee_id: patch.assignee_id,
        tags: patch.tags.as_deref().map(|t| normalize_tags("tags", t)).transpose()?,
        add_tags: normalize_tags("add_tags", patch.add_tags.as_deref().unwrap_or_default())?,
        remove_tags: normalize_tags("remove_tags", patch.remove_tags.as_deref().unwrap_or_default())?,
    };
    let now = state.clock.now();
    let summary = state.store.update_ticket(id, &change, &caller.actor(), now).await?.ok_or_else(|| no_ticket(id))?;
    state.events.ticket(id);
    Ok(Json(TicketOut::new(summary, state.policy, now)))
}
