//! `gavel audit …` end to end: rows of the audit log changed by hand in
//! SQLite are found by `gavel audit verify`, naming the first bad entry and
//! how it broke, and `tests/audit_verify.py` says the same of the export;
//! truncation shows only below a checkpoint; refusals change nothing.

use super::*;

use gavel_trust::ed25519::SigningKey;
use gavel_trust::{PublicKey, Role};

const CHECKPOINT_TYPE: &str = "application/vnd.gavel.audit-checkpoint.v1+json";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A store whose log holds `n` `key.trust` entries.
fn seeded(n: u8) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<PublicKey> = (0..n)
        .map(|i| {
            PublicKey::new(
                &SigningKey::from_bytes(&[i + 1; 32]).verifying_key(),
                &format!("k{i}"),
                "k@example.com",
                vec![],
            )
        })
        .collect();
    seed_trust(dir.path(), &keys);
    dir
}

/// Runs SQL statements on the store's database, as someone editing the
/// file by hand would.
fn sql(home: &Path, statements: &[&str]) {
    rt().block_on(async {
        let url = format!("sqlite://{}", home.join("gavel.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        for s in statements {
            sqlx::query(s).execute(&pool).await.unwrap();
        }
        pool.close().await;
    });
}

/// Row counts and the whole audit log as stored.
fn snapshot(home: &Path) -> (i64, Vec<gavel_store::AuditEntry>) {
    rt().block_on(async {
        let store = gavel_store::Store::open(&home.join("gavel.db"))
            .await
            .unwrap();
        let keys = store.keys().await.unwrap().len() as i64;
        (keys, store.audit_page(0, i64::MAX).await.unwrap())
    })
}

type Verdict = (i32, Option<(i64, String)>);

fn verdict_of(code: i32, v: &Value) -> Verdict {
    let bad = v["first_bad"].as_object().map(|b| {
        (
            b["seq"].as_i64().unwrap(),
            b["kind"].as_str().unwrap().to_string(),
        )
    });
    (code, bad)
}

fn gavel_verify(home: &Path, checkpoint: Option<&Path>) -> Verdict {
    let mut args = vec!["audit", "verify", "--format", "json"];
    if let Some(cp) = checkpoint {
        args.extend(["--checkpoint", cp.to_str().unwrap()]);
    }
    let out = gavel_in(home, &args);
    let v = json(&out);
    assert_eq!(v["valid"], code(&out) == 0, "{v}");
    verdict_of(code(&out), &v)
}

fn python_verify(home: &Path, checkpoint: Option<&Path>) -> Verdict {
    let export = home.join("export.jsonl");
    let out = gavel_in(
        home,
        &["audit", "export", "--out", export.to_str().unwrap()],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("tests/audit_verify.py"))
        .arg(&export)
        .arg("--json");
    if let Some(cp) = checkpoint {
        cmd.arg("--checkpoint").arg(cp);
    }
    let out = cmd
        .output()
        .expect("python3 runs (cargo xtask installs it)");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    verdict_of(code(&out), &json(&out))
}

/// A checkpoint of entry `seq` of `home`'s log, signed by `operator`.
fn checkpoint_file(home: &Path, operator: &SigningKey, seq: i64, hash: &str) -> PathBuf {
    let now = jiff::Timestamp::now().as_second();
    let t = |s| gavel_trust::rfc3339(jiff::Timestamp::from_second(s).unwrap());
    let payload = serde_json::json!({
        "seq": seq, "hash": hash, "at": "2026-11-23T15:04:05.123Z",
        "issued_at": t(now - 60), "expires_at": t(now + 86_400),
    });
    let env = gavel_trust::sign_dsse(CHECKPOINT_TYPE, &payload, &[operator]).unwrap();
    let path = home.join(format!("checkpoint-{seq}.json"));
    std::fs::write(&path, env.to_string()).unwrap();
    path
}

fn operator() -> (SigningKey, PublicKey) {
    let k = SigningKey::from_bytes(&[77; 32]);
    let p = PublicKey::new(&k.verifying_key(), "operator", "", vec![Role::Operator]);
    (k, p)
}

/// Every way of changing rows by hand: gavel names the first bad entry and
/// how, exits 1, and the Python script agrees on the export.
#[test]
fn rows_changed_in_sqlite_are_found_by_gavel_and_by_the_python_script_alike() {
    let swap = |a: i64, b: i64| -> Vec<String> {
        vec![
            format!("UPDATE audit_log SET seq = -1 WHERE seq = {a}"),
            format!("UPDATE audit_log SET seq = {a} WHERE seq = {b}"),
            format!("UPDATE audit_log SET seq = {b} WHERE seq = -1"),
        ]
    };
    let one = |s: &str| vec![s.to_string()];
    type Case<'a> = (&'a str, Vec<String>, Option<(i64, &'a str)>);
    let cases: Vec<Case> = vec![
        ("untouched", vec![], None),
        (
            "details changed",
            one(
                r#"UPDATE audit_log SET details = '{"email":"k@example.com","name":"mallory","roles":[]}' WHERE seq = 4"#,
            ),
            Some((4, "edited")),
        ),
        (
            "details with numbers",
            one(
                r#"UPDATE audit_log SET details = '{"n":1.5e300,"m":-0.000001,"i":12,"s":"é😀","b":[true,null]}' WHERE seq = 3"#,
            ),
            Some((3, "edited")),
        ),
        (
            "details not JSON",
            one("UPDATE audit_log SET details = 'oops' WHERE seq = 2"),
            Some((2, "edited")),
        ),
        (
            "actor changed",
            one("UPDATE audit_log SET actor = 'bob' WHERE seq = 1"),
            Some((1, "edited")),
        ),
        (
            "at made a number",
            one("UPDATE audit_log SET at = 5 WHERE seq = 7"),
            Some((7, "edited")),
        ),
        (
            "hash changed",
            // Another first byte, whatever the hash was (a hash that
            // already began `ab` made this a no-op one run in 256).
            one(
                "UPDATE audit_log SET hash = (CASE WHEN substr(hash, 1, 2) = 'ab' THEN 'cd' ELSE 'ab' END) || substr(hash, 3) WHERE seq = 5",
            ),
            Some((5, "edited")),
        ),
        (
            "prev_hash changed",
            one("UPDATE audit_log SET prev_hash = hash WHERE seq = 6"),
            Some((6, "edited")),
        ),
        (
            "a middle row deleted",
            one("DELETE FROM audit_log WHERE seq = 5"),
            Some((5, "removed")),
        ),
        (
            "the first rows deleted",
            one("DELETE FROM audit_log WHERE seq <= 2"),
            Some((1, "removed")),
        ),
        ("two rows swapped", swap(3, 6), Some((3, "reordered"))),
        ("neighbours swapped", swap(7, 8), Some((7, "reordered"))),
        ("the last two swapped", swap(9, 10), Some((9, "reordered"))),
        (
            "a row moved past the end",
            one("UPDATE audit_log SET seq = 99 WHERE seq = 2"),
            Some((2, "reordered")),
        ),
        (
            "a row deleted and the rest renumbered",
            vec![
                "DELETE FROM audit_log WHERE seq = 4".into(),
                "UPDATE audit_log SET seq = seq - 1 WHERE seq > 4".into(),
            ],
            Some((4, "edited")),
        ),
        (
            "the newest rows deleted (undetectable without a checkpoint)",
            one("DELETE FROM audit_log WHERE seq > 6"),
            None,
        ),
    ];
    for (what, statements, expected) in cases {
        let home = seeded(10);
        let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
        sql(home.path(), &statements);
        let expected: Verdict = match expected {
            None => (0, None),
            Some((seq, kind)) => (1, Some((seq, kind.to_string()))),
        };
        assert_eq!(gavel_verify(home.path(), None), expected, "gavel: {what}");
        assert_eq!(python_verify(home.path(), None), expected, "python: {what}");
    }
}

/// Entries removed from the end are found only below a checkpoint; a log
/// cut and written again past it too; gavel and the script agree.
#[test]
fn truncation_is_found_below_a_checkpoint_by_gavel_and_the_script() {
    let home = seeded(8);
    let (op, op_pub) = operator();
    seed_trust(home.path(), &[op_pub]);
    let (_, log) = snapshot(home.path());
    let head = log.last().unwrap().clone();
    let cp = checkpoint_file(home.path(), &op, head.seq, &head.hash);
    assert_eq!(gavel_verify(home.path(), Some(&cp)), (0, None));
    assert_eq!(python_verify(home.path(), Some(&cp)), (0, None));
    sql(
        home.path(),
        &[&format!(
            "DELETE FROM audit_log WHERE seq > {}",
            head.seq - 3
        )],
    );
    let cut = (1, Some((head.seq - 2, "truncated".to_string())));
    assert_eq!(gavel_verify(home.path(), None), (0, None));
    assert_eq!(python_verify(home.path(), None), (0, None));
    assert_eq!(gavel_verify(home.path(), Some(&cp)), cut);
    assert_eq!(python_verify(home.path(), Some(&cp)), cut);
    // Written again past the checkpoint's seq.
    let more: Vec<PublicKey> = (0..5u8)
        .map(|i| {
            PublicKey::new(
                &SigningKey::from_bytes(&[200 + i; 32]).verifying_key(),
                "again",
                "a@example.com",
                vec![],
            )
        })
        .collect();
    seed_trust(home.path(), &more);
    let regrown = (1, Some((head.seq, "truncated".to_string())));
    assert_eq!(gavel_verify(home.path(), Some(&cp)), regrown);
    assert_eq!(python_verify(home.path(), Some(&cp)), regrown);
    // Text output names the seq and the kind.
    let out = gavel_in(
        home.path(),
        &["audit", "verify", "--checkpoint", cp.to_str().unwrap()],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("broken at seq {}: truncated", head.seq)),
        "{text}"
    );
}

/// A checkpoint that is not the operator's is not believed: exit 1, and
/// the chain is still checked; the store is not touched.
#[test]
fn a_checkpoint_not_signed_by_an_operator_key_fails() {
    let home = seeded(3);
    let (op, op_pub) = operator();
    let mut person = op_pub.clone();
    person.roles = vec![Role::Security];
    person.name = "sam".into();
    // The same key trusted without the operator role.
    seed_trust(home.path(), &[person]);
    let (_, log) = snapshot(home.path());
    let head = log.last().unwrap();
    let cp = checkpoint_file(home.path(), &op, head.seq, &head.hash);
    let before = snapshot(home.path());
    let out = gavel_in(
        home.path(),
        &[
            "audit",
            "verify",
            "--checkpoint",
            cp.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&out), 1);
    let v = json(&out);
    assert_eq!(v["valid"], false);
    assert_eq!(v["checkpoint"]["valid"], false);
    assert_eq!(v["checkpoint"]["reason"], "unknown_key");
    assert_eq!(v["first_bad"], Value::Null, "the chain itself is intact");
    assert_eq!(snapshot(home.path()), before);
}

/// Bad input is exit 2 with a JSON error, and changes nothing.
#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let home = seeded(3);
    let not_json = home.path().join("cp.json");
    std::fs::write(&not_json, "{ nope").unwrap();
    let before = snapshot(home.path());
    let missing = home.path().join("missing.json");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["audit", "list", "--limit", "0"], "invalid"),
        (vec!["audit", "list", "--limit", "10001"], "invalid"),
        (vec!["audit", "list", "--since", "yesterday"], "invalid"),
        (vec!["audit", "list", "--until", "2026-02-30"], "invalid"),
        (vec!["audit", "list", "--limit", "many"], "usage"),
        (
            vec!["audit", "verify", "--checkpoint", missing.to_str().unwrap()],
            "unreadable",
        ),
        (
            vec![
                "audit",
                "verify",
                "--checkpoint",
                not_json.to_str().unwrap(),
            ],
            "invalid",
        ),
        (
            vec!["audit", "export", "--out", "/nonexistent-dir/x.jsonl"],
            "unwritable",
        ),
    ];
    for (mut args, expected) in cases {
        args.extend(["--format", "json"]);
        let out = gavel_in(home.path(), &args);
        assert_eq!(code(&out), 2, "{args:?}");
        assert_eq!(json(&out)["error"]["code"], expected, "{args:?}");
        assert_eq!(snapshot(home.path()), before, "{args:?}");
    }
}

/// Without an identity there is nothing a checkpoint could follow (and the
/// operator key would spoil the first identity's bootstrap): refused, exit
/// 1, nothing written, no key made.
#[test]
fn a_checkpoint_of_a_store_without_an_identity_is_refused() {
    let home = seeded(2);
    let before = snapshot(home.path());
    let out = gavel_in(home.path(), &["audit", "checkpoint", "--format", "json"]);
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["error"]["code"], "refused");
    assert_eq!(snapshot(home.path()), before);
}

#[test]
fn list_filters_newest_first_and_export_is_one_stored_entry_a_line() {
    let home = seeded(4);
    let (_, log) = snapshot(home.path());
    let out = gavel_in(home.path(), &["audit", "list", "--format", "json"]);
    assert_eq!(code(&out), 0);
    let listed: Vec<gavel_store::AuditEntry> = serde_json::from_slice(&out.stdout).unwrap();
    let mut newest_first = log.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    let out = gavel_in(
        home.path(),
        &[
            "audit",
            "list",
            "--subject",
            &log[1].subject,
            "--action",
            "key.trust",
            "--actor",
            "test-setup",
            "--since",
            "2000-01-01",
            "--until",
            "2999-01-01T00:00:00Z",
            "--format",
            "json",
        ],
    );
    assert_eq!(json(&out).as_array().unwrap().len(), 1);
    let out = gavel_in(home.path(), &["audit", "list", "--limit", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.lines().next().unwrap().trim_start().starts_with("4 "));
    // Export to standard output: exactly the stored entries, oldest first.
    let out = gavel_in(home.path(), &["audit", "export"]);
    assert_eq!(code(&out), 0);
    let lines: Vec<gavel_store::AuditEntry> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, log);
    let out = gavel_in(
        home.path(),
        &[
            "audit",
            "export",
            "--out",
            home.path().join("e.jsonl").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(json(&out)["entries"], 4);
    assert_eq!(json(&out)["last_seq"], 4);
}

/// The script canonicalizes as Gavel does (RFC 8785: key order by UTF-16
/// code units, ECMAScript numbers, string escapes): the newest entry
/// rewritten with such details and its hash recomputed is, to both, an
/// intact chain; one digit off in the hash is an edit to both.
#[test]
fn the_script_canonicalizes_details_exactly_as_gavel() {
    let details = serde_json::json!({
        "דּ": 1, "😀": 2, "€": 3, "\r": 4, "a": [1.5e300, -0.000001, 1e21, 1e-7, 0.1, 100.0, 123.456],
        "int": 9007199254740992_i64, "neg": -42, "s": "tab\tquote\"back\\ctl\u{1}é", "n": null, "t": true,
        "nested": {"z": [], "y": {}, "x": [false]},
    });
    let text = serde_json::to_string(&details).unwrap();
    for (tweak, expected) in [
        ("", (0, None)),
        ("flip", (1, Some((5, "edited".to_string())))),
    ] {
        let home = seeded(5);
        let (_, log) = snapshot(home.path());
        let last = log.last().unwrap();
        let mut hash = gavel_store::audit::entry_hash(
            &last.prev_hash,
            last.seq,
            &last.at,
            &last.actor,
            &last.action,
            &last.subject,
            &details,
        )
        .unwrap();
        if tweak == "flip" {
            let first = if hash.starts_with('0') { "1" } else { "0" };
            hash.replace_range(0..1, first);
        }
        let stmt = format!(
            "UPDATE audit_log SET details = '{}', hash = '{hash}' WHERE seq = 5",
            text.replace('\'', "''")
        );
        sql(home.path(), &[&stmt]);
        assert_eq!(gavel_verify(home.path(), None), expected, "gavel {tweak}");
        assert_eq!(python_verify(home.path(), None), expected, "python {tweak}");
    }
}
