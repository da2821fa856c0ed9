//! `/sim/phone`: a phone-like page for playing a WhatsApp customer of one of the sim's numbers, by
//! hand in the demo or from a browser test. It is the simulator's own page, not WhatsApp.
//!
//! - `GET /sim/phone` is the page (`?wa_id=…&name=…&phone_number_id=…` prefill the form); it loads
//!   `GET /sim/phone/app.js` and `GET /sim/phone/app.css` (embedded, no build step, no CDN) under a
//!   strict Content-Security-Policy ([`PAGE_CSP`]).
//! - `POST /sim/phone/say` sends as the customer: `{"wa_id", "name"?, "phone_number_id"?, "type"}` with
//!   `type` `text` (+ `body`), `image`, `voice`, `document` (the built-in samples) or `reaction` (+
//!   `emoji`, and `message_id`, by default the business's latest message). It plays the customer
//!   through [`SimHandle::say`], as `POST /sim/say` does: signed webhook to the desk.
//! - `GET /sim/phone/thread?wa_id=…&phone_number_id=…` is the conversation as the customer's phone
//!   shows it (polled every second by the page): what the customer said and what the business sent
//!   to this customer, in order, with statuses, templates, media and reactions.
//! - `GET /sim/phone/media/{id}` serves a stored file to the page, without the Graph token.
//!
//! Bad input is a 400 `{"error": {"message", "field"}}` naming the field.

mod thread;

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::config::SimNumber;
use crate::customer::Say;
use crate::request::wa_id_of;
use crate::state::SimHandle;

/// The page's Content-Security-Policy: no inline script or style, nothing from elsewhere.
pub(crate) const PAGE_CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

const APP_JS: &str = include_str!("../assets/phone.js");
const APP_CSS: &str = include_str!("../assets/phone.css");

const DEFAULT_WA_ID: &str = "4915112345678";
const DEFAULT_NAME: &str = "Demo Customer";
/// Longest profile name accepted (WhatsApp's own limit is lower).
const MAX_NAME_CHARS: usize = 100;
/// As for the business's texts.
const MAX_BODY_CHARS: usize = 4096;

pub(crate) fn routes() -> Router<SimHandle> {
    Router::new()
        .route("/phone", get(page))
        .route("/phone/app.js", get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }))
        .route("/phone/app.css", get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }))
        .route("/phone/thread", get(thread))
        .route("/phone/say", post(say))
        .route("/phone/media/{id}", get(media))
}

/// A 400 naming the bad field (`None` when the request as a whole is malformed).
#[derive(Debug)]
pub(crate) struct Invalid {
    field: Option<String>,
    reason: String,
}

pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Invalid {
    Invalid { field: Some(field.to_owned()), reason: reason.into() }
}

impl IntoResponse for Invalid {
    fn into_response(self) -> Response {
        let message = match &self.field {
            Some(f) => format!("{f}: {}", self.reason),
            None => self.reason.clone(),
        };
        (StatusCode::BAD_REQUEST, Json(json!({"error": {"message": message, "field": self.field}}))).into_response()
    }
}

/// Escapes text for HTML content and quoted attribute values.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn with_headers(mut resp: Response, headers: &[(HeaderName, &'static str)]) -> Response {
    for (name, value) in headers {
        resp.headers_mut().insert(name.clone(), HeaderValue::from_static(value));
    }
    resp
}

fn asset(text: &'static str, content_type: &'static str) -> Response {
    with_headers(
        text.into_response(),
        &[(header::CONTENT_TYPE, content_type), (header::X_CONTENT_TYPE_OPTIONS, "nosniff"), (header::CACHE_CONTROL, "no-cache")],
    )
}

/// The business number asked for, or the first configured one.
pub(crate) fn number_of(sim: &SimHandle, phone_number_id: Option<&str>) -> Result<SimNumber, Invalid> {
    let numbers = &sim.config().numbers;
    match phone_number_id.map(str::trim).filter(|p| !p.is_empty()) {
        None => numbers.first().cloned().ok_or_else(|| invalid("phone_number_id", "the simulator has no business numbers")),
        Some(id) => sim.number(id).cloned().ok_or_else(|| {
            let known: Vec<&str> = numbers.iter().map(|n| n.phone_number_id.as_str()).collect();
            invalid("phone_number_id", format!("not one of the simulator's numbers ({})", known.join(", ")))
        }),
    }
}

/// The customer's `wa_id` as digits; `+`, spaces and dashes are ignored.
pub(crate) fn wa_id_field(input: Option<&str>) -> Result<String, Invalid> {
    let input = input.map(str::trim).filter(|s| !s.is_empty()).ok_or_else(|| invalid("wa_id", "is required"))?;
    wa_id_of(input).ok_or_else(|| invalid("wa_id", "must be a phone number of 5 to 15 digits"))
}

async fn page(State(sim): State<SimHandle>, query: Result<Query<HashMap<String, String>>, QueryRejection>) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let prefill = |key: &str, default: &str| -> String {
        let value = q.get(key).map_or(default, String::as_str);
        escape_html(&value.chars().take(MAX_NAME_CHARS).collect::<String>())
    };
    let selected = number_of(&sim, q.get("phone_number_id").map(String::as_str)).ok();
    let selected_id = selected.as_ref().map(|n| n.phone_number_id.clone()).unwrap_or_default();
    let options: String = sim
        .config()
        .numbers
        .iter()
        .map(|n| {
            format!(
                "<option value=\"{id}\" data-name=\"{name}\" data-display=\"{display}\"{sel}>{display} · {name}</option>",
                id = escape_html(&n.phone_number_id),
                name = escape_html(&n.verified_name),
                display = escape_html(&n.display_number),
                sel = if n.phone_number_id == selected_id { " selected" } else { "" },
            )
        })
        .collect();
    let (biz_name, biz_number) = selected.map(|n| (escape_html(&n.verified_name), escape_html(&n.display_number))).unwrap_or_default();
    let html = format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Customer phone · WhatsApp Cloud API simulator</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/sim/phone/app.css">
<script src="/sim/phone/app.js" defer></script>
</head>
<body>
<main class="phone">
<p class="sim-note" id="phone-note"><strong>Simulator page.</strong> This is not WhatsApp: it plays a customer of the simulated
business number. What you send reaches the desk as a signed Cloud API webhook.</p>
<header class="phone-head">
<h1>Customer phone</h1>
<p class="biz">Chat with <span id="phone-biz-name">{biz_name}</span> <span id="phone-biz-number">{biz_number}</span></p>
</header>
<form class="who" id="phone-who" action="/sim/phone" method="get">
<label for="phone-from">Your number (wa_id)</label>
<input id="phone-from" name="wa_id" value="{wa_id}" inputmode="tel" autocomplete="off" spellcheck="false" required>
<label for="phone-name">Your profile name</label>
<input id="phone-name" name="name" value="{name}" autocomplete="off" maxlength="{max_name}">
<label for="phone-number">Business number</label>
<select id="phone-number" name="phone_number_id">{options}</select>
</form>
<div id="phone-thread" class="thread" role="log" aria-label="Conversation" tabindex="0"></div>
<p id="phone-empty" class="empty">No messages yet. Say hello!</p>
<p id="phone-status" class="status" role="status"></p>
<div id="phone-react" class="react" role="group" aria-labelledby="phone-react-label">
<span id="phone-react-label">React to their last message</span>
<button type="button" data-emoji="👍" disabled>👍<span class="vh"> thumbs up</span></button>
<button type="button" data-emoji="❤️" disabled>❤️<span class="vh"> heart</span></button>
<button type="button" data-emoji="😂" disabled>😂<span class="vh"> laughing</span></button>
<button type="button" data-emoji="🙏" disabled>🙏<span class="vh"> thank you</span></button>
</div>
<div class="tools" role="group" aria-label="Send a sample file">
<button type="button" class="secondary" id="phone-send-image">Photo</button>
<button type="button" class="secondary" id="phone-send-voice">Voice note</button>
<button type="button" class="secondary" id="phone-send-document">Document</button>
</div>
<form class="compose" id="phone-compose" action="/sim/phone" method="get">
<label for="phone-text" class="vh">Message</label>
<textarea id="phone-text" rows="2" maxlength="{max_body}" placeholder="Type a message"></textarea>
<button type="submit" id="phone-send">Send</button>
</form>
<noscript><p class="status">This page needs JavaScript to send and show messages.</p></noscript>
</main>
</body>
</html>
"##,
        wa_id = prefill("wa_id", DEFAULT_WA_ID),
        name = prefill("name", DEFAULT_NAME),
        max_name = MAX_NAME_CHARS,
        max_body = MAX_BODY_CHARS,
    );
    with_headers(
        html.into_response(),
        &[
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
    )
}

async fn thread(State(sim): State<SimHandle>, query: Result<Query<HashMap<String, String>>, QueryRejection>) -> Response {
    let run = || -> Result<Value, Invalid> {
        let Query(q) = query.map_err(|e| Invalid { field: None, reason: e.body_text() })?;
        if let Some(other) = q.keys().find(|k| !matches!(k.as_str(), "wa_id" | "phone_number_id")) {
            return Err(invalid(other, "unknown parameter (wa_id, phone_number_id)"));
        }
        let wa_id = wa_id_field(q.get("wa_id").map(String::as_str))?;
        let number = number_of(&sim, q.get("phone_number_id").map(String::as_str))?;
        Ok(thread::conversation(&sim, &number, &wa_id))
    };
    match run() {
        Ok(v) => with_headers(Json(v).into_response(), &[(header::CACHE_CONTROL, "no-store")]),
        Err(e) => e.into_response(),
    }
}

/// The fields of a `POST /sim/phone/say` body that every type has, and those of each type.
const COMMON_FIELDS: &[&str] = &["wa_id", "name", "phone_number_id", "type"];

fn type_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "text" => &["body"],
        "image" | "voice" | "document" => &[],
        "reaction" => &["emoji", "message_id"],
        _ => return None,
    })
}

fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Invalid> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(key, "must be a string")),
    }
}

/// Reads and checks a `POST /sim/phone/say` body into the [`Say`] it stands for.
fn parse_say(sim: &SimHandle, body: &Value) -> Result<Say, Invalid> {
    let obj = body.as_object().ok_or_else(|| Invalid { field: None, reason: "the body must be a JSON object".into() })?;
    let kind = opt_str(obj, "type")?.ok_or_else(|| invalid("type", "is required (text, image, voice, document or reaction)"))?;
    let fields = type_fields(kind).ok_or_else(|| invalid("type", "must be text, image, voice, document or reaction"))?;
    if let Some(extra) = obj.keys().find(|k| !COMMON_FIELDS.contains(&k.as_str()) && !fields.contains(&k.as_str())) {
        return Err(invalid(extra, format!("is not a field of a {kind} message")));
    }
    let wa_id = wa_id_field(opt_str(obj, "wa_id")?)?;
    let number = number_of(sim, opt_str(obj, "phone_number_id")?)?;
    let name = opt_str(obj, "name")?.map(str::trim).filter(|n| !n.is_empty());
    if let Some(name) = name {
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(invalid("name", format!("is longer than {MAX_NAME_CHARS} characters")));
        }
        if name.chars().any(char::is_control) {
            return Err(invalid("name", "must not contain control characters"));
        }
    }
    let say = match kind {
        "text" => {
            let text =
                opt_str(obj, "body")?.filter(|b| !b.trim().is_empty()).ok_or_else(|| invalid("body", "a text message needs a body"))?;
            if text.chars().count() > MAX_BODY_CHARS {
                return Err(invalid("body", format!("is longer than {MAX_BODY_CHARS} characters")));
            }
            Say::text(&wa_id, text)
        }
        "image" => Say::image(&wa_id, None),
        "voice" => Say::voice(&wa_id),
        "document" => Say::document(&wa_id, "invoice.pdf"),
        _ => {
            let emoji = opt_str(obj, "emoji")?.unwrap_or_default();
            let looks_like_emoji = !emoji.is_empty()
                && emoji.chars().count() <= 16
                && !emoji.is_ascii()
                && !emoji.chars().any(|c| c.is_whitespace() || c.is_control());
            if !looks_like_emoji {
                return Err(invalid("emoji", "must be one emoji, e.g. 👍"));
            }
            let target = match opt_str(obj, "message_id")?.map(str::trim).filter(|m| !m.is_empty()) {
                Some(id) if thread::in_conversation(sim, &number.phone_number_id, &wa_id, id) => id.to_owned(),
                Some(_) => return Err(invalid("message_id", "is not a message of this conversation")),
                None => thread::latest_from_business(sim, &number.phone_number_id, &wa_id)
                    .ok_or_else(|| invalid("message_id", "the business has sent this customer nothing to react to yet"))?,
            };
            Say::reaction(&wa_id, &target, emoji)
        }
    };
    let say = say.to_number(&number.phone_number_id);
    Ok(match name {
        Some(n) => say.name(n),
        None => say,
    })
}

async fn say(State(sim): State<SimHandle>, payload: Result<Json<Value>, JsonRejection>) -> Response {
    let say = match payload.map_err(|e| Invalid { field: None, reason: e.body_text() }).and_then(|Json(body)| parse_say(&sim, &body)) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let (wa_id, phone_number_id) = (say.from.clone(), say.phone_number_id.clone());
    // The same path as `POST /sim/say`.
    match sim.say(say).await {
        Ok(said) => Json(json!({"wamid": said.wamid, "wa_id": wa_id, "phone_number_id": phone_number_id, "delivery": said.delivery}))
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// Types a browser may show inline; anything else is served as a download.
fn inline_type(mime: &str) -> bool {
    let essence = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    (["image/", "audio/", "video/"].iter().any(|p| essence.starts_with(p)) && essence != "image/svg+xml") || essence == "application/pdf"
}

async fn media(State(sim): State<SimHandle>, Path(id): Path<String>) -> Response {
    let (Some(info), Some(bytes)) = (sim.media_info(&id), sim.media_bytes(&id)) else {
        return invalid_media(&id);
    };
    let inline = inline_type(&info.mime_type);
    let content_type =
        HeaderValue::from_str(&info.mime_type).ok().filter(|_| inline).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let name: String =
        info.filename.as_deref().unwrap_or("file").chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).collect();
    let disposition =
        format!("{}; filename=\"{}\"", if inline { "inline" } else { "attachment" }, if name.is_empty() { "file" } else { &name });
    let mut resp = Body::from(bytes).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Ok(d) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, d);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    resp
}

fn invalid_media(id: &str) -> Response {
    let reason = if id.chars().all(|c| c.is_ascii_digit()) { "no such media in the simulator" } else { "must be a media id (digits)" };
    let status = if id.chars().all(|c| c.is_ascii_digit()) { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
    (status, Json(json!({"error": {"message": format!("id: {reason}"), "field": "id"}}))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape_html(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape_html("Zoë 👍"), "Zoë 👍");
    }

    #[test]
    fn only_harmless_types_are_inline() {
        assert!(inline_type("image/png") && inline_type("audio/ogg; codecs=opus") && inline_type("application/pdf"));
        assert!(!inline_type("image/svg+xml") && !inline_type("text/html") && !inline_type("application/octet-stream"));
    }

    #[test]
    fn the_page_has_no_inline_code_or_style() {
        for asset in [APP_JS, APP_CSS] {
            assert!(!asset.contains("innerHTML") && !asset.contains("http://") && !asset.contains("https://"));
        }
        assert!(!APP_JS.contains("eval(") && !APP_JS.contains("insertAdjacentHTML") && !APP_JS.contains("document.write"));
    }
}
