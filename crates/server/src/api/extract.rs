//! The API's extractors: every way a request's body, query or path can be refused ends here as an
//! [`ApiError`] in the JSON shape, naming the field. Handlers take these instead of axum's `Json`,
//! `Query` and `Path`, whose rejections are plain text.
//!
//! - a body that is missing, not JSON or not an object: 400 `bad_request`;
//! - a body over `server.max_body_bytes`: 413 `payload_too_large`;
//! - a field or query parameter of the wrong type, unknown, repeated or holding U+0000: 422 `invalid`
//!   with `details.field` (`tags[1]`, `limit`);
//! - a path id that is not a number: 404, as it names nothing that exists.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use crate::AppState;

const NUL: &str = "must not contain U+0000 (NUL)";

/// The error of a value serde refused, against the field it was reading.
fn field_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>, whole: &str) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner().to_string();
    // A missing, unknown or repeated field has no path of its own: name it from serde's message.
    let field = if path == "." { inner.split('`').nth(1).unwrap_or(whole).to_owned() } else { path };
    ApiError::invalid(field, inner)
}

/// The path (`parameters.body.1`, `tags[2]`) of the first string or key in `value` holding U+0000.
/// PostgreSQL cannot store it, and no text a person writes needs it.
fn nul_in(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(s) => s.contains('\0').then(|| path.to_owned()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| nul_in(v, &format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            let key = k.replace('\0', "\\u0000");
            let child = if path.is_empty() { key } else { format!("{path}.{key}") };
            if k.contains('\0') {
                Some(child)
            } else {
                nul_in(v, &child)
            }
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

/// A JSON object body, deserialized with errors that name the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(state.max_body_bytes)
            } else {
                ApiError::BadRequest(format!("the body could not be read: {}", e.body_text()))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::BadRequest("the body is empty: send a JSON object".into()));
        }
        // Syntax errors first, so that only shape errors are reported against a field.
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(ApiError::BadRequest("the body must be a JSON object".into()));
        }
        from_value(value).map(ApiJson)
    }
}

/// A JSON object already parsed, deserialized as [`ApiJson`] does: a string holding U+0000 or a
/// field of the wrong shape is 422 `invalid` naming the field. For pages that post JSON too.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if let Some(field) = nul_in(&value, "") {
        return Err(ApiError::invalid(field, NUL));
    }
    serde_path_to_error::deserialize(value).map_err(|e| field_error(e, "body"))
}

/// Query parameters, deserialized with errors that name the parameter. Unknown parameters are ignored;
/// a repeated one is refused, as it would be ambiguous.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default().as_bytes();
        if let Some((key, _)) = form_urlencoded::parse(query).find(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return Err(ApiError::invalid(key.replace('\0', "\\u0000"), NUL));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| field_error(e, "query"))
    }
}

/// A numeric id from the path; anything else names nothing that exists (404).
pub struct PathId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(raw)) => raw.parse().map(PathId).map_err(|_| ApiError::NotFound(format!("{raw:?} is not an id"))),
            Err(e) => Err(ApiError::NotFound(e.body_text())),
        }
    }
}

/// Two numeric path ids (`/tickets/{id}/macros/{macro_id}`); one that is not a number is answered like
/// an id that does not exist, as [`PathId`] does.
pub struct PathIds(pub i64, pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PathIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<(String, String)>::from_request_parts(parts, state).await {
            Ok(Path((a, b))) => {
                let id = |raw: &str| raw.parse::<i64>().map_err(|_| ApiError::NotFound(format!("{raw:?} is not an id")));
                Ok(PathIds(id(&a)?, id(&b)?))
            }
            Err(e) => Err(ApiError::NotFound(e.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::nul_in;

    #[test]
    fn nul_is_found_by_its_path() {
        assert_eq!(nul_in(&json!({"body": "ok"}), ""), None);
        assert_eq!(nul_in(&json!({"body": "a\u{0}b"}), "").as_deref(), Some("body"));
        assert_eq!(nul_in(&json!({"tags": ["a", "\u{0}"]}), "").as_deref(), Some("tags[1]"));
        assert_eq!(nul_in(&json!({"parameters": {"body": {"1": "x\u{0}"}}}), "").as_deref(), Some("parameters.body.1"));
        assert_eq!(nul_in(&json!({"parameters": {"body": {"a\u{0}": "x"}}}), "").as_deref(), Some("parameters.body.a\\u0000"));
    }
}
