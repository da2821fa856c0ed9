//! What the store returns and takes, besides ingest payloads.

use serde::Serialize;
use windowdesk_core::{CustomerWindow, DeliveryState, TicketStatus, Timestamp};

/// A business number as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusinessNumberSpec {
    pub phone_number_id: String,
    pub waba_id: String,
    pub display_number: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BusinessNumberRow {
    pub id: i64,
    pub phone_number_id: String,
    pub waba_id: String,
    pub display_number: String,
    pub name: String,
}

#[derive(Clone, Debug, Default)]
pub struct TicketFilter {
    pub status: Option<TicketStatus>,
    pub business_number_id: Option<i64>,
    pub identity_id: Option<i64>,
    /// Tickets with `id < before_id` (keyset pagination, newest first).
    pub before_id: Option<i64>,
    pub limit: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TicketRow {
    pub id: i64,
    pub business_number_id: i64,
    pub identity_id: i64,
    pub requester_id: i64,
    pub status: TicketStatus,
    pub subject: String,
    pub assignee_id: Option<i64>,
    pub followup_of: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_message_at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
    Note,
    System,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Note => "note",
            Direction::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "inbound" => Direction::Inbound,
            "outbound" => Direction::Outbound,
            "note" => Direction::Note,
            "system" => Direction::System,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageRow {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub business_number_id: i64,
    pub identity_id: Option<i64>,
    pub direction: Direction,
    pub wamid: Option<String>,
    pub kind: String,
    pub body: Option<String>,
    pub media_id: Option<String>,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
    pub voice: bool,
    pub reply_to_wamid: Option<String>,
    pub target_wamid: Option<String>,
    /// 0 not forwarded, 1 forwarded, 2 frequently forwarded.
    pub forwarded: i64,
    pub referral: bool,
    pub sent_at: Timestamp,
    pub received_at: Timestamp,
    pub delivery_state: Option<DeliveryState>,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub error_details: Option<String>,
    pub edited_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// Meta's errors on an inbound message, as JSON.
    pub errors: Option<String>,
    /// The message as received (redacted), as JSON.
    pub raw: Option<String>,
    /// The reply was in flight when the desk stopped, and was sent again: the customer may have it twice.
    pub maybe_duplicate: bool,
    /// Who wrote an outbound message: `agent:<id>`, `api:<token>`, `rule:<id>`.
    pub author: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventRow {
    pub id: i64,
    pub ticket_id: i64,
    pub at: Timestamp,
    /// `customer`, `system`, `meta`, `agent:<id>`, `rule:<id>`.
    pub actor: String,
    pub kind: String,
    pub data: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdentityRow {
    pub id: i64,
    pub contact_id: i64,
    pub business_number_id: i64,
    pub identity_key: String,
    pub wa_id: Option<String>,
    pub bsuid: Option<String>,
    pub profile_name: Option<String>,
    pub contact_name: String,
    pub name_is_default: bool,
    #[serde(skip)]
    pub window: CustomerWindow,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdentityChangeRow {
    pub at: Timestamp,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReactionRow {
    pub identity_id: i64,
    pub emoji: String,
    pub reacted_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RevisionRow {
    pub kind: String,
    pub source_wamid: String,
    pub previous_body: Option<String>,
    pub new_body: Option<String>,
    pub at: Timestamp,
    pub applied: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusEventRow {
    pub status: String,
    pub at: Timestamp,
    pub pricing: Option<String>,
    pub errors: Option<String>,
    pub applied: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateRow {
    pub waba_id: String,
    pub name: String,
    pub language: String,
    pub meta_template_id: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    pub quality: Option<String>,
    pub reason: Option<String>,
    pub components: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountEventRow {
    pub waba_id: Option<String>,
    pub business_number_id: Option<i64>,
    pub field: String,
    pub event: Option<String>,
    pub raw: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnknownNumberRow {
    pub phone_number_id: String,
    pub count: i64,
    pub last_seen: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MediaJobRow {
    pub business_number_id: i64,
    pub wamid: String,
    pub media_id: String,
    pub state: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub tickets: i64,
    pub messages: i64,
    pub identities: i64,
    pub status_events: i64,
}

/// An outbound message Meta accepted.
#[derive(Clone, Debug)]
pub struct OutboundAccepted {
    pub ticket_id: i64,
    pub wamid: String,
    pub kind: String,
    pub body: Option<String>,
    pub accepted_at: Timestamp,
}

/// A free-form or template reply to commit to the outbox (D5). The caller has decided, with
/// `windowdesk_core::decide`, that it may be sent; the dispatcher re-checks `window_end` at send time.
#[derive(Clone, Debug)]
pub struct NewOutbound {
    pub ticket_id: i64,
    /// `text` or `template`.
    pub kind: String,
    /// What the agent sees in the thread.
    pub body: Option<String>,
    /// `agent:<id>`, `api:<token id>`, `rule:<id>`.
    pub author: String,
    /// The Cloud API send request, JSON.
    pub request: String,
    /// Free-form messages need an open window: no attempt is made at or after `window_end`.
    pub free_form: bool,
    pub window_end: Option<Timestamp>,
    pub now: Timestamp,
}

/// What `enqueue` committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    pub message_id: i64,
    pub outbox_id: i64,
}

/// A claimed outbox row, ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxJob {
    pub outbox_id: i64,
    pub message_id: i64,
    pub ticket_id: i64,
    pub business_number_id: i64,
    pub recipient: String,
    pub request: String,
    pub free_form: bool,
    pub window_end: Option<Timestamp>,
    /// 1 for the first try.
    pub attempt: i64,
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    Accepted {
        wamid: String,
    },
    /// Transient: try again at `next_attempt_at`.
    Retry {
        next_attempt_at: Timestamp,
        error: SendError,
    },
    /// Permanent, or the window closed at Meta (`131047`).
    Failed {
        error: SendError,
    },
    /// Not sent: the window closed before it could go.
    Blocked,
}

/// An error from Meta or the network, as recorded on the message and the attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SendError {
    pub http_status: Option<i64>,
    pub code: Option<i64>,
    pub title: String,
    pub details: Option<String>,
}
