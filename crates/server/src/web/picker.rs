//! The composer's template picker (SPEC 8, 9): the number's approved templates, searchable by name
//! and filtered by language and category; the chosen one's parameters as a form, prefilled with what
//! the desk knows (`replies::prefill`); a live preview of the message the customer will see, through
//! the same validation the API uses (`api::templates::preview_for`), and its price. It works as plain
//! links and form posts; the page's script filters in place and refreshes the preview as agents type.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use windowdesk_core::decision::{quote_template, Price};
use windowdesk_core::template::{ButtonDef, HeaderDef, ParamFormat, ParamValue, TemplateDef, TemplateParams};

use super::session::{urlencode, Agent};
use super::{reply_error, WebError};
use crate::deliveries::{self, ResendAs};
use crate::replies::{prefill, Outlook, ReplyError, ReplyOutcome, TemplateSend};
use crate::AppState;

/// What the page asks of the picker: open or not, the search, the chosen template and its values.
#[derive(Clone, Debug, Default)]
pub struct PickerRequest {
    pub open: bool,
    pub q: Option<String>,
    pub language: Option<String>,
    pub category: Option<String>,
    /// `(name, language)` of the chosen template.
    pub chosen: Option<(String, String)>,
    /// Form values as typed (`header`, `body.1`, `button.0`); prefilled when `None`.
    pub values: Option<BTreeMap<String, String>>,
    /// The failed message this template replaces (D4).
    pub replaces: Option<i64>,
    /// Why the last send was refused, naming the parameter.
    pub problem: Option<String>,
}

fn matches(req: &PickerRequest, def: &TemplateDef) -> bool {
    req.q.as_deref().filter(|q| !q.trim().is_empty()).is_none_or(|q| def.name.to_lowercase().contains(&q.trim().to_lowercase()))
        && req.language.as_deref().filter(|l| !l.is_empty()).is_none_or(|l| def.language == l)
        && req.category.as_deref().filter(|c| !c.is_empty()).is_none_or(|c| def.category.eq_ignore_ascii_case(c))
}

/// How a placeholder is named to people: `{{1}}` or `first_name`.
fn placeholder(format: ParamFormat, key: &str) -> String {
    match format {
        ParamFormat::Positional => format!("{{{{{key}}}}}"),
        ParamFormat::Named => key.to_owned(),
    }
}

/// One input of the parameter form.
struct Field {
    /// The form key: `header`, `body.<key>`, `button.<index>`.
    key: String,
    label: String,
    kind: &'static str,
    hint: Option<String>,
}

fn fields_of(def: &TemplateDef) -> Vec<Field> {
    let mut out = Vec::new();
    match &def.header {
        Some(HeaderDef::Media { kind }) => out.push(Field {
            key: "header".into(),
            label: format!("Header {}: a public https link", kind.as_str()),
            kind: "url",
            hint: Some(format!("WhatsApp fetches the {} from this link when it sends the message.", kind.as_str())),
        }),
        Some(HeaderDef::Text { text }) => {
            if let Some(p) = def.header_param() {
                out.push(Field {
                    key: "header".into(),
                    label: format!("Header {}", placeholder(def.format, &p)),
                    kind: "text",
                    hint: Some(format!("In “{text}”; at most 60 characters.")),
                });
            }
        }
        _ => {}
    }
    for key in def.body_params() {
        out.push(Field { key: format!("body.{key}"), label: format!("Body {}", placeholder(def.format, &key)), kind: "text", hint: None });
    }
    for index in def.url_buttons_with_param() {
        if let Some(ButtonDef::Url { text, url }) = def.buttons.get(index) {
            out.push(Field {
                key: format!("button.{index}"),
                label: format!("Button “{text}”: the end of its link"),
                kind: "text",
                hint: Some(format!("Fills the {{{{1}}}} in {url}")),
            });
        }
    }
    out
}

/// The values the form starts with: what the desk can fill in itself.
fn prefilled(def: &TemplateDef, o: &Outlook) -> BTreeMap<String, String> {
    let p = prefill(def, o);
    let mut out: BTreeMap<String, String> = p.body.iter().map(|(k, v)| (format!("body.{k}"), v.display())).collect();
    if let Some(h) = p.header {
        out.insert("header".into(), h.display());
    }
    out
}

/// The form's values as a template send. Empty fields are left out, so validation names them.
pub fn send_of(def: &TemplateDef, values: &BTreeMap<String, String>) -> TemplateSend {
    let mut params = TemplateParams::default();
    for (key, value) in values {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if key == "header" {
            params.header = Some(match &def.header {
                Some(HeaderDef::Media { kind }) => {
                    ParamValue::Media { kind: *kind, link: Some(value.to_owned()), id: None, filename: None }
                }
                _ => ParamValue::text(value),
            });
        } else if let Some(k) = key.strip_prefix("body.") {
            params.body.insert(k.to_owned(), ParamValue::text(value));
        } else if let Some(i) = key.strip_prefix("button.") {
            params.buttons.insert(i.to_owned(), value.to_owned());
        }
    }
    TemplateSend { name: def.name.clone(), language: def.language.clone(), params }
}

/// The price note of sending `def` now (SPEC 11): free and why, or billable with the amount from
/// the rate card in force for the customer's market.
pub fn price_note(price: &Price) -> String {
    let mut text = price.text.clone();
    if let Some(first) = text.get(0..1) {
        text.replace_range(0..1, &first.to_uppercase());
    }
    if price.billable {
        format!("Billable: {text}, charged by Meta when delivered.")
    } else {
        format!("{text}.")
    }
}

fn ticket_link(ticket_id: i64, extra: &str, replaces: Option<i64>) -> String {
    let mut url = format!("/tickets/{ticket_id}?pick=1{extra}");
    if let Some(r) = replaces {
        url.push_str(&format!("&replaces={r}"));
    }
    url.push_str("#picker");
    url
}

/// The picker, as a disclosure in the composer.
pub fn picker(o: &Outlook, agent: &Agent, req: &PickerRequest, window_open: bool) -> Markup {
    let id = o.ticket.id;
    let approved: Vec<&TemplateDef> = o.templates.iter().filter(|t| t.is_approved()).collect();
    let mut languages: Vec<&str> = approved.iter().map(|t| t.language.as_str()).collect();
    languages.sort_unstable();
    languages.dedup();
    let mut categories: Vec<String> = approved.iter().map(|t| t.category.to_ascii_uppercase()).collect();
    categories.sort_unstable();
    categories.dedup();
    let chosen = req.chosen.as_ref().and_then(|(n, l)| o.template(n, l)).filter(|d| d.is_approved());
    let shown = approved.iter().filter(|d| matches(req, d)).count();
    html! {
        details.picker #picker open[req.open || chosen.is_some() || req.replaces.is_some()] {
            summary #picker-summary { @if window_open { "Use a template" } @else { "Choose an approved template" } }
            div.picker-body #picker-body {
                @if let Some(r) = req.replaces {
                    p.notice #replacing { "Sending a template instead of message " a href={"#m" (r)} { "#" (r) } ", which did not reach the customer. That message keeps its history and is marked replaced." }
                }
                @if approved.is_empty() {
                    p.empty { "This number's WhatsApp account has no approved templates yet. An admin can sync them from Meta on the Templates page." }
                } @else {
                    form.template-search #template-search method="get" action={"/tickets/" (id)} role="search" aria-label="Find a template" {
                        input type="hidden" name="pick" value="1";
                        @if let Some(r) = req.replaces { input type="hidden" name="replaces" value=(r); }
                        div.filters {
                            div {
                                label for="template-q" { "Name" }
                                input #template-q type="search" name="tq" value=(req.q.as_deref().unwrap_or("")) maxlength="100" autocomplete="off";
                            }
                            div {
                                label for="template-lang" { "Language" }
                                select #template-lang name="tlang" {
                                    option value="" { "Any" }
                                    @for l in &languages { option value=(l) selected[req.language.as_deref() == Some(*l)] { (l) } }
                                }
                            }
                            div {
                                label for="template-cat" { "Category" }
                                select #template-cat name="tcat" {
                                    option value="" { "Any" }
                                    @for c in &categories { option value=(c) selected[req.category.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(c))] { (c.to_lowercase()) } }
                                }
                            }
                            button #template-filter type="submit" { "Find" }
                        }
                    }
                    ul.template-list #template-list aria-label="Approved templates" {
                        @for d in &approved {
                            @let selected = chosen.is_some_and(|c| c.name == d.name && c.language == d.language);
                            li.template-option data-name=(d.name.to_lowercase()) data-language=(d.language) data-category=(d.category.to_ascii_uppercase())
                                hidden[!matches(req, d)] aria-current=[selected.then_some("true")] {
                                @let which = format!("&template={}&language={}", urlencode(&d.name), urlencode(&d.language));
                                a href=(ticket_link(id, &which, req.replaces))
                                    data-fragment={"/tickets/" (id) "/picker?" (which.trim_start_matches('&')) @if let Some(r) = req.replaces { "&replaces=" (r) }} {
                                    span.tname { (d.name) }
                                    span.badge { (d.language) }
                                    span.badge { (d.category.to_lowercase()) }
                                    span.tbody { (d.body) }
                                }
                            }
                        }
                    }
                    p.empty #template-none hidden[shown > 0] { "No template matches." }
                }
                @if let Some(def) = chosen { (template_form(o, agent, def, req)) }
            }
        }
    }
}

fn template_form(o: &Outlook, agent: &Agent, def: &TemplateDef, req: &PickerRequest) -> Markup {
    let id = o.ticket.id;
    let values = req.values.clone().unwrap_or_else(|| prefilled(def, o));
    let fields = fields_of(def);
    let preview = crate::api::templates::preview_for(o, send_of(def, &values)).ok();
    let price = quote_template(&o.context(), def);
    let problem = req.problem.clone().or_else(|| preview.as_ref().and_then(|p| p.problem.clone()));
    html! {
        div.template-chosen #template-chosen {
            h3 #template-title { "Template " q { (def.name) } " (" (def.language) ", " (def.category.to_lowercase()) ")" }
            form.template-form #template-form method="post" action={"/tickets/" (id) "/templates"}
                data-preview={"/tickets/" (id) "/templates/preview"} aria-labelledby="template-title" {
                input type="hidden" name="csrf" value=(agent.csrf());
                input type="hidden" name="name" value=(def.name);
                input type="hidden" name="language" value=(def.language);
                @if let Some(r) = req.replaces { input type="hidden" name="replaces" value=(r); }
                @if fields.is_empty() { p.hint { "This template has no parameters: it is sent as it is." } }
                @for (i, f) in fields.iter().enumerate() {
                    @let input_id = format!("tp-{i}");
                    @let invalid = problem.as_deref().is_some_and(|p| names_field(p, &f.key));
                    div.param {
                        label for=(input_id) { (f.label) }
                        input id=(input_id) type=(f.kind) name=(f.key) value=(values.get(&f.key).map(String::as_str).unwrap_or(""))
                            data-param=(f.key) aria-invalid=[invalid.then_some("true")] aria-describedby=[f.hint.as_ref().map(|_| format!("{input_id}-hint"))]
                            maxlength="1024";
                        @if let Some(h) = &f.hint { p.hint id={(input_id) "-hint"} { (h) } }
                    }
                }
                div #template-preview aria-live="polite" { (preview_fragment(preview.as_ref(), &price, problem.as_deref())) }
                button #send-template type="submit" { @if req.replaces.is_some() { "Send template instead" } @else { "Send template" } }
            }
        }
    }
}

/// The form field a problem is about: `parameters.body.{{2}}: is missing` → `body.2`.
fn field_of(problem: &str) -> Option<String> {
    let param = problem.strip_prefix("parameters.")?.split(':').next()?.replace("{{", "").replace("}}", "");
    Some(match param.split_once('.') {
        Some(("buttons", i)) => format!("button.{i}"),
        _ => param,
    })
}

fn names_field(problem: &str, key: &str) -> bool {
    field_of(problem).as_deref() == Some(key)
}

/// The message as the customer will see it, its price, and what is still wrong.
pub fn preview_fragment(p: Option<&crate::api::templates::PreviewOut>, price: &Price, problem: Option<&str>) -> Markup {
    html! {
        p.preview-label { "The customer will see:" }
        @if let Some(p) = p {
            div.wa-preview #preview-message {
                @if let Some(h) = &p.header { p.wa-header { strong { (h) } } }
                p.wa-body #preview-body { (p.body) }
                @if let Some(f) = &p.footer { p.wa-footer { (f) } }
                @if !p.buttons.is_empty() { ul.wa-buttons { @for b in &p.buttons { li { (b) } } } }
            }
        }
        p.price #template-price { (price_note(price)) }
        @if let Some(problem) = problem {
            p.problem #template-problem role="alert" data-field=[field_of(problem)] { "Not ready to send: " (problem) }
        } @else {
            p.ready #template-ready { "Ready to send." }
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ChooseQuery {
    template: String,
    language: String,
    replaces: Option<i64>,
}

/// `GET /tickets/{id}/picker?template=…&language=…`: the chosen template's form alone, for the page's
/// script to put in place without a reload (which would lose what the agent typed elsewhere).
pub async fn chosen_fragment(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<ChooseQuery>,
) -> Result<Html<String>, WebError> {
    let o = Outlook::load(&state, id).await.map_err(|e| reply_error(e, id))?;
    let def = o
        .template(&q.template, &q.language)
        .filter(|d| d.is_approved())
        .ok_or_else(|| WebError::NotFound(format!("No approved template {:?} ({}) for this number.", q.template, q.language)))?;
    let req = PickerRequest { open: true, replaces: q.replaces, ..PickerRequest::default() };
    Ok(Html(template_form(&o, &agent, def, &req).into_string()))
}

/// The picker's form as posted: `name`, `language`, `replaces`, and the parameter fields.
struct Posted {
    csrf: String,
    name: String,
    language: String,
    replaces: Option<i64>,
    values: BTreeMap<String, String>,
}

fn posted(fields: Vec<(String, String)>) -> Result<Posted, WebError> {
    let mut p = Posted { csrf: String::new(), name: String::new(), language: String::new(), replaces: None, values: BTreeMap::new() };
    for (k, v) in fields {
        match k.as_str() {
            "csrf" => p.csrf = v,
            "name" => p.name = v,
            "language" => p.language = v,
            "replaces" if !v.is_empty() => {
                p.replaces = Some(v.parse().map_err(|_| WebError::BadRequest(format!("replaces: not a message id: {v:?}")))?);
            }
            "replaces" => {}
            key if key == "header" || key.starts_with("body.") || key.starts_with("button.") => {
                p.values.insert(k, v);
            }
            _ => {}
        }
    }
    Ok(p)
}

/// `POST /tickets/{id}/templates/preview`: the preview fragment for the form's current values.
pub async fn preview(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Html<String>, WebError> {
    let p = posted(fields)?;
    agent.check_csrf(&p.csrf)?;
    let o = Outlook::load(&state, id).await.map_err(|e| reply_error(e, id))?;
    let def =
        o.template(&p.name, &p.language).ok_or_else(|| WebError::BadRequest(format!("name: no template {:?} ({})", p.name, p.language)))?;
    let price = quote_template(&o.context(), def);
    let out = crate::api::templates::preview_for(&o, send_of(def, &p.values)).map_err(|e| WebError::BadRequest(e.to_string()))?;
    let problem = out.problem.clone();
    Ok(Html(preview_fragment(Some(&out), &price, problem.as_deref()).into_string()))
}

/// `POST /tickets/{id}/templates`: sends the chosen template (instead of a failed message, with
/// `replaces`). A refused parameter brings the page back with the values kept and the problem named.
pub async fn send(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let p = posted(fields)?;
    agent.check_csrf(&p.csrf)?;
    let o = Outlook::load(&state, id).await.map_err(|e| reply_error(e, id))?;
    let def =
        o.template(&p.name, &p.language).ok_or_else(|| WebError::BadRequest(format!("name: no template {:?} ({})", p.name, p.language)))?;
    let send = send_of(def, &p.values);
    let result = match p.replaces {
        Some(original) => {
            match state.store.outbound_message(original).await? {
                Some(m) if m.ticket_id == id => {}
                _ => return Err(WebError::BadRequest(format!("replaces: message {original} is not a reply on ticket {id}"))),
            }
            deliveries::resend(&state, original, ResendAs::Template(send), &agent.actor()).await.map(|(_, outcome)| outcome)
        }
        None => crate::replies::post_template(&state, id, &send, &agent.actor(), None).await,
    };
    match result {
        Ok(ReplyOutcome::Queued { .. } | ReplyOutcome::Held { .. }) => {
            Ok(Redirect::to(&format!("/tickets/{id}?done=template#thread")).into_response())
        }
        Ok(ReplyOutcome::Blocked { .. }) => Err(WebError::Conflict("templates are never blocked by the window".into())),
        Err(ReplyError::Invalid { field, message }) => {
            let req = PickerRequest {
                open: true,
                chosen: Some((p.name, p.language)),
                values: Some(p.values),
                replaces: p.replaces,
                problem: Some(format!("{field}: {message}")),
                ..PickerRequest::default()
            };
            let page = super::ticket::render_ticket(&state, &agent, id, Some("template_invalid"), None, &req).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(reply_error(e, id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_their_form_field() {
        assert_eq!(field_of("parameters.body.{{2}}: is missing").as_deref(), Some("body.2"));
        assert_eq!(field_of("parameters.body.first_name: must not be empty").as_deref(), Some("body.first_name"));
        assert_eq!(field_of("parameters.header: parameter order is missing").as_deref(), Some("header"));
        assert_eq!(field_of("parameters.buttons.0: the URL button's variable part is missing").as_deref(), Some("button.0"));
        assert_eq!(field_of("template \"x\" is PAUSED, not APPROVED"), None);
    }

    fn invoice() -> TemplateDef {
        TemplateDef {
            name: "invoice".into(),
            language: "en_US".into(),
            category: "UTILITY".into(),
            status: "APPROVED".into(),
            format: ParamFormat::Positional,
            header: Some(HeaderDef::Media { kind: windowdesk_core::template::MediaKind::Document }),
            body: "Hi {{1}}, invoice {{2}} is attached.".into(),
            footer: None,
            buttons: vec![ButtonDef::Url { text: "Pay".into(), url: "https://pay.example/{{1}}".into() }],
        }
    }

    #[test]
    fn the_form_asks_for_every_parameter_and_becomes_a_template_send() {
        let def = invoice();
        let keys: Vec<String> = fields_of(&def).into_iter().map(|f| f.key).collect();
        assert_eq!(keys, ["header", "body.1", "body.2", "button.0"]);
        let values = BTreeMap::from([
            ("header".to_owned(), " https://files.example/i.pdf ".to_owned()),
            ("body.1".to_owned(), "Ada".to_owned()),
            ("body.2".to_owned(), "  ".to_owned()),
            ("button.0".to_owned(), "inv-7".to_owned()),
        ]);
        let send = send_of(&def, &values);
        assert_eq!(
            send.params.header,
            Some(ParamValue::Media {
                kind: windowdesk_core::template::MediaKind::Document,
                link: Some("https://files.example/i.pdf".into()),
                id: None,
                filename: None
            })
        );
        assert_eq!(send.params.body.keys().collect::<Vec<_>>(), ["1"], "an empty field is left out, so validation names it");
        assert_eq!(send.params.buttons.get("0").map(String::as_str), Some("inv-7"));
        let problem = windowdesk_core::template::validate(&def, &send.params).unwrap_err().to_string();
        assert_eq!(field_of(&format!("parameters.{problem}")).as_deref(), Some("body.2"), "{problem}");
    }
}
