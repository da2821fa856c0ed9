//! Checking a template send against the WABA's template, as Meta does: the template must exist in the
//! language (`132001`) and be approved (`132015` paused, `132016` disabled, `132001` otherwise); each
//! component must get as many parameters as the template has (`132000`) of the types it takes
//! (`132012`); a button component must point at one of the template's buttons with its sub_type
//! (`132012`), and every URL button with a variable part needs its suffix (`132000`). The request's
//! shape was checked before, in [`crate::template_request`].

use crate::error::GraphError;
use crate::state::{SimHandle, TemplateUse};
use crate::template_request::{ButtonParam, Parameter, TemplateRequest};
use crate::templates::{templates_of, Header, Params, Template};

/// `HeaderComponent`: a text header's parameters are text ("image, video, document, or text").
const HEADER_TEXT_TYPES: &[&str] = &["text"];
/// `BodyComponent`: "text, currency, or date_time".
const BODY_TYPES: &[&str] = &["text", "currency", "date_time"];

/// A template send that passed the checks.
#[derive(Debug)]
pub(crate) struct CheckedTemplate {
    pub used: TemplateUse,
    /// The body with its parameters filled in.
    pub rendered: String,
    /// The header's media id, when the media was given by id (the sim looks it up, as for a media message).
    pub media_id: Option<String>,
}

/// Finds the template of `req` among the WABA's and checks the send against it.
pub(crate) fn check_send(sim: &SimHandle, waba_id: &str, req: &TemplateRequest) -> Result<CheckedTemplate, GraphError> {
    let (name, code) = (&req.name, &req.language);
    let missing = || GraphError::whatsapp(400, 132_001).with_details(format!("template name ({name}) does not exist in {code}"));
    let t = templates_of(sim, waba_id).into_iter().find(|t| &t.config.name == name && &t.config.language == code).ok_or_else(missing)?;
    match t.config.status.to_ascii_uppercase().as_str() {
        "APPROVED" => {}
        "PAUSED" => return Err(GraphError::whatsapp(400, 132_015).with_details(format!("template {name} ({code}) is paused"))),
        "DISABLED" => return Err(GraphError::whatsapp(400, 132_016).with_details(format!("template {name} ({code}) is disabled"))),
        other => {
            return Err(GraphError::whatsapp(400, 132_001)
                .with_details(format!("template name ({name}) does not exist in {code}: its status is {other}, not APPROVED")))
        }
    }
    check_against(&t, req)
}

fn count_mismatch(component: &str, given: usize, expected: usize) -> GraphError {
    GraphError::whatsapp(400, 132_000).with_details(format!(
        "{component}: number of localizable_params ({given}) does not match the expected number of params ({expected})"
    ))
}

fn format_mismatch(details: String) -> GraphError {
    GraphError::whatsapp(400, 132_012).with_details(details)
}

/// Checks a well-formed request against the template `t`.
pub(crate) fn check_against(t: &Template, req: &TemplateRequest) -> Result<CheckedTemplate, GraphError> {
    let mut media_id = None;
    let header = match &t.header {
        Some(Header::Text { text, params }) => {
            check_params("header", params, &req.header, HEADER_TEXT_TYPES)?;
            Some(render(text, params, &req.header))
        }
        Some(Header::Media(kind)) => {
            if req.header.len() != 1 {
                return Err(count_mismatch("header", req.header.len(), 1));
            }
            let given = &req.header[0];
            if given.value.type_name() != kind {
                return Err(format_mismatch(format!(
                    "{}: {} {} parameter does not match the template's {kind} header",
                    given.path,
                    article(given.value.type_name()),
                    given.value.type_name()
                )));
            }
            if let crate::template_request::ParamValue::Media { id, .. } = &given.value {
                media_id.clone_from(id);
            }
            Some(given.value.display())
        }
        None if !req.header.is_empty() => return Err(count_mismatch("header", req.header.len(), 0)),
        None => None,
    };
    check_params("body", &t.body_params, &req.body, BODY_TYPES)?;
    let urls = check_buttons(t, req)?;
    Ok(CheckedTemplate {
        used: TemplateUse {
            name: t.config.name.clone(),
            language: t.config.language.clone(),
            category: t.config.category.clone(),
            header,
            urls,
        },
        rendered: render(&t.body_text, &t.body_params, &req.body),
        media_id,
    })
}

fn check_params(component: &str, expected: &Params, given: &[Parameter], types: &[&str]) -> Result<(), GraphError> {
    if given.len() != expected.count() {
        return Err(count_mismatch(component, given.len(), expected.count()));
    }
    for p in given {
        let kind = p.value.type_name();
        if !types.contains(&kind) {
            return Err(format_mismatch(format!(
                "{}: {} {kind} parameter is not allowed in this {component} (it takes {})",
                p.path,
                article(kind),
                types.join(", ")
            )));
        }
        if let Params::Named(names) = expected {
            let name = p.name.as_deref().unwrap_or_default();
            if !names.iter().any(|n| n == name) {
                return Err(GraphError::whatsapp(400, 132_000).with_details(format!(
                    "{}: parameter_name {name:?} is not one of the template's parameters ({})",
                    p.path,
                    names.join(", ")
                )));
            }
        }
    }
    Ok(())
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The sub_type that fills a template button of Meta's type `kind`.
fn sub_type_for(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "QUICK_REPLY" => "quick_reply",
        "URL" => "url",
        "CATALOG" => "catalog",
        "FLOW" => "flow",
        _ => return None,
    })
}

/// Checks the button components against the template's buttons; returns the URLs of its URL buttons
/// as the customer gets them (variable parts filled in).
fn check_buttons(t: &Template, req: &TemplateRequest) -> Result<Vec<String>, GraphError> {
    for b in &req.buttons {
        let Some(button) = t.buttons.get(b.index) else {
            return Err(count_mismatch(&format!("{} (button {})", b.path, b.index), b.parameters.len(), 0));
        };
        if sub_type_for(&button.kind) != Some(b.sub_type.as_str()) {
            return Err(format_mismatch(format!(
                "{}: sub_type {} does not match the template's button {}, a {} button",
                b.path, b.sub_type, b.index, button.kind
            )));
        }
        let expected = usize::from(button.kind != "URL" || button.takes_parameter());
        if b.parameters.len() != expected {
            return Err(count_mismatch(&format!("{} (button {})", b.path, b.index), b.parameters.len(), expected));
        }
    }
    let mut urls = Vec::new();
    for (i, button) in t.buttons.iter().enumerate() {
        let given = req.buttons.iter().find(|b| b.index == i);
        if button.takes_parameter() && given.is_none() {
            return Err(count_mismatch(&format!("button {i} ({} {:?})", button.kind, button.text), 0, 1));
        }
        if let Some(url) = &button.url {
            let suffix = given.and_then(|b| b.parameters.first()).and_then(|p| match p {
                ButtonParam::Text(s) => Some(s.as_str()),
                ButtonParam::Payload(_) | ButtonParam::Action => None,
            });
            urls.push(match suffix {
                Some(s) => windowdesk_core::template::fill(url, &|_| Some(s.to_owned())),
                None => url.clone(),
            });
        }
    }
    Ok(urls)
}

fn render(text: &str, params: &Params, given: &[Parameter]) -> String {
    windowdesk_core::template::fill(text, &|name| match params {
        Params::Positional(_) => name.parse::<usize>().ok().and_then(|n| given.get(n.checked_sub(1)?)).map(|p| p.value.display()),
        Params::Named(_) => given.iter().find(|p| p.name.as_deref() == Some(name)).map(|p| p.value.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// For tests: a template's send as JSON, checked against a template built from `components`.
    fn check_json(components: Vec<Value>, send: Value) -> Result<CheckedTemplate, GraphError> {
        let config = crate::config::TemplateConfig {
            name: "t".into(),
            language: "en_US".into(),
            category: "UTILITY".into(),
            status: "APPROVED".into(),
            components,
            id: None,
            waba_id: None,
        };
        let req = crate::template_request::parse(&serde_json::json!({"name": "t", "language": {"code": "en_US"}, "components": send}))?;
        check_against(&crate::templates::derive(&config, "1".into()), &req)
    }

    fn invoice() -> Vec<Value> {
        vec![
            json!({"type": "HEADER", "format": "IMAGE"}),
            json!({"type": "BODY", "text": "Hi {{1}}, you owe {{2}}."}),
            json!({"type": "BUTTONS", "buttons": [
                {"type": "URL", "text": "Pay", "url": "https://shop.example/pay/{{1}}"},
                {"type": "QUICK_REPLY", "text": "Help"},
                {"type": "URL", "text": "Shop", "url": "https://shop.example"}]}),
        ]
    }

    fn good() -> Vec<Value> {
        vec![
            json!({"type": "header", "parameters": [{"type": "image", "image": {"id": "42"}}]}),
            json!({"type": "body", "parameters": [{"type": "text", "text": "Ada"},
                {"type": "currency", "currency": {"fallback_value": "$5", "code": "USD", "amount_1000": 5000}}]}),
            json!({"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "inv-7"}]}),
        ]
    }

    fn code_and_details(send: Vec<Value>) -> (i64, String) {
        let e = check_json(invoice(), Value::Array(send)).expect_err("should be refused");
        (e.code, e.details.unwrap_or_default())
    }

    #[test]
    fn a_good_send_is_rendered_with_its_urls() {
        let c = check_json(invoice(), Value::Array(good())).expect("valid");
        assert_eq!(c.rendered, "Hi Ada, you owe $5.");
        assert_eq!(c.media_id.as_deref(), Some("42"));
        assert_eq!(c.used.header.as_deref(), Some("[image]"));
        assert_eq!(c.used.urls, ["https://shop.example/pay/inv-7", "https://shop.example"]);
    }

    #[test]
    fn mismatches_give_metas_template_codes() {
        let mut s = good();
        s.remove(2);
        assert_eq!(code_and_details(s).0, 132_000, "the URL button's suffix is missing");
        let mut s = good();
        s[0] = json!({"type": "header", "parameters": [{"type": "video", "video": {"link": "https://x/v.mp4"}}]});
        assert_eq!(code_and_details(s).0, 132_012);
        let mut s = good();
        s[2]["sub_type"] = json!("quick_reply");
        s[2]["parameters"] = json!([{"type": "payload", "payload": "P"}]);
        let (code, details) = code_and_details(s);
        assert_eq!(code, 132_012);
        assert!(details.contains("does not match the template's button 0, a URL button"), "{details}");
        let mut s = good();
        s.push(json!({"type": "button", "sub_type": "url", "index": "2", "parameters": [{"type": "text", "text": "x"}]}));
        assert_eq!(code_and_details(s).0, 132_000, "a static URL takes no suffix");
        let mut s = good();
        s.push(json!({"type": "button", "sub_type": "url", "index": "5", "parameters": [{"type": "text", "text": "x"}]}));
        assert_eq!(code_and_details(s).0, 132_000, "there is no button 5");
        let mut s = good();
        s[1]["parameters"][0] = json!({"type": "image", "image": {"link": "https://x/i.png"}});
        assert_eq!(code_and_details(s).0, 132_012);
    }

    #[test]
    fn placeholders_are_replaced() {
        assert_eq!(windowdesk_core::template::fill("a {{1}} b {{ x }} {{y", &|n| (n == "1").then(|| "one".into())), "a one b {{ x }} {{y");
    }
}
