-- Media files, stored content-addressed on disk (SPEC 12), downloaded after the ingest commit from the
-- durable media_jobs queue (I5).
CREATE TABLE media_files (
    sha256     TEXT    PRIMARY KEY,   -- hex of the content; the file lives at <media dir>/<aa>/<sha256>
    mime_type  TEXT    NOT NULL,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
ALTER TABLE media_jobs ADD COLUMN file_sha256 TEXT REFERENCES media_files(sha256);
ALTER TABLE media_jobs ADD COLUMN finished_at BIGINT;
