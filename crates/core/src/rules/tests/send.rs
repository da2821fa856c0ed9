//! Send actions meet the window (W8): never free-form into a closed window.

use proptest::prelude::*;

use super::*;
use crate::decision::{decide, Outgoing, SendContext, SendDecision};
use crate::placeholder::PlaceholderContext;
use crate::template::{ParamValue, TemplateParams};

fn values() -> PlaceholderContext {
    PlaceholderContext { ticket_id: Some("4711".into()), requester_name: Some("Ana López".into()), ..PlaceholderContext::default() }
}

fn action(json: serde_json::Value) -> Action<crate::placeholder::Text> {
    let draft = draft(serde_json::json!({"name": "x", "event": "message_received", "actions": [json]}));
    draft.validate(1).unwrap().actions.remove(0)
}

fn reply_when_closed(when_closed: serde_json::Value) -> Action<crate::placeholder::Text> {
    action(serde_json::json!({"type": "reply", "text": "Hi {{firstName}}, ticket {{ticket.id}}", "when_closed": when_closed}))
}

fn now() -> Timestamp {
    berlin("2026-12-04 19:00")
}

fn open() -> RuleContext<'static> {
    RuleContext { window: window_since(now().minus(HOUR)), ..ctx(now()) }
}

fn closed() -> RuleContext<'static> {
    RuleContext { window: window_since(now().minus(DAY)), ..ctx(now()) }
}

fn plan(action: &Action<crate::placeholder::Text>, ctx: &RuleContext<'_>) -> PlannedSend {
    plan_send(action, ctx, &values()).unwrap()
}

#[test]
fn w8_a_reply_is_free_form_while_the_window_is_open() {
    let reply = reply_when_closed(serde_json::json!({"kind": "skip"}));
    assert_eq!(plan(&reply, &open()), PlannedSend::FreeForm { text: "Hi Ana, ticket 4711".into() });
    let unlimited = RuleContext { policy: WindowPolicy::UNLIMITED, window: CustomerWindow::default(), ..ctx(now()) };
    assert!(matches!(plan(&reply, &unlimited), PlannedSend::FreeForm { .. }), "a channel without windows");
}

#[test]
fn w8_a_reply_into_a_closed_window_becomes_its_template_variant() {
    let reply = reply_when_closed(
        serde_json::json!({"kind": "template", "name": "ticket_update", "language": "en", "params": {"1": "{{ticket.id}}", "2": "{{firstName || there}}"}}),
    );
    let expected = TemplateParams {
        body: [("1".to_owned(), ParamValue::text("4711")), ("2".to_owned(), ParamValue::text("Ana"))].into_iter().collect(),
        ..TemplateParams::default()
    };
    let planned = plan(&reply, &closed());
    assert_eq!(planned, PlannedSend::Template { name: "ticket_update".into(), language: "en".into(), params: expected.clone() });
    assert_eq!(planned.outgoing(), Some(Outgoing::Template { name: "ticket_update".into(), language: "en".into(), params: expected }));
}

#[test]
fn w8_a_reply_into_a_closed_window_is_held_or_sent_by_sms_as_configured() {
    let held = plan(&reply_when_closed(serde_json::json!({"kind": "hold"})), &closed());
    assert_eq!(held, PlannedSend::Hold { text: "Hi Ana, ticket 4711".into(), expires_after_hours: None });
    assert_eq!(held.outgoing(), None);
    let sms = plan(&reply_when_closed(serde_json::json!({"kind": "sms", "text": "Ticket {{ticket.id}}: see WhatsApp"})), &closed());
    assert_eq!(sms, PlannedSend::Sms { text: "Ticket 4711: see WhatsApp".into() });
    assert_eq!(sms.outgoing(), Some(Outgoing::Sms));
}

#[test]
fn w8_a_reply_into_a_closed_window_without_a_way_out_is_skipped_saying_why() {
    let skipped = plan(&reply_when_closed(serde_json::json!({"kind": "skip"})), &closed());
    assert_eq!(skipped, PlannedSend::Skipped { reason: "window closed".into() });
    assert_eq!(serde_json::to_value(&skipped).unwrap(), serde_json::json!({"kind": "skipped", "reason": "window closed"}));
    let never_wrote = RuleContext { window: CustomerWindow::default(), ..ctx(now()) };
    assert_eq!(plan(&reply_when_closed(serde_json::json!({"kind": "skip"})), &never_wrote), skipped);
}

#[test]
fn w9_a_reply_inside_the_guard_before_window_end_is_not_free_form() {
    let guard = Duration::from_secs(5);
    let reply = reply_when_closed(serde_json::json!({"kind": "hold"}));
    let inside_guard = RuleContext {
        window: window_since(now().minus(DAY).plus(Duration::from_secs(3))),
        policy: WindowPolicy::WHATSAPP.with_send_guard(guard),
        ..ctx(now())
    };
    assert!(matches!(plan(&reply, &inside_guard), PlannedSend::Hold { .. }), "3 s before Meta's end, inside the 5 s guard");
    let before_guard = RuleContext { window: window_since(now().minus(DAY).plus(Duration::from_secs(6))), ..inside_guard };
    assert!(matches!(plan(&reply, &before_guard), PlannedSend::FreeForm { .. }));
}

#[test]
fn templates_and_sms_go_as_written_whatever_the_window_and_hold_reply_always_holds() {
    let template = action(serde_json::json!({"type": "send_template", "name": "promo", "language": "de"}));
    for c in [open(), closed()] {
        assert_eq!(
            plan(&template, &c),
            PlannedSend::Template { name: "promo".into(), language: "de".into(), params: TemplateParams::default() }
        );
    }
    let sms = action(serde_json::json!({"type": "send_sms", "text": "Ticket {{ticket.id}}"}));
    assert_eq!(plan(&sms, &open()), PlannedSend::Sms { text: "Ticket 4711".into() });
    let hold = action(serde_json::json!({"type": "hold_reply", "text": "Ticket {{ticket.id}}", "hours": 48}));
    for c in [open(), closed()] {
        assert_eq!(plan(&hold, &c), PlannedSend::Hold { text: "Ticket 4711".into(), expires_after_hours: Some(48) });
    }
}

#[test]
fn actions_that_send_nothing_have_no_plan() {
    for json in [
        serde_json::json!({"type": "set_status", "status": "pending"}),
        serde_json::json!({"type": "add_tags", "tags": ["a"]}),
        serde_json::json!({"type": "unassign"}),
        serde_json::json!({"type": "internal_note", "text": "n"}),
        serde_json::json!({"type": "notify_agent", "agent_id": 1, "text": "n"}),
    ] {
        let a = action(json);
        assert!(!a.sends() && plan_send(&a, &open(), &values()).is_none(), "{}", a.kind());
    }
}

#[test]
fn a_text_that_renders_to_nothing_is_skipped_not_sent_empty() {
    let reply = action(serde_json::json!({"type": "reply", "text": "{{ticket.subject}}"}));
    assert_eq!(plan(&reply, &open()), PlannedSend::Skipped { reason: EMPTY_TEXT.into() });
}

proptest! {
    /// W8 + W9: whatever the window end, the guard and `now`, a plan is free-form only before the
    /// send deadline, exactly when the send decision would send free-form.
    #[test]
    fn a_rule_never_plans_free_form_at_or_after_the_send_deadline(
        last_inbound in 0i64..400_000_000,
        offset in -200_000_000i64..200_000_000,
        guard_ms in 0u64..120_000,
        when_closed in 0usize..4,
    ) {
        let last_inbound = Timestamp::from_unix_millis(1_700_000_000_000 + last_inbound);
        let policy = WindowPolicy::WHATSAPP.with_send_guard(Duration::from_millis(guard_ms));
        // Around the deadline, with exact hits and near misses as likely as far-off instants.
        let offset = if offset.abs() < 100_000_000 { offset % 3 - 1 } else { offset };
        let now = Timestamp::from_unix_millis(policy.send_deadline(last_inbound.plus(DAY)).unix_millis() + offset);
        let window = window_since(last_inbound);
        let variants = [
            serde_json::json!({"kind": "skip"}),
            serde_json::json!({"kind": "hold"}),
            serde_json::json!({"kind": "sms", "text": "sms"}),
            serde_json::json!({"kind": "template", "name": "t", "language": "en"}),
        ];
        let reply = reply_when_closed(variants[when_closed].clone());
        let c = RuleContext { window, policy, ..ctx(now) };
        let planned = plan(&reply, &c);
        let deadline = policy.send_deadline(last_inbound.plus(DAY));
        let free_form = matches!(planned, PlannedSend::FreeForm { .. });
        prop_assert_eq!(free_form, now < deadline, "now {:?} deadline {:?}", now, deadline);
        let send = SendContext { window: &window, policy, now, templates: &[], ladder: &[], sms_configured: false, hold_for: DAY, pricing: None };
        prop_assert_eq!(free_form, matches!(decide(&send, &Outgoing::FreeForm), SendDecision::Send { .. }), "the plan agrees with the send decision");
    }
}
