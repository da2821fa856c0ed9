//! View pieces the pages share: who did something, moments in the agent's time zone, the ticket
//! status pill. Pages use components; components use no page, so the page modules no longer need
//! each other for them.

use std::collections::HashMap;

use maud::{html, Markup};
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
}

impl Actors {
    /// The desk's agents and their names as actors.
    pub async fn load(state: &AppState) -> Result<(Vec<AgentRow>, Actors), WebError> {
        let agents = state.store.agents().await?;
        let actors = Actors::of(&agents);
        Ok((agents, actors))
    }

    pub fn of(agents: &[AgentRow]) -> Actors {
        Actors { names: agents.iter().map(|a| (format!("agent:{}", a.id), a.name.clone())).collect() }
    }

    /// How an actor key (`agent:3`, `rule:2`, `customer`, `meta`) is shown.
    pub fn name(&self, key: &str) -> String {
        if let Some(name) = self.names.get(key) {
            return name.clone();
        }
        match key.split_once(':') {
            Some(("api", id)) => format!("API token {id}"),
            Some(("rule", id)) => format!("Rule {id}"),
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
