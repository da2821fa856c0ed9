-- When an outbound message left the desk: the moment its provider (Meta, the SMS provider) accepted
-- it, the last time if it was resent. The thread shows a message where the customer got it, so a
-- reply held at 14:02 and released by the customer's message at 16:40 shows after that message.
ALTER TABLE messages ADD COLUMN went_out_at INTEGER;
UPDATE messages SET went_out_at = (
    SELECT MAX(a.finished_at) FROM outbox o JOIN send_attempts a ON a.outbox_id = o.id
    WHERE o.message_id = messages.id AND a.outcome = 'accepted'
) WHERE direction = 'outbound';
-- The thread's order: inbound by the customer's send time, outbound by when it went out (or was
-- written, until it goes out).
CREATE INDEX messages_ticket_thread ON messages (ticket_id, (COALESCE(went_out_at, sent_at)), id);
