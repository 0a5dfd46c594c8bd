-- Registry metadata: repositories, blobs and their links, manifests and what they reference,
-- tags, and upload sessions. Integers are BIGINT-compatible; times are Unix milliseconds.

CREATE TABLE repositories (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

-- A blob known to the store: written completely and verified.
CREATE TABLE blobs (
    digest      TEXT PRIMARY KEY,
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- A blob is served from a repository only when linked to it (uploaded there or mounted).
CREATE TABLE repository_blobs (
    repository_id  BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest         TEXT NOT NULL REFERENCES blobs(digest),
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX repository_blobs_digest ON repository_blobs(digest);

CREATE TABLE manifests (
    id              INTEGER PRIMARY KEY,
    repository_id   BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest          TEXT NOT NULL,
    media_type      TEXT NOT NULL,
    artifact_type   TEXT,
    subject_digest  TEXT,
    annotations     TEXT,
    size            BIGINT NOT NULL,
    content         BLOB NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_subject ON manifests(repository_id, subject_digest);

-- Blobs (config and layers) a manifest references.
CREATE TABLE manifest_blobs (
    manifest_id  BIGINT NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    digest       TEXT NOT NULL REFERENCES blobs(digest),
    PRIMARY KEY (manifest_id, digest)
);
CREATE INDEX manifest_blobs_digest ON manifest_blobs(digest);

-- Child manifests an index references.
CREATE TABLE manifest_children (
    manifest_id   BIGINT NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    child_digest  TEXT NOT NULL,
    PRIMARY KEY (manifest_id, child_digest)
);

CREATE TABLE tags (
    repository_id  BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    manifest_id    BIGINT NOT NULL REFERENCES manifests(id) ON DELETE CASCADE,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (repository_id, name)
);
CREATE INDEX tags_manifest ON tags(manifest_id);

-- An upload session; its bytes are the parts in offset order.
CREATE TABLE uploads (
    id             TEXT PRIMARY KEY,
    repository_id  BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    size           BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE upload_parts (
    upload_id     TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    start_offset  BIGINT NOT NULL,
    size          BIGINT NOT NULL,
    part_id       TEXT NOT NULL,
    PRIMARY KEY (upload_id, start_offset)
);
