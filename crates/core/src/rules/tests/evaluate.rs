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
