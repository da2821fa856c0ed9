//! Template sends are held to Meta's documented contract (the `TemplateObject` schema of Meta's
//! OpenAPI spec and the limits of its Cloud API reference), over real HTTP: one test per rule, each
//! named after it. Shape errors are `(#100)` naming the field; mismatches with the template are
//! `132000` (number of parameters) and `132012` (parameter format).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use windowdesk_core::MetaStatus;
use windowdesk_sim::{Say, TemplateConfig};

/// An image header, a two-parameter body, a URL button with a variable suffix, a quick reply and a
/// static URL button.
fn invoice() -> TemplateConfig {
    let mut t = TemplateConfig::body("invoice_ready", "en_US", "UTILITY", "APPROVED", "Hi {{1}}, your invoice of {{2}} is ready.");
    t.components.insert(0, json!({"type": "HEADER", "format": "IMAGE"}));
    t.components.push(json!({"type": "BUTTONS", "buttons": [
        {"type": "URL", "text": "Pay now", "url": "https://shop.example/pay/{{1}}"},
        {"type": "QUICK_REPLY", "text": "Talk to us"},
        {"type": "URL", "text": "Shop", "url": "https://shop.example"}
    ]}));
    t
}

/// A text header with a parameter, and a body.
fn notice() -> TemplateConfig {
    let mut t = TemplateConfig::body("notice", "en_US", "UTILITY", "APPROVED", "Hi {{1}}, see you soon.");
    t.components.insert(0, json!({"type": "HEADER", "format": "TEXT", "text": "Notice for {{1}}"}));
    t
}

async fn setup() -> Setup {
    Setup::with(|c| c.templates.extend([invoice(), notice()])).await
}

fn send_of(name: &str, components: Value) -> Value {
    json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER, "type": "template",
           "template": {"name": name, "language": {"policy": "deterministic", "code": "en_US"}, "components": components}})
}

/// Meta's own example, fitted to `invoice_ready`: everything right.
fn good_invoice() -> Vec<Value> {
    vec![
        json!({"type": "header", "parameters": [{"type": "image", "image": {"link": "https://shop.example/invoice.png"}}]}),
        json!({"type": "body", "parameters": [
            {"type": "text", "text": "Ada"},
            {"type": "currency", "currency": {"fallback_value": "$12.50", "code": "USD", "amount_1000": 12_500}}]}),
        json!({"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "inv-1042"}]}),
        json!({"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": [{"type": "payload", "payload": "TALK"}]}),
    ]
}

/// Sends `components` for `invoice_ready`; returns (HTTP status, error code, details).
async fn try_invoice(s: &Setup, components: Vec<Value>) -> (u16, i64, String) {
    try_send(s, send_of("invoice_ready", Value::Array(components))).await
}

async fn try_send(s: &Setup, body: Value) -> (u16, i64, String) {
    let (status, body) = s.send(body).await;
    if status == 200 {
        return (200, 0, String::new());
    }
    let e = meta_error(&body);
    (status, e["code"].as_i64().unwrap(), e["error_data"]["details"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn sim_accepts_metas_documented_template_send_and_fills_its_buttons() {
    let s = setup().await;
    let (status, body) = s.send(send_of("invoice_ready", Value::Array(good_invoice()))).await;
    assert_eq!(status, 200, "{body}");
    let m = s.sim.handle.received().pop().unwrap();
    assert_eq!(m.text.as_deref(), Some("Hi Ada, your invoice of $12.50 is ready."));
    let used = m.template.unwrap();
    assert_eq!(used.header.as_deref(), Some("[image]"));
    assert_eq!(used.urls, ["https://shop.example/pay/inv-1042", "https://shop.example"]);
    // The spec's examples also send the index as a number and the sub_type in capitals.
    let mut c = good_invoice();
    c[2] = json!({"type": "button", "sub_type": "URL", "index": 0, "parameters": [{"type": "text", "text": "inv-1042"}]});
    assert_eq!(try_invoice(&s, c).await.0, 200);
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_upper_case_component_types() {
    let s = setup().await;
    let (status, code, details) = try_send(&s, template_to(CUSTOMER, "order_update", "en_US", &["Dana", "#42"])).await;
    assert_eq!(status, 200, "lower-case body is fine: {details}");
    let mut upper = template_to(CUSTOMER, "order_update", "en_US", &["Dana", "#42"]);
    upper["template"]["components"][0]["type"] = json!("BODY");
    let (status, code2, details) = try_send(&s, upper).await;
    assert_eq!((status, code, code2), (400, 0, 100));
    assert!(details.contains("template.components[0].type \"BODY\" must be lower-case"), "{details}");
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_unknown_component_types() {
    let s = setup().await;
    let mut c = good_invoice();
    c.push(json!({"type": "footer", "parameters": [{"type": "text", "text": "x"}]}));
    let (status, code, details) = try_invoice(&s, c).await;
    assert_eq!((status, code), (400, 100));
    assert!(details.contains("template.components[4].type \"footer\" is not a component type (header, body, button)"), "{details}");
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_a_second_body_component() {
    let s = setup().await;
    let split = vec![
        json!({"type": "body", "parameters": [{"type": "text", "text": "Dana"}]}),
        json!({"type": "body", "parameters": [{"type": "text", "text": "#42"}]}),
    ];
    let (status, code, details) = try_send(&s, send_of("order_update", Value::Array(split))).await;
    assert_eq!((status, code), (400, 100));
    assert!(details.contains("template.components[1]: a template has one body component"), "{details}");
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_an_image_header_without_id_or_link() {
    let s = setup().await;
    let mut c = good_invoice();
    c[0] = json!({"type": "header", "parameters": [{"type": "image", "image": {}}]});
    let (status, code, details) = try_invoice(&s, c).await;
    assert_eq!((status, code), (400, 100));
    assert!(details.contains("template.components[0].parameters[0].image.id or template.components[0].parameters[0].image.link"));
    let mut c = good_invoice();
    c[0] = json!({"type": "header", "parameters": [{"type": "image", "image": {"id": "1", "link": "https://x.example/a.png"}}]});
    assert!(try_invoice(&s, c).await.2.contains("give either id or link, not both"));
    let mut c = good_invoice();
    c[0] = json!({"type": "header", "parameters": [{"type": "image", "image": {"link": "ftp://x.example/a.png"}}]});
    assert!(try_invoice(&s, c).await.2.contains("image.link must be an http(s) URL"));
    assert!(s.sim.handle.received().is_empty());
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_a_caption_on_template_media() {
    let s = setup().await;
    let mut c = good_invoice();
    c[0]["parameters"][0]["image"]["caption"] = json!("Your invoice");
    let (status, code, details) = try_invoice(&s, c).await;
    assert_eq!((status, code), (400, 100));
    assert!(details.contains("image.caption is not allowed"), "{details}");
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_checks_a_template_header_media_id_like_a_media_message() {
    let s = setup().await;
    s.sim.handle.say(Say::text(CUSTOMER, "where is my invoice?")).await.unwrap();
    let mut c = good_invoice();
    c[0] = json!({"type": "header", "parameters": [{"type": "image", "image": {"id": "123456789"}}]});
    let (status, body) = s.send(send_of("invoice_ready", Value::Array(c))).await;
    assert_eq!(status, 200, "{body}");
    let wamid = body["messages"][0]["id"].as_str().unwrap();
    let failed = s.desk.status(wamid, MetaStatus::Failed).await;
    assert_eq!(failed.errors[0].code, 131_053);
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_a_currency_without_code_or_amount_1000() {
    let s = setup().await;
    for (missing, field) in
        [("code", "currency.code"), ("amount_1000", "currency.amount_1000"), ("fallback_value", "currency.fallback_value")]
    {
        let mut c = good_invoice();
        c[1]["parameters"][1]["currency"].as_object_mut().unwrap().remove(missing);
        let (status, code, details) = try_invoice(&s, c).await;
        assert_eq!((status, code), (400, 100), "without {missing}");
        assert!(details.contains(&format!("template.components[1].parameters[1].{field} is required")), "{details}");
    }
    let mut c = good_invoice();
    c[1]["parameters"][1]["currency"]["code"] = json!("dollars");
    assert!(try_invoice(&s, c).await.2.contains("not an ISO 4217 currency code"));
    let mut c = good_invoice();
    c[1]["parameters"][1]["currency"]["amount_1000"] = json!("12500");
    assert!(try_invoice(&s, c).await.2.contains("amount_1000 must be an integer"));
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_an_amount_1000_outside_int32() {
    let s = setup().await;
    let mut c = good_invoice();
    c[1]["parameters"][1]["currency"]["amount_1000"] = json!(2_147_483_647);
    assert_eq!(try_invoice(&s, c).await.0, 200, "i32::MAX is still fine");
    let mut c = good_invoice();
    c[1]["parameters"][1]["currency"]["amount_1000"] = json!(2_147_483_648_i64);
    let (status, code, details) = try_invoice(&s, c).await;
    assert_eq!((status, code), (400, 100));
    assert!(details.contains("template.components[1].parameters[1].currency.amount_1000 2147483648 is out of range"), "{details}");
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_header_text_parameters_over_60_characters() {
    let s = setup().await;
    let send = |header: &str| {
        send_of(
            "notice",
            json!([{"type": "header", "parameters": [{"type": "text", "text": header}]},
                   {"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}]),
        )
    };
    assert_eq!(try_send(&s, send(&"x".repeat(60))).await.0, 200);
    let (status, code, details) = try_send(&s, send(&"x".repeat(61))).await;
    assert_eq!((status, code), (400, 100));
    assert!(details.contains("template.components[0].parameters[0].text is 61 characters long; header text parameters take at most 60"));
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_body_text_parameters_over_1024_characters_beside_other_components() {
    let s = setup().await;
    let mut c = good_invoice();
    c[1]["parameters"][0]["text"] = json!("x".repeat(1025));
    let (status, code, details) = try_invoice(&s, c).await;
    assert_eq!((status, code), (400, 100));
    assert!(details.contains("1025 characters long; body text parameters of a send with other components take at most 1024"), "{details}");
    // A body alone may carry more.
    let (status, ..) = try_send(&s, template_to(CUSTOMER, "order_update", "en_US", &[&"x".repeat(1025), "#42"])).await;
    assert_eq!(status, 200);
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_text_parameters_over_32768_characters() {
    let s = setup().await;
    let (status, ..) = try_send(&s, template_to(CUSTOMER, "order_update", "en_US", &[&"x".repeat(32_768), "#42"])).await;
    assert_eq!(status, 200);
    let (status, code, details) = try_send(&s, template_to(CUSTOMER, "order_update", "en_US", &[&"x".repeat(32_769), "#42"])).await;
    assert_eq!((status, code), (400, 100));
    assert!(details.contains("32769 characters long; text parameters take at most 32768"), "{details}");
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_a_button_component_without_sub_type_index_or_parameters() {
    let s = setup().await;
    for (remove, field) in [("sub_type", "sub_type"), ("index", "index"), ("parameters", "parameters")] {
        let mut c = good_invoice();
        c[2].as_object_mut().unwrap().remove(remove);
        let (status, code, details) = try_invoice(&s, c).await;
        assert_eq!((status, code), (400, 100), "without {remove}");
        assert!(details.contains(&format!("template.components[2].{field} is required")), "{details}");
    }
    let mut c = good_invoice();
    c[2]["sub_type"] = json!("call_me_maybe");
    assert!(try_invoice(&s, c).await.2.contains("is not a button sub_type (quick_reply, url, catalog, flow)"));
    let mut c = good_invoice();
    c[2]["index"] = json!("first");
    assert!(try_invoice(&s, c).await.2.contains("template.components[2].index must be the button's position"));
    let mut c = good_invoice();
    c[3]["index"] = json!("0");
    assert!(try_invoice(&s, c).await.2.contains("template.components[3].index 0 is already used by template.components[2]"));
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_a_quick_reply_button_with_a_text_parameter() {
    let s = setup().await;
    let mut c = good_invoice();
    c[3]["parameters"] = json!([{"type": "text", "text": "TALK"}]);
    let (status, code, details) = try_invoice(&s, c).await;
    assert_eq!((status, code), (400, 100));
    assert!(details.contains("does not fit a quick_reply button: it takes a \"payload\" parameter"), "{details}");
    let mut c = good_invoice();
    c[2]["parameters"] = json!([{"type": "payload", "payload": "x"}]);
    assert!(try_invoice(&s, c).await.2.contains("does not fit a url button: it takes a \"text\" parameter"));
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_a_button_sub_type_that_does_not_match_the_template() {
    let s = setup().await;
    let mut c = good_invoice();
    c[3] = json!({"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "x"}]});
    let (status, code, details) = try_invoice(&s, c).await;
    assert_eq!((status, code), (400, 132_012));
    assert!(details.contains("sub_type url does not match the template's button 1, a QUICK_REPLY button"), "{details}");
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_a_button_index_the_template_does_not_have() {
    let s = setup().await;
    let mut c = good_invoice();
    c.push(json!({"type": "button", "sub_type": "quick_reply", "index": "7", "parameters": [{"type": "payload", "payload": "x"}]}));
    let (status, code, _) = try_invoice(&s, c).await;
    assert_eq!((status, code), (400, 132_000));
    // A static URL button takes no suffix either.
    let mut c = good_invoice();
    c.push(json!({"type": "button", "sub_type": "url", "index": "2", "parameters": [{"type": "text", "text": "x"}]}));
    let (status, code, details) = try_invoice(&s, c).await;
    assert_eq!((status, code), (400, 132_000));
    assert!(details.contains("(button 2): number of localizable_params (1) does not match the expected number of params (0)"), "{details}");
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn sim_refuses_a_url_button_without_its_suffix() {
    let s = setup().await;
    let mut c = good_invoice();
    c.remove(2);
    let (status, code, details) = try_invoice(&s, c).await;
    assert_eq!((status, code), (400, 132_000));
    assert!(
        details.contains("button 0 (URL \"Pay now\"): number of localizable_params (0) does not match the expected number of params (1)")
    );
    // Quick replies need no component: their payload is optional.
    let mut c = good_invoice();
    c.remove(3);
    assert_eq!(try_invoice(&s, c).await.0, 200);
    s.sim.stop().await.unwrap();
}
