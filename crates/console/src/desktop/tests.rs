//! Tests of the desktop use cases: the bindings are current, the rule
//! builder's text, lint as typed, simulations with progress and cancel.

use std::path::{Path, PathBuf};

use super::*;

/// `ui/src/bindings/`, where the front end imports the generated types.
fn committed_bindings() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings")
}

/// Every `.ts` file under `dir` (by its path relative to `dir`) and its text.
fn files(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.filter_map(Result::ok) {
            let path = e.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|x| x == "ts") {
                let name = path
                    .strip_prefix(root)
                    .map(|p| p.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_default();
                out.push((name, std::fs::read_to_string(&path).unwrap_or_default()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The committed TypeScript types are the ones the Rust types generate
/// today: a stale binding fails here. `GAVEL_BLESS_BINDINGS=1` (what
/// `cargo xtask bindings` sets) writes them instead.
#[test]
fn typescript_bindings_are_current() {
    let fresh = tempfile::tempdir().expect("temp dir");
    export_bindings(fresh.path()).expect("export");
    let generated = files(fresh.path());
    assert!(generated.len() > 20, "{} files", generated.len());
    for (name, text) in &generated {
        assert!(
            !text.contains("bigint"),
            "{name} has a bigint: mark 64-bit integers #[ts(type = \"number\")]"
        );
    }
    let dir = committed_bindings();
    if std::env::var_os("GAVEL_BLESS_BINDINGS").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bindings dir");
        for (name, text) in &generated {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("bindings dir");
            }
            std::fs::write(path, text).expect("write binding");
        }
        return;
    }
    let committed = files(&dir);
    let names = |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&generated),
        "ui/src/bindings/ lists other types than the Rust code generates: run `cargo xtask bindings`"
    );
    for ((name, old), (_, new)) in committed.iter().zip(&generated) {
        assert_eq!(
            old, new,
            "ui/src/bindings/{name} is stale: run `cargo xtask bindings` and commit the result"
        );
    }
}

const BUNDLE: &str = "apiVersion: gavel/v1
kind: PolicyBundle
metadata:
  name: demo
  version: 1.2.3   # bumped by hand
  default_effect: deny
rules:
  - id: allow-update
    agent: inbox.*
    action: update
    effect: allow
    reason: Reading the inbox is harmless
    budget: {cost: 0.01}
# the end of the rules
";

fn draft() -> RuleDraft {
    RuleDraft {
        id: "quarantine-phish".into(),
        agent: "inbox.triage".into(),
        action: "quarantine".into(),
        effect: Effect::Allow,
        priority: Some(80),
        reason: "Quarantine high-confidence phishing".into(),
        conditions: vec![
            ConditionDraft {
                field: "risk_score".into(),
                operator: ">=".into(),
                value: "90".into(),
            },
            ConditionDraft {
                field: "category".into(),
                operator: "in".into(),
                value: "phishing, spam".into(),
            },
            ConditionDraft {
                field: "sender.domain".into(),
                operator: "==".into(),
                value: "example.com".into(),
            },
        ],
        budget: Some(BudgetDraft {
            cost: Some(0.02),
            compute: Some(1),
            risk: Some("low".into()),
        }),
        enabled: true,
        approvals_required: None,
    }
}

fn rules_of(text: &str) -> Vec<Value> {
    let b = parse_bundle(text, Format::Yaml).expect("the new document loads");
    match b.document().to_json() {
        Value::Object(mut m) => match m.remove("rules") {
            Some(Value::Array(r)) => r,
            other => panic!("rules: {other:?}"),
        },
        other => panic!("document: {other:?}"),
    }
}

#[test]
fn the_rule_builder_appends_a_rule_that_loads_and_keeps_the_rest_as_written() {
    let out = add_rule(BUNDLE, "b.yaml", &draft()).expect("added");
    let rules = rules_of(&out.document);
    assert_eq!(rules.len(), 2);
    let new = &rules[1];
    assert_eq!(new["id"], "quarantine-phish");
    assert_eq!(new["effect"], "allow");
    assert_eq!(new["priority"], 80);
    assert_eq!(new["conditions"][">=risk_score"], 90);
    assert_eq!(
        new["conditions"]["in:category"],
        json!(["phishing", "spam"])
    );
    assert_eq!(new["conditions"]["sender.domain"], "example.com");
    assert_eq!(
        new["budget"],
        json!({"cost": 0.02, "compute": 1, "risk": "low"})
    );
    // The text before the new rule is untouched, comments included.
    let before: String = BUNDLE.lines().take(13).map(|l| format!("{l}\n")).collect();
    assert!(out.document.starts_with(&before), "{}", out.document);
    assert!(out.document.ends_with("# the end of the rules\n"));
    // `line` is where the new rule's dash is.
    let line = out
        .document
        .lines()
        .nth(out.line as usize - 1)
        .unwrap_or("");
    assert_eq!(line, "  - id: \"quarantine-phish\"", "{}", out.document);
}

#[test]
fn the_rule_builder_inserts_before_the_next_top_level_key() {
    let text = "rules:\n- id: a-rule\n  agent: ops.x\n  action: deploy\n  effect: deny\n  reason: Deny deploys for ops.x always\nmetadata:\n  name: n\n  version: 1.0.0\n";
    let out = add_rule(text, "b.yaml", &draft()).expect("added");
    assert_eq!(rules_of(&out.document).len(), 2);
    assert!(
        out.document
            .ends_with("metadata:\n  name: n\n  version: 1.0.0\n")
    );
    assert_eq!(out.line, 7, "{}", out.document);
}

#[test]
fn the_rule_builder_turns_an_empty_flow_list_into_a_block_list_and_handles_json() {
    let text = "apiVersion: gavel/v1\nkind: PolicyBundle\nmetadata: {name: n, version: 0.1.0}\nrules: []\n";
    let out = add_rule(text, "b.yaml", &draft()).expect("added");
    assert_eq!(rules_of(&out.document).len(), 1, "{}", out.document);
    let json_text = r#"{"metadata": {"name": "n", "version": "1.0.0"}, "rules": []}"#;
    let out = add_rule(json_text, "b.json", &draft()).expect("added");
    let v: Value = serde_json::from_str(&out.document).expect("json");
    assert_eq!(v["rules"][0]["id"], "quarantine-phish");
    assert!(
        out.document
            .lines()
            .nth(out.line as usize - 1)
            .unwrap_or("")
            .contains("\"id\": \"quarantine-phish\"")
    );
    // A bare list of rules gets the rule at column 0.
    let bare = "- id: a-rule\n  agent: ops.x\n  action: deploy\n  effect: deny\n  reason: Deny deploys for ops.x always\n";
    let out = add_rule(bare, "b.yaml", &draft()).expect("added");
    assert!(
        out.document.contains("\n- id: \"quarantine-phish\"\n"),
        "{}",
        out.document
    );
}

#[test]
fn the_rule_builder_refuses_what_would_not_load_and_says_which_field() {
    let mut d = draft();
    d.id = " ".into();
    let e = add_rule(BUNDLE, "b.yaml", &d).expect_err("no id");
    assert_eq!(e.code, "invalid_rule");
    assert!(e.message.contains("id"), "{}", e.message);

    let mut d = draft();
    d.conditions[0].operator = "≈".into();
    let e = add_rule(BUNDLE, "b.yaml", &d).expect_err("bad operator");
    assert!(e.message.contains("condition 1"), "{}", e.message);

    let mut d = draft();
    d.conditions[1].field = String::new();
    let e = add_rule(BUNDLE, "b.yaml", &d).expect_err("no field");
    assert!(e.message.contains("condition 2"), "{}", e.message);

    let mut d = draft();
    d.conditions[0].value = "ninety".into();
    let e = add_rule(BUNDLE, "b.yaml", &d).expect_err("a comparison needs a number");
    assert_eq!(e.code, "invalid_rule", "{e:?}");

    let mut d = draft();
    d.budget = Some(BudgetDraft {
        cost: None,
        compute: None,
        risk: Some("extreme".into()),
    });
    assert_eq!(
        add_rule(BUNDLE, "b.yaml", &d).expect_err("risk").code,
        "invalid_rule"
    );

    let e = add_rule("rules: [\n", "b.yaml", &draft()).expect_err("unparseable");
    assert!(e.line.is_some(), "{e:?}");
}

#[test]
fn exists_and_disabled_rules_are_written_as_the_bundle_format_says() {
    let mut d = draft();
    d.conditions = vec![ConditionDraft {
        field: "ticket".into(),
        operator: "exists".into(),
        value: "false".into(),
    }];
    d.enabled = false;
    d.priority = None;
    d.budget = None;
    d.approvals_required = Some(2);
    d.effect = Effect::NeedsApproval;
    let out = add_rule(BUNDLE, "b.yaml", &d).expect("added");
    let r = &rules_of(&out.document)[1];
    assert_eq!(r["conditions"]["exists:ticket"], false);
    assert_eq!(r["enabled"], false);
    assert_eq!(r["approvals_required"], 2);
    assert_eq!(r["effect"], "needs_approval");
    assert!(r.get("priority").is_none() || r["priority"] == 50);
}

#[test]
fn set_version_changes_only_the_version_scalar() {
    let out = set_version(BUNDLE, Format::Yaml, "1.2.4").expect("set");
    assert!(
        out.contains("  version: \"1.2.4\"   # bumped by hand\n"),
        "{out}"
    );
    assert_eq!(out.replace("\"1.2.4\"", "1.2.3"), BUNDLE);
    let quoted = "metadata:\n  name: n\n  version: '0.1.0'\nrules: []\n";
    assert_eq!(
        set_version(quoted, Format::Yaml, "0.1.1").expect("set"),
        "metadata:\n  name: n\n  version: \"0.1.1\"\nrules: []\n"
    );
    let flow = "metadata: {name: n, version: 0.1.0}\nrules: []\n";
    assert_eq!(
        set_version(flow, Format::Yaml, "0.1.1").expect("set"),
        "metadata: {name: n, version: \"0.1.1\"}\nrules: []\n"
    );
    assert!(set_version("rules: []\n", Format::Yaml, "1.0.0").is_none());
}

#[test]
fn lint_text_reports_syntax_errors_where_they_are_and_blocks_saving() {
    let broken = BUNDLE.replace("    effect: allow\n", "    effect: [allow\n");
    let r = lint_text(&broken, "b.yaml");
    assert_eq!(r.summary.errors, 1);
    let f = &r.findings[0];
    assert_eq!(f.severity, Severity::Error);
    assert!(f.line.is_some_and(|l| l >= 11), "{f:?}");
    assert!(r.blocked.is_some());

    let ok = lint_text(BUNDLE, "b.yaml");
    assert_eq!(ok.summary.errors, 0, "{:?}", ok.findings);
    assert_eq!(ok.blocked, None);
    assert_eq!(ok.name.as_deref(), Some("demo"));
    assert_eq!(ok.version.as_deref(), Some("1.2.3"));
}

#[test]
fn lint_text_points_at_the_rule_with_the_problem() {
    // A rule without a reason on line 14: the linter's finding is there.
    let text =
        format!("{BUNDLE}  - id: no-reason\n    agent: a\n    action: b\n    effect: deny\n");
    let r = lint_text(&text, "b.yaml");
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "missing-reason")
        .expect("missing-reason finding");
    assert_eq!(f.line, Some(15), "{:?}", r.findings);
    assert_eq!(f.rule_id.as_deref(), Some("no-reason"));
    assert!(r.blocked.is_some(), "an error finding blocks saving");
}

#[test]
fn lint_text_blocks_a_bundle_without_name_or_version() {
    let text = BUNDLE.replace("  name: demo\n", "");
    let r = lint_text(&text, "b.yaml");
    assert!(r.blocked.is_some(), "{r:?}");
    assert!(r.summary.errors >= 1, "{r:?}");
}

fn never(_: SimProgress) {}

#[test]
fn a_simulation_counts_every_case_and_reports_progress() {
    let b = parse_bundle(BUNDLE, Format::Yaml).expect("bundle");
    let seen = std::sync::Mutex::new(Vec::new());
    let progress = |p: SimProgress| seen.lock().expect("lock").push(p);
    let ds = DatasetSpec::Synthetic {
        count: 10_000,
        seed: 7,
    };
    let out = simulate_bundle(&b, &ds, &progress, &AtomicBool::new(false)).expect("run");
    assert_eq!(out.report.summary.total_cases, 10_000);
    let seen = seen.into_inner().expect("lock");
    assert!(seen.len() >= 2, "{seen:?}");
    assert!(seen.iter().all(|p| p.total == Some(10_000)));
    assert_eq!(seen.last().map(|p| p.done), Some(10_000));
    // The same seed gives the same counts.
    let again = simulate_bundle(&b, &ds, &never, &AtomicBool::new(false)).expect("run");
    assert_eq!(again.report.summary, out.report.summary);
}

#[test]
fn a_cancelled_simulation_stops_with_cancelled() {
    let b = parse_bundle(BUNDLE, Format::Yaml).expect("bundle");
    let cancel = AtomicBool::new(true);
    let ds = DatasetSpec::Synthetic {
        count: MAX_SYNTHETIC_CASES,
        seed: 1,
    };
    let started = Instant::now();
    let e = simulate_bundle(&b, &ds, &never, &cancel).expect_err("cancelled");
    assert_eq!(e.code, "cancelled");
    assert!(started.elapsed().as_secs() < 5);
    let e = compare_bundles(
        ("a".into(), b.clone()),
        ("b".into(), b.clone()),
        &ds,
        &never,
        &cancel,
    )
    .expect_err("cancelled");
    assert_eq!(e.code, "cancelled");
}

#[test]
fn datasets_from_files_and_bad_counts() {
    let b = parse_bundle(BUNDLE, Format::Yaml).expect("bundle");
    let no = AtomicBool::new(false);
    let lines = "{\"case_id\": \"c1\", \"agent\": \"inbox.triage\", \"action\": \"update\", \"context\": {}}\n{\"case_id\": \"c2\", \"agent\": \"x\", \"action\": \"delete\", \"context\": {}}\n";
    let ds = DatasetSpec::File {
        name: "cases.jsonl".into(),
        text: lines.into(),
    };
    let out = simulate_bundle(&b, &ds, &never, &no).expect("run");
    assert_eq!(out.report.summary.total_cases, 2);
    assert_eq!(out.report.summary.allow_count, 1, "{:?}", out.report);
    // No rule matches the second: the default effect, counted as no match.
    assert_eq!(out.report.summary.no_match_count, 1, "{:?}", out.report);

    let bad = DatasetSpec::File {
        name: "cases.jsonl".into(),
        text: "{\"agent\": 3}\n".into(),
    };
    let e = simulate_bundle(&b, &bad, &never, &no).expect_err("bad file");
    assert_eq!(e.code, "invalid_cases");
    assert_eq!(e.line, Some(1));

    for count in [0, MAX_SYNTHETIC_CASES + 1] {
        let e = simulate_bundle(&b, &DatasetSpec::Synthetic { count, seed: 1 }, &never, &no)
            .expect_err("bad count");
        assert_eq!(e.code, "invalid_dataset");
    }
    let fixtures = simulate_bundle(&b, &DatasetSpec::Fixtures, &never, &no).expect("fixtures");
    assert_eq!(fixtures.report.summary.total_cases, 9);
}

#[test]
fn compare_lists_the_cases_whose_effect_changed() {
    let a = parse_bundle(BUNDLE, Format::Yaml).expect("a");
    let b = parse_bundle(
        &BUNDLE.replace("effect: allow", "effect: deny"),
        Format::Yaml,
    )
    .expect("b");
    let out = compare_bundles(
        ("a".into(), a),
        ("b".into(), b),
        &DatasetSpec::Synthetic {
            count: 2000,
            seed: 3,
        },
        &never,
        &AtomicBool::new(false),
    )
    .expect("compare");
    let c = &out.comparison;
    assert_eq!(c.summary_a.total_cases, 2000);
    assert!(c.total_changes > 0);
    assert_eq!(
        c.total_changes,
        c.summary_a.allow_count - c.summary_b.allow_count
    );
    assert!(
        c.changes
            .iter()
            .all(|ch| ch.before == Effect::Allow && ch.after == Effect::Deny)
    );
    assert_eq!(
        c.transitions.get("allow->deny").copied(),
        Some(c.total_changes)
    );
}

#[test]
fn an_invalid_value_is_marked_where_it_is_not_at_its_rule() {
    let text = BUNDLE.replace("    effect: allow\n", "    effect: allowx\n");
    let r = lint_text(&text, "b.yaml");
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "invalid-rule")
        .expect("an invalid-rule finding");
    assert_eq!((f.line, f.column), (Some(11), Some(13)), "{f:?}");
    assert!(f.message.contains("allowx"), "{}", f.message);
}

/// A store in a temporary directory with the examples and two identities:
/// `ada` (the first: every person role) and `bob` (an approver, granted by
/// ada).
async fn team() -> (tempfile::TempDir, Console) {
    let home = tempfile::tempdir().expect("home");
    let console = Console::open(
        home.path(),
        std::sync::Arc::new(crate::MemoryKeychain::default()),
    )
    .await
    .expect("store");
    console.init(true).await.expect("examples");
    console
        .generate_identity("ada", "ada@example.com", None, None)
        .await
        .expect("ada");
    console
        .generate_identity(
            "bob",
            "bob@example.com",
            Some(vec![gavel_trust::Role::Approver]),
            Some("ada"),
        )
        .await
        .expect("bob");
    (home, console)
}

#[tokio::test]
async fn the_inbox_lists_what_waits_for_me_and_what_i_submitted() {
    let (_home, c) = team().await;
    // Only example drafts: nothing to review.
    let empty = c.inbox(Some("bob")).await.expect("inbox");
    assert!(empty.awaiting.is_empty() && empty.submitted.is_empty());
    // Ada edits a draft (so she is its author) and submits it.
    let text = crate::EXAMPLES
        .iter()
        .find(|(f, _)| f.ends_with("inbox-triage.yaml"))
        .map(|(_, t)| t.replace("version: 1.0.0", "version: 1.0.1"))
        .expect("example");
    c.save_draft(&text, "inbox-triage.yaml", None, "", Some("ada"))
        .await
        .expect("saved");
    c.submit("inbox-triage@1.0.1", Some("ada"))
        .await
        .expect("submitted");
    let bob = c.inbox(Some("bob")).await.expect("inbox");
    assert_eq!(bob.me.as_deref(), Some("bob"));
    let envs: Vec<&str> = bob
        .awaiting
        .iter()
        .map(|i| i.environment.as_str())
        .collect();
    assert_eq!(envs, ["dev", "staging", "prod"], "{bob:?}");
    assert!(bob.awaiting.iter().all(|i| i.author == "ada"
        && i.reference == "inbox-triage@1.0.1"
        && i.approvals == 0
        && i.needs >= 1));
    assert!(bob.submitted.is_empty());
    let ada = c.inbox(Some("ada")).await.expect("inbox");
    assert!(
        ada.awaiting.is_empty(),
        "her own version is not hers to approve"
    );
    assert_eq!(ada.submitted.len(), 3);
    // Bob approves in staging: it leaves his inbox there, and counts for ada.
    c.decide(
        "inbox-triage@1.0.1",
        "staging",
        crate::Decision::Approve,
        "Looks right to me",
        None,
        Some("bob"),
    )
    .await
    .expect("approved");
    let bob = c.inbox(Some("bob")).await.expect("inbox");
    let envs: Vec<&str> = bob
        .awaiting
        .iter()
        .map(|i| i.environment.as_str())
        .collect();
    assert_eq!(envs, ["dev", "prod"]);
    let ada = c.inbox(Some("ada")).await.expect("inbox");
    let staging = ada
        .submitted
        .iter()
        .find(|i| i.environment == "staging")
        .expect("staging");
    assert_eq!(
        (staging.approvals, staging.approvers.clone()),
        (1, vec!["bob".to_string()])
    );
}

#[tokio::test]
async fn a_review_shows_the_diff_against_the_active_version_and_the_impact() {
    let (_home, c) = team().await;
    let example = crate::EXAMPLES
        .iter()
        .find(|(f, _)| f.ends_with("inbox-triage.yaml"))
        .map(|(_, t)| t.to_string())
        .expect("example");
    let v1 = example.replace("version: 1.0.0", "version: 1.0.1");
    c.save_draft(&v1, "b.yaml", None, "", Some("ada"))
        .await
        .expect("saved");
    c.submit("inbox-triage@1.0.1", Some("ada"))
        .await
        .expect("submitted");
    // Nothing active in staging yet: no diff; the impact is against no rules.
    let first = c
        .review("inbox-triage@1.0.1", "staging")
        .await
        .expect("review");
    assert!(first.active.is_none() && first.diff.is_none());
    assert_eq!((first.tally.required, first.tally.counted.len()), (1, 0));
    assert_eq!(first.author, "ada");
    c.decide(
        "inbox-triage@1.0.1",
        "staging",
        crate::Decision::Approve,
        "Looks right to me",
        None,
        Some("bob"),
    )
    .await
    .expect("approved");
    c.activate(
        "inbox-triage@1.0.1",
        "staging",
        &crate::Expect::default(),
        Some("ada"),
    )
    .await
    .expect("active");
    // 1.0.2 lets phishing through: deny → allow.
    let v2 = v1.replace("version: 1.0.1", "version: 1.0.2").replacen(
        "    effect: deny\n    conditions: {\"category\": \"phishing\"}",
        "    effect: allow\n    conditions: {\"category\": \"phishing\"}",
        1,
    );
    assert_ne!(v1.replace("1.0.1", "1.0.2"), v2, "the effect changed");
    c.save_draft(&v2, "b.yaml", None, "", Some("ada"))
        .await
        .expect("saved");
    c.submit("inbox-triage@1.0.2", Some("ada"))
        .await
        .expect("submitted");
    let r = c
        .review("inbox-triage@1.0.2", "staging")
        .await
        .expect("review");
    assert_eq!(r.active.as_deref(), Some("inbox-triage@1.0.1"));
    let diff = r.diff.expect("a diff against the active version");
    assert_eq!(diff.diff.diff.class, Class::Loosening);
    assert!(r.impact.deny_to_allow > 0, "{:?}", r.impact);
    assert_eq!(r.impact.allow_to_deny, 0);
    assert!(!r.changes.is_empty() && r.changes.len() <= REVIEW_EXAMPLES);
    assert!(
        r.changes
            .iter()
            .all(|ch| ch.before == Effect::Deny && ch.after == Effect::Allow)
    );
    // The impact is the evidence an approval would sign.
    let signed = c
        .decide(
            "inbox-triage@1.0.2",
            "staging",
            crate::Decision::Approve,
            "Seen the impact",
            None,
            Some("bob"),
        )
        .await
        .expect("approved");
    assert_eq!(
        signed.evidence["impact"]["deny_to_allow"],
        json!(r.impact.deny_to_allow)
    );
    let unknown = c
        .review("inbox-triage@1.0.2", "qa")
        .await
        .expect_err("no such environment");
    assert_eq!(unknown.code, "not_found");
}

#[test]
fn the_expected_state_and_metrics_come_from_the_screen() {
    let e: crate::Expect = (&Expected {
        active: Some("sha256:abc".into()),
        canary: Some("none".into()),
    })
        .into();
    assert_eq!(e.active.as_deref(), Some("sha256:abc"));
    assert_eq!(e.canary, Some(None));
    let e: crate::Expect = (&Expected::default()).into();
    assert_eq!((e.active, e.canary), (None, None));
    let e: crate::Expect = (&Expected {
        active: None,
        canary: Some("sha256:def".into()),
    })
        .into();
    assert_eq!(e.canary, Some(Some("sha256:def".to_string())));

    let text = include_str!("../../../../fixtures/canary/metrics.json");
    assert!(metrics_from_text(text).is_ok());
    assert_eq!(
        metrics_from_text("  ").expect_err("empty").code,
        "empty_file"
    );
    assert_eq!(
        metrics_from_text("{").expect_err("syntax").code,
        "syntax_error"
    );
    assert_eq!(
        metrics_from_text("[1]").expect_err("not an object").code,
        "invalid_metrics"
    );
}

#[tokio::test]
async fn a_batch_of_scorecards_is_evaluated_logged_and_recorded_and_a_bad_one_is_a_row() {
    let (home, c) = team().await;
    let examples = scorecard_examples();
    let mut scorecards = examples.scorecards.clone();
    scorecards.push(NamedText {
        name: "more.jsonl".into(),
        text: "{\"workflow_id\": \"w1\", \"raroi\": 2.0, \"confidence\": 0.95, \"alignment_status\": \"pass\", \"security_status\": \"pass\"}\n\nnot json\n{\"workflow_id\": \"w2\", \"raroi\": \"high\"}\n".into(),
    });
    let request = ScorecardRequest {
        policy: examples.policy.clone(),
        scorecards,
        borderline_queue: false,
        log: true,
    };
    let out = c
        .evaluate_scorecards(&request, Some("ada"))
        .await
        .expect("evaluated");
    // The five examples (as `gavel scorecard eval` decides them) and w1; the
    // line that is not JSON and the wrong type are rows with their errors.
    assert_eq!(out.summary.total, 6);
    assert_eq!(out.invalid, 2);
    assert_eq!(out.rows.len(), 8);
    let verdict = |w: &str| {
        out.rows
            .iter()
            .find_map(|r| {
                r.evaluation
                    .as_ref()
                    .filter(|e| e.workflow_id.as_deref() == Some(w))
            })
            .map(|e| (e.verdict.as_str(), e.reason_codes.clone()))
    };
    assert_eq!(
        verdict("outbound-email"),
        Some(("demote", vec!["alignment_veto".to_string()]))
    );
    assert_eq!(
        verdict("support-summaries"),
        Some(("pilot", vec!["thin_margin".to_string()]))
    );
    let bad: Vec<(&str, &str)> = out
        .rows
        .iter()
        .filter_map(|r| r.error.as_deref().map(|e| (r.source.as_str(), e)))
        .collect();
    assert_eq!(bad.len(), 2);
    assert_eq!(bad[0].0, "more.jsonl:3");
    assert_eq!(bad[1].0, "more.jsonl:4");
    assert!(
        bad[1].1.contains("w2") && bad[1].1.contains("raroi"),
        "{bad:?}"
    );
    // Logged line by line, and recorded as runs by ada.
    let log = std::fs::read_to_string(home.path().join("governance/decision_log.jsonl"))
        .expect("decision log");
    assert_eq!(log.lines().count(), 6);
    let runs = c.scorecard_runs(RunsQuery::default()).await.expect("runs");
    assert_eq!(runs.len(), 6);
    assert!(runs.iter().all(|r| r.actor.as_deref() == Some("ada")));
    let demoted = c
        .scorecard_runs(RunsQuery {
            verdict: Some("demote".into()),
            ..RunsQuery::default()
        })
        .await
        .expect("runs");
    assert_eq!(demoted.len(), 1);
    // Without logging nothing more is written.
    let quiet = ScorecardRequest {
        log: false,
        ..request
    };
    c.evaluate_scorecards(&quiet, Some("ada"))
        .await
        .expect("evaluated");
    assert_eq!(
        c.scorecard_runs(RunsQuery::default())
            .await
            .expect("runs")
            .len(),
        6
    );
    // Exported whole, and never over a file without asking.
    let to = home.path().join("log-copy.jsonl");
    let to = to.to_str().expect("utf-8 path");
    c.export_decision_log(to, false).expect("exported");
    assert_eq!(std::fs::read_to_string(to).expect("copy"), log);
    assert_eq!(c.export_decision_log(to, false).unwrap_err().code, "exists");
}

#[tokio::test]
async fn borderline_verdicts_go_to_the_queue_when_asked() {
    let (_home, c) = team().await;
    let policy = NamedText {
        name: "p.yaml".into(),
        text: "raroi_threshold: 1.0\nconfidence_threshold: 0.7\nroi_forecast_min: 0.0\n".into(),
    };
    // Promoted on its own numbers; its projection dips just below the
    // minimum (within 0.05): borderline when the queue is in use.
    let card = NamedText {
        name: "c.json".into(),
        text: "{\"workflow_id\": \"edge\", \"raroi\": 1.5, \"confidence\": 0.9, \"alignment_status\": \"pass\", \"security_status\": \"pass\", \"forecast\": {\"projections\": [{\"cycle\": 1, \"roi\": -0.02}], \"confidence\": 0.8}}".into(),
    };
    let mut request = ScorecardRequest {
        policy,
        scorecards: vec![card],
        borderline_queue: false,
        log: false,
    };
    let off = c
        .evaluate_scorecards(&request, None)
        .await
        .expect("evaluated");
    assert_eq!(off.queued, 0);
    assert!(c.borderline_queue().expect("queue").is_empty());
    request.borderline_queue = true;
    let on = c
        .evaluate_scorecards(&request, None)
        .await
        .expect("evaluated");
    let verdict = on.rows[0].evaluation.as_ref().map(|e| e.verdict);
    assert_eq!(verdict, Some(gavel_governance::Verdict::Borderline));
    assert_eq!(on.queued, 1);
    let queue = c.borderline_queue().expect("queue");
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].workflow_id.as_deref(), Some("edge"));
    assert_eq!(queue[0].status, "pending");
}

#[tokio::test]
async fn a_scorecard_file_that_is_not_json_is_one_row_saying_where() {
    let (_home, c) = team().await;
    let request = ScorecardRequest {
        policy: scorecard_examples().policy,
        scorecards: vec![NamedText {
            name: "one.json".into(),
            text: "{\n  \"workflow_id\": \"w\",\n  \"raroi\": 1.2,\n}\n".into(),
        }],
        borderline_queue: false,
        log: false,
    };
    let out = c
        .evaluate_scorecards(&request, None)
        .await
        .expect("evaluated");
    assert_eq!((out.rows.len(), out.invalid), (1, 1));
    assert_eq!(out.rows[0].source, "one.json");
    let error = out.rows[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("line 4"), "{error}");
}

#[tokio::test]
async fn a_policy_that_does_not_load_says_where() {
    let (_home, c) = team().await;
    let request = ScorecardRequest {
        policy: NamedText {
            name: "p.yaml".into(),
            text:
                "raroi_threshold: 1.0\nrules:\n  - decision: maybe\n    condition: \"raroi > 1\"\n"
                    .into(),
        },
        scorecards: scorecard_examples().scorecards,
        borderline_queue: false,
        log: true,
    };
    let e = c.evaluate_scorecards(&request, None).await.unwrap_err();
    assert_eq!(e.code, "invalid_policy");
    assert_eq!(e.line, Some(3), "{e:?}");
    assert!(
        c.scorecard_runs(RunsQuery::default())
            .await
            .expect("runs")
            .is_empty()
    );
}

#[tokio::test]
async fn only_a_security_identity_issues_overrides_and_each_issue_is_listed() {
    let (_home, c) = team().await;
    let form = OverrideForm {
        workflow_id: "invoice-triage".into(),
        forced_verdict: Some("promote".into()),
        bypass_micro_pilot: false,
        reason: "Approved by the risk committee on Monday".into(),
        expires_in: Some("2h".into()),
    };
    // Nobody chosen among two identities: told to choose, in the app's words.
    let nobody = c.override_lists(None).await.expect("lists");
    assert!(!nobody.can_issue);
    assert!(
        nobody
            .why_not
            .as_deref()
            .is_some_and(|w| w.contains("header")),
        "{nobody:?}"
    );
    // bob is an approver only: refused, and told why before he tries.
    let bob = c.override_lists(Some("bob")).await.expect("lists");
    assert!(!bob.can_issue);
    assert!(
        bob.why_not
            .as_deref()
            .is_some_and(|w| w.contains("security"))
    );
    let refused = c.issue_override_form(&form, Some("bob")).await.unwrap_err();
    assert_eq!(refused.code, "refused", "{refused:?}");
    // ada holds every person role.
    let issued = c
        .issue_override_form(&form, Some("ada"))
        .await
        .expect("issued");
    let lists = c.override_lists(Some("ada")).await.expect("lists");
    assert!(lists.can_issue && lists.why_not.is_none());
    assert_eq!(lists.issued.len(), 1);
    assert_eq!(lists.issued[0].actor, "ada");
    assert_eq!(lists.issued[0].subject, "invoice-triage");
    assert_eq!(lists.issued[0].details["id"], issued.id.as_str());
    assert!(lists.used.is_empty());
    // The file verifies, for anyone; an edited one does not.
    let text = issued.envelope.to_string();
    let v = c.verify_override_text(&text, None).await.expect("verified");
    assert!(v.valid, "{v:?}");
    assert_eq!(v.workflow_id.as_deref(), Some("invoice-triage"));
    assert_eq!(v.forced_verdict, Some(gavel_governance::Verdict::Promote));
    assert_eq!(v.signers[0].name, "ada");
    assert!(v.ledger_checked);
    let mut edited = issued.envelope.clone();
    let sig = edited["signatures"][0]["sig"]
        .as_str()
        .expect("sig")
        .to_string();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    edited["signatures"][0]["sig"] = Value::String(format!("{flipped}{}", &sig[1..]));
    let bad = c
        .verify_override_text(&edited.to_string(), None)
        .await
        .expect("a verdict");
    assert!(!bad.valid);
    assert_eq!(bad.reason.as_deref(), Some("bad_signature"));
    // Bad input: a reason too short, a verdict no override may force.
    let short = OverrideForm {
        reason: "because".into(),
        ..form.clone()
    };
    assert_eq!(
        c.issue_override_form(&short, Some("ada"))
            .await
            .unwrap_err()
            .code,
        "invalid"
    );
    let borderline = OverrideForm {
        forced_verdict: Some("borderline".into()),
        ..form
    };
    assert_eq!(
        c.issue_override_form(&borderline, Some("ada"))
            .await
            .unwrap_err()
            .code,
        "invalid"
    );
    assert_eq!(
        c.verify_override_text("{\"payloadType\": 1, \"payloadType\": 2}", None)
            .await
            .unwrap_err()
            .code,
        "invalid"
    );
}

#[tokio::test]
async fn roles_are_granted_by_security_only_and_keys_travel_as_files() {
    let (_home, c) = team().await;
    let view = c.keys_view(Some("bob")).await.expect("keys");
    assert_eq!(view.acting.as_deref(), Some("bob"));
    assert!(!view.can_grant);
    assert!(c.keys_view(Some("ada")).await.expect("keys").can_grant);
    let bob = view
        .keys
        .iter()
        .find(|k| k.name == "bob")
        .expect("bob")
        .keyid
        .clone();
    // bob cannot give himself the security role; ada can grant it.
    let refused = c
        .set_roles(&bob, &["security".into()], Some("bob"))
        .await
        .unwrap_err();
    assert_eq!(refused.code, "refused");
    let granted = c
        .set_roles(&bob, &["approver".into(), "security".into()], Some("ada"))
        .await
        .expect("granted");
    assert_eq!(
        granted.roles,
        vec![gavel_trust::Role::Approver, gavel_trust::Role::Security]
    );
    assert_eq!(
        c.set_roles(&bob, &["boss".into()], Some("ada"))
            .await
            .unwrap_err()
            .code,
        "invalid"
    );
    // A new identity with roles needs a security actor too.
    assert_eq!(
        c.create_identity_with_roles("cy", "cy@example.com", &["analyst".into()], None)
            .await
            .unwrap_err()
            .code,
        "invalid",
        "several identities: who acts must be named"
    );
    let cy = c
        .create_identity_with_roles("cy", "cy@example.com", &["analyst".into()], Some("ada"))
        .await
        .expect("cy");
    assert_eq!(cy.roles, vec![gavel_trust::Role::Analyst]);
    // The trust store export is read back as keys; nonsense is refused.
    let export = c.export_trust().await.expect("export").to_string();
    assert_eq!(public_keys_of(&export).expect("keys").len(), 3);
    let one = serde_json::to_string(&c.export_key("ada").await.expect("ada")).expect("json");
    assert_eq!(public_keys_of(&one).expect("key")[0].name, "ada");
    assert_eq!(public_keys_of("{}").unwrap_err().code, "invalid_key");
    assert_eq!(
        public_keys_of("{\"version\": 1, \"keys\": []}")
            .unwrap_err()
            .code,
        "invalid_key"
    );
}

#[test]
fn files_are_read_within_bounds_and_written_whole_without_replacing_by_surprise() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("out.json");
    let p = path.to_str().expect("utf-8 path");
    assert_eq!(write_text_file(p, "one", false).expect("written"), p);
    assert_eq!(write_text_file(p, "two", false).unwrap_err().code, "exists");
    assert_eq!(read_text_file(p).expect("read").text, "one");
    write_text_file(p, "two", true).expect("replaced");
    let read = read_text_file(p).expect("read");
    assert_eq!(
        (read.name.as_str(), read.text.as_str()),
        ("out.json", "two")
    );
    // Nothing but the file itself is left in its folder.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1);
    let d = dir.path().to_str().expect("utf-8 path");
    assert_eq!(read_text_file(d).unwrap_err().code, "unreadable");
    assert_eq!(
        write_text_file(d, "x", true).unwrap_err().code,
        "unwritable"
    );
    let missing = dir.path().join("no/such/dir/f.json");
    assert_eq!(
        write_text_file(missing.to_str().expect("utf-8"), "x", false)
            .unwrap_err()
            .code,
        "unwritable"
    );
    assert_eq!(read_text_file("  ").unwrap_err().code, "invalid");
    let binary = dir.path().join("bin");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).expect("bytes");
    assert_eq!(
        read_text_file(binary.to_str().expect("utf-8"))
            .unwrap_err()
            .code,
        "unreadable"
    );
    let big = dir.path().join("big");
    let f = std::fs::File::create(&big).expect("file");
    f.set_len(gavel_policy::MAX_FILE_BYTES + 1).expect("size");
    assert_eq!(
        read_text_file(big.to_str().expect("utf-8"))
            .unwrap_err()
            .code,
        "too_large"
    );
}

#[test]
fn updater_settings_are_checked_and_kept_beside_other_settings() {
    let home = tempfile::tempdir().expect("home");
    assert_eq!(
        UpdaterSettings::load(home.path()).expect("defaults"),
        UpdaterSettings::default()
    );
    let good = UpdaterSettings {
        endpoint: "https://updates.example.com/gavel/latest.json".into(),
        pubkey: "dW50cnVzdGVkIGNvbW1lbnQ6IG1pbmlzaWdu".into(),
        check_at_start: true,
    };
    good.save(home.path()).expect("saved");
    assert_eq!(UpdaterSettings::load(home.path()).expect("loaded"), good);
    let plain = UpdaterSettings {
        endpoint: "http://updates.example.com/latest.json".into(),
        ..good.clone()
    };
    assert_eq!(plain.save(home.path()).unwrap_err().code, "invalid");
    let loopback = UpdaterSettings {
        endpoint: "http://127.0.0.1:8080/latest.json".into(),
        ..good.clone()
    };
    loopback.save(home.path()).expect("loopback is allowed");
    // Plain http to anything but this machine is refused, however it is
    // dressed up.
    for endpoint in [
        "http://localhost.evil.example/latest.json",
        "http://127.0.0.1.nip.io/latest.json",
        "http://localhost@evil.example/latest.json",
        "http://localhost:notaport/latest.json",
        "ftp://127.0.0.1/latest.json",
    ] {
        let tricked = UpdaterSettings {
            endpoint: endpoint.into(),
            ..good.clone()
        };
        assert_eq!(
            tricked.save(home.path()).unwrap_err().code,
            "invalid",
            "{endpoint}"
        );
    }
    for endpoint in ["http://localhost/latest.json", "http://[::1]:9/u.json"] {
        let local = UpdaterSettings {
            endpoint: endpoint.into(),
            ..good.clone()
        };
        local.save(home.path()).expect(endpoint);
    }
    loopback.save(home.path()).expect("loopback");
    let not_base64 = UpdaterSettings {
        pubkey: "not base64!".into(),
        ..good.clone()
    };
    assert_eq!(not_base64.save(home.path()).unwrap_err().code, "invalid");
    // A refused save changed nothing.
    assert_eq!(
        UpdaterSettings::load(home.path()).expect("loaded"),
        loopback
    );
    // Other settings in the file are kept.
    let file = home.path().join("desktop.json");
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("file")).expect("json");
    doc["theme"] = json!("dark");
    std::fs::write(&file, doc.to_string()).expect("written");
    good.save(home.path()).expect("saved");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("file")).expect("json");
    assert_eq!(doc["theme"], "dark");
    assert_eq!(doc["updater"]["endpoint"], good.endpoint.as_str());
    // A file that is not an object of settings is not overwritten.
    std::fs::write(&file, "[]").expect("written");
    assert_eq!(good.save(home.path()).unwrap_err().code, "invalid");
    assert_eq!(std::fs::read_to_string(&file).expect("file"), "[]");
}
