//! Posting a reply: the one path every sender goes through (W8). It asks the core's send decision
//! with the window as stored, commits an allowed reply to the outbox, and wakes the dispatcher. A
//! reply the window forbids is not stored as if it could go: the caller gets `Blocked` with the ways out.

use serde::Serialize;
use windowdesk_core::decision::TemplateSpec;
use windowdesk_core::window::WindowPolicy;
use windowdesk_core::{decide, Outgoing, SendContext, SendDecision, SendOption, TicketStatus, Timestamp};
use windowdesk_store::{Enqueued, NewOutbound, StoreError};
use windowdesk_whatsapp::client::text_message;

use crate::AppState;

/// WhatsApp's limit for a text message body.
pub const MAX_TEXT_CHARS: usize = 4096;

#[derive(Debug, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ReplyOutcome {
    /// Committed to the outbox; the dispatcher sends it.
    Queued { message_id: i64, window_end: Option<Timestamp> },
    /// The window is closed (or never opened): nothing was stored or sent.
    Blocked { window_end: Option<Timestamp>, options: Vec<SendOption> },
}

#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("ticket {0} does not exist")]
    NoTicket(i64),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Posts a free-form text reply on a ticket, from `author` (`agent:<id>`, `api:<token>`, `rule:<id>`).
pub async fn post_text_reply(state: &AppState, ticket_id: i64, body: &str, author: &str) -> Result<ReplyOutcome, ReplyError> {
    let text = body.trim();
    if text.is_empty() {
        return Err(ReplyError::Invalid { field: "body", message: "must not be empty".into() });
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ReplyError::Invalid { field: "body", message: format!("is longer than WhatsApp's {MAX_TEXT_CHARS} characters") });
    }
    // One query for both: every round trip here is part of the reply's latency.
    let (ticket, identity) = state.store.ticket_with_identity(ticket_id).await?.ok_or(ReplyError::NoTicket(ticket_id))?;
    if ticket.status == TicketStatus::Closed {
        return Err(ReplyError::Conflict(format!("ticket {ticket_id} is closed; closed tickets are read-only")));
    }
    let identity = identity.ok_or_else(|| StoreError::Corrupt(format!("ticket {ticket_id} has no identity")))?;
    let policy = WindowPolicy::WHATSAPP;
    let now = state.clock.now();
    // A free-form reply needs the templates only to offer them when the window blocks it: the
    // decision is taken without them first, and again with them only then.
    let templates;
    let mut ctx = SendContext { window: &identity.window, policy, now, templates: &[], sms_fallback: false, hold_allowed: false };
    let mut decision = decide(&ctx, &Outgoing::FreeForm);
    if matches!(decision, SendDecision::Blocked { .. }) {
        templates = account_templates(state, ticket.business_number_id).await?;
        ctx.templates = &templates;
        decision = decide(&ctx, &Outgoing::FreeForm);
    }
    match decision {
        SendDecision::Send { .. } => {
            let recipient = identity.wa_id.clone().or(identity.bsuid.clone()).unwrap_or(identity.identity_key.clone());
            let window_end = identity.window.window_end(policy);
            let request = text_message(&recipient, text).to_string();
            let queued = state
                .store
                .enqueue(&NewOutbound {
                    ticket_id,
                    kind: "text".into(),
                    body: Some(text.to_owned()),
                    author: author.to_owned(),
                    request,
                    free_form: true,
                    window_end,
                    now,
                })
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(m) => ReplyError::Conflict(m),
                    StoreError::NotFound(_) => ReplyError::NoTicket(ticket_id),
                    other => ReplyError::Store(other),
                })?;
            state.outbox_wake.notify_one();
            state.events.ticket(ticket_id);
            let Enqueued { message_id, .. } = queued;
            Ok(ReplyOutcome::Queued { message_id, window_end })
        }
        SendDecision::Blocked { window_end, options } => Ok(ReplyOutcome::Blocked { window_end, options }),
        SendDecision::Invalid { reason } => Err(ReplyError::Invalid { field: "body", message: reason }),
    }
}

/// The account's templates as the send decision sees them (it offers the approved ones when blocked).
pub(crate) async fn account_templates(state: &AppState, business_number_id: i64) -> Result<Vec<TemplateSpec>, StoreError> {
    let Some(waba) = state.numbers.waba_of(business_number_id) else { return Ok(Vec::new()) };
    Ok(state
        .store
        .templates()
        .await?
        .into_iter()
        .filter(|t| t.waba_id == waba)
        .map(|t| TemplateSpec {
            name: t.name,
            language: t.language,
            category: t.category.unwrap_or_default(),
            status: t.status.unwrap_or_default(),
            body_params: 0,
        })
        .collect())
}
