//! The price of a message before it is sent, and its amount once Meta says how it was charged.
//!
//! **Before sending** ([`RateBook::quote`]): the card in force on the day (UTC) in the desk's
//! currency, the recipient's market on that day, the category, and what is free: inside a free
//! entry point window everything (W6); inside the customer service window utility templates (while
//! the card says so) and service messages (priced 0 on the card); under conversation-based pricing
//! anything inside an open conversation of its category. Utility and authentication prices fall
//! with the month's volume per market (the card's tiers; the tier Meta reported this month counts
//! when it is ahead of the desk's own count).
//!
//! **After Meta's status** ([`RateBook::settle`]): only delivered messages cost anything. Meta's
//! `pricing` says which category and type applied; they win over the estimate's, and the amount is
//! recomputed from the card for them. `free_customer_service` and `free_entry_point` (and any other
//! `free_…` type Meta adds) cost nothing; under conversation-based pricing only the message that
//! opened a conversation is charged.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::cbp::{open_conversation, Conversation};
use super::{Category, Market, MarketMap, PricingModel, RateCard};
use crate::time::Timestamp;

/// The cards of the desk's currency, and the market map.
#[derive(Clone, Debug)]
pub struct RateBook {
    currency: String,
    cards: Vec<RateCard>,
    markets: MarketMap,
}

/// What is being priced.
#[derive(Clone, Copy, Debug)]
pub struct QuoteRequest<'a> {
    pub category: &'a Category,
    /// The recipient's `wa_id` (digits).
    pub recipient: &'a str,
    pub at: Timestamp,
    /// The customer service window is open at `at`.
    pub in_service_window: bool,
    /// A free entry point window is active at `at`.
    pub in_free_entry_point: bool,
    /// Charged messages of this category to this market so far this month (volume tiers).
    pub month_volume: u64,
    /// The first message of the volume tier Meta last reported for this market and category this
    /// month (`VOLUME_BASED_PRICING_TIER_UPDATE`), if any.
    pub reported_tier_from: Option<u64>,
    /// Conversations open with the recipient (conversation-based pricing only).
    pub conversations: &'a [Conversation],
}

/// Why a message costs nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FreeBecause {
    /// Inside the customer service window: a service message, or a utility template while the
    /// card makes those free.
    CustomerServiceWindow,
    /// Inside a free entry point window (W6).
    FreeEntryPoint,
    /// Inside an open conversation of its category (conversation-based pricing).
    OpenConversation,
}

impl FreeBecause {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomerServiceWindow => "customer_service_window",
            Self::FreeEntryPoint => "free_entry_point",
            Self::OpenConversation => "open_conversation",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::CustomerServiceWindow => "inside the customer service window",
            Self::FreeEntryPoint => "inside the free entry point window",
            Self::OpenConversation => "inside an open conversation of its category",
        }
    }
}

/// The price of a message before it is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub category: Category,
    pub market: Market,
    /// The card that priced it, its currency and model; `None` with no card in force.
    pub card: Option<String>,
    pub currency: Option<String>,
    pub model: Option<PricingModel>,
    /// `None` when nothing prices it (see `unpriced`).
    pub amount: Option<Decimal>,
    pub free: Option<FreeBecause>,
    /// The first message of the volume tier the price comes from (1: the list price).
    pub tier_from: Option<u64>,
    /// Conversation-based pricing: the message opens a conversation.
    pub opens_conversation: bool,
    /// Why there is no amount: no card in force that day, or none of its prices fit.
    pub unpriced: Option<String>,
}

impl Quote {
    /// How the composer and the editors say it: "free: inside the customer service window",
    /// "0.1365 USD, marketing, Germany", "price unknown: …".
    pub fn describe(&self) -> String {
        if let Some(free) = self.free {
            return format!("free: {}", free.describe());
        }
        match (&self.amount, &self.currency) {
            (Some(amount), Some(currency)) => format!("{} {currency}, {}, {}", amount.normalize(), self.category, self.market),
            _ => format!("price unknown: {}", self.unpriced.as_deref().unwrap_or("no rate card")),
        }
    }
}

/// Meta's `conversation` object on a status (conversation-based pricing; on per-message pricing
/// Meta sends it only for free entry point conversations).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaConversation {
    pub id: String,
    /// `origin.type`: `marketing`, `utility`, `service`, `referral_conversion`, …
    pub origin: Option<String>,
    pub expires_at: Option<Timestamp>,
}

impl MetaConversation {
    /// From a status object as Meta sent it (JSON); `None` without a `conversation.id`.
    pub fn from_status(status: &serde_json::Value) -> Option<MetaConversation> {
        let c = status.get("conversation")?;
        let id = c.get("id")?.as_str()?.to_owned();
        let origin = c.pointer("/origin/type").and_then(|t| t.as_str()).map(str::to_owned);
        // Seconds, as a string (or a number from some senders).
        let expires_at = match c.get("expiration_timestamp") {
            Some(serde_json::Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            _ => None,
        }
        .map(Timestamp::from_unix_seconds);
        Some(MetaConversation { id, origin, expires_at })
    }
}

impl MetaPricing {
    /// Meta's `pricing` object (JSON): `billable`, `pricing_model`, `category`, `type`. A field
    /// that is missing or not understood is left out (an unknown model counts as per-message when
    /// Meta gives none); a category Meta adds is kept. An object that is not JSON is refused.
    pub fn parse(pricing: &str) -> Result<MetaPricing, String> {
        let v: serde_json::Value = serde_json::from_str(pricing).map_err(|e| format!("pricing is not JSON: {e}"))?;
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        Ok(MetaPricing {
            model: text("pricing_model").and_then(|m| PricingModel::parse(&m)),
            category: text("category").and_then(|c| Category::parse(&c).ok()),
            kind: text("type"),
            billable: v.get("billable").and_then(|b| b.as_bool()),
            opened_conversation: false,
        })
    }
}

/// Meta's `pricing` object from a status webhook (and whether the message opened the conversation
/// it names, under conversation-based pricing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaPricing {
    pub model: Option<PricingModel>,
    pub category: Option<Category>,
    /// `regular`, `free_customer_service`, `free_entry_point`, or what Meta adds.
    pub kind: Option<String>,
    pub billable: Option<bool>,
    /// CBP: this is the first message seen in its conversation (`conversation.id`).
    pub opened_conversation: bool,
}

/// Who decided a settled amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettledBy {
    /// Meta's `pricing` on the status.
    Meta,
    /// No `pricing` from Meta (yet): the estimate stands.
    Estimate,
    /// Not delivered: nothing is charged.
    NotDelivered,
}

impl SettledBy {
    /// As stored: `meta`, `estimate`, `not_delivered`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Meta => "meta",
            Self::Estimate => "estimate",
            Self::NotDelivered => "not_delivered",
        }
    }
}

/// What a message cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Settled {
    pub category: Category,
    pub market: Market,
    pub currency: Option<String>,
    /// `None` when nothing prices it (a category or market the card lacks).
    pub amount: Option<Decimal>,
    pub by: SettledBy,
    /// Meta's `pricing.type`, when it gave one.
    pub kind: Option<String>,
}

impl RateBook {
    /// A book of the cards in `currency` (others are kept aside) over `markets`.
    pub fn new(cards: Vec<RateCard>, markets: MarketMap, currency: &str) -> RateBook {
        let currency = currency.to_ascii_uppercase();
        let mut cards: Vec<RateCard> = cards.into_iter().filter(|c| c.currency == currency).collect();
        cards.sort_by(|a, b| a.effective_from.cmp(&b.effective_from).then_with(|| a.name.cmp(&b.name)));
        RateBook { currency, cards, markets }
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }

    pub fn cards(&self) -> &[RateCard] {
        &self.cards
    }

    pub fn markets(&self) -> &MarketMap {
        &self.markets
    }

    /// The card in force on `on`: the latest to start on or before it.
    pub fn card_on(&self, on: NaiveDate) -> Option<&RateCard> {
        self.cards.iter().rev().find(|c| c.effective_from <= on)
    }

    /// The recipient's market on the day of `at`.
    pub fn market_of(&self, recipient: &str, at: Timestamp) -> Market {
        self.markets.market_of(recipient, day(at))
    }

    /// The price of a message before it is sent (see the module's documentation).
    pub fn quote(&self, req: &QuoteRequest<'_>) -> Quote {
        let market = self.market_of(req.recipient, req.at);
        let mut q = Quote {
            category: req.category.clone(),
            market,
            card: None,
            currency: None,
            model: None,
            amount: None,
            free: None,
            tier_from: None,
            opens_conversation: false,
            unpriced: None,
        };
        let Some(card) = self.card_on(day(req.at)) else {
            q.unpriced = Some(format!("no {} rate card is in force on {}", self.currency, day(req.at)));
            return q;
        };
        q.card = Some(card.name.clone());
        q.currency = Some(card.currency.clone());
        q.model = Some(card.model);
        let free = |q: &mut Quote, why: FreeBecause| {
            q.free = Some(why);
            q.amount = Some(Decimal::ZERO);
        };
        if req.in_free_entry_point && card.free_entry_point_free {
            free(&mut q, FreeBecause::FreeEntryPoint);
            return q;
        }
        match card.model {
            PricingModel::PerMessage => {
                if req.category.is(Category::UTILITY) && req.in_service_window && card.utility_free_in_window {
                    free(&mut q, FreeBecause::CustomerServiceWindow);
                    return q;
                }
            }
            PricingModel::Conversation => {
                if open_conversation(req.conversations, req.category, req.at).is_some() {
                    free(&mut q, FreeBecause::OpenConversation);
                    return q;
                }
                q.opens_conversation = true;
            }
        }
        let nth = req.month_volume.saturating_add(1).max(req.reported_tier_from.unwrap_or(1));
        match card.price(&q.market, req.category, nth) {
            Some((price, tier_from)) => {
                q.amount = Some(price);
                q.tier_from = Some(tier_from);
                // Service messages (sent only inside the window) are free where the card prices them at 0.
                if price.is_zero() && req.category.is(Category::SERVICE) {
                    q.free = Some(FreeBecause::CustomerServiceWindow);
                }
            }
            None => {
                q.unpriced = Some(if card.has_category(req.category) {
                    format!("{} has no {} price for {}", card.name, req.category, q.market)
                } else {
                    format!("{} has no prices for the category {}", card.name, req.category)
                });
            }
        }
        q
    }

    /// What a message cost once its delivery is known (see the module's documentation). `req` is
    /// the message as it was priced before sending (its category is replaced by Meta's).
    pub fn settle(&self, req: &QuoteRequest<'_>, meta: Option<&MetaPricing>, delivered: bool) -> Settled {
        let category = meta.and_then(|m| m.category.clone()).unwrap_or_else(|| req.category.clone());
        let market = self.market_of(req.recipient, req.at);
        let card = self.card_on(day(req.at));
        let currency = card.map(|c| c.currency.clone());
        let kind = meta.and_then(|m| m.kind.clone());
        if !delivered {
            return Settled { category, market, currency, amount: Some(Decimal::ZERO), by: SettledBy::NotDelivered, kind };
        }
        let Some(meta) = meta else {
            let q = self.quote(req);
            return Settled { category, market, currency, amount: q.amount, by: SettledBy::Estimate, kind };
        };
        let free = match meta.kind.as_deref() {
            Some(k) if k.starts_with("free") => true,
            Some(_) => false,
            None => meta.billable == Some(false),
        };
        let conversation_paid_already = meta.model == Some(PricingModel::Conversation) && !meta.opened_conversation;
        let amount = if free || conversation_paid_already {
            Some(Decimal::ZERO)
        } else {
            let nth = req.month_volume.saturating_add(1).max(req.reported_tier_from.unwrap_or(1));
            card.and_then(|c| c.price(&market, &category, nth)).map(|(price, _)| price)
        };
        Settled { category, market, currency, amount, by: SettledBy::Meta, kind }
    }
}

impl RateBook {
    /// What a message of `category` costs, said before anyone knows who will receive it (the rule
    /// and workflow editors): the range of the card in force on the day of `at` over its markets,
    /// and when it is free. "0.0068–0.0456 USD by the customer's country (Meta USD 2026-01-01);
    /// free inside the customer service window or a free entry point".
    pub fn describe_category(&self, category: &Category, at: Timestamp) -> String {
        let Some(card) = self.card_on(day(at)) else {
            return format!("price unknown: no {} rate card is in force on {}", self.currency, day(at));
        };
        let service = category.is(Category::SERVICE);
        let mut free = Vec::new();
        if service || (category.is(Category::UTILITY) && card.utility_free_in_window && card.model == PricingModel::PerMessage) {
            free.push("inside the customer service window");
        }
        if card.free_entry_point_free {
            free.push("inside a free entry point");
        }
        let free = if free.is_empty() { String::new() } else { format!("; free {}", free.join(" or ")) };
        match card.list_price_range(category) {
            _ if service => format!("free: service messages are sent only inside the customer service window ({})", card.name),
            Some((lo, hi)) if lo == hi => format!("{} {} in every market ({}){free}", lo.normalize(), card.currency, card.name),
            Some((lo, hi)) => {
                format!("{}–{} {} by the customer's country ({}){free}", lo.normalize(), hi.normalize(), card.currency, card.name)
            }
            None => format!("price unknown: {} has no prices for the category {category}", card.name),
        }
    }
}

/// The UTC day of an instant: cards and market changes start at midnight UTC.
pub fn day(at: Timestamp) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(at.unix_millis()).map_or(NaiveDate::MIN, |d| d.date_naive())
}
