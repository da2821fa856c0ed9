//! The ways out of a closed window (SPEC 9) and what to do about failed deliveries (D4): held replies,
//! SMS, each business number's fallback settings, and resend or dismiss.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use windowdesk_core::Fallback;
use windowdesk_store::NumberSettings;

use super::auth::ApiCaller;
use super::dto::{rfc3339, Page};
use super::error::ApiError;
use super::extract::{ApiJson, PathId};
use super::schema;
use super::templates::TemplateSendIn;
use super::window::{window_closed, TextBody};
use crate::deliveries::{self, ResendAs};
use crate::macros::render_written;
use crate::replies::{hold_reply, post_sms, settings_of, HoldNotice, ReplyOutcome};
use crate::AppState;

/// A message committed to the outbox, queued or held.
#[derive(Serialize, ToSchema)]
pub struct OutboundOut {
    pub id: i64,
    pub ticket_id: i64,
    #[schema(value_type = schema::OutboundState)]
    pub state: String,
    /// For a free-form reply: the deadline of every send attempt.
    pub window_end: Option<String>,
    /// For a held reply: when it fails as expired if the customer has not written by then.
    pub expires_at: Option<String>,
    /// For a held reply: the "a reply is waiting" template sent with it, or why it was not.
    pub notice: Option<String>,
}

pub(crate) fn outbound_out(ticket_id: i64, outcome: ReplyOutcome) -> Result<(StatusCode, Json<OutboundOut>), ApiError> {
    match outcome {
        ReplyOutcome::Queued { message_id, window_end } => Ok((
            StatusCode::ACCEPTED,
            Json(OutboundOut {
                id: message_id,
                ticket_id,
                state: "queued".into(),
                window_end: window_end.map(rfc3339),
                expires_at: None,
                notice: None,
            }),
        )),
        ReplyOutcome::Held { message_id, expires_at, notice } => Ok((
            StatusCode::ACCEPTED,
            Json(OutboundOut {
                id: message_id,
                ticket_id,
                state: "held".into(),
                window_end: None,
                expires_at: Some(rfc3339(expires_at)),
                notice: notice.map(|n| match n {
                    HoldNotice::Queued { template, message_id } => format!("template {template} queued as message {message_id}"),
                    HoldNotice::AlreadySent { template, message_id } => format!(
                        "template {template} not sent again: the customer already has it for this closed window{}",
                        message_id.map(|id| format!(" (message {id})")).unwrap_or_default()
                    ),
                    HoldNotice::NotSent { reason } => format!("not sent: {reason}"),
                }),
            }),
        )),
        ReplyOutcome::Blocked { window_end, options } => Err(window_closed(window_end, &options)),
    }
}

#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/held-replies", tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = TextBody,
    responses(
        (status = 202, description = "Held: delivered automatically when the customer writes again, in order; failed as expired otherwise",
         body = OutboundOut),
        (status = 404, description = "No such ticket", body = super::error::ErrorBody),
        (status = 409, description = "The window is open (send the reply instead), holding is not among the number's fallbacks, or the ticket is closed",
         body = super::error::ErrorBody),
        (status = 422, description = "The body is empty or too long, or a placeholder in it is unknown or its braces are broken (the message names the token)", body = super::error::ErrorBody),
    )
)]
pub async fn post_held_reply(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(req): ApiJson<TextBody>,
) -> Result<(StatusCode, Json<OutboundOut>), ApiError> {
    let actor = caller.actor();
    let body = render_written(&state, id, &req.body, &actor, "body").await?;
    outbound_out(id, hold_reply(&state, id, &body, &actor).await?)
}

#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/sms", tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = TextBody,
    responses(
        (status = 202, description = "Queued for the SMS provider, with a wa.me link to continue on WhatsApp", body = OutboundOut),
        (status = 404, description = "No such ticket", body = super::error::ErrorBody),
        (status = 409, description = "SMS is not set up for this number, the contact has no phone number, or the ticket is closed",
         body = super::error::ErrorBody),
        (status = 422, description = "The body is empty or too long, or a placeholder in it is unknown or its braces are broken (the message names the token)", body = super::error::ErrorBody),
    )
)]
pub async fn post_ticket_sms(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(req): ApiJson<TextBody>,
) -> Result<(StatusCode, Json<OutboundOut>), ApiError> {
    let actor = caller.actor();
    let body = render_written(&state, id, &req.body, &actor, "body").await?;
    outbound_out(id, post_sms(&state, id, &body, &actor, None).await?)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendIn {
    #[serde(rename = "as")]
    pub how: ResendHow,
    /// For `template` (required there).
    pub template: Option<TemplateSendIn>,
    /// For `sms`: the text, if not the original's.
    #[schema(value_type = Option<schema::MessageText>)]
    pub body: Option<String>,
}

/// How to deal with a failed or blocked message: send it `as_is` (a free-form one needs the window open
/// again), `hold` it until the customer writes, or replace it with a `template` or an `sms`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResendHow {
    AsIs,
    Hold,
    Template,
    Sms,
}

#[utoipa::path(
    post, path = "/api/v1/deliveries/{id}/resend", tag = "deliveries",
    params(("id" = i64, Path, description = "Message id of the failed or blocked message")),
    request_body = ResendIn,
    responses(
        (status = 202, description = "Resent; the original keeps its history and leaves the Failed deliveries list", body = OutboundOut),
        (status = 404, description = "No such failed or blocked message", body = super::error::ErrorBody),
        (status = 409, description = "`window_closed` for `as_is` with the window still closed (details: the ways out); the message was \
                                        already dealt with; or the way out is not available (holding while the window is open, SMS not set up)",
         body = super::error::ErrorBody),
        (status = 422, description = "A missing template, an unknown one, or an invalid template parameter (named)", body = super::error::ErrorBody),
    )
)]
pub async fn post_resend(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(req): ApiJson<ResendIn>,
) -> Result<(StatusCode, Json<OutboundOut>), ApiError> {
    let how = match req.how {
        ResendHow::AsIs => ResendAs::AsIs,
        ResendHow::Hold => ResendAs::Hold,
        ResendHow::Sms => ResendAs::Sms { body: req.body },
        ResendHow::Template => {
            ResendAs::Template(req.template.ok_or_else(|| ApiError::invalid("template", "is required when `as` is template"))?.into())
        }
    };
    let (ticket_id, outcome) = deliveries::resend(&state, id, how, &caller.actor()).await.map_err(|e| match e {
        crate::replies::ReplyError::Invalid { field, message } if field == "message_id" => ApiError::NotFound(message),
        other => other.into(),
    })?;
    outbound_out(ticket_id, outcome)
}

#[derive(Serialize, ToSchema)]
pub struct DismissedOut {
    pub message_id: i64,
    pub ticket_id: i64,
}

#[utoipa::path(
    post, path = "/api/v1/deliveries/{id}/dismiss", tag = "deliveries",
    params(("id" = i64, Path, description = "Message id of the failed or blocked message")),
    responses(
        (status = 200, description = "Off the Failed deliveries list; still marked failed on its ticket", body = DismissedOut),
        (status = 404, description = "No such message", body = super::error::ErrorBody),
        (status = 409, description = "The message is not failed or blocked, or was already dealt with", body = super::error::ErrorBody),
    )
)]
pub async fn post_dismiss(State(state): State<AppState>, caller: ApiCaller, PathId(id): PathId) -> Result<Json<DismissedOut>, ApiError> {
    let ticket_id = deliveries::dismiss(&state, id, &caller.actor()).await.map_err(|e| match e {
        crate::replies::ReplyError::Invalid { message, .. } => ApiError::NotFound(message),
        other => other.into(),
    })?;
    Ok(Json(DismissedOut { message_id: id, ticket_id }))
}

/// A business number and how it gets out of a closed window.
#[derive(Serialize, ToSchema)]
pub struct NumberOut {
    pub id: i64,
    pub phone_number_id: String,
    pub display_number: String,
    pub name: String,
    pub waba_id: String,
    pub settings: SettingsOut,
    /// SMS can be sent from this number now (`[sms]` configured and `sms_from` set).
    pub sms_available: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsOut {
    #[schema(value_type = schema::FallbackLadder)]
    pub fallback_ladder: Vec<String>,
    /// The approved template sent to say a reply is waiting when one is held; needs `hold_notice_language`.
    #[schema(value_type = Option<schema::Text>)]
    pub hold_notice_template: Option<String>,
    #[schema(value_type = Option<schema::Text>)]
    pub hold_notice_language: Option<String>,
    /// Hours a held reply waits before it fails as expired.
    #[schema(minimum = 1, maximum = 720)]
    pub hold_hours: i64,
    /// The SMS sender.
    #[schema(value_type = Option<schema::SmsSender>)]
    pub sms_from: Option<String>,
    /// Mark the customer's messages read at Meta (blue ticks on their side) when an agent opens
    /// their ticket. Default true.
    #[serde(default = "yes")]
    pub read_receipts: bool,
    /// Show the customer a typing indicator while an agent types a reply. Default true.
    #[serde(default = "yes")]
    pub typing_indicator: bool,
}

fn yes() -> bool {
    true
}

impl From<&NumberSettings> for SettingsOut {
    fn from(s: &NumberSettings) -> Self {
        SettingsOut {
            fallback_ladder: s.fallback_ladder.iter().map(|f| f.as_str().to_owned()).collect(),
            hold_notice_template: s.hold_notice_template.clone(),
            hold_notice_language: s.hold_notice_language.clone(),
            hold_hours: s.hold_hours,
            sms_from: s.sms_from.clone(),
            read_receipts: s.read_receipts,
            typing_indicator: s.typing_indicator,
        }
    }
}

/// Every configured number with its settings, for the API and the admin page.
pub async fn numbers_out(state: &AppState) -> Result<Vec<NumberOut>, ApiError> {
    let mut out = Vec::new();
    for n in state.numbers.all() {
        let settings = settings_of(state, n.id).await?;
        out.push(NumberOut {
            id: n.id,
            phone_number_id: n.phone_number_id.clone(),
            display_number: n.display_number.clone(),
            name: n.name.clone(),
            waba_id: n.waba_id.clone(),
            sms_available: state.fallbacks.sms_enabled && settings.sms_from.is_some(),
            settings: SettingsOut::from(&settings),
        });
    }
    Ok(out)
}

#[utoipa::path(
    get, path = "/api/v1/numbers", tag = "numbers",
    responses(
        (status = 200, description = "The business numbers and their fallback settings (`next` is always null)", body = Page<NumberOut>),
    )
)]
pub async fn list_numbers(State(state): State<AppState>, _caller: ApiCaller) -> Result<Json<Page<NumberOut>>, ApiError> {
    Ok(Json(Page { data: numbers_out(&state).await?, next: None }))
}

/// The longest a held reply waits: 30 days.
pub const MAX_HOLD_HOURS: i64 = 720;

/// Checks new settings and returns them as stored; errors name the field.
pub async fn validated_settings(state: &AppState, id: i64, s: SettingsOut, actor: &str) -> Result<NumberSettings, ApiError> {
    let mut ladder = Vec::new();
    for step in &s.fallback_ladder {
        let f =
            Fallback::parse(step).ok_or_else(|| ApiError::invalid("fallback_ladder", format!("{step:?} is not hold, template or sms")))?;
        if ladder.contains(&f) {
            return Err(ApiError::invalid("fallback_ladder", format!("{step:?} appears twice")));
        }
        ladder.push(f);
    }
    if !(1..=MAX_HOLD_HOURS).contains(&s.hold_hours) {
        return Err(ApiError::invalid("hold_hours", format!("must be between 1 and {MAX_HOLD_HOURS}, got {}", s.hold_hours)));
    }
    let sms_from = s.sms_from.map(|f| f.trim().to_owned()).filter(|f| !f.is_empty());
    if let Some(from) = sms_from.as_deref().filter(|f| !windowdesk_sms::is_e164(f)) {
        return Err(ApiError::invalid("sms_from", format!("must be an E.164 number such as +15550783881, got {from:?}")));
    }
    let notice = s.hold_notice_template.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let notice_language = s.hold_notice_language.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if let Some(name) = &notice {
        let language =
            notice_language.as_deref().ok_or_else(|| ApiError::invalid("hold_notice_language", "is required with hold_notice_template"))?;
        let templates = crate::templates::account_templates(state, id).await?;
        let def = templates.iter().find(|t| &t.name == name && t.language == language).ok_or_else(|| {
            ApiError::invalid("hold_notice_template", format!("template {name:?} ({language}) is not in this number's registry"))
        })?;
        if !def.is_approved() {
            return Err(ApiError::invalid("hold_notice_template", format!("template {name:?} is {}, not APPROVED", def.status)));
        }
    }
    Ok(NumberSettings {
        business_number_id: id,
        fallback_ladder: ladder,
        hold_notice_template: notice.clone(),
        hold_notice_language: notice.and(notice_language),
        hold_hours: s.hold_hours,
        sms_from,
        read_receipts: s.read_receipts,
        typing_indicator: s.typing_indicator,
        updated_at: state.clock.now(),
        updated_by: Some(actor.to_owned()),
    })
}

#[utoipa::path(
    put, path = "/api/v1/numbers/{id}/settings", tag = "numbers",
    params(("id" = i64, Path, description = "Business number id")),
    request_body = SettingsOut,
    responses(
        (status = 200, description = "The settings as stored", body = SettingsOut),
        (status = 404, description = "No such business number", body = super::error::ErrorBody),
        (status = 422, description = "A setting is invalid, or the notice template is not an approved one of the number's account; \
                                        `details.field` names it",
         body = super::error::ErrorBody),
    )
)]
pub async fn put_number_settings(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(req): ApiJson<SettingsOut>,
) -> Result<Json<SettingsOut>, ApiError> {
    if state.numbers.by_id(id).is_none() {
        return Err(ApiError::NotFound(format!("business number {id} does not exist")));
    }
    let settings = validated_settings(&state, id, req, &caller.actor()).await?;
    if !state.store.save_number_settings(&settings).await? {
        return Err(ApiError::NotFound(format!("business number {id} does not exist")));
    }
    Ok(Json(SettingsOut::from(&settings)))
}
