//! Search (SPEC C3): what a search asks the store for, what it finds, and the `WHERE` clauses both
//! backends share. The query language itself is parsed in core ([`windowdesk_core::search`]); the
//! caller resolves its names (agents, business numbers, the window's bounds) into ids and times.
//!
//! Text is found through each backend's full-text index (SQLite FTS5 with `remove_diacritics 2`,
//! PostgreSQL `tsvector` over `wd_fold`), numbers through a three-character index on `wa_id` (FTS5
//! `trigram`, `pg_trgm`), so neither reads every row.

use serde::Serialize;
use windowdesk_core::search::{PhoneTerm, SearchQuery};
use windowdesk_core::{TicketStatus, Timestamp};

use crate::model::AssigneeFilter;

/// Which tickets' windows a search keeps, as bounds on the contact's last inbound message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowBounds {
    /// Open: the customer wrote after this instant.
    OpenAfter(Timestamp),
    /// Closed: the customer never wrote, or last wrote at or before this instant.
    ClosedAtOrBefore(Timestamp),
    /// Closing soon: the customer last wrote in `(after, at_or_before]`.
    Between { after: Timestamp, at_or_before: Timestamp },
}

/// Above this many messages holding a query's words (SQLite: counted in the rarest word's index;
/// PostgreSQL: the planner's estimate), ticket search walks the newest tickets rather than
/// collecting every matching message first. Tests lower it to run both plans on small data
/// ([`crate::testing::rare_word_messages`]).
pub(crate) static RARE_MESSAGES: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(20_000);

/// PostgreSQL: how many tickets the common-word walk checks before the rest of the page comes from
/// the words' index (a word the statistics call common may be rare among the filtered tickets).
pub(crate) static WALK_TICKETS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1_000);

/// A search, resolved.
#[derive(Clone, Debug, Default)]
pub struct Search {
    pub query: SearchQuery,
    /// Business number ids; empty means any.
    pub numbers: Vec<i64>,
    pub assignee: Option<AssigneeFilter>,
    pub window: Option<WindowBounds>,
    /// Only results with an id below this one (the last id of the previous page).
    pub before: Option<i64>,
    pub limit: u32,
}

/// A customer found by a search, with their identities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CustomerHit {
    pub contact_id: i64,
    pub name: String,
    pub identities: Vec<IdentityBrief>,
    /// Every ticket this customer opened, on any business number.
    pub tickets: i64,
}

/// One of a customer's identities: a WhatsApp user as seen by one business number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdentityBrief {
    pub id: i64,
    pub wa_id: Option<String>,
    pub bsuid: Option<String>,
    pub phone_number_id: String,
    pub business_display_number: String,
}

/// A message found by a search, with what its result row shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MessageHit {
    pub message_id: i64,
    pub ticket_id: i64,
    pub direction: String,
    pub body: String,
    pub sent_at: Timestamp,
    pub contact_name: String,
    pub ticket_subject: String,
    pub ticket_status: TicketStatus,
}

/// A bound value of a generated query.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
}

/// SQL dialect of the generated clauses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// `WHERE` clauses and their parameters, numbered in order for the dialect.
pub(crate) struct Clauses {
    dialect: Dialect,
    pub parts: Vec<String>,
    pub params: Vec<Param>,
}

impl Clauses {
    pub fn new(dialect: Dialect) -> Self {
        Self { dialect, parts: Vec::new(), params: Vec::new() }
    }

    /// Binds a value and returns its placeholder.
    pub fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        match self.dialect {
            Dialect::Sqlite => format!("?{}", self.params.len()),
            Dialect::Postgres => format!("${}", self.params.len()),
        }
    }

    pub fn push(&mut self, clause: String) {
        self.parts.push(clause);
    }

    /// The clauses joined with AND (`TRUE` when there are none).
    pub fn sql(&self) -> String {
        if self.parts.is_empty() {
            "1 = 1".to_owned()
        } else {
            self.parts.join(" AND ")
        }
    }

    /// Identities (aliased `alias`) whose number contains every phone term (any of a term's
    /// patterns).
    pub fn phones(&mut self, search: &Search, identity_id: &str) {
        for term in &search.query.phones {
            let mut any = Vec::new();
            for pattern in term.patterns() {
                let p = self.bind(Param::Text(format!("%{pattern}%")));
                any.push(match self.dialect {
                    Dialect::Sqlite => format!("SELECT rowid FROM identity_phone WHERE wa_id LIKE {p}"),
                    Dialect::Postgres => format!("SELECT id FROM identities WHERE wa_id LIKE {p}"),
                });
            }
            self.push(format!("{identity_id} IN ({})", any.join(" UNION ")));
        }
    }

    /// The ticket filters: statuses, business numbers, assignee, tags, window. `t` is the ticket and
    /// `i` its identity.
    pub fn ticket_filters(&mut self, search: &Search) {
        let q = &search.query;
        if !q.statuses.is_empty() {
            let list: Vec<String> = q.statuses.iter().map(|s| self.bind(Param::Text(s.as_str().to_owned()))).collect();
            self.push(format!("t.status IN ({})", list.join(", ")));
        }
        self.numbers(search, "t.business_number_id");
        match search.assignee {
            None => {}
            Some(AssigneeFilter::Unassigned) => self.push("t.assignee_id IS NULL".into()),
            Some(AssigneeFilter::Agent(id)) => {
                let p = self.bind(Param::Int(id));
                self.push(format!("t.assignee_id = {p}"));
            }
        }
        for tag in &q.tags {
            let p = self.bind(Param::Text(tag.clone()));
            self.push(format!("EXISTS (SELECT 1 FROM ticket_tags g WHERE g.ticket_id = t.id AND g.tag = {p})"));
        }
        match search.window {
            None => {}
            Some(WindowBounds::OpenAfter(at)) => {
                let p = self.bind(Param::Int(at.unix_millis()));
                self.push(format!("i.last_inbound_at > {p}"));
            }
            Some(WindowBounds::ClosedAtOrBefore(at)) => {
                let p = self.bind(Param::Int(at.unix_millis()));
                self.push(format!("(i.last_inbound_at IS NULL OR i.last_inbound_at <= {p})"));
            }
            Some(WindowBounds::Between { after, at_or_before }) => {
                let a = self.bind(Param::Int(after.unix_millis()));
                let b = self.bind(Param::Int(at_or_before.unix_millis()));
                self.push(format!("i.last_inbound_at > {a} AND i.last_inbound_at <= {b}"));
            }
        }
    }

    /// Each phone term on some identity of the customer `c` (on the chosen business numbers), and
    /// the chosen numbers alone when there is no phone term.
    pub fn customer_identities(&mut self, search: &Search) {
        let mut terms: Vec<Option<PhoneTerm>> = search.query.phones.iter().cloned().map(Some).collect();
        if terms.is_empty() && !search.numbers.is_empty() {
            terms.push(None);
        }
        for term in terms {
            let mut one = Clauses::new(self.dialect);
            one.params = std::mem::take(&mut self.params);
            if let Some(term) = term {
                let only = Search { query: SearchQuery { phones: vec![term], ..Default::default() }, ..Default::default() };
                one.phones(&only, "i.id");
            }
            one.numbers(search, "i.business_number_id");
            self.params = one.params;
            // Driven by the number's index: the few identities it finds lead to their customers.
            self.push(format!("c.id IN (SELECT i.contact_id FROM identities i WHERE {})", one.parts.join(" AND ")));
        }
    }

    pub fn numbers(&mut self, search: &Search, column: &str) {
        if !search.numbers.is_empty() {
            let list: Vec<String> = search.numbers.iter().map(|n| self.bind(Param::Int(*n))).collect();
            self.push(format!("{column} IN ({})", list.join(", ")));
        }
    }

    /// `column < before` when paging on.
    pub fn before(&mut self, search: &Search, column: &str) {
        if let Some(before) = search.before {
            let p = self.bind(Param::Int(before));
            self.push(format!("{column} < {p}"));
        }
    }

    /// The full-text condition on a column (`messages.body`, `tickets.subject`, `contacts.name`),
    /// through that column's index: `None` without text terms.
    pub fn text_match(&mut self, search: &Search, table: TextIndex, id: &str) -> Option<String> {
        match self.dialect {
            Dialect::Sqlite => {
                let m = search.query.fts5_match()?;
                let p = self.bind(Param::Text(m));
                let fts = table.fts_table();
                Some(format!("{id} IN (SELECT rowid FROM {fts} WHERE {fts} MATCH {p})"))
            }
            Dialect::Postgres => {
                let q = search.query.tsquery()?;
                let p = self.bind(Param::Text(q));
                Some(format!("{} @@ to_tsquery('simple', wd_fold({p}))", table.tsvector()))
            }
        }
    }
}

/// The columns search reads by their words.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TextIndex {
    MessageBody,
    TicketSubject,
    ContactName,
}

impl TextIndex {
    fn fts_table(self) -> &'static str {
        match self {
            TextIndex::MessageBody => "message_fts",
            TextIndex::TicketSubject => "ticket_fts",
            TextIndex::ContactName => "contact_fts",
        }
    }

    /// The indexed expression (PostgreSQL); it must stay exactly the index's.
    pub fn tsvector(self) -> &'static str {
        match self {
            TextIndex::MessageBody => "to_tsvector('simple', wd_fold(m.body))",
            TextIndex::TicketSubject => "to_tsvector('simple', wd_fold(t.subject))",
            TextIndex::ContactName => "to_tsvector('simple', wd_fold(c.name))",
        }
    }
}
