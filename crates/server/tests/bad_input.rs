//! Bad input and faults (SPEC 15) found by fuzzing and probing the desk from outside, over real HTTP,
//! on both backends: card numbers in every stored shape, NUL, slow and oversized requests, account
//! webhooks signed by the wrong app, and readiness when nothing can be committed.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::time::Duration;

use common::web::{add_agent, Web};
use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use windowdesk_store::testing::Backend;

on_both_backends!(
    i8_card_numbers_in_account_changes_and_json_numbers_are_redacted,
    nul_in_text_or_a_profile_name_is_stored_the_same_on_both_backends,
    account_changes_apply_only_when_signed_by_an_app_serving_that_account,
    readyz_is_503_when_the_database_cannot_commit,
    a_content_length_over_the_limit_is_413_before_the_body_is_read,
    a_connection_that_never_finishes_its_headers_is_closed,
    a_body_that_never_arrives_times_out,
    wrong_shapes_inside_meta_s_envelope_are_200_kept_raw_and_counted,
    a_wrong_envelope_is_400_and_stores_nothing,
    nul_in_a_web_reply_or_note_is_400_naming_it_never_503,
);

fn signed(secret: &str, payload: &Value) -> (Vec<u8>, Option<String>) {
    let body = serde_json::to_vec(payload).unwrap();
    let sig = windowdesk_whatsapp::signature::sign(secret.as_bytes(), &body);
    (body, Some(sig))
}

fn template_status(waba: &str, name: &str, event: &str) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": waba, "time": now_secs(), "changes": [{
        "field": "message_template_status_update",
        "value": {"event": event, "message_template_id": 1315502779341834_u64, "message_template_name": name,
                  "message_template_language": "en_US", "reason": "NONE", "message_template_category": "UTILITY"}}]}]})
}

async fn i8_card_numbers_in_account_changes_and_json_numbers_are_redacted(backend: Backend) {
    let app = TestApp::start(backend).await;
    // An account update carrying a card (in text and as a JSON number), and a messages change
    // without metadata: both are stored as account events, whole.
    let account = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [
        {"field": "account_update", "value": {"event": "PARTNER_ADDED", "note": "card 4111 1111 1111 1111", "amount": 4111111111111111_u64}},
        {"field": "messages", "value": {"messaging_product": "whatsapp", "messages": [{"from": "15550001234", "id": "wamid.nometa",
            "timestamp": "1", "type": "text", "text": {"body": "my card 5500-0000-0000-0004"}}]}}
    ]}]});
    assert_eq!(app.post(&account).await, 200);
    // A message whose text field is a JSON number.
    let mut number = text("wamid.cardnum", "15550001234", now_secs(), "x");
    number["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = json!(4111111111111111_u64);
    assert_eq!(app.post(&number).await, 200);

    let events = app.store().account_events().await.unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    for e in &events {
        for digits in ["4111 1111 1111 1111", "4111111111111111", "5500-0000-0000-0004"] {
            assert!(!e.raw.contains(digits), "{digits} stored in {}", e.raw);
        }
    }
    assert!(events.iter().any(|e| e.raw.contains("**** **** **** 1111")), "redacted, last four kept: {events:?}");
    let m = app.store().message_by_wamid(app.bn, "wamid.cardnum").await.unwrap().unwrap();
    assert!(!m.raw.as_deref().unwrap().contains("4111111111111111"), "{:?}", m.raw);
    assert!(!m.body.as_deref().unwrap_or_default().contains("4111111111111111"), "{:?}", m.body);
    app.stop().await;
}

async fn nul_in_text_or_a_profile_name_is_stored_the_same_on_both_backends(backend: Backend) {
    let app = TestApp::start(backend).await;
    let mut p = text("wamid.nul", "15550001234", now_secs(), "before\u{0}after");
    p["entry"][0]["changes"][0]["value"]["contacts"] = json!([{"profile": {"name": "Ro\u{0}sa"}, "wa_id": "15550001234"}]);
    assert_eq!(app.post(&p).await, 200, "never a 503 that Meta retries for a week");
    let m = app.store().message_by_wamid(app.bn, "wamid.nul").await.unwrap().unwrap();
    assert_eq!(m.body.as_deref(), Some("before\u{FFFD}after"));
    let identity = app.store().identity_by_key(app.bn, "15550001234").await.unwrap().unwrap();
    assert_eq!(identity.contact_name, "Ro\u{FFFD}sa");
    app.stop().await;
}

async fn account_changes_apply_only_when_signed_by_an_app_serving_that_account(backend: Backend) {
    let app = TestApp::start_with_sim_and_config(
        backend,
        None,
        |_| {},
        |c| {
            // A second app, on another account.
            let mut other = c.business_numbers[0].clone();
            other.phone_number_id = "300000000001".into();
            other.waba_id = "300000000009".into();
            other.app_secret = "other-app-secret".to_owned().into();
            c.business_numbers.push(other);
        },
    )
    .await;
    // The other app's secret on this desk's first account: refused.
    let (body, sig) = signed("other-app-secret", &template_status(WABA, "hijack", "APPROVED"));
    assert_eq!(app.post_raw(body, sig).await.status(), 200, "answered 200 so Meta stops retrying");
    // An account no number of this desk is on: refused, even with a known secret.
    let (body, sig) = signed(SECRET, &template_status("555000555", "stranger", "APPROVED"));
    assert_eq!(app.post_raw(body, sig).await.status(), 200);
    let names: Vec<String> = app.store().templates().await.unwrap().into_iter().map(|t| t.name).collect();
    assert!(!names.iter().any(|n| n == "hijack" || n == "stranger"), "{names:?}");
    let unknown: Vec<String> = app.store().unknown_numbers().await.unwrap().into_iter().map(|u| u.phone_number_id).collect();
    assert!(unknown.contains(&format!("waba:{WABA}")) && unknown.contains(&"waba:555000555".to_owned()), "{unknown:?}");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("windowdesk_unserved_account_changes_total 2"), "{metrics}");
    // Signed by the app that serves the account: applied.
    let (body, sig) = signed(SECRET, &template_status(WABA, "welcome", "APPROVED"));
    assert_eq!(app.post_raw(body, sig).await.status(), 200);
    assert!(app.store().templates().await.unwrap().iter().any(|t| t.name == "welcome"));
    app.stop().await;
}

async fn readyz_is_503_when_the_database_cannot_commit(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ready = || async { app.client.get(app.url("/readyz")).send().await.unwrap().status().as_u16() };
    assert_eq!(ready().await, 200);
    // Every write fails from now on, as on a full disk; reads still work.
    let fail = match backend {
        Backend::Sqlite => "CREATE TRIGGER full_i BEFORE INSERT ON readiness_probe BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
                           CREATE TRIGGER full_u BEFORE UPDATE ON readiness_probe BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
        Backend::Postgres => "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$;
                             CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON readiness_probe FOR EACH ROW EXECUTE FUNCTION disk_full();",
    };
    app.db.execute(fail).await.unwrap();
    assert_eq!(ready().await, 503, "reads work but nothing can be committed");
    assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200, "still alive");
    app.stop().await;
}

/// Raw HTTP on a fresh connection: what a slow or hostile client sends.
async fn raw(app: &TestApp, request: &[u8]) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(request).await.unwrap();
    stream
}

async fn a_content_length_over_the_limit_is_413_before_the_body_is_read(backend: Backend) {
    let app = TestApp::start(backend).await;
    // Only the headers are sent: the answer must not wait for 4 MB that never come.
    let mut stream = raw(
        &app,
        b"POST /webhooks/whatsapp HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 4000000\r\nx-hub-signature-256: sha256=00\r\n\r\n",
    )
    .await;
    let mut answer = vec![0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer)).await.expect("answered without the body").unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"code\":\"payload_too_large\""), "JSON error: {answer}");
    let api = raw(
        &app,
        b"POST /api/v1/tickets/1/replies HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 9999999\r\n\r\n",
    )
    .await;
    let mut api = api;
    let mut answer = vec![0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(10), api.read(&mut answer)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 413"), "the API too");
    app.stop().await;
}

async fn a_connection_that_never_finishes_its_headers_is_closed(backend: Backend) {
    let app = TestApp::start_with_sim_and_config(backend, None, |_| {}, |c| c.server.header_read_timeout_seconds = 1).await;
    let mut stream = raw(&app, b"POST /webhooks/whatsapp HTTP/1.1\r\nhost: x\r\n").await;
    let mut buf = [0u8; 256];
    // hyper closes it (optionally with a 408) once the headers are late.
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await.expect("the desk closed the connection");
    match read {
        Ok(0) | Err(_) => {}
        Ok(n) => assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"), "{}", String::from_utf8_lossy(&buf[..n])),
    }
    // The desk still serves everyone else.
    assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    app.stop().await;
}

async fn a_body_that_never_arrives_times_out(backend: Backend) {
    let app = TestApp::start_with_sim_and_config(backend, None, |_| {}, |c| c.server.body_read_timeout_seconds = 1).await;
    let mut stream = raw(
        &app,
        b"POST /webhooks/whatsapp HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\nx-hub-signature-256: sha256=00\r\n\r\n{\"obj",
    )
    .await;
    let mut answer = vec![0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer)).await.expect("answered, not held").unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408") || answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(app.store().counts().await.unwrap().messages, 0);
    app.stop().await;
}

fn messages_change(value: Value) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [{"field": "messages", "value": value}]}]})
}

/// Inside a valid envelope, a part without Meta's documented shape may still be something Meta sends
/// (a newer format): refusing the body would make Meta redeliver the whole batch, good parts
/// included, for a week. Each is answered 200, kept raw where an admin can see it, and counted.
async fn wrong_shapes_inside_meta_s_envelope_are_200_kept_raw_and_counted(backend: Backend) {
    let app = TestApp::start(backend).await;
    let meta = json!({"display_phone_number": "15550001111", "phone_number_id": PNID});
    let cases = [
        ("messages as a string", json!({"messaging_product": "whatsapp", "metadata": meta, "messages": "marker-1"})),
        (
            "a message without an id",
            json!({"messaging_product": "whatsapp", "metadata": meta,
            "messages": [{"from": "15550001234", "timestamp": "1", "type": "text", "text": {"body": "marker-2"}}]}),
        ),
        ("statuses as an object", json!({"messaging_product": "whatsapp", "metadata": meta, "statuses": {"id": "marker-3"}})),
    ];
    for (what, value) in &cases {
        assert_eq!(app.post(&messages_change(value.clone())).await, 200, "{what}");
    }
    // A messages change without metadata belongs to no number: kept as an account event.
    let no_meta = json!({"messaging_product": "whatsapp", "messages": [{"from": "15550001234", "id": "wamid.x", "timestamp": "1",
        "type": "text", "text": {"body": "marker-4"}}]});
    assert_eq!(app.post(&messages_change(no_meta)).await, 200, "without metadata");
    let events = app.store().account_events().await.unwrap();
    for marker in ["marker-1", "marker-2", "marker-3", "marker-4"] {
        assert!(events.iter().any(|e| e.raw.contains(marker)), "{marker} kept raw: {events:?}");
    }
    assert_eq!(app.store().counts().await.unwrap().messages, 0, "nothing half-read became a message");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("windowdesk_webhook_parts_kept_raw_total 3"), "{metrics}");
    app.stop().await;
}

/// Meta's envelope itself (`entry` a list of `changes`, each a `field` and a `value`) is its contract:
/// a body that breaks it is not from Meta, and gets 400 naming what is wrong.
async fn a_wrong_envelope_is_400_and_stores_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    for (what, body) in [
        ("entry not a list", json!({"object": "whatsapp_business_account", "entry": {"id": WABA}})),
        ("changes not a list", json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": "x"}]})),
        (
            "a change without a value",
            json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [{"field": "messages"}]}]}),
        ),
    ] {
        let (raw, sig) = signed(SECRET, &body);
        let r = app.post_raw(raw, sig).await;
        assert_eq!(r.status(), 400, "{what}");
        let err: Value = r.json().await.unwrap();
        assert!(!err["error"]["message"].as_str().unwrap().is_empty(), "{what}: {err}");
    }
    assert!(app.store().account_events().await.unwrap().is_empty());
    app.stop().await;
}

async fn nul_in_a_web_reply_or_note_is_400_naming_it_never_503(backend: Backend) {
    let app = TestApp::start(backend).await;
    add_agent(&app, "Ana Lima", "ana@example.com").await;
    assert_eq!(app.post(&text("wamid.hi", "15550001234", now_secs(), "hello")).await, 200);
    let ticket = app.store().list_tickets(&windowdesk_store::TicketFilter::default()).await.unwrap()[0].id;
    let web = Web::sign_in(&app, "ana@example.com").await;
    for path in ["note", "reply"] {
        let page = web.post(&format!("/tickets/{ticket}/{path}"), &[("body", "a\u{0}b"), ("submit_as", "open")]).await;
        assert_eq!(page.status, 400, "{path}: {}", page.body);
        assert!(page.body.contains("NUL"), "{path}: names it: {}", page.body);
    }
    let messages = app.store().ticket_messages(ticket).await.unwrap();
    assert_eq!(messages.len(), 1, "nothing stored");
    app.stop().await;
}
