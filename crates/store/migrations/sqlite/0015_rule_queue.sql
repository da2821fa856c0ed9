-- Priority of a ticket (issue 13: rules and macros set it, conditions test it). New tickets are normal.
ALTER TABLE tickets ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';

-- What the rules worker still has to look at (SPEC 10, issue 13 item 5): one row per event that can
-- set off a trigger, written by the database in the same transaction as the event itself, so no
-- event is lost to a crash and none is seen twice after a commit the writer never heard back from.
-- The worker (one instance at a time, the `rules` lease) takes rows in id order and deletes each
-- once its rules have run; `attempts` counts rounds that failed on a database error.
--   source 'message': an inbound customer message, reactions aside (message_received, window_opened)
--   source 'event':   a ticket event (ticket_created, ticket_updated, delivery_failed)
CREATE TABLE rule_queue (
    id        INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL,
    source    TEXT    NOT NULL,
    source_id INTEGER NOT NULL,
    attempts  INTEGER NOT NULL DEFAULT 0,
    error     TEXT
);

CREATE TRIGGER rule_queue_inbound AFTER INSERT ON messages
WHEN NEW.direction = 'inbound' AND NEW.kind <> 'reaction' AND NEW.ticket_id IS NOT NULL
BEGIN
    INSERT INTO rule_queue (ticket_id, source, source_id) VALUES (NEW.ticket_id, 'message', NEW.id);
END;

-- Ticket events that set off triggers: a new ticket, changed fields, and a delivery that ended
-- failed (by the dispatcher, or asynchronously in a status webhook), blocked or expired.
CREATE TRIGGER rule_queue_event AFTER INSERT ON ticket_events
WHEN NEW.kind IN ('ticket_created', 'status_changed', 'assignee_changed', 'tags_changed', 'priority_changed',
                  'delivery_failed', 'delivery_blocked', 'held_reply_expired')
  OR (NEW.kind = 'delivery_status' AND json_extract(NEW.data, '$.status') = 'failed'
      AND json_extract(NEW.data, '$.applied') = 1)
BEGIN
    INSERT INTO rule_queue (ticket_id, source, source_id) VALUES (NEW.ticket_id, 'event', NEW.id);
END;
