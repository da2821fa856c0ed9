//! Acting as the customer: a message to a business number, built as Meta's webhook carries it, signed
//! and posted to the desk. It also opens (or refreshes) the customer's 24 h window in the sim.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::SimError;
use crate::media::sample_bytes;
use crate::request::wa_id_of;
use crate::samples;
use crate::state::{new_wamid, DeliveryRecord, InboundRecord, SimHandle};
use crate::webhooks::{contact, envelope, messages_value, user_ids};

/// A message a customer sends. As JSON (`POST /sim/say`):
/// `{"from": "4915112345678", "name": "Ada", "type": "text", "body": "Hello"}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Say {
    /// The business number written to; the first configured one when absent.
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// The customer's phone number (`wa_id`); `+`, spaces and dashes are ignored.
    pub from: String,
    /// The customer's WhatsApp profile name. Remembered per customer; `Customer <last 4 digits>` by default.
    #[serde(default)]
    pub name: Option<String>,
    /// The sender's timestamp (unix seconds); the sim clock's now when absent.
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// A wamid this message replies to (`context.id`).
    #[serde(default)]
    pub reply_to: Option<String>,
    #[serde(flatten)]
    pub content: SayContent,
}

/// What the customer sends.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SayContent {
    /// Text; with `referral`, it arrives from a click-to-WhatsApp ad.
    Text {
        body: String,
        #[serde(default)]
        referral: Option<Referral>,
    },
    /// A picture: the sample PNG, or an uploaded `media_id`.
    Image {
        #[serde(default)]
        caption: Option<String>,
        #[serde(default)]
        media_id: Option<String>,
    },
    /// A voice note (`audio`, `voice: true`, `audio/ogg; codecs=opus`): the sample, or `media_id`.
    Voice {
        #[serde(default)]
        media_id: Option<String>,
    },
    /// A document: the sample PDF, or `media_id`.
    Document {
        #[serde(default)]
        filename: Option<String>,
        #[serde(default)]
        caption: Option<String>,
        #[serde(default)]
        media_id: Option<String>,
    },
    /// A reaction to `message_id`; an empty emoji removes it.
    Reaction {
        message_id: String,
        #[serde(default)]
        emoji: String,
    },
}

/// Where a click-to-WhatsApp customer came from (`messages[].referral`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Referral {
    pub source_url: String,
    pub source_id: String,
    pub source_type: String,
    pub headline: String,
    pub body: String,
    pub media_type: String,
    pub image_url: String,
    pub ctwa_clid: String,
}

impl Default for Referral {
    fn default() -> Self {
        Self {
            source_url: "https://fb.me/windowdesk-demo-ad".into(),
            source_id: "120200000000000001".into(),
            source_type: "ad".into(),
            headline: "Talk to us on WhatsApp".into(),
            body: "Questions? Our team answers within minutes.".into(),
            media_type: "image".into(),
            image_url: "https://scontent.example/ad.png".into(),
            ctwa_clid: "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-GABDLOPaOdRMXP".into(),
        }
    }
}

impl Say {
    fn new(from: &str, content: SayContent) -> Self {
        Self { phone_number_id: None, from: from.to_owned(), name: None, timestamp: None, reply_to: None, content }
    }

    pub fn text(from: &str, body: &str) -> Self {
        Self::new(from, SayContent::Text { body: body.to_owned(), referral: None })
    }

    /// A text from someone who clicked a click-to-WhatsApp ad.
    pub fn from_ad(from: &str, body: &str) -> Self {
        Self::new(from, SayContent::Text { body: body.to_owned(), referral: Some(Referral::default()) })
    }

    pub fn image(from: &str, caption: Option<&str>) -> Self {
        Self::new(from, SayContent::Image { caption: caption.map(str::to_owned), media_id: None })
    }

    pub fn voice(from: &str) -> Self {
        Self::new(from, SayContent::Voice { media_id: None })
    }

    pub fn document(from: &str, filename: &str) -> Self {
        Self::new(from, SayContent::Document { filename: Some(filename.to_owned()), caption: None, media_id: None })
    }

    pub fn reaction(from: &str, message_id: &str, emoji: &str) -> Self {
        Self::new(from, SayContent::Reaction { message_id: message_id.to_owned(), emoji: emoji.to_owned() })
    }

    #[must_use]
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    #[must_use]
    pub fn to_number(mut self, phone_number_id: &str) -> Self {
        self.phone_number_id = Some(phone_number_id.to_owned());
        self
    }

    #[must_use]
    pub fn at(mut self, unix_seconds: i64) -> Self {
        self.timestamp = Some(unix_seconds);
        self
    }

    #[must_use]
    pub fn replying_to(mut self, wamid: &str) -> Self {
        self.reply_to = Some(wamid.to_owned());
        self
    }
}

/// What happened to a [`Say`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Said {
    pub wamid: String,
    /// The webhook delivery, finished (delivered, failed after retries, or skipped without a URL).
    pub delivery: DeliveryRecord,
}

impl SimHandle {
    /// Makes a customer send a message. Returns once the webhook was delivered (the desk answered
    /// 2xx, so it has committed it) or every retry failed.
    pub async fn say(&self, say: Say) -> Result<Said, SimError> {
        let number = match &say.phone_number_id {
            Some(id) => self.number(id).ok_or_else(|| SimError::UnknownNumber(id.clone()))?,
            None => self.0.config.numbers.first().ok_or_else(|| SimError::UnknownNumber(String::new()))?,
        }
        .clone();
        let from = wa_id_of(&say.from).ok_or_else(|| SimError::invalid("from", format!("{:?} is not a phone number", say.from)))?;
        // Whole seconds, as the webhook carries them: the sim's window then ends exactly where the desk's does (W1).
        let sent_at_ms = say.timestamp.unwrap_or_else(|| self.0.clock.now_secs()).saturating_mul(1000);
        let wamid = new_wamid();
        let (kind, text, body) = self.content_json(&number.phone_number_id, &say.content)?;
        let mut message = json!({"from": from, "id": wamid, "timestamp": sent_at_ms.div_euclid(1000).to_string(), "type": kind});
        message[kind] = body;
        if let SayContent::Text { referral: Some(r), .. } = &say.content {
            message["referral"] = serde_json::to_value(r).unwrap_or(Value::Null);
        }
        if let Some(reply_to) = &say.reply_to {
            message["context"] = json!({"from": number.display_digits(), "id": reply_to});
        }
        let profile_name = {
            let mut inner = self.lock();
            let customer = inner.customer(&number.phone_number_id, &from);
            if let Some(name) = say.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                customer.profile_name = Some(name.to_owned());
            }
            let name = customer.profile_name.get_or_insert_with(|| format!("Customer {}", &from[from.len().saturating_sub(4)..])).clone();
            // The window counts from the newest message the customer sent; a late old one never moves it back.
            customer.last_inbound_ms = Some(customer.last_inbound_ms.map_or(sent_at_ms, |t| t.max(sent_at_ms)));
            if matches!(say.content, SayContent::Text { referral: Some(_), .. }) {
                customer.referral_ms = Some(sent_at_ms);
            }
            let seq = inner.next_seq();
            inner.inbound.push(InboundRecord {
                seq,
                wamid: wamid.clone(),
                phone_number_id: number.phone_number_id.clone(),
                from: from.clone(),
                kind: kind.to_owned(),
                text,
                sent_at_ms,
                message: message.clone(),
            });
            name
        };
        let ids = user_ids(&number.waba_id, &from, self.0.config.parent_bsuids);
        let value = messages_value(&number, contact(Some(&from), &ids, Some(&profile_name)), "messages", vec![message]);
        let delivery = self.deliver(&number, "message".into(), &wamid, &envelope(&number, value)).await;
        Ok(Said { wamid, delivery })
    }

    /// The message type, its readable text, and the type's object.
    fn content_json(&self, phone_number_id: &str, content: &SayContent) -> Result<(&'static str, Option<String>, Value), SimError> {
        Ok(match content {
            SayContent::Text { body, .. } => {
                if body.trim().is_empty() {
                    return Err(SimError::invalid("body", "a text message needs a body"));
                }
                ("text", Some(body.clone()), json!({ "body": body }))
            }
            SayContent::Image { caption, media_id } => {
                let mut obj = self.media_object(phone_number_id, media_id.as_deref(), samples::png(), samples::PNG_MIME, None)?;
                if let Some(c) = caption.as_deref().filter(|c| !c.is_empty()) {
                    obj["caption"] = json!(c);
                }
                ("image", caption.clone(), obj)
            }
            SayContent::Voice { media_id } => {
                let mut obj = self.media_object(phone_number_id, media_id.as_deref(), samples::ogg_opus(), samples::VOICE_MIME, None)?;
                obj["voice"] = json!(true);
                ("audio", None, obj)
            }
            SayContent::Document { filename, caption, media_id } => {
                let filename = filename.clone().unwrap_or_else(|| "invoice.pdf".to_owned());
                let mut obj =
                    self.media_object(phone_number_id, media_id.as_deref(), samples::pdf(), samples::PDF_MIME, Some(&filename))?;
                obj["filename"] = json!(filename);
                if let Some(c) = caption.as_deref().filter(|c| !c.is_empty()) {
                    obj["caption"] = json!(c);
                }
                ("document", caption.clone().or(Some(filename)), obj)
            }
            SayContent::Reaction { message_id, emoji } => {
                if message_id.is_empty() {
                    return Err(SimError::invalid("message_id", "a reaction needs the wamid it reacts to"));
                }
                ("reaction", Some(emoji.clone()).filter(|e| !e.is_empty()), json!({"message_id": message_id, "emoji": emoji}))
            }
        })
    }

    /// `{"mime_type", "sha256", "id"}` for an uploaded file, or for a fresh copy of a sample (each
    /// message gets its own media id, as at Meta).
    fn media_object(
        &self,
        phone_number_id: &str,
        media_id: Option<&str>,
        sample: &'static [u8],
        mime: &str,
        filename: Option<&str>,
    ) -> Result<Value, SimError> {
        let info = match media_id {
            Some(id) => self.media_info(id).ok_or_else(|| SimError::UnknownMedia(id.to_owned()))?,
            None => self.add_media(phone_number_id, sample_bytes(sample), mime, filename),
        };
        Ok(json!({"mime_type": info.mime_type, "sha256": info.sha256_base64, "id": info.id}))
    }
}
