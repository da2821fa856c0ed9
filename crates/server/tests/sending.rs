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
    d2_a_late_131047_reads_window_closed_in_the_api_exactly_like_a_synchronous_one,
    d3_three_500s_then_success_is_delivered_exactly_once,
    d3_throughput_errors_back_off_and_then_deliver,
    d3_permanent_errors_fail_at_once_with_a_human_reason,
    s12_a_thousand_replies_never_exceed_the_numbers_throughput,
    d3_a_queued_reply_that_reaches_the_dispatcher_at_window_end_is_blocked_not_sent,
    w9_a_queued_reply_that_reaches_the_dispatcher_inside_the_guard_is_blocked_not_sent,
    deadline_first_dispatch_sends_the_reply_whose_window_ends_soonest_first,
    s9_a_customer_known_only_by_a_bsuid_is_addressed_by_recipient_never_by_to,
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
    // W9: inside the send guard (5 s by default) it is blocked too...
    let send_until = window_end.minus(Duration::from_secs(5));
    clock.set(send_until);
    assert!(matches!(post_text_reply(&app.running.state, ticket, "Sorry", "agent:1").await.unwrap(), ReplyOutcome::Blocked { .. }));
    // ...and a moment before the guarded moment it goes.
    clock.set(send_until.minus(Duration::from_millis(1)));
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

/// The failed-deliveries list and the ticket's thread, as the API shows them, for the one failed reply.
async fn api_failure(app: &TestApp, ticket: i64, id: i64) -> (serde_json::Value, serde_json::Value) {
    let token = windowdesk_server::api::admin::create_api_token(app.store().as_ref(), "d2").await.unwrap().token;
    let get = |path: String| {
        let token = token.clone();
        async move {
            let r = reqwest::Client::new().get(app.url(&path)).bearer_auth(token).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let failed = get("/api/v1/deliveries/failed".into()).await;
    let listed = failed["data"].as_array().unwrap().iter().find(|f| f["message_id"] == id).cloned().unwrap();
    let thread = get(format!("/api/v1/tickets/{ticket}")).await;
    let message = thread["messages"].as_array().unwrap().iter().find(|m| m["id"] == id).cloned().unwrap();
    (listed, message)
}

async fn d2_a_late_131047_reads_window_closed_in_the_api_exactly_like_a_synchronous_one(backend: Backend) {
    // Late: Meta accepts, then reports `failed` with 131047 ("Re-engagement message") in a status.
    let late = TestApp::start_with_sim(backend, None, |c| c.window_enforcement = WindowEnforcement::Async).await;
    late.sim().say(Say::text(CUSTOMER, "hi")).await.unwrap();
    let ticket = late.only_ticket().await;
    late.sim().advance_clock(Duration::from_secs(25 * 3600));
    let id = queued(&late, ticket, "late answer").await;
    late.wait_for_state(ticket, id, DeliveryState::Failed).await;
    let (late_listed, late_message) = api_failure(&late, ticket, id).await;
    late.stop().await;

    // At once: Meta answers the send itself with 131047.
    let now = TestApp::start_with_sim(backend, None, |_| {}).await;
    now.sim().say(Say::text(CUSTOMER, "hi")).await.unwrap();
    let ticket = now.only_ticket().await;
    now.sim().advance_clock(Duration::from_secs(25 * 3600));
    let id = queued(&now, ticket, "late answer").await;
    now.wait_for_state(ticket, id, DeliveryState::Failed).await;
    let (sync_listed, sync_message) = api_failure(&now, ticket, id).await;
    now.stop().await;

    for (what, v) in [("late list", &late_listed), ("sync list", &sync_listed)] {
        let reason = v["reason"].as_str().unwrap();
        assert!(reason.contains("window is closed") && !reason.contains("Re-engagement"), "{what}: {reason}");
    }
    assert_eq!(late_listed["reason"], sync_listed["reason"], "the same reason on both paths");
    assert_eq!(late_listed["error"]["code"], 131_047);
    assert_eq!(late_message["error"]["reason"], sync_message["error"]["reason"], "the thread says the same on both paths");
    assert_eq!(late_message["error"]["reason"], late_listed["reason"]);
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
    let reason = windowdesk_whatsapp::errors::failure_reason(m.error_code, m.error_title.as_deref(), DeliveryState::Failed);
    assert!(reason.contains("could not be delivered"), "{reason}");
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
    reply_reaching_the_dispatcher_at(backend, Duration::ZERO).await;
}

async fn w9_a_queued_reply_that_reaches_the_dispatcher_inside_the_guard_is_blocked_not_sent(backend: Backend) {
    // Sends reached Meta 15-72 ms before window_end; the guard (5 s by default) stops them earlier.
    reply_reaching_the_dispatcher_at(backend, Duration::from_millis(4_900)).await;
}

/// A reply accepted while the window was open reaches the dispatcher `before_end` before window_end.
async fn reply_reaching_the_dispatcher_at(backend: Backend, before_end: Duration) {
    let sent = now_secs() - 3600;
    let window_end = Timestamp::from_unix_seconds(sent + 24 * 3600);
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(sent + 10)));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    app.sim().say(Say::text(CUSTOMER, "hello?").at(sent)).await.unwrap();
    let ticket = app.only_ticket().await;
    clock.set(window_end.minus(before_end));
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
            now: window_end.minus(Duration::from_secs(10)),
            channel: Default::default(),
            hold_until: None,
            replaces: None,
            dedupe_key: None,
            media: None,
            reply_to_wamid: None,
            estimate: None,
        })
        .await
        .unwrap();
    app.running.state.outbox_wake.notify_one();
    app.wait_for_state(ticket, queued.message_id, DeliveryState::Blocked).await;
    assert!(app.sim().received().is_empty(), "W4/W9: nothing is sent at or inside the guard before window_end");
    app.stop().await;
}

async fn ticket_of(app: &TestApp, wa_id: &str) -> i64 {
    let identity = app.store().identity_by_key(app.bn, wa_id).await.unwrap().unwrap();
    let filter = TicketFilter { identity_id: Some(identity.id), limit: 1, ..TicketFilter::default() };
    app.store().list_tickets(&filter).await.unwrap()[0].id
}

async fn deadline_first_dispatch_sends_the_reply_whose_window_ends_soonest_first(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let now = now_secs();
    // Four customers; their windows end in 22 h, 4 h and 1 h; the fourth gets only a template.
    let customers =
        [("15550000001", now - 2 * 3600), ("15550000002", now - 20 * 3600), ("15550000003", now - 23 * 3600), ("15550000004", now - 60)];
    for (wa_id, at) in customers {
        app.sim().say(Say::text(wa_id, "hello?").at(at)).await.unwrap();
    }
    let mut tickets = Vec::new();
    for (wa_id, _) in customers {
        tickets.push(app.eventually("the ticket", || async { Some(ticket_of(&app, wa_id).await) }).await);
    }
    // Queued a day ahead of the desk's clock, so its own dispatcher leaves them to this test's claim.
    let later = Timestamp::from_unix_seconds(now + 86_400);
    let enqueue = |ticket: i64, free_form: bool, window_end: Option<i64>, body: &'static str| {
        let store = app.store().clone();
        async move {
            store
                .enqueue(&windowdesk_store::NewOutbound {
                    ticket_id: ticket,
                    kind: if free_form { "text" } else { "template" }.into(),
                    body: Some(body.into()),
                    author: "agent:1".into(),
                    request: "{}".into(),
                    free_form,
                    window_end: window_end.map(|s| Timestamp::from_unix_seconds(s + 86_400)),
                    now: later,
                    channel: Default::default(),
                    hold_until: None,
                    replaces: None,
                    dedupe_key: None,
                    media: None,
                    reply_to_wamid: None,
                    estimate: None,
                })
                .await
                .unwrap()
                .message_id
        }
    };
    // Queue order: hours left first, seconds left last.
    let d = enqueue(tickets[3], false, None, "template, no window").await;
    let b = enqueue(tickets[0], true, Some(customers[0].1), "22 h left").await;
    let a = enqueue(tickets[1], true, Some(customers[1].1), "4 h left").await;
    let c1 = enqueue(tickets[2], true, Some(customers[2].1), "1 h left").await;
    let c2 = enqueue(tickets[2], true, Some(customers[2].1), "1 h left, the second reply").await;
    let bn = app.store().ticket(tickets[0]).await.unwrap().unwrap().business_number_id;
    let lease = app
        .store()
        .acquire_lease(&windowdesk_store::Lease::send_name(bn), "deadline-test", later, Duration::from_secs(3600), true)
        .await
        .unwrap()
        .unwrap();
    let claim = windowdesk_store::SendClaim { worker: "deadline-test".into(), numbers: vec![(bn, lease.generation)] };
    let claimed: Vec<i64> = app.store().claim_due(later, 10, &claim).await.unwrap().into_iter().map(|j| j.message_id).collect();
    assert_eq!(claimed, vec![c1, c2, a, b, d], "soonest window first; one customer's replies stay in queue order; no window last");
    app.stop().await;
}

async fn s9_a_customer_known_only_by_a_bsuid_is_addressed_by_recipient_never_by_to(backend: Backend) {
    // The customer writes through a signed webhook, not through the simulator, which therefore has
    // no window for them: its 24 h rule is off for this test.
    let app = TestApp::start_with_sim(backend, None, |c| c.window_enforcement = WindowEnforcement::Off).await;
    // A customer with a WhatsApp username: Meta sends their BSUID and no phone number.
    let bsuid = "US.13491208655302741918";
    let mut payload = messages(
        vec![serde_json::json!({"from_user_id": bsuid, "id": "wamid.bsuid", "timestamp": now_secs().to_string(), "type": "text",
            "text": {"body": "hi, it's Ada"}})],
        "unused",
    );
    payload["entry"][0]["changes"][0]["value"]["contacts"] = serde_json::json!([{"profile": {"name": "Ada"}, "user_id": bsuid}]);
    assert_eq!(app.post(&payload).await, 200);
    let ticket = app.only_ticket().await;
    queued(&app, ticket, "Hello Ada").await;
    let sent = app.eventually("the simulator to receive the reply", || async { app.sim().received().into_iter().next() }).await;
    assert_eq!(sent.request["recipient"], bsuid, "{}", sent.request);
    assert!(sent.request.get("to").is_none(), "a BSUID never goes in `to`: {}", sent.request);
    app.stop().await;
}
