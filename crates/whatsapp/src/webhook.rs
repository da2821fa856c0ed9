//! Serde types for Meta's webhook payloads (`object: whatsapp_business_account`).
//!
//! The envelope is typed; each change's `value` stays JSON until [`crate::normalize`] reads it by its
//! `field`, so a field or message type we have never seen is kept whole instead of failing the payload.

use serde::Deserialize;
use serde_json::Value;

/// Why a body is not a webhook payload. The message names what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("body is not valid JSON: {0}")]
    Json(String),
    #[error("body is not a WhatsApp webhook payload: {0}")]
    Shape(String),
}

#[derive(Debug, Deserialize)]
pub struct Envelope {
    #[serde(default)]
    pub object: Option<String>,
    pub entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
pub struct Entry {
    /// The WhatsApp Business Account id.
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub time: Option<i64>,
    #[serde(default)]
    pub changes: Vec<EntryChange>,
}

#[derive(Debug, Deserialize)]
pub struct EntryChange {
    pub field: String,
    pub value: Value,
}

/// `value` of a change whose field carries messages for one number (`messages`, `smb_message_echoes`,
/// `calls`, `user_preferences`…).
#[derive(Debug, Default, Deserialize)]
pub struct NumberValue {
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub contacts: Vec<WireContact>,
    #[serde(default)]
    pub messages: Vec<Value>,
    #[serde(default)]
    pub statuses: Vec<Value>,
    #[serde(default)]
    pub message_echoes: Vec<Value>,
    #[serde(default)]
    pub errors: Vec<WireError>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(deserialize_with = "string_or_number")]
    pub phone_number_id: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct WireContact {
    #[serde(default)]
    pub profile: Option<Profile>,
    #[serde(default)]
    pub wa_id: Option<String>,
    /// Business-scoped user id (BSUID), sent since 2026.
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub parent_user_id: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct WireError {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_data: Option<ErrorData>,
    #[serde(default)]
    pub href: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ErrorData {
    #[serde(default)]
    pub details: Option<String>,
}

/// One inbound message. Every type's payload is optional: which one is present follows `type`.
#[derive(Debug, Default, Deserialize)]
pub struct WireMessage {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub from_user_id: Option<String>,
    pub id: String,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub timestamp: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub context: Option<Context>,
    #[serde(default)]
    pub referral: Option<Value>,
    #[serde(default)]
    pub text: Option<Text>,
    #[serde(default)]
    pub image: Option<Media>,
    #[serde(default)]
    pub video: Option<Media>,
    #[serde(default)]
    pub document: Option<Media>,
    #[serde(default)]
    pub audio: Option<Media>,
    #[serde(default)]
    pub sticker: Option<Media>,
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    pub contacts: Option<Vec<SharedContact>>,
    #[serde(default)]
    pub interactive: Option<Interactive>,
    #[serde(default)]
    pub button: Option<Button>,
    #[serde(default)]
    pub reaction: Option<Reaction>,
    #[serde(default)]
    pub order: Option<Order>,
    #[serde(default)]
    pub system: Option<System>,
    #[serde(default)]
    pub edit: Option<Edit>,
    #[serde(default)]
    pub revoke: Option<Revoke>,
    #[serde(default)]
    pub errors: Vec<WireError>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Context {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub forwarded: bool,
    #[serde(default)]
    pub frequently_forwarded: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct Text {
    #[serde(default)]
    pub body: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct Media {
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub id: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub voice: bool,
    #[serde(default)]
    pub animated: bool,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Location {
    #[serde(default)]
    pub latitude: Option<f64>,
    #[serde(default)]
    pub longitude: Option<f64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SharedContact {
    #[serde(default)]
    pub name: Option<SharedContactName>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SharedContactName {
    #[serde(default)]
    pub formatted_name: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Interactive {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub button_reply: Option<Choice>,
    #[serde(default)]
    pub list_reply: Option<Choice>,
    #[serde(default)]
    pub nfm_reply: Option<FlowReply>,
    #[serde(default)]
    pub call_permission_reply: Option<CallPermissionReply>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Choice {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct FlowReply {
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub response_json: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CallPermissionReply {
    #[serde(default)]
    pub response: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Button {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub payload: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Reaction {
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub emoji: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Order {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub product_items: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct System {
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The new number, for `user_changed_number`.
    #[serde(default)]
    pub wa_id: Option<String>,
    /// Older payloads name the new number `new_wa_id`.
    #[serde(default)]
    pub new_wa_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Edit {
    #[serde(default)]
    pub original_message_id: Option<String>,
    #[serde(default)]
    pub message: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Revoke {
    #[serde(default)]
    pub original_message_id: Option<String>,
}

/// One status of an outbound message.
#[derive(Debug, Default, Deserialize)]
pub struct WireStatus {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub recipient_id: Option<String>,
    #[serde(default)]
    pub pricing: Option<Value>,
    #[serde(default)]
    pub errors: Vec<WireError>,
}

/// A message the business sent from the WhatsApp Business app (`smb_message_echoes`).
#[derive(Debug, Default, Deserialize)]
pub struct WireEcho {
    pub id: String,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub to_user_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub timestamp: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub text: Option<Text>,
}

/// Template registry changes (`message_template_status_update`, `template_category_update`,
/// `message_template_quality_update`, `message_template_components_update`).
#[derive(Debug, Default, Deserialize)]
pub struct WireTemplateChange {
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub message_template_id: Option<String>,
    #[serde(default)]
    pub message_template_name: Option<String>,
    #[serde(default)]
    pub message_template_language: Option<String>,
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub message_template_category: Option<String>,
    #[serde(default)]
    pub new_category: Option<String>,
    #[serde(default)]
    pub new_quality_score: Option<String>,
    #[serde(default)]
    pub message_template_element: Option<String>,
}

/// Parses a webhook body. Errors name what is wrong (not JSON, or which field is missing).
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, PayloadError> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            PayloadError::Json(e.to_string())
        } else {
            PayloadError::Shape(e.to_string())
        }
    })?;
    if let Some(object) = &env.object {
        if object != "whatsapp_business_account" {
            return Err(PayloadError::Shape(format!("field `object` is {object:?}, expected \"whatsapp_business_account\"")));
        }
    }
    Ok(env)
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("expected a string or a number, got {other}"))),
    }
}

fn opt_string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!("expected a string or a number, got {other}"))),
    }
}
