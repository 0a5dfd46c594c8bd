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
        .layer(middleware::from_fn(log_request))
        // Bodies read whole (JSON of `/api/v1`, the form of `POST /token`) are bounded; `/v2` streams
        // its bodies and bounds them itself.
        .layer(DefaultBodyLimit::max(MAX_READ_BODY))
        .with_state(state)
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
