//! Automation executions (SPEC 10, issue 14 item 7): what the sweep armed and what became of each,
//! newest first, filtered by rule, ticket or state. A skipped, expired or cancelled execution says
//! why; a fired one says what each action did.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use windowdesk_store::{AutomationRun, RunFilter, RunState};

use super::auth::ApiCaller;
use super::dto::{rfc3339, Page};
use super::error::ApiError;
use super::extract::ApiQuery;
use super::schema::{self, digits};
use super::tickets::parse_limit;
use crate::AppState;

/// Filters of `GET /api/v1/automation-runs`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunListParams {
    /// Executions of this rule.
    pub rule_id: Option<i64>,
    /// Executions on this ticket.
    pub ticket_id: Option<i64>,
    #[param(value_type = Option<schema::RunStateName>, inline)]
    pub state: Option<String>,
    #[param(value_type = Option<schema::PageLimit>, inline)]
    pub limit: Option<u32>,
    #[param(value_type = Option<schema::TicketCursor>, inline)]
    pub before: Option<String>,
}

/// One execution of an automation for a ticket and episode.
#[derive(Serialize, ToSchema)]
pub struct AutomationRunOut {
    pub id: i64,
    pub rule_id: i64,
    pub ticket_id: i64,
    /// What the execution counts against, once per rule and ticket: `window:<ms>` (the customer's
    /// window episode), `customer_message:<ms>`, `agent_reply:<ms>`, `status:<ms>`, `solved:<ms>` or `ticket`.
    pub episode: String,
    /// When its conditions hold (or held).
    pub due_at: String,
    /// `armed` (waiting for `due_at`), `running`, `fired`, `skipped`, `expired` or `cancelled`.
    pub state: String,
    /// Why it was skipped, expired or cancelled.
    pub reason: Option<String>,
    /// Once fired: what each action did (`[{"action": "reply", "ok": true, "outcome": "reply queued (message 12)"}]`).
    #[schema(value_type = Option<Vec<Object>>)]
    pub outcome: Option<serde_json::Value>,
    pub armed_at: String,
    pub finished_at: Option<String>,
    /// Times an instance claimed it: more than 1 means one died while running it and another took over.
    pub attempts: i32,
}

fn out_of(r: AutomationRun) -> AutomationRunOut {
    AutomationRunOut {
        id: r.id,
        rule_id: r.rule_id,
        ticket_id: r.ticket_id,
        episode: r.episode_key,
        due_at: rfc3339(r.due_at),
        state: r.state.as_str().to_owned(),
        reason: r.reason,
        outcome: r.outcome,
        armed_at: rfc3339(r.armed_at),
        finished_at: r.finished_at.map(rfc3339),
        attempts: r.attempts,
    }
}

#[utoipa::path(
    get, path = "/api/v1/automation-runs", tag = "rules",
    params(RunListParams),
    responses(
        (status = 200, description = "Executions of automations, newest first", body = Page<AutomationRunOut>),
        (status = 422, description = "An unknown state, a bad limit or cursor", body = super::error::ErrorBody),
    )
)]
pub async fn list_runs(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(p): ApiQuery<RunListParams>,
) -> Result<Json<Page<AutomationRunOut>>, ApiError> {
    let limit = parse_limit(p.limit)?;
    let run_state = match p.state.as_deref() {
        None => None,
        Some(s) => Some(RunState::parse(s).ok_or_else(|| {
            ApiError::invalid("state", format!("must be one of armed, running, fired, skipped, expired, cancelled; got {s:?}"))
        })?),
    };
    let before_id = match p.before.as_deref() {
        None => None,
        Some(c) => Some(digits(c, 18).ok_or_else(|| ApiError::invalid("before", "is not a cursor returned by this API"))?),
    };
    let filter = RunFilter { rule_id: p.rule_id, ticket_id: p.ticket_id, state: run_state, before_id, limit };
    let rows = state.store.automation_runs(&filter).await?;
    let next = (rows.len() == limit as usize).then(|| rows.last().map(|r| r.id.to_string())).flatten();
    Ok(Json(Page { data: rows.into_iter().map(out_of).collect(), next }))
}
