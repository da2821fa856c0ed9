//! The durable outbox (SPEC D2-D5) on both backends: enqueue, claim, outcomes, and recovery after a crash.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use windowdesk_core::{DeliveryState, Timestamp};
use windowdesk_store::testing::Backend;
use windowdesk_store::{AttemptOutcome, Lease, NewOutbound, OutboxJob, SendClaim, SendError, StoreError, TicketFilter};

on_both_backends!(
    d5_a_reply_is_committed_then_claimed_once_then_accepted,
    d5_statuses_that_beat_the_accept_are_applied,
    d3_transient_errors_requeue_with_the_next_attempt_time,
    d2_failures_and_blocks_end_the_message_with_a_reason,
    d5_interrupted_sends_are_requeued_and_marked_maybe_sent_twice,
    d5_a_claim_never_started_is_taken_over_quietly,
    d5_a_sender_that_lost_its_number_is_fenced_off,
    d5_a_claim_is_only_for_the_holder_of_the_numbers_lease,
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
        dedupe_key: None,
        media: None,
        reply_to_wamid: None,
        estimate: None,
    }
}

/// The tests' "now" is a day ahead of the desk's own clock: the desk's dispatcher, which runs beside
/// these store-level tests, then never finds their rows due and cannot race the test for a claim.
fn now() -> Timestamp {
    Timestamp::from_unix_seconds(now_secs() + 86_400)
}

/// Takes the ticket's business number's sending lease for `worker` (from the desk's own dispatcher,
/// which then cannot take it back: the lease runs a day ahead of its clock, like the tests' "now").
async fn hold_number(app: &TestApp, ticket: i64, worker: &str) -> SendClaim {
    let bn = app.store().ticket(ticket).await.unwrap().unwrap().business_number_id;
    let lease = app.store().acquire_lease(&Lease::send_name(bn), worker, now(), Duration::from_secs(3600), true).await.unwrap().unwrap();
    SendClaim { worker: worker.into(), numbers: vec![(bn, lease.generation)] }
}

async fn start(app: &TestApp, job: &OutboxJob, worker: &str) -> bool {
    app.store().start_attempts(std::slice::from_ref(job), worker, now(), now()).await.unwrap()[0]
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

    let w1 = hold_number(&app, ticket, "w1").await;
    let jobs = app.store().claim_due(t, 10, &w1).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].message_id, jobs[0].attempt, jobs[0].recipient.as_str()), (q.message_id, 1, "15550001234"));
    assert!(app.store().claim_due(t, 10, &w1).await.unwrap().is_empty(), "a claimed row is claimed once");
    assert!(start(&app, &jobs[0], "w1").await);
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
    let w1 = hold_number(&app, ticket, "w1").await;
    let jobs = app.store().claim_due(now(), 10, &w1).await.unwrap();
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
    let w1 = hold_number(&app, ticket, "w1").await;
    let job = app.store().claim_due(t, 10, &w1).await.unwrap().remove(0);
    let error = SendError { http_status: Some(500), code: None, title: "HTTP 500".into(), details: None };
    let later = t.plus(Duration::from_secs(2));
    app.store().finish_attempt(&job, &AttemptOutcome::Retry { next_attempt_at: later, error }, t).await.unwrap();
    let m = state_of(&app, ticket, q.message_id).await;
    assert_eq!(m.delivery_state, Some(DeliveryState::Queued));
    assert_eq!(m.error_title.as_deref(), Some("HTTP 500"));
    assert!(app.store().claim_due(t, 10, &w1).await.unwrap().is_empty(), "not before its time");
    let again = app.store().claim_due(later, 10, &w1).await.unwrap();
    assert_eq!(again[0].attempt, 2);
    app.stop().await;
}

async fn d2_failures_and_blocks_end_the_message_with_a_reason(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ticket = ticket_with_customer(&app).await;
    let a = app.store().enqueue(&reply(ticket, "late", now())).await.unwrap();
    let b = app.store().enqueue(&reply(ticket, "later", now())).await.unwrap();
    let w1 = hold_number(&app, ticket, "w1").await;
    let jobs = app.store().claim_due(now(), 10, &w1).await.unwrap();
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
    let dead = hold_number(&app, ticket, "dead-worker").await;
    let stale = app.store().claim_due(t, 10, &dead).await.unwrap().remove(0);
    assert!(start(&app, &stale, "dead-worker").await, "the request left");
    // Another instance takes the number over and recovers what the dead one held.
    let restart = t.plus(Duration::from_secs(1));
    let fresh_claim = hold_number(&app, ticket, "new-worker").await;
    let (bn, generation) = fresh_claim.numbers[0];
    assert!(generation > dead.numbers[0].1, "a takeover moves the generation on");
    let found = app.store().recover_number(bn, generation, restart).await.unwrap();
    assert_eq!((found.maybe_sent, found.unstarted), (1, 0));
    let m = state_of(&app, ticket, q.message_id).await;
    assert!(m.maybe_duplicate);
    assert_eq!(m.delivery_state, Some(DeliveryState::Queued));
    let fresh = app.store().claim_due(restart, 10, &fresh_claim).await.unwrap().remove(0);
    assert_eq!(fresh.attempt, 2);
    assert!(matches!(
        app.store().finish_attempt(&stale, &AttemptOutcome::Accepted { wamid: "w.stale".into() }, restart).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(start(&app, &fresh, "new-worker").await);
    app.store().finish_attempt(&fresh, &AttemptOutcome::Accepted { wamid: "w.fresh".into() }, restart).await.unwrap();
    let events = app.store().ticket_events(ticket).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "send_interrupted" && e.data["may_have_been_sent_twice"] == true));
    app.stop().await;
}

async fn d5_a_claim_never_started_is_taken_over_quietly(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ticket = ticket_with_customer(&app).await;
    let t = now();
    let q = app.store().enqueue(&reply(ticket, "claimed, waiting for the pacer", t)).await.unwrap();
    let old = hold_number(&app, ticket, "old").await;
    let waiting = app.store().claim_due(t, 10, &old).await.unwrap().remove(0);
    let new = hold_number(&app, ticket, "new").await;
    let found = app.store().recover_number(new.numbers[0].0, new.numbers[0].1, t).await.unwrap();
    assert_eq!((found.maybe_sent, found.unstarted), (0, 1));
    let m = state_of(&app, ticket, q.message_id).await;
    assert!(!m.maybe_duplicate, "never sent, so not 'may have been sent twice'");
    assert_eq!(m.delivery_state, Some(DeliveryState::Queued));
    assert!(!app.store().ticket_events(ticket).await.unwrap().iter().any(|e| e.kind == "send_interrupted"));
    let again = app.store().claim_due(t, 10, &new).await.unwrap().remove(0);
    assert_eq!(again.attempt, waiting.attempt, "the attempt that never started is not counted");
    app.stop().await;
}

async fn d5_a_sender_that_lost_its_number_is_fenced_off(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ticket = ticket_with_customer(&app).await;
    let t = now();
    app.store().enqueue(&reply(ticket, "one", t)).await.unwrap();
    let old = hold_number(&app, ticket, "old").await;
    let job = app.store().claim_due(t, 10, &old).await.unwrap().remove(0);
    // Its lease passes to another instance before the request leaves: the old holder must not send,
    // even though nobody has recovered the row yet.
    let _new = hold_number(&app, ticket, "new").await;
    assert!(!start(&app, &job, "old").await, "a claim taken over is never sent by its old holder");
    // Nor may a holder start with less lease left than its longest request.
    let q2 = app.store().enqueue(&reply(ticket, "two", t)).await.unwrap();
    let again = hold_number(&app, ticket, "again").await;
    let found = app.store().recover_number(again.numbers[0].0, again.numbers[0].1, t).await.unwrap();
    assert_eq!(found.unstarted, 1);
    let jobs = app.store().claim_due(t, 10, &again).await.unwrap();
    assert_eq!(jobs.len(), 2);
    let beyond_the_lease = t.plus(Duration::from_secs(7200));
    let started = app.store().start_attempts(&jobs, "again", t, beyond_the_lease).await.unwrap();
    assert_eq!(started, vec![false, false]);
    let started = app.store().start_attempts(&jobs, "again", t, t).await.unwrap();
    assert_eq!(started, vec![true, true]);
    assert!(jobs.iter().any(|j| j.message_id == q2.message_id));
    app.stop().await;
}

async fn d5_a_claim_is_only_for_the_holder_of_the_numbers_lease(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ticket = ticket_with_customer(&app).await;
    let t = now();
    app.store().enqueue(&reply(ticket, "mine?", t)).await.unwrap();
    let old = hold_number(&app, ticket, "old").await;
    let _new = hold_number(&app, ticket, "new").await;
    assert!(app.store().claim_due(t, 10, &old).await.unwrap().is_empty(), "a stale generation claims nothing");
    let other = SendClaim { worker: "new".into(), numbers: vec![(old.numbers[0].0, old.numbers[0].1)] };
    assert!(app.store().claim_due(t, 10, &other).await.unwrap().is_empty(), "nor does the holder with a generation it does not hold");
    // A busy lease is not taken without `steal`, and is taken once it has expired.
    let bn = old.numbers[0].0;
    assert_eq!(app.store().acquire_lease(&Lease::send_name(bn), "third", t, Duration::from_secs(10), false).await.unwrap(), None);
    let later = t.plus(Duration::from_secs(3601));
    let taken = app.store().acquire_lease(&Lease::send_name(bn), "third", later, Duration::from_secs(10), false).await.unwrap().unwrap();
    assert!(taken.generation > old.numbers[0].1);
    // Renewal keeps the generation; a lost lease is not renewed.
    let renewed = app.store().renew_leases("third", std::slice::from_ref(&taken), later, Duration::from_secs(10)).await.unwrap();
    assert_eq!(renewed.len(), 1);
    assert_eq!(renewed[0].generation, taken.generation);
    assert!(app.store().renew_leases("new", std::slice::from_ref(&taken), later, Duration::from_secs(10)).await.unwrap().is_empty());
    // A released lease passes on only once the last second of its sends is over at Meta.
    app.store().release_lease("third", &taken, later).await.unwrap();
    assert_eq!(app.store().acquire_lease(&Lease::send_name(bn), "fourth", later, Duration::from_secs(10), false).await.unwrap(), None);
    let settled = later.plus(Duration::from_millis(1_100));
    let next = app.store().acquire_lease(&Lease::send_name(bn), "fourth", settled, Duration::from_secs(10), false).await.unwrap().unwrap();
    assert_eq!(next.generation, taken.generation + 1);
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
    let w1 = hold_number(&app, ticket, "w1").await;
    let claims = futures::future::join_all((0..4).map(|_| {
        let (store, w1) = (app.store().clone(), w1.clone());
        async move { store.claim_due(t, 15, &w1).await.unwrap() }
    }))
    .await;
    let mut seen = HashSet::new();
    for job in claims.iter().flatten() {
        assert!(seen.insert(job.outbox_id), "row {} claimed twice", job.outbox_id);
    }
    assert_eq!(seen.len(), 40);
    app.stop().await;
}
