//! The API does what its OpenAPI document says (SPEC 13, 15): every error is the JSON shape naming the
//! field, the document lists every status an operation can answer and states the limits and values the
//! desk enforces, and every list is `{"data", "next"}`. Over real HTTP, on both backends.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use common::api::{assert_invalid, Api};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use windowdesk_server::api::document;
use windowdesk_server::api::fallbacks::MAX_HOLD_HOURS;
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;

on_both_backends!(
    api_errors_are_json_when_a_query_parameter_is_malformed,
    api_body_over_3mb_is_413,
    nul_in_reply_body_is_422_naming_the_field,
    templates_list_is_data_next,
    numbers_list_is_data_next,
    template_categories_are_lower_case_everywhere,
    a_filter_naming_an_unknown_business_number_finds_nothing,
    text_limits_count_the_text_as_given,
);

const CUSTOMER: &str = "16505551234";

/// A ticket whose customer just wrote, so its window is open.
async fn open_ticket(app: &TestApp) -> i64 {
    assert_eq!(app.post(&text("wamid.contract", CUSTOMER, now_secs() - 60, "hello")).await, 200);
    app.only_ticket().await
}

async fn api_errors_are_json_when_a_query_parameter_is_malformed(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let id = open_ticket(&app).await;
    let raw = app.client.get(app.url("/api/v1/templates?business_number_id=abc")).bearer_auth(&api.token).send().await.unwrap();
    assert_eq!(raw.headers()["content-type"], "application/json", "not text/plain");
    let (s, e) = (raw.status(), raw.json::<Value>().await.unwrap());
    assert_invalid(s, &e, "business_number_id");
    let (s, e) = api.get("/api/v1/tickets?limit=abc").await;
    assert_invalid(s, &e, "limit");
    let (s, e) = api.get("/api/v1/tickets?limit=5&limit=6").await;
    assert_invalid(s, &e, "limit");
    let (s, e) = api.get("/api/v1/deliveries/failed?before=1_x").await;
    assert_invalid(s, &e, "before");
    let (s, e) = api.get(&format!("/api/v1/tickets/{id}/templates?category=bogus")).await;
    assert_invalid(s, &e, "category");
    let (s, e) = api.get("/api/v1/tickets?status=bogus").await;
    assert_invalid(s, &e, "status");
    assert!(e["error"]["message"].as_str().unwrap().contains("on_hold"), "lists the statuses: {e}");
    app.stop().await;
}

async fn api_body_over_3mb_is_413(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let id = open_ticket(&app).await;
    // Streamed without a Content-Length, so the limit is met while reading. (A Content-Length over
    // the limit is answered before the body is read: tests/bad_input.rs.)
    let body = serde_json::to_vec(&json!({"body": "a".repeat(3 * 1024 * 1024)})).unwrap();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let r = app
        .client
        .post(app.url(&format!("/api/v1/tickets/{id}/notes")))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.headers()["content-type"], "application/json");
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "payload_too_large", "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains(&(3 * 1024 * 1024).to_string()), "{e}");
    let (_, t) = api.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(t["messages"].as_array().unwrap().len(), 1, "nothing stored");
    app.stop().await;
}

async fn nul_in_reply_body_is_422_naming_the_field(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let id = open_ticket(&app).await;
    let path = format!("/api/v1/tickets/{id}");
    let (s, e) = api.post(&format!("{path}/replies"), json!({"body": "Hello\u{0}world"})).await;
    assert_invalid(s, &e, "body");
    let (s, e) = api.post(&format!("{path}/notes"), json!({"body": "\u{0}"})).await;
    assert_invalid(s, &e, "body");
    let (s, e) = api.post(&format!("{path}/held-replies"), json!({"body": "later\u{0}"})).await;
    assert_invalid(s, &e, "body");
    let (s, e) = api.patch(&path, json!({"add_tags": ["ok", "v\u{0}ip"]})).await;
    assert_invalid(s, &e, "add_tags[1]");
    let (s, e) = api.post("/api/v1/agents", json!({"name": "Ana\u{0}", "email": "ana@example.com"})).await;
    assert_invalid(s, &e, "name");
    let template = json!({"name": "order_update", "language": "en_US", "parameters": {"body": {"1": "x\u{0}"}}});
    let (s, e) = api.post(&format!("{path}/templates/preview"), template).await;
    assert_invalid(s, &e, "parameters.body.1");
    let (s, e) = api.get("/api/v1/tickets?tag=a%00b").await;
    assert_invalid(s, &e, "tag");
    let (_, t) = api.get(&path).await;
    assert_eq!(t["messages"].as_array().unwrap().len(), 1, "nothing stored: {t}");
    assert_eq!(t["tags"], json!([]));
    assert_eq!(api.get("/api/v1/agents").await.1["data"], json!([]));
    app.stop().await;
}

async fn templates_list_is_data_next(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    app.sync_templates().await;
    let api = Api::new(&app).await;
    app.sim().say(Say::text(CUSTOMER, "hi")).await.unwrap();
    let id = app.only_ticket().await;
    for path in ["/api/v1/templates".to_owned(), format!("/api/v1/tickets/{id}/templates")] {
        let (s, page) = api.get(&path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {page}");
        assert_eq!(page["next"], Value::Null, "{path}");
        let data = page["data"].as_array().unwrap();
        assert!(data.iter().any(|t| t["name"] == "order_update"), "{path}: {page}");
    }
    app.stop().await;
}

async fn numbers_list_is_data_next(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let (s, page) = api.get("/api/v1/numbers").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["next"], Value::Null);
    let numbers = page["data"].as_array().unwrap();
    assert_eq!(numbers.len(), 5, "{page}");
    assert_eq!(numbers[0]["phone_number_id"], PNID);
    assert!(numbers[0]["settings"]["fallback_ladder"].is_array());
    app.stop().await;
}

async fn template_categories_are_lower_case_everywhere(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    app.sync_templates().await;
    let api = Api::new(&app).await;
    app.sim().say(Say::text(CUSTOMER, "hi")).await.unwrap();
    let id = app.only_ticket().await;
    let named = |page: &Value, name: &str| page["data"].as_array().unwrap().iter().find(|t| t["name"] == name).cloned();
    let (_, registry) = api.get("/api/v1/templates?q=order_update").await;
    assert_eq!(named(&registry, "order_update").unwrap()["category"], "utility", "{registry}");
    let (_, ticket) = api.get(&format!("/api/v1/tickets/{id}/templates")).await;
    let order_update = named(&ticket, "order_update").unwrap();
    assert_eq!(order_update["category"], "utility");
    assert_eq!(order_update["price"]["category"], order_update["category"], "one spelling for the same category");
    assert!(named(&api.get("/api/v1/templates?category=utility").await.1, "order_update").is_some());
    assert!(named(&api.get("/api/v1/templates?category=marketing").await.1, "order_update").is_none());
    let (s, e) = api.get("/api/v1/templates?category=UTILITY").await;
    assert_invalid(s, &e, "category");
    app.stop().await;
}

async fn a_filter_naming_an_unknown_business_number_finds_nothing(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    app.sync_templates().await;
    let api = Api::new(&app).await;
    app.sim().say(Say::text(CUSTOMER, "hi")).await.unwrap();
    app.only_ticket().await;
    let empty = json!({"data": [], "next": null});
    assert_eq!(api.get("/api/v1/tickets?business_number=42").await, (StatusCode::OK, empty.clone()));
    assert_eq!(api.get("/api/v1/templates?business_number_id=0").await, (StatusCode::OK, empty));
    let (_, own) = api.get(&format!("/api/v1/templates?business_number_id={}", app.bn)).await;
    assert!(!own["data"].as_array().unwrap().is_empty(), "{own}");
    app.stop().await;
}

async fn text_limits_count_the_text_as_given(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let id = open_ticket(&app).await;
    let notes = format!("/api/v1/tickets/{id}/notes");
    let (s, n) = api.post(&notes, json!({"body": "a".repeat(4096)})).await;
    assert_eq!(s, StatusCode::CREATED, "{n}");
    let (s, e) = api.post(&notes, json!({"body": format!(" {}", "a".repeat(4096))})).await;
    assert_invalid(s, &e, "body");
    let (s, e) = api.post(&format!("/api/v1/tickets/{id}/replies"), json!({"body": format!("{}\n", "a".repeat(4096))})).await;
    assert_invalid(s, &e, "body");
    let path = format!("/api/v1/tickets/{id}");
    let (s, t) = api.patch(&path, json!({"tags": ["b".repeat(50)]})).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let (s, e) = api.patch(&path, json!({"tags": [format!(" {}", "b".repeat(50))]})).await;
    assert_invalid(s, &e, "tags[0]");
    let (s, e) = api.post("/api/v1/agents", json!({"name": "Ana", "email": "ana@example.com", "role": " admin"})).await;
    assert_invalid(s, &e, "role");
    app.stop().await;
}

fn doc() -> Value {
    serde_json::to_value(document()).unwrap()
}

/// `value` with `$ref`s followed and an optional's `oneOf: [null, X]` unwrapped.
fn resolve(doc: &Value, value: &Value) -> Value {
    if let Some(r) = value["$ref"].as_str() {
        let path = r.trim_start_matches("#/").split('/').fold(doc, |v, part| &v[part]);
        return resolve(doc, path);
    }
    if let Some(options) = value["oneOf"].as_array() {
        if let Some(inner) = options.iter().find(|o| o["type"] != "null") {
            return resolve(doc, inner);
        }
    }
    value.clone()
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    op
}

fn param(doc: &Value, method: &str, path: &str, name: &str) -> Option<Value> {
    let params = operation(doc, method, path)["parameters"].as_array().cloned().unwrap_or_default();
    params.into_iter().find(|p| p["name"] == name).map(|p| resolve(doc, &p["schema"]))
}

fn property(doc: &Value, schema: &str, name: &str) -> Value {
    resolve(doc, &doc["components"]["schemas"][schema]["properties"][name])
}

#[test]
fn every_operation_documents_the_errors_it_can_answer() {
    let doc = doc();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let codes: Vec<&str> = op["responses"].as_object().unwrap().keys().map(String::as_str).collect();
            if path == "/api/openapi.json" {
                assert_eq!(codes, ["200"]);
                continue;
            }
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let mut expected = vec!["401", "503"];
            if op["requestBody"].is_object() {
                expected.extend(["400", "413", "422"]);
            }
            if params.iter().any(|p| p["in"] == "path") {
                expected.push("404");
            }
            if params.iter().any(|p| p["in"] == "query") {
                expected.push("422");
            }
            for code in expected {
                assert!(codes.contains(&code), "{method} {path} does not document {code}: {codes:?}");
            }
            for (code, response) in op["responses"].as_object().unwrap().iter().filter(|(c, _)| !c.starts_with('2')) {
                let response = resolve(&doc, response);
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/ErrorBody", "{method} {path} {code}");
            }
        }
    }
    let unauthorized = &doc["components"]["responses"]["Unauthorized"];
    assert!(unauthorized["headers"]["WWW-Authenticate"].is_object(), "{unauthorized}");
    assert!(operation(&doc, "get", "/api/v1/templates")["responses"]["422"].is_object());
    assert!(operation(&doc, "post", "/api/v1/deliveries/{id}/resend")["responses"]["404"].is_object());
    assert!(operation(&doc, "post", "/api/v1/templates/sync")["responses"]["502"].is_object());
}

#[test]
fn the_document_states_the_limits_and_values_the_desk_enforces() {
    let doc = doc();
    let text = property(&doc, "TextBody", "body");
    assert_eq!((text["minLength"].as_u64(), text["maxLength"].as_u64()), (Some(1), Some(4096)), "{text}");
    for path in ["/api/v1/tickets", "/api/v1/deliveries/failed"] {
        let limit = param(&doc, "get", path, "limit").unwrap();
        assert_eq!(limit["type"], "integer", "{path}: {limit}");
        assert_eq!((limit["minimum"].as_u64(), limit["maximum"].as_u64()), (Some(1), Some(200)), "{path}");
    }
    let status = param(&doc, "get", "/api/v1/tickets", "status").unwrap();
    assert_eq!(status["enum"], json!(["new", "open", "pending", "on_hold", "solved", "closed"]));
    assert_eq!(property(&doc, "TicketPatch", "status")["enum"], status["enum"]);
    assert_eq!(property(&doc, "ResendIn", "as")["enum"], json!(["as_is", "hold", "template", "sms"]));
    let ladder = property(&doc, "SettingsOut", "fallback_ladder");
    assert_eq!(resolve(&doc, &ladder["items"])["enum"], json!(["hold", "template", "sms"]));
    assert_eq!(ladder["uniqueItems"], true);
    let hours = property(&doc, "SettingsOut", "hold_hours");
    assert_eq!((hours["minimum"].as_i64(), hours["maximum"].as_i64()), (Some(1), Some(MAX_HOLD_HOURS)), "the limit checked");
    let tag = resolve(&doc, &property(&doc, "TicketPatch", "tags")["items"]);
    assert_eq!((tag["minLength"].as_u64(), tag["maxLength"].as_u64()), (Some(1), Some(50)), "{tag}");
    assert_eq!(property(&doc, "NewAgentBody", "name")["maxLength"], 200);
    assert_eq!(property(&doc, "NewAgentBody", "email")["maxLength"], 320);
    assert!(property(&doc, "NewAgentBody", "email")["pattern"].is_string());
    assert_eq!(property(&doc, "NewAgentBody", "password")["minLength"], 10);
    assert_eq!(property(&doc, "NewAgentBody", "role")["enum"], json!(["admin", "agent"]));
    let category = property(&doc, "TemplateOut", "category");
    assert_eq!(category, property(&doc, "ActionOut", "category"), "one spelling of categories");
    assert!(category["enum"].as_array().unwrap().contains(&json!("utility")), "{category}");
}

#[test]
fn ticket_templates_do_not_document_a_business_number_filter() {
    // A ticket's templates are those of its own business number's account: the filter could only
    // answer all of them or none, so it is not a parameter there. The registry has it.
    let doc = doc();
    assert!(param(&doc, "get", "/api/v1/tickets/{id}/templates", "business_number_id").is_none());
    assert!(param(&doc, "get", "/api/v1/tickets/{id}/templates", "q").is_some());
    assert!(param(&doc, "get", "/api/v1/templates", "business_number_id").is_some());
}

#[test]
fn media_documents_the_content_types_it_serves() {
    let doc = doc();
    let content = operation(&doc, "get", "/api/v1/messages/{id}/media")["responses"]["200"]["content"].as_object().unwrap().clone();
    let types: Vec<&str> = content.keys().map(String::as_str).collect();
    for served in ["image/*", "audio/*", "video/*", "application/pdf", "application/octet-stream"] {
        assert!(types.contains(&served), "{served} is not documented: {types:?}");
    }
}
