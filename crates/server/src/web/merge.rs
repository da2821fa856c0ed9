//! Merging customers from the web (issue 16 item 2, SPEC C2): likely duplicates on the customer's
//! page, a preview of what moves before anything does, the merge in one transaction, and a history
//! of merges that an admin can undo.

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use windowdesk_store::{CustomerProfile, DuplicateReason, DuplicateSuggestion, MergeRecord};

use super::components::{self, Actors};
use super::customers::web_error;
use super::render::{self, nav_counts, Nav};
use super::session::Agent;
use super::WebError;
use crate::customers;
use crate::AppState;

fn reason(r: &DuplicateReason) -> String {
    let phone = |w: &str| windowdesk_core::phone::display_international(w);
    match r {
        DuplicateReason::SameNumber { wa_id } => format!("the same number, {}, wrote to another business number", phone(wa_id)),
        DuplicateReason::SameBsuid { bsuid } => format!("the same WhatsApp user id ({bsuid})"),
        DuplicateReason::ChangedNumber { wa_id } => format!("WhatsApp said this customer changed number to {}", phone(wa_id)),
    }
}

/// The customer page's merge part: where this customer went, who is likely the same person, a way
/// to find another one, and the merges so far.
pub fn section(
    p: &CustomerProfile,
    suggestions: &[DuplicateSuggestion],
    merges: &[MergeRecord],
    agent: &Agent,
    actors: &Actors,
    now: windowdesk_core::Timestamp,
) -> Markup {
    html! {
        section #merge aria-labelledby="merge-title" {
            h2 #merge-title { "Same person?" }
            @if p.merged_into.is_none() {
                @if suggestions.is_empty() {
                    p.empty #no-duplicates { "No likely duplicates." }
                } @else {
                    p.hint { "These customers are likely " (p.name) " too. Review a merge to see what would move." }
                    ul #duplicates {
                        @for s in suggestions {
                            li data-contact-id=(s.contact_id) {
                                a href={"/customers/" (s.contact_id)} { (s.name) } ": " (reason(&s.reason)) ". "
                                a.review-merge href={"/customers/" (p.contact_id) "/merge?source=" (s.contact_id)} { "Review merge into " (p.name) }
                            }
                        }
                    }
                }
                form #find-merge method="get" action={"/customers/" (p.contact_id) "/merge"} role="search" aria-label="Find a customer to merge into this one" {
                    label for="merge-q" { "Merge another customer into " (p.name) }
                    div.search-row {
                        input #merge-q type="search" name="q" placeholder="Their name or number" required maxlength=(windowdesk_core::search::MAX_QUERY_CHARS);
                        button #find-merge-submit type="submit" { "Find" }
                    }
                }
            }
            @if !merges.is_empty() {
                h3 { "Merges" }
                ul #merges {
                    @for m in merges {
                        li.merge data-merge-id=(m.id) data-undone=(m.undone_at.is_some()) {
                            (actors.name(&m.merged_by)) " merged "
                            a href={"/customers/" (m.source_id)} { (m.source_name) } " into "
                            a href={"/customers/" (m.target_id)} { (m.target_name) } " "
                            (components::time(m.merged_at, now, agent))
                            ": " (moved(m)) "."
                            @if let (Some(at), Some(by)) = (m.undone_at, &m.undone_by) {
                                " Undone by " (actors.name(by)) " " (components::time(at, now, agent)) "."
                            } @else if agent.is_admin() {
                                form.inline method="post" action={"/merges/" (m.id) "/undo"}
                                    data-confirm={"Undo this merge? " (m.source_name) " gets back what moved, and the tickets opened since through their numbers."} {
                                    input type="hidden" name="csrf" value=(agent.csrf());
                                    " " button.quiet.undo-merge type="submit" { "Undo" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn moved(m: &MergeRecord) -> String {
    let n = |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    format!(
        "{}, {} and {} moved",
        n(m.ticket_ids.len(), "ticket", "tickets"),
        n(m.identity_ids.len(), "identity", "identities"),
        n(m.note_ids.len(), "note", "notes")
    )
}

#[derive(Deserialize)]
pub struct MergeQuery {
    source: Option<i64>,
    q: Option<String>,
}

/// `GET /customers/{id}/merge?source=…` (the preview) or `?q=…` (find the customer to merge in).
pub async fn merge_page(
    State(state): State<AppState>,
    agent: Agent,
    Path(target): Path<i64>,
    Query(q): Query<MergeQuery>,
) -> Result<Html<String>, WebError> {
    let into = state.store.customer(target).await?.ok_or_else(|| WebError::NotFound(format!("There is no customer {target}.")))?;
    let counts = nav_counts(&state, &agent).await?;
    let now = state.clock.now();
    let body = match (q.source, q.q.as_deref().map(str::trim).filter(|s| !s.is_empty())) {
        (Some(source), _) => {
            let from = state.store.customer(source).await?.ok_or_else(|| WebError::NotFound(format!("There is no customer {source}.")))?;
            let tickets = state.store.customer_tickets(source, None, 11).await?;
            preview(&into, &from, &tickets, &agent)
        }
        (None, Some(query)) => {
            let found = match crate::search::resolve(&state, query, Some(agent.id()), None, 20).await {
                Ok(search) => Ok(state.store.search_customers(&search).await?),
                Err(crate::search::SearchError::Query(m)) => Err(m),
                Err(crate::search::SearchError::Store(e)) => return Err(e.into()),
            };
            choose(&into, query, found)
        }
        (None, None) => choose(&into, "", Ok(Vec::new())),
    };
    let content = html! { p.back { a href={"/customers/" (target)} { "← " (into.name) } } (body) };
    Ok(Html(render::page(&agent, &format!("Merge into {}", into.name), Nav::Customer, &counts, now, content).into_string()))
}

fn choose(into: &CustomerProfile, q: &str, found: Result<Vec<windowdesk_store::CustomerHit>, String>) -> Markup {
    html! {
        h1 { "Merge a customer into " (into.name) }
        form #find-merge method="get" action={"/customers/" (into.contact_id) "/merge"} role="search" aria-label="Find a customer to merge" {
            label for="merge-q" { "Their name or number" }
            div.search-row {
                input #merge-q type="search" name="q" value=(q) required maxlength=(windowdesk_core::search::MAX_QUERY_CHARS);
                button #find-merge-submit type="submit" { "Find" }
            }
        }
        @match found {
            Err(m) => p.error role="alert" #merge-search-error { "Not searched: " (m) },
            Ok(list) => {
                @let others: Vec<_> = list.into_iter().filter(|c| c.contact_id != into.contact_id).collect();
                @if others.is_empty() && !q.is_empty() { p.empty { "No other customer found." } }
                ul.customers #merge-candidates {
                    @for c in &others {
                        li.customer-row data-contact-id=(c.contact_id) {
                            a href={"/customers/" (into.contact_id) "/merge?source=" (c.contact_id)} {
                                span.name { (c.name) }
                                span.meta {
                                    @for i in &c.identities {
                                        span.identity { (i.wa_id.as_deref().map(windowdesk_core::phone::display_international).unwrap_or_else(|| "username only".into())) span.hint { " on " (i.business_display_number) } }
                                    }
                                    span { "Review merge" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn preview(into: &CustomerProfile, from: &CustomerProfile, tickets: &[windowdesk_store::TicketSummary], agent: &Agent) -> Markup {
    html! {
        h1 { "Merge " (from.name) " into " (into.name) "?" }
        @if from.contact_id == into.contact_id {
            p.error role="alert" { "That is the same customer." }
        } @else if let Some(other) = from.merged_into {
            p.error role="alert" { (from.name) " was already merged into " a href={"/customers/" (other)} { "another customer" } "." }
        } @else {
            p { "Everything of " strong { (from.name) } " moves to " strong { (into.name) } ", in one step:" }
            ul #merge-preview {
                li #moves-identities {
                    (from.identities.len()) @if from.identities.len() == 1 { " WhatsApp identity" } @else { " WhatsApp identities" } ": "
                    @for (n, i) in from.identities.iter().enumerate() {
                        @if n > 0 { ", " }
                        (i.wa_id.as_deref().map(windowdesk_core::phone::display_international).unwrap_or_else(|| "username only".into()))
                        " on " (i.business_display_number)
                    }
                }
                li #moves-tickets {
                    (from.ticket_count) @if from.ticket_count == 1 { " ticket" } @else { " tickets" }
                    @if !tickets.is_empty() {
                        ": "
                        @for (n, t) in tickets.iter().take(10).enumerate() {
                            @if n > 0 { ", " }
                            a href={"/tickets/" (t.ticket.id)} { "#" (t.ticket.id) }
                        }
                        @if from.ticket_count > 10 { " …" }
                    }
                }
                li #moves-notes { (from.notes.len()) @if from.notes.len() == 1 { " note" } @else { " notes" } }
            }
            p.hint { "Each ticket keeps replying through the number and WhatsApp identity it came in on. "
                (from.name) "'s page will point to " (into.name) ". The merge is recorded on both, and an admin can undo it." }
            form #merge-form method="post" action={"/customers/" (into.contact_id) "/merge"}
                data-confirm={"Merge " (from.name) " into " (into.name) "?"} {
                input type="hidden" name="csrf" value=(agent.csrf());
                input type="hidden" name="source" value=(from.contact_id);
                button #merge-submit type="submit" { "Merge into " (into.name) }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    csrf: String,
    source: i64,
}

/// `POST /customers/{id}/merge`.
pub async fn merge(
    State(state): State<AppState>,
    agent: Agent,
    Path(target): Path<i64>,
    Form(f): Form<MergeForm>,
) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    customers::merge(&state, target, f.source, &agent.actor()).await.map_err(web_error)?;
    Ok(Redirect::to(&format!("/customers/{target}?done=merged")).into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /merges/{id}/undo` (admins).
pub async fn undo(State(state): State<AppState>, agent: Agent, Path(id): Path<i64>, Form(f): Form<CsrfForm>) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    if !agent.is_admin() {
        return Err(WebError::Forbidden("Only admins undo merges.".into()));
    }
    let record = customers::undo_merge(&state, id, &agent.actor()).await.map_err(web_error)?;
    Ok(Redirect::to(&format!("/customers/{}?done=unmerged", record.source_id)).into_response())
}
