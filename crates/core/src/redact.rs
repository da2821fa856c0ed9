//! Payment card numbers out of customer text (SPEC I8), before anything is stored.
//!
//! A card number is 13–19 digits, optionally grouped with single spaces or dashes, that passes the Luhn
//! check. All but its last four digits are replaced by `*`, separators kept, so an agent still sees
//! "the card ending 1111" and nobody can read the rest.

/// Returns `None` when the text holds no card number (the common case allocates nothing).
pub fn redact_card_numbers(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A run: digits separated by single spaces or dashes, as groups.
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            groups.push((start, j));
            if j + 1 < bytes.len() && matches!(bytes[j], b' ' | b'-') && bytes[j + 1].is_ascii_digit() {
                j += 1;
            } else {
                break;
            }
        }
        for (start, end) in card_spans(bytes, &groups) {
            let buf = out.get_or_insert_with(|| bytes.to_vec());
            mask_all_but_last_four(buf, start, end);
        }
        i = j;
    }
    // Only ASCII digits were replaced by ASCII '*', so the bytes are still valid UTF-8.
    out.map(|b| String::from_utf8(b).unwrap_or_default())
}

/// Spans (byte ranges) of Luhn-valid 13–19 digit numbers within a run, aligned on group boundaries,
/// leftmost-longest, not overlapping.
fn card_spans(bytes: &[u8], groups: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut g = 0;
    while g < groups.len() {
        let mut found = None;
        let mut digits = 0;
        for (h, group) in groups.iter().enumerate().skip(g) {
            digits += group.1 - group.0;
            if digits > 19 {
                break;
            }
            if digits >= 13 && luhn_valid(bytes, groups[g].0, group.1) {
                found = Some(h);
            }
        }
        match found {
            Some(h) => {
                spans.push((groups[g].0, groups[h].1));
                g = h + 1;
            }
            None => g += 1,
        }
    }
    spans
}

fn luhn_valid(bytes: &[u8], start: usize, end: usize) -> bool {
    let mut sum = 0u32;
    let mut double = false;
    for &b in bytes[start..end].iter().rev() {
        if !b.is_ascii_digit() {
            continue;
        }
        let mut d = u32::from(b - b'0');
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
    }
    sum.is_multiple_of(10)
}

fn mask_all_but_last_four(buf: &mut [u8], start: usize, end: usize) {
    let mut seen = 0;
    for b in buf[start..end].iter_mut().rev() {
        if b.is_ascii_digit() {
            seen += 1;
            if seen > 4 {
                *b = b'*';
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn i8_redacts_plain_spaced_and_dashed_card_numbers_keeping_last_four() {
        assert_eq!(redact_card_numbers("card 4111111111111111 ok").as_deref(), Some("card ************1111 ok"));
        assert_eq!(redact_card_numbers("4111 1111 1111 1111").as_deref(), Some("**** **** **** 1111"));
        assert_eq!(redact_card_numbers("4111-1111-1111-1111.").as_deref(), Some("****-****-****-1111."));
        // Amex, 15 digits.
        assert_eq!(redact_card_numbers("3782 822463 10005").as_deref(), Some("**** ****** *0005"));
    }

    #[test]
    fn i8_leaves_non_luhn_and_wrong_length_numbers() {
        assert_eq!(redact_card_numbers("4111111111111112"), None, "Luhn-invalid");
        assert_eq!(redact_card_numbers("order 123456789012"), None, "12 digits");
        assert_eq!(redact_card_numbers("call +972 987 654 321"), None);
        assert_eq!(redact_card_numbers("41111111111111111111"), None, "20 digits in one block");
        assert_eq!(redact_card_numbers("no digits here"), None);
    }

    #[test]
    fn i8_finds_a_card_next_to_other_numbers() {
        assert_eq!(redact_card_numbers("ref 12 4111 1111 1111 1111").as_deref(), Some("ref 12 **** **** **** 1111"));
        assert_eq!(
            redact_card_numbers("a 4111111111111111 and 5500-0000-0000-0004").as_deref(),
            Some("a ************1111 and ****-****-****-0004")
        );
    }

    #[test]
    fn i8_keeps_non_ascii_text_intact() {
        assert_eq!(redact_card_numbers("💳 4111111111111111 — merci").as_deref(), Some("💳 ************1111 — merci"));
    }

    proptest! {
        #[test]
        fn redaction_never_leaves_a_luhn_valid_card(prefix in "[a-z ]{0,10}", body in proptest::collection::vec(0u8..10, 12..18), sep in prop_oneof![Just(""), Just(" "), Just("-")]) {
            // Make a Luhn-valid number by choosing the check digit.
            let mut digits = body.clone();
            for check in 0..10u8 {
                digits.push(check);
                let s: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
                if luhn_valid(s.as_bytes(), 0, s.len()) { break; }
                digits.pop();
            }
            let plain: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
            let grouped: String = plain.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect::<Vec<_>>().join(sep);
            let text = format!("{prefix}{grouped}");
            let redacted = redact_card_numbers(&text).unwrap_or_else(|| text.clone());
            let kept: String = redacted.chars().filter(char::is_ascii_digit).collect();
            prop_assert_eq!(kept.as_str(), &plain[plain.len() - 4..], "only the last four digits survive: {}", redacted);
        }
    }
}
