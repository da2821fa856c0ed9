//! Cost reports (SPEC 11, issue 17 item 5): what messages cost per day, week or month, category,
//! business number, sender, ticket or customer, from the stored estimates and settlements
//! (`message_costs`). The web page, its CSV export and `/api/v1/reports/costs` all build the same
//! [`Report`] from the same parameters, so they show the same rows; the messages behind any row
//! are read in pages and exported as a CSV stream of bounded memory.

use std::collections::HashMap;

use axum::body::Body;
use bytes::Bytes;
use futures_util::stream::{self, Stream};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use windowdesk_core::pricing::report::{self, DayRange, Grouping, ReportQuery};
use windowdesk_core::pricing::{from_micros, Decimal};
use windowdesk_core::Timestamp;
use windowdesk_store::{CostGroupRow, CostMessageRow, StoreError};

use crate::AppState;

/// Rows a report shows at most for a grouping not about time (the most expensive first); the
/// CSV export has them all.
pub const SHOWN: u32 = 100;
/// Rows a report of a time grouping reads at most (400 days in a few currencies).
pub const ALL: u32 = 1_000_000;
/// Messages read per round trip of the drill-down's CSV.
const CSV_PAGE: u32 = 2_000;

/// A report's parameters, as the page, the CSV and the API take them.
#[derive(Clone, Debug, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// First UTC day, `YYYY-MM-DD` (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last UTC day, included, `YYYY-MM-DD` (default: today). At most 400 days.
    pub to: Option<String>,
    /// `day` (default), `week`, `month`, `category`, `number`, `agent`, `ticket` or `customer`.
    pub group: Option<String>,
    /// Only this business number (its id).
    pub number: Option<String>,
    /// Only this charged category (`marketing`, `utility`, `authentication`, `service`, `sms`, ...).
    pub category: Option<String>,
    /// Only messages sent by this actor (`agent:3`, `rule:2`, `workflow:4`, `api:1`).
    pub author: Option<String>,
    /// Only this ticket.
    pub ticket: Option<String>,
    /// Only this customer (contact id).
    pub customer: Option<String>,
    /// Only `whatsapp` or `sms`.
    pub channel: Option<String>,
    /// The drill-down: the messages of the report row with this key.
    pub row: Option<String>,
    /// The drill-down's page: after this message (`<unix ms>.<message id>`, from `next`).
    pub after: Option<String>,
}

/// A parameter that is not understood: the field and why.
#[derive(Debug)]
pub struct BadParam(pub &'static str, pub String);

impl ReportParams {
    /// The report these parameters ask for (`today` for the default range).
    pub fn query(&self, today: chrono::NaiveDate) -> Result<ReportQuery, BadParam> {
        let range = DayRange::parse(self.from.as_deref(), self.to.as_deref(), today).map_err(|(f, m)| BadParam(f, m))?;
        let group = match self.group.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(g) => Grouping::parse(g).map_err(|m| BadParam("group", m))?,
            None => Grouping::Day,
        };
        let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let id = |field: &'static str, v: &Option<String>| -> Result<Option<i64>, BadParam> {
            text(v).map(|s| s.parse::<i64>().map_err(|_| BadParam(field, format!("{s:?} is not an id")))).transpose()
        };
        let channel = text(&self.channel);
        if let Some(c) = &channel {
            if c != "whatsapp" && c != "sms" {
                return Err(BadParam("channel", format!("{c:?} is not whatsapp or sms")));
            }
        }
        let q = ReportQuery {
            range,
            group,
            business_number_id: id("number", &self.number)?,
            category: text(&self.category),
            author: text(&self.author),
            ticket_id: id("ticket", &self.ticket)?,
            contact_id: id("customer", &self.customer)?,
            channel,
        };
        Ok(match text(&self.row) {
            Some(key) => q.narrowed_to(&key),
            None => q,
        })
    }

    /// The drill-down's cursor.
    pub fn after(&self) -> Result<Option<(Timestamp, i64)>, BadParam> {
        let Some(a) = self.after.as_deref().map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
        let bad = || BadParam("after", format!("{a:?} is not a cursor from a previous page's next"));
        let (at, id) = a.split_once('.').ok_or_else(bad)?;
        Ok(Some((Timestamp::from_unix_millis(at.parse().map_err(|_| bad())?), id.parse().map_err(|_| bad())?)))
    }

    /// The query string of `q` (for links: the drill-down, the CSV, another grouping).
    pub fn of(q: &ReportQuery) -> ReportParams {
        ReportParams {
            from: Some(q.range.from.to_string()),
            to: Some(q.range.to.to_string()),
            group: Some(q.group.as_str().to_owned()),
            number: q.business_number_id.map(|n| n.to_string()),
            category: q.category.clone(),
            author: q.author.clone(),
            ticket: q.ticket_id.map(|n| n.to_string()),
            customer: q.contact_id.map(|n| n.to_string()),
            channel: q.channel.clone(),
            row: None,
            after: None,
        }
    }

    pub fn to_query_string(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }
}

/// One row of a report, amounts as decimals of its currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReportRow {
    /// The row's key: `2026-12-07` (a day, or the Monday of a week), `2026-12`, a category, a
    /// sender (`agent:3`), or a number's, ticket's or customer's id. `row=<key>` drills down.
    pub key: String,
    /// As shown: the agent's or customer's name, the number's name, the ticket's subject.
    pub label: String,
    /// `null` for messages no card priced.
    pub currency: Option<String>,
    pub messages: i64,
    /// Delivered and charged.
    pub charged: i64,
    /// Delivered and free (inside the window, a free entry point, Meta's free types).
    pub free: i64,
    /// Failed or never delivered: nothing charged.
    pub not_delivered: i64,
    /// Delivered but no card priced them (a market or category the card in force lacks).
    pub unpriced: i64,
    /// Not settled yet.
    pub pending: i64,
    /// What the settled messages cost (decimal).
    #[schema(value_type = String)]
    pub cost: Decimal,
    /// What the pending ones are estimated to cost.
    #[schema(value_type = String)]
    pub pending_estimate: Decimal,
    /// The estimates made before sending, for all of them (to compare with `cost`).
    #[schema(value_type = String)]
    pub estimate: Decimal,
}

impl ReportRow {
    fn empty(key: String, currency: &str) -> ReportRow {
        ReportRow {
            label: key.clone(),
            key,
            currency: Some(currency.to_owned()),
            messages: 0,
            charged: 0,
            free: 0,
            not_delivered: 0,
            unpriced: 0,
            pending: 0,
            cost: Decimal::ZERO,
            pending_estimate: Decimal::ZERO,
            estimate: Decimal::ZERO,
        }
    }

    fn add(&mut self, r: &ReportRow) {
        self.messages += r.messages;
        self.charged += r.charged;
        self.free += r.free;
        self.not_delivered += r.not_delivered;
        self.unpriced += r.unpriced;
        self.pending += r.pending;
        self.cost += r.cost;
        self.pending_estimate += r.pending_estimate;
        self.estimate += r.estimate;
    }
}

/// A report: its rows, and the totals per currency.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Report {
    #[schema(value_type = Object)]
    pub query: ReportQuery,
    /// The desk's currency (`[pricing] currency`): the chart's.
    pub currency: String,
    pub rows: Vec<ReportRow>,
    /// One per currency; the desk's first.
    pub totals: Vec<ReportRow>,
    /// More rows than shown (groupings not about time show the 100 most expensive; the CSV has all).
    pub truncated: bool,
}

/// The report `q` asks for, at most `limit` rows (for groupings not about time).
pub async fn build(state: &AppState, q: &ReportQuery, limit: u32) -> Result<Report, StoreError> {
    let limit = if q.group.is_time() { ALL } else { limit };
    let stored = state.store.cost_report(q, limit.saturating_add(1), false).await?;
    let truncated = stored.len() > limit as usize;
    let names = names_for(state, q.group, !stored.is_empty()).await?;
    let currency = state.pricing.currency().to_owned();
    let mut rows: Vec<ReportRow> = stored.iter().take(limit as usize).map(|r| row_of(q.group, r, &names)).collect();
    if q.group.is_time() {
        // Every period of the range, empty ones too, so the chart's axis is time.
        let mut by_key: HashMap<String, Vec<ReportRow>> = HashMap::new();
        for r in rows.drain(..) {
            by_key.entry(r.key.clone()).or_default().push(r);
        }
        for period in q.range.periods(q.group) {
            match by_key.remove(&period) {
                Some(mut rs) => {
                    rs.sort_by(|a, b| {
                        (a.currency.as_deref() != Some(&currency), &a.currency)
                            .cmp(&(b.currency.as_deref() != Some(&currency), &b.currency))
                    });
                    rows.extend(rs);
                }
                None => rows.push(ReportRow::empty(period, &currency)),
            }
        }
    }
    // The totals cover every row, also those not shown: summed by the store when rows were cut.
    let all_rows: Vec<ReportRow> = if truncated {
        state.store.cost_report(q, 100, true).await?.iter().map(|r| row_of(Grouping::Category, r, &HashMap::new())).collect()
    } else {
        Vec::new()
    };
    let mut totals: Vec<ReportRow> = Vec::new();
    for r in if truncated { &all_rows } else { &rows } {
        add_to_totals(&mut totals, r);
    }
    let totals = finish_totals(totals, &currency);
    Ok(Report { query: q.clone(), currency, rows, totals, truncated })
}

/// Adds `r` to its currency's total.
fn add_to_totals(totals: &mut Vec<ReportRow>, r: &ReportRow) {
    match totals.iter_mut().find(|t| t.currency == r.currency) {
        Some(t) => t.add(r),
        None => {
            let mut t = ReportRow::empty("total".into(), "");
            t.label = "Total".into();
            t.currency = r.currency.clone();
            t.add(r);
            totals.push(t);
        }
    }
}

/// The totals as shown: the desk's currency first, and a zero total when nothing was sent.
fn finish_totals(mut totals: Vec<ReportRow>, currency: &str) -> Vec<ReportRow> {
    if totals.is_empty() {
        let mut t = ReportRow::empty("total".into(), currency);
        t.label = "Total".into();
        totals.push(t);
    }
    totals.sort_by_key(|t| t.currency.as_deref() != Some(currency));
    totals
}

/// Names for the senders of an agent grouping.
async fn names_for(state: &AppState, group: Grouping, any_rows: bool) -> Result<HashMap<String, String>, StoreError> {
    if group != Grouping::Agent || !any_rows {
        return Ok(HashMap::new());
    }
    let agents = state.store.agents().await?;
    Ok(agents.into_iter().map(|a| (format!("agent:{}", a.id), a.name)).collect())
}

/// How a sender is named: the agent's name, "Rule 2", "API token 1", "System".
pub fn sender(key: &str, agents: &HashMap<String, String>) -> String {
    if let Some(name) = agents.get(key) {
        return name.clone();
    }
    match key.split_once(':') {
        Some(("api", id)) => format!("API token {id}"),
        Some(("rule", id)) => format!("Rule {id}"),
        Some(("workflow", id)) => format!("Workflow {id}"),
        Some(("automation", id)) => format!("Automation {id}"),
        Some(("agent", id)) => format!("Agent {id}"),
        _ => key.to_owned(),
    }
}

fn row_of(group: Grouping, r: &CostGroupRow, agents: &HashMap<String, String>) -> ReportRow {
    let key = if group.is_time() { report::period_key(group, &r.key) } else { r.key.clone() };
    let label = match group {
        Grouping::Agent => sender(&r.key, agents),
        Grouping::Ticket => format!("#{} {}", r.key, r.label.as_deref().unwrap_or("")).trim_end().to_owned(),
        Grouping::Customer if r.key.is_empty() => "(no customer)".to_owned(),
        Grouping::Customer | Grouping::Number => r.label.clone().unwrap_or_else(|| r.key.clone()),
        _ => key.clone(),
    };
    ReportRow {
        key,
        label,
        currency: r.currency.clone(),
        messages: r.messages,
        charged: r.charged,
        free: r.free,
        not_delivered: r.not_delivered,
        unpriced: r.unpriced,
        pending: r.pending,
        cost: from_micros(r.amount_micros),
        pending_estimate: from_micros(r.pending_estimate_micros),
        estimate: from_micros(r.estimate_micros),
    }
}

/// The table's CSV header: the grouping, then the columns the page shows.
fn table_header(group: Grouping) -> [&'static str; 12] {
    [
        group.as_str(),
        "label",
        "currency",
        "messages",
        "charged",
        "free",
        "not_delivered",
        "unpriced",
        "pending",
        "cost",
        "pending_estimate",
        "estimate",
    ]
}

/// Rows as CSV lines.
fn csv_lines<'a>(rows: impl IntoIterator<Item = &'a ReportRow>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        let _ = w.write_record(csv_row(r));
    }
    w.into_inner().unwrap_or_default()
}

/// The report's table as CSV: exactly the rows and columns the page shows, amounts as plain
/// decimals.
pub fn report_csv(report: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(table_header(report.query.group));
    let mut out = w.into_inner().unwrap_or_default();
    out.extend(csv_lines(report.rows.iter().chain(&report.totals)));
    String::from_utf8(out).unwrap_or_default()
}

/// The table of a grouping not about time (as many rows as customers or tickets, in the report's
/// order) as CSV, written while the store reads it a batch at a time, then its totals: what
/// [`report_csv`] writes for every row, in bounded memory. A store error ends the body early (the
/// client sees a truncated download) and is logged.
async fn table_csv(state: AppState, q: ReportQuery) -> Result<Body, StoreError> {
    let names = std::sync::Arc::new(names_for(&state, q.group, true).await?);
    let currency = state.pricing.currency().to_owned();
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let (done_tx, done) = tokio::sync::oneshot::channel();
    let store = state.store.clone();
    let query = q.clone();
    tokio::spawn(async move {
        let _ = done_tx.send(store.cost_report_each(&query, tx).await);
    });
    struct Writing {
        rx: tokio::sync::mpsc::Receiver<Vec<CostGroupRow>>,
        done: Option<tokio::sync::oneshot::Receiver<Result<(), StoreError>>>,
        totals: Vec<ReportRow>,
    }
    let group = q.group;
    let header = {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(table_header(group));
        Bytes::from(w.into_inner().unwrap_or_default())
    };
    let rows = stream::unfold(Writing { rx, done: Some(done), totals: Vec::new() }, move |mut st| {
        let (names, currency) = (names.clone(), currency.clone());
        async move {
            let done = st.done.take()?;
            match st.rx.recv().await {
                Some(batch) => {
                    let rows: Vec<ReportRow> = batch.iter().map(|r| row_of(group, r, &names)).collect();
                    for r in &rows {
                        add_to_totals(&mut st.totals, r);
                    }
                    st.done = Some(done);
                    Some((Ok::<Bytes, std::io::Error>(Bytes::from(csv_lines(&rows))), st))
                }
                None => match done.await {
                    Ok(Ok(())) => {
                        let totals = finish_totals(std::mem::take(&mut st.totals), &currency);
                        Some((Ok(Bytes::from(csv_lines(&totals))), st))
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "the cost table's CSV export stopped: the store failed");
                        Some((Err(std::io::Error::other(e.to_string())), st))
                    }
                    Err(_) => Some((Err(std::io::Error::other("the cost table's CSV export stopped")), st)),
                },
            }
        }
    });
    let body: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>> =
        Box::pin(futures_util::StreamExt::chain(stream::once(async move { Ok::<_, std::io::Error>(header) }), rows));
    Ok(Body::from_stream(body))
}

/// A text cell as a spreadsheet will not run it: customers choose their names and subjects, and
/// a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel and
/// LibreOffice, so such a cell gets a leading apostrophe (OWASP's advice on CSV injection).
pub fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn csv_row(r: &ReportRow) -> [String; 12] {
    [
        cell(&r.key),
        cell(&r.label),
        r.currency.clone().unwrap_or_default(),
        r.messages.to_string(),
        r.charged.to_string(),
        r.free.to_string(),
        r.not_delivered.to_string(),
        r.unpriced.to_string(),
        r.pending.to_string(),
        r.cost.normalize().to_string(),
        r.pending_estimate.normalize().to_string(),
        r.estimate.normalize().to_string(),
    ]
}

/// One message of a drill-down, as the API gives it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CostMessageOut {
    pub message_id: i64,
    /// When it went out (or was written, until it did).
    pub at: String,
    pub business_number_id: i64,
    pub ticket_id: i64,
    pub customer_id: Option<i64>,
    pub customer: Option<String>,
    /// Who sent it (`agent:3`, `rule:2`, ...).
    pub sent_by: String,
    pub channel: String,
    /// The category it was charged in (Meta's, once it said), else the estimate's.
    pub category: String,
    pub estimated_category: String,
    pub market: Option<String>,
    pub currency: Option<String>,
    /// Estimated before sending (decimal); `null` when nothing priced it.
    pub estimate: Option<String>,
    /// Why the estimate was free: `customer_service_window`, `free_entry_point`, ...
    pub free_because: Option<String>,
    /// What it cost once settled; `null` while pending or unpriced.
    pub cost: Option<String>,
    /// `meta`, `estimate`, `not_delivered`, `pending`, or `null` before the first settlement.
    pub settled_by: Option<String>,
    /// Meta's `pricing.type`: `regular`, `free_customer_service`, `free_entry_point`.
    pub meta_type: Option<String>,
    /// Settled for good.
    pub settled: bool,
}

pub fn message_out(m: &CostMessageRow) -> CostMessageOut {
    let dec = |v: Option<i64>| v.map(|v| from_micros(v).to_string());
    CostMessageOut {
        message_id: m.message_id,
        at: m.at.to_rfc3339(),
        business_number_id: m.business_number_id,
        ticket_id: m.ticket_id,
        customer_id: m.contact_id,
        customer: m.customer.clone(),
        sent_by: m.author.clone(),
        channel: m.channel.clone(),
        category: m.category.clone(),
        estimated_category: m.estimated_category.clone(),
        market: m.market.clone(),
        currency: m.currency.clone(),
        estimate: dec(m.estimate_micros),
        free_because: m.free_because.clone(),
        cost: if m.is_final { dec(m.amount_micros) } else { None },
        settled_by: m.settled_by.clone(),
        meta_type: m.meta_type.clone(),
        settled: m.is_final,
    }
}

/// The cursor after `m`, for `after=`.
pub fn cursor(m: &CostMessageRow) -> String {
    format!("{}.{}", m.at.unix_millis(), m.message_id)
}

const MESSAGE_HEADER: [&str; 18] = [
    "message_id",
    "at",
    "business_number_id",
    "ticket_id",
    "customer_id",
    "customer",
    "sent_by",
    "channel",
    "category",
    "estimated_category",
    "market",
    "currency",
    "estimate",
    "free_because",
    "cost",
    "settled_by",
    "meta_type",
    "settled",
];

fn message_record(m: &CostMessageOut) -> [String; 18] {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        m.message_id.to_string(),
        m.at.clone(),
        m.business_number_id.to_string(),
        m.ticket_id.to_string(),
        m.customer_id.map(|c| c.to_string()).unwrap_or_default(),
        cell(&o(&m.customer)),
        cell(&m.sent_by),
        m.channel.clone(),
        cell(&m.category),
        cell(&m.estimated_category),
        o(&m.market),
        o(&m.currency),
        o(&m.estimate),
        o(&m.free_because),
        o(&m.cost),
        o(&m.settled_by),
        o(&m.meta_type),
        m.settled.to_string(),
    ]
}

/// Every message of `q` as CSV, read [`CSV_PAGE`] at a time while the response is written, so
/// memory stays bounded whatever the range holds. A store error ends the body early (the
/// client sees a truncated download), and is logged.
pub fn messages_csv(state: AppState, q: ReportQuery) -> Body {
    let header = {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(MESSAGE_HEADER);
        Bytes::from(w.into_inner().unwrap_or_default())
    };
    let pages = stream::unfold(Some(None::<(Timestamp, i64)>), move |cursor| {
        let (state, q) = (state.clone(), q.clone());
        async move {
            let after = cursor?;
            match state.store.cost_messages(&q, after, CSV_PAGE).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let next = (rows.len() == CSV_PAGE as usize).then(|| rows.last().map(|m| (m.at, m.message_id))).flatten();
                    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 160));
                    for m in &rows {
                        let _ = w.write_record(message_record(&message_out(m)));
                    }
                    let chunk: Result<Bytes, std::io::Error> = Ok(Bytes::from(w.into_inner().unwrap_or_default()));
                    Some((chunk, next.map(Some)))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the cost CSV export stopped: the store failed");
                    Some((Err(std::io::Error::other(e.to_string())), None))
                }
            }
        }
    });
    let body: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>> =
        Box::pin(futures_util::StreamExt::chain(stream::once(async move { Ok::<_, std::io::Error>(header) }), pages));
    Body::from_stream(body)
}

/// The file name of an export: `costs-by-day-2026-11-08-to-2026-12-07.csv`.
pub fn file_name(what: &str, q: &ReportQuery) -> String {
    format!("{what}-{}-to-{}.csv", q.range.from, q.range.to)
}

/// A CSV download named `what-<from>-to-<to>.csv`.
fn download(what: &str, q: &ReportQuery, body: impl axum::response::IntoResponse) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let name = file_name(what, q);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response()
}

/// The report's table as a CSV download, every row: what the page and the API export. A time
/// grouping (at most 400 periods a currency, empty ones included) is built as the page builds it;
/// the others are streamed.
pub async fn table_download(state: &AppState, q: &ReportQuery) -> Result<axum::response::Response, StoreError> {
    let name = format!("costs-by-{}", q.group.as_str());
    if q.group.is_time() {
        let report = build(state, q, ALL).await?;
        return Ok(download(&name, q, report_csv(&report)));
    }
    Ok(download(&name, q, table_csv(state.clone(), q.clone()).await?))
}

/// Every message behind the report as a streamed CSV download.
pub fn messages_download(state: &AppState, q: ReportQuery) -> axum::response::Response {
    download("cost-messages", &q.clone(), messages_csv(state.clone(), q))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cell_a_spreadsheet_would_run_is_written_as_text() {
        assert_eq!(super::cell("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(super::cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(super::cell("-1+2"), "'-1+2");
        assert_eq!(super::cell("Rosa Jansen"), "Rosa Jansen");
    }
}
