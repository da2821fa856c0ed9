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
    /// `meta`, `estimate` or `not_delivered`, once settled.
    pub settled_by: Option<String>,
    /// Settled for good (delivered, or failed).
    pub is_final: bool,
}

pub(crate) const MESSAGE_COST_COLUMNS: &str = "message_id, ticket_id, author, channel, at, category, market, currency, estimate_micros,
     free_because, card, charged_category, amount_micros, settled_by, final";

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
