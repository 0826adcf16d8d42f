//! The `gavel` binary end to end: exit codes, JSON contracts, and bad input
//! that must give a located error with exit 2, never a panic.

mod audit;
mod bundles;
mod canary;
mod crash;
mod governance;
mod keys;
mod lint;
mod migrate;
mod runs;
mod sim;
mod versions;

use std::io::Write;
pub(crate) use std::path::{Path, PathBuf};
pub(crate) use std::process::{Command, Output, Stdio};

pub(crate) use serde_json::Value;

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The gavel binary with a `GAVEL_HOME` of this test process's own, so a
/// test never reads or writes the data directory of whoever runs it (a
/// store left there by another version broke a run once). It lives under
/// cargo's scratch directory for tests, which `cargo clean` empties.
pub(crate) fn bin() -> Command {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let home = HOME.get_or_init(|| tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gavel"));
    cmd.env("GAVEL_HOME", home.path().join("home"))
        .env_remove("GAVEL_IDENTITY");
    cmd
}

pub(crate) fn gavel(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = bin()
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        // gavel may exit before reading all of its input (a bad request is
        // refused early): a closed pipe here is its answer, not a failure.
        match pipe.write_all(s.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
    }
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "gavel panicked:\n{stderr}");
    out
}

pub(crate) fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

pub(crate) fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs `validate --format json` on `text` and returns the error object.
pub(crate) fn validate_error(dir: &Path, name: &str, text: &[u8]) -> Value {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out = gavel(
        &["validate", path.to_str().unwrap(), "--format", "json"],
        None,
    );
    assert_eq!(
        code(&out),
        2,
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.stderr.is_empty(),
        "{name}: the message also goes to stderr"
    );
    json(&out)["error"].clone()
}

/// Runs gavel with its own GAVEL_HOME (a store, no keychain needed).
pub(crate) fn gavel_in(home: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(args)
        .current_dir(root())
        .env("GAVEL_HOME", home)
        .env_remove("GAVEL_IDENTITY")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    out
}

/// Puts keys with their roles straight into the store of `home`, as a
/// security identity of that store would have trusted them (the CLI grants
/// roles only to a security identity, whose key lives in the keychain).
pub(crate) fn seed_trust(home: &Path, keys: &[gavel_trust::PublicKey]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = gavel_store::Store::open(&home.join("gavel.db"))
            .await
            .unwrap();
        for k in keys {
            store.trust(k, Some("test-setup")).await.unwrap();
        }
    });
}

#[derive(Debug)]
pub(crate) struct Governance {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) security: gavel_trust::ed25519::SigningKey,
}

impl Governance {
    /// A store that trusts one security key and one analyst key.
    pub(crate) fn new() -> Governance {
        let dir = tempfile::tempdir().unwrap();
        let security = gavel_trust::ed25519::SigningKey::from_bytes(&[21; 32]);
        let analyst = gavel_trust::ed25519::SigningKey::from_bytes(&[22; 32]);
        let g = Governance { dir, security };
        // A new store takes its first keys from a trust store export.
        let keys: Vec<gavel_trust::PublicKey> = [
            (&g.security, "sam", gavel_trust::Role::Security),
            (&analyst, "ann", gavel_trust::Role::Analyst),
        ]
        .into_iter()
        .map(|(k, name, role)| {
            gavel_trust::PublicKey::new(&k.verifying_key(), name, "x@example.com", vec![role])
        })
        .collect();
        seed_trust(g.home(), &keys);
        g
    }

    pub(crate) fn home(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    pub(crate) fn override_file(
        &self,
        name: &str,
        key: &gavel_trust::ed25519::SigningKey,
        workflow: &str,
        verdict: &str,
        expires_in: i64,
    ) -> String {
        let now = jiff::Timestamp::now().as_second();
        let t = |s: i64| gavel_trust::rfc3339(jiff::Timestamp::from_second(s).unwrap());
        let payload = serde_json::json!({
            "id": format!("ovr-{name}"), "workflow_id": workflow,
            "flags": {"bypass_micro_pilot": false, "forced_verdict": verdict},
            "reason": "Board approved the launch", "issued_by": "sam",
            "issued_at": t(now - 3600), "expires_at": t(now + expires_in),
        });
        let env =
            gavel_trust::sign_dsse("application/vnd.gavel.override.v1+json", &payload, &[key])
                .unwrap();
        let f = self.path(&format!("{name}.json"));
        std::fs::write(&f, serde_json::to_string(&env).unwrap()).unwrap();
        f
    }

    pub(crate) fn eval(&self, card: &str, extra: &[&str]) -> (i32, Vec<serde_json::Value>) {
        let policy = self.path("policy.yaml");
        if !Path::new(&policy).exists() {
            std::fs::write(&policy, "raroi_threshold: 1.0\nrules: []\n").unwrap();
        }
        let c = self.path("card.json");
        std::fs::write(&c, card).unwrap();
        let mut args = vec![
            "scorecard",
            "eval",
            c.as_str(),
            "--policy",
            policy.as_str(),
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = gavel_in(self.home(), &args);
        let lines = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (code(&out), lines)
    }
}
