-- Accounts (the Docker Hub model): users own the namespace of their name, organizations own theirs;
-- organization members have a role; teams get read/write/admin on chosen repositories or the whole
-- organization. Flags are BIGINT 0/1 so the same code reads SQLite and PostgreSQL.

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    is_admin       BIGINT NOT NULL DEFAULT 0,
    default_public BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL
);

CREATE TABLE organizations (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    default_public BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL
);

-- role: 'owner' or 'member'
CREATE TABLE org_members (
    org_id   BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role     TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members(user_id);

CREATE TABLE teams (
    id          INTEGER PRIMARY KEY,
    org_id      BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE team_members (
    team_id  BIGINT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members(user_id);

-- repository: a full repository name, or '' for every repository of the organization.
-- permission: 'read', 'write' or 'admin'.
CREATE TABLE team_permissions (
    team_id     BIGINT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    repository  TEXT NOT NULL,
    permission  TEXT NOT NULL,
    PRIMARY KEY (team_id, repository)
);

ALTER TABLE repositories ADD COLUMN is_public BIGINT NOT NULL DEFAULT 0;
ALTER TABLE repositories ADD COLUMN description TEXT NOT NULL DEFAULT '';

-- Personal access tokens: only a SHA-256 of the secret is kept. scope: repo:read|repo:write|repo:admin.
CREATE TABLE access_tokens (
    id            INTEGER PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    scope         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX access_tokens_user ON access_tokens(user_id);

-- OAuth2 refresh tokens issued by POST /token (access_type=offline); hashed like access tokens.
CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    pat_scope   TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- The token signing key, created on first start and shared by every instance.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    private_pem  TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

-- Who did what, when.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT '',
    address   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log(at);

-- The namespace (first path component) of each repository, for access checks by join.
ALTER TABLE repositories ADD COLUMN namespace TEXT NOT NULL DEFAULT '';
UPDATE repositories SET namespace = CASE WHEN instr(name, '/') > 0 THEN substr(name, 1, instr(name, '/') - 1) ELSE name END;
CREATE INDEX repositories_namespace ON repositories(namespace);
