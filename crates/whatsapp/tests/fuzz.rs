//! A bounded fuzzer for what the webhook takes from outside, run with every `cargo test`: the
//! signature check and the normaliser, fed the real fixtures mutated at random (values of the wrong
//! type, keys removed, NUL and other odd characters, card numbers planted in text and as JSON numbers,
//! anywhere in the tree). Properties: nothing panics; a signature holds only for the exact body and
//! secret; and nothing a normalised payload would store holds a planted card number (I8) or a NUL.
//!
//! `PROPTEST_CASES=100000 cargo test -p windowdesk-whatsapp --test fuzz` runs it longer.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test with its message

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{Map, Value};
use windowdesk_core::Timestamp;
use windowdesk_whatsapp::normalize::IDENTIFIER_KEYS;
use windowdesk_whatsapp::signature::{sign, verify_signature};
use windowdesk_whatsapp::{normalize_payload, parse_envelope, NormalizeOptions};

fn fixtures() -> &'static Vec<Value> {
    static ALL: OnceLock<Vec<Value>> = OnceLock::new();
    ALL.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pywa-updates");
        let mut all = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) == Some("json") {
                let file: BTreeMap<String, Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                all.extend(file.into_values());
            }
        }
        all
    })
}

/// Luhn-valid test card numbers, each with the ways people write them.
const CARDS: &[&str] = &["4111111111111111", "5500000000000004", "340000000000009", "6011000000000004", "4012888888881881"];

#[derive(Clone, Debug)]
enum Mutation {
    /// Plant a card (grouped by `sep`, or as a JSON number) under a customer-text key at this path.
    PlantCard { at: usize, card: usize, sep: Option<char>, as_number: bool, key: String },
    /// Replace a value with another type.
    Retype { at: usize, with: Value },
    /// Remove a key.
    Remove { at: usize },
    /// Put odd characters (NUL, controls, astral planes) into a string.
    Garble { at: usize, text: String },
}

fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        Just(Value::Array(vec![])),
        Just(Value::Object(Map::new())),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 0..CARDS.len(), prop::option::of(prop_oneof![Just(' '), Just('-')]), any::<bool>(), "[a-z_]{1,10}")
            .prop_filter("customer-text key", |(_, _, _, _, key)| !IDENTIFIER_KEYS.contains(&key.as_str()))
            .prop_map(|(at, card, sep, as_number, key)| Mutation::PlantCard { at, card, sep, as_number, key }),
        2 => (any::<usize>(), odd_value()).prop_map(|(at, with)| Mutation::Retype { at, with }),
        1 => any::<usize>().prop_map(|at| Mutation::Remove { at }),
        2 => (any::<usize>(), "[\u{0}\u{1}\u{7f}\u{202e}\u{1F600}a-z ]{1,8}").prop_map(|(at, text)| Mutation::Garble { at, text }),
    ]
}

/// The number of objects in the tree.
fn count_objects(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(count_objects).sum::<usize>(),
        Value::Array(items) => items.iter().map(count_objects).sum(),
        _ => 0,
    }
}

/// Calls `f` on the `want`-th object of the tree, depth first.
fn with_object(v: &mut Value, want: usize, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    fn walk(v: &mut Value, want: usize, seen: &mut usize, f: &mut dyn FnMut(&mut Map<String, Value>)) -> bool {
        match v {
            Value::Object(m) => {
                if *seen == want {
                    f(m);
                    return true;
                }
                *seen += 1;
                m.values_mut().any(|item| walk(item, want, seen, f))
            }
            Value::Array(items) => items.iter_mut().any(|item| walk(item, want, seen, f)),
            _ => false,
        }
    }
    walk(v, want, &mut 0, f);
}

fn grouped(card: &str, sep: Option<char>) -> String {
    match sep {
        None => card.to_owned(),
        Some(sep) => card.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(&sep.to_string()),
    }
}

/// Applies a mutation to one object of the tree (`at` modulo their number, as the tree is now);
/// returns the planted card's written form, if it planted one.
fn apply(payload: &mut Value, m: &Mutation) -> Option<String> {
    let n = count_objects(payload);
    if n == 0 {
        return None;
    }
    match m {
        Mutation::PlantCard { at, card, sep, as_number, key } => {
            let digits = CARDS[*card];
            let written = grouped(digits, *sep);
            let value =
                if *as_number { Value::from(digits.parse::<u64>().unwrap()) } else { Value::from(format!("pay with {written} now")) };
            with_object(payload, at % n, &mut |o| {
                o.insert(key.clone(), value.clone());
            });
            Some(if *as_number { digits.to_owned() } else { written })
        }
        Mutation::Retype { at, with } => {
            with_object(payload, at % n, &mut |o| {
                if let Some(k) = o.keys().next().cloned() {
                    o.insert(k, with.clone());
                }
            });
            None
        }
        Mutation::Remove { at } => {
            with_object(payload, at % n, &mut |o| {
                if let Some(k) = o.keys().next_back().cloned() {
                    o.remove(&k);
                }
            });
            None
        }
        Mutation::Garble { at, text } => {
            with_object(payload, at % n, &mut |o| {
                if let Some(Value::String(s)) = o.values_mut().find(|v| v.is_string()) {
                    s.push_str(text);
                }
            });
            None
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn the_normaliser_never_panics_and_never_keeps_a_planted_card_or_a_nul(
        fixture in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let all = fixtures();
        let mut payload = all[fixture.index(all.len())].clone();
        let planted: Vec<String> = mutations.iter().filter_map(|m| apply(&mut payload, m)).collect();
        let body = serde_json::to_vec(&payload).unwrap();
        // Wrong shapes are refused with an error, never a panic.
        let Ok(env) = parse_envelope(&body) else { return Ok(()) };
        let changes = normalize_payload(env, &NormalizeOptions { received_at: Timestamp::from_unix_seconds(1_800_000_000), redact_for: &|_| true });
        let stored = serde_json::to_string(&changes).unwrap();
        for card in &planted {
            prop_assert!(!stored.contains(card.as_str()), "planted card {card} kept in {stored}");
        }
        // `\u0000` is how serde_json writes a NUL inside a string.
        prop_assert!(!stored.contains("\\u0000"), "NUL kept in {stored}");
    }

    #[test]
    fn a_signature_holds_only_for_the_exact_body_and_secret(
        body in prop::collection::vec(any::<u8>(), 0..512),
        secret in "[ -~]{1,40}",
        flip in any::<prop::sample::Index>(),
        header in prop::option::of(".{0,80}"),
    ) {
        let good = sign(secret.as_bytes(), &body);
        prop_assert!(verify_signature(secret.as_bytes(), &body, Some(&good)).is_ok());
        prop_assert!(verify_signature(b"another secret", &body, Some(&good)).is_err() || secret == "another secret");
        if !body.is_empty() {
            let mut changed = body.clone();
            let i = flip.index(changed.len());
            changed[i] ^= 0x01;
            prop_assert!(verify_signature(secret.as_bytes(), &changed, Some(&good)).is_err());
        }
        // Any header at all: an answer, never a panic.
        let _ = verify_signature(secret.as_bytes(), &body, header.as_deref());
    }
}
