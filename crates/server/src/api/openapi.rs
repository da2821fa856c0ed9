//! The OpenAPI document: generated from the route annotations, served at `GET /api/openapi.json` and
//! committed as `docs/openapi.json` (a test keeps the two equal).

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Windowdesk REST API",
        description = "Tickets, replies, templates, held replies, SMS fallback, notes and failed deliveries of a Windowdesk WhatsApp support desk. \
                       Authenticate with `Authorization: Bearer wdk_…` (create a token with `windowdesk token create --name NAME`). \
                       Errors are `{\"error\": {\"code\", \"message\", \"details\"}}`.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "tickets", description = "Tickets, their window, replies and notes"),
        (name = "deliveries", description = "Messages that need attention: resend (as is, held, as a template, via SMS) or dismiss"),
        (name = "templates", description = "The template registry, synced from Meta"),
        (name = "numbers", description = "Business numbers and their ways out of a closed window"),
        (name = "agents", description = "The people tickets are assigned to"),
        (name = "meta", description = "This document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut Document) {
        if let Some(components) = doc.components.as_mut() {
            components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        }
    }
}

/// The base document (info, security); the paths are added by the router.
pub fn base() -> Document {
    ApiDoc::openapi()
}

/// The document, pretty-printed with a final newline, exactly as committed in `docs/openapi.json`.
pub fn render(doc: &Document) -> String {
    let mut text = doc.to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"cannot render the OpenAPI document: {e}\"}}"));
    text.push('\n');
    text
}

static RENDERED: LazyLock<String> = LazyLock::new(|| render(&super::document()));

#[utoipa::path(
    get, path = "/api/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "This OpenAPI document", content_type = "application/json"))
)]
pub async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], RENDERED.as_str())
}
