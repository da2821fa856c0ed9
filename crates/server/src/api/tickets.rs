//! Tickets: list with filters and keyset pagination, one ticket with its thread, and changes
//! (status, assignee, tags). Every change is a ticket event with the token as actor.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use windowdesk_core::TicketStatus;
use windowdesk_store::{AssigneeFilter, TicketChange, TicketQuery};

use super::auth::ApiCaller;
use super::dto::{EventOut, MessageOut, Page, TicketDetail, TicketOut};
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, PathId};
use super::schema::{self, digits};
use crate::AppState;

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;
pub const MAX_TAG_CHARS: usize = 50;

/// Filters of `GET /api/v1/tickets`. A filter naming nothing that exists (a number the desk does not
/// serve, an agent id or a tag no ticket has) finds no tickets.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketListParams {
    #[param(value_type = Option<schema::TicketStatus>, inline)]
    pub status: Option<TicketStatus>,
    /// Meta's `phone_number_id` of the business number.
    #[param(value_type = Option<schema::Text>, inline)]
    pub business_number: Option<String>,
    /// An agent id, or `none` for unassigned tickets.
    #[param(value_type = Option<schema::AssigneeFilter>, inline)]
    pub assignee: Option<String>,
    /// Tickets with this tag.
    #[param(value_type = Option<schema::Tag>, inline)]
    pub tag: Option<String>,
    #[param(value_type = Option<schema::PageLimit>, inline)]
    pub limit: Option<u32>,
    #[param(value_type = Option<schema::TicketCursor>, inline)]
    pub before: Option<String>,
}

pub fn parse_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid("limit", format!("must be a whole number from 1 to {MAX_PAGE}"))),
    }
}

/// A tag as given is 1 to 50 characters without commas or control characters, not only whitespace (the
/// `Tag` schema); it is compared and stored trimmed and lowercased. `field` names the list entry in errors.
pub(crate) fn normalize_tag(field: String, raw: &str) -> Result<String, ApiError> {
    if raw.chars().count() > MAX_TAG_CHARS || raw.chars().any(|c| c.is_control() || c == ',') {
        return Err(ApiError::invalid(field, format!("a tag is at most {MAX_TAG_CHARS} characters, without commas or control characters")));
    }
    let tag = raw.trim().to_lowercase();
    if tag.is_empty() {
        return Err(ApiError::invalid(field, "a tag must not be empty"));
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
    )
)]
pub async fn list_tickets(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(p): ApiQuery<TicketListParams>,
) -> Result<Json<Page<TicketOut>>, ApiError> {
    let limit = parse_limit(p.limit)?;
    let assignee = match p.assignee.as_deref() {
        None => None,
        Some("none") => Some(AssigneeFilter::Unassigned),
        Some(id) => {
            Some(AssigneeFilter::Agent(digits(id, 18).ok_or_else(|| ApiError::invalid("assignee", "must be an agent id or `none`"))?))
        }
    };
    let tag = p.tag.as_deref().map(|t| normalize_tag("tag".into(), t)).transpose()?;
    let before_id = match p.before.as_deref() {
        None => None,
        Some(c) => Some(digits(c, 18).ok_or_else(|| ApiError::invalid("before", "is not a cursor returned by this API"))?),
    };
    let business_number_id = match p.business_number.as_deref() {
        None => None,
        Some(pnid) => match state.numbers.get(pnid) {
            Some(n) => Some(n.id),
            None => return Ok(Json(Page { data: Vec::new(), next: None })),
        },
    };
    let query = TicketQuery { status: p.status, business_number_id, assignee, tag, before_id, limit };
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
    #[schema(value_type = Option<schema::TicketStatus>)]
    pub status: Option<TicketStatus>,
    /// New priority.
    #[schema(value_type = Option<schema::Priority>)]
    pub priority: Option<windowdesk_core::routing::Priority>,
    /// An agent id, or null to unassign.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable = true)]
    pub assignee_id: Option<Option<i64>>,
    /// Replaces all tags.
    #[schema(value_type = Option<Vec<schema::Tag>>)]
    pub tags: Option<Vec<String>>,
    /// Tags to add (after `tags`).
    #[schema(value_type = Option<Vec<schema::Tag>>)]
    pub add_tags: Option<Vec<String>>,
    /// Tags to remove (after `tags` and `add_tags`).
    #[schema(value_type = Option<Vec<schema::Tag>>)]
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
        (status = 404, description = "No such ticket", body = super::error::ErrorBody),
        (status = 409, description = "The ticket is closed, so read-only", body = super::error::ErrorBody),
        (status = 422, description = "A field has an invalid value, or `assignee_id` names no agent; `details.field` names it",
         body = super::error::ErrorBody),
    )
)]
pub async fn patch_ticket(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<TicketPatch>,
) -> Result<Json<TicketOut>, ApiError> {
    if let Some(Some(agent)) = patch.assignee_id {
        if state.store.agent(agent).await?.is_none() {
            return Err(ApiError::invalid("assignee_id", format!("there is no agent {agent}")));
        }
    }
    let change = TicketChange {
        status: patch.status,
        assignee_id: patch.assignee_id,
        tags: patch.tags.as_deref().map(|t| normalize_tags("tags", t)).transpose()?,
        add_tags: normalize_tags("add_tags", patch.add_tags.as_deref().unwrap_or_default())?,
        remove_tags: normalize_tags("remove_tags", patch.remove_tags.as_deref().unwrap_or_default())?,
        priority: patch.priority,
    };
    let now = state.clock.now();
    let summary = state.store.update_ticket(id, &change, &caller.actor(), now).await?.ok_or_else(|| no_ticket(id))?;
    state.events.ticket(id);
    Ok(Json(TicketOut::new(summary, state.policy, now)))
}
