//! The client against the simulator's SMS provider, over real HTTP.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use secrecy::SecretString;
use windowdesk_sim::{RunningSim, Sim, SimConfig, SmsFault, DEFAULT_SMS_ACCOUNT_SID, DEFAULT_SMS_AUTH_TOKEN};
use windowdesk_sms::{fallback_body, human_reason, SmsClient, SmsErrorClass};

const FROM: &str = "+15550783881";
const TO: &str = "+4915112345678";

async fn sim() -> RunningSim {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Sim::start(SimConfig::default(), listener).unwrap()
}

fn client(sim: &RunningSim, token: &str, timeout: Duration) -> SmsClient {
    SmsClient::new(&sim.url(), DEFAULT_SMS_ACCOUNT_SID, SecretString::from(token.to_owned()), timeout).unwrap()
}

#[tokio::test]
async fn a_fallback_sms_reaches_the_provider_whole() {
    let sim = sim().await;
    let c = client(&sim, DEFAULT_SMS_AUTH_TOKEN, Duration::from_secs(5));
    let body = fallback_body(&"Long answer. ".repeat(200), "+1 555-078-3881");
    let accepted = c.send(FROM, TO, &body).await.unwrap();
    assert!(accepted.sid.starts_with("SM") && accepted.sid.len() == 34, "{}", accepted.sid);
    assert_eq!(accepted.status, "queued");
    let got = sim.handle.sms_to(TO);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].sid.as_deref(), Some(accepted.sid.as_str()));
    assert_eq!(got[0].body.as_deref(), Some(body.as_str()));
    assert_eq!(got[0].from.as_deref(), Some(FROM));
    assert_eq!(got[0].auth_user.as_deref(), Some(DEFAULT_SMS_ACCOUNT_SID));
    assert!(body.ends_with("Continue on WhatsApp: https://wa.me/15550783881"));
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn wrong_credentials_are_a_permanent_auth_failure() {
    let sim = sim().await;
    let e = client(&sim, "wrong", Duration::from_secs(5)).send(FROM, TO, "Hi").await.unwrap_err();
    assert_eq!(e.http_status, Some(401));
    assert_eq!(e.code, Some(20_003));
    assert_eq!(e.class, SmsErrorClass::Permanent { auth: true });
    assert_eq!(e.more_info.as_deref(), Some("https://www.twilio.com/docs/errors/20003"));
    assert!(sim.handle.sms_to(TO).is_empty());
    assert_eq!(sim.handle.sms()[0].http_status, 401, "refusals are recorded too");
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn the_providers_own_refusals_come_through() {
    let sim = sim().await;
    let c = client(&sim, DEFAULT_SMS_AUTH_TOKEN, Duration::from_secs(5));
    // E.164-shaped for the client, but no number (a leading 0): the provider refuses it.
    let e = c.send(FROM, "+0123456789", "Hi").await.unwrap_err();
    assert_eq!((e.http_status, e.code), (Some(400), Some(21_211)));
    assert_eq!(human_reason(&e), "the SMS provider refused the number: The 'To' number +0123456789 is not a valid phone number (21211)");
    // What the client refuses never leaves it.
    let local = c.send(FROM, "4915112345678", "Hi").await.unwrap_err();
    assert_eq!(local.field, Some("To"));
    assert_eq!(sim.handle.sms().len(), 1);
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn provider_faults_are_classified() {
    let sim = sim().await;
    let c = client(&sim, DEFAULT_SMS_AUTH_TOKEN, Duration::from_secs(5));
    let cases = [
        (SmsFault::error(429, 20_429, Some(1)), Some(20_429), SmsErrorClass::Transient),
        (SmsFault { status: Some(500), count: Some(1), ..SmsFault::default() }, Some(20_500), SmsErrorClass::Transient),
        (SmsFault::error(400, 21_610, Some(1)), Some(21_610), SmsErrorClass::Permanent { auth: false }),
        (SmsFault::error(400, 21_408, Some(1)), Some(21_408), SmsErrorClass::Permanent { auth: false }),
    ];
    for (fault, code, class) in cases {
        sim.handle.set_sms_fault(fault).unwrap();
        let e = c.send(FROM, TO, "Hi").await.unwrap_err();
        assert_eq!((e.code, e.class), (code, class), "{e:?}");
    }
    // Two unsubscribed answers, then the provider takes it again.
    sim.handle.set_sms_fault(SmsFault::error(400, 21_610, Some(2))).unwrap();
    for _ in 0..2 {
        assert!(human_reason(&c.send(FROM, TO, "Hi").await.unwrap_err()).contains("unsubscribed"));
    }
    c.send(FROM, TO, "Hi").await.unwrap();
    assert_eq!(sim.handle.sms_to(TO).len(), 1);
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_transient() {
    let sim = sim().await;
    sim.handle.set_sms_fault(SmsFault { hang_ms: Some(2_000), count: Some(1), ..SmsFault::default() }).unwrap();
    let e = client(&sim, DEFAULT_SMS_AUTH_TOKEN, Duration::from_millis(200)).send(FROM, TO, "Hi").await.unwrap_err();
    assert_eq!((e.http_status, e.class), (None, SmsErrorClass::Transient));
    assert!(e.message.contains("did not answer in time"), "{}", e.message);
    sim.stop().await.unwrap();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = SmsClient::new(&format!("http://{addr}"), "AC1", SecretString::from("t".to_owned()), Duration::from_secs(2)).unwrap();
    let e = c.send(FROM, TO, "Hi").await.unwrap_err();
    assert_eq!(e.class, SmsErrorClass::Transient);
    assert!(human_reason(&e).starts_with("the SMS provider is unavailable"), "{}", human_reason(&e));
}
