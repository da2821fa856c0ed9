//! Addressing as Meta's BSUID guide describes it, over real HTTP: a phone number goes in `to`, a
//! business-scoped user ID (BSUID, `US.1349…`) or parent BSUID (`US.ENT.1181…`) in `recipient`, and
//! `to` wins when both are given. Statuses of a send to a BSUID carry `recipient_user_id` instead of
//! `recipient_id`.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use windowdesk_core::MetaStatus;
use windowdesk_sim::Say;

/// The customer writes once; returns their BSUID and parent BSUID as the desk learns them from the
/// inbound webhook's `contacts[]`.
async fn customer_ids(s: &Setup, who: &str) -> (String, Option<String>) {
    s.sim.handle.say(Say::text(who, "hello").name("Ada")).await.unwrap();
    let contact = s.desk.messages().into_iter().rev().find(|m| m.contact.wa_id.as_deref() == Some(who)).unwrap().contact;
    (contact.bsuid.unwrap(), contact.parent_bsuid)
}

fn to_recipient(recipient: &str, kind: &str, content: Value) -> Value {
    let mut v = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "recipient": recipient, "type": kind});
    v[kind] = content;
    v
}

/// The `statuses[]` item and `contacts[]` of the `sent` status of `wamid`, as the sim sent them.
async fn sent_status(s: &Setup, wamid: &str) -> (Value, Value) {
    s.desk.status(wamid, MetaStatus::Sent).await;
    let value = s.desk.raw_status(wamid, "sent").unwrap();
    let status = value["statuses"].as_array().unwrap().iter().find(|st| st["id"] == wamid).unwrap().clone();
    (status, value["contacts"][0].clone())
}

#[tokio::test]
async fn sim_refuses_a_bsuid_in_to() {
    let s = Setup::new().await;
    let (bsuid, _) = customer_ids(&s, CUSTOMER).await;
    let (status, body) = s.send(text_to(&bsuid, "hi")).await;
    assert_eq!(status, 400);
    let e = meta_error(&body);
    assert_eq!(e["code"], 100);
    let details = e["error_data"]["details"].as_str().unwrap();
    assert!(details.contains("is a business-scoped user ID (BSUID), not a phone number; send BSUIDs in recipient"), "{details}");
    let (status, _) = s.send(text_to("US.ENT.11815799212886844830", "hi")).await;
    assert_eq!(status, 400, "a parent BSUID neither");
    assert!(s.sim.handle.received().is_empty());
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_a_phone_number_in_recipient() {
    let s = Setup::new().await;
    let (status, body) = s.send(to_recipient(CUSTOMER, "text", json!({"body": "hi"}))).await;
    assert_eq!(status, 400);
    let details = meta_error(&body)["error_data"]["details"].as_str().unwrap().to_owned();
    assert!(details.contains("is not a BSUID") && details.contains("a phone number goes in to"), "{details}");
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_delivers_to_a_bsuid_in_recipient() {
    let s = Setup::new().await;
    let (bsuid, parent) = customer_ids(&s, CUSTOMER).await;
    assert_eq!(parent, None, "parent BSUIDs are off by default");
    let sends = [
        to_recipient(&bsuid, "text", json!({"body": "Your parcel is on its way."})),
        to_recipient(&bsuid, "image", json!({"link": "https://shop.example/parcel.png", "caption": "Your parcel"})),
        to_recipient(
            &bsuid,
            "template",
            json!({"name": "order_update", "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "#42"}]}]}),
        ),
    ];
    for (i, send) in sends.into_iter().enumerate() {
        let (status, body) = s.send(send).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["contacts"], json!([{"input": bsuid, "user_id": bsuid}]), "no wa_id for a send to a BSUID");
        let wamid = body["messages"][0]["id"].as_str().unwrap().to_owned();
        let m = s.sim.handle.received()[i].clone();
        assert_eq!((m.to.as_str(), m.recipient.as_deref()), (CUSTOMER, Some(bsuid.as_str())), "delivered to the customer with that BSUID");
        let (status, contact) = sent_status(&s, &wamid).await;
        assert_eq!(status["recipient_user_id"], json!(bsuid));
        assert!(status.get("recipient_id").is_none(), "{status}");
        assert_eq!(contact, json!({"user_id": bsuid, "profile": {"name": "Ada"}}));
        s.desk.status(&wamid, MetaStatus::Read).await;
    }
    assert_eq!(s.sim.handle.received()[2].text.as_deref(), Some("Hi Ada, your order #42 has shipped."));
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_prefers_to_when_both_are_given() {
    let s = Setup::new().await;
    let (other_bsuid, _) = customer_ids(&s, "4915112345678").await;
    customer_ids(&s, CUSTOMER).await;
    let mut send = text_to(CUSTOMER, "for the phone number");
    send["recipient"] = json!(other_bsuid);
    let (status, body) = s.send(send).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contacts"], json!([{"input": CUSTOMER, "wa_id": CUSTOMER}]));
    let m = s.sim.handle.received().pop().unwrap();
    assert_eq!((m.to.as_str(), m.recipient), (CUSTOMER, None));
    let (status, contact) = sent_status(&s, body["messages"][0]["id"].as_str().unwrap()).await;
    assert_eq!(status["recipient_id"], CUSTOMER);
    assert!(status.get("recipient_user_id").is_none(), "{status}");
    assert_eq!(contact["wa_id"], CUSTOMER);
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_delivers_to_a_parent_bsuid_when_parent_bsuids_are_enabled() {
    let s = Setup::with(|c| c.parent_bsuids = true).await;
    let (bsuid, parent) = customer_ids(&s, CUSTOMER).await;
    let parent = parent.expect("the inbound webhook carries parent_user_id");
    assert!(parent.starts_with("US.ENT."), "{parent}");
    let (status, body) = s.send(to_recipient(&parent, "text", json!({"body": "hi"}))).await;
    assert_eq!(status, 200, "{body}");
    let m = s.sim.handle.received().pop().unwrap();
    assert_eq!(m.to, CUSTOMER);
    let (status, contact) = sent_status(&s, body["messages"][0]["id"].as_str().unwrap()).await;
    assert_eq!((status["recipient_user_id"].clone(), status["parent_recipient_user_id"].clone()), (json!(parent), json!(parent)));
    assert_eq!((contact["user_id"].clone(), contact["parent_user_id"].clone()), (json!(bsuid), json!(parent)));
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_fails_a_send_to_an_unknown_bsuid_as_undeliverable() {
    let s = Setup::new().await;
    let unknown = "US.13491208655302741918";
    let send = to_recipient(unknown, "template", json!({"name": "hello_world", "language": {"code": "en_US"}}));
    let (status, body) = s.send(send).await;
    assert_eq!(status, 200, "{body}");
    let wamid = body["messages"][0]["id"].as_str().unwrap();
    let failed = s.desk.status(wamid, MetaStatus::Failed).await;
    assert_eq!(failed.errors[0].code, 131_026);
    assert_eq!(s.desk.raw_status(wamid, "failed").unwrap()["statuses"][0]["recipient_user_id"], unknown);
    // A text to someone who never wrote is outside any window.
    let (status, body) = s.send(to_recipient(unknown, "text", json!({"body": "hi"}))).await;
    assert_eq!((status, meta_error(&body)["code"].as_i64()), (400, Some(131_047)));
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_authentication_templates_to_a_bsuid() {
    let s = Setup::new().await;
    let (bsuid, _) = customer_ids(&s, CUSTOMER).await;
    let template = json!({"name": "login_code", "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "123456"}]}]});
    let (status, body) = s.send(to_recipient(&bsuid, "template", template.clone())).await;
    assert_eq!(status, 400);
    assert_eq!(meta_error(&body)["code"], 131_062);
    let (status, _) = s.send(json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template", "template": template})).await;
    assert_eq!(status, 200, "by phone number it goes out");
    s.sim.stop().await.unwrap();
}
