//! Every condition, both ways, written as JSON so the shape is tested too.

use super::*;

fn holds(condition: serde_json::Value, ctx: &RuleContext<'_>) -> bool {
    let condition: Condition = serde_json::from_value(condition).unwrap();
    condition.holds(ctx)
}

fn friday_evening() -> Timestamp {
    berlin("2026-12-04 19:00")
}

#[test]
fn business_number_is_or_is_not_one_of_the_listed() {
    let c = ctx(friday_evening());
    assert!(holds(serde_json::json!({"field": "business_number", "op": "is", "ids": [1, 2]}), &c));
    assert!(!holds(serde_json::json!({"field": "business_number", "op": "is", "ids": [3]}), &c));
    assert!(holds(serde_json::json!({"field": "business_number", "op": "is_not", "ids": [3]}), &c));
    assert!(!holds(serde_json::json!({"field": "business_number", "op": "is_not", "ids": [1]}), &c));
}

#[test]
fn status_is_or_is_not_one_of_the_listed() {
    let c = RuleContext { status: TicketStatus::Pending, ..ctx(friday_evening()) };
    assert!(holds(serde_json::json!({"field": "status", "op": "is", "values": ["new", "pending"]}), &c));
    assert!(!holds(serde_json::json!({"field": "status", "op": "is", "values": ["solved"]}), &c));
    assert!(holds(serde_json::json!({"field": "status", "op": "is_not", "values": ["solved", "closed"]}), &c));
    assert!(!holds(serde_json::json!({"field": "status", "op": "is_not", "values": ["pending"]}), &c));
}

#[test]
fn priority_is_or_is_not_one_of_the_listed() {
    let c = RuleContext { priority: Priority::Urgent, ..ctx(friday_evening()) };
    assert!(holds(serde_json::json!({"field": "priority", "op": "is", "values": ["high", "urgent"]}), &c));
    assert!(!holds(serde_json::json!({"field": "priority", "op": "is", "values": ["low"]}), &c));
    assert!(holds(serde_json::json!({"field": "priority", "op": "is_not", "values": ["low"]}), &c));
    assert!(!holds(serde_json::json!({"field": "priority", "op": "is_not", "values": ["urgent"]}), &c));
}

#[test]
fn tags_include_any_all_or_none_ignoring_case_and_spaces() {
    let tags = ["VIP".to_owned(), " billing ".to_owned()];
    let c = RuleContext { tags: &tags, ..ctx(friday_evening()) };
    let tags_are = |op: &str, tags: &[&str]| holds(serde_json::json!({"field": "tags", "op": op, "tags": tags}), &c);
    assert!(tags_are("include_any", &["vip", "spam"]));
    assert!(!tags_are("include_any", &["spam"]));
    assert!(tags_are("include_all", &["vip", "Billing"]));
    assert!(!tags_are("include_all", &["vip", "spam"]));
    assert!(tags_are("include_none", &["spam"]));
    assert!(!tags_are("include_none", &["spam", "vip"]));
}

#[test]
fn assignee_is_is_not_unassigned_or_assigned() {
    let assigned = RuleContext { assignee_id: Some(5), ..ctx(friday_evening()) };
    let unassigned = ctx(friday_evening());
    let is = serde_json::json!({"field": "assignee", "op": "is", "agent_id": 5});
    let is_not = serde_json::json!({"field": "assignee", "op": "is_not", "agent_id": 5});
    let nobody = serde_json::json!({"field": "assignee", "op": "unassigned"});
    let somebody = serde_json::json!({"field": "assignee", "op": "assigned"});
    assert!(holds(is.clone(), &assigned) && !holds(is.clone(), &unassigned));
    assert!(!holds(is, &RuleContext { assignee_id: Some(6), ..assigned }));
    assert!(!holds(is_not.clone(), &assigned) && holds(is_not, &unassigned), "unassigned is not assigned to 5");
    assert!(holds(nobody.clone(), &unassigned) && !holds(nobody, &assigned));
    assert!(holds(somebody.clone(), &assigned) && !holds(somebody, &unassigned));
}

#[test]
fn message_text_contains_any_word_or_phrase_case_insensitively() {
    fn with(text: Option<&MessageText>) -> RuleContext<'_> {
        RuleContext { message_text: text, ..ctx(friday_evening()) }
    }
    let any = serde_json::json!({"field": "message_text", "op": "contains_any", "words": ["refund", "Money back"]});
    let none = serde_json::json!({"field": "message_text", "op": "contains_none", "words": ["refund", "money back"]});
    assert!(holds(any.clone(), &with(Some(&MessageText::new("I want my MONEY\n  BACK now")))));
    assert!(holds(any.clone(), &with(Some(&MessageText::new("Refunded?")))), "a substring counts");
    assert!(!holds(any.clone(), &with(Some(&MessageText::new("Where is my parcel?")))));
    assert!(!holds(any, &with(None)), "no message contains nothing");
    assert!(holds(none.clone(), &with(Some(&MessageText::new("Where is my parcel?")))));
    assert!(holds(none.clone(), &with(None)));
    assert!(!holds(none, &with(Some(&MessageText::new("refund please")))));
    let spaced = serde_json::json!({"field": "message_text", "op": "contains_any", "words": [" money   back "]});
    assert!(holds(spaced, &with(Some(&MessageText::new("I want my money back")))), "a word is folded as the message is");
}

#[test]
fn first_message_of_the_ticket() {
    let first = RuleContext { first_message: true, ..ctx(friday_evening()) };
    let later = ctx(friday_evening());
    assert!(holds(serde_json::json!({"field": "first_message", "value": true}), &first));
    assert!(!holds(serde_json::json!({"field": "first_message", "value": true}), &later));
    assert!(holds(serde_json::json!({"field": "first_message", "value": false}), &later));
}

#[test]
fn within_business_hours_by_the_numbers_schedule_or_always_without_one() {
    let hours = office_hours();
    let at = |t: &str| RuleContext { schedule: Some(&hours), ..ctx(berlin(t)) };
    let within = serde_json::json!({"field": "within_business_hours", "value": true});
    let outside = serde_json::json!({"field": "within_business_hours", "value": false});
    assert!(holds(within.clone(), &at("2026-12-04 10:00")));
    assert!(!holds(within.clone(), &at("2026-12-04 19:00")));
    assert!(!holds(within.clone(), &at("2026-12-04 17:00")), "closed at exactly the closing time");
    assert!(holds(outside.clone(), &at("2026-12-05 10:00")), "Saturday");
    assert!(!holds(outside.clone(), &at("2026-12-04 09:00")));
    assert!(holds(within, &ctx(friday_evening())), "a number without a schedule is always open");
    assert!(!holds(outside, &ctx(friday_evening())));
}

#[test]
fn window_open_or_closed_as_the_send_decision_sees_it() {
    let now = friday_evening();
    let open = RuleContext { window: window_since(now.minus(HOUR)), ..ctx(now) };
    let closed = RuleContext { window: window_since(now.minus(DAY)), ..ctx(now) };
    let never = RuleContext { window: CustomerWindow::default(), ..ctx(now) };
    let is_open = serde_json::json!({"field": "window", "state": "open"});
    let is_closed = serde_json::json!({"field": "window", "state": "closed"});
    assert!(holds(is_open.clone(), &open) && !holds(is_open.clone(), &closed) && !holds(is_open, &never));
    assert!(holds(is_closed.clone(), &closed), "W4: closed at exactly 24 h");
    assert!(holds(is_closed.clone(), &never) && !holds(is_closed, &open));
}

#[test]
fn window_time_left_counts_to_the_send_deadline_and_only_while_open() {
    let now = friday_evening();
    let thirty_left = RuleContext { window: window_since(now.minus(DAY - 30 * MINUTE)), ..ctx(now) };
    let left = |op: &str, minutes: i64, c: &RuleContext<'_>| {
        holds(serde_json::json!({"field": "window_time_left", "op": op, "minutes": minutes}), c)
    };
    assert!(left("less_than", 31, &thirty_left) && !left("less_than", 30, &thirty_left), "strict");
    assert!(left("more_than", 29, &thirty_left) && !left("more_than", 30, &thirty_left));
    // W9: with a 5 s guard, the 30 minutes are 5 s shorter.
    let guarded = RuleContext { policy: WindowPolicy::WHATSAPP.with_send_guard(Duration::from_secs(5)), ..thirty_left };
    assert!(left("less_than", 30, &guarded));
    let closed = RuleContext { window: window_since(now.minus(DAY)), ..ctx(now) };
    assert!(!left("less_than", 30, &closed) && !left("more_than", 30, &closed), "a closed window has no time left to compare");
    let unlimited = RuleContext { policy: WindowPolicy::UNLIMITED, window: CustomerWindow::default(), ..ctx(now) };
    assert!(!left("less_than", 30, &unlimited) && left("more_than", 30, &unlimited));
}

#[test]
fn business_time_left_counts_open_hours_before_the_send_deadline() {
    let hours = office_hours();
    // Thursday 17:00 → the window ends Friday 17:00; at Friday 16:00 one business hour is left.
    let one_hour =
        RuleContext { window: window_since(berlin("2026-12-03 17:00")), schedule: Some(&hours), ..ctx(berlin("2026-12-04 16:00")) };
    let left = |op: &str, minutes: i64, c: &RuleContext<'_>| {
        holds(serde_json::json!({"field": "business_time_left", "op": op, "minutes": minutes}), c)
    };
    assert!(left("less_than", 61, &one_hour) && !left("less_than", 60, &one_hour));
    assert!(left("more_than", 59, &one_hour) && !left("more_than", 60, &one_hour));
    // Friday 19:00 → the window ends Saturday 19:00 with no business time in it.
    let none = RuleContext { window: window_since(friday_evening()), schedule: Some(&hours), ..ctx(friday_evening().plus(MINUTE)) };
    assert!(left("less_than", 1, &none) && !left("more_than", 1, &none));
    let closed =
        RuleContext { window: window_since(berlin("2026-12-01 10:00")), schedule: Some(&hours), ..ctx(berlin("2026-12-04 10:00")) };
    assert!(!left("less_than", 60, &closed) && !left("more_than", 60, &closed));
}

#[test]
fn window_closes_before_the_team_is_back() {
    let hours = office_hours();
    let before_team = serde_json::json!({"field": "window_closes_before_team_is_back", "value": true});
    let team_in_time = serde_json::json!({"field": "window_closes_before_team_is_back", "value": false});
    // Friday 19:00: the window ends Saturday 19:00, the team is back Monday 09:00.
    let friday = RuleContext { window: window_since(friday_evening()), schedule: Some(&hours), ..ctx(friday_evening().plus(MINUTE)) };
    assert!(holds(before_team.clone(), &friday) && !holds(team_in_time.clone(), &friday));
    // Thursday 10:00: the window ends Friday 10:00, inside business hours.
    let thursday =
        RuleContext { window: window_since(berlin("2026-12-03 10:00")), schedule: Some(&hours), ..ctx(berlin("2026-12-03 10:05")) };
    assert!(!holds(before_team.clone(), &thursday) && holds(team_in_time, &thursday));
    // Thursday 18:00: the window ends Friday 18:00, but the team works Friday 09-17 before it.
    let evening =
        RuleContext { window: window_since(berlin("2026-12-03 18:00")), schedule: Some(&hours), ..ctx(berlin("2026-12-03 18:05")) };
    assert!(!holds(before_team.clone(), &evening));
    let closed = RuleContext { window: window_since(berlin("2026-12-01 19:00")), schedule: Some(&hours), ..ctx(friday_evening()) };
    assert!(!holds(before_team.clone(), &closed), "a closed window closes before nothing");
    assert!(!holds(before_team, &RuleContext { schedule: None, ..friday }), "always open: the team is always back");
}

#[test]
fn time_since_the_last_customer_message() {
    let now = friday_evening();
    let c = RuleContext { window: window_since(now.minus(45 * MINUTE)), ..ctx(now) };
    let since = |op: &str, minutes: i64, c: &RuleContext<'_>| {
        holds(serde_json::json!({"field": "time_since_last_customer_message", "op": op, "minutes": minutes}), c)
    };
    assert!(since("more_than", 30, &c) && !since("more_than", 45, &c));
    assert!(since("less_than", 46, &c) && !since("less_than", 30, &c));
    let never = RuleContext { window: CustomerWindow::default(), ..ctx(now) };
    assert!(!since("more_than", 1, &never) && !since("less_than", 1_000, &never), "false when the customer never wrote");
}

#[test]
fn time_since_created() {
    let now = friday_evening();
    let c = RuleContext { created_at: now.minus(2 * HOUR), ..ctx(now) };
    let since = |op: &str, minutes: i64| holds(serde_json::json!({"field": "time_since_created", "op": op, "minutes": minutes}), &c);
    assert!(since("more_than", 60) && !since("more_than", 120));
    assert!(since("less_than", 121) && !since("less_than", 60));
}

#[test]
fn time_since_solved_and_never_for_unsolved_tickets() {
    let now = friday_evening();
    let solved = RuleContext { status: TicketStatus::Solved, solved_at: Some(now.minus(5 * DAY)), ..ctx(now) };
    let since = |op: &str, minutes: i64, c: &RuleContext<'_>| {
        holds(serde_json::json!({"field": "time_since_solved", "op": op, "minutes": minutes}), c)
    };
    assert!(since("more_than", 4 * 24 * 60, &solved) && !since("less_than", 4 * 24 * 60, &solved));
    assert!(since("less_than", 6 * 24 * 60, &solved));
    let open = ctx(now);
    assert!(!since("more_than", 1, &open) && !since("less_than", 10_000, &open));
}

#[test]
fn all_must_hold_and_one_of_any_when_any_is_given() {
    let c = RuleContext { status: TicketStatus::New, first_message: true, ..ctx(friday_evening()) };
    let conditions = |json: serde_json::Value| serde_json::from_value::<Conditions>(json).unwrap().hold(&c);
    let yes = serde_json::json!({"field": "first_message", "value": true});
    let no = serde_json::json!({"field": "first_message", "value": false});
    assert!(conditions(serde_json::json!({})), "no conditions always hold");
    assert!(conditions(serde_json::json!({"all": [yes.clone(), yes.clone()]})));
    assert!(!conditions(serde_json::json!({"all": [yes.clone(), no.clone()]})));
    assert!(conditions(serde_json::json!({"any": [no.clone(), yes.clone()]})));
    assert!(!conditions(serde_json::json!({"any": [no.clone(), no.clone()]})));
    assert!(!conditions(serde_json::json!({"all": [yes.clone()], "any": [no.clone()]})));
    assert!(!conditions(serde_json::json!({"all": [no], "any": [yes]})));
}

#[test]
fn an_unknown_field_or_operator_is_refused_when_read() {
    for json in [
        serde_json::json!({"field": "colour", "op": "is", "values": ["red"]}),
        serde_json::json!({"field": "status", "op": "was", "values": ["new"]}),
        serde_json::json!({"field": "status", "op": "is", "values": ["deleted"]}),
        serde_json::json!({"field": "window", "state": "open", "extra": 1}),
    ] {
        assert!(serde_json::from_value::<Condition>(json.clone()).is_err(), "{json}");
    }
}
