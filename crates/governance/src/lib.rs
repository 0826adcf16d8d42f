//! Workflow governance (DESIGN §4, §11.12): RAROI scorecards evaluated
//! against a policy into `promote`, `demote`, `pilot`, `no_go` or
//! `borderline`, with reason codes, the micro-pilot, the foresight gate and
//! signed overrides; and the canary gates and automatic-rollback trip of
//! a version's rollout ([`canary`], DESIGN §7, §11.8).
//!
//! Pure: scorecards and policies arrive as values, overrides arrive
//! verified (the console checks signatures, expiry and the ledger), and the
//! time for the decision log is a parameter. It fails closed: a scorecard
//! field of the wrong type is an error ([`ScorecardError`]), never a value
//! the evaluator skips.
//!
//! ```
//! use gavel_governance::{Policy, Scorecard, evaluate, Verdict};
//! let policy = Policy::from_json(&serde_json::json!({"rules": []})).unwrap();
//! let card = serde_json::json!({"workflow_id": "wf-1", "raroi": 1.2, "confidence": 0.9});
//! let card = Scorecard::from_json(&card).unwrap();
//! assert_eq!(evaluate(&card, &policy, &Default::default()).verdict, Verdict::Promote);
//! ```
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod canary;
pub mod expr;
mod json_out;
mod overrides;
mod scorecard;

use std::collections::BTreeMap;
use std::fmt;

use gavel_policy::doc::pointer_token;
use gavel_policy::{Diagnostic, Node};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::expr::{Expr, Val};
pub use crate::overrides::{
    MIN_REASON_CHARS, OverrideCheck, OverrideContent, OverrideSigner, Refusal, Scope,
    UnknownVerdict, check_override,
};
pub use crate::scorecard::{Forecast, Scorecard, ScorecardError, Scores};

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Verdict {
    Promote,
    Demote,
    Pilot,
    NoGo,
    Borderline,
}

impl Verdict {
    pub fn parse(s: &str) -> Option<Verdict> {
        match s {
            "promote" => Some(Verdict::Promote),
            "demote" => Some(Verdict::Demote),
            "pilot" => Some(Verdict::Pilot),
            "no_go" => Some(Verdict::NoGo),
            "borderline" => Some(Verdict::Borderline),
            _ => None,
        }
    }

    /// The verdicts an override may force.
    pub fn forceable(s: &str) -> Option<Verdict> {
        Verdict::parse(s).filter(|v| *v != Verdict::Borderline)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Promote => "promote",
            Verdict::Demote => "demote",
            Verdict::Pilot => "pilot",
            Verdict::NoGo => "no_go",
            Verdict::Borderline => "borderline",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The names conditions may use, in slot order.
pub const NAMES: [&str; 16] = [
    "raroi",
    "confidence",
    "min_scenario",
    "score_variance",
    "sandbox_roi",
    "adapter_roi",
    "alignment_status",
    "security_status",
    "raroi_threshold",
    "confidence_threshold",
    "scenario_score_min",
    "sandbox_roi_low",
    "adapter_roi_high",
    "max_variance",
    "roi_forecast_min",
    "foresight_confidence_min",
];

/// One policy rule.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRule {
    pub decision: Verdict,
    pub condition: Expr,
    pub source: String,
    pub reason_code: String,
    pub index: usize,
}

/// The verdict of a scorecard whose scenario scores vary more than
/// `max_variance` or fall below a `scenario_thresholds` entry (§4 step 3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LimitVerdict {
    /// What DESIGN §4 and menace's documentation say.
    #[default]
    Demote,
    /// What menace's `evaluate_workflow` returns, for policies written
    /// against it.
    NoGo,
}

impl LimitVerdict {
    pub fn verdict(self) -> Verdict {
        match self {
            LimitVerdict::Demote => Verdict::Demote,
            LimitVerdict::NoGo => Verdict::NoGo,
        }
    }
}

/// A governance policy with its thresholds (defaults in brackets in §4).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub raroi_threshold: f64,
    pub confidence_threshold: f64,
    pub scenario_score_min: f64,
    pub sandbox_roi_low: f64,
    pub adapter_roi_high: f64,
    pub max_variance: Option<f64>,
    pub scenario_thresholds: BTreeMap<String, f64>,
    pub roi_forecast_min: f64,
    pub foresight_confidence_min: f64,
    pub allow_negative_dag: bool,
    pub borderline_queue: bool,
    /// `limit_verdict: demote | no_go` (demote).
    pub limit_verdict: LimitVerdict,
    pub rules: Vec<PolicyRule>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            raroi_threshold: 1.0,
            confidence_threshold: 0.7,
            scenario_score_min: 0.5,
            sandbox_roi_low: 0.1,
            adapter_roi_high: 1.0,
            max_variance: None,
            scenario_thresholds: BTreeMap::new(),
            roi_forecast_min: 0.0,
            foresight_confidence_min: 0.6,
            allow_negative_dag: false,
            borderline_queue: false,
            limit_verdict: LimitVerdict::Demote,
            rules: Vec::new(),
        }
    }
}

/// One problem with a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyProblem {
    /// RFC 6901 pointer of the offending value (of the key, for an unknown
    /// field).
    pub pointer: String,
    /// The rule's 0-based index, when the problem is in a rule.
    pub rule: Option<usize>,
    /// The character position in the condition, when it is in one.
    pub position: Option<usize>,
    pub message: String,
    /// Where in the policy's text, once [`PolicyError::locate`] has run.
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// The key itself is the problem (an unknown field), not its value.
    #[serde(skip)]
    at_key: bool,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = self.rule {
            write!(f, "rule {r}: ")?;
        }
        if let Some(p) = self.position {
            write!(f, "condition at character {}: ", p + 1)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem a policy has, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct PolicyError(pub Vec<PolicyProblem>);

impl PolicyError {
    /// Fills in each problem's line and column from the located tree the
    /// policy was read from; `text`, when given, puts a condition's error
    /// at its character (when the condition is written on one line).
    pub fn locate(&mut self, doc: &Node, text: Option<&str>) {
        for p in &mut self.0 {
            let location = if p.at_key {
                let (parent, key) = p.pointer.rsplit_once('/').unwrap_or(("", &p.pointer));
                let key = key.replace("~1", "/").replace("~0", "~");
                doc.pointer(parent)
                    .and_then(|n| n.get_key(&key))
                    .map_or_else(|| doc.locate(&p.pointer), |k| k.location)
            } else {
                doc.locate(&p.pointer)
            };
            let mut column = location.column;
            if let (Some(pos), Some(text), Some(source)) = (
                p.position,
                text,
                doc.pointer(&p.pointer).and_then(Node::as_str),
            ) {
                column += condition_offset(text, location, source, pos).unwrap_or(0);
            }
            p.line = Some(location.line);
            p.column = Some(column);
        }
    }

    /// The problems as located diagnostics (`message`, `pointer`, `line`,
    /// `column`), the shape bundle errors have.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        self.0
            .iter()
            .map(|p| Diagnostic {
                message: p.to_string(),
                pointer: Some(p.pointer.clone()),
                line: p.line,
                column: p.column,
            })
            .collect()
    }
}

/// How many characters after the value's start the `pos`-th character of
/// the condition is, when the text there is the condition as written
/// (plain or quoted, on one line, without escapes).
fn condition_offset(
    text: &str,
    at: gavel_policy::Location,
    source: &str,
    pos: usize,
) -> Option<u32> {
    let line = text
        .lines()
        .nth(usize::try_from(at.line).ok()?.checked_sub(1)?)?;
    let rest: String = line
        .chars()
        .skip(usize::try_from(at.column).ok()?.checked_sub(1)?)
        .collect();
    let quote = usize::from(rest.starts_with(['"', '\'']));
    let written: String = rest.chars().skip(quote).collect();
    written
        .starts_with(source)
        .then(|| u32::try_from(quote + pos).ok())
        .flatten()
}

/// How many problems an invalid policy lists; the rest are counted.
pub const MAX_POLICY_PROBLEMS: usize = 100;

const POLICY_KEYS: [&str; 18] = [
    "raroi_threshold",
    "confidence_threshold",
    "scenario_score_min",
    "sandbox_roi_low",
    "sandbox_low",
    "adapter_roi_high",
    "adapter_high",
    "max_variance",
    "scenario_thresholds",
    "roi_forecast_min",
    "foresight_confidence_min",
    "allow_negative_dag",
    "borderline_queue",
    "limit_verdict",
    "rules",
    "name",
    "description",
    "version",
];

const RULE_KEYS: [&str; 4] = ["decision", "condition", "reason_code", "description"];

fn unknown_field(what: &str, key: &str, known: &[&str]) -> String {
    if ["forced_verdict", "verdict", "bypass_micro_pilot"].contains(&key) {
        return format!(
            "a policy cannot force a verdict or bypass the micro-pilot (`{key}`); that takes a signed override (`gavel override issue`)"
        );
    }
    match gavel_policy::did_you_mean(key, known) {
        Some(s) => format!("unknown {what} field `{key}`; did you mean `{s}`?"),
        None => format!(
            "unknown {what} field `{key}`; known fields: {}",
            known.join(", ")
        ),
    }
}

impl Policy {
    /// Reads a policy from its located tree and locates every problem
    /// (`text` is the tree's source, for positions inside conditions).
    pub fn from_document(doc: &Node, text: &str) -> Result<Policy, PolicyError> {
        Policy::from_json(&doc.to_json()).map_err(|mut e| {
            e.locate(doc, Some(text));
            e
        })
    }

    /// Reads a policy document (an object, or a bare list of rules).
    pub fn from_json(doc: &Value) -> Result<Policy, PolicyError> {
        let mut p = Policy::default();
        let mut problems = Vec::new();
        let problem = |pointer: String, rule: Option<usize>, message: String| PolicyProblem {
            pointer,
            rule,
            position: None,
            message,
            line: None,
            column: None,
            at_key: false,
        };
        // Unknown fields past the listed problems, counted, not built.
        let mut unlisted = 0usize;
        let (rules, prefix): (&[Value], &str) = match doc {
            Value::Array(items) => (items, ""),
            Value::Object(map) => {
                for (k, v) in map {
                    let at = format!("/{}", pointer_token(k));
                    if !POLICY_KEYS.contains(&k.as_str()) {
                        if problems.len() >= MAX_POLICY_PROBLEMS {
                            unlisted += 1;
                            continue;
                        }
                        let mut unknown =
                            problem(at, None, unknown_field("policy", k, &POLICY_KEYS));
                        unknown.at_key = true;
                        problems.push(unknown);
                        continue;
                    }
                    let num = |problems: &mut Vec<PolicyProblem>| match v.as_f64() {
                        Some(n) => Some(n),
                        None => {
                            problems.push(problem(
                                at.clone(),
                                None,
                                format!("`{k}` must be a number, found `{v}`"),
                            ));
                            None
                        }
                    };
                    match k.as_str() {
                        "raroi_threshold" => {
                            p.raroi_threshold = num(&mut problems).unwrap_or(p.raroi_threshold)
                        }
                        "confidence_threshold" => {
                            p.confidence_threshold =
                                num(&mut problems).unwrap_or(p.confidence_threshold)
                        }
                        "scenario_score_min" => {
                            p.scenario_score_min =
                                num(&mut problems).unwrap_or(p.scenario_score_min)
                        }
                        "sandbox_roi_low" | "sandbox_low" => {
                            p.sandbox_roi_low = num(&mut problems).unwrap_or(p.sandbox_roi_low)
                        }
                        "adapter_roi_high" | "adapter_high" => {
                            p.adapter_roi_high = num(&mut problems).unwrap_or(p.adapter_roi_high)
                        }
                        "max_variance" => {
                            p.max_variance = if v.is_null() {
                                None
                            } else {
                                num(&mut problems)
                            }
                        }
                        "roi_forecast_min" => {
                            p.roi_forecast_min = num(&mut problems).unwrap_or(p.roi_forecast_min)
                        }
                        "foresight_confidence_min" => {
                            p.foresight_confidence_min =
                                num(&mut problems).unwrap_or(p.foresight_confidence_min)
                        }
                        "allow_negative_dag" | "borderline_queue" => match v.as_bool() {
                            Some(b) if k == "allow_negative_dag" => p.allow_negative_dag = b,
                            Some(b) => p.borderline_queue = b,
                            None => problems.push(problem(
                                at,
                                None,
                                format!("`{k}` must be true or false, found `{v}`"),
                            )),
                        },
                        "limit_verdict" => match v.as_str() {
                            Some("demote") => p.limit_verdict = LimitVerdict::Demote,
                            Some("no_go") => p.limit_verdict = LimitVerdict::NoGo,
                            None if v.is_null() => {}
                            _ => problems.push(problem(
                                at,
                                None,
                                format!("`limit_verdict` must be `demote` or `no_go`, found `{v}`"),
                            )),
                        },
                        "scenario_thresholds" => match v.as_object() {
                            Some(m) => {
                                for (name, t) in m {
                                    match t.as_f64() {
                                        Some(t) => {
                                            p.scenario_thresholds.insert(name.clone(), t);
                                        }
                                        None => problems.push(problem(
                                            format!("{at}/{}", pointer_token(name)),
                                            None,
                                            format!(
                                                "`scenario_thresholds.{name}` must be a number, found `{t}`"
                                            ),
                                        )),
                                    }
                                }
                            }
                            None if v.is_null() => {}
                            None => problems.push(problem(
                                at,
                                None,
                                format!(
                                    "`scenario_thresholds` must map scenario names to numbers, found `{v}`"
                                ),
                            )),
                        },
                        _ => {}
                    }
                }
                let rules: &[Value] = match map.get("rules") {
                    None | Some(Value::Null) => &[],
                    Some(Value::Array(items)) => items,
                    Some(other) => {
                        problems.push(problem(
                            "/rules".into(),
                            None,
                            format!("`rules` must be a list, found `{other}`"),
                        ));
                        &[]
                    }
                };
                (rules, "/rules")
            }
            _ => {
                return Err(PolicyError(vec![problem(
                    String::new(),
                    None,
                    "a policy is an object or a list of rules".into(),
                )]));
            }
        };
        for (i, r) in rules.iter().enumerate() {
            let at = format!("{prefix}/{i}");
            let Some(obj) = r.as_object() else {
                problems.push(problem(
                    at,
                    Some(i),
                    "a rule is an object `{decision, condition, reason_code}`".into(),
                ));
                continue;
            };
            for k in obj.keys() {
                if !RULE_KEYS.contains(&k.as_str()) {
                    if problems.len() >= MAX_POLICY_PROBLEMS {
                        unlisted += 1;
                        continue;
                    }
                    let mut unknown = problem(
                        format!("{at}/{}", pointer_token(k)),
                        Some(i),
                        unknown_field("rule", k, &RULE_KEYS),
                    );
                    unknown.at_key = true;
                    problems.push(unknown);
                }
            }
            let decision = match obj.get("decision") {
                Some(Value::String(d)) => match Verdict::parse(d) {
                    Some(v) => Some(v),
                    None => {
                        problems.push(problem(
                            format!("{at}/decision"),
                            Some(i),
                            format!(
                                "decision `{d}` is not one of promote, demote, pilot, no_go, borderline"
                            ),
                        ));
                        None
                    }
                },
                Some(other) => {
                    problems.push(problem(
                        format!("{at}/decision"),
                        Some(i),
                        format!(
                            "a decision is one of promote, demote, pilot, no_go, borderline, found `{other}`"
                        ),
                    ));
                    None
                }
                None => {
                    problems.push(problem(
                        at.clone(),
                        Some(i),
                        "a rule needs a `decision`".into(),
                    ));
                    None
                }
            };
            let reason_code = match obj.get("reason_code") {
                None | Some(Value::Null) => None,
                Some(Value::String(c)) => Some(c.clone()),
                Some(other) => {
                    problems.push(problem(
                        format!("{at}/reason_code"),
                        Some(i),
                        format!("`reason_code` must be a string, found `{other}`"),
                    ));
                    None
                }
            };
            let source = match obj.get("condition") {
                Some(Value::String(s)) => s,
                Some(other) => {
                    problems.push(problem(
                        format!("{at}/condition"),
                        Some(i),
                        format!("a condition is a string such as `raroi < 1.5`, found `{other}`"),
                    ));
                    continue;
                }
                None => {
                    problems.push(problem(
                        at,
                        Some(i),
                        "a rule needs a `condition` (a string such as `raroi < 1.5`)".into(),
                    ));
                    continue;
                }
            };
            match expr::parse(source, &NAMES) {
                Ok(condition) => {
                    if let Some(decision) = decision {
                        p.rules.push(PolicyRule {
                            decision,
                            condition,
                            source: source.clone(),
                            reason_code: reason_code
                                .unwrap_or_else(|| decision.as_str().to_string()),
                            index: i,
                        });
                    }
                }
                Err(e) => problems.push(PolicyProblem {
                    position: Some(e.position),
                    ..problem(format!("{at}/condition"), Some(i), e.message)
                }),
            }
        }
        if problems.is_empty() {
            return Ok(p);
        }
        // Each problem is then located in the tree and the text: past the
        // first ones, a policy of a million unknown keys took minutes.
        let more = problems.len().saturating_sub(MAX_POLICY_PROBLEMS) + unlisted;
        if more > 0 {
            problems.truncate(MAX_POLICY_PROBLEMS);
            problems.push(problem(
                String::new(),
                None,
                format!("and {more} more problems not listed; fix these first"),
            ));
        }
        Err(PolicyError(problems))
    }

    fn threshold_vals(&self) -> [Val<'static>; 8] {
        [
            Val::Num(self.raroi_threshold),
            Val::Num(self.confidence_threshold),
            Val::Num(self.scenario_score_min),
            Val::Num(self.sandbox_roi_low),
            Val::Num(self.adapter_roi_high),
            self.max_variance.map_or(Val::None, Val::Num),
            Val::Num(self.roi_forecast_min),
            Val::Num(self.foresight_confidence_min),
        ]
    }
}

/// An override, already verified (or refused) by the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OverrideInput {
    pub id: Option<String>,
    pub legacy: bool,
    pub bypass_micro_pilot: bool,
    pub forced_verdict: Option<Verdict>,
    /// Why the caller refused it (bad signature, expired, other workflow,
    /// used, signer without the security role); the evaluation then runs
    /// as without it.
    pub refused: Option<String>,
}

impl OverrideInput {
    /// The input for one scorecard from a checked override: refused when
    /// the check refused it or when it is for another workflow.
    pub fn for_workflow(
        check: &OverrideCheck,
        id: &str,
        legacy: bool,
        workflow_id: Option<&str>,
    ) -> OverrideInput {
        let refused = |reason: &str| OverrideInput {
            id: Some(id.to_string()),
            legacy,
            refused: Some(reason.to_string()),
            ..OverrideInput::default()
        };
        match check {
            OverrideCheck::Refused(r) => refused(r.reason),
            OverrideCheck::Usable(c) if !c.applies_to(workflow_id) => refused("other_workflow"),
            OverrideCheck::Usable(c) => OverrideInput {
                id: Some(id.to_string()),
                legacy,
                bypass_micro_pilot: c.bypass_micro_pilot,
                forced_verdict: c.forced_verdict,
                refused: None,
            },
        }
    }
}

/// What happened to the override and the micro-pilot mode.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bypass_micro_pilot: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forced_verdict: Option<Verdict>,
}

/// The foresight gate's findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Foresight {
    pub reason_codes: Vec<String>,
    pub recommendation: Verdict,
    pub projections: Value,
    pub confidence: Option<f64>,
}

/// `{workflow_id, verdict, reason_codes, overrides, foresight}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Evaluation {
    pub workflow_id: Option<String>,
    pub verdict: Verdict,
    pub reason_codes: Vec<String>,
    pub overrides: Overrides,
    pub foresight: Option<Foresight>,
}

impl Evaluation {
    /// Whether the given override was applied (and so is consumed).
    pub fn override_applied(&self) -> bool {
        self.overrides.applied == Some(true)
    }
}

/// Evaluates a scorecard (DESIGN §4's order).
pub fn evaluate(card: &Scorecard<'_>, policy: &Policy, ovr: &OverrideInput) -> Evaluation {
    let workflow_id = card.workflow_id.map(str::to_string);
    let mut overrides = Overrides::default();
    if let Some(r) = &ovr.refused {
        overrides.applied = Some(false);
        overrides.refused = Some(r.clone());
    }
    let usable = ovr.refused.is_none() && (ovr.bypass_micro_pilot || ovr.forced_verdict.is_some());
    if usable {
        overrides.override_id = ovr.id.clone();
        overrides.legacy = Some(ovr.legacy);
        overrides.bypass_micro_pilot = Some(ovr.bypass_micro_pilot);
        overrides.forced_verdict = ovr.forced_verdict;
    }
    let done = |verdict: Verdict,
                mut codes: Vec<String>,
                mut overrides: Overrides,
                foresight: Option<Foresight>,
                veto: bool| {
        if usable {
            if let Some(forced) = ovr.forced_verdict {
                if veto {
                    overrides.applied = Some(false);
                    overrides.refused = Some("veto_not_overridable".to_string());
                    return Evaluation {
                        workflow_id: workflow_id.clone(),
                        verdict,
                        reason_codes: codes,
                        overrides,
                        foresight,
                    };
                }
                codes.push("manual_override".to_string());
                overrides.applied = Some(true);
                // The micro-pilot mode belongs to a pilot verdict only.
                if forced != Verdict::Pilot {
                    overrides.mode = None;
                }
                return Evaluation {
                    workflow_id: workflow_id.clone(),
                    verdict: forced,
                    reason_codes: codes,
                    overrides,
                    foresight,
                };
            }
            overrides.applied = Some(!veto);
        }
        Evaluation {
            workflow_id: workflow_id.clone(),
            verdict,
            reason_codes: codes,
            overrides,
            foresight,
        }
    };

    // 1. Vetoes.
    let alignment = card.alignment_status.as_deref();
    let security = card.security_status.as_deref();
    let mut vetoes = Vec::new();
    if alignment.is_some_and(|s| !scorecard::passes(s)) {
        vetoes.push("alignment_veto".to_string());
    }
    if security.is_some_and(|s| !scorecard::passes(s)) {
        vetoes.push("security_veto".to_string());
    }
    if !vetoes.is_empty() {
        return done(Verdict::Demote, vetoes, overrides, None, true);
    }

    let (raroi, confidence, sandbox, adapter) = (
        card.raroi,
        card.confidence,
        card.sandbox_roi,
        card.adapter_roi,
    );
    let scores: &[(&str, f64)] = card.scenario_scores.as_deref().unwrap_or_default();
    let min_scenario = scores.iter().map(|(_, s)| *s).reduce(f64::min);
    let variance = (scores.len() >= 2).then(|| {
        let n = scores.len() as f64;
        let mean = scores.iter().map(|(_, s)| s).sum::<f64>() / n;
        scores
            .iter()
            .map(|(_, s)| (s - mean) * (s - mean))
            .sum::<f64>()
            / n
    });

    // 2. Micro-pilot.
    let micro_mode = |o: &mut Overrides| o.mode = Some("micro-pilot".to_string());
    if !(usable && ovr.bypass_micro_pilot) {
        if let (Some(s), Some(a)) = (sandbox, adapter) {
            if s < policy.sandbox_roi_low && a > policy.adapter_roi_high {
                micro_mode(&mut overrides);
                return done(
                    Verdict::Pilot,
                    vec!["micro_pilot".to_string()],
                    overrides,
                    None,
                    false,
                );
            }
        }
    }

    // 3. Variance and per-scenario minimums.
    let limit = policy.limit_verdict.verdict();
    if let (Some(max), Some(var)) = (policy.max_variance, variance) {
        if var > max {
            return done(
                limit,
                vec!["variance_above_max".to_string()],
                overrides,
                None,
                false,
            );
        }
    }
    let below: Vec<String> = scores
        .iter()
        .filter(|(name, s)| policy.scenario_thresholds.get(*name).is_some_and(|t| s < t))
        // One allocation of the right size (`format!` grows the string).
        .map(|(name, _)| [name, "_below_min"].concat())
        .collect();
    if !below.is_empty() {
        return done(limit, below, overrides, None, false);
    }

    // 4. Rules, then the defaults.
    let opt = |v: Option<f64>| v.map_or(Val::None, Val::Num);
    let t = policy.threshold_vals();
    let vars: [Val<'_>; 16] = [
        opt(raroi),
        opt(confidence),
        opt(min_scenario),
        opt(variance),
        opt(sandbox),
        opt(adapter),
        alignment.map_or(Val::None, Val::Str),
        security.map_or(Val::None, Val::Str),
        t[0],
        t[1],
        t[2],
        t[3],
        t[4],
        t[5],
        t[6],
        t[7],
    ];
    let decided = policy
        .rules
        .iter()
        .filter(|r| !(usable && ovr.bypass_micro_pilot && r.reason_code == "micro_pilot"))
        .find(|r| r.condition.holds(&vars) == Ok(true))
        .map(|r| (r.decision, vec![r.reason_code.clone()]));
    let (mut verdict, mut codes) = decided.unwrap_or_else(|| {
        if raroi.is_none_or(|r| r < policy.raroi_threshold) {
            (Verdict::NoGo, vec!["raroi_below_threshold".to_string()])
        } else if confidence.is_none_or(|c| c < policy.confidence_threshold) {
            (
                Verdict::NoGo,
                vec!["confidence_below_threshold".to_string()],
            )
        } else if min_scenario.is_some_and(|m| m < policy.scenario_score_min) {
            (Verdict::NoGo, vec!["scenario_below_min".to_string()])
        } else {
            (Verdict::Promote, Vec::new())
        }
    });
    if verdict == Verdict::Pilot && codes.iter().any(|c| c == "micro_pilot") {
        micro_mode(&mut overrides);
    }

    // 5. Foresight before a promote is final.
    let mut foresight = None;
    if let Some(forecast) = &card.forecast {
        let f = foresight_gate(forecast, policy, verdict);
        if verdict == Verdict::Promote && f.recommendation != Verdict::Promote {
            verdict = f.recommendation;
            codes.extend(f.reason_codes.iter().cloned());
        }
        foresight = Some(f);
    }
    done(verdict, codes, overrides, foresight, false)
}

/// How far below its threshold an ROI or confidence miss may be and still
/// count as borderline.
const NEAR: f64 = 0.05;

fn foresight_gate(forecast: &Forecast<'_>, policy: &Policy, verdict: Verdict) -> Foresight {
    let mut codes = Vec::new();
    let mut all_near = true;
    if let Some(m) = forecast.min_roi.filter(|m| *m < policy.roi_forecast_min) {
        codes.push("projected_roi_below_threshold".to_string());
        all_near &= policy.roi_forecast_min - m <= NEAR + 1e-12;
    }
    if let Some(c) = forecast
        .confidence
        .filter(|c| *c < policy.foresight_confidence_min)
    {
        codes.push("low_confidence".to_string());
        all_near &= policy.foresight_confidence_min - c <= NEAR + 1e-12;
    }
    if forecast.collapse_risk {
        codes.push("roi_collapse_risk".to_string());
        all_near = false;
    }
    if forecast.negative_dag_impact && !policy.allow_negative_dag {
        codes.push("negative_dag_impact".to_string());
        all_near = false;
    }
    let recommendation = if codes.is_empty() {
        verdict
    } else if all_near && policy.borderline_queue {
        Verdict::Borderline
    } else {
        Verdict::Pilot
    };
    Foresight {
        reason_codes: codes,
        recommendation,
        projections: forecast
            .projections
            .cloned()
            .unwrap_or(Value::Array(Vec::new())),
        confidence: forecast.confidence,
    }
}

/// One line of the decision log, its fields in the order a JSON object's
/// keys print (sorted), so the record and its line agree byte for byte.
#[derive(Serialize)]
struct LogLine<'a> {
    dag_impact: Option<&'a Value>,
    decision: bool,
    forecast_confidence: Option<f64>,
    forecast_projections: Option<&'a Value>,
    patch_summary: Option<&'a str>,
    reason_codes: &'a [String],
    timestamp: i64,
    verdict: Verdict,
    workflow_id: &'a Option<String>,
}

impl<'a> LogLine<'a> {
    fn new(card: &'a Scorecard<'_>, e: &'a Evaluation, unix_seconds: i64) -> LogLine<'a> {
        let forecast = card.forecast.as_ref();
        LogLine {
            dag_impact: forecast.and_then(|f| f.dag_impact),
            decision: e.verdict == Verdict::Promote,
            forecast_confidence: forecast.and_then(|f| f.confidence),
            forecast_projections: forecast.and_then(|f| f.projections),
            patch_summary: card.patch_summary,
            reason_codes: &e.reason_codes,
            timestamp: unix_seconds,
            verdict: e.verdict,
            workflow_id: &e.workflow_id,
        }
    }
}

/// One line of the decision log: `{timestamp (Unix seconds), workflow_id,
/// patch_summary, forecast_projections, forecast_confidence, dag_impact,
/// decision (promoted?), verdict, reason_codes}`.
pub fn decision_log_record(card: &Scorecard<'_>, e: &Evaluation, unix_seconds: i64) -> Value {
    // Serializing borrowed values cannot fail.
    serde_json::to_value(LogLine::new(card, e, unix_seconds)).unwrap_or(Value::Null)
}

/// [`decision_log_record`] written as one line of JSON, byte for byte the
/// same, without building a JSON object first (a batch of 100,000 cards
/// writes 100,000 of them).
pub fn decision_log_line(card: &Scorecard<'_>, e: &Evaluation, unix_seconds: i64) -> String {
    let mut out = Vec::with_capacity(256);
    // Only `str`s and ASCII are written, so both cannot fail.
    match json_out::log_line(&mut out, &LogLine::new(card, e, unix_seconds)) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// [`decision_log_line`] appended to `out` (without a line break).
pub fn write_decision_log_line(
    out: &mut Vec<u8>,
    card: &Scorecard<'_>,
    e: &Evaluation,
    unix_seconds: i64,
) -> serde_json::Result<()> {
    json_out::log_line(out, &LogLine::new(card, e, unix_seconds))
}

/// An evaluation as one line of JSON (without a line break), byte for
/// byte what `serde_json` writes for it.
pub fn write_evaluation(out: &mut Vec<u8>, e: &Evaluation) -> serde_json::Result<()> {
    json_out::evaluation(out, e)
}

/// The borderline queue's record of a scorecard decided `borderline`
/// (§11.12): `{workflow_id, raroi [..], confidence, status, created_at,
/// updated_at}`, pending, both times `now` (RFC 3339).
pub fn borderline_record(card: &Scorecard<'_>, e: &Evaluation, now: &str) -> Value {
    json!({
        "workflow_id": e.workflow_id,
        "raroi": [card.raroi],
        "confidence": card.confidence,
        "status": "pending",
        "created_at": now,
        "updated_at": now,
    })
}

/// Counts per verdict and per reason code over a batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BatchSummary {
    pub total: usize,
    pub verdicts: BTreeMap<String, usize>,
    pub reason_codes: BTreeMap<String, usize>,
}

impl BatchSummary {
    /// Adds another batch's counts (of evaluations made apart).
    pub fn merge(&mut self, other: BatchSummary) {
        self.total += other.total;
        for (counts, more) in [
            (&mut self.verdicts, other.verdicts),
            (&mut self.reason_codes, other.reason_codes),
        ] {
            for (name, n) in more {
                *counts.entry(name).or_default() += n;
            }
        }
    }

    pub fn add(&mut self, e: &Evaluation) {
        // Counted without allocating once a name has been seen (a batch
        // adds 100,000 evaluations).
        fn count(counts: &mut BTreeMap<String, usize>, name: &str) {
            match counts.get_mut(name) {
                Some(n) => *n += 1,
                None => {
                    counts.insert(name.to_string(), 1);
                }
            }
        }
        self.total += 1;
        count(&mut self.verdicts, e.verdict.as_str());
        for c in &e.reason_codes {
            count(&mut self.reason_codes, c);
        }
    }
}

/// Reads a verified override's content for one scorecard: a DSSE
/// `override.v1` payload or a legacy `data` object ([`check_override`]),
/// refused when it is not for `workflow_id`, malformed, or not issued by a
/// security signer.
pub fn override_input(
    content: &Value,
    id: &str,
    legacy: bool,
    signers: &[OverrideSigner<'_>],
    workflow_id: Option<&str>,
) -> Result<OverrideInput, UnknownVerdict> {
    let check = check_override(content, legacy, signers)?;
    Ok(OverrideInput::for_workflow(&check, id, legacy, workflow_id))
}
