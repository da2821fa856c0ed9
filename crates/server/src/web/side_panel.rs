//! The ticket page's side panel: who the customer is (with their other tickets, on any business
//! number), and the ticket's status, priority, assignee and tags.

use maud::{html, Markup};
use windowdesk_core::{Priority, TicketStatus, Timestamp};
use windowdesk_store::{AgentRow, TicketSummary};

use super::components;
use super::session::Agent;

/// How many of the customer's other tickets the panel lists.
pub const OTHER_TICKETS: u32 = 5;

pub fn side(
    summary: &TicketSummary,
    agent: &Agent,
    agents: &[AgentRow],
    others: &[TicketSummary],
    now: Timestamp,
    costs: Markup,
) -> Markup {
    let t = &summary.ticket;
    html! {
        aside.side-panel aria-labelledby="details-title" {
            h2 #details-title { "Details" }
            dl {
                dt { "Customer" } dd #contact-name { a href={"/customers/" (t.requester_id)} title="The customer's page: every ticket, number and note" { (summary.contact_name) } }
                dt { "WhatsApp" } dd { (summary.wa_id.as_deref().map(windowdesk_core::phone::display_international).unwrap_or_else(|| "hidden (username only)".into())) }
                dt { "Business number" } dd { (summary.business_display_number) }
                @if let Some(of) = t.followup_of { dt { "Follow-up of" } dd { a href={"/tickets/" (of)} { "#" (of) } } }
            }
            (other_tickets(summary, others, agent, now))
            (costs)
            @if t.status != TicketStatus::Closed {
                @if t.assignee_id != Some(agent.id()) {
                    form #assign-me-form method="post" action={"/tickets/" (t.id) "/update"} data-inplace="update" {
                        input type="hidden" name="csrf" value=(agent.csrf());
                        input type="hidden" name="assignee" value="me";
                        button #assign-me type="submit" { "Assign to me" }
                    }
                }
                form #update-form method="post" action={"/tickets/" (t.id) "/update"} data-inplace="update" {
                    input type="hidden" name="csrf" value=(agent.csrf());
                    label for="status" { "Status" }
                    select #status name="status" {
                        @for s in TicketStatus::ALL.iter().filter(|s| **s != TicketStatus::Closed) {
                            option value=(s.as_str()) selected[*s == t.status] { (s.as_str()) }
                        }
                    }
                    label for="priority" { "Priority" }
                    select #priority name="priority" {
                        @for p in Priority::ALL {
                            option value=(p.as_str()) selected[p == summary.priority] { (p.as_str()) }
                        }
                    }
                    label for="assignee" { "Assignee" }
                    select #assignee name="assignee" {
                        option value="none" selected[t.assignee_id.is_none()] { "Nobody" }
                        // Deactivated agents are not offered, but a ticket still assigned to one shows it.
                        @for a in agents.iter().filter(|a| a.active || t.assignee_id == Some(a.id)) {
                            option value=(a.id) selected[t.assignee_id == Some(a.id)] { (a.name) @if !a.active { " (deactivated)" } }
                        }
                    }
                    label for="tags" { "Tags (comma-separated)" }
                    input #tags name="tags" value=(summary.tags.join(", ")) maxlength="500";
                    button #save-ticket type="submit" { "Save" }
                }
                // Not in place: a closed ticket's page is another page (read-only, no composer).
                form #close-form method="post" action={"/tickets/" (t.id) "/update"}
                    data-confirm="Close this ticket? Closing is final: the ticket becomes read-only, and a new message from the customer opens a follow-up ticket." {
                    input type="hidden" name="csrf" value=(agent.csrf());
                    input type="hidden" name="status" value="closed";
                    button.quiet #close-ticket type="submit" { "Close ticket" }
                }
            }
        }
    }
}

/// The customer's other tickets, newest first, with a link to all of them on their page.
fn other_tickets(summary: &TicketSummary, others: &[TicketSummary], agent: &Agent, now: Timestamp) -> Markup {
    let others: Vec<&TicketSummary> = others.iter().filter(|o| o.ticket.id != summary.ticket.id).take(OTHER_TICKETS as usize).collect();
    html! {
        section.other-tickets aria-labelledby="other-tickets-title" {
            h3 #other-tickets-title { "Their other tickets" }
            @if others.is_empty() {
                p.empty { "None." }
            } @else {
                ul #other-tickets {
                    @for o in &others {
                        li {
                            a href={"/tickets/" (o.ticket.id)} { "#" (o.ticket.id) " " (o.ticket.subject) }
                            " " (components::status_pill(o.ticket.status))
                            " " span.hint { (o.business_display_number) " · " (components::time(o.ticket.last_message_at, now, agent)) }
                        }
                    }
                }
            }
            p {
                a href={"/customers/" (summary.ticket.requester_id)} { "All about " (summary.contact_name) }
                " · " a #merge-customer href={"/customers/" (summary.ticket.requester_id) "/merge"} { "Same person as another customer?" }
            }
        }
    }
}

/// What the ticket's messages cost, what is free now, and what the next message of each kind would
/// cost (SPEC 11, issue 17 item 4); admins get a link to each message's cost.
pub fn costs(
    t: &windowdesk_store::TicketRow,
    totals: &[crate::costs::TicketCostTotal],
    open: &[crate::costs::FreeWindow],
    next: &[crate::costs::NextPrice],
    agent: &Agent,
    now: Timestamp,
) -> Markup {
    let tz = agent.tz();
    let when = |rfc: &str| {
        chrono::DateTime::parse_from_rfc3339(rfc)
            .map(|d| super::format::full_time(Timestamp::from_unix_millis(d.timestamp_millis()), tz))
            .unwrap_or_else(|_| rfc.to_owned())
    };
    let kind = |k: &str| {
        match k {
            "reply" => "Reply",
            "utility_template" => "Utility template",
            "marketing_template" => "Marketing template",
            "authentication_template" => "Authentication template",
            "sms" => "SMS",
            other => other,
        }
        .to_owned()
    };
    let today = windowdesk_core::pricing::report::day_of(now);
    let from = windowdesk_core::pricing::report::day_of(t.created_at)
        .max(today - chrono::Duration::days(windowdesk_core::pricing::report::MAX_DAYS - 1));
    html! {
        section.costs aria-labelledby="costs-title" {
            h3 #costs-title { "Cost" }
            @if totals.is_empty() {
                p #ticket-cost { "Nothing sent yet." }
            }
            @for t in totals {
                p #ticket-cost {
                    strong { (t.cost) " " (t.currency.as_deref().unwrap_or("(unpriced)")) }
                    " for " (t.messages) @if t.messages == 1 { " message" } @else { " messages" }
                    @if t.pending > 0 { "; " (t.pending) " waiting for Meta (estimated " (t.pending_estimate) ")" }
                    @if t.not_delivered > 0 { "; " (t.not_delivered) " not delivered (free)" }
                    @if t.unpriced > 0 { "; " span.warn { (t.unpriced) " not priced (no rate card price)" } }
                }
            }
            @if !open.is_empty() {
                p.hint { "Free now:" }
                ul.free-now {
                    @for w in open {
                        li data-kind=(w.kind) {
                            @match w.kind.as_str() {
                                "customer_service_window" => { "replies, in the service window, until " (when(&w.until)) },
                                "free_entry_point" => { "everything, in the free entry point, until " (when(&w.until)) },
                                _ => { "Meta's " (w.origin.as_deref().unwrap_or("")) " conversation, until " (when(&w.until)) },
                            }
                        }
                    }
                }
            }
            p.hint { "The next message would cost:" }
            dl.next-prices {
                @for n in next {
                    dt { (kind(&n.kind)) }
                    dd data-kind=(n.kind) { (n.price) }
                }
            }
            @if agent.is_admin() {
                p { a href={"/reports/costs/messages?ticket=" (t.id) "&from=" (from) "&to=" (today)} { "Each message's cost" } }
            }
        }
    }
}
