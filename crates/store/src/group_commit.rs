//! Group commit: concurrent requests (webhook payloads, replies) share one transaction.
//!
//! Each request puts its item on a queue and waits. A collector takes everything queued (up to
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

type Reply<R> = oneshot::Sender<Result<R, StoreError>>;
type Queue<I, R> = mpsc::UnboundedSender<(I, Reply<R>)>;

/// One result per item of a batch, in order.
pub type BatchResults<'a, R> = Pin<Box<dyn Future<Output = Vec<Result<R, StoreError>>> + Send + 'a>>;

/// A backend that commits a batch of items (webhook payloads, replies) in one transaction, answering
/// per item.
pub trait BatchCommitter<I, R>: Send + Sync + 'static {
    fn commit_batch(&self, batch: Vec<I>) -> BatchResults<'_, R>;
}

pub struct GroupCommit<I, R> {
    tx: std::sync::Mutex<Option<Queue<I, R>>>,
    collector: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

impl<I: Send + 'static, R: Send + 'static> GroupCommit<I, R> {
    pub fn start(backend: Arc<dyn BatchCommitter<I, R>>, max_batch: usize, max_in_flight: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let collector = tokio::spawn(collect(rx, backend, max_batch.max(1), max_in_flight.max(1)));
        GroupCommit { tx: std::sync::Mutex::new(Some(tx)), collector: tokio::sync::Mutex::new(Some(collector)) }
    }

    pub async fn submit(&self, item: I) -> Result<R, StoreError> {
        let (reply, answer) = oneshot::channel();
        {
            let guard = self.tx.lock().map_err(|_| StoreError::Closed)?;
            let tx = guard.as_ref().ok_or(StoreError::Closed)?;
            tx.send((item, reply)).map_err(|_| StoreError::Closed)?;
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Stops taking items and waits until everything queued has committed.
    pub async fn close(&self) {
        if let Ok(mut guard) = self.tx.lock() {
            guard.take();
        }
        if let Some(handle) = self.collector.lock().await.take() {
            let _ = handle.await;
        }
    }
}

async fn collect<I: Send + 'static, R: Send + 'static>(
    mut rx: mpsc::UnboundedReceiver<(I, Reply<R>)>,
    backend: Arc<dyn BatchCommitter<I, R>>,
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
            let (batch, replies): (Vec<_>, Vec<_>) = items.into_iter().unzip();
            let results = backend.commit_batch(batch).await;
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
            drop(permit);
        });
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}
