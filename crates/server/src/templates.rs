//! The template registry (SPEC 9): reading it for the send decision, and syncing it from Meta
//! (`GET /{waba-id}/message_templates`, every page) on demand, periodically and when a template
//! webhook says something changed.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use windowdesk_core::template::TemplateDef;
use windowdesk_store::{Store, StoreError, SyncedTemplate, TemplateRow, TemplateSyncCounts};
use windowdesk_whatsapp::client::{ApiError, CloudApi};
use windowdesk_whatsapp::templates::{parse_template, template_json};

use crate::directory::NumberDirectory;
use crate::AppState;

/// A registry row as the send decision sees it. Status and category come from the row (webhooks keep
/// them current); the rest from Meta's template object of the last sync. A template never synced is
/// known by name only, and cannot be validated, so it is left out.
pub fn definition_of(row: &TemplateRow) -> Option<TemplateDef> {
    if row.removed_at.is_some() {
        return None;
    }
    let json: Value = serde_json::from_str(row.definition.as_deref()?).ok()?;
    let mut def = parse_template(&json).ok()?;
    if let Some(status) = &row.status {
        def.status = status.to_ascii_uppercase();
    }
    if let Some(category) = &row.category {
        def.category = category.to_ascii_uppercase();
    }
    Some(def)
}

/// The templates of a business number's account.
pub async fn account_templates(state: &AppState, business_number_id: i64) -> Result<Vec<TemplateDef>, StoreError> {
    let Some(waba) = state.numbers.waba_of(business_number_id) else { return Ok(Vec::new()) };
    Ok(state.store.templates().await?.iter().filter(|t| t.waba_id == waba).filter_map(definition_of).collect())
}

/// What one account's sync did.
#[derive(Clone, Debug, Serialize)]
pub struct AccountSync {
    pub waba_id: String,
    pub pages: u32,
    pub templates: u64,
    #[serde(flatten)]
    pub counts: TemplateSyncCounts,
    /// Template objects Meta listed that could not be read (named, with why).
    pub skipped: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the Cloud API refused the template list of account {waba_id}: {error}")]
    Api { waba_id: String, error: ApiError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Progress of a sync, for the CLI: (account, page number, templates so far).
pub type Progress<'a> = &'a (dyn Fn(&str, u32, u64) + Send + Sync);

/// Syncs every account of the configured numbers, one after another.
pub async fn sync_all(
    store: &Arc<dyn Store>,
    api: &CloudApi,
    numbers: &NumberDirectory,
    page_size: u32,
    now: windowdesk_core::Timestamp,
    progress: Progress<'_>,
) -> Result<Vec<AccountSync>, SyncError> {
    let mut seen: Vec<&str> = Vec::new();
    let mut reports = Vec::new();
    for n in numbers.all() {
        if seen.contains(&n.waba_id.as_str()) {
            continue;
        }
        seen.push(&n.waba_id);
        reports.push(sync_account(store, api, &n.waba_id, n.access_token.expose_secret(), page_size, now, progress).await?);
    }
    Ok(reports)
}

/// Follows every page of the account's template list, then records it in one transaction: a sync
/// that fails half-way changes nothing.
pub async fn sync_account(
    store: &Arc<dyn Store>,
    api: &CloudApi,
    waba_id: &str,
    access_token: &str,
    page_size: u32,
    now: windowdesk_core::Timestamp,
    progress: Progress<'_>,
) -> Result<AccountSync, SyncError> {
    let mut after: Option<String> = None;
    let mut pages = 0u32;
    let mut synced = Vec::new();
    let mut skipped = Vec::new();
    loop {
        let page = api
            .template_page(waba_id, access_token, page_size, after.as_deref())
            .await
            .map_err(|error| SyncError::Api { waba_id: waba_id.to_owned(), error })?;
        pages += 1;
        for t in &page.templates {
            match parse_template(t) {
                Ok(def) => synced.push(SyncedTemplate {
                    name: def.name.clone(),
                    language: def.language.clone(),
                    meta_template_id: t.get("id").and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|i| i.to_string()))),
                    category: Some(def.category.clone()).filter(|c| !c.is_empty()),
                    status: Some(def.status.clone()),
                    definition: template_json(t).to_string(),
                }),
                Err(why) => skipped.push(why),
            }
        }
        progress(waba_id, pages, synced.len() as u64);
        match page.after {
            // A cursor that does not move would loop forever.
            Some(next) if after.as_deref() != Some(next.as_str()) && pages < 10_000 => after = Some(next),
            _ => break,
        }
    }
    let counts = store.store_synced_templates(waba_id, &synced, now).await?;
    tracing::info!(waba_id, pages, templates = synced.len(), added = counts.added, removed = counts.removed, "templates synced");
    Ok(AccountSync { waba_id: waba_id.to_owned(), pages, templates: synced.len() as u64, counts, skipped })
}

/// Syncs at start, every `interval` (if not zero), and whenever `wake` fires (a template webhook).
pub async fn run_sync_worker(
    state: AppState,
    api: CloudApi,
    page_size: u32,
    interval: Duration,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    // Every instance wakes on its own schedule; the `template-sync` lease, taken for one interval and
    // never renewed, lets one of them sync per interval (a sync asked for by a webhook or a person
    // always runs).
    let owner = crate::singleton::instance_id();
    let mut asked = false;
    loop {
        if state.numbers.is_empty() {
            return;
        }
        if !asked && !interval.is_zero() {
            match state.store.acquire_lease("template-sync", &owner, state.clock.now(), interval, false).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    tracing::debug!("another instance synced the templates this interval");
                    tokio::select! {
                        () = tokio::time::sleep(interval) => {}
                        () = wake.notified() => asked = true,
                        () = shutdown.cancelled() => return,
                    }
                    continue;
                }
                Err(e) => tracing::warn!(error = %e, "could not read the template-sync lease; syncing anyway"),
            }
        }
        asked = false;
        match sync_all(&state.store, &api, &state.numbers, page_size, state.clock.now(), &|_, _, _| {}).await {
            Ok(reports) => {
                for r in &reports {
                    if !r.skipped.is_empty() {
                        tracing::warn!(waba_id = %r.waba_id, skipped = ?r.skipped, "some templates could not be read");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "template sync failed; the registry keeps what it had"),
        }
        let nap = if interval.is_zero() { Duration::from_secs(365 * 86_400) } else { interval };
        tokio::select! {
            () = tokio::time::sleep(nap) => {}
            () = wake.notified() => asked = true,
            () = shutdown.cancelled() => return,
        }
    }
}
