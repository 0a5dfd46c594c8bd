//! What can go wrong talking to a registry, each as one readable line.

use rreg_oci::{Digest, ErrorEnvelope};

/// A registry operation's failure.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// 401 after authenticating (or no credentials).
    #[error("unauthorized: {host} refused access{hint}{detail}")]
    Unauthorized {
        /// Registry host.
        host: String,
        /// A hint such as ` (run `rreg login HOST`)`.
        hint: String,
        /// The registry's message, if any.
        detail: String,
    },
    /// 403.
    #[error("denied: {host} refused access to {what}{detail}")]
    Denied {
        /// Registry host.
        host: String,
        /// What was asked for.
        what: String,
        /// The registry's message, if any.
        detail: String,
    },
    /// 404 for a manifest, repository or blob.
    #[error("not found: {what}{detail}")]
    NotFound {
        /// What was missing.
        what: String,
        /// The registry's message, if any.
        detail: String,
    },
    /// Could not connect or the connection broke.
    #[error("cannot reach {host}")]
    Network {
        /// Registry host.
        host: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// Content did not hash to its digest.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest asked for.
        expected: Digest,
        /// The digest of what arrived.
        actual: Digest,
    },
    /// Any other unexpected answer.
    #[error("{host} answered {status} to {what}{detail}")]
    Status {
        /// Registry host.
        host: String,
        /// HTTP status.
        status: reqwest::StatusCode,
        /// The request.
        what: String,
        /// The registry's message, if any.
        detail: String,
    },
    /// A malformed answer.
    #[error("{host} sent an invalid answer to {what}: {reason}")]
    Protocol {
        /// Registry host.
        host: String,
        /// The request.
        what: String,
        /// What was wrong.
        reason: String,
    },
}

/// `": CODE: message"` from an OCI error body, or `""`.
pub fn detail_from_body(body: &[u8]) -> String {
    if let Ok(env) = serde_json::from_slice::<ErrorEnvelope>(body) {
        let parts: Vec<String> = env
            .errors
            .iter()
            .map(|e| {
                if e.message.is_empty() {
                    e.code.clone()
                } else {
                    format!("{} ({})", e.message, e.code)
                }
            })
            .collect();
        if !parts.is_empty() {
            return format!(": {}", parts.join("; "));
        }
    }
    // Token services answer {"details": …} or {"error": …}.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        for k in ["details", "error_description", "error", "message"] {
            if let Some(s) = v.get(k).and_then(|s| s.as_str()) {
                return format!(": {s}");
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() || text.len() > 200 || text.starts_with('<') {
        String::new()
    } else {
        format!(": {}", text.replace(['\n', '\r'], " "))
    }
}
