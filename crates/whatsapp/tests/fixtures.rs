//! Every real payload in testdata/pywa-updates parses and normalises into the right kind of change.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test with its message

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use windowdesk_core::inbound::{Change, Forwarded, InboundAction, TemplateUpdate};
use windowdesk_core::{MetaStatus, Timestamp};
use windowdesk_whatsapp::{normalize_payload, parse_envelope, NormalizeOptions};

fn fixtures() -> BTreeMap<String, Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pywa-updates");
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let file: BTreeMap<String, Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        for (name, payload) in file {
            all.insert(format!("{stem}/{name}"), payload);
        }
    }
    assert!(all.len() >= 70, "expected the whole fixture set, found {}", all.len());
    all
}

fn normalize(payload: &Value) -> Vec<Change> {
    let body = serde_json::to_vec(payload).unwrap();
    let env = parse_envelope(&body).unwrap();
    normalize_payload(env, &NormalizeOptions { received_at: Timestamp::from_unix_seconds(1_800_000_000), redact_for: &|_| true })
}

fn only_number_change(payload: &Value) -> windowdesk_core::inbound::NumberChange {
    match normalize(payload).into_iter().next().unwrap() {
        Change::Number(n) => n,
        Change::Account(a) => panic!("expected a number change, got account event {a:?}"),
    }
}

#[test]
fn every_fixture_parses_and_normalises() {
    for (name, payload) in fixtures() {
        let changes = normalize(&payload);
        assert!(!changes.is_empty(), "{name}: no change");
        for c in changes {
            match c {
                Change::Number(n) => assert!(
                    !n.messages.is_empty() || !n.statuses.is_empty() || !n.echoes.is_empty() || n.other.is_some(),
                    "{name}: nothing kept"
                ),
                Change::Account(a) => assert!(!a.raw.is_empty(), "{name}"),
            }
        }
    }
}

#[test]
fn message_types_are_understood() {
    let f = fixtures();
    let expect = [
        ("message/text", "text", Some("Body Text")),
        ("message/image", "image", None),
        ("message/video", "video", Some("caption")),
        ("message/document", "document", Some("caption")),
        ("message/audio", "audio", None),
        ("message/voice", "audio", None),
        ("message/static_sticker", "sticker", None),
        ("message/chosen_location", "location", Some("📍 Facebook HQ, 1 Hacker Way, Menlo Park, CA 94025")),
        ("message/contacts", "contacts", Some("👤 Chandler Bing, Monica, Rachel Green")),
        ("message/order", "order", Some("🛒 Order of 3 item(s)")),
        ("message/unsupported", "unsupported", Some("Message type is currently not supported.")),
        ("callback_button/button", "interactive", None),
        ("callback_button/quick_reply", "button", None),
        ("callback_selection/description", "interactive", Some("title")),
        ("flow_completion/completion", "interactive", Some("Sent")),
        ("system/phone_number_change", "system", Some("User A changed from 972987654321 to 972912345678")),
        ("edited_message/image", "edit", Some("Updated image caption")),
        ("deleted_message/revoke", "revoke", None),
    ];
    for (name, kind, body) in expect {
        let n = only_number_change(&f[name]);
        let m = &n.messages[0];
        assert_eq!(m.kind, kind, "{name}");
        if let Some(body) = body {
            assert_eq!(m.body.as_deref(), Some(body), "{name}");
        }
    }
}

#[test]
fn media_voice_forwarded_referral_and_identity() {
    let f = fixtures();
    let voice = &only_number_change(&f["message/voice"]).messages[0];
    let media = voice.media.as_ref().unwrap();
    assert!(media.voice);
    assert_eq!(media.mime_type.as_deref(), Some("audio/ogg; codecs=opus"));
    assert_eq!(media.media_id, "1234567890987654321", "media ids are never redacted");
    assert_eq!(voice.contact.wa_id.as_deref(), Some("972987654321"));
    assert_eq!(voice.contact.bsuid.as_deref(), Some("US.13491208655302741918"));
    assert_eq!(voice.contact.profile_name.as_deref(), Some("Test Name"));
    assert_eq!(voice.sent_at.at, Timestamp::from_unix_seconds(1_697_043_473));

    assert_eq!(only_number_change(&f["message/forwarded"]).messages[0].forwarded, Forwarded::Forwarded);
    assert_eq!(only_number_change(&f["message/forwarded_many_times"]).messages[0].forwarded, Forwarded::FrequentlyForwarded);
    assert!(only_number_change(&f["message/referral"]).messages[0].has_referral);
    assert_eq!(only_number_change(&f["message/reply"]).messages[0].reply_to.as_deref(), Some("wamid.xyzxyz=="));
}

#[test]
fn reactions_edits_revokes_and_number_changes_point_at_their_targets() {
    let f = fixtures();
    assert_eq!(
        only_number_change(&f["message/reaction"]).messages[0].action,
        InboundAction::React { target: "wamid.yzxyzx=".into(), emoji: Some("😮".into()) }
    );
    for unreact in ["message/unreaction_empty", "message/unreaction_no_emoji"] {
        assert_eq!(
            only_number_change(&f[unreact]).messages[0].action,
            InboundAction::React { target: "wamid.yzxyzx=".into(), emoji: None }
        );
    }
    assert_eq!(
        only_number_change(&f["edited_message/image"]).messages[0].action,
        InboundAction::Edit { target: "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=".into() }
    );
    let revoke = &only_number_change(&f["deleted_message/revoke"]).messages[0];
    assert_eq!(revoke.action, InboundAction::Revoke { target: "<ORIGINAL_WHATSAPP_MESSAGE_ID>".into() });
    assert_eq!(revoke.contact.wa_id.as_deref(), Some("972987654321"), "placeholder sender resolved through contacts");
    assert_eq!(
        only_number_change(&f["system/phone_number_change"]).messages[0].action,
        InboundAction::NumberChanged { new_wa_id: "972912345678".into() }
    );
}

#[test]
fn statuses_keep_pricing_and_errors() {
    let f = fixtures();
    let sent = &only_number_change(&f["message_status/sent"]).statuses[0];
    assert_eq!(sent.status, Some(MetaStatus::Sent));
    assert!(sent.pricing.as_deref().unwrap().contains("\"category\":\"service\""));
    let failed = &only_number_change(&f["message_status/failed"]).statuses[0];
    assert_eq!(failed.status, Some(MetaStatus::Failed));
    assert_eq!(failed.errors[0].code, 130_472);
    assert_eq!(only_number_change(&f["message_status/played"]).statuses[0].status, Some(MetaStatus::Played));
}

#[test]
fn template_and_account_changes() {
    let f = fixtures();
    let Change::Account(a) = normalize(&f["template_status_update/approved"]).remove(0) else { panic!() };
    let t = a.template.unwrap();
    assert_eq!((t.name.as_str(), t.language.as_str()), ("order_confirmation", "en_US"));
    assert!(matches!(t.update, TemplateUpdate::Status { ref status, .. } if status == "APPROVED"));
    let Change::Account(a) = normalize(&f["template_quality_update/yellow"]).remove(0) else { panic!() };
    assert!(matches!(a.template.unwrap().update, TemplateUpdate::Quality { ref quality } if quality == "YELLOW"));
    let Change::Account(a) = normalize(&f["account_update/account_restriction"]).remove(0) else { panic!() };
    assert_eq!(a.event.as_deref(), Some("ACCOUNT_RESTRICTION"));
    assert_eq!(a.waba_id, "102290129340398");
    // Calls and user preferences belong to a number and are kept whole.
    assert!(only_number_change(&f["call_connect/user_initiated"]).other.is_some());
    assert!(only_number_change(&f["user_marketing_preferences/signup"]).other.is_some());
    let echoes = only_number_change(&f["outgoing_message/text"]).echoes;
    assert_eq!(echoes[0].body.as_deref(), Some("Test message"));
}

#[test]
fn unknown_message_types_and_fields_are_kept_not_rejected() {
    let payload = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "1", "phone_number_id": "42", "brand_new": true},
            "messages": [{"from": "972987654321", "id": "wamid.new", "timestamp": "1700000000",
                          "type": "hologram", "hologram": {"depth": 3}, "future_field": "x"}]
        }}, {"field": "brand_new_field", "value": {"anything": [1, 2]}}]}]
    });
    let changes = normalize(&payload);
    let Change::Number(n) = &changes[0] else { panic!() };
    assert_eq!(n.messages[0].kind, "hologram");
    assert!(n.messages[0].raw.contains("\"depth\":3"));
    let Change::Account(a) = &changes[1] else { panic!() };
    assert_eq!(a.field, "brand_new_field");
}

#[test]
fn i8_card_numbers_are_redacted_in_text_and_raw_copy() {
    let payload = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "1", "phone_number_id": "42"},
            "contacts": [{"profile": {"name": "Ann"}, "wa_id": "972987654321"}],
            "messages": [{"from": "972987654321", "id": "wamid.card", "timestamp": "1700000000",
                          "type": "text", "text": {"body": "my card is 4111 1111 1111 1111 thanks"}}]
        }}]}]
    });
    let n = only_number_change(&payload);
    let m = &n.messages[0];
    assert_eq!(m.body.as_deref(), Some("my card is **** **** **** 1111 thanks"));
    assert!(!m.raw.contains("4111 1111 1111 1111"));
    assert!(m.raw.contains("**** **** **** 1111"));

    // Switched off for the number: kept as is.
    let body = serde_json::to_vec(&payload).unwrap();
    let changes = normalize_payload(
        parse_envelope(&body).unwrap(),
        &NormalizeOptions { received_at: Timestamp::from_unix_seconds(1_800_000_000), redact_for: &|_| false },
    );
    let Change::Number(n) = &changes[0] else { panic!() };
    assert!(n.messages[0].raw.contains("4111 1111 1111 1111"));
}

#[test]
fn malformed_and_wrong_shape_bodies_are_named() {
    let err = parse_envelope(b"{not json").unwrap_err().to_string();
    assert!(err.starts_with("body is not valid JSON"), "{err}");
    let err = parse_envelope(br#"{"object":"whatsapp_business_account"}"#).unwrap_err().to_string();
    assert!(err.contains("missing field `entry`"), "{err}");
    let err = parse_envelope(br#"{"object":"page","entry":[]}"#).unwrap_err().to_string();
    assert!(err.contains("`object`"), "{err}");
}
