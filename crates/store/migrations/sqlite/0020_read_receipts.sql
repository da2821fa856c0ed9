-- Read receipts and the typing indicator (issue 15 item 1). When an agent opens a ticket, the
-- customer's latest message is marked read at Meta (which marks every earlier one read too), once;
-- while an agent types a reply, the customer can see a typing indicator. Both can be switched off
-- per business number.
ALTER TABLE number_settings ADD COLUMN read_receipts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE number_settings ADD COLUMN typing_indicator INTEGER NOT NULL DEFAULT 1;
-- When Meta was told the customer's message was read (NULL: not yet).
ALTER TABLE messages ADD COLUMN read_receipt_at INTEGER;
