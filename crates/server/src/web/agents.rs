//! The admin's Agents pages: the list (and adding someone), and one page per agent where an admin
//! edits their name and sign-in email, changes their role, sets a new password and deactivates or
//! reactivates them. Validation is [`crate::api::admin`]'s, shared with the API and the CLI.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use windowdesk_store::{AgentRow, StoreError};

use super::render::{self, nav_counts, Nav};
use super::session::Agent;
use super::{format, WebError};
use crate::api::admin::{self as admin_api, set_password, AdminError, MAX_EMAIL_CHARS, MAX_NAME_CHARS, MIN_PASSWORD_CHARS};
use crate::AppState;

fn admin_only(agent: &Agent) -> Result<(), WebError> {
    if agent.is_admin() {
        Ok(())
    } else {
        Err(WebError::Forbidden("Only admins manage agents.".into()))
    }
}

/// How an admin action's refusal reads on a page (also for the API tokens page).
pub(super) fn admin_error(e: AdminError) -> WebError {
    match e {
        AdminError::Store(s) => s.into(),
        AdminError::EmailTaken(_) => WebError::Conflict(e.to_string()),
        other => WebError::BadRequest(other.to_string()),
    }
}

fn agent_url(id: i64, done: &str) -> String {
    format!("/admin/agents/{id}?done={done}")
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// Whether an agent can sign in, in words.
fn sign_in_state(a: &AgentRow) -> &'static str {
    if !a.active {
        "no (deactivated)"
    } else if a.has_password {
        "yes"
    } else {
        "no (no password yet)"
    }
}

/// `GET /admin/agents`: everyone, each name leading to their page, and the form that adds someone.
pub async fn agents_page(State(state): State<AppState>, agent: Agent, Query(q): Query<DoneQuery>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    let counts = nav_counts(&state, &agent).await?;
    let now = state.clock.now();
    let agents = state.store.agents().await?;
    let content = html! {
        h1 { "Agents" }
        @if let Some(n) = render::notice(q.done.as_deref()) { (n) }
        p.hint { "Open an agent to change their name, email, role or password, or to deactivate them." }
        div.table-wrap {
            table #agents {
                caption.sr { "Agents" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Can sign in" } } }
                tbody {
                    @for a in &agents {
                        tr data-agent-id=(a.id) data-active=(a.active) {
                            td { a href={"/admin/agents/" (a.id)} { (a.name) } }
                            td { (a.email) }
                            td { (a.role.as_str()) }
                            td { (sign_in_state(a)) }
                        }
                    }
                }
            }
        }
        p { a href="/admin/api-tokens" { "API tokens" } " for other systems are managed on their own page." }
        h2 #add-title { "Add an agent" }
        form #add-agent-form method="post" action="/admin/agents" aria-labelledby="add-title" {
            input type="hidden" name="csrf" value=(agent.csrf());
            label for="agent-name" { "Name" }
            input #agent-name name="name" required maxlength=(MAX_NAME_CHARS);
            label for="agent-email" { "Email address" }
            input #agent-email name="email" type="email" required maxlength=(MAX_EMAIL_CHARS);
            label for="agent-role" { "Role" }
            select #agent-role name="role" { option value="agent" { "agent" } option value="admin" { "admin" } }
            label for="agent-password" { "Password (at least " (MIN_PASSWORD_CHARS) " characters)" }
            input #agent-password name="password" type="password" minlength=(MIN_PASSWORD_CHARS) required autocomplete="new-password";
            button type="submit" { "Add agent" }
        }
    };
    Ok(Html(render::page(&agent, "Agents", Nav::Agents, &counts, now, content).into_string()))
}

#[derive(Deserialize)]
pub struct NewAgentForm {
    #[serde(default)]
    csrf: String,
    name: String,
    email: String,
    role: String,
    password: String,
}

/// `POST /admin/agents`.
pub async fn add_agent(State(state): State<AppState>, agent: Agent, Form(f): Form<NewAgentForm>) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    admin_only(&agent)?;
    let role = admin_api::parse_role(&f.role).map_err(admin_error)?;
    let added = admin_api::create_agent(state.store.as_ref(), &f.name, &f.email, role, Some(&f.password)).await.map_err(admin_error)?;
    tracing::info!(agent_id = added.id, by = agent.id(), "agent added");
    Ok(Redirect::to(&agent_url(added.id, "added")).into_response())
}

/// What the details form shows after a refused edit: what was typed, and why it was refused.
struct Refused<'a> {
    name: &'a str,
    email: &'a str,
    problem: String,
}

async fn agent_page_with(
    state: &AppState,
    agent: &Agent,
    id: i64,
    done: Option<&str>,
    refused: Option<Refused<'_>>,
) -> Result<Html<String>, WebError> {
    let Some(a) = state.store.agent(id).await? else {
        return Err(WebError::NotFound(format!("There is no agent {id}.")));
    };
    let counts = nav_counts(state, agent).await?;
    let now = state.clock.now();
    let (name, email) = refused.as_ref().map_or((a.name.as_str(), a.email.as_str()), |r| (r.name, r.email));
    let itself = a.id == agent.id();
    let active_confirm =
        if a.active { format!("Deactivate {}? They are signed out at once.", a.name) } else { format!("Let {} sign in again?", a.name) };
    let content = html! {
        p.back { a href="/admin/agents" { "← Agents" } }
        h1 { (a.name) }
        @if let Some(n) = render::notice(done) { (n) }
        dl.facts #agent-facts {
            dt { "Role" } dd { (a.role.as_str()) }
            dt { "Can sign in" } dd { (sign_in_state(&a)) }
            dt { "Added" } dd { (format::full_time(a.created_at, agent.tz())) }
        }
        h2 #details-title { "Name and email" }
        form #agent-details method="post" action={"/admin/agents/" (a.id)} aria-labelledby="details-title" {
            input type="hidden" name="csrf" value=(agent.csrf());
            @if let Some(r) = &refused { p.error role="alert" #details-error { "Not saved. " (r.problem) } }
            label for="edit-name" { "Name" }
            input #edit-name name="name" required maxlength=(MAX_NAME_CHARS) value=(name);
            label for="edit-email" { "Email address (what they sign in with)" }
            input #edit-email name="email" type="email" required maxlength=(MAX_EMAIL_CHARS) value=(email) autocomplete="off";
            p.hint { "A new email takes effect at their next sign-in; they stay signed in meanwhile." }
            button #save-details type="submit" { "Save" }
        }
        h2 #role-title { "Role" }
        form #role-form method="post" action="/admin/agents/role" aria-labelledby="role-title" {
            input type="hidden" name="csrf" value=(agent.csrf());
            input type="hidden" name="agent" value=(a.id);
            p.hint { "Admins manage agents, business numbers, rules and API tokens; agents answer tickets. The desk always keeps one admin." }
            label for="role-role" { "Role" }
            select #role-role name="role" {
                option value="agent" selected[a.role.as_str() == "agent"] { "agent" }
                option value="admin" selected[a.role.as_str() == "admin"] { "admin" }
            }
            button #role-submit type="submit" { "Change role" }
        }
        h2 #reset-title { "New password" }
        form #reset-form method="post" action="/admin/agents/password" aria-labelledby="reset-title"
            data-confirm={"Set this new password for " (a.name) "? Their current password stops working."} {
            input type="hidden" name="csrf" value=(agent.csrf());
            input type="hidden" name="agent" value=(a.id);
            label for="reset-password" { "New password (at least " (MIN_PASSWORD_CHARS) " characters)" }
            input #reset-password name="password" type="password" required minlength=(MIN_PASSWORD_CHARS) autocomplete="new-password";
            button #reset-submit type="submit" { "Set password" }
        }
        h2 #active-title { @if a.active { "Deactivate" } @else { "Reactivate" } }
        @if a.active {
            p.hint { "A deactivated agent cannot sign in (their sessions end at once) and is not offered as an assignee. Their replies and notes stay, under their name; tickets assigned to them stay assigned until someone reassigns them." }
        } @else {
            p.hint { "Reactivated, they can sign in again with their password." }
        }
        @if itself && a.active {
            p.hint #active-self { "You cannot deactivate yourself: ask another admin." }
        } @else {
            form #active-form method="post" action="/admin/agents/active" aria-labelledby="active-title" data-confirm=(active_confirm) {
                input type="hidden" name="csrf" value=(agent.csrf());
                input type="hidden" name="agent" value=(a.id);
                @if a.active {
                    button #deactivate type="submit" name="active" value="false" { "Deactivate " (a.name) }
                } @else {
                    button #reactivate type="submit" name="active" value="true" { "Reactivate " (a.name) }
                }
            }
        }
    };
    Ok(Html(render::page(agent, &a.name, Nav::Agents, &counts, now, content).into_string()))
}

/// `GET /admin/agents/{id}`.
pub async fn agent_page(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    agent_page_with(&state, &agent, id, q.done.as_deref(), None).await
}

#[derive(Deserialize)]
pub struct DetailsForm {
    #[serde(default)]
    csrf: String,
    name: String,
    email: String,
}

/// `POST /admin/agents/{id}`: a new name and email. A refused edit shows the page again with what
/// was typed and why (400, or 409 when another agent has the email).
pub async fn save_details(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(f): Form<DetailsForm>,
) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    admin_only(&agent)?;
    let (status, problem) = match admin_api::update_agent(state.store.as_ref(), id, Some(&f.name), Some(&f.email)).await {
        Ok(Some(_)) => {
            tracing::info!(agent_id = id, by = agent.id(), "agent's name and email edited");
            return Ok(Redirect::to(&agent_url(id, "saved")).into_response());
        }
        Ok(None) => return Err(WebError::NotFound(format!("There is no agent {id}."))),
        Err(AdminError::Store(e)) => return Err(e.into()),
        Err(e @ AdminError::EmailTaken(_)) => (StatusCode::CONFLICT, e.to_string()),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()),
    };
    let refused = Refused { name: &f.name, email: &f.email, problem };
    let page = agent_page_with(&state, &agent, id, None, Some(refused)).await?;
    Ok((status, page).into_response())
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    agent: i64,
    password: String,
}

/// `POST /admin/agents/password`: an admin sets a new password for an agent (who can then sign in
/// with it, and should change it).
pub async fn reset(State(state): State<AppState>, agent: Agent, Form(f): Form<ResetForm>) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    admin_only(&agent)?;
    let id = f.agent;
    if !set_password(state.store.as_ref(), id, &f.password).await.map_err(admin_error)? {
        return Err(WebError::NotFound(format!("There is no agent {id}.")));
    }
    tracing::info!(agent_id = id, by = agent.id(), "password reset by an admin");
    Ok(Redirect::to(&agent_url(id, "password_reset")).into_response())
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    agent: i64,
    role: String,
}

/// `POST /admin/agents/role`. The desk always keeps one admin.
pub async fn change_role(State(state): State<AppState>, agent: Agent, Form(f): Form<RoleForm>) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    admin_only(&agent)?;
    let role = admin_api::parse_role(&f.role).map_err(admin_error)?;
    match state.store.set_agent_role(f.agent, role).await {
        Ok(true) => {
            tracing::info!(agent_id = f.agent, role = role.as_str(), by = agent.id(), "role changed");
            Ok(Redirect::to(&agent_url(f.agent, "saved")).into_response())
        }
        Ok(false) => Err(WebError::NotFound(format!("There is no agent {}.", f.agent))),
        Err(StoreError::Conflict(m)) => Err(WebError::Conflict(m)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    csrf: String,
    agent: i64,
    active: bool,
}

/// `POST /admin/agents/active`. Nobody deactivates themselves, and the desk keeps an active admin.
pub async fn set_active(State(state): State<AppState>, agent: Agent, Form(f): Form<ActiveForm>) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    admin_only(&agent)?;
    if !f.active && f.agent == agent.id() {
        return Err(WebError::Conflict("You cannot deactivate yourself: ask another admin.".into()));
    }
    match state.store.set_agent_active(f.agent, f.active, state.clock.now()).await {
        Ok(true) => {
            tracing::info!(agent_id = f.agent, active = f.active, by = agent.id(), "agent activation changed");
            Ok(Redirect::to(&agent_url(f.agent, if f.active { "reactivated" } else { "deactivated" })).into_response())
        }
        Ok(false) => Err(WebError::NotFound(format!("There is no agent {}.", f.agent))),
        Err(StoreError::Conflict(m)) => Err(WebError::Conflict(m)),
        Err(e) => Err(e.into()),
    }
}
