//! Live updates: the server-sent event stream, and the fragments and counts a page refetches when it
//! hears that something changed. Events name tickets; what a page shows comes through these routes,
//! under the same session as the page itself.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::Html;
use axum::Json;
use futures_util::stream::{Stream, StreamExt};
use serde_json::{json, Value};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::inbox::inbox_lists;
use super::render::{badge_json, nav_counts};
use super::session::Agent;
use super::WebError;
use crate::events::DeskEvent;
use crate::AppState;

/// `GET /live/events`: `ticket` events (`{"ticket_id": 42}`) for every change, `notification` events for
/// this agent's mentions, `presence` events (`{"ticket_id", "agent_id", "typing"}`) for other agents
/// with a ticket open, and `resync` when this stream fell behind (the page then refreshes all).
pub async fn events(State(state): State<AppState>, agent: Agent) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let me = agent.id();
    let stream = BroadcastStream::new(state.events.subscribe()).filter_map(move |item| async move {
        let event = match item {
            Ok(DeskEvent::Ticket { ticket_id }) => Event::default().event("ticket").data(json!({ "ticket_id": ticket_id }).to_string()),
            Ok(DeskEvent::Notification { agent_id }) if agent_id == me => Event::default().event("notification").data("{}"),
            Ok(DeskEvent::Presence { ticket_id, agent_id, typing }) if agent_id != me => Event::default()
                .event("presence")
                .data(json!({ "ticket_id": ticket_id, "agent_id": agent_id, "typing": typing }).to_string()),
            Ok(DeskEvent::Notification { .. } | DeskEvent::Outbox | DeskEvent::Presence { .. }) => return None,
            Err(BroadcastStreamRecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
        };
        Some(Ok(event))
    });
    // The first event tells the page the stream is live (and how long to wait before reconnecting).
    let hello = futures_util::stream::once(async { Ok(Event::default().event("hello").retry(Duration::from_secs(2)).data("{}")) });
    Sse::new(hello.chain(stream).take_until(state.events.closed())).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// `GET /live/counts`: the navigation counts, `{"assigned": 3, …, "view-7": 2}`.
pub async fn counts(State(state): State<AppState>, agent: Agent) -> Result<Json<Value>, WebError> {
    let c = nav_counts(&state, &agent).await?;
    let mut out = json!({
        "assigned": badge_json(c.assigned),
        "unassigned": badge_json(c.unassigned),
        "closing_soon": badge_json(c.closing_soon),
        "pending": badge_json(c.pending),
        "solved": badge_json(c.solved),
        "failed": badge_json(c.failed),
        "mentions": c.mentions,
    });
    for (id, _, n) in c.views {
        out[format!("view-{id}")] = badge_json(n);
    }
    Ok(Json(out))
}

/// `GET /live/inbox`: the inbox's two lists.
pub async fn inbox_fragment(State(state): State<AppState>, agent: Agent) -> Result<Html<String>, WebError> {
    Ok(Html(inbox_lists(&state, &agent).await?.into_string()))
}

/// `GET /tickets/{id}/live`: a ticket's banner, thread and events.
pub async fn ticket_fragment(State(state): State<AppState>, agent: Agent, Path(id): Path<i64>) -> Result<Html<String>, WebError> {
    Ok(Html(super::ticket::live_fragment(&state, &agent, id).await?.into_string()))
}
