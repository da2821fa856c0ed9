//! Times and durations the way people read them, in the agent's time zone.

use chrono::{Datelike, TimeZone};
use chrono_tz::Tz;
use windowdesk_core::Timestamp;

/// A compact time for lists and bubbles: `14:05` today, `Mon 14:05` this week, `12 Nov 14:05` this
/// year, `12 Nov 2025` before.
pub fn short_time(at: Timestamp, now: Timestamp, tz: Tz) -> String {
    let (at_local, now_local) = (tz.from_utc_datetime(&at.to_datetime().naive_utc()), tz.from_utc_datetime(&now.to_datetime().naive_utc()));
    let days = now_local.date_naive().signed_duration_since(at_local.date_naive()).num_days();
    if days == 0 {
        at_local.format("%H:%M").to_string()
    } else if (1..7).contains(&days) {
        at_local.format("%a %H:%M").to_string()
    } else if at_local.year() == now_local.year() {
        at_local.format("%-d %b %H:%M").to_string()
    } else {
        at_local.format("%-d %b %Y").to_string()
    }
}

/// The full moment with its zone, for tooltips and the window banner: `Sat 22 Nov 2026, 10:00 CET`.
pub fn full_time(at: Timestamp, tz: Tz) -> String {
    tz.from_utc_datetime(&at.to_datetime().naive_utc()).format("%a %-d %b %Y, %H:%M %Z").to_string()
}

/// `2026-11-22T10:00:00Z`, for `<time datetime>`.
pub fn iso(at: Timestamp) -> String {
    at.to_rfc3339()
}

/// A span for people: `3 h 12 min`, `12 min`, `45 s`, `2 d 4 h`. The page's script uses the same
/// wording as it counts down.
pub fn span(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m >= 10 {
        format!("{m} min")
    } else if m > 0 {
        format!("{m} min {} s", s % 60)
    } else {
        format!("{s} s")
    }
}

/// How long someone has waited, to the minute: `under 1 min`, `4 min`, `3 h 12 min`, `2 d 4 h`. A
/// wait is read at a glance; seconds would only flicker. The page's script uses the same wording.
pub fn wait(ms: i64) -> String {
    match ms / 60_000 {
        0 => "under 1 min".to_owned(),
        minutes @ 1..60 => format!("{minutes} min"),
        _ => span(ms - ms % 60_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_read_to_the_minute() {
        assert_eq!(wait(12_000), "under 1 min");
        assert_eq!(wait((4 * 60 + 3) * 1000), "4 min");
        assert_eq!(wait((3 * 3600 + 12 * 60 + 59) * 1000), "3 h 12 min");
    }

    #[test]
    fn spans_read_like_people_talk() {
        assert_eq!(span((3 * 3600 + 12 * 60 + 5) * 1000), "3 h 12 min");
        assert_eq!(span(12 * 60 * 1000), "12 min");
        assert_eq!(span((4 * 60 + 3) * 1000), "4 min 3 s");
        assert_eq!(span(45_000), "45 s");
        assert_eq!(span((2 * 86_400 + 4 * 3600) * 1000), "2 d 4 h");
        assert_eq!(span(-5), "0 s");
    }

    #[test]
    fn short_times_are_in_the_agents_zone() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 2026-11-21 23:30 UTC is already Sunday 00:30 in Berlin.
        let at = Timestamp::from_unix_seconds(1_795_303_800);
        let now = at.plus(std::time::Duration::from_secs(600));
        assert_eq!(short_time(at, now, chrono_tz::UTC), "23:30");
        assert_eq!(short_time(at, now, berlin), "00:30");
        assert_eq!(full_time(at, berlin), "Sun 22 Nov 2026, 00:30 CET");
        let next_week = at.plus(std::time::Duration::from_secs(8 * 86_400));
        assert_eq!(short_time(at, next_week, chrono_tz::UTC), "21 Nov 23:30");
    }
}
