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

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, patch, post, put};
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use errors::JsonError;

use super::auth::basic_credentials;
use super::AppState;
use crate::auth::Principal;
use crate::services::orgs::Orgs;
use crate::services::ServiceError;

/// Result of a handler.
type ApiResult = Result<Response, JsonError>;

/// Page size when `n` is not given.
const DEFAULT_PAGE: i64 = 100;
/// Largest page size; larger `n` are reduced to it.
const MAX_PAGE: i64 = 1000;

/// The routes of `/api/v1` (nested by `routes::router`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(session::login))
        .route("/user", get(users::me))
        .route("/user/sessions", delete(session::end_all))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{name}", patch(users::update).delete(users::delete))
        .route("/orgs", get(orgs::list).post(orgs::create))
        .route("/orgs/{org}", get(orgs::get).patch(orgs::update).delete(orgs::delete))
        .route("/orgs/{org}/members", get(orgs::members))
        .route(
            "/orgs/{org}/members/{user}",
            put(orgs::set_member).delete(orgs::remove_member),
        )
        .route("/orgs/{org}/teams", get(teams::list).post(teams::create))
        .route("/orgs/{org}/teams/{team}", get(teams::get).delete(teams::delete))
        .route(
            "/orgs/{org}/teams/{team}/members/{user}",
            put(teams::add_member).delete(teams::remove_member),
        )
        .route(
            "/orgs/{org}/teams/{team}/permissions",
            get(teams::permissions)
                .put(teams::set_permission)
                .delete(teams::remove_permission),
        )
        .route("/repositories", get(browse::list_repositories).post(repos::create))
        .route(
            "/repositories/{*name}",
            get(browse::dispatch).patch(repos::update).delete(repos::delete),
        )
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", delete(tokens::revoke))
        .route("/audit", get(audit::list))
        .route("/usage/{*name}", get(usage::get))
        // `/api/v1` and `/api/v1/` themselves would otherwise miss the fallback below.
        .route("/", any(no_such_endpoint))
        .fallback(no_such_endpoint)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn no_such_endpoint() -> JsonError {
    JsonError::not_found("no such endpoint")
}

async fn method_not_allowed() -> JsonError {
    JsonError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this endpoint")
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

impl FromRequestParts<AppState> for Who {
    type Rejection = JsonError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_default();
        let principal = identify(state, &parts.headers, &addr).await?;
        Ok(Who { principal, addr })
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

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = JsonError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| JsonError::new(e.status(), e.body_text()))
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

impl<T, S> FromRequestParts<S> for Segments<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = JsonError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if has_nul(parts.uri.path()) {
            return Err(JsonError::bad_request(NUL_REFUSED));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Segments(p.0))
            .map_err(|e| JsonError::bad_request(e.body_text()))
    }
}

/// Query parameters, in order; repeated or unknown ones are ignored.
pub(crate) struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = JsonError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(has_nul) {
            return Err(JsonError::bad_request(NUL_REFUSED));
        }
        Ok(Params(
            parts
                .uri
                .query()
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        ))
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
fn ok(body: Value) -> ApiResult {
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

/// `201` with a JSON body.
fn created(body: Value) -> ApiResult {
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// `204`.
fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A page of a list: `{"items":[…]}`. `rows` holds up to `n + 1` rows; when there is one more than
/// `n`, it is dropped and `Link: <path?…&cursor=…>; rel="next"` points at the next page, keeping the
/// query parameters in `keep`.
fn page<T>(
    path: &str,
    keep: &[(&str, Option<&str>)],
    cursor: (&str, fn(&T) -> String),
    n: i64,
    mut rows: Vec<T>,
    view: fn(&T) -> Value,
) -> ApiResult {
    let more = rows.len() as i64 > n;
    rows.truncate(n.max(0) as usize);
    let items: Vec<Value> = rows.iter().map(view).collect();
    let mut resp = (StatusCode::OK, axum::Json(serde_json::json!({ "items": items }))).into_response();
    if let (true, Some(last)) = (more, rows.last()) {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in keep {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        q.append_pair("n", &n.to_string());
        q.append_pair(cursor.0, &(cursor.1)(last));
        let link = format!("</api/v1{path}?{}>; rel=\"next\"", q.finish());
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(resp)
}

/// Unix milliseconds as RFC 3339.
fn time(ms: i64) -> String {
    crate::services::accounts::rfc3339(ms.div_euclid(1000))
}
