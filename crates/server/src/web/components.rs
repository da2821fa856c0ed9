//! View pieces the pages share: who did something, moments in the agent's time zone, the ticket
//! status pill. Pages use components; components use no page, so the page modules no longer need
//! each other for them.

use std::collections::HashMap;

use maud::{html, Markup};
use windowdesk_core::window::WindowState;
use windowdesk_core::{TicketStatus, Timestamp};
use windowdesk_store::AgentRow;

use super::format;
use super::session::Agent;
use super::WebError;
use crate::AppState;

/// Display names of actors (`agent:3` → "Ana Lima"), loaded once per page.
#[derive(Clone, Debug, Default)]
pub struct Actors {
    names: HashMap<String, String>,
    agents: Vec<AgentRow>,
}

impl Actors {
    /// The desk's agents and their names as actors.
    pub async fn load(state: &AppState) -> Result<(Vec<AgentRow>, Actors), WebError> {
        let agents = state.store.agents().await?;
        let actors = Actors::of(&agents);
        Ok((agents, actors))
    }

    pub fn of(agents: &[AgentRow]) -> Actors {
        Actors { names: agents.iter().map(|a| (format!("agent:{}", a.id), a.name.clone())).collect(), agents: agents.to_vec() }
    }

    /// The desk's agents (for `@mentions`).
    pub fn agents(&self) -> &[AgentRow] {
        &self.agents
    }

    /// How an actor key (`agent:3`, `rule:2`, `workflow:4`, `customer`, `meta`) is shown.
    pub fn name(&self, key: &str) -> String {
        if let Some(name) = self.names.get(key) {
            return name.clone();
        }
        match key.split_once(':') {
            Some(("api", id)) => format!("API token {id}"),
            Some(("rule", id)) => format!("Rule {id}"),
            Some(("workflow", id)) => format!("Workflow {id}"),
            Some(("agent", id)) => format!("Agent {id}"),
            _ => match key {
                "customer" => "Customer".into(),
                "meta" => "WhatsApp".into(),
                "system" => "Windowdesk".into(),
                "business_app" => "WhatsApp Business app".into(),
                other => other.into(),
            },
        }
    }
}

/// `<time>` with a short label and the full moment as its tooltip, in the agent's time zone.
pub fn time(at: Timestamp, now: Timestamp, agent: &Agent) -> Markup {
    let tz = agent.tz();
    html! { time datetime=(format::iso(at)) title=(format::full_time(at, tz)) { (format::short_time(at, now, tz)) } }
}

/// A ticket's status as a pill.
pub fn status_pill(status: TicketStatus) -> Markup {
    html! { span.status.(status.as_str()) { (status.as_str()) } }
}

/// How much of an open window is left, in the words of its pill's colour: `calm` (more than 4 h),
/// `warning` (1 to 4 h), `urgent` (under an hour). The page's script uses the same bounds as it
/// counts down (`app.js`, `urgency`).
pub fn urgency(left_ms: i64) -> &'static str {
    const HOUR: i64 = 3_600_000;
    if left_ms > 4 * HOUR {
        "calm"
    } else if left_ms >= HOUR {
        "warning"
    } else {
        "urgent"
    }
}

/// A window as a pill: time left until the desk stops sending free-form (W9), coloured by urgency;
/// a closed window is neutral (only templates reach the customer, nothing is about to be lost).
pub fn window_pill(w: &WindowState, now: Timestamp) -> Markup {
    html! {
        @match (w.open, w.send_until) {
            (true, _) if w.unlimited => span.window.calm data-urgency="calm" { "no window limit" },
            (true, Some(end)) => {
                @let left = now.millis_until(end);
                span.window.(urgency(left)) data-urgency=(urgency(left)) data-window-end=(end.unix_millis())
                    title={"Free-form replies until " (format::iso(end))} {
                    (format::span(left)) " left"
                }
            },
            (false, Some(_)) => span.window.closed data-urgency="closed" { "window closed" },
            _ => span.window.none data-urgency="none" { "no window yet" },
        }
    }
}

/// An on/off switch that posts `enabled=true|false` to `action` (with the session's CSRF token):
/// the rules, workflows and HTTP targets lists use it for each row.
pub fn switch_form(action: &str, csrf: &str, name: &str, enabled: bool) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="enabled" value=(if enabled { "false" } else { "true" });
            button.switch type="submit" role="switch" aria-checked=(if enabled { "true" } else { "false" })
                aria-label={ "Switch " (name) (if enabled { " off" } else { " on" }) } {
                span.knob aria-hidden="true" {}
                span.state { (if enabled { "On" } else { "Off" }) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgency_follows_the_time_left() {
        let min = 60_000;
        assert_eq!(urgency(23 * 60 * min), "calm");
        assert_eq!(urgency(4 * 60 * min + 1), "calm");
        assert_eq!(urgency(4 * 60 * min), "warning");
        assert_eq!(urgency(60 * min), "warning");
        assert_eq!(urgency(60 * min - 1), "urgent");
        assert_eq!(urgency(23 * min), "urgent");
    }
}
