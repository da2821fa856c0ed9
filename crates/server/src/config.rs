//! Configuration: the embedded commented default (`config.default.toml`), then the file given with
//! `--config`, then `WINDOWDESK_…` environment variables.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The commented default configuration, as `windowdesk config print-default` prints it.
pub const DEFAULT_CONFIG: &str = include_str!("../config.default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub whatsapp: WhatsappConfig,
    pub dispatcher: DispatcherConfig,
    pub media: MediaConfig,
    pub web: WebConfig,
    pub templates: TemplatesConfig,
    pub holds: HoldsConfig,
    pub http_targets: HttpTargetsConfig,
    pub rules: RulesConfig,
    pub pricing: PricingConfig,
    pub sms: SmsConfig,
    pub log: LogConfig,
    #[serde(default)]
    pub business_numbers: Vec<BusinessNumberConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappConfig {
    pub api_base_url: String,
    pub api_version: String,
    pub request_timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    pub dir: std::path::PathBuf,
    pub max_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Sessions end this long after sign-in.
    pub session_hours: u64,
    /// Mark the session cookie `Secure` (sent over HTTPS only).
    pub secure_cookies: bool,
    /// Sign-in attempts per minute for one email address, and for one client address.
    pub login_attempts_per_minute: u32,
    /// Time zone for agents who have not chosen one (IANA name).
    pub default_time_zone: String,
    /// "Windows closing soon" lists windows that close within this many minutes.
    pub closing_soon_minutes: u64,
    /// Where agents reach the desk, for `{{ticket.url}}`; empty when unknown.
    pub public_url: String,
    /// An agent's reply from the ticket page assigns an unassigned ticket to them.
    pub assign_on_reply: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatesConfig {
    /// Every account's templates are synced from Meta at start and then this often; 0 = only on demand.
    pub sync_interval_minutes: u64,
    /// Templates per page asked of Meta.
    pub page_size: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTargetsConfig {
    /// How long one POST to a target may take, in seconds.
    pub timeout_seconds: u64,
    /// The wait before the second attempt, in milliseconds; it doubles each time, up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// A target failing for this many minutes is shown as needing attention.
    pub attention_after_minutes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldsConfig {
    /// How long a held reply waits for the customer, for numbers that do not set their own.
    pub default_hours: i64,
    /// How often held replies are checked for expiry.
    pub expiry_check_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingConfig {
    /// The currency messages are priced in: the rate cards in it are used (ISO 4217).
    pub currency: String,
    /// Seed the shipped rate cards, each once.
    pub seed_shipped_cards: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Seed the shipped default rules the first time the desk starts on a database.
    pub seed_defaults: bool,
    /// How often the automation sweep looks at every open ticket, in seconds (at most 60).
    pub sweep_interval_seconds: u64,
    /// An automation execution overdue by more than this (the desk was down) is recorded as expired
    /// instead of run late, in minutes.
    pub overdue_limit_minutes: u64,
    /// How long an instance holds a claimed execution before another may take it over, in seconds.
    pub claim_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// A Twilio-compatible Messages API. SMS fallback is off while `account_sid` is empty.
    pub api_base_url: String,
    pub account_sid: String,
    pub auth_token: SecretString,
    pub request_timeout_seconds: u64,
    /// What the provider charges per message, in `pricing.currency` ("0.0079"); empty: unknown.
    pub price_per_message: String,
}

impl SmsConfig {
    pub fn enabled(&self) -> bool {
        !self.account_sid.trim().is_empty()
    }

    /// The configured price per message, checked by [`Config::validate`].
    pub fn price(&self) -> Option<windowdesk_core::pricing::Decimal> {
        let p = self.price_per_message.trim();
        if p.is_empty() {
            None
        } else {
            p.parse().ok()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatcherConfig {
    pub throughput_per_second: u32,
    pub pair_interval_seconds: u64,
    pub pair_burst: u32,
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    pub max_attempts: u32,
    pub concurrency: usize,
    pub claim_lease_seconds: u64,
    /// W9: free-form sends are not started within this many milliseconds of `window_end`.
    pub window_guard_ms: u64,
}

impl Config {
    /// The longest a send request can take: a send must be answered before its lease can pass on.
    pub fn longest_send_request(&self) -> Duration {
        let sms = if self.sms.enabled() { self.sms.request_timeout_seconds } else { 0 };
        Duration::from_secs(self.whatsapp.request_timeout_seconds.max(sms))
    }

    /// The shortest `dispatcher.claim_lease_seconds` allowed: a send starts only while its lease has
    /// the longest request plus 2 s left, and a lease renewed every quarter of its length must leave
    /// that much between renewals.
    pub fn min_claim_lease_seconds(&self) -> u64 {
        2 * (self.longest_send_request().as_secs() + 2)
    }
}

impl DispatcherConfig {
    /// WhatsApp's window policy with this desk's send guard (W9): what the send decision, the
    /// dispatcher and the countdown all use.
    pub fn window_policy(&self) -> windowdesk_core::WindowPolicy {
        windowdesk_core::WindowPolicy::WHATSAPP.with_send_guard(Duration::from_millis(self.window_guard_ms))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    pub shutdown_grace_seconds: u64,
    /// A connection whose request headers have not all arrived by then is closed.
    pub header_read_timeout_seconds: u64,
    /// A request whose body has not all arrived by then fails.
    pub body_read_timeout_seconds: u64,
    /// Open connections at most; more wait in the listen backlog.
    pub max_connections: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_batch: usize,
    pub max_in_flight: usize,
    pub pool_size: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessNumberConfig {
    pub phone_number_id: String,
    pub waba_id: String,
    pub display_number: String,
    pub name: String,
    pub access_token: SecretString,
    pub app_secret: SecretString,
    pub verify_token: SecretString,
    #[serde(default = "yes")]
    pub redact_card_numbers: bool,
    /// Overrides `dispatcher.throughput_per_second` for this number.
    #[serde(default)]
    pub throughput_per_second: Option<u32>,
    /// The ways out of a closed window offered for this number, most preferred first. Seeds the
    /// number's settings the first time the desk sees it; the admin page edits them afterwards.
    #[serde(default = "default_ladder")]
    pub fallback: Vec<String>,
    /// E.164 sender for SMS fallback (needs `[sms]` configured).
    #[serde(default)]
    pub sms_from: Option<String>,
    /// A template sent when a reply is held ("a reply is waiting for you").
    #[serde(default)]
    pub hold_notice_template: Option<String>,
    #[serde(default)]
    pub hold_notice_language: Option<String>,
    /// How long a held reply waits for the customer; `holds.default_hours` when absent.
    #[serde(default)]
    pub hold_hours: Option<i64>,
    /// Mark the customer's messages read at Meta when an agent opens their ticket.
    #[serde(default = "yes")]
    pub read_receipts: bool,
    /// Show the customer a typing indicator while an agent types a reply.
    #[serde(default = "yes")]
    pub typing_indicator: bool,
}

fn default_ladder() -> Vec<String> {
    windowdesk_core::Fallback::DEFAULT_LADDER.iter().map(|f| f.as_str().to_owned()).collect()
}

/// The sections a `WINDOWDESK_<SECTION>__<KEY>` variable can set.
const SECTIONS: &[&str] = &["server", "database", "whatsapp", "dispatcher", "media", "web", "templates", "holds", "sms", "log"];

/// `WINDOWDESK_SERVER__LISTEN` and the like. Other `WINDOWDESK_` variables (`WINDOWDESK_CONFIG`, the
/// command-line fallbacks, test settings) are not configuration and are left alone.
fn settings_from_env() -> Env {
    Env::prefixed("WINDOWDESK_")
        .filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            SECTIONS.iter().any(|s| key.strip_prefix(s).is_some_and(|rest| rest.starts_with("__")))
        })
        .split("__")
}

fn yes() -> bool {
    true
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(Box<figment::Error>),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads default → file (if given) → environment, and validates.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Toml::string(DEFAULT_CONFIG));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!("config file {} does not exist", path.display())));
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(settings_from_env());
        Self::from_figment(fig)
    }

    /// Parses a configuration from TOML text layered over the default (tests, demo).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Self::from_figment(Figment::from(Toml::string(DEFAULT_CONFIG)).merge(Toml::string(text)))
    }

    fn from_figment(fig: Figment) -> Result<Config, ConfigError> {
        let config: Config = fig.extract().map_err(|e| ConfigError::Load(Box::new(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: each error names the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.server.max_body_bytes == 0 {
            return Err(ConfigError::Invalid("server.max_body_bytes must be above 0".into()));
        }
        if !(1..=1000).contains(&self.dispatcher.throughput_per_second) {
            return Err(ConfigError::Invalid(format!(
                "dispatcher.throughput_per_second must be between 1 and 1000, got {}",
                self.dispatcher.throughput_per_second
            )));
        }
        if self.dispatcher.pair_burst == 0 || self.dispatcher.concurrency == 0 || self.dispatcher.max_attempts == 0 {
            return Err(ConfigError::Invalid(
                "dispatcher.pair_burst, dispatcher.concurrency and dispatcher.max_attempts must be above 0".into(),
            ));
        }
        let least = self.min_claim_lease_seconds();
        if self.dispatcher.claim_lease_seconds < least {
            return Err(ConfigError::Invalid(format!(
                "dispatcher.claim_lease_seconds ({}) must be at least {least}: twice the longest send request (whatsapp.request_timeout_seconds {}{}) plus 2 s each, so a send started under the lease is answered before another instance can take the number over",
                self.dispatcher.claim_lease_seconds,
                self.whatsapp.request_timeout_seconds,
                if self.sms.enabled() { format!(", sms.request_timeout_seconds {}", self.sms.request_timeout_seconds) } else { String::new() }
            )));
        }
        if !self.web.public_url.is_empty() && !self.web.public_url.starts_with("http://") && !self.web.public_url.starts_with("https://") {
            return Err(ConfigError::Invalid(format!("web.public_url must start with http:// or https://, got {:?}", self.web.public_url)));
        }
        if !self.whatsapp.api_base_url.starts_with("http://") && !self.whatsapp.api_base_url.starts_with("https://") {
            return Err(ConfigError::Invalid(format!(
                "whatsapp.api_base_url must start with http:// or https://, got {:?}",
                self.whatsapp.api_base_url
            )));
        }
        if self.web.session_hours == 0 || self.web.login_attempts_per_minute == 0 || self.web.closing_soon_minutes == 0 {
            return Err(ConfigError::Invalid(
                "web.session_hours, web.login_attempts_per_minute and web.closing_soon_minutes must be above 0".into(),
            ));
        }
        if self.web.default_time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError::Invalid(format!(
                "web.default_time_zone must be an IANA time zone such as \"Europe/Berlin\", got {:?}",
                self.web.default_time_zone
            )));
        }
        if self.templates.page_size == 0 || self.templates.page_size > 1000 {
            return Err(ConfigError::Invalid(format!("templates.page_size must be between 1 and 1000, got {}", self.templates.page_size)));
        }
        if self.holds.default_hours <= 0 || self.holds.expiry_check_seconds == 0 {
            return Err(ConfigError::Invalid("holds.default_hours and holds.expiry_check_seconds must be above 0".into()));
        }
        let h = &self.http_targets;
        if h.timeout_seconds == 0 || h.retry_initial_ms == 0 || h.retry_max_ms < h.retry_initial_ms || h.max_attempts == 0 {
            return Err(ConfigError::Invalid(
                "http_targets: timeout_seconds, retry_initial_ms and max_attempts must be above 0, and retry_max_ms at least retry_initial_ms"
                    .into(),
            ));
        }
        let sms_price = self.sms.price_per_message.trim();
        if !sms_price.is_empty() && sms_price.parse::<windowdesk_core::pricing::Decimal>().map_or(true, |p| p.is_sign_negative()) {
            return Err(ConfigError::Invalid(format!(
                "sms.price_per_message must be an amount like \"0.0079\" (in pricing.currency) or empty, got {sms_price:?}"
            )));
        }
        if self.pricing.currency.len() != 3 || !self.pricing.currency.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(ConfigError::Invalid(format!(
                "pricing.currency must be a three-letter currency code like USD, got {:?}",
                self.pricing.currency
            )));
        }
        if self.rules.sweep_interval_seconds == 0 || self.rules.sweep_interval_seconds > 60 {
            return Err(ConfigError::Invalid(format!(
                "rules.sweep_interval_seconds must be between 1 and 60 (automations are evaluated at least every minute), got {}",
                self.rules.sweep_interval_seconds
            )));
        }
        if self.rules.overdue_limit_minutes == 0 || self.rules.claim_seconds == 0 {
            return Err(ConfigError::Invalid("rules.overdue_limit_minutes and rules.claim_seconds must be above 0".into()));
        }
        if self.sms.enabled() {
            if !self.sms.api_base_url.starts_with("http://") && !self.sms.api_base_url.starts_with("https://") {
                return Err(ConfigError::Invalid(format!(
                    "sms.api_base_url must start with http:// or https://, got {:?}",
                    self.sms.api_base_url
                )));
            }
            if self.sms.auth_token.expose_secret().trim().is_empty() {
                return Err(ConfigError::Invalid("sms.auth_token is empty while sms.account_sid is set".into()));
            }
        }
        if self.database.max_batch == 0 {
            return Err(ConfigError::Invalid("database.max_batch must be above 0".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, n) in self.business_numbers.iter().enumerate() {
            let at = |field: &str| format!("business_numbers[{i}].{field}");
            if n.phone_number_id.is_empty() || !n.phone_number_id.chars().all(|c| c.is_ascii_digit()) {
                return Err(ConfigError::Invalid(format!(
                    "{} must be Meta's numeric phone number id, got {:?}",
                    at("phone_number_id"),
                    n.phone_number_id
                )));
            }
            if !seen.insert(n.phone_number_id.clone()) {
                return Err(ConfigError::Invalid(format!("{} {:?} appears twice", at("phone_number_id"), n.phone_number_id)));
            }
            for (field, secret) in [("app_secret", &n.app_secret), ("verify_token", &n.verify_token), ("access_token", &n.access_token)] {
                if secret.expose_secret().trim().is_empty() {
                    return Err(ConfigError::Invalid(format!("{} is empty", at(field))));
                }
            }
            if n.throughput_per_second.is_some_and(|t| !(1..=1000).contains(&t)) {
                return Err(ConfigError::Invalid(format!("{} must be between 1 and 1000", at("throughput_per_second"))));
            }
            if n.waba_id.trim().is_empty() {
                return Err(ConfigError::Invalid(format!("{} is empty", at("waba_id"))));
            }
            for step in &n.fallback {
                if windowdesk_core::Fallback::parse(step).is_none() {
                    return Err(ConfigError::Invalid(format!(
                        "{} has {step:?}; the steps are \"hold\", \"template\" and \"sms\"",
                        at("fallback")
                    )));
                }
            }
            if let Some(from) = n.sms_from.as_deref().filter(|f| !windowdesk_sms::is_e164(f)) {
                return Err(ConfigError::Invalid(format!(
                    "{} must be an E.164 number such as \"+15550783881\", got {from:?}",
                    at("sms_from")
                )));
            }
            if n.hold_notice_template.is_some() != n.hold_notice_language.is_some() {
                return Err(ConfigError::Invalid(format!("{} and {} go together", at("hold_notice_template"), at("hold_notice_language"))));
            }
            if n.hold_hours.is_some_and(|h| h <= 0) {
                return Err(ConfigError::Invalid(format!("{} must be above 0", at("hold_hours"))));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure signature, not ours
    fn only_section_variables_are_settings() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("WINDOWDESK_CONFIG", "/etc/windowdesk.toml");
            jail.set_env("WINDOWDESK_TEST_DATABASE_URL", "postgres://x");
            jail.set_env("WINDOWDESK_SERVER__LISTEN", "0.0.0.0:9090");
            jail.set_env("WINDOWDESK_DATABASE__URL", "postgres://db/desk");
            let c = Config::load(None).map_err(|e| figment::Error::from(e.to_string()))?;
            assert_eq!(c.server.listen.to_string(), "0.0.0.0:9090");
            assert_eq!(c.database.url, "postgres://db/desk");
            jail.set_env("WINDOWDESK_SERVER__LISTN", "x");
            let err = Config::load(None).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("listn"), "a typo in a setting is still an error: {err}");
            Ok(())
        });
    }

    #[test]
    fn the_default_config_loads() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.server.max_body_bytes, 3 * 1024 * 1024);
        assert!(c.business_numbers.is_empty());
    }

    #[test]
    fn a_sending_lease_shorter_than_two_requests_is_refused_naming_the_least() {
        let err = Config::from_toml("[dispatcher]\nclaim_lease_seconds = 20").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("dispatcher.claim_lease_seconds (20) must be at least 34"), "{err}");
        let c = Config::from_toml("[whatsapp]\nrequest_timeout_seconds = 1\n[dispatcher]\nclaim_lease_seconds = 6").unwrap();
        assert_eq!(c.min_claim_lease_seconds(), 6);
        assert_eq!(Config::from_toml("").unwrap().dispatcher.claim_lease_seconds, 40);
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let c = Config::from_toml(
            r#"[[business_numbers]]
            phone_number_id = "1" 
            waba_id = "2"
            display_number = "+1"
            name = "S"
            access_token = "tok-SECRET"
            app_secret = "app-SECRET"
            verify_token = "ver-SECRET""#,
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("SECRET"));
        assert!(c.business_numbers[0].redact_card_numbers);
    }

    #[test]
    fn errors_name_the_setting() {
        let err = Config::from_toml(
            r#"[[business_numbers]]
            phone_number_id = "abc"
            waba_id = "2"
            display_number = "+1"
            name = "S"
            access_token = "t"
            app_secret = "a"
            verify_token = "v""#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("business_numbers[0].phone_number_id"), "{err}");
        let err = Config::from_toml("[server]\nlisten = \"nowhere\"").unwrap_err().to_string();
        assert!(err.contains("listen"), "{err}");
        let err = Config::from_toml("[server]\nlisen = \"x\"").unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
    }
}
