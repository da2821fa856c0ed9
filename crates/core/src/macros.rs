//! Macros (SPEC 10, issue 13 item 4): named bundles an agent applies to a ticket. A macro is a list of
//! the same actions a rule has ([`crate::rules::Action`]), limited to what an agent applies by hand:
//! a reply (with placeholders, and what to offer when the window is closed), status, priority, tags
//! to add or remove, assignee, and an internal note. Personal macros belong to one agent; shared ones
//! are managed by admins.

use serde::{Deserialize, Serialize};

use crate::placeholder::Text;
use crate::rules::validate::{check_actions, parse_actions};
use crate::rules::{Action, InvalidRule, RuleError, RuleProblem};

/// A macro as written (texts as plain strings), the JSON the API takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MacroDraft {
    pub name: String,
    /// Everyone's (admins manage it) or the author's own.
    #[serde(default)]
    pub shared: bool,
    pub actions: Vec<Action<String>>,
}

/// A checked macro: every text parses and renders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Macro {
    pub name: String,
    pub shared: bool,
    pub actions: Vec<Action<Text>>,
}

/// Whether an agent applies this kind of action by hand with a macro. Sends other than the reply
/// (templates, SMS, holds) and notifications are what rules do; the reply's `when_closed` names the
/// template to offer when the window is closed.
fn allowed(action: &Action<String>) -> bool {
    matches!(
        action,
        Action::Reply { .. }
            | Action::SetStatus { .. }
            | Action::SetPriority { .. }
            | Action::AddTags { .. }
            | Action::RemoveTags { .. }
            | Action::SetAssignee { .. }
            | Action::Unassign
            | Action::InternalNote { .. }
    )
}

impl MacroDraft {
    /// Checks the draft: a name of 1 to 100 characters, at least one action, at most one reply and
    /// one note, only the actions a macro can hold, and the same checks as a rule's actions (every
    /// placeholder known and well written, named with its path and token).
    pub fn validate(&self) -> Result<Macro, InvalidRule> {
        let mut errors: Vec<RuleError> = Vec::new();
        let name = self.name.trim();
        if name.is_empty() {
            errors.push(RuleError { path: "name".into(), problem: RuleProblem::Empty });
        } else if name.chars().count() > 100 {
            errors.push(RuleError { path: "name".into(), problem: RuleProblem::TooLong { max: 100 } });
        }
        for (i, action) in self.actions.iter().enumerate() {
            if !allowed(action) {
                errors.push(RuleError { path: format!("actions[{i}].type"), problem: RuleProblem::NotInAMacro { kind: action.kind() } });
            }
        }
        for kind in ["reply", "internal_note"] {
            if self.actions.iter().filter(|a| a.kind() == kind).count() > 1 {
                errors.push(RuleError {
                    path: "actions".into(),
                    problem: RuleProblem::MoreThanOne { kind: if kind == "reply" { "reply" } else { "internal note" } },
                });
            }
        }
        errors.extend(check_actions(&self.actions));
        if !errors.is_empty() {
            return Err(InvalidRule { errors });
        }
        Ok(Macro { name: name.to_owned(), shared: self.shared, actions: parse_actions(&self.actions)? })
    }
}

impl Macro {
    /// The reply's text, if the macro has one.
    pub fn reply(&self) -> Option<&Text> {
        self.actions.iter().find_map(|a| match a {
            Action::Reply { text, .. } => Some(text),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(json: &str) -> MacroDraft {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
    }

    #[test]
    fn a_macro_bundles_a_reply_status_tags_and_a_note() {
        let m = draft(
            r#"{"name": "Refund sent", "shared": true, "actions": [
                {"type": "reply", "text": "Hi {{firstName || there}}, your refund for ticket {{ticket.id}} is on its way.",
                 "when_closed": {"kind": "template", "name": "refund_sent", "language": "en", "params": {"1": "{{ticket.id}}"}}},
                {"type": "set_status", "status": "solved"},
                {"type": "add_tags", "tags": ["refund"]},
                {"type": "internal_note", "text": "Refund issued by {{agent.name}}"}]}"#,
        )
        .validate()
        .unwrap();
        assert_eq!(m.name, "Refund sent");
        assert!(m.shared);
        assert!(m.reply().is_some());
    }

    #[test]
    fn an_unknown_placeholder_is_refused_naming_the_field_and_token() {
        let err = draft(r#"{"name": "Typo", "actions": [{"type": "reply", "text": "Ticket {{ticket.idd}}"}]}"#).validate().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("actions[0].text") && text.contains("{{ticket.idd}}"), "{text}");
    }

    #[test]
    fn sends_other_than_the_reply_belong_to_rules() {
        let err = draft(r#"{"name": "x", "actions": [{"type": "send_sms", "text": "hi"}]}"#).validate().unwrap_err();
        assert_eq!(err.errors[0].path, "actions[0].type");
        assert!(err.to_string().contains("send_sms"), "{err}");
    }

    #[test]
    fn a_macro_needs_a_name_and_an_action_and_one_reply_at_most() {
        let err = draft(r#"{"name": " ", "actions": []}"#).validate().unwrap_err();
        let paths: Vec<&str> = err.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["name", "actions"]);
        let err = draft(r#"{"name": "two", "actions": [{"type": "reply", "text": "a"}, {"type": "reply", "text": "b"}]}"#)
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("only one reply"), "{err}");
    }
}
