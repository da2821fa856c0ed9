//! *Admin → HTTP targets* (issue 14 items 4 and 7): where rules' and workflows' `call_http` POSTs
//! signed JSON. The list says which target works, which fails, and which has failed for long enough
//! to need attention; a new target's signing secret is shown once; each target has its delivery log.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use windowdesk_core::signing::SigningSecret;
use windowdesk_store::HttpTargetRow;

use super::components::time;
use super::numbers::{admin_only, api_error};
use super::render::{self, nav_counts, Nav};
use super::rules::field;
use super::session::Agent;
use super::WebError;
use crate::api::http_targets::{write_of, HttpTargetIn};
use crate::AppState;

/// How a target is doing, in words and as a class.
fn health(state: &AppState, t: &HttpTargetRow, agent: &Agent) -> Markup {
    let now = state.clock.now();
    html! {
        @if !t.enabled { span.run-state.cancelled { "switched off" } }
        @else if crate::http_targets::needs_attention(t, now, state.http_attention_after) {
            span.needs-attention { "needs attention" } " " span.hint { "failing since " (time(t.failing_since.unwrap_or(now), now, agent)) }
        } @else if let Some(since) = t.failing_since {
            span.run-state.skipped { "failing" } " " span.hint { "since " (time(since, now, agent)) ", retrying" }
        } @else if let Some(ok) = t.last_success_at {
            span.run-state.done { "working" } " " span.hint { "last delivered " (time(ok, now, agent)) }
        } @else {
            span.hint { "nothing delivered yet" }
        }
    }
}

async fn list(
    state: &AppState,
    agent: &Agent,
    created: Option<(&HttpTargetRow, &str)>,
    problem: Option<&str>,
    form: (&str, &str),
) -> Result<Html<String>, WebError> {
    let counts = nav_counts(state, agent).await?;
    let targets = state.store.http_targets().await?;
    let content = html! {
        p.back { a href="/admin/rules" { "← Rules" } }
        h1 { "HTTP targets" }
        p.hint {
            "A rule's or workflow's " code { "call_http" } " action POSTs the ticket and the event as JSON to a target, signed the "
            "Standard Webhooks way (" code { "webhook-id" } ", " code { "webhook-timestamp" } ", " code { "webhook-signature" } ") with the "
            "target's secret, so the receiver can check it with an existing library and refuse replays. Deliveries are queued, "
            "retried with backoff, and logged per target."
        }
        @if let Some((t, secret)) = created {
            div.notice.ok role="status" #created-secret {
                p { "Added “" (t.name) "”. Its signing secret, shown this once: give it to the receiver." }
                p { code #secret { (secret) } }
            }
        }
        @if targets.is_empty() {
            p.empty { "No HTTP targets yet." }
        } @else {
            table.runs #http-targets {
                caption.sr { "HTTP targets" }
                thead { tr { th scope="col" { "Target" } th scope="col" { "Health" } th scope="col" { "On" } th scope="col" { span.sr { "Delete" } } } }
                tbody {
                    @for t in &targets {
                        tr #{"target-" (t.id)} {
                            td { a href={"/admin/http-targets/" (t.id)} { (t.name) } br; span.hint { (t.url) } }
                            td { (health(state, t, agent)) }
                            td.switch-cell {
                                (super::components::switch_form(&format!("/admin/http-targets/{}/enabled", t.id), agent.csrf(), &t.name, t.enabled))
                            }
                            td.delete-cell {
                                form.inline method="post" action={"/admin/http-targets/" (t.id) "/delete"}
                                    data-confirm={"Delete the target “" (t.name) "” and its delivery log? Rules that call it will fail that action."} {
                                    input type="hidden" name="csrf" value=(agent.csrf());
                                    button.quiet.small type="submit" aria-label={"Delete " (t.name)} { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Add a target" }
        form.stack #new-target method="post" action="/admin/http-targets" {
            input type="hidden" name="csrf" value=(agent.csrf());
            @if let Some(p) = problem { p.error role="alert" #target-error { (p) } }
            label for="target-name" { "Name" }
            input #target-name type="text" name="name" maxlength="200" required value=(form.0);
            label for="target-url" { "Address (http:// or https://)" }
            input #target-url type="url" name="url" required placeholder="https://crm.example.com/hooks/windowdesk" value=(form.1);
            button #add-target type="submit" { "Add target" }
        }
    };
    Ok(Html(render::page(agent, "HTTP targets", Nav::Rules, &counts, state.clock.now(), content).into_string()))
}

/// `GET /admin/http-targets`.
pub async fn targets_page(State(state): State<AppState>, agent: Agent) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    list(&state, &agent, None, None, ("", "")).await
}

/// `POST /admin/http-targets`: adds a target and shows its secret once.
pub async fn create(State(state): State<AppState>, agent: Agent, Form(fields): Form<Vec<(String, String)>>) -> Result<Response, WebError> {
    agent.check_csrf(field(&fields, "csrf"))?;
    admin_only(&agent)?;
    let (name, url) = (field(&fields, "name"), field(&fields, "url"));
    let input = HttpTargetIn { name: name.to_owned(), url: url.to_owned(), enabled: true };
    let write = match write_of(&state, &input) {
        Ok(w) => w,
        Err(crate::api::error::ApiError::Invalid { field, message }) => {
            let problem = format!("The {field} {message}.");
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, list(&state, &agent, None, Some(&problem), (name, url)).await?).into_response());
        }
        Err(e) => return Err(api_error(e)),
    };
    let secret = SigningSecret::from_bytes(rand::random::<[u8; 32]>()).written();
    let row = state.store.create_http_target(&write, &secret).await?;
    tracing::info!(target_id = row.id, actor = %agent.actor(), "HTTP target added in the admin page");
    Ok(list(&state, &agent, Some((&row, &secret)), None, ("", "")).await?.into_response())
}

/// `POST /admin/http-targets/{id}/enabled`.
pub async fn set_enabled(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    agent.check_csrf(field(&fields, "csrf"))?;
    admin_only(&agent)?;
    let t = state.store.http_target(id).await?.ok_or_else(|| WebError::NotFound(format!("There is no HTTP target {id}.")))?;
    let input = HttpTargetIn { name: t.name.clone(), url: t.url.clone(), enabled: field(&fields, "enabled") == "true" };
    let write = write_of(&state, &input).map_err(api_error)?;
    state.store.update_http_target(id, &write).await?;
    Ok(Redirect::to("/admin/http-targets").into_response())
}

/// `POST /admin/http-targets/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    agent.check_csrf(field(&fields, "csrf"))?;
    admin_only(&agent)?;
    if !state.store.delete_http_target(id).await? {
        return Err(WebError::NotFound(format!("There is no HTTP target {id}.")));
    }
    Ok(Redirect::to("/admin/http-targets").into_response())
}

/// `GET /admin/http-targets/{id}`: the target's delivery log, newest first.
pub async fn deliveries_page(State(state): State<AppState>, agent: Agent, Path(id): Path<i64>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    let counts = nav_counts(&state, &agent).await?;
    let t = state.store.http_target(id).await?.ok_or_else(|| WebError::NotFound(format!("There is no HTTP target {id}.")))?;
    let deliveries = state.store.http_deliveries(id, None, 200).await?;
    let now = state.clock.now();
    let content = html! {
        p.back { a href="/admin/http-targets" { "← HTTP targets" } }
        h1 { (t.name) }
        p { code { (t.url) } " " (health(&state, &t, &agent)) }
        h2 { "Delivery log" }
        @if deliveries.is_empty() {
            p.empty { "Nothing sent to this target yet." }
        } @else {
            table.runs #deliveries {
                caption.sr { "Deliveries, newest first" }
                thead { tr { th scope="col" { "Event" } th scope="col" { "Ticket" } th scope="col" { "State" } th scope="col" { "Attempts" } th scope="col" { "Last answer" } } }
                tbody {
                    @for d in &deliveries {
                        tr #{"delivery-" (d.id)} data-state=(d.state) {
                            td { (d.event_type) br; code.hint { (d.webhook_id) } br; span.hint { (time(d.created_at, now, &agent)) } }
                            td { @if let Some(ticket) = d.ticket_id { a href={"/tickets/" (ticket)} { "#" (ticket) } } }
                            td {
                                span.run-state.(match d.state.as_str() { "delivered" => "done", "gave_up" => "failed", _ => "waiting" }) { (d.state.replace('_', " ")) }
                                @if d.state == "pending" && d.attempts > 0 { br; span.hint { "next try " (time(d.next_attempt_at, now, &agent)) } }
                            }
                            td { (d.attempts) }
                            td {
                                @if let Some(status) = d.last_status { "HTTP " (status) }
                                @if let Some(e) = &d.last_error { br; span.hint { (e) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(Html(render::page(&agent, &t.name, Nav::Rules, &counts, now, content).into_string()))
}
