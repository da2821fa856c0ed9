//! Outbound benchmark (BENCHMARKS.md): reply latency from API accept to the simulator receiving it,
//! with an idle dispatcher, and dispatch throughput at a raised per-number limit.
//!
//!   cargo run --release -p windowdesk-server --example reply_bench -- [sqlite|postgres-url] [latency_n] [throughput_n] [limit] [instances]
//!
//! The desk and the Cloud API simulator run in this process and talk over loopback HTTP, as they
//! would across processes; the simulator enforces the same per-number limit, so any `130429` it
//! answers would show the dispatcher went over. With `instances` > 1 (PostgreSQL), that many desks
//! share the database, each with its own dispatcher, and replies are posted to them in turn: the
//! number's rate must stay at its limit, not multiply.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use futures::StreamExt;

use windowdesk_server::config::Config;
use windowdesk_server::replies::{post_text_reply, ReplyOutcome};
use windowdesk_sim::{PairRate, Say, SimConfig, SimNumber};
use windowdesk_store::TicketFilter;

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let backend = args.get(1).cloned().unwrap_or_else(|| "sqlite".into());
    let latency_n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(500);
    let throughput_n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let limit: u32 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let instances: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    let dir = std::env::temp_dir().join(format!("windowdesk-reply-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = if backend == "sqlite" { format!("sqlite://{}", dir.join("bench.db").display()) } else { backend.clone() };

    let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sim_url = format!("http://{}", sim_listener.local_addr()?);
    let mut desk_listeners = Vec::new();
    for _ in 0..instances {
        desk_listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await?);
    }
    let desk_url = format!("http://{}", desk_listeners[0].local_addr()?);
    let number = SimNumber { throughput_per_second: limit, ..SimNumber::default() };
    let config = Config::from_toml(&format!(
        "[database]\nurl = {url:?}\n[media]\ndir = {:?}\n[log]\nlevel = \"warn\"\n[whatsapp]\napi_base_url = {sim_url:?}\n\
         [dispatcher]\nthroughput_per_second = {limit}\npair_interval_seconds = 1\npair_burst = 100000\nconcurrency = 128\n\
         [[business_numbers]]\nphone_number_id = {:?}\nwaba_id = {:?}\ndisplay_number = \"+1 555\"\nname = \"Bench\"\n\
         access_token = {:?}\napp_secret = {:?}\nverify_token = \"v\"\n",
        dir.join("media").display().to_string(),
        number.phone_number_id,
        number.waba_id,
        number.access_token,
        number.app_secret
    ))?;
    let mut desks = Vec::new();
    for listener in desk_listeners {
        desks.push(windowdesk_server::start(&config, listener, None).await?);
    }
    let running = &desks[0];
    let sim = windowdesk_sim::Sim::start(
        SimConfig {
            webhook_url: Some(format!("{desk_url}/webhooks/whatsapp")),
            numbers: vec![number],
            pair_rate: PairRate { interval_ms: 1, burst: 100_000 },
            status_delays: windowdesk_sim::StatusDelays { sent_ms: 0, delivered_ms: None, read_ms: None, played_ms: None },
            ..SimConfig::default()
        },
        sim_listener,
    )?;
    let customers = 1000;
    for i in 0..customers {
        sim.handle.say(Say::text(&format!("4917{i:08}"), "hello")).await?;
    }
    let tickets: Vec<i64> =
        running.state.store.list_tickets(&TicketFilter { limit: 1000, ..TicketFilter::default() }).await?.iter().map(|t| t.id).collect();

    // Latency, one reply at a time with an idle dispatcher.
    let mut latencies = Vec::with_capacity(latency_n);
    for i in 0..latency_n {
        let before = sim.handle.received_count();
        let t0 = Instant::now();
        // Posted to each instance in turn: most go through one that does not send for the number.
        match post_text_reply(&desks[i % instances].state, tickets[i % tickets.len()], &format!("latency {i}"), "bench").await? {
            ReplyOutcome::Queued { .. } => {}
            other => anyhow::bail!("unexpected {other:?}"),
        }
        // Woken by the simulator as it records the message (a sleeping poll would add up to a
        // millisecond of timer granularity to every figure).
        sim.handle.wait_received(before + 1).await;
        latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "reply latency (accept -> simulator), {} replies, backend={}, instances={instances}: p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms",
        latency_n,
        running.state.store.backend(),
        pct(&latencies, 0.5),
        pct(&latencies, 0.9),
        pct(&latencies, 0.99),
        pct(&latencies, 1.0)
    );

    // Throughput: many replies queued at once, limit raised.
    let before = sim.handle.received_count();
    let t_enqueue = Instant::now();
    // 64 callers at once, as a busy API or many agents would post.
    let results: Vec<_> = futures::stream::iter(0..throughput_n)
        .map(|i| {
            let ticket = tickets[i % tickets.len()];
            let state = &desks[i % instances].state;
            async move { post_text_reply(state, ticket, &format!("bulk {i}"), "bench").await }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    for r in results {
        r?;
    }
    let enqueue_s = t_enqueue.elapsed().as_secs_f64();
    // The span comes from the simulator's timestamps; this only waits for the last send.
    if tokio::time::timeout(Duration::from_secs(600), sim.handle.wait_received(before + throughput_n)).await.is_err() {
        anyhow::bail!("stalled at {} of {throughput_n}", sim.handle.received_count() - before);
    }
    let received = sim.handle.received();
    let mut at: Vec<i64> = received[before..].iter().map(|m| m.accepted_at_ms).collect();
    at.sort_unstable();
    let span_s = ((at[at.len() - 1] - at[0]) as f64 / 1000.0).max(0.001);
    let busiest = (0..at.len()).step_by(10).map(|i| at[i..].iter().take_while(|t| **t < at[i] + 1000).count()).max().unwrap_or(0);
    let failed = running.state.store.failed_deliveries(None, 200).await?.len();
    let mut throttled = 0;
    for t in &tickets {
        throttled += running
            .state
            .store
            .ticket_events(*t)
            .await?
            .iter()
            .filter(|e| e.kind == "send_retry" && e.data["error"]["code"] == 130_429)
            .count();
    }
    println!(
        "dispatch throughput, {instances} instance(s), {throughput_n} replies to {customers} customers at limit {limit}/s: {:.0} sends/s sustained (first to last send {:.1} s; enqueue took {:.1} s), busiest 1 s window {busiest}, 130429 answers: {throttled}, failed: {failed}",
        throughput_n as f64 / span_s,
        span_s,
        enqueue_s
    );
    sim.stop().await?;
    for desk in desks {
        desk.stop().await?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
