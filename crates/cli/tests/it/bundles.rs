//! `validate`, `decide`, `diff` and bad input: exit codes, JSON contracts, located errors.

use crate::*;

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

/// Regression: the harness wrote to gavel's standard input after gavel had
/// exited (a missing bundle is refused before the request is read) and
/// failed on the closed pipe, now and then, on a fresh clone.
#[test]
fn harness_ignores_stdin_closed_by_an_early_exit() {
    let big = "x".repeat(4 << 20);
    let out = gavel(
        &["decide", "--bundle", "missing.yaml", "--request", "-"],
        Some(&big),
    );
    assert_eq!(code(&out), 2);
}

/// Regression: `gavel sim … | head -1` panicked in `println!` (exit 101)
/// when the reader went away; now gavel ends quietly, as `cat` does.
#[test]
fn closed_output_pipe_ends_quietly() {
    use std::io::Read as _;
    use std::os::unix::process::ExitStatusExt as _;
    let mut child = crate::bin()
        .args([
            "decide",
            "--bundle",
            "fixtures/bundles/inbox-triage.yaml",
            "--requests",
            "-",
            "--format",
            "json",
        ])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let line = "{\"agent\":\"inbox.triage\",\"action\":\"quarantine\",\"context\":{\"risk_score\":95}}\n";
        // Until gavel stops reading: the pipe closing is expected.
        for _ in 0..2_000_000 {
            if stdin.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    let mut first = [0u8; 64];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "quiet, but said: {stderr}");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}", out.status);
}

const REQUESTS: &str = concat!(
    r#"{"agent":"inbox.triage","action":"quarantine","context":{"risk_score":95,"category":"phishing"},"request_id":"r1"}"#,
    "\n\n",
    r#"{"agent":"inbox.triage","action":"quarantine","context":{"risk_score":1}}"#,
    "\n",
    r#"{"agent":5,"action":"quarantine"}"#,
    "\n",
    r#"{"agent":"inbox.triage","action":"quarantine","context":{"risk_score":95,"category":"phishing"}}"#,
    "\n",
);

/// Batch decisions, as OPA and Cedar users expect: JSON Lines in (file or
/// stdin), one decision a line out, a bad line answered in its place.
#[test]
fn decide_streams_a_batch_of_requests() {
    let bundle = "fixtures/bundles/inbox-triage.yaml";
    let out = gavel(
        &[
            "decide",
            "--bundle",
            bundle,
            "--requests",
            "-",
            "--format",
            "json",
        ],
        Some(REQUESTS),
    );
    assert_eq!(code(&out), 2, "a bad line makes the run exit 2");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "the blank line is skipped");
    // Each decision is the same as deciding the request alone.
    let alone = gavel(
        &[
            "decide",
            "--bundle",
            bundle,
            "--request",
            "-",
            "--format",
            "json",
        ],
        Some(REQUESTS.lines().next().unwrap()),
    );
    let mut first = lines[0].clone();
    assert_eq!(
        (first["line"].take(), first["request_id"].take()),
        (1.into(), "r1".into())
    );
    let first = first.as_object().unwrap();
    let alone = json(&alone);
    for (k, v) in alone.as_object().unwrap() {
        assert_eq!(first.get(k), Some(v), "{k}");
    }
    assert_eq!(lines[1]["line"], 3);
    assert_eq!(lines[2]["line"], 4);
    assert_eq!(lines[2]["error"]["code"], "invalid_request");
    assert_eq!(
        lines[2]["error"]["message"],
        "invalid request: `agent` must be a string, found a number (5)"
    );
    assert_eq!(lines[3]["effect"], lines[0]["effect"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Located within its line, at the value that is wrong.
    assert_eq!(lines[2]["error"]["column"], 10);
    assert!(stderr.contains("-:4:10: invalid request"), "{stderr}");
    assert!(
        stderr.contains("1 of 4 lines could not be used"),
        "{stderr}"
    );

    // From a file, as text, all good: exit 0, one line each.
    let dir = tempfile::tempdir().unwrap();
    let good: String = REQUESTS
        .lines()
        .filter(|l| !l.contains("\"agent\":5"))
        .map(|l| format!("{l}\n"))
        .collect();
    let file = dir.path().join("requests.jsonl");
    std::fs::write(&file, good).unwrap();
    let out = gavel(
        &[
            "decide",
            "--bundle",
            bundle,
            "--requests",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.lines().next().unwrap().starts_with("1 (r1): "),
        "{text}"
    );

    let out = gavel(&["decide", "--bundle", bundle], None);
    assert_eq!(code(&out), 2, "needs --request or --requests");
}

/// `decide --explain`: the decision, then every rule tried in order with
/// the first failing condition and why, or that it matched.
#[test]
fn decide_explain_lists_the_rules_tried() {
    let bundle = "fixtures/bundles/inbox-triage.yaml";
    let request = r#"{"agent":"inbox.triage","action":"quarantine","context":{"risk_score":95,"category":"phishing"}}"#;
    let out = gavel(
        &[
            "decide",
            "--bundle",
            bundle,
            "--request",
            "-",
            "--explain",
            "--format",
            "json",
        ],
        Some(request),
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    let steps = v["explain"].as_array().unwrap();
    let last = steps.last().unwrap();
    assert_eq!(last["matched"], true);
    assert_eq!(last["rule_id"], v["rule_id"]);
    assert!(
        steps[..steps.len() - 1]
            .iter()
            .all(|s| s["matched"] == false
                && s["condition"].is_string()
                && s["message"].is_string())
    );
    let out = gavel(
        &["decide", "--bundle", bundle, "--request", "-", "--explain"],
        Some(request),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("rules tried, in order"), "{text}");
    assert!(
        text.contains(&format!("✓ `{}`", v["rule_id"].as_str().unwrap())),
        "{text}"
    );
}

/// Regression: `version suggest` printed text under `--format json`, and
/// `--format sarif` was offered by every command though only `lint` has it.
#[test]
fn every_command_honours_json_and_only_lint_offers_sarif() {
    let (old, new) = (
        "fixtures/bundles/inbox-triage.yaml",
        "fixtures/bundles/inbox-triage.yaml",
    );
    let out = gavel(&["version", "suggest", old, new, "--format", "json"], None);
    assert_eq!(code(&out), 0);
    let v = json(&out);
    assert_eq!(v["suggested_version"], v["current_version"]);
    assert_eq!(
        (v["bump"].as_str(), v["class"].as_str()),
        (Some("none"), Some("none"))
    );

    let help = gavel(&["validate", "--help"], None);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("[possible values: text, json]"), "{help}");
    assert!(!help.contains("sarif"), "{help}");
    let lint_help = gavel(&["lint", "--help"], None);
    assert!(String::from_utf8_lossy(&lint_help.stdout).contains("--format sarif"));
    let out = gavel(&["validate", old, "--format", "sarif"], None);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("only for `gavel lint`"));
}

/// The subcommands `gavel <path> --help` lists.
fn subcommands(path: &[&str]) -> Vec<String> {
    let mut args = path.to_vec();
    args.push("--help");
    let out = gavel(&args, None);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|name| name != "help")
        .collect()
}

/// Regression: help gave no example. Every command's `--help`, found by
/// walking the command tree, ends with one or two examples.
#[test]
fn every_command_help_ends_with_examples() {
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(path) = todo.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        for sub in subcommands(&args) {
            let mut next = path.clone();
            next.push(sub);
            todo.push(next);
        }
        let mut help_args = args.clone();
        help_args.push("--help");
        let out = gavel(&help_args, None);
        assert_eq!(code(&out), 0);
        let help = String::from_utf8_lossy(&out.stdout);
        let tail = help
            .rsplit_once("Examples:\n")
            .unwrap_or_else(|| panic!("`gavel {}` has no examples:\n{help}", path.join(" ")))
            .1;
        let commands: Vec<&str> = tail
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("gavel ") || l.contains("| gavel "))
            .collect();
        assert!(
            (1..=2).contains(&commands.len()),
            "`gavel {}`: {tail}",
            path.join(" ")
        );
        // The examples show this very command.
        let name = format!("gavel {}", path.join(" "));
        assert!(
            tail.contains(name.trim_end()),
            "`{name}` examples show other commands: {tail}"
        );
        seen += 1;
    }
    assert!(seen >= 25, "walked only {seen} commands");
}
