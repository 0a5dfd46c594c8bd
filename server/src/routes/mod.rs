//! HTTP only: the router, request logging, and the mapping of errors to responses. Handlers parse
//! the request into rreg-oci types and call `services`; they never touch SQL or storage keys.

mod api;
pub mod auth;
pub mod errors;
mod health;
mod token;
mod ui;
mod v2;

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;

use std::sync::Arc;

use crate::services::{Accounts, Registry};

/// Largest request body read into memory whole (JSON and form bodies), in bytes.
pub const MAX_READ_BODY: usize = 256 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub registry: Registry,
    pub accounts: Arc<Accounts>,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/token", get(token::get_token).post(token::post_token))
        .nest("/api/v1", api::router())
        .merge(ui::router())
        .route("/v2", any(v2::dispatch))
        .route("/v2/", any(v2::dispatch))
        .route("/v2/{*rest}", any(v2::dispatch))
        .layer(middleware::from_fn(catch_panic))
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .layer(middleware::from_fn(log_request))
        // Bodies read whole (JSON of `/api/v1`, the form of `POST /token`) are bounded; `/v2` streams
        // its bodies and bounds them itself.
        .layer(DefaultBodyLimit::max(MAX_READ_BODY))
        .with_state(state)
}

/// A handler that panics answers `500` with an OCI error body (the panic hook of `telemetry` logs it
/// on one line) instead of dropping the connection.
async fn catch_panic(req: Request, next: Next) -> Response {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(resp) => resp,
        Err(_) => {
            let body = r#"{"errors":[{"code":"UNKNOWN","message":"internal server error"}]}"#;
            let mut resp = Response::new(axum::body::Body::from(body));
            *resp.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            resp.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            );
            resp
        }
    }
}

/// The Content-Security-Policy of the web UI: its own stylesheet and script, no inline script or
/// style, no framing, forms only to itself.
const UI_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Security headers on every answer: `nosniff` (blob downloads included: nothing is rendered as
/// what it is not), no framing, no referrer to other sites; the UI's Content-Security-Policy; HSTS
/// when served over TLS.
async fn security_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    use axum::http::{header, HeaderValue};
    let ui = req.uri().path() == "/" || req.uri().path().starts_with("/ui");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if ui {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(UI_CSP));
    }
    if state.accounts.https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
}

/// Logs each request: method, path, status, response bytes, duration.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let resp = next.run(req).await;
    let bytes = resp
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| axum::body::HttpBody::size_hint(resp.body()).exact())
        .unwrap_or(0);
    tracing::info!(
        target: "rreg::http",
        %method,
        path,
        status = resp.status().as_u16(),
        bytes,
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_an_oci_error() {
        async fn boom() -> &'static str {
            panic!("boom")
        }
        let mut app: Router = Router::new()
            .route("/boom", get(boom))
            .layer(middleware::from_fn(catch_panic));
        let req = Request::builder()
            .uri("/boom")
            .body(axum::body::Body::empty())
            .expect("request");
        let resp = tower_service::Service::call(&mut app, req).await.expect("infallible");
        assert_eq!(resp.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(resp.into_body(), 1024).await.expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["errors"][0]["code"], "UNKNOWN");
    }
}
