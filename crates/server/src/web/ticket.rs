//! The ticket page: header, the window banner, the thread, the composer and the side panel; and
//! what agents do from it (reply, note, status, assignee, tags).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use windowdesk_core::hours::Schedule;
use windowdesk_core::window::WindowPolicy;
use windowdesk_core::{DeliveryState, Priority, TicketStatus, Timestamp};
use windowdesk_store::{AgentRow, Direction, TicketChange, TicketSummary};

use super::components::Actors;
use super::delivery::Histories;
use super::event_log::{self, LogContext};
use super::format;
use super::macros::{self, MacroRequest};
use super::picker::{self, PickerRequest};
use super::render::{self, nav_counts, Nav};
use super::session::Agent;
use super::side_panel;
use super::thread::{self, ThreadContext};
use super::ways_out::{self, WaysOut};
use super::{reply_error, WebError};
use crate::replies::{self, Outlook, ReplyError, ReplyOutcome, MAX_TEXT_CHARS};
use crate::AppState;

/// The part of the page that live updates replace: header, banner, thread, events.
async fn live_part(state: &AppState, agent: &Agent, summary: &TicketSummary, agents: &Actors, ways: &WaysOut) -> Result<Markup, WebError> {
    let now = state.clock.now();
    let id = summary.ticket.id;
    let messages = state.store.ticket_messages(id).await?;
    // Held and failed replies: their hold expiry, and whether someone dealt with them (D4).
    let mut outbound = HashMap::new();
    for m in messages.iter().filter(|m| {
        m.direction == Direction::Outbound
            && matches!(m.delivery_state, Some(DeliveryState::Held | DeliveryState::Failed | DeliveryState::Blocked))
    }) {
        if let Some(o) = state.store.outbound_message(m.id).await? {
            outbound.insert(m.id, o);
        }
    }
    let events = state.store.ticket_events(id).await?;
    let reactions = state.store.ticket_reactions(id).await?;
    let mut media = HashMap::new();
    let has_media = |m: &&windowdesk_store::MessageRow| match m.direction {
        Direction::Inbound => m.media_id.is_some(),
        Direction::Outbound => windowdesk_core::attachment::MediaKind::parse(&m.kind).is_some(),
        _ => false,
    };
    for m in messages.iter().filter(has_media) {
        if let Some(md) = state.store.message_media(m.id).await? {
            media.insert(m.id, md);
        }
    }
    let cx = ThreadContext {
        agent,
        now,
        reactions: &reactions,
        media: &media,
        actors: agents,
        customer: &summary.contact_name,
        outbound: &outbound,
        history: &Histories::of(&events, &messages),
        ways: Some(ways),
    };
    let hours = crate::hours::of_number(state, summary.ticket.business_number_id).await?;
    Ok(html! {
        (banner(summary, state.policy, now, agent, hours.as_ref()))
        (thread::thread(&messages, &cx))
        (event_log::log(&events, &LogContext { agent, now, actors: agents, messages: &messages, customer: &summary.contact_name }))
    })
}

/// The window banner (SPEC 8): the countdown, the moment it closes, FEP; "closed 5 h ago" after.
/// The script ticks it every second from `data-window-end` and flips the composer at zero. With
/// business hours (SPEC 10), it also says how the window meets them, in the number's time zone:
/// "closes Saturday 19:00, outside business hours; team back Monday 09:00".
pub fn banner(summary: &TicketSummary, policy: WindowPolicy, now: Timestamp, agent: &Agent, hours: Option<&Schedule>) -> Markup {
    let w = summary.window.state(policy, now);
    let tz = agent.tz();
    // W9: the banner counts to the moment the desk stops sending free-form, the same moment the send
    // decision and the dispatcher use.
    let state = match (w.open, w.send_until) {
        (true, _) if w.unlimited => "open",
        (true, Some(end)) if now.millis_until(end) < 3_600_000 => "closing",
        (true, _) => "open",
        (false, Some(_)) => "closed",
        (false, None) => "never",
    };
    html! {
        section.banner.(state) #window-banner aria-labelledby="window-title"
            data-window-end=[w.send_until.map(Timestamp::unix_millis)] data-now=(now.unix_millis()) data-state=(state) {
            h2 #window-title .sr { "Customer service window" }
            @match (w.open, w.send_until) {
                (true, Some(end)) => {
                    strong #window-status { "Window open" }
                    " — "
                    span #window-countdown { "closes in " (format::span(now.millis_until(end))) }
                    " "
                    span.when { "(" time datetime=(format::iso(end)) { (format::full_time(end, tz)) } ")" }
                },
                (false, Some(end)) => {
                    strong #window-status { "Window closed" }
                    " — "
                    span #window-countdown { "closed " (format::span(end.millis_until(now))) " ago" }
                    " "
                    span.when { "(" time datetime=(format::iso(end)) { (format::full_time(end, tz)) } ")" }
                },
                _ => {
                    strong #window-status { "No window" }
                    " — "
                    span #window-countdown { "the customer has not written yet" }
                },
            }
            @if let (Some(schedule), true) = (hours, w.open && !w.unlimited) {
                (business_hours_line(schedule, w.expires_at, now, tz))
            }
            @if let Some(fep) = w.fep_until {
                p.fep { "Free entry point (the customer came from an ad): every message is free until " time datetime=(format::iso(fep)) { (format::full_time(fep, tz)) } "." }
            }
        }
    }
}

/// How an open window meets the number's business hours, in the number's time zone; named when it is
/// not the agent's ("team back Monday 09:00 (Berlin time)"), since the countdown above is in theirs.
fn business_hours_line(schedule: &Schedule, window_end: Option<Timestamp>, now: Timestamp, agent_tz: chrono_tz::Tz) -> Markup {
    let Some(end) = window_end else { return html! {} };
    let hours = schedule.window_hours(now, Some(end));
    let back = hours.next_business_open.filter(|open| *open > now);
    let zone = schedule.time_zone();
    let zone_note =
        (zone != agent_tz).then(|| format!(" ({} time)", zone.name().rsplit('/').next().unwrap_or(zone.name()).replace('_', " ")));
    html! {
        @if hours.closes_outside_business_hours {
            p.hours #window-hours data-outside="true" {
                "Closes " time datetime=(format::iso(end)) title=(format::full_time(end, schedule.time_zone())) { (schedule.format_relative(end, now)) } ", outside business hours"
                @if hours.business_time_left.is_zero() { "; nobody is at work before then" }
                @if let Some(open) = back {
                    "; team back " time datetime=(format::iso(open)) title=(format::full_time(open, schedule.time_zone())) { (schedule.format_relative(open, now)) }
                }
                @if let Some(note) = &zone_note { (note) }
                "."
            }
        } @else if let Some(open) = back {
            p.hours #window-hours data-outside="false" {
                "Outside business hours now; team back " time datetime=(format::iso(open)) title=(format::full_time(open, schedule.time_zone())) { (schedule.format_relative(open, now)) }
                @if let Some(note) = &zone_note { (note) }
                ". Business time left before the window closes: " (format::span(i64::try_from(hours.business_time_left.as_millis()).unwrap_or(i64::MAX))) "."
            }
        }
    }
}

/// Which box of the composer a refused text came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemAt {
    Reply,
    /// The closed window's box (hold, SMS).
    Held,
    Note,
    /// The attachment (a file Meta would refuse, none chosen).
    Attach,
}

/// Why a text was refused (an unknown placeholder, named), shown at its box with the text kept.
#[derive(Clone, Debug)]
pub struct Problem {
    pub at: ProblemAt,
    pub message: String,
}

/// What the ticket page shows besides the ticket itself.
#[derive(Clone, Debug, Default)]
pub struct Shown<'a> {
    /// A notice by its code (`render::notice`).
    pub notice: Option<&'a str>,
    /// A notice in words: (good news?, text).
    pub message: Option<(bool, String)>,
    /// The reply's text kept: in the reply box while the window is open, else in the ways-out box.
    pub draft: Option<&'a str>,
    pub note_draft: Option<&'a str>,
    pub problem: Option<Problem>,
    pub picker: PickerRequest,
    pub macros: MacroRequest,
}

fn problem_at(problem: Option<&Problem>, at: ProblemAt) -> Option<&str> {
    problem.filter(|p| p.at == at).map(|p| p.message.as_str())
}

/// The refusal under a box, which the box names with `aria-describedby`: `lead` ("Not sent"), then why.
pub fn problem_line(id: &str, lead: &str, message: Option<&str>) -> Markup {
    html! { @if let Some(m) = message { p.problem id=(id) role="alert" { (lead) ": " (m) } } }
}

/// The composer: the macro picker, the reply box (or the ways out of a closed window), the template
/// picker and the note box; `draft` is the reply's text kept (or a chosen macro's reply).
/// What the composer shows besides the ticket: the reply's draft, the macro picker, and the agents
/// a note can mention.
struct ComposerParts<'a> {
    draft: Option<&'a str>,
    macros: Markup,
    agents: &'a [AgentRow],
}

fn composer(summary: &TicketSummary, agent: &Agent, o: &Outlook, ways: &WaysOut, shown: &Shown<'_>, parts: ComposerParts<'_>) -> Markup {
    let ComposerParts { draft, macros, agents } = parts;
    // Who `@` can name, for the note box's suggestions: the handle every agent answers to.
    let mentionable = serde_json::Value::from(
        agents
            .iter()
            .map(|a| serde_json::json!({"handle": a.email.split('@').next().unwrap_or_default(), "name": a.name}))
            .collect::<Vec<_>>(),
    )
    .to_string();
    let id = summary.ticket.id;
    let open = ways.window_open;
    let closed_ticket = summary.ticket.status == TicketStatus::Closed;
    let reply_problem = problem_at(shown.problem.as_ref(), ProblemAt::Reply);
    let note_problem = problem_at(shown.problem.as_ref(), ProblemAt::Note);
    html! {
        section.composer #composer data-state=(if open { "open" } else { "closed" }) aria-labelledby="composer-title" {
            h2 #composer-title { "Reply" }
            @if closed_ticket {
                p.notice { "This ticket is closed. A new message from the customer opens a follow-up ticket." }
            } @else {
                (macros)
                form #reply-form method="post" action={"/tickets/" (id) "/reply"} hidden[!open] data-inplace="reply" {
                    input type="hidden" name="csrf" value=(agent.csrf());
                    label for="reply-body" { "Message to " (summary.contact_name) " on WhatsApp" }
                    input #reply-to type="hidden" name="reply_to" value="";
                    p.replying-to #replying-to hidden {
                        span { "Replying to: " } q #replying-to-text {}
                        " " button.link #replying-to-cancel type="button" { "Cancel" }
                    }
                    textarea #reply-body name="body" rows="3" maxlength=(MAX_TEXT_CHARS) required disabled[!open]
                        aria-invalid=[reply_problem.map(|_| "true")] aria-describedby=[reply_problem.map(|_| "reply-problem")] { (draft.filter(|_| open).unwrap_or("")) }
                    (problem_line("reply-problem", "Not sent", reply_problem))
                    p.price #reply-price { (ways.prices.reply) }
                    p.hint #reply-placeholders { "Placeholders such as " code { "{{firstName || there}}" } " are filled in when you send; " kbd { "Ctrl" } "+" kbd { "Enter" } " sends; " kbd { "?" } " lists the shortcuts." }
                    div.submit-as role="group" aria-label="Send and set the status" {
                        button #send-open type="submit" name="submit_as" value="open" disabled[!open] { "Send" }
                        button #send-pending type="submit" name="submit_as" value="pending" disabled[!open] { "Send as pending" }
                        button #send-solved type="submit" name="submit_as" value="solved" disabled[!open] { "Send as solved" }
                    }
                }
                (super::attach::form(ways, agent, problem_at(shown.problem.as_ref(), ProblemAt::Attach)))
                (ways_out::closed_panel(ways, agent, draft.filter(|_| !open), problem_at(shown.problem.as_ref(), ProblemAt::Held)))
                (picker::picker(o, agent, &shown.picker, open))
                form #note-form method="post" action={"/tickets/" (id) "/note"} data-inplace="note" data-agents=(mentionable) {
                    input type="hidden" name="csrf" value=(agent.csrf());
                    label for="note-body" { "Internal note (agents only; @name notifies a colleague)" }
                    ul.mention-list #mention-list role="listbox" aria-label="Colleagues to mention" hidden {}
                    textarea #note-body name="body" rows="2" maxlength=(MAX_TEXT_CHARS) required
                        role="combobox" aria-autocomplete="list" aria-controls="mention-list" aria-expanded="false"
                        aria-invalid=[note_problem.map(|_| "true")] aria-describedby=[note_problem.map(|_| "note-problem")] { (shown.note_draft.unwrap_or("")) }
                    (problem_line("note-problem", "Not added", note_problem))
                    button #add-note type="submit" { "Add note" }
                }
            }
        }
    }
}

pub async fn render_ticket(
    state: &AppState,
    agent: &Agent,
    id: i64,
    notice: Option<&str>,
    draft: Option<&str>,
    picker: &PickerRequest,
) -> Result<Html<String>, WebError> {
    render_page(state, agent, id, Shown { notice, draft, picker: picker.clone(), ..Shown::default() }).await
}

/// The ticket page with what `shown` adds: a notice, kept drafts, a refused text's problem, the
/// template and macro pickers as asked.
pub async fn render_page(state: &AppState, agent: &Agent, id: i64, shown: Shown<'_>) -> Result<Html<String>, WebError> {
    let summary = state.store.ticket_summary(id).await?.ok_or_else(|| WebError::NotFound(format!("There is no ticket {id}.")))?;
    let outlook = Outlook::load(state, id).await.map_err(|e| reply_error(e, id))?;
    let ways = WaysOut::of(state, &outlook);
    let now = outlook.now;
    state.store.mark_ticket_read(agent.id(), id, now).await?;
    if state.store.mark_notifications_read(agent.id(), id, now).await? > 0 {
        state.events.publish(crate::events::DeskEvent::Notification { agent_id: agent.id() });
    }
    // An agent has the customer's messages in front of them: they are read.
    crate::read_receipts::mark_read_soon(state, id, false);
    let counts = nav_counts(state, agent).await?;
    let (agents, names) = Actors::load(state).await?;
    let others = state.store.customer_tickets(summary.ticket.requester_id, None, side_panel::OTHER_TICKETS + 1).await?;
    let live = live_part(state, agent, &summary, &names, &ways).await?;
    // A macro chosen without script (`?macro=`): its reply fills the box, unless a draft is kept.
    let mut macro_draft = None;
    let chosen = match shown.macros.chosen {
        Some(mid) if summary.ticket.status != TicketStatus::Closed => {
            if shown.draft.is_none() {
                macro_draft = macros::reply_text(state, agent, &outlook, mid).await?;
            }
            Some(macros::chosen_panel(state, agent, &outlook, &ways, mid).await?)
        }
        _ => None,
    };
    let draft = shown.draft.or(macro_draft.as_deref());
    let usable = macros::usable(state, agent).await?;
    let macro_picker = macros::picker(id, &usable, &shown.macros, chosen);
    let cost_rows = state.store.ticket_costs(id).await?;
    let cost_panel = side_panel::costs(
        &summary.ticket,
        &crate::costs::ticket_totals(&cost_rows, state.pricing.currency()),
        &crate::costs::open_windows(&outlook, &cost_rows),
        &crate::costs::next_prices(&outlook),
        agent,
        now,
    );
    let t = &summary.ticket;
    let title = format!("#{} {}", t.id, summary.contact_name);
    let content = html! {
        div.ticket data-ticket-id=(t.id) {
            header.ticket-head {
                h1 { "#" (t.id) " " (summary.contact_name) }
                p.subject { (t.subject) }
                span.status.(t.status.as_str()) #ticket-status { (t.status.as_str()) }
            }
            // Who else has this ticket open (the script fills it from `presence` events).
            p.presence #presence role="status" aria-live="polite" hidden
                data-agents=(serde_json::Value::Object(agents.iter().map(|a| (a.id.to_string(), serde_json::Value::from(a.name.clone()))).collect()).to_string()) {}
            div #ticket-notice {
                @if let Some(n) = render::notice(shown.notice) { (n) }
                @if let Some((good, text)) = &shown.message {
                    p.notice.ok[*good].bad[!*good] role="status" #notice { (text) }
                }
            }
            div.ticket-body {
                div.conversation {
                    div #ticket-live data-live="ticket" data-ticket-id=(t.id) { (live) }
                    (composer(&summary, agent, &outlook, &ways, &shown, ComposerParts { draft, macros: macro_picker, agents: &agents }))
                }
                (side_panel::side(&summary, agent, &agents, &others, now, cost_panel))
            }
        }
    };
    Ok(Html(render::page(agent, &title, Nav::Ticket, &counts, now, content).into_string()))
}

#[derive(Deserialize)]
pub struct TicketQuery {
    done: Option<String>,
    /// Open the macro picker, its search, and the chosen macro.
    macros: Option<String>,
    mq: Option<String>,
    #[serde(rename = "macro")]
    chosen_macro: Option<i64>,
    /// Open the template picker.
    pick: Option<String>,
    tq: Option<String>,
    tlang: Option<String>,
    tcat: Option<String>,
    /// The chosen template and its language.
    template: Option<String>,
    language: Option<String>,
    /// The failed message a template would replace.
    replaces: Option<i64>,
}

pub async fn ticket_page(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Query(q): Query<TicketQuery>,
) -> Result<Html<String>, WebError> {
    let picker = PickerRequest {
        open: q.pick.is_some() || q.template.is_some(),
        q: q.tq,
        language: q.tlang,
        category: q.tcat,
        chosen: q.template.zip(q.language),
        values: None,
        replaces: q.replaces,
        problem: None,
    };
    let macros = MacroRequest { open: q.macros.is_some() || q.mq.is_some(), q: q.mq, chosen: q.chosen_macro };
    render_page(&state, &agent, id, Shown { notice: q.done.as_deref(), picker, macros, ..Shown::default() }).await
}

/// The live part alone, for the page's script.
pub async fn live_fragment(state: &AppState, agent: &Agent, id: i64) -> Result<Markup, WebError> {
    let summary = state.store.ticket_summary(id).await?.ok_or_else(|| WebError::NotFound(format!("There is no ticket {id}.")))?;
    let now = state.clock.now();
    state.store.mark_ticket_read(agent.id(), id, now).await?;
    if state.store.mark_notifications_read(agent.id(), id, now).await? > 0 {
        state.events.publish(crate::events::DeskEvent::Notification { agent_id: agent.id() });
    }
    // A message that arrived while the agent has the ticket open is read as it appears.
    crate::read_receipts::mark_read_soon(state, id, false);
    let (_, names) = Actors::load(state).await?;
    let outlook = Outlook::load(state, id).await.map_err(|e| reply_error(e, id))?;
    let ways = WaysOut::of(state, &outlook);
    let live = live_part(state, agent, &summary, &names, &ways).await?;
    Ok(html! { span hidden data-ticket-status=(summary.ticket.status.as_str()) {} (live) })
}

#[derive(Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    csrf: String,
    body: String,
    submit_as: Option<String>,
    /// The macro chosen in the picker: sending applies it, with this reply as reviewed.
    #[serde(rename = "macro", default, deserialize_with = "empty_as_none")]
    chosen_macro: Option<i64>,
    /// The customer message this reply answers (quoted at WhatsApp and in the thread).
    #[serde(default, deserialize_with = "empty_as_none")]
    reply_to: Option<i64>,
}

fn empty_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| serde::de::Error::custom(format!("not a number: {v:?}"))),
    }
}

/// The status a "Send …" button asks for: `open` (plain Send), `pending` or `solved`.
pub fn submit_as(raw: Option<&str>) -> Result<Option<TicketStatus>, WebError> {
    match raw {
        None => Ok(None),
        Some("open") => Ok(Some(TicketStatus::Open)),
        Some("pending") => Ok(Some(TicketStatus::Pending)),
        Some("solved") => Ok(Some(TicketStatus::Solved)),
        Some(other) => Err(WebError::BadRequest(format!("submit_as: must be open, pending or solved, got {other:?}"))),
    }
}

/// The page again with a refused text kept in its box and the problem named there (422).
pub async fn refused(state: &AppState, agent: &Agent, id: i64, at: ProblemAt, body: &str, message: String) -> Result<Response, WebError> {
    let body = body.trim();
    let shown = Shown {
        draft: (at != ProblemAt::Note).then_some(body),
        note_draft: (at == ProblemAt::Note).then_some(body),
        problem: Some(Problem { at, message }),
        ..Shown::default()
    };
    let page = render_page(state, agent, id, shown).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

pub async fn reply(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(f): Form<ReplyForm>,
) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    let submit_as = submit_as(Some(f.submit_as.as_deref().unwrap_or("open")))?.unwrap_or(TicketStatus::Open);
    if let Some(macro_id) = f.chosen_macro {
        return macros::apply_posted(&state, &agent, id, macro_id, Some(&f.body), Some(submit_as)).await;
    }
    if f.body.trim().is_empty() {
        return Ok(Redirect::to(&format!("/tickets/{id}?done=empty#composer")).into_response());
    }
    let actor = agent.actor();
    let body = match crate::macros::render_written(&state, id, &f.body, &actor, "body").await {
        Ok(body) => body,
        Err(ReplyError::Invalid { field, message }) => {
            return refused(&state, &agent, id, ProblemAt::Reply, &f.body, format!("{field}: {message}")).await
        }
        Err(e) => return Err(super::reply_error(e, id)),
    };
    match replies::post_text_reply_to(&state, id, &body, &actor, f.reply_to).await {
        Ok(ReplyOutcome::Queued { .. } | ReplyOutcome::Held { .. }) => {
            let unassigned = state.store.ticket_summary(id).await?.is_some_and(|s| s.ticket.assignee_id.is_none());
            // Whoever answers an unassigned ticket takes it (`[web] assign_on_reply`).
            let assignee_id = (unassigned && state.web.config.assign_on_reply).then_some(Some(agent.id()));
            let change = TicketChange { status: Some(submit_as), assignee_id, ..TicketChange::default() };
            state.store.update_ticket(id, &change, &agent.actor(), state.clock.now()).await?;
            state.events.ticket(id);
            Ok(Redirect::to(&format!("/tickets/{id}?done=sent#composer")).into_response())
        }
        // Nothing was stored or sent: the page comes back with the text kept, and says why.
        Ok(ReplyOutcome::Blocked { .. }) => {
            let page = render_ticket(&state, &agent, id, Some("blocked"), Some(f.body.trim()), &PickerRequest::default()).await?;
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(ReplyError::Invalid { field, message }) => Err(WebError::BadRequest(format!("{field}: {message}"))),
        Err(ReplyError::NoTicket(_)) => Err(WebError::NotFound(format!("There is no ticket {id}."))),
        Err(ReplyError::Conflict(m)) => Err(WebError::Conflict(m)),
        Err(ReplyError::Store(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    csrf: String,
    body: String,
}

pub async fn note(State(state): State<AppState>, agent: Agent, Path(id): Path<i64>, Form(f): Form<NoteForm>) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    let body = f.body.trim();
    if body.is_empty() {
        return Ok(Redirect::to(&format!("/tickets/{id}?done=empty#composer")).into_response());
    }
    if body.chars().count() > MAX_TEXT_CHARS {
        return Err(WebError::BadRequest(format!("body: a note is at most {MAX_TEXT_CHARS} characters")));
    }
    if body.contains('\u{0}') {
        return Err(WebError::BadRequest("body: a note must not contain the NUL character (U+0000)".into()));
    }
    let rendered = match crate::macros::render_written(&state, id, body, &agent.actor(), "body").await {
        Ok(rendered) => rendered,
        Err(ReplyError::Invalid { field, message }) => {
            return refused(&state, &agent, id, ProblemAt::Note, body, format!("{field}: {message}")).await
        }
        Err(e) => return Err(super::reply_error(e, id)),
    };
    let body = rendered.trim();
    if body.is_empty() || body.chars().count() > MAX_TEXT_CHARS {
        let message = format!("body: with its placeholders filled in, a note must be 1 to {MAX_TEXT_CHARS} characters");
        return refused(&state, &agent, id, ProblemAt::Note, &f.body, message).await;
    }
    crate::notes::add_note(&state, id, body, &agent.actor(), Some(agent.id())).await?;
    Ok(Redirect::to(&format!("/tickets/{id}?done=noted#composer")).into_response())
}

#[derive(Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    csrf: String,
    status: Option<String>,
    priority: Option<String>,
    /// `me`, `none`, or an agent id.
    assignee: Option<String>,
    tags: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(f): Form<UpdateForm>,
) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    let status = match f.status.as_deref() {
        None | Some("") => None,
        // `closed` comes only from the Close ticket button (the status list does not offer it): final.
        Some(s) => match TicketStatus::parse(s) {
            Some(s) => Some(s),
            None => return Err(WebError::BadRequest(format!("status: unknown status {s:?}"))),
        },
    };
    let priority = match f.priority.as_deref() {
        None | Some("") => None,
        Some(p) => Some(Priority::parse(p).ok_or_else(|| WebError::BadRequest(format!("priority: unknown priority {p:?}")))?),
    };
    let assignee_id = assignee_change(&state, &agent, f.assignee.as_deref()).await?;
    let tags = match f.tags.as_deref() {
        None => None,
        Some(raw) => Some(
            raw.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .enumerate()
                .map(|(i, t)| crate::api::tickets::normalize_tag(format!("tags[{i}]"), t).map_err(|e| WebError::BadRequest(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let change = TicketChange { status, assignee_id, tags, priority, ..TicketChange::default() };
    state
        .store
        .update_ticket(id, &change, &agent.actor(), state.clock.now())
        .await?
        .ok_or_else(|| WebError::NotFound(format!("There is no ticket {id}.")))?;
    state.events.ticket(id);
    let done = if status == Some(TicketStatus::Closed) { "closed" } else { "updated" };
    Ok(Redirect::to(&format!("/tickets/{id}?done={done}")).into_response())
}

/// An assignee field as the forms send it (`me`, `none`, an agent id, or empty for no change) as a
/// ticket change: `None` leaves it, `Some(None)` unassigns.
pub async fn assignee_change(state: &AppState, agent: &Agent, raw: Option<&str>) -> Result<Option<Option<i64>>, WebError> {
    Ok(match raw.map(str::trim) {
        None | Some("") => None,
        Some("me") => Some(Some(agent.id())),
        Some("none") => Some(None),
        Some(raw) => {
            let aid: i64 = raw.parse().map_err(|_| WebError::BadRequest(format!("assignee: not an agent: {raw:?}")))?;
            if state.store.agent(aid).await?.is_none() {
                return Err(WebError::BadRequest(format!("assignee: there is no agent {aid}")));
            }
            Some(Some(aid))
        }
    })
}

/// A message's media for signed-in agents, with its type (voice notes as `audio/ogg`, which
/// browsers play). Served with its own strict policy: a file from a customer never runs as a page.
pub async fn media(State(state): State<AppState>, _agent: Agent, Path(message_id): Path<i64>) -> Result<Response, WebError> {
    match crate::media::load(&state, message_id).await {
        Ok(file) => Ok(file.into_response()),
        Err(crate::media::Unavailable::NotFound(m)) => Err(WebError::NotFound(m)),
        Err(crate::media::Unavailable::NotReady(m)) => Err(WebError::Conflict(m)),
        Err(crate::media::Unavailable::Store(e)) => Err(e.into()),
    }
}

/// `POST /tickets/{id}/typing`: the agent is writing a reply (the page says so at most every 20 s
/// while they type); the customer sees a typing indicator where the number allows it. The session's
/// CSRF token comes in the `X-CSRF-Token` header.
pub async fn typing(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, WebError> {
    let token = headers.get(super::rules::CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    agent.check_csrf(token)?;
    state.store.ticket_summary(id).await?.ok_or_else(|| WebError::NotFound(format!("There is no ticket {id}.")))?;
    crate::read_receipts::mark_read_soon(&state, id, true);
    state.events.publish(crate::events::DeskEvent::Presence { ticket_id: id, agent_id: agent.id(), typing: true });
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /tickets/{id}/presence`: the agent has the ticket open (the page says so every 20 s while
/// it is visible); other agents on the same ticket are told. The CSRF token comes in `X-CSRF-Token`.
pub async fn presence(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, WebError> {
    let token = headers.get(super::rules::CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    agent.check_csrf(token)?;
    state.events.publish(crate::events::DeskEvent::Presence { ticket_id: id, agent_id: agent.id(), typing: false });
    Ok(StatusCode::NO_CONTENT)
}
