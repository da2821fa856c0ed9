-- What each outbound message costs (SPEC 11, issue 17 item 3). One row per message the desk sends
-- (WhatsApp or SMS), written with the message: the estimate the send decision made. Meta's status
-- webhooks then say how it was charged (`pricing`, and `conversation` under conversation-based
-- pricing); the settler recomputes the amount from the rate card for Meta's category and type and
-- marks the row final once the message is delivered (charged) or failed (free).
-- Amounts are integer millionths of the currency ("micros"), so sums are exact on both backends.
CREATE TABLE message_costs (
    message_id              BIGINT PRIMARY KEY REFERENCES messages(id),
    business_number_id      BIGINT  NOT NULL,
    ticket_id               BIGINT  NOT NULL,
    contact_id              BIGINT,
    author                  TEXT    NOT NULL,
    channel                 TEXT    NOT NULL,
    at                      BIGINT  NOT NULL,
    recipient               TEXT,
    category                TEXT    NOT NULL,
    market                  TEXT,
    currency                TEXT,
    estimate_micros         BIGINT,
    free_because            TEXT,
    card                    TEXT,
    meta_model              TEXT,
    meta_category           TEXT,
    meta_type               TEXT,
    meta_billable           BOOLEAN,
    conversation_id         TEXT,
    conversation_origin     TEXT,
    conversation_expires_at BIGINT,
    charged_category        TEXT,
    amount_micros           BIGINT,
    settled_by              TEXT,
    -- The message's delivery state when it was last settled: settled again only when it moves.
    settled_state           TEXT,
    final                   BOOLEAN NOT NULL DEFAULT FALSE,
    settled_at              BIGINT
);
CREATE INDEX message_costs_at ON message_costs (at);
CREATE INDEX message_costs_ticket ON message_costs (ticket_id);
CREATE INDEX message_costs_contact ON message_costs (contact_id, at);
CREATE INDEX message_costs_pending ON message_costs (message_id) WHERE NOT final;
