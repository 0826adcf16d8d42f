//! Policy problems name the field by pointer, suggest the name meant, and
//! carry a line and column once located in the policy's text.

use gavel_governance::{Policy, PolicyError, PolicyProblem};
use gavel_policy::{Format, parse_document};
use serde_json::json;

fn problems(text: &str) -> Vec<PolicyProblem> {
    let doc = parse_document(text, Format::detect("p.yaml", text)).unwrap();
    match Policy::from_document(&doc, text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(PolicyError(p)) => p,
    }
}

fn find<'a>(all: &'a [PolicyProblem], pointer: &str) -> &'a PolicyProblem {
    all.iter()
        .find(|p| p.pointer == pointer)
        .unwrap_or_else(|| panic!("no problem at {pointer}: {all:?}"))
}

#[test]
fn policy_problems_are_located_with_did_you_mean() {
    let text = "\
raroi_treshold: 2
rules:
  - decision: maybe
    condition: \"raroi > 1\"
  - decision: promote
    condition: raroi >
    reasn_code: x
";
    let all = problems(text);
    let typo = find(&all, "/raroi_treshold");
    assert_eq!(
        typo.message,
        "unknown policy field `raroi_treshold`; did you mean `raroi_threshold`?"
    );
    assert_eq!((typo.line, typo.column), (Some(1), Some(1)));
    let decision = find(&all, "/rules/0/decision");
    assert_eq!((decision.line, decision.column), (Some(3), Some(15)));
    assert!(decision.message.contains("`maybe`"), "{}", decision.message);
    let field = find(&all, "/rules/1/reasn_code");
    assert_eq!((field.line, field.column), (Some(7), Some(5)), "at the key");
    assert!(
        field.message.contains("did you mean `reason_code`?"),
        "{}",
        field.message
    );
    // A plain scalar: the error's character is found in the line.
    let cond = find(&all, "/rules/1/condition");
    assert_eq!(cond.position, Some(7));
    assert_eq!((cond.line, cond.column), (Some(6), Some(16 + 7)));
    // Diagnostics in the bundle shape.
    let diags = PolicyError(all.clone()).diagnostics();
    assert_eq!(diags.len(), all.len());
    assert!(
        diags
            .iter()
            .all(|d| d.line.is_some() && d.pointer.is_some())
    );
}

#[test]
fn a_quoted_condition_error_points_inside_the_quotes() {
    let text = "rules:\n  - decision: promote\n    condition: \"rario > 1\"\n";
    let all = problems(text);
    let cond = find(&all, "/rules/0/condition");
    assert_eq!(cond.position, Some(0));
    assert_eq!((cond.line, cond.column), (Some(3), Some(17)));
    // JSON: the same, and pointers of a bare rule list have no `/rules`.
    let text = "[{\"decision\": \"promote\", \"condition\": \"raroi >\"}]";
    let doc = parse_document(text, Format::Json).unwrap();
    let PolicyError(all) = Policy::from_document(&doc, text).unwrap_err();
    let cond = find(&all, "/0/condition");
    assert_eq!((cond.line, cond.column), (Some(1), Some(39 + 1 + 7)));
}

#[test]
fn a_policy_cannot_force_or_bypass_by_itself() {
    for key in ["forced_verdict", "bypass_micro_pilot", "verdict"] {
        let err = Policy::from_json(&json!({key: "promote"})).unwrap_err();
        let p = &err.0[0];
        assert_eq!(p.pointer, format!("/{key}"));
        assert!(p.message.contains("signed override"), "{}", p.message);
    }
    let err = Policy::from_json(&json!({"rules": [{"decision": "promote", "condition": "True", "bypass_micro_pilot": true}]})).unwrap_err();
    assert_eq!(err.0[0].pointer, "/rules/0/bypass_micro_pilot");
    assert_eq!(err.0[0].rule, Some(0));
    // Something far from every name lists the known ones.
    let err = Policy::from_json(&json!({"colour": "red"})).unwrap_err();
    assert!(
        err.0[0].message.contains("known fields: raroi_threshold"),
        "{err}"
    );
}

#[test]
fn every_wrong_typed_policy_value_is_named_by_pointer() {
    let err = Policy::from_json(&json!({
        "raroi_threshold": "1", "confidence_threshold": null, "scenario_score_min": [],
        "sandbox_low": "x", "adapter_roi_high": true, "max_variance": "0.1",
        "roi_forecast_min": {}, "foresight_confidence_min": "0.6",
        "allow_negative_dag": "yes", "borderline_queue": 1,
        "scenario_thresholds": {"safety": "high", "a/b": null},
        "rules": [
            {"decision": 3, "condition": "True"},
            {"decision": "promote", "condition": 5},
            {"decision": "promote", "condition": "True", "reason_code": 9},
            {"condition": "True"},
            {"decision": "promote"},
            "promote",
        ],
    }))
    .unwrap_err();
    let pointers: Vec<&str> = err.0.iter().map(|p| p.pointer.as_str()).collect();
    for want in [
        "/raroi_threshold",
        "/confidence_threshold",
        "/scenario_score_min",
        "/sandbox_low",
        "/adapter_roi_high",
        "/max_variance",
        "/roi_forecast_min",
        "/foresight_confidence_min",
        "/allow_negative_dag",
        "/borderline_queue",
        "/scenario_thresholds/safety",
        "/scenario_thresholds/a~1b",
        "/rules/0/decision",
        "/rules/1/condition",
        "/rules/2/reason_code",
        "/rules/3",
        "/rules/4",
        "/rules/5",
    ] {
        assert!(pointers.contains(&want), "{want} missing from {pointers:?}");
    }
    assert_eq!(err.0.len(), 18, "{pointers:?}");
    let err = Policy::from_json(&json!({"rules": {"a": 1}})).unwrap_err();
    assert_eq!(err.0[0].pointer, "/rules");
    let err = Policy::from_json(&json!({"scenario_thresholds": [1]})).unwrap_err();
    assert_eq!(err.0[0].pointer, "/scenario_thresholds");
    let err = Policy::from_json(&json!("rules")).unwrap_err();
    assert_eq!(err.0[0].pointer, "");
    // null is "not set" for the optional maps and lists.
    let p = Policy::from_json(
        &json!({"max_variance": null, "scenario_thresholds": null, "rules": null, "name": "p", "description": "d", "version": 2}),
    )
    .unwrap();
    assert_eq!(p, Policy::default());
}

/// Regression: every problem was located in the tree and the text, so a
/// policy of a million unknown keys took minutes. The first 100 are
/// listed and located; the rest are counted in one closing problem.
#[test]
fn an_invalid_policy_lists_its_first_hundred_problems_and_counts_the_rest() {
    let text: String = (0..150).map(|i| format!("k{i:03}: 0\n")).collect();
    let all = problems(&text);
    assert_eq!(all.len(), gavel_governance::MAX_POLICY_PROBLEMS + 1);
    assert_eq!(all[99].pointer, "/k099");
    assert_eq!(all[99].line, Some(100));
    assert_eq!(
        all[100].message,
        "and 50 more problems not listed; fix these first"
    );
    // At the limit, nothing is counted.
    let text: String = (0..100).map(|i| format!("k{i:03}: 0\n")).collect();
    assert_eq!(problems(&text).len(), 100);
}
