//! `/v2`: the OCI Distribution API. Repository names hold slashes, so the path is split here by its
//! last segments (`…/blobs/uploads/<id>`, `…/blobs/<digest>`, `…/manifests/<ref>`, `…/tags/list`,
//! `…/referrers/<digest>`) and each route gets parsed values.

mod blobs;
mod listing;
mod manifests;
mod uploads;

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use rreg_oci::{Digest, ErrorCode, RepoName};

use super::auth;
use super::body::{peer_ip, Body};
use super::errors::ApiError;
use super::AppState;
use crate::auth::{Action, Caller};
use crate::services::{Accounts, ServiceError};

pub(crate) const API_VERSION: HeaderName = HeaderName::from_static("docker-distribution-api-version");
pub(crate) const CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");
pub(crate) const UPLOAD_UUID: HeaderName = HeaderName::from_static("docker-upload-uuid");

pub(crate) type ApiResult = Result<HttpResponse, ApiError>;

/// The request parts a route may need.
pub(crate) struct Req {
    pub method: Method,
    pub http: HttpRequest,
    pub query: Vec<(String, String)>,
    pub body: Body,
}

impl Req {
    /// The first value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The request's headers.
    pub fn headers(&self) -> &HeaderMap {
        self.http.headers()
    }

    /// A header as a string, if present and valid.
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// `Content-Length`, if present.
    pub fn content_length(&self) -> Option<u64> {
        self.header(header::CONTENT_LENGTH).and_then(|v| v.parse().ok())
    }
}

use rreg_oci::distribution::{endpoint as route, Endpoint as Route};

/// Parses a repository name from the path.
pub(crate) fn repo(name: &str) -> Result<RepoName, ApiError> {
    Ok(RepoName::parse(name)?)
}

/// Parses a digest from the path or query.
pub(crate) fn digest(s: &str) -> Result<Digest, ApiError> {
    Ok(Digest::parse(s)?)
}

/// What a request needs from the caller.
enum Need<'a> {
    /// Any valid credentials (the `/v2/` check).
    Login,
    /// The catalog.
    Catalog,
    /// An action on a repository.
    Repo(&'a str, Action),
}

fn need<'a>(r: &Route<'a>, m: &Method) -> Need<'a> {
    let read_or = |name: &'a str, write: Action| {
        if matches!(*m, Method::GET | Method::HEAD) {
            Need::Repo(name, Action::Pull)
        } else {
            Need::Repo(name, write)
        }
    };
    match *r {
        Route::Base => Need::Login,
        Route::Catalog => Need::Catalog,
        Route::Tags(n) | Route::Referrers(n, _) => Need::Repo(n, Action::Pull),
        Route::Uploads(n, _) => Need::Repo(n, Action::Push),
        Route::Blob(n, _) => read_or(n, Action::Delete),
        Route::Manifest(n, _) => {
            if *m == Method::PUT {
                Need::Repo(n, Action::Push)
            } else {
                read_or(n, Action::Delete)
            }
        }
    }
}

/// Who is calling, for the routes that check more than the request's own repository.
pub(crate) struct Ctx<'a> {
    pub caller: Caller,
    pub accounts: &'a Accounts,
    pub addr: String,
    /// The request, for the realm of a challenge.
    pub http: HttpRequest,
}

impl Ctx<'_> {
    /// The token realm of this request's challenges.
    fn realm(&self) -> String {
        auth::realm(self.accounts, self.http.headers(), &self.addr)
    }

    /// Records an action in the audit log; a failure to record is logged, not fatal.
    pub async fn audit(&self, action: &str, target: &str) {
        let actor = self.caller.name();
        if let Err(e) = self.accounts.db.audit(actor, action, target, "", &self.addr).await {
            tracing::warn!(error = %e, action, target, "audit log write failed");
        }
    }
}

/// The one access check of a `/v2` request: `401` with a challenge when the caller may not see the
/// repository (whether or not it exists), `403 DENIED` when they may see it but not do this.
async fn authorize(ctx: &Ctx<'_>, need: Need<'_>) -> Result<(), ApiError> {
    let accounts = ctx.accounts;
    if !accounts.enabled() {
        return Ok(());
    }
    match need {
        Need::Login => match ctx.caller {
            Caller::Anonymous => Err(auth::challenge(accounts, &ctx.realm(), None, "authentication required")),
            _ => Ok(()),
        },
        Need::Catalog => match &ctx.caller {
            Caller::User(_) => Ok(()),
            Caller::Bearer(c) if Caller::token_grants(c, "registry", "catalog", "*") => Ok(()),
            _ => Err(auth::challenge(
                accounts,
                &ctx.realm(),
                Some("registry:catalog:*"),
                "authentication required",
            )),
        },
        Need::Repo(name, action) => {
            if accounts.can(&ctx.caller, name, action).await? {
                return Ok(());
            }
            let scope = format!("repository:{name}:{}", action.challenge_actions());
            tracing::debug!(caller = ?ctx.caller, repo = name, action = action.as_str(), "access refused");
            // Anonymous callers are always asked to log in; others learn "denied" only where
            // they may see the repository.
            let anonymous = matches!(ctx.caller, Caller::Anonymous);
            if !anonymous && action != Action::Pull && accounts.can(&ctx.caller, name, Action::Pull).await? {
                return Err(ApiError::with_message(
                    ErrorCode::Denied,
                    format!(
                        "requested access to the resource is denied: {} on {name}",
                        action.as_str()
                    ),
                ));
            }
            Err(auth::challenge(
                accounts,
                &ctx.realm(),
                Some(&scope),
                "authentication required",
            ))
        }
    }
}

/// Every `/v2` request comes through here.
pub(crate) async fn dispatch(state: web::Data<AppState>, http: HttpRequest, payload: web::Payload) -> HttpResponse {
    let query = form_urlencoded::parse(http.query_string().as_bytes())
        .into_owned()
        .collect();
    let req = Req {
        method: http.method().clone(),
        query,
        body: Body::new(&http, payload),
        http: http.clone(),
    };
    let result = match route(http.path()) {
        None => Err(
            ApiError::with_message(ErrorCode::NameInvalid, "no such endpoint or invalid repository name")
                .status(StatusCode::NOT_FOUND),
        ),
        Some(r) => checked(&state, r, req, peer_ip(&http)).await,
    };
    let mut resp = result.unwrap_or_else(ApiError::into_response);
    resp.headers_mut()
        .insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
    resp
}

async fn checked(state: &AppState, r: Route<'_>, req: Req, addr: String) -> ApiResult {
    // Names are checked before access: an invalid name reveals nothing.
    if let Route::Tags(n) | Route::Uploads(n, _) | Route::Blob(n, _) | Route::Manifest(n, _) | Route::Referrers(n, _) =
        r
    {
        repo(n)?;
    }
    let caller = match auth::identify(&state.accounts, req.headers(), &addr).await {
        Ok(c) => c,
        Err(ServiceError::Unauthorized(m)) => {
            let realm = auth::realm(&state.accounts, req.headers(), &addr);
            return Err(auth::challenge(&state.accounts, &realm, None, &m));
        }
        Err(e) => return Err(e.into()),
    };
    let ctx = Ctx {
        caller,
        accounts: &state.accounts,
        addr,
        http: req.http.clone(),
    };
    authorize(&ctx, need(&r, &req.method)).await?;
    handle(state, &ctx, r, req).await
}

async fn handle(state: &AppState, ctx: &Ctx<'_>, r: Route<'_>, req: Req) -> ApiResult {
    let m = req.method.clone();
    let reg = &state.registry;
    match r {
        Route::Base => match m {
            Method::GET | Method::HEAD => Ok(HttpResponse::Ok().content_type("application/json").body("{}")),
            _ => Err(unsupported(&m)),
        },
        Route::Catalog => match m {
            Method::GET => listing::catalog(reg, ctx, req).await,
            _ => Err(unsupported(&m)),
        },
        Route::Tags(name) => match m {
            Method::GET => listing::tags(reg, repo(name)?, req).await,
            _ => Err(unsupported(&m)),
        },
        Route::Referrers(name, d) => match m {
            Method::GET => listing::referrers(reg, repo(name)?, digest(d)?, req).await,
            _ => Err(unsupported(&m)),
        },
        Route::Blob(name, d) => {
            let name = repo(name)?;
            let d = digest(d)?;
            match m {
                Method::GET => blobs::get(reg, name, d, req, true).await,
                Method::HEAD => blobs::get(reg, name, d, req, false).await,
                Method::DELETE => blobs::delete(reg, ctx, name, d).await,
                _ => Err(unsupported(&m)),
            }
        }
        Route::Uploads(name, None) => match m {
            Method::POST => uploads::start(reg, ctx, repo(name)?, req).await,
            _ => Err(unsupported(&m)),
        },
        Route::Uploads(name, Some(id)) => {
            let name = repo(name)?;
            match m {
                Method::GET | Method::HEAD => uploads::status(reg, name, id).await,
                Method::PATCH => uploads::patch(reg, name, id, req).await,
                Method::PUT => uploads::put(reg, name, id, req).await,
                Method::DELETE => uploads::cancel(reg, name, id).await,
                _ => Err(unsupported(&m)),
            }
        }
        Route::Manifest(name, reference) => {
            let name = repo(name)?;
            // A reference that is neither a tag nor a digest names no manifest: reading or deleting
            // it answers as for a missing manifest (as the spec answers); a PUT to it is invalid.
            let reference = match rreg_oci::Reference::parse(reference) {
                Ok(r) => r,
                Err(_) if m != Method::PUT => return Err(ServiceError::ManifestUnknown.into()),
                Err(e) => return Err(e.into()),
            };
            match m {
                Method::GET => manifests::get(reg, name, reference, req, true).await,
                Method::HEAD => manifests::get(reg, name, reference, req, false).await,
                Method::PUT => manifests::put(reg, ctx, name, reference, req).await,
                Method::DELETE => manifests::delete(reg, ctx, name, reference).await,
                _ => Err(unsupported(&m)),
            }
        }
    }
}

fn unsupported(m: &Method) -> ApiError {
    ApiError::with_message(ErrorCode::Unsupported, format!("method {m} is not supported here"))
}
