-- Automations (issue 14, SPEC 10): time-based rules, armed per ticket and episode by the sweep and run
-- once when due.

-- What time conditions count from, kept on the ticket so one read of the open tickets gives the
-- sweep everything (a per-ticket search of events would cost more than the sweep's budget):
--   status_changed_at:   the last status change (NULL: never changed since creation)
--   last_agent_reply_at: the last message an agent or API client sent the customer (NULL: none)
-- The database keeps them, in the same transaction as the event or message, whoever writes it.
ALTER TABLE tickets ADD COLUMN status_changed_at INTEGER;
ALTER TABLE tickets ADD COLUMN last_agent_reply_at INTEGER;

UPDATE tickets SET status_changed_at =
    (SELECT max(e.at) FROM ticket_events e WHERE e.ticket_id = tickets.id AND e.kind = 'status_changed');
UPDATE tickets SET last_agent_reply_at =
    (SELECT max(m.sent_at) FROM messages m
     WHERE m.ticket_id = tickets.id AND m.direction = 'outbound' AND (m.author LIKE 'agent:%' OR m.author LIKE 'api:%'));

CREATE TRIGGER tickets_status_changed_at AFTER INSERT ON ticket_events
WHEN NEW.kind = 'status_changed'
BEGIN
    UPDATE tickets SET status_changed_at = NEW.at WHERE id = NEW.ticket_id;
END;

CREATE TRIGGER tickets_last_agent_reply_at AFTER INSERT ON messages
WHEN NEW.direction = 'outbound' AND NEW.ticket_id IS NOT NULL AND (NEW.author LIKE 'agent:%' OR NEW.author LIKE 'api:%')
BEGIN
    UPDATE tickets SET last_agent_reply_at = max(COALESCE(last_agent_reply_at, 0), NEW.sent_at) WHERE id = NEW.ticket_id;
END;

-- The open tickets the sweep reads, without the closed ones that pile up over the years.
CREATE INDEX tickets_not_closed ON tickets (id) WHERE status <> 'closed';

-- One execution of an automation for a ticket and episode (core `EpisodeKey`):
--   armed:     the sweep found it due at due_at (or soon); waits for its time
--   running:   an instance claimed it until claimed_until (a crashed instance's claim runs out)
--   fired:     its actions ran; outcome holds what each did
--   skipped:   checked again when due, and the rule, the episode or the conditions had moved (reason)
--   expired:   overdue by more than the desk's limit (after downtime): recorded, not run
--   cancelled: the rule was edited, switched off or deleted before it was due
-- At most one armed, running, fired or expired execution per (rule, ticket, episode): the sweep
-- re-arming what it already armed changes nothing, and an episode that fired or expired is done.
-- A skipped or cancelled one leaves room for the episode to be armed again (by the rule as edited,
-- or when the conditions hold again).
CREATE TABLE automation_runs (
    id            INTEGER PRIMARY KEY,
    rule_id       INTEGER NOT NULL,
    ticket_id     INTEGER NOT NULL,
    episode_key   TEXT    NOT NULL,
    due_at        INTEGER NOT NULL,
    state         TEXT    NOT NULL,
    reason        TEXT,
    outcome       TEXT,
    armed_at      INTEGER NOT NULL,
    claimed_by    TEXT,
    claimed_until INTEGER,
    attempts      INTEGER NOT NULL DEFAULT 0,
    finished_at   INTEGER
);
CREATE UNIQUE INDEX automation_runs_once ON automation_runs (rule_id, ticket_id, episode_key)
    WHERE state IN ('armed', 'running', 'fired', 'expired');
CREATE INDEX automation_runs_due ON automation_runs (due_at) WHERE state IN ('armed', 'running');
CREATE INDEX automation_runs_by_rule ON automation_runs (rule_id, id);
CREATE INDEX automation_runs_by_ticket ON automation_runs (ticket_id, id);

-- Sends of an automation carry a key unique per execution and action, so an execution picked up
-- again after its instance died mid-way queues nothing twice.
ALTER TABLE messages ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX messages_dedupe_key ON messages (dedupe_key) WHERE dedupe_key IS NOT NULL;
