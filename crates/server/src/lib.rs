//! Windowdesk's HTTP server: the WhatsApp webhook, health and metrics endpoints, and (in later
//! issues) the REST API, the web pages and the workers.
//!
//! [`router`] builds the axum app from an [`AppState`]; [`start`] opens the store named in the
//! configuration, mirrors the configured business numbers into it and serves on a listener until the
//! cancellation token fires, then drains: in-flight requests finish and queued commits land.

pub mod api;
pub mod attachments;
pub mod config;
pub mod costs;
pub mod customers;
pub mod deliveries;
pub mod directory;
pub mod dispatcher;
pub mod error;
pub mod events;
pub mod field_changes;
pub mod generate;
pub mod hours;
pub mod hours_import;
pub mod http_targets;
pub mod macros;
pub mod media;
pub mod metrics;
pub mod notes;
pub mod pacer;
pub mod pricing;
pub mod read_receipts;
pub mod replies;
pub mod reports;
pub mod rules;
pub mod search;
pub mod serve;
pub mod singleton;
pub mod templates;
pub mod web;
pub mod webhook;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, MatchedPath, State};
use axum::http::{header, Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;
use windowdesk_core::{Clock, Fallback, SystemClock};
use windowdesk_store::{BusinessNumberSpec, NumberSettings, Store, StoreOptions};
use windowdesk_whatsapp::client::CloudApi;

use crate::config::Config;
use crate::directory::NumberDirectory;
use crate::dispatcher::{Dispatcher, NumberSender};
use crate::metrics::Metrics;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub numbers: Arc<NumberDirectory>,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
    pub max_body_bytes: usize,
    /// A request body must arrive within this long (slow or stalled clients).
    pub body_read_timeout: Duration,
    /// Woken when a reply is committed to the outbox, so the dispatcher sends it at once.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Woken when messages were ingested, so media downloads start at once.
    pub media_wake: Arc<tokio::sync::Notify>,
    /// Where downloaded media files are kept.
    pub media_dir: std::path::PathBuf,
    /// Live updates for open pages.
    pub events: events::Events,
    /// The web interface's settings and its sign-in rate limits.
    pub web: Arc<web::WebState>,
    /// What the ways out of a closed window can use on this desk.
    pub fallbacks: Arc<FallbackSettings>,
    /// Woken to sync templates now (a template webhook arrived, or someone asked).
    pub templates_wake: Arc<tokio::sync::Notify>,
    /// Wakes this instance's HTTP target deliveries when one is queued.
    pub http_wake: Arc<tokio::sync::Notify>,
    /// Wakes this instance's workflow runner when a trigger sets off a run.
    pub workflow_wake: Arc<tokio::sync::Notify>,
    /// A failing HTTP target needs attention after this long (`[http_targets] attention_after_minutes`).
    pub http_attention_after: Duration,
    /// The Cloud API, for on-demand calls such as a template sync.
    pub cloud_api: CloudApi,
    pub template_page_size: u32,
    /// WhatsApp's window policy with the configured send guard (W9), for every decision and display.
    pub policy: windowdesk_core::WindowPolicy,
    /// Where agents reach the desk (`web.public_url`), for `{{ticket.url}}`.
    pub public_url: Option<String>,
    /// The rate cards messages are priced with (`[pricing]`).
    pub pricing: Arc<pricing::Pricing>,
}

impl AppState {
    /// Something was committed to the outbox: this instance's dispatcher looks at once, and so do the
    /// others' (through the live relay), since the number may be sent for by another instance.
    pub fn outbox_queued(&self) {
        self.outbox_wake.notify_one();
        self.events.publish(events::DeskEvent::Outbox);
    }
}

/// Desk-wide settings of the fallbacks (SPEC 9).
#[derive(Clone, Debug)]
pub struct FallbackSettings {
    pub default_hold_hours: i64,
    /// An SMS provider is configured (`[sms]`).
    pub sms_enabled: bool,
    /// What it charges per message, in the desk's currency (`sms.price_per_message`).
    pub sms_price: Option<windowdesk_core::decision::SmsPrice>,
}

/// The HTTP routes.
pub fn router(state: AppState) -> Router {
    let max_body = state.max_body_bytes;
    Router::new()
        .route("/webhooks/whatsapp", get(webhook::verify).post(webhook::receive))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(api::router())
        .merge(web::router())
        .layer(DefaultBodyLimit::max(max_body))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(state.body_read_timeout))
        .layer(axum::middleware::from_fn_with_state(state.clone(), serve::refuse_oversized))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            // Low cardinality: the route pattern, not the raw path.
            let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
            tracing::info_span!("http", method = %req.method(), route)
        }))
        .with_state(state)
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database commits a write (a full disk answers reads but not writes).
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping(state.clock.now()).await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// A running desk.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stops accepting, drains, and waits for the end.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await.context("server task panicked")?
    }
}

/// Opens the store, syncs business numbers and builds the state.
pub async fn build_state(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let options = StoreOptions {
        max_batch: config.database.max_batch,
        max_in_flight: config.database.max_in_flight,
        pool_size: config.database.pool_size,
    };
    let store = windowdesk_store::open(&config.database.url, options)
        .await
        .with_context(|| format!("opening the database {}", windowdesk_store::redact_url(&config.database.url)))?;
    let specs: Vec<BusinessNumberSpec> = config
        .business_numbers
        .iter()
        .map(|n| BusinessNumberSpec {
            phone_number_id: n.phone_number_id.clone(),
            waba_id: n.waba_id.clone(),
            display_number: n.display_number.clone(),
            name: n.name.clone(),
        })
        .collect();
    let rows = store.sync_business_numbers(&specs).await.context("saving the configured business numbers")?;
    let ids: HashMap<String, i64> = rows.into_iter().map(|r| (r.phone_number_id, r.id)).collect();
    let numbers = NumberDirectory::new(&config.business_numbers, &ids);
    if numbers.is_empty() {
        tracing::warn!("no [[business_numbers]] configured: every webhook will be recorded as for an unknown number");
    }
    // The configuration seeds each number's fallback settings once; the admin page owns them after.
    let now = clock.now();
    let seeds: Vec<NumberSettings> = config
        .business_numbers
        .iter()
        .filter_map(|n| {
            let id = *ids.get(&n.phone_number_id)?;
            Some(NumberSettings {
                business_number_id: id,
                fallback_ladder: n.fallback.iter().filter_map(|s| Fallback::parse(s)).collect(),
                hold_notice_template: n.hold_notice_template.clone(),
                hold_notice_language: n.hold_notice_language.clone(),
                hold_hours: n.hold_hours.unwrap_or(config.holds.default_hours),
                sms_from: n.sms_from.clone(),
                read_receipts: n.read_receipts,
                typing_indicator: n.typing_indicator,
                updated_at: now,
                updated_by: Some("config".into()),
            })
        })
        .collect();
    store.seed_number_settings(&seeds).await.context("saving the fallback settings of the configured numbers")?;
    if config.rules.seed_defaults {
        rules::seed_defaults(store.as_ref(), now).await.context("seeding the default rules")?;
    }
    if config.pricing.seed_shipped_cards {
        store.seed_rate_cards(&windowdesk_core::pricing::RateCard::shipped(), now).await.context("seeding the shipped rate cards")?;
    }
    // Several instances on one PostgreSQL database: pages hear about changes made through any of them.
    let events = match store.live_relay().await.context("listening for live updates from other instances")? {
        Some(relay) => events::Events::relayed(relay),
        None => events::Events::default(),
    };
    let timeout = Duration::from_secs(config.whatsapp.request_timeout_seconds);
    let cloud_api =
        CloudApi::new(&config.whatsapp.api_base_url, &config.whatsapp.api_version, timeout).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(AppState {
        store,
        numbers: Arc::new(numbers),
        metrics: Arc::new(Metrics::default()),
        clock,
        max_body_bytes: config.server.max_body_bytes,
        body_read_timeout: Duration::from_secs(config.server.body_read_timeout_seconds),
        outbox_wake: Arc::new(tokio::sync::Notify::new()),
        media_wake: Arc::new(tokio::sync::Notify::new()),
        media_dir: config.media.dir.clone(),
        events,
        web: Arc::new(web::WebState::new(&config.web)),
        fallbacks: Arc::new(FallbackSettings {
            default_hold_hours: config.holds.default_hours,
            sms_enabled: config.sms.enabled(),
            sms_price: config
                .sms
                .price()
                .map(|amount| windowdesk_core::decision::SmsPrice { amount, currency: config.pricing.currency.to_ascii_uppercase() }),
        }),
        templates_wake: Arc::new(tokio::sync::Notify::new()),
        http_wake: Arc::new(tokio::sync::Notify::new()),
        workflow_wake: Arc::new(tokio::sync::Notify::new()),
        http_attention_after: Duration::from_secs(config.http_targets.attention_after_minutes * 60),
        cloud_api,
        template_page_size: config.templates.page_size,
        policy: config.dispatcher.window_policy(),
        public_url: Some(config.web.public_url.clone()).filter(|u| !u.is_empty()),
        pricing: Arc::new(pricing::Pricing::new(&config.pricing.currency)),
    })
}

/// The dispatcher for the configured numbers.
pub fn build_dispatcher(config: &Config, state: &AppState) -> anyhow::Result<Dispatcher> {
    let timeout = Duration::from_secs(config.whatsapp.request_timeout_seconds);
    let api = CloudApi::new(&config.whatsapp.api_base_url, &config.whatsapp.api_version, timeout).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut senders = HashMap::new();
    for n in &config.business_numbers {
        if let Some(served) = state.numbers.get(&n.phone_number_id) {
            let per_second = n.throughput_per_second.unwrap_or(config.dispatcher.throughput_per_second);
            senders.insert(served.id, NumberSender::new(n.phone_number_id.clone(), n.access_token.clone(), per_second));
        }
    }
    let sms = if config.sms.enabled() {
        let timeout = Duration::from_secs(config.sms.request_timeout_seconds);
        Some(
            windowdesk_sms::SmsClient::new(&config.sms.api_base_url, &config.sms.account_sid, config.sms.auth_token.clone(), timeout)
                .map_err(|e| anyhow::anyhow!("[sms]: {e}"))?,
        )
    } else {
        None
    };
    Ok(Dispatcher::new(
        state.store.clone(),
        api,
        sms,
        senders,
        state.clock.clone(),
        config.dispatcher.clone(),
        state.outbox_wake.clone(),
        state.events.clone(),
        config.longest_send_request(),
    )
    .with_media_dir(config.media.dir.clone()))
}

/// The media downloader for the configured numbers.
/// The automations worker's settings from `[rules]`.
pub fn automation_settings(config: &Config) -> rules::automations::AutomationSettings {
    rules::automations::AutomationSettings {
        sweep_interval: Duration::from_secs(config.rules.sweep_interval_seconds),
        overdue_limit: Duration::from_secs(config.rules.overdue_limit_minutes * 60),
        claim: Duration::from_secs(config.rules.claim_seconds),
    }
}

pub fn build_media_worker(config: &Config, state: &AppState) -> anyhow::Result<media::MediaWorker> {
    let timeout = Duration::from_secs(config.whatsapp.request_timeout_seconds.max(60));
    let api = CloudApi::new(&config.whatsapp.api_base_url, &config.whatsapp.api_version, timeout).map_err(|e| anyhow::anyhow!("{e}"))?;
    let tokens = config
        .business_numbers
        .iter()
        .filter_map(|n| state.numbers.get(&n.phone_number_id).map(|served| (served.id, n.access_token.clone())))
        .collect();
    Ok(media::MediaWorker {
        store: state.store.clone(),
        api,
        tokens,
        dir: config.media.dir.clone(),
        max_bytes: config.media.max_bytes,
        clock: state.clock.clone(),
        wake: state.media_wake.clone(),
        lease: singleton::Singleton::new("media", Duration::from_secs(30), state.store.clone(), state.clock.clone()),
    })
}

/// Held replies whose customer never wrote again fail as expired (SPEC 9). Safe on every instance:
/// each expiry is one conditional update.
async fn run_hold_expiry(state: AppState, every: Duration, shutdown: CancellationToken) {
    loop {
        match state.store.expire_held(state.clock.now()).await {
            Ok(expired) => {
                for e in &expired {
                    tracing::info!(message_id = e.message_id, ticket_id = e.ticket_id, "a held reply expired");
                    state.events.ticket(e.ticket_id);
                }
            }
            Err(e) => tracing::warn!(error = %e, "checking held replies for expiry failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Starts the desk on `listener`; it runs until `shutdown` is cancelled.
pub async fn start(config: &Config, listener: TcpListener, clock: Option<Arc<dyn Clock>>) -> anyhow::Result<Running> {
    let clock = clock.unwrap_or_else(|| Arc::new(SystemClock));
    let state = build_state(config, clock).await?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let app = router(state.clone());
    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    let limits = serve::ConnectionLimits {
        header_read: Duration::from_secs(config.server.header_read_timeout_seconds.max(1)),
        max_connections: config.server.max_connections,
    };
    serve::log_file_descriptor_limit(limits.max_connections);
    let token = shutdown.clone();
    let store = state.store.clone();
    let events = state.events.clone();
    let stopping = shutdown.clone();
    tokio::spawn(async move {
        stopping.cancelled().await;
        // Open event streams would hold the graceful shutdown until the grace period ran out.
        events.close();
    });
    let dispatcher = Arc::new(build_dispatcher(config, &state)?);
    // Replies queued through another instance wake this one's dispatcher too.
    let mut queued = state.events.subscribe();
    let wake = state.outbox_wake.clone();
    tokio::spawn(async move {
        loop {
            match queued.recv().await {
                Ok(events::DeskEvent::Outbox) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => wake.notify_one(),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    let dispatching = tokio::spawn(dispatcher.run(shutdown.clone()));
    let media = build_media_worker(config, &state)?;
    let downloading = tokio::spawn(media.run(shutdown.clone()));
    tokio::spawn(templates::run_sync_worker(
        state.clone(),
        state.cloud_api.clone(),
        config.templates.page_size,
        Duration::from_secs(config.templates.sync_interval_minutes * 60),
        state.templates_wake.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(run_hold_expiry(state.clone(), Duration::from_secs(config.holds.expiry_check_seconds), shutdown.clone()));
    tokio::spawn(rules::worker::RulesWorker::new(state.clone()).run(shutdown.clone()));
    tokio::spawn(costs::run_settler(state.clone(), shutdown.clone()));
    tokio::spawn(rules::automations::AutomationsWorker::new(state.clone(), automation_settings(config)).run(shutdown.clone()));
    tokio::spawn(rules::workflows::WorkflowsWorker::new(state.clone(), automation_settings(config)).run(shutdown.clone()));
    tokio::spawn(http_targets::HttpDeliveryWorker::new(state.clone(), config.http_targets.clone())?.run(shutdown.clone()));
    let task = tokio::spawn(async move {
        let serve = serve::serve(listener, app, limits, token.clone());
        let mut serve = std::pin::pin!(serve);
        tokio::select! {
            () = &mut serve => {},
            () = async { token.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(grace_seconds = grace.as_secs(), "requests still running after the grace period; stopping anyway");
            }
        }
        // Sends in flight are recorded, and everything accepted commits, before the process ends.
        let _ = tokio::time::timeout(grace, downloading).await;
        if tokio::time::timeout(grace, dispatching).await.is_err() {
            tracing::warn!("sends still in flight after the grace period; they will be recovered at the next start");
        }
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    });
    tracing::info!(%addr, backend = state.store.backend(), numbers = state.numbers.len(), "windowdesk listening");
    Ok(Running { addr, state, shutdown, task })
}
