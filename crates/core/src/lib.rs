//! Windowdesk's domain core: the rules of the customer service window, the delivery state machine,
//! ticket routing, card-number redaction and phone numbers. Pure functions over values: no I/O, and time
//! comes in through [`time::Clock`] so that nothing here ever sleeps or reads the wall clock by itself.
//!
//! [`hours`] holds business hours (a weekly schedule in an IANA zone, holidays, next opening, business
//! time between two instants, and how a window meets the hours); [`placeholder`] the one validator and
//! renderer of `{{ticket.id}}`-style placeholders in text that agents, macros and rules write;
//! [`rules`] the trigger and automation language (events, conditions, actions), its validation, which
//! rules fire for a ticket snapshot, what their send actions become at the window, episode keys, and
//! when an automation is due ([`rules::due`]); [`search`] the search language and its folding;
//! [`signing`] signs what HTTP targets receive, the
//! Standard Webhooks way.

pub mod attachment;
pub mod decision;
pub mod delivery;
pub mod hours;
pub mod inbound;
pub mod macros;
pub mod phone;
pub mod placeholder;
pub mod pricing;
pub mod redact;
pub mod routing;
pub mod rules;
pub mod search;
pub mod signing;
pub mod template;
pub mod time;
pub mod window;

pub use decision::{decide, Fallback, Outgoing, SendContext, SendDecision, SendOption};
pub use delivery::{DeliveryState, LocalEvent, MetaStatus, StatusOutcome};
pub use hours::{Schedule, ScheduleError, ScheduleSpec, WindowHours};
pub use placeholder::{Placeholder, PlaceholderContext, PlaceholderError, PlaceholderValues};
pub use routing::{Priority, Routing, TicketSnapshot, TicketStatus};
pub use rules::{evaluate, plan_send, Firing, PlannedSend, Rule, RuleContext, RuleDraft};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
pub use window::{CustomerWindow, SentAt, SentAtSource, WindowPolicy, WindowState};
