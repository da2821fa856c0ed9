//! What the store returns and takes, besides ingest payloads.

use serde::{Deserialize, Serialize};
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
    pub const ALL: [Direction; 4] = [Direction::Inbound, Direction::Outbound, Direction::Note, Direction::System];

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
    /// When the delivery state last changed (Meta's time for its statuses).
    pub delivery_updated_at: Option<Timestamp>,
    /// When an outbound message left the desk (its provider accepted it; the last time if resent).
    /// `sent_at` stays the moment it was written.
    pub went_out_at: Option<Timestamp>,
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
    /// Meta's template object from the last sync, JSON; `None` until the account was synced.
    pub definition: Option<String>,
    pub synced_at: Option<Timestamp>,
    /// The last sync no longer listed it.
    pub removed_at: Option<Timestamp>,
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
    /// `whatsapp` (the Cloud API) or `sms` (the SMS provider).
    pub channel: Channel,
    /// Commit it held (state `held`) until the customer writes again or this moment passes.
    pub hold_until: Option<Timestamp>,
    /// A failed or blocked message this one replaces (D4): it leaves the Failed deliveries list in the
    /// same transaction, keeping its history.
    pub replaces: Option<(i64, crate::fallback_model::Resolution)>,
    /// Unique per message when given: enqueueing a second message with the same key queues nothing and
    /// answers with the first (an automation picked up again after its instance died).
    pub dedupe_key: Option<String>,
    /// The file of a media reply, already stored content-addressed in the media directory; the
    /// dispatcher uploads it to Meta when it sends.
    pub media: Option<OutboundMedia>,
    /// The customer's message this one replies to (Meta's `context.message_id`), quoted in both threads.
    pub reply_to_wamid: Option<String>,
    /// What the send decision estimated it costs (SPEC 11): stored with the message in
    /// `message_costs`, settled later from Meta's statuses.
    pub estimate: Option<CostEstimate>,
}

/// A message's price as estimated before sending (see [`NewOutbound::estimate`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CostEstimate {
    /// Meta's pricing category (`service`, `utility`, `marketing`, …) or `sms`.
    pub category: String,
    pub market: Option<String>,
    pub currency: Option<String>,
    /// Millionths of the currency; `None` when the desk could not price it.
    pub micros: Option<i64>,
    /// `customer_service_window`, `free_entry_point`, `open_conversation`.
    pub free_because: Option<String>,
    /// The rate card that priced it.
    pub card: Option<String>,
}

/// The file an agent attached to a reply (see [`NewOutbound::media`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundMedia {
    /// Hex SHA-256 of the content: the file lives at `<media dir>/<aa>/<sha256>`.
    pub sha256: String,
    pub mime_type: String,
    pub size: i64,
    /// The name the agent's file had (documents show it to the customer).
    pub filename: Option<String>,
}

/// Which provider an outbound message goes through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    #[default]
    Whatsapp,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whatsapp => "whatsapp",
            Self::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "sms" {
            Self::Sms
        } else {
            Self::Whatsapp
        }
    }
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
    pub channel: Channel,
    /// The generation of the business number's `send:` lease this job was claimed under: the send may
    /// start, and its outcome be recorded, only while the row still carries it (fencing).
    pub claim_generation: i64,
}

/// A named lease held by one instance at a time (SPEC 12). See [`crate::LeaseStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    /// Grows each time the lease changes hands; the fencing token.
    pub generation: i64,
    pub expires_at: Timestamp,
}

impl Lease {
    /// A released lease is free this long after its release: Meta counts a send within the second
    /// after it, so the next holder's first second must not overlap the last sends of the one before.
    pub const RELEASE_SETTLES_MS: i64 = 1_100;

    /// The name of the lease that lets one instance send for a business number.
    pub fn send_name(business_number_id: i64) -> String {
        format!("send:{business_number_id}")
    }
}

/// A lease as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeaseRow {
    pub name: String,
    /// `<process id>-<random>` of the instance holding it; `None` when released.
    pub owner: Option<String>,
    pub generation: i64,
    pub expires_at: Timestamp,
}

/// Who claims, and under which `send:` lease generation for each business number it may claim for.
#[derive(Clone, Debug, Default)]
pub struct SendClaim {
    pub worker: String,
    /// `(business_number_id, generation)`: only rows of these numbers are claimed.
    pub numbers: Vec<(i64, i64)>,
}

/// What taking over a business number's sending found of the previous holder's claims.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Claimed and started (the request may have reached Meta): queued again, marked "may have been
    /// sent twice".
    pub maybe_sent: u64,
    /// Claimed but never started: queued again as they were.
    pub unstarted: u64,
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

/// Who may change things from outside: an API token. Only a hash of the secret is stored; the
/// plaintext exists once, in [`CreatedApiToken`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiTokenRow {
    pub id: i64,
    pub name: String,
    /// The first characters of the token (`wdk_1a2b3c4d`), so people can tell tokens apart.
    pub prefix: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// A token just created: `token` is the plaintext, shown this once and never stored.
#[derive(Clone, Debug)]
pub struct CreatedApiToken {
    pub row: ApiTokenRow,
    pub token: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentRole {
    Admin,
    Agent,
}

impl AgentRole {
    pub const ALL: [AgentRole; 2] = [AgentRole::Admin, AgentRole::Agent];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentRole::Admin => "admin",
            AgentRole::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(AgentRole::Admin),
            "agent" => Some(AgentRole::Agent),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: AgentRole,
    pub created_at: Timestamp,
    #[serde(skip)]
    pub has_password: bool,
    /// `false` once deactivated: they cannot sign in and are not offered as an assignee.
    #[serde(skip)]
    pub active: bool,
}

/// An agent to create. `email` is compared case-insensitively (stored lowercased by the caller).
#[derive(Clone, Debug)]
pub struct NewAgent {
    pub name: String,
    pub email: String,
    pub role: AgentRole,
    /// An argon2 PHC string, hashed by the caller.
    pub password_hash: Option<String>,
    pub now: Timestamp,
}

/// Whose tickets to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssigneeFilter {
    Unassigned,
    Agent(i64),
}

/// Filters of the ticket list that agents and the API use; newest first, keyset-paginated.
#[derive(Clone, Debug, Default)]
pub struct TicketQuery {
    pub status: Option<TicketStatus>,
    pub business_number_id: Option<i64>,
    pub assignee: Option<AssigneeFilter>,
    pub tag: Option<String>,
    /// Tickets with `id < before_id`.
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// A ticket with what a list or a header shows next to it: its number, requester, window and tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketSummary {
    pub ticket: TicketRow,
    pub phone_number_id: String,
    pub business_display_number: String,
    pub contact_name: String,
    pub wa_id: Option<String>,
    pub bsuid: Option<String>,
    pub window: CustomerWindow,
    /// Sorted.
    pub tags: Vec<String>,
    pub priority: windowdesk_core::routing::Priority,
}

/// A change to a ticket's fields, applied in one transaction with one event per changed field.
#[derive(Clone, Debug, Default)]
pub struct TicketChange {
    pub status: Option<TicketStatus>,
    /// `Some(None)` unassigns.
    pub assignee_id: Option<Option<i64>>,
    /// Replaces the tags when set; `add_tags` and `remove_tags` then apply on top.
    pub tags: Option<Vec<String>>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
    pub priority: Option<windowdesk_core::routing::Priority>,
}

/// A reaction on one of a ticket's messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TicketReactionRow {
    pub target_wamid: String,
    pub emoji: String,
    pub reacted_at: Timestamp,
}

/// An outbound message that needs an agent (D4): `failed` or `blocked`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailedDeliveryRow {
    pub message_id: i64,
    pub ticket_id: i64,
    pub business_number_id: i64,
    pub state: DeliveryState,
    pub body: Option<String>,
    pub author: Option<String>,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub error_details: Option<String>,
    /// When it reached that state.
    pub at: Timestamp,
}

/// Keyset position in the failed-deliveries list: rows strictly older than this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailedCursor {
    pub at: Timestamp,
    pub message_id: i64,
}

impl TicketChange {
    /// The tags a ticket has after this change, given the ones it has now (sorted, deduplicated).
    pub fn tags_after(&self, current: &[String]) -> Vec<String> {
        let mut tags: std::collections::BTreeSet<String> = self.tags.as_deref().unwrap_or(current).iter().cloned().collect();
        tags.extend(self.add_tags.iter().cloned());
        for t in &self.remove_tags {
            tags.remove(t);
        }
        tags.into_iter().collect()
    }

    pub fn touches_tags(&self) -> bool {
        self.tags.is_some() || !self.add_tags.is_empty() || !self.remove_tags.is_empty()
    }
}

impl MessageRow {
    /// The row of a note just written (notes have no delivery, wamid or media).
    pub fn note(id: i64, ticket_id: i64, bn: i64, identity_id: i64, body: &str, author: &str, now: Timestamp) -> MessageRow {
        MessageRow {
            id,
            ticket_id: Some(ticket_id),
            business_number_id: bn,
            identity_id: Some(identity_id),
            direction: Direction::Note,
            wamid: None,
            kind: "text".into(),
            body: Some(body.to_owned()),
            media_id: None,
            mime_type: None,
            filename: None,
            voice: false,
            reply_to_wamid: None,
            target_wamid: None,
            forwarded: 0,
            referral: false,
            sent_at: now,
            received_at: now,
            delivery_state: None,
            error_code: None,
            error_title: None,
            error_details: None,
            edited_at: None,
            revoked_at: None,
            errors: None,
            raw: None,
            maybe_duplicate: false,
            author: Some(author.to_owned()),
            delivery_updated_at: None,
            went_out_at: None,
        }
    }
}

/// A pending media download (I5: after the ingest commit, from a durable queue).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaJob {
    pub id: i64,
    pub business_number_id: i64,
    pub wamid: String,
    pub media_id: String,
    pub attempts: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaOutcome {
    Stored { sha256: String, mime_type: String, size: i64 },
    Retry { next_attempt_at: Timestamp, error: String },
    Failed { error: String },
}

/// What is known about a message's media.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MessageMedia {
    /// `pending`, `done` or `failed`.
    pub state: String,
    pub sha256: Option<String>,
    pub mime_type: Option<String>,
    pub size: Option<i64>,
    pub error: Option<String>,
    pub attempts: i64,
}

/// A ticket and its identity (`None` only if the database lost it).
pub type TicketWithIdentity = (TicketRow, Option<IdentityRow>);

/// A named business-hours schedule (SPEC 10). `spec` is the core's `ScheduleSpec` as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScheduleRow {
    pub id: i64,
    pub name: String,
    pub spec: String,
    /// The business numbers it serves.
    pub business_number_ids: Vec<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub updated_by: Option<String>,
}

/// A schedule to create or replace.
#[derive(Clone, Debug)]
pub struct ScheduleDraft {
    pub name: String,
    pub spec: String,
    pub actor: String,
    pub now: Timestamp,
}

/// A macro as stored (SPEC 10). `body` is the core's `MacroDraft` as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MacroRow {
    pub id: i64,
    pub name: String,
    /// The agent whose own macro it is; `None`: shared.
    pub owner_agent_id: Option<i64>,
    pub body: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub updated_by: Option<String>,
}

/// A stored rule (SPEC 10). `rule` is the core's `RuleDraft` as JSON, validated before it was stored;
/// `name`, `enabled`, `position` and `event` are copies of its fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleRow {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub position: i32,
    pub event: String,
    pub rule: String,
    pub created_at: Timestamp,
    pub created_by: Option<String>,
    pub updated_at: Timestamp,
    pub updated_by: Option<String>,
}

/// A macro to create or replace.
#[derive(Clone, Debug)]
pub struct MacroDraftRow {
    pub name: String,
    pub owner_agent_id: Option<i64>,
    pub body: String,
    pub actor: String,
    pub now: Timestamp,
}

/// A rule to create or replace.
#[derive(Clone, Debug)]
pub struct RuleWrite {
    pub name: String,
    pub enabled: bool,
    pub position: i32,
    pub event: String,
    pub rule: String,
    pub actor: String,
    pub now: Timestamp,
}

/// One firing of a rule, recorded before its actions run (see [`crate::RuleStore::record_firing`]).
#[derive(Clone, Debug)]
pub struct RuleFiring {
    pub rule_id: i64,
    pub ticket_id: i64,
    /// The core's `EpisodeKey::episode` for once-per-episode rules.
    pub episode_key: Option<String>,
    /// What set it off, unique per rule: `message:<id>`, `event:<id>`.
    pub trigger_key: String,
    pub at: Timestamp,
}

/// A firing whose actions only change ticket fields (see [`crate::RuleStore::apply_field_firings`]):
/// the firing, the change, and the `rule_applied` event's data.
#[derive(Clone, Debug)]
pub struct FieldFiring {
    pub firing: RuleFiring,
    pub change: crate::TicketChange,
    /// `rule:<id>`: the actor of the change and of the event.
    pub actor: String,
    pub data: serde_json::Value,
}

/// A ticket as rules see it (see [`crate::RuleStore::rule_tickets`]): its summary, the customer's
/// window episode, and when it was solved while it is solved.
#[derive(Clone, Debug)]
pub struct RuleTicket {
    pub summary: TicketSummary,
    pub window_episode: Option<windowdesk_core::rules::WindowEpisode>,
    pub solved_at: Option<Timestamp>,
    /// The last status change; the creation when it never changed.
    pub status_changed_at: Timestamp,
    /// The last message an agent or API client sent the customer.
    pub last_agent_reply_at: Option<Timestamp>,
}

/// A ticket as the automation sweep reads it (see [`crate::AutomationStore::sweep_tickets`]): what
/// conditions look at, without what only pages show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepTicket {
    pub id: i64,
    pub business_number_id: i64,
    pub status: TicketStatus,
    pub priority: windowdesk_core::routing::Priority,
    /// Sorted.
    pub tags: Vec<String>,
    pub assignee_id: Option<i64>,
    pub created_at: Timestamp,
    /// The latest change of anything conditions look at: a field, a message in either direction.
    pub changed_at: Timestamp,
    pub status_changed_at: Timestamp,
    /// While solved: the solve.
    pub solved_at: Option<Timestamp>,
    pub last_agent_reply_at: Option<Timestamp>,
    pub window: windowdesk_core::CustomerWindow,
    pub window_episode: Option<windowdesk_core::rules::WindowEpisode>,
}

/// An execution of an automation the sweep found due (see [`crate::AutomationStore::arm_automations`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArmRun {
    pub rule_id: i64,
    pub ticket_id: i64,
    /// The core's `EpisodeKey::episode`.
    pub episode_key: String,
    pub due_at: Timestamp,
}

/// The life of an automation execution (see the `automation_runs` migration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Armed,
    Running,
    Fired,
    Skipped,
    Expired,
    Cancelled,
}

impl RunState {
    pub const ALL: [RunState; 6] = [Self::Armed, Self::Running, Self::Fired, Self::Skipped, Self::Expired, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Armed => "armed",
            RunState::Running => "running",
            RunState::Fired => "fired",
            RunState::Skipped => "skipped",
            RunState::Expired => "expired",
            RunState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One execution of an automation for a ticket and episode.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AutomationRun {
    pub id: i64,
    pub rule_id: i64,
    pub ticket_id: i64,
    pub episode_key: String,
    pub due_at: Timestamp,
    pub state: RunState,
    /// Why it was skipped, expired or cancelled.
    pub reason: Option<String>,
    /// What each action did, once fired.
    pub outcome: Option<serde_json::Value>,
    pub armed_at: Timestamp,
    pub claimed_by: Option<String>,
    /// Claims so far: more than one means an instance died while running it.
    pub attempts: i32,
    pub finished_at: Option<Timestamp>,
}

/// How a claimed execution ends (see [`crate::AutomationStore::finish_automation_run`]).
#[derive(Clone, Debug, PartialEq)]
pub enum RunFinish {
    Fired {
        outcome: serde_json::Value,
    },
    Skipped {
        reason: String,
    },
    Expired {
        reason: String,
    },
    /// Not due yet after all: armed again for `due_at`.
    Rearm {
        due_at: Timestamp,
    },
}

/// Which executions to list.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    pub rule_id: Option<i64>,
    pub ticket_id: Option<i64>,
    pub state: Option<RunState>,
    /// Older than this id (paging, newest first).
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// One entry of the rules worker's queue (see [`crate::RuleStore::rule_queue`]): an event that can
/// set off triggers, with what the worker needs to know about it.
#[derive(Clone, Debug)]
pub struct RuleQueueItem {
    pub id: i64,
    pub ticket_id: i64,
    /// Rounds that failed on a database error so far.
    pub attempts: i32,
    pub source: RuleSource,
}

/// What a queue entry is about.
#[derive(Clone, Debug)]
pub enum RuleSource {
    /// An inbound customer message.
    Message(RuleMessage),
    /// A ticket event (`ticket_created`, a changed field, a failed delivery).
    Event(EventRow),
    /// The entry carries nothing: it was written before entries carried their event (migration
    /// 0016 on SQLite, 0017 on PostgreSQL) and the row it pointed at no longer existed then.
    Gone,
}

/// An inbound message as the rules worker sees it.
#[derive(Clone, Debug)]
pub struct RuleMessage {
    pub id: i64,
    pub kind: String,
    pub body: Option<String>,
    pub sent_at: Timestamp,
    pub identity_id: Option<i64>,
    /// No earlier inbound message on the ticket; `None` when not asked for ([`MessageReads`]).
    pub first_on_ticket: Option<bool>,
    /// The customer's latest inbound message sent before this one, on the same business number
    /// (`Some(None)`: there is none): with it, the core decides whether this message opened the
    /// window. `None` when not asked for.
    pub previous_inbound_at: Option<Option<Timestamp>>,
}

/// What [`crate::RuleStore::rule_queue`] reads about each customer message beyond the message
/// itself. Each is a query per message; the worker asks only for what an enabled rule uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageReads {
    pub first_on_ticket: bool,
    pub previous_inbound: bool,
}

impl MessageReads {
    pub const ALL: MessageReads = MessageReads { first_on_ticket: true, previous_inbound: true };
}

/// An HTTP target (see [`crate::HttpTargetStore`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTargetRow {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// `whsec_<base64>`.
    pub secret: String,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Failing since this moment (no success since); `None` while it works.
    pub failing_since: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
}

/// A target as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTargetWrite {
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub now: Timestamp,
}

/// One event for a target, and its attempts so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HttpDeliveryRow {
    pub id: i64,
    pub target_id: i64,
    /// The `webhook-id` header, the same on every attempt.
    pub webhook_id: String,
    pub ticket_id: Option<i64>,
    pub event_type: String,
    pub body: String,
    /// `pending`, `delivered` or `gave_up`.
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: Timestamp,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// A delivery to queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewHttpDelivery {
    pub target_id: i64,
    pub webhook_id: String,
    pub ticket_id: Option<i64>,
    pub event_type: String,
    pub body: String,
    pub now: Timestamp,
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpAttempt {
    /// A 2xx answer.
    Delivered { status: i32 },
    /// Failed; tried again at `next_attempt_at`.
    Retry { status: Option<i32>, error: String, next_attempt_at: Timestamp },
    /// Failed for the last time.
    GaveUp { status: Option<i32>, error: String },
}

/// A ticket's latest customer message as read receipts and typing indicators need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatestInbound {
    pub message_id: i64,
    pub wamid: String,
    /// When Meta was told it was read; `None`: not yet.
    pub read_receipt_at: Option<Timestamp>,
}
