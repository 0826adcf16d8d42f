//! The evaluator step by step (DESIGN §4, §11.12), at and around every
//! threshold.

mod boundaries;
mod canary;
mod cards;
mod conditions;
mod lines;
mod overrides;
mod policies;

use gavel_governance::{Evaluation, OverrideInput, Policy, Scorecard, Verdict};
use serde_json::{Value, json};

/// Reads the card (it must be well typed) and evaluates it.
fn evaluate(card: &Value, policy: &Policy, ovr: &OverrideInput) -> Evaluation {
    let card = Scorecard::from_json(card).unwrap_or_else(|e| panic!("{card}: {e}"));
    gavel_governance::evaluate(&card, policy, ovr)
}

/// The decision log's record, checked to be written as one line byte for
/// byte the same by `decision_log_line`.
fn decision_log_record(card: &Value, e: &Evaluation, unix_seconds: i64) -> Value {
    let card = Scorecard::from_json(card).unwrap();
    let record = gavel_governance::decision_log_record(&card, e, unix_seconds);
    assert_eq!(
        gavel_governance::decision_log_line(&card, e, unix_seconds),
        record.to_string()
    );
    record
}

fn policy(doc: Value) -> Policy {
    Policy::from_json(&doc).unwrap()
}

fn eval(card: Value) -> (Verdict, Vec<String>) {
    let e = evaluate(&card, &Policy::default(), &OverrideInput::default());
    (e.verdict, e.reason_codes)
}

fn codes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn good() -> Value {
    json!({"workflow_id": "wf-1", "raroi": 1.5, "confidence": 0.9, "scenario_scores": {"a": 0.8, "b": 0.9}})
}

fn with(mut card: Value, k: &str, v: Value) -> Value {
    card[k] = v;
    card
}

#[test]
fn defaults_at_and_around_each_threshold() {
    assert_eq!(
        eval(with(good(), "raroi", json!(1.0))),
        (Verdict::Promote, vec![])
    );
    assert_eq!(
        eval(with(good(), "raroi", json!(0.999))),
        (Verdict::NoGo, codes(&["raroi_below_threshold"]))
    );
    assert_eq!(
        eval(with(good(), "raroi", Value::Null)),
        (Verdict::NoGo, codes(&["raroi_below_threshold"]))
    );
    assert_eq!(
        eval(with(good(), "confidence", json!(0.7))),
        (Verdict::Promote, vec![])
    );
    assert_eq!(
        eval(with(good(), "confidence", json!(0.699))),
        (Verdict::NoGo, codes(&["confidence_below_threshold"]))
    );
    assert_eq!(
        eval(with(good(), "scenario_scores", json!({"a": 0.5}))),
        (Verdict::Promote, vec![])
    );
    assert_eq!(
        eval(with(good(), "scenario_scores", json!({"a": 0.499}))),
        (Verdict::NoGo, codes(&["scenario_below_min"]))
    );
    // Without scenario scores the scenario default does not fire.
    let mut no_scores = good();
    no_scores.as_object_mut().unwrap().remove("scenario_scores");
    assert_eq!(eval(no_scores), (Verdict::Promote, vec![]));
    // First default that holds wins.
    assert_eq!(
        eval(json!({"raroi": 0.5, "confidence": 0.1})).1,
        codes(&["raroi_below_threshold"])
    );
}

#[test]
fn vetoes_come_first() {
    let micro = json!({"raroi": 2.0, "confidence": 0.9, "sandbox_roi": 0.05, "adapter_roi": 1.2});
    assert_eq!(
        eval(with(micro.clone(), "alignment_status", json!("FAIL"))),
        (Verdict::Demote, codes(&["alignment_veto"]))
    );
    assert_eq!(
        eval(with(micro.clone(), "alignment", json!({"status": "fail"}))),
        (Verdict::Demote, codes(&["alignment_veto"]))
    );
    assert_eq!(
        eval(with(micro.clone(), "security_status", json!("blocked"))),
        (Verdict::Demote, codes(&["security_veto"]))
    );
    assert_eq!(
        eval(with(good(), "alignment_status", json!("Pass"))).0,
        Verdict::Promote
    );
}

#[test]
fn micro_pilot_and_its_bypass() {
    let card = json!({"workflow_id": "wf-m", "raroi": 1.4, "confidence": 0.8, "sandbox_roi": 0.05, "adapter_roi": 1.2});
    let e = evaluate(&card, &Policy::default(), &OverrideInput::default());
    assert_eq!(
        (
            e.verdict,
            e.reason_codes.clone(),
            e.overrides.mode.as_deref()
        ),
        (Verdict::Pilot, codes(&["micro_pilot"]), Some("micro-pilot"))
    );
    let bypass = OverrideInput {
        id: Some("o1".into()),
        bypass_micro_pilot: true,
        ..Default::default()
    };
    let e = evaluate(&card, &Policy::default(), &bypass);
    assert_eq!(e.verdict, Verdict::Promote);
    assert_eq!(
        (e.overrides.bypass_micro_pilot, e.overrides.applied),
        (Some(true), Some(true))
    );
    // Boundaries: strict on both sides, with the alias names.
    assert_eq!(
        eval(with(card.clone(), "sandbox_roi", json!(0.1))).0,
        Verdict::Promote
    );
    assert_eq!(
        eval(with(card.clone(), "adapter_roi", json!(1.0))).0,
        Verdict::Promote
    );
    let p = policy(json!({"sandbox_low": 0.01, "adapter_high": 2.0}));
    assert_eq!(
        evaluate(&card, &p, &OverrideInput::default()).verdict,
        Verdict::Promote
    );
    // A policy rule coded micro_pilot carries the mode, and the bypass skips it.
    let p = policy(
        json!({"rules": [{"decision": "pilot", "condition": "adapter_roi > 1.1", "reason_code": "micro_pilot"}]}),
    );
    let plain = json!({"raroi": 1.4, "confidence": 0.8, "sandbox_roi": 0.5, "adapter_roi": 1.2});
    let e = evaluate(&plain, &p, &OverrideInput::default());
    assert_eq!(
        (e.verdict, e.overrides.mode.as_deref()),
        (Verdict::Pilot, Some("micro-pilot"))
    );
    assert_eq!(evaluate(&plain, &p, &bypass).verdict, Verdict::Promote);
}

#[test]
fn variance_and_scenario_minimums() {
    let p = policy(json!({"max_variance": 0.01, "scenario_thresholds": {"latency": 0.6}}));
    let e = |scores: Value| {
        let r = evaluate(
            &json!({"raroi": 2, "confidence": 0.9, "scenario_scores": scores}),
            &p,
            &OverrideInput::default(),
        );
        (r.verdict, r.reason_codes)
    };
    // Population variance of 0.5 and 0.7 is 0.01: not above.
    assert_eq!(e(json!({"a": 0.5, "latency": 0.7})).0, Verdict::Promote);
    assert_eq!(
        e(json!({"a": 0.5, "latency": 0.71})),
        (Verdict::Demote, codes(&["variance_above_max"]))
    );
    assert_eq!(
        e(json!({"a": 0.6, "latency": 0.59})),
        (Verdict::Demote, codes(&["latency_below_min"]))
    );
    // One score has no variance.
    assert_eq!(e(json!({"latency": 0.9})).0, Verdict::Promote);
}

#[test]
fn policy_rules_come_before_the_defaults_first_true_wins() {
    let p = policy(json!({"rules": [
        {"decision": "no_go", "condition": "raroi < raroi_threshold * 2", "reason_code": "needs_double"},
        {"decision": "promote", "condition": "True"},
        {"decision": "demote", "condition": "min_scenario < 0.9", "reason_code": "never_reached"},
    ]}));
    let r = evaluate(
        &json!({"raroi": 1.5, "confidence": 0.9}),
        &p,
        &OverrideInput::default(),
    );
    assert_eq!(
        (r.verdict, r.reason_codes),
        (Verdict::NoGo, codes(&["needs_double"]))
    );
    // A rule without a reason code reports its decision.
    let r = evaluate(
        &json!({"raroi": 2.5, "confidence": 0.9}),
        &p,
        &OverrideInput::default(),
    );
    assert_eq!(
        (r.verdict, r.reason_codes),
        (Verdict::Promote, codes(&["promote"]))
    );
    // A condition that fails on missing data skips its rule.
    let p = policy(
        json!([{"decision": "demote", "condition": "sandbox_roi < 0.5", "reason_code": "low_sandbox"}]),
    );
    assert_eq!(
        evaluate(
            &json!({"raroi": 2, "confidence": 0.9}),
            &p,
            &OverrideInput::default()
        )
        .verdict,
        Verdict::Promote
    );
    assert_eq!(
        evaluate(
            &json!({"raroi": 2, "confidence": 0.9, "sandbox_roi": 0.2}),
            &p,
            &OverrideInput::default()
        )
        .reason_codes,
        codes(&["low_sandbox"])
    );
}

#[test]
fn invalid_policies_report_every_bad_rule() {
    let err = Policy::from_json(&json!({"rules": [
        {"decision": "promote", "condition": "__import__('os').system('rm -rf /')"},
        {"decision": "promote", "condition": "raroi >= 1.0"},
        {"decision": "maybe", "condition": "raroi >"},
        {"decision": "promote", "condition": "x".repeat(1_000_000)},
        {"decision": "promote", "condition": format!("{}raroi{}", "(".repeat(200), ")".repeat(200))},
    ], "raroi_treshold": 2})).unwrap_err();
    let text = err.to_string();
    let rules: Vec<Option<usize>> = err.0.iter().map(|p| p.rule).collect();
    assert!(
        rules.contains(&Some(0))
            && rules.contains(&Some(2))
            && rules.contains(&Some(3))
            && rules.contains(&Some(4)),
        "{text}"
    );
    assert!(!rules.contains(&Some(1)));
    assert!(text.contains("unknown function `__import__`"), "{text}");
    assert!(
        text.contains("unknown policy field `raroi_treshold`"),
        "{text}"
    );
    assert!(text.contains("longer than"), "{text}");
    assert!(text.contains("nested deeper"), "{text}");
    let zero = err.0.iter().find(|p| p.rule == Some(0)).unwrap();
    assert_eq!(zero.position, Some(0));
}

#[test]
fn foresight_gate() {
    let base = |forecast: Value| json!({"workflow_id": "wf-f", "raroi": 1.5, "confidence": 0.9, "forecast": forecast});
    let passing = json!({"projections": [{"cycle": 1, "roi": 0.2}], "confidence": 0.8, "collapse_risk": false, "dag_impact": {"n1": 0.1}});
    let e = evaluate(
        &base(passing),
        &Policy::default(),
        &OverrideInput::default(),
    );
    assert_eq!(e.verdict, Verdict::Promote);
    assert_eq!(e.foresight.as_ref().unwrap().reason_codes.len(), 0);
    // Near misses go to pilot, or borderline when a queue is in use.
    let near = json!({"projections": [{"cycle": 1, "roi": -0.04}], "confidence": 0.56});
    let e = evaluate(
        &base(near.clone()),
        &Policy::default(),
        &OverrideInput::default(),
    );
    assert_eq!(
        (e.verdict, e.reason_codes.clone()),
        (
            Verdict::Pilot,
            codes(&["projected_roi_below_threshold", "low_confidence"])
        )
    );
    let queue = policy(json!({"borderline_queue": true}));
    assert_eq!(
        evaluate(&base(near), &queue, &OverrideInput::default()).verdict,
        Verdict::Borderline
    );
    let far = json!({"projections": [{"cycle": 1, "roi": -0.2}]});
    assert_eq!(
        evaluate(&base(far), &queue, &OverrideInput::default()).verdict,
        Verdict::Pilot
    );
    for risk in [
        json!(true),
        json!("Immediate collapse risk"),
        json!("brittle"),
    ] {
        let e = evaluate(
            &base(json!({"collapse_risk": risk})),
            &queue,
            &OverrideInput::default(),
        );
        assert_eq!(
            (e.verdict, e.reason_codes),
            (Verdict::Pilot, codes(&["roi_collapse_risk"]))
        );
    }
    let dag = json!({"dag_impact": {"downstream": -0.1}});
    assert_eq!(
        evaluate(
            &base(dag.clone()),
            &Policy::default(),
            &OverrideInput::default()
        )
        .reason_codes,
        codes(&["negative_dag_impact"])
    );
    assert_eq!(
        evaluate(
            &base(dag),
            &policy(json!({"allow_negative_dag": true})),
            &OverrideInput::default()
        )
        .verdict,
        Verdict::Promote
    );
    // The gate only stands before a promote.
    let e = evaluate(
        &json!({"raroi": 0.5, "forecast": {"collapse_risk": true}}),
        &Policy::default(),
        &OverrideInput::default(),
    );
    assert_eq!(
        (e.verdict, e.reason_codes),
        (Verdict::NoGo, codes(&["raroi_below_threshold"]))
    );
}

#[test]
fn forced_verdicts_and_the_veto() {
    let forced = OverrideInput {
        id: Some("ovr-9".into()),
        forced_verdict: Some(Verdict::Promote),
        ..Default::default()
    };
    let e = evaluate(
        &json!({"workflow_id": "wf-2", "raroi": 0.2, "confidence": 0.9}),
        &Policy::default(),
        &forced,
    );
    assert_eq!(
        (e.verdict, e.reason_codes.clone()),
        (
            Verdict::Promote,
            codes(&["raroi_below_threshold", "manual_override"])
        )
    );
    assert!(e.override_applied());
    assert_eq!(e.overrides.override_id.as_deref(), Some("ovr-9"));
    let vetoed = evaluate(
        &json!({"raroi": 2, "alignment_status": "FAIL"}),
        &Policy::default(),
        &forced,
    );
    assert_eq!(
        (vetoed.verdict, vetoed.overrides.refused.as_deref()),
        (Verdict::Demote, Some("veto_not_overridable"))
    );
    assert!(!vetoed.override_applied());
    // A refused override leaves the evaluation as without it.
    let refused = OverrideInput {
        refused: Some("expired".into()),
        forced_verdict: Some(Verdict::Promote),
        ..Default::default()
    };
    let e = evaluate(
        &json!({"raroi": 0.2, "confidence": 0.9}),
        &Policy::default(),
        &refused,
    );
    assert_eq!(
        (
            e.verdict,
            e.overrides.applied,
            e.overrides.refused.as_deref()
        ),
        (Verdict::NoGo, Some(false), Some("expired"))
    );
    assert_eq!(Verdict::forceable("borderline"), None);
    assert_eq!(Verdict::forceable("no_go"), Some(Verdict::NoGo));
}

#[test]
fn decision_log_line() {
    let card = json!({"workflow_id": "wf-3", "raroi": 1.5, "confidence": 0.9, "patch_summary": "bump model", "forecast": {"projections": [{"cycle": 1, "roi": 0.3}], "confidence": 0.8, "dag_impact": 0.2}});
    let e = evaluate(&card, &Policy::default(), &OverrideInput::default());
    let line = decision_log_record(&card, &e, 1_795_000_000);
    assert_eq!(line["timestamp"], 1_795_000_000);
    assert_eq!(
        (line["decision"].as_bool(), line["verdict"].as_str()),
        (Some(true), Some("promote"))
    );
    assert_eq!(line["patch_summary"], "bump model");
    assert_eq!(line["forecast_confidence"], 0.8);
    let keys: Vec<&str> = line
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 9);
}

/// Regressions from review: a null flat status does not hide the nested
/// one; a forced non-pilot verdict drops the micro-pilot mode; ordering a
/// string skips the rule (§11.12).
#[test]
fn review_regressions() {
    assert_eq!(
        eval(
            json!({"raroi": 1.2, "confidence": 0.9, "alignment_status": null, "alignment": {"status": "fail"}})
        ),
        (Verdict::Demote, codes(&["alignment_veto"]))
    );
    let forced = OverrideInput {
        id: Some("o".into()),
        forced_verdict: Some(Verdict::Promote),
        ..Default::default()
    };
    let e = evaluate(
        &json!({"raroi": 1.4, "confidence": 0.8, "sandbox_roi": 0.05, "adapter_roi": 1.2}),
        &Policy::default(),
        &forced,
    );
    assert_eq!(
        (e.verdict, e.overrides.mode.clone()),
        (Verdict::Promote, None)
    );
    let p = policy(
        json!({"rules": [{"decision": "demote", "condition": "alignment_status < 'q'", "reason_code": "hit"}]}),
    );
    let e = evaluate(
        &json!({"raroi": 1.2, "confidence": 0.9, "alignment_status": "pass"}),
        &p,
        &OverrideInput::default(),
    );
    assert_eq!(e.verdict, Verdict::Promote);
}
