//! Agents: the people tickets are assigned to. Any valid token may list and add them for now; roles
//! start to matter with the web sign-in.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use windowdesk_store::AgentRole;

use super::admin::{create_agent, parse_role};
use super::auth::ApiCaller;
use super::dto::{AgentOut, Page};
use super::error::ApiError;
use super::extract::ApiJson;
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
