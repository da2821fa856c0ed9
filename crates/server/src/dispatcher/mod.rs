//! The dispatcher: takes replies from the durable outbox and sends them through the Cloud API
//! (SPEC D2–D5, section 12).
//!
//! Every attempt is claimed in the database before the request leaves, and its outcome is recorded
//! after. Free-form messages are never sent at or after their `window_end`: a retry that would land
//! there becomes `blocked`. Throughput per business number (a [`Pacer`]) and the pair rate per
//! customer (a rate limiter) are kept below Meta's limits, rather than by collecting `130429`/`131056`
//! errors.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use windowdesk_core::{Clock, Timestamp};
use windowdesk_sms::{SmsClient, SmsErrorClass};
use windowdesk_store::{AttemptOutcome, Channel, OutboxJob, SendError, Store};
use windowdesk_whatsapp::client::{ApiError, CloudApi};
use windowdesk_whatsapp::errors::ErrorClass;

use crate::config::DispatcherConfig;
use crate::events::Events;
use crate::pacer::Pacer;

mod fence;
mod ownership;
mod uploads;

use ownership::Ownership;

/// An SMS as the outbox keeps it (see `replies::post_sms`).
#[derive(serde::Deserialize)]
struct SmsRequest {
    from: String,
    to: String,
    body: String,
}

/// How the dispatcher reaches one business number.
pub struct NumberSender {
    pub phone_number_id: String,
    pub access_token: SecretString,
    pacer: Arc<Pacer>,
}

impl NumberSender {
    pub fn new(phone_number_id: String, access_token: SecretString, per_second: u32) -> Self {
        NumberSender { phone_number_id, access_token, pacer: Pacer::new(per_second) }
    }
}

pub struct Dispatcher {
    store: Arc<dyn Store>,
    api: CloudApi,
    /// The SMS provider, when one is configured (SPEC 9).
    sms: Option<SmsClient>,
    numbers: HashMap<i64, NumberSender>,
    pairs: DefaultKeyedRateLimiter<String>,
    clock: Arc<dyn Clock>,
    config: DispatcherConfig,
    wake: Arc<Notify>,
    events: Events,
    ownership: Arc<Ownership>,
    /// Uploads the files of media replies when they are sent.
    uploads: uploads::Uploads,
}

impl Dispatcher {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        api: CloudApi,
        sms: Option<SmsClient>,
        numbers: HashMap<i64, NumberSender>,
        clock: Arc<dyn Clock>,
        config: DispatcherConfig,
        wake: Arc<Notify>,
        events: Events,
        request_timeout: Duration,
    ) -> Self {
        let period = Duration::from_secs(config.pair_interval_seconds.max(1));
        let burst = NonZeroU32::new(config.pair_burst).unwrap_or(NonZeroU32::MIN);
        let pair_quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)).allow_burst(burst);
        let worker_id = format!("{}-{:08x}", std::process::id(), rand::thread_rng().gen::<u32>());
        // A send starts only while its lease runs for at least its longest request and a little more,
        // so it has been answered before anyone else could take the number over (see `ownership`).
        let margin = request_timeout + Duration::from_secs(2);
        let single = store.backend() == "sqlite";
        let ownership = Arc::new(Ownership::new(
            worker_id,
            numbers.keys().copied().collect(),
            Duration::from_secs(config.claim_lease_seconds),
            margin,
            single,
        ));
        Dispatcher {
            store,
            api,
            sms,
            numbers,
            pairs: RateLimiter::keyed(pair_quota),
            clock,
            config,
            wake,
            events,
            ownership,
            uploads: uploads::Uploads::new(std::path::PathBuf::from("media")),
        }
    }

    /// Where the files of media replies are stored (`[media] dir`).
    #[must_use]
    pub fn with_media_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.uploads = uploads::Uploads::new(dir);
        self
    }

    /// Runs until `shutdown`; then stops claiming, waits for the sends in flight to be recorded and
    /// releases its leases, so another instance takes its numbers over at once.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let permits = Arc::new(Semaphore::new(self.config.concurrency));
        let mut sends = JoinSet::new();
        // Outcomes are recorded by one task, as many per transaction as have queued up meanwhile;
        // sends are started (fenced) the same way.
        let (outcomes, pending) = tokio::sync::mpsc::unbounded_channel();
        let recorder =
            tokio::spawn(record_outcomes(self.store.clone(), self.clock.clone(), self.events.clone(), self.ownership.clone(), pending));
        let (starts, waiting) = tokio::sync::mpsc::unbounded_channel();
        let starter = tokio::spawn(fence::start_sends(self.store.clone(), self.clock.clone(), self.ownership.clone(), waiting));
        let mut next_tick = tokio::time::Instant::now();
        let mut order: HashMap<String, tokio::sync::oneshot::Receiver<()>> = HashMap::new();
        while !shutdown.is_cancelled() {
            while sends.try_join_next().is_some() {}
            if tokio::time::Instant::now() >= next_tick || self.ownership.wants_a_look() {
                self.ownership.tend(self.store.as_ref(), self.clock.as_ref()).await;
                next_tick = tokio::time::Instant::now() + self.ownership.tick();
                self.pairs.retain_recent();
                order.retain(|_, turn| matches!(turn.try_recv(), Err(tokio::sync::oneshot::error::TryRecvError::Empty)));
            }
            // Claim in batches: while the sends of one claim wait for their slots at the pacer, the
            // next claim is made once half the permits are free, so the pacer never runs dry and a
            // claim transaction is shared by many sends. Idle, a lone reply is claimed at once.
            let free = permits.available_permits();
            if free < (self.config.concurrency / 2).max(1) && !sends.is_empty() {
                tokio::select! {
                    _ = sends.join_next() => {}
                    () = tokio::time::sleep_until(next_tick) => {}
                    () = shutdown.cancelled() => break,
                }
                continue;
            }
            let claim = self.ownership.claim();
            let limit = u32::try_from(free.min(200)).unwrap_or(200);
            let jobs = if claim.numbers.is_empty() {
                Vec::new()
            } else {
                match self.store.claim_due(self.clock.now(), limit, &claim).await {
                    Ok(jobs) => jobs,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming from the outbox failed; retrying in a second");
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                            () = shutdown.cancelled() => break,
                        }
                        continue;
                    }
                }
            };
            if jobs.is_empty() {
                // Sleep until woken by a new reply (on any instance), until the next retry is due,
                // or until the leases are tended again.
                let mut nap = next_tick.saturating_duration_since(tokio::time::Instant::now());
                if !claim.numbers.is_empty() {
                    if let Ok(Some(due)) = self.store.next_due().await {
                        // A row already due that this claim did not take belongs to a number another
                        // instance sends for (or one being handed over): look again shortly, never spin.
                        let ms = self.clock.now().millis_until(due).max(100);
                        nap = nap.min(Duration::from_millis(u64::try_from(ms).unwrap_or(100)));
                    }
                }
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(nap) => {}
                    () = shutdown.cancelled() => break,
                }
                continue;
            }
            for job in &jobs {
                self.ownership.claimed(job.business_number_id, job.claim_generation);
            }
            for job in jobs {
                let Ok(permit) = permits.clone().acquire_owned().await else { break };
                let me = self.clone();
                let outcomes = outcomes.clone();
                let starts = starts.clone();
                // Messages to one customer leave in the order they were queued (held replies released
                // together, a template after the reply it follows): each waits for the one before.
                let (done, my_turn) = tokio::sync::oneshot::channel::<()>();
                let before = order.insert(job.recipient.clone(), my_turn);
                sends.spawn(async move {
                    if let Some(before) = before {
                        let _ = before.await;
                    }
                    match me.attempt(&job, &starts).await {
                        Some(outcome) => {
                            if let AttemptOutcome::Failed { error } = &outcome {
                                tracing::warn!(message_id = job.message_id, code = ?error.code, reason = %error.title, "reply failed");
                            }
                            let _ = outcomes.send((job, outcome));
                        }
                        None => {
                            // Fenced: the number is another instance's now, or this instance's lease
                            // runs too short to start a request; either way nothing left. The claim
                            // goes back to the queue (unless the new holder has it already) and the
                            // leases are looked at again at once.
                            tracing::info!(message_id = job.message_id, "not sent: this instance's lease on its number did not allow it");
                            if let Err(e) = me.store.release_claims(std::slice::from_ref(&job), me.clock.now()).await {
                                tracing::warn!(error = %e, message_id = job.message_id, "could not give a claim back; it is recovered with the number");
                            }
                            me.ownership.finished(job.business_number_id, job.claim_generation);
                            me.ownership.look_again();
                        }
                    }
                    let _ = done.send(());
                    drop(permit);
                });
            }
        }
        while sends.join_next().await.is_some() {}
        drop(outcomes);
        drop(starts);
        let _ = starter.await;
        let _ = recorder.await;
        self.ownership.release_all(self.store.as_ref(), self.clock.as_ref()).await;
    }

    /// W4 + W9: a free-form send may start only before its window's end minus the send guard.
    fn window_open(&self, job: &OutboxJob, now: Timestamp) -> bool {
        !job.free_form || job.window_end.is_none_or(|end| now < self.config.window_policy().send_deadline(end))
    }

    /// One attempt. `None`: the fence refused the start (the reply is another instance's now).
    async fn attempt(&self, job: &OutboxJob, starts: &fence::Starts) -> Option<AttemptOutcome> {
        if job.channel == Channel::Sms {
            return self.attempt_sms(job, starts).await;
        }
        if !self.window_open(job, self.clock.now()) {
            return Some(AttemptOutcome::Blocked);
        }
        let Some(number) = self.numbers.get(&job.business_number_id) else {
            return Some(AttemptOutcome::Failed {
                error: SendError {
                    http_status: None,
                    code: None,
                    title: "the business number of this ticket is no longer configured".into(),
                    details: None,
                },
            });
        };
        // A media reply's file goes up first: the upload is no message, and takes its own time.
        let request = match self.uploads.prepare(self.store.as_ref(), &self.api, number, job).await {
            Ok(request) => request,
            Err(e) => return Some(self.after_error(job, e)),
        };
        // The pair rate is asked once the number's slot is here, so the pair's token is taken right
        // before the send; a pair that must wait gives its slot back (it counts as a send, which only
        // errs on the safe side) rather than holding the number's limit for seconds.
        let slot = loop {
            let slot = number.pacer.acquire().await;
            match self.pairs.check_key(&job.recipient) {
                Ok(()) => break slot,
                Err(not_until) => {
                    drop(slot);
                    tokio::time::sleep(not_until.wait_time_from(self.pairs.clock().now())).await;
                }
            }
        };
        // Waiting for the limits took time: the window may have closed meanwhile (W4).
        if !self.window_open(job, self.clock.now()) {
            return Some(AttemptOutcome::Blocked);
        }
        // The fence, at the last moment: is this claim still this instance's?
        match fence::start(starts, job).await {
            fence::Start::Go => {}
            fence::Start::Fenced => return None,
            fence::Start::Unknown(error) => return Some(self.retry_or_fail(job, error)),
        }
        let answer = self.api.send_message(&number.phone_number_id, number.access_token.expose_secret(), &request).await;
        if answer.is_err() && matches!(request, std::borrow::Cow::Owned(_)) {
            self.uploads.forget(job);
        }
        // The send counts against the limit until now, when its answer is here.
        drop(slot);
        Some(match answer {
            Ok(wamid) => AttemptOutcome::Accepted { wamid },
            Err(e) => self.after_error(job, e),
        })
    }

    /// A transient failure (Meta's, or ours: the database did not answer the fence) goes again later
    /// with backoff, up to `max_attempts`, and never past the window (D3): then it is blocked.
    fn retry_or_fail(&self, job: &OutboxJob, error: SendError) -> AttemptOutcome {
        if job.attempt >= i64::from(self.config.max_attempts) {
            return AttemptOutcome::Failed { error };
        }
        let next = self.clock.now().plus(self.backoff(job.attempt));
        if !self.window_open(job, next) {
            return AttemptOutcome::Blocked;
        }
        AttemptOutcome::Retry { next_attempt_at: next, error }
    }

    /// An SMS fallback: no WhatsApp window applies; the provider's message SID stands in for a wamid.
    async fn attempt_sms(&self, job: &OutboxJob, starts: &fence::Starts) -> Option<AttemptOutcome> {
        let failed = |title: String, details: Option<String>, http_status: Option<i64>, code: Option<i64>| AttemptOutcome::Failed {
            error: SendError { http_status, code, title, details },
        };
        let Some(sms) = &self.sms else {
            return Some(failed("SMS is no longer configured on this desk ([sms])".into(), None, None, None));
        };
        let request: SmsRequest = match serde_json::from_str(&job.request) {
            Ok(r) => r,
            Err(e) => return Some(failed(format!("the queued SMS cannot be read: {e}"), None, None, None)),
        };
        match fence::start(starts, job).await {
            fence::Start::Go => {}
            fence::Start::Fenced => return None,
            fence::Start::Unknown(error) => return Some(self.retry_or_fail(job, error)),
        }
        Some(match sms.send(&request.from, &request.to, &request.body).await {
            Ok(accepted) => AttemptOutcome::Accepted { wamid: format!("sms:{}", accepted.sid) },
            Err(e) => {
                let (http_status, code) = (e.http_status.map(i64::from), e.code);
                let error = SendError { http_status, code, title: windowdesk_sms::human_reason(&e), details: e.more_info.clone() };
                match e.class {
                    SmsErrorClass::Transient if job.attempt < i64::from(self.config.max_attempts) => {
                        AttemptOutcome::Retry { next_attempt_at: self.clock.now().plus(self.backoff(job.attempt)), error }
                    }
                    SmsErrorClass::Permanent { auth: true } => {
                        tracing::error!("the SMS provider refused the desk's credentials: check [sms] account_sid and auth_token");
                        AttemptOutcome::Failed { error }
                    }
                    _ => AttemptOutcome::Failed { error },
                }
            }
        })
    }

    fn after_error(&self, job: &OutboxJob, e: ApiError) -> AttemptOutcome {
        let error = send_error(&e);
        match e.class {
            ErrorClass::WindowClosed | ErrorClass::Permanent { auth: false } => AttemptOutcome::Failed { error },
            ErrorClass::Permanent { auth: true } => {
                tracing::error!(
                    business_number_id = job.business_number_id,
                    "the Cloud API refused the access token: the business number needs attention"
                );
                AttemptOutcome::Failed { error }
            }
            ErrorClass::Transient => self.retry_or_fail(job, error),
        }
    }

    /// Exponential backoff with jitter: between half and all of `initial * 2^(attempt-1)`, capped.
    fn backoff(&self, attempt: i64) -> Duration {
        let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        let full = self.config.retry_initial_ms.saturating_mul(1u64 << exp).min(self.config.retry_max_ms).max(1);
        Duration::from_millis(rand::thread_rng().gen_range(full / 2..=full))
    }
}

/// Records send outcomes in batches: one durable transaction for whatever queued up while the previous
/// one committed (group commit). A batch the database refuses is tried again until it commits (an
/// outcome is never dropped while the process lives: a wamid lost here would be a reply sent twice);
/// if the process dies first, whoever takes the number over finds the claims and marks them.
async fn record_outcomes(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    events: Events,
    ownership: Arc<Ownership>,
    mut pending: tokio::sync::mpsc::UnboundedReceiver<(OutboxJob, AttemptOutcome)>,
) {
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match pending.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let mut pause = Duration::from_millis(100);
        let results = loop {
            match store.finish_attempts(&batch, clock.now()).await {
                Ok(results) => break results,
                Err(e) => {
                    tracing::error!(error = %e, outcomes = batch.len(), "could not record send outcomes; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        };
        for ((job, _), result) in batch.iter().zip(results) {
            ownership.finished(job.business_number_id, job.claim_generation);
            match result {
                Ok(()) => events.ticket(job.ticket_id),
                Err(e) => tracing::warn!(error = %e, message_id = job.message_id, "a send outcome was not recorded"),
            }
        }
    }
}

/// What Meta said, stored as it said it: a synchronous refusal is recorded exactly like a later
/// `failed` status (code, Meta's title, Meta's details), and the words shown come from
/// [`windowdesk_whatsapp::errors::failure_reason`] on both paths (D2).
fn send_error(e: &ApiError) -> SendError {
    SendError { http_status: e.http_status.map(i64::from), code: e.code, title: e.title.clone(), details: e.details.clone() }
}
