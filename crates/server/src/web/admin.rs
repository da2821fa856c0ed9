//! The agent's own settings: their time zone and password, and, for admins, the way to the desk's
//! administration pages.

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::render::{self, nav_counts, Nav};
use super::session::Agent;
use super::WebError;
use crate::AppState;

/// A few common zones first; any IANA name can be typed.
const COMMON_ZONES: &[&str] = &[
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Madrid",
    "America/New_York",
    "America/Sao_Paulo",
    "America/Mexico_City",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Africa/Lagos",
    "Australia/Sydney",
];

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub async fn settings_page(State(state): State<AppState>, agent: Agent, Query(q): Query<DoneQuery>) -> Result<Html<String>, WebError> {
    let counts = nav_counts(&state, &agent).await?;
    let now = state.clock.now();
    let tz = agent.session.time_zone.clone();
    let content = html! {
        h1 { "Settings" }
        @if let Some(n) = render::notice(q.done.as_deref()) { (n) }
        form method="post" action="/settings" {
            input type="hidden" name="csrf" value=(agent.csrf());
            label for="time-zone" { "Your time zone" }
            select #time-zone name="time_zone" required {
                optgroup label="Common" {
                    @for z in COMMON_ZONES { option value=(z) selected[*z == tz] { (z.replace('_', " ")) } }
                }
                optgroup label="All time zones" {
                    @for z in chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).filter(|z| !COMMON_ZONES.contains(z)) {
                        option value=(z) selected[z == tz] { (z.replace('_', " ")) }
                    }
                }
            }
            p.hint { "Times everywhere in the desk are shown in it. It is now " (super::format::full_time(now, agent.tz())) " there." }
            button type="submit" { "Save" }
        }
        (super::account::password_form(&agent))
        @if agent.is_admin() {
            h2 { "Desk administration" }
            ul.admin-links {
                li { a href="/admin/agents" { "Agents" } ": who can sign in, their roles, and new passwords." }
                li { a href="/admin/api-tokens" { "API tokens" } ": what other systems use the REST API with; create and revoke them." }
                li { a href="/admin/numbers" { "Business numbers" } ": the ways out of a closed window, hold times and SMS senders." }
                li { a href="/admin/templates" { "Templates" } ": the approved templates of each WhatsApp account, and syncing them from Meta." }
            }
        }
    };
    Ok(Html(render::page(&agent, "Settings", Nav::Settings, &counts, now, content).into_string()))
}

#[derive(Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    csrf: String,
    time_zone: String,
}

pub async fn save_settings(State(state): State<AppState>, agent: Agent, Form(f): Form<SettingsForm>) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    let tz = f.time_zone.trim();
    if tz.parse::<chrono_tz::Tz>().is_err() {
        return Err(WebError::BadRequest(format!("time_zone: {tz:?} is not an IANA time zone such as Europe/Berlin")));
    }
    state.store.set_agent_time_zone(agent.id(), tz).await?;
    Ok(Redirect::to("/settings?done=saved").into_response())
}
