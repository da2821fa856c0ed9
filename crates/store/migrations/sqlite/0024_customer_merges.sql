-- Merging customers (issue 16 item 2, SPEC C2). The source customer stays as an empty record that
-- points at the one it was merged into (`merged_into`), so links to it still lead somewhere; what
-- moved is recorded so an admin can see it and undo it.
ALTER TABLE contacts ADD COLUMN merged_into INTEGER REFERENCES contacts(id);
CREATE TABLE customer_merges (
    id          INTEGER PRIMARY KEY,
    target_id   INTEGER NOT NULL REFERENCES contacts(id),
    source_id   INTEGER NOT NULL REFERENCES contacts(id),
    source_name TEXT    NOT NULL,
    target_name TEXT    NOT NULL,
    moved       TEXT    NOT NULL,  -- JSON: {"identities": [ids], "tickets": [ids], "notes": [ids]}
    merged_by   TEXT    NOT NULL,
    merged_at   INTEGER NOT NULL,
    undone_by   TEXT,
    undone_at   INTEGER
);
CREATE INDEX customer_merges_target ON customer_merges (target_id, id);
CREATE INDEX customer_merges_source ON customer_merges (source_id, id);
-- Likely duplicates: the same number or business-scoped user id under two customers.
CREATE INDEX identities_wa_id ON identities (wa_id) WHERE wa_id IS NOT NULL;
CREATE INDEX identities_bsuid ON identities (bsuid) WHERE bsuid IS NOT NULL;
