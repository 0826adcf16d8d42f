//! Synthetic cases: `count` cases from a `seed`, the same on every machine
//! and build (SplitMix64 and plain IEEE arithmetic; no process randomness,
//! no hash-map ordering).
//!
//! Each case aims at one rule: its agent and action match the rule, and
//! each field the rule tests usually gets a value satisfying all of the
//! rule's conditions on it, drawn from the values around the bundle's
//! thresholds and set members; sometimes the other side of a boundary, an
//! extreme or wrongly-typed value, or nothing at all.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::model::{
    ActionPattern, AgentPattern, Bundle, Condition, Field, Op, Operand, Rule, STANDARD_ACTIONS,
};
use crate::region::condition_holds;
use crate::sim::Case;
use crate::value::Value;

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The values worth trying for one field.
fn pools(bundle: &Bundle) -> BTreeMap<Vec<String>, Vec<Value<'static>>> {
    let mut pools: BTreeMap<Vec<String>, Vec<Value<'static>>> = BTreeMap::new();
    for rule in bundle.rules.iter().filter(|r| r.enabled) {
        for c in &rule.conditions {
            let Field::Path(path) = &c.field else {
                continue;
            };
            let pool = pools.entry(path.clone()).or_default();
            let mut add = |v: Value<'static>| {
                if !pool.contains(&v) {
                    pool.push(v);
                }
            };
            match &c.operand {
                Operand::Number(t) => {
                    for d in [-1.0, -0.5, 0.0, 0.5, 1.0] {
                        add(Value::Number(t + d));
                    }
                }
                Operand::List(items) => items.iter().cloned().for_each(&mut add),
                Operand::Value(Value::String(s)) if c.op == Op::Contains => {
                    add(Value::String(Cow::Owned(format!("synthetic {s} value"))));
                    add(Value::Array(vec![Value::String(s.clone())]));
                }
                Operand::Value(v) if c.op == Op::Contains => add(Value::Array(vec![v.clone()])),
                Operand::Value(v) => add(v.clone()),
                Operand::Regex(re) => {
                    for candidate in regex_candidates(re.as_str()) {
                        if re.is_match(&candidate) {
                            add(Value::String(Cow::Owned(candidate)));
                        }
                    }
                    add(Value::String(Cow::Borrowed("synthetic-other")));
                }
                Operand::Exists(_) => {}
            }
        }
    }
    for pool in pools.values_mut() {
        // Extremes, a stranger and a wrong type, for every field.
        for v in [
            Value::Number(0.0),
            Value::Number(-1e9),
            Value::Number(1e9),
            Value::String(Cow::Borrowed("synthetic-other")),
            Value::Bool(true),
        ] {
            if !pool.contains(&v) {
                pool.push(v);
            }
        }
    }
    pools
}

/// Strings likely to match a pattern: the leading literal text of each
/// alternative (anchors, flags, a leading group and escapes removed),
/// alone and with text around it.
fn regex_candidates(pattern: &str) -> Vec<String> {
    let mut p = pattern;
    if let Some(rest) = p.strip_prefix("(?i)") {
        p = rest;
    }
    let p = p.strip_prefix('^').unwrap_or(p);
    let inner = p
        .strip_prefix('(')
        .map(|rest| rest.strip_prefix("?:").unwrap_or(rest))
        .and_then(|rest| rest.split_once(')').map(|(group, _)| group))
        .unwrap_or(p);
    let mut out = Vec::new();
    for alternative in inner.split('|') {
        let literal = leading_literal(alternative);
        out.push(literal.clone());
        out.push(format!("{literal}synthetic"));
        out.push(format!("{literal}1.2.3"));
        out.push(format!("synthetic {literal}"));
    }
    out
}

fn leading_literal(p: &str) -> String {
    let mut literal = String::new();
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if !e.is_ascii_alphanumeric() => literal.push(e),
                _ => break,
            },
            '.' | '[' | ']' | '(' | ')' | '{' | '}' | '*' | '+' | '?' | '|' | '$' | '^' => break,
            c => literal.push(c),
        }
    }
    literal
}

/// Generates `count` cases for `bundle` from `seed`.
pub fn synthetic_cases(bundle: &Bundle, count: usize, seed: u64) -> Vec<Case> {
    let mut rng = Rng(seed);
    let rules: Vec<&Rule> = bundle.rules.iter().filter(|r| r.enabled).collect();
    let pools = pools(bundle);
    let uses_time = rules.iter().any(|r| {
        r.conditions
            .iter()
            .any(|c| matches!(c.field, Field::Hour | Field::Weekday))
    });
    let agents: Vec<String> = rules
        .iter()
        .filter_map(|r| match &r.agent {
            AgentPattern::Exact(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    let actions: Vec<String> = STANDARD_ACTIONS
        .iter()
        .map(|a| a.to_string())
        .chain(bundle.metadata.actions.iter().cloned())
        .collect();
    (0..count)
        .map(|i| {
            let target = if rng.chance(90) {
                rng.pick(&rules).copied()
            } else {
                None
            };
            let agent = match target.map(|r| &r.agent) {
                Some(AgentPattern::Exact(a)) => a.clone(),
                Some(AgentPattern::Namespace(ns)) => format!("{ns}.synthetic"),
                _ => rng
                    .pick(&agents)
                    .cloned()
                    .unwrap_or_else(|| "other.agent".to_string()),
            };
            let action = match target.map(|r| &r.action) {
                Some(ActionPattern::Exact(a)) => a.clone(),
                _ => rng
                    .pick(&actions)
                    .cloned()
                    .unwrap_or_else(|| "deploy".to_string()),
            };
            let mut context: Vec<(Cow<'static, str>, Value<'static>)> = Vec::new();
            for (path, pool) in &pools {
                let conditions: Vec<&Condition> = target
                    .map(|r| {
                        r.conditions
                            .iter()
                            .filter(|c| c.field == Field::Path(path.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                let value = if !conditions.is_empty() && rng.chance(85) {
                    satisfying(&mut rng, pool, &conditions)
                } else if rng.chance(if conditions.is_empty() { 50 } else { 80 }) {
                    rng.pick(pool).cloned()
                } else {
                    None
                };
                if let Some(v) = value {
                    insert(&mut context, path, v);
                }
            }
            let timestamp = if uses_time && rng.chance(95) {
                let time_conditions: Vec<&Condition> = target
                    .map(|r| {
                        r.conditions
                            .iter()
                            .filter(|c| matches!(c.field, Field::Hour | Field::Weekday))
                            .collect()
                    })
                    .unwrap_or_default();
                time(&mut rng, bundle, &time_conditions)
            } else {
                None
            };
            Case {
                case_id: format!("synthetic-{:06}", i + 1),
                agent,
                action,
                context: Value::Object(context),
                timestamp,
                subject: None,
                expected_effect: None,
                expected_rule: None,
            }
        })
        .collect()
}

/// A pool value (or "missing") that satisfies every condition, if any does.
fn satisfying(
    rng: &mut Rng,
    pool: &[Value<'static>],
    conditions: &[&Condition],
) -> Option<Value<'static>> {
    let missing_ok = conditions
        .iter()
        .all(|c| matches!(c.operand, Operand::Exists(false)));
    if missing_ok {
        return None;
    }
    let fits: Vec<&Value<'static>> = pool
        .iter()
        .filter(|v| conditions.iter().all(|c| condition_holds(c, v)))
        .collect();
    match rng.pick(&fits) {
        Some(v) => Some((*v).clone()),
        None => rng.pick(pool).cloned(),
    }
}

/// A timestamp whose hour and weekday in the bundle's zone satisfy the
/// conditions when some combination does.
fn time(rng: &mut Rng, bundle: &Bundle, conditions: &[&Condition]) -> Option<jiff::Timestamp> {
    let fits = |hour: u32, day: usize| {
        conditions.iter().all(|c| match c.field {
            Field::Hour => condition_holds(c, &Value::Number(f64::from(hour))),
            Field::Weekday => condition_holds(
                c,
                &Value::String(Cow::Borrowed(WEEKDAYS.get(day).copied().unwrap_or("mon"))),
            ),
            Field::Path(_) => true,
        })
    };
    let mut choice = (rng.below(24) as u32, rng.below(7));
    for _ in 0..16 {
        if fits(choice.0, choice.1) {
            break;
        }
        choice = (rng.below(24) as u32, rng.below(7));
    }
    let (hour, day) = choice;
    let minute = rng.below(60) as i8;
    // 2026-01-05 is a Monday; January is clear of daylight-saving changes.
    let date = jiff::civil::date(2026, 1, 5 + i8::try_from(day).unwrap_or(0));
    let dt = date.at(i8::try_from(hour).unwrap_or(0), minute, 0, 0);
    bundle.timezone.to_timestamp(dt).ok()
}

fn insert(
    map: &mut Vec<(Cow<'static, str>, Value<'static>)>,
    path: &[String],
    value: Value<'static>,
) {
    match path {
        [] => {}
        [last] => {
            if !map.iter().any(|(k, _)| k == last) {
                map.push((Cow::Owned(last.clone()), value));
            }
        }
        [first, rest @ ..] => {
            let pos = match map.iter().position(|(k, _)| k == first) {
                Some(p) => p,
                None => {
                    map.push((Cow::Owned(first.clone()), Value::Object(Vec::new())));
                    map.len() - 1
                }
            };
            // A scalar already there (a condition on the parent path) wins.
            if let Some((_, Value::Object(inner))) = map.get_mut(pos) {
                insert(inner, rest, value);
            }
        }
    }
}
