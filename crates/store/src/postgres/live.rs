//! Live updates across instances (SPEC 12): what one instance publishes is relayed to the others
//! with `NOTIFY`, and each instance `LISTEN`s. The channel is named after the schema, so desks that
//! share a PostgreSQL database in different schemas do not hear each other.
//!
//! Payloads are opaque strings here (the server decides what an event is); a lost notification only
//! delays a page's refresh, which catches up on its next event or reconnect.

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::error::StoreError;
use crate::LiveRelay;

/// Notifications larger than this are not sent (PostgreSQL's limit is just under 8,000 bytes).
const MAX_PAYLOAD: usize = 7_900;

pub(crate) async fn relay(pool: &PgPool) -> Result<LiveRelay, StoreError> {
    let schema: String = sqlx::query_scalar("SELECT current_schema()").fetch_one(pool).await?;
    let channel: String = format!(
        "windowdesk_live_{}",
        schema.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect::<String>()
    );
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(&channel).await?;

    let (incoming_tx, incoming) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        loop {
            // `recv` reconnects by itself when the connection drops (notifications sent meanwhile
            // are lost, which pages survive: they refresh on their next event).
            match listener.recv().await {
                Ok(n) => {
                    if incoming_tx.send(n.payload().to_owned()).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live update listener failed; retrying in a second");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
            if incoming_tx.is_closed() {
                return;
            }
        }
    });

    let (outgoing, mut pending) = mpsc::unbounded_channel::<String>();
    let pool = pool.clone();
    let notify_channel = channel.clone();
    tokio::spawn(async move {
        while let Some(first) = pending.recv().await {
            // Whatever queued up meanwhile goes in one statement.
            let mut batch = vec![first];
            while let Ok(more) = pending.try_recv() {
                batch.push(more);
                if batch.len() >= 256 {
                    break;
                }
            }
            batch.retain(|p| p.len() <= MAX_PAYLOAD);
            if let Err(e) =
                sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p").bind(&notify_channel).bind(&batch).execute(&pool).await
            {
                tracing::warn!(error = %e, events = batch.len(), "live updates were not relayed to the other instances");
            }
        }
    });
    Ok(LiveRelay { channel, outgoing, incoming })
}
