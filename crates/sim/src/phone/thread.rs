//! One customer's conversation with one business number, as their phone shows it: what the customer
//! said ([`InboundRecord`]) and what the business sent them ([`ReceivedMessage`]), in the order the sim
//! recorded them, with reactions attached to the message they react to.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::config::SimNumber;
use crate::sms::SmsRecord;
use crate::state::{InboundRecord, Inner, ReceivedMessage, SimHandle, TemplateUse};

/// At most this many messages are returned: the newest.
const MAX_MESSAGES: usize = 200;
const MEDIA_KINDS: &[&str] = &["image", "video", "document", "audio", "sticker"];

#[derive(Clone, Debug, Serialize)]
struct Entry {
    seq: u64,
    /// `in`: from the customer; `out`: from the business.
    direction: &'static str,
    /// `whatsapp`, or `sms` for a text the SMS provider took for this customer (the desk's fallback).
    channel: &'static str,
    /// The sender of an SMS (the business's SMS number).
    #[serde(skip_serializing_if = "Option::is_none")]
    sms_from: Option<String>,
    wamid: String,
    kind: String,
    at_ms: i64,
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<TemplateUse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media: Option<Media>,
    /// The latest status (business messages only).
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<i64>,
    /// Set on reaction messages whose target is not in the conversation (shown on their own).
    #[serde(skip_serializing_if = "Option::is_none")]
    reacts_to: Option<String>,
    reactions: Vec<Reaction>,
}

#[derive(Clone, Debug, Serialize)]
struct Media {
    /// Where the page loads it (`/sim/phone/media/{id}`) when the sim holds the file.
    url: Option<String>,
    /// An http(s) link the business sent instead of a media id (not loaded by the page).
    link: Option<String>,
    mime_type: Option<String>,
    filename: Option<String>,
    voice: bool,
}

#[derive(Clone, Debug, Serialize)]
struct Reaction {
    direction: &'static str,
    emoji: String,
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The media object of a message of a media kind.
fn media_of(inner: &Inner, kind: &str, obj: &Value) -> Option<Media> {
    if !MEDIA_KINDS.contains(&kind) {
        return None;
    }
    let id = match obj.get("id") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let stored = id.as_deref().and_then(|id| inner.media.get(id).map(|m| (id, m)));
    Some(Media {
        url: stored.map(|(id, _)| format!("/sim/phone/media/{id}")),
        link: str_of(obj, "link"),
        mime_type: str_of(obj, "mime_type").or_else(|| stored.map(|(_, m)| m.mime_type.clone())),
        filename: str_of(obj, "filename").or_else(|| stored.and_then(|(_, m)| m.filename.clone())),
        voice: obj.get("voice").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// The target and emoji of a reaction message.
fn reaction_of(kind: &str, obj: &Value) -> Option<(String, String)> {
    (kind == "reaction").then(|| (str_of(obj, "message_id").unwrap_or_default(), str_of(obj, "emoji").unwrap_or_default()))
}

fn inbound_entry(inner: &Inner, r: &InboundRecord) -> (Entry, Option<(String, String)>) {
    let obj = r.message.get(&r.kind).cloned().unwrap_or(Value::Null);
    let entry = Entry {
        seq: r.seq,
        direction: "in",
        channel: "whatsapp",
        sms_from: None,
        wamid: r.wamid.clone(),
        kind: r.kind.clone(),
        at_ms: r.sent_at_ms,
        text: r.text.clone(),
        template: None,
        media: media_of(inner, &r.kind, &obj),
        status: None,
        error_code: None,
        reacts_to: None,
        reactions: Vec::new(),
    };
    (entry, reaction_of(&r.kind, &obj))
}

fn outbound_entry(inner: &Inner, m: &ReceivedMessage) -> (Entry, Option<(String, String)>) {
    let obj = m.request.get(&m.kind).cloned().unwrap_or(Value::Null);
    let entry = Entry {
        seq: m.seq,
        direction: "out",
        channel: "whatsapp",
        sms_from: None,
        wamid: m.wamid.clone(),
        kind: m.kind.clone(),
        at_ms: m.accepted_at_ms,
        text: m.text.clone(),
        template: m.template.clone(),
        media: media_of(inner, &m.kind, &obj),
        status: Some(m.status.clone()),
        error_code: m.error_code,
        reacts_to: None,
        reactions: Vec::new(),
    };
    (entry, reaction_of(&m.kind, &obj))
}

/// An SMS the provider accepted, as the customer's phone shows it; the SMS `sid` stands in for a wamid.
fn sms_entry(r: &SmsRecord) -> (Entry, Option<(String, String)>) {
    let entry = Entry {
        seq: r.seq,
        direction: "out",
        channel: "sms",
        sms_from: r.from.clone(),
        wamid: r.sid.clone().unwrap_or_default(),
        kind: "sms".to_owned(),
        at_ms: r.received_at_ms,
        text: r.body.clone(),
        template: None,
        media: None,
        status: r.status.clone(),
        error_code: None,
        reacts_to: None,
        reactions: Vec::new(),
    };
    (entry, None)
}

/// Whether an SMS reached this customer: accepted, to their number. SMS carry no business number
/// id, so every thread of the customer shows them.
fn is_sms_to(r: &SmsRecord, wa_id: &str) -> bool {
    r.accepted() && r.to.as_deref().is_some_and(|to| to.chars().filter(char::is_ascii_digit).eq(wa_id.chars()))
}

fn is_business_message_to(m: &ReceivedMessage, phone_number_id: &str, wa_id: &str) -> bool {
    m.phone_number_id == phone_number_id && m.to == wa_id
}

/// The wamid of the business's latest message to the customer that reached them (not a reaction,
/// not failed): what the page's reaction buttons react to.
pub(crate) fn latest_from_business(sim: &SimHandle, phone_number_id: &str, wa_id: &str) -> Option<String> {
    let inner = sim.lock();
    latest(&inner, phone_number_id, wa_id)
}

fn latest(inner: &Inner, phone_number_id: &str, wa_id: &str) -> Option<String> {
    inner
        .received
        .iter()
        .rev()
        .find(|m| is_business_message_to(m, phone_number_id, wa_id) && m.kind != "reaction" && m.status != "failed")
        .map(|m| m.wamid.clone())
}

/// Whether `wamid` is a message between this customer and this number, either way.
pub(crate) fn in_conversation(sim: &SimHandle, phone_number_id: &str, wa_id: &str, wamid: &str) -> bool {
    let inner = sim.lock();
    inner.received.iter().any(|m| m.wamid == wamid && is_business_message_to(m, phone_number_id, wa_id))
        || inner.inbound.iter().any(|r| r.wamid == wamid && r.phone_number_id == phone_number_id && r.from == wa_id)
}

/// `GET /sim/phone/thread`: `{"wa_id", "phone_number_id", "business", "react_to", "messages", "truncated"}`.
pub(crate) fn conversation(sim: &SimHandle, number: &SimNumber, wa_id: &str) -> Value {
    let pnid = number.phone_number_id.as_str();
    let inner = sim.lock();
    let mut items: Vec<(Entry, Option<(String, String)>)> = inner
        .inbound
        .iter()
        .filter(|r| r.phone_number_id == pnid && r.from == wa_id)
        .map(|r| inbound_entry(&inner, r))
        .chain(inner.received.iter().filter(|m| is_business_message_to(m, pnid, wa_id)).map(|m| outbound_entry(&inner, m)))
        .chain(inner.sms.iter().filter(|r| is_sms_to(r, wa_id)).map(sms_entry))
        .collect();
    let react_to = latest(&inner, pnid, wa_id);
    drop(inner);
    items.sort_by_key(|(e, _)| e.seq);

    // Reactions go onto their target; each side's latest reaction counts, an empty emoji removes it.
    let index: HashMap<String, usize> =
        items.iter().enumerate().filter(|(_, (_, r))| r.is_none()).map(|(i, (e, _))| (e.wamid.clone(), i)).collect();
    let mut shown: Vec<bool> = vec![true; items.len()];
    for i in 0..items.len() {
        let Some((target, emoji)) = items[i].1.clone() else { continue };
        let direction = items[i].0.direction;
        match index.get(&target) {
            Some(&t) => {
                shown[i] = false;
                let reactions = &mut items[t].0.reactions;
                reactions.retain(|r| r.direction != direction);
                if !emoji.is_empty() {
                    reactions.push(Reaction { direction, emoji });
                }
            }
            None => items[i].0.reacts_to = Some(target),
        }
    }
    let messages: Vec<Entry> = items.into_iter().zip(shown).filter(|(_, keep)| *keep).map(|((e, _), _)| e).collect();
    let skip = messages.len().saturating_sub(MAX_MESSAGES);
    json!({
        "wa_id": wa_id,
        "phone_number_id": pnid,
        "business": {"display_number": number.display_number, "verified_name": number.verified_name},
        "react_to": react_to,
        "messages": &messages[skip..],
        "truncated": skip > 0,
    })
}
