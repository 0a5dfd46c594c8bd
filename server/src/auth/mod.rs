//! Authentication and authorization: password hashing, signed tokens, scope parsing, and the access
//! levels callers hold on repositories. No HTTP types: routes extract credentials and call these.

pub mod access;
pub mod jwt;
pub mod password;
pub mod scope;

pub use access::{Access, Action, Caller, Principal};
pub use jwt::{Claims, Grant, TokenKeys};
pub use scope::Scope;

use base64::Engine as _;
use rand_core::{OsRng, RngCore};

/// A random secret of `bytes` bytes, URL-safe base64 without padding.
pub fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 hex of a high-entropy secret (tokens), for storage and lookup.
pub fn secret_hash(secret: &str) -> String {
    rreg_oci::Digest::sha256(secret.as_bytes()).hex().to_owned()
}
