-- Workflows (issue 14 item 3, SPEC 10): ordered steps with a Window check, set off like a rule, each
-- kept as the JSON of the core's WorkflowDraft as validated before it is stored.
CREATE TABLE workflows (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    enabled    INTEGER NOT NULL,
    event      TEXT    NOT NULL,
    workflow   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT,
    updated_at INTEGER NOT NULL,
    updated_by TEXT
);

-- One run of a workflow on a ticket (store `WorkflowRunState` says what each state means). A run
-- keeps the definition it started with, and the path of its next step as its cursor: a wait
-- stores it with resume_at and lets go, and whichever instance claims the run when it is due goes
-- on from there, after a restart too. start_key is what set it off (`message:<id>`, `event:<id>`)
-- or, for an automation, the episode: a workflow runs at most once per key, unless that run was
-- skipped or cancelled.
CREATE TABLE workflow_runs (
    id            INTEGER PRIMARY KEY,
    workflow_id   INTEGER NOT NULL,
    ticket_id     INTEGER NOT NULL,
    start_key     TEXT    NOT NULL,
    definition    TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    started       INTEGER NOT NULL,
    cursor        TEXT,
    resume_at     INTEGER NOT NULL,
    reason        TEXT,
    created_at    INTEGER NOT NULL,
    claimed_by    TEXT,
    claimed_until INTEGER,
    attempts      INTEGER NOT NULL DEFAULT 0,
    finished_at   INTEGER
);
CREATE UNIQUE INDEX workflow_runs_once ON workflow_runs (workflow_id, ticket_id, start_key)
    WHERE state NOT IN ('skipped', 'cancelled');
CREATE INDEX workflow_runs_due ON workflow_runs (resume_at) WHERE state IN ('armed', 'waiting', 'running');
CREATE INDEX workflow_runs_by_workflow ON workflow_runs (workflow_id, id);
CREATE INDEX workflow_runs_by_ticket ON workflow_runs (ticket_id, id);

-- What each step of a run did. Steps form a tree without loops, so a run visits a path at most once;
-- a step recorded again by an instance that took the run over is not recorded twice.
CREATE TABLE workflow_run_steps (
    id      INTEGER PRIMARY KEY,
    run_id  INTEGER NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    path    TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    ok      INTEGER NOT NULL,
    outcome TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    UNIQUE (run_id, path)
);
