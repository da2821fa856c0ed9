//! The business numbers the desk serves, as the webhook needs them: by `phone_number_id`, with the app
//! secret that signs their webhooks.

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};

use crate::config::BusinessNumberConfig;

#[derive(Debug)]
pub struct ServedNumber {
    pub id: i64,
    pub phone_number_id: String,
    pub waba_id: String,
    pub name: String,
    /// The number as customers see it (for `https://wa.me/…` links).
    pub display_number: String,
    /// For calls made on the number's behalf (template sync).
    pub access_token: SecretString,
    /// Index into [`NumberDirectory::secrets`] of the app secret that signs this number's webhooks.
    pub secret_index: usize,
    pub redact_card_numbers: bool,
}

#[derive(Debug, Default)]
pub struct NumberDirectory {
    by_phone_number_id: HashMap<String, ServedNumber>,
    /// Distinct app secrets: a body is accepted if one of them signed it.
    secrets: Vec<SecretString>,
    verify_tokens: Vec<SecretString>,
}

impl NumberDirectory {
    /// `ids` maps phone_number_id → database id (from `sync_business_numbers`).
    pub fn new(numbers: &[BusinessNumberConfig], ids: &HashMap<String, i64>) -> Self {
        let mut dir = NumberDirectory::default();
        for n in numbers {
            let secret_index = match dir.secrets.iter().position(|s| s.expose_secret() == n.app_secret.expose_secret()) {
                Some(i) => i,
                None => {
                    dir.secrets.push(n.app_secret.clone());
                    dir.secrets.len() - 1
                }
            };
            dir.verify_tokens.push(n.verify_token.clone());
            if let Some(id) = ids.get(&n.phone_number_id) {
                dir.by_phone_number_id.insert(
                    n.phone_number_id.clone(),
                    ServedNumber {
                        id: *id,
                        phone_number_id: n.phone_number_id.clone(),
                        waba_id: n.waba_id.clone(),
                        name: n.name.clone(),
                        display_number: n.display_number.clone(),
                        access_token: n.access_token.clone(),
                        secret_index,
                        redact_card_numbers: n.redact_card_numbers,
                    },
                );
            }
        }
        dir
    }

    pub fn get(&self, phone_number_id: &str) -> Option<&ServedNumber> {
        self.by_phone_number_id.get(phone_number_id)
    }

    /// A number by database id.
    pub fn by_id(&self, business_number_id: i64) -> Option<&ServedNumber> {
        self.by_phone_number_id.values().find(|n| n.id == business_number_id)
    }

    /// Every served number, by database id.
    pub fn all(&self) -> Vec<&ServedNumber> {
        let mut v: Vec<&ServedNumber> = self.by_phone_number_id.values().collect();
        v.sort_by_key(|n| n.id);
        v
    }

    /// The WhatsApp Business Account of a number, by database id.
    pub fn waba_of(&self, business_number_id: i64) -> Option<&str> {
        self.by_phone_number_id.values().find(|n| n.id == business_number_id).map(|n| n.waba_id.as_str())
    }

    /// Whether the app whose secret is `secret_index` serves a number of the account `waba_id`: only
    /// then may a webhook signed by it change that account's templates and settings.
    pub fn serves_account(&self, waba_id: &str, secret_index: usize) -> bool {
        self.by_phone_number_id.values().any(|n| n.waba_id == waba_id && n.secret_index == secret_index)
    }

    pub fn secrets(&self) -> &[SecretString] {
        &self.secrets
    }

    /// I1: does the token match one of the configured verify tokens? Compared in constant time.
    pub fn verify_token_matches(&self, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.verify_tokens.iter().fold(false, |acc, t| acc | bool::from(t.expose_secret().as_bytes().ct_eq(token.as_bytes())))
    }

    pub fn len(&self) -> usize {
        self.by_phone_number_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_phone_number_id.is_empty()
    }
}
