//! What happens after a send was accepted: the statuses `sent` → `delivered` → `read` (→ `played` for
//! audio), or a single `failed`, each as a signed webhook, with Meta's per-message pricing (PMP).

use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::{sleep_until, Instant};

use crate::config::SimNumber;
use crate::error::GraphError;
use crate::state::{Customer, SimHandle};
use crate::webhooks::{contact, envelope, messages_value, user_ids, StatusEvent, UserIds};

pub(crate) const DAY_MS: i64 = 24 * 3600 * 1000;
/// A free entry point window lasts 72 h from the business's first answer.
const FEP_MS: i64 = 3 * DAY_MS;

/// Prices a message and opens a free entry point window when this send starts one (SPEC W6): a
/// customer who came from an ad and is answered within 24 h gets 72 h of free messages.
/// Returns the `pricing` object and, inside a free entry point, the `conversation` object (PMP
/// statuses carry one only there).
pub(crate) fn price(customer: &mut Customer, template_category: Option<&str>, window_open: bool, now_ms: i64) -> (Value, Option<Value>) {
    if window_open && customer.referral_ms.is_some_and(|r| now_ms < r + DAY_MS) {
        customer.fep_until_ms = Some(now_ms + FEP_MS);
        customer.referral_ms = None;
    }
    if let Some(until) = customer.fep_until_ms.filter(|&u| now_ms < u) {
        let pricing = json!({"billable": false, "pricing_model": "PMP", "category": "referral_conversion", "type": "free_entry_point"});
        let conversation = json!({
            "id": format!("{:x}", until),
            "expiration_timestamp": until.div_euclid(1000).to_string(),
            "origin": {"type": "referral_conversion"},
        });
        return (pricing, Some(conversation));
    }
    let pricing = match template_category.map(str::to_ascii_lowercase) {
        None => json!({"billable": false, "pricing_model": "PMP", "category": "service", "type": "free_customer_service"}),
        // Utility templates inside an open customer service window are free.
        Some(cat) if cat == "utility" && window_open => {
            json!({"billable": false, "pricing_model": "PMP", "category": "utility", "type": "free_customer_service"})
        }
        Some(cat) => json!({"billable": true, "pricing_model": "PMP", "category": cat, "type": "regular"}),
    };
    (pricing, None)
}

/// Everything the status task needs about one accepted message.
pub(crate) struct StatusPlan {
    pub number: SimNumber,
    pub wamid: String,
    /// The customer's phone number, when the sim knows who it is.
    pub wa_id: Option<String>,
    /// The BSUID or parent BSUID the message was sent to (`recipient`), if it was.
    pub user_id: Option<String>,
    /// Whether parent BSUIDs are enabled (`SimConfig::parent_bsuids`).
    pub parent_bsuids: bool,
    pub profile_name: Option<String>,
    pub is_audio: bool,
    pub pricing: Value,
    pub conversation: Option<Value>,
    pub biz_opaque_callback_data: Option<String>,
    /// An asynchronous failure (e.g. `131047` in async mode): one `failed` status instead of progress.
    pub failure: Option<GraphError>,
    pub generation: u64,
    pub accepted: Instant,
}

impl SimHandle {
    pub(crate) fn spawn_statuses(&self, plan: StatusPlan) {
        let sim = self.clone();
        self.0.tasks.spawn(async move {
            tokio::select! {
                () = sim.0.cancel.cancelled() => {}
                () = sim.run_statuses(plan) => {}
            }
        });
    }

    async fn run_statuses(&self, plan: StatusPlan) {
        let delays = self.0.config.status_delays;
        let steps: Vec<(&str, u64)> = if plan.failure.is_some() {
            vec![("failed", delays.sent_ms)]
        } else {
            let mut steps = vec![("sent", delays.sent_ms)];
            steps.extend(delays.delivered_ms.map(|d| ("delivered", d)));
            steps.extend(delays.read_ms.map(|d| ("read", d)));
            if plan.is_audio {
                steps.extend(delays.played_ms.map(|d| ("played", d)));
            }
            steps
        };
        for (status, delay) in steps {
            sleep_until(plan.accepted + Duration::from_millis(delay)).await;
            if self.generation() != plan.generation {
                return;
            }
            let failed = status == "failed";
            // As Meta does: `recipient_id` is the phone number a message was sent to; a message sent to
            // a BSUID or parent BSUID has `recipient_user_id` instead, and `contacts` then shows no phone number.
            let ids = match &plan.wa_id {
                Some(wa_id) => user_ids(&plan.number.waba_id, wa_id, plan.parent_bsuids),
                None => UserIds { user_id: plan.user_id.clone().unwrap_or_default(), parent_user_id: None },
            };
            let shown_wa_id = plan.wa_id.as_deref().filter(|_| plan.user_id.is_none());
            let event = StatusEvent {
                wamid: &plan.wamid,
                status,
                timestamp_secs: self.0.clock.now_secs(),
                recipient: shown_wa_id,
                recipient_user_id: plan.user_id.as_deref(),
                parent_recipient_user_id: ids.parent_user_id.as_deref(),
                pricing: (!failed).then_some(&plan.pricing),
                conversation: if failed { None } else { plan.conversation.as_ref() },
                biz_opaque_callback_data: plan.biz_opaque_callback_data.as_deref(),
                error: plan.failure.as_ref(),
            };
            let value =
                messages_value(&plan.number, contact(shown_wa_id, &ids, plan.profile_name.as_deref()), "statuses", vec![event.to_json()]);
            {
                let mut inner = self.lock();
                if let Some(m) = inner.received_mut(&plan.wamid) {
                    m.status = status.to_owned();
                    if let Some(e) = &plan.failure {
                        m.error_code = Some(e.code);
                    }
                }
            }
            self.deliver(&plan.number, format!("status:{status}"), &plan.wamid, &envelope(&plan.number, value)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_messages_are_free_and_templates_priced_by_category() {
        let mut c = Customer::default();
        let (p, conv) = price(&mut c, None, true, 0);
        assert_eq!(p, json!({"billable": false, "pricing_model": "PMP", "category": "service", "type": "free_customer_service"}));
        assert!(conv.is_none());
        let (p, _) = price(&mut c, Some("UTILITY"), true, 0);
        assert_eq!(p["billable"], false);
        let (p, _) = price(&mut c, Some("UTILITY"), false, 0);
        assert_eq!((p["billable"].clone(), p["type"].clone()), (json!(true), json!("regular")));
        let (p, _) = price(&mut c, Some("MARKETING"), true, 0);
        assert_eq!((p["category"].clone(), p["billable"].clone()), (json!("marketing"), json!(true)));
    }

    #[test]
    fn an_answer_to_an_ad_click_opens_a_free_entry_point() {
        let mut c = Customer { referral_ms: Some(0), last_inbound_ms: Some(0), ..Customer::default() };
        let (p, conv) = price(&mut c, None, true, 1_000);
        assert_eq!(p["type"], "free_entry_point");
        assert_eq!(conv.unwrap()["origin"]["type"], "referral_conversion");
        // A marketing template two days later is still free; after 72 h it is not.
        let (p, _) = price(&mut c, Some("MARKETING"), false, 2 * DAY_MS);
        assert_eq!(p["billable"], false);
        let (p, _) = price(&mut c, Some("MARKETING"), false, 1_000 + FEP_MS);
        assert_eq!(p["billable"], true);
    }

    #[test]
    fn a_late_answer_to_an_ad_click_opens_nothing() {
        let mut c = Customer { referral_ms: Some(0), ..Customer::default() };
        let (p, _) = price(&mut c, Some("MARKETING"), false, DAY_MS + 1);
        assert_eq!(p["type"], "regular");
        assert!(c.fep_until_ms.is_none());
    }
}
