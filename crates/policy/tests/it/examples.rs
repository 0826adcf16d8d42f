//! The example bundles in `fixtures/bundles/` validate, and decide every case
//! in `fixtures/tests/<bundle>.cases.json` as written down there (each file
//! exercises every enabled rule, with boundaries on both sides).

use std::collections::BTreeSet;

use gavel_policy::{Engine, Format, Request, parse_bundle};
use serde::Deserialize;

use crate::fixtures;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    case_id: String,
    agent: String,
    action: String,
    #[serde(default)]
    context: serde_json::Value,
    timestamp: Option<String>,
    expected_effect: String,
    expected_rule: Option<String>,
}

fn load(name: &str) -> (gavel_policy::Bundle, Vec<Case>) {
    let path = fixtures().join("bundles").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let bundle = parse_bundle(&text, Format::detect(name, &text))
        .unwrap_or_else(|e| panic!("{name} does not validate:\n{e}"));
    let stem = name.split('.').next().unwrap();
    let cases =
        std::fs::read_to_string(fixtures().join("tests").join(format!("{stem}.cases.json")))
            .unwrap();
    (bundle, serde_json::from_str(&cases).unwrap())
}

fn request_text(case: &Case) -> String {
    let mut r = serde_json::json!({"agent": case.agent, "action": case.action});
    if !case.context.is_null() {
        r["context"] = case.context.clone();
    }
    if let Some(ts) = &case.timestamp {
        r["timestamp"] = ts.clone().into();
    }
    r.to_string()
}

fn check(name: &str) {
    let (bundle, cases) = load(name);
    assert!(!cases.is_empty(), "{name} has no cases");
    let engine = Engine::compile(&bundle);
    let mut failures = Vec::new();
    let mut decided = BTreeSet::new();
    for case in &cases {
        let text = request_text(case);
        let request: Request<'_> = serde_json::from_str(&text).unwrap();
        let d = engine.decide(&request);
        if d.effect.as_str() != case.expected_effect || d.rule_id() != case.expected_rule.as_deref()
        {
            failures.push(format!(
                "{}: expected {} by {:?}, got {} by {:?}",
                case.case_id,
                case.expected_effect,
                case.expected_rule,
                d.effect,
                d.rule_id()
            ));
        }
        if let Some(id) = d.rule_id() {
            decided.insert(id.to_string());
        }
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    let never: Vec<_> = engine
        .rules()
        .iter()
        .map(|r| r.id())
        .filter(|id| !decided.contains(*id))
        .collect();
    assert!(never.is_empty(), "{name}: no case is decided by {never:?}");
    assert!(
        cases.iter().any(|c| c.expected_rule.is_none()),
        "{name}: no case reaches the default"
    );
}

#[test]
fn inbox_triage() {
    check("inbox-triage.yaml");
}

#[test]
fn knowledge_management() {
    check("knowledge-management.yaml");
}

#[test]
fn deployment_safety() {
    check("deployment-safety.yaml");
}

#[test]
fn budgets() {
    check("budgets.json");
}

#[test]
fn weekday_only() {
    check("weekday-only.yaml");
}

#[test]
fn two_approver() {
    check("two-approver.yaml");
}

#[test]
fn progressive_thresholds() {
    check("progressive-thresholds.yaml");
}

#[test]
fn legacy_bare_list() {
    let (bundle, _) = load("legacy-rules.yaml");
    assert!(bundle.bare_list);
    check("legacy-rules.yaml");
}

#[test]
fn every_example_bundle_is_tested() {
    for entry in std::fs::read_dir(fixtures().join("bundles")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let stem = name.split('.').next().unwrap().to_string();
        assert!(
            fixtures()
                .join("tests")
                .join(format!("{stem}.cases.json"))
                .exists(),
            "{name} has no cases file"
        );
        let tested = [
            "inbox-triage",
            "knowledge-management",
            "deployment-safety",
            "budgets",
            "weekday-only",
            "two-approver",
            "progressive-thresholds",
            "legacy-rules",
        ];
        assert!(
            tested.contains(&stem.as_str()),
            "{name} has no test function here"
        );
    }
}

#[test]
fn nine_curated_simulation_cases() {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SimCase {
        case_id: String,
        agent: String,
        action: String,
        context: serde_json::Value,
        expected_effect: String,
    }
    let text = std::fs::read_to_string(fixtures().join("sim/bundle.yaml")).unwrap();
    let engine = Engine::compile(&parse_bundle(&text, Format::Yaml).unwrap());
    let cases: Vec<SimCase> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("sim/cases.json")).unwrap())
            .unwrap();
    assert_eq!(cases.len(), 9);
    for c in cases {
        let text = serde_json::json!({"agent": c.agent, "action": c.action, "context": c.context})
            .to_string();
        let request: Request<'_> = serde_json::from_str(&text).unwrap();
        assert_eq!(
            engine.decide(&request).effect.as_str(),
            c.expected_effect,
            "{}",
            c.case_id
        );
    }
}

#[test]
fn boundary_at_ninety() {
    let (bundle, _) = load("inbox-triage.yaml");
    let engine = Engine::compile(&bundle);
    let decide = |score: i64| {
        let text = format!(
            r#"{{"agent":"inbox.triage","action":"quarantine","context":{{"risk_score":{score},"category":"phishing"}}}}"#
        );
        let r: Request<'_> = serde_json::from_str(&text).unwrap();
        engine.decide(&r).rule_id().map(str::to_string)
    };
    assert_eq!(decide(90).as_deref(), Some("quarantine-high-risk"));
    assert_ne!(decide(89).as_deref(), Some("quarantine-high-risk"));
}
