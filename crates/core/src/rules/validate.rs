//! Saving a rule: a [`RuleDraft`] becomes a [`Rule`] only when every part of it makes sense, and every
//! refusal names the field path, so the rule builder can point at it and the API can answer 422 with it.

use std::fmt;

use super::{Action, AssigneeOp, ClosedWindow, Condition, Rule, RuleDraft, TemplateAction};
use crate::placeholder::{PlaceholderError, Text};

/// Time conditions compare with at most 30 days (issue 14: waits from minutes to 30 days).
pub const MAX_MINUTES: i64 = 30 * 24 * 60;
/// A held reply waits at most 30 days for the customer.
pub const MAX_HOLD_HOURS: i64 = 30 * 24;

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleProblem {
    #[error(transparent)]
    Placeholder(#[from] PlaceholderError),
    #[error("must not be empty")]
    Empty,
    #[error("must be at least 1 minute, not {0}")]
    TooFewMinutes(i64),
    #[error("must be at most {MAX_MINUTES} minutes (30 days), not {0}")]
    TooManyMinutes(i64),
    #[error("must be at least 1 hour, not {0}")]
    TooFewHours(i64),
    #[error("must be at most {MAX_HOLD_HOURS} hours (30 days), not {0}")]
    TooManyHours(i64),
    #[error("a template parameter needs a name or number (\"1\", \"order_id\")")]
    BlankParameterName,
    #[error("a rule needs at least one action")]
    NoActions,
    #[error("an automation needs at least one condition, or it acts on every open ticket")]
    AutomationWithoutConditions,
    #[error("`{op}` needs an agent_id")]
    AgentIdMissing { op: &'static str },
    #[error("`{op}` takes no agent_id")]
    AgentIdNotExpected { op: &'static str },
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("a macro cannot `{kind}`: it holds a reply, status, priority, tags, assignee and a note (rules do the rest)")]
    NotInAMacro { kind: &'static str },
    #[error("a macro holds only one {kind}")]
    MoreThanOne { kind: &'static str },
    #[error("a workflow needs at least one step")]
    NoSteps,
    #[error("a free-form reply must be inside the Open branch of a Window check: outside it the window may be closed")]
    FreeFormOutsideOpenBranch,
    #[error(
        "this free-form reply comes after a wait of {minutes} minutes, which can outlast the customer's window \
         (it closes at most 24 hours after their last message): put a Window check after the wait"
    )]
    FreeFormAfterWait { minutes: i64 },
    #[error("workflow steps nest at most {max} levels deep")]
    TooDeep { max: usize },
}

/// One refused field: `actions[1].text: unknown placeholder {{ticket.idd}} at character 8 ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct RuleError {
    /// Where in the draft, as a path: `name`, `conditions.any[0].minutes`, `actions[2].tags[1]`.
    pub path: String,
    pub problem: RuleProblem,
}

/// A draft that cannot be saved, with every problem found (not just the first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidRule {
    pub errors: Vec<RuleError>,
}

impl fmt::Display for InvalidRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        f.write_str(&all.join("; "))
    }
}

#[derive(Default)]
struct Check {
    errors: Vec<RuleError>,
}

impl Check {
    fn fail(&mut self, path: impl Into<String>, problem: impl Into<RuleProblem>) {
        self.errors.push(RuleError { path: path.into(), problem: problem.into() });
    }

    fn not_blank(&mut self, path: impl Into<String>, value: &str) {
        if value.trim().is_empty() {
            self.fail(path, RuleProblem::Empty);
        }
    }

    /// A non-empty list of non-blank words (tags, phrases).
    fn words(&mut self, path: &str, words: &[String]) {
        if words.is_empty() {
            self.fail(path, RuleProblem::Empty);
        }
        for (i, word) in words.iter().enumerate() {
            self.not_blank(format!("{path}[{i}]"), word);
        }
    }

    fn list<T>(&mut self, path: String, values: &[T]) {
        if values.is_empty() {
            self.fail(path, RuleProblem::Empty);
        }
    }

    fn minutes(&mut self, path: String, minutes: i64) {
        if minutes < 1 {
            self.fail(path, RuleProblem::TooFewMinutes(minutes));
        } else if minutes > MAX_MINUTES {
            self.fail(path, RuleProblem::TooManyMinutes(minutes));
        }
    }

    fn condition(&mut self, path: &str, condition: &Condition) {
        match condition {
            Condition::BusinessNumber { ids, .. } => self.list(format!("{path}.ids"), ids),
            Condition::Status { values, .. } => self.list(format!("{path}.values"), values),
            Condition::Priority { values, .. } => self.list(format!("{path}.values"), values),
            Condition::Tags { tags, .. } => self.words(&format!("{path}.tags"), tags),
            Condition::MessageText { words, .. } => self.words(&format!("{path}.words"), words),
            Condition::Assignee { op, agent_id } => match (op, agent_id) {
                (AssigneeOp::Is, None) => self.fail(format!("{path}.agent_id"), RuleProblem::AgentIdMissing { op: "is" }),
                (AssigneeOp::IsNot, None) => self.fail(format!("{path}.agent_id"), RuleProblem::AgentIdMissing { op: "is_not" }),
                (AssigneeOp::Unassigned, Some(_)) => {
                    self.fail(format!("{path}.agent_id"), RuleProblem::AgentIdNotExpected { op: "unassigned" })
                }
                (AssigneeOp::Assigned, Some(_)) => {
                    self.fail(format!("{path}.agent_id"), RuleProblem::AgentIdNotExpected { op: "assigned" })
                }
                _ => {}
            },
            Condition::FirstMessage { .. }
            | Condition::WithinBusinessHours { .. }
            | Condition::Window { .. }
            | Condition::WindowClosesBeforeTeamIsBack { .. }
            | Condition::AwaitingReply { .. } => {}
            Condition::WindowTimeLeft { minutes, .. }
            | Condition::BusinessTimeLeft { minutes, .. }
            | Condition::TimeSinceLastCustomerMessage { minutes, .. }
            | Condition::TimeSinceLastAgentReply { minutes, .. }
            | Condition::TimeSinceCreated { minutes, .. }
            | Condition::TimeSinceStatusChanged { minutes, .. }
            | Condition::TimeSinceSolved { minutes, .. } => self.minutes(format!("{path}.minutes"), *minutes),
        }
    }

    fn template(&mut self, path: &str, template: &TemplateAction<String>) {
        self.not_blank(format!("{path}name"), &template.name);
        self.not_blank(format!("{path}language"), &template.language);
        if template.params.keys().any(|key| key.trim().is_empty()) {
            self.fail(format!("{path}params"), RuleProblem::BlankParameterName);
        }
    }

    fn action(&mut self, path: &str, action: &Action<String>) {
        for (field, text) in action.texts() {
            let field_path = format!("{path}.{field}");
            match Text::parse(text) {
                Ok(_) => self.not_blank(field_path, text),
                Err(e) => self.fail(field_path, e),
            }
        }
        match action {
            Action::Reply { when_closed: ClosedWindow::Template(t), .. } => self.template(&format!("{path}.when_closed."), t),
            Action::SendTemplate(t) => self.template(&format!("{path}."), t),
            Action::HoldReply { hours, .. } => {
                if *hours < 1 {
                    self.fail(format!("{path}.hours"), RuleProblem::TooFewHours(*hours));
                } else if *hours > MAX_HOLD_HOURS {
                    self.fail(format!("{path}.hours"), RuleProblem::TooManyHours(*hours));
                }
            }
            Action::AddTags { tags } | Action::RemoveTags { tags } => self.words(&format!("{path}.tags"), tags),
            _ => {}
        }
    }
}

/// Checks one action at `path` as a rule's actions are checked: for workflow steps.
pub(crate) fn check_action(path: &str, action: &Action<String>) -> Vec<RuleError> {
    let mut check = Check::default();
    check.action(path, action);
    check.errors
}

/// Checks one condition at `path` as a rule's are checked: for workflow steps.
pub(crate) fn check_condition(path: &str, condition: &Condition) -> Vec<RuleError> {
    let mut check = Check::default();
    check.condition(path, condition);
    check.errors
}

/// Checks a list of actions as a rule's are checked (paths `actions[i]…`): for macros, which are
/// bundles of the same actions.
pub(crate) fn check_actions(actions: &[Action<String>]) -> Vec<RuleError> {
    let mut check = Check::default();
    if actions.is_empty() {
        check.fail("actions", RuleProblem::NoActions);
    }
    for (i, action) in actions.iter().enumerate() {
        check.action(&format!("actions[{i}]"), action);
    }
    check.errors
}

/// Actions already checked, with their texts parsed. Every text parsed in the check; an error here
/// would still be reported, never unwrapped.
pub(crate) fn parse_actions(actions: &[Action<String>]) -> Result<Vec<Action<Text>>, InvalidRule> {
    actions
        .iter()
        .enumerate()
        .map(|(i, action)| {
            action
                .try_map_texts(|text| Text::parse(text))
                .map_err(|e| InvalidRule { errors: vec![RuleError { path: format!("actions[{i}]"), problem: e.into() }] })
        })
        .collect()
}

impl RuleDraft {
    /// Checks the draft and makes it a rule with the given id. Refuses, naming each field:
    /// an empty name; no actions; an automation without conditions; empty lists and blank tags or
    /// words; minutes below 1 or above 30 days; hold hours below 1 or above 30 days; blank texts,
    /// template names and languages; `assignee` conditions with a missing or superfluous agent id;
    /// and every text whose placeholders [`Text::parse`] refuses (unknown or broken, with the token).
    pub fn validate(&self, id: i64) -> Result<Rule, InvalidRule> {
        let mut check = Check::default();
        check.not_blank("name", &self.name);
        if self.event.is_automation() && self.conditions.all.is_empty() && self.conditions.any.is_empty() {
            check.fail("conditions", RuleProblem::AutomationWithoutConditions);
        }
        for (path, condition) in self.conditions.with_paths() {
            check.condition(&path, condition);
        }
        if self.actions.is_empty() {
            check.fail("actions", RuleProblem::NoActions);
        }
        for (i, action) in self.actions.iter().enumerate() {
            check.action(&format!("actions[{i}]"), action);
        }
        if !check.errors.is_empty() {
            return Err(InvalidRule { errors: check.errors });
        }
        let actions = parse_actions(&self.actions)?;
        Ok(Rule {
            id,
            name: self.name.trim().to_owned(),
            enabled: self.enabled,
            position: self.position,
            event: self.event,
            once_per_episode: self.once_per_episode,
            conditions: self.conditions.clone(),
            actions,
        })
    }
}
