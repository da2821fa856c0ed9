-- The agent web interface: sign-in sessions, each agent's time zone, what each agent has read,
-- @mention notifications and saved views.

ALTER TABLE agents ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';

-- Only a hash of the session cookie is kept; the CSRF token is per session.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT    NOT NULL UNIQUE,
    agent_id     INTEGER NOT NULL REFERENCES agents(id),
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- A ticket is unread for an agent while it changed (updated_at) after the agent last opened it.
CREATE TABLE ticket_reads (
    agent_id  INTEGER NOT NULL REFERENCES agents(id),
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    seen_at   INTEGER NOT NULL,
    PRIMARY KEY (agent_id, ticket_id)
);

CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY,
    agent_id   INTEGER NOT NULL REFERENCES agents(id),
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    message_id INTEGER REFERENCES messages(id),
    kind       TEXT    NOT NULL,           -- 'mention'
    actor      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    read_at    INTEGER
);
CREATE INDEX notifications_agent ON notifications (agent_id, id);

-- A saved filter over tickets; agent_id NULL is shared with everyone.
CREATE TABLE saved_views (
    id          INTEGER PRIMARY KEY,
    agent_id    INTEGER REFERENCES agents(id),
    name        TEXT    NOT NULL,
    status      TEXT,
    tag         TEXT,
    assignee    TEXT,                      -- 'me', 'unassigned', or an agent id
    created_at  INTEGER NOT NULL
);

-- The inbox lists sort by last activity.
CREATE INDEX tickets_assignee_activity ON tickets (assignee_id, last_message_at);
