//! The simulator: counts worked out by hand on the nine curated cases,
//! budgets and breaches, synthetic determinism and coverage, compare,
//! replay and policy tests.

use gavel_policy::sim::{
    Case, CaseFormat, SimConfig, compare, fixture_cases, parse_cases, parse_decision_log, replay,
    simulate, synthetic_cases,
};
use gavel_policy::{Effect, Format, parse_bundle};

fn fixture_bundle(path: &str) -> gavel_policy::Bundle {
    let text = std::fs::read_to_string(crate::fixtures().join(path)).unwrap();
    parse_bundle(&text, Format::detect(path, &text)).unwrap()
}

#[test]
fn nine_curated_cases_counted_by_hand() {
    let bundle = fixture_bundle("sim/bundle.yaml");
    let sim = simulate(&bundle, &fixture_cases(), &SimConfig::default());
    let s = &sim.summary;
    // allow: high-risk phishing, trusted sender, small reindex, prod deploy
    // after canary, rollback; needs approval: medium risk, large reindex;
    // deny by rule: the out-of-range score; no match: the empty context.
    assert_eq!(
        (
            s.total_cases,
            s.allow_count,
            s.deny_count,
            s.approval_count,
            s.no_match_count,
            s.error_count
        ),
        (9, 5, 1, 2, 1, 0)
    );
    assert_eq!(
        (s.allow_rate, s.deny_rate, s.approval_rate, s.no_match_rate),
        (0.556, 0.111, 0.222, 0.111)
    );
    // Budgets add up over the two approvals only: 0.02 + 250, 1 + 64.
    assert_eq!((s.estimated_cost, s.estimated_compute), (250.02, 65));
    assert!(s.breaches.is_empty());
    let hits: Vec<(&str, usize)> = sim
        .rule_hits
        .0
        .iter()
        .map(|(id, n)| (id.as_str(), *n))
        .collect();
    assert!(
        hits.contains(&("sim-deploy-nonprod", 0)),
        "zeros included: {hits:?}"
    );
    assert_eq!(hits.iter().map(|(_, n)| n).sum::<usize>(), 8);
    let examples: Vec<(&str, Effect)> = sim
        .examples
        .iter()
        .map(|e| (e.case_id.as_str(), e.effect))
        .collect();
    assert_eq!(
        examples,
        [
            ("inbox-high-risk-phishing", Effect::Allow),
            ("extreme-risk-score", Effect::Deny),
            ("inbox-medium-risk-escalation", Effect::NeedsApproval),
            ("missing-fields-empty-context", Effect::Deny),
        ]
    );
    assert!(sim.failures.is_empty(), "{:?}", sim.failures);
    let no_match = sim
        .results
        .iter()
        .find(|r| r.case_id == "missing-fields-empty-context")
        .unwrap();
    assert_eq!(
        (
            no_match.matched_rule.as_deref(),
            no_match.no_match,
            no_match.reason.as_ref()
        ),
        (None, true, "no rule matched")
    );
    let json = serde_json::to_value(&sim).unwrap();
    assert_eq!(json["results"][7]["matched_rule"], serde_json::Value::Null);
    assert_eq!(json["summary"]["estimated_cost"], 250.02);
}

fn cases(jsonl: &str) -> Vec<Case> {
    parse_cases(jsonl, CaseFormat::JsonLines).unwrap()
}

#[test]
fn budget_breaches() {
    let bundle = parse_bundle(
        "rules:\n  - {id: big-spend, agent: ops.buyer, action: apply, effect: needs_approval, reason: Large purchases need a sign-off, budget: {cost: 600, compute: 60}}\n",
        Format::Yaml,
    )
    .unwrap();
    let two = cases(
        "{\"agent\":\"ops.buyer\",\"action\":\"apply\"}\n{\"agent\":\"ops.buyer\",\"action\":\"apply\"}\n",
    );
    let s = simulate(&bundle, &two, &SimConfig::default()).summary;
    assert_eq!(s.estimated_cost, 1200.0);
    assert_eq!(s.estimated_compute, 120);
    assert_eq!(
        s.breaches,
        [
            "budget.cost: $1200.00 > $1000",
            "budget.compute: 120 > 100 units"
        ]
    );
    assert_eq!(s.approval_rate, 1.0);
    // One approval stays under both limits.
    let one = simulate(&bundle, &two[..1], &SimConfig::default()).summary;
    assert!(one.breaches.is_empty());
    // Rates are never all zero for a non-empty dataset: a lone no-match counts.
    let other = simulate(
        &bundle,
        &cases("{\"agent\":\"a.b\",\"action\":\"x\"}\n"),
        &SimConfig::default(),
    )
    .summary;
    assert_eq!((other.no_match_rate, other.deny_count), (1.0, 0));
    let empty = simulate(&bundle, &[], &SimConfig::default()).summary;
    assert_eq!((empty.total_cases, empty.allow_rate), (0, 0.0));
}

#[test]
fn synthetic_is_deterministic_across_runs_and_threads() {
    let bundle = fixture_bundle("bundles/deployment-safety.yaml");
    let run = |seed: u64, threads: usize| {
        let cases = synthetic_cases(&bundle, 5_000, seed);
        serde_json::to_string(&simulate(
            &bundle,
            &cases,
            &SimConfig {
                threads,
                progress: None,
            },
        ))
        .unwrap()
    };
    let one = run(1337, 1);
    assert_eq!(one, run(1337, 1));
    assert_eq!(one, run(1337, 2));
    assert_eq!(one, run(1337, 4));
    assert_ne!(one, run(1338, 2));
    // Time conditions are in play: synthetic cases carry timestamps.
    assert!(
        synthetic_cases(&bundle, 10, 1)
            .iter()
            .any(|c| c.timestamp.is_some())
    );
}

#[test]
fn synthetic_cases_are_pinned() {
    // Guards against a generator change that would alter every user's
    // synthetic datasets (same seed, same cases, on every machine).
    let bundle = fixture_bundle("bundles/inbox-triage.yaml");
    let cases = synthetic_cases(&bundle, 3, 1337);
    let text: Vec<String> = cases
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {}",
                c.case_id,
                c.agent,
                c.action,
                c.context_json()
            )
        })
        .collect();
    insta_like(&text.join("\n"), "synthetic-inbox-triage-1337.txt");
}

/// Compares with a file under `fixtures/sim/pinned/`; writes it when
/// `GAVEL_BLESS=1` is set.
fn insta_like(actual: &str, name: &str) {
    let path = crate::fixtures().join("sim/pinned").join(name);
    if std::env::var("GAVEL_BLESS").is_ok() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing; run with GAVEL_BLESS=1", path.display()));
    assert_eq!(actual, expected.trim_end_matches('\n'));
}

#[test]
fn synthetic_hits_almost_every_rule() {
    for entry in std::fs::read_dir(crate::fixtures().join("bundles")).unwrap() {
        let path = entry.unwrap().path();
        let name = format!("bundles/{}", path.file_name().unwrap().to_str().unwrap());
        let bundle = fixture_bundle(&name);
        let cases = synthetic_cases(&bundle, 10_000, 1337);
        let sim = simulate(
            &bundle,
            &cases,
            &SimConfig {
                threads: 2,
                progress: None,
            },
        );
        let hit = sim.rule_hits.0.iter().filter(|(_, n)| *n > 0).count();
        let total = sim.rule_hits.0.len();
        let missed: Vec<_> = sim
            .rule_hits
            .0
            .iter()
            .filter(|(_, n)| *n == 0)
            .map(|(id, _)| id)
            .collect();
        assert!(
            hit * 100 >= total * 95,
            "{name}: {hit} of {total} rules hit; missed {missed:?}"
        );
    }
}

#[test]
fn compare_lists_every_change_with_rules() {
    let a = fixture_bundle("sim/bundle.yaml");
    let text = std::fs::read_to_string(crate::fixtures().join("sim/bundle.yaml")).unwrap();
    let b = parse_bundle(
        &text.replace(
            "id: sim-deny-out-of-range-score",
            "id: sim-deny-out-of-range-score\n    enabled: false",
        ),
        Format::Yaml,
    )
    .unwrap();
    let c = compare(&a, &b, &fixture_cases(), &SimConfig::default());
    assert_eq!(c.total_changes, 1);
    let change = &c.changes[0];
    assert_eq!(
        (change.case_id.as_str(), change.before, change.after),
        ("extreme-risk-score", Effect::Deny, Effect::Allow)
    );
    assert_eq!(
        change.before_rule.as_deref(),
        Some("sim-deny-out-of-range-score")
    );
    assert_eq!(
        change.after_rule.as_deref(),
        Some("sim-quarantine-high-risk")
    );
    assert_eq!((c.deltas.allow_rate, c.deltas.deny_rate), (0.111, -0.111));
    assert_eq!(c.transitions.get("deny->allow"), Some(&1));
}

#[test]
fn replay_reports_what_would_change() {
    let bundle = fixture_bundle("sim/bundle.yaml");
    let log = "{\"request\":{\"agent\":\"knowledge.search\",\"action\":\"reindex\",\"context\":{\"index_size_gb\":4}},\"decision\":{\"effect\":\"allow\",\"rule_id\":\"old-small\"}}\n\
               {\"request\":{\"agent\":\"knowledge.search\",\"action\":\"reindex\",\"context\":{\"index_size_gb\":400}},\"decision\":{\"effect\":\"allow\",\"rule_id\":\"old-any\"}}\n";
    let r = replay(
        &bundle,
        &parse_decision_log(log).unwrap(),
        &SimConfig::default(),
    );
    assert_eq!((r.total_decisions, r.total_changes), (2, 1));
    assert_eq!(r.changes[0].case_id, "line-2");
    assert_eq!(
        (r.changes[0].before, r.changes[0].after),
        (Effect::Allow, Effect::NeedsApproval)
    );
    assert_eq!(r.changes[0].before_rule.as_deref(), Some("old-any"));
}

#[test]
fn expectations_make_failures() {
    let bundle = fixture_bundle("sim/bundle.yaml");
    let wrong = cases(
        "{\"case_id\":\"w\",\"agent\":\"inbox.triage\",\"action\":\"quarantine\",\"context\":{},\"expected_effect\":\"allow\"}\n{\"case_id\":\"r\",\"agent\":\"inbox.triage\",\"action\":\"quarantine\",\"context\":{},\"expected_effect\":\"deny\",\"expected_rule\":\"sim-quarantine-high-risk\"}\n{\"case_id\":\"ok\",\"agent\":\"inbox.triage\",\"action\":\"quarantine\",\"context\":{},\"expected_effect\":\"deny\",\"expected_rule\":null}\n",
    );
    let sim = simulate(&bundle, &wrong, &SimConfig::default());
    let failed: Vec<&str> = sim.failures.iter().map(|f| f.case_id.as_str()).collect();
    assert_eq!(failed, ["w", "r"]);
    assert_eq!(sim.results[2].passed, Some(true));
}

/// FNV-1a over the text of the first `n` synthetic cases of a bundle.
fn synthetic_digest(bundle: &gavel_policy::Bundle, n: usize, seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for c in synthetic_cases(bundle, n, seed) {
        let line = format!(
            "{} {} {} {:?} {}\n",
            c.case_id,
            c.agent,
            c.action,
            c.timestamp.map(|t| t.to_string()),
            c.context_json()
        );
        for b in line.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[test]
fn synthetic_sequences_of_every_example_bundle_are_pinned() {
    // The streaming generator must give exactly the cases the first
    // generator gave: users' saved seeds keep meaning the same datasets.
    let mut names: Vec<String> = std::fs::read_dir(crate::fixtures().join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().to_string())
        .collect();
    names.sort();
    let text: Vec<String> = names
        .iter()
        .map(|name| {
            let bundle = fixture_bundle(&format!("bundles/{name}"));
            format!("{name} {:016x}", synthetic_digest(&bundle, 3_000, 1337))
        })
        .collect();
    insta_like(&text.join("\n"), "synthetic-digests-3000-1337.txt");
}
