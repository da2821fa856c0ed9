//! Passwords and API tokens from the web (issue 15 item 4), on both backends: an agent changes their
//! own password only with the current one; an admin resets an agent's (agents cannot); an admin
//! creates an API token that is shown once and works, and revokes it.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use common::web::*;
use common::*;
use windowdesk_store::testing::Backend;
use windowdesk_store::AgentRole;

on_both_backends!(
    an_agent_changes_their_password_and_an_admin_resets_one,
    an_admin_creates_an_api_token_shown_once_and_revokes_it,
    a_saved_view_is_changed_from_its_page,
    an_admin_edits_an_agents_name_and_email,
);

async fn can_sign_in(app: &TestApp, email: &str, password: &str) -> bool {
    let client = client();
    let form = login_form(&client, app, "").await;
    let page =
        post_login(&client, app, Some(&form.cookie), &[("email", email), ("password", password), ("csrf", &form.csrf), ("next", "/")])
            .await;
    page.status == 303 && page.cookie("wd_session").is_some()
}

async fn an_agent_changes_their_password_and_an_admin_resets_one(backend: Backend) {
    // Many sign-ins for one email: the sign-in rate limit must not be what refuses them here.
    let app = TestApp::start_with_sim_and_config(backend, None, |_| {}, |c| c.web.login_attempts_per_minute = 100).await;
    windowdesk_server::api::admin::create_agent(app.store().as_ref(), "Ana Lima", "ana@example.com", AgentRole::Admin, Some(PASSWORD))
        .await
        .unwrap();
    let ben = add_agent(&app, "Ben Okafor", "ben@example.com").await;
    let ben_web = Web::sign_in(&app, "ben@example.com").await;
    let settings = ben_web.page("/settings").await;
    assert!(settings.contains(r#"id="password-form""#) && settings.contains(r#"<select id="time-zone""#), "{settings}");

    let new = "a much longer passphrase";
    let wrong = ben_web.post("/settings/password", &[("current", "not it"), ("password", new), ("confirm", new)]).await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("current: that is not your current password"), "{}", wrong.body);
    let differ = ben_web.post("/settings/password", &[("current", PASSWORD), ("password", new), ("confirm", "something else")]).await;
    assert_eq!(differ.status, 400);
    let short = ben_web.post("/settings/password", &[("current", PASSWORD), ("password", "short"), ("confirm", "short")]).await;
    assert_eq!(short.status, 400);
    assert!(can_sign_in(&app, "ben@example.com", PASSWORD).await, "nothing changed yet");
    let done = ben_web.post("/settings/password", &[("current", PASSWORD), ("password", new), ("confirm", new)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(!can_sign_in(&app, "ben@example.com", PASSWORD).await);
    assert!(can_sign_in(&app, "ben@example.com", new).await);

    // An agent cannot reset anyone's; an admin can.
    let ben_id = ben.id.to_string();
    let refused = ben_web.post("/admin/agents/password", &[("agent", &ben_id), ("password", "chosen by ben himself")]).await;
    assert_eq!(refused.status, 403);
    let ana_web = Web::sign_in(&app, "ana@example.com").await;
    let list = ana_web.page("/admin/agents").await;
    assert!(list.contains(&format!(r#"<a href="/admin/agents/{}">Ben Okafor</a>"#, ben.id)), "{list}");
    let page = ana_web.page(&format!("/admin/agents/{}", ben.id)).await;
    assert!(page.contains(r#"action="/admin/agents/password""#) && page.contains(&format!(r#"name="agent" value="{}""#, ben.id)), "{page}");
    let reset = ana_web.post("/admin/agents/password", &[("agent", &ben_id), ("password", "temporary password 1")]).await;
    assert_eq!(reset.status, 303, "{}", reset.body);
    assert!(can_sign_in(&app, "ben@example.com", "temporary password 1").await);
    assert_eq!(ana_web.post("/admin/agents/password", &[("agent", "999999"), ("password", "temporary password 1")]).await.status, 404);

    // Roles: Ben becomes admin and back; the desk's only admin cannot step down.
    let ana_id = app.store().agents().await.unwrap().into_iter().find(|a| a.email == "ana@example.com").unwrap().id.to_string();
    let alone = ana_web.post("/admin/agents/role", &[("agent", &ana_id), ("role", "agent")]).await;
    assert_eq!(alone.status, 409, "{}", alone.body);
    assert!(alone.body.contains("only admin"), "{}", alone.body);
    assert_eq!(ana_web.post("/admin/agents/role", &[("agent", &ben_id), ("role", "admin")]).await.status, 303);
    assert_eq!(ben_web.get("/admin/agents").await.status, 200, "Ben is an admin now");
    assert_eq!(ana_web.post("/admin/agents/role", &[("agent", &ben_id), ("role", "agent")]).await.status, 303);
    assert_eq!(ben_web.get("/admin/agents").await.status, 403);
    assert_eq!(ana_web.post("/admin/agents/role", &[("agent", &ben_id), ("role", "owner")]).await.status, 400);

    // Ben leaves: deactivated, his session ends, he cannot sign in, and he is not offered as an
    // assignee; reactivated, he can sign in again. Nobody deactivates themselves.
    let off = ana_web.post("/admin/agents/active", &[("agent", &ben_id), ("active", "false")]).await;
    assert_eq!(off.status, 303, "{}", off.body);
    assert_eq!(ben_web.get("/").await.status, 303, "his session ended");
    assert!(!can_sign_in(&app, "ben@example.com", "temporary password 1").await);
    let agents_page = ana_web.page("/admin/agents").await;
    assert!(agents_page.contains("no (deactivated)"), "{agents_page}");
    assert_eq!(ana_web.post("/admin/agents/active", &[("agent", &ana_id), ("active", "false")]).await.status, 409);
    assert_eq!(ana_web.post("/admin/agents/active", &[("agent", &ben_id), ("active", "true")]).await.status, 303);
    assert!(can_sign_in(&app, "ben@example.com", "temporary password 1").await);
    app.stop().await;
}

async fn an_admin_edits_an_agents_name_and_email(backend: Backend) {
    let app = TestApp::start_with_sim_and_config(backend, None, |_| {}, |c| c.web.login_attempts_per_minute = 100).await;
    windowdesk_server::api::admin::create_agent(app.store().as_ref(), "Ana Lima", "ana@example.com", AgentRole::Admin, Some(PASSWORD))
        .await
        .unwrap();
    let ben = add_agent(&app, "Ben Okafor", "ben@example.com").await;
    add_agent(&app, "Cleo Diaz", "cleo@example.com").await;
    let ben_web = Web::sign_in(&app, "ben@example.com").await;
    let page = format!("/admin/agents/{}", ben.id);
    assert_eq!(ben_web.get(&page).await.status, 403, "agents do not edit agents");
    assert_eq!(ben_web.post(&page, &[("name", "Benny"), ("email", "benny@example.com")]).await.status, 403);

    let ana_web = Web::sign_in(&app, "ana@example.com").await;
    let form = ana_web.page(&page).await;
    assert!(form.contains(r#"id="agent-details""#) && form.contains(r#"value="ben@example.com""#), "{form}");

    // Another agent's email: refused with the reason, and the page keeps what was typed.
    let taken = ana_web.post(&page, &[("name", "Ben O."), ("email", "Cleo@example.com")]).await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert!(taken.body.contains("an agent with email cleo@example.com already exists"), "{}", taken.body);
    assert!(taken.body.contains(r#"value="Ben O.""#) && taken.body.contains(r#"value="Cleo@example.com""#), "{}", taken.body);
    let blank = ana_web.post(&page, &[("name", "   "), ("email", "ben@example.com")]).await;
    assert_eq!(blank.status, 400);
    assert!(blank.body.contains("name: must not be empty"), "{}", blank.body);
    let malformed = ana_web.post(&page, &[("name", "Ben"), ("email", "ben at example")]).await;
    assert_eq!(malformed.status, 400);
    assert!(malformed.body.contains("is not an email address"), "{}", malformed.body);
    assert_eq!(ana_web.post("/admin/agents/999999", &[("name", "X"), ("email", "x@example.com")]).await.status, 404);
    let stored = app.store().agent(ben.id).await.unwrap().unwrap();
    assert_eq!((stored.name.as_str(), stored.email.as_str()), ("Ben Okafor", "ben@example.com"), "nothing refused was saved");

    // Saved: the new name shows everywhere, he signs in with the new address (not the old one),
    // and his current session carries on.
    let saved = ana_web.post(&page, &[("name", " Benedict Okafor "), ("email", "Benedict@Example.com")]).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(saved.location(), format!("/admin/agents/{}?done=saved", ben.id));
    let stored = app.store().agent(ben.id).await.unwrap().unwrap();
    assert_eq!((stored.name.as_str(), stored.email.as_str()), ("Benedict Okafor", "benedict@example.com"));
    assert!(ana_web.page("/admin/agents").await.contains(">Benedict Okafor</a>"));
    assert!(can_sign_in(&app, "benedict@example.com", PASSWORD).await);
    assert!(!can_sign_in(&app, "ben@example.com", PASSWORD).await);
    assert_eq!(ben_web.get("/").await.status, 200, "his session is his, not his address's");
    app.stop().await;
}

async fn an_admin_creates_an_api_token_shown_once_and_revokes_it(backend: Backend) {
    let app = TestApp::start(backend).await;
    windowdesk_server::api::admin::create_agent(app.store().as_ref(), "Ana Lima", "ana@example.com", AgentRole::Admin, Some(PASSWORD))
        .await
        .unwrap();
    add_agent(&app, "Ben Okafor", "ben@example.com").await;
    assert_eq!(Web::sign_in(&app, "ben@example.com").await.get("/admin/api-tokens").await.status, 403);
    let web = Web::sign_in(&app, "ana@example.com").await;
    let created = web.post("/admin/api-tokens", &[("name", "CRM sync")]).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let start = created.body.find(r#"id="new-token-value">"#).expect("the token is shown") + r#"id="new-token-value">"#.len();
    let token = &created.body[start..start + created.body[start..].find('<').unwrap()];
    assert!(token.starts_with("wdk_"), "{token}");
    let api = |t: &str| app.client.get(app.url("/api/v1/tickets")).bearer_auth(t).send();
    assert_eq!(api(token).await.unwrap().status(), 200, "the new token works");
    let listed = web.page("/admin/api-tokens").await;
    assert!(listed.contains("CRM sync") && !listed.contains(token), "listed, never shown again");
    let id = app.store().api_tokens().await.unwrap().into_iter().find(|t| t.name == "CRM sync").unwrap().id;
    let revoked = web.post(&format!("/admin/api-tokens/{id}/revoke"), &[]).await;
    assert_eq!(revoked.status, 303);
    assert_eq!(api(token).await.unwrap().status(), 401, "revoked");
    assert!(web.page("/admin/api-tokens").await.contains("revoked "));
    assert_eq!(web.post(&format!("/admin/api-tokens/{id}/revoke"), &[]).await.status, 404, "only once");
    assert_eq!(web.post("/admin/api-tokens", &[("name", "  ")]).await.status, 400);
    app.stop().await;
}

async fn a_saved_view_is_changed_from_its_page(backend: Backend) {
    let app = TestApp::start(backend).await;
    add_agent(&app, "Ben Okafor", "ben@example.com").await;
    add_agent(&app, "Cleo Park", "cleo@example.com").await;
    let ben = Web::sign_in(&app, "ben@example.com").await;
    let made = ben.post("/views", &[("name", "Pending VIPs"), ("status", "pending"), ("tag", "VIP"), ("assignee", "me")]).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let id: i64 = made.location().strip_prefix("/views/").unwrap().parse().unwrap();
    let page = ben.page(&format!("/views/{id}")).await;
    assert!(page.contains(r#"id="edit-view-name""#) && page.contains(r#"value="Pending VIPs""#), "{page}");
    assert!(page.contains(r#"<option value="pending" selected>"#), "the form starts from the view");
    assert!(page.contains("data-confirm"), "deleting asks first");
    let changed = ben.post(&format!("/views/{id}"), &[("name", "Open VIPs"), ("status", "open"), ("tag", "vip"), ("assignee", "")]).await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let view = app.store().saved_views(0).await.unwrap();
    let mine: Vec<_> = app.store().saved_views(ben_agent_id(&app).await).await.unwrap();
    assert!(view.iter().all(|v| v.id != id), "not shared");
    let v = mine.iter().find(|v| v.id == id).unwrap();
    assert_eq!(v.name, "Open VIPs");
    assert_eq!(
        (v.filter.status, v.filter.tag.as_deref(), v.filter.assignee),
        (Some(windowdesk_core::TicketStatus::Open), Some("vip"), None)
    );
    // Someone else's view is not theirs to change.
    let cleo = Web::sign_in(&app, "cleo@example.com").await;
    assert_eq!(cleo.post(&format!("/views/{id}"), &[("name", "Mine now")]).await.status, 404);
    assert_eq!(ben.post(&format!("/views/{id}"), &[("name", "  ")]).await.status, 400);
    app.stop().await;
}

async fn ben_agent_id(app: &TestApp) -> i64 {
    app.store().agents().await.unwrap().into_iter().find(|a| a.email == "ben@example.com").unwrap().id
}
