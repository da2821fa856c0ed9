//! What WhatsApp messages cost (SPEC 11 and W6, issue 17). Meta's webhooks say *what kind* of
//! message was charged, never an amount: every amount here comes from rate cards, kept as data.
//!
//! - [`card`]: a rate card (prices per market and category, in one currency, from a date, with
//!   volume tiers and the rules of what is free), read from and written to CSV; the published cards
//!   the desk ships with.
//! - [`market`]: which of Meta's pricing markets a recipient's number is in, by calling code, as
//!   the mapping stood on a date.
//! - [`quote`]: the price of a message before it is sent ([`RateBook::quote`]), and its amount once
//!   Meta's status says how it was charged ([`RateBook::settle`]).
//! - [`report`]: what a cost report asks (range, grouping, filters) and how its periods are named.
//! - [`volume`]: the month's volume per market and category, and Meta's tier updates.
//! - [`cbp`]: conversation-based pricing (24-hour conversations per category), for history before
//!   per-message pricing started on 2025-07-01.

pub mod card;
pub mod cbp;
pub mod market;
pub mod quote;
pub mod report;
pub mod volume;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use card::{Rate, RateCard, RateCardError};
pub use market::{Market, MarketMap};
pub use quote::{FreeBecause, MetaPricing, Quote, QuoteRequest, RateBook, Settled, SettledBy};
pub use rust_decimal::Decimal;
pub use volume::{month_of, TierUpdate};

/// An amount in millionths of its currency, as the desk stores and sums them (exact, and within
/// an `i64` for any price a card can hold); rounded half away from zero past the sixth decimal.
pub fn to_micros(amount: Decimal) -> Option<i64> {
    use rust_decimal::prelude::ToPrimitive;
    (amount * Decimal::from(1_000_000)).round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero).to_i64()
}

/// The amount of `micros` millionths.
pub fn from_micros(micros: i64) -> Decimal {
    Decimal::new(micros, 6).normalize()
}

/// A pricing category as Meta names it (`marketing`, `utility`, `authentication`,
/// `authentication_international`, `service`, and any Meta adds later, which is kept rather than
/// refused). Lower case, with Meta's occasional hyphen (`authentication-international`) read as an
/// underscore.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Category(String);

impl Category {
    pub const MARKETING: &'static str = "marketing";
    pub const UTILITY: &'static str = "utility";
    pub const AUTHENTICATION: &'static str = "authentication";
    pub const AUTHENTICATION_INTERNATIONAL: &'static str = "authentication_international";
    pub const SERVICE: &'static str = "service";

    /// The categories of Meta's published cards, in the order reports list them.
    pub const KNOWN: [&'static str; 5] =
        [Self::MARKETING, Self::UTILITY, Self::AUTHENTICATION, Self::AUTHENTICATION_INTERNATIONAL, Self::SERVICE];

    /// Reads a category as Meta writes it in webhooks, rate cards or template categories.
    pub fn parse(s: &str) -> Result<Category, String> {
        let name = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        if name.is_empty() || name.len() > 40 || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(format!("{s:?} is not a pricing category (letters, digits and underscores, like \"utility\")"));
        }
        Ok(Category(name))
    }

    /// A known category by its constant name.
    pub fn known(name: &'static str) -> Category {
        Category(name.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The category a message of the send decision's [`crate::decision::MessageCategory`] is
    /// priced in; `None` for SMS, which the SMS provider prices.
    pub fn of(c: crate::decision::MessageCategory) -> Option<Category> {
        use crate::decision::MessageCategory as M;
        Some(Category::known(match c {
            M::Service => Self::SERVICE,
            M::Utility => Self::UTILITY,
            M::Marketing => Self::MARKETING,
            M::Authentication => Self::AUTHENTICATION,
            M::AuthenticationInternational => Self::AUTHENTICATION_INTERNATIONAL,
            M::Sms => return None,
        }))
    }

    pub fn is(&self, name: &str) -> bool {
        self.0 == name
    }
}

impl TryFrom<String> for Category {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Category::parse(&s)
    }
}

impl From<Category> for String {
    fn from(c: Category) -> String {
        c.0
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How Meta charged: per message (PMP, since 2025-07-01) or per 24-hour conversation (CBP, before).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PricingModel {
    #[serde(rename = "PMP")]
    PerMessage,
    #[serde(rename = "CBP")]
    Conversation,
}

impl PricingModel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerMessage => "PMP",
            Self::Conversation => "CBP",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PMP" => Some(Self::PerMessage),
            "CBP" => Some(Self::Conversation),
            _ => None,
        }
    }
}
