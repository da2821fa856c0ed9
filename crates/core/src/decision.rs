//! The send decision (SPEC 4, W8): "may this be sent now, and at what price?". One function, used by
//! everything that sends: the composer, the REST API, macros, rules, held replies and retries.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::pricing::cbp::Conversation;
use crate::pricing::{Category, Decimal, FreeBecause, QuoteRequest, RateBook};
use crate::template::{self, TemplateDef, TemplateParams};
use crate::time::Timestamp;
use crate::window::{CustomerWindow, WindowPolicy};

/// Meta's pricing categories (per-message pricing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageCategory {
    Service,
    Utility,
    Marketing,
    Authentication,
    AuthenticationInternational,
    /// Not a WhatsApp category: a text through the SMS provider.
    Sms,
}

impl MessageCategory {
    pub const ALL: [MessageCategory; 6] =
        [Self::Service, Self::Utility, Self::Marketing, Self::Authentication, Self::AuthenticationInternational, Self::Sms];

    /// As Meta's `pricing.category` spells it (`sms` for the SMS provider).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Utility => "utility",
            Self::Marketing => "marketing",
            Self::Authentication => "authentication",
            Self::AuthenticationInternational => "authentication_international",
            Self::Sms => "sms",
        }
    }

    /// From Meta's template category names (`UTILITY`, `MARKETING`, `AUTHENTICATION`).
    pub fn from_template_category(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "UTILITY" => Self::Utility,
            "MARKETING" => Self::Marketing,
            "AUTHENTICATION" => Self::Authentication,
            "AUTHENTICATION_INTERNATIONAL" => Self::AuthenticationInternational,
            "SERVICE" => Self::Service,
            _ => return None,
        })
    }
}

/// What a send costs, as estimated before sending (SPEC 4, 11).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Price {
    pub category: MessageCategory,
    pub billable: bool,
    /// Why it is free, when it is: `customer_service_window`, `free_entry_point`, `open_conversation`.
    pub free_because: Option<&'static str>,
    /// From the rate card in force for the recipient's market, the category, the day and the
    /// month's volume, or for SMS the provider's configured price; `None` when the desk cannot
    /// price it (no card in force, a customer known only by BSUID, no SMS price), and `text` says why.
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    /// As people read it: "free: inside the customer service window", "0.1365 USD, marketing
    /// template, Germany", "price unknown: …".
    pub text: String,
    /// The recipient's pricing market and the card that priced it, when known.
    pub market: Option<String>,
    pub card: Option<String>,
}

/// The month so far, for volume tiers: charged messages per category to the recipient's market,
/// and the tier Meta last reported (`VOLUME_BASED_PRICING_TIER_UPDATE`: the tier's first message).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonthVolume {
    pub sent: Vec<(Category, u64)>,
    pub reported_tier_from: Vec<(Category, u64)>,
}

impl MonthVolume {
    fn of(&self, category: &Category) -> (u64, Option<u64>) {
        let sent = self.sent.iter().find(|(c, _)| c == category).map_or(0, |(_, n)| *n);
        (sent, self.reported_tier_from.iter().find(|(c, _)| c == category).map(|(_, n)| *n))
    }
}

/// The SMS provider's price per message, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsPrice {
    pub amount: Decimal,
    pub currency: String,
}

/// What pricing needs beyond the window: the desk's rate book, who receives the message, the
/// month's volume and (for history under conversation-based pricing) the open conversations.
#[derive(Clone, Copy, Debug)]
pub struct PriceInputs<'a> {
    pub book: &'a RateBook,
    /// The recipient's phone number (`wa_id`, digits): its calling code is the market. `None` for a
    /// customer known only by BSUID.
    pub recipient: Option<&'a str>,
    pub volume: &'a MonthVolume,
    pub conversations: &'a [Conversation],
    pub sms: Option<&'a SmsPrice>,
}

/// A way out of a closed window, as a business number's fallback ladder lists them (SPEC 9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// Hold the reply until the customer writes again.
    Hold,
    /// An approved template.
    Template,
    /// SMS through the configured provider, with a link back to WhatsApp.
    Sms,
}

impl Fallback {
    pub const DEFAULT_LADDER: [Fallback; 3] = [Fallback::Hold, Fallback::Template, Fallback::Sms];
    pub const ALL: [Fallback; 3] = [Fallback::Hold, Fallback::Template, Fallback::Sms];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hold => "hold",
            Self::Template => "template",
            Self::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "hold" => Self::Hold,
            "template" => Self::Template,
            "sms" => Self::Sms,
            _ => return None,
        })
    }
}

/// What is to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    FreeForm,
    Template {
        name: String,
        language: String,
        params: TemplateParams,
    },
    /// A text through the SMS provider: no WhatsApp window applies to it.
    Sms,
}

/// What can be done when free-form is blocked, in the order of the number's fallback ladder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SendOption {
    Template {
        name: String,
        language: String,
        category: MessageCategory,
        billable: bool,
        price: Price,
    },
    Sms {
        price: Price,
    },
    /// Hold the reply until the customer writes again (the window reopens then); it fails as
    /// expired at `expires_at` if they never do.
    Hold {
        expires_at: Timestamp,
    },
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum SendDecision {
    Send {
        price: Price,
    },
    Blocked {
        window_end: Option<Timestamp>,
        options: Vec<SendOption>,
    },
    /// Refused before Meta is contacted; `parameter` names the template parameter at fault.
    Invalid {
        reason: String,
        parameter: Option<String>,
    },
}

/// Everything the decision looks at.
#[derive(Clone, Copy, Debug)]
pub struct SendContext<'a> {
    pub window: &'a CustomerWindow,
    pub policy: WindowPolicy,
    pub now: Timestamp,
    /// The templates of the business number's account.
    pub templates: &'a [TemplateDef],
    /// The number's fallback ladder, most preferred first.
    pub ladder: &'a [Fallback],
    /// Whether the number has an SMS sender configured (the ladder's `sms` step needs one).
    pub sms_configured: bool,
    /// How long a held reply waits for the customer before it fails as expired.
    pub hold_for: Duration,
    /// Amounts from the rate cards; without them a price says only whether it is billable.
    pub pricing: Option<PriceInputs<'a>>,
}

/// The price of a message of `category` sent now: the window's rules say whether it is free, and
/// the rate card in force says how much (and, where the card says so, overrides what is free: a
/// later card may bill utility templates inside the window).
pub fn price(ctx: &SendContext<'_>, category: MessageCategory) -> Price {
    // Inside a free entry point window, or the send that starts one (W6: the business's answer
    // within the window to a customer who came from an ad).
    let in_fep = ctx.window.in_fep(ctx.policy, ctx.now) || ctx.window.clone().record_business_send(ctx.policy, ctx.now).is_some();
    let in_window = ctx.window.is_open(ctx.policy, ctx.now);
    if category == MessageCategory::Sms {
        return match ctx.pricing.and_then(|p| p.sms) {
            Some(sms) => Price {
                category,
                billable: true,
                free_because: None,
                amount: Some(sms.amount),
                currency: Some(sms.currency.clone()),
                text: format!("{} {}, SMS", sms.amount.normalize(), sms.currency),
                market: None,
                card: None,
            },
            None => Price {
                category,
                billable: true,
                free_because: None,
                amount: None,
                currency: None,
                text: "SMS: price not configured (sms.price_per_message)".into(),
                market: None,
                card: None,
            },
        };
    }
    // The rules alone (per-message pricing since 2025-07-01): free inside a free entry point
    // window; service messages and utility templates free inside the customer service window.
    let free_because = if in_fep {
        Some("free_entry_point")
    } else if in_window && matches!(category, MessageCategory::Service | MessageCategory::Utility) {
        Some("customer_service_window")
    } else {
        None
    };
    let by_rules = |text: String| Price {
        category,
        billable: free_because.is_none(),
        free_because,
        // Free needs no card: it is 0 in any currency.
        amount: free_because.map(|_| Decimal::ZERO),
        currency: None,
        text,
        market: None,
        card: None,
    };
    // How the rules' reason reads, as a quote says it.
    let free_text = free_because.map(|why| {
        let why = if why == "free_entry_point" { FreeBecause::FreeEntryPoint } else { FreeBecause::CustomerServiceWindow };
        format!("free: {}", why.describe())
    });
    let Some(inputs) = ctx.pricing else {
        return by_rules(free_text.unwrap_or_else(|| "billable: no rate cards".into()));
    };
    let priced_category = Category::of(category).unwrap_or_else(|| Category::known(Category::MARKETING));
    let Some(recipient) = inputs.recipient else {
        return by_rules(
            free_text.unwrap_or_else(|| "price unknown: the customer has no phone number, so their country is not known".into()),
        );
    };
    let (month_volume, reported_tier_from) = inputs.volume.of(&priced_category);
    let quote = inputs.book.quote(&QuoteRequest {
        category: &priced_category,
        recipient,
        at: ctx.now,
        in_service_window: in_window,
        in_free_entry_point: in_fep,
        month_volume,
        reported_tier_from,
        conversations: inputs.conversations,
    });
    // No card in force, or a service message the card has no price for: the rules say whether it
    // is free. A card in force otherwise decides, and a price it lacks is unknown, not free (a
    // later card may bill utility templates inside the window).
    let service_unpriced = quote.amount.is_none() && category == MessageCategory::Service && free_because.is_some();
    if quote.card.is_none() || service_unpriced {
        let text = free_text.clone().unwrap_or_else(|| quote.describe());
        return Price {
            amount: free_because.map(|_| Decimal::ZERO),
            currency: quote.currency.clone(),
            market: Some(quote.market.to_string()),
            card: quote.card.clone(),
            ..by_rules(text)
        };
    }
    let text = match (&quote.amount, &quote.currency, quote.free) {
        // A template says so: "0.1365 USD, marketing template, Germany".
        (Some(amount), Some(currency), None) if category != MessageCategory::Service => {
            format!("{} {currency}, {} template, {}", amount.normalize(), quote.category, quote.market)
        }
        _ => quote.describe(),
    };
    Price {
        category,
        billable: quote.free.is_none() && quote.amount.is_none_or(|a| !a.is_zero()),
        free_because: quote.free.map(|f| f.as_str()),
        text,
        amount: quote.amount,
        currency: quote.currency,
        market: Some(quote.market.to_string()),
        card: quote.card,
    }
}

/// The pricing category a template is charged in: its Meta category, or marketing for one the desk
/// does not know.
pub fn category_of(def: &TemplateDef) -> MessageCategory {
    MessageCategory::from_template_category(&def.category).unwrap_or(MessageCategory::Marketing)
}

/// What a template would cost if sent now (for listing templates; [`decide`] also validates).
pub fn quote_template(ctx: &SendContext<'_>, def: &TemplateDef) -> Price {
    price(ctx, category_of(def))
}

/// SPEC 4: decides whether `outgoing` may be sent now.
pub fn decide(ctx: &SendContext<'_>, outgoing: &Outgoing) -> SendDecision {
    match outgoing {
        Outgoing::FreeForm => {
            if ctx.window.is_open(ctx.policy, ctx.now) {
                SendDecision::Send { price: price(ctx, MessageCategory::Service) }
            } else {
                SendDecision::Blocked { window_end: ctx.window.window_end(ctx.policy), options: blocked_options(ctx) }
            }
        }
        Outgoing::Sms => {
            if ctx.sms_configured {
                SendDecision::Send { price: price(ctx, MessageCategory::Sms) }
            } else {
                SendDecision::Invalid { reason: "SMS fallback is not configured for this business number".into(), parameter: None }
            }
        }
        Outgoing::Template { name, language, params } => {
            let Some(def) = ctx.templates.iter().find(|t| &t.name == name && &t.language == language) else {
                let other_languages: Vec<&str> = ctx.templates.iter().filter(|t| &t.name == name).map(|t| t.language.as_str()).collect();
                return SendDecision::Invalid {
                    reason: if other_languages.is_empty() {
                        format!("template {name:?} does not exist for this number")
                    } else {
                        format!("template {name:?} has no {language:?} version (it has: {})", other_languages.join(", "))
                    },
                    parameter: None,
                };
            };
            match template::validate(def, params) {
                Ok(_) => SendDecision::Send { price: price(ctx, category_of(def)) },
                Err(e) => SendDecision::Invalid { reason: e.reason, parameter: e.parameter },
            }
        }
    }
}

fn blocked_options(ctx: &SendContext<'_>) -> Vec<SendOption> {
    let mut options = Vec::new();
    let mut seen = Vec::new();
    for step in ctx.ladder {
        if seen.contains(step) {
            continue;
        }
        seen.push(*step);
        match step {
            Fallback::Hold => options.push(SendOption::Hold { expires_at: ctx.now.plus(ctx.hold_for) }),
            Fallback::Sms if ctx.sms_configured => options.push(SendOption::Sms { price: price(ctx, MessageCategory::Sms) }),
            Fallback::Sms => {}
            Fallback::Template => options.extend(ctx.templates.iter().filter(|t| t.is_approved()).map(|t| {
                let category = category_of(t);
                let price = price(ctx, category);
                SendOption::Template { name: t.name.clone(), language: t.language.clone(), category, billable: price.billable, price }
            })),
        }
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{HeaderDef, ParamFormat, ParamValue};

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(s)
    }

    fn def(name: &str, category: &str, status: &str, body: &str) -> TemplateDef {
        TemplateDef {
            name: name.into(),
            language: "en_US".into(),
            category: category.into(),
            status: status.into(),
            format: ParamFormat::Positional,
            header: None::<HeaderDef>,
            body: body.into(),
            footer: None,
            buttons: vec![],
        }
    }

    fn templates() -> Vec<TemplateDef> {
        vec![
            def("order_update", "UTILITY", "APPROVED", "Order {{1}} ships {{2}}"),
            def("promo", "MARKETING", "APPROVED", "Sale!"),
            def("old", "UTILITY", "PAUSED", "Old"),
        ]
    }

    const WEEK: Duration = Duration::from_secs(7 * 86_400);

    fn ctx<'a>(w: &'a CustomerWindow, now: Timestamp, templates: &'a [TemplateDef]) -> SendContext<'a> {
        SendContext {
            window: w,
            policy: WindowPolicy::WHATSAPP,
            now,
            templates,
            ladder: &Fallback::DEFAULT_LADDER,
            sms_configured: true,
            hold_for: WEEK,
            pricing: None,
        }
    }

    fn template(name: &str, params: &[&str]) -> Outgoing {
        Outgoing::Template {
            name: name.into(),
            language: "en_US".into(),
            params: TemplateParams {
                body: params.iter().enumerate().map(|(i, p)| ((i + 1).to_string(), ParamValue::text(*p))).collect(),
                ..TemplateParams::default()
            },
        }
    }

    #[test]
    fn w8_free_form_is_sent_free_while_the_window_is_open() {
        let mut w = CustomerWindow::default();
        w.record_inbound(t(1000), true, false);
        let ts = templates();
        let d = decide(&ctx(&w, t(1000 + 3600), &ts), &Outgoing::FreeForm);
        assert_eq!(
            d,
            SendDecision::Send {
                price: Price {
                    category: MessageCategory::Service,
                    billable: false,
                    free_because: Some("customer_service_window"),
                    amount: Some(Decimal::ZERO),
                    currency: None,
                    text: "free: inside the customer service window".into(),
                    market: None,
                    card: None,
                }
            }
        );
    }

    #[test]
    fn w4_free_form_at_exactly_window_end_is_blocked_with_the_ways_out_in_ladder_order() {
        let mut w = CustomerWindow::default();
        w.record_inbound(t(1000), true, false);
        let end = t(1000).plus(Duration::from_secs(86_400));
        let ts = templates();
        let SendDecision::Blocked { window_end, options } = decide(&ctx(&w, end, &ts), &Outgoing::FreeForm) else {
            panic!("expected blocked")
        };
        assert_eq!(window_end, Some(end));
        assert_eq!(options.first(), Some(&SendOption::Hold { expires_at: end.plus(WEEK) }));
        assert!(matches!(options.last(), Some(SendOption::Sms { .. })), "{options:?}");
        let names: Vec<_> =
            options.iter().filter_map(|o| if let SendOption::Template { name, .. } = o { Some(name.as_str()) } else { None }).collect();
        assert_eq!(names, ["order_update", "promo"], "only approved templates are offered");
    }

    #[test]
    fn the_ladder_decides_which_ways_out_are_offered_and_in_what_order() {
        let w = CustomerWindow::default();
        let ts = templates();
        let ladder = [Fallback::Sms, Fallback::Hold];
        let c = SendContext { ladder: &ladder, ..ctx(&w, t(5), &ts) };
        let SendDecision::Blocked { options, .. } = decide(&c, &Outgoing::FreeForm) else { panic!("blocked") };
        assert!(
            matches!(&options[..], [SendOption::Sms { .. }, SendOption::Hold { expires_at }] if *expires_at == t(5).plus(WEEK)),
            "{options:?}"
        );
        // SMS on the ladder without a configured sender is not offered.
        let c = SendContext { ladder: &ladder, sms_configured: false, ..ctx(&w, t(5), &ts) };
        let SendDecision::Blocked { options, .. } = decide(&c, &Outgoing::FreeForm) else { panic!("blocked") };
        assert_eq!(options, [SendOption::Hold { expires_at: t(5).plus(WEEK) }]);
    }

    #[test]
    fn never_written_contact_is_blocked_without_window_end() {
        let w = CustomerWindow::default();
        let d = decide(&SendContext { ladder: &[], ..ctx(&w, t(5), &[]) }, &Outgoing::FreeForm);
        assert_eq!(d, SendDecision::Blocked { window_end: None, options: vec![] });
    }

    #[test]
    fn sms_needs_a_configured_sender_and_ignores_the_window() {
        let w = CustomerWindow::default();
        assert!(matches!(
            decide(&ctx(&w, t(5), &[]), &Outgoing::Sms),
            SendDecision::Send { price: Price { category: MessageCategory::Sms, billable: true, .. } }
        ));
        let c = SendContext { sms_configured: false, ..ctx(&w, t(5), &[]) };
        assert!(matches!(decide(&c, &Outgoing::Sms), SendDecision::Invalid { .. }));
    }

    #[test]
    fn templates_are_validated_before_meta_sees_them() {
        let w = CustomerWindow::default();
        let ts = templates();
        let c = ctx(&w, t(5), &ts);
        let invalid = |o: Outgoing| match decide(&c, &o) {
            SendDecision::Invalid { reason, parameter } => (reason, parameter),
            other => panic!("expected invalid, got {other:?}"),
        };
        assert!(invalid(template("nope", &[])).0.contains("does not exist"));
        let mut de = template("promo", &[]);
        if let Outgoing::Template { language, .. } = &mut de {
            *language = "de".into();
        }
        assert!(invalid(de).0.contains("no \"de\" version (it has: en_US)"));
        assert!(invalid(template("old", &[])).0.contains("PAUSED"));
        let (reason, parameter) = invalid(template("order_update", &["#1"]));
        assert_eq!((reason.as_str(), parameter.as_deref()), ("is missing", Some("body.{{2}}")));
    }

    #[test]
    fn template_prices_follow_category_window_and_fep() {
        let ts = templates();
        let closed = CustomerWindow::default();
        let promo = template("promo", &[]);
        let utility = template("order_update", &["#1", "today"]);
        assert!(matches!(decide(&ctx(&closed, t(5), &ts), &promo), SendDecision::Send { price: Price { billable: true, .. } }));
        assert!(matches!(decide(&ctx(&closed, t(5), &ts), &utility), SendDecision::Send { price: Price { billable: true, .. } }));
        let mut plain = CustomerWindow::default();
        plain.record_inbound(t(1000), true, false);
        assert!(matches!(
            decide(&ctx(&plain, t(1100), &ts), &utility),
            SendDecision::Send { price: Price { billable: false, free_because: Some("customer_service_window"), .. } }
        ));
        assert!(matches!(decide(&ctx(&plain, t(1100), &ts), &promo), SendDecision::Send { price: Price { billable: true, .. } }));
        // From an ad: the answer that starts the free entry point is free already (W6), and so is
        // what follows it.
        let mut open = CustomerWindow::default();
        open.record_inbound(t(1000), true, true);
        assert!(matches!(
            decide(&ctx(&open, t(1100), &ts), &promo),
            SendDecision::Send { price: Price { billable: false, free_because: Some("free_entry_point"), .. } }
        ));
        open.record_business_send(WindowPolicy::WHATSAPP, t(1200));
        assert!(matches!(
            decide(&ctx(&open, t(1300), &ts), &promo),
            SendDecision::Send { price: Price { billable: false, free_because: Some("free_entry_point"), .. } }
        ));
        assert_eq!(quote_template(&ctx(&open, t(1300), &ts), &ts[1]).free_because, Some("free_entry_point"));
    }

    fn at(date: &str) -> Timestamp {
        let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        Timestamp::from_unix_seconds(d.and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp())
    }

    fn usd() -> RateBook {
        RateBook::new(crate::pricing::RateCard::shipped(), crate::pricing::MarketMap::shipped(), "USD")
    }

    #[test]
    fn amounts_come_from_the_card_in_force_for_the_recipients_market() {
        let book = usd();
        let volume = MonthVolume::default();
        let sms = SmsPrice { amount: "0.0079".parse().unwrap(), currency: "USD".into() };
        let inputs = |recipient| PriceInputs { book: &book, recipient, volume: &volume, conversations: &[], sms: Some(&sms) };
        let ts = templates();
        let closed = CustomerWindow::default();
        let now = at("2026-03-02");
        let c = SendContext { pricing: Some(inputs(Some("4915112345678"))), ..ctx(&closed, now, &ts) };
        let SendDecision::Send { price } = decide(&c, &template("promo", &[])) else { panic!("sent") };
        assert_eq!(price.amount, Some("0.1365".parse().unwrap()), "Meta's USD card of 2026-01-01, Germany");
        assert_eq!(price.text, "0.1365 USD, marketing template, Germany");
        assert!(price.billable);
        let SendDecision::Send { price } = decide(&c, &template("order_update", &["#1", "today"])) else { panic!("sent") };
        assert_eq!((price.amount, price.text.as_str()), (Some("0.055".parse().unwrap()), "0.055 USD, utility template, Germany"));
        // SMS: the provider's configured price.
        let SendDecision::Send { price } = decide(&c, &Outgoing::Sms) else { panic!("sent") };
        assert_eq!((price.amount, price.text.as_str()), (Some("0.0079".parse().unwrap()), "0.0079 USD, SMS"));
        // The ways out carry their prices.
        let SendDecision::Blocked { options, .. } = decide(&c, &Outgoing::FreeForm) else { panic!("blocked") };
        let texts: Vec<&str> = options
            .iter()
            .filter_map(|o| match o {
                SendOption::Template { price, .. } | SendOption::Sms { price } => Some(price.text.as_str()),
                SendOption::Hold { .. } => None,
            })
            .collect();
        assert_eq!(texts, ["0.055 USD, utility template, Germany", "0.1365 USD, marketing template, Germany", "0.0079 USD, SMS"]);
        // Inside the window: a reply and a utility template are free, a marketing template is not.
        let mut open = CustomerWindow::default();
        open.record_inbound(now, true, false);
        let later = now.plus(Duration::from_secs(3600));
        let c = SendContext { pricing: Some(inputs(Some("4915112345678"))), ..ctx(&open, later, &ts) };
        let SendDecision::Send { price } = decide(&c, &Outgoing::FreeForm) else { panic!("sent") };
        assert_eq!((price.amount, price.text.as_str()), (Some(Decimal::ZERO), "free: inside the customer service window"));
        let SendDecision::Send { price } = decide(&c, &template("order_update", &["#1", "today"])) else { panic!("sent") };
        assert_eq!(
            (price.billable, price.free_because, price.text.as_str()),
            (false, Some("customer_service_window"), "free: inside the customer service window")
        );
        let SendDecision::Send { price } = decide(&c, &template("promo", &[])) else { panic!("sent") };
        assert!(price.billable && price.amount == Some("0.1365".parse().unwrap()), "{price:?}");
        // A customer known only by BSUID: billable, the amount unknown, and why.
        let c = SendContext { pricing: Some(inputs(None)), ..ctx(&closed, now, &ts) };
        let SendDecision::Send { price } = decide(&c, &template("promo", &[])) else { panic!("sent") };
        assert_eq!((price.billable, price.amount), (true, None));
        assert!(price.text.contains("country is not known"), "{}", price.text);
        // Before any shipped card: billable, and the text says no card is in force.
        let c = SendContext { pricing: Some(inputs(Some("4915112345678"))), ..ctx(&closed, at("2020-01-01"), &ts) };
        let SendDecision::Send { price } = decide(&c, &template("promo", &[])) else { panic!("sent") };
        assert_eq!((price.billable, price.amount), (true, None));
        assert_eq!(price.text, "price unknown: no USD rate card is in force on 2020-01-01");
    }

    #[test]
    fn a_card_that_bills_utility_inside_the_window_is_followed() {
        let csv = "card,effective_from,currency,model,utility_free_in_window,free_entry_point_free,market,category,price,volume_from,source
Later,2030-01-01,USD,PMP,false,true,Germany,utility,0.05,,test
Later,2030-01-01,USD,PMP,false,true,Germany,marketing,0.12,,test";
        let book = RateBook::new(crate::pricing::RateCard::from_csv(csv).unwrap(), crate::pricing::MarketMap::shipped(), "USD");
        let volume = MonthVolume::default();
        let ts = templates();
        let now = at("2030-02-01");
        let mut open = CustomerWindow::default();
        open.record_inbound(now, true, false);
        let inputs = PriceInputs { book: &book, recipient: Some("4915112345678"), volume: &volume, conversations: &[], sms: None };
        let c = SendContext { pricing: Some(inputs), ..ctx(&open, now.plus(Duration::from_secs(60)), &ts) };
        let SendDecision::Send { price } = decide(&c, &template("order_update", &["#1", "today"])) else { panic!("sent") };
        assert_eq!((price.billable, price.free_because, price.text.as_str()), (true, None, "0.05 USD, utility template, Germany"));
        // The card bills utility in the window but has no price for France: unknown, not free.
        let france = PriceInputs { recipient: Some("33612345678"), ..inputs };
        let f = SendContext { pricing: Some(france), ..c };
        let SendDecision::Send { price } = decide(&f, &template("order_update", &["#1", "today"])) else { panic!("sent") };
        assert_eq!((price.billable, price.amount, price.free_because), (true, None, None));
        assert_eq!(price.text, "price unknown: Later has no utility price for France");
        // A reply is free by the rules even though this card prices no service messages.
        let SendDecision::Send { price } = decide(&c, &Outgoing::FreeForm) else { panic!("sent") };
        assert_eq!((price.billable, price.text.as_str()), (false, "free: inside the customer service window"));
        // SMS without a configured price says so.
        let sms = SendContext { sms_configured: true, ..c };
        let SendDecision::Send { price } = decide(&sms, &Outgoing::Sms) else { panic!("sent") };
        assert_eq!((price.amount, price.text.as_str()), (None, "SMS: price not configured (sms.price_per_message)"));
    }
}
