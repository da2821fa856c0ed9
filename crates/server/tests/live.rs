//! Live updates across instances (SPEC 12): two desks on one PostgreSQL database, and a page on one
//! of them hears about a change made through the other.

#![allow(clippy::unwrap_used)] // test code: a panic is a failed test with its message

mod common;

use std::time::Duration;

use common::*;
use windowdesk_server::events::DeskEvent;
use windowdesk_store::testing::Backend;

async fn next_ticket_event(rx: &mut tokio::sync::broadcast::Receiver<DeskEvent>, within: Duration) -> Option<i64> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(DeskEvent::Ticket { ticket_id })) => return Some(ticket_id),
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(_)) | Err(_) => return None,
        }
    }
}

async fn second_desk(url: &str) -> windowdesk_server::Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    windowdesk_server::start(&config_for(url), listener, None).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s12_a_change_through_one_postgres_instance_reaches_pages_on_another() {
    let a = TestApp::start(Backend::Postgres).await;
    let b = second_desk(&a.db.url).await;
    // A desk of another tenant in the same database (another schema) must not hear it.
    let other = windowdesk_store::testing::TestDb::new(Backend::Postgres).await.unwrap();
    let c = second_desk(&other.url).await;
    let mut on_b = b.state.events.subscribe();
    let mut on_c = c.state.events.subscribe();

    // A customer writes to instance A: its page-facing event reaches B.
    assert_eq!(a.post(&text("wamid.live-1", "15550004444", now_secs(), "hello")).await, 200);
    let ticket = a.only_ticket().await;
    assert_eq!(next_ticket_event(&mut on_b, Duration::from_secs(5)).await, Some(ticket), "B heard about A's ticket");

    // A note written through B reaches A's pages, and B's own pages hear it once, not twice.
    let mut on_a = a.running.state.events.subscribe();
    let mut on_b_again = b.state.events.subscribe();
    windowdesk_server::notes::add_note(&b.state, ticket, "checking", "agent:1", None).await.unwrap();
    assert_eq!(next_ticket_event(&mut on_a, Duration::from_secs(5)).await, Some(ticket), "A heard about B's note");
    assert_eq!(next_ticket_event(&mut on_b_again, Duration::from_secs(1)).await, Some(ticket));
    assert_eq!(next_ticket_event(&mut on_b_again, Duration::from_millis(500)).await, None, "an instance ignores its own relayed events");

    assert_eq!(next_ticket_event(&mut on_c, Duration::from_millis(500)).await, None, "another schema's desk heard nothing");
    c.stop().await.unwrap();
    other.cleanup().await;
    b.stop().await.unwrap();
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s12_sqlite_has_no_other_instance_to_tell() {
    let app = TestApp::start(Backend::Sqlite).await;
    assert!(app.store().live_relay().await.unwrap().is_none());
    app.stop().await;
}
