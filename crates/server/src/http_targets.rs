//! HTTP targets (SPEC 10, issue 14 item 4): a rule's `call_http` action queues a delivery of signed
//! JSON describing the ticket and the event; every instance delivers what is due, once each, with
//! retries and backoff, and records every attempt in the target's delivery log.
//!
//! - **Queued durably.** The delivery is a row, keyed by its `webhook-id`, which is derived from the
//!   firing and the action (`wd_<trigger>_r<rule>_a<action>`): a firing run again after a crash queues
//!   nothing twice.
//! - **Signed the Standard Webhooks way** ([`windowdesk_core::signing`]): `webhook-id` (the same on
//!   every attempt, so a receiver deduplicates on it), `webhook-timestamp` (this attempt's, so a
//!   receiver refuses replays) and `webhook-signature` (`v1,` HMAC-SHA256 of `id.timestamp.body`).
//! - **Retried.** Anything but a 2xx answer within the timeout is tried again after
//!   `[http_targets] retry_initial_ms`, doubling up to `retry_max_ms`, and given up after
//!   `max_attempts`. A target failing since longer than `attention_after_minutes` needs attention.

use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;
use windowdesk_core::signing::{SignedHeaders, SigningSecret};
use windowdesk_core::Timestamp;
use windowdesk_store::{HttpAttempt, HttpDeliveryRow, HttpTargetRow, NewHttpDelivery};

use crate::config::HttpTargetsConfig;
use crate::AppState;

/// Deliveries claimed at a time.
const CLAIM: u32 = 20;
/// Instances look for due deliveries at least this often.
const POLL: Duration = Duration::from_secs(1);

/// The wait before attempt `attempt + 1`, after `attempt` failed attempts (1 or more).
pub fn backoff(attempt: u32, initial: Duration, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
    initial.saturating_mul(factor).min(max)
}

/// Whether a target has been failing for longer than `after`.
pub fn needs_attention(target: &HttpTargetRow, now: Timestamp, after: Duration) -> bool {
    target.failing_since.is_some_and(|since| since.plus(after) <= now)
}

/// The `webhook-id` of the delivery a firing's action makes: stable across runs of the same firing.
pub fn webhook_id(trigger: &str, rule_id: i64, action: usize) -> String {
    let trigger: String = trigger.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    format!("wd_{trigger}_r{rule_id}_a{action}")
}

/// What called an HTTP target: a rule's `call_http` action or a workflow's `call_http` step.
#[derive(Clone, Copy, Debug)]
pub enum Caller<'a> {
    Rule { id: i64, name: &'a str },
    Workflow { id: i64, name: &'a str, run_id: i64, step: &'a str },
}

impl Caller<'_> {
    /// The event type the receiver sees: `rule.call_http` or `workflow.call_http`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Caller::Rule { .. } => "rule.call_http",
            Caller::Workflow { .. } => "workflow.call_http",
        }
    }

    fn describe(&self) -> (&'static str, serde_json::Value) {
        match *self {
            Caller::Rule { id, name } => ("rule", json!({"id": id, "name": name})),
            Caller::Workflow { id, name, run_id, step } => ("workflow", json!({"id": id, "name": name, "run_id": run_id, "step": step})),
        }
    }
}

/// Queues the delivery of a `call_http` action: the ticket as the API shows it, the event, and
/// the rule or workflow that called.
pub async fn enqueue(
    state: &AppState,
    target_id: i64,
    webhook_id: &str,
    ticket_id: i64,
    caller: Caller<'_>,
    event: &str,
) -> Result<bool, String> {
    let summary = state.store.ticket_summary(ticket_id).await.map_err(|e| e.to_string())?.ok_or("the ticket no longer exists")?;
    let now = state.clock.now();
    let t = &summary.ticket;
    let window_end = summary.window.window_end(state.policy);
    let (caller_key, caller_value) = caller.describe();
    let body = json!({
        "type": caller.event_type(),
        "timestamp": now.to_rfc3339(),
        "data": {
            caller_key: caller_value,
            "event": event,
            "ticket": {
                "id": t.id,
                "subject": t.subject,
                "status": t.status.as_str(),
                "priority": summary.priority.as_str(),
                "tags": summary.tags,
                "assignee_id": t.assignee_id,
                "created_at": t.created_at.to_rfc3339(),
                "url": state.public_url.as_ref().map(|u| format!("{}/tickets/{}", u.trim_end_matches('/'), t.id)),
                "business_number": {"id": t.business_number_id, "phone_number_id": summary.phone_number_id, "display": summary.business_display_number},
                "customer": {"name": summary.contact_name, "wa_id": summary.wa_id, "bsuid": summary.bsuid},
                "window": {
                    "open": summary.window.is_open(state.policy, now),
                    "last_customer_message_at": summary.window.last_inbound_at.map(Timestamp::to_rfc3339),
                    "expires_at": window_end.map(Timestamp::to_rfc3339),
                }
            }
        }
    });
    let delivery = NewHttpDelivery {
        target_id,
        webhook_id: webhook_id.to_owned(),
        ticket_id: Some(ticket_id),
        event_type: caller.event_type().into(),
        body: body.to_string(),
        now,
    };
    let queued = state.store.enqueue_http_delivery(&delivery).await.map_err(|e| e.to_string())?;
    state.http_wake.notify_one();
    Ok(queued)
}

/// Delivers due deliveries, on every instance.
pub struct HttpDeliveryWorker {
    state: AppState,
    config: HttpTargetsConfig,
    client: reqwest::Client,
    owner: String,
}

impl HttpDeliveryWorker {
    pub fn new(state: AppState, config: HttpTargetsConfig) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Windowdesk/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let owner = crate::singleton::instance_id();
        Ok(HttpDeliveryWorker { state, config, client, owner })
    }

    pub async fn run(self, shutdown: CancellationToken) {
        let wake = self.state.http_wake.clone();
        loop {
            loop {
                match self.round().await {
                    Ok(n) if n == CLAIM as usize && !shutdown.is_cancelled() => {}
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "HTTP target deliveries could not be read; trying again shortly");
                        break;
                    }
                }
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// One batch of due deliveries; returns how many it claimed.
    pub async fn round(&self) -> anyhow::Result<usize> {
        let now = self.state.clock.now();
        // Held long enough for one timed-out attempt of each, one after another.
        let hold = Duration::from_secs(self.config.timeout_seconds * (u64::from(CLAIM) + 1));
        let claimed = self.state.store.claim_http_deliveries(&self.owner, now, now.plus(hold), CLAIM).await?;
        let n = claimed.len();
        for (delivery, target) in claimed {
            let attempt = self.attempt(&delivery, &target).await;
            if let HttpAttempt::GaveUp { error, .. } = &attempt {
                tracing::warn!(target = target.id, delivery = delivery.id, error, "an HTTP target delivery was given up");
            }
            self.state.store.finish_http_attempt(delivery.id, &self.owner, &attempt, self.state.clock.now()).await?;
        }
        Ok(n)
    }

    async fn attempt(&self, d: &HttpDeliveryRow, target: &HttpTargetRow) -> HttpAttempt {
        let failed = |status: Option<i32>, error: String| {
            let attempts = u32::try_from(d.attempts).unwrap_or(0) + 1;
            if attempts >= self.config.max_attempts {
                return HttpAttempt::GaveUp { status, error };
            }
            let wait =
                backoff(attempts, Duration::from_millis(self.config.retry_initial_ms), Duration::from_millis(self.config.retry_max_ms));
            HttpAttempt::Retry { status, error, next_attempt_at: self.state.clock.now().plus(wait) }
        };
        let secret = match SigningSecret::parse(&target.secret) {
            Ok(s) => s,
            Err(e) => return HttpAttempt::GaveUp { status: None, error: format!("the target's secret cannot be used: {e}") },
        };
        let headers = SignedHeaders::new(&secret, &d.webhook_id, self.state.clock.now().unix_seconds(), d.body.as_bytes());
        let mut request = self.client.post(&target.url).header("content-type", "application/json").body(d.body.clone());
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(resp) if resp.status().is_success() => HttpAttempt::Delivered { status: i32::from(resp.status().as_u16()) },
            Ok(resp) => {
                let status = resp.status();
                let text: String = resp.text().await.unwrap_or_default().chars().take(300).collect();
                failed(Some(i32::from(status.as_u16())), format!("answered {status}: {text}"))
            }
            Err(e) if e.is_timeout() => failed(None, format!("no answer within {} s", self.config.timeout_seconds)),
            Err(e) => failed(None, format!("could not reach it: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let (i, max) = (Duration::from_secs(10), Duration::from_secs(3600));
        let waits: Vec<u64> = (1..=10).map(|a| backoff(a, i, max).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]);
        assert_eq!(backoff(1000, i, max), max);
    }

    #[test]
    fn webhook_ids_are_stable_per_firing_and_action() {
        assert_eq!(webhook_id("automation_run:12", 3, 0), "wd_automation_run_12_r3_a0");
        assert_eq!(webhook_id("message:5", 3, 1), "wd_message_5_r3_a1");
    }
}
