//! Conversation-based pricing (CBP), Meta's model before 2025-07-01, kept for history: a business
//! paid per 24-hour conversation, not per message. A conversation of a category (marketing,
//! utility, authentication, service) opens with the first message of that category while none of
//! that category is open with the customer, and lasts 24 hours; messages of that category inside it
//! cost nothing more. (The HighLevel help page describes the same rule.)

use std::time::Duration;

use serde::Serialize;

use super::Category;
use crate::time::Timestamp;

/// How long a conversation lasts.
pub const CONVERSATION: Duration = Duration::from_secs(24 * 3600);

/// A conversation with one customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conversation {
    pub category: Category,
    pub opened_at: Timestamp,
}

impl Conversation {
    pub fn expires_at(&self) -> Timestamp {
        self.opened_at.plus(CONVERSATION)
    }

    /// Open at `at`: from its first message until 24 hours later (exclusive).
    pub fn is_open(&self, at: Timestamp) -> bool {
        self.opened_at <= at && at < self.expires_at()
    }
}

/// The conversation of `category` open at `at`, if any: a message then opens none.
pub fn open_conversation<'a>(conversations: &'a [Conversation], category: &Category, at: Timestamp) -> Option<&'a Conversation> {
    conversations.iter().find(|c| &c.category == category && c.is_open(at))
}

/// The conversations a run of messages (category and time, in time order) opens: each message of
/// a category with none of that category open opens one.
pub fn conversations_of<'a>(messages: impl IntoIterator<Item = (&'a Category, Timestamp)>) -> Vec<Conversation> {
    let mut open: Vec<Conversation> = Vec::new();
    for (category, at) in messages {
        if open_conversation(&open, category, at).is_none() {
            open.push(Conversation { category: category.clone(), opened_at: at });
        }
    }
    open
}
