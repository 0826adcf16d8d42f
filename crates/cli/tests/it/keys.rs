//! `gavel verify` with `--key` and `--secret-file`, and the signing and
//! trust commands up to the keychain (identities are seeded straight into
//! the store; `tests/keychain.rs` runs the rest against a real keychain).

use crate::*;

use gavel_trust::{PayloadKind, PublicKey, Role};

/// A well-formed review package statement (no times).
fn review_statement() -> Value {
    let bundle = serde_json::json!([]);
    serde_json::json!({
        "bundle": "inbox-agents", "base": null,
        "proposed": {"version": "1.0.0", "digest": gavel_trust::bundle_digest(&bundle).unwrap().to_string(), "bundle": bundle},
        "diff": {}, "simulation": {}, "signatures": [],
    })
}

/// Puts an identity with `roles` in the store of `home` (its private key is
/// nowhere: these tests stop before the keychain).
fn seed_identity(home: &Path, name: &str, seed: u8, roles: Vec<Role>) -> PublicKey {
    let key = gavel_trust::ed25519::SigningKey::from_bytes(&[seed; 32]);
    let public = PublicKey::new(&key.verifying_key(), name, "x@example.com", roles);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = gavel_store::Store::open(&home.join("gavel.db"))
            .await
            .unwrap();
        store.add_identity(&public).await.unwrap();
    });
    public
}

/// `gavel_in` with extra environment variables.
fn gavel_env(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(args)
        .current_dir(root())
        .env("GAVEL_HOME", home)
        .env_remove("GAVEL_IDENTITY")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    out
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn error(out: &Output) -> (i32, Value) {
    (code(out), json(out)["error"].clone())
}

/// Regression: `--type bundle` by an identity without the author role gave
/// an envelope; each type is signed only by the role that owns it (exit 1).
#[test]
fn sign_refuses_a_type_whose_role_the_identity_has_not_got() {
    let home = tempfile::tempdir().unwrap();
    seed_identity(home.path(), "ann", 60, vec![Role::Analyst]);
    let payload = write(home.path(), "p.json", &review_statement().to_string());
    for (kind, role) in [
        ("bundle", "author"),
        ("approval", "approver"),
        ("override", "security"),
        ("rollout", "operator"),
        ("review", "author"),
    ] {
        let file = if kind == "bundle" {
            "fixtures/bundles/budgets.json"
        } else {
            payload.as_str()
        };
        let out = gavel_in(
            home.path(),
            &["sign", "--type", kind, file, "--format", "json"],
        );
        let (exit, e) = error(&out);
        assert_eq!(
            (exit, e["code"].as_str()),
            (1, Some("refused")),
            "{kind}: {e}"
        );
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("{role} role")) && message.contains("`ann`"),
            "{kind}: {message}"
        );
    }
}

/// Regression: `--type approval` signed `{}` and a caller's `issued_at` was
/// kept; a payload must be well formed for its type and bring no times
/// (exit 2, pointing at the field).
#[test]
fn sign_refuses_malformed_payloads_and_callers_times_naming_the_field() {
    let home = tempfile::tempdir().unwrap();
    seed_identity(home.path(), "alice", 61, Role::PEOPLE.to_vec());
    let sign = |kind: &str, text: &str| {
        let f = write(home.path(), "payload.json", text);
        let out = gavel_in(
            home.path(),
            &["sign", "--type", kind, &f, "--format", "json"],
        );
        assert!(!out.stderr.is_empty(), "the message also goes to stderr");
        error(&out)
    };
    let (exit, e) = sign("approval", "{}");
    assert_eq!(
        (exit, e["code"].as_str()),
        (2, Some("invalid_payload")),
        "{e}"
    );
    assert_eq!(e["pointer"], "/digest");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("`digest` is missing"),
        "{e}"
    );
    assert!(e["file"].as_str().unwrap().ends_with("payload.json"));
    let mut timed = review_statement();
    timed["expires_at"] = "2099-01-01T00:00:00Z".into();
    let text = serde_json::to_string_pretty(&timed).unwrap();
    let line = text.lines().position(|l| l.contains("expires_at")).unwrap() + 1;
    let (exit, e) = sign("review", &text);
    assert_eq!(
        (exit, e["code"].as_str()),
        (2, Some("invalid_payload")),
        "{e}"
    );
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("`expires_at` is set by Gavel") && message.contains("`--expires-in`"),
        "{message}"
    );
    assert_eq!(
        (e["pointer"].as_str(), e["line"].as_u64()),
        (Some("/expires_at"), Some(line as u64))
    );
    let mut extra = review_statement();
    extra["note"] = "hi".into();
    let (exit, e) = sign("review", &extra.to_string());
    assert_eq!((exit, e["pointer"].as_str()), (2, Some("/note")), "{e}");
    let mut wrong = review_statement();
    wrong["proposed"]["digest"] = "sha256:00".into();
    let (exit, e) = sign("review", &wrong.to_string());
    assert_eq!(
        (exit, e["pointer"].as_str()),
        (2, Some("/proposed/digest")),
        "{e}"
    );
    // Not JSON, or JSON with a duplicate key: unusable too.
    let (exit, e) = sign("review", "{\"bundle\": ");
    assert_eq!((exit, e["code"].as_str()), (2, Some("syntax_error")), "{e}");
    let (exit, _) = sign("review", r#"{"bundle": "a", "bundle": "b"}"#);
    assert_eq!(exit, 2);
    let (exit, e) = sign("receipt", "{}");
    assert_eq!((exit, e["code"].as_str()), (2, Some("usage")), "{e}");
}

/// Regression: `90` meant days and `90m` minutes, `0s` made an envelope
/// that was already expired, `1w` was refused. Units are explicit now.
#[test]
fn expires_in_needs_a_unit_and_a_positive_length() {
    let home = tempfile::tempdir().unwrap();
    // An identity that may not sign: a duration that parses gets as far as
    // the role check (exit 1); one that does not stops at usage (exit 2).
    seed_identity(home.path(), "ann", 62, vec![Role::Analyst]);
    let run = |d: &str| {
        let arg = format!("--expires-in={d}");
        error(&gavel_in(
            home.path(),
            &[
                "sign",
                "--type",
                "bundle",
                "fixtures/bundles/budgets.json",
                &arg,
                "--format",
                "json",
            ],
        ))
    };
    for good in ["30m", "12h", "7d", "2w", "1h30m", "2 weeks"] {
        assert_eq!(run(good).0, 1, "{good} is a duration");
    }
    for bad in [
        "90", "0s", "0d", "-1h", "1mo", "1y", "1500ms", "soon", "", "5000000d",
    ] {
        let (exit, e) = run(bad);
        assert_eq!((exit, e["code"].as_str()), (2, Some("usage")), "{bad}: {e}");
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains("`30m`, `12h`, `7d` or `2w`"),
            "{bad}: {message}"
        );
    }
}

/// Regression: `GAVEL_IDENTITY=` (set but empty) named an identity `` that
/// does not exist; it counts as unset, so the store's only identity acts.
#[test]
fn an_empty_gavel_identity_counts_as_unset() {
    let home = tempfile::tempdir().unwrap();
    seed_identity(home.path(), "sam", 63, vec![Role::Security]);
    let other = gavel_trust::ed25519::SigningKey::from_bytes(&[64; 32]);
    let other = PublicKey::new(&other.verifying_key(), "bob", "b@example.com", vec![]);
    let f = write(
        home.path(),
        "bob.pub.json",
        &serde_json::to_string(&other).unwrap(),
    );
    let env = [("GAVEL_IDENTITY", "")];
    let out = gavel_env(
        home.path(),
        &[
            "keys", "trust", &f, "--roles", "approver", "--format", "json",
        ],
        &env,
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let out = gavel_env(
        home.path(),
        &["keys", "untrust", &other.keyid.0, "--format", "json"],
        &env,
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    // Signing goes as far as the role check: sam is no author.
    let out = gavel_env(
        home.path(),
        &[
            "sign",
            "--type",
            "bundle",
            "fixtures/bundles/budgets.json",
            "--format",
            "json",
        ],
        &env,
    );
    let (exit, e) = error(&out);
    assert_eq!((exit, e["code"].as_str()), (1, Some("refused")), "{e}");
    // Overrides too: sam may issue, so it stops only at the keychain.
    let out = gavel_env(
        home.path(),
        &[
            "override",
            "issue",
            "--workflow",
            "wf",
            "--verdict",
            "promote",
            "--reason",
            "Board approved the launch",
            "--format",
            "json",
        ],
        &env,
    );
    let (_, e) = error(&out);
    assert!(
        !e["message"].as_str().unwrap_or("").contains("no identity"),
        "{e}"
    );
}

/// Regression: `keys trust FILE` granted the roles the file lists (security
/// included) and needed no identity in a store without identities.
#[test]
fn keys_trust_grants_only_the_roles_a_security_identity_gives() {
    let home = tempfile::tempdir().unwrap();
    let mallory = gavel_trust::ed25519::SigningKey::from_bytes(&[65; 32]);
    let mallory = PublicKey::new(
        &mallory.verifying_key(),
        "mallory",
        "m@example.com",
        vec![Role::Security, Role::Author],
    );
    let f = write(
        home.path(),
        "mallory.pub.json",
        &serde_json::to_string(&mallory).unwrap(),
    );
    // No identity in the store: refused, nothing trusted.
    let (exit, e) = error(&gavel_in(
        home.path(),
        &["keys", "trust", &f, "--format", "json"],
    ));
    assert_eq!((exit, e["code"].as_str()), (1, Some("refused")), "{e}");
    let list = json(&gavel_in(
        home.path(),
        &["keys", "list", "--format", "json"],
    ));
    assert_eq!(list, serde_json::json!([]));
    seed_identity(home.path(), "sam", 66, vec![Role::Security]);
    seed_identity(home.path(), "bob", 67, vec![Role::Approver]);
    let out = gavel_in(
        home.path(),
        &["keys", "trust", &f, "--as", "sam", "--format", "json"],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let trusted = json(&out);
    assert_eq!(trusted[0]["keyid"], mallory.keyid.0.as_str());
    assert_eq!(trusted[0]["roles"], serde_json::json!([]));
    assert_eq!(
        trusted[0]["ignored_roles"],
        serde_json::json!(["security", "author"])
    );
    let text = gavel_in(home.path(), &["keys", "trust", &f, "--as", "sam"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("ignored the roles the file names (security,author)"),
        "{text}"
    );
    let roles_of = || {
        json(&gavel_in(
            home.path(),
            &["keys", "list", "--format", "json"],
        ))
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "mallory")
        .unwrap()["roles"]
            .clone()
    };
    assert_eq!(roles_of(), serde_json::json!([]));
    // A non-security identity cannot grant, nor trust at all.
    for extra in [&["--roles", "approver"][..], &[][..]] {
        let mut args = vec![
            "keys",
            "trust",
            f.as_str(),
            "--as",
            "bob",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let (exit, e) = error(&gavel_in(home.path(), &args));
        assert_eq!(
            (exit, e["code"].as_str()),
            (1, Some("refused")),
            "{extra:?}: {e}"
        );
    }
    let out = gavel_in(
        home.path(),
        &[
            "keys", "trust", &f, "--as", "sam", "--roles", "approver", "--format", "json",
        ],
    );
    assert_eq!(json(&out)[0]["roles"], serde_json::json!(["approver"]));
    assert_eq!(roles_of(), serde_json::json!(["approver"]));
}

/// Every `keys` subcommand that runs without the keychain prints JSON under
/// `--format json`, errors included.
#[test]
fn keys_commands_print_json_under_format_json() {
    let home = tempfile::tempdir().unwrap();
    let sam = seed_identity(home.path(), "sam", 68, vec![Role::Security]);
    let other = gavel_trust::ed25519::SigningKey::from_bytes(&[69; 32]);
    let other = PublicKey::new(&other.verifying_key(), "bob", "b@example.com", vec![]);
    let f = write(
        home.path(),
        "bob.pub.json",
        &serde_json::to_string(&other).unwrap(),
    );
    let ok = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--format", "json"]);
        let out = gavel_in(home.path(), &all);
        assert_eq!(
            code(&out),
            0,
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out)
    };
    assert!(ok(&["keys", "trust", &f]).is_array());
    assert_eq!(ok(&["keys", "list"]).as_array().unwrap().len(), 2);
    assert_eq!(
        ok(&["keys", "export", "sam"])["keyid"],
        sam.keyid.0.as_str()
    );
    assert_eq!(ok(&["keys", "export-trust"])["version"], 1);
    assert_eq!(
        ok(&["keys", "untrust", &other.keyid.0]),
        serde_json::json!({"untrusted": other.keyid.0})
    );
    let (exit, e) = error(&gavel_in(
        home.path(),
        &["keys", "export", "nobody", "--format", "json"],
    ));
    assert_eq!((exit, e["code"].as_str()), (2, Some("not_found")), "{e}");
    let (exit, e) = error(&gavel_in(
        home.path(),
        &["keys", "untrust", &sam.keyid.0, "--format", "json"],
    ));
    assert_eq!((exit, e["code"].as_str()), (1, Some("refused")), "{e}");
    let (exit, e) = error(&gavel_in(
        home.path(),
        &[
            "keys",
            "secret",
            "team",
            "--from-file",
            "/nonexistent/secret",
            "--format",
            "json",
        ],
    ));
    assert_eq!((exit, e["code"].as_str()), (2, Some("unreadable")), "{e}");
}

/// `verify --key` applies the signing rule too: a bundle signed by a key
/// without the author role is `unknown_key`.
#[test]
fn verify_with_key_counts_only_the_owning_role() {
    let dir = tempfile::tempdir().unwrap();
    let k = gavel_trust::ed25519::SigningKey::from_bytes(&[70; 32]);
    let now = jiff::Timestamp::now();
    let payload = gavel_trust::stamp(
        PayloadKind::Bundle,
        &gavel_trust::bundle_statement(&serde_json::json!([]), "ann").unwrap(),
        now,
        3600,
    )
    .unwrap();
    let env = gavel_trust::sign_dsse(PayloadKind::Bundle.media_type(), &payload, &[&k]).unwrap();
    let e = write(dir.path(), "env.json", &env.to_string());
    for (roles, valid) in [(vec![Role::Analyst], false), (vec![Role::Author], true)] {
        let public = PublicKey::new(&k.verifying_key(), "ann", "a@example.com", roles);
        let p = write(
            dir.path(),
            "ann.pub.json",
            &serde_json::to_string(&public).unwrap(),
        );
        let out = gavel(&["verify", &e, "--key", &p, "--format", "json"], None);
        let v = json(&out);
        assert_eq!(
            (code(&out) == 0, v["valid"].as_bool()),
            (valid, Some(valid)),
            "{v}"
        );
        if !valid {
            assert_eq!(v["reason"], "unknown_key");
        }
    }
}

/// `verify` with `--key` and `--secret-file`: no store, no keychain.
#[test]
fn verify_exit_codes_and_bad_input() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    // In a home of its own: `verify` without `--key` opens the store, and
    // the user's (shared by every checkout on the machine) may be another
    // version's.
    let gavel = |args: &[&str], _stdin: Option<&str>| gavel_in(dir.path(), args);
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
    let payload = gavel_trust::stamp(PayloadKind::Review, &review_statement(), now, 3600).unwrap();
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

/// A statement of `kind` naming `who` as its signer (no times).
fn statement_naming(kind: PayloadKind, who: &str, roles: &[&str]) -> Value {
    let bundle = serde_json::json!([]);
    let digest = gavel_trust::bundle_digest(&bundle).unwrap().to_string();
    match kind {
        PayloadKind::Bundle => gavel_trust::bundle_statement(&bundle, who).unwrap(),
        PayloadKind::Approval => serde_json::json!({
            "digest": digest, "base_digest": null, "version": "1.0.0", "environment": "prod",
            "decision": "approve", "comment": "", "approver": who, "roles": roles,
            "evidence": {"lint": {}, "impact": {"allow_to_deny": 0, "deny_to_allow": 0, "other": 0}},
        }),
        PayloadKind::Override => serde_json::json!({
            "id": "ovr-1", "workflow_id": "wf-1",
            "flags": {"bypass_micro_pilot": true, "forced_verdict": null},
            "reason": "Board approved the launch", "issued_by": who,
        }),
        PayloadKind::Rollout | PayloadKind::Review | PayloadKind::Trust => {
            unreachable!("names no signer")
        }
    }
}

/// Regression: `mal`, trusted with the author role, signed a bundle saying
/// `"author": "sam"` and `gavel verify` said valid (exit 0); the same for an
/// approval's `approver` and `roles` and an override's `issued_by`. Each is
/// refused, by the trust store and by `--key`, with the reason the README
/// gives: `unknown_key` for a signer who did not sign, `malformed` for roles
/// the signer has not got.
#[test]
fn verify_refuses_a_payload_that_names_someone_else_as_its_signer() {
    let home = tempfile::tempdir().unwrap();
    let roles = vec![Role::Author, Role::Approver, Role::Security];
    let mal = seed_identity(home.path(), "mal", 71, roles.clone());
    let sam = seed_identity(home.path(), "sam", 72, roles);
    let mal_key = gavel_trust::ed25519::SigningKey::from_bytes(&[71; 32]);
    let key_files: Vec<String> = [&mal, &sam]
        .iter()
        .map(|k| {
            write(
                home.path(),
                &format!("{}.pub.json", k.name),
                &serde_json::to_string(k).unwrap(),
            )
        })
        .collect();
    let now = jiff::Timestamp::now();
    let envelope = |name: &str, kind: PayloadKind, statement: Value| {
        let p = gavel_trust::stamp(kind, &statement, now, 3600).unwrap();
        let env = gavel_trust::sign_dsse(kind.media_type(), &p, &[&mal_key]).unwrap();
        write(home.path(), &format!("{name}.json"), &env.to_string())
    };
    let cases = [
        (
            "forged author",
            envelope(
                "author",
                PayloadKind::Bundle,
                statement_naming(PayloadKind::Bundle, "sam", &[]),
            ),
            "unknown_key",
        ),
        (
            "forged approver",
            envelope(
                "approver",
                PayloadKind::Approval,
                statement_naming(PayloadKind::Approval, "sam", &["approver"]),
            ),
            "unknown_key",
        ),
        (
            "forged roles",
            envelope(
                "roles",
                PayloadKind::Approval,
                statement_naming(PayloadKind::Approval, "mal", &["approver", "analyst"]),
            ),
            "malformed",
        ),
        (
            "forged issued_by",
            envelope(
                "issued_by",
                PayloadKind::Override,
                statement_naming(PayloadKind::Override, "sam", &[]),
            ),
            "unknown_key",
        ),
        (
            "honest bundle",
            envelope(
                "honest-bundle",
                PayloadKind::Bundle,
                statement_naming(PayloadKind::Bundle, "mal", &[]),
            ),
            "",
        ),
        (
            "honest approval",
            envelope(
                "honest-approval",
                PayloadKind::Approval,
                statement_naming(PayloadKind::Approval, "mal", &["approver", "security"]),
            ),
            "",
        ),
        (
            "honest override",
            envelope(
                "honest-override",
                PayloadKind::Override,
                statement_naming(PayloadKind::Override, "mal", &[]),
            ),
            "",
        ),
    ];
    let by_key = ["--key", &key_files[0], "--key", &key_files[1]];
    for (what, file, reason) in &cases {
        for extra in [&[][..], &by_key[..]] {
            let mut args = vec!["verify", file.as_str(), "--format", "json"];
            args.extend_from_slice(extra);
            let out = gavel_in(home.path(), &args);
            let v = json(&out);
            let how = if extra.is_empty() { "store" } else { "--key" };
            if reason.is_empty() {
                assert_eq!(
                    (code(&out), v["valid"].as_bool()),
                    (0, Some(true)),
                    "{what} ({how}): {v}"
                );
                assert_eq!(v["signers"][0]["name"], "mal", "{what} ({how})");
            } else {
                assert_eq!(
                    (code(&out), v["valid"].as_bool(), v["reason"].as_str()),
                    (1, Some(false), Some(*reason)),
                    "{what} ({how}): {v}"
                );
            }
        }
    }
    // The text says why, with the reason's name.
    let out = gavel_in(
        home.path(),
        &["verify", &cases[0].1, "--key", &key_files[0]],
    );
    assert_eq!(code(&out), 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "INVALID (unknown_key): `author` says `sam`, but `sam` did not sign this bundle payload (signed by `mal`); a payload can only name its own signer"
    );
    let out = gavel_in(
        home.path(),
        &["verify", &cases[4].1, "--key", &key_files[0]],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!(
            "valid dsse, signed by mal ({}: author,approver,security)",
            mal.keyid
        )),
        "{text}"
    );
}
