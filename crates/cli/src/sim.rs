//! `windowdesk sim`: run the Cloud API simulator, and act as a customer through it.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use windowdesk_sim::{Referral, Say, SayContent, SimConfig};

#[derive(Debug, Args)]
pub struct SimArgs {
    #[command(subcommand)]
    pub command: Option<SimCommand>,
    /// The simulator's configuration (TOML; `windowdesk sim print-config` shows every setting).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Where the simulator listens.
    #[arg(long, default_value = "127.0.0.1:4010")]
    pub listen: SocketAddr,
    /// The desk's webhook URL; overrides the configuration.
    #[arg(long)]
    pub webhook_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Print the simulator's commented example configuration.
    PrintConfig,
    /// Act as a customer: send a message to a business number through a running simulator.
    Say(SayArgs),
    /// Print the SMS the simulator's SMS provider received (the desk's fallback), oldest first.
    Sms(SmsArgs),
    /// Change a template's status in a running simulator, as Meta would (e.g. PAUSED); the desk gets
    /// Meta's message_template_status_update webhook.
    TemplateStatus(TemplateStatusArgs),
}

#[derive(Debug, Args)]
pub struct SmsArgs {
    /// Only those sent to this number (E.164, e.g. +4915112345678).
    #[arg(long)]
    pub to: Option<String>,
    /// The simulator's address.
    #[arg(long, default_value = "http://127.0.0.1:4010")]
    pub sim: String,
}

#[derive(Debug, Args)]
pub struct TemplateStatusArgs {
    /// The template's name, e.g. order_update.
    pub name: String,
    /// Its language, e.g. en_US.
    pub language: String,
    /// The new status: APPROVED, PAUSED, DISABLED, REJECTED, PENDING…
    pub status: String,
    /// The reason the webhook carries.
    #[arg(long)]
    pub reason: Option<String>,
    /// The WABA whose template it is, when several have one of that name and language.
    #[arg(long)]
    pub waba_id: Option<String>,
    /// The simulator's address.
    #[arg(long, default_value = "http://127.0.0.1:4010")]
    pub sim: String,
}

#[derive(Debug, Args)]
pub struct SayArgs {
    /// The text to send (or the caption of an image or document).
    pub text: Option<String>,
    /// The customer's phone number (wa_id), e.g. 4915112345678.
    #[arg(long)]
    pub from: String,
    /// The customer's WhatsApp profile name.
    #[arg(long)]
    pub name: Option<String>,
    /// The business number's phone_number_id (default: the simulator's first number).
    #[arg(long)]
    pub to: Option<String>,
    /// The simulator's address.
    #[arg(long, default_value = "http://127.0.0.1:4010")]
    pub sim: String,
    /// Send the sample image.
    #[arg(long, conflicts_with_all = ["voice", "document", "react_to"])]
    pub image: bool,
    /// Send the sample voice note (OGG/Opus).
    #[arg(long, conflicts_with_all = ["image", "document", "react_to"])]
    pub voice: bool,
    /// Send the sample PDF document.
    #[arg(long, conflicts_with_all = ["image", "voice", "react_to"])]
    pub document: bool,
    /// React to this wamid with --emoji (an empty emoji removes the reaction).
    #[arg(long)]
    pub react_to: Option<String>,
    #[arg(long, default_value = "👍")]
    pub emoji: String,
    /// The text arrives from a click-to-WhatsApp ad (starts a free entry point).
    #[arg(long)]
    pub from_ad: bool,
    /// Reply to (quote) this wamid.
    #[arg(long)]
    pub reply_to: Option<String>,
}

impl SayArgs {
    fn to_say(&self) -> anyhow::Result<Say> {
        let content = if let Some(target) = &self.react_to {
            SayContent::Reaction { message_id: target.clone(), emoji: self.emoji.clone() }
        } else if self.image {
            SayContent::Image { caption: self.text.clone(), media_id: None }
        } else if self.voice {
            SayContent::Voice { media_id: None }
        } else if self.document {
            SayContent::Document { filename: None, caption: self.text.clone(), media_id: None }
        } else {
            let body = self.text.clone().context("say what? give the text, or --image, --voice, --document or --react-to")?;
            SayContent::Text { body, referral: self.from_ad.then(Referral::default) }
        };
        Ok(Say {
            phone_number_id: self.to.clone(),
            from: self.from.clone(),
            name: self.name.clone(),
            timestamp: None,
            reply_to: self.reply_to.clone(),
            content,
        })
    }
}

pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    match args.command {
        Some(SimCommand::PrintConfig) => {
            print!("{}", windowdesk_sim::EXAMPLE_CONFIG);
            Ok(())
        }
        Some(SimCommand::Say(say)) => {
            let body = say.to_say()?;
            let url = format!("{}/sim/say", say.sim.trim_end_matches('/'));
            let response = reqwest::Client::new()
                .post(&url)
                .json(&body)
                .send()
                .await
                .with_context(|| format!("is the simulator running at {}?", say.sim))?;
            let status = response.status();
            let answer: serde_json::Value = response.json().await.unwrap_or_default();
            if !status.is_success() {
                anyhow::bail!("the simulator refused: {answer}");
            }
            println!("sent {} (webhook: {})", answer["wamid"].as_str().unwrap_or("?"), answer["delivery"]["outcome"]);
            Ok(())
        }
        Some(SimCommand::Sms(a)) => print_sms(&a).await,
        Some(SimCommand::TemplateStatus(a)) => template_status(&a).await,
        None => serve(args).await,
    }
}

/// Sends a control request to a running simulator; its JSON answer, or an error with its message.
async fn control(sim: &str, request: reqwest::RequestBuilder) -> anyhow::Result<serde_json::Value> {
    let response = request.send().await.with_context(|| format!("is the simulator running at {sim}?"))?;
    let status = response.status();
    let answer: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        let message = answer["error"]["message"].as_str().map_or_else(|| answer.to_string(), str::to_owned);
        anyhow::bail!("the simulator refused ({status}): {message}");
    }
    Ok(answer)
}

async fn print_sms(args: &SmsArgs) -> anyhow::Result<()> {
    let url = format!("{}/sim/sms", args.sim.trim_end_matches('/'));
    let mut request = reqwest::Client::new().get(&url);
    if let Some(to) = &args.to {
        request = request.query(&[("to", to)]);
    }
    let answer = control(&args.sim, request).await?;
    let list = answer["sms"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("no SMS received");
    }
    for sms in list {
        let field = |k: &str| sms[k].as_str().unwrap_or("-").to_owned();
        let outcome = match sms["error_code"].as_i64() {
            Some(code) => format!("refused {} ({code}): {}", sms["http_status"], field("error_message")),
            None => format!("{} {}", field("sid"), field("status")),
        };
        println!("{} → {}  {outcome}", field("from"), field("to"));
        if let Some(body) = sms["body"].as_str() {
            for line in body.lines() {
                println!("    {line}");
            }
        }
    }
    Ok(())
}

async fn template_status(args: &TemplateStatusArgs) -> anyhow::Result<()> {
    let url = format!("{}/sim/templates/status", args.sim.trim_end_matches('/'));
    let body = serde_json::json!({
        "name": args.name, "language": args.language, "status": args.status, "reason": args.reason, "waba_id": args.waba_id,
    });
    let answer = control(&args.sim, reqwest::Client::new().put(&url).json(&body)).await?;
    let outcomes: Vec<String> = answer["deliveries"]
        .as_array()
        .map(|ds| ds.iter().map(|d| format!("{} {}", d["url"].as_str().unwrap_or("(no webhook URL)"), d["outcome"])).collect())
        .unwrap_or_default();
    println!(
        "{} ({}) is now {}; webhook: {}",
        args.name,
        args.language,
        answer["template"]["status"].as_str().unwrap_or("?"),
        if outcomes.is_empty() { "none".to_owned() } else { outcomes.join(", ") }
    );
    Ok(())
}

async fn serve(args: SimArgs) -> anyhow::Result<()> {
    let mut config: SimConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("{} is not a valid simulator configuration", path.display()))?
        }
        None => SimConfig::default(),
    };
    if let Some(url) = args.webhook_url {
        config.webhook_url = Some(url);
    }
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    let running = windowdesk_sim::Sim::start(config.clone(), listener)?;
    println!(
        "Cloud API simulator on {}  (API: {}/{}/…, control: {}/sim/…)",
        running.url(),
        running.url(),
        config.api_version,
        running.url()
    );
    match &config.webhook_url {
        Some(url) => println!("delivering webhooks to {url}"),
        None => println!("no webhook URL: give --webhook-url to deliver customer messages and statuses to a desk"),
    }
    for n in &config.numbers {
        println!("number {} ({}), access token {:?}, app secret {:?}", n.phone_number_id, n.display_number, n.access_token, n.app_secret);
    }
    tokio::signal::ctrl_c().await.ok();
    running.stop().await
}
