//! Search, between the parsed query (core's [`windowdesk_core::search`]) and the store: names in the
//! query become ids (`assignee:ana`, `number:15550001111`) and `window:` becomes bounds on the
//! customer's last message, with the desk's window policy and its "closing soon" span. The web page
//! and the API both come here, so they read a query the same way and refuse it with the same words.

use std::time::Duration;

use windowdesk_core::search::{self, AssigneeTerm, SearchQuery, WindowTerm};
use windowdesk_core::Timestamp;
use windowdesk_store::{AgentRow, AssigneeFilter, Search, StoreError, WindowBounds};

use crate::AppState;

/// Most results per page (the API's page limit).
pub const MAX_LIMIT: u32 = crate::api::tickets::MAX_PAGE;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query cannot be read, or names an agent or number the desk does not have.
    #[error("{0}")]
    Query(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Parses `q` and resolves it for the agent `me` (`None` for an API token, which has no "me").
pub async fn resolve(state: &AppState, q: &str, me: Option<i64>, before: Option<i64>, limit: u32) -> Result<Search, SearchError> {
    let query = search::parse(q).map_err(|e| SearchError::Query(e.to_string()))?;
    let assignee = match &query.assignee {
        None => None,
        Some(AssigneeTerm::Nobody) => Some(AssigneeFilter::Unassigned),
        Some(AssigneeTerm::Me) => match me {
            Some(id) => Some(AssigneeFilter::Agent(id)),
            None => {
                return Err(SearchError::Query(
                    "assignee:me needs a signed-in agent; name the agent instead (assignee:ana@example.com)".into(),
                ))
            }
        },
        Some(AssigneeTerm::Named(name)) => Some(AssigneeFilter::Agent(named_agent(&state.store.agents().await?, name)?)),
    };
    let numbers = business_numbers(state, &query)?;
    let window = query.window.map(|w| window_bounds(state, w, state.clock.now()));
    Ok(Search { query, numbers, assignee, window, before, limit: limit.clamp(1, MAX_LIMIT) })
}

/// The agent an `assignee:` value names: their email, or a part of their name that only they have.
fn named_agent(agents: &[AgentRow], name: &str) -> Result<i64, SearchError> {
    let wanted = search::fold(name.trim());
    if let Some(a) = agents.iter().find(|a| a.email.eq_ignore_ascii_case(name.trim())) {
        return Ok(a.id);
    }
    let matching: Vec<&AgentRow> = agents.iter().filter(|a| search::fold(&a.name).contains(&wanted)).collect();
    match matching.as_slice() {
        [one] => Ok(one.id),
        [] => Err(SearchError::Query(format!("assignee: no agent is called {name:?}; use their email, me or none"))),
        many => {
            let names: Vec<String> = many.iter().map(|a| format!("{} ({})", a.name, a.email)).collect();
            Err(SearchError::Query(format!("assignee: {name:?} could be {}; use their email", names.join(" or "))))
        }
    }
}

/// The business numbers `number:` names, by their digits or their phone number id.
fn business_numbers(state: &AppState, query: &SearchQuery) -> Result<Vec<i64>, SearchError> {
    let all = state.numbers.all();
    let mut ids = Vec::new();
    for wanted in &query.numbers {
        let found = all.iter().find(|n| n.phone_number_id == *wanted || windowdesk_core::phone::digits_of(&n.display_number) == *wanted);
        match found {
            Some(n) => ids.push(n.id),
            None => {
                let served: Vec<String> = all.iter().map(|n| format!("{} ({})", n.display_number, n.name)).collect();
                return Err(SearchError::Query(format!(
                    "number: this desk has no business number {wanted}; it serves {}",
                    if served.is_empty() { "none yet".to_owned() } else { served.join(", ") }
                )));
            }
        }
    }
    Ok(ids)
}

/// `window:` as bounds on the customer's last message, the way the ticket page decides whether a
/// free-form reply can still go out (the send guard included).
pub fn window_bounds(state: &AppState, w: WindowTerm, now: Timestamp) -> WindowBounds {
    let Some(csw) = state.policy.csw else {
        // No window on this channel: every customer who wrote has one open.
        return match w {
            WindowTerm::Open => WindowBounds::OpenAfter(Timestamp::from_unix_millis(i64::MIN)),
            WindowTerm::Closed => WindowBounds::ClosedAtOrBefore(Timestamp::from_unix_millis(i64::MIN)),
            WindowTerm::Closing => WindowBounds::Between { after: now, at_or_before: now },
        };
    };
    let open_after = now.plus(state.policy.send_guard).minus(csw);
    match w {
        WindowTerm::Open => WindowBounds::OpenAfter(open_after),
        WindowTerm::Closed => WindowBounds::ClosedAtOrBefore(open_after),
        WindowTerm::Closing => {
            let within = Duration::from_secs(state.web.config.closing_soon_minutes.saturating_mul(60));
            let (after, at_or_before) = state.policy.closing_within(now, within).unwrap_or((now, now));
            WindowBounds::Between { after, at_or_before }
        }
    }
}
