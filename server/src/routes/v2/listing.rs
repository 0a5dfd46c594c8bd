//! Tag list, catalog and referrers, with `n`/`last` paging and `Link` headers.

use actix_web::http::header::{self, HeaderName};
use actix_web::HttpResponse;
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
fn paged(path: &str, n: Option<i64>, page: &Page, body: impl serde::Serialize) -> HttpResponse {
    let mut resp = HttpResponse::Ok();
    if let (true, Some(last)) = (page.more, page.items.last()) {
        let n = n.map_or(page.items.len() as i64, |n| n);
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("n", &n.to_string())
            .append_pair("last", last)
            .finish();
        resp.insert_header((header::LINK, format!("<{path}?{q}>; rel=\"next\"")));
    }
    resp.json(body)
}

pub(super) async fn tags(reg: &Registry, name: RepoName, req: Req) -> ApiResult {
    let n = page_size(&req)?;
    let page = reg.list_tags(&name, n, req.param("last")).await?;
    let body = rreg_oci::distribution::TagList {
        name: name.to_string(),
        tags: page.items.clone(),
    };
    Ok(paged(&format!("/v2/{name}/tags/list"), n, &page, body))
}

pub(super) async fn catalog(reg: &Registry, ctx: &Ctx<'_>, req: Req) -> ApiResult {
    let n = page_size(&req)?;
    let filter = ctx.accounts.catalog_filter(&ctx.caller).await?;
    let page = reg
        .catalog(filter.as_ref().map(|w| w.as_ref()), n, req.param("last"))
        .await?;
    let body = rreg_oci::distribution::Catalog {
        repositories: page.items.clone(),
    };
    Ok(paged("/v2/_catalog", n, &page, body))
}

pub(super) async fn referrers(reg: &Registry, name: RepoName, subject: Digest, req: Req) -> ApiResult {
    let filter = req.param("artifactType").filter(|s| !s.is_empty());
    let manifests = reg.referrers(&name, &subject, filter).await?;
    let body = rreg_oci::distribution::ReferrersIndex::new(manifests);
    let mut resp = HttpResponse::Ok();
    resp.content_type(media_types::OCI_INDEX);
    if filter.is_some() {
        resp.insert_header((FILTERS_APPLIED, "artifactType"));
    }
    Ok(resp.json(body))
}
