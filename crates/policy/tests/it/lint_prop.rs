//! The linter's exact findings hold against the engine on random bundles:
//! a rule reported `unreachable` or `unsatisfiable` never decides any of
//! 10,000 requests drawn around the bundle's thresholds and set members,
//! and every `conflict` carries a witness request that both rules match,
//! also when the linter runs out of work budget or lists few findings.

use std::cell::Cell;

use gavel_policy::{Engine, Format, LintConfig, Request, lint, parse_bundle, parse_document};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::reference::{REQ_ACTIONS, REQ_AGENTS, bundle_json, rule};

/// SplitMix64: requests are drawn deterministically from the bundle.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values around every operand the bundle mentions, plus other types.
fn pool(bundle: &Value) -> Vec<Value> {
    let mut pool = vec![
        json!("zzz"),
        json!(true),
        json!(false),
        Value::Null,
        json!([]),
        json!({}),
        json!(-1e9),
        json!(1e9),
    ];
    let mut add = |v: &Value| match v {
        Value::Number(n) => {
            let x = n.as_f64().unwrap();
            for d in [-1.0, -0.5, 0.0, 0.5, 1.0] {
                pool.push(json!(x + d));
            }
        }
        Value::Array(items) => {
            pool.push(v.clone());
            pool.extend(items.iter().cloned());
        }
        other => pool.push(other.clone()),
    };
    for r in bundle["rules"].as_array().unwrap() {
        for (_, operand) in r["conditions"].as_object().unwrap() {
            add(operand);
        }
    }
    for s in ["a", "b", "x.com", "abc", "y.com", "1"] {
        pool.push(json!(s));
    }
    pool
}

fn request(rng: &mut Rng, pool: &[Value]) -> String {
    let mut context = serde_json::Map::new();
    for field in ["score", "kind", "tags"] {
        if rng.below(4) != 0 {
            context.insert(field.to_string(), rng.pick(pool).clone());
        }
    }
    match rng.below(4) {
        0 => {}
        1 => {
            context.insert("sender".into(), rng.pick(pool).clone());
        }
        _ => {
            context.insert("sender".into(), json!({"domain": rng.pick(pool).clone()}));
        }
    }
    let mut r = json!({"agent": rng.pick(&REQ_AGENTS), "action": rng.pick(&REQ_ACTIONS), "context": context});
    if rng.below(3) != 0 {
        let ts =
            jiff::Timestamp::from_second(1_795_392_000 + rng.below(24 * 7) as i64 * 3600).unwrap();
        r["timestamp"] = ts.to_string().into();
    }
    r.to_string()
}

/// Whether the linter can reason about rule `index` exactly (no regex,
/// `contains:`, or list operand for `==`/`!=`).
fn exact(doc: &Value, index: usize) -> bool {
    doc["rules"][index]["conditions"]
        .as_object()
        .unwrap()
        .iter()
        .all(|(k, v)| {
            let inexact_op = k.starts_with("matches:") || k.starts_with("contains:");
            let set_op = k.starts_with("in:") || k.starts_with("not_in:");
            let list_for_equality = v.is_array() && !set_op;
            let nested = v
                .as_array()
                .is_some_and(|items| items.iter().any(|i| i.is_array() || i.is_object()));
            !(inexact_op || list_for_equality || nested)
        })
}

#[test]
fn exact_findings_hold_against_the_engine() {
    let seen = Cell::new((0usize, 0usize, 0usize));
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    let strategy = prop::collection::vec(rule(), 1..14);
    runner
        .run(&strategy, |rules| {
            let text = bundle_json(&rules, "deny");
            let bundle = parse_bundle(&text, Format::Json).unwrap();
            let doc = parse_document(&text, Format::Json).unwrap();
            let report = lint(&doc, &LintConfig::default());
            // Starved and capped, the findings that remain must hold too:
            // running out of work or of room never makes one up.
            let starved = lint(
                &doc,
                &LintConfig {
                    work_budget: (text.len() % 60) as u64,
                    max_findings: 2,
                    ..LintConfig::default()
                },
            );
            let engine = Engine::compile(&bundle);
            let by_id = |id: &str| bundle.rules.iter().find(|r| r.id == id).unwrap();
            let mut dead = Vec::new();
            let (mut unreachable, mut unsatisfiable, mut conflicts) = seen.get();
            for f in report.findings.iter().chain(&starved.findings) {
                let id = f.rule_id.clone().unwrap_or_default();
                match f.code {
                    "unreachable" => {
                        unreachable += 1;
                        dead.push(id);
                    }
                    "unsatisfiable" => {
                        unsatisfiable += 1;
                        dead.push(id);
                    }
                    "conflict" => {
                        conflicts += 1;
                        let witness = f.witness.as_ref().unwrap().to_string();
                        let req: Request<'_> = serde_json::from_str(&witness).unwrap();
                        let other = &f.related_rules[0];
                        prop_assert!(
                            bundle.rule_matches(by_id(&id), &req),
                            "{id} does not match {witness} in {text}"
                        );
                        prop_assert!(
                            bundle.rule_matches(by_id(other), &req),
                            "{other} does not match {witness} in {text}"
                        );
                    }
                    _ => {}
                }
            }
            seen.set((unreachable, unsatisfiable, conflicts));
            let doc: Value = serde_json::from_str(&text).unwrap();
            let pool = pool(&doc);
            let mut rng = Rng(text.len() as u64);
            for n in 0..10_000 {
                let r = request(&mut rng, &pool);
                let req: Request<'_> = serde_json::from_str(&r).unwrap();
                if n < 500 {
                    // Brute force the other way: an allow and a deny rule
                    // (both exact) that match one request are a reported conflict.
                    let matching: Vec<_> = bundle
                        .rules
                        .iter()
                        .filter(|r| {
                            r.enabled && exact(&doc, r.index) && bundle.rule_matches(r, &req)
                        })
                        .collect();
                    for a in matching
                        .iter()
                        .filter(|r| r.effect == gavel_policy::Effect::Allow)
                    {
                        for d in matching
                            .iter()
                            .filter(|r| r.effect == gavel_policy::Effect::Deny)
                        {
                            let reported = report.findings.iter().any(|f| {
                                f.code == "conflict"
                                    && ((f.rule_id.as_deref() == Some(&a.id)
                                        && f.related_rules == [d.id.clone()])
                                        || (f.rule_id.as_deref() == Some(&d.id)
                                            && f.related_rules == [a.id.clone()]))
                            });
                            prop_assert!(
                                reported,
                                "{} and {} both match {r} but no conflict was reported\n{text}",
                                a.id,
                                d.id
                            );
                        }
                    }
                }
                if dead.is_empty() {
                    continue;
                }
                let decided = engine.decide(&req).rule_id().map(str::to_string);
                prop_assert!(
                    decided.as_ref().is_none_or(|d| !dead.contains(d)),
                    "{decided:?} was reported dead but decides {r}\nbundle {text}\nfindings {:#?}",
                    report.findings
                );
            }
            Ok(())
        })
        .unwrap();
    let (unreachable, unsatisfiable, conflicts) = seen.get();
    // The property is not vacuous: each kind of finding occurred.
    assert!(
        unreachable > 20 && unsatisfiable > 5 && conflicts > 20,
        "{:?}",
        seen.get()
    );
}
