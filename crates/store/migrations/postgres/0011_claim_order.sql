-- Deadline-first claims (issue 10): due replies are claimed by their window's end, soonest first;
-- replies without one (templates, SMS) after, in queue order. An index in that order keeps a claim a
-- short index walk even with tens of thousands queued (a window function over every due row took
-- 90 ms per claim at 15,000 queued).
CREATE INDEX outbox_deadline ON outbox ((COALESCE(window_end, 9223372036854775807)), id) WHERE state = 'queued';
