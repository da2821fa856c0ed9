//! Starting sends: the fence asked of the database at the last moment before a request leaves
//! (issue 12). Sends that are ready at the same time share one round trip.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use windowdesk_core::Clock;
use windowdesk_store::{OutboxJob, SendError, Store};

use super::ownership::Ownership;

/// What the fence said about one send.
pub enum Start {
    /// Still this instance's: its attempt row is written; send it now.
    Go,
    /// Someone else's now: do not send, do not record.
    Fenced,
    /// The database did not answer: not sent; try again later.
    Unknown(SendError),
}

pub type Starts = mpsc::UnboundedSender<(OutboxJob, oneshot::Sender<Start>)>;

/// Asks the fence for `job`.
pub async fn start(starts: &Starts, job: &OutboxJob) -> Start {
    let (tx, rx) = oneshot::channel();
    if starts.send((job.clone(), tx)).is_err() {
        return Start::Unknown(unavailable("the desk is stopping".into()));
    }
    rx.await.unwrap_or_else(|_| Start::Unknown(unavailable("the desk is stopping".into())))
}

fn unavailable(why: String) -> SendError {
    SendError { http_status: None, code: None, title: format!("not sent: the database did not confirm the send ({why})"), details: None }
}

/// Answers start requests in batches: whatever queued up while the previous batch was being checked.
pub async fn start_sends(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    ownership: Arc<Ownership>,
    mut waiting: mpsc::UnboundedReceiver<(OutboxJob, oneshot::Sender<Start>)>,
) {
    while let Some(first) = waiting.recv().await {
        let mut batch = vec![first];
        while batch.len() < 256 {
            match waiting.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let jobs: Vec<OutboxJob> = batch.iter().map(|(job, _)| job.clone()).collect();
        let now = clock.now();
        match store.start_attempts(&jobs, ownership.worker(), now, now.plus(ownership.margin())).await {
            Ok(started) => {
                for ((_, answer), go) in batch.into_iter().zip(started) {
                    let _ = answer.send(if go { Start::Go } else { Start::Fenced });
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, sends = batch.len(), "could not start sends; they will be tried again");
                let why = e.to_string();
                for (_, answer) in batch {
                    let _ = answer.send(Start::Unknown(unavailable(why.clone())));
                }
            }
        }
    }
}
