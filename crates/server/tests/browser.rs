//! The agent web interface in a real browser (headless Debian Chromium over WebDriver), against a desk
//! on SQLite with the Cloud API simulator playing WhatsApp. What SPEC 8 and issues 4 and 5 ask to be
//! shown: live arrival, assign, reply and ticks; the countdown flipping the composer; a lasting
//! failure; a voice note that plays; hostile names shown as text; with the window closed, a template
//! picked, filled, previewed live and sent to read; a held reply going out when the customer writes;
//! every page accessible; screenshots. And issue 13: a macro chosen from the picker with the keyboard,
//! reviewed in the composer and sent; the banner of a window that closes outside business hours.
#![allow(clippy::unwrap_used)] // a panic is a failed test with its message
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::api::Api;
use common::browser::Browser;
use common::*;
use fantoccini::key::Key;
use serde_json::json;
use windowdesk_core::{ManualClock, Timestamp};
use windowdesk_server::api::admin::create_agent;
use windowdesk_sim::{Say, TemplateConfig, WindowEnforcement};
use windowdesk_store::testing::Backend;
use windowdesk_store::AgentRole;

const CUSTOMER: &str = "4915112345678";
const EMAIL: &str = "ana@example.com";
const PASSWORD: &str = "correct horse battery";
const WAIT: Duration = Duration::from_secs(10);

/// A signed-in browser on `app`, or `None` when no browser is installed outside CI.
async fn signed_in(app: &TestApp) -> Option<Browser> {
    create_agent(app.store().as_ref(), "Ana Lima", EMAIL, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    let browser = Browser::start().await?;
    browser.goto(&app.url("/")).await;
    browser.wait_for("#email", WAIT).await;
    browser.assert_accessible("sign-in").await;
    browser.fill("#email", EMAIL).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_text("main h1", "Inbox", WAIT).await;
    // The live stream is up before the test makes anything happen.
    browser.wait_for("body[data-live='connected']", WAIT).await;
    Some(browser)
}

async fn ticket_id(app: &TestApp) -> i64 {
    app.eventually("a ticket", || async {
        app.store()
            .query_tickets(&windowdesk_store::TicketQuery { limit: 1, ..Default::default() })
            .await
            .unwrap()
            .first()
            .map(|t| t.ticket.id)
    })
    .await
}

#[tokio::test]
async fn a_new_message_appears_live_then_assign_reply_and_ticks_reach_read() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    browser.assert_accessible("inbox (empty)").await;

    app.sim().say(Say::text(CUSTOMER, "Where is my parcel?").name("Rosa Jansen")).await.unwrap();
    // No reload: the row arrives over the event stream.
    let row = browser.wait_for_text("#unassigned li.ticket-row", "Rosa Jansen", WAIT).await;
    assert_eq!(row.attr("data-unread").await.unwrap().as_deref(), Some("true"));
    browser.wait_for_text("[data-count='unassigned']", "1", WAIT).await;
    browser.screenshot("inbox").await;
    browser.assert_accessible("inbox").await;

    browser.click("#unassigned li.ticket-row a").await;
    browser.wait_for("#window-banner", WAIT).await;
    assert!(browser.text("#window-countdown").await.starts_with("closes in 23 h"), "{}", browser.text("#window-banner").await);
    browser.click("#assign-me").await;
    browser.wait_for("#notice", WAIT).await;
    let assignee = browser.exec("return document.getElementById('assignee').selectedOptions[0].textContent", vec![]).await;
    assert_eq!(assignee, json!("Ana Lima"));

    browser.fill("#reply-body", "It left the warehouse this morning.").await;
    browser.click("#send-open").await;
    // sent → delivered → read, each shown without reload as the simulator's statuses arrive.
    browser.wait_for(".bubble.out .ticks[data-state='read']", WAIT).await;
    assert_eq!(browser.text(".bubble.out .body").await, "It left the warehouse this morning.");
    let received = app.sim().received();
    assert_eq!(received.len(), 1, "the simulator received the reply once");
    browser.screenshot("ticket").await;
    browser.assert_accessible("ticket").await;
    browser.assert_no_errors("ticket").await;

    // A schedule with an imported holiday, so the business-hours page shows all of its forms.
    let spec = r#"{"time_zone": "Europe/Berlin", "weekly": {"mon": ["09:00-17:00"]}, "holidays": [
        {"date": "2026-12-25", "name": "Christmas Day"},
        {"date": "2026-12-26", "name": "Boxing Day", "source": "ical", "calendar": "Holidays in Germany"}]}"#;
    let draft = windowdesk_store::ScheduleDraft {
        name: "Office".into(),
        spec: spec.into(),
        actor: "test".into(),
        now: app.running.state.clock.now(),
    };
    app.store().create_schedule(&draft).await.unwrap();

    // The other pages an agent uses, each accessible.
    for (path, name) in [
        ("/views/closing-soon", "windows closing soon"),
        ("/views/closing-soon?business_left=60", "windows closing soon, little business time left"),
        ("/failed", "failed deliveries"),
        ("/notifications", "mentions"),
        ("/settings", "settings"),
        ("/admin/agents", "agents"),
        ("/admin/numbers", "business numbers"),
        ("/admin/templates", "templates"),
        ("/admin/hours", "business hours"),
    ] {
        browser.goto(&app.url(path)).await;
        browser.wait_for("main h1", WAIT).await;
        if path.starts_with("/admin/") {
            browser.screenshot(&format!("admin-{}", name.replace(' ', "-"))).await;
        }
        browser.assert_accessible(name).await;
    }
    browser.assert_no_errors("other pages").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn the_countdown_reaches_zero_and_flips_the_composer_without_reload() {
    // The desk's clock stands 8 seconds before the window closes; the page counts down from there.
    let sent = now_secs() - 3600;
    let window_end = Timestamp::from_unix_seconds(sent + 24 * 3600);
    let clock = Arc::new(ManualClock::new(window_end.minus(Duration::from_secs(8))));
    let app = TestApp::start_with_sim(Backend::Sqlite, Some(clock.clone()), |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    app.sim().say(Say::text(CUSTOMER, "Hello?").name("Oliver Smith").at(sent)).await.unwrap();
    let id = ticket_id(&app).await;
    browser.goto(&app.url(&format!("/tickets/{id}"))).await;
    browser.wait_for("#composer[data-state='open']", WAIT).await;
    assert!(browser.text("#window-countdown").await.starts_with("closes in"), "{}", browser.text("#window-banner").await);
    browser.fill("#reply-body", "Typing while the window closes").await;

    browser.wait_for("#composer[data-state='closed']", Duration::from_secs(15)).await;
    assert_eq!(browser.text("#window-status").await, "Window closed");
    assert!(browser.find("#composer-closed").await.is_displayed().await.unwrap());
    assert!(!browser.find("#reply-form").await.is_displayed().await.unwrap(), "the free-form reply form is gone");
    let disabled = browser
        .exec("return document.getElementById('reply-body').disabled && document.getElementById('send-open').disabled", vec![])
        .await;
    assert_eq!(disabled, json!(true));
    browser.screenshot("ticket-window-closed").await;
    browser.assert_accessible("ticket with a closed window").await;

    // Even a form forced past the page is refused by the desk, and nothing reaches WhatsApp.
    clock.set(window_end.plus(Duration::from_secs(1)));
    let status = browser
        .exec_async(
            "const done = arguments[arguments.length - 1];
             const form = document.getElementById('reply-form');
             const data = new URLSearchParams(new FormData(form));
             data.set('body', 'forced'); data.set('submit_as', 'open');
             fetch(form.action, { method: 'POST', body: data }).then(r => done(r.status));",
            vec![],
        )
        .await;
    assert_eq!(status, json!(409));
    assert!(app.sim().received().is_empty(), "nothing was sent after the window closed");
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_reply_refused_with_131047_keeps_a_failure_badge_and_is_listed_in_failed_deliveries() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |c| c.window_enforcement = WindowEnforcement::Async).await;
    let Some(browser) = signed_in(&app).await else { return };
    app.sim().say(Say::text(CUSTOMER, "hi").name("Lucas Martin")).await.unwrap();
    let id = ticket_id(&app).await;
    // Meta's clock has moved past the window although the desk's has not: Meta accepts, then fails it.
    app.sim().advance_clock(Duration::from_secs(25 * 3600));
    browser.goto(&app.url(&format!("/tickets/{id}"))).await;
    browser.fill("#reply-body", "Sorry for the wait!").await;
    browser.click("#send-open").await;
    let failure = browser.wait_for(".bubble.out[data-state='failed'] .failure", WAIT).await;
    let text = failure.text().await.unwrap();
    assert!(text.contains("24-hour customer service window is closed"), "{text}");
    assert!(text.contains("Wait for the customer to write again"), "{text}");
    // The count follows over the event stream (the reply went out without a reload).
    browser.wait_for_text("[data-count='failed']", "1", WAIT).await;
    // It lasts: a reload still shows it, and Failed deliveries lists it.
    browser.goto(&app.url(&format!("/tickets/{id}"))).await;
    browser.wait_for(".bubble.out[data-state='failed'] .failure", WAIT).await;
    browser.screenshot("ticket-failed").await;
    browser.goto(&app.url("/failed")).await;
    let row = browser.wait_for_text("#failed-list li.failed-row", "Lucas Martin", WAIT).await;
    assert!(row.text().await.unwrap().contains("error 131047"));
    browser.assert_accessible("failed deliveries").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_voice_note_plays_in_the_page() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    app.sim().say(Say::voice(CUSTOMER).name("Rosa Jansen")).await.unwrap();
    let id = ticket_id(&app).await;
    // The file is downloaded after ingest; the page shows the player once it is there.
    app.eventually("the voice note downloaded", || async {
        let messages = app.store().ticket_messages(id).await.unwrap();
        let m = messages.iter().find(|m| m.kind == "audio")?;
        app.store().message_media(m.id).await.unwrap().filter(|md| md.sha256.is_some())
    })
    .await;
    browser.goto(&app.url(&format!("/tickets/{id}"))).await;
    browser.wait_for(".bubble.in audio.media", WAIT).await;
    let result = browser
        .exec_async(
            "const done = arguments[arguments.length - 1];
             const a = document.querySelector('.bubble.in audio.media');
             const type = fetch(a.currentSrc || a.src).then(r => r.headers.get('content-type'));
             const ready = new Promise(resolve => {
               if (a.readyState >= 3) return resolve('already');
               a.addEventListener('canplay', () => resolve('canplay'), { once: true });
               a.addEventListener('error', () => resolve('error ' + (a.error && a.error.code)), { once: true });
               a.preload = 'auto'; a.load();
             });
             Promise.all([type, ready]).then(([t, r]) => done({ type: t, ready: r, readyState: a.readyState, duration: a.duration }));",
            vec![],
        )
        .await;
    assert_eq!(result["type"], json!("audio/ogg"), "{result}");
    assert!(result["ready"] == json!("canplay") || result["ready"] == json!("already"), "{result}");
    assert!(result["readyState"].as_i64().unwrap() >= 3, "{result}");
    assert!(result["duration"].as_f64().unwrap() > 0.5, "{result}");
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn hostile_names_and_messages_are_shown_as_text_and_run_nothing() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    let name = "<script>window.__pwned = 1</script>";
    let body = "<img src=x onerror=\"window.__pwned = 2\">";
    app.sim().say(Say::text(CUSTOMER, body).name(name)).await.unwrap();
    browser.wait_for_text("#unassigned li.ticket-row .name", "<script>", WAIT).await;
    assert_eq!(browser.text("#unassigned li.ticket-row .name").await, name);
    browser.click("#unassigned li.ticket-row a").await;
    browser.wait_for(".bubble.in", WAIT).await;
    assert_eq!(browser.text(".bubble.in .body").await, body);
    assert_eq!(browser.text("#contact-name").await, name);
    let state = browser
        .exec(
            "return { pwned: window.__pwned === undefined ? null : window.__pwned, imgs: document.querySelectorAll('img[src=x]').length }",
            vec![],
        )
        .await;
    assert_eq!(state, json!({ "pwned": null, "imgs": 0 }));
    browser.assert_no_errors("ticket with hostile content").await;
    browser.close().await;
    app.stop().await;
}

/// Fetches the simulator's templates into the registry now (the desk also does at start, in the
/// background; a test must not depend on when that finishes).
async fn sync_templates(app: &TestApp) {
    let s = &app.running.state;
    windowdesk_server::templates::sync_all(&s.store, &s.cloud_api, &s.numbers, s.template_page_size, s.clock.now(), &|_, _, _| {})
        .await
        .unwrap();
}

/// A named template with a header parameter, two body parameters and a URL button with a suffix.
fn delivery_update() -> TemplateConfig {
    TemplateConfig {
        name: "delivery_update".into(),
        language: "en_US".into(),
        category: "UTILITY".into(),
        status: "APPROVED".into(),
        components: vec![
            json!({"type": "HEADER", "format": "TEXT", "text": "Order {{order_number}}"}),
            json!({"type": "BODY", "text": "Hi {{first_name}}, your order arrives on {{delivery_date}}."}),
            json!({"type": "FOOTER", "text": "Reply to talk to us"}),
            json!({"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://shop.example/track/{{1}}"}]}),
        ],
        id: None,
        waba_id: None,
    }
}

#[tokio::test]
async fn with_the_window_closed_a_template_is_picked_filled_previewed_live_and_sent_to_read() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |c| c.templates.push(delivery_update())).await;
    let Some(browser) = signed_in(&app).await else { return };
    app.sim().say(Say::text(CUSTOMER, "Where is my order?").name("Rosa Jansen").at(now_secs() - 25 * 3600)).await.unwrap();
    let id = ticket_id(&app).await;
    sync_templates(&app).await;
    browser.goto(&app.url(&format!("/tickets/{id}"))).await;
    browser.wait_for("#composer[data-state='closed']", WAIT).await;
    // The ways out, one click each, in the number's ladder order (hold, template, SMS by default).
    let ways = browser.exec("return Array.from(document.querySelectorAll('#ways-out li.way')).map(li => li.dataset.way)", vec![]).await;
    assert_eq!(ways, json!(["hold", "template", "sms"]), "{}", browser.text("#composer-closed").await);
    assert!(browser.text("#sms-note").await.contains("https://wa.me/"), "{}", browser.text("#sms-note").await);

    browser.fill("#held-body", "Typed before choosing a template").await;
    browser.click("#choose-template").await;
    browser.wait_for("#picker[open] #template-q", WAIT).await;
    browser.fill("#template-q", "deliv").await;
    let visible = browser
        .exec("return Array.from(document.querySelectorAll('#template-list li.template-option')).filter(li => !li.hidden).map(li => li.dataset.name)", vec![])
        .await;
    assert_eq!(visible, json!(["delivery_update"]), "the search narrows the list by name");
    browser.exec("const s = document.getElementById('template-cat'); s.value = 'MARKETING'; s.dispatchEvent(new Event('change', { bubbles: true }));", vec![]).await;
    browser.wait_for("#template-none", WAIT).await;
    browser
        .exec(
            "const s = document.getElementById('template-cat'); s.value = ''; s.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![],
        )
        .await;
    browser.screenshot("picker-list").await;
    browser.click("#template-list li.template-option[data-name='delivery_update'] a").await;

    // The form, put in place without a reload (what was typed is still there): the customer's first
    // name is filled in by the desk; the preview names what is missing.
    browser.wait_for("#template-form", WAIT).await;
    let kept = browser.exec("return document.getElementById('held-body').value", vec![]).await;
    assert_eq!(kept, json!("Typed before choosing a template"), "choosing a template does not reload the page");
    assert_eq!(browser.attr("input[name='body.first_name']", "value").await.as_deref(), Some("Rosa"));
    browser.wait_for_text("#template-problem", "header", WAIT).await;
    assert!(browser.text("#template-price").await.contains("Billable"), "{}", browser.text("#template-price").await);
    browser.fill("input[name='header']", "A-1042").await;
    browser.wait_for_text("#preview-message", "Order A-1042", WAIT).await;
    browser.wait_for_text("#template-problem", "delivery_date", WAIT).await;
    browser.fill("input[name='body.delivery_date']", "Friday").await;
    browser.wait_for_text("#preview-body", "Hi Rosa, your order arrives on Friday.", WAIT).await;
    browser.wait_for_text("#template-problem", "buttons.0", WAIT).await;
    browser.fill("input[name='button.0']", "A-1042").await;
    browser.wait_for("#template-ready", WAIT).await;
    assert!(app.sim().received().is_empty(), "previews send nothing");
    browser.exec("document.getElementById('template-preview').scrollIntoView({ block: 'center' });", vec![]).await;
    let invalid = browser.exec("return document.querySelectorAll('#template-form [aria-invalid]').length", vec![]).await;
    assert_eq!(invalid, json!(0), "no field is marked invalid once the problems are fixed");
    browser.screenshot("picker").await;
    browser.assert_accessible("template picker").await;

    browser.click("#send-template").await;
    browser.wait_for("#notice", WAIT).await;
    // sent → delivered → read, live, as the simulator's statuses arrive.
    let read = browser.wait_for(".bubble.out[data-kind='template'] .ticks[data-state='read']", WAIT).await;
    assert!(read.is_displayed().await.unwrap());
    assert!(browser.text(".bubble.out[data-kind='template'] .body").await.contains("Hi Rosa, your order arrives on Friday."));
    let received = app.sim().received();
    assert_eq!(received.len(), 1, "the simulator received the template once");
    assert_eq!(received[0].kind, "template");
    assert_eq!(
        received[0].request["template"],
        json!({
            "name": "delivery_update",
            "language": {"policy": "deterministic", "code": "en_US"},
            "components": [
                {"type": "header", "parameters": [{"type": "text", "parameter_name": "order_number", "text": "A-1042"}]},
                {"type": "body", "parameters": [
                    {"type": "text", "parameter_name": "first_name", "text": "Rosa"},
                    {"type": "text", "parameter_name": "delivery_date", "text": "Friday"}
                ]},
                {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "A-1042"}]}
            ]
        }),
        "exactly Meta's template components"
    );
    browser.screenshot("template-sent").await;
    browser.assert_no_errors("template picker").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_held_reply_shows_its_badge_and_goes_out_live_when_the_customer_writes_again() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    app.sim().say(Say::text(CUSTOMER, "Is anyone there?").name("Oliver Smith").at(now_secs() - 25 * 3600)).await.unwrap();
    let id = ticket_id(&app).await;
    browser.goto(&app.url(&format!("/tickets/{id}"))).await;
    browser.wait_for("#composer[data-state='closed']", WAIT).await;
    let reply = "Yes! Your refund was approved this morning.";
    browser.fill("#held-body", reply).await;
    browser.click("#hold-reply").await;
    let badge = browser.wait_for(".bubble.out[data-state='held'] .held-badge", WAIT).await;
    let text = badge.text().await.unwrap();
    assert!(text.contains("Held: will be delivered when the customer writes again"), "{text}");
    assert!(text.contains("expires"), "{text}");
    assert_eq!(browser.text(".bubble.out[data-state='held'] .body").await, reply);
    assert!(app.sim().received().is_empty(), "nothing went to WhatsApp yet");
    browser.screenshot("held").await;
    browser.assert_accessible("ticket with a held reply").await;

    // The customer writes again (as the simulator's phone would): the window reopens and the held
    // reply goes out after their message, its badge turning into ticks, without a reload.
    browser.exec("window.__sameDocument = true;", vec![]).await;
    app.sim().say(Say::text(CUSTOMER, "Hello again")).await.unwrap();
    browser.wait_for(".bubble.out .ticks[data-state='read']", Duration::from_secs(15)).await;
    assert!(browser.try_find(".held-badge").await.is_none(), "the held badge is gone");
    browser.wait_for("#composer[data-state='open']", WAIT).await;
    let same = browser.exec("return window.__sameDocument === true", vec![]).await;
    assert_eq!(same, json!(true), "no reload");
    let received = app.sim().received();
    assert_eq!(received.len(), 1, "delivered exactly once");
    assert_eq!(received[0].text.as_deref(), Some(reply));
    let again = app.sim().inbound().into_iter().find(|m| m.text.as_deref() == Some("Hello again")).expect("the customer's message");
    assert!(received[0].seq > again.seq, "delivered after the customer's message");
    browser.screenshot("held-delivered").await;
    browser.assert_no_errors("held reply").await;
    browser.close().await;
    app.stop().await;
}

/// The element that has the focus, by id (or its tag name when it has none).
async fn focused(browser: &Browser) -> String {
    let v = browser.exec("const e = document.activeElement; return e ? (e.id || e.tagName.toLowerCase()) : null;", vec![]).await;
    v.as_str().unwrap_or_default().to_owned()
}

/// The names of the macros the picker shows.
async fn shown_macros(browser: &Browser) -> serde_json::Value {
    browser
        .exec("return Array.from(document.querySelectorAll('#macro-list li.macro-option')).filter(li => !li.hidden).map(li => li.querySelector('.mname').textContent)", vec![])
        .await
}

#[tokio::test]
async fn a_macro_is_chosen_from_the_picker_with_the_keyboard_reviewed_in_the_composer_and_sent() {
    let app = TestApp::start_with_sim(Backend::Sqlite, None, |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    let api = Api::new(&app).await;
    for body in [
        json!({"name": "Ask for the order number", "actions": [{"type": "reply", "text": "Could you send me your order number, {{firstName || there}}?"}, {"type": "set_status", "status": "pending"}]}),
        json!({"name": "Refund sent", "actions": [
            {"type": "reply", "text": "Hi {{firstName || there}}, the refund for ticket {{ticket.id}} is on its way."},
            {"type": "set_status", "status": "solved"},
            {"type": "add_tags", "tags": ["refund"]},
            {"type": "internal_note", "text": "Refund confirmed by {{agent.name}}"}]}),
        json!({"name": "Shipping delay", "actions": [{"type": "reply", "text": "Sorry, the carrier is running late."}, {"type": "add_tags", "tags": ["delay"]}]}),
    ] {
        let (status, created) = api.post("/api/v1/macros", body).await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{created}");
    }
    app.sim().say(Say::text(CUSTOMER, "Where is my refund?").name("Rosa Jansen")).await.unwrap();
    let id = ticket_id(&app).await;
    browser.goto(&app.url(&format!("/tickets/{id}"))).await;
    browser.wait_for("#composer[data-state='open']", WAIT).await;
    let summary = browser.text("#macros-summary").await;
    assert!(summary.contains("press M") && summary.contains("Ctrl+Alt+M"), "the shortcut is shown: {summary}");

    // M (the focus is not in a text field) opens the picker on its search; typing filters.
    browser.press(&['m']).await;
    browser.wait_for("#macros[open] #macro-q", WAIT).await;
    assert_eq!(focused(&browser).await, "macro-q");
    assert_eq!(shown_macros(&browser).await, json!(["Ask for the order number", "Refund sent", "Shipping delay"]));
    browser.type_keys("refu").await;
    assert_eq!(shown_macros(&browser).await, json!(["Refund sent"]), "filtered as the agent types");
    browser.screenshot("macro-picker").await;
    browser.assert_accessible("macro picker").await;

    // ↓ moves to the match, Enter chooses it: the composer is filled with the reply rendered for this
    // ticket, focused for review, and the panel lists what else sending does.
    browser.press(&[Key::Down.into()]).await;
    let on = browser
        .exec("return document.activeElement.closest('li') && document.activeElement.querySelector('.mname').textContent", vec![])
        .await;
    assert_eq!(on, json!("Refund sent"));
    browser.press(&[Key::Enter.into()]).await;
    browser.wait_for("#macro-chosen", WAIT).await;
    let text = format!("Hi Rosa, the refund for ticket {id} is on its way.");
    let value = browser.exec("return document.getElementById('reply-body').value", vec![]).await;
    assert_eq!(value, json!(text), "the composer holds the rendered reply");
    assert_eq!(focused(&browser).await, "reply-body");
    assert_eq!(browser.exec("return document.getElementById('macros').open", vec![]).await, json!(false), "the picker closed");
    let panel = browser.text("#macro-chosen").await;
    assert!(panel.contains("Status → solved") && panel.contains("refund") && panel.contains("Refund confirmed by Ana Lima"), "{panel}");
    browser.screenshot("macro-chosen").await;
    browser.assert_accessible("macro chosen").await;

    // While typing, Ctrl+Alt+M opens the picker; Esc closes it and gives the focus back.
    browser.press(&[Key::Control.into(), Key::Alt.into(), 'm']).await;
    browser.wait_for("#macros[open] #macro-q", WAIT).await;
    browser.press(&[Key::Escape.into()]).await;
    app.eventually("the picker closed by Esc", || async {
        (browser.exec("return document.getElementById('macros').open", vec![]).await == json!(false)).then_some(())
    })
    .await;
    assert_eq!(focused(&browser).await, "reply-body");

    // The agent adds a line and sends: the reviewed reply reaches the customer, the macro's status,
    // tag and note apply.
    browser.type_keys(" See you soon!").await;
    browser.click("#send-open").await;
    let sent = format!("{text} See you soon!");
    browser.wait_for_text("#notice", "Macro applied", WAIT).await;
    browser.wait_for_text(".bubble.out .body", &sent, WAIT).await;
    browser.wait_for_text(".bubble.note .body", "Refund confirmed by Ana Lima", WAIT).await;
    assert_eq!(browser.text("#ticket-status").await, "solved");
    app.eventually("the reply at the simulator", || async {
        app.sim().received().iter().any(|m| m.text.as_deref() == Some(sent.as_str())).then_some(())
    })
    .await;
    assert_eq!(app.sim().received().len(), 1, "sent once");
    let tags = browser.exec("return document.getElementById('tags').value", vec![]).await;
    assert_eq!(tags, json!("refund"));
    browser.screenshot("macro-sent").await;
    browser.assert_no_errors("macro picker").await;
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_window_that_closes_outside_business_hours_says_when_the_team_is_back() {
    // Friday 2026-12-04 19:00 in Berlin (18:00 UTC); the team works Monday to Friday, 09:00-17:00.
    let friday_evening = 1_796_407_200;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(friday_evening + 60)));
    let app = TestApp::start_with_sim(Backend::Sqlite, Some(clock), |_| {}).await;
    let Some(browser) = signed_in(&app).await else { return };
    let api = Api::new(&app).await;
    let weekdays = json!(["09:00-17:00"]);
    let (status, schedule) = api
        .post(
            "/api/v1/schedules",
            json!({"name": "Office", "time_zone": "Europe/Berlin",
                   "weekly": {"mon": weekdays, "tue": weekdays, "wed": weekdays, "thu": weekdays, "fri": weekdays}}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{schedule}");
    let (_, numbers) = api.get("/api/v1/numbers").await;
    let number = numbers["data"][0]["id"].as_i64().unwrap();
    let (status, body) = api.put(&format!("/api/v1/numbers/{number}/schedule"), json!({"schedule_id": schedule["id"]})).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");

    app.sim().say(Say::text(CUSTOMER, "Is anyone there?").name("Rosa Jansen").at(friday_evening)).await.unwrap();
    let id = ticket_id(&app).await;
    browser.goto(&app.url(&format!("/tickets/{id}"))).await;
    let line = browser.wait_for("#window-hours[data-outside='true']", WAIT).await.text().await.unwrap();
    // Relative to now in the number's zone (it is Friday evening there); the full date is the title.
    assert_eq!(line, "Closes tomorrow 19:00, outside business hours; nobody is at work before then; team back Monday 09:00 (Berlin time).");
    let title = browser.exec("return document.querySelector('#window-hours time').title", vec![]).await;
    assert_eq!(title, json!("Sat 5 Dec 2026, 19:00 CET"));
    assert!(browser.text("#window-countdown").await.starts_with("closes in 23 h"), "{}", browser.text("#window-banner").await);
    browser.screenshot("banner-outside-business-hours").await;
    browser.assert_accessible("ticket outside business hours").await;
    browser.assert_no_errors("banner outside business hours").await;
    browser.close().await;
    app.stop().await;
}
