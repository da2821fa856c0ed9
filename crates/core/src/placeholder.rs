//! Placeholders in text that agents, macros and rules write (SPEC 10, issue 13 item 3): the one
//! validator and renderer.
//!
//! Syntax: `{{ name }}` (spaces optional) and `{{ name || fallback }}`, where everything after the
//! first `||` up to the closing braces is literal text, trimmed. [`Text::parse`] refuses an unknown
//! name, a numbered `{{1}}`, an empty `{{ }}`, an unclosed `{{` and a `}}` that closes nothing, naming
//! the token and its character position, so a macro, rule or reply is refused when it is saved.
//! [`Text::render`] then cannot fail and never sends a raw `{{...}}`: a missing or blank value renders
//! the fallback, or nothing when there is none. Spaces around a placeholder are kept as written (no
//! collapsing), so `Hi {{firstName}}!` with no name is `Hi !`; write a fallback when that matters.
//!
//! Numbered placeholders (`{{1}}`) are WhatsApp template parameters, which [`crate::template`] fills;
//! in written text they would be sent verbatim, so they are refused here. A template parameter can
//! still be filled from placeholders: parse the parameter's text and render it.

use std::fmt;
use std::str::FromStr;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::hours::format_local;
use crate::time::Timestamp;

/// A value the desk can put into written text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Placeholder {
    TicketId,
    TicketSubject,
    TicketStatus,
    TicketUrl,
    RequesterName,
    /// Also written `{{firstName}}`.
    RequesterFirstName,
    AgentName,
    AgentFirstName,
    BusinessName,
    /// When the customer service window closes, in the number's zone.
    WindowExpiresAt,
    /// When the team is next at work, in the number's zone.
    BusinessHoursNextOpen,
}

/// The short name some desks use for the requester's first name.
const FIRST_NAME_ALIAS: &str = "firstName";

impl Placeholder {
    pub const ALL: [Placeholder; 11] = [
        Placeholder::TicketId,
        Placeholder::TicketSubject,
        Placeholder::TicketStatus,
        Placeholder::TicketUrl,
        Placeholder::RequesterName,
        Placeholder::RequesterFirstName,
        Placeholder::AgentName,
        Placeholder::AgentFirstName,
        Placeholder::BusinessName,
        Placeholder::WindowExpiresAt,
        Placeholder::BusinessHoursNextOpen,
    ];

    /// The canonical name, as written between the braces.
    pub const fn name(self) -> &'static str {
        match self {
            Placeholder::TicketId => "ticket.id",
            Placeholder::TicketSubject => "ticket.subject",
            Placeholder::TicketStatus => "ticket.status",
            Placeholder::TicketUrl => "ticket.url",
            Placeholder::RequesterName => "requester.name",
            Placeholder::RequesterFirstName => "requester.first_name",
            Placeholder::AgentName => "agent.name",
            Placeholder::AgentFirstName => "agent.first_name",
            Placeholder::BusinessName => "business.name",
            Placeholder::WindowExpiresAt => "window.expires_at",
            Placeholder::BusinessHoursNextOpen => "business_hours.next_open",
        }
    }

    /// A canonical name or the `firstName` alias; names are case-sensitive.
    pub fn from_name(name: &str) -> Option<Self> {
        if name == FIRST_NAME_ALIAS {
            return Some(Placeholder::RequesterFirstName);
        }
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{{{}}}}}", self.name())
    }
}

/// Why written text is refused. Positions count characters from 1, at the token's first brace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceholderError {
    #[error("unknown placeholder {token} at character {position}{}; known: {}", did_you_mean(.suggestion), known_names())]
    Unknown { token: String, position: usize, suggestion: Option<Placeholder> },
    #[error(
        "numbered placeholder {token} at character {position}: numbered parameters belong to WhatsApp templates; \
         write a named placeholder such as {{{{requester.first_name}}}}"
    )]
    Numbered { token: String, position: usize },
    #[error("empty placeholder {token} at character {position}; write a name such as {{{{ticket.id}}}}")]
    Empty { token: String, position: usize },
    #[error("unclosed {{{{ at character {position}: close it with }}}}")]
    Unclosed { position: usize },
    #[error("}}}} at character {position} closes no placeholder; open it with {{{{ or remove it")]
    StrayClose { position: usize },
}

impl PlaceholderError {
    /// Where the offending token starts, in characters from 1.
    pub fn position(&self) -> usize {
        match self {
            PlaceholderError::Unknown { position, .. }
            | PlaceholderError::Numbered { position, .. }
            | PlaceholderError::Empty { position, .. }
            | PlaceholderError::Unclosed { position }
            | PlaceholderError::StrayClose { position } => *position,
        }
    }

    /// The whole offending `{{...}}`, when it was closed.
    pub fn token(&self) -> Option<&str> {
        match self {
            PlaceholderError::Unknown { token, .. } | PlaceholderError::Numbered { token, .. } | PlaceholderError::Empty { token, .. } => {
                Some(token)
            }
            PlaceholderError::Unclosed { .. } | PlaceholderError::StrayClose { .. } => None,
        }
    }
}

fn did_you_mean(suggestion: &Option<Placeholder>) -> String {
    suggestion.map(|p| format!(" (did you mean {p}?)")).unwrap_or_default()
}

fn known_names() -> String {
    let mut names: Vec<&str> = Placeholder::ALL.iter().map(|p| p.name()).collect();
    names.push(FIRST_NAME_ALIAS);
    names.join(", ")
}

/// The known name closest to a misspelt one: the same but for case, or at most two edits away.
fn suggest(name: &str) -> Option<Placeholder> {
    let name = name.to_lowercase();
    let candidates = Placeholder::ALL.iter().map(|p| (p.name(), *p)).chain([(FIRST_NAME_ALIAS, Placeholder::RequesterFirstName)]);
    candidates
        .map(|(known, p)| (edit_distance(&name, &known.to_lowercase()), p))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, p)| p)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Placeholder { placeholder: Placeholder, fallback: Option<String> },
}

/// Text with placeholders, checked: every placeholder is known and the braces are balanced. Built by
/// [`Text::parse`] (or serde, which parses the same way), so holding one means it can be rendered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text {
    source: String,
    segments: Vec<Segment>,
}

/// 1-based character position of a byte offset in `source`.
fn char_position(source: &str, byte: usize) -> usize {
    source[..byte].chars().count() + 1
}

impl Text {
    /// Checks written text; see the module doc for the syntax and what is refused.
    pub fn parse(source: &str) -> Result<Text, PlaceholderError> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut at = 0;
        while at < source.len() {
            let rest = &source[at..];
            let open = rest.find("{{");
            if let Some(close) = rest.find("}}") {
                if open.is_none_or(|open| close < open) {
                    return Err(PlaceholderError::StrayClose { position: char_position(source, at + close) });
                }
            }
            let Some(open) = open else {
                literal.push_str(rest);
                break;
            };
            literal.push_str(&rest[..open]);
            let start = at + open;
            let position = char_position(source, start);
            let body_start = start + 2;
            let Some(body_len) = source[body_start..].find("}}") else { return Err(PlaceholderError::Unclosed { position }) };
            let body = &source[body_start..body_start + body_len];
            if body.contains("{{") {
                return Err(PlaceholderError::Unclosed { position });
            }
            at = body_start + body_len + 2;
            let token = source[start..at].to_owned();
            let (name, fallback) = match body.split_once("||") {
                Some((name, fallback)) => (name.trim(), Some(fallback.trim().to_owned())),
                None => (body.trim(), None),
            };
            if name.is_empty() {
                return Err(PlaceholderError::Empty { token, position });
            }
            if name.chars().all(|c| c.is_ascii_digit()) {
                return Err(PlaceholderError::Numbered { token, position });
            }
            let placeholder =
                Placeholder::from_name(name).ok_or_else(|| PlaceholderError::Unknown { token, position, suggestion: suggest(name) })?;
            if !literal.is_empty() {
                segments.push(Segment::Literal(std::mem::take(&mut literal)));
            }
            segments.push(Segment::Placeholder { placeholder, fallback });
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(Text { source: source.to_owned(), segments })
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The placeholders used, in order, repeats included.
    pub fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        self.segments.iter().filter_map(|s| match s {
            Segment::Placeholder { placeholder, .. } => Some(*placeholder),
            Segment::Literal(_) => None,
        })
    }

    /// The text with each placeholder replaced by its value (trimmed), by its fallback when the value
    /// is missing or blank, or by nothing. Values are inserted as they are, never read as
    /// placeholders; a value that would put two braces side by side (a contact named `{{x}}`) has them
    /// spaced apart (`{ {x} }`), so the result never contains `{{` or `}}`.
    pub fn render(&self, values: &dyn PlaceholderValues) -> String {
        let mut out = String::with_capacity(self.source.len());
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Placeholder { placeholder, fallback } => match values.value(*placeholder) {
                    Some(value) if !value.trim().is_empty() => out.push_str(value.trim()),
                    _ => out.push_str(fallback.as_deref().unwrap_or_default()),
                },
            }
        }
        space_apart_double_braces(&out)
    }
}

fn space_apart_double_braces(rendered: &str) -> String {
    if !rendered.contains("{{") && !rendered.contains("}}") {
        return rendered.to_owned();
    }
    let mut out = String::with_capacity(rendered.len() + 4);
    let mut previous = None;
    for c in rendered.chars() {
        if (c == '{' || c == '}') && previous == Some(c) {
            out.push(' ');
        }
        out.push(c);
        previous = Some(c);
    }
    out
}

impl FromStr for Text {
    type Err = PlaceholderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Text::parse(s)
    }
}

impl TryFrom<String> for Text {
    type Error = PlaceholderError;

    fn try_from(source: String) -> Result<Self, Self::Error> {
        Text::parse(&source)
    }
}

impl From<Text> for String {
    fn from(text: Text) -> Self {
        text.source
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Where rendering gets its values; `None` when the value is not known.
pub trait PlaceholderValues {
    fn value(&self, placeholder: Placeholder) -> Option<String>;
}

impl<F: Fn(Placeholder) -> Option<String>> PlaceholderValues for F {
    fn value(&self, placeholder: Placeholder) -> Option<String> {
        self(placeholder)
    }
}

/// The values of one ticket, as the caller knows them. First names not given are taken from the
/// full names ([`first_name`]); instants are written in `time_zone` relative to `now`
/// ("Saturday 19:00", see [`format_local`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlaceholderContext {
    pub ticket_id: Option<String>,
    pub ticket_subject: Option<String>,
    pub ticket_status: Option<String>,
    pub ticket_url: Option<String>,
    pub requester_name: Option<String>,
    pub requester_first_name: Option<String>,
    pub agent_name: Option<String>,
    pub agent_first_name: Option<String>,
    pub business_name: Option<String>,
    pub window_expires_at: Option<Timestamp>,
    /// Usually `Schedule::next_business_open(now)`; `now` itself while the team is at work.
    pub business_hours_next_open: Option<Timestamp>,
    /// The business number's zone (its schedule's); UTC by default.
    pub time_zone: Tz,
    pub now: Timestamp,
}

impl PlaceholderValues for PlaceholderContext {
    fn value(&self, placeholder: Placeholder) -> Option<String> {
        let first = |given: &Option<String>, full: &Option<String>| {
            given.clone().filter(|g| !g.trim().is_empty()).or_else(|| full.as_deref().and_then(first_name).map(str::to_owned))
        };
        let instant = |t: Option<Timestamp>| t.map(|t| format_local(self.time_zone, t, self.now));
        match placeholder {
            Placeholder::TicketId => self.ticket_id.clone(),
            Placeholder::TicketSubject => self.ticket_subject.clone(),
            Placeholder::TicketStatus => self.ticket_status.clone(),
            Placeholder::TicketUrl => self.ticket_url.clone(),
            Placeholder::RequesterName => self.requester_name.clone(),
            Placeholder::RequesterFirstName => first(&self.requester_first_name, &self.requester_name),
            Placeholder::AgentName => self.agent_name.clone(),
            Placeholder::AgentFirstName => first(&self.agent_first_name, &self.agent_name),
            Placeholder::BusinessName => self.business_name.clone(),
            Placeholder::WindowExpiresAt => instant(self.window_expires_at),
            Placeholder::BusinessHoursNextOpen => instant(self.business_hours_next_open),
        }
    }
}

/// The first word of a full name that has a letter in it, without the punctuation around it:
/// `"Ana María López"` → `"Ana"`, `"~ Jean-Luc ~"` → `"Jean-Luc"`. `None` for a name with no letters
/// (a phone number, emoji), so a fallback is used instead.
pub fn first_name(full_name: &str) -> Option<&str> {
    full_name
        .split_whitespace()
        .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric()))
        .find(|word| word.chars().any(char::is_alphabetic))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn refused(source: &str) -> PlaceholderError {
        Text::parse(source).unwrap_err()
    }

    fn render(source: &str, context: &PlaceholderContext) -> String {
        Text::parse(source).unwrap().render(context)
    }

    fn named(name: &str) -> PlaceholderContext {
        PlaceholderContext { requester_name: Some(name.into()), ..Default::default() }
    }

    #[test]
    fn an_unknown_placeholder_is_refused_naming_the_token_and_where_it_is() {
        let err = refused("Ticket {{ticket.idd}} is open");
        assert_eq!(err.token(), Some("{{ticket.idd}}"));
        assert_eq!(err.position(), 8);
        assert_eq!(
            err.to_string(),
            "unknown placeholder {{ticket.idd}} at character 8 (did you mean {{ticket.id}}?); known: ticket.id, ticket.subject, \
             ticket.status, ticket.url, requester.name, requester.first_name, agent.name, agent.first_name, business.name, \
             window.expires_at, business_hours.next_open, firstName"
        );
        assert!(refused("{{ Ticket.ID }}").to_string().contains("(did you mean {{ticket.id}}?)"));
        assert!(refused("{{first_name}}").to_string().contains("(did you mean {{requester.first_name}}?)"));
        assert!(!refused("{{order.total}}").to_string().contains("did you mean"));
        // Positions count characters, not bytes.
        assert_eq!(refused("¡Olá {{ticket.idd}}").position(), 6);
    }

    #[test]
    fn broken_syntax_is_refused_with_its_position() {
        assert_eq!(refused("Hi {{firstName"), PlaceholderError::Unclosed { position: 4 });
        assert_eq!(refused("Hi {{firstName, see {{ticket.id}}"), PlaceholderError::Unclosed { position: 4 });
        assert_eq!(refused("Hi {{}}").to_string(), "empty placeholder {{}} at character 4; write a name such as {{ticket.id}}");
        assert_eq!(refused("Hi {{ || there }}"), PlaceholderError::Empty { token: "{{ || there }}".into(), position: 4 });
        assert_eq!(refused("Hi {firstName}}"), PlaceholderError::StrayClose { position: 14 });
        assert_eq!(refused("{{ticket.id}} }}").to_string(), "}} at character 15 closes no placeholder; open it with {{ or remove it");
        assert_eq!(refused("Hi {{firstName}").to_string(), "unclosed {{ at character 4: close it with }}");
    }

    #[test]
    fn numbered_template_parameters_are_refused_in_written_text() {
        let err = refused("Your order {{1}} has shipped");
        assert_eq!(err, PlaceholderError::Numbered { token: "{{1}}".into(), position: 12 });
        assert!(err.to_string().contains("numbered parameters belong to WhatsApp templates"));
        // The template module still reads them as template parameters.
        assert_eq!(crate::template::placeholders("Your order {{1}} has shipped"), ["1"]);
    }

    #[test]
    fn a_fallback_renders_when_the_contact_has_no_name() {
        let text = Text::parse("Hi {{firstName || there}}, thanks for writing").unwrap();
        assert_eq!(text.render(&PlaceholderContext::default()), "Hi there, thanks for writing");
        assert_eq!(text.render(&named("   ")), "Hi there, thanks for writing", "a blank name is no name");
        assert_eq!(text.render(&named("+34 600 123 456")), "Hi there, thanks for writing", "a number is no name");
        assert_eq!(text.render(&named("Ana María López")), "Hi Ana, thanks for writing");
        let given = PlaceholderContext { requester_first_name: Some("Anita".into()), ..named("Ana María López") };
        assert_eq!(text.render(&given), "Hi Anita, thanks for writing", "a given first name wins");
    }

    #[test]
    fn a_missing_value_without_a_fallback_renders_nothing_and_spaces_stay_as_written() {
        assert_eq!(render("Hi {{firstName}}!", &PlaceholderContext::default()), "Hi !");
        assert_eq!(render("Hi {{ requester.name }} ({{ticket.id}})", &named(" Ana López ")), "Hi Ana López ()");
    }

    #[test]
    fn whitespace_inside_the_braces_does_not_matter() {
        let context = PlaceholderContext { ticket_id: Some("4711".into()), ..Default::default() };
        for written in ["{{ticket.id}}", "{{ ticket.id }}", "{{\tticket.id\n}}", "{{ticket.id||x}}", "{{  ticket.id  ||  x  }}"] {
            assert_eq!(render(written, &context), "4711", "{written}");
        }
        assert_eq!(render("{{ ticket.subject ||  no subject  }}", &context), "no subject", "the fallback is trimmed");
        assert_eq!(render("{{ticket.subject || a || b}}", &context), "a || b", "after the first || all is literal");
    }

    #[test]
    fn every_placeholder_has_a_value_from_the_context() {
        let tz = chrono_tz::Tz::Europe__Berlin;
        let now = Timestamp::from_unix_seconds(1_774_634_400); // Friday 27 March 2026 19:00 in Berlin
        let context = PlaceholderContext {
            ticket_id: Some("4711".into()),
            ticket_subject: Some("Refund".into()),
            ticket_status: Some("open".into()),
            ticket_url: Some("https://desk.example/t/4711".into()),
            requester_name: Some("Ana María López".into()),
            requester_first_name: None,
            agent_name: Some("Jonas Weber".into()),
            agent_first_name: None,
            business_name: Some("Acme".into()),
            window_expires_at: Some(now.plus(std::time::Duration::from_secs(24 * 3600))),
            business_hours_next_open: Some(now.plus(std::time::Duration::from_secs(61 * 3600))), // the clocks go forward on Sunday
            time_zone: tz,
            now,
        };
        let all: String = Placeholder::ALL.iter().map(|p| format!("[{p}]")).collect();
        assert_eq!(
            render(&all, &context),
            "[4711][Refund][open][https://desk.example/t/4711][Ana María López][Ana][Jonas Weber][Jonas][Acme]\
             [Saturday 19:00][Monday 09:00]"
        );
        let text = Text::parse("{{firstName}} {{ticket.id}} {{requester.first_name}}").unwrap();
        assert_eq!(
            text.placeholders().collect::<Vec<_>>(),
            [Placeholder::RequesterFirstName, Placeholder::TicketId, Placeholder::RequesterFirstName]
        );
    }

    #[test]
    fn first_names_come_from_the_first_word_with_letters() {
        assert_eq!(first_name("Ana María López"), Some("Ana"));
        assert_eq!(first_name("  ~ Jean-Luc Picard ~"), Some("Jean-Luc"));
        assert_eq!(first_name("Dr. Who"), Some("Dr"));
        assert_eq!(first_name("🌸 Mei"), Some("Mei"));
        assert_eq!(first_name("+49 30 1234"), None);
        assert_eq!(first_name(""), None);
    }

    #[test]
    fn a_value_cannot_smuggle_in_a_placeholder() {
        let hostile = named("{{ticket.id}}");
        assert_eq!(render("Hi {{requester.name}}", &hostile), "Hi { {ticket.id} }");
        let brace = PlaceholderContext { ticket_id: Some("{".into()), ..Default::default() };
        assert_eq!(render("x{{ticket.id}}{y", &brace), "x{ {y");
    }

    #[test]
    fn text_is_stored_as_written_and_checked_when_read() {
        let text = Text::parse("Hi {{ firstName || there }}").unwrap();
        assert_eq!(serde_json::to_value(&text).unwrap(), serde_json::json!("Hi {{ firstName || there }}"));
        assert_eq!(serde_json::from_value::<Text>(serde_json::json!("Hi {{ firstName || there }}")).unwrap(), text);
        let err = serde_json::from_value::<Text>(serde_json::json!("{{ticket.idd}}")).unwrap_err();
        assert!(err.to_string().starts_with("unknown placeholder {{ticket.idd}} at character 1"), "{err}");
        assert_eq!(
            "plain text, { single } braces".parse::<Text>().unwrap().render(&PlaceholderContext::default()),
            "plain text, { single } braces"
        );
    }

    fn any_written_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("{{".to_owned()),
            Just("}}".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("||".to_owned()),
            Just(" ".to_owned()),
            Just("firstName".to_owned()),
            Just("ticket.id".to_owned()),
            Just("{{ requester.name || there }}".to_owned()),
            Just("{{ticket.url}}".to_owned()),
            "[a-zA-Z0-9 .,!¡ñ😀]{0,6}",
        ];
        prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    fn any_value() -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop_oneof![Just("{".to_owned()), Just("}}".to_owned()), Just("{{ticket.id}}".to_owned()), "[a-z{} ]{0,5}"])
    }

    proptest! {
        #[test]
        fn rendering_any_parsed_text_never_sends_double_braces(source in any_written_text(), values in prop::collection::vec(any_value(), 11)) {
            if let Ok(text) = Text::parse(&source) {
                let lookup = |p: Placeholder| values[p as usize].clone();
                let rendered = text.render(&lookup);
                prop_assert!(!rendered.contains("{{") && !rendered.contains("}}"), "{:?} rendered {:?}", source, rendered);
            }
        }

        #[test]
        fn parsing_never_panics_and_errors_point_inside_the_text(source in any::<String>(), written in any_written_text()) {
            for source in [source, written] {
                if let Err(err) = Text::parse(&source) {
                    prop_assert!(err.position() >= 1 && err.position() <= source.chars().count());
                }
            }
        }

        #[test]
        fn text_without_braces_renders_as_written(source in "[^{}]{0,40}") {
            let text = Text::parse(&source).unwrap();
            prop_assert_eq!(text.render(&PlaceholderContext::default()), source);
        }
    }
}
