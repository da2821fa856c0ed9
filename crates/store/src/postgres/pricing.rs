//! Rate cards on PostgreSQL (SPEC 11).

use async_trait::async_trait;
use sqlx::{PgConnection, Row};
use windowdesk_core::pricing::{Category, Market, PricingModel, Rate, RateCard};
use windowdesk_core::Timestamp;

use super::PgStore;
use crate::cost_days::{self, FinalCost, FINAL_COST_COLUMNS};
use crate::cost_report::{self, Arg, CostGroupRow, CostMessageRow, Dialect};
use crate::error::StoreError;
use crate::pricing_model::{
    corrupt, date, price, CostSettlement, MessageCostRow, PendingCost, RateCardRow, MESSAGE_COST_COLUMNS, SETTLE_STATES,
};
use crate::pricing_model::{volume_increments, SettledCostRow, UncostedMessage};
use crate::PricingStore;
use windowdesk_core::pricing::report::ReportQuery;

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    args: &'q [Arg],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    for a in args {
        q = match a {
            Arg::Int(i) => q.bind(*i),
            Arg::Text(t) => q.bind(t.as_str()),
        };
    }
    q
}

fn taken(e: sqlx::Error, name: &str) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
            StoreError::Conflict(format!("a rate card named {name:?} exists: delete it, or import with replace"))
        }
        other => other.into(),
    }
}

/// The final costs of `ids` (those that are), as the daily roll-up counts them; locked, so a
/// concurrent change to one waits for this transaction.
pub(super) async fn final_costs(tx: &mut PgConnection, ids: &[i64]) -> Result<Vec<FinalCost>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(&format!(
        "SELECT {FINAL_COST_COLUMNS} FROM message_costs c WHERE c.message_id = ANY($1) AND c.final ORDER BY c.message_id FOR UPDATE"
    ))
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(FinalCost {
                at_millis: r.try_get(0)?,
                business_number_id: r.try_get(1)?,
                category: r.try_get(2)?,
                author: r.try_get(3)?,
                channel: r.try_get(4)?,
                currency: r.try_get(5)?,
                amount_micros: r.try_get(6)?,
                estimate_micros: r.try_get(7)?,
                settled_by: r.try_get(8)?,
            })
        })
        .collect()
}

/// Adds `costs` to the daily roll-up (`sign` 1) or takes them out (-1), in key order (two
/// instances settling at once take the rows' locks in the same order).
pub(super) async fn roll_up(tx: &mut PgConnection, costs: &[FinalCost], sign: i64) -> Result<(), StoreError> {
    if costs.is_empty() {
        return Ok(());
    }
    let sql = cost_days::upsert_sql(Dialect::Postgres);
    for (k, n) in cost_days::deltas(costs, sign) {
        sqlx::query(&sql)
            .bind(k.day)
            .bind(k.business_number_id)
            .bind(&k.category)
            .bind(&k.author)
            .bind(&k.channel)
            .bind(&k.currency)
            .bind(n.messages)
            .bind(n.charged)
            .bind(n.free)
            .bind(n.not_delivered)
            .bind(n.unpriced)
            .bind(n.amount_micros)
            .bind(n.estimate_micros)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// A row of [`cost_report::report_sql`]'s statement.
fn group_row(r: &sqlx::postgres::PgRow) -> Result<CostGroupRow, StoreError> {
    Ok(CostGroupRow {
        key: r.try_get::<Option<String>, _>(0)?.unwrap_or_default(),
        label: r.try_get(1)?,
        currency: r.try_get(2)?,
        messages: r.try_get(3)?,
        charged: r.try_get(4)?,
        free: r.try_get(5)?,
        not_delivered: r.try_get(6)?,
        unpriced: r.try_get(7)?,
        pending: r.try_get(8)?,
        amount_micros: r.try_get(9)?,
        pending_estimate_micros: r.try_get(10)?,
        estimate_micros: r.try_get(11)?,
    })
}

/// Inserts `card` (or, with `replace`, gives the card of that name its fields and prices).
async fn put(tx: &mut PgConnection, card: &RateCard, shipped: bool, replace: bool, now: Timestamp) -> Result<i64, StoreError> {
    let existing: Option<i64> =
        sqlx::query_scalar("SELECT id FROM rate_cards WHERE name = $1 FOR UPDATE").bind(&card.name).fetch_optional(&mut *tx).await?;
    let id = match existing {
        Some(_) if !replace => {
            return Err(StoreError::Conflict(format!("a rate card named {:?} exists: delete it, or import with replace", card.name)))
        }
        Some(id) => {
            sqlx::query(
                "UPDATE rate_cards SET effective_from = $2, currency = $3, model = $4, utility_free_in_window = $5, free_entry_point_free = $6
                 WHERE id = $1",
            )
            .bind(id)
            .bind(card.effective_from.to_string())
            .bind(&card.currency)
            .bind(card.model.as_str())
            .bind(card.utility_free_in_window)
            .bind(card.free_entry_point_free)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM rate_card_prices WHERE card_id = $1").bind(id).execute(&mut *tx).await?;
            id
        }
        None => sqlx::query_scalar(
            "INSERT INTO rate_cards (name, effective_from, currency, model, utility_free_in_window, free_entry_point_free, shipped, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&card.name)
        .bind(card.effective_from.to_string())
        .bind(&card.currency)
        .bind(card.model.as_str())
        .bind(card.utility_free_in_window)
        .bind(card.free_entry_point_free)
        .bind(shipped)
        .bind(now.unix_millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| taken(e, &card.name))?,
    };
    let markets: Vec<&str> = card.rates.iter().map(|r| r.market.as_str()).collect();
    let categories: Vec<&str> = card.rates.iter().map(|r| r.category.as_str()).collect();
    let prices: Vec<String> = card.rates.iter().map(|r| r.price.to_string()).collect();
    // Cards hold monthly counts far below i64::MAX (RateCard::from_csv caps them).
    let volumes: Vec<i64> = card.rates.iter().map(|r| i64::try_from(r.volume_from).unwrap_or(i64::MAX)).collect();
    let sources: Vec<Option<&str>> = card.rates.iter().map(|r| r.source.as_deref()).collect();
    sqlx::query(
        "INSERT INTO rate_card_prices (card_id, market, category, price, volume_from, source)
         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])",
    )
    .bind(id)
    .bind(&markets)
    .bind(&categories)
    .bind(&prices)
    .bind(&volumes)
    .bind(&sources)
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

fn cost_row(r: &sqlx::postgres::PgRow) -> Result<MessageCostRow, StoreError> {
    Ok(MessageCostRow {
        message_id: r.try_get(0)?,
        ticket_id: r.try_get(1)?,
        author: r.try_get(2)?,
        channel: r.try_get(3)?,
        at: Timestamp::from_unix_millis(r.try_get(4)?),
        category: r.try_get(5)?,
        market: r.try_get(6)?,
        currency: r.try_get(7)?,
        estimate_micros: r.try_get(8)?,
        free_because: r.try_get(9)?,
        card: r.try_get(10)?,
        charged_category: r.try_get(11)?,
        amount_micros: r.try_get(12)?,
        settled_by: r.try_get(13)?,
        is_final: r.try_get(14)?,
        business_number_id: r.try_get(15)?,
        conversation_id: r.try_get(16)?,
        conversation_origin: r.try_get(17)?,
        conversation_expires_at: r.try_get::<Option<i64>, _>(18)?.map(Timestamp::from_unix_millis),
    })
}

#[async_trait]
impl PricingStore for PgStore {
    async fn ticket_costs(&self, ticket_id: i64) -> Result<Vec<MessageCostRow>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {MESSAGE_COST_COLUMNS} FROM message_costs c WHERE c.ticket_id = $1 ORDER BY c.message_id"))
            .bind(ticket_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(cost_row).collect()
    }

    async fn pending_costs(&self, limit: u32, stale_before: Timestamp) -> Result<Vec<PendingCost>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COST_COLUMNS}, c.recipient, m.delivery_state, s.pricing, s.raw, m.went_out_at
               FROM message_costs c
               JOIN messages m ON m.id = c.message_id
               LEFT JOIN LATERAL (
                    SELECT s2.pricing, s2.raw FROM status_events s2
                     WHERE s2.business_number_id = m.business_number_id AND s2.wamid = m.wamid AND s2.pricing IS NOT NULL
                     ORDER BY s2.at DESC, s2.id DESC LIMIT 1) s ON true
              WHERE NOT c.final
                AND ((m.delivery_state IN {SETTLE_STATES} AND (c.settled_state IS NULL OR c.settled_state <> m.delivery_state))
                     OR c.at < $2)
              ORDER BY c.message_id LIMIT $1"
        );
        let rows = sqlx::query(&sql).bind(i64::from(limit)).bind(stale_before.unix_millis()).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(PendingCost {
                    cost: cost_row(r)?,
                    recipient: r.try_get(19)?,
                    delivery_state: r.try_get(20)?,
                    pricing: r.try_get(21)?,
                    status_raw: r.try_get(22)?,
                    went_out_at: r.try_get::<Option<i64>, _>(23)?.map(Timestamp::from_unix_millis),
                })
            })
            .collect()
    }

    async fn settle_costs(&self, settled: &[CostSettlement], now: Timestamp) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut finals = Vec::new();
        let mut counted = Vec::new();
        for s in settled {
            let changed = sqlx::query(
                "UPDATE message_costs SET meta_model = $2, meta_category = $3, meta_type = $4, meta_billable = $5, conversation_id = $6,
                        conversation_origin = $7, conversation_expires_at = $8, charged_category = $9, amount_micros = $10,
                        settled_by = $11, final = $12, settled_at = $13, settled_state = $14, at = COALESCE($15, at),
                        market = COALESCE($16, market)
                  WHERE message_id = $1 AND NOT final",
            )
            .bind(s.message_id)
            .bind(&s.meta_model)
            .bind(&s.meta_category)
            .bind(&s.meta_type)
            .bind(s.meta_billable)
            .bind(&s.conversation_id)
            .bind(&s.conversation_origin)
            .bind(s.conversation_expires_at.map(Timestamp::unix_millis))
            .bind(&s.charged_category)
            .bind(s.amount_micros)
            .bind(&s.settled_by)
            .bind(s.is_final)
            .bind(now.unix_millis())
            .bind(&s.delivery_state)
            .bind(s.went_out_at.map(Timestamp::unix_millis))
            .bind(s.counts_in.as_ref().map(|(_, market)| market))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // Counted once: only by the statement that made the row final (a second instance
            // settling the same row waits for this one's lock, then finds it final).
            if let (1, Some((month, market))) = (changed, &s.counts_in) {
                counted.push((s.business_number_id, month.as_str(), market.as_str(), s.charged_category.as_str()));
            }
            if changed == 1 && s.is_final {
                finals.push(s.message_id);
            }
        }
        for ((month, market, category, bn), n) in volume_increments(&counted) {
            sqlx::query(
                "INSERT INTO cost_volumes (waba_id, month, market, category, charged)
                 SELECT b.waba_id, $2, $3, $4, $5 FROM business_numbers b WHERE b.id = $1
                 ON CONFLICT (waba_id, month, market, category) DO UPDATE SET charged = cost_volumes.charged + excluded.charged",
            )
            .bind(bn)
            .bind(month)
            .bind(market)
            .bind(category)
            .bind(n)
            .execute(&mut *tx)
            .await?;
        }
        let settled = final_costs(&mut tx, &finals).await?;
        roll_up(&mut tx, &settled, 1).await?;
        tx.commit().await?;
        Ok(finals)
    }

    async fn conversation_seen_before(&self, conversation_id: &str, message_id: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM message_costs WHERE conversation_id = $1 AND message_id < $2)")
            .bind(conversation_id)
            .bind(message_id)
            .fetch_one(self.pool())
            .await?)
    }

    async fn month_volume(&self, business_number_id: i64, month: &str, market: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT v.category, v.charged FROM cost_volumes v
              WHERE v.waba_id = (SELECT waba_id FROM business_numbers WHERE id = $1) AND v.month = $2 AND v.market = $3
              ORDER BY v.category",
        )
        .bind(business_number_id)
        .bind(month)
        .bind(market)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(c, n)| (c, u64::try_from(n).unwrap_or(0))).collect())
    }

    async fn tier_updates(&self, business_number_id: i64) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT e.raw FROM account_events e
              WHERE e.event = 'VOLUME_BASED_PRICING_TIER_UPDATE'
                AND e.waba_id = (SELECT waba_id FROM business_numbers WHERE id = $1)
              ORDER BY e.id",
        )
        .bind(business_number_id)
        .fetch_all(self.pool())
        .await?)
    }

    async fn uncosted_messages(&self, after_id: i64, limit: u32) -> Result<Vec<UncostedMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.id, m.business_number_id, m.ticket_id, t.requester_id, m.author, COALESCE(m.went_out_at, m.sent_at), i.wa_id
                   FROM messages m JOIN tickets t ON t.id = m.ticket_id LEFT JOIN identities i ON i.id = m.identity_id
                  WHERE m.direction = 'outbound' AND m.id > $1
                    AND NOT EXISTS (SELECT 1 FROM message_costs c WHERE c.message_id = m.id)
                  ORDER BY m.id LIMIT $2",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UncostedMessage {
                    message_id: r.try_get(0)?,
                    business_number_id: r.try_get(1)?,
                    ticket_id: r.try_get(2)?,
                    contact_id: r.try_get(3)?,
                    author: r.try_get(4)?,
                    at: Timestamp::from_unix_millis(r.try_get(5)?),
                    recipient: r.try_get(6)?,
                })
            })
            .collect()
    }

    async fn insert_costs(&self, costs: &[SettledCostRow]) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut n = 0;
        let mut written_ids = Vec::new();
        for c in costs {
            let m = &c.message;
            let written = sqlx::query(
                "INSERT INTO message_costs (message_id, business_number_id, ticket_id, contact_id, author, channel, at, recipient, category,
                                           market, currency, estimate_micros, free_because, card, meta_type, charged_category,
                                           amount_micros, settled_by, settled_state, final, settled_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $9, $16, 'meta', 'delivered', TRUE, $7)
                 ON CONFLICT (message_id) DO NOTHING",
            )
            .bind(m.message_id)
            .bind(m.business_number_id)
            .bind(m.ticket_id)
            .bind(m.contact_id)
            .bind(m.author.as_deref().unwrap_or("generator"))
            .bind(&c.channel)
            .bind(m.at.unix_millis())
            .bind(&m.recipient)
            .bind(&c.category)
            .bind(&c.market)
            .bind(&c.currency)
            .bind(c.estimate_micros)
            .bind(&c.free_because)
            .bind(&c.card)
            .bind(&c.meta_type)
            .bind(c.amount_micros)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if let (1, Some(market), true) = (written, &c.market, c.amount_micros.is_some_and(|a| a > 0)) {
                sqlx::query(
                    "INSERT INTO cost_volumes (waba_id, month, market, category, charged)
                 SELECT b.waba_id, $2, $3, $4, 1 FROM business_numbers b WHERE b.id = $1
                 ON CONFLICT (waba_id, month, market, category) DO UPDATE SET charged = cost_volumes.charged + 1",
                )
                .bind(m.business_number_id)
                .bind(windowdesk_core::pricing::month_of(m.at))
                .bind(market)
                .bind(&c.category)
                .execute(&mut *tx)
                .await?;
            }
            n += written;
            if written == 1 {
                written_ids.push(m.message_id);
            }
        }
        let written = final_costs(&mut tx, &written_ids).await?;
        roll_up(&mut tx, &written, 1).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn cost_report(&self, q: &ReportQuery, limit: u32, totals: bool) -> Result<Vec<CostGroupRow>, StoreError> {
        let (sql, args) = cost_report::report_sql(Dialect::Postgres, q, limit, totals);
        let rows = bind_all(sqlx::query(&sql), &args).fetch_all(self.pool()).await?;
        rows.iter().map(group_row).collect()
    }

    async fn cost_report_each(&self, q: &ReportQuery, batches: tokio::sync::mpsc::Sender<Vec<CostGroupRow>>) -> Result<(), StoreError> {
        use futures_util::TryStreamExt;
        let (sql, args) = cost_report::report_sql(Dialect::Postgres, q, u32::MAX, false);
        let mut rows = bind_all(sqlx::query(&sql), &args).fetch(self.pool());
        let mut batch = Vec::with_capacity(cost_report::EACH_BATCH);
        while let Some(r) = rows.try_next().await? {
            batch.push(group_row(&r)?);
            if batch.len() == cost_report::EACH_BATCH && batches.send(std::mem::take(&mut batch)).await.is_err() {
                return Ok(());
            }
        }
        if !batch.is_empty() {
            let _ = batches.send(batch).await;
        }
        Ok(())
    }

    async fn cost_messages(&self, q: &ReportQuery, after: Option<(Timestamp, i64)>, limit: u32) -> Result<Vec<CostMessageRow>, StoreError> {
        let (sql, args) = cost_report::messages_sql(Dialect::Postgres, q, after, limit);
        let rows = bind_all(sqlx::query(&sql), &args).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(CostMessageRow {
                    message_id: r.try_get(0)?,
                    at: Timestamp::from_unix_millis(r.try_get(1)?),
                    business_number_id: r.try_get(2)?,
                    ticket_id: r.try_get(3)?,
                    contact_id: r.try_get(4)?,
                    customer: r.try_get(5)?,
                    author: r.try_get(6)?,
                    channel: r.try_get(7)?,
                    category: r.try_get(8)?,
                    estimated_category: r.try_get(9)?,
                    market: r.try_get(10)?,
                    currency: r.try_get(11)?,
                    estimate_micros: r.try_get(12)?,
                    free_because: r.try_get(13)?,
                    amount_micros: r.try_get(14)?,
                    settled_by: r.try_get(15)?,
                    meta_type: r.try_get(16)?,
                    is_final: r.try_get::<i32, _>(17)? != 0,
                })
            })
            .collect()
    }

    async fn rate_cards(&self) -> Result<Vec<RateCardRow>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let heads = sqlx::query(
            "SELECT id, name, effective_from, currency, model, utility_free_in_window, free_entry_point_free, shipped, created_at
             FROM rate_cards ORDER BY effective_from, name",
        )
        .fetch_all(&mut *tx)
        .await?;
        let prices = sqlx::query(
            "SELECT card_id, market, category, price, volume_from, source FROM rate_card_prices ORDER BY card_id, market, category, volume_from",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(heads.len());
        for h in heads {
            let id: i64 = h.try_get(0)?;
            let mut rates = Vec::new();
            for p in prices.iter().filter(|p| p.try_get::<i64, _>(0).ok() == Some(id)) {
                let (market, category, amount): (String, String, String) = (p.try_get(1)?, p.try_get(2)?, p.try_get(3)?);
                let volume_from: i64 = p.try_get(4)?;
                rates.push(Rate {
                    market: Market::parse(&market).map_err(|_| corrupt("market", &market))?,
                    category: Category::parse(&category).map_err(|_| corrupt("category", &category))?,
                    price: price(&amount)?,
                    volume_from: u64::try_from(volume_from).map_err(|_| corrupt("volume_from", &volume_from.to_string()))?,
                    source: p.try_get(5)?,
                });
            }
            let (from, model): (String, String) = (h.try_get(2)?, h.try_get(4)?);
            let card = RateCard {
                name: h.try_get(1)?,
                effective_from: date(&from)?,
                currency: h.try_get(3)?,
                model: PricingModel::parse(&model).ok_or_else(|| corrupt("model", &model))?,
                utility_free_in_window: h.try_get(5)?,
                free_entry_point_free: h.try_get(6)?,
                rates,
            };
            out.push(RateCardRow { id, card, shipped: h.try_get(7)?, created_at: Timestamp::from_unix_millis(h.try_get(8)?) });
        }
        Ok(out)
    }

    async fn import_rate_cards(&self, cards: &[RateCard], replace: bool, now: Timestamp) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut ids = Vec::with_capacity(cards.len());
        for card in cards {
            ids.push(put(&mut tx, card, false, replace, now).await?);
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn delete_rate_card(&self, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM rate_card_prices WHERE card_id = $1").bind(id).execute(&mut *tx).await?;
        let n = sqlx::query("DELETE FROM rate_cards WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn seed_rate_cards(&self, shipped: &[RateCard], now: Timestamp) -> Result<usize, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut added = 0;
        for card in shipped {
            let new = sqlx::query("INSERT INTO rate_cards_shipped (name, seeded_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(&card.name)
                .bind(now.unix_millis())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            let taken: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM rate_cards WHERE name = $1)").bind(&card.name).fetch_one(&mut *tx).await?;
            if new && !taken {
                put(&mut tx, card, true, false, now).await?;
                added += 1;
            }
        }
        tx.commit().await?;
        Ok(added)
    }
}
