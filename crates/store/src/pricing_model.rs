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
