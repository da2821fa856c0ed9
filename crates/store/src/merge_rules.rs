//! What both backends decide the same way about merging customers: when a merge or its undo is
//! refused, and how likely duplicates are found and named.

use crate::customer_model::{DuplicateReason, DuplicateSuggestion, MergeRecord};
use crate::error::StoreError;

/// Refuses merging a customer into itself, or one already merged away.
pub(crate) fn check_mergeable(target: i64, source: i64, target_merged: Option<i64>, source_merged: Option<i64>) -> Result<(), StoreError> {
    if target == source {
        return Err(StoreError::Conflict("a customer cannot be merged into itself".into()));
    }
    if let Some(into) = source_merged {
        return Err(StoreError::Conflict(format!("customer {source} was already merged into customer {into}")));
    }
    if let Some(into) = target_merged {
        return Err(StoreError::Conflict(format!("customer {target} was merged into customer {into}: merge into that one instead")));
    }
    Ok(())
}

/// An undo is safe while the merge is the last thing that happened to both customers: not undone
/// yet, the source still pointing at the target, and the target not merged away since.
pub(crate) fn check_undoable(m: &MergeRecord, target_merged: Option<i64>, source_merged: Option<i64>) -> Result<(), StoreError> {
    if m.undone_at.is_some() {
        return Err(StoreError::Conflict(format!("merge {} was already undone", m.id)));
    }
    if source_merged != Some(m.target_id) {
        return Err(StoreError::Conflict(format!("customer {} is no longer merged into customer {}", m.source_id, m.target_id)));
    }
    if let Some(into) = target_merged {
        return Err(StoreError::Conflict(format!("customer {} was merged into customer {into} since: undo that merge first", m.target_id)));
    }
    Ok(())
}

/// Other customers who share a number or a business-scoped user id with the customer `?1`, or
/// whose number theirs changed to. Columns: contact id, name, reason kind, the shared value.
pub(crate) const DUPLICATES_SQL: &str = "
    SELECT d.id, d.name, d.kind, d.value FROM (
        SELECT c.id, c.name, 'same_number' AS kind, o.wa_id AS value
          FROM identities mine
          JOIN identities o ON o.wa_id = mine.wa_id AND o.contact_id <> mine.contact_id
          JOIN contacts c ON c.id = o.contact_id AND c.merged_into IS NULL
         WHERE mine.contact_id = ?1 AND mine.wa_id IS NOT NULL
        UNION
        SELECT c.id, c.name, 'same_bsuid', o.bsuid
          FROM identities mine
          JOIN identities o ON o.bsuid = mine.bsuid AND o.contact_id <> mine.contact_id
          JOIN contacts c ON c.id = o.contact_id AND c.merged_into IS NULL
         WHERE mine.contact_id = ?1 AND mine.bsuid IS NOT NULL
        UNION
        SELECT c.id, c.name, 'changed_number', o.wa_id
          FROM identities mine
          JOIN identity_changes ch ON ch.identity_id = mine.id AND ch.field = 'wa_id'
          JOIN identities o ON o.wa_id = ch.new_value AND o.contact_id <> mine.contact_id
          JOIN contacts c ON c.id = o.contact_id AND c.merged_into IS NULL
         WHERE mine.contact_id = ?1
    ) d
    ORDER BY d.id, CASE d.kind WHEN 'same_number' THEN 0 WHEN 'changed_number' THEN 1 ELSE 2 END
    LIMIT 20";

pub(crate) fn duplicate_reason(kind: &str, value: String) -> DuplicateReason {
    match kind {
        "same_bsuid" => DuplicateReason::SameBsuid { bsuid: value },
        "changed_number" => DuplicateReason::ChangedNumber { wa_id: value },
        _ => DuplicateReason::SameNumber { wa_id: value },
    }
}

/// One suggestion per customer, with its strongest reason (rows come strongest first).
pub(crate) fn dedupe_suggestions(mut found: Vec<DuplicateSuggestion>) -> Vec<DuplicateSuggestion> {
    let mut seen = std::collections::HashSet::new();
    found.retain(|s| seen.insert(s.contact_id));
    found
}
