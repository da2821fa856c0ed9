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

/// Opens the desk's database and says on stderr which one, so a token or an agent never lands in a
/// database the running desk does not read (a default `./data/windowdesk.db` created by mistake).
async fn open_store(config_file: Option<PathBuf>) -> anyhow::Result<Arc<dyn Store>> {
    let config = Config::load(config_file.as_deref())?;
    let mut url = windowdesk_store::redact_url(&config.database.url);
    if let Some(path) = config.database.url.strip_prefix("sqlite://").filter(|p| !p.starts_with('/') && !p.starts_with(':')) {
        if let Ok(cwd) = std::env::current_dir() {
            url = format!("{url} = {}", cwd.join(path).display());
        }
    }
    match (&config_file, std::env::var_os("WINDOWDESK_DATABASE__URL")) {
        (_, Some(_)) => eprintln!("database: {url} (from WINDOWDESK_DATABASE__URL)"),
        (Some(file), None) => eprintln!("database: {url} (from {})", file.display()),
        (None, None) => eprintln!(
            "database: {url} (the default: no --config given; pass --config FILE or set WINDOWDESK_CONFIG to use your desk's database)"
        ),
    }
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
