-- Views that list every ticket (All tickets, Pending, Solved, saved filters) newest activity first:
-- walked backwards, this index finds a page without sorting two million tickets.
CREATE INDEX tickets_activity ON tickets (last_message_at, id);
