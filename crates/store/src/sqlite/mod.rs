//! The SQLite store: the embedded default. One file, WAL, `synchronous=FULL` so a commit is durable
//! before a webhook is answered.

mod conn;
mod ingest;
mod migrate;
mod queries;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use windowdesk_core::delivery::apply_meta_status;
use windowdesk_core::window::WindowPolicy;
use windowdesk_core::{DeliveryState, MetaStatus, StatusOutcome, TicketStatus};

use self::conn::{open_write_connection, Readers, Writer};
use crate::error::StoreError;
use crate::group_commit::{BatchCommitter, BatchResults, GroupCommit};
use crate::ingest::{IngestPayload, IngestSummary};
use crate::model::*;
use crate::{AuditStore, BusinessNumberStore, ContactStore, IngestStore, MessageStore, Store, StoreOptions, TicketStore};

pub struct SqliteStore {
    inner: Arc<Inner>,
    group: GroupCommit,
}

struct Inner {
    writer: Writer,
    readers: Readers,
}

impl BatchCommitter for Inner {
    fn commit_batch(&self, batch: Vec<IngestPayload>) -> BatchResults<'_> {
        Box::pin(async move {
            let n = batch.len();
            match self.writer.run(move |conn| Ok(ingest::commit_batch(conn, &batch))).await {
                Ok(results) => results,
                Err(_) => (0..n).map(|_| Err(StoreError::Closed)).collect(),
            }
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
        Ok(SqliteStore { inner, group })
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
        self.inner.writer.run(move |conn| record_outbound(conn, &msg)).await
    }
}

/// Inserts an accepted outbound message, starts a FEP when one is due (W6), and applies statuses that
/// arrived before the message was known (D1).
fn record_outbound(conn: &mut rusqlite::Connection, msg: &OutboundAccepted) -> Result<i64, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let (bn, identity_id): (i64, i64) = tx
        .query_row("SELECT business_number_id, identity_id FROM tickets WHERE id = ?1", params![msg.ticket_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::Config(format!("ticket {} does not exist", msg.ticket_id)),
            other => other.into(),
        })?;
    let at = msg.accepted_at.unix_millis();
    tx.execute(
        "INSERT INTO messages (ticket_id, business_number_id, identity_id, direction, wamid, kind, body, sent_at, received_at, delivery_state, delivery_updated_at)
         VALUES (?1, ?2, ?3, 'outbound', ?4, ?5, ?6, ?7, ?7, 'accepted', ?7)",
        params![msg.ticket_id, bn, identity_id, msg.wamid, msg.kind, msg.body, at],
    )?;
    let id = tx.last_insert_rowid();
    let key: String = tx.query_row("SELECT identity_key FROM identities WHERE id = ?1", params![identity_id], |r| r.get(0))?;
    if let Some(mut ident) = ingest::identity_state(&tx, bn, &key)? {
        if ident.window.record_business_send(WindowPolicy::WHATSAPP, msg.accepted_at).is_some() {
            tx.execute("UPDATE identities SET fep_started_at = ?1 WHERE id = ?2", params![at, identity_id])?;
        }
    }
    let pending: Vec<(i64, String, i64)> = tx
        .prepare("SELECT id, status, at FROM status_events WHERE business_number_id = ?1 AND wamid = ?2 AND applied = 0 ORDER BY at")?
        .query_map(params![bn, msg.wamid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut state = DeliveryState::Accepted;
    for (status_id, status, status_at) in pending {
        if let Some(st) = MetaStatus::parse(&status) {
            if let StatusOutcome::Advance(next) = apply_meta_status(state, st) {
                state = next;
                tx.execute(
                    "UPDATE messages SET delivery_state = ?1, delivery_updated_at = ?2 WHERE id = ?3",
                    params![next.as_str(), status_at, id],
                )?;
                tx.execute("UPDATE status_events SET applied = 1 WHERE id = ?1", params![status_id])?;
            }
        }
    }
    tx.commit()?;
    Ok(id)
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
    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    async fn close(&self) {
        self.group.close().await;
        let inner = self.inner.clone();
        let _ = tokio::task::spawn_blocking(move || inner.writer.stop()).await;
    }
}
