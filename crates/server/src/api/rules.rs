//! Rules (SPEC 10, issue 13 item 7): triggers and automations, listed in the order they run, created,
//! replaced, switched on and off, and deleted. A rule is refused with 422 naming the field path and
//! the problem (`actions[0].text: unknown placeholder {{ticket.idd}} at character 8`). A draft can be
//! tried first: the dry run says which of the newest tickets it would match.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use windowdesk_core::rules::InvalidRule;
use windowdesk_core::RuleDraft;
use windowdesk_store::{RuleRow, RuleWrite};

use super::auth::ApiCaller;
use super::dto::{rfc3339, Page};
use super::error::ApiError;
use super::extract::{ApiJson, PathId};
use crate::AppState;

/// A stored rule: the draft as written (see the request body of `POST /api/v1/rules`), with its id.
#[derive(Serialize, ToSchema)]
pub struct RuleOut {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    /// Rules run in ascending position, then ascending id.
    pub position: i32,
    /// `ticket_created`, `message_received`, `ticket_updated`, `delivery_failed`, `window_opened` or `automation`.
    pub event: String,
    pub once_per_episode: bool,
    /// `{"all": [...], "any": [...]}`: every condition of `all`, and one of `any` when it is not empty.
    #[schema(value_type = Object)]
    pub conditions: Value,
    /// The actions in order, each a tagged object (`{"type": "reply", "text": "...", "when_closed": {...}}`).
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<Value>,
    pub created_at: String,
    pub created_by: Option<String>,
    pub updated_at: String,
    pub updated_by: Option<String>,
}

fn out_of(row: &RuleRow) -> Result<RuleOut, ApiError> {
    let draft = crate::rules::draft_of(row).map_err(ApiError::Internal)?;
    let internal = |e: serde_json::Error| ApiError::Internal(e.to_string());
    Ok(RuleOut {
        id: row.id,
        name: draft.name.clone(),
        enabled: draft.enabled,
        position: draft.position,
        event: draft.event.as_str().to_owned(),
        once_per_episode: draft.once_per_episode,
        conditions: serde_json::to_value(&draft.conditions).map_err(internal)?,
        actions: draft.actions.iter().map(serde_json::to_value).collect::<Result<_, _>>().map_err(internal)?,
        created_at: rfc3339(row.created_at),
        created_by: row.created_by.clone(),
        updated_at: rfc3339(row.updated_at),
        updated_by: row.updated_by.clone(),
    })
}

/// The first refused field as the 422 answer; the message lists every problem found, each with its
/// path (the first's path is the field the answer names, so it is not repeated).
pub fn invalid(e: InvalidRule) -> ApiError {
    let mut errors = e.errors.iter();
    let Some(first) = errors.next() else { return ApiError::invalid("", "invalid") };
    let message = std::iter::once(first.problem.to_string()).chain(errors.map(ToString::to_string)).collect::<Vec<_>>().join("; ");
    ApiError::invalid(first.path.clone(), message)
}

fn validated(state: &AppState, draft: &RuleDraft, actor: &str) -> Result<RuleWrite, ApiError> {
    crate::rules::write_of(draft, actor, state.clock.now()).map_err(invalid)
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("rule {id} does not exist"))
}

#[utoipa::path(
    get, path = "/api/v1/rules", tag = "rules",
    responses((status = 200, description = "Every rule, in the order they run: position, then id", body = Page<RuleOut>))
)]
pub async fn list_rules(State(state): State<AppState>, _caller: ApiCaller) -> Result<Json<Page<RuleOut>>, ApiError> {
    let rows = state.store.rules().await?;
    let data = rows.iter().map(out_of).collect::<Result<_, _>>()?;
    Ok(Json(Page { data, next: None }))
}

#[utoipa::path(
    post, path = "/api/v1/rules", tag = "rules",
    request_body(content = Object, description = "A rule: `name`, `enabled` (default true), `position` (default 0), `event`, \
        `once_per_episode` (default false), `conditions` (`{\"all\": [...], \"any\": [...]}`) and `actions` (at least one)"),
    responses(
        (status = 201, description = "Created", body = RuleOut),
        (status = 422, description = "A field is invalid, e.g. an unknown placeholder; `details.field` names its path (`actions[0].text`)", body = super::error::ErrorBody),
    )
)]
pub async fn post_rule(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(draft): ApiJson<RuleDraft>,
) -> Result<(StatusCode, Json<RuleOut>), ApiError> {
    let write = validated(&state, &draft, &caller.actor())?;
    let row = state.store.create_rule(&write).await?;
    Ok((StatusCode::CREATED, Json(out_of(&row)?)))
}

#[utoipa::path(
    get, path = "/api/v1/rules/{id}", tag = "rules",
    params(("id" = i64, Path, description = "Rule id")),
    responses(
        (status = 200, description = "The rule", body = RuleOut),
        (status = 404, description = "No such rule", body = super::error::ErrorBody),
    )
)]
pub async fn get_rule(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<Json<RuleOut>, ApiError> {
    let row = state.store.rule(id).await?.ok_or_else(|| not_found(id))?;
    Ok(Json(out_of(&row)?))
}

#[utoipa::path(
    put, path = "/api/v1/rules/{id}", tag = "rules",
    params(("id" = i64, Path, description = "Rule id")),
    request_body(content = Object, description = "The whole rule, as for `POST /api/v1/rules`; `enabled: false` switches it off"),
    responses(
        (status = 200, description = "The rule as stored", body = RuleOut),
        (status = 404, description = "No such rule", body = super::error::ErrorBody),
        (status = 422, description = "A field is invalid; `details.field` names its path", body = super::error::ErrorBody),
    )
)]
pub async fn put_rule(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(draft): ApiJson<RuleDraft>,
) -> Result<Json<RuleOut>, ApiError> {
    let write = validated(&state, &draft, &caller.actor())?;
    if !state.store.update_rule(id, &write).await? {
        return Err(not_found(id));
    }
    get_rule(State(state), caller, PathId(id)).await
}

#[utoipa::path(
    delete, path = "/api/v1/rules/{id}", tag = "rules",
    params(("id" = i64, Path, description = "Rule id")),
    responses(
        (status = 204, description = "Deleted; a deleted default rule is not re-created"),
        (status = 404, description = "No such rule", body = super::error::ErrorBody),
    )
)]
pub async fn delete_rule(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<StatusCode, ApiError> {
    if !state.store.delete_rule(id, state.clock.now()).await? {
        return Err(not_found(id));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A ticket a dry run matched.
#[derive(Serialize, ToSchema)]
pub struct DryRunMatchOut {
    pub ticket_id: i64,
    pub subject: String,
    /// `new`, `open`, `pending`, `on_hold`, `solved` or `closed`.
    pub status: String,
}

/// Which of the newest tickets a rule would match, as if its event happened on each of them now.
#[derive(Serialize, ToSchema)]
pub struct DryRunOut {
    /// How many tickets were checked: the 100 newest, or every ticket when there are fewer.
    pub checked: usize,
    /// The tickets the rule matches, newest first.
    pub matches: Vec<DryRunMatchOut>,
}

impl From<crate::rules::dry_run::DryRun> for DryRunOut {
    fn from(run: crate::rules::dry_run::DryRun) -> Self {
        DryRunOut {
            checked: run.checked,
            matches: run
                .matches
                .into_iter()
                .map(|m| DryRunMatchOut { ticket_id: m.ticket_id, subject: m.subject, status: m.status.as_str().to_owned() })
                .collect(),
        }
    }
}

/// A dry run's answer, or the refusal of its draft as 422 naming the field.
pub async fn dry_run_of(state: &AppState, draft: &RuleDraft) -> Result<DryRunOut, ApiError> {
    use crate::rules::dry_run::{dry_run, DryRunError};
    match dry_run(state, draft).await {
        Ok(run) => Ok(run.into()),
        Err(DryRunError::Invalid(e)) => Err(invalid(e)),
        Err(DryRunError::Store(e)) => Err(match e.downcast::<windowdesk_store::StoreError>() {
            Ok(store) => store.into(),
            Err(other) => ApiError::Internal(other.to_string()),
        }),
    }
}

#[utoipa::path(
    post, path = "/api/v1/rules/dry-run", tag = "rules",
    request_body(content = Object, description = "A rule, as for `POST /api/v1/rules`. It is validated, not stored, and evaluated \
        against the 100 newest tickets as if its event happened on each of them now (a switched-off rule as if it were on). \
        Message conditions see the ticket's latest customer message; `first_message` holds when it is the ticket's only one. \
        Nothing is sent, recorded or changed."),
    responses(
        (status = 200, description = "The tickets the rule would match, and how many were checked", body = DryRunOut),
        (status = 422, description = "A field is invalid; `details.field` names its path (`actions[0].text`)", body = super::error::ErrorBody),
    )
)]
pub async fn dry_run_rule(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiJson(draft): ApiJson<RuleDraft>,
) -> Result<Json<DryRunOut>, ApiError> {
    Ok(Json(dry_run_of(&state, &draft).await?))
}
