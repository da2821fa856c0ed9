//! The ways out of a closed window on the ticket page (SPEC 9): hold the reply until the customer
//! writes again, send it via SMS, or an approved template, offered in the business number's ladder
//! order; and what agents do about failed, blocked or expired messages (D4), on the ticket and in
//! the Failed deliveries list. Every action is a plain form post with the session's CSRF token.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use windowdesk_core::{Fallback, TicketStatus, Timestamp};
use windowdesk_store::OutboundMessage;

use super::format;
use super::picker::price_note;
use super::session::Agent;
use super::{reply_error, WebError};
use crate::deliveries::{self, ResendAs};
use crate::replies::{HoldNotice, Outlook, ReplyError, ReplyOutcome, MAX_TEXT_CHARS};
use crate::AppState;

/// What one ticket can do now about a closed window or a failed message.
#[derive(Clone, Debug)]
pub struct WaysOut {
    pub ticket_id: i64,
    pub window_open: bool,
    /// The ladder's steps this ticket can use, most preferred first.
    pub steps: Vec<Fallback>,
    pub hold_hours: i64,
    pub hold_expires_at: Timestamp,
    pub hold_notice: Option<String>,
    pub sms_configured: bool,
    pub sms_from: Option<String>,
    pub sms_to: Option<String>,
    /// `https://wa.me/<number>`, carried by every SMS fallback.
    pub whatsapp_link: String,
    pub writable: bool,
    /// What each way costs now (SPEC 11), as the template picker words it.
    pub prices: WayPrices,
}

/// The price notes of the composer and the ways out: what a free-form reply costs now, a held
/// reply when it goes out (inside the window the customer's next message opens), the hold notice
/// template, an SMS, and utility and marketing templates, all from the rate card in force.
#[derive(Clone, Debug, Default)]
pub struct WayPrices {
    pub reply: String,
    pub held: String,
    pub hold_notice: Option<String>,
    pub sms: Option<String>,
    pub templates: Vec<String>,
}

impl WayPrices {
    fn of(o: &Outlook) -> WayPrices {
        use windowdesk_core::decision::SendContext;
        use windowdesk_core::decision::{price, quote_template, MessageCategory as M};
        let ctx = o.context();
        // The ways out are on the page, hidden, while the window is open and show when it closes:
        // they are priced as of then.
        let closes = o.identity.window.window_end(o.policy).filter(|end| *end > o.now).unwrap_or(o.now);
        let closed = SendContext { now: closes, ..o.context() };
        // A held reply goes out when the customer writes again: priced in the window that opens.
        let mut reopened = o.identity.window;
        reopened.record_inbound(closes, true, false);
        let held = price(&SendContext { window: &reopened, now: closes, ..o.context() }, M::Service);
        let hold_notice = match (o.settings.hold_notice_template.as_deref(), o.settings.hold_notice_language.as_deref()) {
            (Some(name), Some(language)) => o
                .templates
                .iter()
                .find(|t| t.name == name && t.language == language && t.is_approved())
                .map(|t| price_note(&quote_template(&closed, t))),
            _ => None,
        };
        WayPrices {
            reply: price_note(&price(&ctx, M::Service)),
            held: match held.text.strip_prefix("free: ") {
                Some(why) if !held.billable => format!("Free when it goes out ({why})."),
                _ => format!("When it goes out: {}", price_note(&held)),
            },
            hold_notice,
            sms: o.sms_configured.then(|| {
                let p = price(&closed, M::Sms);
                match (p.amount, p.currency) {
                    (Some(amount), Some(currency)) => format!("{} {currency} a message, charged by the SMS provider.", amount.normalize()),
                    _ => "The SMS price is not configured (sms.price_per_message), so it is not counted in cost reports.".to_owned(),
                }
            }),
            templates: [M::Utility, M::Marketing].into_iter().map(|c| price_note(&price(&closed, c))).collect(),
        }
    }
}

impl WaysOut {
    pub fn of(state: &AppState, o: &Outlook) -> WaysOut {
        let approved = o.templates.iter().any(|t| t.is_approved());
        let mut steps = Vec::new();
        for step in &o.settings.fallback_ladder {
            let usable = match step {
                Fallback::Hold => true,
                Fallback::Sms => o.sms_configured,
                Fallback::Template => approved,
            };
            if usable && !steps.contains(step) {
                steps.push(*step);
            }
        }
        let display = state.numbers.by_id(o.ticket.business_number_id).map(|n| n.display_number.clone()).unwrap_or_default();
        let hold_hours = o.settings.hold_hours.max(1);
        WaysOut {
            ticket_id: o.ticket.id,
            window_open: o.identity.window.is_open(o.policy, o.now),
            steps,
            hold_hours,
            hold_expires_at: o.now.plus(std::time::Duration::from_secs(u64::try_from(hold_hours).unwrap_or(1) * 3600)),
            hold_notice: o.settings.hold_notice_template.clone(),
            sms_configured: o.sms_configured,
            sms_from: o.settings.sms_from.clone(),
            sms_to: o.identity.wa_id.as_deref().map(windowdesk_core::phone::display_international),
            whatsapp_link: windowdesk_sms::continue_on_whatsapp_link(&display),
            writable: o.ticket.status != TicketStatus::Closed,
            prices: WayPrices::of(o),
        }
    }

    pub fn has(&self, step: Fallback) -> bool {
        self.steps.contains(&step)
    }
}

/// The composer's panel while the window is closed: the reply box and each way out, one click each.
pub fn closed_panel(w: &WaysOut, agent: &Agent, draft: Option<&str>, problem: Option<&str>) -> Markup {
    let id = w.ticket_id;
    let tz = agent.tz();
    html! {
        div.closed-panel #composer-closed hidden[w.window_open] {
            p.closed-title #closed-title { strong { "The customer service window is closed." } }
            p { "WhatsApp delivers free-form messages only within 24 hours of the customer's last message. "
                "When the customer writes again the window reopens and so does the reply box. Until then:" }
            @if w.steps.is_empty() {
                p.notice.bad #no-ways-out { "This business number has no way out of a closed window set up. An admin can choose them on the Business numbers page." }
            }
            form #closed-form method="post" action={"/tickets/" (id) "/hold"} aria-labelledby="closed-title" data-inplace="held" {
                input type="hidden" name="csrf" value=(agent.csrf());
                @if w.has(Fallback::Hold) || w.has(Fallback::Sms) {
                    label for="held-body" { "Your reply" }
                    textarea #held-body name="body" rows="3" maxlength=(MAX_TEXT_CHARS)
                        aria-invalid=[problem.map(|_| "true")] aria-describedby=[problem.map(|_| "held-problem")] { (draft.unwrap_or("")) }
                    (super::ticket::problem_line("held-problem", "Not sent", problem))
                }
                ol.ways-out #ways-out aria-label="Ways out, in this number's order of preference" {
                    @for step in &w.steps {
                        @match step {
                            Fallback::Hold => li.way data-way="hold" {
                                button #hold-reply type="submit" formaction={"/tickets/" (id) "/hold"} { "Hold until the customer writes" }
                                p.hint { "Delivered automatically, in order, the moment the customer writes again. If they do not within "
                                    (w.hold_hours) " h (by " time datetime=(format::iso(w.hold_expires_at)) { (format::full_time(w.hold_expires_at, tz)) }
                                    ") it shows as failed."
                                    @if let Some(t) = &w.hold_notice { " The template " q { (t) } " tells them a reply is waiting." } }
                                p.price #held-price { (w.prices.held)
                                    @if let Some(n) = &w.prices.hold_notice { " The notice template: " (n) } }
                            },
                            Fallback::Sms => li.way data-way="sms" {
                                button #send-sms type="submit" formaction={"/tickets/" (id) "/sms"} { "Send via SMS" }
                                p.hint #sms-note { "Sent as a text message"
                                    @if let Some(to) = &w.sms_to { " to " (to) }
                                    @if let Some(from) = &w.sms_from { " from " (from) }
                                    ", with a link to continue on WhatsApp: " span.link-text { (w.whatsapp_link) } "." }
                                @if let Some(p) = &w.prices.sms { p.price #sms-price { (p) } }
                            },
                            Fallback::Template => li.way data-way="template" {
                                a.button #choose-template href={"/tickets/" (id) "?pick=1#picker"} { "Send an approved template" }
                                p.hint { "Templates are approved by Meta in advance and reach the customer at any time; most are billable." }
                                ul.price #template-prices aria-label="What a template costs now" {
                                    @for p in &w.prices.templates { li { (p) } }
                                }
                            },
                        }
                    }
                }
            }
        }
    }
}

/// What can be done about one failed, blocked or expired message, or what was done.
pub fn deal(m: &OutboundMessage, w: &WaysOut, agent: &Agent, back: &str) -> Markup {
    let id = m.message_id;
    let free_form_whatsapp = m.free_form && m.channel == "whatsapp";
    html! {
        @match m.resolution.as_deref() {
            Some("dismissed") => p.resolved #{"resolved-" (id)} data-resolution="dismissed" { "Dismissed: it was not delivered, and it is off the Failed deliveries list." },
            Some(r) => p.resolved #{"resolved-" (id)} data-resolution=(r) {
                @if r == "sms" { "Replaced by an SMS" } @else { "Replaced by a template" }
                @if let Some(by) = m.replaced_by { " (" a href={"/tickets/" (m.ticket_id) "#m" (by)} { "see it" } ")" }
                "."
            },
            None if w.writable => div.deal role="group" aria-label="What to do about this message" {
                @if !free_form_whatsapp || w.window_open {
                    form.inline method="post" action={"/deliveries/" (id) "/resend"} {
                        input type="hidden" name="csrf" value=(agent.csrf());
                        input type="hidden" name="as" value="as_is";
                        input type="hidden" name="back" value=(back);
                        button.resend type="submit" data-action="as_is" { "Resend as is" }
                    }
                }
                a.button.alt href={"/tickets/" (m.ticket_id) "?pick=1&replaces=" (id) "#picker"} data-action="template" { "Send as template" }
                @if w.sms_configured && m.channel != "sms" {
                    form.inline method="post" action={"/deliveries/" (id) "/resend"} {
                        input type="hidden" name="csrf" value=(agent.csrf());
                        input type="hidden" name="as" value="sms";
                        input type="hidden" name="back" value=(back);
                        button.alt type="submit" data-action="sms" { "Send via SMS" }
                    }
                }
                @if free_form_whatsapp && !w.window_open && w.has(Fallback::Hold) {
                    form.inline method="post" action={"/deliveries/" (id) "/resend"} {
                        input type="hidden" name="csrf" value=(agent.csrf());
                        input type="hidden" name="as" value="hold";
                        input type="hidden" name="back" value=(back);
                        button.alt type="submit" data-action="hold" { "Hold until the customer writes" }
                    }
                }
                form.inline method="post" action={"/deliveries/" (id) "/dismiss"} {
                    input type="hidden" name="csrf" value=(agent.csrf());
                    input type="hidden" name="back" value=(back);
                    button.quiet type="submit" data-action="dismiss" { "Dismiss" }
                }
            },
            None => {},
        }
    }
}

/// The "held" badge of a held reply, with when it expires.
pub fn held_badge(expires_at: Option<Timestamp>, agent: &Agent) -> Markup {
    html! {
        p.badge.held.held-badge {
            "Held: will be delivered when the customer writes again"
            @if let Some(at) = expires_at {
                " (expires " time datetime=(format::iso(at)) { (format::full_time(at, agent.tz())) } ")"
            }
        }
    }
}

#[derive(Deserialize)]
pub struct TextForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
}

/// The text of the ways-out box with its placeholders filled in, or the page again (422) with the
/// text kept and the refused placeholder named.
async fn written(state: &AppState, agent: &Agent, id: i64, body: &str) -> Result<Result<String, Response>, WebError> {
    match crate::macros::render_written(state, id, body, &agent.actor(), "body").await {
        Ok(body) => Ok(Ok(body)),
        Err(ReplyError::Invalid { field, message }) => {
            Ok(Err(super::ticket::refused(state, agent, id, super::ticket::ProblemAt::Held, body, format!("{field}: {message}")).await?))
        }
        Err(e) => Err(reply_error(e, id)),
    }
}

/// `POST /tickets/{id}/hold`.
pub async fn hold(State(state): State<AppState>, agent: Agent, Path(id): Path<i64>, Form(f): Form<TextForm>) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    if f.body.trim().is_empty() {
        return Ok(Redirect::to(&format!("/tickets/{id}?done=empty#composer")).into_response());
    }
    let body = match written(&state, &agent, id, &f.body).await? {
        Ok(body) => body,
        Err(page) => return Ok(page),
    };
    match crate::replies::hold_reply(&state, id, &body, &agent.actor()).await.map_err(|e| reply_error(e, id))? {
        ReplyOutcome::Held { notice: Some(HoldNotice::NotSent { reason }), .. } => {
            tracing::info!(ticket_id = id, %reason, "reply held; its notice template was not sent");
            Ok(Redirect::to(&format!("/tickets/{id}?done=held_no_notice#thread")).into_response())
        }
        ReplyOutcome::Held { notice: Some(HoldNotice::AlreadySent { .. }), .. } => {
            Ok(Redirect::to(&format!("/tickets/{id}?done=held_notice_sent_before#thread")).into_response())
        }
        _ => Ok(Redirect::to(&format!("/tickets/{id}?done=held#thread")).into_response()),
    }
}

/// `POST /tickets/{id}/sms`.
pub async fn sms(State(state): State<AppState>, agent: Agent, Path(id): Path<i64>, Form(f): Form<TextForm>) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    if f.body.trim().is_empty() {
        return Ok(Redirect::to(&format!("/tickets/{id}?done=empty#composer")).into_response());
    }
    let body = match written(&state, &agent, id, &f.body).await? {
        Ok(body) => body,
        Err(page) => return Ok(page),
    };
    crate::replies::post_sms(&state, id, &body, &agent.actor(), None).await.map_err(|e| reply_error(e, id))?;
    Ok(Redirect::to(&format!("/tickets/{id}?done=sms#thread")).into_response())
}

#[derive(Deserialize)]
pub struct ResendForm {
    #[serde(default)]
    csrf: String,
    #[serde(rename = "as")]
    how: String,
    body: Option<String>,
    back: Option<String>,
}

fn back_to(back: Option<&str>, ticket_id: i64, message_id: i64, done: &str) -> Redirect {
    if back == Some("failed") {
        Redirect::to(&format!("/failed?done={done}"))
    } else {
        Redirect::to(&format!("/tickets/{ticket_id}?done={done}#m{message_id}"))
    }
}

async fn original(state: &AppState, id: i64) -> Result<OutboundMessage, WebError> {
    state.store.outbound_message(id).await?.ok_or_else(|| WebError::NotFound(format!("There is no message {id}.")))
}

/// `POST /deliveries/{id}/resend` with `as` = `as_is`, `hold` or `sms` (templates go through the picker).
pub async fn resend(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(f): Form<ResendForm>,
) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    let m = original(&state, id).await?;
    let how = match f.how.as_str() {
        "as_is" => ResendAs::AsIs,
        "hold" => ResendAs::Hold,
        "sms" => ResendAs::Sms { body: f.body.filter(|b| !b.trim().is_empty()) },
        other => return Err(WebError::BadRequest(format!("as: must be as_is, hold or sms, got {other:?}"))),
    };
    let done = match deliveries::resend(&state, id, how, &agent.actor()).await.map_err(|e| reply_error(e, m.ticket_id))?.1 {
        ReplyOutcome::Queued { .. } => "resent",
        ReplyOutcome::Held { .. } => "held",
        ReplyOutcome::Blocked { .. } => "blocked",
    };
    Ok(back_to(f.back.as_deref(), m.ticket_id, id, done).into_response())
}

#[derive(Deserialize)]
pub struct DismissForm {
    #[serde(default)]
    csrf: String,
    back: Option<String>,
}

/// `POST /deliveries/{id}/dismiss`.
pub async fn dismiss(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(f): Form<DismissForm>,
) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    let m = original(&state, id).await?;
    deliveries::dismiss(&state, id, &agent.actor()).await.map_err(|e| reply_error(e, m.ticket_id))?;
    Ok(back_to(f.back.as_deref(), m.ticket_id, id, "dismissed").into_response())
}
