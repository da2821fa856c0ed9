//! The window of a ticket (SPEC 4) and what can be sent into it now: replies and internal notes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use windowdesk_core::decision::quote_template;
use windowdesk_core::{decide, Outgoing, SendDecision};
use windowdesk_store::StoreError;

use super::auth::ApiCaller;
use super::dto::{rfc3339, ActionOut, MessageOut};
use super::error::ApiError;
use super::extract::{ApiJson, PathId};
use super::schema;
use super::tickets::no_ticket;
use crate::macros::render_written;
use crate::replies::{checked_text, post_text_reply_to, Outlook, ReplyOutcome, MAX_TEXT_CHARS};
use crate::AppState;

/// SPEC 4's window state of a ticket, and what can be sent now at what cost.
#[derive(Serialize, ToSchema)]
pub struct TicketWindow {
    /// `open` or `closed`.
    pub state: String,
    pub open: bool,
    /// When the customer service window closes or closed at Meta; null when the customer never wrote.
    pub expires_at: Option<String>,
    /// W9: when the desk stops starting free-form sends: `expires_at` minus the send guard
    /// (`dispatcher.window_guard_ms`). Null when the customer never wrote.
    pub send_until: Option<String>,
    /// Whole seconds until `send_until`; 0 when closed.
    pub seconds_left: i64,
    /// End of an active free entry point window.
    pub fep_until: Option<String>,
    /// The next business opening of the ticket's number (now, while open); null when the number has
    /// no business hours (always open) or they never open.
    pub next_business_open: Option<String>,
    /// The window ends while the business is closed (an end at exactly a closing time counts as
    /// closed). Always false for a number without business hours.
    pub closes_outside_business_hours: bool,
    /// Business time, in whole seconds, between now and `expires_at`: 0 means nobody will be at work
    /// before the window closes. Without business hours, all of the time left.
    pub business_seconds_left: i64,
    /// What may be sent now, each with its cost estimate. Free-form appears only while the window is open.
    pub actions: Vec<ActionOut>,
}

#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/window", tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "The window and the allowed actions", body = TicketWindow),
        (status = 401, description = "Missing or invalid token", body = super::error::ErrorBody),
        (status = 404, description = "No such ticket", body = super::error::ErrorBody),
    )
)]
pub async fn get_window(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<Json<TicketWindow>, ApiError> {
    let outlook = Outlook::load(&state, id).await?;
    let ctx = outlook.context();
    let window = outlook.identity.window.state(outlook.policy, outlook.now);
    let schedule = crate::hours::of_number(&state, outlook.ticket.business_number_id).await?;
    let hours = crate::hours::window_hours(schedule.as_ref(), outlook.now, window.expires_at);
    let mut actions = Vec::new();
    match decide(&ctx, &Outgoing::FreeForm) {
        SendDecision::Send { price } => {
            actions.push(ActionOut::from_price("free_form", None, None, &price));
            // Inside the window, approved templates can be sent too, each at its own price.
            for t in outlook.templates.iter().filter(|t| t.is_approved()) {
                let price = quote_template(&ctx, t);
                actions.push(ActionOut::from_price("template", Some(t.name.clone()), Some(t.language.clone()), &price));
            }
        }
        SendDecision::Blocked { options, .. } => actions.extend(options.iter().map(ActionOut::from_option)),
        SendDecision::Invalid { .. } => {}
    }
    Ok(Json(TicketWindow {
        state: if window.open { "open" } else { "closed" }.to_owned(),
        open: window.open,
        expires_at: window.expires_at.map(rfc3339),
        send_until: window.send_until.map(rfc3339),
        seconds_left: window.seconds_left,
        fep_until: window.fep_until.map(rfc3339),
        next_business_open: schedule.as_ref().and(hours.next_business_open).map(rfc3339),
        closes_outside_business_hours: hours.closes_outside_business_hours,
        business_seconds_left: i64::try_from(hours.business_time_left.as_secs()).unwrap_or(i64::MAX),
        actions,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    #[schema(value_type = schema::MessageText)]
    pub body: String,
}

/// A free-form reply.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    #[schema(value_type = schema::MessageText)]
    pub body: String,
    /// The id of one of the customer's messages on this ticket to answer: WhatsApp shows it quoted
    /// above the reply (Meta's `context.message_id`), and so does the ticket's thread.
    pub reply_to: Option<i64>,
}

/// A reply committed to the outbox.
#[derive(Serialize, ToSchema)]
pub struct QueuedReply {
    /// The message id; follow its `delivery_state` on the ticket.
    pub id: i64,
    pub ticket_id: i64,
    /// `queued`.
    pub state: String,
    /// The deadline of every send attempt: a retry after it is blocked, never sent.
    pub window_end: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/replies", tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = ReplyBody,
    responses(
        (status = 202, description = "Committed to the outbox; it is sent from the ticket's business number", body = QueuedReply),
        (status = 404, description = "No such ticket", body = super::error::ErrorBody),
        (status = 409, description = "`window_closed`: the window is closed (details: window_end, options), or the ticket is closed",
         body = super::error::ErrorBody),
        (status = 422, description = "The body is empty or too long, a placeholder in it is unknown or its braces are broken (the message names the token), or `reply_to` is not a customer message of this ticket", body = super::error::ErrorBody),
    )
)]
pub async fn post_reply(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(req): ApiJson<ReplyBody>,
) -> Result<(StatusCode, Json<QueuedReply>), ApiError> {
    let actor = caller.actor();
    let body = render_written(&state, id, &req.body, &actor, "body").await?;
    match post_text_reply_to(&state, id, &body, &actor, req.reply_to).await? {
        ReplyOutcome::Queued { message_id, window_end } => Ok((
            StatusCode::ACCEPTED,
            Json(QueuedReply { id: message_id, ticket_id: id, state: "queued".into(), window_end: window_end.map(rfc3339) }),
        )),
        ReplyOutcome::Blocked { window_end, options } => Err(window_closed(window_end, &options)),
        ReplyOutcome::Held { .. } => Err(ApiError::Internal("a plain reply was held".into())),
    }
}

/// The 409 of a free-form reply the window refuses, with the ways out.
pub fn window_closed(window_end: Option<windowdesk_core::Timestamp>, options: &[windowdesk_core::SendOption]) -> ApiError {
    let options: Vec<ActionOut> = options.iter().map(ActionOut::from_option).collect();
    ApiError::Conflict {
        code: "window_closed",
        message: match window_end {
            Some(end) => format!("the customer service window closed at {}; free-form replies cannot be sent", rfc3339(end)),
            None => "the customer has never written on this number, so free-form replies cannot be sent".to_owned(),
        },
        details: json!({"window_end": window_end.map(rfc3339), "options": options}),
    }
}

#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/notes", tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = TextBody,
    responses(
        (status = 201, description = "The note; notes are never sent to WhatsApp and never touch the window", body = MessageOut),
        (status = 404, description = "No such ticket", body = super::error::ErrorBody),
        (status = 409, description = "The ticket is closed, so read-only", body = super::error::ErrorBody),
        (status = 422, description = "The body is empty or too long, or a placeholder in it is unknown or its braces are broken (the message names the token)", body = super::error::ErrorBody),
    )
)]
pub async fn post_note(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(req): ApiJson<TextBody>,
) -> Result<(StatusCode, Json<MessageOut>), ApiError> {
    let actor = caller.actor();
    checked_text(&req.body, MAX_TEXT_CHARS)?;
    let body = render_written(&state, id, &req.body, &actor, "body").await?;
    let body = checked_text(&body, MAX_TEXT_CHARS)?;
    let note = crate::notes::add_note(&state, id, body, &actor, None).await.map_err(|e| match e {
        StoreError::NotFound(_) => no_ticket(id),
        other => other.into(),
    })?;
    Ok((StatusCode::CREATED, Json(MessageOut::new(note, &[]))))
}
