-- Search (SPEC C3). Message bodies, ticket subjects and customer names are found by their words
-- through GIN indexes over `to_tsvector('simple', wd_fold(...))`: `simple` keeps every word as
-- written (Portuguese, German, French and English alike, no stemming into the wrong language), and
-- `wd_fold` lowercases and removes accents with the same table as core's `search::fold` (a core test
-- checks that they agree). WhatsApp numbers are found by any run of digits through a `pg_trgm` index
-- when the extension is available (it ships with PostgreSQL; without it phone search still works,
-- reading the identities table).

CREATE FUNCTION wd_fold(t text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT replace(replace(replace(replace(replace(replace(
        translate(lower(t), 'ÀÁÂÃÄÅàáâãäåĀāĂăĄąÇçĆćĈĉĊċČčĎďĐđÈÉÊËèéêëĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħÌÍÎÏìíîïĨĩĪīĬĭĮįİıĴĵĶķĹĺĻļĽľĿŀŁłÑñŃńŅņŇňÒÓÔÕÖØòóôõöøŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŧÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲųŴŵÝýÿŶŷŸŹźŻżŽž', 'aaaaaaaaaaaaaaaaaaccccccccccddddeeeeeeeeeeeeeeeeeegggggggghhhhiiiiiiiiiiiiiiiiiijjkkllllllllllnnnnnnnnoooooooooooooooooorrrrrrssssssssttttttuuuuuuuuuuuuuuuuuuuuwwyyyyyyzzzzzz'),
        'ß', 'ss'), 'æ', 'ae'), 'Æ', 'ae'), 'œ', 'oe'), 'Œ', 'oe'), 'ẞ', 'ss')
$$;

CREATE INDEX messages_search ON messages USING gin (to_tsvector('simple', wd_fold(body)));
CREATE INDEX tickets_search ON tickets USING gin (to_tsvector('simple', wd_fold(subject)));
CREATE INDEX contacts_search ON contacts USING gin (to_tsvector('simple', wd_fold(name)));

DO $$
DECLARE
    trgm_schema text;
BEGIN
    SELECT n.nspname INTO trgm_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    IF trgm_schema IS NULL THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
        EXCEPTION
            WHEN unique_violation OR duplicate_object THEN NULL; -- created meanwhile by another instance
            WHEN OTHERS THEN RAISE NOTICE 'pg_trgm is not available (%): phone search works without its index, more slowly', SQLERRM;
        END;
        SELECT n.nspname INTO trgm_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    END IF;
    IF trgm_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX identities_wa_id_trgm ON identities USING gin (wa_id %I.gin_trgm_ops)', trgm_schema);
    END IF;
END
$$;
