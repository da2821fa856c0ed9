//! `windowdesk templates sync`: fetches every account's templates from Meta now, with progress.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;
use windowdesk_core::{Clock, SystemClock};
use windowdesk_server::config::Config;

#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// Fetch the message templates of every configured WhatsApp Business account (all pages) and
    /// record them in the registry. The desk also syncs at start and every templates.sync_interval_minutes.
    Sync {
        #[arg(long, short, env = "WINDOWDESK_CONFIG")]
        config: Option<PathBuf>,
    },
}

pub async fn run(command: TemplatesCommand) -> anyhow::Result<()> {
    match command {
        TemplatesCommand::Sync { config } => {
            let config = Config::load(config.as_deref())?;
            if config.business_numbers.is_empty() {
                anyhow::bail!("no [[business_numbers]] are configured: there is no account to sync templates from");
            }
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let state = windowdesk_server::build_state(&config, clock.clone()).await?;
            let progress = |waba: &str, page: u32, so_far: u64| println!("account {waba}: page {page} read, {so_far} templates so far");
            let result = windowdesk_server::templates::sync_all(
                &state.store,
                &state.cloud_api,
                &state.numbers,
                config.templates.page_size,
                clock.now(),
                &progress,
            )
            .await;
            state.store.close().await;
            for r in result? {
                println!(
                    "account {}: {} templates in {} page(s): {} added, {} changed, {} unchanged, {} no longer listed by Meta",
                    r.waba_id, r.templates, r.pages, r.counts.added, r.counts.updated, r.counts.unchanged, r.counts.removed
                );
                for why in &r.skipped {
                    println!("  skipped: {why}");
                }
            }
        }
    }
    Ok(())
}
