-- Browsing: who pushed each tag and when it was last pulled, how often each repository was pulled,
-- per-manifest summaries (size, platforms) and per-layer file lists, both computed once and kept.

ALTER TABLE tags ADD COLUMN pushed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE tags ADD COLUMN last_pulled_at BIGINT;
CREATE INDEX tags_pushed ON tags(repository_id, updated_at);

ALTER TABLE repositories ADD COLUMN pull_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN last_pulled_at BIGINT;

-- size: bytes of the distinct blobs (config and layers) of the manifest and its children;
-- platforms: JSON array of {"os","architecture","variant"}.
CREATE TABLE manifest_summaries (
    manifest_id  BIGINT PRIMARY KEY REFERENCES manifests(id) ON DELETE CASCADE,
    size         BIGINT NOT NULL,
    platforms    TEXT NOT NULL
);

-- A layer's file list (gzip-compressed JSON, see rreg_oci::layers), by layer digest. size is Dive's
-- (tar header sizes), diff_size Docker's (what docker history shows). error: why the layer could not
-- be read (then files is empty); it is not tried again.
CREATE TABLE layer_files (
    digest      TEXT PRIMARY KEY,
    file_count  BIGINT NOT NULL,
    size        BIGINT NOT NULL,
    diff_size   BIGINT NOT NULL,
    files       BLOB NOT NULL,
    error       TEXT,
    created_at  BIGINT NOT NULL
);
