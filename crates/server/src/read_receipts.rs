//! Read receipts and the typing indicator (issue 15 item 1): what the customer sees of an agent at
//! work. When an agent opens a ticket, the customer's latest message is marked read at Meta
//! (`"status": "read"`, which marks every earlier message read too), once per message; while an
//! agent types a reply, the page asks for a typing indicator, which Meta sends with the same call
//! and shows for up to 25 seconds or until the reply arrives. Each is switched per business number
//! (`read_receipts`, `typing_indicator` in its settings); Meta shows a typing indicator only with a
//! read receipt, so it needs read receipts on. Neither is ever worth failing a page for: a refusal
//! from Meta is logged and the agent carries on.

use secrecy::ExposeSecret;

use crate::AppState;

/// What the call did, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Meta was told.
    Sent,
    /// Nothing to tell: switched off for the number, no customer message with a wamid, or already
    /// marked read.
    Nothing,
}

/// Marks the ticket's latest customer message read at Meta, unless it already was or the number
/// has read receipts switched off. With `typing`, asks for the typing indicator too (when the number
/// allows it; then it is sent even for a message already marked read).
pub async fn mark_read(state: &AppState, ticket_id: i64, typing: bool) -> anyhow::Result<Outcome> {
    let Some(summary) = state.store.ticket_summary(ticket_id).await? else { return Ok(Outcome::Nothing) };
    let bn = summary.ticket.business_number_id;
    let settings = crate::replies::settings_of(state, bn).await?;
    if !settings.read_receipts {
        return Ok(Outcome::Nothing);
    }
    let typing = typing && settings.typing_indicator;
    let Some(latest) = state.store.latest_inbound(ticket_id).await? else { return Ok(Outcome::Nothing) };
    if latest.read_receipt_at.is_some() && !typing {
        return Ok(Outcome::Nothing);
    }
    let Some(number) = state.numbers.by_id(bn) else { return Ok(Outcome::Nothing) };
    state.cloud_api.mark_read(&number.phone_number_id, number.access_token.expose_secret(), &latest.wamid, typing).await?;
    state.store.mark_read_receipt(latest.message_id, state.clock.now()).await?;
    Ok(Outcome::Sent)
}

/// [`mark_read`] in the background: the page an agent opened never waits for Meta.
pub fn mark_read_soon(state: &AppState, ticket_id: i64, typing: bool) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = mark_read(&state, ticket_id, typing).await {
            tracing::warn!(ticket_id, typing, error = %format!("{e:#}"), "the customer's message could not be marked read at Meta");
        }
    });
}
