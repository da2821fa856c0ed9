//! Business hours as the desk uses them (SPEC 10): the store keeps each schedule as the JSON of the
//! core's `ScheduleSpec`; here it becomes the core's `Schedule` for the window, the banner and rules.

use windowdesk_core::hours::{Schedule, ScheduleSpec, WindowHours};
use windowdesk_core::Timestamp;
use windowdesk_store::{ScheduleRow, StoreError};

use crate::AppState;

/// The schedule of a stored row. The spec was validated before it was stored; a row that no longer
/// parses (edited by hand) is reported, and the number counts as always open meanwhile.
pub fn parse(row: &ScheduleRow) -> Result<Schedule, String> {
    let spec: ScheduleSpec = serde_json::from_str(&row.spec).map_err(|e| format!("schedule {} is not readable: {e}", row.id))?;
    Schedule::from_spec(&spec).map_err(|e| format!("schedule {} ({:?}): {e}", row.id, row.name))
}

/// The business number's schedule; `None`: always open.
pub async fn of_number(state: &AppState, business_number_id: i64) -> Result<Option<Schedule>, StoreError> {
    let Some(row) = state.store.number_schedule(business_number_id).await? else { return Ok(None) };
    match parse(&row) {
        Ok(schedule) => Ok(Some(schedule)),
        Err(e) => {
            tracing::error!(business_number_id, error = %e, "a business-hours schedule cannot be read; the number counts as always open");
            Ok(None)
        }
    }
}

/// How a window meets the hours of its number (issue 13 item 2).
pub fn window_hours(schedule: Option<&Schedule>, now: Timestamp, window_end: Option<Timestamp>) -> WindowHours {
    windowdesk_core::hours::or_always_open(schedule).window_hours(now, window_end)
}
