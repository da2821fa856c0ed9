-- Templates, fallbacks and held replies (SPEC 9, D4).

-- The template registry keeps Meta's whole template object from the last sync, so a send can be
-- validated parameter by parameter; status columns stay authoritative (webhooks update them).
ALTER TABLE templates ADD COLUMN definition TEXT;
ALTER TABLE templates ADD COLUMN synced_at BIGINT;
-- Set when a sync no longer lists the template (deleted at Meta); cleared if it comes back.
ALTER TABLE templates ADD COLUMN removed_at BIGINT;

-- Each business number's ways out of a closed window. Seeded from the configuration the first time a
-- number is seen; edited on the admin page or through the API afterwards.
CREATE TABLE number_settings (
    business_number_id   BIGINT PRIMARY KEY REFERENCES business_numbers(id),
    fallback_ladder      TEXT    NOT NULL,  -- JSON array of hold | template | sms, most preferred first
    hold_notice_template TEXT,              -- "a reply is waiting for you" template sent on hold
    hold_notice_language TEXT,
    hold_hours           BIGINT NOT NULL,  -- how long a held reply waits before it fails as expired
    sms_from             TEXT,              -- E.164 sender; SMS is offered only when set
    updated_at           BIGINT NOT NULL,
    updated_by           TEXT
);

-- sms: sent through the SMS provider, not the Cloud API.
ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'whatsapp';
-- A held reply waits (state 'held') until the customer writes or this moment passes.
ALTER TABLE outbox ADD COLUMN hold_expires_at BIGINT;
CREATE INDEX outbox_held ON outbox (business_number_id, recipient) WHERE state = 'held';

-- D4: what an agent did about a failed, blocked or expired message. The message keeps its state and
-- history; it leaves the Failed deliveries list.
ALTER TABLE messages ADD COLUMN resolution TEXT;         -- dismissed | resent | template | sms | held
ALTER TABLE messages ADD COLUMN resolved_at BIGINT;
ALTER TABLE messages ADD COLUMN resolved_by TEXT;
ALTER TABLE messages ADD COLUMN replaced_by BIGINT;     -- the message sent instead
ALTER TABLE messages ADD COLUMN replaces BIGINT;        -- the failed message this one stands in for
