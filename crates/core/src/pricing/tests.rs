use std::str::FromStr;

use chrono::NaiveDate;
use proptest::prelude::*;

use super::cbp::{conversations_of, Conversation};
use super::*;
use crate::time::Timestamp;

const GERMANY: &str = "4915112345678";
const BRAZIL: &str = "5511987654321";
const US: &str = "12025550123";

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Noon UTC on a day.
fn at(day: &str) -> Timestamp {
    Timestamp::from_unix_millis(date(day).and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp_millis())
}

fn shipped_usd() -> RateBook {
    RateBook::new(RateCard::shipped(), MarketMap::shipped(), "USD")
}

fn cat(name: &'static str) -> Category {
    Category::known(name)
}

fn req<'a>(category: &'a Category, recipient: &'a str, when: Timestamp) -> QuoteRequest<'a> {
    QuoteRequest {
        category,
        recipient,
        at: when,
        in_service_window: false,
        in_free_entry_point: false,
        month_volume: 0,
        reported_tier_from: None,
        conversations: &[],
    }
}

/// A per-message card of one market, in USD, from `from`.
fn card(name: &str, from: &str, utility_free_in_window: bool, rows: &[(&str, &str, &str, u64)]) -> RateCard {
    RateCard {
        name: name.into(),
        effective_from: date(from),
        currency: "USD".into(),
        model: PricingModel::PerMessage,
        utility_free_in_window,
        free_entry_point_free: true,
        rates: rows
            .iter()
            .map(|(market, category, price, volume_from)| Rate {
                market: Market::parse(market).unwrap(),
                category: Category::parse(category).unwrap(),
                price: d(price),
                volume_from: *volume_from,
                source: None,
            })
            .collect(),
    }
}

#[test]
fn markets_follow_calling_codes_area_codes_and_the_date_of_a_change() {
    let m = MarketMap::shipped();
    let on = date("2026-01-15");
    assert_eq!(m.market_of(GERMANY, on).as_str(), "Germany");
    assert_eq!(m.market_of(BRAZIL, on).as_str(), "Brazil");
    assert_eq!(m.market_of(US, on).as_str(), "North America");
    // +1 809 is the Dominican Republic: Rest of Latin America, not North America.
    assert_eq!(m.market_of("18095551234", on).as_str(), "Rest of Latin America");
    assert_eq!(m.market_of("4312345678", on).as_str(), "Rest of Western Europe", "Austria");
    // A country Meta does not list is Other; so is Zimbabwe until 2025-10-01.
    assert_eq!(m.market_of("3545551234", on).as_str(), "Other", "Iceland");
    assert_eq!(m.market_of("263771234567", date("2025-09-30")).as_str(), "Other");
    assert_eq!(m.market_of("263771234567", date("2025-10-01")).as_str(), "Rest of Africa");
    // Hong Kong is its own market from 2026-07-01.
    assert_eq!(m.market_of("85291234567", date("2026-06-30")).as_str(), "Rest of Asia Pacific");
    assert_eq!(m.market_of("85291234567", date("2026-07-01")).as_str(), "Hong Kong");
}

#[test]
fn the_card_in_force_is_the_latest_to_start_in_the_desks_currency() {
    let book = shipped_usd();
    assert!(book.cards().iter().all(|c| c.currency == "USD"));
    assert!(book.card_on(date("2024-10-31")).is_none(), "nothing shipped before 2024-11-01");
    assert_eq!(book.card_on(date("2025-06-30")).unwrap().model, PricingModel::Conversation);
    assert_eq!(book.card_on(date("2025-07-01")).unwrap().name, "Meta USD 2025-07-01");
    assert_eq!(book.card_on(date("2026-12-07")).unwrap().name, "Meta USD 2026-01-01");
    let eur = RateBook::new(RateCard::shipped(), MarketMap::shipped(), "eur");
    assert_eq!(eur.card_on(date("2026-12-07")).unwrap().name, "Meta EUR 2026-07-01");
    assert!(eur.card_on(date("2026-06-30")).is_none());
}

#[test]
fn a_marketing_template_is_priced_from_the_card_for_the_recipients_market() {
    let book = shipped_usd();
    let marketing = cat(Category::MARKETING);
    let q = book.quote(&req(&marketing, GERMANY, at("2026-03-01")));
    assert_eq!((q.amount, q.currency.as_deref(), q.free), (Some(d("0.1365")), Some("USD"), None));
    assert_eq!(q.describe(), "0.1365 USD, marketing, Germany");
    // The same message on 2025-10-01 was priced by that day's card: France's marketing price changed on 2026-01-01.
    let france = "33612345678";
    assert_eq!(book.quote(&req(&marketing, france, at("2025-12-31"))).amount, Some(d("0.1432")));
    assert_eq!(book.quote(&req(&marketing, france, at("2026-01-01"))).amount, Some(d("0.0859")));
}

#[test]
fn a_utility_template_in_an_open_window_is_free_under_the_2025_card_and_billed_under_a_later_card_that_says_so() {
    let mut cards = vec![card("july", "2025-07-01", true, &[("Germany", "utility", "0.0456", 1)])];
    cards.push(card("october 2026", "2026-10-01", false, &[("Germany", "utility", "0.0456", 1)]));
    let book = RateBook::new(cards, MarketMap::shipped(), "USD");
    let utility = cat(Category::UTILITY);
    let in_window = |when| QuoteRequest { in_service_window: true, ..req(&utility, GERMANY, when) };
    let q = book.quote(&in_window(at("2025-08-01")));
    assert_eq!((q.amount, q.free), (Some(Decimal::ZERO), Some(FreeBecause::CustomerServiceWindow)));
    assert_eq!(q.describe(), "free: inside the customer service window");
    let q = book.quote(&in_window(at("2026-10-02")));
    assert_eq!((q.amount, q.free), (Some(d("0.0456")), None));
    // Outside the window it is billed under both.
    assert_eq!(book.quote(&req(&utility, GERMANY, at("2025-08-01"))).amount, Some(d("0.0456")));
    // With Meta's shipped card, too.
    let shipped = shipped_usd();
    assert_eq!(shipped.quote(&in_window(at("2025-08-01"))).free, Some(FreeBecause::CustomerServiceWindow));
}

#[test]
fn anything_inside_an_active_free_entry_point_is_free() {
    let book = shipped_usd();
    for name in [Category::MARKETING, Category::UTILITY, Category::AUTHENTICATION, Category::SERVICE] {
        let category = cat(name);
        let q = book.quote(&QuoteRequest { in_free_entry_point: true, ..req(&category, BRAZIL, at("2026-02-01")) });
        assert_eq!((q.amount, q.free), (Some(Decimal::ZERO), Some(FreeBecause::FreeEntryPoint)), "{name}");
    }
    // Under conversation pricing too.
    let marketing = cat(Category::MARKETING);
    let q = book.quote(&QuoteRequest { in_free_entry_point: true, ..req(&marketing, BRAZIL, at("2025-01-10")) });
    assert_eq!(q.free, Some(FreeBecause::FreeEntryPoint));
}

#[test]
fn service_replies_are_free_inside_the_window() {
    let book = shipped_usd();
    let service = cat(Category::SERVICE);
    let q = book.quote(&QuoteRequest { in_service_window: true, ..req(&service, GERMANY, at("2026-02-01")) });
    assert_eq!((q.amount, q.free), (Some(Decimal::ZERO), Some(FreeBecause::CustomerServiceWindow)));
}

#[test]
fn conversation_pricing_a_second_utility_template_within_24_hours_opens_no_new_conversation() {
    let book = shipped_usd();
    let utility = cat(Category::UTILITY);
    let first_at = at("2025-01-10");
    let first = book.quote(&req(&utility, GERMANY, first_at));
    assert!(first.opens_conversation);
    assert_eq!((first.model, first.amount), (Some(PricingModel::Conversation), Some(d("0.055"))));
    let open = vec![Conversation { category: utility.clone(), opened_at: first_at }];
    let hours = |h: u64| first_at.plus(std::time::Duration::from_secs(h * 3600));
    let second = book.quote(&QuoteRequest { conversations: &open, ..req(&utility, GERMANY, hours(23)) });
    assert_eq!((second.amount, second.free, second.opens_conversation), (Some(Decimal::ZERO), Some(FreeBecause::OpenConversation), false));
    // Another category opens its own conversation; 24 hours later the utility one has closed.
    let marketing = cat(Category::MARKETING);
    assert!(book.quote(&QuoteRequest { conversations: &open, ..req(&marketing, GERMANY, hours(1)) }).opens_conversation);
    assert!(book.quote(&QuoteRequest { conversations: &open, ..req(&utility, GERMANY, hours(24)) }).opens_conversation);
    // A day of history: utility at 0 h, 5 h and 25 h, marketing at 6 h: three conversations.
    let m = cat(Category::MARKETING);
    let opened = conversations_of([(&utility, hours(0)), (&utility, hours(5)), (&m, hours(6)), (&utility, hours(25))]);
    let times: Vec<_> = opened.iter().map(|c| (c.category.as_str(), c.opened_at)).collect();
    assert_eq!(times, [("utility", hours(0)), ("marketing", hours(6)), ("utility", hours(25))]);
}

#[test]
fn a_status_with_another_category_than_estimated_recomputes_the_amount() {
    let book = shipped_usd();
    let utility = cat(Category::UTILITY);
    let r = req(&utility, GERMANY, at("2026-02-01"));
    assert_eq!(book.quote(&r).amount, Some(d("0.055")));
    let meta = MetaPricing {
        model: Some(PricingModel::PerMessage),
        category: Some(cat(Category::MARKETING)),
        kind: Some("regular".into()),
        billable: Some(true),
        opened_conversation: false,
    };
    let settled = book.settle(&r, Some(&meta), true);
    assert_eq!((settled.category.as_str(), settled.amount, settled.by), ("marketing", Some(d("0.1365")), SettledBy::Meta));
    // Meta says free where the desk expected a charge: free.
    let free = MetaPricing { kind: Some("free_customer_service".into()), category: Some(utility.clone()), ..meta.clone() };
    assert_eq!(book.settle(&r, Some(&free), true).amount, Some(Decimal::ZERO));
    let fep = MetaPricing { kind: Some("free_entry_point".into()), ..meta.clone() };
    assert_eq!(book.settle(&r, Some(&fep), true).amount, Some(Decimal::ZERO));
    // No pricing from Meta yet: the estimate stands.
    let settled = book.settle(&r, None, true);
    assert_eq!((settled.amount, settled.by), (Some(d("0.055")), SettledBy::Estimate));
}

#[test]
fn a_failed_message_costs_nothing() {
    let book = shipped_usd();
    let marketing = cat(Category::MARKETING);
    let r = req(&marketing, GERMANY, at("2026-02-01"));
    let meta = MetaPricing { category: Some(marketing.clone()), kind: Some("regular".into()), ..MetaPricing::default() };
    let settled = book.settle(&r, Some(&meta), false);
    assert_eq!((settled.amount, settled.by), (Some(Decimal::ZERO), SettledBy::NotDelivered));
}

#[test]
fn conversation_pricing_charges_only_the_message_that_opened_the_conversation() {
    let book = shipped_usd();
    let utility = cat(Category::UTILITY);
    let r = req(&utility, GERMANY, at("2025-01-10"));
    let opened = MetaPricing {
        model: Some(PricingModel::Conversation),
        category: Some(utility.clone()),
        kind: Some("regular".into()),
        billable: Some(true),
        opened_conversation: true,
    };
    assert_eq!(book.settle(&r, Some(&opened), true).amount, Some(d("0.055")));
    let inside = MetaPricing { opened_conversation: false, ..opened };
    assert_eq!(book.settle(&r, Some(&inside), true).amount, Some(Decimal::ZERO));
}

#[test]
fn a_tier_update_lowers_the_utility_price_from_its_effective_month() {
    let tiers = card(
        "tiers",
        "2026-01-01",
        false,
        &[("India", "utility", "0.0014", 1), ("India", "utility", "0.0013", 100_001), ("India", "utility", "0.0012", 25_000_001)],
    );
    let book = RateBook::new(vec![tiers], MarketMap::shipped(), "USD");
    let utility = cat(Category::UTILITY);
    let india = "919876543210";
    let r = req(&utility, india, at("2026-03-01"));
    assert_eq!(book.quote(&r).amount, Some(d("0.0014")), "list price for the month's first messages");
    // The desk's own count moves it into the next tier.
    let q = book.quote(&QuoteRequest { month_volume: 100_000, ..r });
    assert_eq!((q.amount, q.tier_from), (Some(d("0.0013")), Some(100_001)));
    // Meta's VOLUME_BASED_PRICING_TIER_UPDATE says "25000001:50000000": ahead of the desk's count, it wins.
    let q = book.quote(&QuoteRequest { reported_tier_from: Some(25_000_001), month_volume: 10, ..r });
    assert_eq!(q.amount, Some(d("0.0012")));
    let meta = MetaPricing { category: Some(utility.clone()), kind: Some("regular".into()), ..MetaPricing::default() };
    assert_eq!(book.settle(&QuoteRequest { reported_tier_from: Some(25_000_001), ..r }, Some(&meta), true).amount, Some(d("0.0012")));
}

#[test]
fn a_category_meta_adds_is_kept_and_priced_only_where_a_card_has_it() {
    assert_eq!(Category::parse("AUTHENTICATION-INTERNATIONAL").unwrap().as_str(), "authentication_international");
    let lite = Category::parse("marketing_lite").unwrap();
    let book = shipped_usd();
    let q = book.quote(&req(&lite, GERMANY, at("2026-02-01")));
    assert_eq!(q.amount, None);
    assert_eq!(q.describe(), "price unknown: Meta USD 2026-01-01 has no prices for the category marketing_lite");
    let card = card("lite", "2026-01-01", true, &[("Germany", "marketing_lite", "0.09", 1)]);
    let book = RateBook::new(vec![card], MarketMap::shipped(), "USD");
    assert_eq!(book.quote(&req(&lite, GERMANY, at("2026-02-01"))).amount, Some(d("0.09")));
    assert!(Category::parse("").is_err() && Category::parse("a;b").is_err());
}

#[test]
fn no_card_in_force_leaves_the_price_unknown_with_the_reason() {
    let book = RateBook::new(Vec::new(), MarketMap::shipped(), "USD");
    let marketing = cat(Category::MARKETING);
    let q = book.quote(&req(&marketing, GERMANY, at("2026-02-01")));
    assert_eq!((q.amount, q.card.as_deref()), (None, None));
    assert_eq!(q.describe(), "price unknown: no USD rate card is in force on 2026-02-01");
}

#[test]
fn the_shipped_cards_price_every_market_of_their_own_and_say_where_each_figure_comes_from() {
    for card in RateCard::shipped() {
        assert!(card.rates.iter().all(|r| r.source.as_deref().is_some_and(|s| !s.is_empty())), "{}", card.name);
        assert!(card.markets().iter().any(|m| m.as_str() == "Other"), "{}", card.name);
        if card.model == PricingModel::PerMessage {
            assert!(card.rates.iter().filter(|r| r.category.is(Category::SERVICE)).all(|r| r.price.is_zero()), "{}", card.name);
        }
    }
}

#[test]
fn cards_survive_csv_export_and_import_and_bad_rows_name_their_line_and_column() {
    let cards = RateCard::shipped();
    let csv = RateCard::to_csv(&cards);
    assert_eq!(RateCard::from_csv(&csv).unwrap(), cards);
    let header = super::card::CSV_COLUMNS.join(",");
    let bad = |row: &str| RateCard::from_csv(&format!("{header}\n{row}\n")).unwrap_err().to_string();
    assert_eq!(
        bad("x,2026-13-01,USD,PMP,true,true,Germany,utility,0.05,,"),
        "line 2: effective_from: \"2026-13-01\" is not a date like 2026-01-01"
    );
    assert_eq!(
        bad("x,2026-01-01,dollars,PMP,true,true,Germany,utility,0.05,,"),
        "line 2: currency: \"dollars\" is not a three-letter currency code like USD"
    );
    assert_eq!(
        bad("x,2026-01-01,USD,XYZ,true,true,Germany,utility,0.05,,"),
        "line 2: model: \"XYZ\" is neither PMP (per message) nor CBP (per conversation)"
    );
    assert_eq!(bad("x,2026-01-01,USD,PMP,true,true,Germany,utility,-1,,"), "line 2: price: -1 is not between 0 and 100000");
    assert_eq!(bad("x,2026-01-01,USD,PMP,true,true,Germany,utility,abc,,"), "line 2: price: \"abc\" is not a number like 0.0625");
    assert_eq!(
        bad("x,2026-01-01,USD,PMP,maybe,true,Germany,utility,0.05,,"),
        "line 2: utility_free_in_window: \"maybe\" is neither true nor false"
    );
    assert_eq!(
        bad("x,2026-01-01,USD,PMP,true,true,Germany,utility,0.05,5000,"),
        "line 1: card \"x\": Germany utility has volume tiers but no list price (a row with volume_from empty)"
    );
    let twice = RateCard::from_csv(&format!(
        "{header}\nx,2026-01-01,USD,PMP,true,true,Germany,utility,0.05,,\nx,2026-01-01,USD,PMP,true,true,Germany,utility,0.06,,\n"
    ))
    .unwrap_err();
    assert_eq!(twice.to_string(), "line 3: card \"x\": Germany utility from message 1 is priced twice");
    let mixed = RateCard::from_csv(&format!(
        "{header}\nx,2026-01-01,USD,PMP,true,true,Germany,utility,0.05,,\nx,2026-02-01,USD,PMP,true,true,Spain,utility,0.02,,\n"
    ))
    .unwrap_err();
    assert_eq!(mixed.line, 3);
    let missing = RateCard::from_csv("card,currency\nx,USD\n").unwrap_err();
    assert!(missing.to_string().starts_with("line 1: the column \"effective_from\" is missing"), "{missing}");
    assert_eq!(RateCard::from_csv(&format!("{header}\n")).unwrap_err().to_string(), "line 2: the file holds no prices");
}

proptest! {
    /// Any card written as CSV reads back the same.
    #[test]
    fn any_card_round_trips_through_csv(
        rows in proptest::collection::btree_map(
            ("[A-Z][a-z]{2,12}( [A-Z][a-z]{2,8})?", prop_oneof![Just("marketing"), Just("utility"), Just("service"), Just("new_kind")], 1u64..5),
            (0u32..100_000_000u32, proptest::option::of("[a-z ,\"]{0,20}")),
            1..20,
        ),
        free_in_window in any::<bool>(),
    ) {
        let mut card = RateCard {
            name: "Card, \"quoted\"".into(),
            effective_from: date("2026-04-01"),
            currency: "EUR".into(),
            model: PricingModel::PerMessage,
            utility_free_in_window: free_in_window,
            free_entry_point_free: true,
            rates: Vec::new(),
        };
        for ((market, category, tier), (micros, source)) in rows {
            card.rates.push(Rate {
                market: Market::parse(&market).unwrap(),
                category: Category::parse(category).unwrap(),
                price: Decimal::new(i64::from(micros), 6),
                // Tiers start at 1 (list price) for the first of each pair.
                volume_from: if tier == 1 { 1 } else { tier * 1000 },
                source: source.filter(|s| !s.trim().is_empty()).map(|s| s.trim().to_owned()),
            });
        }
        // Every tiered price needs its list price.
        let lists: Vec<Rate> = card.rates.iter().filter(|r| r.volume_from > 1).map(|r| Rate { volume_from: 1, ..r.clone() }).collect();
        for l in lists {
            if !card.rates.iter().any(|r| r.market == l.market && r.category == l.category && r.volume_from == 1) {
                card.rates.push(l);
            }
        }
        let read = RateCard::from_csv(&RateCard::to_csv(std::slice::from_ref(&card))).unwrap();
        prop_assert_eq!(read.len(), 1);
        let mut expected = card.rates.clone();
        let mut got = read[0].rates.clone();
        let key = |r: &Rate| (r.market.clone(), r.category.clone(), r.volume_from);
        expected.sort_by_key(key);
        got.sort_by_key(key);
        for (e, g) in expected.iter().zip(&got) {
            prop_assert_eq!(e.price.normalize(), g.price.normalize());
            prop_assert_eq!(&e.source, &g.source);
        }
        prop_assert_eq!(expected.len(), got.len());
        prop_assert_eq!(read[0].utility_free_in_window, free_in_window);
    }
}

#[test]
fn amounts_are_stored_in_exact_millionths() {
    use super::{from_micros, to_micros};
    assert_eq!(to_micros("0.1365".parse().unwrap()), Some(136_500));
    assert_eq!(to_micros("0.0079".parse().unwrap()), Some(7_900));
    assert_eq!(to_micros("0.00000050".parse().unwrap()), Some(1), "half a millionth rounds away from zero");
    assert_eq!(to_micros(Decimal::ZERO), Some(0));
    assert_eq!(from_micros(136_500).to_string(), "0.1365");
    assert_eq!(from_micros(0).to_string(), "0");
}

#[test]
fn metas_pricing_and_conversation_are_read_from_a_status() {
    let p = MetaPricing::parse(r#"{"billable": false, "pricing_model": "PMP", "category": "service", "type": "free_customer_service"}"#)
        .unwrap();
    assert_eq!(p.model, Some(PricingModel::PerMessage));
    assert_eq!(p.category, Some(Category::known(Category::SERVICE)));
    assert_eq!((p.kind.as_deref(), p.billable), (Some("free_customer_service"), Some(false)));
    // A category Meta adds is kept; an unknown model is left out.
    let p = MetaPricing::parse(r#"{"billable": true, "pricing_model": "XYZ", "category": "marketing_lite", "type": "regular"}"#).unwrap();
    assert_eq!((p.model, p.category.as_ref().map(Category::as_str)), (None, Some("marketing_lite")));
    assert!(MetaPricing::parse("not json").unwrap_err().contains("not JSON"));
    let status: serde_json::Value = serde_json::from_str(
        r#"{"id": "wamid.x", "status": "sent", "conversation": {"id": "c1", "expiration_timestamp": "1750000000",
            "origin": {"type": "referral_conversion"}}, "pricing": {"billable": false, "pricing_model": "PMP", "category": "referral_conversion", "type": "free_entry_point"}}"#,
    )
    .unwrap();
    let c = super::quote::MetaConversation::from_status(&status).unwrap();
    assert_eq!((c.id.as_str(), c.origin.as_deref()), ("c1", Some("referral_conversion")));
    assert_eq!(c.expires_at, Some(Timestamp::from_unix_seconds(1_750_000_000)));
    assert!(super::quote::MetaConversation::from_status(&serde_json::json!({"id": "wamid.y"})).is_none());
}

#[test]
fn the_editors_say_a_category_s_price_range_and_when_it_is_free() {
    let csv = "card,effective_from,currency,model,utility_free_in_window,free_entry_point_free,market,category,price,volume_from,source
C,2026-01-01,USD,PMP,true,true,Germany,utility,0.05,,t
C,2026-01-01,USD,PMP,true,true,Germany,utility,0.04,1000,t
C,2026-01-01,USD,PMP,true,true,India,utility,0.0014,,t
C,2026-01-01,USD,PMP,true,true,Germany,marketing,0.1365,,t";
    let book = RateBook::new(RateCard::from_csv(csv).unwrap(), MarketMap::shipped(), "USD");
    let on = at("2026-02-01");
    assert_eq!(
        book.describe_category(&cat(Category::UTILITY), on),
        "0.0014–0.05 USD by the customer's country (C); free inside the customer service window or inside a free entry point"
    );
    assert_eq!(book.describe_category(&cat(Category::MARKETING), on), "0.1365 USD in every market (C); free inside a free entry point");
    assert!(book.describe_category(&cat(Category::AUTHENTICATION), on).starts_with("price unknown"));
    assert!(book.describe_category(&cat(Category::SERVICE), on).starts_with("free: "));
    assert!(book.describe_category(&cat(Category::MARKETING), at("2025-01-01")).contains("no USD rate card"));
}
