-- The month's volume, for volume tiers (SPEC 11, issue 17): charged WhatsApp messages per WhatsApp
-- Business account, calendar month (UTC, "2026-12"), pricing market and charged category. The
-- settler adds one in the statement that settles a charged message for good, so each counts once.
CREATE TABLE cost_volumes (
    waba_id  TEXT   NOT NULL,
    month    TEXT   NOT NULL,
    market   TEXT   NOT NULL,
    category TEXT   NOT NULL,
    charged  BIGINT NOT NULL,
    PRIMARY KEY (waba_id, month, market, category)
);
INSERT INTO cost_volumes (waba_id, month, market, category, charged)
SELECT b.waba_id, to_char(to_timestamp(c.at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM'), c.market, c.charged_category, count(*)
  FROM message_costs c JOIN business_numbers b ON b.id = c.business_number_id
 WHERE c.final AND c.amount_micros > 0 AND c.channel = 'whatsapp' AND c.market IS NOT NULL AND c.charged_category IS NOT NULL
 GROUP BY 1, 2, 3, 4;
-- Meta's VOLUME_BASED_PRICING_TIER_UPDATE account updates, read by event.
CREATE INDEX account_events_event ON account_events (event, id);
-- Conversation-based pricing: whether a conversation was seen before.
CREATE INDEX message_costs_conversation ON message_costs (conversation_id, message_id) WHERE conversation_id IS NOT NULL;
-- Cost reports page through messages by (at, message_id).
DROP INDEX message_costs_at;
CREATE INDEX message_costs_at ON message_costs (at, message_id);
