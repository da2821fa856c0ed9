//! A ticket's event log (T6) written for agents: who did what, in words, at local times in the
//! agent's time zone, with links to the messages it is about. Meta's ids, epoch milliseconds and the
//! stored JSON stay behind a "Details" disclosure that only admins get.

use std::collections::HashMap;

use maud::{html, Markup};
use serde_json::Value;
use windowdesk_core::Timestamp;
use windowdesk_store::{EventRow, MessageRow};

use super::components::{self, Actors};
use super::delivery;
use super::session::Agent;

/// What the log needs besides the events.
pub struct LogContext<'a> {
    pub agent: &'a Agent,
    pub now: Timestamp,
    pub actors: &'a Actors,
    /// The ticket's messages, to name and link the ones events are about.
    pub messages: &'a [MessageRow],
    /// The customer's name, for what they did.
    pub customer: &'a str,
}

/// The ticket's history: who did what, when.
pub fn log(events: &[EventRow], cx: &LogContext<'_>) -> Markup {
    let wamids = delivery::ids_by_wamid(events, cx.messages);
    let by_id: HashMap<i64, &MessageRow> = cx.messages.iter().map(|m| (m.id, m)).collect();
    let words = Words { cx, wamids: &wamids, messages: &by_id };
    html! {
        details.events #events {
            summary { "Event log (" (events.len()) ")" }
            ol #event-list {
                @for e in events {
                    li data-kind=(e.kind) {
                        (components::time(e.at, cx.now, cx.agent)) " "
                        strong { @if e.actor == "customer" { (cx.customer) } @else { (cx.actors.name(&e.actor)) } } " "
                        (words.describe(e))
                        @if cx.agent.is_admin() && !e.data.is_null() {
                            details.raw {
                                summary { "Details" span.sr { " of this event, as stored" } }
                                pre { (e.kind) " " (serde_json::to_string_pretty(&e.data).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        }
    }
}

struct Words<'a> {
    cx: &'a LogContext<'a>,
    wamids: &'a HashMap<String, i64>,
    messages: &'a HashMap<i64, &'a MessageRow>,
}

/// How the log names a message: the start of its text in quotes, or what it is ("the image").
pub fn message_name(m: Option<&MessageRow>, id: i64) -> String {
    const LONGEST: usize = 40;
    match m {
        Some(m) => match m.body.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            Some(body) => {
                let first_line = body.lines().next().unwrap_or(body);
                let mut short: String = first_line.chars().take(LONGEST).collect();
                if short.len() < body.len() {
                    short = format!("{}…", short.trim_end_matches(|c: char| c.is_whitespace() || c == '.'));
                }
                format!("“{short}”")
            }
            None => format!("the {}", m.kind),
        },
        None => format!("message #{id}"),
    }
}

fn str_of<'v>(data: &'v Value, key: &str) -> Option<&'v str> {
    data.get(key).and_then(Value::as_str)
}

fn int_of(data: &Value, key: &str) -> Option<i64> {
    data.get(key).and_then(Value::as_i64)
}

/// A status or state name for people: `on_hold` → "on hold".
fn spoken(name: &str) -> String {
    name.replace('_', " ")
}

impl Words<'_> {
    fn time(&self, ms: Option<i64>) -> Markup {
        match ms {
            Some(ms) => components::time(Timestamp::from_unix_millis(ms), self.cx.now, self.cx.agent),
            None => html! {},
        }
    }

    /// The message named by its text and linking to its bubble, or "a message" when the event names
    /// none.
    fn message(&self, id: Option<i64>) -> Markup {
        match id {
            Some(id) => html! { a href={"#m" (id)} { (message_name(self.messages.get(&id).copied(), id)) } },
            None => html! { "a message" },
        }
    }

    fn kind(&self, id: Option<i64>) -> Option<&str> {
        id.and_then(|i| self.messages.get(&i)).map(|m| m.kind.as_str())
    }

    fn message_by_wamid(&self, data: &Value) -> Markup {
        self.message(str_of(data, "wamid").and_then(|w| self.wamids.get(w).copied()))
    }

    fn agent(&self, id: Option<i64>) -> String {
        id.map_or_else(|| "nobody".to_owned(), |id| self.cx.actors.name(&format!("agent:{id}")))
    }

    /// The reason of a send error (`{"code", "title", …}`) in the desk's words.
    fn reason(error: Option<&Value>) -> String {
        let code = error.and_then(|e| int_of(e, "code"));
        let title = error.and_then(|e| str_of(e, "title"));
        windowdesk_whatsapp::errors::failure_reason(code, title, windowdesk_core::DeliveryState::Failed)
    }

    fn list(data: &Value, key: &str) -> Vec<String> {
        data.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// What a rule did: the rule by name, then each action's outcome (`reply: not sent: window
    /// closed`). A rule run that failed on every try says so.
    fn rule_applied(d: &Value) -> Markup {
        if let Some(error) = str_of(d, "error") {
            return html! { "could not run the rules on this event: " (error) };
        }
        let outcomes: Vec<(String, bool, String)> = d
            .get("actions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|o| {
                        let ok = o.get("ok").and_then(Value::as_bool).unwrap_or(false);
                        (spoken(str_of(o, "action").unwrap_or("action")), ok, str_of(o, "outcome").unwrap_or("").to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        html! {
            "ran the rule " strong { "“" (str_of(d, "rule").unwrap_or("?")) "”" }
            @if let Some(event) = str_of(d, "event") { " (on " (spoken(event)) ")" }
            ul.rule-actions {
                @for (action, ok, outcome) in &outcomes {
                    li.failed[!ok] { (action) ": " (outcome) }
                }
            }
        }
    }

    /// One step of a workflow run: the workflow by name, the step's path and kind, and what it did
    /// (`steps[0] window check: open: free-form can go until …`).
    fn workflow_step(d: &Value) -> Markup {
        let ok = d.get("ok").and_then(Value::as_bool).unwrap_or(true);
        html! {
            "ran a step of the workflow " strong { "“" (str_of(d, "workflow").unwrap_or("?")) "”" }
            @if let Some(run) = int_of(d, "run_id") { " " span.hint { "(run " (run) ")" } }
            ul.rule-actions {
                li.failed[!ok] {
                    code { (str_of(d, "path").unwrap_or("?")) } " " (spoken(str_of(d, "step").unwrap_or("step"))) ": " (str_of(d, "outcome").unwrap_or(""))
                }
            }
        }
    }

    fn describe(&self, e: &EventRow) -> Markup {
        let d = &e.data;
        let id = int_of(d, "message_id");
        let msg = self.message(id);
        match e.kind.as_str() {
            "ticket_created" => html! {
                "opened the ticket"
                @if let Some(of) = int_of(d, "followup_of") { " as a follow-up of " a href={"/tickets/" (of)} { "ticket #" (of) } }
            },
            "followup_created" => match int_of(d, "followup") {
                Some(f) => html! { "opened follow-up " a href={"/tickets/" (f)} { "ticket #" (f) } ": this one is closed" },
                None => html! { "opened a follow-up ticket" },
            },
            "status_changed" => html! {
                "changed the status from " (spoken(str_of(d, "from").unwrap_or("?"))) " to " (spoken(str_of(d, "to").unwrap_or("?")))
                @match str_of(d, "reason") {
                    Some("first reply") => " (first reply)",
                    Some("customer wrote") => " (the customer wrote)",
                    Some(other) => { " (" (other) ")" },
                    None => {},
                }
            },
            "assignee_changed" => match int_of(d, "to") {
                Some(to) => {
                    html! { "assigned the ticket to " (self.agent(Some(to))) @if int_of(d, "from").is_some() { " (was " (self.agent(int_of(d, "from"))) ")" } }
                }
                None => html! { "unassigned the ticket (was " (self.agent(int_of(d, "from"))) ")" },
            },
            "customer_merged" | "customer_unmerged" => html! {
                @if e.kind == "customer_merged" { "merged the customer " } @else { "undid the merge: the ticket is back with " }
                @match (int_of(d, "from"), e.kind.as_str()) {
                    (Some(from), "customer_merged") => {
                        a href={"/customers/" (from)} { (str_of(d, "from_name").unwrap_or("?")) } " into "
                        a href={"/customers/" (int_of(d, "into").unwrap_or(0))} { (str_of(d, "into_name").unwrap_or("?")) }
                    },
                    _ => { a href={"/customers/" (int_of(d, "into").unwrap_or(0))} { (str_of(d, "into_name").unwrap_or("?")) } },
                }
            },
            "priority_changed" => html! {
                "changed the priority from " (str_of(d, "from").unwrap_or("?")) " to " (str_of(d, "to").unwrap_or("?"))
            },
            "rule_applied" => Self::rule_applied(d),
            "workflow_step" => Self::workflow_step(d),
            "tags_changed" => {
                let (added, removed) = (Self::list(d, "added"), Self::list(d, "removed"));
                html! {
                    @if !added.is_empty() { "added the tag" @if added.len() > 1 { "s" } " " (added.join(", ")) }
                    @if !added.is_empty() && !removed.is_empty() { "; " }
                    @if !removed.is_empty() { "removed the tag" @if removed.len() > 1 { "s" } " " (removed.join(", ")) }
                    @if added.is_empty() && removed.is_empty() { "changed the tags" }
                }
            }
            "note_added" => {
                let mentioned: Vec<String> = d
                    .get("mentions")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(|m| self.agent(m.as_i64())).collect())
                    .unwrap_or_default();
                html! { "added the note " (msg) @if !mentioned.is_empty() { ", mentioning " (mentioned.join(", ")) } }
            }
            "reply_queued" | "reply_enqueued" => html! {
                @match str_of(d, "kind").or_else(|| self.kind(id)) {
                    Some("template") => "queued the template ",
                    Some("sms") => "queued the SMS ",
                    _ => "queued the reply ",
                }
                (msg)
            },
            "reply_held" => match d.get("from") {
                Some(_) => {
                    html! { "held " (msg) " again after it " (spoken(str_of(d, "from").unwrap_or("failed"))) ", until the customer writes" }
                }
                None => html! { "held the reply " (msg) " until the customer writes; it expires " (self.time(int_of(d, "expires_at"))) },
            },
            "reply_resent" => html! { "resent " (msg) " after it " (spoken(str_of(d, "from").unwrap_or("failed"))) },
            "message_sent" => match self.kind(id) {
                Some("sms") => html! { "handed " (msg) " to the SMS provider, which accepted it" },
                _ => html! { "sent " (msg) " to WhatsApp, which accepted it" },
            },
            "send_retry" => html! {
                "could not send " (msg) " (attempt " (int_of(d, "attempt").unwrap_or(1)) ": "
                (d.get("error").and_then(|x| str_of(x, "title")).unwrap_or("no answer")) "); trying again " (self.time(int_of(d, "next_attempt_at")))
            },
            "delivery_failed" => html! { "could not deliver " (msg) ": " (Self::reason(d.get("error"))) },
            "delivery_blocked" => html! {
                "did not send " (msg) ": the customer service window closed"
                @if int_of(d, "window_end").is_some() { " " (self.time(int_of(d, "window_end"))) } " before it could go out"
            },
            "send_interrupted" => html! { "stopped while sending " (msg) "; it was sent again and may have reached the customer twice" },
            "held_reply_released" => html! { "released the held reply " (msg) ": the customer wrote again" },
            "held_reply_expired" => {
                html! { "gave up on the held reply " (msg) ": the customer did not write before the hold ran out, so it was never sent" }
            }
            "failed_delivery_resolved" => {
                let by = |what: &str| match int_of(d, "replaced_by") {
                    Some(id) => html! { a href={"#m" (id)} { (what) } },
                    None => html! { (what) },
                };
                match str_of(d, "resolution") {
                    Some("dismissed") => html! { "dismissed the failure of " (msg) " (it stays marked in the thread)" },
                    Some("sms") => html! { "replaced " (msg) " by " (by("an SMS")) },
                    _ => html! { "replaced " (msg) " by " (by("a template")) },
                }
            }
            "delivery_status" => {
                let status = str_of(d, "status").unwrap_or("?");
                let applied = d.get("applied").and_then(Value::as_bool).unwrap_or(true);
                html! {
                    @match status {
                        "failed" => { "could not deliver " (self.message_by_wamid(d)) ": " (Self::reason(d.get("errors").and_then(|x| x.get(0)))) },
                        "sent" => { "sent " (self.message_by_wamid(d)) " to the customer's phone" },
                        "delivered" => { "delivered " (self.message_by_wamid(d)) },
                        "read" => { "reports the customer read " (self.message_by_wamid(d)) },
                        "played" => { "reports the customer played " (self.message_by_wamid(d)) },
                        other => { "reported " (spoken(other)) " for " (self.message_by_wamid(d)) },
                    }
                    @if !applied { " (it was already further along; nothing changed)" }
                }
            }
            "timestamp_anomaly" => html! {
                "could not use the send time of " (self.message_by_wamid(d)) "; the time it arrived stands in for it"
            },
            "number_changed" => html! {
                "changed their WhatsApp number"
                @if let (Some(from), Some(to)) = (str_of(d, "from"), str_of(d, "to")) {
                    " from " (windowdesk_core::phone::display_international(from)) " to " (windowdesk_core::phone::display_international(to))
                }
            },
            "message_sent_elsewhere" => html! { "sent " (self.message_by_wamid(d)) " from the WhatsApp Business app, outside the desk" },
            other => html! { (spoken(other)) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_named_by_the_start_of_their_text() {
        let note = |body: &str| MessageRow::note(7, 1, 1, 1, body, "agent:1", Timestamp::from_unix_seconds(0));
        assert_eq!(message_name(Some(&note("Your refund was approved.")), 7), "“Your refund was approved.”");
        assert_eq!(message_name(Some(&note("Reply here.\n\nContinue on WhatsApp")), 7), "“Reply here…”");
        let long = note("This sentence is a good deal longer than forty characters in all.");
        assert_eq!(message_name(Some(&long), 7), "“This sentence is a good deal longer than…”");
        let mut image = note("");
        image.kind = "image".into();
        assert_eq!(message_name(Some(&image), 7), "the image");
        assert_eq!(message_name(None, 7), "message #7");
    }
}
