//! Templates (SPEC 9): the registry, syncing it from Meta, and sending one on a ticket, validated
//! parameter by parameter before anything is stored.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use windowdesk_core::decision::{category_of, quote_template, MessageCategory};
use windowdesk_core::template::{self, ButtonDef, HeaderDef, ParamFormat, ParamValue, TemplateDef, TemplateParams};

use super::auth::ApiCaller;
use super::dto::{category_name, rfc3339, ActionOut, Page};
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, PathId};
use super::schema;
use super::window::QueuedReply;
use crate::replies::{post_template, prefill, Outlook, ReplyOutcome, TemplateSend};
use crate::templates::{definition_of, sync_all, AccountSync};
use crate::AppState;

/// A parameter a template expects.
#[derive(Serialize, ToSchema)]
pub struct TemplateParamOut {
    /// `header`, `body` or `button`.
    pub component: String,
    /// The key to give it under: `1`, `2`… or a name for body parameters, the button's index for
    /// buttons, `header` for the header.
    pub key: String,
    /// What it takes: `text` (also currency or date_time in a body), `image`, `video`, `document`.
    pub accepts: String,
}

#[derive(Serialize, ToSchema)]
pub struct TemplateOut {
    pub waba_id: String,
    pub name: String,
    pub language: String,
    /// The pricing category it is charged in, spelled like every category in this API (Meta's
    /// `UTILITY` is `utility`).
    #[schema(value_type = schema::Category)]
    pub category: String,
    /// Meta's status: only `APPROVED` templates can be sent.
    pub status: String,
    #[schema(value_type = schema::ParameterFormat)]
    pub parameter_format: String,
    /// The header as text (with its placeholder) or `[image]`-style for media headers.
    pub header: Option<String>,
    pub body: String,
    pub footer: Option<String>,
    pub buttons: Vec<String>,
    pub parameters: Vec<TemplateParamOut>,
    /// Approved and understood by the desk.
    pub sendable: bool,
    /// Why it cannot be sent, when it cannot.
    pub reason: Option<String>,
    pub synced_at: Option<String>,
}

fn parameters_of(def: &TemplateDef) -> Vec<TemplateParamOut> {
    let mut out = Vec::new();
    match &def.header {
        Some(HeaderDef::Media { kind }) => {
            out.push(TemplateParamOut { component: "header".into(), key: "header".into(), accepts: kind.as_str().into() });
        }
        Some(HeaderDef::Text { .. }) if def.header_param().is_some() => {
            out.push(TemplateParamOut { component: "header".into(), key: "header".into(), accepts: "text".into() });
        }
        _ => {}
    }
    for key in def.body_params() {
        out.push(TemplateParamOut { component: "body".into(), key, accepts: "text".into() });
    }
    for index in def.url_buttons_with_param() {
        out.push(TemplateParamOut { component: "button".into(), key: index.to_string(), accepts: "text".into() });
    }
    out
}

pub fn template_out(waba_id: &str, def: &TemplateDef, synced_at: Option<windowdesk_core::Timestamp>) -> TemplateOut {
    let reason = match (&def.header, def.is_approved()) {
        (_, false) => Some(format!("its status is {}, not APPROVED", def.status)),
        (Some(HeaderDef::Unsupported { format }), _) => Some(format!("its {format} header cannot be filled by this desk")),
        _ => None,
    };
    let preview = template::preview(def, &TemplateParams::default());
    TemplateOut {
        waba_id: waba_id.to_owned(),
        name: def.name.clone(),
        language: def.language.clone(),
        category: category_name(category_of(def)),
        status: def.status.clone(),
        parameter_format: match def.format {
            ParamFormat::Positional => "positional",
            ParamFormat::Named => "named",
        }
        .into(),
        header: preview.header,
        body: def.body.clone(),
        footer: def.footer.clone(),
        buttons: def
            .buttons
            .iter()
            .map(|b| match b {
                ButtonDef::QuickReply { text } | ButtonDef::PhoneNumber { text, .. } | ButtonDef::Other { text, .. } => text.clone(),
                ButtonDef::Url { text, url } => format!("{text} ({url})"),
            })
            .collect(),
        parameters: parameters_of(def),
        sendable: reason.is_none(),
        reason,
        synced_at: synced_at.map(rfc3339),
    }
}

/// Filters of a ticket's templates.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateSearch {
    /// Part of the name, case-insensitive.
    #[param(value_type = Option<schema::Text>, inline)]
    pub q: Option<String>,
    /// Exact language code, e.g. `en_US`.
    #[param(value_type = Option<schema::Text>, inline)]
    pub language: Option<String>,
    #[param(value_type = Option<schema::Category>, inline)]
    pub category: Option<MessageCategory>,
}

impl TemplateSearch {
    fn keeps(&self, def: &TemplateDef) -> bool {
        self.q.as_ref().is_none_or(|q| def.name.to_lowercase().contains(&q.to_lowercase()))
            && self.language.as_ref().is_none_or(|l| &def.language == l)
            && self.category.is_none_or(|c| category_of(def) == c)
    }
}

/// Filters of the registry: those of [`TemplateSearch`], and the business number.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateFilter {
    /// Part of the name, case-insensitive.
    #[param(value_type = Option<schema::Text>, inline)]
    pub q: Option<String>,
    /// Exact language code, e.g. `en_US`.
    #[param(value_type = Option<schema::Text>, inline)]
    pub language: Option<String>,
    #[param(value_type = Option<schema::Category>, inline)]
    pub category: Option<MessageCategory>,
    /// Only the templates of this business number's account (none for a number the desk does not serve).
    pub business_number_id: Option<i64>,
}

#[utoipa::path(
    get, path = "/api/v1/templates", tag = "templates",
    params(TemplateFilter),
    responses(
        (status = 200, description = "The template registry, as last synced from Meta and updated by webhooks (`next` is always null)",
         body = Page<TemplateOut>),
    )
)]
pub async fn list_templates(
    State(state): State<AppState>,
    _caller: ApiCaller,
    ApiQuery(filter): ApiQuery<TemplateFilter>,
) -> Result<Json<Page<TemplateOut>>, ApiError> {
    let waba = match filter.business_number_id {
        None => None,
        Some(id) => match state.numbers.waba_of(id) {
            Some(waba) => Some(waba.to_owned()),
            None => return Ok(Json(Page { data: Vec::new(), next: None })),
        },
    };
    let search = TemplateSearch { q: filter.q, language: filter.language, category: filter.category };
    let rows = state.store.templates().await?;
    let data = rows
        .iter()
        .filter(|r| waba.as_ref().is_none_or(|w| &r.waba_id == w))
        .filter_map(|r| definition_of(r).map(|d| (r, d)))
        .filter(|(_, d)| search.keeps(d))
        .map(|(r, d)| template_out(&r.waba_id, &d, r.synced_at))
        .collect();
    Ok(Json(Page { data, next: None }))
}

#[derive(Serialize, ToSchema)]
pub struct SyncOut {
    pub accounts: Vec<AccountSyncOut>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountSyncOut {
    pub waba_id: String,
    /// Pages fetched from Meta.
    pub pages: u32,
    pub templates: u64,
    pub added: u64,
    /// Changed at Meta since the last sync.
    pub updated: u64,
    pub unchanged: u64,
    /// No longer listed by Meta.
    pub removed: u64,
    /// Template objects that could not be read, with why.
    pub skipped: Vec<String>,
}

impl From<AccountSync> for AccountSyncOut {
    fn from(a: AccountSync) -> Self {
        AccountSyncOut {
            waba_id: a.waba_id,
            pages: a.pages,
            templates: a.templates,
            added: a.counts.added,
            updated: a.counts.updated,
            unchanged: a.counts.unchanged,
            removed: a.counts.removed,
            skipped: a.skipped,
        }
    }
}

#[utoipa::path(
    post, path = "/api/v1/templates/sync", tag = "templates",
    responses(
        (status = 200, description = "Every account's templates fetched from Meta (all pages) and recorded", body = SyncOut),
        (status = 502, description = "`upstream`: Meta refused or did not answer; the registry is unchanged", body = super::error::ErrorBody),
    )
)]
pub async fn post_sync(State(state): State<AppState>, _caller: ApiCaller) -> Result<Json<SyncOut>, ApiError> {
    let reports = sync_all(&state.store, &state.cloud_api, &state.numbers, state.template_page_size, state.clock.now(), &|_, _, _| {})
        .await
        .map_err(|e| match e {
            crate::templates::SyncError::Store(s) => ApiError::from(s),
            api => ApiError::Upstream(api.to_string()),
        })?;
    Ok(Json(SyncOut { accounts: reports.into_iter().map(AccountSyncOut::from).collect() }))
}

/// One parameter value: a string (text), or an object such as
/// `{"type": "currency", "fallback_value": "$5.00", "code": "USD", "amount_1000": 5000}`,
/// `{"type": "date_time", "fallback_value": "May 3"}` or
/// `{"type": "media", "kind": "image", "link": "https://…"}`.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ParamIn {
    Text(String),
    #[schema(value_type = Object)]
    Value(ParamValue),
}

impl From<ParamIn> for ParamValue {
    fn from(p: ParamIn) -> Self {
        match p {
            ParamIn::Text(text) => ParamValue::Text { text },
            ParamIn::Value(v) => v,
        }
    }
}

#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParametersIn {
    pub header: Option<ParamIn>,
    /// Keyed `1`, `2`… (positional templates) or by name (named templates).
    #[serde(default)]
    pub body: BTreeMap<String, ParamIn>,
    /// A URL button's variable suffix or a quick-reply button's payload, keyed by button index.
    #[serde(default)]
    pub buttons: BTreeMap<String, String>,
}

impl From<ParametersIn> for TemplateParams {
    fn from(p: ParametersIn) -> Self {
        TemplateParams {
            header: p.header.map(ParamValue::from),
            body: p.body.into_iter().map(|(k, v)| (k, v.into())).collect(),
            buttons: p.buttons,
        }
    }
}

#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateSendIn {
    #[schema(value_type = schema::Text)]
    pub name: String,
    #[schema(value_type = schema::Text)]
    pub language: String,
    #[serde(default)]
    pub parameters: ParametersIn,
}

impl From<TemplateSendIn> for TemplateSend {
    fn from(t: TemplateSendIn) -> Self {
        TemplateSend { name: t.name, language: t.language, params: t.parameters.into() }
    }
}

#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/templates", tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = TemplateSendIn,
    responses(
        (status = 202, description = "Validated and committed to the outbox; templates go out whether the window is open or not", body = QueuedReply),
        (status = 404, description = "No such ticket", body = super::error::ErrorBody),
        (status = 409, description = "The ticket is closed", body = super::error::ErrorBody),
        (status = 422, description = "Unknown or unapproved template, or a parameter that is missing or wrong; `field` names it (`parameters.body.{{2}}`)",
         body = super::error::ErrorBody),
    )
)]
pub async fn post_ticket_template(
    State(state): State<AppState>,
    caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(req): ApiJson<TemplateSendIn>,
) -> Result<(StatusCode, Json<QueuedReply>), ApiError> {
    match post_template(&state, id, &req.into(), &caller.actor(), None).await? {
        ReplyOutcome::Queued { message_id, .. } => {
            Ok((StatusCode::ACCEPTED, Json(QueuedReply { id: message_id, ticket_id: id, state: "queued".into(), window_end: None })))
        }
        other => Err(ApiError::Internal(format!("unexpected template outcome {other:?}"))),
    }
}

/// A template as one ticket would send it: its price now, and parameters prefilled from the ticket.
#[derive(Serialize, ToSchema)]
pub struct TicketTemplateOut {
    #[serde(flatten)]
    pub template: TemplateOut,
    /// The cost estimate of sending it now.
    pub price: ActionOut,
    /// Values the desk fills in itself (the customer's name, the ticket number), by parameter key.
    pub prefill: BTreeMap<String, String>,
}

#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/templates", tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id"), TemplateSearch),
    responses(
        (status = 200, description = "The approved templates of the ticket's business number, with prices and prefilled parameters \
                                        (`next` is always null)",
         body = Page<TicketTemplateOut>),
        (status = 404, description = "No such ticket", body = super::error::ErrorBody),
    )
)]
pub async fn ticket_templates(
    State(state): State<AppState>,
    _caller: ApiCaller,
    PathId(id): PathId,
    ApiQuery(filter): ApiQuery<TemplateSearch>,
) -> Result<Json<Page<TicketTemplateOut>>, ApiError> {
    let o = Outlook::load(&state, id).await?;
    let waba = state.numbers.waba_of(o.ticket.business_number_id).unwrap_or_default().to_owned();
    let ctx = o.context();
    let data = o
        .templates
        .iter()
        .filter(|d| d.is_approved() && filter.keeps(d))
        .map(|d| {
            let params = prefill(d, &o);
            let mut prefilled: BTreeMap<String, String> = params.body.iter().map(|(k, v)| (k.clone(), v.display())).collect();
            if let Some(h) = &params.header {
                prefilled.insert("header".into(), h.display());
            }
            let price = quote_template(&ctx, d);
            TicketTemplateOut {
                template: template_out(&waba, d, None),
                price: ActionOut::from_price("template", Some(d.name.clone()), Some(d.language.clone()), &price),
                prefill: prefilled,
            }
        })
        .collect();
    Ok(Json(Page { data, next: None }))
}

#[derive(Serialize, ToSchema)]
pub struct PreviewOut {
    pub header: Option<String>,
    pub body: String,
    pub footer: Option<String>,
    pub buttons: Vec<String>,
    /// Whether it could be sent as given.
    pub valid: bool,
    /// The first problem, naming the parameter (`parameters.body.{{2}}: is missing`).
    pub problem: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/templates/preview", tag = "tickets",
    params(("id" = i64, Path, description = "Ticket id")),
    request_body = TemplateSendIn,
    responses(
        (status = 200, description = "The message as the customer would see it, and whether it is valid; nothing is sent", body = PreviewOut),
        (status = 404, description = "No such ticket", body = super::error::ErrorBody),
        (status = 422, description = "No such template for this ticket's number", body = super::error::ErrorBody),
    )
)]
pub async fn preview_ticket_template(
    State(state): State<AppState>,
    _caller: ApiCaller,
    PathId(id): PathId,
    ApiJson(req): ApiJson<TemplateSendIn>,
) -> Result<Json<PreviewOut>, ApiError> {
    let o = Outlook::load(&state, id).await?;
    Ok(Json(preview_for(&o, req.into())?))
}

/// The preview the API and the composer's template picker show.
pub fn preview_for(o: &Outlook, send: TemplateSend) -> Result<PreviewOut, ApiError> {
    let def = o
        .template(&send.name, &send.language)
        .ok_or_else(|| ApiError::invalid("name", format!("template {:?} ({}) is not known for this number", send.name, send.language)))?;
    let p = template::preview(def, &send.params);
    let problem = template::validate(def, &send.params).err().map(|e| match e.parameter {
        Some(param) => format!("parameters.{param}: {}", e.reason),
        None => e.reason,
    });
    Ok(PreviewOut { header: p.header, body: p.body, footer: p.footer, buttons: p.buttons, valid: problem.is_none(), problem })
}
