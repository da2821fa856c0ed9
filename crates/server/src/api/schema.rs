//! Schemas of the values the API takes and gives, with the limits the desk enforces, so the OpenAPI
//! document states them instead of prose (and Schemathesis can hold the desk to them).
//!
//! Text inputs are schema-only types used through `#[schema(value_type = …)]`: their limits come from the
//! constants the handlers check with, and their patterns are built from the same character predicates
//! (`char::is_whitespace`, `char::is_control`) the checks use. Enumerations are marker enums whose values
//! a test compares with the core's lists.

use std::borrow::Cow;
use std::sync::LazyLock;

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::admin::{MAX_EMAIL_CHARS, MAX_NAME_CHARS, MIN_PASSWORD_CHARS};
use super::tickets::{DEFAULT_PAGE, MAX_PAGE, MAX_TAG_CHARS};
use crate::replies::MAX_TEXT_CHARS;

/// `c` as an ECMA-262 and Python regex escape.
fn escape(c: char) -> String {
    format!("\\u{:04x}", u32::from(c))
}

/// The characters `str::trim` removes (Unicode White_Space), as the inside of a regex class. Spelled out
/// because `\s` means different things to ECMA-262, Python and Rust.
static WHITESPACE: LazyLock<String> = LazyLock::new(|| {
    let mut runs: Vec<(char, char)> = Vec::new();
    for c in (0..=0xFFFF_u32).filter_map(char::from_u32).filter(|c| c.is_whitespace()) {
        match runs.last_mut() {
            Some((_, end)) if u32::from(*end) + 1 == u32::from(c) => *end = c,
            _ => runs.push((c, c)),
        }
    }
    runs.iter().map(|&(start, end)| if start == end { escape(start) } else { format!("{}-{}", escape(start), escape(end)) }).collect()
});

/// The control characters (`char::is_control`: U+0000–U+001F, U+007F–U+009F) as the inside of a class.
const CONTROLS: &str = "\\u0000-\\u001f\\u007f-\\u009f";

/// A string without the characters of the class `excluded`, with at least one that is not whitespace.
fn not_blank(excluded: &str) -> String {
    format!("^[^{excluded}]*[^{excluded}{ws}][^{excluded}]*$", ws = *WHITESPACE)
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// Declares a schema-only string type with its OpenAPI schema.
macro_rules! string_schema {
    ($(#[$doc:meta])* $name:ident => $build:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let build: fn() -> ObjectBuilder = $build;
                build().into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

string_schema!(
    /// Any text without U+0000.
    Text => || string().description(Some("Text; U+0000 is refused.")).pattern(Some("^[^\\u0000]*$"))
);

string_schema!(
    /// A message or note: 1 to 4096 characters, not only whitespace (it is sent trimmed); its
    /// placeholders are rendered.
    MessageText => || string()
        .description(Some("1 to 4096 characters, not only whitespace; sent trimmed. U+0000 is refused. \
                           Placeholders such as {{ticket.id}} or {{firstName || there}} are rendered before it is sent; \
                           an unknown one or broken braces are refused naming the token. Text without {{ is sent as written."))
        .min_length(Some(1))
        .max_length(Some(MAX_TEXT_CHARS))
        .pattern(Some(not_blank("\\u0000")))
);

string_schema!(
    /// A tag as given: compared and stored trimmed and lowercased.
    Tag => || string()
        .description(Some("1 to 50 characters, not only whitespace, without commas or control characters; stored trimmed and lowercased."))
        .min_length(Some(1))
        .max_length(Some(MAX_TAG_CHARS))
        .pattern(Some(not_blank(&format!(",{CONTROLS}"))))
);

string_schema!(
    /// What the search box takes.
    SearchText => || string()
        .description(Some("A search query, at most 500 characters: words, \"a phrase\", whatsapp:\"3211\" or a bare number of 5+ digits, \
                           and the filters status:, assignee:, number:, tag:, window:. A malformed query is refused naming the place and the reason."))
        .min_length(Some(1))
        .max_length(Some(windowdesk_core::search::MAX_QUERY_CHARS))
        .pattern(Some(not_blank("\\u0000")))
);

string_schema!(
    /// A person's name.
    AgentName => || string()
        .description(Some("1 to 200 characters, not only whitespace; stored trimmed."))
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_CHARS))
        .pattern(Some(not_blank("\\u0000")))
);

string_schema!(
    /// An email address as the desk checks it: something, `@`, a host with a dot that does not end in one.
    Email => || {
        let ws = &*WHITESPACE;
        string()
            .description(Some("An email address, at most 320 characters; unique ignoring case, stored trimmed and lowercased."))
            .max_length(Some(MAX_EMAIL_CHARS))
            .pattern(Some(format!("^[{ws}]*[^@\\u0000{ws}]+@[^\\u0000{ws}]*\\.[^\\u0000{ws}]*[^.\\u0000{ws}][{ws}]*$")))
    }
);

string_schema!(
    /// A password.
    Password => || string()
        .description(Some("At least 10 characters; stored as an argon2 hash."))
        .min_length(Some(MIN_PASSWORD_CHARS))
        .pattern(Some("^[^\\u0000]*$"))
);

string_schema!(
    /// An E.164 phone number, or blank for none.
    SmsSender => || {
        let ws = &*WHITESPACE;
        string()
            .description(Some("An E.164 number (`+` and 8 to 15 digits), e.g. `+15550783881`; blank or null for none."))
            .pattern(Some(format!("^[{ws}]*(\\+[0-9]{{8,15}})?[{ws}]*$")))
    }
);

string_schema!(
    /// A ticket id as a page cursor.
    TicketCursor => || string().description(Some("The `next` of the previous page.")).pattern(Some("^[0-9]{1,18}$"))
);

string_schema!(
    /// `<unix millis>_<message id>` as a page cursor.
    FailedCursor => || string().description(Some("The `next` of the previous page.")).pattern(Some("^[0-9]{1,15}_[0-9]{1,18}$"))
);

string_schema!(
    /// An agent id or `none`.
    AssigneeFilter => || string().description(Some("An agent id, or `none` for unassigned tickets.")).pattern(Some("^(none|[0-9]{1,18})$"))
);

string_schema!(
    /// An automation execution's state, as a filter.
    RunStateName => || string()
        .description(Some("`armed`, `running`, `fired`, `skipped`, `expired` or `cancelled`."))
        .pattern(Some("^(armed|running|fired|skipped|expired|cancelled)$"))
);

string_schema!(
    /// A workflow run's state, as a filter.
    WorkflowRunStateName => || string()
        .description(Some("`armed`, `waiting`, `running`, `done`, `skipped`, `expired`, `failed` or `cancelled`."))
        .pattern(Some("^(armed|waiting|running|done|skipped|expired|failed|cancelled)$"))
);

string_schema!(
    /// An HTTP target's address.
    TargetUrl => || string()
        .description(Some("An `http://` or `https://` address with a host, e.g. `https://crm.example.com/hooks/windowdesk`."))
        .max_length(Some(2000))
        .pattern(Some("^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$"))
);

/// A page size: `limit`.
pub struct PageLimit;

impl PartialSchema for PageLimit {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .description(Some("Page size (default 50)."))
            .minimum(Some(1))
            .maximum(Some(MAX_PAGE))
            .default(Some(DEFAULT_PAGE.into()))
            .into()
    }
}

impl ToSchema for PageLimit {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PageLimit")
    }
}

/// A business number's fallback ladder.
pub struct FallbackLadder;

impl PartialSchema for FallbackLadder {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(Ref::from_schema_name(Fallback::name()))
            .unique_items(true)
            .description(Some("The ways out of a closed window, most preferred first, each at most once."))
            .into()
    }
}

impl ToSchema for FallbackLadder {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FallbackLadder")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Fallback::name().into(), Fallback::schema()));
    }
}

/// A string of 1 to `max_digits` ASCII digits as a non-negative number (the patterns above).
pub fn digits(s: &str, max_digits: usize) -> Option<i64> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Declares marker enums: their schemas are the values the API uses (lower snake_case).
macro_rules! enum_schema {
    ($($(#[$doc:meta])* $name:ident { $($variant:ident),+ $(,)? })+) => {
        $(
            $(#[$doc])*
            #[derive(ToSchema)]
            #[schema(rename_all = "snake_case")]
            #[allow(dead_code)] // only the schema is used
            pub enum $name { $($variant),+ }
        )+
    };
}

enum_schema! {
    /// T1: the life of a ticket; `closed` is final.
    TicketStatus { New, Open, Pending, OnHold, Solved, Closed }
    /// How urgent a ticket is; new tickets are `normal`.
    Priority { Low, Normal, High, Urgent }
    /// Where an outbound message is in its life (SPEC 3).
    DeliveryState { Draft, Queued, Sending, Accepted, Sent, Delivered, Read, Played, Failed, Blocked, Held }
    /// `note` and `system` messages are never sent.
    Direction { Inbound, Outbound, Note, System }
    AgentRole { Admin, Agent }
    /// A way out of a closed window.
    Fallback { Hold, Template, Sms }
    /// A pricing category: Meta's (lower-case, as in webhook `pricing`), or `sms`. Templates are in
    /// `utility`, `marketing` or `authentication`.
    Category { Service, Utility, Marketing, Authentication, AuthenticationInternational, Sms }
    /// What can be sent: a free-form message, a template, an SMS, or a held reply.
    ActionKind { FreeForm, Template, Sms, Hold }
    /// How a template takes its body parameters: `{{1}}` or `{{first_name}}`.
    ParameterFormat { Positional, Named }
    /// A message committed to the outbox: sent as soon as possible, or held until the customer writes.
    OutboundState { Queued, Held }
    /// Who wrote a holiday: an admin (the admin page or the API), or an iCal import.
    HolidaySource { Admin, Ical }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn values<T: ToSchema>() -> Vec<String> {
        let schema = serde_json::to_value(T::schema()).unwrap();
        schema["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
    }

    fn names<'a>(all: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        all.into_iter().map(str::to_owned).collect()
    }

    #[test]
    fn the_documented_enumerations_are_the_cores() {
        use windowdesk_core::decision::MessageCategory;
        assert_eq!(values::<TicketStatus>(), names(windowdesk_core::TicketStatus::ALL.map(|s| s.as_str())));
        assert_eq!(values::<Priority>(), names(windowdesk_core::routing::Priority::ALL.map(|p| p.as_str())));
        assert_eq!(values::<DeliveryState>(), names(windowdesk_core::DeliveryState::ALL.map(|s| s.as_str())));
        assert_eq!(values::<Direction>(), names(windowdesk_store::Direction::ALL.map(|s| s.as_str())));
        assert_eq!(values::<AgentRole>(), names(windowdesk_store::AgentRole::ALL.map(|s| s.as_str())));
        assert_eq!(values::<Fallback>(), names(windowdesk_core::Fallback::ALL.map(|s| s.as_str())));
        use windowdesk_core::hours::HolidaySource as Source;
        assert_eq!(values::<HolidaySource>(), names([Source::Admin, Source::Ical].map(Source::as_str)));
        let categories: Vec<String> =
            MessageCategory::ALL.iter().map(|c| serde_json::to_value(c).unwrap().as_str().unwrap().to_owned()).collect();
        assert_eq!(values::<Category>(), categories);
    }

    #[test]
    fn the_whitespace_class_is_what_trim_removes() {
        // The class is escapes and ranges of escapes: `\u0009-\u000d\u0020…`.
        let mut class = Vec::new();
        let mut rest = WHITESPACE.as_str();
        while let Some(tail) = rest.strip_prefix("\\u") {
            let start = u32::from_str_radix(&tail[..4], 16).unwrap();
            rest = &tail[4..];
            let end = match rest.strip_prefix("-\\u") {
                Some(tail) => {
                    rest = &tail[4..];
                    u32::from_str_radix(&tail[..4], 16).unwrap()
                }
                None => start,
            };
            class.extend((start..=end).filter_map(char::from_u32));
        }
        assert_eq!(rest, "");
        assert!(
            class.contains(&' ') && class.contains(&'\u{3000}') && class.contains(&'\u{b}') && !class.contains(&'\u{feff}'),
            "{class:?}"
        );
        let expected: Vec<char> = (0..=0xFFFF_u32).filter_map(char::from_u32).filter(|c| c.is_whitespace()).collect();
        assert_eq!(class, expected);
        assert!((0x1_0000..=0x10_FFFF_u32).filter_map(char::from_u32).all(|c| !c.is_whitespace()), "all whitespace is in the BMP");
    }

    #[test]
    fn digits_are_what_the_cursor_patterns_allow() {
        assert_eq!(digits("42", 18), Some(42));
        assert_eq!(digits("999999999999999999", 18), Some(999_999_999_999_999_999));
        for bad in ["", "+5", "-5", " 5", "1234567890123456789", "5a"] {
            assert_eq!(digits(bad, 18), None, "{bad:?}");
        }
    }
}
