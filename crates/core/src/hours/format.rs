//! Instants in a schedule's zone, written for people: the banner's "closes Saturday 19:00, outside
//! business hours; team back Monday 09:00" and the `{{window.expires_at}}` placeholder.

use chrono::{Datelike, TimeZone};
use chrono_tz::Tz;

use crate::time::Timestamp;

/// `t` as a person in `tz` reads it, relative to `now`: the weekday and time when `t` falls on the
/// local date of `now` or one of the six after it ("Saturday 19:00", "Monday 09:00"); otherwise
/// with the date ("Monday 4 January 09:00"), and the year when it is not the year of `now`
/// ("Monday 4 January 2027 09:00"). English names, 24-hour clock.
pub fn format_local(tz: Tz, t: Timestamp, now: Timestamp) -> String {
    let local = tz.from_utc_datetime(&t.to_datetime().naive_utc());
    let today = tz.from_utc_datetime(&now.to_datetime().naive_utc()).date_naive();
    let days_ahead = local.date_naive().signed_duration_since(today).num_days();
    let pattern = if (0..=6).contains(&days_ahead) {
        "%A %H:%M"
    } else if local.year() == today.year() {
        "%A %-d %B %H:%M"
    } else {
        "%A %-d %B %Y %H:%M"
    };
    local.format(pattern).to_string()
}
