//! HTTP targets (SPEC 10, issue 14 item 4), on both backends: a rule's `call_http` action POSTs signed
//! JSON about the ticket and the event; a receiver checks the Standard Webhooks signature with the
//! convention's rules, fails three times and then accepts, and gets the event once; a target that
//! never accepts is given up and needs attention.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use windowdesk_core::signing::{verify, SigningSecret, DEFAULT_TOLERANCE_SECONDS};
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;

on_both_backends!(
    a_receiver_that_fails_three_times_then_accepts_gets_the_signed_event_once,
    a_target_that_never_accepts_is_given_up_and_needs_attention,
);

/// What a receiver got: each request's headers and body.
type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver on a free port answering 500 to the first `failures` requests and 200 after.
async fn receiver(failures: usize) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let kept = kept.clone();
            async move {
                let mut all = kept.lock().unwrap();
                all.push((headers, body));
                if all.len() <= failures {
                    AxumStatus::INTERNAL_SERVER_ERROR
                } else {
                    AxumStatus::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn desk(backend: Backend) -> TestApp {
    TestApp::start_with_sim_and_config(
        backend,
        None,
        |_| {},
        |c| {
            c.http_targets.retry_initial_ms = 100;
            c.http_targets.retry_max_ms = 400;
            c.http_targets.max_attempts = 5;
            c.http_targets.attention_after_minutes = 0;
        },
    )
    .await
}

async fn target_and_rule(api: &Api<'_>, url: &str) -> (Value, String) {
    let (status, target) = api.post("/api/v1/http-targets", json!({"name": "CRM", "url": url})).await;
    assert_eq!(status, StatusCode::CREATED, "{target}");
    let secret = target["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let (status, rule) = api
        .post(
            "/api/v1/rules",
            json!({"name": "Tell the CRM", "event": "ticket_created", "actions": [{"type": "call_http", "target_id": target["id"]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    (target, secret)
}

async fn a_receiver_that_fails_three_times_then_accepts_gets_the_signed_event_once(backend: Backend) {
    let app = desk(backend).await;
    let api = Api::new(&app).await;
    let (url, seen) = receiver(3).await;
    let (target, secret) = target_and_rule(&api, &url).await;
    app.sim().say(Say::text("4915100000009", "hello, my parcel?")).await.unwrap();
    let ticket = app.only_ticket().await;
    app.eventually("the fourth attempt, accepted", || async { (seen.lock().unwrap().len() >= 4).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "three failures and one success, then nothing more");

    // Every attempt carries the same webhook-id and a signature a Standard Webhooks receiver accepts.
    let secret = SigningSecret::parse(&secret).unwrap();
    let now = now_secs();
    let ids: Vec<&str> = seen.iter().map(|(h, _)| h["webhook-id"].to_str().unwrap()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    for (headers, body) in &seen {
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(verify(&secret, header, body, now, DEFAULT_TOLERANCE_SECONDS), Ok(()));
    }
    // A tampered body (or a replay long after) is detected.
    let (headers, body) = &seen[3];
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    let mut tampered = body.to_vec();
    tampered[10] ^= 1;
    assert!(verify(&secret, header, &tampered, now, DEFAULT_TOLERANCE_SECONDS).is_err());
    assert!(verify(&secret, header, body, now + 3_600, DEFAULT_TOLERANCE_SECONDS).is_err());

    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["type"], "rule.call_http");
    assert_eq!(event["data"]["ticket"]["id"], ticket);
    assert_eq!(event["data"]["ticket"]["customer"]["wa_id"], "4915100000009");
    assert_eq!(event["data"]["rule"]["name"], "Tell the CRM");
    assert_eq!(event["data"]["event"], "ticket_created");

    let (_, log) = api.get(&format!("/api/v1/http-targets/{}/deliveries", target["id"])).await;
    let deliveries = log["data"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{log}");
    assert_eq!(deliveries[0]["state"], "delivered");
    assert_eq!(deliveries[0]["attempts"], 4);
    assert_eq!(deliveries[0]["last_status"], 200);
    assert_eq!(deliveries[0]["webhook_id"], ids[0]);
    let (_, t) = api.get(&format!("/api/v1/http-targets/{}", target["id"])).await;
    assert_eq!(t["needs_attention"], false, "{t}");
    assert!(t["last_success_at"].is_string() && t["failing_since"].is_null(), "{t}");
    assert!(t.get("secret").is_none(), "the secret is answered once, at creation");
    app.stop().await;
}

async fn a_target_that_never_accepts_is_given_up_and_needs_attention(backend: Backend) {
    let app = desk(backend).await;
    let api = Api::new(&app).await;
    let (url, seen) = receiver(usize::MAX).await;
    let (target, _) = target_and_rule(&api, &url).await;
    app.sim().say(Say::text("4915100000010", "hello")).await.unwrap();
    let log = app
        .eventually("the delivery given up", || async {
            let (_, log) = api.get(&format!("/api/v1/http-targets/{}/deliveries", target["id"])).await;
            (log["data"][0]["state"] == "gave_up").then_some(log)
        })
        .await;
    assert_eq!(log["data"][0]["attempts"], 5, "{log}");
    assert!(log["data"][0]["last_error"].as_str().unwrap().contains("500"), "{log}");
    assert_eq!(seen.lock().unwrap().len(), 5);
    let (_, t) = api.get(&format!("/api/v1/http-targets/{}", target["id"])).await;
    assert_eq!(t["needs_attention"], true, "{t}");
    // A bad URL is refused naming the field.
    let (status, body) = api.post("/api/v1/http-targets", json!({"name": "x", "url": "ftp://example.com/hook"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"]["field"], "url", "{body}");
    app.stop().await;
}
