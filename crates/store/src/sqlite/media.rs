//! Media jobs and files on SQLite.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use windowdesk_core::Timestamp;

use super::SqliteStore;
use crate::error::StoreError;
use crate::model::{MediaJob, MediaOutcome, MessageMedia};
use crate::MediaStore;

#[async_trait]
impl MediaStore for SqliteStore {
    async fn due_media_jobs(&self, now: Timestamp, limit: u32) -> Result<Vec<MediaJob>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, business_number_id, wamid, media_id, attempts FROM media_jobs
                 WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now.unix_millis(), limit], |r| {
                Ok(MediaJob { id: r.get(0)?, business_number_id: r.get(1)?, wamid: r.get(2)?, media_id: r.get(3)?, attempts: r.get(4)? })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn finish_media_job(&self, job_id: i64, outcome: &MediaOutcome, now: Timestamp) -> Result<(), StoreError> {
        let outcome = outcome.clone();
        self.inner.writer.run(move |conn| {
            let tx = conn.transaction()?;
            let at = now.unix_millis();
            match &outcome {
                MediaOutcome::Stored { sha256, mime_type, size } => {
                    tx.execute(
                        "INSERT INTO media_files (sha256, mime_type, size, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                        params![sha256, mime_type, size, at],
                    )?;
                    tx.execute(
                        "UPDATE media_jobs SET state = 'done', file_sha256 = ?1, finished_at = ?2, attempts = attempts + 1, last_error = NULL
                         WHERE id = ?3 AND state = 'pending'",
                        params![sha256, at, job_id],
                    )?;
                }
                MediaOutcome::Retry { next_attempt_at, error } => {
                    tx.execute(
                        "UPDATE media_jobs SET attempts = attempts + 1, next_attempt_at = ?1, last_error = ?2 WHERE id = ?3 AND state = 'pending'",
                        params![next_attempt_at.unix_millis(), error, job_id],
                    )?;
                }
                MediaOutcome::Failed { error } => {
                    tx.execute(
                        "UPDATE media_jobs SET state = 'failed', attempts = attempts + 1, last_error = ?1, finished_at = ?2 WHERE id = ?3 AND state = 'pending'",
                        params![error, at, job_id],
                    )?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn message_media(&self, message_id: i64) -> Result<Option<MessageMedia>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT COALESCE(j.state, 'done'), CASE WHEN j.id IS NULL THEN m.media_sha256 ELSE j.file_sha256 END, f.mime_type, f.size, j.last_error, COALESCE(j.attempts, 0)
                 FROM messages m
                 LEFT JOIN media_jobs j ON j.business_number_id = m.business_number_id AND j.wamid = m.wamid AND j.media_id = m.media_id
                 LEFT JOIN media_files f ON f.sha256 = CASE WHEN j.id IS NULL THEN m.media_sha256 ELSE j.file_sha256 END
                 WHERE m.id = ?1 AND (j.id IS NOT NULL OR (m.direction = 'outbound' AND m.media_sha256 IS NOT NULL))",
            )?
            .query_row(params![message_id], |r| {
                Ok(MessageMedia {
                    state: r.get(0)?,
                    sha256: r.get(1)?,
                    mime_type: r.get(2)?,
                    size: r.get(3)?,
                    error: r.get(4)?,
                    attempts: r.get(5)?,
                })
            })
            .optional()?)
        })
        .await
    }
}
