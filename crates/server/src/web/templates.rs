//! Admin page: the template registry per WhatsApp Business account (SPEC 9), as last synced from
//! Meta and kept current by status webhooks: status, category, language, parameters, whether the desk
//! can send it and why not, the last sync; and "Sync now", which follows every page of Meta's list.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use windowdesk_core::Timestamp;
use windowdesk_store::TemplateRow;

use super::components;
use super::numbers::admin_only;
use super::render::{self, nav_counts, Nav};
use super::session::{Agent, CsrfForm};
use super::WebError;
use crate::api::templates::template_out;
use crate::templates::{definition_of, sync_all, SyncError};
use crate::AppState;

/// What the last "Sync now" did, from the redirect's query (numbers only: nothing else is shown).
#[derive(Deserialize, Default)]
pub struct SyncedQuery {
    done: Option<String>,
    accounts: Option<u64>,
    pages: Option<u64>,
    templates: Option<u64>,
    added: Option<u64>,
    updated: Option<u64>,
    removed: Option<u64>,
}

fn status_class(status: &str) -> &'static str {
    match status {
        "APPROVED" => "ok",
        "PAUSED" | "PENDING" | "IN_APPEAL" => "warn",
        _ => "bad",
    }
}

fn account_table(waba: &str, rows: &[&TemplateRow], agent: &Agent, now: Timestamp) -> Markup {
    let last_sync = rows.iter().filter_map(|r| r.synced_at).max();
    let table_id = format!("templates-{waba}");
    html! {
        section.account aria-labelledby={(table_id) "-title"} {
            h2 #{(table_id) "-title"} { "Account " (waba) }
            p.hint {
                (rows.len()) " template(s). Last synced: "
                @match last_sync { Some(at) => (components::time(at, now, agent)), None => "never" }
            }
            table.templates id=(table_id) {
                caption.sr { "Templates of account " (waba) }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Language" } th scope="col" { "Category" } th scope="col" { "Status" }
                    th scope="col" { "Parameters" } th scope="col" { "Can be sent" } th scope="col" { "Synced" }
                } }
                tbody {
                    @for r in rows {
                        @let def = definition_of(r);
                        @let out = def.as_ref().map(|d| template_out(waba, d, r.synced_at));
                        @let status = if r.removed_at.is_some() { "REMOVED".to_owned() } else { r.status.clone().unwrap_or_default().to_ascii_uppercase() };
                        tr data-template=(r.name) data-language=(r.language) data-status=(status) {
                            td { (r.name) }
                            td { (r.language) }
                            td { (r.category.as_deref().unwrap_or("").to_lowercase()) }
                            td { span.badge.(status_class(&status)) { (status) }
                                @if let Some(reason) = r.reason.as_deref().filter(|s| !s.is_empty()) { " " span.hint { (reason) } } }
                            td {
                                @match &out {
                                    Some(o) if o.parameters.is_empty() => "none",
                                    Some(o) => ul.params { @for p in &o.parameters {
                                        li { (p.component) " " code { @if p.component == "body" && p.key.chars().all(|c| c.is_ascii_digit()) { "{{" (p.key) "}}" } @else { (p.key) } } " (" (p.accepts) ")" }
                                    } },
                                    None => span.hint { "not readable" },
                                }
                            }
                            td {
                                @match &out {
                                    Some(o) if o.sendable => "yes",
                                    Some(o) => { "no: " (o.reason.as_deref().unwrap_or("")) },
                                    None if r.removed_at.is_some() => "no: Meta no longer lists it",
                                    None => "no: not synced yet",
                                }
                            }
                            td { @match r.synced_at { Some(at) => (components::time(at, now, agent)), None => "never" } }
                        }
                    }
                }
            }
        }
    }
}

async fn render_page(state: &AppState, agent: &Agent, q: &SyncedQuery, error: Option<&str>) -> Result<Html<String>, WebError> {
    let counts = nav_counts(state, agent).await?;
    let now = state.clock.now();
    let rows = state.store.templates().await?;
    let mut by_account: BTreeMap<&str, Vec<&TemplateRow>> = BTreeMap::new();
    for n in state.numbers.all() {
        by_account.entry(n.waba_id.as_str()).or_default();
    }
    for r in &rows {
        by_account.entry(r.waba_id.as_str()).or_default().push(r);
    }
    for list in by_account.values_mut() {
        list.sort_by(|a, b| (&a.name, &a.language).cmp(&(&b.name, &b.language)));
    }
    let content = html! {
        h1 { "Templates" }
        @if let Some(e) = error { p.error role="alert" #sync-error { "The sync failed, and the registry keeps what it had: " (e) } }
        @if q.done.as_deref() == Some("synced") {
            p.notice.ok role="status" #sync-report {
                "Synced " (q.accounts.unwrap_or(0)) " account(s) from Meta: " (q.pages.unwrap_or(0)) " page(s), "
                (q.templates.unwrap_or(0)) " template(s); " (q.added.unwrap_or(0)) " added, " (q.updated.unwrap_or(0)) " updated, "
                (q.removed.unwrap_or(0)) " removed."
            }
        }
        p.hint { "Only APPROVED templates can be sent. The desk syncs them from Meta at start, periodically, and when Meta reports a status change." }
        form method="post" action="/admin/templates/sync" {
            input type="hidden" name="csrf" value=(agent.csrf());
            button #sync-now type="submit" { "Sync now" }
        }
        @for (waba, list) in &by_account { (account_table(waba, list, agent, now)) }
    };
    Ok(Html(render::page(agent, "Templates", Nav::Templates, &counts, now, content).into_string()))
}

pub async fn templates_page(State(state): State<AppState>, agent: Agent, Query(q): Query<SyncedQuery>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    render_page(&state, &agent, &q, None).await
}

/// `POST /admin/templates/sync`: syncs every account now and reports what changed.
pub async fn sync_now(State(state): State<AppState>, agent: Agent, Form(f): Form<CsrfForm>) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    admin_only(&agent)?;
    match sync_all(&state.store, &state.cloud_api, &state.numbers, state.template_page_size, state.clock.now(), &|_, _, _| {}).await {
        Ok(reports) => {
            let sum = |f: &dyn Fn(&crate::templates::AccountSync) -> u64| reports.iter().map(f).sum::<u64>();
            let url = format!(
                "/admin/templates?done=synced&accounts={}&pages={}&templates={}&added={}&updated={}&removed={}",
                reports.len(),
                sum(&|r| u64::from(r.pages)),
                sum(&|r| r.templates),
                sum(&|r| r.counts.added),
                sum(&|r| r.counts.updated),
                sum(&|r| r.counts.removed),
            );
            Ok(Redirect::to(&url).into_response())
        }
        Err(SyncError::Store(e)) => Err(e.into()),
        Err(e) => {
            let page = render_page(&state, &agent, &SyncedQuery::default(), Some(&e.to_string())).await?;
            Ok((StatusCode::BAD_GATEWAY, page).into_response())
        }
    }
}
