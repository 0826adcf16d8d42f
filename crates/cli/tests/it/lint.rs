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
