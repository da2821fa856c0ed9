//! The sim's shared state and the records tests inspect: what the business sent, what customers said,
//! which webhooks went out and how they fared.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::SimClock;
use crate::config::{SimConfig, SimNumber, WindowEnforcement};
use crate::limits::Limits;
use crate::media::MediaItem;
use crate::sms::{SmsFault, SmsRecord};
use crate::templates::Template;

/// A message the business sent through the sim, in arrival order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReceivedMessage {
    /// Order among everything the sim recorded, sent and received alike (from 1; restarts at reset).
    #[serde(default)]
    pub seq: u64,
    pub wamid: String,
    pub phone_number_id: String,
    /// The customer's `wa_id` (digits); for a send by BSUID that no customer has, the BSUID.
    pub to: String,
    /// The BSUID or parent BSUID the desk addressed (`recipient`), when it did not send by phone number.
    #[serde(default)]
    pub recipient: Option<String>,
    /// Meta's message type: `text`, `template`, `image`, `reaction`…
    pub kind: String,
    /// What the customer would read: the text, the caption, the template body with its parameters
    /// filled in, the emoji.
    pub text: Option<String>,
    pub template: Option<TemplateUse>,
    /// The request body as the desk sent it.
    pub request: Value,
    pub accepted_at_ms: i64,
    /// The latest status sent for it: `accepted`, `sent`, `delivered`, `read`, `played` or `failed`.
    pub status: String,
    /// The error code when it failed (asynchronously).
    pub error_code: Option<i64>,
    /// The `pricing` object its statuses carry (none for failures).
    pub pricing: Option<Value>,
}

/// Which template a message used.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TemplateUse {
    pub name: String,
    pub language: String,
    /// Meta's category, e.g. `UTILITY`.
    pub category: String,
    /// The header as the customer sees it: its text with the parameter filled in, or `[image]`….
    #[serde(default)]
    pub header: Option<String>,
    /// The URLs of the template's URL buttons, variable parts filled in.
    #[serde(default)]
    pub urls: Vec<String>,
}

/// A message a customer sent to the business (see [`crate::Say`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InboundRecord {
    /// Order among everything the sim recorded, sent and received alike (from 1; restarts at reset).
    #[serde(default)]
    pub seq: u64,
    pub wamid: String,
    pub phone_number_id: String,
    pub from: String,
    pub kind: String,
    pub text: Option<String>,
    /// The sender's timestamp, unix milliseconds.
    pub sent_at_ms: i64,
    /// The `messages[]` item as the webhook carried it.
    pub message: Value,
}

/// A mark-as-read request from the desk.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReadReceipt {
    pub phone_number_id: String,
    pub message_id: String,
    pub at_ms: i64,
    /// It asked for the typing indicator too.
    #[serde(default)]
    pub typing: bool,
}

/// One webhook the sim sent (or tried to).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub id: u64,
    pub phone_number_id: String,
    /// `message` (a customer's message) or `status:<status>`.
    pub what: String,
    pub wamid: String,
    pub url: Option<String>,
    pub attempts: u32,
    pub outcome: DeliveryOutcome,
    pub last_http_status: Option<u16>,
    pub last_error: Option<String>,
    /// The signed body, as sent.
    pub body: String,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// Still trying.
    Pending,
    /// The desk answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
    /// No webhook URL is configured.
    Skipped,
}

/// Counters over all deliveries since the last reset.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliveryStats {
    pub deliveries: u64,
    pub delivered: u64,
    /// Deliveries that gave up after every retry.
    pub failed: u64,
    /// Attempts that failed (non-2xx or connection error), retried or not.
    pub failed_attempts: u64,
}

/// Injected trouble for the next sends (`POST …/messages`, mark-as-read excluded).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FaultPlan {
    /// How many sends it applies to; absent means every send until cleared.
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(flatten)]
    pub fault: Fault,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// HTTP 500 with Graph's transient error body (code 2).
    ServerError,
    /// A Meta error code (its usual message), with the given HTTP status (default 400).
    Error {
        code: i64,
        #[serde(default = "http_400")]
        http_status: u16,
    },
    /// The answer is held back this long, then the send proceeds normally (as a slow Meta does: a
    /// client that gave up may still see the message delivered).
    Hang { ms: u64 },
}

fn http_400() -> u16 {
    400
}

/// What the sim knows about one customer of one number.
#[derive(Clone, Debug, Default)]
pub(crate) struct Customer {
    pub profile_name: Option<String>,
    /// When the customer last sent a message (unix ms): the 24 h rule counts from here.
    pub last_inbound_ms: Option<i64>,
    /// When the customer last arrived from an ad (`referral`).
    pub referral_ms: Option<i64>,
    /// End of a running free entry point window.
    pub fep_until_ms: Option<i64>,
}

#[derive(Default)]
pub(crate) struct Inner {
    /// Bumped by reset, so that status tasks of an earlier life stop.
    pub generation: u64,
    pub enforcement: WindowEnforcement,
    pub webhook_url: Option<String>,
    pub received: Vec<ReceivedMessage>,
    pub inbound: Vec<InboundRecord>,
    pub read_receipts: Vec<ReadReceipt>,
    pub customers: HashMap<(String, String), Customer>,
    pub limits: Limits,
    pub fault: Option<FaultPlan>,
    pub deliveries: Vec<DeliveryRecord>,
    pub stats: DeliveryStats,
    pub media: HashMap<String, MediaItem>,
    pub next_delivery_id: u64,
    /// The last `seq` given to a message, either way.
    pub last_seq: u64,
    /// What the SMS provider received, in order.
    pub sms: Vec<SmsRecord>,
    pub sms_fault: Option<SmsFault>,
}

impl Inner {
    pub fn customer(&mut self, phone_number_id: &str, wa_id: &str) -> &mut Customer {
        self.customers.entry((phone_number_id.to_owned(), wa_id.to_owned())).or_default()
    }

    /// The `wa_id` of the customer a BSUID (or, with `parent`, a parent BSUID) of WABA `waba_id` names,
    /// among everyone the sim has met. BSUIDs are per business, so any of its numbers' customers count.
    pub fn wa_id_of_bsuid(&self, waba_id: &str, user_id: &str, parent: bool) -> Option<String> {
        self.customers
            .keys()
            .map(|(_, wa_id)| wa_id)
            .filter(|wa_id| wa_id.bytes().all(|b| b.is_ascii_digit()))
            .find(|wa_id| crate::webhooks::user_ids(waba_id, wa_id, parent).names(user_id))
            .cloned()
    }

    /// The next message sequence number (see [`ReceivedMessage::seq`]).
    pub fn next_seq(&mut self) -> u64 {
        self.last_seq += 1;
        self.last_seq
    }

    /// Takes one send's worth of the fault plan, if any.
    pub fn take_fault(&mut self) -> Option<Fault> {
        let plan = self.fault.as_mut()?;
        let fault = plan.fault.clone();
        match plan.count {
            Some(0) => {
                self.fault = None;
                return None;
            }
            Some(1) => self.fault = None,
            Some(n) => plan.count = Some(n - 1),
            None => {}
        }
        Some(fault)
    }

    pub fn received_mut(&mut self, wamid: &str) -> Option<&mut ReceivedMessage> {
        self.received.iter_mut().rev().find(|m| m.wamid == wamid)
    }
}

pub(crate) struct Shared {
    pub config: SimConfig,
    /// Where the desk reaches the sim, without a trailing slash.
    pub base_url: String,
    pub clock: Arc<SimClock>,
    /// Changed at runtime by `/sim/templates…`; its own lock, as sends only read it.
    pub templates: RwLock<Vec<Template>>,
    pub inner: Mutex<Inner>,
    /// Woken whenever a message the business sent was recorded.
    pub received_wake: tokio::sync::Notify,
    pub http: reqwest::Client,
    pub cancel: CancellationToken,
    pub tasks: TaskTracker,
}

/// A handle on a running sim's state: what tests and the CLI use to inspect and steer it. Cheap to clone.
#[derive(Clone)]
pub struct SimHandle(pub(crate) Arc<Shared>);

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle").field("base_url", &self.0.base_url).finish_non_exhaustive()
    }
}

impl SimHandle {
    pub(crate) fn new(config: SimConfig, base_url: String, clock: Arc<SimClock>) -> anyhow::Result<Self> {
        let templates = crate::templates::build(&config);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.webhook_retry.timeout_ms.max(1)))
            .user_agent("facebookexternalua")
            // The desk is reached directly (loopback in tests and the demo), never through a proxy from the environment.
            .no_proxy()
            .build()?;
        let inner = Inner { enforcement: config.window_enforcement, webhook_url: config.webhook_url.clone(), ..Inner::default() };
        let shared = Shared {
            config,
            base_url,
            clock,
            templates: RwLock::new(templates),
            inner: Mutex::new(inner),
            received_wake: tokio::sync::Notify::new(),
            http,
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
        };
        Ok(Self(Arc::new(shared)))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves the state consistent before it could panic; keep serving.
        self.0.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn templates_read(&self) -> RwLockReadGuard<'_, Vec<Template>> {
        self.0.templates.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn templates_write(&self) -> RwLockWriteGuard<'_, Vec<Template>> {
        self.0.templates.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn config(&self) -> &SimConfig {
        &self.0.config
    }

    /// The base URL the sim gives out (media, paging), e.g. `http://127.0.0.1:4010`.
    pub fn base_url(&self) -> &str {
        &self.0.base_url
    }

    /// The sim's clock. Hand it to the desk in a demo to move both together.
    pub fn clock(&self) -> Arc<SimClock> {
        self.0.clock.clone()
    }

    pub(crate) fn number(&self, phone_number_id: &str) -> Option<&SimNumber> {
        self.0.config.number(phone_number_id)
    }

    /// Messages the business sent, in order.
    pub fn received(&self) -> Vec<ReceivedMessage> {
        self.lock().received.clone()
    }

    /// How many messages the business sent (without copying them, unlike [`Self::received`]).
    pub fn received_count(&self) -> usize {
        self.lock().received.len()
    }

    /// Waits until at least `count` messages from the business were recorded.
    pub async fn wait_received(&self, count: usize) {
        loop {
            // Registered before the check, so a message recorded in between still wakes us.
            let recorded = self.0.received_wake.notified();
            if self.received_count() >= count {
                return;
            }
            recorded.await;
        }
    }

    /// Messages customers sent, in order.
    pub fn inbound(&self) -> Vec<InboundRecord> {
        self.lock().inbound.clone()
    }

    pub fn read_receipts(&self) -> Vec<ReadReceipt> {
        self.lock().read_receipts.clone()
    }

    /// Webhook deliveries, in the order they were started.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.lock().deliveries.clone()
    }

    pub fn delivery_stats(&self) -> DeliveryStats {
        self.lock().stats
    }

    pub fn window_enforcement(&self) -> WindowEnforcement {
        self.lock().enforcement
    }

    pub fn set_window_enforcement(&self, mode: WindowEnforcement) {
        self.lock().enforcement = mode;
    }

    pub fn webhook_url(&self) -> Option<String> {
        self.lock().webhook_url.clone()
    }

    /// Points webhooks somewhere else (e.g. once the desk's port is known), or nowhere.
    pub fn set_webhook_url(&self, url: Option<String>) {
        self.lock().webhook_url = url;
    }

    /// Makes the next sends fail or hang; replaces any earlier plan.
    pub fn set_fault(&self, plan: FaultPlan) {
        self.lock().fault = Some(plan);
    }

    pub fn clear_fault(&self) {
        self.lock().fault = None;
    }

    pub fn fault(&self) -> Option<FaultPlan> {
        self.lock().fault.clone()
    }

    /// Moves the sim's clock forward (e.g. past 24 h).
    pub fn advance_clock(&self, by: Duration) {
        self.0.clock.advance(by);
    }

    /// When the customer last wrote to the number (unix ms), if ever.
    pub fn last_inbound_ms(&self, phone_number_id: &str, wa_id: &str) -> Option<i64> {
        self.lock().customers.get(&(phone_number_id.to_owned(), wa_id.to_owned())).and_then(|c| c.last_inbound_ms)
    }

    /// Forgets everything that happened: messages, customers and their windows, deliveries, uploads,
    /// faults, rate-limit history, SMS and SMS faults; templates go back to the configured ones (with
    /// their configured statuses), the clock to system time and enforcement to its configured mode.
    /// Status webhooks still pending are dropped.
    pub fn reset(&self) {
        let mut inner = self.lock();
        let generation = inner.generation + 1;
        *inner = Inner {
            generation,
            enforcement: self.0.config.window_enforcement,
            webhook_url: self.0.config.webhook_url.clone(),
            ..Inner::default()
        };
        drop(inner);
        *self.templates_write() = crate::templates::build(&self.0.config);
        self.0.clock.reset();
    }

    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }
}

/// A wamid in Meta's style (`wamid.HBgL…`): base64-looking, unique.
pub(crate) fn new_wamid() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..44).map(|_| char::from(CHARS[rng.gen_range(0..CHARS.len())])).collect();
    format!("wamid.HBgL{tail}=")
}

/// A numeric id like Meta's media and template ids.
pub(crate) fn new_numeric_id() -> String {
    let mut rng = rand::thread_rng();
    format!("{}{:015}", rng.gen_range(1..10), rng.gen_range(0..1_000_000_000_000_000u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_plans_count_down() {
        let mut inner = Inner { fault: Some(FaultPlan { count: Some(2), fault: Fault::ServerError }), ..Inner::default() };
        assert_eq!(inner.take_fault(), Some(Fault::ServerError));
        assert_eq!(inner.take_fault(), Some(Fault::ServerError));
        assert_eq!(inner.take_fault(), None);
        inner.fault = Some(FaultPlan { count: None, fault: Fault::Hang { ms: 5 } });
        for _ in 0..5 {
            assert_eq!(inner.take_fault(), Some(Fault::Hang { ms: 5 }));
        }
    }

    #[test]
    fn fault_plan_json() {
        let p: FaultPlan = serde_json::from_str(r#"{"count": 3, "kind": "error", "code": 131000}"#).unwrap();
        assert_eq!(p, FaultPlan { count: Some(3), fault: Fault::Error { code: 131_000, http_status: 400 } });
        let h: FaultPlan = serde_json::from_str(r#"{"kind": "hang", "ms": 2000}"#).unwrap();
        assert_eq!(h.fault, Fault::Hang { ms: 2000 });
    }

    #[test]
    fn ids_look_like_metas() {
        let w = new_wamid();
        assert!(w.starts_with("wamid.HBgL") && w.len() > 40);
        assert_ne!(new_wamid(), w);
        let id = new_numeric_id();
        assert_eq!(id.len(), 16);
        assert!(id.chars().all(|c| c.is_ascii_digit()));
    }
}
