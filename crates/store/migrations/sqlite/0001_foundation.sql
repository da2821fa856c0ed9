-- Foundation schema: business numbers, contacts and their per-number identities (with the window
-- state), tickets, messages, delivery statuses, reactions, revisions, events, templates, account events.
-- Instants are unix milliseconds (INTEGER).

CREATE TABLE business_numbers (
    id              INTEGER PRIMARY KEY,
    phone_number_id TEXT    NOT NULL UNIQUE,
    waba_id         TEXT    NOT NULL,
    display_number  TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);

-- A person. Their identities on business numbers point here; merging (C2) moves identities.
CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL,
    name_is_default INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL
);

-- A contact as seen by one business number, with that pair's window state (W1-W6).
CREATE TABLE identities (
    id                 INTEGER PRIMARY KEY,
    contact_id         INTEGER NOT NULL REFERENCES contacts(id) DEFERRABLE INITIALLY DEFERRED,
    business_number_id INTEGER NOT NULL REFERENCES business_numbers(id),
    identity_key       TEXT    NOT NULL,
    wa_id              TEXT,
    bsuid              TEXT,
    parent_bsuid       TEXT,
    profile_name       TEXT,
    last_inbound_at    INTEGER,
    referral_at        INTEGER,
    fep_started_at     INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (business_number_id, identity_key)
);
CREATE INDEX identities_contact ON identities (contact_id);

-- Changes of an identity that must keep their history (a new phone number, a new BSUID).
CREATE TABLE identity_changes (
    id          INTEGER PRIMARY KEY,
    identity_id INTEGER NOT NULL REFERENCES identities(id),
    at          INTEGER NOT NULL,
    field       TEXT    NOT NULL,
    old_value   TEXT,
    new_value   TEXT
);

CREATE TABLE tickets (
    id                 INTEGER PRIMARY KEY,
    business_number_id INTEGER NOT NULL REFERENCES business_numbers(id),
    identity_id        INTEGER NOT NULL REFERENCES identities(id),
    requester_id       INTEGER NOT NULL REFERENCES contacts(id),
    status             TEXT    NOT NULL,
    subject            TEXT    NOT NULL,
    assignee_id        INTEGER,
    followup_of        INTEGER REFERENCES tickets(id),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    last_message_at    INTEGER NOT NULL
);
CREATE INDEX tickets_identity ON tickets (identity_id, id);
-- Not on last_message_at: every inbound message bumps it, and an unindexed column keeps that update
-- cheap (a HOT update on PostgreSQL).
CREATE INDEX tickets_status ON tickets (status, id);
CREATE INDEX tickets_followup ON tickets (followup_of) WHERE followup_of IS NOT NULL;

CREATE TABLE messages (
    id                  INTEGER PRIMARY KEY,
    ticket_id           INTEGER REFERENCES tickets(id),
    business_number_id  INTEGER NOT NULL REFERENCES business_numbers(id),
    identity_id         INTEGER REFERENCES identities(id),
    direction           TEXT    NOT NULL,  -- inbound | outbound | note | system
    wamid               TEXT,
    kind                TEXT    NOT NULL,
    body                TEXT,
    media_id            TEXT,
    mime_type           TEXT,
    media_sha256        TEXT,
    filename            TEXT,
    voice               INTEGER NOT NULL DEFAULT 0,
    reply_to_wamid      TEXT,
    target_wamid        TEXT,              -- reaction, edit, revoke: the message acted on
    forwarded           INTEGER NOT NULL DEFAULT 0,
    referral            INTEGER NOT NULL DEFAULT 0,
    sent_at             INTEGER NOT NULL,
    received_at         INTEGER NOT NULL,
    delivery_state      TEXT,
    delivery_updated_at INTEGER,
    error_code          INTEGER,
    error_title         TEXT,
    error_details       TEXT,
    edited_at           INTEGER,
    revoked_at          INTEGER,
    errors              TEXT,
    raw                 TEXT
);
-- I4: one message per wamid and business number, whatever the concurrency.
CREATE UNIQUE INDEX messages_wamid ON messages (business_number_id, wamid);
CREATE INDEX messages_ticket ON messages (ticket_id, id);

CREATE TABLE reactions (
    business_number_id INTEGER NOT NULL,
    target_wamid       TEXT    NOT NULL,
    identity_id        INTEGER NOT NULL,
    emoji              TEXT    NOT NULL,
    reacted_at         INTEGER NOT NULL,
    PRIMARY KEY (business_number_id, target_wamid, identity_id)
);

-- Edits and revokes keep history: every one is a row; the message shows the latest.
CREATE TABLE message_revisions (
    id                 INTEGER PRIMARY KEY,
    business_number_id INTEGER NOT NULL,
    target_wamid       TEXT    NOT NULL,
    source_wamid       TEXT    NOT NULL,
    kind               TEXT    NOT NULL,  -- edit | revoke
    previous_body      TEXT,
    new_body           TEXT,
    at                 INTEGER NOT NULL,
    applied            INTEGER NOT NULL
);
CREATE INDEX message_revisions_target ON message_revisions (business_number_id, target_wamid);

-- Every status Meta reported, with Meta's timestamp (D1). `applied` is 0 for statuses that arrived
-- before their message was known, or that lost to a higher-precedence status.
CREATE TABLE status_events (
    id                 INTEGER PRIMARY KEY,
    business_number_id INTEGER NOT NULL,
    wamid              TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    at                 INTEGER NOT NULL,
    received_at        INTEGER NOT NULL,
    recipient          TEXT,
    pricing            TEXT,
    errors             TEXT,
    applied            INTEGER NOT NULL,
    raw                TEXT    NOT NULL,
    UNIQUE (business_number_id, wamid, status)
);

CREATE TABLE ticket_events (
    id        INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    data      TEXT    NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);

CREATE TABLE templates (
    id               INTEGER PRIMARY KEY,
    waba_id          TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    language         TEXT    NOT NULL,
    meta_template_id TEXT,
    category         TEXT,
    status           TEXT,
    quality          TEXT,
    reason           TEXT,
    components       TEXT,
    updated_at       INTEGER NOT NULL,
    UNIQUE (waba_id, name, language)
);

CREATE TABLE account_events (
    id                 INTEGER PRIMARY KEY,
    waba_id            TEXT,
    business_number_id INTEGER,
    field              TEXT    NOT NULL,
    event              TEXT,
    at                 INTEGER NOT NULL,
    raw                TEXT    NOT NULL,
    dedupe_key         TEXT    NOT NULL UNIQUE
);

-- Webhooks for numbers the desk does not serve: answered 200 so Meta stops retrying, counted here.
CREATE TABLE unknown_numbers (
    phone_number_id TEXT    PRIMARY KEY,
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    count           INTEGER NOT NULL
);

-- Durable queue of media downloads, filled in the ingest transaction, worked after the commit (I5).
CREATE TABLE media_jobs (
    id                 INTEGER PRIMARY KEY,
    business_number_id INTEGER NOT NULL,
    wamid              TEXT    NOT NULL,
    media_id           TEXT    NOT NULL,
    state              TEXT    NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    INTEGER NOT NULL,
    last_error         TEXT,
    created_at         INTEGER NOT NULL,
    UNIQUE (business_number_id, wamid, media_id)
);
CREATE INDEX media_jobs_due ON media_jobs (state, next_attempt_at);
