//! `gavel scorecard eval` and `gavel override issue|verify`.

use crate::*;

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
