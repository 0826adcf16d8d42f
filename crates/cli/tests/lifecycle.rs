//! The lifecycle of a version (DESIGN §7, §11.8, §11.9) end to end through
//! the real `gavel` binary and the real OS keychain (Secret Service), as
//! issue 20 asks of it: the whole path from draft to canary, promotion,
//! rollback and incident with the JSON contracts and exit codes of §11.1
//! (every refusal exit 1 with its code, changing no row and no audit
//! entry); two `gavel` processes at once (both approvals kept, one
//! activation, one promotion step, serials never repeated; a rejection
//! and an activation never both succeed); and `gavel` killed with SIGKILL
//! at random points of a few hundred lifecycle operations, after each of
//! which the store opens and holds no half-done change (serials 1..n,
//! every rollout and approval row with its one audit entry and no entry
//! without its row, deployment states that match the newest rollout,
//! every successful approval kept, a chain that verifies).
//!
//! Each test has its own `GAVEL_HOME` and keychain service, whose entries
//! are deleted when the test ends. Runs inside a D-Bus session with an
//! unlocked gnome-keyring (`cargo xtask test` sets that up); compiled only
//! with `--features real-keychain-tests`. The console-level tests of the
//! same flows, with an in-memory keychain, are `gavel-console`'s
//! `tests/lifecycle.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use gavel_console::{Keychain, OsKeychain};
use serde_json::{Value, json};
use sqlx::Row;

// ---------------------------------------------------------------------------
// The harness: a home, a keychain service, and `gavel` run in them.
// ---------------------------------------------------------------------------

/// A `GAVEL_HOME` and a keychain service of this test's own, plus a folder
/// for the files the test writes (bundles, metrics, envelopes).
struct Env {
    home: tempfile::TempDir,
    files: tempfile::TempDir,
    service: String,
}

impl Env {
    fn new() -> Env {
        Env {
            home: tempfile::tempdir().unwrap(),
            files: tempfile::tempdir().unwrap(),
            service: format!(
                "gavel-lifecycle-{}-{}",
                std::process::id(),
                jiff::Timestamp::now().as_nanosecond()
            ),
        }
    }

    fn db(&self) -> PathBuf {
        self.home.path().join("gavel.db")
    }

    /// Writes a file for `gavel` to read; its path.
    fn write(&self, name: &str, text: &str) -> String {
        let path = self.files.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// `gavel ARGS --format json` in this home, from the repository root
    /// (so that `fixtures/…` paths work).
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gavel"));
        cmd.args(args)
            .args(["--format", "json"])
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .env("GAVEL_HOME", self.home.path())
            .env("GAVEL_KEYCHAIN_SERVICE", &self.service)
            .env_remove("GAVEL_IDENTITY")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked"),
            "gavel {args:?} panicked:\n{stderr}"
        );
        out
    }

    /// Runs a command that must succeed; its JSON.
    fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "gavel {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        json_of(&out, args)
    }

    /// Runs a command that must exit `exit` with the error `code`; the
    /// error's message.
    fn fails(&self, args: &[&str], exit: i32, code: &str) -> String {
        let out = self.run(args);
        let v = json_of(&out, args);
        assert_eq!(
            (out.status.code(), v["error"]["code"].as_str()),
            (Some(exit), Some(code)),
            "gavel {args:?}: expected exit {exit} `{code}`, got {v}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let message = v["error"]["message"].as_str().unwrap().to_string();
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&message),
            "the message is on stderr too: {args:?}"
        );
        message
    }

    /// Runs a command that must be refused (exit 1, `code`) and change no
    /// row of any table and no audit entry; the error's message.
    fn refused(&self, args: &[&str], code: &str) -> String {
        let before = snapshot(&self.db());
        let message = self.fails(args, 1, code);
        assert_eq!(
            snapshot(&self.db()),
            before,
            "the refusal of gavel {args:?} ({code}) wrote to the store"
        );
        message
    }

    /// The key id of every key the store trusts (identities and the
    /// operator key).
    fn keyids(&self) -> Vec<String> {
        if !self.db().exists() {
            return Vec::new();
        }
        block_on(async {
            let pool = pool(&self.db()).await;
            let ids = sqlx::query_scalar("SELECT keyid FROM trusted_keys")
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
            pool.close().await;
            ids
        })
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Leave nothing behind in the keychain: every key the store knows,
        // then (where `secret-tool` is installed) whatever else is under
        // this service, such as an operator key whose creation was killed
        // before the store recorded it.
        let kc = OsKeychain::new(&self.service);
        for id in self.keyids() {
            let _ = kc.delete(&format!("ed25519:{id}"));
        }
        let _ = Command::new("secret-tool")
            .args(["clear", "service", &self.service])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn json_of(out: &Output, args: &[&str]) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "gavel {args:?}: stdout is not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

async fn pool(db: &Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap_or_else(|e| panic!("the store {} does not open: {e}", db.display()))
}

/// Every row of every table (the audit chain included), as text: what a
/// refusal must leave exactly as it was.
fn snapshot(db: &Path) -> Vec<String> {
    block_on(async {
        let pool = pool(db).await;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let mut out = Vec::new();
        for table in tables {
            for r in sqlx::query(&format!("SELECT * FROM \"{table}\" ORDER BY 1"))
                .fetch_all(&pool)
                .await
                .unwrap()
            {
                let cells: Vec<String> = (0..r.len()).map(|i| cell(&r, i)).collect();
                out.push(format!("{table}: {}", cells.join(" | ")));
            }
        }
        pool.close().await;
        out
    })
}

fn cell(r: &sqlx::sqlite::SqliteRow, i: usize) -> String {
    if let Ok(v) = r.try_get::<Option<String>, _>(i) {
        return v.unwrap_or_else(|| "NULL".into());
    }
    if let Ok(Some(n)) = r.try_get::<Option<i64>, _>(i) {
        return n.to_string();
    }
    if let Ok(Some(x)) = r.try_get::<Option<f64>, _>(i) {
        return x.to_string();
    }
    r.try_get::<Option<Vec<u8>>, _>(i)
        .ok()
        .flatten()
        .map_or_else(|| "?".into(), |b| format!("{b:?}"))
}

/// The lines of `after` not in `before` (a multiset difference).
fn added(before: &[String], after: &[String]) -> Vec<String> {
    let mut left: Vec<&String> = before.iter().collect();
    let mut out = Vec::new();
    for line in after {
        match left.iter().position(|l| *l == line) {
            Some(i) => {
                left.swap_remove(i);
            }
            None => out.push(line.clone()),
        }
    }
    assert!(left.is_empty(), "rows disappeared: {left:?}");
    out
}

/// The payload of a DSSE envelope, decoded.
fn payload(envelope: &Value) -> Value {
    let b64 = envelope["payload"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The audit actions in order, oldest first.
fn audit_actions(db: &Path) -> Vec<String> {
    block_on(async {
        let pool = pool(db).await;
        let a = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        a
    })
}

/// alice (the bootstrap identity: every person role, so she authors), and
/// `approvers` with the approver role only, granted by alice. Their key
/// ids by name.
fn team(env: &Env, approvers: &[&str]) -> BTreeMap<String, String> {
    let alice = env.ok(&[
        "keys",
        "gen",
        "--name",
        "alice",
        "--email",
        "alice@example.com",
    ]);
    assert_eq!(alice["bootstrap"], true, "{alice}");
    assert_eq!(
        alice["public_key"]["roles"],
        json!(["author", "approver", "analyst", "security"]),
        "the first identity has every person role"
    );
    let mut ids = BTreeMap::new();
    ids.insert(
        "alice".to_string(),
        alice["public_key"]["keyid"].as_str().unwrap().to_string(),
    );
    for name in approvers {
        let email = format!("{name}@example.com");
        let k = env.ok(&[
            "keys", "gen", "--name", name, "--email", &email, "--roles", "approver", "--as",
            "alice",
        ]);
        assert_eq!(
            (&k["bootstrap"], &k["public_key"]["roles"]),
            (&json!(false), &json!(["approver"])),
            "{k}"
        );
        ids.insert(
            name.to_string(),
            k["public_key"]["keyid"].as_str().unwrap().to_string(),
        );
    }
    ids
}

/// A canary's counters (§11.8) with the stable version's beside them.
fn metrics(total: u64, errors: u64, denies: u64, stable_errors: u64) -> String {
    json!({
        "total_decisions": total, "error_count": errors, "deny_count": denies,
        "baseline_avg_cost": 1.0, "canary_avg_cost": 1.0,
        "stable": {"total_decisions": total, "error_count": stable_errors,
                   "deny_count": denies, "no_match_count": 0},
    })
    .to_string()
}

/// Metrics every gate passes.
fn passing() -> String {
    metrics(1000, 10, 100, 10)
}

/// Metrics over §7's automatic-rollback threshold (error rate 20% > 10%).
fn tripping() -> String {
    metrics(200, 40, 10, 1)
}

// ---------------------------------------------------------------------------
// 1. The whole path.
// ---------------------------------------------------------------------------

/// From draft to active and back, through `gavel` with keys in the real
/// keychain: quorum in prod (2 distinct approvers, never the author), the
/// first version straight to 100%, the second as a 10% canary whose signed
/// rollout document verifies under the operator key, promotion held by the
/// bake time then 10 → 50 → 100, rollback to the first version with an
/// incident, its resolution, `status`, and an audit chain that verifies.
/// Every refusal on the way exits 1 with its code and changes nothing.
#[test]
fn a_version_goes_from_draft_to_canary_to_active_and_back_through_gavel() {
    let env = Env::new();
    let ids = team(&env, &["bob", "carol"]);
    let (r1, r2, r3) = (
        "inbox-triage@1.0.0",
        "inbox-triage@1.1.0",
        "inbox-triage@1.2.0",
    );

    // The first version: a draft, then submitted.
    let v1 = env.ok(&[
        "bundle",
        "new",
        "fixtures/bundles/inbox-triage.yaml",
        "--as",
        "alice",
    ]);
    assert_eq!(
        (&v1["reference"], &v1["status"], &v1["author"]),
        (&json!(r1), &json!("draft"), &json!("alice")),
        "{v1}"
    );
    let d1 = v1["digest"].as_str().unwrap().to_string();
    env.refused(
        &[
            "approve",
            r1,
            "--env",
            "prod",
            "--comment",
            "looks right",
            "--as",
            "bob",
        ],
        "not_submitted",
    );
    let submitted = env.ok(&["submit", r1, "--as", "alice"]);
    assert_eq!(submitted, json!({"reference": r1, "digest": d1}));
    env.refused(&["submit", r1, "--as", "alice"], "not_a_draft");

    // Refusals before any approval: the author; a rejection without a
    // reason; an identity that is not an approver is covered by the
    // console tests.
    let m = env.refused(
        &[
            "approve",
            r1,
            "--env",
            "prod",
            "--comment",
            "my own work",
            "--as",
            "alice",
        ],
        "author_cannot_approve",
    );
    assert!(m.contains("`alice` is the author"), "{m}");
    let m = env.refused(
        &[
            "reject",
            r1,
            "--env",
            "prod",
            "--comment",
            "too short",
            "--as",
            "bob",
        ],
        "comment_required",
    );
    assert!(m.contains("at least 10 characters"), "{m}");

    // bob approves for prod: a signed approval.v1 with its evidence.
    let a = env.ok(&[
        "approve",
        r1,
        "--env",
        "prod",
        "--comment",
        "diff reviewed, fine",
        "--as",
        "bob",
    ]);
    for (field, want) in [
        ("reference", json!(r1)),
        ("digest", json!(d1)),
        ("environment", json!("prod")),
        ("decision", json!("approve")),
        ("approver", json!("bob")),
        ("keyid", json!(ids["bob"])),
        ("comment", json!("diff reviewed, fine")),
        ("state", json!("pending")),
        ("approvals", json!(1)),
        ("required", json!(2)),
    ] {
        assert_eq!(a[field], want, "approve JSON `{field}`: {a}");
    }
    assert_eq!(a["evidence"]["lint"]["errors"], 0, "{a}");
    assert!(a["evidence"]["impact"]["deny_to_allow"].is_u64(), "{a}");
    let file = env.write("approval.json", &a["envelope"].to_string());
    let v = env.ok(&["verify", &file]);
    assert_eq!(
        (
            &v["valid"],
            &v["payload_type"],
            &v["signers"][0]["name"],
            &v["signers"][0]["keyid"]
        ),
        (
            &json!(true),
            &json!("application/vnd.gavel.approval.v1+json"),
            &json!("bob"),
            &json!(ids["bob"])
        ),
        "{v}"
    );
    let p = payload(&a["envelope"]);
    assert_eq!(
        (&p["digest"], &p["environment"], &p["base_digest"]),
        (&json!(d1), &json!("prod"), &Value::Null),
        "{p}"
    );

    // The same key twice, either way: refused.
    env.refused(
        &[
            "approve",
            r1,
            "--env",
            "prod",
            "--comment",
            "again",
            "--as",
            "bob",
        ],
        "already_decided",
    );
    env.refused(
        &[
            "reject",
            r1,
            "--env",
            "prod",
            "--comment",
            "changed my mind after all",
            "--as",
            "bob",
        ],
        "already_decided",
    );

    // One approval of two: activation is refused and says who must act.
    let m = env.refused(
        &["activate", r1, "--env", "prod", "--as", "alice"],
        "quorum_not_met",
    );
    assert!(
        m.contains("has 1 valid approval for prod and needs 2")
            && m.contains("1 more approver must run `gavel approve inbox-triage@1.0.0 --env prod`"),
        "{m}"
    );

    let a = env.ok(&[
        "approve",
        r1,
        "--env",
        "prod",
        "--comment",
        "fine by me too",
        "--as",
        "carol",
    ]);
    assert_eq!(
        (&a["state"], &a["approvals"], &a["required"]),
        (&json!("approved"), &json!(2), &json!(2)),
        "{a}"
    );

    // A stale expectation: nothing is active, not `sha256:00000000`.
    let m = env.refused(
        &[
            "activate",
            r1,
            "--env",
            "prod",
            "--expect-active",
            "sha256:00000000",
            "--as",
            "alice",
        ],
        "stale_state",
    );
    assert!(m.contains("the active version is none"), "{m}");

    // Nothing active: straight to 100%, serial 1.
    let t1 = env.ok(&[
        "activate",
        r1,
        "--env",
        "prod",
        "--expect-active",
        "none",
        "--expect-canary",
        "none",
        "--as",
        "alice",
    ]);
    assert_eq!(t1["action"], "activate", "{t1}");
    let r = &t1["rollout"];
    assert_eq!(
        (
            &r["bundle"],
            &r["environment"],
            &r["serial"],
            &r["active"]["reference"],
            &r["active"]["digest"],
            &r["canary"]
        ),
        (
            &json!("inbox-triage"),
            &json!("prod"),
            &json!(1),
            &json!(r1),
            &json!(d1),
            &Value::Null
        ),
        "{t1}"
    );
    let first_activated = r["active"]["activated_at"].clone();

    // The second version, approved by both.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bundles/inbox-triage.yaml"),
    )
    .unwrap();
    let versioned = |v: &str| text.replacen("version: 1.0.0", &format!("version: {v}"), 1);
    let d2 = env.ok(&[
        "bundle",
        "new",
        &env.write("v2.yaml", &versioned("1.1.0")),
        "--as",
        "alice",
    ])["digest"]
        .as_str()
        .unwrap()
        .to_string();
    env.ok(&["submit", r2, "--as", "alice"]);
    for who in ["bob", "carol"] {
        env.ok(&[
            "approve",
            r2,
            "--env",
            "prod",
            "--comment",
            "second version reviewed",
            "--as",
            who,
        ]);
    }
    // Expecting the wrong active version (the new one): refused.
    let m = env.refused(
        &[
            "activate",
            r2,
            "--env",
            "prod",
            "--expect-active",
            &d2[..15],
            "--as",
            "alice",
        ],
        "stale_state",
    );
    assert!(m.contains(&d1), "the message names what is active: {m}");

    // A version is active: a canary at 10%, serial 2.
    let t2 = env.ok(&[
        "activate",
        r2,
        "--env",
        "prod",
        "--expect-active",
        &d1[..15],
        "--expect-canary",
        "none",
        "--as",
        "alice",
    ]);
    let r = &t2["rollout"];
    assert_eq!(
        (
            &r["serial"],
            &r["active"]["reference"],
            &r["canary"]["reference"],
            &r["canary"]["digest"],
            &r["canary"]["percent"]
        ),
        (&json!(2), &json!(r1), &json!(r2), &json!(d2), &json!(10)),
        "{t2}"
    );
    let left = r["canary"]["bake_time_left_seconds"].as_i64().unwrap();
    assert!((86_000..=86_400).contains(&left), "prod bakes 24h: {left}");
    let canary_activated = r["canary"]["activated_at"].clone();

    // The rollout document verifies, signed by the operator key.
    let keys = env.ok(&["keys", "list"]);
    let operator = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "operator")
        .unwrap_or_else(|| panic!("no operator key after a rollout: {keys}"));
    assert_eq!(
        (&operator["roles"], &operator["identity"]),
        (&json!(["operator"]), &json!(false))
    );
    let file = env.write("rollout-2.json", &r["document"].to_string());
    let v = env.ok(&["verify", &file]);
    assert_eq!(
        (
            &v["valid"],
            &v["payload_type"],
            &v["signers"][0]["keyid"],
            &v["signers"][0]["roles"]
        ),
        (
            &json!(true),
            &json!("application/vnd.gavel.rollout.v1+json"),
            &operator["keyid"],
            &json!(["operator"])
        ),
        "{v}"
    );
    assert_eq!(v["signers"].as_array().unwrap().len(), 1, "{v}");
    let p = payload(&r["document"]);
    assert_eq!(
        (
            &p["bundle"],
            &p["environment"],
            &p["serial"],
            &p["stable"]["digest"],
            &p["canary"]["digest"],
            &p["canary"]["percent"]
        ),
        (
            &json!("inbox-triage"),
            &json!("prod"),
            &json!(2),
            &json!(d1),
            &json!(d2),
            &json!(10)
        ),
        "{p}"
    );
    // A tampered copy does not verify (exit 1, not valid).
    let mut tampered = r["document"].clone();
    let mut forged = p.clone();
    forged["canary"]["percent"] = json!(100);
    tampered["payload"] =
        json!(base64::engine::general_purpose::STANDARD.encode(forged.to_string().as_bytes()));
    let file = env.write("rollout-forged.json", &tampered.to_string());
    let out = env.run(&["verify", &file]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_of(&out, &["verify"])["valid"], false);

    // A canary is running: another version waits, the canary cannot start
    // again.
    env.ok(&[
        "bundle",
        "new",
        &env.write("v3.yaml", &versioned("1.2.0")),
        "--as",
        "alice",
    ]);
    env.ok(&["submit", r3, "--as", "alice"]);
    for who in ["bob", "carol"] {
        env.ok(&[
            "approve",
            r3,
            "--env",
            "prod",
            "--comment",
            "third version reviewed",
            "--as",
            who,
        ]);
    }
    let m = env.refused(
        &["activate", r3, "--env", "prod", "--as", "alice"],
        "canary_running",
    );
    assert!(m.contains(r2), "{m}");
    env.refused(
        &["activate", r2, "--env", "prod", "--as", "alice"],
        "already_active",
    );

    // Promotion while bake time is left: refused, every reason said; the
    // gate results are recorded (one gate_checks row, one `canary.gates`
    // entry) and nothing else changes.
    let good = env.write("passing.json", &passing());
    let before = snapshot(&env.db());
    let m = env.fails(
        &[
            "promote",
            "inbox-triage",
            "--env",
            "prod",
            "--metrics",
            &good,
            "--as",
            "alice",
        ],
        1,
        "not_ready",
    );
    assert!(m.contains("bake time left in the 10% step"), "{m}");
    let new_rows = added(&before, &snapshot(&env.db()));
    assert_eq!(new_rows.len(), 2, "{new_rows:#?}");
    assert!(
        new_rows[0].starts_with("audit_log: ") && new_rows[0].contains("canary.gates"),
        "{new_rows:#?}"
    );
    assert!(new_rows[1].starts_with("gate_checks: "), "{new_rows:#?}");

    let set = env.ok(&["env", "set", "prod", "--bake-time", "0", "--as", "alice"]);
    assert_eq!(
        set,
        json!([{"name": "prod", "quorum": 2, "canary": true, "bake_time_seconds": 0,
                 "min_samples": 100, "created_at": "1970-01-01T00:00:00.000Z"}])
    );

    // Passing gates: 10 → 50 → 100, a serial each.
    let promote = [
        "promote",
        "inbox-triage",
        "--env",
        "prod",
        "--metrics",
        &good,
        "--as",
        "alice",
    ];
    let p50 = env.ok(&promote);
    assert_eq!(
        (
            &p50["action"],
            &p50["rollout"]["serial"],
            &p50["rollout"]["canary"]["percent"],
            &p50["gates"]["passed"]
        ),
        (&json!("promote"), &json!(3), &json!(50), &json!(true)),
        "{p50}"
    );
    let names: Vec<&str> = p50["gates"]["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "samples",
            "error_rate",
            "deny_rate",
            "cost_increase",
            "vs_stable"
        ]
    );
    let p100 = env.ok(&promote);
    let r = &p100["rollout"];
    assert_eq!(
        (
            &r["serial"],
            &r["active"]["reference"],
            &r["active"]["activated_at"],
            &r["canary"]
        ),
        (&json!(4), &json!(r2), &canary_activated, &Value::Null),
        "the promoted version keeps the time its canary began: {p100}"
    );
    env.refused(&promote, "no_canary");

    // Rollback: the first version back at 100% (with the time it was first
    // activated), an incident of severity high.
    env.refused(
        &[
            "rollback", "--env", "prod", "--reason", "broken", "--as", "alice",
        ],
        "comment_required",
    );
    let reason = "deny rate doubled after 1.1.0";
    let rb = env.ok(&[
        "rollback", "--env", "prod", "--reason", reason, "--as", "alice",
    ]);
    let r = &rb["rollout"];
    assert_eq!(
        (
            &rb["action"],
            &r["serial"],
            &r["active"]["reference"],
            &r["active"]["activated_at"],
            &r["canary"]
        ),
        (
            &json!("rollback"),
            &json!(5),
            &json!(r1),
            &first_activated,
            &Value::Null
        ),
        "{rb}"
    );
    let incident = rb["incident"].as_i64().unwrap();
    let open = env.ok(&["incidents", "--open"]);
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
    let i = &open[0];
    for (field, want) in [
        ("id", json!(incident)),
        ("bundle", json!("inbox-triage")),
        ("environment", json!("prod")),
        ("version", json!(r2)),
        ("severity", json!("high")),
        ("title", json!("inbox-triage@1.1.0 rolled back in prod")),
        ("reason", json!(reason)),
        ("opened_by", json!("alice")),
        ("resolved_by", Value::Null),
        ("resolved_at", Value::Null),
        ("resolution", Value::Null),
    ] {
        assert_eq!(i[field], want, "incident `{field}`: {i}");
    }
    let id = incident.to_string();
    env.refused(
        &[
            "incident",
            "resolve",
            &id,
            "--comment",
            "done",
            "--as",
            "carol",
        ],
        "comment_required",
    );
    let fix = "reverted; the rule gets a cap";
    let resolved = env.ok(&[
        "incident",
        "resolve",
        &id,
        "--comment",
        fix,
        "--as",
        "carol",
    ]);
    assert_eq!(
        (
            &resolved["id"],
            &resolved["resolved_by"],
            &resolved["resolution"]
        ),
        (&json!(incident), &json!("carol"), &json!(fix)),
        "{resolved}"
    );
    assert!(resolved["resolved_at"].is_string(), "{resolved}");
    env.refused(
        &[
            "incident",
            "resolve",
            &id,
            "--comment",
            fix,
            "--as",
            "carol",
        ],
        "already_resolved",
    );
    assert_eq!(env.ok(&["incidents", "--open"]), json!([]));
    assert_eq!(env.ok(&["incidents"]).as_array().unwrap().len(), 1);

    // `status`: every environment, and per bundle the serial, what serves,
    // the last gates and what pending versions still need.
    let s = env.ok(&["status"]);
    let envs: Vec<&str> = s["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(envs, ["dev", "staging", "prod"], "{s}");
    let s = env.ok(&["status", "--bundle", "inbox-triage", "--env", "prod"]);
    let e = &s["environments"][0];
    assert_eq!(s["environments"].as_array().unwrap().len(), 1, "{s}");
    let keys: BTreeSet<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "name",
            "quorum",
            "canary",
            "bake_time_seconds",
            "min_samples",
            "created_at",
            "bundles"
        ]),
        "{e}"
    );
    let b = &e["bundles"][0];
    assert_eq!(e["bundles"].as_array().unwrap().len(), 1, "{e}");
    assert_eq!(
        (
            &b["bundle"],
            &b["serial"],
            &b["active"]["reference"],
            &b["active"]["digest"],
            &b["canary"]
        ),
        (
            &json!("inbox-triage"),
            &json!(5),
            &json!(r1),
            &json!(d1),
            &Value::Null
        ),
        "{b}"
    );
    let g = &b["last_gates"];
    assert_eq!(
        (&g["passed"], &g["serial"], &g["digest"], &g["actor"]),
        (&json!(true), &json!(3), &json!(d2), &json!("alice")),
        "the last gates are those of the promotion to 100%: {g}"
    );
    let pending = b["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "only 1.2.0 is still under review: {b}");
    assert_eq!(
        pending[0],
        json!({"reference": r3, "digest": pending[0]["digest"], "state": "approved",
               "approvals": 2, "required": 2, "needs": 0, "approvers": ["bob", "carol"]})
    );

    // The deployment states in prod, read from the store.
    let states = block_on(async {
        let pool = pool(&env.db()).await;
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT v.version, d.state FROM deployments d JOIN bundle_versions v ON v.id = d.version_id \
             WHERE d.environment = 'prod' ORDER BY v.version",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        rows
    });
    assert_eq!(
        states,
        [
            ("1.0.0".into(), "active".into()),
            ("1.1.0".into(), "rolled_back".into()),
            ("1.2.0".into(), "approved".into())
        ]
    );

    // The audit log: every change once, in order, and a chain that verifies.
    let v = env.ok(&["audit", "verify"]);
    assert_eq!(v["valid"], true, "{v}");
    let actions = audit_actions(&env.db());
    assert_eq!(v["entries"], actions.len(), "{v}");
    assert_eq!(
        actions,
        [
            "identity.create",
            "identity.create",
            "identity.create",
            "bundle.create",
            "bundle.submit",
            "approval.approve",
            "approval.approve",
            "key.operator",
            "rollout.activate",
            "bundle.create",
            "bundle.submit",
            "approval.approve",
            "approval.approve",
            "rollout.activate",
            "bundle.create",
            "bundle.submit",
            "approval.approve",
            "approval.approve",
            "canary.gates",
            "env.set",
            "rollout.promote",
            "rollout.promote",
            "rollout.rollback",
            "incident.resolve",
        ]
    );
}

// ---------------------------------------------------------------------------
// 2. Two processes at once.
// ---------------------------------------------------------------------------

/// Runs the commands at once, each in its own `gavel` process started
/// together; their outputs in order.
fn at_once(env: &Env, commands: &[Vec<&str>]) -> Vec<Output> {
    let start = std::sync::Barrier::new(commands.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = commands
            .iter()
            .map(|args| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    env.run(args)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Of outputs of the same change run at once: exactly one succeeded, the
/// others were refused (exit 1) with one of `codes`. The winner's JSON.
fn one_wins(what: &str, outs: &[Output], codes: &[&str]) -> Value {
    let mut won = Vec::new();
    for out in outs {
        let v = json_of(out, &[what]);
        match out.status.code() {
            Some(0) => won.push(v),
            Some(1) => assert!(
                codes.contains(&v["error"]["code"].as_str().unwrap_or_default()),
                "{what}: the loser must be refused with one of {codes:?}, got {v}"
            ),
            other => panic!("{what}: exit {other:?}: {v}"),
        }
    }
    assert_eq!(won.len(), 1, "{what}: exactly one wins: {won:?}");
    won.remove(0)
}

/// The serials of every (bundle, environment), as stored, in row order.
fn serials(db: &Path) -> BTreeMap<(String, String), Vec<i64>> {
    block_on(async {
        let pool = pool(db).await;
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT bundle, environment, serial FROM rollouts ORDER BY rowid")
                .fetch_all(&pool)
                .await
                .unwrap();
        pool.close().await;
        let mut out: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
        for (b, e, s) in rows {
            out.entry((b, e)).or_default().push(s);
        }
        out
    })
}

/// Two (or three) `gavel` processes at once on one environment: approvers
/// approving the same version are all kept; two activations of one
/// version give one rollout (the other `stale_state` or `already_active`);
/// two promotions move one step (the other `stale_state`, or `not_ready`
/// because the step it would take has not baked); serials run 1..n, each
/// once, every one with its own audit entry.
#[test]
fn two_gavel_processes_at_once_keep_every_approval_and_move_a_rollout_once() {
    const BAKE: u64 = 3;
    let env = Env::new();
    team(&env, &["bob", "carol", "erin"]);
    env.ok(&[
        "env",
        "set",
        "staging",
        "--bake-time",
        &format!("{BAKE}s"),
        "--as",
        "alice",
    ]);
    let text = |v: &str| {
        format!(
            "apiVersion: gavel/v1\nkind: PolicyBundle\nmetadata:\n  name: payments\n  version: {v}\n  actions: [refund]\nrules:\n  - id: allow-small\n    agent: billing.refunds\n    action: refund\n    effect: allow\n    conditions: {{\"<=amount\": {}}}\n    reason: Small refunds are fine\n",
            if v == "1.0.0" { 100 } else { 50 }
        )
    };
    for v in ["1.0.0", "1.1.0"] {
        env.ok(&[
            "bundle",
            "new",
            &env.write(&format!("{v}.yaml"), &text(v)),
            "--as",
            "alice",
        ]);
        env.ok(&["submit", &format!("payments@{v}"), "--as", "alice"]);
    }
    let approve = |who: &'static str, v: &'static str| {
        vec![
            "approve",
            v,
            "--env",
            "staging",
            "--comment",
            "reviewed at the same time",
            "--as",
            who,
        ]
    };

    // Three approvers of one version at once: all three kept.
    let outs = at_once(
        &env,
        &[
            approve("bob", "payments@1.0.0"),
            approve("carol", "payments@1.0.0"),
            approve("erin", "payments@1.0.0"),
        ],
    );
    for (out, who) in outs.iter().zip(["bob", "carol", "erin"]) {
        let v = json_of(out, &["approve"]);
        assert_eq!(out.status.code(), Some(0), "{who}'s approval: {v}");
        assert_eq!(v["approver"], who);
    }
    let kept: Vec<String> = block_on(async {
        let pool = pool(&env.db()).await;
        let a = sqlx::query_scalar(
            "SELECT approver FROM approvals WHERE environment = 'staging' ORDER BY approver",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        a
    });
    assert_eq!(kept, ["bob", "carol", "erin"], "every approval kept");

    // Two activations of the same version: one rollout.
    let activate = |v: &'static str| vec!["activate", v, "--env", "staging", "--as", "alice"];
    let won = one_wins(
        "activate 1.0.0",
        &at_once(
            &env,
            &[activate("payments@1.0.0"), activate("payments@1.0.0")],
        ),
        &["stale_state", "already_active"],
    );
    assert_eq!(won["rollout"]["serial"], 1, "{won}");

    // The next version: two approvers at once, then two activations (a
    // canary at 10%).
    let outs = at_once(
        &env,
        &[
            approve("bob", "payments@1.1.0"),
            approve("carol", "payments@1.1.0"),
        ],
    );
    assert!(
        outs.iter().all(|o| o.status.code() == Some(0)),
        "{:?}",
        outs.iter()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .collect::<Vec<_>>()
    );
    let won = one_wins(
        "activate 1.1.0",
        &at_once(
            &env,
            &[activate("payments@1.1.0"), activate("payments@1.1.0")],
        ),
        &["stale_state", "already_active"],
    );
    assert_eq!(
        (
            &won["rollout"]["serial"],
            &won["rollout"]["canary"]["percent"]
        ),
        (&json!(2), &json!(10)),
        "{won}"
    );

    // Two promotions at once, twice: one step each time. The step bakes
    // BAKE seconds, so a promotion that reads the state after the other's
    // commit is refused as `not_ready` rather than taking a second step.
    let good = env.write("passing.json", &passing());
    let promote = vec![
        "promote",
        "payments",
        "--env",
        "staging",
        "--metrics",
        good.as_str(),
        "--as",
        "alice",
    ];
    for (serial, percent) in [(3, json!(50)), (4, Value::Null)] {
        std::thread::sleep(Duration::from_millis(BAKE * 1000 + 200));
        let s = env.ok(&["status", "--bundle", "payments", "--env", "staging"]);
        assert_eq!(
            s["environments"][0]["bundles"][0]["canary"]["bake_time_left_seconds"], 0,
            "{s}"
        );
        let won = one_wins(
            "promote",
            &at_once(&env, &[promote.clone(), promote.clone()]),
            &["stale_state", "not_ready", "no_canary"],
        );
        assert_eq!(
            (
                &won["rollout"]["serial"],
                &won["rollout"]["canary"]["percent"]
            ),
            (&json!(serial), &percent),
            "{won}"
        );
    }

    // Serials 1..4, each once, each with its one `rollout.*` entry.
    let all = serials(&env.db());
    assert_eq!(
        all,
        BTreeMap::from([(("payments".into(), "staging".into()), vec![1, 2, 3, 4])])
    );
    let actions = audit_actions(&env.db());
    let rollouts: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .filter(|a| a.starts_with("rollout."))
        .collect();
    assert_eq!(
        rollouts,
        [
            "rollout.activate",
            "rollout.activate",
            "rollout.promote",
            "rollout.promote"
        ]
    );
    let v = env.ok(&["audit", "verify"]);
    assert_eq!(v["valid"], true, "{v}");
    let world = read_world(&env.db());
    check_world(&world, &BTreeSet::new());
}

/// Regression: `gavel reject` by one approver while `gavel activate` of
/// the same version runs never lets both succeed. A rejection moves no
/// serial, and one recorded after `activate` counted the approvals was
/// overridden: the rejected version went out (both exited 0 in 8 of 9
/// tries). Started at offsets across the activation's run, each round ends
/// one way: the rejection kept and the activation refused (`stale_state`
/// when the rejection landed while it signed, `rejected` before), or the
/// activation done and the rejection refused (`review_closed`).
#[test]
fn an_activation_and_a_rejection_at_once_never_both_succeed() {
    let env = Env::new();
    team(&env, &["bob", "erin"]);
    let (mut rejected_first, mut raced, mut activated_first) = (0, 0, 0);
    for (round, offset_ms) in [0u64, 15, 30, 45, 60, 75, 90, 120].into_iter().enumerate() {
        let version = format!("1.0.{round}");
        let reference = format!("inbox-triage@{version}");
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bundles/inbox-triage.yaml"),
        )
        .unwrap()
        .replacen("version: 1.0.0", &format!("version: {version}"), 1);
        env.ok(&[
            "bundle",
            "new",
            &env.write(&format!("{version}.yaml"), &text),
            "--as",
            "alice",
        ]);
        env.ok(&["submit", &reference, "--as", "alice"]);
        env.ok(&[
            "approve",
            &reference,
            "--env",
            "dev",
            "--comment",
            "fine",
            "--as",
            "bob",
        ]);
        let reject = [
            "reject",
            &reference,
            "--env",
            "dev",
            "--comment",
            "this one must not go out",
            "--as",
            "erin",
        ];
        let activate = ["activate", &reference, "--env", "dev", "--as", "alice"];
        let (r, a) = std::thread::scope(|s| {
            let r = s.spawn(|| env.run(&reject));
            std::thread::sleep(Duration::from_millis(offset_ms));
            let a = s.spawn(|| env.run(&activate));
            (r.join().unwrap(), a.join().unwrap())
        });
        let (rv, av) = (json_of(&r, &reject), json_of(&a, &activate));
        let at = format!(
            "round {round} (activate {offset_ms} ms after reject): reject {rv}, activate {av}"
        );
        let state = block_on(async {
            let pool = pool(&env.db()).await;
            let s: String = sqlx::query_scalar(
                "SELECT d.state FROM deployments d JOIN bundle_versions v ON v.id = d.version_id \
                 WHERE v.version = ? AND d.environment = 'dev'",
            )
            .bind(&version)
            .fetch_one(&pool)
            .await
            .unwrap();
            pool.close().await;
            s
        });
        match (r.status.code(), a.status.code()) {
            (Some(0), Some(1)) => {
                let code = av["error"]["code"].as_str().unwrap_or_default();
                assert!(["rejected", "stale_state"].contains(&code), "{at}");
                assert_eq!(state, "rejected", "{at}");
                if code == "stale_state" {
                    raced += 1;
                } else {
                    rejected_first += 1;
                }
            }
            (Some(1), Some(0)) => {
                assert_eq!(rv["error"]["code"], "review_closed", "{at}");
                assert_eq!(state, "active", "{at}");
                activated_first += 1;
            }
            _ => panic!("exactly one of them succeeds: {at}"),
        }
    }
    eprintln!(
        "activate against reject: {rejected_first} rejected first, {raced} rejected while the activation signed, {activated_first} activated first"
    );
    check_world(&read_world(&env.db()), &BTreeSet::new());
    assert_eq!(env.ok(&["audit", "verify"])["valid"], true);
}

// ---------------------------------------------------------------------------
// 3. Crash safety.
// ---------------------------------------------------------------------------

/// SplitMix64: a seeded generator, enough to pick operations and delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0 to `n - 1` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len() as u64) as usize).cloned()
        }
    }

    /// A duration from `from` to `to` (microsecond steps).
    fn between(&mut self, from: Duration, to: Duration) -> Duration {
        let (a, b) = (from.as_micros() as u64, to.as_micros() as u64);
        Duration::from_micros(a + self.below(b.saturating_sub(a) + 1))
    }
}

/// Whether some other process holds SQLite's WAL write lock on the store:
/// byte 120 of `gavel.db-shm`, which the unix VFS locks with `fcntl` from
/// `BEGIN IMMEDIATE` to the end of the transaction. `F_GETLK` asks without
/// taking any lock, so watching never delays the process watched.
struct WriteLock {
    shm: PathBuf,
    file: Option<File>,
}

impl WriteLock {
    fn new(db: &Path) -> WriteLock {
        WriteLock {
            shm: db.with_file_name("gavel.db-shm"),
            file: None,
        }
    }

    #[expect(
        unsafe_code,
        reason = "fcntl(F_GETLK) is the only way to see another process's POSIX lock"
    )]
    fn held(&mut self) -> bool {
        use std::os::fd::AsRawFd;
        if self.file.is_none() {
            self.file = File::open(&self.shm).ok();
        }
        let Some(f) = &self.file else {
            return false;
        };
        // SAFETY: `flock` is plain data; fcntl writes into it and reads
        // nothing else; the descriptor is open for the call.
        let mut lock: libc::flock = unsafe { std::mem::zeroed() };
        lock.l_type = libc::F_WRLCK as libc::c_short;
        lock.l_whence = libc::SEEK_SET as libc::c_short;
        lock.l_start = 120;
        lock.l_len = 1;
        // SAFETY: as above.
        let rc = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETLK, &mut lock) };
        rc == 0 && lock.l_type != libc::F_UNLCK as libc::c_short
    }
}

/// When the write lock was first and last seen held in a span of a run,
/// from the spawn.
type Span = (Duration, Duration);

/// When to send SIGKILL to a run.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// At this time from the spawn.
    At(Duration),
    /// This long after the write lock is first seen held once `armed`
    /// has passed (the run's own transaction, not a lock its start-up
    /// takes); at `at_the_latest` if it never is.
    InTransaction {
        armed: Duration,
        after: Duration,
        at_the_latest: Duration,
    },
}

/// How one `gavel` run went.
struct Observed {
    out: Output,
    /// Killed by our SIGKILL (not merely sent one after it exited).
    killed: bool,
    /// The write lock was held at the moment of the kill.
    killed_in_transaction: bool,
    /// The last span in which the write lock was seen held (the run's
    /// change; start-up may take the lock briefly before), from the spawn.
    lock: Option<Span>,
    exited: Duration,
}

/// Runs `gavel ARGS --format json`, watching the store's write lock every
/// ~100 µs, and sends SIGKILL as `kill` says if it is still running.
fn observe(env: &Env, args: &[String], kill: Option<Kill>, n: usize) -> Observed {
    let (stdout, stderr) = (
        env.files.path().join(format!("out-{n}")),
        env.files.path().join(format!("err-{n}")),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut lock = WriteLock::new(&env.db());
    let started = Instant::now();
    let mut child: Child = env
        .command(&args)
        .stdout(File::create(&stdout).unwrap())
        .stderr(File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut span: Option<Span> = None;
    let (mut was_held, mut in_tx_at_kill) = (false, false);
    let mut deadline = match kill {
        Some(Kill::At(t)) => Some(t),
        Some(Kill::InTransaction { at_the_latest, .. }) => Some(at_the_latest),
        None => None,
    };
    let status = loop {
        let held = lock.held();
        let t = started.elapsed();
        if held {
            if !was_held {
                span = Some((t, t));
                if let Some(Kill::InTransaction { armed, after, .. }) = kill {
                    if t >= armed && deadline.is_some_and(|d| d > t + after) {
                        deadline = Some(t + after);
                    }
                }
            }
            if let Some(s) = span.as_mut() {
                s.1 = t;
            }
        }
        was_held = held;
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if deadline.is_some_and(|d| t >= d) {
            in_tx_at_kill = held;
            // SIGKILL; a child that has exited meanwhile is left as it was.
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_micros(100));
    };
    let exited = started.elapsed();
    let out = Output {
        status,
        stdout: std::fs::read(&stdout).unwrap(),
        stderr: std::fs::read(&stderr).unwrap(),
    };
    let killed = status.signal() == Some(libc::SIGKILL);
    if !killed {
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            !text.contains("panicked"),
            "gavel {args:?} panicked:\n{text}"
        );
        assert!(
            !text.contains("locked") && !text.contains("busy"),
            "gavel {args:?}: {text}"
        );
    }
    Observed {
        out,
        killed,
        killed_in_transaction: killed && in_tx_at_kill,
        lock: span,
        exited,
    }
}

/// Uninterrupted runs of each kind of operation: when its transaction
/// holds the write lock, and when it exits.
#[derive(Default)]
struct Timings {
    runs: BTreeMap<&'static str, Vec<(Option<Span>, Duration)>>,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Timings {
    /// Uninterrupted runs of a kind measured before any of its kind is
    /// killed.
    const MEASURED: usize = 2;

    fn record(&mut self, kind: &'static str, o: &Observed) {
        self.runs.entry(kind).or_default().push((o.lock, o.exited));
    }

    /// The medians of a kind: its transaction's start and length, and its
    /// exit.
    fn medians(&self, kind: &str) -> Option<(Option<Span>, Duration)> {
        let runs = self.runs.get(kind).filter(|r| r.len() >= Self::MEASURED)?;
        let locks: Vec<Span> = runs.iter().filter_map(|r| r.0).collect();
        let lock = (!locks.is_empty()).then(|| {
            (
                median(locks.iter().map(|l| l.0).collect()),
                median(locks.iter().map(|l| l.1 - l.0).collect()),
            )
        });
        Some((lock, median(runs.iter().map(|r| r.1).collect())))
    }

    /// When to kill a run of `kind`: half the time inside its transaction
    /// (a random point of its measured length, from the moment the lock
    /// is seen held), else anywhere from a fifth of its run to just past
    /// its end. `None` until the kind has been measured.
    fn kill(&self, kind: &str, rng: &mut Rng) -> Option<Kill> {
        let (lock, exit) = self.medians(kind)?;
        let anywhere = rng.between(exit / 5, exit + exit / 10);
        Some(match lock {
            Some((start, length)) if rng.below(2) == 0 => Kill::InTransaction {
                armed: start * 3 / 4,
                after: rng.between(Duration::ZERO, length + Duration::from_millis(1)),
                at_the_latest: (exit * 2).max(anywhere),
            },
            _ => Kill::At(anywhere),
        })
    }

    /// Per kind: the median transaction (start and length) and exit.
    fn summary(&self) -> String {
        self.runs
            .keys()
            .filter_map(|kind| {
                let (lock, exit) = self.medians(kind)?;
                let lock = lock.map_or("lock not seen".to_string(), |(s, l)| {
                    format!("transaction at {:.1} ms for {:.1} ms", ms(s), ms(l))
                });
                Some(format!(
                    "{kind}: {lock}, exit {:.0} ms ({} runs)",
                    ms(exit),
                    self.runs[kind].len()
                ))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[derive(Debug, Clone)]
struct VersionRow {
    id: i64,
    name: String,
    version: String,
    digest: String,
    status: String,
}

#[derive(Debug, Clone)]
struct RolloutRow {
    bundle: String,
    env: String,
    serial: i64,
    stable: i64,
    canary: Option<i64>,
    percent: Option<i64>,
    /// The signed `rollout.v1` document's payload.
    document: Value,
}

#[derive(Debug, Clone)]
struct ApprovalRow {
    version_id: i64,
    digest: String,
    env: String,
    decision: String,
    keyid: String,
}

#[derive(Debug, Clone)]
struct Entry {
    seq: i64,
    action: String,
    subject: String,
    details: Value,
}

/// The lifecycle tables and the audit log, read straight from SQLite.
#[derive(Debug, Default)]
struct World {
    versions: Vec<VersionRow>,
    states: BTreeMap<(i64, String), String>,
    rollouts: Vec<RolloutRow>,
    approvals: Vec<ApprovalRow>,
    audit: Vec<Entry>,
    /// id, bundle, environment, serial.
    gate_checks: Vec<(i64, String, String, i64)>,
    incidents: BTreeSet<i64>,
    quorum: BTreeMap<String, i64>,
}

impl World {
    fn version(&self, id: i64) -> &VersionRow {
        self.versions.iter().find(|v| v.id == id).unwrap()
    }

    fn state(&self, id: i64, env: &str) -> &str {
        self.states
            .get(&(id, env.to_string()))
            .map_or("pending", String::as_str)
    }

    /// The newest rollout of a (bundle, environment).
    fn current(&self, bundle: &str, env: &str) -> Option<&RolloutRow> {
        self.rollouts
            .iter()
            .filter(|r| r.bundle == bundle && r.env == env)
            .max_by_key(|r| r.serial)
    }

    fn decided(&self, digest: &str, env: &str, keyid: &str) -> bool {
        self.approvals
            .iter()
            .any(|a| a.digest == digest && a.env == env && a.keyid == keyid)
    }

    /// What `gavel rollback` must do here (§7): `None` when it succeeds,
    /// else its refusal: the canary dropped, or the newest earlier stable
    /// version not rolled back restored.
    fn rollback_refusal(&self, bundle: &str, env: &str) -> Option<&'static str> {
        let Some(r) = self.current(bundle, env) else {
            return Some("no_rollout");
        };
        if r.canary.is_some() {
            return None;
        }
        let mut history: Vec<&RolloutRow> = self
            .rollouts
            .iter()
            .filter(|h| h.bundle == bundle && h.env == env)
            .collect();
        history.sort_by_key(|h| std::cmp::Reverse(h.serial));
        let restorable = history
            .iter()
            .any(|h| h.stable != r.stable && self.state(h.stable, env) != "rolled_back");
        (!restorable).then_some("nothing_to_roll_back")
    }
}

fn read_world(db: &Path) -> World {
    // The store opens (recovering its WAL after a kill) and its own
    // readers parse every lifecycle row.
    block_on(async {
        let store = gavel_store::Store::open(db)
            .await
            .unwrap_or_else(|e| panic!("the store does not open: {e}"));
        store.rollouts().await.unwrap();
        store.incidents(false).await.unwrap();
        store.environments().await.unwrap();
    });
    block_on(async {
        let pool = pool(db).await;
        let mut w = World::default();
        for r in sqlx::query("SELECT id, name, version, digest, status FROM bundle_versions")
            .fetch_all(&pool)
            .await
            .unwrap()
        {
            w.versions.push(VersionRow {
                id: r.get(0),
                name: r.get(1),
                version: r.get(2),
                digest: r.get(3),
                status: r.get(4),
            });
        }
        for r in sqlx::query("SELECT version_id, environment, state FROM deployments")
            .fetch_all(&pool)
            .await
            .unwrap()
        {
            w.states.insert((r.get(0), r.get(1)), r.get(2));
        }
        for r in sqlx::query(
            "SELECT bundle, environment, serial, stable_id, canary_id, canary_percent, envelope \
             FROM rollouts ORDER BY bundle, environment, serial",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
        {
            w.rollouts.push(RolloutRow {
                bundle: r.get(0),
                env: r.get(1),
                serial: r.get(2),
                stable: r.get(3),
                canary: r.get(4),
                percent: r.get(5),
                document: payload(&serde_json::from_str(r.get::<&str, _>(6)).unwrap()),
            });
        }
        for r in sqlx::query(
            "SELECT version_id, digest, environment, decision, keyid FROM approvals ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
        {
            w.approvals.push(ApprovalRow {
                version_id: r.get(0),
                digest: r.get(1),
                env: r.get(2),
                decision: r.get(3),
                keyid: r.get(4),
            });
        }
        for r in sqlx::query("SELECT seq, action, subject, details FROM audit_log ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap()
        {
            let details: String = r.get(3);
            w.audit.push(Entry {
                seq: r.get(0),
                action: r.get(1),
                subject: r.get(2),
                details: serde_json::from_str(&details).unwrap(),
            });
        }
        for r in sqlx::query("SELECT id, bundle, environment, serial FROM gate_checks")
            .fetch_all(&pool)
            .await
            .unwrap()
        {
            w.gate_checks.push((r.get(0), r.get(1), r.get(2), r.get(3)));
        }
        w.incidents = sqlx::query_scalar("SELECT id FROM incidents")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
        for r in sqlx::query("SELECT name, quorum FROM environments")
            .fetch_all(&pool)
            .await
            .unwrap()
        {
            w.quorum.insert(r.get(0), r.get(1));
        }
        pool.close().await;
        w
    })
}

/// Issue 20's invariants: no half-done change, serials never reused, every
/// approval that succeeded kept. `kept` is (digest, environment, key id)
/// of every approval or rejection that exited 0.
fn check_world(w: &World, kept: &BTreeSet<(String, String, String)>) {
    let seqs: Vec<i64> = w.audit.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=w.audit.len() as i64).collect::<Vec<_>>(),
        "audit seq runs 1..n"
    );

    // Serials per (bundle, environment): exactly 1..n.
    let mut by_unit: BTreeMap<(&str, &str), Vec<i64>> = BTreeMap::new();
    for r in &w.rollouts {
        by_unit
            .entry((&r.bundle, &r.env))
            .or_default()
            .push(r.serial);
    }
    for (unit, serials) in &by_unit {
        assert_eq!(
            *serials,
            (1..=serials.len() as i64).collect::<Vec<_>>(),
            "serials of {unit:?}"
        );
    }

    // Every rollout row carries the signed document of its own state.
    for r in &w.rollouts {
        let d = &r.document;
        let canary = r.canary.map(|id| &w.version(id).digest);
        assert_eq!(
            (
                d["bundle"].as_str(),
                d["environment"].as_str(),
                d["serial"].as_i64(),
                d["stable"]["digest"].as_str(),
                d["canary"]["digest"].as_str(),
                d["canary"]["percent"].as_i64()
            ),
            (
                Some(r.bundle.as_str()),
                Some(r.env.as_str()),
                Some(r.serial),
                Some(w.version(r.stable).digest.as_str()),
                canary.map(String::as_str),
                r.percent
            ),
            "the rollout document of {} in {} serial {}",
            r.bundle,
            r.env,
            r.serial
        );
    }

    // Every rollouts row has exactly one `rollout.*` entry with its serial,
    // and every such entry its row.
    let mut rollout_entries: BTreeMap<(String, String, i64), usize> = BTreeMap::new();
    for e in w.audit.iter().filter(|e| e.action.starts_with("rollout.")) {
        let bundle = e.subject.split('@').next().unwrap().to_string();
        let env = e.details["environment"].as_str().unwrap().to_string();
        let serial = e.details["serial"].as_i64().unwrap();
        *rollout_entries.entry((bundle, env, serial)).or_default() += 1;
    }
    let rows: BTreeSet<(String, String, i64)> = w
        .rollouts
        .iter()
        .map(|r| (r.bundle.clone(), r.env.clone(), r.serial))
        .collect();
    for (key, n) in &rollout_entries {
        assert_eq!(*n, 1, "`rollout.*` entries for {key:?}");
        assert!(
            rows.contains(key),
            "an audit entry without its rollout row: {key:?}"
        );
    }
    for key in &rows {
        assert!(
            rollout_entries.contains_key(key),
            "a rollout row without its audit entry: {key:?}"
        );
    }

    // Every approvals row has exactly one `approval.*` entry, and the
    // reverse.
    let mut approval_entries: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
    for e in w.audit.iter().filter(|e| e.action.starts_with("approval.")) {
        let s = |k: &str| e.details[k].as_str().unwrap().to_string();
        let decision = e.action.trim_start_matches("approval.").to_string();
        *approval_entries
            .entry((s("digest"), s("environment"), s("keyid"), decision))
            .or_default() += 1;
    }
    let rows: BTreeSet<(String, String, String, String)> = w
        .approvals
        .iter()
        .map(|a| {
            (
                a.digest.clone(),
                a.env.clone(),
                a.keyid.clone(),
                a.decision.clone(),
            )
        })
        .collect();
    assert_eq!(
        rows.len(),
        w.approvals.len(),
        "one row per key, digest and environment"
    );
    for (key, n) in &approval_entries {
        assert_eq!(*n, 1, "`approval.*` entries for {key:?}");
        assert!(
            rows.contains(key),
            "an audit entry without its approval row: {key:?}"
        );
    }
    for key in &rows {
        assert!(
            approval_entries.contains_key(key),
            "an approval row without its audit entry: {key:?}"
        );
    }
    for (digest, env, keyid) in kept {
        assert!(
            w.approvals
                .iter()
                .any(|a| &a.digest == digest && &a.env == env && &a.keyid == keyid),
            "an approval that exited 0 is gone: {digest} {env} {keyid}"
        );
    }

    // Deployment states: the newest rollout's stable version is `active`
    // and its canary `canary`; no other version of the bundle is either.
    let mut units: BTreeSet<(String, String)> = w
        .rollouts
        .iter()
        .map(|r| (r.bundle.clone(), r.env.clone()))
        .collect();
    for ((id, env), state) in &w.states {
        if state == "active" || state == "canary" {
            units.insert((w.version(*id).name.clone(), env.clone()));
        }
    }
    for (bundle, env) in &units {
        let of = |state: &str| -> Vec<i64> {
            w.states
                .iter()
                .filter(|((id, e), s)| e == env && *s == state && w.version(*id).name == *bundle)
                .map(|((id, _), _)| *id)
                .collect()
        };
        let current = w.current(bundle, env);
        assert_eq!(
            of("active"),
            current.map(|r| r.stable).into_iter().collect::<Vec<_>>(),
            "the active version of {bundle} in {env} is the newest rollout's stable one"
        );
        assert_eq!(
            of("canary"),
            current
                .and_then(|r| r.canary)
                .into_iter()
                .collect::<Vec<_>>(),
            "the canary of {bundle} in {env} is the newest rollout's (at most one)"
        );
    }

    // Approved and rejected states have their approvals.
    for ((id, env), state) in &w.states {
        let v = w.version(*id);
        let count = |decision: &str| {
            w.approvals
                .iter()
                .filter(|a| a.version_id == *id && &a.env == env && a.decision == decision)
                .count() as i64
        };
        match state.as_str() {
            "approved" => assert!(
                count("approve") >= w.quorum[env],
                "{}@{} approved in {env} without its quorum",
                v.name,
                v.version
            ),
            "rejected" => assert!(
                count("reject") >= 1,
                "{}@{} rejected by no one",
                v.name,
                v.version
            ),
            _ => {}
        }
    }

    // Submitted versions have their one `bundle.submit`, and the reverse.
    let submitted: BTreeSet<String> = w
        .versions
        .iter()
        .filter(|v| v.status == "submitted")
        .map(|v| format!("{}@{}", v.name, v.version))
        .collect();
    let mut submits: Vec<String> = w
        .audit
        .iter()
        .filter(|e| e.action == "bundle.submit")
        .map(|e| e.subject.clone())
        .collect();
    submits.sort();
    assert_eq!(
        submits,
        submitted.into_iter().collect::<Vec<_>>(),
        "submitted versions and `bundle.submit` entries"
    );

    // Gate results: one row per `canary.gates` entry (which names it), and
    // one per promotion or automatic rollback (recorded at the serial it
    // moved from).
    let named: BTreeSet<i64> = w
        .audit
        .iter()
        .filter(|e| e.action == "canary.gates")
        .map(|e| e.details["check"].as_i64().unwrap())
        .collect();
    assert_eq!(
        named.len(),
        w.audit
            .iter()
            .filter(|e| e.action == "canary.gates")
            .count(),
        "each `canary.gates` entry its own gate check"
    );
    let mut moved: Vec<(String, String, i64)> = w
        .audit
        .iter()
        .filter(|e| e.action == "rollout.promote" || e.action == "rollout.auto_rollback")
        .map(|e| {
            (
                e.subject.split('@').next().unwrap().to_string(),
                e.details["environment"].as_str().unwrap().to_string(),
                e.details["serial"].as_i64().unwrap() - 1,
            )
        })
        .collect();
    let mut unnamed: Vec<(String, String, i64)> = w
        .gate_checks
        .iter()
        .filter(|g| !named.contains(&g.0))
        .map(|g| (g.1.clone(), g.2.clone(), g.3))
        .collect();
    for id in &named {
        assert!(
            w.gate_checks.iter().any(|g| g.0 == *id),
            "a `canary.gates` entry without its gate check {id}"
        );
    }
    moved.sort();
    unnamed.sort();
    assert_eq!(
        unnamed, moved,
        "gate checks recorded by promotions and automatic rollbacks"
    );

    // Incidents: one per rollback, named by its entry.
    let mut opened: Vec<i64> = w
        .audit
        .iter()
        .filter(|e| e.action == "rollout.rollback" || e.action == "rollout.auto_rollback")
        .map(|e| e.details["incident"].as_i64().unwrap())
        .collect();
    opened.sort_unstable();
    assert_eq!(
        opened,
        w.incidents.iter().copied().collect::<Vec<_>>(),
        "incidents and the rollbacks that opened them"
    );
}

/// What an operation must do when it is not killed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Exit 0, one audit entry; a rollout change when `moves`.
    Done { moves: bool },
    /// Exit 1 with this code; nothing changes.
    Refused(&'static str),
}

#[derive(Debug)]
struct Plan {
    kind: &'static str,
    /// A run before the operation, never killed (`bundle new` of a
    /// version to submit).
    prepare: Option<Vec<String>>,
    args: Vec<String>,
    expect: Expect,
    /// The (bundle, environment) a rollout change moves.
    unit: Option<(String, String)>,
}

const ENVS: [&str; 2] = ["dev", "staging"];
const BUNDLES: [&str; 2] = ["crash-a", "crash-b"];
const APPROVERS: [&str; 3] = ["bob", "carol", "erin"];

fn crash_bundle(name: &str, version: &str, salt: u64) -> String {
    format!(
        "apiVersion: gavel/v1\nkind: PolicyBundle\nmetadata:\n  name: {name}\n  version: {version}\n  default_effect: deny\nrules:\n  - id: rule-{salt}\n    agent: \"*\"\n    action: deploy\n    effect: allow\n    conditions: {{\"<=risk\": {}}}\n    reason: generated rule {salt}\n",
        salt % 50 + 1
    )
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Picks the next operation from the store's state, with what it must do.
fn plan(
    w: &World,
    rng: &mut Rng,
    env: &Env,
    ids: &BTreeMap<String, String>,
    files: &BTreeMap<&str, String>,
    n: usize,
) -> Plan {
    // Staging (canary on) twice as often as dev: canaries are what
    // promotions, the monitor and most rollbacks act on.
    let staging_first = rng.below(3) != 0;
    let bundle = BUNDLES[rng.below(2) as usize];
    let e = ENVS[usize::from(staging_first)];
    let submitted: Vec<&VersionRow> = w
        .versions
        .iter()
        .filter(|v| v.status == "submitted")
        .collect();
    let reference = |v: &VersionRow| format!("{}@{}", v.name, v.version);
    // (version, environment) still open for review.
    let open: Vec<(&VersionRow, &str)> = submitted
        .iter()
        .flat_map(|v| ENVS.iter().map(move |e| (*v, *e)))
        .filter(|(v, e)| matches!(w.state(v.id, e), "pending" | "approved"))
        .collect();
    let undecided: Vec<(&VersionRow, &str, &str)> = open
        .iter()
        .flat_map(|(v, e)| APPROVERS.iter().map(move |a| (*v, *e, *a)))
        .filter(|(v, e, a)| !w.decided(&v.digest, e, &ids[*a]))
        .collect();
    let decided: Vec<(&VersionRow, &str, &str)> = open
        .iter()
        .flat_map(|(v, e)| APPROVERS.iter().map(move |a| (*v, *e, *a)))
        .filter(|(v, e, a)| w.decided(&v.digest, e, &ids[*a]))
        .collect();
    let approved: Vec<(&VersionRow, &str)> = open
        .iter()
        .filter(|(v, e)| w.state(v.id, e) == "approved")
        .copied()
        .collect();
    let unapproved: Vec<(&VersionRow, &str)> = open
        .iter()
        .filter(|(v, e)| w.state(v.id, e) == "pending")
        .copied()
        .collect();
    let canaries: Vec<(String, String)> = BUNDLES
        .iter()
        .flat_map(|b| ENVS.iter().map(move |e| (b.to_string(), e.to_string())))
        .filter(|(b, e)| w.current(b, e).is_some_and(|r| r.canary.is_some()))
        .collect();
    // Where a rollback succeeds.
    let rolled_out: Vec<(String, String)> = BUNDLES
        .iter()
        .flat_map(|b| ENVS.iter().map(move |e| (b.to_string(), e.to_string())))
        .filter(|(b, e)| w.rollback_refusal(b, e).is_none())
        .collect();
    // Mostly where there is something to act on, now and then anywhere
    // (most likely a refusal).
    let mostly = |rng: &mut Rng, units: &[(String, String)]| {
        rng.pick(units)
            .filter(|_| rng.below(8) != 0)
            .unwrap_or_else(|| (bundle.to_string(), e.to_string()))
    };
    let no_canary_refusal = |b: &str, e: &str| match w.current(b, e) {
        None => Some("no_rollout"),
        Some(r) if r.canary.is_none() => Some("no_canary"),
        Some(_) => None,
    };
    let done = |moves| Expect::Done { moves };

    let roll = rng.below(100);
    // A new version to submit when there is little to review, and now and
    // then regardless.
    if roll < 10 || open.len() < 2 {
        let draft = w
            .versions
            .iter()
            .find(|v| v.status == "draft" && v.name == bundle);
        let (prepare, r) = match draft {
            Some(v) => (None, reference(v)),
            None => {
                let count = w.versions.iter().filter(|v| v.name == bundle).count();
                let version = format!("1.0.{}", count + 1);
                let file = env.write(
                    &format!("{bundle}-{version}.yaml"),
                    &crash_bundle(bundle, &version, n as u64),
                );
                (
                    Some(strings(&["bundle", "new", &file, "--as", "alice"])),
                    format!("{bundle}@{version}"),
                )
            }
        };
        return Plan {
            kind: "submit",
            prepare,
            args: strings(&["submit", &r, "--as", "alice"]),
            expect: done(false),
            unit: None,
        };
    }
    /// Candidates in staging when `staging_first` and there are any.
    fn prefer<T: Copy>(items: &[T], env: impl Fn(&T) -> &str, staging: bool) -> Vec<T> {
        let here: Vec<T> = items
            .iter()
            .filter(|i| env(i) == "staging")
            .copied()
            .collect();
        if staging && !here.is_empty() {
            here
        } else {
            items.to_vec()
        }
    }
    if roll < 34 {
        if let Some((v, e, a)) = rng.pick(&prefer(&undecided, |c| c.1, staging_first)) {
            let reject = rng.below(8) == 0;
            return Plan {
                kind: if reject { "reject" } else { "approve" },
                prepare: None,
                args: strings(&[
                    if reject { "reject" } else { "approve" },
                    &reference(v),
                    "--env",
                    e,
                    "--comment",
                    if reject {
                        "the rule is broader than it says"
                    } else {
                        "reviewed and fine"
                    },
                    "--as",
                    a,
                ]),
                expect: done(false),
                unit: None,
            };
        }
    }
    if roll < 54 {
        if let Some((v, e)) = rng.pick(&prefer(&approved, |c| c.1, staging_first)) {
            let current = w.current(&v.name, e);
            let expect = match current.and_then(|r| r.canary) {
                Some(_) => Expect::Refused("canary_running"),
                None => done(true),
            };
            let mut args = strings(&["activate", &reference(v), "--env", e, "--as", "alice"]);
            if rng.below(3) == 0 {
                // The state it expects, given explicitly.
                let active = current.map_or("none".to_string(), |r| {
                    w.version(r.stable).digest[..20].to_string()
                });
                args.extend(strings(&["--expect-active", &active]));
                if current.is_some_and(|r| r.canary.is_none()) || current.is_none() {
                    args.extend(strings(&["--expect-canary", "none"]));
                }
            }
            return Plan {
                kind: "activate",
                prepare: None,
                args,
                expect,
                unit: Some((v.name.clone(), e.to_string())),
            };
        }
    }
    if roll < 58 {
        // Refusals: a stale expectation, or too few approvals.
        if let Some((v, e)) = rng.pick(&approved).filter(|_| rng.below(2) == 0) {
            return Plan {
                kind: "activate-refused",
                prepare: None,
                args: strings(&[
                    "activate",
                    &reference(v),
                    "--env",
                    e,
                    "--expect-active",
                    "sha256:0000000000",
                    "--as",
                    "alice",
                ]),
                expect: Expect::Refused("stale_state"),
                unit: None,
            };
        }
        if let Some((v, e)) = rng.pick(&unapproved) {
            let canary = w.current(&v.name, e).is_some_and(|r| r.canary.is_some());
            return Plan {
                kind: "activate-refused",
                prepare: None,
                args: strings(&["activate", &reference(v), "--env", e, "--as", "alice"]),
                expect: Expect::Refused(if canary {
                    "canary_running"
                } else {
                    "quorum_not_met"
                }),
                unit: None,
            };
        }
    }
    if roll < 70 {
        let (b, e) = mostly(rng, &canaries);
        return Plan {
            kind: "promote",
            prepare: None,
            args: strings(&[
                "promote",
                &b,
                "--env",
                &e,
                "--metrics",
                &files["passing"],
                "--as",
                "alice",
            ]),
            expect: no_canary_refusal(&b, &e).map_or(done(true), Expect::Refused),
            unit: Some((b, e)),
        };
    }
    if roll < 86 {
        let (b, e) = mostly(rng, &canaries);
        let trip = roll < 82;
        return Plan {
            kind: if trip { "monitor" } else { "monitor-quiet" },
            prepare: None,
            args: strings(&[
                "monitor",
                "--bundle",
                &b,
                "--env",
                &e,
                "--metrics",
                &files[if trip { "tripping" } else { "passing" }],
            ]),
            expect: no_canary_refusal(&b, &e).map_or(done(trip), Expect::Refused),
            unit: Some((b, e)),
        };
    }
    if roll < 96 {
        let (b, e) = mostly(rng, &rolled_out);
        return Plan {
            kind: "rollback",
            prepare: None,
            args: strings(&[
                "rollback",
                "--env",
                &e,
                "--bundle",
                &b,
                "--reason",
                "the crash test rolls it back",
                "--as",
                "alice",
            ]),
            expect: w
                .rollback_refusal(&b, &e)
                .map_or(done(true), Expect::Refused),
            unit: Some((b, e)),
        };
    }
    // Refused approvals: the author, the same key twice, a rejection
    // without a reason.
    if let Some((v, e, a)) = rng.pick(&decided).filter(|_| rng.below(3) == 0) {
        return Plan {
            kind: "approve-refused",
            prepare: None,
            args: strings(&[
                "approve",
                &reference(v),
                "--env",
                e,
                "--comment",
                "once more",
                "--as",
                a,
            ]),
            expect: Expect::Refused("already_decided"),
            unit: None,
        };
    }
    let (v, e) = rng.pick(&open).unwrap();
    let (who, comment, code) = if rng.below(2) == 0 {
        ("alice", "my own, and fine", "author_cannot_approve")
    } else {
        ("bob", "nope", "comment_required")
    };
    Plan {
        kind: "approve-refused",
        prepare: None,
        args: strings(&[
            if code == "comment_required" {
                "reject"
            } else {
                "approve"
            },
            &reference(v),
            "--env",
            e,
            "--comment",
            comment,
            "--as",
            who,
        ]),
        expect: Expect::Refused(code),
        unit: None,
    }
}

/// Issue 20: "the store issue's crash-safety test extended to these
/// operations: every approval kept, no half-done promotion or rollback,
/// serials never reused". 400 seeded lifecycle operations (submit,
/// approve, reject, activate, promote, monitor with tripping and with
/// healthy metrics, rollback, and refusals) in dev (canary off) and staging
/// (canary on), both with bake time 0. Once a kind's uninterrupted runs
/// are measured, three in five of its runs that change something (one in
/// five of its refusals) get a SIGKILL: half of those within the span
/// where its transaction holds the store's write lock (seen with
/// `WriteLock`), the others anywhere in the run. After every
/// operation: the store opens, `check_world`'s invariants hold, and `gavel
/// audit verify` exits 0; an operation not killed did exactly what it must
/// (its exit and error code, one audit entry, its rollout moved one serial)
/// or, refused, changed nothing; a killed one left one audit entry or none.
/// About a minute on two loaded cores in a debug build.
#[test]
fn gavel_killed_at_random_points_of_lifecycle_operations_leaves_no_half_done_change() {
    const OPERATIONS: usize = 400;
    let seed = std::env::var("GAVEL_LIFECYCLE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6c69_6665_0020_u64);
    eprintln!("lifecycle crash test seed {seed} (set GAVEL_LIFECYCLE_CRASH_SEED to repeat a run)");
    let started = Instant::now();
    let mut rng = Rng(seed);
    let env = Env::new();
    let ids = team(&env, &APPROVERS);
    env.ok(&["env", "set", "staging", "--bake-time", "0", "--as", "alice"]);
    let files = BTreeMap::from([
        ("passing", env.write("passing.json", &passing())),
        ("tripping", env.write("tripping.json", &tripping())),
    ]);
    // The operator key is made by the first rollout change, uninterrupted:
    // a kill between its keychain entry and its row would leave a key in
    // the keychain only, which is not what this test is about.
    let file = env.write("first.yaml", &crash_bundle("crash-a", "1.0.0", 0));
    env.ok(&["bundle", "new", &file, "--as", "alice"]);
    env.ok(&["submit", "crash-a@1.0.0", "--as", "alice"]);
    env.ok(&[
        "approve",
        "crash-a@1.0.0",
        "--env",
        "dev",
        "--comment",
        "first one",
        "--as",
        "bob",
    ]);
    env.ok(&["activate", "crash-a@1.0.0", "--env", "dev", "--as", "alice"]);

    let mut kept: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut timings = Timings::default();
    let mut world = read_world(&env.db());
    check_world(&world, &kept);
    let (mut attempts, mut killed, mut in_tx, mut committed) = (0, 0, 0, 0);
    let mut done_by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let mut killed_by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for n in 0..OPERATIONS {
        let p = plan(&world, &mut rng, &env, &ids, &files, n);
        if let Some(prepare) = &p.prepare {
            let args: Vec<&str> = prepare.iter().map(String::as_str).collect();
            env.ok(&args);
            world = read_world(&env.db());
        }
        let before_snapshot = matches!(p.expect, Expect::Refused(_)).then(|| snapshot(&env.db()));
        let serial_before = p
            .unit
            .as_ref()
            .and_then(|(b, e)| world.current(b, e))
            .map_or(0, |r| r.serial);
        // Three in five of the operations that change something, one in
        // five of the refusals (which exit before any write).
        let share = if matches!(p.expect, Expect::Done { .. }) {
            3
        } else {
            1
        };
        let kill = if rng.below(5) < share {
            timings.kill(p.kind, &mut rng)
        } else {
            None
        };
        attempts += usize::from(kill.is_some());
        let o = observe(&env, &p.args, kill, n);
        let after = read_world(&env.db());
        check_world(&after, &kept);
        let verify = env.run(&["audit", "verify"]);
        assert_eq!(
            (
                verify.status.code(),
                &json_of(&verify, &["audit", "verify"])["valid"]
            ),
            (Some(0), &json!(true)),
            "after operation {n} {:?}",
            p.args
        );
        let new_entries = after.audit.len() - world.audit.len();
        let at = format!("operation {n} {:?}", p.args);
        if o.killed {
            killed += 1;
            *killed_by_kind.entry(p.kind).or_default() += 1;
            in_tx += usize::from(o.killed_in_transaction);
            committed += new_entries;
            assert!(
                new_entries <= 1,
                "{at}: killed, it left {new_entries} entries"
            );
            world = after;
            continue;
        }
        let v = json_of(&o.out, &[p.kind]);
        match p.expect {
            Expect::Refused(code) => {
                assert_eq!(
                    (o.out.status.code(), v["error"]["code"].as_str()),
                    (Some(1), Some(code)),
                    "{at}: {v}"
                );
                assert_eq!(
                    snapshot(&env.db()),
                    before_snapshot.unwrap(),
                    "{at}: a refusal wrote to the store"
                );
            }
            Expect::Done { moves } => {
                assert_eq!(o.out.status.code(), Some(0), "{at}: {v}");
                assert_eq!(new_entries, 1, "{at}: one audit entry");
                timings.record(p.kind, &o);
                *done_by_kind.entry(p.kind).or_default() += 1;
                if let Some((b, e)) = &p.unit {
                    let serial = after.current(b, e).map_or(0, |r| r.serial);
                    let want = serial_before + i64::from(moves);
                    assert_eq!(serial, want, "{at}: the serial of {b} in {e}");
                    if moves {
                        assert_eq!(v["rollout"]["serial"], want, "{at}: {v}");
                    }
                }
                match p.kind {
                    "approve" | "reject" => {
                        let key = (
                            v["digest"].as_str().unwrap().to_string(),
                            v["environment"].as_str().unwrap().to_string(),
                            v["keyid"].as_str().unwrap().to_string(),
                        );
                        assert!(after.decided(&key.0, &key.1, &key.2), "{at}");
                        kept.insert(key);
                    }
                    "monitor" => assert_eq!(v["action"], "auto_rollback", "{at}: {v}"),
                    "monitor-quiet" => assert_eq!(v["action"], "none", "{at}: {v}"),
                    "submit" => assert!(v["digest"].is_string(), "{at}: {v}"),
                    kind => assert_eq!(v["action"], kind, "{at}: {v}"),
                }
            }
        }
        world = after;
    }
    let elapsed = started.elapsed();
    let rollouts = world.rollouts.len();
    eprintln!(
        "lifecycle crash test: {OPERATIONS} operations, {attempts} kill attempts, {killed} killed \
         ({in_tx} holding the write lock, {committed} after their change committed), {} survived; \
         {} rollout documents, {} approvals, {} audit entries at the end; run to the end by kind {done_by_kind:?}, killed by kind {killed_by_kind:?}; {elapsed:.1?}",
        OPERATIONS - killed,
        rollouts,
        world.approvals.len(),
        world.audit.len(),
    );
    eprintln!("uninterrupted timings: {}", timings.summary());
    // The kills must land: most attempts kill their run. (A fixed count of
    // kills, `killed > OPERATIONS / 5`, was near the count a run expects,
    // about 115 attempts times 0.7, and failed a run with 79.)
    assert!(
        attempts > OPERATIONS / 5,
        "too few kill attempts: {attempts}"
    );
    assert!(
        killed * 2 > attempts,
        "too few of {attempts} kill attempts killed their run: {killed}"
    );
    assert!(
        in_tx > 0 && committed > 0,
        "kills land on both sides of the commit: {in_tx} inside a transaction, {committed} after it"
    );
    // Which kinds get killed depends on the timing of the run (how many
    // canaries there are to promote or roll back); that each ran to the
    // end does not.
    for kind in [
        "submit", "approve", "activate", "promote", "monitor", "rollback",
    ] {
        assert!(
            done_by_kind.contains_key(kind),
            "no `{kind}` ran to the end: {done_by_kind:?}"
        );
    }
}
