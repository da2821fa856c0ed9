//! The cost report page (SPEC 11, issue 17 item 5): what messages cost per day, week, month,
//! category, number, sender, ticket or customer, as a chart and the table behind it, with the
//! range and number as filters, each row drilling down to its messages, and CSV exports of exactly
//! what is shown. Admins only. `crate::reports` builds the rows the API returns too.

use axum::extract::{Query, State};
use axum::response::{Html, Response};
use maud::{html, Markup};
use windowdesk_core::pricing::report::{Grouping, ReportQuery};
use windowdesk_core::pricing::Decimal;

use super::chart::{self, Bar};
use super::numbers::admin_only;
use super::render::{self, nav_counts, Nav};
use super::session::Agent;
use super::WebError;
use crate::reports::{self, BadParam, Report, ReportParams, ReportRow};
use crate::AppState;

/// Drill-down rows per page.
const PAGE: u32 = 100;

fn query(state: &AppState, p: &ReportParams) -> Result<ReportQuery, WebError> {
    let today = windowdesk_core::pricing::report::day_of(state.clock.now());
    p.query(today).map_err(|BadParam(field, why)| WebError::BadRequest(format!("The report's {field} is not understood: {why}.")))
}

fn link(path: &str, p: &ReportParams) -> String {
    format!("{path}?{}", p.to_query_string())
}

fn money(d: Decimal) -> String {
    d.normalize().to_string()
}

/// For drawing only (the table and the CSV keep exact decimals).
fn to_f64(d: Decimal) -> f64 {
    d.to_string().parse().unwrap_or(0.0)
}

/// The filters form: the range, the grouping, the number, the channel; other filters a drill-down
/// set are kept as hidden fields and shown as removable chips.
fn filters(state: &AppState, q: &ReportQuery) -> Markup {
    let numbers = state.numbers.all();
    html! {
        form.report-filters method="get" action="/reports/costs" aria-label="Report filters" {
            label { "From" input type="date" name="from" value=(q.range.from) required; }
            label { "To" input type="date" name="to" value=(q.range.to) required; }
            label { "By"
                select name="group" {
                    @for g in Grouping::ALL {
                        option value=(g.as_str()) selected[g == q.group] { (g.heading()) }
                    }
                }
            }
            @if numbers.len() > 1 || q.business_number_id.is_some() {
                label { "Number"
                    select name="number" {
                        option value="" { "All numbers" }
                        @for n in &numbers {
                            option value=(n.id) selected[Some(n.id) == q.business_number_id] { (n.name) " (" (n.display_number) ")" }
                        }
                    }
                }
            }
            label { "Channel"
                select name="channel" {
                    option value="" { "WhatsApp and SMS" }
                    option value="whatsapp" selected[q.channel.as_deref() == Some("whatsapp")] { "WhatsApp" }
                    option value="sms" selected[q.channel.as_deref() == Some("sms")] { "SMS" }
                }
            }
            @if let Some(c) = &q.category { input type="hidden" name="category" value=(c); }
            @if let Some(a) = &q.author { input type="hidden" name="author" value=(a); }
            @if let Some(t) = q.ticket_id { input type="hidden" name="ticket" value=(t); }
            @if let Some(c) = q.contact_id { input type="hidden" name="customer" value=(c); }
            button type="submit" { "Show" }
        }
        @let chips = chips(q);
        @if !chips.is_empty() {
            p.report-chips {
                "Only: "
                @for (text, without) in chips {
                    a.chip href=(without) title="Remove this filter" { (text) " ×" }
                    " "
                }
            }
        }
    }
}

/// The filters a drill-down set, each with the link that drops it.
fn chips(q: &ReportQuery) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let without = |f: &dyn Fn(&mut ReportQuery)| {
        let mut q = q.clone();
        f(&mut q);
        link("/reports/costs", &ReportParams::of(&q))
    };
    if let Some(c) = &q.category {
        out.push((format!("category {c}"), without(&|q| q.category = None)));
    }
    if let Some(a) = &q.author {
        out.push((format!("sent by {a}"), without(&|q| q.author = None)));
    }
    if let Some(t) = q.ticket_id {
        out.push((format!("ticket #{t}"), without(&|q| q.ticket_id = None)));
    }
    if let Some(c) = q.contact_id {
        out.push((format!("customer {c}"), without(&|q| q.contact_id = None)));
    }
    out
}

fn summary(r: &Report) -> Markup {
    html! {
        div.report-totals role="group" aria-label="Totals" {
            @for t in &r.totals {
                p {
                    strong.total-cost data-currency=[t.currency.as_deref()] {
                        (money(t.cost)) " " (t.currency.as_deref().unwrap_or("(unpriced)"))
                    }
                    " for " (t.messages) " messages: " (t.charged) " charged, " (t.free) " free, "
                    (t.not_delivered) " not delivered"
                    @if t.unpriced > 0 { ", " span.warn { (t.unpriced) " unpriced" } }
                    @if t.pending > 0 { ", " (t.pending) " pending (estimated " (money(t.pending_estimate)) ")" }
                    ". Estimated before sending: " (money(t.estimate)) "."
                }
            }
        }
    }
}

fn table(r: &Report) -> Markup {
    let q = &r.query;
    let base = ReportParams::of(q);
    html! {
        // Focusable: where the table is wider than the screen, the keyboard scrolls it too.
        div.table-wrap tabindex="0" role="region" aria-labelledby="report-table-caption" {
            table.templates.report #report-table data-group=(q.group.as_str()) {
                caption #report-table-caption { "Costs by " (q.group.heading().to_lowercase()) ", " (q.range.from) " to " (q.range.to) " (UTC)" }
                thead { tr {
                    th scope="col" { (q.group.heading()) }
                    th scope="col" { "Currency" }
                    th.num scope="col" { "Messages" }
                    th.num scope="col" { "Charged" }
                    th.num scope="col" { "Free" }
                    th.num scope="col" { "Not delivered" }
                    th.num scope="col" { "Unpriced" }
                    th.num scope="col" { "Pending" }
                    th.num scope="col" { "Cost" }
                    th.num scope="col" { "Pending estimate" }
                    th.num scope="col" { "Estimate" }
                } }
                tbody {
                    @for row in &r.rows {
                        @let drill = ReportParams { row: Some(row.key.clone()), ..base.clone() };
                        tr data-key=(row.key) {
                            th scope="row" {
                                @if row.messages > 0 { a href=(link("/reports/costs/messages", &drill)) { (row.label) } }
                                @else { (row.label) }
                            }
                            (cells(row))
                        }
                    }
                }
                tfoot {
                    @for t in &r.totals {
                        tr.total data-key="total" { th scope="row" { "Total" } (cells(t)) }
                    }
                }
            }
        }
        @if r.truncated {
            p.hint { "The " (reports::SHOWN) " most expensive rows are shown; the CSV has them all." }
        }
    }
}

fn cells(row: &ReportRow) -> Markup {
    html! {
        td { (row.currency.as_deref().unwrap_or("")) }
        td.num { (row.messages) }
        td.num { (row.charged) }
        td.num { (row.free) }
        td.num { (row.not_delivered) }
        td.num { (row.unpriced) }
        td.num { (row.pending) }
        td.num { (money(row.cost)) }
        td.num { (money(row.pending_estimate)) }
        td.num { (money(row.estimate)) }
    }
}

fn charts(r: &Report) -> Markup {
    let q = &r.query;
    let base = ReportParams::of(q);
    // One bar per row key: messages over every currency, cost in the desk's currency (the chart's
    // unit); a key whose messages were all unpriced or in another currency keeps its place at 0.
    let mut keyed: Vec<(&ReportRow, f64, f64)> = Vec::new();
    for row in &r.rows {
        let cost = if row.currency.as_deref() == Some(r.currency.as_str()) { to_f64(row.cost + row.pending_estimate) } else { 0.0 };
        match keyed.iter_mut().find(|(k, _, _)| k.key == row.key) {
            Some(slot) => {
                slot.1 += cost;
                slot.2 += row.messages as f64;
            }
            None => keyed.push((row, cost, row.messages as f64)),
        }
    }
    let bars = |pick: &dyn Fn(&(&ReportRow, f64, f64)) -> f64, unit: &str| -> Vec<Bar> {
        keyed
            .iter()
            .map(|k| {
                let (row, v) = (k.0, pick(k));
                Bar {
                    label: if q.group == Grouping::Day { row.label.get(5..).unwrap_or(&row.label).to_owned() } else { row.label.clone() },
                    value: v,
                    title: format!("{}: {} {unit}", row.label, (v * 1_000_000.0).round() / 1_000_000.0),
                    href: (k.2 > 0.0)
                        .then(|| link("/reports/costs/messages", &ReportParams { row: Some(row.key.clone()), ..base.clone() })),
                }
            })
            .collect()
    };
    let cost = bars(&|k| k.1, &r.currency);
    let messages = bars(&|k| k.2, "messages");
    html! {
        div.report-charts {
            @if q.group.is_time() {
                (chart::columns("chart-cost", &format!("Cost per {} (settled, plus estimates of pending messages)", q.group.as_str()), &r.currency, &cost, "report-table"))
                (chart::columns("chart-messages", &format!("Messages per {}", q.group.as_str()), "messages", &messages, "report-table"))
            } @else {
                @let top = |b: Vec<Bar>| -> Vec<Bar> { let mut b = b; b.sort_by(|x, y| y.value.total_cmp(&x.value)); b.truncate(15); b };
                (chart::rows("chart-cost", &format!("Cost by {}, settled plus pending estimates", q.group.heading().to_lowercase()), &r.currency, &top(cost), "report-table"))
                (chart::rows("chart-messages", &format!("Messages by {}", q.group.heading().to_lowercase()), "messages", &top(messages), "report-table"))
            }
        }
    }
}

/// `GET /reports/costs`.
pub async fn costs_page(State(state): State<AppState>, agent: Agent, Query(p): Query<ReportParams>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    let q = query(&state, &p)?;
    let report = reports::build(&state, &q, reports::SHOWN).await?;
    let counts = nav_counts(&state, &agent).await?;
    let base = ReportParams::of(&q);
    let content = html! {
        h1 { "What messages cost" }
        p.hint {
            "From the rate cards (" a href="/admin/rate-cards" { "Rates" } ") and what Meta said about each message: charged only once delivered, "
            "free inside the customer service window or a free entry point, SMS at the configured price. Days are UTC days."
        }
        (filters(&state, &q))
        (summary(&report))
        (charts(&report))
        (table(&report))
        p.report-exports {
            a href=(link("/reports/costs.csv", &base)) download { "Download this table as CSV" }
            " · "
            a href=(link("/reports/costs/messages.csv", &base)) download { "Download every message as CSV" }
        }
    };
    Ok(Html(render::page(&agent, "Costs", Nav::Costs, &counts, state.clock.now(), content).into_string()))
}

/// `GET /reports/costs.csv`: the table, every row.
pub async fn costs_csv(State(state): State<AppState>, agent: Agent, Query(p): Query<ReportParams>) -> Result<Response, WebError> {
    admin_only(&agent)?;
    let q = query(&state, &p)?;
    Ok(reports::table_download(&state, &q).await?)
}

/// `GET /reports/costs/messages`: the messages behind the report or one of its rows.
pub async fn messages_page(State(state): State<AppState>, agent: Agent, Query(p): Query<ReportParams>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    let q = query(&state, &p)?;
    let after = p.after().map_err(|BadParam(f, why)| WebError::BadRequest(format!("The page's {f} is not understood: {why}.")))?;
    let rows = state.store.cost_messages(&q, after, PAGE).await?;
    let next = (rows.len() == PAGE as usize).then(|| rows.last().map(reports::cursor)).flatten();
    let agents: std::collections::HashMap<String, String> =
        state.store.agents().await?.into_iter().map(|a| (format!("agent:{}", a.id), a.name)).collect();
    let counts = nav_counts(&state, &agent).await?;
    let base = ReportParams::of(&q);
    let back =
        ReportParams { group: p.group.clone(), ..ReportParams::of(&query(&state, &ReportParams { row: None, after: None, ..p.clone() })?) };
    let content = html! {
        p { a href=(link("/reports/costs", &back)) { "← Costs" } }
        h1 { "Messages and what they cost" }
        p.hint { (q.range.from) " to " (q.range.to) " (UTC)" }
        @let chips = chips(&q);
        @if !chips.is_empty() { p.report-chips { "Only: " @for (text, _) in chips { span.chip { (text) } " " } } }
        div.table-wrap tabindex="0" role="region" aria-labelledby="cost-messages-caption" {
            table.templates.report #cost-messages {
                caption.sr #cost-messages-caption { "Messages and their costs" }
                thead { tr {
                    th scope="col" { "Sent (UTC)" } th scope="col" { "Ticket" } th scope="col" { "Customer" } th scope="col" { "Sent by" }
                    th scope="col" { "Channel" } th scope="col" { "Category" } th scope="col" { "Market" }
                    th.num scope="col" { "Estimate" } th.num scope="col" { "Cost" } th scope="col" { "Settled" }
                } }
                tbody {
                    @for m in &rows {
                        @let o = reports::message_out(m);
                        tr data-message=(m.message_id) {
                            td { time datetime=(o.at) { (o.at.get(..16).unwrap_or(&o.at).replace('T', " ")) } }
                            td { a href={"/tickets/" (m.ticket_id) "#m" (m.message_id)} { "#" (m.ticket_id) } }
                            td { (o.customer.as_deref().unwrap_or("")) }
                            td { (reports::sender(&m.author, &agents)) }
                            td { (o.channel) }
                            td { (o.category) @if o.category != o.estimated_category { span.hint { " (estimated " (o.estimated_category) ")" } } }
                            td { (o.market.as_deref().unwrap_or("")) }
                            td.num { (o.estimate.as_deref().unwrap_or("?")) " " (o.currency.as_deref().unwrap_or("")) }
                            td.num { @match &o.cost { Some(c) => { (c) " " (o.currency.as_deref().unwrap_or("")) }, None => span.hint { "–" } } }
                            td { (settled_text(&o)) }
                        }
                    }
                }
            }
        }
        @if rows.is_empty() { p.empty { "No messages." } }
        @if let Some(next) = next {
            p { a rel="next" href=(link("/reports/costs/messages", &ReportParams { after: Some(next), ..base.clone() })) { "Next " (PAGE) " →" } }
        }
        p { a href=(link("/reports/costs/messages.csv", &base)) download { "Download these messages as CSV" } }
    };
    Ok(Html(render::page(&agent, "Cost of messages", Nav::Costs, &counts, state.clock.now(), content).into_string()))
}

fn settled_text(o: &reports::CostMessageOut) -> String {
    match (o.settled, o.settled_by.as_deref(), o.meta_type.as_deref()) {
        (true, Some("not_delivered"), _) => "not delivered: free".into(),
        (true, Some("meta"), Some(t)) => format!("by Meta ({t})"),
        (true, Some("meta"), None) => "by Meta".into(),
        (true, Some("estimate"), _) => "estimate stands".into(),
        (true, _, _) => "settled".into(),
        (false, _, _) => "pending".into(),
    }
}

/// `GET /reports/costs/messages.csv`: every message behind the report, streamed.
pub async fn messages_csv(State(state): State<AppState>, agent: Agent, Query(p): Query<ReportParams>) -> Result<Response, WebError> {
    admin_only(&agent)?;
    let q = query(&state, &p)?;
    Ok(reports::messages_download(&state, q))
}
