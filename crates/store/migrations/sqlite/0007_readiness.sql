-- /readyz commits a write here: a desk that cannot commit (disk full, read-only file) is not ready.
CREATE TABLE readiness_probe (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
