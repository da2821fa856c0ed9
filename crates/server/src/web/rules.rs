//! Admin page: rules (SPEC 10, issue 13 item 7). The list shows every rule in the order it runs, with
//! a switch and a one-line summary; switching on and off and deleting are plain forms. The editor is
//! a condition/action builder drawn by the page's script from the rule's JSON (which it keeps in a
//! textarea, so the form posts the same JSON with or without script and power users can edit it);
//! as the admin types, the script asks [`check`] to run [`RuleDraft::validate`] and shows each
//! problem at its row, and [`dry_run`] says which of the newest tickets the draft would match.
//! Saving validates again on the server, through the API's own path (`rules::write_of`).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use maud::{html, Markup};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use windowdesk_core::rules::{Action, AssigneeOp, ClosedWindow, Compare, Condition, Event, IsOp, Since, TagsOp, TextOp, WindowIs};
use windowdesk_core::{Priority, RuleDraft, TicketStatus};
use windowdesk_store::RuleRow;

use super::numbers::{admin_only, DoneQuery};
use super::render::{self, nav_counts, Nav};
use super::session::Agent;
use super::WebError;
use crate::api::error::ApiError;
use crate::api::rules::{dry_run_of, DryRunOut};
use crate::rules::dry_run::DRY_RUN_TICKETS;
use crate::AppState;

/// The header the builder's script sends the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Each event as the page names it, with when it happens.
pub const EVENTS: [(Event, &str, &str); 6] = [
    (Event::MessageReceived, "Message received", "a customer message arrived on the ticket"),
    (Event::TicketCreated, "Ticket created", "a customer message opened a new ticket"),
    (Event::WindowOpened, "Window opened", "a customer message opened their 24-hour window"),
    (Event::TicketUpdated, "Ticket updated", "an agent, the API or a macro changed status, priority, tags or assignee"),
    (Event::DeliveryFailed, "Delivery failed", "an outbound message failed, was blocked or a held reply expired"),
    (Event::Automation, "Automation (time-based)", "checked over open tickets at least every minute"),
];

pub(crate) fn event_label(event: Event) -> &'static str {
    EVENTS.iter().find(|(e, _, _)| *e == event).map_or("?", |(_, label, _)| label)
}

/// Who and what rules (and macros) can name: agents and business numbers by name, templates by name.
pub(crate) struct Names {
    agents: Vec<(i64, String)>,
    numbers: Vec<(i64, String)>,
    templates: Vec<(String, String)>,
    /// What each template costs, as the editors say it ("marketing: 0.0625–0.1365 USD by the
    /// customer's country …"), by name and language.
    template_prices: Vec<(String, String, String)>,
    /// What an SMS costs, or why that is unknown.
    sms_price: String,
    http_targets: Vec<(i64, String)>,
}

impl Names {
    pub(crate) async fn load(state: &AppState) -> Result<Names, WebError> {
        let agents = state.store.agents().await?.into_iter().map(|a| (a.id, a.name)).collect();
        let numbers = state.numbers.all().into_iter().map(|n| (n.id, format!("{} ({})", n.name, n.display_number))).collect();
        let usable: Vec<_> = state
            .store
            .templates()
            .await?
            .into_iter()
            .filter(|t| t.removed_at.is_none() && t.status.as_deref().is_none_or(|s| s.eq_ignore_ascii_case("approved")))
            .collect();
        // Prices (SPEC 11): the card in force today, over the markets customers may be in.
        let book = state.pricing.book(state.store.as_ref()).await?;
        let now = state.clock.now();
        let mut template_prices: Vec<(String, String, String)> = usable
            .iter()
            .map(|t| {
                let category = windowdesk_core::decision::MessageCategory::from_template_category(t.category.as_deref().unwrap_or(""))
                    .unwrap_or(windowdesk_core::decision::MessageCategory::Marketing);
                let priced = windowdesk_core::pricing::Category::of(category)
                    .unwrap_or_else(|| windowdesk_core::pricing::Category::known("marketing"));
                (t.name.clone(), t.language.clone(), format!("{}: {}", priced, book.describe_category(&priced, now)))
            })
            .collect();
        template_prices.sort();
        template_prices.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        let mut templates: Vec<(String, String)> = usable.into_iter().map(|t| (t.name, t.language)).collect();
        templates.sort();
        templates.dedup();
        let sms_price = match &state.fallbacks.sms_price {
            Some(p) => format!("{} {} per SMS (sms.price_per_message)", p.amount.normalize(), p.currency),
            None => "price unknown: sms.price_per_message is not set".to_owned(),
        };
        let http_targets = state.store.http_targets().await?.into_iter().map(|t| (t.id, t.name)).collect();
        Ok(Names { agents, numbers, templates, template_prices, sms_price, http_targets })
    }

    /// What a template costs, as the editors say it.
    pub(crate) fn template_price(&self, name: &str, language: &str) -> Option<&str> {
        self.template_prices.iter().find(|(n, l, _)| n == name && l == language).map(|(_, _, p)| p.as_str())
    }

    fn agent(&self, id: i64) -> String {
        self.agents.iter().find(|(a, _)| *a == id).map_or_else(|| format!("agent {id} (deleted)"), |(_, n)| n.clone())
    }

    fn http_target(&self, id: i64) -> String {
        self.http_targets.iter().find(|(t, _)| *t == id).map_or_else(|| format!("HTTP target {id} (deleted)"), |(_, n)| n.clone())
    }

    fn number(&self, id: i64) -> String {
        self.numbers.iter().find(|(n, _)| *n == id).map_or_else(|| format!("number {id}"), |(_, n)| n.clone())
    }

    /// What the builder's script offers in its selects.
    pub(crate) fn options(&self) -> String {
        self.options_value().to_string()
    }

    /// [`Names::options`] as a JSON object, for a page that adds its own (the macro editor).
    pub(crate) fn options_value(&self) -> Value {
        json!({
            "agents": self.agents.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
            "numbers": self.numbers.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
            "http_targets": self.http_targets.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
            "templates": self.templates.iter().map(|(name, language)| json!({"name": name, "language": language, "price": self.template_price(name, language)})).collect::<Vec<_>>(),
            "sms_price": self.sms_price,
            "events": EVENTS.iter().map(|(e, label, hint)| json!({"value": e.as_str(), "label": label, "hint": hint})).collect::<Vec<_>>(),
            "statuses": TicketStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "priorities": Priority::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        })
    }
}

fn quoted(words: &[String]) -> String {
    words.iter().map(|w| format!("“{w}”")).collect::<Vec<_>>().join(", ")
}

fn is_op(op: IsOp) -> &'static str {
    match op {
        IsOp::Is => "is",
        IsOp::IsNot => "is not",
    }
}

fn compare(op: Compare, minutes: i64) -> String {
    let op = match op {
        Compare::LessThan => "under",
        Compare::MoreThan => "over",
    };
    format!("{op} {minutes} min")
}

fn yes_no(value: bool, yes: &str, no: &str) -> String {
    (if value { yes } else { no }).to_owned()
}

/// One condition in words: "message text contains “refund”".
pub(crate) fn condition_words(c: &Condition, names: &Names) -> String {
    let list = |v: &[&str]| v.join(" or ");
    match c {
        Condition::BusinessNumber { op, ids } => {
            format!("number {} {}", is_op(*op), ids.iter().map(|id| names.number(*id)).collect::<Vec<_>>().join(" or "))
        }
        Condition::Status { op, values } => {
            format!("status {} {}", is_op(*op), list(&values.iter().map(|s| s.as_str()).collect::<Vec<_>>()))
        }
        Condition::Priority { op, values } => {
            format!("priority {} {}", is_op(*op), list(&values.iter().map(|p| p.as_str()).collect::<Vec<_>>()))
        }
        Condition::Tags { op, tags } => {
            let op = match op {
                TagsOp::IncludeAny => "include any of",
                TagsOp::IncludeAll => "include all of",
                TagsOp::IncludeNone => "include none of",
            };
            format!("tags {op} {}", quoted(tags))
        }
        Condition::Assignee { op, agent_id } => match (op, agent_id) {
            (AssigneeOp::Is, Some(id)) => format!("assigned to {}", names.agent(*id)),
            (AssigneeOp::IsNot, Some(id)) => format!("not assigned to {}", names.agent(*id)),
            (AssigneeOp::Unassigned, _) => "unassigned".into(),
            (AssigneeOp::Assigned, _) => "assigned".into(),
            _ => "assignee".into(),
        },
        Condition::MessageText { op, words } => match op {
            TextOp::ContainsAny => format!("message contains {}", quoted(words).replace(", ", " or ")),
            TextOp::ContainsNone => format!("message contains none of {}", quoted(words)),
        },
        Condition::FirstMessage { value } => yes_no(*value, "first message", "not the first message"),
        Condition::WithinBusinessHours { value } => yes_no(*value, "within business hours", "outside business hours"),
        Condition::Window { state } => match state {
            WindowIs::Open => "window open".into(),
            WindowIs::Closed => "window closed".into(),
        },
        Condition::WindowTimeLeft { op, minutes } => format!("window time left {}", compare(*op, *minutes)),
        Condition::BusinessTimeLeft { op, minutes } => format!("business time left {}", compare(*op, *minutes)),
        Condition::WindowClosesBeforeTeamIsBack { value } => {
            yes_no(*value, "window closes before the team is back", "window does not close before the team is back")
        }
        Condition::AwaitingReply { value } => yes_no(*value, "customer awaiting a reply", "customer not awaiting a reply"),
        Condition::TimeSinceLastCustomerMessage { .. }
        | Condition::TimeSinceLastAgentReply { .. }
        | Condition::TimeSinceCreated { .. }
        | Condition::TimeSinceStatusChanged { .. }
        | Condition::TimeSinceSolved { .. } => {
            let Some((since, op, minutes, business_hours)) = c.time_since() else { return String::new() };
            let what = match since {
                Since::LastCustomerMessage => "last customer message",
                Since::LastAgentReply => "last agent reply",
                Since::Created => "created",
                Since::StatusChanged => "status changed",
                Since::Solved => "solved",
            };
            let business = if business_hours { " in business hours" } else { "" };
            format!("{what} {}{business} ago", compare(op, minutes))
        }
    }
}

/// One action in words: "reply (when closed: template ticket_received)". The macro list uses it too.
pub(crate) fn action_words(a: &Action<String>, names: &Names) -> String {
    match a {
        Action::Reply { when_closed, .. } => match when_closed {
            ClosedWindow::Template(t) => format!("reply (when closed: template {})", t.name),
            ClosedWindow::Hold => "reply (when closed: hold)".into(),
            ClosedWindow::Sms { .. } => "reply (when closed: SMS)".into(),
            ClosedWindow::Skip => "reply (skipped when closed)".into(),
        },
        Action::SendTemplate(t) => format!("send template {}", t.name),
        Action::SendSms { .. } => "send SMS".into(),
        Action::HoldReply { hours, .. } => format!("hold a reply for {hours} h"),
        Action::SetStatus { status } => format!("set status {}", status.as_str()),
        Action::SetPriority { priority } => format!("set priority {}", priority.as_str()),
        Action::AddTags { tags } => format!("add tags {}", quoted(tags)),
        Action::RemoveTags { tags } => format!("remove tags {}", quoted(tags)),
        Action::SetAssignee { agent_id } => format!("assign to {}", names.agent(*agent_id)),
        Action::Unassign => "unassign".into(),
        Action::InternalNote { .. } => "internal note".into(),
        Action::NotifyAgent { agent_id, .. } => format!("notify {}", names.agent(*agent_id)),
        Action::NotifyAssignee { .. } => "notify the assignee".into(),
        Action::CallHttp { target_id } => format!("call {}", names.http_target(*target_id)),
    }
}

/// The rule on one line: "If first message and outside business hours: reply …; add tags …".
fn summary(draft: &RuleDraft, names: &Names) -> String {
    let all: Vec<String> = draft.conditions.all.iter().map(|c| condition_words(c, names)).collect();
    let any: Vec<String> = draft.conditions.any.iter().map(|c| condition_words(c, names)).collect();
    let mut when = all.join(" and ");
    if !any.is_empty() {
        let any = format!("({})", any.join(" or "));
        when = if when.is_empty() { any } else { format!("{when} and {any}") };
    }
    let what = draft.actions.iter().map(|a| action_words(a, names)).collect::<Vec<_>>().join("; ");
    if when.is_empty() {
        format!("Always: {what}")
    } else {
        format!("If {when}: {what}")
    }
}

async fn rows_with_drafts(state: &AppState) -> Result<Vec<(RuleRow, Result<RuleDraft, String>)>, WebError> {
    Ok(state
        .store
        .rules()
        .await?
        .into_iter()
        .map(|row| {
            let draft = crate::rules::draft_of(&row);
            (row, draft)
        })
        .collect())
}

/// `GET /admin/rules`: every rule in the order they run.
pub async fn rules_page(State(state): State<AppState>, agent: Agent, Query(q): Query<DoneQuery>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    let counts = nav_counts(&state, &agent).await?;
    let names = Names::load(&state).await?;
    let rules = rows_with_drafts(&state).await?;
    let content = html! {
        h1 { "Rules" }
        @if let Some(n) = render::notice(q.done.as_deref()) { (n) }
        p.hint {
            "Rules act on tickets when something happens: they answer, tag, assign and notify. They run in this order "
            "(by position, then by age), each at most once per event, and every message they send goes through the same "
            "window check as an agent's reply: a rule never sends free-form into a closed window."
        }
        p.rule-links {
            a.button #new-rule href="/admin/rules/new" { "New rule" } " "
            a.button.alt href="/admin/automation-runs" { "Automation runs" } " "
            a.button.alt #workflows-link href="/admin/workflows" { "Workflows" } " "
            a.button.alt #http-targets-link href="/admin/http-targets" { "HTTP targets" }
        }
        @if rules.is_empty() {
            p.empty { "No rules yet." }
        } @else {
            table.rules #rules {
                caption.sr { "Rules, in the order they run" }
                thead { tr { th scope="col" { "Position" } th scope="col" { "Rule" } th scope="col" { "Event" } th scope="col" { "On" } th scope="col" { span.sr { "Delete" } } } }
                tbody {
                    @for (row, draft) in &rules {
                        tr #{"rule-" (row.id)} data-rule-id=(row.id) data-enabled=(row.enabled) {
                            td.position { (row.position) }
                            td.rule-cell {
                                a.rule-name href={"/admin/rules/" (row.id)} { (row.name) }
                                @match draft {
                                    Ok(d) => { p.summary { (summary(d, &names)) } }
                                    Err(e) => { p.summary.error { "This rule cannot be read: " (e) } }
                                }
                            }
                            td.event { (draft.as_ref().map_or(row.event.as_str(), |d| event_label(d.event))) }
                            td.switch-cell {
                                (super::components::switch_form(&format!("/admin/rules/{}/enabled", row.id), agent.csrf(), &row.name, row.enabled))
                            }
                            td.delete-cell {
                                form.inline method="post" action={"/admin/rules/" (row.id) "/delete"} data-confirm={"Delete the rule “" (row.name) "”? This cannot be undone."} {
                                    input type="hidden" name="csrf" value=(agent.csrf());
                                    button.quiet.small type="submit" aria-label={"Delete " (row.name)} { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.hint { "Placeholders, conditions and actions are described in docs/rules.md; the same rules are managed through the REST API at /api/v1/rules." }
    };
    Ok(Html(render::page(&agent, "Rules", Nav::Rules, &counts, state.clock.now(), content).into_string()))
}

/// The editor's state on a render: the JSON as it stands, what is wrong with it, a dry run's answer.
struct Editor<'a> {
    id: Option<i64>,
    title: String,
    json: String,
    problems: &'a [(String, String)],
    dry_run: Option<&'a DryRunOut>,
}

fn pretty(draft: &RuleDraft) -> String {
    serde_json::to_string_pretty(draft).unwrap_or_default()
}

fn dry_run_markup(run: &DryRunOut) -> Markup {
    html! {
        p #dry-run-summary {
            "Checked the " (run.checked) " newest tickets as if the event happened now: "
            @match run.matches.len() { 0 => { "none would match." } 1 => { "1 would match." } n => { (n) " would match." } }
        }
        @if !run.matches.is_empty() {
            ul.dry-run-matches #dry-run-matches {
                @for m in &run.matches {
                    li { a href={"/tickets/" (m.ticket_id)} { "#" (m.ticket_id) " " (m.subject) } " " span.status.(m.status) { (m.status) } }
                }
            }
        }
        p.hint { "Nothing was sent or changed." }
    }
}

async fn editor_page(state: &AppState, agent: &Agent, editor: Editor<'_>) -> Result<Html<String>, WebError> {
    let counts = nav_counts(state, agent).await?;
    let names = Names::load(state).await?;
    let action = editor.id.map_or("/admin/rules".to_owned(), |id| format!("/admin/rules/{id}"));
    let content = html! {
        p.back { a href="/admin/rules" { "← All rules" } }
        h1 { (editor.title) }
        form.rule-editor #rule-form method="post" action=(action) novalidate data-check="/admin/rules/check" data-dry-run="/admin/rules/dry-run"
            data-options=(names.options()) data-new=[editor.id.is_none().then_some("true")] {
            input type="hidden" name="csrf" value=(agent.csrf());
            @if !editor.problems.is_empty() {
                div.error role="alert" #rule-errors {
                    "Not saved: "
                    ul { @for (path, message) in editor.problems { li data-path=(path) { @if !path.is_empty() { strong { (path) } ": " } (message) } } }
                }
            }
            div #builder .builder hidden {}
            p.rule-status #rule-status role="status" aria-live="polite" {}
            details.rule-json #rule-json-details open {
                summary { "Rule as JSON (for power users)" }
                label for="rule-json" { "The rule in the REST API's shape; edit it here and the builder follows when you leave the box." }
                textarea #rule-json name="rule" rows="18" spellcheck="false" { (editor.json) }
            }
            div.editor-actions {
                button #rule-save type="submit" name="intent" value="save" { "Save rule" }
                button.alt #rule-dry-run type="submit" name="intent" value="dry_run" { "Which of the last " (DRY_RUN_TICKETS) " tickets would this match?" }
                a.cancel href="/admin/rules" { "Cancel" }
            }
            section.dry-run #dry-run-result aria-live="polite" aria-label="Dry run" {
                @if let Some(run) = editor.dry_run { (dry_run_markup(run)) }
            }
        }
        @if let Some(id) = editor.id {
            form.inline.delete-rule method="post" action={"/admin/rules/" (id) "/delete"} data-confirm="Delete this rule? This cannot be undone." {
                input type="hidden" name="csrf" value=(agent.csrf());
                button.quiet type="submit" { "Delete this rule" }
            }
        }
    };
    Ok(Html(render::page(agent, &editor.title, Nav::Rules, &counts, state.clock.now(), content).into_string()))
}

/// A new rule's starting point: after the last rule, on a customer's message, with nothing to do yet.
fn blank(position: i32) -> RuleDraft {
    RuleDraft {
        name: String::new(),
        enabled: true,
        position,
        event: Event::MessageReceived,
        once_per_episode: false,
        conditions: Default::default(),
        actions: Vec::new(),
    }
}

/// `GET /admin/rules/new`.
pub async fn new_page(State(state): State<AppState>, agent: Agent) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    let last = state.store.rules().await?.iter().map(|r| r.position).max().unwrap_or(0);
    let position = (last / 10 + 1).saturating_mul(10);
    editor_page(&state, &agent, Editor { id: None, title: "New rule".into(), json: pretty(&blank(position)), problems: &[], dry_run: None })
        .await
}

/// `GET /admin/rules/{id}`.
pub async fn edit_page(State(state): State<AppState>, agent: Agent, Path(id): Path<i64>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    let row = state.store.rule(id).await?.ok_or_else(|| WebError::NotFound(format!("There is no rule {id}.")))?;
    let draft = crate::rules::draft_of(&row).map_err(WebError::BadRequest)?;
    let title = format!("Rule: {}", row.name);
    editor_page(&state, &agent, Editor { id: Some(id), title, json: pretty(&draft), problems: &[], dry_run: None }).await
}

/// A draft as written (JSON text) read into its type, or the problem as `(path, message)`: not JSON,
/// not an object, or a field of the wrong shape named by its serde path. `noun` is "rule" or "macro".
pub(crate) fn parsed<T: DeserializeOwned>(json_text: &str, noun: &str) -> Result<T, Vec<(String, String)>> {
    let value: Value = serde_json::from_str(json_text).map_err(|e| vec![(String::new(), format!("the {noun} is not valid JSON: {e}"))])?;
    if !value.is_object() {
        return Err(vec![(String::new(), format!("the {noun} must be a JSON object"))]);
    }
    crate::api::extract::from_value(value).map_err(|e| match e {
        ApiError::Invalid { field, message } => {
            let message = if message.starts_with("invalid type: null") { "choose one".to_owned() } else { message };
            vec![(field, message)]
        }
        other => vec![(String::new(), other.to_string())],
    })
}

/// Every problem of a draft as written (JSON text), as `(path, message)`; the draft when it has none.
fn checked(json_text: &str) -> Result<RuleDraft, Vec<(String, String)>> {
    let draft: RuleDraft = parsed(json_text, "rule")?;
    match draft.validate(0) {
        Ok(_) => Ok(draft),
        Err(e) => Err(e.errors.into_iter().map(|err| (err.path, err.problem.to_string())).collect()),
    }
}

pub(crate) fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

/// Creates (`id` none) or replaces a rule from the editor's form, or dry-runs it (`intent=dry_run`).
async fn save(state: &AppState, agent: &Agent, id: Option<i64>, fields: &[(String, String)]) -> Result<Response, WebError> {
    agent.check_csrf(field(fields, "csrf"))?;
    admin_only(agent)?;
    let json_text = field(fields, "rule");
    let title = match id {
        Some(id) => format!("Rule {id}"),
        None => "New rule".to_owned(),
    };
    let draft = match checked(json_text) {
        Ok(draft) => draft,
        Err(problems) => {
            let editor = Editor { id, title, json: json_text.to_owned(), problems: &problems, dry_run: None };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, editor_page(state, agent, editor).await?).into_response());
        }
    };
    if field(fields, "intent") == "dry_run" {
        let run = dry_run_of(state, &draft).await.map_err(super::numbers::api_error)?;
        let editor = Editor { id, title, json: json_text.to_owned(), problems: &[], dry_run: Some(&run) };
        return Ok(editor_page(state, agent, editor).await?.into_response());
    }
    let write = crate::rules::write_of(&draft, &agent.actor(), state.clock.now()).map_err(|e| WebError::BadRequest(e.to_string()))?;
    let saved = match id {
        Some(id) => {
            if !state.store.update_rule(id, &write).await? {
                return Err(WebError::NotFound(format!("There is no rule {id}.")));
            }
            id
        }
        None => state.store.create_rule(&write).await?.id,
    };
    tracing::info!(rule_id = saved, actor = %agent.actor(), "rule saved in the admin page");
    Ok(Redirect::to(&format!("/admin/rules?done=saved#rule-{saved}")).into_response())
}

/// `POST /admin/rules`: a new rule (or its dry run).
pub async fn create(State(state): State<AppState>, agent: Agent, Form(fields): Form<Vec<(String, String)>>) -> Result<Response, WebError> {
    save(&state, &agent, None, &fields).await
}

/// `POST /admin/rules/{id}`: replaces a rule (or dry-runs the edit).
pub async fn update(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    save(&state, &agent, Some(id), &fields).await
}

/// `POST /admin/rules/{id}/enabled`: `enabled` is `true` or `false`.
pub async fn set_enabled(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    agent.check_csrf(field(&fields, "csrf"))?;
    admin_only(&agent)?;
    let enabled = match field(&fields, "enabled") {
        "true" => true,
        "false" => false,
        other => return Err(WebError::BadRequest(format!("enabled must be true or false, got {other:?}"))),
    };
    let row = state.store.rule(id).await?.ok_or_else(|| WebError::NotFound(format!("There is no rule {id}.")))?;
    let mut draft = crate::rules::draft_of(&row).map_err(WebError::BadRequest)?;
    draft.enabled = enabled;
    let write = crate::rules::write_of(&draft, &agent.actor(), state.clock.now())
        .map_err(|e| WebError::BadRequest(format!("This rule no longer validates; open it and fix it first: {e}")))?;
    if !state.store.update_rule(id, &write).await? {
        return Err(WebError::NotFound(format!("There is no rule {id}.")));
    }
    Ok(Redirect::to(&format!("/admin/rules?done=saved#rule-{id}")).into_response())
}

/// `POST /admin/rules/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    agent.check_csrf(field(&fields, "csrf"))?;
    admin_only(&agent)?;
    if !state.store.delete_rule(id, state.clock.now()).await? {
        return Err(WebError::NotFound(format!("There is no rule {id}.")));
    }
    Ok(Redirect::to("/admin/rules?done=deleted").into_response())
}

/// The builder's JSON requests: the session's CSRF token in [`CSRF_HEADER`], admins only.
pub(crate) fn json_request(agent: &Agent, headers: &HeaderMap) -> Result<(), WebError> {
    let token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    agent.check_csrf(token)?;
    admin_only(agent)
}

/// `POST /admin/rules/check`: the body is a rule draft as JSON; the answer is
/// `{"ok": bool, "errors": [{"path", "message"}]}`, every problem [`RuleDraft::validate`] finds.
pub async fn check(agent: Agent, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, WebError> {
    json_request(&agent, &headers)?;
    let text = String::from_utf8_lossy(&body);
    let errors = match checked(&text) {
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    };
    let errors: Vec<Value> = errors.into_iter().map(|(path, message)| json!({"path": path, "message": message})).collect();
    Ok(Json(json!({"ok": errors.is_empty(), "errors": errors})))
}

/// `POST /admin/rules/dry-run`: the body is a rule draft as JSON; the answer is the API's dry run
/// (`{"checked", "matches": [...]}`), or 422 `{"errors": [...]}` as [`check`] lists them.
pub async fn dry_run(State(state): State<AppState>, agent: Agent, headers: HeaderMap, body: Bytes) -> Result<Response, WebError> {
    json_request(&agent, &headers)?;
    let text = String::from_utf8_lossy(&body);
    match checked(&text) {
        Ok(draft) => {
            let run = dry_run_of(&state, &draft).await.map_err(super::numbers::api_error)?;
            Ok(Json(json!(run)).into_response())
        }
        Err(problems) => {
            let errors: Vec<Value> = problems.into_iter().map(|(path, message)| json!({"path": path, "message": message})).collect();
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"errors": errors}))).into_response())
        }
    }
}
