//! Agent attachments (issue 15 item 2) over real HTTP, with the simulator playing Meta, on both
//! backends: an image and a PDF reach Meta as media sends by the id of a file uploaded to
//! `POST /{phone-number-id}/media`; files Meta would refuse are refused before anything is uploaded,
//! with the reason; a media reply is refused by a closed window like any free-form message, and can
//! be held until the customer writes again.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::time::Duration;

use common::*;
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use windowdesk_core::DeliveryState;
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;

on_both_backends!(
    an_image_and_a_pdf_reach_meta_as_media_sends_by_uploaded_id,
    files_meta_would_refuse_are_refused_before_anything_is_uploaded,
    a_closed_window_refuses_a_file_like_any_free_form_reply_and_it_can_be_held,
);

const CUSTOMER: &str = "4915100000077";

/// A small real PNG (1×1 pixel).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63,
    0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44,
    0xAE, 0x42, 0x60, 0x82,
];

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

struct Client<'a> {
    app: &'a TestApp,
    token: String,
}

impl Client<'_> {
    async fn new(app: &TestApp) -> Client<'_> {
        let token = windowdesk_server::api::admin::create_api_token(app.store().as_ref(), "tests").await.unwrap().token;
        Client { app, token }
    }

    async fn attach(&self, ticket: i64, form: Form) -> (StatusCode, Value) {
        let resp = self
            .app
            .client
            .post(self.app.url(&format!("/api/v1/tickets/{ticket}/attachments")))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

fn file(bytes: Vec<u8>, name: &str, mime: &str) -> Part {
    Part::bytes(bytes).file_name(name.to_owned()).mime_str(mime).unwrap()
}

async fn open_ticket(app: &TestApp) -> i64 {
    app.sim().say(Say::text(CUSTOMER, "Can you send me the invoice and a photo of the part?").name("Lena Vogel")).await.unwrap();
    app.only_ticket().await
}

async fn an_image_and_a_pdf_reach_meta_as_media_sends_by_uploaded_id(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let ticket = open_ticket(&app).await;
    let api = Client::new(&app).await;
    let (status, image) = api
        .attach(ticket, Form::new().part("file", file(PNG.to_vec(), "part.png", "image/png")).text("caption", "The part, as shipped"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{image}");
    assert_eq!(image["state"], "queued");
    let (status, doc) = api.attach(ticket, Form::new().part("file", file(pdf(), "Invoice 2291.pdf", "application/pdf"))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{doc}");

    app.eventually("both files at Meta", || async { (app.sim().received().len() == 2).then_some(()) }).await;
    let received = app.sim().received();
    let (img, pdf_sent) = (&received[0], &received[1]);
    assert_eq!((img.kind.as_str(), pdf_sent.kind.as_str()), ("image", "document"), "in the order they were sent");
    assert_eq!(img.request["image"]["caption"], "The part, as shipped");
    assert_eq!(pdf_sent.request["document"]["filename"], "Invoice 2291.pdf");
    // Sent by the id of an upload this number made, holding exactly the agent's bytes.
    for (sent, kind, bytes) in [(img, "image", PNG.to_vec()), (pdf_sent, "document", pdf())] {
        let media_id = sent.request[kind]["id"].as_str().unwrap();
        assert!(sent.request[kind].get("link").is_none());
        let info = app.sim().media_info(media_id).unwrap();
        assert_eq!(info.sha256, hex::encode(Sha256::digest(&bytes)));
        assert_eq!(info.phone_number_id, sent.phone_number_id);
    }
    let image_id = image["id"].as_i64().unwrap();
    let m = app.wait_for_state(ticket, image_id, DeliveryState::Read).await;
    assert_eq!((m.kind.as_str(), m.body.as_deref(), m.mime_type.as_deref()), ("image", Some("The part, as shipped"), Some("image/png")));
    // The thread shows it from the desk's own copy (content-addressed, like inbound media).
    let served = app.client.get(app.url(&format!("/api/v1/messages/{image_id}/media"))).bearer_auth(&api.token).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);
    let doc_row = app.message(ticket, doc["id"].as_i64().unwrap()).await;
    assert_eq!((doc_row.kind.as_str(), doc_row.filename.as_deref()), ("document", Some("Invoice 2291.pdf")));
    app.stop().await;
}

async fn files_meta_would_refuse_are_refused_before_anything_is_uploaded(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let ticket = open_ticket(&app).await;
    let api = Client::new(&app).await;
    let refusals = [
        (
            Form::new().part("file", file(vec![0x89; 5_000_001], "big.png", "image/png")),
            "file",
            "the image is 5 MB; WhatsApp accepts images up to 5 MB",
        ),
        (Form::new().part("file", file(b"GIF89a".to_vec(), "cat.gif", "image/gif")), "file", "WhatsApp does not accept image/gif files"),
        (
            Form::new().part("file", file(b"ID3".to_vec(), "note.mp3", "audio/mpeg")).text("caption", "listen"),
            "caption",
            "audio messages carry no caption",
        ),
        (Form::new().part("file", file(Vec::new(), "empty.pdf", "application/pdf")), "file", "the file is empty"),
        (Form::new().text("caption", "no file"), "file", "a file is required"),
        (Form::new().part("file", file(pdf(), "a.pdf", "application/pdf")).text("hold", "maybe"), "hold", "must be true or false"),
    ];
    for (form, field, message) in refusals {
        let (status, body) = api.attach(ticket, form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["details"]["field"], field, "{body}");
        let said = body["error"]["message"].as_str().unwrap();
        assert!(said.contains(message), "{said:?} should say {message:?}");
    }
    // JSON is not a file.
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/tickets/{ticket}/attachments")))
        .bearer_auth(&api.token)
        .json(&serde_json::json!({"file": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Over any file WhatsApp takes: refused by its declared length before it is read.
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/tickets/{ticket}/attachments")))
        .bearer_auth(&api.token)
        .header("content-type", "multipart/form-data; boundary=x")
        .header("content-length", "200000000")
        .body("--x--")
        .send()
        .await;
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.sim().received().is_empty(), "nothing sent");
    let messages = app.store().ticket_messages(ticket).await.unwrap();
    assert_eq!(messages.len(), 1, "nothing stored but the customer's message: {messages:#?}");
    app.stop().await;
}

async fn a_closed_window_refuses_a_file_like_any_free_form_reply_and_it_can_be_held(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    app.sim().say(Say::text(CUSTOMER, "Send me the manual please").name("Lena Vogel").at(now_secs() - 25 * 3600)).await.unwrap();
    let ticket = app.only_ticket().await;
    let api = Client::new(&app).await;
    let (status, body) = api.attach(ticket, Form::new().part("file", file(pdf(), "manual.pdf", "application/pdf"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "window_closed");
    let options: Vec<&str> = body["error"]["details"]["options"].as_array().unwrap().iter().filter_map(|o| o["kind"].as_str()).collect();
    assert!(options.contains(&"hold"), "{options:?}");
    assert_eq!(app.store().ticket_messages(ticket).await.unwrap().len(), 1, "nothing stored");

    let (status, held) = api
        .attach(
            ticket,
            Form::new().part("file", file(pdf(), "manual.pdf", "application/pdf")).text("caption", "The manual").text("hold", "true"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{held}");
    assert_eq!(held["state"], "held");
    let id = held["id"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.sim().received().is_empty(), "held means not sent");
    assert_eq!(app.message(ticket, id).await.delivery_state, Some(DeliveryState::Held));
    app.sim().say(Say::text(CUSTOMER, "Hello again")).await.unwrap();
    let sent = app.eventually("the held file at Meta", || async { app.sim().received().into_iter().next() }).await;
    assert_eq!(sent.kind, "document");
    assert_eq!(sent.request["document"]["caption"], "The manual");
    let media_id = sent.request["document"]["id"].as_str().unwrap();
    assert_eq!(app.sim().media_info(media_id).unwrap().sha256, hex::encode(Sha256::digest(pdf())));
    app.wait_for_state(ticket, id, DeliveryState::Read).await;
    app.stop().await;
}
