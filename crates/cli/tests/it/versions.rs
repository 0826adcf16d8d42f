//! `gavel init` and `gavel bundle …` end to end: the JSON shapes of the
//! happy paths, and every refusal with the store left exactly as it was
//! (every version row and the whole audit chain compared). Identities are
//! seeded straight into the store with a key whose private half the test
//! holds, so imports can be signed here; `export` (which reads the
//! keychain) is in `tests/keychain.rs`.

use crate::*;

use gavel_store::versions::{DocumentFormat, NewVersion, VersionSource};
use gavel_trust::ed25519::SigningKey;
use gavel_trust::{PublicKey, Role};

const INBOX: &str = "fixtures/bundles/inbox-triage.yaml";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A store whose only identity is alice (every person role), signing with
/// the key of seed 70.
fn alice_home() -> (tempfile::TempDir, SigningKey) {
    let home = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&[70; 32]);
    let public = PublicKey::new(
        &key.verifying_key(),
        "alice",
        "a@example.com",
        Role::PEOPLE.to_vec(),
    );
    rt().block_on(async {
        let store = gavel_store::Store::open(&home.path().join("gavel.db"))
            .await
            .unwrap();
        store.add_identity(&public).await.unwrap();
    });
    (home, key)
}

/// Every version row (all columns) and every audit row, as text.
fn snapshot(home: &Path) -> (Vec<String>, Vec<String>) {
    rt().block_on(async {
        let pool =
            sqlx::SqlitePool::connect(&format!("sqlite://{}", home.join("gavel.db").display()))
                .await
                .unwrap();
        let rows = |sql: &'static str| {
            let pool = pool.clone();
            async move {
                use sqlx::Row;
                sqlx::query(sql)
                    .fetch_all(&pool)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| {
                                r.try_get::<Option<String>, _>(i)
                                    .map(|c| c.unwrap_or_default())
                                    .or_else(|_| r.try_get::<i64, _>(i).map(|n| n.to_string()))
                                    .unwrap()
                            })
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                    .collect::<Vec<_>>()
            }
        };
        let out = (
            rows("SELECT * FROM bundle_versions ORDER BY id").await,
            rows("SELECT * FROM audit_log ORDER BY seq").await,
        );
        pool.close().await;
        out
    })
}

fn set_status(home: &Path, reference: &str, status: &str) {
    let (name, version) = reference.split_once('@').unwrap();
    rt().block_on(async {
        let pool =
            sqlx::SqlitePool::connect(&format!("sqlite://{}", home.join("gavel.db").display()))
                .await
                .unwrap();
        let done =
            sqlx::query("UPDATE bundle_versions SET status = ? WHERE name = ? AND version = ?")
                .bind(status)
                .bind(name)
                .bind(version)
                .execute(&pool)
                .await
                .unwrap();
        assert_eq!(done.rows_affected(), 1);
        pool.close().await;
    });
}

fn ok_json(home: &Path, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let out = gavel_in(home, &args);
    assert_eq!(
        code(&out),
        0,
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}

/// Runs a command that must be refused with `exit` and `code`, and checks
/// the store did not change.
fn refused(home: &Path, args: &[&str], exit: i32, error_code: &str) -> String {
    let before = snapshot(home);
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let out = gavel_in(home, &args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(code(&out), exit, "{args:?}: {stderr}");
    assert_eq!(snapshot(home), before, "{args:?} changed the store");
    if exit == 2 {
        let e = json(&out)["error"].clone();
        assert_eq!(e["code"], error_code, "{args:?}: {e}");
        e["message"].as_str().unwrap().to_string()
    } else {
        assert!(stderr.contains("error: "), "{stderr}");
        let e = json(&out)["error"].clone();
        assert_eq!(e["code"], error_code, "{args:?}: {e}");
        stderr
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

const VERSION_FIELDS: [&str; 12] = [
    "id",
    "reference",
    "name",
    "version",
    "digest",
    "format",
    "author",
    "created_at",
    "status",
    "source",
    "provenance",
    "notes",
];

fn assert_version_shape(v: &Value) {
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in VERSION_FIELDS {
        assert!(keys.contains(&k), "`{k}` missing from {v}");
    }
}

#[test]
fn init_with_examples_twice_adds_nothing_the_second_time() {
    let home = tempfile::tempdir().unwrap();
    let first = ok_json(home.path(), &["init", "--examples"]);
    let examples = first["examples"].as_array().unwrap();
    assert_eq!(examples.len(), 7);
    assert!(examples.iter().all(|e| e["added"] == true));
    assert!(first["database"].as_str().unwrap().ends_with("gavel.db"));
    let before = snapshot(home.path());
    let second = ok_json(home.path(), &["init", "--examples"]);
    assert!(
        second["examples"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["added"] == false)
    );
    assert_eq!(snapshot(home.path()), before);
    let list = ok_json(home.path(), &["bundle", "list", "--status", "draft"]);
    assert_eq!(list["total"], 7);
    let v = &list["versions"][0];
    assert_version_shape(v);
    assert_eq!(
        (v["source"].as_str(), v["author"].as_str()),
        (Some("example"), Some("gavel"))
    );
    // A plain init on a new store: no examples.
    let other = tempfile::tempdir().unwrap();
    assert_eq!(
        ok_json(other.path(), &["init"])["examples"],
        serde_json::json!([])
    );
}

#[test]
fn a_version_goes_through_new_list_show_edit_diff_history_and_rm() {
    let (home, _) = alice_home();
    let made = ok_json(home.path(), &["bundle", "new", INBOX, "--notes", "first"]);
    assert_version_shape(&made);
    assert_eq!(made["reference"], "inbox-triage@1.0.0");
    assert_eq!(
        (made["status"].as_str(), made["author"].as_str()),
        (Some("draft"), Some("alice"))
    );
    assert_eq!(made["provenance"], serde_json::json!({"file": INBOX}));
    assert_eq!(made["notes"], "first");
    // The digest is the one `gavel sign` signs.
    let text = std::fs::read_to_string(root().join(INBOX)).unwrap();
    let doc = gavel_policy::parse_bundle(&text, gavel_policy::Format::Yaml)
        .unwrap()
        .document()
        .to_json();
    let digest = gavel_trust::bundle_digest(&doc).unwrap().to_string();
    assert_eq!(made["digest"], digest.as_str());

    let shown = ok_json(home.path(), &["bundle", "show", &digest[..16]]);
    assert_version_shape(&shown);
    assert_eq!(shown["document"], text.as_str());

    let changed = text
        .replace("version: 1.0.0", "version: 1.1.0")
        .replace("risk_score\": 90", "risk_score\": 80");
    let v2 = write(home.path(), "v2.yaml", &changed);
    ok_json(home.path(), &["bundle", "new", &v2]);
    let list = ok_json(
        home.path(),
        &["bundle", "list", "--name", "inbox-triage", "--limit", "1"],
    );
    assert_eq!(
        (
            list["total"].as_i64(),
            list["limit"].as_i64(),
            list["offset"].as_i64()
        ),
        (Some(2), Some(1), Some(0))
    );
    assert_eq!(
        list["versions"][0]["reference"], "inbox-triage@1.1.0",
        "newest first"
    );

    let edited_text = changed.replace("Inbox triage agents", "Inbox triage agents, edited");
    let edited_file = write(home.path(), "v2e.yaml", &edited_text);
    let edited = ok_json(
        home.path(),
        &["bundle", "edit", "inbox-triage@1.1.0", &edited_file],
    );
    assert_version_shape(&edited);
    assert_eq!(edited["changed"], true);
    assert_ne!(edited["digest"], edited["previous_digest"]);

    let d = ok_json(
        home.path(),
        &["bundle", "diff", "inbox-triage@1.0.0", "inbox-triage@1.1.0"],
    );
    for k in [
        "old",
        "new",
        "added",
        "removed",
        "modified",
        "unchanged",
        "metadata_changes",
        "class",
        "bump",
        "suggested_version",
    ] {
        assert!(d.get(k).is_some(), "`{k}` missing from {d}");
    }
    assert_eq!(d["old"]["reference"], "inbox-triage@1.0.0");
    assert_eq!(d["new"]["digest"], edited["digest"]);

    let removed = ok_json(home.path(), &["bundle", "rm", "inbox-triage@1.0.0"]);
    assert_eq!(removed["removed"]["digest"], digest.as_str());
    let h = ok_json(home.path(), &["bundle", "history", "inbox-triage"]);
    assert_eq!(h["versions"].as_array().unwrap().len(), 1);
    let events: Vec<(&str, &str, &str)> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["subject"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("bundle.create", "inbox-triage@1.0.0", "alice"),
            ("bundle.create", "inbox-triage@1.1.0", "alice"),
            ("bundle.edit", "inbox-triage@1.1.0", "alice"),
            ("bundle.delete", "inbox-triage@1.0.0", "alice"),
        ]
    );
    for e in h["events"].as_array().unwrap() {
        assert!(
            e["hash"].is_string()
                && e["prev_hash"].is_string()
                && e["details"]["digest"].is_string()
        );
    }
}

#[test]
fn a_duplicate_version_is_refused_naming_the_existing_digest() {
    let (home, _) = alice_home();
    let made = ok_json(home.path(), &["bundle", "new", INBOX]);
    let other = std::fs::read_to_string(root().join(INBOX))
        .unwrap()
        .replace("Inbox triage agents", "Other text");
    let file = write(home.path(), "same-version.yaml", &other);
    let stderr = refused(home.path(), &["bundle", "new", &file], 1, "version_exists");
    assert!(
        stderr.contains("inbox-triage@1.0.0") && stderr.contains(made["digest"].as_str().unwrap()),
        "{stderr}"
    );
}

#[test]
fn editing_or_removing_a_version_that_is_not_a_draft_is_refused() {
    let (home, _) = alice_home();
    ok_json(home.path(), &["bundle", "new", INBOX]);
    let same = write(
        home.path(),
        "e.yaml",
        &std::fs::read_to_string(root().join(INBOX))
            .unwrap()
            .replace("Inbox triage agents", "Edited"),
    );
    for status in [
        "submitted",
        "approved",
        "active",
        "superseded",
        "rolled_back",
        "rejected",
    ] {
        set_status(home.path(), "inbox-triage@1.0.0", status);
        let stderr = refused(
            home.path(),
            &["bundle", "edit", "inbox-triage@1.0.0", &same],
            1,
            "not_a_draft",
        );
        assert!(stderr.contains("create a new version"), "{stderr}");
        let stderr = refused(
            home.path(),
            &["bundle", "rm", "inbox-triage@1.0.0"],
            1,
            "not_a_draft",
        );
        assert!(stderr.contains(status), "{stderr}");
    }
}

#[test]
fn unknown_ambiguous_and_malformed_references_are_bad_input() {
    let (home, _) = alice_home();
    rt().block_on(async {
        let store = gavel_store::Store::open(&home.path().join("gavel.db"))
            .await
            .unwrap();
        for (name, digest) in [("a", "sha256:0123456789aa"), ("b", "sha256:0123456789bb")] {
            store
                .insert_version(
                    &NewVersion {
                        name: name.into(),
                        version: "1.0.0".into(),
                        digest: digest.into(),
                        document: String::new(),
                        format: DocumentFormat::Yaml,
                        author: "alice".into(),
                        source: VersionSource::File,
                        provenance: serde_json::json!({}),
                        notes: String::new(),
                    },
                    "alice",
                    "bundle.create",
                )
                .await
                .unwrap();
        }
    });
    for args in [
        vec!["bundle", "show", "sha256:01234567"],
        vec!["bundle", "rm", "sha256:0123456789"],
        vec!["bundle", "diff", "sha256:01234567", "a@1.0.0"],
    ] {
        let message = refused(home.path(), &args, 2, "ambiguous_reference");
        assert!(
            message.contains("`a@1.0.0` (sha256:0123456789aa)")
                && message.contains("`b@1.0.0` (sha256:0123456789bb)"),
            "{message}"
        );
    }
    for args in [
        vec!["bundle", "show", "nothing@1.0.0"],
        vec!["bundle", "rm", "sha256:ffffffff"],
        vec!["bundle", "edit", "nothing@1.0.0", INBOX],
        vec!["bundle", "history", "nothing"],
    ] {
        refused(home.path(), &args, 2, "not_found");
    }
    for args in [
        vec!["bundle", "show", "sha256:0123456"],
        vec!["bundle", "rm", "a"],
    ] {
        let message = refused(home.path(), &args, 2, "invalid");
        assert!(message.contains("at least 8 hex digits"), "{message}");
    }
    // The unique prefix is found.
    assert_eq!(
        ok_json(home.path(), &["bundle", "show", "sha256:0123456789a"])["reference"],
        "a@1.0.0"
    );
}

#[test]
fn a_bundle_without_name_and_version_or_that_does_not_validate_is_bad_input() {
    let (home, _) = alice_home();
    let message = refused(
        home.path(),
        &["bundle", "new", "fixtures/bundles/legacy-rules.yaml"],
        2,
        "invalid_bundle",
    );
    assert!(
        message.contains("add `metadata.name` and `metadata.version`"),
        "{message}"
    );
    let bad = write(
        home.path(),
        "bad.yaml",
        "metadata: {name: x, version: 1.0.0}\nrules: [{id: abc}]\n",
    );
    let out = gavel_in(home.path(), &["bundle", "new", &bad, "--format", "json"]);
    assert_eq!(code(&out), 2);
    let e = json(&out)["error"].clone();
    assert_eq!(
        (e["code"].as_str(), e["line"].as_i64()),
        (Some("invalid_bundle"), Some(2)),
        "{e}"
    );
    // No identity at all: the hint to make one.
    let empty = tempfile::tempdir().unwrap();
    ok_json(empty.path(), &["init"]);
    let message = refused(empty.path(), &["bundle", "new", INBOX], 2, "not_found");
    assert!(message.contains("gavel keys gen"), "{message}");
}

/// A `bundle.v1` envelope of the inbox bundle signed by `key`, its payload
/// changed by `edit` before signing.
fn envelope(
    key: &SigningKey,
    author: &str,
    issued: i64,
    expires: i64,
    edit: impl Fn(&mut Value),
) -> Value {
    let text = std::fs::read_to_string(root().join(INBOX)).unwrap();
    let doc = gavel_policy::parse_bundle(&text, gavel_policy::Format::Yaml)
        .unwrap()
        .document()
        .to_json();
    let now = jiff::Timestamp::now().as_second();
    let t = |s: i64| jiff::Timestamp::from_second(now + s).unwrap();
    let mut payload = gavel_trust::bundle_payload(&doc, author, t(issued), t(expires)).unwrap();
    edit(&mut payload);
    gavel_trust::sign_dsse("application/vnd.gavel.bundle.v1+json", &payload, &[key]).unwrap()
}

#[test]
fn an_import_that_does_not_verify_is_refused_with_its_reason_and_writes_nothing() {
    let (home, alice) = alice_home();
    let stranger = SigningKey::from_bytes(&[71; 32]);
    let mut tampered = envelope(&alice, "alice", -60, 3600, |_| {});
    let other = envelope(&alice, "alice", -60, 3600, |p| {
        p["bundle"]["metadata"]["notes"] = "changed".into()
    });
    tampered["payload"] = other["payload"].clone();
    tampered["signatures"] = envelope(&alice, "alice", -60, 3600, |_| {})["signatures"].clone();
    let cases = [
        ("bad_signature", tampered),
        ("expired", envelope(&alice, "alice", -7200, -3600, |_| {})),
        (
            "unknown_key",
            envelope(&stranger, "alice", -60, 3600, |_| {}),
        ),
        (
            "digest_mismatch",
            envelope(&alice, "alice", -60, 3600, |p| {
                p["digest"] = format!("sha256:{}", "0".repeat(64)).into()
            }),
        ),
    ];
    for (reason, env) in cases {
        let file = write(home.path(), &format!("{reason}.json"), &env.to_string());
        let stderr = refused(
            home.path(),
            &["bundle", "import", &file],
            1,
            "import_refused",
        );
        assert!(stderr.contains(reason), "{reason}: {stderr}");
        assert!(stderr.contains("nothing was written"), "{stderr}");
    }
    // A team export without its secret, and a file that is not JSON.
    let not_json = write(home.path(), "x.json", "not json");
    refused(home.path(), &["bundle", "import", &not_json], 2, "invalid");
}

#[test]
fn a_verified_import_becomes_a_draft_with_provenance() {
    let (home, alice) = alice_home();
    let env = envelope(&alice, "alice", -60, 3600, |_| {});
    let file = write(home.path(), "inbox.dsse.json", &env.to_string());
    let v = ok_json(home.path(), &["bundle", "import", &file]);
    assert_version_shape(&v);
    assert_eq!(
        (
            v["source"].as_str(),
            v["status"].as_str(),
            v["author"].as_str()
        ),
        (Some("import"), Some("draft"), Some("alice"))
    );
    let keyid = PublicKey::new(&alice.verifying_key(), "alice", "", vec![])
        .keyid
        .0;
    assert_eq!(v["provenance"]["format"], "dsse");
    assert_eq!(v["provenance"]["signers"], serde_json::json!([keyid]));
    assert!(v["provenance"]["signed_at"].is_string());
    let payload: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            env["payload"].as_str().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(v["digest"], payload["digest"]);
    // Imported again: it exists.
    refused(
        home.path(),
        &["bundle", "import", &file],
        1,
        "version_exists",
    );
    // A legacy export with its shared secret.
    let secret = write(home.path(), "team.secret", "s3cret\n");
    let text = std::fs::read_to_string(root().join("fixtures/bundles/budgets.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let legacy = gavel_trust::legacy_export(
        &doc,
        "2026-01-01T00:00:00",
        "2099-01-01T00:00:00",
        &gavel_trust::Sensitive::new(b"s3cret".to_vec()),
    );
    let lfile = write(home.path(), "legacy.json", &legacy.to_string());
    refused(
        home.path(),
        &["bundle", "import", &lfile],
        1,
        "import_refused",
    );
    let v = ok_json(
        home.path(),
        &["bundle", "import", &lfile, "--secret-file", &secret],
    );
    assert_eq!(
        (v["reference"].as_str(), v["provenance"]["format"].as_str()),
        (Some("budgets@0.9.0"), Some("legacy-export"))
    );
    assert_eq!(
        v["digest"],
        gavel_trust::bundle_digest(&doc)
            .unwrap()
            .to_string()
            .as_str()
    );
}
