//! One test per lint check, with the boundaries the design names, through
//! `lint` on parsed documents.

use std::collections::HashSet;

use gavel_policy::{
    FINDING_BYTES, Finding, Format, LintConfig, LintReport, Linter, MAX_NAMED_RULES, Severity,
    TOTAL_FINDINGS_FACTOR, lint, parse_document,
};

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

/// `n` rules in one group, allow and deny alternating, rule `i` matching
/// `i <= x <= 1000 + i` (so every allow overlaps every deny, and none is
/// shadowed): n²/4 conflicts.
fn overlapping(n: usize) -> String {
    let rules: Vec<String> = (0..n)
        .map(|i| {
            let r = rule(
                &format!("over-{i:04}"),
                &format!("conditions: {{\">=x\": {i}, \"<=x\": {}}}", 1000 + i),
            );
            if i % 2 == 1 {
                r.replace("effect: allow", "effect: deny")
            } else {
                r
            }
        })
        .collect();
    bundle(&rules)
}

fn capped(max_findings: usize) -> LintConfig {
    LintConfig {
        max_findings,
        ..LintConfig::default()
    }
}

fn of_code<'a>(r: &'a LintReport, code: &str) -> Vec<&'a Finding> {
    r.findings.iter().filter(|f| f.code == code).collect()
}

#[test]
fn lint_caps_findings_per_check_and_lists_the_first_ones() {
    let doc = parse_document(&overlapping(40), Format::Yaml).unwrap();
    let full = lint(&doc, &LintConfig::default());
    let conflicts = of_code(&full, "conflict");
    assert!(conflicts.len() > 100, "{}", conflicts.len());
    let small = lint(&doc, &capped(7));
    let listed = of_code(&small, "conflict");
    assert_eq!(listed.len(), 7);
    // The listed findings are the first of the full list, in its order.
    assert_eq!(listed, conflicts[..7]);
    assert_eq!(small.left_out, [("conflict", conflicts.len() - 7)]);
}

#[test]
fn capped_summary_still_counts_every_finding_found() {
    let doc = parse_document(&overlapping(40), Format::Yaml).unwrap();
    let full = lint(&doc, &LintConfig::default());
    let small = lint(&doc, &capped(3));
    let s = small.summary;
    assert_eq!(s.warnings, full.summary.warnings, "found, not listed");
    assert_eq!(s.errors, full.summary.errors);
    // The one extra finding is the `analysis-incomplete` that says so.
    assert_eq!(s.info, full.summary.info + 1);
    assert_eq!(s.total_issues, full.summary.total_issues + 1);
    assert_eq!(s.left_out, s.total_issues - small.findings.len());
    assert_eq!(full.summary.left_out, 0);
}

#[test]
fn analysis_incomplete_says_how_many_findings_were_left_out_per_check_and_how_to_see_them() {
    let doc = parse_document(&overlapping(40), Format::Yaml).unwrap();
    let found = of_code(&lint(&doc, &LintConfig::default()), "conflict").len();
    let r = lint(&doc, &capped(5));
    let f = find(&r, "analysis-incomplete");
    assert_eq!(f.severity, Severity::Info);
    assert!(
        f.message
            .contains(&format!("{} of {found} `conflict`", found - 5)),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("at most 5 are listed per check"),
        "{}",
        f.message
    );
    assert!(f.suggestion.contains("--max-findings"), "{}", f.suggestion);
    // Not capped: no such finding.
    let r = lint(&doc, &capped(100_000));
    assert!(of_code(&r, "analysis-incomplete").is_empty());
}

#[test]
fn lint_caps_findings_in_total_errors_first() {
    // One finding of each check, each rule for its own agent.
    let own = |id: &str, agent: &str, extra: &str| {
        rule(id, extra).replace("agent: inbox.triage", &format!("agent: {agent}"))
    };
    let rules = [
        own("inv-rule", "a.one", "priority: 101"),
        "  - agent: a.two\n    action: quarantine\n    effect: allow\n    reason: Reason long enough\n".to_string(),
        own("dup-id", "a.three", ""),
        own("dup-id", "a.four", ""),
        own("no-reason", "a.five", "").replace("Reason long enough to pass", "''"),
        own("short", "a.six", "").replace("Reason long enough to pass", "short"),
        own("bad-conds", "a.seven", "conditions: [1]"),
        own("sus", "a.eight", "conditions: {\"=>risk\": 3}"),
        own("never", "a.nine", "conditions: {\">=x\": 90, \"<x\": 50}"),
        own("deny-all", "a.ten", "priority: 90").replace("effect: allow", "effect: deny"),
        own("allow-some", "a.ten", "conditions: {\">=risk\": 10}"),
        own("ask", "a.eleven", "").replace("effect: allow", "effect: needs_approval"),
        own("costly", "a.twelve", "budget: {cost: 5000}"),
        own("odd-action", "a.thirteen", "").replace("action: quarantine", "action: archive"),
        own("off", "a.fourteen", "enabled: false"),
    ];
    let doc = parse_document(&bundle(&rules), Format::Yaml).unwrap();
    let full = lint(&doc, &LintConfig::default());
    let checks: HashSet<&str> = full.findings.iter().map(|f| f.code).collect();
    assert!(checks.len() > TOTAL_FINDINGS_FACTOR, "{checks:?}");
    let r = lint(&doc, &capped(1));
    let listed: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.code != "analysis-incomplete")
        .collect();
    assert_eq!(listed.len(), TOTAL_FINDINGS_FACTOR, "{listed:#?}");
    // In report order, so every error comes before any warning.
    let errors = full.summary.errors;
    assert!(
        listed[..errors]
            .iter()
            .all(|f| f.severity == Severity::Error)
    );
    assert_eq!(
        r.summary.left_out,
        full.summary.total_issues - TOTAL_FINDINGS_FACTOR
    );
    assert!(
        find(&r, "analysis-incomplete")
            .message
            .contains(&format!("{} in all", TOTAL_FINDINGS_FACTOR)),
        "{}",
        find(&r, "analysis-incomplete").message
    );
}

#[test]
fn a_conflict_too_large_to_list_is_counted_not_listed() {
    // A field name of 20,000 characters: the witness alone is over what one
    // finding may take with `max_findings: 1` (FINDING_BYTES).
    let field = "f".repeat(20_000);
    let rules = [
        rule("wide-allow", &format!("conditions: {{\">={field}\": 1}}")),
        rule("wide-deny", &format!("conditions: {{\"<={field}\": 2}}"))
            .replace("effect: allow", "effect: deny"),
    ];
    let doc = parse_document(&bundle(&rules), Format::Yaml).unwrap();
    const { assert!(20_000 > FINDING_BYTES) };
    let r = lint(&doc, &capped(1));
    assert!(of_code(&r, "conflict").is_empty());
    assert_eq!(r.left_out, [("conflict", 1)]);
    assert_eq!(r.summary.warnings, 1, "counted");
    // With room for it, it is listed, witness and all.
    let r = lint(&doc, &capped(10));
    assert_eq!(of_code(&r, "conflict").len(), 1);
}

#[test]
fn pair_checks_stop_at_the_group_budget_and_count_the_rules_left() {
    // A big overlapping group, and a small group with one conflict.
    let mut text = overlapping(120);
    text.push_str(
        &[
            rule("small-allow", "conditions: {\">=z\": 1}")
                .replace("agent: inbox.triage", "agent: ops.deploy"),
            rule("small-deny", "conditions: {\">=z\": 2}")
                .replace("agent: inbox.triage", "agent: ops.deploy")
                .replace("effect: allow", "effect: deny"),
        ]
        .concat(),
    );
    let doc = parse_document(&text, Format::Yaml).unwrap();
    let full = lint(&doc, &LintConfig::default());
    assert_eq!(full.summary.analysis_incomplete, 0);
    let starved = lint(
        &doc,
        &LintConfig {
            work_budget: 500,
            ..LintConfig::default()
        },
    );
    let n = starved.summary.analysis_incomplete;
    assert!(n > 0 && n < 120, "{n}");
    assert!(of_code(&starved, "conflict").len() < of_code(&full, "conflict").len());
    // The budget is per group: the small group is analysed in full.
    assert!(
        of_code(&starved, "conflict")
            .iter()
            .any(|f| f.rule_id.as_deref() == Some("small-allow")),
        "{:#?}",
        starved.findings
    );
    // And the total budget bounds all groups together.
    let broke = lint(
        &doc,
        &LintConfig {
            total_work_budget: 0,
            ..LintConfig::default()
        },
    );
    assert_eq!(broke.summary.analysis_incomplete, 122);
    assert!(of_code(&broke, "conflict").is_empty());
    assert!(
        find(&broke, "analysis-incomplete")
            .message
            .contains("122 rules were not analysed")
    );
}

#[test]
fn unreachable_names_at_most_max_named_rules() {
    let slices = MAX_NAMED_RULES + 4;
    let mut rules: Vec<String> = (0..slices)
        .map(|i| {
            rule(
                &format!("slice-{i:02}"),
                &format!(
                    "priority: 90\nconditions: {{\">=x\": {i}, \"<x\": {}}}",
                    i + 1
                ),
            )
        })
        .collect();
    rules.push(rule(
        "covered",
        &format!("conditions: {{\">=x\": 0, \"<x\": {slices}}}"),
    ));
    let r = report(&bundle(&rules));
    let f = find(&r, "unreachable");
    assert_eq!(f.rule_id.as_deref(), Some("covered"));
    assert_eq!(f.related_rules.len(), MAX_NAMED_RULES);
    assert!(f.message.contains("and 4 more rules"), "{}", f.message);
}

#[test]
fn findings_carry_the_rule_column_in_yaml_and_json() {
    let r = report(&bundle(&[rule("yaml-rule", "enabled: false")]));
    let f = find(&r, "disabled");
    // `  - id: yaml-rule`: the rule's mapping starts at `id`.
    assert_eq!((f.line, f.column), (Some(2), Some(5)));

    let json = r#"{"rules": [{"id": "first-rule", "agent": "inbox.triage", "action": "quarantine", "effect": "allow", "reason": "Reason long enough"}, {"id": "é-second", "agent": "inbox.triage", "action": "quarantine", "effect": "allow", "reason": "Reason long enough", "enabled": false}]}"#;
    let r = lint(
        &parse_document(json, Format::Json).unwrap(),
        &LintConfig::default(),
    );
    let f = find(&r, "disabled");
    let byte = json.rfind("{\"id\"").unwrap();
    // Columns count characters: the `é` before it is one.
    let chars = json[..byte].chars().count() as u32 + 1;
    assert_eq!((f.line, f.column), (Some(1), Some(chars)));
}

#[test]
fn linter_caps_findings_across_files() {
    let a = parse_document(&overlapping(6), Format::Yaml).unwrap();
    let b = parse_document(&overlapping(6), Format::Yaml).unwrap();
    let one = of_code(&lint(&a, &LintConfig::default()), "conflict").len();
    let mut linter = Linter::new(capped(one + 2));
    linter.add(Some("a.yaml"), &a);
    linter.add(Some("b.yaml"), &b);
    let r = linter.finish();
    let files: Vec<&str> = of_code(&r, "conflict")
        .iter()
        .map(|f| f.file.as_deref().unwrap())
        .collect();
    assert_eq!(files.len(), one + 2);
    assert!(files[..one].iter().all(|f| *f == "a.yaml"), "{files:?}");
    assert!(files[one..].iter().all(|f| *f == "b.yaml"), "{files:?}");
    assert_eq!(r.left_out, [("conflict", one - 2)]);
    assert_eq!(r.summary.total_rules, 12);
}

#[test]
fn suspicious_operator_messages_clip_long_keys() {
    let key = format!("=>{}", "k".repeat(50_000));
    let r = report(&bundle(&[rule(
        "long-key",
        &format!("conditions: {{\"{key}\": 3}}"),
    )]));
    let f = find(&r, "suspicious-operator");
    assert!(f.message.len() < 1_000, "{} bytes", f.message.len());
    assert!(f.message.contains("…"), "{}", f.message);
}

/// Validation keeps only the first problems of a check whole; lint still
/// counts every one, and lists the first.
#[test]
fn lint_counts_every_validation_problem_past_those_kept_whole() {
    let n = gavel_policy::KEPT_PROBLEMS_PER_CHECK + 300;
    let rules: Vec<String> = (0..n)
        .map(|i| rule(&format!("r{i:05}"), "priorty: 1"))
        .collect();
    let r = lint(
        &parse_document(&bundle(&rules), Format::Yaml).unwrap(),
        &LintConfig {
            max_findings: 10,
            ..LintConfig::default()
        },
    );
    assert_eq!(r.summary.errors, n);
    let listed: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.code == "invalid-rule")
        .collect();
    assert_eq!(listed.len(), 10);
    assert_eq!(listed[0].rule_id.as_deref(), Some("r00000"));
    assert!(
        listed[0].message.contains("priorty"),
        "{}",
        listed[0].message
    );
    assert_eq!(r.summary.left_out, n - 10);
    assert!(!r.passed());
}

#[test]
fn a_condition_on_null_is_unsatisfiable_and_says_how_to_match_a_missing_field() {
    // A `null` in a request counts as missing (issue 26), so `x: null`
    // matches no request; the help names the condition that does.
    let yaml = format!(
        "rules:\n{}",
        rule("on-null", "conditions:\n  sender.domain: null")
    );
    let r = report(&yaml);
    let f = find(&r, "unsatisfiable");
    assert_eq!(f.rule_id.as_deref(), Some("on-null"));
    assert!(
        f.suggestion.contains("`exists:sender.domain: false`"),
        "{}",
        f.suggestion
    );
    // `!=x: null` holds for every present value: nothing to say.
    let yaml = format!(
        "rules:\n{}",
        rule("not-null", "conditions:\n  '!=sender.domain': null")
    );
    assert!(codes(&yaml).iter().all(|(c, _)| *c != "unsatisfiable"));
}
