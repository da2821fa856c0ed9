//! What a cost report asks and how its rows are named (SPEC 11, issue 17 item 5). The store sums
//! `message_costs` by one of these groupings over a range of UTC days; the web page, its CSV
//! export and the API all read the same [`ReportQuery`] and so show the same rows.
//!
//! Days are UTC days, as Meta bills and as rate cards change; weeks start on Monday; months are
//! calendar months.

use chrono::{Datelike, Duration as Days, NaiveDate};
use serde::Serialize;

use crate::time::Timestamp;

/// The longest range a report covers (a day grouping then has at most this many rows).
pub const MAX_DAYS: i64 = 400;

/// How a report's rows are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    Day,
    Week,
    Month,
    Category,
    Number,
    Agent,
    Ticket,
    Customer,
}

impl Grouping {
    pub const ALL: [Grouping; 8] =
        [Self::Day, Self::Week, Self::Month, Self::Category, Self::Number, Self::Agent, Self::Ticket, Self::Customer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Category => "category",
            Self::Number => "number",
            Self::Agent => "agent",
            Self::Ticket => "ticket",
            Self::Customer => "customer",
        }
    }

    /// As a column heading.
    pub fn heading(self) -> &'static str {
        match self {
            Self::Day => "Day",
            Self::Week => "Week of",
            Self::Month => "Month",
            Self::Category => "Category",
            Self::Number => "Business number",
            Self::Agent => "Sent by",
            Self::Ticket => "Ticket",
            Self::Customer => "Customer",
        }
    }

    pub fn parse(s: &str) -> Result<Grouping, String> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s.trim())
            .ok_or_else(|| format!("group {s:?} is not one of {}", Self::ALL.map(Grouping::as_str).join(", ")))
    }

    /// Rows in time order (and every period shown, including empty ones) rather than by cost.
    pub fn is_time(self) -> bool {
        matches!(self, Self::Day | Self::Week | Self::Month)
    }
}

/// UTC days from `from` to `to`, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    /// From `from` and `to` (`YYYY-MM-DD`, either left out): by default the 30 days up to `today`.
    /// The error names the field at fault.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: NaiveDate) -> Result<DayRange, (&'static str, String)> {
        let date = |field: &'static str, s: &str| {
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| (field, format!("{s:?} is not a date like 2026-12-01")))
        };
        let to = match to.filter(|s| !s.trim().is_empty()) {
            Some(s) => date("to", s)?,
            None => today,
        };
        let from = match from.filter(|s| !s.trim().is_empty()) {
            Some(s) => date("from", s)?,
            None => to - Days::days(29),
        };
        let plausible = |d: NaiveDate| (1970..=9000).contains(&d.year());
        if !plausible(from) || !plausible(to) {
            let (field, d) = if plausible(from) { ("to", to) } else { ("from", from) };
            return Err((field, format!("{d} is outside the years 1970 to 9000")));
        }
        if from > to {
            return Err(("from", format!("{from} is after to ({to})")));
        }
        if (to - from).num_days() + 1 > MAX_DAYS {
            return Err(("from", format!("the range is {} days; a report covers at most {MAX_DAYS}", (to - from).num_days() + 1)));
        }
        Ok(DayRange { from, to })
    }

    /// The first instant of `from` and the first instant after `to`, in milliseconds.
    pub fn millis(self) -> (i64, i64) {
        let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis());
        (start(self.from), start(self.to + Days::days(1)))
    }

    pub fn days(self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// Every period of `grouping` the range touches, as [`period_key`] names them (empty for
    /// groupings that are not about time).
    pub fn periods(self, grouping: Grouping) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut d = self.from;
        while d <= self.to {
            let key = period_of(grouping, d);
            if let Some(k) = key {
                if out.last() != Some(&k) {
                    out.push(k);
                }
            } else {
                break;
            }
            d += Days::days(1);
        }
        out
    }
}

/// The period a day falls in: `2026-12-07` for a day, the Monday `2026-12-07` for a week,
/// `2026-12` for a month; `None` for groupings not about time.
pub fn period_of(grouping: Grouping, d: NaiveDate) -> Option<String> {
    Some(match grouping {
        Grouping::Day => d.to_string(),
        Grouping::Week => (d - Days::days(i64::from(d.weekday().num_days_from_monday()))).to_string(),
        Grouping::Month => format!("{:04}-{:02}", d.year(), d.month()),
        _ => return None,
    })
}

/// The period of the store's group key: the day number since 1970-01-01 for days, the week number
/// (weeks from Monday 1969-12-29) for weeks; months come as `YYYY-MM` already.
pub fn period_key(grouping: Grouping, stored: &str) -> String {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    match (grouping, stored.parse::<i64>()) {
        (Grouping::Day, Ok(n)) => (epoch + Days::days(n)).to_string(),
        (Grouping::Week, Ok(n)) => (epoch + Days::days(n * 7 - 3)).to_string(),
        _ => stored.to_owned(),
    }
}

/// The UTC day an instant falls on.
pub fn day_of(at: Timestamp) -> NaiveDate {
    super::quote::day(at)
}

/// What a report shows, and what its drill-down and CSV read: the range, the grouping, and
/// filters (each narrows the messages counted).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportQuery {
    pub range: DayRange,
    pub group: Grouping,
    pub business_number_id: Option<i64>,
    pub category: Option<String>,
    /// Who sent it: `agent:3`, `rule:7`, `workflow:2`, `automation:4`, `api:…`.
    pub author: Option<String>,
    pub ticket_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub channel: Option<String>,
}

impl ReportQuery {
    /// The filters that pick one row of the report: its drill-down (the messages behind it).
    pub fn narrowed_to(&self, key: &str) -> ReportQuery {
        let mut q = self.clone();
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        match self.group {
            Grouping::Day => {
                if let Some(d) = day(key) {
                    q.range = DayRange { from: d.max(self.range.from), to: d.min(self.range.to) };
                }
            }
            Grouping::Week => {
                if let Some(d) = day(key) {
                    q.range = DayRange { from: d.max(self.range.from), to: (d + Days::days(6)).min(self.range.to) };
                }
            }
            Grouping::Month => {
                if let Some(d) = day(&format!("{key}-01")) {
                    let next = if d.month() == 12 {
                        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
                    } else {
                        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
                    };
                    let last = next.map_or(d, |n| n - Days::days(1));
                    q.range = DayRange { from: d.max(self.range.from), to: last.min(self.range.to) };
                }
            }
            Grouping::Category => q.category = Some(key.to_owned()),
            Grouping::Number => q.business_number_id = key.parse().ok(),
            Grouping::Agent => q.author = Some(key.to_owned()),
            Grouping::Ticket => q.ticket_id = key.parse().ok(),
            Grouping::Customer => q.contact_id = key.parse().ok(),
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_range_defaults_to_the_last_30_days_and_names_the_field_at_fault() {
        let today = d("2026-12-07");
        assert_eq!(DayRange::parse(None, None, today).unwrap(), DayRange { from: d("2026-11-08"), to: today });
        assert_eq!(DayRange::parse(Some("2026-12-08"), Some("2026-12-07"), today).unwrap_err().0, "from");
        assert_eq!(
            DayRange::parse(Some("yesterday"), None, today).unwrap_err(),
            ("from", "\"yesterday\" is not a date like 2026-12-01".into())
        );
        assert!(DayRange::parse(Some("2024-01-01"), None, today).unwrap_err().1.contains("at most 400"));
        assert_eq!(DayRange::parse(Some("+262142-12-01"), Some("+262142-12-31"), today).unwrap_err().0, "from");
        let r = DayRange::parse(Some("2026-12-01"), Some("2026-12-01"), today).unwrap();
        assert_eq!(r.millis().1 - r.millis().0, 86_400_000);
    }

    #[test]
    fn periods_are_utc_days_monday_weeks_and_calendar_months_with_the_store_s_keys() {
        let r = DayRange { from: d("2026-11-29"), to: d("2026-12-08") };
        assert_eq!(r.periods(Grouping::Week), vec!["2026-11-23", "2026-11-30", "2026-12-07"]);
        assert_eq!(r.periods(Grouping::Month), vec!["2026-11", "2026-12"]);
        assert_eq!(r.periods(Grouping::Day).len(), 10);
        assert!(r.periods(Grouping::Agent).is_empty());
        // The store's keys: days since 1970-01-01, weeks since Monday 1969-12-29.
        let day = (d("2026-12-07") - d("1970-01-01")).num_days();
        assert_eq!(period_key(Grouping::Day, &day.to_string()), "2026-12-07");
        assert_eq!(period_key(Grouping::Week, &((day + 3) / 7).to_string()), "2026-12-07", "a Monday starts its own week");
        assert_eq!(period_key(Grouping::Week, &((day + 3 + 6) / 7).to_string()), "2026-12-07", "Sunday belongs to the week before it");
        assert_eq!(period_key(Grouping::Month, "2026-12"), "2026-12");
    }

    #[test]
    fn a_row_narrows_the_query_to_the_messages_behind_it() {
        let q = ReportQuery {
            range: DayRange { from: d("2026-11-20"), to: d("2026-12-10") },
            group: Grouping::Month,
            business_number_id: None,
            category: None,
            author: None,
            ticket_id: None,
            contact_id: None,
            channel: None,
        };
        assert_eq!(q.narrowed_to("2026-11").range, DayRange { from: d("2026-11-20"), to: d("2026-11-30") });
        let w = ReportQuery { group: Grouping::Week, ..q.clone() };
        assert_eq!(w.narrowed_to("2026-12-07").range, DayRange { from: d("2026-12-07"), to: d("2026-12-10") });
        let c = ReportQuery { group: Grouping::Customer, ..q.clone() };
        assert_eq!(c.narrowed_to("42").contact_id, Some(42));
        assert_eq!(
            Grouping::parse("weekly").unwrap_err(),
            "group \"weekly\" is not one of day, week, month, category, number, agent, ticket, customer"
        );
    }
}
