//! Sending on a ticket: the one path every sender goes through (W8). Each function asks the core's
//! send decision with the window as stored, commits what it allows to the outbox, and wakes the
//! dispatcher. What the window forbids is not stored as if it could go: the caller gets `Blocked` with
//! the ways out, in the order of the business number's fallback ladder (SPEC 9).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use windowdesk_core::decision::{MessageCategory, MonthVolume, PriceInputs, SmsPrice};
use windowdesk_core::pricing::RateBook;
use windowdesk_core::template::{self, TemplateDef, TemplateParams};
use windowdesk_core::window::WindowPolicy;
use windowdesk_core::{decide, Fallback, Outgoing, SendContext, SendDecision, SendOption, TicketStatus, Timestamp};
use windowdesk_store::{
    Channel, CostEstimate, Enqueued, HoldNoticeSlot, IdentityRow, NewOutbound, NumberSettings, Resolution, StoreError, TicketRow,
};
use windowdesk_whatsapp::client::text_message;
use windowdesk_whatsapp::templates::template_message;
use windowdesk_whatsapp::Recipient;

use crate::AppState;

/// WhatsApp's limit for a text message body.
pub const MAX_TEXT_CHARS: usize = 4096;

#[derive(Debug, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ReplyOutcome {
    /// Committed to the outbox; the dispatcher sends it.
    Queued { message_id: i64, window_end: Option<Timestamp> },
    /// Committed held: it goes out when the customer writes again, or fails as expired at `expires_at`.
    Held { message_id: i64, expires_at: Timestamp, notice: Option<HoldNotice> },
    /// The window is closed (or never opened): nothing was stored or sent.
    Blocked { window_end: Option<Timestamp>, options: Vec<SendOption> },
}

/// The "a reply is waiting for you" template sent along with a hold.
#[derive(Debug, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum HoldNotice {
    Queued {
        message_id: i64,
        template: String,
    },
    /// Not sent again: the customer already has the notice of this closed-window episode (SPEC 9:
    /// at most one per episode, however many replies are held).
    AlreadySent {
        message_id: Option<i64>,
        template: String,
    },
    /// The configured notice could not be sent (the reply is held all the same).
    NotSent {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("ticket {0} does not exist")]
    NoTicket(i64),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ReplyError {
    ReplyError::Invalid { field: field.into(), message: message.into() }
}

/// A number's fallback settings, or the defaults when it has none yet.
pub async fn settings_of(state: &AppState, business_number_id: i64) -> Result<NumberSettings, StoreError> {
    Ok(state.store.number_settings(business_number_id).await?.unwrap_or_else(|| NumberSettings {
        business_number_id,
        fallback_ladder: Fallback::DEFAULT_LADDER.to_vec(),
        hold_notice_template: None,
        hold_notice_language: None,
        hold_hours: state.fallbacks.default_hold_hours,
        sms_from: None,
        read_receipts: true,
        typing_indicator: true,
        updated_at: state.clock.now(),
        updated_by: None,
    }))
}

/// Everything the send decision needs about one ticket, loaded once.
pub struct Outlook {
    pub ticket: TicketRow,
    pub identity: IdentityRow,
    pub templates: Vec<TemplateDef>,
    pub settings: NumberSettings,
    pub sms_configured: bool,
    pub now: Timestamp,
    /// The desk's window policy, with its send guard (W9).
    pub policy: WindowPolicy,
    /// The rate cards (SPEC 11), the month's volume and the SMS price, for the decision's amounts.
    pub rates: Arc<RateBook>,
    pub volume: MonthVolume,
    pub sms_price: Option<SmsPrice>,
}

impl Outlook {
    /// The ticket with everything the decision can need: its window, the account's templates and the
    /// number's fallback settings.
    pub async fn load(state: &AppState, ticket_id: i64) -> Result<Outlook, ReplyError> {
        let mut o = Self::load_window(state, ticket_id).await?;
        o.load_ways_out(state).await?;
        Ok(o)
    }

    /// The ticket and its window only (one query): enough for a free-form reply while the window is
    /// open, which is most of them, and every round trip here is part of the reply's latency. The
    /// ways out are loaded only when the window blocks ([`Outlook::load_ways_out`]).
    pub async fn load_window(state: &AppState, ticket_id: i64) -> Result<Outlook, ReplyError> {
        let (ticket, identity) = state.store.ticket_with_identity(ticket_id).await?.ok_or(ReplyError::NoTicket(ticket_id))?;
        let identity = identity.ok_or_else(|| StoreError::Corrupt(format!("ticket {ticket_id} has no identity")))?;
        let now = state.clock.now();
        let settings = NumberSettings {
            business_number_id: ticket.business_number_id,
            fallback_ladder: Vec::new(),
            hold_notice_template: None,
            hold_notice_language: None,
            hold_hours: state.fallbacks.default_hold_hours,
            sms_from: None,
            read_receipts: true,
            typing_indicator: true,
            updated_at: now,
            updated_by: None,
        };
        // Cached (read again at most once a minute): no round trip on a reply's path.
        let rates = state.pricing.book(state.store.as_ref()).await?;
        Ok(Outlook {
            ticket,
            identity,
            templates: Vec::new(),
            settings,
            sms_configured: false,
            now,
            policy: state.policy,
            rates,
            volume: MonthVolume::default(),
            sms_price: state.fallbacks.sms_price.clone(),
        })
    }

    pub async fn load_ways_out(&mut self, state: &AppState) -> Result<(), ReplyError> {
        self.templates = crate::templates::account_templates(state, self.ticket.business_number_id).await?;
        self.settings = settings_of(state, self.ticket.business_number_id).await?;
        self.sms_configured = state.fallbacks.sms_enabled && self.settings.sms_from.is_some() && self.identity.wa_id.is_some();
        self.volume = month_volume(state, self.ticket.business_number_id, self.identity.wa_id.as_deref(), &self.rates, self.now).await?;
        Ok(())
    }

    pub fn context(&self) -> SendContext<'_> {
        SendContext {
            window: &self.identity.window,
            policy: self.policy,
            now: self.now,
            templates: &self.templates,
            ladder: &self.settings.fallback_ladder,
            sms_configured: self.sms_configured,
            hold_for: Duration::from_secs(u64::try_from(self.settings.hold_hours.max(1)).unwrap_or(1) * 3600),
            pricing: Some(PriceInputs {
                book: &self.rates,
                recipient: self.identity.wa_id.as_deref(),
                volume: &self.volume,
                conversations: &[],
                sms: self.sms_price.as_ref(),
            }),
        }
    }

    /// What a message of `category` sent now is estimated to cost, as stored with it (SPEC 11).
    pub fn estimate(&self, category: MessageCategory) -> CostEstimate {
        let price = windowdesk_core::decision::price(&self.context(), category);
        CostEstimate {
            category: category.as_str().to_owned(),
            market: price.market,
            currency: price.currency,
            micros: price.amount.and_then(windowdesk_core::pricing::to_micros),
            free_because: price.free_because.map(str::to_owned),
            card: price.card,
        }
    }

    pub fn window_end(&self) -> Option<Timestamp> {
        self.identity.window.window_end(self.policy)
    }

    /// Who WhatsApp delivers to (SPEC 9): the phone number in `to`, else the business-scoped user id
    /// in `recipient`. An identity always has one of them; its key is the last resort.
    pub(crate) fn recipient(&self) -> Recipient<'_> {
        let i = &self.identity;
        Recipient::of(i.wa_id.as_deref(), i.bsuid.as_deref()).unwrap_or_else(|| {
            if i.identity_key.contains('.') {
                Recipient::Bsuid(&i.identity_key)
            } else {
                Recipient::Phone(&i.identity_key)
            }
        })
    }

    pub fn writable(&self) -> Result<(), ReplyError> {
        if self.ticket.status == TicketStatus::Closed {
            return Err(ReplyError::Conflict(format!("ticket {} is closed; closed tickets are read-only", self.ticket.id)));
        }
        Ok(())
    }

    pub fn template(&self, name: &str, language: &str) -> Option<&TemplateDef> {
        self.templates.iter().find(|t| t.name == name && t.language == language)
    }
}

/// The month's volume for pricing a template to `recipient` (SPEC 11): the account's charged
/// messages to the recipient's market this month, and the tiers Meta reported for it.
pub async fn month_volume(
    state: &AppState,
    business_number_id: i64,
    recipient: Option<&str>,
    rates: &RateBook,
    now: Timestamp,
) -> Result<MonthVolume, StoreError> {
    let Some(recipient) = recipient else {
        return Ok(MonthVolume::default());
    };
    let market = rates.market_of(recipient, now);
    let month = windowdesk_core::pricing::month_of(now);
    let sent = state
        .store
        .month_volume(business_number_id, &month, market.as_str())
        .await?
        .into_iter()
        .filter_map(|(c, n)| windowdesk_core::pricing::Category::parse(&c).ok().map(|c| (c, n)))
        .collect();
    let tiers = crate::costs::tier_updates(state, business_number_id).await?;
    let reported_tier_from = windowdesk_core::pricing::volume::reported_tiers(&tiers, &month, &market);
    Ok(MonthVolume { sent, reported_tier_from })
}

/// A message's text, trimmed: it must not be blank, and at most `max` characters as given (the limit the
/// API documents, so surrounding whitespace counts).
pub fn checked_text(body: &str, max: usize) -> Result<&str, ReplyError> {
    if body.chars().count() > max {
        return Err(invalid("body", format!("is longer than {max} characters")));
    }
    if body.contains('\u{0}') {
        return Err(invalid("body", "must not contain the NUL character (U+0000)"));
    }
    let text = body.trim();
    if text.is_empty() {
        return Err(invalid("body", "must not be empty"));
    }
    Ok(text)
}

pub(crate) async fn commit(state: &AppState, o: &Outlook, msg: NewOutbound) -> Result<Enqueued, ReplyError> {
    let ticket_id = o.ticket.id;
    let queued = state.store.enqueue(&msg).await.map_err(|e| match e {
        StoreError::Conflict(m) => ReplyError::Conflict(m),
        StoreError::NotFound(_) => ReplyError::NoTicket(ticket_id),
        other => ReplyError::Store(other),
    })?;
    state.outbox_queued();
    state.events.ticket(ticket_id);
    Ok(queued)
}

pub(crate) fn outbound(o: &Outlook, kind: &str, body: &str, author: &str, request: String, channel: Channel) -> NewOutbound {
    NewOutbound {
        ticket_id: o.ticket.id,
        kind: kind.to_owned(),
        body: Some(body.to_owned()),
        author: author.to_owned(),
        request,
        free_form: kind == "text",
        window_end: if kind == "text" { o.window_end() } else { None },
        now: o.now,
        channel,
        hold_until: None,
        replaces: None,
        dedupe_key: None,
        media: None,
        reply_to_wamid: None,
        // Text and media are service messages (sent inside the window, or when a held reply is
        // released by the customer's next message); a template's category replaces this.
        estimate: Some(o.estimate(if channel == Channel::Sms { MessageCategory::Sms } else { MessageCategory::Service })),
    }
}

/// Posts a free-form text reply on a ticket, from `author` (`agent:<id>`, `api:<token>`, `rule:<id>`).
pub async fn post_text_reply(state: &AppState, ticket_id: i64, body: &str, author: &str) -> Result<ReplyOutcome, ReplyError> {
    post_text_reply_keyed(state, ticket_id, body, author, None).await
}

/// [`post_text_reply`] with a dedupe key: a second reply with the same key queues nothing and answers
/// with the first (an automation picked up again after its instance died).
pub async fn post_text_reply_keyed(
    state: &AppState,
    ticket_id: i64,
    body: &str,
    author: &str,
    dedupe: Option<&str>,
) -> Result<ReplyOutcome, ReplyError> {
    post_text(state, ticket_id, body, author, dedupe, None).await
}

/// [`post_text_reply`] as an answer to one of the customer's messages on this ticket (`reply_to`, a
/// message id): WhatsApp shows that message quoted above the reply (`context.message_id`).
pub async fn post_text_reply_to(
    state: &AppState,
    ticket_id: i64,
    body: &str,
    author: &str,
    reply_to: Option<i64>,
) -> Result<ReplyOutcome, ReplyError> {
    post_text(state, ticket_id, body, author, None, reply_to).await
}

/// The wamid of customer message `message_id` on this ticket, which a reply may quote.
pub async fn quotable(state: &AppState, ticket_id: i64, message_id: i64) -> Result<String, ReplyError> {
    let messages = state.store.ticket_messages(ticket_id).await?;
    let m = messages
        .iter()
        .find(|m| m.id == message_id)
        .ok_or_else(|| invalid("reply_to", format!("message {message_id} is not on ticket {ticket_id}")))?;
    if m.direction != windowdesk_store::Direction::Inbound || m.revoked_at.is_some() {
        return Err(invalid("reply_to", format!("message {message_id} is not a message from the customer that can be quoted")));
    }
    m.wamid.clone().ok_or_else(|| invalid("reply_to", format!("message {message_id} has no WhatsApp id to quote")))
}

async fn post_text(
    state: &AppState,
    ticket_id: i64,
    body: &str,
    author: &str,
    dedupe: Option<&str>,
    reply_to: Option<i64>,
) -> Result<ReplyOutcome, ReplyError> {
    let text = checked_text(body, MAX_TEXT_CHARS)?;
    let quoted = match reply_to {
        Some(id) => Some(quotable(state, ticket_id, id).await?),
        None => None,
    };
    let mut o = Outlook::load_window(state, ticket_id).await?;
    o.writable()?;
    let mut decision = decide(&o.context(), &Outgoing::FreeForm);
    if matches!(decision, SendDecision::Blocked { .. }) {
        o.load_ways_out(state).await?;
        decision = decide(&o.context(), &Outgoing::FreeForm);
    }
    match decision {
        SendDecision::Send { .. } => {
            let mut request = text_message(o.recipient(), text);
            if let Some(wamid) = &quoted {
                request = windowdesk_whatsapp::client::replying_to(request, wamid);
            }
            let msg = NewOutbound {
                dedupe_key: dedupe.map(str::to_owned),
                reply_to_wamid: quoted,
                ..outbound(&o, "text", text, author, request.to_string(), Channel::Whatsapp)
            };
            let Enqueued { message_id, .. } = commit(state, &o, msg).await?;
            Ok(ReplyOutcome::Queued { message_id, window_end: o.window_end() })
        }
        SendDecision::Blocked { window_end, options } => Ok(ReplyOutcome::Blocked { window_end, options }),
        SendDecision::Invalid { reason, .. } => Err(invalid("body", reason)),
    }
}

/// Holds a free-form reply until the customer writes again (SPEC 9): offered only while the window is
/// closed and the number's ladder has `hold`. Sends the number's "reply waiting" template if set.
pub async fn hold_reply(state: &AppState, ticket_id: i64, body: &str, author: &str) -> Result<ReplyOutcome, ReplyError> {
    hold_reply_for(state, ticket_id, body, author, None).await
}

/// [`hold_reply`], or with `hours` given (a rule's `hold_reply` action, whose admin chose the hold
/// explicitly), held for that long whether or not the number's ladder offers holding.
pub async fn hold_reply_for(
    state: &AppState,
    ticket_id: i64,
    body: &str,
    author: &str,
    hours: Option<i64>,
) -> Result<ReplyOutcome, ReplyError> {
    hold_reply_keyed(state, ticket_id, body, author, hours, None).await
}

/// [`hold_reply_for`] with a dedupe key, as [`post_text_reply_keyed`].
pub async fn hold_reply_keyed(
    state: &AppState,
    ticket_id: i64,
    body: &str,
    author: &str,
    hours: Option<i64>,
    dedupe: Option<&str>,
) -> Result<ReplyOutcome, ReplyError> {
    let text = checked_text(body, MAX_TEXT_CHARS)?;
    let o = Outlook::load(state, ticket_id).await?;
    o.writable()?;
    let expires_at = match decide(&o.context(), &Outgoing::FreeForm) {
        SendDecision::Send { .. } => {
            return Err(ReplyError::Conflict("the window is open: send the reply now instead of holding it".into()));
        }
        SendDecision::Invalid { reason, .. } => return Err(invalid("body", reason)),
        SendDecision::Blocked { options, .. } => hold_expiry(&options, hours, o.now)?,
    };
    let request = text_message(o.recipient(), text).to_string();
    let msg = NewOutbound {
        hold_until: Some(expires_at),
        dedupe_key: dedupe.map(str::to_owned),
        ..outbound(&o, "text", text, author, request, Channel::Whatsapp)
    };
    let Enqueued { message_id, .. } = commit(state, &o, msg).await?;
    let notice = send_hold_notice(state, &o, author).await;
    Ok(ReplyOutcome::Held { message_id, expires_at, notice })
}

/// Until when a reply the window blocks is held: `hours` from now when given (a rule's `hold_reply`
/// action, whose admin chose the hold explicitly, whether or not the number's ladder offers holding),
/// else the hold the ladder offers; refused when it offers none.
pub(crate) fn hold_expiry(options: &[SendOption], hours: Option<i64>, now: Timestamp) -> Result<Timestamp, ReplyError> {
    match hours {
        Some(hours) => Ok(now.plus(std::time::Duration::from_secs(u64::try_from(hours.max(1)).unwrap_or(1) * 3600))),
        None => options
            .iter()
            .find_map(|opt| if let SendOption::Hold { expires_at } = opt { Some(*expires_at) } else { None })
            .ok_or_else(|| ReplyError::Conflict("holding replies is not among this business number's fallbacks".into())),
    }
}

/// The number's "a reply is waiting" template, once per closed-window episode of the customer: the
/// store keys it by their last inbound message, so further holds (even concurrent ones, even on other
/// instances) send nothing until the customer has written again and the window has closed again.
pub(crate) async fn send_hold_notice(state: &AppState, o: &Outlook, author: &str) -> Option<HoldNotice> {
    let (name, language) = (o.settings.hold_notice_template.as_deref()?, o.settings.hold_notice_language.as_deref()?);
    let params = o.template(name, language).map(|def| prefill(def, o)).unwrap_or_default();
    let send = TemplateSend { name: name.to_owned(), language: language.to_owned(), params };
    let slot = match template_outbound(o, &send, author, None) {
        Ok(msg) => state.store.enqueue_hold_notice(&msg).await.map_err(|e| match e {
            StoreError::Conflict(m) => ReplyError::Conflict(m),
            StoreError::NotFound(_) => ReplyError::NoTicket(o.ticket.id),
            other => ReplyError::Store(other),
        }),
        Err(e) => Err(e),
    };
    Some(match slot {
        Ok(HoldNoticeSlot::Queued(queued)) => {
            state.outbox_queued();
            state.events.ticket(o.ticket.id);
            HoldNotice::Queued { message_id: queued.message_id, template: name.to_owned() }
        }
        Ok(HoldNoticeSlot::AlreadySent { message_id }) => HoldNotice::AlreadySent { message_id, template: name.to_owned() },
        Err(e) => {
            tracing::warn!(ticket_id = o.ticket.id, error = %e, "the hold notice template was not sent");
            HoldNotice::NotSent { reason: e.to_string() }
        }
    })
}

/// A template send as callers give it.
#[derive(Clone, Debug, Default)]
pub struct TemplateSend {
    pub name: String,
    pub language: String,
    pub params: TemplateParams,
}

/// Sends an approved template (inside or outside the window). Every parameter is checked before
/// anything is stored; the error names the one at fault (`parameters.body.{{2}}`).
pub async fn post_template(
    state: &AppState,
    ticket_id: i64,
    send: &TemplateSend,
    author: &str,
    replaces: Option<i64>,
) -> Result<ReplyOutcome, ReplyError> {
    post_template_keyed(state, ticket_id, send, author, replaces, None).await
}

/// [`post_template`] with a dedupe key, as [`post_text_reply_keyed`].
pub async fn post_template_keyed(
    state: &AppState,
    ticket_id: i64,
    send: &TemplateSend,
    author: &str,
    replaces: Option<i64>,
    dedupe: Option<&str>,
) -> Result<ReplyOutcome, ReplyError> {
    let o = Outlook::load(state, ticket_id).await?;
    o.writable()?;
    let msg = NewOutbound { dedupe_key: dedupe.map(str::to_owned), ..template_outbound(&o, send, author, replaces)? };
    let message_id = commit(state, &o, msg).await?.message_id;
    Ok(ReplyOutcome::Queued { message_id, window_end: None })
}

/// A template send, checked parameter by parameter, as the outbox stores it.
fn template_outbound(o: &Outlook, send: &TemplateSend, author: &str, replaces: Option<i64>) -> Result<NewOutbound, ReplyError> {
    let outgoing = Outgoing::Template { name: send.name.clone(), language: send.language.clone(), params: send.params.clone() };
    match decide(&o.context(), &outgoing) {
        SendDecision::Send { .. } => {}
        SendDecision::Invalid { reason, parameter } => {
            return Err(invalid(parameter.map_or_else(|| "template".to_owned(), |p| format!("parameters.{p}")), reason));
        }
        SendDecision::Blocked { .. } => return Err(ReplyError::Conflict("templates are never blocked by the window".into())),
    }
    let def = o.template(&send.name, &send.language).ok_or_else(|| invalid("template", "unknown template"))?;
    let valid = template::validate(def, &send.params).map_err(|e| invalid(e.parameter.unwrap_or_default(), e.reason))?;
    let text = template::preview(def, &send.params).to_text();
    let request = template_message(o.recipient(), &valid).to_string();
    Ok(NewOutbound {
        replaces: replaces.map(|r| (r, Resolution::Template)),
        estimate: Some(o.estimate(windowdesk_core::decision::category_of(def))),
        ..outbound(o, "template", &text, author, request, Channel::Whatsapp)
    })
}

/// Twilio's limit for one message body.
pub const MAX_SMS_CHARS: usize = 1600;

/// Sends the reply as an SMS with a link back to WhatsApp (SPEC 9). No WhatsApp window applies, but
/// the number needs an SMS sender and the contact a phone number.
pub async fn post_sms(
    state: &AppState,
    ticket_id: i64,
    body: &str,
    author: &str,
    replaces: Option<i64>,
) -> Result<ReplyOutcome, ReplyError> {
    post_sms_keyed(state, ticket_id, body, author, replaces, None).await
}

/// [`post_sms`] with a dedupe key, as [`post_text_reply_keyed`].
pub async fn post_sms_keyed(
    state: &AppState,
    ticket_id: i64,
    body: &str,
    author: &str,
    replaces: Option<i64>,
    dedupe: Option<&str>,
) -> Result<ReplyOutcome, ReplyError> {
    let text = checked_text(body, MAX_TEXT_CHARS)?;
    let o = Outlook::load(state, ticket_id).await?;
    o.writable()?;
    if !state.fallbacks.sms_enabled {
        return Err(ReplyError::Conflict("SMS is not set up on this desk ([sms] in the configuration)".into()));
    }
    let Some(from) = o.settings.sms_from.clone() else {
        return Err(ReplyError::Conflict("this business number has no SMS sender (sms_from) configured".into()));
    };
    let Some(wa_id) = o.identity.wa_id.as_deref() else {
        return Err(ReplyError::Conflict("this contact is known only by a WhatsApp user id, without a phone number to text".into()));
    };
    if let SendDecision::Invalid { reason, .. } = decide(&o.context(), &Outgoing::Sms) {
        return Err(ReplyError::Conflict(reason));
    }
    let display = state.numbers.by_id(o.ticket.business_number_id).map(|n| n.display_number.clone()).unwrap_or_default();
    let sms_body = windowdesk_sms::fallback_body(text, &display);
    let request = serde_json::json!({"from": from, "to": format!("+{wa_id}"), "body": sms_body}).to_string();
    let msg = NewOutbound {
        replaces: replaces.map(|r| (r, Resolution::Sms)),
        dedupe_key: dedupe.map(str::to_owned),
        ..outbound(&o, "sms", &sms_body, author, request, Channel::Sms)
    };
    let Enqueued { message_id, .. } = commit(state, &o, msg).await?;
    Ok(ReplyOutcome::Queued { message_id, window_end: None })
}

/// Template parameters the desk can fill itself: names that mean the customer's name or the ticket
/// number, so the picker's form (and the hold notice) starts filled in.
pub fn prefill(def: &TemplateDef, o: &Outlook) -> TemplateParams {
    let name = o.identity.contact_name.clone();
    let first = name.split_whitespace().next().unwrap_or_default().to_owned();
    let value_for = |param: &str| -> Option<String> {
        let key = param.to_ascii_lowercase().replace(['-', ' '], "_");
        let v = match key.as_str() {
            "first_name" | "firstname" | "customer_first_name" => first.clone(),
            "name" | "customer_name" | "full_name" => name.clone(),
            "ticket" | "ticket_id" | "ticket_number" => o.ticket.id.to_string(),
            _ => return None,
        };
        Some(v).filter(|v| !v.is_empty())
    };
    let mut params = TemplateParams::default();
    for p in def.body_params() {
        if let Some(v) = value_for(&p) {
            params.body.insert(p, template::ParamValue::text(v));
        }
    }
    if let Some(v) = def.header_param().and_then(|p| value_for(&p)) {
        params.header = Some(template::ParamValue::text(v));
    }
    params
}
