//! The OpenAPI document: generated from the route annotations, served at `GET /api/openapi.json` and
//! committed as `docs/openapi.json` (a test keeps the two equal).

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi, ToSchema};

use super::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Windowdesk REST API",
        description = "Tickets, replies, templates, held replies, SMS fallback, notes and failed deliveries of a Windowdesk WhatsApp support desk. \
                       Authenticate with `Authorization: Bearer wdk_…` (create a token with `windowdesk token create --name NAME`). \
                       Errors are `{\"error\": {\"code\", \"message\", \"details\"}}`; `details.field` names the field or query parameter at fault. \
                       Every list is `{\"data\": […], \"next\": cursor or null}`.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "tickets", description = "Tickets, their window, replies and notes"),
        (name = "deliveries", description = "Messages that need attention: resend (as is, held, as a template, via SMS) or dismiss"),
        (name = "templates", description = "The template registry, synced from Meta"),
        (name = "numbers", description = "Business numbers and their ways out of a closed window"),
        (name = "messages", description = "The media of a message"),
        (name = "agents", description = "The people tickets are assigned to"),
        (name = "customers", description = "Customers across business numbers: identities, tickets and notes"),
        (name = "search", description = "Tickets, customers and messages found by the search box's query language"),
        (name = "pricing", description = "Rate cards: the prices messages are estimated and settled with (docs/pricing.md)"),
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

/// The errors an operation can answer because of how it is called, whatever it does: each is added to
/// every operation it applies to (unless the operation describes it itself), so the list cannot drift
/// from the extractors that produce them (`ApiCaller`, `ApiJson`, `ApiQuery`, `PathId`).
const COMMON_ERRORS: [(&str, &str, &str); 6] = [
    ("400", "BadRequest", "`bad_request`: the body is missing, not JSON, or not a JSON object"),
    ("401", "Unauthorized", "`unauthorized`: no token, or an invalid or revoked one"),
    ("404", "NotFound", "`not_found`: nothing has this id"),
    ("413", "PayloadTooLarge", "`payload_too_large`: the body is over the desk's limit (`server.max_body_bytes`, 3 MiB by default)"),
    ("422", "Invalid", "`invalid`: a field or query parameter has a value the API does not accept; `details.field` names it"),
    ("503", "Unavailable", "`unavailable`: the database is unavailable; try again"),
];

fn is_public(op: &Operation) -> bool {
    // `security(())` on an operation: one empty requirement.
    op.security.as_ref().is_some_and(|reqs| reqs.iter().all(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({}))))
}

/// Whether an operation can answer the common error `status`.
fn answers(op: &Operation, status: &str) -> bool {
    if is_public(op) {
        return false;
    }
    let has = |place: ParameterIn| op.parameters.as_deref().unwrap_or_default().iter().any(|p| p.parameter_in == place);
    let body = op.request_body.is_some();
    match status {
        "400" | "413" => body,
        "404" => has(ParameterIn::Path),
        "422" => body || has(ParameterIn::Query),
        _ => true,
    }
}

/// Adds the shared error responses to the document's components and to every operation that can answer them.
pub fn add_common_errors(doc: &mut Document) {
    let error = || Content::new(Some(Ref::from_schema_name(ErrorBody::name())));
    let components = doc.components.get_or_insert_with(Default::default);
    for (status, name, description) in COMMON_ERRORS {
        let mut response = ResponseBuilder::new().description(description).content("application/json", error());
        if status == "401" {
            let challenge = HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["Bearer"])))
                .description(Some("`Bearer`"))
                .build();
            response = response.header("WWW-Authenticate", challenge);
        }
        components.responses.insert(name.to_owned(), RefOr::T(response.build()));
    }
    for item in doc.paths.paths.values_mut() {
        let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in ops.into_iter().flatten() {
            let missing: Vec<_> = COMMON_ERRORS.iter().filter(|(status, ..)| answers(op, status)).collect();
            for (status, name, _) in missing {
                op.responses.responses.entry((*status).to_owned()).or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
            }
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
