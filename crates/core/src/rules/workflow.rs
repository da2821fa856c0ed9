//! Workflows (SPEC 10, issue 14 item 3): ordered steps set off like a rule (an event, or an automation
//! coming due, with the same conditions), with **Window check** as a step that branches into *Open*
//! and *Closed*: the HighLevel model, where the Open branch sends free-form and the Closed branch a
//! template.
//!
//! The model and its save-time check live here, as pure values: a [`WorkflowDraft`] becomes a
//! [`Workflow`] only through [`WorkflowDraft::validate`], which checks every step as a rule's parts
//! are checked (placeholders, minutes, tags...) and refuses, naming the step's path
//! (`steps[1].open[0]`), a free-form reply that could meet a closed window:
//!
//! - outside the Open branch of a Window check: nothing says the window is open there;
//! - after a wait, even inside an Open branch: the window was open when it was checked, and a wait
//!   can outlast it (it closes at most 24 hours after the customer's last message, and may have had
//!   minutes left). A Window check after the wait makes the reply safe again.
//!
//! Templates, SMS, held replies, notes, field changes and notifications are allowed anywhere: none of
//! them needs the window. At run time every send still goes through the send decision.

use serde::{Deserialize, Serialize};

use super::validate::{check_action, check_condition, parse_actions, InvalidRule, RuleError, RuleProblem, MAX_MINUTES};
use super::{Action, Conditions, Event};
use crate::placeholder::Text;

/// Steps nest (branches within branches) at most this deep.
pub const MAX_DEPTH: usize = 8;

/// One step, written `{"type": "...", ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields, bound(deserialize = "T: Deserialize<'de>"))]
pub enum Step<T> {
    /// Branches on the customer's window as the send decision sees it when the step runs (W4, W9).
    WindowCheck {
        #[serde(default)]
        open: Vec<Step<T>>,
        #[serde(default)]
        closed: Vec<Step<T>>,
    },
    /// Waits, from 1 minute to 30 days; with `business_hours`, counting only the number's open hours.
    Wait {
        minutes: i64,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        business_hours: bool,
    },
    /// Branches on conditions of the rule language, checked when the step runs.
    Condition {
        conditions: Conditions,
        #[serde(default)]
        then: Vec<Step<T>>,
        #[serde(default, rename = "else")]
        otherwise: Vec<Step<T>>,
    },
    /// Does one of the rules' actions: send (reply, template, SMS), hold, set a field, add a note,
    /// notify.
    Do { action: Action<T> },
}

/// A workflow as an admin writes it; the REST API's body.
///
/// ```json
/// {
///   "name": "Follow up on an unanswered question",
///   "event": "automation",
///   "conditions": {"all": [{"field": "time_since_last_agent_reply", "op": "more_than", "minutes": 1440}]},
///   "steps": [
///     {"type": "window_check",
///      "open":   [{"type": "do", "action": {"type": "reply", "text": "Hi {{firstName || there}}, did that help?"}}],
///      "closed": [{"type": "do", "action": {"type": "send_template", "name": "follow_up", "language": "en"}}]},
///     {"type": "wait", "minutes": 2880},
///     {"type": "do", "action": {"type": "set_status", "status": "solved"}}
///   ]
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDraft {
    pub name: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub event: Event,
    #[serde(default)]
    pub conditions: Conditions,
    pub steps: Vec<Step<String>>,
}

fn enabled_by_default() -> bool {
    true
}

/// A checked workflow: every text parsed, no free-form reply that could meet a closed window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workflow {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub event: Event,
    pub conditions: Conditions,
    pub steps: Vec<Step<Text>>,
}

impl Workflow {
    /// What sets the workflow off, as a rule without actions: the same event and conditions, so
    /// the triggers worker ([`super::matches`]) and the automation sweep ([`super::due`],
    /// [`super::recheck`]) decide when a run starts exactly as they decide when a rule fires. An
    /// automation workflow starts at most once per ticket and episode, like an automation.
    pub fn as_rule(&self) -> super::Rule {
        super::Rule {
            id: self.id,
            name: self.name.clone(),
            enabled: self.enabled,
            position: 0,
            event: self.event,
            once_per_episode: self.event.is_automation(),
            conditions: self.conditions.clone(),
            actions: Vec::new(),
        }
    }
}

/// What is known about the window where a step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    /// Nothing: the window may be closed.
    Unknown,
    /// Open when a Window check looked, with no wait since.
    Open,
    /// Open when a Window check looked, then a wait of this many minutes (the longest on any path).
    OpenThenWaited(i64),
}

struct Checker {
    errors: Vec<RuleError>,
}

impl Checker {
    fn fail(&mut self, path: String, problem: RuleProblem) {
        self.errors.push(RuleError { path, problem });
    }

    /// Checks `steps` at `path` entered with `known`; returns what is known after them.
    fn steps(&mut self, path: &str, steps: &[Step<String>], mut known: Known, depth: usize) -> Known {
        if depth > MAX_DEPTH {
            self.fail(path.to_owned(), RuleProblem::TooDeep { max: MAX_DEPTH });
            return Known::Unknown;
        }
        for (i, step) in steps.iter().enumerate() {
            let at = format!("{path}[{i}]");
            known = match step {
                Step::WindowCheck { open, closed } => {
                    // After the branches the window is whatever it was in each: nothing is known.
                    self.steps(&format!("{at}.open"), open, Known::Open, depth + 1);
                    self.steps(&format!("{at}.closed"), closed, Known::Unknown, depth + 1);
                    Known::Unknown
                }
                Step::Wait { minutes, .. } => {
                    if *minutes < 1 {
                        self.fail(format!("{at}.minutes"), RuleProblem::TooFewMinutes(*minutes));
                    } else if *minutes > MAX_MINUTES {
                        self.fail(format!("{at}.minutes"), RuleProblem::TooManyMinutes(*minutes));
                    }
                    match known {
                        Known::Unknown => Known::Unknown,
                        Known::Open => Known::OpenThenWaited(*minutes),
                        Known::OpenThenWaited(before) => Known::OpenThenWaited(before.saturating_add(*minutes)),
                    }
                }
                Step::Condition { conditions, then, otherwise } => {
                    for (cpath, c) in conditions.with_paths() {
                        self.errors.extend(check_condition(&format!("{at}.{cpath}"), c));
                    }
                    let a = self.steps(&format!("{at}.then"), then, known, depth + 1);
                    let b = self.steps(&format!("{at}.else"), otherwise, known, depth + 1);
                    weakest(a, b)
                }
                Step::Do { action } => {
                    self.errors.extend(check_action(&format!("{at}.action"), action));
                    if matches!(action, Action::Reply { .. }) {
                        match known {
                            Known::Open => {}
                            Known::Unknown => self.fail(at.clone(), RuleProblem::FreeFormOutsideOpenBranch),
                            Known::OpenThenWaited(minutes) => self.fail(at.clone(), RuleProblem::FreeFormAfterWait { minutes }),
                        }
                    }
                    known
                }
            };
        }
        known
    }
}

/// What is known after either of two branches.
fn weakest(a: Known, b: Known) -> Known {
    match (a, b) {
        (Known::Unknown, _) | (_, Known::Unknown) => Known::Unknown,
        (Known::Open, Known::Open) => Known::Open,
        (Known::OpenThenWaited(x), Known::OpenThenWaited(y)) => Known::OpenThenWaited(x.max(y)),
        (Known::OpenThenWaited(x), Known::Open) | (Known::Open, Known::OpenThenWaited(x)) => Known::OpenThenWaited(x),
    }
}

fn parse_steps(steps: &[Step<String>]) -> Result<Vec<Step<Text>>, InvalidRule> {
    steps
        .iter()
        .map(|step| {
            Ok(match step {
                Step::WindowCheck { open, closed } => Step::WindowCheck { open: parse_steps(open)?, closed: parse_steps(closed)? },
                Step::Wait { minutes, business_hours } => Step::Wait { minutes: *minutes, business_hours: *business_hours },
                Step::Condition { conditions, then, otherwise } => {
                    Step::Condition { conditions: conditions.clone(), then: parse_steps(then)?, otherwise: parse_steps(otherwise)? }
                }
                Step::Do { action } => Step::Do { action: parse_actions(std::slice::from_ref(action))?.remove(0) },
            })
        })
        .collect()
}

impl WorkflowDraft {
    /// Checks the draft and makes it a workflow with the given id. Refuses, naming each path: an empty
    /// name, no steps, everything a rule's conditions and actions are refused for, waits below a
    /// minute or above 30 days, nesting deeper than [`MAX_DEPTH`], and a free-form reply outside an
    /// Open branch or after a wait (see the module documentation).
    pub fn validate(&self, id: i64) -> Result<Workflow, InvalidRule> {
        let mut checker = Checker { errors: Vec::new() };
        if self.name.trim().is_empty() {
            checker.fail("name".into(), RuleProblem::Empty);
        }
        if self.event.is_automation() && self.conditions.all.is_empty() && self.conditions.any.is_empty() {
            checker.fail("conditions".into(), RuleProblem::AutomationWithoutConditions);
        }
        for (path, c) in self.conditions.with_paths() {
            checker.errors.extend(check_condition(&path, c));
        }
        if self.steps.is_empty() {
            checker.fail("steps".into(), RuleProblem::NoSteps);
        }
        checker.steps("steps", &self.steps, Known::Unknown, 1);
        if !checker.errors.is_empty() {
            return Err(InvalidRule { errors: checker.errors });
        }
        Ok(Workflow {
            id,
            name: self.name.trim().to_owned(),
            enabled: self.enabled,
            event: self.event,
            conditions: self.conditions.clone(),
            steps: parse_steps(&self.steps)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(steps: serde_json::Value) -> WorkflowDraft {
        serde_json::from_value(serde_json::json!({
            "name": "Follow up",
            "event": "automation",
            "conditions": {"all": [{"field": "time_since_last_agent_reply", "op": "more_than", "minutes": 1440}]},
            "steps": steps
        }))
        .unwrap()
    }

    fn reply(text: &str) -> serde_json::Value {
        serde_json::json!({"type": "do", "action": {"type": "reply", "text": text}})
    }

    fn template() -> serde_json::Value {
        serde_json::json!({"type": "do", "action": {"type": "send_template", "name": "follow_up", "language": "en"}})
    }

    fn errors(d: &WorkflowDraft) -> Vec<String> {
        d.validate(1).unwrap_err().errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_highlevel_shape_is_accepted_open_sends_free_form_closed_a_template() {
        let d = draft(serde_json::json!([
            {"type": "window_check", "open": [reply("Hi {{firstName || there}}, did that help?")], "closed": [template()]},
            {"type": "wait", "minutes": 2880},
            {"type": "do", "action": {"type": "set_status", "status": "solved"}}
        ]));
        let w = d.validate(7).unwrap();
        assert_eq!(w.steps.len(), 3);
        let Step::WindowCheck { open, closed } = &w.steps[0] else { panic!("a window check") };
        assert_eq!((open.len(), closed.len()), (1, 1));
        // The JSON shape round-trips.
        let back: WorkflowDraft = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn free_form_after_a_25_hour_wait_is_refused_naming_the_step() {
        let d = draft(serde_json::json!([
            {"type": "window_check", "open": [{"type": "wait", "minutes": 1500}, reply("Still there?")], "closed": [template()]}
        ]));
        assert_eq!(
            errors(&d),
            ["steps[0].open[1]: this free-form reply comes after a wait of 1500 minutes, which can outlast the customer's window \
              (it closes at most 24 hours after their last message): put a Window check after the wait"]
        );
        // A Window check after the wait makes it safe again.
        let fixed = draft(serde_json::json!([
            {"type": "wait", "minutes": 1500},
            {"type": "window_check", "open": [reply("Still there?")], "closed": [template()]}
        ]));
        assert!(fixed.validate(1).is_ok());
    }

    #[test]
    fn free_form_outside_an_open_branch_is_refused_templates_are_not() {
        let d = draft(serde_json::json!([reply("Hello"), template(), {"type": "window_check", "open": [], "closed": [reply("Too late")]}]));
        assert_eq!(
            errors(&d),
            [
                "steps[0]: a free-form reply must be inside the Open branch of a Window check: outside it the window may be closed",
                "steps[2].closed[0]: a free-form reply must be inside the Open branch of a Window check: outside it the window may be closed"
            ]
        );
        // After the Window check's branches, nothing is known again.
        let after = draft(serde_json::json!([{"type": "window_check", "open": [reply("ok")], "closed": [template()]}, reply("again")]));
        assert_eq!(errors(&after).len(), 1);
        assert!(errors(&after)[0].starts_with("steps[1]:"));
    }

    #[test]
    fn a_wait_on_either_branch_of_a_condition_counts() {
        let d = draft(serde_json::json!([{"type": "window_check", "open": [
            {"type": "condition", "conditions": {"all": [{"field": "priority", "op": "is", "values": ["urgent"]}]},
             "then": [], "else": [{"type": "wait", "minutes": 30}]},
            reply("Checking in")
        ]}]));
        assert!(errors(&d)[0].starts_with("steps[0].open[1]: this free-form reply comes after a wait of 30 minutes"), "{:?}", errors(&d));
    }

    #[test]
    fn every_part_is_checked_as_a_rule_is_with_its_path() {
        let d = draft(serde_json::json!([
            {"type": "wait", "minutes": 0},
            {"type": "window_check", "open": [reply("Hi {{ticket.idd}}")]},
            {"type": "condition", "conditions": {"all": [{"field": "tags", "op": "include_any", "tags": []}]}},
            {"type": "wait", "minutes": 50000}
        ]));
        let e = errors(&d);
        assert!(e.iter().any(|e| e.starts_with("steps[0].minutes: must be at least 1 minute")), "{e:?}");
        assert!(e.iter().any(|e| e.starts_with("steps[1].open[0].action.text: unknown placeholder {{ticket.idd}}")), "{e:?}");
        assert!(e.iter().any(|e| e.starts_with("steps[2].conditions.all[0].tags: must not be empty")), "{e:?}");
        assert!(e.iter().any(|e| e.starts_with("steps[3].minutes: must be at most 43200 minutes")), "{e:?}");
        let empty: WorkflowDraft = serde_json::from_value(serde_json::json!({"name": " ", "event": "automation", "steps": []})).unwrap();
        assert_eq!(
            errors(&empty),
            [
                "name: must not be empty",
                "conditions: an automation needs at least one condition, or it acts on every open ticket",
                "steps: a workflow needs at least one step"
            ]
        );
    }

    #[test]
    fn unknown_step_types_and_fields_are_refused_when_read() {
        let e = serde_json::from_value::<WorkflowDraft>(
            serde_json::json!({"name": "x", "event": "message_received", "steps": [{"type": "jump"}]}),
        );
        assert!(e.unwrap_err().to_string().contains("unknown variant `jump`"));
        let e = serde_json::from_value::<WorkflowDraft>(
            serde_json::json!({"name": "x", "event": "message_received", "steps": [{"type": "wait", "minutes": 5, "hours": 1}]}),
        );
        assert!(e.unwrap_err().to_string().contains("unknown field `hours`"));
    }

    #[test]
    fn nesting_is_bounded() {
        let mut steps = serde_json::json!([template()]);
        for _ in 0..10 {
            steps = serde_json::json!([{"type": "window_check", "open": steps, "closed": []}]);
        }
        assert!(errors(&draft(steps)).iter().any(|e| e.contains("nest at most 8 levels")));
    }
}
