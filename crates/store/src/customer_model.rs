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
