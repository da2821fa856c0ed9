//! Cost reports (SPEC 11, issue 17 item 5): `message_costs` summed by a grouping over a range of
//! UTC days, and the messages behind a row, in pages. One statement shape for both backends; only
//! the placeholders, booleans and the month's expression differ.

use windowdesk_core::pricing::report::{Grouping, ReportQuery};
use windowdesk_core::Timestamp;

/// One row of a cost report: a period, category, number, sender, ticket or customer, in one
/// currency (amounts in millionths).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CostGroupRow {
    /// The store's key: see [`windowdesk_core::pricing::report::period_key`] for time groupings;
    /// the category, the sender, or the number, ticket or customer id otherwise.
    pub key: String,
    /// The number's, ticket's or customer's name where the grouping has one.
    pub label: Option<String>,
    pub currency: Option<String>,
    pub messages: i64,
    /// Delivered and charged (an amount above 0).
    pub charged: i64,
    /// Delivered and free.
    pub free: i64,
    /// Failed, or never delivered: nothing charged.
    pub not_delivered: i64,
    /// Settled, but no card priced it (a market or category the card lacks).
    pub unpriced: i64,
    /// Not settled yet (accepted or sent).
    pub pending: i64,
    /// What the settled messages cost.
    pub amount_micros: i64,
    /// What the pending ones are estimated to cost.
    pub pending_estimate_micros: i64,
    /// The estimates made before sending, for all of them.
    pub estimate_micros: i64,
}

/// One message of a report's drill-down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostMessageRow {
    pub message_id: i64,
    pub at: Timestamp,
    pub business_number_id: i64,
    pub ticket_id: i64,
    pub contact_id: Option<i64>,
    pub customer: Option<String>,
    pub author: String,
    pub channel: String,
    /// The category it was charged in (Meta's, once it said), else the estimate's.
    pub category: String,
    pub estimated_category: String,
    pub market: Option<String>,
    pub currency: Option<String>,
    pub estimate_micros: Option<i64>,
    pub free_because: Option<String>,
    pub amount_micros: Option<i64>,
    pub settled_by: Option<String>,
    pub meta_type: Option<String>,
    pub is_final: bool,
}

/// A value bound to a report statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn placeholder(self, n: usize) -> String {
        match self {
            Self::Sqlite => format!("?{n}"),
            Self::Postgres => format!("${n}"),
        }
    }

    fn is_final(self) -> &'static str {
        match self {
            Self::Sqlite => "c.final = 1",
            Self::Postgres => "c.final",
        }
    }
}

/// The filters of `q` as a `WHERE` clause over `message_costs c`, with its arguments.
fn filters(d: Dialect, q: &ReportQuery, args: &mut Vec<Arg>) -> String {
    let mut bind = |a: Arg| {
        args.push(a);
        d.placeholder(args.len())
    };
    let (from, to) = q.range.millis();
    let mut w = format!("c.at >= {} AND c.at < {}", bind(Arg::Int(from)), bind(Arg::Int(to)));
    if let Some(n) = q.business_number_id {
        w += &format!(" AND c.business_number_id = {}", bind(Arg::Int(n)));
    }
    if let Some(c) = &q.category {
        w += &format!(" AND COALESCE(c.charged_category, c.category) = {}", bind(Arg::Text(c.clone())));
    }
    if let Some(a) = &q.author {
        w += &format!(" AND c.author = {}", bind(Arg::Text(a.clone())));
    }
    if let Some(t) = q.ticket_id {
        w += &format!(" AND c.ticket_id = {}", bind(Arg::Int(t)));
    }
    if let Some(c) = q.contact_id {
        w += &format!(" AND c.contact_id = {}", bind(Arg::Int(c)));
    }
    if let Some(ch) = &q.channel {
        w += &format!(" AND c.channel = {}", bind(Arg::Text(ch.clone())));
    }
    w
}

/// The report's statement: rows of `q.group`, at most `limit` (time groupings in time order, the
/// others most expensive first). Columns as [`CostGroupRow`]: key, label, currency, then the counts
/// and sums in its field order.
/// With `totals`, one row per currency over everything `q` selects (the report's totals, whatever
/// number of its rows are shown).
pub(crate) fn report_sql(d: Dialect, q: &ReportQuery, limit: u32, totals: bool) -> (String, Vec<Arg>) {
    let mut args = Vec::new();
    let wher = filters(d, q, &mut args);
    let key = match q.group {
        _ if totals => "CAST('total' AS TEXT)".to_owned(),
        Grouping::Day => "CAST(c.at / 86400000 AS TEXT)".to_owned(),
        Grouping::Week => "CAST((c.at / 86400000 + 3) / 7 AS TEXT)".to_owned(),
        Grouping::Month => match d {
            Dialect::Sqlite => "strftime('%Y-%m', c.at / 1000, 'unixepoch')".to_owned(),
            Dialect::Postgres => "to_char(to_timestamp(c.at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM')".to_owned(),
        },
        Grouping::Category => "COALESCE(c.charged_category, c.category)".to_owned(),
        Grouping::Number => "CAST(c.business_number_id AS TEXT)".to_owned(),
        Grouping::Agent => "c.author".to_owned(),
        Grouping::Ticket => "CAST(c.ticket_id AS TEXT)".to_owned(),
        Grouping::Customer => "COALESCE(CAST(c.contact_id AS TEXT), '')".to_owned(),
    };
    let id = match q.group {
        _ if totals => "CAST(NULL AS BIGINT)",
        Grouping::Number => "c.business_number_id",
        Grouping::Ticket => "c.ticket_id",
        Grouping::Customer => "c.contact_id",
        _ => "CAST(NULL AS BIGINT)",
    };
    let label = match q.group {
        _ if totals => "CAST(NULL AS TEXT)",
        Grouping::Number => "(SELECT b.name || ' (' || b.display_number || ')' FROM business_numbers b WHERE b.id = g.gid)",
        Grouping::Ticket => "(SELECT t.subject FROM tickets t WHERE t.id = g.gid)",
        Grouping::Customer => "(SELECT ct.name FROM contacts ct WHERE ct.id = g.gid)",
        _ => "CAST(NULL AS TEXT)",
    };
    let fin = d.is_final();
    let order = if q.group.is_time() { "g.gkey, g.currency" } else { "g.amount DESC, g.messages DESC, g.gkey, g.currency" };
    args.push(Arg::Int(i64::from(limit)));
    let lim = d.placeholder(args.len());
    let sql = format!(
        "SELECT g.gkey, {label}, g.currency, g.messages, g.charged, g.free, g.not_delivered, g.unpriced, g.pending,
                g.amount, g.pending_estimate, g.estimate
           FROM (SELECT {key} AS gkey, {id} AS gid, c.currency AS currency,
                        count(*) AS messages,
                        SUM(CASE WHEN {fin} AND c.amount_micros > 0 THEN 1 ELSE 0 END) AS charged,
                        SUM(CASE WHEN {fin} AND c.amount_micros = 0 AND c.settled_by <> 'not_delivered' THEN 1 ELSE 0 END) AS free,
                        SUM(CASE WHEN {fin} AND c.settled_by = 'not_delivered' THEN 1 ELSE 0 END) AS not_delivered,
                        SUM(CASE WHEN {fin} AND c.amount_micros IS NULL THEN 1 ELSE 0 END) AS unpriced,
                        SUM(CASE WHEN {fin} THEN 0 ELSE 1 END) AS pending,
                        CAST(COALESCE(SUM(CASE WHEN {fin} THEN c.amount_micros END), 0) AS BIGINT) AS amount,
                        CAST(COALESCE(SUM(CASE WHEN {fin} THEN NULL ELSE c.estimate_micros END), 0) AS BIGINT) AS pending_estimate,
                        CAST(COALESCE(SUM(c.estimate_micros), 0) AS BIGINT) AS estimate
                   FROM message_costs c
                  WHERE {wher}
                  GROUP BY 1, 2, 3) g
          ORDER BY {order}
          LIMIT {lim}"
    );
    (sql, args)
}

/// The drill-down's statement: the messages of `q` after `(after_at, after_id)`, in time order.
/// Columns as [`CostMessageRow`], in its field order.
pub(crate) fn messages_sql(d: Dialect, q: &ReportQuery, after: Option<(Timestamp, i64)>, limit: u32) -> (String, Vec<Arg>) {
    let mut args = Vec::new();
    let mut wher = filters(d, q, &mut args);
    if let Some((at, id)) = after {
        args.push(Arg::Int(at.unix_millis()));
        let a = d.placeholder(args.len());
        args.push(Arg::Int(id));
        let i = d.placeholder(args.len());
        // A row comparison: both backends take it as the index's bound (an OR of the two would
        // make PostgreSQL read the range from its start on every page).
        wher += &format!(" AND (c.at, c.message_id) > ({a}, {i})");
    }
    args.push(Arg::Int(i64::from(limit)));
    let lim = d.placeholder(args.len());
    let fin = d.is_final();
    let sql = format!(
        "SELECT c.message_id, c.at, c.business_number_id, c.ticket_id, c.contact_id,
                (SELECT ct.name FROM contacts ct WHERE ct.id = c.contact_id),
                c.author, c.channel, COALESCE(c.charged_category, c.category), c.category, c.market, c.currency,
                c.estimate_micros, c.free_because, c.amount_micros, c.settled_by, c.meta_type, CASE WHEN {fin} THEN 1 ELSE 0 END
           FROM message_costs c
          WHERE {wher}
          ORDER BY c.at, c.message_id
          LIMIT {lim}"
    );
    (sql, args)
}
