//! Templates changed at runtime: a status change is enforced on sends, listed, and announced to the
//! desk with Meta's signed `message_template_status_update` webhook; templates can be added; paging
//! stays right.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use windowdesk_core::inbound::TemplateUpdate;
use windowdesk_sim::{DeliveryOutcome, Say, TemplateConfig, TemplateStatusChange};

async fn listed_status(s: &Setup, name: &str, language: &str) -> String {
    let page: Value = s.get(&format!("/v23.0/{WABA}/message_templates?name={name}&limit=100"), Some(TOKEN)).await.json().await.unwrap();
    let t = page["data"].as_array().unwrap().iter().find(|t| t["name"] == name && t["language"] == language).unwrap().clone();
    t["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn pausing_a_template_is_enforced_listed_and_announced() {
    let s = Setup::new().await;
    s.sim.handle.say(Say::text(CUSTOMER, "Hi")).await.unwrap();
    let send = || s.send(template_to(CUSTOMER, "order_update", "en_US", &["Ada", "#42"]));
    assert_eq!(send().await.0, 200);

    let resp = s
        .http
        .put(s.url("/sim/templates/status"))
        .json(&json!({"name": "order_update", "language": "en_US", "status": "PAUSED", "reason": "Low quality"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let changed: Value = resp.json().await.unwrap();
    assert_eq!(changed["template"]["status"], "PAUSED");
    assert_eq!(changed["deliveries"][0]["outcome"], "delivered", "{changed}");
    let template_id = changed["template"]["id"].as_str().unwrap().to_owned();

    let (status, body) = send().await;
    assert_eq!(status, 400);
    assert_eq!(meta_error(&body)["code"], 132_015);
    assert_eq!(listed_status(&s, "order_update", "en_US").await, "PAUSED");
    assert_eq!(listed_status(&s, "order_update", "de_DE").await, "APPROVED", "other languages keep theirs");

    // The desk got Meta's payload, signed (the stand-in desk checks), and reads it as a status change.
    let changes = s.desk.template_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].name.as_str(), changes[0].language.as_str()), ("order_update", "en_US"));
    assert_eq!(changes[0].meta_template_id.as_deref(), Some(template_id.as_str()));
    assert_eq!(
        changes[0].update,
        TemplateUpdate::Status { status: "PAUSED".into(), category: Some("UTILITY".into()), reason: Some("Low quality".into()) }
    );
    // The template's webhook; status webhooks of the refused sends may arrive before or after it.
    let raw = s
        .desk
        .state
        .payloads
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|p| p["entry"][0]["changes"][0]["field"] == "message_template_status_update")
        .cloned()
        .unwrap();
    assert_eq!(raw["object"], "whatsapp_business_account");
    assert_eq!(raw["entry"][0]["id"], WABA);
    assert!(raw["entry"][0]["time"].is_i64());
    let change = &raw["entry"][0]["changes"][0];
    assert_eq!(change["field"], "message_template_status_update");
    assert_eq!(change["value"]["event"], "PAUSED");
    assert_eq!(change["value"]["message_template_id"], json!(template_id.parse::<u64>().unwrap()), "a number, as Meta sends it");
    assert_eq!(change["value"]["message_template_category"], "UTILITY");

    // Disabled, then approved again; anything else not approved is 132001.
    for (status, code) in [("DISABLED", Some(132_016)), ("REJECTED", Some(132_001)), ("approved", None)] {
        let changed = s.sim.handle.set_template_status(TemplateStatusChange::new("order_update", "en_US", status)).await.unwrap();
        assert_eq!(changed.deliveries[0].outcome, DeliveryOutcome::Delivered);
        let (http, body) = send().await;
        match code {
            Some(c) => assert_eq!((http, meta_error(&body)["code"].as_i64()), (400, Some(c)), "{status}"),
            None => assert_eq!(http, 200, "{status}: {body}"),
        }
    }
    let raw = s.desk.state.payloads.lock().unwrap().clone();
    let events: Vec<&Value> = raw.iter().map(|p| &p["entry"][0]["changes"][0]["value"]["event"]).filter(|e| e.is_string()).collect();
    assert_eq!(events, [&json!("PAUSED"), &json!("DISABLED"), &json!("REJECTED"), &json!("APPROVED")]);

    // Reset puts the configured templates back.
    s.sim.handle.set_template_status(TemplateStatusChange::new("hello_world", "en_US", "PAUSED")).await.unwrap();
    s.control("reset", json!({})).await;
    assert_eq!(listed_status(&s, "hello_world", "en_US").await, "APPROVED");
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_templates_and_bad_statuses_are_refused() {
    let s = Setup::new().await;
    let put = |body: Value| s.http.put(s.url("/sim/templates/status")).json(&body).send();
    let resp = put(json!({"name": "nope", "language": "en_US", "status": "PAUSED"})).await.unwrap();
    assert_eq!(resp.status(), 404);
    let b: Value = resp.json().await.unwrap();
    assert!(b["error"]["message"].as_str().unwrap().contains("nope"), "{b}");
    let resp = put(json!({"name": "order_update", "language": "fr_FR", "status": "PAUSED"})).await.unwrap();
    assert_eq!(resp.status(), 404, "no such language");
    let resp = put(json!({"name": "order_update", "language": "en_US", "status": "SLEEPY"})).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["field"], "status");
    let resp = put(json!({"name": "order_update", "language": "en_US", "status": "PAUSED", "waba_id": "999"})).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["field"], "waba_id");
    let resp = put(json!({"name": "order_update", "language": "en_US", "status": "PAUSED", "waba_id": WABA})).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(s.desk.template_changes().len() == 1, "only the accepted change was announced");
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn templates_added_at_runtime_are_sent_and_listed() {
    let s = Setup::new().await;
    s.sim.handle.say(Say::text(CUSTOMER, "Hi")).await.unwrap();
    let tpl = TemplateConfig::body("refund_sent", "en_US", "UTILITY", "APPROVED", "Hi {{1}}, your refund is on its way.");
    let resp = s.http.post(s.url("/sim/templates")).json(&tpl).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let added: Value = resp.json().await.unwrap();
    assert!(added["template"]["id"].as_str().unwrap().chars().all(|c| c.is_ascii_digit()));
    let (status, _) = s.send(template_to(CUSTOMER, "refund_sent", "en_US", &["Ada"])).await;
    assert_eq!(status, 200);
    let (status, body) = s.send(template_to(CUSTOMER, "refund_sent", "en_US", &[])).await;
    assert_eq!((status, meta_error(&body)["code"].as_i64()), (400, Some(132_000)), "its parameters are checked");
    assert_eq!(s.sim.handle.received().last().unwrap().text.as_deref(), Some("Hi Ada, your refund is on its way."));
    assert_eq!(listed_status(&s, "refund_sent", "en_US").await, "APPROVED");

    let again = s.http.post(s.url("/sim/templates")).json(&tpl).send().await.unwrap();
    assert_eq!(again.status(), 409);
    let mut bad = tpl.clone();
    bad.name = "other".into();
    bad.category = "GOSSIP".into();
    let resp = s.http.post(s.url("/sim/templates")).json(&bad).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["field"], "category");

    let mut pending = TemplateConfig::body("late_news", "en_US", "MARKETING", "PENDING", "News!");
    pending.id = Some("1234567890123456".into());
    let added = s.sim.handle.add_template(pending).unwrap();
    assert_eq!(added.id.as_deref(), Some("1234567890123456"));
    let (_, body) = s.send(template_to(CUSTOMER, "late_news", "en_US", &[])).await;
    assert_eq!(meta_error(&body)["code"], 132_001);
    s.sim.handle.set_template_status(TemplateStatusChange::new("late_news", "en_US", "APPROVED")).await.unwrap();
    assert_eq!(s.send(template_to(CUSTOMER, "late_news", "en_US", &[])).await.0, 200);
    let listed: Value = s.get("/sim/templates", None).await.json().await.unwrap();
    assert!(listed["templates"].as_array().unwrap().iter().any(|t| t["name"] == "late_news" && t["status"] == "APPROVED"));
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sixty_templates_come_in_three_pages_of_25_before_and_after_changes() {
    let s = Setup::with(|c| {
        c.templates =
            (1..=60).map(|i| TemplateConfig::body(&format!("tpl_{i:02}"), "en_US", "UTILITY", "APPROVED", "Message {{1}}")).collect();
    })
    .await;
    let all_pages = || async {
        let mut url = s.url(&format!("/v23.0/{WABA}/message_templates?limit=25"));
        let mut pages: Vec<Vec<(String, String)>> = Vec::new();
        loop {
            let page: Value = s.get(&url, Some(TOKEN)).await.json().await.unwrap();
            pages.push(
                page["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| (t["name"].as_str().unwrap().to_owned(), t["status"].as_str().unwrap().to_owned()))
                    .collect(),
            );
            match page["paging"]["next"].as_str() {
                Some(next) => url = next.to_owned(),
                None => break,
            }
        }
        pages
    };
    let pages = all_pages().await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [25, 25, 10]);
    s.sim.handle.set_template_status(TemplateStatusChange::new("tpl_30", "en_US", "PAUSED")).await.unwrap();
    s.sim.handle.add_template(TemplateConfig::body("tpl_61", "en_US", "UTILITY", "APPROVED", "Late {{1}}")).unwrap();
    let pages = all_pages().await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [25, 25, 11]);
    let flat: Vec<(String, String)> = pages.into_iter().flatten().collect();
    assert_eq!(flat.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(), (1..=61).map(|i| format!("tpl_{i:02}")).collect::<Vec<_>>());
    assert_eq!(flat[29].1, "PAUSED");
    s.sim.stop().await.unwrap();
}
