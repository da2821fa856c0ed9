//! Inbound media (I5, SPEC 12): downloaded after the commit from the durable queue, stored
//! content-addressed, served with its type; failures show and never block ingest. Both backends.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use common::*;
use windowdesk_server::api::admin;
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;
use windowdesk_store::TicketFilter;

on_both_backends!(i5_a_voice_note_is_downloaded_and_served_as_audio, i5_a_failed_download_shows_and_ingest_goes_on);

async fn media_message(app: &TestApp, kind: &str) -> i64 {
    app.eventually("the media message", || async {
        let tickets = app.store().list_tickets(&TicketFilter::default()).await.unwrap();
        let t = tickets.first()?;
        app.store().ticket_messages(t.id).await.unwrap().into_iter().find(|m| m.kind == kind).map(|m| m.id)
    })
    .await
}

async fn i5_a_voice_note_is_downloaded_and_served_as_audio(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    app.sim().say(Say::voice("4915112345678").name("Rosa")).await.unwrap();
    let id = media_message(&app, "audio").await;
    let media =
        app.eventually("the download", || async { app.store().message_media(id).await.unwrap().filter(|m| m.state == "done") }).await;
    assert!(media.mime_type.as_deref().unwrap().starts_with("audio/ogg"));
    let token = admin::create_api_token(app.store().as_ref(), "t").await.unwrap().token;
    let response = app.client.get(app.url(&format!("/api/v1/messages/{id}/media"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/ogg");
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"OggS"), "an Ogg file");
    assert_eq!(i64::try_from(bytes.len()).unwrap(), media.size.unwrap());
    // Behind authentication.
    assert_eq!(app.client.get(app.url(&format!("/api/v1/messages/{id}/media"))).send().await.unwrap().status(), 401);
    app.stop().await;
}

async fn i5_a_failed_download_shows_and_ingest_goes_on(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    // Meta announces a voice note whose media it no longer has.
    let voice = serde_json::json!({"from": "4915112345678", "id": "wamid.lostvoice", "timestamp": now_secs().to_string(), "type": "audio",
                                   "audio": {"id": "999000999", "mime_type": "audio/ogg; codecs=opus", "voice": true}});
    assert_eq!(app.post(&message(voice, "4915112345678")).await, 200);
    let id = media_message(&app, "audio").await;
    let media = app
        .eventually("the download to fail", || async { app.store().message_media(id).await.unwrap().filter(|m| m.state == "failed") })
        .await;
    assert!(media.error.is_some());
    let token = admin::create_api_token(app.store().as_ref(), "t").await.unwrap().token;
    let response = app.client.get(app.url(&format!("/api/v1/messages/{id}/media"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 409);
    // The conversation goes on.
    app.sim().say(Say::text("4915112345678", "did you get my voice note?")).await.unwrap();
    assert_eq!(app.store().counts().await.unwrap().messages, 2);
    app.stop().await;
}
