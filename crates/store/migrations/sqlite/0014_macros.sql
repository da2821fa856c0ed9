-- Macros (issue 13, SPEC 10): named bundles of actions agents apply to a ticket. `body` is the core's
-- MacroDraft as JSON, validated by the core before it is stored. A macro with an owner is that
-- agent's own; without one it is shared (admins manage those).
CREATE TABLE macros (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL,
    owner_agent_id INTEGER REFERENCES agents(id),
    body           TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    updated_by     TEXT
);
CREATE INDEX macros_owner ON macros (owner_agent_id, name);
