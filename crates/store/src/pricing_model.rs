//! Rate cards as the store keeps them (SPEC 11, issue 17).

use windowdesk_core::pricing::RateCard;
use windowdesk_core::Timestamp;

/// A stored rate card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateCardRow {
    pub id: i64,
    pub card: RateCard,
    /// Seeded from the cards the desk ships with (rather than imported).
    pub shipped: bool,
    pub created_at: Timestamp,
}

/// What an outbound message costs, as stored (`message_costs`): the estimate made before sending
/// and, once Meta's statuses came, how it was charged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageCostRow {
    pub message_id: i64,
    pub business_number_id: i64,
    pub ticket_id: i64,
    pub author: String,
    /// `whatsapp` or `sms`.
    pub channel: String,
    pub at: Timestamp,
    pub category: String,
    pub market: Option<String>,
    pub currency: Option<String>,
    pub estimate_micros: Option<i64>,
    pub free_because: Option<String>,
    pub card: Option<String>,
    /// The category Meta charged it in (its `pricing.category` where it said one), once settled.
    pub charged_category: Option<String>,
    pub amount_micros: Option<i64>,
    /// `meta`, `estimate` or `not_delivered` once settled; `pending` while the message is only
    /// accepted or sent.
    pub settled_by: Option<String>,
    /// Settled for good (delivered, or failed).
    pub is_final: bool,
    /// Meta's `conversation` on its status, where it sent one (conversation-based pricing, and
    /// free entry points under per-message pricing): its id, origin and expiry.
    pub conversation_id: Option<String>,
    pub conversation_origin: Option<String>,
    pub conversation_expires_at: Option<Timestamp>,
}

/// A message cost not settled for good, whose message moved since it was last looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingCost {
    pub cost: MessageCostRow,
    /// The recipient's phone number (digits), for its market.
    pub recipient: Option<String>,
    pub delivery_state: String,
    /// Meta's `pricing` object (JSON) from the latest status that carried one, and that status as
    /// Meta sent it (for its `conversation`).
    pub pricing: Option<String>,
    pub status_raw: Option<String>,
    /// When the message went out (its provider accepted it): it is priced as of then, which for a
    /// held reply is later than when it was written.
    pub went_out_at: Option<Timestamp>,
}

/// How a message was charged, as the settler worked it out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CostSettlement {
    pub message_id: i64,
    pub business_number_id: i64,
    pub meta_model: Option<String>,
    pub meta_category: Option<String>,
    pub meta_type: Option<String>,
    pub meta_billable: Option<bool>,
    pub conversation_id: Option<String>,
    pub conversation_origin: Option<String>,
    pub conversation_expires_at: Option<Timestamp>,
    pub charged_category: String,
    pub amount_micros: Option<i64>,
    /// `meta`, `estimate`, `not_delivered`, or `pending` (not final).
    pub settled_by: String,
    /// Nothing more can change it (delivered, or failed).
    pub is_final: bool,
    /// The message's delivery state it was settled at ([`PendingCost::delivery_state`]).
    pub delivery_state: String,
    /// When it went out, if it did: the cost's time from then on.
    pub went_out_at: Option<Timestamp>,
    /// Settled for good as charged (an amount above 0) in this month (`YYYY-MM`) and market: it
    /// counts towards the month's volume ([`crate::PricingStore::month_volume`]).
    pub counts_in: Option<(String, String)>,
}

/// The delivery states after which a message's cost can be settled: `accepted` and `sent`
/// provisionally for WhatsApp (Meta sends `pricing` with `sent`) and for good for SMS (the
/// provider took it; no delivery report comes back), the others for good.
pub(crate) const SETTLE_STATES: &str = "('accepted', 'sent', 'delivered', 'read', 'played', 'failed', 'blocked')";

pub(crate) const MESSAGE_COST_COLUMNS: &str =
    "c.message_id, c.ticket_id, c.author, c.channel, c.at, c.category, c.market, c.currency, c.estimate_micros,
     c.free_because, c.card, c.charged_category, c.amount_micros, c.settled_by, c.final, c.business_number_id,
     c.conversation_id, c.conversation_origin, c.conversation_expires_at";

/// Why a card's stored fields cannot be read back (a row written by hand that no card can hold).
pub(crate) fn corrupt(what: &str, value: &str) -> crate::StoreError {
    crate::StoreError::Corrupt(format!("rate card {what}: {value:?}"))
}

/// Reads a stored price.
pub(crate) fn price(s: &str) -> Result<windowdesk_core::pricing::Decimal, crate::StoreError> {
    s.parse().map_err(|_| corrupt("price", s))
}

/// Reads a stored date.
pub(crate) fn date(s: &str) -> Result<chrono::NaiveDate, crate::StoreError> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| corrupt("effective_from", s))
}

/// An outbound message with no cost stored (messages the desk did not send through its outbox:
/// `windowdesk generate`'s history, message echoes), for [`crate::PricingStore::insert_costs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UncostedMessage {
    pub message_id: i64,
    pub business_number_id: i64,
    pub ticket_id: i64,
    pub contact_id: Option<i64>,
    pub author: Option<String>,
    pub at: Timestamp,
    pub recipient: Option<String>,
}

/// A cost settled for good, written whole (generated history).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettledCostRow {
    pub message: UncostedMessage,
    pub channel: String,
    pub category: String,
    pub market: Option<String>,
    pub currency: Option<String>,
    pub estimate_micros: Option<i64>,
    pub free_because: Option<String>,
    pub card: Option<String>,
    pub meta_type: Option<String>,
    pub amount_micros: Option<i64>,
}

/// The month's volume a batch of settlements adds, per business number, month, market and category,
/// in the order the rows are updated: every writer takes `cost_volumes`' rows in this order, so two
/// instances settling at once wait for each other rather than deadlock.
pub(crate) fn volume_increments(counted: &[(i64, &str, &str, &str)]) -> Vec<((String, String, String, i64), i64)> {
    let mut sums: std::collections::BTreeMap<(String, String, String, i64), i64> = std::collections::BTreeMap::new();
    for (bn, month, market, category) in counted {
        *sums.entry(((*month).to_owned(), (*market).to_owned(), (*category).to_owned(), *bn)).or_default() += 1;
    }
    sums.into_iter().collect()
}
