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
    )
        .prop_map(
            |(agent, action, effect, priority, enabled, mut conditions)| {
                // A bundle's conditions are an object: a repeated key keeps its
                // last value, as the JSON written from this spec will.
                let mut seen = std::collections::HashSet::new();
                conditions.reverse();
                conditions.retain(|(k, _)| seen.insert(k.clone()));
                RuleSpec {
                    agent,
                    action,
                    effect,
                    priority,
                    enabled,
                    conditions,
                }
            },
        )
}

fn context() -> impl Strategy<Value = Value> {
    let entry = (
        prop::sample::select(vec!["score", "kind", "sender", "tags"]),
        prop_oneof![
            scalar(),
            prop::collection::vec(scalar(), 0..3).prop_map(Value::Array),
            prop::sample::select(vec!["x.com", "a"]).prop_map(|d| json!({"domain": d})),
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
            json!({
                "id": format!("rule-{i:03}"), "agent": r.agent, "action": r.action, "effect": r.effect,
                "priority": r.priority, "enabled": r.enabled, "conditions": conditions,
                "reason": "generated rule for the reference test",
            })
        })
        .collect();
    json!({"metadata": {"default_effect": default_effect}, "rules": rules}).to_string()
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
        path.split('.')
            .try_fold(context, |v, seg| v.get(seg))
            .cloned()
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

fn reference(
    rules: &[RuleSpec],
    default_effect: &str,
    agent: &str,
    action: &str,
    context: &Value,
    hour: Option<u32>,
) -> (String, Option<String>) {
    let mut order: Vec<(usize, &RuleSpec)> = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.enabled)
        .collect();
    order.sort_by(|(i, a), (j, b)| b.priority.cmp(&a.priority).then(i.cmp(j)));
    for (i, r) in order {
        if agent_matches(r.agent, agent)
            && (r.action == "*" || r.action == action)
            && r.conditions.iter().all(|(k, v)| holds(k, v, context, hour))
        {
            return (r.effect.to_string(), Some(format!("rule-{i:03}")));
        }
    }
    (default_effect.to_string(), None)
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
            let got = engine.decide(&request);
            let want = reference(&rules, default_effect, agent, action, context, *hour);
            prop_assert_eq!(
                (got.effect.as_str(), got.rule_id()),
                (want.0.as_str(), want.1.as_deref()),
                "request {} on bundle {}", r, text
            );
        }
    }
}
