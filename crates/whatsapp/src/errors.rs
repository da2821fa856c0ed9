//! Meta's error codes, sorted into what the desk does about them (SPEC D3).

use serde::Serialize;

/// What an error means for a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// `131047`: the customer service window is closed. The message fails with the same ways out as a
    /// blocked one (template, SMS, hold).
    WindowClosed,
    /// Throughput, pair rate, Meta-side trouble, 5xx, timeouts: retry with backoff, within the window.
    Transient,
    /// Nothing a retry can fix. `auth` marks the business number as needing attention.
    Permanent { auth: bool },
}

/// Classifies an error by Meta's code, falling back on the HTTP status when the body had none.
pub fn classify(code: Option<i64>, http_status: Option<u16>) -> ErrorClass {
    match code {
        Some(131_047) => ErrorClass::WindowClosed,
        Some(130_429 | 131_056 | 131_000 | 131_016 | 4 | 80_007 | 2 | 1) => ErrorClass::Transient,
        Some(0 | 190 | 3 | 10 | 200..=299) => ErrorClass::Permanent { auth: true },
        Some(_) => ErrorClass::Permanent { auth: false },
        None => match http_status {
            Some(401 | 403) => ErrorClass::Permanent { auth: true },
            Some(429) | Some(500..=599) | None => ErrorClass::Transient,
            Some(_) => ErrorClass::Permanent { auth: false },
        },
    }
}

/// A sentence an agent understands, for the failure badge.
pub fn human_reason(code: i64) -> &'static str {
    match code {
        131_047 => "The 24-hour customer service window is closed: only an approved template can reach this customer now.",
        130_429 => "Meta's throughput limit for this number was reached; the desk retries.",
        131_056 => "Too many messages to this customer in a short time (pair rate limit); the desk retries.",
        131_000 | 1 | 2 => "Meta reported an internal error; the desk retries.",
        131_016 => "WhatsApp is temporarily unavailable; the desk retries.",
        131_026 => "The message could not be delivered: the number may not be on WhatsApp, or has not accepted the latest terms.",
        131_050 => "The customer has stopped marketing messages from this business.",
        131_051 => "WhatsApp does not support this message type.",
        131_052 | 131_053 => "The media could not be downloaded or uploaded.",
        131_008 => "A required template parameter is missing.",
        131_009 => "A parameter value is not valid.",
        131_031 => "This WhatsApp Business account is locked.",
        131_042 => "There is a payment problem with the WhatsApp Business account.",
        130_472 => "The customer's number is part of a Meta experiment and cannot receive this message.",
        132_000 => "The number of template parameters does not match the template.",
        132_001 => "The template does not exist in this language, or is not approved.",
        132_005 => "The template text is too long once the parameters are filled in.",
        132_007 => "The template breaks a WhatsApp formatting policy.",
        132_012 => "A template parameter has the wrong format.",
        132_015 => "The template is paused because of low quality.",
        132_016 => "The template is disabled.",
        133_010 => "The business phone number is not registered with WhatsApp.",
        0 | 190 => "The access token is invalid or expired: an admin must update the business number's token.",
        3 | 10 | 200..=299 => "The access token lacks a permission this send needs.",
        368 => "The business number is temporarily blocked for policy violations.",
        _ => "Meta refused the message.",
    }
}

/// SPEC D2: why a message did not reach the customer, in words. The one mapping from what is stored
/// about a failure (Meta's code and title, whether Meta refused the send at once or reported a `failed`
/// status later, or the desk's own reason) to the sentence the API, the ticket page and the Failed
/// deliveries list show. A `131047` reads "window closed" on every path, never Meta's bare title
/// ("Re-engagement message").
pub fn failure_reason(code: Option<i64>, title: Option<&str>, state: windowdesk_core::DeliveryState) -> String {
    if state == windowdesk_core::DeliveryState::Blocked {
        return "Not sent: the customer service window closed before it could go out.".to_owned();
    }
    let generic = human_reason(-1);
    match (code, title) {
        (Some(code), title) => {
            let human = human_reason(code);
            let words = if human == generic { title.unwrap_or(human) } else { human };
            format!("{words} (error {code})")
        }
        (None, Some(t)) => t.to_owned(),
        (None, None) => generic.to_owned(),
    }
}

/// What an agent can do about a failed message, for the failure badge.
pub fn what_to_do(code: Option<i64>) -> &'static str {
    match code.map(|c| classify(Some(c), None)) {
        Some(ErrorClass::WindowClosed) => {
            "Wait for the customer to write again (the window reopens), or reach them with an approved template."
        }
        Some(ErrorClass::Transient) => "The desk gave up after retrying; send it again later.",
        Some(ErrorClass::Permanent { auth: true }) => "An admin must fix the business number's access token; then send it again.",
        Some(ErrorClass::Permanent { auth: false }) | None => match code {
            Some(131_026) => "Check the customer's number, or reach them another way (SMS, email, phone).",
            Some(131_050) => "Do not send marketing; answer only when the customer writes.",
            _ => "Read the reason, change the message if needed, and send it again.",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn d3_error_classes() {
        assert_eq!(classify(Some(131_047), Some(400)), ErrorClass::WindowClosed);
        for transient in [130_429, 131_056, 131_000, 131_016] {
            assert_eq!(classify(Some(transient), Some(400)), ErrorClass::Transient, "{transient}");
        }
        for permanent in [131_026, 131_050, 130_403, 132_000, 132_001, 132_012, 132_016, 131_051] {
            assert_eq!(classify(Some(permanent), Some(400)), ErrorClass::Permanent { auth: false }, "{permanent}");
        }
        assert_eq!(classify(Some(0), Some(401)), ErrorClass::Permanent { auth: true });
        assert_eq!(classify(Some(190), Some(401)), ErrorClass::Permanent { auth: true });
        assert_eq!(classify(None, Some(503)), ErrorClass::Transient);
        assert_eq!(classify(None, None), ErrorClass::Transient, "a timeout has no status");
        assert_eq!(classify(None, Some(401)), ErrorClass::Permanent { auth: true });
        assert_eq!(classify(None, Some(404)), ErrorClass::Permanent { auth: false });
    }

    #[test]
    fn d2_a_window_closed_failure_reads_the_same_whatever_title_meta_gave() {
        use windowdesk_core::DeliveryState::{Blocked, Failed};
        let late = failure_reason(Some(131_047), Some("Re-engagement message"), Failed);
        let at_once = failure_reason(Some(131_047), Some("(#131047) Re-engagement message"), Failed);
        assert_eq!(late, at_once);
        assert!(late.contains("window is closed") && !late.contains("Re-engagement"), "{late}");
        assert!(failure_reason(None, None, Blocked).contains("window closed"));
        // An unknown code keeps Meta's words; a failure without a code keeps the desk's own.
        assert_eq!(failure_reason(Some(999_999), Some("Odd"), Failed), "Odd (error 999999)");
        assert_eq!(failure_reason(None, Some("held reply expired"), Failed), "held reply expired");
    }

    #[test]
    fn reasons_are_human() {
        assert!(human_reason(131_047).contains("24-hour"));
        assert!(human_reason(190).contains("token"));
        assert_eq!(human_reason(999_999), "Meta refused the message.");
    }
}
