//! `windowdesk-scale`: server time of the pages and API calls agents use most, against a running desk
//! filled by `windowdesk generate` (issue 16's benchmark). Each scenario runs sequentially (one
//! request at a time, after a warm-up) with varied parameters, and reports p50, p99 and the maximum,
//! measured at the client over loopback (so HTTP's own cost, about 0.1 ms, is included).
//!
//! ```text
//! windowdesk-scale --base http://127.0.0.1:8080 --token wdk_… --email bench@example.com \
//!     --password 'bench password' --customers 1000000
//! ```

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

#[derive(Debug, Parser)]
#[command(about = "Server time of the desk's busiest pages and API calls at scale")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    /// An API token (`windowdesk token create`).
    #[arg(long)]
    token: String,
    /// An agent who can sign in (the inbox and views are theirs).
    #[arg(long)]
    email: String,
    #[arg(long)]
    password: String,
    /// Customers the database was generated with (`windowdesk generate --customers`).
    #[arg(long)]
    customers: u64,
    /// Measured requests per scenario.
    #[arg(long, default_value_t = 200)]
    rounds: usize,
    /// Unmeasured requests before each scenario.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// Merges to measure (each merges a real pair of likely duplicates, so the database changes).
    #[arg(long, default_value_t = 50)]
    merges: usize,
    /// Only scenarios whose name contains this.
    #[arg(long)]
    only: Option<String>,
}

/// The `wa_id` `windowdesk generate` gives customer `i` (see `windowdesk_server::generate`).
fn customer_wa_id(i: u64) -> String {
    const PREFIXES: [&str; 5] = ["5511", "4915", "336", "447", "5255"];
    format!("{}{:09}", PREFIXES[(i % 5) as usize], (i / 5) % 1_000_000_000)
}

struct Desk {
    client: reqwest::Client,
    base: String,
    token: String,
    session: String,
}

impl Desk {
    async fn web(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let res = self.client.get(format!("{}{path}", self.base)).header("cookie", format!("wd_session={}", self.session)).send().await?;
        let status = res.status().as_u16();
        Ok((status, res.text().await?))
    }

    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<(u16, Value)> {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let text = res.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }
}

fn cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let (kv, _) = c.split_once(';').unwrap_or((c, ""));
        let (k, v) = kv.split_once('=')?;
        (k.trim() == name).then(|| v.to_owned())
    })
}

fn hidden(body: &str, name: &str) -> Option<String> {
    let at = body.find(&format!("name=\"{name}\""))?;
    let rest = &body[at..];
    let v = rest.find("value=\"")? + 7;
    Some(rest[v..v + rest[v..].find('"')?].to_owned())
}

async fn sign_in(client: &reqwest::Client, base: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let form = client.get(format!("{base}/login")).send().await?;
    let login = cookie(&form, "wd_login").context("GET /login sets wd_login")?;
    let csrf = hidden(&form.text().await?, "csrf").context("the sign-in form has a csrf field")?;
    let res = client
        .post(format!("{base}/login"))
        .header("cookie", format!("wd_login={login}"))
        .form(&[("email", email), ("password", password), ("csrf", &csrf), ("next", "/")])
        .send()
        .await?;
    cookie(&res, "wd_session").with_context(|| format!("signing in as {email} failed ({})", res.status()))
}

/// Latencies of one scenario.
struct Sample {
    name: String,
    ms: Vec<f64>,
    note: String,
}

impl Sample {
    fn row(&mut self) -> String {
        self.ms.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| self.ms[((self.ms.len() as f64 - 1.0) * p).round() as usize];
        format!("| {} | {} | {:.1} | {:.1} | {:.1} | {} |", self.name, self.ms.len(), q(0.5), q(0.99), q(1.0), self.note)
    }
}

async fn measure<F, Fut>(name: &str, args: &Args, note: &str, mut call: F) -> anyhow::Result<Option<Sample>>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    if args.only.as_deref().is_some_and(|o| !name.contains(o)) {
        return Ok(None);
    }
    for i in 0..args.warmup {
        call(i).await?;
    }
    let mut ms = Vec::with_capacity(args.rounds);
    for i in 0..args.rounds {
        let t = Instant::now();
        call(args.warmup + i).await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut s = Sample { name: name.to_owned(), ms, note: note.to_owned() };
    eprintln!("{}", s.row());
    Ok(Some(s))
}

fn ok(status: u16, what: &str) -> anyhow::Result<()> {
    if status >= 400 {
        bail!("{what}: HTTP {status}");
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(Duration::from_secs(60)).build()?;
    let session = sign_in(&client, &args.base, &args.email, &args.password).await?;
    let desk = Desk { client, base: args.base.clone(), token: args.token.clone(), session };
    let mut rng = StdRng::seed_from_u64(16);

    // The bench agent gets 100 tickets, so their inbox is an inbox.
    let (_, agents) = desk.api(reqwest::Method::GET, "/api/v1/agents", None).await?;
    let me = agents["data"].as_array().and_then(|a| a.iter().find(|x| x["email"] == args.email.to_lowercase())).map(|a| a["id"].clone());
    let me = me.context("the bench agent is not among the agents")?;
    let (_, open) = desk.api(reqwest::Method::GET, "/api/v1/tickets?status=new&assignee=none&limit=100", None).await?;
    for t in open["data"].as_array().into_iter().flatten() {
        let id = t["id"].as_i64().unwrap_or(0);
        desk.api(reqwest::Method::PATCH, &format!("/api/v1/tickets/{id}"), Some(json!({"assignee_id": me}))).await?;
    }
    let (_, long) = desk.api(reqwest::Method::GET, "/api/v1/search/tickets?q=whatsapp%3A%224930000000001%22", None).await?;
    let long_ticket = long["data"][0]["id"].as_i64();

    let mut results = Vec::new();
    let web_pages = [
        ("inbox first page", "/"),
        ("view: Unassigned", "/views/unassigned"),
        ("view: Pending", "/views/pending"),
        ("view: Solved", "/views/solved"),
        ("view: All tickets", "/views/all"),
        ("view: Windows closing soon", "/views/closing-soon"),
        ("view: Failed deliveries", "/failed"),
    ];
    for (name, path) in web_pages {
        results.push(
            measure(name, &args, "web page, with the navigation's counts", |_| async {
                let (s, _) = desk.web(path).await?;
                ok(s, path)
            })
            .await?,
        );
    }
    if let Some(t) = long_ticket {
        let path = format!("/tickets/{t}");
        results.push(
            measure("ticket page, 1,000 messages", &args, "web page", |_| async {
                let (s, _) = desk.web(&path).await?;
                ok(s, &path)
            })
            .await?,
        );
    } else {
        eprintln!("no long thread (generate with --long-thread 1000): ticket page skipped");
    }
    let customers = args.customers.max(1);
    let picks: Vec<u64> = (0..args.rounds + args.warmup).map(|_| rng.gen_range(0..customers)).collect();
    let api_get = |path: String| {
        let desk = &desk;
        async move {
            let (s, v) = desk.api(reqwest::Method::GET, &path, None).await?;
            ok(s, &format!("{path}: {v}"))
        }
    };
    results.push(
        measure("phone search whatsapp:\"NNNN\"", &args, "API, customers; 4 digits of a random customer's number", |i| {
            let wa = customer_wa_id(picks[i]);
            api_get(format!("/api/v1/search/customers?q=whatsapp%3A%22{}%22", &wa[wa.len() - 4..]))
        })
        .await?,
    );
    results.push(
        measure("digits-only search", &args, "API, customers; a random customer's full number", |i| {
            api_get(format!("/api/v1/search/customers?q={}", customer_wa_id(picks[i])))
        })
        .await?,
    );
    results.push(
        measure("digits-only, no country code", &args, "API, tickets", |i| {
            let wa = customer_wa_id(picks[i]);
            api_get(format!("/api/v1/search/tickets?q={}", &wa[2..]))
        })
        .await?,
    );
    for (name, word, note) in [
        ("free text, common word (messages)", "pedido", "API, messages; in about a tenth of all messages"),
        ("free text, common word (tickets)", "pedido", "API, tickets"),
        ("free text, rare word (messages)", "Glasgow", "API, messages"),
        ("free text, two words + filter (tickets)", "paket%20unterwegs%20status%3Aopen", "API, tickets"),
    ] {
        let kind = if name.contains("(tickets)") { "tickets" } else { "messages" };
        results.push(measure(name, &args, note, |_| api_get(format!("/api/v1/search/{kind}?q={word}"))).await?);
    }
    results.push(
        measure("search page (three tabs)", &args, "web page; a random customer's full number", |i| {
            let path = format!("/search?q={}", customer_wa_id(picks[i]));
            let desk = &desk;
            async move {
                let (s, _) = desk.web(&path).await?;
                ok(s, &path)
            }
        })
        .await?,
    );
    // The customers' ids, looked up by their numbers first (unmeasured): ids have gaps on
    // PostgreSQL (a sequence value is spent by every insert that lost a race).
    let mut profile_ids = Vec::new();
    if args.only.as_deref().is_none_or(|o| "customer profile".contains(o)) {
        for (i, pick) in picks.iter().enumerate().take(args.warmup + args.rounds) {
            let (s, found) = desk.api(reqwest::Method::GET, &format!("/api/v1/search/customers?q={}", customer_wa_id(*pick)), None).await?;
            ok(s, "customer lookup")?;
            let id = found["data"][0]["id"].as_i64().ok_or_else(|| anyhow::anyhow!("no customer for pick {i}: {found}"))?;
            profile_ids.push(id);
        }
    }
    results.push(
        measure("customer profile", &args, "web page; a random customer", |i| {
            let path = format!("/customers/{}", profile_ids[i]);
            let desk = &desk;
            async move {
                let (s, _) = desk.web(&path).await?;
                ok(s, &path)
            }
        })
        .await?,
    );

    // Cost reports (issue 17): last calendar month by day and by category, the year by month,
    // and the CSV of a month's messages, streamed.
    let (month_from, month_to) = last_month();
    for (name, path, note) in [
        (
            "cost report, month by day (page)",
            format!("/reports/costs?group=day&from={month_from}&to={month_to}"),
            "web page: two charts, the table",
        ),
        ("cost report, month by category (page)", format!("/reports/costs?group=category&from={month_from}&to={month_to}"), "web page"),
        (
            "cost report, month by customer (page)",
            format!("/reports/costs?group=customer&from={month_from}&to={month_to}"),
            "web page; the 100 most expensive",
        ),
    ] {
        results.push(
            measure(name, &args, note, |_| {
                let (desk, path) = (&desk, path.clone());
                async move {
                    let (s, _) = desk.web(&path).await?;
                    ok(s, &path)
                }
            })
            .await?,
        );
    }
    results.push(
        measure("cost report, month by day (API)", &args, "API, JSON", |_| {
            api_get(format!("/api/v1/reports/costs?group=day&from={month_from}&to={month_to}"))
        })
        .await?,
    );
    results.push(
        measure("cost report, 365 days by month (API)", &args, "API, JSON", |_| {
            api_get(format!("/api/v1/reports/costs?group=month&{}", year_range()))
        })
        .await?,
    );
    if args.only.as_deref().is_none_or(|o| "cost CSV".contains(o)) {
        for _ in 0..2 {
            let t = Instant::now();
            let res = desk
                .client
                .get(format!("{}/api/v1/reports/costs/messages/export?from={month_from}&to={month_to}", desk.base))
                .bearer_auth(&desk.token)
                .send()
                .await?;
            ok(res.status().as_u16(), "cost CSV export")?;
            let mut rows = 0u64;
            let mut bytes = 0u64;
            let mut stream = res.bytes_stream();
            while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
                let chunk = chunk?;
                bytes += chunk.len() as u64;
                rows += chunk.iter().filter(|b| **b == b'\n').count() as u64;
            }
            let secs = t.elapsed().as_secs_f64();
            eprintln!(
                "cost CSV export, {month_from} to {month_to}: {} rows, {:.1} MB in {secs:.2} s: {:.0} rows/s",
                rows.saturating_sub(1),
                bytes as f64 / 1e6,
                rows.saturating_sub(1) as f64 / secs
            );
        }
    }

    // Merges: real pairs of likely duplicates (the same number on two business numbers).
    if args.only.as_deref().is_none_or(|o| "merge".contains(o)) && args.merges > 0 {
        let mut ms = Vec::new();
        let mut tried = 0;
        while ms.len() < args.merges && tried < args.merges * 200 {
            tried += 1;
            let id = rng.gen_range(1..=customers);
            let (_, dups) = desk.api(reqwest::Method::GET, &format!("/api/v1/customers/{id}/duplicates"), None).await?;
            let Some(other) = dups["data"][0]["customer_id"].as_i64() else { continue };
            let t = Instant::now();
            let (s, v) =
                desk.api(reqwest::Method::POST, &format!("/api/v1/customers/{id}/merge"), Some(json!({"source_id": other}))).await?;
            let took = t.elapsed().as_secs_f64() * 1000.0;
            if s == 200 {
                ms.push(took);
            } else if s != 409 {
                bail!("merge {other} into {id}: HTTP {s} {v}");
            }
        }
        let mut s =
            Sample { name: "merge".into(), ms, note: "API; a pair of likely duplicates (same number, two business numbers)".into() };
        if !s.ms.is_empty() {
            eprintln!("{}", s.row());
            results.push(Some(s));
        }
    }

    println!("| scenario | n | p50 ms | p99 ms | max ms | what |");
    println!("|---|---|---|---|---|---|");
    for mut s in results.into_iter().flatten() {
        println!("{}", s.row());
    }
    Ok(())
}

/// The last full calendar month (UTC) before today, as `from` and `to`.
fn last_month() -> (String, String) {
    use chrono::{Datelike, Duration as Days};
    let first_of_this = chrono::Utc::now().date_naive().with_day(1).unwrap_or_default();
    let last = first_of_this - Days::days(1);
    (last.with_day(1).unwrap_or(last).to_string(), last.to_string())
}

/// `from=…&to=…` for the 365 days up to today.
fn year_range() -> String {
    let today = chrono::Utc::now().date_naive();
    format!("from={}&to={today}", today - chrono::Duration::days(364))
}
