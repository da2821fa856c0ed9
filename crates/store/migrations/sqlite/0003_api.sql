-- The REST API: tokens (only a hash of each secret is kept), agents (assignees; web sign-in comes
-- later), and ticket tags. Assignees already live in tickets.assignee_id; notes are messages with
-- direction 'note'.

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,          -- shown to people: `wdk_` and the first 8 hex digits
    token_hash   TEXT    NOT NULL UNIQUE,   -- hex SHA-256 of the whole token
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

CREATE TABLE agents (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    email         TEXT    NOT NULL UNIQUE,  -- lowercased
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'agent')),
    password_hash TEXT,                     -- argon2 PHC string; NULL until the agent can sign in
    created_at    INTEGER NOT NULL
);

CREATE TABLE ticket_tags (
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    tag        TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, tag)
);
CREATE INDEX ticket_tags_tag ON ticket_tags (tag, ticket_id);

CREATE INDEX tickets_assignee ON tickets (assignee_id, id);
-- The failed-deliveries list (D4) reads only the few messages that need attention.
CREATE INDEX messages_needing_attention ON messages (delivery_updated_at, id) WHERE delivery_state IN ('failed', 'blocked');
