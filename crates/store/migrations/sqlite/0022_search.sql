-- Search (SPEC C3). Full-text indexes over message bodies, ticket subjects and customer names, with
-- case and accents folded (`remove_diacritics 2`), and a trigram index over WhatsApp numbers so that
-- any run of three or more digits finds them. All are external-content FTS5 tables: the text stays
-- in its own table, triggers keep the index in step with every insert, edit and delete.

CREATE VIRTUAL TABLE message_fts USING fts5(body, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
INSERT INTO message_fts (message_fts) VALUES ('rebuild');
CREATE TRIGGER message_fts_insert AFTER INSERT ON messages WHEN new.body IS NOT NULL BEGIN
    INSERT INTO message_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER message_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO message_fts (message_fts, rowid, body) SELECT 'delete', old.id, old.body WHERE old.body IS NOT NULL;
    INSERT INTO message_fts (rowid, body) SELECT new.id, new.body WHERE new.body IS NOT NULL;
END;
CREATE TRIGGER message_fts_delete AFTER DELETE ON messages WHEN old.body IS NOT NULL BEGIN
    INSERT INTO message_fts (message_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;

CREATE VIRTUAL TABLE ticket_fts USING fts5(subject, content='tickets', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
INSERT INTO ticket_fts (ticket_fts) VALUES ('rebuild');
CREATE TRIGGER ticket_fts_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_fts (rowid, subject) VALUES (new.id, new.subject);
END;
CREATE TRIGGER ticket_fts_update AFTER UPDATE OF subject ON tickets BEGIN
    INSERT INTO ticket_fts (ticket_fts, rowid, subject) VALUES ('delete', old.id, old.subject);
    INSERT INTO ticket_fts (rowid, subject) VALUES (new.id, new.subject);
END;
CREATE TRIGGER ticket_fts_delete AFTER DELETE ON tickets BEGIN
    INSERT INTO ticket_fts (ticket_fts, rowid, subject) VALUES ('delete', old.id, old.subject);
END;

CREATE VIRTUAL TABLE contact_fts USING fts5(name, content='contacts', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
INSERT INTO contact_fts (contact_fts) VALUES ('rebuild');
CREATE TRIGGER contact_fts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contact_fts (rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER contact_fts_update AFTER UPDATE OF name ON contacts BEGIN
    INSERT INTO contact_fts (contact_fts, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO contact_fts (rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER contact_fts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contact_fts (contact_fts, rowid, name) VALUES ('delete', old.id, old.name);
END;

CREATE VIRTUAL TABLE identity_phone USING fts5(wa_id, content='identities', content_rowid='id', tokenize='trigram');
INSERT INTO identity_phone (identity_phone) VALUES ('rebuild');
CREATE TRIGGER identity_phone_insert AFTER INSERT ON identities WHEN new.wa_id IS NOT NULL BEGIN
    INSERT INTO identity_phone (rowid, wa_id) VALUES (new.id, new.wa_id);
END;
CREATE TRIGGER identity_phone_update AFTER UPDATE OF wa_id ON identities BEGIN
    INSERT INTO identity_phone (identity_phone, rowid, wa_id) SELECT 'delete', old.id, old.wa_id WHERE old.wa_id IS NOT NULL;
    INSERT INTO identity_phone (rowid, wa_id) SELECT new.id, new.wa_id WHERE new.wa_id IS NOT NULL;
END;
CREATE TRIGGER identity_phone_delete AFTER DELETE ON identities WHEN old.wa_id IS NOT NULL BEGIN
    INSERT INTO identity_phone (identity_phone, rowid, wa_id) VALUES ('delete', old.id, old.wa_id);
END;
