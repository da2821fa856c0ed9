//! The data generator (issue 16 item 4), on both backends: a small plan writes customers on every
//! business number (some on two), tickets closed between rounds and spread over statuses at the end,
//! messages in several languages that search finds, and completed pictures; the same seed writes the
//! same amount.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use common::*;
use windowdesk_server::generate::{run, Plan};
use windowdesk_store::testing::Backend;

on_both_backends!(
    a_small_plan_writes_realistic_customers_tickets_and_messages,
    navigation_counts_stop_at_999_plus,
    history_sets_off_no_trigger,
);

async fn a_small_plan_writes_realistic_customers_tickets_and_messages(backend: Backend) {
    let app = TestApp::start(backend).await;
    let state = &app.running.state;
    let plan = Plan { customers: 60, seed: 7, picture_percent: 10, second_number_percent: 20, ..Plan::default() };
    let mut progressed = 0;
    let report =
        run(app.store().as_ref(), &state.numbers, &state.media_dir, &plan, state.clock.now(), |r| progressed = r.customers).await.unwrap();
    assert_eq!((report.customers, progressed), (60, 60));
    assert!(report.messages >= 60 * 2 && report.pictures > 0, "{report:?}");

    let tickets = app.store().list_tickets(&windowdesk_store::TicketFilter { limit: 1000, ..Default::default() }).await.unwrap();
    assert!(tickets.len() >= 120, "two tickets per customer and number: {}", tickets.len());
    let statuses: std::collections::BTreeSet<&str> = tickets.iter().map(|t| t.status.as_str()).collect();
    assert!(statuses.contains("closed") && statuses.len() >= 4, "{statuses:?}");
    let mut messages = 0;
    for t in &tickets {
        messages += app.store().ticket_messages(t.id).await.unwrap().len();
    }
    assert_eq!(messages as u64, report.messages, "every generated message is in a thread");

    // Several numbers, some customers on two of them (likely duplicates), pictures stored.
    let numbers: std::collections::BTreeSet<i64> = tickets.iter().map(|t| t.business_number_id).collect();
    assert!(numbers.len() >= 2);
    let mut doubles = 0;
    for t in tickets.iter().take(40) {
        let contact = app.store().ticket_summary(t.id).await.unwrap().unwrap().ticket.requester_id;
        doubles += app.store().duplicate_suggestions(contact).await.unwrap().len();
    }
    assert!(doubles > 0, "a customer on two numbers is suggested as a duplicate");
    let jobs = app.store().media_jobs().await.unwrap();
    assert!(!jobs.is_empty() && jobs.iter().all(|j| j.state == "done"), "{jobs:?}");

    // Search finds generated words.
    let search = windowdesk_server::search::resolve(state, "paket", None, None, 50).await.unwrap();
    assert!(!app.store().search_messages(&search).await.unwrap().is_empty());

    // Every business answer has a settled cost; some were charged, and a cost report sums them.
    assert!(report.costs > 0 && report.costs_charged > 0 && report.costs_charged < report.costs, "{report:?}");
    assert!(app.store().uncosted_messages(0, 10).await.unwrap().is_empty(), "no outbound message is left without a cost");
    let today = windowdesk_core::pricing::report::day_of(state.clock.now());
    let q = windowdesk_core::pricing::report::ReportQuery {
        range: windowdesk_core::pricing::report::DayRange { from: today - chrono::Duration::days(399), to: today },
        group: windowdesk_core::pricing::report::Grouping::Category,
        business_number_id: None,
        category: None,
        author: None,
        ticket_id: None,
        contact_id: None,
        channel: None,
    };
    let rows = app.store().cost_report(&q, 100, false).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.messages).sum::<i64>() as u64, report.costs, "{rows:?}");
    assert_eq!(rows.iter().map(|r| r.charged).sum::<i64>() as u64, report.costs_charged, "{rows:?}");
    assert!(rows.iter().any(|r| r.key == "marketing" && r.amount_micros > 0), "{rows:?}");

    // The same seed writes the same amount again (new wamids would be duplicates: nothing new).
    let again = run(app.store().as_ref(), &state.numbers, &state.media_dir, &plan, state.clock.now(), |_| {}).await.unwrap();
    assert_eq!(again.messages, report.messages);
    app.stop().await;
}

/// Counting a million unassigned tickets on every page view would be most of the page's time: the
/// badges stop at "999+", and so does `/live/counts`.
async fn navigation_counts_stop_at_999_plus(backend: Backend) {
    let app = TestApp::start(backend).await;
    let state = &app.running.state;
    let plan = Plan { customers: 800, seed: 3, picture_percent: 0, second_number_percent: 0, ..Plan::default() };
    run(app.store().as_ref(), &state.numbers, &state.media_dir, &plan, state.clock.now(), |_| {}).await.unwrap();
    assert_eq!(app.store().inbox_count(&windowdesk_store::InboxList::Unassigned).await.unwrap(), windowdesk_store::COUNT_CAP);
    windowdesk_server::api::admin::create_agent(
        app.store().as_ref(),
        "Ana",
        "ana@example.com",
        windowdesk_store::AgentRole::Admin,
        Some(common::web::PASSWORD),
    )
    .await
    .unwrap();
    let web = common::web::Web::sign_in(&app, "ana@example.com").await;
    let counts: serde_json::Value = serde_json::from_str(&web.get("/live/counts").await.body).unwrap();
    assert_eq!(counts["unassigned"], "999+");
    let page = web.page("/views/unassigned").await;
    assert!(page.contains(r#"data-count="unassigned">999+</span>"#), "{page}");
    app.stop().await;
}

/// Generated history is not news: what it queued for the rules worker is discarded, so a desk started
/// on the database does not run its triggers over millions of old messages; what was queued before
/// the generator ran stays. Run as `windowdesk generate` runs: the store alone, no workers.
async fn history_sets_off_no_trigger(backend: Backend) {
    let db = windowdesk_store::testing::TestDb::new(backend).await.unwrap();
    let state = windowdesk_server::build_state(&config_for(&db.url), std::sync::Arc::new(windowdesk_core::SystemClock)).await.unwrap();
    let store = state.store.as_ref();
    let reads = windowdesk_store::MessageReads::default();
    let plan = Plan { customers: 20, seed: 3, ..Plan::default() };
    let report = run(store, &state.numbers, &state.media_dir, &plan, state.clock.now(), |_| {}).await.unwrap();
    assert!(report.discarded_rule_events >= report.messages / 2, "{report:?}");
    assert!(store.rule_queue(10, reads).await.unwrap().is_empty(), "the generator left events for the rules worker");

    // An event queued before the next run (an agent solving a ticket) is still there after it.
    let ticket = store.list_tickets(&windowdesk_store::TicketFilter { limit: 1, ..Default::default() }).await.unwrap()[0].id;
    let solve = windowdesk_store::TicketChange { status: Some(windowdesk_core::TicketStatus::Solved), ..Default::default() };
    store.update_ticket(ticket, &solve, "agent:1", state.clock.now()).await.unwrap();
    let pending = store.rule_queue(10, reads).await.unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    let more = run(store, &state.numbers, &state.media_dir, &Plan { seed: 4, ..plan }, state.clock.now(), |_| {}).await.unwrap();
    assert!(more.discarded_rule_events > 0);
    let left: Vec<i64> = store.rule_queue(10, reads).await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(left, vec![pending[0].id]);
    store.close().await;
}
