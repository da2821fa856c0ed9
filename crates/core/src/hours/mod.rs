//! Business hours (SPEC 10, issue 13): a weekly schedule of local intervals, holidays as whole local
//! dates, in an IANA time zone, and what the desk asks of it: is the business open now, when does it
//! open or close next, how much business time lies between two instants, and how a customer service
//! window (SPEC 2) meets the hours.
//!
//! Local intervals are turned into instants per local date with the zone's rules, so a `09:00-17:00`
//! day is 8 h of business time on ordinary days and an `00:00-24:00` day is 23 h or 25 h on the days
//! the clocks change:
//! - a local time that does not exist (spring-forward gap) means the first instant after the gap;
//! - a local time that exists twice (fall-back overlap) means the earlier instant when it opens an
//!   interval and the later one when it closes it, so the interval keeps all of its wall-clock time.
//!
//! Intervals that touch or overlap once turned into instants (`Fri 22:00-24:00` and
//! `Sat 00:00-02:00`) form one continuous open period. Open periods are half-open: the business is
//! open at the opening instant and closed at the closing instant, as the window is closed at exactly
//! its end (W4). A number without a schedule is always open: [`Schedule::always_open`], or
//! [`or_always_open`] for an `Option<&Schedule>`.
//!
//! Searches are bounded (two years of non-holiday days, holidays skipped as whole ranges), so a
//! schedule without any open time answers `None` instead of looping.
//!
//! Holidays are an admin's or imported from an iCal calendar ([`ical`]); a day an admin's holiday
//! covers keeps the admin's entry, and importing a calendar again replaces what it brought before.

mod format;
pub mod ical;
mod spec;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

pub use format::{format_local, format_relative};
use spec::WEEK;
pub use spec::{Holiday, HolidaySource, HolidaySpec, LocalInterval, LocalTime, ScheduleError, ScheduleSpec, WeeklySpec};

/// How many non-holiday local days a search for the next opening or closing looks at before it gives
/// up. A weekly schedule with any open time opens within two weeks of non-holiday days (one of them
/// may lose an interval to a DST gap), so this only bounds schedules that never open or never close.
const SEARCH_DAYS: u32 = 2 * 366;

/// A number's business hours. Built from a [`ScheduleSpec`] ([`Schedule::from_spec`], or serde,
/// which validates the same way), so every `Schedule` is valid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ScheduleSpec", into = "ScheduleSpec")]
pub struct Schedule {
    time_zone: Tz,
    /// Indexed by days from Monday; each day's intervals sorted and not overlapping.
    weekly: [Vec<LocalInterval>; 7],
    holidays: Vec<Holiday>,
    /// Every day is `00:00-24:00` and there are no holidays: open at every instant, in any zone.
    always_open: bool,
}

/// How the customer service window meets the business hours (issue 13 item 2), for the window state
/// in the API, the ticket banner and rule conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WindowHours {
    /// The start of the next open period at or after `now` (`now` itself when open); `None` when the
    /// schedule never opens.
    pub next_business_open: Option<Timestamp>,
    /// The window ends while the business is closed; an end at exactly a closing time counts as
    /// closed (W4). `false` when there is no window end.
    pub closes_outside_business_hours: bool,
    /// Business time between `now` and the window end; zero means nobody will be at work before it
    /// closes. Serialized as whole seconds, `business_seconds_left`, like `WindowState::seconds_left`.
    #[serde(rename = "business_seconds_left", serialize_with = "whole_seconds")]
    pub business_time_left: Duration,
}

fn whole_seconds<S: serde::Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(d.as_secs())
}

/// Where an instant falls relative to an interval edge in a day with a clock change.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Edge {
    Opens,
    Closes,
}

impl Schedule {
    /// A schedule from validated parts; intervals are sorted per day, overlaps are the caller's
    /// business ([`Schedule::from_spec`] refuses them).
    fn new(time_zone: Tz, mut weekly: [Vec<LocalInterval>; 7], holidays: Vec<Holiday>) -> Self {
        for day in &mut weekly {
            day.sort();
        }
        let mut holidays = admin_days_win(holidays);
        holidays.sort();
        holidays.dedup();
        let always_open = holidays.is_empty() && weekly.iter().all(|day| day.as_slice() == [LocalInterval::ALL_DAY]);
        Schedule { time_zone, weekly, holidays, always_open }
    }

    /// Open at every instant: what a number without a schedule has.
    pub fn always_open() -> Self {
        Schedule::new(Tz::UTC, std::array::from_fn(|_| vec![LocalInterval::ALL_DAY]), Vec::new())
    }

    /// A schedule with the same intervals on the given days, no holidays. Intervals that overlap
    /// simply add up to their union.
    pub fn weekly(time_zone: Tz, days: &[Weekday], intervals: &[LocalInterval]) -> Self {
        let weekly = std::array::from_fn(|i| if days.contains(&WEEK[i]) { intervals.to_vec() } else { Vec::new() });
        Schedule::new(time_zone, weekly, Vec::new())
    }

    /// The same schedule with one more holiday.
    #[must_use]
    pub fn with_holiday(self, holiday: Holiday) -> Self {
        let mut holidays = self.holidays;
        holidays.push(holiday);
        Schedule::new(self.time_zone, self.weekly, holidays)
    }

    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    pub fn intervals(&self, day: Weekday) -> &[LocalInterval] {
        &self.weekly[day.num_days_from_monday() as usize]
    }

    pub fn holidays(&self) -> &[Holiday] {
        &self.holidays
    }

    /// The holiday that closes this local date, if any.
    pub fn holiday_on(&self, date: NaiveDate) -> Option<&Holiday> {
        self.holidays.iter().find(|h| h.contains(date))
    }

    /// True when the week has no open interval at all (holidays aside).
    pub fn never_opens(&self) -> bool {
        self.weekly.iter().all(Vec::is_empty)
    }

    /// The local date of an instant in the schedule's zone.
    pub fn local_date(&self, t: Timestamp) -> NaiveDate {
        t.to_datetime().with_timezone(&self.time_zone).date_naive()
    }

    /// Whether the business is open at `t`. Open at the opening instant, closed at the closing one.
    pub fn is_open(&self, t: Timestamp) -> bool {
        self.period_at_or_after(t, SEARCH_DAYS).is_some_and(|p| p.start <= t)
    }

    /// The start of the next open period at or after `t`: `t` itself when open now, the next opening
    /// otherwise (so at exactly a closing time it is the following opening). `None` when the schedule
    /// has no open time within the search horizon (two years of non-holiday days).
    pub fn next_open(&self, t: Timestamp) -> Option<Timestamp> {
        self.period_at_or_after(t, SEARCH_DAYS).map(|p| p.start.max(t))
    }

    /// The end of the open period that contains `t`, or of the next one when closed at `t`; always
    /// after `t`. `None` when the schedule never opens, or never closes within the search horizon
    /// (open around the clock).
    pub fn next_close(&self, t: Timestamp) -> Option<Timestamp> {
        self.period_at_or_after(t, SEARCH_DAYS).and_then(|p| p.end)
    }

    /// Open time in `[a, b)`; zero when `b <= a`.
    pub fn business_time_between(&self, a: Timestamp, b: Timestamp) -> Duration {
        if b <= a {
            return Duration::ZERO;
        }
        if self.always_open {
            return millis(a.millis_until(b));
        }
        if self.never_opens() {
            return Duration::ZERO;
        }
        let Some(last) = self.local_date(b).checked_add_days(Days::new(1)) else { return Duration::ZERO };
        let mut total = 0i64;
        for period in self.periods(self.first_scan_date(a), ScanLimit::Through(last)) {
            if period.start >= b {
                break;
            }
            let end = period.end.map_or(b, |end| end.min(b));
            let start = period.start.max(a);
            if start < end {
                total = total.saturating_add(start.millis_until(end));
            }
        }
        millis(total)
    }

    /// Business time between `now` and the window's end; zero when it has ended. Pass the W9 send
    /// deadline instead of Meta's window end to count only the time a free-form reply can still start.
    pub fn business_time_left(&self, now: Timestamp, window_end: Timestamp) -> Duration {
        self.business_time_between(now, window_end)
    }

    /// The window ends while the business is closed. An end at exactly a closing time counts as closed,
    /// as the window is closed at exactly its end (W4); an end at exactly an opening time counts as
    /// open (ask [`Schedule::business_time_left`] whether anyone is at work before it).
    pub fn closes_outside_business_hours(&self, window_end: Timestamp) -> bool {
        !self.is_open(window_end)
    }

    /// When the team is next at work: [`Schedule::next_open`] from `now`.
    pub fn next_business_open(&self, now: Timestamp) -> Option<Timestamp> {
        self.next_open(now)
    }

    /// Everything the window state needs at once. Without a window end (the contact never wrote, or
    /// the channel has no window) nothing closes: no business time left, not outside hours.
    pub fn window_hours(&self, now: Timestamp, window_end: Option<Timestamp>) -> WindowHours {
        WindowHours {
            next_business_open: self.next_business_open(now),
            closes_outside_business_hours: window_end.is_some_and(|end| self.closes_outside_business_hours(end)),
            business_time_left: window_end.map_or(Duration::ZERO, |end| self.business_time_left(now, end)),
        }
    }

    /// The instants in `[a, b]` at which the business opens or closes, in order: where
    /// [`Schedule::is_open`] and business time change pace. Empty when always open or never open.
    pub fn transitions(&self, a: Timestamp, b: Timestamp) -> Vec<Timestamp> {
        if b < a || self.always_open || self.never_opens() {
            return Vec::new();
        }
        let Some(last) = self.local_date(b).checked_add_days(Days::new(1)) else { return Vec::new() };
        let mut out = Vec::new();
        for period in self.periods(self.first_scan_date(a), ScanLimit::Through(last)) {
            if period.start > b {
                break;
            }
            out.extend([Some(period.start), period.end].into_iter().flatten().filter(|t| a <= *t && *t <= b));
        }
        out
    }

    /// The first instant at which `d` of business time has passed since `from`: for "4 business
    /// hours since the customer wrote". Exactly `from` for a zero `d`; `None` when the schedule does
    /// not provide that much open time within its search horizon.
    pub fn after_business_time(&self, from: Timestamp, d: Duration) -> Option<Timestamp> {
        let mut left = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        if left == 0 {
            return Some(from);
        }
        if self.always_open {
            return Some(from.plus(d));
        }
        if self.never_opens() {
            return None;
        }
        for period in self.periods(self.first_scan_date(from), ScanLimit::Days(SEARCH_DAYS)) {
            let start = period.start.max(from);
            let Some(end) = period.end else { return Some(start.plus(millis(left))) };
            if end <= start {
                continue;
            }
            let open = start.millis_until(end);
            if open >= left {
                return Some(start.plus(millis(left)));
            }
            left -= open;
        }
        None
    }

    /// Formats an instant in the schedule's zone for people: see [`format_local`].
    pub fn format_local(&self, t: Timestamp, now: Timestamp) -> String {
        format_local(self.time_zone, t, now)
    }

    /// Formats an instant in the schedule's zone relative to `now` ("today 17:00", "tomorrow
    /// 09:00"), for the desk's pages: see [`format_relative`].
    pub fn format_relative(&self, t: Timestamp, now: Timestamp) -> String {
        format_relative(self.time_zone, t, now)
    }

    /// The first open period that ends after `t` (or does not end within the horizon).
    fn period_at_or_after(&self, t: Timestamp, days: u32) -> Option<Period> {
        if self.always_open {
            return Some(Period { start: t, end: None });
        }
        if self.never_opens() {
            return None;
        }
        self.periods(self.first_scan_date(t), ScanLimit::Days(days)).find(|p| p.end.is_none_or(|end| end > t))
    }

    /// A period that contains `t` started on its local date or the day before (an interval ends at
    /// the latest at the next local midnight), so scanning from the day before finds it.
    fn first_scan_date(&self, t: Timestamp) -> NaiveDate {
        let date = self.local_date(t);
        date.pred_opt().unwrap_or(date)
    }

    fn periods(&self, from: NaiveDate, limit: ScanLimit) -> Periods<'_> {
        Periods { schedule: self, next_date: Some(from), scanned: 0, limit, pending: VecDeque::new(), current: None }
    }

    /// The last date of the holiday ranges that close `date`, following ranges that overlap or touch.
    fn holiday_through(&self, date: NaiveDate) -> Option<NaiveDate> {
        let mut through: Option<NaiveDate> = None;
        loop {
            let probe = match through {
                None => date,
                Some(last) => last.succ_opt()?,
            };
            match self.holidays.iter().filter(|h| h.contains(probe)).map(|h| h.to).max() {
                Some(to) => through = Some(to),
                None => return through,
            }
        }
    }

    /// The instants of one local date's intervals, in order, none empty. Holidays are checked by the
    /// caller.
    fn resolve_day(&self, date: NaiveDate, out: &mut VecDeque<(Timestamp, Timestamp)>) {
        for interval in self.intervals(date.weekday()) {
            let opens = resolve(self.time_zone, date, interval.start, Edge::Opens);
            let closes = resolve(self.time_zone, date, interval.end, Edge::Closes);
            if let (Some(opens), Some(closes)) = (opens, closes) {
                if opens < closes {
                    out.push_back((opens, closes));
                }
            }
        }
    }
}

/// A day an admin's holiday covers keeps the admin's entry: imported holidays lose those days (a
/// range may split in two, or vanish).
fn admin_days_win(holidays: Vec<Holiday>) -> Vec<Holiday> {
    let (imported, admin): (Vec<Holiday>, Vec<Holiday>) = holidays.into_iter().partition(Holiday::is_imported);
    if admin.is_empty() {
        return imported;
    }
    let by_admin = |date: NaiveDate| admin.iter().any(|h| h.contains(date));
    let mut kept: Vec<Holiday> = imported.iter().flat_map(|h| h.without(by_admin)).collect();
    kept.extend(admin);
    kept
}

/// The schedule a number goes by: its own, or always open when it has none.
pub fn or_always_open(schedule: Option<&Schedule>) -> &Schedule {
    static ALWAYS_OPEN: std::sync::LazyLock<Schedule> = std::sync::LazyLock::new(Schedule::always_open);
    schedule.unwrap_or(&ALWAYS_OPEN)
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::always_open()
    }
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// One continuous open period. `end` is `None` when it runs past the search horizon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Period {
    start: Timestamp,
    end: Option<Timestamp>,
}

#[derive(Clone, Copy)]
enum ScanLimit {
    /// Stop after this many non-holiday days.
    Days(u32),
    /// Stop after this local date.
    Through(NaiveDate),
}

/// The open periods of a schedule from a local date on, in order, with touching and overlapping
/// intervals (overnight hours, fall-back days) merged into one.
struct Periods<'a> {
    schedule: &'a Schedule,
    next_date: Option<NaiveDate>,
    scanned: u32,
    limit: ScanLimit,
    pending: VecDeque<(Timestamp, Timestamp)>,
    current: Option<(Timestamp, Timestamp)>,
}

impl Periods<'_> {
    /// The next local date to scan, skipping holidays, or `None` past the limit.
    fn advance_date(&mut self) -> Option<NaiveDate> {
        let mut date = self.next_date?;
        if let Some(last_holiday) = self.schedule.holiday_through(date) {
            date = last_holiday.succ_opt()?;
        }
        let within = match self.limit {
            ScanLimit::Days(days) => self.scanned < days,
            ScanLimit::Through(last) => date <= last,
        };
        if !within {
            self.next_date = Some(date);
            return None;
        }
        self.scanned += 1;
        self.next_date = date.succ_opt();
        Some(date)
    }

    /// Whether the period ending at `end` goes on into the first date past the limit.
    fn continues_past_limit(&self, end: Timestamp) -> bool {
        let Some(date) = self.next_date else { return false };
        if self.schedule.holiday_on(date).is_some() {
            return false;
        }
        let mut next = VecDeque::new();
        self.schedule.resolve_day(date, &mut next);
        next.front().is_some_and(|(opens, _)| *opens <= end)
    }
}

impl Iterator for Periods<'_> {
    type Item = Period;

    fn next(&mut self) -> Option<Period> {
        loop {
            let Some((opens, closes)) = self.pending.pop_front() else {
                match self.advance_date() {
                    Some(date) => {
                        self.schedule.resolve_day(date, &mut self.pending);
                        continue;
                    }
                    None => {
                        let (start, end) = self.current.take()?;
                        let end = (!self.continues_past_limit(end)).then_some(end);
                        self.next_date = None;
                        return Some(Period { start, end });
                    }
                }
            };
            match &mut self.current {
                Some((_, end)) if opens <= *end => *end = (*end).max(closes),
                Some(_) => {
                    let finished = self.current.replace((opens, closes));
                    return finished.map(|(start, end)| Period { start, end: Some(end) });
                }
                None => self.current = Some((opens, closes)),
            }
        }
    }
}

/// The instant a local wall-clock time on `date` means in `tz`, per the rules in the module doc.
fn resolve(tz: Tz, date: NaiveDate, time: LocalTime, edge: Edge) -> Option<Timestamp> {
    let (date, minutes) = if time == LocalTime::END_OF_DAY { (date.succ_opt()?, 0) } else { (date, time.minutes()) };
    let local = date.and_hms_opt(u32::from(minutes / 60), u32::from(minutes % 60), 0)?;
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => Some(Timestamp::from_datetime(at.to_utc())),
        LocalResult::Ambiguous(earlier, later) => {
            Some(Timestamp::from_datetime(if edge == Edge::Opens { earlier } else { later }.to_utc()))
        }
        LocalResult::None => first_instant_after_gap(tz, local),
    }
}

/// `local` does not exist (the clocks jumped over it): the first instant after the jump. Walks
/// forward a minute at a time to the first local minute that exists (gaps are an hour or less, but
/// Samoa skipped a whole day in 2011, so two days bound it), then narrows to the second the offset
/// changed, for the odd historical offsets that are not whole minutes.
fn first_instant_after_gap(tz: Tz, local: NaiveDateTime) -> Option<Timestamp> {
    let mut probe = local;
    for _ in 0..2 * 24 * 60 {
        probe = probe.checked_add_signed(chrono::TimeDelta::minutes(1))?;
        let Some(exists) = tz.from_local_datetime(&probe).earliest() else { continue };
        let offset_after = exists.offset().fix();
        // One minute earlier the local time did not exist, so the offset then was the old one.
        let (mut before, mut after) = (exists.timestamp() - 60, exists.timestamp());
        while after - before > 1 {
            let mid = before + (after - before) / 2;
            let at = chrono::DateTime::from_timestamp(mid, 0)?.naive_utc();
            if tz.offset_from_utc_datetime(&at).fix() == offset_after {
                after = mid;
            } else {
                before = mid;
            }
        }
        return Some(Timestamp::from_unix_seconds(after));
    }
    None
}
