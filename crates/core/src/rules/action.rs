//! What a rule does. Generic over its text type: `String` in a [`super::RuleDraft`] as written,
//! [`Text`](crate::placeholder::Text) in a checked [`super::Rule`]; the JSON shape is the same.

use std::collections::BTreeMap;
use std::convert::Infallible;

use serde::{Deserialize, Serialize};

use crate::routing::{Priority, TicketStatus};

/// One action. Each runs and fails on its own, and is recorded on the ticket naming the rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields, bound(deserialize = "T: Deserialize<'de>"))]
pub enum Action<T> {
    /// A free-form reply. It goes out only while the window is open (W8, W9); otherwise
    /// `when_closed` says what happens instead, and by default the reply is skipped.
    Reply {
        text: T,
        #[serde(default)]
        when_closed: ClosedWindow<T>,
    },
    /// An approved template; allowed whatever the window (the send decision validates it).
    SendTemplate(TemplateAction<T>),
    /// A text through the number's SMS provider.
    SendSms {
        text: T,
    },
    /// A reply held until the customer writes again, failing as expired after `hours`.
    HoldReply {
        text: T,
        hours: i64,
    },
    SetStatus {
        status: TicketStatus,
    },
    SetPriority {
        priority: Priority,
    },
    AddTags {
        tags: Vec<String>,
    },
    RemoveTags {
        tags: Vec<String>,
    },
    SetAssignee {
        agent_id: i64,
    },
    Unassign,
    /// A note only agents see.
    InternalNote {
        text: T,
    },
    /// An in-app notification to one agent.
    NotifyAgent {
        agent_id: i64,
        text: T,
    },
    /// An in-app notification to whoever the ticket is assigned to; fails on its own when nobody is.
    NotifyAssignee {
        text: T,
    },
    /// POSTs signed JSON describing the ticket and the event to an HTTP target (Standard Webhooks
    /// signatures), through a durable queue with retries.
    CallHttp {
        target_id: i64,
    },
}

/// What a [`Action::Reply`] becomes when the window is closed at the moment it would go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClosedWindow<T> {
    /// Send this template instead.
    Template(TemplateAction<T>),
    /// Hold the reply until the customer writes again (the number's hold time applies).
    Hold,
    /// Send this text by SMS instead.
    Sms { text: T },
    /// Do not send; the ticket records "not sent: window closed".
    Skip,
}

/// Skipping is the default: nothing goes out unless the admin chose a way out.
impl<T> Default for ClosedWindow<T> {
    fn default() -> Self {
        ClosedWindow::Skip
    }
}

/// A template with its body parameters as placeholder texts, keyed as in
/// [`crate::template::TemplateParams`] (`"1"`, `"2"`… or the parameter names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateAction<T> {
    pub name: String,
    pub language: String,
    #[serde(default = "BTreeMap::new")]
    pub params: BTreeMap<String, T>,
}

impl<T> TemplateAction<T> {
    pub fn try_map_texts<U, E>(&self, f: &impl Fn(&T) -> Result<U, E>) -> Result<TemplateAction<U>, E> {
        let params = self.params.iter().map(|(k, v)| Ok((k.clone(), f(v)?))).collect::<Result<_, E>>()?;
        Ok(TemplateAction { name: self.name.clone(), language: self.language.clone(), params })
    }

    fn texts<'a>(&'a self, prefix: &str, out: &mut Vec<(String, &'a T)>) {
        out.extend(self.params.iter().map(|(k, v)| (format!("{prefix}params.{k}"), v)));
    }
}

impl<T> ClosedWindow<T> {
    pub fn try_map_texts<U, E>(&self, f: &impl Fn(&T) -> Result<U, E>) -> Result<ClosedWindow<U>, E> {
        Ok(match self {
            ClosedWindow::Template(t) => ClosedWindow::Template(t.try_map_texts(f)?),
            ClosedWindow::Hold => ClosedWindow::Hold,
            ClosedWindow::Sms { text } => ClosedWindow::Sms { text: f(text)? },
            ClosedWindow::Skip => ClosedWindow::Skip,
        })
    }
}

impl<T> Action<T> {
    /// The same action with each text converted; everything else is kept. Stops at the first error.
    pub fn try_map_texts<U, E>(&self, f: impl Fn(&T) -> Result<U, E>) -> Result<Action<U>, E> {
        Ok(match self {
            Action::Reply { text, when_closed } => Action::Reply { text: f(text)?, when_closed: when_closed.try_map_texts(&f)? },
            Action::SendTemplate(t) => Action::SendTemplate(t.try_map_texts(&f)?),
            Action::SendSms { text } => Action::SendSms { text: f(text)? },
            Action::HoldReply { text, hours } => Action::HoldReply { text: f(text)?, hours: *hours },
            Action::SetStatus { status } => Action::SetStatus { status: *status },
            Action::SetPriority { priority } => Action::SetPriority { priority: *priority },
            Action::AddTags { tags } => Action::AddTags { tags: tags.clone() },
            Action::RemoveTags { tags } => Action::RemoveTags { tags: tags.clone() },
            Action::SetAssignee { agent_id } => Action::SetAssignee { agent_id: *agent_id },
            Action::Unassign => Action::Unassign,
            Action::InternalNote { text } => Action::InternalNote { text: f(text)? },
            Action::NotifyAgent { agent_id, text } => Action::NotifyAgent { agent_id: *agent_id, text: f(text)? },
            Action::NotifyAssignee { text } => Action::NotifyAssignee { text: f(text)? },
            Action::CallHttp { target_id } => Action::CallHttp { target_id: *target_id },
        })
    }

    /// The same action with each text converted.
    pub fn map_texts<U>(&self, f: impl Fn(&T) -> U) -> Action<U> {
        match self.try_map_texts(|t| Ok::<U, Infallible>(f(t))) {
            Ok(action) => action,
            Err(never) => match never {},
        }
    }

    /// Every text of the action with its path inside the action (`text`, `when_closed.params.1`).
    pub fn texts(&self) -> Vec<(String, &T)> {
        let mut out = Vec::new();
        match self {
            Action::Reply { text, when_closed } => {
                out.push(("text".to_owned(), text));
                match when_closed {
                    ClosedWindow::Template(t) => t.texts("when_closed.", &mut out),
                    ClosedWindow::Sms { text } => out.push(("when_closed.text".to_owned(), text)),
                    ClosedWindow::Hold | ClosedWindow::Skip => {}
                }
            }
            Action::SendTemplate(t) => t.texts("", &mut out),
            Action::SendSms { text }
            | Action::HoldReply { text, .. }
            | Action::InternalNote { text }
            | Action::NotifyAgent { text, .. }
            | Action::NotifyAssignee { text } => {
                out.push(("text".to_owned(), text));
            }
            Action::SetStatus { .. }
            | Action::SetPriority { .. }
            | Action::AddTags { .. }
            | Action::RemoveTags { .. }
            | Action::SetAssignee { .. }
            | Action::Unassign
            | Action::CallHttp { .. } => {}
        }
        out
    }

    /// The action's type as written in JSON, for events and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Reply { .. } => "reply",
            Action::SendTemplate(_) => "send_template",
            Action::SendSms { .. } => "send_sms",
            Action::HoldReply { .. } => "hold_reply",
            Action::SetStatus { .. } => "set_status",
            Action::SetPriority { .. } => "set_priority",
            Action::AddTags { .. } => "add_tags",
            Action::RemoveTags { .. } => "remove_tags",
            Action::SetAssignee { .. } => "set_assignee",
            Action::Unassign => "unassign",
            Action::InternalNote { .. } => "internal_note",
            Action::NotifyAgent { .. } => "notify_agent",
            Action::NotifyAssignee { .. } => "notify_assignee",
            Action::CallHttp { .. } => "call_http",
        }
    }

    /// Whether the action sends something to the customer (and so goes through [`super::plan_send`]).
    pub fn sends(&self) -> bool {
        matches!(self, Action::Reply { .. } | Action::SendTemplate(_) | Action::SendSms { .. } | Action::HoldReply { .. })
    }
}
