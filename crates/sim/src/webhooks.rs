//! Webhooks to the desk: Meta's envelope, signed with the number's app secret
//! (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>`), retried with back-off on a
//! non-2xx answer or a connection error, every attempt counted.

use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::time::{sleep_until, Instant};

use crate::config::SimNumber;
use crate::error::GraphError;
use crate::state::{DeliveryOutcome, DeliveryRecord, SimHandle};

/// `{"object": "whatsapp_business_account", "entry": [{"id": <waba>, "changes": [{"value", "field": "messages"}]}]}`.
pub(crate) fn envelope(number: &SimNumber, value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": number.waba_id, "changes": [{"value": value, "field": "messages"}]}],
    })
}

/// The change `value` around messages or statuses of one customer.
pub(crate) fn messages_value(number: &SimNumber, contact: Value, key: &str, items: Vec<Value>) -> Value {
    let mut v = json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": number.display_digits(), "phone_number_id": number.phone_number_id},
        "contacts": [contact],
    });
    v[key] = Value::Array(items);
    v
}

/// A business-scoped user id (BSUID) like Meta's (`US.1349…`): stable per WABA and customer.
pub(crate) fn bsuid(waba_id: &str, wa_id: &str) -> String {
    format!("US.{:020}", digest_u64(&format!("{waba_id}:{wa_id}")))
}

/// A parent BSUID like Meta's (`US.ENT.1181…`), shared by the linked portfolios of a business.
pub(crate) fn parent_bsuid(waba_id: &str, wa_id: &str) -> String {
    format!("US.ENT.{:020}", digest_u64(&format!("parent:{waba_id}:{wa_id}")))
}

fn digest_u64(s: &str) -> u64 {
    let digest = Sha256::digest(s.as_bytes());
    let mut n = [0u8; 8];
    n.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(n)
}

/// Whether `s` has the shape of a BSUID (`US.13491208655302741918`) or a parent BSUID
/// (`US.ENT.11815799212886844830`): an ISO 3166 alpha-2 country code, a period, then alphanumerics.
pub(crate) fn looks_like_bsuid(s: &str) -> bool {
    let Some((country, rest)) = s.split_once('.') else { return false };
    let rest = rest.strip_prefix("ENT.").unwrap_or(rest);
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_uppercase())
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A customer's business-scoped ids within one WABA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UserIds {
    pub user_id: String,
    /// Only when the sim plays a business with parent BSUIDs enabled (`parent_bsuids`).
    pub parent_user_id: Option<String>,
}

impl UserIds {
    /// Whether `id` is one of them.
    pub fn names(&self, id: &str) -> bool {
        self.user_id == id || self.parent_user_id.as_deref() == Some(id)
    }
}

pub(crate) fn user_ids(waba_id: &str, wa_id: &str, parent: bool) -> UserIds {
    UserIds { user_id: bsuid(waba_id, wa_id), parent_user_id: parent.then(|| parent_bsuid(waba_id, wa_id)) }
}

/// `contacts[]` of a webhook: profile name (when known), `wa_id` (when the phone number is to be
/// shown), BSUID and parent BSUID.
pub(crate) fn contact(wa_id: Option<&str>, ids: &UserIds, profile_name: Option<&str>) -> Value {
    let mut c = json!({"user_id": ids.user_id});
    if let Some(wa_id) = wa_id {
        c["wa_id"] = json!(wa_id);
    }
    if let Some(parent) = &ids.parent_user_id {
        c["parent_user_id"] = json!(parent);
    }
    if let Some(name) = profile_name {
        c["profile"] = json!({ "name": name });
    }
    c
}

/// One status of an outbound message.
pub(crate) struct StatusEvent<'a> {
    pub wamid: &'a str,
    pub status: &'a str,
    pub timestamp_secs: i64,
    /// `recipient_id`: the phone number, when the message was sent to one.
    pub recipient: Option<&'a str>,
    /// `recipient_user_id`: the BSUID or parent BSUID, when the message was sent to one.
    pub recipient_user_id: Option<&'a str>,
    /// `parent_recipient_user_id`: the customer's parent BSUID, when parent BSUIDs are enabled.
    pub parent_recipient_user_id: Option<&'a str>,
    pub pricing: Option<&'a Value>,
    pub conversation: Option<&'a Value>,
    pub biz_opaque_callback_data: Option<&'a str>,
    pub error: Option<&'a GraphError>,
}

impl StatusEvent<'_> {
    pub fn to_json(&self) -> Value {
        let mut s = json!({
            "id": self.wamid,
            "status": self.status,
            "timestamp": self.timestamp_secs.to_string(),
        });
        if let Some(r) = self.recipient {
            s["recipient_id"] = json!(r);
        }
        if let Some(r) = self.recipient_user_id {
            s["recipient_user_id"] = json!(r);
        }
        if let Some(r) = self.parent_recipient_user_id {
            s["parent_recipient_user_id"] = json!(r);
        }
        if let Some(data) = self.biz_opaque_callback_data {
            s["biz_opaque_callback_data"] = json!(data);
        }
        if let Some(c) = self.conversation {
            s["conversation"] = c.clone();
        }
        if let Some(p) = self.pricing {
            s["pricing"] = p.clone();
        }
        if let Some(e) = self.error {
            s["errors"] = json!([e.webhook_error()]);
        }
        s
    }
}

fn backoff(attempt: u32, initial_ms: u64, max_ms: u64) -> Duration {
    let factor = 1u64.checked_shl(attempt.saturating_sub(1)).unwrap_or(u64::MAX);
    Duration::from_millis(initial_ms.saturating_mul(factor).min(max_ms))
}

impl SimHandle {
    /// Signs and posts a payload for a number, retrying as configured. Returns the final record.
    pub(crate) async fn deliver(&self, number: &SimNumber, what: String, wamid: &str, payload: &Value) -> DeliveryRecord {
        let body = payload.to_string();
        let signature = windowdesk_whatsapp::signature::sign(number.app_secret.as_bytes(), body.as_bytes());
        let (id, url) = {
            let mut inner = self.lock();
            let url = number.webhook_url.clone().or_else(|| inner.webhook_url.clone());
            inner.next_delivery_id += 1;
            let id = inner.next_delivery_id;
            inner.stats.deliveries += 1;
            inner.deliveries.push(DeliveryRecord {
                id,
                phone_number_id: number.phone_number_id.clone(),
                what,
                wamid: wamid.to_owned(),
                url: url.clone(),
                attempts: 0,
                outcome: if url.is_some() { DeliveryOutcome::Pending } else { DeliveryOutcome::Skipped },
                last_http_status: None,
                last_error: None,
                body: body.clone(),
            });
            (id, url)
        };
        let Some(url) = url else {
            return self.delivery(id);
        };
        let retry = self.0.config.webhook_retry;
        for attempt in 1..=retry.max_attempts {
            let request = self
                .0
                .http
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", &signature)
                .body(body.clone())
                .send();
            let result = tokio::select! {
                () = self.0.cancel.cancelled() => return self.delivery(id),
                r = request => r,
            };
            let (ok, status, error) = match result {
                Ok(resp) => {
                    let status = resp.status();
                    (status.is_success(), Some(status.as_u16()), (!status.is_success()).then(|| format!("HTTP {status}")))
                }
                Err(e) => (false, None, Some(e.to_string())),
            };
            let last = attempt == retry.max_attempts;
            self.update_delivery(id, |d, stats| {
                d.attempts = attempt;
                d.last_http_status = status;
                d.last_error = error.clone();
                if ok {
                    d.outcome = DeliveryOutcome::Delivered;
                    stats.delivered += 1;
                } else {
                    stats.failed_attempts += 1;
                    if last {
                        d.outcome = DeliveryOutcome::Failed;
                        stats.failed += 1;
                    }
                }
            });
            if ok {
                break;
            }
            if !last {
                tracing::debug!(url, attempt, ?error, "webhook delivery failed; retrying");
                let wake = Instant::now() + backoff(attempt, retry.initial_backoff_ms, retry.max_backoff_ms);
                tokio::select! {
                    () = self.0.cancel.cancelled() => return self.delivery(id),
                    () = sleep_until(wake) => {}
                }
            } else {
                tracing::warn!(url, attempts = attempt, ?error, "webhook delivery failed; giving up");
            }
        }
        self.delivery(id)
    }

    fn update_delivery(&self, id: u64, f: impl FnOnce(&mut DeliveryRecord, &mut crate::state::DeliveryStats)) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        // After a reset the record is gone; the attempt then counts for nothing.
        if let Some(d) = inner.deliveries.iter_mut().rev().find(|d| d.id == id) {
            f(d, &mut inner.stats);
        }
    }

    fn delivery(&self, id: u64) -> DeliveryRecord {
        let inner = self.lock();
        inner.deliveries.iter().rev().find(|d| d.id == id).cloned().unwrap_or_else(|| DeliveryRecord {
            id,
            phone_number_id: String::new(),
            what: String::new(),
            wamid: String::new(),
            url: None,
            attempts: 0,
            outcome: DeliveryOutcome::Failed,
            last_http_status: None,
            last_error: Some("the sim was reset or stopped during delivery".into()),
            body: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1, 100, 5_000), Duration::from_millis(100));
        assert_eq!(backoff(2, 100, 5_000), Duration::from_millis(200));
        assert_eq!(backoff(4, 100, 5_000), Duration::from_millis(800));
        assert_eq!(backoff(10, 100, 5_000), Duration::from_millis(5_000));
        assert_eq!(backoff(99, 100, 5_000), Duration::from_millis(5_000));
    }

    #[test]
    fn bsuids_are_stable_and_look_like_metas() {
        let a = bsuid("1", "4915112345678");
        assert_eq!(a, bsuid("1", "4915112345678"));
        assert_ne!(a, bsuid("2", "4915112345678"));
        assert!(a.starts_with("US.") && a.len() == 23);
        let p = parent_bsuid("1", "4915112345678");
        assert!(p.starts_with("US.ENT.") && p.len() == 27);
        assert!(looks_like_bsuid(&a) && looks_like_bsuid(&p) && looks_like_bsuid("US.13491208655302741918"));
        for not in ["4915112345678", "+49 151", "us.123", "USA.1", "US.", "US.ENT.", "US.12 3"] {
            assert!(!looks_like_bsuid(not), "{not}");
        }
        assert!(user_ids("1", "4915112345678", true).names(&p));
        assert!(!user_ids("1", "4915112345678", false).names(&p));
    }
}
