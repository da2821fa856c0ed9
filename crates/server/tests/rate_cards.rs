//! Rate cards (issue 17 item 1), on both backends: the desk starts with the cards it ships, says
//! which is in force; cards are exported and imported as CSV (a taken name refused unless replaced,
//! a bad row refused naming its line and column), deleted for good, and a deleted shipped card is
//! not seeded again.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::Value;
use windowdesk_core::pricing::RateCard;
use windowdesk_store::testing::Backend;

on_both_backends!(
    rate_cards_are_shipped_imported_exported_and_deleted,
    the_rate_cards_page_imports_exports_and_deletes,
    every_outbound_message_is_stored_with_its_estimate,
    a_failed_message_costs_nothing_and_is_charged_again_when_resent,
    the_month_s_volume_and_meta_s_tier_update_lower_the_utility_price,
);

async fn import(api: &Api<'_>, csv: &str, query: &str, content_type: &str) -> (StatusCode, Value) {
    let resp = api
        .app
        .client
        .post(api.app.url(&format!("/api/v1/rate-cards{query}")))
        .bearer_auth(&api.token)
        .header("content-type", content_type)
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn export(api: &Api<'_>) -> String {
    let resp = api.app.client.get(api.app.url("/api/v1/rate-cards/export")).bearer_auth(&api.token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    resp.text().await.unwrap()
}

fn names(list: &Value) -> Vec<&str> {
    list["data"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect()
}

const HEADER: &str =
    "card,effective_from,currency,model,utility_free_in_window,free_entry_point_free,market,category,price,volume_from,source";

async fn rate_cards_are_shipped_imported_exported_and_deleted(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;

    // The shipped cards, oldest first; in USD (the default currency) the 2026-01-01 card is in force today.
    let (s, list) = api.get("/api/v1/rate-cards").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let shipped = RateCard::shipped();
    assert_eq!(names(&list).len(), shipped.len());
    let in_force: Vec<(&str, bool)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["in_force"] == true)
        .map(|c| (c["name"].as_str().unwrap(), c["desk_currency"].as_bool().unwrap()))
        .collect();
    assert!(in_force.contains(&("Meta USD 2026-01-01", true)), "{in_force:?}");
    assert!(in_force.contains(&("Meta EUR 2026-07-01", false)), "each currency has its card in force: {in_force:?}");
    let usd = list["data"].as_array().unwrap().iter().find(|c| c["name"] == "Meta USD 2026-01-01").unwrap();
    let (s, detail) = api.get(&format!("/api/v1/rate-cards/{}", usd["id"])).await;
    assert_eq!(s, StatusCode::OK);
    let germany = detail["rates"].as_array().unwrap().iter().find(|r| r["market"] == "Germany" && r["category"] == "marketing").unwrap();
    assert_eq!((germany["price"].as_str(), germany["volume_from"].as_u64()), (Some("0.1365"), Some(1)));
    assert!(germany["source"].as_str().unwrap().contains("2026-01-01"));

    // The export reads back as the stored cards.
    let csv = export(&api).await;
    let read = RateCard::from_csv(&csv).unwrap();
    assert_eq!(read.len(), shipped.len());
    assert_eq!(read.iter().map(|c| c.rates.len()).sum::<usize>(), shipped.iter().map(|c| c.rates.len()).sum::<usize>());

    // Importing a taken name is refused whole; with replace it replaces that card.
    let (s, body) = import(&api, &csv, "", "text/csv").await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("exists"), "{body}");
    let changed = format!("{HEADER}\nMeta USD 2026-01-01,2026-01-01,USD,PMP,true,true,Germany,marketing,0.2,,test\n");
    let (s, body) = import(&api, &changed, "?replace=true", "text/csv").await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"][0]["id"], usd["id"], "the same card, replaced");
    assert_eq!(body["data"][0]["prices"], 1);

    // A new card from a later date is in force from then: a card of October 2026 is in force today.
    let october = format!(
        "{HEADER}\nMy USD 2026-10-01,2026-10-01,USD,PMP,false,true,Germany,utility,0.05,,Meta CSV\n\
         My USD 2026-10-01,2026-10-01,USD,PMP,false,true,Germany,utility,0.045,100001,Meta tier CSV\n"
    );
    let (s, body) = import(&api, &october, "", "text/csv; charset=utf-8").await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!((body["data"][0]["in_force"].as_bool(), body["data"][0]["shipped"].as_bool()), (Some(true), Some(false)));
    let (_, list) = api.get("/api/v1/rate-cards").await;
    let usd_in_force: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["in_force"] == true && c["currency"] == "USD")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(usd_in_force, ["My USD 2026-10-01"]);

    // Bad input: the line and column at fault; nothing is stored.
    let (s, body) = import(&api, &format!("{HEADER}\nBad,2026-10-01,USD,PMP,true,true,Germany,utility,0,06,,\n"), "", "text/csv").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("csv: line 2: the row cannot be read"), "an unquoted decimal comma makes a field too many: {message}");
    let (s, body) = import(&api, &format!("{HEADER}\nBad,2026-10-01,USD,PMP,true,true,Germany,utility,\"0,06\",,\n"), "", "text/csv").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["message"], "csv: line 2: price: \"0,06\" is not a number like 0.0625");
    let (s, _) = import(&api, &october, "", "application/json").await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (_, after) = api.get("/api/v1/rate-cards").await;
    assert_eq!(names(&after), names(&list), "nothing was stored by the refused imports");

    // Deleting a shipped card is for good: seeding again does not bring it back.
    let eur = list["data"].as_array().unwrap().iter().find(|c| c["name"] == "Meta EUR 2026-07-01").unwrap();
    assert_eq!(api.delete(&format!("/api/v1/rate-cards/{}", eur["id"])).await, StatusCode::NO_CONTENT);
    assert_eq!(api.delete(&format!("/api/v1/rate-cards/{}", eur["id"])).await, StatusCode::NOT_FOUND);
    let added = app.store().seed_rate_cards(&shipped, windowdesk_core::Timestamp::from_unix_seconds(0)).await.unwrap();
    assert_eq!(added, 0);
    let (_, list) = api.get("/api/v1/rate-cards").await;
    assert!(!names(&list).contains(&"Meta EUR 2026-07-01"));
    app.stop().await;
}

/// The admin page: the cards with the one in force, a card's prices, import from a file (a bad one
/// refused naming the line and column, nothing stored), export, delete; agents who are not admins
/// are kept out.
async fn the_rate_cards_page_imports_exports_and_deletes(backend: Backend) {
    use common::web::{add_agent, Web, PASSWORD};
    let app = TestApp::start(backend).await;
    windowdesk_server::api::admin::create_agent(
        app.store().as_ref(),
        "Ada",
        "ada@example.com",
        windowdesk_store::AgentRole::Admin,
        Some(PASSWORD),
    )
    .await
    .unwrap();
    add_agent(&app, "Ana", "ana@example.com").await;
    let web = Web::sign_in(&app, "ada@example.com").await;
    let page = web.page("/admin/rate-cards").await;
    assert!(page.contains("Meta USD 2026-01-01") && page.contains("in force"), "{page}");
    let id = app.store().rate_cards().await.unwrap().iter().find(|r| r.card.name == "Meta USD 2026-01-01").unwrap().id;
    let card = web.page(&format!("/admin/rate-cards/{id}")).await;
    assert!(card.contains("0.1365 USD"), "Germany's marketing price: {card}");

    let bad = format!("{HEADER}\nMine,2026-11-01,USD,PMP,true,true,Germany,utility,abc,,\n");
    let refused = web.post_multipart("/admin/rate-cards/import", &[], Some(("mine.csv", "text/csv", &bad))).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("Nothing was imported: line 2: price: &quot;abc&quot; is not a number like 0.0625"), "{}", refused.body);
    let good = format!("{HEADER}\nMine,2026-11-01,USD,PMP,true,true,Germany,utility,0.05,,\n");
    let imported = web.post_multipart("/admin/rate-cards/import", &[], Some(("mine.csv", "text/csv", &good))).await;
    assert_eq!(imported.status, 200, "{}", imported.body);
    assert!(imported.body.contains("1 card(s) imported."));
    let again = web.post_multipart("/admin/rate-cards/import", &[], Some(("mine.csv", "text/csv", &good))).await;
    assert_eq!(again.status, 409, "{}", again.body);
    let replaced = web.post_multipart("/admin/rate-cards/import", &[("replace", "true")], Some(("mine.csv", "text/csv", &good))).await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);

    let export = web.get("/admin/rate-cards/export").await;
    assert_eq!(export.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(RateCard::from_csv(&export.body).unwrap().iter().any(|c| c.name == "Mine"));

    let mine = app.store().rate_cards().await.unwrap().iter().find(|r| r.card.name == "Mine").unwrap().id;
    let deleted = web.post(&format!("/admin/rate-cards/{mine}/delete"), &[]).await;
    assert_eq!((deleted.status, deleted.location()), (303, "/admin/rate-cards?done=deleted"));
    assert!(!app.store().rate_cards().await.unwrap().iter().any(|r| r.card.name == "Mine"));

    let agent = Web::sign_in(&app, "ana@example.com").await;
    assert_eq!(agent.get("/admin/rate-cards").await.status, 403);
    assert_eq!(agent.post(&format!("/admin/rate-cards/{id}/delete"), &[]).await.status, 403);
    app.stop().await;
}

/// SPEC 11, issue 17 item 3: each message the desk sends is stored with the send decision's estimate
/// (category, market, currency, amount in millionths, the card, why it is free): a reply inside the
/// window free, a template after the window closed at the shipped card's price for the customer's
/// market.
async fn every_outbound_message_is_stored_with_its_estimate(backend: Backend) {
    let customer = "4915112345678";
    let sent = now_secs() - 3600;
    let clock = std::sync::Arc::new(windowdesk_core::ManualClock::new(windowdesk_core::Timestamp::from_unix_seconds(sent + 10)));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    app.sync_templates().await;
    let api = Api::new(&app).await;
    app.sim().say(windowdesk_sim::Say::text(customer, "Wo ist mein Paket?").at(sent)).await.unwrap();
    let ticket = app
        .eventually("the ticket", || async {
            app.store().list_tickets(&windowdesk_store::TicketFilter::default()).await.unwrap().first().map(|t| t.id)
        })
        .await;
    let (s, r) = api.post(&format!("/api/v1/tickets/{ticket}/replies"), serde_json::json!({"body": "Heute unterwegs."})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let reply_id = r["id"].as_i64().unwrap();
    // Delivered while the window is open (moving the desk's clock past it first would stop the send).
    app.eventually("the reply delivered", || async {
        let messages = app.store().ticket_messages(ticket).await.unwrap();
        messages
            .iter()
            .find(|m| {
                m.id == reply_id
                    && matches!(m.delivery_state, Some(windowdesk_core::DeliveryState::Delivered | windowdesk_core::DeliveryState::Read))
            })
            .map(|_| ())
    })
    .await;
    clock.set(windowdesk_core::Timestamp::from_unix_seconds(sent + 25 * 3600));
    let (s, r) = api
        .post(
            &format!("/api/v1/tickets/{ticket}/templates"),
            serde_json::json!({"name": "order_update", "language": "en_US", "parameters": {"body": {"1": "Rosa", "2": "#1"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let costs = app.store().ticket_costs(ticket).await.unwrap();
    assert_eq!(costs.len(), 2, "{costs:?}");
    let book = windowdesk_core::pricing::RateBook::new(RateCard::shipped(), windowdesk_core::pricing::MarketMap::shipped(), "USD");
    let at = windowdesk_core::Timestamp::from_unix_seconds(sent + 25 * 3600);
    let card = book.card_on(windowdesk_core::pricing::quote::day(at)).unwrap();
    let (reply, template) = (&costs[0], &costs[1]);
    assert_eq!(
        (reply.channel.as_str(), reply.category.as_str(), reply.estimate_micros, reply.free_because.as_deref()),
        ("whatsapp", "service", Some(0), Some("customer_service_window"))
    );
    assert_eq!((reply.market.as_deref(), reply.currency.as_deref()), (Some("Germany"), Some("USD")));
    assert_eq!(reply.author, api.actor());
    let market = book.market_of(customer, at);
    let (price, _) = card.price(&market, &windowdesk_core::pricing::Category::known("utility"), 1).unwrap();
    assert_eq!(template.category, "utility");
    assert_eq!(template.estimate_micros, windowdesk_core::pricing::to_micros(price), "{template:?}");
    assert_eq!((template.free_because.as_deref(), template.card.as_deref()), (None, Some(card.name.as_str())));
    assert!(costs.iter().all(|c| !c.is_final && c.amount_micros.is_none()), "settled only once Meta says so");
    // The simulator delivers both with Meta's per-message pricing. Its clock is the real one, in
    // which the customer wrote an hour ago: to Meta the utility template went out inside the
    // window, so it was free (`free_customer_service`), and Meta's type wins over the estimate.
    let settled = app
        .eventually("both costs settled", || async {
            windowdesk_server::costs::settle_once(&app.running.state).await.unwrap();
            let costs = app.store().ticket_costs(ticket).await.unwrap();
            costs.iter().all(|c| c.is_final).then_some(costs)
        })
        .await;
    let (reply, template) = (&settled[0], &settled[1]);
    assert_eq!(
        (reply.charged_category.as_deref(), reply.amount_micros, reply.settled_by.as_deref()),
        (Some("service"), Some(0), Some("meta"))
    );
    assert_eq!(
        (template.charged_category.as_deref(), template.amount_micros, template.settled_by.as_deref()),
        (Some("utility"), Some(0), Some("meta")),
        "{template:?}"
    );
    assert!(template.estimate_micros.unwrap() > 0, "the estimate is kept beside what was charged");
    app.stop().await;
}

/// A failed message costs nothing (settled for good at 0); sent again as it was, it is settled again
/// from what happens to it then: delivered, it is charged at the card's price for Meta's category.
async fn a_failed_message_costs_nothing_and_is_charged_again_when_resent(backend: Backend) {
    let customer = "4915112345679";
    let clock = std::sync::Arc::new(windowdesk_core::ManualClock::new(windowdesk_core::Timestamp::from_unix_seconds(now_secs())));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    app.sync_templates().await;
    app.sim().say(windowdesk_sim::Say::text(customer, "Code bitte")).await.unwrap();
    let ticket = app
        .eventually("the ticket", || async {
            app.store().list_tickets(&windowdesk_store::TicketFilter::default()).await.unwrap().first().map(|t| t.id)
        })
        .await;
    app.sim()
        .set_fault(windowdesk_sim::FaultPlan { count: Some(1), fault: windowdesk_sim::Fault::Error { code: 131_026, http_status: 400 } });
    let api = Api::new(&app).await;
    let (s, r) = api
        .post(
            &format!("/api/v1/tickets/{ticket}/templates"),
            serde_json::json!({"name": "login_code", "language": "en_US", "parameters": {"body": {"1": "123456"}}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let id = r["id"].as_i64().unwrap();
    app.wait_for_state(ticket, id, windowdesk_core::DeliveryState::Failed).await;
    let settle = |want_final_by: &'static str| {
        let app = &app;
        async move {
            app.eventually("the cost settled", || async {
                windowdesk_server::costs::settle_once(&app.running.state).await.unwrap();
                let costs = app.store().ticket_costs(ticket).await.unwrap();
                costs.into_iter().find(|c| c.message_id == id && c.is_final && c.settled_by.as_deref() == Some(want_final_by))
            })
            .await
        }
    };
    let failed = settle("not_delivered").await;
    assert_eq!(failed.amount_micros, Some(0));
    // Sent again 32 days later (past the 31 days after which an undelivered message is given up
    // on): it is charged as what happens to it now, not settled as stale.
    clock.advance(std::time::Duration::from_secs(32 * 86_400));
    windowdesk_server::deliveries::resend(&app.running.state, id, windowdesk_server::deliveries::ResendAs::AsIs, "agent:1").await.unwrap();
    let charged = settle("meta").await;
    let book = windowdesk_core::pricing::RateBook::new(RateCard::shipped(), windowdesk_core::pricing::MarketMap::shipped(), "USD");
    let card = book.card_on(windowdesk_core::pricing::quote::day(charged.at)).unwrap();
    let (price, _) =
        card.price(&book.market_of(customer, charged.at), &windowdesk_core::pricing::Category::known("authentication"), 1).unwrap();
    assert_eq!(charged.charged_category.as_deref(), Some("authentication"));
    assert_eq!(charged.amount_micros, windowdesk_core::pricing::to_micros(price), "{charged:?}");
    app.stop().await;
}

/// Volume tiers (issue 17 item 3): each charged utility template counts in the account's month for
/// the customer's market; the third is priced at the card's second tier, and Meta's
/// VOLUME_BASED_PRICING_TIER_UPDATE moves the next one to the tier it names.
async fn the_month_s_volume_and_meta_s_tier_update_lower_the_utility_price(backend: Backend) {
    let customer = "4915112345670";
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    app.sync_templates().await;
    let api = Api::new(&app).await;
    let today = chrono::Utc::now().date_naive();
    let card = format!(
        "{HEADER}\nTiers,{today},USD,PMP,true,true,Germany,utility,0.05,,test\n\
         Tiers,{today},USD,PMP,true,true,Germany,utility,0.04,3,test\n\
         Tiers,{today},USD,PMP,true,true,Germany,utility,0.03,1000001,test\n"
    );
    let (s, body) = import(&api, &card, "", "text/csv").await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    // The customer wrote 30 hours ago: the window is closed, so utility templates are charged.
    app.sim().say(windowdesk_sim::Say::text(customer, "Lieferung?").at(now_secs() - 30 * 3600)).await.unwrap();
    let ticket =
        app.eventually("the ticket", || async { app.store().list_tickets(&Default::default()).await.unwrap().first().map(|t| t.id) }).await;
    let utility_price = |w: &Value| -> String {
        let t = w["actions"].as_array().unwrap().iter().find(|a| a["kind"] == "template" && a["name"] == "order_update").cloned();
        t.unwrap_or_else(|| panic!("order_update is offered: {w}"))["amount"].as_str().unwrap().to_owned()
    };
    let mut charged = Vec::new();
    for expected in ["0.05", "0.05", "0.04"] {
        let (_, w) = api.get(&format!("/api/v1/tickets/{ticket}/window")).await;
        assert_eq!(utility_price(&w), expected, "estimate before message {}", charged.len() + 1);
        let (s, r) = api
            .post(
                &format!("/api/v1/tickets/{ticket}/templates"),
                serde_json::json!({"name": "order_update", "language": "en_US", "parameters": {"body": {"1": "Rosa", "2": "#1"}}}),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{r}");
        let id = r["id"].as_i64().unwrap();
        let cost = app
            .eventually("the template delivered and settled", || async {
                windowdesk_server::costs::settle_once(&app.running.state).await.unwrap();
                app.store().ticket_costs(ticket).await.unwrap().into_iter().find(|c| c.message_id == id && c.is_final)
            })
            .await;
        assert_eq!((cost.charged_category.as_deref(), cost.settled_by.as_deref()), (Some("utility"), Some("meta")), "{cost:?}");
        charged.push(cost.amount_micros.unwrap());
    }
    assert_eq!(charged, vec![50_000, 50_000, 40_000], "the third is in the second tier");
    // Meta says the account reached the tier from 1,000,001 in Germany this month.
    let month = today.format("%Y-%m").to_string();
    let update = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "time": now_secs(), "changes": [
        {"field": "account_update", "value": {"event": "VOLUME_BASED_PRICING_TIER_UPDATE", "volume_tier_info": {
            "tier_update_time": now_secs(), "pricing_category": "UTILITY", "tier": "1000001:2000000",
            "effective_month": month, "region": "Germany"}}}]}]});
    assert_eq!(app.post(&update).await, 200);
    let (_, w) = api.get(&format!("/api/v1/tickets/{ticket}/window")).await;
    assert_eq!(utility_price(&w), "0.03", "Meta's tier is ahead of the desk's count: {w}");
    app.stop().await;
}
