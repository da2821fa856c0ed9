//! API token secrets: `wdk_` followed by 32 random bytes in hex. The database keeps the SHA-256 of the
//! whole token and a short prefix for people; the plaintext is returned once, at creation.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// What every token starts with, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "wdk_";
/// How many characters of the token are kept in clear to tell tokens apart (`wdk_` and 8 hex digits).
pub const SHOWN_PREFIX_LEN: usize = TOKEN_PREFIX.len() + 8;

/// A fresh token: (plaintext, shown prefix, hash).
pub fn generate() -> (String, String, String) {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
    let prefix = token[..SHOWN_PREFIX_LEN].to_owned();
    let hash = hash(&token);
    (token, prefix, hash)
}

/// The stored form of a token. Lookups compare this, never the plaintext.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_prefixed_random_and_hashed() {
        let (a, prefix, hash) = super::generate();
        let (b, _, _) = super::generate();
        assert_ne!(a, b);
        assert!(a.starts_with("wdk_") && a.len() == 4 + 64);
        assert!(a.starts_with(&prefix));
        assert_eq!(hash, super::hash(&a));
        assert_ne!(hash, a);
    }
}
