//! `gavel migrate applylens|menace`: the migrated file loads in Gavel, every
//! change is listed, and it decides the seed's cases as the seed did.

use crate::*;

const FIXTURES: &str = "crates/cli/tests/fixtures/migrate";

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// Migrates `file` to `out` with `--format json` and returns the report.
fn migrate(seed: &str, file: &str, out: &Path) -> Value {
    let o = gavel(
        &[
            "migrate",
            seed,
            file,
            "--out",
            out.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    json(&o)
}

/// The change of `kind` at `field` (of seed rule `rule`, when given).
fn change<'a>(report: &'a Value, kind: &str, rule: Option<u64>, field: &str) -> &'a Value {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind && c["field"] == field && c["rule"].as_u64() == rule)
        .unwrap_or_else(|| panic!("no `{kind}` change at {rule:?} {field}: {report:#}"))
}

/// `gavel decide` of one request: (effect, rule_id).
fn decide(bundle: &Path, agent: &str, action: &str, context: Value) -> (String, Value) {
    let request = serde_json::json!({"agent": agent, "action": action, "context": context});
    let o = gavel(
        &[
            "decide",
            "--bundle",
            bundle.to_str().unwrap(),
            "--request",
            "-",
            "--format",
            "json",
        ],
        Some(&request.to_string()),
    );
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let d = json(&o);
    (
        d["effect"].as_str().unwrap().to_string(),
        d["rule_id"].clone(),
    )
}

#[test]
fn applylens_recipes_become_a_valid_bundle_listing_every_change() {
    let dir = temp();
    let out = dir.path().join("bundle.json");
    let r = migrate("applylens", &fixture("applylens-recipes.json"), &out);
    assert_eq!(r["result"], "bundle");
    assert!(
        r.get("document").is_none(),
        "with --out the document is in the file"
    );
    let v = gavel(&["validate", out.to_str().unwrap()], None);
    assert_eq!(code(&v), 0, "{}", String::from_utf8_lossy(&v.stderr));

    let c = change(&r, "suffix_operator", Some(0), "conditions.risk_score>=");
    assert_eq!(c["pointer"], "/0/conditions/risk_score>=");
    assert_eq!(c["rule_id"], "r1");
    change(&r, "suffix_operator", Some(1), "conditions.sender_vip==");
    change(&r, "suffix_operator", Some(2), "conditions.spam_score<");
    change(
        &r,
        "suffix_operator",
        Some(3),
        "conditions.sender_reputation<=",
    );
    change(&r, "suffix_operator", Some(5), "conditions.circuit_open!=");
    change(&r, "bare_number", Some(4), "conditions.changes_count");
    assert!(
        change(&r, "id", Some(0), "id")["message"]
            .as_str()
            .unwrap()
            .contains("`rule-r1`")
    );
    assert!(
        change(&r, "id", Some(2), "id")["message"]
            .as_str()
            .unwrap()
            .contains("`rule-q`")
    );
    assert!(
        change(&r, "priority_rescaled", Some(5), "priority")["message"]
            .as_str()
            .unwrap()
            .contains("1000 rescaled to 100")
    );
    change(&r, "priority_rescaled", Some(0), "priority");
    change(&r, "priority_default", Some(6), "priority");
    assert!(
        change(&r, "reason_placeholder", Some(1), "reason")["message"]
            .as_str()
            .unwrap()
            .contains("TODO(migrate):")
    );
    change(&r, "action_declared", Some(2), "action");
    change(&r, "budget_risk", Some(5), "budget.risk");
    change(&r, "moved_to_metadata", Some(5), "owner");
    change(&r, "default_filled", Some(6), "effect");
    change(&r, "metadata", None, "metadata.default_effect");
    // `agent: "*"` stays as written and is not reported.
    let changes = r["changes"].as_array().unwrap();
    assert!(
        !changes.iter().any(|c| c["field"] == "agent"),
        "{changes:#?}"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(doc["rules"][2]["agent"], "*");
    assert_eq!(doc["metadata"]["actions"], serde_json::json!(["archive"]));
    assert_eq!(doc["rules"][5]["metadata"]["owner"], "sre-team");
    assert_eq!(doc["rules"][6]["priority"], 0);
    // Every change names where: a pointer into the seed's file and a field.
    for c in changes {
        assert!(
            c["pointer"].is_string() && c["field"].is_string() && c["message"].is_string(),
            "{c}"
        );
    }
}

/// Decisions worked out from the seed's engine.py: the highest priority
/// matching rule decides, a bare number means "at least", and a request
/// no rule matches is allowed.
#[test]
fn the_migrated_bundle_decides_as_the_seed_did() {
    let dir = temp();
    let out = dir.path().join("bundle.json");
    migrate("applylens", &fixture("applylens-recipes.json"), &out);
    let j = |v: &str| serde_json::from_str::<Value>(v).unwrap();
    let cases = [
        // risk_score>=: 80 holds at 80, not at 79.
        (
            "inbox.triage",
            "quarantine",
            r#"{"risk_score": 80, "category": "phishing"}"#,
            "allow",
            j(r#""rule-r1""#),
        ),
        (
            "inbox.triage",
            "quarantine",
            r#"{"risk_score": 79, "category": "phishing"}"#,
            "allow",
            Value::Null,
        ),
        // 500 before 300: the VIP rule wins.
        (
            "inbox.triage",
            "quarantine",
            r#"{"risk_score": 95, "category": "phishing", "sender_vip": true}"#,
            "deny",
            j(r#""vip""#),
        ),
        // 1000 before 500.
        (
            "inbox.triage",
            "quarantine",
            r#"{"sender_vip": true, "error_rate_5min": 0.2, "circuit_open": true}"#,
            "deny",
            j(r#""circuit-breaker""#),
        ),
        (
            "inbox.triage",
            "escalate",
            r#"{"risk_score": 60, "sender_reputation": 0.5}"#,
            "needs_approval",
            j(r#""escalate-medium-risk""#),
        ),
        (
            "inbox.triage",
            "escalate",
            r#"{"risk_score": 80, "sender_reputation": 0.5}"#,
            "allow",
            Value::Null,
        ),
        (
            "mail.sorter",
            "archive",
            r#"{"category": "newsletter", "spam_score": 49}"#,
            "allow",
            j(r#""rule-q""#),
        ),
        (
            "mail.sorter",
            "archive",
            r#"{"category": "newsletter", "spam_score": 50}"#,
            "allow",
            Value::Null,
        ),
        // changes_count: 200 is "at least 200" in the seed's engine.
        (
            "knowledge.update",
            "apply",
            r#"{"changes_count": 250, "config_type": "synonyms"}"#,
            "deny",
            j(r#""deny-large-synonym-changes""#),
        ),
        (
            "knowledge.update",
            "apply",
            r#"{"changes_count": 199, "config_type": "synonyms"}"#,
            "allow",
            Value::Null,
        ),
        // Missing effect, agent and priority take the seed's defaults.
        ("any.agent", "delete", "{}", "deny", j(r#""deny-delete""#)),
    ];
    for (agent, action, context, effect, rule) in cases {
        let got = decide(&out, agent, action, j(context));
        assert_eq!(
            got,
            (effect.to_string(), rule),
            "{agent} {action} {context}"
        );
    }
}

/// More distinct priorities than 0 to 100 holds: the seed's order is kept
/// by putting the rules in it.
#[test]
fn many_distinct_priorities_keep_the_seed_order() {
    let dir = temp();
    let rules: Vec<Value> = (0..150u64)
        .map(|i| {
            let p = 200 + (i * 7919) % 150 * 3;
            serde_json::json!({"id": format!("rule-{i}"), "agent": "ops.bot", "action": "deploy",
                "effect": if i % 2 == 0 { "allow" } else { "deny" },
                "conditions": {"stage>=": (p - 200) / 3}, "reason": format!("Rule at priority {p}"), "priority": p})
        })
        .collect();
    let seed = dir.path().join("many.json");
    std::fs::write(&seed, serde_json::to_string(&rules).unwrap()).unwrap();
    let out = dir.path().join("bundle.json");
    let r = migrate("applylens", seed.to_str().unwrap(), &out);
    change(&r, "reordered", None, "rules");
    // Rule i matches when stage >= its rank, and the seed tries the highest
    // priority first: at stage s the rule of rank s decides.
    for stage in [149u64, 148, 75, 0] {
        let i = (0..150u64).find(|i| (i * 7919) % 150 == stage).unwrap();
        let (_, rule) = decide(
            &out,
            "ops.bot",
            "deploy",
            serde_json::json!({"stage": stage}),
        );
        assert_eq!(rule, format!("rule-{i}"), "stage {stage}");
    }
}

#[test]
fn text_mode_writes_the_bundle_to_stdout_and_the_changes_to_stderr() {
    let o = gavel(
        &["migrate", "applylens", &fixture("applylens-recipes.json")],
        None,
    );
    assert_eq!(code(&o), 0);
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["apiVersion"], "gavel/v1");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("change: rule 0 (`r1`) conditions.risk_score>=: `risk_score>=` rewritten as `>=risk_score`"), "{err}");
    assert!(err.contains("[suffix_operator]"), "{err}");
    assert!(err.lines().last().unwrap().contains("26 changes"), "{err}");
    // JSON without --out: the document is in the report.
    let o = gavel(
        &[
            "migrate",
            "applylens",
            &fixture("applylens-recipes.json"),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(json(&o)["document"]["kind"], "PolicyBundle");
}

#[test]
fn menace_policy_becomes_a_gavel_policy_with_override_commands() {
    let dir = temp();
    let out = dir.path().join("policy.yaml");
    let r = migrate("menace", &fixture("menace-policy.yaml"), &out);
    assert_eq!(r["result"], "policy");
    let c = change(&r, "override_removed", None, "overrides");
    assert_eq!(c["pointer"], "/overrides");
    assert_eq!(
        c["command"],
        "gavel override issue --workflow WORKFLOW_ID --verdict promote --bypass-micro-pilot --reason 'Launch approved by the review board'"
    );
    change(&r, "alias_renamed", None, "sandbox_low");
    change(&r, "alias_renamed", None, "adapter_high");
    change(&r, "number_from_string", None, "confidence_threshold");
    change(&r, "dropped", None, "owner");
    assert_eq!(
        change(&r, "rule_removed", Some(1), "condition")["pointer"],
        "/rules/1/condition"
    );
    change(&r, "reason_renamed", Some(2), "reason");
    change(&r, "reason_code_filled", Some(3), "reason_code");
    assert!(
        change(&r, "rule_removed", Some(4), "condition")["message"]
            .as_str()
            .unwrap()
            .contains("calls `abs`")
    );
    change(&r, "limit_verdict", None, "limit_verdict");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        !text.contains("overrides") && !text.contains("owner"),
        "{text}"
    );
    assert!(text.contains("limit_verdict: no_go"), "{text}");

    // Verdicts worked out from deployment_governance.py's evaluate_workflow
    // with this policy's thresholds and these rules in its rules file
    // (`config/deployment_governance.yaml`, where it reads them; a `rules`
    // key in the policy it ignores, which migrate reports), without the
    // overrides mapping, which forced promote on every card.
    let cases = [
        (
            r#"{"alignment_status": "pass", "raroi": 0.4, "confidence": 0.9}"#,
            "demote",
            vec!["raroi_low"],
        ),
        (
            r#"{"raroi": 1.0, "confidence": 0.9}"#,
            "no_go",
            vec!["raroi_below_threshold"],
        ),
        (
            r#"{"raroi": 2.5, "confidence": 0.65}"#,
            "promote",
            vec!["strong_roi"],
        ),
        (r#"{"raroi": 1.5, "confidence": 0.65}"#, "promote", vec![]),
        // sandbox_low 0.2 (not the default 0.1) starts the micro-pilot.
        (
            r#"{"raroi": 1.5, "confidence": 0.9, "sandbox_roi": 0.15, "adapter_roi": 1.5}"#,
            "pilot",
            vec!["micro_pilot"],
        ),
        (
            r#"{"raroi": 1.5, "confidence": 0.9, "sandbox_roi": 0.5, "adapter_roi": -0.5}"#,
            "no_go",
            vec!["no_go"],
        ),
        (
            r#"{"alignment_status": "fail", "raroi": 3}"#,
            "demote",
            vec!["alignment_veto"],
        ),
        // menace says no_go where a scenario is under its minimum or the
        // variance is too high (Gavel demotes there unless the policy's
        // `limit_verdict` says no_go, which the migration sets).
        (
            r#"{"raroi": 1.5, "confidence": 0.9, "scenario_scores": {"stress": 0.2, "normal": 0.25}}"#,
            "no_go",
            vec!["stress_below_min"],
        ),
        (
            r#"{"raroi": 1.5, "confidence": 0.9, "scenario_scores": {"a": 0.9, "b": 0.1}}"#,
            "no_go",
            vec!["variance_above_max"],
        ),
    ];
    for (card, verdict, codes) in cases {
        let f = dir.path().join("card.json");
        std::fs::write(&f, card).unwrap();
        let o = gavel(
            &[
                "scorecard",
                "eval",
                f.to_str().unwrap(),
                "--policy",
                out.to_str().unwrap(),
                "--no-log",
                "--format",
                "json",
            ],
            None,
        );
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        let e = json(&o);
        assert_eq!(e["verdict"], verdict, "{card}: {e}");
        assert_eq!(e["reason_codes"], serde_json::json!(codes), "{card}: {e}");
    }
}

#[test]
fn unreadable_or_foreign_files_exit_2_and_write_nothing() {
    let dir = temp();
    let out = dir.path().join("never.json");
    let out_s = out.to_str().unwrap();
    let run = |args: &[&str]| {
        let o = gavel(args, None);
        assert_eq!(
            code(&o),
            2,
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(!out.exists(), "{args:?} wrote its output");
        assert!(!o.stderr.is_empty());
        json(&o)["error"].clone()
    };
    let e = run(&[
        "migrate",
        "applylens",
        "no/such/file.json",
        "--out",
        out_s,
        "--format",
        "json",
    ]);
    assert_eq!(e["code"], "unreadable");
    // A menace policy given as ApplyLens rules, and the other way round.
    let e = run(&[
        "migrate",
        "applylens",
        &fixture("menace-policy.yaml"),
        "--out",
        out_s,
        "--format",
        "json",
    ]);
    assert_eq!(e["code"], "invalid_bundle");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("gavel migrate menace"),
        "{e}"
    );
    let e = run(&[
        "migrate",
        "menace",
        &fixture("applylens-recipes.json"),
        "--out",
        out_s,
        "--format",
        "json",
    ]);
    assert_eq!(e["code"], "invalid_policy");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("gavel migrate applylens"),
        "{e}"
    );
    assert_eq!(e["pointer"], "/0");
    assert_eq!(e["line"], 2);
    // The sectioned policy of menace's evaluate(): said what to write instead.
    let e = run(&[
        "migrate",
        "menace",
        &fixture("menace-sectioned.yaml"),
        "--out",
        out_s,
        "--format",
        "json",
    ]);
    assert!(
        e["message"].as_str().unwrap().contains("evaluate_workflow"),
        "{e}"
    );
    assert_eq!(e["pointer"], "/promote");
    // An agent Gavel cannot name: where, and what to do.
    let e = run(&[
        "migrate",
        "applylens",
        &fixture("applylens-bad-agent.json"),
        "--out",
        out_s,
        "--format",
        "json",
    ]);
    assert_eq!(
        (e["line"].as_u64(), e["pointer"].as_str()),
        (Some(2), Some("/0/agent"))
    );
    assert!(
        e["message"].as_str().unwrap().contains("rename the agent"),
        "{e}"
    );
    // Not YAML or JSON at all.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[{\"id\": ").unwrap();
    let e = run(&[
        "migrate",
        "applylens",
        bad.to_str().unwrap(),
        "--out",
        out_s,
        "--format",
        "json",
    ]);
    assert_eq!(e["code"], "syntax_error");
}

/// What the seed never ran is reported when Gavel would run it: keys already
/// in Gavel's operator form (the seed's engine read them as field names, so
/// they never matched) and `enabled: false` (the seed's engine ran the rule
/// anyway); a menace rule the seed's evaluator refused (a tuple, `&&`, `!`)
/// is removed, as rules with calls are; `reason_code` is read as the seed's
/// loader reads it (`reason_code or reason`, else the decision).
#[test]
fn what_changes_meaning_is_reported_and_what_the_seed_refused_is_removed() {
    let dir = temp();
    let seed = dir.path().join("rules.json");
    std::fs::write(
        &seed,
        r#"[{"id": "pre-ops", "agent": "inbox.triage", "action": "quarantine", "effect": "deny",
             "reason": "Operators written in Gavel's form", "priority": 10,
             "conditions": {">=risk_score": 80, "exists:approved": false, "in:category": ["spam"]}},
            {"id": "off-rule", "agent": "inbox.triage", "action": "archive", "effect": "deny",
             "reason": "A rule switched off in the file", "enabled": false}]"#,
    )
    .unwrap();
    let out = dir.path().join("bundle.json");
    let report = migrate("applylens", seed.to_str().unwrap(), &out);
    for key in [">=risk_score", "exists:approved", "in:category"] {
        let c = change(
            &report,
            "operator_now_compares",
            Some(0),
            &format!("conditions.{key}"),
        );
        assert!(
            c["message"].as_str().unwrap().contains("never matched"),
            "{c}"
        );
    }
    change(&report, "enabled", Some(1), "enabled");

    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "raroi_threshold: 1.0\nrules:\n  - {decision: no_go, condition: \"alignment_status in ('pass', 'ok')\", reason_code: tuple}\n  - {decision: no_go, condition: \"raroi > 0 && confidence > 0\", reason_code: amp}\n  - {decision: no_go, condition: \"!(raroi < 0)\", reason_code: bang}\n  - {decision: pilot, condition: \"raroi != 2\", reason_code: '', reason: from_reason}\n  - {decision: pilot, condition: \"raroi > 5\", reason_code: null}\n  - {decision: demote, condition: \"raroi < 0\", reason_code: 42}\n",
    )
    .unwrap();
    let out = dir.path().join("migrated.yaml");
    let report = migrate("menace", policy.to_str().unwrap(), &out);
    for (rule, what) in [(0, "a tuple literal"), (1, "`&&`"), (2, "`!`")] {
        let c = change(&report, "rule_removed", Some(rule), "condition");
        assert!(c["message"].as_str().unwrap().contains(what), "{c}");
    }
    change(&report, "rules_in_policy", None, "rules");
    let text = std::fs::read_to_string(&out).unwrap();
    let written = gavel_policy::parse_document(&text, gavel_policy::Format::Yaml)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .to_json();
    let codes: Vec<String> = written["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason_code"].as_str().unwrap().to_string())
        .collect();
    // The seed: `str(reason_code or reason) if ... else decision`.
    assert_eq!(codes, ["from_reason", "pilot", "42"], "{text}");
}

/// The YAML written reads back as what was migrated: DEL and the C1
/// controls are escaped (other YAML readers refuse them raw).
#[test]
fn yaml_output_escapes_control_characters() {
    let dir = temp();
    let seed = dir.path().join("rules.yaml");
    std::fs::write(
        &seed,
        "- id: ctl-rule\n  agent: inbox.triage\n  action: quarantine\n  effect: deny\n  reason: \"A reason with del\\x7F and \\u0085 in it\"\n  priority: 10\n",
    )
    .unwrap();
    let out = dir.path().join("bundle.yaml");
    migrate("applylens", seed.to_str().unwrap(), &out);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        !text.contains('\u{7f}') && !text.contains('\u{85}'),
        "raw control characters in {text:?}"
    );
    assert!(
        text.contains("\\u007f") && text.contains("\\u0085"),
        "{text}"
    );
    let o = gavel(&["validate", out.to_str().unwrap()], None);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
}
