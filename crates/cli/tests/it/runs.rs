//! `gavel scorecard eval` records its runs in the store, and `gavel
//! scorecard runs` lists them; an override's use is recorded with its run
//! and audited, and a refused one writes nothing of it.

use std::path::Path;
use std::sync::Arc;

use gavel_console::{Console, MemoryKeychain, RunFilter, ScorecardRun};
use serde_json::{Value, json};

use crate::{Governance, code, gavel_in};

/// Every recorded run (newest first) and the audit chain, read directly.
fn state(home: &Path) -> (Vec<ScorecardRun>, Vec<gavel_store::AuditEntry>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = Console::open(home, Arc::new(MemoryKeychain::default()))
            .await
            .unwrap();
        let runs = c
            .list_runs(&RunFilter {
                limit: Some(10_000),
                ..Default::default()
            })
            .await
            .unwrap();
        let store = gavel_store::Store::open(&home.join("gavel.db"))
            .await
            .unwrap();
        (runs, store.audit_page(0, 100_000).await.unwrap())
    })
}

fn spent(home: &Path, file: &str) -> bool {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = Console::open(home, Arc::new(MemoryKeychain::default()))
            .await
            .unwrap();
        c.override_spent(&doc, gavel_trust::Format::Dsse)
            .await
            .unwrap()
    })
}

fn runs(g: &Governance, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["scorecard", "runs", "--format", "json"];
    args.extend_from_slice(extra);
    let out = gavel_in(g.home(), &args);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (code(&out), v)
}

fn workflows(v: &Value) -> Vec<(&str, &str)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["workflow_id"].as_str().unwrap(),
                r["verdict"].as_str().unwrap(),
            )
        })
        .collect()
}

const BATCH: &str = r#"{"workflow_id": "wf-1", "raroi": 0.2, "confidence": 0.9}
{"workflow_id": "wf-2", "raroi": 2.0, "confidence": 0.9}
{"workflow_id": "wf-1", "raroi": 2.0, "confidence": 0.9}
"#;

#[test]
fn scorecard_runs_are_recorded_with_their_log_line_and_filtered() {
    let g = Governance::new();
    let (_, audit_before) = state(g.home());
    let (c, _) = g.eval(BATCH, &[]);
    assert_eq!(c, 0);
    let (c, all) = runs(&g, &[]);
    assert_eq!(c, 0);
    assert_eq!(
        workflows(&all),
        [("wf-1", "promote"), ("wf-2", "promote"), ("wf-1", "no_go")],
        "newest first"
    );
    // Each run holds the line the decision log got.
    let log = std::fs::read_to_string(g.home().join("governance/decision_log.jsonl")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stored: Vec<Value> = all
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|r| r["log_line"].clone())
        .collect();
    assert_eq!(stored, lines);
    let first = &all[2];
    assert_eq!(first["override_id"], Value::Null);
    assert!(first["at"].as_str().unwrap().ends_with('Z'), "{first}");
    assert!(first["id"].as_i64().unwrap() >= 1);
    // No audit entry per run.
    assert_eq!(state(g.home()).1, audit_before);

    // Filters.
    let filtered = |extra: &[&str]| {
        workflows(&runs(&g, extra).1)
            .into_iter()
            .map(|(w, v)| format!("{w}:{v}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        filtered(&["--workflow", "wf-1"]),
        ["wf-1:promote", "wf-1:no_go"]
    );
    assert_eq!(
        filtered(&["--verdict", "promote"]),
        ["wf-1:promote", "wf-2:promote"]
    );
    assert_eq!(
        filtered(&["--workflow", "wf-1", "--verdict", "no_go"]),
        ["wf-1:no_go"]
    );
    assert_eq!(
        filtered(&["--limit", "1", "--offset", "1"]),
        ["wf-2:promote"]
    );
    assert!(filtered(&["--since", "2999-01-01"]).is_empty());
    assert!(filtered(&["--until", "2000-01-01T00:00:00Z"]).is_empty());
    assert_eq!(
        filtered(&["--since", "2000-01-01", "--until", "2999-01-01"]).len(),
        3
    );
    for bad in [
        &["--verdict", "maybe"][..],
        &["--since", "last week"],
        &["--limit", "0"],
        &["--offset=-1"],
    ] {
        let (c, v) = runs(&g, bad);
        assert_eq!(
            (c, v["error"]["code"].as_str()),
            (2, Some("invalid")),
            "{bad:?}: {v}"
        );
    }

    // `--no-log` skips the store as it skips the log; `--log FILE` records.
    let (before, _) = state(g.home());
    assert_eq!(g.eval(BATCH, &["--no-log"]).0, 0);
    assert_eq!(state(g.home()).0, before);
    let elsewhere = g.path("elsewhere.jsonl");
    assert_eq!(g.eval(BATCH, &["--log", &elsewhere]).0, 0);
    assert_eq!(state(g.home()).0.len(), before.len() + 3);
}

/// A run is recorded with who ran it: `--as`, else the store's only
/// identity, else nobody; an unknown `--as` is bad input and records
/// nothing.
#[test]
fn a_run_records_who_ran_it() {
    let g = Governance::new();
    assert_eq!(g.eval(BATCH, &[]).0, 0);
    let (all, _) = state(g.home());
    assert!(all.iter().all(|r| r.actor.is_none()), "no identity here");
    let (c, _) = g.eval(BATCH, &["--as", "nobody"]);
    assert_eq!(c, 2);
    assert_eq!(state(g.home()).0, all);
}

#[test]
fn an_override_use_is_recorded_with_its_run_and_audited_and_a_refused_one_writes_nothing() {
    let g = Governance::new();
    let card = r#"{"workflow_id": "wf-1", "raroi": 0.2, "confidence": 0.9}"#;
    let ovr = g.override_file("good", &g.security, "wf-1", "promote", 3600);
    let (_, audit_before) = state(g.home());

    // Refused for another workflow (with --no-log): nothing written at all.
    let other = g.override_file("other", &g.security, "wf-2", "promote", 3600);
    let before = state(g.home());
    let (c, out) = g.eval(card, &["--override", &other, "--no-log"]);
    assert_eq!(
        (c, out[0]["overrides"]["refused"].as_str()),
        (1, Some("other_workflow"))
    );
    assert_eq!(state(g.home()), before);
    assert!(!spent(g.home(), &other));

    // Used (even with --no-log): consumed, its run recorded, audited, in
    // one transaction.
    let (c, out) = g.eval(card, &["--override", &ovr, "--no-log"]);
    assert_eq!((c, out[0]["verdict"].as_str()), (0, Some("promote")));
    assert!(spent(g.home(), &ovr));
    let (all, audit) = state(g.home());
    assert_eq!(all.len(), 1);
    let run = &all[0];
    assert_eq!(run.override_id.as_deref(), Some("ovr-good"));
    assert_eq!(
        (run.workflow_id.as_deref(), run.verdict.as_str()),
        (Some("wf-1"), "promote")
    );
    assert_eq!(
        run.log_line["reason_codes"],
        json!(["raroi_below_threshold", "manual_override"])
    );
    assert_eq!(audit.len(), audit_before.len() + 1);
    let entry = audit.last().unwrap();
    assert_eq!(
        (
            entry.actor.as_str(),
            entry.action.as_str(),
            entry.subject.as_str()
        ),
        ("gavel", "override.use", "ovr-good")
    );
    assert_eq!(entry.details["run_id"], run.id);
    assert_eq!(entry.details["workflow_id"], "wf-1");
    assert_eq!(entry.prev_hash, audit_before.last().unwrap().hash);

    // Used again: refused; with --no-log nothing is written, without it
    // only the run as evaluated without the override (no ledger row, no
    // audit entry).
    let before = state(g.home());
    let (c, out) = g.eval(card, &["--override", &ovr, "--no-log"]);
    assert_eq!(
        (c, out[0]["overrides"]["refused"].as_str()),
        (1, Some("used"))
    );
    assert_eq!(state(g.home()), before);
    let (c, _) = g.eval(card, &["--override", &ovr]);
    assert_eq!(c, 1);
    let (after, audit_after) = state(g.home());
    assert_eq!(audit_after, before.1);
    assert_eq!(after.len(), before.0.len() + 1);
    assert_eq!(
        (after[0].override_id.as_deref(), after[0].verdict.as_str()),
        (None, "no_go")
    );
}

/// A batch larger than a transaction (5,000 runs) is recorded whole and in
/// the order of its lines, with an override's use in the middle of it
/// between the runs before it and those after (the runs are written on a
/// thread of their own while the next are evaluated).
#[test]
fn a_large_batch_is_recorded_whole_and_in_order_around_an_override_use() {
    let g = Governance::new();
    let ovr = g.override_file("mid", &g.security, "wf-mid", "promote", 3600);
    let n = 12_001;
    let at = 7_000;
    let mut batch = String::new();
    for i in 0..n {
        let id = if i == at {
            "wf-mid".to_string()
        } else {
            format!("wf-{i}")
        };
        batch.push_str(&format!(
            "{{\"workflow_id\": \"{id}\", \"raroi\": 0.2, \"confidence\": 0.9}}\n"
        ));
    }
    // Exit 1: the override is refused for every other workflow.
    let (c, out) = g.eval(&batch, &["--override", &ovr]);
    assert_eq!((c, out.len()), (1, n));
    assert_eq!(out[at]["verdict"], "promote");
    let page = |offset: &str| runs(&g, &["--limit", "10000", "--offset", offset]).1;
    let mut all: Vec<Value> = page("0").as_array().unwrap().clone();
    all.extend(page("10000").as_array().unwrap().iter().cloned());
    all.reverse();
    assert_eq!(all.len(), n, "every run recorded");
    for (i, r) in all.iter().enumerate() {
        let want = if i == at {
            "wf-mid".to_string()
        } else {
            format!("wf-{i}")
        };
        assert_eq!(r["workflow_id"], want.as_str(), "run {i} out of order");
        assert_eq!(
            r["override_id"].as_str(),
            (i == at).then_some("ovr-mid"),
            "run {i}"
        );
    }
    let ids: Vec<i64> = all.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids follow the lines");
}

/// A bad line deep in a large JSON Lines file (evaluated a block at a
/// time on every core): every line before it is printed, logged and
/// recorded in order, none after, and the error names its line.
#[test]
fn a_bad_line_in_a_large_batch_stops_it_there_with_every_line_before_recorded() {
    let g = Governance::new();
    let bad = 2_500;
    let mut batch = String::new();
    for i in 1..=3_000 {
        if i == bad {
            batch.push_str("{\"workflow_id\": \"wf-bad\", \"raroi\": }\n");
        } else {
            batch.push_str(&format!(
                "{{\"workflow_id\": \"wf-{i}\", \"raroi\": {}, \"confidence\": 0.9}}\n",
                i % 3
            ));
        }
    }
    let file = g.path("cards.jsonl");
    std::fs::write(&file, &batch).unwrap();
    let policy = g.path("policy.yaml");
    std::fs::write(&policy, "raroi_threshold: 1.0\nrules: []\n").unwrap();
    let out = gavel_in(
        g.home(),
        &[
            "scorecard",
            "eval",
            &file,
            "--policy",
            &policy,
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&out), 2);
    let printed: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        printed.len(),
        bad,
        "every line before the bad one, then the error"
    );
    for (i, p) in printed[..bad - 1].iter().enumerate() {
        assert_eq!(p["workflow_id"], format!("wf-{}", i + 1).as_str());
    }
    assert_eq!(printed[bad - 1]["error"]["line"], bad);
    let log = std::fs::read_to_string(g.home().join("governance/decision_log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), bad - 1);
    let recorded = runs(&g, &["--limit", "10000"]).1;
    let mut ids: Vec<&str> = recorded
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["workflow_id"].as_str().unwrap())
        .collect();
    ids.reverse();
    let want: Vec<String> = (1..bad).map(|i| format!("wf-{i}")).collect();
    assert_eq!(ids, want);
}

/// A JSON Lines file evaluated on several threads prints, logs, queues and
/// records exactly what one thread does, in file order: cards read in one
/// pass and cards that are not (nested forecasts, unknown fields, escapes)
/// alike, in text and JSON.
#[test]
fn several_threads_give_the_bytes_one_thread_gives() {
    let mut batch = String::new();
    for i in 0..9_000 {
        let card = match i % 9 {
            0 => json!({"workflow_id": format!("wf-{i}"), "raroi": 1.04, "confidence": 0.9,
                "forecast": {"projections": [{"cycle": 1, "roi": -0.03}], "confidence": 0.9}}),
            1 => json!({"workflow_id": format!("wf-\"{i}\""), "raroi": 2.0, "confidence": 0.9}),
            2 => json!({"raroi": (i % 7) as f64 * 0.4, "confidence": 0.8, "owner": "ops"}),
            3 => json!({"workflow_id": format!("wf-{i}"), "alignment_status": "fail", "raroi": 3}),
            4 => json!({"workflow_id": format!("wf-{i}"), "raroi": 1.5, "confidence": 0.9,
                "sandbox_roi": 0.01, "adapter_roi": 2.0}),
            5 => json!({"workflow_id": format!("wf-{i}"), "raroi": 1.5, "confidence": 0.9,
                "scenario_scores": {"latency": 0.1, "accuracy": 0.9}}),
            6 => json!({"raroi": 1.5, "confidence": 0.69}),
            _ => json!({"workflow_id": format!("wf-{i}"), "raroi": 1.5, "confidence": 0.9,
                "patch_summary": "ok", "security": {"status": "pass"}}),
        };
        batch.push_str(&card.to_string());
        batch.push('\n');
        if i % 1000 == 0 {
            batch.push_str("  \n");
        }
    }
    let policy = "raroi_threshold: 1.0\nmax_variance: 0.1\nborderline_queue: true\n\
        rules:\n  - decision: pilot\n    condition: raroi > 2.5 and confidence is None\n    reason_code: odd\n";
    let mut seen = Vec::new();
    for threads in ["1", "2", "3"] {
        for format in ["json", "text"] {
            let g = Governance::new();
            let file = g.path("cards.jsonl");
            std::fs::write(&file, &batch).unwrap();
            let policy_file = g.path("policy.yaml");
            std::fs::write(&policy_file, policy).unwrap();
            let queue = g.path("queue.jsonl");
            let out = gavel_in(
                g.home(),
                &[
                    "scorecard",
                    "eval",
                    &file,
                    "--policy",
                    &policy_file,
                    "--format",
                    format,
                    "--threads",
                    threads,
                    "--borderline-queue",
                    &queue,
                ],
            );
            assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
            let log =
                std::fs::read_to_string(g.home().join("governance/decision_log.jsonl")).unwrap();
            // The log's timestamps are the run's second.
            let log: Vec<Value> = log
                .lines()
                .map(|l| {
                    let mut v: Value = serde_json::from_str(l).unwrap();
                    v["timestamp"] = json!(0);
                    v
                })
                .collect();
            let queued: Vec<Value> = std::fs::read_to_string(&queue)
                .unwrap()
                .lines()
                .map(|l| {
                    let mut v: Value = serde_json::from_str(l).unwrap();
                    v["created_at"] = json!("");
                    v["updated_at"] = json!("");
                    v
                })
                .collect();
            let (recorded, _) = state(g.home());
            let recorded: Vec<(Option<String>, String, Value)> = recorded
                .into_iter()
                .map(|r| {
                    let mut line = r.log_line;
                    line["timestamp"] = json!(0);
                    (r.workflow_id, r.verdict, line)
                })
                .collect();
            assert_eq!(log.len(), 9_000);
            assert!(!queued.is_empty(), "some cards are borderline");
            // Text names a card without a workflow by its file and line.
            let printed = String::from_utf8(out.stdout)
                .unwrap()
                .replace(&file, "cards.jsonl");
            assert!(format == "json" || printed.contains("cards.jsonl:4: no_go"));
            seen.push(((threads, format), (printed, log, queued, recorded)));
        }
    }
    for (k, v) in &seen[2..] {
        let (_, first) = seen.iter().find(|(f, _)| f.1 == k.1).unwrap();
        assert!(first == v, "{k:?} differs from one thread");
    }
}
