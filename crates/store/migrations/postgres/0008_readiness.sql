-- /readyz commits a write here: a desk that cannot commit (disk full, read-only tablespace) is not
-- ready. One row per instance would grow; one shared row is enough to prove a commit works.
CREATE TABLE readiness_probe (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at BIGINT NOT NULL
);
