//! Saving a rule: every refusal names the field path, and the JSON shape is stable.

use super::*;
use crate::placeholder::PlaceholderError;

fn refused(json: serde_json::Value) -> InvalidRule {
    draft(json).validate(1).unwrap_err()
}

fn paths(err: &InvalidRule) -> Vec<&str> {
    err.errors.iter().map(|e| e.path.as_str()).collect()
}

#[test]
fn an_unknown_placeholder_is_refused_naming_the_action_the_field_and_the_token() {
    let err = refused(serde_json::json!({
        "name": "Typo",
        "event": "message_received",
        "actions": [
            {"type": "add_tags", "tags": ["x"]},
            {"type": "reply", "text": "Ticket {{ticket.idd}} is open"}
        ]
    }));
    assert_eq!(paths(&err), ["actions[1].text"]);
    let message = err.to_string();
    assert!(message.starts_with("actions[1].text: unknown placeholder {{ticket.idd}} at character 8"), "{message}");
    assert!(message.contains("did you mean {{ticket.id}}?"), "{message}");
    assert!(
        matches!(&err.errors[0].problem, RuleProblem::Placeholder(PlaceholderError::Unknown { token, .. }) if token == "{{ticket.idd}}")
    );
}

#[test]
fn every_text_of_every_action_is_checked() {
    let err = refused(serde_json::json!({
        "name": "Broken texts",
        "event": "ticket_created",
        "actions": [
            {"type": "reply", "text": "ok", "when_closed": {"kind": "template", "name": "t", "language": "en", "params": {"1": "{{firstName", "2": "{{ticket.id}}"}}},
            {"type": "reply", "text": "ok", "when_closed": {"kind": "sms", "text": "Your order {{1}}"}},
            {"type": "send_template", "name": "t", "language": "en", "params": {"name": "{{}}"}},
            {"type": "send_sms", "text": "}} oops"},
            {"type": "hold_reply", "text": "{{agent.nme}}", "hours": 24},
            {"type": "internal_note", "text": "{{ticket.urll}}"},
            {"type": "notify_agent", "agent_id": 3, "text": "{{ business.nam }}"}
        ]
    }));
    assert_eq!(
        paths(&err),
        [
            "actions[0].when_closed.params.1",
            "actions[1].when_closed.text",
            "actions[2].params.name",
            "actions[3].text",
            "actions[4].text",
            "actions[5].text",
            "actions[6].text"
        ]
    );
    assert!(err.to_string().contains("actions[1].when_closed.text: numbered placeholder {{1}} at character 12"), "{err}");
    assert!(err.to_string().contains("actions[0].when_closed.params.1: unclosed {{ at character 1"), "{err}");
}

#[test]
fn empty_names_lists_tags_and_texts_are_refused() {
    let err = refused(serde_json::json!({
        "name": "  ",
        "event": "message_received",
        "conditions": {
            "all": [
                {"field": "tags", "op": "include_any", "tags": ["vip", " "]},
                {"field": "status", "op": "is", "values": []},
                {"field": "message_text", "op": "contains_any", "words": []}
            ],
            "any": [{"field": "business_number", "op": "is", "ids": []}]
        },
        "actions": [
            {"type": "add_tags", "tags": ["ok", ""]},
            {"type": "remove_tags", "tags": []},
            {"type": "reply", "text": "   "},
            {"type": "send_template", "name": "", "language": "en", "params": {" ": "x"}}
        ]
    }));
    assert_eq!(
        paths(&err),
        [
            "name",
            "conditions.all[0].tags[1]",
            "conditions.all[1].values",
            "conditions.all[2].words",
            "conditions.any[0].ids",
            "actions[0].tags[1]",
            "actions[1].tags",
            "actions[2].text",
            "actions[3].name",
            "actions[3].params"
        ]
    );
    assert!(err.errors[..9].iter().all(|e| e.problem == RuleProblem::Empty));
    assert_eq!(err.errors[9].problem, RuleProblem::BlankParameterName);
    assert!(err.to_string().starts_with("name: must not be empty; conditions.all[0].tags[1]: must not be empty"), "{err}");
}

#[test]
fn a_rule_without_actions_is_refused() {
    let err = refused(serde_json::json!({"name": "Nothing", "event": "ticket_created", "actions": []}));
    assert_eq!(err.to_string(), "actions: a rule needs at least one action");
}

#[test]
fn an_automation_without_conditions_is_refused() {
    let err =
        refused(serde_json::json!({"name": "Everything", "event": "automation", "actions": [{"type": "set_status", "status": "closed"}]}));
    assert_eq!(err.to_string(), "conditions: an automation needs at least one condition, or it acts on every open ticket");
}

#[test]
fn minutes_and_hours_must_make_sense() {
    let err = refused(serde_json::json!({
        "name": "Times",
        "event": "automation",
        "conditions": {"all": [
            {"field": "window_time_left", "op": "less_than", "minutes": 0},
            {"field": "business_time_left", "op": "less_than", "minutes": -5},
            {"field": "time_since_created", "op": "more_than", "minutes": 43_201},
            {"field": "time_since_solved", "op": "more_than", "minutes": 43_200},
            {"field": "time_since_last_customer_message", "op": "more_than", "minutes": 1}
        ]},
        "actions": [{"type": "hold_reply", "text": "Later", "hours": 0}, {"type": "hold_reply", "text": "Later", "hours": 721}]
    }));
    assert_eq!(
        err.to_string(),
        "conditions.all[0].minutes: must be at least 1 minute, not 0; conditions.all[1].minutes: must be at least 1 minute, not -5; \
         conditions.all[2].minutes: must be at most 43200 minutes (30 days), not 43201; actions[0].hours: must be at least 1 hour, not 0; \
         actions[1].hours: must be at most 720 hours (30 days), not 721"
    );
}

#[test]
fn an_assignee_condition_names_an_agent_exactly_when_it_needs_one() {
    let err = refused(serde_json::json!({
        "name": "Assignees",
        "event": "ticket_updated",
        "conditions": {"all": [
            {"field": "assignee", "op": "is"},
            {"field": "assignee", "op": "unassigned", "agent_id": 4},
            {"field": "assignee", "op": "is_not", "agent_id": 4}
        ]},
        "actions": [{"type": "unassign"}]
    }));
    assert_eq!(
        err.to_string(),
        "conditions.all[0].agent_id: `is` needs an agent_id; conditions.all[1].agent_id: `unassigned` takes no agent_id"
    );
}

#[test]
fn unknown_types_and_fields_are_refused_when_read() {
    for json in [
        serde_json::json!({"name": "x", "event": "ticket_exploded", "actions": []}),
        serde_json::json!({"name": "x", "event": "ticket_created", "actions": [{"type": "launch_rocket"}]}),
        serde_json::json!({"name": "x", "event": "ticket_created", "actions": [{"type": "reply", "text": "a", "when_closed": {"kind": "pray"}}]}),
        serde_json::json!({"name": "x", "event": "ticket_created", "actions": [{"type": "set_status", "status": "open", "extra": 1}]}),
        serde_json::json!({"name": "x", "event": "ticket_created", "color": "red", "actions": []}),
    ] {
        assert!(serde_json::from_value::<RuleDraft>(json.clone()).is_err(), "{json}");
    }
}

#[test]
fn a_saved_rule_keeps_the_drafts_json_shape_plus_its_id() {
    let written = serde_json::json!({
        "name": "Refunds to billing",
        "enabled": true,
        "position": 5,
        "event": "message_received",
        "once_per_episode": false,
        "conditions": {
            "all": [
                {"field": "message_text", "op": "contains_any", "words": ["refund", "money back"]},
                {"field": "assignee", "op": "unassigned"}
            ],
            "any": [
                {"field": "window_time_left", "op": "less_than", "minutes": 120},
                {"field": "priority", "op": "is", "values": ["high", "urgent"]}
            ]
        },
        "actions": [
            {"type": "reply", "text": "Hi {{firstName || there}}, ticket {{ticket.id}}", "when_closed": {"kind": "template", "name": "refund_received", "language": "en", "params": {"1": "{{ticket.id}}"}}},
            {"type": "reply", "text": "Still there?", "when_closed": {"kind": "hold"}},
            {"type": "send_sms", "text": "See WhatsApp"},
            {"type": "hold_reply", "text": "Back soon", "hours": 48},
            {"type": "set_status", "status": "pending"},
            {"type": "set_priority", "priority": "high"},
            {"type": "add_tags", "tags": ["billing"]},
            {"type": "remove_tags", "tags": ["new"]},
            {"type": "set_assignee", "agent_id": 7},
            {"type": "unassign"},
            {"type": "internal_note", "text": "Auto-routed {{ticket.url}}"},
            {"type": "notify_agent", "agent_id": 7, "text": "Refund on {{ticket.id}}"},
            {"type": "send_template", "name": "refund_update", "language": "de", "params": {"order": "{{ticket.subject}}"}}
        ]
    });
    let rule = draft(written.clone()).validate(42).unwrap();
    let mut expected = written.clone();
    expected["id"] = serde_json::json!(42);
    assert_eq!(serde_json::to_value(&rule).unwrap(), expected);
    // A reply without `when_closed` is skipped when the window is closed, and says so in its JSON.
    let defaulted = draft(serde_json::json!({"name": "x", "event": "ticket_created", "actions": [{"type": "reply", "text": "a"}]}))
        .validate(1)
        .unwrap();
    assert_eq!(
        serde_json::to_value(&defaulted.actions[0]).unwrap(),
        serde_json::json!({"type": "reply", "text": "a", "when_closed": {"kind": "skip"}})
    );
    assert!(defaulted.enabled && defaulted.position == 0 && !defaulted.once_per_episode, "defaults of a draft");
    // Read back from the store, and edited again.
    assert_eq!(serde_json::from_value::<Rule>(expected).unwrap(), rule);
    assert_eq!(rule.to_draft(), draft(written));
}

#[test]
fn the_example_in_the_docs_is_a_valid_rule() {
    let example = serde_json::json!({
      "name": "Auto-reply outside business hours",
      "enabled": true,
      "position": 20,
      "event": "message_received",
      "once_per_episode": true,
      "conditions": {
        "all": [
          {"field": "first_message", "value": true},
          {"field": "within_business_hours", "value": false}
        ],
        "any": []
      },
      "actions": [
        {
          "type": "reply",
          "text": "Thanks! Your ticket is {{ticket.id}}. We are back {{business_hours.next_open}}.",
          "when_closed": {"kind": "template", "name": "ticket_received", "language": "en", "params": {"1": "{{ticket.id}}"}}
        },
        {"type": "add_tags", "tags": ["after-hours"]}
      ]
    });
    let rule = draft(example).validate(9).unwrap();
    assert_eq!(rule.actions.iter().map(Action::kind).collect::<Vec<_>>(), ["reply", "add_tags"]);
    assert!(rule.fires_once_per_episode());
}

#[test]
fn every_shipped_default_is_a_valid_rule() {
    let defaults = default_rules();
    assert_eq!(defaults.len(), 5);
    for (i, d) in defaults.iter().enumerate() {
        let rule = d.validate(i64::try_from(i).unwrap() + 1).unwrap_or_else(|e| panic!("{}: {e}", d.name));
        // The nudge is optional (issue 14): shipped, switched off.
        let optional = rule.name.starts_with("Nudge");
        assert_eq!(rule.enabled, !optional, "{} ships switched {}", rule.name, if optional { "off" } else { "on" });
    }
    let positions: Vec<i32> = defaults.iter().map(|d| d.position).collect();
    assert!(positions.windows(2).all(|p| p[0] < p[1]), "listed in their order");
}
