//! The REST API v1 (SPEC 13): JSON under `/api/v1`, bearer tokens, errors as
//! `{"error": {"code", "message", "details"}}`, and its OpenAPI document at `/api/openapi.json`.
//!
//! Routes are declared with `utoipa` annotations and registered through `utoipa_axum`, so the router
//! and the document come from the same list and cannot drift apart.

pub mod admin;
pub mod agents;
pub mod auth;
pub mod deliveries;
pub mod dto;
pub mod error;
pub mod media;
pub mod openapi;
pub mod tickets;
pub mod window;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(tickets::list_tickets))
        .routes(routes!(tickets::get_ticket, tickets::patch_ticket))
        .routes(routes!(window::get_window))
        .routes(routes!(window::post_reply))
        .routes(routes!(window::post_note))
        .routes(routes!(deliveries::failed_deliveries))
        .routes(routes!(media::get_media))
        .routes(routes!(agents::list_agents, agents::post_agent))
        .routes(routes!(openapi::openapi_json))
}

/// The API routes, to merge into the app's router.
pub fn router() -> Router<AppState> {
    api().split_for_parts().0
}

/// The OpenAPI document of every route in [`router`].
pub fn document() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}
