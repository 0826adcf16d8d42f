//! The lifecycle of a version over a real store (SQLite in a temporary
//! home) with an in-memory keychain: every transition, every refusal with
//! the store and the audit chain left exactly as they were, the quorum
//! rules, canary promotion and rollback, and two consoles racing on one
//! environment. The real keychain and the `gavel` binary are exercised in
//! the CLI's `tests/lifecycle.rs`.

use std::path::Path;
use std::sync::Arc;

use gavel_console::{
    Console, Decision, DeployState, EnvSettings, Expect, LifecycleError, MemoryKeychain,
};
use gavel_governance::canary::Metrics;
use gavel_trust::{PayloadKind, Role, VerifyOptions};
use serde_json::{Value, json};

struct Team {
    home: tempfile::TempDir,
    console: Console,
    keychain: Arc<MemoryKeychain>,
}

/// alice (every person role: she authors), bob and carol (approvers),
/// dave (author only).
async fn team() -> Team {
    let home = tempfile::tempdir().unwrap();
    let keychain = Arc::new(MemoryKeychain::default());
    let console = Console::open(home.path(), keychain.clone()).await.unwrap();
    console
        .generate_identity("alice", "a@example.com", None, None)
        .await
        .unwrap();
    for name in ["bob", "carol", "erin"] {
        console
            .generate_identity(
                name,
                "x@example.com",
                Some(vec![Role::Approver]),
                Some("alice"),
            )
            .await
            .unwrap();
    }
    console
        .generate_identity(
            "dave",
            "d@example.com",
            Some(vec![Role::Author]),
            Some("alice"),
        )
        .await
        .unwrap();
    Team {
        home,
        console,
        keychain,
    }
}

impl Team {
    /// Another console on the same home and keychain: another process.
    async fn second(&self) -> Console {
        Console::open(self.home.path(), self.keychain.clone())
            .await
            .unwrap()
    }

    async fn draft(&self, name: &str, version: &str, rules: &str) -> String {
        let text = bundle(name, version, rules);
        let v = self
            .console
            .create_version(&format!("{name}.yaml"), &text, None, Some("alice"))
            .await
            .unwrap();
        v.reference
    }

    async fn submitted(&self, name: &str, version: &str, rules: &str) -> String {
        let r = self.draft(name, version, rules).await;
        self.console.submit(&r, Some("alice")).await.unwrap();
        r
    }

    async fn approve(&self, reference: &str, env: &str, who: &str) {
        self.console
            .decide(
                reference,
                env,
                Decision::Approve,
                "looks right",
                None,
                Some(who),
            )
            .await
            .unwrap();
    }

    async fn activate(&self, reference: &str, env: &str) -> gavel_console::Transition {
        self.console
            .activate(reference, env, &Expect::default(), Some("alice"))
            .await
            .unwrap()
    }

    async fn no_bake_time(&self, env: &str) {
        let settings = EnvSettings {
            bake_time_seconds: Some(0),
            ..Default::default()
        };
        self.console
            .set_environment(env, settings, Some("alice"))
            .await
            .unwrap();
    }

    /// Every row of every table, and the audit chain, as text.
    async fn snapshot(&self) -> Vec<String> {
        snapshot(self.home.path()).await
    }
}

async fn snapshot(home: &Path) -> Vec<String> {
    use sqlx::Row;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", home.join("gavel.db").display()))
        .await
        .unwrap();
    let mut out = Vec::new();
    for table in [
        "bundle_versions",
        "environments",
        "deployments",
        "approvals",
        "rollouts",
        "gate_checks",
        "incidents",
        "trusted_keys",
        "audit_log",
    ] {
        for r in sqlx::query(&format!("SELECT * FROM {table} ORDER BY 1"))
            .fetch_all(&pool)
            .await
            .unwrap()
        {
            let cells: Vec<String> = (0..r.len())
                .map(|i| {
                    r.try_get::<Option<String>, _>(i)
                        .ok()
                        .flatten()
                        .or_else(|| {
                            r.try_get::<Option<i64>, _>(i)
                                .ok()
                                .flatten()
                                .map(|n| n.to_string())
                        })
                        .unwrap_or_default()
                })
                .collect();
            out.push(format!("{table}: {}", cells.join(" | ")));
        }
    }
    pool.close().await;
    out
}

fn bundle(name: &str, version: &str, rules: &str) -> String {
    format!(
        "apiVersion: gavel/v1\nkind: PolicyBundle\nmetadata:\n  name: {name}\n  version: {version}\n  actions: [refund]\nrules:\n{rules}"
    )
}

const ALLOW_SMALL: &str = "  - id: allow-small\n    agent: billing.refunds\n    action: refund\n    effect: allow\n    conditions: {\"<=amount\": 100}\n    reason: Small refunds are fine\n";
const DENY_ALL: &str = "  - id: deny-refunds\n    agent: billing.refunds\n    action: refund\n    effect: deny\n    reason: No refunds at all today\n";
const THREE: &str = "  - id: big-refund\n    agent: billing.refunds\n    action: refund\n    effect: needs_approval\n    approvals_required: 3\n    reason: Big refunds need three people\n";

fn metrics(total: u64, errors: u64, denies: u64) -> Metrics {
    Metrics::from_json(&json!({
        "total_decisions": total, "error_count": errors, "deny_count": denies,
        "baseline_avg_cost": 1.0, "canary_avg_cost": 1.0,
        "stable": {"total_decisions": total, "error_count": errors, "deny_count": denies, "no_match_count": 0},
    }))
    .unwrap()
}

fn without_stable(total: u64, errors: u64, denies: u64) -> Metrics {
    Metrics::from_json(&json!({
        "total_decisions": total, "error_count": errors, "deny_count": denies,
        "baseline_avg_cost": 1.0, "canary_avg_cost": 1.0,
    }))
    .unwrap()
}

fn code(e: &LifecycleError) -> &'static str {
    e.code().unwrap_or_else(|| match e {
        LifecycleError::Version(gavel_console::VersionError::Console(c)) => c.code(),
        LifecycleError::Version(v) => v.code().unwrap_or("console"),
        _ => "?",
    })
}

/// Runs a change that must be refused: the code, exit 1 (a refusal), and
/// not one row or audit entry changed.
async fn refused<T: std::fmt::Debug>(
    t: &Team,
    want: &str,
    f: impl std::future::Future<Output = Result<T, LifecycleError>>,
) -> String {
    let before = t.snapshot().await;
    let e = f.await.expect_err("the change must be refused");
    assert_eq!(code(&e), want, "{e}");
    assert!(e.is_refusal(), "a refusal is exit 1: {e}");
    assert_eq!(t.snapshot().await, before, "a refusal wrote something: {e}");
    e.to_string()
}

#[tokio::test]
async fn environments_have_the_default_settings_and_can_be_added_and_changed() {
    let t = team().await;
    let envs = t.console.environments().await.unwrap();
    let got: Vec<(String, u32, bool, i64)> = envs
        .iter()
        .map(|e| (e.name.clone(), e.quorum, e.canary, e.bake_time_seconds))
        .collect();
    assert_eq!(
        got,
        vec![
            ("dev".into(), 1, false, 0),
            ("staging".into(), 1, true, 3_600),
            ("prod".into(), 2, true, 86_400),
        ]
    );
    let qa = t
        .console
        .add_environment(
            "qa",
            EnvSettings {
                quorum: Some(3),
                ..Default::default()
            },
            Some("alice"),
        )
        .await
        .unwrap();
    assert_eq!(
        (qa.quorum, qa.canary, qa.bake_time_seconds, qa.min_samples),
        (3, true, 3600, 100)
    );
    // Listed in the order they were made: the path a version takes.
    let names: Vec<String> = t
        .console
        .environments()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["dev", "staging", "prod", "qa"]);
    refused(
        &t,
        "environment_exists",
        t.console
            .add_environment("qa", EnvSettings::default(), Some("alice")),
    )
    .await;
    // Only a security identity changes what an approval needs.
    let weaker = EnvSettings {
        quorum: Some(1),
        ..Default::default()
    };
    refused(
        &t,
        "refused",
        t.console.set_environment("prod", weaker, Some("bob")),
    )
    .await;
    refused(
        &t,
        "refused",
        t.console
            .add_environment("qa2", EnvSettings::default(), Some("bob")),
    )
    .await;
    assert_eq!(t.console.environments().await.unwrap()[2].quorum, 2);
    let set = t
        .console
        .set_environment(
            "prod",
            EnvSettings {
                canary: Some(false),
                bake_time_seconds: Some(60),
                ..Default::default()
            },
            Some("alice"),
        )
        .await
        .unwrap();
    assert_eq!(
        (set.quorum, set.canary, set.bake_time_seconds),
        (2, false, 60)
    );
    for bad in ["", "Prod", "1x", "a b", &"x".repeat(65)] {
        let e = t
            .console
            .add_environment(bad, EnvSettings::default(), Some("alice"))
            .await
            .unwrap_err();
        assert_eq!(code(&e), "invalid_setting", "{bad:?}");
        assert!(!e.is_refusal());
    }
    let e = t
        .console
        .set_environment(
            "prod",
            EnvSettings {
                quorum: Some(0),
                ..Default::default()
            },
            Some("alice"),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "invalid_setting");
    let e = t
        .console
        .set_environment("nowhere", EnvSettings::default(), Some("alice"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "not_found");
}

#[tokio::test]
async fn submitting_freezes_a_draft_once() {
    let t = team().await;
    let r = t.draft("payments", "1.0.0", ALLOW_SMALL).await;
    refused(
        &t,
        "not_submitted",
        t.console
            .decide(&r, "dev", Decision::Approve, "ok", None, Some("bob")),
    )
    .await;
    refused(
        &t,
        "not_submitted",
        t.console
            .activate(&r, "dev", &Expect::default(), Some("alice")),
    )
    .await;
    let v = t.console.submit(&r, Some("alice")).await.unwrap();
    assert_eq!(v.reference, "payments@1.0.0");
    refused(&t, "not_a_draft", t.console.submit(&r, Some("alice"))).await;
    let e = t
        .console
        .edit_version(
            &r,
            "payments.yaml",
            &bundle("payments", "1.0.0", DENY_ALL),
            Some("alice"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("not_a_draft"));
}

#[tokio::test]
async fn approvals_are_refused_to_authors_non_approvers_repeats_and_short_rejections() {
    let t = team().await;
    let r = t.submitted("payments", "1.0.0", ALLOW_SMALL).await;
    let msg = refused(
        &t,
        "author_cannot_approve",
        t.console
            .decide(&r, "prod", Decision::Approve, "mine", None, Some("alice")),
    )
    .await;
    assert!(msg.contains("alice") && msg.contains("author"), "{msg}");
    let msg = refused(
        &t,
        "not_an_approver",
        t.console
            .decide(&r, "prod", Decision::Approve, "ok", None, Some("dave")),
    )
    .await;
    assert!(msg.contains("approver role"), "{msg}");
    refused(
        &t,
        "comment_required",
        t.console
            .decide(&r, "prod", Decision::Reject, "too short", None, Some("bob")),
    )
    .await;
    let e = t
        .console
        .decide(&r, "nowhere", Decision::Approve, "ok", None, Some("bob"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "not_found");

    let rec = t
        .console
        .decide(
            &r,
            "prod",
            Decision::Approve,
            "diff reviewed",
            None,
            Some("bob"),
        )
        .await
        .unwrap();
    assert_eq!(
        (rec.approvals, rec.required, rec.state),
        (1, 2, DeployState::Pending)
    );
    let msg = refused(
        &t,
        "already_decided",
        t.console
            .decide(&r, "prod", Decision::Approve, "again", None, Some("bob")),
    )
    .await;
    assert!(
        msg.contains("already approved `payments@1.0.0` for prod"),
        "{msg}"
    );
    refused(
        &t,
        "already_decided",
        t.console.decide(
            &r,
            "prod",
            Decision::Reject,
            "changed my mind",
            None,
            Some("bob"),
        ),
    )
    .await;

    // The envelope is an approval.v1 signed by bob, carrying the statement
    // and its evidence, and it verifies against the trust store.
    let check = gavel_trust::verify_by_owner(
        &rec.envelope,
        &VerifyOptions {
            now: jiff::Timestamp::now(),
            trusted: &t.console.trusted_keys().await.unwrap(),
            secret: None,
            expected_type: Some(PayloadKind::Approval.media_type()),
        },
    );
    assert!(check.valid, "{}", check.message);
    let p = check.payload.unwrap();
    assert_eq!(p["digest"], json!(rec.digest));
    assert_eq!(p["base_digest"], Value::Null);
    assert_eq!(p["version"], "1.0.0");
    assert_eq!(p["environment"], "prod");
    assert_eq!(p["decision"], "approve");
    assert_eq!(p["approver"], "bob");
    assert_eq!(p["roles"], json!(["approver"]));
    assert_eq!(p["evidence"]["lint"]["errors"], 0);
    assert!(
        p["evidence"]["impact"]["deny_to_allow"].as_u64().unwrap() > 0,
        "{}",
        p["evidence"]
    );

    let rej = t
        .console
        .decide(
            &r,
            "prod",
            Decision::Reject,
            "refunds need a cap per day",
            None,
            Some("carol"),
        )
        .await
        .unwrap();
    assert_eq!(rej.state, DeployState::Rejected);
    refused(
        &t,
        "review_closed",
        t.console
            .decide(&r, "prod", Decision::Approve, "ok", None, Some("erin")),
    )
    .await;
    let msg = refused(
        &t,
        "rejected",
        t.console
            .activate(&r, "prod", &Expect::default(), Some("alice")),
    )
    .await;
    assert!(
        msg.contains("carol") && msg.contains("cap per day"),
        "{msg}"
    );
}

#[tokio::test]
async fn prod_needs_two_distinct_approvers_and_a_dev_approval_never_counts_there() {
    let t = team().await;
    let r = t.submitted("payments", "1.0.0", ALLOW_SMALL).await;
    t.approve(&r, "dev", "bob").await;
    t.approve(&r, "dev", "carol").await;
    let msg = refused(
        &t,
        "quorum_not_met",
        t.console
            .activate(&r, "prod", &Expect::default(), Some("alice")),
    )
    .await;
    assert!(
        msg.contains("0 valid approvals")
            && msg.contains("needs 2")
            && msg.contains("2 more approvers"),
        "{msg}"
    );
    t.approve(&r, "prod", "bob").await;
    let msg = refused(
        &t,
        "quorum_not_met",
        t.console
            .activate(&r, "prod", &Expect::default(), Some("alice")),
    )
    .await;
    assert!(
        msg.contains("1 valid approval ") && msg.contains("1 more approver "),
        "{msg}"
    );
    t.approve(&r, "prod", "carol").await;
    assert_eq!(t.console.environments().await.unwrap().len(), 3);
    let done = t.activate(&r, "prod").await;
    // Nothing was active: straight to 100%, serial 1.
    assert_eq!(done.rollout.serial, 1);
    assert!(done.rollout.canary.is_none());
    assert_eq!(done.rollout.active.reference, "payments@1.0.0");
    // Dev has its own quorum of one, met by bob's dev approval.
    let dev = t.activate(&r, "dev").await;
    assert_eq!(dev.rollout.serial, 1);
}

#[tokio::test]
async fn a_rule_asking_for_three_approvals_raises_the_quorum_to_three() {
    let t = team().await;
    let r = t
        .submitted("payments", "1.0.0", &format!("{ALLOW_SMALL}{THREE}"))
        .await;
    for who in ["bob", "carol"] {
        t.approve(&r, "dev", who).await;
    }
    let msg = refused(
        &t,
        "quorum_not_met",
        t.console
            .activate(&r, "dev", &Expect::default(), Some("alice")),
    )
    .await;
    assert!(msg.contains("needs 3"), "{msg}");
    t.approve(&r, "dev", "erin").await;
    t.activate(&r, "dev").await;
    // A disabled rule asks for nothing.
    let disabled = THREE.replace(
        "approvals_required: 3\n",
        "approvals_required: 3\n    enabled: false\n",
    );
    let r2 = t
        .submitted("refunds", "1.0.0", &format!("{ALLOW_SMALL}{disabled}"))
        .await;
    t.approve(&r2, "dev", "bob").await;
    t.activate(&r2, "dev").await;
}

#[tokio::test]
async fn expired_approvals_and_approvers_who_lost_the_role_do_not_count() {
    let t = team().await;
    let r = t.submitted("payments", "1.0.0", ALLOW_SMALL).await;
    t.console
        .decide(
            &r,
            "dev",
            Decision::Approve,
            "short-lived",
            Some(1),
            Some("bob"),
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let msg = refused(
        &t,
        "quorum_not_met",
        t.console
            .activate(&r, "dev", &Expect::default(), Some("alice")),
    )
    .await;
    assert!(msg.contains("bob") && msg.contains("expired"), "{msg}");

    // carol approves, then a security identity takes her approver role.
    t.approve(&r, "dev", "carol").await;
    let carol = t.console.export_key("carol").await.unwrap();
    t.console
        .trust_keys(vec![carol], Some(vec![Role::Analyst]), Some("alice"))
        .await
        .unwrap();
    let msg = refused(
        &t,
        "quorum_not_met",
        t.console
            .activate(&r, "dev", &Expect::default(), Some("alice")),
    )
    .await;
    assert!(msg.contains("carol"), "{msg}");
    t.approve(&r, "dev", "erin").await;
    t.activate(&r, "dev").await;
}

#[tokio::test]
async fn canary_promotion_needs_passing_gates_and_the_bake_time() {
    let t = team().await;
    t.no_bake_time("staging").await;
    let v1 = t.submitted("payments", "1.0.0", ALLOW_SMALL).await;
    t.approve(&v1, "staging", "bob").await;
    let first = t.activate(&v1, "staging").await;
    let v1_activated = first.rollout.active.activated_at.clone();
    let v2 = t.submitted("payments", "1.1.0", DENY_ALL).await;
    t.approve(&v2, "staging", "bob").await;
    // The second approval carries the impact against the active version.
    let t2 = t.activate(&v2, "staging").await;
    let canary = t2.rollout.canary.clone().unwrap();
    assert_eq!((t2.rollout.serial, canary.percent), (2, 10));
    assert_eq!(t2.rollout.active.reference, "payments@1.0.0");
    assert_eq!(t2.rollout.active.activated_at, v1_activated);

    // A third version cannot start while the canary runs.
    let v3 = t.submitted("payments", "1.2.0", ALLOW_SMALL).await;
    t.approve(&v3, "staging", "bob").await;
    refused(
        &t,
        "canary_running",
        t.console
            .activate(&v3, "staging", &Expect::default(), Some("alice")),
    )
    .await;
    refused(
        &t,
        "already_active",
        t.console
            .activate(&v2, "staging", &Expect::default(), Some("alice")),
    )
    .await;

    // Failing gates: refused, every reason listed, the results recorded.
    let e = t
        .console
        .promote(
            "payments",
            "staging",
            &metrics(99, 10, 40),
            &Expect::default(),
            Some("alice"),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "not_ready");
    let msg = e.to_string();
    for part in ["samples", "error_rate", "deny_rate"] {
        assert!(msg.contains(part), "{msg}");
    }
    let status = t
        .console
        .status(Some("payments"), Some("staging"))
        .await
        .unwrap();
    let b = &status.environments[0].bundles[0];
    assert!(!b.last_gates.as_ref().unwrap().passed);
    assert_eq!(b.canary.as_ref().unwrap().percent, 10);

    // Without the stable version's counters there is nothing to compare.
    let e = t
        .console
        .promote(
            "payments",
            "staging",
            &without_stable(1000, 10, 100),
            &Expect::default(),
            Some("alice"),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "not_ready");
    assert!(e.to_string().contains("no `stable` counters"), "{e}");

    // Passing gates: 10 → 50 → 100, each a new serial.
    let p = t
        .console
        .promote(
            "payments",
            "staging",
            &metrics(1000, 10, 100),
            &Expect::default(),
            Some("alice"),
        )
        .await
        .unwrap();
    assert_eq!(
        (p.rollout.serial, p.rollout.canary.as_ref().unwrap().percent),
        (3, 50)
    );
    assert_eq!(
        p.rollout.canary.as_ref().unwrap().slot.activated_at,
        canary.slot.activated_at
    );
    let p = t
        .console
        .promote(
            "payments",
            "staging",
            &metrics(1000, 10, 100),
            &Expect::default(),
            Some("alice"),
        )
        .await
        .unwrap();
    assert_eq!(p.rollout.serial, 4);
    assert!(p.rollout.canary.is_none());
    assert_eq!(p.rollout.active.reference, "payments@1.1.0");
    // The version keeps the time it was activated (the canary's start).
    assert_eq!(p.rollout.active.activated_at, canary.slot.activated_at);
    let e = t
        .console
        .promote(
            "payments",
            "staging",
            &metrics(1000, 10, 100),
            &Expect::default(),
            Some("alice"),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "no_canary");

    // The rollout document is signed by the operator key, names the bundle,
    // and carries the serial.
    let check = gavel_trust::verify_by_owner(
        &p.rollout.document,
        &VerifyOptions {
            now: jiff::Timestamp::now(),
            trusted: &t.console.trusted_keys().await.unwrap(),
            secret: None,
            expected_type: Some(PayloadKind::Rollout.media_type()),
        },
    );
    assert!(check.valid, "{}", check.message);
    assert_eq!(check.signers[0].roles, vec![Role::Operator]);
    let doc = check.payload.unwrap();
    assert_eq!(
        (doc["bundle"].as_str(), doc["serial"].as_i64()),
        (Some("payments"), Some(4))
    );
    assert_eq!(doc["canary"], Value::Null);
    assert_eq!(doc["stable"]["version"], "1.1.0");
}

#[tokio::test]
async fn promotion_waits_for_the_bake_time_and_says_how_long() {
    let t = team().await;
    let v1 = t.submitted("payments", "1.0.0", ALLOW_SMALL).await;
    t.approve(&v1, "staging", "bob").await;
    t.activate(&v1, "staging").await;
    let v2 = t.submitted("payments", "1.1.0", DENY_ALL).await;
    t.approve(&v2, "staging", "bob").await;
    t.activate(&v2, "staging").await;
    let e = t
        .console
        .promote(
            "payments",
            "staging",
            &metrics(1000, 0, 0),
            &Expect::default(),
            Some("alice"),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "not_ready");
    match &e {
        LifecycleError::NotReady {
            bake_time_left_seconds,
            reasons,
            ..
        } => {
            assert!(
                (3590..=3600).contains(bake_time_left_seconds),
                "{bake_time_left_seconds}"
            );
            assert_eq!(reasons.len(), 1, "{reasons:?}");
            assert!(
                reasons[0].contains("bake time left in the 10% step: 59m")
                    || reasons[0].contains("1h"),
                "{reasons:?}"
            );
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn rollback_drops_a_canary_or_restores_the_previous_version_with_an_incident() {
    let t = team().await;
    t.no_bake_time("staging").await;
    let v1 = t.submitted("payments", "1.0.0", ALLOW_SMALL).await;
    t.approve(&v1, "staging", "bob").await;
    let first = t.activate(&v1, "staging").await;
    refused(
        &t,
        "nothing_to_roll_back",
        t.console.rollback(
            "staging",
            Some("payments"),
            "it broke everything",
            &Expect::default(),
            Some("alice"),
        ),
    )
    .await;
    refused(
        &t,
        "comment_required",
        t.console.rollback(
            "staging",
            Some("payments"),
            "broken",
            &Expect::default(),
            Some("alice"),
        ),
    )
    .await;
    let v2 = t.submitted("payments", "1.1.0", DENY_ALL).await;
    t.approve(&v2, "staging", "bob").await;
    t.activate(&v2, "staging").await;

    // A canary runs: rollback drops it; the stable one stays.
    let rb = t
        .console
        .rollback(
            "staging",
            None,
            "deny rate doubled in the canary",
            &Expect::default(),
            Some("alice"),
        )
        .await
        .unwrap();
    assert_eq!(rb.rollout.serial, 3);
    assert!(rb.rollout.canary.is_none());
    assert_eq!(rb.rollout.active.reference, "payments@1.0.0");
    let incident = rb.incident.unwrap();
    let open = t.console.incidents(true).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].id, open[0].severity.as_str()), (incident, "high"));
    assert_eq!(open[0].version.as_deref(), Some("payments@1.1.0"));
    assert_eq!(open[0].reason, "deny rate doubled in the canary");
    let status = t
        .console
        .status(Some("payments"), Some("staging"))
        .await
        .unwrap();
    assert!(status.environments[0].bundles[0].pending.is_empty());
    let v2_state = t.console.approvals_of(&v2).await.unwrap();
    assert_eq!(v2_state.len(), 1);

    // A version rolled back here does not come back on its old approvals.
    refused(
        &t,
        "review_closed",
        t.console
            .activate(&v2, "staging", &Expect::default(), Some("alice")),
    )
    .await;

    // A fully promoted version: rollback restores the one before it, with
    // the time it was first activated.
    let v3 = t.submitted("payments", "1.2.0", DENY_ALL).await;
    t.approve(&v3, "staging", "bob").await;
    t.activate(&v3, "staging").await;
    for _ in 0..2 {
        t.console
            .promote(
                "payments",
                "staging",
                &metrics(1000, 0, 100),
                &Expect::default(),
                Some("alice"),
            )
            .await
            .unwrap();
    }
    let rb = t
        .console
        .rollback(
            "staging",
            Some("payments"),
            "customers cannot get refunds",
            &Expect::default(),
            Some("alice"),
        )
        .await
        .unwrap();
    assert_eq!(rb.rollout.active.reference, "payments@1.0.0");
    assert_eq!(
        rb.rollout.active.activated_at,
        first.rollout.active.activated_at
    );
    assert_eq!(rb.rollout.serial, 7);

    // Resolving the incidents.
    refused(
        &t,
        "comment_required",
        t.console.resolve_incident(incident, "done", Some("alice")),
    )
    .await;
    let resolved = t
        .console
        .resolve_incident(incident, "rule fixed in 1.2.1", Some("bob"))
        .await
        .unwrap();
    assert_eq!(resolved.resolved_by.as_deref(), Some("bob"));
    refused(
        &t,
        "already_resolved",
        t.console
            .resolve_incident(incident, "rule fixed in 1.2.1", Some("bob")),
    )
    .await;
    assert_eq!(t.console.incidents(true).await.unwrap().len(), 1);
    assert_eq!(t.console.incidents(false).await.unwrap().len(), 2);
    let e = t
        .console
        .resolve_incident(999, "no such incident", Some("bob"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "not_found");
}

#[tokio::test]
async fn monitor_rolls_back_a_canary_that_trips_a_threshold_and_otherwise_records_gates() {
    let t = team().await;
    let v1 = t.submitted("payments", "1.0.0", ALLOW_SMALL).await;
    t.approve(&v1, "staging", "bob").await;
    t.activate(&v1, "staging").await;
    let v2 = t.submitted("payments", "1.1.0", DENY_ALL).await;
    t.approve(&v2, "staging", "bob").await;
    t.activate(&v2, "staging").await;
    // Metrics for a canary the caller no longer sees are not judged: the
    // canary named is not the one running.
    let stale = Expect {
        active: None,
        canary: Some(Some("sha256:0000".into())),
    };
    let e = t
        .console
        .monitor("payments", "staging", &metrics(100, 12, 10), &stale, None)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "stale_state");
    // 49 decisions never trip; healthy ones do not either.
    for m in [metrics(49, 49, 49), metrics(200, 2, 20)] {
        let quiet = t
            .console
            .monitor("payments", "staging", &m, &Expect::default(), None)
            .await
            .unwrap();
        assert_eq!(quiet.action, "none");
        assert_eq!(quiet.rollout.serial, 2);
    }
    let tripped = t
        .console
        .monitor(
            "payments",
            "staging",
            &metrics(100, 12, 10),
            &Expect::default(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(tripped.action, "auto_rollback");
    assert_eq!(tripped.rollout.serial, 3);
    assert!(tripped.rollout.canary.is_none());
    assert!(
        tripped.tripped.iter().any(|r| r.contains("12.00%")),
        "{:?}",
        tripped.tripped
    );
    let incidents = t.console.incidents(true).await.unwrap();
    assert_eq!(incidents[0].opened_by, "monitor");
    assert!(
        incidents[0].reason.starts_with("automatic rollback"),
        "{}",
        incidents[0].reason
    );
    let e = t
        .console
        .monitor(
            "payments",
            "staging",
            &metrics(100, 12, 10),
            &Expect::default(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "no_canary");
}

#[tokio::test]
async fn a_change_expecting_another_state_is_refused() {
    let t = team().await;
    let v1 = t.submitted("payments", "1.0.0", ALLOW_SMALL).await;
    t.approve(&v1, "staging", "bob").await;
    // `none`: nothing active yet, as expected.
    let nothing = Expect {
        active: Some("none".into()),
        canary: Some(None),
    };
    let d1 = t
        .console
        .activate(&v1, "staging", &nothing, Some("alice"))
        .await
        .unwrap()
        .rollout
        .active
        .digest;
    let v2 = t.submitted("payments", "1.1.0", DENY_ALL).await;
    refused(
        &t,
        "stale_state",
        t.console.activate(&v2, "staging", &nothing, Some("alice")),
    )
    .await;
    t.approve(&v2, "staging", "bob").await;
    let wrong = Expect {
        active: Some("sha256:00000000".into()),
        canary: None,
    };
    let msg = refused(
        &t,
        "stale_state",
        t.console.activate(&v2, "staging", &wrong, Some("alice")),
    )
    .await;
    assert!(msg.contains(&d1), "{msg}");
    let wrong = Expect {
        active: None,
        canary: Some(Some(d1.clone())),
    };
    refused(
        &t,
        "stale_state",
        t.console.activate(&v2, "staging", &wrong, Some("alice")),
    )
    .await;
    let right = Expect {
        active: Some(d1[..15].to_string()),
        canary: Some(None),
    };
    t.console
        .activate(&v2, "staging", &right, Some("alice"))
        .await
        .unwrap();
}

#[tokio::test]
async fn two_consoles_racing_on_one_environment_lose_nothing_and_never_reuse_a_serial() {
    let t = team().await;
    t.no_bake_time("staging").await;
    let other = t.second().await;
    let none = Expect::default();
    let v1 = t.submitted("payments", "1.0.0", ALLOW_SMALL).await;
    // Two approvers at once: both kept.
    let (a, b) = tokio::join!(
        t.console.decide(
            &v1,
            "staging",
            Decision::Approve,
            "ok from bob",
            None,
            Some("bob")
        ),
        other.decide(
            &v1,
            "staging",
            Decision::Approve,
            "ok from carol",
            None,
            Some("carol")
        ),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(t.console.approvals_of(&v1).await.unwrap().len(), 2);
    // Two activations at once: exactly one.
    let (a, b) = tokio::join!(
        t.console.activate(&v1, "staging", &none, Some("alice")),
        other.activate(&v1, "staging", &none, Some("alice")),
    );
    let results = [a, b];
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(["stale_state", "already_active"].contains(&code(e)), "{e}");
        }
    }
    let v2 = t.submitted("payments", "1.1.0", DENY_ALL).await;
    t.approve(&v2, "staging", "bob").await;
    t.activate(&v2, "staging").await;
    // Two promotions at once. When both read the same state, one lands and
    // the other is stale: one step, not two. When the scheduler runs them
    // one after the other (a loaded machine), the second promotes from
    // where the first left it. Either way each success is exactly one step.
    let m = metrics(1000, 0, 100);
    let (a, b) = tokio::join!(
        t.console
            .promote("payments", "staging", &m, &none, Some("alice")),
        other.promote("payments", "staging", &m, &none, Some("alice")),
    );
    let results = [a, b];
    let won = results.iter().filter(|r| r.is_ok()).count();
    for r in &results {
        if let Err(e) = r {
            assert_eq!(code(e), "stale_state", "{e}");
        }
    }
    let r = t
        .console
        .status(Some("payments"), Some("staging"))
        .await
        .unwrap();
    let b = &r.environments[0].bundles[0];
    match won {
        1 => assert_eq!((b.serial, b.canary.as_ref().unwrap().percent), (3, 50)),
        2 => {
            // 10 → 50 → 100: the canary is the active version now.
            assert_eq!(b.serial, 4, "{results:?}");
            assert!(b.canary.is_none(), "{results:?}");
            assert_eq!(b.active.as_ref().unwrap().version, "1.1.0");
        }
        _ => panic!("no promotion landed: {results:?}"),
    }
    // Serials 1, 2, 3 (and 4): each once.
    let serials: Vec<String> = t
        .snapshot()
        .await
        .into_iter()
        .filter(|l| l.starts_with("rollouts: "))
        .map(|l| l.split(" | ").nth(2).unwrap().to_string())
        .collect();
    let want: Vec<String> = (1..=2 + won).map(|n| n.to_string()).collect();
    assert_eq!(serials, want);
}

#[tokio::test]
async fn status_says_what_each_pending_version_still_needs() {
    let t = team().await;
    let v1 = t.submitted("payments", "1.0.0", ALLOW_SMALL).await;
    t.approve(&v1, "prod", "bob").await;
    let s = t
        .console
        .status(Some("payments"), Some("prod"))
        .await
        .unwrap();
    let b = &s.environments[0].bundles[0];
    assert!(b.active.is_none());
    assert_eq!(b.pending.len(), 1);
    let p = &b.pending[0];
    assert_eq!((p.approvals, p.required, p.needs), (1, 2, 1));
    assert_eq!(p.approvers, ["bob"]);
    // Every environment is listed without filters.
    let all = t.console.status(None, None).await.unwrap();
    assert_eq!(all.environments.len(), 3);
}

#[tokio::test]
async fn a_rejection_still_blocks_activation_after_its_envelope_expires() {
    let t = team().await;
    let r = t.submitted("payments", "1.0.0", ALLOW_SMALL).await;
    t.console
        .decide(
            &r,
            "dev",
            Decision::Reject,
            "no refunds without a cap",
            Some(1),
            Some("bob"),
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let msg = refused(
        &t,
        "rejected",
        t.console
            .activate(&r, "dev", &Expect::default(), Some("alice")),
    )
    .await;
    assert!(
        msg.contains("bob") && msg.contains("without a cap"),
        "{msg}"
    );
}

/// An approval row whose signed envelope says something else (another
/// environment, digest, decision or key: a store edited by hand, or a bug)
/// never counts: quorum is read from what was signed.
#[tokio::test]
async fn an_approval_row_that_disagrees_with_its_envelope_does_not_count() {
    let t = team().await;
    let a = t.submitted("payments", "1.0.0", ALLOW_SMALL).await;
    let b = t.submitted("payments", "1.1.0", DENY_ALL).await;
    t.approve(&a, "prod", "bob").await;
    t.console
        .add_environment("qa", EnvSettings::default(), Some("alice"))
        .await
        .unwrap();
    t.console
        .decide(
            &a,
            "staging",
            Decision::Reject,
            "not for staging yet",
            None,
            Some("carol"),
        )
        .await
        .unwrap();
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        t.home.path().join("gavel.db").display()
    ))
    .await
    .unwrap();
    let version_id = |r: &str| {
        let pool = pool.clone();
        let (name, version) = r.split_once('@').unwrap();
        let (name, version) = (name.to_string(), version.to_string());
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT id FROM bundle_versions WHERE name = ? AND version = ?",
            )
            .bind(name)
            .bind(version)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let (ia, ib) = (version_id(&a).await, version_id(&b).await);
    let digest_b: String = sqlx::query_scalar("SELECT digest FROM bundle_versions WHERE id = ?")
        .bind(ib)
        .fetch_one(&pool)
        .await
        .unwrap();
    // Each forged row copies bob's prod approval of `a` (or carol's
    // rejection) under other columns.
    let forge = |version: i64,
                 digest: String,
                 env: &'static str,
                 decision: &'static str,
                 keyid_from: &'static str,
                 envelope_from: (&'static str, &'static str)| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO approvals (version_id, digest, environment, decision, keyid, approver, comment, issued_at, expires_at, envelope, source, recorded_at) \
                 SELECT ?, ?, ?, ?, (SELECT keyid FROM trusted_keys WHERE name = ? AND retired_at IS NULL), approver, comment, issued_at, expires_at, envelope, source, recorded_at \
                 FROM approvals WHERE approver = ? AND environment = ?",
            )
            .bind(version)
            .bind(digest)
            .bind(env)
            .bind(decision)
            .bind(keyid_from)
            .bind(envelope_from.0)
            .bind(envelope_from.1)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    let digest_a: String = sqlx::query_scalar("SELECT digest FROM bundle_versions WHERE id = ?")
        .bind(ia)
        .fetch_one(&pool)
        .await
        .unwrap();
    // Another environment: bob's prod approval filed under dev.
    forge(
        ia,
        digest_a.clone(),
        "dev",
        "approve",
        "bob",
        ("bob", "prod"),
    )
    .await;
    // Another digest: bob's approval of `a` filed under `b`.
    forge(ib, digest_b, "dev", "approve", "bob", ("bob", "prod")).await;
    // Another decision: carol's rejection filed as an approval.
    forge(
        ia,
        digest_a.clone(),
        "qa",
        "approve",
        "carol",
        ("carol", "staging"),
    )
    .await;
    // Another key: bob's approval filed under erin's key.
    forge(ia, digest_a, "qa", "approve", "erin", ("bob", "prod")).await;
    pool.close().await;
    for (r, env) in [(&a, "dev"), (&b, "dev"), (&a, "qa")] {
        let msg = refused(
            &t,
            "quorum_not_met",
            t.console
                .activate(r, env, &Expect::default(), Some("alice")),
        )
        .await;
        assert!(
            msg.contains("names another digest, environment, decision or key"),
            "{env}: {msg}"
        );
    }
}

/// The keychain of a console that, the first time the account `armed`
/// is read, runs `hook` to completion first: another process acting at
/// that moment, between the use case's reads and its write (the operator
/// key is read to sign the rollout document, after the approvals were
/// counted).
struct Interposed {
    inner: Arc<MemoryKeychain>,
    armed: String,
    hook: std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl std::fmt::Debug for Interposed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interposed")
            .field("armed", &self.armed)
            .finish()
    }
}

impl gavel_console::Keychain for Interposed {
    fn get(
        &self,
        account: &str,
    ) -> Result<Option<gavel_trust::Sensitive<Vec<u8>>>, gavel_console::KeychainError> {
        if account == self.armed {
            if let Some(hook) = self.hook.lock().unwrap().take() {
                hook();
            }
        }
        self.inner.get(account)
    }

    fn set(
        &self,
        account: &str,
        secret: &gavel_trust::Sensitive<Vec<u8>>,
    ) -> Result<(), gavel_console::KeychainError> {
        self.inner.set(account, secret)
    }

    fn delete(&self, account: &str) -> Result<(), gavel_console::KeychainError> {
        self.inner.delete(account)
    }
}

/// Regression (found by the CLI's end-to-end race of `gavel activate`
/// and `gavel reject`): a rejection recorded after `activate` counted the
/// approvals, but before its rollout was written, was overridden (both
/// succeeded, and the rejected version went out), because a rejection
/// moves no serial. The rollout is now refused as stale, the version stays
/// rejected, and activating it again is refused as `rejected`.
#[tokio::test]
async fn a_rejection_recorded_while_an_activation_signs_refuses_the_activation() {
    let t = team().await;
    let r = t.submitted("payments", "1.0.0", ALLOW_SMALL).await;
    t.approve(&r, "staging", "bob").await;
    let operator = t.console.operator_key().await.unwrap();
    let (home, keychain, rejected) = (t.home.path().to_path_buf(), t.keychain.clone(), r.clone());
    let interposed = Arc::new(Interposed {
        inner: t.keychain.clone(),
        armed: format!("ed25519:{}", operator.public_key.keyid.0),
        hook: std::sync::Mutex::new(Some(Box::new(move || {
            // Another process: its own runtime and console on the same store.
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(async {
                        let other = Console::open(&home, keychain).await.unwrap();
                        other
                            .decide(
                                &rejected,
                                "staging",
                                Decision::Reject,
                                "refunds need a daily cap",
                                None,
                                Some("carol"),
                            )
                            .await
                            .unwrap();
                    });
            })
            .join()
            .unwrap();
        }))),
    });
    let console = Console::open(t.home.path(), interposed.clone())
        .await
        .unwrap();
    let e = console
        .activate(&r, "staging", &Expect::default(), Some("alice"))
        .await
        .expect_err("a version rejected before its rollout was written must not go out");
    assert!(interposed.hook.lock().unwrap().is_none(), "the hook ran");
    assert_eq!(code(&e), "stale_state", "{e}");
    assert!(
        e.to_string()
            .contains("`payments@1.0.0` became rejected in staging"),
        "{e}"
    );
    let s = t
        .console
        .status(Some("payments"), Some("staging"))
        .await
        .unwrap();
    let b = &s.environments[0].bundles[0];
    assert_eq!(
        (b.serial, b.active.is_none()),
        (0, true),
        "no rollout written"
    );
    refused(
        &t,
        "rejected",
        t.console
            .activate(&r, "staging", &Expect::default(), Some("alice")),
    )
    .await;
}

/// Where the environment has `canary: off` (dev by default), a second
/// version goes straight to 100% and the one before is superseded.
#[tokio::test]
async fn without_a_canary_a_new_version_replaces_the_active_one_at_once() {
    let t = team().await;
    let v1 = t.submitted("payments", "1.0.0", ALLOW_SMALL).await;
    t.approve(&v1, "dev", "bob").await;
    t.activate(&v1, "dev").await;
    let v2 = t.submitted("payments", "1.1.0", DENY_ALL).await;
    t.approve(&v2, "dev", "bob").await;
    let done = t.activate(&v2, "dev").await;
    assert_eq!(done.rollout.serial, 2);
    assert!(done.rollout.canary.is_none());
    assert_eq!(done.rollout.active.reference, "payments@1.1.0");
    let rows = t.snapshot().await;
    let states: Vec<&String> = rows
        .iter()
        .filter(|l| l.starts_with("deployments: "))
        .collect();
    assert!(
        states.iter().any(|l| l.contains("| dev | superseded |")),
        "{states:?}"
    );
    assert!(
        states.iter().any(|l| l.contains("| dev | active |")),
        "{states:?}"
    );
}
