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
    assert_eq!(
        keys,
        ["dataset", "examples", "results", "rule_hits", "summary"]
    );
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

fn sim_json(args: &[&str]) -> Value {
    let mut all = vec!["sim"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = gavel(&all, None);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    json(&out)
}

#[test]
fn sim_defaults_to_the_seeded_synthetic_set_and_says_so() {
    let bundle = "fixtures/bundles/inbox-triage.yaml";
    let r = sim_json(&[bundle]);
    assert_eq!(
        r["dataset"],
        serde_json::json!({"kind": "synthetic", "count": 1000, "seed": 1337})
    );
    assert_eq!(r["summary"]["total_cases"], 1000);
    assert_eq!(
        r,
        sim_json(&[
            bundle,
            "--dataset",
            "synthetic",
            "--count",
            "1000",
            "--seed",
            "1337"
        ])
    );
    let out = gavel(&["sim", bundle], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("dataset: synthetic, 1000 cases drawn from the bundle with seed 1337"),
        "{text}"
    );
    let r = sim_json(&[bundle, "--dataset", "fixtures/sim/cases.json"]);
    assert_eq!(
        r["dataset"],
        serde_json::json!({"kind": "file", "path": "fixtures/sim/cases.json"})
    );
}

#[test]
fn sim_text_labels_the_no_match_example() {
    let out = gavel(
        &["sim", "fixtures/sim/bundle.yaml", "--dataset", "fixtures"],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("missing-fields-empty-context"))
        .unwrap();
    assert!(line.trim_start().starts_with("no match"), "{line}");
    assert!(line.contains("default effect, deny"), "{line}");
    assert!(text.starts_with("dataset: fixtures"), "{text}");
}

fn lines_of(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn sim_json_leaves_results_out_above_10000_cases_and_results_file_has_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = "fixtures/bundles/deployment-safety.yaml";
    let file = dir.path().join("results.jsonl");
    let f = file.to_str().unwrap();
    let at_limit = sim_json(&[bundle, "--count", "10000", "--results", f]);
    let inline = at_limit["results"].as_array().unwrap();
    assert_eq!(inline.len(), 10_000);
    assert_eq!(&lines_of(&file), inline, "the file holds the same rows");
    let over = sim_json(&[bundle, "--count", "10001", "--results", f]);
    assert!(over.get("results").is_none(), "no results above 10,000");
    for k in ["dataset", "summary", "examples", "rule_hits"] {
        assert!(over.get(k).is_some(), "{k} is kept");
    }
    let rows = lines_of(&file);
    assert_eq!(rows.len(), 10_001);
    assert_eq!(rows[10_000]["case_id"], "synthetic-010001");
    let one = std::fs::read(&file).unwrap();
    sim_json(&[bundle, "--count", "10001", "--results", f, "--threads", "3"]);
    assert_eq!(
        one,
        std::fs::read(&file).unwrap(),
        "same bytes on 3 threads"
    );
    assert_eq!(over["summary"]["total_cases"], 10_001);
    let out = gavel(&["sim", bundle, "--results", "-"], None);
    assert_eq!(code(&out), 2, "standard output carries the report");
}

#[test]
fn compare_bounds_changes_and_streams_every_one_with_results() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, effect: &str| {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            format!("rules:\n  - {{id: all-{effect}, agent: \"*\", action: \"*\", effect: {effect}, reason: Everything is decided so}}\n"),
        )
        .unwrap();
        p.to_str().unwrap().to_string()
    };
    let (a, b) = (write("a.yaml", "allow"), write("b.yaml", "deny"));
    let file = dir.path().join("changes.jsonl");
    let out = gavel(
        &[
            "sim",
            "compare",
            &a,
            &b,
            "--count",
            "2500",
            "--results",
            file.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(code(&out), 0);
    let c = json(&out);
    assert_eq!(c["changes"].as_array().unwrap().len(), 1000);
    assert_eq!(c["total_changes"], 2500);
    assert_eq!(c["transitions"]["allow->deny"], 2500);
    assert_eq!(c["dataset"]["kind"], "synthetic");
    let changes = lines_of(&file);
    assert_eq!(changes.len(), 2500);
    assert_eq!(changes[..1000], c["changes"].as_array().unwrap()[..]);
    let out = gavel(&["sim", "compare", &a, &b, "--count", "2500"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2500 cases changed"), "{text}");
    assert!(text.contains("… and 2450 more"), "{text}");
}

#[test]
fn replay_streams_its_log_and_locates_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    let good = "{\"request\":{\"agent\":\"knowledge.search\",\"action\":\"reindex\",\"context\":{\"index_size_gb\":400}},\"decision\":{\"effect\":\"allow\"}}\n";
    std::fs::write(&log, format!("{good}\n{good}")).unwrap();
    let file = dir.path().join("changes.jsonl");
    let out = gavel(
        &[
            "sim",
            "replay",
            "fixtures/sim/bundle.yaml",
            log.to_str().unwrap(),
            "--results",
            file.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(code(&out), 0);
    let r = json(&out);
    assert_eq!(
        (r["total_decisions"].as_u64(), r["total_changes"].as_u64()),
        (Some(2), Some(2))
    );
    let changes = lines_of(&file);
    assert_eq!(changes[1]["case_id"], "line-3", "named by their line");
    std::fs::write(
        &log,
        format!("{good}{good}{{\"agent\":\"a.b\",\"effect\":\"allow\"}}\n"),
    )
    .unwrap();
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
    assert_eq!(code(&out), 2);
    let e = &json(&out)["error"];
    assert_eq!(
        (e["code"].as_str(), e["line"].as_u64()),
        (Some("invalid_log"), Some(3))
    );
    assert!(
        e["message"].as_str().unwrap().contains("no `action`"),
        "{e}"
    );
}

#[test]
fn csv_dataset_errors_keep_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("cases.csv");
    std::fs::write(
        &csv,
        "\u{feff}case_id,agent,action,risk_score\nc1,inbox.triage,quarantine,95\nc2,inbox.triage,quarantine,95\nc3,inbox.triage\n",
    )
    .unwrap();
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
    assert_eq!(code(&out), 2);
    let e = &json(&out)["error"];
    assert_eq!(
        (e["code"].as_str(), e["line"].as_u64()),
        (Some("invalid_cases"), Some(4))
    );
    std::fs::write(&csv, "customer,customer.tier,agent,action\n").unwrap();
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
    assert_eq!(code(&out), 2);
    let e = &json(&out)["error"];
    assert_eq!(e["line"], 1);
    assert!(
        e["message"].as_str().unwrap().contains("`customer.tier`"),
        "{e}"
    );
}

/// Runs `gavel test` on the sim bundle with `files` (name, content) and
/// returns (exit code, the JSON error or report, stderr).
fn gavel_test(files: &[(&str, &str)]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["test".to_string(), "fixtures/sim/bundle.yaml".to_string()];
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        args.push(p.to_str().unwrap().to_string());
    }
    args.extend(["--format".to_string(), "json".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = gavel(&args, None);
    (
        code(&out),
        json(&out),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PHISHING: &str = "\"agent\":\"inbox.triage\",\"action\":\"quarantine\",\"context\":{\"risk_score\":95,\"category\":\"phishing\"}";

#[test]
fn test_refuses_an_expected_rule_naming_no_rule_of_the_bundle() {
    let cases = format!(
        "{{\"case_id\":\"ok\",{PHISHING},\"expected_effect\":\"allow\"}}\n{{\"case_id\":\"typo\",{PHISHING},\"expected_rule\":\"sim-quarantine-high-risc\"}}\n"
    );
    let (code, r, _) = gavel_test(&[("cases.jsonl", &cases)]);
    assert_eq!(code, 2, "{r}");
    let e = &r["error"];
    assert_eq!(e["line"], 2);
    assert!(e["file"].as_str().unwrap().ends_with("cases.jsonl"));
    let m = e["message"].as_str().unwrap();
    assert!(m.contains("case `typo`"), "{m}");
    assert!(
        m.contains("did you mean `sim-quarantine-high-risk`?"),
        "{m}"
    );
    // `null` (no rule should match) is an expectation, not a typo.
    let cases =
        "{\"case_id\":\"none\",\"agent\":\"x.y\",\"action\":\"deploy\",\"expected_rule\":null}\n";
    assert_eq!(gavel_test(&[("cases.jsonl", cases)]).0, 0);
}

#[test]
fn test_refuses_duplicate_case_ids_within_and_across_files() {
    let case = format!("{{\"case_id\":\"same\",{PHISHING},\"expected_effect\":\"allow\"}}\n");
    let (code, r, _) = gavel_test(&[("one.jsonl", &format!("{case}{case}"))]);
    assert_eq!(code, 2, "{r}");
    assert_eq!(r["error"]["line"], 2);
    let m = r["error"]["message"].as_str().unwrap();
    assert!(m.contains("case `same` is defined twice"), "{m}");
    assert!(m.contains("one.jsonl:1"), "{m}");
    let (code, r, _) = gavel_test(&[("one.jsonl", &case), ("two.jsonl", &case)]);
    assert_eq!(code, 2, "{r}");
    assert!(r["error"]["file"].as_str().unwrap().ends_with("two.jsonl"));
    // Cases without ids are numbered per file: no clash across files.
    let unnamed = format!("{{{PHISHING},\"expected_effect\":\"allow\"}}\n");
    let (code, r, _) = gavel_test(&[("one.jsonl", &unnamed), ("two.jsonl", &unnamed)]);
    assert_eq!((code, r["total"].as_u64()), (0, Some(2)), "{r}");
}

#[test]
fn test_suggests_the_field_a_misspelled_case_field_meant() {
    let cases = format!("{{\"case_id\":\"c\",{PHISHING},\"expected_efect\":\"allow\"}}\n");
    let (code, r, stderr) = gavel_test(&[("cases.jsonl", &cases)]);
    assert_eq!(code, 2);
    let m = r["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("unknown field `expected_efect`; did you mean `expected_effect`?"),
        "{m}"
    );
    assert_eq!(r["error"]["line"], 1);
    assert!(
        stderr.contains("did you mean `expected_effect`?"),
        "{stderr}"
    );
}

/// Regression: every failure was kept to be printed, so a run of millions
/// of failing cases grew without bound. The first 1,000 are listed; all
/// are counted.
#[test]
fn test_lists_the_first_thousand_failures_and_counts_all() {
    let cases: String = (0..1_500)
        .map(|i| format!("{{\"case_id\":\"c{i}\",{PHISHING},\"expected_effect\":\"deny\"}}\n"))
        .collect();
    let (code, r, _) = gavel_test(&[("cases.jsonl", &cases)]);
    assert_eq!(code, 1, "{r}");
    assert_eq!(
        (
            r["total"].as_u64(),
            r["failed"].as_u64(),
            r["passed"].as_bool()
        ),
        (Some(1_500), Some(1_500), Some(false))
    );
    let listed = r["failures"].as_array().unwrap();
    assert_eq!(listed.len(), 1_000);
    assert_eq!(listed[999]["case_id"], "c999");

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cases.jsonl");
    std::fs::write(&p, &cases).unwrap();
    let out = gavel(
        &["test", "fixtures/sim/bundle.yaml", p.to_str().unwrap()],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("… and 500 more failures not listed (the first 1000 are)"),
        "{}",
        &text[text.len() - 300..]
    );
    assert!(
        text.ends_with("0 passed, 1500 failed\n"),
        "{}",
        &text[text.len() - 300..]
    );
}

/// Case ids are remembered by hash, not text: a duplicate is still found
/// across files, with where it was first given.
#[test]
fn test_finds_an_id_given_twice_across_files_after_many_cases() {
    let first: String = (0..5_000)
        .map(|i| format!("{{\"case_id\":\"c{i}\",{PHISHING},\"expected_effect\":\"allow\"}}\n"))
        .collect();
    let second = format!(
        "{{\"case_id\":\"new\",{PHISHING},\"expected_effect\":\"allow\"}}\n{{\"case_id\":\"c4321\",{PHISHING},\"expected_effect\":\"allow\"}}\n"
    );
    let (code, r, _) = gavel_test(&[("a.jsonl", &first), ("b.jsonl", &second)]);
    assert_eq!(code, 2, "{r}");
    let e = &r["error"];
    assert_eq!(e["line"], 2);
    assert!(e["file"].as_str().unwrap().ends_with("b.jsonl"), "{e}");
    let m = e["message"].as_str().unwrap();
    assert!(
        m.contains("case `c4321` is defined twice (first at ") && m.contains("a.jsonl:4322)"),
        "{m}"
    );
}

/// A JSON Lines dataset of several blocks is read and parsed a block
/// ahead of the deciding: every case comes out in file order, the same
/// bytes on one thread or more; a bad line in a later block stops the
/// run at that line, whatever the threads.
#[test]
fn json_lines_blocks_read_ahead_keep_file_order_and_stop_at_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = "fixtures/bundles/deployment-safety.yaml";
    let n = 40_000;
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "{{\"case_id\":\"c-{i}\",\"agent\":\"deploy.bot\",\"action\":\"deploy\",\"context\":{{\"risk_score\":{}}}}}\n",
            i % 100
        ));
        if i == 20_000 {
            text.push('\n');
        }
    }
    let cases = dir.path().join("cases.jsonl");
    std::fs::write(&cases, &text).unwrap();
    let results = |threads: &str| {
        let file = dir.path().join(format!("results-{threads}.jsonl"));
        let r = sim_json(&[
            bundle,
            "--dataset",
            cases.to_str().unwrap(),
            "--results",
            file.to_str().unwrap(),
            "--threads",
            threads,
        ]);
        assert_eq!(r["summary"]["total_cases"], n);
        std::fs::read(&file).unwrap()
    };
    let one = results("1");
    let rows: Vec<Value> = String::from_utf8_lossy(&one)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), n);
    assert!(
        rows.iter()
            .enumerate()
            .all(|(i, r)| r["case_id"] == format!("c-{i}")),
        "file order"
    );
    assert_eq!(one, results("2"), "same bytes on 2 threads");
    assert_eq!(one, results("3"), "same bytes on 3 threads");

    // Line 35,002 (the blank line counts) is not a case.
    let mut lines: Vec<&str> = text.lines().collect();
    lines[35_001] = "{\"agent\": 7}";
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    for threads in ["1", "2"] {
        let out = gavel(
            &[
                "sim",
                bundle,
                "--dataset",
                bad.to_str().unwrap(),
                "--format",
                "json",
                "--threads",
                threads,
            ],
            None,
        );
        assert_eq!(code(&out), 2, "{threads} threads");
        let e = json(&out)["error"].clone();
        assert_eq!(
            (e["code"].as_str(), e["line"].as_u64()),
            (Some("invalid_cases"), Some(35_002)),
            "{threads} threads: {e}"
        );
    }
}

/// A JSON Lines dataset is read and decided in shares on every thread,
/// borrowing its lines; a JSON array of the same cases goes through the
/// run one case at a time. Both give the same report (summary, examples,
/// rule hits, failures) and the same result rows, on 1, 2 and 3 threads,
/// over cases of every outcome, with expectations met and missed, ids
/// given and made up, and lines the quick reader leaves to serde.
#[test]
fn json_lines_in_shares_report_what_a_json_array_of_the_same_cases_reports() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = "fixtures/sim/bundle.yaml";
    let n = 36_000;
    let mut cases = Vec::with_capacity(n);
    for i in 0..n {
        let score = (i / 15 * 13) % 105;
        let action = ["quarantine", "allow", "escalate", "reindex", "delete"][i % 5];
        let category = ["phishing", "spam", "news"][i % 3];
        let mut case = format!(
            "\"agent\":\"inbox.triage\",\"action\":\"{action}\",\"context\":{{\"risk_score\":{score},\"category\":\"{category}\",\"sender\":{{\"domain\":\"example.com\"}}}}"
        );
        match i % 11 {
            // An expectation met or missed, by effect or by rule.
            0 => case.push_str(",\"expected_effect\":\"deny\""),
            1 => case.push_str(",\"expected_rule\":null"),
            2 => case.push_str(",\"expected_rule\":\"sim-quarantine-high-risk\""),
            _ => {}
        }
        // Ids given (one with an escape, read by serde), or made up.
        let id = match i % 13 {
            0 => String::new(),
            1 => format!("\"case_id\":\"c\\u002d{i}\","),
            2 => format!("\"request_id\":\"r-{i}\","),
            _ => format!("\"case_id\":\"c-{i}\","),
        };
        cases.push(format!("{{{id}{case}}}"));
    }
    let lines = dir.path().join("cases.jsonl");
    std::fs::write(&lines, cases.join("\n") + "\n").unwrap();
    let array = dir.path().join("cases.json");
    std::fs::write(&array, format!("[{}]", cases.join(",\n"))).unwrap();
    let run = |dataset: &Path, threads: &str| {
        let file = dir.path().join("results.jsonl");
        let mut r = sim_json(&[
            bundle,
            "--dataset",
            dataset.to_str().unwrap(),
            "--results",
            file.to_str().unwrap(),
            "--threads",
            threads,
        ]);
        r.as_object_mut().unwrap().remove("dataset");
        (r, std::fs::read_to_string(&file).unwrap())
    };
    let (report, rows) = run(&array, "1");
    assert_eq!(report["summary"]["total_cases"], n);
    for kind in [
        "allow_count",
        "deny_count",
        "approval_count",
        "no_match_count",
    ] {
        assert!(
            report["summary"][kind].as_u64().unwrap() > 100,
            "{kind}: {report}"
        );
    }
    assert_eq!(report["examples"].as_array().unwrap().len(), 4, "{report}");
    assert_eq!(rows.lines().count(), n);
    let passed = |want: bool| {
        rows.lines()
            .filter(|l| l.contains(&format!("\"passed\":{want}")))
            .count()
    };
    assert!(
        passed(true) > 100 && passed(false) > 100,
        "expectations met and missed"
    );
    assert!(rows.contains("\"case_id\":\"case-14\""), "a made-up id");
    assert!(rows.contains("\"case_id\":\"c-14\""), "an escaped id read");
    for threads in ["1", "2", "3"] {
        let (r, l) = run(&lines, threads);
        assert_eq!(r, report, "JSON Lines on {threads} threads");
        assert!(l == rows, "result rows on {threads} threads");
    }
}
