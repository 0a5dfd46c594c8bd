//! A client for the OCI distribution API of one registry: authentication (see [`auth`]), blobs,
//! manifests and tags, and the push and pull operations built on them.

pub mod auth;
pub mod blobs;
pub mod error;
pub mod manifests;
pub mod pull;
pub mod push;
pub mod remote;
pub mod tags;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Response, StatusCode};
use tokio::sync::Mutex;

use auth::{AuthState, Challenge, Scope};
pub use error::RegistryError;

use crate::credentials::{Credentials, DockerConfig};
use crate::settings::Settings;

/// A connection to one registry, with its credentials and token cache.
pub struct Client {
    http: reqwest::Client,
    /// The registry's name as in references (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    base: url::Url,
    creds: Option<Credentials>,
    auth: Mutex<AuthState>,
    /// Whether a first answer has told how the registry wants to be authenticated.
    learned: AtomicBool,
    /// Held by the first request until that answer, so requests sent in parallel at the start
    /// (a push's blob checks) wait for the challenge instead of each collecting a `401`.
    probe: Mutex<()>,
}

impl Client {
    /// A client for `registry` with the credentials stored for it (if any).
    pub fn for_registry(registry: &str, settings: &Settings) -> anyhow::Result<Client> {
        let creds = DockerConfig::load()?.credentials(registry)?;
        Self::new(registry, settings, creds)
    }

    /// A client for `registry` with the given credentials.
    pub fn new(registry: &str, settings: &Settings, creds: Option<Credentials>) -> anyhow::Result<Client> {
        let scheme = if settings.is_insecure(registry) {
            "http"
        } else {
            "https"
        };
        let host = rreg_oci::image_ref::api_host(registry);
        let base = url::Url::parse(&format!("{scheme}://{host}/"))
            .with_context(|| format!("{registry:?} is not a valid registry host"))?;
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("rreg/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(60));
        if let Some(ca) = settings.ca_file() {
            let pem = std::fs::read(&ca).with_context(|| format!("reading CA file {}", ca.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem).with_context(|| format!("CA file {}", ca.display()))?;
            b = b.add_root_certificate(cert);
        }
        Ok(Client {
            http: b.build().context("building the HTTP client")?,
            registry: registry.to_owned(),
            base,
            creds,
            auth: Mutex::new(AuthState::default()),
            learned: AtomicBool::new(false),
            probe: Mutex::new(()),
        })
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> anyhow::Result<url::Url> {
        self.base.join(path).with_context(|| format!("bad URL path {path:?}"))
    }

    /// Resolves a `Location` header against the registry.
    pub fn resolve(&self, location: &str) -> anyhow::Result<url::Url> {
        self.base
            .join(location)
            .with_context(|| format!("bad Location {location:?} from {}", self.registry))
    }

    fn network(&self, source: reqwest::Error) -> RegistryError {
        RegistryError::Network {
            host: self.registry.clone(),
            source,
        }
    }

    /// The `Authorization` value for `scopes`, fetching a token when needed.
    async fn authorization(&self, scopes: &[Scope]) -> anyhow::Result<Option<String>> {
        let mut st = self.auth.lock().await;
        match st.challenge.clone() {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.creds.as_ref().map(auth::basic_header)),
            Some(Challenge::Bearer { realm, service }) => {
                let key = scope_key(scopes);
                if let Some(t) = st.tokens.get(&key) {
                    if t.expires > Instant::now() {
                        return Ok(Some(format!("Bearer {}", t.value)));
                    }
                }
                let (token, _refresh) = auth::fetch_token(
                    &self.http,
                    &self.registry,
                    &realm,
                    service.as_deref(),
                    scopes,
                    self.creds.as_ref(),
                )
                .await?;
                let value = format!("Bearer {}", token.value);
                st.tokens.insert(key, token);
                Ok(Some(value))
            }
        }
    }

    /// Sends the request `build` makes, authenticated for `scopes`; on a 401 learns the challenge,
    /// renews the token and sends it once more (so `build` must be callable twice).
    pub async fn send(
        &self,
        scopes: &[Scope],
        what: &str,
        build: impl Fn(&reqwest::Client) -> anyhow::Result<RequestBuilder>,
    ) -> anyhow::Result<Response> {
        let mut retried = false;
        let mut probe = None;
        if !self.learned.load(Ordering::Acquire) {
            probe = Some(self.probe.lock().await);
            if self.learned.load(Ordering::Acquire) {
                probe = None;
            }
        }
        loop {
            let authz = self.authorization(scopes).await?;
            let mut rb = build(&self.http)?;
            if let Some(a) = &authz {
                rb = rb.header(AUTHORIZATION, a);
            }
            let resp = rb.send().await.map_err(|e| self.network(e))?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                self.learned.store(true, Ordering::Release);
                return Ok(resp);
            }
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(auth::parse_challenge);
            if !retried {
                if let Some(ch) = challenge {
                    let mut st = self.auth.lock().await;
                    // Forget the token this request was refused with (expired, or too narrow), not
                    // one a parallel request has fetched since.
                    let key = scope_key(scopes);
                    if let Some(refused) = authz.as_deref().and_then(|a| a.strip_prefix("Bearer ")) {
                        if st.tokens.get(&key).is_some_and(|t| t.value == refused) {
                            st.tokens.remove(&key);
                        }
                    }
                    st.challenge = Some(ch.clone());
                    drop(st);
                    self.learned.store(true, Ordering::Release);
                    probe = None;
                    // Basic without credentials cannot succeed; otherwise try once more.
                    if !(ch == Challenge::Basic && self.creds.is_none()) {
                        retried = true;
                        continue;
                    }
                }
            }
            drop(probe);
            let body = resp.bytes().await.unwrap_or_default();
            return Err(RegistryError::Unauthorized {
                host: self.registry.clone(),
                hint: if self.creds.is_none() {
                    format!(" for {what} (run `rreg login {}`)", self.registry)
                } else {
                    format!(" for {what}")
                },
                detail: error::detail_from_body(&body),
            }
            .into());
        }
    }

    /// Turns an unexpected answer into an error (reads the body for the registry's message).
    pub async fn fail(&self, resp: Response, what: &str) -> anyhow::Error {
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        let detail = error::detail_from_body(&body);
        match status {
            StatusCode::NOT_FOUND => RegistryError::NotFound {
                what: what.to_owned(),
                detail,
            },
            StatusCode::FORBIDDEN => RegistryError::Denied {
                host: self.registry.clone(),
                what: what.to_owned(),
                detail,
            },
            StatusCode::UNAUTHORIZED => RegistryError::Unauthorized {
                host: self.registry.clone(),
                hint: format!(" for {what}"),
                detail,
            },
            _ => RegistryError::Status {
                host: self.registry.clone(),
                status,
                what: what.to_owned(),
                detail,
            },
        }
        .into()
    }

    /// `GET /v2/` with the stored credentials: checks that they are accepted.
    pub async fn check_login(&self) -> anyhow::Result<()> {
        let url = self.url("v2/")?;
        let resp = self.send(&[], "login", |h| Ok(h.get(url.clone()))).await?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(self.fail(resp, "the /v2/ endpoint").await)
    }
}

fn scope_key(scopes: &[Scope]) -> String {
    let mut s: Vec<&str> = scopes.iter().map(|s| s.0.as_str()).collect();
    s.sort_unstable();
    s.join(" ")
}
