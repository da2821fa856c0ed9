//! The SQLite store: the embedded default. One file, WAL, `synchronous=FULL` so a commit is durable
//! before a webhook is answered.

mod api;
mod automations;
mod conn;
mod customers;
mod fallback;
mod hours;
mod http_targets;
mod ingest;
mod leases;
mod macros;
mod media;
mod migrate;
mod outbox;
mod pricing;
mod queries;
mod rules;
pub(crate) mod search;
mod web;
mod workflows;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use windowdesk_core::{TicketStatus, Timestamp};

use self::conn::{open_write_connection, Readers, Writer};
use crate::error::StoreError;
use crate::group_commit::{BatchCommitter, BatchResults, GroupCommit};
use crate::ingest::{IngestPayload, IngestSummary};
use crate::model::*;
use crate::{AuditStore, BusinessNumberStore, ContactStore, IngestStore, MessageStore, OutboxStore, Store, StoreOptions, TicketStore};

pub struct SqliteStore {
    inner: Arc<Inner>,
    group: GroupCommit<IngestPayload, IngestSummary>,
    /// Replies share transactions the same way webhooks do.
    enqueues: GroupCommit<NewOutbound, Enqueued>,
}

struct Inner {
    writer: Writer,
    readers: Readers,
}

impl BatchCommitter<IngestPayload, IngestSummary> for Inner {
    fn commit_batch(&self, batch: Vec<IngestPayload>) -> BatchResults<'_, IngestSummary> {
        Box::pin(async move {
            let n = batch.len();
            match self.writer.run(move |conn| Ok(ingest::commit_batch(conn, &batch))).await {
                Ok(results) => results,
                Err(_) => (0..n).map(|_| Err(StoreError::Closed)).collect(),
            }
        })
    }
}

impl BatchCommitter<NewOutbound, Enqueued> for Inner {
    fn commit_batch(&self, batch: Vec<NewOutbound>) -> BatchResults<'_, Enqueued> {
        Box::pin(async move {
            // The writer thread owns the connection; a failed transaction (busy, disk full) is
            // tried once more reply by reply, so each caller gets its own error.
            self.writer
                .run(move |conn| match outbox::enqueue_batch(conn, &batch) {
                    Ok(results) => Ok(results),
                    Err(e) if batch.len() == 1 => Ok(vec![Err(e)]),
                    Err(_) => Ok(batch
                        .iter()
                        .map(|msg| {
                            outbox::enqueue_batch(conn, std::slice::from_ref(msg))
                                .and_then(|mut r| r.pop().unwrap_or(Err(StoreError::Closed)))
                        })
                        .collect()),
                })
                .await
                .unwrap_or_else(|e| vec![Err(e)])
        })
    }
}

/// Applies migrations to the database file, creating it if needed.
pub fn migrate_file(path: &str) -> Result<usize, StoreError> {
    let path = checked_path(path)?;
    let mut conn = open_write_connection(&path)?;
    migrate::run(&mut conn)
}

fn checked_path(path: &str) -> Result<PathBuf, StoreError> {
    if path.is_empty() || path.contains(":memory:") {
        return Err(StoreError::Config(
            "SQLite needs a file path (e.g. sqlite://windowdesk.db): an in-memory database cannot be shared between the writer and readers"
                .into(),
        ));
    }
    let path = PathBuf::from(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Config(format!("cannot create directory {}: {e}", dir.display())))?;
    }
    Ok(path)
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub async fn open(path: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let path = checked_path(path)?;
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            let mut conn = open_write_connection(&p)?;
            migrate::run(&mut conn)?;
            Ok(conn)
        })
        .await
        .map_err(|e| StoreError::Config(format!("opening sqlite failed: {e}")))??;
        let inner = Arc::new(Inner { writer: Writer::start(conn), readers: Readers::new(path) });
        // One writer: more than one batch in flight would only queue on the writer thread.
        let group = GroupCommit::start(inner.clone(), options.max_batch, 1);
        let enqueues = GroupCommit::start(inner.clone(), options.max_batch, 1);
        Ok(SqliteStore { inner, group, enqueues })
    }

    async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<R, StoreError> + Send + 'static,
    {
        self.inner.readers.run(f).await
    }
}

#[async_trait]
impl IngestStore for SqliteStore {
    async fn ingest(&self, payload: IngestPayload) -> Result<IngestSummary, StoreError> {
        self.group.submit(payload).await
    }
}

#[async_trait]
impl BusinessNumberStore for SqliteStore {
    async fn sync_business_numbers(&self, numbers: &[BusinessNumberSpec]) -> Result<Vec<BusinessNumberRow>, StoreError> {
        let numbers = numbers.to_vec();
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction()?;
                let now = crate::now_ms().unix_millis();
                for n in &numbers {
                    tx.prepare_cached(
                        "INSERT INTO business_numbers (phone_number_id, waba_id, display_number, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (phone_number_id) DO UPDATE SET waba_id = excluded.waba_id, display_number = excluded.display_number, name = excluded.name",
                    )?
                    .execute(params![n.phone_number_id, n.waba_id, n.display_number, n.name, now])?;
                }
                let rows = queries::business_numbers(&tx)?;
                tx.commit()?;
                Ok(rows)
            })
            .await
    }
}

#[async_trait]
impl TicketStore for SqliteStore {
    async fn list_tickets(&self, filter: &TicketFilter) -> Result<Vec<TicketRow>, StoreError> {
        let filter = filter.clone();
        self.read(move |c| queries::list_tickets(c, &filter)).await
    }
    async fn ticket(&self, id: i64) -> Result<Option<TicketRow>, StoreError> {
        self.read(move |c| queries::ticket(c, id)).await
    }
    async fn followups(&self, id: i64) -> Result<Vec<i64>, StoreError> {
        self.read(move |c| queries::followups(c, id)).await
    }
    async fn ticket_messages(&self, ticket_id: i64) -> Result<Vec<MessageRow>, StoreError> {
        self.read(move |c| queries::ticket_messages(c, ticket_id)).await
    }
    async fn ticket_events(&self, ticket_id: i64) -> Result<Vec<EventRow>, StoreError> {
        self.read(move |c| queries::ticket_events(c, ticket_id)).await
    }
    async fn set_ticket_status(&self, id: i64, status: TicketStatus, actor: &str) -> Result<bool, StoreError> {
        let actor = actor.to_owned();
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let Some(current) =
                    tx.query_row("SELECT status FROM tickets WHERE id = ?1", params![id], |r| r.get::<_, String>(0)).optional()?
                else {
                    return Ok(false);
                };
                if current == TicketStatus::Closed.as_str() {
                    return Err(StoreError::Conflict(format!("ticket {id} is closed; closed tickets are read-only")));
                }
                let now = crate::now_ms().unix_millis();
                tx.execute("UPDATE tickets SET status = ?1, updated_at = ?2 WHERE id = ?3", params![status.as_str(), now, id])?;
                let data = serde_json::json!({"from": current, "to": status.as_str()}).to_string();
                tx.execute(
                    "INSERT INTO ticket_events (ticket_id, at, actor, kind, data) VALUES (?1, ?2, ?3, 'status_changed', ?4)",
                    params![id, now, actor, data],
                )?;
                tx.commit()?;
                Ok(true)
            })
            .await
    }
}

#[async_trait]
impl ContactStore for SqliteStore {
    async fn identity_by_key(&self, business_number_id: i64, key: &str) -> Result<Option<IdentityRow>, StoreError> {
        let key = key.to_owned();
        self.read(move |c| queries::identity_by_key(c, business_number_id, &key)).await
    }
    async fn identity(&self, id: i64) -> Result<Option<IdentityRow>, StoreError> {
        self.read(move |c| queries::identity(c, id)).await
    }
    async fn ticket_with_identity(&self, ticket_id: i64) -> Result<Option<TicketWithIdentity>, StoreError> {
        self.read(move |c| queries::ticket_with_identity(c, ticket_id)).await
    }
    async fn identity_changes(&self, identity_id: i64) -> Result<Vec<IdentityChangeRow>, StoreError> {
        self.read(move |c| queries::identity_changes(c, identity_id)).await
    }
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn message_by_wamid(&self, business_number_id: i64, wamid: &str) -> Result<Option<MessageRow>, StoreError> {
        let wamid = wamid.to_owned();
        self.read(move |c| queries::message_by_wamid(c, business_number_id, &wamid)).await
    }
    async fn reactions(&self, business_number_id: i64, target_wamid: &str) -> Result<Vec<ReactionRow>, StoreError> {
        let w = target_wamid.to_owned();
        self.read(move |c| queries::reactions(c, business_number_id, &w)).await
    }
    async fn revisions(&self, business_number_id: i64, target_wamid: &str) -> Result<Vec<RevisionRow>, StoreError> {
        let w = target_wamid.to_owned();
        self.read(move |c| queries::revisions(c, business_number_id, &w)).await
    }
    async fn status_events(&self, business_number_id: i64, wamid: &str) -> Result<Vec<StatusEventRow>, StoreError> {
        let w = wamid.to_owned();
        self.read(move |c| queries::status_events(c, business_number_id, &w)).await
    }
    async fn record_outbound_accepted(&self, msg: &OutboundAccepted) -> Result<i64, StoreError> {
        let msg = msg.clone();
        self.inner.writer.run(move |conn| outbox::record_outbound(conn, &msg)).await
    }
    async fn latest_inbound(&self, ticket_id: i64) -> Result<Option<LatestInbound>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT id, wamid, read_receipt_at FROM messages
                  WHERE ticket_id = ?1 AND direction = 'inbound' AND wamid IS NOT NULL
                  ORDER BY sent_at DESC, id DESC LIMIT 1",
            )?
            .query_row(rusqlite::params![ticket_id], |r| {
                Ok(LatestInbound {
                    message_id: r.get(0)?,
                    wamid: r.get(1)?,
                    read_receipt_at: r.get::<_, Option<i64>>(2)?.map(Timestamp::from_unix_millis),
                })
            })
            .optional()?)
        })
        .await
    }
    async fn mark_read_receipt(&self, message_id: i64, at: Timestamp) -> Result<bool, StoreError> {
        self.inner
            .writer
            .run(move |conn| {
                let n = conn
                    .prepare_cached("UPDATE messages SET read_receipt_at = ?2 WHERE id = ?1 AND read_receipt_at IS NULL")?
                    .execute(rusqlite::params![message_id, at.unix_millis()])?;
                Ok(n == 1)
            })
            .await
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue(&self, msg: &NewOutbound) -> Result<Enqueued, StoreError> {
        self.enqueues.submit(msg.clone()).await
    }
    async fn claim_due(&self, now: Timestamp, limit: u32, claim: &SendClaim) -> Result<Vec<OutboxJob>, StoreError> {
        let claim = claim.clone();
        self.inner.writer.run(move |conn| outbox::claim_due(conn, now, limit, &claim)).await
    }
    async fn start_attempts(
        &self,
        jobs: &[OutboxJob],
        worker: &str,
        now: Timestamp,
        held_until: Timestamp,
    ) -> Result<Vec<bool>, StoreError> {
        let (jobs, worker) = (jobs.to_vec(), worker.to_owned());
        self.inner.writer.run(move |conn| leases::start_attempts(conn, &jobs, &worker, now, held_until)).await
    }
    async fn release_claims(&self, jobs: &[OutboxJob], now: Timestamp) -> Result<u64, StoreError> {
        let jobs = jobs.to_vec();
        self.inner.writer.run(move |conn| leases::release_claims(conn, &jobs, now)).await
    }
    async fn finish_attempt(&self, job: &OutboxJob, outcome: &AttemptOutcome, now: Timestamp) -> Result<(), StoreError> {
        let (job, outcome) = (job.clone(), outcome.clone());
        self.inner.writer.run(move |conn| outbox::finish_attempt(conn, &job, &outcome, now)).await
    }
    async fn finish_attempts(
        &self,
        items: &[(OutboxJob, AttemptOutcome)],
        now: Timestamp,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let items = items.to_vec();
        self.inner.writer.run(move |conn| outbox::finish_attempts(conn, &items, now)).await
    }
    async fn recover_number(&self, business_number_id: i64, generation: i64, now: Timestamp) -> Result<Recovered, StoreError> {
        self.inner.writer.run(move |conn| leases::recover_number(conn, business_number_id, generation, now)).await
    }
    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.read(outbox::next_due).await
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn templates(&self) -> Result<Vec<TemplateRow>, StoreError> {
        self.read(queries::templates).await
    }
    async fn account_events(&self) -> Result<Vec<AccountEventRow>, StoreError> {
        self.read(queries::account_events).await
    }
    async fn unknown_numbers(&self) -> Result<Vec<UnknownNumberRow>, StoreError> {
        self.read(queries::unknown_numbers).await
    }
    async fn media_jobs(&self) -> Result<Vec<MediaJobRow>, StoreError> {
        self.read(queries::media_jobs).await
    }
    async fn counts(&self) -> Result<Counts, StoreError> {
        self.read(queries::counts).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self, now: Timestamp) -> Result<(), StoreError> {
        self.inner
            .writer
            .run(move |conn| {
                conn.execute(
                    "INSERT INTO readiness_probe (id, checked_at) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                    params![now.unix_millis()],
                )?;
                Ok(())
            })
            .await
    }
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    async fn live_relay(&self) -> Result<Option<crate::LiveRelay>, StoreError> {
        // One process owns a SQLite file: there is no other instance to tell.
        Ok(None)
    }
    async fn analyze(&self) -> Result<(), StoreError> {
        Ok(())
    }
    async fn close(&self) {
        self.enqueues.close().await;
        self.group.close().await;
        let inner = self.inner.clone();
        let _ = tokio::task::spawn_blocking(move || inner.writer.stop()).await;
    }
}
