//! Rate cards: a price per market and category, in one currency, from a date, with volume tiers and
//! the rules of what is free. A pricing change is a new card with a new date, never code.
//!
//! The CSV form (import, export, and the cards shipped in `crates/core/data/pricing/`) has one row
//! per price, each carrying its card's fields, so a file can hold several cards and opens as one
//! table in a spreadsheet:
//!
//! ```text
//! card,effective_from,currency,model,utility_free_in_window,free_entry_point_free,market,category,price,volume_from,source
//! Meta USD 2026-01-01,2026-01-01,USD,PMP,true,true,Germany,marketing,0.1365,,Meta's card of 2026-01-01
//! ```
//!
//! `volume_from` is empty for the list price, or the first message of the month (per market and
//! category) a volume tier's price applies from. `source` says where the figure comes from.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::{Category, Market, PricingModel};

/// One price on a card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rate {
    pub market: Market,
    pub category: Category,
    pub price: Decimal,
    /// The first message of the month, per market and category, this price applies from: 1 for the
    /// list price, higher for a volume tier (utility and authentication).
    pub volume_from: u64,
    /// Where the figure comes from.
    pub source: Option<String>,
}

/// A rate card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RateCard {
    pub name: String,
    /// The first day (UTC) the card is in force; it stays in force until a later card of the same
    /// currency starts.
    pub effective_from: NaiveDate,
    /// ISO 4217, upper case.
    pub currency: String,
    pub model: PricingModel,
    /// Utility templates sent inside an open customer service window are free (per-message pricing
    /// from 2025-07-01).
    pub utility_free_in_window: bool,
    /// Every message is free inside a free entry point window (W6).
    pub free_entry_point_free: bool,
    pub rates: Vec<Rate>,
}

/// A card that cannot be read: the line (1 is the header) and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RateCardError {
    pub line: u64,
    pub message: String,
}

/// The columns of the CSV form, in order.
pub const CSV_COLUMNS: [&str; 11] = [
    "card",
    "effective_from",
    "currency",
    "model",
    "utility_free_in_window",
    "free_entry_point_free",
    "market",
    "category",
    "price",
    "volume_from",
    "source",
];

/// The most a single message can be priced at, in any currency (Meta's highest rates are a few
/// hundred in IDR): a bigger figure is a typing error.
const MAX_PRICE: i64 = 100_000;

/// The highest message count a volume tier can start at (Meta's highest tiers start at tens of
/// millions a month).
const MAX_VOLUME: u64 = 1_000_000_000_000;

/// The cards shipped with the desk: Meta's published cards that could be sourced (see
/// `docs/pricing.md` for where each comes from and what is missing).
const SHIPPED: [&str; 6] = [
    include_str!("../../data/pricing/cbp_usd_2024-11-01.csv"),
    include_str!("../../data/pricing/pmp_usd_2025-07-01.csv"),
    include_str!("../../data/pricing/pmp_usd_2025-10-01.csv"),
    include_str!("../../data/pricing/pmp_inr_2025-10-01.csv"),
    include_str!("../../data/pricing/pmp_usd_2026-01-01.csv"),
    include_str!("../../data/pricing/pmp_eur_2026-07-01.csv"),
];

impl RateCard {
    /// The cards shipped with the desk, oldest first.
    pub fn shipped() -> Vec<RateCard> {
        let mut cards: Vec<RateCard> =
            SHIPPED.iter().flat_map(|text| RateCard::from_csv(text).expect("shipped rate cards are valid")).collect();
        cards.sort_by(|a, b| a.effective_from.cmp(&b.effective_from).then_with(|| a.name.cmp(&b.name)));
        cards
    }

    /// The price of the `nth` message of the month (1-based) to `market` in `category`: the list
    /// price, or the volume tier `nth` falls in. Also the tier's first message. `None` when the card
    /// has no price for that market and category.
    pub fn price(&self, market: &Market, category: &Category, nth: u64) -> Option<(Decimal, u64)> {
        self.rates
            .iter()
            .filter(|r| &r.market == market && &r.category == category && r.volume_from <= nth.max(1))
            .max_by_key(|r| r.volume_from)
            .map(|r| (r.price, r.volume_from))
    }

    /// The lowest and highest list price of `category` over the card's markets (what a message
    /// costs before volume tiers, depending on the customer's country); `None` when the card has
    /// no price for it.
    pub fn list_price_range(&self, category: &Category) -> Option<(Decimal, Decimal)> {
        let prices = self.rates.iter().filter(|r| &r.category == category && r.volume_from <= 1).map(|r| r.price);
        prices.fold(None, |acc, p| match acc {
            None => Some((p, p)),
            Some((lo, hi)) => Some((lo.min(p), hi.max(p))),
        })
    }

    /// Whether the card prices `category` anywhere (a category Meta added after the card was made
    /// has no price on it).
    pub fn has_category(&self, category: &Category) -> bool {
        self.rates.iter().any(|r| &r.category == category)
    }

    /// The markets the card prices, in order.
    pub fn markets(&self) -> Vec<&Market> {
        let mut out: Vec<&Market> = self.rates.iter().map(|r| &r.market).collect();
        out.sort();
        out.dedup();
        out
    }

    /// Reads the cards of a CSV file (see the module's documentation), each checked whole: every
    /// error names its line.
    pub fn from_csv(text: &str) -> Result<Vec<RateCard>, RateCardError> {
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(text.as_bytes());
        let at = |line: u64, message: String| RateCardError { line, message };
        let headers = reader.headers().map_err(|e| at(1, format!("the header cannot be read: {e}")))?.clone();
        let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let mut index = BTreeMap::new();
        for name in CSV_COLUMNS {
            match column(name) {
                Some(i) => {
                    index.insert(name, i);
                }
                None if name == "volume_from" || name == "source" => {}
                None => return Err(at(1, format!("the column {name:?} is missing (columns: {})", CSV_COLUMNS.join(", ")))),
            }
        }
        let mut cards: Vec<RateCard> = Vec::new();
        for (n, record) in reader.records().enumerate() {
            let line = n as u64 + 2;
            let record = record.map_err(|e| at(line, format!("the row cannot be read: {e}")))?;
            let field = |name: &str| index.get(name).and_then(|&i| record.get(i)).unwrap_or("");
            let name = field("card");
            if name.is_empty() || name.chars().count() > 100 {
                return Err(at(line, "card: a name of 1 to 100 characters is needed".into()));
            }
            let effective_from = NaiveDate::parse_from_str(field("effective_from"), "%Y-%m-%d")
                .map_err(|_| at(line, format!("effective_from: {:?} is not a date like 2026-01-01", field("effective_from"))))?;
            let currency = field("currency").to_ascii_uppercase();
            if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(at(line, format!("currency: {:?} is not a three-letter currency code like USD", field("currency"))));
            }
            let model = PricingModel::parse(field("model"))
                .ok_or_else(|| at(line, format!("model: {:?} is neither PMP (per message) nor CBP (per conversation)", field("model"))))?;
            let utility_free_in_window =
                flag(field("utility_free_in_window")).map_err(|m| at(line, format!("utility_free_in_window: {m}")))?;
            let free_entry_point_free =
                flag(field("free_entry_point_free")).map_err(|m| at(line, format!("free_entry_point_free: {m}")))?;
            let market = Market::parse(field("market")).map_err(|m| at(line, format!("market: {m}")))?;
            let category = Category::parse(field("category")).map_err(|m| at(line, format!("category: {m}")))?;
            let price: Decimal =
                field("price").parse().map_err(|_| at(line, format!("price: {:?} is not a number like 0.0625", field("price"))))?;
            if price.is_sign_negative() || price > Decimal::from(MAX_PRICE) {
                return Err(at(line, format!("price: {price} is not between 0 and {MAX_PRICE}")));
            }
            let volume_from = match field("volume_from") {
                "" => 1,
                v => v.parse::<u64>().ok().filter(|v| (1..=MAX_VOLUME).contains(v)).ok_or_else(|| {
                    at(line, format!("volume_from: {v:?} is not a whole number from 1 to {MAX_VOLUME} (empty for the list price)"))
                })?,
            };
            let source = Some(field("source").to_owned()).filter(|s| !s.is_empty());
            let rate = Rate { market, category, price, volume_from, source };
            match cards.iter_mut().find(|c| c.name == name) {
                Some(card) => {
                    if (card.effective_from, &card.currency, card.model, card.utility_free_in_window, card.free_entry_point_free)
                        != (effective_from, &currency, model, utility_free_in_window, free_entry_point_free)
                    {
                        return Err(at(line, format!("card {name:?}: its date, currency, model and free rules differ from its first row")));
                    }
                    if card
                        .rates
                        .iter()
                        .any(|r| r.market == rate.market && r.category == rate.category && r.volume_from == rate.volume_from)
                    {
                        return Err(at(
                            line,
                            format!("card {name:?}: {} {} from message {} is priced twice", rate.market, rate.category, rate.volume_from),
                        ));
                    }
                    card.rates.push(rate);
                }
                None => cards.push(RateCard {
                    name: name.to_owned(),
                    effective_from,
                    currency,
                    model,
                    utility_free_in_window,
                    free_entry_point_free,
                    rates: vec![rate],
                }),
            }
        }
        if cards.is_empty() {
            return Err(at(2, "the file holds no prices".into()));
        }
        for card in &cards {
            if let Some(tier) = card.rates.iter().find(|t| t.volume_from > 1 && card.price(&t.market, &t.category, 1).is_none()) {
                return Err(at(
                    1,
                    format!(
                        "card {:?}: {} {} has volume tiers but no list price (a row with volume_from empty)",
                        card.name, tier.market, tier.category
                    ),
                ));
            }
        }
        Ok(cards)
    }

    /// The cards as CSV, in the form [`RateCard::from_csv`] reads.
    pub fn to_csv(cards: &[RateCard]) -> String {
        let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
        w.write_record(CSV_COLUMNS).expect("writing to memory");
        for card in cards {
            for r in &card.rates {
                let volume_from = if r.volume_from > 1 { r.volume_from.to_string() } else { String::new() };
                w.write_record([
                    card.name.as_str(),
                    &card.effective_from.to_string(),
                    &card.currency,
                    card.model.as_str(),
                    if card.utility_free_in_window { "true" } else { "false" },
                    if card.free_entry_point_free { "true" } else { "false" },
                    r.market.as_str(),
                    r.category.as_str(),
                    &r.price.normalize().to_string(),
                    &volume_from,
                    r.source.as_deref().unwrap_or(""),
                ])
                .expect("writing to memory");
            }
        }
        String::from_utf8(w.into_inner().expect("writing to memory")).expect("CSV of strings is UTF-8")
    }
}

fn flag(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        other => Err(format!("{other:?} is neither true nor false")),
    }
}
