//! The search language (SPEC C3): what agents type in the search box and what the API's `q` takes,
//! parsed once here into a [`SearchQuery`] that both stores run.
//!
//! - Words find ticket subjects, message bodies and customer names by their words, case and accents
//!   folded ([`fold`]): `sabado` finds "Sábado" and `sábado` finds "sabado"; `"two words"` is a
//!   phrase.
//! - `whatsapp:"3211"` (or `phone:`) finds numbers containing those digits, however they are written:
//!   `whatsapp:"123)123-3"` and `whatsapp:"11231233211"` both find `+1 (123) 123-3211`. A bare
//!   number of five digits or more (`+1 123 123 3211`, `11231233211`) is a phone search too; quote it
//!   (`"100423"`) to find it in text instead. A national number written with its trunk `0`
//!   (`07911 123456`) also finds the international one (`+44 7911 123456`).
//! - Filters, all combinable: `status:open` (or `status:open,pending`), `assignee:me`,
//!   `assignee:none`, `assignee:<email or name>`, `number:<business number or phone number id>`,
//!   `tag:vip`, `window:open|closed|closing`.
//!
//! A malformed query is refused with the place and the reason, never guessed at.

use std::fmt;

use crate::routing::TicketStatus;

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Fewest digits a phone search takes (the phone index works on three-character pieces).
pub const MIN_PHONE_DIGITS: usize = 3;
/// Longest tag (as the ticket API takes them).
pub const MAX_TAG_CHARS: usize = 50;
/// Fewest digits for a bare number to be read as a phone search rather than a word.
pub const BARE_PHONE_DIGITS: usize = 5;

/// Whose tickets `assignee:` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssigneeTerm {
    Me,
    Nobody,
    /// An agent named by email or by (part of) their name; the caller resolves it.
    Named(String),
}

/// `window:`: the customer service window of the ticket's contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowTerm {
    Open,
    Closed,
    /// Open, and closing within the desk's "closing soon" span.
    Closing,
}

/// Digits a number must contain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneTerm {
    pub digits: String,
}

impl PhoneTerm {
    /// The digit strings to look for in stored numbers (international digits, as WhatsApp gives
    /// them); a number matches when it contains any of them. A leading trunk `0` is also tried
    /// without it, so that a national number finds the international one.
    pub fn patterns(&self) -> Vec<String> {
        let mut out = vec![self.digits.clone()];
        let national = self.digits.trim_start_matches('0');
        if national.len() != self.digits.len() && national.len() >= BARE_PHONE_DIGITS {
            out.push(national.to_owned());
        }
        out
    }
}

/// Text to find: a word, or words in this order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextTerm {
    Word(String),
    Phrase(Vec<String>),
}

/// A parsed query. Terms of one kind combine with AND, except statuses and numbers, where any of
/// the listed ones will do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub phones: Vec<PhoneTerm>,
    pub text: Vec<TextTerm>,
    pub statuses: Vec<TicketStatus>,
    pub assignee: Option<AssigneeTerm>,
    /// Business numbers as typed (digits of the number, or its phone number id).
    pub numbers: Vec<String>,
    pub tags: Vec<String>,
    pub window: Option<WindowTerm>,
}

/// Why a query was refused: the 1-based character where the problem starts, and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    pub at: usize,
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.at, self.message)
    }
}

impl std::error::Error for QueryError {}

const FILTERS: &str = "whatsapp:, phone:, status:, assignee:, number:, tag: and window:";

impl SearchQuery {
    /// Whether the query looks for anything by content (a phone number or text), as opposed to only
    /// filtering tickets.
    pub fn has_terms(&self) -> bool {
        !self.phones.is_empty() || !self.text.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        *self == SearchQuery::default()
    }

    /// Every word the text terms hold, folded, for highlighting.
    pub fn words(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.text {
            match t {
                TextTerm::Word(w) => out.push(fold(w)),
                TextTerm::Phrase(ws) => out.extend(ws.iter().map(|w| fold(w))),
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The text terms as an SQLite FTS5 query (every term required; each word quoted, so nothing in
    /// it is read as FTS5 syntax). `None` without text terms.
    pub fn fts5_match(&self) -> Option<String> {
        if self.text.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .text
            .iter()
            .map(|t| match t {
                TextTerm::Word(w) => format!("\"{w}\""),
                TextTerm::Phrase(ws) => format!("\"{}\"", ws.join(" ")),
            })
            .collect();
        Some(parts.join(" AND "))
    }

    /// The text terms as a PostgreSQL `tsquery` (words are letters and digits only, so they need no
    /// quoting), before folding: the store folds it as it folds what it indexes. `None` without text
    /// terms.
    pub fn tsquery(&self) -> Option<String> {
        if self.text.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .text
            .iter()
            .map(|t| match t {
                TextTerm::Word(w) => w.clone(),
                TextTerm::Phrase(ws) => format!("({})", ws.join(" <-> ")),
            })
            .collect();
        Some(parts.join(" & "))
    }
}

/// Lowercase, with the accents of Latin letters removed and the ligatures spelled out: how search
/// compares words when it highlights them. PostgreSQL's index folds with the same table (`wd_fold`,
/// migration `search`; [`fold_tables`] gives its two strings); SQLite's FTS5 folds with
/// `remove_diacritics 2`.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'ß' | 'ẞ' => out.push_str("ss"),
            'Æ' | 'æ' => out.push_str("ae"),
            'Œ' | 'œ' => out.push_str("oe"),
            _ if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            _ => match FOLDS.iter().find(|(from, _)| from.contains(c)) {
                Some((_, to)) => out.push(*to),
                None => out.extend(c.to_lowercase()),
            },
        }
    }
    out
}

/// Accented Latin letters (both cases) and the letter each folds to.
const FOLDS: &[(&str, char)] = &[
    ("ÀÁÂÃÄÅàáâãäåĀāĂăĄą", 'a'),
    ("ÇçĆćĈĉĊċČč", 'c'),
    ("ĎďĐđ", 'd'),
    ("ÈÉÊËèéêëĒēĔĕĖėĘęĚě", 'e'),
    ("ĜĝĞğĠġĢģ", 'g'),
    ("ĤĥĦħ", 'h'),
    ("ÌÍÎÏìíîïĨĩĪīĬĭĮįİı", 'i'),
    ("Ĵĵ", 'j'),
    ("Ķķ", 'k'),
    ("ĹĺĻļĽľĿŀŁł", 'l'),
    ("ÑñŃńŅņŇň", 'n'),
    ("ÒÓÔÕÖØòóôõöøŌōŎŏŐő", 'o'),
    ("ŔŕŖŗŘř", 'r'),
    ("ŚśŜŝŞşŠš", 's'),
    ("ŢţŤťŦŧ", 't'),
    ("ÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲų", 'u'),
    ("Ŵŵ", 'w'),
    ("ÝýÿŶŷŸ", 'y'),
    ("ŹźŻżŽž", 'z'),
];

/// The single-letter folds as `translate(text, from, to)`'s two strings.
pub fn fold_tables() -> (String, String) {
    let mut from = String::new();
    let mut to = String::new();
    for (letters, base) in FOLDS {
        for c in letters.chars() {
            from.push(c);
            to.push(*base);
        }
    }
    (from, to)
}

/// The words of a text, lowercased: runs of letters and digits. Each store folds accents itself, on
/// both what it indexes and what is searched, so the words keep theirs.
pub fn words(s: &str) -> Vec<String> {
    s.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// Parses what was typed in the search box.
pub fn parse(input: &str) -> Result<SearchQuery, QueryError> {
    if input.chars().count() > MAX_QUERY_CHARS {
        return Err(QueryError { at: MAX_QUERY_CHARS + 1, message: format!("a query is at most {MAX_QUERY_CHARS} characters") });
    }
    let mut q = SearchQuery::default();
    // Bare pieces of a number typed with spaces (`+1 (123) 123-3211`), read together.
    let mut number: Vec<String> = Vec::new();
    for token in tokens(input)? {
        if token.key.is_none() && !token.quoted && phone_piece(&token.value) {
            number.push(token.value);
            continue;
        }
        end_number(&mut q, &mut number);
        match token.key.clone() {
            None if token.quoted => {
                let ws = words(&token.value);
                match ws.len() {
                    0 => {}
                    1 => q.text.push(TextTerm::Word(ws.into_iter().next().unwrap_or_default())),
                    _ => q.text.push(TextTerm::Phrase(ws)),
                }
            }
            None => q.text.extend(words(&token.value).into_iter().map(TextTerm::Word)),
            Some(key) => apply_filter(&mut q, &key, &token)?,
        }
    }
    end_number(&mut q, &mut number);
    Ok(q)
}

/// Digits and the punctuation numbers are written with, and at least one digit.
fn phone_piece(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_digit()) && s.chars().all(|c| c.is_ascii_digit() || "+-().".contains(c))
}

/// A run of number pieces is a phone search when it has enough digits, and words otherwise.
fn end_number(q: &mut SearchQuery, pieces: &mut Vec<String>) {
    let joined = pieces.join(" ");
    pieces.clear();
    let digits = crate::phone::digits_of(&joined);
    if digits.len() >= BARE_PHONE_DIGITS {
        q.phones.push(PhoneTerm { digits });
    } else {
        q.text.extend(words(&joined).into_iter().map(TextTerm::Word));
    }
}

fn apply_filter(q: &mut SearchQuery, key: &str, token: &Token) -> Result<(), QueryError> {
    let value = token.value.trim();
    let err = |message: String| QueryError { at: token.value_at, message };
    if value.is_empty() {
        return Err(QueryError { at: token.at, message: format!("{key}: needs a value, e.g. {}", example(key)) });
    }
    match key {
        "whatsapp" | "phone" => {
            let digits = crate::phone::digits_of(value);
            if digits.len() < MIN_PHONE_DIGITS {
                return Err(err(format!("{key}: needs at least {MIN_PHONE_DIGITS} digits of the number, got {value:?}")));
            }
            if let Some(c) = value.chars().find(|c| !(c.is_ascii_digit() || " +-().".contains(*c))) {
                return Err(err(format!("{key}: a number holds digits, spaces and + - ( ) . only, not {c:?}")));
            }
            q.phones.push(PhoneTerm { digits });
        }
        "status" => {
            for s in value.split(',') {
                let s = s.trim().to_ascii_lowercase().replace('-', "_");
                let status = TicketStatus::parse(&s).ok_or_else(|| {
                    let all: Vec<&str> = TicketStatus::ALL.iter().map(|s| s.as_str()).collect();
                    err(format!("status: {s:?} is not a status; use one of {}", all.join(", ")))
                })?;
                if !q.statuses.contains(&status) {
                    q.statuses.push(status);
                }
            }
        }
        "assignee" => {
            if q.assignee.is_some() {
                return Err(QueryError { at: token.at, message: "assignee: is given twice; a ticket has one assignee".into() });
            }
            q.assignee = Some(match value.to_ascii_lowercase().as_str() {
                "me" => AssigneeTerm::Me,
                "none" | "nobody" | "unassigned" => AssigneeTerm::Nobody,
                _ => AssigneeTerm::Named(value.to_owned()),
            });
        }
        "number" => {
            let digits = crate::phone::digits_of(value);
            if digits.is_empty() || value.chars().any(|c| !(c.is_ascii_digit() || " +-().".contains(c))) {
                return Err(err(format!("number: names a business number by its digits or phone number id, got {value:?}")));
            }
            q.numbers.push(digits);
        }
        "tag" => {
            if value.chars().count() > MAX_TAG_CHARS || value.chars().any(|c| c.is_control() || c == ',') {
                return Err(err(format!("tag: a tag is at most {MAX_TAG_CHARS} characters, without commas or control characters")));
            }
            q.tags.push(value.to_lowercase());
        }
        "window" => {
            if q.window.is_some() {
                return Err(QueryError { at: token.at, message: "window: is given twice".into() });
            }
            q.window = Some(match value.to_ascii_lowercase().as_str() {
                "open" => WindowTerm::Open,
                "closed" => WindowTerm::Closed,
                "closing" => WindowTerm::Closing,
                _ => return Err(err(format!("window: is open, closed or closing, not {value:?}"))),
            });
        }
        _ => {
            return Err(QueryError {
                at: token.at,
                message: format!("{key}: is not a filter; filters are {FILTERS} (put text with a colon in quotes)"),
            })
        }
    }
    Ok(())
}

fn example(key: &str) -> &'static str {
    match key {
        "whatsapp" | "phone" => "whatsapp:\"3211\"",
        "status" => "status:open",
        "assignee" => "assignee:me",
        "number" => "number:15550001111",
        "tag" => "tag:vip",
        "window" => "window:closing",
        _ => "status:open",
    }
}

struct Token {
    key: Option<String>,
    value: String,
    quoted: bool,
    /// 1-based character positions of the token and of its value.
    at: usize,
    value_at: usize,
}

/// Splits on whitespace outside quotes. `key:value` and `key:"quoted value"` are filters when `key` is
/// letters only; anything else is text.
fn tokens(input: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if chars[i] == '"' {
            let (value, end) = quoted(&chars, i)?;
            out.push(Token { key: None, value, quoted: true, at: start + 1, value_at: start + 2 });
            i = end;
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j].is_ascii_alphabetic() {
            j += 1;
        }
        if j > i && j < chars.len() && chars[j] == ':' {
            let key: String = chars[i..j].iter().collect::<String>().to_ascii_lowercase();
            let value_start = j + 1;
            if value_start < chars.len() && chars[value_start] == '"' {
                let (value, end) = quoted(&chars, value_start)?;
                out.push(Token { key: Some(key), value, quoted: true, at: start + 1, value_at: value_start + 2 });
                i = end;
            } else {
                let mut end = value_start;
                while end < chars.len() && !chars[end].is_whitespace() {
                    end += 1;
                }
                let value: String = chars[value_start..end].iter().collect();
                out.push(Token { key: Some(key), value, quoted: false, at: start + 1, value_at: value_start + 1 });
                i = end;
            }
            continue;
        }
        let mut end = i;
        while end < chars.len() && !chars[end].is_whitespace() {
            if chars[end] == '"' {
                return Err(QueryError { at: end + 1, message: "a quote starts inside a word; put a space before it".into() });
            }
            end += 1;
        }
        out.push(Token { key: None, value: chars[i..end].iter().collect(), quoted: false, at: start + 1, value_at: start + 1 });
        i = end;
    }
    Ok(out)
}

/// The text between the quote at `open` and the next one, and the position after it.
fn quoted(chars: &[char], open: usize) -> Result<(String, usize), QueryError> {
    let close = chars[open + 1..]
        .iter()
        .position(|&c| c == '"')
        .ok_or_else(|| QueryError { at: open + 1, message: "this quote is never closed".into() })?;
    let end = open + 1 + close;
    Ok((chars[open + 1..end].iter().collect(), end + 1))
}

/// A piece of text, marked when it is a match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub hit: bool,
}

/// Up to about `max_chars` of `text` around its first match of `words` (folded), in pieces marking
/// every match; the start of the text when nothing matches. `…` marks what was cut.
pub fn snippet(text: &str, words: &[String], max_chars: usize) -> Vec<Piece> {
    let chars: Vec<char> = text.chars().collect();
    // Word spans (in chars) whose folded form is one of the words.
    let mut hits: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_alphanumeric() {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        if words.contains(&fold(&word)) {
            hits.push((start, i));
        }
    }
    let first = hits.first().map_or(0, |h| h.0);
    let mut from = first.saturating_sub(max_chars / 3);
    // Start at a word boundary.
    while from > 0 && from < chars.len() && chars[from - 1].is_alphanumeric() {
        from += 1;
    }
    from = from.min(first);
    let to = (from + max_chars).min(chars.len());
    let mut pieces = Vec::new();
    let mut push = |text: String, hit: bool| {
        if !text.is_empty() {
            pieces.push(Piece { text, hit });
        }
    };
    let mut at = from;
    let mut lead = if from > 0 { "…".to_owned() } else { String::new() };
    for &(s, e) in hits.iter().filter(|&&(s, e)| s >= from && e <= to) {
        lead.extend(&chars[at..s]);
        push(std::mem::take(&mut lead), false);
        push(chars[s..e].iter().collect(), true);
        at = e;
    }
    lead.extend(&chars[at..to]);
    if to < chars.len() {
        lead.push('…');
    }
    push(lead, false);
    pieces
}

#[cfg(test)]
mod tests;
