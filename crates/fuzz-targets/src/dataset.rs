//! Simulation datasets: CSV streamed a row at a time, JSON Lines, JSON
//! arrays and decision logs; what reads is simulated against the example
//! bundle, and a case written back as a JSON line reads as the same case.

use std::sync::OnceLock;

use gavel_policy::sim::{
    self, Case, CaseFormat, CsvCases, SimConfig, parse_case_line, parse_cases, parse_decision_log,
};
use gavel_policy::{Bundle, Format};
use serde_json::json;

fn bundle() -> &'static Bundle {
    static BUNDLE: OnceLock<Bundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        match gavel_policy::parse_bundle(
            include_str!("../../../fixtures/bundles/inbox-triage.yaml"),
            Format::Yaml,
        ) {
            Ok(b) => b,
            Err(e) => panic!("the fixture bundle does not load: {e}"),
        }
    })
}

/// Simulates what was read (one thread, and two: the same report).
fn simulate(cases: &[Case]) {
    let one = sim::simulate(bundle(), cases, &SimConfig::default());
    let two = sim::simulate(
        bundle(),
        cases,
        &SimConfig {
            threads: 2,
            progress: None,
        },
    );
    let (a, b) = (serde_json::to_string(&one), serde_json::to_string(&two));
    assert!(a.is_ok(), "the report does not serialize");
    assert_eq!(a.ok(), b.ok(), "thread count changed the report");
}

/// A case as a JSON line (every field it has), for reading back.
fn case_line(case: &Case) -> String {
    let mut v = serde_json::Map::new();
    v.insert("case_id".into(), json!(case.case_id));
    v.insert("agent".into(), json!(case.agent));
    v.insert("action".into(), json!(case.action));
    v.insert("context".into(), case.context_json());
    if let Some(t) = case.timestamp {
        v.insert("timestamp".into(), json!(t.to_string()));
    }
    if let Some(s) = &case.subject {
        v.insert("subject".into(), json!(s));
    }
    if let Some(e) = case.expected_effect {
        v.insert("expected_effect".into(), json!(e.as_str()));
    }
    if let Some(r) = &case.expected_rule {
        v.insert("expected_rule".into(), json!(r));
    }
    let v = serde_json::Value::Object(v);
    v.to_string()
}

/// A case read back from its own JSON line is the same case.
fn round_trip(case: &Case) {
    let line = case_line(case);
    match parse_case_line(&line, 1, 1) {
        Ok(Some(again)) => {
            // Keys compare in any order: the line wrote them sorted.
            assert_eq!(
                (
                    &again.case_id,
                    &again.agent,
                    &again.action,
                    again.context_json(),
                    again.timestamp,
                    &again.subject,
                    again.expected_effect,
                    &again.expected_rule,
                ),
                (
                    &case.case_id,
                    &case.agent,
                    &case.action,
                    case.context_json(),
                    case.timestamp,
                    &case.subject,
                    case.expected_effect,
                    &case.expected_rule,
                ),
                "{line}"
            );
        }
        other => panic!("a case written as a JSON line does not read back: {other:?}\n{line}"),
    }
}

/// A CSV dataset: streamed with a row limit or whole, the same cases
/// (a row over the limit is the only difference allowed); each case
/// simulated and read back from its JSON line.
pub fn dataset_csv(data: &[u8]) {
    let whole: Result<Vec<Case>, _> = CsvCases::new(data, usize::MAX).collect();
    let limited: Result<Vec<Case>, _> = CsvCases::new(data, 256).collect();
    match (&whole, &limited) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (_, Err(e)) if e.message.contains("longer than") => {}
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("a row limit changed the cases: {whole:?} / {limited:?}"),
    }
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(parse_cases(text, CaseFormat::Csv), whole);
    }
    if let Ok(cases) = whole {
        cases.iter().for_each(round_trip);
        simulate(&cases);
    }
}

/// JSON Lines, a JSON array and a decision log read from the same text:
/// each line reads as it reads alone; each case simulated and read back
/// from its JSON line.
pub fn dataset_jsonl(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = CaseFormat::detect("", text);
    let lines = parse_cases(text, CaseFormat::JsonLines);
    if let Ok(cases) = &lines {
        let mut alone = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = if i == 0 {
                line.trim_start_matches('\u{feff}')
            } else {
                line
            };
            if let Ok(Some(c)) = parse_case_line(line, i + 1, alone.len() + 1) {
                alone.push(c);
            }
        }
        assert_eq!(&alone, cases);
        cases.iter().for_each(round_trip);
        simulate(cases);
    }
    if let Ok(cases) = parse_cases(text, CaseFormat::JsonArray) {
        cases.iter().for_each(round_trip);
        simulate(&cases);
    }
    if let Ok(log) = parse_decision_log(text) {
        let replay = sim::replay(bundle(), &log, &SimConfig::default());
        assert!(serde_json::to_value(&replay).is_ok());
    }
}
