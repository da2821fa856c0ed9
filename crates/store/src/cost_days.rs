//! The cost report's daily roll-up (SPEC 11, issue 17): settled costs summed per UTC day, business
//! number, charged category, sender, channel and currency in `cost_days` (migration 0032). A cost
//! is added in the transaction that makes it final and taken out in the one that makes it open
//! again (a failed message sent again), so the roll-up is always the sum of the final rows; reports
//! read it and add the open costs from `message_costs`. Both backends share what is here; each
//! runs the statements in its own transaction.

use std::collections::BTreeMap;

use crate::cost_report::Dialect;

/// The columns of `message_costs c` a settled cost is counted by, in [`FinalCost`]'s order.
pub(crate) const FINAL_COST_COLUMNS: &str = "c.at, c.business_number_id, COALESCE(c.charged_category, c.category), c.author, c.channel, \
     COALESCE(c.currency, ''), c.amount_micros, c.estimate_micros, c.settled_by";

/// A final cost as the roll-up counts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FinalCost {
    pub at_millis: i64,
    pub business_number_id: i64,
    pub category: String,
    pub author: String,
    pub channel: String,
    /// `''` when the cost has no currency (unpriced).
    pub currency: String,
    pub amount_micros: Option<i64>,
    pub estimate_micros: Option<i64>,
    pub settled_by: Option<String>,
}

/// A row's key in `cost_days`; ordered as its primary key, the order rows are written in (so two
/// instances settling at once lock them in the same order).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DayKey {
    pub day: i64,
    pub business_number_id: i64,
    pub category: String,
    pub author: String,
    pub channel: String,
    pub currency: String,
}

/// What a set of costs adds to one `cost_days` row (negative to take them out).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DayCounts {
    pub messages: i64,
    pub charged: i64,
    pub free: i64,
    pub not_delivered: i64,
    pub unpriced: i64,
    pub amount_micros: i64,
    pub estimate_micros: i64,
}

pub(crate) const MILLIS_PER_DAY: i64 = 86_400_000;

/// The roll-up's changes for `costs` added (`sign` 1) or taken out (`sign` -1), by key in key
/// order. The counts are the report's: charged (an amount above 0), free (0, and delivered),
/// not delivered, unpriced (no amount).
pub(crate) fn deltas(costs: &[FinalCost], sign: i64) -> BTreeMap<DayKey, DayCounts> {
    let mut out: BTreeMap<DayKey, DayCounts> = BTreeMap::new();
    for c in costs {
        let key = DayKey {
            day: c.at_millis.div_euclid(MILLIS_PER_DAY),
            business_number_id: c.business_number_id,
            category: c.category.clone(),
            author: c.author.clone(),
            channel: c.channel.clone(),
            currency: c.currency.clone(),
        };
        let not_delivered = c.settled_by.as_deref() == Some("not_delivered");
        let n = out.entry(key).or_default();
        n.messages += sign;
        n.charged += sign * i64::from(c.amount_micros.is_some_and(|a| a > 0));
        n.free += sign * i64::from(c.amount_micros == Some(0) && c.settled_by.is_some() && !not_delivered);
        n.not_delivered += sign * i64::from(not_delivered);
        n.unpriced += sign * i64::from(c.amount_micros.is_none());
        n.amount_micros += sign * c.amount_micros.unwrap_or(0);
        n.estimate_micros += sign * c.estimate_micros.unwrap_or(0);
    }
    out
}

/// Adds one key's counts to its row (placeholders 1-13: the key in [`DayKey`]'s order, then the
/// counts in [`DayCounts`]'s).
pub(crate) fn upsert_sql(d: Dialect) -> String {
    let p: Vec<String> = (1..=13).map(|n| d.placeholder(n)).collect();
    format!(
        "INSERT INTO cost_days (day, business_number_id, category, author, channel, currency,
                                messages, charged, free, not_delivered, unpriced, amount_micros, estimate_micros)
         VALUES ({})
         ON CONFLICT (day, business_number_id, category, author, channel, currency) DO UPDATE SET
             messages = cost_days.messages + excluded.messages,
             charged = cost_days.charged + excluded.charged,
             free = cost_days.free + excluded.free,
             not_delivered = cost_days.not_delivered + excluded.not_delivered,
             unpriced = cost_days.unpriced + excluded.unpriced,
             amount_micros = cost_days.amount_micros + excluded.amount_micros,
             estimate_micros = cost_days.estimate_micros + excluded.estimate_micros",
        p.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(at_millis: i64, amount: Option<i64>, settled_by: Option<&str>) -> FinalCost {
        FinalCost {
            at_millis,
            business_number_id: 1,
            category: "marketing".into(),
            author: "agent:1".into(),
            channel: "whatsapp".into(),
            currency: "USD".into(),
            amount_micros: amount,
            estimate_micros: Some(50_000),
            settled_by: settled_by.map(str::to_owned),
        }
    }

    #[test]
    fn costs_are_counted_per_utc_day_as_the_report_counts_them() {
        let day = 20_429 * MILLIS_PER_DAY;
        let costs = [
            cost(day, Some(50_000), Some("meta")),
            cost(day + 1, Some(0), Some("meta")),
            cost(day + 2, Some(0), Some("not_delivered")),
            cost(day + 3, None, Some("meta")),
            cost(day + MILLIS_PER_DAY - 1, Some(25_000), Some("estimate")),
            cost(day + MILLIS_PER_DAY, Some(10_000), Some("meta")),
        ];
        let d = deltas(&costs, 1);
        assert_eq!(d.len(), 2, "two days");
        let first = d.values().next().unwrap();
        assert_eq!(
            *first,
            DayCounts { messages: 5, charged: 2, free: 1, not_delivered: 1, unpriced: 1, amount_micros: 75_000, estimate_micros: 250_000 }
        );
        assert_eq!(d.keys().map(|k| k.day).collect::<Vec<_>>(), [20_429, 20_430]);
        let out = deltas(&costs[..1], -1);
        assert_eq!(
            out.values().next().unwrap(),
            &DayCounts { messages: -1, charged: -1, amount_micros: -50_000, estimate_micros: -50_000, ..Default::default() }
        );
    }
}
