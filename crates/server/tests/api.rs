//! The REST API v1 (SPEC 13, 4, 6, D4, 15) over real HTTP, on both backends; replies go through the
//! outbox to the Cloud API simulator.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::api::{assert_invalid, Api};
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use windowdesk_core::{ManualClock, Timestamp};
use windowdesk_sim::{Fault, FaultPlan, Say};
use windowdesk_store::testing::Backend;
use windowdesk_store::TicketFilter;

on_both_backends!(
    requests_without_a_valid_bearer_token_are_401,
    tickets_are_listed_with_filters_and_keyset_pages,
    a_ticket_shows_its_requester_thread_and_events,
    w4_the_window_endpoint_is_open_until_exactly_window_end,
    the_window_endpoint_prices_every_way_out,
    a_reply_is_accepted_and_reaches_whatsapp,
    w4_a_reply_at_exactly_window_end_is_409_window_closed,
    notes_are_kept_on_the_ticket_and_never_sent,
    t6_patch_changes_status_assignee_and_tags_with_events,
    t1_closed_tickets_are_read_only,
    invalid_input_is_4xx_naming_the_field,
    d4_failed_deliveries_are_listed_with_their_reason,
    agents_are_created_and_listed,
);

const CUSTOMER: &str = "16505551234";

/// Ticket ids, oldest first, after `n` customers wrote once each.
async fn tickets_from_customers(app: &TestApp, n: usize) -> Vec<i64> {
    for i in 0..n {
        let from = format!("1650555{:04}", 1000 + i);
        assert_eq!(app.post(&text(&format!("wamid.c{i}"), &from, now_secs() - 60, "hello")).await, 200);
    }
    let mut ids: Vec<i64> = app.store().list_tickets(&TicketFilter::default()).await.unwrap().into_iter().map(|t| t.id).collect();
    ids.reverse();
    assert_eq!(ids.len(), n);
    ids
}

async fn requests_without_a_valid_bearer_token_are_401(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let url = app.url("/api/v1/tickets");
    let none = app.client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    for bad in ["wdk_0000", "nonsense", &api.token[..api.token.len() - 1]] {
        let r = app.client.get(&url).bearer_auth(bad).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{bad}");
    }
    let basic = app.client.get(&url).basic_auth("u", Some("p")).send().await.unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(api.get("/api/v1/tickets").await.0, StatusCode::OK);
    let row = app.store().api_tokens().await.unwrap().into_iter().find(|t| t.id == api.token_id).unwrap();
    assert!(row.last_used_at.is_some());
    assert!(api.token.starts_with(&row.prefix) && row.prefix.starts_with("wdk_"));
    assert!(app.store().revoke_api_token(api.token_id, Timestamp::from_unix_seconds(now_secs())).await.unwrap());
    assert_eq!(api.get("/api/v1/tickets").await.0, StatusCode::UNAUTHORIZED, "a revoked token is refused");
    app.stop().await;
}

async fn tickets_are_listed_with_filters_and_keyset_pages(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let ids = tickets_from_customers(&app, 3).await;
    let (_, agent) = api.post("/api/v1/agents", json!({"name": "Ana", "email": "ana@example.com"})).await;
    let agent_id = agent["id"].as_i64().unwrap();
    let (s, _) =
        api.patch(&format!("/api/v1/tickets/{}", ids[0]), json!({"status": "pending", "assignee_id": agent_id, "tags": ["vip"]})).await;
    assert_eq!(s, StatusCode::OK);

    let ids_of = |v: &Value| v["data"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect::<Vec<_>>();
    let (s, all) = api.get("/api/v1/tickets").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ids_of(&all), vec![ids[2], ids[1], ids[0]], "newest first");
    assert_eq!(all["next"], Value::Null);
    let first = &all["data"][0];
    assert_eq!(first["window"]["open"], true);
    assert!(first["window"]["seconds_left"].as_i64().unwrap() > 23 * 3600);
    assert!(first["window"]["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(first["business_number"]["phone_number_id"], PNID);

    assert_eq!(ids_of(&api.get("/api/v1/tickets?status=pending").await.1), vec![ids[0]]);
    assert_eq!(ids_of(&api.get("/api/v1/tickets?status=new").await.1), vec![ids[2], ids[1]]);
    assert_eq!(ids_of(&api.get("/api/v1/tickets?assignee=none").await.1), vec![ids[2], ids[1]]);
    assert_eq!(ids_of(&api.get(&format!("/api/v1/tickets?assignee={agent_id}")).await.1), vec![ids[0]]);
    assert_eq!(ids_of(&api.get("/api/v1/tickets?tag=VIP").await.1), vec![ids[0]]);
    assert_eq!(ids_of(&api.get(&format!("/api/v1/tickets?business_number={PNID}")).await.1).len(), 3);
    assert!(ids_of(&api.get("/api/v1/tickets?business_number=106540352242922").await.1).is_empty());

    let (_, page1) = api.get("/api/v1/tickets?limit=2").await;
    assert_eq!(ids_of(&page1), vec![ids[2], ids[1]]);
    let next = page1["next"].as_str().unwrap().to_owned();
    let (_, page2) = api.get(&format!("/api/v1/tickets?limit=2&before={next}")).await;
    assert_eq!(ids_of(&page2), vec![ids[0]]);
    assert_eq!(page2["next"], Value::Null);
    app.stop().await;
}

async fn a_ticket_shows_its_requester_thread_and_events(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    assert_eq!(app.post(&text("wamid.d1", CUSTOMER, now_secs() - 30, "Does it come in blue?")).await, 200);
    let id = tickets_of(&app).await[0];
    let (s, t) = api.get(&format!("/api/v1/tickets/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["id"], id);
    assert_eq!(t["status"], "new");
    assert_eq!(t["requester"]["wa_id"], CUSTOMER);
    assert_eq!(t["requester"]["display_number"], "+1 650-555-1234");
    assert_eq!(t["requester"]["name"], format!("Customer {CUSTOMER}"));
    assert_eq!(t["followups"], json!([]));
    assert_eq!(t["tags"], json!([]));
    let m = &t["messages"][0];
    assert_eq!(m["direction"], "inbound");
    assert_eq!(m["kind"], "text");
    assert_eq!(m["body"], "Does it come in blue?");
    assert_eq!(m["wamid"], "wamid.d1");
    assert_eq!(m["maybe_duplicate"], false);
    assert!(t["events"].is_array());
    assert_eq!(t["window"]["open"], true);

    for missing in ["/api/v1/tickets/999999", "/api/v1/tickets/abc", "/api/v1/tickets/999999/window"] {
        let (s, body) = api.get(missing).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    app.stop().await;
}

async fn tickets_of(app: &TestApp) -> Vec<i64> {
    app.store().list_tickets(&TicketFilter::default()).await.unwrap().into_iter().map(|t| t.id).collect()
}

async fn w4_the_window_endpoint_is_open_until_exactly_window_end(backend: Backend) {
    let sent = now_secs() - 3600;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(sent + 10)));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    let api = Api::new(&app).await;
    app.sim().say(Say::text(CUSTOMER, "hello?").at(sent)).await.unwrap();
    let id = app.eventually("the ticket", || async { tickets_of(&app).await.first().copied() }).await;
    let (s, w) = api.get(&format!("/api/v1/tickets/{id}/window")).await;
    assert_eq!(s, StatusCode::OK, "{w}");
    assert_eq!(w["state"], "open");
    // W9: the countdown runs to the guarded moment (the default guard is 5 s), Meta's end is shown too.
    assert_eq!(w["seconds_left"], 24 * 3600 - 10 - 5);
    assert_eq!(w["expires_at"], Timestamp::from_unix_seconds(sent + 24 * 3600).to_rfc3339());
    assert_eq!(w["send_until"], Timestamp::from_unix_seconds(sent + 24 * 3600 - 5).to_rfc3339());
    assert_eq!(w["next_business_open"], Value::Null);
    assert_eq!(w["actions"][0]["kind"], "free_form");
    assert_eq!(w["actions"][0]["billable"], false);
    assert_eq!(w["actions"][0]["free_because"], "customer_service_window");

    clock.set(Timestamp::from_unix_seconds(sent + 24 * 3600 - 5));
    let (_, w) = api.get(&format!("/api/v1/tickets/{id}/window")).await;
    assert_eq!(w["state"], "closed", "W9: at the guarded moment the desk no longer sends free-form");
    clock.set(Timestamp::from_unix_seconds(sent + 24 * 3600));
    let (_, w) = api.get(&format!("/api/v1/tickets/{id}/window")).await;
    assert_eq!(w["state"], "closed", "W4: at exactly window_end the window is closed");
    assert_eq!(w["open"], false);
    assert_eq!(w["seconds_left"], 0);
    assert!(w["actions"].as_array().unwrap().iter().all(|a| a["kind"] != "free_form"), "{w}");
    app.stop().await;
}

/// SPEC 11: every way out carries its estimate from the shipped rate card in force for the
/// customer's market (the desk's currency, USD by default): free-form replies free inside the
/// window, templates at the card's price for their category, a hold free.
async fn the_window_endpoint_prices_every_way_out(backend: Backend) {
    let sent = now_secs() - 3600;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(sent + 10)));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    let api = Api::new(&app).await;
    app.sim().say(Say::text(CUSTOMER, "hello?").at(sent)).await.unwrap();
    let id = app.eventually("the ticket", || async { tickets_of(&app).await.first().copied() }).await;
    let (_, w) = api.get(&format!("/api/v1/tickets/{id}/window")).await;
    assert_eq!(w["actions"][0]["price"], "free: inside the customer service window", "{w}");
    assert_eq!(w["actions"][0]["amount"], "0");
    assert_eq!(w["actions"][0]["currency"], "USD");
    clock.set(Timestamp::from_unix_seconds(sent + 25 * 3600));
    let (_, w) = api.get(&format!("/api/v1/tickets/{id}/window")).await;
    let actions = w["actions"].as_array().unwrap();
    let book = windowdesk_core::pricing::RateBook::new(
        windowdesk_core::pricing::RateCard::shipped(),
        windowdesk_core::pricing::MarketMap::shipped(),
        "USD",
    );
    let at = Timestamp::from_unix_seconds(sent + 25 * 3600);
    let market = book.market_of(CUSTOMER, at);
    let card = book.card_on(windowdesk_core::pricing::quote::day(at)).expect("a shipped USD card is in force");
    let templates: Vec<&Value> = actions.iter().filter(|a| a["kind"] == "template").collect();
    assert!(!templates.is_empty(), "{w}");
    for t in templates {
        let category = windowdesk_core::pricing::Category::parse(t["category"].as_str().unwrap()).unwrap();
        let (price, _) = card.price(&market, &category, 1).expect("the card prices the customer's market");
        assert_eq!(t["amount"], price.normalize().to_string(), "{t}");
        assert_eq!(t["currency"], "USD");
        assert_eq!(t["billable"], true);
        assert_eq!(t["price"], format!("{} USD, {category} template, {market}", price.normalize()), "{t}");
    }
    let hold = actions.iter().find(|a| a["kind"] == "hold").expect("hold is offered");
    assert_eq!((hold["price"].as_str(), &hold["amount"]), (Some("free: nothing is sent now"), &Value::Null));
    app.stop().await;
}

async fn a_reply_is_accepted_and_reaches_whatsapp(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let api = Api::new(&app).await;
    app.sim().say(Say::text(CUSTOMER, "Where is my parcel?")).await.unwrap();
    let id = app.eventually("the ticket", || async { tickets_of(&app).await.first().copied() }).await;
    let (s, r) = api.post(&format!("/api/v1/tickets/{id}/replies"), json!({"body": "It left this morning."})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["state"], "queued");
    assert_eq!(r["ticket_id"], id);
    let message_id = r["id"].as_i64().unwrap();
    let received = app.eventually("the simulator to receive the reply", || async { app.sim().received().into_iter().next() }).await;
    assert_eq!(received.to, CUSTOMER);
    assert_eq!(received.text.as_deref(), Some("It left this morning."));
    let (_, t) = api.get(&format!("/api/v1/tickets/{id}")).await;
    let m = t["messages"].as_array().unwrap().iter().find(|m| m["id"] == message_id).unwrap().clone();
    assert_eq!(m["direction"], "outbound");
    assert_eq!(m["author"], api.actor());
    assert!(t["events"].as_array().unwrap().iter().any(|e| e["kind"] == "reply_queued" && e["actor"] == api.actor()));
    app.stop().await;
}

async fn w4_a_reply_at_exactly_window_end_is_409_window_closed(backend: Backend) {
    let sent = now_secs() - 3600;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(sent + 10)));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    let api = Api::new(&app).await;
    app.sim().say(Say::text(CUSTOMER, "hello?").at(sent)).await.unwrap();
    let id = app.eventually("the ticket", || async { tickets_of(&app).await.first().copied() }).await;
    let window_end = Timestamp::from_unix_seconds(sent + 24 * 3600);
    clock.set(window_end);
    let (s, e) = api.post(&format!("/api/v1/tickets/{id}/replies"), json!({"body": "Sorry for the wait"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["error"]["code"], "window_closed");
    assert_eq!(e["error"]["details"]["window_end"], window_end.to_rfc3339());
    assert!(e["error"]["details"]["options"].is_array());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.sim().received().is_empty(), "nothing reaches Meta");
    let (_, t) = api.get(&format!("/api/v1/tickets/{id}")).await;
    assert!(t["messages"].as_array().unwrap().iter().all(|m| m["direction"] != "outbound"), "a blocked reply is not stored as sendable");
    app.stop().await;
}

async fn notes_are_kept_on_the_ticket_and_never_sent(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let api = Api::new(&app).await;
    app.sim().say(Say::text(CUSTOMER, "hi")).await.unwrap();
    let id = app.eventually("the ticket", || async { tickets_of(&app).await.first().copied() }).await;
    let (_, before) = api.get(&format!("/api/v1/tickets/{id}/window")).await;
    let (s, n) = api.post(&format!("/api/v1/tickets/{id}/notes"), json!({"body": "VIP, answer first"})).await;
    assert_eq!(s, StatusCode::CREATED, "{n}");
    assert_eq!(n["direction"], "note");
    assert_eq!(n["author"], api.actor());
    assert_eq!(n["delivery_state"], Value::Null);
    let (_, t) = api.get(&format!("/api/v1/tickets/{id}")).await;
    assert!(t["messages"].as_array().unwrap().iter().any(|m| m["id"] == n["id"] && m["body"] == "VIP, answer first"));
    assert!(t["events"].as_array().unwrap().iter().any(|e| e["kind"] == "note_added" && e["actor"] == api.actor()));
    let (_, after) = api.get(&format!("/api/v1/tickets/{id}/window")).await;
    assert_eq!(before["expires_at"], after["expires_at"], "W3: a note never touches the window");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.sim().received().is_empty(), "notes never go to WhatsApp");
    assert_eq!(api.post("/api/v1/tickets/999999/notes", json!({"body": "x"})).await.0, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn t6_patch_changes_status_assignee_and_tags_with_events(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let id = tickets_from_customers(&app, 1).await[0];
    let (_, agent) = api.post("/api/v1/agents", json!({"name": "Ana", "email": "ana@example.com", "role": "admin"})).await;
    let agent_id = agent["id"].as_i64().unwrap();
    let path = format!("/api/v1/tickets/{id}");
    let (s, t) = api.patch(&path, json!({"status": "pending", "assignee_id": agent_id, "tags": ["VIP", " billing "]})).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["status"], "pending");
    assert_eq!(t["assignee_id"], agent_id);
    assert_eq!(t["tags"], json!(["billing", "vip"]));
    let (_, t) = api.patch(&path, json!({"add_tags": ["refund"], "remove_tags": ["vip"]})).await;
    assert_eq!(t["tags"], json!(["billing", "refund"]));
    let (_, t) = api.patch(&path, json!({"assignee_id": null})).await;
    assert_eq!(t["assignee_id"], Value::Null);
    assert_eq!(t["status"], "pending", "absent fields are left alone");
    let (_, same) = api.patch(&path, json!({"status": "pending"})).await;
    assert_eq!(same["status"], "pending");

    let events = app.store().ticket_events(id).await.unwrap();
    let mine: Vec<_> = events.iter().filter(|e| e.actor == api.actor()).map(|e| e.kind.as_str()).collect();
    assert_eq!(mine, vec!["status_changed", "assignee_changed", "tags_changed", "tags_changed", "assignee_changed"]);
    let tags = events.iter().filter(|e| e.kind == "tags_changed").nth(1).unwrap();
    assert_eq!(tags.data, json!({"added": ["refund"], "removed": ["vip"]}));
    assert_eq!(events.iter().find(|e| e.kind == "status_changed").unwrap().data, json!({"from": "new", "to": "pending"}));
    app.stop().await;
}

async fn t1_closed_tickets_are_read_only(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let id = tickets_from_customers(&app, 1).await[0];
    let path = format!("/api/v1/tickets/{id}");
    assert_eq!(api.patch(&path, json!({"status": "closed"})).await.0, StatusCode::OK);
    let (s, e) = api.patch(&path, json!({"status": "open"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("closed"));
    assert_eq!(api.patch(&path, json!({"add_tags": ["late"]})).await.0, StatusCode::CONFLICT);
    assert_eq!(api.post(&format!("{path}/notes"), json!({"body": "x"})).await.0, StatusCode::CONFLICT);
    assert_eq!(api.post(&format!("{path}/replies"), json!({"body": "x"})).await.0, StatusCode::CONFLICT);
    let (_, t) = api.get(&path).await;
    assert_eq!(t["status"], "closed");
    assert_eq!(t["tags"], json!([]));
    app.stop().await;
}

async fn invalid_input_is_4xx_naming_the_field(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let id = tickets_from_customers(&app, 1).await[0];
    let path = format!("/api/v1/tickets/{id}");
    let (s, e) = api.patch(&path, json!({"status": "done"})).await;
    assert_invalid(s, &e, "status");
    assert!(e["error"]["message"].as_str().unwrap().contains("on_hold"), "lists the valid statuses");
    let (s, e) = api.patch(&path, json!({"assignee_id": 424242})).await;
    assert_invalid(s, &e, "assignee_id");
    let (s, e) = api.patch(&path, json!({"tags": "vip"})).await;
    assert_invalid(s, &e, "tags");
    let (s, e) = api.patch(&path, json!({"add_tags": ["ok", ""]})).await;
    assert_invalid(s, &e, "add_tags[1]");
    let (s, e) = api.patch(&path, json!({"colour": "red"})).await;
    assert_invalid(s, &e, "colour");
    let (s, e) = api.post(&format!("{path}/replies"), json!({"body": "   "})).await;
    assert_invalid(s, &e, "body");
    let (s, e) = api.post(&format!("{path}/replies"), json!({})).await;
    assert_invalid(s, &e, "body");
    let (s, e) = api.post(&format!("{path}/notes"), json!({"body": 5})).await;
    assert_invalid(s, &e, "body");
    let (s, e) = api.get("/api/v1/tickets?status=bogus").await;
    assert_invalid(s, &e, "status");
    let (s, e) = api.get("/api/v1/tickets?limit=201").await;
    assert_invalid(s, &e, "limit");
    let (s, e) = api.get("/api/v1/tickets?before=yesterday").await;
    assert_invalid(s, &e, "before");
    let (s, e) = api.get("/api/v1/tickets?assignee=someone").await;
    assert_invalid(s, &e, "assignee");
    let raw = app.client.patch(app.url(&path)).bearer_auth(&api.token).body("{not json").send().await.unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    app.stop().await;
}

async fn d4_failed_deliveries_are_listed_with_their_reason(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let api = Api::new(&app).await;
    app.sim().say(Say::text(CUSTOMER, "hi")).await.unwrap();
    let id = app.eventually("the ticket", || async { tickets_of(&app).await.first().copied() }).await;
    let (_, empty) = api.get("/api/v1/deliveries/failed").await;
    assert_eq!(empty, json!({"data": [], "next": null}));
    app.sim().set_fault(FaultPlan { count: Some(1), fault: Fault::Error { code: 131_026, http_status: 400 } });
    let (s, r) = api.post(&format!("/api/v1/tickets/{id}/replies"), json!({"body": "undeliverable"})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let failed = app
        .eventually("the failure to be listed", || async {
            let (_, list) = api.get("/api/v1/deliveries/failed").await;
            list["data"].as_array().unwrap().first().cloned()
        })
        .await;
    assert_eq!(failed["message_id"], r["id"]);
    assert_eq!(failed["ticket_id"], id);
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["error"]["code"], 131_026);
    assert!(failed["reason"].as_str().unwrap().contains("could not be delivered"), "{failed}");
    assert!(failed["at"].as_str().unwrap().ends_with('Z'));
    let (_, t) = api.get(&format!("/api/v1/tickets/{id}")).await;
    let m = t["messages"].as_array().unwrap().iter().find(|m| m["id"] == r["id"]).unwrap().clone();
    assert_eq!(m["delivery_state"], "failed");
    assert_eq!(m["error"]["code"], 131_026);
    app.stop().await;
}

async fn agents_are_created_and_listed(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let (s, a) = api.post("/api/v1/agents", json!({"name": "Ana", "email": "Ana@Example.com", "password": "correct horse battery"})).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(a["email"], "ana@example.com");
    assert_eq!(a["role"], "agent");
    assert!(a.get("password").is_none() && a.get("password_hash").is_none());
    let (s, e) = api.post("/api/v1/agents", json!({"name": "Ana 2", "email": "ANA@example.com"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["error"]["details"]["field"], "email");
    let (s, e) = api.post("/api/v1/agents", json!({"name": "B", "email": "not-an-email"})).await;
    assert_invalid(s, &e, "email");
    let (s, e) = api.post("/api/v1/agents", json!({"name": "B", "email": "b@example.com", "password": "short"})).await;
    assert_invalid(s, &e, "password");
    let (s, e) = api.post("/api/v1/agents", json!({"name": "B", "email": "b@example.com", "role": "owner"})).await;
    assert_invalid(s, &e, "role");
    let (s, e) = api.post("/api/v1/agents", json!({"name": " ", "email": "b@example.com"})).await;
    assert_invalid(s, &e, "name");
    let (s, list) = api.get("/api/v1/agents").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["id"], a["id"]);

    // Edited: a new name and email, each checked as when added; absent fields keep their value.
    let path = format!("/api/v1/agents/{}", a["id"]);
    let (s, b) = api.post("/api/v1/agents", json!({"name": "Ben", "email": "ben@example.com"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, e) = api.patch(&path, json!({"email": "BEN@example.com"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["error"]["details"]["field"], "email");
    let (s, e) = api.patch(&path, json!({"name": "  "})).await;
    assert_invalid(s, &e, "name");
    let (s, e) = api.patch(&path, json!({"email": "ana@"})).await;
    assert_invalid(s, &e, "email");
    let (s, e) = api.patch(&path, json!({"role": "admin"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused: {e}");
    let (s, edited) = api.patch(&path, json!({"name": " Ana Lima ", "email": " Ana.Lima@Example.com"})).await;
    assert_eq!(s, StatusCode::OK, "{edited}");
    assert_eq!((edited["name"].as_str(), edited["email"].as_str()), (Some("Ana Lima"), Some("ana.lima@example.com")));
    let (_, kept) = api.patch(&path, json!({"name": "Ana L."})).await;
    assert_eq!((kept["name"].as_str(), kept["email"].as_str()), (Some("Ana L."), Some("ana.lima@example.com")));
    let (s, got) = api.get(&path).await;
    assert_eq!((s, got["name"].as_str()), (StatusCode::OK, Some("Ana L.")));
    assert_eq!(api.get("/api/v1/agents/999999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.patch("/api/v1/agents/999999", json!({"name": "X"})).await.0, StatusCode::NOT_FOUND);
    app.stop().await;
}
