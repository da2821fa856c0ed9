//! The conversation of a ticket as bubbles: customer messages on the left, replies on the right,
//! notes set apart; media inline; reactions, forwarded badges, delivery lines and failure reasons.

use std::collections::HashMap;

use maud::{html, Markup};
use windowdesk_core::{DeliveryState, Timestamp};
use windowdesk_store::{Direction, MessageMedia, MessageRow, OutboundMessage, TicketReactionRow};

use super::components::{self, Actors};
use super::delivery::{self, Histories};
use super::session::Agent;
use super::ways_out::{self, WaysOut};

/// What the thread needs besides the messages.
pub struct ThreadContext<'a> {
    pub agent: &'a Agent,
    pub now: Timestamp,
    pub reactions: &'a [TicketReactionRow],
    /// Download state of the media messages, by message id.
    pub media: &'a HashMap<i64, MessageMedia>,
    /// Display names of actors (`agent:3` → "Ana Lima").
    pub actors: &'a Actors,
    pub customer: &'a str,
    /// Held, failed and blocked replies with their hold expiry and what was done about them.
    pub outbound: &'a HashMap<i64, OutboundMessage>,
    /// What happened to each outbound message before its current state (from the ticket's events).
    pub history: &'a Histories,
    /// What the ticket can do about failed messages now (none on pages that only show).
    pub ways: Option<&'a WaysOut>,
}

pub fn thread(messages: &[MessageRow], cx: &ThreadContext<'_>) -> Markup {
    let mut by_target: HashMap<&str, Vec<&TicketReactionRow>> = HashMap::new();
    for r in cx.reactions {
        by_target.entry(r.target_wamid.as_str()).or_default().push(r);
    }
    let by_wamid: HashMap<&str, &MessageRow> = messages.iter().filter_map(|m| m.wamid.as_deref().map(|w| (w, m))).collect();
    html! {
        ol.thread #thread aria-label="Conversation" {
            @for m in messages.iter().filter(|m| m.kind != "reaction") {
                (bubble(
                    m,
                    cx,
                    m.wamid.as_deref().and_then(|w| by_target.get(w)).map(Vec::as_slice).unwrap_or(&[]),
                    m.reply_to_wamid.as_deref().and_then(|w| by_wamid.get(w).copied()),
                ))
            }
        }
    }
}

/// The message a reply answers, quoted above it as WhatsApp shows it.
fn quote(quoted: &MessageRow, cx: &ThreadContext<'_>) -> Markup {
    let who = match quoted.direction {
        Direction::Inbound => cx.customer.to_owned(),
        _ => quoted.author.as_deref().map_or_else(|| "The business".to_owned(), |a| cx.actors.name(a)),
    };
    let text: String = match quoted.body.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        Some(b) => b.chars().take(140).collect(),
        None => format!("({})", quoted.kind),
    };
    html! {
        a.quoted href={"#m" (quoted.id)} data-quotes=(quoted.id) {
            span.sr { "In reply to " } span.who { (who) } span.excerpt { (text) }
        }
    }
}

fn bubble(m: &MessageRow, cx: &ThreadContext<'_>, reactions: &[&TicketReactionRow], quoted: Option<&MessageRow>) -> Markup {
    let side = match m.direction {
        Direction::Inbound => "in",
        Direction::Outbound => "out",
        Direction::Note => "note",
        Direction::System => "system",
    };
    let sender = match m.direction {
        Direction::Inbound => cx.customer.to_owned(),
        Direction::System => "WhatsApp".to_owned(),
        _ => m.author.as_deref().map_or_else(|| "The business".to_owned(), |a| cx.actors.name(a)),
    };
    html! {
        li.bubble.(side) #{"m" (m.id)} data-message-id=(m.id) data-direction=(side) data-kind=(m.kind) data-state=[m.delivery_state.map(DeliveryState::as_str)] {
            div.sender {
                span.who { (sender) }
                @if m.direction == Direction::Note { span.badge.note { "Internal note" } }
                @if m.direction == Direction::Outbound && m.kind == "template" { span.badge { "Template" } }
                @if m.direction == Direction::Outbound && m.kind == "sms" { span.badge { "SMS" } }
                @if m.forwarded > 0 {
                    span.badge.forwarded title="Only this message was forwarded to you; the rest of the customer's chat it came from is not included." {
                        @if m.forwarded > 1 { "Forwarded many times" } @else { "Forwarded" }
                    }
                    span.sr { " (only this message was forwarded; the rest of the customer's chat is not included)" }
                }
                @if m.referral { span.badge.referral { "From an ad" } }
                @if m.edited_at.is_some() { span.badge { "Edited" } }
            }
            @if let Some(q) = quoted { (quote(q, cx)) }
            (content(m, cx))
            @if m.direction == Direction::Inbound && m.wamid.is_some() && m.revoked_at.is_none() && cx.ways.is_some_and(|w| w.writable) {
                button.quote-reply.link type="button" data-reply-to=(m.id) data-excerpt=(m.body.as_deref().unwrap_or(&m.kind).chars().take(80).collect::<String>())
                    aria-label={"Reply to this message from " (cx.customer)} { "Reply to this" }
            }
            (delivery::replaces_line(m, cx.history))
            @if !reactions.is_empty() {
                ul.reactions aria-label="Reactions" {
                    @for r in reactions { li data-emoji=(r.emoji) { (r.emoji) } }
                }
            }
            (delivery::story(m, cx.history, cx.actors, cx.now, cx.agent))
            div.foot {
                (when(m, cx))
                (delivery::state(m, cx.now, cx.agent))
            }
            @if m.maybe_duplicate {
                p.badge.warn.dup { "May have been sent twice: the desk stopped while sending it, and sent it again." }
            }
            @if let Some(state) = m.delivery_state.filter(|s| matches!(s, DeliveryState::Failed | DeliveryState::Blocked)) {
                // Once dealt with (resent another way, dismissed) it stays marked, without the advice.
                @let resolved = cx.outbound.get(&m.id).is_some_and(|o| o.resolution.is_some());
                div.failure.resolved[resolved] role=(if resolved { "note" } else { "alert" }) data-error-code=[m.error_code] {
                    strong { @if state == DeliveryState::Blocked { "Not sent" } @else { "Not delivered" } }
                    p.reason { (windowdesk_whatsapp::errors::failure_reason(m.error_code, m.error_title.as_deref(), state)) }
                    @if !resolved {
                        @if let Some(d) = meta_words(m) { p.details { "WhatsApp said: " (d) } }
                        p.action { (windowdesk_whatsapp::errors::what_to_do(if state == DeliveryState::Blocked { Some(131_047) } else { m.error_code })) }
                    }
                    @if let (Some(o), Some(w)) = (cx.outbound.get(&m.id), cx.ways) { (ways_out::deal(o, w, cx.agent, "ticket")) }
                }
            }
            @if m.delivery_state == Some(DeliveryState::Held) && m.direction == Direction::Outbound {
                (ways_out::held_badge(cx.outbound.get(&m.id).and_then(|o| o.hold_expires_at), cx.agent))
            }
        }
    }
}

/// When a message was sent. A reply that went out well after it was written (held until the customer
/// wrote, resent after a failure) stands where the customer got it, and says both moments.
fn when(m: &MessageRow, cx: &ThreadContext<'_>) -> Markup {
    match m.went_out_at.filter(|out| m.direction == Direction::Outbound && m.sent_at.millis_until(*out) >= WRITTEN_EARLIER_MS) {
        Some(out) => html! {
            span.written { "written " (components::time(m.sent_at, cx.now, cx.agent)) ", sent " (components::time(out, cx.now, cx.agent)) }
        },
        None => components::time(m.went_out_at.unwrap_or(m.sent_at), cx.now, cx.agent),
    }
}

/// From how long between writing and sending a reply shows both moments.
const WRITTEN_EARLIER_MS: i64 = 60_000;

fn content(m: &MessageRow, cx: &ThreadContext<'_>) -> Markup {
    if m.revoked_at.is_some() {
        return html! { p.body.muted { "The customer deleted this message." } };
    }
    let media = cx.media.get(&m.id);
    let src = format!("/media/{}", m.id);
    let ready = media.is_some_and(|md| md.sha256.is_some());
    let caption = html! { @if let Some(b) = m.body.as_deref().filter(|b| !b.is_empty()) { p.body { (b) } } };
    let pending = || match media {
        Some(md) if md.state == "failed" => html! {
            p.media-missing role="note" { "The file could not be downloaded" @if let Some(e) = &md.error { ": " (e) } ". The desk keeps trying." }
        },
        Some(_) => html! { p.media-missing { "Downloading the file…" } },
        None => html! {},
    };
    match m.kind.as_str() {
        // Images open full size in a tab of their own.
        "image" | "sticker" if ready => html! {
            a.media-link href=(src) target="_blank" rel="noopener" title="Open full size" {
                @if m.direction == Direction::Outbound {
                    img.media src=(src) alt={"Image sent to " (cx.customer)} loading="lazy";
                } @else {
                    img.media src=(src) alt={"Image from " (cx.customer)} loading="lazy";
                }
            }
            (caption)
        },
        "video" if ready => {
            html! { video.media controls preload="metadata" src=(src) { "Your browser cannot play this video: " a href=(src) { "download it" } } (caption) }
        }
        "audio" if ready => html! {
            figure.voice {
                figcaption.sr { @if m.voice { "Voice note" } @else { "Audio" } }
                @if m.voice { span.badge { "Voice note" } }
                audio.media controls preload="metadata" src=(src) { a href=(src) { "Download the audio" } }
            }
        },
        "document" if ready => html! {
            p.document { a href=(src) download=[m.filename.as_deref()] { "Download " (m.filename.as_deref().unwrap_or("document")) } }
            (caption)
        },
        "image" | "sticker" | "video" | "audio" | "document" => html! { p.body.muted { "(" (m.kind) ")" } (pending()) (caption) },
        "text" if m.direction == Direction::Note => html! {
            p.body {
                @for seg in crate::notes::segments(m.body.as_deref().unwrap_or(""), cx.actors.agents()) {
                    @match seg {
                        crate::notes::Segment::Text(t) => (t),
                        crate::notes::Segment::Mention { text, agent_id } => {
                            mark.mention data-agent-id=(agent_id) title=(cx.actors.name(&format!("agent:{agent_id}"))) { (text) }
                        },
                    }
                }
            }
        },
        "text" | "interactive" | "button" | "template" => html! { p.body { (m.body.as_deref().unwrap_or("")) } },
        other => match m.body.as_deref() {
            Some(b) if !b.is_empty() => html! { p.body { (b) } },
            _ => html! { p.body.muted { "A " (other) " message the desk cannot show." } },
        },
    }
}

/// Meta's own words about a failure, when they add to the desk's sentence.
fn meta_words(m: &MessageRow) -> Option<String> {
    let human = m.error_code.map(windowdesk_whatsapp::errors::human_reason);
    let title = m.error_title.as_deref().filter(|t| Some(*t) != human);
    match (title, m.error_details.as_deref()) {
        (Some(t), Some(d)) if d != t => Some(format!("{t}: {d}")),
        (Some(t), _) => Some(t.to_owned()),
        (None, Some(d)) => Some(d.to_owned()),
        (None, None) => None,
    }
}
