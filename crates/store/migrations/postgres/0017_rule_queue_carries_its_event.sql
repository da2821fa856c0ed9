-- The rules worker's queue carries what it needs of each event, copied by the trigger that writes
-- the entry, so the worker reads its queue alone instead of looking up each message or ticket event
-- by id (issue 13).
--   source 'message': kind, at (sent_at), body, identity_id, business_number_id
--   source 'event':   kind, at, actor, body (the event's data)
-- An entry whose kind is NULL points at a row that no longer exists.
ALTER TABLE rule_queue ADD COLUMN kind TEXT;
ALTER TABLE rule_queue ADD COLUMN at BIGINT;
ALTER TABLE rule_queue ADD COLUMN actor TEXT;
ALTER TABLE rule_queue ADD COLUMN body TEXT;
ALTER TABLE rule_queue ADD COLUMN identity_id BIGINT;
ALTER TABLE rule_queue ADD COLUMN business_number_id BIGINT;

UPDATE rule_queue q SET kind = m.kind, at = m.sent_at, body = m.body, identity_id = m.identity_id,
                        business_number_id = m.business_number_id
  FROM messages m WHERE q.source = 'message' AND m.id = q.source_id;
UPDATE rule_queue q SET kind = e.kind, at = e.at, actor = e.actor, body = e.data
  FROM ticket_events e WHERE q.source = 'event' AND e.id = q.source_id;

CREATE OR REPLACE FUNCTION rule_queue_inbound() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rule_queue (ticket_id, source, source_id, kind, at, body, identity_id, business_number_id)
    VALUES (NEW.ticket_id, 'message', NEW.id, NEW.kind, NEW.sent_at, NEW.body, NEW.identity_id, NEW.business_number_id);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION rule_queue_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rule_queue (ticket_id, source, source_id, kind, at, actor, body)
    VALUES (NEW.ticket_id, 'event', NEW.id, NEW.kind, NEW.at, NEW.actor, NEW.data);
    RETURN NULL;
END;
$$;
