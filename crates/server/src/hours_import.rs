//! Holidays imported from an iCal calendar into a schedule (issue 13 item 1), for the API and the
//! admin page alike: the calendar as uploaded or fetched from a URL, read and merged by the core
//! (`hours::ical`, `Schedule::with_import`), and written back only while nobody changed the schedule
//! in between (an admin's save is never lost to an import running at the same time).

use std::time::Duration;

use futures_util::StreamExt;
use windowdesk_core::hours::ical::{self, ImportReport};
use windowdesk_store::{ScheduleDraft, ScheduleRow, StoreError};

use crate::AppState;

/// The largest calendar read, uploaded or fetched (a country's public holidays for decades are a few
/// hundred KiB).
pub const MAX_CALENDAR_BYTES: usize = 2 * 1024 * 1024;
/// How long fetching a calendar from its URL may take, all of it.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest name an import may be given.
pub const MAX_CALENDAR_NAME_CHARS: usize = 200;
/// The name of an upload whose calendar has no `X-WR-CALNAME` and was given no name.
pub const UPLOADED: &str = "uploaded calendar";

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("schedule {0} does not exist")]
    NoSchedule(i64),
    /// What was given cannot be imported: the field (`url`, `body`, `calendar`) and why.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// The calendar's server did not hand it over (no answer, an HTTP error).
    #[error("url: {0}")]
    Fetch(String),
    /// The schedule changed under every attempt.
    #[error("schedule {0} kept changing while the calendar was imported; try again")]
    Busy(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// An import done: under which calendar name, what it changed, and the schedule as stored.
#[derive(Debug)]
pub struct Imported {
    pub calendar: String,
    pub report: ImportReport,
    pub row: ScheduleRow,
}

/// A calendar name as given: trimmed, one line, at most [`MAX_CALENDAR_NAME_CHARS`].
pub fn calendar_name(given: Option<&str>) -> Result<Option<String>, ImportError> {
    let Some(name) = given.map(str::trim).filter(|n| !n.is_empty()) else { return Ok(None) };
    if name.chars().count() > MAX_CALENDAR_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ImportError::Invalid {
            field: "calendar",
            message: format!("a calendar name is one line of at most {MAX_CALENDAR_NAME_CHARS} characters"),
        });
    }
    Ok(Some(name.to_owned()))
}

/// The URL to fetch: `http` or `https` (`webcal://`, as calendar pages link subscriptions, means
/// `https://`), with a host.
pub fn calendar_url(written: &str) -> Result<reqwest::Url, ImportError> {
    let written = written.trim();
    let invalid = |message: String| ImportError::Invalid { field: "url", message };
    let rewritten = match written.get(..9) {
        Some(scheme) if scheme.eq_ignore_ascii_case("webcal://") => format!("https://{}", &written[9..]),
        _ => written.to_owned(),
    };
    let url = reqwest::Url::parse(&rewritten).map_err(|e| invalid(format!("{written:?} is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!("{written:?} is not an http or https URL")));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(format!("{written:?} has no host")));
    }
    if url.as_str().chars().count() > MAX_CALENDAR_NAME_CHARS {
        return Err(invalid(format!("the URL is longer than {MAX_CALENDAR_NAME_CHARS} characters")));
    }
    Ok(url)
}

/// The calendar at `url`: a 2xx answer of at most [`MAX_CALENDAR_BYTES`], within [`FETCH_TIMEOUT`],
/// that starts like an iCalendar file. Errors name the URL and what went wrong, never quoting what
/// the server sent (the URL might point into the desk's own network).
pub async fn fetch(url: &reqwest::Url) -> Result<String, ImportError> {
    let client = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("Windowdesk/", env!("CARGO_PKG_VERSION"), " (holiday import)"))
        .build()
        .map_err(|e| ImportError::Internal(format!("HTTP client: {e}")))?;
    let failed = |e: reqwest::Error| {
        let what = if e.is_timeout() {
            format!("{url} did not answer within {} s", FETCH_TIMEOUT.as_secs())
        } else if e.is_connect() {
            format!("{url} could not be reached (no connection to its host)")
        } else if e.is_redirect() {
            format!("{url} redirects too often")
        } else {
            format!("{url} could not be fetched ({})", e.without_url())
        };
        ImportError::Fetch(what)
    };
    let response = client.get(url.clone()).header(reqwest::header::ACCEPT, "text/calendar, */*;q=0.5").send().await.map_err(failed)?;
    let status = response.status();
    if !status.is_success() {
        return Err(ImportError::Fetch(format!("{url} answered HTTP {status}, not the calendar")));
    }
    let too_large = || ImportError::Invalid {
        field: "url",
        message: format!("the calendar at {url} is larger than {} MiB", MAX_CALENDAR_BYTES / (1024 * 1024)),
    };
    if response.content_length().is_some_and(|n| n > MAX_CALENDAR_BYTES as u64) {
        return Err(too_large());
    }
    let content_type = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(failed)?;
        if body.len() + chunk.len() > MAX_CALENDAR_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    let head = text.trim_start_matches('\u{feff}').trim_start();
    if !head.get(..15).is_some_and(|h| h.eq_ignore_ascii_case("BEGIN:VCALENDAR")) {
        let kind = content_type.map_or_else(|| "no content type".to_owned(), |t| format!("content type {t}"));
        return Err(ImportError::Invalid {
            field: "url",
            message: format!("{url} did not answer with an iCalendar file ({kind}; it does not start with BEGIN:VCALENDAR)"),
        });
    }
    Ok(text)
}

/// Where a calendar came from, for the name its import goes by when it is given none.
#[derive(Clone, Debug)]
pub enum Origin {
    /// Fetched: the URL, which stays the same from one fetch to the next.
    Url(String),
    /// Uploaded, with the file's name: the calendar's own `X-WR-CALNAME`, else the file's name,
    /// else [`UPLOADED`].
    Upload(Option<String>),
}

/// Imports `text` into schedule `id` as the calendar `name` (when none is given: see [`Origin`]).
/// `field` names what held the text, for errors. Reading the same calendar again changes nothing and
/// writes nothing.
pub async fn import(
    state: &AppState,
    id: i64,
    text: &str,
    field: &'static str,
    name: Option<String>,
    origin: Origin,
    actor: &str,
) -> Result<Imported, ImportError> {
    for _ in 0..5 {
        let row = state.store.schedule(id).await?.ok_or(ImportError::NoSchedule(id))?;
        let schedule = crate::hours::parse(&row).map_err(ImportError::Internal)?;
        let now = state.clock.now();
        let parsed = ical::parse_calendar(text, schedule.time_zone(), schedule.local_date(now))
            .map_err(|e| ImportError::Invalid { field, message: e.to_string() })?;
        let calendar = match (&name, &origin) {
            (Some(name), _) => name.clone(),
            (None, Origin::Url(url)) => url.clone(),
            (None, Origin::Upload(file)) => parsed.name.clone().or_else(|| file.clone()).unwrap_or_else(|| UPLOADED.to_owned()),
        };
        let (merged, report) = schedule.with_import(&calendar, &parsed);
        let spec = serde_json::to_string(&merged.to_spec()).map_err(|e| ImportError::Internal(e.to_string()))?;
        if spec == row.spec {
            return Ok(Imported { calendar, report, row });
        }
        let draft = ScheduleDraft { name: row.name.clone(), spec, actor: actor.to_owned(), now };
        if state.store.replace_schedule_spec(id, &row.spec, &draft).await? {
            let row = state.store.schedule(id).await?.ok_or(ImportError::NoSchedule(id))?;
            tracing::info!(schedule_id = id, calendar = %calendar, added = report.added.len(), removed = report.removed.len(), "holidays imported");
            return Ok(Imported { calendar, report, row });
        }
    }
    Err(ImportError::Busy(id))
}

/// Removes what the import of `calendar` brought; the number of holidays removed (0 when it brought
/// none, or the schedule does not exist: `NoSchedule`).
pub async fn remove(state: &AppState, id: i64, calendar: &str, actor: &str) -> Result<usize, ImportError> {
    for _ in 0..5 {
        let row = state.store.schedule(id).await?.ok_or(ImportError::NoSchedule(id))?;
        let schedule = crate::hours::parse(&row).map_err(ImportError::Internal)?;
        let (kept, removed) = schedule.without_import(calendar);
        if removed.is_empty() {
            return Ok(0);
        }
        let spec = serde_json::to_string(&kept.to_spec()).map_err(|e| ImportError::Internal(e.to_string()))?;
        let draft = ScheduleDraft { name: row.name.clone(), spec, actor: actor.to_owned(), now: state.clock.now() };
        if state.store.replace_schedule_spec(id, &row.spec, &draft).await? {
            return Ok(removed.len());
        }
    }
    Err(ImportError::Busy(id))
}
