use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;

use super::*;
use crate::hours::{HolidaySource, LocalInterval, ScheduleSpec};

const FIXTURE: &str = include_str!("../../../../testdata/ical/holidays.ics");

fn date(written: &str) -> NaiveDate {
    NaiveDate::parse_from_str(written, "%Y-%m-%d").unwrap()
}

fn today() -> NaiveDate {
    date("2026-12-01")
}

fn dates(from: &str, to: &str, name: &str) -> ImportedDates {
    ImportedDates { from: date(from), to: date(to), name: name.into() }
}

/// A calendar of the given events (each the lines between BEGIN:VEVENT and END:VEVENT).
fn calendar(events: &[&str]) -> String {
    let mut text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n".to_owned();
    for (i, event) in events.iter().enumerate() {
        text.push_str(&format!("BEGIN:VEVENT\r\nUID:e{i}@test\r\nDTSTAMP:20260101T000000Z\r\n"));
        for line in event.lines().map(str::trim).filter(|l| !l.is_empty()) {
            text.push_str(line);
            text.push_str("\r\n");
        }
        text.push_str("END:VEVENT\r\n");
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}

fn holidays_of(events: &[&str], tz: Tz) -> Vec<ImportedDates> {
    parse_calendar(&calendar(events), tz, today()).unwrap().holidays
}

fn skipped_of(events: &[&str]) -> Vec<String> {
    parse_calendar(&calendar(events), Tz::Europe__Berlin, today()).unwrap().skipped.into_iter().map(|s| s.reason).collect()
}

fn office() -> Schedule {
    let interval = LocalInterval::new("09:00".parse().unwrap(), "17:00".parse().unwrap()).unwrap();
    Schedule::weekly(Tz::Europe__Berlin, &[Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri], &[interval])
}

#[test]
fn the_fixture_brings_all_day_multi_day_timed_and_yearly_holidays() {
    let parsed = parse_calendar(FIXTURE, Tz::Europe__Berlin, today()).unwrap();
    assert_eq!(parsed.name.as_deref(), Some("Holidays in Germany"));
    assert_eq!(
        parsed.holidays,
        vec![
            dates("2026-12-18", "2026-12-18", "Team party"),
            dates("2026-12-25", "2026-12-25", "Christmas Day"),
            dates("2026-12-26", "2026-12-26", "Boxing Day, St Stephen's Day"),
            // DTEND is exclusive: 28 December up to and including the 31st.
            dates("2026-12-28", "2026-12-31", "Closed between the years (a long summary folded over two lines of the file)"),
            // Yearly since 2020: this year's is past, the next two years' are in.
            dates("2027-01-01", "2027-01-01", "New Year's Day"),
            dates("2028-01-01", "2028-01-01", "New Year's Day"),
        ]
    );
    let skipped: Vec<(Option<&str>, &str)> = parsed.skipped.iter().map(|s| (s.summary.as_deref(), s.reason.as_str())).collect();
    assert_eq!(
        skipped,
        vec![
            (Some("Labour Day 2025"), "in the past: ended before today (2026-12-01)"),
            (Some("Someday"), "has no date: DTSTART is missing"),
        ]
    );
    assert_eq!(parsed.skipped[1].uid.as_deref(), Some("no-date@test"));
}

#[test]
fn recurrence_rules_are_expanded_through_the_end_of_the_year_after_next() {
    assert_eq!(recurrence_horizon(today()), date("2028-12-31"));
    // The fourth Thursday of November, with one year left out and one moved.
    let thanksgiving = "DTSTART;VALUE=DATE:20201126\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH\nSUMMARY:Thanksgiving";
    assert_eq!(
        holidays_of(&[thanksgiving], Tz::America__New_York),
        vec![dates("2027-11-25", "2027-11-25", "Thanksgiving"), dates("2028-11-23", "2028-11-23", "Thanksgiving")]
    );
    let with_exdate = format!("{thanksgiving}\nEXDATE;VALUE=DATE:20271125");
    assert_eq!(holidays_of(&[&with_exdate], Tz::America__New_York), vec![dates("2028-11-23", "2028-11-23", "Thanksgiving")]);
    // COUNT counts from DTSTART; UNTIL (a date) includes its day; RDATE adds a day.
    let counted = "DTSTART;VALUE=DATE:20250704\nRRULE:FREQ=YEARLY;COUNT=3\nSUMMARY:Counted";
    assert_eq!(holidays_of(&[counted], Tz::UTC), vec![dates("2027-07-04", "2027-07-04", "Counted")]);
    let until = "DTSTART;VALUE=DATE:20250704\nRRULE:FREQ=YEARLY;UNTIL=20280704\nRDATE;VALUE=DATE:20270705\nSUMMARY:Until";
    assert_eq!(
        holidays_of(&[until], Tz::UTC),
        vec![dates("2027-07-04", "2027-07-05", "Until"), dates("2028-07-04", "2028-07-04", "Until")],
        "adjacent days of one event join into one range"
    );
    // A moved instance: the master leaves that year out, the moved event brings its own date.
    let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:fair\r\nDTSTART;VALUE=DATE:20250910\r\nRRULE:FREQ=YEARLY\r\nSUMMARY:Fair\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:fair\r\nRECURRENCE-ID;VALUE=DATE:20270910\r\nDTSTART;VALUE=DATE:20270917\r\nSUMMARY:Fair (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(
        parse_calendar(text, Tz::UTC, today()).unwrap().holidays,
        vec![dates("2027-09-17", "2027-09-17", "Fair (moved)"), dates("2028-09-10", "2028-09-10", "Fair")]
    );
    // A yearly event with times, in its own zone.
    let timed = "DTSTART;TZID=Europe/Berlin:20241231T180000\nDTEND;TZID=Europe/Berlin:20250101T020000\nRRULE:FREQ=YEARLY\nSUMMARY:Eve";
    assert_eq!(
        holidays_of(&[timed], Tz::Europe__Berlin),
        vec![dates("2026-12-31", "2027-01-01", "Eve"), dates("2027-12-31", "2028-01-01", "Eve"), dates("2028-12-31", "2029-01-01", "Eve")]
    );
}

#[test]
fn events_with_times_close_the_local_dates_they_touch_in_the_schedule_zone() {
    // 23:00-01:00 UTC is 00:00-02:00 on the 23rd in Berlin, but 15:00-17:00 on the 22nd in Los Angeles.
    let utc = "DTSTART:20261222T230000Z\nDTEND:20261223T010000Z\nSUMMARY:Maintenance";
    assert_eq!(holidays_of(&[utc], Tz::Europe__Berlin), vec![dates("2026-12-23", "2026-12-23", "Maintenance")]);
    assert_eq!(holidays_of(&[utc], Tz::America__Los_Angeles), vec![dates("2026-12-22", "2026-12-22", "Maintenance")]);
    // The end is exclusive: until midnight does not close the next day.
    let to_midnight = "DTSTART;TZID=Europe/Berlin:20261224T120000\nDTEND;TZID=Europe/Berlin:20261225T000000\nSUMMARY:Eve";
    assert_eq!(holidays_of(&[to_midnight], Tz::Europe__Berlin), vec![dates("2026-12-24", "2026-12-24", "Eve")]);
    // Floating times are the schedule's; a DURATION works like DTEND; a TZID with a path prefix is found.
    let floating = "DTSTART:20261230T220000\nDURATION:PT4H\nSUMMARY:Late";
    assert_eq!(holidays_of(&[floating], Tz::Asia__Tokyo), vec![dates("2026-12-30", "2026-12-31", "Late")]);
    let prefixed = "DTSTART;TZID=/mozilla.org/20050126_1/America/New_York:20261231T230000\nSUMMARY:Countdown";
    assert_eq!(holidays_of(&[prefixed], Tz::Europe__Berlin), vec![dates("2027-01-01", "2027-01-01", "Countdown")]);
    // An all-day event with a DURATION of days, and without a name.
    assert_eq!(holidays_of(&["DTSTART;VALUE=DATE:20261228\nDURATION:P2D"], Tz::UTC), vec![dates("2026-12-28", "2026-12-29", "Holiday")]);
    // An event that began before today and still runs keeps its dates from today on.
    assert_eq!(
        holidays_of(&["DTSTART;VALUE=DATE:20261130\nDTEND;VALUE=DATE:20261203\nSUMMARY:Strike"], Tz::UTC),
        vec![dates("2026-12-01", "2026-12-02", "Strike")]
    );
}

#[test]
fn events_that_close_nothing_are_skipped_with_the_reason() {
    assert_eq!(
        skipped_of(&[
            "DTSTART;VALUE=DATE:20261225\nDTEND;VALUE=DATE:20261224\nSUMMARY:Backwards",
            "DTSTART;TZID=W. Europe Standard Time:20261224T090000\nSUMMARY:Outlook",
            "DTSTART:2026-12-24\nSUMMARY:Dashes",
            "DTSTART;VALUE=DATE:20261201\nRRULE:FREQ=DAILY\nSUMMARY:Every day",
            "DTSTART;VALUE=DATE:20261224\nSTATUS:CANCELLED\nSUMMARY:Called off",
            "DTSTART;VALUE=DATE:20261224\nRRULE:FREQ=SOMETIMES\nSUMMARY:Odd rule",
            "DTSTART;VALUE=DATE:20200704\nRRULE:FREQ=YEARLY;UNTIL=20250704\nSUMMARY:Over",
        ]),
        vec![
            "DTEND 2026-12-24 is before DTSTART 2026-12-25".to_owned(),
            "DTSTART time zone \"W. Europe Standard Time\" is not an IANA name (such as Europe/Berlin)".to_owned(),
            "DTSTART \"2026-12-24\" is not a date (YYYYMMDD) or a date and time (YYYYMMDDTHHMMSS)".to_owned(),
            "closes more than 366 days from today on; that is not a holiday".to_owned(),
            "cancelled (STATUS:CANCELLED)".to_owned(),
            "RRULE \"FREQ=SOMETIMES\" is not understood: RRule parsing error: `SOMETIMES` is not a valid frequency.".to_owned(),
            "does not occur between today (2026-12-01) and 2028-12-31".to_owned(),
        ]
    );
}

#[test]
fn a_file_that_is_not_a_calendar_is_refused_naming_what_is_wrong() {
    let err = |text: &str| parse_calendar(text, Tz::UTC, today()).unwrap_err().to_string();
    assert_eq!(
        err("<html><body>Not found</body></html>"),
        "not an iCalendar file: it starts with \"<html><body>Not found</body></html>\" instead of BEGIN:VCALENDAR"
    );
    assert_eq!(err("  \n"), "not an iCalendar file: it is empty");
    assert_eq!(err("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"), "the calendar has no events (no VEVENT)");
    let unclosed = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nSUMMARY:Open\r\nEND:VCALENDAR\r\n";
    assert!(err(unclosed).starts_with("not an iCalendar file: it cannot be parsed"), "{}", err(unclosed));
    // A byte-order mark and a lower-case BEGIN are fine.
    let bom = format!("\u{feff}{}", calendar(&["DTSTART;VALUE=DATE:20261225\nSUMMARY:X"])).replace("BEGIN:VCALENDAR", "begin:VCALENDAR");
    assert_eq!(parse_calendar(&bom, Tz::UTC, today()).unwrap().holidays.len(), 1);
}

#[test]
fn an_import_keeps_the_admins_days_and_a_second_import_replaces_the_first() {
    let parsed = parse_calendar(FIXTURE, Tz::Europe__Berlin, today()).unwrap();
    let schedule = office()
        .with_holiday(Holiday::new(date("2026-12-25"), date("2026-12-25"), "Christmas (our own)"))
        .with_holiday(Holiday::new(date("2026-12-30"), date("2026-12-30"), "Inventory"))
        .with_holiday(Holiday::imported(date("2026-12-26"), date("2026-12-26"), "Other calendar's day", "other"));
    let (imported, report) = schedule.with_import("german", &parsed);
    assert_eq!(report.removed, vec![]);
    assert_eq!(report.unchanged, vec![]);
    let added: Vec<(String, String, &str)> = report.added.iter().map(|h| (h.from.to_string(), h.to.to_string(), h.name.as_str())).collect();
    assert_eq!(
        added,
        vec![
            ("2026-12-18".into(), "2026-12-18".into(), "Team party"),
            ("2026-12-26".into(), "2026-12-26".into(), "Boxing Day, St Stephen's Day"),
            // The admin's Inventory day splits the closure.
            ("2026-12-28".into(), "2026-12-29".into(), "Closed between the years (a long summary folded over two lines of the file)"),
            ("2026-12-31".into(), "2026-12-31".into(), "Closed between the years (a long summary folded over two lines of the file)"),
            ("2027-01-01".into(), "2027-01-01".into(), "New Year's Day"),
            ("2028-01-01".into(), "2028-01-01".into(), "New Year's Day"),
        ]
    );
    assert!(report.added.iter().all(|h| h.source == HolidaySource::Ical && h.calendar.as_deref() == Some("german")));
    let kept: Vec<(String, &str, &str)> =
        report.kept.iter().map(|k| (k.from.to_string(), k.name.as_str(), k.admin_name.as_str())).collect();
    assert_eq!(
        kept,
        vec![
            ("2026-12-25".into(), "Christmas Day", "Christmas (our own)"),
            ("2026-12-30".into(), "Closed between the years (a long summary folded over two lines of the file)", "Inventory"),
        ]
    );
    assert_eq!(report.skipped.len(), 2);
    assert_eq!(imported.holiday_on(date("2026-12-25")).map(|h| h.name.as_str()), Some("Christmas (our own)"));
    assert_eq!(imported.holiday_on(date("2026-12-30")).map(|h| h.name.as_str()), Some("Inventory"));
    assert!(imported.holidays().iter().any(|h| h.imported_from("other")), "another calendar's holidays stay");

    // The same calendar again: nothing new, nothing duplicated.
    let (again, report) = imported.with_import("german", &parsed);
    assert_eq!(again, imported);
    assert_eq!((report.added.len(), report.unchanged.len(), report.removed.len()), (0, 6, 0));

    // A newer version of it without the party: the party goes, nothing else changes.
    let mut newer = parsed.clone();
    newer.holidays.retain(|h| h.name != "Team party");
    let (updated, report) = again.with_import("german", &newer);
    assert_eq!(report.removed.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(), vec!["Team party"]);
    assert_eq!(updated.holidays().len(), again.holidays().len() - 1);

    // Removing the import leaves the admin's holidays and the other calendar's.
    let (bare, removed) = updated.without_import("german");
    assert_eq!(removed.len(), 5);
    assert_eq!(
        bare.holidays().iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
        vec!["Christmas (our own)", "Other calendar's day", "Inventory"]
    );
}

#[test]
fn imported_holidays_are_written_with_their_source_and_old_specs_read_as_the_admins() {
    let old: ScheduleSpec = serde_json::from_value(serde_json::json!({
        "time_zone": "Europe/Berlin",
        "holidays": [{"date": "2026-12-25", "name": "Christmas"}]
    }))
    .unwrap();
    let schedule = Schedule::from_spec(&old).unwrap();
    assert_eq!(schedule.holidays()[0].source, HolidaySource::Admin);
    let schedule =
        schedule.with_holiday(Holiday::imported(date("2026-12-24"), date("2026-12-26"), "Christmas", "https://example.com/h.ics"));
    let written = serde_json::to_value(schedule.to_spec()).unwrap();
    assert_eq!(
        written["holidays"],
        serde_json::json!([
            {"date": "2026-12-24", "name": "Christmas", "source": "ical", "calendar": "https://example.com/h.ics"},
            {"date": "2026-12-25", "name": "Christmas"},
            {"date": "2026-12-26", "name": "Christmas", "source": "ical", "calendar": "https://example.com/h.ics"},
        ]),
        "the admin's day is cut out of the imported range; no nulls"
    );
    let read: ScheduleSpec = serde_json::from_value(written).unwrap();
    assert_eq!(Schedule::from_spec(&read).unwrap(), schedule);

    let bad = |holiday: serde_json::Value| {
        let spec: ScheduleSpec = serde_json::from_value(serde_json::json!({"time_zone": "UTC", "holidays": [holiday]})).unwrap();
        Schedule::from_spec(&spec).unwrap_err().to_string()
    };
    assert_eq!(
        bad(serde_json::json!({"date": "2026-12-25", "name": "X", "source": "ical"})),
        "holiday \"X\": an imported holiday (\"source\": \"ical\") names its \"calendar\""
    );
    assert_eq!(
        bad(serde_json::json!({"date": "2026-12-25", "name": "X", "calendar": "c"})),
        "holiday \"X\": only an imported holiday (\"source\": \"ical\") has a \"calendar\""
    );
}
