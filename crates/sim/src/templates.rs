//! Templates: what the sim derives from a configured template (its parameters and buttons, for
//! checking sends in [`crate::template_send`]) and listing them
//! (`GET /{version}/{waba-id}/message_templates`) with cursor paging.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::auth::{authorize_waba, check_version};
use crate::config::{SimConfig, TemplateConfig};
use crate::error::GraphError;
use crate::state::SimHandle;

/// A configured template with what the sim derives from it.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    pub config: TemplateConfig,
    pub id: String,
    pub header: Option<Header>,
    pub body_text: String,
    pub body_params: Params,
    /// The `BUTTONS` component's buttons, in order (a send's button `index` points here).
    pub buttons: Vec<Button>,
}

/// One button of a template, as far as sending it is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Button {
    /// Meta's button type, upper-case: `QUICK_REPLY`, `URL`, `PHONE_NUMBER`, `COPY_CODE`, `FLOW`…
    pub kind: String,
    pub text: String,
    /// A URL button's URL, possibly ending in `{{1}}`.
    pub url: Option<String>,
}

impl Button {
    /// Whether a send must fill the button: a URL with a variable part.
    pub fn takes_parameter(&self) -> bool {
        self.url.as_deref().is_some_and(|u| u.contains("{{"))
    }
}

/// The parameters a piece of template text expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Params {
    /// `{{1}}`…`{{n}}`.
    Positional(usize),
    /// `{{first_name}}`…, in order of first appearance.
    Named(Vec<String>),
}

impl Params {
    fn of(text: &str) -> Self {
        let names = windowdesk_core::template::placeholders(text);
        if names.iter().all(|n| n.chars().all(|c| c.is_ascii_digit())) {
            Self::Positional(names.len())
        } else {
            Self::Named(names)
        }
    }

    pub fn count(&self) -> usize {
        match self {
            Self::Positional(n) => *n,
            Self::Named(names) => names.len(),
        }
    }

    fn format_name(&self) -> &'static str {
        match self {
            Self::Positional(_) => "POSITIONAL",
            Self::Named(_) => "NAMED",
        }
    }
}

/// A template's header, as far as sending it is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Header {
    /// A text header and the parameters it takes (none, or one).
    Text { text: String, params: Params },
    /// `IMAGE`, `VIDEO`, `DOCUMENT`, `LOCATION`: one parameter of that type (lowercase).
    Media(String),
}

fn component<'a>(t: &'a TemplateConfig, kind: &str) -> Option<&'a Value> {
    t.components.iter().find(|c| c.get("type").and_then(Value::as_str).is_some_and(|k| k.eq_ignore_ascii_case(kind)))
}

pub(crate) fn build(config: &SimConfig) -> Vec<Template> {
    config
        .templates
        .iter()
        .enumerate()
        .map(|(i, t)| derive(t, t.id.clone().unwrap_or_else(|| format!("{}", 1_000_000_000_000_000u64 + i as u64 * 7_919 + 1))))
        .collect()
}

/// What the sim derives from a template's configuration, under the template id `id`.
pub(crate) fn derive(t: &TemplateConfig, id: String) -> Template {
    let body_text = component(t, "BODY").and_then(|b| b.get("text")).and_then(Value::as_str).unwrap_or_default().to_owned();
    let header = component(t, "HEADER").map(|h| {
        let format = h.get("format").and_then(Value::as_str).unwrap_or("TEXT").to_ascii_uppercase();
        match format.as_str() {
            "TEXT" => {
                let text = h.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
                Header::Text { params: Params::of(&text), text }
            }
            other => Header::Media(other.to_ascii_lowercase()),
        }
    });
    let buttons = component(t, "BUTTONS")
        .and_then(|b| b.get("buttons"))
        .and_then(Value::as_array)
        .map(|buttons| {
            buttons
                .iter()
                .map(|b| Button {
                    kind: b.get("type").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase(),
                    text: b.get("text").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    url: b.get("url").and_then(Value::as_str).map(str::to_owned),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut config = t.clone();
    config.id = Some(id.clone());
    Template { id, body_params: Params::of(&body_text), body_text, header, buttons, config }
}

/// Whether the WhatsApp Business account `waba_id` has the template.
pub(crate) fn visible_to(t: &Template, waba_id: &str) -> bool {
    t.config.waba_id.as_deref().is_none_or(|w| w == waba_id)
}

/// The WABA's templates as they are now (they change at runtime, see `template_control.rs`).
pub(crate) fn templates_of(sim: &SimHandle, waba_id: &str) -> Vec<Template> {
    sim.templates_read().iter().filter(|t| visible_to(t, waba_id)).cloned().collect()
}

fn cursor(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

fn decode_cursor(c: &str) -> Option<String> {
    URL_SAFE_NO_PAD.decode(c.trim_end_matches('=')).ok().and_then(|b| String::from_utf8(b).ok())
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode_query(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

pub(crate) fn template_json(t: &Template, fields: Option<&[&str]>) -> Value {
    let full = json!({
        "name": t.config.name,
        "parameter_format": t.body_params.format_name(),
        "components": t.config.components,
        "language": t.config.language,
        "status": t.config.status,
        "category": t.config.category,
        "id": t.id,
    });
    match (fields, full) {
        (Some(fields), Value::Object(map)) => {
            Value::Object(map.into_iter().filter(|(k, _)| k == "id" || fields.contains(&k.as_str())).collect::<Map<_, _>>())
        }
        (_, full) => full,
    }
}

const DEFAULT_LIMIT: usize = 25;

pub(crate) async fn list(
    State(sim): State<SimHandle>,
    Path((version, waba_id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    match list_page(&sim, &version, &waba_id, &q, &headers) {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn list_page(sim: &SimHandle, version: &str, waba_id: &str, q: &HashMap<String, String>, headers: &HeaderMap) -> Result<Value, GraphError> {
    check_version(version)?;
    authorize_waba(sim, headers, q.get("access_token").map(String::as_str), waba_id)?;
    let limit = match q.get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| GraphError::invalid_param(format!("limit must be a number from 1 to 1000, got {l:?}")))?,
    };
    let name = q.get("name").filter(|n| !n.is_empty());
    let status = q.get("status").filter(|s| !s.is_empty());
    let all: Vec<Template> = templates_of(sim, waba_id)
        .into_iter()
        .filter(|t| name.is_none_or(|n| t.config.name.contains(n.as_str())))
        .filter(|t| status.is_none_or(|s| t.config.status.eq_ignore_ascii_case(s)))
        .collect();
    let position = |c: &str, param: &str| -> Result<usize, GraphError> {
        decode_cursor(c)
            .and_then(|id| all.iter().position(|t| t.id == id))
            .ok_or_else(|| GraphError::invalid_param(format!("{param} is not a valid cursor: {c:?}")))
    };
    let (start, end) = if let Some(after) = q.get("after") {
        let start = position(after, "after")? + 1;
        (start, (start + limit).min(all.len()))
    } else if let Some(before) = q.get("before") {
        let end = position(before, "before")?;
        (end.saturating_sub(limit), end)
    } else {
        (0, limit.min(all.len()))
    };
    let fields: Option<Vec<&str>> = q.get("fields").map(|f| f.split(',').map(str::trim).filter(|s| !s.is_empty()).collect());
    let page = &all[start..end];
    let data: Vec<Value> = page.iter().map(|t| template_json(t, fields.as_deref())).collect();
    let (Some(first), Some(last)) = (page.first(), page.last()) else {
        return Ok(json!({ "data": data }));
    };
    let mut extra = format!("limit={limit}");
    for key in ["fields", "name", "status"] {
        if let Some(v) = q.get(key) {
            extra.push_str(&format!("&{key}={}", encode_query(v)));
        }
    }
    let url = format!("{}/{version}/{waba_id}/message_templates?{extra}", sim.base_url());
    let mut paging = json!({"cursors": {"before": cursor(&first.id), "after": cursor(&last.id)}});
    if end < all.len() {
        paging["next"] = json!(format!("{url}&after={}", cursor(&last.id)));
    }
    if start > 0 {
        paging["previous"] = json!(format!("{url}&before={}", cursor(&first.id)));
    }
    Ok(json!({ "data": data, "paging": paging }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_positional_and_named() {
        assert_eq!(Params::of("Hi {{1}}, order {{2}} ({{1}})"), Params::Positional(2));
        assert_eq!(Params::of("Hi {{first_name}}, {{ order }}"), Params::Named(vec!["first_name".into(), "order".into()]));
        assert_eq!(Params::of("No params"), Params::Positional(0));
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode_cursor(&cursor("1000000000000001")).as_deref(), Some("1000000000000001"));
        assert_eq!(encode_query("a b&c"), "a%20b%26c");
    }
}
