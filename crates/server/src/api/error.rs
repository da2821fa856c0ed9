//! The API's errors, `{"error": {"code", "message", "details"}}` (SPEC 13, 15). Store and reply errors
//! are mapped here, once; handlers only use `?`. Internal details are logged, never sent.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use windowdesk_store::StoreError;

use super::admin::AdminError;
use crate::replies::ReplyError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    /// Malformed JSON or a body that is not an object.
    #[error("{0}")]
    BadRequest(String),
    /// A body in a content type the operation does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A body over `server.max_body_bytes`.
    #[error("the body is larger than this desk accepts ({0} bytes)")]
    PayloadTooLarge(usize),
    /// A well-formed request with a value the API does not accept; names the field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String, details: Value },
    #[error("the database is unavailable; try again")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(String),
    /// Meta or another provider refused or did not answer.
    #[error("{0}")]
    Upstream(String),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid { field: field.into(), message: message.into() }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::Conflict { code: "conflict", message: message.into(), details: Value::Null }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Invalid { .. } => "invalid",
            ApiError::Conflict { code, .. } => code,
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
            ApiError::Upstream(_) => "upstream",
        }
    }

    fn details(&self) -> Value {
        match self {
            ApiError::Invalid { field, .. } => json!({"field": field}),
            ApiError::Conflict { details, .. } => details.clone(),
            _ => Value::Null,
        }
    }
}

/// The error body, as documented.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `unauthorized`, `not_found`, `bad_request`, `payload_too_large`,
    /// `unsupported_media_type`, `invalid`, `conflict`,
    /// `window_closed`, `unavailable`, `upstream`, `internal`.
    pub code: String,
    pub message: String,
    /// `{"field": …}` for `invalid`; the window and the ways out for `window_closed`; otherwise null.
    #[schema(value_type = Object, nullable = true)]
    pub details: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Unavailable(source) => tracing::error!(error = %source, "store error"),
            ApiError::Internal(what) => tracing::error!(error = %what, "internal error"),
            _ => {}
        }
        let body = ErrorBody { error: ErrorDetail { code: self.code().to_owned(), message: self.to_string(), details: self.details() } };
        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, ApiError::Unauthorized(_)) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ApiError::conflict(m),
            StoreError::NotFound(m) => ApiError::NotFound(m),
            _ if e.is_data_error() => {
                tracing::warn!(error = %e, "the database refused the request's data");
                ApiError::invalid("body", "holds data the database cannot store (a NUL character, a number out of range)")
            }
            StoreError::Sqlite(_) | StoreError::Postgres(_) | StoreError::Closed | StoreError::Io(_) => ApiError::Unavailable(e),
            StoreError::Config(_) | StoreError::Migration(_) | StoreError::Corrupt(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<ReplyError> for ApiError {
    fn from(e: ReplyError) -> Self {
        match e {
            ReplyError::Invalid { field, message } => ApiError::invalid(field, message),
            ReplyError::NoTicket(id) => ApiError::NotFound(format!("ticket {id} does not exist")),
            ReplyError::Conflict(m) => ApiError::conflict(m),
            ReplyError::Store(s) => s.into(),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid { field, message } => ApiError::invalid(field, message),
            AdminError::EmailTaken(email) => ApiError::Conflict {
                code: "conflict",
                message: format!("an agent with email {email} already exists"),
                details: json!({"field": "email"}),
            },
            AdminError::Store(s) => s.into(),
            AdminError::Hashing(m) => ApiError::Internal(m),
        }
    }
}
