//! Search (SPEC C3): the search box's query language over the API, one endpoint per kind of result.
//! The query is parsed in core and resolved in [`crate::search`]; a malformed one is a 422 naming
//! `q` with the place and the reason.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use windowdesk_core::search::snippet;
use windowdesk_store::{CustomerHit, MessageHit, Search};

use super::auth::ApiCaller;
use super::dto::{rfc3339, Page, TicketOut};
use super::error::ApiError;
use super::extract::ApiQuery;
use super::schema::{self, digits};
use super::tickets::parse_limit;
use crate::search::{resolve, SearchError};
use crate::AppState;

/// Characters of a message around its first match.
pub const SNIPPET_CHARS: usize = 160;

/// `q` and paging, for every search endpoint.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The query: words, `"a phrase"`, `whatsapp:"3211"` or a bare number (5+ digits), and the
    /// filters `status:`, `assignee:` (`none` or an agent's email; `me` only in the web interface),
    /// `number:`, `tag:`, `window:open|closed|closing`. See docs/api.md.
    #[param(value_type = schema::SearchText, inline)]
    pub q: String,
    #[param(value_type = Option<schema::PageLimit>, inline)]
    pub limit: Option<u32>,
    #[param(value_type = Option<schema::TicketCursor>, inline)]
    pub before: Option<String>,
}

async fn search_for(state: &AppState, p: &SearchParams) -> Result<Search, ApiError> {
    let limit = parse_limit(p.limit)?;
    let before = match p.before.as_deref() {
        None => None,
        Some(c) => Some(digits(c, 18).ok_or_else(|| ApiError::invalid("before", "is not a cursor returned by this API"))?),
    };
    if p.q.trim().is_empty() {
        return Err(ApiError::invalid("q", "is empty: give words, a number or a filter such as status:open"));
    }
    resolve(state, &p.q, None, before, limit).await.map_err(|e| match e {
        SearchError::Query(m) => ApiError::invalid("q", m),
        SearchError::Store(s) => s.into(),
    })
}

fn next_of<T>(rows: &[T], limit: u32, id: impl Fn(&T) -> i64) -> Option<String> {
    (rows.len() == limit as usize).then(|| rows.last().map(|r| id(r).to_string())).flatten()
}

#[utoipa::path(
    get, path = "/api/v1/search/tickets", tag = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "Tickets that pass every filter and whose customer's number or subject or messages match, newest first", body = Page<TicketOut>),
        (status = 422, description = "The query cannot be read, or names an agent or number the desk does not have (details.field is `q`)", body = super::error::ErrorBody),
    )
)]
pub async fn search_tickets(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<Page<TicketOut>>, ApiError> {
    let search = search_for(&state, &p).await?;
    let rows = state.store.search_tickets(&search).await?;
    let next = next_of(&rows, search.limit, |r| r.ticket.id);
    let now = state.clock.now();
    Ok(Json(Page { data: rows.into_iter().map(|s| TicketOut::new(s, state.policy, now)).collect(), next }))
}

/// A customer found by a search.
#[derive(Serialize, ToSchema)]
pub struct CustomerOut {
    pub id: i64,
    pub name: String,
    /// The customer as each business number knows them.
    pub identities: Vec<IdentityOut>,
    /// Tickets they opened, on any business number.
    pub tickets: i64,
}

#[derive(Serialize, ToSchema)]
pub struct IdentityOut {
    pub id: i64,
    /// WhatsApp number digits (null for a username-only contact).
    pub wa_id: Option<String>,
    /// The number in international format, e.g. `+1 650-555-1234`.
    pub wa_display: Option<String>,
    /// Business-scoped user id, when Meta sent one.
    pub bsuid: Option<String>,
    /// Meta's phone number id of the business number.
    pub phone_number_id: String,
    pub business_display_number: String,
}

impl From<CustomerHit> for CustomerOut {
    fn from(c: CustomerHit) -> Self {
        CustomerOut {
            id: c.contact_id,
            name: c.name,
            identities: c
                .identities
                .into_iter()
                .map(|i| IdentityOut {
                    id: i.id,
                    wa_display: i.wa_id.as_deref().map(windowdesk_core::phone::display_international),
                    wa_id: i.wa_id,
                    bsuid: i.bsuid,
                    phone_number_id: i.phone_number_id,
                    business_display_number: i.business_display_number,
                })
                .collect(),
            tickets: c.tickets,
        }
    }
}

#[utoipa::path(
    get, path = "/api/v1/search/customers", tag = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "Customers whose number and name match the query's number and words (and who wrote to `number:`), newest first; none for a query of filters only", body = Page<CustomerOut>),
        (status = 422, description = "The query cannot be read (details.field is `q`)", body = super::error::ErrorBody),
    )
)]
pub async fn search_customers(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<Page<CustomerOut>>, ApiError> {
    let search = search_for(&state, &p).await?;
    let rows = state.store.search_customers(&search).await?;
    let next = next_of(&rows, search.limit, |r| r.contact_id);
    Ok(Json(Page { data: rows.into_iter().map(CustomerOut::from).collect(), next }))
}

/// A message found by a search, with the part around its first match.
#[derive(Serialize, ToSchema)]
pub struct MessageHitOut {
    pub id: i64,
    pub ticket_id: i64,
    /// `inbound` (the customer), `outbound` (the business) or `note`.
    pub direction: String,
    pub body: String,
    /// Up to 160 characters around the first match, in pieces; `hit` marks the matching words.
    pub snippet: Vec<SnippetPiece>,
    pub sent_at: String,
    pub contact_name: String,
    pub ticket_subject: String,
    #[schema(value_type = schema::TicketStatus)]
    pub ticket_status: String,
}

#[derive(Serialize, ToSchema)]
pub struct SnippetPiece {
    pub text: String,
    pub hit: bool,
}

pub fn message_out(m: MessageHit, words: &[String]) -> MessageHitOut {
    MessageHitOut {
        id: m.message_id,
        ticket_id: m.ticket_id,
        direction: m.direction,
        snippet: snippet(&m.body, words, SNIPPET_CHARS).into_iter().map(|p| SnippetPiece { text: p.text, hit: p.hit }).collect(),
        body: m.body,
        sent_at: rfc3339(m.sent_at),
        contact_name: m.contact_name,
        ticket_subject: m.ticket_subject,
        ticket_status: m.ticket_status.as_str().to_owned(),
    }
}

#[utoipa::path(
    get, path = "/api/v1/search/messages", tag = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "Messages and notes holding every word of the query, on tickets that pass its filters, newest first; none for a query without words", body = Page<MessageHitOut>),
        (status = 422, description = "The query cannot be read (details.field is `q`)", body = super::error::ErrorBody),
    )
)]
pub async fn search_messages(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<Page<MessageHitOut>>, ApiError> {
    let search = search_for(&state, &p).await?;
    let rows = state.store.search_messages(&search).await?;
    let next = next_of(&rows, search.limit, |r| r.message_id);
    let words = search.query.words();
    Ok(Json(Page { data: rows.into_iter().map(|m| message_out(m, &words)).collect(), next }))
}
