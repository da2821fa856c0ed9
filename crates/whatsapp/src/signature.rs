//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>` (SPEC I2).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the X-Hub-Signature-256 header is not of the form sha256=<64 hex digits>")]
    Malformed,
    #[error("the X-Hub-Signature-256 signature does not match the body")]
    Mismatch,
}

/// Checks the header against the raw body, in constant time.
pub fn verify_signature(app_secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let expected = decode_header(header)?;
    let mut mac = HmacSha256::new_from_slice(app_secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| SignatureError::Mismatch)
}

/// The raw 32-byte signature from the header value.
pub fn decode_header(header: Option<&str>) -> Result<[u8; 32], SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_part = header.trim().strip_prefix("sha256=").ok_or(SignatureError::Malformed)?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut out).map_err(|_| SignatureError::Malformed)?;
    Ok(out)
}

/// Checks an already-decoded signature; lets a caller that tries several app secrets decode once.
pub fn verify_decoded(app_secret: &[u8], body: &[u8], signature: &[u8; 32]) -> bool {
    let Ok(mut mac) = HmacSha256::new_from_slice(app_secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(signature).is_ok()
}

/// The header value for a body, as Meta computes it. Used by the simulator and by tests.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(app_secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i2_accepts_a_valid_signature_and_rejects_others() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = sign(b"secret", body);
        assert_eq!(verify_signature(b"secret", body, Some(&header)), Ok(()));
        assert_eq!(verify_signature(b"other", body, Some(&header)), Err(SignatureError::Mismatch));
        assert_eq!(verify_signature(b"secret", b"tampered", Some(&header)), Err(SignatureError::Mismatch));
        assert_eq!(verify_signature(b"secret", body, None), Err(SignatureError::Missing));
        assert_eq!(verify_signature(b"secret", body, Some("sha1=abc")), Err(SignatureError::Malformed));
        assert_eq!(verify_signature(b"secret", body, Some("sha256=zz")), Err(SignatureError::Malformed));
    }

    #[test]
    fn known_vector() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog")
        assert_eq!(
            sign(b"key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
