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
    holidays_are_imported_from_an_ical_file_and_never_replace_an_admins_day,
    a_calendar_is_fetched_from_its_url_and_every_problem_is_named,
    an_admin_imports_a_calendar_file_on_the_admin_page,
    an_import_never_overwrites_a_schedule_saved_in_between,
    the_closing_soon_view_can_show_only_windows_with_little_business_time_left,
    the_filtered_closing_soon_view_pages_through_every_window_once,
    the_banner_says_today_and_tomorrow_in_the_numbers_zone,
);

/// The holiday calendar the import tests read: all-day, multi-day, timed and yearly events, one in
/// the past and one without a date.
fn fixture_ics() -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/ical/holidays.ics")).unwrap()
}

/// 1 December 2026, 10:00 in Berlin: the import's "today".
const DECEMBER_FIRST: i64 = 1_796_115_600;

async fn desk_on(backend: Backend, at: i64) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(at)));
    let app = TestApp::start_with_sim(backend, Some(clock.clone()), |_| {}).await;
    (app, clock)
}

/// Posts a calendar as `text/calendar`.
async fn post_ics(api: &Api<'_>, path: &str, ics: &str) -> (StatusCode, serde_json::Value) {
    let resp = api
        .app
        .client
        .post(api.app.url(path))
        .bearer_auth(&api.token)
        .header("content-type", "text/calendar")
        .body(ics.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

/// `(date or from..to, name, source)` of a schedule's holidays, in order.
fn holidays(schedule: &serde_json::Value) -> Vec<(String, String, String)> {
    schedule["holidays"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let when = match h["date"].as_str() {
                Some(d) => d.to_owned(),
                None => format!("{}..{}", h["from"].as_str().unwrap(), h["to"].as_str().unwrap()),
            };
            (when, h["name"].as_str().unwrap().to_owned(), h["source"].as_str().unwrap().to_owned())
        })
        .collect()
}

fn names(list: &serde_json::Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap()).collect()
}

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
    // A single day is written with `date` alone: no `"from": null`.
    assert_eq!(created["holidays"][0], json!({"date": "2026-12-25", "name": "Christmas Day", "source": "admin"}));
    assert_eq!(created["holidays"][1], json!({"from": "2026-12-31", "to": "2027-01-01", "name": "New Year", "source": "admin"}));
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
        page.contains("Closes <time datetime=\"2026-12-05T18:00:00.000Z\" title=\"Sat 5 Dec 2026, 19:00 CET\">tomorrow 19:00</time>, outside business hours; nobody is at work before then; team back <time datetime=\"2026-12-07T08:00:00.000Z\" title=\"Mon 7 Dec 2026, 09:00 CET\">Monday 09:00</time> (Berlin time)."),
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

const CHRISTMAS_CLOSURE: &str = "Closed between the years (a long summary folded over two lines of the file)";

async fn holidays_are_imported_from_an_ical_file_and_never_replace_an_admins_day(backend: Backend) {
    let (app, _clock) = desk_on(backend, DECEMBER_FIRST).await;
    let api = Api::new(&app).await;
    let mut office = office_hours("Office");
    office["holidays"] = json!([{"date": "2026-12-25", "name": "Christmas (our own)"}, {"date": "2026-12-30", "name": "Inventory"}]);
    let (_, created) = api.post("/api/v1/schedules", office).await;
    let id = created["id"].as_i64().unwrap();
    let import = format!("/api/v1/schedules/{id}/holidays/import");

    let (status, first) = post_ics(&api, &import, &fixture_ics()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["calendar"], "Holidays in Germany", "the calendar's own name, X-WR-CALNAME");
    assert_eq!(
        names(&first["added"]),
        vec!["Team party", "Boxing Day, St Stephen's Day", CHRISTMAS_CLOSURE, CHRISTMAS_CLOSURE, "New Year's Day", "New Year's Day"]
    );
    assert_eq!(first["added"][0], json!({"date": "2026-12-18", "name": "Team party", "source": "ical", "calendar": "Holidays in Germany"}));
    assert_eq!(
        first["kept"],
        json!([
            {"from": "2026-12-25", "to": "2026-12-25", "name": "Christmas Day", "reason": "the admin's holiday \"Christmas (our own)\" covers it"},
            {"from": "2026-12-30", "to": "2026-12-30", "name": CHRISTMAS_CLOSURE, "reason": "the admin's holiday \"Inventory\" covers it"},
        ])
    );
    assert_eq!(
        first["skipped"],
        json!([
            {"summary": "Labour Day 2025", "uid": "past-2025@test", "reason": "in the past: ended before today (2026-12-01)"},
            {"summary": "Someday", "uid": "no-date@test", "reason": "has no date: DTSTART is missing"},
        ])
    );
    let expected = vec![
        ("2026-12-18".to_owned(), "Team party".to_owned(), "ical".to_owned()),
        ("2026-12-25".into(), "Christmas (our own)".into(), "admin".into()),
        ("2026-12-26".into(), "Boxing Day, St Stephen's Day".into(), "ical".into()),
        ("2026-12-28..2026-12-29".into(), CHRISTMAS_CLOSURE.into(), "ical".into()),
        ("2026-12-30".into(), "Inventory".into(), "admin".into()),
        ("2026-12-31".into(), CHRISTMAS_CLOSURE.into(), "ical".into()),
        ("2027-01-01".into(), "New Year's Day".into(), "ical".into()),
        ("2028-01-01".into(), "New Year's Day".into(), "ical".into()),
    ];
    assert_eq!(holidays(&first["schedule"]), expected);

    // The same calendar again: nothing added, nothing duplicated, nothing written.
    let stored = app.store().schedule(id).await.unwrap().unwrap();
    let (status, again) = post_ics(&api, &import, &fixture_ics()).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!((again["added"].as_array().unwrap().len(), again["unchanged"].as_array().unwrap().len()), (0, 6), "{again}");
    assert_eq!(holidays(&again["schedule"]), expected);
    assert_eq!(
        app.store().schedule(id).await.unwrap().unwrap().updated_at,
        stored.updated_at,
        "an import that changes nothing writes nothing"
    );

    // An admin then writes a day the calendar also closes: a newer version of the calendar (without
    // the party) replaces the earlier import, and the admin's day stays theirs.
    let (_, mut edited) = api.get(&format!("/api/v1/schedules/{id}")).await;
    let holidays_now = edited["holidays"].as_array_mut().unwrap();
    holidays_now.push(json!({"date": "2026-12-26", "name": "Boxing Day, office closed"}));
    edited["name"] = json!("Office");
    let edited = json!({"name": "Office", "time_zone": edited["time_zone"], "weekly": edited["weekly"], "holidays": edited["holidays"]});
    let (status, body) = api.put(&format!("/api/v1/schedules/{id}"), edited).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(holidays(&body).contains(&("2026-12-26".into(), "Boxing Day, office closed".into(), "admin".into())), "{body}");
    assert!(!holidays(&body).iter().any(|h| h.1 == "Boxing Day, St Stephen's Day"), "the admin's day is cut out of the import: {body}");
    let newer = fixture_ics().replace("SUMMARY:Team party", "SUMMARY:Team party\r\nSTATUS:CANCELLED");
    let (status, third) = post_ics(&api, &import, &newer).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    assert_eq!(names(&third["removed"]), vec!["Team party"]);
    assert_eq!(third["added"], json!([]));
    assert!(
        third["kept"].as_array().unwrap().iter().any(|k| k["reason"] == "the admin's holiday \"Boxing Day, office closed\" covers it"),
        "{third}"
    );
    assert!(third["skipped"].as_array().unwrap().iter().any(|k| k["reason"] == "cancelled (STATUS:CANCELLED)"), "{third}");
    let now = holidays(&third["schedule"]);
    assert!(now.contains(&("2026-12-26".into(), "Boxing Day, office closed".into(), "admin".into())), "{now:?}");
    assert!(now.contains(&("2026-12-25".into(), "Christmas (our own)".into(), "admin".into())), "{now:?}");
    assert_eq!(now.iter().filter(|h| h.2 == "ical").count(), 4);

    // Under another name it is a second import, side by side; removing one leaves the other.
    let (status, other) = post_ics(
        &api,
        &format!("{import}?calendar=Team%20events"),
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270312\r\nSUMMARY:Offsite\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{other}");
    assert_eq!(other["calendar"], "Team events");
    let status = api.delete(&format!("{import}?calendar=Holidays%20in%20Germany")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, after) = api.get(&format!("/api/v1/schedules/{id}")).await;
    let left: Vec<(String, String)> = holidays(&after).into_iter().map(|h| (h.1, h.2)).collect();
    assert_eq!(
        left,
        vec![
            ("Christmas (our own)".into(), "admin".into()),
            ("Boxing Day, office closed".into(), "admin".into()),
            ("Inventory".into(), "admin".into()),
            ("Offsite".into(), "ical".into()),
        ]
    );
    assert_eq!(api.delete(&format!("{import}?calendar=Holidays%20in%20Germany")).await, StatusCode::NOT_FOUND);

    // A file that is not a calendar, and a calendar without events, say so; nothing changes.
    let (status, body) = post_ics(&api, &import, "Subject,Start Date\nChristmas,12/25/2026\n").await;
    assert_invalid(status, &body, "body");
    assert_eq!(body["error"]["message"], "body: not an iCalendar file: it starts with \"Subject,Start Date\" instead of BEGIN:VCALENDAR");
    let (status, body) = post_ics(&api, &import, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n").await;
    assert_invalid(status, &body, "body");
    assert!(body["error"]["message"].as_str().unwrap().contains("no events"), "{body}");
    let (status, body) = post_ics(&api, &import, "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:unfinished\r\n").await;
    assert_invalid(status, &body, "body");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("body: not an iCalendar file: it cannot be parsed"), "{body}");
    let (_, unchanged) = api.get(&format!("/api/v1/schedules/{id}")).await;
    assert_eq!(holidays(&unchanged), holidays(&after));
    let (status, _) = post_ics(&api, "/api/v1/schedules/999999/holidays/import", &fixture_ics()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let resp =
        app.client.post(app.url(&import)).bearer_auth(&api.token).header("content-type", "text/csv").body("a,b").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!("BEGIN:VCALENDAR\r\n{}", "X-FILLER:0123456789\r\n".repeat(120_000));
    let (status, body) = post_ics(&api, &import, &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("2097152 bytes"), "{body}");
    app.stop().await;
}

/// A calendar server on a local port: the fixture, a 404, an HTML page and an oversized file.
async fn calendar_server() -> String {
    use axum::http::header::CONTENT_TYPE;
    use axum::routing::get;
    let ics = fixture_ics();
    let router = axum::Router::new()
        .route("/holidays.ics", get(move || async move { ([(CONTENT_TYPE, "text/calendar; charset=utf-8")], ics) }))
        .route("/page", get(|| async { ([(CONTENT_TYPE, "text/html")], "<html><body>Our holidays</body></html>") }))
        .route("/huge.ics", get(|| async { format!("BEGIN:VCALENDAR\r\n{}", "X-FILLER:0123456789\r\n".repeat(150_000)) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

async fn a_calendar_is_fetched_from_its_url_and_every_problem_is_named(backend: Backend) {
    let (app, _clock) = desk_on(backend, DECEMBER_FIRST).await;
    let api = Api::new(&app).await;
    let server = calendar_server().await;
    let (_, created) = api.post("/api/v1/schedules", office_hours("Office")).await;
    let import = format!("/api/v1/schedules/{}/holidays/import", created["id"]);

    let url = format!("{server}/holidays.ics");
    let (status, body) = api.post(&import, json!({"url": url})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["calendar"], url, "a fetched calendar's import goes by its URL");
    assert_eq!(body["added"].as_array().unwrap().len(), 4, "{body}");
    assert_eq!(names(&body["kept"]), vec!["Christmas Day", CHRISTMAS_CLOSURE, "New Year's Day"], "the schedule's own days stay");
    let (status, again) = api.post(&import, json!({"url": url})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((again["added"].as_array().unwrap().len(), again["unchanged"].as_array().unwrap().len()), (0, 4));

    // Each problem names what was wrong.
    let (status, body) = api.post(&import, json!({"url": "ftp://example.com/holidays.ics"})).await;
    assert_invalid(status, &body, "url");
    assert!(body["error"]["message"].as_str().unwrap().contains("not an http or https URL"), "{body}");
    let (status, body) = api.post(&import, json!({"url": "holidays.ics"})).await;
    assert_invalid(status, &body, "url");
    assert!(body["error"]["message"].as_str().unwrap().contains("is not a URL"), "{body}");
    let (status, body) = api.post(&import, json!({"url": format!("{server}/missing.ics")})).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["message"], format!("url: {server}/missing.ics answered HTTP 404 Not Found, not the calendar"));
    let (status, body) = api.post(&import, json!({"url": format!("{server}/page")})).await;
    assert_invalid(status, &body, "url");
    assert_eq!(
        body["error"]["message"],
        format!(
            "url: {server}/page did not answer with an iCalendar file (content type text/html; it does not start with BEGIN:VCALENDAR)"
        )
    );
    assert!(!body["error"]["message"].as_str().unwrap().contains("Our holidays"), "what the server sent is not echoed");
    let (status, body) = api.post(&import, json!({"url": format!("{server}/huge.ics")})).await;
    assert_invalid(status, &body, "url");
    assert!(body["error"]["message"].as_str().unwrap().contains("larger than 2 MiB"), "{body}");
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let (status, body) = api.post(&import, json!({"url": format!("http://{closed}/holidays.ics")})).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("could not be reached"), "{body}");
    let (status, body) = api.post(&import, json!({"url": url, "calendar": "a\nb"})).await;
    assert_invalid(status, &body, "calendar");
    let (status, body) = api.post(&import, json!({"address": url})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    app.stop().await;
}

async fn an_admin_imports_a_calendar_file_on_the_admin_page(backend: Backend) {
    let (app, _clock) = desk_on(backend, DECEMBER_FIRST).await;
    windowdesk_server::api::admin::create_agent(app.store().as_ref(), "Ada", "ada@example.com", AgentRole::Admin, Some(PASSWORD))
        .await
        .unwrap();
    let api = Api::new(&app).await;
    let (_, created) = api.post("/api/v1/schedules", office_hours("Office")).await;
    let id = created["id"].as_i64().unwrap();
    let web = Web::sign_in(&app, "ada@example.com").await;
    let page = web.page("/admin/hours").await;
    assert!(page.contains("Import holidays from an iCal calendar") && page.contains("enctype=\"multipart/form-data\""), "{page}");

    let ics = fixture_ics();
    let imported = web
        .post_multipart(
            &format!("/admin/hours/{id}/import"),
            &[("url", ""), ("calendar", "")],
            Some(("feiertage.ics", "text/calendar", &ics)),
        )
        .await;
    assert_eq!(imported.status, 200, "{}", imported.body);
    let report = common::web::section(&imported.body, &format!("imports-{id}"));
    assert!(
        report.contains(
            "Imported <strong>Holidays in Germany</strong>: 4 added, 0 unchanged, 0 removed; 3 kept as you wrote them; 2 events skipped."
        ),
        "{report}"
    );
    assert!(
        report.contains("2026-12-25 Christmas Day: the admin's holiday &quot;Christmas Day&quot; covers it")
            || report.contains("2026-12-25 Christmas Day: the admin's holiday \"Christmas Day\" covers it"),
        "{report}"
    );
    assert!(report.contains("Someday: has no date: DTSTART is missing"), "{report}");
    assert!(report.contains("2026-12-28..2026-12-30 Closed between the years"), "the imported holidays are listed: {report}");

    // The text box holds the admin's own holidays; saving it keeps the imported ones.
    let page = web.page("/admin/hours").await;
    let textarea = &page[page.find(&format!("id=\"s{id}-holidays\"")).unwrap()..];
    let textarea = &textarea[..textarea.find("</textarea>").unwrap()];
    assert!(textarea.contains("2026-12-25 Christmas Day") && !textarea.contains("Boxing"), "{textarea}");
    let fields = [
        ("name", "Office"),
        ("time_zone", "Europe/Berlin"),
        ("mon", "09:00-17:00"),
        ("tue", "09:00-17:00"),
        ("wed", "09:00-17:00"),
        ("thu", "09:00-17:00"),
        ("fri", "09:00-17:00"),
        ("sat", ""),
        ("sun", ""),
        ("holidays", "2026-12-25 Christmas Day\n2026-12-31..2027-01-01 New Year\n2026-12-29 Stocktaking"),
    ];
    let saved = web.post(&format!("/admin/hours/{id}"), &fields).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (_, schedule) = api.get(&format!("/api/v1/schedules/{id}")).await;
    let all = holidays(&schedule);
    assert!(all.contains(&("2026-12-29".into(), "Stocktaking".into(), "admin".into())), "{all:?}");
    assert!(
        all.contains(&("2026-12-28".into(), CHRISTMAS_CLOSURE.into(), "ical".into())),
        "the admin's new day splits the import: {all:?}"
    );
    assert!(all.contains(&("2026-12-26".into(), "Boxing Day, St Stephen's Day".into(), "ical".into())), "{all:?}");

    // A mistake is shown on the import form.
    let refused = web
        .post_multipart(
            &format!("/admin/hours/{id}/import"),
            &[("url", ""), ("calendar", "")],
            Some(("notes.txt", "text/calendar", "just some notes")),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains(&format!("id=\"import-error-{id}\"")) && refused.body.contains("not an iCalendar file"),
        "{}",
        refused.body
    );
    let refused = web.post_multipart(&format!("/admin/hours/{id}/import"), &[("url", ""), ("calendar", "")], None).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("choose a calendar file (.ics) or give its address"), "{}", refused.body);

    // Removing the import leaves the admin's holidays.
    let removed = web.post(&format!("/admin/hours/{id}/import/remove"), &[("calendar", "Holidays in Germany")]).await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let (_, schedule) = api.get(&format!("/api/v1/schedules/{id}")).await;
    assert!(holidays(&schedule).iter().all(|h| h.2 == "admin"), "{schedule}");
    assert_eq!(holidays(&schedule).len(), 3);

    // Agents cannot import.
    add_agent(&app, "Ana", "ana@example.com").await;
    let agent = Web::sign_in(&app, "ana@example.com").await;
    let forbidden = agent.post_multipart(&format!("/admin/hours/{id}/import"), &[], Some(("h.ics", "text/calendar", &ics))).await;
    assert_eq!(forbidden.status, 403);
    app.stop().await;
}

async fn an_import_never_overwrites_a_schedule_saved_in_between(backend: Backend) {
    let (app, _clock) = desk_on(backend, DECEMBER_FIRST).await;
    let api = Api::new(&app).await;
    let (_, created) = api.post("/api/v1/schedules", office_hours("Office")).await;
    let id = created["id"].as_i64().unwrap();
    let before = app.store().schedule(id).await.unwrap().unwrap();
    // An admin saves between the import's read and its write: the write is refused, not applied.
    let (status, _) = api.put(&format!("/api/v1/schedules/{id}"), office_hours("Office hours")).await;
    assert_eq!(status, StatusCode::OK);
    let stale = windowdesk_store::ScheduleDraft {
        name: before.name.clone(),
        spec: before.spec.replace("Christmas Day", "Overwritten"),
        actor: "test".into(),
        now: Timestamp::from_unix_seconds(DECEMBER_FIRST),
    };
    let saved = app.store().schedule(id).await.unwrap().unwrap();
    assert!(!app.store().replace_schedule_spec(id, &before.spec.replace("Christmas", "Xmas"), &stale).await.unwrap());
    assert!(app.store().replace_schedule_spec(id, &saved.spec, &stale).await.unwrap(), "the spec as read: replaced");
    let after = app.store().schedule(id).await.unwrap().unwrap();
    assert!(after.spec.contains("Overwritten"));
    assert_eq!(after.name, "Office hours", "the name is not the import's to change");
    assert!(!app.store().replace_schedule_spec(999_999, &saved.spec, &stale).await.unwrap());
    app.stop().await;
}

/// Issue 13 item 2: Windows closing soon can show only the windows whose team has little business
/// time left. Friday 4 December 2026, 11:30 in Berlin; the number keeps 09:00-12:00 and 13:00-17:00.
async fn the_closing_soon_view_can_show_only_windows_with_little_business_time_left(backend: Backend) {
    let now = 1_796_380_200; // 2026-12-04 10:30 UTC = 11:30 Berlin
    let (app, _clock) = desk_on(backend, now).await;
    let api = Api::new(&app).await;
    let mut lunch = office_hours("Lunch break");
    lunch["weekly"]["fri"] = json!(["09:00-12:00", "13:00-17:00"]);
    let (_, created) = api.post("/api/v1/schedules", lunch).await;
    let (status, _) = api.put(&format!("/api/v1/numbers/{}/schedule", app.bn), json!({"schedule_id": created["id"]})).await;
    assert_eq!(status, StatusCode::OK);
    add_agent(&app, "Ana", "ana@example.com").await;
    let web = Web::sign_in(&app, "ana@example.com").await;

    // A window that closes `minutes` after now (its customer wrote 24 h before that).
    let mut n = 0;
    let mut writes = |minutes: i64| {
        n += 1;
        let from = format!("49170{n:06}");
        let payload = text(&format!("wamid.cs{n}"), &from, now - 24 * 3600 + minutes * 60, "hello?");
        (from, payload)
    };
    let mut tickets = std::collections::HashMap::new();
    let mut say = |label: &'static str, minutes: i64| {
        let (from, payload) = writes(minutes);
        tickets.insert(label, (from, payload));
    };
    say("closes in 20 min, 20 min of work", 20);
    say("closes in 1 h, 30 min of work (lunch)", 60);
    say("closes in 1 h 50, 50 min of work", 110);
    say("closes in 3 h 30, 2 h 30 of work", 210);
    let mut ids = std::collections::HashMap::new();
    for (label, (from, payload)) in &tickets {
        assert_eq!(app.post(payload).await, 200);
        let identity = app.store().identity_by_key(app.bn, from).await.unwrap().unwrap();
        let filter = windowdesk_store::TicketFilter { identity_id: Some(identity.id), limit: 1, ..Default::default() };
        ids.insert(*label, app.store().list_tickets(&filter).await.unwrap()[0].id);
    }
    let id = |label: &str| ids[label];
    let all = common::web::row_ids(common::web::section(&web.page("/views/closing-soon").await, "view"));
    assert_eq!(
        all,
        vec![
            id("closes in 20 min, 20 min of work"),
            id("closes in 1 h, 30 min of work (lunch)"),
            id("closes in 1 h 50, 50 min of work"),
            id("closes in 3 h 30, 2 h 30 of work")
        ]
    );
    let page = web.page("/views/closing-soon").await;
    assert!(page.contains("Only where the team has less than 1 h of business time before the window closes"), "the toggle is on the page");
    assert!(!page.contains("value=\"60\" checked"), "off by default");

    let page = web.page("/views/closing-soon?business_left=60").await;
    assert_eq!(
        common::web::row_ids(common::web::section(&page, "view")),
        vec![id("closes in 20 min, 20 min of work"), id("closes in 1 h, 30 min of work (lunch)"), id("closes in 1 h 50, 50 min of work")]
    );
    assert!(
        page.contains("id=\"business-left\" type=\"checkbox\" name=\"business_left\" value=\"60\" checked"),
        "the toggle shows it is on"
    );
    let page = web.page("/views/closing-soon?business_left=25").await;
    assert_eq!(common::web::row_ids(common::web::section(&page, "view")), vec![id("closes in 20 min, 20 min of work")]);
    assert!(page.contains("less than 25 min of business time"));
    assert_eq!(web.get("/views/closing-soon?business_left=soon").await.status, 400);
    assert_eq!(web.counts().await["closing_soon"], 4, "the count in the navigation is of every window closing soon");
    app.stop().await;
}

/// Windows of two numbers interleave in the list (least time left first): one keeps a lunch break,
/// the other has no hours (always open). Only the first's qualify between 1 h and 2 h from now, so
/// the filter drops every other row, and pages must still show each window once, in order.
async fn the_filtered_closing_soon_view_pages_through_every_window_once(backend: Backend) {
    let now = 1_796_380_200; // Friday 2026-12-04, 11:30 in Berlin
    let (app, _clock) = desk_on(backend, now).await;
    let api = Api::new(&app).await;
    let mut lunch = office_hours("Lunch break");
    lunch["weekly"]["fri"] = json!(["09:00-12:00", "13:00-17:00"]);
    let (_, created) = api.post("/api/v1/schedules", lunch).await;
    api.put(&format!("/api/v1/numbers/{}/schedule", app.bn), json!({"schedule_id": created["id"]})).await;
    let always_open = "106540352242922";
    let mut expected = Vec::new();
    for minutes in 61..=120 {
        let from = format!("4917100{minutes:04}");
        let mut payload = text(&format!("wamid.page{minutes}"), &from, now - 24 * 3600 + minutes * 60, "hello?");
        let number = if minutes % 2 == 1 { app.bn } else { app.running.state.numbers.get(always_open).unwrap().id };
        if number != app.bn {
            payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = json!(always_open);
        }
        assert_eq!(app.post(&payload).await, 200);
        let identity = app.store().identity_by_key(number, &from).await.unwrap().unwrap();
        let filter = windowdesk_store::TicketFilter { identity_id: Some(identity.id), limit: 1, ..Default::default() };
        let ticket = app.store().list_tickets(&filter).await.unwrap()[0].id;
        // The lunch-break number's windows have 30 to 60 minutes of business time left; the other's
        // all of their 1 to 2 hours.
        if number == app.bn {
            expected.push(ticket);
        }
    }
    add_agent(&app, "Ana", "ana@example.com").await;
    let web = Web::sign_in(&app, "ana@example.com").await;
    let page = web.page("/views/closing-soon?business_left=60").await;
    let view = common::web::section(&page, "view");
    let mut shown = common::web::row_ids(view);
    assert_eq!(shown.len(), 20, "a full page");
    let more = common::web::start_tags(view).into_iter().find(|t| t.has_class("load-more")).expect("a Load more link");
    let href = more.attr("href").unwrap().to_owned();
    assert!(href.starts_with("/inbox/more?list=closing-soon&business_left=60&"), "{href}");
    let fragment = web.page(&href).await;
    shown.extend(common::web::row_ids(&fragment));
    assert!(!fragment.contains("load-more"), "nothing more: {fragment}");
    assert_eq!(shown, expected, "each qualifying window once, least time left first");
    let unfiltered = common::web::row_ids(common::web::section(&web.page("/views/closing-soon").await, "view"));
    assert_eq!(unfiltered.len(), 20);
    app.stop().await;
}

async fn the_banner_says_today_and_tomorrow_in_the_numbers_zone(backend: Backend) {
    // Saturday 2026-12-05 08:00 in Berlin; the customer wrote at 07:30, so the window closes on
    // Sunday at 07:30: "tomorrow", and the team is back on Monday.
    let saturday = 1_796_454_000;
    let (app, clock) = desk_on(backend, saturday).await;
    let api = Api::new(&app).await;
    let (_, created) = api.post("/api/v1/schedules", office_hours("Office")).await;
    api.put(&format!("/api/v1/numbers/{}/schedule", app.bn), json!({"schedule_id": created["id"]})).await;
    app.sim().say(Say::text("4915112345678", "anyone?").at(saturday - 1800)).await.unwrap();
    let ticket = app.only_ticket().await;
    add_agent(&app, "Ana", "ana@example.com").await;
    let web = Web::sign_in(&app, "ana@example.com").await;
    let banner = |page: &str| {
        let at = page.find("id=\"window-hours\"").unwrap_or_else(|| panic!("no window-hours line: {page}"));
        page[at..at + page[at..].find("</p>").unwrap()].to_owned()
    };
    let line = banner(&web.page(&format!("/tickets/{ticket}")).await);
    assert!(line.contains(">tomorrow 07:30</time>, outside business hours") && line.contains(">Monday 09:00</time>"), "{line}");
    // Sunday 06:00: the window closes "today", the team is back "tomorrow".
    clock.set(Timestamp::from_unix_seconds(saturday + 22 * 3600));
    let web = Web::sign_in(&app, "ana@example.com").await; // signed in again: the first session has expired by then
    let line = banner(&web.page(&format!("/tickets/{ticket}")).await);
    assert!(line.contains(">today 07:30</time>, outside business hours") && line.contains(">tomorrow 09:00</time>"), "{line}");
    app.stop().await;
}
