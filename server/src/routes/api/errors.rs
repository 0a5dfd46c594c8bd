//! The one place errors of `/api/v1` become responses: `{"error":{"code":…,"message":…}}` with the
//! status the code names. Internal failures are logged with their cause and answered `INTERNAL`
//! without it.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::db::DbError;
use crate::services::ServiceError;

/// An error answered on `/api/v1`.
#[derive(Debug)]
pub struct JsonError {
    pub status: StatusCode,
    pub message: String,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl JsonError {
    /// An error with a status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> JsonError {
        JsonError {
            status,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// `400 BAD_REQUEST`.
    pub fn bad_request(message: impl Into<String>) -> JsonError {
        JsonError::new(StatusCode::BAD_REQUEST, message)
    }

    /// `404 NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> JsonError {
        JsonError::new(StatusCode::NOT_FOUND, message)
    }

    fn header(mut self, name: HeaderName, value: &str) -> JsonError {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    /// The code of the envelope, named after the status.
    pub fn code(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "BAD_REQUEST",
            StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
            StatusCode::FORBIDDEN => "FORBIDDEN",
            StatusCode::NOT_FOUND => "NOT_FOUND",
            StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
            StatusCode::CONFLICT => "CONFLICT",
            StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
            StatusCode::TOO_MANY_REQUESTS => "TOO_MANY_REQUESTS",
            _ => "INTERNAL",
        }
    }
}

fn internal(cause: &dyn std::fmt::Display) -> JsonError {
    tracing::error!(error = %cause, "internal error");
    JsonError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

impl From<ServiceError> for JsonError {
    fn from(e: ServiceError) -> Self {
        use ServiceError as E;
        match e {
            E::Unauthorized(m) => JsonError::new(StatusCode::UNAUTHORIZED, m)
                .header(header::WWW_AUTHENTICATE, "Bearer realm=\"rreg-api\""),
            E::Denied(m) => JsonError::new(StatusCode::FORBIDDEN, m),
            E::RateLimited { retry_after } => JsonError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many login attempts; retry in {retry_after} s"),
            )
            .header(header::RETRY_AFTER, &retry_after.to_string()),
            E::NotFound(m) => JsonError::not_found(m),
            E::NameUnknown => JsonError::not_found("repository not found"),
            E::BlobUnknown | E::ManifestUnknown | E::UploadUnknown => JsonError::not_found(e.to_string()),
            E::Db(DbError::NotFound) => JsonError::not_found("not found"),
            E::Conflict(m) => JsonError::new(StatusCode::CONFLICT, m),
            E::Db(DbError::Conflict) => JsonError::new(StatusCode::CONFLICT, "conflicting concurrent change; retry"),
            E::BadRequest(_)
            | E::UploadInvalid(_)
            | E::DigestInvalid(_)
            | E::SizeInvalid(_)
            | E::RangeInvalid { .. }
            | E::UploadOutOfOrder { .. }
            | E::ManifestInvalid(_)
            | E::ManifestTooLarge { .. }
            | E::ManifestBlobUnknown(_)
            | E::Unsupported(_)
            | E::NotAcceptable(_) => JsonError::bad_request(match e {
                E::BadRequest(m) => m,
                other => other.to_string(),
            }),
            E::Internal(m) => internal(&m),
            E::Db(e) => internal(&e),
            E::Storage(e) => internal(&e),
        }
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl ResponseError for JsonError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status);
        for (k, v) in &self.headers {
            resp.insert_header((k.clone(), v.clone()));
        }
        resp.json(rreg_oci::api::ErrorBody {
            error: rreg_oci::api::ErrorDetail {
                code: self.code().to_owned(),
                message: self.message.clone(),
            },
        })
    }
}
