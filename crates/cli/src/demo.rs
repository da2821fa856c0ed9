//! `windowdesk demo`: the desk (on SQLite, or `--database-url`) with the Cloud API simulator built in and seeded data, so a
//! person on a fresh machine sees it work with one command.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use rand::Rng;
use windowdesk_core::DeliveryState;
use windowdesk_server::api::admin;
use windowdesk_server::config::Config;
use windowdesk_server::replies::{hold_reply, post_text_reply, ReplyOutcome};
use windowdesk_server::Running;
use windowdesk_sim::{Fault, FaultPlan, Say, SimConfig, SimHandle, SimNumber};
use windowdesk_store::{AgentRole, MessageReads, TicketFilter};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo keeps its database and credentials.
    #[arg(long, default_value = "windowdesk-demo")]
    pub data_dir: PathBuf,
    /// Where the desk listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where the simulated WhatsApp Cloud API listens.
    #[arg(long, default_value = "127.0.0.1:4010")]
    pub sim_listen: SocketAddr,
    /// Throw away the previous demo data first.
    #[arg(long)]
    pub fresh: bool,
    /// The database to use instead of SQLite in the data directory, e.g. an empty PostgreSQL database
    /// (`postgres://user@host:5432/name`). Seeded when it has no tickets yet.
    #[arg(long)]
    pub database_url: Option<String>,
}

const DEMO_EMAIL: &str = "admin@demo.windowdesk";
/// The README's webhook examples use these demo values, so they work against the demo as written.
const DEMO_VERIFY_TOKEN: &str = "verifyme";

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    if args.fresh && args.data_dir.exists() {
        std::fs::remove_dir_all(&args.data_dir).with_context(|| format!("removing {}", args.data_dir.display()))?;
    }
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let desk_listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} for the desk; is another demo running? (--listen to choose)", args.listen))?;
    let sim_listener = tokio::net::TcpListener::bind(args.sim_listen)
        .await
        .with_context(|| format!("cannot listen on {} for the simulator (--sim-listen to choose)", args.sim_listen))?;
    let desk_url = format!("http://{}", desk_listener.local_addr()?);
    let sim_url = format!("http://{}", sim_listener.local_addr()?);

    let number = SimNumber::default();
    let database_url = args.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", args.data_dir.join("windowdesk.db").display()));
    let config = Config::from_toml(&format!(
        "[database]\nurl = {:?}\n[media]\ndir = {:?}\n[web]\nsecure_cookies = false\n[whatsapp]\napi_base_url = {sim_url:?}\n\
         [[business_numbers]]\nphone_number_id = {:?}\nwaba_id = {:?}\ndisplay_number = {:?}\nname = \"Demo Support\"\n\
         access_token = {:?}\napp_secret = {:?}\nverify_token = {DEMO_VERIFY_TOKEN:?}\n\
         sms_from = {:?}\nhold_notice_template = \"reply_waiting\"\nhold_notice_language = \"en_US\"\n\
         [sms]\napi_base_url = {sim_url:?}\naccount_sid = {:?}\nauth_token = {:?}\n",
        database_url,
        args.data_dir.join("media").display().to_string(),
        number.phone_number_id,
        number.waba_id,
        number.display_number,
        number.access_token,
        number.app_secret,
        sms_sender(&number.display_number),
        windowdesk_sim::DEFAULT_SMS_ACCOUNT_SID,
        windowdesk_sim::DEFAULT_SMS_AUTH_TOKEN,
    ))?;
    // The simulator first, so the desk's template sync at start finds it.
    let sim = windowdesk_sim::Sim::start(
        SimConfig { webhook_url: Some(format!("{desk_url}/webhooks/whatsapp")), numbers: vec![number.clone()], ..SimConfig::default() },
        sim_listener,
    )?;
    let running = windowdesk_server::start(&config, desk_listener, None).await?;
    let state = &running.state;
    windowdesk_server::templates::sync_all(&state.store, &state.cloud_api, &state.numbers, 100, state.clock.now(), &|_, _, _| {})
        .await
        .context("syncing the simulator's templates")?;

    let credentials = credentials(&running, &args.data_dir).await?;
    if running.state.store.counts().await?.tickets == 0 {
        eprintln!("seeding demo conversations…");
        seed(&running, &sim.handle, &number.phone_number_id).await?;
    }

    println!();
    match &args.database_url {
        None => println!("Windowdesk demo is running (SQLite in {}, WhatsApp simulated).", args.data_dir.display()),
        Some(url) => println!("Windowdesk demo is running (database {}, WhatsApp simulated).", windowdesk_store::redact_url(url)),
    }
    println!();
    println!("  Desk:          {desk_url}");
    println!("  REST API:      {desk_url}/api/v1/tickets   (OpenAPI: {desk_url}/api/openapi.json)");
    println!("  API token:     {}", credentials.token);
    println!("  Agent login:   {DEMO_EMAIL} / {}   (sign in at {desk_url}/login)", credentials.password);
    println!();
    println!(
        "  Webhook:       {desk_url}/webhooks/whatsapp   (demo values: phone_number_id {}, app secret {:?}, verify token {DEMO_VERIFY_TOKEN:?})",
        number.phone_number_id, number.app_secret
    );
    println!("  Try:           curl -H 'Authorization: Bearer {}' {desk_url}/api/v1/tickets", credentials.token);
    println!("  Be a customer: {sim_url}/sim/phone   (a phone-like page: type, send a photo or a voice note, react)");
    println!("             or: cargo run --release -- sim say --sim {sim_url} --from 4915112345678 \"Danke!\"");
    println!("                 (also --voice, --image, --document, --react-to WAMID, --from-ad)");
    println!("  WhatsApp side: {sim_url}/sim/messages   (what customers received; SMS: {sim_url}/sim/sms)");
    println!();
    println!("  Camila's window closed hours ago: her reply is held. Write as her on the phone page");
    println!("  (+55 11 98765-4321) and watch it go out; or open her ticket to send a template or an SMS.");
    println!();
    println!("Press ctrl-c to stop.");
    tokio::signal::ctrl_c().await.ok();
    eprintln!("stopping…");
    sim.stop().await?;
    running.stop().await
}

struct Credentials {
    token: String,
    password: String,
}

/// The demo's admin and API token, created on the first run and kept in the data directory.
async fn credentials(running: &Running, dir: &Path) -> anyhow::Result<Credentials> {
    let file = dir.join("credentials.txt");
    if let Ok(text) = std::fs::read_to_string(&file) {
        let mut lines = text.lines();
        if let (Some(token), Some(password)) = (lines.next(), lines.next()) {
            return Ok(Credentials { token: token.to_owned(), password: password.to_owned() });
        }
    }
    let store = running.state.store.as_ref();
    let password: String = rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(16).map(char::from).collect();
    admin::create_agent(store, "Demo Admin", DEMO_EMAIL, AgentRole::Admin, Some(&password)).await?;
    let token = admin::create_api_token(store, "demo").await?.token;
    std::fs::write(&file, format!("{token}\n{password}\n")).with_context(|| format!("writing {}", file.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(Credentials { token, password })
}

/// The demo number as an E.164 SMS sender.
fn sms_sender(display_number: &str) -> String {
    format!("+{}", display_number.chars().filter(char::is_ascii_digit).collect::<String>())
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| i64::try_from(d.as_secs()).unwrap_or(0)).unwrap_or(0)
}

/// Conversations whose windows are open, closing soon and closed, a lead from an ad, a voice note,
/// a delivered reply and a failed one.
async fn seed(running: &Running, sim: &SimHandle, phone_number_id: &str) -> anyhow::Result<()> {
    let now = now_secs();
    let says = [
        Say::text("4915112345678", "Hallo! Mein Paket ist seit einer Woche unterwegs. Wo bleibt es?").name("Rosa Jansen").at(now - 600),
        Say::text("447911123456", "Hi, can I still change the delivery address for order 1042?")
            .name("Oliver Smith")
            .at(now - (23 * 3600 + 35 * 60)),
        Say::text("5511987654321", "Vocês entregam no sábado?").name("Camila Souza").at(now - 30 * 3600),
        Say::from_ad("16505551234", "Is the blue one still available?").name("Sheena Nelson").at(now - 300),
        Say::voice("33612345678").name("Lucas Martin").at(now - 120),
        Say::text("33612345678", "J'ai laissé un message vocal, merci de me rappeler").name("Lucas Martin").at(now - 110),
    ];
    for say in says {
        sim.say(say).await.context("the simulator could not deliver a seed message to the desk")?;
    }
    let state = &running.state;
    let bn = state.numbers.get(phone_number_id).map(|n| n.id).context("the demo number is not served")?;
    let ticket_of = |wa_id: &'static str| async move {
        let identity = state.store.identity_by_key(bn, wa_id).await?.context("seeded customer missing")?;
        let tickets =
            state.store.list_tickets(&TicketFilter { identity_id: Some(identity.id), limit: 1, ..TicketFilter::default() }).await?;
        tickets.first().map(|t| t.id).context("seeded ticket missing")
    };

    let rosa = ticket_of("4915112345678").await?;
    if let ReplyOutcome::Queued { .. } =
        post_text_reply(state, rosa, "Hallo Rosa, ich schaue sofort nach und melde mich gleich.", "agent:demo").await?
    {
        wait_for(state, rosa, |s| s.is_some_and(|s| s != DeliveryState::Queued && s != DeliveryState::Sending)).await;
    }
    // The shipped first-message auto-replies go out first (Camila's is not sent: her window is
    // closed, and her ticket says so), so the fault below meets the agent's reply, not Lucas's
    // auto-reply.
    let lucas = ticket_of("33612345678").await?;
    for _ in 0..100 {
        if state.store.rule_queue(1, MessageReads::default()).await?.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for(state, lucas, |s| s.is_some_and(|s| s != DeliveryState::Queued && s != DeliveryState::Sending)).await;
    // Meta refuses this one: it stays on the ticket and in Failed deliveries until someone acts.
    sim.set_fault(FaultPlan { count: Some(1), fault: Fault::Error { code: 131_026, http_status: 400 } });
    if let ReplyOutcome::Queued { .. } =
        post_text_reply(state, lucas, "Bonjour Lucas, nous vous rappelons demain matin.", "agent:demo").await?
    {
        wait_for(state, lucas, |s| s == Some(DeliveryState::Failed)).await;
    }
    sim.clear_fault();
    // Camila's window is closed: the reply is held until she writes again (a notice template tells her).
    let camila = ticket_of("5511987654321").await?;
    hold_reply(state, camila, "Sim, entregamos aos sábados entre 9h e 13h.", "agent:demo").await?;
    seed_macros(state).await?;
    seed_workflow(state).await
}

/// One workflow in the HighLevel shape, switched off, so *Admin → Rules → Workflows* shows what a
/// Window check looks like: a day after an agent's answer to a pending ticket, a free-form check-in
/// while the window is open, the `hello_world` template once it closed; solved two days later.
async fn seed_workflow(state: &windowdesk_server::AppState) -> anyhow::Result<()> {
    let draft: windowdesk_core::rules::workflow::WorkflowDraft = serde_json::from_value(serde_json::json!({
        "name": "Follow up a day after our answer",
        "enabled": false,
        "event": "automation",
        "conditions": {"all": [
            {"field": "status", "op": "is", "values": ["pending"]},
            {"field": "time_since_last_agent_reply", "op": "more_than", "minutes": 1440}
        ]},
        "steps": [
            {"type": "window_check",
             "open": [{"type": "do", "action": {"type": "reply", "text": "Hi {{firstName || there}}, did that solve it? Just reply here if not."}}],
             "closed": [{"type": "do", "action": {"type": "send_template", "name": "hello_world", "language": "en_US"}}]},
            {"type": "wait", "minutes": 2880},
            {"type": "do", "action": {"type": "set_status", "status": "solved"}}
        ]
    }))
    .context("the demo workflow does not read")?;
    let write = windowdesk_server::rules::workflows::write_of(&draft, "system", state.clock.now())
        .map_err(|e| anyhow::anyhow!("the demo workflow does not validate: {e}"))?;
    state.store.create_workflow(&write).await?;
    Ok(())
}

/// Two shared macros, so the picker on a ticket page (`M`) and the Macros page have something to show.
async fn seed_macros(state: &windowdesk_server::AppState) -> anyhow::Result<()> {
    let macros = [
        serde_json::json!({"name": "Ask for the order number", "shared": true, "actions": [
            {"type": "reply", "text": "Hi {{firstName || there}}, could you send me your order number? I will look into it right away. {{agent.first_name}}", "when_closed": {"kind": "hold"}},
            {"type": "set_status", "status": "pending"},
            {"type": "add_tags", "tags": ["order-question"]},
        ]}),
        serde_json::json!({"name": "Solved: thanks", "shared": true, "actions": [
            {"type": "reply", "text": "Glad we could help, {{firstName || there}}! Write here any time if anything else comes up.", "when_closed": {"kind": "skip"}},
            {"type": "set_status", "status": "solved"},
        ]}),
    ];
    for m in macros {
        let draft: windowdesk_core::macros::MacroDraft = serde_json::from_value(m).context("a demo macro does not read")?;
        let checked = draft.validate().map_err(|e| anyhow::anyhow!("a demo macro does not validate: {e}"))?;
        let row = windowdesk_store::MacroDraftRow {
            name: checked.name,
            owner_agent_id: None,
            body: serde_json::to_string(&draft)?,
            actor: "system".into(),
            now: state.clock.now(),
        };
        state.store.create_macro(&row).await?;
    }
    Ok(())
}

async fn wait_for(state: &windowdesk_server::AppState, ticket: i64, done: impl Fn(Option<DeliveryState>) -> bool) {
    for _ in 0..100 {
        if let Ok(messages) = state.store.ticket_messages(ticket).await {
            if messages.iter().filter(|m| m.author.is_some()).any(|m| done(m.delivery_state)) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
