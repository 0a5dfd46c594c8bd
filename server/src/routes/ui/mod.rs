//! The web UI under `/ui`: plain server-rendered HTML over the same services as the browsing API —
//! sign in (a session cookie holding the API session token), namespaces and organizations, the
//! repository list and search, a repository's tags, a tag's layer history with the `docker pull`
//! command, and an image's layer analysis. Pages are `maud` templates (`html!`), which escape every
//! value they insert; only `Markup` (HTML the templates made) goes in as it is. No build step: the
//! stylesheet and the one script (copy buttons, `/ui/app.js`) are compiled in; no script or style
//! is inline, so the Content-Security-Policy allows none. State-changing forms (sign in, sign out)
//! are refused from other origins. Private content is shown only to those who may read it; what
//! they may not read is "not found", as on the API.

mod compare;
mod pages;

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::AppState;
use crate::auth::Principal;
use crate::services::orgs::Orgs;
use crate::services::ServiceError;

const COOKIE: &str = "rreg_session";
const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("app.js");

/// The routes of the UI (`/` redirects to `/ui/`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(|| async { redirect("/ui/") }))
        .route("/ui", web::get().to(|| async { redirect("/ui/") }))
        .route("/ui/", web::get().to(pages::home))
        .route("/ui/style.css", web::get().to(style))
        .route("/ui/app.js", web::get().to(script))
        .service(
            web::resource("/ui/login")
                .route(web::get().to(login_form))
                .route(web::post().to(login)),
        )
        .route("/ui/logout", web::post().to(logout))
        .route("/ui/r/{path:.*}", web::get().to(pages::repository));
}

/// `303 See Other` to `to`: after a form, the browser GETs the target.
pub(crate) fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish()
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(SCRIPT)
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

fn cross_site() -> HttpResponse {
    error_page(
        StatusCode::FORBIDDEN,
        None,
        "this form must be sent from this site (cross-site request refused)",
    )
}

async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLE)
}

/// Percent-encodes a query value.
pub(crate) fn q(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A rendered page.
pub(crate) struct Html(pub Markup);

impl Html {
    /// The page with `200 OK`.
    pub fn into_response(self) -> HttpResponse {
        self.status(StatusCode::OK)
    }

    /// The page with another status.
    pub fn status(self, status: StatusCode) -> HttpResponse {
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(self.0.into_string())
    }
}

/// A whole page around `body`.
pub(crate) fn layout(title: &str, who: Option<&Principal>, body: Markup) -> Html {
    Html(html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · rreg" }
                link rel="stylesheet" href="/ui/style.css";
                script src="/ui/app.js" defer {}
            }
            body {
                header {
                    a.brand href="/ui/" { "rreg" }
                    nav {
                        @if let Some(p) = who {
                            span.who { (p.name) }
                            " "
                            form.inline method="post" action="/ui/logout" {
                                button { "Sign out" }
                            }
                        } @else {
                            a href="/ui/login" { "Sign in" }
                        }
                    }
                }
                main { (body) }
            }
        }
    })
}

/// An error page with a status.
pub(crate) fn error_page(status: StatusCode, who: Option<&Principal>, message: &str) -> HttpResponse {
    let code = status.as_u16();
    let body = html! {
        h1 { (code) }
        p { (message) }
    };
    layout(&code.to_string(), who, body).status(status)
}

/// What a service error shows: internal causes are logged, never shown.
pub(crate) fn service_error(e: ServiceError, who: Option<&Principal>) -> HttpResponse {
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

fn login_page(next: &str, message: Option<&str>) -> Html {
    let body = html! {
        h1 { "Sign in" }
        @if let Some(m) = message {
            p.error { (m) }
        }
        form.login method="post" action="/ui/login" {
            input type="hidden" name="next" value=(next);
            label {
                "Username "
                input #username name="username" autocomplete="username" required;
            }
            label {
                "Password "
                input #password name="password" type="password" autocomplete="current-password" required;
            }
            button #sign-in type="submit" { "Sign in" }
        }
    };
    layout("Sign in", None, body)
}

async fn login_form(lq: web::Query<LoginQuery>) -> HttpResponse {
    login_page(&lq.next, None).into_response()
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

async fn login(s: web::Data<AppState>, req: HttpRequest, f: web::Form<LoginForm>) -> HttpResponse {
    if !same_origin(req.headers()) {
        return cross_site();
    }
    let addr = crate::routes::body::peer_ip(&req);
    let p = match s.accounts.login(&f.username, &f.password, &addr).await {
        Ok(p) => p,
        Err(ServiceError::RateLimited { retry_after }) => {
            let page = login_page(
                &f.next,
                Some(&format!("Too many failed sign-ins; retry in {retry_after} s.")),
            );
            return page.status(StatusCode::TOO_MANY_REQUESTS);
        }
        Err(ServiceError::Unauthorized(_)) => {
            return login_page(&f.next, Some("Wrong username or password.")).status(StatusCode::UNAUTHORIZED)
        }
        Err(e) => return service_error(e, None),
    };
    let (token, expires_in) = match s.accounts.issue_session(&p) {
        Ok(t) => t,
        Err(_) => {
            return login_page(&f.next, Some("Sign in with your password, not a token."))
                .status(StatusCode::UNAUTHORIZED)
        }
    };
    Orgs::new(&s.accounts)
        .record(&p.name, "login", &p.name, "ui", &addr)
        .await;
    let secure = if s.accounts.https { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Lax; Max-Age={expires_in}{secure}");
    let mut resp = redirect(safe_next(&f.next));
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn logout(s: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if !same_origin(req.headers()) {
        return cross_site();
    }
    // The session ends on the server too, not only in this browser.
    if let Some(token) = session_cookie(req.headers()) {
        if let Err(e) = s.accounts.end_session(&token).await {
            tracing::debug!(error = %e, "signing out a session that is not valid");
        }
    }
    let mut resp = redirect("/ui/");
    resp.headers_mut().insert(
        header::SET_COOKIE,
        header::HeaderValue::from_static("rreg_session=; Path=/ui; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    resp
}

/// Sizes as Docker prints them (decimal units, three significant digits).
pub(crate) fn size(n: i64) -> String {
    let n = n.max(0) as f64;
    let mut v = n;
    let mut unit = "B";
    for u in ["kB", "MB", "GB", "TB"] {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    if unit == "B" {
        format!("{n} B")
    } else if v >= 100.0 {
        format!("{v:.0} {unit}")
    } else if v >= 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.2} {unit}")
    }
}

/// A time as "3 hours ago" (a `<time>` element with the exact time on hover), or "—" for none.
pub(crate) fn ago(ms: Option<i64>) -> Markup {
    let Some(ms) = ms else {
        return html! { "—" };
    };
    let exact = crate::services::accounts::rfc3339(ms.div_euclid(1000));
    let secs = crate::db::now_ms().saturating_sub(ms).max(0) / 1000;
    let text = match secs {
        0..=59 => "just now".to_owned(),
        60..=3599 => plural(secs / 60, "minute"),
        3600..=86_399 => plural(secs / 3600, "hour"),
        86_400..=2_591_999 => plural(secs / 86_400, "day"),
        2_592_000..=31_535_999 => plural(secs / 2_592_000, "month"),
        _ => plural(secs / 31_536_000, "year"),
    };
    html! {
        time datetime=(exact) title=(exact) { (text) }
    }
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
    use std::collections::HashMap;

    use super::*;
    use crate::services::browse::RepoStats;
    use crate::services::orgs::{Repo, Visibility};

    #[test]
    fn templates_escape_what_they_insert() {
        let repo = Repo {
            name: "admin/web".to_owned(),
            namespace: "admin".to_owned(),
            visibility: Visibility::Public,
            description: "<script>alert(\"x\")</script> & more".to_owned(),
            created_at: 0,
            access: None,
        };
        let rows = pages::repo_rows(std::slice::from_ref(&repo), &HashMap::<String, RepoStats>::new());
        let page = layout("<b>title</b>", None, rows).0.into_string();
        assert!(
            page.contains("<div class=\"desc\">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more</div>"),
            "{page}"
        );
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(
            page.contains("<title>&lt;b&gt;title&lt;/b&gt; · rreg</title>"),
            "{page}"
        );
        assert!(page.contains("<a href=\"/ui/r/admin/web\">admin/web</a>"), "{page}");
        assert!(page.contains("<script src=\"/ui/app.js\" defer></script>"), "{page}");
        // A login page keeps the `next` it was given, escaped into the attribute.
        let login = login_page("/ui/\"><script>", Some("<i>no</i>")).0.into_string();
        assert!(login.contains("value=\"/ui/&quot;&gt;&lt;script&gt;\""), "{login}");
        assert!(
            login.contains("<p class=\"error\">&lt;i&gt;no&lt;/i&gt;</p>"),
            "{login}"
        );
        assert!(ago(Some(0))
            .into_string()
            .starts_with("<time datetime=\"1970-01-01T00:00:00Z\""));
        assert_eq!(ago(None).into_string(), "—");
    }

    #[test]
    fn sizes_and_next() {
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1234), "1.23 kB");
        assert_eq!(size(45_600_000), "45.6 MB");
        assert_eq!(safe_next("//evil.example"), "/ui/");
        assert_eq!(safe_next("/ui/r/a/b"), "/ui/r/a/b");
        assert_eq!(safe_next("https://evil"), "/ui/");
    }
}
