//! Phone numbers: stored as WhatsApp's `wa_id` digits, shown in international format.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A WhatsApp id: the contact's phone number as digits with the country code, no `+` (e.g. `972987654321`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WaId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a WhatsApp id is 5 to 20 digits with the country code and no '+', got {0:?}")]
pub struct InvalidWaId(pub String);

impl WaId {
    /// Accepts digits, tolerating a leading `+` and spaces, dashes, dots and parentheses.
    pub fn parse(s: &str) -> Result<Self, InvalidWaId> {
        let digits = digits_of(s);
        let shaped = s.trim().trim_start_matches('+').chars().all(|c| c.is_ascii_digit() || " -.()".contains(c));
        if shaped && (5..=20).contains(&digits.len()) {
            Ok(Self(digits))
        } else {
            Err(InvalidWaId(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// International format for people, e.g. `+972 98-765-4321`; `+digits` when the number is not
    /// one the numbering plan knows.
    pub fn display(&self) -> String {
        display_international(&self.0)
    }
}

impl TryFrom<String> for WaId {
    type Error = InvalidWaId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<WaId> for String {
    fn from(w: WaId) -> String {
        w.0
    }
}

impl fmt::Display for WaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The digits of a string, in order.
pub fn digits_of(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// International format of a number given as digits with country code.
pub fn display_international(digits: &str) -> String {
    let plus = format!("+{digits}");
    match phonenumber::parse(None, &plus) {
        Ok(n) => n.format().mode(phonenumber::Mode::International).to_string(),
        Err(_) => plus,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_digits_and_displays_international() {
        let w = WaId::parse("+1 (650) 555-1234").unwrap();
        assert_eq!(w.as_str(), "16505551234");
        assert_eq!(w.display(), "+1 650-555-1234");
        assert_eq!(WaId::parse("447911123456").unwrap().display(), "+44 7911 123456");
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        assert!(WaId::parse("US.13491208655302741918").is_err());
        assert!(WaId::parse("12").is_err());
        assert!(WaId::parse("<USER_PHONE_NUMBER>").is_err());
    }

    #[test]
    fn unknown_numbering_plan_falls_back_to_plus_digits() {
        assert_eq!(display_international("999123"), "+999123");
    }
}
