//! Rows and inputs of the template registry, the fallback settings of business numbers, held replies
//! and what agents do about failed deliveries (SPEC 9, D4).

use serde::Serialize;
use windowdesk_core::{DeliveryState, Fallback, Timestamp};

/// One template as a sync from Meta saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncedTemplate {
    pub name: String,
    pub language: String,
    pub meta_template_id: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    /// Meta's template object, JSON.
    pub definition: String,
}

/// What a sync changed in the registry of one account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TemplateSyncCounts {
    pub added: u64,
    /// Known before, with a different definition, status or category now.
    pub updated: u64,
    /// Known before and the same.
    pub unchanged: u64,
    /// Listed before, gone from Meta's list now.
    pub removed: u64,
}

/// How a business number gets out of a closed window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NumberSettings {
    pub business_number_id: i64,
    /// Most preferred first.
    pub fallback_ladder: Vec<Fallback>,
    /// The "a reply is waiting for you" template sent when a reply is held, if any.
    pub hold_notice_template: Option<String>,
    pub hold_notice_language: Option<String>,
    /// How long a held reply waits for the customer before it fails as expired.
    pub hold_hours: i64,
    /// E.164 sender for SMS fallback; SMS is offered only when it is set.
    pub sms_from: Option<String>,
    /// Mark the customer's messages read at Meta when an agent opens their ticket.
    pub read_receipts: bool,
    /// Show the customer a typing indicator while an agent types a reply.
    pub typing_indicator: bool,
    pub updated_at: Timestamp,
    pub updated_by: Option<String>,
}

/// What an agent did about a message that needed attention (D4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Dismissed,
    /// Replaced by an approved template.
    Template,
    /// Replaced by an SMS.
    Sms,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dismissed => "dismissed",
            Self::Template => "template",
            Self::Sms => "sms",
        }
    }
}

/// An outbound message with what the desk needs to act on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutboundMessage {
    pub message_id: i64,
    pub ticket_id: i64,
    pub business_number_id: i64,
    pub identity_id: i64,
    pub kind: String,
    pub body: Option<String>,
    pub state: DeliveryState,
    /// `whatsapp` or `sms`.
    pub channel: String,
    /// The send request as queued.
    pub request: String,
    pub free_form: bool,
    pub hold_expires_at: Option<Timestamp>,
    pub resolution: Option<String>,
    pub replaced_by: Option<i64>,
}

/// How a failed or blocked message goes back to the outbox: now (the window is open again), or held
/// until the customer writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requeue {
    Now { window_end: Option<Timestamp> },
    Hold { expires_at: Timestamp },
}

/// What became of a "reply waiting" notice offered for a customer's current closed-window episode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldNoticeSlot {
    /// The first of the episode: committed to the outbox.
    Queued(crate::model::Enqueued),
    /// The episode already has its notice (message `message_id`); nothing was stored.
    AlreadySent { message_id: Option<i64> },
}

/// A held reply that ran out of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ExpiredHold {
    pub message_id: i64,
    pub ticket_id: i64,
}

/// The ladder as stored (a JSON array of step names); unknown steps are skipped.
pub fn parse_ladder(json: &str) -> Vec<Fallback> {
    serde_json::from_str::<Vec<String>>(json).unwrap_or_default().iter().filter_map(|s| Fallback::parse(s)).collect()
}

pub fn ladder_json(ladder: &[Fallback]) -> String {
    serde_json::Value::from(ladder.iter().map(|f| f.as_str()).collect::<Vec<_>>()).to_string()
}

/// Why an expired held reply failed, in the words agents see.
pub const HELD_EXPIRED_TITLE: &str = "held reply expired";
pub const HELD_EXPIRED_DETAILS: &str =
    "The customer did not write again before the hold ran out, so the reply was never sent. Send it as a template or via SMS, or dismiss it.";

/// A registry row as a sync compares it with what Meta lists now.
pub(crate) struct KnownTemplate {
    pub definition: Option<String>,
    pub status: Option<String>,
    pub category: Option<String>,
    pub removed: bool,
}

impl TemplateSyncCounts {
    /// Counts one listed template: new, changed, or as it was.
    pub(crate) fn count(&mut self, before: Option<&KnownTemplate>, now: &SyncedTemplate) {
        match before {
            None => self.added += 1,
            Some(k)
                if !k.removed
                    && k.definition.as_deref() == Some(now.definition.as_str())
                    && (now.status.is_none() || k.status == now.status)
                    && (now.category.is_none() || k.category == now.category) =>
            {
                self.unchanged += 1
            }
            Some(_) => self.updated += 1,
        }
    }
}
