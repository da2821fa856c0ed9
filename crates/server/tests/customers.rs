//! Customer profiles (issue 16 item 1), on both backends: the API and the page show a customer's
//! identities, every ticket they opened and notes about them; the name is edited for good; the
//! ticket page links to the customer and lists their other tickets; bad input is refused naming
//! the field.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use common::api::Api;
use common::web::*;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use windowdesk_store::testing::Backend;
use windowdesk_store::AgentRole;

on_both_backends!(a_customer_profile_shows_every_ticket_identity_and_note,);

const CAMILA: &str = "5511987654321";

async fn a_customer_profile_shows_every_ticket_identity_and_note(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let now = now_secs();
    assert_eq!(app.post(&text_as("wamid.c1", CAMILA, "Camila", now - 7200, "Vocês entregam no sábado?")).await, 200);
    let first = app.only_ticket().await;
    let (s, _) = api.patch(&format!("/api/v1/tickets/{first}"), json!({"status": "closed"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.post(&text_as("wamid.c2", CAMILA, "Camila", now - 60, "Outra pergunta: e o troco?")).await, 200);
    let second = app.eventually("the follow-up ticket", || async { ticket_of(&app, CAMILA).await.filter(|t| *t != first) }).await;
    let contact = app.store().ticket_summary(second).await.unwrap().unwrap().ticket.requester_id;

    // The API: identities with their window, both tickets, the name that follows WhatsApp's.
    let (s, c) = api.get(&format!("/api/v1/customers/{contact}")).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!((c["name"].as_str(), c["name_is_default"].as_bool(), c["ticket_count"].as_i64()), (Some("Camila"), Some(true), Some(2)));
    assert_eq!(c["identities"][0]["wa_id"], CAMILA);
    assert_eq!(c["identities"][0]["wa_display"], "+55 11 98765-4321");
    assert_eq!(c["identities"][0]["window"]["open"], true);
    let (_, tickets) = api.get(&format!("/api/v1/customers/{contact}/tickets")).await;
    let ids: Vec<i64> = tickets["data"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![second, first], "newest first, closed ones too");
    let (_, page) = api.get(&format!("/api/v1/customers/{contact}/tickets?limit=1")).await;
    let (_, rest) = api.get(&format!("/api/v1/customers/{contact}/tickets?limit=1&before={}", page["next"].as_str().unwrap())).await;
    assert_eq!(rest["data"][0]["id"], first);

    let (s, renamed) = api.patch(&format!("/api/v1/customers/{contact}"), json!({"name": "  Camila Souza "})).await;
    assert_eq!(s, StatusCode::OK, "{renamed}");
    assert_eq!((renamed["name"].as_str(), renamed["name_is_default"].as_bool()), (Some("Camila Souza"), Some(false)));
    // WhatsApp's profile name no longer replaces it.
    assert_eq!(app.post(&text_as("wamid.c3", CAMILA, "Cami 🌸", now - 30, "Oi?")).await, 200);
    let (_, c) = api.get(&format!("/api/v1/customers/{contact}")).await;
    assert_eq!(c["name"], "Camila Souza");
    let (s, note) = api.post(&format!("/api/v1/customers/{contact}/notes"), json!({"body": "Prefers Portuguese; VIP."})).await;
    assert_eq!(s, StatusCode::CREATED, "{note}");
    assert_eq!(note["author"], api.actor());

    for (path, body, field) in [
        (format!("/api/v1/customers/{contact}"), json!({"name": " "}), "name"),
        (format!("/api/v1/customers/{contact}"), json!({"name": "x".repeat(201)}), "name"),
        (format!("/api/v1/customers/{contact}/notes"), json!({"body": ""}), "body"),
    ] {
        let (s, e) = if field == "body" { api.post(&path, body).await } else { api.patch(&path, body).await };
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["error"]["details"]["field"], field);
    }
    assert_eq!(api.get("/api/v1/customers/999999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/api/v1/customers/999999/tickets").await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.post("/api/v1/customers/999999/notes", json!({"body": "x"})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.patch("/api/v1/customers/999999", json!({"name": "x"})).await.0, StatusCode::NOT_FOUND);

    // The page: name, number, both tickets, the note; a note and a new name from the web.
    windowdesk_server::api::admin::create_agent(app.store().as_ref(), "Ana Lima", "ana@example.com", AgentRole::Agent, Some(PASSWORD))
        .await
        .unwrap();
    let web = Web::sign_in(&app, "ana@example.com").await;
    let page = web.page(&format!("/customers/{contact}")).await;
    assert!(page.contains(r#"<h1 id="customer-name">Camila Souza</h1>"#), "{page}");
    assert!(page.contains(&format!(r#"data-wa-id="{CAMILA}""#)) && page.contains("+55 11 98765-4321"), "{page}");
    assert!(page.contains(&format!(r#"href="/tickets/{first}""#)) && page.contains(&format!(r#"href="/tickets/{second}""#)), "{page}");
    assert!(page.contains("Prefers Portuguese; VIP."), "{page}");
    let added = web.post(&format!("/customers/{contact}/notes"), &[("body", "Called about the change.")]).await;
    assert_eq!(added.status, 303, "{}", added.body);
    let blank = web.post(&format!("/customers/{contact}/notes"), &[("body", "  ")]).await;
    assert_eq!(blank.status, 400);
    assert!(blank.body.contains("body: must not be empty"), "{}", blank.body);
    assert_eq!(web.post(&format!("/customers/{contact}/name"), &[("name", "Camila S.")]).await.status, 303);
    let page = web.page(&format!("/customers/{contact}")).await;
    assert!(page.contains("Called about the change.") && page.contains(">Ana Lima</strong>"), "{page}");
    assert!(page.contains(r#"<h1 id="customer-name">Camila S.</h1>"#));
    assert_eq!(web.get("/customers/999999").await.status, 404);

    // The ticket page links to the customer and lists their other ticket.
    let ticket = web.page(&format!("/tickets/{second}")).await;
    assert!(ticket.contains(&format!(r#"<a href="/customers/{contact}""#)), "{ticket}");
    let others = ticket.split(r#"id="other-tickets""#).nth(1).unwrap();
    assert!(
        others.contains(&format!(r#"href="/tickets/{first}""#))
            && !others.split("</ul>").next().unwrap().contains(&format!(r#"href="/tickets/{second}""#))
    );
    let _: Value = c;
    app.stop().await;
}
