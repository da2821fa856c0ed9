//! Passwords and API tokens from the web: an agent changes their own password (knowing the current
//! one); an admin creates, lists and revokes the desk's API tokens (a new token is shown once: only
//! its hash is stored). An admin's changes to other agents are in [`super::agents`].

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::agents::admin_error;
use super::render::{self, nav_counts, Nav};
use super::session::Agent;
use super::{format, WebError};
use crate::api::admin::{create_api_token, set_password, MIN_PASSWORD_CHARS};
use crate::AppState;

fn admin_only(agent: &Agent) -> Result<(), WebError> {
    if agent.is_admin() {
        Ok(())
    } else {
        Err(WebError::Forbidden("Only admins manage API tokens.".into()))
    }
}

/// The Settings page's password form.
pub fn password_form(agent: &Agent) -> Markup {
    html! {
        h2 #password-title { "Your password" }
        form #password-form method="post" action="/settings/password" aria-labelledby="password-title" {
            input type="hidden" name="csrf" value=(agent.csrf());
            label for="current-password" { "Current password" }
            input #current-password name="current" type="password" required autocomplete="current-password";
            label for="new-password" { "New password (at least " (MIN_PASSWORD_CHARS) " characters)" }
            input #new-password name="password" type="password" required minlength=(MIN_PASSWORD_CHARS) autocomplete="new-password";
            label for="confirm-password" { "New password again" }
            input #confirm-password name="confirm" type="password" required minlength=(MIN_PASSWORD_CHARS) autocomplete="new-password";
            button #change-password type="submit" { "Change password" }
        }
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    password: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /settings/password`: the agent's own, with the current one.
pub async fn change_own(State(state): State<AppState>, agent: Agent, Form(f): Form<PasswordForm>) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    if f.confirm.as_deref() != Some(f.password.as_str()) {
        return Err(WebError::BadRequest("confirm: the two new passwords differ".into()));
    }
    let credentials = state.store.agent_credentials(&agent.session.agent.email).await?;
    let hash = credentials.and_then(|c| c.password_hash);
    let current = f.current.clone();
    let ok = tokio::task::spawn_blocking(move || super::session::verify_password(&current, hash.as_deref())).await.unwrap_or(false);
    if !ok {
        return Err(WebError::BadRequest("current: that is not your current password".into()));
    }
    set_password(state.store.as_ref(), agent.id(), &f.password).await.map_err(admin_error)?;
    tracing::info!(agent_id = agent.id(), "changed their password");
    Ok(Redirect::to("/settings?done=password").into_response())
}

#[derive(Deserialize)]
pub struct TokensQuery {
    done: Option<String>,
}

async fn tokens_page_with(
    state: &AppState,
    agent: &Agent,
    done: Option<&str>,
    created: Option<(&str, &str)>,
) -> Result<Html<String>, WebError> {
    let counts = nav_counts(state, agent).await?;
    let now = state.clock.now();
    let tokens = state.store.api_tokens().await?;
    let content = html! {
        h1 { "API tokens" }
        @if let Some(n) = render::notice(done) { (n) }
        p.hint { "Tokens let other systems use the " a href="/api/openapi.json" { "REST API" } " (" code { "Authorization: Bearer wdk_…" } "). Anyone holding one acts for the desk: revoke a token as soon as it is no longer needed." }
        @if let Some((name, token)) = created {
            div.notice.ok #new-token role="status" {
                p { "The token " q { (name) } " was created. Copy it now: it is shown this once." }
                p { code #new-token-value { (token) } }
            }
        }
        @if tokens.is_empty() {
            p.empty { "No API tokens yet." }
        } @else {
            div.table-wrap {
                table #tokens {
                    caption.sr { "API tokens" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Starts with" } th scope="col" { "Created" } th scope="col" { "Last used" } th scope="col" { "State" } } }
                    tbody {
                        @for t in &tokens {
                            tr data-token-id=(t.id) {
                                td { (t.name) }
                                td { code { (t.prefix) "…" } }
                                td { (format::full_time(t.created_at, agent.tz())) }
                                td { @match t.last_used_at { Some(at) => (format::full_time(at, agent.tz())), None => "never" } }
                                td {
                                    @if let Some(at) = t.revoked_at {
                                        "revoked " (format::full_time(at, agent.tz()))
                                    } @else {
                                        form.inline method="post" action={"/admin/api-tokens/" (t.id) "/revoke"}
                                            data-confirm={"Revoke the token “" (t.name) "”? Whatever uses it stops working at once."} {
                                            input type="hidden" name="csrf" value=(agent.csrf());
                                            button.quiet type="submit" aria-label={"Revoke " (t.name)} { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Create a token" }
        form #token-form method="post" action="/admin/api-tokens" {
            input type="hidden" name="csrf" value=(agent.csrf());
            label for="token-name" { "Name (what uses it, e.g. \"CRM sync\")" }
            input #token-name name="name" required maxlength="100";
            button #create-token type="submit" { "Create token" }
        }
    };
    Ok(Html(render::page(agent, "API tokens", Nav::Agents, &counts, now, content).into_string()))
}

/// `GET /admin/api-tokens`.
pub async fn tokens_page(State(state): State<AppState>, agent: Agent, Query(q): Query<TokensQuery>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    tokens_page_with(&state, &agent, q.done.as_deref(), None).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

/// `POST /admin/api-tokens`: the page again, with the new token shown once (never in a URL).
pub async fn create_token(State(state): State<AppState>, agent: Agent, Form(f): Form<TokenForm>) -> Result<Html<String>, WebError> {
    agent.check_csrf(&f.csrf)?;
    admin_only(&agent)?;
    let created = create_api_token(state.store.as_ref(), &f.name).await.map_err(admin_error)?;
    tracing::info!(token_id = created.row.id, by = agent.id(), "API token created");
    tokens_page_with(&state, &agent, None, Some((&created.row.name, &created.token))).await
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/api-tokens/{id}/revoke`.
pub async fn revoke_token(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    admin_only(&agent)?;
    if !state.store.revoke_api_token(id, state.clock.now()).await? {
        return Err(WebError::NotFound(format!("There is no API token {id} that is still valid.")));
    }
    tracing::info!(token_id = id, by = agent.id(), "API token revoked");
    Ok(Redirect::to("/admin/api-tokens?done=revoked").into_response())
}
