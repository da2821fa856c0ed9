//! The agent web interface (SPEC 8): server-rendered pages (maud) with one small hand-written
//! script, live updates over server-sent events, sessions with CSRF protection.
//!
//! - [`session`]: sign-in, sessions, CSRF, the sign-in rate limit; the [`session::Agent`] extractor.
//! - [`inbox`]: the notifier lists, views and their counts.
//! - [`ticket`]: the ticket page, the composer and what agents do to tickets.
//! - [`search`]: the search page and its tabs; [`customers`]: the customer's page.
//! - [`agents`]: the admin's Agents pages; [`account`]: passwords and API tokens.
//! - [`macro_admin`]: the Macros page, where agents manage their own macros and admins the shared ones.
//! - [`live`]: the event stream and the fragments pages refetch.
//! - [`render`]: the page frame and its navigation counts; [`components`]: view pieces pages share
//!   (actor names, times, pills); [`format`]: times and durations for people.
//!
//! Every route but `/login` and its stylesheet needs a session. Customer content is untrusted: maud
//! escapes everything it renders, and the Content-Security-Policy allows only this origin's script.

pub mod account;
pub mod admin;
pub mod agents;
pub mod attach;
pub mod automation_runs;
pub mod bulk;
pub mod chart;
pub mod components;
pub mod customers;
pub mod delivery;
pub mod event_log;
pub mod format;
pub mod hours;
pub mod http_targets;
pub mod inbox;
pub mod live;
pub mod macro_admin;
pub mod macros;
pub mod merge;
pub mod numbers;
pub mod picker;
pub mod rate_cards;
pub mod render;
pub mod reports;
pub mod rules;
pub mod saved_views;
pub mod search;
pub mod session;
pub mod side_panel;
pub mod templates;
pub mod thread;
pub mod ticket;
pub mod ways_out;
pub mod workflows;

use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use windowdesk_store::StoreError;

use crate::config::WebConfig;
use crate::replies::ReplyError;
use crate::AppState;

/// What the pages need that is not in the store: settings and the sign-in rate limiters.
pub struct WebState {
    pub config: WebConfig,
    pub limits: session::LoginLimits,
}

impl WebState {
    pub fn new(config: &WebConfig) -> Self {
        WebState { config: config.clone(), limits: session::LoginLimits::new(config.login_attempts_per_minute) }
    }
}

/// The policy of every page: scripts, styles, images and media from this origin only; no inline
/// script, no inline style attribute, no framing, forms post only here.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; \
                       connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/assets/app.css", get(assets::css))
        .route("/assets/app.js", get(assets::js))
        .route("/favicon.ico", get(assets::favicon))
        .route("/", get(inbox::inbox_page))
        .route("/inbox/more", get(inbox::more))
        .route("/views/{view}", get(inbox::view_page).post(saved_views::update))
        .route("/views", post(saved_views::create))
        .route("/views/{id}/delete", post(saved_views::delete))
        .route("/failed", get(inbox::failed_page))
        .route("/notifications", get(inbox::notifications_page))
        .route("/tickets/bulk", post(bulk::apply))
        .route("/tickets/{id}", get(ticket::ticket_page))
        .route("/tickets/{id}/reply", post(ticket::reply))
        .route(
            "/tickets/{id}/attachment",
            post(attach::attach).layer(axum::extract::DefaultBodyLimit::max(crate::attachments::MAX_UPLOAD_BODY_BYTES)),
        )
        .route("/tickets/{id}/note", post(ticket::note))
        .route("/tickets/{id}/typing", post(ticket::typing))
        .route("/tickets/{id}/presence", post(ticket::presence))
        .route("/tickets/{id}/update", post(ticket::update))
        .route("/tickets/{id}/live", get(live::ticket_fragment))
        .route("/tickets/{id}/hold", post(ways_out::hold))
        .route("/tickets/{id}/sms", post(ways_out::sms))
        .route("/tickets/{id}/templates", post(picker::send))
        .route("/tickets/{id}/templates/preview", post(picker::preview))
        .route("/tickets/{id}/picker", get(picker::chosen_fragment))
        .route("/tickets/{id}/macros/{macro_id}", post(macros::apply))
        .route("/tickets/{id}/macros/{macro_id}/preview", get(macros::preview))
        .route("/deliveries/{id}/resend", post(ways_out::resend))
        .route("/deliveries/{id}/dismiss", post(ways_out::dismiss))
        .route("/media/{message_id}", get(ticket::media))
        .route("/live/events", get(live::events))
        .route("/live/counts", get(live::counts))
        .route("/live/inbox", get(live::inbox_fragment))
        .route("/search", get(search::search_page))
        .route("/customers/{id}", get(customers::customer_page))
        .route("/customers/{id}/name", post(customers::rename))
        .route("/customers/{id}/notes", post(customers::add_note))
        .route("/customers/{id}/merge", get(merge::merge_page).post(merge::merge))
        .route("/merges/{id}/undo", post(merge::undo))
        .route("/settings", get(admin::settings_page).post(admin::save_settings))
        .route("/macros", get(macro_admin::macros_page).post(macro_admin::create))
        .route("/macros/new", get(macro_admin::new_page))
        .route("/macros/check", post(macro_admin::check))
        .route("/macros/{id}", get(macro_admin::edit_page).post(macro_admin::update))
        .route("/macros/{id}/delete", post(macro_admin::delete))
        .route("/admin/agents", get(agents::agents_page).post(agents::add_agent))
        .route("/admin/agents/{id}", get(agents::agent_page).post(agents::save_details))
        .route("/admin/agents/password", post(agents::reset))
        .route("/admin/agents/role", post(agents::change_role))
        .route("/admin/agents/active", post(agents::set_active))
        .route("/admin/api-tokens", get(account::tokens_page).post(account::create_token))
        .route("/admin/api-tokens/{id}/revoke", post(account::revoke_token))
        .route("/settings/password", post(account::change_own))
        .route("/reports/costs", get(reports::costs_page))
        .route("/reports/costs.csv", get(reports::costs_csv))
        .route("/reports/costs/messages", get(reports::messages_page))
        .route("/reports/costs/messages.csv", get(reports::messages_csv))
        .route("/admin/rate-cards", get(rate_cards::cards_page))
        .route("/admin/rate-cards/export", get(rate_cards::export))
        .route("/admin/rate-cards/import", post(rate_cards::import))
        .route("/admin/rate-cards/{id}", get(rate_cards::card_page))
        .route("/admin/rate-cards/{id}/delete", post(rate_cards::delete))
        .route("/admin/hours", get(hours::hours_page).post(hours::create))
        .route("/admin/hours/{id}", post(hours::update))
        .route("/admin/hours/{id}/delete", post(hours::delete))
        .route("/admin/hours/{id}/import", post(hours::import))
        .route("/admin/hours/{id}/import/remove", post(hours::remove_import))
        .route("/admin/hours/numbers/{id}", post(hours::assign))
        .route("/admin/rules", get(rules::rules_page).post(rules::create))
        .route("/admin/automation-runs", get(automation_runs::runs_page))
        .route("/admin/workflows", get(workflows::workflows_page).post(workflows::create))
        .route("/admin/workflows/new", get(workflows::new_page))
        .route("/admin/workflows/check", post(workflows::check))
        .route("/admin/workflows/{id}", get(workflows::edit_page).post(workflows::update))
        .route("/admin/workflows/{id}/enabled", post(workflows::set_enabled))
        .route("/admin/workflows/{id}/delete", post(workflows::delete))
        .route("/admin/workflow-runs", get(workflows::runs_page))
        .route("/admin/http-targets", get(http_targets::targets_page).post(http_targets::create))
        .route("/admin/http-targets/{id}", get(http_targets::deliveries_page))
        .route("/admin/http-targets/{id}/enabled", post(http_targets::set_enabled))
        .route("/admin/http-targets/{id}/delete", post(http_targets::delete))
        .route("/admin/rules/new", get(rules::new_page))
        .route("/admin/rules/check", post(rules::check))
        .route("/admin/rules/dry-run", post(rules::dry_run))
        .route("/admin/rules/{id}", get(rules::edit_page).post(rules::update))
        .route("/admin/rules/{id}/enabled", post(rules::set_enabled))
        .route("/admin/rules/{id}/delete", post(rules::delete))
        .route("/admin/numbers", get(numbers::numbers_page))
        .route("/admin/numbers/{id}", post(numbers::save_number))
        .route("/admin/templates", get(templates::templates_page))
        .route("/admin/templates/sync", post(templates::sync_now))
        .layer(axum::middleware::from_fn(security_headers))
}

/// Headers on every web response (the API and webhooks answer JSON and are left alone).
async fn security_headers(req: axum::extract::Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// The script and stylesheet, embedded in the binary: no build step, nothing fetched.
mod assets {
    use axum::http::header;
    use axum::response::IntoResponse;

    use super::session::Agent;

    pub const CSS: &str = include_str!("../../assets/app.css");
    const JS: &str = include_str!("../../assets/app.js");

    /// Public: the sign-in page needs it too. It holds nothing but styles.
    pub async fn css() -> impl IntoResponse {
        ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "private, max-age=300")], CSS)
    }

    /// The browser asks for it on every page; a 404 would be an error in its console.
    pub async fn favicon() -> impl IntoResponse {
        (axum::http::StatusCode::NO_CONTENT, [(header::CACHE_CONTROL, "public, max-age=86400")])
    }

    pub async fn js(_agent: Agent) -> impl IntoResponse {
        ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "private, max-age=300")], JS)
    }
}

/// How a web handler fails: a page that says what went wrong, never a stack of JSON.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the database is unavailable: {0}")]
    Store(#[from] StoreError),
}

/// How a failed send or ticket action reads on a page.
pub fn reply_error(e: ReplyError, ticket_id: i64) -> WebError {
    match e {
        ReplyError::Invalid { field, message } => WebError::BadRequest(format!("{field}: {message}")),
        ReplyError::NoTicket(_) => WebError::NotFound(format!("There is no ticket {ticket_id}.")),
        ReplyError::Conflict(m) => WebError::Conflict(m),
        ReplyError::Store(e) => e.into(),
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = match &self {
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Store(StoreError::NotFound(_)) => StatusCode::NOT_FOUND,
            WebError::Store(StoreError::Conflict(_)) => StatusCode::CONFLICT,
            WebError::Store(e) if e.is_data_error() => StatusCode::BAD_REQUEST,
            WebError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        if let WebError::Store(e) = &self {
            if e.is_data_error() {
                tracing::warn!(error = %e, "the database refused a form's data");
                let message = "The text holds a character the desk cannot store (such as a NUL character). Remove it and try again.";
                return (status, Html(render::error_page("Bad Request", message).into_string())).into_response();
            }
        }
        if let WebError::Store(e) = &self {
            tracing::warn!(error = %e, "web request failed in the store");
        }
        let title = status.canonical_reason().unwrap_or("Error");
        (status, Html(render::error_page(title, &self.to_string()).into_string())).into_response()
    }
}
