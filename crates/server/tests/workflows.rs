//! Workflows at work (SPEC 10, issue 14 item 3), on both backends, with the desk's clock injected:
//! a Window check sends free-form while the window is open and the template once it closed; a wait
//! lets the run go and it goes on when due; an automation workflow starts once per episode; a run
//! whose instance died is taken over from its cursor and sends nothing twice; the API refuses
//! free-form after a 25 h wait naming the step, and switching a workflow off cancels what waits.

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
use windowdesk_store::{WorkflowRun, WorkflowRunFilter, WorkflowRunState};

on_both_backends!(
    a_window_check_sends_free_form_while_open_then_after_a_25_hour_wait_the_template,
    an_automation_workflow_starts_once_per_episode,
    a_run_whose_instance_died_goes_on_from_its_cursor_and_sends_nothing_twice,
    free_form_after_a_25_hour_wait_is_refused_naming_the_step_and_switching_off_cancels_waiting_runs,
);

/// Tuesday 2026-12-01 10:00 in Berlin (09:00 UTC).
const TUESDAY_10_00: i64 = 1_796_115_600;
const MINUTE: i64 = 60;
const HOUR: i64 = 3600;

async fn desk_at(backend: Backend, at: i64) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(at)));
    // The simulator keeps its own (real) clock; the window here is the desk's, on the desk's clock.
    let app =
        TestApp::start_with_sim_and_config(backend, Some(clock.clone()), |s| s.window_enforcement = WindowEnforcement::Off, |_| {}).await;
    app.sync_templates().await;
    (app, clock)
}

fn reply(text: &str) -> Value {
    json!({"type": "do", "action": {"type": "reply", "text": text}})
}

fn hello_template() -> Value {
    json!({"type": "do", "action": {"type": "send_template", "name": "hello_world", "language": "en_US"}})
}

fn received_by(app: &TestApp, customer: &str) -> Vec<windowdesk_sim::ReceivedMessage> {
    app.sim().received().into_iter().filter(|m| m.to == customer).collect()
}

async fn ticket_of(app: &TestApp, customer: &str) -> i64 {
    app.eventually("the customer's ticket", || async {
        let tickets = app.store().query_tickets(&windowdesk_store::TicketQuery { limit: 100, ..Default::default() }).await.unwrap();
        tickets.into_iter().find(|t| t.wa_id.as_deref() == Some(customer)).map(|t| t.ticket.id)
    })
    .await
}

async fn runs(app: &TestApp, ticket: i64) -> Vec<WorkflowRun> {
    app.store().workflow_runs(&WorkflowRunFilter { ticket_id: Some(ticket), limit: 100, ..WorkflowRunFilter::default() }).await.unwrap()
}

/// Lets the runner and the sweep (every second) do what is due, a few times over.
async fn a_few_rounds() {
    tokio::time::sleep(Duration::from_millis(3_500)).await;
}

/// The HighLevel shape, twice over: a customer writes, the Window check finds the window open and
/// the free-form step goes out; the run waits 25 hours (it lets go meanwhile: `waiting`, its
/// cursor on the step after the wait); when it goes on, the second Window check finds the window
/// closed and the template goes out instead. Each step is recorded on the run and on the ticket.
async fn a_window_check_sends_free_form_while_open_then_after_a_25_hour_wait_the_template(backend: Backend) {
    let (app, clock) = desk_at(backend, TUESDAY_10_00).await;
    let api = Api::new(&app).await;
    let (status, workflow) = api
        .post(
            "/api/v1/workflows",
            json!({
                "name": "Answer, then follow up a day later",
                "event": "message_received",
                "conditions": {"all": [{"field": "message_text", "op": "contains_any", "words": ["refund"]}]},
                "steps": [
                    {"type": "window_check", "open": [reply("Hi {{firstName || there}}, we got your refund request.")], "closed": [hello_template()]},
                    {"type": "wait", "minutes": 1500},
                    {"type": "window_check", "open": [reply("Did the refund arrive?")], "closed": [hello_template()]}
                ]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{workflow}");
    let customer = "4915100000011";
    app.sim().say(Say::text(customer, "I want a refund").name("Marta Silva").at(TUESDAY_10_00)).await.unwrap();
    let ticket = ticket_of(&app, customer).await;
    let first = app.eventually("the free-form answer", || async { received_by(&app, customer).into_iter().next() }).await;
    assert_eq!(first.kind, "text");
    assert_eq!(first.text.as_deref(), Some("Hi Marta, we got your refund request."));
    let waiting = app
        .eventually("the run waiting", || async {
            runs(&app, ticket).await.into_iter().find(|r| r.state == WorkflowRunState::Waiting && r.cursor.as_deref() == Some("steps[2]"))
        })
        .await;
    assert_eq!(waiting.resume_at, Timestamp::from_unix_seconds(TUESDAY_10_00 + 25 * HOUR));
    assert_eq!(waiting.start_key.split(':').next(), Some("message"));

    // A day later: still waiting, nothing more.
    clock.set(Timestamp::from_unix_seconds(TUESDAY_10_00 + 24 * HOUR));
    a_few_rounds().await;
    assert_eq!(received_by(&app, customer).len(), 1);

    // 25 hours on, the window has closed: the template.
    clock.set(Timestamp::from_unix_seconds(TUESDAY_10_00 + 25 * HOUR + MINUTE));
    let second = app.eventually("the template", || async { received_by(&app, customer).into_iter().nth(1) }).await;
    assert_eq!(second.kind, "template");
    assert_eq!(second.template.as_ref().map(|t| t.name.as_str()), Some("hello_world"));
    a_few_rounds().await;
    assert_eq!(received_by(&app, customer).len(), 2, "once each");

    let run =
        app.eventually("the run done", || async { runs(&app, ticket).await.into_iter().find(|r| r.state == WorkflowRunState::Done) }).await;
    let (status, detail) = api.get(&format!("/api/v1/workflow-runs/{}", run.id)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let steps: Vec<(String, String)> = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["path"].as_str().unwrap().to_owned(), s["step"].as_str().unwrap().to_owned()))
        .collect();
    let expect = [
        ("steps[0]", "window_check"),
        ("steps[0].open[0]", "reply"),
        ("steps[1]", "wait"),
        ("steps[2]", "window_check"),
        ("steps[2].closed[0]", "send_template"),
    ];
    assert_eq!(steps, expect.map(|(p, k)| (p.to_owned(), k.to_owned())), "{detail:#}");
    assert!(detail["steps"][0]["outcome"].as_str().unwrap().starts_with("open"), "{detail:#}");
    assert!(detail["steps"][3]["outcome"].as_str().unwrap().starts_with("closed"), "{detail:#}");
    assert!(detail["steps"].as_array().unwrap().iter().all(|s| s["ok"] == true), "{detail:#}");
    // On the ticket: one event per step, by the workflow.
    let events = app.store().ticket_events(ticket).await.unwrap();
    let recorded: Vec<_> = events.iter().filter(|e| e.kind == "workflow_step").collect();
    assert_eq!(recorded.len(), 5, "{events:#?}");
    assert!(recorded.iter().all(|e| e.actor == format!("workflow:{}", workflow["id"])));
    let outcome = recorded[4].data["outcome"].as_str().unwrap();
    assert!(outcome.starts_with("template hello_world (en_US) queued"), "{outcome}");
    app.stop().await;
}

/// An automation workflow is armed by the sweep and started when due, once per episode: the
/// customer's message 10 minutes old starts it, later sweeps start nothing more.
async fn an_automation_workflow_starts_once_per_episode(backend: Backend) {
    let (app, clock) = desk_at(backend, TUESDAY_10_00).await;
    let api = Api::new(&app).await;
    let (status, workflow) = api
        .post(
            "/api/v1/workflows",
            json!({
                "name": "Check in after 10 minutes",
                "event": "automation",
                "conditions": {"all": [{"field": "time_since_last_customer_message", "op": "more_than", "minutes": 10}]},
                "steps": [
                    {"type": "window_check", "open": [reply("Still with us? Ticket {{ticket.id}}.")], "closed": [hello_template()]},
                    {"type": "do", "action": {"type": "add_tags", "tags": ["checked-in"]}}
                ]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{workflow}");
    let customer = "4915100000012";
    for i in 0..3 {
        app.sim().say(Say::image(customer, Some(&format!("photo {i}"))).at(TUESDAY_10_00)).await.unwrap();
    }
    let ticket = ticket_of(&app, customer).await;
    clock.set(Timestamp::from_unix_seconds(TUESDAY_10_00 + 10 * MINUTE));
    let armed = app
        .eventually("the run armed", || async { runs(&app, ticket).await.into_iter().find(|r| r.state == WorkflowRunState::Armed) })
        .await;
    assert_eq!(armed.start_key, format!("customer_message:{}", TUESDAY_10_00 * 1000));
    clock.set(Timestamp::from_unix_seconds(TUESDAY_10_00 + 11 * MINUTE));
    let sent = app.eventually("the check-in", || async { received_by(&app, customer).into_iter().next() }).await;
    assert_eq!(sent.text, Some(format!("Still with us? Ticket {ticket}.")));
    a_few_rounds().await;
    clock.set(Timestamp::from_unix_seconds(TUESDAY_10_00 + 30 * MINUTE));
    a_few_rounds().await;
    assert_eq!(received_by(&app, customer).len(), 1, "three images, one episode, one run");
    let all = runs(&app, ticket).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].state, WorkflowRunState::Done, "{all:#?}");
    let summary = app.store().ticket_summary(ticket).await.unwrap().unwrap();
    assert!(summary.tags.contains(&"checked-in".to_owned()), "{:?}", summary.tags);
    app.stop().await;
}

/// An instance claims a waiting run, does its next step (the reply goes out with its dedupe key)
/// and dies before recording it. Once its claim runs out the desk takes the run over from the
/// cursor it left: the step runs again without a second message, and the run goes on to the end.
async fn a_run_whose_instance_died_goes_on_from_its_cursor_and_sends_nothing_twice(backend: Backend) {
    let (app, clock) = desk_at(backend, TUESDAY_10_00).await;
    let api = Api::new(&app).await;
    let (status, workflow) = api
        .post(
            "/api/v1/workflows",
            json!({
                "name": "Tag, wait, answer",
                "event": "message_received",
                "steps": [
                    {"type": "do", "action": {"type": "add_tags", "tags": ["seen"]}},
                    {"type": "wait", "minutes": 10},
                    {"type": "window_check", "open": [reply("Thanks for waiting.")], "closed": []}
                ]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{workflow}");
    let customer = "4915100000013";
    app.sim().say(Say::text(customer, "hello").at(TUESDAY_10_00)).await.unwrap();
    let ticket = ticket_of(&app, customer).await;
    // A run starts as `waiting` at steps[0] (due at once); wait for the one the wait step left.
    let waiting = app
        .eventually("the run waiting at steps[2]", || async {
            runs(&app, ticket).await.into_iter().find(|r| r.state == WorkflowRunState::Waiting && r.cursor.as_deref() == Some("steps[2]"))
        })
        .await;
    assert_eq!(waiting.attempts, 1, "{waiting:#?}");

    // The dead instance: claims the run when due, sends the reply the Open branch holds, dies.
    let due = Timestamp::from_unix_seconds(TUESDAY_10_00 + 10 * MINUTE);
    let store = app.store();
    let claimed = store.claim_workflow_runs("dead-instance", due, due.plus(Duration::from_secs(2)), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    clock.set(due);
    let key = format!("workflow_run:{}:steps[2].open[0]", claimed[0].id);
    let queued = windowdesk_server::replies::post_text_reply_keyed(
        &app.running.state,
        ticket,
        "Thanks for waiting.",
        &format!("workflow:{}", workflow["id"]),
        Some(&key),
    )
    .await
    .unwrap();
    assert!(matches!(queued, windowdesk_server::replies::ReplyOutcome::Queued { .. }));
    app.eventually("the dead instance's message", || async { received_by(&app, customer).into_iter().next() }).await;

    // Its claim runs out: the desk takes over from steps[2].
    clock.set(due.plus(Duration::from_secs(3)));
    let run = app
        .eventually("the run taken over and done", || async {
            runs(&app, ticket).await.into_iter().find(|r| r.id == claimed[0].id && r.state == WorkflowRunState::Done)
        })
        .await;
    assert_eq!(run.attempts, 3, "set off, the dead claim, the takeover: {run:#?}");
    a_few_rounds().await;
    assert_eq!(received_by(&app, customer).len(), 1, "one message, not two");
    let steps = store.workflow_run_steps(run.id).await.unwrap();
    let paths: Vec<&str> = steps.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["steps[0]", "steps[1]", "steps[2]", "steps[2].open[0]"]);
    assert!(steps[3].outcome.contains("reply queued"), "{steps:#?}");
    app.stop().await;
}

/// Saving refuses free-form after a wait that can outlast the window, naming the step (and the
/// check endpoint says the same without saving); switching a workflow off cancels its waiting runs.
async fn free_form_after_a_25_hour_wait_is_refused_naming_the_step_and_switching_off_cancels_waiting_runs(backend: Backend) {
    let (app, clock) = desk_at(backend, TUESDAY_10_00).await;
    let api = Api::new(&app).await;
    let refused = json!({
        "name": "Follow up",
        "event": "message_received",
        "steps": [{"type": "window_check", "open": [{"type": "wait", "minutes": 1500}, reply("Still there?")], "closed": [hello_template()]}]
    });
    let (status, body) = api.post("/api/v1/workflows", refused.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["field"], "steps[0].open[1]", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("steps[0].open[1]: this free-form reply comes after a wait of 1500 minutes"), "{message}");
    assert_eq!(message.matches("steps[0].open[1]").count(), 1, "the path is said once: {message}");
    let (status, check) = api.post("/api/v1/workflows/check", refused).await;
    assert_eq!(status, StatusCode::OK, "{check}");
    assert_eq!(check["ok"], false);
    assert_eq!(check["errors"][0]["path"], "steps[0].open[1]");
    let (_, listed) = api.get("/api/v1/workflows").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0, "nothing saved");
    let (status, body) =
        api.post("/api/v1/workflows", json!({"name": "x", "event": "message_received", "steps": [{"type": "jump"}]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Fixed with a Window check after the wait: saved; it sets off a run that waits.
    let fixed = json!({
        "name": "Follow up",
        "event": "message_received",
        "steps": [{"type": "wait", "minutes": 1500}, {"type": "window_check", "open": [reply("Still there?")], "closed": [hello_template()]}]
    });
    let (status, saved) = api.post("/api/v1/workflows", fixed.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let customer = "4915100000014";
    app.sim().say(Say::text(customer, "hello").at(TUESDAY_10_00)).await.unwrap();
    let ticket = ticket_of(&app, customer).await;
    app.eventually("the run waiting", || async { runs(&app, ticket).await.into_iter().find(|r| r.state == WorkflowRunState::Waiting) })
        .await;
    let mut off = fixed;
    off["enabled"] = json!(false);
    let (status, body) = api.put(&format!("/api/v1/workflows/{}", saved["id"]), off).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["enabled"], false);
    let all = app
        .eventually("the waiting run cancelled", || async {
            let all = runs(&app, ticket).await;
            (all[0].state == WorkflowRunState::Cancelled).then_some(all)
        })
        .await;
    // Switched off while waiting, or (when the PUT came while the runner had it) as it let go.
    assert!(all[0].reason.as_deref().unwrap().starts_with("the workflow was switched off"), "{all:#?}");
    clock.set(Timestamp::from_unix_seconds(TUESDAY_10_00 + 26 * HOUR));
    a_few_rounds().await;
    assert!(received_by(&app, customer).is_empty(), "{:#?}", received_by(&app, customer));
    let (status, listed) = api.get(&format!("/api/v1/workflow-runs?workflow_id={}&state=cancelled", saved["id"])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    let status = api.delete(&format!("/api/v1/workflows/{}", saved["id"])).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.stop().await;
}
