//! Blob GET (with `Range`), HEAD and DELETE.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rreg_oci::{Digest, RepoName};

use super::{ApiResult, Ctx, Req, CONTENT_DIGEST};
use crate::services::{BlobBody, ByteRange, Registry};

/// Parses a single `bytes=` range; anything else (several ranges, other units) is ignored, as HTTP allows.
fn parse_range(v: &str) -> Option<ByteRange> {
    let spec = v.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return Some(ByteRange::Suffix(b.parse().ok()?));
    }
    let start = a.parse().ok()?;
    let end = if b.is_empty() { None } else { Some(b.parse().ok()?) };
    if end.is_some_and(|e| e < start) {
        return None;
    }
    Some(ByteRange::From { start, end })
}

pub(super) async fn get(reg: &Registry, name: RepoName, digest: Digest, req: Req, with_body: bool) -> ApiResult {
    if !with_body {
        let info = reg.blob_info(&name, &digest).await?;
        let mut resp = StatusCode::OK.into_response();
        blob_headers(&mut resp, &digest, info.size);
        return Ok(resp);
    }
    let range = req.header(header::RANGE).and_then(parse_range);
    let (info, served, body) = reg.get_blob(&name, &digest, range).await?;
    let partial = range.is_some();
    let body = match body {
        BlobBody::Stream(s) => Body::from_stream(s),
        BlobBody::Bytes(b) => Body::from(b),
    };
    let mut resp = Response::new(body);
    blob_headers(&mut resp, &digest, served.end - served.start);
    if partial {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        let cr = format!("bytes {}-{}/{}", served.start, served.end - 1, info.size);
        if let Ok(v) = HeaderValue::from_str(&cr) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(resp)
}

fn blob_headers(resp: &mut Response, digest: &Digest, len: u64) {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&digest.to_string()) {
        h.insert(CONTENT_DIGEST, v.clone());
        if let Ok(etag) = HeaderValue::from_str(&format!("\"{digest}\"")) {
            h.insert(header::ETAG, etag);
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=31536000"));
}

pub(super) async fn delete(reg: &Registry, ctx: &Ctx<'_>, name: RepoName, digest: Digest) -> ApiResult {
    reg.delete_blob(&name, &digest).await?;
    ctx.audit("blob.delete", &format!("{name}@{digest}")).await;
    let mut resp = StatusCode::ACCEPTED.into_response();
    if let Ok(v) = HeaderValue::from_str(&digest.to_string()) {
        resp.headers_mut().insert(CONTENT_DIGEST, v);
    }
    resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(
            parse_range("bytes=0-9"),
            Some(ByteRange::From { start: 0, end: Some(9) })
        );
        assert_eq!(parse_range("bytes=5-"), Some(ByteRange::From { start: 5, end: None }));
        assert_eq!(parse_range("bytes=-5"), Some(ByteRange::Suffix(5)));
        assert_eq!(parse_range("bytes=9-0"), None);
        assert_eq!(parse_range("bytes=0-1,3-4"), None);
        assert_eq!(parse_range("items=0-1"), None);
    }
}
