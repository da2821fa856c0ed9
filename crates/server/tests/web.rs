//! The agent web interface (SPEC 8) over real HTTP, on both backends: sign-in, sessions and their
//! limits; CSRF, Origin and the security headers; escaping of customer content; the inbox lists,
//! views and unread markers; the ticket page and what agents do from it (replies through the outbox
//! to the Cloud API simulator, notes with @mentions); failed deliveries; live updates; media. The
//! ways out of a closed window, failed-delivery actions and the admin pages are in `web/ways_out.rs`.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

#[path = "web/agent_view.rs"]
mod agent_view;
mod common;
#[path = "web/ways_out.rs"]
mod ways_out;

use std::time::Duration;

use common::web::*;
use common::*;
use serde_json::Value;
use windowdesk_core::{DeliveryState, TicketStatus};
use windowdesk_server::web::CSP;
use windowdesk_sim::{Fault, FaultPlan, Say};
use windowdesk_store::testing::Backend;
use windowdesk_store::{Direction, MessageRow};

on_both_backends!(
    sign_in_sets_a_session_cookie_and_sign_out_ends_it,
    sign_in_is_rate_limited_per_email,
    login_next_with_a_tab_or_a_new_line_stays_on_this_site_and_never_500s,
    every_page_and_asset_needs_a_session_but_sign_in_and_its_stylesheet,
    pages_send_security_headers_and_forged_posts_change_nothing,
    customer_content_is_escaped_and_pages_run_no_inline_script,
    inbox_lists_follow_assignment_and_unread_markers_follow_reading,
    inbox_lists_load_twenty_rows_then_the_rest,
    closing_soon_lists_windows_about_to_close_least_time_left_first_and_saved_views_filter,
    views_sort_by_waiting_or_window_filter_by_number_and_page_through_in_that_order,
    the_ticket_page_shows_the_window_and_a_reply_reaches_the_customer,
    a_reply_after_the_window_closed_is_409_keeps_the_text_and_sends_nothing,
    a_mention_in_a_note_notifies_that_agent_until_they_open_the_ticket,
    a_refused_reply_shows_as_failed_with_its_reason_and_on_the_failed_page,
    the_event_stream_names_tickets_as_messages_arrive,
    a_voice_note_plays_from_the_ticket_page,
);

const ANA: &str = "ana@example.com";
const BEN: &str = "ben.okafor@example.com";
const CUSTOMER: &str = "15550009876";
const EVENT_WAIT: Duration = Duration::from_secs(10);

/// A desk with Ana (and Ben) as agents.
async fn desk(backend: Backend) -> TestApp {
    let app = TestApp::start(backend).await;
    add_agent(&app, "Ana Lima", ANA).await;
    add_agent(&app, "Ben Okafor", BEN).await;
    app
}

/// A customer's text through the signed webhook; returns its ticket.
async fn customer_says(app: &TestApp, wamid: &str, from: &str, ts: i64, body: &str) -> i64 {
    assert_eq!(app.post(&text(wamid, from, ts, body)).await, 200);
    ticket_of(app, from).await.expect("the message made a ticket")
}

fn assert_no_inline_script_or_handlers(html: &str, what: &str) {
    let tags = start_tags(html);
    assert!(!tags.is_empty(), "{what}: no markup");
    for tag in &tags {
        if tag.name == "script" {
            assert!(tag.attr("src").is_some_and(|s| s.starts_with('/')), "{what}: a script without a local src: {tag:?}");
        }
        for (name, _) in &tag.attrs {
            assert!(!name.starts_with("on"), "{what}: an event handler attribute {name:?} on <{}>", tag.name);
        }
    }
}

/// The checks above are only as good as the tag reader under them.
#[test]
fn the_html_checks_catch_raw_markup_and_pass_escaped_text() {
    let raw = r#"<p title="a > b" class="x y">t</p><img src=x onerror=alert(1)><script>alert(1)</script>"#;
    let tags = start_tags(raw);
    assert_eq!(tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["p", "img", "script"]);
    assert_eq!(tags[0].attr("title"), Some("a > b"));
    assert!(tags[0].has_class("y"));
    assert!(tags[1].has_attr("onerror"));
    assert!(std::panic::catch_unwind(|| assert_no_inline_script_or_handlers(raw, "raw")).is_err());
    assert!(std::panic::catch_unwind(|| assert_no_inline_script_or_handlers("<script>alert(1)</script>", "inline")).is_err());
    assert_no_inline_script_or_handlers(
        r#"<p>&lt;img src=x onerror=alert(1)&gt;</p><script src="/assets/app.js" defer></script>"#,
        "escaped",
    );
}

fn assert_security_headers(page: &Page, what: &str) {
    assert_eq!(page.header("content-security-policy"), Some(CSP), "{what}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"), "{what}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"), "{what}");
}

async fn message(app: &TestApp, ticket: i64, id: i64) -> MessageRow {
    app.store().ticket_messages(ticket).await.unwrap().into_iter().find(|m| m.id == id).unwrap()
}

// ---- 1. Sign-in ----

async fn sign_in_sets_a_session_cookie_and_sign_out_ends_it(backend: Backend) {
    let app = desk(backend).await;
    let client = client();

    // The form: a csrf token that is also the wd_login cookie (double submit), and `next` kept.
    let form = login_form(&client, &app, "?next=/tickets/7").await;
    assert!(form.page.body.contains(r#"<form method="post" action="/login">"#), "{}", form.page.body);
    assert!(form.csrf.len() >= 32, "a real token: {:?}", form.csrf);
    assert_eq!(form.csrf, form.cookie, "the form's token is the cookie's");
    assert_eq!(hidden_input(&form.page.body, "next").as_deref(), Some("/tickets/7"));
    let attrs = cookie_attributes(form.page.set_cookie("wd_login").unwrap());
    assert!(attrs.contains(&"httponly".to_owned()) && attrs.contains(&"samesite=strict".to_owned()), "{attrs:?}");

    // A wrong password.
    let page = post_login(
        &client,
        &app,
        Some(&form.cookie),
        &[("email", ANA), ("password", "not the password"), ("csrf", &form.csrf), ("next", "/tickets/7")],
    )
    .await;
    assert_eq!(page.status, 401, "{}", page.body);
    assert!(page.body.contains("That email address and password do not match."), "{}", page.body);
    assert!(page.cookie("wd_session").is_none());

    // Without the cookie, without the token, or with another token: the form is refused before the password is looked at.
    let right = [("email", ANA), ("password", PASSWORD), ("csrf", form.csrf.as_str()), ("next", "/")];
    let without_cookie = post_login(&client, &app, None, &right).await;
    assert_eq!(without_cookie.status, 403, "{}", without_cookie.body);
    assert!(without_cookie.body.contains("The sign-in form expired"), "{}", without_cookie.body);
    assert!(without_cookie.cookie("wd_session").is_none());
    let without_token = post_login(&client, &app, Some(&form.cookie), &[("email", ANA), ("password", PASSWORD), ("next", "/")]).await;
    assert_eq!(without_token.status, 403, "{}", without_token.body);
    assert!(without_token.cookie("wd_session").is_none());
    let other = "x".repeat(43);
    let other_token =
        post_login(&client, &app, Some(&form.cookie), &[("email", ANA), ("password", PASSWORD), ("csrf", &other), ("next", "/")]).await;
    assert_eq!(other_token.status, 403, "{}", other_token.body);
    assert!(other_token.cookie("wd_session").is_none());

    // The right password: back to `next`, with a session cookie scripts cannot read and other sites do not send.
    let page = post_login(
        &client,
        &app,
        Some(&form.cookie),
        &[("email", ANA), ("password", PASSWORD), ("csrf", &form.csrf), ("next", "/tickets/7")],
    )
    .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), "/tickets/7");
    let set = page.set_cookie("wd_session").expect("a session cookie");
    let attrs = cookie_attributes(set);
    assert!(attrs.contains(&"httponly".to_owned()), "{set}");
    assert!(attrs.contains(&"samesite=lax".to_owned()), "{set}");
    assert!(attrs.contains(&"path=/".to_owned()), "{set}");
    assert!(!attrs.contains(&"secure".to_owned()), "web.secure_cookies is off in tests: {set}");
    assert!(cookie_attributes(page.set_cookie("wd_login").expect("the sign-in cookie is removed")).contains(&"max-age=0".to_owned()));
    let session = page.cookie("wd_session").unwrap();
    assert!(session.len() >= 32);
    let web = Web { client: client.clone(), base: app.base.clone(), session, csrf: String::new() };
    let inbox = web.get("/").await;
    assert_eq!(inbox.status, 200, "{}", inbox.body);
    assert!(inbox.body.contains("Signed in as <strong>Ana Lima</strong>"), "{}", inbox.body);
    let web = Web { csrf: hidden_input(&inbox.body, "csrf").unwrap(), ..web };

    // `next` never leaves the site (as Ben: three more sign-ins as Ana would pass her five a minute).
    for evil in ["//evil.example", "https://evil.example/", "/\\evil.example"] {
        let form = login_form(&client, &app, &format!("?next={}", windowdesk_server::web::session::urlencode(evil))).await;
        assert_eq!(hidden_input(&form.page.body, "next").as_deref(), Some("/"), "{evil}");
        let page =
            post_login(&client, &app, Some(&form.cookie), &[("email", BEN), ("password", PASSWORD), ("csrf", &form.csrf), ("next", evil)])
                .await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert_eq!(page.location(), "/", "next={evil}");
    }

    // Signing out ends this session: its cookie then leads to the sign-in page.
    let out = web.post("/logout", &[]).await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(out.location(), "/login");
    assert!(cookie_attributes(out.set_cookie("wd_session").expect("the cookie is removed")).contains(&"max-age=0".to_owned()));
    let after = web.get("/").await;
    assert_eq!(after.status, 303);
    assert_eq!(after.location(), "/login?next=/");
    app.stop().await;
}

async fn login_next_with_a_tab_or_a_new_line_stays_on_this_site_and_never_500s(backend: Backend) {
    let app = desk(backend).await;
    let client = client();
    // Browsers drop tabs and new lines from URLs: `/<tab>/evil.example` is `//evil.example` to them.
    let form = login_form(&client, &app, "?next=/%09/evil.example").await;
    assert_eq!(hidden_input(&form.page.body, "next").as_deref(), Some("/"));
    for evil in ["/\t/evil.example", "/\r\n/evil.example", "/\r\nSet-Cookie: x=1"] {
        let form = login_form(&client, &app, "").await;
        let page =
            post_login(&client, &app, Some(&form.cookie), &[("email", ANA), ("password", PASSWORD), ("csrf", &form.csrf), ("next", evil)])
                .await;
        assert_eq!(page.status, 303, "next={evil:?}: {}", page.body);
        assert_eq!(page.location(), "/", "next={evil:?}");
    }
    app.stop().await;
}

/// One sign-in attempt with the form's cookie and token.
async fn attempt(client: &reqwest::Client, app: &TestApp, form: &LoginForm, email: &str, password: &str) -> Page {
    post_login(client, app, Some(&form.cookie), &[("email", email), ("password", password), ("csrf", &form.csrf), ("next", "/")]).await
}

async fn sign_in_is_rate_limited_per_email(backend: Backend) {
    let app = desk(backend).await;
    let client = client();
    let form = login_form(&client, &app, "").await;
    // web.login_attempts_per_minute is 5 by default.
    for i in 0..5 {
        let page = attempt(&client, &app, &form, BEN, "guess").await;
        assert_eq!(page.status, 401, "attempt {i}: {}", page.body);
    }
    let page = attempt(&client, &app, &form, BEN, "guess").await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.body.contains("Too many sign-in attempts"), "{}", page.body);
    // Even the right password waits now.
    let page = attempt(&client, &app, &form, BEN, PASSWORD).await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.cookie("wd_session").is_none());
    // Another email is not held back by Ben's.
    let page = attempt(&client, &app, &form, ANA, PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(page.cookie("wd_session").is_some());
    app.stop().await;
}

// ---- 2. Everything needs a session ----

async fn every_page_and_asset_needs_a_session_but_sign_in_and_its_stylesheet(backend: Backend) {
    let app = desk(backend).await;
    let ticket = customer_says(&app, "wamid.a1", CUSTOMER, now_secs() - 60, "hello").await;
    let client = client();
    let paths = [
        "/".to_owned(),
        format!("/tickets/{ticket}"),
        format!("/tickets/{ticket}/live"),
        "/failed".into(),
        "/views/closing-soon".into(),
        "/notifications".into(),
        "/settings".into(),
        "/assets/app.js".into(),
        "/media/1".into(),
        "/live/events".into(),
        "/live/counts".into(),
        "/live/inbox".into(),
    ];
    for path in &paths {
        let page = Page::read(client.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(page.status, 303, "GET {path} without a session: {}", page.body);
        assert_eq!(page.location(), format!("/login?next={path}"), "GET {path}");
    }
    // The query comes back too, encoded.
    let page = Page::read(client.get(app.url("/inbox/more?list=unassigned&key=0&id=0")).send().await.unwrap()).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), "/login?next=/inbox/more%3Flist%3Dunassigned%26key%3D0%26id%3D0");
    // A form posted without a session changes nothing and goes to sign in.
    let page =
        Page::read(client.post(app.url(&format!("/tickets/{ticket}/update"))).form(&[("assignee", "none")]).send().await.unwrap()).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), "/login?next=/");
    // A made-up cookie is no session.
    let page = Page::read(client.get(app.url("/")).header("cookie", "wd_session=forged").send().await.unwrap()).await;
    assert_eq!(page.status, 303);

    // Public: the sign-in page, its stylesheet, the favicon, and the webhook.
    assert_eq!(client.get(app.url("/login")).send().await.unwrap().status(), 200);
    let css = client.get(app.url("/assets/app.css")).send().await.unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    assert_eq!(client.get(app.url("/favicon.ico")).send().await.unwrap().status(), 204);
    let verify = client
        .get(app.url(&format!("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=4242")))
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), 200);
    assert_eq!(verify.text().await.unwrap(), "4242");
    assert_eq!(app.post(&text("wamid.a2", CUSTOMER, now_secs(), "still there?")).await, 200);

    // Signed in, the same script is served.
    let web = Web::sign_in(&app, ANA).await;
    let js = web.get("/assets/app.js").await;
    assert_eq!(js.status, 200);
    assert!(js.header("content-type").unwrap().starts_with("text/javascript"));
    assert!(js.body.contains("EventSource"));
    app.stop().await;
}

// ---- 3. Headers, CSRF and Origin ----

async fn pages_send_security_headers_and_forged_posts_change_nothing(backend: Backend) {
    let app = desk(backend).await;
    let ticket = customer_says(&app, "wamid.b1", CUSTOMER, now_secs() - 60, "hello").await;
    let web = Web::sign_in(&app, ANA).await;
    let ana = web_agent_id(&app, ANA).await;

    for path in ["/".to_owned(), format!("/tickets/{ticket}"), "/failed".into(), "/views/closing-soon".into(), "/notifications".into()] {
        let page = web.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert_security_headers(&page, &path);
    }
    let missing = web.get("/tickets/999999").await;
    assert_eq!(missing.status, 404);
    assert_security_headers(&missing, "a 404 page");
    let login = Page::read(client().get(app.url("/login")).send().await.unwrap()).await;
    assert_security_headers(&login, "/login");

    let update = format!("/tickets/{ticket}/update");
    let assignee = || async { app.store().ticket(ticket).await.unwrap().unwrap().assignee_id };
    // A wrong token.
    let page = web.post_raw(&update, &[("csrf", "forged"), ("assignee", "me")], &[("origin", &app.base)]).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("did not come from this desk"), "{}", page.body);
    assert_eq!(assignee().await, None, "nothing changed");
    // The right token, from another site.
    let page = web.post_raw(&update, &[("csrf", &web.csrf), ("assignee", "me")], &[("origin", "https://evil.example")]).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("another site"), "{}", page.body);
    assert_eq!(assignee().await, None, "nothing changed");
    // Signing out is a form too.
    let page = web.post_raw("/logout", &[("csrf", "forged")], &[]).await;
    assert_eq!(page.status, 403);
    assert_eq!(web.get("/").await.status, 200, "still signed in");
    // From this site, with the token: done.
    let page = web.post(&update, &[("assignee", "me")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), format!("/tickets/{ticket}?done=updated"));
    assert_eq!(assignee().await, Some(ana));
    app.stop().await;
}

async fn web_agent_id(app: &TestApp, email: &str) -> i64 {
    app.store().agents().await.unwrap().into_iter().find(|a| a.email == email).unwrap().id
}

// ---- 4. Escaping ----

async fn customer_content_is_escaped_and_pages_run_no_inline_script(backend: Backend) {
    let app = desk(backend).await;
    let name = "<script>alert(1)</script>";
    let body = "<img src=x onerror=alert(1)>";
    assert_eq!(app.post(&text_as("wamid.x1", CUSTOMER, name, now_secs() - 60, body)).await, 200);
    let ticket = ticket_of(&app, CUSTOMER).await.unwrap();
    let web = Web::sign_in(&app, ANA).await;

    let inbox = web.page("/").await;
    let ticket_page = web.page(&format!("/tickets/{ticket}")).await;
    let live = web.page(&format!("/tickets/{ticket}/live")).await;
    let lists = web.page("/live/inbox").await;
    for (what, html) in [("inbox", &inbox), ("ticket page", &ticket_page), ("ticket fragment", &live), ("inbox fragment", &lists)] {
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{what} shows the name escaped:\n{html}");
        assert!(!html.contains("<script>alert"), "{what} has the name raw");
        assert!(!html.contains("<img src=x"), "{what} has the message raw");
        assert_no_inline_script_or_handlers(html, what);
    }
    for (what, html) in [("ticket page", &ticket_page), ("ticket fragment", &live)] {
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{what} shows the message escaped:\n{html}");
    }
    // Exactly one script on a page: the desk's own file.
    let scripts: Vec<_> = start_tags(&ticket_page).into_iter().filter(|t| t.name == "script").collect();
    assert_eq!(scripts.len(), 1);
    assert_eq!(scripts[0].attr("src"), Some("/assets/app.js"));
    app.stop().await;
}

// ---- 5. The inbox ----

async fn inbox_lists_follow_assignment_and_unread_markers_follow_reading(backend: Backend) {
    let app = desk(backend).await;
    let web = Web::sign_in(&app, ANA).await;
    let ticket = customer_says(&app, "wamid.c1", CUSTOMER, now_secs() - 60, "my order is late").await;

    let inbox = web.page("/").await;
    assert_eq!(rows(section(&inbox, "unassigned")), vec![(ticket, true)], "new and unread, under Unassigned");
    assert!(rows(section(&inbox, "assigned")).is_empty());
    assert_eq!(web.counts().await["unassigned"], 1);

    let page = web.post(&format!("/tickets/{ticket}/update"), &[("assignee", "me")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let inbox = web.page("/").await;
    assert_eq!(rows(section(&inbox, "assigned")), vec![(ticket, true)], "assigning is not reading");
    assert!(rows(section(&inbox, "unassigned")).is_empty());
    let counts = web.counts().await;
    assert_eq!((counts["assigned"].as_u64(), counts["unassigned"].as_u64()), (Some(1), Some(0)));
    // Ben sees it neither as his nor as unassigned.
    let ben = Web::sign_in(&app, BEN).await;
    let his = ben.page("/").await;
    assert!(rows(section(&his, "assigned")).is_empty() && rows(section(&his, "unassigned")).is_empty());

    web.page(&format!("/tickets/{ticket}")).await;
    let opened = now_ms();
    assert_eq!(rows(section(&web.page("/").await, "assigned")), vec![(ticket, false)], "read once opened");
    assert_eq!(rows(section(&ben.page("/views/closing-soon").await, "view")), vec![], "not closing soon");

    // The customer writes again (a sender timestamp after the moment Ana opened it).
    wait_past_second_of(opened).await;
    assert_eq!(customer_says(&app, "wamid.c2", CUSTOMER, now_secs(), "hello??").await, ticket);
    assert_eq!(rows(section(&web.page("/").await, "assigned")), vec![(ticket, true)], "unread again");
    app.stop().await;
}

async fn inbox_lists_load_twenty_rows_then_the_rest(backend: Backend) {
    let app = desk(backend).await;
    let start = now_secs() - 600;
    for i in 0..25 {
        assert_eq!(app.post(&text(&format!("wamid.m{i}"), &format!("4917000{i:05}"), start + i, "hi")).await, 200);
    }
    let web = Web::sign_in(&app, ANA).await;
    let inbox = web.page("/").await;
    let unassigned = section(&inbox, "unassigned");
    let first = row_ids(unassigned);
    assert_eq!(first.len(), 20);
    let more = start_tags(unassigned).into_iter().find(|t| t.has_class("load-more")).expect("a Load more link");
    let href = more.attr("href").unwrap();
    assert!(href.starts_with("/inbox/more?list=unassigned&"), "{href}");

    let fragment = web.page(href).await;
    let rest = row_ids(&fragment);
    assert_eq!(rest.len(), 5, "{fragment}");
    assert!(!fragment.contains("load-more"), "no further link: {fragment}");
    let mut all: Vec<i64> = first.iter().chain(&rest).copied().collect();
    // Latest activity first, across both pages.
    let mut expected = all.clone();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(all, expected, "newest first: each customer wrote later than the one before");
    all.dedup();
    assert_eq!(all.len(), 25);
    assert_eq!(web.counts().await["unassigned"], 25);
    app.stop().await;
}

// ---- 6. Views ----

async fn closing_soon_lists_windows_about_to_close_least_time_left_first_and_saved_views_filter(backend: Backend) {
    let app = desk(backend).await;
    let now = now_secs();
    let one_hour_left = customer_says(&app, "wamid.v1", "15550000001", now - 23 * 3600, "one hour left").await;
    let half_hour_left = customer_says(&app, "wamid.v2", "15550000002", now - 23 * 3600 - 1800, "half an hour left").await;
    let twenty_hours_left = customer_says(&app, "wamid.v3", "15550000003", now - 4 * 3600, "twenty hours left").await;
    let closed = customer_says(&app, "wamid.v4", "15550000004", now - 25 * 3600, "closed").await;
    let web = Web::sign_in(&app, ANA).await;

    let page = web.page("/views/closing-soon").await;
    assert_eq!(row_ids(section(&page, "view")), vec![half_hour_left, one_hour_left], "least time left first");
    assert_eq!(web.counts().await["closing_soon"], 2);

    // A saved view of the tickets still new.
    let page = web.post(&format!("/tickets/{twenty_hours_left}/update"), &[("status", "pending")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let page = web.post("/views", &[("name", "Still new"), ("status", "new"), ("tag", ""), ("assignee", "")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let view: i64 = page.location().strip_prefix("/views/").unwrap().parse().unwrap();
    let page = web.page(&format!("/views/{view}")).await;
    let mut listed = row_ids(section(&page, "view"));
    listed.sort_unstable();
    assert_eq!(listed, vec![one_hour_left, half_hour_left, closed]);
    assert!(page.contains(&format!(r#"data-count="view-{view}""#)), "the view is in the navigation");
    assert_eq!(web.counts().await[format!("view-{view}")], 3);

    // Each filter, and a tag with an assignee together: one ticket is Ana's and tagged vip, another
    // only tagged, a third only hers.
    for (ticket, fields) in [
        (one_hour_left, [("assignee", "me"), ("tags", "vip")]),
        (half_hour_left, [("assignee", "none"), ("tags", "vip")]),
        (closed, [("assignee", "me"), ("tags", "")]),
    ] {
        let page = web.post(&format!("/tickets/{ticket}/update"), &fields).await;
        assert_eq!(page.status, 303, "{}", page.body);
    }
    for (name, tag, assignee, expected) in [
        ("Mine and vip", "vip", "me", vec![one_hour_left]),
        ("All vip", "vip", "", vec![one_hour_left, half_hour_left]),
        ("Vip, nobody's", "vip", "unassigned", vec![half_hour_left]),
        ("Mine", "", "me", vec![one_hour_left, closed]),
    ] {
        let page = web.post("/views", &[("name", name), ("status", ""), ("tag", tag), ("assignee", assignee)]).await;
        assert_eq!(page.status, 303, "{}", page.body);
        let id: i64 = page.location().strip_prefix("/views/").unwrap().parse().unwrap();
        let mut listed = row_ids(section(&web.page(&format!("/views/{id}")).await, "view"));
        listed.sort_unstable();
        let mut expected = expected;
        expected.sort_unstable();
        assert_eq!(listed, expected, "{name}");
        assert_eq!(web.counts().await[format!("view-{id}")], expected.len(), "{name}");
    }
    // Views are the agent's own.
    let ben = Web::sign_in(&app, BEN).await;
    assert_eq!(ben.get(&format!("/views/{view}")).await.status, 404);
    assert!(ben.counts().await.get(format!("view-{view}")).is_none());
    app.stop().await;
}

/// The All tickets view sorted by who waited longest and by the window that closes first (open
/// windows only), narrowed to one business number, and paged through "Load more" in that order.
async fn views_sort_by_waiting_or_window_filter_by_number_and_page_through_in_that_order(backend: Backend) {
    let app = desk(backend).await;
    let start = now_secs() - 3600;
    let mut open = Vec::new();
    for i in 0..22 {
        open.push(customer_says(&app, &format!("wamid.s{i}"), &format!("4917100{i:05}"), start + i, "hi").await);
    }
    let closed_a = customer_says(&app, "wamid.c1", "4917200000001", now_secs() - 30 * 3600, "old").await;
    let closed_b = customer_says(&app, "wamid.c2", "4917200000002", now_secs() - 26 * 3600, "older").await;
    // One customer writes to the second business number.
    let mut other = text("wamid.o1", "4917300000001", start + 100, "on the other number");
    other["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = serde_json::json!("106540352242922");
    assert_eq!(app.post(&other).await, 200);
    let on_other = ticket_of(&app, "4917300000001").await.unwrap();
    let web = Web::sign_in(&app, ANA).await;

    // Waiting longest: the oldest customer message first, closed windows too, across two pages.
    let page = web.page("/views/all?sort=waiting").await;
    let first = row_ids(section(&page, "view"));
    assert_eq!(first.len(), 20);
    assert_eq!(&first[..3], &[closed_a, closed_b, open[0]]);
    let more = start_tags(section(&page, "view")).into_iter().find(|t| t.has_class("load-more")).expect("Load more");
    let href = unescape(more.attr("href").unwrap());
    assert!(href.contains("&sort=waiting"), "the order is kept: {href}");
    let rest = row_ids(&web.page(&href).await);
    let all: Vec<i64> = first.iter().chain(&rest).copied().collect();
    let mut expected = vec![closed_a, closed_b];
    expected.extend(&open);
    expected.push(on_other);
    assert_eq!(all, expected);

    // Window ending soonest: open windows only, the oldest (closing first) first.
    let page = web.page("/views/all?sort=window").await;
    let listed = row_ids(section(&page, "view"));
    assert_eq!(&listed[..2], &open[..2]);
    assert!(!listed.contains(&closed_a) && !listed.contains(&closed_b), "closed windows are not listed");
    // One number: only its tickets.
    let number = app.running.state.numbers.get("106540352242922").unwrap().id;
    let page = web.page(&format!("/views/all?number={number}")).await;
    assert_eq!(row_ids(section(&page, "view")), vec![on_other]);
    assert!(page.contains(r#"id="order-number""#), "a desk with several numbers offers the number filter");
    assert_eq!(web.get("/views/all?sort=sideways").await.status, 400);
    assert_eq!(web.get("/views/all?number=999999").await.status, 400);
    app.stop().await;
}

// ---- 7. The ticket page ----

async fn the_ticket_page_shows_the_window_and_a_reply_reaches_the_customer(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    add_agent(&app, "Ana Lima", ANA).await;
    let sent = now_secs() - 3600;
    app.sim().say(Say::text(CUSTOMER, "Where is my parcel?").name("Rosa").at(sent)).await.unwrap();
    let ticket = app.eventually("the ticket", || ticket_of(&app, CUSTOMER)).await;
    let web = Web::sign_in(&app, ANA).await;

    let page = web.page(&format!("/tickets/{ticket}")).await;
    let banner = by_id(&page, "window-banner").expect("the window banner");
    // W9: the countdown runs to the send guard (5 s before Meta's end), as the send decision does.
    assert_eq!(banner.attr("data-window-end"), Some((sent + 24 * 3600 - 5) * 1000).map(|ms| ms.to_string()).as_deref());
    assert_eq!(banner.attr("data-state"), Some("open"));
    assert!(by_id(&page, "reply-form").is_some_and(|f| !f.has_attr("hidden")), "the reply box is on");
    assert!(page.contains("Where is my parcel?"));

    let body = "It left our warehouse this morning.";
    let done = web.post(&format!("/tickets/{ticket}/reply"), &[("body", body), ("submit_as", "pending")]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), format!("/tickets/{ticket}?done=sent#composer"));
    assert_eq!(app.store().ticket(ticket).await.unwrap().unwrap().status, TicketStatus::Pending);
    let received = app.eventually("the simulator to receive the reply", || async { app.sim().received().into_iter().next() }).await;
    assert_eq!(received.to, CUSTOMER);
    assert_eq!(received.text.as_deref(), Some(body));
    let reply = app
        .store()
        .ticket_messages(ticket)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.direction == Direction::Outbound)
        .expect("the reply is on the ticket");
    assert_eq!(reply.body.as_deref(), Some(body));

    let page = web.page(&format!("/tickets/{ticket}?done=sent")).await;
    let bubble = by_id(&page, &format!("m{}", reply.id)).expect("the reply's bubble");
    assert_eq!(bubble.attr("data-direction"), Some("out"));
    assert!(page.contains(body));
    assert_eq!(by_id(&page, "notice").and_then(|n| n.attr("class").map(str::to_owned)).as_deref(), Some("notice ok"));
    assert!(page.contains(r#"id="ticket-status">pending<"#), "the status shows pending");
    assert_eq!(app.sim().received().len(), 1);
    app.stop().await;
}

async fn a_reply_after_the_window_closed_is_409_keeps_the_text_and_sends_nothing(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    add_agent(&app, "Ana Lima", ANA).await;
    let sent = now_secs() - 25 * 3600;
    app.sim().say(Say::text(CUSTOMER, "hello?").at(sent)).await.unwrap();
    let ticket = app.eventually("the ticket", || ticket_of(&app, CUSTOMER)).await;
    let web = Web::sign_in(&app, ANA).await;

    let page = web.page(&format!("/tickets/{ticket}")).await;
    let banner = by_id(&page, "window-banner").unwrap();
    assert_eq!(banner.attr("data-state"), Some("closed"));
    assert_eq!(banner.attr("data-window-end"), Some(((sent + 24 * 3600 - 5) * 1000).to_string()).as_deref());
    assert!(by_id(&page, "reply-form").unwrap().has_attr("hidden"), "the reply box is off");

    let typed = "Sorry for the wait, your refund is on its way";
    let page = web.post(&format!("/tickets/{ticket}/reply"), &[("body", typed), ("submit_as", "open")]).await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(page.body.contains(typed), "the typed text is kept: {}", page.body);
    assert!(page.body.contains("the customer service window is closed"), "and the page says why: {}", page.body);
    assert!(app.store().ticket_messages(ticket).await.unwrap().iter().all(|m| m.direction != Direction::Outbound), "nothing was queued");
    assert_eq!(app.store().ticket(ticket).await.unwrap().unwrap().status, TicketStatus::New, "the status did not change");
    assert!(app.sim().received().is_empty(), "nothing reached WhatsApp");
    app.stop().await;
}

async fn a_mention_in_a_note_notifies_that_agent_until_they_open_the_ticket(backend: Backend) {
    let app = desk(backend).await;
    let ticket = customer_says(&app, "wamid.n1", CUSTOMER, now_secs() - 60, "refund please").await;
    let ana = Web::sign_in(&app, ANA).await;
    let ben = Web::sign_in(&app, BEN).await;
    assert_eq!(ben.counts().await["mentions"], 0);

    let note = "@ben.okafor please look";
    let page = ana.post(&format!("/tickets/{ticket}/note"), &[("body", note)]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), format!("/tickets/{ticket}?done=noted#composer"));
    let notes: Vec<_> = app.store().ticket_messages(ticket).await.unwrap().into_iter().filter(|m| m.direction == Direction::Note).collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].body.as_deref(), Some(note));
    assert_eq!(ana.counts().await["mentions"], 0, "the author is not notified");

    assert_eq!(ben.counts().await["mentions"], 1);
    let list = ben.page("/notifications").await;
    let items: Vec<_> = start_tags(&list).into_iter().filter(|t| t.name == "li" && t.has_attr("data-unread")).collect();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0].attr("data-unread"), Some("true"));
    assert!(list.contains(&format!(r#"href="/tickets/{ticket}""#)));
    assert!(list.contains("Ana Lima") && list.contains("please look"), "{list}");

    let page = ben.page(&format!("/tickets/{ticket}")).await;
    let bubble = by_id(&page, &format!("m{}", notes[0].id)).expect("the note on the ticket");
    assert_eq!(bubble.attr("data-direction"), Some("note"));
    assert_eq!(ben.counts().await["mentions"], 0, "read once the ticket is opened");
    let list = ben.page("/notifications").await;
    assert!(list.contains(r#"data-unread="false""#) && !list.contains(r#"data-unread="true""#), "{list}");
    app.stop().await;
}

// ---- 8. Failed deliveries ----

async fn a_refused_reply_shows_as_failed_with_its_reason_and_on_the_failed_page(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    add_agent(&app, "Ana Lima", ANA).await;
    app.sim().say(Say::text(CUSTOMER, "hi").name("Rosa")).await.unwrap();
    let ticket = app.eventually("the ticket", || ticket_of(&app, CUSTOMER)).await;
    let web = Web::sign_in(&app, ANA).await;
    assert_eq!(web.counts().await["failed"], 0);

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
    assert_eq!(message(&app, ticket, failed.id).await.error_code, Some(131_026));

    let page = web.page(&format!("/tickets/{ticket}")).await;
    let bubble = by_id(&page, &format!("m{}", failed.id)).expect("the failed reply's bubble");
    assert_eq!(bubble.attr("data-state"), Some("failed"));
    let bubble_html = &page[bubble.at..];
    let bubble_html = &bubble_html[..bubble_html.find("</li>").unwrap()];
    assert!(bubble_html.contains("Not delivered"), "{bubble_html}");
    assert!(bubble_html.contains("could not be delivered") && bubble_html.contains("(error 131026)"), "the reason in words: {bubble_html}");

    let list = web.page("/failed").await;
    let row = start_tags(&list).into_iter().find(|t| t.has_class("failed-row")).expect("a row on /failed");
    assert_eq!(row.attr("data-message-id"), Some(failed.id.to_string()).as_deref());
    assert_eq!(row.attr("data-ticket-id"), Some(ticket.to_string()).as_deref());
    assert!(list.contains("Rosa") && list.contains("could not be delivered") && list.contains("undeliverable"), "{list}");
    assert_eq!(web.counts().await["failed"], 1);
    app.stop().await;
}

// ---- 9. Live updates ----

async fn the_event_stream_names_tickets_as_messages_arrive(backend: Backend) {
    let app = desk(backend).await;
    let web = Web::sign_in(&app, ANA).await;
    let resp = web.get_request("/live/events").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut events = SseReader::new(resp);
    assert_eq!(events.next(EVENT_WAIT).await.event, "hello");

    let ticket = customer_says(&app, "wamid.l1", CUSTOMER, now_secs() - 60, "first").await;
    let e = events.next_named("ticket", EVENT_WAIT).await;
    assert_eq!(serde_json::from_str::<Value>(&e.data).unwrap(), serde_json::json!({"ticket_id": ticket}));
    assert_eq!(customer_says(&app, "wamid.l2", CUSTOMER, now_secs() - 30, "are you there? &lt;b&gt;").await, ticket);
    let e = events.next_named("ticket", EVENT_WAIT).await;
    assert_eq!(serde_json::from_str::<Value>(&e.data).unwrap()["ticket_id"], ticket);

    let fragment = web.page(&format!("/tickets/{ticket}/live")).await;
    assert!(fragment.contains("first") && fragment.contains("are you there? &amp;lt;b&amp;gt;"), "{fragment}");
    assert!(by_id(&fragment, "thread").is_some() && by_id(&fragment, "window-banner").is_some());
    assert_eq!(fragment.matches(r#"data-direction="in""#).count(), 2);
    // The stream is closed before the desk stops: an open stream holds up its graceful shutdown.
    drop(events);
    app.stop().await;
}

// ---- 10. Media ----

async fn a_voice_note_plays_from_the_ticket_page(backend: Backend) {
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    add_agent(&app, "Ana Lima", ANA).await;
    app.sim().say(Say::voice(CUSTOMER).name("Rosa")).await.unwrap();
    let ticket = app.eventually("the ticket", || ticket_of(&app, CUSTOMER)).await;
    let id = app
        .eventually("the voice note", || async {
            app.store().ticket_messages(ticket).await.unwrap().into_iter().find(|m| m.kind == "audio").map(|m| m.id)
        })
        .await;
    app.eventually("the download", || async { app.store().message_media(id).await.unwrap().filter(|m| m.state == "done") }).await;
    let web = Web::sign_in(&app, ANA).await;

    let resp = web.get_request(&format!("/media/{id}")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/ogg");
    assert!(resp.bytes().await.unwrap().starts_with(b"OggS"), "an Ogg file");

    let page = web.page(&format!("/tickets/{ticket}")).await;
    let audio = start_tags(&page).into_iter().find(|t| t.name == "audio").expect("an <audio> element");
    assert_eq!(audio.attr("src"), Some(format!("/media/{id}")).as_deref());
    assert!(audio.has_attr("controls"));
    assert!(page.contains("Voice note"));
    app.stop().await;
}
