//! The web UI under `/ui`: plain server-rendered HTML over the same services as the browsing API —
//! sign in (a session cookie holding the API session token), namespaces and organizations, the
//! repository list and search, a repository's tags, a tag's layer history with the `docker pull`
//! command, and an image's layer analysis. No build step: the stylesheet and the one script (copy
//! buttons, `/ui/app.js`) are compiled in; no script is inline, so the Content-Security-Policy
//! allows none. State-changing forms (sign in, sign out) are refused from other origins. Private content is shown only to those who may read it; what
//! they may not read is "not found", as on the API.

mod compare;
mod pages;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::AppState;
use crate::auth::Principal;
use crate::services::orgs::Orgs;
use crate::services::ServiceError;

const COOKIE: &str = "rreg_session";
const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("app.js");

/// The routes of the UI (`/` redirects to `/ui/`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(pages::home))
        .route("/ui/style.css", get(style))
        .route("/ui/app.js", get(script))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/r/{*path}", get(pages::repository))
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// Whether a state-changing request comes from this site: a browser says where a request comes
/// from (`Sec-Fetch-Site`, or `Origin` on every POST); one from another origin is refused (CSRF).
/// Requests that carry neither (not from a browser) cannot ride a visitor's cookie.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
            let authority = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                .unwrap_or("");
            !host.is_empty() && authority.eq_ignore_ascii_case(host)
        }
    }
}

fn cross_site() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        None,
        "this form must be sent from this site (cross-site request refused)",
    )
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Percent-encodes a query value.
pub(crate) fn q(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A whole page.
pub(crate) fn layout(title: &str, who: Option<&Principal>, body: &str) -> Html<String> {
    let user = match who {
        Some(p) => format!(
            "<span class=\"who\">{}</span> <form method=\"post\" action=\"/ui/logout\" class=\"inline\"><button>Sign out</button></form>",
            esc(&p.name)
        ),
        None => "<a href=\"/ui/login\">Sign in</a>".to_owned(),
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · rreg</title><link rel=\"stylesheet\" href=\"/ui/style.css\"><script src=\"/ui/app.js\" defer></script></head><body>\
         <header><a class=\"brand\" href=\"/ui/\">rreg</a><nav>{user}</nav></header><main>{body}</main></body></html>",
        esc(title)
    ))
}

/// An error page with a status.
pub(crate) fn error_page(status: StatusCode, who: Option<&Principal>, message: &str) -> Response {
    let body = format!("<h1>{}</h1><p>{}</p>", status.as_u16(), esc(message));
    (status, layout(&status.as_u16().to_string(), who, &body)).into_response()
}

/// What a service error shows: internal causes are logged, never shown.
pub(crate) fn service_error(e: ServiceError, who: Option<&Principal>) -> Response {
    let (status, msg) = match e {
        ServiceError::NotFound(m) => (StatusCode::NOT_FOUND, m),
        ServiceError::NameUnknown | ServiceError::ManifestUnknown | ServiceError::BlobUnknown => {
            (StatusCode::NOT_FOUND, "not found".to_owned())
        }
        ServiceError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
        ServiceError::Denied(m) => (StatusCode::FORBIDDEN, m),
        ServiceError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m),
        other => {
            tracing::error!(error = %other, "internal error");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error".to_owned())
        }
    };
    error_page(status, who, &msg)
}

/// The signed-in account, from the session cookie (an invalid or expired one counts as none).
pub(crate) async fn viewer(state: &AppState, headers: &HeaderMap) -> Option<Principal> {
    let token = session_cookie(headers)?;
    state.accounts.verify_session(&token).await.ok()
}

/// The session cookie's value.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

#[derive(Deserialize)]
struct LoginQuery {
    #[serde(default)]
    next: String,
}

fn login_page(next: &str, message: Option<&str>) -> Html<String> {
    let msg = message.map_or(String::new(), |m| format!("<p class=\"error\">{}</p>", esc(m)));
    layout(
        "Sign in",
        None,
        &format!(
            "<h1>Sign in</h1>{msg}<form method=\"post\" action=\"/ui/login\" class=\"login\">\
             <input type=\"hidden\" name=\"next\" value=\"{}\">\
             <label>Username <input name=\"username\" id=\"username\" autocomplete=\"username\" required></label>\
             <label>Password <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
             <button type=\"submit\" id=\"sign-in\">Sign in</button></form>",
            esc(next)
        ),
    )
}

async fn login_form(Query(lq): Query<LoginQuery>) -> Html<String> {
    login_page(&lq.next, None)
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Only local paths of the UI are followed after signing in.
fn safe_next(next: &str) -> &str {
    if next.starts_with("/ui/") && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/ui/"
    }
}

async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if !same_origin(&headers) {
        return cross_site();
    }
    let addr = peer.ip().to_string();
    let p = match s.accounts.login(&f.username, &f.password, &addr).await {
        Ok(p) => p,
        Err(ServiceError::RateLimited { retry_after }) => {
            let page = login_page(
                &f.next,
                Some(&format!("Too many failed sign-ins; retry in {retry_after} s.")),
            );
            return (StatusCode::TOO_MANY_REQUESTS, page).into_response();
        }
        Err(ServiceError::Unauthorized(_)) => {
            return (
                StatusCode::UNAUTHORIZED,
                login_page(&f.next, Some("Wrong username or password.")),
            )
                .into_response()
        }
        Err(e) => return service_error(e, None),
    };
    let (token, expires_in) = match s.accounts.issue_session(&p) {
        Ok(t) => t,
        Err(_) => {
            return (
                StatusCode::UNAUTHORIZED,
                login_page(&f.next, Some("Sign in with your password, not a token.")),
            )
                .into_response()
        }
    };
    Orgs::new(&s.accounts)
        .record(&p.name, "login", &p.name, "ui", &addr)
        .await;
    let secure = if s.accounts.https { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Lax; Max-Age={expires_in}{secure}");
    let mut resp = Redirect::to(safe_next(&f.next)).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return cross_site();
    }
    // The session ends on the server too, not only in this browser.
    if let Some(token) = session_cookie(&headers) {
        if let Err(e) = s.accounts.end_session(&token).await {
            tracing::debug!(error = %e, "signing out a session that is not valid");
        }
    }
    let mut resp = Redirect::to("/ui/").into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("rreg_session=; Path=/ui; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    resp
}

/// Sizes as Docker prints them (decimal units, three significant digits).
pub(crate) fn size(n: i64) -> String {
    let n = n.max(0) as f64;
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", units[i])
    } else if v >= 10.0 {
        format!("{v:.1} {}", units[i])
    } else {
        format!("{v:.2} {}", units[i])
    }
}

/// A time as "3 hours ago" with the exact time on hover.
pub(crate) fn ago(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return "—".to_owned();
    };
    let exact = crate::services::accounts::rfc3339(ms.div_euclid(1000));
    let secs = (crate::db::now_ms() - ms).max(0) / 1000;
    let text = match secs {
        0..=59 => "just now".to_owned(),
        60..=3599 => plural(secs / 60, "minute"),
        3600..=86_399 => plural(secs / 3600, "hour"),
        86_400..=2_591_999 => plural(secs / 86_400, "day"),
        2_592_000..=31_535_999 => plural(secs / 2_592_000, "month"),
        _ => plural(secs / 31_536_000, "year"),
    };
    format!("<time datetime=\"{exact}\" title=\"{exact}\">{text}</time>")
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit} ago")
    } else {
        format!("{n} {unit}s ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_sizes() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1234), "1.23 kB");
        assert_eq!(size(45_600_000), "45.6 MB");
        assert_eq!(safe_next("//evil.example"), "/ui/");
        assert_eq!(safe_next("/ui/r/a/b"), "/ui/r/a/b");
        assert_eq!(safe_next("https://evil"), "/ui/");
    }
}
