//! The `gavel` binary end to end: exit codes, JSON contracts, and bad input
//! that must give a located error with exit 2, never a panic.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn gavel(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        pipe.write_all(s.as_bytes()).unwrap();
    }
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "gavel panicked:\n{stderr}");
    out
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs `validate --format json` on `text` and returns the error object.
fn validate_error(dir: &Path, name: &str, text: &[u8]) -> Value {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out = gavel(
        &["validate", path.to_str().unwrap(), "--format", "json"],
        None,
    );
    assert_eq!(
        code(&out),
        2,
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.stderr.is_empty(),
        "{name}: the message also goes to stderr"
    );
    json(&out)["error"].clone()
}

#[test]
fn every_example_bundle_validates() {
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("fixtures/bundles")).unwrap() {
        let path = entry.unwrap().path();
        let out = gavel(
            &["validate", path.to_str().unwrap(), "--format", "json"],
            None,
        );
        assert_eq!(
            code(&out),
            0,
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(json(&out)["valid"], true);
        n += 1;
    }
    assert!(n >= 8);
    let out = gavel(&["validate", "fixtures/sim/bundle.yaml"], None);
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid bundle"));
}

#[test]
fn bad_input_is_exit_2_with_a_location() {
    let dir = tempfile::tempdir().unwrap();
    let rule = "- id: abc\n  agent: inbox.triage\n  action: quarantine\n  effect: allow\n  reason: A good reason here\n";
    // (file name, contents, error code, expected line and column)
    type Case = (&'static str, Vec<u8>, &'static str, Option<(u64, u64)>);
    let cases: Vec<Case> = vec![
        (
            "malformed.yaml",
            b"rules:\n  - id: [abc\n".to_vec(),
            "syntax_error",
            Some((3, 1)),
        ),
        (
            "malformed.json",
            b"{\"rules\": [}".to_vec(),
            "syntax_error",
            Some((1, 12)),
        ),
        (
            "wrong-type.yaml",
            format!("{rule}  priority: high\n").into_bytes(),
            "invalid_bundle",
            Some((6, 13)),
        ),
        (
            "unknown-op.yaml",
            format!("{rule}  conditions: {{\"near:x\": 1}}\n").into_bytes(),
            "invalid_bundle",
            Some((6, 16)),
        ),
        (
            "bad-regex.yaml",
            format!("{rule}  conditions: {{\"matches:x\": \"(\"}}\n").into_bytes(),
            "invalid_bundle",
            Some((6, 29)),
        ),
        (
            "dup-key.yaml",
            format!("{rule}  id: again\n").into_bytes(),
            "syntax_error",
            Some((6, 3)),
        ),
        (
            "dup-key.json",
            b"{\"rules\": [], \"rules\": []}".to_vec(),
            "syntax_error",
            Some((1, 15)),
        ),
        ("empty.yaml", Vec::new(), "empty_file", None),
    ];
    for (name, text, want_code, at) in cases {
        let e = validate_error(dir.path(), name, &text);
        assert_eq!(e["code"], want_code, "{name}: {e}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(
            e["file"].as_str().unwrap(),
            dir.path().join(name).to_str().unwrap()
        );
        if let Some((line, column)) = at {
            assert_eq!(
                (e["line"].as_u64(), e["column"].as_u64()),
                (Some(line), Some(column)),
                "{name}: {e}"
            );
        }
    }
}

#[test]
fn fifty_megabyte_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = vec![b'#'; 50 * 1024 * 1024];
    let e = validate_error(dir.path(), "big.yaml", &big);
    assert_eq!(e["code"], "file_too_large");
    assert_eq!(e["message"], "file too large: 52428800 bytes, limit 16 MiB");
}

#[test]
fn text_errors_look_like_compiler_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.yaml");
    std::fs::write(&path, "- id: abc\n  agent: inbox.triage\n  action: quarantine\n  effect: allow\n  reason: A good reason here\n  priorty: 3\n").unwrap();
    let out = gavel(&["validate", path.to_str().unwrap()], None);
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: unknown field `priorty`; did you mean `priority`?"),
        "{err}"
    );
    assert!(
        err.contains(&format!("--> {}:6:3", path.display())),
        "{err}"
    );
    assert!(err.contains("6 |   priorty: 3\n  |   ^"), "{err}");
}

#[test]
fn decide_prints_the_decision_contract() {
    let request = r#"{"agent":"inbox.triage","action":"quarantine","context":{"risk_score":95,"category":"phishing"}}"#;
    let out = gavel(
        &[
            "decide",
            "--bundle",
            "fixtures/bundles/inbox-triage.yaml",
            "--request",
            "-",
            "--format",
            "json",
        ],
        Some(request),
    );
    assert_eq!(code(&out), 0);
    let d = json(&out);
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "budget", "effect", "errors", "no_match", "reason", "rule_id"
        ]
    );
    assert_eq!(d["effect"], "allow");
    assert_eq!(d["rule_id"], "quarantine-high-risk");
    assert_eq!(d["no_match"], false);
}

#[test]
fn decide_deny_and_no_match_are_success() {
    let request =
        r#"{"agent":"inbox.triage","action":"quarantine","context":{"risk_score":"high"}}"#;
    let out = gavel(
        &[
            "decide",
            "--bundle",
            "fixtures/bundles/inbox-triage.yaml",
            "--request",
            "-",
            "--format",
            "json",
        ],
        Some(request),
    );
    assert_eq!(code(&out), 0);
    let d = json(&out);
    assert_eq!(d["effect"], "deny");
    assert_eq!(d["rule_id"], Value::Null);
    assert_eq!(d["no_match"], true);
    assert_eq!(d["reason"], "no rule matched");
    assert_eq!(d["errors"][0]["rule_id"], "quarantine-high-risk");
    assert_eq!(d["errors"][0]["condition"], ">=risk_score");
}

#[test]
fn decide_needs_approval_reports_approvers() {
    let request = r#"{"agent":"ops.admin","action":"delete","context":{"risk_score":90}}"#;
    let out = gavel(
        &[
            "decide",
            "--bundle",
            "fixtures/bundles/two-approver.yaml",
            "--request",
            "-",
            "--format",
            "json",
        ],
        Some(request),
    );
    assert_eq!(code(&out), 0);
    let d = json(&out);
    assert_eq!(d["effect"], "needs_approval", "{d}");
    assert_eq!(d["rule_id"], "high-risk-two-approvers");
    assert_eq!(d["approvals_required"], 2);
    assert_eq!(
        d["budget"],
        serde_json::json!({"cost": 25.0, "compute": 2, "risk": "high"})
    );
}

#[test]
fn decide_bad_request_is_exit_2() {
    for (request, want) in [
        ("{\"agent\": \"a.b\"", "syntax_error"),
        (
            r#"{"agent":"a.b","action":"x","extra":1}"#,
            "invalid_request",
        ),
        (
            r#"{"agent":"a.b","action":"x","timestamp":"yesterday"}"#,
            "invalid_request",
        ),
        ("", "syntax_error"),
    ] {
        let out = gavel(
            &[
                "decide",
                "--bundle",
                "fixtures/bundles/inbox-triage.yaml",
                "--request",
                "-",
                "--format",
                "json",
            ],
            Some(request),
        );
        assert_eq!(code(&out), 2, "{request}");
        assert_eq!(json(&out)["error"]["code"], want, "{request}");
    }
    let out = gavel(
        &["decide", "--bundle", "missing.yaml", "--request", "-"],
        Some("{}"),
    );
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read `missing.yaml`"));
}

#[test]
fn bad_usage_is_exit_2() {
    let out = gavel(&["validate"], None);
    assert_eq!(code(&out), 2);
    let out = gavel(&["frobnicate", "--format", "json"], None);
    assert_eq!(code(&out), 2);
    assert_eq!(json(&out)["error"]["code"], "usage");
}

/// A bundle with one finding of each severity: an error (unknown action),
/// warnings (conflict, unreachable) and info (disabled).
const LINTY: &str = "rules:
  - id: deny-all
    agent: \"*\"
    action: quarantine
    effect: deny
    reason: Nothing is quarantined automatically
    priority: 90
  - id: allow-phish
    agent: inbox.triage
    action: quarantine
    effect: allow
    conditions: {\">=risk_score\": 90}
    reason: Quarantine phishing automatically
  - id: odd-action
    agent: inbox.triage
    action: archive
    effect: allow
    reason: Archive action that is not declared
  - id: parked
    agent: inbox.triage
    action: delete
    effect: deny
    reason: Parked until the pilot ends
    enabled: false
";

#[test]
fn lint_json_contract_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("linty.yaml");
    std::fs::write(&path, LINTY).unwrap();
    let p = path.to_str().unwrap();
    let out = gavel(&["lint", p, "--format", "json"], None);
    assert_eq!(code(&out), 1, "error findings exit 1");
    let r = json(&out);
    assert_eq!(r["passed"], false);
    let s = &r["summary"];
    assert_eq!(
        (
            s["errors"].as_u64(),
            s["warnings"].as_u64(),
            s["info"].as_u64()
        ),
        (Some(1), Some(2), Some(1))
    );
    assert_eq!(s["total_rules"], 4);
    assert_eq!(s["total_issues"], 4);
    assert_eq!(r["errors"][0]["code"], "unknown-action");
    assert_eq!(r["errors"][0]["file"], p);
    let codes: Vec<&str> = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["conflict", "unreachable"]);
    let conflict = &r["warnings"][0];
    for key in [
        "code",
        "severity",
        "rule_id",
        "index",
        "line",
        "message",
        "suggestion",
        "file",
        "related_rules",
        "witness",
    ] {
        assert!(
            conflict.get(key).is_some(),
            "finding lacks `{key}`: {conflict}"
        );
    }
    assert_eq!(
        (conflict["rule_id"].as_str(), conflict["line"].as_u64()),
        (Some("deny-all"), Some(2))
    );
    assert_eq!(r["info"][0]["code"], "disabled");

    let ok = gavel(
        &[
            "lint",
            "fixtures/bundles/inbox-triage.yaml",
            "fixtures/bundles/knowledge-management.yaml",
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(code(&ok), 0);
    let r = json(&ok);
    assert_eq!(r["passed"], true);
    assert_eq!(
        r["summary"]["total_rules"], 17,
        "the summary adds up both files"
    );
}

#[test]
fn lint_text_and_sarif() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("linty.yaml");
    std::fs::write(&path, LINTY).unwrap();
    let p = path.to_str().unwrap();
    let out = gavel(&["lint", p], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("error[unknown-action]: unknown action `archive`"),
        "{text}"
    );
    assert!(
        text.contains(&format!("--> {p}:14 (rule `odd-action`, #2)")),
        "{text}"
    );
    assert!(text.contains("14 |   - id: odd-action"), "{text}");
    assert!(text.contains("= help: "), "{text}");
    assert!(
        text.contains("lint failed: 1 error, 2 warnings, 1 info in 1 file (4 rules)"),
        "{text}"
    );

    let out = gavel(&["lint", p, "--format", "sarif"], None);
    assert_eq!(code(&out), 1);
    let s = json(&out);
    assert_eq!(s["version"], "2.1.0");
    let run = &s["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "gavel");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["ruleId"], "unknown-action");
    assert_eq!(results[0]["level"], "error");
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        14
    );
    assert_eq!(results[3]["level"], "note");
    let rule_ids: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(rule_ids.contains(&"conflict") && rule_ids.contains(&"unreachable"));
    let index = results[0]["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rule_ids[index], "unknown-action");
}

#[test]
fn lint_bad_shapes_are_findings_and_bad_syntax_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let shapes = dir.path().join("shapes.yaml");
    std::fs::write(&shapes, "rules:\n  - 42\n  - {id: 7, agent: inbox.triage, action: quarantine, effect: allow, reason: Reason long enough}\n").unwrap();
    let out = gavel(
        &["lint", shapes.to_str().unwrap(), "--format", "json"],
        None,
    );
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["summary"]["errors"], 2);
    let not_list = dir.path().join("not-list.json");
    std::fs::write(&not_list, "{\"rules\": {\"a\": 1}}").unwrap();
    let out = gavel(
        &["lint", not_list.to_str().unwrap(), "--format", "json"],
        None,
    );
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["errors"][0]["code"], "invalid-rule");
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "rules: [\n").unwrap();
    let out = gavel(
        &["lint", broken.to_str().unwrap(), "--format", "json"],
        None,
    );
    assert_eq!(code(&out), 2);
    assert_eq!(json(&out)["error"]["code"], "syntax_error");
    let out = gavel(
        &["validate", broken.to_str().unwrap(), "--format", "sarif"],
        None,
    );
    assert_eq!(code(&out), 2, "sarif is for lint only");
}

#[test]
fn diff_and_version_suggest() {
    let dir = tempfile::tempdir().unwrap();
    let old = root().join("fixtures/bundles/inbox-triage.yaml");
    let text = std::fs::read_to_string(&old).unwrap();
    let new = dir.path().join("new.yaml");
    std::fs::write(
        &new,
        text.replace(
            "{\">=risk_score\": 90, \"category\": \"phishing\"}",
            "{\">=risk_score\": 95, \"category\": \"phishing\"}",
        ),
    )
    .unwrap();
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    let out = gavel(&["diff", o, n, "--format", "json"], None);
    assert_eq!(code(&out), 0);
    let d = json(&out);
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "added",
            "bump",
            "class",
            "metadata_changes",
            "modified",
            "removed",
            "suggested_version",
            "unchanged"
        ]
    );
    assert_eq!(
        (d["class"].as_str(), d["bump"].as_str()),
        (Some("tightening"), Some("minor"))
    );
    assert_eq!(d["suggested_version"], "1.1.0");
    assert_eq!(d["modified"][0]["id"], "quarantine-high-risk");
    assert_eq!(d["modified"][0]["changes"][0]["field"], "conditions");
    assert_eq!(d["modified"][0]["changes"][0]["before"][">=risk_score"], 90);
    assert_eq!(d["modified"][0]["changes"][0]["after"][">=risk_score"], 95);

    let out = gavel(&["version", "suggest", o, n], None);
    assert_eq!(code(&out), 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1.1.0\n");
    let out = gavel(&["diff", o, o], None);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("class: none; bump: none; suggested version: 1.0.0")
    );
    let out = gavel(&["diff", o, "missing.yaml", "--format", "json"], None);
    assert_eq!(code(&out), 2);
}

#[test]
fn every_example_bundle_passes_its_policy_tests() {
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("fixtures/bundles")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .split('.')
            .next()
            .unwrap()
            .to_string();
        let cases = root().join(format!("fixtures/tests/{stem}.cases.json"));
        let out = gavel(
            &[
                "test",
                path.to_str().unwrap(),
                cases.to_str().unwrap(),
                "--format",
                "json",
            ],
            None,
        );
        let r = json(&out);
        assert_eq!(code(&out), 0, "{}: {r}", path.display());
        assert!(r["total"].as_u64().unwrap() > 10);
        n += 1;
    }
    assert!(n >= 8);
}

#[test]
fn test_reports_each_failure_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases.jsonl");
    std::fs::write(
        &cases,
        "{\"case_id\":\"good\",\"agent\":\"inbox.triage\",\"action\":\"quarantine\",\"context\":{\"risk_score\":95,\"category\":\"phishing\"},\"expected_effect\":\"allow\"}\n\
         {\"case_id\":\"bad\",\"agent\":\"inbox.triage\",\"action\":\"quarantine\",\"context\":{\"risk_score\":95,\"category\":\"phishing\"},\"expected_effect\":\"deny\"}\n",
    )
    .unwrap();
    let c = cases.to_str().unwrap();
    let out = gavel(&["test", "fixtures/sim/bundle.yaml", c], None);
    assert_eq!(code(&out), 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bad: expected deny, got allow by rule `sim-quarantine-high-risk`"),
        "{text}"
    );
    assert!(text.contains("1 passed, 1 failed"), "{text}");
    let out = gavel(
        &["test", "fixtures/sim/bundle.yaml", c, "--format", "json"],
        None,
    );
    let r = json(&out);
    assert_eq!(
        (
            r["passed"].as_bool(),
            r["total"].as_u64(),
            r["failed"].as_u64()
        ),
        (Some(false), Some(2), Some(1))
    );
    assert_eq!(r["failures"][0]["case_id"], "bad");
    assert_eq!(r["failures"][0]["actual_rule"], "sim-quarantine-high-risk");
}

#[test]
fn sim_json_contract_and_determinism() {
    let out = gavel(
        &["sim", "fixtures/sim/bundle.yaml", "--format", "json"],
        None,
    );
    assert_eq!(code(&out), 0);
    let r = json(&out);
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["examples", "results", "rule_hits", "summary"]);
    for k in [
        "total_cases",
        "allow_count",
        "deny_count",
        "approval_count",
        "no_match_count",
        "error_count",
        "allow_rate",
        "deny_rate",
        "approval_rate",
        "no_match_rate",
        "estimated_cost",
        "estimated_compute",
        "breaches",
    ] {
        assert!(r["summary"].get(k).is_some(), "summary lacks {k}");
    }
    assert_eq!(r["results"][7]["matched_rule"], serde_json::Value::Null);
    assert_eq!(r["results"][7]["no_match"], true);
    let synthetic = |threads: &str, seed: &str| {
        let out = gavel(
            &[
                "sim",
                "fixtures/bundles/deployment-safety.yaml",
                "--dataset",
                "synthetic",
                "--count",
                "3000",
                "--seed",
                seed,
                "--threads",
                threads,
                "--format",
                "json",
            ],
            None,
        );
        assert_eq!(code(&out), 0);
        out.stdout
    };
    let one = synthetic("1", "7");
    assert_eq!(one, synthetic("1", "7"));
    assert_eq!(one, synthetic("2", "7"));
    assert_ne!(one, synthetic("2", "8"));
}

#[test]
fn sim_custom_files_and_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("cases.csv");
    std::fs::write(&csv, "case_id,agent,action,expected_effect,index_size_gb\nsmall,knowledge.search,reindex,allow,4\nlarge,knowledge.search,reindex,needs_approval,400\n").unwrap();
    let out = gavel(
        &[
            "sim",
            "fixtures/sim/bundle.yaml",
            "--dataset",
            csv.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(code(&out), 0);
    let r = json(&out);
    assert_eq!(
        (
            r["summary"]["allow_count"].as_u64(),
            r["summary"]["approval_count"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"agent\":\"a.b\",\"action\":\"x\"}\n{\"agent\":\"a.b\",\"action\":\"x\",\"expected_effect\":\"perhaps\"}\n").unwrap();
    let out = gavel(
        &[
            "sim",
            "fixtures/sim/bundle.yaml",
            "--dataset",
            bad.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(code(&out), 2);
    let e = json(&out)["error"].clone();
    assert_eq!(
        (e["code"].as_str(), e["line"].as_u64()),
        (Some("invalid_cases"), Some(2))
    );
    assert!(e["message"].as_str().unwrap().contains("`perhaps`"), "{e}");
}

#[test]
fn sim_compare_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("fixtures/sim/bundle.yaml")).unwrap();
    let b = dir.path().join("b.yaml");
    std::fs::write(
        &b,
        text.replace(
            "id: sim-deny-out-of-range-score",
            "id: sim-deny-out-of-range-score\n    enabled: false",
        ),
    )
    .unwrap();
    let out = gavel(
        &[
            "sim",
            "compare",
            "fixtures/sim/bundle.yaml",
            b.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(code(&out), 0);
    let c = json(&out);
    let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "summary_a",
        "summary_b",
        "deltas",
        "changes",
        "total_changes",
    ] {
        assert!(keys.contains(&k), "compare lacks {k}");
    }
    assert_eq!(c["total_changes"], 1);
    assert_eq!(
        c["changes"][0]["before_rule"],
        "sim-deny-out-of-range-score"
    );
    let log = dir.path().join("log.jsonl");
    std::fs::write(&log, "{\"request\":{\"agent\":\"knowledge.search\",\"action\":\"reindex\",\"context\":{\"index_size_gb\":400}},\"decision\":{\"effect\":\"allow\"}}\n").unwrap();
    let out = gavel(
        &[
            "sim",
            "replay",
            "fixtures/sim/bundle.yaml",
            log.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(code(&out), 0);
    let r = json(&out);
    assert_eq!(
        (r["total_decisions"].as_u64(), r["total_changes"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(r["changes"][0]["after"], "needs_approval");
}

/// `verify` with `--key` and `--secret-file`: no store, no keychain.
#[test]
fn verify_exit_codes_and_bad_input() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    // A legacy export, verified with the secret from a file.
    let secret = gavel_trust::Sensitive::new(b"shared-secret".to_vec());
    std::fs::write(p("secret.txt"), "  shared-secret\n").unwrap();
    let bundle = serde_json::json!([{"id": "abc", "agent": "inbox.triage", "action": "quarantine", "effect": "allow", "reason": "Quarantine phishing"}]);
    let legacy = gavel_trust::legacy_export(
        &bundle,
        "2026-11-01T00:00:00",
        "2099-01-01T00:00:00",
        &secret,
    );
    std::fs::write(p("legacy.json"), serde_json::to_string(&legacy).unwrap()).unwrap();
    let out = gavel(
        &[
            "verify",
            &p("legacy.json"),
            "--secret-file",
            &p("secret.txt"),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert_eq!(
        (
            v["valid"].as_bool(),
            v["format"].as_str(),
            v["legacy"].as_bool(),
            v["expiry_covered"].as_bool()
        ),
        (Some(true), Some("legacy-export"), Some(true), Some(false))
    );
    for key in [
        "valid",
        "format",
        "legacy",
        "payload_type",
        "signers",
        "issued_at",
        "expires_at",
        "expiry_covered",
        "reason",
        "message",
    ] {
        assert!(v.get(key).is_some(), "verify JSON lacks `{key}`");
    }
    // Wrong secret: invalid, exit 1.
    std::fs::write(p("wrong.txt"), "other").unwrap();
    let out = gavel(
        &[
            "verify",
            &p("legacy.json"),
            "--secret-file",
            &p("wrong.txt"),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(
        (code(&out), json(&out)["reason"].as_str()),
        (1, Some("bad_signature"))
    );
    // An empty secret file is unusable input.
    std::fs::write(p("empty.txt"), " \n").unwrap();
    assert_eq!(
        code(&gavel(
            &[
                "verify",
                &p("legacy.json"),
                "--secret-file",
                &p("empty.txt")
            ],
            None
        )),
        2
    );

    // A DSSE envelope verified with --key.
    let key = gavel_trust::ed25519::SigningKey::from_bytes(&[4; 32]);
    let public = gavel_trust::PublicKey::new(
        &key.verifying_key(),
        "alice",
        "a@example.com",
        vec![gavel_trust::Role::Author],
    );
    std::fs::write(p("alice.pub.json"), serde_json::to_string(&public).unwrap()).unwrap();
    let now = jiff::Timestamp::now();
    let payload = serde_json::json!({"issued_at": gavel_trust::rfc3339(now), "expires_at": gavel_trust::rfc3339(jiff::Timestamp::from_second(now.as_second() + 3600).unwrap())});
    let env =
        gavel_trust::sign_dsse("application/vnd.gavel.review.v1+json", &payload, &[&key]).unwrap();
    std::fs::write(p("env.json"), serde_json::to_string(&env).unwrap()).unwrap();
    let out = gavel(
        &[
            "verify",
            &p("env.json"),
            "--key",
            &p("alice.pub.json"),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(json(&out)["signers"][0]["name"], "alice");
    // Truncated base64 parses as JSON but is malformed: exit 1 without `valid: true`.
    let mut bad = env.clone();
    let payload_b64 = env["payload"].as_str().unwrap();
    bad["payload"] = payload_b64[..payload_b64.len() - 2].into();
    std::fs::write(p("bad.json"), serde_json::to_string(&bad).unwrap()).unwrap();
    let out = gavel(
        &[
            "verify",
            &p("bad.json"),
            "--key",
            &p("alice.pub.json"),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(
        (code(&out), json(&out)["reason"].as_str()),
        (1, Some("malformed"))
    );
    // A payload that is not JSON.
    let mut odd = env.clone();
    odd["payload"] = base64::engine::general_purpose::STANDARD
        .encode("not json")
        .into();
    std::fs::write(p("odd.json"), serde_json::to_string(&odd).unwrap()).unwrap();
    let out = gavel(
        &[
            "verify",
            &p("odd.json"),
            "--key",
            &p("alice.pub.json"),
            "--format",
            "json",
        ],
        None,
    );
    assert_ne!(code(&out), 0);
    assert_ne!(json(&out)["valid"], true);
    // Not JSON at all, and a huge file: exit 2.
    std::fs::write(p("text.txt"), "hello").unwrap();
    let out = gavel(
        &[
            "verify",
            &p("text.txt"),
            "--key",
            &p("alice.pub.json"),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(
        (code(&out), json(&out)["error"]["code"].as_str()),
        (2, Some("syntax_error"))
    );
    std::fs::write(p("huge.json"), vec![b' '; 17 * 1024 * 1024]).unwrap();
    let out = gavel(
        &[
            "verify",
            &p("huge.json"),
            "--key",
            &p("alice.pub.json"),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(
        (code(&out), json(&out)["error"]["code"].as_str()),
        (2, Some("file_too_large"))
    );
    // A key file that lies about its key id.
    let mut liar = serde_json::to_value(&public).unwrap();
    liar["keyid"] = "0000000000000000".into();
    std::fs::write(p("liar.json"), liar.to_string()).unwrap();
    assert_eq!(
        code(&gavel(
            &["verify", &p("env.json"), "--key", &p("liar.json")],
            None
        )),
        2
    );
}

/// Runs gavel with its own GAVEL_HOME (a store, no keychain needed).
fn gavel_in(home: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(args)
        .current_dir(root())
        .env("GAVEL_HOME", home)
        .env_remove("GAVEL_IDENTITY")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    out
}

struct Governance {
    dir: tempfile::TempDir,
    security: gavel_trust::ed25519::SigningKey,
}

impl Governance {
    /// A store that trusts one security key and one analyst key.
    fn new() -> Governance {
        let dir = tempfile::tempdir().unwrap();
        let security = gavel_trust::ed25519::SigningKey::from_bytes(&[21; 32]);
        let analyst = gavel_trust::ed25519::SigningKey::from_bytes(&[22; 32]);
        let g = Governance { dir, security };
        // A new store takes its first keys from a trust store export.
        let keys: Vec<gavel_trust::PublicKey> = [
            (&g.security, "sam", gavel_trust::Role::Security),
            (&analyst, "ann", gavel_trust::Role::Analyst),
        ]
        .into_iter()
        .map(|(k, name, role)| {
            gavel_trust::PublicKey::new(&k.verifying_key(), name, "x@example.com", vec![role])
        })
        .collect();
        let f = g.path("trust.json");
        std::fs::write(
            &f,
            serde_json::json!({"version": 1, "keys": keys}).to_string(),
        )
        .unwrap();
        let out = gavel_in(g.home(), &["keys", "trust", &f]);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        // After that, trusting needs a security identity, which this store has not.
        let out = gavel_in(g.home(), &["keys", "trust", &f]);
        assert_ne!(code(&out), 0);
        g
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn override_file(
        &self,
        name: &str,
        key: &gavel_trust::ed25519::SigningKey,
        workflow: &str,
        verdict: &str,
        expires_in: i64,
    ) -> String {
        let now = jiff::Timestamp::now().as_second();
        let t = |s: i64| gavel_trust::rfc3339(jiff::Timestamp::from_second(s).unwrap());
        let payload = serde_json::json!({
            "id": format!("ovr-{name}"), "workflow_id": workflow,
            "flags": {"bypass_micro_pilot": false, "forced_verdict": verdict},
            "reason": "Board approved the launch", "issued_by": "sam",
            "issued_at": t(now - 3600), "expires_at": t(now + expires_in),
        });
        let env =
            gavel_trust::sign_dsse("application/vnd.gavel.override.v1+json", &payload, &[key])
                .unwrap();
        let f = self.path(&format!("{name}.json"));
        std::fs::write(&f, serde_json::to_string(&env).unwrap()).unwrap();
        f
    }

    fn eval(&self, card: &str, extra: &[&str]) -> (i32, Vec<serde_json::Value>) {
        let policy = self.path("policy.yaml");
        if !Path::new(&policy).exists() {
            std::fs::write(&policy, "raroi_threshold: 1.0\nrules: []\n").unwrap();
        }
        let c = self.path("card.json");
        std::fs::write(&c, card).unwrap();
        let mut args = vec![
            "scorecard",
            "eval",
            c.as_str(),
            "--policy",
            policy.as_str(),
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = gavel_in(self.home(), &args);
        let lines = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (code(&out), lines)
    }
}

#[test]
fn signed_override_forces_once_for_its_workflow() {
    let g = Governance::new();
    let card = r#"{"workflow_id": "wf-1", "raroi": 0.2, "confidence": 0.9}"#;
    let ovr = g.override_file("good", &g.security, "wf-1", "promote", 3600);
    let (code1, out) = g.eval(card, &["--override", &ovr]);
    assert_eq!(code1, 0);
    assert_eq!(out[0]["verdict"], "promote");
    assert_eq!(
        out[0]["reason_codes"],
        serde_json::json!(["raroi_below_threshold", "manual_override"])
    );
    assert_eq!(out[0]["overrides"]["applied"], true);
    // Used twice: the second use is refused, the verdict is as without it.
    let (code2, out) = g.eval(card, &["--override", &ovr]);
    assert_eq!(code2, 1);
    assert_eq!(
        (
            out[0]["verdict"].as_str(),
            out[0]["overrides"]["refused"].as_str()
        ),
        (Some("no_go"), Some("used"))
    );
    // The decision log has both evaluations.
    let log = std::fs::read_to_string(g.home().join("governance/decision_log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2);
}

#[test]
fn overrides_refused_for_other_workflow_expired_or_non_security_signer() {
    let g = Governance::new();
    let card = r#"{"workflow_id": "wf-1", "raroi": 0.2, "confidence": 0.9}"#;
    let analyst = gavel_trust::ed25519::SigningKey::from_bytes(&[22; 32]);
    for (name, key, workflow, expires, refusal) in [
        ("other", &g.security, "wf-2", 3600, "other_workflow"),
        ("expired", &g.security, "wf-1", -60, "expired"),
        ("analyst", &analyst, "wf-1", 3600, "signer_not_security"),
    ] {
        let ovr = g.override_file(name, key, workflow, "promote", expires);
        let (c, out) = g.eval(card, &["--override", &ovr, "--no-log"]);
        assert_eq!(c, 1, "{name}");
        assert_eq!(out[0]["verdict"], "no_go", "{name}");
        assert_eq!(out[0]["overrides"]["refused"], refusal, "{name}");
    }
    // An unknown verdict is unusable input: exit 2.
    let odd = g.override_file("odd", &g.security, "wf-1", "launch", 3600);
    let (c, _) = g.eval(card, &["--override", &odd, "--no-log"]);
    assert_eq!(c, 2);
    // A veto is not overridable, and the override stays unused.
    let ovr = g.override_file("veto", &g.security, "wf-1", "promote", 3600);
    let (c, out) = g.eval(
        r#"{"workflow_id": "wf-1", "raroi": 3, "alignment_status": "FAIL"}"#,
        &["--override", &ovr, "--no-log"],
    );
    assert_eq!(
        (
            c,
            out[0]["verdict"].as_str(),
            out[0]["overrides"]["refused"].as_str()
        ),
        (1, Some("demote"), Some("veto_not_overridable"))
    );
    let (c, out) = g.eval(card, &["--override", &ovr, "--no-log"]);
    assert_eq!((c, out[0]["verdict"].as_str()), (0, Some("promote")));
}

#[test]
fn legacy_override_file_and_batches() {
    let g = Governance::new();
    let secret = gavel_trust::Sensitive::new(b"legacy-secret".to_vec());
    std::fs::write(g.path("secret.txt"), "legacy-secret\n").unwrap();
    let data = serde_json::json!({"bypass_micro_pilot": true, "workflow_id": "wf-m"});
    let f = g.path("legacy-override.json");
    std::fs::write(
        &f,
        serde_json::to_string(&gavel_trust::legacy_override(&data, &secret)).unwrap(),
    )
    .unwrap();
    let card = r#"{"workflow_id": "wf-m", "raroi": 1.4, "confidence": 0.8, "sandbox_roi": 0.05, "adapter_roi": 1.2}"#;
    let (c, out) = g.eval(card, &["--no-log"]);
    assert_eq!(
        (
            c,
            out[0]["verdict"].as_str(),
            out[0]["overrides"]["mode"].as_str()
        ),
        (0, Some("pilot"), Some("micro-pilot"))
    );
    let (c, out) = g.eval(
        card,
        &[
            "--override",
            &f,
            "--secret-file",
            &g.path("secret.txt"),
            "--mark-used",
            "--no-log",
        ],
    );
    assert_eq!(
        (
            c,
            out[0]["verdict"].as_str(),
            out[0]["overrides"]["legacy"].as_bool()
        ),
        (0, Some("promote"), Some(true))
    );
    let marked: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    assert_eq!(marked["used"], true);
    let (c, _) = g.eval(
        card,
        &[
            "--override",
            &f,
            "--secret-file",
            &g.path("secret.txt"),
            "--no-log",
        ],
    );
    assert_eq!(c, 1);

    // A batch: a JSONL file of scorecards, with a text summary per verdict.
    let batch = g.path("batch.jsonl");
    std::fs::write(&batch, "{\"workflow_id\":\"a\",\"raroi\":2,\"confidence\":0.9}\n{\"workflow_id\":\"b\",\"raroi\":0.5}\n{\"workflow_id\":\"c\",\"raroi\":2,\"confidence\":0.9,\"alignment_status\":\"fail\"}\n").unwrap();
    let out = gavel_in(
        g.home(),
        &[
            "scorecard",
            "eval",
            &batch,
            "--policy",
            &g.path("policy.yaml"),
            "--no-log",
        ],
    );
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("3 scorecards"), "{text}");
    assert!(text.contains("alignment_veto"), "{text}");
    let out = gavel_in(
        g.home(),
        &[
            "scorecard",
            "eval",
            &batch,
            "--policy",
            &g.path("policy.yaml"),
            "--no-log",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        3,
        "JSON Lines, one per scorecard"
    );
    // A malicious policy is refused at load.
    std::fs::write(
        g.path("evil.yaml"),
        "rules:\n  - decision: promote\n    condition: \"__import__('os').system('id')\"\n",
    )
    .unwrap();
    let out = gavel_in(
        g.home(),
        &[
            "scorecard",
            "eval",
            &batch,
            "--policy",
            &g.path("evil.yaml"),
            "--no-log",
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(
        json(&out)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rule 0")
    );
}

#[test]
fn example_scorecards_against_the_example_policy() {
    let dir = tempfile::tempdir().unwrap();
    let out = gavel_in(
        dir.path(),
        &[
            "scorecard",
            "eval",
            "fixtures/governance/scorecards",
            "--policy",
            "fixtures/governance/policy.yaml",
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<(String, String, Vec<String>)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let codes = v["reason_codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            (
                v["workflow_id"].as_str().unwrap().to_string(),
                v["verdict"].as_str().unwrap().to_string(),
                codes,
            )
        })
        .collect();
    let want = |w: &str, v: &str, c: &[&str]| {
        (
            w.to_string(),
            v.to_string(),
            c.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        got,
        [
            // sandbox 0.04 < 0.1 and adapter 1.35 > 1.0
            want("code-migration", "pilot", &["micro_pilot"]),
            // promotes on the defaults, but a projection dips to -0.03 (no queue in use)
            want("forecast-dip", "pilot", &["projected_roi_below_threshold"]),
            want("invoice-triage", "promote", &[]),
            // alignment.status FAIL
            want("outbound-email", "demote", &["alignment_veto"]),
            // confidence 0.74 < 0.8 and min scenario 0.58 < 0.6
            want("support-summaries", "pilot", &["thin_margin"]),
        ]
    );
    // The decision log got one line per scorecard.
    let log = std::fs::read_to_string(dir.path().join("governance/decision_log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 5);
}

/// Regression: a single-use override raced by concurrent evaluations is
/// applied exactly once (recording the use is what grants it).
#[test]
fn concurrent_evaluations_apply_an_override_once() {
    let g = Governance::new();
    let secret = gavel_trust::Sensitive::new(b"race-secret".to_vec());
    std::fs::write(g.path("secret.txt"), "race-secret").unwrap();
    let f = g.path("race.json");
    std::fs::write(
        &f,
        serde_json::to_string(&gavel_trust::legacy_override(
            &serde_json::json!({"forced_verdict": "promote", "workflow_id": "a"}),
            &secret,
        ))
        .unwrap(),
    )
    .unwrap();
    std::fs::write(g.path("policy.yaml"), "rules: []\n").unwrap();
    std::fs::write(
        g.path("low.json"),
        r#"{"workflow_id": "a", "raroi": 0.2, "confidence": 0.9}"#,
    )
    .unwrap();
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_gavel"))
                .args([
                    "scorecard",
                    "eval",
                    &g.path("low.json"),
                    "--policy",
                    &g.path("policy.yaml"),
                    "--override",
                    &f,
                    "--secret-file",
                    &g.path("secret.txt"),
                    "--no-log",
                    "--format",
                    "json",
                ])
                .current_dir(root())
                .env("GAVEL_HOME", g.home())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let applied = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .filter(|out| {
            let text = String::from_utf8_lossy(&out.stdout);
            text.lines().next().is_some_and(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["overrides"]["applied"]
                    == true
            })
        })
        .count();
    assert_eq!(applied, 1);
}
