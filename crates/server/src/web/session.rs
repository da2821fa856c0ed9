//! Sign-in and sessions.
//!
//! - Passwords are argon2 hashes, verified off the async workers.
//! - The session cookie (`wd_session`) holds a random secret; the database keeps only its SHA-256.
//!   It is `HttpOnly`, `SameSite=Lax`, and `Secure` unless `web.secure_cookies` is off.
//! - Every form carries the session's CSRF token, compared in constant time; a request whose
//!   `Origin` is another site is refused as well. The sign-in form uses a double-submit cookie.
//! - Sign-in attempts are rate-limited per email address and per client address.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::distributions::{Alphanumeric, DistString};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use windowdesk_store::{AgentRole, NewSession, SessionRow};

use super::{render, WebError};
use crate::AppState;

pub const SESSION_COOKIE: &str = "wd_session";
const LOGIN_COOKIE: &str = "wd_login";

/// The signed-in agent. Handlers that take one only run with a live session; without one, the
/// browser is sent to the sign-in page and comes back afterwards.
#[derive(Clone, Debug)]
pub struct Agent {
    pub session: SessionRow,
}

impl Agent {
    pub fn id(&self) -> i64 {
        self.session.agent.id
    }

    pub fn name(&self) -> &str {
        &self.session.agent.name
    }

    pub fn is_admin(&self) -> bool {
        self.session.agent.role == AgentRole::Admin
    }

    /// How the agent appears in ticket events and as a message author (T6).
    pub fn actor(&self) -> String {
        format!("agent:{}", self.id())
    }

    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }

    /// The agent's time zone, or UTC if the stored name is not one.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.session.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        if bool::from(token.as_bytes().ct_eq(self.session.csrf_token.as_bytes())) {
            Ok(())
        } else {
            Err(WebError::Forbidden("This form has expired or did not come from this desk. Reload the page and try again.".into()))
        }
    }
}

/// Sends the browser to sign in (and back here after).
pub struct SignInFirst(String);

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        Redirect::to(&format!("/login?next={}", urlencode(&self.0))).into_response()
    }
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let next = if parts.method == axum::http::Method::GET { path } else { "/".to_owned() };
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(cookie) = jar.get(SESSION_COOKIE) else { return Err(SignInFirst(next).into_response()) };
        let hash = windowdesk_store::tokens::hash(cookie.value());
        let session = match state.store.session(&hash, state.clock.now()).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(SignInFirst(next).into_response()),
            Err(e) => return Err(WebError::Store(e).into_response()),
        };
        if parts.method != axum::http::Method::GET && !same_origin(&parts.headers) {
            return Err(WebError::Forbidden("This request came from another site.".into()).into_response());
        }
        Ok(Agent { session })
    }
}

/// A browser sends `Origin` with every POST; when it names another host than the one asked (or the
/// one a reverse proxy says it forwarded, `X-Forwarded-Host`), the request was forged by another site.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return true };
    let Some((_, origin_host)) = origin.split_once("://") else { return false };
    ["host", "x-forwarded-host"]
        .iter()
        .filter_map(|name| headers.get(*name).and_then(|h| h.to_str().ok()))
        .any(|host| host.split(',').next().is_some_and(|h| h.trim() == origin_host))
}

/// Sign-in attempts per minute, per email and per client address.
pub struct LoginLimits {
    by_email: DefaultKeyedRateLimiter<String>,
    by_client: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimits {
    pub fn new(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(n).allow_burst(n);
        // A shared office address gets more room than one account.
        let client_n = NonZeroU32::new(per_minute.saturating_mul(4)).unwrap_or(n);
        LoginLimits {
            by_email: RateLimiter::keyed(quota),
            by_client: RateLimiter::keyed(Quota::per_minute(client_n).allow_burst(client_n)),
        }
    }

    /// `Err(seconds to wait)` when either limit is spent.
    fn check(&self, email: &str, client: Option<IpAddr>) -> Result<(), u64> {
        let clock = governor::clock::DefaultClock::default();
        let wait = |not_until: governor::NotUntil<governor::clock::QuantaInstant>| {
            use governor::clock::Clock;
            not_until.wait_time_from(clock.now()).as_secs().max(1)
        };
        if let Some(ip) = client {
            self.by_client.check_key(&ip).map_err(wait)?;
        }
        self.by_email.check_key(&email.to_owned()).map_err(wait)?;
        Ok(())
    }
}

/// The client's address when the server knows it (`into_make_service_with_connect_info`).
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only a path on this site: `next` must not send a signed-in agent to another site. Browsers drop
/// tabs and new lines from URLs and read a backslash as `/`, so `/\t/evil.example` would become
/// `//evil.example`: any control character, whitespace or backslash refuses it, and what is left
/// must parse as a path (no scheme, no authority) that does not start with `//`.
fn safe_next(next: Option<&str>) -> String {
    let Some(n) = next else { return "/".to_owned() };
    let clean = !n.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    let local = n.starts_with('/') && !n.starts_with("//");
    let parsed = axum::http::Uri::try_from(n).is_ok_and(|u| u.scheme().is_none() && u.authority().is_none());
    if clean && local && parsed {
        n.to_owned()
    } else {
        "/".to_owned()
    }
}

fn login_cookie_token(jar: &CookieJar) -> Option<String> {
    jar.get(LOGIN_COOKIE).map(|c| c.value().to_owned())
}

fn random_token() -> String {
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, 43)
}

pub async fn login_page(State(state): State<AppState>, jar: CookieJar, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    render_login(&state, jar, &next, None, StatusCode::OK)
}

fn render_login(state: &AppState, jar: CookieJar, next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let token = login_cookie_token(&jar).unwrap_or_else(random_token);
    let cookie = Cookie::build((LOGIN_COOKIE, token.clone()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.web.config.secure_cookies)
        .path("/login")
        .build();
    (status, jar.add(cookie), Html(render::login_page(&token, next, error).into_string())).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    /// Missing is refused like a wrong token (403), not as a malformed form.
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

pub async fn login(State(state): State<AppState>, ClientAddr(client): ClientAddr, jar: CookieJar, Form(form): Form<LoginForm>) -> Response {
    let next = safe_next(form.next.as_deref());
    let expected = login_cookie_token(&jar);
    if !expected.is_some_and(|e| bool::from(e.as_bytes().ct_eq(form.csrf.as_bytes()))) {
        return render_login(&state, jar, &next, Some("The sign-in form expired. Please try again."), StatusCode::FORBIDDEN);
    }
    let email = form.email.trim().to_lowercase();
    if email.is_empty() || form.password.is_empty() {
        return render_login(&state, jar, &next, Some("Enter your email address and password."), StatusCode::BAD_REQUEST);
    }
    if let Err(wait) = state.web.limits.check(&email, client) {
        tracing::warn!(email = %email, "sign-in rate limit reached");
        let msg = format!("Too many sign-in attempts. Try again in {wait} seconds.");
        return render_login(&state, jar, &next, Some(&msg), StatusCode::TOO_MANY_REQUESTS);
    }
    let credentials = match state.store.agent_credentials(&email).await {
        Ok(c) => c,
        Err(e) => return WebError::Store(e).into_response(),
    };
    let hash = credentials.as_ref().and_then(|c| c.password_hash.clone());
    let password = form.password;
    // Verify even for unknown emails, against a fixed hash, so timing does not tell which exist.
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, hash.as_deref())).await.unwrap_or(false);
    // A deactivated agent is refused with the same words: the form does not tell who left.
    let Some(agent) = credentials.filter(|c| ok && c.agent.active).map(|c| c.agent) else {
        tracing::info!(email = %email, "sign-in refused");
        return render_login(&state, jar, &next, Some("That email address and password do not match."), StatusCode::UNAUTHORIZED);
    };
    let secret = random_token();
    let now = state.clock.now();
    let ttl = Duration::from_secs(state.web.config.session_hours.saturating_mul(3600));
    let new = NewSession {
        token_hash: windowdesk_store::tokens::hash(&secret),
        agent_id: agent.id,
        csrf_token: random_token(),
        now,
        expires_at: now.plus(ttl),
    };
    if let Err(e) = state.store.create_session(&new).await {
        return WebError::Store(e).into_response();
    }
    tracing::info!(agent_id = agent.id, "signed in");
    let cookie = Cookie::build((SESSION_COOKIE, secret))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.web.config.secure_cookies)
        .path("/")
        .max_age(time_duration(ttl))
        .build();
    let jar = jar.remove(Cookie::build(LOGIN_COOKIE).path("/login")).add(cookie);
    (jar, Redirect::to(&next)).into_response()
}

fn time_duration(d: Duration) -> time::Duration {
    time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A valid argon2 hash of a random string: unknown emails are verified against it.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$N2aFm3bIXEfEs5VnmJmZRTOHk1XgXYeu2a7xhuqmnXc";

pub(crate) fn verify_password(password: &str, hash: Option<&str>) -> bool {
    let (phc, real) = match hash {
        Some(h) => (h, true),
        None => (DUMMY_HASH, false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && real
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(State(state): State<AppState>, agent: Agent, jar: CookieJar, Form(form): Form<CsrfForm>) -> Result<Response, WebError> {
    agent.check_csrf(&form.csrf)?;
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        state.store.delete_session(&windowdesk_store::tokens::hash(cookie.value())).await?;
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok((jar, Redirect::to("/login")).into_response())
}

/// Percent-encodes a path for a query parameter.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/tickets/4")), "/tickets/4");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        // Browsers strip tabs and new lines: these would become //evil.example.
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("/\n/evil.example")), "/");
        assert_eq!(safe_next(Some("/\r\n/evil.example")), "/");
        assert_eq!(safe_next(Some("/ /evil.example")), "/");
        assert_eq!(safe_next(Some("/tickets/4?x=1#m5")), "/tickets/4?x=1#m5");
    }

    #[test]
    fn the_dummy_hash_is_a_valid_hash_that_never_signs_anyone_in() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password("anything", None));
    }

    #[test]
    fn origin_must_match_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "desk.example:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "https://desk.example:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
    }
}
