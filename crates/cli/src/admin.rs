//! `windowdesk token …` and `windowdesk agent …`: people and programs that may use the desk.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use windowdesk_server::api::admin;
use windowdesk_server::config::Config;
use windowdesk_store::{Store, StoreOptions};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token; it is printed once and only its hash is kept.
    Create {
        /// What the token is for ("CRM integration").
        #[arg(long)]
        name: String,
        #[arg(long, short, env = "WINDOWDESK_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Add an agent (a person who answers customers).
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// `agent` or `admin`.
        #[arg(long, default_value = "agent")]
        role: String,
        /// The sign-in password (at least 10 characters). Read from WINDOWDESK_AGENT_PASSWORD when not given.
        #[arg(long, env = "WINDOWDESK_AGENT_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long, short, env = "WINDOWDESK_CONFIG")]
        config: Option<PathBuf>,
    },
}

async fn open_store(config: Option<PathBuf>) -> anyhow::Result<Arc<dyn Store>> {
    let config = Config::load(config.as_deref())?;
    let options = StoreOptions { max_batch: config.database.max_batch, max_in_flight: 1, pool_size: 2 };
    windowdesk_store::open(&config.database.url, options)
        .await
        .with_context(|| format!("opening the database {}", windowdesk_store::redact_url(&config.database.url)))
}

pub async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { name, config } => {
            let store = open_store(config).await?;
            let created = admin::create_api_token(store.as_ref(), &name).await?;
            store.close().await;
            println!("API token {:?} (id {}). Keep it now, it is not shown again:\n{}", created.row.name, created.row.id, created.token);
        }
    }
    Ok(())
}

pub async fn agent(command: AgentCommand) -> anyhow::Result<()> {
    match command {
        AgentCommand::Add { name, email, role, password, config } => {
            let role = admin::parse_role(&role)?;
            let store = open_store(config).await?;
            let agent = admin::create_agent(store.as_ref(), &name, &email, role, password.as_deref()).await;
            store.close().await;
            let agent = agent?;
            println!("agent {} <{}> added as {:?} (id {})", agent.name, agent.email, agent.role, agent.id);
        }
    }
    Ok(())
}
