//! The notifier lists (Assigned to you, Unassigned), the views (Windows closing soon, saved filters),
//! Failed deliveries and Mentions. Lists show 20 rows and load more on demand.

use axum::extract::{Path, Query, State};
use axum::response::Html;
use maud::{html, Markup};
use serde::Deserialize;
use windowdesk_core::window::WindowPolicy;
use windowdesk_core::{TicketStatus, Timestamp};
use windowdesk_store::{Direction, FailedCursor, InboxCursor, InboxItem, InboxList, InboxQuery, InboxSort, ViewFilter};

use super::components::{self, Actors};
use super::format;
use super::render::{self, closing_soon, nav_counts, Nav};
use super::session::Agent;
use super::ways_out::WaysOut;
use super::WebError;
use crate::replies::{Outlook, ReplyError};
use crate::AppState;

pub const PAGE: u32 = 20;

/// Names of the lists `/inbox/more` can continue.
fn list_named(state: &AppState, agent: &Agent, name: &str, now: Timestamp) -> Result<InboxList, WebError> {
    Ok(match name {
        "assigned" => InboxList::AssignedTo(agent.id()),
        "unassigned" => InboxList::Unassigned,
        "closing-soon" => closing_soon(state, now),
        other => match BuiltIn::named(other) {
            Some(b) => b.list(),
            None => return Err(WebError::BadRequest(format!("list: unknown list {other:?}"))),
        },
    })
}

async fn page_of(state: &AppState, agent: &Agent, list: InboxList, after: Option<InboxCursor>) -> Result<Vec<InboxItem>, WebError> {
    page_ordered(state, agent, list, after, &ListOrder::default()).await
}

async fn page_ordered(
    state: &AppState,
    agent: &Agent,
    list: InboxList,
    after: Option<InboxCursor>,
    order: &ListOrder,
) -> Result<Vec<InboxItem>, WebError> {
    let query = InboxQuery { list, reader: agent.id(), after, limit: PAGE, number: order.number, sort: order.sort(state) };
    Ok(state.store.inbox(&query).await?)
}

/// How a view is narrowed and ordered (`?number=ID&sort=newest|waiting|window`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ListOrder {
    number: Option<i64>,
    sort: SortChoice,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum SortChoice {
    #[default]
    Newest,
    Waiting,
    Window,
}

impl SortChoice {
    const ALL: [SortChoice; 3] = [SortChoice::Newest, SortChoice::Waiting, SortChoice::Window];

    fn param(self) -> &'static str {
        match self {
            SortChoice::Newest => "newest",
            SortChoice::Waiting => "waiting",
            SortChoice::Window => "window",
        }
    }

    fn label(self) -> &'static str {
        match self {
            SortChoice::Newest => "Newest customer message first",
            SortChoice::Waiting => "Waiting longest first",
            SortChoice::Window => "Window ending soonest (open windows only)",
        }
    }
}

impl ListOrder {
    fn parse(state: &AppState, number: Option<&str>, sort: Option<&str>) -> Result<ListOrder, WebError> {
        let number = match number.map(str::trim).filter(|n| !n.is_empty()) {
            None => None,
            Some(raw) => {
                let id: i64 = raw.parse().map_err(|_| WebError::BadRequest(format!("number: not a business number: {raw:?}")))?;
                state.numbers.by_id(id).ok_or_else(|| WebError::BadRequest(format!("number: this desk has no business number {id}")))?;
                Some(id)
            }
        };
        let sort = match sort.map(str::trim).filter(|s| !s.is_empty()) {
            None => SortChoice::Newest,
            Some(raw) => SortChoice::ALL
                .into_iter()
                .find(|c| c.param() == raw)
                .ok_or_else(|| WebError::BadRequest(format!("sort: newest, waiting or window, got {raw:?}")))?,
        };
        Ok(ListOrder { number, sort })
    }

    fn sort(&self, state: &AppState) -> InboxSort {
        match self.sort {
            SortChoice::Newest => InboxSort::Newest,
            SortChoice::Waiting => InboxSort::WaitingLongest,
            SortChoice::Window => {
                // The customer wrote within the window's length: the window is open now (a channel
                // without a window has every window open).
                let open_after = state.policy.csw.map_or(Timestamp::from_unix_millis(0), |csw| state.clock.now().minus(csw));
                InboxSort::WindowEndingSoonest { open_after }
            }
        }
    }

    /// The query string that keeps this order (`&number=2&sort=waiting`), empty for the default.
    fn params(&self) -> String {
        let mut out = String::new();
        if let Some(n) = self.number {
            out.push_str(&format!("&number={n}"));
        }
        if self.sort != SortChoice::Newest {
            out.push_str(&format!("&sort={}", self.sort.param()));
        }
        out
    }

    /// The form that changes it, on `action`.
    fn form(&self, state: &AppState, action: &str) -> Markup {
        let numbers = state.numbers.all();
        html! {
            form.inline.filter #list-order method="get" action=(action) {
                @if numbers.len() > 1 {
                    label for="order-number" { "Number" }
                    select #order-number name="number" {
                        option value="" selected[self.number.is_none()] { "All numbers" }
                        @for n in &numbers {
                            option value=(n.id) selected[self.number == Some(n.id)] { (n.name) " (" (n.display_number) ")" }
                        }
                    }
                }
                label for="order-sort" { "Sort" }
                select #order-sort name="sort" {
                    @for c in SortChoice::ALL { option value=(c.param()) selected[self.sort == c] { (c.label()) } }
                }
                button #order-apply type="submit" { "Apply" }
            }
        }
    }
}

/// How many windows the store hands over at a time to the business-time filter.
const SCAN_BATCH: u32 = 50;
/// How many batches one page of the filtered list looks at before it shows what it found; "Load more"
/// then goes on from the last window looked at, so nothing is skipped or shown twice.
const SCAN_BATCHES: u32 = 4;

/// The default of the "little business time left" toggle: under an hour.
pub const BUSINESS_LEFT_DEFAULT_MINUTES: u32 = 60;

/// `?business_left=N`: only windows with less than N minutes of business time before they close.
fn business_left(raw: Option<&str>) -> Result<Option<u32>, WebError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) => match r.parse::<u32>() {
            Ok(n) if (1..=7 * 24 * 60).contains(&n) => Ok(Some(n)),
            _ => Err(WebError::BadRequest(format!("business_left: a number of minutes from 1 to {}, got {r:?}", 7 * 24 * 60))),
        },
    }
}

/// Minutes as the toggle says them: "1 h", "90 min", "2 h".
fn minutes_text(minutes: u32) -> String {
    if minutes.is_multiple_of(60) {
        format!("{} h", minutes / 60)
    } else {
        format!("{minutes} min")
    }
}

/// A page of Windows closing soon, and where the next one starts (`None`: nothing more). With
/// `business_left`, only the windows with less business time than that before they close, in their
/// number's hours (a number without hours is always open, so all of its time left counts): the store
/// lists the windows closing soon, least time left first, and this keeps those that qualify, looking
/// at up to `SCAN_BATCH * SCAN_BATCHES` windows per page.
async fn closing_soon_page(
    state: &AppState,
    agent: &Agent,
    now: Timestamp,
    after: Option<InboxCursor>,
    business_left: Option<u32>,
) -> Result<(Vec<InboxItem>, Option<InboxCursor>), WebError> {
    let list = closing_soon(state, now);
    let Some(minutes) = business_left else {
        let items = page_of(state, agent, list, after).await?;
        let next = (items.len() == PAGE as usize).then(|| items.last().map(|i| i.cursor)).flatten();
        return Ok((items, next));
    };
    let threshold = std::time::Duration::from_secs(u64::from(minutes) * 60);
    let mut schedules: std::collections::HashMap<i64, Option<windowdesk_core::Schedule>> = std::collections::HashMap::new();
    let (mut kept, mut cursor) = (Vec::new(), after);
    for _ in 0..SCAN_BATCHES {
        let query =
            InboxQuery { list: list.clone(), reader: agent.id(), after: cursor, limit: SCAN_BATCH, number: None, sort: InboxSort::Newest };
        let batch = state.store.inbox(&query).await?;
        let exhausted = batch.len() < SCAN_BATCH as usize;
        for item in batch {
            cursor = Some(item.cursor);
            let number = item.summary.ticket.business_number_id;
            if let std::collections::hash_map::Entry::Vacant(slot) = schedules.entry(number) {
                slot.insert(crate::hours::of_number(state, number).await?);
            }
            let schedule = windowdesk_core::hours::or_always_open(schedules.get(&number).and_then(Option::as_ref));
            let left = item.summary.window.window_end(state.policy).map(|end| schedule.business_time_left(now, end));
            if left.is_some_and(|left| left < threshold) {
                kept.push(item);
                if kept.len() == PAGE as usize {
                    return Ok((kept, cursor));
                }
            }
        }
        if exhausted {
            return Ok((kept, None));
        }
    }
    Ok((kept, cursor))
}

/// What every row of a list needs besides its ticket.
pub struct Rows<'a> {
    pub agent: &'a Agent,
    pub policy: WindowPolicy,
    pub now: Timestamp,
    pub actors: &'a Actors,
    /// The business numbers' names, when the desk serves several (each row then says which).
    pub numbers: std::collections::HashMap<i64, String>,
    /// Rows can be picked for the bulk toolbar (lists have it; search results do not).
    pub pickable: bool,
}

impl<'a> Rows<'a> {
    pub fn new(state: &AppState, agent: &'a Agent, now: Timestamp, actors: &'a Actors) -> Rows<'a> {
        let all = state.numbers.all();
        let numbers = if all.len() > 1 { all.iter().map(|n| (n.id, n.name.clone())).collect() } else { std::collections::HashMap::new() };
        Rows { agent, policy: state.policy, now, actors, numbers, pickable: true }
    }

    /// One ticket in a list: who, the latest message and who wrote it, how long the customer has been
    /// waiting, the status, and the window coloured by how much of it is left.
    pub fn row(&self, item: &InboxItem) -> Markup {
        let s = &item.summary;
        let t = &s.ticket;
        let now = self.now;
        let waiting = item.waiting_since.filter(|_| !matches!(t.status, TicketStatus::Solved | TicketStatus::Closed));
        html! {
            li.ticket-row data-ticket-id=(t.id) data-unread=(item.unread) data-waiting-since=[waiting.map(Timestamp::unix_millis)] {
                @if self.pickable { (super::bulk::pick(t.id, &s.contact_name)) }
                a href={"/tickets/" (t.id)} {
                    span.unread-dot aria-hidden="true" {}
                    @if item.unread { span.sr { "Unread: " } }
                    span.name { (s.contact_name) }
                    (self.latest(item))
                    span.meta {
                        (components::status_pill(t.status))
                        (components::window_pill(&s.window.state(self.policy, now), now))
                        @if let Some(since) = waiting {
                            span.waiting data-since=(since.unix_millis()) title={"The customer's last message, unanswered: " (format::full_time(since, self.agent.tz()))} {
                                "waiting " (format::wait(since.millis_until(now)))
                            }
                        }
                        @if let Some(name) = self.numbers.get(&t.business_number_id) {
                            span.number-badge title={"Business number " (s.business_display_number)} { span.sr { "Number: " } (name) }
                        }
                        span.assignee data-assignee=[t.assignee_id] {
                            @match t.assignee_id {
                                Some(id) => { span.sr { "Assigned to " } (self.actors.name(&format!("agent:{id}"))) },
                                None => "Unassigned",
                            }
                        }
                        @for tag in &s.tags { span.tag { (tag) } }
                        (components::time(item.latest.as_ref().map_or(t.last_message_at, |l| l.at), now, self.agent))
                    }
                }
            }
        }
    }

    /// The latest message and who wrote it: the customer, an agent, a rule, an API token.
    fn latest(&self, item: &InboxItem) -> Markup {
        let Some(l) = &item.latest else { return html! { span.latest { span.excerpt { (item.summary.ticket.subject) } } } };
        let who = match (l.direction, l.author.as_deref()) {
            (Direction::Inbound, _) => item.summary.contact_name.clone(),
            (_, Some(author)) => self.actors.name(author),
            (_, None) => self.actors.name("business_app"),
        };
        let text = match l.excerpt.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            Some(b) => b.to_owned(),
            None => format!("({})", l.kind),
        };
        html! {
            span.latest data-direction=(l.direction.as_str()) {
                span.who { (who) } ": "
                @if l.kind == "template" { span.sr { "Template: " } }
                @if l.kind == "sms" { span.sr { "SMS: " } }
                span.excerpt { (text) }
            }
        }
    }
}

/// "Load more" from `next` (the filtered closing-soon list, whose pages can be short).
fn more_from(list: &str, next: Option<InboxCursor>) -> Markup {
    html! {
        @if let Some(next) = next {
            a.load-more href={"/inbox/more?list=" (list) "&key=" (next.key) "&id=" (next.id)} data-list=(list) { "Load more" }
        }
    }
}

fn more_link(list: &str, items: &[InboxItem]) -> Markup {
    html! {
        @if items.len() == PAGE as usize {
            @if let Some(last) = items.last() {
                a.load-more href={"/inbox/more?list=" (list) "&key=" (last.cursor.key) "&id=" (last.cursor.id)} data-list=(list) { "Load more" }
            }
        }
    }
}

/// One of the inbox's lists; `id` names both the section and the list it loads more of.
fn list_section(id: &str, title: &str, items: &[InboxItem], rows: &Rows<'_>, empty: &str) -> Markup {
    let list = id;
    html! {
        section.list #(id) aria-labelledby={(id) "-title"} {
            h2 #{(id) "-title"} { (title) }
            @if items.is_empty() { p.empty { (empty) } }
            ul.tickets data-list=(list) { @for item in items { (rows.row(item)) } }
            (more_link(list, items))
        }
    }
}

/// The two notifier lists, as the inbox page and its live refresh render them.
pub async fn inbox_lists(state: &AppState, agent: &Agent) -> Result<Markup, WebError> {
    let now = state.clock.now();
    let mine = page_of(state, agent, InboxList::AssignedTo(agent.id()), None).await?;
    let unassigned = page_of(state, agent, InboxList::Unassigned, None).await?;
    let (_, actors) = Actors::load(state).await?;
    let rows = Rows::new(state, agent, now, &actors);
    Ok(html! {
        (list_section("assigned", "Assigned to you", &mine, &rows, "Nothing assigned to you is new or open."))
        (list_section("unassigned", "Unassigned", &unassigned, &rows, "No unassigned tickets."))
    })
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
    changed: Option<u32>,
    skipped: Option<u32>,
}

pub async fn inbox_page(State(state): State<AppState>, agent: Agent, Query(q): Query<DoneQuery>) -> Result<Html<String>, WebError> {
    let counts = nav_counts(&state, &agent).await?;
    let lists = inbox_lists(&state, &agent).await?;
    let (agents, _) = Actors::load(&state).await?;
    let now = state.clock.now();
    let content = html! {
        h1 { "Inbox" }
        @if let Some(n) = render::notice(q.done.as_deref()) { (n) }
        @if let Some(n) = super::bulk::notice(q.done.as_deref(), q.changed, q.skipped) { (n) }
        (super::bulk::toolbar(&agent, &agents, "/"))
        div #inbox-lists data-live="inbox" { (lists) }
        (super::saved_views::form(&agent, None))
    };
    Ok(Html(render::page(&agent, "Inbox", Nav::Inbox, &counts, now, content).into_string()))
}

#[derive(Deserialize)]
pub struct MoreQuery {
    list: String,
    key: i64,
    id: i64,
    view: Option<i64>,
    business_left: Option<String>,
    number: Option<String>,
    sort: Option<String>,
}

/// The next rows of a list, as a fragment the page appends (with the next "Load more").
pub async fn more(State(state): State<AppState>, agent: Agent, Query(q): Query<MoreQuery>) -> Result<Html<String>, WebError> {
    let now = state.clock.now();
    if q.list == "closing-soon" {
        let minutes = business_left(q.business_left.as_deref())?;
        let (items, next) = closing_soon_page(&state, &agent, now, Some(InboxCursor { key: q.key, id: q.id }), minutes).await?;
        let (_, actors) = Actors::load(&state).await?;
        let rows = Rows::new(&state, &agent, now, &actors);
        let list_name = closing_soon_list_name(minutes);
        return Ok(Html(
            html! {
                @for item in &items { (rows.row(item)) }
                (more_from(&list_name, next))
            }
            .into_string(),
        ));
    }
    let list = match (q.list.as_str(), q.view) {
        ("view", Some(id)) => view_list(&state, &agent, id).await?.1,
        (name, _) => list_named(&state, &agent, name, now)?,
    };
    let order = ListOrder::parse(&state, q.number.as_deref(), q.sort.as_deref())?;
    let items = page_ordered(&state, &agent, list, Some(InboxCursor { key: q.key, id: q.id }), &order).await?;
    let (_, actors) = Actors::load(&state).await?;
    let rows = Rows::new(&state, &agent, now, &actors);
    let base = if q.list == "view" { format!("view&view={}", q.view.unwrap_or_default()) } else { q.list.clone() };
    let list_name = format!("{base}{}", order.params());
    Ok(Html(
        html! {
            @for item in &items { (rows.row(item)) }
            (more_link(&list_name, &items))
        }
        .into_string(),
    ))
}

async fn saved_view(state: &AppState, agent: &Agent, id: i64) -> Result<windowdesk_store::SavedViewRow, WebError> {
    state
        .store
        .saved_views(agent.id())
        .await?
        .into_iter()
        .find(|v| v.id == id)
        .ok_or_else(|| WebError::NotFound(format!("There is no view {id}.")))
}

async fn view_list(state: &AppState, agent: &Agent, id: i64) -> Result<(String, InboxList), WebError> {
    let view = saved_view(state, agent, id).await?;
    Ok((view.name, InboxList::Filter(view.filter)))
}

/// The views every desk has besides the notifier lists and Windows closing soon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BuiltIn {
    /// Nobody is assigned, any status (the notifier list, on a page of its own).
    Unassigned,
    /// Waiting for the customer.
    Pending,
    Solved,
    /// Every ticket, closed ones included.
    All,
}

impl BuiltIn {
    fn named(name: &str) -> Option<BuiltIn> {
        Some(match name {
            "unassigned" => BuiltIn::Unassigned,
            "pending" => BuiltIn::Pending,
            "solved" => BuiltIn::Solved,
            "all" => BuiltIn::All,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            BuiltIn::Unassigned => "unassigned",
            BuiltIn::Pending => "pending",
            BuiltIn::Solved => "solved",
            BuiltIn::All => "all",
        }
    }

    fn list(self) -> InboxList {
        let status = |s| InboxList::Filter(ViewFilter { status: Some(s), ..ViewFilter::default() });
        match self {
            BuiltIn::Unassigned => InboxList::Unassigned,
            BuiltIn::Pending => status(TicketStatus::Pending),
            BuiltIn::Solved => status(TicketStatus::Solved),
            BuiltIn::All => InboxList::Filter(ViewFilter::default()),
        }
    }

    fn title(self) -> &'static str {
        match self {
            BuiltIn::Unassigned => "Unassigned",
            BuiltIn::Pending => "Pending",
            BuiltIn::Solved => "Solved",
            BuiltIn::All => "All tickets",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            BuiltIn::Unassigned => "Tickets nobody is assigned to, in any status, latest activity first.",
            BuiltIn::Pending => "Waiting for the customer, latest activity first. A message from the customer makes a ticket open again.",
            BuiltIn::Solved => "Solved tickets, latest activity first. They close by themselves after a while (the auto-close automation); a message from the customer reopens them.",
            BuiltIn::All => "Every ticket, closed ones included, latest activity first.",
        }
    }

    fn nav(self) -> Nav {
        match self {
            BuiltIn::Unassigned => Nav::Unassigned,
            BuiltIn::Pending => Nav::Pending,
            BuiltIn::Solved => Nav::Solved,
            BuiltIn::All => Nav::All,
        }
    }

    fn empty(self) -> &'static str {
        match self {
            BuiltIn::Unassigned => "No unassigned tickets.",
            BuiltIn::Pending => "No ticket is waiting for a customer.",
            BuiltIn::Solved => "No solved tickets.",
            BuiltIn::All => "No tickets yet.",
        }
    }
}

/// The closing-soon list's name in "Load more" links, with its filter.
fn closing_soon_list_name(business_left: Option<u32>) -> String {
    match business_left {
        Some(minutes) => format!("closing-soon&business_left={minutes}"),
        None => "closing-soon".to_owned(),
    }
}

#[derive(Deserialize)]
pub struct ViewQuery {
    business_left: Option<String>,
    number: Option<String>,
    sort: Option<String>,
    done: Option<String>,
    changed: Option<u32>,
    skipped: Option<u32>,
}

/// The toggle of the closing-soon view: only the windows whose team has little business time left.
fn business_left_toggle(business_left: Option<u32>) -> Markup {
    let minutes = business_left.unwrap_or(BUSINESS_LEFT_DEFAULT_MINUTES);
    html! {
        form.inline.filter #business-left-filter method="get" action="/views/closing-soon" {
            label.check {
                input #business-left type="checkbox" name="business_left" value=(minutes) checked[business_left.is_some()];
                " Only where the team has less than " (minutes_text(minutes)) " of business time before the window closes"
            }
            button type="submit" { "Apply" }
        }
    }
}

pub async fn view_page(
    State(state): State<AppState>,
    agent: Agent,
    Path(view): Path<String>,
    Query(q): Query<ViewQuery>,
) -> Result<Html<String>, WebError> {
    let now = state.clock.now();
    let counts = nav_counts(&state, &agent).await?;
    let filter = if view == "closing-soon" { business_left(q.business_left.as_deref())? } else { None };
    let built_in = BuiltIn::named(&view);
    let order = ListOrder::parse(&state, q.number.as_deref(), q.sort.as_deref())?;
    let (title, nav, list_name, view_id, items, next) = if view == "closing-soon" {
        let (items, next) = closing_soon_page(&state, &agent, now, None, filter).await?;
        ("Windows closing soon".to_owned(), Nav::ClosingSoon, closing_soon_list_name(filter), None, items, next)
    } else if let Some(b) = built_in {
        let items = page_ordered(&state, &agent, b.list(), None, &order).await?;
        let next = (items.len() == PAGE as usize).then(|| items.last().map(|i| i.cursor)).flatten();
        (b.title().to_owned(), b.nav(), format!("{}{}", b.name(), order.params()), None, items, next)
    } else {
        let id: i64 = view.parse().map_err(|_| WebError::NotFound(format!("There is no view {view:?}.")))?;
        let (name, list) = view_list(&state, &agent, id).await?;
        let items = page_ordered(&state, &agent, list, None, &order).await?;
        let next = (items.len() == PAGE as usize).then(|| items.last().map(|i| i.cursor)).flatten();
        (name, Nav::View(id), format!("view&view={id}{}", order.params()), Some(id), items, next)
    };
    let (agents, actors) = Actors::load(&state).await?;
    let rows = Rows::new(&state, &agent, now, &actors);
    let minutes = state.web.config.closing_soon_minutes;
    let editable = match view_id {
        Some(id) => Some(saved_view(&state, &agent, id).await?),
        None => None,
    };
    let keep = order.params().replacen('&', "?", 1);
    let back = match (filter, view_id) {
        (Some(minutes), _) => format!("/views/closing-soon?business_left={minutes}"),
        (None, Some(id)) => format!("/views/{id}{keep}"),
        (None, None) => format!("/views/{}{keep}", built_in.map_or("closing-soon", BuiltIn::name)),
    };
    let content = html! {
        h1 { (title) }
        @if let Some(n) = render::notice(q.done.as_deref()) { (n) }
        @if let Some(n) = super::bulk::notice(q.done.as_deref(), q.changed, q.skipped) { (n) }
        @if let Some(b) = built_in {
            p.hint { (b.hint()) }
        } @else if view_id.is_none() {
            p.hint { "Open windows that close within " (format::span(i64::try_from(minutes).unwrap_or(0) * 60_000)) ", least time left first. After a window closes only a template reaches the customer." }
            (business_left_toggle(filter))
            @if let Some(minutes) = filter {
                p.hint #business-left-hint { "Showing only windows whose team has less than " (minutes_text(minutes)) " of business time before they close, in each number's business hours (a number without business hours is always open)." }
            }
        }
        @if view != "closing-soon" { (order.form(&state, &format!("/views/{view}"))) }
        (super::bulk::toolbar(&agent, &agents, &back))
        section.list #view aria-label=(title) {
            @if items.is_empty() { p.empty { (built_in.map_or("No tickets in this view.", BuiltIn::empty)) } }
            ul.tickets data-list=(list_name) { @for item in &items { (rows.row(item)) } }
            (more_from(&list_name, next))
        }
        @if let Some(row) = &editable {
            @if row.agent_id.is_some() || agent.is_admin() {
                (super::saved_views::form(&agent, Some(row)))
                form.inline method="post" action={"/views/" (row.id) "/delete"} data-confirm={"Delete the view “" (row.name) "”? The tickets stay as they are."} {
                    input type="hidden" name="csrf" value=(agent.csrf());
                    button.link type="submit" { "Delete this view" }
                }
            }
        }
    };
    Ok(Html(render::page(&agent, &title, nav, &counts, now, content).into_string()))
}

#[derive(Deserialize)]
pub struct FailedQuery {
    at: Option<i64>,
    id: Option<i64>,
    done: Option<String>,
}

/// Failed deliveries (D4): every failed or blocked reply, newest first, until someone deals with it.
pub async fn failed_page(State(state): State<AppState>, agent: Agent, Query(q): Query<FailedQuery>) -> Result<Html<String>, WebError> {
    let now = state.clock.now();
    let counts = nav_counts(&state, &agent).await?;
    let before = q.at.zip(q.id).map(|(at, id)| FailedCursor { at: Timestamp::from_unix_millis(at), message_id: id });
    let rows = state.store.failed_deliveries(before, PAGE).await?;
    let mut names = Vec::with_capacity(rows.len());
    // What each row's ticket can do now, loaded once per ticket.
    let mut ways: std::collections::HashMap<i64, Option<WaysOut>> = std::collections::HashMap::new();
    let mut deals = Vec::with_capacity(rows.len());
    for r in &rows {
        names.push(state.store.ticket_summary(r.ticket_id).await?.map(|s| s.contact_name));
        if let std::collections::hash_map::Entry::Vacant(slot) = ways.entry(r.ticket_id) {
            slot.insert(match Outlook::load(&state, r.ticket_id).await {
                Ok(o) => Some(WaysOut::of(&state, &o)),
                Err(ReplyError::Store(e)) => return Err(e.into()),
                Err(_) => None,
            });
        }
        let deal = match (state.store.outbound_message(r.message_id).await?, ways.get(&r.ticket_id).and_then(Option::as_ref)) {
            (Some(m), Some(w)) => Some(super::ways_out::deal(&m, w, &agent, "failed")),
            _ => None,
        };
        deals.push(deal);
    }
    let content = html! {
        h1 { "Failed deliveries" }
        @if let Some(n) = render::notice(q.done.as_deref()) { (n) }
        p.hint { "Replies that did not reach the customer. Each stays listed until someone resends it (as it is, as a template, via SMS, or held) or dismisses it; it stays marked on its ticket either way." }
        @if rows.is_empty() { p.empty { "No failed deliveries." } }
        ul.failed #failed-list {
            @for ((r, name), deal) in rows.iter().zip(&names).zip(&deals) {
                li.failed-row data-message-id=(r.message_id) data-ticket-id=(r.ticket_id) {
                    a href={"/tickets/" (r.ticket_id) "#m" (r.message_id)} {
                        span.name { (name.as_deref().unwrap_or("Unknown customer")) }
                        span.badge.bad { (r.state.as_str()) }
                        span.reason { (windowdesk_whatsapp::errors::failure_reason(r.error_code, r.error_title.as_deref(), r.state)) }
                        span.body { (r.body.as_deref().unwrap_or("")) }
                        (components::time(r.at, now, &agent))
                    }
                    @if let Some(d) = deal { (d) }
                }
            }
        }
        @if rows.len() == PAGE as usize {
            @if let Some(last) = rows.last() {
                a.button href={"/failed?at=" (last.at.unix_millis()) "&id=" (last.message_id)} { "Older" }
            }
        }
    };
    Ok(Html(render::page(&agent, "Failed deliveries", Nav::Failed, &counts, now, content).into_string()))
}

pub async fn notifications_page(State(state): State<AppState>, agent: Agent) -> Result<Html<String>, WebError> {
    let now = state.clock.now();
    let counts = nav_counts(&state, &agent).await?;
    let rows = state.store.notifications(agent.id(), 50).await?;
    let (_, names) = Actors::load(&state).await?;
    let actors: Vec<String> = rows.iter().map(|n| names.name(&n.actor)).collect();
    let content = html! {
        h1 { "Mentions" }
        @if rows.is_empty() { p.empty { "Nobody has mentioned you in a note yet." } }
        ul.notifications {
            @for (n, actor) in rows.iter().zip(&actors) {
                li data-unread=(n.read_at.is_none()) {
                    a href={"/tickets/" (n.ticket_id)} {
                        @if n.read_at.is_none() { span.sr { "Unread: " } span.unread-dot aria-hidden="true" {} }
                        span.actor { (actor) }
                        " mentioned you on ticket #" (n.ticket_id) ": "
                        span.body { (n.excerpt.as_deref().unwrap_or("")) }
                        " " (components::time(n.created_at, now, &agent))
                    }
                }
            }
        }
    };
    Ok(Html(render::page(&agent, "Mentions", Nav::Mentions, &counts, now, content).into_string()))
}
