//! `gavel verify` with `--key` and `--secret-file`, and the signing commands.

use crate::*;

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
