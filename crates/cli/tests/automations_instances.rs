//! Automations once across instances (issue 14 item 6, SPEC 12): two desk processes on one
//! PostgreSQL database, 1,000 tickets on which one automation (or one automation workflow with a
//! Window check) comes due at once. One desk is killed with SIGKILL while the executions run; the
//! other takes over its claims when they run out. Every ticket's automation fires exactly once: one
//! execution (or workflow run), one message per ticket in the store, and at the simulator one
//! message per customer (a send that was in flight at the kill may arrive twice, as any send may
//! under D5, and is then marked "may have been sent twice").
#![allow(clippy::unwrap_used)] // scenario functions called from the #[test]s

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{desk_config, free_port, temp_dir, Desk};
use windowdesk_core::{DeliveryState, Timestamp};
use windowdesk_sim::{PairRate, Say, SimConfig, SimNumber};
use windowdesk_store::testing::{Backend, TestDb};
use windowdesk_store::{RunFilter, RunState, StoreOptions, TicketFilter, WorkflowRunFilter, WorkflowRunState};

const TICKETS: usize = 1_000;
const TEXT: &str = "Checking in: we are on it.";

/// What comes due on every ticket.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Due {
    /// An automation rule that replies.
    Rule,
    /// An automation workflow: tag, then a Window check whose Open branch replies.
    Workflow,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_fire_each_due_automation_once_when_one_is_killed_mid_run() {
    scenario(Due::Rule).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_run_each_due_workflow_once_when_one_is_killed_mid_run() {
    scenario(Due::Workflow).await;
}

/// Executions (or runs) in all, finished ones, and ones an instance took over from another.
struct Count {
    all: usize,
    finished: usize,
    taken_over: usize,
    running: usize,
}

async fn count(store: &std::sync::Arc<dyn windowdesk_store::Store>, due: Due, id: i64) -> Count {
    match due {
        Due::Rule => {
            let all = store.automation_runs(&RunFilter { rule_id: Some(id), limit: 5_000, ..RunFilter::default() }).await.unwrap();
            Count {
                all: all.len(),
                finished: all.iter().filter(|r| r.state == RunState::Fired).count(),
                taken_over: all.iter().filter(|r| r.attempts > 1).count(),
                running: all.iter().filter(|r| r.state == RunState::Running).count(),
            }
        }
        Due::Workflow => {
            let all = store
                .workflow_runs(&WorkflowRunFilter { workflow_id: Some(id), limit: 5_000, ..WorkflowRunFilter::default() })
                .await
                .unwrap();
            Count {
                all: all.len(),
                finished: all.iter().filter(|r| r.state == WorkflowRunState::Done).count(),
                taken_over: all.iter().filter(|r| r.attempts > 1).count(),
                running: all.iter().filter(|r| r.state == WorkflowRunState::Running).count(),
            }
        }
    }
}

async fn scenario(due: Due) {
    let db = TestDb::new(Backend::Postgres).await.unwrap();
    let ports = [free_port(), free_port()];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_url = format!("http://{}", listener.local_addr().unwrap());
    let number = SimNumber { throughput_per_second: 0, ..SimNumber::default() };
    let sim = windowdesk_sim::Sim::start(
        SimConfig {
            webhook_url: Some(format!("http://127.0.0.1:{}/webhooks/whatsapp", ports[0])),
            numbers: vec![number.clone()],
            pair_rate: PairRate { interval_ms: 1, burst: 10_000 },
            ..SimConfig::default()
        },
        listener,
    )
    .unwrap();
    let dir = temp_dir("automations-instances");
    let dispatcher = "throughput_per_second = 200\npair_interval_seconds = 1\npair_burst = 10000\nconcurrency = 8\nclaim_lease_seconds = 8";
    let configs: Vec<_> =
        ports.iter().map(|p| desk_config(&dir, *p, &db.url, &sim_url, std::slice::from_ref(&number), dispatcher)).collect();
    let survivor = Desk::spawn(&configs[0], ports[0]);
    let mut victim = Desk::spawn(&configs[1], ports[1]);
    survivor.healthy().await;
    victim.healthy().await;

    // 1,000 customers wrote two minutes ago: their windows are open, and "more than a minute since
    // the customer's last message" holds for all of them as soon as the automation exists.
    let store = windowdesk_store::open(&db.url, StoreOptions::default()).await.unwrap();
    let wrote = i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap() - 120;
    let customers: Vec<String> = (0..TICKETS).map(|i| format!("4917{i:08}")).collect();
    for c in &customers {
        sim.handle.say(Say::text(c, "hello").at(wrote)).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while store.list_tickets(&TicketFilter { limit: 5_000, ..TicketFilter::default() }).await.unwrap().len() < TICKETS {
        assert!(tokio::time::Instant::now() < deadline, "the tickets were not all created");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let now = Timestamp::from_unix_seconds(wrote + 120);
    let id = match due {
        Due::Rule => {
            let draft: windowdesk_core::RuleDraft = serde_json::from_value(serde_json::json!({
                "name": "Check in a minute after the customer's last message",
                "event": "automation",
                "conditions": {"all": [{"field": "time_since_last_customer_message", "op": "more_than", "minutes": 1}]},
                "actions": [{"type": "reply", "text": TEXT}]
            }))
            .unwrap();
            store.create_rule(&windowdesk_server::rules::write_of(&draft, "test", now).unwrap()).await.unwrap().id
        }
        Due::Workflow => {
            let draft: windowdesk_core::rules::workflow::WorkflowDraft = serde_json::from_value(serde_json::json!({
                "name": "Check in a minute after the customer's last message",
                "event": "automation",
                "conditions": {"all": [{"field": "time_since_last_customer_message", "op": "more_than", "minutes": 1}]},
                "steps": [
                    {"type": "do", "action": {"type": "add_tags", "tags": ["checked-in"]}},
                    {"type": "window_check", "open": [{"type": "do", "action": {"type": "reply", "text": TEXT}}], "closed": []}
                ]
            }))
            .unwrap();
            store.create_workflow(&windowdesk_server::rules::workflows::write_of(&draft, "test", now).unwrap()).await.unwrap().id
        }
    };

    // Kill one desk while the executions run.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while sim.handle.received().iter().filter(|m| m.text.as_deref() == Some(TEXT)).count() < 150 {
        assert!(tokio::time::Instant::now() < deadline, "the automation did not start firing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    victim.kill();
    let held_by_victim = count(&store, due, id).await.running;
    let in_flight_at_kill = {
        let mut n = 0;
        for t in store.list_tickets(&TicketFilter { limit: 5_000, ..TicketFilter::default() }).await.unwrap() {
            n += store.ticket_messages(t.id).await.unwrap().iter().filter(|m| m.delivery_state == Some(DeliveryState::Sending)).count();
        }
        n
    };

    // The survivor takes over what the victim held once the claims run out, and finishes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    let reached = || {
        let mut to: Vec<String> = sim.handle.received().into_iter().filter(|m| m.text.as_deref() == Some(TEXT)).map(|m| m.to).collect();
        to.sort_unstable();
        to.dedup();
        to.len()
    };
    loop {
        let fired = count(&store, due, id).await.finished;
        let customers = reached();
        if fired == TICKETS && customers == TICKETS {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {fired} of {TICKETS} executions fired, {customers} customers reached");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Longer than the outbox's claim lease (8 s): a send the victim had in flight is resent by now.
    tokio::time::sleep(Duration::from_secs(10)).await;

    let all = count(&store, due, id).await;
    assert_eq!(all.all, TICKETS, "one execution per ticket, never a second for the same episode");
    assert_eq!(all.finished, TICKETS);
    let taken_over = all.taken_over;
    let mut per_customer: HashMap<String, usize> = HashMap::new();
    for m in sim.handle.received().into_iter().filter(|m| m.text.as_deref() == Some(TEXT)) {
        *per_customer.entry(m.to).or_default() += 1;
    }
    assert_eq!(per_customer.len(), TICKETS, "every customer got the message");
    let duplicates: usize = per_customer.values().map(|n| n - 1).sum();
    let mut stored = 0;
    let mut marked = 0;
    for t in store.list_tickets(&TicketFilter { limit: 5_000, ..TicketFilter::default() }).await.unwrap() {
        let ours: Vec<_> = store.ticket_messages(t.id).await.unwrap().into_iter().filter(|m| m.body.as_deref() == Some(TEXT)).collect();
        assert_eq!(ours.len(), 1, "ticket {}: {} messages queued by the automation", t.id, ours.len());
        stored += 1;
        marked += usize::from(ours[0].maybe_duplicate);
    }
    eprintln!(
        "{TICKETS} due {} on 2 instances, one killed: {taken_over} taken over (the victim held {held_by_victim}); \
         {stored} messages queued, one per ticket; at the simulator {duplicates} duplicates, {in_flight_at_kill} sends in flight at the kill, {marked} marked maybe-duplicate",
        if due == Due::Rule { "automations" } else { "workflow runs" }
    );
    assert!(
        duplicates <= in_flight_at_kill && duplicates <= marked,
        "{duplicates} duplicates at the simulator beyond the sends in flight at the kill"
    );
    drop(survivor);
    store.close().await;
    sim.stop().await.unwrap();
    db.cleanup().await;
}
