-- How many messages hold each word (FTS5's own vocabulary, read, not stored): ticket search picks
-- its plan by the rarest word of the query.
CREATE VIRTUAL TABLE message_fts_vocab USING fts5vocab('message_fts', 'row');
