//! *Admin → Workflows* (issue 14 items 3 and 7): the list, the builder, and the run list.
//!
//! The builder is the rule builder's script in its `workflow` form: it draws nested step cards
//! (Window check with its Open and Closed branches, wait, condition with then and else, and every
//! action) from the workflow's JSON, kept in a textarea so the form posts the same JSON with or
//! without script; as the admin types, [`check`] runs [`WorkflowDraft::validate`] and the script
//! shows each problem at its step (`steps[0].open[1]: this free-form reply comes after a wait…`).
//! Saving validates again through the API's own path.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};
use windowdesk_core::rules::workflow::{Step, WorkflowDraft};
use windowdesk_store::{WorkflowRunFilter, WorkflowRunState};

use super::components::time;
use super::numbers::{admin_only, DoneQuery};
use super::render::{self, nav_counts, Nav};
use super::rules::{action_words, condition_words, event_label, field, json_request, parsed, Names};
use super::session::Agent;
use super::WebError;
use crate::AppState;

/// Every problem of a draft as written (JSON text), as `(path, message)`; the draft when it has none.
fn checked(json_text: &str) -> Result<WorkflowDraft, Vec<(String, String)>> {
    let draft: WorkflowDraft = parsed(json_text, "workflow")?;
    match draft.validate(0) {
        Ok(_) => Ok(draft),
        Err(e) => Err(e.errors.into_iter().map(|err| (err.path, err.problem.to_string())).collect()),
    }
}

/// The steps on one line each, indented by depth: what the list shows under a workflow's name.
fn step_lines(steps: &[Step<String>], names: &Names, depth: usize, out: &mut Vec<(usize, String)>) {
    for step in steps {
        match step {
            Step::WindowCheck { open, closed } => {
                out.push((depth, "Window check".into()));
                out.push((depth + 1, "open:".into()));
                step_lines(open, names, depth + 2, out);
                out.push((depth + 1, "closed:".into()));
                step_lines(closed, names, depth + 2, out);
            }
            Step::Wait { minutes, business_hours } => {
                let business = if *business_hours { " business" } else { "" };
                out.push((depth, format!("wait {}{business}", duration_words(*minutes))));
            }
            Step::Condition { conditions, then, otherwise } => {
                let when: Vec<String> = conditions.all.iter().chain(&conditions.any).map(|c| condition_words(c, names)).collect();
                out.push((depth, format!("if {}", if when.is_empty() { "always".to_owned() } else { when.join(" and ") })));
                step_lines(then, names, depth + 1, out);
                if !otherwise.is_empty() {
                    out.push((depth, "else".into()));
                    step_lines(otherwise, names, depth + 1, out);
                }
            }
            Step::Do { action } => out.push((depth, action_words(action, names))),
        }
    }
}

fn duration_words(minutes: i64) -> String {
    match minutes {
        m if m % 1440 == 0 => format!("{} d", m / 1440),
        m if m % 60 == 0 => format!("{} h", m / 60),
        m => format!("{m} min"),
    }
}

fn steps_markup(draft: &WorkflowDraft, names: &Names) -> Markup {
    let mut lines = Vec::new();
    step_lines(&draft.steps, names, 0, &mut lines);
    html! {
        ol.workflow-steps {
            @for (depth, line) in &lines { li class={"depth-" (depth.min(&8))} { (line) } }
        }
    }
}

/// `GET /admin/workflows`.
pub async fn workflows_page(State(state): State<AppState>, agent: Agent, Query(q): Query<DoneQuery>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    let counts = nav_counts(&state, &agent).await?;
    let names = Names::load(&state).await?;
    let rows = state.store.workflows().await?;
    let content = html! {
        p.back { a href="/admin/rules" { "← Rules" } }
        h1 { "Workflows" }
        @if let Some(n) = render::notice(q.done.as_deref()) { (n) }
        p.hint {
            "A workflow is a rule with steps: it starts on an event (or, as an automation, when its time comes) and runs its steps "
            "in order. A " strong { "Window check" } " sends it down its Open branch while free-form can go and its Closed branch "
            "otherwise, so a follow-up days later becomes a template instead of a reply Meta would refuse. Waits let the run go "
            "and it goes on when they end, after a restart too."
        }
        p { a.button #new-workflow href="/admin/workflows/new" { "New workflow" } " " a.button.alt href="/admin/workflow-runs" { "Workflow runs" } }
        @if rows.is_empty() {
            p.empty { "No workflows yet." }
        } @else {
            table.rules #workflows {
                caption.sr { "Workflows" }
                thead { tr { th scope="col" { "Workflow" } th scope="col" { "Starts" } th scope="col" { "On" } th scope="col" { span.sr { "Delete" } } } }
                tbody {
                    @for row in &rows {
                        @let draft = crate::rules::workflows::draft_of(row);
                        tr #{"workflow-" (row.id)} data-workflow-id=(row.id) data-enabled=(row.enabled) {
                            td.rule-cell {
                                a.rule-name href={"/admin/workflows/" (row.id)} { (row.name) }
                                @match &draft {
                                    Ok(d) => {
                                        @let when: Vec<String> = d.conditions.all.iter().map(|c| condition_words(c, &names)).collect();
                                        @let any: Vec<String> = d.conditions.any.iter().map(|c| condition_words(c, &names)).collect();
                                        p.summary {
                                            @if when.is_empty() && any.is_empty() { "Every time." }
                                            @else {
                                                "When " (when.join(" and "))
                                                @if !any.is_empty() { @if !when.is_empty() { " and " } "(" (any.join(" or ")) ")" }
                                                ":"
                                            }
                                        }
                                        (steps_markup(d, &names))
                                    }
                                    Err(e) => { p.summary.error { "This workflow cannot be read: " (e) } }
                                }
                                a.hint href={"/admin/workflow-runs?workflow_id=" (row.id)} { "Runs" }
                            }
                            td.event { (draft.as_ref().map_or(row.event.as_str(), |d| event_label(d.event))) }
                            td.switch-cell {
                                (super::components::switch_form(&format!("/admin/workflows/{}/enabled", row.id), agent.csrf(), &row.name, row.enabled))
                            }
                            td.delete-cell {
                                form.inline method="post" action={"/admin/workflows/" (row.id) "/delete"}
                                    data-confirm={"Delete the workflow “" (row.name) "”? Its waiting runs are cancelled. This cannot be undone."} {
                                    input type="hidden" name="csrf" value=(agent.csrf());
                                    button.quiet.small type="submit" aria-label={"Delete " (row.name)} { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.hint { "Steps are described in docs/rules.md; workflows are managed through the REST API at /api/v1/workflows too." }
    };
    Ok(Html(render::page(&agent, "Workflows", Nav::Rules, &counts, state.clock.now(), content).into_string()))
}

/// A new workflow's starting point: the HighLevel shape, to be named and filled in.
fn blank() -> WorkflowDraft {
    serde_json::from_value(json!({
        "name": "",
        "event": "message_received",
        "steps": [{"type": "window_check", "open": [], "closed": []}]
    }))
    .expect("the blank workflow reads")
}

async fn editor_page(
    state: &AppState,
    agent: &Agent,
    id: Option<i64>,
    title: &str,
    json_text: &str,
    problems: &[(String, String)],
) -> Result<Html<String>, WebError> {
    let counts = nav_counts(state, agent).await?;
    let names = Names::load(state).await?;
    let action = id.map_or("/admin/workflows".to_owned(), |id| format!("/admin/workflows/{id}"));
    let content = html! {
        p.back { a href="/admin/workflows" { "← All workflows" } }
        h1 { (title) }
        form.rule-editor #workflow-form method="post" action=(action) novalidate data-kind="workflow" data-check="/admin/workflows/check"
            data-options=(names.options()) data-new=[id.is_none().then_some("true")] {
            input type="hidden" name="csrf" value=(agent.csrf());
            @if !problems.is_empty() {
                div.error role="alert" #workflow-errors {
                    "Not saved: "
                    ul { @for (path, message) in problems { li data-path=(path) { @if !path.is_empty() { strong { (path) } ": " } (message) } } }
                }
            }
            div #builder .builder hidden {}
            p.rule-status #workflow-status role="status" aria-live="polite" {}
            details.rule-json #workflow-json-details open {
                summary { "Workflow as JSON (for power users)" }
                label for="workflow-json" { "The workflow in the REST API's shape; edit it here and the builder follows when you leave the box." }
                textarea #workflow-json name="workflow" rows="18" spellcheck="false" { (json_text) }
            }
            div.editor-actions {
                button #workflow-save type="submit" { "Save workflow" }
                a.cancel href="/admin/workflows" { "Cancel" }
            }
        }
        @if let Some(id) = id {
            form.inline.delete-rule method="post" action={"/admin/workflows/" (id) "/delete"}
                data-confirm="Delete this workflow? Its waiting runs are cancelled. This cannot be undone." {
                input type="hidden" name="csrf" value=(agent.csrf());
                button.quiet type="submit" { "Delete this workflow" }
            }
        }
    };
    Ok(Html(render::page(agent, title, Nav::Rules, &counts, state.clock.now(), content).into_string()))
}

fn pretty(draft: &WorkflowDraft) -> String {
    serde_json::to_string_pretty(draft).unwrap_or_default()
}

/// `GET /admin/workflows/new`.
pub async fn new_page(State(state): State<AppState>, agent: Agent) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    editor_page(&state, &agent, None, "New workflow", &pretty(&blank()), &[]).await
}

/// `GET /admin/workflows/{id}`.
pub async fn edit_page(State(state): State<AppState>, agent: Agent, Path(id): Path<i64>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    let row = state.store.workflow(id).await?.ok_or_else(|| WebError::NotFound(format!("There is no workflow {id}.")))?;
    let draft = crate::rules::workflows::draft_of(&row).map_err(WebError::BadRequest)?;
    editor_page(&state, &agent, Some(id), &format!("Workflow: {}", row.name), &pretty(&draft), &[]).await
}

async fn save(state: &AppState, agent: &Agent, id: Option<i64>, fields: &[(String, String)]) -> Result<Response, WebError> {
    agent.check_csrf(field(fields, "csrf"))?;
    admin_only(agent)?;
    let json_text = field(fields, "workflow");
    let draft = match checked(json_text) {
        Ok(draft) => draft,
        Err(problems) => {
            let title = id.map_or_else(|| "New workflow".to_owned(), |id| format!("Workflow {id}"));
            let page = editor_page(state, agent, id, &title, json_text, &problems).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let write =
        crate::rules::workflows::write_of(&draft, &agent.actor(), state.clock.now()).map_err(|e| WebError::BadRequest(e.to_string()))?;
    let saved = match id {
        Some(id) => {
            state.store.update_workflow(id, &write).await?.ok_or_else(|| WebError::NotFound(format!("There is no workflow {id}.")))?.id
        }
        None => state.store.create_workflow(&write).await?.id,
    };
    tracing::info!(workflow_id = saved, actor = %agent.actor(), "workflow saved in the admin page");
    Ok(Redirect::to(&format!("/admin/workflows?done=saved#workflow-{saved}")).into_response())
}

/// `POST /admin/workflows`.
pub async fn create(State(state): State<AppState>, agent: Agent, Form(fields): Form<Vec<(String, String)>>) -> Result<Response, WebError> {
    save(&state, &agent, None, &fields).await
}

/// `POST /admin/workflows/{id}`.
pub async fn update(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    save(&state, &agent, Some(id), &fields).await
}

/// `POST /admin/workflows/{id}/enabled`: `enabled` is `true` or `false`.
pub async fn set_enabled(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    agent.check_csrf(field(&fields, "csrf"))?;
    admin_only(&agent)?;
    let enabled = match field(&fields, "enabled") {
        "true" => true,
        "false" => false,
        other => return Err(WebError::BadRequest(format!("enabled must be true or false, got {other:?}"))),
    };
    let row = state.store.workflow(id).await?.ok_or_else(|| WebError::NotFound(format!("There is no workflow {id}.")))?;
    let mut draft = crate::rules::workflows::draft_of(&row).map_err(WebError::BadRequest)?;
    draft.enabled = enabled;
    let write = crate::rules::workflows::write_of(&draft, &agent.actor(), state.clock.now())
        .map_err(|e| WebError::BadRequest(format!("This workflow no longer validates; open it and fix it first: {e}")))?;
    state.store.update_workflow(id, &write).await?.ok_or_else(|| WebError::NotFound(format!("There is no workflow {id}.")))?;
    Ok(Redirect::to(&format!("/admin/workflows?done=saved#workflow-{id}")).into_response())
}

/// `POST /admin/workflows/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    agent.check_csrf(field(&fields, "csrf"))?;
    admin_only(&agent)?;
    if !state.store.delete_workflow(id, state.clock.now()).await? {
        return Err(WebError::NotFound(format!("There is no workflow {id}.")));
    }
    Ok(Redirect::to("/admin/workflows?done=deleted").into_response())
}

/// `POST /admin/workflows/check`: the body is a workflow draft as JSON; the answer is
/// `{"ok": bool, "errors": [{"path", "message"}]}`.
pub async fn check(agent: Agent, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, WebError> {
    json_request(&agent, &headers)?;
    let text = String::from_utf8_lossy(&body);
    let errors = checked(&text).err().unwrap_or_default();
    let errors: Vec<Value> = errors.into_iter().map(|(path, message)| json!({"path": path, "message": message})).collect();
    Ok(Json(json!({"ok": errors.is_empty(), "errors": errors})))
}

const PAGE: u32 = 100;

#[derive(Deserialize)]
pub struct RunsQuery {
    state: Option<String>,
    workflow_id: Option<i64>,
    ticket_id: Option<i64>,
    before: Option<i64>,
}

/// `GET /admin/workflow-runs`: every run, newest first, each with the steps it took.
pub async fn runs_page(State(state): State<AppState>, agent: Agent, Query(q): Query<RunsQuery>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    let counts = nav_counts(&state, &agent).await?;
    let now = state.clock.now();
    let chosen = q.state.as_deref().and_then(WorkflowRunState::parse);
    let filter = WorkflowRunFilter { workflow_id: q.workflow_id, ticket_id: q.ticket_id, state: chosen, before_id: q.before, limit: PAGE };
    let runs = state.store.workflow_runs(&filter).await?;
    let mut steps = Vec::with_capacity(runs.len());
    for r in &runs {
        steps.push(state.store.workflow_run_steps(r.id).await?);
    }
    let workflows = state.store.workflows().await?;
    let name = |id: i64| workflows.iter().find(|w| w.id == id).map_or_else(|| format!("workflow {id} (deleted)"), |w| w.name.clone());
    let next = (runs.len() == PAGE as usize).then(|| runs.last().map(|r| r.id)).flatten();
    let link = |state_filter: Option<WorkflowRunState>, before: Option<i64>| {
        let mut parts = Vec::new();
        if let Some(s) = state_filter {
            parts.push(format!("state={}", s.as_str()));
        }
        if let Some(w) = q.workflow_id {
            parts.push(format!("workflow_id={w}"));
        }
        if let Some(t) = q.ticket_id {
            parts.push(format!("ticket_id={t}"));
        }
        if let Some(b) = before {
            parts.push(format!("before={b}"));
        }
        if parts.is_empty() {
            "/admin/workflow-runs".to_owned()
        } else {
            format!("/admin/workflow-runs?{}", parts.join("&"))
        }
    };
    let content = html! {
        p.back { a href="/admin/workflows" { "← Workflows" } }
        h1 { "Workflow runs" }
        p.hint {
            "Each run goes step by step; a wait lets it go until it ends (" em { "waiting" } "). An automation's run is "
            em { "armed" } " until due and checked again then. Switching a workflow off cancels its armed and waiting runs."
        }
        nav.filters aria-label="Filter by state" {
            ul.tabs {
                li { a href=(link(None, None)) aria-current=[chosen.is_none().then_some("page")] { "All" } }
                @for s in WorkflowRunState::ALL {
                    li { a href=(link(Some(s), None)) aria-current=[(chosen == Some(s)).then_some("page")] { (s.as_str()) } }
                }
            }
        }
        form.inline.run-filter method="get" action="/admin/workflow-runs" {
            @if let Some(s) = chosen { input type="hidden" name="state" value=(s.as_str()); }
            label for="run-workflow" { "Workflow" }
            select #run-workflow name="workflow_id" {
                option value="" selected[q.workflow_id.is_none()] { "Every workflow" }
                @for w in &workflows { option value=(w.id) selected[q.workflow_id == Some(w.id)] { (w.name) } }
            }
            button.alt type="submit" { "Show" }
        }
        @if runs.is_empty() {
            p.empty { "No workflow runs" @if chosen.is_some() || q.workflow_id.is_some() || q.ticket_id.is_some() { " match these filters" } "." }
        } @else {
            table.runs #workflow-runs {
                caption.sr { "Workflow runs, newest first" }
                thead { tr { th scope="col" { "Ticket" } th scope="col" { "Workflow" } th scope="col" { "State" } th scope="col" { "Steps" } } }
                tbody {
                    @for (r, taken) in runs.iter().zip(&steps) {
                        tr #{"workflow-run-" (r.id)} data-state=(r.state.as_str()) {
                            td { a href={"/tickets/" (r.ticket_id)} { "#" (r.ticket_id) } }
                            td { a href={"/admin/workflows/" (r.workflow_id)} { (name(r.workflow_id)) } br; span.hint { "set off by " (r.start_key) } }
                            td {
                                span.run-state.(r.state.as_str()) { (r.state.as_str()) }
                                @match r.state {
                                    WorkflowRunState::Waiting | WorkflowRunState::Armed => { br; span.hint { "until " (time(r.resume_at, now, &agent)) } }
                                    _ => {}
                                }
                                @if let Some(reason) = &r.reason { br; span.hint { (reason) } }
                            }
                            td.what {
                                @if taken.is_empty() { span.hint { "No step yet." } }
                                @else {
                                    ol.outcomes {
                                        @for s in taken {
                                            li.(if s.ok { "ok" } else { "failed" }) { code { (s.path) } " " (s.kind) ": " (s.outcome) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(before) = next { p { a.button.alt href=(link(chosen, Some(before))) { "Older runs" } } }
        }
    };
    Ok(Html(render::page(&agent, "Workflow runs", Nav::Rules, &counts, now, content).into_string()))
}
