//! `GET /healthz`: 200 once the database answers.

use actix_web::{web, HttpResponse};

use super::AppState;

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.registry.db().ping().await {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ok\n"),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("database unavailable\n")
        }
    }
}
