-- Notes about a customer (issue 16 item 1): what agents want their colleagues to know about this
-- person whatever the ticket, e.g. "prefers Portuguese" or "VIP, call before shipping".
CREATE TABLE customer_notes (
    id         INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    author     TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX customer_notes_contact ON customer_notes (contact_id, id);
-- A customer's tickets, newest first.
CREATE INDEX tickets_requester ON tickets (requester_id, id);
