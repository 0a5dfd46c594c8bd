//! Manifest GET/HEAD (with `Accept` negotiation), PUT and DELETE, by tag or digest.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rreg_oci::{ErrorCode, Reference, RepoName};

use super::{ApiResult, Req, CONTENT_DIGEST};
use crate::routes::errors::ApiError;
use crate::services::{Registry, ServiceError};

const OCI_SUBJECT: HeaderName = HeaderName::from_static("oci-subject");

/// Media types listed in the request's `Accept` headers, without parameters.
fn accepted(req: &Req) -> Vec<String> {
    req.headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.split(';').next().unwrap_or(t).trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

pub(super) async fn get(reg: &Registry, name: RepoName, reference: Reference, req: Req, with_body: bool) -> ApiResult {
    let m = reg.get_manifest(&name, &reference, &accepted(&req)).await?;
    let len = m.content.len();
    let mut resp = if with_body {
        Response::new(axum::body::Body::from(m.content))
    } else {
        StatusCode::OK.into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&m.media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&m.digest) {
        h.insert(CONTENT_DIGEST, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", m.digest)) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}

pub(super) async fn put(reg: &Registry, name: RepoName, reference: Reference, req: Req) -> ApiResult {
    let limit = reg.limits.max_manifest_size;
    let too_large = |size: usize| ApiError::from(ServiceError::ManifestTooLarge { size, limit });
    if let Some(len) = req.content_length() {
        if len > limit as u64 {
            return Err(too_large(len as usize));
        }
    }
    let content_type = req.header(header::CONTENT_TYPE).map(str::to_owned);
    let body = axum::body::to_bytes(req.body, limit).await.map_err(|e| {
        let is_limit = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if is_limit {
            too_large(limit + 1)
        } else {
            ApiError::with_message(ErrorCode::ManifestInvalid, format!("reading the manifest failed: {e}"))
        }
    })?;
    let put = reg
        .put_manifest(&name, &reference, content_type.as_deref(), body)
        .await?;
    let mut resp = StatusCode::CREATED.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/{name}/manifests/{}", put.digest)) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&put.digest.to_string()) {
        h.insert(CONTENT_DIGEST, v);
    }
    if let Some(s) = put
        .subject
        .as_ref()
        .and_then(|s| HeaderValue::from_str(&s.to_string()).ok())
    {
        h.insert(OCI_SUBJECT, s);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    Ok(resp)
}

pub(super) async fn delete(reg: &Registry, name: RepoName, reference: Reference) -> ApiResult {
    reg.delete_manifest(&name, &reference).await?;
    let mut resp = StatusCode::ACCEPTED.into_response();
    resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    Ok(resp)
}
