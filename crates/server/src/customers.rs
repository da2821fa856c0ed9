//! Changes to customers, shared by the web page and the API so that both refuse the same input with
//! the same words: renaming (the name then stays, whatever WhatsApp's profile says), notes about the
//! customer, and merging two customers (and undoing it).

use windowdesk_core::Timestamp;
use windowdesk_store::{CustomerNote, Store, StoreError};

use crate::api::admin::MAX_NAME_CHARS;
use crate::replies::MAX_TEXT_CHARS;

#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("there is no customer {0}")]
    NotFound(i64),
    #[error("there is no merge {0}")]
    NoMerge(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn text(field: &'static str, value: &str, max: usize) -> Result<String, CustomerError> {
    if value.chars().count() > max {
        return Err(CustomerError::Invalid { field, message: format!("must be at most {max} characters") });
    }
    if value.contains('\0') {
        return Err(CustomerError::Invalid { field, message: "must not contain U+0000".into() });
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(CustomerError::Invalid { field, message: "must not be empty".into() });
    }
    Ok(value.to_owned())
}

/// Renames a customer for good.
pub async fn rename(store: &dyn Store, contact_id: i64, name: &str) -> Result<String, CustomerError> {
    let name = text("name", name, MAX_NAME_CHARS)?;
    if !store.rename_customer(contact_id, &name).await? {
        return Err(CustomerError::NotFound(contact_id));
    }
    Ok(name)
}

/// Adds a note about a customer, written by `author` (`agent:<id>` or `api_token:<id>`).
pub async fn add_note(store: &dyn Store, contact_id: i64, author: &str, body: &str, now: Timestamp) -> Result<CustomerNote, CustomerError> {
    let body = text("body", body, MAX_TEXT_CHARS)?;
    store.add_customer_note(contact_id, author, &body, now).await?.ok_or(CustomerError::NotFound(contact_id))
}

/// Merges `source` into `target` (SPEC C2) and tells open pages of the moved tickets.
pub async fn merge(state: &crate::AppState, target: i64, source: i64, actor: &str) -> Result<windowdesk_store::MergeRecord, CustomerError> {
    let record = match state.store.merge_customers(target, source, actor, state.clock.now()).await? {
        Some(r) => r,
        None => {
            let missing = if state.store.customer(target).await?.is_none() { target } else { source };
            return Err(CustomerError::NotFound(missing));
        }
    };
    for t in &record.ticket_ids {
        state.events.ticket(*t);
    }
    tracing::info!(merge_id = record.id, target, source, tickets = record.ticket_ids.len(), actor, "customers merged");
    Ok(record)
}

/// Undoes a merge and tells open pages of the tickets that went back.
pub async fn undo_merge(state: &crate::AppState, merge_id: i64, actor: &str) -> Result<windowdesk_store::MergeRecord, CustomerError> {
    let record = state.store.undo_merge(merge_id, actor, state.clock.now()).await?.ok_or(CustomerError::NoMerge(merge_id))?;
    for t in &record.ticket_ids {
        state.events.ticket(*t);
    }
    tracing::info!(merge_id, actor, "merge undone");
    Ok(record)
}
