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
            s.audit_entries(0, 100_000).await.unwrap(),
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
