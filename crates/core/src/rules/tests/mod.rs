//! Tests of the rule language, evaluation, send plans, episodes and the shipped defaults, split by
//! concept like the module.

mod conditions;
mod due;
mod episodes;
mod evaluate;
mod friday_evening;
mod send;
mod validate;

use std::time::Duration;

use chrono::{TimeZone, Weekday};
use chrono_tz::Tz;

use super::*;
use crate::hours::{LocalInterval, Schedule};
use crate::routing::{Priority, TicketStatus};
use crate::time::Timestamp;
use crate::window::{CustomerWindow, WindowPolicy};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
const BERLIN: Tz = Tz::Europe__Berlin;

/// A local wall-clock time in Berlin, e.g. `"2026-12-04 19:00"` (a Friday).
fn berlin(written: &str) -> Timestamp {
    let naive = chrono::NaiveDateTime::parse_from_str(written, "%Y-%m-%d %H:%M").unwrap();
    Timestamp::from_datetime(BERLIN.from_local_datetime(&naive).single().unwrap().to_utc())
}

/// Monday to Friday, 09:00-17:00, Europe/Berlin.
fn office_hours() -> Schedule {
    let nine_to_five = LocalInterval::new("09:00".parse().unwrap(), "17:00".parse().unwrap()).unwrap();
    Schedule::weekly(BERLIN, &[Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri], &[nine_to_five])
}

fn window_since(last_inbound_at: Timestamp) -> CustomerWindow {
    CustomerWindow { last_inbound_at: Some(last_inbound_at), ..CustomerWindow::default() }
}

/// A customer message on ticket 4711 of business number 1 at `now`, nothing else special.
fn ctx(now: Timestamp) -> RuleContext<'static> {
    RuleContext {
        event: Event::MessageReceived,
        ticket_id: 4711,
        business_number_id: 1,
        status: TicketStatus::Open,
        priority: Priority::Normal,
        tags: &[],
        assignee_id: None,
        created_at: now.minus(HOUR),
        status_changed_at: now.minus(HOUR),
        solved_at: None,
        last_agent_reply_at: None,
        message_text: None,
        first_message: false,
        window: window_since(now),
        policy: WindowPolicy::WHATSAPP,
        window_episode: Some(WindowEpisode { started_at: now }),
        schedule: None,
        now,
        caused_by_rule: false,
    }
}

fn draft(json: serde_json::Value) -> RuleDraft {
    serde_json::from_value(json).unwrap()
}

/// A valid rule from JSON, with defaults for what the test does not care about.
fn rule(id: i64, json: serde_json::Value) -> Rule {
    let mut full = serde_json::json!({
        "name": format!("rule {id}"),
        "event": "message_received",
        "actions": [{"type": "add_tags", "tags": ["x"]}]
    });
    for (k, v) in json.as_object().unwrap() {
        full[k] = v.clone();
    }
    draft(full).validate(id).unwrap()
}
