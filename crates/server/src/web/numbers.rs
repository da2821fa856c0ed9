//! Admin page: the business numbers and how each gets out of a closed window (SPEC 9): the fallback
//! ladder in order, the "reply waiting" template sent with a hold, how long holds wait, and the SMS
//! sender. Saved through the API's own validation (`api::fallbacks::validated_settings`), whose
//! errors name the field.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::render::{self, nav_counts, Nav};
use super::session::Agent;
use super::WebError;
use crate::api::error::ApiError;
use crate::api::fallbacks::{numbers_out, validated_settings, NumberOut, SettingsOut};
use crate::AppState;

/// The admin pages of numbers and templates are for admins only.
pub(super) fn admin_only(agent: &Agent) -> Result<(), WebError> {
    if agent.is_admin() {
        Ok(())
    } else {
        Err(WebError::Forbidden("Only admins change business numbers and templates.".into()))
    }
}

pub fn api_error(e: ApiError) -> WebError {
    match e {
        ApiError::NotFound(m) => WebError::NotFound(m),
        ApiError::Unavailable(s) => WebError::Store(s),
        ApiError::Conflict { message, .. } => WebError::Conflict(message),
        other => WebError::BadRequest(other.to_string()),
    }
}

/// A number's settings as the form shows them (as stored, or as just submitted).
#[derive(Clone, Debug, Default)]
struct Values {
    ladder: Vec<String>,
    notice: String,
    hold_hours: String,
    sms_from: String,
    read_receipts: bool,
    typing_indicator: bool,
}

impl Values {
    fn of(s: &SettingsOut) -> Values {
        Values {
            ladder: s.fallback_ladder.clone(),
            notice: match (&s.hold_notice_template, &s.hold_notice_language) {
                (Some(t), Some(l)) => format!("{t}|{l}"),
                _ => String::new(),
            },
            hold_hours: s.hold_hours.to_string(),
            sms_from: s.sms_from.clone().unwrap_or_default(),
            read_receipts: s.read_receipts,
            typing_indicator: s.typing_indicator,
        }
    }
}

/// A settings error to show on one number's form.
struct Problem {
    number_id: i64,
    field: String,
    message: String,
    values: Values,
}

const STEPS: [(&str, &str); 3] =
    [("hold", "Hold until the customer writes again"), ("template", "An approved template"), ("sms", "SMS with a link back to WhatsApp")];

fn number_form(state: &AppState, n: &NumberOut, agent: &Agent, templates: &[(String, String)], problem: Option<&Problem>) -> Markup {
    let values = problem.map(|p| p.values.clone()).unwrap_or_else(|| Values::of(&n.settings));
    let bad = |field: &str| problem.is_some_and(|p| p.field == field).then_some("true");
    let prefix = format!("n{}", n.id);
    html! {
        section.number #{"number-" (n.id)} aria-labelledby={(prefix) "-title"} {
            h2 #{(prefix) "-title"} { (n.name) " — " (n.display_number) }
            p.hint { "Phone number id " (n.phone_number_id) ", WhatsApp Business account " (n.waba_id) "." }
            @if let Some(p) = problem {
                p.error role="alert" #settings-error data-field=(p.field) { "Not saved. " strong { (p.field) } ": " (p.message) }
            }
            form.settings method="post" action={"/admin/numbers/" (n.id)} {
                input type="hidden" name="csrf" value=(agent.csrf());
                fieldset aria-invalid=[bad("fallback_ladder")] {
                    legend { "Ways out of a closed window, most preferred first" }
                    @for (i, ordinal) in ["First", "Second", "Third"].iter().enumerate() {
                        @let id = format!("{prefix}-ladder-{i}");
                        label for=(id) { (ordinal) " choice" }
                        select id=(id) name="ladder" {
                            option value="" selected[values.ladder.get(i).is_none()] { "(none)" }
                            @for (step, words) in STEPS {
                                option value=(step) selected[values.ladder.get(i).map(String::as_str) == Some(step)] { (words) }
                            }
                        }
                    }
                }
                label for={(prefix) "-notice"} { "Template sent when a reply is held (\"a reply is waiting for you\")" }
                select id={(prefix) "-notice"} name="hold_notice" aria-invalid=[bad("hold_notice_template").or(bad("hold_notice_language"))] {
                    option value="" selected[values.notice.is_empty()] { "(none)" }
                    @for (name, language) in templates {
                        @let v = format!("{name}|{language}");
                        option value=(v) selected[values.notice == v] { (name) " (" (language) ")" }
                    }
                }
                label for={(prefix) "-hours"} { "Hours a held reply waits before it fails as expired (1 to 720)" }
                input id={(prefix) "-hours"} name="hold_hours" type="number" min="1" max="720" value=(values.hold_hours) required aria-invalid=[bad("hold_hours")];
                label for={(prefix) "-sms"} { "SMS sender (E.164, e.g. +15550783881; empty for none)" }
                input id={(prefix) "-sms"} name="sms_from" value=(values.sms_from) maxlength="20" aria-invalid=[bad("sms_from")] aria-describedby={(prefix) "-sms-hint"};
                p.hint id={(prefix) "-sms-hint"} {
                    @if state.fallbacks.sms_enabled {
                        "An SMS provider is configured on this desk. "
                        @if n.sms_available { "SMS fallback is available for this number." } @else { "Set a sender to offer SMS fallback." }
                    } @else {
                        "No SMS provider is configured on this desk ([sms] in its configuration), so SMS is not offered whatever is set here."
                    }
                }
                fieldset.checks {
                    legend { "What the customer sees of the agents" }
                    p.rb-checkline {
                        input type="checkbox" id={(prefix) "-read"} name="read_receipts" value="on" checked[values.read_receipts];
                        label.check for={(prefix) "-read"} { "Read receipts: the customer's messages turn blue-ticked when an agent opens the ticket" }
                    }
                    p.rb-checkline {
                        input type="checkbox" id={(prefix) "-typing"} name="typing_indicator" value="on" checked[values.typing_indicator];
                        label.check for={(prefix) "-typing"} { "Typing indicator while an agent writes a reply (needs read receipts)" }
                    }
                }
                button type="submit" { "Save " (n.display_number) }
            }
        }
    }
}

async fn render_page(state: &AppState, agent: &Agent, done: Option<&str>, problem: Option<&Problem>) -> Result<Html<String>, WebError> {
    let counts = nav_counts(state, agent).await?;
    let now = state.clock.now();
    let numbers = numbers_out(state).await.map_err(api_error)?;
    let mut forms = Vec::with_capacity(numbers.len());
    for n in &numbers {
        let templates: Vec<(String, String)> = crate::templates::account_templates(state, n.id)
            .await?
            .into_iter()
            .filter(|t| t.is_approved())
            .map(|t| (t.name, t.language))
            .collect();
        forms.push(number_form(state, n, agent, &templates, problem.filter(|p| p.number_id == n.id)));
    }
    let content = html! {
        h1 { "Business numbers" }
        @if let Some(n) = render::notice(done) { (n) }
        p.hint { "When a customer's 24-hour window is closed, agents are offered these ways out in this order. Templates come from the "
            a href="/admin/templates" { "template registry" } "." }
        @if numbers.is_empty() { p.empty { "No business numbers are configured." } }
        @for f in forms { (f) }
    };
    Ok(Html(render::page(agent, "Business numbers", Nav::Numbers, &counts, now, content).into_string()))
}

#[derive(Deserialize)]
pub struct DoneQuery {
    pub done: Option<String>,
}

pub async fn numbers_page(State(state): State<AppState>, agent: Agent, Query(q): Query<DoneQuery>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    render_page(&state, &agent, q.done.as_deref(), None).await
}

/// `POST /admin/numbers/{id}`: `ladder` (repeated, in order), `hold_notice` (`name|language`),
/// `hold_hours`, `sms_from`.
pub async fn save_number(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    agent.check_csrf(&field("csrf"))?;
    admin_only(&agent)?;
    if state.numbers.by_id(id).is_none() {
        return Err(WebError::NotFound(format!("There is no business number {id}.")));
    }
    let values = Values {
        ladder: fields.iter().filter(|(k, v)| k == "ladder" && !v.is_empty()).map(|(_, v)| v.clone()).collect(),
        notice: field("hold_notice"),
        hold_hours: field("hold_hours"),
        sms_from: field("sms_from"),
        read_receipts: field("read_receipts") == "on",
        typing_indicator: field("typing_indicator") == "on",
    };
    let problem = |field: &str, message: String| Problem { number_id: id, field: field.to_owned(), message, values: values.clone() };
    let hold_hours = match values.hold_hours.parse::<i64>() {
        Ok(h) => h,
        Err(_) => {
            let p = problem("hold_hours", format!("must be a whole number of hours, got {:?}", values.hold_hours));
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render_page(&state, &agent, None, Some(&p)).await?).into_response());
        }
    };
    let (template, language) = match values.notice.split_once('|') {
        Some((t, l)) => (Some(t.to_owned()), Some(l.to_owned())),
        None if values.notice.is_empty() => (None, None),
        None => (Some(values.notice.clone()), None),
    };
    let submitted = SettingsOut {
        fallback_ladder: values.ladder.clone(),
        hold_notice_template: template,
        hold_notice_language: language,
        hold_hours,
        sms_from: Some(values.sms_from.clone()),
        read_receipts: values.read_receipts,
        typing_indicator: values.typing_indicator,
    };
    match validated_settings(&state, id, submitted, &agent.actor()).await {
        Ok(settings) => {
            if !state.store.save_number_settings(&settings).await? {
                return Err(WebError::NotFound(format!("There is no business number {id}.")));
            }
            tracing::info!(business_number_id = id, ladder = ?settings.fallback_ladder.iter().map(|f| f.as_str()).collect::<Vec<_>>(), "number settings saved");
            Ok(Redirect::to(&format!("/admin/numbers?done=saved#number-{id}")).into_response())
        }
        Err(ApiError::Invalid { field, message }) => {
            let p = problem(&field, message);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render_page(&state, &agent, None, Some(&p)).await?).into_response())
        }
        Err(e) => Err(api_error(e)),
    }
}
