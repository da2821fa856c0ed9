//! Administrative actions shared by the CLI (`windowdesk token create`, `windowdesk agent add`) and the
//! API: validation lives here once, so both refuse the same input with the same words.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::Argon2;
use windowdesk_core::{Clock, SystemClock};
use windowdesk_store::{AgentRole, AgentRow, CreatedApiToken, NewAgent, Store, StoreError};

/// Shortest password accepted for an agent.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest agent name, as given.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest email address, as given (RFC 3696's 320).
pub const MAX_EMAIL_CHARS: usize = 320;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("an agent with email {0} already exists")]
    EmailTaken(String),
    #[error("hashing the password failed: {0}")]
    Hashing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `value` trimmed; it must not be blank, and at most `max_chars` long as given (the limit the API
/// documents, so surrounding whitespace counts).
fn required(field: &'static str, value: &str, max_chars: usize) -> Result<String, AdminError> {
    if value.chars().count() > max_chars {
        return Err(AdminError::Invalid { field, message: format!("must be at most {max_chars} characters") });
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(AdminError::Invalid { field, message: "must not be empty".into() });
    }
    Ok(value.to_owned())
}

/// Creates an API token named `name` and returns it with its plaintext (`token`), which is shown this
/// once: only its hash is stored. This is what `windowdesk token create --name NAME` calls.
pub async fn create_api_token(store: &dyn Store, name: &str) -> Result<CreatedApiToken, AdminError> {
    let name = required("name", name, 100)?;
    Ok(store.create_api_token(&name, SystemClock.now()).await?)
}

/// Parses a role name (`admin` or `agent`, exactly).
pub fn parse_role(role: &str) -> Result<AgentRole, AdminError> {
    AgentRole::parse(role).ok_or_else(|| AdminError::Invalid { field: "role", message: format!("must be admin or agent, not {role:?}") })
}

/// Creates an agent; the password, when given, is stored as an argon2 hash. This is what
/// `windowdesk agent add` calls.
pub async fn create_agent(
    store: &dyn Store,
    name: &str,
    email: &str,
    role: AgentRole,
    password: Option<&str>,
) -> Result<AgentRow, AdminError> {
    let name = required("name", name, MAX_NAME_CHARS)?;
    let email = valid_email(email)?;
    let password_hash = match password {
        None => None,
        Some(p) if p.chars().count() < MIN_PASSWORD_CHARS => {
            return Err(AdminError::Invalid { field: "password", message: format!("must be at least {MIN_PASSWORD_CHARS} characters") });
        }
        Some(p) => Some(hash_password(p.to_owned()).await?),
    };
    let agent = NewAgent { name, email: email.clone(), role, password_hash, now: SystemClock.now() };
    match store.create_agent(&agent).await {
        Err(StoreError::Conflict(_)) => Err(AdminError::EmailTaken(email)),
        other => Ok(other?),
    }
}

/// The email as stored: trimmed, lowercased, and shaped like an address.
fn valid_email(email: &str) -> Result<String, AdminError> {
    let email = required("email", email, MAX_EMAIL_CHARS)?.to_lowercase();
    let well_formed = email.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.') && !host.ends_with('.'));
    if !well_formed || email.chars().any(char::is_whitespace) {
        return Err(AdminError::Invalid { field: "email", message: format!("{email:?} is not an email address") });
    }
    Ok(email)
}

/// Changes an agent's name and sign-in email, each checked as when the agent was added; a field
/// left out keeps its value. `None` when there is no such agent. Their sessions stay valid: a
/// session belongs to the agent, not to the address.
pub async fn update_agent(store: &dyn Store, id: i64, name: Option<&str>, email: Option<&str>) -> Result<Option<AgentRow>, AdminError> {
    let name = name.map(|n| required("name", n, MAX_NAME_CHARS)).transpose()?;
    let email = email.map(valid_email).transpose()?;
    let Some(current) = store.agent(id).await? else { return Ok(None) };
    let name = name.unwrap_or(current.name);
    let email = email.unwrap_or(current.email);
    match store.update_agent(id, &name, &email).await {
        Err(StoreError::Conflict(_)) => Err(AdminError::EmailTaken(email)),
        other => Ok(other?),
    }
}

/// Sets an agent's password (stored as an argon2 hash); `false` when there is no such agent. An
/// agent changing their own, and an admin resetting someone's, both come here.
pub async fn set_password(store: &dyn Store, agent_id: i64, password: &str) -> Result<bool, AdminError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AdminError::Invalid { field: "password", message: format!("must be at least {MIN_PASSWORD_CHARS} characters") });
    }
    let hash = hash_password(password.to_owned()).await?;
    Ok(store.set_agent_password(agent_id, &hash).await?)
}

/// argon2 is deliberately slow: it runs off the async workers.
async fn hash_password(password: String) -> Result<String, AdminError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| AdminError::Hashing(e.to_string()))
    })
    .await
    .map_err(|e| AdminError::Hashing(e.to_string()))?
}
