//! *Admin → Rules → Automation runs* (issue 14 item 7): every execution of an automation, newest
//! first, filtered by state or rule: what is armed and when it is due, what fired and what each action
//! did, and why an execution was skipped, expired or cancelled.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Html;
use maud::html;
use serde::Deserialize;
use windowdesk_store::{RunFilter, RunState};

use super::components::time;
use super::numbers::admin_only;
use super::render::{self, nav_counts, Nav};
use super::session::Agent;
use super::WebError;
use crate::AppState;

const PAGE: u32 = 100;

#[derive(Deserialize)]
pub struct RunsQuery {
    state: Option<String>,
    rule_id: Option<i64>,
    ticket_id: Option<i64>,
    before: Option<i64>,
}

/// `GET /admin/automation-runs`.
pub async fn runs_page(State(state): State<AppState>, agent: Agent, Query(q): Query<RunsQuery>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    let counts = nav_counts(&state, &agent).await?;
    let now = state.clock.now();
    let chosen = q.state.as_deref().and_then(RunState::parse);
    let filter = RunFilter { rule_id: q.rule_id, ticket_id: q.ticket_id, state: chosen, before_id: q.before, limit: PAGE };
    let runs = state.store.automation_runs(&filter).await?;
    let totals: HashMap<RunState, u64> = state.store.automation_run_counts().await?.into_iter().collect();
    let rules = state.store.rules().await?;
    let rule_name = |id: i64| rules.iter().find(|r| r.id == id).map_or_else(|| format!("rule {id} (deleted)"), |r| r.name.clone());
    let automations: Vec<_> = rules.iter().filter(|r| r.event == "automation").collect();
    let next = (runs.len() == PAGE as usize).then(|| runs.last().map(|r| r.id)).flatten();
    let link = |state_filter: Option<RunState>, before: Option<i64>| {
        let mut parts = Vec::new();
        if let Some(s) = state_filter {
            parts.push(format!("state={}", s.as_str()));
        }
        if let Some(r) = q.rule_id {
            parts.push(format!("rule_id={r}"));
        }
        if let Some(t) = q.ticket_id {
            parts.push(format!("ticket_id={t}"));
        }
        if let Some(b) = before {
            parts.push(format!("before={b}"));
        }
        if parts.is_empty() {
            "/admin/automation-runs".to_owned()
        } else {
            format!("/admin/automation-runs?{}", parts.join("&"))
        }
    };
    let content = html! {
        p.back { a href="/admin/rules" { "← Rules" } }
        h1 { "Automation runs" }
        p.hint {
            "Automations are armed by a sweep over the open tickets when they are about to be due, and checked again when "
            "their time comes: they fire, or are skipped with the reason (switched off, the customer wrote again, an agent "
            "answered), or expire when the desk was down for longer than the overdue limit. Each fires at most once per "
            "ticket and episode."
        }
        nav.filters aria-label="Filter by state" {
            ul.tabs {
                li { a href=(link(None, None)) aria-current=[chosen.is_none().then_some("page")] { "All" } }
                @for s in RunState::ALL {
                    li {
                        a href=(link(Some(s), None)) aria-current=[(chosen == Some(s)).then_some("page")] {
                            (s.as_str()) " " span.count { (totals.get(&s).copied().unwrap_or(0)) }
                        }
                    }
                }
            }
        }
        form.inline.run-filter method="get" action="/admin/automation-runs" {
            @if let Some(s) = chosen { input type="hidden" name="state" value=(s.as_str()); }
            label for="run-rule" { "Automation" }
            select #run-rule name="rule_id" onchange="this.form.submit()" {
                option value="" selected[q.rule_id.is_none()] { "Every automation" }
                @for r in &automations {
                    option value=(r.id) selected[q.rule_id == Some(r.id)] { (r.name) }
                }
            }
            noscript { button type="submit" { "Show" } }
        }
        @if runs.is_empty() {
            p.empty { "No automation runs" @if chosen.is_some() || q.rule_id.is_some() { " match these filters" } "." }
        } @else {
            table.runs #automation-runs {
                caption.sr { "Automation runs, newest first" }
                thead { tr { th scope="col" { "Ticket" } th scope="col" { "Automation" } th scope="col" { "Due" } th scope="col" { "State" } th scope="col" { "What happened" } } }
                tbody {
                    @for r in &runs {
                        tr #{"run-" (r.id)} data-state=(r.state.as_str()) {
                            td { a href={"/tickets/" (r.ticket_id)} { "#" (r.ticket_id) } }
                            td { a href={"/admin/rules/" (r.rule_id)} { (rule_name(r.rule_id)) } }
                            td { (time(r.due_at, now, &agent)) }
                            td { span.run-state.(r.state.as_str()) { (r.state.as_str()) } @if r.attempts > 1 { " " span.hint { "(taken over: " (r.attempts) " attempts)" } } }
                            td.what {
                                @if let Some(reason) = &r.reason { (reason) }
                                @if let Some(outcome) = r.outcome.as_ref().and_then(|o| o.as_array()) {
                                    ul.outcomes {
                                        @for o in outcome {
                                            li.(if o["ok"].as_bool() == Some(true) { "ok" } else { "failed" }) {
                                                (o["action"].as_str().unwrap_or("action")) ": " (o["outcome"].as_str().unwrap_or(""))
                                            }
                                        }
                                    }
                                }
                                @if let Some(done) = r.finished_at { " " span.hint { "(" (time(done, now, &agent)) ")" } }
                            }
                        }
                    }
                }
            }
            @if let Some(before) = next { p { a.button.alt href=(link(chosen, Some(before))) { "Older runs" } } }
        }
    };
    Ok(Html(render::page(&agent, "Automation runs", Nav::Rules, &counts, now, content).into_string()))
}
