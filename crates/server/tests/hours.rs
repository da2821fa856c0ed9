//! Business hours (SPEC 10, issue 13 items 1 and 2) through the REST API, on both backends: schedules
//! are validated and stored, given to a number, and the ticket's window says how it meets them.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::sync::Arc;

use common::api::{assert_invalid, Api};
use common::web::{add_agent, Web, PASSWORD};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use windowdesk_core::{ManualClock, Timestamp};
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;
use windowdesk_store::AgentRole;

on_both_backends!(
    a_schedule_is_validated_stored_and_read_back,
    a_schedule_that_serves_a_number_cannot_be_deleted,
    a_window_closing_outside_business_hours_says_so_and_when_the_team_is_back,
    an_admin_sets_business_hours_on_the_admin_page,
);

fn office_hours(name: &str) -> serde_json::Value {
    json!({
        "name": name,
        "time_zone": "Europe/Berlin",
        "weekly": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"], "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]},
        "holidays": [{"date": "2026-12-25", "name": "Christmas Day"}, {"from": "2026-12-31", "to": "2027-01-01", "name": "New Year"}]
    })
}

async fn a_schedule_is_validated_stored_and_read_back(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let (status, created) = api.post("/api/v1/schedules", office_hours("Office")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["time_zone"], "Europe/Berlin");
    assert_eq!(created["weekly"]["mon"], json!(["09:00-17:00"]));
    assert_eq!(created["weekly"]["sat"], json!([]));
    assert_eq!(created["holidays"][0]["name"], "Christmas Day");
    assert_eq!(created["business_number_ids"], json!([]));
    assert!(created["now"]["open"].is_boolean());
    let id = created["id"].as_i64().unwrap();
    let (status, listed) = api.get("/api/v1/schedules").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"][0]["id"], id);

    // What is wrong is named.
    let mut bad = office_hours("Bad");
    bad["time_zone"] = json!("Europe/Berlinn");
    let (status, body) = api.post("/api/v1/schedules", bad).await;
    assert_invalid(status, &body, "time_zone");
    let mut bad = office_hours("Bad");
    bad["weekly"]["fri"] = json!(["17:00-09:00"]);
    let (status, body) = api.post("/api/v1/schedules", bad).await;
    assert_invalid(status, &body, "weekly.fri");
    assert!(body["error"]["message"].as_str().unwrap().contains("two intervals"), "{body}");
    let mut bad = office_hours("Bad");
    bad["weekly"]["mon"] = json!(["09:00-13:00", "12:00-17:00"]);
    let (status, body) = api.post("/api/v1/schedules", bad).await;
    assert_invalid(status, &body, "weekly.mon");
    let mut bad = office_hours("Bad");
    bad["holidays"] = json!([{"date": "2026-13-01", "name": "Nope"}]);
    let (status, body) = api.post("/api/v1/schedules", bad).await;
    assert_invalid(status, &body, "holidays");
    let (status, body) = api.post("/api/v1/schedules", json!({"name": "", "time_zone": "UTC"})).await;
    assert_invalid(status, &body, "name");
    let (status, body) = api.post("/api/v1/schedules", office_hours("Office")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{body}");

    // Replaced whole; overnight hours as two intervals.
    let mut night = office_hours("Office");
    night["weekly"]["fri"] = json!(["09:00-17:00", "22:00-24:00"]);
    night["weekly"]["sat"] = json!(["00:00-02:00"]);
    let (status, updated) = api.put(&format!("/api/v1/schedules/{id}"), night).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["weekly"]["sat"], json!(["00:00-02:00"]));
    let (status, _) = api.put("/api/v1/schedules/999999", office_hours("Other")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn a_schedule_that_serves_a_number_cannot_be_deleted(backend: Backend) {
    let app = TestApp::start(backend).await;
    let api = Api::new(&app).await;
    let (_, created) = api.post("/api/v1/schedules", office_hours("Office")).await;
    let id = created["id"].as_i64().unwrap();
    let (_, numbers) = api.get("/api/v1/numbers").await;
    let number = numbers["data"][0]["id"].as_i64().unwrap();
    let (status, body) = api.put(&format!("/api/v1/numbers/{number}/schedule"), json!({"schedule_id": id})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, read) = api.get(&format!("/api/v1/schedules/{id}")).await;
    assert_eq!(read["business_number_ids"], json!([number]));
    let (status, body) = api.call(Method::DELETE, &format!("/api/v1/schedules/{id}"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("still serves"), "{body}");
    let (status, _) = api.put(&format!("/api/v1/numbers/{number}/schedule"), json!({"schedule_id": 999_999})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.put("/api/v1/numbers/999999/schedule", json!({"schedule_id": id})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.put(&format!("/api/v1/numbers/{number}/schedule"), json!({"schedule_id": null})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.call(Method::DELETE, &format!("/api/v1/schedules/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.get(&format!("/api/v1/schedules/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// Issue 13: a customer writes on Friday at 19:00 (Monday to Friday 09:00-17:00, Berlin): the window
/// closes on Saturday at 19:00, outside business hours, with no business time left before it, and
/// the team is back on Monday at 09:00.
async fn a_window_closing_outside_business_hours_says_so_and_when_the_team_is_back(backend: Backend) {
    // Friday 2026-12-04 19:00 in Berlin is 18:00 UTC.
    let friday_evening = 1_796_407_200;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(friday_evening + 60)));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    let api = Api::new(&app).await;
    app.sim().say(Say::text("4915112345678", "is anyone there?").at(friday_evening)).await.unwrap();
    let ticket = app.only_ticket().await;
    let (_, before) = api.get(&format!("/api/v1/tickets/{ticket}/window")).await;
    assert_eq!(before["next_business_open"], json!(null), "no business hours: always open, nothing to wait for");
    assert_eq!(before["closes_outside_business_hours"], false);

    let (_, created) = api.post("/api/v1/schedules", office_hours("Office")).await;
    let number = app.store().ticket(ticket).await.unwrap().unwrap().business_number_id;
    api.put(&format!("/api/v1/numbers/{number}/schedule"), json!({"schedule_id": created["id"]})).await;
    let (status, window) = api.get(&format!("/api/v1/tickets/{ticket}/window")).await;
    assert_eq!(status, StatusCode::OK, "{window}");
    assert_eq!(window["open"], true);
    assert_eq!(window["expires_at"], "2026-12-05T18:00:00.000Z", "Saturday 19:00 in Berlin");
    assert_eq!(window["closes_outside_business_hours"], true);
    assert_eq!(window["business_seconds_left"], 0, "nobody is at work before it closes");
    assert_eq!(window["next_business_open"], "2026-12-07T08:00:00.000Z", "Monday 09:00 in Berlin");

    // The agent reads it in the banner, in the number's time zone, relative to today there: it is
    // Friday evening in Berlin, so Saturday is "tomorrow".
    add_agent(&app, "Ana", "ana@example.com").await;
    let web = Web::sign_in(&app, "ana@example.com").await;
    let page = web.page(&format!("/tickets/{ticket}")).await;
    assert!(
        page.contains("Closes <time datetime=\"2026-12-05T18:00:00.000Z\">tomorrow 19:00</time>, outside business hours; nobody is at work before then; team back <time datetime=\"2026-12-07T08:00:00.000Z\">Monday 09:00</time>."),
        "{}",
        page.lines().filter(|l| l.contains("window-hours") || l.contains("outside")).collect::<Vec<_>>().join("\n")
    );

    app.stop().await;
}

async fn an_admin_sets_business_hours_on_the_admin_page(backend: Backend) {
    let app = TestApp::start(backend).await;
    windowdesk_server::api::admin::create_agent(app.store().as_ref(), "Ada", "ada@example.com", AgentRole::Admin, Some(PASSWORD))
        .await
        .unwrap();
    let web = Web::sign_in(&app, "ada@example.com").await;
    let page = web.page("/admin/hours").await;
    assert!(page.contains("Always open") && page.contains("New schedule"), "{page}");
    let post = |name: &'static str, fri: &'static str, holidays: &'static str| {
        let web = &web;
        async move {
            let fields = [
                ("name", name),
                ("time_zone", "Europe/Berlin"),
                ("mon", "09:00-12:30, 13:30-17:00"),
                ("tue", "09:00-17:00"),
                ("wed", "09:00-17:00"),
                ("thu", "09:00-17:00"),
                ("fri", fri),
                ("sat", ""),
                ("sun", ""),
                ("holidays", holidays),
            ];
            web.post("/admin/hours", &fields).await
        }
    };
    // A mistake is shown next to its field, and what was typed is kept.
    let refused = post("Office", "17:00-09:00", "2026-12-25 Christmas Day").await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("data-field=\"weekly.fri\"") && refused.body.contains("two intervals"), "{}", refused.body);
    assert!(refused.body.contains("value=\"17:00-09:00\""), "the form keeps what was typed");
    let refused = post("Office", "09:00-17:00", "Christmas 2026-12-25").await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("data-field=\"holidays\"") && refused.body.contains("line 1"), "{}", refused.body);

    let saved = post("Office", "09:00-17:00", "2026-12-25 Christmas Day\n2026-12-31..2027-01-01 New Year").await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let schedules = app.store().schedules().await.unwrap();
    assert_eq!(schedules.len(), 1);
    assert!(schedules[0].spec.contains("13:30-17:00") && schedules[0].spec.contains("New Year"), "{}", schedules[0].spec);
    let number = app.store().all_number_settings().await.unwrap()[0].business_number_id;
    let id = schedules[0].id.to_string();
    let assigned = web.post(&format!("/admin/hours/numbers/{number}"), &[("schedule_id", id.as_str())]).await;
    assert_eq!(assigned.status, 303, "{}", assigned.body);
    assert_eq!(app.store().number_schedule(number).await.unwrap().map(|s| s.name), Some("Office".to_owned()));
    let page = web.page("/admin/hours").await;
    assert!(page.contains("2026-12-31..2027-01-01 New Year") && page.contains("09:00-12:30, 13:30-17:00"), "{page}");

    // Agents do not see or change it.
    add_agent(&app, "Ana", "ana@example.com").await;
    let agent = Web::sign_in(&app, "ana@example.com").await;
    assert_eq!(agent.get("/admin/hours").await.status, 403);
    app.stop().await;
}
