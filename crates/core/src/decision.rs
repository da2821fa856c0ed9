//! The send decision (SPEC 4, W8): "may this be sent now, and at what price?". One function, used by
//! everything that sends: the composer, the REST API, macros, rules, held replies and retries.

use serde::Serialize;

use crate::time::Timestamp;
use crate::window::{CustomerWindow, WindowPolicy};

/// Meta's pricing categories (per-message pricing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageCategory {
    Service,
    Utility,
    Marketing,
    Authentication,
    AuthenticationInternational,
}

impl MessageCategory {
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

/// A template as the registry knows it, for one business number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateSpec {
    pub name: String,
    pub language: String,
    /// Meta's category name, e.g. `UTILITY`.
    pub category: String,
    /// Meta's status, e.g. `APPROVED`, `PAUSED`.
    pub status: String,
    /// Number of body parameters (`{{1}}`, `{{2}}`… or named ones).
    pub body_params: usize,
}

/// What is to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    FreeForm,
    Template { name: String, language: String, body_params: usize },
}

/// What can be done when free-form is blocked.
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
    /// Hold the reply until the customer writes again (the window reopens then).
    Hold,
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum SendDecision {
    Send { price: Price },
    Blocked { window_end: Option<Timestamp>, options: Vec<SendOption> },
    Invalid { reason: String },
}

/// Everything the decision looks at.
#[derive(Clone, Copy, Debug)]
pub struct SendContext<'a> {
    pub window: &'a CustomerWindow,
    pub policy: WindowPolicy,
    pub now: Timestamp,
    /// The templates of the business number's account.
    pub templates: &'a [TemplateSpec],
    pub sms_fallback: bool,
    pub hold_allowed: bool,
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
        Outgoing::Template { name, language, body_params } => {
            let Some(spec) = ctx.templates.iter().find(|t| &t.name == name && &t.language == language) else {
                let other_languages: Vec<&str> = ctx.templates.iter().filter(|t| &t.name == name).map(|t| t.language.as_str()).collect();
                return SendDecision::Invalid {
                    reason: if other_languages.is_empty() {
                        format!("template {name:?} does not exist for this number")
                    } else {
                        format!("template {name:?} has no {language:?} version (it has: {})", other_languages.join(", "))
                    },
                };
            };
            if !spec.status.eq_ignore_ascii_case("APPROVED") {
                return SendDecision::Invalid { reason: format!("template {name:?} ({language}) is {}, not APPROVED", spec.status) };
            }
            if *body_params != spec.body_params {
                return SendDecision::Invalid {
                    reason: format!("template {name:?} takes {} body parameter(s), {} given", spec.body_params, body_params),
                };
            }
            let category = MessageCategory::from_template_category(&spec.category).unwrap_or(MessageCategory::Marketing);
            SendDecision::Send { price: template_price(ctx, category) }
        }
    }
}

fn blocked_options(ctx: &SendContext<'_>) -> Vec<SendOption> {
    let mut options: Vec<SendOption> = ctx
        .templates
        .iter()
        .filter(|t| t.status.eq_ignore_ascii_case("APPROVED"))
        .map(|t| {
            let category = MessageCategory::from_template_category(&t.category).unwrap_or(MessageCategory::Marketing);
            SendOption::Template {
                name: t.name.clone(),
                language: t.language.clone(),
                category,
                billable: template_price(ctx, category).billable,
            }
        })
        .collect();
    if ctx.sms_fallback {
        options.push(SendOption::Sms);
    }
    if ctx.hold_allowed {
        options.push(SendOption::Hold);
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(s)
    }

    fn templates() -> Vec<TemplateSpec> {
        vec![
            TemplateSpec {
                name: "order_update".into(),
                language: "en_US".into(),
                category: "UTILITY".into(),
                status: "APPROVED".into(),
                body_params: 2,
            },
            TemplateSpec {
                name: "promo".into(),
                language: "en_US".into(),
                category: "MARKETING".into(),
                status: "APPROVED".into(),
                body_params: 0,
            },
            TemplateSpec {
                name: "old".into(),
                language: "en_US".into(),
                category: "UTILITY".into(),
                status: "PAUSED".into(),
                body_params: 0,
            },
        ]
    }

    fn ctx<'a>(w: &'a CustomerWindow, now: Timestamp, templates: &'a [TemplateSpec]) -> SendContext<'a> {
        SendContext { window: w, policy: WindowPolicy::WHATSAPP, now, templates, sms_fallback: true, hold_allowed: true }
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
    fn w4_free_form_at_exactly_window_end_is_blocked_with_the_ways_out() {
        let mut w = CustomerWindow::default();
        w.record_inbound(t(1000), true, false);
        let end = t(1000).plus(Duration::from_secs(86_400));
        let ts = templates();
        let SendDecision::Blocked { window_end, options } = decide(&ctx(&w, end, &ts), &Outgoing::FreeForm) else {
            panic!("expected blocked")
        };
        assert_eq!(window_end, Some(end));
        assert!(options.contains(&SendOption::Sms) && options.contains(&SendOption::Hold));
        let names: Vec<_> =
            options.iter().filter_map(|o| if let SendOption::Template { name, .. } = o { Some(name.as_str()) } else { None }).collect();
        assert_eq!(names, ["order_update", "promo"], "only approved templates are offered");
    }

    #[test]
    fn never_written_contact_is_blocked_without_window_end() {
        let w = CustomerWindow::default();
        let d = decide(&SendContext { sms_fallback: false, hold_allowed: false, ..ctx(&w, t(5), &[]) }, &Outgoing::FreeForm);
        assert_eq!(d, SendDecision::Blocked { window_end: None, options: vec![] });
    }

    #[test]
    fn templates_are_validated_before_meta_sees_them() {
        let w = CustomerWindow::default();
        let ts = templates();
        let c = ctx(&w, t(5), &ts);
        let invalid = |o: Outgoing| match decide(&c, &o) {
            SendDecision::Invalid { reason } => reason,
            other => panic!("expected invalid, got {other:?}"),
        };
        assert!(invalid(Outgoing::Template { name: "nope".into(), language: "en_US".into(), body_params: 0 }).contains("does not exist"));
        assert!(invalid(Outgoing::Template { name: "promo".into(), language: "de".into(), body_params: 0 })
            .contains("no \"de\" version (it has: en_US)"));
        assert!(invalid(Outgoing::Template { name: "old".into(), language: "en_US".into(), body_params: 0 }).contains("PAUSED"));
        assert!(invalid(Outgoing::Template { name: "order_update".into(), language: "en_US".into(), body_params: 1 })
            .contains("takes 2 body parameter(s), 1 given"));
    }

    #[test]
    fn template_prices_follow_category_window_and_fep() {
        let ts = templates();
        let closed = CustomerWindow::default();
        let promo = Outgoing::Template { name: "promo".into(), language: "en_US".into(), body_params: 0 };
        let utility = Outgoing::Template { name: "order_update".into(), language: "en_US".into(), body_params: 2 };
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
    }
}
