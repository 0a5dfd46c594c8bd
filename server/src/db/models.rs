//! Rows read from and written to the database.

/// A stored manifest.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ManifestRow {
    pub id: i64,
    pub digest: String,
    pub media_type: String,
    pub size: i64,
    pub content: Vec<u8>,
}

/// A manifest that refers to a subject, as the referrers API lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReferrerRow {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
    pub artifact_type: Option<String>,
    pub annotations: Option<String>,
}

/// An upload session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRow {
    pub id: String,
    pub repository_id: i64,
    pub size: i64,
}

/// One stored part of an upload.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadPartRow {
    pub start_offset: i64,
    pub size: i64,
    pub part_id: String,
}

/// A manifest to insert, with what it references.
#[derive(Debug, Clone)]
pub struct NewManifest {
    pub digest: String,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub subject_digest: Option<String>,
    pub annotations: Option<String>,
    pub content: Vec<u8>,
    pub blobs: Vec<String>,
    pub children: Vec<String>,
}
