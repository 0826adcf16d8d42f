//! The governance condition language on any text, and policies and
//! scorecards read and evaluated.

use gavel_governance::expr::{self, Val};
use gavel_governance::{NAMES, OverrideInput, Policy, Scorecard, decision_log_line, evaluate};
use gavel_policy::{Format, parse_document};
use serde_json::Value;

use crate::Source;

/// Values a variable may have, a byte choosing each.
const VALUES: [Val<'static>; 16] = [
    Val::None,
    Val::Bool(true),
    Val::Bool(false),
    Val::Num(0.0),
    Val::Num(1.0),
    Val::Num(-1.0),
    Val::Num(0.5),
    Val::Num(0.7),
    Val::Num(1e308),
    Val::Num(-0.0),
    Val::Num(f64::NAN),
    Val::Num(f64::INFINITY),
    Val::Str(""),
    Val::Str("PASS"),
    Val::Str("FAIL"),
    Val::Str("a"),
];

/// Python's truthiness, which conditions read.
fn truthy(v: Val<'_>) -> bool {
    match v {
        Val::None => false,
        Val::Bool(b) => b,
        Val::Num(n) => n != 0.0,
        Val::Str(s) => !s.is_empty(),
    }
}

/// An expression (the bytes up to the first NUL) over the policy names,
/// then a byte per name choosing its value: parsing never panics and an
/// error's position is inside the text; `holds` (which decides and/or/not
/// without building values) agrees with the truthiness of `eval`.
pub fn governance_expr(data: &[u8]) {
    let mut src = Source::new(data);
    let Ok(text) = std::str::from_utf8(src.until_nul()) else {
        return;
    };
    let vars: Vec<Val<'static>> = NAMES
        .iter()
        .map(|_| src.pick(&VALUES).unwrap_or(Val::None))
        .collect();
    match expr::parse(text, &NAMES) {
        Ok(e) => {
            let held = e.holds(&vars);
            let value = e.eval(&vars).map(truthy);
            assert_eq!(held, value, "holds and eval disagree on `{text}`");
        }
        Err(e) => {
            let chars = text.chars().count();
            assert!(
                e.position <= chars.max(expr::MAX_LEN),
                "error position {} past the text ({chars} characters): {e}",
                e.position
            );
            let _ = e.to_string();
        }
    }
}

const POLICY: &str = include_str!("../../../fixtures/governance/policy.yaml");
const SCORECARDS: [&str; 5] = [
    include_str!("../../../fixtures/governance/scorecards/code-migration.json"),
    include_str!("../../../fixtures/governance/scorecards/forecast-dip.json"),
    include_str!("../../../fixtures/governance/scorecards/invoice-triage.json"),
    include_str!("../../../fixtures/governance/scorecards/outbound-email.json"),
    include_str!("../../../fixtures/governance/scorecards/support-summaries.json"),
];

/// First byte even: the rest is a policy (YAML) evaluated against the
/// fixture scorecards; odd: a scorecard (JSON) evaluated against the
/// fixture policy. A policy's problems are located in its text; every
/// evaluation gives a decision-log line that is one JSON object.
pub fn governance_policy(data: &[u8]) {
    let mut src = Source::new(data);
    let policy_mode = src.byte() & 1 == 0;
    let Ok(text) = std::str::from_utf8(src.rest()) else {
        return;
    };
    if policy_mode {
        let Some(policy) = read_policy(text) else {
            return;
        };
        for card in SCORECARDS {
            if let Ok(card) = serde_json::from_str::<Value>(card) {
                evaluate_card(&card, &policy);
            }
        }
    } else {
        one_pass_agrees(text);
        let (Some(policy), Ok(card)) = (read_policy(POLICY), serde_json::from_str::<Value>(text))
        else {
            return;
        };
        evaluate_card(&card, &policy);
    }
}

/// A scorecard line read in one pass (`Scorecard::from_line`) reads the
/// same through the JSON tree.
fn one_pass_agrees(text: &str) {
    let Some(fast) = Scorecard::from_line(text) else {
        return;
    };
    let tree = gavel_policy::parse_json_value(text)
        .unwrap_or_else(|| panic!("read in one pass, but not one JSON document: {text}"));
    match Scorecard::from_json(&tree) {
        Ok(card) => assert_eq!(
            format!("{fast:?}"),
            format!("{card:?}"),
            "the two readers disagree on {text}"
        ),
        Err(e) => panic!("read in one pass as {fast:?}, the tree reader says {e}: {text}"),
    }
}

fn read_policy(text: &str) -> Option<Policy> {
    let doc = parse_document(text, Format::Yaml).ok()?;
    match Policy::from_document(&doc, text) {
        Ok(p) => Some(p),
        Err(e) => {
            for d in e.diagnostics() {
                let _ = d.to_string();
            }
            None
        }
    }
}

fn evaluate_card(card: &Value, policy: &Policy) {
    let Ok(card) = Scorecard::from_json(card) else {
        return;
    };
    let e = evaluate(&card, policy, &OverrideInput::default());
    let line = decision_log_line(&card, &e, 1_800_000_000);
    assert!(
        serde_json::from_str::<Value>(&line).is_ok_and(|v| v.is_object()),
        "the decision log line is not one JSON object: {line}"
    );
}
