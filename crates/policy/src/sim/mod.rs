//! The simulator (DESIGN §3.3, §11.7): a bundle over a dataset of cases,
//! with counts, rates, budgets, per-case results, examples and per-rule
//! hits; two bundles compared over one dataset; a decision log replayed.
//!
//! Decisions run on the compiled engine, on as many threads as the caller
//! gives (time and thread counts are parameters: this crate reads neither).
//! Results are gathered in case order and summed in that order, so the
//! output is the same whatever the number of threads.

mod dataset;
mod synthetic;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use serde::ser::SerializeMap;

pub use dataset::{
    Case, CaseFormat, DatasetError, LoggedDecision, fixture_cases, parse_cases, parse_decision_log,
};
pub use synthetic::synthetic_cases;

use crate::engine::Engine;
use crate::model::{Budget, Bundle, Effect};

/// A cost total over this many USD is a breach.
pub const COST_LIMIT: f64 = 1000.0;
/// A compute total over this many units is a breach.
pub const COMPUTE_LIMIT: u64 = 100;

/// How to run.
#[derive(Clone, Copy)]
pub struct SimConfig<'p> {
    /// Worker threads (1 runs on the caller's thread).
    pub threads: usize,
    /// Called now and then with the number of cases decided so far.
    pub progress: Option<&'p (dyn Fn(usize) + Sync)>,
}

impl std::fmt::Debug for SimConfig<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("threads", &self.threads)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Default for SimConfig<'_> {
    fn default() -> Self {
        SimConfig {
            threads: 1,
            progress: None,
        }
    }
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    pub effect: Effect,
    /// Index into the engine's rules (decision order), `None` for no match.
    pub rule: Option<usize>,
    pub errors: usize,
}

/// Counts, rates and budgets over a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub total_cases: usize,
    pub allow_count: usize,
    pub deny_count: usize,
    pub approval_count: usize,
    pub no_match_count: usize,
    pub error_count: usize,
    pub allow_rate: f64,
    pub deny_rate: f64,
    pub approval_rate: f64,
    pub no_match_rate: f64,
    pub estimated_cost: f64,
    pub estimated_compute: u64,
    pub breaches: Vec<String>,
}

/// A case's outcome as reported: `{case_id, effect, matched_rule, reason,
/// budget, no_match}` plus the expectation when the case has one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultRow {
    pub case_id: String,
    pub effect: Effect,
    pub matched_rule: Option<String>,
    pub reason: String,
    pub budget: Option<Budget>,
    pub no_match: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_effect: Option<Effect>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
}

/// The first case of each outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    pub case_id: String,
    pub effect: Effect,
    pub matched_rule: Option<String>,
    pub reason: String,
    pub context: serde_json::Value,
}

/// A case whose outcome differs from what it expected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub case_id: String,
    pub expected: Effect,
    pub actual: Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_rule: Option<Option<String>>,
    pub actual_rule: Option<String>,
}

/// A simulation: `{summary, results, examples, rule_hits}` (and the
/// failures of cases that carry expectations).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Simulation {
    pub summary: Summary,
    pub results: Vec<ResultRow>,
    pub examples: Vec<Example>,
    pub rule_hits: RuleHits,
    #[serde(skip)]
    pub failures: Vec<Failure>,
}

/// Hits per enabled rule, in decision order, zeros included.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleHits(pub Vec<(String, usize)>);

impl Serialize for RuleHits {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (id, n) in &self.0 {
            m.serialize_entry(id, n)?;
        }
        m.end()
    }
}

/// Decides every case, in parallel, keeping case order.
pub fn decide_all(engine: &Engine, cases: &[Case], config: &SimConfig<'_>) -> Vec<CaseResult> {
    let decide = |c: &Case| {
        let d = engine.decide_parts(&c.agent, &c.action, &c.context, c.timestamp);
        CaseResult {
            effect: d.effect,
            rule: d.rule.map(|r| r.rank()),
            errors: d.errors.len(),
        }
    };
    let done = AtomicUsize::new(0);
    let report = |n: usize| {
        let total = done.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(p) = config.progress {
            p(total);
        }
    };
    let threads = config.threads.clamp(1, 64);
    if threads == 1 || cases.len() < 2_000 {
        let mut out = Vec::with_capacity(cases.len());
        for chunk in cases.chunks(8_192) {
            out.extend(chunk.iter().map(decide));
            report(chunk.len());
        }
        return out;
    }
    let per = cases.len().div_ceil(threads);
    let mut parts: Vec<Vec<CaseResult>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(per)
            .map(|part| {
                s.spawn(|| {
                    let mut out = Vec::with_capacity(part.len());
                    for chunk in part.chunks(8_192) {
                        out.extend(chunk.iter().map(decide));
                        report(chunk.len());
                    }
                    out
                })
            })
            .collect();
        parts = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
    });
    parts.into_iter().flatten().collect()
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// The counts, rates and budgets of a run.
pub fn summarize(engine: &Engine, results: &[CaseResult]) -> Summary {
    let total = results.len();
    let mut counts = [0usize; 4];
    let mut errors = 0;
    let mut cost = 0.0;
    let mut compute = 0u64;
    for r in results {
        let slot = match (r.rule, r.effect) {
            (None, _) => 3,
            (Some(_), Effect::Allow) => 0,
            (Some(_), Effect::Deny) => 1,
            (Some(_), Effect::NeedsApproval) => 2,
        };
        if let Some(c) = counts.get_mut(slot) {
            *c += 1;
        }
        if r.errors > 0 {
            errors += 1;
        }
        if r.effect == Effect::NeedsApproval {
            if let Some(b) = r
                .rule
                .and_then(|i| engine.rules().get(i))
                .and_then(|x| x.budget())
            {
                cost += b.cost.unwrap_or(0.0);
                compute += b.compute.unwrap_or(0);
            }
        }
    }
    let rate = |n: usize| {
        if total == 0 {
            0.0
        } else {
            round(n as f64 / total as f64, 3)
        }
    };
    let [allow, deny, approval, no_match] = counts;
    let estimated_cost = round(cost, 2);
    let mut breaches = Vec::new();
    if estimated_cost > COST_LIMIT {
        breaches.push(format!(
            "budget.cost: ${estimated_cost:.2} > ${COST_LIMIT:.0}"
        ));
    }
    if compute > COMPUTE_LIMIT {
        breaches.push(format!("budget.compute: {compute} > {COMPUTE_LIMIT} units"));
    }
    Summary {
        total_cases: total,
        allow_count: allow,
        deny_count: deny,
        approval_count: approval,
        no_match_count: no_match,
        error_count: errors,
        allow_rate: rate(allow),
        deny_rate: rate(deny),
        approval_rate: rate(approval),
        no_match_rate: rate(no_match),
        estimated_cost,
        estimated_compute: compute,
        breaches,
    }
}

/// Runs a bundle over cases.
pub fn simulate(bundle: &Bundle, cases: &[Case], config: &SimConfig<'_>) -> Simulation {
    let engine = Engine::compile(bundle);
    let results = decide_all(&engine, cases, config);
    report(&engine, cases, &results)
}

/// Builds the full report from decided cases.
pub fn report(engine: &Engine, cases: &[Case], results: &[CaseResult]) -> Simulation {
    let summary = summarize(engine, results);
    let rule = |r: &CaseResult| r.rule.and_then(|i| engine.rules().get(i));
    let mut hits = vec![0usize; engine.rules().len()];
    let mut rows = Vec::with_capacity(results.len());
    let mut examples: [Option<Example>; 4] = [None, None, None, None];
    let mut failures = Vec::new();
    for (case, r) in cases.iter().zip(results) {
        let matched = rule(r);
        if let Some(h) = r.rule.and_then(|i| hits.get_mut(i)) {
            *h += 1;
        }
        let matched_rule = matched.map(|m| m.id().to_string());
        let reason = matched
            .map_or(crate::engine::NO_MATCH_REASON, |m| m.reason())
            .to_string();
        let slot = match (matched, r.effect) {
            (None, _) => 3,
            (Some(_), Effect::Allow) => 0,
            (Some(_), Effect::Deny) => 1,
            (Some(_), Effect::NeedsApproval) => 2,
        };
        if let Some(e @ None) = examples.get_mut(slot) {
            *e = Some(Example {
                case_id: case.case_id.clone(),
                effect: r.effect,
                matched_rule: matched_rule.clone(),
                reason: reason.clone(),
                context: case.context_json(),
            });
        }
        let effect_ok = case.expected_effect.is_none_or(|e| e == r.effect);
        let rule_ok = case
            .expected_rule
            .as_ref()
            .is_none_or(|e| *e == matched_rule);
        let expects = case.expected_effect.is_some() || case.expected_rule.is_some();
        if !(effect_ok && rule_ok) {
            failures.push(Failure {
                case_id: case.case_id.clone(),
                expected: case.expected_effect.unwrap_or(r.effect),
                actual: r.effect,
                expected_rule: case.expected_rule.clone(),
                actual_rule: matched_rule.clone(),
            });
        }
        rows.push(ResultRow {
            case_id: case.case_id.clone(),
            effect: r.effect,
            matched_rule,
            reason,
            budget: matched.and_then(|m| m.budget().copied()),
            no_match: matched.is_none(),
            expected_effect: case.expected_effect,
            passed: expects.then_some(effect_ok && rule_ok),
        });
    }
    Simulation {
        summary,
        results: rows,
        examples: examples.into_iter().flatten().collect(),
        rule_hits: RuleHits(
            engine
                .rules()
                .iter()
                .zip(hits)
                .map(|(r, n)| (r.id().to_string(), n))
                .collect(),
        ),
        failures,
    }
}

/// Differences of rates (3 decimals) and cost (2 decimals), B minus A.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deltas {
    pub allow_rate: f64,
    pub deny_rate: f64,
    pub approval_rate: f64,
    pub no_match_rate: f64,
    pub cost: f64,
}

/// A case whose effect changed between two bundles (or between what was
/// served and a candidate).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub case_id: String,
    pub before: Effect,
    pub after: Effect,
    pub before_rule: Option<String>,
    pub after_rule: Option<String>,
    pub context: serde_json::Value,
}

/// `{summary_a, summary_b, deltas, changes, total_changes}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub summary_a: Summary,
    pub summary_b: Summary,
    pub deltas: Deltas,
    pub changes: Vec<Change>,
    pub total_changes: usize,
    /// `"allow->deny": n`, for each transition seen.
    pub transitions: BTreeMap<String, usize>,
}

fn transitions(changes: &[Change]) -> BTreeMap<String, usize> {
    let mut t = BTreeMap::new();
    for c in changes {
        *t.entry(format!("{}->{}", c.before, c.after)).or_insert(0) += 1;
    }
    t
}

/// Runs two bundles over the same cases.
pub fn compare(a: &Bundle, b: &Bundle, cases: &[Case], config: &SimConfig<'_>) -> Comparison {
    let (ea, eb) = (Engine::compile(a), Engine::compile(b));
    let (ra, rb) = (
        decide_all(&ea, cases, config),
        decide_all(&eb, cases, config),
    );
    let (summary_a, summary_b) = (summarize(&ea, &ra), summarize(&eb, &rb));
    let id = |e: &Engine, r: &CaseResult| {
        r.rule
            .and_then(|i| e.rules().get(i))
            .map(|x| x.id().to_string())
    };
    let changes: Vec<Change> = cases
        .iter()
        .zip(ra.iter().zip(&rb))
        .filter(|(_, (x, y))| x.effect != y.effect)
        .map(|(c, (x, y))| Change {
            case_id: c.case_id.clone(),
            before: x.effect,
            after: y.effect,
            before_rule: id(&ea, x),
            after_rule: id(&eb, y),
            context: c.context_json(),
        })
        .collect();
    let deltas = Deltas {
        allow_rate: round(summary_b.allow_rate - summary_a.allow_rate, 3),
        deny_rate: round(summary_b.deny_rate - summary_a.deny_rate, 3),
        approval_rate: round(summary_b.approval_rate - summary_a.approval_rate, 3),
        no_match_rate: round(summary_b.no_match_rate - summary_a.no_match_rate, 3),
        cost: round(summary_b.estimated_cost - summary_a.estimated_cost, 2),
    };
    Comparison {
        total_changes: changes.len(),
        transitions: transitions(&changes),
        summary_a,
        summary_b,
        deltas,
        changes,
    }
}

/// What a candidate bundle would have changed in a log of served decisions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replay {
    /// The candidate's summary over the logged requests.
    pub summary: Summary,
    pub total_decisions: usize,
    pub changes: Vec<Change>,
    pub total_changes: usize,
    pub transitions: BTreeMap<String, usize>,
}

/// Replays logged decisions through `bundle`.
pub fn replay(bundle: &Bundle, log: &[LoggedDecision], config: &SimConfig<'_>) -> Replay {
    let engine = Engine::compile(bundle);
    let cases: Vec<Case> = log.iter().map(|l| l.case.clone()).collect();
    let results = decide_all(&engine, &cases, config);
    let changes: Vec<Change> = log
        .iter()
        .zip(&results)
        .filter(|(l, r)| l.served != r.effect)
        .map(|(l, r)| Change {
            case_id: l.case.case_id.clone(),
            before: l.served,
            after: r.effect,
            before_rule: l.served_rule.clone(),
            after_rule: r
                .rule
                .and_then(|i| engine.rules().get(i))
                .map(|x| x.id().to_string()),
            context: l.case.context_json(),
        })
        .collect();
    Replay {
        summary: summarize(&engine, &results),
        total_decisions: log.len(),
        total_changes: changes.len(),
        transitions: transitions(&changes),
        changes,
    }
}
