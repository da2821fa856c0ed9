//! Triggers at work (SPEC 10, issue 13 items 5 and 6), on both backends: the rules worker runs the
//! rules an event sets off, once, through the send decision, and records what each did on the
//! ticket.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use windowdesk_core::{ManualClock, Timestamp};
use windowdesk_sim::{Say, WindowEnforcement};
use windowdesk_store::testing::Backend;
use windowdesk_store::{EventRow, MessageReads};

on_both_backends!(
    friday_evening_three_messages_get_one_outside_hours_auto_reply_saying_when_the_team_is_back,
    a_trigger_reply_after_the_window_closed_sends_its_template_or_says_why_it_did_not,
    changes_made_by_a_rule_set_off_no_rule,
    every_condition_and_action_kind_runs_on_its_own,
    window_opened_and_first_message_are_told_apart_message_by_message,
    a_burst_of_messages_is_tagged_once_per_message_with_each_change_seen_by_the_next,
);

/// Monday to Friday 09:00-17:00 in Berlin.
fn office_hours() -> Value {
    json!({
        "name": "Office",
        "time_zone": "Europe/Berlin",
        "weekly": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"], "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]}
    })
}

async fn rule_runs(app: &TestApp, ticket: i64) -> Vec<EventRow> {
    app.store().ticket_events(ticket).await.unwrap().into_iter().filter(|e| e.kind == "rule_applied").collect()
}

/// Waits until the rules worker has emptied its queue (every event looked at).
async fn rules_settled(app: &TestApp) {
    app.eventually("the rules worker to look at every event", || async {
        app.store().rule_queue(1, MessageReads::default()).await.unwrap().is_empty().then_some(())
    })
    .await;
}

async fn create_rule(api: &Api<'_>, rule: Value) -> i64 {
    let (status, created) = api.post("/api/v1/rules", rule).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_i64().unwrap()
}

/// The scenario: a customer writes on Friday at 19:00 (Monday to Friday 09-17): the window
/// closes on Saturday at 19:00, outside business hours, and the team is back on Monday at 09:00. The
/// shipped first-message auto-reply goes out in its outside-hours variant, with the ticket number,
/// once, although three messages arrived together.
async fn friday_evening_three_messages_get_one_outside_hours_auto_reply_saying_when_the_team_is_back(backend: Backend) {
    // Friday 2026-12-04 19:00 in Berlin is 18:00 UTC.
    let friday_evening = 1_796_407_200;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(friday_evening + 5)));
    // The simulator keeps its own (real) clock; the window here is the desk's, on the desk's clock.
    let app = TestApp::start_with_sim_and_config(
        backend,
        Some(clock),
        |s| s.window_enforcement = WindowEnforcement::Off,
        |c| c.rules.seed_defaults = true,
    )
    .await;
    let api = Api::new(&app).await;
    let (_, schedule) = api.post("/api/v1/schedules", office_hours()).await;
    let (status, body) = api.put(&format!("/api/v1/numbers/{}/schedule", app.bn), json!({"schedule_id": schedule["id"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let customer = "4915112345678";
    for body in ["hello, my order never arrived", "photo 1", "photo 2"] {
        app.sim().say(Say::text(customer, body).at(friday_evening)).await.unwrap();
    }
    let ticket = app.only_ticket().await;
    let (_, window) = api.get(&format!("/api/v1/tickets/{ticket}/window")).await;
    assert_eq!(window["expires_at"], "2026-12-05T18:00:00.000Z", "Saturday 19:00 in Berlin");
    assert_eq!(window["closes_outside_business_hours"], true);
    assert_eq!(window["next_business_open"], "2026-12-07T08:00:00.000Z", "Monday 09:00 in Berlin");

    let reply = app.eventually("the auto-reply to reach the customer", || async { app.sim().received().into_iter().next() }).await;
    rules_settled(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = app.sim().received();
    assert_eq!(received.len(), 1, "one auto-reply for three messages: {received:#?}");
    assert_eq!(reply.kind, "text", "the window is open: free-form");
    let text = reply.text.unwrap();
    assert!(text.contains(&format!("Your ticket number is {ticket}.")), "{text}");
    assert!(text.contains("Monday 09:00"), "says when the team is back: {text}");
    assert!(text.contains("Our team is away"), "the outside-hours variant: {text}");

    let runs = rule_runs(&app, ticket).await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].data["rule"], "Auto-reply: first message, outside business hours");
    assert_eq!(runs[0].actor, format!("rule:{}", runs[0].data["rule_id"]));
    assert_eq!(runs[0].data["actions"][0]["ok"], true, "{runs:#?}");
    let stored = app.store().ticket_messages(ticket).await.unwrap();
    let auto = stored.iter().find(|m| m.direction == windowdesk_store::Direction::Outbound).unwrap();
    assert_eq!(auto.author.as_deref(), Some(runs[0].actor.as_str()), "the reply names the rule as its author");
    app.stop().await;
}

/// Issue 13: a trigger whose reply would go out after the window closed sends its template variant
/// (the simulator receives template JSON), or, without one, leaves "not sent: window closed" on the
/// ticket. No free-form message reaches the simulator outside the window.
async fn a_trigger_reply_after_the_window_closed_sends_its_template_or_says_why_it_did_not(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    app.sync_templates().await;
    let api = Api::new(&app).await;
    let reply_on = |status: &str, when_closed: Value| {
        json!({
            "name": format!("Tell the customer it is {status}"),
            "event": "ticket_updated",
            "conditions": {"all": [{"field": "status", "op": "is", "values": [status]}], "any": []},
            "actions": [{"type": "reply", "text": "Hi {{firstName || there}}, your ticket {{ticket.id}} is {{ticket.status}}.", "when_closed": when_closed}]
        })
    };
    create_rule(&api, reply_on("pending", json!({"kind": "template", "name": "hello_world", "language": "en_US"}))).await;
    create_rule(&api, reply_on("solved", json!({"kind": "skip"}))).await;

    // The customer wrote 25 hours ago: the window is closed.
    let customer = "4915112345678";
    app.sim().say(Say::text(customer, "where is my parcel?").at(now_secs() - 25 * 3600)).await.unwrap();
    let ticket = app.only_ticket().await;
    rules_settled(&app).await;

    let (status, body) = api.patch(&format!("/api/v1/tickets/{ticket}"), json!({"status": "pending"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sent = app.eventually("the template variant to reach Meta", || async { app.sim().received().into_iter().next() }).await;
    assert_eq!(sent.kind, "template");
    assert_eq!(sent.request["type"], "template");
    assert_eq!(sent.request["template"]["name"], "hello_world");

    let (status, body) = api.patch(&format!("/api/v1/tickets/{ticket}"), json!({"status": "solved"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let runs = app
        .eventually("both rules to have run", || async {
            let runs = rule_runs(&app, ticket).await;
            (runs.len() == 2).then_some(runs)
        })
        .await;
    assert!(runs[0].data["actions"][0]["outcome"].as_str().unwrap().starts_with("template hello_world (en_US) queued"), "{runs:#?}");
    assert_eq!(runs[1].data["actions"][0]["outcome"], "not sent: window closed", "{runs:#?}");
    assert_eq!(runs[1].data["actions"][0]["ok"], true, "a skip by design is not a failure");

    rules_settled(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = app.sim().received();
    assert_eq!(received.len(), 1, "{received:#?}");
    assert!(received.iter().all(|m| m.kind != "text"), "no free-form message outside the window");
    // The agent sees it in words on the ticket page.
    add_agent_and_read_log(&app, ticket, "not sent: window closed").await;
    app.stop().await;
}

async fn add_agent_and_read_log(app: &TestApp, ticket: i64, expect: &str) {
    common::web::add_agent(app, "Ana", "ana@example.com").await;
    let web = common::web::Web::sign_in(app, "ana@example.com").await;
    let page = web.page(&format!("/tickets/{ticket}")).await;
    assert!(page.contains("ran the rule"), "the event log names the rule");
    assert!(page.contains(expect), "{}", page.lines().filter(|l| l.contains("rule")).collect::<Vec<_>>().join("\n"));
}

/// Issue 13 item 5: what a rule changes sets off no rule (no loops), while the same change made by
/// an agent does; and a rule fires once per event.
async fn changes_made_by_a_rule_set_off_no_rule(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let api = Api::new(&app).await;
    let tagger = create_rule(
        &api,
        json!({
            "name": "Tag new messages",
            "event": "message_received",
            "actions": [{"type": "add_tags", "tags": ["incoming"]}, {"type": "set_priority", "priority": "high"}]
        }),
    )
    .await;
    let on_update = create_rule(
        &api,
        json!({
            "name": "Note every update",
            "event": "ticket_updated",
            "actions": [{"type": "internal_note", "text": "Ticket {{ticket.id}} was updated."}, {"type": "add_tags", "tags": ["updated"]}]
        }),
    )
    .await;

    app.sim().say(Say::text("4915112345678", "hello")).await.unwrap();
    let ticket = app.only_ticket().await;
    app.eventually("the tagger to run", || async { (!rule_runs(&app, ticket).await.is_empty()).then_some(()) }).await;
    rules_settled(&app).await;
    let (_, t) = api.get(&format!("/api/v1/tickets/{ticket}")).await;
    assert_eq!(t["tags"], json!(["incoming"]), "{t}");
    assert_eq!(t["priority"], "high", "{t}");
    let runs = rule_runs(&app, ticket).await;
    assert_eq!(runs.len(), 1, "the tagger's changes did not set off the update rule: {runs:#?}");
    assert_eq!(runs[0].data["rule_id"], tagger);

    // An agent's change does, once.
    let (status, _) = api.patch(&format!("/api/v1/tickets/{ticket}"), json!({"status": "open"})).await;
    assert_eq!(status, StatusCode::OK);
    app.eventually("the update rule to run", || async { (rule_runs(&app, ticket).await.len() == 2).then_some(()) }).await;
    rules_settled(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let runs = rule_runs(&app, ticket).await;
    assert_eq!(runs.len(), 2, "its own note and tag set off nothing more: {runs:#?}");
    assert_eq!(runs[1].data["rule_id"], on_update);
    assert_eq!(runs[1].data["event"], "ticket_updated");
    let (_, t) = api.get(&format!("/api/v1/tickets/{ticket}")).await;
    assert_eq!(t["tags"], json!(["incoming", "updated"]), "{t}");
    let notes: Vec<String> = app
        .store()
        .ticket_messages(ticket)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == windowdesk_store::Direction::Note)
        .map(|m| m.body.unwrap_or_default())
        .collect();
    assert_eq!(notes, vec![format!("Ticket {ticket} was updated.")]);
    app.stop().await;
}

/// Each action runs and fails on its own: an assignment to an agent who does not exist (any more)
/// fails, and the note and the tags are still written; conditions on the message text and business
/// hours select the rule.
async fn every_condition_and_action_kind_runs_on_its_own(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let api = Api::new(&app).await;
    create_rule(
        &api,
        json!({
            "name": "Refunds",
            "event": "ticket_created",
            "conditions": {
                "all": [{"field": "message_text", "op": "contains_any", "words": ["refund", "money back"]}, {"field": "within_business_hours", "value": true}],
                "any": []
            },
            "actions": [
                {"type": "set_assignee", "agent_id": 424242},
                {"type": "internal_note", "text": "Refund request from {{requester.name}}."},
                {"type": "add_tags", "tags": ["refund"]}
            ]
        }),
    )
    .await;
    app.sim().say(Say::text("4915112345678", "just saying hi")).await.unwrap();
    app.sim().say(Say::text("4915199999999", "I want a REFUND please")).await.unwrap();
    let tickets = app
        .eventually("two tickets", || async {
            let t = app.store().list_tickets(&windowdesk_store::TicketFilter::default()).await.unwrap();
            (t.len() == 2).then_some(t)
        })
        .await;
    rules_settled(&app).await;
    let (refund, hello) = (tickets[0].id, tickets[1].id);
    assert!(rule_runs(&app, hello).await.is_empty(), "no refund in the text: no rule");
    let runs = rule_runs(&app, refund).await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let actions = runs[0].data["actions"].as_array().unwrap();
    let by_kind = |k: &str| actions.iter().find(|a| a["action"] == k).unwrap();
    assert_eq!(by_kind("internal_note")["ok"], true, "{actions:?}");
    assert_eq!(by_kind("set_assignee")["ok"], false, "{actions:?}");
    assert_eq!(by_kind("set_assignee")["outcome"], "there is no agent 424242", "{actions:?}");
    assert_eq!(by_kind("add_tags")["ok"], true, "the failed assignment does not take the tags with it: {actions:?}");
    let (_, t) = api.get(&format!("/api/v1/tickets/{refund}")).await;
    assert_eq!(t["tags"], json!(["refund"]), "{t}");
    assert_eq!(t["assignee_id"], json!(null), "{t}");
    app.stop().await;
}

/// `window_opened` fires on the message that opens the customer's window (the first, and the first
/// after it closed), not on one inside it; `first_message: false` on every message after the first.
/// The worker reads these facts only while an enabled rule uses them: with no such rule, a plain
/// rule still fires on each message.
async fn window_opened_and_first_message_are_told_apart_message_by_message(backend: Backend) {
    let start = 1_796_407_200;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(start + 5)));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |s| s.window_enforcement = WindowEnforcement::Off).await;
    let api = Api::new(&app).await;
    let plain = create_rule(
        &api,
        json!({"name": "Every message", "event": "message_received", "actions": [{"type": "add_tags", "tags": ["seen"]}]}),
    )
    .await;
    let customer = "4915112345678";
    let runs_of = |runs: &[EventRow], rule: i64| runs.iter().filter(|e| e.data["rule_id"] == rule).count();

    // Only a plain rule: nothing about the window or the ticket's first message is read.
    app.sim().say(Say::text(customer, "hello").at(start)).await.unwrap();
    let ticket = app.only_ticket().await;
    app.eventually("the plain rule to run", || async { (runs_of(&rule_runs(&app, ticket).await, plain) == 1).then_some(()) }).await;

    let opened = create_rule(
        &api,
        json!({"name": "Window opened", "event": "window_opened", "actions": [{"type": "add_tags", "tags": ["opened"]}]}),
    )
    .await;
    let follow_up = create_rule(
        &api,
        json!({
            "name": "Follow-up",
            "event": "message_received",
            "conditions": {"all": [{"field": "first_message", "value": false}]},
            "actions": [{"type": "add_tags", "tags": ["follow-up"]}]
        }),
    )
    .await;
    // An hour later, inside the window: a follow-up, not an opening.
    clock.set(Timestamp::from_unix_seconds(start + 3600 + 5));
    app.sim().say(Say::text(customer, "any news?").at(start + 3600)).await.unwrap();
    app.eventually("the follow-up rule to run", || async { (runs_of(&rule_runs(&app, ticket).await, follow_up) == 1).then_some(()) }).await;
    rules_settled(&app).await;
    let runs = rule_runs(&app, ticket).await;
    assert_eq!((runs_of(&runs, plain), runs_of(&runs, opened)), (2, 0), "inside the window nothing opened: {runs:#?}");

    // 30 hours after the first message the window has closed; this one opens it again.
    clock.set(Timestamp::from_unix_seconds(start + 30 * 3600 + 5));
    app.sim().say(Say::text(customer, "still there?").at(start + 30 * 3600)).await.unwrap();
    app.eventually("the window-opened rule to run", || async { (runs_of(&rule_runs(&app, ticket).await, opened) == 1).then_some(()) })
        .await;
    rules_settled(&app).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let runs = rule_runs(&app, ticket).await;
    assert_eq!((runs_of(&runs, plain), runs_of(&runs, follow_up), runs_of(&runs, opened)), (3, 2, 1), "{runs:#?}");
    let opening = runs.iter().find(|e| e.data["rule_id"] == opened).unwrap();
    assert_eq!(opening.data["event"], "window_opened");
    assert_eq!(app.store().ticket_messages(ticket).await.unwrap().len(), 3, "one ticket, three messages");
    app.stop().await;
}

/// Field-only firings of many events are written together, one commit per round: with a burst of
/// messages on three tickets, every message still gets exactly one firing and one `rule_applied`
/// event, and a rule that looks at what an earlier firing changed sees it (the second rule fires
/// only once the first one's tag is on the ticket).
async fn a_burst_of_messages_is_tagged_once_per_message_with_each_change_seen_by_the_next(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let api = Api::new(&app).await;
    let tagger =
        create_rule(&api, json!({"name": "Tag", "event": "message_received", "actions": [{"type": "add_tags", "tags": ["seen"]}]})).await;
    let second = create_rule(
        &api,
        json!({
            "name": "Seen before",
            "position": 10,
            "event": "message_received",
            "conditions": {"all": [{"field": "tags", "op": "include_any", "tags": ["seen"]}]},
            "actions": [{"type": "set_priority", "priority": "high"}]
        }),
    )
    .await;
    let customers = ["4915100000001", "4915100000002", "4915100000003"];
    for round in 0..4 {
        for c in customers {
            app.sim().say(Say::text(c, &format!("message {round}"))).await.unwrap();
        }
    }
    let tickets = app
        .eventually("three tickets", || async {
            let t = app.store().list_tickets(&Default::default()).await.unwrap();
            (t.len() == 3).then(|| t.into_iter().map(|t| t.id).collect::<Vec<_>>())
        })
        .await;
    for ticket in tickets {
        app.eventually("every message tagged", || async {
            (rule_runs(&app, ticket).await.iter().filter(|e| e.data["rule_id"] == tagger).count() == 4).then_some(())
        })
        .await;
        rules_settled(&app).await;
        let runs = rule_runs(&app, ticket).await;
        assert_eq!(runs.iter().filter(|e| e.data["rule_id"] == tagger).count(), 4, "{runs:#?}");
        // The first message found no tag; each later one found the first one's.
        assert_eq!(runs.iter().filter(|e| e.data["rule_id"] == second).count(), 3, "{runs:#?}");
        let (_, t) = api.get(&format!("/api/v1/tickets/{ticket}")).await;
        assert_eq!((t["tags"].clone(), t["priority"].clone()), (json!(["seen"]), json!("high")), "{t}");
    }
    app.stop().await;
}
