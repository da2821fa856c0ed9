//! Send actions meet the window (W8, SPEC 4, issue 13 item 5): what a rule's send action becomes at
//! `now`. A rule can never send free-form into a closed window: a reply becomes free-form only while
//! the window is open before its W9 send deadline, the moment the send decision and the dispatcher
//! use; otherwise it becomes the reply's closed-window variant, or a skip that says why.
//!
//! The plan is what must happen, with its texts rendered; the server executes it through the send
//! decision ([`crate::decide`], via [`PlannedSend::outgoing`]), which still validates templates and
//! prices, and records a skip as a ticket event naming the rule.

use std::collections::BTreeMap;

use serde::Serialize;

use super::eval::RuleContext;
use super::{Action, ClosedWindow, TemplateAction};
use crate::decision::Outgoing;
use crate::placeholder::{PlaceholderValues, Text};
use crate::template::{ParamValue, TemplateParams};

/// Why a reply was not sent because the window was closed; the ticket event says "not sent: window closed".
pub const WINDOW_CLOSED: &str = "window closed";
/// Why a send was not made because its text rendered to nothing (every placeholder empty, no fallback).
pub const EMPTY_TEXT: &str = "text is empty";

/// What a send action must do now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlannedSend {
    /// A free-form message; the window is open before its send deadline.
    FreeForm { text: String },
    /// A template, with its body parameters rendered.
    Template { name: String, language: String, params: TemplateParams },
    /// Hold the text until the customer writes again. `expires_after_hours`: `None` means the
    /// number's configured hold time.
    Hold { text: String, expires_after_hours: Option<i64> },
    /// A text through the SMS provider.
    Sms { text: String },
    /// Nothing is sent; the ticket records the reason.
    Skipped { reason: String },
}

impl PlannedSend {
    /// What the send decision is asked about, for the plans that send now.
    pub fn outgoing(&self) -> Option<Outgoing> {
        match self {
            PlannedSend::FreeForm { .. } => Some(Outgoing::FreeForm),
            PlannedSend::Template { name, language, params } => {
                Some(Outgoing::Template { name: name.clone(), language: language.clone(), params: params.clone() })
            }
            PlannedSend::Sms { .. } => Some(Outgoing::Sms),
            PlannedSend::Hold { .. } | PlannedSend::Skipped { .. } => None,
        }
    }
}

fn render(text: &Text, values: &dyn PlaceholderValues, plan: impl FnOnce(String) -> PlannedSend) -> PlannedSend {
    let rendered = text.render(values);
    if rendered.trim().is_empty() {
        return PlannedSend::Skipped { reason: EMPTY_TEXT.to_owned() };
    }
    plan(rendered)
}

fn template(t: &TemplateAction<Text>, values: &dyn PlaceholderValues) -> PlannedSend {
    let body: BTreeMap<String, ParamValue> = t.params.iter().map(|(k, v)| (k.clone(), ParamValue::text(v.render(values)))).collect();
    PlannedSend::Template {
        name: t.name.clone(),
        language: t.language.clone(),
        params: TemplateParams { body, ..TemplateParams::default() },
    }
}

/// The plan for a send action at `ctx.now`, its texts rendered with `values`; `None` for actions
/// that send nothing.
///
/// - `reply`: free-form while the window is open (W4 + W9: `now` before the send deadline, or a
///   channel without windows); else its `when_closed` variant: the template, a hold (the number's
///   hold time), the SMS text, or skipped with [`WINDOW_CLOSED`].
/// - `send_template`, `send_sms`: as written, whatever the window (templates are for closed windows).
/// - `hold_reply`: always held, for `hours`; use a reply with `when_closed: hold` for "now if possible".
///
/// A text that renders to nothing is skipped with [`EMPTY_TEXT`] rather than sent empty.
pub fn plan_send(action: &Action<Text>, ctx: &RuleContext<'_>, values: &dyn PlaceholderValues) -> Option<PlannedSend> {
    Some(match action {
        Action::Reply { text, when_closed } => {
            if ctx.window.is_open(ctx.policy, ctx.now) {
                render(text, values, |text| PlannedSend::FreeForm { text })
            } else {
                match when_closed {
                    ClosedWindow::Template(t) => template(t, values),
                    ClosedWindow::Hold => render(text, values, |text| PlannedSend::Hold { text, expires_after_hours: None }),
                    ClosedWindow::Sms { text } => render(text, values, |text| PlannedSend::Sms { text }),
                    ClosedWindow::Skip => PlannedSend::Skipped { reason: WINDOW_CLOSED.to_owned() },
                }
            }
        }
        Action::SendTemplate(t) => template(t, values),
        Action::SendSms { text } => render(text, values, |text| PlannedSend::Sms { text }),
        Action::HoldReply { text, hours } => render(text, values, |text| PlannedSend::Hold { text, expires_after_hours: Some(*hours) }),
        Action::SetStatus { .. }
        | Action::SetPriority { .. }
        | Action::AddTags { .. }
        | Action::RemoveTags { .. }
        | Action::SetAssignee { .. }
        | Action::Unassign
        | Action::InternalNote { .. }
        | Action::NotifyAgent { .. }
        | Action::NotifyAssignee { .. }
        | Action::CallHttp { .. } => return None,
    })
}
