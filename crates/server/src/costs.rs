//! The cost settler (SPEC 11, issue 17 item 3). Every message the desk sends is stored with the
//! send decision's estimate (`message_costs`). Meta's status webhooks then say how it was charged
//! (`pricing`: model, category, type, billable; `conversation` under conversation-based pricing)
//! but never an amount: the settler works the amount out from the rate card for Meta's category
//! and type ([`RateBook::settle`]), and marks the cost final once nothing can change it.
//!
//! - **failed** (or blocked): nothing is charged, for good;
//! - **delivered** (or read, played): Meta's category and type win over the estimate's; without a
//!   `pricing` object (an older API version, a test double) the estimate stands;
//! - **sent**: Meta's fields are recorded, the amount waits for the delivery;
//! - **SMS**: the provider's configured price once the provider took it, nothing if it failed.
//!
//! The work is idempotent (the same inputs give the same row), so every instance may run it.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use windowdesk_core::pricing::quote::MetaConversation;
use windowdesk_core::pricing::{
    from_micros, month_of, to_micros, Category, Market, MetaPricing, PricingModel, QuoteRequest, RateBook, SettledBy, TierUpdate,
};
use windowdesk_store::{CostSettlement, MessageCostRow, PendingCost};

use crate::AppState;

/// How often pending costs are looked at.
pub const SETTLE_EVERY: Duration = Duration::from_secs(5);
/// Costs settled per round trip.
const BATCH: u32 = 500;
/// Meta keeps trying to deliver a message for 30 days: a cost still open a day after that is
/// settled for good as not delivered (nothing is charged), so the settler's work stays bounded.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(31 * 24 * 3600);

/// Runs until `shutdown`.
pub async fn run_settler(state: AppState, shutdown: CancellationToken) {
    loop {
        loop {
            match settle_once(&state).await {
                Ok(n) if n == BATCH as usize && !shutdown.is_cancelled() => {}
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "settling message costs failed; trying again shortly");
                    break;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(SETTLE_EVERY) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// The month's volume as the settler sees it: the stored counts per WhatsApp Business account
/// (volume tiers count over all of an account's numbers), month and market, plus what this batch
/// has charged so far.
#[derive(Default)]
struct Volumes {
    counts: HashMap<(String, String, String), Vec<(String, u64)>>,
    tiers: HashMap<String, Vec<TierUpdate>>,
}

/// The account a number belongs to (the number itself when it is no longer served).
fn account_of(state: &AppState, bn: i64) -> String {
    state.numbers.waba_of(bn).map_or_else(|| format!("number:{bn}"), str::to_owned)
}

impl Volumes {
    /// Charged messages of `category` so far, and the tier Meta reported, for the message's
    /// account, month and market.
    async fn of(&mut self, state: &AppState, bn: i64, month: &str, market: &Market, category: &str) -> anyhow::Result<(u64, Option<u64>)> {
        let account = account_of(state, bn);
        let key = (account.clone(), month.to_owned(), market.as_str().to_owned());
        if let std::collections::hash_map::Entry::Vacant(slot) = self.counts.entry(key.clone()) {
            slot.insert(state.store.month_volume(bn, month, market.as_str()).await?);
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = self.tiers.entry(account.clone()) {
            slot.insert(tier_updates(state, bn).await?);
        }
        let sent = self.counts[&key].iter().find(|(c, _)| c == category).map_or(0, |(_, n)| *n);
        let reported = windowdesk_core::pricing::volume::reported_tiers(&self.tiers[&account], month, market)
            .into_iter()
            .find(|(c, _)| c.as_str() == category)
            .map(|(_, from)| from);
        Ok((sent, reported))
    }

    fn charged(&mut self, state: &AppState, bn: i64, month: &str, market: &str, category: &str) {
        let counts = self.counts.entry((account_of(state, bn), month.to_owned(), market.to_owned())).or_default();
        match counts.iter_mut().find(|(c, _)| c == category) {
            Some(slot) => slot.1 += 1,
            None => counts.push((category.to_owned(), 1)),
        }
    }
}

/// Meta's tier updates for the number's account; one it cannot read is logged and left out.
pub async fn tier_updates(state: &AppState, business_number_id: i64) -> Result<Vec<TierUpdate>, windowdesk_store::StoreError> {
    let raw = state.store.tier_updates(business_number_id).await?;
    Ok(raw
        .iter()
        .filter_map(|r| match TierUpdate::parse(r) {
            Ok(u) => Some(u),
            Err(e) => {
                tracing::warn!(business_number_id, error = %e, "a VOLUME_BASED_PRICING_TIER_UPDATE could not be read; the desk's own count stands");
                None
            }
        })
        .collect())
}

/// Settles what is pending now; returns how many costs it looked at.
pub async fn settle_once(state: &AppState) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let stale_before = now.minus(GIVE_UP_AFTER);
    let pending = state.store.pending_costs(BATCH, stale_before).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let book = state.pricing.book(state.store.as_ref()).await?;
    let mut volumes = Volumes::default();
    // Conversation-based pricing: conversations opened by a message earlier in this batch.
    let mut opened_here: HashSet<String> = HashSet::new();
    let mut settled = Vec::with_capacity(pending.len());
    for p in &pending {
        let meta = p.pricing.as_deref().and_then(|json| match MetaPricing::parse(json) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(message_id = p.cost.message_id, error = %e, "Meta's pricing on a status could not be read; the estimate stands");
                None
            }
        });
        let conversation = p
            .status_raw
            .as_deref()
            .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
            .and_then(|v| MetaConversation::from_status(&v));
        let opened = match (&meta, &conversation) {
            (Some(m), Some(c)) if m.model == Some(PricingModel::Conversation) => {
                !opened_here.contains(&c.id) && !state.store.conversation_seen_before(&c.id, p.cost.message_id).await?
            }
            _ => false,
        };
        if let (true, Some(c)) = (opened, &conversation) {
            opened_here.insert(c.id.clone());
        }
        let meta = meta.map(|m| MetaPricing { opened_conversation: opened, ..m });
        // The month's volume of the category Meta charged it in, for its market, as of when it went out.
        let at = p.went_out_at.unwrap_or(p.cost.at);
        let volume = match (p.recipient.as_deref(), p.cost.channel.as_str()) {
            (Some(recipient), "whatsapp") => {
                let market = book.market_of(recipient, at);
                let category = meta.as_ref().and_then(|m| m.category.as_ref()).map_or(p.cost.category.as_str(), |c| c.as_str()).to_owned();
                volumes.of(state, p.cost.business_number_id, &month_of(at), &market, &category).await?
            }
            _ => (0, None),
        };
        let s = settlement(&book, p, meta, conversation, volume, p.cost.at < stale_before);
        if let Some((month, market)) = &s.counts_in {
            volumes.charged(state, p.cost.business_number_id, month, market, &s.charged_category);
        }
        settled.push(s);
    }
    let finals: HashSet<i64> = state.store.settle_costs(&settled, now).await?.into_iter().collect();
    // /metrics: what this instance settled for good (the store says which, so each counts once).
    for (s, p) in settled.iter().zip(&pending) {
        if finals.contains(&s.message_id) {
            let number = state
                .numbers
                .by_id(p.cost.business_number_id)
                .map_or_else(|| p.cost.business_number_id.to_string(), |n| n.phone_number_id.clone());
            let currency = p.cost.currency.as_deref().unwrap_or("unpriced");
            state.metrics.spend.add(&number, &s.charged_category, currency, s.amount_micros.unwrap_or(0));
        }
    }
    Ok(settled.len())
}

/// How one message was charged (see the module's documentation). `volume` is the month's count of
/// charged messages of its category to its market before it, and the tier Meta reported; `stale`:
/// written more than [`GIVE_UP_AFTER`] ago.
pub fn settlement(
    book: &RateBook,
    p: &PendingCost,
    meta: Option<MetaPricing>,
    conversation: Option<MetaConversation>,
    volume: (u64, Option<u64>),
    stale: bool,
) -> CostSettlement {
    let c = &p.cost;
    let state = p.delivery_state.as_str();
    let delivered = matches!(state, "delivered" | "read" | "played") || (c.channel == "sms" && matches!(state, "accepted" | "sent"));
    // Failed, or never delivered while Meta kept trying.
    let failed = matches!(state, "failed" | "blocked") || (stale && !delivered);
    let at = p.went_out_at.unwrap_or(c.at);
    let mut out = CostSettlement {
        message_id: c.message_id,
        business_number_id: c.business_number_id,
        meta_model: meta.as_ref().and_then(|m| m.model).map(|m| m.as_str().to_owned()),
        meta_category: meta.as_ref().and_then(|m| m.category.as_ref()).map(|c| c.as_str().to_owned()),
        meta_type: meta.as_ref().and_then(|m| m.kind.clone()),
        meta_billable: meta.as_ref().and_then(|m| m.billable),
        conversation_id: conversation.as_ref().map(|c| c.id.clone()),
        conversation_origin: conversation.as_ref().and_then(|c| c.origin.clone()),
        conversation_expires_at: conversation.as_ref().and_then(|c| c.expires_at),
        charged_category: meta.as_ref().and_then(|m| m.category.as_ref()).map_or_else(|| c.category.clone(), |c| c.as_str().to_owned()),
        amount_micros: None,
        settled_by: String::new(),
        is_final: failed || delivered,
        delivery_state: p.delivery_state.clone(),
        went_out_at: p.went_out_at,
        counts_in: None,
    };
    if failed {
        out.amount_micros = Some(0);
        out.settled_by = SettledBy::NotDelivered.as_str().to_owned();
        return out;
    }
    if !delivered {
        // Sent: Meta charges on delivery.
        out.settled_by = "pending".into();
        return out;
    }
    let meta_free = meta.as_ref().is_some_and(|m| match m.kind.as_deref() {
        Some(k) => k.starts_with("free"),
        None => m.billable == Some(false),
    });
    if meta_free {
        // Free whatever the card or the market.
        out.amount_micros = Some(0);
        out.settled_by = SettledBy::Meta.as_str().to_owned();
        return out;
    }
    match (&meta, p.recipient.as_deref(), Category::parse(&c.category)) {
        (Some(meta), Some(recipient), Ok(category)) => {
            let req = QuoteRequest {
                category: &category,
                recipient,
                at,
                in_service_window: c.free_because.as_deref() == Some("customer_service_window"),
                in_free_entry_point: c.free_because.as_deref() == Some("free_entry_point"),
                month_volume: volume.0,
                reported_tier_from: volume.1,
                conversations: &[],
            };
            let s = book.settle(&req, Some(meta), true);
            out.charged_category = s.category.as_str().to_owned();
            out.amount_micros = s.amount.and_then(to_micros);
            out.settled_by = s.by.as_str().to_owned();
            if c.channel == "whatsapp" && out.amount_micros.is_some_and(|a| a > 0) {
                out.counts_in = Some((month_of(at), s.market.as_str().to_owned()));
            }
        }
        _ => {
            out.amount_micros = c.estimate_micros;
            out.settled_by = SettledBy::Estimate.as_str().to_owned();
            if let (true, true, Some(market)) = (c.channel == "whatsapp", c.estimate_micros.is_some_and(|a| a > 0), &c.market) {
                out.counts_in = Some((month_of(at), market.clone()));
            }
        }
    }
    out
}

/// What a ticket's messages cost so far, in one currency (SPEC 11, issue 17 item 4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TicketCostTotal {
    /// `null` for messages nothing priced.
    pub currency: Option<String>,
    /// What the settled messages cost (decimal).
    pub cost: String,
    pub messages: usize,
    pub charged: usize,
    pub free: usize,
    pub not_delivered: usize,
    /// Delivered, but no card priced them (a market or category the card in force lacks).
    pub unpriced: usize,
    pub pending: usize,
    /// What the pending ones are estimated to cost.
    pub pending_estimate: String,
}

/// A ticket's costs per currency, the desk's first.
pub fn ticket_totals(rows: &[MessageCostRow], desk_currency: &str) -> Vec<TicketCostTotal> {
    // Counts: messages, charged, free, not delivered, pending, unpriced.
    let mut sums: Vec<(Option<String>, i64, i64, [usize; 6])> = Vec::new();
    for c in rows {
        let i = match sums.iter().position(|s| s.0 == c.currency) {
            Some(i) => i,
            None => {
                sums.push((c.currency.clone(), 0, 0, [0; 6]));
                sums.len() - 1
            }
        };
        let s = &mut sums[i];
        s.3[0] += 1;
        if !c.is_final {
            s.3[4] += 1;
            s.2 += c.estimate_micros.unwrap_or(0);
        } else if c.settled_by.as_deref() == Some(SettledBy::NotDelivered.as_str()) {
            s.3[3] += 1;
        } else if c.amount_micros.is_some_and(|a| a > 0) {
            s.3[1] += 1;
            s.1 += c.amount_micros.unwrap_or(0);
        } else if c.amount_micros.is_none() {
            s.3[5] += 1;
        } else {
            s.3[2] += 1;
        }
    }
    sums.sort_by_key(|s| s.0.as_deref() != Some(desk_currency));
    sums.into_iter()
        .map(|(currency, cost, pending, n)| TicketCostTotal {
            currency,
            cost: from_micros(cost).to_string(),
            messages: n[0],
            charged: n[1],
            free: n[2],
            not_delivered: n[3],
            unpriced: n[5],
            pending: n[4],
            pending_estimate: from_micros(pending).to_string(),
        })
        .collect()
}

/// What the next message of a kind would cost now (SPEC 11, issue 17 item 4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NextPrice {
    /// `reply`, `utility_template`, `marketing_template`, `authentication_template`, `sms`.
    pub kind: String,
    /// The pricing category: `service`, `utility`, `marketing`, `authentication`, `sms`.
    pub category: String,
    /// Decimal; `null` when nothing prices it (`price` says why).
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub billable: bool,
    /// As people read it: "free: inside the customer service window", "0.1365 USD, marketing template, Germany".
    pub price: String,
}

/// The price of each kind of message to this ticket's customer, now: a free-form reply (only
/// while the window is open), each template category, and SMS where it is set up.
pub fn next_prices(o: &crate::replies::Outlook) -> Vec<NextPrice> {
    use windowdesk_core::decision::{price, MessageCategory as M};
    let ctx = o.context();
    let mut kinds =
        vec![("utility_template", M::Utility), ("marketing_template", M::Marketing), ("authentication_template", M::Authentication)];
    if o.identity.window.is_open(o.policy, o.now) {
        kinds.insert(0, ("reply", M::Service));
    }
    if o.sms_configured {
        kinds.push(("sms", M::Sms));
    }
    kinds
        .into_iter()
        .map(|(kind, category)| {
            let p = price(&ctx, category);
            NextPrice {
                kind: kind.to_owned(),
                category: category.as_str().to_owned(),
                amount: p.amount.map(|a| a.normalize().to_string()),
                currency: p.currency,
                billable: p.billable,
                price: p.text,
            }
        })
        .collect()
}

/// A window in which messages are free, open now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FreeWindow {
    /// `customer_service_window` (service replies free; utility templates too while the card says
    /// so), `free_entry_point` (everything free, W6), or `conversation` (a conversation Meta
    /// reported, by its origin).
    pub kind: String,
    /// RFC 3339.
    pub until: String,
    /// Meta's conversation id and origin, for `conversation`.
    pub conversation_id: Option<String>,
    pub origin: Option<String>,
}

/// The free windows open with the ticket's customer now: the customer service window, a free
/// entry point, and conversations Meta reported on this ticket's messages that have not expired.
pub fn open_windows(o: &crate::replies::Outlook, rows: &[MessageCostRow]) -> Vec<FreeWindow> {
    let mut out = Vec::new();
    let w = o.identity.window.state(o.policy, o.now);
    if let (true, Some(until)) = (w.open, w.expires_at) {
        out.push(FreeWindow { kind: "customer_service_window".into(), until: until.to_rfc3339(), conversation_id: None, origin: None });
    }
    if let Some(until) = w.fep_until.filter(|u| *u > o.now) {
        out.push(FreeWindow { kind: "free_entry_point".into(), until: until.to_rfc3339(), conversation_id: None, origin: None });
    }
    for c in rows.iter().rev() {
        if let (Some(id), Some(until)) = (&c.conversation_id, c.conversation_expires_at) {
            if until > o.now && !out.iter().any(|w| w.conversation_id.as_deref() == Some(id.as_str())) {
                out.push(FreeWindow {
                    kind: "conversation".into(),
                    until: until.to_rfc3339(),
                    conversation_id: Some(id.clone()),
                    origin: c.conversation_origin.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use windowdesk_core::pricing::{MarketMap, RateCard};
    use windowdesk_core::Timestamp;

    use super::*;

    fn pending(channel: &str, category: &str, state: &str, estimate: i64) -> PendingCost {
        PendingCost {
            cost: MessageCostRow {
                message_id: 7,
                business_number_id: 1,
                ticket_id: 1,
                author: "agent:1".into(),
                channel: channel.into(),
                // 2026-03-02, under Meta's USD card of 2026-01-01.
                at: Timestamp::from_unix_seconds(1_772_452_800),
                category: category.into(),
                market: Some("Germany".into()),
                currency: Some("USD".into()),
                estimate_micros: Some(estimate),
                free_because: None,
                card: Some("Meta USD 2026-01-01".into()),
                charged_category: None,
                amount_micros: None,
                settled_by: None,
                is_final: false,
                conversation_id: None,
                conversation_origin: None,
                conversation_expires_at: None,
            },
            recipient: Some("4915112345678".into()),
            delivery_state: state.into(),
            pricing: None,
            status_raw: None,
            went_out_at: None,
        }
    }

    fn meta(json: &str) -> Option<MetaPricing> {
        Some(MetaPricing::parse(json).unwrap())
    }

    #[test]
    fn a_cost_is_settled_by_what_happened_to_its_message() {
        let book = RateBook::new(RateCard::shipped(), MarketMap::shipped(), "USD");
        let regular_marketing = r#"{"billable": true, "pricing_model": "PMP", "category": "marketing", "type": "regular"}"#;
        // Failed: nothing is charged, for good.
        let s = settlement(&book, &pending("whatsapp", "marketing", "failed", 136_500), meta(regular_marketing), None, (0, None), false);
        assert_eq!((s.amount_micros, s.settled_by.as_str(), s.is_final), (Some(0), "not_delivered", true));
        // Sent: Meta's fields are kept, the amount waits for the delivery.
        let s = settlement(&book, &pending("whatsapp", "marketing", "sent", 136_500), meta(regular_marketing), None, (0, None), false);
        assert_eq!((s.amount_micros, s.is_final, s.meta_type.as_deref()), (None, false, Some("regular")));
        // Delivered: the card's price for Meta's category, even when the estimate was another one.
        let s = settlement(&book, &pending("whatsapp", "utility", "delivered", 55_000), meta(regular_marketing), None, (0, None), false);
        assert_eq!((s.charged_category.as_str(), s.amount_micros, s.settled_by.as_str()), ("marketing", Some(136_500), "meta"));
        // Delivered without Meta's pricing: the estimate stands.
        let s = settlement(&book, &pending("whatsapp", "utility", "read", 55_000), None, None, (0, None), false);
        assert_eq!((s.amount_micros, s.settled_by.as_str(), s.is_final), (Some(55_000), "estimate", true));
        // SMS: the configured price once the provider took it.
        let s = settlement(&book, &pending("sms", "sms", "accepted", 7_900), None, None, (0, None), false);
        assert_eq!((s.amount_micros, s.is_final), (Some(7_900), true));
        // WhatsApp accepted by Meta: nothing known yet.
        let s = settlement(&book, &pending("whatsapp", "marketing", "accepted", 136_500), None, None, (0, None), false);
        assert_eq!((s.amount_micros, s.is_final, s.settled_by.as_str()), (None, false, "pending"));
        // A customer known only by BSUID: Meta's free type still settles at 0.
        let mut bsuid = pending("whatsapp", "service", "delivered", 0);
        bsuid.recipient = None;
        let free = r#"{"billable": false, "pricing_model": "PMP", "category": "service", "type": "free_customer_service"}"#;
        let s = settlement(&book, &bsuid, meta(free), None, (0, None), false);
        assert_eq!((s.amount_micros, s.settled_by.as_str(), &s.counts_in), (Some(0), "meta", &None), "free counts for no volume");
        // Charged: it counts in its month and market's volume, as of when it went out.
        let mut held = pending("whatsapp", "marketing", "delivered", 136_500);
        held.went_out_at = Some(Timestamp::from_unix_seconds(1_775_001_600)); // 2026-04-01: a held reply released later
        let s = settlement(&book, &held, meta(regular_marketing), None, (0, None), false);
        assert_eq!(s.counts_in, Some(("2026-04".to_owned(), "Germany".to_owned())));
        assert_eq!(s.went_out_at, held.went_out_at);
        // Still only sent 31 days on: Meta has stopped trying, nothing is charged, for good.
        let s = settlement(&book, &pending("whatsapp", "marketing", "sent", 136_500), meta(regular_marketing), None, (0, None), true);
        assert_eq!((s.amount_micros, s.settled_by.as_str(), s.is_final), (Some(0), "not_delivered", true));
        // A delivered message that old still costs what it cost.
        let s = settlement(&book, &pending("whatsapp", "marketing", "read", 136_500), meta(regular_marketing), None, (0, None), true);
        assert_eq!((s.amount_micros, s.is_final), (Some(136_500), true));
    }
}
