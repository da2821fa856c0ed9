//! The month's volume, for volume tiers. Utility and authentication prices fall with the number of
//! charged messages a WhatsApp Business account sends to a market in a calendar month (UTC); Meta
//! reports the tier it has reached with a `VOLUME_BASED_PRICING_TIER_UPDATE` account update:
//!
//! ```json
//! {"event": "VOLUME_BASED_PRICING_TIER_UPDATE",
//!  "volume_tier_info": {"tier_update_time": 1743451903, "pricing_category": "UTILITY",
//!                       "tier": "25000001:50000000", "effective_month": "2025-11", "region": "India"}}
//! ```
//!
//! The desk counts its own charged messages too; whichever tier is further on prices the next
//! message ([`super::QuoteRequest::reported_tier_from`]).

use super::{Category, Market};
use crate::time::Timestamp;

/// The account update's `event`.
pub const TIER_UPDATE_EVENT: &str = "VOLUME_BASED_PRICING_TIER_UPDATE";

/// A calendar month (UTC) as Meta writes it: `2025-11`.
pub fn month_of(at: Timestamp) -> String {
    super::quote::day(at).format("%Y-%m").to_string()
}

/// One `VOLUME_BASED_PRICING_TIER_UPDATE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierUpdate {
    /// `YYYY-MM`: the month the tier applies to.
    pub month: String,
    /// Meta's `region`: a pricing market's name ("India"), compared without regard to case.
    pub market: String,
    pub category: Category,
    /// The tier's first and last message of the month (`"25000001:50000000"`; the last tier has
    /// no end).
    pub tier_from: u64,
    pub tier_to: Option<u64>,
    pub updated_at: Option<Timestamp>,
}

impl TierUpdate {
    /// Reads the account update's value (JSON, as Meta sent it); the error names the field that
    /// is missing or wrong.
    pub fn parse(value: &str) -> Result<TierUpdate, String> {
        let v: serde_json::Value = serde_json::from_str(value).map_err(|e| format!("not JSON: {e}"))?;
        let info = v.get("volume_tier_info").ok_or("no volume_tier_info")?;
        let text = |k: &str| info.get(k).and_then(|x| x.as_str()).map(str::trim).filter(|s| !s.is_empty());
        let month = text("effective_month").ok_or("volume_tier_info.effective_month is missing")?;
        if chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_err() {
            return Err(format!("volume_tier_info.effective_month {month:?} is not a month like \"2025-11\""));
        }
        let market = text("region").ok_or("volume_tier_info.region is missing")?;
        let category = Category::parse(text("pricing_category").ok_or("volume_tier_info.pricing_category is missing")?)
            .map_err(|e| format!("volume_tier_info.pricing_category: {e}"))?;
        let tier = text("tier").ok_or("volume_tier_info.tier is missing")?;
        let bad_tier = || format!("volume_tier_info.tier {tier:?} is not a range like \"25000001:50000000\"");
        let (from, to) = tier.split_once(':').unwrap_or((tier, ""));
        let tier_from: u64 = from.trim().parse().map_err(|_| bad_tier())?;
        let tier_to = match to.trim() {
            "" => None,
            t => Some(t.parse::<u64>().map_err(|_| bad_tier())?),
        };
        let updated_at = match info.get("tier_update_time") {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .map(Timestamp::from_unix_seconds);
        Ok(TierUpdate { month: month.to_owned(), market: market.to_owned(), category, tier_from: tier_from.max(1), tier_to, updated_at })
    }

    pub fn is_for(&self, month: &str, market: &Market) -> bool {
        self.month == month && self.market.eq_ignore_ascii_case(market.as_str())
    }
}

/// The tier Meta last reported for each category, for `market` in `month`, from `updates` in the
/// order they arrived (a later update replaces an earlier one).
pub fn reported_tiers(updates: &[TierUpdate], month: &str, market: &Market) -> Vec<(Category, u64)> {
    let mut out: Vec<(Category, u64)> = Vec::new();
    for u in updates.iter().filter(|u| u.is_for(month, market)) {
        match out.iter_mut().find(|(c, _)| *c == u.category) {
            Some(slot) => slot.1 = u.tier_from,
            None => out.push((u.category.clone(), u.tier_from)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYWA: &str = r#"{"volume_tier_info": {"tier_update_time": 1743451903, "pricing_category": "UTILITY",
        "tier": "25000001:50000000", "effective_month": "2025-11", "region": "India"}, "event": "VOLUME_BASED_PRICING_TIER_UPDATE"}"#;

    #[test]
    fn meta_s_tier_update_is_read_as_the_tier_s_first_message_for_its_month_and_market() {
        let u = TierUpdate::parse(PYWA).unwrap();
        assert_eq!((u.month.as_str(), u.category.as_str(), u.tier_from, u.tier_to), ("2025-11", "utility", 25_000_001, Some(50_000_000)));
        let india = Market::parse("INDIA").unwrap();
        assert_eq!(reported_tiers(std::slice::from_ref(&u), "2025-11", &india), vec![(Category::known("utility"), 25_000_001)]);
        assert!(reported_tiers(std::slice::from_ref(&u), "2025-12", &india).is_empty(), "a tier holds for its month only");
        let later = TierUpdate { tier_from: 50_000_001, tier_to: None, ..u.clone() };
        assert_eq!(reported_tiers(&[u, later], "2025-11", &india)[0].1, 50_000_001, "the later update wins");
        assert_eq!(month_of(Timestamp::from_unix_seconds(1_743_451_903)), "2025-03");
    }

    #[test]
    fn a_tier_update_with_a_field_missing_or_wrong_is_refused_naming_it() {
        let missing =
            TierUpdate::parse(r#"{"volume_tier_info": {"pricing_category": "UTILITY", "tier": "1:2", "effective_month": "2025-11"}}"#);
        assert_eq!(missing.unwrap_err(), "volume_tier_info.region is missing");
        let bad = PYWA.replace("25000001:50000000", "lots");
        assert!(TierUpdate::parse(&bad).unwrap_err().contains("volume_tier_info.tier \"lots\""));
        let open_ended = PYWA.replace("25000001:50000000", "100000001:");
        assert_eq!(TierUpdate::parse(&open_ended).unwrap().tier_to, None);
        assert!(TierUpdate::parse("{}").unwrap_err().contains("volume_tier_info"));
    }
}
