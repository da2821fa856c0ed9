//! Rows and inputs of workflows and their runs (SPEC 10, issue 14 item 3).

use serde::Serialize;
use windowdesk_core::Timestamp;

/// A stored workflow: the core's `WorkflowDraft` JSON as validated before it was stored, with the
/// columns lists and the runner filter on copied out of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowRow {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub event: String,
    pub workflow: String,
    pub created_at: Timestamp,
    pub created_by: Option<String>,
    pub updated_at: Timestamp,
    pub updated_by: Option<String>,
}

/// What is written to create or update a workflow.
#[derive(Clone, Debug)]
pub struct WorkflowWrite {
    pub name: String,
    pub enabled: bool,
    pub event: String,
    pub workflow: String,
    pub actor: String,
    pub now: Timestamp,
}

/// Where a workflow run is:
/// - `armed`: an automation workflow the sweep found due; checked again when due, then started
/// - `waiting`: started, waiting until `resume_at` (a wait step, or just set off by a trigger)
/// - `running`: an instance claimed it (a crashed instance's claim runs out and it is taken over)
/// - `done`: every step on its path ran
/// - `skipped`: checked again when due, and the workflow, the episode or the conditions had moved
/// - `expired`: overdue by more than the desk's limit (after downtime): recorded, not run
/// - `failed`: it could not go on (its stored definition no longer reads)
/// - `cancelled`: the workflow was switched off or deleted, or edited before the run started
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowRunState {
    Armed,
    Waiting,
    Running,
    Done,
    Skipped,
    Expired,
    Failed,
    Cancelled,
}

impl WorkflowRunState {
    pub const ALL: [WorkflowRunState; 8] =
        [Self::Armed, Self::Waiting, Self::Running, Self::Done, Self::Skipped, Self::Expired, Self::Failed, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Armed => "armed",
            Self::Waiting => "waiting",
            Self::Running => "running",
            Self::Done => "done",
            Self::Skipped => "skipped",
            Self::Expired => "expired",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A run to set off: by a trigger (`started`, due now, keyed by what set it off: `message:<id>`,
/// `event:<id>`) or armed by the automation sweep (keyed by the episode, checked again when due).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWorkflowRun {
    pub workflow_id: i64,
    pub ticket_id: i64,
    pub start_key: String,
    /// The workflow's draft JSON: a run goes on with the steps it started with, whatever edits follow.
    pub definition: String,
    pub started: bool,
    pub resume_at: Timestamp,
}

/// One run of a workflow on a ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkflowRun {
    pub id: i64,
    pub workflow_id: i64,
    pub ticket_id: i64,
    pub start_key: String,
    #[serde(skip)]
    pub definition: String,
    pub state: WorkflowRunState,
    /// `false` until an armed automation run is checked again and starts.
    pub started: bool,
    /// The path of the next step (`steps[1].open[0]`); `None` once done.
    pub cursor: Option<String>,
    /// When it is due: to start, or to go on after a wait.
    pub resume_at: Timestamp,
    /// Why it was skipped, expired, failed or cancelled.
    pub reason: Option<String>,
    pub created_at: Timestamp,
    pub claimed_by: Option<String>,
    /// Claims so far: more than the waits it went through means an instance died while running it.
    pub attempts: i32,
    pub finished_at: Option<Timestamp>,
}

/// What one step of a run did, as recorded on the run and on the ticket (`workflow_step` event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkflowStepRecord {
    /// `steps[1].open[0]`.
    pub path: String,
    /// `window_check`, `wait`, `condition`, or the action's type.
    pub kind: String,
    pub ok: bool,
    /// What happened, in words: `open: the window closes at …`, `template follow_up (en) queued (message 12)`.
    pub outcome: String,
    pub at: Timestamp,
}

/// How a claimed run stops (see [`crate::WorkflowStore::finish_workflow_run`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkflowRunFinish {
    /// At a wait: goes on at `resume_at` from `cursor`.
    Wait {
        cursor: String,
        resume_at: Timestamp,
    },
    /// An armed run not due yet after all: armed again for `resume_at`.
    Rearm {
        resume_at: Timestamp,
    },
    Done,
    Skipped {
        reason: String,
    },
    Expired {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

/// Which runs to list.
#[derive(Clone, Debug, Default)]
pub struct WorkflowRunFilter {
    pub workflow_id: Option<i64>,
    pub ticket_id: Option<i64>,
    pub state: Option<WorkflowRunState>,
    /// Older than this id (paging, newest first).
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// The data of a `workflow_step` ticket event.
pub fn step_event_data(run: &WorkflowRun, workflow_name: &str, step: &WorkflowStepRecord) -> serde_json::Value {
    serde_json::json!({
        "workflow_id": run.workflow_id,
        "workflow": workflow_name,
        "run_id": run.id,
        "path": step.path,
        "step": step.kind,
        "ok": step.ok,
        "outcome": step.outcome,
    })
}
