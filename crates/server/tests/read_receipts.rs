//! Read receipts and the typing indicator (issue 15 item 1), on both backends, against the
//! simulator: opening a ticket marks the customer's latest message read at Meta once (a message that
//! arrives later is marked when the agent looks again); typing a reply asks for the typing
//! indicator; both are switched off per business number.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use common::api::Api;
use common::web::{add_agent, Web};
use common::*;
use reqwest::StatusCode;
use serde_json::json;
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;

on_both_backends!(
    opening_a_ticket_marks_the_latest_message_read_once_and_typing_shows_the_indicator,
    switched_off_for_the_number_the_customer_sees_neither,
);

const ANA: &str = "ana@example.com";
const CUSTOMER: &str = "4915112345678";

async fn wamid_of_latest(app: &TestApp, ticket: i64) -> String {
    app.store().latest_inbound(ticket).await.unwrap().unwrap().wamid
}

async fn opening_a_ticket_marks_the_latest_message_read_once_and_typing_shows_the_indicator(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    add_agent(&app, "Ana Lima", ANA).await;
    app.sim().say(Say::text(CUSTOMER, "Where is my parcel?").name("Rosa")).await.unwrap();
    app.sim().say(Say::text(CUSTOMER, "Order 1042")).await.unwrap();
    let ticket = app.eventually("the ticket", || common::web::ticket_of(&app, CUSTOMER)).await;
    app.eventually("both messages", || async { (app.store().ticket_messages(ticket).await.unwrap().len() == 2).then_some(()) }).await;
    assert!(app.sim().read_receipts().is_empty(), "nobody has looked yet");

    let web = Web::sign_in(&app, ANA).await;
    web.page(&format!("/tickets/{ticket}")).await;
    let latest = wamid_of_latest(&app, ticket).await;
    let receipts = app.eventually("the read receipt", || async { Some(app.sim().read_receipts()).filter(|r| !r.is_empty()) }).await;
    assert_eq!(receipts.len(), 1, "the latest message only: Meta marks the earlier ones with it");
    assert_eq!(receipts[0].message_id, latest);
    assert!(!receipts[0].typing);
    // Looking again, or the page refreshing itself, tells Meta nothing new.
    web.page(&format!("/tickets/{ticket}")).await;
    web.page(&format!("/tickets/{ticket}/live")).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.sim().read_receipts().len(), 1);

    // A new message, seen as the open page refreshes: read too.
    app.sim().say(Say::text(CUSTOMER, "Hello?")).await.unwrap();
    app.eventually("the third message", || async { (app.store().ticket_messages(ticket).await.unwrap().len() == 3).then_some(()) }).await;
    web.page(&format!("/tickets/{ticket}/live")).await;
    let newest = wamid_of_latest(&app, ticket).await;
    app.eventually("the second read receipt", || async {
        app.sim().read_receipts().into_iter().find(|r| r.message_id == newest).map(|_| ())
    })
    .await;

    // Typing a reply: the typing indicator, with the latest message.
    let typed = web.post_raw(&format!("/tickets/{ticket}/typing"), &[], &[("x-csrf-token", &web.csrf), ("origin", &web.base)]).await;
    assert_eq!(typed.status, 204, "{}", typed.body);
    let typing = app.eventually("the typing indicator", || async { app.sim().read_receipts().into_iter().find(|r| r.typing) }).await;
    assert_eq!(typing.message_id, newest);
    // Without the session's token, nothing.
    let forged = web.post_raw(&format!("/tickets/{ticket}/typing"), &[], &[("x-csrf-token", "forged"), ("origin", &web.base)]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    app.stop().await;
}

async fn switched_off_for_the_number_the_customer_sees_neither(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    add_agent(&app, "Ana Lima", ANA).await;
    let api = Api::new(&app).await;
    let (_, numbers) = api.get("/api/v1/numbers").await;
    let mut settings = numbers["data"][0]["settings"].clone();
    assert_eq!(settings["read_receipts"], true, "on by default: {settings}");
    assert_eq!(settings["typing_indicator"], true, "{settings}");
    settings["read_receipts"] = json!(false);
    let (status, body) = api.put(&format!("/api/v1/numbers/{}/settings", app.bn), settings).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["read_receipts"], false, "{body}");

    app.sim().say(Say::text(CUSTOMER, "Where is my parcel?").name("Rosa")).await.unwrap();
    let ticket = app.eventually("the ticket", || common::web::ticket_of(&app, CUSTOMER)).await;
    let web = Web::sign_in(&app, ANA).await;
    web.page(&format!("/tickets/{ticket}")).await;
    let typed = web.post_raw(&format!("/tickets/{ticket}/typing"), &[], &[("x-csrf-token", &web.csrf), ("origin", &web.base)]).await;
    assert_eq!(typed.status, 204);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(app.sim().read_receipts().is_empty(), "{:?}", app.sim().read_receipts());
    app.stop().await;
}
