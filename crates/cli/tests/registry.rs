//! `gavel registry`, `bundle bind`, `push` and `pull` through the binary,
//! with the real OS keychain and a real registry on loopback: the author
//! pushes (what `--dry-run` lists, then what skopeo reads), a teammate who
//! trusts her pulls a verified version, one who does not is refused with
//! nothing stored, and a registry that is down fails with advice.
//!
//! Runs as the `keychain` test does (a D-Bus session with an unlocked
//! gnome-keyring); compiled only with `--features real-keychain-tests`.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use gavel_console::{Keychain, OsKeychain};
use gavel_registry::testing::{LoopbackRegistry, free_port};
use serde_json::Value;

struct Home {
    dir: tempfile::TempDir,
    service: String,
    accounts: std::cell::RefCell<Vec<String>>,
}

impl Home {
    fn new(who: &str) -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
            service: format!(
                "gavel-registry-test-{who}-{}-{}",
                std::process::id(),
                jiff::Timestamp::now().as_nanosecond()
            ),
            accounts: std::cell::RefCell::new(Vec::new()),
        }
    }

    fn gavel(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_gavel"))
            .args(args)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .env("GAVEL_HOME", self.dir.path())
            .env("GAVEL_KEYCHAIN_SERVICE", &self.service)
            .env_remove("GAVEL_IDENTITY")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str], code: i32) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let out = self.gavel(&all);
        assert_eq!(
            out.status.code(),
            Some(code),
            "gavel {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// An identity (its keychain account removed when the test ends).
    fn identity(&self, who: &str) -> String {
        let made = self.json(
            &["keys", "gen", "--name", who, "--email", "x@example.com"],
            0,
        );
        let keyid = made["public_key"]["keyid"].as_str().unwrap().to_string();
        self.accounts.borrow_mut().push(format!("ed25519:{keyid}"));
        let key = self.dir.path().join(format!("{who}.pub.json"));
        let out = self.gavel(&["keys", "export", who]);
        std::fs::write(&key, out.stdout).unwrap();
        key.display().to_string()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let kc = OsKeychain::new(&self.service);
        for a in self.accounts.borrow().iter() {
            let _ = kc.delete(a);
        }
    }
}

fn skopeo_raw(url: &str) -> Value {
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw", url])
        .output()
        .expect("skopeo runs (cargo xtask installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_team_pushes_and_pulls_through_its_registry() {
    let reg = LoopbackRegistry::start();
    let url = reg.url("policies");
    let author = Home::new("alice");
    let alice_key = author.identity("alice");
    author.json(&["init", "--examples"], 0);
    author.json(&["registry", "add", "team", &url], 0);
    author.json(&["bundle", "bind", "inbox-triage", "team"], 0);

    let dry = author.json(&["push", "inbox-triage@1.0.0", "--dry-run"], 0);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["artifacts"][0]["tag"], "1.0.0");
    let pushed = author.json(&["push", "inbox-triage@1.0.0"], 0);
    let digest = pushed["digest"].as_str().unwrap();
    let base = format!("docker://127.0.0.1:{}/policies/inbox-triage", reg.port);
    let raw = skopeo_raw(&format!("{base}:1.0.0"));
    assert_eq!(raw["artifactType"], "application/vnd.gavel.bundle.v1");
    assert_eq!(raw["layers"][0]["digest"], digest);
    let sig_tag = pushed["artifacts"][1]["tag"].as_str().unwrap();
    let sig = skopeo_raw(&format!("{base}:{sig_tag}"));
    assert_eq!(
        sig["layers"][0]["mediaType"],
        "application/vnd.dsse.envelope.v1+json"
    );
    let text = author.gavel(&["push", "inbox-triage@1.0.0"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("unchanged"));

    // A teammate who trusts alice as an author pulls a verified version.
    let mate = Home::new("bob");
    mate.identity("bob");
    mate.json(&["keys", "trust", &alice_key, "--roles", "author"], 0);
    mate.json(&["registry", "add", "team", &url], 0);
    mate.json(&["bundle", "bind", "inbox-triage", "team"], 0);
    let pulled = mate.json(&["pull", "inbox-triage@1.0.0"], 0);
    assert_eq!(pulled["digest"], digest);
    // The author's console's operator key travels by file too.
    let operator = author.dir.path().join("operator.pub.json");
    let out = author.gavel(&["keys", "export", "--operator"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&operator, &out.stdout).unwrap();
    let trusted = mate.json(
        &[
            "keys",
            "trust",
            &operator.display().to_string(),
            "--roles",
            "operator",
        ],
        0,
    );
    assert_eq!(
        trusted[0]["roles"],
        serde_json::json!(["operator"]),
        "{trusted}"
    );

    // One who does not trust her is refused; nothing is stored.
    let stranger = Home::new("carol");
    stranger.identity("carol");
    stranger.json(&["registry", "add", "team", &url], 0);
    stranger.json(&["bundle", "bind", "inbox-triage", "team"], 0);
    let refused = stranger.json(&["pull", "inbox-triage@1.0.0"], 1);
    assert_eq!(refused["error"]["code"], "registry_refused");
    let synced = stranger.json(&["sync"], 1);
    assert_eq!(synced[0]["problems"][0]["tag"], "1.0.0", "{synced}");
    let listed = stranger.json(&["bundle", "list"], 0);
    assert_eq!(
        listed["versions"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );

    // The author publishes the trust document; skopeo reads it, and the
    // stranger's console, which trusts no security key of hers, lists it
    // and follows nothing.
    let trust = author.json(&["trust", "publish"], 0);
    assert_eq!(
        (&trust["version"], &trust["quorum"], &trust["complete"]),
        (&Value::from(1), &Value::from(1), &Value::from(true)),
        "{trust}"
    );
    assert_eq!(trust["published"][0], "policies/inbox-triage:trust");
    let raw = skopeo_raw(&format!("{base}:trust"));
    assert_eq!(raw["artifactType"], "application/vnd.gavel.trust.v1");
    let synced = stranger.json(&["sync"], 1);
    let problems = synced[0]["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p["tag"] == "trust"
            && p["reason"]
                .as_str()
                .unwrap()
                .contains("no security key trusted here")),
        "{synced}"
    );

    // A registry that is down: exit 2 with advice.
    author.json(
        &[
            "registry",
            "add",
            "down",
            &format!("oci+http://127.0.0.1:{}/x", free_port()),
        ],
        0,
    );
    author.json(&["bundle", "bind", "budgets", "down"], 0);
    let out = author.gavel(&["push", "budgets@0.9.0"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot be reached") && stderr.contains("try again"),
        "{stderr}"
    );
}

/// A registry behind bearer tokens: `registry add --username` reads the
/// password from standard input into the OS keychain (never the store), and
/// a push authenticates with it; a wrong one is refused with its code.
#[test]
fn credentials_go_to_the_keychain_and_authenticate_pushes() {
    use std::io::Write as _;
    let reg = LoopbackRegistry::start_with(gavel_registry::testing::Auth::Token {
        username: "alice".into(),
        password: "keychain-pass".into(),
    });
    let url = reg.url("policies");
    let author = Home::new("alice-auth");
    author.identity("alice");
    author.json(&["init", "--examples"], 0);
    author
        .accounts
        .borrow_mut()
        .push("registry:secure".to_string());
    let mut child = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(["registry", "add", "secure", &url, "--username", "alice"])
        .env("GAVEL_HOME", author.dir.path())
        .env("GAVEL_KEYCHAIN_SERVICE", &author.service)
        .env_remove("GAVEL_IDENTITY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"keychain-pass\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kc = OsKeychain::new(&author.service);
    assert!(kc.get("registry:secure").unwrap().is_some());
    let db = std::fs::read(author.dir.path().join("gavel.db")).unwrap();
    assert!(
        !db.windows(b"keychain-pass".len())
            .any(|w| w == b"keychain-pass"),
        "the password must not be in the store"
    );
    author.json(&["bundle", "bind", "inbox-triage", "secure"], 0);
    let pushed = author.json(&["push", "inbox-triage@1.0.0"], 0);
    assert_eq!(pushed["artifacts"][0]["tag"], "1.0.0", "{pushed}");
    assert!(reg.tokens_issued() >= 1);

    // Without the right password: refused, with its code.
    kc.set(
        "registry:secure",
        &gavel_trust::Sensitive::new(b"wrong".to_vec()),
    )
    .unwrap();
    let refused = author.json(&["push", "inbox-triage@1.0.0"], 2);
    assert_eq!(
        refused["error"]["code"], "registry_unauthorized",
        "{refused}"
    );
}
