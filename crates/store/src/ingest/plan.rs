//! The ingest plan: what a batch of payloads means for contacts, windows, tickets and messages.
//!
//! This is written once for both backends. A backend asks [`needs`] which rows to load, loads them
//! (locking identities in a fixed order on PostgreSQL), calls [`plan`], and writes the [`WriteSet`] in
//! the same transaction. Every decision here is a call into the domain core: window maths
//! (`CustomerWindow`), ticket routing (`route_inbound`) and status precedence (`apply_meta_status`).

use std::collections::{BTreeMap, HashMap, HashSet};

use sha2::{Digest, Sha256};
use windowdesk_core::delivery::apply_meta_status;
use windowdesk_core::inbound::{
    AccountEvent, ContactRef, EchoMessage, InboundAction, InboundMessage, NumberChange, StatusReport, TemplateChange, TemplateUpdate,
};
use windowdesk_core::phone::display_international;
use windowdesk_core::routing::{after_routing, route_inbound};
use windowdesk_core::rules::WindowEpisode;
use windowdesk_core::window::WindowPolicy;
use windowdesk_core::{CustomerWindow, DeliveryState, Routing, StatusOutcome, TicketSnapshot, TicketStatus, Timestamp};

use super::{IngestItem, IngestPayload, IngestSummary};

/// (business_number_id, key): an identity key or a wamid on one number.
pub type NumKey = (i64, String);

/// An identity that the batch mentions; created from these values when it does not exist yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentitySeed {
    pub business_number_id: i64,
    pub key: String,
    pub wa_id: Option<String>,
    pub bsuid: Option<String>,
    pub parent_bsuid: Option<String>,
    /// The name the new contact gets (C1): the profile name, else the formatted number.
    pub contact_name: String,
    pub profile_name: Option<String>,
    pub at: Timestamp,
}

/// The rows a batch needs loaded.
#[derive(Debug, Default)]
pub struct Needs {
    /// Sorted by (business number, key) and deduplicated: the order in which to create and lock them.
    pub identities: Vec<IdentitySeed>,
    /// Wamids of messages the batch would insert: which exist already, and which have revisions waiting.
    pub wamids: Vec<NumKey>,
    /// Messages that the batch acts on (edits, revokes, statuses), sorted: load and lock these.
    pub targets: Vec<NumKey>,
}

/// An identity as loaded (after creating the missing ones).
#[derive(Clone, Debug)]
pub struct IdentityState {
    pub id: i64,
    pub contact_id: i64,
    pub contact_name: String,
    pub name_is_default: bool,
    pub wa_id: Option<String>,
    pub bsuid: Option<String>,
    pub profile_name: Option<String>,
    pub window: CustomerWindow,
    /// The current window episode (issue 13): advanced with the window, in the same transaction.
    pub window_episode: Option<WindowEpisode>,
}

/// A message the batch acts on, as loaded.
#[derive(Clone, Debug)]
pub struct TargetState {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub body: Option<String>,
    pub delivery_state: Option<DeliveryState>,
}

/// An edit or revoke that arrived before the message it changes.
#[derive(Clone, Debug)]
pub struct PendingRevision {
    pub id: i64,
    pub kind: String,
    pub new_body: Option<String>,
    pub at: Timestamp,
}

/// Everything [`plan`] reads.
#[derive(Debug, Default)]
pub struct Loaded {
    pub identities: HashMap<NumKey, IdentityState>,
    /// Newest ticket per identity id.
    pub newest_tickets: HashMap<i64, TicketSnapshot>,
    pub existing_wamids: HashSet<NumKey>,
    pub targets: HashMap<NumKey, TargetState>,
    pub pending_revisions: HashMap<NumKey, Vec<PendingRevision>>,
    /// (business number, wamid, status) already recorded.
    pub known_statuses: HashSet<(i64, String, String)>,
    /// Ids reserved for tickets this batch may create, used in order.
    pub ticket_ids: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityUpdate {
    pub id: i64,
    pub last_inbound_at: Option<Timestamp>,
    pub referral_at: Option<Timestamp>,
    pub fep_started_at: Option<Timestamp>,
    pub window_episode_at: Option<Timestamp>,
    pub profile_name: Option<String>,
    pub bsuid: Option<String>,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityChange {
    pub identity_id: i64,
    pub at: Timestamp,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// A new phone number for an identity (`user_changed_number`); applied unless the new number is
/// already an identity of its own on that business number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityRekey {
    pub id: i64,
    pub business_number_id: i64,
    pub new_wa_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTicket {
    pub id: i64,
    pub business_number_id: i64,
    pub identity_id: i64,
    pub requester_id: i64,
    pub status: TicketStatus,
    pub subject: String,
    pub followup_of: Option<i64>,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketUpdate {
    pub id: i64,
    pub status: Option<TicketStatus>,
    pub last_message_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NewMessage {
    pub ticket_id: Option<i64>,
    pub business_number_id: i64,
    pub identity_id: Option<i64>,
    pub direction: &'static str,
    pub wamid: String,
    pub kind: String,
    pub body: Option<String>,
    pub media_id: Option<String>,
    pub mime_type: Option<String>,
    pub media_sha256: Option<String>,
    pub filename: Option<String>,
    pub voice: bool,
    pub reply_to_wamid: Option<String>,
    pub target_wamid: Option<String>,
    pub forwarded: i64,
    pub referral: bool,
    pub sent_at: Timestamp,
    pub received_at: Timestamp,
    pub delivery_state: Option<DeliveryState>,
    pub edited_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub errors: Option<String>,
    pub raw: String,
}

/// A change to a message already in the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageUpdate {
    Edit {
        id: i64,
        body: Option<String>,
        at: Timestamp,
    },
    Revoke {
        id: i64,
        at: Timestamp,
    },
    Delivery {
        id: i64,
        state: DeliveryState,
        at: Timestamp,
        error_code: Option<i64>,
        error_title: Option<String>,
        error_details: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRevision {
    pub business_number_id: i64,
    pub target_wamid: String,
    pub source_wamid: String,
    pub kind: &'static str,
    pub previous_body: Option<String>,
    pub new_body: Option<String>,
    pub at: Timestamp,
    pub applied: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReactionWrite {
    Set { business_number_id: i64, target_wamid: String, identity_id: i64, emoji: String, at: Timestamp },
    Remove { business_number_id: i64, target_wamid: String, identity_id: i64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewStatusEvent {
    pub business_number_id: i64,
    pub wamid: String,
    pub status: String,
    pub at: Timestamp,
    pub received_at: Timestamp,
    pub recipient: Option<String>,
    pub pricing: Option<String>,
    pub errors: Option<String>,
    pub applied: bool,
    pub raw: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewTicketEvent {
    pub ticket_id: i64,
    pub at: Timestamp,
    pub actor: &'static str,
    pub kind: &'static str,
    pub data: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAccountEvent {
    pub waba_id: Option<String>,
    pub business_number_id: Option<i64>,
    pub field: String,
    pub event: Option<String>,
    pub at: Timestamp,
    pub raw: String,
    pub dedupe_key: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateWrite {
    pub waba_id: String,
    pub change: TemplateChange,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMediaJob {
    pub business_number_id: i64,
    pub wamid: String,
    pub media_id: String,
    pub at: Timestamp,
}

/// Everything a batch writes, in the order a backend should write it.
#[derive(Debug, Default)]
pub struct WriteSet {
    pub contact_renames: BTreeMap<i64, String>,
    pub identity_updates: BTreeMap<i64, IdentityUpdate>,
    pub identity_changes: Vec<IdentityChange>,
    pub identity_rekeys: Vec<IdentityRekey>,
    pub tickets_new: Vec<NewTicket>,
    pub ticket_updates: BTreeMap<i64, TicketUpdate>,
    pub messages_new: Vec<NewMessage>,
    pub message_updates: Vec<MessageUpdate>,
    pub revisions_new: Vec<NewRevision>,
    /// Revisions that waited for their message and are now applied.
    pub revisions_applied: Vec<i64>,
    pub reactions: Vec<ReactionWrite>,
    pub status_events: Vec<NewStatusEvent>,
    pub ticket_events: Vec<NewTicketEvent>,
    pub account_events: Vec<NewAccountEvent>,
    pub templates: Vec<TemplateWrite>,
    pub unknown_numbers: Vec<(String, Timestamp)>,
    pub media_jobs: Vec<NewMediaJob>,
    /// Identities whose window is open after this batch: their held replies go back to the queue
    /// (SPEC 9), with the new window end as the deadline of every attempt.
    pub held_releases: Vec<HeldRelease>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldRelease {
    pub identity_id: i64,
    pub window_end: Timestamp,
    pub at: Timestamp,
}

fn contact_seed(business_number_id: i64, c: &ContactRef, at: Timestamp) -> Option<IdentitySeed> {
    let key = c.identity_key()?.to_owned();
    let contact_name = c
        .profile_name
        .clone()
        .or_else(|| c.wa_id.as_deref().map(display_international))
        .or_else(|| c.bsuid.clone())
        .unwrap_or_else(|| key.clone());
    Some(IdentitySeed {
        business_number_id,
        key,
        wa_id: c.wa_id.clone(),
        bsuid: c.bsuid.clone(),
        parent_bsuid: c.parent_bsuid.clone(),
        contact_name,
        profile_name: c.profile_name.clone(),
        at,
    })
}

/// Which rows the batch needs. Identities and targets come sorted, so that concurrent transactions
/// lock them in the same order and cannot deadlock.
pub fn needs(batch: &[IngestPayload]) -> Needs {
    let mut identities: BTreeMap<NumKey, IdentitySeed> = BTreeMap::new();
    let mut wamids = Vec::new();
    let mut targets = std::collections::BTreeSet::new();
    for payload in batch {
        for item in &payload.items {
            let IngestItem::Number { business_number_id: bn, change } = item else {
                continue;
            };
            let bn = *bn;
            for m in &change.messages {
                if let Some(seed) = contact_seed(bn, &m.contact, m.sent_at.at) {
                    identities.entry((bn, seed.key.clone())).or_insert(seed);
                }
                wamids.push((bn, m.wamid.clone()));
                match &m.action {
                    InboundAction::Edit { target } | InboundAction::Revoke { target } | InboundAction::React { target, .. } => {
                        targets.insert((bn, target.clone()));
                    }
                    _ => {}
                }
            }
            for e in &change.echoes {
                if let Some(seed) = contact_seed(bn, &e.contact, e.sent_at) {
                    identities.entry((bn, seed.key.clone())).or_insert(seed);
                }
                wamids.push((bn, e.wamid.clone()));
            }
            for s in &change.statuses {
                targets.insert((bn, s.wamid.clone()));
            }
        }
    }
    Needs { identities: identities.into_values().collect(), wamids, targets: targets.into_iter().collect() }
}

/// How many ticket ids to reserve, once identities and their newest tickets are loaded: one for each
/// identity without a ticket or whose newest ticket is closed (each creates at most one per batch;
/// later messages of the batch go to it).
pub fn ticket_ids_needed(loaded: &Loaded) -> usize {
    loaded.identities.values().filter(|i| loaded.newest_tickets.get(&i.id).is_none_or(|t| t.status == TicketStatus::Closed)).count()
}

/// A short subject for a new ticket from its first message.
fn subject_for(kind: &str, body: Option<&str>) -> String {
    let text = body.map(str::trim).filter(|b| !b.is_empty());
    match text {
        Some(t) => {
            let line = t.lines().next().unwrap_or(t);
            let mut s: String = line.chars().take(80).collect();
            if line.chars().count() > 80 {
                s.push('…');
            }
            s
        }
        None => match kind {
            "image" => "Image".to_owned(),
            "video" => "Video".to_owned(),
            "audio" => "Voice message".to_owned(),
            "document" => "Document".to_owned(),
            "sticker" => "Sticker".to_owned(),
            "location" => "Location".to_owned(),
            other => format!("WhatsApp {other} message"),
        },
    }
}

fn dedupe_key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// State while planning: the loaded rows, updated as messages of the batch are applied in order.
struct Planner<'a> {
    loaded: &'a mut Loaded,
    policy: WindowPolicy,
    out: WriteSet,
    summary: Vec<IngestSummary>,
    next_ticket: usize,
    /// Wamids inserted by this batch, to their index in `out.messages_new`.
    batch_messages: HashMap<NumKey, usize>,
    /// Every ticket touched, in order, so each payload's summary can name its own.
    touched: Vec<i64>,
}

/// Plans the writes of a batch. `loaded` must hold every identity of `needs(batch)`.
/// Returns the write set and one summary per payload.
pub fn plan(batch: &[IngestPayload], loaded: &mut Loaded, policy: WindowPolicy) -> (WriteSet, Vec<IngestSummary>) {
    let mut p = Planner {
        loaded,
        policy,
        out: WriteSet::default(),
        summary: Vec::with_capacity(batch.len()),
        next_ticket: 0,
        batch_messages: HashMap::new(),
        touched: Vec::new(),
    };
    for payload in batch {
        let mut s = IngestSummary::default();
        let (events_before, touched_before) = (p.out.ticket_events.len(), p.touched.len());
        for item in &payload.items {
            match item {
                IngestItem::Number { business_number_id, change } => {
                    p.number_change(*business_number_id, change, payload.received_at, &mut s)
                }
                IngestItem::Account { business_number_id, event } => {
                    p.account_event(*business_number_id, event, payload.received_at, &mut s)
                }
                IngestItem::UnknownNumber { phone_number_id } => {
                    p.out.unknown_numbers.push((phone_number_id.clone(), payload.received_at));
                    s.unknown_numbers += 1;
                }
            }
        }
        let mut tickets: Vec<i64> = p.out.ticket_events[events_before..].iter().map(|e| e.ticket_id).collect();
        tickets.extend_from_slice(&p.touched[touched_before..]);
        tickets.sort_unstable();
        tickets.dedup();
        s.tickets = tickets;
        p.summary.push(s);
    }
    // A customer who wrote reopens their window: what was held for them may go now. The window is
    // judged at the moment the desk received the message (a message sent 25 h ago and delivered late
    // reopens nothing).
    let releases: Vec<HeldRelease> = p
        .out
        .identity_updates
        .values()
        .filter_map(|u| {
            let window =
                CustomerWindow { last_inbound_at: u.last_inbound_at, referral_at: u.referral_at, fep_started_at: u.fep_started_at };
            let end = window.window_end(policy)?;
            window.is_open(policy, u.updated_at).then_some(HeldRelease { identity_id: u.id, window_end: end, at: u.updated_at })
        })
        .collect();
    p.out.held_releases = releases;
    (p.out, p.summary)
}

impl Planner<'_> {
    fn number_change(&mut self, bn: i64, change: &NumberChange, received_at: Timestamp, s: &mut IngestSummary) {
        for m in &change.messages {
            self.inbound(bn, m, received_at, s);
        }
        for e in &change.echoes {
            self.echo(bn, e, received_at, s);
        }
        for st in &change.statuses {
            self.status(bn, st, received_at, s);
        }
        if let Some(raw) = &change.other {
            let event = AccountEvent { waba_id: String::new(), field: change.field.clone(), event: None, template: None, raw: raw.clone() };
            self.account_event(Some(bn), &event, received_at, s);
        }
    }

    fn is_duplicate(&self, key: &NumKey) -> bool {
        self.loaded.existing_wamids.contains(key) || self.batch_messages.contains_key(key)
    }

    fn take_ticket_id(&mut self) -> i64 {
        let id = self.loaded.ticket_ids.get(self.next_ticket).copied();
        self.next_ticket += 1;
        // `ticket_ids_needed` reserves one per identity that may create a ticket, and each creates at most one
        // per batch, so the reservation cannot run out; a negative id would fail the insert loudly.
        id.unwrap_or(-1)
    }

    /// Updates name, BSUID and the window of the identity a message came from (C1, W2, W6).
    fn touch_identity(&mut self, key: &NumKey, contact: &ContactRef, at: Timestamp, now: Timestamp) -> Option<IdentityState> {
        let ident = self.loaded.identities.get_mut(key)?;
        let mut changed = false;
        if let Some(name) = &contact.profile_name {
            if ident.profile_name.as_ref() != Some(name) {
                ident.profile_name = Some(name.clone());
                changed = true;
                if ident.name_is_default && &ident.contact_name != name {
                    ident.contact_name = name.clone();
                    self.out.contact_renames.insert(ident.contact_id, name.clone());
                }
            }
        }
        if let Some(bsuid) = &contact.bsuid {
            if ident.bsuid.as_ref() != Some(bsuid) {
                self.out.identity_changes.push(IdentityChange {
                    identity_id: ident.id,
                    at,
                    field: "bsuid".into(),
                    old_value: ident.bsuid.clone(),
                    new_value: Some(bsuid.clone()),
                });
                ident.bsuid = Some(bsuid.clone());
                changed = true;
            }
        }
        let ident = ident.clone();
        if changed {
            self.mark_identity(&ident, now);
        }
        Some(ident)
    }

    fn mark_identity(&mut self, ident: &IdentityState, now: Timestamp) {
        self.out.identity_updates.insert(
            ident.id,
            IdentityUpdate {
                id: ident.id,
                last_inbound_at: ident.window.last_inbound_at,
                referral_at: ident.window.referral_at,
                fep_started_at: ident.window.fep_started_at,
                window_episode_at: ident.window_episode.map(|e| e.started_at),
                profile_name: ident.profile_name.clone(),
                bsuid: ident.bsuid.clone(),
                updated_at: now,
            },
        );
    }

    fn touch_ticket(&mut self, ticket_id: i64, status: Option<TicketStatus>, at: Timestamp, now: Timestamp) {
        self.touched.push(ticket_id);
        let entry = self.out.ticket_updates.entry(ticket_id).or_insert(TicketUpdate {
            id: ticket_id,
            status: None,
            last_message_at: at,
            updated_at: now,
        });
        if status.is_some() {
            entry.status = status;
        }
        entry.last_message_at = entry.last_message_at.max(at);
        entry.updated_at = now;
    }

    /// Routes a thread message of `ident` to a ticket (T2), creating or reopening as needed.
    /// `(kind, body)` of the message names a new ticket.
    fn route(
        &mut self,
        bn: i64,
        ident: &IdentityState,
        (kind, body): (&str, Option<&str>),
        at: Timestamp,
        now: Timestamp,
        s: &mut IngestSummary,
    ) -> i64 {
        let newest = self.loaded.newest_tickets.get(&ident.id).copied();
        let routing = route_inbound(newest);
        let ticket_id = match routing {
            Routing::Append { ticket, reopen_to } => {
                if let (Some(to), Some(prev)) = (reopen_to, newest) {
                    self.out.ticket_events.push(NewTicketEvent {
                        ticket_id: ticket,
                        at: now,
                        actor: "customer",
                        kind: "status_changed",
                        data: serde_json::json!({"from": prev.status.as_str(), "to": to.as_str(), "reason": "customer wrote"}),
                    });
                }
                self.touch_ticket(ticket, reopen_to, at, now);
                ticket
            }
            Routing::Create | Routing::FollowUp { .. } => {
                let id = self.take_ticket_id();
                let followup_of = if let Routing::FollowUp { of } = routing { Some(of) } else { None };
                self.out.tickets_new.push(NewTicket {
                    id,
                    business_number_id: bn,
                    identity_id: ident.id,
                    requester_id: ident.contact_id,
                    status: TicketStatus::New,
                    subject: subject_for(kind, body),
                    followup_of,
                    created_at: now,
                });
                self.out.ticket_events.push(NewTicketEvent {
                    ticket_id: id,
                    at: now,
                    actor: "customer",
                    kind: "ticket_created",
                    data: serde_json::json!({"followup_of": followup_of}),
                });
                if let Some(of) = followup_of {
                    self.out.ticket_events.push(NewTicketEvent {
                        ticket_id: of,
                        at: now,
                        actor: "system",
                        kind: "followup_created",
                        data: serde_json::json!({"followup": id}),
                    });
                }
                self.touch_ticket(id, None, at, now);
                s.tickets_created += 1;
                id
            }
        };
        let snapshot = after_routing(routing, newest, || ticket_id);
        self.loaded.newest_tickets.insert(ident.id, snapshot);
        ticket_id
    }

    fn inbound(&mut self, bn: i64, m: &InboundMessage, received_at: Timestamp, s: &mut IngestSummary) {
        let wkey = (bn, m.wamid.clone());
        if self.is_duplicate(&wkey) {
            s.messages_duplicate += 1;
            return;
        }
        let Some(ikey) = m.contact.identity_key().map(|k| (bn, k.to_owned())) else {
            // Nobody to attribute it to: keep it whole rather than drop it.
            let event = AccountEvent {
                waba_id: String::new(),
                field: "unattributable_message".into(),
                event: Some(m.kind.clone()),
                template: None,
                raw: m.raw.clone(),
            };
            self.account_event(Some(bn), &event, received_at, s);
            return;
        };
        let at = m.sent_at.at;
        let Some(mut ident) = self.touch_identity(&ikey, &m.contact, at, received_at) else {
            return;
        };
        let window_before = ident.window;
        let effect = ident.window.record_inbound(at, m.refreshes_window(), m.has_referral);
        if effect.window_extended {
            // A message that refreshes the window may start a new episode (issue 13); one that does
            // not refresh it (W1) or arrives late (W2) never does.
            ident.window_episode = Some(WindowEpisode::after_inbound(ident.window_episode, &window_before, self.policy, at));
        }
        if effect.window_extended || effect.referral_recorded {
            if let Some(stored) = self.loaded.identities.get_mut(&ikey) {
                stored.window = ident.window;
                stored.window_episode = ident.window_episode;
            }
            self.mark_identity(&ident, received_at);
        }

        let mut msg = NewMessage {
            business_number_id: bn,
            identity_id: Some(ident.id),
            direction: "inbound",
            wamid: m.wamid.clone(),
            kind: m.kind.clone(),
            body: m.body.clone(),
            reply_to_wamid: m.reply_to.clone(),
            forwarded: m.forwarded.as_i64(),
            referral: m.has_referral,
            sent_at: at,
            received_at,
            errors: if m.errors.is_empty() { None } else { serde_json::to_string(&m.errors).ok() },
            raw: m.raw.clone(),
            ..NewMessage::default()
        };
        if let Some(media) = &m.media {
            msg.media_id = Some(media.media_id.clone());
            msg.mime_type = media.mime_type.clone();
            msg.media_sha256 = media.sha256.clone();
            msg.filename = media.filename.clone();
            msg.voice = media.voice;
        }

        match &m.action {
            InboundAction::Content | InboundAction::System { .. } | InboundAction::NumberChanged { .. } => {
                if !matches!(m.action, InboundAction::Content) {
                    msg.direction = "system";
                }
                let ticket = self.route(bn, &ident, (&m.kind, m.body.as_deref()), at, received_at, s);
                msg.ticket_id = Some(ticket);
                if m.sent_at.is_anomalous() {
                    self.out.ticket_events.push(NewTicketEvent {
                        ticket_id: ticket,
                        at: received_at,
                        actor: "system",
                        kind: "timestamp_anomaly",
                        data: serde_json::json!({"wamid": m.wamid, "sent_at": m.sent_at}),
                    });
                }
                if let InboundAction::NumberChanged { new_wa_id } = &m.action {
                    self.number_changed(bn, &ident, new_wa_id, ticket, at, received_at);
                }
                if let Some(media) = &m.media {
                    self.out.media_jobs.push(NewMediaJob {
                        business_number_id: bn,
                        wamid: m.wamid.clone(),
                        media_id: media.media_id.clone(),
                        at: received_at,
                    });
                }
                self.apply_pending_revisions(&wkey, &mut msg);
            }
            InboundAction::React { target, emoji } => {
                msg.target_wamid = Some(target.clone());
                msg.ticket_id = self.target_ticket(bn, target).or_else(|| self.loaded.newest_tickets.get(&ident.id).map(|t| t.id));
                self.out.reactions.push(match emoji {
                    Some(e) => ReactionWrite::Set {
                        business_number_id: bn,
                        target_wamid: target.clone(),
                        identity_id: ident.id,
                        emoji: e.clone(),
                        at,
                    },
                    None => ReactionWrite::Remove { business_number_id: bn, target_wamid: target.clone(), identity_id: ident.id },
                });
            }
            InboundAction::Edit { target } | InboundAction::Revoke { target } => {
                let is_edit = matches!(m.action, InboundAction::Edit { .. });
                msg.target_wamid = Some(target.clone());
                msg.ticket_id = self.target_ticket(bn, target).or_else(|| self.loaded.newest_tickets.get(&ident.id).map(|t| t.id));
                self.revise(bn, target, &m.wamid, is_edit, m.body.clone(), at);
            }
        }
        if let Some(t) = msg.ticket_id {
            self.touch_ticket(t, None, at, received_at);
        }
        self.batch_messages.insert(wkey, self.out.messages_new.len());
        self.out.messages_new.push(msg);
        s.messages_new += 1;
    }

    fn number_changed(&mut self, bn: i64, ident: &IdentityState, new_wa_id: &str, ticket: i64, at: Timestamp, now: Timestamp) {
        self.out.identity_changes.push(IdentityChange {
            identity_id: ident.id,
            at,
            field: "wa_id".into(),
            old_value: ident.wa_id.clone(),
            new_value: Some(new_wa_id.to_owned()),
        });
        self.out.identity_rekeys.push(IdentityRekey { id: ident.id, business_number_id: bn, new_wa_id: new_wa_id.to_owned() });
        self.out.ticket_events.push(NewTicketEvent {
            ticket_id: ticket,
            at: now,
            actor: "customer",
            kind: "number_changed",
            data: serde_json::json!({"from": ident.wa_id, "to": new_wa_id}),
        });
    }

    fn target_ticket(&self, bn: i64, target: &str) -> Option<i64> {
        let key = (bn, target.to_owned());
        if let Some(i) = self.batch_messages.get(&key) {
            return self.out.messages_new[*i].ticket_id;
        }
        self.loaded.targets.get(&key).and_then(|t| t.ticket_id)
    }

    /// An edit or revoke of `target`: recorded as a revision (history), applied to the message when
    /// it is known, kept pending otherwise.
    fn revise(&mut self, bn: i64, target: &str, source: &str, is_edit: bool, new_body: Option<String>, at: Timestamp) {
        let key = (bn, target.to_owned());
        let kind = if is_edit { "edit" } else { "revoke" };
        let new_body = if is_edit { new_body } else { None };
        let mut revision = NewRevision {
            business_number_id: bn,
            target_wamid: target.to_owned(),
            source_wamid: source.to_owned(),
            kind,
            previous_body: None,
            new_body: new_body.clone(),
            at,
            applied: false,
        };
        if let Some(i) = self.batch_messages.get(&key).copied() {
            let msg = &mut self.out.messages_new[i];
            revision.previous_body = msg.body.clone();
            revision.applied = true;
            if is_edit {
                msg.body = new_body;
                msg.edited_at = Some(at);
            } else {
                msg.body = None;
                msg.revoked_at = Some(at);
            }
        } else if let Some(t) = self.loaded.targets.get_mut(&key) {
            revision.previous_body = t.body.clone();
            revision.applied = true;
            let update =
                if is_edit { MessageUpdate::Edit { id: t.id, body: new_body.clone(), at } } else { MessageUpdate::Revoke { id: t.id, at } };
            t.body = if is_edit { new_body } else { None };
            self.out.message_updates.push(update);
        }
        self.out.revisions_new.push(revision);
    }

    /// Edits and revokes that arrived before this message are applied as it is inserted.
    fn apply_pending_revisions(&mut self, key: &NumKey, msg: &mut NewMessage) {
        let Some(mut pending) = self.loaded.pending_revisions.remove(key) else {
            return;
        };
        pending.sort_by_key(|r| r.at);
        for r in pending {
            if r.kind == "revoke" {
                msg.body = None;
                msg.revoked_at = Some(r.at);
            } else {
                msg.body = r.new_body;
                msg.edited_at = Some(r.at);
            }
            self.out.revisions_applied.push(r.id);
        }
    }

    fn echo(&mut self, bn: i64, e: &EchoMessage, received_at: Timestamp, s: &mut IngestSummary) {
        let wkey = (bn, e.wamid.clone());
        if self.is_duplicate(&wkey) {
            s.messages_duplicate += 1;
            return;
        }
        let Some(ikey) = e.contact.identity_key().map(|k| (bn, k.to_owned())) else {
            return;
        };
        let Some(mut ident) = self.loaded.identities.get(&ikey).cloned() else {
            return;
        };
        // W3: a business send never opens or extends the window; it may start a FEP (W6).
        if ident.window.record_business_send(self.policy, e.sent_at).is_some() {
            self.loaded.identities.insert(ikey.clone(), ident.clone());
            self.mark_identity(&ident, received_at);
        }
        let ticket = match self.loaded.newest_tickets.get(&ident.id).copied() {
            Some(t) => {
                self.touch_ticket(t.id, None, e.sent_at, received_at);
                t.id
            }
            None => {
                let id = self.route(bn, &ident, (&e.kind, e.body.as_deref()), e.sent_at, received_at, s);
                // Business-initiated: the agent already spoke, so the ticket is open, not new.
                self.touch_ticket(id, Some(TicketStatus::Open), e.sent_at, received_at);
                id
            }
        };
        self.out.ticket_events.push(NewTicketEvent {
            ticket_id: ticket,
            at: received_at,
            actor: "business_app",
            kind: "message_sent_elsewhere",
            data: serde_json::json!({"wamid": e.wamid}),
        });
        self.batch_messages.insert(wkey, self.out.messages_new.len());
        self.out.messages_new.push(NewMessage {
            ticket_id: Some(ticket),
            business_number_id: bn,
            identity_id: Some(ident.id),
            direction: "outbound",
            wamid: e.wamid.clone(),
            kind: e.kind.clone(),
            body: e.body.clone(),
            sent_at: e.sent_at,
            received_at,
            delivery_state: Some(DeliveryState::Sent),
            raw: e.raw.clone(),
            ..NewMessage::default()
        });
        s.messages_new += 1;
    }

    /// D1: a status applies by precedence; every new status is recorded with Meta's timestamp and
    /// logged on the ticket. A status for a message we do not know yet is kept for later matching.
    fn status(&mut self, bn: i64, st: &StatusReport, received_at: Timestamp, s: &mut IngestSummary) {
        let skey = (bn, st.wamid.clone(), st.status_raw.clone());
        if self.loaded.known_statuses.contains(&skey) {
            s.statuses_duplicate += 1;
            return;
        }
        self.loaded.known_statuses.insert(skey);
        s.statuses_new += 1;
        let errors = if st.errors.is_empty() { None } else { serde_json::to_string(&st.errors).ok() };
        let key = (bn, st.wamid.clone());
        let mut applied = false;
        let mut ticket = None;
        let batch_index = self.batch_messages.get(&key).copied();
        let current = match batch_index {
            Some(i) => self.out.messages_new[i].delivery_state,
            None => self.loaded.targets.get(&key).and_then(|t| t.delivery_state),
        };
        if let (Some(current), Some(incoming)) = (current, st.status) {
            if let StatusOutcome::Advance(next) = apply_meta_status(current, incoming) {
                applied = true;
                let first_error = st.errors.first();
                match batch_index {
                    Some(i) => {
                        self.out.messages_new[i].delivery_state = Some(next);
                        ticket = self.out.messages_new[i].ticket_id;
                    }
                    None => {
                        if let Some(t) = self.loaded.targets.get_mut(&key) {
                            t.delivery_state = Some(next);
                            ticket = t.ticket_id;
                            self.out.message_updates.push(MessageUpdate::Delivery {
                                id: t.id,
                                state: next,
                                at: st.at,
                                error_code: first_error.map(|e| e.code),
                                error_title: first_error.map(|e| e.title.clone()),
                                error_details: first_error.and_then(|e| e.details.clone()),
                            });
                        }
                    }
                }
            } else {
                ticket = batch_index
                    .and_then(|i| self.out.messages_new[i].ticket_id)
                    .or_else(|| self.loaded.targets.get(&key).and_then(|t| t.ticket_id));
            }
        }
        if let Some(ticket_id) = ticket {
            self.out.ticket_events.push(NewTicketEvent {
                ticket_id,
                at: st.at,
                actor: "meta",
                kind: "delivery_status",
                data: serde_json::json!({"wamid": st.wamid, "status": st.status_raw, "applied": applied, "errors": st.errors}),
            });
        }
        self.out.status_events.push(NewStatusEvent {
            business_number_id: bn,
            wamid: st.wamid.clone(),
            status: st.status_raw.clone(),
            at: st.at,
            received_at,
            recipient: st.recipient.clone(),
            pricing: st.pricing.clone(),
            errors,
            applied,
            raw: st.raw.clone(),
        });
    }

    fn account_event(&mut self, bn: Option<i64>, e: &AccountEvent, received_at: Timestamp, s: &mut IngestSummary) {
        let waba = if e.waba_id.is_empty() { None } else { Some(e.waba_id.clone()) };
        let bn_text = bn.map(|b| b.to_string()).unwrap_or_default();
        let key = dedupe_key(&[waba.as_deref().unwrap_or(""), &bn_text, &e.field, &e.raw]);
        if self.out.account_events.iter().any(|a| a.dedupe_key == key) {
            return;
        }
        if let (Some(waba_id), Some(t)) = (&waba, &e.template) {
            self.out.templates.push(TemplateWrite { waba_id: waba_id.clone(), change: t.clone(), at: received_at });
        }
        self.out.account_events.push(NewAccountEvent {
            waba_id: waba,
            business_number_id: bn,
            field: e.field.clone(),
            event: e.event.clone(),
            at: received_at,
            raw: e.raw.clone(),
            dedupe_key: key,
        });
        s.account_events += 1;
    }
}

/// The template registry columns a change sets; `None` leaves a column as it is.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TemplateColumns {
    pub status: Option<String>,
    pub category: Option<String>,
    pub quality: Option<String>,
    pub reason: Option<String>,
    pub components: Option<String>,
}

pub fn template_columns(u: &TemplateUpdate) -> TemplateColumns {
    match u {
        TemplateUpdate::Status { status, category, reason } => TemplateColumns {
            status: Some(status.clone()),
            category: category.clone(),
            reason: reason.clone(),
            ..TemplateColumns::default()
        },
        TemplateUpdate::Category { category } => TemplateColumns { category: Some(category.clone()), ..TemplateColumns::default() },
        TemplateUpdate::Quality { quality } => TemplateColumns { quality: Some(quality.clone()), ..TemplateColumns::default() },
        TemplateUpdate::Components { element } => TemplateColumns { components: Some(element.clone()), ..TemplateColumns::default() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use windowdesk_core::inbound::{Forwarded, InboundMessage};
    use windowdesk_core::window::inbound_sent_at;

    fn msg(wamid: &str, wa: &str, ts: i64) -> InboundMessage {
        InboundMessage {
            wamid: wamid.into(),
            contact: ContactRef { wa_id: Some(wa.into()), profile_name: Some("Ann".into()), ..ContactRef::default() },
            sent_at: inbound_sent_at(Some(&ts.to_string()), Timestamp::from_unix_seconds(ts + 5)),
            kind: "text".into(),
            body: Some("hello".into()),
            media: None,
            reply_to: None,
            forwarded: Forwarded::No,
            has_referral: false,
            action: InboundAction::Content,
            errors: vec![],
            raw: "{}".into(),
        }
    }

    fn payload(messages: Vec<InboundMessage>) -> IngestPayload {
        IngestPayload {
            received_at: Timestamp::from_unix_seconds(2_000_000_000),
            items: vec![IngestItem::Number {
                business_number_id: 1,
                change: NumberChange { phone_number_id: "p".into(), field: "messages".into(), messages, ..NumberChange::default() },
            }],
        }
    }

    fn loaded_for(batch: &[IngestPayload]) -> Loaded {
        let n = needs(batch);
        let mut loaded = Loaded::default();
        for (i, seed) in n.identities.iter().enumerate() {
            let id = i64::try_from(i).unwrap() + 1;
            loaded.identities.insert(
                (seed.business_number_id, seed.key.clone()),
                IdentityState {
                    id,
                    contact_id: id,
                    contact_name: seed.contact_name.clone(),
                    name_is_default: true,
                    wa_id: seed.wa_id.clone(),
                    bsuid: seed.bsuid.clone(),
                    profile_name: None,
                    window: CustomerWindow::default(),
                    window_episode: None,
                },
            );
        }
        loaded.ticket_ids = (100..100 + i64::try_from(n.identities.len()).unwrap()).collect();
        loaded
    }

    #[test]
    fn t2_an_album_from_a_new_contact_makes_one_ticket() {
        let batch = vec![payload((0..5).map(|i| msg(&format!("w{i}"), "15550001111", 1000 + i)).collect())];
        let mut loaded = loaded_for(&batch);
        let (w, s) = plan(&batch, &mut loaded, WindowPolicy::WHATSAPP);
        assert_eq!(w.tickets_new.len(), 1);
        assert_eq!(s[0].messages_new, 5);
        assert!(w.messages_new.iter().all(|m| m.ticket_id == Some(100)));
        // W2: the window follows the newest sent_at.
        assert_eq!(w.identity_updates[&1].last_inbound_at, Some(Timestamp::from_unix_seconds(1004)));
    }

    #[test]
    fn i4_duplicates_in_one_batch_collapse() {
        let batch = vec![payload(vec![msg("w1", "15550001111", 1000)]), payload(vec![msg("w1", "15550001111", 1000)])];
        let mut loaded = loaded_for(&batch);
        let (w, s) = plan(&batch, &mut loaded, WindowPolicy::WHATSAPP);
        assert_eq!(w.messages_new.len(), 1);
        assert_eq!(s[1].messages_duplicate, 1);
    }

    #[test]
    fn t2_closed_ticket_gets_a_linked_follow_up() {
        let batch = vec![payload(vec![msg("w1", "15550001111", 1000)])];
        let mut loaded = loaded_for(&batch);
        loaded.newest_tickets.insert(1, TicketSnapshot { id: 7, status: TicketStatus::Closed });
        let (w, _) = plan(&batch, &mut loaded, WindowPolicy::WHATSAPP);
        assert_eq!(w.tickets_new[0].followup_of, Some(7));
        assert!(w.ticket_events.iter().any(|e| e.ticket_id == 7 && e.kind == "followup_created"));
    }

    #[test]
    fn s9_a_customer_who_writes_releases_their_held_replies_with_the_new_window_end() {
        let received = 2_000_000_000;
        let batch = vec![payload(vec![msg("w1", "15550001111", received - 5)])];
        let mut loaded = loaded_for(&batch);
        let (w, _) = plan(&batch, &mut loaded, WindowPolicy::WHATSAPP);
        assert_eq!(
            w.held_releases,
            [HeldRelease {
                identity_id: 1,
                window_end: Timestamp::from_unix_seconds(received - 5 + 24 * 3600),
                at: Timestamp::from_unix_seconds(received),
            }]
        );
    }

    #[test]
    fn s9_a_message_that_arrives_after_its_window_closed_releases_nothing() {
        // Sent 25 h before the desk received it (Meta retried for a day): the window it opened is
        // already over, so a held reply would only fail at Meta.
        let received = 2_000_000_000;
        let batch = vec![payload(vec![msg("w1", "15550001111", received - 25 * 3600)])];
        let mut loaded = loaded_for(&batch);
        let (w, _) = plan(&batch, &mut loaded, WindowPolicy::WHATSAPP);
        assert!(w.identity_updates.contains_key(&1));
        assert!(w.held_releases.is_empty(), "{:?}", w.held_releases);
    }
}
