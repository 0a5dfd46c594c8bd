//! Credentials on the wire: `Authorization: Basic` and `Bearer` parsed into a `Caller`, and the
//! `401` challenge (`WWW-Authenticate: Bearer realm=…,service=…,scope=…`) Docker's clients follow.

use actix_web::http::header::{self, HeaderMap};
use base64::Engine as _;
use rreg_oci::ErrorCode;

use super::errors::ApiError;
use crate::auth::Caller;
use crate::services::{Accounts, ServiceError};

/// Basic credentials from a header value, if well-formed.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// Identifies the caller. Credentials that are present but wrong are an error, never anonymous.
pub async fn identify(accounts: &Accounts, headers: &HeaderMap, addr: &str) -> Result<Caller, ServiceError> {
    let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Ok(Caller::Anonymous);
    };
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Caller::Bearer(accounts.verify_bearer(rest.trim())?));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let (u, p) = basic_credentials(headers)
            .ok_or_else(|| ServiceError::Unauthorized("malformed Basic credentials".into()))?;
        return Ok(Caller::User(accounts.login(&u, &p, addr).await?));
    }
    Err(ServiceError::Unauthorized(format!(
        "unsupported authorization scheme {scheme:?}"
    )))
}

/// The token endpoint clients are sent to: `auth.realm` when configured, else this server as the
/// client reached it. The host comes from `Host` (or, from a configured proxy only,
/// `X-Forwarded-Host`) and must look like a host: anything else becomes `localhost` rather than
/// being echoed into the challenge.
pub fn realm(accounts: &Accounts, headers: &HeaderMap, peer: &str) -> String {
    if let Some(r) = accounts.realm() {
        return r.to_owned();
    }
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let proxied = accounts.trusts_proxy(peer);
    let host = proxied
        .then(|| get("x-forwarded-host"))
        .flatten()
        .filter(|h| is_host(h))
        .or_else(|| get(header::HOST.as_str()).filter(|h| is_host(h)))
        .unwrap_or("localhost");
    let scheme = proxied
        .then(|| get("x-forwarded-proto"))
        .flatten()
        .filter(|p| *p == "http" || *p == "https")
        .unwrap_or(if accounts.https { "https" } else { "http" });
    format!("{scheme}://{host}/token")
}

/// A host name or address with an optional port: letters, digits, `.`, `-`, `_`, `:` and the
/// brackets of an IPv6 literal.
fn is_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']'))
}

/// `401 UNAUTHORIZED` with a Bearer challenge for `scope` (e.g. `repository:a/b:pull,push`).
pub fn challenge(accounts: &Accounts, realm: &str, scope: Option<&str>, message: &str) -> ApiError {
    let mut value = format!("Bearer realm=\"{realm}\",service=\"{}\"", accounts.service());
    if let Some(s) = scope {
        value.push_str(&format!(",scope=\"{s}\""));
    }
    let mut e = ApiError::with_message(ErrorCode::Unauthorized, message);
    if let Some(s) = scope {
        if let Some((_, rest)) = s.split_once(':') {
            if let Some((name, actions)) = rest.rsplit_once(':') {
                e = e.detail(serde_json::json!([{ "Type": "repository", "Name": name, "Action": actions }]));
            }
        }
    }
    e.header(header::WWW_AUTHENTICATE, &value)
}
