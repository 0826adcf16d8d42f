//! Against the real OS keychain (Secret Service): generate a key, sign,
//! then verify in fresh processes with the key read back; and after a full
//! key lifecycle, no private key material is in any file under
//! `GAVEL_HOME` or in anything Gavel printed.
//!
//! Runs inside a D-Bus session with an unlocked gnome-keyring (`cargo xtask
//! test` sets that up); it is compiled only with `--features
//! real-keychain-tests`.

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use gavel_console::{Keychain, OsKeychain};

struct Env {
    home: tempfile::TempDir,
    service: String,
}

impl Env {
    fn new() -> Env {
        let service = format!(
            "gavel-test-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        );
        Env {
            home: tempfile::tempdir().unwrap(),
            service,
        }
    }

    fn gavel(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.gavel_env(args, stdin, &[])
    }

    fn gavel_env(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_gavel"))
            .args(args)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .env("GAVEL_HOME", self.home.path())
            .env("GAVEL_KEYCHAIN_SERVICE", &self.service)
            .env_remove("GAVEL_IDENTITY")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            // gavel may exit before reading all of its input (a bad request
            // is refused early): a closed pipe here is its answer, not a
            // failure.
            match pipe.write_all(s.as_bytes()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other.unwrap(),
            }
        }
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.gavel(args, stdin);
        assert!(
            out.status.success(),
            "gavel {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Leave nothing behind in the keychain.
        let kc = OsKeychain::new(&self.service);
        if let Ok(text) = std::fs::read_to_string(self.home.path().join("accounts.txt")) {
            for account in text.lines() {
                let _ = kc.delete(account);
            }
        }
    }
}

/// Every keychain account of the identities in this store, recorded for
/// `Drop` to delete.
fn remember_accounts(env: &Env, extra: &[&str]) {
    let list = json(&env.ok(&["keys", "list", "--format", "json"], None));
    let mut accounts: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["identity"] == true)
        .map(|k| format!("ed25519:{}", k["keyid"].as_str().unwrap()))
        .collect();
    accounts.extend(extra.iter().map(|a| a.to_string()));
    std::fs::write(env.home.path().join("accounts.txt"), accounts.join("\n")).unwrap();
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn keys_live_in_the_real_keychain_and_nowhere_else() {
    let env = Env::new();
    let mut printed = String::new();

    // Process 1: create the identity (private key into the Secret Service).
    let made = json(&env.ok(
        &[
            "keys",
            "gen",
            "--name",
            "alice",
            "--email",
            "alice@example.com",
            "--format",
            "json",
        ],
        None,
    ));
    let keyid = made["public_key"]["keyid"].as_str().unwrap().to_string();
    assert_eq!(made["bootstrap"], true);
    let kc = OsKeychain::new(&env.service);
    let seed = kc
        .get(&format!("ed25519:{keyid}"))
        .unwrap()
        .expect("the private key is in the keychain");
    let seed = seed.expose().clone();
    assert_eq!(seed.len(), 32);
    std::fs::write(
        env.home.path().join("accounts.txt"),
        format!("ed25519:{keyid}\nhmac:team\n"),
    )
    .unwrap();

    // Process 2: sign with the key read back from the keychain.
    let envelope = env.ok(
        &["sign", "--type", "bundle", "fixtures/bundles/budgets.json"],
        None,
    );
    printed.push_str(&envelope);
    let env_path = env.home.path().join("budgets.envelope.json");
    std::fs::write(&env_path, &envelope).unwrap();

    // Process 3: verify against the trust store.
    let v = json(&env.ok(
        &["verify", env_path.to_str().unwrap(), "--format", "json"],
        None,
    ));
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["signers"][0]["keyid"], keyid.as_str());
    assert_eq!(v["signers"][0]["name"], "alice");

    // The rest of the lifecycle: secret, export, trust, rotate, untrust.
    env.ok(&["keys", "secret", "team"], Some("team-secret-value\n"));
    let exported = env.ok(&["keys", "export", "alice"], None);
    printed.push_str(&exported);
    let bob_seed = [9u8; 32];
    let bob = gavel_trust::PublicKey::new(
        &gavel_trust::ed25519::SigningKey::from_bytes(&bob_seed).verifying_key(),
        "bob",
        "bob@example.com",
        vec![],
    );
    let bob_path = env.home.path().join("bob.pub.json");
    std::fs::write(&bob_path, serde_json::to_string(&bob).unwrap()).unwrap();
    printed.push_str(&env.ok(
        &[
            "keys",
            "trust",
            bob_path.to_str().unwrap(),
            "--roles",
            "approver",
        ],
        None,
    ));
    printed.push_str(&env.ok(&["keys", "list", "--format", "json"], None));
    let rotated = json(&env.ok(&["keys", "rotate", "alice", "--format", "json"], None));
    let new_id = rotated["public_key"]["keyid"].as_str().unwrap().to_string();
    std::fs::write(
        env.home.path().join("accounts.txt"),
        format!("ed25519:{keyid}\ned25519:{new_id}\nhmac:team\n"),
    )
    .unwrap();
    let new_seed = kc
        .get(&format!("ed25519:{new_id}"))
        .unwrap()
        .expect("the new key is in the keychain");
    assert!(
        kc.get(&format!("ed25519:{keyid}")).unwrap().is_none(),
        "the retired private key left the keychain"
    );
    printed.push_str(&env.ok(&["keys", "untrust", &bob.keyid.0], None));
    // The retired key still verifies what it signed.
    assert_eq!(
        json(&env.ok(
            &["verify", env_path.to_str().unwrap(), "--format", "json"],
            None
        ))["valid"],
        true
    );

    // No private key material (raw, base64 or hex) in any file under
    // GAVEL_HOME or in anything printed.
    let secrets: Vec<Vec<u8>> = [
        seed.clone(),
        new_seed.expose().clone(),
        b"team-secret-value".to_vec(),
    ]
    .into_iter()
    .flat_map(|s| {
        vec![
            s.clone(),
            base64::engine::general_purpose::STANDARD
                .encode(&s)
                .into_bytes(),
            gavel_trust::hex(&s).into_bytes(),
        ]
    })
    .collect();
    let mut files = Vec::new();
    collect(env.home.path(), &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("gavel.db")),
        "the store is under GAVEL_HOME: {files:?}"
    );
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for s in &secrets {
            assert!(
                !contains(&bytes, s),
                "private material found in {}",
                f.display()
            );
        }
    }
    for s in &secrets {
        assert!(!contains(printed.as_bytes(), s), "private material printed");
    }
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Regression (issue 18): `keys trust` granted the roles a file names and
/// `sign` signed any type for anyone. Against the real keychain: trust
/// without `--roles` gives no roles; `--roles` from a non-security identity
/// is refused; signing and JSON output of the keychain commands.
#[test]
fn trust_and_sign_refuse_what_they_must_with_the_real_keychain() {
    let env = Env::new();
    // alice: the bootstrap identity (every person role); bob: none.
    env.ok(&["keys", "gen", "--name", "alice"], None);
    let bob = json(&env.ok(
        &[
            "keys", "gen", "--name", "bob", "--as", "alice", "--format", "json",
        ],
        None,
    ));
    assert_eq!(bob["public_key"]["roles"], serde_json::json!([]));
    remember_accounts(&env, &["hmac:team"]);

    let mallory = gavel_trust::PublicKey::new(
        &gavel_trust::ed25519::SigningKey::from_bytes(&[77; 32]).verifying_key(),
        "mallory",
        "m@example.com",
        vec![gavel_trust::Role::Security, gavel_trust::Role::Author],
    );
    let file = env.home.path().join("mallory.pub.json");
    std::fs::write(&file, serde_json::to_string(&mallory).unwrap()).unwrap();
    let file = file.to_str().unwrap();

    // Without --roles: trusted with no roles, the file's roles ignored.
    let trusted = json(&env.ok(
        &["keys", "trust", file, "--as", "alice", "--format", "json"],
        None,
    ));
    assert_eq!(trusted[0]["roles"], serde_json::json!([]));
    assert_eq!(
        trusted[0]["ignored_roles"],
        serde_json::json!(["security", "author"])
    );
    // With --roles, by an identity without the security role: refused.
    let out = env.gavel(
        &[
            "keys", "trust", file, "--roles", "approver", "--as", "bob", "--format", "json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        json(&String::from_utf8_lossy(&out.stdout))["error"]["code"],
        "refused"
    );
    let listed = json(&env.ok(&["keys", "list", "--format", "json"], None));
    let m = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "mallory")
        .unwrap();
    assert_eq!(m["roles"], serde_json::json!([]));

    // bob may not sign a bundle (exit 1); alice may, with `--expires-in 2w`.
    let out = env.gavel(
        &[
            "sign",
            "--type",
            "bundle",
            "fixtures/bundles/budgets.json",
            "--as",
            "bob",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let signed = env.ok(
        &[
            "sign",
            "--type",
            "bundle",
            "fixtures/bundles/budgets.json",
            "--as",
            "alice",
            "--expires-in",
            "2w",
            "--format",
            "json",
        ],
        None,
    );
    let path = env.home.path().join("bundle.envelope.json");
    std::fs::write(&path, &signed).unwrap();
    let v = json(&env.ok(
        &["verify", path.to_str().unwrap(), "--format", "json"],
        None,
    ));
    assert_eq!(v["valid"], true, "{v}");
    let seconds = |k: &str| {
        v[k].as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_second()
    };
    assert_eq!(seconds("expires_at") - seconds("issued_at"), 14 * 86_400);

    // GAVEL_IDENTITY= is unset: with two identities, gavel asks which.
    let out = env.gavel_env(
        &[
            "sign",
            "--type",
            "bundle",
            "fixtures/bundles/budgets.json",
            "--format",
            "json",
        ],
        None,
        &[("GAVEL_IDENTITY", "")],
    );
    let e = json(&String::from_utf8_lossy(&out.stdout));
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("several identities"),
        "{e}"
    );
    // `override issue` takes the same durations: a bare number is refused.
    let out = env.gavel(
        &[
            "override",
            "issue",
            "--workflow",
            "wf",
            "--verdict",
            "promote",
            "--reason",
            "Board approved the launch",
            "--as",
            "alice",
            "--expires-in",
            "90",
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        json(&String::from_utf8_lossy(&out.stdout))["error"]["code"],
        "usage"
    );

    // `keys secret` and `keys rotate` under --format json.
    let stored = json(&env.ok(
        &["keys", "secret", "team", "--format", "json"],
        Some("team-secret-value\n"),
    ));
    assert_eq!(
        stored,
        serde_json::json!({"secret": "team", "stored": true})
    );
    let rotated = json(&env.ok(&["keys", "rotate", "bob", "--format", "json"], None));
    assert!(rotated["public_key"]["keyid"].is_string());
    remember_accounts(&env, &["hmac:team"]);
}

/// `gavel bundle export` signs a stored version with the acting identity's
/// key from the keychain (audited as `bundle.export`); the envelope
/// verifies, and imports into another store that trusts the signer as the
/// same version, by digest. An unwritable `--out` changes nothing.
#[test]
fn a_stored_version_exports_signed_and_imports_elsewhere() {
    let env = Env::new();
    env.ok(
        &["keys", "gen", "--name", "alice", "--email", "a@example.com"],
        None,
    );
    remember_accounts(&env, &[]);
    let made = json(&env.ok(
        &[
            "bundle",
            "new",
            "fixtures/bundles/inbox-triage.yaml",
            "--format",
            "json",
        ],
        None,
    ));
    let digest = made["digest"].as_str().unwrap().to_string();
    let out_file = env.home.path().join("inbox.dsse.json");
    let out = out_file.to_str().unwrap();
    let summary = json(&env.ok(
        &[
            "bundle",
            "export",
            &digest[..15],
            "--out",
            out,
            "--expires-in",
            "7d",
            "--format",
            "json",
        ],
        None,
    ));
    assert_eq!(summary["digest"], digest.as_str());
    assert_eq!(summary["out"], out);
    let verified = json(&env.ok(&["verify", out, "--format", "json"], None));
    assert_eq!(verified["valid"], true, "{verified}");
    assert_eq!(verified["signers"][0]["name"], "alice");
    // Without --out, the envelope itself goes to standard output.
    let envelope = json(&env.ok(
        &["bundle", "export", "inbox-triage@1.0.0", "--format", "json"],
        None,
    ));
    assert_eq!(
        envelope["payloadType"],
        "application/vnd.gavel.bundle.v1+json"
    );
    let history = json(&env.ok(
        &["bundle", "history", "inbox-triage", "--format", "json"],
        None,
    ));
    let exports: Vec<&serde_json::Value> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "bundle.export")
        .collect();
    assert_eq!(exports.len(), 2);
    assert_eq!(exports[0]["details"]["digest"], digest.as_str());
    assert_eq!(exports[0]["actor"], "alice");

    // An unwritable --out: refused before anything is signed or recorded.
    let audit_before = history["events"].as_array().unwrap().len();
    let bad = env.gavel(
        &[
            "bundle",
            "export",
            "inbox-triage@1.0.0",
            "--out",
            "/nonexistent/dir/x.json",
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        json(&String::from_utf8_lossy(&bad.stdout))["error"]["code"],
        "unwritable"
    );
    let history = json(&env.ok(
        &["bundle", "history", "inbox-triage", "--format", "json"],
        None,
    ));
    assert_eq!(history["events"].as_array().unwrap().len(), audit_before);

    // Another store, whose security identity trusts alice as an author.
    let other = Env::new();
    other.ok(
        &["keys", "gen", "--name", "bob", "--email", "b@example.com"],
        None,
    );
    remember_accounts(&other, &[]);
    let alice_pub = env.home.path().join("alice.pub.json");
    std::fs::write(&alice_pub, env.ok(&["keys", "export", "alice"], None)).unwrap();
    let refused = other.gavel(&["bundle", "import", out, "--format", "json"], None);
    assert_eq!(refused.status.code(), Some(1), "not trusted yet");
    other.ok(
        &[
            "keys",
            "trust",
            alice_pub.to_str().unwrap(),
            "--roles",
            "author",
            "--as",
            "bob",
        ],
        None,
    );
    let imported = json(&other.ok(&["bundle", "import", out, "--format", "json"], None));
    assert_eq!(imported["digest"], digest.as_str());
    assert_eq!(imported["author"], "alice");
    assert_eq!(imported["provenance"]["imported_by"], "bob");
}

/// The whole log of `env`'s store, oldest first.
fn audit_log(env: &Env) -> Vec<gavel_store::AuditEntry> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store = gavel_store::Store::open(&env.home.path().join("gavel.db"))
                .await
                .unwrap();
            store.audit_page(0, i64::MAX).await.unwrap()
        })
}

/// `audit checkpoint` makes the operator key on first use (in the keychain,
/// trusted with the operator role only, audited as `key.operator`), signs
/// with it, and `audit verify --checkpoint` then finds entries cut from the
/// end, as the Python script does with the same checkpoint.
#[test]
fn a_checkpoint_signed_by_the_operator_key_finds_truncation() {
    let env = Env::new();
    env.ok(
        &["keys", "gen", "--name", "alice", "--email", "a@example.com"],
        None,
    );
    let cp = env.home.path().join("cp.json");
    let made = json(&env.ok(
        &[
            "audit",
            "checkpoint",
            "--out",
            cp.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    ));
    let keyid = made["keyid"].as_str().unwrap().to_string();
    remember_accounts(&env, &[&format!("ed25519:{keyid}")]);
    assert_eq!(made["operator_key_created"], true);
    assert_eq!(
        made["seq"], 2,
        "the newest entry then: the operator key's creation"
    );
    let op = OsKeychain::new(&env.service)
        .get(&format!("ed25519:{keyid}"))
        .unwrap();
    assert!(op.is_some(), "the operator key is in the keychain");
    let keys = json(&env.ok(&["keys", "list", "--format", "json"], None));
    let listed = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["keyid"] == keyid.as_str())
        .unwrap();
    assert_eq!(listed["name"], "operator");
    assert_eq!(listed["roles"], serde_json::json!(["operator"]));
    assert_eq!(listed["identity"], false);
    // A second checkpoint, same key; then more entries after it.
    let again = json(&env.ok(&["audit", "checkpoint", "--format", "json"], None));
    assert_eq!(
        (
            again["keyid"].as_str(),
            again["operator_key_created"].as_bool()
        ),
        (Some(keyid.as_str()), Some(false))
    );
    let cp2 = env.home.path().join("cp2.json");
    std::fs::write(&cp2, again["envelope"].to_string()).unwrap();
    env.ok(&["keys", "gen", "--name", "bob", "--as", "alice"], None);
    remember_accounts(&env, &[&format!("ed25519:{keyid}")]);
    let actions: Vec<String> = audit_log(&env).into_iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            "identity.create",
            "key.operator",
            "audit.checkpoint",
            "audit.checkpoint",
            "identity.create"
        ]
    );
    for file in [&cp, &cp2] {
        let v = json(&env.ok(
            &[
                "audit",
                "verify",
                "--checkpoint",
                file.to_str().unwrap(),
                "--format",
                "json",
            ],
            None,
        ));
        assert_eq!(v["valid"], true, "{v}");
    }
    // Cut the log below the second checkpoint (seq 3).
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let url = format!("sqlite://{}", env.home.path().join("gavel.db").display());
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query("DELETE FROM audit_log WHERE seq >= 3")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        });
    assert!(
        env.gavel(&["audit", "verify"], None).status.success(),
        "undetectable without it"
    );
    let out = env.gavel(
        &[
            "audit",
            "verify",
            "--checkpoint",
            cp2.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(v["first_bad"]["seq"], 3);
    assert_eq!(v["first_bad"]["kind"], "truncated");
    let export = env.home.path().join("audit.jsonl");
    env.ok(
        &["audit", "export", "--out", export.to_str().unwrap()],
        None,
    );
    let py = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/audit_verify.py"))
        .arg(&export)
        .args(["--checkpoint", cp2.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_eq!(py.status.code(), Some(1));
    let p = json(&String::from_utf8_lossy(&py.stdout));
    assert_eq!(
        p["first_bad"],
        v["first_bad"]
            .as_object()
            .map(|b| serde_json::json!({"seq": b["seq"], "kind": b["kind"]}))
            .unwrap()
    );
}

/// Four `gavel` processes at once, each trusting many keys (each an
/// audited write in its own transaction): no write lost, no `seq` twice,
/// and the chain verifies.
#[test]
fn four_processes_writing_audited_changes_at_once_lose_nothing() {
    const PER_PROCESS: u8 = 15;
    let env = Env::new();
    env.ok(
        &["keys", "gen", "--name", "alice", "--email", "a@example.com"],
        None,
    );
    remember_accounts(&env, &[]);
    let files: Vec<Vec<String>> = (0..4u8)
        .map(|p| {
            (0..PER_PROCESS)
                .map(|i| {
                    let seed = [p * PER_PROCESS + i + 1; 32];
                    let key = gavel_trust::PublicKey::new(
                        &gavel_trust::ed25519::SigningKey::from_bytes(&seed).verifying_key(),
                        &format!("p{p}k{i}"),
                        "k@example.com",
                        vec![],
                    );
                    let path = env.home.path().join(format!("p{p}k{i}.json"));
                    std::fs::write(&path, serde_json::to_string(&key).unwrap()).unwrap();
                    path.to_str().unwrap().to_string()
                })
                .collect()
        })
        .collect();
    std::thread::scope(|s| {
        for list in &files {
            let env = &env;
            s.spawn(move || {
                for f in list {
                    let out = env.gavel(&["keys", "trust", f, "--as", "alice"], None);
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            });
        }
    });
    let log = audit_log(&env);
    assert_eq!(log.len(), 1 + 4 * usize::from(PER_PROCESS), "no write lost");
    let seqs: Vec<i64> = log.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=log.len() as i64).collect::<Vec<_>>(),
        "each seq once, no gap"
    );
    let mut subjects: Vec<&str> = log.iter().skip(1).map(|e| e.subject.as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    assert_eq!(
        subjects.len(),
        4 * usize::from(PER_PROCESS),
        "every key's own entry"
    );
    let v = json(&env.ok(&["audit", "verify", "--format", "json"], None));
    assert_eq!(v["valid"], true, "{v}");
}

/// Counts and the audit chain of a store, read directly: what a refusal
/// must leave as it was.
fn store_state(home: &Path) -> (usize, usize, Vec<gavel_store::AuditEntry>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = gavel_store::Store::open(&home.join("gavel.db"))
            .await
            .unwrap();
        (
            s.identities().await.unwrap().len(),
            s.keys().await.unwrap().len(),
            s.audit_page(0, 100_000).await.unwrap(),
        )
    })
}

/// DESIGN §11.3 and issue 19: a key backed up with `keys backup` and
/// restored into a fresh keychain service and a fresh `GAVEL_HOME` signs
/// envelopes that verify under the original key id; the passphrase is in
/// no output and no file under either home; a wrong passphrase is refused
/// and changes nothing.
#[test]
fn a_backed_up_key_restored_on_a_fresh_keychain_signs_as_the_original() {
    const PASSPHRASE: &str = "zebra-quartz-7781-marmalade";
    let original = Env::new();
    let fresh = Env::new();
    let outside = tempfile::tempdir().unwrap();
    let file = |name: &str| outside.path().join(name).to_str().unwrap().to_string();
    let mut printed = String::new();
    let mut run = |env: &Env, args: &[&str]| {
        let out = env.gavel(args, None);
        printed.push_str(&String::from_utf8_lossy(&out.stdout));
        printed.push_str(&String::from_utf8_lossy(&out.stderr));
        out
    };

    let made = json(&original.ok(
        &[
            "keys",
            "gen",
            "--name",
            "alice",
            "--email",
            "alice@example.com",
            "--format",
            "json",
        ],
        None,
    ));
    let keyid = made["public_key"]["keyid"].as_str().unwrap().to_string();
    remember_accounts(&original, &[]);
    std::fs::write(
        file("alice.pub.json"),
        original.ok(&["keys", "export", "alice"], None),
    )
    .unwrap();
    std::fs::write(file("pass.txt"), format!("  {PASSPHRASE}\n")).unwrap();
    std::fs::write(file("wrong.txt"), "not-the-passphrase").unwrap();
    let before_sig = original.ok(
        &["sign", "--type", "bundle", "fixtures/bundles/budgets.json"],
        None,
    );

    let out = run(
        &original,
        &[
            "keys",
            "backup",
            "alice",
            "--out",
            &file("alice.key.age"),
            "--passphrase-file",
            &file("pass.txt"),
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let backed = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(backed["public_key"]["keyid"], keyid.as_str());
    let armored = std::fs::read_to_string(file("alice.key.age")).unwrap();
    assert!(
        armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "{armored}"
    );
    // A second backup to the same file is refused; the first stays.
    let out = run(
        &original,
        &[
            "keys",
            "backup",
            "alice",
            "--out",
            &file("alice.key.age"),
            "--passphrase-file",
            &file("pass.txt"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(file("alice.key.age")).unwrap(),
        armored
    );

    // A wrong passphrase: exit 2 `bad_passphrase`, nothing changed (the
    // fresh store's tables and audit chain, the fresh keychain).
    let fresh_kc = OsKeychain::new(&fresh.service);
    let before = store_state(fresh.home.path());
    let out = run(
        &fresh,
        &[
            "keys",
            "restore",
            &file("alice.key.age"),
            "--passphrase-file",
            &file("wrong.txt"),
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(err["error"]["code"], "bad_passphrase", "{err}");
    assert_eq!(store_state(fresh.home.path()), before);
    assert!(fresh_kc.get(&format!("ed25519:{keyid}")).unwrap().is_none());

    // The right one: the identity in the fresh store (the bootstrap, with
    // the roles it had), its key in the fresh keychain.
    let out = run(
        &fresh,
        &[
            "keys",
            "restore",
            &file("alice.key.age"),
            "--passphrase-file",
            &file("pass.txt"),
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    remember_accounts(&fresh, &[]);
    let restored = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(restored["public_key"]["keyid"], keyid.as_str());
    assert_eq!(restored["identity_added"], true);
    assert_eq!(restored["bootstrap"], true);
    assert_eq!(restored["public_key"]["roles"], made["public_key"]["roles"]);
    let (_, _, log) = store_state(fresh.home.path());
    assert_eq!(
        log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["key.restore"]
    );

    // Signed there, verified with the original public key only.
    let sig = fresh.ok(
        &["sign", "--type", "bundle", "fixtures/bundles/budgets.json"],
        None,
    );
    for (name, envelope) in [("after.dsse.json", &sig), ("before.dsse.json", &before_sig)] {
        std::fs::write(file(name), envelope).unwrap();
        let v = json(&fresh.ok(
            &[
                "verify",
                &file(name),
                "--key",
                &file("alice.pub.json"),
                "--format",
                "json",
            ],
            None,
        ));
        assert_eq!(v["valid"], true, "{v}");
        assert_eq!(v["signers"][0]["keyid"], keyid.as_str());
    }

    // Restoring where the identity already is: nothing added.
    let out = run(
        &original,
        &[
            "keys",
            "restore",
            &file("alice.key.age"),
            "--passphrase-file",
            &file("pass.txt"),
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        json(&String::from_utf8_lossy(&out.stdout))["identity_added"],
        false
    );

    // The passphrase: in no output, no file under either home.
    assert!(!printed.contains(PASSPHRASE), "the passphrase was printed");
    for env in [&original, &fresh] {
        let mut files = Vec::new();
        collect(env.home.path(), &mut files);
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            assert!(
                !contains(&bytes, PASSPHRASE.as_bytes()),
                "the passphrase is in {}",
                f.display()
            );
        }
    }
    assert!(!armored.contains(PASSPHRASE));
}
