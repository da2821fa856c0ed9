//! The durable outbox (SPEC D2-D5) on both backends: enqueue, claim, outcomes, and recovery after a crash.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use windowdesk_core::{DeliveryState, Timestamp};
use windowdesk_store::testing::Backend;
use windowdesk_store::{AttemptOutcome, NewOutbound, SendError, StoreError, TicketFilter};

on_both_backends!(
    d5_a_reply_is_committed_then_claimed_once_then_accepted,
    d5_statuses_that_beat_the_accept_are_applied,
    d3_transient_errors_requeue_with_the_next_attempt_time,
    d2_failures_and_blocks_end_the_message_with_a_reason,
    d5_interrupted_sends_are_requeued_and_marked_maybe_sent_twice,
    enqueue_refuses_closed_and_unknown_tickets,
    d5_concurrent_claims_never_share_a_row,
);

async fn ticket_with_customer(app: &TestApp) -> i64 {
    assert_eq!(app.post(&text(&format!("wamid.in-{}", now_secs()), "15550001234", now_secs() - 60, "hello")).await, 200);
    app.store().list_tickets(&TicketFilter::default()).await.unwrap()[0].id
}

fn reply(ticket_id: i64, body: &str, now: Timestamp) -> NewOutbound {
    NewOutbound {
        ticket_id,
        kind: "text".into(),
        body: Some(body.into()),
        author: "agent:1".into(),
        request: serde_json::json!({"messaging_product": "whatsapp", "to": "15550001234", "type": "text", "text": {"body": body}})
            .to_string(),
        free_form: true,
        window_end: Some(now.plus(Duration::from_secs(3600))),
        now,
        channel: Default::default(),
        hold_until: None,
        replaces: None,
    }
}

/// The tests' "now" is a day ahead of the desk's own clock: the desk's dispatcher, which runs beside
/// these store-level tests, then never finds their rows due and cannot race the test for a claim.
fn now() -> Timestamp {
    Timestamp::from_unix_seconds(now_secs() + 86_400)
}

async fn state_of(app: &TestApp, ticket: i64, message_id: i64) -> windowdesk_store::MessageRow {
    app.store().ticket_messages(ticket).await.unwrap().into_iter().find(|m| m.id == message_id).unwrap()
}

async fn d5_a_reply_is_committed_then_claimed_once_then_accepted(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ticket = ticket_with_customer(&app).await;
    let t = now();
    let q = app.store().enqueue(&reply(ticket, "Your order ships today", t)).await.unwrap();
    let m = state_of(&app, ticket, q.message_id).await;
    assert_eq!(m.delivery_state, Some(DeliveryState::Queued));
    assert_eq!(m.author.as_deref(), Some("agent:1"));
    let row = app.store().ticket(ticket).await.unwrap().unwrap();
    assert_eq!(row.status, windowdesk_core::TicketStatus::Open, "T1: the first agent reply makes a new ticket open");
    assert_eq!(app.store().next_due().await.unwrap(), Some(t));

    let jobs = app.store().claim_due(t, 10, "w1").await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].message_id, jobs[0].attempt, jobs[0].recipient.as_str()), (q.message_id, 1, "15550001234"));
    assert!(app.store().claim_due(t, 10, "w2").await.unwrap().is_empty(), "a claimed row is nobody else's");
    assert_eq!(state_of(&app, ticket, q.message_id).await.delivery_state, Some(DeliveryState::Sending));

    app.store().finish_attempt(&jobs[0], &AttemptOutcome::Accepted { wamid: "wamid.out1".into() }, t).await.unwrap();
    let m = state_of(&app, ticket, q.message_id).await;
    assert_eq!((m.delivery_state, m.wamid.as_deref()), (Some(DeliveryState::Accepted), Some("wamid.out1")));
    assert_eq!(app.store().next_due().await.unwrap(), None);
    // Meta's statuses now find it.
    assert_eq!(app.post(&statuses(vec![status("wamid.out1", "delivered", now_secs())])).await, 200);
    assert_eq!(state_of(&app, ticket, q.message_id).await.delivery_state, Some(DeliveryState::Delivered));
    let events = app.store().ticket_events(ticket).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "reply_queued") && events.iter().any(|e| e.kind == "message_sent"));
    app.stop().await;
}

async fn d5_statuses_that_beat_the_accept_are_applied(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ticket = ticket_with_customer(&app).await;
    let q = app.store().enqueue(&reply(ticket, "hi", now())).await.unwrap();
    let jobs = app.store().claim_due(now(), 10, "w1").await.unwrap();
    // The status webhook arrives while our send call is still returning.
    assert_eq!(app.post(&statuses(vec![status("wamid.fast", "read", now_secs())])).await, 200);
    app.store().finish_attempt(&jobs[0], &AttemptOutcome::Accepted { wamid: "wamid.fast".into() }, now()).await.unwrap();
    assert_eq!(state_of(&app, ticket, q.message_id).await.delivery_state, Some(DeliveryState::Read));
    app.stop().await;
}

async fn d3_transient_errors_requeue_with_the_next_attempt_time(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ticket = ticket_with_customer(&app).await;
    let t = now();
    let q = app.store().enqueue(&reply(ticket, "retry me", t)).await.unwrap();
    let job = app.store().claim_due(t, 10, "w1").await.unwrap().remove(0);
    let error = SendError { http_status: Some(500), code: None, title: "HTTP 500".into(), details: None };
    let later = t.plus(Duration::from_secs(2));
    app.store().finish_attempt(&job, &AttemptOutcome::Retry { next_attempt_at: later, error }, t).await.unwrap();
    let m = state_of(&app, ticket, q.message_id).await;
    assert_eq!(m.delivery_state, Some(DeliveryState::Queued));
    assert_eq!(m.error_title.as_deref(), Some("HTTP 500"));
    assert!(app.store().claim_due(t, 10, "w1").await.unwrap().is_empty(), "not before its time");
    let again = app.store().claim_due(later, 10, "w1").await.unwrap();
    assert_eq!(again[0].attempt, 2);
    app.stop().await;
}

async fn d2_failures_and_blocks_end_the_message_with_a_reason(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ticket = ticket_with_customer(&app).await;
    let a = app.store().enqueue(&reply(ticket, "late", now())).await.unwrap();
    let b = app.store().enqueue(&reply(ticket, "later", now())).await.unwrap();
    let jobs = app.store().claim_due(now(), 10, "w1").await.unwrap();
    assert_eq!(jobs.len(), 2);
    let error = SendError {
        http_status: Some(400),
        code: Some(131_047),
        title: "Re-engagement message".into(),
        details: Some("24 hours passed".into()),
    };
    app.store().finish_attempt(&jobs[0], &AttemptOutcome::Failed { error }, now()).await.unwrap();
    app.store().finish_attempt(&jobs[1], &AttemptOutcome::Blocked, now()).await.unwrap();
    let ma = state_of(&app, ticket, a.message_id).await;
    assert_eq!((ma.delivery_state, ma.error_code), (Some(DeliveryState::Failed), Some(131_047)));
    let mb = state_of(&app, ticket, b.message_id).await;
    assert_eq!((mb.delivery_state, mb.error_title.as_deref()), (Some(DeliveryState::Blocked), Some("window closed")));
    let kinds: Vec<String> = app.store().ticket_events(ticket).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&"delivery_failed".to_owned()) && kinds.contains(&"delivery_blocked".to_owned()), "{kinds:?}");
    // A finished job cannot be finished again.
    let err = app.store().finish_attempt(&jobs[0], &AttemptOutcome::Accepted { wamid: "w".into() }, now()).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)));
    app.stop().await;
}

async fn d5_interrupted_sends_are_requeued_and_marked_maybe_sent_twice(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ticket = ticket_with_customer(&app).await;
    let t = now();
    let q = app.store().enqueue(&reply(ticket, "in flight when we died", t)).await.unwrap();
    let stale = app.store().claim_due(t, 10, "dead-worker").await.unwrap().remove(0);
    // Restart: claims older than the restart are orphans.
    let restart = t.plus(Duration::from_secs(1));
    assert_eq!(app.store().recover_interrupted(restart, restart).await.unwrap(), 1);
    let m = state_of(&app, ticket, q.message_id).await;
    assert!(m.maybe_duplicate);
    assert_eq!(m.delivery_state, Some(DeliveryState::Queued));
    let fresh = app.store().claim_due(restart, 10, "new-worker").await.unwrap().remove(0);
    assert_eq!(fresh.attempt, 2);
    assert!(matches!(
        app.store().finish_attempt(&stale, &AttemptOutcome::Accepted { wamid: "w.stale".into() }, restart).await,
        Err(StoreError::Conflict(_))
    ));
    app.store().finish_attempt(&fresh, &AttemptOutcome::Accepted { wamid: "w.fresh".into() }, restart).await.unwrap();
    let events = app.store().ticket_events(ticket).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "send_interrupted" && e.data["may_have_been_sent_twice"] == true));
    app.stop().await;
}

async fn enqueue_refuses_closed_and_unknown_tickets(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ticket = ticket_with_customer(&app).await;
    app.store().set_ticket_status(ticket, windowdesk_core::TicketStatus::Closed, "system").await.unwrap();
    assert!(matches!(app.store().enqueue(&reply(ticket, "x", now())).await, Err(StoreError::Conflict(_))));
    assert!(matches!(app.store().enqueue(&reply(9_999_999, "x", now())).await, Err(StoreError::NotFound(_))));
    app.stop().await;
}

async fn d5_concurrent_claims_never_share_a_row(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ticket = ticket_with_customer(&app).await;
    let t = now();
    for i in 0..40 {
        app.store().enqueue(&reply(ticket, &format!("reply {i}"), t)).await.unwrap();
    }
    let claims = futures::future::join_all((0..4).map(|w| {
        let store = app.store().clone();
        async move { store.claim_due(t, 15, &format!("w{w}")).await.unwrap() }
    }))
    .await;
    let mut seen = HashSet::new();
    for job in claims.iter().flatten() {
        assert!(seen.insert(job.outbox_id), "row {} claimed twice", job.outbox_id);
    }
    assert_eq!(seen.len(), 40);
    app.stop().await;
}
