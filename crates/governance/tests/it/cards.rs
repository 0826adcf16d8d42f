//! The typed reading of scorecards: every field of the wrong type is an
//! error naming the field, never a value skipped (which fails open).

use gavel_governance::{Scorecard, ScorecardError};
use serde_json::{Value, json};

use crate::{codes, evaluate};

fn base() -> Value {
    json!({"workflow_id": "wf-1", "raroi": 2.0, "confidence": 0.9})
}

/// The error for `base()` with `field` set to `value`.
fn error_with(field: &str, value: Value) -> ScorecardError {
    let mut card = base();
    card[field] = value;
    match Scorecard::from_json(&card) {
        Ok(c) => panic!("{card} was read as {c:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_names(e: &ScorecardError, pointer: &str, expected: &str) {
    assert_eq!(e.pointer(), pointer, "{e}");
    let text = e.to_string();
    assert!(text.contains(&format!("`{pointer}`")), "{text}");
    assert!(text.contains(expected), "{text}");
}

#[test]
fn wrong_typed_scenario_scores_are_errors_not_skipped() {
    let e = error_with("scenario_scores", json!({"a": "0.1"}));
    assert_names(&e, "/scenario_scores/a", "must be a number");
    assert!(e.to_string().contains(r#"a string `"0.1"`"#), "{e}");
    for bad in [json!([0.1]), json!("bad"), json!(3)] {
        let e = error_with("scenario_scores", bad);
        assert_names(
            &e,
            "/scenario_scores",
            "an object of scenario names to numbers",
        );
    }
    let e = error_with("scenario_scores", json!({"a": null}));
    assert_names(&e, "/scenario_scores/a", "must be a number");
    // The typed value is what the evaluator would have skipped.
    assert_eq!(
        evaluate(
            &json!({"raroi": 2.0, "confidence": 0.9, "scenario_scores": {"a": 0.1}}),
            &Default::default(),
            &Default::default()
        )
        .reason_codes,
        codes(&["scenario_below_min"])
    );
}

#[test]
fn wrong_typed_numbers_and_strings_are_errors() {
    for field in ["raroi", "confidence", "sandbox_roi", "adapter_roi"] {
        for bad in [json!("1.5"), json!(true), json!([1]), json!({"v": 1})] {
            assert_names(&error_with(field, bad), &format!("/{field}"), "a number");
        }
    }
    for field in ["workflow_id", "patch_summary"] {
        assert_names(
            &error_with(field, json!(7)),
            &format!("/{field}"),
            "a string",
        );
    }
    for field in ["alignment_status", "security_status"] {
        let e = error_with(field, json!(0));
        assert_names(&e, &format!("/{field}"), "a status string");
    }
    for field in ["alignment", "security"] {
        assert_names(
            &error_with(field, json!("fail")),
            &format!("/{field}"),
            "an object",
        );
        assert_names(
            &error_with(field, json!({"status": 1})),
            &format!("/{field}/status"),
            "a status string",
        );
    }
    let e = Scorecard::from_json(&json!([1, 2])).unwrap_err();
    assert_eq!(e.pointer(), "");
    assert!(e.to_string().contains("a JSON object, found a list"), "{e}");
}

#[test]
fn wrong_typed_forecasts_are_errors_so_the_gate_is_not_skipped() {
    let forecast = |f: Value| error_with("forecast", f);
    assert_names(
        &forecast(json!({"projections": [{"cycle": 1, "roi": "-5"}]})),
        "/forecast/projections/0/roi",
        "a number",
    );
    assert_names(
        &forecast(json!({"projections": "lots"})),
        "/forecast/projections",
        "a list",
    );
    assert_names(
        &forecast(json!({"projections": [3]})),
        "/forecast/projections/0",
        "an object",
    );
    assert_names(
        &forecast(json!({"projections": [{"cycle": 1}]})),
        "/forecast/projections/0/roi",
        "needs its `roi`",
    );
    for field in ["cycle", "risk", "confidence", "decay"] {
        assert_names(
            &forecast(json!({"projections": [{"roi": 1, field: "x"}]})),
            &format!("/forecast/projections/0/{field}"),
            "a number",
        );
    }
    assert_names(
        &forecast(json!({"confidence": "0.1"})),
        "/forecast/confidence",
        "a number",
    );
    assert_names(
        &forecast(json!({"dag_impact": {"a": "-1"}})),
        "/forecast/dag_impact/a",
        "a number",
    );
    assert_names(
        &forecast(json!({"dag_impact": {"a": null}})),
        "/forecast/dag_impact/a",
        "a number",
    );
    assert_names(
        &forecast(json!({"dag_impact": "-1"})),
        "/forecast/dag_impact",
        "a number or an object",
    );
    assert_names(
        &forecast(json!({"collapse_risk": 1})),
        "/forecast/collapse_risk",
        "true, false or a string",
    );
    assert_names(&forecast(json!("soon")), "/forecast", "an object");
    assert_names(&forecast(json!([])), "/forecast", "an object");
}

#[test]
fn a_flat_and_a_nested_status_that_disagree_are_an_error() {
    for name in ["alignment", "security"] {
        let mut card = base();
        card[format!("{name}_status")] = json!("pass");
        card[name] = json!({"status": "fail"});
        let e = Scorecard::from_json(&card).unwrap_err();
        assert_names(&e, &format!("/{name}/status"), "says `fail`");
        assert!(
            e.to_string()
                .contains(&format!("`/{name}_status` says `pass`")),
            "{e}"
        );
        // The other way round too.
        card[format!("{name}_status")] = json!("FAIL");
        card[name] = json!({"status": "pass"});
        assert!(Scorecard::from_json(&card).is_err());
        // Agreeing forms are fine (case does not matter), and both vetoes veto.
        card[name] = json!({"status": "blocked"});
        let code = format!("{name}_veto");
        assert_eq!(
            evaluate(&card, &Default::default(), &Default::default()).reason_codes,
            vec![code.clone()]
        );
        card[format!("{name}_status")] = json!("Pass");
        card[name] = json!({"status": "pass"});
        assert!(
            evaluate(&card, &Default::default(), &Default::default())
                .reason_codes
                .is_empty()
        );
    }
}

#[test]
fn a_nested_security_status_vetoes() {
    let card = json!({"raroi": 2.0, "confidence": 0.9, "security": {"status": "fail"}});
    let e = evaluate(&card, &Default::default(), &Default::default());
    assert_eq!(
        (e.verdict, e.reason_codes),
        (gavel_governance::Verdict::Demote, codes(&["security_veto"]))
    );
    // Booleans read as pass and fail.
    let card = json!({"raroi": 2.0, "confidence": 0.9, "security_status": false});
    assert_eq!(
        evaluate(&card, &Default::default(), &Default::default()).reason_codes,
        codes(&["security_veto"])
    );
    let card = json!({"raroi": 2.0, "confidence": 0.9, "alignment": {"status": true}});
    assert!(
        evaluate(&card, &Default::default(), &Default::default())
            .reason_codes
            .is_empty()
    );
}

#[test]
fn misspelled_fields_are_errors_other_extra_fields_are_free_form() {
    let e = error_with("secuirty_status", json!("fail"));
    assert_eq!(e.pointer(), "/secuirty_status");
    assert!(
        e.to_string().contains("did you mean `security_status`?"),
        "{e}"
    );
    let e = error_with("forecast", json!({"colapse_risk": true}));
    assert_eq!(e.pointer(), "/forecast/colapse_risk");
    assert!(e.to_string().contains("`collapse_risk`"), "{e}");
    let e = error_with("forecast", json!({"projections": [{"roi": 1, "rio": 2}]}));
    assert_eq!(e.pointer(), "/forecast/projections/0/rio");
    let e = error_with("alignment", json!({"statu": "fail"}));
    assert_eq!(e.pointer(), "/alignment/statu");
    // Free-form extras: owner, notes, metrics.
    let mut card = base();
    card["owner"] = json!({"team": "payments"});
    card["notes"] = json!("reviewed");
    card["alignment"] = json!({"status": "pass", "reviewer": "kim"});
    assert!(Scorecard::from_json(&card).is_ok());
}

#[test]
fn nulls_read_as_absent() {
    let card = json!({
        "workflow_id": null, "alignment_status": null, "alignment": null,
        "security_status": null, "security": {"status": null}, "raroi": null,
        "confidence": null, "sandbox_roi": null, "adapter_roi": null,
        "scenario_scores": null, "patch_summary": null,
        "forecast": {"projections": null, "confidence": null, "collapse_risk": null, "dag_impact": null},
    });
    let c = Scorecard::from_json(&card).unwrap();
    assert_eq!(
        (c.workflow_id, c.raroi, c.scenario_scores.is_none()),
        (None, None, true)
    );
    let f = c.forecast.unwrap();
    assert_eq!(
        (
            f.projections,
            f.min_roi,
            f.collapse_risk,
            f.negative_dag_impact
        ),
        (None, None, false, false)
    );
    assert_eq!(
        Scorecard::from_json(&json!({"forecast": null}))
            .unwrap()
            .forecast,
        None
    );
}

#[test]
fn a_well_typed_card_is_read_in_full() {
    let card = json!({
        "workflow_id": "wf-9", "alignment": {"status": "PASS"}, "security_status": "pass",
        "raroi": 1.5, "confidence": 0.8, "sandbox_roi": 0.3, "adapter_roi": 0.9,
        "scenario_scores": {"b": 0.7, "a": 0.6}, "patch_summary": "bump",
        "forecast": {"projections": [{"cycle": 1, "roi": 0.4, "risk": 0.1, "confidence": 0.9, "decay": 0.01}, {"cycle": 2, "roi": -0.2}],
                     "confidence": 0.75, "collapse_risk": "Brittle", "dag_impact": {"x": 0.2, "y": -0.1}},
    });
    let c = Scorecard::from_json(&card).unwrap();
    assert_eq!(c.workflow_id, Some("wf-9"));
    assert_eq!(c.alignment_status.as_deref(), Some("PASS"));
    assert_eq!(c.security_status.as_deref(), Some("pass"));
    assert_eq!(
        (c.raroi, c.confidence, c.sandbox_roi, c.adapter_roi),
        (Some(1.5), Some(0.8), Some(0.3), Some(0.9))
    );
    assert_eq!(
        c.scenario_scores.as_deref(),
        Some(&[("a", 0.6), ("b", 0.7)][..])
    );
    assert_eq!(c.patch_summary, Some("bump"));
    let f = c.forecast.unwrap();
    assert_eq!(
        (
            f.min_roi,
            f.confidence,
            f.collapse_risk,
            f.negative_dag_impact
        ),
        (Some(-0.2), Some(0.75), true, true)
    );
    assert_eq!(f.projections, card["forecast"].get("projections"));
    assert_eq!(f.dag_impact, card["forecast"].get("dag_impact"));
    // A numeric dag_impact: only a negative one fails.
    for (impact, negative) in [(json!(-0.01), true), (json!(0), false), (json!(0.5), false)] {
        let card = json!({"forecast": {"dag_impact": impact}});
        let f = Scorecard::from_json(&card).unwrap().forecast.unwrap();
        assert_eq!(f.negative_dag_impact, negative, "{impact}");
    }
    // Collapse risk: only the listed strings.
    for (risk, fails) in [
        (json!("Immediate collapse risk"), true),
        (json!("brittle"), true),
        (json!("BRITTLE"), true),
        (json!("immediate collapse risk"), false),
        (json!("low"), false),
        (json!(false), false),
    ] {
        let card = json!({"forecast": {"collapse_risk": risk}});
        let f = Scorecard::from_json(&card).unwrap().forecast.unwrap();
        assert_eq!(f.collapse_risk, fails, "{risk}");
    }
}

#[test]
fn long_wrong_values_are_shortened_in_messages() {
    let forty = "x".repeat(38); // with its quotes, 40 characters: shown whole
    let e = error_with("raroi", json!(forty));
    assert!(
        e.to_string()
            .ends_with(&format!("found a string `\"{forty}\"`")),
        "{e}"
    );
    let long = "y".repeat(60);
    let e = error_with("raroi", json!(long));
    let shown = format!("\"{}...", "y".repeat(36));
    assert!(
        e.to_string()
            .ends_with(&format!("found a string `{shown}`")),
        "{e}"
    );
}

#[test]
fn a_dag_impact_of_zero_is_not_negative() {
    for impact in [json!({"n": 0}), json!({"n": 0.0, "m": 0.3}), json!(0.0)] {
        let card = json!({"forecast": {"dag_impact": impact}});
        let f = Scorecard::from_json(&card).unwrap().forecast.unwrap();
        assert!(!f.negative_dag_impact, "{impact}");
    }
    let card = json!({"forecast": {"dag_impact": {"n": 0, "m": -0.001}}});
    assert!(
        Scorecard::from_json(&card)
            .unwrap()
            .forecast
            .unwrap()
            .negative_dag_impact
    );
}
