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

/// Rows a batch of [`crate::PricingStore::cost_report_each`].
pub(crate) const EACH_BATCH: usize = 1_000;

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
    pub(crate) fn placeholder(self, n: usize) -> String {
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

    /// Not settled yet, as the partial index `message_costs_open` is defined (so it is used).
    fn is_open(self) -> &'static str {
        match self {
            Self::Sqlite => "c.final = 0",
            Self::Postgres => "NOT c.final",
        }
    }
}

/// Binds `a` as the statement's next argument; its placeholder.
fn bind(d: Dialect, args: &mut Vec<Arg>, a: Arg) -> String {
    args.push(a);
    d.placeholder(args.len())
}

/// The filters `message_costs` and the roll-up share, as ` AND …` terms over the given column
/// expressions (number, charged category, sender, channel).
fn narrowed(d: Dialect, q: &ReportQuery, args: &mut Vec<Arg>, [number, category, author, channel]: [&str; 4]) -> String {
    let mut w = String::new();
    if let Some(n) = q.business_number_id {
        w += &format!(" AND {number} = {}", bind(d, args, Arg::Int(n)));
    }
    if let Some(c) = &q.category {
        w += &format!(" AND {category} = {}", bind(d, args, Arg::Text(c.clone())));
    }
    if let Some(a) = &q.author {
        w += &format!(" AND {author} = {}", bind(d, args, Arg::Text(a.clone())));
    }
    if let Some(ch) = &q.channel {
        w += &format!(" AND {channel} = {}", bind(d, args, Arg::Text(ch.clone())));
    }
    w
}

/// The filters of `q` as a `WHERE` clause over `message_costs c`, with its arguments.
fn filters(d: Dialect, q: &ReportQuery, args: &mut Vec<Arg>) -> String {
    filters_after(d, q, None, args)
}

/// [`filters`], starting after `after` (a time and message id in the range) instead of at the
/// range's start: a row comparison both backends take as the index's lower bound. (With the
/// range's start beside it, SQLite bounds its scan by that and reads every earlier page's rows
/// again; an OR of the two would make PostgreSQL do the same.)
fn filters_after(d: Dialect, q: &ReportQuery, after: Option<(Timestamp, i64)>, args: &mut Vec<Arg>) -> String {
    let (from, to) = q.range.millis();
    let mut w = match after.filter(|(at, _)| at.unix_millis() >= from) {
        Some((at, id)) => {
            let (a, i) = (bind(d, args, Arg::Int(at.unix_millis())), bind(d, args, Arg::Int(id)));
            format!("(c.at, c.message_id) > ({a}, {i}) AND c.at < {}", bind(d, args, Arg::Int(to)))
        }
        None => format!("c.at >= {} AND c.at < {}", bind(d, args, Arg::Int(from)), bind(d, args, Arg::Int(to))),
    };
    w += &narrowed(d, q, args, ["c.business_number_id", "COALESCE(c.charged_category, c.category)", "c.author", "c.channel"]);
    if let Some(t) = q.ticket_id {
        w += &format!(" AND c.ticket_id = {}", bind(d, args, Arg::Int(t)));
    }
    if let Some(c) = q.contact_id {
        w += &format!(" AND c.contact_id = {}", bind(d, args, Arg::Int(c)));
    }
    w
}

/// Whether `q` (its rows, or with `totals` only its totals) can be answered from the daily roll-up
/// (`cost_days`) plus the open costs: its filters, and its grouping where rows are asked for, are
/// all among the roll-up's columns (not a ticket or a customer).
pub(crate) fn rolls_up(q: &ReportQuery, totals: bool) -> bool {
    q.ticket_id.is_none() && q.contact_id.is_none() && (totals || !matches!(q.group, Grouping::Ticket | Grouping::Customer))
}

/// The filters of `q` as a `WHERE` clause over `cost_days r` (see [`rolls_up`]).
fn day_filters(d: Dialect, q: &ReportQuery, args: &mut Vec<Arg>) -> String {
    let (from, to) = q.range.millis();
    let per_day = crate::cost_days::MILLIS_PER_DAY;
    let (first, end) = (bind(d, args, Arg::Int(from / per_day)), bind(d, args, Arg::Int(to / per_day)));
    format!("r.day >= {first} AND r.day < {end}") + &narrowed(d, q, args, ["r.business_number_id", "r.category", "r.author", "r.channel"])
}

/// A grouping's key over the columns of the table aliased `t`; `day` is its UTC day number
/// (`c.at / 86400000`, or the roll-up's `r.day`).
fn group_key(d: Dialect, q: &ReportQuery, totals: bool, t: &str, day: &str) -> String {
    match q.group {
        _ if totals => "CAST('total' AS TEXT)".to_owned(),
        Grouping::Day => format!("CAST({day} AS TEXT)"),
        Grouping::Week => format!("CAST(({day} + 3) / 7 AS TEXT)"),
        Grouping::Month => match d {
            Dialect::Sqlite => format!("strftime('%Y-%m', ({day}) * 86400, 'unixepoch')"),
            Dialect::Postgres => format!("to_char(to_timestamp(({day}) * 86400) AT TIME ZONE 'UTC', 'YYYY-MM')"),
        },
        Grouping::Category => format!("COALESCE({t}.charged_category, {t}.category)"),
        Grouping::Number => format!("CAST({t}.business_number_id AS TEXT)"),
        Grouping::Agent => format!("{t}.author"),
        Grouping::Ticket => format!("CAST({t}.ticket_id AS TEXT)"),
        Grouping::Customer => format!("COALESCE(CAST({t}.contact_id AS TEXT), '')"),
    }
}

/// The report's statement: rows of `q.group`, at most `limit` (time groupings in time order, the
/// others most expensive first). Columns as [`CostGroupRow`]: key, label, currency, then the counts
/// and sums in its field order.
/// With `totals`, one row per currency over everything `q` selects (the report's totals, whatever
/// number of its rows are shown).
///
/// Where the grouping and filters allow ([`rolls_up`]), the settled costs come from the daily
/// roll-up and only the open ones from `message_costs`; otherwise every cost in the range is read.
pub(crate) fn report_sql(d: Dialect, q: &ReportQuery, limit: u32, totals: bool) -> (String, Vec<Arg>) {
    let mut args = Vec::new();
    let id = |t: &str| match q.group {
        _ if totals => "CAST(NULL AS BIGINT)".to_owned(),
        Grouping::Number => format!("{t}.business_number_id"),
        Grouping::Ticket => format!("{t}.ticket_id"),
        Grouping::Customer => format!("{t}.contact_id"),
        _ => "CAST(NULL AS BIGINT)".to_owned(),
    };
    let label = match q.group {
        _ if totals => "CAST(NULL AS TEXT)",
        Grouping::Number => "(SELECT b.name || ' (' || b.display_number || ')' FROM business_numbers b WHERE b.id = g.gid)",
        Grouping::Ticket => "(SELECT t.subject FROM tickets t WHERE t.id = g.gid)",
        Grouping::Customer => "(SELECT ct.name FROM contacts ct WHERE ct.id = g.gid)",
        _ => "CAST(NULL AS TEXT)",
    };
    let fin = d.is_final();
    let key = group_key(d, q, totals, "c", "c.at / 86400000");
    let costs = if rolls_up(q, totals) {
        // The roll-up's rows, then each open cost as a row of one message.
        let days = day_filters(d, q, &mut args);
        let wher = filters(d, q, &mut args);
        let rkey = match q.group {
            Grouping::Category if !totals => "r.category".to_owned(),
            _ => group_key(d, q, totals, "r", "r.day"),
        };
        let open = d.is_open();
        format!(
            "SELECT {rkey} AS gkey, {rid} AS gid, NULLIF(r.currency, '') AS currency, r.messages, r.charged, r.free, r.not_delivered,
                    r.unpriced, 0 AS pending, r.amount_micros AS amount, 0 AS pending_estimate, r.estimate_micros AS estimate
               FROM cost_days r WHERE {days}
             UNION ALL
             SELECT {key}, {cid}, c.currency, 1, 0, 0, 0, 0, 1, 0, COALESCE(c.estimate_micros, 0), COALESCE(c.estimate_micros, 0)
               FROM message_costs c WHERE {wher} AND {open}",
            rid = id("r"),
            cid = id("c"),
        )
    } else {
        let wher = filters(d, q, &mut args);
        format!(
            "SELECT {key} AS gkey, {cid} AS gid, c.currency AS currency, 1 AS messages,
                    CASE WHEN {fin} AND c.amount_micros > 0 THEN 1 ELSE 0 END AS charged,
                    CASE WHEN {fin} AND c.amount_micros = 0 AND c.settled_by <> 'not_delivered' THEN 1 ELSE 0 END AS free,
                    CASE WHEN {fin} AND c.settled_by = 'not_delivered' THEN 1 ELSE 0 END AS not_delivered,
                    CASE WHEN {fin} AND c.amount_micros IS NULL THEN 1 ELSE 0 END AS unpriced,
                    CASE WHEN {fin} THEN 0 ELSE 1 END AS pending,
                    CASE WHEN {fin} THEN COALESCE(c.amount_micros, 0) ELSE 0 END AS amount,
                    CASE WHEN {fin} THEN 0 ELSE COALESCE(c.estimate_micros, 0) END AS pending_estimate,
                    COALESCE(c.estimate_micros, 0) AS estimate
               FROM message_costs c WHERE {wher}",
            cid = id("c"),
        )
    };
    let order = if q.group.is_time() { "g.gkey, g.currency" } else { "g.amount DESC, g.messages DESC, g.gkey, g.currency" };
    args.push(Arg::Int(i64::from(limit)));
    let lim = d.placeholder(args.len());
    let sum = |c: &str| format!("CAST(SUM(u.{c}) AS BIGINT) AS {c}");
    let sums = ["messages", "charged", "free", "not_delivered", "unpriced", "pending", "amount", "pending_estimate", "estimate"]
        .map(sum)
        .join(", ");
    let sql = format!(
        "SELECT g.gkey, {label}, g.currency, g.messages, g.charged, g.free, g.not_delivered, g.unpriced, g.pending,
                g.amount, g.pending_estimate, g.estimate
           FROM (SELECT u.gkey, u.gid, u.currency, {sums}
                   FROM ({costs}) u
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
    let wher = filters_after(d, q, after, &mut args);
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
