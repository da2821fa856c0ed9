//! Search over the API (issue 16 item 3, SPEC C3), on both backends: the seed's phone searches and
//! digits only find the customer of +1 (123) 123-3211; words are found with and without accents and
//! in any case; filters combine; a malformed query is refused naming `q`, the place and the reason.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use common::api::Api;
use common::web::text_as;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use windowdesk_store::testing::Backend;

on_both_backends!(
    the_seed_phone_searches_and_digits_only_find_the_customer,
    words_are_found_with_and_without_accents_with_snippets,
    filters_combine_and_a_malformed_query_is_refused,
    both_ticket_plans_page_through_the_same_tickets,
);

const SEED: &str = "11231233211";
const CAMILA: &str = "5511987654321";
const ROSA: &str = "4915112345678";

async fn three_customers(app: &TestApp) {
    let now = now_secs();
    assert_eq!(app.post(&text_as("wamid.s1", SEED, "Sam Seed", now - 300, "Hello, where is my order?")).await, 200);
    assert_eq!(
        app.post(&text_as("wamid.s2", CAMILA, "Camila Souza", now - 200, "Olá! Vocês entregam no SÁBADO? Preciso até sábado.")).await,
        200
    );
    assert_eq!(app.post(&text_as("wamid.s3", ROSA, "Rosa Jansen", now - 100, "Mein Paket ist seit einer Woche unterwegs.")).await, 200);
}

fn q(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn names(v: &Value) -> Vec<String> {
    let name = |c: &Value| c["name"].as_str().or(c["contact_name"].as_str()).or(c["requester"]["name"].as_str()).unwrap().to_owned();
    v["data"].as_array().unwrap().iter().map(name).collect()
}

async fn the_seed_phone_searches_and_digits_only_find_the_customer(backend: Backend) {
    let app = TestApp::start(backend).await;
    three_customers(&app).await;
    let api = Api::new(&app).await;
    for query in [r#"whatsapp:"3211""#, r#"whatsapp:"123)123-3""#, "11231233211", "1231233211", "+1 (123) 123-3211", "phone:233211"] {
        let (s, found) = api.get(&format!("/api/v1/search/customers?q={}", q(query))).await;
        assert_eq!(s, StatusCode::OK, "{query}: {found}");
        assert_eq!(names(&found), vec!["Sam Seed"], "{query}");
        let identity = &found["data"][0]["identities"][0];
        assert_eq!(identity["wa_id"], SEED);
        assert!(identity["wa_display"].as_str().unwrap().starts_with("+1 "), "{identity}");
        assert_eq!(found["data"][0]["tickets"], 1);
        let (_, tickets) = api.get(&format!("/api/v1/search/tickets?q={}", q(query))).await;
        assert_eq!(names(&tickets).len(), 1, "{query}: {tickets}");
        assert_eq!(tickets["data"][0]["requester"]["wa_id"], SEED, "{tickets}");
    }
    // Digits that no number holds, and a customer found by name.
    let (_, none) = api.get(&format!("/api/v1/search/customers?q={}", q(r#"whatsapp:"99999""#))).await;
    assert_eq!(none["data"], json!([]));
    let (_, by_name) = api.get("/api/v1/search/customers?q=camila").await;
    assert_eq!(names(&by_name), vec!["Camila Souza"]);
    // A national number with its trunk 0 finds the international one.
    let (_, national) = api.get(&format!("/api/v1/search/customers?q={}", q("015112345678"))).await;
    assert_eq!(names(&national), vec!["Rosa Jansen"]);
    app.stop().await;
}

async fn words_are_found_with_and_without_accents_with_snippets(backend: Backend) {
    let app = TestApp::start(backend).await;
    three_customers(&app).await;
    let api = Api::new(&app).await;
    for query in ["sabado", "sábado", "SABADO", "Sábado", "voces entregam"] {
        let (s, found) = api.get(&format!("/api/v1/search/messages?q={}", q(query))).await;
        assert_eq!(s, StatusCode::OK, "{query}: {found}");
        assert_eq!(names(&found), vec!["Camila Souza"], "{query}: {found}");
        let hits: Vec<&str> = found["data"][0]["snippet"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["hit"] == true)
            .map(|p| p["text"].as_str().unwrap())
            .collect();
        assert!(!hits.is_empty(), "{found}");
        let (_, tickets) = api.get(&format!("/api/v1/search/tickets?q={}", q(query))).await;
        assert_eq!(tickets["data"].as_array().unwrap().len(), 1, "{query}: {tickets}");
    }
    let (_, found) = api.get("/api/v1/search/messages?q=sabado").await;
    let hits: Vec<&str> =
        found["data"][0]["snippet"].as_array().unwrap().iter().filter(|p| p["hit"] == true).map(|p| p["text"].as_str().unwrap()).collect();
    assert_eq!(hits, vec!["SÁBADO", "sábado"]);
    // Every plan (for rare words, for common ones, and on PostgreSQL a walk that hands over to the
    // words' index after two tickets) finds the same tickets.
    let mut by_plan = Vec::new();
    for (threshold, walk) in [(i64::MAX, 1_000), (-1, 1_000), (-1, 2)] {
        windowdesk_store::testing::search_plans(threshold, walk);
        let mut found = Vec::new();
        for query in ["sabado", "paket", "order", "\"einer woche\"", "hello status:new"] {
            let (_, page) = api.get(&format!("/api/v1/search/tickets?q={}", q(query))).await;
            found.push(page["data"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect::<Vec<_>>());
        }
        by_plan.push(found);
    }
    windowdesk_store::testing::search_plans(20_000, 1_000);
    assert_eq!(by_plan[0], by_plan[1]);
    assert_eq!(by_plan[0], by_plan[2]);
    assert!(by_plan[0].iter().all(|ids| ids.len() == 1), "{:?}", by_plan[0]);
    // German, by a word; a phrase in order, and not out of order.
    let (_, paket) = api.get("/api/v1/search/messages?q=PAKET").await;
    assert_eq!(names(&paket), vec!["Rosa Jansen"]);
    let (_, phrase) = api.get(&format!("/api/v1/search/messages?q={}", q(r#""einer woche""#))).await;
    assert_eq!(names(&phrase), vec!["Rosa Jansen"]);
    let (_, reversed) = api.get(&format!("/api/v1/search/messages?q={}", q(r#""woche einer""#))).await;
    assert_eq!(reversed["data"], json!([]));
    // A word in a subject finds the ticket; a reply the agent sends is found too.
    let (_, subject) = api.get("/api/v1/search/tickets?q=order").await;
    assert_eq!(subject["data"].as_array().unwrap().len(), 1);
    let ticket = subject["data"][0]["id"].as_i64().unwrap();
    let (s, _) = api.post(&format!("/api/v1/tickets/{ticket}/replies"), json!({"body": "Your parcel leaves the warehouse today"})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, reply) = api.get("/api/v1/search/messages?q=warehouse").await;
    assert_eq!(reply["data"][0]["direction"], "outbound", "{reply}");
    assert_eq!(reply["data"][0]["ticket_id"], ticket);
    // Nothing in the query is FTS or tsquery syntax.
    for odd in [r#"NEAR(a b)"#, "x* & !y | z'", "\"", "²³", "-", "ο"] {
        let (s, body) = api.get(&format!("/api/v1/search/messages?q={}", q(odd))).await;
        assert!(s == StatusCode::OK || s == StatusCode::UNPROCESSABLE_ENTITY, "{odd}: {s} {body}");
    }
    app.stop().await;
}

async fn filters_combine_and_a_malformed_query_is_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    three_customers(&app).await;
    let api = Api::new(&app).await;
    let (_, agent) = api.post("/api/v1/agents", json!({"name": "Ana Lima", "email": "ana@example.com"})).await;
    let (_, rosa) = api.get("/api/v1/search/tickets?q=paket").await;
    let rosa = rosa["data"][0]["id"].as_i64().unwrap();
    let (s, _) =
        api.patch(&format!("/api/v1/tickets/{rosa}"), json!({"status": "pending", "assignee_id": agent["id"], "tags": ["vip"]})).await;
    assert_eq!(s, StatusCode::OK);
    let count = |v: &Value| v["data"].as_array().unwrap().len();
    let tickets = |query: &'static str| {
        let api = &api;
        async move {
            let (s, v) = api.get(&format!("/api/v1/search/tickets?q={}", q(query))).await;
            assert_eq!(s, StatusCode::OK, "{query}: {v}");
            count(&v)
        }
    };
    assert_eq!(tickets("status:new").await, 2);
    assert_eq!(tickets("status:pending,solved").await, 1);
    assert_eq!(tickets("assignee:none").await, 2);
    assert_eq!(tickets("assignee:ana@example.com").await, 1);
    assert_eq!(tickets("assignee:ana status:new").await, 0);
    assert_eq!(tickets("tag:VIP paket").await, 1);
    assert_eq!(tickets("tag:vip sabado").await, 0);
    assert_eq!(tickets("window:open").await, 3);
    assert_eq!(tickets("window:closed").await, 0);
    assert_eq!(tickets(&*format!("number:{PNID}").leak()).await, 3);
    assert_eq!(tickets(r#"status:new whatsapp:"3211""#).await, 1);
    // Paging: one at a time, newest first, to the end.
    let (_, first) = api.get("/api/v1/search/tickets?q=window:open&limit=2").await;
    assert_eq!(count(&first), 2);
    let next = first["next"].as_str().unwrap();
    let (_, second) = api.get(&format!("/api/v1/search/tickets?q=window:open&limit=2&before={next}")).await;
    assert_eq!((count(&second), second["next"].clone()), (1, Value::Null));

    for (query, says) in [
        ("status:opn", "at character 8: status: \"opn\" is not a status"),
        (r#"whatsapp:"12""#, "needs at least 3 digits"),
        ("colour:red", "colour: is not a filter"),
        ("say \"hello", "this quote is never closed"),
        ("assignee:me", "assignee:me needs a signed-in agent"),
        ("assignee:nobody-here", "no agent is called"),
        ("number:999", "this desk has no business number 999"),
        ("   ", "q: is empty"),
    ] {
        let (s, e) = api.get(&format!("/api/v1/search/tickets?q={}", q(query))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {e}");
        assert_eq!(e["error"]["details"]["field"], "q", "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(says), "{query}: {e}");
    }
    let (s, _) = api.get("/api/v1/search/tickets").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "q is required");
    app.stop().await;
}

/// The plans for ticket search (a rare word's messages lead to their tickets; for a common word,
/// tickets are walked newest first: on SQLite a batch at a time with each batch's messages asked of
/// the word's index by id ranges, on PostgreSQL up to a bound after which the words' index finds
/// the rest) page through the same tickets in the same order, with a filter too.
/// 230 tickets (more than one batch), the word in the first message of some, a later message of
/// others, and in an old ticket's message that arrives after every other ticket was opened.
async fn both_ticket_plans_page_through_the_same_tickets(backend: Backend) {
    let app = TestApp::start(backend).await;
    let start = now_secs() - 3600;
    let mut expected = Vec::new();
    for i in 0..230_i64 {
        let from = format!("55119000{i:05}");
        let first = if i % 3 == 0 { "o pedido atrasou" } else { "bom dia" };
        assert_eq!(app.post(&text(&format!("wamid.p{i}a"), &from, start + i, first)).await, 200);
        if i % 4 == 1 {
            assert_eq!(app.post(&text(&format!("wamid.p{i}b"), &from, start + 100 + i, "cadê meu PEDIDO?")).await, 200);
        }
        if i % 3 == 0 || i % 4 == 1 || i == 2 {
            expected.push(i);
        }
    }
    assert_eq!(app.post(&text("wamid.p2c", "5511900000002", start + 500, "e o pedido?")).await, 200);
    let api = Api::new(&app).await;
    let page_through = |query: &'static str| {
        let api = &api;
        async move {
            let mut ids = Vec::new();
            let mut before: Option<String> = None;
            loop {
                let cursor = before.take().map(|b| format!("&before={b}")).unwrap_or_default();
                let (s, page) = api.get(&format!("/api/v1/search/tickets?q={}&limit=5{cursor}", q(query))).await;
                assert_eq!(s, StatusCode::OK, "{page}");
                ids.extend(page["data"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()));
                match page["next"].as_str() {
                    Some(next) => before = Some(next.to_owned()),
                    None => return ids,
                }
            }
        }
    };
    let mut by_plan = Vec::new();
    for (threshold, walk) in [(i64::MAX, 1_000), (-1, 1_000), (-1, 7)] {
        windowdesk_store::testing::search_plans(threshold, walk);
        by_plan.push((page_through("pedido").await, page_through("pedido status:new").await));
    }
    windowdesk_store::testing::search_plans(20_000, 1_000);
    assert_eq!(by_plan[0], by_plan[1]);
    assert_eq!(by_plan[0], by_plan[2]);
    let (all, new) = &by_plan[0];
    assert_eq!(all.len(), expected.len(), "{all:?}");
    assert!(all.windows(2).all(|w| w[0] > w[1]), "newest first: {all:?}");
    assert_eq!(all, new, "every ticket is still new");
    app.stop().await;
}
