//! Instants in a schedule's zone, written for people: the banner's "closes Saturday 19:00, outside
//! business hours; team back Monday 09:00" and the `{{window.expires_at}}` placeholder.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;

use crate::time::Timestamp;

/// `t` and the local date of `now` in `tz`, and how many local days `t` is after that date.
fn local_and_days_ahead(tz: Tz, t: Timestamp, now: Timestamp) -> (DateTime<Tz>, NaiveDate, i64) {
    let local = tz.from_utc_datetime(&t.to_datetime().naive_utc());
    let today = tz.from_utc_datetime(&now.to_datetime().naive_utc()).date_naive();
    let days_ahead = local.date_naive().signed_duration_since(today).num_days();
    (local, today, days_ahead)
}

/// The date-and-time forms both formats share beyond the coming week: with the date ("Monday 4
/// January 09:00"), and the year when it is not the year of `today`.
fn with_date(local: DateTime<Tz>, today: NaiveDate) -> String {
    let pattern = if local.year() == today.year() { "%A %-d %B %H:%M" } else { "%A %-d %B %Y %H:%M" };
    local.format(pattern).to_string()
}

/// `t` as a person in `tz` reads it, relative to `now`: the weekday and time when `t` falls on the
/// local date of `now` or one of the six after it ("Saturday 19:00", "Monday 09:00"); otherwise
/// with the date ("Monday 4 January 09:00"), and the year when it is not the year of `now`
/// ("Monday 4 January 2027 09:00"). English names, 24-hour clock.
///
/// Text sent to customers uses this form (placeholders): it stays true when the message is read a day
/// later, which "today" and "tomorrow" would not. The desk's own pages use [`format_relative`].
pub fn format_local(tz: Tz, t: Timestamp, now: Timestamp) -> String {
    let (local, today, days_ahead) = local_and_days_ahead(tz, t, now);
    if (0..=6).contains(&days_ahead) {
        local.format("%A %H:%M").to_string()
    } else {
        with_date(local, today)
    }
}

/// `t` relative to `now` in `tz`, for a page read now: "today 10:39", "tomorrow 09:00",
/// "yesterday 17:00", the weekday for the five days after tomorrow ("Saturday 19:00"), and the date
/// beyond that as [`format_local`] writes it. Days are the local dates of `tz`, not 24-hour spans:
/// 00:30 is "tomorrow" at 23:00 the evening before.
pub fn format_relative(tz: Tz, t: Timestamp, now: Timestamp) -> String {
    let (local, today, days_ahead) = local_and_days_ahead(tz, t, now);
    match days_ahead {
        -1 => local.format("yesterday %H:%M").to_string(),
        0 => local.format("today %H:%M").to_string(),
        1 => local.format("tomorrow %H:%M").to_string(),
        2..=6 => local.format("%A %H:%M").to_string(),
        _ => with_date(local, today),
    }
}
