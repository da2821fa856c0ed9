//! Playing the customer (`say`), over the Rust API and `POST /sim/say`, with the webhooks checked by
//! the desk's own parser; webhook retries.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;

use common::*;
use serde_json::json;
use windowdesk_core::inbound::InboundAction;
use windowdesk_core::MetaStatus;
use windowdesk_sim::{samples, DeliveryOutcome, Say};

#[tokio::test]
async fn a_text_reaches_the_desk_as_metas_payload() {
    let s = Setup::new().await;
    s.sim.handle.clock().freeze();
    let now = s.sim.handle.clock().now_secs();
    let said = s.sim.handle.say(Say::text(CUSTOMER, "Hello, I need help").name("Dana Levi")).await.unwrap();
    assert_eq!(said.delivery.outcome, DeliveryOutcome::Delivered);
    assert_eq!(said.delivery.attempts, 1);

    let msgs = s.desk.messages();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m.wamid, said.wamid);
    assert_eq!((m.kind.as_str(), m.body.as_deref()), ("text", Some("Hello, I need help")));
    assert_eq!(m.contact.wa_id.as_deref(), Some(CUSTOMER));
    assert_eq!(m.contact.profile_name.as_deref(), Some("Dana Levi"));
    assert!(m.contact.bsuid.as_deref().unwrap().starts_with("US."));
    assert_eq!(m.sent_at.at.unix_seconds(), now);
    assert!(!m.has_referral);

    let payload = s.desk.state.payloads.lock().unwrap()[0].clone();
    assert_eq!(payload["object"], "whatsapp_business_account");
    assert_eq!(payload["entry"][0]["id"], WABA);
    assert_eq!(payload["entry"][0]["changes"][0]["field"], "messages");
    let msg = &payload["entry"][0]["changes"][0]["value"]["messages"][0];
    assert_eq!(msg["timestamp"], json!(now.to_string()));
    assert_eq!(msg["from"], CUSTOMER);
    assert_eq!(s.sim.handle.last_inbound_ms(PNID, CUSTOMER), Some(now * 1000));
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn a_voice_note_can_be_fetched_through_the_media_endpoints() {
    let s = Setup::new().await;
    let said = s.sim.handle.say(Say::voice(CUSTOMER)).await.unwrap();
    let m = s.desk.messages().pop().unwrap();
    assert_eq!(m.wamid, said.wamid);
    assert_eq!(m.kind, "audio");
    let media = m.media.unwrap();
    assert!(media.voice);
    assert_eq!(media.mime_type.as_deref(), Some("audio/ogg; codecs=opus"));

    let info: serde_json::Value = s.get(&format!("/v23.0/{}", media.media_id), Some(TOKEN)).await.json().await.unwrap();
    assert_eq!(info["id"], media.media_id.as_str());
    assert_eq!(info["messaging_product"], "whatsapp");
    assert_eq!(info["mime_type"], "audio/ogg; codecs=opus");
    assert_eq!(info["file_size"], json!(samples::ogg_opus().len().to_string()));
    assert_eq!(info["sha256"].as_str().unwrap().len(), 64);
    let url = info["url"].as_str().unwrap();
    assert!(url.starts_with(&s.sim.url()));

    assert_eq!(s.get(url, None).await.status(), 401, "the download needs the token too");
    let resp = s.get(url, Some(TOKEN)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/ogg; codecs=opus");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), samples::ogg_opus());
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn a_reaction_points_at_the_business_message() {
    let s = Setup::new().await;
    s.sim.handle.say(Say::text(CUSTOMER, "hi")).await.unwrap();
    let (_, body) = s.send(text_to(CUSTOMER, "We shipped it")).await;
    let ours = body["messages"][0]["id"].as_str().unwrap().to_owned();

    s.sim.handle.say(Say::reaction(CUSTOMER, &ours, "👍")).await.unwrap();
    let m = s.desk.messages().pop().unwrap();
    assert_eq!(m.kind, "reaction");
    assert_eq!(m.action, InboundAction::React { target: ours.clone(), emoji: Some("👍".into()) });

    s.sim.handle.say(Say::reaction(CUSTOMER, &ours, "")).await.unwrap();
    assert_eq!(s.desk.messages().pop().unwrap().action, InboundAction::React { target: ours, emoji: None });
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn an_ad_click_carries_a_referral_and_opens_a_free_entry_point() {
    let s = Setup::new().await;
    s.sim.handle.say(Say::from_ad(CUSTOMER, "I saw your ad")).await.unwrap();
    let m = s.desk.messages().pop().unwrap();
    assert!(m.has_referral);
    let raw: serde_json::Value = serde_json::from_str(&m.raw).unwrap();
    assert_eq!(raw["referral"]["source_type"], "ad");
    assert!(raw["referral"]["ctwa_clid"].is_string());

    let (_, body) = s.send(text_to(CUSTOMER, "Welcome!")).await;
    let wamid = body["messages"][0]["id"].as_str().unwrap();
    let sent = s.desk.status(wamid, MetaStatus::Sent).await;
    let pricing: serde_json::Value = serde_json::from_str(sent.pricing.as_deref().unwrap()).unwrap();
    assert_eq!(pricing, json!({"billable": false, "pricing_model": "PMP", "category": "referral_conversion", "type": "free_entry_point"}));
    let value = s.desk.raw_status(wamid, "sent").unwrap();
    assert_eq!(value["statuses"][0]["conversation"]["origin"]["type"], "referral_conversion");
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn images_documents_and_replies_over_the_http_control_endpoint() {
    let s = Setup::new().await;
    let said = s.control("say", json!({"from": "+972 98-765-4321", "name": "Noa", "type": "image", "caption": "the broken part"})).await;
    let wamid = said["wamid"].as_str().unwrap().to_owned();
    assert_eq!(said["delivery"]["outcome"], "delivered");
    let m = s.desk.messages().pop().unwrap();
    assert_eq!((m.kind.as_str(), m.body.as_deref()), ("image", Some("the broken part")));
    assert_eq!(m.contact.wa_id.as_deref(), Some(CUSTOMER));
    let media_id = m.media.unwrap().media_id;
    let png = s.get(&s.sim.handle.media_url(&media_id), Some(TOKEN)).await;
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(png.bytes().await.unwrap().as_ref(), samples::png());

    s.control("say", json!({"from": CUSTOMER, "type": "document", "filename": "receipt.pdf", "reply_to": wamid})).await;
    let m = s.desk.messages().pop().unwrap();
    assert_eq!((m.kind.as_str(), m.body.as_deref()), ("document", Some("receipt.pdf")));
    assert_eq!(m.reply_to.as_deref(), Some(wamid.as_str()));
    assert_eq!(m.media.unwrap().mime_type.as_deref(), Some("application/pdf"));

    let bad = s.http.post(s.url("/sim/say")).json(&json!({"from": "not a number", "type": "text", "body": "x"})).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let inbound: serde_json::Value = s.get("/sim/inbound", None).await.json().await.unwrap();
    assert_eq!(inbound["messages"].as_array().unwrap().len(), 2);
    assert_eq!(inbound["messages"][0]["from"], CUSTOMER);
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn failed_webhooks_are_retried_and_counted() {
    let s = Setup::new().await;
    s.desk.state.fail_next.store(2, Ordering::SeqCst);
    let said = s.sim.handle.say(Say::text(CUSTOMER, "are you there?")).await.unwrap();
    assert_eq!(said.delivery.outcome, DeliveryOutcome::Delivered);
    assert_eq!(said.delivery.attempts, 3);
    assert_eq!(s.desk.messages().len(), 1);
    let stats = s.sim.handle.delivery_stats();
    assert_eq!((stats.deliveries, stats.delivered, stats.failed, stats.failed_attempts), (1, 1, 0, 2));

    // Nobody listening: every attempt fails, and the delivery is given up.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/webhooks/whatsapp", dead.local_addr().unwrap());
    drop(dead);
    s.control("webhook-url", json!({"url": dead_url})).await;
    let said = s.sim.handle.say(Say::text(CUSTOMER, "hello?")).await.unwrap();
    assert_eq!((said.delivery.outcome, said.delivery.attempts), (DeliveryOutcome::Failed, 3));
    assert!(said.delivery.last_error.is_some());
    let listed: serde_json::Value = s.get("/sim/deliveries", None).await.json().await.unwrap();
    assert_eq!(listed["stats"]["failed"], 1);
    assert_eq!(listed["stats"]["failed_attempts"], 5);
    assert_eq!(listed["deliveries"][1]["outcome"], "failed");

    s.control("reset", json!({})).await;
    assert!(s.sim.handle.deliveries().is_empty() && s.sim.handle.inbound().is_empty());
    assert_eq!(s.sim.handle.last_inbound_ms(PNID, CUSTOMER), None);
    s.sim.stop().await.unwrap();
}
