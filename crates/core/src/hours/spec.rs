//! The written form of a schedule (what an admin page, the API and the database hold) and its
//! validation into a [`Schedule`]. Every error names the day, interval, time or holiday that is wrong.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::Schedule;

/// A wall-clock time of day in the schedule's zone, as minutes since local midnight: `00:00` to
/// `24:00`. `24:00` exists only as the end of an interval ("open until midnight").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(u16);

impl LocalTime {
    pub const MIDNIGHT: LocalTime = LocalTime(0);
    /// The end of the day, `24:00`.
    pub const END_OF_DAY: LocalTime = LocalTime(24 * 60);

    /// `None` unless `hour:minute` is a time of day or exactly `24:00`.
    pub fn new(hour: u16, minute: u16) -> Option<Self> {
        (minute < 60 && (hour < 24 || (hour == 24 && minute == 0))).then_some(LocalTime(hour * 60 + minute))
    }

    pub fn hour(self) -> u16 {
        self.0 / 60
    }

    pub fn minute(self) -> u16 {
        self.0 % 60
    }

    pub(super) fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl FromStr for LocalTime {
    type Err = String;

    /// `H:MM` or `HH:MM`, from `00:00` to `24:00`. The error says what is wrong, for [`ScheduleError`].
    fn from_str(s: &str) -> Result<Self, String> {
        let (h, m) = s.split_once(':').ok_or_else(|| "expected HH:MM".to_owned())?;
        let digits = |p: &str, len: std::ops::RangeInclusive<usize>| len.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(h, 1..=2) || !digits(m, 2..=2) {
            return Err("expected HH:MM".to_owned());
        }
        let (hour, minute): (u16, u16) = (h.parse().map_err(|_| "expected HH:MM")?, m.parse().map_err(|_| "expected HH:MM")?);
        if minute >= 60 {
            return Err("minutes go from 00 to 59".to_owned());
        }
        LocalTime::new(hour, minute).ok_or_else(|| "hours go from 00 to 23, and 24:00 ends a day".to_owned())
    }
}

/// An open interval of local wall-clock time within one day, `[start, end)`, e.g. `09:00-17:00`.
/// Overnight hours are two intervals (`22:00-24:00` on one day, `00:00-02:00` on the next); the
/// schedule joins intervals that touch into one open period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalInterval {
    pub start: LocalTime,
    pub end: LocalTime,
}

impl LocalInterval {
    /// `None` unless `start < end`.
    pub fn new(start: LocalTime, end: LocalTime) -> Option<Self> {
        (start < end).then_some(LocalInterval { start, end })
    }

    /// The whole day, `00:00-24:00`.
    pub const ALL_DAY: LocalInterval = LocalInterval { start: LocalTime::MIDNIGHT, end: LocalTime::END_OF_DAY };
}

impl fmt::Display for LocalInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// Who wrote a holiday: an admin (the admin page or the API), or an import of an iCal calendar.
/// Written as `"admin"` or `"ical"`; a holiday without one is the admin's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HolidaySource {
    #[default]
    Admin,
    Ical,
}

impl HolidaySource {
    pub fn is_admin(&self) -> bool {
        *self == HolidaySource::Admin
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HolidaySource::Admin => "admin",
            HolidaySource::Ical => "ical",
        }
    }
}

/// A named closure of whole local dates, `from..=to` (one day when equal). Local dates, so a holiday
/// closes exactly that calendar day in the schedule's zone whatever its UTC offset.
///
/// An imported holiday (`source` [`HolidaySource::Ical`]) names the `calendar` it came from, so that
/// importing that calendar again replaces it. A day an admin's holiday covers is never also an
/// imported holiday's: a schedule cuts such days out of imported holidays (the admin's entry wins).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Holiday {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub name: String,
    pub source: HolidaySource,
    /// The imported calendar (its URL or name); `None` for an admin's holiday.
    pub calendar: Option<String>,
}

impl Holiday {
    /// An admin's holiday.
    pub fn new(from: NaiveDate, to: NaiveDate, name: impl Into<String>) -> Holiday {
        Holiday { from, to, name: name.into(), source: HolidaySource::Admin, calendar: None }
    }

    /// A holiday imported from `calendar`.
    pub fn imported(from: NaiveDate, to: NaiveDate, name: impl Into<String>, calendar: impl Into<String>) -> Holiday {
        Holiday { from, to, name: name.into(), source: HolidaySource::Ical, calendar: Some(calendar.into()) }
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }

    pub fn is_imported(&self) -> bool {
        self.source == HolidaySource::Ical
    }

    /// Whether it came from an import of `calendar`.
    pub fn imported_from(&self, calendar: &str) -> bool {
        self.is_imported() && self.calendar.as_deref() == Some(calendar)
    }

    /// This holiday without the dates `covered` says are taken: the ranges left, in order (none when
    /// every date is taken, the whole holiday when none is).
    pub fn without(&self, covered: impl Fn(NaiveDate) -> bool) -> Vec<Holiday> {
        let mut left = Vec::new();
        let mut start: Option<NaiveDate> = None;
        let mut date = self.from;
        loop {
            let taken = covered(date);
            match (start, taken) {
                (None, false) => start = Some(date),
                (Some(from), true) => {
                    left.push(Holiday { from, to: date.pred_opt().unwrap_or(date), ..self.clone() });
                    start = None;
                }
                _ => {}
            }
            if date >= self.to {
                break;
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        if let Some(from) = start {
            left.push(Holiday { from, to: self.to, ..self.clone() });
        }
        left
    }
}

/// The opening hours of each weekday as written: `["09:00-12:00", "13:00-17:00"]`. A day left out
/// or empty is closed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklySpec {
    #[serde(default, alias = "monday", skip_serializing_if = "Vec::is_empty")]
    pub mon: Vec<String>,
    #[serde(default, alias = "tuesday", skip_serializing_if = "Vec::is_empty")]
    pub tue: Vec<String>,
    #[serde(default, alias = "wednesday", skip_serializing_if = "Vec::is_empty")]
    pub wed: Vec<String>,
    #[serde(default, alias = "thursday", skip_serializing_if = "Vec::is_empty")]
    pub thu: Vec<String>,
    #[serde(default, alias = "friday", skip_serializing_if = "Vec::is_empty")]
    pub fri: Vec<String>,
    #[serde(default, alias = "saturday", skip_serializing_if = "Vec::is_empty")]
    pub sat: Vec<String>,
    #[serde(default, alias = "sunday", skip_serializing_if = "Vec::is_empty")]
    pub sun: Vec<String>,
}

impl WeeklySpec {
    pub fn day(&self, day: Weekday) -> &Vec<String> {
        match day {
            Weekday::Mon => &self.mon,
            Weekday::Tue => &self.tue,
            Weekday::Wed => &self.wed,
            Weekday::Thu => &self.thu,
            Weekday::Fri => &self.fri,
            Weekday::Sat => &self.sat,
            Weekday::Sun => &self.sun,
        }
    }

    pub fn day_mut(&mut self, day: Weekday) -> &mut Vec<String> {
        match day {
            Weekday::Mon => &mut self.mon,
            Weekday::Tue => &mut self.tue,
            Weekday::Wed => &mut self.wed,
            Weekday::Thu => &mut self.thu,
            Weekday::Fri => &mut self.fri,
            Weekday::Sat => &mut self.sat,
            Weekday::Sun => &mut self.sun,
        }
    }
}

/// A holiday as written: either `{"date": "2026-12-25", "name": "Christmas"}` or a closure
/// `{"from": "2026-12-24", "to": "2026-12-31", "name": "Closed for the holidays"}` (both days included).
/// An imported one also says so: `"source": "ical", "calendar": "https://…/holidays.ics"`; without
/// `source` it is the admin's (so specs written before imports existed read the same).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidaySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "HolidaySource::is_admin")]
    pub source: HolidaySource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
}

/// A schedule as written, e.g.
/// `{"time_zone": "Europe/Berlin", "weekly": {"mon": ["09:00-17:00"]}, "holidays": [...]}`.
/// [`Schedule::from_spec`] validates it; [`Schedule::to_spec`] writes a schedule back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// An IANA zone name, e.g. `Europe/Berlin`.
    pub time_zone: String,
    #[serde(default)]
    pub weekly: WeeklySpec,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<HolidaySpec>,
}

/// Why a written schedule is refused, naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("unknown time zone {0:?}; use an IANA name such as \"Europe/Berlin\"")]
    UnknownTimeZone(String),
    #[error("{day}: {interval:?} is not an interval like \"09:00-17:00\"")]
    BadInterval { day: &'static str, interval: String },
    #[error("{day}: bad time {time:?} in {interval:?}: {reason}")]
    BadTime { day: &'static str, interval: String, time: String, reason: String },
    #[error(
        "{day}: {interval:?} ends before it starts; write overnight hours as two intervals \
         (e.g. \"22:00-24:00\" and \"00:00-02:00\" on the next day)"
    )]
    EndBeforeStart { day: &'static str, interval: String },
    #[error("{day}: {interval:?} opens and closes at the same time")]
    EmptyInterval { day: &'static str, interval: String },
    #[error("{day}: {first} and {second} overlap")]
    Overlap { day: &'static str, first: LocalInterval, second: LocalInterval },
    #[error("holiday {name:?}: bad date {date:?}, expected YYYY-MM-DD")]
    BadDate { name: String, date: String },
    #[error("holiday {name:?}: give either \"date\", or \"from\" and \"to\"")]
    HolidayDates { name: String },
    #[error("holiday {name:?}: ends on {to} before it starts on {from}")]
    HolidayEndsBeforeStart { name: String, from: NaiveDate, to: NaiveDate },
    #[error("a holiday on {date} needs a name")]
    HolidayWithoutName { date: String },
    #[error("holiday {name:?}: an imported holiday (\"source\": \"ical\") names its \"calendar\"")]
    ImportedWithoutCalendar { name: String },
    #[error("holiday {name:?}: only an imported holiday (\"source\": \"ical\") has a \"calendar\"")]
    CalendarWithoutImport { name: String },
}

pub(super) fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

pub(super) const WEEK: [Weekday; 7] = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

fn parse_interval(day: &'static str, written: &str) -> Result<LocalInterval, ScheduleError> {
    let (start, end) = written.split_once('-').ok_or_else(|| ScheduleError::BadInterval { day, interval: written.to_owned() })?;
    let time = |t: &str| {
        let t = t.trim();
        t.parse::<LocalTime>().map_err(|reason| ScheduleError::BadTime { day, interval: written.to_owned(), time: t.to_owned(), reason })
    };
    let (start, end) = (time(start)?, time(end)?);
    if start == LocalTime::END_OF_DAY {
        let reason = "24:00 can only end an interval".to_owned();
        return Err(ScheduleError::BadTime { day, interval: written.to_owned(), time: start.to_string(), reason });
    }
    if end == start {
        return Err(ScheduleError::EmptyInterval { day, interval: written.to_owned() });
    }
    LocalInterval::new(start, end).ok_or_else(|| ScheduleError::EndBeforeStart { day, interval: written.to_owned() })
}

/// One weekday's intervals, sorted, refusing overlaps (intervals that only touch are fine).
fn parse_day(day: Weekday, written: &[String]) -> Result<Vec<LocalInterval>, ScheduleError> {
    let name = day_name(day);
    let mut intervals = written.iter().map(|w| parse_interval(name, w.trim())).collect::<Result<Vec<_>, _>>()?;
    intervals.sort();
    for pair in intervals.windows(2) {
        if pair[1].start < pair[0].end {
            return Err(ScheduleError::Overlap { day: name, first: pair[0], second: pair[1] });
        }
    }
    Ok(intervals)
}

fn parse_holiday(spec: &HolidaySpec) -> Result<Holiday, ScheduleError> {
    let name = spec.name.trim().to_owned();
    let date = |written: &str| {
        NaiveDate::parse_from_str(written.trim(), "%Y-%m-%d")
            .map_err(|_| ScheduleError::BadDate { name: name.clone(), date: written.to_owned() })
    };
    let (from, to) = match (&spec.date, &spec.from, &spec.to) {
        (Some(day), None, None) => {
            let day = date(day)?;
            (day, day)
        }
        (None, Some(from), Some(to)) => (date(from)?, date(to)?),
        _ => return Err(ScheduleError::HolidayDates { name }),
    };
    if name.is_empty() {
        return Err(ScheduleError::HolidayWithoutName { date: from.to_string() });
    }
    if to < from {
        return Err(ScheduleError::HolidayEndsBeforeStart { name, from, to });
    }
    let calendar = spec.calendar.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned);
    match (spec.source, calendar) {
        (HolidaySource::Admin, None) => Ok(Holiday::new(from, to, name)),
        (HolidaySource::Ical, Some(calendar)) => Ok(Holiday::imported(from, to, name, calendar)),
        (HolidaySource::Admin, Some(_)) => Err(ScheduleError::CalendarWithoutImport { name }),
        (HolidaySource::Ical, None) => Err(ScheduleError::ImportedWithoutCalendar { name }),
    }
}

impl Schedule {
    /// Validates a written schedule: a known IANA zone, intervals `HH:MM-HH:MM` with the end after the
    /// start and no overlaps within a day, holidays with a name and real dates.
    pub fn from_spec(spec: &ScheduleSpec) -> Result<Schedule, ScheduleError> {
        let time_zone = spec.time_zone.trim().parse::<Tz>().map_err(|_| ScheduleError::UnknownTimeZone(spec.time_zone.clone()))?;
        let mut weekly: [Vec<LocalInterval>; 7] = Default::default();
        for (slot, day) in weekly.iter_mut().zip(WEEK) {
            *slot = parse_day(day, spec.weekly.day(day))?;
        }
        let holidays = spec.holidays.iter().map(parse_holiday).collect::<Result<Vec<_>, _>>()?;
        Ok(Schedule::new(time_zone, weekly, holidays))
    }

    /// The schedule as written, with canonical `HH:MM-HH:MM` intervals and `YYYY-MM-DD` dates.
    pub fn to_spec(&self) -> ScheduleSpec {
        let mut weekly = WeeklySpec::default();
        for day in WEEK {
            *weekly.day_mut(day) = self.intervals(day).iter().map(ToString::to_string).collect();
        }
        let holidays = self
            .holidays()
            .iter()
            .map(|h| {
                let (date, from, to) = if h.from == h.to {
                    (Some(h.from.to_string()), None, None)
                } else {
                    (None, Some(h.from.to_string()), Some(h.to.to_string()))
                };
                HolidaySpec { date, from, to, name: h.name.clone(), source: h.source, calendar: h.calendar.clone() }
            })
            .collect();
        ScheduleSpec { time_zone: self.time_zone().name().to_owned(), weekly, holidays }
    }
}

impl TryFrom<ScheduleSpec> for Schedule {
    type Error = ScheduleError;

    fn try_from(spec: ScheduleSpec) -> Result<Self, Self::Error> {
        Schedule::from_spec(&spec)
    }
}

impl From<Schedule> for ScheduleSpec {
    fn from(schedule: Schedule) -> Self {
        schedule.to_spec()
    }
}
