//! The search page (SPEC C3, issue 16 item 3): one box (in every page's header too, `/` focuses it),
//! results in tabs for tickets, customers and messages, each tab saying how many it found on its
//! first page. The query language is core's; a malformed query is shown back with the reason.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use windowdesk_core::search::{snippet, Piece};
use windowdesk_core::Timestamp;
use windowdesk_store::{CustomerHit, InboxCursor, InboxItem, MessageHit, Search, TicketSummary};

use super::components::{self, Actors};
use super::inbox::Rows;
use super::render::{self, nav_counts, Nav};
use super::session::Agent;
use super::WebError;
use crate::search::{resolve, SearchError};
use crate::AppState;

/// Results a tab shows at a time.
const PAGE: u32 = 20;
/// Characters of a message around its first match.
const SNIPPET_CHARS: usize = 160;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Tab {
    #[default]
    Tickets,
    Customers,
    Messages,
}

impl Tab {
    const ALL: [Tab; 3] = [Tab::Tickets, Tab::Customers, Tab::Messages];

    fn key(self) -> &'static str {
        match self {
            Tab::Tickets => "tickets",
            Tab::Customers => "customers",
            Tab::Messages => "messages",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Tab::Tickets => "Tickets",
            Tab::Customers => "Customers",
            Tab::Messages => "Messages",
        }
    }
}

#[derive(Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    tab: Option<Tab>,
    before: Option<i64>,
}

fn link(q: &str, tab: Tab, before: Option<i64>) -> String {
    let mut pairs = vec![("q", q.to_owned()), ("tab", tab.key().to_owned())];
    if let Some(b) = before {
        pairs.push(("before", b.to_string()));
    }
    format!("/search?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
}

/// What one search found, each kind one page long (and whether there is more).
struct Found {
    tickets: Vec<TicketSummary>,
    customers: Vec<CustomerHit>,
    messages: Vec<MessageHit>,
}

/// `GET /search?q=…&tab=…`.
pub async fn search_page(State(state): State<AppState>, agent: Agent, Query(f): Query<SearchForm>) -> Result<Response, WebError> {
    let counts = nav_counts(&state, &agent).await?;
    let now = state.clock.now();
    let q = f.q.trim().to_owned();
    let tab = f.tab.unwrap_or_default();
    let (status, body) = if q.is_empty() {
        (StatusCode::OK, html! { (search_form(&q, tab)) (help(true)) })
    } else {
        match resolve(&state, &q, Some(agent.id()), None, PAGE + 1).await {
            // The page itself is fine: it shows what is wrong with the query, next to the query.
            Err(SearchError::Query(message)) => (
                StatusCode::OK,
                html! {
                    (search_form(&q, tab))
                    p.error role="alert" #search-error { "Not searched: " (message) }
                    (help(true))
                },
            ),
            Err(SearchError::Store(e)) => return Err(e.into()),
            Ok(first) => {
                let found = run(&state, &first, tab, f.before).await?;
                (StatusCode::OK, results(&state, &agent, &q, tab, f.before, &first, found, now).await?)
            }
        }
    };
    let content = html! { h1 { "Search" } (body) };
    let title = if q.is_empty() { "Search".to_owned() } else { format!("{q} · Search") };
    Ok((status, Html(render::page(&agent, &title, Nav::Search, &counts, now, content).into_string())).into_response())
}

/// The three searches: the chosen tab from `before`, the others from the start (for their counts).
async fn run(state: &AppState, first: &Search, tab: Tab, before: Option<i64>) -> Result<Found, WebError> {
    let paged = |t: Tab| Search { before: if t == tab { before } else { None }, ..first.clone() };
    let (t, c, m) = (paged(Tab::Tickets), paged(Tab::Customers), paged(Tab::Messages));
    let (tickets, customers, messages) =
        tokio::try_join!(state.store.search_tickets(&t), state.store.search_customers(&c), state.store.search_messages(&m))?;
    Ok(Found { tickets, customers, messages })
}

#[allow(clippy::too_many_arguments)]
async fn results(
    state: &AppState,
    agent: &Agent,
    q: &str,
    tab: Tab,
    before: Option<i64>,
    first: &Search,
    found: Found,
    now: Timestamp,
) -> Result<Markup, WebError> {
    let page = PAGE as usize;
    let shown = |n: usize| if n > page { format!("{page}+") } else { n.to_string() };
    let count = |t: Tab| match t {
        Tab::Tickets => found.tickets.len(),
        Tab::Customers => found.customers.len(),
        Tab::Messages => found.messages.len(),
    };
    let (_, actors) = Actors::load(state).await?;
    let mut rows = Rows::new(state, agent, now, &actors);
    rows.pickable = false;
    let words = first.query.words();
    Ok(html! {
        (search_form(q, tab))
        nav.filters.search-tabs aria-label="Results" {
            ul.tabs {
                @for t in Tab::ALL {
                    li {
                        a href=(link(q, t, None)) aria-current=[(t == tab).then_some("page")] data-tab=(t.key()) {
                            (t.title()) " " span.count data-count={"search-" (t.key())} { (shown(count(t))) }
                        }
                    }
                }
            }
        }
        section #search-results data-tab=(tab.key()) aria-label={(tab.title()) " found"} {
            @match tab {
                Tab::Tickets => {
                    @if found.tickets.is_empty() { p.empty { (empty_text(first, tab)) } }
                    ul.tickets { @for s in found.tickets.iter().take(page) { (rows.row(&as_item(s))) } }
                    @if found.tickets.len() > page { (more(q, tab, found.tickets[page - 1].ticket.id)) }
                }
                Tab::Customers => {
                    @if found.customers.is_empty() { p.empty { (empty_text(first, tab)) } }
                    ul.customers { @for c in found.customers.iter().take(page) { (customer_row(c)) } }
                    @if found.customers.len() > page { (more(q, tab, found.customers[page - 1].contact_id)) }
                }
                Tab::Messages => {
                    @if found.messages.is_empty() { p.empty { (empty_text(first, tab)) } }
                    ul.message-hits { @for m in found.messages.iter().take(page) { (message_row(m, &words, agent, now)) } }
                    @if found.messages.len() > page { (more(q, tab, found.messages[page - 1].message_id)) }
                }
            }
            @if before.is_some() { p { a href=(link(q, tab, None)) { "Back to the first results" } } }
        }
        (help(false))
    })
}

fn empty_text(s: &Search, tab: Tab) -> &'static str {
    match tab {
        Tab::Customers if !s.query.has_terms() => "Customers are found by their name or number: add words or a number to the filters.",
        Tab::Messages if s.query.text.is_empty() => "Messages are found by their words: add a word to the search.",
        _ => "Nothing found.",
    }
}

fn more(q: &str, tab: Tab, last: i64) -> Markup {
    html! { p.more { a.more-link href=(link(q, tab, Some(last))) { "More " (tab.title().to_lowercase()) } } }
}

/// A ticket result as a list row (no unread marker: search is not a queue).
fn as_item(s: &TicketSummary) -> InboxItem {
    InboxItem {
        summary: s.clone(),
        unread: false,
        cursor: InboxCursor { key: s.ticket.last_message_at.unix_millis(), id: s.ticket.id },
        latest: None,
        waiting_since: None,
    }
}

fn customer_row(c: &CustomerHit) -> Markup {
    html! {
        li.customer-row data-contact-id=(c.contact_id) {
            a href={"/customers/" (c.contact_id)} {
                span.name { (c.name) }
                span.meta {
                    @for i in &c.identities {
                        span.identity {
                            @match &i.wa_id {
                                Some(wa) => (windowdesk_core::phone::display_international(wa)),
                                None => "username only",
                            }
                            span.hint { " on " (i.business_display_number) }
                        }
                    }
                    span.tickets-count { (c.tickets) @if c.tickets == 1 { " ticket" } @else { " tickets" } }
                }
            }
        }
    }
}

/// Text with its matches marked.
pub fn marked(pieces: &[Piece]) -> Markup {
    html! { @for p in pieces { @if p.hit { mark { (p.text) } } @else { (p.text) } } }
}

fn message_row(m: &MessageHit, words: &[String], agent: &Agent, now: Timestamp) -> Markup {
    let who = match m.direction.as_str() {
        "inbound" => m.contact_name.clone(),
        "note" => "Note".to_owned(),
        _ => "Reply".to_owned(),
    };
    html! {
        li.message-hit data-message-id=(m.message_id) data-direction=(m.direction) {
            a href={"/tickets/" (m.ticket_id) "#m" (m.message_id)} {
                span.name { (m.contact_name) " · " span.subject { (m.ticket_subject) } }
                span.latest { span.who { (who) } ": " span.excerpt { (marked(&snippet(&m.body, words, SNIPPET_CHARS))) } }
                span.meta {
                    (components::status_pill(m.ticket_status))
                    span.ticket-ref { "#" (m.ticket_id) }
                    (components::time(m.sent_at, now, agent))
                }
            }
        }
    }
}

fn search_form(q: &str, tab: Tab) -> Markup {
    html! {
        form #search-form method="get" action="/search" role="search" aria-label="Search tickets, customers and messages" {
            input type="hidden" name="tab" value=(tab.key());
            div.search-row {
                label.sr for="search-page-q" { "Search" }
                input #search-page-q type="search" name="q" value=(q) maxlength=(windowdesk_core::search::MAX_QUERY_CHARS)
                    placeholder="Words, a number, or filters such as status:open" autocomplete="off";
                button #search-submit type="submit" { "Search" }
            }
        }
    }
}

fn help(open: bool) -> Markup {
    html! {
        details.search-help open[open] {
            summary { "How to search" }
            dl {
                dt { code { "entrega sábado" } } dd { "Messages, ticket subjects and customer names with every word; accents and case do not matter." }
                dt { code { "\"mein paket\"" } } dd { "Words in this order. Quote a number to find it in text: " code { "\"100423\"" } "." }
                dt { code { "whatsapp:\"3211\"" } } dd { "Customers whose WhatsApp number contains these digits, however it is written: " code { "whatsapp:\"123)123-3\"" } ", " code { "+1 123 123 3211" } " or " code { "1231233211" } " all work." }
                dt { code { "status:open,pending" } } dd { "Tickets in these statuses." }
                dt { code { "assignee:me" } ", " code { "assignee:none" } ", " code { "assignee:ana@example.com" } } dd { "Tickets by who is assigned." }
                dt { code { "number:15550001111" } } dd { "Tickets of one business number (its digits or phone number id)." }
                dt { code { "tag:vip" } } dd { "Tickets with this tag." }
                dt { code { "window:open" } ", " code { "window:closing" } ", " code { "window:closed" } } dd { "Tickets by their customer service window." }
            }
            p.hint { "Combine them: " code { "status:open window:closing tag:vip" } ". Press " kbd { "/" } " anywhere to search." }
        }
    }
}
