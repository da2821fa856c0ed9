//! What the agent sees (issue 11), over real HTTP on both backends with the simulator as Meta and as
//! the SMS provider: the thread in the order the customer got it, delivery labels that say what
//! happened on which channel and when, the screen-reader live region, the event log in words, and
//! inbox rows with the latest message, its author, the customer's wait and the window's urgency.

use std::sync::Arc;

use windowdesk_core::{ManualClock, Timestamp};
use windowdesk_server::api::admin::create_agent;
use windowdesk_store::AgentRole;

use super::*;

on_both_backends!(
    released_held_replies_show_after_the_customer_message_that_released_them,
    delivery_labels_say_what_happened_on_which_channel_and_when,
    the_live_region_is_visually_hidden_but_read_by_screen_readers,
    the_event_log_is_written_for_agents_with_raw_detail_for_admins_only,
    inbox_rows_show_the_latest_message_who_wrote_it_and_how_long_the_customer_waits,
    with_assign_on_reply_off_a_reply_leaves_the_ticket_unassigned,
    window_pills_are_coloured_by_urgency_and_the_open_status_is_not_red,
);

/// The thread's bubbles in page order: (message id, direction).
fn thread_order(page: &str) -> Vec<(i64, String)> {
    start_tags(section_of(page, "thread"))
        .into_iter()
        .filter(|t| t.name == "li" && t.has_class("bubble"))
        .map(|t| (t.attr("data-message-id").unwrap().parse().unwrap(), t.attr("data-direction").unwrap().to_owned()))
        .collect()
}

/// The markup of the element with `id` up to the end of the list it starts (`</ol>`).
fn section_of<'a>(page: &'a str, id: &str) -> &'a str {
    let tag = by_id(page, id).unwrap_or_else(|| panic!("no element with id {id:?}"));
    let rest = &page[tag.at..];
    &rest[..rest.find("</ol>").unwrap_or(rest.len())]
}

/// The markup of the bubble of message `id`.
fn bubble(page: &str, id: i64) -> &str {
    let tag = by_id(page, &format!("m{id}")).unwrap_or_else(|| panic!("no bubble m{id}"));
    let rest = &page[tag.at..];
    &rest[..rest.find("</li>").unwrap_or(rest.len())]
}

/// Text without its tags, entities undone, whitespace collapsed: what a reader sees.
fn words(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    unescape(&out).split_whitespace().collect::<Vec<_>>().join(" ").replace(" :", ":").replace(" ,", ",").replace(" .", ".")
}

async fn released_held_replies_show_after_the_customer_message_that_released_them(backend: Backend) {
    // The desk's clock: the reply is held at `start`, the customer writes two hours later.
    let start = Timestamp::from_unix_seconds(now_secs());
    let clock = Arc::new(ManualClock::new(start));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    add_agent(&app, "Ana Lima", ANA).await;
    app.sim().say(Say::text(CUSTOMER, "Where is my refund?").name("Rosa").at(now_secs() - 25 * 3600)).await.unwrap();
    let ticket = app.eventually("the ticket", || ticket_of(&app, CUSTOMER)).await;
    let web = Web::sign_in(&app, ANA).await;
    let page = web.post(&format!("/tickets/{ticket}/hold"), &[("body", "Your refund is approved.")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let held = app
        .eventually("the held reply", || async {
            app.store().ticket_messages(ticket).await.unwrap().into_iter().find(|m| m.direction == Direction::Outbound)
        })
        .await;

    let later = start.plus(Duration::from_secs(2 * 3600));
    clock.set(later);
    app.sim().say(Say::text(CUSTOMER, "Hello again").at(later.unix_millis() / 1000)).await.unwrap();
    app.wait_for_state(ticket, held.id, DeliveryState::Read).await;
    let again = app
        .store()
        .ticket_messages(ticket)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.body.as_deref() == Some("Hello again"))
        .expect("the customer's second message");

    let page = web.page(&format!("/tickets/{ticket}")).await;
    let order = thread_order(&page);
    let at = |id: i64| order.iter().position(|(m, _)| *m == id).unwrap_or_else(|| panic!("message {id} not in {order:?}"));
    assert!(at(again.id) < at(held.id), "the reply shows where the customer got it, after their message: {order:?}");
    let text = words(bubble(&page, held.id));
    let tz = chrono_tz::UTC;
    let written = windowdesk_server::web::format::short_time(start, later, tz);
    let sent = windowdesk_server::web::format::short_time(later, later, tz);
    assert!(text.contains(&format!("written {written}")) && text.contains(&format!("sent {sent}")), "both moments stay visible: {text}");
    app.stop().await;
}

/// The outbound message of `ticket` with this body, once it is in `state`.
async fn reply_in(app: &TestApp, ticket: i64, body: &str, state: DeliveryState) -> MessageRow {
    app.eventually(&format!("{body:?} to be {state:?}"), || async {
        app.store().ticket_messages(ticket).await.unwrap().into_iter().find(|m| {
            m.direction == Direction::Outbound && m.body.as_deref().is_some_and(|b| b.starts_with(body)) && m.delivery_state == Some(state)
        })
    })
    .await
}

/// `at` as the page shows it to an agent in UTC.
fn shown(at: Timestamp) -> String {
    windowdesk_server::web::format::short_time(at, at, chrono_tz::UTC)
}

async fn delivery_labels_say_what_happened_on_which_channel_and_when(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    add_agent(&app, "Ana Lima", ANA).await;
    app.sim().say(Say::text(CUSTOMER, "hi").name("Rosa")).await.unwrap();
    let ticket = app.eventually("the ticket", || ticket_of(&app, CUSTOMER)).await;
    let web = Web::sign_in(&app, ANA).await;

    // An SMS says it is an SMS, who accepted it, and when.
    let page = web.post(&format!("/tickets/{ticket}/sms"), &[("body", "Please call us back.")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let sms = reply_in(&app, ticket, "Please call us back.", DeliveryState::Accepted).await;
    let page = web.page(&format!("/tickets/{ticket}")).await;
    let text = words(bubble(&page, sms.id));
    let accepted = shown(sms.delivery_updated_at.unwrap());
    assert!(text.contains(&format!("{accepted} ✓ SMS accepted by the provider")), "the channel, who accepted it, when: {text}");
    assert!(!text.contains("Accepted by WhatsApp"), "an SMS was not accepted by WhatsApp: {text}");

    // A reply that failed and was resent as it was keeps the failure in its story.
    app.sim().set_fault(FaultPlan { count: Some(1), fault: Fault::Error { code: 131_026, http_status: 400 } });
    let page = web.post(&format!("/tickets/{ticket}/reply"), &[("body", "Your parcel left today."), ("submit_as", "open")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let failed = reply_in(&app, ticket, "Your parcel left today.", DeliveryState::Failed).await;
    let failed_at = shown(failed.delivery_updated_at.unwrap());
    let page = web.post(&format!("/deliveries/{}/resend", failed.id), &[("as", "as_is"), ("back", "ticket")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let read = app.wait_for_state(ticket, failed.id, DeliveryState::Read).await;
    let page = web.page(&format!("/tickets/{ticket}")).await;
    let text = words(bubble(&page, failed.id));
    assert!(text.contains(&format!("Failed {failed_at} (error 131026) — resent")), "the failure is not forgotten: {text}");
    assert!(text.contains("by Ana Lima"), "{text}");
    assert!(text.contains("Read on WhatsApp"), "{text}");
    assert!(text.contains(&shown(read.delivery_updated_at.unwrap())), "{text}");

    // A reply replaced by an SMS: the original says so and links to it; the SMS says what it replaced.
    app.sim().set_fault(FaultPlan { count: Some(1), fault: Fault::Error { code: 131_026, http_status: 400 } });
    let page = web.post(&format!("/tickets/{ticket}/reply"), &[("body", "Second try."), ("submit_as", "open")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let second = reply_in(&app, ticket, "Second try.", DeliveryState::Failed).await;
    let page = web.post(&format!("/deliveries/{}/resend", second.id), &[("as", "sms"), ("back", "ticket")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let instead = app
        .eventually("the SMS sent instead", || async { app.store().outbound_message(second.id).await.unwrap().and_then(|o| o.replaced_by) })
        .await;
    let page = web.page(&format!("/tickets/{ticket}")).await;
    let original = bubble(&page, second.id);
    let text = words(original);
    assert!(text.contains(&format!("Failed {} (error 131026) — resent via SMS", shown(second.delivery_updated_at.unwrap()))), "{text}");
    assert!(original.contains(&format!(r##"href="#m{instead}""##)), "links to the SMS: {original}");
    let replacement = bubble(&page, instead);
    assert!(words(replacement).contains("Sent via SMS instead of a reply that was not delivered."), "{replacement}");
    assert!(replacement.contains(&format!(r##"href="#m{}""##, second.id)), "{replacement}");
    app.stop().await;
}

async fn the_live_region_is_visually_hidden_but_read_by_screen_readers(backend: Backend) {
    let app = desk(backend).await;
    let web = Web::sign_in(&app, ANA).await;
    let page = web.page("/").await;
    let region = by_id(&page, "live-status").expect("the live region");
    assert_eq!((region.attr("role"), region.attr("aria-live")), (Some("status"), Some("polite")));
    assert!(region.has_class("sr"), "visually hidden: {region:?}");
    assert!(!region.has_attr("hidden") && !region.has_attr("aria-hidden"), "and still in the accessibility tree: {region:?}");
    let css = web.page("/assets/app.css").await;
    let rule = css.lines().find(|l| l.starts_with(".sr {")).expect("the .sr rule");
    for part in ["position: absolute", "width: 1px", "height: 1px", "overflow: hidden", "clip: rect(0 0 0 0)"] {
        assert!(rule.contains(part), "{part} in {rule}");
    }
    assert!(!rule.contains("display: none") && !rule.contains("visibility: hidden"), "screen readers skip those: {rule}");
    app.stop().await;
}

/// A 13-digit number: epoch milliseconds.
fn has_epoch_millis(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit()).any(|run| run.len() >= 13)
}

async fn the_event_log_is_written_for_agents_with_raw_detail_for_admins_only(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    add_agent(&app, "Ana Lima", ANA).await;
    create_agent(app.store().as_ref(), "Ada Admin", "ada@example.com", AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    app.sim().say(Say::text(CUSTOMER, "Where is my parcel?").name("Rosa")).await.unwrap();
    let ticket = app.eventually("the ticket", || ticket_of(&app, CUSTOMER)).await;
    let web = Web::sign_in(&app, ANA).await;
    let page = web.post("/settings", &[("time_zone", "Asia/Tokyo")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let page = web.post(&format!("/tickets/{ticket}/reply"), &[("body", "It left today."), ("submit_as", "pending")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let reply = reply_in(&app, ticket, "It left today.", DeliveryState::Read).await;
    let events = app.store().ticket_events(ticket).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "delivery_status"), "Meta's statuses are logged: {events:?}");

    let page = web.page(&format!("/tickets/{ticket}")).await;
    let log = section_of(&page, "events");
    let text = words(log);
    assert!(!text.contains('{') && !text.contains("wamid") && !has_epoch_millis(&text), "no JSON, ids or epoch times: {text}");
    assert!(text.contains("Windowdesk sent “It left today.” to WhatsApp, which accepted it"), "{text}");
    assert!(text.contains("WhatsApp reports the customer read “It left today.”"), "{text}");
    assert!(text.contains("Rosa opened the ticket"), "the customer by name: {text}");
    assert!(text.contains("Ana Lima changed the status from new to open (first reply)"), "{text}");
    assert!(log.contains(&format!(r##"href="#m{}""##, reply.id)), "links to the message: {log}");
    assert!(!log.contains(r#"class="raw""#), "the raw detail is for admins: {log}");
    // Times are the agent's (Tokyo), with the zone in the tooltip.
    let read = events.iter().rev().find(|e| e.kind == "delivery_status").unwrap();
    let tokyo: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
    let title = windowdesk_server::web::format::full_time(read.at, tokyo);
    assert!(title.contains("JST") && log.contains(&format!(r#"title="{title}""#)), "{title} in {log}");

    let admin = Web::sign_in(&app, "ada@example.com").await;
    let page = admin.page(&format!("/tickets/{ticket}")).await;
    let log = section_of(&page, "events");
    assert!(log.contains(r#"<details class="raw">"#), "admins can open the stored detail: {log}");
    assert!(log.contains(reply.wamid.as_deref().unwrap()), "with Meta's ids: {log}");
    app.stop().await;
}

/// The markup of the inbox row of `ticket`.
fn row_of(page: &str, ticket: i64) -> &str {
    let tag = start_tags(page)
        .into_iter()
        .find(|t| t.has_class("ticket-row") && t.attr("data-ticket-id") == Some(ticket.to_string().as_str()))
        .unwrap_or_else(|| panic!("no row for ticket {ticket}"));
    let rest = &page[tag.at..];
    &rest[..rest.find("</li>").unwrap_or(rest.len())]
}

async fn inbox_rows_show_the_latest_message_who_wrote_it_and_how_long_the_customer_waits(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    add_agent(&app, "Ana Lima", ANA).await;
    let now = now_secs();
    // Rosa wrote twice and nobody answered: she has been waiting since her last message.
    app.sim().say(Say::text(CUSTOMER, "First: where is my parcel?").name("Rosa").at(now - 7200)).await.unwrap();
    let rosa = app.eventually("Rosa's ticket", || ticket_of(&app, CUSTOMER)).await;
    app.sim().say(Say::text(CUSTOMER, "Second: hello?").at(now - 1800)).await.unwrap();
    // Lucas wrote and Ana answered: the ticket is hers now (assign_on_reply), he is not waiting, and
    // the row (under Assigned to you: the reply keeps it open) shows her answer.
    let lucas_number = "15550004444";
    app.sim().say(Say::text(lucas_number, "Do you ship to Spain?").name("Lucas").at(now - 3600)).await.unwrap();
    let lucas = app.eventually("Lucas's ticket", || ticket_of(&app, lucas_number)).await;
    app.eventually("Rosa's second message", || async { (app.store().ticket_messages(rosa).await.unwrap().len() == 2).then_some(()) }).await;
    let web = Web::sign_in(&app, ANA).await;
    let page = web.post(&format!("/tickets/{lucas}/reply"), &[("body", "Yes, in three days."), ("submit_as", "open")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    reply_in(&app, lucas, "Yes, in three days.", DeliveryState::Read).await;
    let ana = app.store().agents().await.unwrap().into_iter().find(|a| a.email == ANA).unwrap().id;
    assert_eq!(app.store().ticket_summary(lucas).await.unwrap().unwrap().ticket.assignee_id, Some(ana), "replying took the ticket");

    let page = web.page("/").await;
    let row = row_of(&page, rosa);
    let text = words(row);
    assert!(text.contains("Rosa: Second: hello?"), "the latest message and its writer: {text}");
    assert!(!text.contains("First: where is my parcel?"), "not the first message: {text}");
    let tag = start_tags(row).into_iter().next().unwrap();
    assert_eq!(tag.attr("data-waiting-since"), Some(((now - 1800) * 1000).to_string().as_str()), "{row}");
    assert!(text.contains("waiting 30 min") || text.contains("waiting 31 min"), "{text}");

    let row = row_of(&page, lucas);
    let text = words(row);
    assert!(text.contains("Ana Lima: Yes, in three days."), "{text}");
    assert!(!text.contains("waiting"), "answered, so not waiting: {text}");
    assert!(!start_tags(row).into_iter().next().unwrap().has_attr("data-waiting-since"), "{row}");
    app.stop().await;
}

/// `[web] assign_on_reply = false`: answering leaves assignment to the agents.
async fn with_assign_on_reply_off_a_reply_leaves_the_ticket_unassigned(backend: Backend) {
    let app = TestApp::start_with_sim_and_config(backend, None, |_| {}, |c| c.web.assign_on_reply = false).await;
    add_agent(&app, "Ana Lima", ANA).await;
    app.sim().say(Say::text(CUSTOMER, "Do you ship to Spain?").name("Rosa")).await.unwrap();
    let ticket = app.eventually("the ticket", || ticket_of(&app, CUSTOMER)).await;
    let web = Web::sign_in(&app, ANA).await;
    let page = web.post(&format!("/tickets/{ticket}/reply"), &[("body", "Yes."), ("submit_as", "open")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    reply_in(&app, ticket, "Yes.", DeliveryState::Read).await;
    assert_eq!(app.store().ticket_summary(ticket).await.unwrap().unwrap().ticket.assignee_id, None);
    app.stop().await;
}

async fn window_pills_are_coloured_by_urgency_and_the_open_status_is_not_red(backend: Backend) {
    let app = desk(backend).await;
    let now = now_secs();
    let urgent = customer_says(&app, "wamid.u1", "15550000001", now - 23 * 3600 - 40 * 60, "23 min left").await;
    let warning = customer_says(&app, "wamid.u2", "15550000002", now - 21 * 3600, "3 h left").await;
    let calm = customer_says(&app, "wamid.u3", "15550000003", now - 3600, "23 h left").await;
    let closed = customer_says(&app, "wamid.u4", "15550000004", now - 25 * 3600, "closed").await;
    let web = Web::sign_in(&app, ANA).await;
    let page = web.page("/").await;
    for (ticket, level, words_) in
        [(urgent, "urgent", "min left"), (warning, "warning", "h"), (calm, "calm", "h"), (closed, "closed", "window closed")]
    {
        let row = row_of(&page, ticket);
        let pill = start_tags(row).into_iter().find(|t| t.has_class("window")).unwrap_or_else(|| panic!("no window pill: {row}"));
        assert_eq!(pill.attr("data-urgency"), Some(level), "{row}");
        assert!(pill.has_class(level), "{row}");
        assert!(words(row).contains(words_), "{row}");
    }
    // The colours: urgency for windows, never red for a normal open ticket or a closed window.
    let css = web.page("/assets/app.css").await;
    let rule = |selector: &str| css.lines().find(|l| l.starts_with(selector)).unwrap_or_else(|| panic!("no rule {selector}")).to_owned();
    assert!(!rule(".status.open ").contains("--bad"), "{}", rule(".status.open "));
    assert!(rule(".window.urgent ").contains("--bad"), "{}", rule(".window.urgent "));
    assert!(rule(".window.warning ").contains("--warn"), "{}", rule(".window.warning "));
    assert!(rule(".window.calm ").contains("--ok"), "{}", rule(".window.calm "));
    assert!(!rule(".window.closed").contains("--bad"), "{}", rule(".window.closed"));
    app.stop().await;
}
