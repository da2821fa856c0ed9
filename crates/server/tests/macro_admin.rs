//! The Macros page (issue 13 items 4 and 7) over plain HTTP, on both backends: what works without
//! script (the list, and the editor's form posting the macro as JSON), who manages what (every agent
//! their own personal macros, admins the shared ones, nobody another agent's own), the check the
//! builder calls as the agent types, and a saved macro in the ticket page's picker.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use common::web::{add_agent, by_id, hidden_input, unescape, Web, PASSWORD};
use common::*;
use serde_json::{json, Value};
use windowdesk_server::api::admin::create_agent;
use windowdesk_store::testing::Backend;
use windowdesk_store::AgentRole;

on_both_backends!(
    an_agent_creates_edits_and_deletes_a_personal_macro_through_the_forms,
    only_admins_manage_shared_macros_and_nobody_changes_another_agents_own,
    an_unknown_placeholder_is_refused_with_422_naming_the_field_and_the_token,
    the_check_names_each_problem_by_path_with_the_csrf_token_only,
    a_macro_saved_in_the_page_is_in_the_ticket_pages_picker,
);

const ADA: &str = "ada.admin@example.com";
const BEN: &str = "ben.agent@example.com";
const CY: &str = "cy.agent@example.com";

/// Ada (admin), Ben and Cy (agents), signed in; returns their browsers and Ben's and Cy's ids.
async fn three_agents(app: &TestApp) -> (Web, Web, Web, i64, i64) {
    create_agent(app.store().as_ref(), "Ada Admin", ADA, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    let ben = add_agent(app, "Ben Agent", BEN).await;
    let cy = add_agent(app, "Cy Agent", CY).await;
    (Web::sign_in(app, ADA).await, Web::sign_in(app, BEN).await, Web::sign_in(app, CY).await, ben.id, cy.id)
}

fn sign_off(shared: bool) -> Value {
    json!({
        "name": "Sign-off",
        "shared": shared,
        "actions": [
            {"type": "reply", "text": "Thanks {{firstName || there}}, ticket {{ticket.id}} is solved."},
            {"type": "add_tags", "tags": ["thanks"]},
            {"type": "set_status", "status": "solved"}
        ]
    })
}

/// Posts the editor's form; returns the page.
async fn save(web: &Web, path: &str, draft: &Value) -> common::web::Page {
    web.post(path, &[("macro", &draft.to_string())]).await
}

/// The id in a `/macros?done=saved#macro-<id>` redirect.
fn saved_id(page: &common::web::Page) -> i64 {
    assert_eq!(page.status, 303, "{}", page.body);
    let location = page.location();
    assert!(location.starts_with("/macros?done=saved#macro-"), "{location}");
    location.rsplit('-').next().unwrap().parse().unwrap()
}

async fn macro_count(app: &TestApp) -> usize {
    app.store().macros(None).await.unwrap().len()
}

async fn an_agent_creates_edits_and_deletes_a_personal_macro_through_the_forms(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, ben, _, ben_id, _) = three_agents(&app).await;

    // Every agent has the page in the header.
    let page = ben.page("/macros").await;
    assert!(page.contains(r#"href="/macros" aria-current="page""#), "{page}");
    assert!(page.contains("No macros yet.") && page.contains(r#"id="new-macro""#), "{page}");
    assert!(page.contains("only admins add, change or delete them"), "the hint says who manages shared macros: {page}");
    let editor = ben.page("/macros/new").await;
    let form = by_id(&editor, "macro-form").unwrap();
    assert_eq!(
        (form.attr("data-kind"), form.attr("data-check"), form.attr("action")),
        (Some("macro"), Some("/macros/check"), Some("/macros"))
    );
    let options: Value = serde_json::from_str(form.attr("data-options").unwrap()).unwrap();
    assert_eq!(options["can_share"], false, "{options}");
    assert_eq!(
        options["actions"],
        json!(["reply", "set_status", "set_priority", "add_tags", "remove_tags", "set_assignee", "unassign", "internal_note"])
    );
    assert_eq!(hidden_input(&editor, "csrf").as_deref(), Some(ben.csrf.as_str()));
    assert!(unescape(&editor).contains(r#""shared": false"#), "a new macro starts personal: {editor}");

    // Created: Ben's own.
    let id = saved_id(&save(&ben, "/macros", &sign_off(false)).await);
    let row = app.store().macro_by_id(id).await.unwrap().unwrap();
    assert_eq!((row.name.as_str(), row.owner_agent_id), ("Sign-off", Some(ben_id)));
    assert_eq!(row.updated_by.as_deref(), Some(format!("agent:{ben_id}").as_str()));
    let page = ben.page("/macros?done=saved").await;
    assert!(page.contains("Saved."), "{page}");
    let row_html = &page[page.find(&format!(r#"id="macro-{id}""#)).unwrap()..];
    let row_html = &row_html[..row_html.find("</tr>").unwrap()];
    assert!(row_html.contains(&format!(r#"href="/macros/{id}""#)) && row_html.contains("Personal"), "{row_html}");
    assert!(row_html.contains("reply (skipped when closed); add tags “thanks”; set status solved"), "{row_html}");
    assert!(row_html.contains("Ben Agent") && row_html.contains(&format!(r#"action="/macros/{id}/delete""#)), "{row_html}");
    assert!(row_html.contains("data-confirm="), "delete asks first: {row_html}");

    // Edited.
    let editor = ben.page(&format!("/macros/{id}")).await;
    assert!(editor.contains("Macro: Sign-off") && editor.contains("ticket {{ticket.id}} is solved"), "{editor}");
    let mut changed = sign_off(false);
    changed["name"] = json!("Sign-off (short)");
    changed["actions"] = json!([{"type": "reply", "text": "Thanks!"}]);
    assert_eq!(saved_id(&save(&ben, &format!("/macros/{id}"), &changed).await), id);
    let row = app.store().macro_by_id(id).await.unwrap().unwrap();
    assert_eq!((row.name.as_str(), row.owner_agent_id), ("Sign-off (short)", Some(ben_id)));
    assert!(row.body.contains("Thanks!") && !row.body.contains("thanks\""), "{}", row.body);

    // A forged form changes nothing.
    let forged = ben.post_raw(&format!("/macros/{id}"), &[("csrf", "forged"), ("macro", &sign_off(false).to_string())], &[]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let forged = ben.post_raw(&format!("/macros/{id}/delete"), &[("csrf", "forged")], &[]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(app.store().macro_by_id(id).await.unwrap().unwrap().name, "Sign-off (short)");

    // Deleted.
    let page = ben.post(&format!("/macros/{id}/delete"), &[]).await;
    assert_eq!((page.status, page.location()), (303, "/macros?done=deleted"), "{}", page.body);
    assert!(app.store().macro_by_id(id).await.unwrap().is_none());
    assert!(ben.page("/macros?done=deleted").await.contains("Deleted."));
    assert_eq!(ben.get(&format!("/macros/{id}")).await.status, 404);
    app.stop().await;
}

async fn only_admins_manage_shared_macros_and_nobody_changes_another_agents_own(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (ada, ben, cy, ben_id, _) = three_agents(&app).await;
    assert!(unescape(&ada.page("/macros/new").await).contains(r#""can_share":true"#), "admins may share");

    // Ada shares one; Ben sees it, without a link to edit or a delete button.
    let shared = saved_id(&save(&ada, "/macros", &sign_off(true)).await);
    assert_eq!(app.store().macro_by_id(shared).await.unwrap().unwrap().owner_agent_id, None);
    let page = ben.page("/macros").await;
    let row_html = &page[page.find(&format!(r#"id="macro-{shared}""#)).unwrap()..];
    let row_html = &row_html[..row_html.find("</tr>").unwrap()];
    assert!(row_html.contains("Shared") && row_html.contains("Sign-off"), "{row_html}");
    assert!(!row_html.contains("href=") && !row_html.contains("<form"), "not Ben's to change: {row_html}");

    // Ben is refused editing or deleting it, with a page that says why.
    for page in [
        ben.get(&format!("/macros/{shared}")).await,
        save(&ben, &format!("/macros/{shared}"), &sign_off(false)).await,
        ben.post(&format!("/macros/{shared}/delete"), &[]).await,
    ] {
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(page.body.contains("Only admins manage shared macros."), "{}", page.body);
    }
    let row = app.store().macro_by_id(shared).await.unwrap().unwrap();
    assert_eq!((row.owner_agent_id, row.body.contains("thanks")), (None, true), "unchanged");

    // Ben's draft that asks to be shared is refused naming `shared`; nothing is stored.
    let page = save(&ben, "/macros", &sign_off(true)).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains(r#"data-path="shared""#) && page.body.contains("Only admins manage shared macros."), "{}", page.body);
    assert!(unescape(&page.body).contains(r#""shared":true"#), "keeps what was written");
    assert_eq!(macro_count(&app).await, 1);
    // His own is his to change, but not to share.
    let own = saved_id(&save(&ben, "/macros", &sign_off(false)).await);
    let page = save(&ben, &format!("/macros/{own}"), &sign_off(true)).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert_eq!(app.store().macro_by_id(own).await.unwrap().unwrap().owner_agent_id, Some(ben_id));

    // Nobody else changes Ben's own macro, not even an admin; it is not in their lists.
    for web in [&cy, &ada] {
        for page in [
            web.get(&format!("/macros/{own}")).await,
            save(web, &format!("/macros/{own}"), &sign_off(false)).await,
            web.post(&format!("/macros/{own}/delete"), &[]).await,
        ] {
            assert_eq!(page.status, 403, "{}", page.body);
            assert!(unescape(&page.body).contains("another agent's personal macro"), "{}", page.body);
        }
        assert!(!web.page("/macros").await.contains(&format!(r#"id="macro-{own}""#)));
    }
    assert_eq!(app.store().macro_by_id(own).await.unwrap().unwrap().owner_agent_id, Some(ben_id));

    // Ada changes and deletes the shared one; a macro that does not exist is 404.
    let mut changed = sign_off(true);
    changed["name"] = json!("Team sign-off");
    assert_eq!(saved_id(&save(&ada, &format!("/macros/{shared}"), &changed).await), shared);
    assert_eq!(app.store().macro_by_id(shared).await.unwrap().unwrap().name, "Team sign-off");
    assert_eq!(ada.post(&format!("/macros/{shared}/delete"), &[]).await.status, 303);
    assert!(app.store().macro_by_id(shared).await.unwrap().is_none());
    assert_eq!(ada.get(&format!("/macros/{shared}")).await.status, 404);
    app.stop().await;
}

async fn an_unknown_placeholder_is_refused_with_422_naming_the_field_and_the_token(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (_, ben, _, _, _) = three_agents(&app).await;
    let mut bad = sign_off(false);
    bad["actions"][0]["text"] = json!("Your ticket is {{ticket.idd}}");
    let page = save(&ben, "/macros", &bad).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("<strong>actions[0].text</strong>") && page.body.contains("{{ticket.idd}}"), "{}", page.body);
    assert!(page.body.contains("unknown placeholder {{ticket.idd}}"), "names the token: {}", page.body);
    assert!(page.body.contains("Your ticket is {{ticket.idd}}"), "keeps what was written in the JSON box");
    assert_eq!(macro_count(&app).await, 0, "nothing stored");

    // Every problem is listed at its path, on an edit too.
    let id = saved_id(&save(&ben, "/macros", &sign_off(false)).await);
    bad["name"] = json!(" ");
    let page = save(&ben, &format!("/macros/{id}"), &bad).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains(r#"data-path="name""#) && page.body.contains(r#"data-path="actions[0].text""#), "{}", page.body);
    assert_eq!(app.store().macro_by_id(id).await.unwrap().unwrap().name, "Sign-off", "unchanged");
    // Not JSON at all: said so, not a crash.
    let page = ben.post("/macros", &[("macro", "{not json")]).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("the macro is not valid JSON"), "{}", page.body);
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

fn paths(body: &Value) -> Vec<&str> {
    body["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect()
}

async fn the_check_names_each_problem_by_path_with_the_csrf_token_only(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (ada, ben, _, _, _) = three_agents(&app).await;
    let (status, body) = post_json(&ben, "/macros/check", &sign_off(false), Some(&ben.csrf)).await;
    assert_eq!((status, body), (200, json!({"ok": true, "errors": []})));

    let bad = json!({"name": " ", "shared": false, "actions": [
        {"type": "reply", "text": "Ticket {{ticket.idd}}"},
        {"type": "send_sms", "text": "hi"},
        {"type": "add_tags", "tags": []}
    ]});
    let (status, body) = post_json(&ben, "/macros/check", &bad, Some(&ben.csrf)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], false);
    assert_eq!(paths(&body), vec!["name", "actions[1].type", "actions[0].text", "actions[2].tags"], "{body}");
    let reply = body["errors"].as_array().unwrap().iter().find(|e| e["path"] == "actions[0].text").unwrap();
    assert!(reply["message"].as_str().unwrap().contains("unknown placeholder {{ticket.idd}}"), "{body}");

    // Sharing: named for an agent, fine for an admin.
    let mut shared = bad.clone();
    shared["shared"] = json!(true);
    let (_, body) = post_json(&ben, "/macros/check", &shared, Some(&ben.csrf)).await;
    assert_eq!(paths(&body)[..2], ["name", "shared"], "{body}");
    let (_, body) = post_json(&ada, "/macros/check", &shared, Some(&ada.csrf)).await;
    assert!(!paths(&body).contains(&"shared"), "{body}");
    let (_, body) = post_json(&ada, "/macros/check", &sign_off(true), Some(&ada.csrf)).await;
    assert_eq!(body, json!({"ok": true, "errors": []}));

    // A shape the builder cannot read names its path too.
    let (_, body) =
        post_json(&ben, "/macros/check", &json!({"name": "x", "actions": [{"type": "set_status", "status": "soon"}]}), Some(&ben.csrf))
            .await;
    assert_eq!(body["ok"], false, "{body}");
    assert!(paths(&body)[0].starts_with("actions[0]"), "{body}");

    // Without the session's token: refused.
    let (status, _) = post_json(&ben, "/macros/check", &sign_off(false), None).await;
    assert_eq!(status, 403);
    let (status, _) = post_json(&ben, "/macros/check", &sign_off(false), Some("forged")).await;
    assert_eq!(status, 403);
    app.stop().await;
}

async fn a_macro_saved_in_the_page_is_in_the_ticket_pages_picker(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (ada, ben, cy, _, _) = three_agents(&app).await;
    let shared = saved_id(&save(&ada, "/macros", &sign_off(true)).await);
    let mut own = sign_off(false);
    own["name"] = json!("Ben's greeting");
    own["actions"] = json!([{"type": "reply", "text": "Hello {{firstName || there}}, Ben here."}]);
    let own = saved_id(&save(&ben, "/macros", &own).await);
    assert_eq!(app.post(&text("wamid.ma1", "4915100000009", now_secs() - 60, "Hello?")).await, 200);
    let ticket = app.eventually("the ticket", || common::web::ticket_of(&app, "4915100000009")).await;

    let page = ben.page(&format!("/tickets/{ticket}")).await;
    assert!(page.contains(&format!(r#"data-macro-id="{shared}""#)) && page.contains(&format!(r#"data-macro-id="{own}""#)), "{page}");
    let page = cy.page(&format!("/tickets/{ticket}")).await;
    assert!(page.contains(&format!(r#"data-macro-id="{shared}""#)), "{page}");
    assert!(!page.contains(&format!(r#"data-macro-id="{own}""#)), "Ben's own is not Cy's");

    // Chosen, it fills the composer with its reply rendered for the ticket.
    let page = ben.page(&format!("/tickets/{ticket}?macro={own}")).await;
    let chosen = by_id(&page, "macro-chosen").unwrap();
    assert_eq!(chosen.attr("data-reply"), Some("Hello Customer, Ben here."), "{page}");
    let page = ben.page(&format!("/tickets/{ticket}?macro={shared}")).await;
    let chosen = by_id(&page, "macro-chosen").unwrap();
    assert_eq!(chosen.attr("data-reply"), Some(format!("Thanks Customer, ticket {ticket} is solved.").as_str()), "{page}");
    app.stop().await;
}
