//! The simulator's configuration. Every field has a default, so `SimConfig::default()` is a working
//! one-number sim with a few demo templates, and a TOML/JSON file only states what differs.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A commented example configuration (TOML), for `windowdesk sim` to print or start from.
pub const EXAMPLE_CONFIG: &str = include_str!("../sim.example.toml");

/// Everything the sim needs to play Meta for one or more business numbers; see [`EXAMPLE_CONFIG`].
/// Without `templates`, a demo set is used ([`default_templates`]); `templates = []` means none.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// The Graph API version the sim puts in the URLs it hands out (media, paging). Requests under any
    /// well-formed version (`v<major>.<minor>`) are served, as Meta serves several at once.
    pub api_version: String,
    /// Base URL of the sim as the desk reaches it, for media and paging URLs. Defaults to
    /// `http://<bound address>`.
    pub public_url: Option<String>,
    /// Where webhooks go (the desk's `/webhooks/whatsapp`). Without one, nothing is delivered, but
    /// everything else works. A number may override it.
    pub webhook_url: Option<String>,
    pub numbers: Vec<SimNumber>,
    pub window_enforcement: WindowEnforcement,
    pub pair_rate: PairRate,
    pub templates: Vec<TemplateConfig>,
    pub status_delays: StatusDelays,
    pub webhook_retry: RetryConfig,
    /// The SMS provider the sim also plays (Twilio's Messages API, on the same base URL).
    pub sms: SmsConfig,
    /// Play a business with parent BSUIDs enabled: webhooks then carry each customer's
    /// `parent_user_id` (`US.ENT.…`) and statuses `parent_recipient_user_id`, and sends may address
    /// customers by it in `recipient`.
    pub parent_bsuids: bool,
}

/// The credentials of the simulated SMS provider's account: the desk sends with HTTP basic auth
/// `account_sid:auth_token` to `POST /2010-04-01/Accounts/{account_sid}/Messages.json`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    /// Twilio's account SID shape: `AC` and 32 hex digits.
    pub account_sid: String,
    pub auth_token: String,
}

/// The demo's SMS account (the default desk configuration uses the same).
pub const DEFAULT_SMS_ACCOUNT_SID: &str = "AC00000000000000000000000000000001";
pub const DEFAULT_SMS_AUTH_TOKEN: &str = "sim-sms-auth-token";

impl Default for SmsConfig {
    fn default() -> Self {
        Self { account_sid: DEFAULT_SMS_ACCOUNT_SID.to_owned(), auth_token: DEFAULT_SMS_AUTH_TOKEN.to_owned() }
    }
}

/// One business number as Meta knows it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SimNumber {
    pub phone_number_id: String,
    /// As people write it, e.g. `+1 555-078-3881`; webhooks carry its digits.
    pub display_number: String,
    pub waba_id: String,
    pub access_token: String,
    /// Signs the webhooks of this number (`X-Hub-Signature-256`).
    pub app_secret: String,
    /// Sends per second before `130429`. 0 turns the limit off.
    #[serde(default = "default_throughput")]
    pub throughput_per_second: u32,
    /// Overrides [`SimConfig::webhook_url`] for this number (numbers of different Meta apps).
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// The business name WhatsApp shows (`GET /{phone-number-id}`).
    #[serde(default = "default_verified_name")]
    pub verified_name: String,
}

fn default_verified_name() -> String {
    "Windowdesk Demo".to_owned()
}

fn default_throughput() -> u32 {
    80
}

impl SimNumber {
    /// The digits of the display number, as `metadata.display_phone_number` carries them.
    pub fn display_digits(&self) -> String {
        self.display_number.chars().filter(char::is_ascii_digit).collect()
    }
}

/// How the sim answers a free-form message outside the 24 h window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowEnforcement {
    /// HTTP 400 with error `131047`.
    #[default]
    Sync,
    /// HTTP 200 with a wamid, then a `failed` status webhook carrying `131047`.
    Async,
    /// Not enforced: everything is delivered.
    Off,
}

/// Meta's pair rate: about one message per 6 s to the same customer, sustained, with a short burst.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PairRate {
    /// One message's worth of allowance comes back every `interval_ms`. 0 turns the limit off.
    pub interval_ms: u64,
    /// Messages that may go at once before `131056`.
    pub burst: u32,
}

impl Default for PairRate {
    fn default() -> Self {
        Self { interval_ms: 6_000, burst: 10 }
    }
}

/// How long after acceptance each status is sent. `None` means never (a customer who never reads).
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusDelays {
    pub sent_ms: u64,
    pub delivered_ms: Option<u64>,
    pub read_ms: Option<u64>,
    /// `played`, for audio the business sent.
    pub played_ms: Option<u64>,
}

impl Default for StatusDelays {
    fn default() -> Self {
        Self { sent_ms: 50, delivered_ms: Some(100), read_ms: Some(200), played_ms: Some(300) }
    }
}

/// Webhook retries: Meta retries failed deliveries with growing back-off; the sim does the same, briefly.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Per attempt.
    pub timeout_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self { max_attempts: 5, initial_backoff_ms: 100, max_backoff_ms: 5_000, timeout_ms: 10_000 }
    }
}

/// A message template as Meta lists it. `components` are Meta's own JSON
/// (`{"type": "BODY", "text": "Hi {{1}}"}`), served as they are.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    pub name: String,
    pub language: String,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`.
    pub category: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`.
    #[serde(default = "approved")]
    pub status: String,
    pub components: Vec<Value>,
    /// Meta's template id; generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Limits the template to one WhatsApp Business account; by default every configured WABA has it.
    #[serde(default)]
    pub waba_id: Option<String>,
}

fn approved() -> String {
    "APPROVED".to_owned()
}

impl TemplateConfig {
    /// A template with a body only.
    pub fn body(name: &str, language: &str, category: &str, status: &str, body: &str) -> Self {
        Self {
            name: name.to_owned(),
            language: language.to_owned(),
            category: category.to_owned(),
            status: status.to_owned(),
            components: vec![json!({"type": "BODY", "text": body})],
            id: None,
            waba_id: None,
        }
    }
}

impl Default for SimNumber {
    fn default() -> Self {
        // The example number of the README, so that the default desk config and the default sim match.
        Self {
            phone_number_id: "106540352242922".to_owned(),
            display_number: "+1 555-078-3881".to_owned(),
            waba_id: "102290129340398".to_owned(),
            access_token: "sim-access-token".to_owned(),
            app_secret: "appsecret".to_owned(),
            throughput_per_second: default_throughput(),
            webhook_url: None,
            verified_name: default_verified_name(),
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            api_version: "v23.0".to_owned(),
            public_url: None,
            webhook_url: None,
            numbers: vec![SimNumber::default()],
            window_enforcement: WindowEnforcement::default(),
            pair_rate: PairRate::default(),
            templates: default_templates(),
            status_delays: StatusDelays::default(),
            webhook_retry: RetryConfig::default(),
            sms: SmsConfig::default(),
            parent_bsuids: false,
        }
    }
}

/// Demo templates: one per category and parameter style, plus the statuses a desk must refuse.
pub fn default_templates() -> Vec<TemplateConfig> {
    let mut sale = TemplateConfig::body(
        "spring_sale",
        "en_US",
        "MARKETING",
        "APPROVED",
        "Hi {{1}}, our spring sale is on! Use code {{2}} for 20% off.",
    );
    sale.components.insert(0, json!({"type": "HEADER", "format": "TEXT", "text": "Spring sale"}));
    sale.components.push(json!({"type": "FOOTER", "text": "Reply STOP to opt out"}));
    sale.components.push(json!({"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Stop promotions"}]}));
    vec![
        TemplateConfig::body("hello_world", "en_US", "UTILITY", "APPROVED", "Hello! This is a message from our support team."),
        TemplateConfig::body("order_update", "en_US", "UTILITY", "APPROVED", "Hi {{1}}, your order {{2}} has shipped."),
        TemplateConfig::body("order_update", "de_DE", "UTILITY", "APPROVED", "Hallo {{1}}, deine Bestellung {{2}} ist unterwegs."),
        TemplateConfig::body(
            "reply_waiting",
            "en_US",
            "UTILITY",
            "APPROVED",
            "Hi {{first_name}}, we have answered your request. Reply to this message to read it.",
        ),
        sale,
        TemplateConfig::body("login_code", "en_US", "AUTHENTICATION", "APPROVED", "{{1}} is your verification code."),
        TemplateConfig::body("winter_sale", "en_US", "MARKETING", "PAUSED", "Hi {{1}}, winter is coming."),
        TemplateConfig::body("old_promo", "en_US", "MARKETING", "DISABLED", "Old news, {{1}}."),
        TemplateConfig::body("new_terms", "en_US", "UTILITY", "PENDING", "Our terms change on {{1}}."),
        TemplateConfig::body("spam_blast", "en_US", "MARKETING", "REJECTED", "Buy now!"),
    ]
}

impl SimConfig {
    /// Checks what serde cannot; each error names the setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.numbers.is_empty() {
            return Err("numbers: at least one business number is needed".into());
        }
        if !is_version(&self.api_version) {
            return Err(format!("api_version must look like v23.0, got {:?}", self.api_version));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, n) in self.numbers.iter().enumerate() {
            if n.phone_number_id.is_empty() || !n.phone_number_id.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!("numbers[{i}].phone_number_id must be digits, got {:?}", n.phone_number_id));
            }
            if !seen.insert(n.phone_number_id.as_str()) {
                return Err(format!("numbers[{i}].phone_number_id {} appears twice", n.phone_number_id));
            }
            if n.waba_id.is_empty() || !n.waba_id.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!("numbers[{i}].waba_id must be digits, got {:?}", n.waba_id));
            }
            if n.access_token.is_empty() {
                return Err(format!("numbers[{i}].access_token must not be empty"));
            }
            if n.app_secret.is_empty() {
                return Err(format!("numbers[{i}].app_secret must not be empty"));
            }
            if n.display_digits().is_empty() {
                return Err(format!("numbers[{i}].display_number has no digits"));
            }
        }
        let mut keys = std::collections::HashSet::new();
        for (i, t) in self.templates.iter().enumerate() {
            if t.name.is_empty() || t.language.is_empty() {
                return Err(format!("templates[{i}] needs a name and a language"));
            }
            if !keys.insert((t.waba_id.clone(), t.name.as_str(), t.language.as_str())) {
                return Err(format!("templates[{i}]: {} in {} appears twice", t.name, t.language));
            }
        }
        if self.sms.account_sid.is_empty() || self.sms.account_sid.contains('/') {
            return Err("sms.account_sid must be a non-empty account SID (AC…)".into());
        }
        if self.sms.auth_token.is_empty() {
            return Err("sms.auth_token must not be empty".into());
        }
        if self.webhook_retry.max_attempts == 0 {
            return Err("webhook_retry.max_attempts must be at least 1".into());
        }
        Ok(())
    }

    pub fn number(&self, phone_number_id: &str) -> Option<&SimNumber> {
        self.numbers.iter().find(|n| n.phone_number_id == phone_number_id)
    }
}

/// `v23.0`-like.
pub fn is_version(s: &str) -> bool {
    s.strip_prefix('v').and_then(|rest| rest.split_once('.')).is_some_and(|(major, minor)| {
        !major.is_empty() && !minor.is_empty() && major.chars().all(|c| c.is_ascii_digit()) && minor.chars().all(|c| c.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid_and_partial_files_fill_in() {
        assert_eq!(SimConfig::default().validate(), Ok(()));
        let c: SimConfig = serde_json::from_value(json!({"window_enforcement": "async", "numbers": [{
            "phone_number_id": "1", "display_number": "+1 555", "waba_id": "2", "access_token": "t", "app_secret": "s"
        }]}))
        .unwrap();
        assert_eq!(c.window_enforcement, WindowEnforcement::Async);
        assert_eq!(c.numbers[0].throughput_per_second, 80);
        assert_eq!(c.pair_rate.burst, 10);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn the_example_config_parses() {
        let c: SimConfig = toml::from_str(EXAMPLE_CONFIG).unwrap();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.templates.len(), 2);
        assert_eq!(c.numbers[0].verified_name, "Windowdesk Demo");
        assert_eq!(c.status_delays.played_ms, Some(300));
        assert_eq!(c.sms, SmsConfig::default());
    }

    #[test]
    fn versions() {
        assert!(is_version("v23.0"));
        assert!(!is_version("23.0"));
        assert!(!is_version("v23"));
        assert!(!is_version("vx.1"));
    }
}
