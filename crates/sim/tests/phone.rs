//! The customer phone page (`/sim/phone`): the page and its assets with their headers, the thread it
//! polls, sending through it (checked at the stand-in desk), and input validation.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use windowdesk_core::inbound::InboundAction;
use windowdesk_sim::{samples, Say, SimNumber};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const OTHER_PNID: &str = "9988776655443";
const OTHER_CUSTOMER: &str = "4915100000002";

async fn two_numbers() -> Setup {
    Setup::with(|c| {
        let second = SimNumber {
            phone_number_id: OTHER_PNID.into(),
            display_number: "+972 12-345-0000".into(),
            verified_name: "Shop <b>&</b> \"Co\"".into(),
            ..number()
        };
        c.numbers.push(second);
    })
    .await
}

/// Whether the HTML has an attribute like ` onclick=`.
fn has_inline_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(i, _)| {
        let rest = &html[i + 3..];
        let name_len = rest.chars().take_while(char::is_ascii_lowercase).count();
        name_len > 0 && rest[name_len..].starts_with('=')
    })
}

/// `POST /sim/phone/say`: (HTTP status, JSON body).
async fn say(s: &Setup, body: Value) -> (u16, Value) {
    let resp = s.http.post(s.url("/sim/phone/say")).json(&body).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn thread(s: &Setup, query: &str) -> (u16, Value) {
    let resp = s.get(&format!("/sim/phone/thread?{query}"), None).await;
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn the_page_is_served_with_a_strict_csp_and_escapes_what_it_renders() {
    let s = two_numbers().await;
    let resp = s.get("/sim/phone?name=%3Cscript%3Ealert(1)%3C%2Fscript%3E&wa_id=%22%3E%3Cimg&phone_number_id=9988776655443", None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(resp.headers()["content-security-policy"], CSP);
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let html = resp.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"));
    assert!(html.contains("value=\"&lt;script&gt;alert(1)&lt;/script&gt;\""), "the name is escaped");
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("value=\"&quot;&gt;&lt;img\""), "the wa_id is escaped");
    assert!(html.contains("Shop &lt;b&gt;&amp;&lt;/b&gt; &quot;Co&quot;"), "business names are escaped");
    assert!(!html.contains("<b>"));
    assert!(html.contains("<option value=\"9988776655443\"") && html.contains("selected>"));
    for id in [
        "phone-from",
        "phone-name",
        "phone-number",
        "phone-text",
        "phone-send",
        "phone-send-image",
        "phone-send-voice",
        "phone-send-document",
        "phone-react",
        "phone-thread",
        "phone-note",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "#{id}");
    }
    for emoji in ["👍", "❤️", "😂", "🙏"] {
        assert!(html.contains(&format!("data-emoji=\"{emoji}\"")), "{emoji}");
    }
    for label in ["phone-from", "phone-name", "phone-number", "phone-text"] {
        assert!(html.contains(&format!("<label for=\"{label}\"")), "a label for #{label}");
    }
    assert!(html.contains("<title>") && html.contains("<h1>") && html.contains("Simulator page"));
    // No inline code or style: the only script is the embedded file.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains("<script src=\"/sim/phone/app.js\" defer></script>"));
    assert!(!has_inline_handler(&html), "no onclick= and the like");
    assert!(!html.contains("style=") && !html.contains("<style") && !html.contains("javascript:"));

    // Defaults.
    let html = s.get("/sim/phone", None).await.text().await.unwrap();
    assert!(html.contains("value=\"4915112345678\"") && html.contains("value=\"Demo Customer\""));
    assert!(html.contains(&format!("<option value=\"{PNID}\" data-name=\"Test Shop\" data-display=\"+972 12-345-6789\" selected>")));

    for (path, content_type) in [("/sim/phone/app.js", "text/javascript; charset=utf-8"), ("/sim/phone/app.css", "text/css; charset=utf-8")]
    {
        let resp = s.get(path, None).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["content-type"], content_type);
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        let text = resp.text().await.unwrap();
        assert!(text.len() > 1000, "{path}");
        assert!(!text.contains("innerHTML"), "{path}");
    }
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn texts_media_and_reactions_sent_from_the_page_reach_the_desk() {
    let s = Setup::new().await;
    let (status, said) = say(&s, json!({"wa_id": "+972 98-765-4321", "name": "Noa", "type": "text", "body": "Hi from the phone"})).await;
    assert_eq!(status, 200, "{said}");
    assert_eq!(said["delivery"]["outcome"], "delivered");
    assert_eq!((said["wa_id"].as_str(), said["phone_number_id"].as_str()), (Some(CUSTOMER), Some(PNID)));
    let m = s.desk.messages().pop().unwrap();
    assert_eq!(
        (m.wamid.as_str(), m.kind.as_str(), m.body.as_deref()),
        (said["wamid"].as_str().unwrap(), "text", Some("Hi from the phone"))
    );
    assert_eq!(m.contact.wa_id.as_deref(), Some(CUSTOMER));
    assert_eq!(m.contact.profile_name.as_deref(), Some("Noa"));

    let (status, _) = say(&s, json!({"wa_id": CUSTOMER, "type": "image"})).await;
    assert_eq!(status, 200);
    let m = s.desk.messages().pop().unwrap();
    assert_eq!(m.kind, "image");
    let media = m.media.unwrap();
    assert_eq!(media.mime_type.as_deref(), Some("image/png"));
    assert_eq!(s.sim.handle.media_bytes(&media.media_id).unwrap().as_ref(), samples::png());

    say(&s, json!({"wa_id": CUSTOMER, "type": "voice", "name": null, "phone_number_id": null})).await;
    let m = s.desk.messages().pop().unwrap();
    let media = m.media.unwrap();
    assert_eq!((m.kind.as_str(), media.voice), ("audio", true));
    assert_eq!(media.mime_type.as_deref(), Some("audio/ogg; codecs=opus"));

    say(&s, json!({"wa_id": CUSTOMER, "type": "document"})).await;
    let m = s.desk.messages().pop().unwrap();
    assert_eq!((m.kind.as_str(), m.media.unwrap().mime_type.as_deref()), ("document", Some("application/pdf")));

    // A reaction goes to the business's latest message by default.
    let (_, first) = s.send(text_to(CUSTOMER, "Your order shipped")).await;
    let (_, latest) = s.send(text_to(CUSTOMER, "It arrives tomorrow")).await;
    let latest = latest["messages"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = say(&s, json!({"wa_id": CUSTOMER, "type": "reaction", "emoji": "❤️"})).await;
    assert_eq!(status, 200, "{body}");
    let m = s.desk.messages().pop().unwrap();
    assert_eq!(m.action, InboundAction::React { target: latest, emoji: Some("❤️".into()) });
    let first = first["messages"][0]["id"].as_str().unwrap().to_owned();
    say(&s, json!({"wa_id": CUSTOMER, "type": "reaction", "emoji": "🙏", "message_id": first})).await;
    assert_eq!(s.desk.messages().pop().unwrap().action, InboundAction::React { target: first, emoji: Some("🙏".into()) });

    // The same record as `POST /sim/say` keeps.
    let inbound: Value = s.get("/sim/inbound", None).await.json().await.unwrap();
    let kinds: Vec<&str> = inbound["messages"].as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["text", "image", "audio", "document", "reaction", "reaction"]);
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn the_thread_shows_this_customers_conversation_only() {
    let s = two_numbers().await;
    s.sim.handle.say(Say::text(CUSTOMER, "Where is my order?")).await.unwrap();
    s.sim.handle.say(Say::text(OTHER_CUSTOMER, "Not me")).await.unwrap();
    s.sim.handle.say(Say::text(CUSTOMER, "Other shop").to_number(OTHER_PNID)).await.unwrap();
    let (_, sent) = s.send(text_to(CUSTOMER, "It ships today")).await;
    let reply = sent["messages"][0]["id"].as_str().unwrap().to_owned();
    s.send(text_to(OTHER_CUSTOMER, "Hello other customer")).await;
    let (status, body) = s.send(template_to(CUSTOMER, "order_update", "en_US", &["Dana", "#42"])).await;
    assert_eq!(status, 200, "{body}");
    let template = body["messages"][0]["id"].as_str().unwrap().to_owned();
    let image = s.sim.handle.add_media(PNID, samples::png(), "image/png", None);
    let (status, _) = s.send(json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "image", "image": {"id": image.id}})).await;
    assert_eq!(status, 200);
    say(&s, json!({"wa_id": CUSTOMER, "type": "reaction", "emoji": "👍", "message_id": reply})).await;
    s.send(json!({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "<img src=x onerror=alert(1)>"}}))
        .await;

    let (status, t) = thread(&s, &format!("wa_id=%2B{CUSTOMER}")).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!((t["wa_id"].as_str(), t["phone_number_id"].as_str()), (Some(CUSTOMER), Some(PNID)));
    assert_eq!(t["business"]["verified_name"], "Test Shop");
    let msgs = t["messages"].as_array().unwrap();
    let summary: Vec<(&str, &str)> = msgs.iter().map(|m| (m["direction"].as_str().unwrap(), m["kind"].as_str().unwrap())).collect();
    assert_eq!(summary, [("in", "text"), ("out", "text"), ("out", "template"), ("out", "image"), ("out", "text")]);
    assert_eq!(msgs[0]["text"], "Where is my order?");
    assert_eq!(msgs[1]["text"], "It ships today");
    assert_eq!(msgs[1]["reactions"], json!([{"direction": "in", "emoji": "👍"}]), "the reaction sits on its message");
    assert_eq!(msgs[2]["wamid"], template.as_str());
    assert_eq!(msgs[2]["template"]["name"], "order_update");
    assert_eq!(msgs[2]["text"], "Hi Dana, your order #42 has shipped.");
    assert_eq!(msgs[3]["media"]["url"], format!("/sim/phone/media/{}", image.id));
    assert_eq!(msgs[3]["media"]["mime_type"], "image/png");
    assert_eq!(msgs[4]["text"], "<img src=x onerror=alert(1)>", "data stays data; the page renders it as text");
    assert_eq!(t["react_to"], msgs[4]["wamid"]);
    let texts = t.to_string();
    assert!(!texts.contains("Not me") && !texts.contains("Hello other customer") && !texts.contains("Other shop"));
    eventually("statuses to reach read", || {
        let now = s.sim.handle.received();
        now.iter().filter(|m| m.to == CUSTOMER).all(|m| m.status == "read").then_some(())
    })
    .await;
    let (_, t) = thread(&s, &format!("wa_id={CUSTOMER}&phone_number_id={PNID}")).await;
    assert!(t["messages"].as_array().unwrap().iter().filter(|m| m["direction"] == "out").all(|m| m["status"] == "read"), "{t}");

    // The same customer on the other number, and another customer.
    let (_, t) = thread(&s, &format!("wa_id={CUSTOMER}&phone_number_id={OTHER_PNID}")).await;
    let msgs = t["messages"].as_array().unwrap();
    assert_eq!((msgs.len(), msgs[0]["text"].as_str()), (1, Some("Other shop")));
    assert_eq!(t["react_to"], Value::Null);
    let (_, t) = thread(&s, &format!("wa_id={OTHER_CUSTOMER}")).await;
    let texts: Vec<&str> = t["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Not me", "Hello other customer"]);

    // The page can show the image the business sent.
    let resp = s.get(&format!("/sim/phone/media/{}", image.id), None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), samples::png());
    let html = s.sim.handle.add_media(PNID, &b"<script>alert(1)</script>"[..], "text/html", Some("x.html"));
    let resp = s.get(&format!("/sim/phone/media/{}", html.id), None).await;
    assert_eq!(resp.headers()["content-type"], "application/octet-stream", "never served as HTML");
    assert!(resp.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(s.get("/sim/phone/media/123", None).await.status(), 404);
    s.sim.stop().await.unwrap();
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let s = Setup::new().await;
    let cases = [
        (json!({"type": "text", "body": "hi"}), "wa_id"),
        (json!({"wa_id": "not a number", "type": "text", "body": "hi"}), "wa_id"),
        (json!({"wa_id": 4915112345678u64, "type": "text", "body": "hi"}), "wa_id"),
        (json!({"wa_id": CUSTOMER, "body": "hi"}), "type"),
        (json!({"wa_id": CUSTOMER, "type": "sticker"}), "type"),
        (json!({"wa_id": CUSTOMER, "type": "text"}), "body"),
        (json!({"wa_id": CUSTOMER, "type": "text", "body": "   "}), "body"),
        (json!({"wa_id": CUSTOMER, "type": "text", "body": "x".repeat(4097)}), "body"),
        (json!({"wa_id": CUSTOMER, "type": "text", "body": "hi", "name": "x".repeat(101)}), "name"),
        (json!({"wa_id": CUSTOMER, "type": "text", "body": "hi", "name": 7}), "name"),
        (json!({"wa_id": CUSTOMER, "type": "text", "body": "hi", "phone_number_id": "42"}), "phone_number_id"),
        (json!({"wa_id": CUSTOMER, "type": "text", "body": "hi", "emoji": "👍"}), "emoji"),
        (json!({"wa_id": CUSTOMER, "type": "image", "colour": "red"}), "colour"),
        (json!({"wa_id": CUSTOMER, "type": "reaction", "emoji": "👍"}), "message_id"),
        (json!({"wa_id": CUSTOMER, "type": "reaction", "emoji": "👍", "message_id": "wamid.nope"}), "message_id"),
        (json!({"wa_id": CUSTOMER, "type": "reaction", "emoji": "ok", "message_id": "wamid.nope"}), "emoji"),
        (json!({"wa_id": CUSTOMER, "type": "reaction"}), "emoji"),
    ];
    for (body, field) in cases {
        let (status, answer) = say(&s, body.clone()).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert_eq!(answer["error"]["field"], field, "{body} → {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().starts_with(&format!("{field}: ")), "{answer}");
    }
    let resp = s.http.post(s.url("/sim/phone/say")).header("content-type", "application/json").body("{oops").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let (status, answer) = say(&s, json!(["not", "an", "object"])).await;
    assert_eq!((status, answer["error"]["field"].clone()), (400, Value::Null));
    assert!(s.sim.handle.inbound().is_empty(), "nothing was sent");
    assert!(s.desk.messages().is_empty());

    for (query, field) in [
        ("", "wa_id"),
        ("wa_id=12", "wa_id"),
        ("wa_id=abc", "wa_id"),
        (&format!("wa_id={CUSTOMER}&phone_number_id=1") as &str, "phone_number_id"),
    ] {
        let (status, answer) = thread(&s, query).await;
        assert_eq!((status, answer["error"]["field"].as_str()), (400, Some(field)), "{query} → {answer}");
    }
    let (status, answer) = thread(&s, &format!("wa_id={CUSTOMER}&since=5")).await;
    assert_eq!((status, answer["error"]["field"].as_str()), (400, Some("since")));
    assert_eq!(s.get("/sim/phone/media/abc", None).await.status(), 400);
    s.sim.stop().await.unwrap();
}
