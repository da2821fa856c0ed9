//! Which business numbers this instance sends for (SPEC 12, issue 12).
//!
//! Meta limits throughput per business number and the pair rate per customer of a number. Both are
//! kept exactly when one process at a time sends for a number, so sending is partitioned the way a
//! partitioned consumer owns partitions: each number's `send:<id>` lease in the database is held by
//! one instance, renewed while it lives, and taken over when it stops being renewed.
//!
//! - **Fair share.** Each instance renews an `instance:<id>` heartbeat and holds at most
//!   `ceil(numbers / live instances)` numbers; one holding more drains the extra ones (claims nothing
//!   new for them, lets its sends in flight finish) and releases them, and a free one is taken at the
//!   next tick. With one business number, one instance sends and the others stand by.
//! - **Takeover.** A lease not renewed for `claim_lease_seconds` is free. Its new holder gets a new
//!   generation and recovers the previous holder's claims: those that were started may have reached
//!   Meta and are marked "may have been sent twice"; those never started go back quietly.
//! - **Fencing.** A claim is stamped with the generation; a send starts only after the database
//!   confirmed, in the statement that writes its attempt row, that the row and the lease still carry
//!   it and that the lease has at least the request timeout left. An instance that lost its lease
//!   (paused, cut off from the database) therefore never sends what is now someone else's, and its
//!   last sends have been answered before anyone else can start.
//! - **A single SQLite desk** owns every number: at start it takes the leases over from the process
//!   before it at once (without waiting for them to expire), recovering what that one left in flight.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use windowdesk_core::Clock;
use windowdesk_store::{Lease, SendClaim, Store};

/// One number's lease as this instance holds it.
struct Held {
    lease: Lease,
    /// Renewed at some instant `r`; the lease is trusted locally until `r + ttl - margin`.
    trusted_until: Instant,
    /// The previous holder's claims were recovered (claiming waits for that).
    recovered: bool,
    /// Giving it up: nothing new is claimed; released once its sends in flight are recorded.
    draining: bool,
    /// Claimed and not yet recorded.
    in_flight: usize,
}

pub struct Ownership {
    worker: String,
    /// Every business number this instance is configured to send for.
    numbers: Vec<i64>,
    ttl: Duration,
    /// How long a lease must still run for a send to start (the request timeout and a little).
    margin: Duration,
    /// SQLite: one instance by contract; it owns every number.
    single: bool,
    held: Mutex<HashMap<i64, Held>>,
    instance: Mutex<Option<Lease>>,
    /// A send was fenced off: tend the leases now rather than at the next tick.
    look: std::sync::atomic::AtomicBool,
    /// The first round has not run yet (a single desk takes its numbers over then).
    starting: std::sync::atomic::AtomicBool,
}

impl Ownership {
    pub fn new(worker: String, mut numbers: Vec<i64>, ttl: Duration, margin: Duration, single: bool) -> Self {
        numbers.sort_unstable();
        Ownership {
            worker,
            numbers,
            ttl,
            margin,
            single,
            held: Mutex::new(HashMap::new()),
            instance: Mutex::new(None),
            starting: std::sync::atomic::AtomicBool::new(true),
            look: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn held(&self) -> MutexGuard<'_, HashMap<i64, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn worker(&self) -> &str {
        &self.worker
    }

    pub fn margin(&self) -> Duration {
        self.margin
    }

    /// How often leases are renewed and free numbers looked for.
    pub fn tick(&self) -> Duration {
        (self.ttl / 4).clamp(Duration::from_millis(200), Duration::from_secs(2))
    }

    /// What may be claimed now: the numbers held, recovered, not draining and trusted.
    pub fn claim(&self) -> SendClaim {
        let now = Instant::now();
        let numbers = self
            .held()
            .iter()
            .filter(|(_, h)| h.recovered && !h.draining && now < h.trusted_until)
            .map(|(bn, h)| (*bn, h.lease.generation))
            .collect();
        SendClaim { worker: self.worker.clone(), numbers }
    }

    /// A job was claimed under `generation`. Counted only against the same generation: a job from an
    /// earlier hold of the number (lost, then taken back) must not make a later drain wait or end early.
    pub fn claimed(&self, business_number_id: i64, generation: i64) {
        if let Some(h) = self.held().get_mut(&business_number_id).filter(|h| h.lease.generation == generation) {
            h.in_flight += 1;
        }
    }

    /// A job claimed under `generation` was recorded (or given back).
    pub fn finished(&self, business_number_id: i64, generation: i64) {
        if let Some(h) = self.held().get_mut(&business_number_id).filter(|h| h.lease.generation == generation) {
            h.in_flight = h.in_flight.saturating_sub(1);
        }
    }

    pub fn look_again(&self) {
        self.look.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a round is wanted before the next tick (and clears the wish).
    pub fn wants_a_look(&self) -> bool {
        self.look.swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    /// The numbers this instance sends for now.
    pub fn sending_for(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self.held().iter().filter(|(_, h)| !h.draining).map(|(bn, _)| *bn).collect();
        v.sort_unstable();
        v
    }

    /// One round: renew what is held, give up what is over the fair share, take what is free.
    pub async fn tend(&self, store: &dyn Store, clock: &dyn Clock) {
        let started = Instant::now();
        let now = clock.now();
        // The heartbeat: how many instances share the numbers.
        let instance_name = format!("instance:{}", self.worker);
        let heartbeat = store.acquire_lease(&instance_name, &self.worker, now, self.ttl, false).await;
        match heartbeat {
            Ok(lease) => *self.instance.lock().unwrap_or_else(PoisonError::into_inner) = lease,
            Err(e) => tracing::warn!(error = %e, "could not renew this instance's heartbeat"),
        }

        // Renew.
        let mine: Vec<Lease> = self.held().values().map(|h| h.lease.clone()).collect();
        if !mine.is_empty() {
            match store.renew_leases(&self.worker, &mine, now, self.ttl).await {
                Ok(kept) => {
                    let trusted_until = started + self.ttl.saturating_sub(self.margin);
                    let mut held = self.held();
                    held.retain(|bn, h| {
                        let still = kept.iter().any(|k| k.name == h.lease.name);
                        if !still {
                            tracing::warn!(business_number_id = bn, "lost the sending lease of a business number to another instance");
                        }
                        still
                    });
                    for h in held.values_mut() {
                        h.trusted_until = trusted_until;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not renew the sending leases; sending pauses until they are renewed"),
            }
        }

        // Recover what an earlier round could not.
        let unrecovered: Vec<(i64, i64)> =
            self.held().iter().filter(|(_, h)| !h.recovered).map(|(bn, h)| (*bn, h.lease.generation)).collect();
        for (bn, generation) in unrecovered {
            self.recover(store, clock, bn, generation).await;
        }

        // Release drained numbers.
        let drained: Vec<Lease> = self.held().values().filter(|h| h.draining && h.in_flight == 0).map(|h| h.lease.clone()).collect();
        for lease in drained {
            match store.release_lease(&self.worker, &lease, clock.now()).await {
                Ok(()) => {
                    tracing::info!(lease = %lease.name, "handed a business number's sending over to another instance");
                    self.held().retain(|_, h| h.lease.name != lease.name);
                }
                Err(e) => tracing::warn!(error = %e, lease = %lease.name, "could not release a sending lease"),
            }
        }

        // The fair share.
        let want = if self.single {
            self.numbers.len()
        } else {
            let live = store.live_instances(now).await.unwrap_or(1).max(1);
            self.numbers.len().div_ceil(usize::try_from(live).unwrap_or(1))
        };
        let active: Vec<i64> = self.sending_for();
        if active.len() > want {
            let mut held = self.held();
            for bn in active.iter().rev().take(active.len() - want) {
                if let Some(h) = held.get_mut(bn) {
                    h.draining = true;
                }
            }
            return;
        }
        let steal = self.single && self.starting.swap(false, std::sync::atomic::Ordering::Relaxed);
        let mut missing = want - active.len();
        for &bn in &self.numbers {
            if missing == 0 {
                break;
            }
            if self.held().contains_key(&bn) {
                continue;
            }
            match store.acquire_lease(&Lease::send_name(bn), &self.worker, now, self.ttl, steal).await {
                Ok(Some(lease)) => {
                    tracing::info!(business_number_id = bn, generation = lease.generation, "this instance now sends for a business number");
                    let generation = lease.generation;
                    self.held().insert(
                        bn,
                        Held {
                            lease,
                            trusted_until: started + self.ttl.saturating_sub(self.margin),
                            recovered: false,
                            draining: false,
                            in_flight: 0,
                        },
                    );
                    self.recover(store, clock, bn, generation).await;
                    missing -= 1;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, business_number_id = bn, "could not take a sending lease"),
            }
        }
    }

    async fn recover(&self, store: &dyn Store, clock: &dyn Clock, bn: i64, generation: i64) {
        match store.recover_number(bn, generation, clock.now()).await {
            Ok(found) => {
                if found.maybe_sent > 0 {
                    tracing::warn!(
                        business_number_id = bn,
                        replies = found.maybe_sent,
                        "replies were in flight when their instance stopped; sending them again, marked 'may have been sent twice'"
                    );
                }
                if found.unstarted > 0 {
                    tracing::info!(
                        business_number_id = bn,
                        replies = found.unstarted,
                        "took over replies another instance had claimed but not sent"
                    );
                }
                if let Some(h) = self.held().get_mut(&bn) {
                    h.recovered = true;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, business_number_id = bn, "could not recover a business number's interrupted sends; retrying")
            }
        }
    }

    /// At shutdown, once every send in flight is recorded: the numbers are free for the others at once.
    pub async fn release_all(&self, store: &dyn Store, clock: &dyn Clock) {
        let leases: Vec<Lease> = self.held().drain().map(|(_, h)| h.lease).collect();
        let instance = self.instance.lock().unwrap_or_else(PoisonError::into_inner).take();
        for lease in leases.iter().chain(instance.iter()) {
            if let Err(e) = store.release_lease(&self.worker, lease, clock.now()).await {
                tracing::warn!(error = %e, lease = %lease.name, "could not release a lease at shutdown; it expires by itself");
            }
        }
    }
}
