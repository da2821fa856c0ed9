//! `windowdesk-loadgen`: posts signed single-message webhooks (each a new wamid, many contacts) to a
//! running desk over HTTP/1.1 keep-alive connections and reports acknowledged messages per second and
//! latency percentiles.
//!
//! Two modes:
//! - closed loop (`--rate 0`): every connection sends as fast as answers come back: the throughput
//!   ceiling;
//! - open loop (`--rate N`): requests are scheduled at N per second and latency is measured from the
//!   scheduled moment, so a stalled server is charged for the requests it delayed (no coordinated
//!   omission).
//!
//! Bodies are generated and signed before the clock starts, so the generator's own CPU goes into
//! sending, not hashing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

#[derive(Debug, Parser)]
#[command(about = "Load generator for the Windowdesk webhook")]
struct Args {
    /// The desk's webhook URL.
    #[arg(long, default_value = "http://127.0.0.1:8080/webhooks/whatsapp")]
    url: String,
    /// App secret the desk is configured with.
    #[arg(long, default_value = "bench-secret")]
    secret: String,
    /// The business number's phone_number_id.
    #[arg(long, default_value = "1000000001")]
    phone_number_id: String,
    /// Requests to send (one message each).
    #[arg(long, default_value_t = 100_000)]
    requests: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Requests per second (open loop); 0 sends as fast as possible (closed loop).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Distinct contacts the messages come from.
    #[arg(long, default_value_t = 10_000)]
    contacts: usize,
    /// Prefix for wamids, so runs against one database never collide.
    #[arg(long, default_value = "bench")]
    run_id: String,
}

fn payload(args: &Args, i: usize, ts: u64) -> Vec<u8> {
    let from = format!("4915{:09}", i % args.contacts.max(1));
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "2000000001", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "4930000000", "phone_number_id": args.phone_number_id},
            "contacts": [{"profile": {"name": format!("Customer {}", i % args.contacts.max(1))}, "wa_id": from}],
            "messages": [{"from": from, "id": format!("wamid.{}.{i}", args.run_id), "timestamp": ts.to_string(), "type": "text",
                          "text": {"body": format!("Hello, I have a question about order {i}. When will it arrive?")}}]
        }}]}]
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

struct Prepared {
    body: Bytes,
    signature: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let uri: hyper::Uri = args.url.parse().context("--url")?;
    let authority = uri.authority().context("--url needs host:port")?.clone();
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();

    eprintln!("preparing {} signed payloads…", args.requests);
    let prepared: Arc<Vec<Prepared>> = Arc::new(
        (0..args.requests)
            .map(|i| {
                let body = payload(&args, i, ts);
                let signature = windowdesk_whatsapp::signature::sign(args.secret.as_bytes(), &body);
                Prepared { body: Bytes::from(body), signature }
            })
            .collect(),
    );

    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::new();
    for _ in 0..args.connections.max(1) {
        let prepared = prepared.clone();
        let next = next.clone();
        let authority = authority.clone();
        let path = uri.path().to_owned();
        let rate = args.rate;
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(authority.as_str()).await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = prepared.get(i) else { break };
                let offset = u64::try_from(i).unwrap_or(u64::MAX).saturating_mul(1_000_000_000).checked_div(rate);
                let scheduled = match offset {
                    Some(nanos) => {
                        let at = start + Duration::from_nanos(nanos);
                        tokio::time::sleep_until(at.into()).await;
                        at
                    }
                    None => Instant::now(),
                };
                let req = Request::post(path.as_str())
                    .header("host", authority.as_str())
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", p.signature.as_str())
                    .body(Full::new(p.body.clone()))?;
                sender.ready().await?;
                let resp = sender.send_request(req).await?;
                let status = resp.status();
                resp.into_body().collect().await?;
                let took = scheduled.elapsed();
                if status.is_success() {
                    latencies.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
                } else {
                    errors += 1;
                }
            }
            Ok::<_, anyhow::Error>((latencies, errors))
        }));
    }
    let mut latencies = Vec::with_capacity(args.requests);
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await??;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let pct = |p: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let idx = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        f64::from(latencies[idx]) / 1000.0
    };
    let acked = latencies.len();
    println!(
        "requests={} acked={} errors={} connections={} rate={} elapsed_s={:.2} acked_per_s={:.0} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        args.requests,
        acked,
        errors,
        args.connections,
        if args.rate == 0 { "max".to_owned() } else { args.rate.to_string() },
        elapsed.as_secs_f64(),
        acked as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0),
    );
    Ok(())
}
