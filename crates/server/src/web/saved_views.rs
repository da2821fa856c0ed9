//! Saved views: an agent's own filters (status, tag, assignee) in the sidebar, or shared ones an
//! admin made for everyone. Made from the inbox, changed and deleted from the view's page.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use windowdesk_core::TicketStatus;
use windowdesk_store::{AssigneeFilter, NewSavedView, SavedViewRow, ViewFilter};

use super::session::Agent;
use super::WebError;
use crate::AppState;

/// The form that saves a new view (`existing: None`) or changes one.
pub fn form(agent: &Agent, existing: Option<&SavedViewRow>) -> Markup {
    let f = existing.map(|v| v.filter.clone()).unwrap_or_default();
    let (action, summary, button, prefix) = match existing {
        Some(v) => (format!("/views/{}", v.id), "Change this view", "Save changes", "edit-view"),
        None => ("/views".to_owned(), "Save a view", "Save view", "view"),
    };
    let assignee = match f.assignee {
        None => "",
        Some(AssigneeFilter::Unassigned) => "unassigned",
        Some(AssigneeFilter::Agent(id)) if id == agent.id() => "me",
        // Views are made with "me" only; another agent's id stays as it is.
        Some(AssigneeFilter::Agent(_)) => "",
    };
    html! {
        details.save-view #(prefix) {
            summary { (summary) }
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(agent.csrf());
                label for={(prefix) "-name"} { "Name" }
                input id={(prefix) "-name"} name="name" required maxlength="60" value=[existing.map(|v| v.name.as_str())];
                label for={(prefix) "-status"} { "Status" }
                select id={(prefix) "-status"} name="status" {
                    option value="" selected[f.status.is_none()] { "Any" }
                    @for s in TicketStatus::ALL { option value=(s.as_str()) selected[f.status == Some(s)] { (s.as_str()) } }
                }
                label for={(prefix) "-tag"} { "Tag" }
                input id={(prefix) "-tag"} name="tag" maxlength="60" value=[f.tag.as_deref()];
                label for={(prefix) "-assignee"} { "Assignee" }
                select id={(prefix) "-assignee"} name="assignee" {
                    option value="" selected[assignee.is_empty()] { "Anyone" }
                    option value="me" selected[assignee == "me"] { "Me" }
                    option value="unassigned" selected[assignee == "unassigned"] { "Nobody" }
                }
                @if agent.is_admin() && existing.is_none() {
                    label.check { input type="checkbox" name="shared" value="1"; " Share with every agent" }
                }
                button type="submit" { (button) }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct ViewForm {
    #[serde(default)]
    csrf: String,
    name: String,
    status: Option<String>,
    tag: Option<String>,
    assignee: Option<String>,
    shared: Option<String>,
}

impl ViewForm {
    fn checked(&self, agent: &Agent) -> Result<(String, ViewFilter), WebError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(WebError::BadRequest("name: a view needs a name of 1 to 60 characters".into()));
        }
        let status = match self.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(TicketStatus::parse(s).ok_or_else(|| WebError::BadRequest(format!("status: unknown status {s:?}")))?),
        };
        let assignee = match self.assignee.as_deref().unwrap_or("") {
            "" => None,
            "me" => Some(AssigneeFilter::Agent(agent.id())),
            "unassigned" => Some(AssigneeFilter::Unassigned),
            other => return Err(WebError::BadRequest(format!("assignee: must be me, unassigned or empty, got {other:?}"))),
        };
        let tag = self.tag.as_ref().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty());
        Ok((name.to_owned(), ViewFilter { status, tag, assignee }))
    }
}

/// `POST /views`.
pub async fn create(State(state): State<AppState>, agent: Agent, Form(f): Form<ViewForm>) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    let (name, filter) = f.checked(&agent)?;
    let shared = f.shared.is_some();
    if shared && !agent.is_admin() {
        return Err(WebError::Forbidden("Only admins can share views with every agent.".into()));
    }
    let view = state
        .store
        .create_saved_view(&NewSavedView { agent_id: if shared { None } else { Some(agent.id()) }, name, filter, now: state.clock.now() })
        .await?;
    Ok(Redirect::to(&format!("/views/{}", view.id)).into_response())
}

/// `POST /views/{id}`: the agent's own view, or (for an admin) a shared one.
pub async fn update(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(f): Form<ViewForm>,
) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    let (name, filter) = f.checked(&agent)?;
    if !state.store.update_saved_view(agent.id(), id, agent.is_admin(), &name, &filter).await? {
        return Err(WebError::NotFound(format!("There is no view {id} you can change.")));
    }
    Ok(Redirect::to(&format!("/views/{id}?done=saved")).into_response())
}

/// `POST /views/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(f): Form<super::session::CsrfForm>,
) -> Result<Response, WebError> {
    agent.check_csrf(&f.csrf)?;
    if !state.store.delete_saved_view(agent.id(), id, agent.is_admin()).await? {
        return Err(WebError::NotFound(format!("There is no view {id} you can delete.")));
    }
    Ok(Redirect::to("/").into_response())
}
