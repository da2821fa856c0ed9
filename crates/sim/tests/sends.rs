//! `POST /{version}/{phone-number-id}/messages` over real HTTP: token, validation, statuses with
//! pricing, the 24 h rule, templates, limits, faults.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use windowdesk_core::MetaStatus;
use windowdesk_sim::{Say, WindowEnforcement};

#[tokio::test]
async fn the_token_is_checked_as_graph_does() {
    let s = Setup::new().await;
    let (status, body) = s.send_with(None, PNID, text_to(CUSTOMER, "hi")).await;
    assert_eq!(status, 401);
    assert_eq!(meta_error(&body)["code"], 104, "no token: {body}");

    let (status, body) = s.send_with(Some("wrong"), PNID, text_to(CUSTOMER, "hi")).await;
    assert_eq!(status, 401);
    let e = meta_error(&body);
    assert_eq!((e["code"].clone(), e["type"].clone()), (json!(190), json!("OAuthException")), "{body}");

    let (status, body) = s.send_with(Some(TOKEN), "999999", text_to(CUSTOMER, "hi")).await;
    assert_eq!(status, 400, "an unknown phone number id is Graph's unsupported post request");
    let e = meta_error(&body);
    assert_eq!((e["code"].clone(), e["error_subcode"].clone()), (json!(100), json!(33)), "{body}");

    assert_eq!(s.get(&format!("/v23.0/{WABA}/message_templates"), Some("wrong")).await.status(), 401);
    assert_eq!(s.get(&format!("/v23.0/{WABA}/message_templates"), None).await.status(), 401);
    assert!(s.sim.handle.received().is_empty());
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn bad_bodies_are_refused_naming_the_field() {
    let s = Setup::new().await;
    let (status, body) = s.send(json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {}})).await;
    assert_eq!(status, 400);
    let e = meta_error(&body);
    assert_eq!(e["code"], 100);
    assert!(e["error_data"]["details"].as_str().unwrap().contains("text.body"), "{body}");

    let (status, body) = s.send(json!({"to": CUSTOMER, "text": {"body": "x"}})).await;
    assert_eq!(status, 400);
    assert!(meta_error(&body)["message"].as_str().unwrap().contains("messaging_product"), "{body}");

    let resp = s
        .http
        .post(s.url(&format!("/v23.0/{PNID}/messages")))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(meta_error(&resp.json().await.unwrap())["code"], 100);
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn a_send_is_received_and_followed_by_sent_delivered_read_with_pmp_pricing() {
    let s = Setup::new().await;
    let said = s.sim.handle.say(Say::text(CUSTOMER, "Where is my order?").name("Dana")).await.unwrap();

    let (status, body) = s.send(text_to(&format!("+{CUSTOMER}"), "It ships today.")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["contacts"], json!([{"input": format!("+{CUSTOMER}"), "wa_id": CUSTOMER}]));
    let wamid = body["messages"][0]["id"].as_str().unwrap().to_owned();
    assert!(wamid.starts_with("wamid."));

    let received = s.sim.handle.received();
    assert_eq!(received.len(), 1);
    assert_eq!((received[0].wamid.as_str(), received[0].to.as_str()), (wamid.as_str(), CUSTOMER));
    assert_eq!(received[0].text.as_deref(), Some("It ships today."));

    for status in [MetaStatus::Sent, MetaStatus::Delivered, MetaStatus::Read] {
        let report = s.desk.status(&wamid, status).await;
        assert_eq!(report.recipient.as_deref(), Some(CUSTOMER));
        let pricing: serde_json::Value = serde_json::from_str(report.pricing.as_deref().unwrap()).unwrap();
        assert_eq!(pricing, json!({"billable": false, "pricing_model": "PMP", "category": "service", "type": "free_customer_service"}));
    }
    let value = s.desk.raw_status(&wamid, "delivered").unwrap();
    assert_eq!(value["metadata"], json!({"display_phone_number": "972123456789", "phone_number_id": PNID}));
    assert_eq!(value["contacts"][0]["profile"]["name"], "Dana");
    let st = &value["statuses"][0];
    assert!(st["timestamp"].as_str().unwrap().parse::<i64>().unwrap() > 1_600_000_000, "unix seconds as a string");
    assert!(st.get("errors").is_none());
    eventually("the received message to show read", || (s.sim.handle.received()[0].status == "read").then_some(())).await;

    // Mark-as-read of the customer's message.
    let (status, body) = s
        .send(json!({"messaging_product": "whatsapp", "status": "read", "message_id": said.wamid, "typing_indicator": {"type": "text"}}))
        .await;
    assert_eq!((status, body), (200, json!({"success": true})));
    assert_eq!(s.sim.handle.read_receipts()[0].message_id, said.wamid);
    assert_eq!(s.desk.state.bad_signatures.load(std::sync::atomic::Ordering::SeqCst), 0);
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn window_closed_sync_after_24_hours() {
    let s = Setup::new().await;
    let (status, body) = s.send(text_to(CUSTOMER, "Hello stranger")).await;
    assert_eq!(status, 400, "never wrote, so no window: {body}");
    assert_eq!(meta_error(&body)["code"], 131_047);

    s.sim.handle.say(Say::text(CUSTOMER, "hi")).await.unwrap();
    assert_eq!(s.send(text_to(CUSTOMER, "Hi!")).await.0, 200);
    s.sim.handle.advance_clock(Duration::from_secs(24 * 3600 - 60));
    assert_eq!(s.send(text_to(CUSTOMER, "Still open")).await.0, 200);
    s.control("clock/advance", json!({"seconds": 60})).await;

    let (status, body) = s.send(text_to(CUSTOMER, "Too late")).await;
    assert_eq!(status, 400);
    let e = meta_error(&body);
    assert_eq!(e["code"], 131_047);
    assert_eq!(e["message"], "(#131047) Re-engagement message");
    assert_eq!(
        e["error_data"]["details"],
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
    );
    // A template still goes out, billed.
    let (status, body) = s.send(template_to(CUSTOMER, "order_update", "en_US", &["Dana", "#42"])).await;
    assert_eq!(status, 200, "{body}");
    let wamid = body["messages"][0]["id"].as_str().unwrap();
    let sent = s.desk.status(wamid, MetaStatus::Sent).await;
    let pricing: serde_json::Value = serde_json::from_str(sent.pricing.as_deref().unwrap()).unwrap();
    assert_eq!(pricing, json!({"billable": true, "pricing_model": "PMP", "category": "utility", "type": "regular"}));
    assert_eq!(s.sim.handle.received().last().unwrap().text.as_deref(), Some("Hi Dana, your order #42 has shipped."));
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn the_window_closes_at_exactly_24_hours_after_the_senders_timestamp() {
    let s = Setup::new().await;
    let clock = s.sim.handle.clock();
    clock.freeze();
    s.sim.handle.say(Say::text(CUSTOMER, "hi")).await.unwrap();
    let window_end = s.sim.handle.last_inbound_ms(PNID, CUSTOMER).unwrap() + 24 * 3600 * 1000;
    s.sim.handle.advance_clock(Duration::from_millis((window_end - 1 - clock.now_ms()) as u64));
    assert_eq!(s.send(text_to(CUSTOMER, "last millisecond")).await.0, 200);
    s.sim.handle.advance_clock(Duration::from_millis(1));
    assert_eq!(clock.now_ms(), window_end);
    let (status, body) = s.send(text_to(CUSTOMER, "closed now")).await;
    assert_eq!((status, meta_error(&body)["code"].clone()), (400, json!(131_047)));
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn window_closed_async_comes_as_a_failed_status() {
    let s = Setup::new().await;
    s.sim.handle.say(Say::text(CUSTOMER, "hi")).await.unwrap();
    let mode = s.control("window-enforcement", json!({"mode": "async"})).await;
    assert_eq!(mode["mode"], "async");
    assert_eq!(s.sim.handle.window_enforcement(), WindowEnforcement::Async);
    s.control("clock/advance", json!({"hours": 24})).await;

    let (status, body) = s.send(text_to(CUSTOMER, "Too late")).await;
    assert_eq!(status, 200, "accepted first: {body}");
    let wamid = body["messages"][0]["id"].as_str().unwrap();
    let failed = s.desk.status(wamid, MetaStatus::Failed).await;
    assert_eq!(failed.errors.len(), 1);
    assert_eq!(failed.errors[0].code, 131_047);
    assert_eq!(failed.errors[0].title, "Re-engagement message");
    assert!(failed.errors[0].details.as_deref().unwrap().contains("24 hours"));
    assert!(failed.pricing.is_none());
    eventually("the received message to show failed", || {
        let m = s.sim.handle.received().pop()?;
        (m.status == "failed" && m.error_code == Some(131_047)).then_some(())
    })
    .await;
    // No other status follows a failure.
    tokio::task::yield_now().await;
    assert!(s.desk.statuses().iter().filter(|st| st.wamid == wamid).all(|st| st.status == Some(MetaStatus::Failed)));

    s.sim.handle.set_window_enforcement(WindowEnforcement::Off);
    assert_eq!(s.send(text_to(CUSTOMER, "Anything goes")).await.0, 200);
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn templates_are_checked() {
    let s = Setup::new().await;
    let refusal = |body: &serde_json::Value| (meta_error(body)["code"].as_i64().unwrap(), body["error"]["error_data"]["details"].clone());

    let (status, body) = s.send(template_to(CUSTOMER, "no_such_template", "en_US", &[])).await;
    assert_eq!(status, 400);
    assert_eq!(refusal(&body), (132_001, json!("template name (no_such_template) does not exist in en_US")));
    let (_, body) = s.send(template_to(CUSTOMER, "order_update", "fr_FR", &["a", "b"])).await;
    assert_eq!(refusal(&body).0, 132_001, "unknown language");
    let (_, body) = s.send(template_to(CUSTOMER, "new_terms", "en_US", &["May 1"])).await;
    assert_eq!(refusal(&body).0, 132_001, "PENDING is not approved");
    let (_, body) = s.send(template_to(CUSTOMER, "winter_sale", "en_US", &["a"])).await;
    assert_eq!(refusal(&body).0, 132_015, "PAUSED");
    let (_, body) = s.send(template_to(CUSTOMER, "old_promo", "en_US", &["a"])).await;
    assert_eq!(refusal(&body).0, 132_016, "DISABLED");

    let (status, body) = s.send(template_to(CUSTOMER, "order_update", "en_US", &["Dana"])).await;
    assert_eq!(status, 400);
    assert_eq!(refusal(&body), (132_000, json!("body: number of localizable_params (1) does not match the expected number of params (2)")));

    // Named parameters.
    let named = |name: &str| {
        json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template", "template": {
            "name": "reply_waiting", "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "parameter_name": name, "text": "Dana"}]}]}})
    };
    let (_, body) = s.send(named("firstname")).await;
    assert_eq!(refusal(&body).0, 132_000);
    let (status, body) = s.send(named("first_name")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["messages"][0]["message_status"], "accepted");
    let m = s.sim.handle.received().pop().unwrap();
    assert_eq!(m.text.as_deref(), Some("Hi Dana, we have answered your request. Reply to this message to read it."));
    assert_eq!(m.template.unwrap().category, "UTILITY");
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn throughput_limit_gives_130429() {
    let s = Setup::with(|c| c.numbers[0].throughput_per_second = 5).await;
    // A frozen clock makes "one second" exact whatever the machine's speed.
    s.sim.handle.clock().freeze();
    for i in 0..5 {
        let (status, body) = s.send(template_to(&format!("4915100000{i}"), "hello_world", "en_US", &[])).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = s.send(template_to("491510000099", "hello_world", "en_US", &[])).await;
    assert_eq!(status, 400);
    assert_eq!(meta_error(&body)["code"], 130_429);
    assert_eq!(body["error"]["message"], "(#130429) Rate limit hit");
    s.sim.handle.advance_clock(Duration::from_secs(1));
    assert_eq!(s.send(template_to("491510000099", "hello_world", "en_US", &[])).await.0, 200);
    assert_eq!(s.sim.handle.received().len(), 6);
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn pair_rate_gives_131056() {
    let s = Setup::with(|c| c.pair_rate.burst = 3).await;
    s.sim.handle.clock().freeze();
    for _ in 0..3 {
        assert_eq!(s.send(template_to(CUSTOMER, "hello_world", "en_US", &[])).await.0, 200);
    }
    let (status, body) = s.send(template_to(CUSTOMER, "hello_world", "en_US", &[])).await;
    assert_eq!(status, 400);
    assert_eq!(meta_error(&body)["code"], 131_056);
    assert_eq!(s.send(template_to("491519999999", "hello_world", "en_US", &[])).await.0, 200, "another customer is not limited");
    s.sim.handle.advance_clock(Duration::from_secs(6));
    assert_eq!(s.send(template_to(CUSTOMER, "hello_world", "en_US", &[])).await.0, 200, "one more after 6 s");
    assert_eq!(s.send(template_to(CUSTOMER, "hello_world", "en_US", &[])).await.0, 400);
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn injected_faults() {
    let s = Setup::new().await;
    s.sim.handle.say(Say::text(CUSTOMER, "hi")).await.unwrap();
    let plan = s.control("faults", json!({"count": 2, "kind": "server_error"})).await;
    assert_eq!(plan["fault"]["count"], 2);
    for _ in 0..2 {
        let (status, body) = s.send(text_to(CUSTOMER, "x")).await;
        assert_eq!(status, 500);
        let e = meta_error(&body);
        assert_eq!((e["code"].clone(), e["is_transient"].clone()), (json!(2), json!(true)));
    }
    assert_eq!(s.send(text_to(CUSTOMER, "third time lucky")).await.0, 200);

    s.control("faults", json!({"count": 1, "kind": "error", "code": 131_000, "http_status": 500})).await;
    let (status, body) = s.send(text_to(CUSTOMER, "x")).await;
    assert_eq!((status, meta_error(&body)["code"].clone()), (500, json!(131_000)));
    assert_eq!(s.send(text_to(CUSTOMER, "fine again")).await.0, 200);

    // A hanging Meta: the client's timeout fires; clearing the fault ends it.
    s.control("faults", json!({"kind": "hang", "ms": 30_000})).await;
    let hung = s
        .http
        .post(s.url(&format!("/v23.0/{PNID}/messages")))
        .bearer_auth(TOKEN)
        .json(&text_to(CUSTOMER, "slow"))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(hung.unwrap_err().is_timeout());
    let cleared = s.http.delete(s.url("/sim/faults")).send().await.unwrap();
    assert!(cleared.status().is_success());
    assert_eq!(s.send(text_to(CUSTOMER, "fast again")).await.0, 200);
    assert_eq!(s.sim.handle.received().len(), 3);
    s.sim.stop().await.unwrap();
}
