use super::*;

#[test]
fn numbers_must_be_e164_and_errors_name_the_field() {
    assert_eq!(validate("+15550783881", "+4915112345678", "Hi"), Ok(()));
    let e = validate("+15550783881", "4915112345678", "Hi").unwrap_err();
    assert_eq!(e.field, Some("To"));
    assert!(e.message.starts_with("To: must be an E.164 number"), "{}", e.message);
    assert_eq!(e.class, SmsErrorClass::Permanent { auth: false });
    assert_eq!(e.http_status, None);
    assert_eq!(validate("+1555", "+4915112345678", "Hi").unwrap_err().field, Some("From"));
    assert_eq!(validate("", "+4915112345678", "Hi").unwrap_err().message, "From: is required");
    assert_eq!(validate("+15550783881", "+1234567890123456", "Hi").unwrap_err().field, Some("To"), "16 digits");
    assert_eq!(validate("+15550783881", "+49 151 1234", "Hi").unwrap_err().field, Some("To"));
    assert!(validate("+12345678", "+123456789012345", "Hi").is_ok(), "8 and 15 digits");
}

#[test]
fn the_body_must_be_there_and_fit_1600_characters() {
    let ok = |body: &str| validate("+15550783881", "+4915112345678", body);
    assert_eq!(ok("").unwrap_err().field, Some("Body"));
    assert_eq!(ok("  \n").unwrap_err().field, Some("Body"));
    assert!(ok(&"ü".repeat(1_600)).is_ok(), "characters, not bytes");
    let e = ok(&"a".repeat(1_601)).unwrap_err();
    assert_eq!(e.field, Some("Body"));
    assert_eq!(e.message, "Body: is 1601 characters; an SMS body has at most 1600");
}

#[test]
fn the_link_keeps_only_digits() {
    assert_eq!(continue_on_whatsapp_link("+1 555-078-3881"), "https://wa.me/15550783881");
    assert_eq!(continue_on_whatsapp_link("+49 (151) 123.456"), "https://wa.me/49151123456");
}

#[test]
fn fallback_bodies_carry_the_reply_and_the_link() {
    let b = fallback_body("Your refund is on its way.", "+1 555-078-3881");
    assert_eq!(b, "Your refund is on its way.\n\nContinue on WhatsApp: https://wa.me/15550783881");
    assert_eq!(fallback_body("  ", "+1 555-078-3881"), "Continue on WhatsApp: https://wa.me/15550783881");
}

#[test]
fn long_replies_are_cut_so_the_link_survives() {
    let link = "\n\nContinue on WhatsApp: https://wa.me/15550783881";
    for len in [1_000, 1_551, 1_552, 1_553, 1_600, 5_000] {
        let reply = "é".repeat(len);
        let b = fallback_body(&reply, "+1 555-078-3881");
        assert!(b.chars().count() <= MAX_BODY_CHARS, "{len}: {} characters", b.chars().count());
        assert!(b.ends_with(link), "{len}");
        let text = b.strip_suffix(link).unwrap();
        if len + link.chars().count() <= MAX_BODY_CHARS {
            assert_eq!(text, reply);
        } else {
            assert!(text.ends_with('…'), "{len}");
            assert_eq!(b.chars().count(), MAX_BODY_CHARS, "{len}: uses the whole body");
        }
        assert!(validate("+15550783881", "+4915112345678", &b).is_ok());
    }
}

#[test]
fn twilio_error_bodies_are_read() {
    let body = br#"{"code":21211,"message":"The 'To' number +1555 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#;
    let e = parse_error(400, body);
    assert_eq!(e.http_status, Some(400));
    assert_eq!(e.code, Some(21_211));
    assert_eq!(e.message, "The 'To' number +1555 is not a valid phone number.");
    assert_eq!(e.more_info.as_deref(), Some("https://www.twilio.com/docs/errors/21211"));
    assert_eq!(e.class, SmsErrorClass::Permanent { auth: false });
    assert_eq!(e.to_string(), "The 'To' number +1555 is not a valid phone number (21211)");
    assert_eq!(human_reason(&e), "the SMS provider refused the number: The 'To' number +1555 is not a valid phone number (21211)");
}

#[test]
fn non_json_error_bodies_still_say_something() {
    let e = parse_error(502, b"<html><body>Bad gateway</body></html>");
    assert_eq!(e.code, None);
    assert_eq!(e.message, "HTTP 502 Bad Gateway: <html><body>Bad gateway</body></html>");
    assert!(e.is_transient());
    assert_eq!(parse_error(503, b"").message, "HTTP 503 Service Unavailable");
    let long = parse_error(400, "x".repeat(1_000).as_bytes());
    assert!(long.message.ends_with('…') && long.message.len() < 300);
    assert_eq!(parse_error(418, br#"{"unrelated": true}"#).message, "HTTP 418 I'm a teapot: {\"unrelated\": true}");
}

#[test]
fn errors_are_classified() {
    assert_eq!(classify(429, Some(20_429)), SmsErrorClass::Transient);
    assert_eq!(classify(500, None), SmsErrorClass::Transient);
    assert_eq!(classify(503, Some(20_503)), SmsErrorClass::Transient);
    assert_eq!(classify(401, Some(20_003)), SmsErrorClass::Permanent { auth: true });
    assert_eq!(classify(401, None), SmsErrorClass::Permanent { auth: true });
    assert_eq!(classify(403, Some(20_003)), SmsErrorClass::Permanent { auth: true });
    assert_eq!(classify(400, Some(21_610)), SmsErrorClass::Permanent { auth: false });
    assert_eq!(classify(404, Some(20_404)), SmsErrorClass::Permanent { auth: false });
}

#[test]
fn reasons_for_agents() {
    let e = |status, code: i64, message: &str| parse_error(status, format!(r#"{{"code":{code},"message":"{message}"}}"#).as_bytes());
    assert_eq!(
        human_reason(&e(401, 20_003, "Authenticate")),
        "the SMS provider refused the desk's credentials (check the account SID and auth token): Authenticate (20003)"
    );
    assert_eq!(
        human_reason(&e(400, 21_610, "Attempt to send to unsubscribed recipient")),
        "the customer has unsubscribed from SMS (replied STOP): Attempt to send to unsubscribed recipient (21610)"
    );
    assert!(human_reason(&e(429, 20_429, "Too Many Requests")).starts_with("the SMS provider is rate limiting"));
    assert!(human_reason(&e(400, 21_408, "Permission…")).starts_with("the SMS account may not send to this region"));
    assert!(human_reason(&e(400, 30_007, "Carrier violation")).starts_with("the SMS provider refused the message"));
    let invalid = validate("+1", "+4915112345678", "x").unwrap_err();
    assert!(human_reason(&invalid).starts_with("the SMS was not sent: From: must be an E.164 number"));
}

#[test]
fn clients_check_their_settings_and_hide_the_token() {
    let t = || SecretString::from("s3cret".to_owned());
    let c = SmsClient::new("http://127.0.0.1:4010/", "AC00000000000000000000000000000001", t(), Duration::from_secs(1)).unwrap();
    assert_eq!(c.messages_url, "http://127.0.0.1:4010/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages.json");
    assert!(!format!("{c:?}").contains("s3cret"));
    assert_eq!(SmsClient::new("ftp://x", "AC1", t(), Duration::from_secs(1)).unwrap_err().field, Some("base_url"));
    assert_eq!(SmsClient::new("https://x", "AC/../1", t(), Duration::from_secs(1)).unwrap_err().field, Some("account_sid"));
    assert_eq!(
        SmsClient::new("https://x", "AC1", SecretString::from(String::new()), Duration::from_secs(1)).unwrap_err().field,
        Some("auth_token")
    );
}
