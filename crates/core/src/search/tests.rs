use super::*;

fn phones(q: &str) -> Vec<String> {
    parse(q).unwrap().phones.into_iter().map(|p| p.digits).collect()
}

fn err(q: &str) -> QueryError {
    parse(q).unwrap_err()
}

#[test]
fn the_seed_phone_searches_all_find_the_same_digits() {
    // Zendesk finds +1 (123) 123-3211 with the first two; Windowdesk also with digits only.
    assert_eq!(phones(r#"whatsapp:"3211""#), vec!["3211"]);
    assert_eq!(phones(r#"whatsapp:"123)123-3""#), vec!["1231233"]);
    assert_eq!(phones("11231233211"), vec!["11231233211"]);
    let pasted = parse("+1 (123) 123-3211").unwrap();
    assert_eq!((pasted.phones[0].digits.as_str(), pasted.text.len()), ("11231233211", 0), "a pasted number is one search");
    assert_eq!(phones(r#"whatsapp:"+1 (123) 123-3211""#), vec!["11231233211"]);
    assert_eq!(phones("phone:1231233211"), vec!["1231233211"], "without the country code");
    assert_eq!(phones("+44-7911-123456"), vec!["447911123456"]);
    let stored = "11231233211";
    for q in [r#"whatsapp:"3211""#, r#"whatsapp:"123)123-3""#, "11231233211", "1231233211"] {
        let query = parse(q).unwrap();
        assert!(query.phones[0].patterns().iter().any(|p| stored.contains(p.as_str())), "{q}");
    }
}

#[test]
fn a_national_number_with_its_trunk_zero_also_looks_for_the_international_digits() {
    let term = &parse("07911123456").unwrap().phones[0];
    assert_eq!(term.patterns(), vec!["07911123456", "7911123456"]);
    assert!(term.patterns().iter().any(|p| "447911123456".contains(p.as_str())));
    assert_eq!(parse("whatsapp:3211").unwrap().phones[0].patterns(), vec!["3211"]);
}

#[test]
fn short_numbers_and_quoted_numbers_are_text() {
    let q = parse(r#"order 1042 "100423""#).unwrap();
    assert_eq!(parse("order 10 42").unwrap().text.len(), 3, "too few digits for a number: words");
    assert!(q.phones.is_empty());
    assert_eq!(q.text, vec![TextTerm::Word("order".into()), TextTerm::Word("1042".into()), TextTerm::Word("100423".into())]);
}

#[test]
fn words_keep_their_accents_and_lose_their_case_and_punctuation() {
    let q = parse("Vocês entregam no SÁBADO?").unwrap();
    assert_eq!(q.text.len(), 4);
    assert_eq!(q.text[3], TextTerm::Word("sábado".into()));
    assert_eq!(q.words(), vec!["entregam", "no", "sabado", "voces"], "folded for highlighting");
    let phrase = parse(r#""Mein Paket" unterwegs"#).unwrap();
    assert_eq!(phrase.text[0], TextTerm::Phrase(vec!["mein".into(), "paket".into()]));
    assert_eq!(phrase.fts5_match().unwrap(), r#""mein paket" AND "unterwegs""#);
    assert_eq!(phrase.tsquery().unwrap(), "(mein <-> paket) & unterwegs");
    assert_eq!(parse("e-mail").unwrap().tsquery().unwrap(), "e & mail", "split as the indexes split");
}

#[test]
fn fts5_and_tsquery_syntax_in_the_query_is_only_text() {
    let q = parse(r#"NEAR(a b) OR x* & !y | z'"#).unwrap();
    for t in &q.text {
        let TextTerm::Word(w) = t else { panic!("{t:?}") };
        assert!(w.chars().all(char::is_alphanumeric), "{w}");
    }
    assert_eq!(q.fts5_match().unwrap(), r#""near" AND "a" AND "b" AND "or" AND "x" AND "y" AND "z""#);
}

#[test]
fn filters_combine_and_are_read_without_regard_to_case() {
    let q = parse("Status:open,pending assignee:ME tag:VIP number:+1-555-000-1111 window:closing refund").unwrap();
    assert_eq!(q.statuses, vec![TicketStatus::Open, TicketStatus::Pending]);
    assert_eq!(q.assignee, Some(AssigneeTerm::Me));
    assert_eq!(q.tags, vec!["vip"]);
    assert_eq!(q.numbers, vec!["15550001111"]);
    assert_eq!(q.window, Some(WindowTerm::Closing));
    assert_eq!(q.text, vec![TextTerm::Word("refund".into())]);
    assert!(q.has_terms());
    assert_eq!(parse("assignee:none").unwrap().assignee, Some(AssigneeTerm::Nobody));
    assert_eq!(parse("assignee:ana@example.com").unwrap().assignee, Some(AssigneeTerm::Named("ana@example.com".into())));
    assert_eq!(parse(r#"assignee:"Ana Lima""#).unwrap().assignee, Some(AssigneeTerm::Named("Ana Lima".into())));
    assert_eq!(parse("status:on-hold status:solved").unwrap().statuses, vec![TicketStatus::OnHold, TicketStatus::Solved]);
    assert!(!parse("status:open").unwrap().has_terms());
    assert!(parse("   ").unwrap().is_empty());
}

#[test]
fn malformed_queries_are_refused_with_the_place_and_the_reason() {
    let e = err("refund status:opn");
    assert_eq!(e.at, 15);
    assert!(e.message.starts_with(r#"status: "opn" is not a status; use one of new, open"#), "{e}");
    assert_eq!(err(r#"whatsapp:"12""#).message, r#"whatsapp: needs at least 3 digits of the number, got "12""#);
    assert!(err("whatsapp:abc123").message.contains("not 'a'"));
    assert_eq!(err("colour:red").to_string(), "at character 1: colour: is not a filter; filters are whatsapp:, phone:, status:, assignee:, number:, tag: and window: (put text with a colon in quotes)");
    assert_eq!(err(r#"say "hello"#).to_string(), "at character 5: this quote is never closed");
    assert_eq!(err("tag:").message, "tag: needs a value, e.g. tag:vip");
    assert!(err("tag:a,b").message.contains("without commas"));
    assert!(err("tag:\u{0}x").message.contains("control characters"));
    assert_eq!(err("window:soon").message, r#"window: is open, closed or closing, not "soon""#);
    assert!(err("assignee:me assignee:none").message.contains("given twice"));
    assert_eq!(err("number:main").message, r#"number: names a business number by its digits or phone number id, got "main""#);
    assert!(err(&"a".repeat(MAX_QUERY_CHARS + 1)).message.contains("at most 500"));
    assert!(err(r#"ab"cd""#).message.contains("inside a word"));
    // Text with a colon is fine quoted, and a time is not a filter.
    assert_eq!(parse(r#""re: order""#).unwrap().text.len(), 1);
    assert_eq!(parse("10:30").unwrap().text, vec![TextTerm::Word("10".into()), TextTerm::Word("30".into())]);
}

#[test]
fn folding_removes_accents_and_case_for_portuguese_german_and_french() {
    assert_eq!(fold("Vocês ENTREGAM no Sábado? Ação"), "voces entregam no sabado? acao");
    assert_eq!(fold("Größe Straße Übergabe"), "grosse strasse ubergabe");
    assert_eq!(fold("Où est ma commande? Œuvre, garçon, Noël"), "ou est ma commande? oeuvre, garcon, noel");
    assert_eq!(fold("Łódź Ørsted"), "lodz orsted");
    assert_eq!(fold("Привет"), "привет", "other scripts keep their letters, lowercased");
    let (from, to) = fold_tables();
    assert_eq!(from.chars().count(), to.chars().count());
    for (f, t) in from.chars().zip(to.chars()) {
        assert_eq!(fold(&f.to_string()), t.to_string(), "{f}");
    }
}

#[test]
fn a_snippet_marks_every_match_around_the_first_and_cuts_with_an_ellipsis() {
    let words = parse("sabado").unwrap().words();
    let text = "Olá! Vocês entregam no Sábado? Preciso do pacote até sábado à tarde.";
    let pieces = snippet(text, &words, 200);
    let hits: Vec<&str> = pieces.iter().filter(|p| p.hit).map(|p| p.text.as_str()).collect();
    assert_eq!(hits, vec!["Sábado", "sábado"]);
    assert_eq!(pieces.iter().map(|p| p.text.as_str()).collect::<String>(), text, "nothing lost when it fits");

    let long = format!("{} the parcel is late {}", "word ".repeat(100), "more ".repeat(100));
    let pieces = snippet(&long, &parse("parcel").unwrap().words(), 60);
    let joined: String = pieces.iter().map(|p| p.text.as_str()).collect();
    assert!(joined.starts_with('…') && joined.ends_with('…'), "{joined}");
    assert!(joined.chars().count() <= 62, "{joined}");
    assert!(pieces.iter().any(|p| p.hit && p.text == "parcel"));
    assert!(!joined.contains("wor …") && !joined.starts_with("…ord"), "cut at a word: {joined}");

    let none = snippet("nothing here", &["else".to_owned()], 5);
    assert_eq!(none.iter().map(|p| p.text.as_str()).collect::<String>(), "nothi…");
    assert!(snippet("", &words, 10).is_empty());
}

proptest::proptest! {
    #[test]
    fn any_input_parses_or_is_refused_and_never_reaches_the_index_as_syntax(input in "\\PC{0,80}") {
        if let Ok(q) = parse(&input) {
            for w in q.text.iter().flat_map(|t| match t { TextTerm::Word(w) => vec![w.clone()], TextTerm::Phrase(ws) => ws.clone() }) {
                proptest::prop_assert!(!w.is_empty() && w.chars().all(char::is_alphanumeric), "{:?}", w);
            }
            for p in &q.phones {
                proptest::prop_assert!(p.digits.len() >= MIN_PHONE_DIGITS && p.digits.chars().all(|c| c.is_ascii_digit()));
            }
        }
        let _ = snippet(&input, &["a".to_owned()], 20);
    }
}

#[test]
fn postgres_folds_with_the_same_table() {
    let migration = include_str!("../../../store/migrations/postgres/0023_search.sql");
    let (from, to) = fold_tables();
    assert!(migration.contains(&format!("translate(lower(t), '{from}', '{to}')")), "wd_fold's table differs from core's FOLDS");
}
