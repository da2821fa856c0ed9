//! Message templates (SPEC 4 `invalid`, SPEC 9): what a template expects, checking what an agent,
//! the API or a rule gives it before Meta is asked, and the text the customer will see.
//!
//! A [`TemplateDef`] is the registry's view of one template in one language, parsed from Meta's
//! template object by the wire-format crate. [`validate`] checks [`TemplateParams`] against it and
//! names the parameter that is wrong; the wire-format crate turns a [`ValidTemplate`] into Meta's
//! `components`. Nothing here knows JSON.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// How a template names its parameters: `{{1}}`, `{{2}}`… or `{{first_name}}`….
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamFormat {
    Positional,
    Named,
}

/// The media a header or a media parameter carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    Document,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Document => "document",
        }
    }

    /// From Meta's header `format` (`IMAGE`, `VIDEO`, `DOCUMENT`).
    pub fn from_format(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "IMAGE" => Self::Image,
            "VIDEO" => Self::Video,
            "DOCUMENT" => Self::Document,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HeaderDef {
    /// A text header, possibly with one parameter.
    Text {
        text: String,
    },
    Media {
        kind: MediaKind,
    },
    /// A header this desk cannot fill (e.g. `LOCATION`): the template is listed but cannot be sent.
    Unsupported {
        format: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ButtonDef {
    /// Sends a payload back when tapped; the payload is optional.
    QuickReply {
        text: String,
    },
    /// A URL, possibly ending in a `{{1}}` the send fills.
    Url {
        text: String,
        url: String,
    },
    PhoneNumber {
        text: String,
        phone_number: String,
    },
    /// Any other kind (`COPY_CODE`, `FLOW`, `OTP`…): shown, never filled.
    Other {
        kind: String,
        text: String,
    },
}

/// One template in one language, as the registry knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateDef {
    pub name: String,
    pub language: String,
    /// Meta's category, e.g. `UTILITY`.
    pub category: String,
    /// Meta's status, e.g. `APPROVED`, `PAUSED`.
    pub status: String,
    pub format: ParamFormat,
    pub header: Option<HeaderDef>,
    pub body: String,
    pub footer: Option<String>,
    pub buttons: Vec<ButtonDef>,
}

/// A value given for one parameter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamValue {
    Text {
        text: String,
    },
    Currency {
        fallback_value: String,
        /// ISO 4217, e.g. `USD`.
        code: String,
        /// The amount times 1000 (`100000` is 100.00).
        amount_1000: i64,
    },
    DateTime {
        fallback_value: String,
    },
    /// A header's media: a public `https` link or a media id uploaded to Meta.
    Media {
        kind: MediaKind,
        #[serde(default)]
        link: Option<String>,
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        filename: Option<String>,
    },
}

impl ParamValue {
    pub fn text(s: impl Into<String>) -> Self {
        Self::Text { text: s.into() }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Currency { .. } => "currency",
            Self::DateTime { .. } => "date_time",
            Self::Media { kind, .. } => kind.as_str(),
        }
    }

    /// What the customer reads in place of the placeholder.
    pub fn display(&self) -> String {
        match self {
            Self::Text { text } => text.clone(),
            Self::Currency { fallback_value, .. } | Self::DateTime { fallback_value } => fallback_value.clone(),
            Self::Media { kind, filename, .. } => match filename {
                Some(f) => format!("[{}: {f}]", kind.as_str()),
                None => format!("[{}]", kind.as_str()),
            },
        }
    }
}

/// What is given for a template send. Body parameters are keyed `"1"`, `"2"`… for positional
/// templates and by name for named ones; buttons by their index in the template (`"0"`, `"1"`…).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateParams {
    #[serde(default)]
    pub header: Option<ParamValue>,
    #[serde(default)]
    pub body: BTreeMap<String, ParamValue>,
    /// A URL button's suffix, or a quick-reply button's payload.
    #[serde(default)]
    pub buttons: BTreeMap<String, String>,
}

/// A template send that passed every check, ready to become Meta's `components`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidTemplate {
    pub name: String,
    pub language: String,
    pub format: ParamFormat,
    /// The header parameter (text or media), when the header has one.
    pub header: Option<(Option<String>, ParamValue)>,
    /// `(name for named templates, value)` in the template's order.
    pub body: Vec<(Option<String>, ParamValue)>,
    pub buttons: Vec<ValidButton>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValidButton {
    UrlSuffix { index: usize, text: String },
    Payload { index: usize, payload: String },
}

/// Why a template cannot be sent as given, naming the parameter (`body.{{2}}`, `header`, `buttons.0`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateError {
    /// `None` when the template itself is the problem (unknown, not approved).
    pub parameter: Option<String>,
    pub reason: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.parameter {
            Some(p) => write!(f, "{p}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

fn err(parameter: impl Into<String>, reason: impl Into<String>) -> TemplateError {
    TemplateError { parameter: Some(parameter.into()), reason: reason.into() }
}

/// The placeholders of a piece of template text, in order of first appearance, without braces.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim().to_owned();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
        rest = &after[end + 2..];
    }
    names
}

/// How a placeholder is shown in messages: `{{2}}` or `first_name`.
fn label(format: ParamFormat, name: &str) -> String {
    match format {
        ParamFormat::Positional => format!("{{{{{name}}}}}"),
        ParamFormat::Named => name.to_owned(),
    }
}

impl TemplateDef {
    pub fn is_approved(&self) -> bool {
        self.status.eq_ignore_ascii_case("APPROVED")
    }

    /// The body's parameters, in the order Meta expects them (positional: `1`, `2`…).
    pub fn body_params(&self) -> Vec<String> {
        let mut names = placeholders(&self.body);
        if self.format == ParamFormat::Positional {
            names.sort_by_key(|n| n.parse::<u32>().unwrap_or(u32::MAX));
        }
        names
    }

    /// The header's text parameter, if it has one.
    pub fn header_param(&self) -> Option<String> {
        match &self.header {
            Some(HeaderDef::Text { text }) => placeholders(text).into_iter().next(),
            _ => None,
        }
    }

    /// Index of each URL button whose URL has a variable suffix.
    pub fn url_buttons_with_param(&self) -> Vec<usize> {
        self.buttons
            .iter()
            .enumerate()
            .filter(|(_, b)| matches!(b, ButtonDef::Url { url, .. } if url.contains("{{")))
            .map(|(i, _)| i)
            .collect()
    }
}

/// Meta refuses parameter text with new lines, tabs or more than four consecutive spaces.
fn check_text(parameter: &str, text: &str, max_chars: usize) -> Result<(), TemplateError> {
    if text.trim().is_empty() {
        return Err(err(parameter, "must not be empty"));
    }
    if text.contains(['\n', '\r', '\t']) {
        return Err(err(parameter, "must not contain new lines or tabs (WhatsApp refuses them in template parameters)"));
    }
    if text.contains("     ") {
        return Err(err(parameter, "must not contain more than four spaces in a row (WhatsApp refuses them)"));
    }
    if text.chars().count() > max_chars {
        return Err(err(parameter, format!("is longer than {max_chars} characters")));
    }
    Ok(())
}

fn check_body_value(parameter: &str, value: &ParamValue) -> Result<(), TemplateError> {
    match value {
        ParamValue::Text { text } => check_text(parameter, text, 1024),
        ParamValue::Currency { fallback_value, code, amount_1000 } => {
            check_text(parameter, fallback_value, 1024)?;
            if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(err(parameter, format!("currency code {code:?} is not an ISO 4217 code such as USD")));
            }
            // Meta's CurrencyObject: `amount_1000` is `integer`, `format: int32`.
            if i32::try_from(*amount_1000).is_err() {
                return Err(err(
                    parameter,
                    format!(
                        "amount_1000 {amount_1000} is out of range: WhatsApp takes {} to {} (the amount times 1000)",
                        i32::MIN,
                        i32::MAX
                    ),
                ));
            }
            Ok(())
        }
        ParamValue::DateTime { fallback_value } => check_text(parameter, fallback_value, 1024),
        ParamValue::Media { kind, .. } => {
            Err(err(parameter, format!("is {} {}, but body parameters are text, currency or date_time", article(*kind), kind.as_str())))
        }
    }
}

fn check_media(kind: MediaKind, value: &ParamValue) -> Result<(), TemplateError> {
    let ParamValue::Media { kind: given, link, id, .. } = value else {
        return Err(err(
            "header",
            format!("the template's header is {} {}; a {} was given", article(kind), kind.as_str(), value.type_name()),
        ));
    };
    if *given != kind {
        return Err(err(
            "header",
            format!("the template's header is {} {}; {} {} was given", article(kind), kind.as_str(), article(*given), given.as_str()),
        ));
    }
    match (link.as_deref().filter(|l| !l.is_empty()), id.as_deref().filter(|i| !i.is_empty())) {
        (Some(link), None) if link.starts_with("https://") || link.starts_with("http://") => Ok(()),
        (Some(link), None) => Err(err("header", format!("link {link:?} is not an http(s) URL"))),
        (None, Some(_)) => Ok(()),
        (Some(_), Some(_)) => Err(err("header", "give either a link or a media id, not both")),
        (None, None) => Err(err("header", format!("the {} needs a link or a media id", kind.as_str()))),
    }
}

fn article(kind: MediaKind) -> &'static str {
    if kind == MediaKind::Image {
        "an"
    } else {
        "a"
    }
}

/// Checks `params` against `def` (SPEC 4 `invalid`). The error names the parameter and says why;
/// nothing that fails here ever reaches Meta.
pub fn validate(def: &TemplateDef, params: &TemplateParams) -> Result<ValidTemplate, TemplateError> {
    let whole = |reason: String| TemplateError { parameter: None, reason };
    if !def.is_approved() {
        return Err(whole(format!("template {:?} ({}) is {}, not APPROVED", def.name, def.language, def.status)));
    }
    let header = match &def.header {
        Some(HeaderDef::Unsupported { format }) => {
            return Err(whole(format!("template {:?} has a {format} header, which this desk cannot fill", def.name)));
        }
        Some(HeaderDef::Media { kind }) => {
            let value = params
                .header
                .as_ref()
                .ok_or_else(|| err("header", format!("the template needs {} {} header", article(*kind), kind.as_str())))?;
            check_media(*kind, value)?;
            Some((None, value.clone()))
        }
        Some(HeaderDef::Text { .. }) | None => match (def.header_param(), &params.header) {
            (Some(name), Some(value)) => {
                let ParamValue::Text { text } = value else {
                    return Err(err("header", format!("a text header takes text, {} was given", value.type_name())));
                };
                check_text("header", text, 60)?;
                Some(((def.format == ParamFormat::Named).then_some(name), value.clone()))
            }
            (Some(name), None) => return Err(err("header", format!("parameter {} is missing", label(def.format, &name)))),
            (None, Some(_)) => return Err(err("header", "the template's header takes no parameter")),
            (None, None) => None,
        },
    };
    let expected = def.body_params();
    if let Some(extra) = params.body.keys().find(|k| !expected.contains(k)) {
        let takes = if expected.is_empty() {
            "none".to_owned()
        } else {
            expected.iter().map(|n| label(def.format, n)).collect::<Vec<_>>().join(", ")
        };
        return Err(err(format!("body.{}", label(def.format, extra)), format!("the template has no such parameter (it takes {takes})")));
    }
    let mut body = Vec::with_capacity(expected.len());
    for name in &expected {
        let parameter = format!("body.{}", label(def.format, name));
        let value = params.body.get(name).ok_or_else(|| err(&parameter, "is missing"))?;
        check_body_value(&parameter, value)?;
        body.push(((def.format == ParamFormat::Named).then(|| name.clone()), value.clone()));
    }
    let mut buttons = Vec::new();
    for (key, value) in &params.buttons {
        let parameter = format!("buttons.{key}");
        let index: usize = key.parse().map_err(|_| err(&parameter, "button keys are the button's index: 0, 1, 2…"))?;
        match def.buttons.get(index) {
            None => return Err(err(&parameter, format!("the template has {} button(s)", def.buttons.len()))),
            Some(ButtonDef::Url { url, .. }) if url.contains("{{") => {
                check_text(&parameter, value, 2000)?;
                buttons.push(ValidButton::UrlSuffix { index, text: value.clone() });
            }
            Some(ButtonDef::QuickReply { .. }) => {
                check_text(&parameter, value, 1000)?;
                buttons.push(ValidButton::Payload { index, payload: value.clone() });
            }
            Some(_) => return Err(err(&parameter, "this button takes no parameter")),
        }
    }
    for index in def.url_buttons_with_param() {
        if !params.buttons.contains_key(&index.to_string()) {
            return Err(err(format!("buttons.{index}"), "the URL button's variable part is missing"));
        }
    }
    Ok(ValidTemplate { name: def.name.clone(), language: def.language.clone(), format: def.format, header, body, buttons })
}

/// `text` with each `{{name}}` replaced by `values(name)`, or kept as written when it gives nothing.
/// The desk's previews and the simulator's rendering of what a customer receives both use it.
pub fn fill(text: &str, values: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        match values(name) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The message as the customer will see it, with what is given filled in and the rest left as
/// placeholders (so a half-filled form previews too).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Preview {
    pub header: Option<String>,
    pub body: String,
    pub footer: Option<String>,
    pub buttons: Vec<String>,
}

impl Preview {
    /// One text, for the thread and for SMS-like summaries.
    pub fn to_text(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(h) = &self.header {
            parts.push(h.clone());
        }
        parts.push(self.body.clone());
        if let Some(f) = &self.footer {
            parts.push(f.clone());
        }
        if !self.buttons.is_empty() {
            parts.push(self.buttons.iter().map(|b| format!("[{b}]")).collect::<Vec<_>>().join(" "));
        }
        parts.join("\n\n")
    }
}

pub fn preview(def: &TemplateDef, params: &TemplateParams) -> Preview {
    let header = def.header.as_ref().map(|h| match h {
        HeaderDef::Text { text } => fill(text, &|_| params.header.as_ref().map(ParamValue::display)),
        HeaderDef::Media { kind } => params.header.as_ref().map(ParamValue::display).unwrap_or_else(|| format!("[{}]", kind.as_str())),
        HeaderDef::Unsupported { format } => format!("[{}]", format.to_ascii_lowercase()),
    });
    let body = fill(&def.body, &|name| params.body.get(name).map(ParamValue::display));
    let buttons = def
        .buttons
        .iter()
        .map(|b| match b {
            ButtonDef::QuickReply { text } | ButtonDef::PhoneNumber { text, .. } | ButtonDef::Other { text, .. } => text.clone(),
            ButtonDef::Url { text, .. } => text.clone(),
        })
        .collect();
    Preview { header, body, footer: def.footer.clone(), buttons }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_update() -> TemplateDef {
        TemplateDef {
            name: "order_update".into(),
            language: "en_US".into(),
            category: "UTILITY".into(),
            status: "APPROVED".into(),
            format: ParamFormat::Positional,
            header: Some(HeaderDef::Text { text: "Order {{1}}".into() }),
            body: "Hi {{1}}, your order {{2}} ships on {{3}}. Total {{4}}.".into(),
            footer: Some("Reply STOP to opt out".into()),
            buttons: vec![
                ButtonDef::Url { text: "Track".into(), url: "https://shop.example/track/{{1}}".into() },
                ButtonDef::QuickReply { text: "Talk to us".into() },
            ],
        }
    }

    fn good() -> TemplateParams {
        TemplateParams {
            header: Some(ParamValue::text("#1042")),
            body: BTreeMap::from([
                ("1".into(), ParamValue::text("Ada")),
                ("2".into(), ParamValue::text("#1042")),
                ("3".into(), ParamValue::DateTime { fallback_value: "May 3".into() }),
                ("4".into(), ParamValue::Currency { fallback_value: "$12.50".into(), code: "USD".into(), amount_1000: 12_500 }),
            ]),
            buttons: BTreeMap::from([("0".into(), "1042".into())]),
        }
    }

    fn refused(def: &TemplateDef, p: &TemplateParams) -> String {
        validate(def, p).expect_err("should be refused").to_string()
    }

    #[test]
    fn a_complete_send_validates_in_the_templates_order() {
        let v = validate(&order_update(), &good()).expect("valid");
        assert_eq!(v.body.len(), 4);
        assert_eq!(v.body[0], (None, ParamValue::text("Ada")));
        assert_eq!(v.header, Some((None, ParamValue::text("#1042"))));
        assert_eq!(v.buttons, vec![ValidButton::UrlSuffix { index: 0, text: "1042".into() }]);
    }

    #[test]
    fn positional_parameters_sort_numerically() {
        let mut def = order_update();
        def.body = "{{2}} then {{10}} then {{1}}".into();
        assert_eq!(def.body_params(), ["1", "2", "10"]);
    }

    #[test]
    fn every_wrong_parameter_is_named() {
        let def = order_update();
        let mut p = good();
        p.body.remove("2");
        assert_eq!(refused(&def, &p), "body.{{2}}: is missing");

        let mut p = good();
        p.body.insert("5".into(), ParamValue::text("x"));
        assert_eq!(refused(&def, &p), "body.{{5}}: the template has no such parameter (it takes {{1}}, {{2}}, {{3}}, {{4}})");

        let mut p = good();
        p.body.insert("1".into(), ParamValue::text("  "));
        assert_eq!(refused(&def, &p), "body.{{1}}: must not be empty");

        let mut p = good();
        p.body.insert("1".into(), ParamValue::text("two\nlines"));
        assert!(refused(&def, &p).starts_with("body.{{1}}: must not contain new lines"));

        let mut p = good();
        p.body.insert("1".into(), ParamValue::text("a      b"));
        assert!(refused(&def, &p).contains("more than four spaces"));

        let mut p = good();
        p.body.insert("4".into(), ParamValue::Currency { fallback_value: "$1".into(), code: "dollars".into(), amount_1000: 1 });
        assert!(refused(&def, &p).starts_with("body.{{4}}: currency code \"dollars\""));

        let mut p = good();
        p.body.insert(
            "1".into(),
            ParamValue::Media { kind: MediaKind::Image, link: Some("https://x/y.jpg".into()), id: None, filename: None },
        );
        assert_eq!(refused(&def, &p), "body.{{1}}: is an image, but body parameters are text, currency or date_time");

        let mut p = good();
        p.header = None;
        assert_eq!(refused(&def, &p), "header: parameter {{1}} is missing");

        let mut p = good();
        p.buttons.clear();
        assert_eq!(refused(&def, &p), "buttons.0: the URL button's variable part is missing");

        let mut p = good();
        p.buttons.insert("7".into(), "x".into());
        assert_eq!(refused(&def, &p), "buttons.7: the template has 2 button(s)");
    }

    #[test]
    fn a_currency_amount_must_fit_metas_int32() {
        let def = order_update();
        let currency = |amount_1000| ParamValue::Currency { fallback_value: "$1".into(), code: "USD".into(), amount_1000 };
        let mut p = good();
        p.body.insert("4".into(), currency(i64::from(i32::MAX)));
        assert!(validate(&def, &p).is_ok());
        p.body.insert("4".into(), currency(i64::from(i32::MIN)));
        assert!(validate(&def, &p).is_ok());
        p.body.insert("4".into(), currency(i64::from(i32::MAX) + 1));
        assert_eq!(
            refused(&def, &p),
            "body.{{4}}: amount_1000 2147483648 is out of range: WhatsApp takes -2147483648 to 2147483647 (the amount times 1000)"
        );
        p.body.insert("4".into(), currency(i64::from(i32::MIN) - 1));
        assert!(refused(&def, &p).starts_with("body.{{4}}: amount_1000 -2147483649 is out of range"));
    }

    #[test]
    fn quick_reply_payloads_are_optional() {
        let def = order_update();
        let mut p = good();
        p.buttons.insert("1".into(), "TALK".into());
        let v = validate(&def, &p).expect("valid");
        assert!(v.buttons.contains(&ValidButton::Payload { index: 1, payload: "TALK".into() }));
    }

    #[test]
    fn named_templates_take_names() {
        let def = TemplateDef {
            format: ParamFormat::Named,
            header: None,
            body: "Hi {{first_name}}, ticket {{ticket}} is solved.".into(),
            buttons: vec![],
            ..order_update()
        };
        let mut p = TemplateParams::default();
        p.body.insert("first_name".into(), ParamValue::text("Ada"));
        assert_eq!(refused(&def, &p), "body.ticket: is missing");
        p.body.insert("ticket".into(), ParamValue::text("42"));
        let v = validate(&def, &p).expect("valid");
        assert_eq!(v.body[0].0.as_deref(), Some("first_name"));
        p.body.insert("1".into(), ParamValue::text("x"));
        assert!(refused(&def, &p).starts_with("body.1: the template has no such parameter (it takes first_name, ticket)"));
    }

    #[test]
    fn media_headers_need_the_right_media() {
        let def = TemplateDef { header: Some(HeaderDef::Media { kind: MediaKind::Document }), buttons: vec![], ..order_update() };
        let mut p = good();
        p.buttons.clear();
        p.header = None;
        assert_eq!(refused(&def, &p), "header: the template needs a document header");
        p.header = Some(ParamValue::text("x"));
        assert_eq!(refused(&def, &p), "header: the template's header is a document; a text was given");
        p.header = Some(ParamValue::Media { kind: MediaKind::Image, link: Some("https://x/a.jpg".into()), id: None, filename: None });
        assert_eq!(refused(&def, &p), "header: the template's header is a document; an image was given");
        p.header = Some(ParamValue::Media { kind: MediaKind::Document, link: Some("ftp://x/a.pdf".into()), id: None, filename: None });
        assert!(refused(&def, &p).contains("not an http(s) URL"));
        p.header = Some(ParamValue::Media {
            kind: MediaKind::Document,
            link: Some("https://x/a.pdf".into()),
            id: None,
            filename: Some("a.pdf".into()),
        });
        assert!(validate(&def, &p).is_ok());
    }

    #[test]
    fn only_approved_templates_validate() {
        let def = TemplateDef { status: "PAUSED".into(), ..order_update() };
        let e = validate(&def, &good()).expect_err("paused");
        assert_eq!(e.parameter, None);
        assert!(e.reason.contains("is PAUSED, not APPROVED"));
        let def = TemplateDef { header: Some(HeaderDef::Unsupported { format: "LOCATION".into() }), ..order_update() };
        assert!(refused(&def, &good()).contains("LOCATION header"));
    }

    #[test]
    fn the_preview_fills_what_is_given_and_keeps_the_rest() {
        let def = order_update();
        let full = preview(&def, &good());
        assert_eq!(full.header.as_deref(), Some("Order #1042"));
        assert_eq!(full.body, "Hi Ada, your order #1042 ships on May 3. Total $12.50.");
        assert_eq!(full.buttons, ["Track", "Talk to us"]);
        assert_eq!(
            full.to_text(),
            "Order #1042\n\nHi Ada, your order #1042 ships on May 3. Total $12.50.\n\nReply STOP to opt out\n\n[Track] [Talk to us]"
        );
        let mut half = good();
        half.body.remove("3");
        assert_eq!(preview(&def, &half).body, "Hi Ada, your order #1042 ships on {{3}}. Total $12.50.");
    }

    #[test]
    fn placeholders_are_found_once_in_order() {
        assert_eq!(placeholders("Hi {{1}}, {{ 2 }} and {{1}} again, {{unclosed"), ["1", "2"]);
        assert_eq!(placeholders("none"), Vec::<String>::new());
    }
}
