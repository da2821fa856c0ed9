//! Macros (SPEC 10, issue 13 item 4): named bundles of a reply, status, tags, assignee and a note,
//! applied to a ticket in one call.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use windowdesk_core::macros::MacroDraft;
use windowdesk_core::rules::Action;
use windowdesk_store::{MacroDraftRow, MacroRow};

use super::auth::ApiCaller;
use super::dto::{rfc3339, Page};
use super::error::ApiError;
use super::extract::{ApiJson, PathId, PathIds};
use crate::macros::{self, Applier};
use crate::AppState;

/// A macro as written. `actions` are a rule's actions limited to what an agent applies by hand:
/// `reply` (`text` with placeholders such as `{{firstName || there}}`, and `when_closed`: `{"kind":
/// "template", "name", "language", "params"}`, `{"kind": "hold"}`, `{"kind": "sms", "text"}` or
/// `{"kind": "skip"}`), `set_status`, `set_priority`, `add_tags`, `remove_tags`, `set_assignee`,
/// `unassign` and `internal_note`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MacroIn {
    pub name: String,
    /// The agent whose own macro it is; null or absent: shared with every agent.
    #[serde(default)]
    pub owner_agent_id: Option<i64>,
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct MacroOut {
    pub id: i64,
    pub name: String,
    pub owner_agent_id: Option<i64>,
    pub shared: bool,
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<Value>,
    pub updated_at: String,
    pub updated_by: Option<String>,
}

fn out(row: &MacroRow) -> Result<MacroOut, ApiError> {
    let draft: MacroDraft = serde_json::from_str(&row.body).map_err(|e| ApiError::Internal(format!("macro {}: {e}", row.id)))?;
    let actions = draft.actions.iter().map(|a| serde_json::to_value(a).unwrap_or(Value::Null)).collect();
    Ok(MacroOut {
        id: row.id,
        name: row.name.clone(),
        owner_agent_id: row.owner_agent_id,
        shared: row.owner_agent_id.is_none(),
        actions,
        updated_at: rfc3339(row.updated_at),
        updated_by: row.updated_by.clone(),
    })
}

/// Checks a macro as the core does; the first refused field is `details.field`, the message names
/// every one.
pub(crate) async fn validated(state: &AppState, req: MacroIn, actor: &str) -> Result<MacroDraftRow, ApiError> {
    let mut actions = Vec::with_capacity(req.actions.len());
    for (i, a) in req.actions.into_iter().enumerate() {
        actions.push(serde_json::from_value::<Action<String>>(a).map_err(|e| ApiError::invalid(format!("actions[{i}]"), e.to_string()))?);
    }
    if let Some(owner) = req.owner_agent_id {
        if state.store.agent(owner).await?.is_none() {
            return Err(ApiError::invalid("owner_agent_id", format!("there is no agent {owner}")));
        }
    }
    let draft = MacroDraft { name: req.name, shared: req.owner_agent_id.is_none(), actions };
    let checked = draft.validate().map_err(super::rules::invalid)?;
    let body = serde_json::to_string(&MacroDraft { name: checked.name.clone(), ..draft }).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(MacroDraftRow { name: checked.name, owner_agent_id: req.owner_agent_id, body, actor: actor.to_owned(), now: state.clock.now() })
}

#[utoipa::path(
    get, path = "/api/v1/macros", tag = "macros",
    responses((status = 200, description = "Every macro, shared and personal, by name", body = Page<MacroOut>))
)]
pub async fn list_macros(State(state): State<AppState>, _caller: ApiCaller) -> Result<Json<Page<MacroOut>>, ApiError> {
    let data = state.store.macros(None).await?.iter().map(out).collect::<Result<_, _>>()?;
    Ok(Json(Page { data, next: None }))
}

#[utoipa::path(
    post, path = "/api/v1/macros", tag = "macros",
    request_body = MacroIn,
    responses(
        (status = 201, description = "Created", body = MacroOut),
        (status = 422, description = "A field is invalid (an unknown placeholder is named with its token); `details.field` is its path, e.g. `actions[0].text`",
         body = super::error::ErrorBody),
    )
)]
pub async fn post_macro(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(req): ApiJson<MacroIn>,
) -> Result<(StatusCode, Json<MacroOut>), ApiError> {
    let draft = validated(&state, req, &caller.actor()).await?;
    let row = state.store.create_macro(&draft).await?;
    Ok((StatusCode::CREATED, Json(out(&row)?)))
}

#[utoipa::path(
    get, path = "/api/v1/macros/{id}", tag = "macros",
    params(("id" = i64, Path, description = "Macro id")),
    responses((status = 200, description = "The macro", body = MacroOut), (status = 404, description = "No such macro", body = super::error::ErrorBody))
)]
pub async fn get_macro(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<Json<MacroOut>, ApiError> {
    let row = state.store.macro_by_id(id).await?.ok_or_else(|| ApiError::NotFound(format!("macro {id} does not exist")))?;
    Ok(Json(out(&row)?))
}

#[utoipa::path(
    put, path = "/api/v1/macros/{id}", tag = "macros",
    params(("id" = i64, Path, description = "Macro id")),
    request_body = MacroIn,
    responses(
        (status = 200, description = "The macro as stored", body = MacroOut),
        (status = 404, description = "No such macro", body = super::error::ErrorBody),
        (status = 422, description = "A field is invalid; `details.field` is its path", body = super::error::ErrorBody),
    )
)]
pub async fn put_macro(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(req): ApiJson<MacroIn>,
) -> Result<Json<MacroOut>, ApiError> {
    let draft = validated(&state, req, &caller.actor()).await?;
    if !state.store.update_macro(id, &draft).await? {
        return Err(ApiError::NotFound(format!("macro {id} does not exist")));
    }
    get_macro(State(state), caller, PathId(id)).await
}

#[utoipa::path(
    delete, path = "/api/v1/macros/{id}", tag = "macros",
    params(("id" = i64, Path, description = "Macro id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such macro", body = super::error::ErrorBody))
)]
pub async fn delete_macro(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<StatusCode, ApiError> {
    if !state.store.delete_macro(id).await? {
        return Err(ApiError::NotFound(format!("macro {id} does not exist")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// What applying a macro did: its reply (queued; or, with the window closed, the macro's template,
/// a hold, an SMS, or `not_sent` with the reason and the ways out) and each other action.
#[derive(Serialize, ToSchema)]
pub struct AppliedOut {
    /// `{"outcome": "queued" | "template_queued" | "held" | "sms_queued" | "not_sent", ...}`; null
    /// when the macro has no reply.
    #[schema(value_type = Object, nullable = true)]
    pub reply: Option<Value>,
    /// `[{"action": "set_status", "ok": true, "error": null}, ...]`
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<Value>,
}

#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/macros/{macro_id}", tag = "macros",
    params(("id" = i64, Path, description = "Ticket id"), ("macro_id" = i64, Path, description = "Macro id")),
    responses(
        (status = 200, description = "Applied; each action reports its outcome", body = AppliedOut),
        (status = 404, description = "No such ticket or macro", body = super::error::ErrorBody),
        (status = 409, description = "The ticket is closed", body = super::error::ErrorBody),
    )
)]
pub async fn apply_macro(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathIds(id, macro_id): PathIds,
) -> Result<Json<AppliedOut>, ApiError> {
    let row = state.store.macro_by_id(macro_id).await?.ok_or_else(|| ApiError::NotFound(format!("macro {macro_id} does not exist")))?;
    let m = macros::parse(&row).map_err(ApiError::Internal)?;
    let actor = caller.actor();
    let applied = macros::apply(&state, id, &m, &Applier { author: &actor, agent_name: None }).await?;
    Ok(Json(AppliedOut {
        reply: applied.reply.map(|r| serde_json::to_value(r).unwrap_or(Value::Null)),
        actions: applied.actions.iter().map(|a| serde_json::to_value(a).unwrap_or(Value::Null)).collect(),
    }))
}
