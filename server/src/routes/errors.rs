//! The one place errors become HTTP responses: OCI error envelopes for `/v2`. Internal failures are
//! logged with their cause and answered with an opaque `UNKNOWN`.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use rreg_oci::{DigestError, ErrorCode, ErrorEnvelope, NameError, ReferenceError};

use crate::services::ServiceError;

/// An error answered on `/v2`.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub detail: Option<serde_json::Value>,
    pub status: Option<StatusCode>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with the code's default message.
    pub fn new(code: ErrorCode) -> Self {
        ApiError::with_message(code, code.default_message())
    }

    /// An error with a message.
    pub fn with_message(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            detail: None,
            status: None,
            headers: Vec::new(),
        }
    }

    /// Adds a detail object.
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// Overrides the code's usual status.
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// Adds a response header.
    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        use ErrorCode as C;
        match e {
            ServiceError::NameUnknown => ApiError::new(C::NameUnknown),
            ServiceError::BlobUnknown => ApiError::new(C::BlobUnknown),
            ServiceError::UploadUnknown => ApiError::new(C::BlobUploadUnknown),
            ServiceError::UploadInvalid(m) => ApiError::with_message(C::BlobUploadInvalid, m),
            ServiceError::DigestInvalid(m) => ApiError::with_message(C::DigestInvalid, m),
            ServiceError::SizeInvalid(m) => ApiError::with_message(C::SizeInvalid, m),
            ServiceError::RangeInvalid { size } => {
                ApiError::new(C::RangeInvalid).header(header::CONTENT_RANGE, &format!("bytes */{size}"))
            }
            ServiceError::UploadOutOfOrder { expected, .. } => ApiError::with_message(
                C::RangeInvalid,
                format!("chunk does not start at the upload's offset {expected}"),
            ),
            ServiceError::ManifestUnknown => ApiError::new(C::ManifestUnknown),
            ServiceError::NotAcceptable(mt) => ApiError::with_message(
                C::ManifestUnknown,
                format!("manifest is stored as {mt}, which the Accept header does not list"),
            ),
            ServiceError::ManifestInvalid(m) => ApiError::with_message(C::ManifestInvalid, m),
            ServiceError::ManifestTooLarge { size, limit } => ApiError::with_message(
                C::SizeInvalid,
                format!("manifest of {size} bytes exceeds the limit of {limit}"),
            )
            .status(StatusCode::PAYLOAD_TOO_LARGE),
            ServiceError::ManifestBlobUnknown(d) => {
                ApiError::new(C::ManifestBlobUnknown).detail(serde_json::json!({ "digest": d }))
            }
            ServiceError::Unsupported(m) => ApiError::with_message(C::Unsupported, m),
            ServiceError::Unauthorized(m) => ApiError::with_message(C::Unauthorized, m),
            ServiceError::Denied(m) => ApiError::with_message(C::Denied, m),
            ServiceError::RateLimited { retry_after } => ApiError::with_message(
                C::TooManyRequests,
                format!("too many login attempts; retry in {retry_after} s"),
            )
            .header(header::RETRY_AFTER, &retry_after.to_string()),
            ServiceError::BadRequest(m) => ApiError::with_message(C::Unsupported, m).status(StatusCode::BAD_REQUEST),
            ServiceError::NotFound(m) => ApiError::with_message(C::NameUnknown, m),
            ServiceError::Conflict(m) => ApiError::with_message(C::Denied, m).status(StatusCode::CONFLICT),
            ServiceError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(C::Unknown)
            }
            ServiceError::Db(e) => internal(&e),
            ServiceError::Storage(e) => internal(&e),
        }
    }
}

fn internal(e: &dyn std::error::Error) -> ApiError {
    tracing::error!(error = %e, "internal error");
    ApiError::new(ErrorCode::Unknown)
}

impl From<NameError> for ApiError {
    fn from(e: NameError) -> Self {
        match e {
            NameError::InvalidName(n) => ApiError::new(ErrorCode::NameInvalid).detail(serde_json::json!({ "name": n })),
            NameError::InvalidTag(t) => ApiError::new(ErrorCode::TagInvalid).detail(serde_json::json!({ "tag": t })),
        }
    }
}

impl From<DigestError> for ApiError {
    fn from(e: DigestError) -> Self {
        ApiError::with_message(ErrorCode::DigestInvalid, e.to_string())
    }
}

impl From<ReferenceError> for ApiError {
    fn from(e: ReferenceError) -> Self {
        match e {
            ReferenceError::Digest(d) => d.into(),
            ReferenceError::Tag(t) => t.into(),
        }
    }
}

impl ApiError {
    /// The response: the status the code names (or the one set), the OCI error envelope, the headers.
    pub fn into_response(self) -> HttpResponse {
        let status = self
            .status
            .unwrap_or_else(|| StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        let body = ErrorEnvelope::single(self.code, self.message, self.detail);
        let mut resp = HttpResponse::build(status);
        for (k, v) in self.headers {
            resp.insert_header((k, v));
        }
        resp.json(body)
    }
}
