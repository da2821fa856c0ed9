//! Issue 13's scenario: Mon-Fri 09-17 in Berlin; a customer writes on Friday at 19:00, three images at
//! once. The shipped defaults answer once, with the outside-hours variant naming the ticket and Monday
//! 09:00; issue 14's holding message goes out once on Saturday before the window closes at 19:00.

use super::*;
use crate::placeholder::PlaceholderContext;

fn shipped() -> Vec<Rule> {
    default_rules().into_iter().zip(1..).map(|(d, id)| d.validate(id).unwrap()).collect()
}

/// The placeholder values the server would give, for the ticket in `ctx`.
fn values(c: &RuleContext<'_>) -> PlaceholderContext {
    PlaceholderContext {
        ticket_id: Some(c.ticket_id.to_string()),
        requester_name: Some("Ana López".into()),
        window_expires_at: c.window.window_end(c.policy),
        business_hours_next_open: c.next_business_open(),
        time_zone: BERLIN,
        now: c.now,
        ..PlaceholderContext::default()
    }
}

struct Inbound {
    window: CustomerWindow,
    episode: Option<WindowEpisode>,
}

impl Inbound {
    /// One customer message, as ingest records it: the episode advances with the window.
    fn receive(&mut self, sent_at: Timestamp) {
        self.episode = Some(WindowEpisode::after_inbound(self.episode, &self.window, WindowPolicy::WHATSAPP, sent_at));
        self.window.record_inbound(sent_at, true, false);
    }
}

#[test]
fn friday_19_00_gets_the_outside_hours_auto_reply_once_with_the_ticket_and_monday_09_00() {
    let rules = shipped();
    let hours = office_hours();
    let friday = berlin("2026-12-04 19:00");
    let images = [friday, friday.plus(Duration::from_millis(400)), friday.plus(Duration::from_millis(900))];
    let mut inbound = Inbound { window: CustomerWindow::default(), episode: None };
    let mut fired = Vec::new();
    for (i, sent_at) in images.into_iter().enumerate() {
        inbound.receive(sent_at);
        let c = RuleContext {
            event: Event::MessageReceived,
            status: TicketStatus::New,
            created_at: friday,
            first_message: i == 0,
            window: inbound.window,
            window_episode: inbound.episode,
            schedule: Some(&hours),
            ..ctx(sent_at.plus(Duration::from_millis(50)))
        };
        for firing in evaluate(&rules, &c) {
            let Some(planned) = plan_send(&firing.actions()[0], &c, &values(&c)) else { panic!("the auto-reply sends") };
            fired.push((firing.rule.name.clone(), firing.episode.clone(), planned));
        }
        // Even if ingest took every image for the first message, the episode key is the same.
        let all_first = RuleContext { first_message: true, ..c };
        let keys: Vec<_> = evaluate(&rules, &all_first).into_iter().filter_map(|f| f.episode).collect();
        assert_eq!(keys, [EpisodeKey::new(2, 4711, Episode::Window(WindowEpisode { started_at: friday }))]);
    }
    assert_eq!(fired.len(), 1, "one auto-reply for three images: {fired:?}");
    let (name, episode, planned) = &fired[0];
    assert_eq!(name, "Auto-reply: first message, outside business hours");
    assert_eq!(episode.as_ref().map(ToString::to_string), Some(format!("rule:2/ticket:4711/window:{}", friday.unix_millis())));
    let PlannedSend::FreeForm { text } = planned else { panic!("the window is open: {planned:?}") };
    assert_eq!(
        text,
        "Hi Ana, thanks for your message! Your ticket number is 4711. Our team is away right now and back Monday 09:00; \
         we'll answer you then."
    );
    // What the ticket shows: the window closes Saturday 19:00, outside business hours; back Monday 09:00.
    let shown = hours.window_hours(friday, inbound.window.window_end(WindowPolicy::WHATSAPP));
    assert!(shown.closes_outside_business_hours);
    assert_eq!(shown.business_time_left, Duration::ZERO);
    assert_eq!(shown.next_business_open, Some(berlin("2026-12-07 09:00")));
    assert_eq!(hours.format_local(friday.plus(DAY), friday), "Saturday 19:00");
}

#[test]
fn during_business_hours_the_first_message_gets_the_plain_auto_reply() {
    let rules = shipped();
    let hours = office_hours();
    let thursday = berlin("2026-12-03 10:00");
    let c = RuleContext { first_message: true, schedule: Some(&hours), ..ctx(thursday) };
    let fired = evaluate(&rules, &c);
    assert_eq!(fired.iter().map(|f| f.rule.id).collect::<Vec<_>>(), [1]);
    let Some(PlannedSend::FreeForm { text }) = plan_send(&fired[0].actions()[0], &c, &values(&c)) else { panic!("free-form") };
    assert_eq!(text, "Hi Ana, thanks for your message! Your ticket number is 4711. We'll get back to you shortly.");
}

#[test]
fn the_holding_message_goes_out_on_saturday_before_the_window_closes_once_per_episode() {
    let rules = shipped();
    let hours = office_hours();
    let friday = berlin("2026-12-04 19:00");
    let mut inbound = Inbound { window: CustomerWindow::default(), episode: None };
    inbound.receive(friday);
    let sweep = |at: Timestamp, inbound: &Inbound| RuleContext {
        event: Event::Automation,
        created_at: friday,
        window: inbound.window,
        window_episode: inbound.episode,
        schedule: Some(&hours),
        ..ctx(at)
    };
    let holding = |c: &RuleContext<'_>| evaluate(&rules, c).into_iter().filter(|f| f.rule.id == 3).collect::<Vec<_>>();
    assert!(holding(&sweep(berlin("2026-12-04 19:01"), &inbound)).is_empty(), "not right after the message");
    assert!(holding(&sweep(berlin("2026-12-05 18:30"), &inbound)).is_empty(), "30 minutes left is not less than 30");
    let at = berlin("2026-12-05 18:31");
    let due = holding(&sweep(at, &inbound));
    assert_eq!(due.len(), 1);
    let c = sweep(at, &inbound);
    let Some(PlannedSend::FreeForm { text }) = plan_send(&due[0].actions()[0], &c, &values(&c)) else { panic!("inside the window") };
    assert!(text.contains("ticket 4711") && text.contains("back Monday 09:00"), "{text}");
    let key = due[0].episode.clone();
    assert!(holding(&sweep(berlin("2026-12-05 19:00"), &inbound)).is_empty(), "closed at 19:00: never free-form after it");
    // The customer answers on Saturday evening: same window episode, so the store refuses a second
    // holding message for it when the refreshed window nears its end on Sunday.
    inbound.receive(berlin("2026-12-05 18:40"));
    let sunday = holding(&sweep(berlin("2026-12-06 18:20"), &inbound));
    assert_eq!(sunday.len(), 1, "the conditions hold again");
    assert_eq!(sunday[0].episode, key, "but it is the same episode: the unique key stops it");
}
