//! The page frame and the pieces several pages share. maud escapes every value it renders; nothing
//! here uses `PreEscaped` on anything but fixed markup.

use std::time::Duration;

use maud::{html, Markup, DOCTYPE};
use windowdesk_core::{TicketStatus, Timestamp};
use windowdesk_store::{InboxList, ViewFilter, COUNT_CAP};

use super::session::Agent;
use super::WebError;
use crate::AppState;

/// Counts shown next to the navigation entries; refreshed live by the script (`data-count`).
#[derive(Clone, Debug, Default)]
pub struct NavCounts {
    pub assigned: u64,
    pub unassigned: u64,
    pub closing_soon: u64,
    /// Pending and Solved, any assignee.
    pub pending: u64,
    pub solved: u64,
    pub failed: u64,
    pub mentions: u64,
    /// Saved views: (id, name, count).
    pub views: Vec<(i64, String, u64)>,
}

/// A count as its badge shows it: counts stop at [`COUNT_CAP`] ("999+").
pub fn badge(n: u64) -> String {
    if n >= COUNT_CAP {
        format!("{}+", COUNT_CAP - 1)
    } else {
        n.to_string()
    }
}

/// A count for `/live/counts`: the number, or the badge's "999+" past the cap.
pub fn badge_json(n: u64) -> serde_json::Value {
    if n >= COUNT_CAP {
        serde_json::Value::String(badge(n))
    } else {
        serde_json::Value::from(n)
    }
}

/// The counts next to every navigation entry (each up to [`COUNT_CAP`]), read at once.
pub async fn nav_counts(state: &AppState, agent: &Agent) -> Result<NavCounts, WebError> {
    let now = state.clock.now();
    let store = &state.store;
    let (mine, unassigned, closing) = (InboxList::AssignedTo(agent.id()), InboxList::Unassigned, closing_soon(state, now));
    let status = |s| InboxList::Filter(ViewFilter { status: Some(s), ..ViewFilter::default() });
    let (pending, solved) = (status(TicketStatus::Pending), status(TicketStatus::Solved));
    let (assigned, unassigned, closing_soon, pending, solved, failed, mentions, saved) = tokio::try_join!(
        store.inbox_count(&mine),
        store.inbox_count(&unassigned),
        store.inbox_count(&closing),
        store.inbox_count(&pending),
        store.inbox_count(&solved),
        store.failed_count(),
        store.unread_notifications(agent.id()),
        store.saved_views(agent.id()),
    )?;
    let mut views = Vec::with_capacity(saved.len());
    for view in saved {
        let n = store.inbox_count(&InboxList::Filter(view.filter.clone())).await?;
        views.push((view.id, view.name, n));
    }
    Ok(NavCounts { assigned, unassigned, closing_soon, pending, solved, failed, mentions, views })
}

/// The "Windows closing soon" list as of `now` (bounds from the window rules in core).
pub fn closing_soon(state: &AppState, now: Timestamp) -> InboxList {
    let within = Duration::from_secs(state.web.config.closing_soon_minutes.saturating_mul(60));
    match state.policy.closing_within(now, within) {
        Some((inbound_after, inbound_at_or_before)) => InboxList::ClosingSoon { inbound_after, inbound_at_or_before },
        None => InboxList::ClosingSoon { inbound_after: now, inbound_at_or_before: now },
    }
}

/// Which navigation entry is current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    Inbox,
    Unassigned,
    ClosingSoon,
    Pending,
    Solved,
    All,
    Failed,
    View(i64),
    Mentions,
    Ticket,
    Settings,
    Macros,
    Agents,
    Numbers,
    Hours,
    Rules,
    Templates,
    RateCards,
    Costs,
    Search,
    Customer,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Windowdesk" }
            link rel="stylesheet" href="/assets/app.css";
        }
    }
}

/// A signed-in page: header with the agent and sign-out, navigation with counts, the content.
pub fn page(agent: &Agent, title: &str, nav: Nav, counts: &NavCounts, now: Timestamp, content: Markup) -> Markup {
    let current = |n: Nav| if n == nav { Some("page") } else { None };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body data-now=(now.unix_millis()) data-agent=(agent.id()) {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "Windowdesk" }
                    form.top-search method="get" action="/search" role="search" aria-label="Search" {
                        label.sr for="search-q" { "Search tickets, customers and messages" }
                        input #search-q type="search" name="q" placeholder="Search  /" autocomplete="off"
                            maxlength=(windowdesk_core::search::MAX_QUERY_CHARS) aria-keyshortcuts="/";
                    }
                    span.who {
                        "Signed in as " strong { (agent.name()) }
                        @if agent.is_admin() { " (admin)" }
                    }
                    a.mentions href="/notifications" aria-current=[current(Nav::Mentions)] {
                        "Mentions "
                        span.count data-count="mentions" { (counts.mentions) }
                    }
                    a href="/macros" aria-current=[current(Nav::Macros)] { "Macros" }
                    a href="/settings" aria-current=[current(Nav::Settings)] { "Settings" }
                    @if agent.is_admin() {
                        a href="/admin/agents" aria-current=[current(Nav::Agents)] { "Agents" }
                        a href="/admin/numbers" aria-current=[current(Nav::Numbers)] { "Numbers" }
                        a href="/admin/hours" aria-current=[current(Nav::Hours)] { "Hours" }
                        a href="/admin/rules" aria-current=[current(Nav::Rules)] { "Rules" }
                        a href="/admin/templates" aria-current=[current(Nav::Templates)] { "Templates" }
                        a href="/admin/rate-cards" aria-current=[current(Nav::RateCards)] { "Rates" }
                    }
                    form.inline method="post" action="/logout" {
                        input type="hidden" name="csrf" value=(agent.csrf());
                        button.link type="submit" { "Sign out" }
                    }
                }
                div.frame {
                    nav.side aria-label="Views" {
                        h2.sr { "Views" }
                        ul {
                            li { a href="/" aria-current=[current(Nav::Inbox)] { "Inbox" span.count data-count="assigned" title="Assigned to you" { (badge(counts.assigned)) } } }
                            li { a href="/views/unassigned" aria-current=[current(Nav::Unassigned)] { "Unassigned" span.count data-count="unassigned" { (badge(counts.unassigned)) } } }
                            li { a href="/views/closing-soon" aria-current=[current(Nav::ClosingSoon)] { "Windows closing soon" span.count.warn data-count="closing_soon" { (badge(counts.closing_soon)) } } }
                            li { a href="/failed" aria-current=[current(Nav::Failed)] { "Failed deliveries" span.count.bad data-count="failed" { (badge(counts.failed)) } } }
                            li { a href="/views/pending" aria-current=[current(Nav::Pending)] { "Pending" span.count data-count="pending" { (badge(counts.pending)) } } }
                            li { a href="/views/solved" aria-current=[current(Nav::Solved)] { "Solved" span.count data-count="solved" { (badge(counts.solved)) } } }
                            li { a href="/views/all" aria-current=[current(Nav::All)] { "All tickets" } }
                            @for (id, name, n) in &counts.views {
                                li { a href={"/views/" (id)} aria-current=[current(Nav::View(*id))] { (name) span.count data-count={"view-" (id)} { (badge(*n)) } } }
                            }
                        }
                        @if agent.is_admin() {
                            h2.side-heading { "Reports" }
                            ul { li { a href="/reports/costs" aria-current=[current(Nav::Costs)] { "Costs" } } }
                        }
                    }
                    main #main tabindex="-1" { (content) }
                }
                div #live-status .sr role="status" aria-live="polite" {}
                script src="/assets/app.js" defer {}
            }
        }
    }
}

pub fn login_page(csrf: &str, next: &str, error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Sign in"))
            body.login {
                main #main {
                    h1 { "Sign in to Windowdesk" }
                    @if let Some(e) = error { p.error role="alert" #login-error { (e) } }
                    form method="post" action="/login" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="next" value=(next);
                        label for="email" { "Email address" }
                        input #email type="email" name="email" autocomplete="username" required autofocus;
                        label for="password" { "Password" }
                        input #password type="password" name="password" autocomplete="current-password" required;
                        button #sign-in type="submit" { "Sign in" }
                    }
                }
            }
        }
    }
}

pub fn error_page(title: &str, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.login {
                main #main {
                    h1 { (title) }
                    p.error role="alert" { (message) }
                    p { a href="/" { "Back to the inbox" } }
                }
            }
        }
    }
}

/// A one-line notice after an action (`?done=…`), from a fixed list: nothing from the URL is shown.
pub fn notice(code: Option<&str>) -> Option<Markup> {
    let (class, text) = match code? {
        "sent" => ("ok", "Reply queued: it is on its way to the customer."),
        "noted" => ("ok", "Note added."),
        "updated" => ("ok", "Ticket updated."),
        "closed" => ("ok", "Ticket closed. A new message from the customer opens a follow-up ticket."),
        "password" => ("ok", "Your password was changed."),
        "password_reset" => ("ok", "New password set. Tell the agent, and ask them to change it under Settings."),
        "revoked" => ("ok", "Token revoked: requests with it are refused from now on."),
        "deactivated" => ("ok", "Agent deactivated: they are signed out and cannot sign in."),
        "reactivated" => ("ok", "Agent reactivated: they can sign in again."),
        "added" => ("ok", "Agent added: they can sign in with the email and password you gave."),
        "merged" => ("ok", "Merged: the other customer's tickets, numbers and notes are here now. Each ticket still replies through its own number."),
        "unmerged" => ("ok", "Merge undone: this customer has their tickets, numbers and notes back."),
        "blocked" => (
            "bad",
            "Not sent: the customer service window is closed. Free-form messages can only go out within 24 hours of the customer's last message.",
        ),
        "empty" => ("bad", "Write something first."),
        "saved" => ("ok", "Saved."),
        "deleted" => ("ok", "Deleted."),
        "held" => ("ok", "Reply held: it will be delivered when the customer writes again."),
        "file_sent" => ("ok", "File queued: it is uploaded to WhatsApp and on its way to the customer."),
        "file_held" => ("ok", "File held: it will be delivered when the customer writes again."),
        "held_no_notice" => (
            "bad",
            "Reply held: it will be delivered when the customer writes again. The \"reply waiting\" template could not be sent; see the event log.",
        ),
        "held_notice_sent_before" => (
            "ok",
            "Reply held: it will be delivered when the customer writes again. The customer already has the \"reply waiting\" template for this closed window, so it was not sent again.",
        ),
        "sms" => ("ok", "Sent via SMS, with a link to continue on WhatsApp."),
        "template" => ("ok", "Template queued: it is on its way to the customer."),
        "template_invalid" => ("bad", "Not sent: the template's parameters are not complete yet. The problem is named below the form."),
        "resent" => ("ok", "Sent again: the original keeps its history."),
        "dismissed" => ("ok", "Dismissed: it stays marked on its ticket and has left the Failed deliveries list."),
        "synced" => ("ok", "Templates synced from Meta."),
        "macro_sent" => ("ok", "Macro applied: its reply is on its way to the customer, and its other actions are done."),
        "macro_template" => ("ok", "Macro applied: the window is closed, so its approved template was sent instead of the reply; its other actions are done."),
        "macro_held" => ("ok", "Macro applied: its reply is held and will be delivered when the customer writes again; its other actions are done."),
        "macro_sms" => ("ok", "Macro applied: the window is closed, so its reply went by SMS; its other actions are done."),
        "macro_applied" => ("ok", "Macro applied."),
        _ => return None,
    };
    Some(html! { p.notice.(class) role="status" #notice { (text) } })
}
