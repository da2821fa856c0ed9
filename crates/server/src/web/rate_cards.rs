//! Admin page: rate cards (SPEC 11, issue 17 item 1). Every card with the one in force per
//! currency, its prices, import from a CSV file (all or none, the error naming the line and column),
//! export, and delete. The same store calls and CSV form as `/api/v1/rate-cards`.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use windowdesk_core::pricing::RateCard;

use super::numbers::{admin_only, DoneQuery};
use super::render::{self, nav_counts, Nav};
use super::session::Agent;
use super::WebError;
use crate::api::rate_cards::RateCardOut;
use crate::AppState;

/// What an import said, shown above the list.
enum ImportNote {
    Imported(usize),
    Refused(String),
}

async fn render_page(state: &AppState, agent: &Agent, done: Option<&str>, note: Option<&ImportNote>) -> Result<Html<String>, WebError> {
    let counts = nav_counts(state, agent).await?;
    let rows = state.store.rate_cards().await?;
    let cards: Vec<RateCardOut> = rows.iter().map(|r| crate::api::rate_cards::card_out(state, r, &rows)).collect();
    let content = html! {
        h1 { "Rate cards" }
        @if let Some(n) = render::notice(done) { (n) }
        @match note {
            Some(ImportNote::Imported(n)) => p.notice.ok role="status" { (n) " card(s) imported." },
            Some(ImportNote::Refused(why)) => p.notice.bad role="alert" #import-error { "Nothing was imported: " (why) },
            None => {},
        }
        p.hint {
            "What messages cost comes from these cards: a price per market and category, in one currency, from a date. "
            "The desk prices in " strong { (state.pricing.currency()) } " with the latest card of that currency to have started. "
            "Meta changes prices on 1 January, April, July and October: import its current card. "
            a href="https://developers.facebook.com/docs/whatsapp/pricing" { "Meta's pricing" } "."
        }
        div.table-wrap {
            table.templates #rate-cards {
                caption.sr { "Rate cards" }
                thead { tr {
                    th scope="col" { "Card" } th scope="col" { "From" } th scope="col" { "Currency" } th scope="col" { "Model" }
                    th scope="col" { "Prices" } th scope="col" { "In force" } th scope="col" { span.sr { "Actions" } }
                } }
                tbody {
                    @for c in &cards {
                        tr data-card=(c.id) {
                            td { a href={"/admin/rate-cards/" (c.id)} { (c.name) } @if c.shipped { " " span.badge { "shipped" } } }
                            td { (c.effective_from) }
                            td { (c.currency) }
                            td { @if c.model == "PMP" { "per message" } @else { "per conversation" } }
                            td { (c.prices) " in " (c.markets) " markets" }
                            td { @if c.in_force { span.badge.(if c.desk_currency { "ok" } else { "muted" }) { "in force" } } }
                            td {
                                form.inline method="post" action={"/admin/rate-cards/" (c.id) "/delete"}
                                    data-confirm={"Delete the rate card “" (c.name) "”? Messages it would price are then priced by the card before it."} {
                                    input type="hidden" name="csrf" value=(agent.csrf());
                                    button.danger type="submit" { "Delete" span.sr { " " (c.name) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if cards.is_empty() { p.empty { "No rate cards: prices are unknown until one is imported." } }
        p { a href="/admin/rate-cards/export" download="rate-cards.csv" { "Export every card as CSV" } }
        section aria-labelledby="import-title" {
            h2 #import-title { "Import cards" }
            p.hint { "A CSV file with one row per price, each with its card's fields; see docs/pricing.md. Export the cards to see the form." }
            form method="post" action="/admin/rate-cards/import" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(agent.csrf());
                label for="card-file" { "CSV file" }
                input #card-file type="file" name="file" accept=".csv,text/csv" required;
                label.check { input type="checkbox" name="replace" value="true"; " Replace cards of the same name" }
                button type="submit" { "Import" }
            }
        }
    };
    let page = render::page(agent, "Rate cards", Nav::RateCards, &counts, state.clock.now(), content);
    Ok(Html(page.into_string()))
}

/// `GET /admin/rate-cards`.
pub async fn cards_page(State(state): State<AppState>, agent: Agent, Query(q): Query<DoneQuery>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    render_page(&state, &agent, q.done.as_deref(), None).await
}

/// `GET /admin/rate-cards/{id}`: one card's prices.
pub async fn card_page(State(state): State<AppState>, agent: Agent, Path(id): Path<i64>) -> Result<Html<String>, WebError> {
    admin_only(&agent)?;
    let counts = nav_counts(&state, &agent).await?;
    let rows = state.store.rate_cards().await?;
    let row = rows.iter().find(|r| r.id == id).ok_or_else(|| WebError::NotFound(format!("There is no rate card {id}.")))?;
    let c = &row.card;
    let content = html! {
        p { a href="/admin/rate-cards" { "← Rate cards" } }
        h1 { (c.name) }
        p {
            (c.currency) ", from " (c.effective_from) ", "
            @if c.model == windowdesk_core::pricing::PricingModel::PerMessage { "per message" } @else { "per 24-hour conversation" } ". "
            @if c.utility_free_in_window { "Utility templates are free inside the customer service window. " }
            @else { "Utility templates are charged inside the customer service window too. " }
            @if c.free_entry_point_free { "Everything is free inside a free entry point window." }
        }
        div.table-wrap {
            table.templates #card-prices {
                caption.sr { "Prices of " (c.name) }
                thead { tr { th scope="col" { "Market" } th scope="col" { "Category" } th scope="col" { "Price" } th scope="col" { "From message" } th scope="col" { "Source" } } }
                tbody {
                    @for r in &c.rates {
                        tr {
                            td { (r.market) } td { (r.category) } td.num { (r.price.normalize()) " " (c.currency) }
                            td { @if r.volume_from > 1 { (r.volume_from) } @else { "list price" } }
                            td.hint { (r.source.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    };
    Ok(Html(render::page(&agent, &c.name, Nav::RateCards, &counts, state.clock.now(), content).into_string()))
}

/// `GET /admin/rate-cards/export`: every card as CSV.
pub async fn export(State(state): State<AppState>, agent: Agent) -> Result<Response, WebError> {
    admin_only(&agent)?;
    let cards: Vec<RateCard> = state.store.rate_cards().await?.into_iter().map(|r| r.card).collect();
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, "attachment; filename=\"rate-cards.csv\"")],
        RateCard::to_csv(&cards),
    )
        .into_response())
}

/// `POST /admin/rate-cards/import` (multipart: `csrf`, `file`, optionally `replace`).
pub async fn import(State(state): State<AppState>, agent: Agent, mut form: axum::extract::Multipart) -> Result<Response, WebError> {
    let (mut csrf, mut replace, mut file) = (String::new(), false, Vec::new());
    let unreadable =
        |e: axum::extract::multipart::MultipartError| WebError::BadRequest(format!("The form could not be read: {}", e.body_text()));
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        match field.name().unwrap_or_default() {
            "csrf" => csrf = field.text().await.map_err(unreadable)?,
            "replace" => replace = field.text().await.map_err(unreadable)? == "true",
            "file" => file = field.bytes().await.map_err(unreadable)?.to_vec(),
            _ => {}
        }
    }
    agent.check_csrf(&csrf)?;
    admin_only(&agent)?;
    let (status, note) = match std::str::from_utf8(&file)
        .map_err(|_| "the file is not UTF-8 text.".to_owned())
        .and_then(|t| RateCard::from_csv(t).map_err(|e| e.to_string()))
    {
        Err(why) => (StatusCode::UNPROCESSABLE_ENTITY, ImportNote::Refused(why)),
        Ok(cards) => match state.store.import_rate_cards(&cards, replace, state.clock.now()).await {
            Ok(ids) => {
                state.pricing.forget().await;
                (StatusCode::OK, ImportNote::Imported(ids.len()))
            }
            Err(windowdesk_store::StoreError::Conflict(why)) => (StatusCode::CONFLICT, ImportNote::Refused(why)),
            Err(e) => return Err(e.into()),
        },
    };
    Ok((status, render_page(&state, &agent, None, Some(&note)).await?).into_response())
}

/// `POST /admin/rate-cards/{id}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let csrf = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or_default();
    agent.check_csrf(csrf)?;
    admin_only(&agent)?;
    if !state.store.delete_rate_card(id).await? {
        return Err(WebError::NotFound(format!("There is no rate card {id}.")));
    }
    state.pricing.forget().await;
    Ok(Redirect::to("/admin/rate-cards?done=deleted").into_response())
}
