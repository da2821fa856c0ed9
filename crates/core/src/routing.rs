//! Ticket statuses and priorities, and where an inbound message goes: SPEC section 6 (T1, T2).

use serde::{Deserialize, Serialize};

/// T1: the life of a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// No agent reply yet.
    New,
    Open,
    /// Waiting for the customer.
    Pending,
    OnHold,
    Solved,
    /// Final and read-only.
    Closed,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 6] = [Self::New, Self::Open, Self::Pending, Self::OnHold, Self::Solved, Self::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Open => "open",
            Self::Pending => "pending",
            Self::OnHold => "on_hold",
            Self::Solved => "solved",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// How urgent a ticket is. New tickets are `normal`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Self::Low, Self::Normal, Self::High, Self::Urgent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// What routing needs to know about the contact's newest ticket on the business number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TicketSnapshot {
    pub id: i64,
    pub status: TicketStatus,
}

/// Where an inbound message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    /// Append to this ticket; when `reopen_to` is set, its status changes (e.g. solved → open).
    Append { ticket: i64, reopen_to: Option<TicketStatus> },
    /// The contact has no ticket on this number yet: create one (status `new`).
    Create,
    /// The newest ticket is closed: create a follow-up ticket linked to it both ways.
    FollowUp { of: i64 },
}

/// T2: an inbound message goes to the contact's newest ticket on that business number that is not
/// `closed`. A `solved` ticket is reopened; a ticket waiting on the customer (`pending`) becomes `open`
/// because the customer answered. If the newest ticket is `closed`, a follow-up ticket is created.
pub fn route_inbound(newest: Option<TicketSnapshot>) -> Routing {
    match newest {
        None => Routing::Create,
        Some(t) => match t.status {
            TicketStatus::Closed => Routing::FollowUp { of: t.id },
            TicketStatus::Solved | TicketStatus::Pending => Routing::Append { ticket: t.id, reopen_to: Some(TicketStatus::Open) },
            TicketStatus::New | TicketStatus::Open | TicketStatus::OnHold => Routing::Append { ticket: t.id, reopen_to: None },
        },
    }
}

/// The snapshot after a routing decision is applied, so that the next message of the same batch routes
/// against the updated ticket (an album of images arriving together makes one ticket).
pub fn after_routing(routing: Routing, newest: Option<TicketSnapshot>, created_id: impl FnOnce() -> i64) -> TicketSnapshot {
    match routing {
        Routing::Append { ticket, reopen_to } => {
            let status = reopen_to.or(newest.map(|t| t.status)).unwrap_or(TicketStatus::Open);
            TicketSnapshot { id: ticket, status }
        }
        Routing::Create | Routing::FollowUp { .. } => TicketSnapshot { id: created_id(), status: TicketStatus::New },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: i64, status: TicketStatus) -> Option<TicketSnapshot> {
        Some(TicketSnapshot { id, status })
    }

    #[test]
    fn t1_statuses_round_trip_by_name() {
        for s in TicketStatus::ALL {
            assert_eq!(TicketStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(TicketStatus::parse("deleted"), None);
    }

    #[test]
    fn priorities_round_trip_by_name_and_default_to_normal() {
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
        assert_eq!(Priority::default(), Priority::Normal);
        assert!(Priority::Urgent > Priority::High);
    }

    #[test]
    fn t2_first_message_creates_a_ticket() {
        assert_eq!(route_inbound(None), Routing::Create);
    }

    #[test]
    fn t2_goes_to_newest_non_closed_ticket() {
        for st in [TicketStatus::New, TicketStatus::Open, TicketStatus::OnHold] {
            assert_eq!(route_inbound(snap(7, st)), Routing::Append { ticket: 7, reopen_to: None });
        }
        assert_eq!(route_inbound(snap(7, TicketStatus::Pending)), Routing::Append { ticket: 7, reopen_to: Some(TicketStatus::Open) });
    }

    #[test]
    fn t2_solved_ticket_is_reopened() {
        assert_eq!(route_inbound(snap(3, TicketStatus::Solved)), Routing::Append { ticket: 3, reopen_to: Some(TicketStatus::Open) });
    }

    #[test]
    fn t2_closed_ticket_gets_a_follow_up() {
        assert_eq!(route_inbound(snap(3, TicketStatus::Closed)), Routing::FollowUp { of: 3 });
    }

    #[test]
    fn t2_messages_of_one_batch_route_to_the_ticket_the_first_one_created() {
        let first = route_inbound(None);
        let now = after_routing(first, None, || 42);
        assert_eq!(now, TicketSnapshot { id: 42, status: TicketStatus::New });
        assert_eq!(route_inbound(Some(now)), Routing::Append { ticket: 42, reopen_to: None });
    }
}
