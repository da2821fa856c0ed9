//! Templates: checking a template send as Meta does (`132001`, `132000`, `132012`, `132015`, `132016`)
//! and listing them (`GET /{version}/{waba-id}/message_templates`) with cursor paging.

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
use crate::state::{SimHandle, TemplateUse};

/// A configured template with what the sim derives from it.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    pub config: TemplateConfig,
    pub id: String,
    pub header: Option<Header>,
    pub body_text: String,
    pub body_params: Params,
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

    fn count(&self) -> usize {
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
    Text(Params),
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
    let header = component(t, "HEADER").and_then(|h| {
        let format = h.get("format").and_then(Value::as_str).unwrap_or("TEXT").to_ascii_uppercase();
        match format.as_str() {
            "TEXT" => {
                let params = Params::of(h.get("text").and_then(Value::as_str).unwrap_or_default());
                (params.count() > 0).then_some(Header::Text(params))
            }
            other => Some(Header::Media(other.to_ascii_lowercase())),
        }
    });
    let mut config = t.clone();
    config.id = Some(id.clone());
    Template { id, body_params: Params::of(&body_text), body_text, header, config }
}

/// Whether the WhatsApp Business account `waba_id` has the template.
pub(crate) fn visible_to(t: &Template, waba_id: &str) -> bool {
    t.config.waba_id.as_deref().is_none_or(|w| w == waba_id)
}

/// The WABA's templates as they are now (they change at runtime, see `template_control.rs`).
fn templates_of(sim: &SimHandle, waba_id: &str) -> Vec<Template> {
    sim.templates_read().iter().filter(|t| visible_to(t, waba_id)).cloned().collect()
}

/// A template send that passed the checks.
pub(crate) struct CheckedTemplate {
    pub used: TemplateUse,
    /// The body with its parameters filled in.
    pub rendered: String,
}

/// Checks the `template` object of a send against the WABA's templates.
pub(crate) fn check_send(sim: &SimHandle, waba_id: &str, template: &Value) -> Result<CheckedTemplate, GraphError> {
    let name =
        template.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()).ok_or_else(|| GraphError::required("template.name"))?;
    let code = template
        .get("language")
        .and_then(|l| l.get("code"))
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| GraphError::required("template.language.code"))?;
    let missing = || GraphError::whatsapp(400, 132_001).with_details(format!("template name ({name}) does not exist in {code}"));
    let t = templates_of(sim, waba_id).into_iter().find(|t| t.config.name == name && t.config.language == code).ok_or_else(missing)?;
    match t.config.status.to_ascii_uppercase().as_str() {
        "APPROVED" => {}
        "PAUSED" => return Err(GraphError::whatsapp(400, 132_015).with_details(format!("template {name} ({code}) is paused"))),
        "DISABLED" => return Err(GraphError::whatsapp(400, 132_016).with_details(format!("template {name} ({code}) is disabled"))),
        other => {
            return Err(GraphError::whatsapp(400, 132_001)
                .with_details(format!("template name ({name}) does not exist in {code}: its status is {other}, not APPROVED")))
        }
    }
    let components = match template.get("components") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(GraphError::invalid_param("template.components must be an array")),
    };
    let params_of = |kind: &str| -> Result<Vec<Value>, GraphError> {
        let mut out = Vec::new();
        for (i, c) in components.iter().enumerate() {
            let Some(k) = c.get("type").and_then(Value::as_str) else {
                return Err(GraphError::required(&format!("template.components[{i}].type")));
            };
            if k.eq_ignore_ascii_case(kind) {
                match c.get("parameters") {
                    Some(Value::Array(ps)) => out.extend(ps.iter().cloned()),
                    None => {}
                    Some(_) => return Err(GraphError::invalid_param(format!("template.components[{i}].parameters must be an array"))),
                }
            }
        }
        Ok(out)
    };
    let header_given = params_of("header")?;
    match &t.header {
        Some(Header::Text(expected)) => check_params("header", expected, &header_given)?,
        Some(Header::Media(kind)) => {
            if header_given.len() != 1 {
                return Err(count_mismatch("header", header_given.len(), 1));
            }
            let given = header_given[0].get("type").and_then(Value::as_str).unwrap_or_default();
            if !given.eq_ignore_ascii_case(kind) {
                return Err(GraphError::whatsapp(400, 132_012)
                    .with_details(format!("header: parameter type {given:?} does not match the template's {kind} header")));
            }
        }
        None if !header_given.is_empty() => return Err(count_mismatch("header", header_given.len(), 0)),
        None => {}
    }
    let body_given = params_of("body")?;
    check_params("body", &t.body_params, &body_given)?;
    Ok(CheckedTemplate {
        used: TemplateUse { name: t.config.name.clone(), language: t.config.language.clone(), category: t.config.category.clone() },
        rendered: render(&t.body_text, &t.body_params, &body_given),
    })
}

fn count_mismatch(component: &str, given: usize, expected: usize) -> GraphError {
    GraphError::whatsapp(400, 132_000).with_details(format!(
        "{component}: number of localizable_params ({given}) does not match the expected number of params ({expected})"
    ))
}

fn check_params(component: &str, expected: &Params, given: &[Value]) -> Result<(), GraphError> {
    if given.len() != expected.count() {
        return Err(count_mismatch(component, given.len(), expected.count()));
    }
    for (i, p) in given.iter().enumerate() {
        let kind =
            p.get("type").and_then(Value::as_str).ok_or_else(|| GraphError::required(&format!("{component}.parameters[{i}].type")))?;
        match kind {
            "text" => {
                if !p.get("text").is_some_and(Value::is_string) {
                    return Err(GraphError::required(&format!("{component}.parameters[{i}].text")));
                }
            }
            "currency" | "date_time" => {
                if !p.get(kind).and_then(|v| v.get("fallback_value")).is_some_and(Value::is_string) {
                    return Err(GraphError::required(&format!("{component}.parameters[{i}].{kind}.fallback_value")));
                }
            }
            other => {
                return Err(GraphError::whatsapp(400, 132_012)
                    .with_details(format!("{component}.parameters[{i}]: type {other:?} is not allowed here (text, currency, date_time)")))
            }
        }
        if let Params::Named(names) = expected {
            let name = p.get("parameter_name").and_then(Value::as_str).unwrap_or_default();
            if !names.iter().any(|n| n == name) {
                return Err(GraphError::whatsapp(400, 132_000).with_details(format!(
                    "{component}.parameters[{i}]: parameter_name {name:?} is not one of the template's parameters ({})",
                    names.join(", ")
                )));
            }
        }
    }
    Ok(())
}

fn param_text(p: &Value) -> String {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "text" => p.get("text").and_then(Value::as_str).unwrap_or_default().to_owned(),
        _ => p.get(kind).and_then(|v| v.get("fallback_value")).and_then(Value::as_str).unwrap_or_default().to_owned(),
    }
}

fn render(text: &str, params: &Params, given: &[Value]) -> String {
    let mut out = text.to_owned();
    match params {
        Params::Positional(n) => {
            for (i, p) in given.iter().enumerate().take(*n) {
                out = out.replace(&format!("{{{{{}}}}}", i + 1), &param_text(p));
            }
        }
        Params::Named(_) => {
            for p in given {
                let name = p.get("parameter_name").and_then(Value::as_str).unwrap_or_default();
                out = out.replace(&format!("{{{{{name}}}}}"), &param_text(p));
            }
        }
    }
    out
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
    fn rendering() {
        let given = vec![json!({"type": "text", "text": "Ada"}), json!({"type": "currency", "currency": {"fallback_value": "$5"}})];
        assert_eq!(render("Hi {{1}}, pay {{2}}", &Params::Positional(2), &given), "Hi Ada, pay $5");
        let named = vec![json!({"type": "text", "parameter_name": "first_name", "text": "Ada"})];
        assert_eq!(render("Hi {{first_name}}", &Params::Named(vec!["first_name".into()]), &named), "Hi Ada");
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode_cursor(&cursor("1000000000000001")).as_deref(), Some("1000000000000001"));
        assert_eq!(encode_query("a b&c"), "a%20b%26c");
    }
}
