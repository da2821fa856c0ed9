//! Customers (SPEC section 7, issue 16 item 1): a contact with every identity it has (one per
//! WhatsApp user per business number), notes about them, and every ticket they opened on any number.

use serde::Serialize;
use windowdesk_core::{CustomerWindow, Timestamp};

/// A customer's page: who they are, how each business number knows them, and what the desk wrote
/// about them. Their tickets are read a page at a time ([`crate::CustomerStore::customer_tickets`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerProfile {
    pub contact_id: i64,
    pub name: String,
    /// Still the name WhatsApp gave (an agent's edit sets it for good).
    pub name_is_default: bool,
    pub created_at: Timestamp,
    /// Set when this customer was merged into another: everything of theirs is there now.
    pub merged_into: Option<i64>,
    pub identities: Vec<CustomerIdentity>,
    /// Newest first.
    pub notes: Vec<CustomerNote>,
    /// Every ticket they opened, on any business number.
    pub ticket_count: i64,
}

/// One of a customer's identities: a WhatsApp user as one business number knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerIdentity {
    pub id: i64,
    pub business_number_id: i64,
    pub phone_number_id: String,
    pub business_display_number: String,
    pub wa_id: Option<String>,
    pub bsuid: Option<String>,
    pub profile_name: Option<String>,
    pub window: CustomerWindow,
    pub created_at: Timestamp,
}

/// A note about a customer (not about one ticket): seen by agents only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CustomerNote {
    pub id: i64,
    pub contact_id: i64,
    /// `agent:<id>` or `api_token:<id>`.
    pub author: String,
    pub body: String,
    pub created_at: Timestamp,
}

/// A merge of one customer (the source) into another (the target), as recorded: what moved, so an
/// admin can see it and undo it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MergeRecord {
    pub id: i64,
    pub target_id: i64,
    pub source_id: i64,
    /// The source's name when it was merged (it may be renamed since).
    pub source_name: String,
    pub target_name: String,
    pub identity_ids: Vec<i64>,
    pub ticket_ids: Vec<i64>,
    pub note_ids: Vec<i64>,
    pub merged_by: String,
    pub merged_at: Timestamp,
    pub undone_by: Option<String>,
    pub undone_at: Option<Timestamp>,
}

/// What the moved rows were, as stored in a merge record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Moved {
    pub identities: Vec<i64>,
    pub tickets: Vec<i64>,
    pub notes: Vec<i64>,
}

/// Another customer who is likely the same person, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DuplicateSuggestion {
    pub contact_id: i64,
    pub name: String,
    pub reason: DuplicateReason,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DuplicateReason {
    /// The same WhatsApp number wrote to another business number.
    SameNumber { wa_id: String },
    /// The same business-scoped user id (a BSUID later seen with a `wa_id`).
    SameBsuid { bsuid: String },
    /// WhatsApp said this customer changed number (`user_changed_number`) to one the other has.
    ChangedNumber { wa_id: String },
}
