//! Agents: the people tickets are assigned to. An API token is an admin's tool: any valid token
//! may list, add and edit them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use windowdesk_store::AgentRole;

use super::admin::{create_agent, parse_role, update_agent};
use super::auth::ApiCaller;
use super::dto::{AgentOut, Page};
use super::error::ApiError;
use super::extract::{ApiJson, PathId};
use super::schema;
use crate::AppState;

#[utoipa::path(
    get, path = "/api/v1/agents", tag = "agents",
    responses(
        (status = 200, description = "All agents (`next` is always null)", body = Page<AgentOut>),
    )
)]
pub async fn list_agents(State(state): State<AppState>, _caller: ApiCaller) -> Result<Json<Page<AgentOut>>, ApiError> {
    let agents = state.store.agents().await?;
    Ok(Json(Page { data: agents.into_iter().map(AgentOut::from).collect(), next: None }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgentBody {
    #[schema(value_type = schema::AgentName)]
    pub name: String,
    /// Unique, compared case-insensitively.
    #[schema(value_type = schema::Email)]
    pub email: String,
    /// `agent` when absent.
    #[schema(value_type = Option<schema::AgentRole>)]
    pub role: Option<String>,
    /// Optional until the web sign-in exists.
    #[schema(value_type = Option<schema::Password>)]
    pub password: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v1/agents", tag = "agents",
    request_body = NewAgentBody,
    responses(
        (status = 201, description = "The agent", body = AgentOut),
        (status = 409, description = "An agent with this email exists", body = super::error::ErrorBody),
        (status = 422, description = "A field has an invalid value (named in details.field)", body = super::error::ErrorBody),
    )
)]
pub async fn post_agent(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiJson(req): ApiJson<NewAgentBody>,
) -> Result<(StatusCode, Json<AgentOut>), ApiError> {
    let role = req.role.as_deref().map(parse_role).transpose()?.unwrap_or(AgentRole::Agent);
    let agent = create_agent(state.store.as_ref(), &req.name, &req.email, role, req.password.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(AgentOut::from(agent))))
}

fn no_agent(id: i64) -> ApiError {
    ApiError::NotFound(format!("there is no agent {id}"))
}

#[utoipa::path(
    get, path = "/api/v1/agents/{id}", tag = "agents",
    params(("id" = i64, Path, description = "Agent id")),
    responses(
        (status = 200, description = "The agent", body = AgentOut),
        (status = 404, description = "No such agent", body = super::error::ErrorBody),
    )
)]
pub async fn get_agent(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<Json<AgentOut>, ApiError> {
    let agent = state.store.agent(id).await?.ok_or_else(|| no_agent(id))?;
    Ok(Json(AgentOut::from(agent)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    /// New display name.
    #[schema(value_type = Option<schema::AgentName>)]
    pub name: Option<String>,
    /// New sign-in email; the agent signs in with it from now on (their sessions stay).
    #[schema(value_type = Option<schema::Email>)]
    pub email: Option<String>,
}

#[utoipa::path(
    patch, path = "/api/v1/agents/{id}", tag = "agents",
    params(("id" = i64, Path, description = "Agent id")),
    request_body = AgentPatch,
    responses(
        (status = 200, description = "The agent after the change", body = AgentOut),
        (status = 404, description = "No such agent", body = super::error::ErrorBody),
        (status = 409, description = "Another agent has this email", body = super::error::ErrorBody),
        (status = 422, description = "A field has an invalid value (named in details.field)", body = super::error::ErrorBody),
    )
)]
pub async fn patch_agent(
    State(state): State<AppState>,
    _caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(patch): ApiJson<AgentPatch>,
) -> Result<Json<AgentOut>, ApiError> {
    let agent = update_agent(state.store.as_ref(), id, patch.name.as_deref(), patch.email.as_deref()).await?.ok_or_else(|| no_agent(id))?;
    tracing::info!(agent_id = id, "agent edited through the API");
    Ok(Json(AgentOut::from(agent)))
}
