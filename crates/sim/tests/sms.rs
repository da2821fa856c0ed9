//! The SMS provider the sim plays (Twilio's Messages API), over real HTTP: answers, errors, faults,
//! the record, reset, and the customer's phone page.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use windowdesk_sim::{Say, DEFAULT_SMS_ACCOUNT_SID as SID, DEFAULT_SMS_AUTH_TOKEN as AUTH};

const TO: &str = "+972987654321";
const FROM: &str = "+15550783881";

impl Setup {
    async fn sms(&self, auth: Option<(&str, &str)>, fields: &[(&str, &str)]) -> (u16, Value) {
        self.sms_to_account(SID, auth, fields).await
    }

    async fn sms_to_account(&self, account: &str, auth: Option<(&str, &str)>, fields: &[(&str, &str)]) -> (u16, Value) {
        let mut req = self.http.post(self.url(&format!("/2010-04-01/Accounts/{account}/Messages.json"))).form(fields);
        if let Some((user, password)) = auth {
            req = req.basic_auth(user, Some(password));
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }
}

/// Twilio's error body, checked for all its fields.
fn twilio_error(status: u16, body: &Value, code: i64) {
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(body["more_info"], format!("https://www.twilio.com/docs/errors/{code}"));
}

#[tokio::test]
async fn an_sms_is_accepted_as_twilio_answers_and_recorded() {
    let s = Setup::new().await;
    let (status, m) = s.sms(Some((SID, AUTH)), &[("To", TO), ("From", FROM), ("Body", "Hello by SMS")]).await;
    assert_eq!(status, 201, "{m}");
    let sid = m["sid"].as_str().unwrap();
    assert!(sid.starts_with("SM") && sid.len() == 34 && sid[2..].chars().all(|c| c.is_ascii_hexdigit()), "{sid}");
    assert_eq!(m["account_sid"], SID);
    assert_eq!((m["to"].as_str(), m["from"].as_str(), m["body"].as_str()), (Some(TO), Some(FROM), Some("Hello by SMS")));
    assert_eq!(m["status"], "queued");
    assert_eq!(m["num_segments"], "1");
    assert_eq!(m["error_code"], Value::Null);
    assert_eq!(m["error_message"], Value::Null);
    assert_eq!(m["uri"], format!("/2010-04-01/Accounts/{SID}/Messages/{sid}.json"));
    let created = m["date_created"].as_str().unwrap();
    assert!(created.ends_with(" +0000") && created.contains(", "), "RFC 2822: {created}");

    let long = "a".repeat(161);
    let (_, two) = s.sms(Some((SID, AUTH)), &[("To", TO), ("From", FROM), ("Body", &long)]).await;
    assert_eq!(two["num_segments"], "2");

    let listed: Value = s.get(&format!("/sim/sms?to={}", "%2B972987654321"), None).await.json().await.unwrap();
    let list = listed["sms"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["sid"], sid);
    assert_eq!(list[0]["http_status"], 201);
    assert_eq!(list[0]["fields"], json!({"To": TO, "From": FROM, "Body": "Hello by SMS"}));
    assert!(list[0]["received_at_ms"].as_i64().unwrap() > 0);
    let none: Value = s.get("/sim/sms?to=4915100000000", None).await.json().await.unwrap();
    assert_eq!(none["sms"], json!([]));
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn bad_requests_get_twilios_errors() {
    let s = Setup::new().await;
    let ok = Some((SID, AUTH));
    let (st, b) = s.sms(None, &[("To", TO), ("From", FROM), ("Body", "x")]).await;
    assert_eq!(st, 401);
    twilio_error(401, &b, 20_003);
    let (st, b) = s.sms(Some((SID, "wrong")), &[("To", TO), ("From", FROM), ("Body", "x")]).await;
    assert_eq!(st, 401);
    twilio_error(401, &b, 20_003);
    let (st, b) = s.sms_to_account("AC99", ok, &[("To", TO), ("From", FROM), ("Body", "x")]).await;
    assert_eq!(st, 404, "another account's URL");
    twilio_error(404, &b, 20_404);

    let cases: [(&[(&str, &str)], i64); 7] = [
        (&[("To", "+1555"), ("From", FROM), ("Body", "x")], 21_211),
        (&[("To", "972987654321"), ("From", FROM), ("Body", "x")], 21_211),
        (&[("From", FROM), ("Body", "x")], 21_604),
        (&[("To", TO), ("From", "+12"), ("Body", "x")], 21_212),
        (&[("To", TO), ("Body", "x")], 21_603),
        (&[("To", TO), ("From", FROM)], 21_602),
        (&[("To", TO), ("From", FROM), ("Body", "")], 21_602),
    ];
    for (fields, code) in cases {
        let (st, b) = s.sms(ok, fields).await;
        assert_eq!(st, 400, "{fields:?}: {b}");
        twilio_error(400, &b, code);
    }
    let (_, b) = s.sms(ok, &[("To", "+1555"), ("From", FROM), ("Body", "x")]).await;
    assert_eq!(b["message"], "The 'To' number +1555 is not a valid phone number.");
    let too_long = "é".repeat(1_601);
    let (st, b) = s.sms(ok, &[("To", TO), ("From", FROM), ("Body", &too_long)]).await;
    assert_eq!(st, 400);
    twilio_error(400, &b, 21_617);
    let (st, _) = s.sms(ok, &[("To", TO), ("From", FROM), ("Body", &"é".repeat(1_600))]).await;
    assert_eq!(st, 201, "1,600 characters fit");

    let rec = s.sim.handle.sms();
    assert_eq!(rec.len(), 13, "every request is recorded");
    assert_eq!(rec[0].error_code, Some(20_003));
    assert_eq!(rec[0].auth_user, None);
    assert_eq!(rec[1].auth_user.as_deref(), Some(SID));
    assert!(!serde_json::to_string(&rec).unwrap().contains("wrong"), "no password in the record");
    assert_eq!(s.sim.handle.sms_to(TO).len(), 1);
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn faults_answer_the_next_sends_until_used_up_or_cleared() {
    let s = Setup::new().await;
    let ok = Some((SID, AUTH));
    let fields = [("To", TO), ("From", FROM), ("Body", "x")];
    let set = s.control("sms/faults", json!({"status": 400, "code": 21610, "count": 2})).await;
    assert_eq!(set["fault"]["code"], 21_610);
    for _ in 0..2 {
        let (st, b) = s.sms(ok, &fields).await;
        assert_eq!(st, 400);
        twilio_error(400, &b, 21_610);
        assert_eq!(b["message"], "Attempt to send to unsubscribed recipient");
    }
    assert_eq!(s.sms(ok, &fields).await.0, 201);

    s.control("sms/faults", json!({"code": 20429})).await;
    for _ in 0..3 {
        let (st, b) = s.sms(ok, &fields).await;
        assert_eq!(st, 429);
        twilio_error(429, &b, 20_429);
    }
    let got: Value = s.get("/sim/sms/faults", None).await.json().await.unwrap();
    assert_eq!(got["fault"]["status"], 429);
    let cleared = s.http.delete(s.url("/sim/sms/faults")).send().await.unwrap();
    assert_eq!(cleared.status(), 200);
    assert_eq!(s.sms(ok, &fields).await.0, 201);

    s.control("sms/faults", json!({"status": 500, "count": 1})).await;
    let (st, b) = s.sms(ok, &fields).await;
    assert_eq!(st, 500);
    twilio_error(500, &b, 20_500);
    s.control("sms/faults", json!({"status": 400, "code": 21408, "message": "Region off", "count": 1})).await;
    let (_, b) = s.sms(ok, &fields).await;
    assert_eq!((b["code"].as_i64(), b["message"].as_str()), (Some(21_408), Some("Region off")));
    // Bad credentials are still refused first.
    s.control("sms/faults", json!({"status": 500, "count": 1})).await;
    assert_eq!(s.sms(Some((SID, "nope")), &fields).await.0, 401);
    assert_eq!(s.sms(ok, &fields).await.0, 500);

    let bad = s.http.put(s.url("/sim/sms/faults")).json(&json!({"status": 400})).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let b: Value = bad.json().await.unwrap();
    assert_eq!(b["error"]["field"], "code");

    s.control("sms/faults", json!({"code": 21610})).await;
    s.control("reset", json!({})).await;
    assert!(s.sim.handle.sms().is_empty() && s.sim.handle.sms_fault().is_none(), "reset forgets SMS and their faults");
    assert_eq!(s.sms(ok, &fields).await.0, 201);
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn the_customers_phone_shows_sms_apart_from_whatsapp() {
    let s = Setup::new().await;
    s.sim.handle.say(Say::text(CUSTOMER, "Hello?")).await.unwrap();
    let (st, _) = s
        .sms(Some((SID, AUTH)), &[("To", TO), ("From", FROM), ("Body", "We answered.\n\nContinue on WhatsApp: https://wa.me/972123456789")])
        .await;
    assert_eq!(st, 201);
    s.sms(Some((SID, AUTH)), &[("To", "+1555"), ("From", FROM), ("Body", "refused")]).await;
    let thread: Value = s.get(&format!("/sim/phone/thread?wa_id={CUSTOMER}"), None).await.json().await.unwrap();
    let msgs = thread["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "{thread}");
    assert_eq!((msgs[0]["channel"].as_str(), msgs[0]["direction"].as_str()), (Some("whatsapp"), Some("in")));
    assert_eq!(msgs[1]["channel"], "sms");
    assert_eq!(msgs[1]["direction"], "out");
    assert_eq!(msgs[1]["kind"], "sms");
    assert_eq!(msgs[1]["sms_from"], FROM);
    assert!(msgs[1]["text"].as_str().unwrap().starts_with("We answered."));
    assert!(msgs[1]["wamid"].as_str().unwrap().starts_with("SM"));
    assert!(msgs[1]["seq"].as_u64() > msgs[0]["seq"].as_u64());
    let js = s.get("/sim/phone/app.js", None).await.text().await.unwrap();
    assert!(js.contains("dataset.channel") && js.contains("\"SMS\""));
    s.sim.stop().await.unwrap();
}
