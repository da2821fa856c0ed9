//! The macro picker on the ticket page (SPEC 8 and 10, issue 13 item 4): the macros this agent can
//! use (their own and the shared ones), searchable, opened with a keyboard shortcut (`M` outside a
//! text field, Ctrl+Alt+M anywhere). Choosing one fills the composer with its reply, rendered for this
//! ticket, for the agent to review, and lists what else it will do (status, tags, assignee, note);
//! sending applies the whole macro through [`crate::macros::apply_reviewed`], so the reply goes
//! through the send decision like any other: with the window closed it becomes the macro's template,
//! a hold or an SMS, or is plainly not sent, with the ways out.
//!
//! Without script everything works as links and form posts: the search is a GET, a macro is chosen
//! with `?macro=<id>` (the page comes back with the composer filled), and the reply form carries the
//! macro's id. The page's script filters in place, handles the keys, and fetches the chosen macro's
//! panel from `GET /tickets/{id}/macros/{macro_id}/preview` without a reload.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use windowdesk_core::macros::Macro;
use windowdesk_core::placeholder::PlaceholderContext;
use windowdesk_core::rules::{Action, ClosedWindow};
use windowdesk_core::{Fallback, TicketStatus};
use windowdesk_store::{AgentRow, MacroRow};

use super::session::Agent;
use super::ticket::{render_page, Problem, ProblemAt, Shown};
use super::ways_out::WaysOut;
use super::{reply_error, WebError};
use crate::macros::{self, Applied, Applier, ReplyDone};
use crate::replies::{Outlook, ReplyError};
use crate::AppState;

/// What the page asks of the macro picker: open or not, the search, the chosen macro.
#[derive(Clone, Debug, Default)]
pub struct MacroRequest {
    pub open: bool,
    pub q: Option<String>,
    pub chosen: Option<i64>,
}

/// A macro this agent may apply, checked.
pub struct Usable {
    pub row: MacroRow,
    pub m: Macro,
}

/// The macros `agent` can use (their own and the shared ones), by name. One that no longer reads
/// (stored before a rule changed) is left out of the list and logged, not shown broken.
pub async fn usable(state: &AppState, agent: &Agent) -> Result<Vec<Usable>, WebError> {
    let rows = state.store.macros(Some(agent.id())).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match macros::parse(&row) {
            Ok(m) => Some(Usable { row, m }),
            Err(e) => {
                tracing::warn!(macro_id = row.id, error = %e, "a stored macro does not read; it is left out of the picker");
                None
            }
        })
        .collect())
}

/// One macro `agent` may apply, or 404 (another agent's own macro is not theirs to use).
async fn one(state: &AppState, agent: &Agent, macro_id: i64) -> Result<Usable, WebError> {
    let missing = || WebError::NotFound(format!("There is no macro {macro_id} you can use."));
    let row = state.store.macro_by_id(macro_id).await?.ok_or_else(missing)?;
    if row.owner_agent_id.is_some_and(|owner| owner != agent.id()) {
        return Err(missing());
    }
    let m = macros::parse(&row).map_err(|e| WebError::Conflict(format!("This macro cannot be used: {e}")))?;
    Ok(Usable { row, m })
}

fn matches(q: Option<&str>, u: &Usable) -> bool {
    q.map(str::trim).filter(|q| !q.is_empty()).is_none_or(|q| search_text(u).contains(&q.to_lowercase()))
}

/// What the filter looks in: the name, then the reply as written.
fn search_text(u: &Usable) -> String {
    let mut s = u.row.name.to_lowercase();
    if let Some(reply) = u.m.reply() {
        s.push('\n');
        s.push_str(&reply.as_str().to_lowercase());
    }
    s
}

/// A short line of what a macro does, for the list: "reply · status solved · +refund · note".
fn summary(m: &Macro) -> String {
    let parts: Vec<String> = m
        .actions
        .iter()
        .map(|a| match a {
            Action::Reply { .. } => "reply".to_owned(),
            Action::SetStatus { status } => format!("status {}", status.as_str()),
            Action::SetPriority { priority } => format!("priority {}", priority.as_str()),
            Action::AddTags { tags } => tags.iter().map(|t| format!("+{t}")).collect::<Vec<_>>().join(" "),
            Action::RemoveTags { tags } => tags.iter().map(|t| format!("−{t}")).collect::<Vec<_>>().join(" "),
            Action::SetAssignee { .. } => "assign".to_owned(),
            Action::Unassign => "unassign".to_owned(),
            Action::InternalNote { .. } => "note".to_owned(),
            other => other.kind().replace('_', " "),
        })
        .collect();
    parts.join(" · ")
}

/// The picker: a disclosure at the top of the composer, and the slot the chosen macro's panel goes in.
pub fn picker(ticket_id: i64, list: &[Usable], req: &MacroRequest, chosen: Option<Markup>) -> Markup {
    let q = req.q.as_deref();
    let shown = list.iter().filter(|u| matches(q, u)).count();
    html! {
        details.macros #macros open[req.open] data-ticket-id=(ticket_id) {
            summary #macros-summary {
                "Macros"
                span.shortcut { " — press " kbd { "M" } ", or " kbd { "Ctrl" } "+" kbd { "Alt" } "+" kbd { "M" } " while typing" }
            }
            div.macros-body #macros-body {
                @if list.is_empty() {
                    p.empty #macro-empty { "There are no macros you can use yet. Every agent adds their own, and admins shared ones, on the " a href="/macros" { "Macros" } " page." }
                } @else {
                    form.macro-search #macro-search method="get" action={"/tickets/" (ticket_id) "#macros"} role="search" aria-label="Find a macro" {
                        input type="hidden" name="macros" value="1";
                        label for="macro-q" { "Find a macro" }
                        div.search-row {
                            input #macro-q type="search" name="mq" value=(q.unwrap_or("")) maxlength="100" autocomplete="off"
                                aria-describedby="macro-keys" aria-controls="macro-list";
                            button #macro-find type="submit" { "Find" }
                        }
                        p.hint #macro-keys { "Type to filter; " kbd { "↓" } " " kbd { "↑" } " to move; " kbd { "Enter" } " to choose; " kbd { "Esc" } " to close." }
                    }
                    ul.macro-list #macro-list aria-label="Macros you can use" {
                        @for u in list {
                            li.macro-option data-search=(search_text(u)) hidden[!matches(q, u)]
                                aria-current=[(req.chosen == Some(u.row.id)).then_some("true")] {
                                a href={"/tickets/" (ticket_id) "?macro=" (u.row.id) "#composer"} data-macro-id=(u.row.id)
                                    data-preview={"/tickets/" (ticket_id) "/macros/" (u.row.id) "/preview"} {
                                    span.mname { (u.row.name) }
                                    span.badge { @if u.row.owner_agent_id.is_some() { "yours" } @else { "shared" } }
                                    span.msummary { (summary(&u.m)) }
                                }
                            }
                        }
                    }
                    p.empty #macro-none hidden[shown > 0] { "No macro matches." }
                }
            }
        }
        div #macro-slot { @if let Some(c) = chosen { (c) } }
    }
}

/// The chosen macro's panel for this ticket, with everything it needs loaded.
pub async fn chosen_panel(state: &AppState, agent: &Agent, o: &Outlook, ways: &WaysOut, macro_id: i64) -> Result<Markup, WebError> {
    let u = one(state, agent, macro_id).await?;
    let values = macros::placeholder_context(state, o, Some(agent.name())).await;
    let agents = state.store.agents().await?;
    Ok(panel(o, agent, ways, &u, &values, &agents))
}

/// The reply of `m` rendered for the composer, if it has one.
pub async fn reply_text(state: &AppState, agent: &Agent, o: &Outlook, macro_id: i64) -> Result<Option<String>, WebError> {
    let u = one(state, agent, macro_id).await?;
    let values = macros::placeholder_context(state, o, Some(agent.name())).await;
    Ok(u.m.reply().map(|t| t.render(&values)))
}

/// What one action other than the reply will do, in words.
fn describe(action: &Action<windowdesk_core::placeholder::Text>, values: &PlaceholderContext, agents: &[AgentRow]) -> Option<Markup> {
    Some(match action {
        Action::Reply { .. } => return None,
        Action::SetStatus { status } => html! { "Status → " strong { (status.as_str()) } },
        Action::SetPriority { priority } => html! { "Priority → " strong { (priority.as_str()) } },
        Action::AddTags { tags } => html! { "Add tags: " @for (i, t) in tags.iter().enumerate() { @if i > 0 { " " } span.tag { (t) } } },
        Action::RemoveTags { tags } => {
            html! { "Remove tags: " @for (i, t) in tags.iter().enumerate() { @if i > 0 { " " } span.tag { (t) } } }
        }
        Action::SetAssignee { agent_id } => {
            let name = agents.iter().find(|a| a.id == *agent_id).map_or_else(|| format!("agent {agent_id}"), |a| a.name.clone());
            html! { "Assign to " strong { (name) } }
        }
        Action::Unassign => html! { "Unassign" },
        Action::InternalNote { text } => html! { "Internal note: " q.note-text { (text.render(values)) } },
        other => html! { (other.kind().replace('_', " ")) " " span.hint { "(a macro cannot do this; it will be reported as failed)" } },
    })
}

/// What the reply becomes with the window closed, in words, and whether it goes out.
fn closed_reply(
    o: &Outlook,
    ways: &WaysOut,
    when_closed: &ClosedWindow<windowdesk_core::placeholder::Text>,
    values: &PlaceholderContext,
) -> (bool, Markup) {
    match when_closed {
        ClosedWindow::Template(t) => match o.template(&t.name, &t.language).filter(|d| d.is_approved()) {
            Some(_) => (
                true,
                html! { "The window is closed, so the macro sends its approved template " q { (t.name) } " (" (t.language) ") instead of the reply." },
            ),
            None => (
                false,
                html! { "The window is closed and the macro's template " q { (t.name) } " (" (t.language) ") is not an approved template of this number: the reply will " strong { "not be sent" } "." },
            ),
        },
        ClosedWindow::Hold if ways.has(Fallback::Hold) => (
            true,
            html! { "The window is closed, so the reply is held and delivered when the customer writes again (within " (ways.hold_hours) " h). Review it here:" },
        ),
        ClosedWindow::Hold => (
            false,
            html! { "The window is closed and holding replies is not among this number's ways out: the reply will " strong { "not be sent" } "." },
        ),
        ClosedWindow::Sms { text } if ways.sms_configured => {
            (true, html! { "The window is closed, so the macro sends this SMS instead: " q.note-text { (text.render(values)) } })
        }
        ClosedWindow::Sms { .. } => {
            (false, html! { "The window is closed and SMS is not set up for this number: the reply will " strong { "not be sent" } "." })
        }
        ClosedWindow::Skip => {
            (false, html! { "The window is closed and this macro names no way out of it: its reply will " strong { "not be sent" } "." })
        }
    }
}

fn panel(o: &Outlook, agent: &Agent, ways: &WaysOut, u: &Usable, values: &PlaceholderContext, agents: &[AgentRow]) -> Markup {
    let id = o.ticket.id;
    let mid = u.row.id;
    let open = ways.window_open;
    let reply = u.m.actions.iter().find_map(|a| match a {
        Action::Reply { text, when_closed } => Some((text.render(values), when_closed)),
        _ => None,
    });
    let others: Vec<Markup> = u.m.actions.iter().filter_map(|a| describe(a, values, agents)).collect();
    let apply_url = format!("/tickets/{id}/macros/{mid}");
    html! {
        section.macro-chosen #macro-chosen aria-labelledby="macro-chosen-title" data-macro-id=(mid)
            data-window=(if open { "open" } else { "closed" }) data-reply=[reply.as_ref().map(|(text, _)| text.as_str())] {
            h3 #macro-chosen-title { "Macro " q { (u.row.name) } }
            @match (&reply, open) {
                (Some(_), true) => {
                    // Sent with the reply form (which it belongs to wherever it stands).
                    input type="hidden" name="macro" value=(mid) form="reply-form";
                    p.hint #macro-review { "Its reply is in the box below, filled in for this ticket: review it, change it if you like, then send." }
                },
                (Some((text, when_closed)), false) => {
                    @let (goes, how) = closed_reply(o, ways, when_closed, values);
                    p.notice[!goes].bad[!goes] #macro-closed data-goes=(goes) { (how) }
                    @if !goes {
                        p.hint { "Its other actions still apply. The reply's text is kept in the box of the ways out below." }
                    }
                    form.macro-apply #macro-apply-form method="post" action=(apply_url) {
                        input type="hidden" name="csrf" value=(agent.csrf());
                        @if matches!(when_closed, ClosedWindow::Hold) && goes {
                            label for="macro-body" { "The reply to hold" }
                            textarea #macro-body name="body" rows="4" maxlength=(crate::replies::MAX_TEXT_CHARS) required { (text) }
                        }
                        button #macro-apply type="submit" { "Apply macro" }
                    }
                },
                (None, _) => {
                    p.hint { "This macro has no reply. Apply it on its own, or write a reply and send it: the macro is applied with it." }
                    input type="hidden" name="macro" value=(mid) form="reply-form";
                    form.macro-apply #macro-apply-form method="post" action=(apply_url) {
                        input type="hidden" name="csrf" value=(agent.csrf());
                        button #macro-apply type="submit" { "Apply macro without a reply" }
                    }
                },
            }
            @if !others.is_empty() {
                p.macro-also { @if reply.is_some() && open { "When you send, it also:" } @else { "It also:" } }
                ul.macro-actions #macro-actions { @for d in &others { li { (d) } } }
            }
            @if reply.is_some() && open {
                p.hint { "“Send as pending” and “Send as solved” set that status instead of the macro's." }
            }
            a.button.quiet #macro-cancel href={"/tickets/" (id) "#composer"} { "Don't use this macro" }
        }
    }
}

/// `GET /tickets/{id}/macros/{macro_id}/preview`: the chosen macro's panel alone, with its reply
/// rendered for this ticket in `data-reply`, for the page's script to put in place.
pub async fn preview(
    State(state): State<AppState>,
    agent: Agent,
    Path((id, macro_id)): Path<(i64, i64)>,
) -> Result<Html<String>, WebError> {
    let o = Outlook::load(&state, id).await.map_err(|e| reply_error(e, id))?;
    let ways = WaysOut::of(&state, &o);
    Ok(Html(chosen_panel(&state, &agent, &o, &ways, macro_id).await?.into_string()))
}

#[derive(Deserialize)]
pub struct ApplyForm {
    #[serde(default)]
    csrf: String,
    body: Option<String>,
    submit_as: Option<String>,
}

/// `POST /tickets/{id}/macros/{macro_id}`: applies the macro (with the reply as reviewed, when given).
pub async fn apply(
    State(state): State<AppState>,
    agent: Agent,
    Path((id, macro_id)): Path<(i64, i64)>,
    Form(f): Form<ApplyForm>,
) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    let submit_as = super::ticket::submit_as(f.submit_as.as_deref())?;
    apply_posted(&state, &agent, id, macro_id, f.body.as_deref(), submit_as).await
}

/// Applies macro `macro_id` to ticket `id` as `agent` did on the page, with `body` (the composer's
/// text) as its reply; "Send as pending/solved" (`submit_as`) sets that status instead of the macro's.
pub async fn apply_posted(
    state: &AppState,
    agent: &Agent,
    id: i64,
    macro_id: i64,
    body: Option<&str>,
    submit_as: Option<TicketStatus>,
) -> Result<Response, WebError> {
    let u = one(state, agent, macro_id).await?;
    let mut m = u.m;
    let body = body.map(str::trim).filter(|b| !b.is_empty());
    if body.is_none() && m.reply().is_some() && submit_as.is_some() {
        // The reply form with its box emptied: nothing to review and send.
        return Ok(Redirect::to(&format!("/tickets/{id}?done=empty&macro={macro_id}#composer")).into_response());
    }
    let has_status = m.actions.iter().any(|a| matches!(a, Action::SetStatus { .. }));
    if let Some(status @ (TicketStatus::Pending | TicketStatus::Solved)) = submit_as {
        m.actions.retain(|a| !matches!(a, Action::SetStatus { .. }));
        m.actions.push(Action::SetStatus { status });
    }
    let actor = agent.actor();
    let who = Applier { author: &actor, agent_name: Some(agent.name()) };
    let applied = match macros::apply_reviewed(state, id, &m, &who, body).await {
        Ok(applied) => applied,
        // A refused placeholder in the reviewed text: nothing was applied; the text stays in the box.
        Err(ReplyError::Invalid { field, message }) => {
            let shown = Shown {
                draft: body,
                problem: Some(Problem { at: ProblemAt::Reply, message: format!("{field}: {message}") }),
                macros: MacroRequest { chosen: Some(macro_id), ..MacroRequest::default() },
                ..Shown::default()
            };
            let page = render_page(state, agent, id, shown).await?;
            return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
        Err(e) => return Err(reply_error(e, id)),
    };
    // A plain "Send" sets the ticket open after a reply, as without a macro, unless the macro sets a status.
    if submit_as == Some(TicketStatus::Open)
        && !has_status
        && matches!(applied.reply, Some(ReplyDone::Queued { .. } | ReplyDone::Held { .. }))
    {
        let change = windowdesk_store::TicketChange { status: Some(TicketStatus::Open), ..Default::default() };
        state.store.update_ticket(id, &change, &actor, state.clock.now()).await?;
        state.events.ticket(id);
    }
    let failed: Vec<String> = applied
        .actions
        .iter()
        .filter(|a| !a.ok)
        .map(|a| format!("{}: {}", a.action.replace('_', " "), a.error.as_deref().unwrap_or("failed")))
        .collect();
    let done = match &applied.reply {
        None => "macro_applied",
        Some(ReplyDone::Queued { .. }) => "macro_sent",
        Some(ReplyDone::TemplateQueued { .. }) => "macro_template",
        Some(ReplyDone::Held { .. }) => "macro_held",
        Some(ReplyDone::SmsQueued { .. }) => "macro_sms",
        Some(ReplyDone::NotSent { .. }) => "",
    };
    if failed.is_empty() && !done.is_empty() {
        let anchor = if done == "macro_applied" { "composer" } else { "thread" };
        return Ok(Redirect::to(&format!("/tickets/{id}?done={done}#{anchor}")).into_response());
    }
    // Something did not happen: the page says what, with the reply's text kept for the ways out.
    let (text, kept) = outcome(&u.row.name, &applied, &failed);
    let shown = Shown { message: Some((false, text)), draft: kept.as_deref(), ..Shown::default() };
    Ok(render_page(state, agent, id, shown).await?.into_response())
}

/// Says what applying did when something did not happen, and the reply text to keep, if it was not sent.
fn outcome(name: &str, applied: &Applied, failed: &[String]) -> (String, Option<String>) {
    let mut parts = Vec::new();
    let mut kept = None;
    match &applied.reply {
        Some(ReplyDone::NotSent { reason, text, ways_out }) => {
            let ways = if ways_out.is_empty() { "none is set up for this number".to_owned() } else { ways_out.join(", ") };
            parts.push(format!("its reply was NOT sent ({reason}). Ways out: {ways}; the text is kept below"));
            kept = Some(text.clone());
        }
        Some(ReplyDone::Queued { .. }) => parts.push("its reply is on its way".to_owned()),
        Some(ReplyDone::TemplateQueued { template, .. }) => {
            parts.push(format!("the window is closed, so its template {template} was sent"))
        }
        Some(ReplyDone::Held { .. }) => parts.push("its reply is held until the customer writes again".to_owned()),
        Some(ReplyDone::SmsQueued { .. }) => parts.push("its reply went by SMS".to_owned()),
        None => {}
    }
    let done = applied.actions.len() - failed.len();
    if done > 0 {
        parts.push(format!("{done} other action{} done", if done == 1 { "" } else { "s" }));
    }
    if !failed.is_empty() {
        parts.push(format!("not done: {}", failed.join("; ")));
    }
    (format!("Macro “{name}” applied: {}.", parts.join("; ")), kept)
}
