//! Message templates on the wire: reading Meta's template objects (`GET /{waba-id}/message_templates`,
//! template webhooks) into the core's [`TemplateDef`], and writing a validated send as Meta's
//! `template` message with its `components`.

use serde_json::{json, Map, Value};
use windowdesk_core::template::{ButtonDef, HeaderDef, MediaKind, ParamFormat, ParamValue, TemplateDef, ValidButton, ValidTemplate};

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Reads one template object as Meta lists it (`name`, `language`, `category`, `status`,
/// `parameter_format`, `components`). Fails, naming the field, when a required one is missing.
pub fn parse_template(v: &Value) -> Result<TemplateDef, String> {
    let name = str_of(v, "name").filter(|s| !s.is_empty()).ok_or("template without a name")?;
    let language = str_of(v, "language").filter(|s| !s.is_empty()).ok_or_else(|| format!("template {name:?} has no language"))?;
    let components = match v.get("components") {
        Some(Value::Array(c)) => c.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err(format!("template {name:?}: components is not an array")),
    };
    let of_type = |kind: &str| components.iter().find(|c| str_of(c, "type").is_some_and(|t| t.eq_ignore_ascii_case(kind)));
    let body = of_type("BODY").and_then(|b| str_of(b, "text")).unwrap_or_default().to_owned();
    let header = of_type("HEADER").map(|h| {
        let format = str_of(h, "format").unwrap_or("TEXT").to_ascii_uppercase();
        match (format.as_str(), MediaKind::from_format(&format)) {
            ("TEXT", _) => HeaderDef::Text { text: str_of(h, "text").unwrap_or_default().to_owned() },
            (_, Some(kind)) => HeaderDef::Media { kind },
            _ => HeaderDef::Unsupported { format },
        }
    });
    let footer = of_type("FOOTER").and_then(|f| str_of(f, "text")).map(str::to_owned);
    let buttons = of_type("BUTTONS")
        .and_then(|b| b.get("buttons"))
        .and_then(Value::as_array)
        .map(|buttons| {
            buttons
                .iter()
                .map(|b| {
                    let text = str_of(b, "text").unwrap_or_default().to_owned();
                    match str_of(b, "type").unwrap_or_default().to_ascii_uppercase().as_str() {
                        "QUICK_REPLY" => ButtonDef::QuickReply { text },
                        "URL" => ButtonDef::Url { text, url: str_of(b, "url").unwrap_or_default().to_owned() },
                        "PHONE_NUMBER" => {
                            ButtonDef::PhoneNumber { text, phone_number: str_of(b, "phone_number").unwrap_or_default().to_owned() }
                        }
                        other => ButtonDef::Other { kind: other.to_owned(), text },
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    // Meta says which format a template uses; older objects lack the field, so the body decides.
    let format = match str_of(v, "parameter_format").map(str::to_ascii_uppercase).as_deref() {
        Some("NAMED") => ParamFormat::Named,
        Some(_) => ParamFormat::Positional,
        None => {
            let names = windowdesk_core::template::placeholders(&body);
            if names.iter().all(|n| n.chars().all(|c| c.is_ascii_digit())) {
                ParamFormat::Positional
            } else {
                ParamFormat::Named
            }
        }
    };
    Ok(TemplateDef {
        name: name.to_owned(),
        language: language.to_owned(),
        category: str_of(v, "category").unwrap_or_default().to_ascii_uppercase(),
        status: str_of(v, "status").unwrap_or("PENDING").to_ascii_uppercase(),
        format,
        header,
        body,
        footer,
        buttons,
    })
}

/// The components of a template object as stored (for [`parse_template`] later), keeping only what
/// the registry needs so the row stays small.
pub fn template_json(def_source: &Value) -> Value {
    let mut out = Map::new();
    for key in ["name", "language", "category", "status", "parameter_format", "components", "id"] {
        if let Some(v) = def_source.get(key) {
            out.insert(key.to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

fn parameter(name: &Option<String>, value: &ParamValue) -> Value {
    let mut p = match value {
        ParamValue::Text { text } => json!({"type": "text", "text": text}),
        ParamValue::Currency { fallback_value, code, amount_1000 } => {
            json!({"type": "currency", "currency": {"fallback_value": fallback_value, "code": code, "amount_1000": amount_1000}})
        }
        ParamValue::DateTime { fallback_value } => json!({"type": "date_time", "date_time": {"fallback_value": fallback_value}}),
        ParamValue::Media { kind, link, id, filename } => {
            let mut media = Map::new();
            if let Some(id) = id {
                media.insert("id".into(), json!(id));
            } else if let Some(link) = link {
                media.insert("link".into(), json!(link));
            }
            if let (MediaKind::Document, Some(f)) = (kind, filename) {
                media.insert("filename".into(), json!(f));
            }
            json!({"type": kind.as_str(), kind.as_str(): media})
        }
    };
    if let (Some(name), Some(obj)) = (name, p.as_object_mut()) {
        obj.insert("parameter_name".into(), json!(name));
    }
    p
}

/// The `template` object of a send (Meta's `TemplateObject`): name, language and the components
/// that carry parameters. Components without parameters are left out, as Meta expects.
pub fn template_object(t: &ValidTemplate) -> Value {
    let mut components = Vec::new();
    if let Some((name, value)) = &t.header {
        components.push(json!({"type": "header", "parameters": [parameter(name, value)]}));
    }
    if !t.body.is_empty() {
        let parameters: Vec<Value> = t.body.iter().map(|(name, value)| parameter(name, value)).collect();
        components.push(json!({"type": "body", "parameters": parameters}));
    }
    for b in &t.buttons {
        components.push(match b {
            ValidButton::UrlSuffix { index, text } => {
                json!({"type": "button", "sub_type": "url", "index": index.to_string(), "parameters": [{"type": "text", "text": text}]})
            }
            ValidButton::Payload { index, payload } => json!({
                "type": "button", "sub_type": "quick_reply", "index": index.to_string(),
                "parameters": [{"type": "payload", "payload": payload}]
            }),
        });
    }
    let mut template = json!({"name": t.name, "language": {"policy": "deterministic", "code": t.language}});
    if !components.is_empty() {
        template["components"] = Value::Array(components);
    }
    template
}

/// The whole send request for a template message.
pub fn template_message(to: crate::Recipient<'_>, t: &ValidTemplate) -> Value {
    let mut m = to.envelope();
    m.insert("type".into(), "template".into());
    m.insert("template".into(), template_object(t));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use windowdesk_core::template::{validate, TemplateParams};

    use super::*;

    fn order_update() -> Value {
        json!({
            "name": "order_update", "language": "en_US", "status": "APPROVED", "category": "UTILITY", "id": "1",
            "parameter_format": "POSITIONAL",
            "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
                {"type": "BODY", "text": "Hi {{1}}, your total is {{2}}, due {{3}}."},
                {"type": "FOOTER", "text": "Thanks"},
                {"type": "BUTTONS", "buttons": [
                    {"type": "URL", "text": "Track", "url": "https://shop.example/t/{{1}}"},
                    {"type": "QUICK_REPLY", "text": "Help"}
                ]}
            ]
        })
    }

    #[test]
    fn metas_template_object_is_read() {
        let def = parse_template(&order_update()).expect("parses");
        assert_eq!(def.format, ParamFormat::Positional);
        assert_eq!(def.header, Some(HeaderDef::Text { text: "Order {{1}}".into() }));
        assert_eq!(def.body_params(), ["1", "2", "3"]);
        assert_eq!(def.footer.as_deref(), Some("Thanks"));
        assert_eq!(def.url_buttons_with_param(), [0]);
        let media =
            parse_template(&json!({"name": "m", "language": "en", "components": [{"type": "HEADER", "format": "IMAGE"}]})).expect("parses");
        assert_eq!(media.header, Some(HeaderDef::Media { kind: MediaKind::Image }));
        assert_eq!(media.status, "PENDING");
        let named = parse_template(&json!({"name": "n", "language": "en", "components": [{"type": "BODY", "text": "Hi {{first_name}}"}]}))
            .expect("parses");
        assert_eq!(named.format, ParamFormat::Named);
        assert!(parse_template(&json!({"language": "en"})).is_err());
    }

    #[test]
    fn a_valid_send_becomes_exactly_metas_components() {
        let def = parse_template(&order_update()).expect("parses");
        let params = TemplateParams {
            header: Some(ParamValue::text("#42")),
            body: BTreeMap::from([
                ("1".into(), ParamValue::text("Ada")),
                ("2".into(), ParamValue::Currency { fallback_value: "$100.00".into(), code: "USD".into(), amount_1000: 100_000 }),
                ("3".into(), ParamValue::DateTime { fallback_value: "December 25, 2024".into() }),
            ]),
            buttons: BTreeMap::from([("0".into(), "42".into()), ("1".into(), "HELP_42".into())]),
        };
        let valid = validate(&def, &params).expect("valid");
        assert_eq!(
            template_message(crate::Recipient::Phone("15550001234"), &valid),
            json!({
                "messaging_product": "whatsapp", "recipient_type": "individual", "to": "15550001234", "type": "template",
                "template": {
                    "name": "order_update",
                    "language": {"policy": "deterministic", "code": "en_US"},
                    "components": [
                        {"type": "header", "parameters": [{"type": "text", "text": "#42"}]},
                        {"type": "body", "parameters": [
                            {"type": "text", "text": "Ada"},
                            {"type": "currency", "currency": {"fallback_value": "$100.00", "code": "USD", "amount_1000": 100_000}},
                            {"type": "date_time", "date_time": {"fallback_value": "December 25, 2024"}}
                        ]},
                        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "42"}]},
                        {"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": [{"type": "payload", "payload": "HELP_42"}]}
                    ]
                }
            })
        );
    }

    #[test]
    fn named_and_media_parameters() {
        let def = parse_template(&json!({
            "name": "invoice", "language": "en", "status": "APPROVED", "category": "UTILITY", "parameter_format": "NAMED",
            "components": [{"type": "HEADER", "format": "DOCUMENT"}, {"type": "BODY", "text": "Hi {{first_name}}"}]
        }))
        .expect("parses");
        let params = TemplateParams {
            header: Some(ParamValue::Media {
                kind: MediaKind::Document,
                link: Some("https://x.example/i.pdf".into()),
                id: None,
                filename: Some("invoice.pdf".into()),
            }),
            body: BTreeMap::from([("first_name".into(), ParamValue::text("Ada"))]),
            buttons: BTreeMap::new(),
        };
        let t = template_object(&validate(&def, &params).expect("valid"));
        assert_eq!(
            t["components"],
            json!([
                {"type": "header", "parameters": [{"type": "document", "document": {"link": "https://x.example/i.pdf", "filename": "invoice.pdf"}}]},
                {"type": "body", "parameters": [{"type": "text", "text": "Ada", "parameter_name": "first_name"}]}
            ])
        );
        let plain = parse_template(
            &json!({"name": "hello", "language": "en_US", "status": "APPROVED", "components": [{"type": "BODY", "text": "Hello"}]}),
        )
        .expect("parses");
        let t = template_object(&validate(&plain, &TemplateParams::default()).expect("valid"));
        assert_eq!(t, json!({"name": "hello", "language": {"policy": "deterministic", "code": "en_US"}}));
    }
}
