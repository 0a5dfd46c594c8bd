//! One virtual client of an OCI registry: authentication as Docker does it (the `/v2/` challenge
//! and `GET /token` with Basic credentials and a scope, or Basic on every request, or none), and
//! the requests of a push and a pull, each timed from sending to the last byte of the answer and
//! checked: status, `Docker-Content-Digest`, and the SHA-256 of every manifest and blob read back.

use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};

use crate::stats::Stats;

pub const MT_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MT_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// How the client authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// No credentials.
    None,
    /// `Authorization: Basic` on every request (distribution with htpasswd).
    Basic,
    /// Docker's token flow: the `/v2/` challenge, then `GET <realm>?service=&scope=` with Basic
    /// credentials, then `Authorization: Bearer` (rreg).
    Token,
}

/// `sha256:<hex>` of `data`.
pub fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A client with its own connection pool (one keep-alive connection, as one `docker` process).
pub struct Client {
    http: reqwest::Client,
    base: String,
    mode: AuthMode,
    basic: String,
    realm: Option<(String, String)>,
    bearer: Option<String>,
    scope: String,
}

/// An answer read to its end.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The `key="value"` parameters of a `WWW-Authenticate: Bearer …` challenge.
fn challenge_param(ch: &str, key: &str) -> Option<String> {
    let rest = ch.strip_prefix("Bearer ").unwrap_or(ch);
    rest.split(',').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == key).then(|| v.trim_matches('"').to_owned())
    })
}

impl Client {
    /// A client of the registry at `base` (`http://host:port`).
    pub fn new(base: &str, mode: AuthMode, user: &str, password: &str, timeout: Duration) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(4)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_owned(),
            mode,
            basic,
            realm: None,
            bearer: None,
            scope: String::new(),
        })
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_owned()
        } else {
            format!("{}{}", self.base, path_or_url)
        }
    }

    /// Sends one request and reads the whole answer; times it as `kind`. In token mode a `401`
    /// (an expired token) gets a new token for the same scope and one retry.
    pub async fn exchange(
        &mut self,
        kind: &'static str,
        method: Method,
        url: &str,
        headers: &[(&str, String)],
        body: Option<Bytes>,
        st: &mut Stats,
    ) -> Result<Answer, String> {
        for attempt in 0..2 {
            let mut rb = self.http.request(method.clone(), self.url(url));
            for (k, v) in headers {
                rb = rb.header(*k, v);
            }
            match self.mode {
                AuthMode::None => {}
                AuthMode::Basic => rb = rb.header(AUTHORIZATION, &self.basic),
                AuthMode::Token => {
                    if let Some(t) = &self.bearer {
                        rb = rb.header(AUTHORIZATION, format!("Bearer {t}"));
                    }
                }
            }
            if let Some(b) = &body {
                rb = rb.body(b.clone());
            }
            let t0 = Instant::now();
            let resp = rb.send().await.map_err(|e| format!("{kind} {url}: {e}"))?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp
                .bytes()
                .await
                .map_err(|e| format!("{kind} {url}: reading the body: {e}"))?;
            st.record(kind, t0.elapsed());
            if status == StatusCode::UNAUTHORIZED
                && self.mode == AuthMode::Token
                && attempt == 0
                && !self.scope.is_empty()
            {
                let scope = self.scope.clone();
                self.login(&scope, st).await?;
                continue;
            }
            return Ok(Answer { status, headers, body });
        }
        Err(format!("{kind} {url}: still 401 with a new token"))
    }

    /// `GET /v2/`: in token mode reads the challenge (realm and service); else expects 200.
    pub async fn discover(&mut self, st: &mut Stats) -> Result<(), String> {
        let a = self.exchange("base GET", Method::GET, "/v2/", &[], None, st).await?;
        match self.mode {
            AuthMode::Token => {
                if a.status != StatusCode::UNAUTHORIZED {
                    return Err(format!("GET /v2/ without a token answered {}, expected 401", a.status));
                }
                let ch = header(&a.headers, WWW_AUTHENTICATE.as_str()).ok_or("GET /v2/: no WWW-Authenticate")?;
                let realm = challenge_param(ch, "realm").ok_or_else(|| format!("no realm in {ch:?}"))?;
                let service = challenge_param(ch, "service").unwrap_or_default();
                self.realm = Some((realm, service));
                Ok(())
            }
            _ if a.status == StatusCode::OK => Ok(()),
            _ => Err(format!("GET /v2/ answered {}", a.status)),
        }
    }

    /// In token mode, a new token for `scope` (`repository:NAME:pull,push`), as each `docker push`
    /// or `docker pull` gets one; otherwise nothing.
    pub async fn login(&mut self, scope: &str, st: &mut Stats) -> Result<(), String> {
        if self.mode != AuthMode::Token {
            return Ok(());
        }
        let (realm, service) = self.realm.clone().ok_or("login before discover")?;
        let url = format!("{realm}?service={}&scope={}", form(&service), form(scope));
        let t0 = Instant::now();
        let resp = self
            .http
            .get(&url)
            .header(AUTHORIZATION, &self.basic)
            .send()
            .await
            .map_err(|e| format!("token {scope}: {e}"))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| format!("token {scope}: {e}"))?;
        st.record("token GET", t0.elapsed());
        if status != StatusCode::OK {
            return Err(format!("token {scope}: {status}: {}", String::from_utf8_lossy(&body)));
        }
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| format!("token {scope}: {e}"))?;
        let t = v["token"]
            .as_str()
            .or_else(|| v["access_token"].as_str())
            .ok_or_else(|| format!("token {scope}: no token in the answer"))?;
        self.bearer = Some(t.to_owned());
        self.scope = scope.to_owned();
        Ok(())
    }

    /// `HEAD` of a blob: whether the repository has it (as `docker push` asks before uploading).
    pub async fn blob_exists(&mut self, repo: &str, digest: &str, st: &mut Stats) -> Result<bool, String> {
        let url = format!("/v2/{repo}/blobs/{digest}");
        let a = self.exchange("blob HEAD", Method::HEAD, &url, &[], None, st).await?;
        match a.status {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(format!("HEAD {url}: {s}")),
        }
    }

    /// Uploads `data` as blob `digest`: monolithic (POST, then PUT `?digest=` with the bytes) when
    /// `chunk` is `None`, else POST, PATCHes of `chunk` bytes with `Content-Range`, and an empty
    /// PUT `?digest=`. The whole upload is timed as `op:blob upload`.
    pub async fn upload(
        &mut self,
        repo: &str,
        digest: &str,
        data: &Bytes,
        chunk: Option<usize>,
        st: &mut Stats,
    ) -> Result<(), String> {
        let t0 = Instant::now();
        let start = format!("/v2/{repo}/blobs/uploads/");
        let a = self
            .exchange(
                "upload POST",
                Method::POST,
                &start,
                &[("content-length", "0".into())],
                None,
                st,
            )
            .await?;
        if a.status != StatusCode::ACCEPTED {
            return Err(format!(
                "POST {start}: {} {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            ));
        }
        let mut loc = header(&a.headers, LOCATION.as_str())
            .ok_or_else(|| format!("POST {start}: no Location"))?
            .to_owned();
        let octet = ("content-type", "application/octet-stream".to_owned());
        let last = if let Some(size) = chunk {
            let mut off = 0usize;
            while off < data.len() {
                let end = (off + size).min(data.len());
                let range = ("content-range", format!("{off}-{}", end - 1));
                let a = self
                    .exchange(
                        "upload PATCH",
                        Method::PATCH,
                        &loc,
                        &[octet.clone(), range],
                        Some(data.slice(off..end)),
                        st,
                    )
                    .await?;
                if a.status != StatusCode::ACCEPTED {
                    return Err(format!(
                        "PATCH {loc}: {} {}",
                        a.status,
                        String::from_utf8_lossy(&a.body)
                    ));
                }
                loc = header(&a.headers, LOCATION.as_str())
                    .ok_or_else(|| format!("PATCH {loc}: no Location"))?
                    .to_owned();
                off = end;
            }
            Bytes::new()
        } else {
            data.clone()
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let put = format!("{loc}{sep}digest={}", form(digest));
        let a = self
            .exchange("upload PUT", Method::PUT, &put, &[octet], Some(last), st)
            .await?;
        if a.status != StatusCode::CREATED {
            return Err(format!("PUT {put}: {} {}", a.status, String::from_utf8_lossy(&a.body)));
        }
        if let Some(d) = header(&a.headers, "docker-content-digest") {
            if d != digest {
                return Err(format!("PUT {put}: Docker-Content-Digest {d}, expected {digest}"));
            }
        }
        st.record("op:blob upload", t0.elapsed());
        Ok(())
    }

    /// `PUT` of an image manifest under `tag`; checks the digest the registry answers.
    pub async fn put_manifest(&mut self, repo: &str, tag: &str, body: &Bytes, st: &mut Stats) -> Result<(), String> {
        let url = format!("/v2/{repo}/manifests/{tag}");
        let a = self
            .exchange(
                "manifest PUT",
                Method::PUT,
                &url,
                &[("content-type", MT_MANIFEST.to_owned())],
                Some(body.clone()),
                st,
            )
            .await?;
        if a.status != StatusCode::CREATED {
            return Err(format!("PUT {url}: {} {}", a.status, String::from_utf8_lossy(&a.body)));
        }
        let want = digest_of(body);
        match header(&a.headers, "docker-content-digest") {
            Some(d) if d != want => Err(format!("PUT {url}: Docker-Content-Digest {d}, expected {want}")),
            _ => Ok(()),
        }
    }

    /// `GET` of a manifest by tag or digest; its SHA-256 must be `want`.
    pub async fn get_manifest(
        &mut self,
        repo: &str,
        reference: &str,
        want: &str,
        st: &mut Stats,
    ) -> Result<Bytes, String> {
        let url = format!("/v2/{repo}/manifests/{reference}");
        let a = self
            .exchange(
                "manifest GET",
                Method::GET,
                &url,
                &[("accept", MT_MANIFEST.to_owned())],
                None,
                st,
            )
            .await?;
        if a.status != StatusCode::OK {
            return Err(format!("GET {url}: {} {}", a.status, String::from_utf8_lossy(&a.body)));
        }
        let got = digest_of(&a.body);
        if got != want {
            return Err(format!(
                "GET {url}: DATA MISMATCH: body hashes to {got}, expected {want}"
            ));
        }
        if let Some(d) = header(&a.headers, "docker-content-digest") {
            if d != want {
                return Err(format!("GET {url}: Docker-Content-Digest {d}, expected {want}"));
            }
        }
        if let Some(ct) = header(&a.headers, CONTENT_TYPE.as_str()) {
            if !ct.starts_with(MT_MANIFEST) {
                return Err(format!("GET {url}: served as {ct:?}"));
            }
        }
        Ok(a.body)
    }

    /// `GET` of a blob; its size and SHA-256 must match. Returns the bytes read.
    pub async fn get_blob(&mut self, repo: &str, digest: &str, size: u64, st: &mut Stats) -> Result<u64, String> {
        let url = format!("/v2/{repo}/blobs/{digest}");
        let a = self.exchange("blob GET", Method::GET, &url, &[], None, st).await?;
        if a.status != StatusCode::OK {
            return Err(format!("GET {url}: {} {}", a.status, String::from_utf8_lossy(&a.body)));
        }
        if a.body.len() as u64 != size {
            return Err(format!(
                "GET {url}: DATA MISMATCH: {} bytes, expected {size}",
                a.body.len()
            ));
        }
        let got = digest_of(&a.body);
        if got != digest {
            return Err(format!("GET {url}: DATA MISMATCH: body hashes to {got}"));
        }
        Ok(size)
    }
}

/// Percent-encodes a query value.
pub fn form(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => o.push(b as char),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_and_form() {
        let ch = r#"Bearer realm="http://127.0.0.1:5000/token",service="rreg",scope="x""#;
        assert_eq!(
            challenge_param(ch, "realm").as_deref(),
            Some("http://127.0.0.1:5000/token")
        );
        assert_eq!(challenge_param(ch, "service").as_deref(), Some("rreg"));
        assert_eq!(form("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
        assert_eq!(
            digest_of(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
