//! Admin page: business hours (SPEC 10, issue 13). Named schedules (time zone, hours per weekday,
//! holidays) and which one each business number keeps. Saved through the API's own validation
//! (`api::hours::validated`), whose errors name the field; the form shows them next to it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use windowdesk_core::hours::HolidaySource;
use windowdesk_core::Timestamp;

use super::format;
use super::numbers::{admin_only, api_error, DoneQuery};
use super::render::{self, nav_counts, Nav};
use super::session::Agent;
use super::WebError;
use crate::api::error::ApiError;
use crate::api::hours::{validated, HolidayIn, ImportOut, ScheduleIn, ScheduleOut, WeeklyHours};
use crate::hours_import::{self, ImportError, Origin};
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
                .filter(|h| h.source.is_admin())
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
            let admin = |date: Option<&str>, from: Option<&str>, to: Option<&str>, name: String| HolidayIn {
                date: date.map(str::to_owned),
                from: from.map(str::to_owned),
                to: to.map(str::to_owned),
                name,
                source: HolidaySource::Admin,
                calendar: None,
            };
            holidays.push(match when.split_once("..") {
                Some((from, to)) => admin(None, Some(from), Some(to), name),
                None if when.len() == 10 => admin(Some(when), None, None, name),
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
            label for={(prefix) "-holidays"} { "Holidays and closures, one per line: 2026-12-25 Christmas Day, or 2026-12-24..2026-12-31 Closed for the holidays. A day written here keeps your entry whatever a calendar import says." }
            textarea id={(prefix) "-holidays"} name="holidays" rows="4" aria-invalid=[bad("holidays")] { (values.holidays) }
            button type="submit" { @if id.is_some() { "Save " (values.name) } @else { "Create schedule" } }
        }
    }
}

/// What an import on the page did, to show on its schedule's card.
struct ImportNote {
    schedule: i64,
    outcome: Result<ImportOut, String>,
}

async fn render_page(
    state: &AppState,
    agent: &Agent,
    done: Option<&str>,
    problem: Option<&Problem>,
    import: Option<&ImportNote>,
) -> Result<Html<String>, WebError> {
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
                (imports_section(agent, s, import.filter(|n| n.schedule == s.id)))
                form.inline method="post" action={"/admin/hours/" (s.id) "/delete"}
                    data-confirm={"Delete the business hours “" (s.name) "” and their holidays? This cannot be undone."} {
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
    render_page(&state, &agent, q.done.as_deref(), None, None).await
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
        Ok(mut req) => match with_imported(state, id, &mut req).await.and_then(|()| validated(state, &req, &agent.actor())) {
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
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render_page(state, agent, None, Some(&problem), None).await?).into_response())
}

/// The form holds the admin's holidays only: a save keeps what calendar imports brought (a day the
/// admin wrote wins over an imported one; the schedule cuts it out).
async fn with_imported(state: &AppState, id: Option<i64>, req: &mut ScheduleIn) -> Result<(), ApiError> {
    let Some(id) = id else { return Ok(()) };
    let Some(row) = state.store.schedule(id).await? else { return Ok(()) };
    let current = crate::api::hours::out_of(state, &row)?;
    req.holidays.extend(current.holidays.into_iter().filter(|h| !h.source.is_admin()));
    Ok(())
}

/// The calendars imported into a schedule, each with its holidays and a button to remove them, and
/// the form that imports one (a file or a URL).
fn imports_section(agent: &Agent, s: &ScheduleOut, note: Option<&ImportNote>) -> Markup {
    let mut by_calendar: Vec<(&str, Vec<&HolidayIn>)> = Vec::new();
    for h in s.holidays.iter().filter(|h| !h.source.is_admin()) {
        let calendar = h.calendar.as_deref().unwrap_or_default();
        match by_calendar.iter_mut().find(|(c, _)| *c == calendar) {
            Some((_, list)) => list.push(h),
            None => by_calendar.push((calendar, vec![h])),
        }
    }
    let id = s.id;
    let failed = note.and_then(|n| n.outcome.as_ref().err());
    html! {
        section.imports #{"imports-" (id)} aria-labelledby={"imports-" (id) "-title"} {
            h3 #{"imports-" (id) "-title"} { "Holidays from calendars" }
            @if let Some(Ok(out)) = note.map(|n| &n.outcome) { (import_report(out)) }
            @for (calendar, holidays) in &by_calendar {
                div.import data-calendar=(calendar) {
                    p { strong { (calendar) } " — " (holidays.len()) " imported " (if holidays.len() == 1 { "holiday" } else { "holidays" }) }
                    ul.holidays {
                        @for h in holidays {
                            li { (holiday_dates(h)) " " (h.name) }
                        }
                    }
                    form.inline method="post" action={"/admin/hours/" (id) "/import/remove"}
                        data-confirm={"Remove the holidays imported from “" (calendar) "”?"} {
                        input type="hidden" name="csrf" value=(agent.csrf());
                        input type="hidden" name="calendar" value=(calendar);
                        button.danger type="submit" { "Remove the holidays of " (calendar) }
                    }
                }
            }
            details.import-form open[failed.is_some()] {
                summary { "Import holidays from an iCal calendar (.ics)" }
                form method="post" action={"/admin/hours/" (id) "/import"} enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(agent.csrf());
                    @if let Some(message) = failed {
                        p.error role="alert" #{"import-error-" (id)} { "Not imported. " (message) }
                    }
                    label for={"import-file-" (id)} { "A calendar file (.ics)" }
                    input #{"import-file-" (id)} type="file" name="file" accept=".ics,text/calendar";
                    label for={"import-url-" (id)} { "or the calendar's address (https:// or webcal://)" }
                    input #{"import-url-" (id)} type="url" name="url" placeholder="https://example.com/holidays.ics" maxlength="200";
                    label for={"import-name-" (id)} { "Name of this import (optional: the address, or the calendar's own name)" }
                    input #{"import-name-" (id)} name="calendar" maxlength="200";
                    p.hint { "All-day events become holidays (several days for a multi-day event); events with times close the whole days they touch in this schedule's time zone; yearly and other repeating events are added for this year and the next two. Importing the same calendar again replaces what it brought before. A day you wrote above keeps your entry." }
                    button type="submit" { "Import holidays" }
                }
            }
        }
    }
}

fn holiday_dates(h: &HolidayIn) -> String {
    match (&h.date, &h.from, &h.to) {
        (Some(d), _, _) => d.clone(),
        (None, Some(f), Some(t)) => format!("{f}..{t}"),
        _ => String::new(),
    }
}

/// What an import just did: the counts, then each kept day and skipped event with its reason.
fn import_report(out: &ImportOut) -> Markup {
    html! {
        div.notice.ok role="status" #import-report data-calendar=(out.calendar) {
            p {
                "Imported " strong { (out.calendar) } ": "
                (out.added.len()) " added, " (out.unchanged.len()) " unchanged, " (out.removed.len()) " removed"
                @if !out.kept.is_empty() { "; " (out.kept.len()) " kept as you wrote them" }
                @if !out.skipped.is_empty() { "; " (out.skipped.len()) " events skipped" }
                "."
            }
            @if !out.kept.is_empty() {
                ul.kept {
                    @for k in &out.kept {
                        li { (if k.from == k.to { k.from.clone() } else { format!("{}..{}", k.from, k.to) }) " " (k.name) ": " (k.reason) }
                    }
                }
            }
            @if !out.skipped.is_empty() {
                ul.skipped {
                    @for e in &out.skipped {
                        li { (e.summary.as_deref().or(e.uid.as_deref()).unwrap_or("An event without a name")) ": " (e.reason) }
                    }
                }
            }
        }
    }
}

/// `POST /admin/hours/{id}/import` (multipart: `csrf`, and `file` or `url`, optionally `calendar`).
pub async fn import(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    mut form: axum::extract::Multipart,
) -> Result<Response, WebError> {
    let (mut csrf, mut url, mut name) = (String::new(), String::new(), String::new());
    let mut file: Option<(Option<String>, Vec<u8>)> = None;
    let unreadable =
        |e: axum::extract::multipart::MultipartError| WebError::BadRequest(format!("The form could not be read: {}", e.body_text()));
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        match field.name().unwrap_or_default() {
            "csrf" => csrf = field.text().await.map_err(unreadable)?,
            "url" => url = field.text().await.map_err(unreadable)?,
            "calendar" => name = field.text().await.map_err(unreadable)?,
            "file" => {
                let file_name = field.file_name().map(str::to_owned).filter(|n| !n.is_empty());
                let bytes = field.bytes().await.map_err(unreadable)?;
                if file_name.is_some() || !bytes.is_empty() {
                    file = Some((file_name, bytes.to_vec()));
                }
            }
            _ => {}
        }
    }
    agent.check_csrf(&csrf)?;
    admin_only(&agent)?;
    let outcome = import_from_form(&state, &agent, id, file, url.trim(), &name).await;
    let (status, outcome) = match outcome {
        Ok(imported) => (StatusCode::OK, Ok(crate::api::hours::import_out(&state, &imported).map_err(api_error)?)),
        Err(ImportError::NoSchedule(id)) => return Err(WebError::NotFound(format!("There is no schedule {id}."))),
        Err(ImportError::Store(e)) => return Err(e.into()),
        Err(ImportError::Internal(e)) => return Err(api_error(ApiError::Internal(e))),
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, Err(e.to_string())),
    };
    let note = ImportNote { schedule: id, outcome };
    Ok((status, render_page(&state, &agent, None, None, Some(&note)).await?).into_response())
}

async fn import_from_form(
    state: &AppState,
    agent: &Agent,
    id: i64,
    file: Option<(Option<String>, Vec<u8>)>,
    url: &str,
    name: &str,
) -> Result<hours_import::Imported, ImportError> {
    let name = hours_import::calendar_name(Some(name))?;
    match (file, url) {
        (Some(_), url) if !url.is_empty() => {
            Err(ImportError::Invalid { field: "file", message: "choose a file or give an address, not both".into() })
        }
        (Some((file_name, bytes)), _) => {
            if bytes.len() > hours_import::MAX_CALENDAR_BYTES {
                let mib = hours_import::MAX_CALENDAR_BYTES / (1024 * 1024);
                return Err(ImportError::Invalid { field: "file", message: format!("the file is larger than {mib} MiB") });
            }
            let text = String::from_utf8_lossy(&bytes);
            hours_import::import(state, id, &text, "file", name, Origin::Upload(file_name), &agent.actor()).await
        }
        (None, "") => Err(ImportError::Invalid { field: "file", message: "choose a calendar file (.ics) or give its address".into() }),
        (None, url) => {
            let url = hours_import::calendar_url(url)?;
            let text = hours_import::fetch(&url).await?;
            hours_import::import(state, id, &text, "url", name, Origin::Url(url.to_string()), &agent.actor()).await
        }
    }
}

/// `POST /admin/hours/{id}/import/remove`: `calendar`, whose holidays go.
pub async fn remove_import(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    agent.check_csrf(&field("csrf"))?;
    admin_only(&agent)?;
    match hours_import::remove(&state, id, &field("calendar"), &agent.actor()).await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/hours?done=saved#schedule-{id}")).into_response()),
        Err(ImportError::NoSchedule(id)) => Err(WebError::NotFound(format!("There is no schedule {id}."))),
        Err(ImportError::Store(e)) => Err(e.into()),
        Err(ImportError::Busy(_)) => Err(WebError::Conflict("The schedule kept changing; try again.".into())),
        Err(e) => Err(api_error(ApiError::Internal(e.to_string()))),
    }
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
