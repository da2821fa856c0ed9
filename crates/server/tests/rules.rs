//! Rules (SPEC 10, issue 13 items 5 to 7) through the REST API, on both backends: rules are validated
//! before they are stored, the shipped defaults are seeded once and stay deleted when deleted.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::sync::Arc;

use common::api::{assert_invalid, Api};
use common::*;
use reqwest::StatusCode;
use serde_json::json;
use windowdesk_core::SystemClock;
use windowdesk_store::testing::Backend;

on_both_backends!(
    a_rule_is_validated_stored_read_back_replaced_and_deleted,
    a_rule_with_an_unknown_placeholder_is_refused_naming_the_token,
    the_defaults_are_seeded_once_and_a_deleted_default_is_not_recreated_on_restart,
);

fn auto_reply(text: &str) -> serde_json::Value {
    json!({
        "name": "Thanks",
        "position": 5,
        "event": "message_received",
        "once_per_episode": true,
        "conditions": {"all": [{"field": "first_message", "value": true}], "any": []},
        "actions": [
            {"type": "reply", "text": text, "when_closed": {"kind": "template", "name": "ticket_received", "language": "en", "params": {"1": "{{ticket.id}}"}}},
            {"type": "add_tags", "tags": ["auto-replied"]}
        ]
    })
}

async fn a_rule_is_validated_stored_read_back_replaced_and_deleted(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let (status, created) = api.post("/api/v1/rules", auto_reply("Your ticket is {{ticket.id}}.")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["enabled"], true, "enabled by default");
    assert_eq!(created["event"], "message_received");
    assert_eq!(created["actions"][0]["text"], "Your ticket is {{ticket.id}}.");
    assert_eq!(created["actions"][0]["when_closed"]["kind"], "template");
    assert_eq!(created["conditions"]["all"][0]["field"], "first_message");
    assert!(created["created_by"].as_str().unwrap().starts_with("api:"), "{created}");
    let id = created["id"].as_i64().unwrap();

    // Listed in the order they run: position 5 comes before the shipped defaults (10 and up).
    let (status, listed) = api.get("/api/v1/rules").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"][0]["id"], id, "{listed}");
    let positions: Vec<i64> = listed["data"].as_array().unwrap().iter().map(|r| r["position"].as_i64().unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{positions:?}");

    // Switched off by replacing it whole.
    let mut off = auto_reply("Your ticket is {{ticket.id}}.");
    off["enabled"] = json!(false);
    let (status, updated) = api.put(&format!("/api/v1/rules/{id}"), off).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["enabled"], false);
    let (_, read) = api.get(&format!("/api/v1/rules/{id}")).await;
    assert_eq!(read["enabled"], false);

    // Nonsense is refused before it is stored, naming the field path.
    let (status, body) = api.post("/api/v1/rules", json!({"name": " ", "event": "ticket_created", "actions": []})).await;
    assert_invalid(status, &body, "name");
    assert!(body["error"]["message"].as_str().unwrap().contains("at least one action"), "every problem is listed: {body}");
    let (status, body) = api.post("/api/v1/rules", json!({"name": "x", "event": "someday", "actions": []})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = api.put("/api/v1/rules/999999", auto_reply("x")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let status = api.delete(&format!("/api/v1/rules/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.get(&format!("/api/v1/rules/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn a_rule_with_an_unknown_placeholder_is_refused_naming_the_token(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let before = api.get("/api/v1/rules").await.1["data"].as_array().unwrap().len();
    let (status, body) = api.post("/api/v1/rules", auto_reply("Your ticket is {{ticket.idd}}.")).await;
    assert_invalid(status, &body, "actions[0].text");
    assert!(body["error"]["message"].as_str().unwrap().contains("{{ticket.idd}}"), "names the token: {body}");
    // In a closed-window variant too, with its own path.
    let mut bad = auto_reply("Fine {{ticket.id}}");
    bad["actions"][0]["when_closed"]["params"]["1"] = json!("{{ticket.idd}}");
    let (status, body) = api.post("/api/v1/rules", bad).await;
    assert_invalid(status, &body, "actions[0].when_closed.params.1");
    assert!(body["error"]["message"].as_str().unwrap().contains("{{ticket.idd}}"), "{body}");
    // Nothing was stored.
    let (_, listed) = api.get("/api/v1/rules").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), before);
    app.stop().await;
}

async fn the_defaults_are_seeded_once_and_a_deleted_default_is_not_recreated_on_restart(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let (status, listed) = api.get("/api/v1/rules").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<String> = listed["data"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect();
    let shipped: Vec<String> = windowdesk_core::rules::default_rules().into_iter().map(|d| d.name).collect();
    assert_eq!(names, shipped, "the shipped defaults, in their order");
    assert!(listed["data"].as_array().unwrap().iter().all(|r| r["created_by"] == "system"), "{listed}");

    // An admin deletes one and switches another off.
    let first = &listed["data"][0];
    let status = api.delete(&format!("/api/v1/rules/{}", first["id"])).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let second = listed["data"][1].clone();
    let mut off = second.clone();
    for k in ["id", "created_at", "created_by", "updated_at", "updated_by"] {
        off.as_object_mut().unwrap().remove(k);
    }
    off["enabled"] = json!(false);
    let (status, body) = api.put(&format!("/api/v1/rules/{}", second["id"]), off).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The desk starts again on the same database: nothing is re-created or switched back on.
    let config = config_for(&app.db.url);
    let again = windowdesk_server::build_state(&config, Arc::new(SystemClock)).await.unwrap();
    let rows = again.store.rules().await.unwrap();
    again.store.close().await;
    assert_eq!(rows.len(), shipped.len() - 1, "{rows:?}");
    assert!(rows.iter().all(|r| r.name != shipped[0]), "the deleted default stays deleted");
    assert!(!rows.iter().find(|r| r.id == second["id"].as_i64().unwrap()).unwrap().enabled, "and the switched-off one stays off");

    // Even with every rule deleted.
    for r in &rows {
        assert_eq!(api.delete(&format!("/api/v1/rules/{}", r.id)).await, StatusCode::NO_CONTENT);
    }
    let again = windowdesk_server::build_state(&config, Arc::new(SystemClock)).await.unwrap();
    let rows = again.store.rules().await.unwrap();
    again.store.close().await;
    assert!(rows.is_empty(), "{rows:?}");
    app.stop().await;
}
