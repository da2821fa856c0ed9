//! The agent web interface over real HTTP, the way a browser uses it: cookies kept by hand (the
//! session cookie and the sign-in form's double-submit cookie), CSRF tokens read from the pages'
//! hidden inputs, redirects not followed so tests see them. Plus a few small HTML helpers (no regex,
//! no parser crate): start tags with their attributes, sections by id, SSE events.
#![allow(clippy::unwrap_used)] // test support: a panic is a failed test with its message
#![allow(dead_code)]

use std::time::Duration;

use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use windowdesk_store::{AgentRole, AgentRow, TicketFilter};

use super::TestApp;

/// Every test agent's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// A client that does not follow redirects and keeps no cookies: the tests handle both.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// An agent who can sign in with [`PASSWORD`].
pub async fn add_agent(app: &TestApp, name: &str, email: &str) -> AgentRow {
    windowdesk_server::api::admin::create_agent(app.store().as_ref(), name, email, AgentRole::Agent, Some(PASSWORD)).await.unwrap()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub async fn read(resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap();
        Page { status, headers, body }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Where a redirect goes.
    pub fn location(&self) -> &str {
        self.header(LOCATION.as_str()).unwrap_or_else(|| panic!("no Location header (status {}): {}", self.status, self.body))
    }

    /// The whole `Set-Cookie` header that sets `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers.get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap()).find(|c| cookie_pair(c).0 == name)
    }

    /// The value `Set-Cookie` gives `name`, if any.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookie(name).map(|c| cookie_pair(c).1.to_owned())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// `name=value` of a `Set-Cookie` header.
pub fn cookie_pair(set_cookie: &str) -> (&str, &str) {
    let first = set_cookie.split(';').next().unwrap_or("");
    first.split_once('=').map_or((first.trim(), ""), |(n, v)| (n.trim(), v.trim()))
}

/// The attributes of a `Set-Cookie` header after `name=value`, lowercased (`httponly`, `samesite=lax`).
pub fn cookie_attributes(set_cookie: &str) -> Vec<String> {
    set_cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect()
}

/// The sign-in form as `GET /login` serves it.
pub struct LoginForm {
    pub page: Page,
    /// The value of the `wd_login` cookie.
    pub cookie: String,
    /// The form's hidden `csrf`.
    pub csrf: String,
}

pub async fn login_form(client: &reqwest::Client, app: &TestApp, query: &str) -> LoginForm {
    let page = Page::read(client.get(app.url(&format!("/login{query}"))).send().await.unwrap()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let cookie = page.cookie("wd_login").expect("GET /login sets wd_login");
    let csrf = hidden_input(&page.body, "csrf").expect("the sign-in form has a csrf input");
    LoginForm { page, cookie, csrf }
}

/// `POST /login` with these fields, sending `wd_login` when given.
pub async fn post_login(client: &reqwest::Client, app: &TestApp, login_cookie: Option<&str>, fields: &[(&str, &str)]) -> Page {
    let mut req = client.post(app.url("/login")).form(fields);
    if let Some(c) = login_cookie {
        req = req.header(COOKIE, format!("wd_login={c}"));
    }
    Page::read(req.send().await.unwrap()).await
}

/// A signed-in agent's browser.
pub struct Web {
    pub client: reqwest::Client,
    pub base: String,
    /// The `wd_session` cookie's value.
    pub session: String,
    /// The session's CSRF token, as the pages' forms carry it.
    pub csrf: String,
}

impl Web {
    /// Signs in through the form, like a person would.
    pub async fn sign_in(app: &TestApp, email: &str) -> Web {
        let client = client();
        let form = login_form(&client, app, "").await;
        let page =
            post_login(&client, app, Some(&form.cookie), &[("email", email), ("password", PASSWORD), ("csrf", &form.csrf), ("next", "/")])
                .await;
        assert_eq!(page.status, 303, "sign-in as {email}: {}", page.body);
        let session = page.cookie("wd_session").expect("signing in sets wd_session");
        let mut web = Web { client, base: app.base.clone(), session, csrf: String::new() };
        let inbox = web.get("/").await;
        assert_eq!(inbox.status, 200, "{}", inbox.body);
        web.csrf = hidden_input(&inbox.body, "csrf").expect("the page's forms carry the csrf token");
        web
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A GET with the session cookie, not following redirects.
    pub fn get_request(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).header(COOKIE, format!("wd_session={}", self.session))
    }

    pub async fn get(&self, path: &str) -> Page {
        Page::read(self.get_request(path).send().await.unwrap()).await
    }

    /// A 200 page's body.
    pub async fn page(&self, path: &str) -> String {
        let page = self.get(path).await;
        assert_eq!(page.status, 200, "GET {path}: {}", page.body);
        page.body
    }

    /// A form POST exactly as given (no csrf added), with extra headers.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let mut req = self.client.post(self.url(path)).header(COOKIE, format!("wd_session={}", self.session)).form(fields);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        Page::read(req.send().await.unwrap()).await
    }

    /// A form POST with the session's csrf token, from this site.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all, &[("origin", &self.base)]).await
    }

    /// `/live/counts`.
    pub async fn counts(&self) -> Value {
        let page = self.get("/live/counts").await;
        assert_eq!(page.status, 200, "{}", page.body);
        page.json()
    }
}

/// The value of the first `<input name=NAME>`.
pub fn hidden_input(html: &str, name: &str) -> Option<String> {
    start_tags(html)
        .into_iter()
        .find(|t| t.name == "input" && t.attr("name") == Some(name))
        .and_then(|t| t.attr("value").map(str::to_owned))
}

/// A start tag and its attributes (values unescaped).
#[derive(Clone, Debug)]
pub struct Tag {
    pub name: String,
    pub attrs: Vec<(String, Option<String>)>,
    /// Byte offset of its `<` in the document.
    pub at: usize,
}

impl Tag {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
    }

    pub fn has_attr(&self, name: &str) -> bool {
        self.attrs.iter().any(|(n, _)| n == name)
    }

    pub fn has_class(&self, class: &str) -> bool {
        self.attr("class").is_some_and(|c| c.split_whitespace().any(|x| x == class))
    }
}

/// Every start tag of a document, in order. Text never holds a raw `<` in these pages (maud escapes
/// it), so every `<` followed by a letter starts a tag.
pub fn start_tags(html: &str) -> Vec<Tag> {
    let b = html.as_bytes();
    let mut tags = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' || !b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
            continue;
        }
        let at = i;
        i += 1;
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
            i += 1;
        }
        let name = html[start..i].to_ascii_lowercase();
        let mut attrs = Vec::new();
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                i += 1;
                break;
            }
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !b"=>/".contains(&b[i]) {
                i += 1;
            }
            let attr = html[start..i].to_ascii_lowercase();
            if i < b.len() && b[i] == b'=' {
                i += 1;
                let value = match b.get(i) {
                    Some(&q) if q == b'"' || q == b'\'' => {
                        let end = html[i + 1..].find(char::from(q)).map_or(b.len(), |e| i + 1 + e);
                        let v = &html[i + 1..end];
                        i = end + 1;
                        v
                    }
                    _ => {
                        let start = i;
                        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                            i += 1;
                        }
                        &html[start..i]
                    }
                };
                attrs.push((attr, Some(unescape(value))));
            } else {
                attrs.push((attr, None));
            }
        }
        tags.push(Tag { name, attrs, at });
    }
    tags
}

/// The first start tag with this id.
pub fn by_id(html: &str, id: &str) -> Option<Tag> {
    start_tags(html).into_iter().find(|t| t.attr("id") == Some(id))
}

/// The markup of the `<section id=ID>` up to its end (sections do not nest in these pages).
pub fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let tag = by_id(html, id).unwrap_or_else(|| panic!("no element with id {id:?}"));
    let rest = &html[tag.at..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

/// Ticket rows (`li.ticket-row`) in order: (ticket id, unread).
pub fn rows(html: &str) -> Vec<(i64, bool)> {
    start_tags(html)
        .into_iter()
        .filter(|t| t.name == "li" && t.has_class("ticket-row"))
        .map(|t| (t.attr("data-ticket-id").unwrap().parse().unwrap(), t.attr("data-unread") == Some("true")))
        .collect()
}

pub fn row_ids(html: &str) -> Vec<i64> {
    rows(html).into_iter().map(|(id, _)| id).collect()
}

/// Undoes maud's escaping (and the common named entities).
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// A customer's text with the profile name given (the fixtures' helper names every customer
/// `Customer <number>`).
pub fn text_as(wamid: &str, from: &str, name: &str, ts: i64, body: &str) -> Value {
    let mut payload = super::text(wamid, from, ts, body);
    payload["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = Value::String(name.to_owned());
    payload
}

/// The ticket of the customer with this `wa_id` (the newest one).
pub async fn ticket_of(app: &TestApp, wa_id: &str) -> Option<i64> {
    for t in app.store().list_tickets(&TicketFilter { limit: 200, ..TicketFilter::default() }).await.unwrap() {
        if app.store().ticket_summary(t.id).await.unwrap().is_some_and(|s| s.wa_id.as_deref() == Some(wa_id)) {
            return Some(t.id);
        }
    }
    None
}

/// One server-sent event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Reads a `text/event-stream` response event by event.
pub struct SseReader {
    resp: reqwest::Response,
    buf: String,
}

impl SseReader {
    pub fn new(resp: reqwest::Response) -> SseReader {
        SseReader { resp, buf: String::new() }
    }

    /// The next event (comments and keep-alives skipped), or a panic after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> SseEvent {
        tokio::time::timeout(timeout, async {
            loop {
                while let Some(end) = self.buf.find("\n\n") {
                    let block: String = self.buf.drain(..end + 2).collect();
                    let mut event = SseEvent { event: "message".into(), data: String::new() };
                    let mut any = false;
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("event:") {
                            event.event = v.trim().to_owned();
                            any = true;
                        } else if let Some(v) = line.strip_prefix("data:") {
                            if !event.data.is_empty() {
                                event.data.push('\n');
                            }
                            event.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                            any = true;
                        }
                    }
                    if any {
                        return event;
                    }
                }
                let chunk = self.resp.chunk().await.unwrap().expect("the event stream ended");
                self.buf.push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no event within {timeout:?}; unread: {:?}", self.buf))
    }

    /// The next event named `name`, skipping others.
    pub async fn next_named(&mut self, name: &str, timeout: Duration) -> SseEvent {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let e = self.next(left).await;
            if e.event == name {
                return e;
            }
        }
    }
}

/// Waits until the wall clock is in a later whole second than `ms` (unix milliseconds), so a sender
/// timestamp of "now" in seconds is after it.
pub async fn wait_past_second_of(ms: i64) {
    let target = (ms / 1000 + 1) * 1000;
    loop {
        let now = i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap();
        if now >= target {
            return;
        }
        tokio::time::sleep(Duration::from_millis(u64::try_from(target - now).unwrap().min(100))).await;
    }
}

pub fn now_ms() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// A `multipart/form-data` body of text fields and one file (`name`, `content type`, content).
pub fn multipart(fields: &[(&str, &str)], file: Option<(&str, &str, &str)>) -> (String, String) {
    let boundary = "wdboundary7d3f";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
    }
    if let Some((file_name, content_type, content)) = file {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n{content}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Web {
    /// Posts a form with a file, as the browser does (`multipart/form-data`), with the CSRF token.
    pub async fn post_multipart(&self, path: &str, fields: &[(&str, &str)], file: Option<(&str, &str, &str)>) -> Page {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let (content_type, body) = multipart(&all, file);
        let resp = self
            .client
            .post(self.url(path))
            .header("cookie", format!("wd_session={}", self.session))
            .header("origin", &self.base)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        Page::read(resp).await
    }
}
