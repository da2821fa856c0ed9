//! Read queries of the SQLite store.

use rusqlite::{params, Connection, OptionalExtension, Row};
use windowdesk_core::{CustomerWindow, DeliveryState, TicketStatus, Timestamp};

use crate::error::StoreError;
use crate::model::*;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

fn ot(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(Timestamp::from_unix_millis)
}

pub(crate) fn business_numbers(c: &Connection) -> Result<Vec<BusinessNumberRow>, StoreError> {
    let mut stmt = c.prepare_cached("SELECT id, phone_number_id, waba_id, display_number, name FROM business_numbers ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(BusinessNumberRow { id: r.get(0)?, phone_number_id: r.get(1)?, waba_id: r.get(2)?, display_number: r.get(3)?, name: r.get(4)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const TICKET_COLUMNS: &str =
    "id, business_number_id, identity_id, requester_id, status, subject, assignee_id, followup_of, created_at, updated_at, last_message_at";

/// A ticket from the first 11 columns of a row, in `TICKET_COLUMNS` order.
pub(crate) fn ticket_row(r: &Row<'_>) -> rusqlite::Result<TicketRow> {
    let status: String = r.get(4)?;
    Ok(TicketRow {
        id: r.get(0)?,
        business_number_id: r.get(1)?,
        identity_id: r.get(2)?,
        requester_id: r.get(3)?,
        status: TicketStatus::parse(&status).unwrap_or(TicketStatus::Open),
        subject: r.get(5)?,
        assignee_id: r.get(6)?,
        followup_of: r.get(7)?,
        created_at: t(r.get(8)?),
        updated_at: t(r.get(9)?),
        last_message_at: t(r.get(10)?),
    })
}

pub(crate) fn list_tickets(c: &Connection, f: &TicketFilter) -> Result<Vec<TicketRow>, StoreError> {
    let sql = format!(
        "SELECT {TICKET_COLUMNS} FROM tickets
         WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR business_number_id = ?2) AND (?3 IS NULL OR identity_id = ?3)
           AND (?4 IS NULL OR id < ?4)
         ORDER BY id DESC LIMIT ?5"
    );
    let limit = if f.limit == 0 { 50 } else { f.limit.min(1000) };
    let mut stmt = c.prepare_cached(&sql)?;
    let rows =
        stmt.query_map(params![f.status.map(TicketStatus::as_str), f.business_number_id, f.identity_id, f.before_id, limit], ticket_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn ticket(c: &Connection, id: i64) -> Result<Option<TicketRow>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?1"))?.query_row(params![id], ticket_row).optional()?)
}

pub(crate) fn followups(c: &Connection, id: i64) -> Result<Vec<i64>, StoreError> {
    let mut stmt = c.prepare_cached("SELECT id FROM tickets WHERE followup_of = ?1 ORDER BY id")?;
    let rows = stmt.query_map(params![id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const MESSAGE_COLUMNS: &str =
    "id, ticket_id, business_number_id, identity_id, direction, wamid, kind, body, media_id, mime_type, filename, voice,
     reply_to_wamid, target_wamid, forwarded, referral, sent_at, received_at, delivery_state, error_code, error_title, error_details,
     edited_at, revoked_at, errors, raw, maybe_duplicate, author, delivery_updated_at, went_out_at";

fn message_row(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    let direction: String = r.get(4)?;
    Ok(MessageRow {
        id: r.get(0)?,
        ticket_id: r.get(1)?,
        business_number_id: r.get(2)?,
        identity_id: r.get(3)?,
        direction: Direction::parse(&direction).unwrap_or(Direction::System),
        wamid: r.get(5)?,
        kind: r.get(6)?,
        body: r.get(7)?,
        media_id: r.get(8)?,
        mime_type: r.get(9)?,
        filename: r.get(10)?,
        voice: r.get::<_, i64>(11)? != 0,
        reply_to_wamid: r.get(12)?,
        target_wamid: r.get(13)?,
        forwarded: r.get(14)?,
        referral: r.get::<_, i64>(15)? != 0,
        sent_at: t(r.get(16)?),
        received_at: t(r.get(17)?),
        delivery_state: r.get::<_, Option<String>>(18)?.as_deref().and_then(DeliveryState::parse),
        error_code: r.get(19)?,
        error_title: r.get(20)?,
        error_details: r.get(21)?,
        edited_at: ot(r.get(22)?),
        revoked_at: ot(r.get(23)?),
        errors: r.get(24)?,
        raw: r.get(25)?,
        maybe_duplicate: r.get::<_, i64>(26)? != 0,
        author: r.get(27)?,
        delivery_updated_at: ot(r.get(28)?),
        went_out_at: ot(r.get(29)?),
    })
}

/// A ticket's thread in the order the customer lived it: inbound messages at their send time,
/// outbound ones when they went out (when written, until they do); at the same moment the customer's
/// message first, since a reply it released cannot have gone out before it.
pub(crate) fn ticket_messages(c: &Connection, ticket_id: i64) -> Result<Vec<MessageRow>, StoreError> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE ticket_id = ?1 ORDER BY COALESCE(went_out_at, sent_at), direction <> 'inbound', id"
    ))?;
    let rows = stmt.query_map(params![ticket_id], message_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn message_by_wamid(c: &Connection, bn: i64, wamid: &str) -> Result<Option<MessageRow>, StoreError> {
    Ok(c.prepare_cached(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE business_number_id = ?1 AND wamid = ?2"))?
        .query_row(params![bn, wamid], message_row)
        .optional()?)
}

pub(crate) fn ticket_events(c: &Connection, ticket_id: i64) -> Result<Vec<EventRow>, StoreError> {
    let mut stmt = c.prepare_cached("SELECT id, ticket_id, at, actor, kind, data FROM ticket_events WHERE ticket_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map(params![ticket_id], |r| {
        let data: String = r.get(5)?;
        Ok(EventRow {
            id: r.get(0)?,
            ticket_id: r.get(1)?,
            at: t(r.get(2)?),
            actor: r.get(3)?,
            kind: r.get(4)?,
            data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const IDENTITY_SELECT: &str = "SELECT i.id, i.contact_id, i.business_number_id, i.identity_key, i.wa_id, i.bsuid, i.profile_name, c.name,
        c.name_is_default, i.last_inbound_at, i.referral_at, i.fep_started_at
     FROM identities i JOIN contacts c ON c.id = i.contact_id";

fn identity_row(r: &Row<'_>) -> rusqlite::Result<IdentityRow> {
    identity_row_at(r, 0)
}

/// An identity from 12 columns starting at `at`, in `IDENTITY_SELECT` order.
fn identity_row_at(r: &Row<'_>, at: usize) -> rusqlite::Result<IdentityRow> {
    Ok(IdentityRow {
        id: r.get(at)?,
        contact_id: r.get(at + 1)?,
        business_number_id: r.get(at + 2)?,
        identity_key: r.get(at + 3)?,
        wa_id: r.get(at + 4)?,
        bsuid: r.get(at + 5)?,
        profile_name: r.get(at + 6)?,
        contact_name: r.get(at + 7)?,
        name_is_default: r.get::<_, i64>(at + 8)? != 0,
        window: CustomerWindow {
            last_inbound_at: ot(r.get(at + 9)?),
            referral_at: ot(r.get(at + 10)?),
            fep_started_at: ot(r.get(at + 11)?),
        },
    })
}

pub(crate) fn identity_by_key(c: &Connection, bn: i64, key: &str) -> Result<Option<IdentityRow>, StoreError> {
    let sql = format!("{IDENTITY_SELECT} WHERE i.business_number_id = ?1 AND i.identity_key = ?2");
    Ok(c.prepare_cached(&sql)?.query_row(params![bn, key], identity_row).optional()?)
}

/// A ticket and its identity in one query (the reply path needs both); the identity is `None` only
/// if the database lost it.
pub(crate) fn ticket_with_identity(c: &Connection, id: i64) -> Result<Option<TicketWithIdentity>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT t.id, t.business_number_id, t.identity_id, t.requester_id, t.status, t.subject, t.assignee_id, t.followup_of, t.created_at, t.updated_at, t.last_message_at,
                i.id, i.contact_id, i.business_number_id, i.identity_key, i.wa_id, i.bsuid, i.profile_name, c.name, c.name_is_default, i.last_inbound_at, i.referral_at, i.fep_started_at
         FROM tickets t LEFT JOIN identities i ON i.id = t.identity_id LEFT JOIN contacts c ON c.id = i.contact_id WHERE t.id = ?1",
    )?;
    Ok(stmt
        .query_row(params![id], |r| {
            let identity = if r.get::<_, Option<i64>>(11)?.is_some() { Some(identity_row_at(r, 11)?) } else { None };
            Ok((ticket_row(r)?, identity))
        })
        .optional()?)
}

pub(crate) fn identity(c: &Connection, id: i64) -> Result<Option<IdentityRow>, StoreError> {
    Ok(c.prepare_cached(&format!("{IDENTITY_SELECT} WHERE i.id = ?1"))?.query_row(params![id], identity_row).optional()?)
}

pub(crate) fn identity_changes(c: &Connection, identity_id: i64) -> Result<Vec<IdentityChangeRow>, StoreError> {
    let mut stmt = c.prepare_cached("SELECT at, field, old_value, new_value FROM identity_changes WHERE identity_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map(params![identity_id], |r| {
        Ok(IdentityChangeRow { at: t(r.get(0)?), field: r.get(1)?, old_value: r.get(2)?, new_value: r.get(3)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn reactions(c: &Connection, bn: i64, target: &str) -> Result<Vec<ReactionRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT identity_id, emoji, reacted_at FROM reactions WHERE business_number_id = ?1 AND target_wamid = ?2 ORDER BY reacted_at",
    )?;
    let rows =
        stmt.query_map(params![bn, target], |r| Ok(ReactionRow { identity_id: r.get(0)?, emoji: r.get(1)?, reacted_at: t(r.get(2)?) }))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn revisions(c: &Connection, bn: i64, target: &str) -> Result<Vec<RevisionRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT kind, source_wamid, previous_body, new_body, at, applied FROM message_revisions WHERE business_number_id = ?1 AND target_wamid = ?2 ORDER BY at, id",
    )?;
    let rows = stmt.query_map(params![bn, target], |r| {
        Ok(RevisionRow {
            kind: r.get(0)?,
            source_wamid: r.get(1)?,
            previous_body: r.get(2)?,
            new_body: r.get(3)?,
            at: t(r.get(4)?),
            applied: r.get::<_, i64>(5)? != 0,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn status_events(c: &Connection, bn: i64, wamid: &str) -> Result<Vec<StatusEventRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT status, at, pricing, errors, applied FROM status_events WHERE business_number_id = ?1 AND wamid = ?2 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![bn, wamid], |r| {
        Ok(StatusEventRow { status: r.get(0)?, at: t(r.get(1)?), pricing: r.get(2)?, errors: r.get(3)?, applied: r.get::<_, i64>(4)? != 0 })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn templates(c: &Connection) -> Result<Vec<TemplateRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT waba_id, name, language, meta_template_id, category, status, quality, reason, components, definition, synced_at, removed_at
         FROM templates ORDER BY waba_id, name, language",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(TemplateRow {
            waba_id: r.get(0)?,
            name: r.get(1)?,
            language: r.get(2)?,
            meta_template_id: r.get(3)?,
            category: r.get(4)?,
            status: r.get(5)?,
            quality: r.get(6)?,
            reason: r.get(7)?,
            components: r.get(8)?,
            definition: r.get(9)?,
            synced_at: r.get::<_, Option<i64>>(10)?.map(t),
            removed_at: r.get::<_, Option<i64>>(11)?.map(t),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn account_events(c: &Connection) -> Result<Vec<AccountEventRow>, StoreError> {
    let mut stmt = c.prepare_cached("SELECT waba_id, business_number_id, field, event, raw FROM account_events ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(AccountEventRow { waba_id: r.get(0)?, business_number_id: r.get(1)?, field: r.get(2)?, event: r.get(3)?, raw: r.get(4)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn unknown_numbers(c: &Connection) -> Result<Vec<UnknownNumberRow>, StoreError> {
    let mut stmt = c.prepare_cached("SELECT phone_number_id, count, last_seen FROM unknown_numbers ORDER BY phone_number_id")?;
    let rows = stmt.query_map([], |r| Ok(UnknownNumberRow { phone_number_id: r.get(0)?, count: r.get(1)?, last_seen: t(r.get(2)?) }))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn media_jobs(c: &Connection) -> Result<Vec<MediaJobRow>, StoreError> {
    let mut stmt = c.prepare_cached("SELECT business_number_id, wamid, media_id, state FROM media_jobs ORDER BY id")?;
    let rows =
        stmt.query_map([], |r| Ok(MediaJobRow { business_number_id: r.get(0)?, wamid: r.get(1)?, media_id: r.get(2)?, state: r.get(3)? }))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn counts(c: &Connection) -> Result<Counts, StoreError> {
    Ok(c.query_row(
        "SELECT (SELECT COUNT(*) FROM tickets), (SELECT COUNT(*) FROM messages), (SELECT COUNT(*) FROM identities), (SELECT COUNT(*) FROM status_events)",
        [],
        |r| Ok(Counts { tickets: r.get(0)?, messages: r.get(1)?, identities: r.get(2)?, status_events: r.get(3)? }),
    )?)
}
