//! Live updates: every change an open page should show (a message, a status, a ticket change, a
//! failure, a mention) is published here, and the web pages' event stream forwards it.
//!
//! Events carry ids, not content: a page that hears about ticket 42 fetches what it shows of it,
//! through the same authenticated routes as a reload, so nothing leaks through the stream.

use serde::Serialize;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeskEvent {
    /// Something on the ticket changed: a message arrived or was sent, a status, a field, a note.
    Ticket { ticket_id: i64 },
    /// An agent has a new notification (an @mention).
    Notification { agent_id: i64 },
}

/// The in-process bus. Slow subscribers miss events (they are told, and resynchronise).
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<DeskEvent>,
    /// Cancelled when the desk stops: open streams end, so they do not hold up the shutdown.
    closed: CancellationToken,
}

impl Default for Events {
    fn default() -> Self {
        Events { tx: broadcast::channel(1024).0, closed: CancellationToken::new() }
    }
}

impl Events {
    pub fn publish(&self, event: DeskEvent) {
        // No subscriber is fine: nobody has a page open.
        let _ = self.tx.send(event);
    }

    pub fn ticket(&self, ticket_id: i64) {
        self.publish(DeskEvent::Ticket { ticket_id });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<DeskEvent> {
        self.tx.subscribe()
    }

    /// Ends every open stream (at shutdown).
    pub fn close(&self) {
        self.closed.cancel();
    }

    /// Resolves when the desk stops.
    pub fn closed(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.closed.clone().cancelled_owned()
    }
}
