//! The REST API v1 (SPEC 13): JSON under `/api/v1`, bearer tokens, errors as
//! `{"error": {"code", "message", "details"}}`, and its OpenAPI document at `/api/openapi.json`.
//!
//! Routes are declared with `utoipa` annotations and registered through `utoipa_axum`, so the router
//! and the document come from the same list and cannot drift apart.

pub mod admin;
pub mod agents;
pub mod attachments;
pub mod auth;
pub mod automations;
pub mod customers;
pub mod deliveries;
pub mod dto;
pub mod error;
pub mod extract;
pub mod fallbacks;
pub mod hours;
pub mod http_targets;
pub mod macros;
pub mod media;
pub mod openapi;
pub mod rate_cards;
pub mod reports;
pub mod rules;
pub mod schema;
pub mod search;
pub mod templates;
pub mod tickets;
pub mod window;
pub mod workflows;

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
        .merge(
            // A file may be up to Meta's largest limit (100 MB), far over the desk's body limit.
            OpenApiRouter::new()
                .routes(routes!(attachments::post_attachment))
                .layer(axum::extract::DefaultBodyLimit::max(crate::attachments::MAX_UPLOAD_BODY_BYTES)),
        )
        .routes(routes!(templates::ticket_templates, templates::post_ticket_template))
        .routes(routes!(templates::preview_ticket_template))
        .routes(routes!(fallbacks::post_held_reply))
        .routes(routes!(fallbacks::post_ticket_sms))
        .routes(routes!(deliveries::failed_deliveries))
        .routes(routes!(fallbacks::post_resend))
        .routes(routes!(fallbacks::post_dismiss))
        .routes(routes!(templates::list_templates))
        .routes(routes!(templates::post_sync))
        .routes(routes!(fallbacks::list_numbers))
        .routes(routes!(fallbacks::put_number_settings))
        .routes(routes!(rate_cards::list_rate_cards, rate_cards::import_rate_cards))
        .routes(routes!(rate_cards::export_rate_cards))
        .routes(routes!(rate_cards::get_rate_card, rate_cards::delete_rate_card))
        .routes(routes!(reports::cost_report))
        .routes(routes!(reports::export_cost_report))
        .routes(routes!(reports::cost_messages))
        .routes(routes!(reports::export_cost_messages))
        .routes(routes!(reports::ticket_costs))
        .routes(routes!(hours::list_schedules, hours::post_schedule))
        .routes(routes!(hours::get_schedule, hours::put_schedule, hours::delete_schedule))
        .routes(routes!(hours::put_number_schedule))
        .routes(routes!(hours::import_holidays, hours::delete_import))
        .routes(routes!(macros::list_macros, macros::post_macro))
        .routes(routes!(macros::get_macro, macros::put_macro, macros::delete_macro))
        .routes(routes!(macros::apply_macro))
        .routes(routes!(rules::list_rules, rules::post_rule))
        .routes(routes!(rules::dry_run_rule))
        .routes(routes!(rules::get_rule, rules::put_rule, rules::delete_rule))
        .routes(routes!(automations::list_runs))
        .routes(routes!(workflows::list_workflows, workflows::post_workflow))
        .routes(routes!(workflows::check_workflow))
        .routes(routes!(workflows::get_workflow, workflows::put_workflow, workflows::delete_workflow))
        .routes(routes!(workflows::list_workflow_runs))
        .routes(routes!(workflows::get_workflow_run))
        .routes(routes!(http_targets::list_targets, http_targets::post_target))
        .routes(routes!(http_targets::get_target, http_targets::put_target, http_targets::delete_target))
        .routes(routes!(http_targets::list_deliveries))
        .routes(routes!(media::get_media))
        .routes(routes!(agents::list_agents, agents::post_agent))
        .routes(routes!(agents::get_agent, agents::patch_agent))
        .routes(routes!(customers::get_customer, customers::patch_customer))
        .routes(routes!(customers::customer_tickets))
        .routes(routes!(customers::post_customer_note))
        .routes(routes!(customers::merge_customer))
        .routes(routes!(customers::list_merges))
        .routes(routes!(customers::list_duplicates))
        .routes(routes!(customers::undo_merge))
        .routes(routes!(search::search_tickets))
        .routes(routes!(search::search_customers))
        .routes(routes!(search::search_messages))
        .routes(routes!(openapi::openapi_json))
}

/// The API routes, to merge into the app's router.
pub fn router() -> Router<AppState> {
    api().split_for_parts().0
}

/// The OpenAPI document of every route in [`router`], with the errors every operation can answer.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = api().split_for_parts().1;
    openapi::add_common_errors(&mut doc);
    doc
}
