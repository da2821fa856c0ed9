//! Once per episode: the episode is the customer's window.

use proptest::prelude::*;

use super::*;

const P: WindowPolicy = WindowPolicy::WHATSAPP;

/// Feeds inbound messages (by `sent_at`, in arrival order) through the window and its episode, as
/// the store does, and returns the episode after each one.
fn episodes(sent: &[Timestamp], policy: WindowPolicy) -> Vec<WindowEpisode> {
    let mut window = CustomerWindow::default();
    let mut episode = None;
    let mut out = Vec::new();
    for at in sent {
        let next = WindowEpisode::after_inbound(episode, &window, policy, *at);
        window.record_inbound(*at, true, false);
        episode = Some(next);
        out.push(next);
    }
    out
}

fn key(episode: WindowEpisode) -> String {
    let rule = rule(7, serde_json::json!({"once_per_episode": true}));
    let c = RuleContext { window_episode: Some(episode), ..ctx(episode.started_at) };
    EpisodeKey::for_rule(&rule, &c).to_string()
}

#[test]
fn three_images_within_a_second_are_one_episode() {
    let first = berlin("2026-12-04 19:00");
    let sent = [first, first.plus(Duration::from_millis(300)), first.plus(Duration::from_millis(999))];
    let keys: Vec<String> = episodes(&sent, P).into_iter().map(key).collect();
    assert_eq!(keys, vec![format!("rule:7/ticket:4711/window:{}", first.unix_millis()); 3]);
    // Arriving out of order changes nothing: the late older image is history (W2).
    let shuffled = [sent[2], sent[0], sent[1]];
    assert_eq!(episodes(&shuffled, P), vec![WindowEpisode { started_at: sent[2] }; 3]);
}

#[test]
fn a_message_after_the_window_closed_starts_a_new_episode() {
    let first = berlin("2026-12-04 19:00");
    let sent = [
        first,
        first.plus(23 * HOUR),
        first.plus(23 * HOUR).plus(DAY).minus(Duration::from_millis(1)),
        first.plus(23 * HOUR).plus(DAY).plus(DAY),
    ];
    let e = episodes(&sent, P);
    assert_eq!(e[1], e[0], "the customer kept the window open");
    assert_eq!(e[2], e[0], "one millisecond before the refreshed window's end");
    assert_eq!(e[3], WindowEpisode { started_at: sent[3] }, "the window had closed");
    assert_ne!(key(e[3]), key(e[0]));
}

#[test]
fn w4_a_message_at_exactly_the_window_end_starts_a_new_episode() {
    let first = berlin("2026-12-04 19:00");
    let e = episodes(&[first, first.plus(DAY)], P);
    assert_eq!(e[1], WindowEpisode { started_at: first.plus(DAY) });
}

#[test]
fn a_channel_without_windows_has_one_long_episode() {
    let first = berlin("2026-12-04 19:00");
    let e = episodes(&[first, first.plus(30 * DAY)], WindowPolicy::UNLIMITED);
    assert_eq!(e[1], e[0]);
}

#[test]
fn a_window_kept_from_before_episodes_were_stored_starts_at_its_last_message() {
    let last = berlin("2026-12-04 19:00");
    let next = WindowEpisode::after_inbound(None, &window_since(last), P, last.plus(HOUR));
    assert_eq!(next, WindowEpisode { started_at: last });
}

#[test]
fn solved_ticket_rules_count_per_solve_and_rules_without_a_window_per_ticket() {
    let auto_close = defaults::auto_close_solved().validate(4).unwrap();
    let now = berlin("2026-12-04 19:00");
    let solved_at = now.minus(5 * DAY);
    let c = RuleContext { event: Event::Automation, status: TicketStatus::Solved, solved_at: Some(solved_at), ..ctx(now) };
    assert_eq!(Episode::for_rule(&auto_close, &c), Episode::Solved(solved_at));
    assert_eq!(EpisodeKey::for_rule(&auto_close, &c).episode, format!("solved:{}", solved_at.unix_millis()));
    let plain = rule(1, serde_json::json!({}));
    let no_window = RuleContext { window_episode: None, window: CustomerWindow::default(), ..ctx(now) };
    assert_eq!(EpisodeKey::for_rule(&plain, &no_window).to_string(), "rule:1/ticket:4711/ticket");
}

proptest! {
    /// A new episode starts exactly when the previous message's window had closed (gaps of 24 h or
    /// more), whatever the gaps.
    #[test]
    fn episodes_start_exactly_after_a_closed_window(gaps in proptest::collection::vec(0i64..(2 * 86_400_000), 1..30)) {
        let mut at = berlin("2026-12-04 19:00");
        let mut sent = vec![at];
        for gap in &gaps {
            at = Timestamp::from_unix_millis(at.unix_millis() + gap);
            sent.push(at);
        }
        let e = episodes(&sent, P);
        for i in 1..sent.len() {
            let gap = sent[i - 1].millis_until(sent[i]);
            let new_episode = gap >= 86_400_000;
            if new_episode {
                prop_assert_eq!(e[i], WindowEpisode { started_at: sent[i] });
            } else {
                prop_assert_eq!(e[i], e[i - 1]);
            }
        }
    }
}
