//! Signing what HTTP targets receive (SPEC 10, issue 14 item 4), the way the Standard Webhooks
//! convention does (<https://www.standardwebhooks.com/>), so receivers can check it with an existing
//! library and reject replays:
//!
//! - `webhook-id`: unique per event, the same on every retry of it (receivers deduplicate on it);
//! - `webhook-timestamp`: unix seconds of this attempt (receivers refuse ones too far from now);
//! - `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, several separated
//!   by spaces while a secret is being rotated.
//!
//! The secret is shown to admins as `whsec_` followed by the base64 of its bytes, as the convention's
//! libraries expect it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The prefix of a secret as written.
pub const SECRET_PREFIX: &str = "whsec_";
/// Receivers by default refuse a timestamp further than this from their clock, in seconds.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 5 * 60;

/// A signing secret: its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("a signing secret is `whsec_` followed by base64 (at least 24 bytes once decoded): {0}")]
    BadSecret(String),
    #[error("the `{0}` header is missing")]
    MissingHeader(&'static str),
    #[error("`webhook-timestamp` is not unix seconds: {0:?}")]
    BadTimestamp(String),
    #[error("the timestamp is {0} s away from now: too old or too far ahead (a replay?)")]
    OutsideTolerance(i64),
    #[error("no signature matches: the body, id or timestamp was changed, or the secret is not this one")]
    NoMatch,
}

impl SigningSecret {
    /// The secret as an admin pastes it: `whsec_<base64>` (the prefix is optional).
    pub fn parse(written: &str) -> Result<Self, SigningError> {
        let b64 = written.trim().strip_prefix(SECRET_PREFIX).unwrap_or(written.trim());
        let bytes = STANDARD.decode(b64).map_err(|e| SigningError::BadSecret(e.to_string()))?;
        if bytes.len() < 24 {
            return Err(SigningError::BadSecret(format!("{} bytes", bytes.len())));
        }
        Ok(SigningSecret(bytes))
    }

    /// A secret from random bytes (the server draws them).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SigningSecret(bytes.to_vec())
    }

    /// `whsec_<base64>`, to show once and to paste into the receiver's configuration.
    pub fn written(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// `v1,<base64>` for this id, timestamp and body.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }
}

/// The three headers of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
}

impl SignedHeaders {
    /// The headers for one attempt at delivering `body` as event `id` at `timestamp` (unix seconds).
    pub fn new(secret: &SigningSecret, id: &str, timestamp: i64, body: &[u8]) -> Self {
        SignedHeaders { id: id.to_owned(), timestamp, signature: secret.sign(id, timestamp, body) }
    }

    /// As (name, value) pairs.
    pub fn pairs(&self) -> [(&'static str, String); 3] {
        [("webhook-id", self.id.clone()), ("webhook-timestamp", self.timestamp.to_string()), ("webhook-signature", self.signature.clone())]
    }
}

/// What a receiver does: the headers (by name, any case) and body were signed with `secret`, at a
/// timestamp within `tolerance_seconds` of `now` (unix seconds). Any one `v1` signature of the list
/// may match; the comparison takes the same time whatever matches.
pub fn verify(
    secret: &SigningSecret,
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
    now: i64,
    tolerance_seconds: i64,
) -> Result<(), SigningError> {
    let id = header("webhook-id").ok_or(SigningError::MissingHeader("webhook-id"))?;
    let written = header("webhook-timestamp").ok_or(SigningError::MissingHeader("webhook-timestamp"))?;
    let signatures = header("webhook-signature").ok_or(SigningError::MissingHeader("webhook-signature"))?;
    let timestamp: i64 = written.trim().parse().map_err(|_| SigningError::BadTimestamp(written.clone()))?;
    let off = now - timestamp;
    if off.abs() > tolerance_seconds {
        return Err(SigningError::OutsideTolerance(off));
    }
    let expected = secret.mac(&id, timestamp, body);
    let matched = signatures
        .split(' ')
        .filter_map(|s| s.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, b64)| STANDARD.decode(b64).ok())
        .fold(subtle::Choice::from(0), |found, given| found | given.as_slice().ct_eq(&expected));
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SigningError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;

    fn headers(h: &SignedHeaders) -> impl Fn(&str) -> Option<String> + '_ {
        move |name: &str| h.pairs().into_iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    #[test]
    fn signs_the_standard_webhooks_test_vector() {
        // The convention's own test: secret, id, timestamp and body give this signature.
        let secret = SigningSecret::parse(SECRET).unwrap();
        assert_eq!(secret.sign(ID, 1_649_367_553, BODY), "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
        assert_eq!(secret.written(), SECRET, "written back as pasted");
    }

    #[test]
    fn a_receiver_accepts_what_was_signed_and_detects_any_tampering() {
        let secret = SigningSecret::parse(SECRET).unwrap();
        let now = 1_800_000_000;
        let signed = SignedHeaders::new(&secret, ID, now, BODY);
        assert_eq!(verify(&secret, headers(&signed), BODY, now + 10, DEFAULT_TOLERANCE_SECONDS), Ok(()));
        // The body, the id or the timestamp changed, or another secret: refused.
        let tampered = br#"{"email":"evil@example.com","username":"test_user"}"#;
        assert_eq!(verify(&secret, headers(&signed), tampered, now, DEFAULT_TOLERANCE_SECONDS), Err(SigningError::NoMatch));
        let other_id = SignedHeaders { id: "msg_other".into(), ..signed.clone() };
        assert_eq!(verify(&secret, headers(&other_id), BODY, now, DEFAULT_TOLERANCE_SECONDS), Err(SigningError::NoMatch));
        let moved = SignedHeaders { timestamp: now - 1, ..signed.clone() };
        assert_eq!(verify(&secret, headers(&moved), BODY, now, DEFAULT_TOLERANCE_SECONDS), Err(SigningError::NoMatch));
        let other = SigningSecret::from_bytes([7; 32]);
        assert_eq!(verify(&other, headers(&signed), BODY, now, DEFAULT_TOLERANCE_SECONDS), Err(SigningError::NoMatch));
        // A replay an hour later is refused on its timestamp.
        assert_eq!(
            verify(&secret, headers(&signed), BODY, now + 3600, DEFAULT_TOLERANCE_SECONDS),
            Err(SigningError::OutsideTolerance(3600))
        );
    }

    #[test]
    fn any_one_of_several_signatures_may_match_while_a_secret_is_rotated() {
        let (old, new) = (SigningSecret::parse(SECRET).unwrap(), SigningSecret::from_bytes([9; 32]));
        let now = 1_800_000_000;
        let both =
            SignedHeaders { id: ID.into(), timestamp: now, signature: format!("{} {}", old.sign(ID, now, BODY), new.sign(ID, now, BODY)) };
        assert_eq!(verify(&new, headers(&both), BODY, now, DEFAULT_TOLERANCE_SECONDS), Ok(()));
        assert_eq!(verify(&old, headers(&both), BODY, now, DEFAULT_TOLERANCE_SECONDS), Ok(()));
        let missing = |name: &str| (name != "webhook-signature").then(|| "1".to_owned());
        assert_eq!(verify(&old, missing, BODY, now, 300), Err(SigningError::MissingHeader("webhook-signature")));
    }

    #[test]
    fn a_secret_must_be_base64_of_at_least_24_bytes() {
        assert!(matches!(SigningSecret::parse("whsec_not base64!"), Err(SigningError::BadSecret(_))));
        assert!(matches!(SigningSecret::parse("whsec_c2hvcnQ="), Err(SigningError::BadSecret(_))));
        let fresh = SigningSecret::from_bytes([1; 32]);
        assert_eq!(SigningSecret::parse(&fresh.written()), Ok(fresh));
    }
}
