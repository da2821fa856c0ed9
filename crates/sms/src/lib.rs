//! A client for Twilio-compatible Messages APIs: the desk's SMS fallback (SPEC 9). When WhatsApp cannot
//! carry a reply, the desk sends it as an SMS with a `https://wa.me/<number>` link to continue on WhatsApp
//! ([`fallback_body`]).
//!
//! [`SmsClient::send`] checks its input first (errors name the field), then posts
//! `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP basic auth and the form fields
//! `To`, `From`, `Body`. Failures are [`SmsError`]s read from Twilio's error body and sorted into
//! [`SmsErrorClass::Transient`] (retry later) and [`SmsErrorClass::Permanent`] (don't; `auth` when the
//! credentials are wrong); [`human_reason`] words one for an agent.
//!
//! ```no_run
//! # async fn demo() -> Result<(), windowdesk_sms::SmsError> {
//! use std::time::Duration;
//! use windowdesk_sms::{fallback_body, SmsClient, TWILIO_BASE_URL};
//! let client = SmsClient::new(TWILIO_BASE_URL, "AC…", "token".to_owned().into(), Duration::from_secs(10))?;
//! let body = fallback_body("Your refund is on its way.", "+1 555-078-3881");
//! let accepted = client.send("+15550783881", "+4915112345678", &body).await?;
//! println!("SMS {} is {}", accepted.sid, accepted.status);
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Twilio's API root, for real use.
pub const TWILIO_BASE_URL: &str = "https://api.twilio.com";

/// Twilio's limit for one (concatenated) message body, in characters.
pub const MAX_BODY_CHARS: usize = 1_600;

/// Talks to one account of a Twilio-compatible Messages API. Cheap to clone.
#[derive(Clone)]
pub struct SmsClient {
    http: reqwest::Client,
    messages_url: String,
    account_sid: String,
    auth_token: SecretString,
}

impl fmt::Debug for SmsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsClient")
            .field("messages_url", &self.messages_url)
            .field("account_sid", &self.account_sid)
            .finish_non_exhaustive()
    }
}

/// What the provider answered to an accepted message (Twilio's message resource, HTTP 201).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SmsAccepted {
    /// The message SID, `SM…`.
    pub sid: String,
    /// Usually `queued` (or `accepted`).
    pub status: String,
}

/// Whether trying again later may help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsErrorClass {
    /// 429, 5xx, a timeout or a connection error: try again later.
    Transient,
    /// Anything else: the same request will fail again. `auth`: the account SID or token is wrong
    /// (401 or code `20003`), so every SMS of this account will.
    Permanent { auth: bool },
}

/// A failed send: refused before sending (`http_status` `None`, `field` names the input), refused by
/// the provider (Twilio's `{"code", "message", "more_info", "status"}`), or not answered at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", display(self))]
pub struct SmsError {
    pub http_status: Option<u16>,
    /// Twilio's error code, e.g. `21211`.
    pub code: Option<i64>,
    pub message: String,
    /// Twilio's link to the error's documentation.
    pub more_info: Option<String>,
    pub class: SmsErrorClass,
    /// The input at fault when the client refused to send: `To`, `From`, `Body`, `base_url`, `account_sid`.
    pub field: Option<&'static str>,
}

fn display(e: &SmsError) -> String {
    match (e.http_status, e.code) {
        (_, Some(code)) => format!("{} ({code})", e.message.trim_end_matches('.')),
        (Some(status), None) => format!("HTTP {status}: {}", e.message),
        (None, None) => e.message.clone(),
    }
}

impl SmsError {
    fn invalid(field: &'static str, reason: impl fmt::Display) -> Self {
        Self {
            http_status: None,
            code: None,
            message: format!("{field}: {reason}"),
            more_info: None,
            class: SmsErrorClass::Permanent { auth: false },
            field: Some(field),
        }
    }

    fn transport(message: String) -> Self {
        Self { http_status: None, code: None, message, more_info: None, class: SmsErrorClass::Transient, field: None }
    }

    pub fn is_transient(&self) -> bool {
        self.class == SmsErrorClass::Transient
    }
}

/// Sorts a provider's answer: 429 and 5xx are transient, 401 or code `20003` are permanent auth
/// failures, anything else is permanent.
pub fn classify(http_status: u16, code: Option<i64>) -> SmsErrorClass {
    if http_status == 401 || code == Some(20_003) {
        SmsErrorClass::Permanent { auth: true }
    } else if http_status == 429 || (500..=599).contains(&http_status) {
        SmsErrorClass::Transient
    } else {
        SmsErrorClass::Permanent { auth: false }
    }
}

#[derive(Deserialize)]
struct WireError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    more_info: Option<String>,
}

/// Reads a provider's error answer. A body that is not Twilio's JSON still gives a message (its
/// start, or the HTTP status's reason).
pub fn parse_error(http_status: u16, body: &[u8]) -> SmsError {
    let wire = serde_json::from_slice::<WireError>(body).ok().filter(|w| w.code.is_some() || w.message.is_some());
    let (code, message, more_info) = match wire {
        Some(w) => (w.code, w.message.unwrap_or_else(|| reason_phrase(http_status)), w.more_info),
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let message = if text.is_empty() {
                reason_phrase(http_status)
            } else {
                let start: String = text.chars().take(200).collect();
                let cut = if start.len() < text.len() { "…" } else { "" };
                format!("{}: {start}{cut}", reason_phrase(http_status))
            };
            (None, message, None)
        }
    };
    SmsError { http_status: Some(http_status), code, message, more_info, class: classify(http_status, code), field: None }
}

fn reason_phrase(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map_or_else(|| format!("HTTP {status}"), |r| format!("HTTP {status} {r}"))
}

/// `+` and 8 to 15 digits.
/// E.164-shaped: `+` and 8 to 15 digits (whether the number exists is the provider's to say).
pub fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks a message before it is sent; the error names the field.
pub fn validate(from: &str, to: &str, body: &str) -> Result<(), SmsError> {
    for (field, number) in [("To", to), ("From", from)] {
        if number.is_empty() {
            return Err(SmsError::invalid(field, "is required"));
        }
        if !is_e164(number) {
            return Err(SmsError::invalid(field, format!("must be an E.164 number, + and 8 to 15 digits (got {number:?})")));
        }
    }
    if body.trim().is_empty() {
        return Err(SmsError::invalid("Body", "must not be empty"));
    }
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(SmsError::invalid("Body", format!("is {chars} characters; an SMS body has at most {MAX_BODY_CHARS}")));
    }
    Ok(())
}

impl SmsClient {
    /// A client for the account `account_sid` at `base_url` (e.g. [`TWILIO_BASE_URL`], or the
    /// simulator's base URL). `timeout` bounds each send.
    pub fn new(base_url: &str, account_sid: &str, auth_token: SecretString, timeout: Duration) -> Result<Self, SmsError> {
        let base = base_url.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(SmsError::invalid("base_url", format!("must be an http(s) URL (got {base_url:?})")));
        }
        if account_sid.is_empty() || !account_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SmsError::invalid("account_sid", "must be an account SID (letters and digits, e.g. AC…)"));
        }
        if auth_token.expose_secret().is_empty() {
            return Err(SmsError::invalid("auth_token", "must not be empty"));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("windowdesk-sms/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SmsError::invalid("base_url", format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            http,
            messages_url: format!("{base}/2010-04-01/Accounts/{account_sid}/Messages.json"),
            account_sid: account_sid.to_owned(),
            auth_token,
        })
    }

    /// Sends `body` from `from` to `to` (both E.164). See [`SmsError`] for what can go wrong.
    pub async fn send(&self, from: &str, to: &str, body: &str) -> Result<SmsAccepted, SmsError> {
        validate(from, to, body)?;
        let response = self
            .http
            .post(&self.messages_url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .form(&[("To", to), ("From", from), ("Body", body)])
            .send()
            .await
            .map_err(|e| SmsError::transport(transport_message(&e)))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| SmsError::transport(format!("reading the SMS provider's answer: {e}")))?;
        if !(200..300).contains(&status) {
            return Err(parse_error(status, &bytes));
        }
        serde_json::from_slice::<SmsAccepted>(&bytes).map_err(|e| SmsError {
            http_status: Some(status),
            code: None,
            // It may have been accepted: sending again could send it twice.
            message: format!("the SMS provider answered {status} but not with a message resource ({e})"),
            more_info: None,
            class: SmsErrorClass::Permanent { auth: false },
            field: None,
        })
    }
}

fn transport_message(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the SMS provider did not answer in time".to_owned()
    } else if e.is_connect() {
        "cannot connect to the SMS provider".to_owned()
    } else {
        format!("the request to the SMS provider failed: {e}")
    }
}

/// Why an SMS was not sent, in words for an agent, e.g. "the SMS provider refused the number: The
/// 'To' number +1555 is not a valid phone number (21211)".
pub fn human_reason(e: &SmsError) -> String {
    let detail = e.to_string();
    if e.field.is_some() {
        return format!("the SMS was not sent: {detail}");
    }
    match (e.class, e.code) {
        (SmsErrorClass::Permanent { auth: true }, _) => {
            format!("the SMS provider refused the desk's credentials (check the account SID and auth token): {detail}")
        }
        (SmsErrorClass::Transient, _) if e.http_status == Some(429) => format!("the SMS provider is rate limiting; will retry: {detail}"),
        (SmsErrorClass::Transient, _) => format!("the SMS provider is unavailable; will retry: {detail}"),
        (_, Some(21_211 | 21_214 | 21_217 | 21_401 | 21_614 | 21_612)) => format!("the SMS provider refused the number: {detail}"),
        (_, Some(21_610)) => format!("the customer has unsubscribed from SMS (replied STOP): {detail}"),
        (_, Some(21_408)) => format!("the SMS account may not send to this region: {detail}"),
        (_, Some(21_212 | 21_606 | 21_659)) => format!("the SMS provider refused the sender number: {detail}"),
        _ => format!("the SMS provider refused the message: {detail}"),
    }
}

/// The link that opens a WhatsApp chat with the business: `https://wa.me/<digits>` (e.g.
/// "+1 555-078-3881" → `https://wa.me/15550783881`).
pub fn continue_on_whatsapp_link(display_number: &str) -> String {
    let digits: String = display_number.chars().filter(char::is_ascii_digit).collect();
    format!("https://wa.me/{digits}")
}

/// The SMS of a fallback: the reply, a blank line, "Continue on WhatsApp: https://wa.me/…". A reply
/// too long for one SMS body ([`MAX_BODY_CHARS`]) is cut, with "…", so that the link always survives.
pub fn fallback_body(reply_text: &str, display_number: &str) -> String {
    let link_line = format!("Continue on WhatsApp: {}", continue_on_whatsapp_link(display_number));
    let reply = reply_text.trim_end();
    if reply.trim().is_empty() {
        return link_line;
    }
    let budget = MAX_BODY_CHARS.saturating_sub(link_line.chars().count() + 2);
    let reply = if reply.chars().count() <= budget {
        reply.to_owned()
    } else {
        let kept: String = reply.chars().take(budget.saturating_sub(1)).collect();
        format!("{}…", kept.trim_end())
    };
    format!("{reply}\n\n{link_line}")
}

#[cfg(test)]
mod tests;
