//! Templates that change while the sim runs: a test or a person pauses, disables or re-approves one
//! (`PUT /sim/templates/status`), or adds one (`POST /sim/templates`). A status change is what Meta
//! does on its own side: the sim enforces the new status on sends (`132015`, `132016`, `132001`), lists
//! it in `GET /{version}/{waba-id}/message_templates`, and tells the desk with a signed
//! `message_template_status_update` webhook shaped as Meta's (see the pywa fixture
//! `template_status_update.json`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::{SimNumber, TemplateConfig};
use crate::error::SimError;
use crate::state::{new_numeric_id, DeliveryRecord, SimHandle};
use crate::templates::{derive, visible_to};

/// The statuses (and status events) Meta gives templates.
pub const TEMPLATE_STATUSES: &[&str] = &[
    "APPROVED",
    "PENDING",
    "REJECTED",
    "PAUSED",
    "DISABLED",
    "IN_APPEAL",
    "FLAGGED",
    "REINSTATED",
    "PENDING_DELETION",
    "DELETED",
    "ARCHIVED",
    "LIMIT_EXCEEDED",
    "LOCKED",
];

const CATEGORIES: &[&str] = &["MARKETING", "UTILITY", "AUTHENTICATION"];

/// A status change, as `PUT /sim/templates/status` takes it:
/// `{"name": "order_update", "language": "en_US", "status": "PAUSED", "reason": "…"?, "waba_id": "…"?}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TemplateStatusChange {
    pub name: String,
    pub language: String,
    /// One of [`TEMPLATE_STATUSES`] (any case).
    pub status: String,
    /// The webhook's `reason`; `NONE` when absent.
    #[serde(default)]
    pub reason: Option<String>,
    /// Picks the template of this WABA when several WABAs have one of that name and language.
    #[serde(default)]
    pub waba_id: Option<String>,
}

impl TemplateStatusChange {
    pub fn new(name: &str, language: &str, status: &str) -> Self {
        Self { name: name.to_owned(), language: language.to_owned(), status: status.to_owned(), reason: None, waba_id: None }
    }

    #[must_use]
    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_owned());
        self
    }
}

/// The answer to a status change: the template as it is now (with its `id`), and the
/// `message_template_status_update` webhooks sent about it, one per WABA that has it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TemplateStatusChanged {
    pub template: TemplateConfig,
    pub deliveries: Vec<DeliveryRecord>,
}

fn normalized_status(status: &str) -> Result<String, SimError> {
    let s = status.trim().to_ascii_uppercase();
    if TEMPLATE_STATUSES.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(SimError::invalid("status", format!("{status:?} is not a template status ({})", TEMPLATE_STATUSES.join(", "))))
    }
}

/// `message_template_status_update`'s change `value`, as Meta sends it.
fn status_value(t: &TemplateConfig, event: &str, reason: Option<&str>) -> Value {
    let id = t.id.clone().unwrap_or_default();
    // Meta sends the id as a JSON number.
    let id_json = id.parse::<u64>().map_or_else(|_| json!(id), |n| json!(n));
    let mut value = json!({
        "event": event,
        "message_template_id": id_json,
        "message_template_name": t.name,
        "message_template_language": t.language,
        "reason": reason.unwrap_or("NONE"),
        "message_template_category": t.category,
    });
    let other_info = match event {
        "PAUSED" => Some(("FIRST_PAUSE", "Your message template has been paused because of low quality.")),
        "DISABLED" => Some(("DISABLED", "Your message template has been disabled because of repeated low quality.")),
        _ => None,
    };
    if let Some((title, description)) = other_info {
        value["other_info"] = json!({"title": title, "description": reason.unwrap_or(description)});
    }
    value
}

impl SimHandle {
    /// The templates as the sim has them now, in list order, each with its `id`.
    pub fn templates(&self) -> Vec<TemplateConfig> {
        self.templates_read().iter().map(|t| t.config.clone()).collect()
    }

    /// Changes a template's status and sends the desk Meta's `message_template_status_update` webhook
    /// (awaited, retries included). Errors: an unknown status or WABA (400), no such template (404).
    pub async fn set_template_status(&self, change: TemplateStatusChange) -> Result<TemplateStatusChanged, SimError> {
        let status = normalized_status(&change.status)?;
        if let Some(waba) = &change.waba_id {
            if !self.config().numbers.iter().any(|n| &n.waba_id == waba) {
                return Err(SimError::invalid("waba_id", format!("{waba} is not a WABA of the simulator")));
            }
        }
        let template = {
            let mut templates = self.templates_write();
            let t = templates
                .iter_mut()
                .find(|t| {
                    t.config.name == change.name
                        && t.config.language == change.language
                        && change.waba_id.as_deref().is_none_or(|w| visible_to(t, w))
                })
                .ok_or_else(|| SimError::UnknownTemplate {
                    name: change.name.clone(),
                    language: change.language.clone(),
                    waba_id: change.waba_id.clone(),
                })?;
            t.config.status = status.clone();
            t.config.clone()
        };
        // Every WABA that has the template hears of it, through its first number's app (secret, webhook URL).
        let mut recipients: Vec<SimNumber> = Vec::new();
        for n in &self.config().numbers {
            let has_it = template.waba_id.as_deref().is_none_or(|w| w == n.waba_id);
            if has_it && !recipients.iter().any(|r| r.waba_id == n.waba_id) {
                recipients.push(n.clone());
            }
        }
        let value = status_value(&template, &status, change.reason.as_deref());
        let mut deliveries = Vec::with_capacity(recipients.len());
        for number in recipients {
            let payload = json!({
                "object": "whatsapp_business_account",
                "entry": [{
                    "id": number.waba_id,
                    "time": self.0.clock.now_secs(),
                    "changes": [{"value": value, "field": "message_template_status_update"}],
                }],
            });
            let id = template.id.clone().unwrap_or_default();
            deliveries.push(self.deliver(&number, format!("template_status:{status}"), &id, &payload).await);
        }
        Ok(TemplateStatusChanged { template, deliveries })
    }

    /// Adds a template (shaped as the configuration's `[[templates]]`); it is listed after the others.
    /// Errors: a missing name, language or components, an unknown category, status or WABA (400), a
    /// template of that name and language for the same WABA, or an id in use (409).
    pub fn add_template(&self, template: TemplateConfig) -> Result<TemplateConfig, SimError> {
        let mut t = template;
        if t.name.trim().is_empty() {
            return Err(SimError::invalid("name", "is required"));
        }
        if t.language.trim().is_empty() {
            return Err(SimError::invalid("language", "is required, e.g. en_US"));
        }
        t.category = t.category.trim().to_ascii_uppercase();
        if !CATEGORIES.contains(&t.category.as_str()) {
            return Err(SimError::invalid("category", format!("must be one of {}", CATEGORIES.join(", "))));
        }
        t.status = normalized_status(&t.status)?;
        if t.components.is_empty() {
            return Err(SimError::invalid("components", "a template needs at least a BODY component"));
        }
        if let Some(waba) = &t.waba_id {
            if !self.config().numbers.iter().any(|n| &n.waba_id == waba) {
                return Err(SimError::invalid("waba_id", format!("{waba} is not a WABA of the simulator")));
            }
        }
        if let Some(id) = &t.id {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
                return Err(SimError::invalid("id", "must be digits, like Meta's template ids"));
            }
        }
        let mut templates = self.templates_write();
        let overlaps = |other: &TemplateConfig| match (&other.waba_id, &t.waba_id) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        if templates.iter().any(|o| o.config.name == t.name && o.config.language == t.language && overlaps(&o.config)) {
            return Err(SimError::Conflict(format!("template {} in {} exists already", t.name, t.language)));
        }
        let id = match t.id.clone() {
            Some(id) if templates.iter().any(|o| o.id == id) => {
                return Err(SimError::Conflict(format!("template id {id} is in use")));
            }
            Some(id) => id,
            None => loop {
                let id = new_numeric_id();
                if !templates.iter().any(|o| o.id == id) {
                    break id;
                }
            },
        };
        let derived = derive(&t, id);
        let config = derived.config.clone();
        templates.push(derived);
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_webhook_value_is_metas() {
        let mut t = TemplateConfig::body("order_update", "en_US", "UTILITY", "APPROVED", "Hi {{1}}");
        t.id = Some("1689556908129832".into());
        let v = status_value(&t, "APPROVED", None);
        assert_eq!(
            v,
            json!({"event": "APPROVED", "message_template_id": 1_689_556_908_129_832u64, "message_template_name": "order_update",
                   "message_template_language": "en_US", "reason": "NONE", "message_template_category": "UTILITY"})
        );
        let p = status_value(&t, "PAUSED", Some("Low quality"));
        assert_eq!(p["other_info"]["title"], "FIRST_PAUSE");
        assert_eq!(p["reason"], "Low quality");
    }

    #[test]
    fn statuses_are_checked_and_normalised() {
        assert_eq!(normalized_status(" paused ").unwrap(), "PAUSED");
        assert!(matches!(normalized_status("SLEEPING"), Err(SimError::Invalid { field: "status", .. })));
    }
}
