//! Work that one instance at a time does (SPEC 12): media downloads and the periodic template sync.
//! A named lease in the database says which instance; it is renewed while the instance lives and
//! taken over by another once it has run out.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use windowdesk_core::Clock;
use windowdesk_store::{Lease, Store};

/// A name for this process's claims and leases, unique among the desk's instances: its pid and a random
/// suffix (pids repeat across machines and restarts).
pub fn instance_id() -> String {
    format!("{}-{:08x}", std::process::id(), rand::random::<u32>())
}

pub struct Singleton {
    name: &'static str,
    owner: String,
    ttl: Duration,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// The lease and when it was last renewed.
    held: Mutex<Option<(Lease, Instant)>>,
}

impl Singleton {
    pub fn new(name: &'static str, ttl: Duration, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let owner = instance_id();
        Singleton { name, owner, ttl, store, clock, held: Mutex::new(None) }
    }

    /// Whether this instance does the work now: takes the lease when it is free, renews it once a
    /// quarter of it has passed. A database error answers "no" (another instance may have it).
    pub async fn mine(&self) -> bool {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some((_, renewed)) = &held {
            if renewed.elapsed() < self.ttl / 4 {
                return true;
            }
        }
        let asked = Instant::now();
        let result = self.store.acquire_lease(self.name, &self.owner, self.clock.now(), self.ttl, false).await;
        let mut slot = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(Some(lease)) => {
                if held.is_none() {
                    tracing::info!(lease = self.name, "this instance now does this work for the desk");
                }
                *slot = Some((lease, asked));
                true
            }
            Ok(None) => {
                if held.is_some() {
                    tracing::info!(lease = self.name, "another instance does this work now");
                }
                *slot = None;
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, lease = self.name, "could not renew a lease");
                *slot = None;
                false
            }
        }
    }

    /// At shutdown: the others may take the work at once.
    pub async fn release(&self) {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some((lease, _)) = held {
            if let Err(e) = self.store.release_lease(&self.owner, &lease, self.clock.now()).await {
                tracing::warn!(error = %e, lease = self.name, "could not release a lease; it runs out by itself");
            }
        }
    }
}
