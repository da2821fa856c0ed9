//! Workflows (SPEC 10, issue 14 items 3 and 7): ordered steps with a Window check, created,
//! replaced, switched on and off, and deleted; checked without saving; and their runs, step by step.
//! A workflow is refused with 422 naming the step (`steps[0].open[1]: this free-form reply comes
//! after a wait of 1500 minutes, ...`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use windowdesk_core::rules::workflow::WorkflowDraft;
use windowdesk_store::{WorkflowRow, WorkflowRun, WorkflowRunFilter, WorkflowRunState, WorkflowStepRecord, WorkflowWrite};

use super::auth::ApiCaller;
use super::dto::{rfc3339, Page};
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, PathId};
use super::rules::invalid;
use super::schema::{self, digits};
use super::tickets::parse_limit;
use crate::AppState;

/// A stored workflow: the draft as written (see the request body of `POST /api/v1/workflows`), with its id.
#[derive(Serialize, ToSchema)]
pub struct WorkflowOut {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    /// What sets it off: `ticket_created`, `message_received`, `ticket_updated`, `delivery_failed`,
    /// `window_opened`, or `automation` (time-based, at most once per ticket and episode).
    pub event: String,
    /// `{"all": [...], "any": [...]}`, as a rule's: checked when the event happens (or by the sweep).
    #[schema(value_type = Object)]
    pub conditions: Value,
    /// The steps, each a tagged object: `{"type": "window_check", "open": [...], "closed": [...]}`,
    /// `{"type": "wait", "minutes": 60, "business_hours": true}`,
    /// `{"type": "condition", "conditions": {...}, "then": [...], "else": [...]}`,
    /// `{"type": "do", "action": {...}}` (any rule action).
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<Value>,
    pub created_at: String,
    pub created_by: Option<String>,
    pub updated_at: String,
    pub updated_by: Option<String>,
}

fn out_of(row: &WorkflowRow) -> Result<WorkflowOut, ApiError> {
    let draft = crate::rules::workflows::draft_of(row).map_err(ApiError::Internal)?;
    let internal = |e: serde_json::Error| ApiError::Internal(e.to_string());
    Ok(WorkflowOut {
        id: row.id,
        name: draft.name.clone(),
        enabled: draft.enabled,
        event: draft.event.as_str().to_owned(),
        conditions: serde_json::to_value(&draft.conditions).map_err(internal)?,
        steps: draft.steps.iter().map(serde_json::to_value).collect::<Result<_, _>>().map_err(internal)?,
        created_at: rfc3339(row.created_at),
        created_by: row.created_by.clone(),
        updated_at: rfc3339(row.updated_at),
        updated_by: row.updated_by.clone(),
    })
}

fn validated(state: &AppState, draft: &WorkflowDraft, actor: &str) -> Result<WorkflowWrite, ApiError> {
    crate::rules::workflows::write_of(draft, actor, state.clock.now()).map_err(invalid)
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("workflow {id} does not exist"))
}

const DRAFT: &str = "A workflow: `name`, `enabled` (default true), `event`, `conditions` (`{\"all\": [...], \"any\": [...]}`, as a \
    rule's) and `steps` (at least one). A free-form `reply` must sit inside the `open` branch of a `window_check` with no `wait` \
    between them; anything else (templates, SMS, holds, notes, field changes, notifications, `call_http`) may go anywhere.";

#[utoipa::path(
    get, path = "/api/v1/workflows", tag = "rules",
    responses((status = 200, description = "Every workflow, by id", body = Page<WorkflowOut>))
)]
pub async fn list_workflows(State(state): State<AppState>, _caller: ApiCaller) -> Result<Json<Page<WorkflowOut>>, ApiError> {
    let rows = state.store.workflows().await?;
    Ok(Json(Page { data: rows.iter().map(out_of).collect::<Result<_, _>>()?, next: None }))
}

#[utoipa::path(
    post, path = "/api/v1/workflows", tag = "rules",
    request_body(content = Object, description = DRAFT),
    responses(
        (status = 201, description = "Created", body = WorkflowOut),
        (status = 422, description = "A step or field is invalid; `details.field` names its path (`steps[0].open[1]`)", body = super::error::ErrorBody),
    )
)]
pub async fn post_workflow(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(draft): ApiJson<WorkflowDraft>,
) -> Result<(StatusCode, Json<WorkflowOut>), ApiError> {
    let write = validated(&state, &draft, &caller.actor())?;
    let row = state.store.create_workflow(&write).await?;
    Ok((StatusCode::CREATED, Json(out_of(&row)?)))
}

/// What `POST /api/v1/workflows/check` found.
#[derive(Serialize, ToSchema)]
pub struct WorkflowCheckOut {
    /// Whether the workflow would be saved.
    pub ok: bool,
    /// Every problem, each naming its path.
    pub errors: Vec<ProblemOut>,
}

/// One problem of a draft.
#[derive(Serialize, ToSchema)]
pub struct ProblemOut {
    /// `steps[0].open[1]`, `conditions.all[0].minutes`, `name`.
    pub path: String,
    pub message: String,
}

#[utoipa::path(
    post, path = "/api/v1/workflows/check", tag = "rules",
    request_body(content = Object, description = "A workflow, as for `POST /api/v1/workflows`; checked, not stored"),
    responses(
        (status = 200, description = "Whether it would be saved, and every problem with its path", body = WorkflowCheckOut),
        (status = 422, description = "The body is not a workflow at all (unknown step type, wrong field type)", body = super::error::ErrorBody),
    )
)]
pub async fn check_workflow(_caller: ApiCaller, ApiJson(draft): ApiJson<WorkflowDraft>) -> Json<WorkflowCheckOut> {
    let errors = match draft.validate(0) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors.into_iter().map(|err| ProblemOut { path: err.path, message: err.problem.to_string() }).collect(),
    };
    Json(WorkflowCheckOut { ok: errors.is_empty(), errors })
}

#[utoipa::path(
    get, path = "/api/v1/workflows/{id}", tag = "rules",
    params(("id" = i64, Path, description = "Workflow id")),
    responses(
        (status = 200, description = "The workflow", body = WorkflowOut),
        (status = 404, description = "No such workflow", body = super::error::ErrorBody),
    )
)]
pub async fn get_workflow(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<Json<WorkflowOut>, ApiError> {
    let row = state.store.workflow(id).await?.ok_or_else(|| not_found(id))?;
    Ok(Json(out_of(&row)?))
}

#[utoipa::path(
    put, path = "/api/v1/workflows/{id}", tag = "rules",
    params(("id" = i64, Path, description = "Workflow id")),
    request_body(content = Object, description = "The whole workflow, as for `POST /api/v1/workflows`; `enabled: false` switches \
        it off and cancels its armed and waiting runs. Runs already under way go on with the steps they started with."),
    responses(
        (status = 200, description = "The workflow as stored", body = WorkflowOut),
        (status = 404, description = "No such workflow", body = super::error::ErrorBody),
        (status = 422, description = "A step or field is invalid; `details.field` names its path", body = super::error::ErrorBody),
    )
)]
pub async fn put_workflow(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(draft): ApiJson<WorkflowDraft>,
) -> Result<Json<WorkflowOut>, ApiError> {
    let write = validated(&state, &draft, &caller.actor())?;
    let row = state.store.update_workflow(id, &write).await?.ok_or_else(|| not_found(id))?;
    Ok(Json(out_of(&row)?))
}

#[utoipa::path(
    delete, path = "/api/v1/workflows/{id}", tag = "rules",
    params(("id" = i64, Path, description = "Workflow id")),
    responses(
        (status = 204, description = "Deleted; its armed and waiting runs are cancelled"),
        (status = 404, description = "No such workflow", body = super::error::ErrorBody),
    )
)]
pub async fn delete_workflow(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<StatusCode, ApiError> {
    if !state.store.delete_workflow(id, state.clock.now()).await? {
        return Err(not_found(id));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Filters of `GET /api/v1/workflow-runs`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorkflowRunListParams {
    /// Runs of this workflow.
    pub workflow_id: Option<i64>,
    /// Runs on this ticket.
    pub ticket_id: Option<i64>,
    #[param(value_type = Option<schema::WorkflowRunStateName>, inline)]
    pub state: Option<String>,
    #[param(value_type = Option<schema::PageLimit>, inline)]
    pub limit: Option<u32>,
    #[param(value_type = Option<schema::TicketCursor>, inline)]
    pub before: Option<String>,
}

/// One step a run took.
#[derive(Serialize, ToSchema)]
pub struct WorkflowStepOut {
    /// Where the step sits: `steps[1].open[0]`.
    pub path: String,
    /// `window_check`, `wait`, `condition`, or the action's type (`reply`, `send_template`...).
    pub step: String,
    pub ok: bool,
    /// What happened: `open: free-form can go until …`, `template follow_up (en) queued (message 12)`,
    /// `waits 60 minutes, until …`.
    pub outcome: String,
    pub at: String,
}

/// One run of a workflow on a ticket.
#[derive(Serialize, ToSchema)]
pub struct WorkflowRunOut {
    pub id: i64,
    pub workflow_id: i64,
    pub ticket_id: i64,
    /// What set it off: `message:<id>` or `event:<id>` for an event, the episode for an automation
    /// (`window:<ms>`, `customer_message:<ms>`...). A workflow runs once per key.
    pub start_key: String,
    /// `armed` (an automation waiting to be due; checked again then), `waiting` (at a wait, or just
    /// set off), `running`, `done`, `skipped`, `expired`, `failed` or `cancelled`.
    pub state: String,
    /// The path of the next step; null once done.
    pub cursor: Option<String>,
    /// When it is due to start or go on.
    pub resume_at: String,
    /// Why it was skipped, expired, failed or cancelled.
    pub reason: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// Times an instance claimed it (each wait lets go, so a run with waits is claimed once more per wait).
    pub attempts: i32,
    /// The steps it took, in order (on `GET /api/v1/workflow-runs/{id}`; empty in lists).
    pub steps: Vec<WorkflowStepOut>,
}

fn run_out(r: WorkflowRun, steps: Vec<WorkflowStepRecord>) -> WorkflowRunOut {
    WorkflowRunOut {
        id: r.id,
        workflow_id: r.workflow_id,
        ticket_id: r.ticket_id,
        start_key: r.start_key,
        state: r.state.as_str().to_owned(),
        cursor: r.cursor,
        resume_at: rfc3339(r.resume_at),
        reason: r.reason,
        created_at: rfc3339(r.created_at),
        finished_at: r.finished_at.map(rfc3339),
        attempts: r.attempts,
        steps: steps
            .into_iter()
            .map(|s| WorkflowStepOut { path: s.path, step: s.kind, ok: s.ok, outcome: s.outcome, at: rfc3339(s.at) })
            .collect(),
    }
}

#[utoipa::path(
    get, path = "/api/v1/workflow-runs", tag = "rules",
    params(WorkflowRunListParams),
    responses(
        (status = 200, description = "Workflow runs, newest first", body = Page<WorkflowRunOut>),
        (status = 422, description = "An unknown state, a bad limit or cursor", body = super::error::ErrorBody),
    )
)]
pub async fn list_workflow_runs(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(p): ApiQuery<WorkflowRunListParams>,
) -> Result<Json<Page<WorkflowRunOut>>, ApiError> {
    let limit = parse_limit(p.limit)?;
    let run_state = match p.state.as_deref() {
        None => None,
        Some(s) => Some(WorkflowRunState::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "state",
                format!("must be one of armed, waiting, running, done, skipped, expired, failed, cancelled; got {s:?}"),
            )
        })?),
    };
    let before_id = match p.before.as_deref() {
        None => None,
        Some(c) => Some(digits(c, 18).ok_or_else(|| ApiError::invalid("before", "is not a cursor returned by this API"))?),
    };
    let filter = WorkflowRunFilter { workflow_id: p.workflow_id, ticket_id: p.ticket_id, state: run_state, before_id, limit };
    let rows = state.store.workflow_runs(&filter).await?;
    let next = (rows.len() == limit as usize).then(|| rows.last().map(|r| r.id.to_string())).flatten();
    Ok(Json(Page { data: rows.into_iter().map(|r| run_out(r, Vec::new())).collect(), next }))
}

#[utoipa::path(
    get, path = "/api/v1/workflow-runs/{id}", tag = "rules",
    params(("id" = i64, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run with every step it took", body = WorkflowRunOut),
        (status = 404, description = "No such run", body = super::error::ErrorBody),
    )
)]
pub async fn get_workflow_run(
    State(state): State<AppState>,
    _caller: ApiCaller,
    PathId(id): PathId,
) -> Result<Json<WorkflowRunOut>, ApiError> {
    let run = state.store.workflow_run(id).await?.ok_or_else(|| ApiError::NotFound(format!("workflow run {id} does not exist")))?;
    let steps = state.store.workflow_run_steps(id).await?;
    Ok(Json(run_out(run, steps)))
}
