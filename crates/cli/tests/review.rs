//! Offline review end to end through the `gavel` binary with the real OS
//! keychain (issue 20): two `GAVEL_HOME`s, the console's and a reviewer's,
//! each with its own keychain service and identity. Pack on the console,
//! show and sign on the reviewer's machine, import back; the approval
//! counts toward the quorum. A package edited after packing is refused at
//! `review sign`, an approval edited after signing at `review import`, each
//! with exit 1, its code, and nothing written.
//!
//! Runs inside a D-Bus session with an unlocked gnome-keyring (as the
//! `keychain` test binary does); compiled only with `--features
//! real-keychain-tests`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use gavel_console::{Keychain, OsKeychain};
use serde_json::{Value, json};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One machine: a `GAVEL_HOME` and a keychain service of its own.
struct Home {
    dir: tempfile::TempDir,
    service: String,
}

impl Home {
    fn new(who: &str) -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
            service: format!(
                "gavel-review-test-{who}-{}-{}",
                std::process::id(),
                jiff::Timestamp::now().as_nanosecond()
            ),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn gavel(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_gavel"))
            .args(args)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .env("GAVEL_HOME", self.dir.path())
            .env("GAVEL_KEYCHAIN_SERVICE", &self.service)
            .env_remove("GAVEL_IDENTITY")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.gavel(args);
        assert!(
            out.status.success(),
            "gavel {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `gavel … --format json` that must exit `code`: its error object.
    fn refused(&self, args: &[&str], code: i32) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let out = self.gavel(&all);
        assert_eq!(
            out.status.code(),
            Some(code),
            "gavel {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: "), "{stderr}");
        json(&String::from_utf8_lossy(&out.stdout))["error"].clone()
    }

    /// Records the identities' keychain accounts for `Drop` to delete.
    fn remember_accounts(&self) {
        let list = json(&self.ok(&["keys", "list", "--format", "json"]));
        let accounts: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["identity"] == true)
            .map(|k| format!("ed25519:{}", k["keyid"].as_str().unwrap()))
            .collect();
        std::fs::write(self.path("accounts.txt"), accounts.join("\n")).unwrap();
    }

    /// Every audit entry and every approval row of the store, read
    /// directly: what a refusal must leave as it was.
    fn state(&self) -> (Vec<gavel_store::AuditEntry>, Vec<String>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let s = gavel_store::Store::open(&self.path("gavel.db"))
                .await
                .unwrap();
            let audit = s.audit_page(0, i64::MAX).await.unwrap();
            let mut rows = Vec::new();
            let (versions, _) = s.version_history("inbox-triage").await.unwrap();
            for v in versions {
                rows.push(format!("{} {}", v.reference(), v.status.as_str()));
                for a in s.approvals(&v.digest, None).await.unwrap() {
                    rows.push(format!(
                        "{} {} {}",
                        a.environment,
                        a.keyid,
                        a.decision.as_str()
                    ));
                }
                for (env, state, _) in s.deploy_states(v.id).await.unwrap() {
                    rows.push(format!("{env} {}", state.as_str()));
                }
            }
            (audit, rows)
        })
    }

    /// The files in the home (to see that a refusal wrote none), leaving
    /// out SQLite's `-wal` and `-shm` files, which come and go with its
    /// connections whatever gavel does.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm"))
            .collect();
        names.sort();
        names
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let kc = OsKeychain::new(&self.service);
        if let Ok(text) = std::fs::read_to_string(self.path("accounts.txt")) {
            for account in text.lines() {
                let _ = kc.delete(account);
            }
        }
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn read(path: &Path) -> Value {
    json(&std::fs::read_to_string(path).unwrap())
}

/// `envelope` with its payload edited and encoded again, its signature
/// left as it was, written to `path`.
fn write_edited(envelope: &Value, path: &Path, edit: impl FnOnce(&mut Value)) {
    let mut p: Value =
        serde_json::from_slice(&B64.decode(envelope["payload"].as_str().unwrap()).unwrap())
            .unwrap();
    edit(&mut p);
    let mut out = envelope.clone();
    out["payload"] = B64.encode(serde_json::to_vec(&p).unwrap()).into();
    std::fs::write(path, serde_json::to_string_pretty(&out).unwrap()).unwrap();
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn offline_review_between_two_homes_through_the_binary() {
    // The console: alice (bootstrap: every person role) and carol, an
    // approver.
    let console = Home::new("console");
    console.ok(&["keys", "gen", "--name", "alice", "--email", "a@example.com"]);
    console.ok(&[
        "keys",
        "gen",
        "--name",
        "carol",
        "--email",
        "c@example.com",
        "--roles",
        "approver",
        "--as",
        "alice",
    ]);
    console.remember_accounts();
    // The reviewer's machine: rita, an approver there and nothing else.
    let reviewer = Home::new("reviewer");
    reviewer.ok(&[
        "keys",
        "gen",
        "--name",
        "rita",
        "--email",
        "r@example.com",
        "--roles",
        "approver",
    ]);
    reviewer.remember_accounts();
    let rita_pub = console.path("rita.pub.json");
    std::fs::write(&rita_pub, reviewer.ok(&["keys", "export", "rita"])).unwrap();
    console.ok(&[
        "keys",
        "trust",
        s(&rita_pub),
        "--roles",
        "approver",
        "--as",
        "alice",
    ]);

    let made = json(&console.ok(&[
        "bundle",
        "new",
        "fixtures/bundles/inbox-triage.yaml",
        "--as",
        "alice",
        "--format",
        "json",
    ]));
    let digest = made["digest"].as_str().unwrap().to_string();
    // A draft takes no package.
    let e = console.refused(
        &[
            "review",
            "pack",
            "inbox-triage@1.0.0",
            "--env",
            "prod",
            "--as",
            "alice",
        ],
        1,
    );
    assert_eq!(e["code"], "not_submitted");
    console.ok(&["submit", "inbox-triage@1.0.0", "--as", "alice"]);

    // Pack.
    let pkg = reviewer.path("inbox-triage.review.json");
    let packed = json(&console.ok(&[
        "review",
        "pack",
        "inbox-triage@1.0.0",
        "--env",
        "prod",
        "--out",
        s(&pkg),
        "--as",
        "alice",
        "--format",
        "json",
    ]));
    assert_eq!(packed["digest"], digest.as_str());
    assert_eq!(packed["environment"], "prod");
    assert_eq!(packed["base_digest"], Value::Null);
    assert_eq!(packed["approvals"], 0);
    assert_eq!(packed["out"], s(&pkg));
    let envelope = read(&pkg);
    assert_eq!(
        envelope["payloadType"],
        "application/vnd.gavel.review.v1+json"
    );
    let verified = json(&console.ok(&["verify", s(&pkg), "--format", "json"]));
    assert_eq!(verified["valid"], true, "{verified}");
    assert_eq!(verified["signers"][0]["name"], "alice");

    // Show on the reviewer's machine: consistent, signer unknown there.
    let shown = json(&reviewer.ok(&["review", "show", s(&pkg), "--format", "json"]));
    assert_eq!(shown["valid"], true, "{shown}");
    assert_eq!(shown["consistent"], true);
    assert_eq!(shown["signature"]["status"], "unknown_signer");
    assert_eq!(
        shown["proposed"],
        json!({"version": "1.0.0", "digest": digest})
    );
    assert_eq!(shown["base"], Value::Null);
    assert_eq!(shown["author"], "alice");
    assert_eq!(shown["approvals"], json!([]));
    let text = reviewer.ok(&["review", "show", s(&pkg)]);
    assert!(
        text.starts_with("review of inbox-triage@1.0.0 for prod (author alice)"),
        "{text}"
    );
    assert!(text.contains("signature: unknown signer"), "{text}");
    assert!(text.contains("ready to review"), "{text}");

    // A package edited after packing: refused at sign, nothing written.
    let before = (reviewer.state(), reviewer.files());
    let edited = reviewer.path("edited.review.json");
    write_edited(&envelope, &edited, |p| {
        p["proposed"]["bundle"]["rules"][3]["conditions"][">=risk_score"] = json!(10);
    });
    let approval = reviewer.path("rita.approval.json");
    let e = reviewer.refused(
        &[
            "review",
            "sign",
            s(&edited),
            "--decision",
            "approve",
            "--comment",
            "ok",
            "--out",
            s(&approval),
        ],
        1,
    );
    assert_eq!(e["code"], "package_refused", "{e}");
    let m = e["message"].as_str().unwrap();
    assert!(m.contains("`proposed.digest` says"), "{m}");
    assert!(m.contains("nothing was signed"), "{m}");
    assert_eq!(e["file"], s(&edited));
    assert!(!approval.exists());
    let mut files = before.1.clone();
    files.push("edited.review.json".into());
    files.sort();
    assert_eq!(reviewer.files(), files, "no approval, no temporary file");
    assert_eq!(reviewer.state(), before.0);
    let shown = reviewer.gavel(&["review", "show", s(&edited), "--format", "json"]);
    assert_eq!(shown.status.code(), Some(1));
    let shown = json(&String::from_utf8_lossy(&shown.stdout));
    assert_eq!(
        (shown["valid"].clone(), shown["consistent"].clone()),
        (json!(false), json!(false))
    );
    // A rejection needs a reason.
    let e = reviewer.refused(
        &[
            "review",
            "sign",
            s(&pkg),
            "--decision",
            "reject",
            "--comment",
            "no",
            "--out",
            s(&approval),
        ],
        1,
    );
    assert_eq!(e["code"], "comment_required");
    assert!(!approval.exists());

    // Sign offline.
    let signed = json(&reviewer.ok(&[
        "review",
        "sign",
        s(&pkg),
        "--decision",
        "approve",
        "--comment",
        "Diff and impact reviewed offline",
        "--out",
        s(&approval),
        "--format",
        "json",
    ]));
    assert_eq!(signed["approver"], "rita");
    assert_eq!(signed["decision"], "approve");
    assert_eq!(signed["digest"], digest.as_str());
    assert_eq!(signed["package"]["status"], "unknown_signer");
    assert_eq!(signed["out"], s(&approval));
    let approval_doc = read(&approval);
    assert_eq!(
        approval_doc["payloadType"],
        "application/vnd.gavel.approval.v1+json"
    );
    assert_eq!(
        reviewer.state(),
        before.0,
        "the reviewer's store is not written"
    );

    // An approval edited after signing: refused at import, nothing written.
    let before = console.state();
    let tampered = console.path("tampered.approval.json");
    write_edited(&approval_doc, &tampered, |p| {
        p["comment"] = json!("Approved, said nobody");
    });
    let e = console.refused(&["review", "import", s(&tampered)], 1);
    assert_eq!(e["code"], "approval_refused");
    assert!(
        e["message"].as_str().unwrap().contains("bad_signature"),
        "{e}"
    );
    assert_eq!(console.state(), before);
    // Not JSON at all: exit 2.
    let junk = console.path("junk.json");
    std::fs::write(&junk, "not json").unwrap();
    let e = console.refused(&["review", "import", s(&junk)], 2);
    assert_eq!(e["code"], "syntax_error");
    let e = console.refused(&["review", "show", s(&junk)], 2);
    assert_eq!(e["code"], "syntax_error");
    assert_eq!(console.state(), before);

    // Import: it counts toward prod's quorum of 2.
    let imported = json(&console.ok(&["review", "import", s(&approval), "--format", "json"]));
    assert_eq!(imported["approver"], "rita");
    assert_eq!(imported["approvals"], 1);
    assert_eq!(imported["required"], 2);
    assert_eq!(imported["state"], "pending");
    let status = json(&console.ok(&[
        "status",
        "--bundle",
        "inbox-triage",
        "--env",
        "prod",
        "--format",
        "json",
    ]));
    let pending = &status["environments"][0]["bundles"][0]["pending"][0];
    assert_eq!(pending["approvers"], json!(["rita"]), "{status}");
    assert_eq!(pending["needs"], 1);
    // Twice: refused, nothing written.
    let before = console.state();
    let e = console.refused(&["review", "import", s(&approval)], 1);
    assert_eq!(e["code"], "already_decided");
    assert_eq!(console.state(), before);
    let e = console.refused(
        &[
            "activate",
            "inbox-triage@1.0.0",
            "--env",
            "prod",
            "--as",
            "alice",
        ],
        1,
    );
    assert_eq!(e["code"], "quorum_not_met");
    // A second approval, local this time, reaches the quorum.
    console.ok(&[
        "approve",
        "inbox-triage@1.0.0",
        "--env",
        "prod",
        "--comment",
        "Looks right",
        "--as",
        "carol",
    ]);
    let done = json(&console.ok(&[
        "activate",
        "inbox-triage@1.0.0",
        "--env",
        "prod",
        "--as",
        "alice",
        "--format",
        "json",
    ]));
    assert_eq!(done["rollout"]["active"]["digest"], digest.as_str());
    let log = console.state().0;
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    for a in ["review.pack", "approval.approve", "rollout.activate"] {
        assert!(actions.contains(&a), "{a}: {actions:?}");
    }
    let imported_entry = log
        .iter()
        .find(|e| e.action == "approval.approve" && e.details["source"] == "review")
        .unwrap();
    assert_eq!(imported_entry.actor, "rita");
    let v = json(&console.ok(&["audit", "verify", "--format", "json"]));
    assert_eq!(v["valid"], true, "{v}");
}
