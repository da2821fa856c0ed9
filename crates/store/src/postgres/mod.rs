//! The PostgreSQL store: for several stateless instances behind a load balancer.

mod api;
mod automations;
mod customers;
mod fallback;
mod hours;
mod http_targets;
mod ingest;
mod leases;
mod live;
mod macros;
mod media;
mod outbox;
mod outcomes;
mod pricing;
mod queries;
mod rules;
mod search;
mod web;
mod workflows;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use windowdesk_core::{TicketStatus, Timestamp};

use crate::error::StoreError;
use crate::group_commit::{BatchCommitter, BatchResults, GroupCommit};
use crate::ingest::{IngestPayload, IngestSummary};
use crate::model::*;
use crate::{
    AuditStore, BusinessNumberStore, ContactStore, IngestStore, LiveRelay, MessageStore, OutboxStore, Store, StoreOptions, TicketStore,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How often a batch is retried after losing a race to a concurrent transaction.
const RACE_RETRIES: usize = 5;

pub struct PgStore {
    inner: Arc<Inner>,
    group: GroupCommit<IngestPayload, IngestSummary>,
    /// Replies share transactions the same way webhooks do.
    enqueues: GroupCommit<NewOutbound, Enqueued>,
}

struct Inner {
    pool: PgPool,
}

fn connect_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    let opts: PgConnectOptions =
        url.parse().map_err(|e| StoreError::Config(format!("invalid PostgreSQL url {}: {e}", crate::redact_url(url))))?;
    // The desk asks small questions of big tables (a page of 20, a count): two planner features
    // cost more than they save there. Memoize sizes its cache from the estimated rows of the whole
    // join, not the page (20–80 ms to set up a search for a common word at a few million
    // messages, for a 4 ms query), and JIT compiles any query whose estimated cost is high, a count
    // over a million tickets included (tens of milliseconds each time).
    let opts = opts.options([("enable_memoize", "off"), ("jit", "off")]);
    Ok(opts.log_statements(tracing::log::LevelFilter::Trace).log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1)))
}

/// Applies pending migrations; returns the number of migrations the binary knows.
pub async fn migrate_url(url: &str) -> Result<usize, StoreError> {
    let pool = PgPoolOptions::new().max_connections(1).connect_with(connect_options(url)?).await?;
    MIGRATOR.run(&pool).await.map_err(|e| StoreError::Migration(e.to_string()))?;
    pool.close().await;
    Ok(MIGRATOR.iter().count())
}

impl PgStore {
    pub async fn connect(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(options.pool_size.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(connect_options(url)?)
            .await?;
        MIGRATOR.run(&pool).await.map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(Self::with_pool(pool, options))
    }

    /// Wraps an existing pool whose schema is migrated (tests use one schema per test).
    pub fn with_pool(pool: PgPool, options: StoreOptions) -> Self {
        let inner = Arc::new(Inner { pool });
        let group = GroupCommit::start(inner.clone(), options.max_batch, options.max_in_flight.max(1));
        let enqueues = GroupCommit::start(inner.clone(), options.max_batch, options.max_in_flight.max(1));
        PgStore { inner, group, enqueues }
    }

    pub async fn run_migrations(pool: &PgPool) -> Result<(), StoreError> {
        MIGRATOR.run(pool).await.map_err(|e| StoreError::Migration(e.to_string()))
    }

    fn pool(&self) -> &PgPool {
        &self.inner.pool
    }
}

impl Inner {
    async fn commit_with_retries(&self, batch: &[IngestPayload]) -> Result<Vec<IngestSummary>, StoreError> {
        let mut attempt = 0;
        let mut careful = false;
        loop {
            let result = async {
                let mut tx = self.pool.begin().await?;
                let summaries = ingest::commit(&mut tx, batch, careful).await?;
                tx.commit().await?;
                Ok::<_, StoreError>(summaries)
            }
            .await;
            match result {
                Err(e) if attempt < RACE_RETRIES && (e.is_retryable() || is_planned_retry(&e)) => {
                    attempt += 1;
                    // Any retry looks up existing wamids: a duplicate is why most retries happen.
                    careful = true;
                    tracing::debug!(error = %e, attempt, "ingest retrying");
                }
                other => return other,
            }
        }
    }
}

fn is_planned_retry(e: &StoreError) -> bool {
    matches!(e, StoreError::Postgres(sqlx::Error::Protocol(m)) if m == ingest::DUPLICATE_SEEN || m == ingest::IDENTITY_RACE)
}

impl BatchCommitter<IngestPayload, IngestSummary> for Inner {
    fn commit_batch(&self, batch: Vec<IngestPayload>) -> BatchResults<'_, IngestSummary> {
        Box::pin(async move {
            match self.commit_with_retries(&batch).await {
                Ok(s) => s.into_iter().map(Ok).collect(),
                Err(e) if batch.len() == 1 => vec![Err(e)],
                Err(e) => {
                    tracing::warn!(error = %e, size = batch.len(), "batch commit failed; committing payloads one by one");
                    let mut out = Vec::with_capacity(batch.len());
                    for p in &batch {
                        out.push(self.commit_with_retries(std::slice::from_ref(p)).await.map(|mut s| s.pop().unwrap_or_default()));
                    }
                    out
                }
            }
        })
    }
}

impl BatchCommitter<NewOutbound, Enqueued> for Inner {
    fn commit_batch(&self, batch: Vec<NewOutbound>) -> BatchResults<'_, Enqueued> {
        Box::pin(async move {
            match outbox::enqueue_batch(&self.pool, &batch).await {
                Ok(results) => results,
                Err(e) if batch.len() == 1 => vec![Err(e)],
                Err(e) => {
                    // The transaction failed as a whole (e.g. its commit): each reply is tried alone,
                    // so each caller gets its own answer.
                    tracing::warn!(error = %e, size = batch.len(), "reply batch failed; committing replies one by one");
                    let mut out = Vec::with_capacity(batch.len());
                    for msg in &batch {
                        out.push(match outbox::enqueue_batch(&self.pool, std::slice::from_ref(msg)).await {
                            Ok(mut r) => r.pop().unwrap_or(Err(StoreError::Closed)),
                            Err(e) => Err(e),
                        });
                    }
                    out
                }
            }
        })
    }
}

#[async_trait]
impl IngestStore for PgStore {
    async fn ingest(&self, payload: IngestPayload) -> Result<IngestSummary, StoreError> {
        self.group.submit(payload).await
    }
}

#[async_trait]
impl BusinessNumberStore for PgStore {
    async fn sync_business_numbers(&self, numbers: &[BusinessNumberSpec]) -> Result<Vec<BusinessNumberRow>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let now = crate::now_ms().unix_millis();
        for n in numbers {
            sqlx::query(
                "INSERT INTO business_numbers (phone_number_id, waba_id, display_number, name, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (phone_number_id) DO UPDATE SET waba_id = excluded.waba_id, display_number = excluded.display_number, name = excluded.name",
            )
            .bind(&n.phone_number_id)
            .bind(&n.waba_id)
            .bind(&n.display_number)
            .bind(&n.name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let rows = queries::business_numbers(&mut tx).await?;
        tx.commit().await?;
        Ok(rows)
    }
}

#[async_trait]
impl TicketStore for PgStore {
    async fn list_tickets(&self, filter: &TicketFilter) -> Result<Vec<TicketRow>, StoreError> {
        queries::list_tickets(self.pool(), filter).await
    }
    async fn ticket(&self, id: i64) -> Result<Option<TicketRow>, StoreError> {
        queries::ticket(self.pool(), id).await
    }
    async fn followups(&self, id: i64) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT id FROM tickets WHERE followup_of = $1 ORDER BY id").bind(id).fetch_all(self.pool()).await?)
    }
    async fn ticket_messages(&self, ticket_id: i64) -> Result<Vec<MessageRow>, StoreError> {
        queries::ticket_messages(self.pool(), ticket_id).await
    }
    async fn ticket_events(&self, ticket_id: i64) -> Result<Vec<EventRow>, StoreError> {
        queries::ticket_events(self.pool(), ticket_id).await
    }
    async fn set_ticket_status(&self, id: i64, status: TicketStatus, actor: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let Some(current): Option<String> =
            sqlx::query_scalar("SELECT status FROM tickets WHERE id = $1 FOR NO KEY UPDATE").bind(id).fetch_optional(&mut *tx).await?
        else {
            return Ok(false);
        };
        if current == TicketStatus::Closed.as_str() {
            return Err(StoreError::Conflict(format!("ticket {id} is closed; closed tickets are read-only")));
        }
        let now = crate::now_ms().unix_millis();
        sqlx::query("UPDATE tickets SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO ticket_events (ticket_id, at, actor, kind, data) VALUES ($1, $2, $3, 'status_changed', $4)")
            .bind(id)
            .bind(now)
            .bind(actor)
            .bind(serde_json::json!({"from": current, "to": status.as_str()}).to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[async_trait]
impl ContactStore for PgStore {
    async fn identity_by_key(&self, business_number_id: i64, key: &str) -> Result<Option<IdentityRow>, StoreError> {
        queries::identity_by_key(self.pool(), business_number_id, key).await
    }
    async fn identity(&self, id: i64) -> Result<Option<IdentityRow>, StoreError> {
        queries::identity(self.pool(), id).await
    }
    async fn ticket_with_identity(&self, ticket_id: i64) -> Result<Option<TicketWithIdentity>, StoreError> {
        queries::ticket_with_identity(self.pool(), ticket_id).await
    }
    async fn identity_changes(&self, identity_id: i64) -> Result<Vec<IdentityChangeRow>, StoreError> {
        queries::identity_changes(self.pool(), identity_id).await
    }
}

#[async_trait]
impl MessageStore for PgStore {
    async fn message_by_wamid(&self, business_number_id: i64, wamid: &str) -> Result<Option<MessageRow>, StoreError> {
        queries::message_by_wamid(self.pool(), business_number_id, wamid).await
    }
    async fn reactions(&self, business_number_id: i64, target_wamid: &str) -> Result<Vec<ReactionRow>, StoreError> {
        queries::reactions(self.pool(), business_number_id, target_wamid).await
    }
    async fn revisions(&self, business_number_id: i64, target_wamid: &str) -> Result<Vec<RevisionRow>, StoreError> {
        queries::revisions(self.pool(), business_number_id, target_wamid).await
    }
    async fn status_events(&self, business_number_id: i64, wamid: &str) -> Result<Vec<StatusEventRow>, StoreError> {
        queries::status_events(self.pool(), business_number_id, wamid).await
    }
    async fn record_outbound_accepted(&self, msg: &OutboundAccepted) -> Result<i64, StoreError> {
        outbox::record_outbound(self.pool(), msg).await
    }
    async fn latest_inbound(&self, ticket_id: i64) -> Result<Option<LatestInbound>, StoreError> {
        let row = sqlx::query(
            "SELECT id, wamid, read_receipt_at FROM messages
              WHERE ticket_id = $1 AND direction = 'inbound' AND wamid IS NOT NULL
              ORDER BY sent_at DESC, id DESC LIMIT 1",
        )
        .bind(ticket_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            use sqlx::Row;
            Ok(LatestInbound {
                message_id: r.try_get(0)?,
                wamid: r.try_get(1)?,
                read_receipt_at: r.try_get::<Option<i64>, _>(2)?.map(Timestamp::from_unix_millis),
            })
        })
        .transpose()
    }
    async fn mark_read_receipt(&self, message_id: i64, at: Timestamp) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE messages SET read_receipt_at = $2 WHERE id = $1 AND read_receipt_at IS NULL")
            .bind(message_id)
            .bind(at.unix_millis())
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn enqueue(&self, msg: &NewOutbound) -> Result<Enqueued, StoreError> {
        if let Some(key) = &msg.dedupe_key {
            if let Some(queued) = outbox::deduplicated(self.pool(), key).await? {
                return Ok(queued);
            }
        }
        if msg.replaces.is_some() {
            return outbox::enqueue_replacing(self.pool(), msg).await;
        }
        self.enqueues.submit(msg.clone()).await
    }
    async fn claim_due(&self, now: Timestamp, limit: u32, claim: &SendClaim) -> Result<Vec<OutboxJob>, StoreError> {
        outbox::claim_due(self.pool(), now, limit, claim).await
    }
    async fn start_attempts(
        &self,
        jobs: &[OutboxJob],
        worker: &str,
        now: Timestamp,
        held_until: Timestamp,
    ) -> Result<Vec<bool>, StoreError> {
        leases::start_attempts(self.pool(), jobs, worker, now, held_until).await
    }
    async fn release_claims(&self, jobs: &[OutboxJob], now: Timestamp) -> Result<u64, StoreError> {
        leases::release_claims(self.pool(), jobs, now).await
    }
    async fn finish_attempt(&self, job: &OutboxJob, outcome: &AttemptOutcome, now: Timestamp) -> Result<(), StoreError> {
        outbox::finish_attempt(self.pool(), job, outcome, now).await
    }
    async fn finish_attempts(
        &self,
        items: &[(OutboxJob, AttemptOutcome)],
        now: Timestamp,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        outbox::finish_attempts(self.pool(), items, now).await
    }
    async fn recover_number(&self, business_number_id: i64, generation: i64, now: Timestamp) -> Result<Recovered, StoreError> {
        leases::recover_number(self.pool(), business_number_id, generation, now).await
    }
    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        outbox::next_due(self.pool()).await
    }
}

#[async_trait]
impl AuditStore for PgStore {
    async fn templates(&self) -> Result<Vec<TemplateRow>, StoreError> {
        queries::templates(self.pool()).await
    }
    async fn account_events(&self) -> Result<Vec<AccountEventRow>, StoreError> {
        queries::account_events(self.pool()).await
    }
    async fn unknown_numbers(&self) -> Result<Vec<UnknownNumberRow>, StoreError> {
        queries::unknown_numbers(self.pool()).await
    }
    async fn media_jobs(&self) -> Result<Vec<MediaJobRow>, StoreError> {
        queries::media_jobs(self.pool()).await
    }
    async fn counts(&self) -> Result<Counts, StoreError> {
        queries::counts(self.pool()).await
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO readiness_probe (id, checked_at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET checked_at = EXCLUDED.checked_at",
        )
        .bind(now.unix_millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }
    fn backend(&self) -> &'static str {
        "postgres"
    }
    async fn live_relay(&self) -> Result<Option<LiveRelay>, StoreError> {
        live::relay(self.pool()).await.map(Some)
    }
    async fn analyze(&self) -> Result<(), StoreError> {
        sqlx::query("ANALYZE").execute(self.pool()).await?;
        Ok(())
    }
    async fn close(&self) {
        self.enqueues.close().await;
        self.group.close().await;
        self.pool().close().await;
    }
}
