//! Admin page: business hours (SPEC 10, issue 13). Named schedules (time zone, hours per weekday,
//! holidays) and which one each business number keeps. Saved through the API's own validation
//! (`api::hours::validated`), whose errors name the field; the form shows them next to it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use windowdesk_core::Timestamp;

use super::format;
use super::numbers::{admin_only, api_error, DoneQuery};
use super::render::{self, nav_counts, Nav};
use super::session::Agent;
use super::WebError;
use crate::api::error::ApiError;
use crate::api::hours::{validated, HolidayIn, ScheduleIn, WeeklyHours};
use crate::AppState;

const DAYS: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

/// A schedule as the form writes it: one line of intervals per day, one holiday per line.
#[derive(Clone, Default)]
struct Values {
    name: String,
    time_zone: String,
    days: [String; 7],
    holidays: String,
}

impl Values {
    fn blank() -> Values {
        let office = "09:00-17:00".to_owned();
        Values {
            time_zone: "Europe/Berlin".into(),
            days: [office.clone(), office.clone(), office.clone(), office.clone(), office, String::new(), String::new()],
            ..Values::default()
        }
    }

    fn of(s: &crate::api::hours::ScheduleOut) -> Values {
        let w = &s.weekly;
        let line = |v: &Vec<String>| v.join(", ");
        Values {
            name: s.name.clone(),
            time_zone: s.time_zone.clone(),
            days: [line(&w.mon), line(&w.tue), line(&w.wed), line(&w.thu), line(&w.fri), line(&w.sat), line(&w.sun)],
            holidays: s
                .holidays
                .iter()
                .map(|h| match (&h.date, &h.from, &h.to) {
                    (Some(d), _, _) => format!("{d} {}", h.name),
                    (None, Some(f), Some(t)) => format!("{f}..{t} {}", h.name),
                    _ => h.name.clone(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// The API's request, or which field cannot even be read.
    fn request(&self) -> Result<ScheduleIn, (String, String)> {
        let intervals = |line: &str| line.split([',', ';']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        let d = &self.days;
        let mut holidays = Vec::new();
        for (i, line) in self.holidays.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
            let (when, name) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let name = name.trim().to_owned();
            holidays.push(match when.split_once("..") {
                Some((from, to)) => HolidayIn { date: None, from: Some(from.into()), to: Some(to.into()), name },
                None if when.len() == 10 => HolidayIn { date: Some(when.into()), from: None, to: None, name },
                None => {
                    return Err((
                        "holidays".into(),
                        format!("line {}: write \"YYYY-MM-DD Name\" or \"YYYY-MM-DD..YYYY-MM-DD Name\", got {line:?}", i + 1),
                    ))
                }
            });
        }
        Ok(ScheduleIn {
            name: self.name.trim().to_owned(),
            time_zone: self.time_zone.trim().to_owned(),
            weekly: WeeklyHours {
                mon: intervals(&d[0]),
                tue: intervals(&d[1]),
                wed: intervals(&d[2]),
                thu: intervals(&d[3]),
                fri: intervals(&d[4]),
                sat: intervals(&d[5]),
                sun: intervals(&d[6]),
            },
            holidays,
        })
    }
}

/// A save that was refused, to show on its form.
struct Problem {
    /// The schedule id, or `None` for the new-schedule form.
    schedule: Option<i64>,
    field: String,
    message: String,
    values: Values,
}

fn schedule_form(agent: &Agent, id: Option<i64>, values: &Values, problem: Option<&Problem>, now_line: Option<Markup>) -> Markup {
    let bad = |field: &str| problem.is_some_and(|p| p.field == field).then_some("true");
    let prefix = id.map_or("new".to_owned(), |id| format!("s{id}"));
    let action = id.map_or("/admin/hours".to_owned(), |id| format!("/admin/hours/{id}"));
    html! {
        form.schedule method="post" action=(action) {
            input type="hidden" name="csrf" value=(agent.csrf());
            @if let Some(p) = problem {
                p.error role="alert" #schedule-error data-field=(p.field) { "Not saved. " strong { (p.field) } ": " (p.message) }
            }
            @if let Some(line) = now_line { (line) }
            label for={(prefix) "-name"} { "Name" }
            input id={(prefix) "-name"} name="name" value=(values.name) required maxlength="100" aria-invalid=[bad("name")];
            label for={(prefix) "-tz"} { "Time zone (IANA name, e.g. Europe/Berlin, America/New_York)" }
            input id={(prefix) "-tz"} name="time_zone" value=(values.time_zone) required list="time-zones" aria-invalid=[bad("time_zone")];
            fieldset.week {
                legend { "Opening hours, local time: intervals separated by commas (09:00-12:30, 13:30-17:00); 00:00-24:00 for all day; empty for closed. Overnight: 22:00-24:00 on one day and 00:00-02:00 on the next." }
                @for (i, (key, day)) in DAYS.iter().enumerate() {
                    @let field = format!("weekly.{key}");
                    label for={(prefix) "-" (key)} { (day) }
                    input id={(prefix) "-" (key)} name=(key) value=(values.days[i]) placeholder="closed" aria-invalid=[bad(&field)];
                }
            }
            label for={(prefix) "-holidays"} { "Holidays and closures, one per line: 2026-12-25 Christmas Day, or 2026-12-24..2026-12-31 Closed for the holidays" }
            textarea id={(prefix) "-holidays"} name="holidays" rows="4" aria-invalid=[bad("holidays")] { (values.holidays) }
            button type="submit" { @if id.is_some() { "Save " (values.name) } @else { "Create schedule" } }
        }
    }
}

async fn render_page(state: &AppState, agent: &Agent, done: Option<&str>, problem: Option<&Problem>) -> Result<Html<String>, WebError> {
    let counts = nav_counts(state, agent).await?;
    let now = state.clock.now();
    let rows = state.store.schedules().await?;
    let numbers = crate::api::fallbacks::numbers_out(state).await.map_err(api_error)?;
    let mut schedules = Vec::with_capacity(rows.len());
    for row in &rows {
        schedules.push(crate::api::hours::out_of(state, row).map_err(api_error)?);
    }
    let content = html! {
        h1 { "Business hours" }
        @if let Some(n) = render::notice(done) { (n) }
        p.hint { "The desk knows when each business number's team is at work: the ticket page says when a window closes outside business hours and when the team is back, and rules can act on it. A number without business hours is always open." }
        datalist #time-zones { @for tz in chrono_tz::TZ_VARIANTS { option value=(tz.name()) {} } }
        section.assign aria-labelledby="assign-title" {
            h2 #assign-title { "Which hours each number keeps" }
            @if numbers.is_empty() { p.empty { "No business numbers are configured." } }
            @for n in &numbers {
                @let current = schedules.iter().find(|s| s.business_number_ids.contains(&n.id)).map(|s| s.id);
                form.inline.assign method="post" action={"/admin/hours/numbers/" (n.id)} {
                    input type="hidden" name="csrf" value=(agent.csrf());
                    label for={"assign-" (n.id)} { (n.name) " — " (n.display_number) }
                    select id={"assign-" (n.id)} name="schedule_id" {
                        option value="" selected[current.is_none()] { "Always open" }
                        @for s in &schedules { option value=(s.id) selected[current == Some(s.id)] { (s.name) } }
                    }
                    button type="submit" { "Save" }
                }
            }
        }
        @for s in &schedules {
            section.schedule-card #{"schedule-" (s.id)} aria-labelledby={"schedule-" (s.id) "-title"} {
                h2 #{"schedule-" (s.id) "-title"} { (s.name) }
                @let p = problem.filter(|p| p.schedule == Some(s.id));
                @let values = p.map_or_else(|| Values::of(s), |p| p.values.clone());
                (schedule_form(agent, Some(s.id), &values, p, Some(now_line(s, now))))
                form.inline method="post" action={"/admin/hours/" (s.id) "/delete"} {
                    input type="hidden" name="csrf" value=(agent.csrf());
                    button.danger type="submit" disabled[!s.business_number_ids.is_empty()] title=[(!s.business_number_ids.is_empty()).then_some("Give its numbers other hours first")] { "Delete " (s.name) }
                }
            }
        }
        section.schedule-card #schedule-new aria-labelledby="schedule-new-title" {
            h2 #schedule-new-title { "New schedule" }
            @let p = problem.filter(|p| p.schedule.is_none());
            @let values = p.map_or_else(Values::blank, |p| p.values.clone());
            (schedule_form(agent, None, &values, p, None))
        }
    };
    Ok(Html(render::page(agent, "Business hours", Nav::Hours, &counts, now, content).into_string()))
}

fn now_line(s: &crate::api::hours::ScheduleOut, now: Timestamp) -> Markup {
    let parse = |t: &Option<String>| {
        t.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|d| Timestamp::from_unix_millis(d.timestamp_millis()))
    };
    let tz: chrono_tz::Tz = s.time_zone.parse().unwrap_or(chrono_tz::UTC);
    html! {
        p.hint.now {
            @if s.now.open {
                "Open now"
                @if let Some(close) = parse(&s.now.next_close) { "; closes " time datetime=(format::iso(close)) { (windowdesk_core::hours::format_relative(tz, close, now)) } }
                "."
            } @else {
                "Closed now"
                @if let Some(open) = parse(&s.now.next_open) { "; opens " time datetime=(format::iso(open)) { (windowdesk_core::hours::format_relative(tz, open, now)) } }
                "."
            }
        }
    }
}

pub async fn hours_page(State(state): State<AppState>, agent: Agent, Query(q): Query<DoneQuery>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    render_page(&state, &agent, q.done.as_deref(), None).await
}

fn values_of(fields: &[(String, String)]) -> Values {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    Values { name: field("name"), time_zone: field("time_zone"), days: DAYS.map(|(key, _)| field(key)), holidays: field("holidays") }
}

/// Creates (`id` none) or replaces a schedule from the form.
async fn save(state: &AppState, agent: &Agent, id: Option<i64>, fields: &[(String, String)]) -> Result<Response, WebError> {
    let csrf = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or_default();
    agent.check_csrf(csrf)?;
    admin_only(agent)?;
    let values = values_of(fields);
    let refused = |field: String, message: String| Problem { schedule: id, field, message, values: values.clone() };
    let problem = match values.request() {
        Err((field, message)) => refused(field, message),
        Ok(req) => match validated(state, &req, &agent.actor()) {
            Ok(draft) => {
                let saved = match id {
                    Some(id) => {
                        if !state.store.update_schedule(id, &draft).await.map_err(|e| api_error(e.into()))? {
                            return Err(WebError::NotFound(format!("There is no schedule {id}.")));
                        }
                        id
                    }
                    None => state.store.create_schedule(&draft).await.map_err(|e| api_error(e.into()))?.id,
                };
                tracing::info!(schedule_id = saved, "business hours saved");
                return Ok(Redirect::to(&format!("/admin/hours?done=saved#schedule-{saved}")).into_response());
            }
            Err(ApiError::Invalid { field, message }) => refused(field, message),
            Err(e) => return Err(api_error(e)),
        },
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render_page(state, agent, None, Some(&problem)).await?).into_response())
}

/// `POST /admin/hours`: a new schedule.
pub async fn create(State(state): State<AppState>, agent: Agent, Form(fields): Form<Vec<(String, String)>>) -> Result<Response, WebError> {
    save(&state, &agent, None, &fields).await
}

/// `POST /admin/hours/{id}`: replaces a schedule.
pub async fn update(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    save(&state, &agent, Some(id), &fields).await
}

/// `POST /admin/hours/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let csrf = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or_default();
    agent.check_csrf(csrf)?;
    admin_only(&agent)?;
    if !state.store.delete_schedule(id).await.map_err(|e| api_error(e.into()))? {
        return Err(WebError::NotFound(format!("There is no schedule {id}.")));
    }
    Ok(Redirect::to("/admin/hours?done=saved").into_response())
}

/// `POST /admin/hours/numbers/{id}`: `schedule_id` (empty: always open).
pub async fn assign(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    agent.check_csrf(&field("csrf"))?;
    admin_only(&agent)?;
    let schedule_id = match field("schedule_id").as_str() {
        "" => None,
        s => Some(s.parse::<i64>().map_err(|_| WebError::BadRequest(format!("schedule_id must be a schedule's id, got {s:?}")))?),
    };
    if state.numbers.by_id(id).is_none() || !state.store.assign_schedule(id, schedule_id).await.map_err(|e| api_error(e.into()))? {
        return Err(WebError::NotFound(format!("There is no business number {id}.")));
    }
    Ok(Redirect::to("/admin/hours?done=saved").into_response())
}
