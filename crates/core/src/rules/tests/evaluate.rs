//! Which rules fire, in what order, and which never do.

use super::*;

fn ids(firings: &[Firing<'_>]) -> Vec<i64> {
    firings.iter().map(|f| f.rule.id).collect()
}

fn now() -> Timestamp {
    berlin("2026-12-03 10:00")
}

#[test]
fn rules_fire_in_the_fixed_visible_order_position_then_id() {
    let rules = [
        rule(1, serde_json::json!({"position": 20})),
        rule(3, serde_json::json!({"position": 10})),
        rule(2, serde_json::json!({"position": 10})),
        rule(4, serde_json::json!({"position": -5})),
    ];
    assert_eq!(ids(&evaluate(&rules, &ctx(now()))), [4, 2, 3, 1]);
    let mut shuffled = rules.clone();
    shuffled.reverse();
    assert_eq!(ids(&evaluate(&shuffled, &ctx(now()))), [4, 2, 3, 1], "the order does not depend on how they are listed");
}

#[test]
fn a_rule_fires_only_on_its_event_and_when_its_conditions_hold() {
    let rules = [
        rule(1, serde_json::json!({"event": "ticket_created"})),
        rule(2, serde_json::json!({"conditions": {"all": [{"field": "first_message", "value": true}]}})),
        rule(3, serde_json::json!({})),
    ];
    assert_eq!(ids(&evaluate(&rules, &ctx(now()))), [3]);
    assert_eq!(ids(&evaluate(&rules, &RuleContext { first_message: true, ..ctx(now()) })), [2, 3]);
    assert_eq!(ids(&evaluate(&rules, &RuleContext { event: Event::TicketCreated, ..ctx(now()) })), [1]);
    assert!(matches(&rules[2], &ctx(now())) && !matches(&rules[0], &ctx(now())));
}

#[test]
fn a_disabled_rule_never_fires() {
    let rules = [rule(1, serde_json::json!({"enabled": false})), rule(2, serde_json::json!({}))];
    assert_eq!(ids(&evaluate(&rules, &ctx(now()))), [2]);
    assert!(!matches(&rules[0], &ctx(now())));
}

#[test]
fn no_rule_fires_on_a_change_a_rule_made() {
    let rules = [
        rule(1, serde_json::json!({"event": "ticket_updated", "actions": [{"type": "set_priority", "priority": "high"}]})),
        rule(2, serde_json::json!({"event": "ticket_updated"})),
    ];
    let by_agent = RuleContext { event: Event::TicketUpdated, ..ctx(now()) };
    assert_eq!(ids(&evaluate(&rules, &by_agent)), [1, 2]);
    let by_rule = RuleContext { caused_by_rule: true, ..by_agent };
    assert!(evaluate(&rules, &by_rule).is_empty(), "no loops");
}

#[test]
fn each_rule_fires_at_most_once_per_event() {
    let same = rule(1, serde_json::json!({}));
    let moved = Rule { position: 30, ..same.clone() };
    let rules = [same.clone(), rule(2, serde_json::json!({"position": 20})), moved, same];
    assert_eq!(ids(&evaluate(&rules, &ctx(now()))), [1, 2], "a rule listed twice still fires once, at its first place");
}

#[test]
fn automations_and_once_per_episode_rules_carry_their_episode_key() {
    let rules = [
        rule(1, serde_json::json!({})),
        rule(2, serde_json::json!({"once_per_episode": true})),
        rule(3, serde_json::json!({"event": "automation", "conditions": {"all": [{"field": "window", "state": "open"}]}})),
    ];
    let trigger = evaluate(&rules, &ctx(now()));
    assert_eq!(
        trigger.iter().map(|f| f.episode.clone()).collect::<Vec<_>>(),
        [None, Some(EpisodeKey::new(2, 4711, Episode::Window(WindowEpisode { started_at: now() })))]
    );
    let sweep = evaluate(&rules, &RuleContext { event: Event::Automation, ..ctx(now()) });
    assert_eq!(ids(&sweep), [3]);
    assert_eq!(sweep[0].episode.as_ref().map(ToString::to_string), Some(format!("rule:3/ticket:4711/window:{}", now().unix_millis())));
    assert_eq!(sweep[0].actions().len(), 1);
}

#[test]
fn triggers_and_automations_share_one_language() {
    // The same conditions, evaluated by the sweep instead of an event.
    let automation = rule(
        1,
        serde_json::json!({
            "event": "automation",
            "conditions": {"all": [{"field": "time_since_last_customer_message", "op": "more_than", "minutes": 60}]}
        }),
    );
    let sweep = |at: Timestamp| RuleContext { event: Event::Automation, window: window_since(now()), ..ctx(at) };
    assert!(evaluate(std::slice::from_ref(&automation), &sweep(now().plus(30 * MINUTE))).is_empty());
    assert_eq!(ids(&evaluate(std::slice::from_ref(&automation), &sweep(now().plus(61 * MINUTE)))), [1]);
    assert!(evaluate(std::slice::from_ref(&automation), &ctx(now().plus(61 * MINUTE))).is_empty(), "not on a message event");
}

fn event_of<'a>(c: &RuleContext<'a>) -> EventOnly<'a> {
    EventOnly { event: c.event, message_text: c.message_text, first_message: c.first_message, caused_by_rule: c.caused_by_rule }
}

#[test]
fn a_rule_whose_message_conditions_fail_is_ruled_out_before_the_ticket_is_read() {
    let refund =
        rule(1, serde_json::json!({"conditions": {"all": [{"field": "message_text", "op": "contains_any", "words": ["refund"]}]}}));
    let first_or_refund = rule(
        2,
        serde_json::json!({"conditions": {"any": [
            {"field": "first_message", "value": true},
            {"field": "message_text", "op": "contains_any", "words": ["refund"]},
        ]}}),
    );
    let refund_or_vip = rule(
        3,
        serde_json::json!({"conditions": {"any": [
            {"field": "message_text", "op": "contains_any", "words": ["refund"]},
            {"field": "tags", "op": "include_any", "tags": ["vip"]},
        ]}}),
    );
    let on_the_ticket = rule(4, serde_json::json!({"conditions": {"all": [{"field": "status", "op": "is", "values": ["pending"]}]}}));
    let hello_text = MessageText::new("Hello, where is my order?");
    let hello = RuleContext { message_text: Some(&hello_text), ..ctx(now()) };
    let e = event_of(&hello);
    assert!(!may_match(&refund, &e), "its message condition fails: no ticket can make it fire");
    assert!(!may_match(&first_or_refund, &e), "every alternative is on the message and fails");
    assert!(may_match(&refund_or_vip, &e), "a tag on the ticket could still make it fire");
    assert!(may_match(&on_the_ticket, &e), "the ticket decides");
    let asks_text = MessageText::new("I want a REFUND");
    let asks = RuleContext { message_text: Some(&asks_text), ..ctx(now()) };
    assert!(may_match(&refund, &event_of(&asks)) && matches(&refund, &asks));
    assert!(!may_match(&refund, &EventOnly { event: Event::TicketUpdated, ..event_of(&asks) }), "another event");
    assert!(!may_match(&refund, &EventOnly { caused_by_rule: true, ..event_of(&asks) }), "a rule's own change");
}

proptest::proptest! {
    /// Ruling a rule out on the event alone never loses a firing: whatever the conditions and the
    /// ticket, `matches` implies `may_match`.
    #[test]
    fn may_match_never_rules_out_a_rule_that_matches(
        all in proptest::collection::vec(0usize..6, 0..4),
        any in proptest::collection::vec(0usize..6, 0..4),
        text in 0usize..4,
        first in proptest::bool::ANY,
        pending in proptest::bool::ANY,
        vip in proptest::bool::ANY,
    ) {
        let pool = [
            serde_json::json!({"field": "message_text", "op": "contains_any", "words": ["refund", "invoice"]}),
            serde_json::json!({"field": "message_text", "op": "contains_none", "words": ["thanks"]}),
            serde_json::json!({"field": "first_message", "value": true}),
            serde_json::json!({"field": "first_message", "value": false}),
            serde_json::json!({"field": "status", "op": "is", "values": ["pending"]}),
            serde_json::json!({"field": "tags", "op": "include_any", "tags": ["vip"]}),
        ];
        let pick = |v: &[usize]| v.iter().map(|i| pool[*i].clone()).collect::<Vec<_>>();
        let r = rule(1, serde_json::json!({"conditions": {"all": pick(&all), "any": pick(&any)}}));
        let folded = ["A refund, please", "thanks!", "Invoice and thanks"].map(MessageText::new);
        let texts = [None, Some(&folded[0]), Some(&folded[1]), Some(&folded[2])];
        let tags = [String::from("vip")];
        let c = RuleContext {
            message_text: texts[text],
            first_message: first,
            status: if pending { TicketStatus::Pending } else { TicketStatus::Open },
            tags: if vip { &tags } else { &[] },
            ..ctx(now())
        };
        proptest::prop_assert!(!matches(&r, &c) || may_match(&r, &event_of(&c)));
    }
}

#[test]
fn message_needs_asks_only_for_what_an_enabled_message_rule_uses() {
    let plain = rule(1, serde_json::json!({}));
    let first = rule(2, serde_json::json!({"conditions": {"any": [{"field": "first_message", "value": false}]}}));
    let opened = rule(3, serde_json::json!({"event": "window_opened"}));
    let first_on_created =
        rule(4, serde_json::json!({"event": "ticket_created", "conditions": {"all": [{"field": "first_message", "value": true}]}}));
    let off = |r: &Rule| Rule { enabled: false, ..r.clone() };
    assert_eq!(message_needs(&[]), MessageNeeds::default());
    assert_eq!(message_needs(&[plain.clone(), first_on_created]), MessageNeeds::default(), "ticket_created knows without a read");
    assert_eq!(message_needs(&[plain.clone(), first.clone()]), MessageNeeds { first_message: true, window_opened: false });
    assert_eq!(message_needs(std::slice::from_ref(&opened)), MessageNeeds { first_message: false, window_opened: true });
    assert_eq!(message_needs(&[off(&first), off(&opened)]), MessageNeeds::default(), "switched-off rules need nothing");
}

proptest::proptest! {
    /// What `message_needs` leaves out cannot change which rules fire on a customer message.
    #[test]
    fn an_unneeded_first_message_answer_changes_no_firing(
        conditions in proptest::collection::vec((0usize..5, proptest::bool::ANY), 0..5),
        enabled in proptest::bool::ANY,
        opened in proptest::bool::ANY,
    ) {
        let pool = [
            serde_json::json!({"field": "message_text", "op": "contains_any", "words": ["refund"]}),
            serde_json::json!({"field": "first_message", "value": true}),
            serde_json::json!({"field": "first_message", "value": false}),
            serde_json::json!({"field": "status", "op": "is", "values": ["open"]}),
            serde_json::json!({"field": "within_business_hours", "value": true}),
        ];
        let (mut all, mut any) = (Vec::new(), Vec::new());
        for (i, in_all) in &conditions {
            if *in_all { all.push(pool[*i].clone()) } else { any.push(pool[*i].clone()) }
        }
        let event = if opened { "window_opened" } else { "message_received" };
        let rules = [rule(1, serde_json::json!({"event": event, "enabled": enabled, "conditions": {"all": all, "any": any}}))];
        let text = MessageText::new("A refund, please");
        for e in [Event::MessageReceived, Event::WindowOpened] {
            let c = RuleContext { event: e, message_text: Some(&text), ..ctx(now()) };
            let fire = |first| ids(&evaluate(&rules, &RuleContext { first_message: first, ..c }));
            if !message_needs(&rules).first_message {
                proptest::prop_assert_eq!(fire(true), fire(false));
            }
            if !message_needs(&rules).window_opened {
                let opened = RuleContext { event: Event::WindowOpened, ..c };
                proptest::prop_assert!(evaluate(&rules, &opened).is_empty());
            }
        }
    }
}
