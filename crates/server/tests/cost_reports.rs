//! Cost reports end to end (issue 17 item 5), on both backends: a day of mixed traffic through the
//! simulator (which puts Meta's per-message `pricing` on its statuses) is settled and reported
//! with totals that match a computation by hand from the rate card in force, and the page's table,
//! its CSV export and the API say the same.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::collections::BTreeMap;

use common::api::Api;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use windowdesk_core::pricing::{Category, Decimal, MarketMap, RateBook, RateCard};
use windowdesk_store::testing::Backend;

on_both_backends!(a_day_of_mixed_traffic_is_reported_as_computed_by_hand, bad_report_parameters_are_refused_naming_them,);

const SMS_PRICE: &str = "0.0079";

async fn ticket_of(app: &TestApp, wa_id: &str) -> i64 {
    app.eventually("the customer's ticket", || async {
        let tickets = app.store().list_tickets(&windowdesk_store::TicketFilter::default()).await.unwrap();
        for t in tickets {
            let (_, identity) = app.store().ticket_with_identity(t.id).await.unwrap().unwrap();
            if identity.and_then(|i| i.wa_id).as_deref() == Some(wa_id) {
                return Some(t.id);
            }
        }
        None
    })
    .await
}

async fn send(api: &Api<'_>, path: String, body: Value) -> i64 {
    let (s, r) = api.post(&path, body).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{path}: {r}");
    r["id"].as_i64().unwrap()
}

fn template(name: &str, params: Value) -> Value {
    json!({"name": name, "language": "en_US", "parameters": {"body": params}})
}

/// The `<td>` texts of the page's table row `data-key="{key}"`.
fn row_cells(html: &str, key: &str) -> Vec<String> {
    let start = html.find(&format!("data-key=\"{key}\"")).unwrap_or_else(|| panic!("row {key} on the page"));
    let row = &html[start..start + html[start..].find("</tr>").unwrap()];
    let mut cells = Vec::new();
    let mut rest = row;
    while let Some(i) = rest.find("<td") {
        let open_end = i + rest[i..].find('>').unwrap() + 1;
        let close = open_end + rest[open_end..].find("</td>").unwrap();
        cells.push(rest[open_end..close].trim().to_owned());
        rest = &rest[close..];
    }
    cells
}

async fn a_day_of_mixed_traffic_is_reported_as_computed_by_hand(backend: Backend) {
    use common::web::{Web, PASSWORD};
    let app = TestApp::start_with_sim_and_config(backend, None, |_| {}, |c| c.sms.price_per_message = SMS_PRICE.into()).await;
    app.sync_templates().await;
    let api = Api::new(&app).await;
    let now = now_secs();
    // Five German customers: A writes now; B, C and E wrote 30 hours ago (their windows are
    // closed); D comes from an ad now.
    let (a, b, c, d, e) = ("4915110000001", "4915110000002", "4915110000003", "4915110000004", "4915110000005");
    let sim = app.sim();
    sim.say(windowdesk_sim::Say::text(a, "Hallo").name("Anna")).await.unwrap();
    sim.say(windowdesk_sim::Say::text(b, "Bestellung?").name("Ben").at(now - 30 * 3600)).await.unwrap();
    sim.say(windowdesk_sim::Say::text(c, "Rückruf bitte").name("Cem").at(now - 30 * 3600)).await.unwrap();
    sim.say(windowdesk_sim::Say::from_ad(d, "Ich komme von der Anzeige").name("Dora")).await.unwrap();
    sim.say(windowdesk_sim::Say::text(e, "Code?").name("Emil").at(now - 30 * 3600)).await.unwrap();
    let (ta, tb, tc, td, te) =
        (ticket_of(&app, a).await, ticket_of(&app, b).await, ticket_of(&app, c).await, ticket_of(&app, d).await, ticket_of(&app, e).await);

    // E: an authentication template Meta refuses: nothing is charged.
    sim.set_fault(windowdesk_sim::FaultPlan { count: Some(1), fault: windowdesk_sim::Fault::Error { code: 131_026, http_status: 400 } });
    let failed = send(&api, format!("/api/v1/tickets/{te}/templates"), template("login_code", json!({"1": "123456"}))).await;
    app.wait_for_state(te, failed, windowdesk_core::DeliveryState::Failed).await;
    // A: two service replies inside the window: free.
    send(&api, format!("/api/v1/tickets/{ta}/replies"), json!({"body": "Hallo Anna!"})).await;
    send(&api, format!("/api/v1/tickets/{ta}/replies"), json!({"body": "Wie können wir helfen?"})).await;
    // B: a marketing and a utility template outside the window: both charged at the card's price.
    send(&api, format!("/api/v1/tickets/{tb}/templates"), template("spring_sale", json!({"1": "Ben", "2": "SPRING"}))).await;
    send(&api, format!("/api/v1/tickets/{tb}/templates"), template("order_update", json!({"1": "Ben", "2": "#42"}))).await;
    // C: an SMS fallback at the provider's configured price.
    send(&api, format!("/api/v1/tickets/{tc}/sms"), json!({"body": "Wir rufen Sie morgen an."})).await;
    // D: the answer to an ad opens a free entry point; a marketing template inside it is free.
    let answer = send(&api, format!("/api/v1/tickets/{td}/replies"), json!({"body": "Willkommen, Dora!"})).await;
    app.eventually("the answer delivered", || async {
        let m = app.message(td, answer).await;
        matches!(m.delivery_state, Some(windowdesk_core::DeliveryState::Delivered | windowdesk_core::DeliveryState::Read)).then_some(())
    })
    .await;
    send(&api, format!("/api/v1/tickets/{td}/templates"), template("spring_sale", json!({"1": "Dora", "2": "WELCOME"}))).await;

    let tickets = [ta, tb, tc, td, te];
    app.eventually("every cost settled for good", || async {
        windowdesk_server::costs::settle_once(&app.running.state).await.unwrap();
        let mut n = 0;
        for t in tickets {
            let costs = app.store().ticket_costs(t).await.unwrap();
            if costs.iter().any(|c| !c.is_final) {
                return None;
            }
            n += costs.len();
        }
        (n == 8).then_some(())
    })
    .await;

    // By hand: the USD card in force today, Germany.
    let book = RateBook::new(RateCard::shipped(), MarketMap::shipped(), "USD");
    let today = windowdesk_core::pricing::report::day_of(windowdesk_core::Timestamp::from_unix_seconds(now));
    let card = book.card_on(today).unwrap();
    let germany = book.market_of(b, windowdesk_core::Timestamp::from_unix_seconds(now));
    let price = |c: &str| {
        card.price(
            &germany,
            &Category::known(match c {
                "marketing" => Category::MARKETING,
                _ => Category::UTILITY,
            }),
            1,
        )
        .unwrap()
        .0
    };
    let sms: Decimal = SMS_PRICE.parse().unwrap();
    let total = price("marketing") + price("utility") + sms;

    let (s, report) = api.get("/api/v1/reports/costs?group=category").await;
    assert_eq!(s, StatusCode::OK, "{report}");
    let t = &report["totals"][0];
    assert_eq!(t["currency"], "USD");
    assert_eq!(t["cost"].as_str().unwrap().parse::<Decimal>().unwrap(), total, "{report}");
    assert_eq!(
        (t["messages"].as_i64(), t["charged"].as_i64(), t["free"].as_i64(), t["not_delivered"].as_i64(), t["pending"].as_i64()),
        (Some(8), Some(3), Some(4), Some(1), Some(0)),
        "{t}"
    );
    let by_category: BTreeMap<String, (i64, String)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap().to_owned(), (r["messages"].as_i64().unwrap(), r["cost"].as_str().unwrap().to_owned())))
        .collect();
    let dec = |d: Decimal| d.normalize().to_string();
    // Meta's category wins: the free entry point's messages are `referral_conversion`.
    let want: BTreeMap<String, (i64, String)> = [
        ("authentication", (1, "0".to_owned())),
        ("marketing", (1, dec(price("marketing")))),
        ("referral_conversion", (2, "0".to_owned())),
        ("service", (2, "0".to_owned())),
        ("sms", (1, dec(sms))),
        ("utility", (1, dec(price("utility")))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(by_category, want, "{report}");

    // By day: today holds everything; by customer: five rows, Ben's the most expensive.
    let (_, by_day) = api.get("/api/v1/reports/costs?group=day").await;
    let today_row = by_day["rows"].as_array().unwrap().iter().find(|r| r["key"] == today.to_string()).unwrap();
    assert_eq!((today_row["messages"].as_i64(), today_row["cost"].as_str().unwrap().parse::<Decimal>().unwrap()), (Some(8), total));
    assert_eq!(by_day["rows"].as_array().unwrap().len(), 30, "every day of the default range, empty ones too");
    let (_, by_customer) = api.get("/api/v1/reports/costs?group=customer").await;
    assert_eq!(by_customer["rows"].as_array().unwrap().len(), 5);
    assert_eq!(by_customer["rows"][0]["label"], "Ben", "{by_customer}");

    // Cut to the two most expensive customers, the totals still cover all five.
    let q = windowdesk_server::reports::ReportParams { group: Some("customer".into()), ..Default::default() }.query(today).unwrap();
    let top_two = windowdesk_server::reports::build(&app.running.state, &q, 2).await.unwrap();
    assert_eq!((top_two.rows.len(), top_two.truncated), (2, true));
    assert_eq!((top_two.totals[0].messages, top_two.totals[0].cost), (8, total), "{:?}", top_two.totals);

    // The drill-down: the messages behind the marketing row.
    let (_, drill) = api.get("/api/v1/reports/costs/messages?group=category&row=marketing").await;
    let drill = drill["data"].as_array().unwrap();
    assert_eq!(drill.len(), 1);
    assert_eq!((drill[0]["ticket_id"].as_i64(), drill[0]["settled_by"].as_str()), (Some(tb), Some("meta")));
    let (_, all) = api.get("/api/v1/reports/costs/messages?limit=3").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 3);
    let (_, rest) = api.get(&format!("/api/v1/reports/costs/messages?limit=10&after={}", all["next"].as_str().unwrap())).await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 5, "the second page holds the rest");

    // The page shows the same table as the CSV export, and the CSV of messages has all 8.
    windowdesk_server::api::admin::create_agent(
        app.store().as_ref(),
        "Ada",
        "ada@example.com",
        windowdesk_store::AgentRole::Admin,
        Some(PASSWORD),
    )
    .await
    .unwrap();
    let web = Web::sign_in(&app, "ada@example.com").await;
    let html = web.page("/reports/costs?group=category").await;
    assert!(html.contains("<svg") && html.contains("data-table=\"report-table\""), "a chart pictures the table");
    let csv = web.get("/reports/costs.csv?group=category").await;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().next(), Some("category"));
    let mut rows = 0;
    for record in reader.records() {
        let record = record.unwrap();
        let cells = row_cells(&html, &record[0]);
        let from_csv: Vec<&str> = record.iter().skip(2).collect();
        let on_page: Vec<&str> = cells.iter().map(String::as_str).collect();
        assert_eq!(on_page.first().copied(), from_csv.first().copied(), "currency of {}", &record[0]);
        assert_eq!(&on_page[1..], &from_csv[1..], "row {} on the page and in the CSV", &record[0]);
        rows += 1;
    }
    assert_eq!(rows, 6 + 1, "six categories and the total");
    let api_csv = app
        .client
        .get(app.url("/api/v1/reports/costs/export?group=category"))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(api_csv, csv.body, "the API's export is the page's");
    let messages = web.get("/reports/costs/messages.csv").await;
    assert_eq!(messages.status, 200);
    assert_eq!(messages.body.lines().count(), 1 + 8, "{}", messages.body);
    let drill_page = web.page("/reports/costs/messages?group=category&row=marketing").await;
    assert!(drill_page.contains(&format!("/tickets/{tb}#m")), "{drill_page}");
    // /metrics: spend per number and category, adding up to the same total.
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let spend: Vec<(&str, Decimal)> = metrics
        .lines()
        .filter(|l| l.starts_with("windowdesk_message_spend_total{"))
        .map(|l| {
            let (labels, v) = l.rsplit_once(' ').unwrap();
            (labels, v.parse::<Decimal>().unwrap())
        })
        .collect();
    assert_eq!(spend.iter().map(|(_, v)| *v).sum::<Decimal>(), total, "{metrics}");
    let marketing = format!("windowdesk_message_spend_total{{number=\"{PNID}\",category=\"marketing\",currency=\"USD\"}}");
    assert_eq!(spend.iter().find(|(l, _)| *l == marketing).map(|(_, v)| *v), Some(price("marketing")), "{metrics}");
    assert!(
        metrics.contains(&format!("windowdesk_messages_settled_total{{number=\"{PNID}\",category=\"service\",currency=\"USD\"}} 2")),
        "{metrics}"
    );
    // The ticket: its total, what is free now and what the next message would cost.
    let (s, costs) = api.get(&format!("/api/v1/tickets/{tb}/costs")).await;
    assert_eq!(s, StatusCode::OK, "{costs}");
    assert_eq!(costs["totals"][0]["cost"].as_str().unwrap().parse::<Decimal>().unwrap(), price("marketing") + price("utility"));
    assert_eq!(costs["messages"].as_array().unwrap().len(), 2);
    assert!(costs["open"].as_array().unwrap().is_empty(), "Ben's window is closed: {costs}");
    let next: BTreeMap<&str, &str> =
        costs["next"].as_array().unwrap().iter().map(|n| (n["kind"].as_str().unwrap(), n["price"].as_str().unwrap())).collect();
    assert_eq!(
        next.get("marketing_template").copied(),
        Some(format!("{} USD, marketing template, {germany}", dec(price("marketing"))).as_str())
    );
    assert!(!next.contains_key("reply"), "no free-form reply while the window is closed: {costs}");
    assert_eq!(next.get("sms").copied(), Some("0.0079 USD, SMS"));
    let (_, dora) = api.get(&format!("/api/v1/tickets/{td}/costs")).await;
    let kinds: Vec<&str> = dora["open"].as_array().unwrap().iter().map(|w| w["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"customer_service_window") && kinds.contains(&"free_entry_point") && kinds.contains(&"conversation"), "{dora}");
    assert!(
        dora["next"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] != "sms")
            .all(|n| n["price"] == "free: inside the free entry point window"),
        "{dora}"
    );
    let ticket_page = web.page(&format!("/tickets/{tb}")).await;
    let total = format!("{} USD", (price("marketing") + price("utility")).normalize());
    assert!(ticket_page.contains(&total), "the ticket page shows its total {total}");
    assert!(ticket_page.contains(&format!("/reports/costs/messages?ticket={tb}")));
    // Agents who are not admins do not see what the desk spends.
    common::web::add_agent(&app, "Ana", "ana@example.com").await;
    let agent = Web::sign_in(&app, "ana@example.com").await;
    assert_eq!(agent.get("/reports/costs").await.status, 403);

    // Emil's refused template, sent again as it is: out of "not delivered" (the daily roll-up
    // takes it out as it stops being final) and, once delivered, charged at the card's price.
    let (s, r) = api.post(&format!("/api/v1/deliveries/{failed}/resend"), json!({"as": "as_is"})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let authentication = card.price(&germany, &Category::known(Category::AUTHENTICATION), 1).unwrap().0;
    app.eventually("the resent template settled as charged", || async {
        windowdesk_server::costs::settle_once(&app.running.state).await.unwrap();
        let c = app.store().ticket_costs(te).await.unwrap();
        (c.len() == 1 && c[0].is_final && c[0].amount_micros.is_some_and(|a| a > 0)).then_some(())
    })
    .await;
    let totals = |report: &Value| {
        let t = &report["totals"][0];
        (
            t["messages"].as_i64(),
            t["charged"].as_i64(),
            t["not_delivered"].as_i64(),
            t["cost"].as_str().unwrap().parse::<Decimal>().unwrap(),
        )
    };
    let want = (Some(8), Some(4), Some(0), price("marketing") + price("utility") + sms + authentication);
    // By day and category from the roll-up; by ticket from every cost: the same.
    for group in ["day", "category", "month", "number", "agent", "ticket", "customer"] {
        let (_, report) = api.get(&format!("/api/v1/reports/costs?group={group}")).await;
        assert_eq!(totals(&report), want, "by {group}: {report}");
        let rows: Decimal =
            report["rows"].as_array().unwrap().iter().map(|r| r["cost"].as_str().unwrap().parse::<Decimal>().unwrap()).sum();
        assert_eq!(rows, want.3, "the rows by {group} add up to the total");
    }
    let (_, mine) = api.get("/api/v1/reports/costs?group=category&category=authentication").await;
    assert_eq!(totals(&mine), (Some(1), Some(1), Some(0), authentication), "{mine}");
    app.stop().await;
}

async fn bad_report_parameters_are_refused_naming_them(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    for (query, field) in [
        ("group=weekly", "group"),
        ("from=2026-13-01", "from"),
        ("from=2026-12-08&to=2026-12-01", "from"),
        ("from=2020-01-01&to=2026-01-01", "from"),
        ("number=first", "number"),
        ("channel=fax", "channel"),
    ] {
        let (s, body) = api.get(&format!("/api/v1/reports/costs?{query}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["error"]["details"]["field"], field, "{query}: {body}");
    }
    let (s, body) = api.get("/api/v1/reports/costs/messages?after=yesterday").await;
    assert_eq!((s, body["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("after")));
    let (s, body) = api.get("/api/v1/reports/costs/messages?limit=0").await;
    assert_eq!((s, body["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("limit")));
    // An empty desk reports zeros, not an error.
    let (s, body) = api.get("/api/v1/reports/costs?group=month").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["totals"][0]["messages"], 0, "{body}");
    app.stop().await;
}
