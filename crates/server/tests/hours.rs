//! Business hours (SPEC 10, issue 13 items 1 and 2) through the REST API, on both backends: schedules
//! are validated and stored, given to a number, and the ticket's window says how it meets them.

#![allow(clippy::unwrap_used)] // scenario functions called from the generated #[test]s

mod common;

use std::sync::Arc;

use common::api::{assert_invalid, Api};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;
use windowdesk_core::{ManualClock, Timestamp};
use windowdesk_sim::Say;
use windowdesk_store::testing::Backend;

on_both_backends!(
    a_schedule_is_validated_stored_and_read_back,
    a_schedule_that_serves_a_number_cannot_be_deleted,
    a_window_closing_outside_business_hours_says_so_and_when_the_team_is_back,
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

    app.stop().await;
}
