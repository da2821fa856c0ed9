//! The ways out of a closed window and failed deliveries on the web pages (issue 5, SPEC 9 and D4),
//! over real HTTP on both backends, with the simulator as Meta and as the SMS provider: the closed
//! composer's ways out in ladder order, a held reply, the template picker's preview and its refusal
//! naming the parameter, dismiss and resend-as-SMS from the Failed deliveries list, and the admin
//! pages (admins only, errors naming the field, Sync now). Forged posts change nothing.

use windowdesk_server::api::admin::create_agent;
use windowdesk_store::AgentRole;

use super::*;

on_both_backends!(
    admin_pages_need_an_admin_and_settings_errors_name_the_field,
    the_templates_page_lists_the_registry_and_sync_now_reports_what_changed,
    the_closed_composer_holds_a_reply_previews_a_template_and_names_a_missing_parameter,
    dismiss_takes_a_failure_off_the_failed_list_and_forged_posts_change_nothing,
    a_failure_resent_via_sms_from_the_failed_list_shows_replaced_by_on_its_ticket,
    a_failure_resent_as_is_goes_out_again_while_the_window_is_open,
    a_hold_notice_chosen_on_the_numbers_page_goes_out_with_the_next_held_reply,
);

const ADA: &str = "ada.admin@example.com";

async fn admin(app: &TestApp) -> Web {
    create_agent(app.store().as_ref(), "Ada Admin", ADA, AgentRole::Admin, Some(PASSWORD)).await.unwrap();
    Web::sign_in(app, ADA).await
}

/// A desk with the simulator; Rosa wrote 25 hours ago, so her window is closed.
async fn closed_window_desk(backend: Backend) -> (TestApp, i64) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    add_agent(&app, "Ana Lima", ANA).await;
    app.sim().say(Say::text(CUSTOMER, "Where is my refund?").name("Rosa Jansen").at(now_secs() - 25 * 3600)).await.unwrap();
    let ticket = app.eventually("the ticket", || ticket_of(&app, CUSTOMER)).await;
    app.sync_templates().await;
    (app, ticket)
}

/// A desk with the simulator where Ana's reply to Rosa failed permanently (131026).
async fn failed_reply_desk(backend: Backend) -> (TestApp, Web, i64, i64) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    add_agent(&app, "Ana Lima", ANA).await;
    app.sim().say(Say::text(CUSTOMER, "hi").name("Rosa")).await.unwrap();
    let ticket = app.eventually("the ticket", || ticket_of(&app, CUSTOMER)).await;
    let web = Web::sign_in(&app, ANA).await;
    app.sim().set_fault(FaultPlan { count: Some(1), fault: Fault::Error { code: 131_026, http_status: 400 } });
    let page = web.post(&format!("/tickets/{ticket}/reply"), &[("body", "undeliverable"), ("submit_as", "open")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let failed = app
        .eventually("the reply to fail", || async {
            app.store()
                .ticket_messages(ticket)
                .await
                .unwrap()
                .into_iter()
                .find(|m| m.direction == Direction::Outbound && m.delivery_state == Some(DeliveryState::Failed))
        })
        .await;
    (app, web, ticket, failed.id)
}

/// The markup of the bubble of message `id`.
fn bubble_of(page: &str, id: i64) -> &str {
    let tag = by_id(page, &format!("m{id}")).unwrap_or_else(|| panic!("no bubble m{id}"));
    let rest = &page[tag.at..];
    &rest[..rest.find("</li>").unwrap_or(rest.len())]
}

/// The text of the element with this id, up to `close` (its end tag), tags stripped.
fn text_of(page: &str, id: &str, close: &str) -> String {
    let tag = by_id(page, id).unwrap_or_else(|| panic!("no element with id {id:?}"));
    let rest = &page[tag.at..];
    let inner = &rest[..rest.find(close).unwrap_or(rest.len())];
    let mut text = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    unescape(&text)
}

fn failed_rows(html: &str) -> Vec<i64> {
    start_tags(html)
        .into_iter()
        .filter(|t| t.has_class("failed-row"))
        .map(|t| t.attr("data-message-id").unwrap().parse().unwrap())
        .collect()
}

async fn admin_pages_need_an_admin_and_settings_errors_name_the_field(backend: Backend) {
    let app = desk(backend).await;
    let agent = Web::sign_in(&app, ANA).await;
    let admin = admin(&app).await;
    let bn = app.bn;
    let save = format!("/admin/numbers/{bn}");
    let settings = || async { app.store().number_settings(bn).await.unwrap() };
    let before = settings().await;

    // Agents are refused, reading and writing.
    for path in ["/admin/numbers", "/admin/templates"] {
        let page = agent.get(path).await;
        assert_eq!(page.status, 403, "{path}: {}", page.body);
    }
    let page = agent.post(&save, &[("ladder", "sms"), ("hold_hours", "5"), ("sms_from", "")]).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert_eq!(agent.post("/admin/templates/sync", &[]).await.status, 403);
    assert_eq!(settings().await, before, "nothing changed");
    let inbox = agent.page("/").await;
    assert!(!inbox.contains(r#"href="/admin/numbers""#), "agents are not shown the admin links");

    // An admin sees every number with its settings, linked from the header.
    let page = admin.page("/admin/numbers").await;
    assert!(page.contains(r#"href="/admin/numbers""#) && page.contains(r#"href="/admin/templates""#));
    assert!(by_id(&page, &format!("number-{bn}")).is_some(), "{page}");
    let ladder: Vec<_> = start_tags(&page)
        .into_iter()
        .filter(|t| t.name == "select" && t.attr("id").is_some_and(|id| id.starts_with(&format!("n{bn}-ladder-"))))
        .collect();
    assert_eq!(ladder.len(), 3, "one choice per step of the ladder");

    // Each refusal names the field, keeps what was typed, and stores nothing.
    for (fields, field, words) in [
        (vec![("ladder", "hold"), ("hold_hours", "0"), ("sms_from", "")], "hold_hours", "between 1 and 720"),
        (vec![("ladder", "hold"), ("hold_hours", "many"), ("sms_from", "")], "hold_hours", "whole number"),
        (vec![("ladder", "hold"), ("ladder", "hold"), ("hold_hours", "24"), ("sms_from", "")], "fallback_ladder", "appears twice"),
        (vec![("ladder", "sms"), ("hold_hours", "24"), ("sms_from", "555-0100")], "sms_from", "E.164"),
        (
            vec![("ladder", "hold"), ("hold_hours", "24"), ("hold_notice", "no_such_template|en_US")],
            "hold_notice_template",
            "not in this number's registry",
        ),
    ] {
        let page = admin.post(&save, &fields).await;
        assert_eq!(page.status, 422, "{field}: {}", page.body);
        let error = by_id(&page.body, "settings-error").unwrap_or_else(|| panic!("an error on the form: {}", page.body));
        assert_eq!(error.attr("data-field"), Some(field));
        assert!(page.body.contains(words), "{field}: {words:?} in {}", page.body);
        assert_eq!(settings().await, before, "{field}: nothing stored");
    }
    let page = admin.post(&save, &[("ladder", "sms"), ("hold_hours", "many"), ("sms_from", "+15550001111")]).await;
    assert!(page.body.contains(r#"value="many""#) && page.body.contains(r#"value="+15550001111""#), "what was typed is kept");

    // Forged: another site, or no token.
    let good = [("ladder", "sms"), ("ladder", "hold"), ("hold_hours", "48"), ("sms_from", "+15550001111")];
    let page = admin.post_raw(&save, &good, &[("origin", &app.base)]).await;
    assert_eq!(page.status, 403, "no csrf token: {}", page.body);
    let mut with_token = vec![("csrf", admin.csrf.as_str())];
    with_token.extend_from_slice(&good);
    let page = admin.post_raw(&save, &with_token, &[("origin", "https://evil.example")]).await;
    assert_eq!(page.status, 403, "another site: {}", page.body);
    assert_eq!(settings().await, before, "forged posts change nothing");

    // Saved, in the order given.
    let page = admin.post(&save, &good).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), format!("/admin/numbers?done=saved#number-{bn}"));
    let saved = settings().await.expect("settings stored");
    assert_eq!(saved.fallback_ladder, vec![windowdesk_core::Fallback::Sms, windowdesk_core::Fallback::Hold]);
    assert_eq!(saved.hold_hours, 48);
    assert_eq!(saved.sms_from.as_deref(), Some("+15550001111"));
    assert_eq!(saved.updated_by, Some(format!("agent:{}", web_agent_id(&app, ADA).await)));
    let page = admin.page("/admin/numbers?done=saved").await;
    assert!(page.contains(r#"<option value="sms" selected>"#), "the stored ladder is shown: {page}");
    app.stop().await;
}

async fn the_templates_page_lists_the_registry_and_sync_now_reports_what_changed(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let admin = admin(&app).await;
    let page = admin.post("/admin/templates/sync", &[]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let location = page.location().to_owned();
    assert!(location.starts_with("/admin/templates?done=synced&accounts=1&pages="), "{location}");
    let page = admin.page(&location).await;
    assert!(by_id(&page, "sync-report").is_some(), "the sync's report: {page}");
    assert!(page.contains("Synced 1 account(s) from Meta"), "{page}");
    // The registry: every template with its status, category and parameters.
    let rows: Vec<_> = start_tags(&page).into_iter().filter(|t| t.name == "tr" && t.has_attr("data-template")).collect();
    let find = |name: &str, language: &str| {
        rows.iter().find(|t| t.attr("data-template") == Some(name) && t.attr("data-language") == Some(language)).cloned()
    };
    assert_eq!(find("order_update", "en_US").and_then(|t| t.attr("data-status").map(str::to_owned)).as_deref(), Some("APPROVED"));
    assert_eq!(find("order_update", "de_DE").and_then(|t| t.attr("data-status").map(str::to_owned)).as_deref(), Some("APPROVED"));
    assert_eq!(find("winter_sale", "en_US").and_then(|t| t.attr("data-status").map(str::to_owned)).as_deref(), Some("PAUSED"));
    assert!(page.contains("{{2}}") && page.contains("first_name"), "parameters are listed: {page}");
    assert!(page.contains("its status is PAUSED, not APPROVED"), "why it cannot be sent");
    // A second sync adds and removes nothing, and says so.
    let page = admin.post("/admin/templates/sync", &[]).await;
    assert!(page.location().contains("&added=0&") && page.location().ends_with("&removed=0"), "{}", page.location());
    app.stop().await;
}

async fn the_closed_composer_holds_a_reply_previews_a_template_and_names_a_missing_parameter(backend: Backend) {
    let (app, ticket) = closed_window_desk(backend).await;
    let web = Web::sign_in(&app, ANA).await;
    let page = web.page(&format!("/tickets/{ticket}")).await;
    let ways: Vec<String> = start_tags(&page)
        .into_iter()
        .filter(|t| t.name == "li" && t.has_attr("data-way"))
        .map(|t| t.attr("data-way").unwrap().to_owned())
        .collect();
    assert_eq!(ways, ["hold", "template", "sms"], "the ways out in ladder order");
    assert!(!page.contains("not set up on this desk"), "the old dead end is gone");
    assert!(page.contains("https://wa.me/"), "the SMS way says it carries a link back to WhatsApp");
    // What each way costs (SPEC 11), from the rate card in force for a North American number.
    assert_eq!(text_of(&page, "held-price", "</p>"), "Free when it goes out (inside the customer service window).");
    let templates = text_of(&page, "template-prices", "</ul>");
    assert!(
        templates.contains("Billable: ")
            && templates.contains("USD, utility template, ")
            && templates.contains("USD, marketing template, "),
        "{templates}"
    );
    assert!(text_of(&page, "sms-price", "</p>").contains("sms.price_per_message"), "no SMS price in this desk's configuration");
    let outbound = || async {
        app.store().ticket_messages(ticket).await.unwrap().into_iter().filter(|m| m.direction == Direction::Outbound).collect::<Vec<_>>()
    };

    // Hold: forged, then for real.
    let hold = format!("/tickets/{ticket}/hold");
    let page = web.post_raw(&hold, &[("csrf", "forged"), ("body", "sneaky")], &[("origin", &app.base)]).await;
    assert_eq!(page.status, 403);
    assert!(outbound().await.is_empty(), "a forged hold stores nothing");
    let page = web.post(&hold, &[("body", "Your refund is approved.")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), format!("/tickets/{ticket}?done=held#thread"));
    let held = outbound().await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].delivery_state, Some(DeliveryState::Held));
    let page = web.page(&format!("/tickets/{ticket}")).await;
    let bubble = bubble_of(&page, held[0].id);
    assert!(bubble.contains(r#"data-state="held""#) && bubble.contains("held-badge"), "{bubble}");
    assert!(bubble.contains("Held: will be delivered when the customer writes again") && bubble.contains("expires"), "{bubble}");
    assert!(app.sim().received().is_empty(), "a held reply waits");

    // The picker: a named template is prefilled with the customer's first name.
    let page = web.page(&format!("/tickets/{ticket}?template=reply_waiting&language=en_US")).await;
    assert!(by_id(&page, "picker").unwrap().has_attr("open"));
    let first = start_tags(&page).into_iter().find(|t| t.attr("name") == Some("body.first_name")).expect("the parameter's input");
    assert_eq!(first.attr("value"), Some("Rosa"));
    assert!(by_id(&page, "template-ready").is_some(), "complete, so ready: {page}");
    // The same form alone, as the page's script puts it in place without a reload.
    let fragment = web.page(&format!("/tickets/{ticket}/picker?template=reply_waiting&language=en_US")).await;
    assert!(by_id(&fragment, "template-form").is_some() && fragment.contains(r#"value="Rosa""#), "{fragment}");
    assert_eq!(web.get(&format!("/tickets/{ticket}/picker?template=winter_sale&language=en_US")).await.status, 404, "paused: not offered");

    // The preview, as the page's script asks for it: filled in where given, the problem named.
    let preview = format!("/tickets/{ticket}/templates/preview");
    let fields = [("name", "order_update"), ("language", "en_US"), ("body.1", "Rosa")];
    let page = web.post(&preview, &fields).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Hi Rosa, your order {{2}} has shipped."), "{}", page.body);
    assert_eq!(by_id(&page.body, "template-problem").and_then(|t| t.attr("data-field").map(str::to_owned)).as_deref(), Some("body.2"));
    assert!(page.body.contains("Billable"), "the price note: {}", page.body);
    assert_eq!(web.post_raw(&preview, &fields, &[("origin", &app.base)]).await.status, 403, "the preview needs the token too");

    // Sending with a parameter missing: refused before Meta, the page back with it named.
    let send = format!("/tickets/{ticket}/templates");
    let page = web.post(&send, &fields).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("parameters.body.{{2}}"), "{}", page.body);
    let missing = start_tags(&page.body).into_iter().find(|t| t.attr("name") == Some("body.2")).expect("the input");
    assert_eq!(missing.attr("aria-invalid"), Some("true"));
    let kept = start_tags(&page.body).into_iter().find(|t| t.attr("name") == Some("body.1")).unwrap();
    assert_eq!(kept.attr("value"), Some("Rosa"), "what was typed is kept");
    assert_eq!(outbound().await.len(), 1, "nothing new was stored");
    assert!(app.sim().received().is_empty(), "nothing reached WhatsApp");

    // Complete: it goes out, with the window closed, and reaches the customer.
    let page = web.post(&send, &[("name", "order_update"), ("language", "en_US"), ("body.1", "Rosa"), ("body.2", "A-1042")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), format!("/tickets/{ticket}?done=template#thread"));
    let got = app.eventually("the template at the simulator", || async { app.sim().received().into_iter().next() }).await;
    assert_eq!(got.kind, "template");
    assert_eq!(
        got.request["template"]["components"],
        serde_json::json!([{"type": "body", "parameters": [{"type": "text", "text": "Rosa"}, {"type": "text", "text": "A-1042"}]}])
    );
    assert_eq!(got.text.as_deref(), Some("Hi Rosa, your order A-1042 has shipped."));
    app.stop().await;
}

async fn dismiss_takes_a_failure_off_the_failed_list_and_forged_posts_change_nothing(backend: Backend) {
    let (app, web, ticket, failed) = failed_reply_desk(backend).await;
    let page = web.page(&format!("/tickets/{ticket}")).await;
    let bubble = bubble_of(&page, failed);
    for action in ["as_is", "template", "sms", "dismiss"] {
        assert!(bubble.contains(&format!(r#"data-action="{action}""#)), "{action} offered: {bubble}");
    }
    assert!(!bubble.contains(r#"data-action="hold""#), "the window is open: nothing to hold for");
    let list = web.page("/failed").await;
    assert_eq!(failed_rows(&list), [failed]);
    assert!(list.contains(&format!(r#"action="/deliveries/{failed}/dismiss""#)), "the list offers the actions too");

    let dismiss = format!("/deliveries/{failed}/dismiss");
    let page = web.post_raw(&dismiss, &[("csrf", "forged"), ("back", "failed")], &[("origin", &app.base)]).await;
    assert_eq!(page.status, 403);
    let page = web.post_raw(&dismiss, &[("csrf", &web.csrf), ("back", "failed")], &[("origin", "https://evil.example")]).await;
    assert_eq!(page.status, 403);
    assert_eq!(failed_rows(&web.page("/failed").await), [failed], "forged posts change nothing");
    assert_eq!(web.counts().await["failed"], 1);

    let page = web.post(&dismiss, &[("back", "failed")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), "/failed?done=dismissed");
    let list = web.page("/failed?done=dismissed").await;
    assert!(failed_rows(&list).is_empty(), "off the list: {list}");
    assert!(list.contains("Dismissed"), "and the list says so");
    assert_eq!(web.counts().await["failed"], 0);
    // Still marked failed on its ticket, with what was done.
    let page = web.page(&format!("/tickets/{ticket}")).await;
    let bubble = bubble_of(&page, failed);
    assert!(bubble.contains(r#"data-state="failed""#) && bubble.contains("Not delivered"), "{bubble}");
    assert!(bubble.contains(r#"data-resolution="dismissed""#), "{bubble}");
    assert!(!bubble.contains("data-action="), "nothing left to do: {bubble}");
    assert_eq!(web.post(&dismiss, &[]).await.status, 409, "dismissed once");
    assert!(app.sim().received().is_empty(), "nothing was sent again");
    app.stop().await;
}

async fn a_failure_resent_via_sms_from_the_failed_list_shows_replaced_by_on_its_ticket(backend: Backend) {
    let (app, web, ticket, failed) = failed_reply_desk(backend).await;
    let resend = format!("/deliveries/{failed}/resend");
    let page = web.post_raw(&resend, &[("csrf", "forged"), ("as", "sms")], &[("origin", &app.base)]).await;
    assert_eq!(page.status, 403);
    assert!(app.sim().sms().is_empty());

    let page = web.post(&resend, &[("as", "sms"), ("back", "failed")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), "/failed?done=resent");
    let sms = app.eventually("the SMS at the provider", || async { app.sim().sms().into_iter().next() }).await;
    let body = sms.body.unwrap_or_default();
    assert!(body.starts_with("undeliverable") && body.contains("https://wa.me/"), "{body}");
    assert_eq!(sms.to.as_deref(), Some(format!("+{CUSTOMER}").as_str()));
    assert!(failed_rows(&web.page("/failed").await).is_empty(), "dealt with: off the list");

    let page = web.page(&format!("/tickets/{ticket}")).await;
    let original = bubble_of(&page, failed);
    assert!(original.contains(r#"data-state="failed""#), "the original keeps its state and history: {original}");
    assert!(original.contains(r#"data-resolution="sms""#) && original.contains("Replaced by an SMS"), "{original}");
    let by = app.store().outbound_message(failed).await.unwrap().unwrap().replaced_by.expect("replaced_by");
    assert!(original.contains(&format!("#m{by}")), "links to its replacement: {original}");
    assert!(bubble_of(&page, by).contains(r#"data-kind="sms""#));
    app.stop().await;
}

async fn a_failure_resent_as_is_goes_out_again_while_the_window_is_open(backend: Backend) {
    let (app, web, ticket, failed) = failed_reply_desk(backend).await;
    app.sync_templates().await;
    let page = web.page(&format!("/tickets/{ticket}")).await;
    assert_eq!(text_of(&page, "reply-price", "</p>"), "Free: inside the customer service window.", "the reply box's price");
    // The ways out, hidden until the window closes, are priced as of then: the utility template
    // is no longer free.
    assert!(text_of(&page, "template-prices", "</ul>").contains("Billable: "), "{page}");
    let page = web.post(&format!("/deliveries/{failed}/resend"), &[("as", "as_is"), ("back", "ticket")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), format!("/tickets/{ticket}?done=resent#m{failed}"));
    let got = app.eventually("the resend at the simulator", || async { app.sim().received().into_iter().next() }).await;
    assert_eq!(got.text.as_deref(), Some("undeliverable"));
    app.eventually("the same message delivered", || async {
        let m = message(&app, ticket, failed).await;
        matches!(m.delivery_state, Some(DeliveryState::Delivered | DeliveryState::Read)).then_some(())
    })
    .await;
    assert!(failed_rows(&web.page("/failed").await).is_empty(), "off the list once it went out");
    let page = web.page(&format!("/tickets/{ticket}")).await;
    assert!(!bubble_of(&page, failed).contains("data-action="), "nothing left to do");
    assert_eq!(web.post(&format!("/deliveries/{failed}/resend"), &[("as", "as_is")]).await.status, 409, "not failed any more");
    app.stop().await;
}

async fn a_hold_notice_chosen_on_the_numbers_page_goes_out_with_the_next_held_reply(backend: Backend) {
    let (app, ticket) = closed_window_desk(backend).await;
    let admin = admin(&app).await;
    let page = admin.page("/admin/numbers").await;
    assert!(page.contains(r#"<option value="reply_waiting|en_US">"#), "approved templates are offered as the notice: {page}");
    assert!(!page.contains("winter_sale|en_US"), "a paused one is not");
    let page = admin
        .post(
            &format!("/admin/numbers/{}", app.bn),
            &[("ladder", "hold"), ("ladder", "template"), ("hold_notice", "reply_waiting|en_US"), ("hold_hours", "72"), ("sms_from", "")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);

    let web = Web::sign_in(&app, ANA).await;
    let page = web.page(&format!("/tickets/{ticket}")).await;
    let ways: Vec<String> =
        start_tags(&page).into_iter().filter(|t| t.has_attr("data-way")).map(|t| t.attr("data-way").unwrap().to_owned()).collect();
    assert_eq!(ways, ["hold", "template"], "no sender, so no SMS");
    assert!(page.contains("72 h") && page.contains("reply_waiting"), "the hold says how long and what tells the customer");
    let held = text_of(&page, "held-price", "</p>");
    assert!(held.starts_with("Free when it goes out") && held.contains(" The notice template: Billable: "), "{held}");
    let page = web.post(&format!("/tickets/{ticket}/hold"), &[("body", "Your refund is approved.")]).await;
    assert_eq!(page.location(), format!("/tickets/{ticket}?done=held#thread"));
    let notice = app.eventually("the notice at the simulator", || async { app.sim().received().into_iter().next() }).await;
    assert_eq!(notice.template.map(|t| t.name).as_deref(), Some("reply_waiting"));
    assert_eq!(notice.text.as_deref(), Some("Hi Rosa, we have answered your request. Reply to this message to read it."));
    assert_eq!(app.sim().received().len(), 1, "the held reply itself waits");
    app.stop().await;
}
