//! Who a send goes to (SPEC 9, "Addressing"). Meta's send API takes a phone number in `to` and a
//! business-scoped user id (BSUID, `US.13491208655302741918`, or a parent BSUID `US.ENT.…`) in
//! `recipient`; one or the other, and `to` wins when both are given. A customer with a `wa_id` is
//! addressed by `to`; one known only by a BSUID (a WhatsApp username hides their number) by
//! `recipient`, for every kind of send.

use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipient<'a> {
    /// A phone number (`wa_id` digits), sent in `to`.
    Phone(&'a str),
    /// A business-scoped user id or parent BSUID, sent in `recipient`.
    Bsuid(&'a str),
}

impl<'a> Recipient<'a> {
    /// The phone number when one is known, else the BSUID. `None` when neither is.
    pub fn of(wa_id: Option<&'a str>, bsuid: Option<&'a str>) -> Option<Self> {
        match (wa_id.filter(|w| !w.is_empty()), bsuid.filter(|b| !b.is_empty())) {
            (Some(phone), _) => Some(Recipient::Phone(phone)),
            (None, Some(bsuid)) => Some(Recipient::Bsuid(bsuid)),
            (None, None) => None,
        }
    }

    /// The identifier itself, whichever field it goes in.
    pub fn id(self) -> &'a str {
        match self {
            Recipient::Phone(id) | Recipient::Bsuid(id) => id,
        }
    }

    /// The start of every send request: product, recipient type and exactly one address field.
    pub(crate) fn envelope(self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("messaging_product".into(), "whatsapp".into());
        m.insert("recipient_type".into(), "individual".into());
        match self {
            Recipient::Phone(phone) => m.insert("to".into(), phone.into()),
            Recipient::Bsuid(bsuid) => m.insert("recipient".into(), bsuid.into()),
        };
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_number_wins_over_a_bsuid() {
        assert_eq!(Recipient::of(Some("15550001234"), Some("US.1349")), Some(Recipient::Phone("15550001234")));
        assert_eq!(Recipient::of(None, Some("US.1349")), Some(Recipient::Bsuid("US.1349")));
        assert_eq!(Recipient::of(Some(""), Some("US.ENT.1181")), Some(Recipient::Bsuid("US.ENT.1181")));
        assert_eq!(Recipient::of(None, None), None);
    }

    #[test]
    fn bsuid_recipients_are_addressed_by_recipient_never_by_to() {
        let e = Recipient::Bsuid("US.13491208655302741918").envelope();
        assert_eq!(e.get("recipient"), Some(&Value::from("US.13491208655302741918")));
        assert!(!e.contains_key("to"));
        let e = Recipient::Phone("15550001234").envelope();
        assert_eq!(e.get("to"), Some(&Value::from("15550001234")));
        assert!(!e.contains_key("recipient"));
    }
}
