//! Group commit: concurrent webhook requests share one transaction.
//!
//! Each request puts its payload on a queue and waits. A collector takes everything queued (up to
//! `max_batch`), hands it to the backend as one batch, and answers every waiter with its own result
//! once the transaction is durable. While a batch commits, the next one accumulates, so under load the
//! cost of a durable commit (an fsync) is shared by hundreds of payloads, and when idle a lone payload
//! commits at once without waiting for company.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;

use crate::error::StoreError;
use crate::ingest::{IngestPayload, IngestSummary};

type Reply = oneshot::Sender<Result<IngestSummary, StoreError>>;

/// One result per payload of a batch, in order.
pub type BatchResults<'a> = Pin<Box<dyn Future<Output = Vec<Result<IngestSummary, StoreError>>> + Send + 'a>>;

/// A backend that commits a batch of payloads in one transaction, answering per payload.
pub trait BatchCommitter: Send + Sync + 'static {
    fn commit_batch(&self, batch: Vec<IngestPayload>) -> BatchResults<'_>;
}

pub struct GroupCommit {
    tx: std::sync::Mutex<Option<mpsc::UnboundedSender<(IngestPayload, Reply)>>>,
    collector: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl GroupCommit {
    pub fn start(backend: Arc<dyn BatchCommitter>, max_batch: usize, max_in_flight: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let collector = tokio::spawn(collect(rx, backend, max_batch.max(1), max_in_flight.max(1)));
        GroupCommit { tx: std::sync::Mutex::new(Some(tx)), collector: tokio::sync::Mutex::new(Some(collector)) }
    }

    pub async fn submit(&self, payload: IngestPayload) -> Result<IngestSummary, StoreError> {
        let (reply, answer) = oneshot::channel();
        {
            let guard = self.tx.lock().map_err(|_| StoreError::Closed)?;
            let tx = guard.as_ref().ok_or(StoreError::Closed)?;
            tx.send((payload, reply)).map_err(|_| StoreError::Closed)?;
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Stops taking payloads and waits until everything queued has committed.
    pub async fn close(&self) {
        if let Ok(mut guard) = self.tx.lock() {
            guard.take();
        }
        if let Some(handle) = self.collector.lock().await.take() {
            let _ = handle.await;
        }
    }
}

async fn collect(
    mut rx: mpsc::UnboundedReceiver<(IngestPayload, Reply)>,
    backend: Arc<dyn BatchCommitter>,
    max_batch: usize,
    max_in_flight: usize,
) {
    let permits = Arc::new(Semaphore::new(max_in_flight));
    let mut running = tokio::task::JoinSet::new();
    while let Some(first) = rx.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        // Whatever queued up while we waited for a free transaction slot joins this batch.
        let mut items = vec![first];
        while items.len() < max_batch {
            match rx.try_recv() {
                Ok(item) => items.push(item),
                Err(_) => break,
            }
        }
        let backend = backend.clone();
        running.spawn(async move {
            let (payloads, replies): (Vec<_>, Vec<_>) = items.into_iter().unzip();
            let results = backend.commit_batch(payloads).await;
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
            drop(permit);
        });
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}
