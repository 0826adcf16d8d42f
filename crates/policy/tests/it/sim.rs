//! The simulator: counts worked out by hand on the nine curated cases,
//! budgets and breaches, synthetic determinism and coverage, compare,
//! replay and policy tests.

use gavel_policy::Engine;
use gavel_policy::sim::{
    CHUNK_CASES, Case, CaseFormat, Change, CompareRun, CsvCases, MAX_LISTED_CHANGES, ReplayRun,
    ResultRow, SimConfig, SimRun, SyntheticCases, compare, fixture_cases, parse_case_line,
    parse_cases, parse_decision_log, parse_logged_decision, rate, replay, round_rate, simulate,
    synthetic_cases,
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

#[test]
fn rates_round_like_pythons_round_to_3_places() {
    // Expected values printed once by Python 3.11 (`round(count / total,
    // 3)`): the seed project's summaries, which the same dataset must
    // reproduce. Includes exact ties (ties to even) and negatives (deltas).
    let text = std::fs::read_to_string(crate::fixtures().join("sim/python-round3.tsv")).unwrap();
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let (count, total): (i64, i64) = (f[0].parse().unwrap(), f[1].parse().unwrap());
        let expected: f64 = f[2].parse().unwrap();
        let x = count as f64 / total as f64;
        assert_eq!(round_rate(x), expected, "round({count} / {total}, 3)");
        if count >= 0 {
            assert_eq!(rate(count as usize, total as usize), expected);
        }
        checked += 1;
    }
    assert!(checked >= 400, "{checked} values checked");
    assert_eq!(rate(3, 0), 0.0);
}

#[test]
fn summary_rates_are_pythons_4235_of_10000_is_0_423() {
    let bundle = parse_bundle(
        "rules:\n  - {id: flagged, agent: a.b, action: deploy, effect: allow, conditions: {flag: 1}, reason: Flagged deploys are fine}\n",
        Format::Yaml,
    )
    .unwrap();
    let cases: Vec<Case> = (0..10_000)
        .map(|i| {
            let flag = if i < 4235 { 1 } else { 0 };
            let line = format!(
                "{{\"agent\":\"a.b\",\"action\":\"deploy\",\"context\":{{\"flag\":{flag}}}}}"
            );
            parse_case_line(&line, i + 1, i + 1).unwrap().unwrap()
        })
        .collect();
    let s = simulate(&bundle, &cases, &SimConfig::default()).summary;
    // (x * 1000).round() / 1000 gave 0.424 and 0.577 here.
    assert_eq!((s.allow_rate, s.no_match_rate), (0.423, 0.577));
}

/// The summary of `n` synthetic cases fed to a streamed run.
fn streamed(bundle: &gavel_policy::Bundle, n: usize, threads: usize) -> (String, usize) {
    let engine = Engine::compile(bundle);
    let mut run = SimRun::new(
        &engine,
        SimConfig {
            threads,
            progress: None,
        },
    );
    let mut rows = 0;
    let mut last = String::new();
    let mut sink = |case: &Case, row: &ResultRow<'_>| -> Result<(), ()> {
        assert_eq!(row.case_id, case.case_id.as_str());
        rows += 1;
        last = case.case_id.clone();
        Ok(())
    };
    for case in SyntheticCases::new(bundle, 1337).take(n) {
        run.push(case, &mut sink).unwrap();
    }
    let report = run.finish(&mut sink).unwrap();
    assert_eq!(last, format!("synthetic-{n:06}"), "rows come in case order");
    (serde_json::to_string(&report).unwrap(), rows)
}

#[test]
fn streamed_runs_over_several_chunks_match_the_whole_run_on_any_thread_count() {
    let bundle = fixture_bundle("bundles/deployment-safety.yaml");
    let n = CHUNK_CASES * 2 + 123;
    let (one, rows) = streamed(&bundle, n, 1);
    assert_eq!(rows, n, "every case reaches the sink once");
    assert_eq!(one, streamed(&bundle, n, 2).0);
    assert_eq!(one, streamed(&bundle, n, 3).0);
    let whole = simulate(
        &bundle,
        &synthetic_cases(&bundle, n, 1337),
        &SimConfig::default(),
    );
    let report: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(
        report["summary"],
        serde_json::to_value(&whole.summary).unwrap()
    );
    assert_eq!(
        report["rule_hits"],
        serde_json::to_value(&whole.rule_hits).unwrap()
    );
    assert_eq!(whole.results.len(), n);
}

#[test]
fn examples_mark_the_no_match_case() {
    let bundle = fixture_bundle("sim/bundle.yaml");
    let sim = simulate(&bundle, &fixture_cases(), &SimConfig::default());
    let json = serde_json::to_value(&sim).unwrap();
    let flags: Vec<(&str, bool)> = json["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["case_id"].as_str().unwrap(),
                e["no_match"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            ("inbox-high-risk-phishing", false),
            ("extreme-risk-score", false),
            ("inbox-medium-risk-escalation", false),
            ("missing-fields-empty-context", true),
        ]
    );
}

/// Two bundles that disagree on every `a.b`/`deploy` case.
fn opposite_bundles() -> (gavel_policy::Bundle, gavel_policy::Bundle) {
    let rule = |effect: &str| {
        parse_bundle(
            &format!("rules:\n  - {{id: all-{effect}, agent: a.b, action: deploy, effect: {effect}, reason: Every deploy is decided so}}\n"),
            Format::Yaml,
        )
        .unwrap()
    };
    (rule("allow"), rule("deny"))
}

fn deploy_cases(n: usize) -> Vec<Case> {
    (0..n)
        .map(|i| {
            let line = format!("{{\"case_id\":\"c{i}\",\"agent\":\"a.b\",\"action\":\"deploy\"}}");
            parse_case_line(&line, i + 1, i + 1).unwrap().unwrap()
        })
        .collect()
}

#[test]
fn compare_lists_the_first_changes_and_counts_every_one() {
    let (a, b) = opposite_bundles();
    let (ea, eb) = (Engine::compile(&a), Engine::compile(&b));
    let n = MAX_LISTED_CHANGES * 3 + 7;
    let mut run = CompareRun::new(&ea, &eb, SimConfig::default());
    let mut streamed = Vec::new();
    let mut sink = |c: &Change| -> Result<(), ()> {
        streamed.push(c.case_id.clone());
        Ok(())
    };
    for case in deploy_cases(n) {
        run.push(case, &mut sink).unwrap();
    }
    let c = run.finish(&mut sink).unwrap();
    assert_eq!(c.changes.len(), MAX_LISTED_CHANGES);
    assert_eq!(c.total_changes, n);
    assert_eq!(c.transitions.get("allow->deny"), Some(&n));
    assert_eq!(streamed.len(), n, "the sink gets every change");
    assert_eq!(streamed[n - 1], format!("c{}", n - 1));
    assert_eq!(c.changes[0].case_id, "c0");
    assert_eq!((c.deltas.allow_rate, c.deltas.deny_rate), (-1.0, 1.0));
}

#[test]
fn replay_runs_stream_a_log_a_line_at_a_time() {
    let (allow, _) = opposite_bundles();
    let engine = Engine::compile(&allow);
    let mut run = ReplayRun::new(&engine, SimConfig::default());
    let mut streamed = 0;
    let mut sink = |_: &Change| -> Result<(), ()> {
        streamed += 1;
        Ok(())
    };
    let n = MAX_LISTED_CHANGES + 500;
    for i in 0..n {
        let line = format!(
            "{{\"request\":{{\"agent\":\"a.b\",\"action\":\"deploy\",\"request_id\":\"r{i}\"}},\"decision\":{{\"effect\":\"deny\"}}}}"
        );
        let logged = parse_logged_decision(&line, i + 1).unwrap().unwrap();
        assert_eq!(logged.case.line, Some(i + 1));
        run.push(logged, &mut sink).unwrap();
    }
    assert_eq!(
        parse_logged_decision("   ", 9).unwrap(),
        None,
        "blank lines are skipped"
    );
    let r = run.finish(&mut sink).unwrap();
    assert_eq!((r.total_decisions, r.total_changes, streamed), (n, n, n));
    assert_eq!(r.changes.len(), MAX_LISTED_CHANGES);
    let e = parse_logged_decision("{\"agent\":\"a.b\"", 7).unwrap_err();
    assert_eq!(e.line, Some(7), "errors carry the line they were given");
}

fn csv(text: &str) -> Result<Vec<Case>, gavel_policy::sim::DatasetError> {
    CsvCases::new(text.as_bytes(), 1 << 20).collect()
}

#[test]
fn csv_strips_a_byte_order_mark_from_the_first_column() {
    let cases = csv("\u{feff}case_id,agent,action\nc1,a.b,deploy\n").unwrap();
    assert_eq!(cases[0].case_id, "c1");
    assert!(cases[0].id_given);
    assert_eq!(cases[0].context, gavel_policy::Value::Object(vec![]));
}

#[test]
fn csv_refuses_duplicate_columns_naming_both() {
    let e = csv("agent,action,risk,risk\na.b,deploy,1,99\n").unwrap_err();
    assert_eq!(e.line, Some(1));
    assert!(
        e.message.contains("columns 3 and 4 are both named `risk`"),
        "{e}"
    );
    let e = csv("agent,action,agent\na.b,deploy,c.d\n").unwrap_err();
    assert!(e.message.contains("`agent`"), "{e}");
}

#[test]
fn csv_refuses_a_column_that_is_the_prefix_of_a_dotted_one() {
    for header in [
        "customer,customer.tier",
        "customer.tier,customer",
        "a.b,a.b.c",
    ] {
        let e = csv(&format!("agent,action,{header}\na.b,deploy,x,y\n")).unwrap_err();
        assert_eq!(e.line, Some(1), "{header}");
        assert!(e.message.contains("collide"), "{header}: {e}");
        let (short, long) = if header.starts_with("customer.") {
            ("customer", "customer.tier")
        } else {
            header.split_once(',').unwrap()
        };
        assert!(e.message.contains(&format!("`{short}`")), "{e}");
        assert!(e.message.contains(&format!("`{long}`")), "{e}");
    }
    // Siblings under one parent are fine.
    let cases = csv("agent,action,customer.tier,customer.id\na.b,deploy,gold,7\n").unwrap();
    let customer = cases[0].context.get("customer").unwrap();
    assert_eq!(customer.get("id"), Some(&gavel_policy::Value::Number(7.0)));
}

#[test]
fn csv_keeps_numbers_empty_cells_and_line_numbers() {
    // A quoted cell over two lines: the next row starts on line 4.
    let text = "case_id,agent,action,note,score,flag\n\
                c1,a.b,deploy,\"two\nlines\",+5,007\n\
                c2,a.b,deploy,,1e3,\n\
                c3,a.b,deploy,x\n";
    let e = csv(text).unwrap_err();
    assert_eq!(e.line, Some(5), "{e}");
    assert!(
        e.message.contains("4 cells where the header has 6 columns"),
        "{e}"
    );
    let cases = csv(&text.replace("c3,a.b,deploy,x\n", "")).unwrap();
    assert_eq!(cases[0].line, Some(2));
    assert_eq!(cases[1].line, Some(4));
    use gavel_policy::Value;
    assert_eq!(
        cases[0].context.get("note"),
        Some(&Value::String("two\nlines".into()))
    );
    assert_eq!(
        cases[0].context.get("score"),
        Some(&Value::String("+5".into()))
    );
    assert_eq!(cases[0].context.get("flag"), Some(&Value::Number(7.0)));
    assert_eq!(cases[1].context.get("score"), Some(&Value::Number(1000.0)));
    assert!(cases[1].context.get("note").is_none());
    assert!(cases[1].context.get("flag").is_none());
}

#[test]
fn csv_refuses_a_row_over_the_limit_with_its_line() {
    let long = "x".repeat(5_000);
    let text = format!("agent,action,note\na.b,deploy,short\na.b,deploy,{long}\n");
    let e = CsvCases::new(text.as_bytes(), 1_000)
        .collect::<Result<Vec<_>, _>>()
        .unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("longer than 1000 bytes"), "{e}");
}

#[test]
fn csv_refuses_a_value_under_a_column_without_a_name() {
    // A trailing comma on every line is harmless …
    assert_eq!(csv("agent,action,\na.b,deploy,\n").unwrap().len(), 1);
    // … a value there would be lost.
    let e = csv("agent,action,\na.b,deploy,\na.b,deploy,oops\n").unwrap_err();
    assert_eq!(e.line, Some(3));
    assert!(
        e.message.contains("column 3 has a value but no name"),
        "{e}"
    );
}

#[test]
fn a_misspelled_case_field_gets_the_nearest_name() {
    let line = "{\"agent\":\"a.b\",\"action\":\"x\",\"expected_efect\":\"allow\"}";
    let e = parse_case_line(line, 4, 1).unwrap_err();
    assert_eq!(e.line, Some(4));
    assert!(
        e.message
            .contains("unknown field `expected_efect`; did you mean `expected_effect`?"),
        "{e}"
    );
    let e = parse_cases(&format!("[{line}]"), CaseFormat::JsonArray).unwrap_err();
    assert!(e.message.contains("did you mean `expected_effect`?"), "{e}");
    let e = parse_case_line("{\"agent\":\"a.b\",\"action\":\"x\",\"zzz\":1}", 1, 1).unwrap_err();
    assert!(
        e.message.contains("free-form data goes in `context`"),
        "{e}"
    );
}

#[test]
fn cases_record_their_line_and_whether_they_were_named() {
    let cases = parse_cases(
        "{\"agent\":\"a.b\",\"action\":\"x\"}\n\n{\"case_id\":\"named\",\"agent\":\"a.b\",\"action\":\"x\"}\n",
        CaseFormat::JsonLines,
    )
    .unwrap();
    assert_eq!(
        (cases[0].case_id.as_str(), cases[0].id_given, cases[0].line),
        ("case-1", false, Some(1))
    );
    assert_eq!(
        (cases[1].case_id.as_str(), cases[1].id_given, cases[1].line),
        ("named", true, Some(3))
    );
}
