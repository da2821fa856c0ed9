//! What a firing rule does (SPEC 10, issue 13 item 5): each action runs and fails on its own, every
//! send goes through the send decision (W8), and what happened is one `rule_applied` event on the
//! ticket, naming the rule and saying, for each action, what it did or why it did not.
//!
//! Send actions are planned by the core ([`plan_send`]) for the window at the moment they run:
//! free-form only while the window is open before its send deadline, otherwise the rule's
//! closed-window variant (template, hold, SMS) or "not sent: window closed". The plan then goes
//! through the same functions as an agent's reply, which decide again and refuse a free-form
//! message the window no longer allows.

use serde::Serialize;
use windowdesk_core::placeholder::PlaceholderContext;
use windowdesk_core::rules::{plan_send, Action, PlannedSend};
use windowdesk_core::{Rule, RuleContext};
use windowdesk_store::FieldFiring;

use crate::field_changes::FieldChanges;
use crate::http_targets::Caller;
use crate::replies::{self, Outlook, ReplyError, ReplyOutcome, TemplateSend};
use crate::AppState;

/// One firing: the rule, the context it matched, and what set it off.
pub struct RuleRun<'a> {
    pub rule: &'a Rule,
    pub ctx: &'a RuleContext<'a>,
    /// `message:<id>`, `event:<id>` or `automation_run:<id>`.
    pub trigger: &'a str,
    /// For an automation's execution: the prefix of its sends' dedupe keys (`automation_run:<id>`),
    /// so running it again after its instance died queues nothing twice.
    pub dedupe: Option<&'a str>,
}

/// What one action did, as the ticket event records it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ActionOutcome {
    pub action: &'static str,
    pub ok: bool,
    /// What happened, in words: `queued (message 12)`, `not sent: window closed`.
    pub outcome: String,
}

impl ActionOutcome {
    pub fn ok(action: &'static str, outcome: impl Into<String>) -> Self {
        ActionOutcome { action, ok: true, outcome: outcome.into() }
    }
    pub fn failed(action: &'static str, outcome: impl Into<String>) -> Self {
        ActionOutcome { action, ok: false, outcome: outcome.into() }
    }
}

/// Runs the rule's actions on the ticket and records what they did.
pub async fn run_firing(state: &AppState, run: &RuleRun<'_>) -> Vec<ActionOutcome> {
    let ticket_id = run.ctx.ticket_id;
    let author = format!("rule:{}", run.rule.id);
    let values = placeholder_values(state, ticket_id).await;
    let mut outcomes = Vec::new();
    let mut fields = FieldChanges::default();
    for (index, action) in run.rule.actions.iter().enumerate() {
        let Some(values) = &values else {
            outcomes.push(ActionOutcome::failed(action.kind(), "the ticket could not be read"));
            continue;
        };
        if let Action::SetAssignee { agent_id } = action {
            if let Err(why) = agent_exists(state, *agent_id).await {
                outcomes.push(ActionOutcome::failed(action.kind(), why));
                continue;
            }
        }
        if fields.add(action) {
            continue;
        }
        let by = Actor {
            author: &author,
            dedupe: run.dedupe.map(|prefix| format!("{prefix}:action:{index}")),
            webhook_id: crate::http_targets::webhook_id(run.dedupe.unwrap_or(run.trigger), run.rule.id, index),
            caller: Caller::Rule { id: run.rule.id, name: &run.rule.name },
        };
        outcomes.push(run_action(state, run.ctx, action, values, &by).await);
    }
    for (kind, error) in fields.apply(state, ticket_id, &author).await {
        outcomes.push(match error {
            None => ActionOutcome::ok(kind, "done"),
            Some(e) => ActionOutcome::failed(kind, e),
        });
    }
    let data = applied_data(run, &outcomes);
    if let Err(e) = state.store.record_rule_run(ticket_id, &author, data, state.clock.now()).await {
        tracing::warn!(ticket_id, rule = run.rule.id, error = %e, "what a rule did could not be recorded on the ticket");
    }
    tracing::info!(ticket_id, rule = run.rule.id, event = run.ctx.event.as_str(), trigger = run.trigger, "rule applied");
    state.events.ticket(ticket_id);
    outcomes
}

/// The placeholder values of the ticket now; `None` (logged) when it cannot be read.
pub async fn placeholder_values(state: &AppState, ticket_id: i64) -> Option<PlaceholderContext> {
    match Outlook::load_window(state, ticket_id).await {
        Ok(o) => Some(crate::macros::placeholder_context(state, &o, None).await),
        Err(e) => {
            tracing::warn!(ticket_id, error = %e, "a rule or workflow could not read its ticket");
            None
        }
    }
}

/// Who does an action, and the keys that make doing it again harmless.
pub struct Actor<'a> {
    /// `rule:<id>` or `workflow:<id>`: the author of messages and notes, the actor of changes.
    pub author: &'a str,
    /// The dedupe key of a send (`automation_run:<id>:action:<n>`, `workflow_run:<id>:<path>`):
    /// a send with a key already used queues nothing. `None`: no key (a trigger's firing runs once).
    pub dedupe: Option<String>,
    /// The `webhook-id` of a `call_http` delivery, unique per firing and action.
    pub webhook_id: String,
    pub caller: Caller<'a>,
}

/// Does one action on the ticket and says what happened. Field changes are applied on their own
/// (a rule gathers its field actions into one change instead, see [`run_firing`]).
pub async fn run_action(
    state: &AppState,
    ctx: &RuleContext<'_>,
    action: &Action<windowdesk_core::placeholder::Text>,
    values: &PlaceholderContext,
    by: &Actor<'_>,
) -> ActionOutcome {
    let ticket_id = ctx.ticket_id;
    let author = by.author;
    match action {
        Action::Reply { .. } | Action::SendTemplate(_) | Action::SendSms { .. } | Action::HoldReply { .. } => {
            send(state, ctx, action, values, author, by.dedupe.as_deref()).await
        }
        Action::SetStatus { .. }
        | Action::SetPriority { .. }
        | Action::AddTags { .. }
        | Action::RemoveTags { .. }
        | Action::SetAssignee { .. }
        | Action::Unassign => {
            if let Action::SetAssignee { agent_id } = action {
                if let Err(why) = agent_exists(state, *agent_id).await {
                    return ActionOutcome::failed(action.kind(), why);
                }
            }
            let mut fields = FieldChanges::default();
            fields.add(action);
            match fields.apply(state, ticket_id, author).await.pop() {
                Some((kind, Some(e))) => ActionOutcome::failed(kind, e),
                _ => ActionOutcome::ok(action.kind(), "done"),
            }
        }
        Action::InternalNote { text } => {
            let body = text.render(values);
            match state.store.add_note(ticket_id, &body, author, &[], state.clock.now()).await {
                Ok(note) => ActionOutcome::ok(action.kind(), format!("note added (message {})", note.id)),
                Err(e) => ActionOutcome::failed(action.kind(), e.to_string()),
            }
        }
        Action::CallHttp { target_id } => {
            let id = &by.webhook_id;
            match crate::http_targets::enqueue(state, *target_id, id, ticket_id, by.caller, ctx.event.as_str()).await {
                Ok(true) => ActionOutcome::ok(action.kind(), format!("queued for HTTP target {target_id} ({id})")),
                Ok(false) => ActionOutcome::ok(action.kind(), format!("already queued for HTTP target {target_id} ({id})")),
                Err(e) => ActionOutcome::failed(action.kind(), e),
            }
        }
        Action::NotifyAgent { .. } | Action::NotifyAssignee { .. } => {
            let (agent_id, text) = match action {
                Action::NotifyAgent { agent_id, text } => (*agent_id, text),
                Action::NotifyAssignee { text } => match ctx.assignee_id {
                    Some(agent_id) => (agent_id, text),
                    None => return ActionOutcome::failed(action.kind(), "the ticket is not assigned to anyone"),
                },
                _ => unreachable!("matched above"),
            };
            if let Err(why) = agent_exists(state, agent_id).await {
                return ActionOutcome::failed(action.kind(), why);
            }
            // The notification is an internal note that mentions the agent: it lands in their
            // notifications and shows on the ticket where they will look.
            let body = text.render(values);
            match state.store.add_note(ticket_id, &body, author, &[agent_id], state.clock.now()).await {
                Ok(_) => {
                    state.events.publish(crate::events::DeskEvent::Notification { agent_id });
                    ActionOutcome::ok(action.kind(), format!("agent {agent_id} notified"))
                }
                Err(e) => ActionOutcome::failed(action.kind(), e.to_string()),
            }
        }
    }
}

/// The data of the `rule_applied` event: the rule, the event, what set it off, and what each action did.
pub fn applied_data(run: &RuleRun<'_>, outcomes: &[ActionOutcome]) -> serde_json::Value {
    serde_json::json!({
        "rule_id": run.rule.id,
        "rule": run.rule.name,
        "event": run.ctx.event.as_str(),
        "trigger": run.trigger,
        "actions": outcomes,
    })
}

/// A firing whose actions only change ticket fields, ready for [`windowdesk_store::RuleStore::apply_field_firings`]:
/// the change, the firing and its event are written in one transaction; `None` for any other rule.
pub fn field_firing(run: &RuleRun<'_>, firing: windowdesk_store::RuleFiring) -> Option<FieldFiring> {
    let (change, kinds) = FieldChanges::only_fields(&run.rule.actions)?.into_parts();
    let outcomes: Vec<ActionOutcome> = kinds.into_iter().map(|kind| ActionOutcome::ok(kind, "done")).collect();
    Some(FieldFiring { firing, change, actor: format!("rule:{}", run.rule.id), data: applied_data(run, &outcomes) })
}

/// A rule names agents by id; one deleted since the rule was saved fails that action alone.
async fn agent_exists(state: &AppState, agent_id: i64) -> Result<(), String> {
    match state.store.agent(agent_id).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(format!("there is no agent {agent_id}")),
        Err(e) => Err(e.to_string()),
    }
}

/// A send action, planned for the window now and sent through the send decision.
async fn send(
    state: &AppState,
    ctx: &RuleContext<'_>,
    action: &Action<windowdesk_core::placeholder::Text>,
    values: &PlaceholderContext,
    author: &str,
    dedupe: Option<&str>,
) -> ActionOutcome {
    let kind = action.kind();
    let ticket_id = ctx.ticket_id;
    let mut ctx = *ctx;
    // Planned for the moment it goes, not the moment the event happened.
    ctx.now = state.clock.now();
    let Some(plan) = plan_send(action, &ctx, values) else { return ActionOutcome::failed(kind, "sends nothing") };
    let result = match &plan {
        PlannedSend::FreeForm { text } => replies::post_text_reply_keyed(state, ticket_id, text, author, dedupe).await,
        PlannedSend::Template { name, language, params } => {
            let send = TemplateSend { name: name.clone(), language: language.clone(), params: params.clone() };
            replies::post_template_keyed(state, ticket_id, &send, author, None, dedupe).await
        }
        PlannedSend::Hold { text, expires_after_hours } => hold(state, ticket_id, text, *expires_after_hours, author, dedupe).await,
        PlannedSend::Sms { text } => replies::post_sms_keyed(state, ticket_id, text, author, None, dedupe).await,
        PlannedSend::Skipped { reason } => return ActionOutcome::ok(kind, format!("not sent: {reason}")),
    };
    let what = match &plan {
        PlannedSend::FreeForm { .. } => "reply".to_owned(),
        PlannedSend::Template { name, language, .. } => format!("template {name} ({language})"),
        PlannedSend::Hold { .. } => "held reply".to_owned(),
        PlannedSend::Sms { .. } => "SMS".to_owned(),
        PlannedSend::Skipped { .. } => unreachable!("returned above"),
    };
    match result {
        Ok(ReplyOutcome::Queued { message_id, .. }) => ActionOutcome::ok(kind, format!("{what} queued (message {message_id})")),
        Ok(ReplyOutcome::Held { message_id, expires_at, .. }) => {
            ActionOutcome::ok(kind, format!("held until the customer writes again (message {message_id}, expires {expires_at})"))
        }
        // The window closed between the plan and the decision (W9): nothing went out.
        Ok(ReplyOutcome::Blocked { .. }) => ActionOutcome::ok(kind, format!("not sent: {}", windowdesk_core::rules::WINDOW_CLOSED)),
        Err(e) => ActionOutcome::failed(kind, format!("{what} not sent: {e}")),
    }
}

/// A held reply: with the window open it is sent now instead (holding is for a closed window).
async fn hold(
    state: &AppState,
    ticket_id: i64,
    text: &str,
    hours: Option<i64>,
    author: &str,
    dedupe: Option<&str>,
) -> Result<ReplyOutcome, ReplyError> {
    match replies::hold_reply_keyed(state, ticket_id, text, author, hours, dedupe).await {
        Err(ReplyError::Conflict(m)) if m.starts_with("the window is open") => {
            replies::post_text_reply_keyed(state, ticket_id, text, author, dedupe).await
        }
        other => other,
    }
}
