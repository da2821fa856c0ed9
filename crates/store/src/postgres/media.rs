//! Media jobs and files on PostgreSQL.

use async_trait::async_trait;
use sqlx::Row;
use windowdesk_core::Timestamp;

use super::PgStore;
use crate::error::StoreError;
use crate::model::{MediaJob, MediaOutcome, MessageMedia};
use crate::MediaStore;

#[async_trait]
impl MediaStore for PgStore {
    async fn due_media_jobs(&self, now: Timestamp, limit: u32) -> Result<Vec<MediaJob>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, business_number_id, wamid, media_id, attempts FROM media_jobs
             WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
        )
        .bind(now.unix_millis())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MediaJob {
                    id: r.try_get(0)?,
                    business_number_id: r.try_get(1)?,
                    wamid: r.try_get(2)?,
                    media_id: r.try_get(3)?,
                    attempts: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn finish_media_job(&self, job_id: i64, outcome: &MediaOutcome, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let at = now.unix_millis();
        match outcome {
            MediaOutcome::Stored { sha256, mime_type, size } => {
                sqlx::query("INSERT INTO media_files (sha256, mime_type, size, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                    .bind(sha256)
                    .bind(mime_type)
                    .bind(size)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE media_jobs SET state = 'done', file_sha256 = $1, finished_at = $2, attempts = attempts + 1, last_error = NULL
                     WHERE id = $3 AND state = 'pending'",
                )
                .bind(sha256)
                .bind(at)
                .bind(job_id)
                .execute(&mut *tx)
                .await?;
            }
            MediaOutcome::Retry { next_attempt_at, error } => {
                sqlx::query("UPDATE media_jobs SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE id = $3 AND state = 'pending'")
                    .bind(next_attempt_at.unix_millis())
                    .bind(error)
                    .bind(job_id)
                    .execute(&mut *tx)
                    .await?;
            }
            MediaOutcome::Failed { error } => {
                sqlx::query(
                    "UPDATE media_jobs SET state = 'failed', attempts = attempts + 1, last_error = $1, finished_at = $2 WHERE id = $3 AND state = 'pending'",
                )
                .bind(error)
                .bind(at)
                .bind(job_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn message_media(&self, message_id: i64) -> Result<Option<MessageMedia>, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(j.state, 'done'), CASE WHEN j.id IS NULL THEN m.media_sha256 ELSE j.file_sha256 END, f.mime_type, f.size, j.last_error, COALESCE(j.attempts, 0)
             FROM messages m
             LEFT JOIN media_jobs j ON j.business_number_id = m.business_number_id AND j.wamid = m.wamid AND j.media_id = m.media_id
             LEFT JOIN media_files f ON f.sha256 = CASE WHEN j.id IS NULL THEN m.media_sha256 ELSE j.file_sha256 END
             WHERE m.id = $1 AND (j.id IS NOT NULL OR (m.direction = 'outbound' AND m.media_sha256 IS NOT NULL))",
        )
        .bind(message_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(MessageMedia {
                state: r.try_get(0)?,
                sha256: r.try_get(1)?,
                mime_type: r.try_get(2)?,
                size: r.try_get(3)?,
                error: r.try_get(4)?,
                attempts: r.try_get(5)?,
            })
        })
        .transpose()
    }
}
