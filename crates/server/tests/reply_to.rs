//! Replying to one specific customer message (issue 15 item 1) over the REST API, on both backends:
//! the reply carries Meta's `context.message_id`, the simulator sees it, and the desk's thread keeps
//! which message it answers; anything but a customer message of that ticket is refused naming
//! `reply_to`, before anything is stored.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::json;
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;
use windowdesk_store::Direction;

on_both_backends!(a_reply_quotes_the_customer_message_it_answers_and_only_one_of_theirs,);

const CUSTOMER: &str = "4915100000088";

async fn a_reply_quotes_the_customer_message_it_answers_and_only_one_of_theirs(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let first = app.sim().say(Say::text(CUSTOMER, "Do you ship to Austria?").name("Mia Huber")).await.unwrap();
    app.sim().say(Say::text(CUSTOMER, "And how long does it take?")).await.unwrap();
    let ticket = app.only_ticket().await;
    let messages = app
        .eventually("both messages", || async {
            let m = app.store().ticket_messages(ticket).await.unwrap();
            (m.len() == 2).then_some(m)
        })
        .await;
    let asked = messages.iter().find(|m| m.wamid.as_deref() == Some(first.wamid.as_str())).unwrap().id;
    let api = Api::new(&app).await;

    let (status, note) = api.post(&format!("/api/v1/tickets/{ticket}/notes"), json!({"body": "checking"})).await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    for (reply_to, why) in [(note["id"].as_i64().unwrap(), "is not a message from the customer"), (999_999, "is not on ticket")] {
        let (status, body) = api.post(&format!("/api/v1/tickets/{ticket}/replies"), json!({"body": "Yes", "reply_to": reply_to})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["details"]["field"], "reply_to");
        assert!(body["error"]["message"].as_str().unwrap().contains(why), "{body}");
    }

    let (status, reply) =
        api.post(&format!("/api/v1/tickets/{ticket}/replies"), json!({"body": "Yes, we ship to Austria.", "reply_to": asked})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    let sent = app.eventually("the reply at Meta", || async { app.sim().received().into_iter().next() }).await;
    assert_eq!(sent.request["context"], json!({"message_id": first.wamid}), "Meta's reply context");
    assert_eq!(sent.text.as_deref(), Some("Yes, we ship to Austria."));
    let row = app.message(ticket, reply["id"].as_i64().unwrap()).await;
    assert_eq!((row.direction, row.reply_to_wamid.as_deref()), (Direction::Outbound, Some(first.wamid.as_str())));
    let (_, detail) = api.get(&format!("/api/v1/tickets/{ticket}")).await;
    let shown = detail["messages"].as_array().unwrap().iter().find(|m| m["id"] == reply["id"]).unwrap().clone();
    assert_eq!(shown["reply_to_wamid"], json!(first.wamid));
    app.stop().await;
}
