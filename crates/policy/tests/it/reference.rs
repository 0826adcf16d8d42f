//! The compiled engine against a plain reference evaluator: a linear scan
//! over the rules in priority order, with conditions evaluated on
//! `serde_json` values by code written separately from the engine's. Random
//! bundles (wildcards, priority ties, disabled rules, every operator) and
//! random requests must get the same effect and deciding rule.

use gavel_policy::{Engine, Format, Request, parse_bundle};
use proptest::prelude::*;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub(crate) struct RuleSpec {
    agent: &'static str,
    action: &'static str,
    effect: &'static str,
    priority: u8,
    enabled: bool,
    conditions: Vec<(String, Value)>,
    approvals_required: Option<u32>,
    budget: Option<Value>,
}

const AGENTS: [&str; 6] = [
    "inbox.triage",
    "inbox.sort",
    "ops.deploy",
    "inbox.*",
    "ops.*",
    "*",
];
const ACTIONS: [&str; 4] = ["deploy", "delete", "quarantine", "*"];
const FIELDS: [&str; 4] = ["score", "kind", "sender.domain", "tags"];
pub(crate) const REQ_AGENTS: [&str; 6] = [
    "inbox.triage",
    "inbox.sort",
    "ops.deploy",
    "ops.other",
    "misc.x",
    "inboxes.triage",
];
pub(crate) const REQ_ACTIONS: [&str; 4] = ["deploy", "delete", "quarantine", "rollback"];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0i64..4).prop_map(|n| json!(n)),
        Just(json!(1.5)),
        prop::sample::select(vec!["a", "b", "x.com", "1"]).prop_map(|s| json!(s)),
        any::<bool>().prop_map(|b| json!(b)),
        Just(Value::Null),
    ]
}

fn condition() -> impl Strategy<Value = (String, Value)> {
    let field = prop::sample::select(FIELDS.to_vec());
    let op = prop::sample::select(vec![
        "",
        "==",
        "!=",
        ">=",
        "<=",
        ">",
        "<",
        "in:",
        "not_in:",
        "contains:",
        "matches:",
        "exists:",
    ]);
    (
        field,
        op,
        scalar(),
        prop::collection::vec(scalar(), 0..3),
        any::<bool>(),
        0i64..4,
    )
        .prop_map(|(field, op, value, list, flag, n)| {
            let operand = match op {
                ">=" | "<=" | ">" | "<" => json!(n),
                "in:" | "not_in:" => Value::Array(list),
                "exists:" => json!(flag),
                "matches:" => json!(if flag { "^a" } else { "\\.com$" }),
                _ => value,
            };
            let key = if op == ">=" && n == 3 && field == "score" {
                "$hour".to_string()
            } else {
                field.to_string()
            };
            (format!("{op}{key}"), operand)
        })
}

pub(crate) fn rule() -> impl Strategy<Value = RuleSpec> {
    (
        prop::sample::select(AGENTS.to_vec()),
        prop::sample::select(ACTIONS.to_vec()),
        prop::sample::select(vec!["allow", "deny", "needs_approval"]),
        prop::sample::select(vec![0u8, 50, 50, 100]),
        prop::bool::weighted(0.85),
        prop::collection::vec(condition(), 0..3),
        prop::option::of(1u32..4),
        prop::option::of((
            prop::option::of(prop::sample::select(vec![0.0, 0.25, 12.5, 1500.0])),
            prop::option::of(0u64..5),
            prop::option::of(prop::sample::select(vec!["low", "medium", "high"])),
        )),
    )
        .prop_map(
            |(agent, action, effect, priority, enabled, mut conditions, approvals, budget)| {
                // A bundle's conditions are an object: a repeated key keeps its
                // last value, as the JSON written from this spec will.
                let mut seen = std::collections::HashSet::new();
                conditions.reverse();
                conditions.retain(|(k, _)| seen.insert(k.clone()));
                let budget = budget.map(|(cost, compute, risk)| {
                    let mut b = serde_json::Map::new();
                    if let Some(c) = cost {
                        b.insert("cost".into(), json!(c));
                    }
                    if let Some(c) = compute {
                        b.insert("compute".into(), json!(c));
                    }
                    if let Some(r) = risk {
                        b.insert("risk".into(), json!(r));
                    }
                    Value::Object(b)
                });
                RuleSpec {
                    agent,
                    action,
                    effect,
                    priority,
                    enabled,
                    conditions,
                    approvals_required: approvals,
                    budget,
                }
            },
        )
}

fn context() -> impl Strategy<Value = Value> {
    let entry = (
        prop::sample::select(vec!["score", "kind", "sender", "tags", "sender.domain"]),
        prop_oneof![
            scalar(),
            prop::collection::vec(scalar(), 0..3).prop_map(Value::Array),
            prop::sample::select(vec![json!("x.com"), json!("a"), Value::Null])
                .prop_map(|d| json!({"domain": d})),
        ],
    );
    prop::collection::vec(entry, 0..4).prop_map(|entries| {
        let mut map = serde_json::Map::new();
        for (k, v) in entries {
            map.insert(k.to_string(), v);
        }
        Value::Object(map)
    })
}

fn request() -> impl Strategy<Value = (String, String, Value, Option<u32>)> {
    (
        prop::sample::select(REQ_AGENTS.to_vec()).prop_map(str::to_string),
        prop::sample::select(REQ_ACTIONS.to_vec()).prop_map(str::to_string),
        context(),
        prop::option::of(0u32..48),
    )
}

pub(crate) fn bundle_json(rules: &[RuleSpec], default_effect: &str) -> String {
    let rules: Vec<Value> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let conditions: serde_json::Map<String, Value> = r.conditions.iter().cloned().collect();
            let mut rule = json!({
                "id": format!("rule-{i:03}"), "agent": r.agent, "action": r.action, "effect": r.effect,
                "priority": r.priority, "enabled": r.enabled, "conditions": conditions,
                "reason": reason_of(i),
            });
            if let Some(a) = r.approvals_required {
                rule["approvals_required"] = json!(a);
            }
            if let Some(b) = &r.budget {
                rule["budget"] = b.clone();
            }
            rule
        })
        .collect();
    json!({"metadata": {"default_effect": default_effect}, "rules": rules}).to_string()
}

fn reason_of(i: usize) -> String {
    format!("generated rule {i} for the reference test")
}

// ---- the reference evaluator ------------------------------------------------

fn agent_matches(pattern: &str, agent: &str) -> bool {
    pattern == "*"
        || pattern == agent
        || pattern
            .strip_suffix('*')
            .is_some_and(|prefix| prefix.ends_with('.') && agent.starts_with(prefix))
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A context's value at a dotted path: `null` is missing (the seed's
/// `None`), and a path absent as nested objects is read as one flat key.
fn context_value(context: &Value, path: &str) -> Option<Value> {
    let nested = path
        .split('.')
        .try_fold(context, |v, seg| v.get(seg))
        .filter(|v| !v.is_null());
    let flat = || context.get(path).filter(|v| !v.is_null());
    nested.or_else(flat).cloned()
}

fn holds(key: &str, operand: &Value, context: &Value, hour: Option<u32>) -> bool {
    let ops = [
        ">=",
        "<=",
        "==",
        "!=",
        ">",
        "<",
        "in:",
        "not_in:",
        "contains:",
        "matches:",
        "exists:",
    ];
    let (op, path) = ops
        .iter()
        .find_map(|op| key.strip_prefix(op).map(|rest| (*op, rest)))
        .unwrap_or(("==", key));
    let value: Option<Value> = if path == "$hour" {
        hour.map(|h| json!(h % 24))
    } else {
        context_value(context, path)
    };
    let Some(value) = value else {
        return op == "exists:" && operand == &json!(false);
    };
    match op {
        "==" => same(&value, operand),
        "!=" => !same(&value, operand),
        ">=" | "<=" | ">" | "<" => match (value.as_f64(), operand.as_f64()) {
            (Some(v), Some(o)) => match op {
                ">=" => v >= o,
                "<=" => v <= o,
                ">" => v > o,
                _ => v < o,
            },
            _ => false,
        },
        "in:" => operand.as_array().unwrap().iter().any(|o| same(&value, o)),
        "not_in:" => !operand.as_array().unwrap().iter().any(|o| same(&value, o)),
        "contains:" => match (&value, operand) {
            (Value::String(s), Value::String(n)) => s.contains(n.as_str()),
            (Value::Array(items), o) => items.iter().any(|i| same(i, o)),
            _ => false,
        },
        "matches:" => value.as_str().is_some_and(|s| {
            if operand == "^a" {
                s.starts_with('a')
            } else {
                s.ends_with(".com")
            }
        }),
        "exists:" => operand == &json!(true),
        _ => unreachable!(),
    }
}

/// An ordering operator met a present value that is not a number: the
/// decision records an evaluation error (DESIGN §3.1).
fn type_error(key: &str, context: &Value, hour: Option<u32>) -> bool {
    let Some(path) = [">=", "<=", ">", "<"]
        .iter()
        .find_map(|op| key.strip_prefix(op))
        .filter(|rest| !rest.starts_with('='))
    else {
        return false;
    };
    let value = if path == "$hour" {
        hour.map(|h| json!(h))
    } else {
        context_value(context, path)
    };
    value.is_some_and(|v| !v.is_number())
}

/// The decision JSON (DESIGN §11.2) the engine must give, computed by a
/// linear scan: `{effect, rule_id, reason, no_match, errors, budget,
/// approvals_required?}`, errors as `[rule_id, condition]` pairs.
fn reference(
    rules: &[RuleSpec],
    default_effect: &str,
    agent: &str,
    action: &str,
    context: &Value,
    hour: Option<u32>,
) -> Value {
    let mut order: Vec<(usize, &RuleSpec)> = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.enabled)
        .collect();
    order.sort_by(|(i, a), (j, b)| b.priority.cmp(&a.priority).then(i.cmp(j)));
    let mut errors = Vec::new();
    for (i, r) in order {
        if !(agent_matches(r.agent, agent) && (r.action == "*" || r.action == action)) {
            continue;
        }
        // Conditions are tried in the order the bundle holds them (the JSON
        // object's keys, sorted) and stop at the first that fails.
        let conditions: serde_json::Map<String, Value> = r.conditions.iter().cloned().collect();
        let id = format!("rule-{i:03}");
        let mut all = true;
        for (k, v) in &conditions {
            if type_error(k, context, hour) {
                errors.push(json!([id, k]));
            }
            if !holds(k, v, context, hour) {
                all = false;
                break;
            }
        }
        if all {
            let mut d = json!({
                "effect": r.effect, "rule_id": id, "reason": reason_of(i), "no_match": false,
                "errors": errors, "budget": r.budget.clone().unwrap_or(Value::Null),
            });
            if r.effect == "needs_approval" {
                d["approvals_required"] = json!(r.approvals_required.unwrap_or(1));
            }
            return d;
        }
    }
    let mut d = json!({
        "effect": default_effect, "rule_id": null, "reason": "no rule matched", "no_match": true,
        "errors": errors, "budget": null,
    });
    if default_effect == "needs_approval" {
        d["approvals_required"] = json!(1);
    }
    d
}

/// The engine's decision JSON, errors reduced to `[rule_id, condition]`.
fn decision_json(d: &gavel_policy::Decision<'_>) -> Value {
    let mut v = serde_json::to_value(d).unwrap();
    let errors: Vec<Value> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["message"].as_str().unwrap().contains("compares numbers"));
            json!([e["rule_id"], e["condition"]])
        })
        .collect();
    v["errors"] = Value::Array(errors);
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_linear_scan(
        rules in prop::collection::vec(rule(), 0..24),
        default_effect in prop::sample::select(vec!["allow", "deny", "needs_approval"]),
        requests in prop::collection::vec(request(), 1..24),
    ) {
        let text = bundle_json(&rules, default_effect);
        let bundle = parse_bundle(&text, Format::Json).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let engine = Engine::compile(&bundle);
        for (agent, action, context, hour) in &requests {
            let mut r = json!({"agent": agent, "action": action, "context": context});
            if let Some(h) = hour {
                // 2026-11-23T00:00:00Z plus `h` hours.
                let ts = jiff::Timestamp::from_second(1_795_392_000 + i64::from(*h) * 3600).unwrap();
                r["timestamp"] = ts.to_string().into();
            }
            let r = r.to_string();
            let request: Request<'_> = serde_json::from_str(&r).unwrap();
            let got = decision_json(&engine.decide(&request));
            let want = reference(&rules, default_effect, agent, action, context, *hour);
            prop_assert_eq!(&got, &want, "request {} on bundle {}", r, text);
            // `--explain` decides the same, and its last step is the match.
            let explained = engine.explain(&request);
            prop_assert_eq!(&decision_json(&explained.decision), &want);
            prop_assert_eq!(
                explained.steps.last().filter(|s| s.matched).map(|s| s.rule_id),
                want["rule_id"].as_str()
            );
            // Each rule on its own, whatever the others and `enabled`.
            for (i, spec) in rules.iter().enumerate() {
                let alone = agent_matches(spec.agent, agent)
                    && (spec.action == "*" || spec.action == action)
                    && spec.conditions.iter().all(|(k, v)| holds(k, v, context, *hour));
                prop_assert_eq!(bundle.rule_matches(&bundle.rules[i], &request), alone);
            }
        }
        // The compiled rules: enabled ones in decision order, their fields
        // as written.
        let mut order: Vec<usize> = (0..rules.len()).filter(|&i| rules[i].enabled).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(rules[i].priority));
        prop_assert_eq!(engine.rules().len(), order.len());
        for (rank, (compiled, &i)) in engine.rules().iter().zip(&order).enumerate() {
            let spec = &rules[i];
            prop_assert_eq!(compiled.id(), format!("rule-{i:03}"));
            prop_assert_eq!((compiled.rank(), compiled.index(), compiled.priority()), (rank, i, spec.priority));
            prop_assert_eq!(compiled.effect().as_str(), spec.effect);
            prop_assert_eq!(compiled.reason(), reason_of(i));
            prop_assert_eq!(compiled.approvals_required(), spec.approvals_required.unwrap_or(1));
            prop_assert_eq!(
                serde_json::to_value(compiled.budget()).unwrap(),
                spec.budget.clone().unwrap_or(Value::Null)
            );
        }
        prop_assert_eq!(engine.default_effect().as_str(), default_effect);
    }
}
