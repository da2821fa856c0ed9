//! Trigger evaluation (issue 13, BENCHMARKS.md): what the rules worker spends deciding which of 50
//! active triggers fire for one customer message, on a number with business hours. Run with
//! `cargo bench -p windowdesk-core --bench rules`.

#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use windowdesk_core::hours::{Schedule, ScheduleSpec};
use windowdesk_core::routing::Priority;
use windowdesk_core::rules::{default_rules, evaluate, Event, MessageText, RuleDraft, WindowEpisode};
use windowdesk_core::window::{CustomerWindow, WindowPolicy};
use windowdesk_core::{Rule, RuleContext, TicketStatus, Timestamp};

/// 50 triggers as a support team would have them: the shipped defaults, and rules on words in the
/// message, tags, status, priority, business hours and the window, most of which do not match.
fn fifty_rules() -> Vec<Rule> {
    let mut drafts: Vec<RuleDraft> = default_rules();
    let words = ["refund", "invoice", "cancel", "broken", "login", "password", "delivery", "urgent", "complaint", "discount"];
    for i in 0..(50 - drafts.len()) {
        let word = words[i % words.len()];
        let json = serde_json::json!({
            "name": format!("Route {word} #{i}"),
            "position": 100 + i,
            "event": if i % 5 == 4 { "ticket_updated" } else { "message_received" },
            "once_per_episode": i % 3 == 0,
            "conditions": {
                "all": [
                    {"field": "message_text", "op": "contains_any", "words": [word, format!("{word}s"), "asap"]},
                    {"field": "status", "op": "is_not", "values": ["solved", "closed"]},
                    {"field": "tags", "op": "include_none", "tags": ["vip", format!("handled-{i}")]},
                ],
                "any": [
                    {"field": "within_business_hours", "value": i % 2 == 1},
                    {"field": "window_time_left", "op": "less_than", "minutes": 60},
                    {"field": "priority", "op": "is", "values": ["high", "urgent"]},
                ]
            },
            "actions": [
                {"type": "add_tags", "tags": [word]},
                {"type": "reply", "text": "Hi {{firstName || there}}, about your {{ticket.subject}}: we are on it ({{ticket.id}}).",
                 "when_closed": {"kind": "template", "name": "follow_up", "language": "en", "params": {"1": "{{ticket.id}}"}}}
            ]
        });
        drafts.push(serde_json::from_value(json).unwrap());
    }
    drafts.iter().enumerate().map(|(i, d)| d.validate(i64::try_from(i).unwrap() + 1).unwrap()).collect()
}

fn bench(c: &mut Criterion) {
    let rules = fifty_rules();
    assert_eq!(rules.len(), 50);
    let spec: ScheduleSpec = serde_json::from_value(serde_json::json!({
        "time_zone": "Europe/Berlin",
        "weekly": {"mon": ["09:00-12:30", "13:30-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"], "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]},
        "holidays": [{"date": "2026-12-25", "name": "Christmas Day"}, {"from": "2026-12-31", "to": "2027-01-01", "name": "New Year"}]
    }))
    .unwrap();
    let schedule = Schedule::from_spec(&spec).unwrap();
    // Friday 2026-12-04 19:00 in Berlin: outside hours, the window closes before the team is back.
    let now = Timestamp::from_unix_seconds(1_796_407_200);
    let tags = vec!["returning".to_owned()];
    let ctx = RuleContext {
        event: Event::MessageReceived,
        ticket_id: 4711,
        business_number_id: 1,
        status: TicketStatus::New,
        priority: Priority::Normal,
        tags: &tags,
        assignee_id: None,
        created_at: now,
        status_changed_at: now,
        solved_at: None,
        last_agent_reply_at: None,
        message_text: None,
        first_message: true,
        window: CustomerWindow { last_inbound_at: Some(now), ..CustomerWindow::default() },
        policy: WindowPolicy::WHATSAPP,
        window_episode: Some(WindowEpisode { started_at: now }),
        schedule: Some(&schedule),
        now,
        caused_by_rule: false,
    };
    let text = "Hello, my parcel never arrived and I would like a refund as soon as possible, please.";
    let folded = MessageText::new(text);
    let fired = evaluate(&rules, &RuleContext { message_text: Some(&folded), ..ctx }).len();
    assert!(fired >= 2, "the outside-hours auto-reply and the refund routing fire: {fired}");
    // The message is folded once per event, as the rules worker does, inside the measured time.
    c.bench_function("evaluate 50 triggers for one customer message", |b| {
        b.iter(|| {
            let folded = MessageText::new(black_box(text));
            evaluate(black_box(&rules), &RuleContext { message_text: Some(&folded), ..ctx }).len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
