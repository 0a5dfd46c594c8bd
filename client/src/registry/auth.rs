//! Registry authentication: the `WWW-Authenticate` challenge (Bearer realm/service/scope or Basic),
//! tokens from the realm (GET with Basic credentials or anonymously, POST with a refresh token),
//! cached per scope set until they expire.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use reqwest::StatusCode;
use rreg_oci::api::TokenResponse;

use super::error::{detail_from_body, RegistryError};
use crate::credentials::Credentials;

/// An access scope: `repository:NAME:pull,push`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(pub String);

impl Scope {
    /// Pull access to a repository.
    pub fn pull(repo: &str) -> Scope {
        Scope(format!("repository:{repo}:pull"))
    }

    /// Pull and push access to a repository.
    pub fn push(repo: &str) -> Scope {
        Scope(format!("repository:{repo}:pull,push"))
    }
}

/// How the registry asked to be authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// HTTP Basic on every request.
    Basic,
    /// Bearer tokens from a token service.
    Bearer {
        /// Token service URL.
        realm: String,
        /// `service` parameter to send back.
        service: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => {
            let params = parse_params(rest);
            let realm = params.get("realm")?.clone();
            Some(Challenge::Bearer {
                realm,
                service: params.get("service").cloned(),
            })
        }
        _ => None,
    }
}

/// `key="value", key=value` pairs.
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        if key.is_empty() || chars.next().is_none() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    out
}

/// A token and when to stop using it.
#[derive(Clone)]
pub(crate) struct CachedToken {
    pub value: String,
    pub expires: Instant,
}

/// What a client knows about authenticating to one registry.
#[derive(Default)]
pub(crate) struct AuthState {
    pub challenge: Option<Challenge>,
    pub tokens: HashMap<String, CachedToken>,
}

/// `Basic base64(user:password)`.
pub fn basic_header(creds: &Credentials) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", creds.username, creds.password))
    )
}

/// Asks the token service for a token covering `scopes`.
pub(crate) async fn fetch_token(
    http: &reqwest::Client,
    host: &str,
    realm: &str,
    service: Option<&str>,
    scopes: &[Scope],
    creds: Option<&Credentials>,
) -> anyhow::Result<(CachedToken, Option<String>)> {
    let network = |source| RegistryError::Network {
        host: host.to_owned(),
        source,
    };
    let resp = match creds.and_then(|c| c.identity_token.as_deref()) {
        Some(refresh) => {
            let scope = scopes.iter().map(|s| s.0.as_str()).collect::<Vec<_>>().join(" ");
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", "rreg"),
                ("scope", scope.as_str()),
            ];
            if let Some(s) = service {
                form.push(("service", s));
            }
            http.post(realm).form(&form).send().await.map_err(network)?
        }
        None => {
            let mut url = url::Url::parse(realm).with_context(|| format!("token realm {realm:?} is not a URL"))?;
            {
                let mut q = url.query_pairs_mut();
                if let Some(s) = service {
                    q.append_pair("service", s);
                }
                for s in scopes {
                    q.append_pair("scope", &s.0);
                }
                if let Some(c) = creds {
                    q.append_pair("account", &c.username);
                }
                q.append_pair("client_id", "rreg");
            }
            let mut rb = http.get(url);
            if let Some(c) = creds {
                rb = rb.header(reqwest::header::AUTHORIZATION, basic_header(c));
            }
            rb.send().await.map_err(network)?
        }
    };
    let status = resp.status();
    let body = resp.bytes().await.map_err(network)?;
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(RegistryError::Unauthorized {
            host: host.to_owned(),
            hint: if creds.is_some() {
                " (incorrect username or password)".to_owned()
            } else {
                format!(" (run `rreg login {host}`)")
            },
            detail: detail_from_body(&body),
        }
        .into());
    }
    if !status.is_success() {
        return Err(RegistryError::Status {
            host: host.to_owned(),
            status,
            what: format!("a token request to {realm}"),
            detail: detail_from_body(&body),
        }
        .into());
    }
    let t: TokenResponse = serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
        host: host.to_owned(),
        what: "a token request".into(),
        reason: e.to_string(),
    })?;
    let value = t.value().map(str::to_owned).ok_or_else(|| RegistryError::Protocol {
        host: host.to_owned(),
        what: "a token request".into(),
        reason: "no token in the answer".into(),
    })?;
    // Renew a little before the registry would refuse the token.
    let lifetime = t.expires_in.unwrap_or(60).max(10);
    let expires = Instant::now() + Duration::from_secs(lifetime.saturating_sub(5));
    Ok((CachedToken { value, expires }, t.refresh_token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(r#"Bearer realm="http://h/token",service="rreg",scope="repository:a:pull""#),
            Some(Challenge::Bearer {
                realm: "http://h/token".into(),
                service: Some("rreg".into())
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }
}
