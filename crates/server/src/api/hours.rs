//! Business hours (SPEC 10, issue 13): named schedules and which one each business number keeps.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use windowdesk_core::hours::{HolidaySpec, Schedule, ScheduleError, ScheduleSpec, WeeklySpec};
use windowdesk_store::{ScheduleDraft, ScheduleRow};

use super::auth::ApiCaller;
use super::dto::{rfc3339, Page};
use super::error::ApiError;
use super::extract::{ApiJson, PathId};
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
                ..HolidaySpec::default()
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
        holidays: spec.holidays.into_iter().map(|h| HolidayIn { date: h.date, from: h.from, to: h.to, name: h.name }).collect(),
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
