//! Rules (SPEC 10, issue 13): how the server stores the core's rules, the one-time seeding of the
//! shipped defaults, the worker that runs triggers ([`worker`]) and their actions ([`run`]), and the
//! rule builder's [`dry_run`].
//!
//! A rule is stored as its [`RuleDraft`] JSON (texts as written), only after
//! [`RuleDraft::validate`] accepted it, so every stored rule is one the core can run; reading it back
//! validates again, which turns the texts into parsed placeholders.

pub mod automations;
pub mod dry_run;
pub mod facts;
pub mod run;
pub mod worker;
pub mod workflows;

use windowdesk_core::rules::{default_rules, InvalidRule};
use windowdesk_core::{Rule, RuleDraft, Timestamp};
use windowdesk_store::{RuleRow, RuleWrite, Store};

/// What the store keeps of a draft that [`RuleDraft::validate`] accepted.
pub fn write_of(draft: &RuleDraft, actor: &str, now: Timestamp) -> Result<RuleWrite, InvalidRule> {
    // The id is not part of what is checked; 0 stands for "not saved yet".
    draft.validate(0)?;
    Ok(RuleWrite {
        name: draft.name.trim().to_owned(),
        enabled: draft.enabled,
        position: draft.position,
        event: draft.event.as_str().to_owned(),
        rule: serde_json::to_string(draft).expect("a rule draft serializes"),
        actor: actor.to_owned(),
        now,
    })
}

/// The stored draft of a row.
pub fn draft_of(row: &RuleRow) -> Result<RuleDraft, String> {
    let mut draft: RuleDraft = serde_json::from_str(&row.rule).map_err(|e| format!("rule {} is not a rule: {e}", row.id))?;
    // The columns are the truth for what lists and the worker filter on.
    draft.name.clone_from(&row.name);
    draft.enabled = row.enabled;
    draft.position = row.position;
    Ok(draft)
}

/// The checked rule of a row.
pub fn rule_of(row: &RuleRow) -> Result<Rule, String> {
    draft_of(row)?.validate(row.id).map_err(|e| format!("rule {} no longer validates: {e}", row.id))
}

/// Seeds [`default_rules`] the first time the desk starts on a database; never again, so a default
/// an admin deleted stays deleted. Returns whether it seeded.
pub async fn seed_defaults(store: &dyn Store, now: Timestamp) -> anyhow::Result<bool> {
    let writes = default_rules()
        .iter()
        .map(|d| write_of(d, "system", now).map_err(|e| anyhow::anyhow!("shipped rule {:?} does not validate: {e}", d.name)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let seeded = store.seed_rules(&writes).await?;
    if seeded {
        tracing::info!(rules = writes.len(), "seeded the shipped default rules");
    }
    Ok(seeded)
}

/// The enabled triggers (every rule but automations), checked, in their visible order. A stored
/// rule that no longer validates is left out and logged, so one bad row does not stop the others.
pub async fn active_triggers(store: &dyn Store) -> anyhow::Result<Vec<Rule>> {
    Ok(triggers_of(&store.rules().await?))
}

fn triggers_of(rows: &[RuleRow]) -> Vec<Rule> {
    let mut rules = Vec::new();
    for row in rows {
        if !row.enabled {
            continue;
        }
        match rule_of(row) {
            Ok(rule) if !rule.event.is_automation() => rules.push(rule),
            Ok(_) => {}
            Err(e) => tracing::error!(rule = row.id, error = %e, "a stored rule cannot run"),
        }
    }
    rules
}

/// [`active_triggers`] for a worker that asks many times a second: the rows are read every time
/// (any instance may have changed them), and parsed and checked again only when they differ from
/// the last read.
#[derive(Default)]
pub struct TriggerCache {
    rows: Vec<RuleRow>,
    rules: std::sync::Arc<Vec<Rule>>,
}

impl TriggerCache {
    pub async fn get(&mut self, store: &dyn Store) -> anyhow::Result<std::sync::Arc<Vec<Rule>>> {
        let rows = store.rules().await?;
        if rows != self.rows {
            self.rules = std::sync::Arc::new(triggers_of(&rows));
            self.rows = rows;
        }
        Ok(self.rules.clone())
    }
}
