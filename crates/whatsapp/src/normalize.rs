//! From Meta's payload to the desk's [`Change`]s.
//!
//! Card numbers are redacted here, in the JSON itself, before the typed view is read from it: the
//! stored text and the stored raw copy come from the same redacted value, so neither can leak (I8).

use serde::Deserialize;
use serde_json::Value;
use windowdesk_core::inbound::{
    AccountEvent, Change, ContactRef, EchoMessage, Forwarded, InboundAction, InboundMessage, MediaRef, MetaError, NumberChange,
    StatusReport, TemplateChange, TemplateUpdate,
};
use windowdesk_core::phone::WaId;
use windowdesk_core::redact::redact_card_numbers;
use windowdesk_core::window::inbound_sent_at;
use windowdesk_core::{MetaStatus, Timestamp};

use crate::webhook::{Envelope, NumberValue, WireContact, WireEcho, WireError, WireMessage, WireStatus, WireTemplateChange};

/// What normalisation needs to know besides the payload.
pub struct NormalizeOptions<'a> {
    /// When the desk received the payload; the fallback for missing sender timestamps (W5).
    pub received_at: Timestamp,
    /// Whether card-number redaction is on for a `phone_number_id` (on by default, SPEC I8).
    pub redact_for: &'a dyn Fn(&str) -> bool,
}

/// Keys whose string values are identifiers or machine data, never customer text: redaction leaves
/// them alone so that a 16-digit media id that happens to pass Luhn stays usable.
pub const IDENTIFIER_KEYS: &[&str] = &[
    "id",
    "wa_id",
    "from",
    "to",
    "user_id",
    "parent_user_id",
    "from_user_id",
    "to_user_id",
    "recipient_id",
    "timestamp",
    "sha256",
    "mime_type",
    "message_id",
    "original_message_id",
    "catalog_id",
    "product_retailer_id",
    "source_id",
    "ctwa_clid",
    "url",
    "source_url",
    "image_url",
    "video_url",
    "thumbnail_url",
    "phone_number_id",
    "display_phone_number",
    "expiration_timestamp",
    "created_timestamp",
    "hash",
    "type",
    "messaging_product",
    "field",
    // Account and template webhooks: Meta's ids, as strings or as JSON numbers.
    "waba_id",
    "message_template_id",
    "business_id",
    "owner_business_id",
    "partner_app_id",
    "phone_number",
    "ad_id",
    "ads_id",
];

/// Redacts card numbers in every customer-visible value of a JSON value, in place: strings, and
/// numbers too (a card sent as a JSON number becomes a string with its last four digits). Returns
/// whether anything changed.
pub fn redact_value(v: &mut Value) -> bool {
    match v {
        Value::String(s) => match redact_card_numbers(s) {
            Some(r) => {
                *s = r;
                true
            }
            None => false,
        },
        // Whole numbers only: a 13-19 digit float has already lost digits, so it cannot be a card.
        Value::Number(n) => match n.as_u64().map(|u| u.to_string()).or_else(|| n.as_i64().map(|i| i.to_string())) {
            Some(digits) => match redact_card_numbers(&digits) {
                Some(r) => {
                    *v = Value::String(r);
                    true
                }
                None => false,
            },
            None => false,
        },
        Value::Array(items) => items.iter_mut().fold(false, |acc, item| redact_value(item) | acc),
        Value::Object(map) => {
            let mut changed = false;
            for (k, item) in map.iter_mut() {
                if (item.is_string() || item.is_number()) && IDENTIFIER_KEYS.contains(&k.as_str()) {
                    continue;
                }
                changed |= redact_value(item);
            }
            changed
        }
        _ => false,
    }
}

/// U+0000 in a string or a key becomes U+FFFD. PostgreSQL text cannot hold NUL (every retry of such
/// a webhook failed there); SQLite could, so both backends store the same.
pub fn replace_nul(v: &mut Value) {
    const NUL: char = '\u{0}';
    match v {
        Value::String(s) if s.contains(NUL) => *s = s.replace(NUL, "\u{FFFD}"),
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains(NUL)) {
                let old = std::mem::take(map);
                map.extend(old.into_iter().map(|(k, v)| (k.replace(NUL, "\u{FFFD}"), v)));
            }
            map.values_mut().for_each(replace_nul);
        }
        _ => {}
    }
}

fn without_nul(s: String) -> String {
    if s.contains('\u{0}') {
        s.replace('\u{0}', "\u{FFFD}")
    } else {
        s
    }
}

/// Turns a parsed envelope into changes, in payload order. Every value is cleaned before it is read
/// (NUL replaced; card numbers redacted unless switched off for the number), so the typed fields and
/// the raw copies stored beside them come from the same clean value.
pub fn normalize_payload(env: Envelope, opts: &NormalizeOptions<'_>) -> Vec<Change> {
    let mut out = Vec::new();
    for entry in env.entry {
        let waba_id = without_nul(entry.id);
        for change in entry.changes {
            let mut value = change.value;
            let field = without_nul(change.field);
            replace_nul(&mut value);
            let pnid = value.get("metadata").and_then(|m| m.get("phone_number_id")).and_then(value_as_string);
            match pnid {
                Some(pnid) => {
                    if (opts.redact_for)(&pnid) {
                        redact_value(&mut value);
                    }
                    out.push(Change::Number(number_change(pnid, field, value, opts)))
                }
                // Account-level changes, and changes without a usable phone_number_id, belong to no
                // number whose setting could switch redaction off (I8: on by default).
                None => {
                    redact_value(&mut value);
                    out.push(Change::Account(account_event(waba_id.clone(), field, value)))
                }
            }
        }
    }
    out
}

fn number_change(phone_number_id: String, field: String, value: Value, opts: &NormalizeOptions<'_>) -> NumberChange {
    let mut change = NumberChange { phone_number_id, field, ..NumberChange::default() };
    let messages_field = change.field == "messages";
    let echoes_field = change.field == "smb_message_echoes";
    let parsed = match NumberValue::deserialize(&value) {
        Ok(parsed) => parsed,
        Err(_) => {
            // `messages`, `statuses` or `contacts` of the wrong type: the whole value is kept raw.
            if messages_field || echoes_field {
                change.unreadable += 1;
            }
            NumberValue::default()
        }
    };
    if messages_field {
        for m in &parsed.messages {
            match WireMessage::deserialize(m) {
                Ok(wire) => change.messages.push(inbound_message(wire, m, &parsed.contacts, &parsed.errors, opts.received_at)),
                Err(_) => {
                    change.unreadable += 1;
                    keep_other(&mut change, m)
                }
            }
        }
        for s in &parsed.statuses {
            match WireStatus::deserialize(s) {
                Ok(wire) => change.statuses.push(status_report(wire, s, opts.received_at)),
                Err(_) => {
                    change.unreadable += 1;
                    keep_other(&mut change, s)
                }
            }
        }
    }
    if echoes_field {
        for e in &parsed.message_echoes {
            match WireEcho::deserialize(e) {
                Ok(wire) => change.echoes.push(echo(wire, e, &parsed.contacts, opts.received_at)),
                Err(_) => {
                    change.unreadable += 1;
                    keep_other(&mut change, e)
                }
            }
        }
    }
    // A field that is not about messages (calls, user preferences, anything new) is kept whole, as is
    // a messages change that carries neither messages nor statuses (e.g. only change-level errors).
    let nothing_typed = change.messages.is_empty() && change.statuses.is_empty() && change.echoes.is_empty();
    if (!messages_field && !echoes_field) || (nothing_typed && change.other.is_none()) {
        change.other = Some(value.to_string());
    }
    change
}

fn keep_other(change: &mut NumberChange, item: &Value) {
    let mut items: Vec<Value> = change.other.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
    items.push(item.clone());
    change.other = Some(Value::Array(items).to_string());
}

fn contact_for(from: Option<&str>, from_user_id: Option<&str>, contacts: &[WireContact]) -> ContactRef {
    let from_wa = from.and_then(|f| WaId::parse(f).ok());
    let matching = contacts
        .iter()
        .find(|c| from_wa.as_ref().is_some_and(|w| c.wa_id.as_deref() == Some(w.as_str())))
        .or_else(|| contacts.iter().find(|c| from_user_id.is_some() && c.user_id.as_deref() == from_user_id))
        // A sender we cannot read (placeholder, hidden number): the payload's only contact is them.
        .or_else(|| if from_wa.is_none() && contacts.len() == 1 { contacts.first() } else { None });
    let wa_id = from_wa
        .map(|w| w.as_str().to_owned())
        .or_else(|| matching.and_then(|c| c.wa_id.as_deref()).and_then(|w| WaId::parse(w).ok()).map(|w| w.as_str().to_owned()));
    ContactRef {
        wa_id,
        bsuid: from_user_id.map(str::to_owned).or_else(|| matching.and_then(|c| c.user_id.clone())),
        parent_bsuid: matching.and_then(|c| c.parent_user_id.clone()),
        profile_name: matching.and_then(|c| c.profile.as_ref()).and_then(|p| p.name.clone()).filter(|n| !n.trim().is_empty()),
    }
}

fn meta_errors(errors: &[WireError]) -> Vec<MetaError> {
    errors
        .iter()
        .map(|e| MetaError {
            code: e.code,
            title: e.title.clone().or_else(|| e.message.clone()).unwrap_or_default(),
            details: e.error_data.as_ref().and_then(|d| d.details.clone()),
        })
        .collect()
}

fn inbound_message(
    w: WireMessage,
    raw: &Value,
    contacts: &[WireContact],
    change_errors: &[WireError],
    received_at: Timestamp,
) -> InboundMessage {
    let kind = w.kind.clone().unwrap_or_else(|| "unknown".to_owned());
    let mut errors = meta_errors(&w.errors);
    errors.extend(meta_errors(change_errors));
    let media_of = |m: &crate::webhook::Media| {
        m.id.clone().map(|media_id| MediaRef {
            media_id,
            mime_type: m.mime_type.clone(),
            sha256: m.sha256.clone(),
            filename: m.filename.clone(),
            voice: m.voice,
        })
    };
    let media_payload = match kind.as_str() {
        "image" => w.image.as_ref(),
        "video" => w.video.as_ref(),
        "document" => w.document.as_ref(),
        "audio" => w.audio.as_ref(),
        "sticker" => w.sticker.as_ref(),
        _ => None,
    };
    let media = media_payload.and_then(media_of);
    let action = action_of(&w);
    let body = body_of(&w, &kind, &errors);
    let forwarded = match &w.context {
        Some(c) if c.frequently_forwarded => Forwarded::FrequentlyForwarded,
        Some(c) if c.forwarded => Forwarded::Forwarded,
        _ => Forwarded::No,
    };
    InboundMessage {
        contact: contact_for(w.from.as_deref(), w.from_user_id.as_deref(), contacts),
        sent_at: inbound_sent_at(w.timestamp.as_deref(), received_at),
        reply_to: w.context.as_ref().and_then(|c| c.id.clone()),
        forwarded,
        has_referral: w.referral.as_ref().is_some_and(|r| !r.is_null()),
        wamid: w.id,
        kind,
        body,
        media,
        action,
        errors,
        raw: raw.to_string(),
    }
}

fn action_of(w: &WireMessage) -> InboundAction {
    match w.kind.as_deref() {
        Some("reaction") => InboundAction::React {
            target: w.reaction.as_ref().and_then(|r| r.message_id.clone()).unwrap_or_default(),
            emoji: w.reaction.as_ref().and_then(|r| r.emoji.clone()).filter(|e| !e.is_empty()),
        },
        Some("edit") => InboundAction::Edit { target: w.edit.as_ref().and_then(|e| e.original_message_id.clone()).unwrap_or_default() },
        Some("revoke") => {
            InboundAction::Revoke { target: w.revoke.as_ref().and_then(|r| r.original_message_id.clone()).unwrap_or_default() }
        }
        Some("system") => {
            let sys = w.system.as_ref();
            let kind = sys.and_then(|s| s.kind.clone()).unwrap_or_default();
            let new = sys.and_then(|s| s.wa_id.clone().or_else(|| s.new_wa_id.clone()));
            match (kind.as_str(), new) {
                ("user_changed_number", Some(new_wa_id)) => InboundAction::NumberChanged { new_wa_id },
                _ => InboundAction::System { kind },
            }
        }
        _ => InboundAction::Content,
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn body_of(w: &WireMessage, kind: &str, errors: &[MetaError]) -> Option<String> {
    match kind {
        "text" => w.text.as_ref().map(|t| t.body.clone()),
        "image" | "video" | "audio" | "sticker" => {
            [&w.image, &w.video, &w.audio, &w.sticker].into_iter().flatten().find_map(|m| non_empty(m.caption.as_deref()))
        }
        "document" => w.document.as_ref().and_then(|d| non_empty(d.caption.as_deref()).or_else(|| non_empty(d.filename.as_deref()))),
        "location" => w.location.as_ref().map(|l| {
            let place =
                [non_empty(l.name.as_deref()), non_empty(l.address.as_deref())].into_iter().flatten().collect::<Vec<_>>().join(", ");
            if place.is_empty() {
                format!("📍 {}, {}", l.latitude.unwrap_or_default(), l.longitude.unwrap_or_default())
            } else {
                format!("📍 {place}")
            }
        }),
        "contacts" => w.contacts.as_ref().map(|cs| {
            let names: Vec<String> = cs
                .iter()
                .filter_map(|c| {
                    c.name.as_ref().and_then(|n| non_empty(n.formatted_name.as_deref()).or_else(|| non_empty(n.first_name.as_deref())))
                })
                .collect();
            format!("👤 {}", names.join(", "))
        }),
        "interactive" => w.interactive.as_ref().and_then(|i| {
            i.button_reply
                .as_ref()
                .or(i.list_reply.as_ref())
                .and_then(|c| non_empty(c.title.as_deref()))
                .or_else(|| i.nfm_reply.as_ref().and_then(|f| non_empty(f.body.as_deref())))
                .or_else(|| i.call_permission_reply.as_ref().and_then(|c| c.response.as_ref()).map(|r| format!("Call permission: {r}")))
        }),
        "button" => w.button.as_ref().and_then(|b| non_empty(b.text.as_deref()).or_else(|| non_empty(b.payload.as_deref()))),
        "reaction" => w.reaction.as_ref().and_then(|r| non_empty(r.emoji.as_deref())),
        "order" => w.order.as_ref().map(|o| {
            let items = o.product_items.len();
            match non_empty(o.text.as_deref()) {
                Some(t) => format!("🛒 Order of {items} item(s): {t}"),
                None => format!("🛒 Order of {items} item(s)"),
            }
        }),
        "system" => w.system.as_ref().and_then(|s| non_empty(s.body.as_deref())),
        "edit" => w.edit.as_ref().and_then(|e| e.message.as_ref()).and_then(|m| {
            let inner = WireMessage::deserialize(&with_placeholder_id(m)).ok()?;
            let inner_kind = inner.kind.clone().unwrap_or_default();
            body_of(&inner, &inner_kind, &[])
        }),
        "revoke" => None,
        _ => errors.first().map(|e| e.details.clone().unwrap_or_else(|| e.title.clone())),
    }
}

/// The message inside an `edit` has no id of its own; give it one so the typed view can be read.
fn with_placeholder_id(m: &Value) -> Value {
    let mut m = m.clone();
    if let Value::Object(map) = &mut m {
        map.entry("id").or_insert_with(|| Value::String(String::new()));
    }
    m
}

fn status_report(w: WireStatus, raw: &Value, received_at: Timestamp) -> StatusReport {
    let status_raw = w.status.clone().unwrap_or_default();
    let at = w.timestamp.as_deref().and_then(|t| t.trim().parse::<i64>().ok()).map_or(received_at, Timestamp::from_unix_seconds);
    StatusReport {
        wamid: w.id,
        status: MetaStatus::parse(&status_raw),
        status_raw,
        at,
        recipient: w.recipient_id,
        errors: meta_errors(&w.errors),
        pricing: w.pricing.filter(|p| !p.is_null()).map(|p| p.to_string()),
        raw: raw.to_string(),
    }
}

fn echo(w: WireEcho, raw: &Value, contacts: &[WireContact], received_at: Timestamp) -> EchoMessage {
    let kind = w.kind.clone().unwrap_or_else(|| "unknown".to_owned());
    EchoMessage {
        contact: contact_for(w.to.as_deref(), w.to_user_id.as_deref(), contacts),
        sent_at: w
            .timestamp
            .as_deref()
            .and_then(|t| t.trim().parse::<i64>().ok())
            .map_or(received_at, Timestamp::from_unix_seconds)
            .min(received_at),
        body: w.text.map(|t| t.body),
        wamid: w.id,
        kind,
        raw: raw.to_string(),
    }
}

fn account_event(waba_id: String, field: String, value: Value) -> AccountEvent {
    let event = value.get("event").and_then(Value::as_str).map(str::to_owned);
    let template = template_change(&field, &value);
    AccountEvent { waba_id, field, event, template, raw: value.to_string() }
}

fn template_change(field: &str, value: &Value) -> Option<TemplateChange> {
    let w = WireTemplateChange::deserialize(value).ok()?;
    let update = match field {
        "message_template_status_update" => {
            TemplateUpdate::Status { status: w.event.clone()?, category: w.message_template_category.clone(), reason: w.reason.clone() }
        }
        "template_category_update" => TemplateUpdate::Category { category: w.new_category.clone()? },
        "message_template_quality_update" => TemplateUpdate::Quality { quality: w.new_quality_score.clone()? },
        "message_template_components_update" => {
            TemplateUpdate::Components { element: w.message_template_element.clone().unwrap_or_default() }
        }
        _ => return None,
    };
    Some(TemplateChange {
        meta_template_id: w.message_template_id,
        name: w.message_template_name?,
        language: w.message_template_language?,
        update,
    })
}

fn value_as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
