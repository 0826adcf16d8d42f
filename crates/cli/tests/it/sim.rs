//! `gavel sim`, `sim compare`, `sim replay` and `gavel test`.

use crate::*;

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
        &[
            "sim",
            "fixtures/sim/bundle.yaml",
            "--dataset",
            "fixtures",
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(code(&out), 0);
    let r = json(&out);
    let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["dataset", "examples", "results", "rule_hits", "summary"]);
    assert_eq!(r["dataset"], serde_json::json!({"kind": "fixtures"}));
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
            "--dataset",
            "fixtures",
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
