//! Meta's pricing markets: a recipient is priced by the market of their number's calling code
//! (with area codes for some +1 countries: the Dominican Republic, Jamaica and Puerto Rico are
//! "Rest of Latin America", other +1 numbers "North America"); a country Meta does not list is
//! "Other". The mapping changes now and then (Zimbabwe moved to "Rest of Africa" on 2025-10-01), so
//! each entry has the date it starts.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A pricing market as Meta names it ("Germany", "Rest of Western Europe", "Other").
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Market(String);

impl Market {
    pub const OTHER: &'static str = "Other";

    pub fn parse(s: &str) -> Result<Market, String> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 60 || s.chars().any(char::is_control) {
            return Err(format!("{s:?} is not a market name (1 to 60 characters, like \"Germany\" or \"Rest of Africa\")"));
        }
        Ok(Market(s.to_owned()))
    }

    pub fn other() -> Market {
        Market(Self::OTHER.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Market {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One line of the mapping: numbers starting with `calling_code` (digits, with the area code where
/// Meta gives one) are in `market` from `effective_from` (always, when `None`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MarketEntry {
    pub calling_code: String,
    /// ISO 3166 alpha-2.
    pub country: String,
    pub market: Market,
    pub effective_from: Option<NaiveDate>,
}

/// Calling codes to markets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MarketMap {
    entries: Vec<MarketEntry>,
}

const SHIPPED: &str = include_str!("../../data/pricing/markets.csv");

impl MarketMap {
    /// Meta's mapping (see `docs/pricing.md` for its source).
    pub fn shipped() -> MarketMap {
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(SHIPPED.as_bytes());
        let mut entries = Vec::new();
        for record in reader.records() {
            let r = record.expect("the shipped market map is valid CSV");
            let (code, country, market, from) = (&r[0], &r[1], &r[2], &r[3]);
            if code == "*" {
                continue;
            }
            entries.push(MarketEntry {
                calling_code: code.to_owned(),
                country: country.to_owned(),
                market: Market::parse(market).expect("shipped market names are valid"),
                effective_from: (!from.is_empty()).then(|| NaiveDate::parse_from_str(from, "%Y-%m-%d").expect("shipped dates are valid")),
            });
        }
        MarketMap { entries }
    }

    pub fn new(entries: Vec<MarketEntry>) -> MarketMap {
        MarketMap { entries }
    }

    pub fn entries(&self) -> &[MarketEntry] {
        &self.entries
    }

    /// The market of the number `digits` (a `wa_id`: country code and number, digits only) on
    /// `on`: the longest calling code it starts with, as that code's country was mapped on that
    /// day; "Other" when none.
    pub fn market_of(&self, digits: &str, on: NaiveDate) -> Market {
        let mut best: Option<&MarketEntry> = None;
        for e in &self.entries {
            if !digits.starts_with(&e.calling_code) || e.effective_from.is_some_and(|d| d > on) {
                continue;
            }
            best = match best {
                None => Some(e),
                Some(b) if e.calling_code.len() > b.calling_code.len() => Some(e),
                // The same code and country mapped again later: the newer mapping in force wins.
                Some(b) if e.calling_code == b.calling_code && e.country == b.country && e.effective_from > b.effective_from => Some(e),
                keep => keep,
            };
        }
        best.map_or_else(Market::other, |e| e.market.clone())
    }
}
