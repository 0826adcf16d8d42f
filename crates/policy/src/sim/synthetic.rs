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
#[derive(Debug)]
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

/// What a case aimed at one rule draws for one field: the pool values
/// (by index) satisfying every condition the rule has on it, and whether
/// leaving the field out satisfies them. Worked out once per rule.
#[derive(Debug)]
struct FieldPlan {
    missing_ok: bool,
    fits: Vec<usize>,
}

/// A rule a case may aim at, with its plans, one slot per pool.
#[derive(Debug)]
struct Target<'b> {
    rule: &'b Rule,
    fields: Vec<Option<FieldPlan>>,
    /// `[hour][weekday]`: whether the rule's time conditions hold then.
    times: Vec<[bool; 7]>,
}

/// Synthetic cases for a bundle from a seed, one at a time, without end
/// (take as many as needed): the n-th case is the same whether the cases
/// are collected or streamed.
#[derive(Debug)]
pub struct SyntheticCases<'b> {
    bundle: &'b Bundle,
    rng: Rng,
    targets: Vec<Target<'b>>,
    pools: Vec<(Vec<String>, Vec<Value<'static>>)>,
    uses_time: bool,
    agents: Vec<String>,
    actions: Vec<String>,
    made: usize,
}

impl<'b> SyntheticCases<'b> {
    pub fn new(bundle: &'b Bundle, seed: u64) -> Self {
        let pools: Vec<(Vec<String>, Vec<Value<'static>>)> = pools(bundle).into_iter().collect();
        let rules: Vec<&Rule> = bundle.rules.iter().filter(|r| r.enabled).collect();
        let uses_time = rules.iter().any(|r| {
            r.conditions
                .iter()
                .any(|c| matches!(c.field, Field::Hour | Field::Weekday))
        });
        let targets = rules
            .iter()
            .map(|&rule| Target {
                rule,
                fields: pools
                    .iter()
                    .map(|(path, pool)| plan(rule, path, pool))
                    .collect(),
                times: if uses_time {
                    time_table(rule)
                } else {
                    Vec::new()
                },
            })
            .collect();
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
        SyntheticCases {
            bundle,
            rng: Rng(seed),
            targets,
            pools,
            uses_time,
            agents,
            actions,
            made: 0,
        }
    }
}

/// The plan for one field of one rule, `None` when the rule does not test it.
fn plan(rule: &Rule, path: &[String], pool: &[Value<'static>]) -> Option<FieldPlan> {
    let conditions: Vec<&Condition> = rule
        .conditions
        .iter()
        .filter(|c| matches!(&c.field, Field::Path(p) if p.as_slice() == path))
        .collect();
    if conditions.is_empty() {
        return None;
    }
    Some(FieldPlan {
        missing_ok: conditions
            .iter()
            .all(|c| matches!(c.operand, Operand::Exists(false))),
        fits: pool
            .iter()
            .enumerate()
            .filter(|(_, v)| conditions.iter().all(|c| condition_holds(c, v)))
            .map(|(i, _)| i)
            .collect(),
    })
}

/// For each hour and weekday, whether the rule's time conditions hold.
fn time_table(rule: &Rule) -> Vec<[bool; 7]> {
    let conditions: Vec<&Condition> = rule
        .conditions
        .iter()
        .filter(|c| matches!(c.field, Field::Hour | Field::Weekday))
        .collect();
    (0..24u32)
        .map(|hour| {
            let mut days = [false; 7];
            for (day, fits) in days.iter_mut().enumerate() {
                *fits = conditions.iter().all(|c| match c.field {
                    Field::Hour => condition_holds(c, &Value::Number(f64::from(hour))),
                    Field::Weekday => condition_holds(
                        c,
                        &Value::String(Cow::Borrowed(WEEKDAYS.get(day).copied().unwrap_or("mon"))),
                    ),
                    Field::Path(_) => true,
                });
            }
            days
        })
        .collect()
}

impl Iterator for SyntheticCases<'_> {
    type Item = Case;

    fn next(&mut self) -> Option<Case> {
        // The draws, and their order, are those of the first generator:
        // a seed keeps meaning the same dataset.
        let rng = &mut self.rng;
        let target = if rng.chance(90) {
            rng.pick(&self.targets)
        } else {
            None
        };
        let agent = match target.map(|t| &t.rule.agent) {
            Some(AgentPattern::Exact(a)) => a.clone(),
            Some(AgentPattern::Namespace(ns)) => format!("{ns}.synthetic"),
            _ => rng
                .pick(&self.agents)
                .cloned()
                .unwrap_or_else(|| "other.agent".to_string()),
        };
        let action = match target.map(|t| &t.rule.action) {
            Some(ActionPattern::Exact(a)) => a.clone(),
            _ => rng
                .pick(&self.actions)
                .cloned()
                .unwrap_or_else(|| "deploy".to_string()),
        };
        let mut context: Vec<(Cow<'static, str>, Value<'static>)> = Vec::new();
        for (i, (path, pool)) in self.pools.iter().enumerate() {
            let plan = target
                .and_then(|t| t.fields.get(i))
                .and_then(Option::as_ref);
            let value = match plan {
                Some(plan) if rng.chance(85) => satisfying(rng, pool, plan),
                Some(_) if rng.chance(80) => rng.pick(pool).cloned(),
                None if rng.chance(50) => rng.pick(pool).cloned(),
                _ => None,
            };
            if let Some(v) = value {
                insert(&mut context, path, v);
            }
        }
        let timestamp = if self.uses_time && rng.chance(95) {
            time(rng, self.bundle, target.map(|t| t.times.as_slice()))
        } else {
            None
        };
        self.made += 1;
        Some(Case {
            case_id: format!("synthetic-{:06}", self.made),
            agent,
            action,
            context: Value::Object(context),
            timestamp,
            subject: None,
            expected_effect: None,
            expected_rule: None,
            line: None,
            id_given: false,
        })
    }
}

/// Generates `count` cases for `bundle` from `seed`.
pub fn synthetic_cases(bundle: &Bundle, count: usize, seed: u64) -> Vec<Case> {
    SyntheticCases::new(bundle, seed).take(count).collect()
}

/// The synthetic dataset of a run over several bundles (`sim compare`
/// draws from each): `count` cases in all, split evenly, the i-th bundle's
/// drawn with `seed + i` and their ids suffixed `-b{i+1}` past the first,
/// so that the ids stay distinct.
pub fn synthetic_dataset<'b>(
    bundles: &'b [&'b Bundle],
    count: usize,
    seed: u64,
) -> impl Iterator<Item = Case> + 'b {
    let per = count.div_ceil(bundles.len().max(1));
    bundles.iter().enumerate().flat_map(move |(i, b)| {
        let n = per.min(count.saturating_sub(per * i));
        SyntheticCases::new(b, seed.wrapping_add(i as u64))
            .take(n)
            .map(move |mut case| {
                if i > 0 {
                    case.case_id = format!("{}-b{}", case.case_id, i + 1);
                }
                case
            })
    })
}

/// A pool value (or "missing") that satisfies every condition, if any does.
fn satisfying(rng: &mut Rng, pool: &[Value<'static>], plan: &FieldPlan) -> Option<Value<'static>> {
    if plan.missing_ok {
        return None;
    }
    match rng.pick(&plan.fits).and_then(|&i| pool.get(i)) {
        Some(v) => Some(v.clone()),
        None => rng.pick(pool).cloned(),
    }
}

/// A timestamp whose hour and weekday in the bundle's zone satisfy the
/// target's time conditions (`times`, by hour and weekday) when some
/// combination does.
fn time(rng: &mut Rng, bundle: &Bundle, times: Option<&[[bool; 7]]>) -> Option<jiff::Timestamp> {
    let fits = |hour: u32, day: usize| {
        times.is_none_or(|t| {
            t.get(hour as usize)
                .and_then(|d| d.get(day))
                .copied()
                .unwrap_or(true)
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
