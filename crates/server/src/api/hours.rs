//! Business hours (SPEC 10, issue 13): named schedules and which one each business number keeps.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use windowdesk_core::hours::{HolidaySource, HolidaySpec, Schedule, ScheduleError, ScheduleSpec, WeeklySpec};
use windowdesk_store::{ScheduleDraft, ScheduleRow};

use super::auth::ApiCaller;
use super::dto::{rfc3339, Page};
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, PathId};
use super::schema;
use crate::AppState;

/// Local opening hours per weekday, e.g. `["09:00-12:30", "13:30-17:00"]`; `["00:00-24:00"]` for all day;
/// an empty list or a missing day is closed. Overnight hours are two intervals: `"22:00-24:00"` on one
/// day and `"00:00-02:00"` on the next.
#[derive(Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    #[serde(default)]
    pub mon: Vec<String>,
    #[serde(default)]
    pub tue: Vec<String>,
    #[serde(default)]
    pub wed: Vec<String>,
    #[serde(default)]
    pub thu: Vec<String>,
    #[serde(default)]
    pub fri: Vec<String>,
    #[serde(default)]
    pub sat: Vec<String>,
    #[serde(default)]
    pub sun: Vec<String>,
}

/// A whole local day (`date`) or a range of days (`from`, `to`, both included) when the business is
/// closed, with a name.
#[derive(Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayIn {
    /// `YYYY-MM-DD`, in the schedule's time zone. Left out (not null) in answers for a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The first day of a range; left out in answers for a single day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The last day of a range (included); left out in answers for a single day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub name: String,
    /// `admin` (the default) or `ical`: imported with `POST /api/v1/schedules/{id}/holidays/import`.
    /// A day an `admin` holiday covers is cut out of `ical` ones.
    #[serde(default)]
    #[schema(value_type = Option<schema::HolidaySource>)]
    pub source: HolidaySource,
    /// The calendar an `ical` holiday was imported from (its URL or name); left out for `admin` ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
}

impl HolidayIn {
    pub(crate) fn of(h: HolidaySpec) -> HolidayIn {
        HolidayIn { date: h.date, from: h.from, to: h.to, name: h.name, source: h.source, calendar: h.calendar }
    }
}

/// A schedule as written: a name, an IANA time zone, weekly hours and holidays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleIn {
    pub name: String,
    /// IANA name, e.g. `Europe/Berlin`.
    pub time_zone: String,
    #[serde(default)]
    pub weekly: WeeklyHours,
    #[serde(default)]
    pub holidays: Vec<HolidayIn>,
}

/// Whether the schedule is open now, and its next changes.
#[derive(Serialize, ToSchema)]
pub struct ScheduleNow {
    pub open: bool,
    /// The start of the next opening (now when open); null when it never opens.
    pub next_open: Option<String>,
    /// The end of the current or next opening; null when it never opens or never closes.
    pub next_close: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ScheduleOut {
    pub id: i64,
    pub name: String,
    pub time_zone: String,
    pub weekly: WeeklyHours,
    pub holidays: Vec<HolidayIn>,
    /// The business numbers that keep these hours.
    pub business_number_ids: Vec<i64>,
    pub now: ScheduleNow,
    pub updated_at: String,
    pub updated_by: Option<String>,
}

fn spec_of(req: &ScheduleIn) -> ScheduleSpec {
    let w = &req.weekly;
    ScheduleSpec {
        time_zone: req.time_zone.clone(),
        weekly: WeeklySpec {
            mon: w.mon.clone(),
            tue: w.tue.clone(),
            wed: w.wed.clone(),
            thu: w.thu.clone(),
            fri: w.fri.clone(),
            sat: w.sat.clone(),
            sun: w.sun.clone(),
        },
        holidays: req
            .holidays
            .iter()
            .map(|h| HolidaySpec {
                date: h.date.clone(),
                from: h.from.clone(),
                to: h.to.clone(),
                name: h.name.clone(),
                source: h.source,
                calendar: h.calendar.clone(),
            })
            .collect(),
    }
}

/// Which field a schedule error is about, for `details.field`.
fn field_of(e: &ScheduleError) -> String {
    match e {
        ScheduleError::UnknownTimeZone(_) => "time_zone".into(),
        ScheduleError::BadInterval { day, .. }
        | ScheduleError::BadTime { day, .. }
        | ScheduleError::EndBeforeStart { day, .. }
        | ScheduleError::EmptyInterval { day, .. }
        | ScheduleError::Overlap { day, .. } => format!("weekly.{day}"),
        ScheduleError::BadDate { .. }
        | ScheduleError::HolidayDates { .. }
        | ScheduleError::HolidayEndsBeforeStart { .. }
        | ScheduleError::HolidayWithoutName { .. }
        | ScheduleError::ImportedWithoutCalendar { .. }
        | ScheduleError::CalendarWithoutImport { .. } => "holidays".into(),
    }
}

pub(crate) fn validated(state: &AppState, req: &ScheduleIn, actor: &str) -> Result<ScheduleDraft, ApiError> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "must be 1 to 100 characters"));
    }
    let spec = spec_of(req);
    let schedule = Schedule::from_spec(&spec).map_err(|e| ApiError::invalid(field_of(&e), e.to_string()))?;
    // Stored as the core writes it back: normalised, so what is read is what was checked.
    let spec = serde_json::to_string(&schedule.to_spec()).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(ScheduleDraft { name: name.to_owned(), spec, actor: actor.to_owned(), now: state.clock.now() })
}

pub(crate) fn out_of(state: &AppState, row: &ScheduleRow) -> Result<ScheduleOut, ApiError> {
    let schedule = crate::hours::parse(row).map_err(ApiError::Internal)?;
    let spec = schedule.to_spec();
    let now = state.clock.now();
    let w = spec.weekly;
    Ok(ScheduleOut {
        id: row.id,
        name: row.name.clone(),
        time_zone: spec.time_zone,
        weekly: WeeklyHours { mon: w.mon, tue: w.tue, wed: w.wed, thu: w.thu, fri: w.fri, sat: w.sat, sun: w.sun },
        holidays: spec.holidays.into_iter().map(HolidayIn::of).collect(),
        business_number_ids: row.business_number_ids.clone(),
        now: ScheduleNow {
            open: schedule.is_open(now),
            next_open: schedule.next_open(now).map(rfc3339),
            next_close: schedule.next_close(now).map(rfc3339),
        },
        updated_at: rfc3339(row.updated_at),
        updated_by: row.updated_by.clone(),
    })
}

#[utoipa::path(
    get, path = "/api/v1/schedules", tag = "business hours",
    responses((status = 200, description = "Every business-hours schedule, by name", body = Page<ScheduleOut>))
)]
pub async fn list_schedules(State(state): State<AppState>, _caller: ApiCaller) -> Result<Json<Page<ScheduleOut>>, ApiError> {
    let rows = state.store.schedules().await?;
    let data = rows.iter().map(|r| out_of(&state, r)).collect::<Result<_, _>>()?;
    Ok(Json(Page { data, next: None }))
}

#[utoipa::path(
    post, path = "/api/v1/schedules", tag = "business hours",
    request_body = ScheduleIn,
    responses(
        (status = 201, description = "Created", body = ScheduleOut),
        (status = 409, description = "A schedule of that name exists", body = super::error::ErrorBody),
        (status = 422, description = "An interval, holiday or the time zone is invalid; `details.field` names it", body = super::error::ErrorBody),
    )
)]
pub async fn post_schedule(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(req): ApiJson<ScheduleIn>,
) -> Result<(StatusCode, Json<ScheduleOut>), ApiError> {
    let draft = validated(&state, &req, &caller.actor())?;
    let row = state.store.create_schedule(&draft).await?;
    Ok((StatusCode::CREATED, Json(out_of(&state, &row)?)))
}

#[utoipa::path(
    get, path = "/api/v1/schedules/{id}", tag = "business hours",
    params(("id" = i64, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "The schedule", body = ScheduleOut),
        (status = 404, description = "No such schedule", body = super::error::ErrorBody),
    )
)]
pub async fn get_schedule(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<Json<ScheduleOut>, ApiError> {
    let row = state.store.schedule(id).await?.ok_or_else(|| ApiError::NotFound(format!("schedule {id} does not exist")))?;
    Ok(Json(out_of(&state, &row)?))
}

#[utoipa::path(
    put, path = "/api/v1/schedules/{id}", tag = "business hours",
    params(("id" = i64, Path, description = "Schedule id")),
    request_body = ScheduleIn,
    responses(
        (status = 200, description = "The schedule as stored", body = ScheduleOut),
        (status = 404, description = "No such schedule", body = super::error::ErrorBody),
        (status = 409, description = "Another schedule has that name", body = super::error::ErrorBody),
        (status = 422, description = "An interval, holiday or the time zone is invalid; `details.field` names it", body = super::error::ErrorBody),
    )
)]
pub async fn put_schedule(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(req): ApiJson<ScheduleIn>,
) -> Result<Json<ScheduleOut>, ApiError> {
    let draft = validated(&state, &req, &caller.actor())?;
    if !state.store.update_schedule(id, &draft).await? {
        return Err(ApiError::NotFound(format!("schedule {id} does not exist")));
    }
    get_schedule(State(state), caller, PathId(id)).await
}

#[utoipa::path(
    delete, path = "/api/v1/schedules/{id}", tag = "business hours",
    params(("id" = i64, Path, description = "Schedule id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such schedule", body = super::error::ErrorBody),
        (status = 409, description = "It still serves a business number", body = super::error::ErrorBody),
    )
)]
pub async fn delete_schedule(State(state): State<AppState>, _caller: ApiCaller, PathId(id): PathId) -> Result<StatusCode, ApiError> {
    if !state.store.delete_schedule(id).await? {
        return Err(ApiError::NotFound(format!("schedule {id} does not exist")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Which schedule a business number keeps; null: always open.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberScheduleIn {
    pub schedule_id: Option<i64>,
}

#[utoipa::path(
    put, path = "/api/v1/numbers/{id}/schedule", tag = "business hours",
    params(("id" = i64, Path, description = "Business number id")),
    request_body = NumberScheduleIn,
    responses(
        (status = 200, description = "Assigned", body = NumberScheduleIn),
        (status = 404, description = "No such business number or schedule", body = super::error::ErrorBody),
    )
)]
pub async fn put_number_schedule(
    State(state): State<AppState>,
    _caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(req): ApiJson<NumberScheduleIn>,
) -> Result<Json<NumberScheduleIn>, ApiError> {
    if state.numbers.by_id(id).is_none() || !state.store.assign_schedule(id, req.schedule_id).await? {
        return Err(ApiError::NotFound(format!("business number {id} does not exist")));
    }
    Ok(Json(req))
}

/// `{"url": "https://…/holidays.ics"}`: the calendar to fetch, and optionally the name its import goes by.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportUrlIn {
    /// An `http`, `https` or `webcal` URL of an iCalendar file.
    #[schema(value_type = schema::Text)]
    pub url: String,
    /// The name the import goes by (importing under the same name again replaces it); default: the URL.
    #[serde(default)]
    pub calendar: Option<String>,
}

/// Names the import of an uploaded calendar (`text/calendar` body).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// The name the import goes by (importing under the same name again replaces it); default: the
    /// calendar's `X-WR-CALNAME`, else `uploaded calendar`.
    #[param(value_type = Option<schema::Text>)]
    pub calendar: Option<String>,
}

/// A day the calendar closes that an admin's holiday already covers: the admin's entry stays.
#[derive(Serialize, ToSchema)]
pub struct KeptOut {
    pub from: String,
    pub to: String,
    /// The calendar's name for it.
    pub name: String,
    pub reason: String,
}

/// An event of the calendar that closes nothing, and why.
#[derive(Serialize, ToSchema)]
pub struct SkippedOut {
    pub summary: Option<String>,
    pub uid: Option<String>,
    pub reason: String,
}

/// What an import changed.
#[derive(Serialize, ToSchema)]
pub struct ImportOut {
    /// The name this import goes by: importing under it again replaces what it brought.
    pub calendar: String,
    /// Holidays this import brought that the schedule did not have.
    pub added: Vec<HolidayIn>,
    /// Holidays an earlier import of this calendar brought and this one brings again.
    pub unchanged: Vec<HolidayIn>,
    /// Holidays an earlier import of this calendar brought that it no longer holds.
    pub removed: Vec<HolidayIn>,
    /// Days an admin's holiday already covers, which keep the admin's entry.
    pub kept: Vec<KeptOut>,
    /// Events that close nothing, with the reason.
    pub skipped: Vec<SkippedOut>,
    pub schedule: ScheduleOut,
}

impl From<crate::hours_import::ImportError> for ApiError {
    fn from(e: crate::hours_import::ImportError) -> Self {
        use crate::hours_import::ImportError as E;
        match e {
            E::NoSchedule(id) => ApiError::NotFound(format!("schedule {id} does not exist")),
            E::Invalid { field, message } => ApiError::invalid(field, message),
            e @ E::Fetch(_) => ApiError::Upstream(e.to_string()),
            e @ E::Busy(_) => ApiError::conflict(e.to_string()),
            E::Store(e) => e.into(),
            E::Internal(e) => ApiError::Internal(e),
        }
    }
}

fn holiday_out(h: &windowdesk_core::hours::Holiday) -> HolidayIn {
    let (date, from, to) =
        if h.from == h.to { (Some(h.from.to_string()), None, None) } else { (None, Some(h.from.to_string()), Some(h.to.to_string())) };
    HolidayIn { date, from, to, name: h.name.clone(), source: h.source, calendar: h.calendar.clone() }
}

pub(crate) fn import_out(state: &AppState, imported: &crate::hours_import::Imported) -> Result<ImportOut, ApiError> {
    let r = &imported.report;
    Ok(ImportOut {
        calendar: imported.calendar.clone(),
        added: r.added.iter().map(holiday_out).collect(),
        unchanged: r.unchanged.iter().map(holiday_out).collect(),
        removed: r.removed.iter().map(holiday_out).collect(),
        kept: r
            .kept
            .iter()
            .map(|k| KeptOut {
                from: k.from.to_string(),
                to: k.to.to_string(),
                name: k.name.clone(),
                reason: format!("the admin's holiday {:?} covers it", k.admin_name),
            })
            .collect(),
        skipped: r
            .skipped
            .iter()
            .map(|s| SkippedOut { summary: s.summary.clone(), uid: s.uid.clone(), reason: s.reason.clone() })
            .collect(),
        schedule: out_of(state, &imported.row)?,
    })
}

#[utoipa::path(
    post, path = "/api/v1/schedules/{id}/holidays/import", tag = "business hours",
    params(("id" = i64, Path, description = "Schedule id"), ImportParams),
    request_body(
        description = "The calendar itself (`text/calendar`, at most 2 MiB), or `{\"url\": …}` to fetch it from",
        content((String = "text/calendar"), (ImportUrlIn = "application/json"))
    ),
    responses(
        (status = 200, description = "Imported: what was added, kept and skipped, and the schedule", body = ImportOut),
        (status = 404, description = "No such schedule", body = super::error::ErrorBody),
        (status = 409, description = "The schedule kept changing during the import; try again", body = super::error::ErrorBody),
        (status = 415, description = "The body is neither `text/calendar` nor JSON", body = super::error::ErrorBody),
        (status = 422, description = "Not an iCalendar file, no events, a bad URL or calendar name; `details.field` is `body`, `url` or `calendar`", body = super::error::ErrorBody),
        (status = 502, description = "The calendar's URL did not answer with it (no connection, timeout, an HTTP error status)", body = super::error::ErrorBody),
    )
)]
pub async fn import_holidays(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiQuery(params): ApiQuery<ImportParams>,
    request: axum::extract::Request,
) -> Result<Json<ImportOut>, ApiError> {
    use crate::hours_import::{calendar_name, calendar_url, fetch, import, Origin, MAX_CALENDAR_BYTES};
    use axum::extract::FromRequest;
    let content_type = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default();
    let imported = match content_type.as_str() {
        "application/json" => {
            let ApiJson(req) = ApiJson::<ImportUrlIn>::from_request(request, &state).await?;
            let name = calendar_name(req.calendar.as_deref().or(params.calendar.as_deref()))?;
            let url = calendar_url(&req.url)?;
            let text = fetch(&url).await?;
            import(&state, id, &text, "url", name, Origin::Url(url.to_string()), &caller.actor()).await?
        }
        "text/calendar" | "text/plain" | "application/octet-stream" => {
            let name = calendar_name(params.calendar.as_deref())?;
            let body = axum::body::Bytes::from_request(request, &state).await.map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(state.max_body_bytes.min(MAX_CALENDAR_BYTES))
                } else {
                    ApiError::BadRequest(format!("the body could not be read: {}", e.body_text()))
                }
            })?;
            if body.len() > MAX_CALENDAR_BYTES {
                return Err(ApiError::PayloadTooLarge(MAX_CALENDAR_BYTES));
            }
            let text = String::from_utf8_lossy(&body);
            import(&state, id, &text, "body", name, Origin::Upload(None), &caller.actor()).await?
        }
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send the calendar as text/calendar, or JSON {{\"url\": \"https://…\"}} (got content type {:?})",
                if other.is_empty() { "none" } else { other }
            )))
        }
    };
    Ok(Json(import_out(&state, &imported)?))
}

#[utoipa::path(
    delete, path = "/api/v1/schedules/{id}/holidays/import", tag = "business hours",
    params(("id" = i64, Path, description = "Schedule id"), ("calendar" = String, Query, description = "The name of the import, as its answer gave it (the URL for a fetched calendar)")),
    responses(
        (status = 200, description = "The holidays of that import are gone; the schedule", body = ScheduleOut),
        (status = 404, description = "No such schedule, or no holidays imported under that name", body = super::error::ErrorBody),
    )
)]
pub async fn delete_import(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiQuery(params): ApiQuery<ImportParams>,
) -> Result<Json<ScheduleOut>, ApiError> {
    let calendar = params
        .calendar
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::invalid("calendar", "name the import to remove"))?;
    if crate::hours_import::remove(&state, id, calendar, &caller.actor()).await? == 0 {
        return Err(ApiError::NotFound(format!("schedule {id} has no holidays imported as {calendar:?}")));
    }
    get_schedule(State(state), caller, PathId(id)).await
}
