//! Every policy setting and every gate decides something: each test pins a
//! behaviour a mutation of the evaluator would change (cargo mutants).

use gavel_governance::{BatchSummary, OverrideInput, Policy, Verdict};
use serde_json::{Value, json};

use crate::{codes, evaluate};

fn policy(doc: Value) -> Policy {
    Policy::from_json(&doc).unwrap()
}

fn verdict(card: &Value, p: &Policy) -> (Verdict, Vec<String>) {
    let e = evaluate(card, p, &OverrideInput::default());
    (e.verdict, e.reason_codes)
}

#[test]
fn each_threshold_from_the_policy_is_applied() {
    let card = json!({"raroi": 1.2, "confidence": 0.75, "scenario_scores": {"a": 0.55}});
    assert_eq!(
        verdict(&card, &Policy::default()),
        (Verdict::Promote, vec![])
    );
    for (setting, code) in [
        ("raroi_threshold", "raroi_below_threshold"),
        ("confidence_threshold", "confidence_below_threshold"),
        ("scenario_score_min", "scenario_below_min"),
    ] {
        let p = policy(json!({setting: 1.3}));
        assert_eq!(
            verdict(&card, &p),
            (Verdict::NoGo, codes(&[code])),
            "{setting}"
        );
    }
    // The micro-pilot thresholds, by both names.
    let micro = json!({"raroi": 1.2, "confidence": 0.75, "sandbox_roi": 0.2, "adapter_roi": 0.9});
    assert_eq!(verdict(&micro, &Policy::default()).0, Verdict::Promote);
    for doc in [
        json!({"sandbox_roi_low": 0.3, "adapter_roi_high": 0.8}),
        json!({"sandbox_low": 0.3, "adapter_high": 0.8}),
    ] {
        assert_eq!(
            verdict(&micro, &policy(doc.clone())),
            (Verdict::Pilot, codes(&["micro_pilot"])),
            "{doc}"
        );
    }
    assert_eq!(
        verdict(&micro, &policy(json!({"sandbox_roi_low": 0.3}))).0,
        Verdict::Promote,
        "both conditions are needed"
    );
    assert_eq!(
        verdict(&micro, &policy(json!({"adapter_roi_high": 0.8}))).0,
        Verdict::Promote,
        "both conditions are needed"
    );
    // The foresight thresholds.
    let fore = |f: Value| json!({"raroi": 1.2, "confidence": 0.75, "forecast": f});
    let roi = fore(json!({"projections": [{"cycle": 1, "roi": 0.1}]}));
    assert_eq!(verdict(&roi, &Policy::default()).0, Verdict::Promote);
    assert_eq!(
        verdict(&roi, &policy(json!({"roi_forecast_min": 0.2}))),
        (Verdict::Pilot, codes(&["projected_roi_below_threshold"]))
    );
    let conf = fore(json!({"confidence": 0.65}));
    assert_eq!(verdict(&conf, &Policy::default()).0, Verdict::Promote);
    assert_eq!(
        verdict(&conf, &policy(json!({"foresight_confidence_min": 0.7}))),
        (Verdict::Pilot, codes(&["low_confidence"]))
    );
    // Equal to a threshold passes.
    let at = fore(json!({"projections": [{"roi": 0.0}], "confidence": 0.6}));
    assert_eq!(verdict(&at, &Policy::default()).0, Verdict::Promote);
}

#[test]
fn conditions_see_every_variable_and_threshold() {
    let card = json!({
        "raroi": 1.25, "confidence": 0.8, "sandbox_roi": 0.3, "adapter_roi": 0.4,
        "alignment_status": "pass", "security_status": "Pass",
        "scenario_scores": {"a": 0.6, "b": 1.0},
    });
    let base = json!({
        "raroi_threshold": 1.1, "confidence_threshold": 0.65, "scenario_score_min": 0.45,
        "sandbox_roi_low": 0.15, "adapter_roi_high": 1.75, "max_variance": 0.5,
        "roi_forecast_min": -0.5, "foresight_confidence_min": 0.35,
    });
    for condition in [
        "raroi == 1.25",
        "confidence == 0.8",
        "min_scenario == 0.6",
        "score_variance > 0.0399 and score_variance < 0.0401",
        "sandbox_roi == 0.3",
        "adapter_roi == 0.4",
        "alignment_status == 'pass'",
        "security_status == 'Pass'",
        "raroi_threshold == 1.1",
        "confidence_threshold == 0.65",
        "scenario_score_min == 0.45",
        "sandbox_roi_low == 0.15",
        "adapter_roi_high == 1.75",
        "max_variance == 0.5",
        "roi_forecast_min == -0.5",
        "foresight_confidence_min == 0.35",
    ] {
        let mut doc = base.clone();
        doc["rules"] =
            json!([{"decision": "demote", "condition": condition, "reason_code": "hit"}]);
        assert_eq!(
            verdict(&card, &policy(doc)),
            (Verdict::Demote, codes(&["hit"])),
            "{condition}"
        );
    }
    // Without a variance limit, `max_variance` is None.
    let p = policy(
        json!({"rules": [{"decision": "demote", "condition": "max_variance is None", "reason_code": "hit"}]}),
    );
    assert_eq!(verdict(&card, &p).0, Verdict::Demote);
}

#[test]
fn a_refused_override_bypasses_nothing() {
    let card = json!({"workflow_id": "wf-m", "raroi": 1.4, "confidence": 0.8, "sandbox_roi": 0.05, "adapter_roi": 1.2});
    let p = policy(
        json!({"rules": [{"decision": "pilot", "condition": "adapter_roi > 1.1", "reason_code": "micro_pilot"}]}),
    );
    for refusal in ["other_workflow", "expired", "used"] {
        let refused = OverrideInput {
            id: Some("o".into()),
            bypass_micro_pilot: true,
            forced_verdict: Some(Verdict::Promote),
            refused: Some(refusal.into()),
            ..Default::default()
        };
        let e = evaluate(&card, &Policy::default(), &refused);
        assert_eq!(
            (e.verdict, e.reason_codes, e.overrides.mode.as_deref()),
            (Verdict::Pilot, codes(&["micro_pilot"]), Some("micro-pilot")),
            "{refusal}"
        );
        assert_eq!(
            (e.overrides.applied, e.overrides.refused.as_deref()),
            (Some(false), Some(refusal))
        );
        assert_eq!(
            (e.overrides.bypass_micro_pilot, e.overrides.override_id),
            (None, None)
        );
        // Nor the policy's micro-pilot rule.
        let plain = json!({"raroi": 1.4, "confidence": 0.8, "adapter_roi": 1.2});
        assert_eq!(evaluate(&plain, &p, &refused).verdict, Verdict::Pilot);
    }
    // A bypass that is not refused skips only rules coded micro_pilot.
    let bypass = OverrideInput {
        id: Some("o".into()),
        bypass_micro_pilot: true,
        ..Default::default()
    };
    let other = policy(
        json!({"rules": [{"decision": "pilot", "condition": "adapter_roi > 1.1", "reason_code": "adapter_high"}]}),
    );
    let plain = json!({"raroi": 1.4, "confidence": 0.8, "adapter_roi": 1.2});
    assert_eq!(
        evaluate(&plain, &other, &bypass).reason_codes,
        codes(&["adapter_high"])
    );
    assert!(evaluate(&plain, &other, &bypass).overrides.mode.is_none());
    // An override that forces nothing and bypasses nothing is no override.
    let empty = OverrideInput {
        id: Some("o".into()),
        ..Default::default()
    };
    let e = evaluate(&card, &Policy::default(), &empty);
    assert_eq!(
        (e.verdict, e.overrides.applied, e.overrides.override_id),
        (Verdict::Pilot, None, None)
    );
}

#[test]
fn a_bypass_on_a_vetoed_card_is_not_applied_and_a_forced_pilot_keeps_the_mode() {
    let bypass = OverrideInput {
        id: Some("o".into()),
        legacy: true,
        bypass_micro_pilot: true,
        ..Default::default()
    };
    let vetoed = json!({"raroi": 2, "confidence": 0.9, "security_status": "fail"});
    let e = evaluate(&vetoed, &Policy::default(), &bypass);
    assert_eq!(
        (
            e.verdict,
            e.overrides.applied,
            e.overrides.refused.as_deref()
        ),
        (Verdict::Demote, Some(false), None)
    );
    assert_eq!(
        (e.overrides.legacy, e.overrides.bypass_micro_pilot),
        (Some(true), Some(true))
    );
    let e = evaluate(
        &json!({"raroi": 2, "confidence": 0.9}),
        &Policy::default(),
        &bypass,
    );
    assert_eq!(
        (e.verdict, e.overrides.applied),
        (Verdict::Promote, Some(true))
    );
    let pilot = OverrideInput {
        id: Some("o".into()),
        forced_verdict: Some(Verdict::Pilot),
        ..Default::default()
    };
    let micro = json!({"raroi": 1.4, "confidence": 0.8, "sandbox_roi": 0.05, "adapter_roi": 1.2});
    let e = evaluate(&micro, &Policy::default(), &pilot);
    assert_eq!(
        (e.verdict, e.overrides.mode.as_deref(), e.reason_codes),
        (
            Verdict::Pilot,
            Some("micro-pilot"),
            codes(&["micro_pilot", "manual_override"])
        )
    );
    assert_eq!(e.overrides.forced_verdict, Some(Verdict::Pilot));
    // Both vetoes at once.
    let both = json!({"alignment_status": "fail", "security_status": "fail"});
    assert_eq!(
        verdict(&both, &Policy::default()),
        (Verdict::Demote, codes(&["alignment_veto", "security_veto"]))
    );
}

#[test]
fn borderline_needs_every_miss_within_five_hundredths_and_a_queue() {
    let queue = policy(json!({"borderline_queue": true}));
    let card = |f: Value| json!({"raroi": 1.5, "confidence": 0.9, "forecast": f});
    let cases = [
        // ROI exactly 0.05 below its minimum: near.
        (
            json!({"projections": [{"roi": -0.05}]}),
            Verdict::Borderline,
        ),
        (json!({"projections": [{"roi": -0.051}]}), Verdict::Pilot),
        (json!({"confidence": 0.55}), Verdict::Borderline),
        (json!({"confidence": 0.549}), Verdict::Pilot),
        // One near and one far miss: pilot.
        (
            json!({"projections": [{"roi": -0.01}], "confidence": 0.4}),
            Verdict::Pilot,
        ),
        (
            json!({"projections": [{"roi": -0.3}], "confidence": 0.59}),
            Verdict::Pilot,
        ),
        // Collapse risk and negative impact are never borderline.
        (
            json!({"projections": [{"roi": -0.01}], "collapse_risk": true}),
            Verdict::Pilot,
        ),
        (
            json!({"confidence": 0.59, "dag_impact": -0.2}),
            Verdict::Pilot,
        ),
        // The lowest projection counts.
        (
            json!({"projections": [{"roi": 0.5}, {"roi": -0.2}, {"roi": -0.01}]}),
            Verdict::Pilot,
        ),
    ];
    for (forecast, want) in cases {
        assert_eq!(
            evaluate(&card(forecast.clone()), &queue, &OverrideInput::default()).verdict,
            want,
            "{forecast}"
        );
        // Without a queue, never borderline.
        assert_eq!(
            verdict(&card(forecast.clone()), &Policy::default()).0,
            Verdict::Pilot,
            "{forecast}"
        );
    }
    // Thresholds other than the defaults set what "near" is measured from.
    let p = policy(
        json!({"borderline_queue": true, "roi_forecast_min": 0.5, "foresight_confidence_min": 0.9}),
    );
    assert_eq!(
        verdict(
            &card(json!({"projections": [{"roi": 0.46}], "confidence": 0.86})),
            &p
        )
        .0,
        Verdict::Borderline
    );
    assert_eq!(
        verdict(&card(json!({"projections": [{"roi": 0.44}]})), &p).0,
        Verdict::Pilot
    );
    assert_eq!(
        verdict(&card(json!({"confidence": 0.84})), &p).0,
        Verdict::Pilot
    );
}

#[test]
fn a_numeric_negative_dag_impact_fails_the_gate_unless_allowed() {
    let card = json!({"raroi": 1.5, "confidence": 0.9, "forecast": {"dag_impact": -0.01}});
    assert_eq!(
        verdict(&card, &Policy::default()),
        (Verdict::Pilot, codes(&["negative_dag_impact"]))
    );
    assert_eq!(
        verdict(&card, &policy(json!({"allow_negative_dag": true}))),
        (Verdict::Promote, vec![])
    );
    let zero = json!({"raroi": 1.5, "confidence": 0.9, "forecast": {"dag_impact": 0}});
    assert_eq!(verdict(&zero, &Policy::default()).0, Verdict::Promote);
    // The gate's findings are reported even when the verdict was not a promote.
    let e = evaluate(
        &json!({"raroi": 0.5, "forecast": {"dag_impact": -1, "confidence": 0.3, "projections": [{"roi": 0.2}]}}),
        &Policy::default(),
        &OverrideInput::default(),
    );
    let f = e.foresight.unwrap();
    assert_eq!(
        (f.reason_codes, f.recommendation, f.confidence),
        (
            codes(&["low_confidence", "negative_dag_impact"]),
            Verdict::Pilot,
            Some(0.3)
        )
    );
    assert_eq!(f.projections, json!([{"roi": 0.2}]));
    assert_eq!(e.verdict, Verdict::NoGo);
    // A passing gate recommends the verdict as it was.
    let e = evaluate(
        &json!({"raroi": 0.5, "forecast": {"projections": []}}),
        &Policy::default(),
        &OverrideInput::default(),
    );
    assert_eq!(e.foresight.unwrap().recommendation, Verdict::NoGo);
}

#[test]
fn variance_is_the_population_variance_of_two_or_more_scores() {
    let p = policy(json!({"max_variance": 0.0625}));
    // Scores 0.5 and 1.0: mean 0.75, population variance 0.0625 (not above).
    let at = json!({"raroi": 2, "confidence": 0.9, "scenario_scores": {"a": 0.5, "b": 1.0}});
    assert_eq!(verdict(&at, &p).0, Verdict::Promote);
    let above = json!({"raroi": 2, "confidence": 0.9, "scenario_scores": {"a": 0.5, "b": 1.01}});
    assert_eq!(
        verdict(&above, &p),
        (Verdict::Demote, codes(&["variance_above_max"]))
    );
    // Three scores: 0.6, 0.9, 0.9 → mean 0.8, variance 0.02.
    let three =
        json!({"raroi": 2, "confidence": 0.9, "scenario_scores": {"a": 0.6, "b": 0.9, "c": 0.9}});
    assert_eq!(
        verdict(&three, &policy(json!({"max_variance": 0.0201}))).0,
        Verdict::Promote
    );
    assert_eq!(
        verdict(&three, &policy(json!({"max_variance": 0.0199}))).0,
        Verdict::Demote
    );
    // Every scenario below its own minimum is named.
    let p = policy(json!({"scenario_thresholds": {"a": 0.7, "b": 0.7, "c": 0.5}}));
    assert_eq!(
        verdict(&three, &p),
        (Verdict::Demote, codes(&["a_below_min"]))
    );
    let low =
        json!({"raroi": 2, "confidence": 0.9, "scenario_scores": {"a": 0.6, "b": 0.65, "c": 0.9}});
    assert_eq!(verdict(&low, &p).1, codes(&["a_below_min", "b_below_min"]));
    // At the threshold is not below it.
    let eq = json!({"raroi": 2, "confidence": 0.9, "scenario_scores": {"a": 0.7}});
    assert_eq!(verdict(&eq, &p).0, Verdict::Promote);
}

#[test]
fn a_batch_summary_counts_verdicts_and_reason_codes() {
    let p = Policy::default();
    let mut s = BatchSummary::default();
    for card in [
        json!({"raroi": 2, "confidence": 0.9}),
        json!({"raroi": 0.5}),
        json!({"raroi": 0.2, "confidence": 0.9}),
        json!({"alignment_status": "fail", "security_status": "fail"}),
    ] {
        s.add(&evaluate(&card, &p, &OverrideInput::default()));
    }
    assert_eq!(s.total, 4);
    assert_eq!(
        s.verdicts,
        [
            ("demote".to_string(), 1),
            ("no_go".to_string(), 2),
            ("promote".to_string(), 1)
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(
        s.reason_codes,
        [
            ("alignment_veto".to_string(), 1),
            ("raroi_below_threshold".to_string(), 2),
            ("security_veto".to_string(), 1),
        ]
        .into_iter()
        .collect()
    );
}

#[test]
fn the_decision_log_records_an_unpromoted_card_and_nulls() {
    let card = json!({"workflow_id": "wf-4", "raroi": 0.3});
    let e = evaluate(&card, &Policy::default(), &OverrideInput::default());
    let line = crate::decision_log_record(&card, &e, 7);
    assert_eq!(
        line,
        json!({"timestamp": 7, "workflow_id": "wf-4", "patch_summary": null,
               "forecast_projections": null, "forecast_confidence": null, "dag_impact": null,
               "decision": false, "verdict": "no_go", "reason_codes": ["raroi_below_threshold"]})
    );
    let card = json!({"raroi": 3, "confidence": 0.9, "forecast": {"projections": [{"roi": 1}], "confidence": 0.9, "dag_impact": {"n": 1}}});
    let e = evaluate(&card, &Policy::default(), &OverrideInput::default());
    let line = crate::decision_log_record(&card, &e, 8);
    assert_eq!(line["forecast_projections"], json!([{"roi": 1}]));
    assert_eq!(line["dag_impact"], json!({"n": 1}));
    assert_eq!(line["forecast_confidence"], json!(0.9));
    assert_eq!(line["decision"], true);
}

#[test]
fn a_rule_may_decide_every_verdict_borderline_included() {
    let card = json!({"raroi": 2, "confidence": 0.9});
    for decision in ["promote", "demote", "pilot", "no_go", "borderline"] {
        let p = policy(json!({"rules": [{"decision": decision, "condition": "True"}]}));
        let (v, codes) = verdict(&card, &p);
        assert_eq!((v.as_str(), codes), (decision, vec![decision.to_string()]));
        assert_eq!(Verdict::parse(decision), Some(v));
        assert_eq!(v.to_string(), decision);
    }
    assert_eq!(Verdict::parse("Promote"), None);
}

/// The variance is computed from deviations (two passes), not as the mean
/// of squares minus the squared mean, which cancels catastrophically for
/// large scores: 1e8 + {0.1, 0.2, 0.7} has variance 0.069, not 1.06.
#[test]
fn variance_stays_exact_for_large_scores() {
    let card = json!({"raroi": 2, "confidence": 0.9, "scenario_scores": {
        "a": 100_000_000.1, "b": 100_000_000.2, "c": 100_000_000.7}});
    let p = policy(json!({"max_variance": 0.1}));
    assert_eq!(verdict(&card, &p), (Verdict::Promote, vec![]));
    let p = policy(json!({"max_variance": 0.06}));
    assert_eq!(verdict(&card, &p).1, codes(&["variance_above_max"]));
    let p = policy(
        json!({"rules": [{"decision": "demote", "condition": "score_variance > 0.0688 and score_variance < 0.069", "reason_code": "exact"}]}),
    );
    assert_eq!(verdict(&card, &p).1, codes(&["exact"]));
}
