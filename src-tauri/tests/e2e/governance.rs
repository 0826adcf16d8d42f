//! The governance side of the app, driven as its users drive it (DESIGN
//! §1): two identities in one store take a version from submission to a
//! canary, a promotion and a rollback; an analyst evaluates a scorecard
//! batch; a security engineer issues and verifies an override; the audit
//! log verifies and then names a row changed behind Gavel's back; an
//! offline reviewer signs a package in a second data directory. Set-up
//! steps that are not the point of a test are made through the app's own
//! commands; what the test is about is done with the screens.

use std::path::Path;

use serde_json::{Value, json};

use crate::driver::{self, App};

/// Ada (the first identity: every person role) and Bo (an approver Ada
/// grants in the Keys screen), in a store with the examples; Ada acts.
/// Staging promotes without waiting (bake time 0).
fn ada_and_bo(name: &str) -> App {
    let app = App::start_in(name, driver::home_with_examples());
    app.label("Bundle inbox-triage");
    app.ok(
        "create_identity",
        json!({"name": "Ada", "email": "ada@example.com", "roles": null}),
    );
    app.reload();
    app.press("Keys");
    app.fill("Identity name", "Bo");
    app.fill("Identity email", "bo@example.com");
    app.press("Role approver");
    app.press("Generate identity");
    app.label("Key Bo");
    let bo = app.text_of("Key Bo").unwrap_or_default();
    assert!(bo.contains("approver") && !bo.contains("security"), "{bo}");
    app.ok(
        "set_environment",
        json!({"name": "staging", "form": {"quorum": null, "canary": null,
               "bake_time_seconds": 0, "min_samples": null}}),
    );
    app
}

/// Acts as `who` in this window (the header's picker).
fn act_as(app: &App, who: &str) {
    app.select("Acting identity", who);
    app.wait_for(&format!("{who} acting"), || {
        (app.ok("app_info", json!({}))["acting"] == who).then_some(())
    });
}

/// `inbox-triage@1.0.0` active in staging: submitted by Ada, approved by Bo,
/// activated (the first activation goes to 100%).
fn active_base(app: &App) {
    app.ok("submit", json!({"reference": "inbox-triage@1.0.0"}));
    app.ok("set_acting", json!({"name": "Bo"}));
    app.ok(
        "decide",
        json!({"reference": "inbox-triage@1.0.0", "environment": "staging",
               "decision": "approve", "comment": "the base version"}),
    );
    app.ok(
        "activate",
        json!({"reference": "inbox-triage@1.0.0", "environment": "staging", "expected": null}),
    );
    app.ok("set_acting", json!({"name": "Ada"}));
}

/// Ada's draft `inbox-triage@1.0.1`, made with "New version from this".
fn ada_draft(app: &App) {
    let draft = app.ok(
        "new_version_from",
        json!({"reference": "inbox-triage@1.0.0"}),
    );
    let text = draft["document"].as_str().expect("document").to_string();
    assert!(text.contains("1.0.1"), "{text}");
    app.ok(
        "save_draft",
        json!({"document": text, "fileName": "inbox-triage.yaml", "reference": null,
               "notes": "next version"}),
    );
}

/// Metrics every gate passes: 500 canary decisions against 5,000 stable
/// ones with the same deny and error rates.
const PASSING_METRICS: &str = r#"{
  "total_decisions": 500, "error_count": 2, "deny_count": 40,
  "baseline_avg_cost": 0, "canary_avg_cost": 0,
  "stable": {"total_decisions": 5000, "error_count": 20, "deny_count": 400, "no_match_count": 0}
}"#;

#[test]
fn two_identities_take_a_version_through_review_canary_promotion_and_rollback() {
    let app = ada_and_bo("rollout-flow");
    active_base(&app);
    ada_draft(&app);
    act_as(&app, "Ada");

    // Ada submits her version from the bundle list.
    app.press("Bundles");
    app.press("Bundle inbox-triage");
    app.press("inbox-triage@1.0.1");
    app.press("Submit for approval");
    app.wait_for("the submitted badge", || {
        app.page_text().contains("submitted").then_some(())
    });

    // Approving her own version is refused, and says why.
    app.press("Approvals");
    app.press("Refresh inbox");
    app.press("Review inbox-triage@1.0.1 in staging");
    app.fill("Comment", "Looks right to me, shipping it");
    app.press("Approve");
    let refusal = app.wait_for("the refusal", || app.text_of("Decision refused"));
    assert!(refusal.contains("another approver"), "{refusal}");
    app.screenshot("own-approval-refused");

    // Bo approves it. The inbox may still be re-rendering after the
    // refresh: press until the staging review is the one open.
    act_as(&app, "Bo");
    app.press("Refresh inbox");
    app.wait_for("the staging review", || {
        app.press("Review inbox-triage@1.0.1 in staging");
        app.text_of("Review of inbox-triage@1.0.1 in staging")
    });
    app.fill("Comment", "Reviewed the impact: fine for staging");
    app.press("Approve");
    app.wait_for("the approval", || {
        app.page_text()
            .contains("approvals now 1 of 1")
            .then_some(())
    });

    // Activated: a canary at 10% beside 1.0.0, its gates not yet checked.
    app.press("Rollouts");
    app.press("Refresh rollouts");
    app.press("Rollout inbox-triage in staging");
    app.select("Version to activate", "1.0.1");
    app.press("Activate");
    let percent = app.wait_for("the canary", || app.text_of("Canary percent"));
    assert_eq!(percent.trim(), "10%");
    let active = app.text_of("Active version").unwrap_or_default();
    assert!(active.contains("1.0.0"), "{active}");
    app.screenshot("rollout-canary");

    // The monitor finds nothing to roll back on these metrics; promoted on
    // them: 50%, every gate passing.
    app.paste("Metrics", PASSING_METRICS);
    app.press("Check for rollback");
    let watched = app.wait_for("the monitor", || app.text_of("Monitor result"));
    assert!(watched.contains("No threshold tripped"), "{watched}");
    app.press("Promote");
    app.wait_for("the promotion", || {
        app.text_of("Canary percent").filter(|p| p.trim() == "50%")
    });
    for gate in ["samples", "error_rate", "deny_rate", "vs_stable"] {
        let row = app.text_of(&format!("Gate {gate}")).unwrap_or_default();
        assert!(row.contains("pass"), "gate {gate}: {row}");
    }
    app.screenshot("rollout-promoted");

    // Rolled back with a reason: the canary is gone and an incident is open.
    app.fill("Reason", "Deny rate spiked on the support queue");
    app.press("Roll back");
    app.press("Confirm roll back");
    let opened = app.wait_for("the incident", || app.text_of("Incident opened"));
    assert!(opened.contains('#'), "{opened}");
    app.wait_for("the canary gone", || {
        app.text_of("Canary percent").is_none().then_some(())
    });
    let incidents = app.text_of("Incidents").unwrap_or_default();
    assert!(
        incidents.contains("Deny rate spiked on the support queue"),
        "{incidents}"
    );
    app.screenshot("rollout-rolled-back");
    let status = app.ok(
        "status",
        json!({"bundle": "inbox-triage", "environment": "staging"}),
    );
    let unit = &status["environments"][0]["bundles"][0];
    assert_eq!(unit["active"]["version"], "1.0.0");
    assert!(unit["canary"].is_null());
}

/// Scorecards as JSON Lines: the examples' five workflows and three more.
fn scorecards_text() -> String {
    let mut lines: Vec<String> = gavel_console::desktop::scorecard_examples()
        .scorecards
        .iter()
        .map(|f| {
            serde_json::from_str::<Value>(&f.text)
                .expect("example scorecard")
                .to_string()
        })
        .collect();
    for (i, raroi) in [0.4, 0.45, 2.1].iter().enumerate() {
        lines.push(
            json!({"workflow_id": format!("batch-{i}"), "alignment_status": "pass",
                   "raroi": raroi, "confidence": 0.9})
            .to_string(),
        );
    }
    lines.join("\n")
}

#[test]
fn an_analyst_evaluates_a_scorecard_batch_and_filters_it_by_reason() {
    let app = App::start_in("scorecards", driver::home_with_examples());
    app.label("Bundle inbox-triage");
    app.ok(
        "create_identity",
        json!({"name": "Ada", "email": "ada@example.com", "roles": null}),
    );
    app.press("Scorecards");
    app.press("Use example policy");
    app.paste("Scorecards text", &scorecards_text());
    app.press("Evaluate");
    let shown = app.wait_for("the results", || app.text_of("Shown results"));
    assert!(shown.contains('8'), "{shown}");
    app.screenshot("scorecards-batch");

    // The example policy's own rule sends raroi below 0.5 to no_go.
    app.select("Reason filter", "raroi_far_below");
    app.wait_for("the filtered rows", || {
        app.text_of("Shown results")
            .filter(|s| s.contains("2 of 8"))
    });
    assert!(app.text_of("Result batch-0").is_some());
    assert!(app.text_of("Result batch-1").is_some());
    assert!(app.text_of("Result invoice-triage").is_none());
    app.screenshot("scorecards-filtered");

    // The runs are in the history.
    let runs = app.ok(
        "scorecard_runs",
        json!({"query": {"workflow_id": null,
        "verdict": null, "since": null, "until": null, "limit": null}}),
    );
    assert_eq!(runs.as_array().map(Vec::len), Some(8));
}

#[test]
fn only_the_security_identity_issues_overrides_and_anyone_verifies_them() {
    let app = ada_and_bo("overrides");
    let file = tempfile::tempdir().expect("dir");
    let path = file.path().join("override.json");
    let path = path.to_str().expect("utf-8 path");

    // Ada holds the security role: she issues one and saves its file.
    app.press("Overrides");
    app.fill("Workflow", "invoice-triage");
    app.select("Forced verdict", "promote");
    app.fill("Reason", "Risk committee approved the pilot on Monday");
    app.press("Issue override");
    app.fill("Override file path", path);
    app.press("Save Override file");
    app.wait_for("the override file", || {
        Path::new(path).exists().then_some(())
    });
    app.screenshot("override-issued");

    // Verified from its file.
    app.fill("Override to verify path", path);
    app.press("Open Override to verify");
    app.press("Verify override");
    let verdict = app.wait_for("the verification", || app.text_of("Override verification"));
    assert!(verdict.contains("Valid"), "{verdict}");
    assert!(verdict.contains("invoice-triage"), "{verdict}");

    // Bo is an approver only: told why not, and the back end refuses too.
    act_as(&app, "Bo");
    app.press("Overrides");
    let why = app.wait_for("why not", || app.text_of("Why not"));
    assert!(why.contains("security"), "{why}");
    let refused = app.invoke(
        "issue_override",
        json!({"form": {"workflow_id": "invoice-triage", "forced_verdict": "promote",
               "bypass_micro_pilot": false, "reason": "I would like this promoted",
               "expires_in": null}}),
    );
    assert_eq!(refused["code"], "refused", "{refused}");
    // Anyone verifies.
    app.fill("Override to verify path", path);
    app.press("Open Override to verify");
    app.press("Verify override");
    let verdict = app.wait_for("the verification", || app.text_of("Override verification"));
    assert!(verdict.contains("Valid"), "{verdict}");
    app.screenshot("override-why-not");
}

/// Changes an audit row in the store's database, as someone with the file
/// could.
fn tamper(home: &Path, seq: i64) {
    let url = format!("sqlite://{}", home.join("gavel.db").display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.expect("database");
        sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?")
            .bind(seq)
            .execute(&pool)
            .await
            .expect("update");
        pool.close().await;
    });
}

#[test]
fn the_audit_log_verifies_and_then_names_the_row_changed_behind_its_back() {
    let app = ada_and_bo("audit");
    app.ok("submit", json!({"reference": "inbox-triage@1.0.0"}));
    app.press("Audit");
    app.press("Verify audit log");
    let result = app.wait_for("the verification", || app.text_of("Verification result"));
    assert!(result.contains("Intact"), "{result}");
    app.screenshot("audit-intact");

    let entries = app.ok(
        "audit_list",
        json!({"filters": {"actor": null, "action": null,
        "subject": null, "since": null, "until": null, "limit": null}}),
    );
    let count = entries.as_array().map_or(0, Vec::len);
    assert!(count >= 4, "{entries}");
    tamper(&app.home(), 3);
    app.press("Verify audit log");
    let bad = app.wait_for("the first bad entry", || app.text_of("First bad entry"));
    assert_eq!(bad.trim(), "3");
    let result = app.text_of("Verification result").unwrap_or_default();
    assert!(result.contains("edited"), "{result}");
    app.screenshot("audit-broken");
}

#[test]
fn an_offline_reviewer_signs_a_package_in_another_data_directory() {
    let console = ada_and_bo("offline-console");
    console.ok("submit", json!({"reference": "inbox-triage@1.0.0"}));
    // Prod needs two approvals: Bo's here, and Cy's from her own machine.
    console.ok("set_acting", json!({"name": "Bo"}));
    console.ok(
        "decide",
        json!({"reference": "inbox-triage@1.0.0", "environment": "prod",
               "decision": "approve", "comment": "fine for prod"}),
    );
    console.ok("set_acting", json!({"name": "Ada"}));
    let files = tempfile::tempdir().expect("dir");
    let at = |name: &str| files.path().join(name).display().to_string();

    // The reviewer's machine: her own data directory, her own key, with the
    // role the console grants her (an approval states its signer's roles).
    let reviewer = App::start("offline-reviewer");
    reviewer.label("Load example bundles");
    reviewer.ok(
        "create_identity",
        json!({"name": "Cy", "email": "cy@example.com", "roles": ["approver"]}),
    );
    let cy_key = reviewer.ok("export_key", json!({"who": "Cy"}));
    // The console trusts Cy as an approver (Ada grants the role).
    console.ok(
        "trust_keys",
        json!({"text": cy_key.to_string(), "roles": ["approver"]}),
    );

    // Packed on the console.
    console.press("Approvals");
    console.press("Offline review");
    console.fill("Package reference", "inbox-triage@1.0.0");
    console.fill("Package environment", "prod");
    console.press("Pack review");
    console.fill("Review package path", &at("package.json"));
    console.press("Save Review package");
    console.wait_for("the package", || {
        Path::new(&at("package.json")).exists().then_some(())
    });

    // Signed on the reviewer's machine.
    reviewer.press("Approvals");
    reviewer.press("Offline review");
    reviewer.fill("Review package file path", &at("package.json"));
    reviewer.press("Open Review package file");
    reviewer.fill("Offline comment", "Read the diff and the impact offline");
    reviewer.press("Sign approval");
    reviewer.fill("Signed approval path", &at("approval.json"));
    reviewer.press("Save Signed approval");
    reviewer.wait_for("the approval file", || {
        Path::new(&at("approval.json")).exists().then_some(())
    });
    reviewer.screenshot("offline-signed");

    // Imported on the console: the quorum of two is reached.
    console.fill("Approval file path", &at("approval.json"));
    console.press("Open Approval file");
    console.press("Import approval");
    let result = console.wait_for("the import", || console.text_of("Import result"));
    assert!(result.contains("2 of 2"), "{result}");
    assert!(result.contains("quorum reached"), "{result}");
    console.screenshot("offline-imported");
}
