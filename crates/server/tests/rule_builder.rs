//! The rule builder (issue 13 item 7), on both backends: the dry run through the REST API (which
//! tickets a draft would match, nothing sent or recorded; an invalid draft is 422 naming the path),
//! and the admin page over plain HTTP (what works without script: the list, the switch, delete and a
//! JSON save; the check the script calls as the admin types; admins only, CSRF on every post).

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use common::api::{assert_invalid, Api};
use common::web::{hidden_input, Web, PASSWORD};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use windowdesk_server::api::admin::create_agent;
use windowdesk_store::testing::Backend;
use windowdesk_store::{AgentRole, Direction};

on_both_backends!(
    a_dry_run_matches_only_the_ticket_whose_message_contains_the_word_and_changes_nothing,
    an_invalid_dry_run_is_refused_naming_the_path,
    the_rules_page_lists_switches_saves_and_deletes_without_script,
    the_check_names_each_problem_by_path_for_admins_with_the_csrf_token_only,
);

fn refund_rule() -> Value {
    json!({
        "name": "Tag refunds",
        "event": "message_received",
        "conditions": {"all": [{"field": "message_text", "op": "contains_any", "words": ["refund"]}], "any": []},
        "actions": [
            {"type": "add_tags", "tags": ["refund"]},
            {"type": "reply", "text": "We are on it, ticket {{ticket.id}}.", "when_closed": {"kind": "skip"}}
        ]
    })
}

/// Two customers write, one about a refund; returns (refund ticket, other ticket).
async fn two_tickets(app: &TestApp) -> (i64, i64) {
    let now = now_secs();
    assert_eq!(app.post(&text("wamid.rb1", "4915100000001", now - 60, "Hello, I would like a REFUND please")).await, 200);
    assert_eq!(app.post(&text("wamid.rb2", "4915100000002", now - 30, "Where is my parcel?")).await, 200);
    let refund = app.eventually("the refund ticket", || common::web::ticket_of(app, "4915100000001")).await;
    let other = app.eventually("the other ticket", || common::web::ticket_of(app, "4915100000002")).await;
    (refund, other)
}

async fn a_dry_run_matches_only_the_ticket_whose_message_contains_the_word_and_changes_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let (refund, other) = two_tickets(&app).await;
    let events_before = app.store().ticket_events(refund).await.unwrap().len();

    let (status, body) = api.post("/api/v1/rules/dry-run", refund_rule()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checked"], 2, "{body}");
    assert_eq!(body["matches"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["matches"][0]["ticket_id"], refund, "{body}");
    assert_eq!(body["matches"][0]["status"], "new", "{body}");
    assert!(body["matches"][0]["subject"].is_string(), "{body}");

    // The same rule on an event without a message matches nothing: message conditions see none.
    let mut updated = refund_rule();
    updated["event"] = json!("ticket_updated");
    let (status, body) = api.post("/api/v1/rules/dry-run", updated).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["matches"], json!([]), "{body}");

    // A switched-off draft is tried as if it were on; "first message" holds for both tickets.
    let mut first = refund_rule();
    first["enabled"] = json!(false);
    first["conditions"] = json!({"all": [{"field": "first_message", "value": true}], "any": []});
    let (status, body) = api.post("/api/v1/rules/dry-run", first).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids: Vec<i64> = body["matches"].as_array().unwrap().iter().map(|m| m["ticket_id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![other, refund], "newest first: {body}");

    // Nothing was stored, sent, tagged or recorded.
    let (_, listed) = api.get("/api/v1/rules").await;
    assert_eq!(listed["data"], json!([]), "{listed}");
    let summary = app.store().ticket_summary(refund).await.unwrap().unwrap();
    assert!(summary.tags.is_empty(), "{:?}", summary.tags);
    assert_eq!(app.store().ticket_events(refund).await.unwrap().len(), events_before);
    let messages = app.store().ticket_messages(refund).await.unwrap();
    assert!(messages.iter().all(|m| m.direction == Direction::Inbound), "{messages:?}");
    app.stop().await;
}

async fn an_invalid_dry_run_is_refused_naming_the_path(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let mut bad = refund_rule();
    bad["actions"][1]["text"] = json!("We are on it, ticket {{ticket.idd}}.");
    let (status, body) = api.post("/api/v1/rules/dry-run", bad).await;
    assert_invalid(status, &body, "actions[1].text");
    assert!(body["error"]["message"].as_str().unwrap().contains("{{ticket.idd}}"), "names the token: {body}");
    // A shape error names its path too (a condition's own fields are read as a whole).
    let mut bad = refund_rule();
    bad["conditions"]["all"][0]["op"] = json!("contains_maybe");
    let (status, body) = api.post("/api/v1/rules/dry-run", bad).await;
    assert_invalid(status, &body, "conditions.all[0]");
    assert!(body["error"]["message"].as_str().unwrap().contains("contains_maybe"), "{body}");
    app.stop().await;
}

const ADA: &str = "ada.admin@example.com";
const BEN: &str = "ben.agent@example.com";

async fn admin_and_agent(app: &TestApp) -> (Web, Web) {
    create_agent(app.store().as_ref(), "Ada Admin", ADA, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    create_agent(app.store().as_ref(), "Ben Agent", BEN, AgentRole::Agent, Some(PASSWORD)).await.unwrap();
    (Web::sign_in(app, ADA).await, Web::sign_in(app, BEN).await)
}

async fn the_rules_page_lists_switches_saves_and_deletes_without_script(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (admin, agent) = admin_and_agent(&app).await;
    let api = Api::new(&app).await;
    let (status, created) = api.post("/api/v1/rules", refund_rule()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();

    // Agents are refused; the admin sees the rule with its event, switch and summary.
    assert_eq!(agent.get("/admin/rules").await.status, 403);
    assert_eq!(agent.get(&format!("/admin/rules/{id}")).await.status, 403);
    assert_eq!(agent.post(&format!("/admin/rules/{id}/delete"), &[]).await.status, 403);
    assert!(!agent.page("/").await.contains(r#"href="/admin/rules""#));
    let page = admin.page("/admin/rules").await;
    assert!(page.contains(r#"href="/admin/rules""#), "in the admin navigation");
    assert!(page.contains("Tag refunds") && page.contains("Message received"), "{page}");
    assert!(page.contains("If message contains “refund”: add tags “refund”; reply (skipped when closed)"), "{page}");
    assert!(page.contains(r#"role="switch" aria-checked="true""#), "{page}");

    // Switched off and on again by a plain form.
    let page = admin.post(&format!("/admin/rules/{id}/enabled"), &[("enabled", "false")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(!app.store().rule(id).await.unwrap().unwrap().enabled);
    assert!(admin.page("/admin/rules").await.contains(r#"aria-checked="false""#));
    let forged = admin.post_raw(&format!("/admin/rules/{id}/enabled"), &[("csrf", "forged"), ("enabled", "true")], &[]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(!app.store().rule(id).await.unwrap().unwrap().enabled, "a forged post changes nothing");

    // The editor's form posts the rule as JSON: refused with every problem named, then saved.
    let editor = admin.page(&format!("/admin/rules/{id}")).await;
    assert!(editor.contains(r#"id="rule-json""#) && editor.contains("Tag refunds"), "{editor}");
    let mut bad = refund_rule();
    bad["name"] = json!(" ");
    bad["actions"][1]["text"] = json!("Ticket {{ticket.idd}}");
    let page = admin.post(&format!("/admin/rules/{id}"), &[("rule", &bad.to_string()), ("intent", "save")]).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("actions[1].text") && page.body.contains("{{ticket.idd}}") && page.body.contains(">name<"), "{}", page.body);
    assert_eq!(app.store().rule(id).await.unwrap().unwrap().name, "Tag refunds", "nothing stored");
    let mut good = refund_rule();
    good["name"] = json!("Tag refund requests");
    good["position"] = json!(7);
    let page = admin.post(&format!("/admin/rules/{id}"), &[("rule", &good.to_string()), ("intent", "save")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), format!("/admin/rules?done=saved#rule-{id}"));
    let row = app.store().rule(id).await.unwrap().unwrap();
    assert_eq!((row.name.as_str(), row.position), ("Tag refund requests", 7));
    assert!(row.updated_by.unwrap().starts_with("agent:"));

    // A dry run without script answers on the editor page; a new rule is created from the form.
    two_tickets(&app).await;
    let page = admin.post("/admin/rules", &[("rule", &good.to_string()), ("intent", "dry_run")]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Checked the 2 newest tickets as if the event happened now: 1 would match."), "{}", page.body);
    assert_eq!(app.store().rules().await.unwrap().len(), 1, "a dry run stores nothing");
    let page = admin.post("/admin/rules", &[("rule", &good.to_string()), ("intent", "save")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(app.store().rules().await.unwrap().len(), 2);

    // Deleted.
    let page = admin.post(&format!("/admin/rules/{id}/delete"), &[]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(app.store().rule(id).await.unwrap().is_none());
    assert!(admin.page("/admin/rules?done=deleted").await.contains("Deleted."));
    app.stop().await;
}

async fn post_json(web: &Web, path: &str, body: &Value, csrf: Option<&str>) -> (u16, Value) {
    let mut req = web
        .client
        .post(web.url(path))
        .header(reqwest::header::COOKIE, format!("wd_session={}", web.session))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = csrf {
        req = req.header("x-csrf-token", token);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn the_check_names_each_problem_by_path_for_admins_with_the_csrf_token_only(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (admin, agent) = admin_and_agent(&app).await;
    let (status, body) = post_json(&admin, "/admin/rules/check", &refund_rule(), Some(&admin.csrf)).await;
    assert_eq!((status, body.clone()), (200, json!({"ok": true, "errors": []})));

    let mut bad = refund_rule();
    bad["actions"][1]["text"] = json!("Ticket {{ticket.idd}}");
    bad["actions"][0]["tags"] = json!([]);
    let (status, body) = post_json(&admin, "/admin/rules/check", &bad, Some(&admin.csrf)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], false);
    let paths: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, vec!["actions[0].tags", "actions[1].text"], "{body}");
    assert!(body["errors"][1]["message"].as_str().unwrap().contains("unknown placeholder {{ticket.idd}}"), "{body}");
    // A shape the builder cannot read names its path too.
    let (_, body) = post_json(&admin, "/admin/rules/check", &json!({"name": "x", "event": "soon", "actions": []}), Some(&admin.csrf)).await;
    assert_eq!(body["errors"][0]["path"], "event", "{body}");

    // Without the session's token, or as an agent: refused.
    let (status, _) = post_json(&admin, "/admin/rules/check", &refund_rule(), None).await;
    assert_eq!(status, 403);
    let (status, _) = post_json(&admin, "/admin/rules/dry-run", &refund_rule(), Some("forged")).await;
    assert_eq!(status, 403);
    let (status, _) = post_json(&agent, "/admin/rules/check", &refund_rule(), Some(&agent.csrf)).await;
    assert_eq!(status, 403);

    // The page's dry run: the API's answer, or the problems with 422.
    two_tickets(&app).await;
    let (status, body) = post_json(&admin, "/admin/rules/dry-run", &refund_rule(), Some(&admin.csrf)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checked"], 2, "{body}");
    assert_eq!(body["matches"].as_array().unwrap().len(), 1, "{body}");
    let (status, body) = post_json(&admin, "/admin/rules/dry-run", &bad, Some(&admin.csrf)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][1]["path"], "actions[1].text", "{body}");
    let editor = admin.page("/admin/rules/new").await;
    assert_eq!(hidden_input(&editor, "csrf").as_deref(), Some(admin.csrf.as_str()));
    app.stop().await;
}
