//! Macros (SPEC 10, issue 13 item 4) through the REST API, on both backends: validated when saved
//! (placeholders named with their token), applied as one bundle, and a closed window never makes the
//! reply fail silently.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::api::{assert_invalid, Api};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use windowdesk_core::{ManualClock, Timestamp};
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;

on_both_backends!(
    a_macro_with_an_unknown_placeholder_is_refused_naming_the_token,
    a_macro_is_stored_listed_replaced_and_deleted,
    applying_a_macro_replies_with_placeholders_filled_and_changes_the_ticket,
    with_the_window_closed_a_macros_reply_becomes_its_template_or_says_it_was_not_sent,
);

const CUSTOMER: &str = "4915112345678";

fn refund_macro() -> serde_json::Value {
    json!({
        "name": "Refund sent",
        "actions": [
            {"type": "reply", "text": "Hi {{firstName || there}}, the refund for ticket {{ticket.id}} is on its way. {{agent.name || The team}}"},
            {"type": "set_status", "status": "solved"},
            {"type": "add_tags", "tags": ["refund"]},
            {"type": "internal_note", "text": "Refund confirmed on ticket {{ticket.id}}"}
        ]
    })
}

async fn a_macro_with_an_unknown_placeholder_is_refused_naming_the_token(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let (status, body) =
        api.post("/api/v1/macros", json!({"name": "Typo", "actions": [{"type": "reply", "text": "Your ticket is {{ticket.idd}}"}]})).await;
    assert_invalid(status, &body, "actions[0].text");
    assert!(body["error"]["message"].as_str().unwrap().contains("{{ticket.idd}}"), "{body}");
    let (status, body) =
        api.post("/api/v1/macros", json!({"name": "Broken", "actions": [{"type": "reply", "text": "Hi {{firstName"}]})).await;
    assert_invalid(status, &body, "actions[0].text");
    let (status, body) = api.post("/api/v1/macros", json!({"name": "SMS", "actions": [{"type": "send_sms", "text": "hi"}]})).await;
    assert_invalid(status, &body, "actions[0].type");
    let (status, body) =
        api.post("/api/v1/macros", json!({"name": "Nobody's", "owner_agent_id": 999_999, "actions": [{"type": "unassign"}]})).await;
    assert_invalid(status, &body, "owner_agent_id");
    let (status, body) = api.post("/api/v1/macros", json!({"name": "x", "actions": [{"type": "reply"}]})).await;
    assert_invalid(status, &body, "actions[0]");
    app.stop().await;
}

async fn a_macro_is_stored_listed_replaced_and_deleted(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let (status, created) = api.post("/api/v1/macros", refund_macro()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["shared"], true);
    assert_eq!(created["actions"][1], json!({"type": "set_status", "status": "solved"}));
    let id = created["id"].as_i64().unwrap();
    let (_, listed) = api.get("/api/v1/macros").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let mut changed = refund_macro();
    changed["name"] = json!("Refund sent (v2)");
    let (status, updated) = api.put(&format!("/api/v1/macros/{id}"), changed).await;
    assert_eq!((status, updated["name"].as_str()), (StatusCode::OK, Some("Refund sent (v2)")));
    let (status, _) = api.call(Method::DELETE, &format!("/api/v1/macros/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.get(&format!("/api/v1/macros/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Ids that are not numbers (or do not fit one) are ids that do not exist.
    let (status, body) = api.post("/api/v1/tickets/-9223372036854775808/macros/9223372036854775808", json!(null)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    app.stop().await;
}

async fn applying_a_macro_replies_with_placeholders_filled_and_changes_the_ticket(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let api = Api::new(&app).await;
    app.sim().say(Say { name: Some("Ana María López".into()), ..Say::text(CUSTOMER, "where is my refund?") }).await.unwrap();
    let ticket = app.only_ticket().await;
    let (_, created) = api.post("/api/v1/macros", refund_macro()).await;
    let (status, applied) = api.post(&format!("/api/v1/tickets/{ticket}/macros/{}", created["id"]), json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["reply"]["outcome"], "queued", "{applied}");
    let text = format!("Hi Ana, the refund for ticket {ticket} is on its way. The team");
    assert_eq!(applied["reply"]["text"], text.as_str());
    assert!(applied["actions"].as_array().unwrap().iter().all(|a| a["ok"] == true), "{applied}");
    app.eventually("the reply at the simulator", || async {
        app.sim().received().iter().any(|m| m.text.as_deref() == Some(text.as_str())).then_some(())
    })
    .await;
    let (_, t) = api.get(&format!("/api/v1/tickets/{ticket}")).await;
    assert_eq!(t["status"], "solved", "{t}");
    assert_eq!(t["tags"], json!(["refund"]), "{t}");
    let notes: Vec<_> = app
        .store()
        .ticket_messages(ticket)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == windowdesk_store::Direction::Note)
        .collect();
    assert_eq!(notes[0].body.as_deref(), Some(format!("Refund confirmed on ticket {ticket}").as_str()));
    app.stop().await;
}

async fn with_the_window_closed_a_macros_reply_becomes_its_template_or_says_it_was_not_sent(backend: Backend) {
    let sent = now_secs() - 3600;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(sent + 10)));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    app.sync_templates().await;
    let api = Api::new(&app).await;
    app.sim().say(Say::text(CUSTOMER, "hello?").at(sent)).await.unwrap();
    let ticket = app.only_ticket().await;
    clock.set(Timestamp::from_unix_seconds(sent).plus(Duration::from_secs(25 * 3600)));
    let (_, with_variant) = api
        .post(
            "/api/v1/macros",
            json!({"name": "Follow up", "actions": [{"type": "reply", "text": "Any news, {{firstName || there}}?",
                   "when_closed": {"kind": "template", "name": "hello_world", "language": "en_US"}}]}),
        )
        .await;
    let (status, applied) = api.post(&format!("/api/v1/tickets/{ticket}/macros/{}", with_variant["id"]), json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["reply"]["outcome"], "template_queued", "{applied}");
    app.eventually("the template at the simulator", || async { app.sim().received().iter().any(|m| m.kind == "template").then_some(()) })
        .await;
    assert!(app.sim().received().iter().all(|m| m.kind == "template"), "no free-form send outside the window");

    let (_, without) = api.post("/api/v1/macros", json!({"name": "Plain", "actions": [{"type": "reply", "text": "Hello again"}]})).await;
    let (_, applied) = api.post(&format!("/api/v1/tickets/{ticket}/macros/{}", without["id"]), json!(null)).await;
    assert_eq!(applied["reply"]["outcome"], "not_sent", "{applied}");
    assert!(applied["reply"]["reason"].as_str().unwrap().contains("window closed"), "{applied}");
    assert!(!applied["reply"]["ways_out"].as_array().unwrap().is_empty(), "the ways out are listed: {applied}");
    app.stop().await;
}
