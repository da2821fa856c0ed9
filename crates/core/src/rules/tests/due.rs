//! When automations are due, and what happens when their time comes (issue 14 items 1-2).

use proptest::prelude::*;

use super::*;

const MS: Duration = Duration::from_millis(1);

fn automation(id: i64, conditions: serde_json::Value) -> Rule {
    rule(id, serde_json::json!({"event": "automation", "conditions": {"all": conditions}}))
}

fn shipped(id: i64) -> Rule {
    default_rules()[usize::try_from(id - 1).unwrap()].validate(id).unwrap()
}

/// A ticket whose customer wrote at `wrote` (Berlin office hours), as the sweep sees it.
fn written(wrote: Timestamp, hours: &Schedule) -> RuleContext<'_> {
    RuleContext {
        event: Event::Automation,
        created_at: wrote,
        status_changed_at: wrote,
        window: window_since(wrote),
        window_episode: Some(WindowEpisode { started_at: wrote }),
        schedule: Some(hours),
        ..ctx(wrote)
    }
}

#[test]
fn the_holding_message_is_due_30_minutes_before_the_send_deadline_on_saturday() {
    let hours = office_hours();
    let friday = berlin("2026-12-04 19:00");
    let policy = WindowPolicy::WHATSAPP.with_send_guard(Duration::from_secs(60));
    let c = RuleContext { policy, ..written(friday, &hours) };
    let holding = shipped(3);
    let due = due(&holding, &c, friday, friday.plus(2 * DAY)).unwrap();
    let deadline = c.window.send_deadline(policy).unwrap();
    assert_eq!(deadline, berlin("2026-12-05 18:59"));
    assert_eq!(due.at, deadline.minus(30 * MINUTE).plus(MS), "less than 30 minutes left: from 18:29:00.001");
    assert_eq!(due.episode, EpisodeKey::new(3, 4711, Episode::Window(WindowEpisode { started_at: friday })));
    // Inside business hours the window closes while the team is at work: never due.
    let tuesday = berlin("2026-12-01 10:00");
    assert_eq!(due_between(&holding, &written(tuesday, &hours), tuesday, tuesday.plus(2 * DAY)), None);
    // An agent answered after the customer's message: nobody is waiting.
    let answered = RuleContext { last_agent_reply_at: Some(friday.plus(MINUTE)), ..c };
    assert_eq!(due_between(&holding, &answered, friday, friday.plus(2 * DAY)), None);
}

#[test]
fn auto_close_is_due_4_days_after_the_solve_and_not_for_unsolved_tickets() {
    let hours = office_hours();
    let solved = berlin("2026-12-01 10:00");
    let c = RuleContext { status: TicketStatus::Solved, solved_at: Some(solved), ..written(solved.minus(HOUR), &hours) };
    let close = shipped(4);
    let due = due(&close, &c, solved, solved.plus(10 * DAY)).unwrap();
    assert_eq!(due.at, solved.plus(4 * DAY).plus(MS), "more than 4 days: one millisecond after");
    assert_eq!(due.episode.episode, format!("solved:{}", solved.unix_millis()));
    let open = RuleContext { status: TicketStatus::Open, solved_at: None, ..c };
    assert_eq!(due_between(&close, &open, solved, solved.plus(10 * DAY)), None);
    // Outside the range looked at: not found.
    assert_eq!(due_between(&close, &c, solved, solved.plus(4 * DAY)), None);
}

#[test]
fn business_hours_variants_count_only_open_time() {
    let hours = office_hours();
    let friday = berlin("2026-12-04 16:00");
    let nudge = automation(
        7,
        serde_json::json!([
            {"field": "time_since_last_customer_message", "op": "more_than", "minutes": 240, "business_hours": true}
        ]),
    );
    let c = written(friday, &hours);
    let due = due(&nudge, &c, friday, friday.plus(7 * DAY)).unwrap();
    assert_eq!(due.at, berlin("2026-12-07 12:00").plus(MS), "1 h on Friday, 3 h on Monday");
    assert_eq!(due.episode.episode, format!("customer_message:{}", friday.unix_millis()));
    // The same in wall-clock time: Friday 20:00.
    let plain = automation(8, serde_json::json!([{"field": "time_since_last_customer_message", "op": "more_than", "minutes": 240}]));
    assert_eq!(due_between(&plain, &c, friday, friday.plus(7 * DAY)), Some(berlin("2026-12-04 20:00").plus(MS)));
}

#[test]
fn time_since_status_change_and_agent_reply_key_their_own_episodes() {
    let hours = office_hours();
    let t = berlin("2026-12-01 10:00");
    let pending = automation(
        5,
        serde_json::json!([
            {"field": "status", "op": "is", "values": ["pending"]},
            {"field": "time_since_status_changed", "op": "more_than", "minutes": 3 * 24 * 60}
        ]),
    );
    let c = RuleContext { status: TicketStatus::Pending, status_changed_at: t.plus(HOUR), ..written(t, &hours) };
    let due = due(&pending, &c, t, t.plus(5 * DAY)).unwrap();
    assert_eq!(due.at, t.plus(HOUR).plus(3 * DAY).plus(MS));
    assert_eq!(due.episode.episode, format!("status:{}", t.plus(HOUR).unix_millis()));
    let follow_up = automation(6, serde_json::json!([{"field": "time_since_last_agent_reply", "op": "more_than", "minutes": 60}]));
    assert_eq!(due_between(&follow_up, &c, t, t.plus(DAY)), None, "no agent ever replied");
    let replied = RuleContext { last_agent_reply_at: Some(t.plus(2 * HOUR)), ..c };
    let due = super::super::due(&follow_up, &replied, t, t.plus(DAY)).unwrap();
    assert_eq!(due.at, t.plus(3 * HOUR).plus(MS));
    assert_eq!(due.episode.episode, format!("agent_reply:{}", t.plus(2 * HOUR).unix_millis()));
    let old = automation(10, serde_json::json!([{"field": "time_since_created", "op": "more_than", "minutes": 60}]));
    assert_eq!(super::super::due(&old, &c, t, t.plus(DAY)).unwrap().episode.episode, "ticket", "created once: once per ticket");
}

#[test]
fn within_business_hours_and_less_than_conditions_are_due_at_their_edges() {
    let hours = office_hours();
    let saturday = berlin("2026-12-05 10:00");
    let at_work = automation(
        9,
        serde_json::json!([
            {"field": "within_business_hours", "value": true},
            {"field": "time_since_created", "op": "less_than", "minutes": 3 * 24 * 60}
        ]),
    );
    let c = written(saturday, &hours);
    assert_eq!(due_between(&at_work, &c, saturday, saturday.plus(7 * DAY)), Some(berlin("2026-12-07 09:00")));
    // Created too long ago by Monday: never.
    let old = RuleContext { created_at: saturday.minus(2 * DAY), ..c };
    assert_eq!(due_between(&at_work, &old, saturday, saturday.plus(7 * DAY)), None);
    // Due from the start of the range when the conditions already hold.
    let monday = berlin("2026-12-07 11:00");
    assert_eq!(due_between(&at_work, &written(monday, &hours), monday, monday.plus(DAY)), Some(monday));
}

#[test]
fn triggers_and_switched_off_automations_are_never_due() {
    let hours = office_hours();
    let t = berlin("2026-12-04 19:00");
    let mut holding = shipped(3);
    holding.enabled = false;
    assert_eq!(due_between(&holding, &written(t, &hours), t, t.plus(2 * DAY)), None);
    assert_eq!(due_between(&shipped(2), &written(t, &hours), t, t.plus(2 * DAY)), None);
}

#[test]
fn the_sweep_looks_from_the_last_change_or_the_rule_or_just_past_the_overdue_limit() {
    let now = berlin("2026-12-05 12:00");
    let limit = HOUR;
    let (since, until) = sweep_range(now.minus(3 * HOUR), now.minus(DAY), now, limit, 2 * MINUTE);
    assert_eq!((since, until), (now.minus(HOUR).minus(MS), now.plus(2 * MINUTE)));
    let (since, _) = sweep_range(now.minus(10 * MINUTE), now.minus(DAY), now, limit, 2 * MINUTE);
    assert_eq!(since, now.minus(10 * MINUTE));
    let (since, _) = sweep_range(now.minus(3 * HOUR), now.minus(5 * MINUTE), now, limit, 2 * MINUTE);
    assert_eq!(since, now.minus(5 * MINUTE), "a rule saved 5 minutes ago is not late for what happened before");
}

#[test]
fn recheck_fires_skips_waits_or_expires_with_a_reason() {
    let hours = office_hours();
    let friday = berlin("2026-12-04 19:00");
    let holding = shipped(3);
    let c = written(friday, &hours);
    let due = due(&holding, &c, friday, friday.plus(2 * DAY)).unwrap();
    let armed = Armed { episode: due.episode.episode.clone(), due_at: due.at };
    fn at(t: Timestamp, c: RuleContext<'_>) -> RuleContext<'_> {
        RuleContext { now: t, ..c }
    }
    // With the schedule (the context borrows it), at the due time: fire.
    let with_hours = RuleContext { now: due.at, ..written(friday, &hours) };
    assert_eq!(recheck(Some(&holding), &with_hours, &armed, HOUR), Verdict::Fire);
    // Switched off or deleted in the meantime.
    let mut off = holding.clone();
    off.enabled = false;
    assert!(matches!(recheck(Some(&off), &with_hours, &armed, HOUR), Verdict::Skip { reason } if reason.contains("switched off")));
    assert!(matches!(recheck(None, &with_hours, &armed, HOUR), Verdict::Skip { reason } if reason.contains("deleted")));
    // An agent answered: conditions no longer hold, named.
    let answered = RuleContext { last_agent_reply_at: Some(friday.plus(HOUR)), ..with_hours };
    let Verdict::Skip { reason } = recheck(Some(&holding), &answered, &armed, HOUR) else { panic!("skipped") };
    assert_eq!(reason, "conditions no longer hold: conditions.all[1] (awaiting_reply)");
    // The customer wrote again on Saturday at noon: same window episode, due on Sunday instead.
    let mut window = window_since(friday);
    window.record_inbound(berlin("2026-12-05 12:00"), true, false);
    let moved = RuleContext { window, ..with_hours };
    let Verdict::NotYet { due_at } = recheck(Some(&holding), &moved, &armed, HOUR) else { panic!("later") };
    assert_eq!(due_at, berlin("2026-12-06 11:30").plus(MS));
    // After a new episode (the window closed and the customer wrote again), the armed one moved.
    let next_episode = RuleContext { window_episode: Some(WindowEpisode { started_at: friday.plus(2 * DAY) }), ..with_hours };
    assert!(
        matches!(recheck(Some(&holding), &next_episode, &armed, HOUR), Verdict::Skip { reason } if reason.starts_with("episode moved"))
    );
    // The desk was down: 2 hours late with a 1 hour limit is expired; 30 minutes late fires.
    let nudge = automation(7, serde_json::json!([{"field": "time_since_created", "op": "more_than", "minutes": 60}]));
    let d = super::super::due(&nudge, &c, friday, friday.plus(DAY)).unwrap();
    let armed = Armed { episode: d.episode.episode.clone(), due_at: d.at };
    assert_eq!(recheck(Some(&nudge), &at(d.at.plus(30 * MINUTE), c), &armed, HOUR), Verdict::Fire);
    assert_eq!(recheck(Some(&nudge), &at(d.at.plus(2 * HOUR), c), &armed, HOUR), Verdict::Expired { overdue: "2 h 0 min".into() });
}

/// Conditions that depend on time, to build automations from.
fn time_condition() -> impl Strategy<Value = serde_json::Value> {
    let op = prop_oneof![Just("less_than"), Just("more_than")];
    let since = prop_oneof![
        Just("time_since_last_customer_message"),
        Just("time_since_created"),
        Just("time_since_status_changed"),
        Just("time_since_last_agent_reply"),
    ];
    prop_oneof![
        (since, op.clone(), 1i64..(4 * 24 * 60), any::<bool>())
            .prop_map(|(f, op, m, b)| serde_json::json!({"field": f, "op": op, "minutes": m, "business_hours": b})),
        (op.clone(), 1i64..(24 * 60)).prop_map(|(op, m)| serde_json::json!({"field": "window_time_left", "op": op, "minutes": m})),
        (op, 1i64..(10 * 60)).prop_map(|(op, m)| serde_json::json!({"field": "business_time_left", "op": op, "minutes": m})),
        any::<bool>().prop_map(|v| serde_json::json!({"field": "within_business_hours", "value": v})),
        any::<bool>().prop_map(|v| serde_json::json!({"field": "window_closes_before_team_is_back", "value": v})),
        prop_oneof![Just("open"), Just("closed")].prop_map(|s| serde_json::json!({"field": "window", "state": s})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// What `due_between` finds holds, and nothing before it in the range does (checked at the
    /// instant before and at sampled instants); when it finds nothing, no sampled instant holds.
    #[test]
    fn due_is_the_first_instant_the_conditions_hold(
        conditions in proptest::collection::vec(time_condition(), 1..4),
        wrote_min in 0i64..(7 * 24 * 60),
        replied_min in proptest::option::of(-(2 * 24 * 60i64)..(2 * 24 * 60)),
        since_min in 0i64..(3 * 24 * 60),
        span_min in 1i64..(5 * 24 * 60),
        samples in proptest::collection::vec(0.0f64..1.0, 16),
    ) {
        let hours = office_hours();
        let start = berlin("2026-11-30 00:00");
        let mins = |m: i64| Duration::from_secs(u64::try_from(m).unwrap() * 60);
        let wrote = start.plus(mins(wrote_min));
        let replied = replied_min.map(|r| if r < 0 { wrote.minus(mins(-r)) } else { wrote.plus(mins(r)) });
        let rule = automation(1, serde_json::Value::Array(conditions));
        let c = RuleContext {
            last_agent_reply_at: replied,
            created_at: wrote.minus(HOUR),
            status_changed_at: wrote.minus(HOUR),
            policy: WindowPolicy::WHATSAPP.with_send_guard(Duration::from_secs(30)),
            ..written(wrote, &hours)
        };
        let since = wrote.plus(mins(since_min));
        let until = since.plus(mins(span_min));
        let holds = |t: Timestamp| rule.conditions.hold(&RuleContext { now: t, ..c });
        let found = due_between(&rule, &c, since, until);
        let first_true_sample = samples.iter().map(|f| since.plus(Duration::from_millis((since.millis_until(until) as f64 * f) as u64))).filter(|t| holds(*t)).min();
        match found {
            Some(at) => {
                prop_assert!(since <= at && at <= until);
                prop_assert!(holds(at), "due at {:?} but the conditions do not hold", at);
                if at > since {
                    prop_assert!(!holds(at.minus(MS)), "they held a millisecond before {:?}", at);
                }
                if let Some(t) = first_true_sample {
                    prop_assert!(at <= t, "held at {:?}, before the due {:?}", t, at);
                }
            }
            None => prop_assert!(first_true_sample.is_none(), "held at {:?} but nothing was due", first_true_sample),
        }
    }
}
