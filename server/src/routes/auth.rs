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

/// The token endpoint clients are sent to.
pub fn realm(accounts: &Accounts, headers: &HeaderMap) -> String {
    if let Some(r) = accounts.realm() {
        return r.to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(if accounts.https { "https" } else { "http" });
    format!("{scheme}://{host}/token")
}

/// `401 UNAUTHORIZED` with a Bearer challenge for `scope` (e.g. `repository:a/b:pull,push`).
pub fn challenge(accounts: &Accounts, headers: &HeaderMap, scope: Option<&str>, message: &str) -> ApiError {
    let mut value = format!(
        "Bearer realm=\"{}\",service=\"{}\"",
        realm(accounts, headers),
        accounts.service()
    );
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
