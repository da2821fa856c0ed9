//! The Macros page (SPEC 10, issue 13 items 4 and 7): the macros an agent can see (the shared ones and
//! their own personal ones) with a one-line summary, and an editor whose builder is the rule page's
//! (`ruleBuilder` in `app.js`, on a form with `data-kind="macro"`): the macro's JSON is kept in a
//! textarea, [`check`] validates it as the agent types and names every problem's field path, and
//! saving validates again through the API's own path ([`crate::api::macros::validated`]).
//!
//! Who manages what: every agent creates, edits and deletes their own personal macros; only admins
//! create, edit and delete shared ones; nobody changes another agent's personal macro.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use maud::html;
use serde_json::{json, Value};
use windowdesk_core::macros::MacroDraft;
use windowdesk_store::MacroRow;

use super::components::{time, Actors};
use super::numbers::{api_error, DoneQuery};
use super::render::{self, nav_counts, Nav};
use super::rules::{action_words, field, parsed, Names, CSRF_HEADER};
use super::session::Agent;
use super::WebError;
use crate::api::error::ApiError;
use crate::api::macros::{validated, MacroIn};
use crate::AppState;

/// The answer to a non-admin who acts on a shared macro.
pub const SHARED_IS_ADMINS: &str = "Only admins manage shared macros.";

/// The actions a macro can hold, in the order the builder offers them (core's `macros::allowed`).
const MACRO_ACTIONS: [&str; 8] =
    ["reply", "set_status", "set_priority", "add_tags", "remove_tags", "set_assignee", "unassign", "internal_note"];

/// Whether `agent` may change or delete `row`: their own personal macro, or a shared one when admin.
fn may_manage(agent: &Agent, row: &MacroRow) -> Result<(), WebError> {
    match row.owner_agent_id {
        None if agent.is_admin() => Ok(()),
        None => Err(WebError::Forbidden(format!(
            "{SHARED_IS_ADMINS} You can apply “{}” from a ticket page, or make a personal macro of your own.",
            row.name
        ))),
        Some(owner) if owner == agent.id() => Ok(()),
        Some(_) => Err(WebError::Forbidden("This is another agent's personal macro: only they can change or delete it.".into())),
    }
}

/// Macro `id`, when `agent` may change it.
async fn manageable(state: &AppState, agent: &Agent, id: i64) -> Result<MacroRow, WebError> {
    let row = state.store.macro_by_id(id).await?.ok_or_else(|| WebError::NotFound(format!("There is no macro {id}.")))?;
    may_manage(agent, &row)?;
    Ok(row)
}

/// A stored macro's draft as the editor shows it; its scope is the row's.
fn draft_of(row: &MacroRow) -> Result<MacroDraft, String> {
    let mut draft: MacroDraft = serde_json::from_str(&row.body).map_err(|e| format!("macro {}: {e}", row.id))?;
    draft.shared = row.owner_agent_id.is_none();
    Ok(draft)
}

/// The macro on one line: "reply (skipped when closed); add tags “refund”; set status solved".
fn summary(draft: &MacroDraft, names: &Names) -> String {
    draft.actions.iter().map(|a| action_words(a, names)).collect::<Vec<_>>().join("; ")
}

/// `GET /macros`: the shared macros and this agent's own, by name.
pub async fn macros_page(State(state): State<AppState>, agent: Agent, Query(q): Query<DoneQuery>) -> Result<Html<String>, WebError> {
    let counts = nav_counts(&state, &agent).await?;
    let names = Names::load(&state).await?;
    let (_, actors) = Actors::load(&state).await?;
    let rows = state.store.macros(Some(agent.id())).await?;
    let now = state.clock.now();
    let content = html! {
        h1 { "Macros" }
        @if let Some(n) = render::notice(q.done.as_deref()) { (n) }
        p.hint {
            "A macro is a reply and ticket changes applied in one go. On a ticket page press " kbd { "M" }
            " (or " kbd { "Ctrl" } "+" kbd { "Alt" } "+" kbd { "M" } " while typing), pick a macro, review its reply in the composer and send."
        }
        p.hint {
            "Personal macros are yours alone: you add, change and delete them. Shared macros are offered to every agent; "
            @if agent.is_admin() { "as an admin you manage them." } @else { "only admins add, change or delete them." }
        }
        p { a.button #new-macro href="/macros/new" { "New macro" } }
        @if rows.is_empty() {
            p.empty { "No macros yet." }
        } @else {
            table.rules.macros #macro-table {
                caption.sr { "Macros you can use, by name" }
                thead { tr { th scope="col" { "Macro" } th scope="col" { "Scope" } th scope="col" { "Updated" } th scope="col" { span.sr { "Delete" } } } }
                tbody {
                    @for row in &rows {
                        @let mine = may_manage(&agent, row).is_ok();
                        tr #{"macro-" (row.id)} data-macro-id=(row.id) data-shared=(row.owner_agent_id.is_none()) {
                            td.rule-cell {
                                @if mine { a.rule-name href={"/macros/" (row.id)} { (row.name) } } @else { span.rule-name { (row.name) } }
                                @match draft_of(row) {
                                    Ok(d) => { p.summary { (summary(&d, &names)) } }
                                    Err(e) => { p.summary.error { "This macro cannot be read: " (e) } }
                                }
                            }
                            td.scope { @if row.owner_agent_id.is_none() { "Shared" } @else { "Personal" } }
                            td.updated {
                                @if let Some(by) = &row.updated_by { (actors.name(by)) ", " }
                                (time(row.updated_at, now, &agent))
                            }
                            td.delete-cell {
                                @if mine {
                                    form.inline method="post" action={"/macros/" (row.id) "/delete"} data-confirm={"Delete the macro “" (row.name) "”? This cannot be undone."} {
                                        input type="hidden" name="csrf" value=(agent.csrf());
                                        button.quiet.small type="submit" aria-label={"Delete " (row.name)} { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.hint { "Placeholders such as " code { "{{ticket.id}}" } " and " code { "{{firstName || there}}" } " are described in docs/api.md; the same macros are managed through the REST API at /api/v1/macros." }
    };
    Ok(Html(render::page(&agent, "Macros", Nav::Macros, &counts, now, content).into_string()))
}

/// The editor's state on a render: the JSON as it stands and what is wrong with it.
struct Editor<'a> {
    id: Option<i64>,
    title: String,
    json: String,
    problems: &'a [(String, String)],
}

fn pretty(draft: &MacroDraft) -> String {
    serde_json::to_string_pretty(draft).unwrap_or_default()
}

async fn editor_page(state: &AppState, agent: &Agent, editor: Editor<'_>) -> Result<Html<String>, WebError> {
    let counts = nav_counts(state, agent).await?;
    let mut options = Names::load(state).await?.options_value();
    options["can_share"] = json!(agent.is_admin());
    options["actions"] = json!(MACRO_ACTIONS);
    let action = editor.id.map_or("/macros".to_owned(), |id| format!("/macros/{id}"));
    let content = html! {
        p.back { a href="/macros" { "← All macros" } }
        h1 { (editor.title) }
        p.hint {
            "A personal macro is yours alone; a shared one is offered to every agent"
            @if !agent.is_admin() { " and only admins manage those" }
            ". Agents apply macros from a ticket page with " kbd { "M" } "."
        }
        form.rule-editor #macro-form method="post" action=(action) novalidate data-kind="macro" data-check="/macros/check"
            data-options=(options.to_string()) data-new=[editor.id.is_none().then_some("true")] {
            input type="hidden" name="csrf" value=(agent.csrf());
            @if !editor.problems.is_empty() {
                div.error role="alert" #macro-errors {
                    "Not saved: "
                    ul { @for (path, message) in editor.problems { li data-path=(path) { @if !path.is_empty() { strong { (path) } ": " } (message) } } }
                }
            }
            div #builder .builder hidden {}
            p.rule-status #macro-status role="status" aria-live="polite" {}
            details.rule-json #macro-json-details open {
                summary { "Macro as JSON (for power users)" }
                label for="macro-json" { "The macro as {\"name\", \"shared\", \"actions\"}; edit it here and the builder follows when you leave the box." }
                textarea #macro-json name="macro" rows="14" spellcheck="false" { (editor.json) }
            }
            div.editor-actions {
                button #macro-save type="submit" { "Save macro" }
                a.cancel href="/macros" { "Cancel" }
            }
        }
        @if let Some(id) = editor.id {
            form.inline.delete-rule method="post" action={"/macros/" (id) "/delete"} data-confirm="Delete this macro? This cannot be undone." {
                input type="hidden" name="csrf" value=(agent.csrf());
                button.quiet type="submit" { "Delete this macro" }
            }
        }
    };
    Ok(Html(render::page(agent, &editor.title, Nav::Macros, &counts, state.clock.now(), content).into_string()))
}

/// `GET /macros/new`: a personal macro with nothing to do yet (admins tick "shared" to share it).
pub async fn new_page(State(state): State<AppState>, agent: Agent) -> Result<Html<String>, WebError> {
    let blank = MacroDraft { name: String::new(), shared: false, actions: Vec::new() };
    editor_page(&state, &agent, Editor { id: None, title: "New macro".into(), json: pretty(&blank), problems: &[] }).await
}

/// `GET /macros/{id}`: the editor, when this agent may change the macro.
pub async fn edit_page(State(state): State<AppState>, agent: Agent, Path(id): Path<i64>) -> Result<Html<String>, WebError> {
    let row = manageable(&state, &agent, id).await?;
    let draft = draft_of(&row).map_err(WebError::BadRequest)?;
    let title = format!("Macro: {}", row.name);
    editor_page(&state, &agent, Editor { id: Some(id), title, json: pretty(&draft), problems: &[] }).await
}

/// Every problem of a draft as written (JSON text) for `agent`, as `(path, message)`: its shape, what
/// [`MacroDraft::validate`] finds, and `shared` when a non-admin asks to share it.
fn checked(json_text: &str, agent: &Agent) -> Result<MacroDraft, Vec<(String, String)>> {
    let draft: MacroDraft = parsed(json_text, "macro")?;
    let mut problems: Vec<(String, String)> = match draft.validate() {
        Ok(_) => Vec::new(),
        Err(e) => e.errors.into_iter().map(|err| (err.path, err.problem.to_string())).collect(),
    };
    if draft.shared && !agent.is_admin() {
        let at = problems.iter().take_while(|(path, _)| path == "name").count();
        let message = format!("{SHARED_IS_ADMINS} Untick “Shared with every agent” to keep this macro as your own.");
        problems.insert(at, ("shared".into(), message));
    }
    if problems.is_empty() {
        Ok(draft)
    } else {
        Err(problems)
    }
}

/// Creates (`id` none) or replaces a macro from the editor's form: personal ones belong to this agent,
/// shared ones to nobody.
async fn save(state: &AppState, agent: &Agent, id: Option<i64>, fields: &[(String, String)]) -> Result<Response, WebError> {
    agent.check_csrf(field(fields, "csrf"))?;
    if let Some(id) = id {
        manageable(state, agent, id).await?;
    }
    let json_text = field(fields, "macro");
    let title = id.map_or_else(|| "New macro".to_owned(), |id| format!("Macro {id}"));
    let refused = |problems: Vec<(String, String)>| async move {
        let editor = Editor { id, title, json: json_text.to_owned(), problems: &problems };
        Ok::<_, WebError>((StatusCode::UNPROCESSABLE_ENTITY, editor_page(state, agent, editor).await?).into_response())
    };
    let draft = match checked(json_text, agent) {
        Ok(draft) => draft,
        Err(problems) => return refused(problems).await,
    };
    let req = MacroIn {
        name: draft.name.clone(),
        owner_agent_id: (!draft.shared).then_some(agent.id()),
        actions: draft.actions.iter().map(|a| serde_json::to_value(a).unwrap_or(Value::Null)).collect(),
    };
    let row = match validated(state, req, &agent.actor()).await {
        Ok(row) => row,
        Err(ApiError::Invalid { field, message }) => return refused(vec![(field, message)]).await,
        Err(other) => return Err(api_error(other)),
    };
    let saved = match id {
        Some(id) => {
            if !state.store.update_macro(id, &row).await? {
                return Err(WebError::NotFound(format!("There is no macro {id}.")));
            }
            id
        }
        None => state.store.create_macro(&row).await?.id,
    };
    tracing::info!(macro_id = saved, shared = draft.shared, actor = %agent.actor(), "macro saved in the Macros page");
    Ok(Redirect::to(&format!("/macros?done=saved#macro-{saved}")).into_response())
}

/// `POST /macros`: a new macro.
pub async fn create(State(state): State<AppState>, agent: Agent, Form(fields): Form<Vec<(String, String)>>) -> Result<Response, WebError> {
    save(&state, &agent, None, &fields).await
}

/// `POST /macros/{id}`: replaces a macro.
pub async fn update(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    save(&state, &agent, Some(id), &fields).await
}

/// `POST /macros/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    agent.check_csrf(field(&fields, "csrf"))?;
    manageable(&state, &agent, id).await?;
    if !state.store.delete_macro(id).await? {
        return Err(WebError::NotFound(format!("There is no macro {id}.")));
    }
    tracing::info!(macro_id = id, actor = %agent.actor(), "macro deleted in the Macros page");
    Ok(Redirect::to("/macros?done=deleted").into_response())
}

/// `POST /macros/check`: the body is a macro draft as JSON, the session's CSRF token in
/// [`CSRF_HEADER`]; the answer is `{"ok": bool, "errors": [{"path", "message"}]}`, every problem
/// saving it as this agent would meet.
pub async fn check(agent: Agent, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, WebError> {
    let token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    agent.check_csrf(token)?;
    let text = String::from_utf8_lossy(&body);
    let errors = checked(&text, &agent).err().unwrap_or_default();
    let errors: Vec<Value> = errors.into_iter().map(|(path, message)| json!({"path": path, "message": message})).collect();
    Ok(Json(json!({"ok": errors.is_empty(), "errors": errors})))
}
