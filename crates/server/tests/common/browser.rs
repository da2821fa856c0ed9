//! Browser tests: headless Chromium from Debian's packages (`chromium`, `chromium-driver`), driven over
//! WebDriver by [fantoccini].
//!
//! ```ignore
//! let Some(b) = Browser::start().await else { return }; // skipped loudly when not installed (never in CI)
//! b.goto(&app.url("/inbox")).await;
//! b.fill("#search", "refund").await;
//! b.click("button[type=submit]").await;
//! b.wait_for_text("#results", "1 ticket", Duration::from_secs(5)).await;
//! b.assert_accessible("inbox").await;
//! assert!(b.console_errors().await.is_empty());
//! b.close().await;
//! ```
//!
//! Every helper panics with a readable message when the browser does something unexpected: in a test a
//! panic is a failed test. A timed-out wait saves a screenshot first and names it in the message.
//!
//! Finding the tools: `chromedriver` is `$CHROMEDRIVER`, else `/usr/bin/chromedriver`, else the first on
//! `PATH`; Chromium is `$CHROME`, else `/usr/bin/chromium`, else the first `chromium` on `PATH`. When they
//! are missing and `CI=true`, [`Browser::start`] panics (no suite skips silently in CI); otherwise it prints
//! `SKIPPED: chromium/chromedriver not installed` to stderr and returns `None`.
//!
//! Console errors: the session asks for `goog:loggingPrefs` `{"browser": "ALL"}` and [`Browser::console_errors`]
//! reads chromedriver's log endpoint (`POST /session/{id}/se/log`, which fantoccini does not wrap, so it is
//! called directly). Content-Security-Policy violations show there as SEVERE entries ("Refused to execute
//! inline script because it violates …"). Independently, a capture script is registered through the
//! DevTools protocol (`Page.addScriptToEvaluateOnNewDocument`, which page CSP does not apply to) before
//! any page script runs, and records `securitypolicyviolation`, `error` and `unhandledrejection` events of
//! the current document: [`Browser::csp_violations`] and [`Browser::page_errors`] read it. If the log
//! endpoint is unavailable, `console_errors` falls back to that capture.
//!
//! Accessibility: [`Browser::axe_check`] injects axe-core from `tests/browser/node_modules` (installed by
//! `npm ci` in `tests/browser`, which `scripts/test.sh` runs) with WebDriver's execute-script, which page
//! CSP (`script-src 'self'`) does not block, and runs the WCAG 2 A and AA rules.
#![allow(clippy::unwrap_used)] // test support: a panic is a failed test with its message
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde::Deserialize;
use serde_json::{json, Value};

/// How long [`Browser::click`] and [`Browser::fill`] wait for their element to be displayed.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// Chromium's command line, after `--user-data-dir` is added.
const CHROME_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// Registered for every new document before its own scripts run; page CSP does not apply to it.
const CAPTURE_SCRIPT: &str = r#"(() => {
  if (window.__windowdeskCapture) return;
  const events = [];
  Object.defineProperty(window, '__windowdeskCapture', { value: events });
  document.addEventListener('securitypolicyviolation', (e) => events.push({
    kind: 'csp', directive: e.effectiveDirective || e.violatedDirective || '', blocked_uri: e.blockedURI || '',
    source_file: e.sourceFile || '', line: e.lineNumber || 0, sample: e.sample || '', disposition: e.disposition || '',
  }), true);
  window.addEventListener('error', (e) => {
    if (e instanceof ErrorEvent) {
      events.push({ kind: 'error', message: String(e.message), source_file: e.filename || '', line: e.lineno || 0 });
    } else if (e.target && e.target !== window) {
      const t = e.target;
      events.push({ kind: 'resource', message: 'failed to load ' + (t.currentSrc || t.src || t.href || t.tagName),
                    source_file: '', line: 0 });
    }
  }, true);
  window.addEventListener('unhandledrejection', (e) => events.push({
    kind: 'unhandledrejection', message: String(e.reason && (e.reason.stack || e.reason)), source_file: '', line: 0,
  }));
})();"#;

/// Headless Chromium with its own chromedriver and a fresh profile; both are removed on drop.
pub struct Browser {
    client: Client,
    session_id: String,
    port: u16,
    /// Ends the session and chromedriver and removes the profile when the browser is dropped.
    guard: DriverGuard,
}

/// One severe entry of the browser's console (or, without the log endpoint, one captured page event).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleEntry {
    pub level: String,
    pub message: String,
}

impl std::fmt::Display for ConsoleEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.level, self.message)
    }
}

/// A `securitypolicyviolation` event seen by the current document.
#[derive(Debug, Clone, Deserialize)]
pub struct CspViolation {
    pub directive: String,
    pub blocked_uri: String,
    pub source_file: String,
    pub line: u64,
    pub sample: String,
    pub disposition: String,
}

/// A script error, failed resource load or unhandled promise rejection seen by the current document.
#[derive(Debug, Clone, Deserialize)]
pub struct PageError {
    /// `error`, `resource` or `unhandledrejection`.
    pub kind: String,
    pub message: String,
    pub source_file: String,
    pub line: u64,
}

/// One failed axe-core rule.
#[derive(Debug, Clone, Deserialize)]
pub struct Violation {
    pub id: String,
    pub impact: Option<String>,
    pub help: String,
    #[serde(rename = "helpUrl")]
    pub help_url: String,
    pub nodes: Vec<ViolationNode>,
}

/// One element that failed an axe-core rule.
#[derive(Debug, Clone, Deserialize)]
pub struct ViolationNode {
    /// CSS selectors of the element (nested selectors through iframes and shadow roots are joined by ` >>> `).
    pub target: Vec<String>,
    pub html: String,
    pub failure_summary: String,
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn workspace_dir() -> PathBuf {
    // crates/server → the workspace
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf()
}

/// Where screenshots go: `$WINDOWDESK_ARTIFACTS_DIR`, else `<workspace>/target/browser-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    match std::env::var_os("WINDOWDESK_ARTIFACTS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_dir().join("target/browser-artifacts"),
    }
}

/// `tests/browser/node_modules/axe-core/axe.min.js`, installed by `npm ci` in `tests/browser`.
pub fn axe_path() -> PathBuf {
    workspace_dir().join("tests/browser/node_modules/axe-core/axe.min.js")
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

fn locate(env: &str, default: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let default = PathBuf::from(default);
    if default.is_file() {
        return Some(default);
    }
    on_path(name)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn sanitize(name: &str) -> String {
    let s: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect();
    s.trim_matches('.').chars().take(120).collect()
}

/// A blocking HTTP request without a body to chromedriver; used where nothing async can run (drop).
fn blocking_request(port: u16, method: &str, path: &str) -> Option<String> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    ///
    /// `None` (after a loud `SKIPPED` line on stderr) when Chromium or chromedriver is not installed and
    /// `CI` is not `true`; with `CI=true` that is a panic. A browser that is installed but does not start
    /// is always a panic.
    pub async fn start() -> Option<Browser> {
        let driver = locate("CHROMEDRIVER", "/usr/bin/chromedriver", "chromedriver");
        let chrome = locate("CHROME", "/usr/bin/chromium", "chromium");
        let (Some(driver), Some(chrome)) = (driver, chrome) else {
            let how = "apt-get install chromium chromium-driver, or set CHROME and CHROMEDRIVER";
            if in_ci() {
                panic!("browser tests cannot run in CI: chromium/chromedriver not installed ({how}); .ci/run installs them");
            }
            eprintln!("\n*** SKIPPED: chromium/chromedriver not installed, browser test not run ({how}) ***\n");
            return None;
        };
        let mut last_error = String::new();
        for _ in 0..3 {
            match Self::try_start(&driver, &chrome).await {
                Ok(browser) => return Some(browser),
                Err(e) => last_error = e,
            }
        }
        panic!("headless Chromium did not start (chromedriver {}, chromium {}): {last_error}", driver.display(), chrome.display());
    }

    async fn try_start(driver_path: &Path, chrome: &Path) -> Result<Browser, String> {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!("windowdesk-browser-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let profile = dir.join("profile");
        std::fs::create_dir_all(&profile).map_err(|e| format!("cannot create {}: {e}", profile.display()))?;
        let log_path = dir.join("chromedriver.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let port = free_port();
        let mut cmd = Command::new(driver_path);
        cmd.arg(format!("--port={port}")).stdin(Stdio::null()).stdout(log.try_clone().map_err(|e| e.to_string())?).stderr(log);
        // Its own process group, so that whatever it leaves behind can be ended with it.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().map_err(|e| format!("cannot run {}: {e}", driver_path.display()))?;
        // From here on, dropping `guard` ends chromedriver and removes the directory.
        let mut guard = DriverGuard { driver: Some(child), port, dir, session_id: None };

        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = guard.driver.as_mut().unwrap().try_wait() {
                return Err(format!("chromedriver exited with {status}:\n{}", tail(&log_path)));
            }
            let ready = match http.get(format!("http://127.0.0.1:{port}/status")).send().await {
                Ok(r) => r.json::<Value>().await.ok().and_then(|v| v["value"]["ready"].as_bool()).unwrap_or(false),
                Err(_) => false,
            };
            if ready {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("chromedriver did not answer on port {port} within 15 s:\n{}", tail(&log_path)));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let mut args: Vec<String> = CHROME_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chrome.display().to_string(), "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
            "timeouts": { "script": 60_000, "pageLoad": 30_000, "implicit": 0 },
        });
        let Value::Object(caps) = caps else { unreachable!() };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .map_err(|e| format!("cannot open a WebDriver session: {e}\n{}", tail(&log_path)))?;
        let session_id = client.session_id().await.map_err(|e| e.to_string())?.ok_or("the session has no id")?;
        guard.session_id = Some(session_id.clone());

        let browser = Browser { client, session_id, port, guard };
        browser
            .driver_post("goog/cdp/execute", json!({"cmd": "Page.addScriptToEvaluateOnNewDocument", "params": {"source": CAPTURE_SCRIPT}}))
            .await
            .map_err(|e| format!("cannot register the page-event capture: {e}"))?;
        Ok(browser)
    }

    /// POSTs `body` to `/session/{id}/{path}` on chromedriver, for its commands fantoccini does not wrap.
    async fn driver_post(&self, path: &str, body: Value) -> Result<Value, String> {
        let url = format!("http://127.0.0.1:{}/session/{}/{path}", self.port, self.session_id);
        let resp = reqwest::Client::new().post(url).json(&body).send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let v: Value = resp.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {}", v["value"]["message"].as_str().unwrap_or(&v.to_string())));
        }
        Ok(v["value"].clone())
    }

    /// Shows pages as a screen `width` × `height` CSS pixels wide would (a phone at 360 × 740), in
    /// the light or the dark colour scheme (`prefers-color-scheme`), through the DevTools protocol.
    pub async fn emulate(&self, width: u32, height: u32, dark: bool) {
        let metrics = json!({"cmd": "Emulation.setDeviceMetricsOverride",
            "params": {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}});
        self.driver_post("goog/cdp/execute", metrics).await.unwrap_or_else(|e| panic!("cannot set the viewport: {e}"));
        let scheme = if dark { "dark" } else { "light" };
        let media = json!({"cmd": "Emulation.setEmulatedMedia",
            "params": {"features": [{"name": "prefers-color-scheme", "value": scheme}]}});
        self.driver_post("goog/cdp/execute", media).await.unwrap_or_else(|e| panic!("cannot set the colour scheme: {e}"));
    }

    /// How far the page scrolls sideways: 0 when nothing is wider than the screen.
    pub async fn horizontal_overflow(&self) -> i64 {
        let v = self.exec("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![]).await;
        v.as_i64().unwrap_or(i64::MAX)
    }

    /// The fantoccini client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn goto(&self, url: &str) {
        if let Err(e) = self.client.goto(url).await {
            panic!("cannot open {url}: {e}");
        }
    }

    pub async fn current_url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// The first element matching `css`, now; panics if there is none.
    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => panic!("no element matches {css:?} on {}: {e}", self.current_url().await),
        }
    }

    /// The first element matching `css`, if any, now.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap().into_iter().next()
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap()
    }

    /// Polls until an element matching `css` is present and displayed; on timeout saves a screenshot
    /// and panics.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            for e in self.client.find_all(Locator::Css(css)).await.unwrap_or_default() {
                if e.is_displayed().await.unwrap_or(false) {
                    return e;
                }
            }
            if tokio::time::Instant::now() > deadline {
                let shot = self.screenshot(&format!("timeout-{css}")).await;
                panic!(
                    "timed out after {timeout:?} waiting for a displayed {css:?} on {} (screenshot: {})",
                    self.current_url().await,
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until an element matching `css` contains `text` in its rendered text; on timeout saves a
    /// screenshot and panics with the text last seen.
    pub async fn wait_for_text(&self, css: &str, text: &str, timeout: Duration) -> Element {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            seen.clear();
            for e in self.client.find_all(Locator::Css(css)).await.unwrap_or_default() {
                if let Ok(t) = e.text().await {
                    if t.contains(text) {
                        return e;
                    }
                    seen.push(t);
                }
            }
            if tokio::time::Instant::now() > deadline {
                let shot = self.screenshot(&format!("timeout-{css}")).await;
                panic!(
                    "timed out after {timeout:?} waiting for {text:?} in {css:?} on {}; it showed {seen:?} (screenshot: {})",
                    self.current_url().await,
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to [`DEFAULT_WAIT`]) for `css` to be displayed, then clicks it. A live page may
    /// re-render the element between finding and clicking it (the inbox replaces a row when its
    /// ticket changes); a stale element is looked up again rather than failing the test.
    pub async fn click(&self, css: &str) {
        let deadline = tokio::time::Instant::now() + DEFAULT_WAIT;
        loop {
            let e = self.wait_for(css, DEFAULT_WAIT).await;
            // In the middle of its scroller, as a person would have it before clicking: WebDriver only
            // scrolls what is outside the viewport, not what a sticky header (the window banner) covers.
            if let Ok(arg) = serde_json::to_value(&e) {
                let _ = self.client.execute("arguments[0].scrollIntoView({block: 'center', inline: 'nearest'});", vec![arg]).await;
            }
            match e.click().await {
                Ok(()) => return,
                Err(err) if err.to_string().contains("stale element") && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(err) => panic!("cannot click {css:?}: {err}"),
            }
        }
    }

    /// Waits (up to [`DEFAULT_WAIT`]) for `css` to be displayed, clears it and types `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.wait_for(css, DEFAULT_WAIT).await;
        e.clear().await.unwrap_or_else(|err| panic!("cannot clear {css:?}: {err}"));
        e.send_keys(text).await.unwrap_or_else(|err| panic!("cannot type into {css:?}: {err}"));
    }

    /// Presses keys on whatever has the focus, as a person would (WebDriver actions, so the page's
    /// own key handlers see them): each of `chord` held down in turn, then all released. `['m']` is
    /// one key; `[Key::Control.into(), Key::Alt.into(), 'm']` is Ctrl+Alt+M.
    pub async fn press(&self, chord: &[char]) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut keys = KeyActions::new("keyboard".into());
        for c in chord {
            keys = keys.then(KeyAction::Down { value: *c });
        }
        for c in chord.iter().rev() {
            keys = keys.then(KeyAction::Up { value: *c });
        }
        self.client.perform_actions(keys).await.unwrap_or_else(|e| panic!("cannot press {chord:?}: {e}"));
    }

    /// Types `text` key by key on whatever has the focus.
    pub async fn type_keys(&self, text: &str) {
        for c in text.chars() {
            self.press(&[c]).await;
        }
    }

    /// The rendered text of the first element matching `css`. A live page may replace the element
    /// between finding and reading it (a list refreshing): then it is found again.
    pub async fn text(&self, css: &str) -> String {
        let mut tries = 0;
        loop {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference && tries < 5 =>
                {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot read the text of {css:?}: {e}"),
            }
        }
    }

    /// An attribute of the first element matching `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css).await.attr(name).await.unwrap()
    }

    /// Runs `js` as a function body (`arguments` holds `args`; `return` gives the result).
    pub async fn exec(&self, js: &str, args: Vec<Value>) -> Value {
        match self.client.execute(js, args).await {
            Ok(v) => v,
            Err(e) => panic!("script failed: {e}\nscript: {}", js.lines().next().unwrap_or_default()),
        }
    }

    /// Runs `js` as an async function body: it must call `arguments[arguments.length - 1]` with the result.
    pub async fn exec_async(&self, js: &str, args: Vec<Value>) -> Value {
        match self.client.execute_async(js, args).await {
            Ok(v) => v,
            Err(e) => panic!("async script failed: {e}\nscript: {}", js.lines().next().unwrap_or_default()),
        }
    }

    /// Saves a PNG of the viewport as `<artifacts dir>/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap_or_else(|e| panic!("cannot take a screenshot: {e}"));
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(format!("{}.png", sanitize(name)));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// The SEVERE entries of the browser console logged since the previous call (chromedriver hands each
    /// entry out once). CSP violations are among them. Without the log endpoint: the page events captured
    /// in the current document ([`Browser::page_errors`] and [`Browser::csp_violations`]).
    ///
    /// Failed loads are SEVERE too, the browser's own `/favicon.ico` request included: a page under test
    /// needs a favicon (or an explicit `<link rel="icon">` its CSP allows) to log nothing.
    pub async fn console_errors(&self) -> Vec<ConsoleEntry> {
        let mut log = self.driver_post("se/log", json!({"type": "browser"})).await;
        if log.is_err() {
            log = self.driver_post("log", json!({"type": "browser"})).await;
        }
        match log {
            Ok(Value::Array(entries)) => entries
                .iter()
                .filter(|e| e["level"] == "SEVERE")
                .map(|e| ConsoleEntry { level: "SEVERE".into(), message: e["message"].as_str().unwrap_or_default().to_string() })
                .collect(),
            _ => {
                let mut out: Vec<ConsoleEntry> = self
                    .csp_violations()
                    .await
                    .into_iter()
                    .map(|v| ConsoleEntry {
                        level: "csp".into(),
                        message: format!("violates {} ({}) at {}:{}", v.directive, v.blocked_uri, v.source_file, v.line),
                    })
                    .collect();
                out.extend(
                    self.page_errors()
                        .await
                        .into_iter()
                        .map(|e| ConsoleEntry { level: e.kind, message: format!("{} at {}:{}", e.message, e.source_file, e.line) }),
                );
                out
            }
        }
    }

    async fn captured(&self) -> Vec<Value> {
        match self.exec("return Array.from(window.__windowdeskCapture || []);", vec![]).await {
            Value::Array(v) => v,
            _ => Vec::new(),
        }
    }

    /// The page ran without a Content-Security-Policy violation or a console error.
    pub async fn assert_no_errors(&self, page: &str) {
        let csp = self.csp_violations().await;
        assert!(csp.is_empty(), "{page}: Content-Security-Policy violations: {csp:?}");
        let errors = self.console_errors().await;
        assert!(errors.is_empty(), "{page}: console errors: {errors:?}");
    }

    /// `securitypolicyviolation` events of the current document, from its first script on.
    pub async fn csp_violations(&self) -> Vec<CspViolation> {
        self.captured().await.into_iter().filter(|e| e["kind"] == "csp").map(|e| serde_json::from_value(e).unwrap()).collect()
    }

    /// Uncaught script errors, failed resource loads and unhandled rejections of the current document.
    pub async fn page_errors(&self) -> Vec<PageError> {
        self.captured().await.into_iter().filter(|e| e["kind"] != "csp").map(|e| serde_json::from_value(e).unwrap()).collect()
    }

    /// Runs axe-core's WCAG 2 A and AA rules on the current page.
    ///
    /// Err when axe-core is not installed (run `npm ci` in `tests/browser`); with `CI=true` that is a panic.
    pub async fn axe_check(&self) -> Result<Vec<Violation>, String> {
        let path = axe_path();
        let source = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) => {
                let msg = format!(
                    "axe-core is not installed ({}: {e}): run `npm ci --no-audit --no-fund` in tests/browser (scripts/test.sh does)",
                    path.display()
                );
                if in_ci() {
                    panic!("{msg}");
                }
                return Err(msg);
            }
        };
        if self.exec("return typeof window.axe;", vec![]).await != "object" {
            let injected = self.exec(&format!("{source}\n;return typeof window.axe;"), vec![]).await;
            if injected != "object" {
                return Err(format!("axe-core did not load into the page (typeof axe = {injected})"));
            }
        }
        let result = self
            .exec_async(
                r#"const done = arguments[arguments.length - 1];
const target = (t) => Array.isArray(t) ? t.join(' >>> ') : String(t);
axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } })
  .then((r) => done({ violations: r.violations.map((v) => ({
      id: v.id, impact: v.impact || null, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target.map(target), html: n.html, failure_summary: n.failureSummary || '' })),
  })) }))
  .catch((e) => done({ error: String((e && e.stack) || e) }));"#,
                vec![],
            )
            .await;
        if let Some(err) = result["error"].as_str() {
            return Err(format!("axe.run failed: {err}"));
        }
        serde_json::from_value(result["violations"].clone()).map_err(|e| format!("unexpected axe result: {e}"))
    }

    /// Panics, listing every violation, when axe-core finds WCAG 2 A/AA problems on the current page
    /// (see [`Browser::accessibility_report`]). Without axe-core installed this is a loud skip, or a
    /// panic with `CI=true`.
    pub async fn assert_accessible(&self, page_name: &str) {
        if let Err(report) = self.accessibility_report(page_name).await {
            panic!("{report}");
        }
    }

    /// Ok when axe-core finds no WCAG 2 A/AA problem on the current page; otherwise Err with a readable
    /// list of them (a screenshot `a11y-<page_name>.png` is saved first and named in it). Without axe-core
    /// installed: Ok after a loud `SKIPPED` line, or a panic with `CI=true`.
    pub async fn accessibility_report(&self, page_name: &str) -> Result<(), String> {
        let violations = match self.axe_check().await {
            Ok(v) => v,
            Err(e) => {
                eprintln!("\n*** SKIPPED: accessibility check of {page_name}: {e} ***\n");
                return Ok(());
            }
        };
        if violations.is_empty() {
            return Ok(());
        }
        let shot = self.screenshot(&format!("a11y-{page_name}")).await;
        let mut msg = format!(
            "{} accessibility violation(s) on {page_name} ({}; screenshot {}):\n",
            violations.len(),
            self.current_url().await,
            shot.display()
        );
        for v in &violations {
            msg.push_str(&format!("  - {} [{}]: {} <{}>\n", v.id, v.impact.as_deref().unwrap_or("?"), v.help, v.help_url));
            for n in &v.nodes {
                msg.push_str(&format!("      at {}  {}\n", n.target.join(", "), n.html));
            }
        }
        Err(msg)
    }

    /// `first-contentful-paint` of the current page in milliseconds since navigation start, waiting up to
    /// 5 s for the entry; None if the page never painted content.
    pub async fn first_contentful_paint_ms(&self) -> Option<f64> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let v = self
                .exec("const e = performance.getEntriesByName('first-contentful-paint')[0]; return e ? e.startTime : null;", vec![])
                .await;
            if let Some(ms) = v.as_f64() {
                return Some(ms);
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ends the session (Chromium quits), then chromedriver, and removes the profile.
    pub async fn close(mut self) {
        match self.client.clone().close().await {
            Ok(()) => self.guard.session_id = None,
            Err(e) => eprintln!("closing the browser session: {e}"),
        }
        // Dropping `self` ends chromedriver and removes the profile.
    }
}

/// Whatever has to go when a start fails half-way, or when the browser is dropped.
struct DriverGuard {
    driver: Option<Child>,
    port: u16,
    dir: PathBuf,
    session_id: Option<String>,
}

impl DriverGuard {
    fn stop(&mut self) {
        if let Some(id) = self.session_id.take() {
            // Chromium quits when its session ends; killing chromedriver alone would leave it running.
            blocking_request(self.port, "DELETE", &format!("/session/{id}"));
        }
        if let Some(mut child) = self.driver.take() {
            if child.try_wait().ok().flatten().is_none() {
                // The whole group: chromedriver and anything it started that is still there.
                let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).stderr(Stdio::null()).status();
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        self.stop();
    }
}
