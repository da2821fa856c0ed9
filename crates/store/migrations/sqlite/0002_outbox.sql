-- The durable outbox (SPEC D2-D5). A reply accepted by the API or a page is committed here, with its
-- message row in state `queued`, before anything is sent. The dispatcher claims a row (recording the
-- claim before the request leaves), sends it, and records the outcome as an attempt.

-- "May have been sent twice": the reply was in flight when the process died (D5).
ALTER TABLE messages ADD COLUMN maybe_duplicate INTEGER NOT NULL DEFAULT 0;
-- Who wrote an outbound message or note: `agent:<id>`, `api:<token id>`, `rule:<id>`.
ALTER TABLE messages ADD COLUMN author TEXT;

CREATE TABLE outbox (
    id                 INTEGER PRIMARY KEY,
    message_id         INTEGER NOT NULL UNIQUE REFERENCES messages(id),
    business_number_id INTEGER NOT NULL REFERENCES business_numbers(id),
    recipient          TEXT    NOT NULL,   -- wa_id (or BSUID) of the contact
    request            TEXT    NOT NULL,   -- the Cloud API send body, JSON
    free_form          INTEGER NOT NULL,   -- 1: needs an open window (retries stop at window_end)
    window_end         INTEGER,            -- for free-form: the deadline of every attempt
    state              TEXT    NOT NULL,   -- queued | sending | done
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    INTEGER NOT NULL,
    claimed_at         INTEGER,
    claimed_by         TEXT,
    created_at         INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

CREATE TABLE send_attempts (
    id            INTEGER PRIMARY KEY,
    outbox_id     INTEGER NOT NULL REFERENCES outbox(id),
    attempt       INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    outcome       TEXT,                    -- accepted | retry | failed | blocked | interrupted
    http_status   INTEGER,
    error_code    INTEGER,
    error_title   TEXT,
    error_details TEXT
);
CREATE INDEX send_attempts_outbox ON send_attempts (outbox_id, attempt);
