//! Templates, fallbacks and held replies (SPEC 4, 9, D4) over real HTTP, with the simulator playing
//! Meta and the SMS provider, on both backends.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use windowdesk_core::template::{MediaKind, ParamValue, TemplateParams};
use windowdesk_core::{DeliveryState, ManualClock, SendOption, Timestamp};
use windowdesk_server::deliveries::{dismiss, resend, ResendAs};
use windowdesk_server::replies::{
    hold_reply, post_sms, post_template, post_text_reply, settings_of, HoldNotice, ReplyError, ReplyOutcome, TemplateSend,
};
use windowdesk_server::templates::sync_all;
use windowdesk_sim::{Say, SmsFault, TemplateConfig, TemplateStatusChange, WindowEnforcement};
use windowdesk_store::testing::Backend;

on_both_backends!(
    s9_a_sync_follows_every_page_of_metas_template_list,
    i7_a_template_status_webhook_pauses_a_template_and_it_can_no_longer_be_sent,
    s4_every_invalid_template_parameter_is_refused_before_meta_sees_anything,
    s9_a_valid_template_reaches_meta_with_exactly_metas_components,
    s9_an_image_header_by_media_id_and_a_url_button_pass_metas_contract,
    s9_sms_fallback_reaches_the_provider_with_a_link_back_to_whatsapp,
    s9_an_sms_provider_error_shows_as_a_failure_with_its_reason,
    s9_held_replies_go_out_once_in_order_when_the_customer_writes_again,
    s9_a_held_reply_that_the_customer_never_answers_expires_as_failed,
    d4_a_failed_reply_is_resent_as_a_template_or_dismissed_and_keeps_its_history,
    s9_the_hold_notice_goes_out_once_per_closed_window_episode,
);

const CUSTOMER: &str = "15550009876";

/// Templates beyond the simulator's demo set: a document header with a URL button, and currency.
fn extra_templates() -> Vec<TemplateConfig> {
    let mut invoice = TemplateConfig::body("invoice_ready", "en_US", "UTILITY", "APPROVED", "Hi {{1}}, your invoice of {{2}} is ready.");
    invoice.components.insert(0, json!({"type": "HEADER", "format": "DOCUMENT"}));
    invoice.components.push(json!({"type": "BUTTONS", "buttons": [
        {"type": "URL", "text": "Pay now", "url": "https://shop.example/pay/{{1}}"},
        {"type": "QUICK_REPLY", "text": "Talk to us"}
    ]}));
    vec![invoice]
}

fn with_extra_templates(c: &mut windowdesk_sim::SimConfig) {
    c.templates.extend(extra_templates());
}

fn send(name: &str, language: &str, body: &[(&str, ParamValue)]) -> TemplateSend {
    TemplateSend {
        name: name.into(),
        language: language.into(),
        params: TemplateParams { body: body.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(), ..TemplateParams::default() },
    }
}

fn queued_id(outcome: ReplyOutcome) -> i64 {
    match outcome {
        ReplyOutcome::Queued { message_id, .. } => message_id,
        other => panic!("expected queued, got {other:?}"),
    }
}

/// A ticket whose customer wrote 25 hours ago: the window is closed.
async fn closed_window_ticket(app: &TestApp) -> i64 {
    app.sim().say(Say::text(CUSTOMER, "Is my order on its way?").name("Rosa Diaz").at(now_secs() - 25 * 3600)).await.unwrap();
    app.only_ticket().await
}

async fn api_token(app: &TestApp) -> String {
    windowdesk_server::api::admin::create_api_token(app.store().as_ref(), "tests").await.unwrap().token
}

async fn s9_a_sync_follows_every_page_of_metas_template_list(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |c| {
        c.templates =
            (0..60).map(|i| TemplateConfig::body(&format!("notice_{i:02}"), "en_US", "UTILITY", "APPROVED", "Notice {{1}}")).collect();
    })
    .await;
    let s = &app.running.state;
    let pages = std::sync::Mutex::new(Vec::new());
    let reports =
        sync_all(&s.store, &s.cloud_api, &s.numbers, 25, s.clock.now(), &|_, page, n| pages.lock().unwrap().push((page, n))).await.unwrap();
    assert_eq!(reports.len(), 1, "one account");
    assert_eq!((reports[0].pages, reports[0].templates), (3, 60), "25 + 25 + 10");
    assert_eq!(*pages.lock().unwrap(), [(1, 25), (2, 50), (3, 60)], "progress after every page");
    let rows = app.store().templates().await.unwrap();
    assert_eq!(rows.iter().filter(|r| r.definition.is_some() && r.removed_at.is_none()).count(), 60);

    // A second sync finds nothing new; after a template is added at Meta, exactly that one is.
    let later = |ms| s.clock.now().plus(Duration::from_millis(ms));
    let again = sync_all(&s.store, &s.cloud_api, &s.numbers, 25, later(5), &|_, _, _| {}).await.unwrap();
    let c = again[0].counts;
    assert_eq!((c.added, c.updated, c.unchanged, c.removed), (0, 0, 60, 0));
    app.sim().add_template(TemplateConfig::body("notice_60", "en_US", "UTILITY", "APPROVED", "Notice {{1}}")).unwrap();
    let after_add = sync_all(&s.store, &s.cloud_api, &s.numbers, 25, later(10), &|_, _, _| {}).await.unwrap();
    let c = after_add[0].counts;
    assert_eq!((after_add[0].pages, c.added, c.updated, c.unchanged, c.removed), (3, 1, 0, 60, 0));

    // Over HTTP too.
    let token = api_token(&app).await;
    let r = app.client.post(app.url("/api/v1/templates/sync")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["accounts"][0]["pages"], 1, "the default page size takes all 60 at once");
    let listed: Value =
        app.client.get(app.url("/api/v1/templates?q=notice_5")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 10, "notice_50 to notice_59");
    assert_eq!(listed["next"], Value::Null);
    assert_eq!(listed["data"][0]["parameters"][0]["key"], "1");
    app.stop().await;
}

async fn i7_a_template_status_webhook_pauses_a_template_and_it_can_no_longer_be_sent(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    app.sync_templates().await;
    let ticket = closed_window_ticket(&app).await;
    let status_of = |rows: Vec<windowdesk_store::TemplateRow>| {
        rows.into_iter().find(|r| r.name == "order_update" && r.language == "en_US").and_then(|r| r.status)
    };
    assert_eq!(status_of(app.store().templates().await.unwrap()).as_deref(), Some("APPROVED"));
    app.sim()
        .set_template_status(TemplateStatusChange {
            name: "order_update".into(),
            language: "en_US".into(),
            status: "PAUSED".into(),
            reason: None,
            waba_id: None,
        })
        .await
        .unwrap();
    app.eventually("the registry to say PAUSED", || async {
        (status_of(app.store().templates().await.unwrap()).as_deref() == Some("PAUSED")).then_some(())
    })
    .await;
    let params = [("1", ParamValue::text("Rosa")), ("2", ParamValue::text("#1042"))];
    let err = post_template(&app.running.state, ticket, &send("order_update", "en_US", &params), "agent:1", None).await.unwrap_err();
    assert!(err.to_string().contains("is PAUSED, not APPROVED"), "{err}");
    // Paused templates are no longer offered as a way out either.
    match post_text_reply(&app.running.state, ticket, "late", "agent:1").await.unwrap() {
        ReplyOutcome::Blocked { options, .. } => assert!(!options.iter().any(|o| matches!(o, SendOption::Template { name, language, .. }
            if name == "order_update" && language == "en_US"))),
        other => panic!("expected blocked, got {other:?}"),
    }
    // The German one is still approved and goes out.
    queued_id(post_template(&app.running.state, ticket, &send("order_update", "de_DE", &params), "agent:1", None).await.unwrap());
    app.eventually("the German template to arrive", || async { (!app.sim().received().is_empty()).then_some(()) }).await;
    assert_eq!(app.sim().received().len(), 1);
    app.stop().await;
}

async fn s4_every_invalid_template_parameter_is_refused_before_meta_sees_anything(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, with_extra_templates).await;
    app.sync_templates().await;
    let ticket = closed_window_ticket(&app).await;
    let token = api_token(&app).await;
    let doc = json!({"type": "media", "kind": "document", "link": "https://shop.example/i.pdf", "filename": "invoice.pdf"});
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"name": "nope", "language": "en_US"}), "template", "does not exist"),
        (json!({"name": "order_update", "language": "fr_FR"}), "template", "has no \"fr_FR\" version"),
        (json!({"name": "winter_sale", "language": "en_US", "parameters": {"body": {"1": "x"}}}), "template", "PAUSED"),
        (json!({"name": "new_terms", "language": "en_US", "parameters": {"body": {"1": "x"}}}), "template", "PENDING"),
        (
            json!({"name": "order_update", "language": "en_US", "parameters": {"body": {"1": "Rosa"}}}),
            "parameters.body.{{2}}",
            "is missing",
        ),
        (
            json!({"name": "order_update", "language": "en_US", "parameters": {"body": {"1": "Rosa", "2": "#1", "3": "x"}}}),
            "parameters.body.{{3}}",
            "no such parameter",
        ),
        (
            json!({"name": "order_update", "language": "en_US", "parameters": {"body": {"1": "Ro\nsa", "2": "#1"}}}),
            "parameters.body.{{1}}",
            "new lines",
        ),
        (
            json!({"name": "order_update", "language": "en_US", "parameters": {"body": {"1": doc.clone(), "2": "#1"}}}),
            "parameters.body.{{1}}",
            "body parameters are text",
        ),
        (
            json!({"name": "reply_waiting", "language": "en_US", "parameters": {"body": {"1": "Rosa"}}}),
            "parameters.body.1",
            "it takes first_name",
        ),
        (
            json!({"name": "invoice_ready", "language": "en_US", "parameters": {"body": {"1": "Rosa", "2": "$5"}, "buttons": {"0": "42"}}}),
            "parameters.header",
            "needs a document header",
        ),
        (
            json!({"name": "invoice_ready", "language": "en_US", "parameters": {"header": "x", "body": {"1": "Rosa", "2": "$5"}, "buttons": {"0": "42"}}}),
            "parameters.header",
            "a text was given",
        ),
        (
            json!({"name": "invoice_ready", "language": "en_US", "parameters": {"header": doc.clone(), "body": {"1": "Rosa", "2": "$5"}}}),
            "parameters.buttons.0",
            "variable part is missing",
        ),
        (
            json!({"name": "invoice_ready", "language": "en_US", "parameters": {"header": doc.clone(), "body": {"1": "Rosa",
                "2": {"type": "currency", "fallback_value": "$5", "code": "usd", "amount_1000": 5000}}, "buttons": {"0": "42"}}}),
            "parameters.body.{{2}}",
            "not an ISO 4217 code",
        ),
    ];
    for (body, field, words) in cases {
        let r =
            app.client.post(app.url(&format!("/api/v1/tickets/{ticket}/templates"))).bearer_auth(&token).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 422, "{body}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["details"]["field"], field, "{body}: {e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(words), "{body}: {e}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.sim().received().is_empty(), "nothing invalid ever reached Meta");
    let stored = app.store().ticket_messages(ticket).await.unwrap();
    assert!(stored.iter().all(|m| m.direction == windowdesk_store::Direction::Inbound), "and nothing was stored as if it could go");
    app.stop().await;
}

async fn s9_a_valid_template_reaches_meta_with_exactly_metas_components(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, with_extra_templates).await;
    app.sync_templates().await;
    let ticket = closed_window_ticket(&app).await;
    let token = api_token(&app).await;
    let body = json!({"name": "invoice_ready", "language": "en_US", "parameters": {
        "header": {"type": "media", "kind": "document", "link": "https://shop.example/i.pdf", "filename": "invoice.pdf"},
        "body": {"1": "Rosa", "2": {"type": "currency", "fallback_value": "$12.50", "code": "USD", "amount_1000": 12500}},
        "buttons": {"0": "inv-1042", "1": "TALK_1042"}
    }});
    let preview: Value = app
        .client
        .post(app.url(&format!("/api/v1/tickets/{ticket}/templates/preview")))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(preview["body"], "Hi Rosa, your invoice of $12.50 is ready.");
    assert_eq!(preview["valid"], true);
    let r = app.client.post(app.url(&format!("/api/v1/tickets/{ticket}/templates"))).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let received = app.eventually("Meta to receive the template", || async { app.sim().received().into_iter().next() }).await;
    assert_eq!(
        received.request["template"],
        json!({
            "name": "invoice_ready",
            "language": {"policy": "deterministic", "code": "en_US"},
            "components": [
                {"type": "header", "parameters": [{"type": "document", "document": {"link": "https://shop.example/i.pdf", "filename": "invoice.pdf"}}]},
                {"type": "body", "parameters": [
                    {"type": "text", "text": "Rosa"},
                    {"type": "currency", "currency": {"fallback_value": "$12.50", "code": "USD", "amount_1000": 12500}}
                ]},
                {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "inv-1042"}]},
                {"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": [{"type": "payload", "payload": "TALK_1042"}]}
            ]
        })
    );
    assert_eq!(received.kind, "template");
    let m = app.wait_for_state(ticket, id, DeliveryState::Read).await;
    assert_eq!(
        m.body.as_deref().map(|b| b.contains("Hi Rosa, your invoice of $12.50 is ready.")),
        Some(true),
        "the thread shows what the customer reads"
    );
    app.stop().await;
}

/// The simulator refuses what Meta refuses (a media header without id or link, a button component
/// that does not fit the template's button, a URL button without its suffix), so this send reaching
/// `read` shows the desk builds an image header by media id and a URL button as Meta's contract says.
async fn s9_an_image_header_by_media_id_and_a_url_button_pass_metas_contract(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |c| {
        let mut shipped = TemplateConfig::body("parcel_shipped", "en_US", "UTILITY", "APPROVED", "Hi {{1}}, your parcel is on its way.");
        shipped.components.insert(0, json!({"type": "HEADER", "format": "IMAGE"}));
        shipped.components.push(json!({"type": "BUTTONS", "buttons": [
            {"type": "QUICK_REPLY", "text": "Thanks"},
            {"type": "URL", "text": "Track", "url": "https://shop.example/track/{{1}}"}
        ]}));
        c.templates.push(shipped);
    })
    .await;
    app.sync_templates().await;
    let ticket = closed_window_ticket(&app).await;
    let image = app.sim().add_media(PNID, windowdesk_sim::samples::png(), "image/png", None);
    let params = TemplateParams {
        header: Some(ParamValue::Media { kind: MediaKind::Image, link: None, id: Some(image.id.clone()), filename: None }),
        body: BTreeMap::from([("1".into(), ParamValue::text("Rosa"))]),
        buttons: BTreeMap::from([("1".into(), "TRK-77".into())]),
    };
    let send = TemplateSend { name: "parcel_shipped".into(), language: "en_US".into(), params };
    let id = queued_id(post_template(&app.running.state, ticket, &send, "agent:1", None).await.unwrap());
    app.wait_for_state(ticket, id, DeliveryState::Read).await;
    let received = app.sim().received().into_iter().next().unwrap();
    assert_eq!(
        received.request["template"]["components"],
        json!([
            {"type": "header", "parameters": [{"type": "image", "image": {"id": image.id}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Rosa"}]},
            {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "TRK-77"}]}
        ])
    );
    let used = received.template.unwrap();
    assert_eq!(used.header.as_deref(), Some("[image]"));
    assert_eq!(used.urls, ["https://shop.example/track/TRK-77"], "the customer's button opens the filled-in URL");
    app.stop().await;
}

async fn s9_sms_fallback_reaches_the_provider_with_a_link_back_to_whatsapp(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let ticket = closed_window_ticket(&app).await;
    match post_text_reply(&app.running.state, ticket, "Your parcel arrives tomorrow.", "agent:1").await.unwrap() {
        ReplyOutcome::Blocked { options, .. } => assert!(options.iter().any(|o| matches!(o, SendOption::Sms { .. })), "{options:?}"),
        other => panic!("expected blocked, got {other:?}"),
    }
    let token = api_token(&app).await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/tickets/{ticket}/sms")))
        .bearer_auth(&token)
        .json(&json!({"body": "Your parcel arrives tomorrow."}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let sms =
        app.eventually("the SMS provider to receive it", || async { app.sim().sms_to(&format!("+{CUSTOMER}")).into_iter().next() }).await;
    assert_eq!(sms.from.as_deref(), Some(SMS_FROM));
    let link = windowdesk_sms::continue_on_whatsapp_link(&format!("+1 555 {PNID}"));
    assert_eq!(sms.body.as_deref(), Some(format!("Your parcel arrives tomorrow.\n\nContinue on WhatsApp: {link}").as_str()));
    app.wait_for_state(ticket, id, DeliveryState::Accepted).await;
    assert!(app.sim().received().is_empty(), "nothing went to WhatsApp");
    app.stop().await;
}

async fn s9_an_sms_provider_error_shows_as_a_failure_with_its_reason(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let ticket = closed_window_ticket(&app).await;
    app.sim().set_sms_fault(SmsFault { status: Some(400), code: Some(21_610), count: Some(1), ..SmsFault::default() }).unwrap();
    let id = queued_id(post_sms(&app.running.state, ticket, "Please call us.", "agent:1", None).await.unwrap());
    let m = app.wait_for_state(ticket, id, DeliveryState::Failed).await;
    assert_eq!(m.error_code, Some(21_610));
    assert!(m.error_title.as_deref().unwrap_or_default().contains("unsubscribed"), "{:?}", m.error_title);
    let failed = app.store().failed_deliveries(None, 10).await.unwrap();
    assert_eq!(failed.iter().map(|f| f.message_id).collect::<Vec<_>>(), [id], "listed in Failed deliveries (D4)");
    app.stop().await;
}

async fn s9_held_replies_go_out_once_in_order_when_the_customer_writes_again(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let ticket = closed_window_ticket(&app).await;
    let first = match hold_reply(&app.running.state, ticket, "Your parcel is at the depot.", "agent:1").await.unwrap() {
        ReplyOutcome::Held { message_id, expires_at, .. } => {
            assert!(expires_at > Timestamp::from_unix_seconds(now_secs() + 7 * 86_400 - 60), "held for 7 days by default");
            message_id
        }
        other => panic!("expected held, got {other:?}"),
    };
    let ReplyOutcome::Held { message_id: second, .. } =
        hold_reply(&app.running.state, ticket, "It will be delivered on Monday.", "agent:1").await.unwrap()
    else {
        panic!("expected held")
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.sim().received().is_empty(), "held means not sent");
    assert_eq!(app.message(ticket, first).await.delivery_state, Some(DeliveryState::Held));
    // Holding with the window open makes no sense: the desk says so.
    let said = app.sim().say(Say::text(CUSTOMER, "Any news?")).await.unwrap();
    app.eventually("both held replies to reach Meta", || async { (app.sim().received().len() == 2).then_some(()) }).await;
    let inbound_seq = app.sim().inbound().into_iter().find(|i| i.wamid == said.wamid).unwrap().seq;
    let received = app.sim().received();
    assert_eq!(
        received.iter().map(|r| r.text.clone().unwrap_or_default()).collect::<Vec<_>>(),
        ["Your parcel is at the depot.", "It will be delivered on Monday."],
        "in the order they were written"
    );
    assert!(received.iter().all(|r| r.seq > inbound_seq), "after the customer's message");
    app.wait_for_state(ticket, first, DeliveryState::Read).await;
    app.wait_for_state(ticket, second, DeliveryState::Read).await;
    // A second customer message releases nothing again.
    app.sim().say(Say::text(CUSTOMER, "Thanks!")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sim().received().len(), 2, "exactly once");
    let err = hold_reply(&app.running.state, ticket, "now?", "agent:1").await.unwrap_err();
    assert!(matches!(err, ReplyError::Conflict(ref m) if m.contains("window is open")), "{err}");
    let events = app.store().ticket_events(ticket).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == "held_reply_released").count(), 2);
    app.stop().await;
}

async fn s9_a_held_reply_that_the_customer_never_answers_expires_as_failed(backend: Backend) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(now_secs())));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    let ticket = closed_window_ticket(&app).await;
    let ReplyOutcome::Held { message_id, expires_at, .. } =
        hold_reply(&app.running.state, ticket, "Still there?", "agent:1").await.unwrap()
    else {
        panic!("expected held")
    };
    clock.set(expires_at.minus(Duration::from_secs(1)));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.message(ticket, message_id).await.delivery_state, Some(DeliveryState::Held), "not before its time");
    clock.set(expires_at);
    let m = app.wait_for_state(ticket, message_id, DeliveryState::Failed).await;
    assert_eq!(m.error_title.as_deref(), Some("held reply expired"));
    let failed = app.store().failed_deliveries(None, 10).await.unwrap();
    assert!(failed.iter().any(|f| f.message_id == message_id), "shown as failed (D4)");
    // The customer writing later releases nothing: it expired.
    app.sim().say(Say::text(CUSTOMER, "Sorry, I was away")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.sim().received().is_empty());
    app.stop().await;
}

async fn d4_a_failed_reply_is_resent_as_a_template_or_dismissed_and_keeps_its_history(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |c| c.window_enforcement = WindowEnforcement::Async).await;
    app.sync_templates().await;
    app.sim().say(Say::text(CUSTOMER, "hi").name("Rosa Diaz")).await.unwrap();
    let ticket = app.only_ticket().await;
    // Meta's clock says the window closed: both replies fail with 131047 after being accepted.
    app.sim().advance_clock(Duration::from_secs(25 * 3600));
    let a = queued_id(post_text_reply(&app.running.state, ticket, "first late answer", "agent:1").await.unwrap());
    let b = queued_id(post_text_reply(&app.running.state, ticket, "second late answer", "agent:1").await.unwrap());
    app.wait_for_state(ticket, a, DeliveryState::Failed).await;
    app.wait_for_state(ticket, b, DeliveryState::Failed).await;

    // As is: the desk's window is still open, so it goes again (and fails again at Meta).
    let how = ResendAs::Template(send("order_update", "en_US", &[("1", ParamValue::text("Rosa")), ("2", ParamValue::text("#7"))]));
    let replacement = queued_id(resend(&app.running.state, a, how, "agent:1").await.unwrap().1);
    let original = app.store().outbound_message(a).await.unwrap().unwrap();
    assert_eq!((original.resolution.as_deref(), original.replaced_by), (Some("template"), Some(replacement)));
    assert_eq!(original.state, DeliveryState::Failed, "the original keeps its state and history");
    app.wait_for_state(ticket, replacement, DeliveryState::Read).await;
    assert_eq!(app.sim().received().last().unwrap().kind, "template");

    dismiss(&app.running.state, b, "agent:1").await.unwrap();
    let failed = app.store().failed_deliveries(None, 10).await.unwrap();
    assert!(failed.is_empty(), "both dealt with: {failed:?}");
    assert_eq!(app.message(ticket, b).await.delivery_state, Some(DeliveryState::Failed), "still marked failed on the ticket");
    let again = resend(&app.running.state, b, ResendAs::AsIs, "agent:1").await.unwrap_err();
    assert!(matches!(again, ReplyError::Conflict(_)), "a dismissed message cannot be resent: {again}");
    let kinds: Vec<String> = app.store().ticket_events(ticket).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "failed_delivery_resolved").count(), 2, "{kinds:?}");
    app.stop().await;
}

/// The "a reply is waiting" notice each hold of this episode brought, as the hold reported it.
fn notice_of(outcome: ReplyOutcome) -> HoldNotice {
    match outcome {
        ReplyOutcome::Held { notice: Some(n), .. } => n,
        other => panic!("expected held with a notice outcome, got {other:?}"),
    }
}

fn templates_received(app: &TestApp) -> usize {
    app.sim().received().iter().filter(|r| r.kind == "template").count()
}

/// SPEC 9: the paid "reply waiting" template goes out once per closed-window episode of a customer
/// (from the window closing to the customer writing again), however many replies are held, even
/// when holds race; the next episode gets its own.
async fn s9_the_hold_notice_goes_out_once_per_closed_window_episode(backend: Backend) {
    let start = Timestamp::from_unix_seconds(now_secs());
    let clock = Arc::new(ManualClock::new(start));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    app.sync_templates().await;
    let mut settings = settings_of(&app.running.state, app.bn).await.unwrap();
    settings.hold_notice_template = Some("reply_waiting".into());
    settings.hold_notice_language = Some("en_US".into());
    assert!(app.store().save_number_settings(&settings).await.unwrap());
    let ticket = closed_window_ticket(&app).await;
    let s = &app.running.state;

    let first = notice_of(hold_reply(s, ticket, "Your parcel is at the depot.", "agent:1").await.unwrap());
    let HoldNotice::Queued { message_id: notice_id, .. } = first else { panic!("the first hold sends the notice: {first:?}") };
    let second = notice_of(hold_reply(s, ticket, "It goes out on Monday.", "agent:1").await.unwrap());
    assert!(matches!(second, HoldNotice::AlreadySent { message_id: Some(id), .. } if id == notice_id), "{second:?}");
    // Two more at the same moment: the store's key decides, not a flag in this process.
    let (a, b) = tokio::join!(hold_reply(s, ticket, "Tracking: 1Z999", "agent:1"), hold_reply(s, ticket, "Sorry again!", "agent:2"));
    for n in [notice_of(a.unwrap()), notice_of(b.unwrap())] {
        assert!(matches!(n, HoldNotice::AlreadySent { .. }), "{n:?}");
    }
    app.eventually("the notice at Meta", || async { (templates_received(&app) == 1).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(templates_received(&app), 1, "one paid template for four held replies");

    // The customer writes: the four held replies go out, and this episode is over.
    app.sim().say(Say::text(CUSTOMER, "Hi, I am back")).await.unwrap();
    app.eventually("the held replies at Meta", || async { (app.sim().received().len() == 5).then_some(()) }).await;

    // A day later the window has closed again: a new episode, with its own notice.
    clock.set(start.plus(Duration::from_secs(25 * 3600)));
    let next = notice_of(hold_reply(s, ticket, "Did the parcel arrive?", "agent:1").await.unwrap());
    assert!(matches!(next, HoldNotice::Queued { message_id, .. } if message_id != notice_id), "{next:?}");
    let again = notice_of(hold_reply(s, ticket, "Let us know!", "agent:1").await.unwrap());
    assert!(matches!(again, HoldNotice::AlreadySent { .. }), "{again:?}");
    app.eventually("the second episode's notice at Meta", || async { (templates_received(&app) == 2).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(templates_received(&app), 2);
    app.stop().await;
}
