-- The advisory lock key of a (business number, wamid) pair, shared by status ingest and the
-- dispatcher's accept so a status that races the accept is never lost.
CREATE FUNCTION wamid_lock_key(business_number_id BIGINT, wamid TEXT) RETURNS BIGINT
    LANGUAGE SQL IMMUTABLE PARALLEL SAFE
    AS $$ SELECT hashtextextended(business_number_id::text || ':' || wamid, 0) $$;
