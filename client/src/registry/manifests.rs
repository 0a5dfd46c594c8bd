//! Manifests: fetch with content negotiation for Docker and OCI images and indexes (digest
//! verified), existence checks, and upload.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;
use rreg_oci::{media_types as mt, Digest, Reference};

use super::auth::Scope;
use super::{Client, RegistryError};

/// Largest manifest accepted.
const MAX_MANIFEST: usize = 8 << 20;

/// Every manifest media type rreg reads.
pub const ACCEPT_ALL: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// A manifest as fetched.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Its exact bytes.
    pub bytes: Vec<u8>,
    /// Its media type (from Content-Type, else the body).
    pub media_type: String,
    /// Its digest (computed from the bytes).
    pub digest: Digest,
}

/// The digest and media type a `HEAD` reports.
#[derive(Debug, Clone)]
pub struct Head {
    /// `Docker-Content-Digest`, if sent.
    pub digest: Option<Digest>,
    /// Content type.
    pub media_type: Option<String>,
    /// Content length.
    pub size: Option<u64>,
}

impl Client {
    /// `GET /v2/<repo>/manifests/<reference>`.
    pub async fn get_manifest(&self, repo: &str, reference: &Reference) -> anyhow::Result<Fetched> {
        let url = self.url(&format!("v2/{repo}/manifests/{reference}"))?;
        let what = format!("manifest {repo}:{reference}");
        let resp = self
            .send(&[Scope::pull(repo)], &what, |h| {
                Ok(h.get(url.clone()).header(ACCEPT, ACCEPT_ALL))
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self
                .fail(resp, &format!("manifest for {}/{repo}:{reference}", self.registry))
                .await);
        }
        let header_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
        let bytes = resp.bytes().await.map_err(|e| RegistryError::Network {
            host: self.registry.clone(),
            source: e,
        })?;
        if bytes.len() > MAX_MANIFEST {
            return Err(RegistryError::Protocol {
                host: self.registry.clone(),
                what,
                reason: "manifest too large".into(),
            }
            .into());
        }
        let bytes = bytes.to_vec();
        let body_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(str::to_owned));
        let media_type = body_type
            .or(header_type.filter(|t| mt::is_manifest(t)))
            .unwrap_or_else(|| mt::OCI_MANIFEST.to_owned());
        let digest = match reference {
            Reference::Digest(d) => {
                let actual = Digest::of(d.algorithm(), &bytes);
                if &actual != d {
                    return Err(RegistryError::DigestMismatch {
                        expected: d.clone(),
                        actual,
                    }
                    .into());
                }
                actual
            }
            Reference::Tag(_) => Digest::sha256(&bytes),
        };
        Ok(Fetched {
            bytes,
            media_type,
            digest,
        })
    }

    /// `HEAD /v2/<repo>/manifests/<reference>`; `None` when absent.
    pub async fn head_manifest(
        &self,
        repo: &str,
        reference: &Reference,
        scopes: &[Scope],
    ) -> anyhow::Result<Option<Head>> {
        let url = self.url(&format!("v2/{repo}/manifests/{reference}"))?;
        let what = format!("manifest {repo}:{reference}");
        let resp = self
            .send(scopes, &what, |h| Ok(h.head(url.clone()).header(ACCEPT, ACCEPT_ALL)))
            .await?;
        match resp.status() {
            s if s.is_success() => {
                let hv = |k: &str| resp.headers().get(k).and_then(|v| v.to_str().ok()).map(str::to_owned);
                Ok(Some(Head {
                    digest: hv("docker-content-digest").and_then(|d| Digest::parse(&d).ok()),
                    media_type: hv("content-type"),
                    size: hv("content-length").and_then(|s| s.parse().ok()),
                }))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.fail(resp, &what).await),
        }
    }

    /// `PUT /v2/<repo>/manifests/<reference>`; returns the digest the registry reports.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &Reference,
        bytes: &[u8],
        media_type: &str,
    ) -> anyhow::Result<Digest> {
        let url = self.url(&format!("v2/{repo}/manifests/{reference}"))?;
        let what = format!("the manifest upload to {repo}:{reference}");
        let body = bytes.to_vec();
        let resp = self
            .send(&[Scope::push(repo)], &what, |h| {
                Ok(h.put(url.clone()).header(CONTENT_TYPE, media_type).body(body.clone()))
            })
            .await?;
        if resp.status() != StatusCode::CREATED && !resp.status().is_success() {
            return Err(self.fail(resp, &what).await);
        }
        let ours = Digest::sha256(bytes);
        let theirs = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|d| Digest::parse(d).ok());
        if let Some(t) = theirs {
            if t != ours {
                return Err(RegistryError::DigestMismatch {
                    expected: ours,
                    actual: t,
                }
                .into());
            }
        }
        Ok(ours)
    }
}
