//! `windowdesk`: the one binary.

use std::path::PathBuf;

mod admin;
mod demo;
mod generate;
mod sim;
mod templates;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use windowdesk_server::config::{Config, LogFormat, DEFAULT_CONFIG};

#[derive(Debug, Parser)]
#[command(
    name = "windowdesk",
    version,
    about = "A self-hosted customer-support desk for WhatsApp Business, built around the 24-hour customer service window."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the desk: webhooks, API and pages.
    Serve {
        /// The configuration file (TOML). Without it: the defaults plus WINDOWDESK_* variables.
        #[arg(long, short, env = "WINDOWDESK_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate {
        #[arg(long, short, env = "WINDOWDESK_CONFIG")]
        config: Option<PathBuf>,
        /// The database URL; overrides the configuration.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Run the desk with a simulated WhatsApp and seeded data: the quickest way to see it work.
    Demo(demo::DemoArgs),
    /// API tokens for the REST API.
    Token {
        #[command(subcommand)]
        command: admin::TokenCommand,
    },
    /// Agents: the people who answer customers.
    Agent {
        #[command(subcommand)]
        command: admin::AgentCommand,
    },
    /// Message templates: `windowdesk templates sync` fetches them from Meta now.
    Templates {
        #[command(subcommand)]
        command: templates::TemplatesCommand,
    },
    /// The Cloud API simulator: plays Meta for tests and demos (`windowdesk sim say …` acts as a customer).
    Sim(sim::SimArgs),
    /// Fill the database with realistic volume (customers, tickets, messages in five languages) for
    /// benchmarks: `windowdesk generate --config windowdesk.toml --customers 1000000`.
    Generate(generate::GenerateArgs),
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the default configuration, with a comment on every setting.
    PrintDefault,
    /// Load and validate a configuration file, then print what the desk would use (secrets hidden).
    Check {
        #[arg(long, short, env = "WINDOWDESK_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

async fn shutdown_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; draining");
    token.cancel();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => {
            let config = Config::load(config.as_deref())?;
            init_tracing(&config);
            let listener = tokio::net::TcpListener::bind(config.server.listen)
                .await
                .with_context(|| format!("cannot listen on {} (server.listen)", config.server.listen))?;
            let running = windowdesk_server::start(&config, listener, None).await?;
            println!("Windowdesk is listening on http://{}  (webhook: /webhooks/whatsapp, health: /healthz)", running.addr);
            tokio::spawn(shutdown_signal(running.shutdown.clone()));
            running.task.await.context("server task panicked")??;
        }
        Command::Migrate { config, database_url } => {
            let config = Config::load(config.as_deref())?;
            init_tracing(&config);
            let url = database_url.unwrap_or(config.database.url);
            let (backend, n) =
                windowdesk_store::migrate(&url).await.with_context(|| format!("migrating {}", windowdesk_store::redact_url(&url)))?;
            println!("{backend} database {} is at schema version {n}", windowdesk_store::redact_url(&url));
        }
        Command::Demo(args) => demo::run(args).await?,
        Command::Generate(args) => {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
            tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
            generate::generate(args).await?
        }
        Command::Token { command } => admin::token(command).await?,
        Command::Agent { command } => admin::agent(command).await?,
        Command::Templates { command } => {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
            tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
            templates::run(command).await?
        }
        Command::Sim(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
                .init();
            sim::run(args).await?;
        }
        Command::Config { command: ConfigCommand::PrintDefault } => print!("{DEFAULT_CONFIG}"),
        Command::Config { command: ConfigCommand::Check { config } } => {
            let config = Config::load(config.as_deref())?;
            println!("configuration is valid:\n{config:#?}");
        }
    }
    Ok(())
}
