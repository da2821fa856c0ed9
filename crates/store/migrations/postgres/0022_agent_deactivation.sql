-- An agent who left: kept (their replies, notes and events still name them), but they can no longer
-- sign in and are not offered as an assignee. NULL while active.
ALTER TABLE agents ADD COLUMN deactivated_at BIGINT;
