//! The send decision (SPEC 4, W8): "may this be sent now, and at what price?". One function, used by
//! everything that sends: the composer, the REST API, macros, rules, held replies and retries.

use std::time::Duration;

use serde::{Deserialize, Serialize};

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

/// What a send costs, as estimated before sending. Amounts come from rate cards (SPEC 11); until a
/// rate card applies, only whether the message is billable is known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Price {
    pub category: MessageCategory,
    pub billable: bool,
    /// Why it is free, when it is: `customer_service_window`, `free_entry_point`.
    pub free_because: Option<&'static str>,
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
    },
    Sms,
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
}

fn template_price(ctx: &SendContext<'_>, category: MessageCategory) -> Price {
    if ctx.window.in_fep(ctx.policy, ctx.now) {
        return Price { category, billable: false, free_because: Some("free_entry_point") };
    }
    // Utility templates are free inside an open customer service window (PMP).
    if category == MessageCategory::Utility && ctx.window.is_open(ctx.policy, ctx.now) {
        return Price { category, billable: false, free_because: Some("customer_service_window") };
    }
    Price { category, billable: true, free_because: None }
}

/// The pricing category a template is charged in: its Meta category, or marketing for one the desk
/// does not know.
pub fn category_of(def: &TemplateDef) -> MessageCategory {
    MessageCategory::from_template_category(&def.category).unwrap_or(MessageCategory::Marketing)
}

/// What a template would cost if sent now (for listing templates; [`decide`] also validates).
pub fn quote_template(ctx: &SendContext<'_>, def: &TemplateDef) -> Price {
    template_price(ctx, category_of(def))
}

/// SPEC 4: decides whether `outgoing` may be sent now.
pub fn decide(ctx: &SendContext<'_>, outgoing: &Outgoing) -> SendDecision {
    match outgoing {
        Outgoing::FreeForm => {
            if ctx.window.is_open(ctx.policy, ctx.now) {
                let free_because = if ctx.window.in_fep(ctx.policy, ctx.now) { "free_entry_point" } else { "customer_service_window" };
                SendDecision::Send {
                    price: Price { category: MessageCategory::Service, billable: false, free_because: Some(free_because) },
                }
            } else {
                SendDecision::Blocked { window_end: ctx.window.window_end(ctx.policy), options: blocked_options(ctx) }
            }
        }
        Outgoing::Sms => {
            if ctx.sms_configured {
                SendDecision::Send { price: Price { category: MessageCategory::Sms, billable: true, free_because: None } }
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
                Ok(_) => SendDecision::Send { price: template_price(ctx, category_of(def)) },
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
            Fallback::Sms if ctx.sms_configured => options.push(SendOption::Sms),
            Fallback::Sms => {}
            Fallback::Template => options.extend(ctx.templates.iter().filter(|t| t.is_approved()).map(|t| {
                let category = category_of(t);
                SendOption::Template {
                    name: t.name.clone(),
                    language: t.language.clone(),
                    category,
                    billable: template_price(ctx, category).billable,
                }
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
                price: Price { category: MessageCategory::Service, billable: false, free_because: Some("customer_service_window") }
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
        assert_eq!(options.last(), Some(&SendOption::Sms));
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
        assert_eq!(options, [SendOption::Sms, SendOption::Hold { expires_at: t(5).plus(WEEK) }]);
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
        let mut open = CustomerWindow::default();
        open.record_inbound(t(1000), true, true);
        assert!(matches!(
            decide(&ctx(&open, t(1100), &ts), &utility),
            SendDecision::Send { price: Price { billable: false, free_because: Some("customer_service_window"), .. } }
        ));
        assert!(matches!(decide(&ctx(&open, t(1100), &ts), &promo), SendDecision::Send { price: Price { billable: true, .. } }));
        open.record_business_send(WindowPolicy::WHATSAPP, t(1200));
        assert!(matches!(
            decide(&ctx(&open, t(1300), &ts), &promo),
            SendDecision::Send { price: Price { billable: false, free_because: Some("free_entry_point"), .. } }
        ));
        assert_eq!(quote_template(&ctx(&open, t(1300), &ts), &ts[1]).free_because, Some("free_entry_point"));
    }
}
