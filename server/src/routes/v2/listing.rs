//! Tag list, catalog and referrers, with `n`/`last` paging and `Link` headers.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rreg_oci::{media_types, Digest, ErrorCode, RepoName};

use super::{ApiResult, Ctx, Req};
use crate::routes::errors::ApiError;
use crate::services::{Page, Registry};

const FILTERS_APPLIED: HeaderName = HeaderName::from_static("oci-filters-applied");

fn page_size(req: &Req) -> Result<Option<i64>, ApiError> {
    match req.param("n") {
        None | Some("") => Ok(None),
        Some(n) => match n.parse::<i64>() {
            Ok(v) if v >= 0 => Ok(Some(v)),
            _ => Err(ApiError::with_message(
                ErrorCode::PaginationNumberInvalid,
                format!("n={n:?} is not a non-negative number"),
            )),
        },
    }
}

/// A JSON response with a `Link` to the next page when there is one.
fn paged(path: &str, n: Option<i64>, page: &Page, body: serde_json::Value) -> Response {
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    if let (true, Some(last)) = (page.more, page.items.last()) {
        let n = n.map_or(page.items.len() as i64, |n| n);
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("n", &n.to_string())
            .append_pair("last", last)
            .finish();
        if let Ok(v) = HeaderValue::from_str(&format!("<{path}?{q}>; rel=\"next\"")) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    resp
}

pub(super) async fn tags(reg: &Registry, name: RepoName, req: Req) -> ApiResult {
    let n = page_size(&req)?;
    let page = reg.list_tags(&name, n, req.param("last")).await?;
    let body = serde_json::json!({ "name": name.as_str(), "tags": page.items });
    Ok(paged(&format!("/v2/{name}/tags/list"), n, &page, body))
}

pub(super) async fn catalog(reg: &Registry, ctx: &Ctx<'_>, req: Req) -> ApiResult {
    let n = page_size(&req)?;
    let filter = ctx.accounts.catalog_filter(&ctx.caller).await?;
    let page = reg
        .catalog(filter.as_ref().map(|w| w.as_ref()), n, req.param("last"))
        .await?;
    let body = serde_json::json!({ "repositories": page.items });
    Ok(paged("/v2/_catalog", n, &page, body))
}

pub(super) async fn referrers(reg: &Registry, name: RepoName, subject: Digest, req: Req) -> ApiResult {
    let filter = req.param("artifactType").filter(|s| !s.is_empty());
    let manifests = reg.referrers(&name, &subject, filter).await?;
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_types::OCI_INDEX,
        "manifests": manifests,
    });
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_types::OCI_INDEX));
    if filter.is_some() {
        h.insert(FILTERS_APPLIED, HeaderValue::from_static("artifactType"));
    }
    Ok(resp)
}
