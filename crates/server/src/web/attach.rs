//! The composer's attachment: a file (picked, dropped on the composer or pasted) sent with an
//! optional caption, or held while the window is closed. Checked in the browser against Meta's
//! types and limits before it is uploaded, and again here ([`crate::attachments`]).

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use windowdesk_core::attachment::{human_size, MediaKind, MAX_CAPTION_CHARS};
use windowdesk_core::{Fallback, TicketStatus};
use windowdesk_store::TicketChange;

use super::session::Agent;
use super::ticket::{problem_line, render_page, Problem, ProblemAt, Shown};
use super::ways_out::WaysOut;
use super::{reply_error, WebError};
use crate::attachments::{accept_attribute, post_attachment, FileForm, Mode};
use crate::replies::{HoldNotice, ReplyError, ReplyOutcome};
use crate::AppState;

/// Meta's limits as the browser checks them: `{"image/png": 5000000, …}`.
fn limits_json() -> String {
    let map: serde_json::Map<String, serde_json::Value> = MediaKind::ALL
        .iter()
        .flat_map(|k| k.mime_types().iter().map(move |m| ((*m).to_owned(), serde_json::Value::from(k.max_bytes()))))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// The attachment part of the composer: collapsed until a file is chosen, dropped or pasted.
pub fn form(ways: &WaysOut, agent: &Agent, problem: Option<&str>) -> Markup {
    let id = ways.ticket_id;
    let open = ways.window_open;
    let can_hold = ways.has(Fallback::Hold);
    html! {
        details.attach #attach open[problem.is_some()] {
            summary #attach-summary { "Attach a file" }
            form #attach-form method="post" action={"/tickets/" (id) "/attachment"} enctype="multipart/form-data" data-inplace="attach"
                data-limits=(limits_json()) data-can-hold=(can_hold) {
                input type="hidden" name="csrf" value=(agent.csrf());
                label for="attach-file" { "File" }
                input #attach-file type="file" name="file" accept=(accept_attribute()) required
                    aria-describedby="attach-hint" aria-invalid=[problem.map(|_| "true")];
                p.hint #attach-hint {
                    "JPEG or PNG images up to " (human_size(MediaKind::Image.max_bytes()))
                    ", MP4 video and AAC, AMR, MP3, M4A or Opus audio up to " (human_size(MediaKind::Video.max_bytes()))
                    ", PDF, text, Word, Excel or PowerPoint documents up to " (human_size(MediaKind::Document.max_bytes()))
                    ". You can also drop a file on the reply box or paste an image into it."
                }
                p.attach-chosen #attach-chosen hidden {}
                (problem_line("attach-problem", "Not sent", problem))
                label for="attach-caption" { "Caption (optional; not for audio)" }
                input #attach-caption name="caption" maxlength=(MAX_CAPTION_CHARS) autocomplete="off";
                div.submit-as {
                    button #send-file type="submit" name="hold" value="false" hidden[!open] disabled[!open] { "Send file" }
                    @if can_hold {
                        button #hold-file type="submit" name="hold" value="true" hidden[open] disabled[open] { "Hold file until the customer writes" }
                    }
                }
                @if !can_hold {
                    p.hint #attach-closed hidden[open] { "The window is closed: a file can be sent once the customer writes again." }
                }
            }
        }
    }
}

/// `POST /tickets/{id}/attachment` (multipart: `csrf`, `file`, `caption`, `hold`).
pub async fn attach(State(state): State<AppState>, agent: Agent, Path(id): Path<i64>, multipart: Multipart) -> Result<Response, WebError> {
    let mut form = FileForm::read(&state.media_dir, multipart).await.map_err(|e| reply_error(e, id))?;
    agent.check_csrf(form.field("csrf").unwrap_or_default())?;
    let mode = if form.field("hold") == Some("true") { Mode::Hold } else { Mode::Send };
    let Some(file) = form.file.take() else {
        return refused(&state, &agent, id, "choose a file to send".into()).await;
    };
    let caption = form.field("caption").map(str::to_owned);
    let actor = agent.actor();
    match post_attachment(&state, id, file, caption.as_deref(), &actor, mode).await {
        Ok(outcome @ (ReplyOutcome::Queued { .. } | ReplyOutcome::Held { .. })) => {
            let unassigned = state.store.ticket_summary(id).await?.is_some_and(|s| s.ticket.assignee_id.is_none());
            let assignee_id = (unassigned && state.web.config.assign_on_reply).then_some(Some(agent.id()));
            if assignee_id.is_some() {
                let change = TicketChange { assignee_id, ..TicketChange::default() };
                state.store.update_ticket(id, &change, &actor, state.clock.now()).await?;
                state.events.ticket(id);
            }
            let done = match outcome {
                ReplyOutcome::Held { notice: Some(HoldNotice::NotSent { .. }), .. } => "held_no_notice",
                ReplyOutcome::Held { notice: Some(HoldNotice::AlreadySent { .. }), .. } => "held_notice_sent_before",
                ReplyOutcome::Held { .. } => "file_held",
                _ => "file_sent",
            };
            Ok(Redirect::to(&format!("/tickets/{id}?done={done}#composer")).into_response())
        }
        Ok(ReplyOutcome::Blocked { .. }) => {
            let shown = Shown { notice: Some("blocked"), ..Shown::default() };
            Ok((StatusCode::CONFLICT, render_page(&state, &agent, id, shown).await?).into_response())
        }
        Err(ReplyError::Invalid { message, .. }) => refused(&state, &agent, id, message).await,
        Err(ReplyError::Conflict(m)) if state.store.ticket_summary(id).await?.is_some_and(|s| s.ticket.status != TicketStatus::Closed) => {
            refused(&state, &agent, id, m).await
        }
        Err(e) => Err(reply_error(e, id)),
    }
}

/// The page again with the attachment open and the problem named there (422).
async fn refused(state: &AppState, agent: &Agent, id: i64, message: String) -> Result<Response, WebError> {
    let shown = Shown { problem: Some(Problem { at: ProblemAt::Attach, message }), ..Shown::default() };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render_page(state, agent, id, shown).await?).into_response())
}
