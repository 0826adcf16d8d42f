//! `gavel lint`: the JSON contract, text and SARIF, exit codes.

use crate::*;

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
        text.contains(&format!("--> {p}:14:5 (rule `odd-action`, #2)")),
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

/// A one-line JSON bundle: `n` rules in one group, allow and deny
/// alternating, every allow overlapping every deny; reasons padded with
/// `pad` so the line is long.
fn overlapping_json(n: usize, pad: &str) -> String {
    let rules: Vec<Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "id": format!("over-{i:04}"),
                "agent": "inbox.triage",
                "action": "quarantine",
                "effect": if i % 2 == 0 { "allow" } else { "deny" },
                "conditions": {">=x": i, "<=x": 1000 + i},
                "reason": format!("Overlapping rule {pad}"),
            })
        })
        .collect();
    serde_json::json!({ "rules": rules }).to_string()
}

#[test]
fn lint_max_findings_caps_the_list_and_the_summary_counts_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("over.json");
    std::fs::write(&path, overlapping_json(30, "")).unwrap();
    let p = path.to_str().unwrap();
    let full = json(&gavel(&["lint", p, "--format", "json"], None));
    let found = full["summary"]["warnings"].as_u64().unwrap();
    assert_eq!(found, 225, "15 allow × 15 deny conflicts");
    assert_eq!(full["summary"]["left_out"], 0);

    let out = gavel(
        &["lint", p, "--max-findings", "4", "--format", "json"],
        None,
    );
    assert_eq!(code(&out), 0, "warnings only");
    let r = json(&out);
    assert_eq!(r["warnings"].as_array().unwrap().len(), 4);
    assert_eq!(
        r["warnings"],
        serde_json::json!(full["warnings"].as_array().unwrap()[..4])
    );
    let s = &r["summary"];
    assert_eq!(s["warnings"].as_u64(), Some(found), "found, not listed");
    assert_eq!(s["left_out"].as_u64(), Some(found - 4));
    let info = &r["info"][0];
    assert_eq!(info["code"], "analysis-incomplete");
    assert!(
        info["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{} of {found} `conflict`", found - 4)),
        "{info}"
    );
    assert!(
        info["suggestion"]
            .as_str()
            .unwrap()
            .contains("--max-findings")
    );

    // SARIF lists the same capped set.
    let sarif = json(&gavel(
        &["lint", p, "--max-findings", "4", "--format", "sarif"],
        None,
    ));
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 5);
}

#[test]
fn lint_max_findings_zero_or_too_many_is_refused_with_exit_2() {
    for (n, says) in [
        ("0", "0 would list every finding"),
        ("10001", "is over 10000"),
    ] {
        let out = gavel(
            &[
                "lint",
                "fixtures/bundles/inbox-triage.yaml",
                "--max-findings",
                n,
                "--format",
                "json",
            ],
            None,
        );
        assert_eq!(code(&out), 2, "--max-findings {n}");
        let e = &json(&out)["error"];
        assert_eq!(e["code"], "usage");
        assert!(e["message"].as_str().unwrap().contains(says), "{e}");
    }
}

/// The source line and caret line under `--> …` in text output.
fn snippet_after<'a>(text: &'a str, location: &str) -> (&'a str, &'a str) {
    let mut lines = text.lines().skip_while(|l| !l.contains(location));
    lines
        .next()
        .unwrap_or_else(|| panic!("no `{location}` in {text}"));
    let _bar = lines.next().unwrap();
    let source = lines.next().unwrap();
    let caret = lines.next().unwrap();
    (source, caret)
}

/// What stands under the caret: the character of `source` at the caret's
/// position (both counted in characters after `N | `).
fn under_caret(source: &str, caret: &str) -> char {
    let gutter = source.find("| ").unwrap() + 2;
    let at = caret.chars().count() - 1;
    assert!(caret.ends_with('^'), "{caret}");
    source
        .chars()
        .nth(at)
        .unwrap_or_else(|| panic!("caret past the line:\n{source}\n{caret} (gutter {gutter})"))
}

#[test]
fn lint_text_shows_a_window_of_a_long_line_with_the_caret_under_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.json");
    // Multi-byte characters everywhere, so a cut by bytes would split one.
    let mut text = overlapping_json(40, &"é漢🙂".repeat(50));
    // Rule 30, deep in the line, is disabled: a finding of its own.
    let byte = text.match_indices("{\"action\"").nth(30).unwrap().0;
    text.insert_str(byte + 1, "\"enabled\":false,");
    std::fs::write(&path, &text).unwrap();
    let p = path.to_str().unwrap();
    let out = gavel(&["lint", p, "--max-findings", "3"], None);
    let stdout = String::from_utf8(out.stdout).expect("cut at character boundaries");
    assert!(stdout.len() < 20_000, "{} bytes of output", stdout.len());
    let col = text[..byte].chars().count() + 1;
    let (source, caret) = snippet_after(&stdout, &format!("{p}:1:{col} (rule `over-0030`"));
    let shown = source.split_once("| ").unwrap().1;
    assert!(shown.chars().count() <= 126, "{shown}");
    assert!(
        shown.starts_with("...") && shown.ends_with("..."),
        "{shown}"
    );
    assert_eq!(under_caret(source, caret), '{', "\n{source}\n{caret}");
    assert!(source.contains("{\"enabled\":false,"), "{source}");
}

#[test]
fn lint_json_findings_carry_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("linty.yaml");
    std::fs::write(&path, LINTY).unwrap();
    let r = json(&gavel(
        &["lint", path.to_str().unwrap(), "--format", "json"],
        None,
    ));
    // `  - id: odd-action` on line 14: the rule starts at `id`.
    assert_eq!(
        (
            r["errors"][0]["line"].as_u64(),
            r["errors"][0]["column"].as_u64()
        ),
        (Some(14), Some(5))
    );
    let sarif = json(&gavel(
        &["lint", path.to_str().unwrap(), "--format", "sarif"],
        None,
    ));
    let region = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(14), Some(5))
    );
}

#[test]
fn validate_error_on_a_long_line_prints_a_window_not_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one-line.json");
    let mut text = overlapping_json(1000, "padding padding padding");
    let at = text.len() / 2;
    let at = at + text[at..].find("\"reason\"").unwrap();
    text.insert_str(at, "\"priorty\":3,");
    std::fs::write(&path, &text).unwrap();
    let out = gavel(&["validate", path.to_str().unwrap()], None);
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(text.len() > 100_000 && stderr.len() < 1_000, "{stderr}");
    let col = text[..at].chars().count() + 1;
    let (source, caret) = snippet_after(&stderr, &format!(":1:{col}"));
    assert_eq!(under_caret(source, caret), '"', "\n{source}\n{caret}");
    assert!(source.contains("\"priorty\""), "{source}");
    assert!(stderr.contains("unknown field `priorty`"), "{stderr}");
}

#[test]
fn errors_with_a_line_but_no_column_still_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.jsonl");
    // Line 2 parses but has no served effect: an error with a line only.
    std::fs::write(
        &log,
        "{\"agent\": \"inbox.triage\", \"action\": \"quarantine\", \"context\": {}, \"effect\": \"allow\"}\n{\"agent\": \"inbox.triage\", \"action\": \"quarantine\", \"context\": {}}\n",
    )
    .unwrap();
    let l = log.to_str().unwrap();
    let out = gavel(
        &["sim", "replay", "fixtures/bundles/inbox-triage.yaml", l],
        None,
    );
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("--> {l}:2\n")), "{stderr}");
}

/// Text output shows each finding's source line whether the bundle came
/// from a file (read again once the findings are known, so that a lint of
/// many large files holds one text at a time) or from standard input (kept,
/// since it cannot be read twice), and for findings in several files.
#[test]
fn lint_text_shows_source_lines_from_files_and_standard_input() {
    let out = gavel(&["lint", "-"], Some(LINTY));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--> -:14:5 (rule `odd-action`, #2)"),
        "{text}"
    );
    assert!(text.contains("14 |   - id: odd-action"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yaml");
    std::fs::write(&a, LINTY).unwrap();
    std::fs::write(&b, format!("\n\n{LINTY}")).unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let out = gavel(&["lint", a, b], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("--> {a}:14:5")), "{text}");
    assert!(text.contains(&format!("--> {b}:16:5")), "{text}");
    assert!(text.contains("14 |   - id: odd-action"), "{text}");
    assert!(text.contains("16 |   - id: odd-action"), "{text}");
}
