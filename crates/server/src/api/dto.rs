//! What the API sends: JSON shapes with their OpenAPI schemas, built from store rows. Instants are
//! RFC 3339 strings in UTC with milliseconds.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use windowdesk_core::phone::display_international;
use windowdesk_core::window::WindowPolicy;
use windowdesk_core::{SendOption, Timestamp};
use windowdesk_store::{AgentRow, EventRow, FailedDeliveryRow, MessageRow, TicketReactionRow, TicketSummary};

use super::schema;

pub fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339()
}

fn orfc3339(t: Option<Timestamp>) -> Option<String> {
    t.map(rfc3339)
}

/// A page of a list, newest first. Pass `next` as `before` to get the following page.
#[derive(Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Cursor for the next page; null on the last one.
    pub next: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BusinessNumberOut {
    pub id: i64,
    /// Meta's id of the number.
    pub phone_number_id: String,
    pub display_number: String,
}

#[derive(Serialize, ToSchema)]
pub struct RequesterOut {
    pub contact_id: i64,
    pub name: String,
    /// WhatsApp id (phone digits with country code), when known.
    pub wa_id: Option<String>,
    /// Business-scoped user id, when WhatsApp sent one.
    pub bsuid: Option<String>,
    /// The number in international format, e.g. `+1 650-555-1234`.
    pub display_number: Option<String>,
}

/// The customer service window at the time of the request (SPEC 2).
#[derive(Serialize, ToSchema)]
pub struct WindowOut {
    /// Whether free-form messages may be sent now (W4, W9: `now < send_until`).
    pub open: bool,
    /// When the window closes or closed at Meta; null when the customer never wrote.
    pub expires_at: Option<String>,
    /// W9: when the desk stops starting free-form sends: `expires_at` minus the send guard
    /// (`dispatcher.window_guard_ms`). Null when the customer never wrote.
    pub send_until: Option<String>,
    /// Whole seconds until `send_until`; 0 when closed.
    pub seconds_left: i64,
    /// End of an active free entry point window (W6).
    pub fep_until: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TicketOut {
    pub id: i64,
    #[schema(value_type = schema::TicketStatus)]
    pub status: String,
    #[schema(value_type = schema::Priority)]
    pub priority: String,
    pub subject: String,
    pub business_number: BusinessNumberOut,
    pub requester: RequesterOut,
    pub assignee_id: Option<i64>,
    /// The closed ticket this one follows up.
    pub followup_of: Option<i64>,
    pub tags: Vec<String>,
    pub window: WindowOut,
    pub created_at: String,
    pub updated_at: String,
    pub last_message_at: String,
}

impl WindowOut {
    pub fn of(state: &windowdesk_core::WindowState) -> Self {
        WindowOut {
            open: state.open,
            expires_at: orfc3339(state.expires_at),
            send_until: orfc3339(state.send_until),
            seconds_left: state.seconds_left,
            fep_until: orfc3339(state.fep_until),
        }
    }

    pub fn new(window: &windowdesk_core::CustomerWindow, policy: WindowPolicy, now: Timestamp) -> Self {
        Self::of(&window.state(policy, now))
    }
}

impl TicketOut {
    pub fn new(s: TicketSummary, policy: WindowPolicy, now: Timestamp) -> Self {
        let state = s.window.state(policy, now);
        let t = s.ticket;
        TicketOut {
            id: t.id,
            status: t.status.as_str().to_owned(),
            priority: s.priority.as_str().to_owned(),
            subject: t.subject,
            business_number: BusinessNumberOut {
                id: t.business_number_id,
                phone_number_id: s.phone_number_id,
                display_number: s.business_display_number,
            },
            requester: RequesterOut {
                contact_id: t.requester_id,
                name: s.contact_name,
                display_number: s.wa_id.as_deref().map(display_international),
                wa_id: s.wa_id,
                bsuid: s.bsuid,
            },
            assignee_id: t.assignee_id,
            followup_of: t.followup_of,
            tags: s.tags,
            window: WindowOut::of(&state),
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
            last_message_at: rfc3339(t.last_message_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SendErrorOut {
    /// Meta's error code (or the SMS provider's), when there was one.
    pub code: Option<i64>,
    /// Meta's own title, as it came (synchronously or in a `failed` status).
    pub title: Option<String>,
    pub details: Option<String>,
    /// Why, in words: the same sentence the pages show, whichever way Meta reported it (D2).
    pub reason: String,
}

impl SendErrorOut {
    /// `None` when nothing is recorded about a failure.
    fn of(code: Option<i64>, title: Option<&String>, details: Option<&String>, state: windowdesk_core::DeliveryState) -> Option<Self> {
        (code.is_some() || title.is_some()).then(|| SendErrorOut {
            code,
            title: title.cloned(),
            details: details.cloned(),
            reason: windowdesk_whatsapp::errors::failure_reason(code, title.map(String::as_str), state),
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct ReactionOut {
    pub emoji: String,
    pub reacted_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct MessageOut {
    pub id: i64,
    #[schema(value_type = schema::Direction)]
    pub direction: String,
    /// `text`, `image`, `audio`, `reaction`, `template`, …
    pub kind: String,
    pub body: Option<String>,
    /// For inbound messages, when the customer sent it (W1); otherwise when it was written.
    pub sent_at: String,
    pub received_at: String,
    /// Outbound only (null for inbound messages and notes).
    #[schema(value_type = Option<schema::DeliveryState>)]
    pub delivery_state: Option<String>,
    /// Why an outbound message failed.
    pub error: Option<SendErrorOut>,
    /// Meta's message id.
    pub wamid: Option<String>,
    /// The reply was in flight when the desk stopped and was sent again: the customer may have it twice (D5).
    pub maybe_duplicate: bool,
    /// `agent:<id>`, `api:<token id>`, `rule:<id>` for what the business wrote.
    pub author: Option<String>,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
    pub voice: bool,
    /// 0 not forwarded, 1 forwarded, 2 frequently forwarded.
    pub forwarded: i64,
    pub reply_to_wamid: Option<String>,
    pub edited_at: Option<String>,
    pub revoked_at: Option<String>,
    pub reactions: Vec<ReactionOut>,
}

impl MessageOut {
    pub fn new(m: MessageRow, reactions: &[TicketReactionRow]) -> Self {
        let reactions = match &m.wamid {
            Some(w) => reactions
                .iter()
                .filter(|r| &r.target_wamid == w)
                .map(|r| ReactionOut { emoji: r.emoji.clone(), reacted_at: rfc3339(r.reacted_at) })
                .collect(),
            None => Vec::new(),
        };
        let state = m.delivery_state.unwrap_or(windowdesk_core::DeliveryState::Failed);
        let error = SendErrorOut::of(m.error_code, m.error_title.as_ref(), m.error_details.as_ref(), state);
        MessageOut {
            id: m.id,
            direction: m.direction.as_str().to_owned(),
            kind: m.kind,
            body: m.body,
            sent_at: rfc3339(m.sent_at),
            received_at: rfc3339(m.received_at),
            delivery_state: m.delivery_state.map(|s| s.as_str().to_owned()),
            error,
            wamid: m.wamid,
            maybe_duplicate: m.maybe_duplicate,
            author: m.author,
            mime_type: m.mime_type,
            filename: m.filename,
            voice: m.voice,
            forwarded: m.forwarded,
            reply_to_wamid: m.reply_to_wamid,
            edited_at: orfc3339(m.edited_at),
            revoked_at: orfc3339(m.revoked_at),
            reactions,
        }
    }
}

/// One entry of a ticket's event log (T6).
#[derive(Serialize, ToSchema)]
pub struct EventOut {
    pub id: i64,
    pub at: String,
    /// Who caused it: `customer`, `system`, `meta`, `agent:<id>`, `api:<token id>`, `rule:<id>`.
    pub actor: String,
    /// e.g. `status_changed`, `assignee_changed`, `tags_changed`, `note_added`, `reply_queued`, `delivery_status`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub data: Value,
}

impl From<EventRow> for EventOut {
    fn from(e: EventRow) -> Self {
        EventOut { id: e.id, at: rfc3339(e.at), actor: e.actor, kind: e.kind, data: e.data }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: TicketOut,
    /// Follow-up tickets created after this one was closed (the other direction of `followup_of`).
    pub followups: Vec<i64>,
    /// The thread, oldest first: customer messages, replies, notes.
    pub messages: Vec<MessageOut>,
    pub events: Vec<EventOut>,
}

/// Something that can be sent now, with its cost estimate (SPEC 4, 11).
#[derive(Serialize, ToSchema)]
pub struct ActionOut {
    #[schema(value_type = schema::ActionKind)]
    pub kind: String,
    /// Template name.
    pub name: Option<String>,
    /// Template language.
    pub language: Option<String>,
    /// The pricing category (null for `hold`).
    #[schema(value_type = Option<schema::Category>)]
    pub category: Option<String>,
    /// Whether it is charged (by Meta, or for `sms` by the SMS provider).
    pub billable: bool,
    /// Why it is free: `customer_service_window`, `free_entry_point` or `open_conversation`.
    pub free_because: Option<String>,
    /// The estimated amount, a decimal string ("0.1365"), from the rate card in force for the
    /// customer's market (SPEC 11), or for `sms` the configured price; null when it cannot be
    /// priced (`price` says why) and for `hold`.
    pub amount: Option<String>,
    /// The amount's currency (ISO 4217).
    pub currency: Option<String>,
    /// The price as agents read it: "free: inside the customer service window", "0.1365 USD,
    /// marketing template, Germany", "price unknown: …"; for `hold`, "free: nothing is sent now".
    pub price: String,
    /// For `hold`: when a held reply fails as expired if the customer has not written by then.
    pub expires_at: Option<String>,
}

/// A category as the API spells it (lower snake_case, like Meta's pricing categories).
pub fn category_name(c: windowdesk_core::decision::MessageCategory) -> String {
    serde_json::to_value(c).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

impl ActionOut {
    pub fn from_price(kind: &str, name: Option<String>, language: Option<String>, price: &windowdesk_core::decision::Price) -> Self {
        ActionOut {
            kind: kind.to_owned(),
            name,
            language,
            category: Some(category_name(price.category)),
            billable: price.billable,
            free_because: price.free_because.map(str::to_owned),
            amount: price.amount.map(|a| a.normalize().to_string()),
            currency: price.currency.clone(),
            price: price.text.clone(),
            expires_at: None,
        }
    }

    pub fn from_option(o: &SendOption) -> Self {
        match o {
            SendOption::Template { name, language, price, .. } => {
                Self::from_price("template", Some(name.clone()), Some(language.clone()), price)
            }
            SendOption::Sms { price } => Self::from_price("sms", None, None, price),
            SendOption::Hold { expires_at } => ActionOut {
                kind: "hold".into(),
                name: None,
                language: None,
                category: None,
                billable: false,
                free_because: None,
                amount: None,
                currency: None,
                price: "free: nothing is sent now".into(),
                expires_at: Some(rfc3339(*expires_at)),
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FailedDeliveryOut {
    pub message_id: i64,
    pub ticket_id: i64,
    pub business_number_id: i64,
    /// `failed` or `blocked`.
    #[schema(value_type = schema::DeliveryState)]
    pub state: String,
    /// Why, in words.
    pub reason: String,
    pub error: Option<SendErrorOut>,
    pub body: Option<String>,
    pub author: Option<String>,
    /// When it failed or was blocked.
    pub at: String,
}

impl From<FailedDeliveryRow> for FailedDeliveryOut {
    fn from(f: FailedDeliveryRow) -> Self {
        let reason = windowdesk_whatsapp::errors::failure_reason(f.error_code, f.error_title.as_deref(), f.state);
        let error = SendErrorOut::of(f.error_code, f.error_title.as_ref(), f.error_details.as_ref(), f.state);
        FailedDeliveryOut {
            message_id: f.message_id,
            ticket_id: f.ticket_id,
            business_number_id: f.business_number_id,
            state: f.state.as_str().to_owned(),
            reason,
            error,
            body: f.body,
            author: f.author,
            at: rfc3339(f.at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AgentOut {
    pub id: i64,
    pub name: String,
    pub email: String,
    #[schema(value_type = schema::AgentRole)]
    pub role: String,
    pub created_at: String,
}

impl From<AgentRow> for AgentOut {
    fn from(a: AgentRow) -> Self {
        AgentOut { id: a.id, name: a.name, email: a.email, role: a.role.as_str().to_owned(), created_at: rfc3339(a.created_at) }
    }
}
