//! The data generator (issue 16 item 4): fills a database with realistic volume for benchmarks and
//! demos, through the desk's own write paths. Customers write to the configured business numbers
//! (some to two of them) in Portuguese, German, French, English and Spanish; the business answers
//! (as Meta's `smb_message_echoes`); everything goes through the webhook parser and
//! [`windowdesk_store::IngestStore::ingest`], so tickets, windows, events and indexes are what real
//! traffic makes. Between a customer's tickets the earlier one is closed through
//! [`windowdesk_store::TicketWorkStore::update_ticket`]; the last ones end in a spread of statuses and
//! assignees. Some messages are pictures, whose media rows are completed with a small stored image.
//!
//! Deterministic for a seed: the same plan writes the same data.

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use windowdesk_core::inbound::Change;
use windowdesk_core::{TicketStatus, Timestamp};
use windowdesk_store::{AgentRole, IngestItem, IngestPayload, MediaOutcome, NewAgent, Store, TicketChange, TicketQuery};
use windowdesk_whatsapp::{normalize_payload, parse_envelope, NormalizeOptions};

use crate::directory::NumberDirectory;

/// What to generate.
#[derive(Clone, Debug)]
pub struct Plan {
    pub customers: u64,
    /// Tickets per customer (each after the previous one was closed).
    pub tickets_per_customer: u32,
    /// Messages per ticket, on average (customers' and the business's).
    pub messages_per_ticket: u32,
    /// Percent of customers who also write to a second business number.
    pub second_number_percent: u32,
    /// Percent of customers' messages that are pictures.
    pub picture_percent: u32,
    /// How far back the first tickets start.
    pub days: u32,
    pub seed: u64,
    /// Messages per webhook payload.
    pub batch: usize,
    /// Payloads (and ticket changes) written at once.
    pub concurrency: usize,
    /// Messages of one extra ticket, from [`LONG_THREAD_WA_ID`] (a ticket page at its longest); 0
    /// for none.
    pub long_thread: u32,
    /// The currency the business's messages are priced in (`[pricing] currency`): every outbound
    /// message gets a settled cost (see [`cost_history`]).
    pub currency: String,
}

/// The customer of the long thread.
pub const LONG_THREAD_WA_ID: &str = "4930000000001";

impl Default for Plan {
    fn default() -> Self {
        Plan {
            customers: 10_000,
            tickets_per_customer: 2,
            messages_per_ticket: 5,
            second_number_percent: 5,
            picture_percent: 3,
            days: 365,
            seed: 1,
            batch: 200,
            long_thread: 0,
            concurrency: 4,
            currency: "USD".into(),
        }
    }
}

/// What was written.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub customers: u64,
    pub messages: u64,
    pub tickets_closed: u64,
    pub tickets_changed: u64,
    pub pictures: u64,
    /// Entries the history queued for the rules worker, discarded so no trigger fires on them.
    pub discarded_rule_events: u64,
    /// Outbound messages given a settled cost, and how many of them were charged.
    pub costs: u64,
    pub costs_charged: u64,
    pub elapsed: Duration,
}

/// Customers handled together: their messages are batched into payloads, then their tickets closed.
const CHUNK: u64 = 1_000;

const LANGS: &[Lang] = &[
    Lang {
        first: &["Camila", "Lucas", "Ana", "Pedro", "Juliana", "Mateus", "Beatriz", "João", "Larissa", "Thiago"],
        last: &["Souza", "Oliveira", "Santos", "Lima", "Pereira", "Costa", "Ferreira", "Almeida"],
        customer: &[
            "Olá! Vocês entregam no sábado? Preciso do pedido {order} até {day}.",
            "Meu pedido {order} ainda não chegou. Podem verificar a entrega?",
            "Bom dia, gostaria de trocar o {product} que comprei. É possível?",
            "O {product} chegou com defeito. Como faço a devolução?",
            "Qual é o prazo de entrega para {city}? Obrigada!",
            "Vocês aceitam pagamento por Pix? Quero comprar o {product}.",
        ],
        reply: &[
            "Olá! Sim, entregamos no sábado. Seu pedido {order} sai hoje.",
            "Desculpe a demora! O pedido {order} está a caminho de {city}.",
            "Claro, a troca do {product} é grátis em até 30 dias.",
        ],
        products: &["tênis", "fone de ouvido", "cafeteira", "mochila", "relógio"],
        cities: &["São Paulo", "Belo Horizonte", "Curitiba", "Recife", "Porto Alegre"],
        days: &["sexta-feira", "sábado", "segunda-feira"],
        prefix: "5511",
    },
    Lang {
        first: &["Rosa", "Jonas", "Lena", "Felix", "Miriam", "Tobias", "Hannah", "Lukas"],
        last: &["Jansen", "Müller", "Schneider", "Fischer", "Weber", "Becker", "Größer", "Schäfer"],
        customer: &[
            "Hallo! Mein Paket {order} ist seit einer Woche unterwegs. Wo bleibt es?",
            "Guten Tag, kann ich die {product} noch umtauschen?",
            "Die Lieferung nach {city} dauert zu lange. Gibt es eine Sendungsnummer?",
            "Ist die {product} am {day} wieder verfügbar?",
            "Ich möchte meine Bestellung {order} stornieren, bitte.",
        ],
        reply: &[
            "Hallo! Ihr Paket {order} wird morgen in {city} zugestellt.",
            "Der Umtausch der {product} ist kostenlos möglich.",
            "Ihre Bestellung {order} wurde storniert. Die Erstattung folgt in drei Tagen.",
        ],
        products: &["Kaffeemaschine", "Jacke", "Laufschuhe", "Bohrmaschine", "Lampe"],
        cities: &["Berlin", "München", "Köln", "Hamburg", "Düsseldorf"],
        days: &["Montag", "Freitag", "Samstag"],
        prefix: "4915",
    },
    Lang {
        first: &["Chloé", "Louis", "Léa", "Hugo", "Inès", "Théo", "Manon", "Gabriel"],
        last: &["Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard"],
        customer: &[
            "Bonjour, où est ma commande {order} ? Elle devait arriver {day}.",
            "Est-ce que le {product} est encore en stock ? Merci !",
            "Le colis pour {city} est arrivé abîmé. Que dois-je faire ?",
            "Je voudrais être remboursé pour le {product}, s'il vous plaît.",
        ],
        reply: &[
            "Bonjour ! Votre commande {order} sera livrée à {city} demain.",
            "Le {product} est de nouveau disponible, vous pouvez commander.",
            "Nous avons lancé le remboursement de votre {product}.",
        ],
        products: &["grille-pain", "manteau", "vélo", "casque", "sac à dos"],
        cities: &["Paris", "Lyon", "Marseille", "Toulouse", "Nantes"],
        days: &["lundi", "mercredi", "samedi"],
        prefix: "336",
    },
    Lang {
        first: &["Oliver", "Amelia", "Harry", "Isla", "Jack", "Sophie", "George", "Emily"],
        last: &["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans"],
        customer: &[
            "Hi, can I still change the delivery address for order {order}?",
            "My {product} stopped working after two days. Can I get a replacement?",
            "When will my parcel reach {city}? It said {day}.",
            "Do you have the {product} in blue?",
        ],
        reply: &[
            "Hi! Your order {order} will reach {city} on {day}.",
            "Sorry about the {product}. A replacement is on its way.",
            "We have updated the address for order {order}.",
        ],
        products: &["kettle", "headphones", "raincoat", "blender", "backpack"],
        cities: &["London", "Manchester", "Leeds", "Bristol", "Glasgow"],
        days: &["Monday", "Thursday", "Saturday"],
        prefix: "447",
    },
    Lang {
        first: &["Lucía", "Mateo", "Sofía", "Martín", "Valentina", "Diego"],
        last: &["García", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez"],
        customer: &[
            "Hola, ¿cuándo llega mi pedido {order} a {city}?",
            "El {product} llegó roto. ¿Pueden cambiarlo?",
            "¿Tienen envío el {day}? Necesito el {product} urgente.",
        ],
        reply: &["¡Hola! Su pedido {order} llega a {city} el {day}.", "Le enviamos un {product} nuevo sin costo."],
        products: &["cafetera", "chaqueta", "zapatillas", "auriculares"],
        cities: &["Madrid", "Ciudad de México", "Bogotá", "Buenos Aires"],
        days: &["lunes", "viernes", "sábado"],
        prefix: "5255",
    },
];

struct Lang {
    first: &'static [&'static str],
    last: &'static [&'static str],
    customer: &'static [&'static str],
    reply: &'static [&'static str],
    products: &'static [&'static str],
    cities: &'static [&'static str],
    days: &'static [&'static str],
    prefix: &'static str,
}

impl Lang {
    fn fill(&self, template: &str, rng: &mut StdRng) -> String {
        let pick = |list: &[&'static str], rng: &mut StdRng| list[rng.gen_range(0..list.len())];
        template
            .replace("{order}", &rng.gen_range(100_000..10_000_000).to_string())
            .replace("{product}", pick(self.products, rng))
            .replace("{city}", pick(self.cities, rng))
            .replace("{day}", pick(self.days, rng))
    }
}

/// A small JPEG-like file every generated picture points to (its bytes are stored once).
const PICTURE: &[u8] = b"\xFF\xD8\xFF\xE0windowdesk generated picture\xFF\xD9";

/// One customer of the generated set.
struct Customer {
    wa_id: String,
    name: String,
    lang: &'static Lang,
    /// Indexes into the business numbers: the first always, a second for some.
    numbers: Vec<usize>,
}

fn customer(i: u64, plan: &Plan, numbers: usize, rng: &mut StdRng) -> Customer {
    let lang = &LANGS[usize::try_from(i % LANGS.len() as u64).unwrap_or(0)];
    // Unique per customer: the language's mobile prefix, then the customer's index.
    let wa_id = customer_wa_id(i);
    let name = format!("{} {}", lang.first[rng.gen_range(0..lang.first.len())], lang.last[rng.gen_range(0..lang.last.len())]);
    let first = usize::try_from(i % numbers as u64).unwrap_or(0);
    let mut chosen = vec![first];
    if numbers > 1 && rng.gen_range(0..100) < plan.second_number_percent {
        chosen.push((first + 1) % numbers);
    }
    Customer { wa_id, name, lang, numbers: chosen }
}

/// Builds the webhook payloads for one round of one chunk: per business number, `batch` messages
/// at most each.
/// One business number's payload being filled: (phone_number_id, contacts, messages, echoes,
/// latest sent time in ms).
type OpenPayload = (String, Vec<Value>, Vec<Value>, Vec<Value>, i64);

struct Payloads {
    open: Vec<OpenPayload>,
    /// Each payload, with when it "arrives": just after its latest message.
    done: Vec<(Vec<u8>, Timestamp)>,
    batch: usize,
}

impl Payloads {
    fn new(pnids: &[String], batch: usize) -> Self {
        Payloads { open: pnids.iter().map(|p| (p.clone(), Vec::new(), Vec::new(), Vec::new(), 0)).collect(), done: Vec::new(), batch }
    }

    fn push(&mut self, number: usize, at_ms: i64, contact: Value, message: Option<Value>, echo: Option<Value>) {
        let slot = &mut self.open[number];
        slot.1.push(contact);
        slot.2.extend(message);
        slot.3.extend(echo);
        slot.4 = slot.4.max(at_ms);
        if slot.2.len() + slot.3.len() >= self.batch {
            self.flush(number);
        }
    }

    fn flush(&mut self, number: usize) {
        let (pnid, contacts, messages, echoes, latest) = &mut self.open[number];
        if messages.is_empty() && echoes.is_empty() {
            return;
        }
        let mut seen = std::collections::HashSet::new();
        contacts.retain(|c| seen.insert(c["wa_id"].as_str().unwrap_or_default().to_owned()));
        let mut changes = Vec::new();
        let metadata = json!({"display_phone_number": pnid.clone(), "phone_number_id": pnid.clone()});
        if !messages.is_empty() {
            changes.push(json!({"field": "messages", "value": {"messaging_product": "whatsapp", "metadata": metadata,
                "contacts": contacts.clone(), "messages": std::mem::take(messages)}}));
        }
        if !echoes.is_empty() {
            changes.push(json!({"field": "smb_message_echoes", "value": {"messaging_product": "whatsapp", "metadata": metadata,
                "contacts": contacts.clone(), "message_echoes": std::mem::take(echoes)}}));
        }
        contacts.clear();
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "generated", "changes": changes}]});
        self.done.push((serde_json::to_vec(&body).unwrap_or_default(), Timestamp::from_unix_millis(*latest + 2_000)));
        *latest = 0;
    }

    fn finish(mut self) -> Vec<(Vec<u8>, Timestamp)> {
        for n in 0..self.open.len() {
            self.flush(n);
        }
        self.done
    }
}

/// Generates `plan` into `store`, for the business numbers of `numbers`. `progress` is called after
/// each chunk of customers with what was written so far.
pub async fn run(
    store: &dyn Store,
    numbers: &NumberDirectory,
    media_dir: &Path,
    plan: &Plan,
    now: Timestamp,
    mut progress: impl FnMut(&Report),
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let served = numbers.all();
    anyhow::ensure!(!served.is_empty(), "configure at least one [[business_numbers]] to generate data for");
    let pnids: Vec<String> = served.iter().map(|n| n.phone_number_id.clone()).collect();
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let agents = ensure_agents(store, now).await?;
    // History sets off no triggers: what this run queues for the rules worker is discarded as it goes.
    let queued_before = store.rule_queue_newest().await?;
    let picture_sha = store_picture(media_dir)?;
    let mut report = Report::default();
    let mut counter: u64 = 0;
    let span_ms = i64::from(plan.days.max(1)) * 86_400_000;
    let tickets = plan.tickets_per_customer.max(1);
    let mut chunk_start = 0;
    while chunk_start < plan.customers {
        let chunk_end = (chunk_start + CHUNK).min(plan.customers);
        let people: Vec<Customer> = (chunk_start..chunk_end).map(|i| customer(i, plan, pnids.len(), &mut rng)).collect();
        for round in 0..tickets {
            let last_round = round + 1 == tickets;
            let mark = newest_ticket(store).await?;
            let mut payloads = Payloads::new(&pnids, plan.batch);
            for (k, c) in people.iter().enumerate() {
                // Ticket `round` of this customer: older rounds further back, customers spread out.
                let slot =
                    (u64::from(round) * plan.customers + chunk_start + k as u64) as f64 / (u64::from(tickets) * plan.customers) as f64;
                let mut at = now.unix_millis() - span_ms + (slot * span_ms as f64) as i64 - 10_800_000;
                for &number in &c.numbers {
                    let messages = rng.gen_range(1..=plan.messages_per_ticket.max(1) * 2 - 1);
                    for m in 0..messages {
                        counter += 1;
                        at += rng.gen_range(30_000..600_000);
                        let ts = (at / 1000).to_string();
                        let contact = json!({"profile": {"name": c.name}, "wa_id": c.wa_id});
                        let wamid = format!("wamid.gen.{}.{counter}", plan.seed);
                        // The customer opens; then the business and the customer take turns, mostly.
                        let from_business = m > 0 && rng.gen_bool(0.45);
                        if from_business {
                            let text = c.lang.fill(c.lang.reply[rng.gen_range(0..c.lang.reply.len())], &mut rng);
                            let echo = json!({"from": pnids[number], "to": c.wa_id, "id": wamid, "timestamp": ts, "type": "text", "text": {"body": text}});
                            payloads.push(number, at, contact, None, Some(echo));
                        } else if rng.gen_range(0..100) < plan.picture_percent {
                            report.pictures += 1;
                            let caption = c.lang.fill(c.lang.customer[rng.gen_range(0..c.lang.customer.len())], &mut rng);
                            let message = json!({"from": c.wa_id, "id": wamid, "timestamp": ts, "type": "image",
                                "image": {"id": format!("gen-media-{counter}"), "mime_type": "image/jpeg", "sha256": picture_sha, "caption": caption}});
                            payloads.push(number, at, contact, Some(message), None);
                        } else {
                            let text = c.lang.fill(c.lang.customer[rng.gen_range(0..c.lang.customer.len())], &mut rng);
                            let message = json!({"from": c.wa_id, "id": wamid, "timestamp": ts, "type": "text", "text": {"body": text}});
                            payloads.push(number, at, contact, Some(message), None);
                        }
                        report.messages += 1;
                    }
                }
            }
            let bodies = payloads.finish();
            let round_end = bodies.iter().map(|(_, at)| (*at).min(now)).max().unwrap_or(now);
            // Several payloads at once, as Meta delivers them: the store batches concurrent commits.
            futures_util::stream::iter(bodies)
                .map(|(body, arrived)| async move { ingest(store, numbers, &body, arrived.min(now)).await })
                .buffer_unordered(plan.concurrency.max(1))
                .try_collect::<Vec<()>>()
                .await?;
            complete_pictures(store, &picture_sha, round_end).await?;
            // The tickets this round opened: close them before the next round, or spread them out.
            let opened = tickets_since(store, mark).await?;
            let mut changes = Vec::with_capacity(opened.len());
            for id in opened {
                let change = if last_round { final_state(&mut rng, &agents) } else { closed() };
                let Some(change) = change else { continue };
                if change.status == Some(TicketStatus::Closed) {
                    report.tickets_closed += 1;
                }
                report.tickets_changed += 1;
                changes.push((id, change));
            }
            futures_util::stream::iter(changes)
                .map(|(id, change)| async move { store.update_ticket(id, &change, "generator", round_end).await.map(|_| ()) })
                .buffer_unordered(plan.concurrency.max(1))
                .try_collect::<Vec<()>>()
                .await?;
        }
        report.discarded_rule_events += store.rule_queue_discard_after(queued_before).await?;
        report.customers = chunk_end;
        report.elapsed = started.elapsed();
        progress(&report);
        chunk_start = chunk_end;
    }
    if plan.long_thread > 0 {
        long_thread(store, numbers, &pnids[0], plan, now).await?;
        report.messages += u64::from(plan.long_thread);
        report.discarded_rule_events += store.rule_queue_discard_after(queued_before).await?;
    }
    let (costs, charged) = cost_history(store, plan, 0).await?;
    report.costs = costs;
    report.costs_charged = charged;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Gives every outbound message without a cost a settled one (SPEC 11), as if the desk had sent it
/// and Meta had reported its pricing: most are service replies inside the window (free); one in ten
/// is a utility template, one in fourteen a marketing template and one in thirty an authentication
/// template, charged from the rate card in force on its day for the customer's market. Which is
/// which follows from the message id, so a database gets the same costs every time. Returns how
/// many costs it wrote and how many were charged.
pub async fn cost_history(store: &dyn Store, plan: &Plan, after_id: i64) -> anyhow::Result<(u64, u64)> {
    use windowdesk_core::pricing::{to_micros, Category, MarketMap, QuoteRequest, RateBook};
    use windowdesk_store::SettledCostRow;
    let cards = store.rate_cards().await?.into_iter().map(|r| r.card).collect();
    let book = RateBook::new(cards, MarketMap::shipped(), &plan.currency);
    let (mut written, mut charged, mut after) = (0u64, 0u64, after_id);
    loop {
        let page = store.uncosted_messages(after, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = last.message_id;
        let rows: Vec<SettledCostRow> = page
            .into_iter()
            .map(|m| {
                let pick = (m.message_id.wrapping_mul(2_654_435_761) >> 7).rem_euclid(210);
                let category = match pick {
                    0..21 => Category::UTILITY,
                    21..36 => Category::MARKETING,
                    36..43 => Category::AUTHENTICATION,
                    _ => Category::SERVICE,
                };
                let category = Category::known(category);
                let service = category.is(Category::SERVICE);
                let quote = m.recipient.as_deref().map(|recipient| {
                    book.quote(&QuoteRequest {
                        category: &category,
                        recipient,
                        at: m.at,
                        in_service_window: service,
                        in_free_entry_point: false,
                        month_volume: 0,
                        reported_tier_from: None,
                        conversations: &[],
                    })
                });
                let amount = if service { Some(0) } else { quote.as_ref().and_then(|q| q.amount).and_then(to_micros) };
                SettledCostRow {
                    channel: "whatsapp".into(),
                    category: category.as_str().to_owned(),
                    market: quote.as_ref().map(|q| q.market.as_str().to_owned()),
                    currency: quote.as_ref().and_then(|q| q.currency.clone()),
                    estimate_micros: amount,
                    free_because: service.then(|| "customer_service_window".to_owned()),
                    card: quote.as_ref().and_then(|q| q.card.clone()),
                    meta_type: Some(if service { "free_customer_service" } else { "regular" }.to_owned()),
                    amount_micros: amount,
                    message: m,
                }
            })
            .collect();
        charged += rows.iter().filter(|r| r.amount_micros.is_some_and(|a| a > 0)).count() as u64;
        written += store.insert_costs(&rows).await?;
    }
    Ok((written, charged))
}

/// One ticket with `plan.long_thread` messages, the customer and the business taking turns, over
/// the last hours.
async fn long_thread(store: &dyn Store, numbers: &NumberDirectory, pnid: &str, plan: &Plan, now: Timestamp) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(plan.seed ^ 0x5eed);
    let lang = &LANGS[3];
    let mut payloads = Payloads::new(&[pnid.to_owned()], plan.batch);
    let n = i64::from(plan.long_thread);
    for m in 0..n {
        let at = now.unix_millis() - (n - m) * 20_000;
        let ts = (at / 1000).to_string();
        let contact = json!({"profile": {"name": "Long Thread"}, "wa_id": LONG_THREAD_WA_ID});
        let wamid = format!("wamid.gen.{}.long.{m}", plan.seed);
        if m % 2 == 1 {
            let text = lang.fill(lang.reply[rng.gen_range(0..lang.reply.len())], &mut rng);
            let echo = json!({"from": pnid, "to": LONG_THREAD_WA_ID, "id": wamid, "timestamp": ts, "type": "text", "text": {"body": text}});
            payloads.push(0, at, contact, None, Some(echo));
        } else {
            let text = lang.fill(lang.customer[rng.gen_range(0..lang.customer.len())], &mut rng);
            let message = json!({"from": LONG_THREAD_WA_ID, "id": wamid, "timestamp": ts, "type": "text", "text": {"body": text}});
            payloads.push(0, at, contact, Some(message), None);
        }
    }
    for (body, arrived) in payloads.finish() {
        ingest(store, numbers, &body, arrived.min(now)).await?;
    }
    Ok(())
}

/// The `wa_id` the generator gives customer `i` (for benchmarks that look customers up by number).
pub fn customer_wa_id(i: u64) -> String {
    let lang = &LANGS[usize::try_from(i % LANGS.len() as u64).unwrap_or(0)];
    format!("{}{:09}", lang.prefix, (i / LANGS.len() as u64) % 1_000_000_000)
}

fn closed() -> Option<TicketChange> {
    Some(TicketChange { status: Some(TicketStatus::Closed), ..TicketChange::default() })
}

/// The last tickets end as a desk's tickets do: some untouched, others open, pending, solved or
/// closed, half of them assigned.
fn final_state(rng: &mut StdRng, agents: &[i64]) -> Option<TicketChange> {
    let status = match rng.gen_range(0..100) {
        0..=29 => None,
        30..=49 => Some(TicketStatus::Open),
        50..=64 => Some(TicketStatus::Pending),
        65..=84 => Some(TicketStatus::Solved),
        _ => Some(TicketStatus::Closed),
    };
    let assignee = (!agents.is_empty() && rng.gen_bool(0.5)).then(|| Some(agents[rng.gen_range(0..agents.len())]));
    let tags = rng.gen_bool(0.2).then(|| vec![["vip", "refund", "delivery", "exchange"][rng.gen_range(0..4)].to_owned()]);
    if status.is_none() && assignee.is_none() && tags.is_none() {
        return None;
    }
    Some(TicketChange { status, assignee_id: assignee, tags, ..TicketChange::default() })
}

/// The ten generated agents (created once), tickets are assigned to.
async fn ensure_agents(store: &dyn Store, now: Timestamp) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::new();
    let existing = store.agents().await?;
    for n in 1..=10 {
        let email = format!("agent{n}@generated.example");
        if let Some(a) = existing.iter().find(|a| a.email == email) {
            ids.push(a.id);
            continue;
        }
        let agent = NewAgent { name: format!("Agent {n}"), email, role: AgentRole::Agent, password_hash: None, now };
        ids.push(store.create_agent(&agent).await?.id);
    }
    Ok(ids)
}

/// Stores the picture every generated image points to, content-addressed like downloaded media.
fn store_picture(media_dir: &Path) -> anyhow::Result<String> {
    let sha = hex::encode(Sha256::digest(PICTURE));
    let path = crate::media::file_path(media_dir, &sha).ok_or_else(|| anyhow::anyhow!("no media path for {sha}"))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, PICTURE)?;
    Ok(sha)
}

/// Completes the pictures' media jobs with the stored picture, as the download worker would.
async fn complete_pictures(store: &dyn Store, sha: &str, now: Timestamp) -> anyhow::Result<()> {
    loop {
        let jobs = store.due_media_jobs(now.plus(Duration::from_secs(86_400 * 365)), 1000).await?;
        if jobs.is_empty() {
            return Ok(());
        }
        let mine: Vec<_> = jobs.into_iter().filter(|j| j.media_id.starts_with("gen-media-")).collect();
        if mine.is_empty() {
            return Ok(());
        }
        for job in mine {
            let outcome = MediaOutcome::Stored { sha256: sha.to_owned(), mime_type: "image/jpeg".into(), size: PICTURE.len() as i64 };
            store.finish_media_job(job.id, &outcome, now).await?;
        }
    }
}

async fn ingest(store: &dyn Store, numbers: &NumberDirectory, body: &[u8], now: Timestamp) -> anyhow::Result<()> {
    let envelope = parse_envelope(body).map_err(|e| anyhow::anyhow!("generated payload: {e}"))?;
    let redact = |_: &str| false;
    let changes = normalize_payload(envelope, &NormalizeOptions { received_at: now, redact_for: &redact });
    let mut items = Vec::new();
    for change in changes {
        if let Change::Number(change) = change {
            let n =
                numbers.get(&change.phone_number_id).ok_or_else(|| anyhow::anyhow!("number {} is not served", change.phone_number_id))?;
            items.push(IngestItem::Number { business_number_id: n.id, change });
        }
    }
    store.ingest(IngestPayload { received_at: now, items }).await?;
    Ok(())
}

/// The newest ticket id (0 with none), to find what a round opened.
async fn newest_ticket(store: &dyn Store) -> anyhow::Result<i64> {
    let q = TicketQuery { limit: 1, ..TicketQuery::default() };
    Ok(store.query_tickets(&q).await?.first().map_or(0, |t| t.ticket.id))
}

/// Tickets with an id above `mark`, oldest first.
async fn tickets_since(store: &dyn Store, mark: i64) -> anyhow::Result<Vec<i64>> {
    let mut out = Vec::new();
    let mut before = None;
    loop {
        let q = TicketQuery { limit: 1000, before_id: before, ..TicketQuery::default() };
        let page = store.query_tickets(&q).await?;
        let done = page.len() < 1000;
        for t in &page {
            if t.ticket.id <= mark {
                out.reverse();
                return Ok(out);
            }
            out.push(t.ticket.id);
        }
        before = page.last().map(|t| t.ticket.id);
        if done || before.is_none() {
            out.reverse();
            return Ok(out);
        }
    }
}
