//! One test per lint check, with the boundaries the design names, through
//! `lint` on parsed documents.

use gavel_policy::{Finding, Format, LintConfig, LintReport, Severity, lint, parse_document};

fn report(yaml: &str) -> LintReport {
    lint(
        &parse_document(yaml, Format::Yaml).unwrap(),
        &LintConfig::default(),
    )
}

/// The findings as `(code, rule_id)`, in report order.
fn codes(yaml: &str) -> Vec<(&'static str, Option<String>)> {
    report(yaml)
        .findings
        .into_iter()
        .map(|f| (f.code, f.rule_id))
        .collect()
}

fn find<'a>(r: &'a LintReport, code: &str) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no `{code}` in {:#?}", r.findings))
}

fn some(s: &str) -> Option<String> {
    Some(s.to_string())
}

/// A rule with the given extra YAML lines (indented under the rule).
fn rule(id: &str, extra: &str) -> String {
    let mut r = format!(
        "  - id: {id}\n    agent: inbox.triage\n    action: quarantine\n    effect: allow\n    reason: Reason long enough to pass\n"
    );
    for line in extra.lines() {
        r.push_str("    ");
        r.push_str(line);
        r.push('\n');
    }
    r
}

fn bundle(rules: &[String]) -> String {
    format!("rules:\n{}", rules.concat())
}

#[test]
fn a_clean_bundle_passes() {
    let r = report(&bundle(&[rule("only-rule", "")]));
    assert!(r.passed());
    assert_eq!(r.summary.total_issues, 0, "{:#?}", r.findings);
    assert_eq!(r.summary.total_rules, 1);
}

#[test]
fn example_bundles_have_no_errors() {
    for entry in std::fs::read_dir(crate::fixtures().join("bundles")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = parse_document(&text, Format::detect(path.to_str().unwrap(), &text)).unwrap();
        let r = lint(&doc, &LintConfig::default());
        assert!(r.passed(), "{}: {:#?}", path.display(), r.findings);
    }
}

#[test]
fn short_reason_boundary() {
    let ten = bundle(&[rule("r-ten", "").replace("Reason long enough to pass", "abcdefghij")]);
    assert!(codes(&ten).is_empty());
    let nine = bundle(&[rule("r-nine", "").replace("Reason long enough to pass", "abcdefghi")]);
    assert_eq!(codes(&nine), [("short-reason", some("r-nine"))]);
    // Characters, not bytes: ten characters of two bytes each pass.
    let wide = bundle(&[rule("r-wide", "").replace("Reason long enough to pass", "éééééééééé")]);
    assert!(codes(&wide).is_empty());
}

#[test]
fn high_cost_boundary() {
    let at = bundle(&[rule("cost-at", "budget: {cost: 1000}")]);
    assert!(codes(&at).is_empty());
    let over = bundle(&[rule("cost-over", "budget: {cost: 1000.01}")]);
    assert_eq!(codes(&over), [("high-cost", some("cost-over"))]);
}

#[test]
fn missing_id_duplicate_id_missing_reason() {
    let no_id = "rules:\n  - agent: inbox.triage\n    action: quarantine\n    effect: allow\n    reason: Reason long enough\n";
    assert_eq!(codes(no_id), [("missing-id", None)]);
    let dup = bundle(&[rule("same", ""), rule("other", ""), rule("same", "")]);
    let r = report(&dup);
    let f = find(&r, "duplicate-id");
    assert_eq!(
        (f.index, f.related_rules.clone()),
        (Some(2), vec!["same".to_string()])
    );
    assert!(f.message.contains("first used by rule 0"), "{}", f.message);
    let no_reason = "rules:\n  - id: quiet\n    agent: inbox.triage\n    action: quarantine\n    effect: allow\n";
    assert_eq!(codes(no_reason), [("missing-reason", some("quiet"))]);
    let empty = bundle(&[rule("blank", "").replace("Reason long enough to pass", "''")]);
    assert_eq!(codes(&empty), [("missing-reason", some("blank"))]);
}

#[test]
fn invalid_rule_names_the_field() {
    let r = report(&bundle(&[rule("bad-prio", "priority: 101")]));
    let f = find(&r, "invalid-rule");
    assert!(f.message.contains("priority"), "{}", f.message);
    assert_eq!((f.index, f.line), (Some(0), Some(2)));
    // Each problem once: an unknown action is `unknown-action`, not also `invalid-rule`.
    let unknown =
        bundle(&[rule("odd-action", "").replace("action: quarantine", "action: archive")]);
    assert_eq!(codes(&unknown), [("unknown-action", some("odd-action"))]);
}

#[test]
fn invalid_conditions() {
    assert_eq!(
        codes(&bundle(&[rule("not-object", "conditions: [1, 2]")])),
        [("invalid-conditions", some("not-object"))]
    );
    assert_eq!(
        codes(&bundle(&[rule("word-op", "conditions: {\"near:x\": 1}")])),
        [("invalid-conditions", some("word-op"))]
    );
    assert_eq!(
        codes(&bundle(&[rule(
            "bad-regex",
            "conditions: {\"matches:x\": \"(\"}"
        )])),
        [("invalid-conditions", some("bad-regex"))]
    );
    assert_eq!(
        codes(&bundle(&[rule("in-scalar", "conditions: {\"in:x\": 3}")])),
        [("invalid-conditions", some("in-scalar"))]
    );
}

#[test]
fn suspicious_operators() {
    for (cond, hint) in [
        ("\"=>risk\": 30", "`>=risk`"),
        ("\"!env\": prod", "`!=env`"),
        ("\">>risk\": 30", "`>risk`"),
        ("\"risk_score>=\": 30", "`>=risk_score`"),
        ("{risk: \">30\"}", "`\">risk\": 30`"),
    ] {
        let c = if cond.starts_with('{') {
            format!("conditions: {cond}")
        } else {
            format!("conditions: {{{cond}}}")
        };
        let r = report(&bundle(&[rule("sus", &c)]));
        let f = find(&r, "suspicious-operator");
        assert!(f.suggestion.contains(hint), "{cond}: {}", f.suggestion);
        assert_eq!(f.severity, Severity::Warning);
    }
}

#[test]
fn missing_budget_and_disabled() {
    let r = report(&bundle(&[
        rule("ask", "").replace("effect: allow", "effect: needs_approval"),
        rule("off", "enabled: false"),
    ]));
    let got: Vec<_> = r.findings.iter().map(|f| (f.code, f.severity)).collect();
    assert_eq!(
        got,
        [
            ("missing-budget", Severity::Warning),
            ("disabled", Severity::Info)
        ]
    );
    assert!(r.passed());
}

#[test]
fn unsatisfiable_names_the_clashing_conditions() {
    let r = report(&bundle(&[rule(
        "never",
        "conditions: {\">=x\": 90, \"<x\": 50}",
    )]));
    let f = find(&r, "unsatisfiable");
    assert!(f.message.contains("`>=x` and `<x`"), "{}", f.message);
    // Touching ends: >=50 and <=50 holds at exactly 50.
    assert!(
        codes(&bundle(&[rule(
            "edge",
            "conditions: {\">=x\": 50, \"<=x\": 50}"
        )]))
        .is_empty()
    );
    // >50 and <=50 cannot.
    assert_eq!(
        codes(&bundle(&[rule(
            "open",
            "conditions: {\">x\": 50, \"<=x\": 50}"
        )])),
        [("unsatisfiable", some("open"))]
    );
    // A number and a string for one field.
    assert_eq!(
        codes(&bundle(&[rule(
            "types",
            "conditions: {\">x\": 5, \"in:x\": [a, b]}"
        )])),
        [("unsatisfiable", some("types"))]
    );
    // exists false and a value.
    assert_eq!(
        codes(&bundle(&[rule(
            "gone",
            "conditions: {\"exists:x\": false, \"x\": 1}"
        )])),
        [("unsatisfiable", some("gone"))]
    );
    // Time: a weekday nobody has.
    assert_eq!(
        codes(&bundle(&[rule(
            "no-day",
            "conditions: {\"in:$weekday\": [mon], \"not_in:$weekday\": [mon, tue]}"
        )])),
        [("unsatisfiable", some("no-day"))]
    );
}

#[test]
fn deny_catch_all_above_an_allow_is_two_findings() {
    let r = report(&bundle(&[
        rule("deny-all", "priority: 90").replace("effect: allow", "effect: deny"),
        rule("allow-some", "conditions: {\">=risk\": 10}"),
    ]));
    let got: Vec<_> = r
        .findings
        .iter()
        .map(|f| (f.code, f.rule_id.clone().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("conflict", "deny-all".to_string()),
            ("unreachable", "allow-some".to_string())
        ]
    );
    let conflict = find(&r, "conflict");
    assert_eq!(conflict.related_rules, ["allow-some"]);
    let w = conflict.witness.as_ref().unwrap();
    assert_eq!(w["agent"], "inbox.triage");
    assert!(w["context"]["risk"].as_f64().unwrap() >= 10.0, "{w}");
    assert_eq!(find(&r, "unreachable").related_rules, ["deny-all"]);
}

#[test]
fn equal_priorities_keep_file_order_for_shadowing() {
    let first_wide = report(&bundle(&[
        rule("wide", ""),
        rule("narrow", "conditions: {x: 1}"),
    ]));
    assert_eq!(
        find(&first_wide, "unreachable").rule_id.as_deref(),
        Some("narrow")
    );
    let first_narrow = report(&bundle(&[
        rule("narrow", "conditions: {x: 1}"),
        rule("wide", ""),
    ]));
    assert!(
        first_narrow.findings.is_empty(),
        "{:#?}",
        first_narrow.findings
    );
}

#[test]
fn a_disabled_catch_all_shadows_nothing() {
    let r = report(&bundle(&[
        rule("all", "priority: 100\nenabled: false"),
        rule("some", "conditions: {x: 1}"),
    ]));
    let got: Vec<_> = r.findings.iter().map(|f| f.code).collect();
    assert_eq!(got, ["disabled"]);
}

#[test]
fn union_of_rules_shadows_exactly() {
    let rules = [
        rule("high", "priority: 60\nconditions: {\">=x\": 50}"),
        rule("low", "priority: 60\nconditions: {\"<x\": 50}").replace(
            "effect: allow",
            "effect: needs_approval\n    budget: {cost: 1}",
        ),
        rule("any-number", "conditions: {\">=x\": -1000}"),
        rule("anything-present", "conditions: {\"exists:x\": true}"),
    ];
    let r = report(&bundle(&rules));
    let unreachable: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.code == "unreachable")
        .collect();
    assert_eq!(unreachable.len(), 1, "{:#?}", r.findings);
    assert_eq!(unreachable[0].rule_id.as_deref(), Some("any-number"));
    assert_eq!(unreachable[0].related_rules, ["high", "low"]);
    // `anything-present` still decides strings and booleans.
}

#[test]
fn wildcards_shadow_by_pattern() {
    let rules = [
        rule("ns-wide", "priority: 80").replace("agent: inbox.triage", "agent: inbox.*"),
        rule("exact", ""),
        rule("other-ns", "").replace("agent: inbox.triage", "agent: ops.deploy"),
    ];
    let r = report(&bundle(&rules));
    let got: Vec<_> = r
        .findings
        .iter()
        .map(|f| (f.code, f.rule_id.clone().unwrap()))
        .collect();
    assert_eq!(got, [("unreachable", "exact".to_string())]);
}

#[test]
fn inexact_conditions_stay_silent() {
    let rules = [
        rule(
            "regex",
            "priority: 90\nconditions: {\"matches:subject\": \"^a\"}",
        )
        .replace("effect: allow", "effect: deny"),
        rule("plain", "conditions: {\"matches:subject\": \"^a\"}"),
    ];
    assert!(codes(&bundle(&rules)).is_empty());
    // But a regex rule below a catch-all is still unreachable: the catch-all is exact.
    let rules = [
        rule("all", "priority: 90"),
        rule("regex", "conditions: {\"contains:tags\": x}"),
    ];
    assert_eq!(codes(&bundle(&rules)), [("unreachable", some("regex"))]);
}

#[test]
fn bad_shapes_are_findings_not_crashes() {
    let r = report("rules: {not: a list}\n");
    assert_eq!(r.findings[0].code, "invalid-rule");
    assert_eq!(r.findings[0].index, None);
    assert!(!r.passed());
    let r = report("rules:\n  - 42\n  - just text\n");
    let got: Vec<_> = r.findings.iter().map(|f| (f.code, f.index)).collect();
    assert_eq!(got, [("invalid-rule", Some(0)), ("invalid-rule", Some(1))]);
    assert_eq!(r.summary.total_rules, 2);
    let r = report(
        "rules:\n  - id: 42\n    agent: inbox.triage\n    action: quarantine\n    effect: allow\n    reason: Reason long enough\n",
    );
    assert_eq!(r.findings[0].code, "invalid-rule");
    assert!(
        r.findings[0].message.contains("`id` must be a string"),
        "{}",
        r.findings[0].message
    );
    let r = report("- [nested, list]\n- {}\n");
    assert!(r.findings.iter().all(|f| f.severity == Severity::Error));
}

#[test]
fn findings_are_ordered_by_severity_then_check_then_index() {
    let rules = [
        rule("b-off", "enabled: false"),
        rule("c-short", "conditions: {x: 1}").replace("Reason long enough to pass", "short"),
        rule("d-dup", "conditions: {x: 2}"),
        rule("d-dup", "conditions: {x: 3}").replace("Reason long enough to pass", "tiny"),
    ];
    let r = report(&bundle(&rules));
    let got: Vec<_> = r
        .findings
        .iter()
        .map(|f| (f.code, f.index.unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("duplicate-id", 3),
            ("short-reason", 1),
            ("short-reason", 3),
            ("disabled", 0)
        ]
    );
    assert_eq!(
        (r.summary.errors, r.summary.warnings, r.summary.info),
        (1, 2, 1)
    );
}

#[test]
fn work_budget_runs_out_into_an_info_finding() {
    // Twelve disjoint slices of x cover [0, 12); the last rule needs all of them.
    let mut rules: Vec<String> = (0..12)
        .map(|i| {
            rule(
                &format!("slice-{i:02}"),
                &format!(
                    "priority: 90\nconditions: {{\">=x\": {i}, \"<x\": {}, \"in:y\": [a, b]}}",
                    i + 1
                ),
            )
        })
        .collect();
    rules.push(rule(
        "covered",
        "conditions: {\">=x\": 0, \"<x\": 12, \"in:y\": [a, b]}",
    ));
    let doc = parse_document(&bundle(&rules), Format::Yaml).unwrap();
    let full = lint(&doc, &LintConfig::default());
    assert_eq!(
        find(&full, "unreachable").rule_id.as_deref(),
        Some("covered")
    );
    let starved = lint(
        &doc,
        &LintConfig {
            work_budget: 3,
            ..LintConfig::default()
        },
    );
    let n = starved.summary.analysis_incomplete;
    assert!(n >= 1, "{:#?}", starved.findings);
    let f = find(&starved, "analysis-incomplete");
    assert_eq!(f.severity, Severity::Info);
    assert!(
        f.message
            .contains(&format!("conflicts and shadowing of {n} rule")),
        "{}",
        f.message
    );
    assert!(starved.findings.iter().all(|f| f.code != "unreachable"));
}
