//! What the agent web interface reads and writes besides tickets: sign-in sessions, the inbox lists
//! with their read markers, @mention notifications and saved views.

use serde::Serialize;
use windowdesk_core::{DeliveryState, TicketStatus, Timestamp};

use crate::model::{AgentRow, AssigneeFilter, Direction, TicketSummary};

/// An agent as sign-in sees them: the row, the password hash to verify, and their time zone.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub agent: AgentRow,
    /// An argon2 PHC string; `None` when the agent cannot sign in yet.
    pub password_hash: Option<String>,
}

/// A session to create. Only a hash of the cookie's secret is stored.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub token_hash: String,
    pub agent_id: i64,
    pub csrf_token: String,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

/// A live session and whose it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub agent: AgentRow,
    /// IANA name (`Europe/Berlin`); times are shown in it.
    pub time_zone: String,
    pub csrf_token: String,
    pub expires_at: Timestamp,
}

/// Navigation counts stop at this many: a badge says "999+" rather than counting a million
/// unassigned tickets on every page view.
pub const COUNT_CAP: u64 = 1000;

/// Which tickets an inbox list shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InboxList {
    /// Tickets assigned to the agent, in status `new` or `open`; latest activity first.
    AssignedTo(i64),
    /// Tickets nobody is assigned to, in any status; latest activity first.
    Unassigned,
    /// Tickets not closed or solved whose window is open and closes soon: the last inbound message is
    /// in `(inbound_after, inbound_at_or_before]` (bounds from `WindowPolicy::closing_within`); the
    /// least time left first.
    ClosingSoon { inbound_after: Timestamp, inbound_at_or_before: Timestamp },
    /// A saved view's filter; latest activity first.
    Filter(ViewFilter),
}

impl InboxList {
    /// Whether the list runs oldest window first (keyed on the last inbound message) rather than
    /// newest activity first (keyed on the last message).
    pub fn ascending(&self) -> bool {
        matches!(self, InboxList::ClosingSoon { .. })
    }

    /// Whether the list's filter reads the contact's identity (`i`), so counting needs the join.
    pub fn reads_identity(&self) -> bool {
        matches!(self, InboxList::ClosingSoon { .. })
    }
}

/// A saved view's filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViewFilter {
    pub status: Option<TicketStatus>,
    pub tag: Option<String>,
    pub assignee: Option<AssigneeFilter>,
}

/// Keyset position in an inbox list: the sort key (ms) and ticket id of the last row shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboxCursor {
    pub key: i64,
    pub id: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxQuery {
    pub list: InboxList,
    /// The agent reading, for unread markers.
    pub reader: i64,
    pub after: Option<InboxCursor>,
    pub limit: u32,
    /// Only the tickets of this business number.
    pub number: Option<i64>,
    /// The order of every list but Windows closing soon (which is always least time left first).
    pub sort: InboxSort,
}

/// How a list is ordered. The cursor of "Load more" follows the same key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InboxSort {
    /// The newest customer message first.
    #[default]
    Newest,
    /// The oldest customer message first: whoever has waited longest.
    WaitingLongest,
    /// Open windows only (the customer wrote after `open_after`, i.e. within the window's length),
    /// the one that closes first first.
    WindowEndingSoonest { open_after: Timestamp },
}

impl InboxQuery {
    /// The sort key's column and whether it runs ascending; the cursor's key is that column.
    pub fn order(&self) -> (&'static str, bool) {
        if self.list.ascending() {
            return ("i.last_inbound_at", true);
        }
        match self.sort {
            InboxSort::Newest => ("t.last_message_at", false),
            // The customer's own send time (a ticket's last_message_at is when the desk got it).
            InboxSort::WaitingLongest => ("i.last_inbound_at", true),
            InboxSort::WindowEndingSoonest { .. } => ("i.last_inbound_at", true),
        }
    }

    /// The lower bound on the customer's last message that Window ending soonest sets.
    pub fn open_after(&self) -> Option<Timestamp> {
        match self.sort {
            InboxSort::WindowEndingSoonest { open_after } if !self.list.ascending() => Some(open_after),
            _ => None,
        }
    }
}

/// A row of an inbox list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxItem {
    pub summary: TicketSummary,
    /// The ticket changed since the reader last opened it (or they never did). Compared on the desk's
    /// clock (`updated_at`), not on the customer's send time, which may be older than the moment the
    /// message arrived.
    pub unread: bool,
    /// Where the next page starts if this is the last row shown.
    pub cursor: InboxCursor,
    /// The newest customer message or reply in the thread's order (notes and reactions aside).
    pub latest: Option<LatestMessage>,
    /// The customer's last message, when nothing was replied after it: they have been waiting since.
    /// Held, failed and blocked replies did not reach them; a rule's automatic answer is not a reply.
    pub waiting_since: Option<Timestamp>,
}

/// The newest message of a ticket, as an inbox row shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatestMessage {
    pub message_id: i64,
    pub direction: Direction,
    pub kind: String,
    /// The start of its text (at most 200 characters).
    pub excerpt: Option<String>,
    /// Who wrote a reply: `agent:<id>`, `api:<id>`, `rule:<id>`; `None` for the customer or the
    /// WhatsApp Business app.
    pub author: Option<String>,
    /// When it was sent, or went out (a reply).
    pub at: Timestamp,
    pub delivery_state: Option<DeliveryState>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotificationRow {
    pub id: i64,
    pub ticket_id: i64,
    pub message_id: Option<i64>,
    pub kind: String,
    pub actor: String,
    /// The start of the note, for the list.
    pub excerpt: Option<String>,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SavedViewRow {
    pub id: i64,
    /// `None`: shared with everyone.
    pub agent_id: Option<i64>,
    pub name: String,
    #[serde(skip)]
    pub filter: ViewFilter,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct NewSavedView {
    pub agent_id: Option<i64>,
    pub name: String,
    pub filter: ViewFilter,
    pub now: Timestamp,
}

/// How an assignee filter is stored in a saved view: `unassigned` or the agent id.
pub fn assignee_to_text(a: Option<AssigneeFilter>) -> Option<String> {
    match a? {
        AssigneeFilter::Unassigned => Some("unassigned".into()),
        AssigneeFilter::Agent(id) => Some(id.to_string()),
    }
}

pub fn assignee_from_text(s: Option<&str>) -> Option<AssigneeFilter> {
    match s? {
        "unassigned" => Some(AssigneeFilter::Unassigned),
        id => id.parse().ok().map(AssigneeFilter::Agent),
    }
}

/// Outbound states of a reply that reached the customer or is on its way: held, failed and blocked
/// ones did not, so the customer is still waiting.
pub(crate) const REPLY_STATES: &str = "('queued', 'sending', 'accepted', 'sent', 'delivered', 'read', 'played')";

/// What a backend reads for one inbox row besides the ticket (one query for the whole page).
#[derive(Debug, Default)]
pub(crate) struct RowExtras {
    /// When the reader last opened the ticket.
    pub seen_at: Option<i64>,
    pub latest: Option<LatestMessage>,
    /// The customer's last message (reactions aside).
    pub last_inbound: Option<i64>,
    /// A reply (see [`REPLY_STATES`]; not a rule's) went out at or after `last_inbound`.
    pub replied_after: bool,
}

impl RowExtras {
    /// `on_inbound`: the list is keyed on the customer's last message (`i.last_inbound_at`) rather
    /// than the ticket's (`t.last_message_at`).
    pub(crate) fn item(self, summary: TicketSummary, on_inbound: bool) -> InboxItem {
        let unread = self.seen_at.is_none_or(|s| summary.ticket.updated_at.unix_millis() > s);
        let key = if on_inbound {
            summary.window.last_inbound_at.map_or(0, Timestamp::unix_millis)
        } else {
            summary.ticket.last_message_at.unix_millis()
        };
        let cursor = InboxCursor { key, id: summary.ticket.id };
        let waiting_since = self.last_inbound.filter(|_| !self.replied_after).map(Timestamp::from_unix_millis);
        InboxItem { summary, unread, cursor, latest: self.latest, waiting_since }
    }
}
