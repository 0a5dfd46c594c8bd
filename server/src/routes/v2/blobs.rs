//! Blob GET (with `Range`), HEAD and DELETE.

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
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
        // The length of the blob, no body: HEAD answers carry the size of what GET would send.
        let empty = futures::stream::empty::<Result<Bytes, std::convert::Infallible>>();
        return Ok(blob_headers(&mut HttpResponse::Ok(), &digest).body(SizedStream::new(info.size, empty)));
    }
    let range = req.header(header::RANGE).and_then(parse_range);
    let (info, served, body) = reg.get_blob(&name, &digest, range).await?;
    let len = served.end.saturating_sub(served.start);
    let mut resp = if range.is_some() {
        let mut r = HttpResponse::PartialContent();
        r.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{}", served.start, served.end.saturating_sub(1), info.size),
        ));
        r
    } else {
        HttpResponse::Ok()
    };
    blob_headers(&mut resp, &digest);
    Ok(match body {
        BlobBody::Stream(s) => resp.body(SizedStream::new(len, s)),
        BlobBody::Bytes(b) => resp.body(b),
    })
}

fn blob_headers<'a>(resp: &'a mut HttpResponseBuilder, digest: &Digest) -> &'a mut HttpResponseBuilder {
    let d = digest.to_string();
    resp.content_type("application/octet-stream")
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::ETAG, format!("\"{d}\"")))
        .insert_header((CONTENT_DIGEST, d))
        .insert_header((header::CACHE_CONTROL, "max-age=31536000"))
}

pub(super) async fn delete(reg: &Registry, ctx: &Ctx<'_>, name: RepoName, digest: Digest) -> ApiResult {
    reg.delete_blob(&name, &digest).await?;
    ctx.audit("blob.delete", &format!("{name}@{digest}")).await;
    Ok(HttpResponse::Accepted()
        .insert_header((CONTENT_DIGEST, digest.to_string()))
        .finish())
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
