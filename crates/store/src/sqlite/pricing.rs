//! Rate cards on SQLite (SPEC 11).

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use windowdesk_core::pricing::{Category, Market, PricingModel, Rate, RateCard};
use windowdesk_core::Timestamp;

use super::SqliteStore;
use crate::cost_days::{self, FinalCost, FINAL_COST_COLUMNS};
use crate::cost_report::{self, Arg, CostGroupRow, CostMessageRow, Dialect};
use crate::error::StoreError;
use crate::pricing_model::{
    corrupt, date, price, CostSettlement, MessageCostRow, PendingCost, RateCardRow, MESSAGE_COST_COLUMNS, SETTLE_STATES,
};
use crate::pricing_model::{volume_increments, SettledCostRow, UncostedMessage};
use crate::PricingStore;
use windowdesk_core::pricing::report::ReportQuery;

/// The final costs of `ids` (those that are), as the daily roll-up counts them.
pub(super) fn final_costs(tx: &Transaction<'_>, ids: &[i64]) -> rusqlite::Result<Vec<FinalCost>> {
    let mut stmt =
        tx.prepare_cached(&format!("SELECT {FINAL_COST_COLUMNS} FROM message_costs c WHERE c.message_id = ?1 AND c.final = 1"))?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row = stmt
            .query_row([id], |r| {
                Ok(FinalCost {
                    at_millis: r.get(0)?,
                    business_number_id: r.get(1)?,
                    category: r.get(2)?,
                    author: r.get(3)?,
                    channel: r.get(4)?,
                    currency: r.get(5)?,
                    amount_micros: r.get(6)?,
                    estimate_micros: r.get(7)?,
                    settled_by: r.get(8)?,
                })
            })
            .optional()?;
        out.extend(row);
    }
    Ok(out)
}

/// Adds `costs` to the daily roll-up (`sign` 1) or takes them out (-1), in key order.
pub(super) fn roll_up(tx: &Transaction<'_>, costs: &[FinalCost], sign: i64) -> rusqlite::Result<()> {
    if costs.is_empty() {
        return Ok(());
    }
    let mut stmt = tx.prepare_cached(&cost_days::upsert_sql(Dialect::Sqlite))?;
    for (k, n) in cost_days::deltas(costs, sign) {
        stmt.execute(params![
            k.day,
            k.business_number_id,
            k.category,
            k.author,
            k.channel,
            k.currency,
            n.messages,
            n.charged,
            n.free,
            n.not_delivered,
            n.unpriced,
            n.amount_micros,
            n.estimate_micros
        ])?;
    }
    Ok(())
}

/// A row of [`cost_report::report_sql`]'s statement.
fn group_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CostGroupRow> {
    Ok(CostGroupRow {
        key: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
        label: r.get(1)?,
        currency: r.get(2)?,
        messages: r.get(3)?,
        charged: r.get(4)?,
        free: r.get(5)?,
        not_delivered: r.get(6)?,
        unpriced: r.get(7)?,
        pending: r.get(8)?,
        amount_micros: r.get(9)?,
        pending_estimate_micros: r.get(10)?,
        estimate_micros: r.get(11)?,
    })
}

fn sql_arg(a: &Arg) -> rusqlite::types::Value {
    match a {
        Arg::Int(i) => rusqlite::types::Value::Integer(*i),
        Arg::Text(t) => rusqlite::types::Value::Text(t.clone()),
    }
}

/// A card's own row, before its prices.
struct Head {
    id: i64,
    name: String,
    from: String,
    currency: String,
    model: String,
    utility_free_in_window: bool,
    free_entry_point_free: bool,
    shipped: bool,
    created_at: i64,
}

fn cards(c: &Connection) -> Result<Vec<RateCardRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, name, effective_from, currency, model, utility_free_in_window, free_entry_point_free, shipped, created_at
         FROM rate_cards ORDER BY effective_from, name",
    )?;
    let heads: Vec<Head> = stmt
        .query_map([], |r| {
            Ok(Head {
                id: r.get(0)?,
                name: r.get(1)?,
                from: r.get(2)?,
                currency: r.get(3)?,
                model: r.get(4)?,
                utility_free_in_window: r.get(5)?,
                free_entry_point_free: r.get(6)?,
                shipped: r.get(7)?,
                created_at: r.get(8)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut prices = c.prepare_cached(
        "SELECT market, category, price, volume_from, source FROM rate_card_prices WHERE card_id = ?1 ORDER BY market, category, volume_from",
    )?;
    let mut out = Vec::with_capacity(heads.len());
    for Head { id, name, from, currency, model, utility_free_in_window, free_entry_point_free, shipped, created_at } in heads {
        let rows: Vec<(String, String, String, i64, Option<String>)> =
            prices.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?.collect::<Result<_, _>>()?;
        let mut rates = Vec::with_capacity(rows.len());
        for (market, category, amount, volume_from, source) in rows {
            rates.push(Rate {
                market: Market::parse(&market).map_err(|_| corrupt("market", &market))?,
                category: Category::parse(&category).map_err(|_| corrupt("category", &category))?,
                price: price(&amount)?,
                volume_from: u64::try_from(volume_from).map_err(|_| corrupt("volume_from", &volume_from.to_string()))?,
                source,
            });
        }
        let card = RateCard {
            name,
            effective_from: date(&from)?,
            currency,
            model: PricingModel::parse(&model).ok_or_else(|| corrupt("model", &model))?,
            utility_free_in_window,
            free_entry_point_free,
            rates,
        };
        out.push(RateCardRow { id, card, shipped, created_at: Timestamp::from_unix_millis(created_at) });
    }
    Ok(out)
}

/// Inserts `card` (or, with `replace`, gives the card of that name its fields and prices).
fn put(tx: &Transaction<'_>, card: &RateCard, shipped: bool, replace: bool, now: Timestamp) -> Result<i64, StoreError> {
    let existing: Option<i64> =
        tx.prepare_cached("SELECT id FROM rate_cards WHERE name = ?1")?.query_row([&card.name], |r| r.get(0)).optional()?;
    let id = match existing {
        Some(_) if !replace => {
            return Err(StoreError::Conflict(format!("a rate card named {:?} exists: delete it, or import with replace", card.name)))
        }
        Some(id) => {
            tx.execute(
                "UPDATE rate_cards SET effective_from = ?2, currency = ?3, model = ?4, utility_free_in_window = ?5, free_entry_point_free = ?6
                 WHERE id = ?1",
                params![
                    id,
                    card.effective_from.to_string(),
                    card.currency,
                    card.model.as_str(),
                    card.utility_free_in_window,
                    card.free_entry_point_free
                ],
            )?;
            tx.execute("DELETE FROM rate_card_prices WHERE card_id = ?1", [id])?;
            id
        }
        None => {
            tx.execute(
                "INSERT INTO rate_cards (name, effective_from, currency, model, utility_free_in_window, free_entry_point_free, shipped, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    card.name,
                    card.effective_from.to_string(),
                    card.currency,
                    card.model.as_str(),
                    card.utility_free_in_window,
                    card.free_entry_point_free,
                    shipped,
                    now.unix_millis()
                ],
            )?;
            tx.last_insert_rowid()
        }
    };
    let mut insert = tx.prepare_cached(
        "INSERT INTO rate_card_prices (card_id, market, category, price, volume_from, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for r in &card.rates {
        // Cards hold monthly counts far below i64::MAX (RateCard::from_csv caps them).
        let volume_from = i64::try_from(r.volume_from).unwrap_or(i64::MAX);
        insert.execute(params![id, r.market.as_str(), r.category.as_str(), r.price.to_string(), volume_from, r.source])?;
    }
    Ok(id)
}

fn cost_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageCostRow> {
    Ok(MessageCostRow {
        message_id: r.get(0)?,
        ticket_id: r.get(1)?,
        author: r.get(2)?,
        channel: r.get(3)?,
        at: Timestamp::from_unix_millis(r.get(4)?),
        category: r.get(5)?,
        market: r.get(6)?,
        currency: r.get(7)?,
        estimate_micros: r.get(8)?,
        free_because: r.get(9)?,
        card: r.get(10)?,
        charged_category: r.get(11)?,
        amount_micros: r.get(12)?,
        settled_by: r.get(13)?,
        is_final: r.get::<_, i64>(14)? != 0,
        business_number_id: r.get(15)?,
        conversation_id: r.get(16)?,
        conversation_origin: r.get(17)?,
        conversation_expires_at: r.get::<_, Option<i64>>(18)?.map(Timestamp::from_unix_millis),
    })
}

#[async_trait]
impl PricingStore for SqliteStore {
    async fn ticket_costs(&self, ticket_id: i64) -> Result<Vec<MessageCostRow>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {MESSAGE_COST_COLUMNS} FROM message_costs c WHERE c.ticket_id = ?1 ORDER BY c.message_id"
            ))?;
            let rows = stmt.query_map(params![ticket_id], cost_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn pending_costs(&self, limit: u32, stale_before: Timestamp) -> Result<Vec<PendingCost>, StoreError> {
        self.read(move |c| {
            let sql = format!(
                "SELECT {MESSAGE_COST_COLUMNS}, c.recipient, m.delivery_state, s.pricing, s.raw, m.went_out_at
                   FROM message_costs c
                   JOIN messages m ON m.id = c.message_id
                   LEFT JOIN status_events s ON s.id = (
                        SELECT s2.id FROM status_events s2
                         WHERE s2.business_number_id = m.business_number_id AND s2.wamid = m.wamid AND s2.pricing IS NOT NULL
                         ORDER BY s2.at DESC, s2.id DESC LIMIT 1)
                  WHERE c.final = 0
                    AND ((m.delivery_state IN {SETTLE_STATES} AND (c.settled_state IS NULL OR c.settled_state <> m.delivery_state))
                         OR c.at < ?2)
                  ORDER BY c.message_id LIMIT ?1"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![limit, stale_before.unix_millis()], |r| {
                Ok(PendingCost {
                    cost: cost_row(r)?,
                    recipient: r.get(19)?,
                    delivery_state: r.get(20)?,
                    pricing: r.get(21)?,
                    status_raw: r.get(22)?,
                    went_out_at: r.get::<_, Option<i64>>(23)?.map(Timestamp::from_unix_millis),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn settle_costs(&self, settled: &[CostSettlement], now: Timestamp) -> Result<Vec<i64>, StoreError> {
        let settled = settled.to_vec();
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let mut finals = Vec::new();
                {
                    let mut stmt = tx.prepare_cached(
                        "UPDATE message_costs SET meta_model = ?2, meta_category = ?3, meta_type = ?4, meta_billable = ?5, conversation_id = ?6,
                                conversation_origin = ?7, conversation_expires_at = ?8, charged_category = ?9, amount_micros = ?10,
                                settled_by = ?11, final = ?12, settled_at = ?13, settled_state = ?14, at = COALESCE(?15, at),
                                market = COALESCE(?16, market)
                          WHERE message_id = ?1 AND final = 0",
                    )?;
                    let mut counted = Vec::new();
                    for s in &settled {
                        let changed = stmt.execute(params![
                            s.message_id,
                            s.meta_model,
                            s.meta_category,
                            s.meta_type,
                            s.meta_billable,
                            s.conversation_id,
                            s.conversation_origin,
                            s.conversation_expires_at.map(Timestamp::unix_millis),
                            s.charged_category,
                            s.amount_micros,
                            s.settled_by,
                            s.is_final,
                            now.unix_millis(),
                            s.delivery_state,
                            s.went_out_at.map(Timestamp::unix_millis),
                            s.counts_in.as_ref().map(|(_, market)| market),
                        ])?;
                        // Counted once: only by the statement that made the row final.
                        if let (1, Some((month, market))) = (changed, &s.counts_in) {
                            counted.push((s.business_number_id, month.as_str(), market.as_str(), s.charged_category.as_str()));
                        }
                        if changed == 1 && s.is_final {
                            finals.push(s.message_id);
                        }
                    }
                    let mut count = tx.prepare_cached(
                        "INSERT INTO cost_volumes (waba_id, month, market, category, charged)
                         SELECT b.waba_id, ?2, ?3, ?4, ?5 FROM business_numbers b WHERE b.id = ?1
                         ON CONFLICT (waba_id, month, market, category) DO UPDATE SET charged = charged + excluded.charged",
                    )?;
                    for ((month, market, category, bn), n) in volume_increments(&counted) {
                        count.execute(params![bn, month, market, category, n])?;
                    }
                }
                let settled = final_costs(&tx, &finals)?;
                roll_up(&tx, &settled, 1)?;
                tx.commit()?;
                Ok(finals)
            })
            .await
    }

    async fn conversation_seen_before(&self, conversation_id: &str, message_id: i64) -> Result<bool, StoreError> {
        let id = conversation_id.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached("SELECT EXISTS (SELECT 1 FROM message_costs WHERE conversation_id = ?1 AND message_id < ?2)")?
                .query_row(params![id, message_id], |r| r.get(0))?)
        })
        .await
    }

    async fn month_volume(&self, business_number_id: i64, month: &str, market: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let (month, market) = (month.to_owned(), market.to_owned());
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT v.category, v.charged FROM cost_volumes v
                  WHERE v.waba_id = (SELECT waba_id FROM business_numbers WHERE id = ?1) AND v.month = ?2 AND v.market = ?3
                  ORDER BY v.category",
            )?;
            let rows = stmt.query_map(params![business_number_id, month, market], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            Ok(rows.map(|r| r.map(|(c, n)| (c, u64::try_from(n).unwrap_or(0)))).collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn tier_updates(&self, business_number_id: i64) -> Result<Vec<String>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT e.raw FROM account_events e
                  WHERE e.event = 'VOLUME_BASED_PRICING_TIER_UPDATE'
                    AND e.waba_id = (SELECT waba_id FROM business_numbers WHERE id = ?1)
                  ORDER BY e.id",
            )?;
            let rows = stmt.query_map(params![business_number_id], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn uncosted_messages(&self, after_id: i64, limit: u32) -> Result<Vec<UncostedMessage>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT m.id, m.business_number_id, m.ticket_id, t.requester_id, m.author, COALESCE(m.went_out_at, m.sent_at), i.wa_id
                   FROM messages m JOIN tickets t ON t.id = m.ticket_id LEFT JOIN identities i ON i.id = m.identity_id
                  WHERE m.direction = 'outbound' AND m.id > ?1
                    AND NOT EXISTS (SELECT 1 FROM message_costs c WHERE c.message_id = m.id)
                  ORDER BY m.id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after_id, limit], |r| {
                Ok(UncostedMessage {
                    message_id: r.get(0)?,
                    business_number_id: r.get(1)?,
                    ticket_id: r.get(2)?,
                    contact_id: r.get(3)?,
                    author: r.get(4)?,
                    at: Timestamp::from_unix_millis(r.get(5)?),
                    recipient: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn insert_costs(&self, costs: &[SettledCostRow]) -> Result<u64, StoreError> {
        let costs = costs.to_vec();
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let mut n = 0;
                let mut written_ids = Vec::new();
                {
                    let mut insert = tx.prepare_cached(
                        "INSERT INTO message_costs (message_id, business_number_id, ticket_id, contact_id, author, channel, at, recipient, category,
                                           market, currency, estimate_micros, free_because, card, meta_type, charged_category,
                                           amount_micros, settled_by, settled_state, final, settled_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?9, ?16, 'meta', 'delivered', 1, ?7)
                 ON CONFLICT (message_id) DO NOTHING",
                    )?;
                    let mut count = tx.prepare_cached(
                        "INSERT INTO cost_volumes (waba_id, month, market, category, charged)
                 SELECT b.waba_id, ?2, ?3, ?4, 1 FROM business_numbers b WHERE b.id = ?1
                 ON CONFLICT (waba_id, month, market, category) DO UPDATE SET charged = cost_volumes.charged + 1",
                    )?;
                    for c in &costs {
                        let m = &c.message;
                        let written = insert.execute(params![
                            m.message_id, m.business_number_id, m.ticket_id, m.contact_id,
                            m.author.as_deref().unwrap_or("generator"), c.channel, m.at.unix_millis(), m.recipient, c.category,
                            c.market, c.currency, c.estimate_micros, c.free_because, c.card, c.meta_type, c.amount_micros
                        ])?;
                        if let (1, Some(market), true) = (written, &c.market, c.amount_micros.is_some_and(|a| a > 0)) {
                            count.execute(params![m.business_number_id, windowdesk_core::pricing::month_of(m.at), market, c.category])?;
                        }
                        n += written as u64;
                        if written == 1 {
                            written_ids.push(m.message_id);
                        }
                    }
                }
                let written = final_costs(&tx, &written_ids)?;
                roll_up(&tx, &written, 1)?;
                tx.commit()?;
                Ok(n)
            })
            .await
    }

    async fn cost_report(&self, q: &ReportQuery, limit: u32, totals: bool) -> Result<Vec<CostGroupRow>, StoreError> {
        let (sql, args) = cost_report::report_sql(Dialect::Sqlite, q, limit, totals);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args.iter().map(sql_arg)), group_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn cost_report_each(&self, q: &ReportQuery, batches: tokio::sync::mpsc::Sender<Vec<CostGroupRow>>) -> Result<(), StoreError> {
        let (sql, args) = cost_report::report_sql(Dialect::Sqlite, q, u32::MAX, false);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let mut rows = stmt.query_map(rusqlite::params_from_iter(args.iter().map(sql_arg)), group_row)?;
            loop {
                let batch = rows.by_ref().take(cost_report::EACH_BATCH).collect::<Result<Vec<_>, _>>()?;
                let last = batch.len() < cost_report::EACH_BATCH;
                if !batch.is_empty() && batches.blocking_send(batch).is_err() {
                    return Ok(());
                }
                if last {
                    return Ok(());
                }
            }
        })
        .await
    }

    async fn cost_messages(&self, q: &ReportQuery, after: Option<(Timestamp, i64)>, limit: u32) -> Result<Vec<CostMessageRow>, StoreError> {
        let (sql, args) = cost_report::messages_sql(Dialect::Sqlite, q, after, limit);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args.iter().map(sql_arg)), |r| {
                Ok(CostMessageRow {
                    message_id: r.get(0)?,
                    at: Timestamp::from_unix_millis(r.get(1)?),
                    business_number_id: r.get(2)?,
                    ticket_id: r.get(3)?,
                    contact_id: r.get(4)?,
                    customer: r.get(5)?,
                    author: r.get(6)?,
                    channel: r.get(7)?,
                    category: r.get(8)?,
                    estimated_category: r.get(9)?,
                    market: r.get(10)?,
                    currency: r.get(11)?,
                    estimate_micros: r.get(12)?,
                    free_because: r.get(13)?,
                    amount_micros: r.get(14)?,
                    settled_by: r.get(15)?,
                    meta_type: r.get(16)?,
                    is_final: r.get::<_, i64>(17)? != 0,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn rate_cards(&self) -> Result<Vec<RateCardRow>, StoreError> {
        self.read(cards).await
    }

    async fn import_rate_cards(&self, cards: &[RateCard], replace: bool, now: Timestamp) -> Result<Vec<i64>, StoreError> {
        let cards = cards.to_vec();
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let ids = cards.iter().map(|card| put(&tx, card, false, replace, now)).collect::<Result<Vec<_>, _>>()?;
                tx.commit()?;
                Ok(ids)
            })
            .await
    }

    async fn delete_rate_card(&self, id: i64) -> Result<bool, StoreError> {
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction()?;
                tx.execute("DELETE FROM rate_card_prices WHERE card_id = ?1", [id])?;
                let n = tx.execute("DELETE FROM rate_cards WHERE id = ?1", [id])?;
                tx.commit()?;
                Ok(n == 1)
            })
            .await
    }

    async fn seed_rate_cards(&self, shipped: &[RateCard], now: Timestamp) -> Result<usize, StoreError> {
        let shipped = shipped.to_vec();
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let mut added = 0;
                for card in &shipped {
                    let new = tx.execute(
                        "INSERT INTO rate_cards_shipped (name, seeded_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                        params![card.name, now.unix_millis()],
                    )? == 1;
                    let taken: bool =
                        tx.query_row("SELECT EXISTS (SELECT 1 FROM rate_cards WHERE name = ?1)", [&card.name], |r| r.get(0))?;
                    if new && !taken {
                        put(&tx, card, true, false, now)?;
                        added += 1;
                    }
                }
                tx.commit()?;
                Ok(added)
            })
            .await
    }
}
