-- The rules worker's queue carries what it needs of each event, copied by the trigger that writes
-- the entry, so the worker reads its queue alone instead of looking up each message or ticket event
-- by id (issue 13: that lookup, one B-tree descent per entry on pages the writer had just changed,
-- was the worker's largest cost during an ingest burst).
--   source 'message': kind, at (sent_at), body, identity_id, business_number_id
--   source 'event':   kind, at, actor, body (the event's data)
-- An entry whose kind is NULL points at a row that no longer exists.
ALTER TABLE rule_queue ADD COLUMN kind TEXT;
ALTER TABLE rule_queue ADD COLUMN at INTEGER;
ALTER TABLE rule_queue ADD COLUMN actor TEXT;
ALTER TABLE rule_queue ADD COLUMN body TEXT;
ALTER TABLE rule_queue ADD COLUMN identity_id INTEGER;
ALTER TABLE rule_queue ADD COLUMN business_number_id INTEGER;

UPDATE rule_queue SET (kind, at, body, identity_id, business_number_id) =
    (SELECT m.kind, m.sent_at, m.body, m.identity_id, m.business_number_id FROM messages m WHERE m.id = rule_queue.source_id)
 WHERE source = 'message';
UPDATE rule_queue SET (kind, at, actor, body) =
    (SELECT e.kind, e.at, e.actor, e.data FROM ticket_events e WHERE e.id = rule_queue.source_id)
 WHERE source = 'event';

DROP TRIGGER rule_queue_inbound;
CREATE TRIGGER rule_queue_inbound AFTER INSERT ON messages
WHEN NEW.direction = 'inbound' AND NEW.kind <> 'reaction' AND NEW.ticket_id IS NOT NULL
BEGIN
    INSERT INTO rule_queue (ticket_id, source, source_id, kind, at, body, identity_id, business_number_id)
    VALUES (NEW.ticket_id, 'message', NEW.id, NEW.kind, NEW.sent_at, NEW.body, NEW.identity_id, NEW.business_number_id);
END;

DROP TRIGGER rule_queue_event;
CREATE TRIGGER rule_queue_event AFTER INSERT ON ticket_events
WHEN NEW.kind IN ('ticket_created', 'status_changed', 'assignee_changed', 'tags_changed', 'priority_changed',
                  'delivery_failed', 'delivery_blocked', 'held_reply_expired')
  OR (NEW.kind = 'delivery_status' AND json_extract(NEW.data, '$.status') = 'failed'
      AND json_extract(NEW.data, '$.applied') = 1)
BEGIN
    INSERT INTO rule_queue (ticket_id, source, source_id, kind, at, actor, body)
    VALUES (NEW.ticket_id, 'event', NEW.id, NEW.kind, NEW.at, NEW.actor, NEW.data);
END;
