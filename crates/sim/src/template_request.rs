//! Reading the `template` object of a send against Meta's `TemplateObject` schema (the OpenAPI spec,
//! `components/schemas/TemplateObject` and what it references: `TemplateComponent`, `ParameterObject`,
//! `CurrencyObject`, `MediaObject`, `ButtonParameterObject`…). Everything here is decided by the
//! request alone, so every refusal is code 100 naming the field as a path
//! (`template.components[1].parameters[0].currency.amount_1000`). Whether the parameters fit the
//! template itself (their number, types and buttons) is checked in [`crate::template_send`].

use serde_json::{Map, Value};

use crate::error::GraphError;

/// `TemplateComponent.type`: lower-case, as the schema spells it.
const COMPONENT_TYPES: &[&str] = &["header", "body", "button"];
/// `ParameterObject.type`, plus `location` (location headers, Meta's "Send template messages" guide).
const PARAMETER_TYPES: &[&str] = &["text", "currency", "date_time", "image", "video", "document", "location"];
/// `TemplateComponent.sub_type` (`quick_reply`, `url`, `catalog`), plus `flow`, which the spec's own
/// "Send Flow Template Message" example sends.
const BUTTON_SUB_TYPES: &[&str] = &["quick_reply", "url", "catalog", "flow"];
/// `TextParameter.text` has `maxLength: 32768` in the spec.
const MAX_PARAMETER_TEXT: usize = 32_768;
/// Meta's Cloud API reference (parameter object, `text`): at most 60 characters in a header, and at
/// most 1024 in the body when the send has components other than the body (32768 when the body is
/// the only one). Quoted in whatsapp-api-js (`src/messages/template.ts`, `HeaderParameter` and
/// `BodyParameter`); the 60 also matches the header text limit of Meta's template components
/// reference (developers.facebook.com/documentation/business-messaging/whatsapp/templates/components).
const MAX_HEADER_TEXT: usize = 60;
const MAX_BODY_TEXT_WITH_OTHER_COMPONENTS: usize = 1024;

/// One parameter of a header or body component.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Parameter {
    /// Where it is, e.g. `template.components[1].parameters[0]`.
    pub path: String,
    /// `parameter_name`, for templates with named parameters.
    pub name: Option<String>,
    pub value: ParamValue,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ParamValue {
    Text(String),
    Currency {
        fallback_value: String,
    },
    DateTime {
        fallback_value: String,
    },
    /// `image`, `video` or `document`, by media `id` or by `link`.
    Media {
        kind: String,
        id: Option<String>,
    },
    Location,
}

impl ParamValue {
    pub fn type_name(&self) -> &str {
        match self {
            Self::Text(_) => "text",
            Self::Currency { .. } => "currency",
            Self::DateTime { .. } => "date_time",
            Self::Media { kind, .. } => kind,
            Self::Location => "location",
        }
    }

    /// What the customer reads in place of the placeholder.
    pub fn display(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Currency { fallback_value } | Self::DateTime { fallback_value } => fallback_value.clone(),
            Self::Media { kind, .. } => format!("[{kind}]"),
            Self::Location => "[location]".to_owned(),
        }
    }
}

/// A `button` component: `sub_type`, `index` and its parameter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ButtonComponent {
    /// Where it is, e.g. `template.components[2]`.
    pub path: String,
    /// Lower-case `sub_type`.
    pub sub_type: String,
    /// The button's position in the template (0-9).
    pub index: usize,
    pub parameters: Vec<ButtonParam>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ButtonParam {
    /// A quick reply's `payload`.
    Payload(String),
    /// A URL button's suffix.
    Text(String),
    /// A catalog's or flow's `action`.
    Action,
}

/// A `template` object that has Meta's shape.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TemplateRequest {
    pub name: String,
    pub language: String,
    pub header: Vec<Parameter>,
    pub body: Vec<Parameter>,
    pub buttons: Vec<ButtonComponent>,
}

fn object<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a Map<String, Value>, GraphError> {
    match v.get(key) {
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(GraphError::invalid_param(format!("{path} must be an object"))),
        None => Err(GraphError::required(path)),
    }
}

fn string<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a str, GraphError> {
    match v.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(GraphError::invalid_param(format!("{path} must be a string"))),
        None => Err(GraphError::required(path)),
    }
}

fn non_empty<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a str, GraphError> {
    let s = string(v, key, path)?;
    if s.trim().is_empty() {
        return Err(GraphError::invalid_param(format!("{path} must not be empty")));
    }
    Ok(s)
}

fn at_most(s: &str, max: usize, path: &str, why: &str) -> Result<(), GraphError> {
    let n = s.chars().count();
    if n > max {
        return Err(GraphError::invalid_param(format!("{path} is {n} characters long; {why} take at most {max}")));
    }
    Ok(())
}

/// An enum value spelled as the schema does, with a hint when only the case differs.
fn one_of(given: &str, allowed: &[&str], path: &str, what: &str) -> Result<(), GraphError> {
    if allowed.contains(&given) {
        return Ok(());
    }
    let list = allowed.join(", ");
    let lower = given.to_ascii_lowercase();
    if allowed.contains(&lower.as_str()) {
        return Err(GraphError::invalid_param(format!("{path} {given:?} must be lower-case: {lower:?} ({what}: {list})")));
    }
    Err(GraphError::invalid_param(format!("{path} {given:?} is not a {what} ({list})")))
}

/// Checks `template` against Meta's `TemplateObject` and reads it.
pub(crate) fn parse(template: &Value) -> Result<TemplateRequest, GraphError> {
    let name = non_empty(template, "name", "template.name")?.to_owned();
    let language = object(template, "language", "template.language")?;
    let language = Value::Object(language.clone());
    let code = non_empty(&language, "code", "template.language.code")?.to_owned();
    // `LanguageObject.policy`: only `deterministic`. Meta's own examples leave it out, and so may a send.
    if language.get("policy").is_some() && string(&language, "policy", "template.language.policy")? != "deterministic" {
        return Err(GraphError::invalid_param("template.language.policy must be \"deterministic\""));
    }
    let components = match template.get("components") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(items)) => items.as_slice(),
        Some(_) => return Err(GraphError::invalid_param("template.components must be an array")),
    };
    let only_body = components.iter().all(|c| c.get("type").and_then(Value::as_str) == Some("body"));
    let mut out = TemplateRequest { name, language: code, header: Vec::new(), body: Vec::new(), buttons: Vec::new() };
    let (mut seen_header, mut seen_body) = (false, false);
    for (i, c) in components.iter().enumerate() {
        let path = format!("template.components[{i}]");
        if !c.is_object() {
            return Err(GraphError::invalid_param(format!("{path} must be an object")));
        }
        let kind = string(c, "type", &format!("{path}.type"))?;
        one_of(kind, COMPONENT_TYPES, &format!("{path}.type"), "component type")?;
        match kind {
            "header" | "body" => {
                let seen = if kind == "header" { &mut seen_header } else { &mut seen_body };
                if std::mem::replace(seen, true) {
                    return Err(GraphError::invalid_param(format!("{path}: a template has one {kind} component; this is a second")));
                }
                let parameters = parameters_of(c, &path, kind == "header")?;
                let limit = match kind {
                    "header" => (MAX_HEADER_TEXT, "header text parameters"),
                    _ if only_body => (MAX_PARAMETER_TEXT, "text parameters"),
                    _ => (MAX_BODY_TEXT_WITH_OTHER_COMPONENTS, "body text parameters of a send with other components"),
                };
                for p in &parameters {
                    if let ParamValue::Text(t) = &p.value {
                        at_most(t, limit.0, &format!("{}.text", p.path), limit.1)?;
                    }
                }
                if kind == "header" {
                    out.header = parameters;
                } else {
                    out.body = parameters;
                }
            }
            _ => {
                let button = button_of(c, &path)?;
                if let Some(other) = out.buttons.iter().find(|b| b.index == button.index) {
                    return Err(GraphError::invalid_param(format!(
                        "{path}.index {} is already used by {}: one component per button",
                        button.index, other.path
                    )));
                }
                out.buttons.push(button);
            }
        }
    }
    Ok(out)
}

/// The `parameters` of a header or body component (`HeaderComponent` has `minItems: 1`).
fn parameters_of(c: &Value, path: &str, at_least_one: bool) -> Result<Vec<Parameter>, GraphError> {
    let items = match c.get("parameters") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(GraphError::invalid_param(format!("{path}.parameters must be an array"))),
    };
    if at_least_one && items.is_empty() {
        return Err(GraphError::invalid_param(format!("{path}.parameters must hold at least one parameter")));
    }
    items.iter().enumerate().map(|(j, p)| parameter(p, &format!("{path}.parameters[{j}]"))).collect()
}

/// One `ParameterObject`, checked by its type.
fn parameter(p: &Value, path: &str) -> Result<Parameter, GraphError> {
    if !p.is_object() {
        return Err(GraphError::invalid_param(format!("{path} must be an object")));
    }
    let kind = string(p, "type", &format!("{path}.type"))?;
    one_of(kind, PARAMETER_TYPES, &format!("{path}.type"), "parameter type")?;
    let name = match p.get("parameter_name") {
        None => None,
        Some(Value::String(n)) => Some(n.clone()),
        Some(_) => return Err(GraphError::invalid_param(format!("{path}.parameter_name must be a string"))),
    };
    let value = match kind {
        "text" => {
            let text = string(p, "text", &format!("{path}.text"))?;
            at_most(text, MAX_PARAMETER_TEXT, &format!("{path}.text"), "text parameters")?;
            ParamValue::Text(text.to_owned())
        }
        "currency" => currency(p, &format!("{path}.currency"))?,
        "date_time" => {
            let path = format!("{path}.date_time");
            let obj = Value::Object(object(p, "date_time", &path)?.clone());
            ParamValue::DateTime { fallback_value: string(&obj, "fallback_value", &format!("{path}.fallback_value"))?.to_owned() }
        }
        "location" => {
            let path = format!("{path}.location");
            let obj = object(p, "location", &path)?;
            for key in ["latitude", "longitude"] {
                let ok = match obj.get(key) {
                    Some(Value::Number(_)) => true,
                    Some(Value::String(s)) => s.trim().parse::<f64>().is_ok(),
                    _ => false,
                };
                if !ok {
                    return Err(GraphError::invalid_param(format!("{path}.{key} must be a number")));
                }
            }
            ParamValue::Location
        }
        media => {
            let path = format!("{path}.{media}");
            ParamValue::Media { kind: media.to_owned(), id: media_object(object(p, media, &path)?, &path)? }
        }
    };
    Ok(Parameter { path: path.to_owned(), name, value })
}

/// `CurrencyObject`: `fallback_value`, `code` (ISO 4217) and `amount_1000` (`integer`, `format: int32`)
/// are all required.
fn currency(p: &Value, path: &str) -> Result<ParamValue, GraphError> {
    let obj = Value::Object(object(p, "currency", path)?.clone());
    let fallback_value = string(&obj, "fallback_value", &format!("{path}.fallback_value"))?.to_owned();
    let code = string(&obj, "code", &format!("{path}.code"))?;
    if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(GraphError::invalid_param(format!("{path}.code {code:?} is not an ISO 4217 currency code such as USD")));
    }
    let amount_path = format!("{path}.amount_1000");
    match obj.get("amount_1000") {
        None => return Err(GraphError::required(&amount_path)),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(a) if i32::try_from(a).is_ok() => {}
            Some(a) => {
                return Err(GraphError::invalid_param(format!(
                    "{amount_path} {a} is out of range: it is a 32-bit integer ({} to {})",
                    i32::MIN,
                    i32::MAX
                )))
            }
            None => {
                return Err(GraphError::invalid_param(format!("{amount_path} must be a whole number (the amount times 1000), got {n}")))
            }
        },
        Some(other) => return Err(GraphError::invalid_param(format!("{amount_path} must be an integer, got {other}"))),
    }
    Ok(ParamValue::Currency { fallback_value })
}

/// `MediaObject`: exactly one of `id` and `link` (http or https); no caption in templates. Returns the id.
fn media_object(m: &Map<String, Value>, path: &str) -> Result<Option<String>, GraphError> {
    if m.contains_key("caption") {
        return Err(GraphError::invalid_param(format!("{path}.caption is not allowed: template media take no caption")));
    }
    match (m.get("id"), m.get("link")) {
        (Some(_), Some(_)) => Err(GraphError::invalid_param(format!("{path}: give either id or link, not both"))),
        (None, None) => Err(GraphError::required(&format!("{path}.id or {path}.link"))),
        (Some(Value::String(id)), None) if !id.trim().is_empty() => Ok(Some(id.clone())),
        (Some(Value::Number(n)), None) => Ok(Some(n.to_string())),
        (Some(_), None) => Err(GraphError::invalid_param(format!("{path}.id must be a media id"))),
        (None, Some(Value::String(link))) if link.starts_with("https://") || link.starts_with("http://") => Ok(None),
        (None, Some(_)) => Err(GraphError::invalid_param(format!("{path}.link must be an http(s) URL"))),
    }
}

/// A `ButtonComponent`: `sub_type`, `index` and at least one `ButtonParameterObject` are required.
fn button_of(c: &Value, path: &str) -> Result<ButtonComponent, GraphError> {
    let sub_type = string(c, "sub_type", &format!("{path}.sub_type"))?;
    // The spec's own "Send Catalog Template Message" example spells it `CATALOG`: the case is free.
    let sub_type = sub_type.to_ascii_lowercase();
    one_of(&sub_type, BUTTON_SUB_TYPES, &format!("{path}.sub_type"), "button sub_type")?;
    let index_path = format!("{path}.index");
    // A string in the schema ("Position index of the button (0-9)"); the spec's examples also send a number.
    let index = match c.get("index") {
        None => return Err(GraphError::required(&index_path)),
        Some(Value::String(s)) => s.parse::<usize>().ok().filter(|_| s.len() == 1),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        Some(_) => None,
    }
    .filter(|i| *i <= 9)
    .ok_or_else(|| GraphError::invalid_param(format!("{index_path} must be the button's position, \"0\" to \"9\"")))?;
    let items = match c.get("parameters") {
        None => return Err(GraphError::required(&format!("{path}.parameters"))),
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => return Err(GraphError::invalid_param(format!("{path}.parameters must hold at least one parameter"))),
        Some(_) => return Err(GraphError::invalid_param(format!("{path}.parameters must be an array"))),
    };
    // "`payload` for quick reply or `text` for URL buttons"; catalog and flow buttons take an `action`.
    let expected = match sub_type.as_str() {
        "quick_reply" => "payload",
        "url" => "text",
        _ => "action",
    };
    let mut parameters = Vec::with_capacity(items.len());
    for (j, p) in items.iter().enumerate() {
        let ppath = format!("{path}.parameters[{j}]");
        if !p.is_object() {
            return Err(GraphError::invalid_param(format!("{ppath} must be an object")));
        }
        let kind = string(p, "type", &format!("{ppath}.type"))?;
        if kind != expected {
            return Err(GraphError::invalid_param(format!(
                "{ppath}.type {kind:?} does not fit a {sub_type} button: it takes a {expected:?} parameter"
            )));
        }
        parameters.push(match expected {
            "payload" => ButtonParam::Payload(string(p, "payload", &format!("{ppath}.payload"))?.to_owned()),
            "text" => ButtonParam::Text(non_empty(p, "text", &format!("{ppath}.text"))?.to_owned()),
            _ => {
                object(p, "action", &format!("{ppath}.action"))?;
                ButtonParam::Action
            }
        });
    }
    Ok(ButtonComponent { path: path.to_owned(), sub_type, index, parameters })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn details(components: Value) -> String {
        let t = json!({"name": "t", "language": {"code": "en_US"}, "components": components});
        parse(&t).expect_err("should be refused").details.unwrap_or_default()
    }

    #[test]
    fn metas_own_example_is_read() {
        let t = json!({"name": "order", "language": {"policy": "deterministic", "code": "en_US"}, "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.com/i.jpg"}}]},
            {"type": "body", "parameters": [
                {"type": "text", "text": "Ada"},
                {"type": "currency", "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100_990}},
                {"type": "date_time", "date_time": {"fallback_value": "February 25, 1977"}}]},
            {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "A"}]},
            {"type": "button", "sub_type": "url", "index": 1, "parameters": [{"type": "text", "text": "x"}]}]});
        let r = parse(&t).expect("valid");
        assert_eq!((r.header.len(), r.body.len(), r.buttons.len()), (1, 3, 2));
        assert_eq!(r.header[0].value, ParamValue::Media { kind: "image".into(), id: None });
        assert_eq!(r.buttons[1].index, 1);
        assert_eq!(r.body[1].path, "template.components[1].parameters[1]");
    }

    #[test]
    fn refusals_name_the_field() {
        assert!(details(json!([{"type": "BODY"}])).contains("template.components[0].type \"BODY\" must be lower-case"));
        assert!(details(json!([{"type": "footer"}])).contains("is not a component type (header, body, button)"));
        let no_code =
            json!([{"type": "body", "parameters": [{"type": "currency", "currency": {"fallback_value": "$1", "amount_1000": 1000}}]}]);
        assert!(details(no_code).contains("template.components[0].parameters[0].currency.code is required"));
        let big = json!([{"type": "body", "parameters": [
            {"type": "currency", "currency": {"fallback_value": "$1", "code": "USD", "amount_1000": 2_147_483_648_i64}}]}]);
        assert!(details(big).contains("amount_1000 2147483648 is out of range"));
        let fraction = json!([{"type": "body", "parameters": [
            {"type": "currency", "currency": {"fallback_value": "$1", "code": "USD", "amount_1000": 1.5}}]}]);
        assert!(details(fraction).contains("must be a whole number"));
        assert!(details(json!([{"type": "header", "parameters": [{"type": "image", "image": {}}]}]))
            .contains("template.components[0].parameters[0].image.id or template.components[0].parameters[0].image.link"));
        assert!(
            details(json!([{"type": "body", "parameters": [{"type": "date_time", "date_time": {}}]}])).contains("date_time.fallback_value")
        );
        assert!(details(json!([{"type": "body", "parameters": [{"type": "text"}]}])).contains("parameters[0].text is required"));
        assert!(details(json!([{"type": "button", "index": "0", "parameters": [{"type": "text", "text": "x"}]}])).contains("sub_type"));
        assert!(details(json!([{"type": "button", "sub_type": "url", "index": "10", "parameters": [{"type": "text", "text": "x"}]}]))
            .contains("index must be the button's position"));
        assert!(details(
            json!([{"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "text", "text": "x"}]}])
        )
        .contains("takes a \"payload\" parameter"));
        let long_header = json!([{"type": "header", "parameters": [{"type": "text", "text": "x".repeat(61)}]}]);
        assert!(details(long_header).contains("61 characters long; header text parameters take at most 60"));
    }
}
