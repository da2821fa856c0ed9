//! Holidays from an iCalendar file (RFC 5545), e.g. a public-holiday calendar: which local dates each
//! event closes, in the schedule's time zone, and how an import merges into a schedule.
//!
//! What an event becomes:
//! - an all-day event (`DTSTART;VALUE=DATE`) closes its date; with a `DTEND` (exclusive, as RFC 5545
//!   says) or a `DURATION` of whole days it closes the range of dates up to the day before `DTEND`;
//! - an event with times (`DTSTART:20261224T120000Z`, with `TZID`, or floating) closes every local
//!   date of the schedule's zone it touches, whole days (an afternoon off closes the whole day);
//!   floating times are read in the schedule's zone;
//! - `SUMMARY` is the holiday's name ("Holiday" when it has none);
//! - recurring events (`RRULE`, with `RDATE`, `EXDATE` and moved instances that carry a
//!   `RECURRENCE-ID`) are expanded from today through the end of the year after next (see
//!   [`recurrence_horizon`]); every rule of RFC 5545 is understood (yearly, "fourth Thursday of
//!   November", …), by the `rrule` crate;
//! - cancelled events (`STATUS:CANCELLED`), events that ended before today, and events without a
//!   usable date are skipped, each with the reason.
//!
//! Time zones are IANA names; a `TZID` that is not one (Outlook's "W. Europe Standard Time" with
//! its own `VTIMEZONE`) is skipped with the reason, as is a `TZID` with a path prefix that does not
//! end in an IANA name.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use icalendar::parser::{read_components, unfold, Component, Property};
use serde::Serialize;

use super::{Holiday, Schedule};

/// The longest stretch one event may close (after dropping the dates before today): a longer one
/// (a daily rule without an end, a ten-year event) is not a holiday and is skipped.
pub const MAX_DAYS_PER_EVENT: usize = 366;
/// The most events one calendar may hold.
pub const MAX_EVENTS: usize = 5_000;
/// The longest holiday name kept; longer summaries are cut.
pub const MAX_NAME_CHARS: usize = 100;

/// Why a calendar as a whole cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcalError {
    #[error("not an iCalendar file: {0}")]
    NotIcal(String),
    #[error("the calendar has no events (no VEVENT)")]
    NoEvents,
    #[error("the calendar has {0} events; at most {MAX_EVENTS} can be imported at once")]
    TooManyEvents(usize),
}

/// A holiday an event closes: local dates `from..=to` with the event's name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImportedDates {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub name: String,
}

/// An event that closes nothing, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedEvent {
    /// Its `SUMMARY`, if it has one.
    pub summary: Option<String>,
    /// Its `UID`, if it has one.
    pub uid: Option<String>,
    pub reason: String,
}

/// What a calendar file holds for a schedule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedCalendar {
    /// `X-WR-CALNAME`, the name calendar programs show.
    pub name: Option<String>,
    /// Sorted and without duplicates.
    pub holidays: Vec<ImportedDates>,
    pub skipped: Vec<SkippedEvent>,
}

/// Recurring events are expanded through 31 December of the year after next.
pub fn recurrence_horizon(today: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(today.year() + 2, 12, 31).unwrap_or(NaiveDate::MAX)
}

/// Reads the holidays of an iCalendar text for a schedule in `tz`, as of the local date `today`.
pub fn parse_calendar(text: &str, tz: Tz, today: NaiveDate) -> Result<ParsedCalendar, IcalError> {
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let starts_right = text.get(..15).is_some_and(|head| head.eq_ignore_ascii_case("BEGIN:VCALENDAR"));
    if !starts_right {
        let first_line = text.lines().next().unwrap_or("").chars().take(60).collect::<String>();
        return Err(IcalError::NotIcal(if first_line.is_empty() {
            "it is empty".to_owned()
        } else {
            format!("it starts with {first_line:?} instead of BEGIN:VCALENDAR")
        }));
    }
    let unfolded = unfold(text);
    let roots = read_components(&unfolded).map_err(|e| IcalError::NotIcal(parser_message(&e)))?;
    let Some(calendar) = roots.iter().find(|c| c.name.as_str().eq_ignore_ascii_case("VCALENDAR")) else {
        return Err(IcalError::NotIcal("there is no VCALENDAR in it".to_owned()));
    };
    let events: Vec<&Component<'_>> = calendar.components.iter().filter(|c| c.name.as_str().eq_ignore_ascii_case("VEVENT")).collect();
    if events.is_empty() {
        return Err(IcalError::NoEvents);
    }
    if events.len() > MAX_EVENTS {
        return Err(IcalError::TooManyEvents(events.len()));
    }
    let name = prop(&calendar.properties, "X-WR-CALNAME").map(|p| clean_text(p.val.as_str())).filter(|n| !n.is_empty());

    // Moved or cancelled instances of a recurring event: the master leaves those occurrences out.
    let mut moved: BTreeMap<String, Vec<DateValue>> = BTreeMap::new();
    for event in &events {
        if let (Some(uid), Some(rid)) = (prop(&event.properties, "UID"), prop(&event.properties, "RECURRENCE-ID")) {
            if let Ok(value) = DateValue::parse(rid.val.as_str(), tzid(rid)) {
                moved.entry(uid.val.as_str().to_owned()).or_default().push(value);
            }
        }
    }

    let horizon = recurrence_horizon(today);
    let mut holidays = BTreeSet::new();
    let mut skipped = Vec::new();
    for event in events {
        let summary = prop(&event.properties, "SUMMARY").map(|p| clean_text(p.val.as_str())).filter(|s| !s.is_empty());
        let uid = prop(&event.properties, "UID").map(|p| p.val.as_str().to_owned());
        let overrides = uid.as_ref().filter(|_| prop(&event.properties, "RECURRENCE-ID").is_none()).and_then(|u| moved.get(u));
        match event_dates(event, tz, today, horizon, overrides.map_or(&[][..], Vec::as_slice)) {
            Ok(dates) => {
                let name = summary.clone().unwrap_or_else(|| "Holiday".to_owned());
                holidays.extend(ranges(&dates).into_iter().map(|(from, to)| ImportedDates { from, to, name: name.clone() }));
            }
            Err(reason) => skipped.push(SkippedEvent { summary, uid, reason }),
        }
    }
    Ok(ParsedCalendar { name, holidays: holidays.into_iter().collect(), skipped })
}

/// Where the parser stopped, without quoting the file (a fetched URL's content is not echoed back).
fn parser_message(e: &str) -> String {
    let line = e.split("at line ").nth(1).and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()).filter(|n| !n.is_empty());
    match line {
        Some(n) => format!("it cannot be parsed at line {n} (counting folded lines as one)"),
        None => "it cannot be parsed".to_owned(),
    }
}

/// One line of text: control characters (new lines in a summary) become spaces, runs of spaces one,
/// at most [`MAX_NAME_CHARS`] characters.
fn clean_text(s: &str) -> String {
    let spaced: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let words: Vec<&str> = spaced.split_whitespace().collect();
    words.join(" ").chars().take(MAX_NAME_CHARS).collect()
}

fn prop<'p, 'a>(props: &'p [Property<'a>], name: &str) -> Option<&'p Property<'a>> {
    props.iter().find(|p| p.name.as_str().eq_ignore_ascii_case(name))
}

fn param<'p>(p: &'p Property<'_>, key: &str) -> Option<&'p str> {
    p.params.iter().find(|k| k.key.as_str().eq_ignore_ascii_case(key)).and_then(|k| k.val.as_ref()).map(|v| v.as_str())
}

fn tzid<'p>(p: &'p Property<'_>) -> Option<&'p str> {
    param(p, "TZID").map(|t| t.trim_matches('"'))
}

/// An IANA zone from a `TZID`, also when a calendar program put a path before it
/// (`/mozilla.org/20050126_1/Europe/Berlin`).
fn zone(tzid: &str) -> Result<Tz, String> {
    if let Ok(tz) = tzid.parse::<Tz>() {
        return Ok(tz);
    }
    tzid.match_indices('/')
        .find_map(|(i, _)| tzid[i + 1..].parse::<Tz>().ok())
        .ok_or_else(|| format!("time zone {tzid:?} is not an IANA name (such as Europe/Berlin)"))
}

/// A `DATE` or `DATE-TIME` value as written.
#[derive(Clone, Copy, Debug, PartialEq)]
enum DateValue {
    Date(NaiveDate),
    Utc(DateTime<Utc>),
    /// In a named zone.
    Zoned(DateTime<Tz>),
    /// Without a zone: the schedule's.
    Floating(NaiveDateTime),
}

impl DateValue {
    fn parse(value: &str, tzid: Option<&str>) -> Result<DateValue, String> {
        let value = value.trim();
        let bad = || format!("{value:?} is not a date (YYYYMMDD) or a date and time (YYYYMMDDTHHMMSS)");
        if value.len() == 8 {
            return NaiveDate::parse_from_str(value, "%Y%m%d").map(DateValue::Date).map_err(|_| bad());
        }
        if let Some(utc) = value.strip_suffix(['Z', 'z']) {
            let naive = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
            return Ok(DateValue::Utc(naive.and_utc()));
        }
        let naive = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
        match tzid {
            None => Ok(DateValue::Floating(naive)),
            Some(tzid) => {
                let tz = zone(tzid)?;
                // A time the clocks skipped means the instant after the gap, an ambiguous one the
                // earlier (RFC 5545 3.3.5).
                let at = tz
                    .from_local_datetime(&naive)
                    .earliest()
                    .or_else(|| (1..=180).find_map(|m| tz.from_local_datetime(&(naive + TimeDelta::minutes(m))).earliest()));
                at.map(DateValue::Zoned).ok_or_else(|| format!("{value:?} does not exist in {tzid}"))
            }
        }
    }

    /// The instant, reading floating times in `tz`; `None` for a date.
    fn instant(self, tz: Tz) -> Option<DateTime<Tz>> {
        match self {
            DateValue::Date(_) => None,
            DateValue::Utc(at) => Some(at.with_timezone(&tz)),
            DateValue::Zoned(at) => Some(at.with_timezone(&tz)),
            DateValue::Floating(naive) => {
                tz.from_local_datetime(&naive).earliest().or_else(|| tz.from_local_datetime(&(naive + TimeDelta::hours(1))).earliest())
            }
        }
    }
}

/// The values of a property, which may list several (`EXDATE:20261225,20271225`).
fn values(p: &Property<'_>) -> Vec<Result<DateValue, String>> {
    p.val.as_str().split(',').filter(|v| !v.trim().is_empty()).map(|v| DateValue::parse(v, tzid(p))).collect()
}

/// An RFC 5545 duration (`P1D`, `P2W`, `PT12H`, `P1DT2H`), as a signed span.
fn parse_duration(value: &str) -> Result<TimeDelta, String> {
    let bad = || format!("DURATION {value:?} is not a duration like P1D or PT8H");
    let v = value.trim();
    let (negative, v) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let v = v.strip_prefix(['P', 'p']).ok_or_else(bad)?;
    let mut total = TimeDelta::zero();
    let mut number = String::new();
    let mut in_time = false;
    for c in v.chars() {
        match c.to_ascii_uppercase() {
            'T' if number.is_empty() => in_time = true,
            d if d.is_ascii_digit() => number.push(d),
            unit => {
                let n: i64 = number.parse().map_err(|_| bad())?;
                number.clear();
                let part = match (unit, in_time) {
                    ('W', false) => TimeDelta::try_weeks(n),
                    ('D', false) => TimeDelta::try_days(n),
                    ('H', true) => TimeDelta::try_hours(n),
                    ('M', true) => TimeDelta::try_minutes(n),
                    ('S', true) => TimeDelta::try_seconds(n),
                    _ => None,
                };
                total = total.checked_add(&part.ok_or_else(bad)?).ok_or_else(bad)?;
            }
        }
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(if negative { -total } else { total })
}

/// How long each occurrence lasts: whole days for an all-day event, a span for one with times.
#[derive(Clone, Copy)]
enum Length {
    Days(u64),
    Span(TimeDelta),
}

/// The local dates (in `tz`, from `today` on) an event closes, or why it closes none.
fn event_dates(
    event: &Component<'_>,
    tz: Tz,
    today: NaiveDate,
    horizon: NaiveDate,
    moved: &[DateValue],
) -> Result<BTreeSet<NaiveDate>, String> {
    if prop(&event.properties, "STATUS").is_some_and(|s| s.val.as_str().trim().eq_ignore_ascii_case("CANCELLED")) {
        return Err("cancelled (STATUS:CANCELLED)".to_owned());
    }
    let start_prop = prop(&event.properties, "DTSTART").ok_or_else(|| "has no date: DTSTART is missing".to_owned())?;
    let start = DateValue::parse(start_prop.val.as_str(), tzid(start_prop)).map_err(|e| format!("DTSTART {e}"))?;
    let length = match (prop(&event.properties, "DTEND"), prop(&event.properties, "DURATION")) {
        (Some(end), _) => {
            let end = DateValue::parse(end.val.as_str(), tzid(end)).map_err(|e| format!("DTEND {e}"))?;
            match (start, end) {
                (DateValue::Date(s), DateValue::Date(e)) if e < s => return Err(format!("DTEND {e} is before DTSTART {s}")),
                (DateValue::Date(s), DateValue::Date(e)) => Length::Days(u64::try_from((e - s).num_days()).unwrap_or(0).max(1)),
                (DateValue::Date(_), _) => return Err("DTSTART is a date but DTEND has a time; they must be alike".to_owned()),
                (s, e) => {
                    let (s, e) = (s.instant(tz), e.instant(tz));
                    match (s, e) {
                        (Some(s), Some(e)) if e < s => {
                            return Err(format!("DTEND {} is before DTSTART {}", e.to_rfc3339(), s.to_rfc3339()))
                        }
                        (Some(s), Some(e)) => Length::Span(e - s),
                        _ => return Err("DTSTART has a time but DTEND is a date; they must be alike".to_owned()),
                    }
                }
            }
        }
        (None, Some(duration)) => {
            let d = parse_duration(duration.val.as_str())?;
            if d < TimeDelta::zero() {
                return Err(format!("DURATION {:?} is negative", duration.val.as_str()));
            }
            match start {
                // Whole days, a part of a day counting as one more.
                DateValue::Date(_) => Length::Days(u64::try_from((d.num_seconds() + 86_399) / 86_400).unwrap_or(0).max(1)),
                _ => Length::Span(d),
            }
        }
        (None, None) => match start {
            DateValue::Date(_) => Length::Days(1),
            _ => Length::Span(TimeDelta::zero()),
        },
    };

    let starts = occurrences(event, start, tz, today, horizon, moved)?;
    let mut dates = BTreeSet::new();
    for occurrence in starts {
        let (first, last) = match (occurrence, length) {
            (DateValue::Date(d), Length::Days(n)) => (d, d.checked_add_days(Days::new(n - 1)).unwrap_or(d)),
            (at, Length::Span(span)) => {
                let Some(at) = at.instant(tz) else { continue };
                // The end is exclusive: an event until midnight does not close the next day.
                let end = if span > TimeDelta::zero() { at + span - TimeDelta::seconds(1) } else { at };
                (at.date_naive(), end.date_naive().max(at.date_naive()))
            }
            (_, Length::Days(_)) => continue,
        };
        let first = first.max(today);
        let mut date = first;
        while date <= last {
            dates.insert(date);
            if dates.len() > MAX_DAYS_PER_EVENT {
                return Err(format!("closes more than {MAX_DAYS_PER_EVENT} days from today on; that is not a holiday"));
            }
            let Some(next) = date.succ_opt() else { break };
            date = next;
        }
    }
    if dates.is_empty() {
        return Err(if prop(&event.properties, "RRULE").is_some() {
            format!("does not occur between today ({today}) and {horizon}")
        } else {
            format!("in the past: ended before today ({today})")
        });
    }
    Ok(dates)
}

/// The start of each occurrence: DTSTART alone, or the recurrence's from a little before today to
/// the horizon, without excluded (`EXDATE`) and moved (`RECURRENCE-ID`) ones, with `RDATE`s.
fn occurrences(
    event: &Component<'_>,
    start: DateValue,
    tz: Tz,
    today: NaiveDate,
    horizon: NaiveDate,
    moved: &[DateValue],
) -> Result<Vec<DateValue>, String> {
    let rules: Vec<&Property<'_>> = event.properties.iter().filter(|p| p.name.as_str().eq_ignore_ascii_case("RRULE")).collect();
    let mut excluded: Vec<DateValue> = moved.to_vec();
    for p in event.properties.iter().filter(|p| p.name.as_str().eq_ignore_ascii_case("EXDATE")) {
        excluded.extend(values(p).into_iter().filter_map(Result::ok));
    }
    let mut starts = vec![start];
    for p in event.properties.iter().filter(|p| p.name.as_str().eq_ignore_ascii_case("RDATE")) {
        if param(p, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("PERIOD")) {
            return Err("RDATE periods (VALUE=PERIOD) are not read".to_owned());
        }
        for value in values(p) {
            starts.push(value.map_err(|e| format!("RDATE {e}"))?);
        }
    }
    for rule in rules {
        starts.extend(expand(rule.val.as_str(), start, tz, today, horizon)?);
    }
    let is_excluded = |occurrence: &DateValue| {
        excluded.iter().any(|ex| match (ex, occurrence) {
            (DateValue::Date(ex), DateValue::Date(d)) => ex == d,
            (DateValue::Date(ex), at) => at.instant(tz).is_some_and(|at| at.date_naive() == *ex),
            (ex, at) => ex.instant(tz).is_some_and(|ex| at.instant(tz) == Some(ex)),
        })
    };
    let mut seen = Vec::new();
    for s in starts {
        if !is_excluded(&s) && !seen.contains(&s) {
            seen.push(s);
        }
    }
    Ok(seen)
}

/// The occurrences of one `RRULE` from a little before `today` through `horizon`, by the `rrule`
/// crate. `UNTIL` is applied here rather than by the crate, which would read a date or a floating
/// `UNTIL` in the machine's own zone.
fn expand(rule: &str, start: DateValue, tz: Tz, today: NaiveDate, horizon: NaiveDate) -> Result<Vec<DateValue>, String> {
    let mut until: Option<DateValue> = None;
    let mut parts = Vec::new();
    for part in rule.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((key, value)) if key.eq_ignore_ascii_case("UNTIL") => {
                until = Some(DateValue::parse(value, None).map_err(|e| format!("RRULE UNTIL {e}"))?);
            }
            _ => parts.push(part),
        }
    }
    let not_read = |e: &dyn std::fmt::Display| format!("RRULE {rule:?} is not understood: {e}");
    let parsed: rrule::RRule<rrule::Unvalidated> = format!("RRULE:{}", parts.join(";")).parse().map_err(|e| not_read(&e))?;
    // The occurrences are computed in the event's own frame: all-day events on plain dates (UTC
    // midnight stands for the date), events with times in their zone.
    let frame_tz = match start {
        DateValue::Zoned(at) => rrule::Tz::Tz(at.timezone()),
        DateValue::Floating(_) => rrule::Tz::Tz(tz),
        DateValue::Date(_) | DateValue::Utc(_) => rrule::Tz::UTC,
    };
    let in_frame = |naive: NaiveDateTime| frame_tz.from_local_datetime(&naive).earliest();
    let dtstart = match start {
        DateValue::Date(d) => in_frame(d.and_time(chrono::NaiveTime::MIN)),
        DateValue::Utc(at) => Some(at.with_timezone(&frame_tz)),
        DateValue::Zoned(at) => Some(at.with_timezone(&frame_tz)),
        DateValue::Floating(naive) => in_frame(naive),
    }
    .ok_or_else(|| "DTSTART does not exist in its time zone".to_owned())?;
    // A week's margin before today catches occurrences that started earlier and still run (longer
    // ones are cut at MAX_DAYS_PER_EVENT anyway).
    let from = today.checked_sub_days(Days::new(MAX_DAYS_PER_EVENT as u64 + 1)).unwrap_or(today);
    let after = in_frame(from.and_time(chrono::NaiveTime::MIN)).ok_or_else(|| not_read(&"no start bound"))?;
    let last_second = chrono::NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(chrono::NaiveTime::MIN);
    let before = in_frame(horizon.and_time(last_second)).ok_or_else(|| not_read(&"no end bound"))?;
    let set = parsed.build(dtstart).map_err(|e| not_read(&e))?.after(after).before(before);
    let result = set.all(u16::try_from(MAX_DAYS_PER_EVENT * 4).unwrap_or(u16::MAX));
    if result.limited && result.dates.len() >= MAX_DAYS_PER_EVENT * 4 {
        return Err(format!("RRULE {rule:?} recurs too often to be a holiday"));
    }
    let within_until = |at: &DateTime<rrule::Tz>| match until {
        None => true,
        Some(DateValue::Date(d)) => at.date_naive() <= d,
        Some(DateValue::Utc(u)) => at.with_timezone(&Utc) <= u,
        Some(DateValue::Zoned(u)) => at.with_timezone(&Utc) <= u.with_timezone(&Utc),
        Some(DateValue::Floating(u)) => at.naive_local() <= u,
    };
    Ok(result
        .dates
        .into_iter()
        .filter(within_until)
        .map(|at| match start {
            DateValue::Date(_) => DateValue::Date(at.date_naive()),
            _ => DateValue::Utc(at.with_timezone(&Utc)),
        })
        .collect())
}

/// Runs of consecutive dates as `(first, last)`.
fn ranges(dates: &BTreeSet<NaiveDate>) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for &date in dates {
        match out.last_mut() {
            Some((_, last)) if last.succ_opt() == Some(date) => *last = date,
            _ => out.push((date, date)),
        }
    }
    out
}

/// An imported day an admin's holiday already covers: the admin's entry stays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeptDay {
    /// The imported holiday's dates that were not taken (`from..=to`).
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The name in the calendar.
    pub name: String,
    /// The admin's holiday that covers these dates.
    pub admin_name: String,
}

/// What an import changed, against the schedule's earlier holidays from the same calendar.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// New holidays from this calendar.
    pub added: Vec<Holiday>,
    /// Holidays this calendar had brought before and brings again.
    pub unchanged: Vec<Holiday>,
    /// Holidays an earlier import of this calendar had brought that it no longer holds.
    pub removed: Vec<Holiday>,
    /// Dates the calendar closes that an admin's holiday already covers.
    pub kept: Vec<KeptDay>,
    /// Events that close nothing, with the reason.
    pub skipped: Vec<SkippedEvent>,
}

impl Schedule {
    /// The schedule with the holidays of `parsed` as the import of `calendar`: whatever an earlier
    /// import of the same calendar brought is replaced (never duplicated), holidays from admins and
    /// from other calendars stay as they are, and a day an admin's holiday covers keeps the admin's
    /// entry (reported as kept).
    #[must_use]
    pub fn with_import(&self, calendar: &str, parsed: &ParsedCalendar) -> (Schedule, ImportReport) {
        let (earlier, others): (Vec<Holiday>, Vec<Holiday>) = self.holidays.iter().cloned().partition(|h| h.imported_from(calendar));
        let admin: Vec<&Holiday> = others.iter().filter(|h| !h.is_imported()).collect();
        let mut report = ImportReport { skipped: parsed.skipped.clone(), ..ImportReport::default() };
        let mut imported = Vec::new();
        for dates in &parsed.holidays {
            let holiday = Holiday::imported(dates.from, dates.to, dates.name.clone(), calendar);
            for a in admin.iter().filter(|a| a.from <= holiday.to && holiday.from <= a.to) {
                report.kept.push(KeptDay {
                    from: holiday.from.max(a.from),
                    to: holiday.to.min(a.to),
                    name: holiday.name.clone(),
                    admin_name: a.name.clone(),
                });
            }
            imported.extend(holiday.without(|d| admin.iter().any(|a| a.contains(d))));
        }
        imported.sort();
        imported.dedup();
        for h in &imported {
            if earlier.contains(h) {
                report.unchanged.push(h.clone());
            } else {
                report.added.push(h.clone());
            }
        }
        report.removed = earlier.into_iter().filter(|h| !imported.contains(h)).collect();
        let mut holidays = others;
        holidays.extend(imported);
        (Schedule::new(self.time_zone, self.weekly.clone(), holidays), report)
    }

    /// The schedule without the holidays imported from `calendar`, and those holidays.
    #[must_use]
    pub fn without_import(&self, calendar: &str) -> (Schedule, Vec<Holiday>) {
        let (removed, kept): (Vec<Holiday>, Vec<Holiday>) = self.holidays.iter().cloned().partition(|h| h.imported_from(calendar));
        (Schedule::new(self.time_zone, self.weekly.clone(), kept), removed)
    }
}

#[cfg(test)]
#[path = "ical_tests.rs"]
mod tests;
