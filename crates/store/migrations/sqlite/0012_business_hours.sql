-- Business hours (issue 13, SPEC 10): named schedules, each a time zone, weekly local intervals and
-- holidays, kept as the JSON of the core's ScheduleSpec (validated by the core before it is stored).
-- A schedule may serve several business numbers; a number without one is always open.
CREATE TABLE schedules (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    spec       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT
);
ALTER TABLE business_numbers ADD COLUMN schedule_id INTEGER REFERENCES schedules(id);
