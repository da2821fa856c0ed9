//! Merging customers (issue 16 item 2, SPEC C2), on both backends: the same number writing to two
//! business numbers is suggested as a duplicate; the merge moves tickets, identities and notes in one
//! step and records it on both; each ticket still replies through its own number (the simulator sees
//! the right sender and recipient); an admin undoes it; a merge racing inbound messages for the same
//! contact loses nothing and duplicates nothing.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use common::api::Api;
use common::web::*;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;
use windowdesk_store::AgentRole;

on_both_backends!(
    the_same_number_on_two_business_numbers_merges_and_each_ticket_replies_through_its_own,
    a_merge_racing_inbound_messages_loses_and_duplicates_nothing,
);

const SAM: &str = "11231233211";
/// A second business number of the test desk.
const SECOND: &str = "106540352242922";

fn second_number(c: &mut windowdesk_sim::SimConfig) {
    let mut n = c.numbers[0].clone();
    n.phone_number_id = SECOND.into();
    n.display_number = "+1 555 000 2222".into();
    c.numbers.push(n);
}

fn say_to(pnid: &str, from: &str, body: &str) -> Say {
    let mut s = Say::text(from, body).name("Sam Seed");
    s.phone_number_id = Some(pnid.into());
    s
}

async fn requester(app: &TestApp, ticket: i64) -> i64 {
    app.store().ticket_summary(ticket).await.unwrap().unwrap().ticket.requester_id
}

async fn tickets_on(app: &TestApp, pnid: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for t in app.store().list_tickets(&windowdesk_store::TicketFilter { limit: 200, ..Default::default() }).await.unwrap() {
        if app.store().ticket_summary(t.id).await.unwrap().unwrap().phone_number_id == pnid {
            out.push(t.id);
        }
    }
    out
}

async fn the_same_number_on_two_business_numbers_merges_and_each_ticket_replies_through_its_own(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, second_number).await;
    app.sim().say(say_to(PNID, SAM, "Hi, about my order")).await.unwrap();
    app.sim().say(say_to(SECOND, SAM, "Hi again, on your other number")).await.unwrap();
    let first = app.eventually("the ticket on the first number", || async { tickets_on(&app, PNID).await.first().copied() }).await;
    let second = app.eventually("the ticket on the second number", || async { tickets_on(&app, SECOND).await.first().copied() }).await;
    let (a, b) = (requester(&app, first).await, requester(&app, second).await);
    assert_ne!(a, b, "one customer per identity until someone merges them");
    let api = Api::new(&app).await;
    let (_, note) = api.post(&format!("/api/v1/customers/{b}/notes"), json!({"body": "Asked for a refund."})).await;

    // Suggested as the same person, both ways.
    let (s, dups) = api.get(&format!("/api/v1/customers/{a}/duplicates")).await;
    assert_eq!(s, StatusCode::OK, "{dups}");
    assert_eq!(dups["data"], json!([{"customer_id": b, "name": "Sam Seed", "reason": "same_number", "value": SAM}]));
    assert_eq!(api.get(&format!("/api/v1/customers/{b}/duplicates")).await.1["data"][0]["customer_id"], a);

    // The page previews what moves, then merges.
    windowdesk_server::api::admin::create_agent(app.store().as_ref(), "Ana Lima", "ana@example.com", AgentRole::Admin, Some(PASSWORD))
        .await
        .unwrap();
    let web = Web::sign_in(&app, "ana@example.com").await;
    let page = web.page(&format!("/customers/{a}")).await;
    assert!(page.contains(&format!(r#"href="/customers/{a}/merge?source={b}""#)), "{page}");
    let preview = web.page(&format!("/customers/{a}/merge?source={b}")).await;
    assert!(preview.contains(r#"id="moves-tickets">1 ticket: <a href="/tickets/"#), "{preview}");
    assert!(preview.contains(r#"id="moves-notes">1 note"#) && preview.contains(&format!("on +1 555 {SECOND}")), "{preview}");
    assert_eq!(app.store().customer(a).await.unwrap().unwrap().ticket_count, 1, "a preview changes nothing");
    let merged = web.post(&format!("/customers/{a}/merge"), &[("source", &b.to_string())]).await;
    assert_eq!(merged.status, 303, "{}", merged.body);

    let (_, c) = api.get(&format!("/api/v1/customers/{a}")).await;
    assert_eq!((c["ticket_count"].as_i64(), c["identities"].as_array().unwrap().len()), (Some(2), 2), "{c}");
    assert_eq!(c["notes"][0]["id"], note["id"]);
    let (_, gone) = api.get(&format!("/api/v1/customers/{b}")).await;
    assert_eq!((gone["merged_into"].as_i64(), gone["ticket_count"].as_i64()), (Some(a), Some(0)), "{gone}");
    let (_, found) = api.get(&format!("/api/v1/search/customers?q={SAM}")).await;
    assert_eq!(found["data"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect::<Vec<_>>(), vec![a]);
    let events = app.store().ticket_events(second).await.unwrap();
    let event = events.iter().find(|e| e.kind == "customer_merged").expect("the moved ticket records the merge");
    assert_eq!((event.data["from"].as_i64(), event.data["into"].as_i64()), (Some(b), Some(a)));
    let (_, merges) = api.get(&format!("/api/v1/customers/{b}/merges")).await;
    let merge_id = merges["data"][0]["id"].as_i64().unwrap();
    assert_eq!(merges["data"][0]["ticket_ids"], json!([second]));
    assert!(web.page(&format!("/customers/{b}")).await.contains(r#"id="merged-into""#));

    // Each ticket replies through the number and identity it came in on.
    for (ticket, body) in [(first, "Answer on the first number"), (second, "Answer on the second number")] {
        let (s, r) = api.post(&format!("/api/v1/tickets/{ticket}/replies"), json!({"body": body})).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    }
    app.eventually("both replies at Meta", || async { (app.sim().received().len() == 2).then_some(()) }).await;
    let sent: Vec<(String, String, String)> =
        app.sim().received().into_iter().map(|m| (m.phone_number_id, m.to, m.text.unwrap_or_default())).collect();
    assert!(sent.contains(&(PNID.into(), SAM.into(), "Answer on the first number".into())), "{sent:?}");
    assert!(sent.contains(&(SECOND.into(), SAM.into(), "Answer on the second number".into())), "{sent:?}");

    // Refused merges.
    for (target, source, status) in [(a, b, StatusCode::CONFLICT), (a, a, StatusCode::CONFLICT), (a, 999_999, StatusCode::NOT_FOUND)] {
        let (s, e) = api.post(&format!("/api/v1/customers/{target}/merge"), json!({"source_id": source})).await;
        assert_eq!(s, status, "{target} <- {source}: {e}");
    }

    // Undone by an admin: everything goes back, the new ticket's events say so; only once.
    let agent =
        windowdesk_server::api::admin::create_agent(app.store().as_ref(), "Ben", "ben@example.com", AgentRole::Agent, Some(PASSWORD))
            .await
            .unwrap();
    let _ = agent;
    let ben = Web::sign_in(&app, "ben@example.com").await;
    assert_eq!(ben.post(&format!("/merges/{merge_id}/undo"), &[]).await.status, 403);
    let undone = web.post(&format!("/merges/{merge_id}/undo"), &[]).await;
    assert_eq!(undone.status, 303, "{}", undone.body);
    assert_eq!(requester(&app, second).await, b);
    assert_eq!(requester(&app, first).await, a);
    let (_, back) = api.get(&format!("/api/v1/customers/{b}")).await;
    assert_eq!(
        (back["merged_into"].clone(), back["ticket_count"].as_i64(), back["notes"].as_array().unwrap().len()),
        (Value::Null, Some(1), 1)
    );
    let (s, again) = api.post(&format!("/api/v1/merges/{merge_id}/undo"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{again}");
    assert!(app.store().ticket_events(second).await.unwrap().iter().any(|e| e.kind == "customer_unmerged"));
    app.stop().await;
}

/// A payload from `from` to the second business number.
fn text_to_second(wamid: &str, from: &str, ts: i64, body: &str) -> Value {
    let mut p = text(wamid, from, ts, body);
    p["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = json!(SECOND);
    p
}

async fn a_merge_racing_inbound_messages_loses_and_duplicates_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let now = now_secs();
    assert_eq!(app.post(&text("wamid.race.a", SAM, now - 60, "first number")).await, 200);
    assert_eq!(app.post(&text_to_second("wamid.race.b", SAM, now - 60, "second number")).await, 200);
    let tickets = app.store().list_tickets(&Default::default()).await.unwrap();
    assert_eq!(tickets.len(), 2);
    let contacts: Vec<i64> = {
        let mut v = Vec::new();
        for t in &tickets {
            v.push(requester(&app, t.id).await);
        }
        v
    };
    let (target, source) = (contacts[1], contacts[0]);
    // Twenty messages to the source's identity while the merge runs.
    let sends = (0..20).map(|i| {
        let app = &app;
        async move { app.post(&text_to_second(&format!("wamid.race.{i}"), SAM, now - 30 + i, &format!("message {i}"))).await }
    });
    let merge_path = format!("/api/v1/customers/{target}/merge");
    let merge = api.post(&merge_path, json!({"source_id": source}));
    let (statuses, (merged, body)) = tokio::join!(futures::future::join_all(sends), merge);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(merged, StatusCode::OK, "{body}");

    // Nothing is left with the source, nothing is lost, nothing is doubled.
    let gone = app.store().customer(source).await.unwrap().unwrap();
    assert_eq!((gone.identities.len(), gone.ticket_count, gone.merged_into), (0, 0, Some(target)));
    let kept = app.store().customer(target).await.unwrap().unwrap();
    let identities: Vec<i64> = kept.identities.iter().map(|i| i.id).collect();
    let all = app.store().customer_tickets(target, None, 100).await.unwrap();
    assert_eq!(all.len(), 2, "the messages joined the open ticket; no ticket was opened twice");
    for t in &all {
        assert!(identities.contains(&t.ticket.identity_id), "every ticket's identity is the customer's");
    }
    let mut bodies = Vec::new();
    for t in &all {
        bodies.extend(app.store().ticket_messages(t.ticket.id).await.unwrap().into_iter().filter_map(|m| m.body));
    }
    bodies.sort();
    let before = bodies.len();
    bodies.dedup();
    assert_eq!((before, bodies.len()), (22, 22), "every message once");
    app.stop().await;
}
