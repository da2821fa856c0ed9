//! Automations at work (SPEC 10, issue 14 items 1, 2 and 5), on both backends, with the desk's clock
//! injected: the shipped holding message goes out once before a window closes outside business
//! hours, and not when the customer wrote again or an agent answered; three images are one
//! episode; a rule switched off fires nothing; an execution whose instance died is taken over and
//! sends nothing twice.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use windowdesk_core::{Clock, ManualClock, Timestamp};
use windowdesk_sim::{Say, WindowEnforcement};
use windowdesk_store::testing::Backend;
use windowdesk_store::{AutomationRun, RunFilter, RunState};

on_both_backends!(
    friday_19_00_gets_one_holding_message_on_saturday_inside_the_window,
    no_holding_message_when_the_customer_wrote_again_or_an_agent_answered,
    three_images_fire_one_automation_and_a_rule_switched_off_fires_nothing,
    an_execution_whose_instance_died_is_taken_over_and_sends_nothing_twice,
    the_shipped_nudge_reminds_the_assignee_after_4_business_hours_of_waiting,
    auto_close_closes_what_came_due_while_the_desk_ran_and_expires_what_came_due_during_downtime,
);

/// Friday 2026-12-04 19:00 in Berlin (18:00 UTC).
const FRIDAY_19_00: i64 = 1_796_407_200;
const HOUR: i64 = 3600;

fn office_hours() -> Value {
    json!({
        "name": "Office",
        "time_zone": "Europe/Berlin",
        "weekly": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"], "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]}
    })
}

/// A desk with the shipped rules, Berlin office hours on its number, and its clock at `at`.
async fn desk_at(backend: Backend, at: i64) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(at)));
    // The simulator keeps its own (real) clock; the window here is the desk's, on the desk's clock.
    let app = TestApp::start_with_sim_and_config(
        backend,
        Some(clock.clone()),
        |s| s.window_enforcement = WindowEnforcement::Off,
        |c| c.rules.seed_defaults = true,
    )
    .await;
    let api = Api::new(&app).await;
    let (_, schedule) = api.post("/api/v1/schedules", office_hours()).await;
    let (status, body) = api.put(&format!("/api/v1/numbers/{}/schedule", app.bn), json!({"schedule_id": schedule["id"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (app, clock)
}

async fn runs(app: &TestApp, ticket: i64) -> Vec<AutomationRun> {
    app.store().automation_runs(&RunFilter { ticket_id: Some(ticket), limit: 100, ..RunFilter::default() }).await.unwrap()
}

fn received_by(app: &TestApp, customer: &str) -> Vec<windowdesk_sim::ReceivedMessage> {
    app.sim().received().into_iter().filter(|m| m.to == customer).collect()
}

/// Lets the worker sweep (every second) and run what is due, a few times over.
async fn a_few_sweeps() {
    tokio::time::sleep(Duration::from_millis(3_500)).await;
}

async fn ticket_of(app: &TestApp, customer: &str) -> i64 {
    app.eventually("the customer's ticket", || async {
        let tickets = app.store().query_tickets(&windowdesk_store::TicketQuery { limit: 100, ..Default::default() }).await.unwrap();
        tickets.into_iter().find(|t| t.wa_id.as_deref() == Some(customer)).map(|t| t.ticket.id)
    })
    .await
}

/// The scenario: a customer writes on Friday at 19:00 (hours Monday to Friday 09-17). Their
/// window closes on Saturday at 19:00 with nobody at work before it, so the shipped default sends its
/// holding message on Saturday before 19:00, once, inside the window, saying the team is back on
/// Monday at 09:00.
async fn friday_19_00_gets_one_holding_message_on_saturday_inside_the_window(backend: Backend) {
    let (app, clock) = desk_at(backend, FRIDAY_19_00 + 5).await;
    let customer = "4915112345678";
    app.sim().say(Say::text(customer, "my order never arrived").at(FRIDAY_19_00)).await.unwrap();
    let ticket = ticket_of(&app, customer).await;
    app.eventually("the first-message auto-reply", || async { received_by(&app, customer).into_iter().next() }).await;

    // Saturday 18:00: an hour left, nothing yet.
    clock.set(Timestamp::from_unix_seconds(FRIDAY_19_00 + 23 * HOUR));
    a_few_sweeps().await;
    assert_eq!(received_by(&app, customer).len(), 1, "only the auto-reply so far");

    // Saturday 18:40: less than 30 minutes before the send deadline.
    clock.set(Timestamp::from_unix_seconds(FRIDAY_19_00 + 23 * HOUR + 40 * 60));
    let holding = app
        .eventually("the holding message", || async {
            received_by(&app, customer).into_iter().find(|m| m.text.as_deref().is_some_and(|t| t.contains("haven't forgotten")))
        })
        .await;
    assert_eq!(holding.kind, "text", "free-form, inside the window");
    let text = holding.text.unwrap();
    assert!(text.contains(&format!("ticket {ticket}")) && text.contains("Monday 09:00"), "{text}");

    // Later sweeps, and later on Saturday: still once.
    a_few_sweeps().await;
    clock.set(Timestamp::from_unix_seconds(FRIDAY_19_00 + 23 * HOUR + 55 * 60));
    a_few_sweeps().await;
    assert_eq!(received_by(&app, customer).len(), 2, "the auto-reply and one holding message");
    let runs = runs(&app, ticket).await;
    let fired: Vec<_> = runs.iter().filter(|r| r.state == RunState::Fired).collect();
    assert_eq!(fired.len(), 1, "{runs:#?}");
    let window_end = Timestamp::from_unix_seconds(FRIDAY_19_00 + 24 * HOUR);
    assert!(fired[0].due_at < window_end && fired[0].finished_at.unwrap() < window_end, "sent inside the window: {runs:#?}");
    assert_eq!(fired[0].outcome.as_ref().unwrap()[0]["ok"], true, "{runs:#?}");
    let sent = app.store().ticket_messages(ticket).await.unwrap();
    let by_rule: Vec<_> = sent.iter().filter(|m| m.author.as_deref() == Some(&format!("rule:{}", fired[0].rule_id))).collect();
    assert_eq!(by_rule.len(), 1);
    assert!(by_rule[0].sent_at < window_end, "queued before the window closed");
    app.stop().await;
}

/// Nothing goes out on Saturday evening when the customer wrote again at noon (the window now
/// closes on Sunday: the holding message waits for Sunday, and goes then, once), nor when an agent
/// answered (nobody is waiting).
async fn no_holding_message_when_the_customer_wrote_again_or_an_agent_answered(backend: Backend) {
    let (app, clock) = desk_at(backend, FRIDAY_19_00 + 5).await;
    let api = Api::new(&app).await;
    let (again, answered) = ("4915100000001", "4915100000002");
    app.sim().say(Say::text(again, "hello?").at(FRIDAY_19_00)).await.unwrap();
    app.sim().say(Say::text(answered, "hello?").at(FRIDAY_19_00)).await.unwrap();
    let (t_again, t_answered) = (ticket_of(&app, again).await, ticket_of(&app, answered).await);
    app.eventually("both auto-replies", || async { (app.sim().received().len() == 2).then_some(()) }).await;

    // Saturday 12:00: one customer writes again, an agent answers the other.
    let noon = FRIDAY_19_00 + 17 * HOUR;
    clock.set(Timestamp::from_unix_seconds(noon));
    app.sim().say(Say::text(again, "anyone there?").at(noon)).await.unwrap();
    let (status, body) = api.post(&format!("/api/v1/tickets/{t_answered}/replies"), json!({"body": "Looking into it now."})).await;
    assert!(status.is_success(), "{body}");
    app.eventually("the agent's reply", || async { (received_by(&app, answered).len() == 2).then_some(()) }).await;
    app.eventually("the second message on the ticket", || async {
        let window = app.store().ticket_summary(t_again).await.unwrap().unwrap().window;
        (window.last_inbound_at == Some(Timestamp::from_unix_seconds(noon))).then_some(())
    })
    .await;

    // Saturday 18:40, when the first holding message was due: nothing for either.
    clock.set(Timestamp::from_unix_seconds(FRIDAY_19_00 + 23 * HOUR + 40 * 60));
    a_few_sweeps().await;
    assert_eq!(received_by(&app, again).len(), 1, "{:#?}", received_by(&app, again));
    assert_eq!(received_by(&app, answered).len(), 2, "{:#?}", received_by(&app, answered));

    // Sunday 11:40: the refreshed window closes at 12:00 with nobody at work: now it goes, once.
    clock.set(Timestamp::from_unix_seconds(noon + 23 * HOUR + 40 * 60));
    app.eventually("the holding message on Sunday", || async { (received_by(&app, again).len() == 2).then_some(()) }).await;
    a_few_sweeps().await;
    assert_eq!(received_by(&app, again).len(), 2);
    assert_eq!(received_by(&app, answered).len(), 2, "an agent answered: never");
    assert!(runs(&app, t_answered).await.iter().all(|r| r.state != RunState::Fired));
    app.stop().await;
}

/// Three images arriving together are one episode: an automation on the time since the customer's
/// last message fires once. A rule switched off after it armed an execution fires nothing: its
/// armed execution is cancelled.
async fn three_images_fire_one_automation_and_a_rule_switched_off_fires_nothing(backend: Backend) {
    // A Tuesday, 10:00 in Berlin: inside business hours, so the shipped holding message stays quiet.
    let tuesday = FRIDAY_19_00 - 3 * 24 * HOUR - 9 * HOUR;
    let (app, clock) = desk_at(backend, tuesday + 5).await;
    let api = Api::new(&app).await;
    let nudge = |name: &str, text: &str| {
        json!({
            "name": name,
            "event": "automation",
            "conditions": {"all": [{"field": "time_since_last_customer_message", "op": "more_than", "minutes": 10}]},
            "actions": [{"type": "reply", "text": text}]
        })
    };
    let (status, kept) = api.post("/api/v1/rules", nudge("Nudge after 10 minutes", "Still there? We are on it.")).await;
    assert_eq!(status, StatusCode::CREATED, "{kept}");
    let (_, off) = api.post("/api/v1/rules", nudge("Another nudge, switched off before it is due", "You should not see this.")).await;
    let customer = "4915100000003";
    for i in 0..3 {
        app.sim().say(Say::image(customer, Some(&format!("photo {i}"))).at(tuesday)).await.unwrap();
    }
    let ticket = ticket_of(&app, customer).await;
    app.eventually("the auto-reply", || async { received_by(&app, customer).into_iter().next() }).await;

    // One second before they are due, the sweep (2 s ahead) has armed both.
    clock.set(Timestamp::from_unix_seconds(tuesday + 10 * 60));
    let armed = app
        .eventually("both executions armed", || async {
            let runs = runs(&app, ticket).await;
            (runs.iter().filter(|r| r.state == RunState::Armed).count() == 2).then_some(runs)
        })
        .await;
    assert!(armed.iter().all(|r| r.episode_key == format!("customer_message:{}", tuesday * 1000)), "{armed:#?}");
    let mut draft = off.clone();
    draft["enabled"] = json!(false);
    for k in ["id", "created_at", "created_by", "updated_at", "updated_by"] {
        draft.as_object_mut().unwrap().remove(k);
    }
    let (status, body) = api.put(&format!("/api/v1/rules/{}", off["id"]), draft).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    clock.set(Timestamp::from_unix_seconds(tuesday + 11 * 60));
    app.eventually("the nudge", || async { (received_by(&app, customer).len() == 2).then_some(()) }).await;
    a_few_sweeps().await;
    let received = received_by(&app, customer);
    assert_eq!(received.len(), 2, "the auto-reply and one nudge: {received:#?}");
    assert_eq!(received[1].text.as_deref(), Some("Still there? We are on it."));
    let runs = runs(&app, ticket).await;
    let of = |rule: &Value| runs.iter().filter(|r| r.rule_id == rule["id"].as_i64().unwrap()).collect::<Vec<_>>();
    let kept_runs = of(&kept);
    assert_eq!(kept_runs.len(), 1, "{runs:#?}");
    assert_eq!(kept_runs[0].state, RunState::Fired);
    let off_runs = of(&off);
    assert_eq!(off_runs.len(), 1, "{runs:#?}");
    assert_eq!(off_runs[0].state, RunState::Cancelled);
    assert_eq!(off_runs[0].reason.as_deref(), Some("the rule was switched off"));
    app.stop().await;
}

/// An instance claims a due execution, records its firing and queues its message, then dies before
/// it can say the execution is done. Once its claim runs out, the desk takes the execution over and
/// runs it again: the send's dedupe key queues nothing twice, so the customer gets one message.
async fn an_execution_whose_instance_died_is_taken_over_and_sends_nothing_twice(backend: Backend) {
    let tuesday = FRIDAY_19_00 - 3 * 24 * HOUR - 9 * HOUR;
    let (app, clock) = desk_at(backend, tuesday + 5).await;
    let api = Api::new(&app).await;
    let (status, rule) = api
        .post(
            "/api/v1/rules",
            json!({
                "name": "Nudge after 10 minutes",
                "event": "automation",
                "conditions": {"all": [{"field": "time_since_last_customer_message", "op": "more_than", "minutes": 10}]},
                "actions": [{"type": "reply", "text": "Still there?"}]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let customer = "4915100000004";
    app.sim().say(Say::text(customer, "hi").at(tuesday)).await.unwrap();
    let ticket = ticket_of(&app, customer).await;
    app.eventually("the auto-reply", || async { received_by(&app, customer).into_iter().next() }).await;
    let rule_id = rule["id"].as_i64().unwrap();
    let episode = format!("customer_message:{}", tuesday * 1000);
    // The dead instance got there first: armed, claimed, fired and queued, never finished.
    let due_at = Timestamp::from_unix_seconds(tuesday + 10 * 60).plus(Duration::from_millis(1));
    let store = app.store();
    store
        .arm_automations(&[windowdesk_store::ArmRun { rule_id, ticket_id: ticket, episode_key: episode.clone(), due_at }], due_at)
        .await
        .unwrap();
    let now = due_at.plus(Duration::from_secs(1));
    let claimed = store.claim_automation_runs("dead-instance", now, now.plus(Duration::from_secs(2)), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let key = format!("automation_run:{}", claimed[0].id);
    let firing =
        windowdesk_store::RuleFiring { rule_id, ticket_id: ticket, episode_key: Some(episode.clone()), trigger_key: key.clone(), at: now };
    assert!(store.record_firing(&firing).await.unwrap());
    clock.set(now);
    let queued = windowdesk_server::replies::post_text_reply_keyed(
        &app.running.state,
        ticket,
        "Still there?",
        &format!("rule:{rule_id}"),
        Some(&format!("{key}:action:0")),
    )
    .await
    .unwrap();
    assert!(matches!(queued, windowdesk_server::replies::ReplyOutcome::Queued { .. }));
    app.eventually("the dead instance's message", || async { (received_by(&app, customer).len() == 2).then_some(()) }).await;

    // Its claim runs out; the desk takes the execution over.
    clock.set(now.plus(Duration::from_secs(3)));
    let run = app
        .eventually("the execution taken over and finished", || async {
            runs(&app, ticket).await.into_iter().find(|r| r.id == claimed[0].id && r.state == RunState::Fired)
        })
        .await;
    assert_eq!(run.attempts, 2, "claimed twice: {run:#?}");
    a_few_sweeps().await;
    let received = received_by(&app, customer);
    assert_eq!(received.len(), 2, "the auto-reply and one nudge, not two: {received:#?}");
    assert_eq!(runs(&app, ticket).await.iter().filter(|r| r.rule_id == rule_id).count(), 1, "never armed again for the episode");
    let _ = clock.now();
    app.stop().await;
}

/// The shipped nudge (switched off until an admin switches it on): a customer who writes on Friday at
/// 16:00 and gets no answer has waited 4 business hours on Monday at 12:00; the assignee gets a
/// notification then, once, and nothing goes to the customer.
async fn the_shipped_nudge_reminds_the_assignee_after_4_business_hours_of_waiting(backend: Backend) {
    let friday_16_00 = FRIDAY_19_00 - 3 * HOUR;
    let (app, clock) = desk_at(backend, friday_16_00 + 5).await;
    let api = Api::new(&app).await;
    let (_, rules) = api.get("/api/v1/rules").await;
    let nudge = rules["data"].as_array().unwrap().iter().find(|r| r["name"].as_str().unwrap().starts_with("Nudge")).unwrap().clone();
    assert_eq!(nudge["enabled"], false, "shipped switched off");
    let mut draft = nudge.clone();
    draft["enabled"] = json!(true);
    for k in ["id", "created_at", "created_by", "updated_at", "updated_by"] {
        draft.as_object_mut().unwrap().remove(k);
    }
    let (status, body) = api.put(&format!("/api/v1/rules/{}", nudge["id"]), draft).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, agent) = api.post("/api/v1/agents", json!({"name": "Ana", "email": "ana@example.com"})).await;
    let agent_id = agent["id"].as_i64().unwrap();

    let customer = "4915100000005";
    app.sim().say(Say::text(customer, "where is my parcel?").at(friday_16_00)).await.unwrap();
    let ticket = ticket_of(&app, customer).await;
    let (status, body) = api.patch(&format!("/api/v1/tickets/{ticket}"), json!({"assignee_id": agent_id})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Monday 11:59: 3 h 59 min of business time. Monday 12:01: past 4 hours.
    clock.set(Timestamp::from_unix_seconds(friday_16_00 + 3 * 24 * HOUR - 4 * HOUR - 60));
    a_few_sweeps().await;
    assert!(app.store().notifications(agent_id, 10).await.unwrap().is_empty(), "not yet");
    clock.set(Timestamp::from_unix_seconds(friday_16_00 + 3 * 24 * HOUR - 4 * HOUR + 60));
    let notes = app
        .eventually("the nudge", || async {
            let n = app.store().notifications(agent_id, 10).await.unwrap();
            (!n.is_empty()).then_some(n)
        })
        .await;
    a_few_sweeps().await;
    assert_eq!(app.store().notifications(agent_id, 10).await.unwrap().len(), 1, "once: {notes:#?}");
    let fired = runs(&app, ticket).await.into_iter().find(|r| r.rule_id == nudge["id"].as_i64().unwrap()).unwrap();
    assert_eq!(fired.state, RunState::Fired);
    assert_eq!(fired.outcome.as_ref().unwrap()[0]["action"], "notify_assignee");
    assert_eq!(fired.outcome.as_ref().unwrap()[0]["ok"], true, "{fired:#?}");
    assert!(
        received_by(&app, customer).iter().all(|m| !m.text.as_deref().unwrap_or("").contains("waiting")),
        "the nudge is for the team, not the customer"
    );
    app.stop().await;
}

/// The shipped auto-close (solved tickets close after 4 days) on both backends alike: a ticket that
/// came due a minute before the desk looked is closed; one that came due two hours before (the
/// desk was down longer than `rules.overdue_limit_minutes`, 60) is expired with the reason, and
/// stays solved. (At 10 million messages the PostgreSQL desk expired old solved tickets the SQLite
/// one closed: its rules had been saved 80 minutes before its first sweep, while generating, and
/// SQLite's 27, so what was due at the rules' saving was overdue by more than the limit on one
/// only. Same rule, same outcome for the same times.)
async fn auto_close_closes_what_came_due_while_the_desk_ran_and_expires_what_came_due_during_downtime(backend: Backend) {
    let start = FRIDAY_19_00 - 10 * 24 * HOUR;
    let (app, clock) = desk_at(backend, start).await;
    let api = Api::new(&app).await;
    let (early, late) = ("4915100000001", "4915100000002");
    app.sim().say(Say::text(early, "hallo").at(start)).await.unwrap();
    app.sim().say(Say::text(late, "hallo").at(start)).await.unwrap();
    let (early_ticket, late_ticket) = (ticket_of(&app, early).await, ticket_of(&app, late).await);
    // `early` is solved two hours before `late`.
    clock.set(Timestamp::from_unix_seconds(start + HOUR));
    let (s, b) = api.patch(&format!("/api/v1/tickets/{early_ticket}"), json!({"status": "solved"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    clock.set(Timestamp::from_unix_seconds(start + 3 * HOUR));
    let (s, b) = api.patch(&format!("/api/v1/tickets/{late_ticket}"), json!({"status": "solved"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // The desk next looks a minute after `late` came due: `early` came due 2 h before.
    clock.set(Timestamp::from_unix_seconds(start + 3 * HOUR + 4 * 24 * HOUR + 60));
    let status = |id: i64| {
        let api = &api;
        async move { api.get(&format!("/api/v1/tickets/{id}")).await.1["status"].as_str().unwrap().to_owned() }
    };
    app.eventually("the late one closed", || async { (status(late_ticket).await == "closed").then_some(()) }).await;
    let expired = app
        .eventually("the early one expired", || async { runs(&app, early_ticket).await.into_iter().find(|r| r.state == RunState::Expired) })
        .await;
    // The sweep looks back no further than just past the limit: what was due earlier is found
    // there, overdue by just over the limit.
    assert!(expired.reason.as_deref().unwrap_or_default().starts_with("overdue by 1 h 0 min, more than the limit"), "{expired:?}");
    assert_eq!(status(early_ticket).await, "solved", "an expired execution changes nothing");
    app.stop().await;
}
