//! Reading and checking a `POST /{version}/{phone-number-id}/messages` body against Meta's `Message`
//! schema. Every refusal is error 100 naming the field (the `template` object's shape is checked in
//! [`crate::template_request`], its fit with the template in [`crate::template_send`]).

use serde_json::Value;

use crate::error::GraphError;
use crate::template_request::{self, TemplateRequest};
use crate::webhooks::looks_like_bsuid;

/// What the desk asked for.
pub(crate) enum SendRequest {
    /// `{"messaging_product": "whatsapp", "status": "read", "message_id": …}`.
    MarkRead {
        message_id: String,
        /// `"typing_indicator": {"type": "text"}` came with it.
        typing: bool,
    },
    Message(Outbound),
}

/// Whom a message is for. Meta takes a phone number in `to` or a BSUID (or parent BSUID) in
/// `recipient`; when both are given, `to` wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Addressee {
    Phone {
        /// `to` as given.
        input: String,
        /// `to` as digits.
        wa_id: String,
    },
    /// `recipient`: a BSUID (`US.1349…`) or a parent BSUID (`US.ENT.1181…`).
    UserId(String),
}

/// A message to a customer, checked.
pub(crate) struct Outbound {
    pub to: Addressee,
    pub kind: String,
    /// The text, caption or emoji (the template body is rendered later).
    pub text: Option<String>,
    pub template: Option<TemplateRequest>,
    /// A media object's `id`, to be found in the sim's store.
    pub media_id: Option<String>,
    pub biz_opaque_callback_data: Option<String>,
    pub raw: Value,
}

const MEDIA_KINDS: &[&str] = &["image", "video", "document", "audio", "sticker"];
const INTERACTIVE_KINDS: &[&str] = &[
    "button",
    "list",
    "cta_url",
    "flow",
    "product",
    "product_list",
    "catalog_message",
    "call_permission_request",
    "location_request_message",
];

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn object_at<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a Value, GraphError> {
    match v.get(key) {
        Some(o) if o.is_object() => Ok(o),
        Some(_) => Err(GraphError::invalid_param(format!("{path} must be an object"))),
        None => Err(GraphError::required(path)),
    }
}

fn non_empty_str<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a str, GraphError> {
    match v.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(Value::String(_)) => Err(GraphError::invalid_param(format!("{path} must not be empty"))),
        Some(_) => Err(GraphError::invalid_param(format!("{path} must be a string"))),
        None => Err(GraphError::required(path)),
    }
}

fn max_len(s: &str, max: usize, path: &str) -> Result<(), GraphError> {
    if s.chars().count() > max {
        return Err(GraphError::invalid_param(format!("{path} is longer than {max} characters")));
    }
    Ok(())
}

/// A phone number as digits: `+1 (555) 010-2030` → `15550102030`.
pub(crate) fn wa_id_of(input: &str) -> Option<String> {
    let kept: String = input.chars().filter(|c| !matches!(c, '+' | ' ' | '-' | '(' | ')' | '.')).collect();
    (kept.len() >= 5 && kept.len() <= 15 && kept.chars().all(|c| c.is_ascii_digit())).then_some(kept)
}

pub(crate) fn parse(body: &[u8]) -> Result<SendRequest, GraphError> {
    let raw: Value = serde_json::from_slice(body).map_err(|e| GraphError::invalid_param(format!("the body is not valid JSON: {e}")))?;
    if !raw.is_object() {
        return Err(GraphError::invalid_param("the body must be a JSON object"));
    }
    match raw.get("messaging_product") {
        Some(Value::String(p)) if p == "whatsapp" => {}
        Some(_) => return Err(GraphError::invalid_param("messaging_product must be \"whatsapp\"")),
        None => return Err(GraphError::required("messaging_product")),
    }
    if raw.get("status").is_some() {
        if str_at(&raw, "status") != Some("read") {
            return Err(GraphError::invalid_param("status must be \"read\""));
        }
        let message_id = non_empty_str(&raw, "message_id", "message_id")?.to_owned();
        let typing = match raw.get("typing_indicator") {
            None => false,
            Some(t) if t.get("type").and_then(Value::as_str) == Some("text") => true,
            Some(_) => return Err(GraphError::invalid_param("typing_indicator.type must be \"text\"")),
        };
        return Ok(SendRequest::MarkRead { message_id, typing });
    }
    match raw.get("recipient_type") {
        None => {}
        Some(Value::String(t)) if t == "individual" => {}
        Some(other) => return Err(GraphError::invalid_param(format!("recipient_type {other} is not supported here (individual)"))),
    }
    let to = addressee(&raw)?;
    let kind = match raw.get("type") {
        None => "text".to_owned(),
        Some(Value::String(k)) => k.clone(),
        Some(_) => return Err(GraphError::invalid_param("type must be a string")),
    };
    if let Some(ctx) = raw.get("context") {
        non_empty_str(ctx, "message_id", "context.message_id")?;
    }
    let mut out = Outbound {
        to,
        kind: kind.clone(),
        text: None,
        template: None,
        media_id: None,
        biz_opaque_callback_data: str_at(&raw, "biz_opaque_callback_data").map(str::to_owned),
        raw: Value::Null,
    };
    match kind.as_str() {
        "text" => {
            let text = object_at(&raw, "text", "text")?;
            let body = non_empty_str(text, "body", "text.body")?;
            max_len(body, 4096, "text.body")?;
            if text.get("preview_url").is_some_and(|p| !p.is_boolean()) {
                return Err(GraphError::invalid_param("text.preview_url must be true or false"));
            }
            out.text = Some(body.to_owned());
        }
        k if MEDIA_KINDS.contains(&k) => {
            let media = object_at(&raw, k, k)?;
            let id = media.get("id");
            let link = media.get("link");
            match (id, link) {
                (Some(_), Some(_)) => return Err(GraphError::invalid_param(format!("{k}: give either id or link, not both"))),
                (None, None) => return Err(GraphError::required(&format!("{k}.id or {k}.link"))),
                (Some(_), None) => {
                    let id = match id {
                        Some(Value::String(s)) if !s.is_empty() => s.clone(),
                        Some(Value::Number(n)) => n.to_string(),
                        _ => return Err(GraphError::invalid_param(format!("{k}.id must be a media id"))),
                    };
                    out.media_id = Some(id);
                }
                (None, Some(_)) => {
                    let link = non_empty_str(media, "link", &format!("{k}.link"))?;
                    if !(link.starts_with("http://") || link.starts_with("https://")) {
                        return Err(GraphError::invalid_param(format!("{k}.link must be an http(s) URL")));
                    }
                }
            }
            if let Some(caption) = media.get("caption") {
                if matches!(k, "audio" | "sticker") {
                    return Err(GraphError::invalid_param(format!("{k}.caption is not allowed: {k} messages have no caption")));
                }
                let caption = caption.as_str().ok_or_else(|| GraphError::invalid_param(format!("{k}.caption must be a string")))?;
                max_len(caption, 1024, &format!("{k}.caption"))?;
                out.text = Some(caption.to_owned()).filter(|c| !c.is_empty());
            }
            if k == "document" && out.text.is_none() {
                out.text = str_at(media, "filename").map(str::to_owned);
            }
        }
        "reaction" => {
            let reaction = object_at(&raw, "reaction", "reaction")?;
            non_empty_str(reaction, "message_id", "reaction.message_id")?;
            let emoji = match reaction.get("emoji") {
                Some(Value::String(e)) => e.clone(),
                None => return Err(GraphError::required("reaction.emoji")),
                Some(_) => return Err(GraphError::invalid_param("reaction.emoji must be a string (empty removes the reaction)")),
            };
            out.text = Some(emoji);
        }
        "location" => {
            let loc = object_at(&raw, "location", "location")?;
            for key in ["latitude", "longitude"] {
                let ok = match loc.get(key) {
                    Some(Value::Number(_)) => true,
                    Some(Value::String(s)) => s.trim().parse::<f64>().is_ok(),
                    _ => false,
                };
                if !ok {
                    return Err(GraphError::invalid_param(format!("location.{key} must be a number")));
                }
            }
            out.text = str_at(loc, "name").or_else(|| str_at(loc, "address")).map(str::to_owned);
        }
        "contacts" => {
            let Some(contacts) = raw.get("contacts").and_then(Value::as_array).filter(|c| !c.is_empty()) else {
                return Err(GraphError::required("contacts"));
            };
            for (i, c) in contacts.iter().enumerate() {
                let name = object_at(c, "name", &format!("contacts[{i}].name"))?;
                non_empty_str(name, "formatted_name", &format!("contacts[{i}].name.formatted_name"))?;
            }
        }
        "interactive" => out.text = check_interactive(object_at(&raw, "interactive", "interactive")?)?,
        "template" => out.template = Some(template_request::parse(object_at(&raw, "template", "template")?)?),
        other => {
            return Err(GraphError::invalid_param(format!(
                "type {other:?} is not a message type (text, image, audio, video, document, sticker, location, contacts, reaction, interactive, template)"
            )))
        }
    }
    out.raw = raw;
    Ok(SendRequest::Message(out))
}

/// `to` (a phone number) or `recipient` (a BSUID or parent BSUID); `to` wins when both are given.
/// A BSUID in `to` is refused: `to` takes phone numbers only (Meta's BSUID guide: "Use `to` to send to a
/// phone number, use `recipient` to send to a BSUID or parent BSUID").
fn addressee(raw: &Value) -> Result<Addressee, GraphError> {
    let recipient = match raw.get("recipient") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => Some(r.as_str()),
        Some(_) => return Err(GraphError::invalid_param("recipient must be a string (a BSUID or parent BSUID)")),
    };
    let input = match raw.get("to") {
        None | Some(Value::Null) => {
            return match recipient {
                Some(r) if looks_like_bsuid(r) => Ok(Addressee::UserId(r.to_owned())),
                Some(r) => Err(GraphError::invalid_param(format!(
                    "recipient: {r:?} is not a BSUID (US.13491208655302741918) or parent BSUID (US.ENT.11815799212886844830); \
                     a phone number goes in to"
                ))),
                None => Err(GraphError::required("to or recipient")),
            };
        }
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(GraphError::invalid_param("to must be a string")),
    };
    if looks_like_bsuid(input.trim()) {
        return Err(GraphError::invalid_param(format!(
            "to: {input:?} is a business-scoped user ID (BSUID), not a phone number; send BSUIDs in recipient"
        )));
    }
    let wa_id = wa_id_of(&input).ok_or_else(|| GraphError::invalid_param(format!("to: {input:?} is not a valid phone number")))?;
    Ok(Addressee::Phone { input, wa_id })
}

/// Checks an `interactive` object; returns its body text.
fn check_interactive(i: &Value) -> Result<Option<String>, GraphError> {
    let kind = non_empty_str(i, "type", "interactive.type")?;
    if !INTERACTIVE_KINDS.contains(&kind) {
        return Err(GraphError::invalid_param(format!("interactive.type {kind:?} is not supported")));
    }
    let action = object_at(i, "action", "interactive.action")?;
    let body = match i.get("body") {
        Some(b) => {
            let text = non_empty_str(b, "text", "interactive.body.text")?;
            max_len(text, 1024, "interactive.body.text")?;
            Some(text.to_owned())
        }
        None if matches!(kind, "product" | "catalog_message") => None,
        None => return Err(GraphError::required("interactive.body")),
    };
    match kind {
        "button" => {
            let buttons =
                action.get("buttons").and_then(Value::as_array).ok_or_else(|| GraphError::required("interactive.action.buttons"))?;
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(GraphError::invalid_param("interactive.action.buttons must hold 1 to 3 buttons"));
            }
            for (n, b) in buttons.iter().enumerate() {
                let reply = object_at(b, "reply", &format!("interactive.action.buttons[{n}].reply"))?;
                non_empty_str(reply, "id", &format!("interactive.action.buttons[{n}].reply.id"))?;
                let title = non_empty_str(reply, "title", &format!("interactive.action.buttons[{n}].reply.title"))?;
                max_len(title, 20, &format!("interactive.action.buttons[{n}].reply.title"))?;
            }
        }
        "list" => {
            let button = non_empty_str(action, "button", "interactive.action.button")?;
            max_len(button, 20, "interactive.action.button")?;
            let sections =
                action.get("sections").and_then(Value::as_array).ok_or_else(|| GraphError::required("interactive.action.sections"))?;
            if sections.is_empty() || sections.len() > 10 {
                return Err(GraphError::invalid_param("interactive.action.sections must hold 1 to 10 sections"));
            }
            let mut rows = 0;
            for (s, section) in sections.iter().enumerate() {
                let section_rows = section
                    .get("rows")
                    .and_then(Value::as_array)
                    .ok_or_else(|| GraphError::required(&format!("interactive.action.sections[{s}].rows")))?;
                for (r, row) in section_rows.iter().enumerate() {
                    non_empty_str(row, "id", &format!("interactive.action.sections[{s}].rows[{r}].id"))?;
                    let title = non_empty_str(row, "title", &format!("interactive.action.sections[{s}].rows[{r}].title"))?;
                    max_len(title, 24, &format!("interactive.action.sections[{s}].rows[{r}].title"))?;
                }
                rows += section_rows.len();
            }
            if rows == 0 || rows > 10 {
                return Err(GraphError::invalid_param("interactive.action.sections must hold 1 to 10 rows in all"));
            }
        }
        _ => {}
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_json(v: Value) -> Result<SendRequest, GraphError> {
        parse(v.to_string().as_bytes())
    }

    fn details(v: Value) -> String {
        match parse_json(v) {
            Err(e) => e.details.unwrap_or_default(),
            Ok(_) => panic!("expected a refusal"),
        }
    }

    #[test]
    fn text_and_defaults() {
        let Ok(SendRequest::Message(m)) =
            parse_json(json!({"messaging_product": "whatsapp", "to": "+49 151 2345-678", "text": {"body": "hi"}}))
        else {
            panic!("text should parse")
        };
        assert_eq!(m.to, Addressee::Phone { input: "+49 151 2345-678".into(), wa_id: "491512345678".into() });
        assert_eq!((m.kind.as_str(), m.text.as_deref()), ("text", Some("hi")));
    }

    #[test]
    fn refusals_name_the_field() {
        assert!(details(json!({"to": "491"})).contains("messaging_product"));
        assert!(details(json!({"messaging_product": "whatsapp", "text": {"body": "x"}})).contains("to"));
        assert!(details(json!({"messaging_product": "whatsapp", "to": "49151", "type": "text", "text": {}})).contains("text.body"));
        assert!(details(json!({"messaging_product": "whatsapp", "to": "abc", "text": {"body": "x"}})).contains("to"));
        assert!(details(json!({"messaging_product": "whatsapp", "to": "49151", "type": "image", "image": {}})).contains("image.id"));
        assert!(details(json!({"messaging_product": "whatsapp", "to": "49151", "type": "image", "image": {"link": "ftp://x"}}))
            .contains("image.link"));
        assert!(details(json!({"messaging_product": "whatsapp", "to": "49151", "type": "reaction", "reaction": {"emoji": "👍"}}))
            .contains("reaction.message_id"));
        assert!(details(json!({"messaging_product": "whatsapp", "to": "49151", "type": "gif", "gif": {}})).contains("gif"));
        let four_buttons = json!({"messaging_product": "whatsapp", "to": "49151", "type": "interactive", "interactive": {
            "type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
                {"type": "reply", "reply": {"id": "a", "title": "A"}}, {"type": "reply", "reply": {"id": "b", "title": "B"}},
                {"type": "reply", "reply": {"id": "c", "title": "C"}}, {"type": "reply", "reply": {"id": "d", "title": "D"}}]}}});
        assert!(details(four_buttons).contains("interactive.action.buttons"));
    }

    #[test]
    fn to_takes_phone_numbers_and_recipient_bsuids() {
        let text = |extra: Value| {
            let mut v = json!({"messaging_product": "whatsapp", "text": {"body": "hi"}});
            v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            v
        };
        let Ok(SendRequest::Message(m)) = parse_json(text(json!({"recipient": "US.ENT.11815799212886844830"}))) else {
            panic!("a parent BSUID in recipient should parse")
        };
        assert_eq!(m.to, Addressee::UserId("US.ENT.11815799212886844830".into()));
        let Ok(SendRequest::Message(m)) = parse_json(text(json!({"to": "15550001234", "recipient": "US.13491208655302741918"}))) else {
            panic!("both should parse")
        };
        assert!(matches!(m.to, Addressee::Phone { .. }), "to wins");
        assert!(details(text(json!({"to": "US.13491208655302741918"}))).contains("send BSUIDs in recipient"));
        assert!(details(text(json!({"recipient": "15550001234"}))).contains("a phone number goes in to"));
        assert!(details(text(json!({}))).contains("to or recipient"));
    }

    #[test]
    fn mark_read() {
        let Ok(SendRequest::MarkRead { message_id, typing: true }) = parse_json(
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X", "typing_indicator": {"type": "text"}}),
        ) else {
            panic!("mark-as-read should parse")
        };
        assert_eq!(message_id, "wamid.X");
    }
}
