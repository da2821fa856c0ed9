//! The customer's page (issue 16 item 1): their name (editable), every identity they have (a
//! WhatsApp number and/or username per business number, with its window), notes about them, and
//! every ticket they opened on any business number.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use windowdesk_store::{CustomerProfile, InboxCursor, InboxItem, TicketSummary};

use super::components::{self, Actors};
use super::inbox::Rows;
use super::render::{self, nav_counts, Nav};
use super::session::Agent;
use super::{format, WebError};
use crate::customers::{self, CustomerError};
use crate::replies::MAX_TEXT_CHARS;
use crate::AppState;

/// Tickets the page lists at a time.
const TICKETS: u32 = 20;

#[derive(Deserialize)]
pub struct CustomerQuery {
    done: Option<String>,
    before: Option<i64>,
}

/// How a refused change to a customer (rename, note, merge, undo) reads on a page.
pub(super) fn web_error(e: CustomerError) -> WebError {
    match e {
        CustomerError::Invalid { .. } => WebError::BadRequest(e.to_string()),
        CustomerError::NotFound(id) => WebError::NotFound(format!("There is no customer {id}.")),
        CustomerError::NoMerge(id) => WebError::NotFound(format!("There is no merge {id}.")),
        CustomerError::Store(windowdesk_store::StoreError::Conflict(m)) => WebError::Conflict(format!("Not done: {m}.")),
        CustomerError::Store(s) => s.into(),
    }
}

/// `GET /customers/{id}`.
pub async fn customer_page(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Query(q): Query<CustomerQuery>,
) -> Result<Html<String>, WebError> {
    let profile = state.store.customer(id).await?.ok_or_else(|| WebError::NotFound(format!("There is no customer {id}.")))?;
    let tickets = state.store.customer_tickets(id, q.before, TICKETS + 1).await?;
    let (suggestions, merges) = tokio::try_join!(state.store.duplicate_suggestions(id), state.store.customer_merges(id))?;
    let counts = nav_counts(&state, &agent).await?;
    let now = state.clock.now();
    let (_, actors) = Actors::load(&state).await?;
    let mut rows = Rows::new(&state, &agent, now, &actors);
    rows.pickable = false;
    let content = html! {
        h1 #customer-name { (profile.name) }
        @if let Some(n) = render::notice(q.done.as_deref()) { (n) }
        @if let Some(into) = profile.merged_into {
            p.notice #merged-into role="status" { (profile.name) " was merged into " a href={"/customers/" (into)} { "another customer" } ": their tickets, numbers and notes are there now." }
        }
        dl.facts #customer-facts {
            dt { "Customer since" } dd { (format::full_time(profile.created_at, agent.tz())) }
            dt { "Tickets" } dd { (profile.ticket_count) " on " (numbers_of(&profile)) }
        }
        (identities(&state, &profile, &agent, now))
        (tickets_section(&profile, &tickets, &rows, q.before))
        (notes_section(&profile, &agent, &actors, now))
        (super::merge::section(&profile, &suggestions, &merges, &agent, &actors, now))
        (name_form(&profile, &agent))
    };
    Ok(Html(render::page(&agent, &profile.name, Nav::Customer, &counts, now, content).into_string()))
}

fn numbers_of(p: &CustomerProfile) -> String {
    let mut numbers: Vec<&str> = p.identities.iter().map(|i| i.business_display_number.as_str()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    match numbers.len() {
        0 => "no business number".to_owned(),
        1 => numbers[0].to_owned(),
        n => format!("{n} business numbers"),
    }
}

fn identities(state: &AppState, p: &CustomerProfile, agent: &Agent, now: windowdesk_core::Timestamp) -> Markup {
    html! {
        h2 #identities-title { "WhatsApp" }
        p.hint { "How each business number knows this customer. Replies on a ticket always go out from the number it came in on, to the identity that wrote." }
        div.table-wrap {
            table #identities aria-labelledby="identities-title" {
                thead { tr { th scope="col" { "Number" } th scope="col" { "Business number" } th scope="col" { "Profile name" } th scope="col" { "Window" } th scope="col" { "First wrote" } } }
                tbody {
                    @for i in &p.identities {
                        tr data-identity-id=(i.id) {
                            td {
                                @match &i.wa_id {
                                    Some(wa) => span.phone data-wa-id=(wa) { (windowdesk_core::phone::display_international(wa)) },
                                    None => span.hint { "hidden (username only)" },
                                }
                                @if let Some(b) = &i.bsuid { br; span.hint title="Business-scoped user id" { (b) } }
                            }
                            td { (i.business_display_number) }
                            td { (i.profile_name.as_deref().unwrap_or("—")) }
                            td { (components::window_pill(&i.window.state(state.policy, now), now)) }
                            td { (format::full_time(i.created_at, agent.tz())) }
                        }
                    }
                }
            }
        }
    }
}

fn tickets_section(p: &CustomerProfile, tickets: &[TicketSummary], rows: &Rows<'_>, before: Option<i64>) -> Markup {
    let page = TICKETS as usize;
    html! {
        section.list #customer-tickets aria-labelledby="customer-tickets-title" {
            h2 #customer-tickets-title { "Tickets" }
            @if tickets.is_empty() { p.empty { "No tickets." } }
            ul.tickets {
                @for s in tickets.iter().take(page) {
                    (rows.row(&InboxItem {
                        summary: s.clone(),
                        unread: false,
                        cursor: InboxCursor { key: s.ticket.last_message_at.unix_millis(), id: s.ticket.id },
                        latest: None,
                        waiting_since: None,
                    }))
                }
            }
            @if tickets.len() > page {
                p.more { a.more-link href={"/customers/" (p.contact_id) "?before=" (tickets[page - 1].ticket.id) "#customer-tickets"} { "Older tickets" } }
            }
            @if before.is_some() { p { a href={"/customers/" (p.contact_id)} { "Newest tickets" } } }
        }
    }
}

fn notes_section(p: &CustomerProfile, agent: &Agent, actors: &Actors, now: windowdesk_core::Timestamp) -> Markup {
    html! {
        section #customer-notes aria-labelledby="customer-notes-title" {
            h2 #customer-notes-title { "Notes about " (p.name) }
            p.hint { "Seen by agents only, on every ticket of this customer." }
            @if p.notes.is_empty() { p.empty { "No notes yet." } }
            ul.customer-notes {
                @for n in &p.notes {
                    li.customer-note data-note-id=(n.id) {
                        p.note-head { strong { (actors.name(&n.author)) } " · " (components::time(n.created_at, now, agent)) }
                        p.note-body { (n.body) }
                    }
                }
            }
            form #customer-note-form method="post" action={"/customers/" (p.contact_id) "/notes"} {
                input type="hidden" name="csrf" value=(agent.csrf());
                label for="customer-note" { "Add a note" }
                textarea #customer-note name="body" rows="3" required maxlength=(MAX_TEXT_CHARS) {}
                button #add-customer-note type="submit" { "Add note" }
            }
        }
    }
}

fn name_form(p: &CustomerProfile, agent: &Agent) -> Markup {
    html! {
        h2 #name-title { "Name" }
        form #customer-name-form method="post" action={"/customers/" (p.contact_id) "/name"} aria-labelledby="name-title" {
            input type="hidden" name="csrf" value=(agent.csrf());
            label for="customer-name-input" { "Name shown everywhere in the desk" }
            input #customer-name-input name="name" value=(p.name) required maxlength=(crate::api::admin::MAX_NAME_CHARS);
            @if p.name_is_default { p.hint { "This is the name WhatsApp gave; until you change it, it follows their WhatsApp profile." } }
            button #save-customer-name type="submit" { "Save name" }
        }
    }
}

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

/// `POST /customers/{id}/name`.
pub async fn rename(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(f): Form<NameForm>,
) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    customers::rename(state.store.as_ref(), id, &f.name).await.map_err(web_error)?;
    tracing::info!(contact_id = id, by = agent.id(), "customer renamed");
    Ok(Redirect::to(&format!("/customers/{id}?done=saved")).into_response())
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    body: String,
}

/// `POST /customers/{id}/notes`.
pub async fn add_note(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(f): Form<NoteForm>,
) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    match customers::add_note(state.store.as_ref(), id, &agent.actor(), &f.body, state.clock.now()).await {
        Ok(_) => Ok(Redirect::to(&format!("/customers/{id}?done=noted#customer-notes")).into_response()),
        Err(e @ CustomerError::Invalid { .. }) => Ok((StatusCode::BAD_REQUEST, web_error(e)).into_response()),
        Err(e) => Err(web_error(e)),
    }
}
