//! `gavel scorecard eval` and `gavel override issue|verify`.

use crate::*;

use gavel_trust::ed25519::SigningKey;
use serde_json::json;

const OVERRIDE_TYPE: &str = "application/vnd.gavel.override.v1+json";

/// The analyst key `Governance::new` trusts (no security role).
fn analyst() -> SigningKey {
    SigningKey::from_bytes(&[22; 32])
}

/// A key no store trusts.
fn stranger() -> SigningKey {
    SigningKey::from_bytes(&[99; 32])
}

fn at(offset: i64) -> String {
    let now = jiff::Timestamp::now().as_second();
    gavel_trust::rfc3339(jiff::Timestamp::from_second(now + offset).unwrap())
}

/// An override payload forcing `promote`, issued `issued` seconds from now.
fn override_payload(workflow: &str, issued_by: &str, issued: i64, expires: i64) -> Value {
    json!({
        "id": format!("ovr-{workflow}-{}", jiff::Timestamp::now().as_nanosecond()),
        "workflow_id": workflow,
        "flags": {"bypass_micro_pilot": false, "forced_verdict": "promote"},
        "reason": "Board approved the launch", "issued_by": issued_by,
        "issued_at": at(issued), "expires_at": at(expires),
    })
}

/// Signs `payload` as an override envelope and writes it to `name.json`.
fn envelope(g: &Governance, name: &str, keys: &[&SigningKey], payload: Value) -> String {
    write_signed(g, name, OVERRIDE_TYPE, keys, &payload)
}

fn write_signed(
    g: &Governance,
    name: &str,
    payload_type: &str,
    keys: &[&SigningKey],
    payload: &Value,
) -> String {
    let env = gavel_trust::sign_dsse(payload_type, payload, keys).unwrap();
    let f = g.path(&format!("{name}.json"));
    std::fs::write(&f, serde_json::to_string(&env).unwrap()).unwrap();
    f
}

/// `override verify FILE --format json` in the test's store.
fn verify_override(g: &Governance, file: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["override", "verify", file, "--format", "json"];
    args.extend_from_slice(extra);
    let out = gavel_in(g.home(), &args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{file}: not JSON ({e}): {stderr}"));
    (code(&out), value)
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
    let mut files = Vec::new();
    for (name, workflow, expires, refusal) in [
        ("other", "wf-2", 3600, "other_workflow"),
        ("expired", "wf-1", -60, "expired"),
    ] {
        let f = g.override_file(name, &g.security, workflow, "promote", expires);
        files.push((name, f, refusal));
    }
    // Signed by the analyst, as the analyst; and claiming to be sam's.
    let by_ann = envelope(
        &g,
        "analyst",
        &[&analyst()],
        override_payload("wf-1", "ann", -3600, 3600),
    );
    files.push(("analyst", by_ann, "signer_not_security"));
    let posing = envelope(
        &g,
        "posing",
        &[&analyst()],
        override_payload("wf-1", "sam", -3600, 3600),
    );
    files.push(("posing", posing, "issuer_mismatch"));
    for (name, ovr, refusal) in files {
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
            crate::bin()
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

/// Each way a scorecard field can have the wrong type is bad input (exit
/// 2) naming the scorecard, the field and what was expected; before, each
/// was skipped and the card promoted.
#[test]
fn wrong_typed_scorecard_fields_are_bad_input_naming_the_field() {
    let g = Governance::new();
    let cases = [
        (
            r#"{"scenario_scores": {"a": "0.1"}}"#,
            "/scenario_scores/a",
            "must be a number",
        ),
        (
            r#"{"scenario_scores": [0.1]}"#,
            "/scenario_scores",
            "an object of scenario names",
        ),
        (
            r#"{"scenario_scores": "bad"}"#,
            "/scenario_scores",
            "an object of scenario names",
        ),
        (
            r#"{"forecast": {"projections": [{"cycle": 1, "roi": "-5"}]}}"#,
            "/forecast/projections/0/roi",
            "must be a number",
        ),
        (
            r#"{"forecast": {"confidence": "0.1"}}"#,
            "/forecast/confidence",
            "must be a number",
        ),
        (
            r#"{"forecast": {"dag_impact": {"a": "-1"}}}"#,
            "/forecast/dag_impact/a",
            "must be a number",
        ),
        (
            r#"{"forecast": {"projections": "lots"}}"#,
            "/forecast/projections",
            "must be a list",
        ),
        (
            r#"{"forecast": {"collapse_risk": 1}}"#,
            "/forecast/collapse_risk",
            "true, false or a string",
        ),
        (r#"{"forecast": "soon"}"#, "/forecast", "must be an object"),
        (
            r#"{"alignment": {"status": "fail"}, "alignment_status": "pass"}"#,
            "/alignment/status",
            "says `pass`",
        ),
        (
            r#"{"security": {"status": "fail"}, "security_status": "pass"}"#,
            "/security/status",
            "says `pass`",
        ),
        (
            r#"{"security_status": 0}"#,
            "/security_status",
            "a status string",
        ),
        (r#"{"raroi": "9"}"#, "/raroi", "must be a number"),
        (
            r#"{"sandbox_roi": true}"#,
            "/sandbox_roi",
            "must be a number",
        ),
        (
            r#"{"patch_summary": 5}"#,
            "/patch_summary",
            "must be a string",
        ),
        (
            r#"{"secuirty_status": "fail"}"#,
            "/secuirty_status",
            "did you mean `security_status`?",
        ),
    ];
    for (extra, pointer, expected) in cases {
        // Valid fields first, the bad one last: on its own line of the file.
        let card = format!(
            "{{\"workflow_id\": \"wf-t\",\n {}",
            extra.trim_start_matches('{')
        );
        let (c, out) = g.eval(&card, &["--no-log"]);
        assert_eq!(c, 2, "{extra}: {out:?}");
        let e = &out[0]["error"];
        assert_eq!(e["code"], "invalid_scorecard", "{extra}");
        assert_eq!(e["pointer"], pointer, "{extra}");
        assert_eq!(e["line"], 2, "{extra}: the line of the bad field");
        assert!(e["column"].as_u64().unwrap() > 1, "{extra}: {e}");
        let message = e["message"].as_str().unwrap();
        assert!(message.starts_with("scorecard `wf-t` in `"), "{message}");
        assert!(message.contains(expected), "{extra}: {message}");
        assert!(e["file"].as_str().unwrap().ends_with("card.json"));
    }
    // In JSON Lines: the line number, and the field.
    let batch = g.path("typed.jsonl");
    std::fs::write(
        &batch,
        "{\"workflow_id\": \"a\", \"raroi\": 2, \"confidence\": 0.9}\n{\"workflow_id\": \"b\", \"scenario_scores\": {\"x\": \"0.1\"}}\n",
    )
    .unwrap();
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
    assert_eq!(code(&out), 2);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("error: scorecard `b` in `") && text.contains("typed.jsonl:2`"),
        "{text}"
    );
    assert!(text.contains("= at /scenario_scores/x"), "{text}");
}

/// Every way `override verify` can find an override invalid gives that
/// reason with exit 1 (it used to say "the override's verdict is missing"
/// with exit 2 for all of them).
#[test]
fn override_verify_gives_each_failure_its_reason_with_exit_1() {
    let g = Governance::new();
    let good = g.override_file("good", &g.security, "wf-1", "promote", 3600);
    let (c, v) = verify_override(&g, &good, &[]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(
        (
            v["valid"].as_bool(),
            v["reason"].as_str(),
            v["workflow_id"].as_str()
        ),
        (Some(true), None, Some("wf-1"))
    );
    assert_eq!(
        (
            v["scope"].as_str(),
            v["forced_verdict"].as_str(),
            v["ledger_checked"].as_bool()
        ),
        (Some("workflow"), Some("promote"), Some(true))
    );
    assert_eq!(v["signers"][0]["name"], "sam");
    assert_eq!(v["override_id"], "ovr-good");

    let mut cases: Vec<(&str, String)> = Vec::new();
    cases.push((
        "unknown_key",
        envelope(
            &g,
            "stranger",
            &[&stranger()],
            override_payload("wf-1", "sam", -60, 3600),
        ),
    ));
    // Tampered: another workflow in the payload, the old signature.
    let mut env: Value = serde_json::from_str(&std::fs::read_to_string(&good).unwrap()).unwrap();
    {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut payload: Value =
            serde_json::from_slice(&b64.decode(env["payload"].as_str().unwrap()).unwrap()).unwrap();
        payload["workflow_id"] = json!("wf-evil");
        env["payload"] = json!(b64.encode(serde_json::to_vec(&payload).unwrap()));
    }
    let tampered = g.path("tampered.json");
    std::fs::write(&tampered, env.to_string()).unwrap();
    cases.push(("bad_signature", tampered));
    cases.push((
        "expired",
        g.override_file("expired", &g.security, "wf-1", "promote", -60),
    ));
    cases.push((
        "not_yet_valid",
        envelope(
            &g,
            "future",
            &[&g.security],
            override_payload("wf-1", "sam", 3600, 7200),
        ),
    ));
    cases.push((
        "wrong_payload_type",
        write_signed(
            &g,
            "review",
            "application/vnd.gavel.review.v1+json",
            &[&g.security],
            &override_payload("wf-1", "sam", -60, 3600),
        ),
    ));
    let mut unscoped = override_payload("wf-1", "sam", -60, 3600);
    unscoped.as_object_mut().unwrap().remove("workflow_id");
    cases.push((
        "malformed",
        envelope(&g, "unscoped", &[&g.security], unscoped),
    ));
    let unsigned = g.path("unsigned.json");
    std::fs::write(
        &unsigned,
        json!({"payloadType": OVERRIDE_TYPE, "payload": "e30=", "signatures": []}).to_string(),
    )
    .unwrap();
    cases.push(("malformed", unsigned));
    cases.push((
        "issuer_mismatch",
        envelope(
            &g,
            "posing",
            &[&analyst()],
            override_payload("wf-1", "sam", -60, 3600),
        ),
    ));
    cases.push((
        "signer_not_security",
        envelope(
            &g,
            "by-ann",
            &[&analyst()],
            override_payload("wf-1", "ann", -60, 3600),
        ),
    ));
    // Used: applied once by an evaluation.
    let used = g.override_file("used", &g.security, "wf-1", "promote", 3600);
    let (c, _) = g.eval(
        r#"{"workflow_id": "wf-1", "raroi": 0.2, "confidence": 0.9}"#,
        &["--override", &used, "--no-log"],
    );
    assert_eq!(c, 0);
    cases.push(("used", used));
    // Legacy: marked used, tampered, or without its secret.
    let secret = gavel_trust::Sensitive::new(b"legacy-secret".to_vec());
    std::fs::write(g.path("secret.txt"), "legacy-secret").unwrap();
    let legacy = gavel_trust::legacy_override(&json!({"verdict": "promote"}), &secret);
    let mut marked = legacy.clone();
    marked["used"] = json!(true);
    std::fs::write(g.path("legacy-used.json"), marked.to_string()).unwrap();
    cases.push(("used", g.path("legacy-used.json")));
    let mut changed = legacy.clone();
    changed["data"]["verdict"] = json!("demote");
    std::fs::write(g.path("legacy-changed.json"), changed.to_string()).unwrap();
    cases.push(("bad_signature", g.path("legacy-changed.json")));
    std::fs::write(g.path("legacy.json"), legacy.to_string()).unwrap();

    for (reason, file) in &cases {
        let extra: &[&str] = if file.contains("legacy") {
            &[
                "--secret-file",
                &*Box::leak(g.path("secret.txt").into_boxed_str()),
            ]
        } else {
            &[]
        };
        let (c, v) = verify_override(&g, file, extra);
        assert_eq!((c, v["valid"].as_bool()), (1, Some(false)), "{reason}: {v}");
        assert_eq!(v["reason"], *reason, "{file}: {v}");
        assert!(!v["message"].as_str().unwrap().is_empty(), "{reason}");
    }
    let (c, v) = verify_override(&g, &g.path("legacy.json"), &[]);
    assert_eq!(
        (c, v["reason"].as_str()),
        (1, Some("unknown_key")),
        "no secret: {v}"
    );
    // Text: the reason and what is wrong.
    let out = gavel_in(g.home(), &["override", "verify", &cases[0].1]);
    assert_eq!(code(&out), 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("INVALID override (unknown_key): "),
        "{text}"
    );

    // Exit 2: not JSON, unreadable, a verdict no override may force.
    std::fs::write(g.path("broken.json"), "{\"payloadType\": ").unwrap();
    let out = gavel_in(
        g.home(),
        &[
            "override",
            "verify",
            &g.path("broken.json"),
            "--format",
            "json",
        ],
    );
    assert_eq!(
        (code(&out), json(&out)["error"]["code"].as_str()),
        (2, Some("syntax_error"))
    );
    let out = gavel_in(
        g.home(),
        &[
            "override",
            "verify",
            &g.path("nowhere.json"),
            "--format",
            "json",
        ],
    );
    assert_eq!(
        (code(&out), json(&out)["error"]["code"].as_str()),
        (2, Some("unreadable"))
    );
    let odd = g.override_file("odd", &g.security, "wf-1", "launch", 3600);
    let out = gavel_in(g.home(), &["override", "verify", &odd, "--format", "json"]);
    assert_eq!(code(&out), 2);
    let e = &json(&out)["error"];
    assert_eq!(e["code"], "invalid_override");
    assert!(e["message"].as_str().unwrap().contains("`launch`"), "{e}");
}

/// `override verify` and `scorecard eval` read an override's scope the
/// same way: a signed override without `workflow_id` is for no workflow, a
/// legacy one for any.
#[test]
fn override_verify_and_eval_agree_on_which_workflows_an_override_is_for() {
    let g = Governance::new();
    let low = r#"{"workflow_id": "wf-9", "raroi": 0.2, "confidence": 0.9}"#;
    let mut unscoped = override_payload("x", "sam", -60, 3600);
    unscoped.as_object_mut().unwrap().remove("workflow_id");
    let unscoped = envelope(&g, "unscoped", &[&g.security], unscoped);
    let (c, v) = verify_override(&g, &unscoped, &[]);
    assert_eq!((c, v["reason"].as_str()), (1, Some("malformed")));
    let (c, out) = g.eval(low, &["--override", &unscoped, "--no-log"]);
    assert_eq!(
        (
            c,
            out[0]["verdict"].as_str(),
            out[0]["overrides"]["refused"].as_str()
        ),
        (1, Some("no_go"), Some("malformed"))
    );
    // Legacy without a workflow: any workflow, in both.
    let secret = gavel_trust::Sensitive::new(b"s3cret-value".to_vec());
    std::fs::write(g.path("secret.txt"), "s3cret-value").unwrap();
    let legacy = g.path("legacy-any.json");
    std::fs::write(
        &legacy,
        gavel_trust::legacy_override(&json!({"forced_verdict": "promote"}), &secret).to_string(),
    )
    .unwrap();
    let secret_file = g.path("secret.txt");
    let (c, v) = verify_override(&g, &legacy, &["--secret-file", &secret_file]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(
        (
            v["scope"].as_str(),
            v["workflow_id"].as_str(),
            v["legacy"].as_bool()
        ),
        (Some("any_workflow"), None, Some(true))
    );
    let out = gavel_in(
        g.home(),
        &["override", "verify", &legacy, "--secret-file", &secret_file],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("for any workflow"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (c, out) = g.eval(
        low,
        &[
            "--override",
            &legacy,
            "--secret-file",
            &secret_file,
            "--no-log",
        ],
    );
    assert_eq!(
        (
            c,
            out[0]["verdict"].as_str(),
            out[0]["overrides"]["applied"].as_bool()
        ),
        (0, Some("promote"), Some(true))
    );
    // A card without a workflow id matches no scoped override.
    let scoped = g.override_file("scoped", &g.security, "wf-9", "promote", 3600);
    let (c, out) = g.eval(
        r#"{"raroi": 0.2, "confidence": 0.9}"#,
        &["--override", &scoped, "--no-log"],
    );
    assert_eq!(
        (c, out[0]["overrides"]["refused"].as_str()),
        (1, Some("other_workflow"))
    );
}

/// `override verify --key`: exactly the given keys, no store or keychain,
/// and the output says the ledger was not consulted.
#[test]
fn override_verify_with_key_trusts_exactly_those_keys_without_the_ledger() {
    let g = Governance::new();
    let ovr = g.override_file("keyed", &g.security, "wf-1", "promote", 3600);
    let keys = |name: &str, key: &SigningKey, role: gavel_trust::Role| {
        let k =
            gavel_trust::PublicKey::new(&key.verifying_key(), name, "x@example.com", vec![role]);
        let f = g.path(&format!("{name}.pub.json"));
        std::fs::write(&f, serde_json::to_string(&k).unwrap()).unwrap();
        f
    };
    let sam = keys("sam", &g.security, gavel_trust::Role::Security);
    let ann = keys("ann", &analyst(), gavel_trust::Role::Analyst);
    let empty = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["override", "verify", ovr.as_str(), "--format", "json"];
        args.extend_from_slice(extra);
        let out = gavel_in(empty.path(), &args);
        (
            code(&out),
            serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null),
        )
    };
    let (c, v) = run(&["--key", &sam]);
    assert_eq!((c, v["valid"].as_bool()), (0, Some(true)), "{v}");
    assert_eq!(v["ledger_checked"], false);
    let (c, v) = run(&["--key", &ann]);
    assert_eq!((c, v["reason"].as_str()), (1, Some("unknown_key")));
    let (c, v) = run(&["--key", &ann, "--key", &sam]);
    assert_eq!(c, 0, "{v}");
    // The security role comes from the key file: sam's key named analyst is not enough.
    let demoted = keys("sam", &g.security, gavel_trust::Role::Analyst);
    let (c, v) = run(&["--key", &demoted]);
    assert_eq!((c, v["reason"].as_str()), (1, Some("signer_not_security")));
    assert!(
        !empty.path().join("gavel.db").exists(),
        "--key opens no store"
    );
    // Text says the ledger was not consulted.
    let out = gavel_in(empty.path(), &["override", "verify", &ovr, "--key", &sam]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ledger was not consulted"), "{text}");
    // --secret needs the keychain: refused with --key.
    let out = gavel_in(
        empty.path(),
        &[
            "override", "verify", &ovr, "--key", &sam, "--secret", "x", "--format", "json",
        ],
    );
    assert_eq!(
        (code(&out), json(&out)["error"]["code"].as_str()),
        (2, Some("usage"))
    );
    let (c, _) = run(&["--key", &g.path("missing.pub.json")]);
    assert_eq!(c, 2);
}

/// Issuing goes through the console's use case: bad requests are exit 2
/// naming the flag, an identity without the security role is refused.
#[test]
fn override_issue_checks_the_request_and_the_role() {
    let g = Governance::new();
    let ann = gavel_trust::PublicKey::new(
        &SigningKey::from_bytes(&[23; 32]).verifying_key(),
        "ann-id",
        "ann@example.com",
        vec![gavel_trust::Role::Analyst],
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = gavel_store::Store::open(&g.home().join("gavel.db"))
            .await
            .unwrap();
        store.add_identity(&ann).await.unwrap();
    });
    let issue = |extra: &[&str]| {
        let mut args = vec![
            "override",
            "issue",
            "--workflow",
            "wf-1",
            "--reason",
            "the board approved it",
            "--as",
            "ann-id",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = gavel_in(g.home(), &args);
        let error =
            serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null)["error"].clone();
        (code(&out), error)
    };
    let (c, e) = issue(&["--verdict", "promote"]);
    assert_eq!((c, e["code"].as_str()), (1, Some("refused")), "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("security role"),
        "{e}"
    );
    for (extra, expected) in [
        (
            &["--verdict", "borderline"][..],
            "`borderline` is not a verdict",
        ),
        (&[][..], "--bypass-micro-pilot"),
        (
            &["--verdict", "promote", "--expires-in", "0s"][..],
            "`0s` is not a positive duration",
        ),
    ] {
        let (c, e) = issue(extra);
        assert_eq!(c, 2, "{extra:?}: {e}");
        assert!(e["message"].as_str().unwrap().contains(expected), "{e}");
    }
}

/// Policy errors carry the line, column and pointer of the problem, and a
/// suggestion for a misspelled key.
#[test]
fn policy_errors_are_located_with_did_you_mean() {
    let g = Governance::new();
    std::fs::write(
        g.path("policy.yaml"),
        "raroi_treshold: 2\nrules:\n  - decision: maybe\n    condition: \"raroi > 1\"\n",
    )
    .unwrap();
    let (c, out) = g.eval(r#"{"raroi": 2}"#, &["--no-log"]);
    assert_eq!(c, 2);
    let e = &out[0]["error"];
    assert_eq!(e["code"], "invalid_policy");
    assert_eq!(
        e["message"],
        "unknown policy field `raroi_treshold`; did you mean `raroi_threshold`?"
    );
    assert_eq!(
        (e["line"].as_u64(), e["column"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(e["pointer"], "/raroi_treshold");
    let second = &e["errors"][1];
    assert_eq!(second["pointer"], "/rules/0/decision");
    assert_eq!(
        (second["line"].as_u64(), second["column"].as_u64()),
        (Some(3), Some(15))
    );
    // Text: rustc style with the source line and a caret.
    let out = gavel_in(
        g.home(),
        &[
            "scorecard",
            "eval",
            &g.path("card.json"),
            "--policy",
            &g.path("policy.yaml"),
            "--no-log",
        ],
    );
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("policy.yaml:3:15"), "{text}");
    assert!(text.contains("3 |   - decision: maybe"), "{text}");
}

/// JSON Lines are streamed: a file over the 16 MiB whole-file limit is
/// evaluated (it used to be refused), and a bad line stops the run with
/// its line number after the lines before it were printed and logged.
#[test]
fn jsonl_scorecards_stream_past_the_whole_file_limit() {
    let g = Governance::new();
    std::fs::write(g.path("policy.yaml"), "rules: []\n").unwrap();
    let notes = "n".repeat(100_000);
    let batch = g.path("big.jsonl");
    {
        use std::io::Write as _;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&batch).unwrap());
        for i in 0..180 {
            let raroi = if i % 3 == 0 { 0.5 } else { 1.5 };
            writeln!(
                f,
                "{{\"workflow_id\": \"wf-{i}\", \"raroi\": {raroi}, \"confidence\": 0.9, \"notes\": \"{notes}\"}}"
            )
            .unwrap();
        }
    }
    assert!(std::fs::metadata(&batch).unwrap().len() > 16 << 20);
    let log = g.path("log.jsonl");
    let out = gavel_in(
        g.home(),
        &[
            "scorecard",
            "eval",
            &batch,
            "--policy",
            &g.path("policy.yaml"),
            "--log",
            &log,
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 180);
    assert_eq!(lines[0]["verdict"], "no_go");
    assert_eq!(lines[179]["workflow_id"], "wf-179");
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 180);
    // The text summary counts the whole batch.
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
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("180 scorecards") && text.contains("no_go        60"),
        "{text}"
    );

    // A bad line: exit 2 at its line; the ones before were evaluated.
    let broken = g.path("broken.jsonl");
    std::fs::write(
        &broken,
        "{\"workflow_id\": \"a\", \"raroi\": 2, \"confidence\": 0.9}\n\n{\"workflow_id\": \"b\", \"raroi\": 2, \"confidence\": 0.9}\n{\"workflow_id\": \"c\", \"raroi\": \n{\"workflow_id\": \"d\"}\n",
    )
    .unwrap();
    let log = g.path("broken-log.jsonl");
    let out = gavel_in(
        g.home(),
        &[
            "scorecard",
            "eval",
            &broken,
            "--policy",
            &g.path("policy.yaml"),
            "--log",
            &log,
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&out), 2);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let printed: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        printed.len(),
        3,
        "two evaluations, then the error: {stdout}"
    );
    let e = &serde_json::from_str::<Value>(printed[2]).unwrap()["error"];
    assert_eq!(
        (e["code"].as_str(), e["line"].as_u64()),
        (Some("invalid_scorecard"), Some(4))
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("line 4 is not a JSON scorecard"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
    // A line over the 1 MiB line limit is refused with its number.
    let long = g.path("long.jsonl");
    std::fs::write(
        &long,
        format!(
            "{{\"workflow_id\": \"a\", \"raroi\": 2}}\n{{\"notes\": \"{}\"}}\n",
            "x".repeat(1 << 20)
        ),
    )
    .unwrap();
    let out = gavel_in(
        g.home(),
        &[
            "scorecard",
            "eval",
            &long,
            "--policy",
            &g.path("policy.yaml"),
            "--no-log",
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&out), 2);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let e = &serde_json::from_str::<Value>(stdout.lines().last().unwrap()).unwrap()["error"];
    assert_eq!(
        (e["code"].as_str(), e["line"].as_u64()),
        (Some("line_too_long"), Some(2))
    );
}

/// A directory of scorecards is read with its subdirectories; a symbolic
/// link back to a directory being read, or a link to itself, is an error
/// (exit 2 naming it), never an endless walk.
#[cfg(unix)]
#[test]
fn a_symlink_loop_in_a_scorecard_directory_is_an_error_not_a_hang() {
    use std::os::unix::fs::symlink;
    let g = Governance::new();
    std::fs::write(g.path("policy.yaml"), "rules: []\n").unwrap();
    let root = g.dir.path().join("cards");
    std::fs::create_dir_all(root.join("team-b")).unwrap();
    std::fs::write(
        root.join("a.json"),
        r#"{"workflow_id": "a", "raroi": 2, "confidence": 0.9}"#,
    )
    .unwrap();
    std::fs::write(
        root.join("team-b/b.jsonl"),
        "{\"workflow_id\": \"b\", \"raroi\": 0.1}\n",
    )
    .unwrap();
    std::fs::write(root.join("notes.txt"), "not a scorecard").unwrap();
    std::fs::create_dir_all(root.join(".hidden")).unwrap();
    std::fs::write(root.join(".hidden/h.json"), "not JSON").unwrap();
    let dir = root.to_str().unwrap().to_string();
    let eval = |dir: &str| {
        let started = std::time::Instant::now();
        let out = gavel_in(
            g.home(),
            &[
                "scorecard",
                "eval",
                dir,
                "--policy",
                &g.path("policy.yaml"),
                "--no-log",
                "--format",
                "json",
            ],
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        out
    };
    let out = eval(&dir);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["workflow_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["a", "b"]);
    // A link to the parent directory (named like a scorecard, too).
    symlink("..", root.join("team-b/up.json")).unwrap();
    let out = eval(&dir);
    assert_eq!(code(&out), 2);
    let e = &json(&out)["error"];
    assert_eq!(e["code"], "symlink_loop", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("up.json` leads back to"),
        "{e}"
    );
    std::fs::remove_file(root.join("team-b/up.json")).unwrap();
    // A link to itself.
    symlink("self.json", root.join("self.json")).unwrap();
    let out = eval(&dir);
    assert_eq!(code(&out), 2);
    let e = &json(&out)["error"];
    assert_eq!(e["code"], "unreadable", "{e}");
    assert!(e["message"].as_str().unwrap().contains("self.json"), "{e}");
}

/// With nothing to evaluate, nothing is logged: exit 2.
#[test]
fn an_empty_directory_is_a_usage_error() {
    let g = Governance::new();
    std::fs::write(g.path("policy.yaml"), "rules: []\n").unwrap();
    let empty = g.dir.path().join("none");
    std::fs::create_dir_all(&empty).unwrap();
    let out = gavel_in(
        g.home(),
        &[
            "scorecard",
            "eval",
            empty.to_str().unwrap(),
            "--policy",
            &g.path("policy.yaml"),
            "--format",
            "json",
        ],
    );
    assert_eq!(
        (code(&out), json(&out)["error"]["code"].as_str()),
        (2, Some("usage"))
    );
    assert!(!g.home().join("governance/decision_log.jsonl").exists());
}

/// `scorecard eval FILES… --policy policy.yaml --format json` with extra
/// arguments, in the test's store; the output lines and the error.
fn eval_files(g: &Governance, files: &[&str], extra: &[&str]) -> (i32, Vec<Value>, Value) {
    let policy = g.path("policy.yaml");
    if !Path::new(&policy).exists() {
        std::fs::write(&policy, "rules: []\n").unwrap();
    }
    let mut args = vec!["scorecard", "eval"];
    args.extend_from_slice(files);
    args.extend_from_slice(&["--policy", &policy, "--format", "json"]);
    args.extend_from_slice(extra);
    let out = gavel_in(g.home(), &args);
    let mut lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let error = match lines.last() {
        Some(l) if l.get("error").is_some() => lines.pop().unwrap()["error"].clone(),
        _ => Value::Null,
    };
    (code(&out), lines, error)
}

/// Regression: scorecards were read with `serde_json`, where the last of
/// two equal keys wins: `"security_status": "fail", "security_status":
/// "pass"` promoted, exit 0, and so did a nested `security.status` given
/// twice. Duplicate keys are bad input (§11.2) in a scorecard file, a list
/// of them and a JSON Lines line, and nothing of that card is logged.
#[test]
fn duplicate_scorecard_keys_are_refused_flat_and_nested() {
    let g = Governance::new();
    let log = g.path("log.jsonl");
    let flat = r#"{"workflow_id":"w","raroi":2,"confidence":0.9,"security_status":"fail","security_status":"pass"}"#;
    let nested = r#"{"workflow_id":"w","raroi":2,"confidence":0.9,"security":{"status":"fail","status":"pass"}}"#;
    let good = r#"{"workflow_id":"ok","raroi":2,"confidence":0.9}"#;
    for (name, card, key) in [
        ("flat", flat, "\"security_status\""),
        ("nested", nested, "\"status\""),
    ] {
        // Where the second copy of the key starts (1-based).
        let column = u64::try_from(card.rfind(key).unwrap() + 1).unwrap();
        // A whole file: a syntax error where the second key is.
        let file = g.path(&format!("{name}.json"));
        std::fs::write(&file, card).unwrap();
        let (c, lines, e) = eval_files(&g, &[&file], &["--log", &log]);
        assert_eq!((c, lines.len()), (2, 0), "{name}: {e}");
        assert_eq!(e["code"], "syntax_error", "{name}: {e}");
        assert_eq!(
            (e["line"].as_u64(), e["column"].as_u64()),
            (Some(1), Some(column)),
            "{name}: {e}"
        );
        let message = e["message"].as_str().unwrap();
        assert!(message.contains("duplicate key"), "{name}: {e}");
        assert!(message.contains("status`"), "{name}: {e}");
        // In a list, after a good card: the good one is evaluated, then
        // the run stops.
        let list = g.path(&format!("{name}-list.json"));
        std::fs::write(&list, format!("[\n{good},\n{card}\n]")).unwrap();
        let (c, lines, e) = eval_files(&g, &[&list], &["--no-log"]);
        assert_eq!(
            (c, e["code"].as_str(), e["line"].as_u64()),
            (2, Some("syntax_error"), Some(3)),
            "{name}: {e}"
        );
        assert!(lines.is_empty(), "a file that is not JSON is refused whole");
        // A JSON Lines line: its line number, the good line before it
        // evaluated and logged.
        let jsonl = g.path(&format!("{name}.jsonl"));
        std::fs::write(&jsonl, format!("{good}\n{card}\n{good}\n")).unwrap();
        let (c, lines, e) = eval_files(&g, &[&jsonl], &["--log", &log]);
        assert_eq!(c, 2, "{name}: {e}");
        assert_eq!(lines.len(), 1, "{name}");
        assert_eq!(
            (e["code"].as_str(), e["line"].as_u64(), e["column"].as_u64()),
            (Some("invalid_scorecard"), Some(2), Some(column)),
            "{name}: {e}"
        );
        let message = e["message"].as_str().unwrap();
        assert!(
            message.starts_with("line 2 is not a JSON scorecard: duplicate key"),
            "{e}"
        );
        assert!(!message.contains("first at line 1"), "{e}");
    }
    // Never promoted, never logged: only the good lines reached the log.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logged.lines().count(), 2, "{logged}");
    assert!(
        logged.lines().all(|l| l.contains(r#""workflow_id":"ok""#)),
        "{logged}"
    );
}

/// Regression: a pretty-printed scorecard with a syntax error on line 5
/// was re-read as JSON Lines and reported at `1:1` ("EOF while parsing an
/// object"). A file is JSON Lines when named so (`.jsonl`, `.ndjson`) or
/// when its first value parses and more follow.
#[test]
fn a_multi_line_scorecard_with_a_syntax_error_is_reported_where_it_breaks() {
    let g = Governance::new();
    let pretty = g.path("pretty.json");
    std::fs::write(
        &pretty,
        "{\n  \"workflow_id\": \"w\",\n  \"raroi\": 2,\n  \"confidence\": 0.9,\n  \"alignment_status\" \"pass\"\n}\n",
    )
    .unwrap();
    let (c, lines, e) = eval_files(&g, &[&pretty], &["--no-log"]);
    assert_eq!((c, lines.len()), (2, 0), "{e}");
    assert_eq!(
        (e["code"].as_str(), e["line"].as_u64(), e["column"].as_u64()),
        (Some("syntax_error"), Some(5), Some(22)),
        "{e}"
    );
    assert!(
        e["message"].as_str().unwrap().contains("expected `:`"),
        "{e}"
    );
    // A text error shows the line.
    let out = gavel_in(
        g.home(),
        &[
            "scorecard",
            "eval",
            &pretty,
            "--policy",
            &g.path("policy.yaml"),
            "--no-log",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pretty.json:5:22"), "{stderr}");
    // Several values in a `.json` file, or in any `.ndjson` file, are
    // JSON Lines; a broken line is named by its number.
    let a = r#"{"workflow_id": "a", "raroi": 2, "confidence": 0.9}"#;
    let b = r#"{"workflow_id": "b", "raroi": 0.1}"#;
    for name in ["two.json", "two.ndjson"] {
        let f = g.path(name);
        std::fs::write(&f, format!("{a}\n{b}\n")).unwrap();
        let (c, lines, e) = eval_files(&g, &[&f], &["--no-log"]);
        assert_eq!(c, 0, "{name}: {e}");
        let verdicts: Vec<&str> = lines
            .iter()
            .map(|l| l["verdict"].as_str().unwrap())
            .collect();
        assert_eq!(verdicts, ["promote", "no_go"], "{name}");
    }
    let f = g.path("broken.ndjson");
    std::fs::write(&f, format!("{a}\n{{\"raroi\": \n")).unwrap();
    let (c, lines, e) = eval_files(&g, &[&f], &["--no-log"]);
    assert_eq!((c, lines.len(), e["line"].as_u64()), (2, 1, Some(2)), "{e}");
    // A one-line value followed by text that is not one: JSON Lines, line 1.
    let f = g.path("trailing.json");
    std::fs::write(&f, format!("{a} x\n")).unwrap();
    let (c, _, e) = eval_files(&g, &[&f], &["--no-log"]);
    assert_eq!((c, e["line"].as_u64()), (2, Some(1)), "{e}");
    // A pretty-printed scorecard with a stray `}` after it: there.
    let f = g.path("stray.json");
    std::fs::write(&f, "\n{\n  \"workflow_id\": \"w\",\n  \"raroi\": 2\n}\n}\n").unwrap();
    let (c, _, e) = eval_files(&g, &[&f], &["--no-log"]);
    assert_eq!(
        (
            c,
            e["code"].as_str(),
            e["line"].as_u64(),
            e["column"].as_u64()
        ),
        (2, Some("syntax_error"), Some(6), Some(1)),
        "{e}"
    );
}

/// Regression: overrides were read with `serde_json` too; an override
/// file that gives a key twice is not one override (exit 2, located), for
/// `override verify` and `scorecard eval` alike.
#[test]
fn duplicate_keys_in_an_override_file_are_refused() {
    let g = Governance::new();
    let good = g.override_file("good", &g.security, "wf-1", "promote", 3600);
    let env = std::fs::read_to_string(&good).unwrap();
    let twice = env.replacen(
        "\"payloadType\"",
        "\"payloadType\":\"application/vnd.gavel.review.v1+json\",\"payloadType\"",
        1,
    );
    assert_ne!(twice, env);
    let f = g.path("twice.json");
    std::fs::write(&f, &twice).unwrap();
    let out = gavel_in(g.home(), &["override", "verify", &f, "--format", "json"]);
    let e = &json(&out)["error"];
    assert_eq!(
        (code(&out), e["code"].as_str()),
        (2, Some("syntax_error")),
        "{e}"
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("duplicate key `payloadType`"),
        "{e}"
    );
    assert_eq!(e["line"], 1);
    let (c, lines) = g.eval(
        r#"{"workflow_id": "wf-1", "raroi": 0.2, "confidence": 0.9}"#,
        &["--override", &f, "--no-log"],
    );
    assert_eq!(c, 2);
    assert_eq!(lines.last().unwrap()["error"]["code"], "syntax_error");
    // The override itself is untouched and still usable once.
    let (c, lines) = g.eval(
        r#"{"workflow_id": "wf-1", "raroi": 0.2, "confidence": 0.9}"#,
        &["--override", &good, "--no-log"],
    );
    assert_eq!((c, lines[0]["verdict"].as_str()), (0, Some("promote")));
}

/// A JSON Lines file of `n` scorecards whose records are about 2 KB each
/// (so that any buffer of a few KiB would hold part of one).
fn many_cards(g: &Governance, name: &str, n: usize) -> String {
    let pad = "p".repeat(2000);
    let text: String = (0..n)
        .map(|i| {
            format!(
                "{{\"workflow_id\": \"{name}-{i}\", \"raroi\": 2, \"confidence\": 0.9, \"patch_summary\": \"{i} {pad}\"}}\n"
            )
        })
        .collect();
    let f = g.path(&format!("{name}.jsonl"));
    std::fs::write(&f, text).unwrap();
    f
}

/// Every line of a decision log is one whole JSON record.
fn log_records(log: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the log ends mid-line"
    );
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                panic!(
                    "log line {} is not a whole record ({e}): {}…",
                    i + 1,
                    &l[..l.len().min(80)]
                )
            })
        })
        .collect()
}

/// Regression: the decision log was written through an 8 KiB buffer, so a
/// run ended by a closed output pipe (SIGPIPE: `… | head -c N`) left the
/// log cut in the middle of a record, and the next run's first record
/// joined it into an invalid line. Each record is now one write, made
/// before the result is printed: the log holds whole lines, and at least
/// every result the reader saw.
#[cfg(unix)]
#[test]
fn a_closed_output_pipe_leaves_the_log_whole_and_holding_what_was_printed() {
    use std::io::Read as _;
    let g = Governance::new();
    std::fs::write(g.path("policy.yaml"), "rules: []\n").unwrap();
    let cards = many_cards(&g, "piped", 3000);
    let log = g.path("log.jsonl");
    for round in 0..2 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gavel"))
            .args([
                "scorecard",
                "eval",
                &cards,
                "--policy",
                &g.path("policy.yaml"),
                "--log",
                &log,
                "--format",
                "json",
            ])
            .env("GAVEL_HOME", g.home())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut seen = vec![0u8; 100_000];
        let mut stdout = child.stdout.take().unwrap();
        stdout.read_exact(&mut seen).unwrap();
        drop(stdout);
        let status = child.wait().unwrap();
        // Ended by the closed pipe, before the batch was done.
        assert!(!status.success(), "round {round}: {status:?}");
        let printed = seen.iter().filter(|b| **b == b'\n').count();
        let records = log_records(&log);
        let this_run = records
            .iter()
            .filter(|r| r["patch_summary"].as_str().is_some())
            .count();
        assert!(
            this_run >= printed * (round + 1),
            "round {round}: {printed} results read, {this_run} logged in all"
        );
        assert!(
            records.len() < 3000 * (round + 1),
            "round {round}: the batch was not cut short"
        );
    }
}

/// Regression: two runs appending to one log through buffers could
/// interleave parts of records. Each record is one write to a file opened
/// for appending, so the lines of concurrent runs never mix.
#[test]
fn concurrent_runs_append_only_whole_lines_to_one_log() {
    let g = Governance::new();
    std::fs::write(g.path("policy.yaml"), "rules: []\n").unwrap();
    let log = g.path("shared-log.jsonl");
    let runs: Vec<(String, std::process::Child)> = (0..4)
        .map(|r| {
            let name = format!("run{r}");
            let cards = many_cards(&g, &name, 500);
            let child = Command::new(env!("CARGO_BIN_EXE_gavel"))
                .args([
                    "scorecard",
                    "eval",
                    &cards,
                    "--policy",
                    &g.path("policy.yaml"),
                    "--log",
                    &log,
                    "--format",
                    "json",
                ])
                .env("GAVEL_HOME", g.home())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (name, child)
        })
        .collect();
    for (name, child) in runs {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let records = log_records(&log);
    assert_eq!(records.len(), 2000);
    for r in 0..4 {
        let mine: Vec<&str> = records
            .iter()
            .filter_map(|rec| rec["workflow_id"].as_str())
            .filter(|w| w.starts_with(&format!("run{r}-")))
            .collect();
        assert_eq!(mine.len(), 500, "run{r}");
        // Each run's records are in its own order.
        assert!(
            mine.iter()
                .enumerate()
                .all(|(i, w)| *w == format!("run{r}-{i}")),
            "run{r}"
        );
    }
}

/// Regression: the walk only refused links back to a directory being read,
/// so 23 directories each holding two links to the next (no loop) made
/// 2^22 paths: nothing printed in 30 s. Each directory is read once, and a
/// file reached through several links is evaluated (and logged) once.
#[cfg(unix)]
#[test]
fn a_diamond_of_directory_links_is_walked_once() {
    use std::os::unix::fs::symlink;
    let g = Governance::new();
    std::fs::write(g.path("policy.yaml"), "rules: []\n").unwrap();
    let root = g.dir.path().join("levels");
    for level in 0..23 {
        let dir = root.join(format!("d{level}"));
        std::fs::create_dir_all(&dir).unwrap();
        if level < 22 {
            let next = root.join(format!("d{}", level + 1));
            symlink(&next, dir.join("a")).unwrap();
            symlink(&next, dir.join("b")).unwrap();
        }
    }
    std::fs::write(
        root.join("d22/card.json"),
        r#"{"workflow_id": "deep", "raroi": 2, "confidence": 0.9}"#,
    )
    .unwrap();
    let started = std::time::Instant::now();
    let log = g.path("log.jsonl");
    let (c, lines, e) = eval_files(&g, &[root.join("d0").to_str().unwrap()], &["--log", &log]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(c, 0, "{e}");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["workflow_id"], "deep");
    assert_eq!(log_records(&log).len(), 1);

    // Two links to one file, beside the file: one evaluation.
    let flat = g.dir.path().join("flat");
    std::fs::create_dir_all(flat.join("sub")).unwrap();
    std::fs::write(
        flat.join("card.json"),
        r#"{"workflow_id": "once", "raroi": 2, "confidence": 0.9}"#,
    )
    .unwrap();
    symlink(flat.join("card.json"), flat.join("x.json")).unwrap();
    symlink(flat.join("card.json"), flat.join("sub/y.json")).unwrap();
    symlink(flat.join("sub"), flat.join("again")).unwrap();
    let log = g.path("flat-log.jsonl");
    let (c, lines, e) = eval_files(&g, &[flat.to_str().unwrap()], &["--log", &log]);
    assert_eq!(c, 0, "{e}");
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["workflow_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["once"]);
    assert_eq!(log_records(&log).len(), 1);
}

/// Regression: the single-use ledger was keyed by the payload's `id`,
/// which whoever signs chooses (`override issue --id`, `gavel sign --type
/// override`): using one override consumed every other with the same id.
/// Each signed override is used once, whatever its id; the id is still
/// what the output shows.
#[test]
fn overrides_sharing_an_id_are_each_used_once() {
    let g = Governance::new();
    let card = r#"{"workflow_id": "wf-1", "raroi": 0.2, "confidence": 0.9}"#;
    let mut first = override_payload("wf-1", "sam", -60, 3600);
    first["id"] = json!("ovr-shared");
    let mut second = first.clone();
    second["issued_at"] = json!(at(-30));
    let first = envelope(&g, "first", &[&g.security], first);
    let second = envelope(&g, "second", &[&g.security], second);
    for (name, f) in [("first", &first), ("second", &second)] {
        let (c, out) = g.eval(card, &["--override", f, "--no-log"]);
        assert_eq!(
            (c, out[0]["verdict"].as_str()),
            (0, Some("promote")),
            "{name}: {out:?}"
        );
        assert_eq!(out[0]["overrides"]["override_id"], "ovr-shared", "{name}");
        let (c, v) = verify_override(&g, f, &[]);
        assert_eq!((c, v["reason"].as_str()), (1, Some("used")), "{name}: {v}");
        assert_eq!(v["override_id"], "ovr-shared");
    }
    // The same payload signed again is the same override: already used.
    let mut env: Value = serde_json::from_str(&std::fs::read_to_string(&first).unwrap()).unwrap();
    let mut twice = env["signatures"][0].clone();
    twice["keyid"] = json!("0000000000000000");
    env["signatures"].as_array_mut().unwrap().push(twice);
    let resigned = g.path("resigned.json");
    std::fs::write(&resigned, env.to_string()).unwrap();
    let (c, out) = g.eval(card, &["--override", &resigned, "--no-log"]);
    assert_eq!(
        (c, out[0]["overrides"]["refused"].as_str()),
        (1, Some("used")),
        "{out:?}"
    );
    // `override issue` makes the id; it takes none.
    let out = gavel_in(
        g.home(),
        &[
            "override",
            "issue",
            "--workflow",
            "wf-1",
            "--verdict",
            "promote",
            "--reason",
            "the board approved it",
            "--id",
            "ovr-shared",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        (code(&out), json(&out)["error"]["code"].as_str()),
        (2, Some("usage"))
    );
}

/// `override verify --format json` has the §11.3 verify fields (`format`,
/// `payload_type`) besides its own, and names an override whose
/// signature verified even when it is refused (expired, not yet valid):
/// before, `override_id` was null for an expired override.
#[test]
fn override_verify_names_the_format_the_payload_type_and_an_expired_override() {
    let g = Governance::new();
    let good = g.override_file("fresh", &g.security, "wf-1", "promote", 3600);
    let (c, v) = verify_override(&g, &good, &[]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(
        (
            v["format"].as_str(),
            v["payload_type"].as_str(),
            v["override_id"].as_str()
        ),
        (Some("dsse"), Some(OVERRIDE_TYPE), Some("ovr-fresh"))
    );
    let expired = g.override_file("stale", &g.security, "wf-1", "promote", -60);
    let (c, v) = verify_override(&g, &expired, &[]);
    assert_eq!(
        (c, v["reason"].as_str(), v["override_id"].as_str()),
        (1, Some("expired"), Some("ovr-stale")),
        "{v}"
    );
    // Signed by a key nobody trusts: its id is not vouched for, not shown.
    let unknown = envelope(
        &g,
        "unknown",
        &[&stranger()],
        override_payload("wf-1", "sam", -60, 3600),
    );
    let (c, v) = verify_override(&g, &unknown, &[]);
    assert_eq!((c, v["reason"].as_str()), (1, Some("unknown_key")));
    assert_eq!(v["override_id"], Value::Null);
    assert_eq!(v["format"], "dsse");
    // A legacy file: its format, no payload type, its ledger digest.
    std::fs::write(g.path("secret.txt"), "legacy-secret").unwrap();
    let secret = gavel_trust::Sensitive::new(b"legacy-secret".to_vec());
    let legacy = gavel_trust::legacy_override(&json!({"verdict": "pilot"}), &secret);
    std::fs::write(g.path("legacy.json"), legacy.to_string()).unwrap();
    let (c, v) = verify_override(
        &g,
        &g.path("legacy.json"),
        &["--secret-file", &g.path("secret.txt")],
    );
    assert_eq!(c, 0, "{v}");
    assert_eq!(
        (
            v["format"].as_str(),
            v["payload_type"].clone(),
            v["override_id"].as_str()
        ),
        (
            Some("legacy-override"),
            Value::Null,
            Some(
                gavel_trust::legacy_ledger_key(&legacy)
                    .unwrap()
                    .to_string()
                    .as_str()
            )
        )
    );
    // Not an override at all: exit 1 with the reason, as the README says.
    std::fs::write(g.path("empty.json"), "{}").unwrap();
    let (c, v) = verify_override(&g, &g.path("empty.json"), &[]);
    assert_eq!(
        (c, v["valid"].as_bool(), v["reason"].as_str()),
        (1, Some(false), Some("malformed")),
        "{v}"
    );
    let bundle = write_signed(
        &g,
        "bundle-envelope",
        "application/vnd.gavel.bundle.v1+json",
        &[&g.security],
        &json!({"name": "b"}),
    );
    let (c, v) = verify_override(&g, &bundle, &[]);
    assert_eq!(
        (c, v["reason"].as_str()),
        (1, Some("wrong_payload_type")),
        "{v}"
    );
}

/// The 10-character reason `override issue` asks for holds for an
/// override signed any other way (`gavel sign --type override` checks only
/// that a reason is there): reading it refuses it as malformed.
#[test]
fn an_override_with_a_short_reason_is_refused_however_it_was_signed() {
    let g = Governance::new();
    let mut payload = override_payload("wf-1", "sam", -60, 3600);
    payload["reason"] = json!("because");
    let short = envelope(&g, "short", &[&g.security], payload);
    let (c, v) = verify_override(&g, &short, &[]);
    assert_eq!((c, v["reason"].as_str()), (1, Some("malformed")), "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("at least 10 characters"),
        "{v}"
    );
    let (c, out) = g.eval(
        r#"{"workflow_id": "wf-1", "raroi": 0.2}"#,
        &["--override", &short, "--no-log"],
    );
    assert_eq!(
        (
            c,
            out[0]["verdict"].as_str(),
            out[0]["overrides"]["refused"].as_str()
        ),
        (1, Some("no_go"), Some("malformed"))
    );
}
