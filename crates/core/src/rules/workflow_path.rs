//! Where a workflow run is (issue 14 item 3): a [`StepPath`] names one step of a workflow's tree
//! (`steps[1].open[0]`, the same path save-time errors use), and [`next_step`] says which step runs
//! after it. A run keeps the path of its next step as its cursor: a wait stores it and stops, and a
//! run taken up again after a restart continues from there.
//!
//! Steps form a tree without loops, so a run visits each path at most once: the path is also what
//! makes a step's send unique (`workflow_run:<id>:<path>`).

use std::fmt;
use std::str::FromStr;

use super::workflow::Step;

/// A list of steps inside a workflow: the top level, or a branch of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arm {
    /// The workflow's own `steps`.
    Steps,
    /// A Window check's `open` branch.
    Open,
    /// A Window check's `closed` branch.
    Closed,
    /// A condition's `then` branch.
    Then,
    /// A condition's `else` branch.
    Else,
}

impl Arm {
    pub fn as_str(self) -> &'static str {
        match self {
            Arm::Steps => "steps",
            Arm::Open => "open",
            Arm::Closed => "closed",
            Arm::Then => "then",
            Arm::Else => "else",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Arm::Steps, Arm::Open, Arm::Closed, Arm::Then, Arm::Else].into_iter().find(|a| a.as_str() == s)
    }
}

/// One step's place: the top-level index, then for each branch entered, the branch and the index in it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StepPath(Vec<(Arm, usize)>);

impl StepPath {
    /// The first step of a workflow.
    pub fn first() -> Self {
        StepPath(vec![(Arm::Steps, 0)])
    }

    fn child(&self, arm: Arm, index: usize) -> Self {
        let mut p = self.0.clone();
        p.push((arm, index));
        StepPath(p)
    }
}

impl fmt::Display for StepPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (arm, index)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{}[{index}]", arm.as_str())?;
        }
        Ok(())
    }
}

/// A path that is not of the form `steps[N](.open|.closed|.then|.else[N])*`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a step path: {0:?}")]
pub struct BadPath(pub String);

impl FromStr for StepPath {
    type Err = BadPath;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadPath(s.to_owned());
        let mut parts = Vec::new();
        for (i, part) in s.split('.').enumerate() {
            let (arm, rest) = part.split_once('[').ok_or_else(bad)?;
            let index = rest.strip_suffix(']').and_then(|n| n.parse::<usize>().ok()).ok_or_else(bad)?;
            let arm = Arm::parse(arm).ok_or_else(bad)?;
            if (i == 0) != (arm == Arm::Steps) {
                return Err(bad());
            }
            parts.push((arm, index));
        }
        if parts.is_empty() {
            return Err(bad());
        }
        Ok(StepPath(parts))
    }
}

/// The steps of `step`'s branch `arm`, if it has that branch.
fn branch<T>(step: &Step<T>, arm: Arm) -> Option<&[Step<T>]> {
    match (step, arm) {
        (Step::WindowCheck { open, .. }, Arm::Open) => Some(open),
        (Step::WindowCheck { closed, .. }, Arm::Closed) => Some(closed),
        (Step::Condition { then, .. }, Arm::Then) => Some(then),
        (Step::Condition { otherwise, .. }, Arm::Else) => Some(otherwise),
        _ => None,
    }
}

/// The step at `path`, if the workflow has one there.
pub fn step_at<'a, T>(steps: &'a [Step<T>], path: &StepPath) -> Option<&'a Step<T>> {
    let mut list = steps;
    let mut found = None;
    for (i, (arm, index)) in path.0.iter().enumerate() {
        if i > 0 {
            list = branch(found?, *arm)?;
        }
        found = Some(list.get(*index)?);
    }
    found
}

/// The step that runs after the one at `path`. `taken` is the branch a Window check or condition
/// chose: its first step, when it has any; otherwise (and after any other step) the next step in
/// the same list, or when that list is done, the step after the one that holds it. `None`: the
/// workflow is done.
pub fn next_step<T>(steps: &[Step<T>], path: &StepPath, taken: Option<Arm>) -> Option<StepPath> {
    if let (Some(arm), Some(step)) = (taken, step_at(steps, path)) {
        if branch(step, arm).is_some_and(|b| !b.is_empty()) {
            return Some(path.child(arm, 0));
        }
    }
    let mut p = path.0.clone();
    while let Some((arm, index)) = p.pop() {
        let candidate = {
            let mut c = p.clone();
            c.push((arm, index + 1));
            StepPath(c)
        };
        if step_at(steps, &candidate).is_some() {
            return Some(candidate);
        }
    }
    None
}

impl<T> Step<T> {
    /// The step's type as written (`window_check`, `wait`, `condition`), or for a `do` step, its
    /// action's (`reply`, `set_status`...).
    pub fn kind(&self) -> &'static str {
        match self {
            Step::WindowCheck { .. } => "window_check",
            Step::Wait { .. } => "wait",
            Step::Condition { .. } => "condition",
            Step::Do { action } => action.kind(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::workflow::WorkflowDraft;

    fn steps() -> Vec<Step<String>> {
        let d: WorkflowDraft = serde_json::from_value(serde_json::json!({
            "name": "x", "event": "message_received",
            "steps": [
                {"type": "window_check",
                 "open": [{"type": "do", "action": {"type": "reply", "text": "a"}},
                          {"type": "do", "action": {"type": "add_tags", "tags": ["b"]}}],
                 "closed": []},
                {"type": "wait", "minutes": 10},
                {"type": "condition", "conditions": {"all": []},
                 "then": [{"type": "window_check", "open": [], "closed": [{"type": "do", "action": {"type": "unassign"}}]}],
                 "else": [{"type": "do", "action": {"type": "unassign"}}]},
                {"type": "do", "action": {"type": "set_status", "status": "solved"}}
            ]
        }))
        .unwrap();
        d.steps
    }

    fn p(s: &str) -> StepPath {
        s.parse().unwrap()
    }

    /// Every path a run visits, choosing `choose(path)` at each branch.
    fn walk(steps: &[Step<String>], choose: impl Fn(&str) -> Option<Arm>) -> Vec<String> {
        let mut seen = Vec::new();
        let mut at = Some(StepPath::first());
        while let Some(path) = at {
            seen.push(path.to_string());
            at = next_step(steps, &path, choose(&path.to_string()));
        }
        seen
    }

    #[test]
    fn paths_print_and_parse_as_the_save_time_errors_name_them() {
        for s in ["steps[0]", "steps[12].open[3]", "steps[2].then[0].closed[1]", "steps[1].else[0]"] {
            assert_eq!(p(s).to_string(), s);
        }
        for bad in ["", "open[0]", "steps[0].steps[1]", "steps[x]", "steps[1", "steps[0].side[0]", "steps[-1]"] {
            assert_eq!(bad.parse::<StepPath>(), Err(BadPath(bad.into())), "{bad}");
        }
    }

    #[test]
    fn a_run_takes_the_branch_chosen_then_carries_on_after_the_branching_step() {
        let s = steps();
        assert_eq!(step_at(&s, &p("steps[2].then[0].closed[0]")).map(Step::kind), Some("unassign"));
        assert_eq!(step_at(&s, &p("steps[0].closed[0]")), None);
        assert_eq!(step_at(&s, &p("steps[1].open[0]")), None, "a wait has no branches");
        let open_then = walk(&s, |path| match path {
            "steps[0]" | "steps[2].then[0]" => Some(Arm::Open),
            "steps[2]" => Some(Arm::Then),
            _ => None,
        });
        assert_eq!(open_then, ["steps[0]", "steps[0].open[0]", "steps[0].open[1]", "steps[1]", "steps[2]", "steps[2].then[0]", "steps[3]"]);
        let closed_then_closed = walk(&s, |path| match path {
            "steps[0]" | "steps[2].then[0]" => Some(Arm::Closed),
            "steps[2]" => Some(Arm::Then),
            _ => None,
        });
        assert_eq!(
            closed_then_closed,
            ["steps[0]", "steps[1]", "steps[2]", "steps[2].then[0]", "steps[2].then[0].closed[0]", "steps[3]"],
            "an empty branch goes straight on"
        );
        let otherwise = walk(&s, |path| (path == "steps[2]").then_some(Arm::Else));
        assert_eq!(otherwise, ["steps[0]", "steps[1]", "steps[2]", "steps[2].else[0]", "steps[3]"]);
    }

    #[test]
    fn a_path_the_workflow_no_longer_has_ends_the_run() {
        let s = steps();
        assert_eq!(next_step(&s, &p("steps[3]"), None), None);
        assert_eq!(next_step(&s, &p("steps[9]"), None), None);
    }
}
