//! Customers (issue 16 item 1): a customer's profile with their identities and notes, their
//! tickets on every business number, renaming, and notes about them. Finding customers is
//! `GET /api/v1/search/customers`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use windowdesk_store::{CustomerNote, CustomerProfile};

use super::auth::ApiCaller;
use super::dto::{rfc3339, Page, TicketOut, WindowOut};
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, PathId};
use super::schema;
use super::tickets::parse_limit;
use crate::customers::{self, CustomerError};
use crate::AppState;

impl From<CustomerError> for ApiError {
    fn from(e: CustomerError) -> Self {
        match e {
            CustomerError::Invalid { field, message } => ApiError::invalid(field, message),
            CustomerError::NotFound(id) => ApiError::NotFound(format!("there is no customer {id}")),
            CustomerError::NoMerge(id) => ApiError::NotFound(format!("there is no merge {id}")),
            CustomerError::Store(s) => s.into(),
        }
    }
}

/// A customer: every identity and the notes about them.
#[derive(Serialize, ToSchema)]
pub struct CustomerDetail {
    pub id: i64,
    pub name: String,
    /// Still the name WhatsApp gave (it then follows their profile); false once someone set it.
    pub name_is_default: bool,
    pub created_at: String,
    /// Set when this customer was merged into another: everything of theirs is there now.
    pub merged_into: Option<i64>,
    pub identities: Vec<CustomerIdentityOut>,
    /// Newest first.
    pub notes: Vec<CustomerNoteOut>,
    /// Tickets they opened on any business number (`GET /api/v1/customers/{id}/tickets` lists them).
    pub ticket_count: i64,
}

/// The customer as one business number knows them.
#[derive(Serialize, ToSchema)]
pub struct CustomerIdentityOut {
    pub id: i64,
    pub wa_id: Option<String>,
    /// The number in international format, e.g. `+1 650-555-1234`.
    pub wa_display: Option<String>,
    pub bsuid: Option<String>,
    pub profile_name: Option<String>,
    pub phone_number_id: String,
    pub business_display_number: String,
    pub window: WindowOut,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct CustomerNoteOut {
    pub id: i64,
    /// `agent:<id>` or `api_token:<id>`.
    pub author: String,
    pub body: String,
    pub created_at: String,
}

impl From<CustomerNote> for CustomerNoteOut {
    fn from(n: CustomerNote) -> Self {
        CustomerNoteOut { id: n.id, author: n.author, body: n.body, created_at: rfc3339(n.created_at) }
    }
}

fn detail(p: CustomerProfile, state: &AppState) -> CustomerDetail {
    let now = state.clock.now();
    CustomerDetail {
        id: p.contact_id,
        name: p.name,
        name_is_default: p.name_is_default,
        created_at: rfc3339(p.created_at),
        merged_into: p.merged_into,
        identities: p
            .identities
            .into_iter()
            .map(|i| CustomerIdentityOut {
                id: i.id,
                wa_display: i.wa_id.as_deref().map(windowdesk_core::phone::display_international),
                wa_id: i.wa_id,
                bsuid: i.bsuid,
                profile_name: i.profile_name,
                phone_number_id: i.phone_number_id,
                business_display_number: i.business_display_number,
                window: WindowOut::new(&i.window, state.policy, now),
                created_at: rfc3339(i.created_at),
            })
            .collect(),
        notes: p.notes.into_iter().map(CustomerNoteOut::from).collect(),
        ticket_count: p.ticket_count,
    }
}

fn no_customer(id: i64) -> ApiError {
    ApiError::NotFound(format!("there is no customer {id}"))
}

#[utoipa::path(
    get, path = "/api/v1/customers/{id}", tag = "customers",
    params(("id" = i64, Path, description = "Customer (contact) id")),
    responses(
        (status = 200, description = "The customer with every identity and the notes about them", body = CustomerDetail),
        (status = 404, description = "No such customer", body = super::error::ErrorBody),
    )
)]
pub async fn get_customer(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<Json<CustomerDetail>, ApiError> {
    let p = state.store.customer(id).await?.ok_or_else(|| no_customer(id))?;
    Ok(Json(detail(p, &state)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    /// The name shown everywhere; it no longer follows their WhatsApp profile.
    #[schema(value_type = schema::AgentName)]
    pub name: String,
}

#[utoipa::path(
    patch, path = "/api/v1/customers/{id}", tag = "customers",
    params(("id" = i64, Path, description = "Customer (contact) id")),
    request_body = CustomerPatch,
    responses(
        (status = 200, description = "The customer after the change", body = CustomerDetail),
        (status = 404, description = "No such customer", body = super::error::ErrorBody),
        (status = 422, description = "The name is empty or too long (details.field is `name`)", body = super::error::ErrorBody),
    )
)]
pub async fn patch_customer(
    State(state): State<AppState>,
    _caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<CustomerPatch>,
) -> Result<Json<CustomerDetail>, ApiError> {
    customers::rename(state.store.as_ref(), id, &patch.name).await?;
    let p = state.store.customer(id).await?.ok_or_else(|| no_customer(id))?;
    Ok(Json(detail(p, &state)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerTicketsParams {
    #[param(value_type = Option<schema::PageLimit>, inline)]
    pub limit: Option<u32>,
    #[param(value_type = Option<schema::TicketCursor>, inline)]
    pub before: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/customers/{id}/tickets", tag = "customers",
    params(("id" = i64, Path, description = "Customer (contact) id"), CustomerTicketsParams),
    responses(
        (status = 200, description = "Their tickets on every business number, newest first", body = Page<TicketOut>),
        (status = 404, description = "No such customer", body = super::error::ErrorBody),
    )
)]
pub async fn customer_tickets(
    State(state): State<AppState>,
    _caller: ApiCaller,
    PathId(id): PathId,
    ApiQuery(p): ApiQuery<CustomerTicketsParams>,
) -> Result<Json<Page<TicketOut>>, ApiError> {
    let limit = parse_limit(p.limit)?;
    let before = match p.before.as_deref() {
        None => None,
        Some(c) => Some(schema::digits(c, 18).ok_or_else(|| ApiError::invalid("before", "is not a cursor returned by this API"))?),
    };
    if state.store.customer(id).await?.is_none() {
        return Err(no_customer(id));
    }
    let rows = state.store.customer_tickets(id, before, limit).await?;
    let next = (rows.len() == limit as usize).then(|| rows.last().map(|r| r.ticket.id.to_string())).flatten();
    let now = state.clock.now();
    Ok(Json(Page { data: rows.into_iter().map(|s| TicketOut::new(s, state.policy, now)).collect(), next }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomerNote {
    #[schema(value_type = schema::MessageText)]
    pub body: String,
}

#[utoipa::path(
    post, path = "/api/v1/customers/{id}/notes", tag = "customers",
    params(("id" = i64, Path, description = "Customer (contact) id")),
    request_body = NewCustomerNote,
    responses(
        (status = 201, description = "The note", body = CustomerNoteOut),
        (status = 404, description = "No such customer", body = super::error::ErrorBody),
        (status = 422, description = "The body is empty or too long (details.field is `body`)", body = super::error::ErrorBody),
    )
)]
pub async fn post_customer_note(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(note): ApiJson<NewCustomerNote>,
) -> Result<(StatusCode, Json<CustomerNoteOut>), ApiError> {
    let n = customers::add_note(state.store.as_ref(), id, &caller.actor(), &note.body, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(n.into())))
}

/// A merge of one customer into another, and what moved.
#[derive(Serialize, ToSchema)]
pub struct MergeOut {
    pub id: i64,
    /// The customer everything moved to.
    pub target_id: i64,
    /// The customer merged away (kept, empty, pointing at the target).
    pub source_id: i64,
    pub source_name: String,
    pub target_name: String,
    pub identity_ids: Vec<i64>,
    pub ticket_ids: Vec<i64>,
    pub note_ids: Vec<i64>,
    pub merged_by: String,
    pub merged_at: String,
    pub undone_by: Option<String>,
    pub undone_at: Option<String>,
}

impl From<windowdesk_store::MergeRecord> for MergeOut {
    fn from(m: windowdesk_store::MergeRecord) -> Self {
        MergeOut {
            id: m.id,
            target_id: m.target_id,
            source_id: m.source_id,
            source_name: m.source_name,
            target_name: m.target_name,
            identity_ids: m.identity_ids,
            ticket_ids: m.ticket_ids,
            note_ids: m.note_ids,
            merged_by: m.merged_by,
            merged_at: rfc3339(m.merged_at),
            undone_by: m.undone_by,
            undone_at: m.undone_at.map(rfc3339),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The customer to merge into this one.
    pub source_id: i64,
}

#[utoipa::path(
    post, path = "/api/v1/customers/{id}/merge", tag = "customers",
    params(("id" = i64, Path, description = "The customer to merge into (the target)")),
    request_body = MergeBody,
    responses(
        (status = 200, description = "Merged: the source's identities, tickets and notes are the target's now; each ticket still replies through its own number", body = MergeOut),
        (status = 404, description = "No such customer (either one)", body = super::error::ErrorBody),
        (status = 409, description = "The same customer, or one already merged away", body = super::error::ErrorBody),
    )
)]
pub async fn merge_customer(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<MergeBody>,
) -> Result<Json<MergeOut>, ApiError> {
    Ok(Json(customers::merge(&state, id, body.source_id, &caller.actor()).await?.into()))
}

#[utoipa::path(
    get, path = "/api/v1/customers/{id}/merges", tag = "customers",
    params(("id" = i64, Path, description = "Customer (contact) id")),
    responses(
        (status = 200, description = "Merges into or out of this customer, newest first", body = Page<MergeOut>),
        (status = 404, description = "No such customer", body = super::error::ErrorBody),
    )
)]
pub async fn list_merges(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<Json<Page<MergeOut>>, ApiError> {
    if state.store.customer(id).await?.is_none() {
        return Err(no_customer(id));
    }
    let merges = state.store.customer_merges(id).await?;
    Ok(Json(Page { data: merges.into_iter().map(MergeOut::from).collect(), next: None }))
}

#[utoipa::path(
    post, path = "/api/v1/merges/{id}/undo", tag = "customers",
    params(("id" = i64, Path, description = "Merge id")),
    responses(
        (status = 200, description = "Undone: what moved went back, with the tickets opened since through a moved identity", body = MergeOut),
        (status = 404, description = "No such merge", body = super::error::ErrorBody),
        (status = 409, description = "Already undone, or one of the customers was merged again since", body = super::error::ErrorBody),
    )
)]
pub async fn undo_merge(State(state): State<AppState>, caller: ApiCaller, PathId(id): PathId) -> Result<Json<MergeOut>, ApiError> {
    Ok(Json(customers::undo_merge(&state, id, &caller.actor()).await?.into()))
}

/// Another customer who is likely the same person.
#[derive(Serialize, ToSchema)]
pub struct DuplicateOut {
    pub customer_id: i64,
    pub name: String,
    /// `same_number` (the same WhatsApp number wrote to another business number), `same_bsuid`
    /// (the same business-scoped user id), or `changed_number` (WhatsApp said this customer changed
    /// number to the other's).
    pub reason: String,
    /// The shared number or user id.
    pub value: String,
}

#[utoipa::path(
    get, path = "/api/v1/customers/{id}/duplicates", tag = "customers",
    params(("id" = i64, Path, description = "Customer (contact) id")),
    responses(
        (status = 200, description = "Customers who are likely the same person", body = Page<DuplicateOut>),
        (status = 404, description = "No such customer", body = super::error::ErrorBody),
    )
)]
pub async fn list_duplicates(
    State(state): State<AppState>,
    _caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<Page<DuplicateOut>>, ApiError> {
    if state.store.customer(id).await?.is_none() {
        return Err(no_customer(id));
    }
    let found = state.store.duplicate_suggestions(id).await?;
    let data = found
        .into_iter()
        .map(|d| {
            let (reason, value) = match d.reason {
                windowdesk_store::DuplicateReason::SameNumber { wa_id } => ("same_number", wa_id),
                windowdesk_store::DuplicateReason::SameBsuid { bsuid } => ("same_bsuid", bsuid),
                windowdesk_store::DuplicateReason::ChangedNumber { wa_id } => ("changed_number", wa_id),
            };
            DuplicateOut { customer_id: d.contact_id, name: d.name, reason: reason.to_owned(), value }
        })
        .collect();
    Ok(Json(Page { data, next: None }))
}
