//! What a webhook tells the desk, in the desk's own words. The WhatsApp crate turns Meta's wire format
//! into these values (already redacted, timestamps already resolved by W1/W5); the store persists them.

use serde::Serialize;

use crate::delivery::MetaStatus;
use crate::time::Timestamp;
use crate::window::SentAt;

/// Who wrote: WhatsApp identifies a person per business number by `wa_id` (phone digits) and, since
/// 2026, by a business-scoped user id (BSUID, `user_id`). Either may be missing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ContactRef {
    pub wa_id: Option<String>,
    pub bsuid: Option<String>,
    pub parent_bsuid: Option<String>,
    pub profile_name: Option<String>,
}

impl ContactRef {
    /// The key that identifies this contact on one business number: the phone digits when known,
    /// else the BSUID. BSUIDs contain letters (`US.1349…`), so the two never collide.
    pub fn identity_key(&self) -> Option<&str> {
        self.wa_id.as_deref().or(self.bsuid.as_deref())
    }
}

/// How often a message was forwarded before reaching us (`context.forwarded` / `frequently_forwarded`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Forwarded {
    #[default]
    No,
    Forwarded,
    FrequentlyForwarded,
}

impl Forwarded {
    pub fn as_i64(self) -> i64 {
        match self {
            Self::No => 0,
            Self::Forwarded => 1,
            Self::FrequentlyForwarded => 2,
        }
    }
}

/// A media attachment, to be downloaded after the ingest commit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MediaRef {
    pub media_id: String,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    pub filename: Option<String>,
    /// Voice note (push-to-talk), as opposed to an audio file.
    pub voice: bool,
}

/// What an inbound message does beyond carrying content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum InboundAction {
    /// An ordinary message: text, media, location, contacts, interactive reply, order, unsupported…
    Content,
    /// A reaction to `target`; `emoji: None` removes the contact's reaction.
    React { target: String, emoji: Option<String> },
    /// The contact edited `target`; `body` is the new text or caption.
    Edit { target: String },
    /// The contact deleted `target`.
    Revoke { target: String },
    /// The contact's phone number changed to `new_wa_id` (`user_changed_number`).
    NumberChanged { new_wa_id: String },
    /// Another system notice (e.g. `customer_identity_changed`).
    System { kind: String },
}

/// An error attached to a message or status by Meta.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MetaError {
    pub code: i64,
    pub title: String,
    pub details: Option<String>,
}

/// One message the contact sent (or a system notice about them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InboundMessage {
    pub wamid: String,
    pub contact: ContactRef,
    pub sent_at: SentAt,
    /// Meta's message type (`text`, `image`, `interactive`, `unsupported`, or a type we have not met).
    pub kind: String,
    /// A short human-readable rendering: the text, the caption, the chosen button, "📍 name"…
    pub body: Option<String>,
    pub media: Option<MediaRef>,
    pub reply_to: Option<String>,
    pub forwarded: Forwarded,
    pub has_referral: bool,
    pub action: InboundAction,
    pub errors: Vec<MetaError>,
    /// The message as received, redacted, as JSON text: nothing Meta sent is ever dropped.
    pub raw: String,
}

impl InboundMessage {
    /// W2: does this message refresh the customer service window? Anything the customer sends does
    /// (reactions, edits and button replies included); deletions and system notices do not.
    pub fn refreshes_window(&self) -> bool {
        matches!(self.action, InboundAction::Content | InboundAction::React { .. } | InboundAction::Edit { .. })
    }

    /// Whether this message shows as a bubble in the thread (reactions, edits and revokes instead
    /// change the message they point at).
    pub fn is_thread_item(&self) -> bool {
        matches!(self.action, InboundAction::Content | InboundAction::NumberChanged { .. } | InboundAction::System { .. })
    }
}

/// A delivery status of an outbound message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    pub wamid: String,
    /// `None` for a status we do not know (kept in the log, changes nothing).
    pub status: Option<MetaStatus>,
    pub status_raw: String,
    pub at: Timestamp,
    pub recipient: Option<String>,
    pub errors: Vec<MetaError>,
    /// Meta's `pricing` object as JSON text, authoritative for cost when present.
    pub pricing: Option<String>,
    pub raw: String,
}

/// A message the business sent from another client (the WhatsApp Business app), echoed to us.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EchoMessage {
    pub wamid: String,
    pub contact: ContactRef,
    pub sent_at: Timestamp,
    pub kind: String,
    pub body: Option<String>,
    pub raw: String,
}

/// Everything a `messages`-like change says about one business number.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NumberChange {
    pub phone_number_id: String,
    pub field: String,
    pub messages: Vec<InboundMessage>,
    pub statuses: Vec<StatusReport>,
    pub echoes: Vec<EchoMessage>,
    /// Changes of this number that are not messages (calls, user preferences, change-level errors…),
    /// kept whole as account events.
    pub other: Option<String>,
    /// Parts of a `messages` or `smb_message_echoes` change that do not have Meta's documented shape
    /// (`messages` not a list, a message without `id`, …). They are kept raw in `other`, never
    /// refused: one odd part must not make Meta redeliver the whole batch for a week.
    pub unreadable: u32,
}

/// A template registry change (SPEC I7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateChange {
    pub meta_template_id: Option<String>,
    pub name: String,
    pub language: String,
    pub update: TemplateUpdate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TemplateUpdate {
    Status { status: String, category: Option<String>, reason: Option<String> },
    Category { category: String },
    Quality { quality: String },
    Components { element: String },
}

/// A change about a WhatsApp Business account rather than one number: account updates, template
/// changes, fields we do not know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountEvent {
    pub waba_id: String,
    pub field: String,
    pub event: Option<String>,
    pub template: Option<TemplateChange>,
    pub raw: String,
}

/// One change of a webhook payload, in the desk's words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Change {
    Number(NumberChange),
    Account(AccountEvent),
}
