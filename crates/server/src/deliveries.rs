//! What an agent does about a failed, blocked or expired message (SPEC D4): resend it as it was (when
//! the window is open again), hold it until the customer writes, send it as a template or via SMS
//! instead, or dismiss it. The original and its history always stay on the ticket.

use windowdesk_core::{decide, Outgoing, SendDecision, SendOption};
use windowdesk_store::{Requeue, StoreError};

use crate::replies::{post_sms, post_template, Outlook, ReplyError, ReplyOutcome, TemplateSend};
use crate::AppState;

#[derive(Clone, Debug)]
pub enum ResendAs {
    /// The same message again; a free-form one needs the window open.
    AsIs,
    /// Held until the customer writes again (free-form messages with the window closed).
    Hold,
    /// An approved template instead.
    Template(TemplateSend),
    /// An SMS instead; the text defaults to the original's.
    Sms { body: Option<String> },
}

fn store_error(e: StoreError) -> ReplyError {
    match e {
        StoreError::Conflict(m) => ReplyError::Conflict(m),
        StoreError::NotFound(m) => ReplyError::Invalid { field: "message_id".into(), message: m },
        other => ReplyError::Store(other),
    }
}

/// Resends failed message `message_id` the chosen way; returns its ticket and what was sent.
pub async fn resend(state: &AppState, message_id: i64, how: ResendAs, author: &str) -> Result<(i64, ReplyOutcome), ReplyError> {
    let original = state.store.outbound_message(message_id).await?.ok_or_else(|| ReplyError::Invalid {
        field: "message_id".into(),
        message: format!("outbound message {message_id} does not exist"),
    })?;
    if !original.state.needs_attention() || original.resolution.is_some() {
        return Err(ReplyError::Conflict(format!(
            "message {message_id} is {}{}: only failed or blocked messages can be resent",
            original.state.as_str(),
            original.resolution.as_deref().map(|r| format!(" (dealt with: {r})")).unwrap_or_default()
        )));
    }
    let ticket_id = original.ticket_id;
    let o = Outlook::load(state, ticket_id).await?;
    let now = o.now;
    let outcome = match how {
        ResendAs::AsIs => {
            let window_end = if original.free_form && original.channel == "whatsapp" {
                match decide(&o.context(), &Outgoing::FreeForm) {
                    SendDecision::Send { .. } => o.window_end(),
                    SendDecision::Blocked { window_end, options } => return Ok((ticket_id, ReplyOutcome::Blocked { window_end, options })),
                    SendDecision::Invalid { reason, .. } => return Err(ReplyError::Conflict(reason)),
                }
            } else {
                None
            };
            state.store.requeue_failed(message_id, Requeue::Now { window_end }, author, now).await.map_err(store_error)?;
            ReplyOutcome::Queued { message_id, window_end }
        }
        ResendAs::Hold => {
            if !original.free_form {
                return Err(ReplyError::Conflict("only free-form replies can be held; send this one again as it is".into()));
            }
            let expires_at = match decide(&o.context(), &Outgoing::FreeForm) {
                SendDecision::Send { .. } => {
                    return Err(ReplyError::Conflict("the window is open again: resend the message as it is".into()));
                }
                SendDecision::Invalid { reason, .. } => return Err(ReplyError::Conflict(reason)),
                SendDecision::Blocked { options, .. } => options
                    .iter()
                    .find_map(|o| if let SendOption::Hold { expires_at } = o { Some(*expires_at) } else { None })
                    .ok_or_else(|| ReplyError::Conflict("holding replies is not among this business number's fallbacks".into()))?,
            };
            state.store.requeue_failed(message_id, Requeue::Hold { expires_at }, author, now).await.map_err(store_error)?;
            ReplyOutcome::Held { message_id, expires_at, notice: None }
        }
        ResendAs::Template(send) => post_template(state, ticket_id, &send, author, Some(message_id)).await?,
        ResendAs::Sms { body } => {
            // A text the agent wrote now may hold placeholders; the original was rendered when written.
            let text = match body {
                Some(body) => crate::macros::render_written(state, ticket_id, &body, author, "body").await?,
                None => original.body.clone().unwrap_or_default(),
            };
            post_sms(state, ticket_id, &text, author, Some(message_id)).await?
        }
    };
    state.outbox_queued();
    state.events.ticket(ticket_id);
    Ok((ticket_id, outcome))
}

/// Takes a failed or blocked message off the Failed deliveries list; it stays on its ticket.
pub async fn dismiss(state: &AppState, message_id: i64, author: &str) -> Result<i64, ReplyError> {
    let original = state.store.outbound_message(message_id).await?.ok_or_else(|| ReplyError::Invalid {
        field: "message_id".into(),
        message: format!("outbound message {message_id} does not exist"),
    })?;
    state.store.dismiss_failed(message_id, author, state.clock.now()).await.map_err(store_error)?;
    state.events.ticket(original.ticket_id);
    Ok(original.ticket_id)
}
