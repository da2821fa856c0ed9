//! Live updates: every change an open page should show (a message, a status, a ticket change, a
//! failure, a mention) is published here, and the web pages' event stream forwards it.
//!
//! Events carry ids, not content: a page that hears about ticket 42 fetches what it shows of it,
//! through the same authenticated routes as a reload, so nothing leaks through the stream.
//!
//! With several instances on PostgreSQL, each event is also relayed to the other instances through
//! the store's `LISTEN/NOTIFY` relay, so a page hears about a reply sent through any instance.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use windowdesk_store::LiveRelay;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeskEvent {
    /// Something on the ticket changed: a message arrived or was sent, a status, a field, a note.
    Ticket { ticket_id: i64 },
    /// An agent has a new notification (an @mention).
    Notification { agent_id: i64 },
    /// Something was queued to send: whichever instance sends for its number claims it now instead of
    /// at its next look.
    Outbox,
    /// An agent has the ticket open (`typing`: and is writing a reply). Pages say so to the other
    /// agents on the same ticket, so two people do not answer one customer at once.
    Presence { ticket_id: i64, agent_id: i64, typing: bool },
}

/// The in-process bus. Slow subscribers miss events (they are told, and resynchronise).
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<DeskEvent>,
    /// Cancelled when the desk stops: open streams end, so they do not hold up the shutdown.
    closed: CancellationToken,
    /// To the other instances, when there are others.
    relay: Option<Arc<Outgoing>>,
}

struct Outgoing {
    /// This instance, so that it ignores its own events when they come back.
    origin: String,
    tx: mpsc::UnboundedSender<String>,
}

/// An event as it travels between instances.
#[derive(Serialize, Deserialize)]
struct Relayed {
    origin: String,
    event: DeskEvent,
}

impl Default for Events {
    fn default() -> Self {
        Events { tx: broadcast::channel(1024).0, closed: CancellationToken::new(), relay: None }
    }
}

impl Events {
    /// A bus whose events also reach the other instances of the desk, and theirs this one.
    pub fn relayed(relay: LiveRelay) -> Events {
        let LiveRelay { channel, outgoing, mut incoming } = relay;
        let origin = crate::singleton::instance_id();
        let events = Events { relay: Some(Arc::new(Outgoing { origin: origin.clone(), tx: outgoing })), ..Events::default() };
        let local = events.tx.clone();
        let closed = events.closed.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    payload = incoming.recv() => {
                        let Some(payload) = payload else { return };
                        match serde_json::from_str::<Relayed>(&payload) {
                            Ok(r) if r.origin != origin => {
                                let _ = local.send(r.event);
                            }
                            Ok(_) => {}
                            Err(e) => tracing::debug!(error = %e, "ignoring a live update that is not the desk's"),
                        }
                    }
                    () = closed.cancelled() => return,
                }
            }
        });
        tracing::info!(%channel, "live updates are relayed between instances");
        events
    }

    pub fn publish(&self, event: DeskEvent) {
        // No subscriber is fine: nobody has a page open.
        let _ = self.tx.send(event);
        if let Some(relay) = &self.relay {
            if let Ok(payload) = serde_json::to_string(&Relayed { origin: relay.origin.clone(), event }) {
                let _ = relay.tx.send(payload);
            }
        }
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
