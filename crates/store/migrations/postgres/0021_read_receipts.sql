-- Read receipts and the typing indicator (issue 15 item 1); see the SQLite migration 0020.
ALTER TABLE number_settings ADD COLUMN read_receipts BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE number_settings ADD COLUMN typing_indicator BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE messages ADD COLUMN read_receipt_at BIGINT;
