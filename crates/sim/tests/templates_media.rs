//! The templates list with cursor paging, media upload/retrieve/download/delete, and the control lists.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use windowdesk_sim::{Say, TemplateConfig};

fn seven_templates() -> Vec<TemplateConfig> {
    (1..=7)
        .map(|i| TemplateConfig::body(&format!("tpl_{i}"), "en_US", "UTILITY", "APPROVED", &format!("Message {i} for {{{{1}}}}")))
        .collect()
}

#[tokio::test]
async fn templates_come_in_pages_a_client_follows() {
    let s = Setup::with(|c| c.templates = seven_templates()).await;
    let mut url = s.url(&format!("/v23.0/{WABA}/message_templates?limit=3"));
    let mut names = Vec::new();
    let mut pages: Vec<Value> = Vec::new();
    loop {
        let resp = s.get(&url, Some(TOKEN)).await;
        assert_eq!(resp.status(), 200);
        let page: Value = resp.json().await.unwrap();
        for t in page["data"].as_array().unwrap() {
            names.push(t["name"].as_str().unwrap().to_owned());
            for key in ["language", "status", "category", "id", "components"] {
                assert!(t.get(key).is_some(), "{key} in {t}");
            }
        }
        pages.push(page.clone());
        match page["paging"]["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages.len(), 3);
    assert_eq!(names, (1..=7).map(|i| format!("tpl_{i}")).collect::<Vec<_>>());
    assert!(pages[0]["paging"].get("previous").is_none());
    assert!(pages[1]["paging"]["previous"].is_string());
    assert_eq!(pages[2]["data"].as_array().unwrap().len(), 1);
    let first = &pages[0]["data"][0];
    assert_eq!(first["components"], json!([{"type": "BODY", "text": "Message 1 for {{1}}"}]));
    assert_eq!(first["parameter_format"], "POSITIONAL");

    // Cursors by hand: after the first page's `after` comes the second page; `before` goes back.
    let after = pages[0]["paging"]["cursors"]["after"].as_str().unwrap();
    let second: Value = s.get(&format!("/v23.0/{WABA}/message_templates?limit=3&after={after}"), Some(TOKEN)).await.json().await.unwrap();
    assert_eq!(second["data"], pages[1]["data"]);
    let before = pages[1]["paging"]["cursors"]["before"].as_str().unwrap();
    let back: Value = s.get(&format!("/v23.0/{WABA}/message_templates?limit=3&before={before}"), Some(TOKEN)).await.json().await.unwrap();
    assert_eq!(back["data"], pages[0]["data"]);

    let filtered: Value = s.get(&format!("/v23.0/{WABA}/message_templates?name=tpl_7"), Some(TOKEN)).await.json().await.unwrap();
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    let bad = s.get(&format!("/v23.0/{WABA}/message_templates?after=bogus"), Some(TOKEN)).await;
    assert_eq!(bad.status(), 400);
    let other = s.get("/v23.0/777/message_templates", Some(TOKEN)).await;
    assert_eq!(other.status(), 400, "a WABA the token does not reach");
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn media_upload_retrieve_download_and_send_by_id() {
    let s = Setup::new().await;
    let bytes = b"%PDF-1.4 pretend".to_vec();
    let form = reqwest::multipart::Form::new()
        .text("messaging_product", "whatsapp")
        .text("type", "application/pdf")
        .part("file", reqwest::multipart::Part::bytes(bytes.clone()).file_name("terms.pdf").mime_str("application/pdf").unwrap());
    let resp = s.http.post(s.url(&format!("/v23.0/{PNID}/media"))).bearer_auth(TOKEN).multipart(form).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let info: Value = s.get(&format!("/v23.0/{id}"), Some(TOKEN)).await.json().await.unwrap();
    assert_eq!(info["mime_type"], "application/pdf");
    assert_eq!(info["file_size"], json!(bytes.len().to_string()));
    let download = s.get(info["url"].as_str().unwrap(), Some(TOKEN)).await;
    assert_eq!(download.headers()["content-type"], "application/pdf");
    assert_eq!(download.bytes().await.unwrap().as_ref(), bytes.as_slice());
    assert_eq!(s.get(&format!("/v23.0/{id}"), Some("wrong")).await.status(), 401);
    assert_eq!(s.get("/v23.0/123456789", Some(TOKEN)).await.status(), 400, "unknown media id");

    // No file: refused, naming it.
    let form = reqwest::multipart::Form::new().text("messaging_product", "whatsapp");
    let resp = s.http.post(s.url(&format!("/v23.0/{PNID}/media"))).bearer_auth(TOKEN).multipart(form).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().contains("file"));

    // Sending the uploaded document by id.
    s.sim.handle.say(Say::text(CUSTOMER, "send me the terms")).await.unwrap();
    let doc = json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "document", "document": {"id": id, "filename": "terms.pdf"}});
    let (status, body) = s.send(doc).await;
    assert_eq!(status, 200, "{body}");
    let m = s.sim.handle.received().pop().unwrap();
    assert_eq!((m.kind.as_str(), m.text.as_deref()), ("document", Some("terms.pdf")));

    let number: Value = s.get(&format!("/v23.0/{PNID}?fields=code_verification_status"), Some(TOKEN)).await.json().await.unwrap();
    assert_eq!(
        number,
        json!({"id": PNID, "display_phone_number": "+972 12-345-6789", "verified_name": "Test Shop", "quality_rating": "GREEN",
               "code_verification_status": "VERIFIED"})
    );

    let deleted = s.http.delete(s.url(&format!("/v23.0/{id}"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(deleted.json::<Value>().await.unwrap(), json!({"success": true}));
    assert!(s.sim.handle.media_info(&id).is_none());
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn control_lists_and_status() {
    let s = Setup::new().await;
    s.sim.handle.say(Say::text(CUSTOMER, "hi")).await.unwrap();
    s.send(text_to(CUSTOMER, "one")).await;
    s.send(template_to("491510000001", "hello_world", "en_US", &[])).await;

    let all: Value = s.get("/sim/messages", None).await.json().await.unwrap();
    assert_eq!(all["messages"].as_array().unwrap().len(), 2);
    assert_eq!(all["messages"][0]["text"], "one");
    let filtered: Value = s.get(&format!("/sim/messages?to={CUSTOMER}"), None).await.json().await.unwrap();
    assert_eq!(filtered["messages"].as_array().unwrap().len(), 1);

    let status: Value = s.get("/sim/status", None).await.json().await.unwrap();
    assert_eq!(status["numbers"][0]["phone_number_id"], PNID);
    assert_eq!(status["window_enforcement"], "sync");
    assert_eq!(status["received"], 2);

    let clock: Value = s.control("clock/advance", json!({"hours": 1, "ms": 500})).await;
    assert_eq!(clock["offset_ms"], 3_600_500);
    let frozen: Value = s.control("clock/freeze", json!({})).await;
    assert_eq!(frozen["frozen"], true);

    let bad = s.http.put(s.url("/sim/window-enforcement")).json(&json!({"mode": "sometimes"})).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    s.control("reset", json!({})).await;
    let after: Value = s.get("/sim/messages", None).await.json().await.unwrap();
    assert_eq!(after["messages"], json!([]));
    assert!(!s.sim.handle.clock().is_frozen());
    s.sim.stop().await.unwrap();
}
