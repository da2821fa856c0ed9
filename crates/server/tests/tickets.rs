//! Tickets, windows and delivery statuses as stored (SPEC 2, 3, 6, 7), through the webhook on both
//! backends. The pure rules have unit and property tests in windowdesk-core; these show the store keeps
//! them under real payloads, arrival orders and concurrency.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use common::*;
use serde_json::json;
use windowdesk_core::window::WindowPolicy;
use windowdesk_core::{DeliveryState, TicketStatus, Timestamp};
use windowdesk_store::testing::Backend;
use windowdesk_store::{OutboundAccepted, StoreError, TicketFilter};

on_both_backends!(
    w1_window_is_computed_from_the_sender_timestamp,
    w2_a_late_older_message_never_moves_the_window_backwards,
    w3_business_messages_never_extend_the_window,
    w5_future_and_missing_timestamps_fall_back_to_receive_time_with_an_event,
    w6_referral_then_business_reply_starts_fep,
    t2_solved_ticket_is_reopened_and_closed_ticket_gets_a_linked_follow_up,
    t2_fifty_parallel_messages_from_a_new_contact_make_one_ticket,
    c1_profile_name_names_the_contact_and_follows_changes,
    d1_statuses_apply_by_precedence_whatever_the_arrival_order,
    d1_statuses_that_arrive_before_their_message_are_applied_later,
    t1_closed_tickets_are_read_only,
);

const CUSTOMER: &str = "15550001234";

async fn window_of(app: &TestApp, key: &str) -> windowdesk_core::CustomerWindow {
    app.store().identity_by_key(app.bn, key).await.unwrap().expect("identity").window
}

async fn w1_window_is_computed_from_the_sender_timestamp(backend: Backend) {
    let app = TestApp::start(backend).await;
    let sent = now_secs() - 3 * 3600; // delivered to us three hours late
    assert_eq!(app.post(&text("wamid.w1", CUSTOMER, sent, "hello")).await, 200);
    let w = window_of(&app, CUSTOMER).await;
    assert_eq!(w.last_inbound_at, Some(Timestamp::from_unix_seconds(sent)));
    assert_eq!(w.window_end(WindowPolicy::WHATSAPP), Some(Timestamp::from_unix_seconds(sent + 24 * 3600)));
    let m = app.store().message_by_wamid(app.bn, "wamid.w1").await.unwrap().unwrap();
    assert_eq!(m.sent_at, Timestamp::from_unix_seconds(sent));
    assert!(m.received_at > m.sent_at);
    app.stop().await;
}

async fn w2_a_late_older_message_never_moves_the_window_backwards(backend: Backend) {
    let app = TestApp::start(backend).await;
    let t = now_secs() - 1000;
    assert_eq!(app.post(&text("wamid.new", CUSTOMER, t, "newer")).await, 200);
    assert_eq!(app.post(&text("wamid.old", CUSTOMER, t - 500, "older, arrives late")).await, 200);
    assert_eq!(window_of(&app, CUSTOMER).await.last_inbound_at, Some(Timestamp::from_unix_seconds(t)));
    // A reaction is the customer writing too: it refreshes the window.
    let react = message(
        json!({"from": CUSTOMER, "id": "wamid.react", "timestamp": (t + 60).to_string(), "type": "reaction", "reaction": {"message_id": "wamid.new", "emoji": "👍"}}),
        CUSTOMER,
    );
    assert_eq!(app.post(&react).await, 200);
    assert_eq!(window_of(&app, CUSTOMER).await.last_inbound_at, Some(Timestamp::from_unix_seconds(t + 60)));
    // Statuses do not.
    assert_eq!(app.post(&statuses(vec![status("wamid.someout", "read", t + 120)])).await, 200);
    assert_eq!(window_of(&app, CUSTOMER).await.last_inbound_at, Some(Timestamp::from_unix_seconds(t + 60)));
    app.stop().await;
}

async fn w3_business_messages_never_extend_the_window(backend: Backend) {
    let app = TestApp::start(backend).await;
    let t = now_secs() - 1000;
    assert_eq!(app.post(&text("wamid.in", CUSTOMER, t, "hi")).await, 200);
    let ticket = app.store().list_tickets(&TicketFilter::default()).await.unwrap()[0].id;
    app.store()
        .record_outbound_accepted(&OutboundAccepted {
            ticket_id: ticket,
            wamid: "wamid.out".into(),
            kind: "text".into(),
            body: Some("hello!".into()),
            accepted_at: Timestamp::from_unix_seconds(t + 500),
        })
        .await
        .unwrap();
    // A message sent from the WhatsApp Business app, echoed to us.
    let echo = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [{"field": "smb_message_echoes", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": PNID},
        "message_echoes": [{"from": "15550001111", "to": CUSTOMER, "id": "wamid.echo", "timestamp": (t + 600).to_string(), "type": "text", "text": {"body": "from the app"}}]}}]}]});
    assert_eq!(app.post(&echo).await, 200);
    assert_eq!(window_of(&app, CUSTOMER).await.last_inbound_at, Some(Timestamp::from_unix_seconds(t)));
    assert_eq!(app.store().ticket_messages(ticket).await.unwrap().len(), 3);
    app.stop().await;
}

async fn w5_future_and_missing_timestamps_fall_back_to_receive_time_with_an_event(backend: Backend) {
    let app = TestApp::start(backend).await;
    let before = now_secs();
    let future = text("wamid.future", CUSTOMER, before + 7200, "from the future");
    assert_eq!(app.post(&future).await, 200);
    let m = app.store().message_by_wamid(app.bn, "wamid.future").await.unwrap().unwrap();
    assert!(m.sent_at <= Timestamp::from_unix_seconds(now_secs() + 1), "clamped to receive time");
    assert_eq!(m.sent_at, m.received_at);
    let missing = message(json!({"from": CUSTOMER, "id": "wamid.nots", "type": "text", "text": {"body": "no timestamp"}}), CUSTOMER);
    assert_eq!(app.post(&missing).await, 200);
    let m = app.store().message_by_wamid(app.bn, "wamid.nots").await.unwrap().unwrap();
    assert_eq!(m.sent_at, m.received_at);
    let events = app.store().ticket_events(m.ticket_id.unwrap()).await.unwrap();
    let anomalies: Vec<_> = events.iter().filter(|e| e.kind == "timestamp_anomaly").collect();
    assert_eq!(anomalies.len(), 2, "{events:?}");
    assert_eq!(anomalies[0].data["sent_at"]["source"]["source"], "clamped_future");
    assert_eq!(anomalies[1].data["sent_at"]["source"]["source"], "missing");
    app.stop().await;
}

async fn w6_referral_then_business_reply_starts_fep(backend: Backend) {
    let app = TestApp::start(backend).await;
    let t = now_secs() - 600;
    let referral = message(
        json!({"from": CUSTOMER, "id": "wamid.ad", "timestamp": t.to_string(), "type": "text", "text": {"body": "Is this still available?"},
               "referral": {"source_url": "https://fb.me/x", "source_id": "1", "source_type": "ad", "headline": "Sale", "ctwa_clid": "abc"}}),
        CUSTOMER,
    );
    assert_eq!(app.post(&referral).await, 200);
    let w = window_of(&app, CUSTOMER).await;
    assert_eq!(w.referral_at, Some(Timestamp::from_unix_seconds(t)));
    assert_eq!(w.fep_started_at, None);
    let ticket = app.store().list_tickets(&TicketFilter::default()).await.unwrap()[0].id;
    let reply_at = Timestamp::from_unix_seconds(t + 300);
    app.store()
        .record_outbound_accepted(&OutboundAccepted {
            ticket_id: ticket,
            wamid: "wamid.r".into(),
            kind: "text".into(),
            body: None,
            accepted_at: reply_at,
        })
        .await
        .unwrap();
    let w = window_of(&app, CUSTOMER).await;
    assert_eq!(w.fep_started_at, Some(reply_at));
    assert_eq!(w.fep_until(WindowPolicy::WHATSAPP), Some(Timestamp::from_unix_seconds(t + 300 + 72 * 3600)));
    assert!(app.store().message_by_wamid(app.bn, "wamid.ad").await.unwrap().unwrap().referral);
    app.stop().await;
}

async fn t2_solved_ticket_is_reopened_and_closed_ticket_gets_a_linked_follow_up(backend: Backend) {
    let app = TestApp::start(backend).await;
    let t = now_secs() - 1000;
    assert_eq!(app.post(&text("wamid.1", CUSTOMER, t, "my order is late")).await, 200);
    let first = app.store().list_tickets(&TicketFilter::default()).await.unwrap()[0].clone();
    assert_eq!(first.status, TicketStatus::New);
    assert_eq!(first.subject, "my order is late");

    assert!(app.store().set_ticket_status(first.id, TicketStatus::Solved, "agent:1").await.unwrap());
    assert_eq!(app.post(&text("wamid.2", CUSTOMER, t + 10, "still late")).await, 200);
    let reopened = app.store().ticket(first.id).await.unwrap().unwrap();
    assert_eq!(reopened.status, TicketStatus::Open, "solved → open when the customer writes");
    assert_eq!(app.store().counts().await.unwrap().tickets, 1);

    assert!(app.store().set_ticket_status(first.id, TicketStatus::Closed, "system").await.unwrap());
    assert_eq!(app.post(&text("wamid.3", CUSTOMER, t + 20, "new problem")).await, 200);
    let tickets = app.store().list_tickets(&TicketFilter::default()).await.unwrap();
    assert_eq!(tickets.len(), 2);
    let followup = &tickets[0];
    assert_eq!(followup.followup_of, Some(first.id));
    assert_eq!(followup.status, TicketStatus::New);
    assert_eq!(app.store().followups(first.id).await.unwrap(), vec![followup.id], "linked both ways");
    let old_events = app.store().ticket_events(first.id).await.unwrap();
    assert!(old_events.iter().any(|e| e.kind == "followup_created" && e.data["followup"] == followup.id));
    let closed = app.store().ticket(first.id).await.unwrap().unwrap();
    assert_eq!(closed.status, TicketStatus::Closed);
    assert_eq!(app.store().ticket_messages(followup.id).await.unwrap()[0].wamid.as_deref(), Some("wamid.3"));
    app.stop().await;
}

async fn t2_fifty_parallel_messages_from_a_new_contact_make_one_ticket(backend: Backend) {
    let app = TestApp::start(backend).await;
    let t = now_secs() - 100;
    let payloads: Vec<_> = (0..50).map(|i| text(&format!("wamid.album{i}"), CUSTOMER, t + i, "photo")).collect();
    let codes = futures::future::join_all(payloads.iter().map(|p| app.post(p))).await;
    assert!(codes.iter().all(|c| *c == 200), "{codes:?}");
    let counts = app.store().counts().await.unwrap();
    assert_eq!(counts.tickets, 1);
    assert_eq!(counts.messages, 50);
    assert_eq!(counts.identities, 1);
    app.stop().await;
}

async fn c1_profile_name_names_the_contact_and_follows_changes(backend: Backend) {
    let app = TestApp::start(backend).await;
    let t = now_secs() - 100;
    let mut p = text("wamid.n1", CUSTOMER, t, "hi");
    p["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = json!("Ana");
    assert_eq!(app.post(&p).await, 200);
    assert_eq!(app.store().identity_by_key(app.bn, CUSTOMER).await.unwrap().unwrap().contact_name, "Ana");
    let mut p = text("wamid.n2", CUSTOMER, t + 1, "hi again");
    p["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = json!("Ana María");
    assert_eq!(app.post(&p).await, 200);
    let ident = app.store().identity_by_key(app.bn, CUSTOMER).await.unwrap().unwrap();
    assert_eq!(ident.contact_name, "Ana María", "still the default name, so it follows the profile");
    assert_eq!(ident.profile_name.as_deref(), Some("Ana María"));
    app.stop().await;
}

async fn sent_reply(app: &TestApp, wamid: &str) -> i64 {
    assert_eq!(app.post(&text(&format!("{wamid}-in"), CUSTOMER, now_secs() - 100, "hi")).await, 200);
    let ticket = app.store().list_tickets(&TicketFilter::default()).await.unwrap()[0].id;
    app.store()
        .record_outbound_accepted(&OutboundAccepted {
            ticket_id: ticket,
            wamid: wamid.into(),
            kind: "text".into(),
            body: Some("on its way".into()),
            accepted_at: Timestamp::from_unix_seconds(now_secs() - 50),
        })
        .await
        .unwrap();
    ticket
}

async fn d1_statuses_apply_by_precedence_whatever_the_arrival_order(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ticket = sent_reply(&app, "wamid.reply").await;
    let t = now_secs() - 40;
    assert_eq!(app.post(&statuses(vec![status("wamid.reply", "read", t + 2)])).await, 200);
    assert_eq!(app.post(&statuses(vec![status("wamid.reply", "delivered", t + 1)])).await, 200);
    assert_eq!(app.post(&statuses(vec![status("wamid.reply", "sent", t)])).await, 200);
    // Meta redelivers a status: recorded once.
    assert_eq!(app.post(&statuses(vec![status("wamid.reply", "read", t + 2)])).await, 200);
    let m = app.store().message_by_wamid(app.bn, "wamid.reply").await.unwrap().unwrap();
    assert_eq!(m.delivery_state, Some(DeliveryState::Read));
    let log = app.store().status_events(app.bn, "wamid.reply").await.unwrap();
    assert_eq!(log.iter().map(|s| s.status.as_str()).collect::<Vec<_>>(), ["read", "delivered", "sent"]);
    assert_eq!(log[0].at, Timestamp::from_unix_seconds(t + 2), "Meta's timestamp is kept");
    assert!(log[0].pricing.as_deref().unwrap().contains("PMP"));
    assert_eq!(log.iter().filter(|s| s.applied).count(), 1, "late statuses are logged, not applied");
    let events = app.store().ticket_events(ticket).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "delivery_status").count(), 3);
    // A failure after delivery proof does not downgrade either.
    let failed = json!({"id": "wamid.reply", "status": "failed", "timestamp": (t + 3).to_string(), "recipient_id": CUSTOMER,
                        "errors": [{"code": 131047, "title": "Re-engagement message", "error_data": {"details": "More than 24 hours have passed"}}]});
    assert_eq!(app.post(&statuses(vec![failed])).await, 200);
    let m = app.store().message_by_wamid(app.bn, "wamid.reply").await.unwrap().unwrap();
    assert_eq!(m.delivery_state, Some(DeliveryState::Read));
    app.stop().await;
}

async fn d1_statuses_that_arrive_before_their_message_are_applied_later(backend: Backend) {
    let app = TestApp::start(backend).await;
    let t = now_secs() - 40;
    // Meta's status webhook can beat our own record of the send.
    assert_eq!(app.post(&statuses(vec![status("wamid.early", "delivered", t)])).await, 200);
    sent_reply(&app, "wamid.early").await;
    let m = app.store().message_by_wamid(app.bn, "wamid.early").await.unwrap().unwrap();
    assert_eq!(m.delivery_state, Some(DeliveryState::Delivered));
    // And a failure on a sent message lands with its reason.
    sent_reply(&app, "wamid.fails").await;
    assert_eq!(app.post(&statuses(vec![status("wamid.fails", "sent", t)])).await, 200);
    let failed = json!({"id": "wamid.fails", "status": "failed", "timestamp": (t + 3).to_string(), "recipient_id": CUSTOMER,
                        "errors": [{"code": 131047, "title": "Re-engagement message", "error_data": {"details": "More than 24 hours have passed"}}]});
    assert_eq!(app.post(&statuses(vec![failed])).await, 200);
    let m = app.store().message_by_wamid(app.bn, "wamid.fails").await.unwrap().unwrap();
    assert_eq!(m.delivery_state, Some(DeliveryState::Failed));
    assert_eq!(m.error_code, Some(131_047));
    assert_eq!(m.error_details.as_deref(), Some("More than 24 hours have passed"));

    // A failure that beats the send's own answer lands with its reason, and on the ticket, all the
    // same (found by CI: a 131047 overtaking the dispatcher's record of the send left the message
    // failed without a reason and without a ticket event).
    let failed_early = json!({"id": "wamid.failed-early", "status": "failed", "timestamp": (t + 5).to_string(), "recipient_id": CUSTOMER,
                              "errors": [{"code": 131047, "title": "Re-engagement message", "error_data": {"details": "More than 24 hours have passed"}}]});
    assert_eq!(app.post(&statuses(vec![failed_early])).await, 200);
    let ticket = sent_reply(&app, "wamid.failed-early").await;
    let m = app.store().message_by_wamid(app.bn, "wamid.failed-early").await.unwrap().unwrap();
    assert_eq!((m.ticket_id, m.delivery_state, m.error_code), (Some(ticket), Some(DeliveryState::Failed), Some(131_047)));
    assert_eq!(m.error_title.as_deref(), Some("Re-engagement message"));
    assert_eq!(m.error_details.as_deref(), Some("More than 24 hours have passed"));
    let events = app.store().ticket_events(ticket).await.unwrap();
    let logged = events
        .iter()
        .find(|e| e.kind == "delivery_status" && e.data["wamid"] == "wamid.failed-early")
        .expect("the failure is on the ticket");
    assert_eq!((logged.data["status"].clone(), logged.data["applied"].clone()), (json!("failed"), json!(true)));
    assert_eq!(logged.data["errors"][0]["code"], 131_047);
    app.stop().await;
}

async fn t1_closed_tickets_are_read_only(backend: Backend) {
    let app = TestApp::start(backend).await;
    assert_eq!(app.post(&text("wamid.c", CUSTOMER, now_secs() - 10, "hi")).await, 200);
    let id = app.store().list_tickets(&TicketFilter::default()).await.unwrap()[0].id;
    assert!(app.store().set_ticket_status(id, TicketStatus::Closed, "system").await.unwrap());
    let err = app.store().set_ticket_status(id, TicketStatus::Open, "agent:1").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert!(!app.store().set_ticket_status(987_654, TicketStatus::Open, "agent:1").await.unwrap());
    app.stop().await;
}
