//! The SMS provider the sim also plays, for the desk's SMS fallback (SPEC 9): Twilio's Messages API,
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, on the sim's own base URL.
//!
//! It answers as Twilio does: HTTP basic auth `AccountSid:AuthToken` checked against `[sms]` of the
//! configuration (401 / `20003`), form fields `To`, `From`, `Body` validated (`21604`/`21211` To,
//! `21603`/`21212` From, `21602` missing Body, `21617` Body over 1,600 characters), then 201 with a
//! message resource (`sid` `SM…`, `status` `queued`). Faults injected with `PUT /sim/sms/faults`
//! answer the next sends instead (429 / `20429`, 500, `21610` unsubscribed, `21408` region…).
//! Every request is recorded ([`SmsRecord`]), also the refused ones; the customer's phone page shows
//! the accepted ones.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::SimError;
use crate::state::SimHandle;

/// Twilio's limit for one (concatenated) message body, in characters.
pub const MAX_SMS_BODY_CHARS: usize = 1_600;

/// One request the SMS provider received, and what it answered.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SmsRecord {
    /// Order among everything the sim recorded (messages either way and SMS; from 1, restarts at reset).
    pub seq: u64,
    /// The account SID of the URL path.
    pub account_sid: String,
    /// The basic-auth user name given, if any (the token is never recorded).
    pub auth_user: Option<String>,
    pub to: Option<String>,
    pub from: Option<String>,
    pub body: Option<String>,
    /// Every form field as sent (`To`, `From`, `Body`, and any other).
    pub fields: BTreeMap<String, String>,
    /// The HTTP status of the answer: 201 when accepted.
    pub http_status: u16,
    /// The message SID (`SM…`) when accepted.
    pub sid: Option<String>,
    /// `queued` when accepted.
    pub status: Option<String>,
    pub num_segments: Option<u32>,
    /// Twilio's error code when refused, e.g. `21211`.
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    /// When it arrived, sim clock, unix ms.
    pub received_at_ms: i64,
}

impl SmsRecord {
    pub fn accepted(&self) -> bool {
        self.http_status == 201
    }
}

/// Trouble for the next SMS sends (after the credentials check): `{"status": 400, "code": 21610,
/// "count": 2}`. `status` defaults from `code` (`20429` → 429, `20003` → 401, `20500` → 500, else
/// 400) and `code` from `status` (429 → `20429`, 401 → `20003`, 5xx → `20500`); `message` defaults to
/// Twilio's wording; `hang_ms` holds the answer back first (alone, the send then proceeds normally);
/// `count` absent means until cleared.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmsFault {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub hang_ms: Option<u64>,
    #[serde(default)]
    pub count: Option<u32>,
}

impl SmsFault {
    /// The next `count` sends (all, with `None`) answer Twilio's error `code` with `status`.
    pub fn error(status: u16, code: i64, count: Option<u32>) -> Self {
        Self { status: Some(status), code: Some(code), count, ..Self::default() }
    }

    /// Fills in `status` and `code` from each other; errors name what is wrong.
    fn resolved(mut self) -> Result<Self, SimError> {
        if let Some(s) = self.status {
            if !(400..=599).contains(&s) {
                return Err(SimError::invalid("status", "must be an HTTP error status (400-599)"));
            }
        }
        self.status = self.status.or(self.code.map(|c| match c {
            20_429 => 429,
            20_003 => 401,
            20_500 => 500,
            20_503 => 503,
            _ => 400,
        }));
        self.code = match (self.code, self.status) {
            (Some(c), _) => Some(c),
            (None, Some(429)) => Some(20_429),
            (None, Some(401)) => Some(20_003),
            (None, Some(s)) if s >= 500 => Some(20_500),
            (None, Some(_)) => return Err(SimError::invalid("code", "is required for a 4xx fault (e.g. 21610)")),
            (None, None) => None,
        };
        if self.code.is_none() && self.hang_ms.is_none() {
            return Err(SimError::invalid("status", "give a status, a code or hang_ms"));
        }
        Ok(self)
    }
}

/// Twilio's usual message for an error code.
fn default_message(code: i64, to: &str) -> String {
    match code {
        20_003 => "Authenticate".into(),
        20_404 => "The requested resource was not found".into(),
        20_429 => "Too Many Requests".into(),
        20_500 => "An internal server error has occurred".into(),
        20_503 => "Service unavailable".into(),
        21_211 => format!("The 'To' number {to} is not a valid phone number."),
        21_408 => format!("Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}"),
        21_602 => "Message body is required.".into(),
        21_610 => "Attempt to send to unsubscribed recipient".into(),
        21_614 => format!("'To' number {to} is not a valid mobile number"),
        21_617 => "The concatenated message body exceeds the 1600 character limit.".into(),
        _ => format!("Error {code}"),
    }
}

/// A Twilio error answer: `{"code", "message", "more_info", "status"}`.
struct Refusal {
    status: u16,
    code: i64,
    message: String,
}

impl Refusal {
    fn new(status: u16, code: i64, message: String) -> Self {
        Self { status, code, message }
    }

    fn body(&self) -> Value {
        json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status,
        })
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = (status, Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Twilio API\""));
        }
        resp
    }
}

/// `+` and 8 to 15 digits, the first not 0.
pub(crate) fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0'))
}

/// An alphanumeric sender ID: up to 11 letters, digits and spaces, at least one letter.
fn is_alphanumeric_sender(s: &str) -> bool {
    (1..=11).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ') && s.bytes().any(|b| b.is_ascii_alphabetic())
}

/// GSM-7 basic characters (one septet each); anything else makes the message UCS-2.
fn is_gsm7(c: char) -> bool {
    const EXTRA: &str = "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà^{}\\[~]|€";
    (c.is_ascii() && (c == '\n' || c == '\r' || !c.is_ascii_control()) && c != '`') || EXTRA.contains(c)
}

/// How many SMS segments a body takes: 160 / 153 GSM-7 characters, or 70 / 67 UTF-16 units.
pub(crate) fn segments(body: &str) -> u32 {
    let (units, single, multi) = if body.chars().all(is_gsm7) {
        let extended = "^{}\\[~]|€";
        (body.chars().map(|c| if extended.contains(c) { 2 } else { 1 }).sum::<usize>(), 160, 153)
    } else {
        (body.encode_utf16().count(), 70, 67)
    };
    let n = if units <= single { 1 } else { units.div_ceil(multi) };
    u32::try_from(n.max(1)).unwrap_or(u32::MAX)
}

/// A message SID: `SM` and 32 hex digits.
fn new_message_sid() -> String {
    let mut rng = rand::thread_rng();
    let tail: String = (0..32).map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)])).collect();
    format!("SM{tail}")
}

/// The user and password of `Authorization: Basic …`.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn rfc2822(ms: i64) -> String {
    // Twilio's own form: a two-digit day, `+0000`.
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().format("%a, %d %b %Y %H:%M:%S %z").to_string()
}

/// `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`.
pub(crate) async fn send(State(sim): State<SimHandle>, Path(account_sid): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    // Twilio reads the form whatever the content type says; a body that is not a form has no fields.
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let mut fields = BTreeMap::new();
    for (k, v) in pairs {
        fields.entry(k).or_insert(v);
    }
    let auth = basic_auth(&headers);
    let mut record = SmsRecord {
        seq: 0,
        account_sid,
        auth_user: auth.as_ref().map(|(u, _)| u.clone()),
        to: fields.get("To").cloned(),
        from: fields.get("From").cloned(),
        body: fields.get("Body").cloned(),
        fields,
        http_status: 0,
        sid: None,
        status: None,
        num_segments: None,
        error_code: None,
        error_message: None,
        received_at_ms: sim.clock().now_ms(),
    };
    let answer = answer(&sim, &mut record, auth).await;
    {
        let mut inner = sim.lock();
        record.seq = inner.next_seq();
        inner.sms.push(record);
    }
    answer
}

async fn answer(sim: &SimHandle, record: &mut SmsRecord, auth: Option<(String, String)>) -> Response {
    match decide(sim, record, auth).await {
        Ok(resource) => {
            record.http_status = 201;
            (StatusCode::CREATED, Json(resource)).into_response()
        }
        Err(refusal) => {
            record.http_status = refusal.status;
            record.error_code = Some(refusal.code);
            record.error_message = Some(refusal.message.clone());
            refusal.into_response()
        }
    }
}

async fn decide(sim: &SimHandle, record: &mut SmsRecord, auth: Option<(String, String)>) -> Result<Value, Refusal> {
    let account = &sim.config().sms;
    let authentic = auth.is_some_and(|(user, password)| user == account.account_sid && password == account.auth_token);
    if !authentic {
        return Err(Refusal::new(401, 20_003, default_message(20_003, "")));
    }
    if record.account_sid != account.account_sid {
        let path = format!("/2010-04-01/Accounts/{}/Messages.json", record.account_sid);
        return Err(Refusal::new(404, 20_404, format!("The requested resource {path} was not found")));
    }
    let to = record.to.clone().unwrap_or_default();
    let fault = take_fault(sim);
    if let Some(f) = fault {
        if let Some(ms) = f.hang_ms {
            tokio::select! {
                () = sim.0.cancel.cancelled() => {}
                () = tokio::time::sleep(Duration::from_millis(ms)) => {}
            }
        }
        if let (Some(status), Some(code)) = (f.status, f.code) {
            return Err(Refusal::new(status, code, f.message.unwrap_or_else(|| default_message(code, &to))));
        }
    }
    match record.to.as_deref().map(str::trim) {
        None | Some("") => return Err(Refusal::new(400, 21_604, "A 'To' phone number is required.".into())),
        Some(t) if !is_e164(t) => return Err(Refusal::new(400, 21_211, default_message(21_211, t))),
        Some(_) => {}
    }
    let from = match record.from.as_deref().map(str::trim) {
        None | Some("") => return Err(Refusal::new(400, 21_603, "A 'From' phone number is required.".into())),
        Some(f) if !is_e164(f) && !is_alphanumeric_sender(f) => {
            return Err(Refusal::new(
                400,
                21_212,
                format!("The 'From' number {f} is not a valid phone number, shortcode, or alphanumeric sender ID."),
            ))
        }
        Some(f) => f.to_owned(),
    };
    let body = match record.body.as_deref() {
        None | Some("") => return Err(Refusal::new(400, 21_602, default_message(21_602, &to))),
        Some(b) if b.chars().count() > MAX_SMS_BODY_CHARS => return Err(Refusal::new(400, 21_617, default_message(21_617, &to))),
        Some(b) => b.to_owned(),
    };
    let sid = new_message_sid();
    let segments = segments(&body);
    let created = rfc2822(record.received_at_ms);
    record.sid = Some(sid.clone());
    record.status = Some("queued".into());
    record.num_segments = Some(segments);
    let uri = format!("/2010-04-01/Accounts/{}/Messages/{sid}.json", account.account_sid);
    Ok(json!({
        "account_sid": account.account_sid,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": created,
        "date_sent": null,
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": from,
        "messaging_service_sid": null,
        "num_media": "0",
        "num_segments": segments.to_string(),
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": format!("/2010-04-01/Accounts/{}/Messages/{sid}/Media.json", account.account_sid)},
        "to": to.trim(),
        "uri": uri,
    }))
}

fn take_fault(sim: &SimHandle) -> Option<SmsFault> {
    let mut inner = sim.lock();
    let plan = inner.sms_fault.as_mut()?;
    let fault = plan.clone();
    match plan.count {
        Some(0) => {
            inner.sms_fault = None;
            return None;
        }
        Some(1) => inner.sms_fault = None,
        Some(n) => plan.count = Some(n - 1),
        None => {}
    }
    Some(fault)
}

impl SimHandle {
    /// Every request the SMS provider received, in order (refused ones included).
    pub fn sms(&self) -> Vec<SmsRecord> {
        self.lock().sms.clone()
    }

    /// The SMS accepted for `to` (E.164, e.g. `+4915112345678`; spaces and dashes ignored).
    pub fn sms_to(&self, to: &str) -> Vec<SmsRecord> {
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        let want = digits(to);
        self.lock().sms.iter().filter(|r| r.accepted() && r.to.as_deref().is_some_and(|t| digits(t) == want)).cloned().collect()
    }

    /// Makes the next SMS sends fail (or hang); replaces an earlier SMS fault. Returns the fault with
    /// `status` and `code` filled in.
    pub fn set_sms_fault(&self, fault: SmsFault) -> Result<SmsFault, SimError> {
        let fault = fault.resolved()?;
        self.lock().sms_fault = Some(fault.clone());
        Ok(fault)
    }

    pub fn sms_fault(&self) -> Option<SmsFault> {
        self.lock().sms_fault.clone()
    }

    pub fn clear_sms_fault(&self) {
        self.lock().sms_fault = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_and_senders() {
        assert!(is_e164("+15550783881") && is_e164("+4915112345678"));
        assert!(!is_e164("15550783881") && !is_e164("+1555") && !is_e164("+1 555 078") && !is_e164("+0123456789"));
        assert!(is_alphanumeric_sender("Windowdesk") && !is_alphanumeric_sender("12345") && !is_alphanumeric_sender("TooLongSender"));
    }

    #[test]
    fn segments_count_gsm_and_unicode() {
        assert_eq!(segments("hi"), 1);
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"a".repeat(306)), 2);
        assert_eq!(segments(&"a".repeat(307)), 3);
        assert_eq!(segments(&"ü".repeat(160)), 1, "ü is GSM-7");
        assert_eq!(segments(&"ž".repeat(70)), 1);
        assert_eq!(segments(&"ž".repeat(71)), 2);
        assert_eq!(segments("👍"), 1);
    }

    #[test]
    fn faults_fill_in_status_and_code() {
        let f = SmsFault { code: Some(20_429), ..SmsFault::default() }.resolved().unwrap();
        assert_eq!((f.status, f.code), (Some(429), Some(20_429)));
        let f = SmsFault { status: Some(500), ..SmsFault::default() }.resolved().unwrap();
        assert_eq!(f.code, Some(20_500));
        let f = SmsFault { code: Some(21_610), count: Some(2), ..SmsFault::default() }.resolved().unwrap();
        assert_eq!(f.status, Some(400));
        assert!(SmsFault { status: Some(400), ..SmsFault::default() }.resolved().is_err());
        assert!(SmsFault::default().resolved().is_err());
        assert!(SmsFault { hang_ms: Some(10), ..SmsFault::default() }.resolved().is_ok());
        assert!(SmsFault { status: Some(200), code: Some(1), ..SmsFault::default() }.resolved().is_err());
    }

    #[test]
    fn sids_look_like_twilios() {
        let sid = new_message_sid();
        assert_eq!(sid.len(), 34);
        assert!(sid.starts_with("SM") && sid[2..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    }
}
