//! Bulk actions on the rows of a list: assign, add a tag, or set the status of the selected tickets
//! at once. Each ticket changes as if changed on its own page (one event each); closed tickets are
//! read-only and are left as they are, and the notice says how many.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use windowdesk_core::TicketStatus;
use windowdesk_store::{AgentRow, StoreError, TicketChange};

use super::session::Agent;
use super::WebError;
use crate::AppState;

/// At most this many tickets change in one go (two pages of a list and more).
const MAX_TICKETS: usize = 200;

/// The toolbar over a list: what to do to the rows whose boxes are ticked (`form="bulk-form"`).
pub fn toolbar(agent: &Agent, agents: &[AgentRow], back: &str) -> Markup {
    html! {
        form.bulk #bulk-form method="post" action="/tickets/bulk" aria-label="Change the selected tickets" {
            input type="hidden" name="csrf" value=(agent.csrf());
            input type="hidden" name="back" value=(back);
            span.bulk-count #bulk-count aria-live="polite" { "Select tickets to change several at once." }
            label for="bulk-assignee" { "Assign to" }
            select #bulk-assignee name="assignee" {
                option value="" { "(unchanged)" }
                option value="me" { "Me" }
                option value="none" { "Nobody" }
                @for a in agents.iter().filter(|a| a.active) { option value=(a.id) { (a.name) } }
            }
            label for="bulk-tag" { "Add tag" }
            input #bulk-tag name="add_tag" maxlength="50" autocomplete="off";
            label for="bulk-status" { "Status" }
            select #bulk-status name="status" {
                option value="" { "(unchanged)" }
                @for s in TicketStatus::ALL.iter().filter(|s| **s != TicketStatus::Closed && **s != TicketStatus::New) {
                    option value=(s.as_str()) { (s.as_str()) }
                }
            }
            button #bulk-apply type="submit" { "Apply to selected" }
        }
    }
}

/// What the list says after a bulk change (`?done=bulk&changed=N&skipped=M`); only numbers come
/// from the URL.
pub fn notice(done: Option<&str>, changed: Option<u32>, skipped: Option<u32>) -> Option<Markup> {
    let text = match done? {
        "bulk" => {
            let changed = changed.unwrap_or(0);
            let mut t = format!("{changed} ticket{} changed.", if changed == 1 { "" } else { "s" });
            if let Some(n) = skipped.filter(|n| *n > 0) {
                t.push_str(&format!(" {n} left as {} (closed or gone).", if n == 1 { "it was" } else { "they were" }));
            }
            t
        }
        "bulk_none" => "Select the tickets to change first.".to_owned(),
        "bulk_nothing" => "Choose what to change: an assignee, a tag or a status.".to_owned(),
        _ => return None,
    };
    let class = if done == Some("bulk") { "ok" } else { "bad" };
    Some(html! { p.notice.(class) #notice role="status" { (text) } })
}

/// The tick box of one row, tied to the toolbar's form.
pub fn pick(ticket_id: i64, who: &str) -> Markup {
    html! {
        input.pick type="checkbox" name="ticket" value=(ticket_id) form="bulk-form" aria-label={"Select ticket #" (ticket_id) ", " (who)};
    }
}

struct BulkForm {
    csrf: String,
    back: String,
    tickets: Vec<i64>,
    assignee: Option<String>,
    add_tag: Option<String>,
    status: Option<String>,
}

fn parse(body: &[u8]) -> Result<BulkForm, WebError> {
    let mut f = BulkForm { csrf: String::new(), back: "/".into(), tickets: Vec::new(), assignee: None, add_tag: None, status: None };
    let nonempty = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    for (k, v) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "csrf" => f.csrf = v.into_owned(),
            "back" => f.back = v.into_owned(),
            "ticket" => f.tickets.push(v.parse().map_err(|_| WebError::BadRequest(format!("ticket: not a ticket number: {v:?}")))?),
            "assignee" => f.assignee = nonempty(&v),
            "add_tag" => f.add_tag = nonempty(&v),
            "status" => f.status = nonempty(&v),
            _ => {}
        }
    }
    Ok(f)
}

/// Where to go back to: a page of this site (a list), never elsewhere.
fn safe_back(back: &str) -> &str {
    let printable = back.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if printable && back.starts_with('/') && !back.starts_with("//") && !back.contains('\\') {
        back
    } else {
        "/"
    }
}

/// `POST /tickets/bulk`.
pub async fn apply(State(state): State<AppState>, agent: Agent, body: Bytes) -> Result<Response, WebError> {
    let f = parse(&body)?;
    agent.check_csrf(&f.csrf)?;
    let back = safe_back(&f.back).split('#').next().unwrap_or("/").to_owned();
    let sep = if back.contains('?') { '&' } else { '?' };
    let mut tickets = f.tickets.clone();
    tickets.sort_unstable();
    tickets.dedup();
    if tickets.is_empty() {
        return Ok(Redirect::to(&format!("{back}{sep}done=bulk_none")).into_response());
    }
    if tickets.len() > MAX_TICKETS {
        return Err(WebError::BadRequest(format!("ticket: at most {MAX_TICKETS} tickets at once, {} selected", tickets.len())));
    }
    let assignee_id = super::ticket::assignee_change(&state, &agent, f.assignee.as_deref()).await?;
    let status = match f.status.as_deref() {
        None => None,
        Some(s) => match TicketStatus::parse(s) {
            Some(TicketStatus::Closed) => return Err(WebError::BadRequest("status: close tickets one by one, from their page".into())),
            Some(s) => Some(s),
            None => return Err(WebError::BadRequest(format!("status: unknown status {s:?}"))),
        },
    };
    let tag = match f.add_tag.as_deref() {
        None => None,
        Some(t) => Some(crate::api::tickets::normalize_tag("add_tag".into(), t).map_err(|e| WebError::BadRequest(e.to_string()))?),
    };
    if assignee_id.is_none() && status.is_none() && tag.is_none() {
        return Ok(Redirect::to(&format!("{back}{sep}done=bulk_nothing")).into_response());
    }
    let (mut changed, mut skipped) = (0usize, 0usize);
    let now = state.clock.now();
    for id in tickets {
        let Some(summary) = state.store.ticket_summary(id).await? else {
            skipped += 1;
            continue;
        };
        if summary.ticket.status == TicketStatus::Closed {
            skipped += 1;
            continue;
        }
        let add_tags = tag.iter().filter(|t| !summary.tags.contains(t)).cloned().collect();
        let change = TicketChange { status, assignee_id, add_tags, ..TicketChange::default() };
        match state.store.update_ticket(id, &change, &agent.actor(), now).await {
            Ok(Some(_)) => {
                changed += 1;
                state.events.ticket(id);
            }
            Ok(None) | Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => skipped += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Redirect::to(&format!("{back}{sep}done=bulk&changed={changed}&skipped={skipped}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_takes_many_tickets_and_goes_back_only_inside_the_site() {
        let f = parse(b"csrf=x&back=%2Fviews%2Fpending&ticket=3&ticket=5&ticket=3&assignee=me&add_tag=+vip+&status=").unwrap();
        assert_eq!(f.tickets, [3, 5, 3]);
        assert_eq!((f.assignee.as_deref(), f.add_tag.as_deref(), f.status), (Some("me"), Some("vip"), None));
        assert!(parse(b"ticket=abc").is_err());
        assert_eq!(safe_back("/views/pending"), "/views/pending");
        assert_eq!(safe_back("//evil.example/"), "/");
        assert_eq!(safe_back("https://evil.example/"), "/");
        assert_eq!(safe_back("/views/1\r\nSet-Cookie: x"), "/", "never a header break");
    }
}
