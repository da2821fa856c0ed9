//! Replies through the outbox and the dispatcher, with the Cloud API simulator playing Meta over real
//! HTTP (SPEC 3, 4, 12, 14), on both backends.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use windowdesk_core::{DeliveryState, ManualClock, Timestamp};
use windowdesk_server::replies::{post_text_reply, ReplyOutcome};
use windowdesk_sim::{Fault, FaultPlan, Say, WindowEnforcement};
use windowdesk_store::testing::Backend;
use windowdesk_store::TicketFilter;

on_both_backends!(
    a_customer_message_becomes_a_ticket_and_the_reply_reaches_the_customer_then_is_read,
    w4_a_reply_at_exactly_window_end_is_blocked_and_meta_receives_nothing,
    d2_an_asynchronous_131047_ends_failed_with_its_reason,
    d3_three_500s_then_success_is_delivered_exactly_once,
    d3_throughput_errors_back_off_and_then_deliver,
    d3_permanent_errors_fail_at_once_with_a_human_reason,
    s12_a_thousand_replies_never_exceed_the_numbers_throughput,
    d3_a_queued_reply_that_reaches_the_dispatcher_at_window_end_is_blocked_not_sent,
);

const CUSTOMER: &str = "15550009876";

async fn queued(app: &TestApp, ticket: i64, body: &str) -> i64 {
    match post_text_reply(&app.running.state, ticket, body, "agent:1").await.unwrap() {
        ReplyOutcome::Queued { message_id, .. } => message_id,
        other => panic!("expected the reply to be queued, got {other:?}"),
    }
}

async fn a_customer_message_becomes_a_ticket_and_the_reply_reaches_the_customer_then_is_read(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let said = app.sim().say(Say::text(CUSTOMER, "Where is my parcel?").name("Rosa")).await.unwrap();
    let ticket = app.only_ticket().await;
    assert_eq!(app.store().ticket_messages(ticket).await.unwrap()[0].wamid.as_deref(), Some(said.wamid.as_str()));

    let id = queued(&app, ticket, "It left our warehouse this morning.").await;
    let received = app.eventually("the simulator to receive the reply", || async { app.sim().received().into_iter().next() }).await;
    assert_eq!(received.phone_number_id, PNID, "T4: sent from the ticket's business number");
    assert_eq!(received.to, CUSTOMER);
    assert_eq!(received.kind, "text");
    let m = app.wait_for_state(ticket, id, DeliveryState::Read).await;
    assert_eq!(m.wamid.as_deref(), Some(received.wamid.as_str()));
    let statuses: Vec<String> = app.store().status_events(app.bn, &received.wamid).await.unwrap().into_iter().map(|s| s.status).collect();
    assert!(
        statuses.contains(&"sent".into()) && statuses.contains(&"delivered".into()) && statuses.contains(&"read".into()),
        "{statuses:?}"
    );
    assert_eq!(app.sim().received().len(), 1);
    app.stop().await;
}

async fn w4_a_reply_at_exactly_window_end_is_blocked_and_meta_receives_nothing(backend: Backend) {
    let sent = now_secs() - 3600;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(sent + 10)));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    app.sim().say(Say::text(CUSTOMER, "hello?").at(sent)).await.unwrap();
    let ticket = app.only_ticket().await;
    let window_end = Timestamp::from_unix_seconds(sent + 24 * 3600);
    clock.set(window_end);
    match post_text_reply(&app.running.state, ticket, "Sorry for the wait", "agent:1").await.unwrap() {
        ReplyOutcome::Blocked { window_end: end, .. } => assert_eq!(end, Some(window_end)),
        other => panic!("expected blocked, got {other:?}"),
    }
    // A moment earlier it would have gone.
    clock.set(window_end.minus(Duration::from_millis(1)));
    let id = queued(&app, ticket, "Sorry for the wait").await;
    app.eventually("the reply to be sent", || async { (!app.sim().received().is_empty()).then_some(()) }).await;
    assert_eq!(app.sim().received().len(), 1, "only the reply made inside the window");
    app.eventually("Meta's wamid on the reply", || async { app.message(ticket, id).await.wamid }).await;
    app.stop().await;
}

async fn d2_an_asynchronous_131047_ends_failed_with_its_reason(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |c| c.window_enforcement = WindowEnforcement::Async).await;
    app.sim().say(Say::text(CUSTOMER, "hi")).await.unwrap();
    let ticket = app.only_ticket().await;
    // Meta's clock says the window has closed although the desk thinks it open: Meta answers 200, then
    // reports the failure as a status.
    app.sim().advance_clock(Duration::from_secs(25 * 3600));
    let id = queued(&app, ticket, "late answer").await;
    let m = app.wait_for_state(ticket, id, DeliveryState::Failed).await;
    assert_eq!(m.error_code, Some(131_047));
    let events = app.store().ticket_events(ticket).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "delivery_status" && e.data["status"] == "failed"));
    app.stop().await;
}

async fn d3_three_500s_then_success_is_delivered_exactly_once(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    app.sim().say(Say::text(CUSTOMER, "hi")).await.unwrap();
    let ticket = app.only_ticket().await;
    app.sim().set_fault(FaultPlan { count: Some(3), fault: Fault::ServerError });
    let id = queued(&app, ticket, "persistent").await;
    app.wait_for_state(ticket, id, DeliveryState::Read).await;
    assert_eq!(app.sim().received().len(), 1, "delivered exactly once");
    let retries = app.store().ticket_events(ticket).await.unwrap().into_iter().filter(|e| e.kind == "send_retry").count();
    assert_eq!(retries, 3);
    assert!(!app.message(ticket, id).await.maybe_duplicate);
    app.stop().await;
}

async fn d3_throughput_errors_back_off_and_then_deliver(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    app.sim().say(Say::text(CUSTOMER, "hi")).await.unwrap();
    let ticket = app.only_ticket().await;
    app.sim().set_fault(FaultPlan { count: Some(2), fault: Fault::Error { code: 130_429, http_status: 400 } });
    let id = queued(&app, ticket, "after the rush").await;
    app.wait_for_state(ticket, id, DeliveryState::Read).await;
    let retries: Vec<_> = app.store().ticket_events(ticket).await.unwrap().into_iter().filter(|e| e.kind == "send_retry").collect();
    assert_eq!(retries.len(), 2);
    assert_eq!(retries[0].data["error"]["code"], 130_429);
    let first_retry_at = retries[0].data["next_attempt_at"].as_i64().unwrap();
    assert!(first_retry_at > retries[0].at.unix_millis(), "a retry is scheduled later, not at once");
    app.stop().await;
}

async fn d3_permanent_errors_fail_at_once_with_a_human_reason(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    app.sim().say(Say::text(CUSTOMER, "hi")).await.unwrap();
    let ticket = app.only_ticket().await;
    app.sim().set_fault(FaultPlan { count: Some(1), fault: Fault::Error { code: 131_026, http_status: 400 } });
    let id = queued(&app, ticket, "undeliverable").await;
    let m = app.wait_for_state(ticket, id, DeliveryState::Failed).await;
    assert_eq!(m.error_code, Some(131_026));
    assert!(m.error_title.unwrap().contains("could not be delivered"));
    assert!(app.store().ticket_events(ticket).await.unwrap().iter().all(|e| e.kind != "send_retry"), "permanent errors are not retried");
    app.stop().await;
}

async fn s12_a_thousand_replies_never_exceed_the_numbers_throughput(backend: Backend) {
    const LIMIT: usize = 200;
    // Meta (the simulator) enforces the same limit: a single 130429 would show the desk went over.
    let app = TestApp::start_with_sim_throughput(backend, LIMIT).await;
    let customers: Vec<String> = (0..100).map(|i| format!("4917000{i:05}")).collect();
    for c in &customers {
        app.sim().say(Say::text(c, "hi")).await.unwrap();
    }
    let tickets = app.store().list_tickets(&TicketFilter { limit: 200, ..TicketFilter::default() }).await.unwrap();
    assert_eq!(tickets.len(), 100);
    for round in 0..10 {
        for t in &tickets {
            queued(&app, t.id, &format!("update {round}")).await;
        }
    }
    app.eventually("1000 replies at the simulator", || async { (app.sim().received().len() >= 1000).then_some(()) }).await;
    let mut at: Vec<i64> = app.sim().received().iter().map(|m| m.accepted_at_ms).collect();
    at.sort_unstable();
    let busiest = (0..at.len()).map(|i| at[i..].iter().take_while(|t| **t < at[i] + 1000).count()).max().unwrap();
    eprintln!("[{backend:?}] busiest one-second window: {busiest} sends (limit {LIMIT})");
    assert!(busiest <= LIMIT, "{busiest} sends within one second, limit {LIMIT}");
    let mut throttled = 0;
    for t in &tickets {
        throttled += app
            .store()
            .ticket_events(t.id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.kind == "send_retry" && e.data["error"]["code"] == 130_429)
            .count();
    }
    assert_eq!(throttled, 0, "the simulator answered 130429");
    app.stop().await;
}

async fn d3_a_queued_reply_that_reaches_the_dispatcher_at_window_end_is_blocked_not_sent(backend: Backend) {
    let sent = now_secs() - 3600;
    let window_end = Timestamp::from_unix_seconds(sent + 24 * 3600);
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(sent + 10)));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    app.sim().say(Say::text(CUSTOMER, "hello?").at(sent)).await.unwrap();
    let ticket = app.only_ticket().await;
    // Accepted while the window was open, but the dispatcher only gets to it at exactly window_end.
    clock.set(window_end);
    let queued = app
        .store()
        .enqueue(&windowdesk_store::NewOutbound {
            ticket_id: ticket,
            kind: "text".into(),
            body: Some("too late".into()),
            author: "agent:1".into(),
            request: serde_json::json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "too late"}})
                .to_string(),
            free_form: true,
            window_end: Some(window_end),
            now: window_end.minus(Duration::from_secs(1)),
            channel: Default::default(),
            hold_until: None,
            replaces: None,
        })
        .await
        .unwrap();
    app.running.state.outbox_wake.notify_one();
    app.wait_for_state(ticket, queued.message_id, DeliveryState::Blocked).await;
    assert!(app.sim().received().is_empty(), "W4: nothing is sent at exactly window_end");
    app.stop().await;
}
