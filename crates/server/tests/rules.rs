//! Rules (SPEC 10, issue 13 items 5 to 7) through the REST API, on both backends: rules are validated
//! before they are stored, the shipped defaults are seeded once and stay deleted when deleted.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::sync::Arc;

use common::api::{assert_invalid, Api};
use common::*;
use reqwest::StatusCode;
use serde_json::json;
use windowdesk_core::rules::WindowEpisode;
use windowdesk_core::{Clock, ManualClock, SystemClock, Timestamp};
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;

on_both_backends!(
    a_rule_is_validated_stored_read_back_replaced_and_deleted,
    a_rule_with_an_unknown_placeholder_is_refused_naming_the_token,
    the_defaults_are_seeded_once_and_a_deleted_default_is_not_recreated_on_restart,
    the_window_episode_is_kept_beside_the_window_by_ingest,
    a_rule_fires_once_per_trigger_and_once_per_episode,
    field_only_firings_are_written_with_their_changes_and_events_all_or_nothing,
);

fn auto_reply(text: &str) -> serde_json::Value {
    json!({
        "name": "Thanks",
        "position": 5,
        "event": "message_received",
        "once_per_episode": true,
        "conditions": {"all": [{"field": "first_message", "value": true}], "any": []},
        "actions": [
            {"type": "reply", "text": text, "when_closed": {"kind": "template", "name": "ticket_received", "language": "en", "params": {"1": "{{ticket.id}}"}}},
            {"type": "add_tags", "tags": ["auto-replied"]}
        ]
    })
}

async fn a_rule_is_validated_stored_read_back_replaced_and_deleted(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let (status, created) = api.post("/api/v1/rules", auto_reply("Your ticket is {{ticket.id}}.")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["enabled"], true, "enabled by default");
    assert_eq!(created["event"], "message_received");
    assert_eq!(created["actions"][0]["text"], "Your ticket is {{ticket.id}}.");
    assert_eq!(created["actions"][0]["when_closed"]["kind"], "template");
    assert_eq!(created["conditions"]["all"][0]["field"], "first_message");
    assert!(created["created_by"].as_str().unwrap().starts_with("api:"), "{created}");
    let id = created["id"].as_i64().unwrap();

    // Listed in the order they run.
    let (status, listed) = api.get("/api/v1/rules").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"][0]["id"], id, "{listed}");
    let positions: Vec<i64> = listed["data"].as_array().unwrap().iter().map(|r| r["position"].as_i64().unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{positions:?}");

    // Switched off by replacing it whole.
    let mut off = auto_reply("Your ticket is {{ticket.id}}.");
    off["enabled"] = json!(false);
    let (status, updated) = api.put(&format!("/api/v1/rules/{id}"), off).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["enabled"], false);
    let (_, read) = api.get(&format!("/api/v1/rules/{id}")).await;
    assert_eq!(read["enabled"], false);

    // Nonsense is refused before it is stored, naming the field path.
    let (status, body) = api.post("/api/v1/rules", json!({"name": " ", "event": "ticket_created", "actions": []})).await;
    assert_invalid(status, &body, "name");
    assert!(body["error"]["message"].as_str().unwrap().contains("at least one action"), "every problem is listed: {body}");
    let (status, body) = api.post("/api/v1/rules", json!({"name": "x", "event": "someday", "actions": []})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = api.put("/api/v1/rules/999999", auto_reply("x")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let status = api.delete(&format!("/api/v1/rules/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.get(&format!("/api/v1/rules/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn a_rule_with_an_unknown_placeholder_is_refused_naming_the_token(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let before = api.get("/api/v1/rules").await.1["data"].as_array().unwrap().len();
    let (status, body) = api.post("/api/v1/rules", auto_reply("Your ticket is {{ticket.idd}}.")).await;
    assert_invalid(status, &body, "actions[0].text");
    assert!(body["error"]["message"].as_str().unwrap().contains("{{ticket.idd}}"), "names the token: {body}");
    // In a closed-window variant too, with its own path.
    let mut bad = auto_reply("Fine {{ticket.id}}");
    bad["actions"][0]["when_closed"]["params"]["1"] = json!("{{ticket.idd}}");
    let (status, body) = api.post("/api/v1/rules", bad).await;
    assert_invalid(status, &body, "actions[0].when_closed.params.1");
    assert!(body["error"]["message"].as_str().unwrap().contains("{{ticket.idd}}"), "{body}");
    // Nothing was stored.
    let (_, listed) = api.get("/api/v1/rules").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), before);
    app.stop().await;
}

/// What a restart does about rules: the store opened again on the same database, and the startup
/// seeding of the defaults run on it.
async fn restart_seeding(app: &TestApp) -> Vec<windowdesk_store::RuleRow> {
    let store = windowdesk_store::open(&app.db.url, windowdesk_store::StoreOptions::default()).await.unwrap();
    windowdesk_server::rules::seed_defaults(store.as_ref(), SystemClock.now()).await.unwrap();
    let rows = store.rules().await.unwrap();
    store.close().await;
    rows
}

/// A desk that seeds the shipped rules, as a production desk does (`[rules] seed_defaults`; the
/// other tests' desks start without rules).
async fn with_defaults(backend: Backend) -> TestApp {
    TestApp::start_with_sim_and_config(backend, None, |_| {}, |c| c.rules.seed_defaults = true).await
}

async fn the_defaults_are_seeded_once_and_a_deleted_default_is_not_recreated_on_restart(backend: Backend) {
    let app = with_defaults(backend).await;
    let api = Api::new(&app).await;
    let (status, listed) = api.get("/api/v1/rules").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<String> = listed["data"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect();
    let shipped: Vec<String> = windowdesk_core::rules::default_rules().into_iter().map(|d| d.name).collect();
    assert_eq!(names, shipped, "the shipped defaults, in their order");
    assert!(listed["data"].as_array().unwrap().iter().all(|r| r["created_by"] == "system"), "{listed}");

    // An admin deletes one and switches another off.
    let first = &listed["data"][0];
    let status = api.delete(&format!("/api/v1/rules/{}", first["id"])).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let second = listed["data"][1].clone();
    let mut off = second.clone();
    for k in ["id", "created_at", "created_by", "updated_at", "updated_by"] {
        off.as_object_mut().unwrap().remove(k);
    }
    off["enabled"] = json!(false);
    let (status, body) = api.put(&format!("/api/v1/rules/{}", second["id"]), off).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The desk starts again on the same database: nothing is re-created or switched back on.
    let rows = restart_seeding(&app).await;
    assert_eq!(rows.len(), shipped.len() - 1, "{rows:?}");
    assert!(rows.iter().all(|r| r.name != shipped[0]), "the deleted default stays deleted");
    assert!(!rows.iter().find(|r| r.id == second["id"].as_i64().unwrap()).unwrap().enabled, "and the switched-off one stays off");

    // Even with every rule deleted.
    for r in &rows {
        assert_eq!(api.delete(&format!("/api/v1/rules/{}", r.id)).await, StatusCode::NO_CONTENT);
    }
    let rows = restart_seeding(&app).await;
    assert!(rows.is_empty(), "{rows:?}");
    app.stop().await;
}

/// Issue 13 item 6: three messages in the same second are one window episode, so are messages that
/// keep the window open; the first message after the window closed starts the next one.
async fn the_window_episode_is_kept_beside_the_window_by_ingest(backend: Backend) {
    // Friday 2026-12-04 19:00 in Berlin.
    let friday_evening: i64 = 1_796_407_200;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(friday_evening + 4 * 24 * 3600)));
    let app = TestApp::start_with_sim(backend, Some(clock), |_| {}).await;
    let customer = "4915112345678";
    let mut sent = 0;
    let mut say = |body: &'static str, at: i64| {
        sent += 1;
        let n = sent;
        let app = &app;
        async move {
            app.sim().say(Say::text(customer, body).at(at)).await.unwrap();
            let ticket = app.only_ticket().await;
            app.eventually("the message", || async {
                (app.store()
                    .ticket_messages(ticket)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|m| m.direction == windowdesk_store::Direction::Inbound)
                    .count()
                    >= n)
                    .then_some(())
            })
            .await;
            let identity = app.store().ticket(ticket).await.unwrap().unwrap().identity_id;
            app.store().window_episode(identity).await.unwrap()
        }
    };
    let opened = Some(WindowEpisode { started_at: Timestamp::from_unix_seconds(friday_evening) });
    assert_eq!(say("hello?", friday_evening).await, opened);
    assert_eq!(say("photo 1", friday_evening).await, opened, "the same second: the same episode");
    assert_eq!(say("photo 2", friday_evening).await, opened);
    assert_eq!(say("ok, see you Monday", friday_evening + 3600).await, opened, "a reply that keeps the window open goes on");
    // The window closed on Saturday 20:00; a message on Sunday evening starts the next episode.
    let sunday = friday_evening + 2 * 24 * 3600;
    assert_eq!(say("still there?", sunday).await, Some(WindowEpisode { started_at: Timestamp::from_unix_seconds(sunday) }));
    app.stop().await;
}

/// Issue 13 item 6: the store refuses a second firing of a rule for the same trigger, and of a
/// once-per-episode rule for the same ticket and episode; deleting the rule deletes its firings.
async fn a_rule_fires_once_per_trigger_and_once_per_episode(backend: Backend) {
    let app = with_defaults(backend).await;
    let store = app.store();
    let rule = store.rules().await.unwrap()[0].id;
    let at = SystemClock.now();
    let firing = |trigger: &str, episode: Option<&str>| windowdesk_store::RuleFiring {
        rule_id: rule,
        ticket_id: 7,
        episode_key: episode.map(str::to_owned),
        trigger_key: trigger.to_owned(),
        at,
    };
    assert!(store.record_firing(&firing("message:1", Some("window:1000"))).await.unwrap());
    assert!(!store.record_firing(&firing("message:1", Some("window:1000"))).await.unwrap(), "the same trigger");
    assert!(!store.record_firing(&firing("message:2", Some("window:1000"))).await.unwrap(), "the same episode");
    assert!(store.record_firing(&firing("message:3", Some("window:9000"))).await.unwrap(), "the next episode");
    // Without the episode limit, once per trigger.
    assert!(store.record_firing(&firing("message:4", None)).await.unwrap());
    assert!(store.record_firing(&firing("message:5", None)).await.unwrap());
    assert!(!store.record_firing(&firing("message:5", None)).await.unwrap());
    let api = Api::new(&app).await;
    assert_eq!(api.delete(&format!("/api/v1/rules/{rule}")).await, StatusCode::NO_CONTENT, "a rule that fired can be deleted");
    app.stop().await;
}

/// The rules worker writes rules that only set fields in one transaction with their firing records
/// and `rule_applied` events: a firing already recorded writes nothing, and an error (a ticket gone
/// or closed) writes nothing at all, so each can then run on its own.
async fn field_only_firings_are_written_with_their_changes_and_events_all_or_nothing(backend: Backend) {
    use windowdesk_core::{Priority, TicketStatus};
    use windowdesk_store::{FieldFiring, RuleFiring, TicketChange};
    // A rule the desk's own worker never fires here (nothing fails to deliver), so only the test writes.
    let app = TestApp::start_with_sim(backend, None, |_| {}).await;
    let store = app.store();
    let draft: windowdesk_core::RuleDraft = serde_json::from_value(json!({
        "name": "Tag failures", "event": "delivery_failed", "actions": [{"type": "add_tags", "tags": ["failed"]}]
    }))
    .unwrap();
    let rule = store.create_rule(&windowdesk_server::rules::write_of(&draft, "test", SystemClock.now()).unwrap()).await.unwrap().id;
    app.sim().say(Say::text("4915112345678", "hello")).await.unwrap();
    let ticket = app.only_ticket().await;
    let at = SystemClock.now();
    let firing = |ticket_id: i64, trigger: &str, tag: &str| FieldFiring {
        firing: RuleFiring { rule_id: rule, ticket_id, episode_key: None, trigger_key: trigger.to_owned(), at },
        change: TicketChange { add_tags: vec![tag.to_owned()], priority: Some(Priority::High), ..TicketChange::default() },
        actor: format!("rule:{rule}"),
        data: json!({"rule_id": rule, "trigger": trigger}),
    };
    let applied = store.apply_field_firings(&[firing(ticket, "event:1", "first"), firing(ticket, "event:2", "second")]).await.unwrap();
    assert_eq!(applied, [true, true]);
    let summary = store.ticket_summary(ticket).await.unwrap().unwrap();
    assert_eq!(summary.tags, ["first", "second"]);
    assert_eq!(summary.priority, Priority::High);
    let events = store.ticket_events(ticket).await.unwrap();
    let of_rule = |kind: &str| events.iter().filter(|e| e.kind == kind && e.actor == format!("rule:{rule}")).count();
    assert_eq!(of_rule("rule_applied"), 2, "one event per firing");
    assert_eq!(of_rule("tags_changed"), 2);
    assert_eq!(of_rule("priority_changed"), 1, "the second firing found the priority already high");

    // Already fired for event:1: nothing is written for it; event:3 is.
    let applied = store.apply_field_firings(&[firing(ticket, "event:1", "again"), firing(ticket, "event:3", "third")]).await.unwrap();
    assert_eq!(applied, [false, true]);
    assert_eq!(store.ticket_summary(ticket).await.unwrap().unwrap().tags, ["first", "second", "third"]);

    // A ticket that does not exist fails the whole batch: the firing before it is not recorded either.
    let err = store.apply_field_firings(&[firing(ticket, "event:4", "fourth"), firing(ticket + 1000, "event:6", "x")]).await;
    assert!(err.is_err(), "{err:?}");
    assert_eq!(store.ticket_summary(ticket).await.unwrap().unwrap().tags, ["first", "second", "third"]);
    assert!(store.record_firing(&firing(ticket, "event:4", "fourth").firing).await.unwrap(), "event:4 was not recorded");

    // A closed ticket is read-only: nothing is written.
    let close = TicketChange { status: Some(TicketStatus::Closed), ..TicketChange::default() };
    store.update_ticket(ticket, &close, "agent:1", at).await.unwrap();
    let events_before = store.ticket_events(ticket).await.unwrap().len();
    assert!(store.apply_field_firings(&[firing(ticket, "event:5", "fifth")]).await.is_err());
    assert_eq!(store.ticket_events(ticket).await.unwrap().len(), events_before);

    // Several events' groups in one commit: each all or nothing, on its own.
    app.sim().say(Say::text("4915187654321", "hi")).await.unwrap();
    let other = app
        .eventually("the second ticket", || async {
            store.list_tickets(&Default::default()).await.unwrap().into_iter().map(|t| t.id).find(|id| *id != ticket)
        })
        .await;
    let results = store
        .apply_field_firing_groups(&[
            vec![firing(other, "event:7", "seventh"), firing(other, "event:8", "eighth")],
            vec![firing(other, "event:9", "ninth"), firing(ticket, "event:10", "closed ticket")],
            vec![firing(other, "event:7", "again"), firing(other, "event:11", "eleventh")],
        ])
        .await
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap(), &[true, true]);
    assert!(results[1].is_err(), "the closed ticket fails its group: {:?}", results[1]);
    assert_eq!(results[2].as_ref().unwrap(), &[false, true], "event:7 had fired in the first group");
    assert_eq!(store.ticket_summary(other).await.unwrap().unwrap().tags, ["eighth", "eleventh", "seventh"], "nothing of the failed group");
    assert!(store.record_firing(&firing(other, "event:9", "ninth").firing).await.unwrap(), "event:9 was rolled back with its group");
    assert_eq!(store.ticket_events(ticket).await.unwrap().len(), events_before);
    app.stop().await;
}
