//! The JSON contract of rreg-server's token endpoint and management API (`/token`, `/api/v1`): every
//! request and response body is a type here, written by the server and read by the client, so a
//! field renamed on one side breaks the build instead of silently reading as empty on the other.
//! `docs/api.md` describes the endpoints.

use serde::{Deserialize, Serialize};

/// The answer of Docker's token endpoint (`GET /token`, `POST /token`). Other registries leave
/// out some fields, so reading is lenient: `token` or `access_token`, an optional lifetime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// Seconds the token is valid for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The scope asked for (the OAuth2 form of `POST /token` echoes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl TokenResponse {
    /// The token, whichever field holds it.
    pub fn value(&self) -> Option<&str> {
        self.token
            .as_deref()
            .or(self.access_token.as_deref())
            .filter(|v| !v.is_empty())
    }
}

/// An OAuth2 error of `POST /token` (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthError {
    pub error: String,
    #[serde(default)]
    pub error_description: String,
}

/// A list: one page of it when the answer has a `Link: <…>; rel="next"` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// Every `/api/v1` error: `{"error":{"code":"NOT_FOUND","message":"…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The code (named after the HTTP status) and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

// ------------------------------------------------------------------------------------------------
// Accounts: `/api/v1/login`, `/user`, `/users`
// ------------------------------------------------------------------------------------------------

/// `POST /api/v1/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// The answer of `POST /api/v1/login`: a session token for `Authorization: Bearer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub token: String,
    /// Seconds.
    pub expires_in: i64,
}

/// A user account. Times are RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub is_admin: bool,
    pub created_at: String,
}

/// `GET /api/v1/user`: the caller's account and organizations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub name: String,
    pub is_admin: bool,
    pub created_at: String,
    pub orgs: Vec<Membership>,
}

/// An organization and the caller's (or a member's) role in it: `owner` or `member`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub name: String,
    pub role: String,
}

/// `POST /api/v1/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    pub password: String,
    #[serde(default)]
    pub is_admin: bool,
}

/// `PATCH /api/v1/users/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_admin: Option<bool>,
}

// ------------------------------------------------------------------------------------------------
// Organizations and teams
// ------------------------------------------------------------------------------------------------

/// An organization as its members see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub name: String,
    /// `public` or `private`: the visibility of repositories created in it.
    pub default_visibility: String,
    pub created_at: String,
    /// The caller's role.
    pub role: String,
}

/// `POST /api/v1/orgs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    pub name: String,
}

/// `PATCH /api/v1/orgs/{org}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_visibility: Option<String>,
}

/// `PUT /api/v1/orgs/{org}/members/{user}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberChange {
    pub role: String,
}

/// A team of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub name: String,
    pub description: String,
}

/// `GET /api/v1/orgs/{org}/teams/{team}`: the team with its members and permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamDetail {
    pub name: String,
    pub description: String,
    pub members: Vec<String>,
    pub permissions: Vec<Permission>,
}

/// `POST /api/v1/orgs/{org}/teams`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// A team's permission: `read`, `write` or `admin` on a repository of the organization (an empty
/// repository: the whole organization). Also the body of `PUT …/permissions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    pub repository: String,
    pub permission: String,
}

// ------------------------------------------------------------------------------------------------
// Repositories and browsing
// ------------------------------------------------------------------------------------------------

/// A repository: its settings, and in the browsing answers its statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub name: String,
    pub namespace: String,
    /// `public` or `private`.
    pub visibility: String,
    pub description: String,
    pub created_at: String,
    /// The caller's access (`read`, `write`, `admin`), when signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<RepositoryStats>,
}

/// What the browsing API adds to a repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryStats {
    /// Bytes of the distinct blobs its tags reference.
    pub size: i64,
    pub tag_count: i64,
    pub pull_count: i64,
    pub last_pushed: Option<String>,
    pub last_pulled: Option<String>,
}

/// `POST /api/v1/repositories`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRepository {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    #[serde(default)]
    pub description: String,
}

/// `PATCH /api/v1/repositories/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformInfo {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl std::fmt::Display for PlatformInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A tag of a repository (`…/-/tags`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub name: String,
    pub digest: String,
    pub media_type: String,
    /// Bytes of the distinct blobs (config and layers, compressed) of the manifest and its children.
    pub size: i64,
    pub platforms: Vec<PlatformInfo>,
    pub last_pushed: String,
    pub pushed_by: String,
    pub last_pulled: Option<String>,
}

/// A layer of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    pub digest: String,
    pub media_type: String,
    /// Compressed size, from the manifest.
    pub size: i64,
    /// Uncompressed size as `docker history` shows it, once the layer was read.
    pub diff_size: Option<i64>,
    /// Entries in the layer, once it was read.
    pub file_count: Option<i64>,
    /// Why the layer could not be read, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One entry of an image's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub created: Option<String>,
    pub created_by: String,
    pub comment: String,
    pub empty_layer: bool,
    /// The layer this entry made (none for empty entries).
    pub layer: Option<LayerInfo>,
}

/// The history of one image (one platform of an index): `…/-/history/{reference}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageHistory {
    /// The image manifest's digest.
    pub digest: String,
    pub media_type: String,
    pub platform: Option<PlatformInfo>,
    /// The config digest: the image ID.
    pub config_digest: String,
    pub created: Option<String>,
    /// Oldest first, as in the config.
    pub history: Vec<HistoryEntry>,
}

/// A count of files and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    pub count: u64,
    pub bytes: u64,
}

/// One layer of an image analysed as Dive does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerAnalysis {
    pub index: usize,
    /// Empty when the manifest has no layer at this index.
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub media_type: String,
    /// Compressed size.
    #[serde(default)]
    pub size: i64,
    /// Uncompressed size.
    #[serde(default)]
    pub diff_size: Option<i64>,
    /// Why the layer could not be read, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_by: String,
    /// Bytes of the files in the layer.
    pub files_size: u64,
    pub file_count: u64,
    pub added: Counted,
    pub changed: Counted,
    pub removed: Counted,
    pub changes: Vec<crate::layers::Change>,
    pub changes_truncated: bool,
}

/// An image's layers analysed as Dive does: `…/-/layers/{reference}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageLayers {
    pub digest: String,
    pub platform: Option<PlatformInfo>,
    pub config_digest: String,
    pub size_bytes: u64,
    pub user_size_bytes: u64,
    pub wasted_bytes: u64,
    pub wasted_user_percent: f64,
    pub efficiency: f64,
    pub layers: Vec<LayerAnalysis>,
    pub inefficiencies: Vec<crate::layers::Inefficiency>,
    pub inefficiencies_truncated: bool,
}

/// An entry of a layer: `…/-/files/{digest}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Absolute, as in the image.
    pub path: String,
    /// `file`, `dir`, `symlink`, `hardlink`, `whiteout`, `opaque`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub size: u64,
    /// Octal permission bits, e.g. `0755`.
    pub mode: String,
    pub uid: u64,
    pub gid: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

// ------------------------------------------------------------------------------------------------
// Tokens, audit, usage
// ------------------------------------------------------------------------------------------------

/// A personal access token. `secret` is in the answer of its creation only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    pub id: i64,
    pub name: String,
    /// `repo:read`, `repo:write` or `repo:admin`.
    pub scope: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccessToken {
    pub name: String,
    pub scope: String,
}

/// An entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub address: String,
}

/// Storage used by a repository: `/api/v1/usage/{repository}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoUsage {
    pub name: String,
    /// Distinct blobs and manifests the repository references.
    pub total_bytes: i64,
    /// Of those, bytes no other repository references (freed if it were deleted).
    pub exclusive_bytes: i64,
}

/// A namespace's usage: its readable repositories, their sum, and the deduplicated total:
/// `/api/v1/usage/{namespace}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceUsage {
    pub namespace: String,
    pub repositories: Vec<RepoUsage>,
    /// Sum of the repositories' totals (shared blobs counted in each).
    pub total_bytes: i64,
    /// Each blob counted once.
    pub deduplicated_bytes: i64,
}
