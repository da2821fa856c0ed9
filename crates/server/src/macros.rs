//! Applying a macro to a ticket (SPEC 10, issue 13 item 4), the placeholder values of a ticket, and
//! placeholders in what agents write themselves (issue 13 item 3).
//!
//! The reply goes through the same send path as an agent's own (W8): inside the window it is queued;
//! with the window closed it becomes what the macro names for that case (its template, a hold, an
//! SMS), or is not sent and says so. Every other action runs on its own and reports its outcome;
//! nothing fails silently.
//!
//! Agents' own replies, held replies, SMS and notes ([`render_written`]) go through the same parser
//! and renderer as macros and rules: text without `{{` is sent exactly as written; text with `{{` is
//! parsed, refused naming the token when a placeholder is unknown or its braces are broken, and
//! rendered before it is queued. There is no escape for a literal `{{`: the renderer never sends two
//! braces side by side, so an agent who means braces writes them apart (`{ {`).

use serde::Serialize;
use windowdesk_core::macros::{Macro, MacroDraft};
use windowdesk_core::placeholder::{PlaceholderContext, PlaceholderError, Text};
use windowdesk_core::rules::{Action, ClosedWindow};
use windowdesk_core::template::{ParamValue, TemplateParams};
use windowdesk_store::MacroRow;

use crate::field_changes::FieldChanges;
use crate::replies::{self, Outlook, ReplyError, ReplyOutcome, TemplateSend};
use crate::AppState;

/// Who applies the macro, for `{{agent.name}}` and the author of what it writes.
pub struct Applier<'a> {
    /// `agent:<id>` or `api:<token id>`.
    pub author: &'a str,
    pub agent_name: Option<&'a str>,
}

/// A stored macro, checked again (it was validated when saved).
pub fn parse(row: &MacroRow) -> Result<Macro, String> {
    let draft: MacroDraft = serde_json::from_str(&row.body).map_err(|e| format!("macro {} is not readable: {e}", row.id))?;
    draft.validate().map_err(|e| format!("macro {} ({:?}): {e}", row.id, row.name))
}

/// How a refused placeholder in written text reads: the core's message (the token, its position, the
/// names it could be), and how to write braces that are not a placeholder.
pub fn refusal(e: &PlaceholderError) -> String {
    format!("{e}. To write braces that are not a placeholder, put a space between them: {{ {{")
}

/// Checks text an agent wrote: `None` when it has no `{{` (it is sent exactly as written), the parsed
/// text otherwise, or [`ReplyError::Invalid`] on `field` naming the refused token.
pub fn parse_written(body: &str, field: &str) -> Result<Option<Text>, ReplyError> {
    if !body.contains("{{") {
        return Ok(None);
    }
    Text::parse(body).map(Some).map_err(|e| ReplyError::Invalid { field: field.to_owned(), message: refusal(&e) })
}

/// Text written by `author` (`agent:<id>`, `api:<token id>`) for `ticket_id` (a reply, held reply,
/// SMS or note), with its placeholders rendered for the ticket; `{{agent.name}}` is the agent's name,
/// and has no value for an API token. Text without `{{` comes back unchanged, without a query.
pub async fn render_written(state: &AppState, ticket_id: i64, body: &str, author: &str, field: &str) -> Result<String, ReplyError> {
    let Some(text) = parse_written(body, field)? else { return Ok(body.to_owned()) };
    let o = Outlook::load_window(state, ticket_id).await?;
    let agent = match author.strip_prefix("agent:").and_then(|id| id.parse::<i64>().ok()) {
        Some(id) => state.store.agent(id).await?.map(|a| a.name),
        None => None,
    };
    Ok(text.render(&placeholder_context(state, &o, agent.as_deref()).await))
}

/// The values placeholders take on `ticket_id`, for `applier`.
pub async fn placeholder_context(state: &AppState, o: &Outlook, agent_name: Option<&str>) -> PlaceholderContext {
    let schedule = crate::hours::of_number(state, o.ticket.business_number_id).await.ok().flatten();
    let now = o.now;
    PlaceholderContext {
        ticket_id: Some(o.ticket.id.to_string()),
        ticket_subject: Some(o.ticket.subject.clone()).filter(|s| !s.is_empty()),
        ticket_status: Some(o.ticket.status.as_str().to_owned()),
        ticket_url: state.public_url.as_ref().map(|base| format!("{}/tickets/{}", base.trim_end_matches('/'), o.ticket.id)),
        // A contact without a profile name is named by their number: core's first_name() takes that as no name.
        requester_name: Some(o.identity.contact_name.clone()).filter(|n| !n.trim().is_empty()),
        requester_first_name: None,
        agent_name: agent_name.map(str::to_owned),
        agent_first_name: None,
        business_name: state.numbers.by_id(o.ticket.business_number_id).map(|n| n.name.clone()),
        window_expires_at: o.window_end(),
        business_hours_next_open: schedule.as_ref().and_then(|s| s.next_business_open(now)),
        time_zone: schedule.as_ref().map_or(chrono_tz::UTC, windowdesk_core::hours::Schedule::time_zone),
        now,
    }
}

/// What applying the macro did with its reply.
#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReplyDone {
    /// Queued inside the window.
    Queued { message_id: i64, text: String },
    /// The window is closed: the macro's template was queued instead.
    TemplateQueued { message_id: i64, template: String, language: String },
    /// The window is closed: held until the customer writes again.
    Held { message_id: i64, text: String },
    /// The window is closed: sent by SMS instead.
    SmsQueued { message_id: i64, text: String },
    /// Not sent, and why (the window is closed and the macro names no way out, or the way out was
    /// refused); `ways_out` lists what the agent can still do.
    NotSent { reason: String, text: String, ways_out: Vec<String> },
}

/// One non-reply action's outcome.
#[derive(Debug, Serialize)]
pub struct ActionDone {
    pub action: &'static str,
    pub ok: bool,
    /// Why it failed.
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Applied {
    pub reply: Option<ReplyDone>,
    pub actions: Vec<ActionDone>,
}

fn render(text: &Text, values: &PlaceholderContext) -> String {
    text.render(values)
}

fn option_name(o: &windowdesk_core::SendOption) -> String {
    match o {
        windowdesk_core::SendOption::Template { name, language, .. } => format!("template {name} ({language})"),
        windowdesk_core::SendOption::Sms { .. } => "sms".into(),
        windowdesk_core::SendOption::Hold { .. } => "hold".into(),
    }
}

/// Renders the macro's reply for the composer (the agent reviews it before sending).
pub async fn preview_reply(state: &AppState, ticket_id: i64, m: &Macro, agent_name: Option<&str>) -> Result<Option<String>, ReplyError> {
    let Some(text) = m.reply() else { return Ok(None) };
    let o = Outlook::load_window(state, ticket_id).await?;
    Ok(Some(render(text, &placeholder_context(state, &o, agent_name).await)))
}

/// Applies every action of `m` to the ticket, each on its own.
pub async fn apply(state: &AppState, ticket_id: i64, m: &Macro, who: &Applier<'_>) -> Result<Applied, ReplyError> {
    apply_reviewed(state, ticket_id, m, who, None).await
}

/// [`apply`], with the reply as the agent reviewed it in the composer (`reviewed`, which may hold
/// placeholders of its own) instead of the macro's text. A refused placeholder in it refuses the
/// whole macro before anything is applied.
pub async fn apply_reviewed(
    state: &AppState,
    ticket_id: i64,
    m: &Macro,
    who: &Applier<'_>,
    reviewed: Option<&str>,
) -> Result<Applied, ReplyError> {
    let reviewed = reviewed.map(|body| parse_written(body, "body").map(|text| (body, text))).transpose()?;
    let o = Outlook::load_window(state, ticket_id).await?;
    o.writable()?;
    let values = placeholder_context(state, &o, who.agent_name).await;
    let mut applied = Applied { reply: None, actions: Vec::new() };
    let mut fields = FieldChanges::default();
    // The agent wrote a reply and chose a macro without one: their reply goes too, never dropped.
    if let (Some((body, parsed)), None) = (&reviewed, m.reply()) {
        let text = parsed.as_ref().map_or_else(|| (*body).to_owned(), |p| render(p, &values));
        applied.reply = Some(send_reply(state, ticket_id, &text, &ClosedWindow::Skip, &values, who.author).await);
    }
    for action in &m.actions {
        if fields.add(action) {
            continue;
        }
        match action {
            Action::Reply { text, when_closed } => {
                let text = match &reviewed {
                    Some((_, Some(parsed))) => render(parsed, &values),
                    Some((body, None)) => (*body).to_owned(),
                    None => render(text, &values),
                };
                applied.reply = Some(send_reply(state, ticket_id, &text, when_closed, &values, who.author).await);
            }
            Action::InternalNote { text } => {
                let body = render(text, &values);
                let done = state.store.add_note(ticket_id, &body, who.author, &[], state.clock.now()).await;
                applied.actions.push(ActionDone { action: action.kind(), ok: done.is_ok(), error: done.err().map(|e| e.to_string()) });
            }
            // Validation keeps these out of macros; a macro stored before that changed says so.
            other => applied.actions.push(ActionDone {
                action: other.kind(),
                ok: false,
                error: Some(format!("a macro cannot `{}`; use a rule", other.kind())),
            }),
        }
    }
    for (kind, error) in fields.apply(state, ticket_id, who.author).await {
        applied.actions.push(ActionDone { action: kind, ok: error.is_none(), error });
    }
    state.events.ticket(ticket_id);
    Ok(applied)
}

async fn send_reply(
    state: &AppState,
    ticket_id: i64,
    text: &str,
    when_closed: &ClosedWindow<Text>,
    values: &PlaceholderContext,
    author: &str,
) -> ReplyDone {
    let not_sent = |reason: String, ways_out: Vec<String>| ReplyDone::NotSent { reason, text: text.to_owned(), ways_out };
    let options = match replies::post_text_reply(state, ticket_id, text, author).await {
        Ok(ReplyOutcome::Queued { message_id, .. }) => return ReplyDone::Queued { message_id, text: text.to_owned() },
        Ok(ReplyOutcome::Held { message_id, .. }) => return ReplyDone::Held { message_id, text: text.to_owned() },
        Ok(ReplyOutcome::Blocked { options, .. }) => options,
        Err(e) => return not_sent(e.to_string(), Vec::new()),
    };
    let ways_out: Vec<String> = options.iter().map(option_name).collect();
    let outcome = match when_closed {
        ClosedWindow::Skip => return not_sent("window closed; the macro names no way out".into(), ways_out),
        ClosedWindow::Template(t) => {
            let mut params = TemplateParams::default();
            for (name, value) in &t.params {
                params.body.insert(name.clone(), ParamValue::text(value.render(values)));
            }
            let send = TemplateSend { name: t.name.clone(), language: t.language.clone(), params };
            match replies::post_template(state, ticket_id, &send, author, None).await {
                Ok(ReplyOutcome::Queued { message_id, .. }) => {
                    return ReplyDone::TemplateQueued { message_id, template: t.name.clone(), language: t.language.clone() }
                }
                other => other,
            }
        }
        ClosedWindow::Hold => replies::hold_reply(state, ticket_id, text, author).await,
        ClosedWindow::Sms { text: sms } => match replies::post_sms(state, ticket_id, &sms.render(values), author, None).await {
            Ok(ReplyOutcome::Queued { message_id, .. }) => return ReplyDone::SmsQueued { message_id, text: sms.render(values) },
            other => other,
        },
    };
    match outcome {
        Ok(ReplyOutcome::Held { message_id, .. }) => ReplyDone::Held { message_id, text: text.to_owned() },
        Ok(ReplyOutcome::Queued { message_id, .. }) => ReplyDone::Queued { message_id, text: text.to_owned() },
        Ok(ReplyOutcome::Blocked { .. }) => not_sent("window closed".into(), ways_out),
        Err(e) => not_sent(format!("window closed, and its way out was refused: {e}"), ways_out),
    }
}
