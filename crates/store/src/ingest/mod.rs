//! Webhook payloads as the store takes them, and the plan that turns them into writes.

pub mod plan;

use serde::Serialize;
use windowdesk_core::inbound::{AccountEvent, NumberChange};
use windowdesk_core::Timestamp;

/// One verified webhook payload, normalised, with its business numbers resolved.
#[derive(Clone, Debug)]
pub struct IngestPayload {
    pub received_at: Timestamp,
    pub items: Vec<IngestItem>,
}

#[derive(Clone, Debug)]
pub enum IngestItem {
    /// Messages, statuses, echoes or other changes of a number the desk serves.
    Number { business_number_id: i64, change: NumberChange },
    /// A change about a WhatsApp Business account (account updates, templates, unknown fields).
    Account { business_number_id: Option<i64>, event: AccountEvent },
    /// A change for a `phone_number_id` the desk does not serve: recorded and counted, nothing else.
    UnknownNumber { phone_number_id: String },
}

/// What committing a payload did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngestSummary {
    pub messages_new: u32,
    pub messages_duplicate: u32,
    pub statuses_new: u32,
    pub statuses_duplicate: u32,
    pub tickets_created: u32,
    pub account_events: u32,
    pub unknown_numbers: u32,
    /// The tickets this payload changed (a message, a status, an event), sorted, for live updates.
    pub tickets: Vec<i64>,
    /// Held replies this batch sent back to the queue because their customers wrote (SPEC 9).
    pub held_released: u32,
}

/// Held replies are released per batch, not per payload: they are counted on the batch's first
/// summary, whose tickets then include theirs.
pub(crate) fn note_released(summaries: &mut [IngestSummary], released: &[(i64, i64)]) {
    if let Some(first) = summaries.first_mut() {
        first.held_released += u32::try_from(released.len()).unwrap_or(u32::MAX);
        first.tickets.extend(released.iter().map(|(_, ticket)| *ticket));
        first.tickets.sort_unstable();
        first.tickets.dedup();
    }
}

impl IngestSummary {
    pub fn add(&mut self, o: &IngestSummary) {
        self.messages_new += o.messages_new;
        self.messages_duplicate += o.messages_duplicate;
        self.statuses_new += o.statuses_new;
        self.statuses_duplicate += o.statuses_duplicate;
        self.tickets_created += o.tickets_created;
        self.account_events += o.account_events;
        self.unknown_numbers += o.unknown_numbers;
        self.held_released += o.held_released;
        self.tickets.extend_from_slice(&o.tickets);
        self.tickets.sort_unstable();
        self.tickets.dedup();
    }
}

/// A status kept because it arrived before its message's wamid was known, applied now (D1): the
/// message's error, when Meta gave one, and the `delivery_status` event the ticket would have got
/// had the status come in order (which is also what sets off rules on a failed delivery).
pub(crate) struct EarlyStatus {
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub error_details: Option<String>,
    pub event_data: String,
}

impl EarlyStatus {
    /// `errors` as kept in `status_events.errors`: Meta's errors as JSON, or `None`.
    pub(crate) fn new(wamid: &str, status: &str, errors: Option<&str>) -> EarlyStatus {
        let errors: serde_json::Value = errors.and_then(|e| serde_json::from_str(e).ok()).unwrap_or_else(|| serde_json::json!([]));
        let first = errors.get(0);
        EarlyStatus {
            error_code: first.and_then(|e| e.get("code")).and_then(serde_json::Value::as_i64),
            error_title: first.and_then(|e| e.get("title")).and_then(serde_json::Value::as_str).map(str::to_owned),
            error_details: first.and_then(|e| e.get("details")).and_then(serde_json::Value::as_str).map(str::to_owned),
            event_data: serde_json::json!({"wamid": wamid, "status": status, "applied": true, "errors": errors}).to_string(),
        }
    }
}
