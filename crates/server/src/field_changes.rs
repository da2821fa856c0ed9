//! The ticket-field actions of a macro or a rule (status, priority, tags, assignee) gathered into
//! one [`TicketChange`], applied in one transaction, with one outcome per action.

use windowdesk_core::rules::Action;
use windowdesk_store::TicketChange;

use crate::AppState;

#[derive(Default)]
pub struct FieldChanges {
    change: TicketChange,
    /// The action kinds gathered, in order.
    kinds: Vec<&'static str>,
}

impl FieldChanges {
    /// Gathers `action` if it changes a ticket field; `false` for every other action.
    pub fn add<T>(&mut self, action: &Action<T>) -> bool {
        let c = &mut self.change;
        match action {
            Action::SetStatus { status } => c.status = Some(*status),
            Action::SetPriority { priority } => c.priority = Some(*priority),
            Action::AddTags { tags } => c.add_tags.extend(tags.iter().cloned()),
            Action::RemoveTags { tags } => c.remove_tags.extend(tags.iter().cloned()),
            Action::SetAssignee { agent_id } => c.assignee_id = Some(Some(*agent_id)),
            Action::Unassign => c.assignee_id = Some(None),
            _ => return false,
        }
        self.kinds.push(action.kind());
        true
    }

    /// Every action gathered, when each of them changes a ticket field and none names an agent (an
    /// agent named by a rule may have been deleted since, which [`crate::rules::run`] checks first);
    /// `None` otherwise.
    pub fn only_fields<T>(actions: &[Action<T>]) -> Option<FieldChanges> {
        let mut fields = FieldChanges::default();
        for action in actions {
            if matches!(action, Action::SetAssignee { .. }) || !fields.add(action) {
                return None;
            }
        }
        Some(fields)
    }

    /// The change, and the kinds of the actions gathered into it in order.
    pub fn into_parts(self) -> (TicketChange, Vec<&'static str>) {
        (self.change, self.kinds)
    }

    /// Applies what was gathered as `actor`: each gathered action with `None` when it was applied,
    /// or the error that stopped the change (nothing is written when nothing was gathered).
    pub async fn apply(self, state: &AppState, ticket_id: i64, actor: &str) -> Vec<(&'static str, Option<String>)> {
        if self.kinds.is_empty() {
            return Vec::new();
        }
        let error = match state.store.update_ticket(ticket_id, &self.change, actor, state.clock.now()).await {
            Ok(Some(_)) => None,
            Ok(None) => Some(format!("ticket {ticket_id} does not exist")),
            Err(e) => Some(e.to_string()),
        };
        self.kinds.into_iter().map(|kind| (kind, error.clone())).collect()
    }
}
