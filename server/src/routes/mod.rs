//! HTTP only: the router, request logging, and the mapping of errors to responses. Handlers parse
//! the request into rreg-oci types and call `services`; they never touch SQL or storage keys.

// Request data is never indexed, sliced or counted unchecked here: a panic would be a dropped request.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::string_slice, clippy::arithmetic_side_effects)
)]

mod api;
pub mod auth;
pub mod body;
pub mod errors;
mod health;
mod token;
mod ui;
mod v2;

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Response, Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use futures::future::LocalBoxFuture;

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

/// The whole HTTP surface: `/healthz`, `/token`, `/api/v1`, the web UI and `/v2` (whose paths are
/// split by `v2::route`, repository names holding slashes).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .service(
            web::resource("/token")
                .route(web::get().to(token::get_token))
                .route(web::post().to(token::post_token)),
        )
        .service(api::scope())
        .configure(ui::configure)
        .service(web::resource(["/v2", "/v2/", "/v2/{rest:.*}"]).to(v2::dispatch));
}

/// The application with a panic guard around it: a request whose handling panics is answered
/// `500` with an OCI error body (the panic hook of `telemetry` logs the panic on one line) instead
/// of dropping the connection. It wraps the whole application rather than being one of its
/// middlewares because a middleware cannot hold on to the request while the router needs it alone.
pub struct CatchPanic<F>(pub F);

impl<Req, F> ServiceFactory<Req> for CatchPanic<F>
where
    F: ServiceFactory<Req>,
    F::Response: Into<Response<BoxBody>>,
    F::Future: 'static,
    <F::Service as Service<Req>>::Future: 'static,
{
    type Response = Response<BoxBody>;
    type Error = F::Error;
    type Config = F::Config;
    type Service = CatchPanicService<F::Service>;
    type InitError = F::InitError;
    type Future = LocalBoxFuture<'static, Result<Self::Service, Self::InitError>>;

    fn new_service(&self, cfg: F::Config) -> Self::Future {
        let service = self.0.new_service(cfg);
        Box::pin(async move { service.await.map(CatchPanicService) })
    }
}

/// The service of [`CatchPanic`].
pub struct CatchPanicService<S>(S);

impl<Req, S> Service<Req> for CatchPanicService<S>
where
    S: Service<Req>,
    S::Response: Into<Response<BoxBody>>,
    S::Future: 'static,
{
    type Response = Response<BoxBody>;
    type Error = S::Error;
    type Future = LocalBoxFuture<'static, Result<Response<BoxBody>, S::Error>>;

    fn poll_ready(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&self, req: Req) -> Self::Future {
        use futures::FutureExt;
        use std::panic::AssertUnwindSafe;
        let Ok(fut) = std::panic::catch_unwind(AssertUnwindSafe(|| self.0.call(req))) else {
            return Box::pin(async { Ok(panic_response()) });
        };
        Box::pin(async move {
            match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(resp) => resp.map(Into::into),
                Err(_) => Ok(panic_response()),
            }
        })
    }
}

fn panic_response() -> Response<BoxBody> {
    let body = r#"{"errors":[{"code":"UNKNOWN","message":"internal server error"}]}"#;
    HttpResponse::InternalServerError()
        .content_type("application/json")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
        .into()
}

/// The Content-Security-Policy of the web UI: its own stylesheet and script, no inline script or
/// style, no framing, forms only to itself.
const UI_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What every request goes through, in one layer: the head-size limit (`server.max_header_bytes`,
/// `431`; the HTTP layer itself refuses heads over 128 KiB or with more than 96 headers), the
/// security headers of every answer (`nosniff` — blob downloads included: nothing is rendered as
/// what it is not —, no framing, no referrer to other sites; the UI's Content-Security-Policy;
/// HSTS when served over TLS), and the request log line (method, path, status, bytes, duration).
pub(crate) async fn edge(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let (max_head, https) = match req.app_data::<web::Data<Edge>>() {
        Some(e) => (e.max_head, e.https),
        None => (usize::MAX, false),
    };
    let head = req.headers().iter().fold(
        req.uri().path_and_query().map_or(0, |p| p.as_str().len()),
        |n, (k, v)| {
            n.saturating_add(k.as_str().len())
                .saturating_add(v.len())
                .saturating_add(4)
        },
    );
    let mut resp = if head > max_head {
        let resp = HttpResponse::build(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            .insert_header((header::CONNECTION, "close"))
            .finish();
        req.into_response(resp)
    } else {
        match next.call(req).await {
            Ok(r) => r.map_into_boxed_body(),
            Err(e) => {
                log(&method, &path, e.as_response_error().status_code().as_u16(), 0, started);
                return Err(e);
            }
        }
    };
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if path == "/" || path.starts_with("/ui") {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(UI_CSP));
    }
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    let bytes = match resp.response().body().size() {
        actix_web::body::BodySize::Sized(n) => n,
        _ => 0,
    };
    log(&method, &path, resp.status().as_u16(), bytes, started);
    Ok(resp)
}

/// What `edge` needs of the configuration.
#[derive(Clone, Copy)]
pub struct Edge {
    /// The largest request head accepted, in bytes (`server.max_header_bytes`).
    pub max_head: usize,
    /// Whether the server speaks HTTPS (HSTS).
    pub https: bool,
}

fn log(method: &actix_web::http::Method, path: &str, status: u16, bytes: u64, started: Instant) {
    tracing::info!(
        target: "rreg::http",
        %method,
        path,
        status,
        bytes,
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{test, App};

    #[actix_web::test]
    async fn a_panicking_handler_answers_500_with_an_oci_error() {
        async fn boom() -> &'static str {
            panic!("boom")
        }
        async fn fine() -> &'static str {
            "fine"
        }
        let app = App::new()
            .route("/boom", web::get().to(boom))
            .route("/fine", web::get().to(fine));
        let factory = CatchPanic(actix_service::IntoServiceFactory::into_factory(app));
        let svc = factory
            .new_service(actix_web::dev::AppConfig::default())
            .await
            .expect("service");
        let resp = svc
            .call(test::TestRequest::get().uri("/boom").to_request())
            .await
            .expect("answer");
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = actix_web::body::to_bytes(resp.into_body()).await.expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["errors"][0]["code"], "UNKNOWN");
        // The application goes on answering.
        let resp = svc
            .call(test::TestRequest::get().uri("/fine").to_request())
            .await
            .expect("answer");
        assert_eq!(resp.status(), StatusCode::OK);
    }
}
