//! When an automation is due, and whether it still is when its time comes (issue 14 items 1–2).
//!
//! **Due.** An automation's conditions are a function of the ticket's facts (status, tags, window,
//! when the customer last wrote...) and of time. Between two changes of the facts, only time moves,
//! and each condition changes its truth only at a few instants it can name: `time_since_created >
//! 60` at creation + 60 min + 1 ms, `window_time_left < 30` at the send deadline − 30 min + 1 ms,
//! `within_business_hours` at the schedule's openings and closings, `business_time_left` where the
//! open time left crosses its minutes, and so on. [`due_between`] collects those instants and
//! evaluates the conditions at each, in order, with the same [`Conditions::hold`] the triggers use:
//! the first instant at which they hold is when the automation is due. No polling interval decides
//! the time a holding message goes out; the sweep only has to look often enough to arm it before.
//!
//! **Still due?** An armed execution is checked again when its time comes ([`recheck`]): the rule
//! must still be switched on and unchanged, the episode must be the one it was armed for (the
//! customer did not write again, the ticket was not solved again), the conditions must hold now,
//! and it must not be overdue by more than the desk's limit (after downtime, executions are skipped
//! as expired rather than replayed in a burst). Each refusal is a [`Verdict`] with its reason.
//!
//! [`Conditions::hold`]: super::Conditions::hold

use std::time::Duration;

use serde::Serialize;

use super::eval::RuleContext;
use super::{Condition, Episode, EpisodeKey, Event, Rule};
use crate::hours::or_always_open;
use crate::time::Timestamp;

const MS: Duration = Duration::from_millis(1);

fn minutes(m: i64) -> Duration {
    Duration::from_secs(u64::try_from(m).unwrap_or(0).saturating_mul(60))
}

/// The instants in `[since, until]` at which `condition` may change its truth for the frozen facts of
/// `ctx` (a superset: extra instants cost an evaluation, missing ones would be a bug).
fn boundaries(condition: &Condition, ctx: &RuleContext<'_>, since: Timestamp, until: Timestamp, out: &mut Vec<Timestamp>) {
    let schedule = or_always_open(ctx.schedule);
    let transitions = |out: &mut Vec<Timestamp>| {
        for t in schedule.transitions(since, until) {
            out.extend([t, t.plus(MS)]);
        }
    };
    let deadline = ctx.window.send_deadline(ctx.policy).filter(|_| ctx.policy.csw.is_some());
    if let Some((from, _, m, business_hours)) = condition.time_since() {
        let Some(at) = from.instant(ctx) else { return };
        let reached = if business_hours { schedule.after_business_time(at, minutes(m)) } else { Some(at.plus(minutes(m))) };
        out.push(at);
        out.extend(reached.into_iter().flat_map(|t| [t, t.plus(MS)]));
        if business_hours {
            transitions(out);
        }
        return;
    }
    match condition {
        Condition::WithinBusinessHours { .. } => transitions(out),
        Condition::Window { .. } => out.extend(deadline),
        Condition::WindowTimeLeft { minutes: m, .. } => {
            if let Some(d) = deadline {
                let before = d.minus(minutes(*m));
                out.extend([before, before.plus(MS), d]);
            }
        }
        Condition::BusinessTimeLeft { .. } | Condition::WindowClosesBeforeTeamIsBack { .. } => {
            let Some(d) = deadline else { return };
            out.push(d);
            transitions(out);
            // Business time left falls one for one while open: where it crosses `m` inside an open
            // stretch starting at `p`.
            let m = match condition {
                Condition::BusinessTimeLeft { minutes: m, .. } => minutes(*m),
                _ => Duration::ZERO,
            };
            let mut starts = vec![since];
            starts.extend(schedule.transitions(since, until.min(d)));
            for p in starts.into_iter().filter(|p| schedule.is_open(*p)) {
                let left = schedule.business_time_between(p, d);
                if left >= m {
                    let t = p.plus(left - m);
                    out.extend([t, t.plus(MS)]);
                }
            }
        }
        _ => {}
    }
}

/// The first instant in `[since, until]` at which `rule`'s conditions hold for a ticket whose facts
/// are those of `ctx` throughout (only `ctx.now` moves); `None` when there is none. `since` is
/// typically the last change of the ticket: before it, the facts were different.
///
/// Only automations are ever due: a switched-off rule, or one on an event, never is.
pub fn due_between(rule: &Rule, ctx: &RuleContext<'_>, since: Timestamp, until: Timestamp) -> Option<Timestamp> {
    if !rule.enabled || rule.event != Event::Automation || until < since {
        return None;
    }
    let mut at = *ctx;
    at.event = Event::Automation;
    at.caused_by_rule = false;
    let holds = |t: Timestamp| {
        let mut c = at;
        c.now = t;
        rule.conditions.hold(&c)
    };
    // Conditions that do not depend on time decide alone, before any instant is worked out.
    let static_fails = rule.conditions.all.iter().any(|c| {
        !depends_on_time(c)
            && !{
                let mut c0 = at;
                c0.now = since;
                c.holds(&c0)
            }
    });
    if static_fails {
        return None;
    }
    let mut candidates = vec![since];
    for (_, condition) in rule.conditions.with_paths() {
        boundaries(condition, &at, since, until, &mut candidates);
    }
    candidates.retain(|t| since <= *t && *t <= until);
    candidates.sort_unstable();
    candidates.dedup();
    candidates.into_iter().find(|t| holds(*t))
}

/// Whether a condition's truth can change while the ticket's facts stay the same.
fn depends_on_time(c: &Condition) -> bool {
    c.time_since().is_some()
        || matches!(
            c,
            Condition::WithinBusinessHours { .. }
                | Condition::Window { .. }
                | Condition::WindowTimeLeft { .. }
                | Condition::BusinessTimeLeft { .. }
                | Condition::WindowClosesBeforeTeamIsBack { .. }
        )
}

/// An automation due for a ticket: when, and the episode it counts against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub at: Timestamp,
    pub episode: EpisodeKey,
}

/// [`due_between`] with the episode the firing would count against.
pub fn due(rule: &Rule, ctx: &RuleContext<'_>, since: Timestamp, until: Timestamp) -> Option<Due> {
    let at = due_between(rule, ctx, since, until)?;
    Some(Due { at, episode: EpisodeKey::new(rule.id, ctx.ticket_id, Episode::for_rule(rule, ctx)) })
}

/// What the sweep looks at for one ticket: from when, to when. Facts older than `changed_at` are
/// not known, a rule saved at `rule_saved_at` applies from then (a new rule does not fire for what
/// happened before it existed, nor is it late for it), and nothing is looked for further back than
/// just beyond the overdue limit: an execution due earlier would be skipped as expired anyway, and
/// one found at that instant is (it is overdue by more than the limit).
pub fn sweep_range(
    changed_at: Timestamp,
    rule_saved_at: Timestamp,
    now: Timestamp,
    overdue_limit: Duration,
    lookahead: Duration,
) -> (Timestamp, Timestamp) {
    let floor = now.minus(overdue_limit).minus(MS);
    (changed_at.max(rule_saved_at).max(floor), now.plus(lookahead))
}

/// What happens to an armed execution when its time comes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Run the actions.
    Fire,
    /// Not now: the execution is not due yet (armed ahead, or it moved later).
    NotYet { due_at: Timestamp },
    /// Recorded and dropped, with the reason.
    Skip { reason: String },
    /// Overdue by more than the limit (the desk was down, or far behind): recorded, not run.
    Expired { overdue: String },
}

/// The armed execution, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Armed {
    pub episode: String,
    pub due_at: Timestamp,
}

/// Whether an armed execution of `rule` runs at `ctx.now`, given the ticket as it is now. `rule` is
/// `None` when it was deleted.
pub fn recheck(rule: Option<&Rule>, ctx: &RuleContext<'_>, armed: &Armed, overdue_limit: Duration) -> Verdict {
    let Some(rule) = rule else { return Verdict::Skip { reason: "the rule was deleted".into() } };
    if !rule.enabled {
        return Verdict::Skip { reason: "the rule was switched off".into() };
    }
    if rule.event != Event::Automation {
        return Verdict::Skip { reason: "the rule is no longer an automation".into() };
    }
    let episode = Episode::for_rule(rule, ctx).as_key();
    if episode != armed.episode {
        return Verdict::Skip { reason: format!("episode moved: armed for {}, now {episode}", armed.episode) };
    }
    let mut now = *ctx;
    now.event = Event::Automation;
    now.caused_by_rule = false;
    if !rule.conditions.hold(&now) {
        // Still to come later in the same episode (the customer's window moved on): wait for it.
        if let Some(later) = due_between(rule, &now, now.now, now.now.plus(Duration::from_secs(MAX_WAIT_SECS))) {
            return Verdict::NotYet { due_at: later };
        }
        let failing: Vec<String> =
            rule.conditions.with_paths().filter(|(_, c)| !c.holds(&now)).map(|(path, c)| format!("{path} ({})", c.field())).collect();
        return Verdict::Skip { reason: format!("conditions no longer hold: {}", failing.join(", ")) };
    }
    let overdue = Duration::from_millis(u64::try_from(armed.due_at.millis_until(ctx.now)).unwrap_or(0));
    if overdue > overdue_limit {
        return Verdict::Expired { overdue: human(overdue) };
    }
    Verdict::Fire
}

/// How far ahead [`recheck`] looks for a later due time within the same episode: the longest wait a
/// condition can express (30 days) plus a day.
const MAX_WAIT_SECS: u64 = (super::MAX_MINUTES as u64 + 24 * 60) * 60;

/// `3 h 12 min`, `45 s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}
