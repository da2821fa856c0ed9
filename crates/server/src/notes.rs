//! Internal notes, from the web page or the API: one path, so `@mentions` notify the same way from both.
//!
//! A mention is `@` followed by letters, digits, `.`, `_` or `-`. It names an agent when it equals,
//! ignoring case, the part of their email before `@`, their name without spaces, or their first name
//! when no other agent shares it. Unknown mentions are left as text.

use windowdesk_store::{AgentRow, MessageRow, StoreError};

use crate::events::DeskEvent;
use crate::AppState;

/// Adds a note to a ticket, notifying the agents it mentions (except its author).
pub async fn add_note(
    state: &AppState,
    ticket_id: i64,
    body: &str,
    actor: &str,
    author_agent: Option<i64>,
) -> Result<MessageRow, StoreError> {
    let agents = state.store.agents().await?;
    let mentions: Vec<i64> = mentioned_agents(body, &agents).into_iter().filter(|id| Some(*id) != author_agent).collect();
    let note = state.store.add_note(ticket_id, body, actor, &mentions, state.clock.now()).await?;
    state.events.ticket(ticket_id);
    for agent_id in mentions {
        state.events.publish(DeskEvent::Notification { agent_id });
    }
    Ok(note)
}

/// The agents a note mentions, each once, in order of first mention.
pub fn mentioned_agents(body: &str, agents: &[AgentRow]) -> Vec<i64> {
    let mut found = Vec::new();
    for handle in handles(body) {
        if let Some(agent) = agent_named(handle, agents) {
            if !found.contains(&agent.id) {
                found.push(agent.id);
            }
        }
    }
    found
}

/// The agent a `@handle` names, if any (see the module's rules).
fn agent_named<'a>(handle: &str, agents: &'a [AgentRow]) -> Option<&'a AgentRow> {
    let handle = handle.to_lowercase();
    let by_key = agents.iter().find(|a| {
        a.email.split('@').next().is_some_and(|local| local.eq_ignore_ascii_case(&handle))
            || a.name.split_whitespace().collect::<String>().to_lowercase() == handle
    });
    by_key.or_else(|| {
        let mut same = agents.iter().filter(|a| a.name.split_whitespace().next().is_some_and(|f| f.to_lowercase() == handle));
        match (same.next(), same.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    })
}

/// A note's text cut into plain text and the mentions that name an agent, for highlighting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    /// `@handle` as written (with the `@`), and whom it names.
    Mention {
        text: &'a str,
        agent_id: i64,
    },
}

pub fn segments<'a>(body: &'a str, agents: &[AgentRow]) -> Vec<Segment<'a>> {
    let mut out = Vec::new();
    let mut at = 0;
    for (start, handle) in handle_positions(body) {
        let Some(agent) = agent_named(handle, agents) else { continue };
        if start > at {
            out.push(Segment::Text(&body[at..start]));
        }
        let end = start + 1 + handle.len();
        out.push(Segment::Mention { text: &body[start..end], agent_id: agent.id });
        at = end;
    }
    if at < body.len() {
        out.push(Segment::Text(&body[at..]));
    }
    out
}

/// `@handle` tokens: an `@` at the start or after a non-word character (so emails are not mentions).
fn handles(body: &str) -> Vec<&str> {
    handle_positions(body).into_iter().map(|(_, h)| h).collect()
}

/// [`handles`] with the byte offset of each `@`.
fn handle_positions(body: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let bytes = body.as_bytes();
    for (i, _) in body.match_indices('@') {
        let preceded_by_word = i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.' || bytes[i - 1] == b'_');
        if preceded_by_word {
            continue;
        }
        let rest = &body[i + 1..];
        let len = rest.find(|c: char| !(c.is_alphanumeric() || c == '.' || c == '_' || c == '-')).unwrap_or(rest.len());
        let handle = rest[..len].trim_end_matches(['.', '-']);
        if !handle.is_empty() {
            out.push((i, handle));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use windowdesk_core::Timestamp;
    use windowdesk_store::AgentRole;

    use super::*;

    fn agent(id: i64, name: &str, email: &str) -> AgentRow {
        AgentRow {
            id,
            name: name.into(),
            email: email.into(),
            role: AgentRole::Agent,
            created_at: Timestamp::from_unix_millis(0),
            has_password: true,
            active: true,
        }
    }

    #[test]
    fn mentions_match_email_names_and_unique_first_names() {
        let agents =
            [agent(1, "Ana Lima", "ana@example.com"), agent(2, "Ben Okafor", "b.okafor@example.com"), agent(3, "Ben Stone", "ben.s@x.io")];
        assert_eq!(mentioned_agents("@ana please look", &agents), vec![1]);
        assert_eq!(mentioned_agents("cc @b.okafor, and @BenStone.", &agents), vec![2, 3]);
        // "Ben" is two agents: ambiguous, so nobody.
        assert_eq!(mentioned_agents("@ben?", &agents), Vec::<i64>::new());
        // An email address is not a mention, and repeated mentions count once.
        assert_eq!(mentioned_agents("write to ana@example.com, @ana @ana", &agents), vec![1]);
        assert_eq!(mentioned_agents("@nobody @", &agents), Vec::<i64>::new());
    }

    #[test]
    fn segments_mark_only_mentions_that_name_an_agent() {
        let agents = [agent(1, "Ana Lima", "ana@example.com"), agent(2, "Ben Okafor", "b.okafor@example.com")];
        assert_eq!(
            segments("cc @ana and @nobody, mail ana@example.com or @b.okafor.", &agents),
            vec![
                Segment::Text("cc "),
                Segment::Mention { text: "@ana", agent_id: 1 },
                Segment::Text(" and @nobody, mail ana@example.com or "),
                Segment::Mention { text: "@b.okafor", agent_id: 2 },
                Segment::Text("."),
            ]
        );
        assert_eq!(segments("no mentions", &agents), vec![Segment::Text("no mentions")]);
        assert_eq!(segments("@Ana", &agents), vec![Segment::Mention { text: "@Ana", agent_id: 1 }]);
    }
}
