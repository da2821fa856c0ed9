-- The cost report's daily roll-up (SPEC 11, issue 17): the settled costs (`final`) summed per UTC
-- day, business number, charged category, sender, channel and currency ('' for none), so a report
-- over a month reads a few thousand rows instead of every cost. The settler adds a cost in the
-- transaction that makes it final; a failed message sent again is taken out as it stops being
-- final. Reports add the costs not settled yet from `message_costs` (index below).
CREATE TABLE cost_days (
    day                INTEGER NOT NULL,
    business_number_id INTEGER NOT NULL,
    category           TEXT    NOT NULL,
    author             TEXT    NOT NULL,
    channel            TEXT    NOT NULL,
    currency           TEXT    NOT NULL,
    messages           INTEGER NOT NULL,
    charged            INTEGER NOT NULL,
    free               INTEGER NOT NULL,
    not_delivered      INTEGER NOT NULL,
    unpriced           INTEGER NOT NULL,
    amount_micros      INTEGER NOT NULL,
    estimate_micros    INTEGER NOT NULL,
    PRIMARY KEY (day, business_number_id, category, author, channel, currency)
) WITHOUT ROWID;
INSERT INTO cost_days
SELECT c.at / 86400000, c.business_number_id, COALESCE(c.charged_category, c.category), c.author, c.channel, COALESCE(c.currency, ''),
       count(*),
       SUM(CASE WHEN c.amount_micros > 0 THEN 1 ELSE 0 END),
       SUM(CASE WHEN c.amount_micros = 0 AND c.settled_by <> 'not_delivered' THEN 1 ELSE 0 END),
       SUM(CASE WHEN c.settled_by = 'not_delivered' THEN 1 ELSE 0 END),
       SUM(CASE WHEN c.amount_micros IS NULL THEN 1 ELSE 0 END),
       COALESCE(SUM(c.amount_micros), 0),
       COALESCE(SUM(c.estimate_micros), 0)
  FROM message_costs c
 WHERE c.final = 1
 GROUP BY 1, 2, 3, 4, 5, 6;
-- The costs not settled yet, by time: what a report adds to the roll-up.
CREATE INDEX message_costs_open ON message_costs (at, message_id) WHERE final = 0;
