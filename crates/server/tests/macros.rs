//! Macros (SPEC 10, issue 13 item 4) through the REST API and the ticket page's picker (without
//! script: the links and forms), on both backends: validated when saved (placeholders named with their
//! token), applied as one bundle, and a closed window never makes the reply fail silently. And
//! placeholders in what agents write themselves (issue 13 item 3): replies, held replies, SMS and
//! notes are refused naming an unknown token, and rendered before they are queued.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::api::{assert_invalid, Api};
use common::web::{add_agent, by_id, hidden_input, section, unescape, Web};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use windowdesk_core::{ManualClock, Timestamp};
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;

on_both_backends!(
    a_macro_with_an_unknown_placeholder_is_refused_naming_the_token,
    a_macro_is_stored_listed_replaced_and_deleted,
    applying_a_macro_replies_with_placeholders_filled_and_changes_the_ticket,
    with_the_window_closed_a_macros_reply_becomes_its_template_or_says_it_was_not_sent,
    placeholders_in_an_api_reply_are_checked_and_rendered_and_plain_text_passes_unchanged,
    placeholders_in_held_replies_sms_and_notes_are_checked_and_rendered,
    the_picker_lists_the_agents_macros_and_a_chosen_one_fills_the_composer_and_applies_on_send,
    with_the_window_closed_the_picker_says_what_the_reply_becomes_and_keeps_the_text_when_it_is_not_sent,
    a_refused_placeholder_on_the_ticket_page_keeps_the_draft_and_names_the_token,
);

const CUSTOMER: &str = "4915112345678";

fn refund_macro() -> serde_json::Value {
    json!({
        "name": "Refund sent",
        "actions": [
            {"type": "reply", "text": "Hi {{firstName || there}}, the refund for ticket {{ticket.id}} is on its way. {{agent.name || The team}}"},
            {"type": "set_status", "status": "solved"},
            {"type": "add_tags", "tags": ["refund"]},
            {"type": "internal_note", "text": "Refund confirmed on ticket {{ticket.id}}"}
        ]
    })
}

async fn a_macro_with_an_unknown_placeholder_is_refused_naming_the_token(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let (status, body) =
        api.post("/api/v1/macros", json!({"name": "Typo", "actions": [{"type": "reply", "text": "Your ticket is {{ticket.idd}}"}]})).await;
    assert_invalid(status, &body, "actions[0].text");
    assert!(body["error"]["message"].as_str().unwrap().contains("{{ticket.idd}}"), "{body}");
    let (status, body) =
        api.post("/api/v1/macros", json!({"name": "Broken", "actions": [{"type": "reply", "text": "Hi {{firstName"}]})).await;
    assert_invalid(status, &body, "actions[0].text");
    let (status, body) = api.post("/api/v1/macros", json!({"name": "SMS", "actions": [{"type": "send_sms", "text": "hi"}]})).await;
    assert_invalid(status, &body, "actions[0].type");
    let (status, body) =
        api.post("/api/v1/macros", json!({"name": "Nobody's", "owner_agent_id": 999_999, "actions": [{"type": "unassign"}]})).await;
    assert_invalid(status, &body, "owner_agent_id");
    let (status, body) = api.post("/api/v1/macros", json!({"name": "x", "actions": [{"type": "reply"}]})).await;
    assert_invalid(status, &body, "actions[0]");
    app.stop().await;
}

async fn a_macro_is_stored_listed_replaced_and_deleted(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let (status, created) = api.post("/api/v1/macros", refund_macro()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["shared"], true);
    assert_eq!(created["actions"][1], json!({"type": "set_status", "status": "solved"}));
    let id = created["id"].as_i64().unwrap();
    let (_, listed) = api.get("/api/v1/macros").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let mut changed = refund_macro();
    changed["name"] = json!("Refund sent (v2)");
    let (status, updated) = api.put(&format!("/api/v1/macros/{id}"), changed).await;
    assert_eq!((status, updated["name"].as_str()), (StatusCode::OK, Some("Refund sent (v2)")));
    let (status, _) = api.call(Method::DELETE, &format!("/api/v1/macros/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.get(&format!("/api/v1/macros/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Ids that are not numbers (or do not fit one) are ids that do not exist.
    let (status, body) = api.post("/api/v1/tickets/-9223372036854775808/macros/9223372036854775808", json!(null)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    app.stop().await;
}

async fn applying_a_macro_replies_with_placeholders_filled_and_changes_the_ticket(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let api = Api::new(&app).await;
    app.sim().say(Say { name: Some("Ana María López".into()), ..Say::text(CUSTOMER, "where is my refund?") }).await.unwrap();
    let ticket = app.only_ticket().await;
    let (_, created) = api.post("/api/v1/macros", refund_macro()).await;
    let (status, applied) = api.post(&format!("/api/v1/tickets/{ticket}/macros/{}", created["id"]), json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["reply"]["outcome"], "queued", "{applied}");
    let text = format!("Hi Ana, the refund for ticket {ticket} is on its way. The team");
    assert_eq!(applied["reply"]["text"], text.as_str());
    assert!(applied["actions"].as_array().unwrap().iter().all(|a| a["ok"] == true), "{applied}");
    app.eventually("the reply at the simulator", || async {
        app.sim().received().iter().any(|m| m.text.as_deref() == Some(text.as_str())).then_some(())
    })
    .await;
    let (_, t) = api.get(&format!("/api/v1/tickets/{ticket}")).await;
    assert_eq!(t["status"], "solved", "{t}");
    assert_eq!(t["tags"], json!(["refund"]), "{t}");
    let notes: Vec<_> = app
        .store()
        .ticket_messages(ticket)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == windowdesk_store::Direction::Note)
        .collect();
    assert_eq!(notes[0].body.as_deref(), Some(format!("Refund confirmed on ticket {ticket}").as_str()));
    app.stop().await;
}

async fn with_the_window_closed_a_macros_reply_becomes_its_template_or_says_it_was_not_sent(backend: Backend) {
    let sent = now_secs() - 3600;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(sent + 10)));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    app.sync_templates().await;
    let api = Api::new(&app).await;
    app.sim().say(Say::text(CUSTOMER, "hello?").at(sent)).await.unwrap();
    let ticket = app.only_ticket().await;
    clock.set(Timestamp::from_unix_seconds(sent).plus(Duration::from_secs(25 * 3600)));
    let (_, with_variant) = api
        .post(
            "/api/v1/macros",
            json!({"name": "Follow up", "actions": [{"type": "reply", "text": "Any news, {{firstName || there}}?",
                   "when_closed": {"kind": "template", "name": "hello_world", "language": "en_US"}}]}),
        )
        .await;
    let (status, applied) = api.post(&format!("/api/v1/tickets/{ticket}/macros/{}", with_variant["id"]), json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["reply"]["outcome"], "template_queued", "{applied}");
    app.eventually("the template at the simulator", || async { app.sim().received().iter().any(|m| m.kind == "template").then_some(()) })
        .await;
    assert!(app.sim().received().iter().all(|m| m.kind == "template"), "no free-form send outside the window");

    let (_, without) = api.post("/api/v1/macros", json!({"name": "Plain", "actions": [{"type": "reply", "text": "Hello again"}]})).await;
    let (_, applied) = api.post(&format!("/api/v1/tickets/{ticket}/macros/{}", without["id"]), json!(null)).await;
    assert_eq!(applied["reply"]["outcome"], "not_sent", "{applied}");
    assert!(applied["reply"]["reason"].as_str().unwrap().contains("window closed"), "{applied}");
    assert!(!applied["reply"]["ways_out"].as_array().unwrap().is_empty(), "the ways out are listed: {applied}");
    app.stop().await;
}

async fn placeholders_in_an_api_reply_are_checked_and_rendered_and_plain_text_passes_unchanged(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let api = Api::new(&app).await;
    // No name: the contact is known by their number only (as the desk names one without a profile).
    app.sim().say(Say::text(CUSTOMER, "hello?").name("+49 151 12345678")).await.unwrap();
    let ticket = app.only_ticket().await;
    let path = format!("/api/v1/tickets/{ticket}/replies");

    let (status, body) = api.post(&path, json!({"body": "Your ticket is {{ticket.idd}}"})).await;
    assert_invalid(status, &body, "body");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("unknown placeholder {{ticket.idd}} at character 16"), "{body}");
    assert!(message.contains("did you mean {{ticket.id}}?"), "{body}");
    let (status, body) = api.post(&path, json!({"body": "Hi {{firstName, welcome"})).await;
    assert_invalid(status, &body, "body");
    assert!(body["error"]["message"].as_str().unwrap().contains("unclosed {{ at character 4"), "{body}");
    let (status, body) = api.post(&path, json!({"body": "Order {{1}} is late"})).await;
    assert_invalid(status, &body, "body");
    assert!(app.sim().received().is_empty(), "a refused reply sends nothing");

    let (status, queued) = api.post(&path, json!({"body": "Hi {{firstName || there}}, this is ticket {{ ticket.id }}."})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let rendered = format!("Hi there, this is ticket {ticket}.");
    // Text without `{{` goes exactly as written, even with other braces in it.
    let plain = "A smiley :}} and {single} braces, {x} }";
    let (status, queued) = api.post(&path, json!({"body": plain})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let mut want = vec![rendered.clone(), plain.to_owned()];
    want.sort();
    let mut received = app
        .eventually("both replies at the simulator", || async {
            let received: Vec<String> = app.sim().received().into_iter().filter_map(|m| m.text).collect();
            (received.len() == 2).then_some(received)
        })
        .await;
    received.sort();
    assert_eq!(received, want, "the customer gets the rendered text, and the plain text as written");
    let mut stored: Vec<String> = app
        .store()
        .ticket_messages(ticket)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == windowdesk_store::Direction::Outbound)
        .filter_map(|m| m.body)
        .collect();
    stored.sort();
    assert_eq!(stored, want, "the ticket shows what the customer got");
    app.stop().await;
}

async fn placeholders_in_held_replies_sms_and_notes_are_checked_and_rendered(backend: Backend) {
    let sent = now_secs() - 3600;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(sent + 10)));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    let api = Api::new(&app).await;
    app.sim().say(Say { name: Some("Ana María López".into()), ..Say::text(CUSTOMER, "hello?").at(sent) }).await.unwrap();
    let ticket = app.only_ticket().await;

    // Notes: refused naming the token, rendered otherwise.
    let (status, body) = api.post(&format!("/api/v1/tickets/{ticket}/notes"), json!({"body": "{{requester.nmae}} called"})).await;
    assert_invalid(status, &body, "body");
    assert!(body["error"]["message"].as_str().unwrap().contains("{{requester.nmae}}"), "{body}");
    let (status, note) =
        api.post(&format!("/api/v1/tickets/{ticket}/notes"), json!({"body": "{{requester.name}} called about #{{ticket.id}}"})).await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["body"], format!("Ana María López called about #{ticket}"), "{note}");

    // With the window closed: held replies and SMS are checked before anything else.
    clock.set(Timestamp::from_unix_seconds(sent).plus(Duration::from_secs(25 * 3600)));
    for path in ["held-replies", "sms"] {
        let (status, body) = api.post(&format!("/api/v1/tickets/{ticket}/{path}"), json!({"body": "Hi {{first_name}}"})).await;
        assert_invalid(status, &body, "body");
        assert!(body["error"]["message"].as_str().unwrap().contains("(did you mean {{requester.first_name}}?)"), "{path}: {body}");
    }
    let (status, held) = api
        .post(&format!("/api/v1/tickets/{ticket}/held-replies"), json!({"body": "Hi {{firstName || there}}, about ticket {{ticket.id}}"}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{held}");
    let message = app.message(ticket, held["id"].as_i64().unwrap()).await;
    assert_eq!(message.body.as_deref(), Some(format!("Hi Ana, about ticket {ticket}").as_str()), "held as rendered");
    assert!(app.sim().received().is_empty(), "nothing free-form outside the window");
    app.stop().await;
}

/// A shared macro, one of Ana's own and one of Ben's own.
async fn three_macros(api: &Api<'_>, ana: i64, ben: i64) -> (i64, i64, i64) {
    let (status, shared) = api.post("/api/v1/macros", refund_macro()).await;
    assert_eq!(status, StatusCode::CREATED, "{shared}");
    let (_, own) = api
        .post(
            "/api/v1/macros",
            json!({"name": "Ask for the order number", "owner_agent_id": ana,
                   "actions": [{"type": "reply", "text": "Could you send me your order number, {{firstName || there}}?"},
                               {"type": "set_status", "status": "pending"}]}),
        )
        .await;
    let (_, other) = api
        .post(
            "/api/v1/macros",
            json!({"name": "Ben's greeting", "owner_agent_id": ben, "actions": [{"type": "reply", "text": "Ben here"}]}),
        )
        .await;
    (shared["id"].as_i64().unwrap(), own["id"].as_i64().unwrap(), other["id"].as_i64().unwrap())
}

/// The unescaped content of the element with `id`, up to the first `close` tag after it.
fn inner(page: &str, id: &str, close: &str) -> String {
    let tag = by_id(page, id).unwrap_or_else(|| panic!("no element with id {id:?}"));
    let rest = &page[tag.at..];
    let open = rest.find('>').unwrap() + 1;
    unescape(&rest[open..rest.find(close).unwrap_or(rest.len())])
}

fn option_shown(page: &str, macro_id: i64) -> Option<bool> {
    let list = section(page, "macro-list");
    let at = list.find(&format!("data-macro-id=\"{macro_id}\""))?;
    let li = list[..at].rfind("<li")?;
    Some(!list[li..at].contains(" hidden"))
}

async fn the_picker_lists_the_agents_macros_and_a_chosen_one_fills_the_composer_and_applies_on_send(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let api = Api::new(&app).await;
    let ana = add_agent(&app, "Ana Lima", "ana@example.com").await;
    let ben = add_agent(&app, "Ben Okafor", "ben@example.com").await;
    let (shared, own, bens) = three_macros(&api, ana.id, ben.id).await;
    app.sim().say(Say { name: Some("Rosa Jansen".into()), ..Say::text(CUSTOMER, "where is my refund?") }).await.unwrap();
    let ticket = app.only_ticket().await;
    let web = Web::sign_in(&app, "ana@example.com").await;

    // The shared macro and Ana's own; not Ben's. The shortcut is shown.
    let page = web.page(&format!("/tickets/{ticket}")).await;
    assert_eq!(option_shown(&page, shared), Some(true));
    assert_eq!(option_shown(&page, own), Some(true));
    assert_eq!(option_shown(&page, bens), None, "another agent's own macro is not listed");
    assert!(section(&page, "macros-summary").contains("<kbd>M</kbd>"), "the shortcut is shown");
    assert_eq!(by_id(&page, "reply-placeholders").map(|t| t.name), Some("p".to_owned()), "the composer says placeholders work");
    assert!(!by_id(&page, "macros").unwrap().has_attr("open"));
    // The search without script.
    let page = web.page(&format!("/tickets/{ticket}?macros=1&mq=REFUND")).await;
    assert!(by_id(&page, "macros").unwrap().has_attr("open"));
    assert_eq!((option_shown(&page, shared), option_shown(&page, own)), (Some(true), Some(false)));
    // Ben's macro is not Ana's to use.
    assert_eq!(web.get(&format!("/tickets/{ticket}/macros/{bens}/preview")).await.status, 404);

    // Chosen: the reply is rendered into the composer, and the other actions are listed.
    let text = format!("Hi Rosa, the refund for ticket {ticket} is on its way. Ana Lima");
    let page = web.page(&format!("/tickets/{ticket}?macro={shared}")).await;
    assert_eq!(inner(&page, "reply-body", "</textarea>"), text);
    let panel = section(&page, "macro-chosen");
    assert!(panel.contains("Status → <strong>solved</strong>") && panel.contains("refund") && panel.contains("Internal note"), "{panel}");
    assert!(panel.contains(&format!("Refund confirmed on ticket {ticket}")), "the note is rendered too: {panel}");
    let hidden = by_id(&page, "macro-chosen").unwrap();
    assert_eq!(hidden.attr("data-reply"), Some(text.as_str()));
    assert!(page.contains(&format!(r#"name="macro" value="{shared}" form="reply-form""#)), "the reply form carries the macro");
    // The same panel for the page's script.
    let fragment = web.page(&format!("/tickets/{ticket}/macros/{shared}/preview")).await;
    assert!(fragment.starts_with("<section") && fragment.contains("Status → <strong>solved</strong>"), "{fragment}");

    // Sent as reviewed: the edited reply goes, and the macro's other actions apply.
    let reviewed = format!("{text} Thanks for waiting, {{{{firstName}}}}!");
    let done =
        web.post(&format!("/tickets/{ticket}/reply"), &[("body", &reviewed), ("submit_as", "open"), ("macro", &shared.to_string())]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), format!("/tickets/{ticket}?done=macro_sent#thread"));
    let sent = format!("{text} Thanks for waiting, Rosa!");
    app.eventually("the reviewed reply at the simulator", || async {
        app.sim().received().iter().any(|m| m.text.as_deref() == Some(sent.as_str())).then_some(())
    })
    .await;
    let (_, t) = api.get(&format!("/api/v1/tickets/{ticket}")).await;
    assert_eq!((t["status"].as_str(), t["tags"].clone()), (Some("solved"), json!(["refund"])), "{t}");
    let page = web.page(&format!("/tickets/{ticket}?done=macro_sent")).await;
    assert!(inner(&page, "notice", "</p>").starts_with("Macro applied"), "{}", inner(&page, "notice", "</p>"));

    // "Send as pending" sets that status instead of the macro's.
    let done = web
        .post(&format!("/tickets/{ticket}/reply"), &[("body", "One more thing"), ("submit_as", "pending"), ("macro", &shared.to_string())])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let (_, t) = api.get(&format!("/api/v1/tickets/{ticket}")).await;
    assert_eq!(t["status"], "pending", "{t}");
    // Ben's macro cannot be applied by Ana either.
    let done = web.post(&format!("/tickets/{ticket}/reply"), &[("body", "x"), ("submit_as", "open"), ("macro", &bens.to_string())]).await;
    assert_eq!(done.status, 404, "{}", done.body);
    app.stop().await;
}

async fn with_the_window_closed_the_picker_says_what_the_reply_becomes_and_keeps_the_text_when_it_is_not_sent(backend: Backend) {
    let sent = now_secs() - 3600;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(sent + 10)));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    app.sync_templates().await;
    let api = Api::new(&app).await;
    add_agent(&app, "Ana Lima", "ana@example.com").await;
    app.sim().say(Say::text(CUSTOMER, "hello?").name("+49 151 12345678").at(sent)).await.unwrap();
    let ticket = app.only_ticket().await;
    clock.set(Timestamp::from_unix_seconds(sent).plus(Duration::from_secs(25 * 3600)));
    let (_, with_template) = api
        .post(
            "/api/v1/macros",
            json!({"name": "Follow up", "actions": [{"type": "reply", "text": "Any news, {{firstName || there}}?",
                   "when_closed": {"kind": "template", "name": "hello_world", "language": "en_US"}},
                   {"type": "add_tags", "tags": ["followed-up"]}]}),
        )
        .await;
    let (_, plain) =
        api.post("/api/v1/macros", json!({"name": "Plain", "actions": [{"type": "reply", "text": "Hello again, {{firstName || there}}"}, {"type": "add_tags", "tags": ["plain"]}]})).await;
    let web = Web::sign_in(&app, "ana@example.com").await;

    let page = web.page(&format!("/tickets/{ticket}?macro={}", with_template["id"])).await;
    let closed = by_id(&page, "macro-closed").unwrap();
    assert_eq!(closed.attr("data-goes"), Some("true"));
    assert!(inner(&page, "macro-closed", "</p>").contains("hello_world"), "{}", inner(&page, "macro-closed", "</p>"));
    let done = web.post(&format!("/tickets/{ticket}/macros/{}", with_template["id"]), &[]).await;
    assert_eq!((done.status, done.location()), (303, format!("/tickets/{ticket}?done=macro_template#thread").as_str()), "{}", done.body);
    app.eventually("the template at the simulator", || async { app.sim().received().iter().any(|m| m.kind == "template").then_some(()) })
        .await;

    // No way out named: the page says it plainly, names the ways out, and keeps the text for them.
    let page = web.page(&format!("/tickets/{ticket}?macro={}", plain["id"])).await;
    assert_eq!(by_id(&page, "macro-closed").unwrap().attr("data-goes"), Some("false"));
    assert!(inner(&page, "macro-closed", "</p>").contains("not be sent"));
    let done = web.post(&format!("/tickets/{ticket}/macros/{}", plain["id"]), &[]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let notice = inner(&done.body, "notice", "</p>");
    assert!(notice.contains("NOT sent") && notice.contains("Ways out: hold"), "{notice}");
    assert_eq!(inner(&done.body, "held-body", "</textarea>"), "Hello again, there", "the text is kept for the ways out");
    let (_, t) = api.get(&format!("/api/v1/tickets/{ticket}")).await;
    assert_eq!(t["tags"], json!(["followed-up", "plain"]), "the other actions applied: {t}");
    assert!(app.sim().received().iter().all(|m| m.kind == "template"), "no free-form send outside the window");
    app.stop().await;
}

async fn a_refused_placeholder_on_the_ticket_page_keeps_the_draft_and_names_the_token(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    add_agent(&app, "Ana Lima", "ana@example.com").await;
    app.sim().say(Say::text(CUSTOMER, "hello?")).await.unwrap();
    let ticket = app.only_ticket().await;
    let web = Web::sign_in(&app, "ana@example.com").await;
    let draft = "Thanks! Your ticket is {{ticket.idd}}";
    let done = web.post(&format!("/tickets/{ticket}/reply"), &[("body", draft), ("submit_as", "open")]).await;
    assert_eq!(done.status, 422, "{}", done.body);
    assert_eq!(inner(&done.body, "reply-body", "</textarea>"), draft, "the draft is kept");
    assert_eq!(by_id(&done.body, "reply-body").unwrap().attr("aria-invalid"), Some("true"));
    let problem = inner(&done.body, "reply-problem", "</p>");
    assert!(problem.starts_with("Not sent: body: unknown placeholder {{ticket.idd}} at character 24"), "{problem}");
    let done = web.post(&format!("/tickets/{ticket}/note"), &[("body", "ask {{agent.nam}}")]).await;
    assert_eq!(done.status, 422, "{}", done.body);
    assert_eq!(inner(&done.body, "note-body", "</textarea>"), "ask {{agent.nam}}", "the note's draft is kept");
    assert!(inner(&done.body, "note-problem", "</p>").contains("did you mean {{agent.name}}?"));
    // Rendered with the agent's own name.
    let done = web
        .post(
            &format!("/tickets/{ticket}/reply"),
            &[("body", "This is {{agent.first_name}} from ticket {{ticket.id}}"), ("submit_as", "open")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let text = format!("This is Ana from ticket {ticket}");
    app.eventually("the rendered reply", || async {
        app.sim().received().iter().any(|m| m.text.as_deref() == Some(text.as_str())).then_some(())
    })
    .await;
    assert!(hidden_input(&web.page(&format!("/tickets/{ticket}")).await, "csrf").is_some());
    app.stop().await;
}
