//! A WhatsApp Cloud API simulator (SPEC 14): it plays Meta for the desk's tests and its demo.
//!
//! It serves the Cloud API endpoints the desk uses, shaped as Meta's OpenAPI spec says:
//! - `POST /{version}/{phone-number-id}/messages`: sends and mark-as-read, with the bearer token
//!   check, body validation against Meta's schema (`100`, naming the field), sends by phone number
//!   (`to`) or BSUID (`recipient`), templates (`132000`, `132001`, `132012`, `132015`, `132016`), the 24 h rule
//!   (`131047`, synchronous or as a later `failed` status), throughput (`130429`) and pair rate
//!   (`131056`) limits, and injected faults; accepted sends are followed by signed `sent`,
//!   `delivered`, `read` (and `played`) status webhooks with per-message pricing.
//! - `GET /{version}/{waba-id}/message_templates` with cursor paging.
//! - `GET|DELETE /{version}/{media-id}`, the download URL it hands out, and
//!   `POST /{version}/{phone-number-id}/media`.
//! - The SMS provider of the desk's fallback: Twilio's `POST /2010-04-01/Accounts/{sid}/Messages.json`
//!   (basic auth, Twilio's errors and faults; see `src/sms.rs`).
//!
//! Customers are played with [`SimHandle::say`] (or `POST /sim/say`). Everything is steered and
//! inspected with [`SimHandle`] or, over HTTP, under `/sim/…`: `GET status`, `GET messages`,
//! `GET inbound`, `GET read-receipts`, `POST say`, `POST reset`, `GET|PUT|DELETE faults`, `GET clock`,
//! `POST clock/advance|freeze|unfreeze`, `GET|PUT window-enforcement`, `GET|PUT webhook-url`,
//! `GET deliveries`, `GET sms`, `GET|PUT|DELETE sms/faults`, `GET|POST templates`,
//! `PUT templates/status` (pauses, disables… a template and sends Meta's status webhook). The clock
//! is the sim's own ([`SimClock`]), so tests move past 24 h without sleeping.
//!
//! `GET /sim/phone` is a phone-like page for playing a customer by hand (or from a browser test): it
//! sends texts, sample media and reactions through [`SimHandle::say`] and shows the conversation,
//! business messages included, as they arrive. See `src/phone.rs`.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use windowdesk_sim::{Say, Sim, SimConfig};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let config = SimConfig { webhook_url: Some("http://127.0.0.1:8080/webhooks/whatsapp".into()), ..SimConfig::default() };
//! let sim = Sim::start(config, listener)?;
//! let said = sim.handle.say(Say::text("4915112345678", "Hello!").name("Ada")).await?;
//! println!("customer sent {}", said.wamid);
//! sim.stop().await?;
//! # Ok(()) }
//! ```

mod auth;
mod clock;
mod config;
mod control;
mod customer;
mod error;
mod limits;
mod media;
mod phone;
mod request;
pub mod samples;
mod send;
mod sms;
mod state;
mod statuses;
mod template_control;
mod template_request;
mod template_send;
mod templates;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use clock::SimClock;
pub use config::{
    default_templates, PairRate, RetryConfig, SimConfig, SimNumber, SmsConfig, StatusDelays, TemplateConfig, WindowEnforcement,
    DEFAULT_SMS_ACCOUNT_SID, DEFAULT_SMS_AUTH_TOKEN, EXAMPLE_CONFIG,
};
pub use customer::{Referral, Said, Say, SayContent};
pub use error::{GraphError, SimError};
pub use media::MediaInfo;
pub use sms::{SmsFault, SmsRecord, MAX_SMS_BODY_CHARS};
pub use state::{
    DeliveryOutcome, DeliveryRecord, DeliveryStats, Fault, FaultPlan, InboundRecord, ReadReceipt, ReceivedMessage, SimHandle, TemplateUse,
};
pub use template_control::{TemplateStatusChange, TemplateStatusChanged, TEMPLATE_STATUSES};

/// Media uploads: Meta takes documents up to 100 MB.
const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;

/// Starts simulators.
#[derive(Debug)]
pub struct Sim;

impl Sim {
    /// Serves the sim on `listener` until [`RunningSim::stop`]. Must be called inside a Tokio runtime.
    pub fn start(config: SimConfig, listener: TcpListener) -> anyhow::Result<RunningSim> {
        Self::start_with_clock(config, listener, Arc::new(SimClock::new()))
    }

    /// Like [`Sim::start`], with a given clock (e.g. one the desk shares in a demo).
    pub fn start_with_clock(config: SimConfig, listener: TcpListener, clock: Arc<SimClock>) -> anyhow::Result<RunningSim> {
        config.validate().map_err(|e| anyhow::anyhow!("sim configuration: {e}"))?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| anyhow::anyhow!("Sim::start needs a Tokio runtime"))?;
        let addr = listener.local_addr()?;
        let base_url = match &config.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{addr}"),
        };
        let handle = SimHandle::new(config, base_url, clock)?;
        let app = router(handle.clone());
        let shutdown = handle.0.cancel.clone().cancelled_owned();
        let server = runtime.spawn(async move { axum::serve(listener, app).with_graceful_shutdown(shutdown).await });
        tracing::info!(%addr, "Cloud API simulator listening");
        Ok(RunningSim { addr, handle, server })
    }
}

/// The sim's routes, for embedding it in another server (the demo). Control endpoints are under `/sim`.
pub fn router(handle: SimHandle) -> Router {
    Router::new()
        .route("/{version}/{node}/messages", post(send::send))
        .route("/{version}/{node}/media", post(media::upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)))
        .route("/{version}/{node}/message_templates", get(templates::list))
        .route("/{version}/{node}", get(media::retrieve).delete(media::delete))
        .route("/lookaside/whatsapp_business/attachments", get(media::download))
        // The SMS provider (Twilio's Messages API) lives on the same server.
        .route("/2010-04-01/Accounts/{account_sid}/Messages.json", post(sms::send))
        .nest("/sim", control::routes())
        .with_state(handle)
}

/// A sim that is serving.
#[derive(Debug)]
pub struct RunningSim {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state: inspect, steer, play customers.
    pub handle: SimHandle,
    server: JoinHandle<std::io::Result<()>>,
}

impl RunningSim {
    /// The base URL, e.g. `http://127.0.0.1:4010` (the Graph API root the desk should call).
    pub fn url(&self) -> String {
        self.handle.base_url().to_owned()
    }

    /// Stops serving, and stops pending status webhooks and retries.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.handle.0.cancel.cancel();
        self.handle.0.tasks.close();
        self.handle.0.tasks.wait().await;
        self.server.await??;
        Ok(())
    }
}
