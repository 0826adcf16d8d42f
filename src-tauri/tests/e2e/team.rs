//! A team through its registry, in the app (DESIGN §11.16): the author
//! adds a registry in Settings, binds a bundle in Bundles and submits; an
//! approver, in a second app on a data directory and keychain of her own,
//! sees the submission in her inbox after the sync on opening Approvals
//! and approves; the author's next sync counts her approval.

use serde_json::json;

use crate::driver::{self, App};

#[test]
fn a_submission_travels_to_a_teammate_and_her_approval_comes_back() {
    let reg = gavel_registry::testing::LoopbackRegistry::start();
    let url = reg.url("team");

    // The author's console.
    let author = App::start_in("team-author", driver::home_with_examples());
    author.label("Bundle inbox-triage");
    author.ok(
        "create_identity",
        json!({"name": "Ada", "email": "ada@example.com", "roles": null}),
    );
    author.reload();
    author.press("Settings");
    author.fill("Registry name", "team");
    author.fill("Registry URL", &url);
    author.press("Add registry");
    author.label("Registry team");
    author.press("Bundles");
    author.press("Bundle inbox-triage");
    author.press("inbox-triage@1.0.0");
    author.select("Registry to bind", "team");
    author.press("Bind to registry");
    author.wait_for("the binding", || {
        author.page_text().contains("Shared through").then_some(())
    });
    author.press("Submit for approval");
    author.wait_for("the submitted badge", || {
        author.page_text().contains("submitted").then_some(())
    });
    author.screenshot("team-author-submitted");

    // The approver's console: her own key, trusted both ways by file.
    let approver = App::start("team-approver");
    approver.label("Load example bundles");
    approver.ok(
        "create_identity",
        json!({"name": "Bea", "email": "bea@example.com", "roles": ["approver", "security"]}),
    );
    let ada = author.ok("export_key", json!({"who": "Ada"}));
    approver.ok(
        "trust_keys",
        json!({"text": ada.to_string(), "roles": ["author"]}),
    );
    let bea = approver.ok("export_key", json!({"who": "Bea"}));
    author.ok(
        "trust_keys",
        json!({"text": bea.to_string(), "roles": ["approver", "security"]}),
    );
    approver.ok(
        "add_registry",
        json!({"name": "team", "url": url, "username": null, "password": null}),
    );
    approver.ok(
        "bind_bundle",
        json!({"bundle": "inbox-triage", "registry": "team"}),
    );
    approver.reload();

    // Opening Approvals syncs: the team's submission is in her inbox.
    approver.press("Approvals");
    let status = approver.wait_for("the sync", || {
        approver
            .text_of("Sync status")
            .filter(|s| s.contains("1 version"))
    });
    assert!(status.contains("fetched"), "{status}");
    approver.press("Review inbox-triage@1.0.0 in staging");
    approver.fill("Comment", "Reviewed from my own console");
    approver.press("Approve");
    approver.wait_for("the approval", || {
        approver
            .page_text()
            .contains("approvals now 1 of 1")
            .then_some(())
    });
    approver.screenshot("team-approver-approved");

    // The author syncs: Bea's approval counts in her console too.
    author.press("Approvals");
    author.press("Sync with the team");
    author.wait_for("the approval to arrive", || {
        let s = author.ok(
            "status",
            json!({"bundle": "inbox-triage", "environment": "staging"}),
        );
        let pending = &s["environments"][0]["bundles"][0]["pending"];
        (pending[0]["approvals"] == 1 && pending[0]["state"] == "approved").then_some(())
    });
    author.screenshot("team-author-synced");
}
