//! `gavel canary check`: the JSON report, the text lines, exit codes 0, 1
//! and 2, and bad metrics files located by name, line and column.

use gavel_governance::canary::{GateConfig, Metrics, check};

use crate::*;

/// Writes `text` to a metrics file in `dir` and runs `canary check` on it.
fn run(dir: &Path, text: &str, extra: &[&str]) -> (i32, Output, String) {
    let path = dir.join("metrics.json");
    std::fs::write(&path, text).unwrap();
    let p = path.to_str().unwrap().to_string();
    let mut args = vec!["canary", "check", "--metrics", p.as_str()];
    args.extend_from_slice(extra);
    let out = gavel(&args, None);
    (code(&out), out, p)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

const PASSING: &str = r#"{"total_decisions": 400, "error_count": 8, "deny_count": 100,
  "no_match_count": 4, "baseline_avg_cost": 1.0, "canary_avg_cost": 1.1,
  "cost_histogram": {"0": 300, "4.4": 100},
  "stable": {"total_decisions": 400, "error_count": 8, "deny_count": 100, "no_match_count": 4,
             "cost_histogram": {"0": 300, "4": 100}}}"#;

#[test]
fn canary_check_json_is_the_gate_report() {
    let dir = tempfile::tempdir().unwrap();
    let (exit, out, _) = run(dir.path(), PASSING, &["--format", "json"]);
    assert_eq!(exit, 0, "{}", stderr(&out));
    let v = json(&out);
    // Exactly what the library reports, nothing added.
    let expected = check(
        &Metrics::from_json(&serde_json::from_str(PASSING).unwrap()).unwrap(),
        &GateConfig::default(),
    );
    assert_eq!(v, serde_json::to_value(&expected).unwrap());
    assert_eq!(v["passed"], true);
    assert_eq!(v["failures"], serde_json::json!([]));
    let names: Vec<&str> = v["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "samples",
            "error_rate",
            "deny_rate",
            "cost_increase",
            "vs_stable"
        ]
    );
    assert_eq!(
        v["gates"][1],
        serde_json::json!({"name": "error_rate", "state": "pass", "value": 0.02,
                           "threshold": 0.05, "message": "Error rate 2.00% <= 5.00%"})
    );
    assert_eq!(v["gates"][4]["state"], "pass");
    assert_eq!(stdout(&out).lines().count(), 1);
}

#[test]
fn canary_check_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    // A failing gate: exit 1, its reason in `failures`.
    let (exit, out, _) = run(
        dir.path(),
        r#"{"total_decisions": 200, "error_count": 15, "deny_count": 0, "baseline_avg_cost": 1, "canary_avg_cost": 1.5}"#,
        &["--format", "json"],
    );
    assert_eq!(exit, 1);
    assert_eq!(
        json(&out)["failures"],
        serde_json::json!([
            "Error rate too high: 7.50% > 5.00%",
            "Cost increase too high: 50.00% > 20.00%"
        ])
    );
    // Inconclusive alone is exit 1 too: hold, never pass.
    let few = r#"{"total_decisions": 50, "baseline_avg_cost": 0, "canary_avg_cost": 0}"#;
    let (exit, out, _) = run(dir.path(), few, &["--format", "json"]);
    assert_eq!(exit, 1);
    let v = json(&out);
    assert_eq!(v["passed"], false);
    assert_eq!(
        v["failures"],
        serde_json::json!(["Insufficient samples: 50 < 100"])
    );
    assert_eq!(v["gates"][0]["state"], "inconclusive");
    // The environment's minimum.
    let (exit, out, _) = run(
        dir.path(),
        few,
        &["--min-samples", "50", "--format", "json"],
    );
    assert_eq!(exit, 0, "{}", stdout(&out));
    assert_eq!(json(&out)["gates"][3]["state"], "skipped");
    assert_eq!(json(&out)["gates"][4]["state"], "skipped");
    for bad in ["0", "-1", "many"] {
        let (exit, out, _) = run(dir.path(), few, &["--min-samples", bad, "--format", "json"]);
        assert_eq!(exit, 2, "--min-samples {bad}");
        assert_eq!(json(&out)["error"]["code"], "usage");
    }
    // Standard input.
    let out = gavel(
        &["canary", "check", "--metrics", "-", "--format", "json"],
        Some(PASSING),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["passed"], true);
    // --metrics is required.
    let out = gavel(&["canary", "check"], None);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("required"), "{}", stderr(&out));
}

#[test]
fn canary_check_text_has_a_line_per_gate_and_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let (exit, out, _) = run(dir.path(), PASSING, &[]);
    assert_eq!(exit, 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(
        lines[0].starts_with("pass          samples        400 vs 100"),
        "{text}"
    );
    assert!(lines[0].ends_with("400 decisions, at least 100"), "{text}");
    assert!(
        lines[1].starts_with("pass          error_rate     2.00% vs 5.00%"),
        "{text}"
    );
    assert!(
        lines[3].contains("cost_increase  10.00% vs 20.00%")
            && lines[3].ends_with("Cost increase 10.00% <= 20.00%"),
        "{text}"
    );
    assert!(lines[4].contains("vs_stable      p="), "{text}");
    assert!(lines[4].contains(" vs 0.01 "), "{text}");
    assert_eq!(lines[5], "passed: every gate passed or was skipped");

    let (exit, out, _) = run(
        dir.path(),
        r#"{"total_decisions": 60, "deny_count": 24, "baseline_avg_cost": 0, "canary_avg_cost": 2,
            "stable": {"total_decisions": 500}}"#,
        &[],
    );
    assert_eq!(exit, 1);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("inconclusive  samples        60 vs 100")
            && lines[0].ends_with("Insufficient samples: 60 < 100"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("fail          deny_rate      40.00% vs 30.00%")
            && lines[2].ends_with("Deny rate too high: 40.00% > 30.00%"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("skipped       cost_increase  - vs 20.00%"),
        "{text}"
    );
    assert!(
        lines[4].starts_with("inconclusive  vs_stable      - vs 0.01")
            && lines[4].ends_with("Insufficient samples vs stable: canary 60 < 100"),
        "{text}"
    );
    assert_eq!(
        lines[5],
        "not passed: 1 failed, 2 inconclusive; hold the canary and tell a person"
    );
}

#[test]
fn canary_check_bad_metrics_are_located_by_name() {
    let dir = tempfile::tempdir().unwrap();
    // A missing file names it.
    let missing = dir.path().join("nope.json");
    let missing = missing.to_str().unwrap();
    let out = gavel(
        &["canary", "check", "--metrics", missing, "--format", "json"],
        None,
    );
    assert_eq!(code(&out), 2);
    let e = &json(&out)["error"];
    assert_eq!(e["code"], "unreadable");
    assert_eq!(e["file"], missing);
    assert!(stderr(&out).contains(missing));

    // Not JSON: a syntax error at its line.
    let (exit, out, p) = run(
        dir.path(),
        "{\"total_decisions\": 100,\n  oops}",
        &["--format", "json"],
    );
    assert_eq!(exit, 2);
    let e = &json(&out)["error"];
    assert_eq!(
        (e["code"].as_str(), e["file"].as_str()),
        (Some("syntax_error"), Some(p.as_str()))
    );
    assert_eq!(e["line"], 2);

    // A key given twice is refused, not "the last one wins".
    let (exit, out, _) = run(
        dir.path(),
        r#"{"deny_count": 90, "deny_count": 0, "total_decisions": 100, "baseline_avg_cost": 1, "canary_avg_cost": 1}"#,
        &["--format", "json"],
    );
    assert_eq!(exit, 2);
    assert_eq!(json(&out)["error"]["code"], "syntax_error");

    // An empty file.
    let (exit, out, _) = run(dir.path(), " \n", &["--format", "json"]);
    assert_eq!(exit, 2);
    let e = &json(&out)["error"];
    assert_eq!(e["code"], "empty_file");
    assert!(e["message"].as_str().unwrap().contains("metrics"), "{e}");

    // A count above the total: the field by path, pointer, line and column.
    let text = "{\n  \"total_decisions\": 100,\n  \"baseline_avg_cost\": 1,\n  \"canary_avg_cost\": 1,\n  \"stable\": {\n    \"total_decisions\": 100,\n    \"deny_count\": 120\n  }\n}\n";
    let (exit, out, p) = run(dir.path(), text, &["--format", "json"]);
    assert_eq!(exit, 2);
    let e = &json(&out)["error"];
    assert_eq!(e["code"], "invalid_metrics");
    assert_eq!(e["file"], p.as_str());
    assert_eq!(e["pointer"], "/stable/deny_count");
    assert_eq!(
        (e["line"].as_u64(), e["column"].as_u64()),
        (Some(7), Some(19))
    );
    assert_eq!(
        e["message"],
        "`stable.deny_count` is 120, more than the 100 decisions in `total_decisions`; a count cannot exceed the decisions it counts"
    );
    let err = stderr(&out);
    assert!(err.contains(&format!("{p}:7:19")), "{err}");
    assert!(err.contains("\"deny_count\": 120"), "{err}");

    // An unknown field is shown at its key, with the nearest known one.
    let text = "{\"total_decisions\": 100, \"baseline_avg_cost\": 1, \"canary_avg_cost\": 1,\n \"stable\": {\"no_mach_count\": 3}}";
    let (exit, out, _) = run(dir.path(), text, &["--format", "json"]);
    assert_eq!(exit, 2);
    let e = &json(&out)["error"];
    assert_eq!(e["code"], "invalid_metrics");
    assert_eq!(
        e["message"],
        "unknown field `stable.no_mach_count`; did you mean `no_match_count`?"
    );
    assert_eq!(
        (e["line"].as_u64(), e["column"].as_u64()),
        (Some(2), Some(13))
    );

    // A bad cost key, as text: the compiler-style message.
    let text = "{\"total_decisions\": 10, \"baseline_avg_cost\": 1, \"canary_avg_cost\": 1, \"cost_histogram\": {\"cheap\": 3}}";
    let (exit, out, p) = run(dir.path(), text, &[]);
    assert_eq!(exit, 2);
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.starts_with("error: `cost_histogram[\"cheap\"]` is not a cost"),
        "{err}"
    );
    assert!(err.contains(&format!("--> {p}:1:")), "{err}");
    assert!(err.contains("= at /cost_histogram/cheap"), "{err}");
}
