//! SQLite migrations: the SQL files under `migrations/sqlite`, applied in order, tracked by
//! `PRAGMA user_version`.

use rusqlite::Connection;

use crate::error::StoreError;

const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_foundation", include_str!("../../migrations/sqlite/0001_foundation.sql")),
    ("0002_outbox", include_str!("../../migrations/sqlite/0002_outbox.sql")),
    ("0003_api", include_str!("../../migrations/sqlite/0003_api.sql")),
    ("0004_media", include_str!("../../migrations/sqlite/0004_media.sql")),
    ("0005_web", include_str!("../../migrations/sqlite/0005_web.sql")),
    ("0006_fallbacks", include_str!("../../migrations/sqlite/0006_fallbacks.sql")),
    ("0007_readiness", include_str!("../../migrations/sqlite/0007_readiness.sql")),
    ("0008_hold_notices", include_str!("../../migrations/sqlite/0008_hold_notices.sql")),
    ("0009_went_out", include_str!("../../migrations/sqlite/0009_went_out.sql")),
    ("0010_claim_order", include_str!("../../migrations/sqlite/0010_claim_order.sql")),
    ("0011_leases", include_str!("../../migrations/sqlite/0011_leases.sql")),
    ("0012_business_hours", include_str!("../../migrations/sqlite/0012_business_hours.sql")),
    ("0013_rules", include_str!("../../migrations/sqlite/0013_rules.sql")),
    ("0014_macros", include_str!("../../migrations/sqlite/0014_macros.sql")),
    ("0015_rule_queue", include_str!("../../migrations/sqlite/0015_rule_queue.sql")),
    ("0016_rule_queue_carries_its_event", include_str!("../../migrations/sqlite/0016_rule_queue_carries_its_event.sql")),
    ("0017_automations", include_str!("../../migrations/sqlite/0017_automations.sql")),
    ("0018_http_targets", include_str!("../../migrations/sqlite/0018_http_targets.sql")),
    ("0019_workflows", include_str!("../../migrations/sqlite/0019_workflows.sql")),
    ("0020_read_receipts", include_str!("../../migrations/sqlite/0020_read_receipts.sql")),
    ("0021_agent_deactivation", include_str!("../../migrations/sqlite/0021_agent_deactivation.sql")),
    ("0022_search", include_str!("../../migrations/sqlite/0022_search.sql")),
    ("0023_customer_notes", include_str!("../../migrations/sqlite/0023_customer_notes.sql")),
    ("0024_customer_merges", include_str!("../../migrations/sqlite/0024_customer_merges.sql")),
    ("0025_ticket_activity", include_str!("../../migrations/sqlite/0025_ticket_activity.sql")),
    ("0026_search_vocabulary", include_str!("../../migrations/sqlite/0026_search_vocabulary.sql")),
    ("0027_window_index", include_str!("../../migrations/sqlite/0027_window_index.sql")),
    ("0028_view_and_duplicate_indexes", include_str!("../../migrations/sqlite/0028_view_and_duplicate_indexes.sql")),
    ("0029_rate_cards", include_str!("../../migrations/sqlite/0029_rate_cards.sql")),
    ("0030_message_costs", include_str!("../../migrations/sqlite/0030_message_costs.sql")),
    ("0031_cost_volumes", include_str!("../../migrations/sqlite/0031_cost_volumes.sql")),
    ("0032_cost_days", include_str!("../../migrations/sqlite/0032_cost_days.sql")),
];

/// Applies pending migrations; returns the number applied in total.
pub(crate) fn run(conn: &mut Connection) -> Result<usize, StoreError> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).map(|v| usize::try_from(v).unwrap_or(0))?;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Migration(format!(
            "the database is at schema version {current}, newer than this binary knows ({}); upgrade windowdesk",
            MIGRATIONS.len()
        )));
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql).map_err(|e| StoreError::Migration(format!("{name}: {e}")))?;
        tx.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(i64::MAX))?;
        tx.commit()?;
        tracing::info!(migration = name, "applied sqlite migration");
    }
    Ok(MIGRATIONS.len())
}
