//! Counters exposed at `/metrics` in Prometheus' text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What messages cost, as this instance settled them: per business number (its
/// `phone_number_id`), charged category and currency, the amount in millionths and the messages.
#[derive(Debug, Default)]
pub struct Spend(Mutex<BTreeMap<SpendKey, (i64, u64)>>);

/// Business number, charged category, currency.
type SpendKey = (String, String, String);

impl Spend {
    pub fn add(&self, number: &str, category: &str, currency: &str, micros: i64) {
        let mut m = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let e = m.entry((number.to_owned(), category.to_owned(), currency.to_owned())).or_default();
        e.0 += micros;
        e.1 += 1;
    }

    fn render(&self, out: &mut String) {
        let m = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(
            out,
            "# HELP windowdesk_message_spend_total What settled messages cost, per business number, charged category and currency (this instance's settlements since it started).\n# TYPE windowdesk_message_spend_total counter"
        );
        for ((number, category, currency), (micros, _)) in m.iter() {
            let amount = windowdesk_core::pricing::from_micros(*micros);
            let _ = writeln!(
                out,
                "windowdesk_message_spend_total{{number=\"{number}\",category=\"{category}\",currency=\"{currency}\"}} {amount}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP windowdesk_messages_settled_total Messages whose cost was settled for good, per business number, charged category and currency (free and failed ones too).\n# TYPE windowdesk_messages_settled_total counter"
        );
        for ((number, category, currency), (_, n)) in m.iter() {
            let _ = writeln!(
                out,
                "windowdesk_messages_settled_total{{number=\"{number}\",category=\"{category}\",currency=\"{currency}\"}} {n}"
            );
        }
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub webhooks_accepted: AtomicU64,
    pub webhooks_bad_signature: AtomicU64,
    pub webhooks_malformed: AtomicU64,
    pub webhooks_too_large: AtomicU64,
    pub webhooks_store_failed: AtomicU64,
    pub unknown_number_changes: AtomicU64,
    /// Account-level changes (templates, account updates) for an account the signing app does not serve.
    pub unserved_account_changes: AtomicU64,
    /// Parts of a messages change without Meta's documented shape, kept raw instead of read.
    pub parts_kept_raw: AtomicU64,
    pub messages_new: AtomicU64,
    pub messages_duplicate: AtomicU64,
    pub statuses_new: AtomicU64,
    /// Events the rules worker looked at (queue entries done).
    pub rule_events: AtomicU64,
    /// Rules that fired (their actions ran).
    pub rules_fired: AtomicU64,
    /// Sweeps of the open tickets for automations.
    pub automation_sweeps: AtomicU64,
    /// Automation executions by how they ended.
    pub automations_fired: AtomicU64,
    pub automations_skipped: AtomicU64,
    pub automations_expired: AtomicU64,
    /// Executions found not due yet when claimed (the window moved): armed again for later.
    pub automations_rearmed: AtomicU64,
    /// Workflow steps run, and workflow runs by how they ended.
    pub workflow_steps: AtomicU64,
    pub workflow_runs_done: AtomicU64,
    pub workflow_runs_skipped: AtomicU64,
    pub workflow_runs_expired: AtomicU64,
    pub workflow_runs_failed: AtomicU64,
    /// The last automation sweep (gauges): how long it took, how much of it went to reading the
    /// open tickets, and how many it read.
    pub automation_sweep_last_ms: AtomicU64,
    pub automation_sweep_last_read_ms: AtomicU64,
    pub automation_sweep_last_tickets: AtomicU64,
    /// Settled message costs (SPEC 11).
    pub spend: Spend,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let rows: [(&str, &str, &str, &AtomicU64); 23] = [
            ("windowdesk_webhooks_total", "result=\"accepted\"", "Webhook deliveries by result.", &self.webhooks_accepted),
            ("windowdesk_webhooks_total", "result=\"bad_signature\"", "", &self.webhooks_bad_signature),
            ("windowdesk_webhooks_total", "result=\"malformed\"", "", &self.webhooks_malformed),
            ("windowdesk_webhooks_total", "result=\"too_large\"", "", &self.webhooks_too_large),
            ("windowdesk_webhooks_total", "result=\"store_failed\"", "", &self.webhooks_store_failed),
            (
                "windowdesk_unknown_number_changes_total",
                "",
                "Webhook changes for phone_number_ids the desk does not serve.",
                &self.unknown_number_changes,
            ),
            (
                "windowdesk_unserved_account_changes_total",
                "",
                "Webhook changes about a WhatsApp Business account that the signing app serves no number of.",
                &self.unserved_account_changes,
            ),
            (
                "windowdesk_webhook_parts_kept_raw_total",
                "",
                "Parts of messages changes without Meta's documented shape (a message without an id, statuses that are not a list…), kept raw.",
                &self.parts_kept_raw,
            ),
            ("windowdesk_inbound_messages_total", "result=\"new\"", "Inbound messages by result.", &self.messages_new),
            ("windowdesk_inbound_messages_total", "result=\"duplicate\"", "", &self.messages_duplicate),
            ("windowdesk_statuses_total", "", "New delivery statuses recorded.", &self.statuses_new),
            ("windowdesk_rule_events_total", "", "Events the rules worker has looked at (messages, ticket changes, failed deliveries).", &self.rule_events),
            ("windowdesk_rules_fired_total", "", "Rules that fired on an event (their actions ran).", &self.rules_fired),
            ("windowdesk_automation_sweeps_total", "", "Sweeps of the open tickets for due automations.", &self.automation_sweeps),
            (
                "windowdesk_automation_runs_total",
                "result=\"fired\"",
                "Automation executions by how they ended (rearmed: not due yet when their time came, armed again).",
                &self.automations_fired,
            ),
            ("windowdesk_automation_runs_total", "result=\"skipped\"", "", &self.automations_skipped),
            ("windowdesk_automation_runs_total", "result=\"expired\"", "", &self.automations_expired),
            ("windowdesk_automation_runs_total", "result=\"rearmed\"", "", &self.automations_rearmed),
            ("windowdesk_workflow_steps_total", "", "Workflow steps run (each recorded on its run and its ticket).", &self.workflow_steps),
            ("windowdesk_workflow_runs_total", "result=\"done\"", "Workflow runs by how they ended.", &self.workflow_runs_done),
            ("windowdesk_workflow_runs_total", "result=\"skipped\"", "", &self.workflow_runs_skipped),
            ("windowdesk_workflow_runs_total", "result=\"expired\"", "", &self.workflow_runs_expired),
            ("windowdesk_workflow_runs_total", "result=\"failed\"", "", &self.workflow_runs_failed),
        ];
        for (name, labels, help, v) in rows {
            if !help.is_empty() {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            }
            let labels = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
            let _ = writeln!(out, "{name}{labels} {}", v.load(Ordering::Relaxed));
        }
        let gauges: [(&str, &str, &AtomicU64); 3] = [
            (
                "windowdesk_automation_sweep_last_ms",
                "How long the last automation sweep over the open tickets took.",
                &self.automation_sweep_last_ms,
            ),
            (
                "windowdesk_automation_sweep_last_read_ms",
                "Of the last automation sweep, the time spent reading the open tickets.",
                &self.automation_sweep_last_read_ms,
            ),
            (
                "windowdesk_automation_sweep_last_tickets",
                "Open tickets the last automation sweep looked at.",
                &self.automation_sweep_last_tickets,
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}", v.load(Ordering::Relaxed));
        }
        self.spend.render(&mut out);
        out
    }
}
