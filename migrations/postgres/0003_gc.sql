-- Garbage collection: a blob row being collected carries the collector's mark; an upload that needs
-- the blob clears it, which makes the collector put the blob back. One collector runs at a time,
-- holding the lease row.
ALTER TABLE blobs ADD COLUMN gc_mark TEXT;

CREATE TABLE gc_lease (
    id          BIGINT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
