//! Customers on PostgreSQL: the profile, their tickets on every number, notes, renaming.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;
use windowdesk_core::{CustomerWindow, Timestamp};

use super::api::{summary_row, SUMMARY_SELECT};
use super::PgStore;
use crate::customer_model::*;
use crate::error::StoreError;
use crate::model::TicketSummary;
use crate::CustomerStore;

fn ot(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_unix_millis)
}

fn note_row(r: &PgRow) -> Result<CustomerNote, StoreError> {
    Ok(CustomerNote {
        id: r.try_get(0)?,
        contact_id: r.try_get(1)?,
        author: r.try_get(2)?,
        body: r.try_get(3)?,
        created_at: Timestamp::from_unix_millis(r.try_get(4)?),
    })
}

#[async_trait]
impl CustomerStore for PgStore {
    async fn customer(&self, contact_id: i64) -> Result<Option<CustomerProfile>, StoreError> {
        let pool = self.api_pool();
        let Some(contact) = sqlx::query("SELECT name, name_is_default <> 0, created_at FROM contacts WHERE id = $1")
            .bind(contact_id)
            .fetch_optional(pool)
            .await?
        else {
            return Ok(None);
        };
        let identities = sqlx::query(
            "SELECT i.id, i.business_number_id, b.phone_number_id, b.display_number, i.wa_id, i.bsuid, i.profile_name,
                    i.last_inbound_at, i.referral_at, i.fep_started_at, i.created_at
             FROM identities i JOIN business_numbers b ON b.id = i.business_number_id
             WHERE i.contact_id = $1 ORDER BY i.id",
        )
        .bind(contact_id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            Ok(CustomerIdentity {
                id: r.try_get(0)?,
                business_number_id: r.try_get(1)?,
                phone_number_id: r.try_get(2)?,
                business_display_number: r.try_get(3)?,
                wa_id: r.try_get(4)?,
                bsuid: r.try_get(5)?,
                profile_name: r.try_get(6)?,
                window: CustomerWindow {
                    last_inbound_at: ot(r.try_get(7)?),
                    referral_at: ot(r.try_get(8)?),
                    fep_started_at: ot(r.try_get(9)?),
                },
                created_at: Timestamp::from_unix_millis(r.try_get(10)?),
            })
        })
        .collect::<Result<_, StoreError>>()?;
        let notes =
            sqlx::query("SELECT id, contact_id, author, body, created_at FROM customer_notes WHERE contact_id = $1 ORDER BY id DESC")
                .bind(contact_id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(note_row)
                .collect::<Result<_, _>>()?;
        let ticket_count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE requester_id = $1").bind(contact_id).fetch_one(pool).await?;
        Ok(Some(CustomerProfile {
            contact_id,
            name: contact.try_get(0)?,
            name_is_default: contact.try_get(1)?,
            created_at: Timestamp::from_unix_millis(contact.try_get(2)?),
            identities,
            notes,
            ticket_count,
        }))
    }

    async fn customer_tickets(&self, contact_id: i64, before: Option<i64>, limit: u32) -> Result<Vec<TicketSummary>, StoreError> {
        let sql = format!("{SUMMARY_SELECT} WHERE t.requester_id = $1 AND ($2::bigint IS NULL OR t.id < $2) ORDER BY t.id DESC LIMIT $3");
        let rows = sqlx::query(&sql).bind(contact_id).bind(before).bind(i64::from(limit.max(1))).fetch_all(self.api_pool()).await?;
        rows.iter().map(summary_row).collect()
    }

    async fn rename_customer(&self, contact_id: i64, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE contacts SET name = $2, name_is_default = 0 WHERE id = $1")
            .bind(contact_id)
            .bind(name)
            .execute(self.api_pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_customer_note(
        &self,
        contact_id: i64,
        author: &str,
        body: &str,
        now: Timestamp,
    ) -> Result<Option<CustomerNote>, StoreError> {
        let row = sqlx::query(
            "INSERT INTO customer_notes (contact_id, author, body, created_at)
             SELECT id, $2, $3, $4 FROM contacts WHERE id = $1
             RETURNING id, contact_id, author, body, created_at",
        )
        .bind(contact_id)
        .bind(author)
        .bind(body)
        .bind(now.unix_millis())
        .fetch_optional(self.api_pool())
        .await?;
        row.as_ref().map(note_row).transpose()
    }
}
