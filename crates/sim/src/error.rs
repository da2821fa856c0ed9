//! Errors, exactly as Meta's Graph API shapes them:
//! `{"error": {"message", "type", "code", "error_subcode"?, "error_data"?: {"messaging_product", "details"}, "fbtrace_id"}}`
//! for HTTP answers, and `{"code", "title", "message", "error_data": {"details"}, "href"}` inside a
//! `failed` status webhook.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::{json, Map, Value};

const ERROR_CODES_HREF: &str = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";

/// A Graph API error answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("HTTP {http_status}: {message} (code {code})")]
pub struct GraphError {
    pub http_status: u16,
    /// Meta's `message`, e.g. `(#131047) Re-engagement message`.
    pub message: String,
    /// `OAuthException` or `GraphMethodException`.
    pub kind: &'static str,
    pub code: i64,
    pub subcode: Option<i64>,
    /// The short title webhooks carry (`Re-engagement message`).
    pub title: String,
    /// `error_data.details`: what exactly was wrong, naming the field when there is one.
    pub details: Option<String>,
    pub is_transient: Option<bool>,
}

/// The title and details Meta uses for the WhatsApp error codes the sim produces.
pub fn describe(code: i64) -> (&'static str, &'static str) {
    match code {
        131_047 => (
            "Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
        ),
        130_429 => ("Rate limit hit", "Cloud API message throughput has been reached."),
        131_056 => (
            "(Business Account, Consumer Account) pair rate limit hit",
            "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
        ),
        132_000 => ("Number of parameters does not match the expected number of params", "Number of parameters does not match"),
        132_001 => ("Template name does not exist in the translation", "Template name does not exist in the translation"),
        132_012 => ("Parameter format does not match format in the created template", "Parameter format does not match"),
        132_015 => ("Template is Paused", "Template is paused due to low quality so it cannot be sent in a template message."),
        132_016 => (
            "Template is Disabled",
            "Template has been paused too many times due to low quality and is now permanently disabled.",
        ),
        131_053 => ("Media upload error", "Unable to upload the media used in the message."),
        131_026 => ("Message undeliverable", "Unable to deliver message."),
        // Meta's BSUID guide (mirrored at dualhook.com/docs/contacts-bsuid-api-changes).
        131_062 => (
            "Business-scoped User ID recipients are not supported",
            "Business-scoped User ID recipients are not supported for this message.",
        ),
        131_000 => ("Something went wrong", "Message failed to send due to an unknown error."),
        131_016 => ("Service unavailable", "A service is temporarily unavailable."),
        131_051 => ("Unsupported message type", "Message type is not currently supported."),
        130_472 => ("User's number is part of an experiment", "Failed to send message because this user's phone number is part of an experiment"),
        1 => ("An unknown error occurred", "An unknown error occurred"),
        2 => ("Service temporarily unavailable", "An unexpected error occurred. Please retry your request"),
        4 => ("Application request limit reached", "Too many API calls."),
        100 => ("Invalid parameter", "Invalid parameter"),
        190 => ("Invalid OAuth access token", "Invalid OAuth access token - Cannot parse access token"),
        _ => ("Error", "The request could not be processed."),
    }
}

impl GraphError {
    /// A WhatsApp error with Meta's usual message and details for `code`.
    pub fn whatsapp(http_status: u16, code: i64) -> Self {
        let (title, details) = describe(code);
        Self {
            http_status,
            message: format!("(#{code}) {title}"),
            kind: "OAuthException",
            code,
            subcode: None,
            title: title.to_owned(),
            details: Some(details.to_owned()),
            is_transient: None,
        }
    }

    #[must_use]
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// No token at all (the spec's `MissingAccessToken`).
    pub fn missing_token() -> Self {
        Self {
            http_status: 401,
            message: "An access token is required to request this resource.".into(),
            kind: "OAuthException",
            code: 104,
            subcode: None,
            title: "Access token required".into(),
            details: None,
            is_transient: None,
        }
    }

    /// A token the sim does not know.
    pub fn invalid_token() -> Self {
        Self {
            http_status: 401,
            message: "Invalid OAuth access token - Cannot parse access token".into(),
            kind: "OAuthException",
            code: 190,
            subcode: None,
            title: "Invalid OAuth access token".into(),
            details: None,
            is_transient: None,
        }
    }

    /// An id that is not a node the token may use: Graph's "Unsupported post request" (100/33).
    pub fn unknown_object(method: &str, id: &str) -> Self {
        Self {
            http_status: 400,
            message: format!(
                "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
            kind: "GraphMethodException",
            code: 100,
            subcode: Some(33),
            title: "Invalid parameter".into(),
            details: None,
            is_transient: None,
        }
    }

    /// Code 100 about one field of the request. `details` names the field.
    pub fn invalid_param(details: impl Into<String>) -> Self {
        Self::whatsapp(400, 100).with_details(details)
    }

    /// Code 100 for a missing required field, worded as Meta does.
    pub fn required(field: &str) -> Self {
        let mut e = Self::invalid_param(format!("The parameter {field} is required."));
        e.message = format!("(#100) The parameter {field} is required.");
        e
    }

    /// The answer of a Meta having a bad day (HTTP 500, transient).
    pub fn internal() -> Self {
        Self {
            http_status: 500,
            message: "An unexpected error occurred. Please retry your request later.".into(),
            kind: "OAuthException",
            code: 2,
            subcode: None,
            title: "Service temporarily unavailable".into(),
            details: None,
            is_transient: Some(true),
        }
    }

    /// The HTTP body.
    pub fn body(&self) -> Value {
        let mut e = Map::new();
        e.insert("message".into(), json!(self.message));
        e.insert("type".into(), json!(self.kind));
        e.insert("code".into(), json!(self.code));
        if let Some(sub) = self.subcode {
            e.insert("error_subcode".into(), json!(sub));
        }
        if let Some(t) = self.is_transient {
            e.insert("is_transient".into(), json!(t));
        }
        if let Some(d) = &self.details {
            e.insert("error_data".into(), json!({"messaging_product": "whatsapp", "details": d}));
        }
        e.insert("fbtrace_id".into(), json!(fbtrace_id()));
        json!({ "error": e })
    }

    /// The same error inside a `failed` status webhook.
    pub fn webhook_error(&self) -> Value {
        let mut e = json!({"code": self.code, "title": self.title, "message": self.title, "href": ERROR_CODES_HREF});
        if let Some(d) = &self.details {
            e["error_data"] = json!({ "details": d });
        }
        e
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.http_status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = (status, Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // What Graph sends alongside a 401.
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("OAuth \"Facebook Platform\" \"invalid_token\" \"Invalid OAuth access token\""),
            );
        }
        resp
    }
}

/// A random trace id like Meta's (`AXsgnV2Cm3ZMGF3dF_cfYIn`).
pub fn fbtrace_id() -> String {
    let tail: String = rand::thread_rng().sample_iter(&Alphanumeric).take(22).map(char::from).collect();
    format!("A{tail}")
}

/// Errors of the sim's own API (the `say` function and the `/sim/…` control endpoints); not Meta's.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("unknown phone_number_id {0}")]
    UnknownNumber(String),
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("unknown media id {0}")]
    UnknownMedia(String),
    #[error("no template {name} in {language}{}", waba_id.as_deref().map(|w| format!(" for WABA {w}")).unwrap_or_default())]
    UnknownTemplate { name: String, language: String, waba_id: Option<String> },
    /// Something that exists already (a template added twice).
    #[error("{0}")]
    Conflict(String),
}

impl SimError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid { field, reason: reason.into() }
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status = match self {
            SimError::UnknownNumber(_) | SimError::UnknownMedia(_) | SimError::UnknownTemplate { .. } => StatusCode::NOT_FOUND,
            SimError::Invalid { .. } => StatusCode::BAD_REQUEST,
            SimError::Conflict(_) => StatusCode::CONFLICT,
        };
        let field = match &self {
            SimError::Invalid { field, .. } => Some(*field),
            _ => None,
        };
        (status, Json(json!({"error": {"message": self.to_string(), "field": field}}))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_closed_body_is_metas() {
        let e = GraphError::whatsapp(400, 131_047);
        let b = e.body();
        assert_eq!(b["error"]["code"], 131_047);
        assert_eq!(b["error"]["type"], "OAuthException");
        assert_eq!(b["error"]["message"], "(#131047) Re-engagement message");
        assert_eq!(
            b["error"]["error_data"]["details"],
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
        );
        assert!(b["error"]["fbtrace_id"].as_str().unwrap().len() > 10);
        let w = e.webhook_error();
        assert_eq!(w["title"], "Re-engagement message");
        assert_eq!(w["href"], ERROR_CODES_HREF);
    }

    #[test]
    fn auth_errors() {
        assert_eq!(GraphError::invalid_token().body()["error"]["code"], 190);
        assert_eq!(GraphError::missing_token().http_status, 401);
        let u = GraphError::unknown_object("post", "42").body();
        assert_eq!(u["error"]["error_subcode"], 33);
        assert!(u["error"].get("error_data").is_none());
    }
}
