//! `windowdesk generate`: fills the configured database with realistic volume (customers on every
//! configured business number, tickets, messages in five languages, statuses, pictures) through the
//! desk's own write paths, for benchmarks and for trying the desk at scale.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use windowdesk_core::{Clock, SystemClock};
use windowdesk_server::config::Config;
use windowdesk_server::generate::{run, Plan, Report};

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The configuration file (TOML): its database is filled, for its business numbers.
    #[arg(long, short, env = "WINDOWDESK_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Customers to create.
    #[arg(long, default_value_t = 10_000)]
    customers: u64,
    /// Tickets per customer (each one closed before the next opens).
    #[arg(long, default_value_t = 2)]
    tickets_per_customer: u32,
    /// Messages per ticket, on average (the customer's and the business's).
    #[arg(long, default_value_t = 5)]
    messages_per_ticket: u32,
    /// Percent of customers who also write to a second business number.
    #[arg(long, default_value_t = 5)]
    second_number_percent: u32,
    /// Percent of customers' messages that are pictures.
    #[arg(long, default_value_t = 3)]
    picture_percent: u32,
    /// How many days back the oldest tickets start.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// The same seed writes the same data; use another one to add more to a database.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also one ticket with this many messages (from +49 30 000000001): a ticket page at its longest.
    #[arg(long, default_value_t = 0)]
    long_thread: u32,
}

pub async fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = windowdesk_server::build_state(&config, clock.clone()).await.context("opening the desk's database")?;
    let plan = Plan {
        customers: args.customers,
        tickets_per_customer: args.tickets_per_customer,
        messages_per_ticket: args.messages_per_ticket,
        second_number_percent: args.second_number_percent,
        picture_percent: args.picture_percent,
        days: args.days,
        seed: args.seed,
        long_thread: args.long_thread,
        currency: config.pricing.currency.clone(),
        ..Plan::default()
    };
    eprintln!(
        "generating {} customers × {} tickets × ~{} messages into {} ({} business numbers)",
        plan.customers,
        plan.tickets_per_customer,
        plan.messages_per_ticket,
        windowdesk_store::redact_url(&config.database.url),
        state.numbers.all().len()
    );
    let print = |r: &Report| {
        let secs = r.elapsed.as_secs_f64().max(0.001);
        eprintln!("{:>10} customers {:>12} messages {:>9.0} messages/s {:>8.0} s", r.customers, r.messages, r.messages as f64 / secs, secs);
    };
    let report = run(state.store.as_ref(), &state.numbers, &state.media_dir, &plan, clock.now(), print).await?;
    // The planner's statistics describe the database before the load until autovacuum catches up.
    if state.store.backend() == "postgres" {
        let started = std::time::Instant::now();
        eprintln!("refreshing PostgreSQL's statistics (ANALYZE)");
        state.store.analyze().await.context("ANALYZE after generating")?;
        eprintln!("ANALYZE took {:.0} s", started.elapsed().as_secs_f64());
    }
    state.store.close().await;
    println!(
        "generated {} customers, {} messages ({} pictures); {} tickets closed between rounds or at the end, {} changed; \
         {} rule events of the history discarded (triggers do not fire on it); {} message costs ({} charged); {:.0} s",
        report.customers,
        report.messages,
        report.pictures,
        report.tickets_closed,
        report.tickets_changed,
        report.discarded_rule_events,
        report.costs,
        report.costs_charged,
        report.elapsed.as_secs_f64()
    );
    Ok(())
}
