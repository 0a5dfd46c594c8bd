//! `/api/v1`: the JSON management API (users, organizations, members, teams, repository settings,
//! personal access tokens, the audit log) and the browsing API (repositories, tags, history, layers). HTTP only: this module identifies the caller, parses the
//! request, makes the one access check of each operation through `services::orgs`, and renders JSON.
//! Errors are always the JSON envelope of `errors`; see `docs/api.md` for the contract.

mod audit;
mod browse;
mod errors;
mod orgs;
mod repos;
mod session;
mod teams;
mod tokens;
mod usage;
mod users;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest, HttpResponse, Resource};
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use errors::JsonError;

use super::auth::basic_credentials;
use super::body::{peer_ip, Body};
use super::{AppState, MAX_READ_BODY};
use crate::auth::Principal;
use crate::services::orgs::Orgs;
use crate::services::ServiceError;

/// Result of a handler.
type ApiResult = Result<HttpResponse, JsonError>;

/// Page size when `n` is not given.
const DEFAULT_PAGE: i64 = 100;
/// Largest page size; larger `n` are reduced to it.
const MAX_PAGE: i64 = 1000;

/// A path of `/api/v1` whose other methods answer `405` in the JSON envelope.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// The routes of `/api/v1` (mounted by `routes::configure`).
pub fn scope() -> actix_web::Scope {
    use web::{delete, get, patch, post, put};
    web::scope("/api/v1")
        .service(resource("/login").route(post().to(session::login)))
        .service(resource("/user").route(get().to(users::me)))
        .service(resource("/user/sessions").route(delete().to(session::end_all)))
        .service(
            resource("/users")
                .route(get().to(users::list))
                .route(post().to(users::create)),
        )
        .service(
            resource("/users/{name}")
                .route(patch().to(users::update))
                .route(delete().to(users::delete)),
        )
        .service(
            resource("/orgs")
                .route(get().to(orgs::list))
                .route(post().to(orgs::create)),
        )
        .service(
            resource("/orgs/{org}")
                .route(get().to(orgs::get))
                .route(patch().to(orgs::update))
                .route(delete().to(orgs::delete)),
        )
        .service(resource("/orgs/{org}/members").route(get().to(orgs::members)))
        .service(
            resource("/orgs/{org}/members/{user}")
                .route(put().to(orgs::set_member))
                .route(delete().to(orgs::remove_member)),
        )
        .service(
            resource("/orgs/{org}/teams")
                .route(get().to(teams::list))
                .route(post().to(teams::create)),
        )
        .service(
            resource("/orgs/{org}/teams/{team}")
                .route(get().to(teams::get))
                .route(delete().to(teams::delete)),
        )
        .service(
            resource("/orgs/{org}/teams/{team}/members/{user}")
                .route(put().to(teams::add_member))
                .route(delete().to(teams::remove_member)),
        )
        .service(
            resource("/orgs/{org}/teams/{team}/permissions")
                .route(get().to(teams::permissions))
                .route(put().to(teams::set_permission))
                .route(delete().to(teams::remove_permission)),
        )
        .service(
            resource("/repositories")
                .route(get().to(browse::list_repositories))
                .route(post().to(repos::create)),
        )
        .service(
            resource("/repositories/{name:.+}")
                .route(get().to(browse::dispatch))
                .route(patch().to(repos::update))
                .route(delete().to(repos::delete)),
        )
        .service(
            resource("/tokens")
                .route(get().to(tokens::list))
                .route(post().to(tokens::create)),
        )
        .service(resource("/tokens/{id}").route(delete().to(tokens::revoke)))
        .service(resource("/audit").route(get().to(audit::list)))
        .service(resource("/usage/{name:.+}").route(get().to(usage::get)))
        .default_service(web::to(no_such_endpoint))
}

async fn no_such_endpoint() -> HttpResponse {
    actix_web::ResponseError::error_response(&JsonError::not_found("no such endpoint"))
}

async fn method_not_allowed() -> HttpResponse {
    actix_web::ResponseError::error_response(&JsonError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this endpoint",
    ))
}

// ------------------------------------------------------------------------------------------------
// Extractors
// ------------------------------------------------------------------------------------------------

/// Who is calling: a user identified by Basic credentials (password or personal access token) or
/// by a session token (`Authorization: Bearer`, from `POST /api/v1/login`), or nobody. Credentials
/// that are present but wrong are refused here (`401`, or `429` past the failed-login limit).
/// Registry tokens (`/token`) are not session tokens and are refused too.
pub(crate) struct Who {
    principal: Option<Principal>,
    /// The peer address, for the audit log and login limits.
    pub addr: String,
}

impl Who {
    /// The caller's account; `401` for anonymous callers.
    pub fn user(&self) -> Result<&Principal, JsonError> {
        self.principal.as_ref().ok_or_else(|| {
            ServiceError::Unauthorized("authentication required: Basic credentials or a session token".into()).into()
        })
    }

    /// The caller's account, if any.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// The account name for the audit log (empty for anonymous callers).
    pub fn name(&self) -> &str {
        self.principal.as_ref().map_or("", |p| p.name.as_str())
    }

    /// Records an action of this caller in the audit log.
    pub async fn audit(&self, orgs: &Orgs<'_>, action: &str, target: &str, detail: &str) {
        orgs.record(self.name(), action, target, detail, &self.addr).await;
    }
}

impl FromRequest for Who {
    type Error = JsonError;
    type Future = LocalBoxFuture<'static, Result<Self, JsonError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let headers = req.headers().clone();
        let addr = peer_ip(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| JsonError::from(ServiceError::Internal("no application state".into())))?;
            let principal = identify(&state, &headers, &addr).await?;
            Ok(Who { principal, addr })
        })
    }
}

async fn identify(state: &AppState, headers: &HeaderMap, addr: &str) -> Result<Option<Principal>, ServiceError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| ServiceError::Unauthorized("malformed Authorization header".into()))?;
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(state.accounts.verify_session(rest.trim()).await?));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let (u, p) = basic_credentials(headers)
            .filter(|(u, p)| !u.contains('\0') && !p.contains('\0'))
            .ok_or_else(|| ServiceError::Unauthorized("malformed Basic credentials".into()))?;
        return Ok(Some(state.accounts.login(&u, &p, addr).await?));
    }
    Err(ServiceError::Unauthorized(format!(
        "unsupported authorization scheme {scheme:?}"
    )))
}

/// The request body, read whole; parsed with `json` once the caller has been checked, so that
/// anonymous callers learn nothing from validation errors.
pub(crate) struct RawBody(Bytes);

impl FromRequest for RawBody {
    type Error = JsonError;
    type Future = LocalBoxFuture<'static, Result<Self, JsonError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = match web::Payload::from_request(req, payload).into_inner() {
            Ok(p) => Body::new(req, p),
            Err(e) => {
                let e = JsonError::bad_request(e.to_string());
                return Box::pin(async move { Err(e) });
            }
        };
        Box::pin(async move {
            let too_large = || {
                JsonError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request body is larger than {MAX_READ_BODY} bytes"),
                )
            };
            if declared.is_some_and(|n| n > MAX_READ_BODY as u64) {
                return Err(too_large());
            }
            match body.read_to_limit(MAX_READ_BODY).await {
                Ok(b) => Ok(RawBody(b)),
                Err(None) => Err(too_large()),
                Err(Some(e)) => Err(JsonError::bad_request(format!("reading the request body failed: {e}"))),
            }
        })
    }
}

impl RawBody {
    /// Parses the body as `T`, a JSON object whose unknown fields are refused. Any failure is `400`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, JsonError> {
        // serde would also fill a struct from an array; only objects are accepted.
        if self.0.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(JsonError::bad_request("the request body must be a JSON object"));
        }
        // Raw NUL bytes are invalid JSON; escaped ones would reach the database (PostgreSQL refuses
        // them in text).
        if self.0.windows(6).any(|w| w == b"\\u0000") {
            return Err(JsonError::bad_request(NUL_REFUSED));
        }
        serde_json::from_slice(&self.0).map_err(|e| JsonError::bad_request(format!("invalid JSON body: {e}")))
    }
}

const NUL_REFUSED: &str = "NUL characters are not allowed";

/// Whether a percent-encoded path or query holds an encoded NUL.
fn has_nul(s: &str) -> bool {
    s.as_bytes().windows(3).any(|w| w.eq_ignore_ascii_case(b"%00"))
}

/// Path parameters; a malformed one (bad percent-encoding) is a JSON `400`.
pub(crate) struct Segments<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Segments<T> {
    type Error = JsonError;
    type Future = std::future::Ready<Result<Self, JsonError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(if has_nul(req.uri().path()) {
            Err(JsonError::bad_request(NUL_REFUSED))
        } else {
            web::Path::<T>::extract(req)
                .into_inner()
                .map(|p| Segments(p.into_inner()))
                .map_err(|e| JsonError::bad_request(e.to_string()))
        })
    }
}

/// Query parameters, in order; repeated or unknown ones are ignored.
pub(crate) struct Params(Vec<(String, String)>);

impl FromRequest for Params {
    type Error = JsonError;
    type Future = std::future::Ready<Result<Self, JsonError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let q = req.query_string();
        std::future::ready(if has_nul(q) {
            Err(JsonError::bad_request(NUL_REFUSED))
        } else {
            Ok(Params(form_urlencoded::parse(q.as_bytes()).into_owned().collect()))
        })
    }
}

impl Params {
    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The page size `n`: default 100, at most 1000; not a positive number is `400`.
    pub fn page_size(&self) -> Result<i64, JsonError> {
        match self.get("n") {
            None | Some("") => Ok(DEFAULT_PAGE),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if n >= 1 => Ok(n.min(MAX_PAGE)),
                _ => Err(JsonError::bad_request(format!(
                    "n must be a number from 1 to {MAX_PAGE}, not {s:?}"
                ))),
            },
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Responses
// ------------------------------------------------------------------------------------------------

/// `200` with a JSON body.
fn ok(body: impl Serialize) -> ApiResult {
    Ok(HttpResponse::Ok().json(body))
}

/// `201` with a JSON body.
fn created(body: impl Serialize) -> ApiResult {
    Ok(HttpResponse::Created().json(body))
}

/// `204`.
fn no_content() -> ApiResult {
    Ok(HttpResponse::NoContent().finish())
}

/// A page of a list: `{"items":[…]}`. `rows` holds up to `n + 1` rows; when there is one more than
/// `n`, it is dropped and `Link: <path?…&cursor=…>; rel="next"` points at the next page, keeping the
/// query parameters in `keep`.
fn page<T, V: Serialize>(
    path: &str,
    keep: &[(&str, Option<&str>)],
    cursor: (&str, fn(&T) -> String),
    n: i64,
    mut rows: Vec<T>,
    view: fn(&T) -> V,
) -> ApiResult {
    let n = usize::try_from(n).unwrap_or(0);
    let more = rows.len() > n;
    rows.truncate(n);
    let items: Vec<V> = rows.iter().map(view).collect();
    let mut resp = HttpResponse::Ok();
    if let (true, Some(last)) = (more, rows.last()) {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in keep {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        q.append_pair("n", &n.to_string());
        q.append_pair(cursor.0, &(cursor.1)(last));
        resp.insert_header((header::LINK, format!("</api/v1{path}?{}>; rel=\"next\"", q.finish())));
    }
    Ok(resp.json(rreg_oci::api::Items { items }))
}

/// Unix milliseconds as RFC 3339.
fn time(ms: i64) -> String {
    crate::services::accounts::rfc3339(ms.div_euclid(1000))
}
