use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;
use crate::window::{CustomerWindow, WindowPolicy};

const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);
const MS: Duration = Duration::from_millis(1);
const WEEKDAYS: [Weekday; 5] = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];
const ALL_WEEK: [Weekday; 7] = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

fn interval(written: &str) -> LocalInterval {
    let (s, e) = written.split_once('-').unwrap();
    LocalInterval::new(s.parse().unwrap(), e.parse().unwrap()).unwrap()
}

fn date(written: &str) -> NaiveDate {
    NaiveDate::parse_from_str(written, "%Y-%m-%d").unwrap()
}

/// A local wall-clock time that exists once in `tz`, e.g. `"2026-03-27 19:00"`.
fn local(tz: Tz, written: &str) -> Timestamp {
    let naive = chrono::NaiveDateTime::parse_from_str(written, "%Y-%m-%d %H:%M").unwrap();
    Timestamp::from_datetime(tz.from_local_datetime(&naive).single().unwrap().to_utc())
}

fn utc(written: &str) -> Timestamp {
    Timestamp::from_datetime(chrono::DateTime::parse_from_rfc3339(written).unwrap().to_utc())
}

fn schedule(tz: Tz, days: &[Weekday], intervals: &[&str]) -> Schedule {
    Schedule::weekly(tz, days, &intervals.iter().map(|w| interval(w)).collect::<Vec<_>>())
}

fn berlin_office() -> Schedule {
    schedule(Tz::Europe__Berlin, &WEEKDAYS, &["09:00-17:00"])
}

fn holiday(from: &str, to: &str, name: &str) -> Holiday {
    Holiday::new(date(from), date(to), name)
}

/// Business time on one local date of a schedule.
fn business_time_on(s: &Schedule, day: &str) -> Duration {
    let tz = s.time_zone();
    let start =
        |d: NaiveDate| Timestamp::from_datetime(tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap()).earliest().unwrap().to_utc());
    s.business_time_between(start(date(day)), start(date(day).succ_opt().unwrap()))
}

fn spec_error(json: serde_json::Value) -> String {
    let spec: ScheduleSpec = serde_json::from_value(json).unwrap();
    Schedule::from_spec(&spec).unwrap_err().to_string()
}

#[test]
fn the_written_form_parses_and_writes_back_canonically() {
    let json = serde_json::json!({
        "time_zone": "Europe/Berlin",
        "weekly": {"mon": ["13:00-17:00", "9:00-12:00"], "fri": ["09:00-15:00"], "saturday": ["00:00-24:00"]},
        "holidays": [
            {"date": "2026-12-25", "name": "Christmas"},
            {"from": "2026-12-24", "to": "2026-12-31", "name": "Closed for the holidays"}
        ]
    });
    let s: Schedule = serde_json::from_value(json).unwrap();
    assert_eq!(s.time_zone(), Tz::Europe__Berlin);
    assert_eq!(s.intervals(Weekday::Mon), [interval("09:00-12:00"), interval("13:00-17:00")]);
    assert_eq!(s.intervals(Weekday::Sat), [LocalInterval::ALL_DAY]);
    assert!(s.intervals(Weekday::Sun).is_empty());
    assert_eq!(s.holiday_on(date("2026-12-27")).map(|h| h.name.as_str()), Some("Closed for the holidays"));
    assert_eq!(s.holiday_on(date("2027-01-01")), None);
    let back = serde_json::to_value(&s).unwrap();
    assert_eq!(back["weekly"]["mon"], serde_json::json!(["09:00-12:00", "13:00-17:00"]));
    assert_eq!(back["weekly"]["sat"], serde_json::json!(["00:00-24:00"]));
    assert_eq!(back["holidays"][0], serde_json::json!({"from": "2026-12-24", "to": "2026-12-31", "name": "Closed for the holidays"}));
    assert_eq!(back["holidays"][1], serde_json::json!({"date": "2026-12-25", "name": "Christmas"}));
    assert_eq!(serde_json::from_value::<Schedule>(back).unwrap(), s, "round trip");
}

#[test]
fn every_refused_schedule_names_what_is_wrong() {
    let tz = |zone: &str| serde_json::json!({"time_zone": zone});
    assert_eq!(spec_error(tz("Europe/Berln")), "unknown time zone \"Europe/Berln\"; use an IANA name such as \"Europe/Berlin\"");
    let day = |intervals: &[&str]| serde_json::json!({"time_zone": "UTC", "weekly": {"tue": intervals}});
    assert!(spec_error(day(&["17:00-09:00"])).starts_with("tue: \"17:00-09:00\" ends before it starts; write overnight hours as two"));
    assert_eq!(spec_error(day(&["09:00-12:00", "11:30-13:00"])), "tue: 09:00-12:00 and 11:30-13:00 overlap");
    assert_eq!(
        spec_error(day(&["09:00-25:00"])),
        "tue: bad time \"25:00\" in \"09:00-25:00\": hours go from 00 to 23, and 24:00 ends a day"
    );
    assert_eq!(spec_error(day(&["09:60-12:00"])), "tue: bad time \"09:60\" in \"09:60-12:00\": minutes go from 00 to 59");
    assert_eq!(spec_error(day(&["9-12"])), "tue: bad time \"9\" in \"9-12\": expected HH:MM");
    assert_eq!(spec_error(day(&["24:00-24:00"])), "tue: bad time \"24:00\" in \"24:00-24:00\": 24:00 can only end an interval");
    assert_eq!(spec_error(day(&["09:00"])), "tue: \"09:00\" is not an interval like \"09:00-17:00\"");
    assert_eq!(spec_error(day(&["09:00-09:00"])), "tue: \"09:00-09:00\" opens and closes at the same time");
    let holiday = |h: serde_json::Value| serde_json::json!({"time_zone": "UTC", "holidays": [h]});
    assert_eq!(
        spec_error(holiday(serde_json::json!({"date": "2026-02-30", "name": "Leap"}))),
        "holiday \"Leap\": bad date \"2026-02-30\", expected YYYY-MM-DD"
    );
    assert_eq!(
        spec_error(holiday(serde_json::json!({"date": "2026-12-25", "from": "2026-12-24", "name": "X"}))),
        "holiday \"X\": give either \"date\", or \"from\" and \"to\""
    );
    assert_eq!(
        spec_error(holiday(serde_json::json!({"from": "2026-12-31", "to": "2026-12-24", "name": "X"}))),
        "holiday \"X\": ends on 2026-12-24 before it starts on 2026-12-31"
    );
    assert_eq!(spec_error(holiday(serde_json::json!({"date": "2026-12-25", "name": " "}))), "a holiday on 2026-12-25 needs a name");
    // The same errors come out of serde, so a stored schedule is validated when it is read.
    let refused = serde_json::from_value::<Schedule>(day(&["17:00-09:00"])).unwrap_err().to_string();
    assert!(refused.contains("\"17:00-09:00\" ends before it starts"), "{refused}");
    let unknown_day = serde_json::from_value::<ScheduleSpec>(serde_json::json!({"time_zone": "UTC", "weekly": {"mo": []}}));
    assert!(unknown_day.unwrap_err().to_string().contains("unknown field `mo`"));
}

#[test]
fn intervals_that_touch_are_one_open_period() {
    let spec: ScheduleSpec =
        serde_json::from_value(serde_json::json!({"time_zone": "UTC", "weekly": {"mon": ["12:00-13:00", "09:00-12:00"]}})).unwrap();
    let s = Schedule::from_spec(&spec).unwrap();
    let monday_9 = utc("2026-03-02T09:00:00Z");
    assert_eq!(s.next_close(monday_9), Some(utc("2026-03-02T13:00:00Z")));
    assert!(s.is_open(utc("2026-03-02T12:00:00Z")));
}

#[test]
fn an_ordinary_day_of_nine_to_five_is_eight_hours_with_a_lunch_break_seven() {
    assert_eq!(business_time_on(&berlin_office(), "2026-03-27"), 8 * HOUR);
    assert_eq!(business_time_on(&berlin_office(), "2026-03-28"), Duration::ZERO, "Saturday");
    let lunch = schedule(Tz::Europe__Berlin, &WEEKDAYS, &["09:00-12:00", "13:00-17:00"]);
    assert_eq!(business_time_on(&lunch, "2026-03-27"), 7 * HOUR);
    assert!(!lunch.is_open(local(Tz::Europe__Berlin, "2026-03-27 12:30")));
    assert_eq!(lunch.next_open(local(Tz::Europe__Berlin, "2026-03-27 12:00")), Some(local(Tz::Europe__Berlin, "2026-03-27 13:00")));
}

#[test]
fn berlin_spring_forward_day_is_23_hours_and_a_time_in_the_gap_means_the_first_instant_after_it() {
    // 2026-03-29 (a Sunday): 02:00 CET becomes 03:00 CEST at 01:00 UTC.
    let all_day = schedule(Tz::Europe__Berlin, &[Weekday::Sun], &["00:00-24:00"]);
    assert_eq!(business_time_on(&all_day, "2026-03-29"), 23 * HOUR);
    assert_eq!(business_time_on(&schedule(Tz::Europe__Berlin, &[Weekday::Sun], &["09:00-17:00"]), "2026-03-29"), 8 * HOUR);
    let in_gap = schedule(Tz::Europe__Berlin, &[Weekday::Sun], &["02:30-04:00"]);
    assert_eq!(in_gap.next_open(utc("2026-03-29T00:00:00Z")), Some(utc("2026-03-29T01:00:00Z")), "opens at 03:00 CEST");
    assert!(!in_gap.is_open(utc("2026-03-29T01:00:00Z").minus(MS)));
    assert!(in_gap.is_open(utc("2026-03-29T01:00:00Z")));
    assert_eq!(business_time_on(&in_gap, "2026-03-29"), HOUR);
    let only_the_gap = schedule(Tz::Europe__Berlin, &[Weekday::Sun], &["02:00-03:00"]);
    assert_eq!(business_time_on(&only_the_gap, "2026-03-29"), Duration::ZERO, "the hour that does not exist is not open");
    assert_eq!(only_the_gap.next_open(utc("2026-03-28T12:00:00Z")), Some(local(Tz::Europe__Berlin, "2026-04-05 02:00")));
}

#[test]
fn berlin_fall_back_day_is_25_hours_and_an_ambiguous_interval_keeps_all_its_wall_clock_time() {
    // 2026-10-25 (a Sunday): 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:00-03:00 happens twice.
    let all_day = schedule(Tz::Europe__Berlin, &[Weekday::Sun], &["00:00-24:00"]);
    assert_eq!(business_time_on(&all_day, "2026-10-25"), 25 * HOUR);
    assert_eq!(business_time_on(&schedule(Tz::Europe__Berlin, &[Weekday::Sun], &["09:00-17:00"]), "2026-10-25"), 8 * HOUR);
    let twice = schedule(Tz::Europe__Berlin, &[Weekday::Sun], &["02:30-02:45"]);
    // Opens at the first 02:30 (00:30 UTC), closes at the second 02:45 (01:45 UTC).
    assert_eq!(twice.next_open(utc("2026-10-24T12:00:00Z")), Some(utc("2026-10-25T00:30:00Z")));
    assert_eq!(twice.next_close(utc("2026-10-25T00:30:00Z")), Some(utc("2026-10-25T01:45:00Z")));
    assert!(twice.is_open(utc("2026-10-25T01:00:00Z")), "between the two passes through 02:30-02:45");
    // Intervals that touch at an ambiguous time stay one period.
    let split = schedule(Tz::Europe__Berlin, &[Weekday::Sun], &["01:00-02:30", "02:30-04:00"]);
    assert_eq!(split.next_close(utc("2026-10-24T23:00:00Z")), Some(utc("2026-10-25T03:00:00Z")));
    assert_eq!(business_time_on(&split, "2026-10-25"), 4 * HOUR);
}

#[test]
fn new_york_dst_days_are_23_and_25_hours() {
    let ny = Tz::America__New_York;
    let all_day = schedule(ny, &[Weekday::Sun], &["00:00-24:00"]);
    assert_eq!(business_time_on(&all_day, "2026-03-08"), 23 * HOUR);
    assert_eq!(business_time_on(&all_day, "2026-11-01"), 25 * HOUR);
    assert_eq!(business_time_on(&all_day, "2026-03-15"), 24 * HOUR);
    // 01:30 EST to 03:00 EDT is half an hour of real time.
    assert_eq!(business_time_on(&schedule(ny, &[Weekday::Sun], &["01:30-03:00"]), "2026-03-08"), 30 * MINUTE);
    // 01:00-02:00 on the fall-back day: first 01:00 (EDT) to 02:00 EST, two hours.
    let ambiguous = schedule(ny, &[Weekday::Sun], &["01:00-02:00"]);
    assert_eq!(business_time_on(&ambiguous, "2026-11-01"), 2 * HOUR);
    assert_eq!(ambiguous.next_open(utc("2026-11-01T00:00:00Z")), Some(utc("2026-11-01T05:00:00Z")));
    assert_eq!(business_time_on(&schedule(ny, &WEEKDAYS, &["09:00-17:00"]), "2026-03-09"), 8 * HOUR);
}

#[test]
fn overnight_hours_written_as_two_intervals_are_one_period_across_midnight() {
    let tz = Tz::Europe__Berlin;
    let spec: ScheduleSpec = serde_json::from_value(
        serde_json::json!({"time_zone": "Europe/Berlin", "weekly": {"fri": ["22:00-24:00"], "sat": ["00:00-02:00"]}}),
    )
    .unwrap();
    let s = Schedule::from_spec(&spec).unwrap();
    assert_eq!(s.next_open(local(tz, "2026-03-20 21:00")), Some(local(tz, "2026-03-20 22:00")));
    assert_eq!(s.next_close(local(tz, "2026-03-20 23:00")), Some(local(tz, "2026-03-21 02:00")), "not at midnight");
    assert!(s.is_open(local(tz, "2026-03-21 00:00")));
    assert!(s.is_open(local(tz, "2026-03-21 01:59")));
    assert!(!s.is_open(local(tz, "2026-03-21 02:00")));
    assert_eq!(s.business_time_between(local(tz, "2026-03-20 21:00"), local(tz, "2026-03-21 03:00")), 4 * HOUR);
    // Asked after midnight, the period is the same one.
    assert_eq!(s.next_open(local(tz, "2026-03-21 01:00")), Some(local(tz, "2026-03-21 01:00")));
    assert_eq!(s.next_close(local(tz, "2026-03-21 01:00")), Some(local(tz, "2026-03-21 02:00")));
    // A window ending at 00:30 on Saturday ends inside business hours.
    assert!(!s.closes_outside_business_hours(local(tz, "2026-03-21 00:30")));
}

#[test]
fn a_holiday_in_auckland_closes_exactly_that_local_day_not_the_utc_one() {
    // Auckland is UTC+13 in December: local Friday 25 December 09:00 is Thursday 20:00 UTC.
    let tz = Tz::Pacific__Auckland;
    let s = schedule(tz, &WEEKDAYS, &["09:00-17:00"]).with_holiday(holiday("2026-12-25", "2026-12-25", "Christmas Day"));
    assert!(s.is_open(local(tz, "2026-12-24 16:59")));
    assert!(!s.is_open(local(tz, "2026-12-25 09:00")));
    assert!(!s.is_open(local(tz, "2026-12-25 12:00")));
    assert_eq!(business_time_on(&s, "2026-12-24"), 8 * HOUR);
    assert_eq!(business_time_on(&s, "2026-12-25"), Duration::ZERO);
    assert_eq!(s.next_open(local(tz, "2026-12-24 17:00")), Some(local(tz, "2026-12-28 09:00")));
    assert_eq!(s.holiday_on(s.local_date(local(tz, "2026-12-25 09:00"))).map(|h| h.name.as_str()), Some("Christmas Day"));
}

#[test]
fn a_holiday_in_los_angeles_closes_exactly_that_local_day_not_the_utc_one() {
    // Los Angeles is UTC-7 in July: local Thursday 2 July 20:00 is already 3 July in UTC.
    let tz = Tz::America__Los_Angeles;
    let s = schedule(tz, &ALL_WEEK, &["00:00-24:00"]).with_holiday(holiday("2026-07-03", "2026-07-03", "Independence Day observed"));
    assert!(s.is_open(local(tz, "2026-07-02 20:00")));
    assert!(!s.is_open(local(tz, "2026-07-03 00:00")));
    assert!(!s.is_open(local(tz, "2026-07-03 23:59")));
    assert_eq!(s.next_close(local(tz, "2026-07-02 20:00")), Some(local(tz, "2026-07-03 00:00")));
    assert_eq!(s.next_open(local(tz, "2026-07-03 08:00")), Some(local(tz, "2026-07-04 00:00")));
    assert_eq!(business_time_on(&s, "2026-07-03"), Duration::ZERO);
}

#[test]
fn a_closure_range_closes_every_day_of_it_and_one_longer_than_the_search_horizon_is_skipped() {
    let tz = Tz::Europe__Berlin;
    let s = berlin_office().with_holiday(holiday("2026-12-24", "2026-12-31", "Closed for the holidays"));
    assert_eq!(s.next_open(local(tz, "2026-12-23 17:00")), Some(local(tz, "2027-01-01 09:00")));
    let long = berlin_office().with_holiday(holiday("2026-01-01", "2029-12-31", "Renovation"));
    assert_eq!(long.next_open(local(tz, "2026-06-01 10:00")), Some(local(tz, "2030-01-01 09:00")));
    let touching =
        berlin_office().with_holiday(holiday("2026-06-01", "2026-06-03", "a")).with_holiday(holiday("2026-06-04", "2026-06-05", "b"));
    assert_eq!(touching.next_open(local(tz, "2026-05-29 18:00")), Some(local(tz, "2026-06-08 09:00")));
}

#[test]
fn next_open_at_exactly_a_closing_time_is_the_next_opening() {
    let tz = Tz::Europe__Berlin;
    let s = berlin_office();
    assert_eq!(s.next_open(local(tz, "2026-03-27 17:00")), Some(local(tz, "2026-03-30 09:00")), "Friday close → Monday");
    assert_eq!(s.next_open(local(tz, "2026-03-26 17:00")), Some(local(tz, "2026-03-27 09:00")));
    assert_eq!(s.next_open(local(tz, "2026-03-26 09:00")), Some(local(tz, "2026-03-26 09:00")), "at an opening: now");
    assert_eq!(s.next_close(local(tz, "2026-03-26 09:00")), Some(local(tz, "2026-03-26 17:00")));
    assert_eq!(s.next_close(local(tz, "2026-03-26 17:00")), Some(local(tz, "2026-03-27 17:00")), "closed now: the next period's end");
    assert!(!s.is_open(local(tz, "2026-03-26 17:00")));
    assert!(s.is_open(local(tz, "2026-03-26 17:00").minus(MS)));
}

#[test]
fn a_customer_writing_friday_19_00_meets_a_window_that_closes_outside_business_hours() {
    // Mon-Fri 09-17 in Berlin; the customer writes Friday 27 March 2026 19:00.
    let tz = Tz::Europe__Berlin;
    let s = berlin_office();
    let sent_at = local(tz, "2026-03-27 19:00");
    let mut window = CustomerWindow::default();
    window.record_inbound(sent_at, true, false);
    let window_end = window.window_end(WindowPolicy::WHATSAPP).unwrap();
    assert_eq!(window_end, local(tz, "2026-03-28 19:00"));
    let hours = s.window_hours(sent_at, Some(window_end));
    assert!(hours.closes_outside_business_hours);
    assert_eq!(hours.business_time_left, Duration::ZERO, "nobody is at work before it closes");
    assert_eq!(hours.next_business_open, Some(local(tz, "2026-03-30 09:00")));
    assert_eq!(s.format_local(window_end, sent_at), "Saturday 19:00");
    assert_eq!(s.format_local(hours.next_business_open.unwrap(), sent_at), "Monday 09:00");
    let json = serde_json::to_value(hours).unwrap();
    assert_eq!(json["business_seconds_left"], 0);
    assert_eq!(json["closes_outside_business_hours"], true);
    assert_eq!(json["next_business_open"], local(tz, "2026-03-30 09:00").unix_millis());
}

#[test]
fn a_window_ending_at_exactly_a_closing_time_closes_outside_business_hours() {
    let tz = Tz::Europe__Berlin;
    let s = berlin_office();
    // W4: at 17:00 the window is closed and so is the business.
    assert!(s.closes_outside_business_hours(local(tz, "2026-03-26 17:00")));
    assert!(!s.closes_outside_business_hours(local(tz, "2026-03-26 16:59")));
    assert_eq!(s.business_time_left(local(tz, "2026-03-26 16:00"), local(tz, "2026-03-26 17:00")), HOUR);
    // An end at exactly an opening counts as inside hours, but there is no business time before it.
    let (now, end) = (local(tz, "2026-03-29 12:00"), local(tz, "2026-03-30 09:00"));
    assert!(!s.closes_outside_business_hours(end));
    assert_eq!(s.business_time_left(now, end), Duration::ZERO);
    // A window that already ended has no time left; no window end means nothing closes.
    assert_eq!(s.business_time_left(end, now), Duration::ZERO);
    let no_window = s.window_hours(now, None);
    assert!(!no_window.closes_outside_business_hours);
    assert_eq!(no_window.business_time_left, Duration::ZERO);
}

#[test]
fn a_schedule_with_no_open_time_answers_none_instead_of_searching_forever() {
    let closed =
        Schedule::from_spec(&ScheduleSpec { time_zone: "Europe/Berlin".into(), weekly: WeeklySpec::default(), holidays: vec![] }).unwrap();
    let t = utc("2026-03-27T12:00:00Z");
    assert!(closed.never_opens());
    assert!(!closed.is_open(t));
    assert_eq!(closed.next_open(t), None);
    assert_eq!(closed.next_close(t), None);
    assert_eq!(closed.business_time_between(t, t.plus(365 * 24 * HOUR)), Duration::ZERO);
    let hours = closed.window_hours(t, Some(t.plus(HOUR)));
    assert_eq!((hours.next_business_open, hours.closes_outside_business_hours), (None, true));
    // Open hours that a holiday covers for ever: still an answer, not a loop.
    let covered = berlin_office().with_holiday(holiday("2026-01-01", "9999-12-31", "Closed"));
    assert!(!covered.is_open(t));
    assert!(covered.next_open(t).is_some_and(|open| covered.local_date(open) > date("9999-12-31")));
}

#[test]
fn a_number_without_a_schedule_is_always_open() {
    let s = Schedule::always_open();
    assert_eq!(Schedule::default(), s);
    assert_eq!(or_always_open(None), &s);
    let office = berlin_office();
    assert_eq!(or_always_open(Some(&office)), &office);
    let t = utc("2026-03-27T19:00:00Z");
    assert!(s.is_open(t));
    assert_eq!(s.next_open(t), Some(t));
    assert_eq!(s.next_close(t), None, "never closes");
    assert_eq!(s.business_time_between(t, t.plus(30 * HOUR)), 30 * HOUR);
    let hours = s.window_hours(t, Some(t.plus(24 * HOUR)));
    assert_eq!(hours, WindowHours { next_business_open: Some(t), closes_outside_business_hours: false, business_time_left: 24 * HOUR });
    // Around the clock in a DST zone is also always open, across the changes.
    let berlin = schedule(Tz::Europe__Berlin, &ALL_WEEK, &["00:00-24:00"]);
    assert_eq!(berlin.next_close(utc("2026-10-24T12:00:00Z")), None);
    // Around the clock but for one holiday: it closes at that local midnight.
    let with_holiday = berlin.with_holiday(holiday("2026-12-25", "2026-12-25", "Christmas"));
    let tz = Tz::Europe__Berlin;
    assert_eq!(with_holiday.next_close(local(tz, "2026-10-24 12:00")), Some(local(tz, "2026-12-25 00:00")));
    assert_eq!(with_holiday.next_close(local(tz, "2026-12-26 00:00")), None, "no more holidays");
}

#[test]
fn a_day_the_zone_skipped_entirely_has_no_business_time() {
    // Samoa moved across the date line: Friday 30 December 2011 never happened in Apia.
    let tz = Tz::Pacific__Apia;
    let s = schedule(tz, &[Weekday::Fri, Weekday::Sat], &["09:00-17:00"]);
    assert_eq!(s.next_open(local(tz, "2011-12-29 18:00")), Some(local(tz, "2011-12-31 09:00")));
    assert_eq!(s.business_time_between(local(tz, "2011-12-29 18:00"), local(tz, "2011-12-31 09:00")), Duration::ZERO);
}

#[test]
fn instants_are_written_with_the_weekday_within_six_days_and_with_the_date_beyond() {
    let tz = Tz::Europe__Berlin;
    let now = local(tz, "2026-03-27 19:00");
    assert_eq!(format_local(tz, local(tz, "2026-03-27 20:15"), now), "Friday 20:15");
    assert_eq!(format_local(tz, local(tz, "2026-04-02 09:00"), now), "Thursday 09:00");
    assert_eq!(format_local(tz, local(tz, "2026-04-03 09:00"), now), "Friday 3 April 09:00");
    assert_eq!(format_local(tz, local(tz, "2026-03-26 09:00"), now), "Thursday 26 March 09:00");
    assert_eq!(format_local(tz, local(tz, "2027-01-04 09:00"), now), "Monday 4 January 2027 09:00");
    // In the zone, not in UTC: 23:30 UTC on Friday is Saturday in Berlin.
    assert_eq!(format_local(tz, utc("2026-03-27T23:30:00Z"), now), "Saturday 00:30");
}

#[test]
fn pages_say_today_and_tomorrow_in_the_zone_and_the_weekday_beyond() {
    let tz = Tz::Europe__Berlin;
    let now = local(tz, "2026-03-29 08:15"); // a Sunday, the day the clocks went forward
    assert_eq!(format_relative(tz, local(tz, "2026-03-29 10:39"), now), "today 10:39");
    assert_eq!(format_relative(tz, local(tz, "2026-03-30 09:00"), now), "tomorrow 09:00");
    assert_eq!(format_relative(tz, local(tz, "2026-03-28 17:00"), now), "yesterday 17:00");
    assert_eq!(format_relative(tz, local(tz, "2026-03-31 09:00"), now), "Tuesday 09:00");
    assert_eq!(format_relative(tz, local(tz, "2026-04-04 19:00"), now), "Saturday 19:00");
    assert_eq!(format_relative(tz, local(tz, "2026-04-05 09:00"), now), "Sunday 5 April 09:00");
    assert_eq!(format_relative(tz, local(tz, "2027-01-04 09:00"), now), "Monday 4 January 2027 09:00");
    // Local dates, not 24-hour spans, and not UTC dates: at 23:00 on Sunday, 00:30 is tomorrow,
    // though it is the same UTC date (Sunday 21:00 and 22:30 UTC).
    let late = local(tz, "2026-03-29 23:00");
    assert_eq!(format_relative(tz, local(tz, "2026-03-30 00:30"), late), "tomorrow 00:30");
    assert_eq!(format_relative(tz, local(tz, "2026-03-29 23:30"), late), "today 23:30");
    // Text for customers keeps the weekday: it is still right when read the next day.
    assert_eq!(format_local(tz, local(tz, "2026-03-29 10:39"), now), "Sunday 10:39");
    assert_eq!(berlin_office().format_relative(local(tz, "2026-03-30 09:00"), now), "tomorrow 09:00");
}

fn any_zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![
        Tz::UTC,
        Tz::Europe__Berlin,
        Tz::America__New_York,
        Tz::America__Los_Angeles,
        Tz::Pacific__Auckland,
        Tz::Australia__Lord_Howe, // a half-hour DST change
        Tz::America__St_Johns,
        Tz::Asia__Kolkata,
        Tz::America__Santiago, // DST changes at midnight
    ])
}

/// Up to three non-overlapping intervals on a quarter-hour grid, often starting at midnight or
/// ending at 24:00 so that overnight periods and DST changes at midnight come up.
fn any_day() -> impl Strategy<Value = Vec<LocalInterval>> {
    let edge = prop_oneof![2 => Just(0u16), 2 => Just(96u16), 6 => 0u16..=96];
    prop::collection::btree_set(edge, 0..=6).prop_map(|edges| {
        let edges: Vec<u16> = edges.into_iter().collect();
        edges
            .chunks_exact(2)
            .filter_map(|pair| {
                let time = |quarter: u16| LocalTime::new(quarter / 4, quarter % 4 * 15);
                LocalInterval::new(time(pair[0])?, time(pair[1])?)
            })
            .collect()
    })
}

fn any_schedule() -> impl Strategy<Value = Schedule> {
    let holidays = prop::collection::vec((0u64..1100, 0u64..10), 0..4);
    (any_zone(), prop::array::uniform7(any_day()), holidays).prop_map(|(tz, weekly, holidays)| {
        let base = date("2025-01-01");
        let holidays = holidays
            .into_iter()
            .map(|(start, len)| {
                let from = base.checked_add_days(chrono::Days::new(start)).unwrap();
                Holiday::new(from, from.checked_add_days(chrono::Days::new(len)).unwrap(), "h")
            })
            .collect();
        Schedule::new(tz, weekly, holidays)
    })
}

/// Instants in 2025-2027, half of them on a quarter-hour so that edges are hit exactly.
fn any_instant() -> impl Strategy<Value = Timestamp> {
    let start = utc("2025-01-01T00:00:00Z").unix_millis();
    let end = utc("2028-01-01T00:00:00Z").unix_millis();
    prop_oneof![
        (start..end).prop_map(Timestamp::from_unix_millis),
        (start / 900_000..end / 900_000).prop_map(|q| Timestamp::from_unix_millis(q * 900_000)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn next_open_is_open_and_nothing_before_it_is(s in any_schedule(), t in any_instant(), fraction in 0.0f64..1.0) {
        match s.next_open(t) {
            Some(open) => {
                prop_assert!(open >= t);
                prop_assert!(s.is_open(open));
                prop_assert_eq!(s.business_time_between(t, open), Duration::ZERO);
                let probe = t.plus(Duration::from_millis((t.millis_until(open) as f64 * fraction) as u64));
                if probe < open {
                    prop_assert!(!s.is_open(probe), "open at {:?} before next_open {:?}", probe, open);
                }
            }
            None => prop_assert!(!s.is_open(t)),
        }
    }

    #[test]
    fn next_close_is_after_t_and_the_business_is_open_until_then(s in any_schedule(), t in any_instant()) {
        if s.is_open(t) {
            prop_assert_eq!(s.next_open(t), Some(t));
        }
        if let (Some(open), Some(close)) = (s.next_open(t), s.next_close(t)) {
            prop_assert!(close > t && close > open);
            prop_assert!(!s.is_open(close), "a period ends where the business is closed");
            prop_assert!(s.is_open(close.minus(MS)));
            prop_assert_eq!(s.business_time_between(open, close), Duration::from_millis(open.millis_until(close).unsigned_abs()));
        }
    }

    #[test]
    fn business_time_is_additive_and_never_more_than_the_elapsed_time(
        s in any_schedule(), a in any_instant(), d1 in 0u64..(20 * 86_400_000), d2 in 0u64..(20 * 86_400_000),
    ) {
        let b = a.plus(Duration::from_millis(d1));
        let c = b.plus(Duration::from_millis(d2));
        let (ab, bc, ac) = (s.business_time_between(a, b), s.business_time_between(b, c), s.business_time_between(a, c));
        prop_assert_eq!(ab + bc, ac);
        prop_assert!(ab <= Duration::from_millis(d1));
        prop_assert_eq!(s.business_time_between(b, a), Duration::ZERO);
    }

    #[test]
    fn is_open_agrees_with_one_millisecond_of_business_time(s in any_schedule(), t in any_instant()) {
        let open_ms = s.business_time_between(t, t.plus(MS));
        prop_assert_eq!(s.is_open(t), open_ms == MS);
        prop_assert_eq!(s.closes_outside_business_hours(t), !s.is_open(t));
    }

    #[test]
    fn a_written_schedule_reads_back_the_same(s in any_schedule()) {
        prop_assert_eq!(Schedule::from_spec(&s.to_spec()), Ok(s));
    }
}

#[test]
fn transitions_are_the_openings_and_closings_in_a_range() {
    let s = berlin_office();
    // Friday 12:00 to Monday 12:00: closes Friday 17:00, opens Monday 09:00.
    let got = s.transitions(local(Tz::Europe__Berlin, "2026-12-04 12:00"), local(Tz::Europe__Berlin, "2026-12-07 12:00"));
    assert_eq!(got, vec![local(Tz::Europe__Berlin, "2026-12-04 17:00"), local(Tz::Europe__Berlin, "2026-12-07 09:00")]);
    // The ends are included.
    let got = s.transitions(local(Tz::Europe__Berlin, "2026-12-04 17:00"), local(Tz::Europe__Berlin, "2026-12-07 09:00"));
    assert_eq!(got.len(), 2);
    assert!(Schedule::always_open().transitions(utc("2026-12-04T00:00:00Z"), utc("2026-12-10T00:00:00Z")).is_empty());
}

#[test]
fn after_business_time_counts_only_open_hours() {
    let s = berlin_office();
    let tz = Tz::Europe__Berlin;
    // Friday 16:00 + 4 business hours: 1 h on Friday, 3 h on Monday.
    assert_eq!(s.after_business_time(local(tz, "2026-12-04 16:00"), 4 * HOUR), Some(local(tz, "2026-12-07 12:00")));
    // From a closed time, counting starts at the opening.
    assert_eq!(s.after_business_time(local(tz, "2026-12-05 10:00"), HOUR), Some(local(tz, "2026-12-07 10:00")));
    // Exactly a day's worth from an opening ends at the closing.
    assert_eq!(s.after_business_time(local(tz, "2026-12-07 09:00"), 8 * HOUR), Some(local(tz, "2026-12-07 17:00")));
    assert_eq!(s.after_business_time(local(tz, "2026-12-05 10:00"), Duration::ZERO), Some(local(tz, "2026-12-05 10:00")));
    let t = utc("2026-12-05T10:00:00Z");
    assert_eq!(Schedule::always_open().after_business_time(t, HOUR), Some(t.plus(HOUR)));
    assert_eq!(schedule(tz, &[], &[]).after_business_time(t, HOUR), None);
}

proptest! {
    #[test]
    fn after_business_time_is_the_first_instant_with_that_much_business_time(
        start_min in 0i64..(14 * 24 * 60),
        wanted_min in 1i64..(5 * 24 * 60),
    ) {
        let s = berlin_office();
        let from = local(Tz::Europe__Berlin, "2026-12-01 00:00").plus(Duration::from_secs(u64::try_from(start_min).unwrap() * 60));
        let d = Duration::from_secs(u64::try_from(wanted_min).unwrap() * 60);
        let at = s.after_business_time(from, d).unwrap();
        prop_assert_eq!(s.business_time_between(from, at), d);
        prop_assert!(s.business_time_between(from, at.minus(MS)) < d);
    }
}
