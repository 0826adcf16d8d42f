//! Workflow governance (DESIGN §4, §11.12): RAROI scorecards evaluated
//! against a policy into `promote`, `demote`, `pilot`, `no_go` or
//! `borderline`, with reason codes, the micro-pilot, the foresight gate and
//! signed overrides.
//!
//! Pure: scorecards and policies arrive as values, overrides arrive
//! verified (the console checks signatures, expiry and the ledger), and the
//! time for the decision log is a parameter.
//!
//! ```
//! use gavel_governance::{Policy, evaluate, Verdict};
//! let policy = Policy::from_json(&serde_json::json!({"rules": []})).unwrap();
//! let card = serde_json::json!({"workflow_id": "wf-1", "raroi": 1.2, "confidence": 0.9});
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

pub mod expr;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::expr::{Expr, Val};

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
            rules: Vec::new(),
        }
    }
}

/// One problem with a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyProblem {
    /// The rule's 0-based index, when the problem is in a rule.
    pub rule: Option<usize>,
    /// The character position in the condition, when it is in one.
    pub position: Option<usize>,
    pub message: String,
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

const POLICY_KEYS: [&str; 15] = [
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
    "rules",
    "name",
];

impl Policy {
    /// Reads a policy document (an object, or a bare list of rules).
    pub fn from_json(doc: &Value) -> Result<Policy, PolicyError> {
        let mut p = Policy::default();
        let mut problems = Vec::new();
        let problem =
            |rule: Option<usize>, position: Option<usize>, message: String| PolicyProblem {
                rule,
                position,
                message,
            };
        let rules: &[Value] = match doc {
            Value::Array(items) => items,
            Value::Object(map) => {
                for (k, v) in map {
                    if !POLICY_KEYS.contains(&k.as_str()) && k != "description" && k != "version" {
                        problems.push(problem(None, None, format!("unknown policy field `{k}`")));
                        continue;
                    }
                    let num = |problems: &mut Vec<PolicyProblem>| match v.as_f64() {
                        Some(n) => Some(n),
                        None => {
                            problems.push(problem(None, None, format!("`{k}` must be a number")));
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
                                None,
                                None,
                                format!("`{k}` must be true or false"),
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
                                            None,
                                            None,
                                            format!(
                                                "`scenario_thresholds.{name}` must be a number"
                                            ),
                                        )),
                                    }
                                }
                            }
                            None => problems.push(problem(
                                None,
                                None,
                                "`scenario_thresholds` must map names to numbers".into(),
                            )),
                        },
                        _ => {}
                    }
                }
                match map.get("rules") {
                    None | Some(Value::Null) => &[],
                    Some(Value::Array(items)) => items,
                    Some(_) => {
                        problems.push(problem(None, None, "`rules` must be a list".into()));
                        &[]
                    }
                }
            }
            _ => {
                return Err(PolicyError(vec![problem(
                    None,
                    None,
                    "a policy is an object or a list of rules".into(),
                )]));
            }
        };
        for (i, r) in rules.iter().enumerate() {
            let Some(obj) = r.as_object() else {
                problems.push(problem(
                    Some(i),
                    None,
                    "a rule is an object `{decision, condition, reason_code}`".into(),
                ));
                continue;
            };
            for k in obj.keys() {
                if !["decision", "condition", "reason_code", "description"].contains(&k.as_str()) {
                    problems.push(problem(Some(i), None, format!("unknown rule field `{k}`")));
                }
            }
            let decision = match obj.get("decision").and_then(Value::as_str) {
                Some(d) => match Verdict::parse(d) {
                    Some(v) => Some(v),
                    None => {
                        problems.push(problem(Some(i), None, format!("decision `{d}` is not one of promote, demote, pilot, no_go, borderline")));
                        None
                    }
                },
                None => {
                    problems.push(problem(Some(i), None, "a rule needs a `decision`".into()));
                    None
                }
            };
            let Some(source) = obj.get("condition").and_then(Value::as_str) else {
                problems.push(problem(
                    Some(i),
                    None,
                    "a rule needs a `condition` (a string)".into(),
                ));
                continue;
            };
            match expr::parse(source, &NAMES) {
                Ok(condition) => {
                    if let Some(decision) = decision {
                        let reason_code = obj
                            .get("reason_code")
                            .and_then(Value::as_str)
                            .map_or_else(|| decision.as_str().to_string(), str::to_string);
                        p.rules.push(PolicyRule {
                            decision,
                            condition,
                            source: source.to_string(),
                            reason_code,
                            index: i,
                        });
                    }
                }
                Err(e) => problems.push(problem(Some(i), Some(e.position), e.message)),
            }
        }
        if problems.is_empty() {
            Ok(p)
        } else {
            Err(PolicyError(problems))
        }
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

/// What happened to the override and the micro-pilot mode.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
pub struct Foresight {
    pub reason_codes: Vec<String>,
    pub recommendation: Verdict,
    pub projections: Value,
    pub confidence: Option<f64>,
}

/// `{workflow_id, verdict, reason_codes, overrides, foresight}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

/// The scorecard fields the evaluator reads, found in one pass over the
/// object (a lookup per field was a quarter of the evaluation's time).
#[derive(Default)]
struct Fields<'c> {
    workflow_id: Option<&'c str>,
    alignment: Option<&'c Value>,
    security: Option<&'c Value>,
    raroi: Option<f64>,
    confidence: Option<f64>,
    sandbox: Option<f64>,
    adapter: Option<f64>,
    scenario_scores: Option<&'c serde_json::Map<String, Value>>,
    forecast: Option<&'c Value>,
}

impl<'c> Fields<'c> {
    fn of(card: &'c Value) -> Fields<'c> {
        let mut f = Fields::default();
        let Some(map) = card.as_object() else {
            return f;
        };
        let mut alignment_nested = None;
        let mut security_nested = None;
        for (k, v) in map {
            match k.as_str() {
                "workflow_id" => f.workflow_id = v.as_str(),
                "alignment_status" => f.alignment = Some(v).filter(|v| !v.is_null()),
                "alignment" => alignment_nested = v.get("status"),
                "security_status" => f.security = Some(v).filter(|v| !v.is_null()),
                "security" => security_nested = v.get("status"),
                "raroi" => f.raroi = v.as_f64(),
                "confidence" => f.confidence = v.as_f64(),
                "sandbox_roi" => f.sandbox = v.as_f64(),
                "adapter_roi" => f.adapter = v.as_f64(),
                "scenario_scores" => f.scenario_scores = v.as_object(),
                "forecast" => f.forecast = Some(v).filter(|v| v.is_object()),
                _ => {}
            }
        }
        f.alignment = f.alignment.or(alignment_nested);
        f.security = f.security.or(security_nested);
        f
    }
}

fn status(v: Option<&Value>) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    v.and_then(|s| match s {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "pass" } else { "fail" })),
        Value::Null => None,
        other => Some(Cow::Owned(other.to_string())),
    })
}

/// Evaluates a scorecard (DESIGN §4's order).
pub fn evaluate(card: &Value, policy: &Policy, ovr: &OverrideInput) -> Evaluation {
    let fields = Fields::of(card);
    let workflow_id = fields.workflow_id.map(str::to_string);
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
    let alignment = status(fields.alignment);
    let security = status(fields.security);
    let mut vetoes = Vec::new();
    if alignment
        .as_ref()
        .is_some_and(|s| !s.eq_ignore_ascii_case("pass"))
    {
        vetoes.push("alignment_veto".to_string());
    }
    if security
        .as_ref()
        .is_some_and(|s| !s.eq_ignore_ascii_case("pass"))
    {
        vetoes.push("security_veto".to_string());
    }
    if !vetoes.is_empty() {
        return done(Verdict::Demote, vetoes, overrides, None, true);
    }

    let (raroi, confidence, sandbox, adapter) = (
        fields.raroi,
        fields.confidence,
        fields.sandbox,
        fields.adapter,
    );
    let scores: smallvec::SmallVec<[(&str, f64); 8]> = fields
        .scenario_scores
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_f64().map(|s| (k.as_str(), s)))
                .collect()
        })
        .unwrap_or_default();
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
    if let (Some(max), Some(var)) = (policy.max_variance, variance) {
        if var > max {
            return done(
                Verdict::Demote,
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
        .map(|(name, _)| format!("{name}_below_min"))
        .collect();
    if !below.is_empty() {
        return done(Verdict::Demote, below, overrides, None, false);
    }

    // 4. Rules, then the defaults.
    let opt = |v: Option<f64>| v.map_or(Val::None, Val::Num);
    let alignment_val = alignment.as_deref().map_or(Val::None, Val::Str);
    let security_val = security.as_deref().map_or(Val::None, Val::Str);
    let t = policy.threshold_vals();
    let vars: [Val<'_>; 16] = [
        opt(raroi),
        opt(confidence),
        opt(min_scenario),
        opt(variance),
        opt(sandbox),
        opt(adapter),
        alignment_val,
        security_val,
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
    let (verdict, codes) = decided.unwrap_or_else(|| {
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
    let mut codes = codes;
    let mut verdict = verdict;
    let mut foresight = None;
    if let Some(forecast) = fields.forecast {
        let f = foresight_gate(forecast, policy, verdict);
        if verdict == Verdict::Promote && f.recommendation != Verdict::Promote {
            verdict = f.recommendation;
            codes.extend(f.reason_codes.iter().cloned());
        }
        foresight = Some(f);
    }
    done(verdict, codes, overrides, foresight, false)
}

fn foresight_gate(forecast: &Value, policy: &Policy, verdict: Verdict) -> Foresight {
    let projections = forecast
        .get("projections")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    let confidence = num(forecast.get("confidence"));
    let mut codes = Vec::new();
    let mut all_near = true;
    let near = 0.05;
    let min_roi = projections
        .as_array()
        .map(|p| {
            p.iter()
                .filter_map(|x| num(x.get("roi")))
                .fold(f64::INFINITY, f64::min)
        })
        .filter(|m| m.is_finite());
    if let Some(m) = min_roi.filter(|m| *m < policy.roi_forecast_min) {
        codes.push("projected_roi_below_threshold".to_string());
        all_near &= policy.roi_forecast_min - m <= near + 1e-12;
    }
    if let Some(c) = confidence.filter(|c| *c < policy.foresight_confidence_min) {
        codes.push("low_confidence".to_string());
        all_near &= policy.foresight_confidence_min - c <= near + 1e-12;
    }
    let collapse = match forecast.get("collapse_risk") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => {
            s == "Immediate collapse risk" || s.eq_ignore_ascii_case("brittle")
        }
        _ => false,
    };
    if collapse {
        codes.push("roi_collapse_risk".to_string());
        all_near = false;
    }
    let negative_dag = match forecast.get("dag_impact") {
        Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x < 0.0),
        Some(Value::Object(m)) => m.values().any(|v| v.as_f64().is_some_and(|x| x < 0.0)),
        _ => false,
    };
    if negative_dag && !policy.allow_negative_dag {
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
        projections,
        confidence,
    }
}

/// One line of the decision log: `{timestamp (Unix seconds), workflow_id,
/// patch_summary, forecast_projections, forecast_confidence, dag_impact,
/// decision (promoted?), verdict, reason_codes}`.
pub fn decision_log_record(card: &Value, e: &Evaluation, unix_seconds: i64) -> Value {
    let forecast = card.get("forecast");
    json!({
        "timestamp": unix_seconds,
        "workflow_id": e.workflow_id,
        "patch_summary": card.get("patch_summary").cloned().unwrap_or(Value::Null),
        "forecast_projections": forecast.and_then(|f| f.get("projections")).cloned().unwrap_or(Value::Null),
        "forecast_confidence": forecast.and_then(|f| f.get("confidence")).cloned().unwrap_or(Value::Null),
        "dag_impact": forecast.and_then(|f| f.get("dag_impact")).cloned().unwrap_or(Value::Null),
        "decision": e.verdict == Verdict::Promote,
        "verdict": e.verdict,
        "reason_codes": e.reason_codes,
    })
}

/// Counts per verdict and per reason code over a batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BatchSummary {
    pub total: usize,
    pub verdicts: BTreeMap<String, usize>,
    pub reason_codes: BTreeMap<String, usize>,
}

impl BatchSummary {
    pub fn add(&mut self, e: &Evaluation) {
        self.total += 1;
        *self
            .verdicts
            .entry(e.verdict.as_str().to_string())
            .or_default() += 1;
        for c in &e.reason_codes {
            *self.reason_codes.entry(c.clone()).or_default() += 1;
        }
    }
}

/// Why an override cannot be used at all (exit 2): its verdict is not one
/// an override may force.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the override's verdict is {0}; it must force one of promote, demote, pilot, no_go, or bypass the micro-pilot"
)]
pub struct UnknownVerdict(pub String);

/// A value that is there and not `null`.
fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// Reads a verified override's content: a DSSE `override.v1` payload
/// (`{id, workflow_id, flags {bypass_micro_pilot, forced_verdict}, …}`) or a
/// legacy `data` object (flat: `bypass_micro_pilot`, `forced_verdict` or
/// `verdict`, optional `workflow_id`). `refusal` is set when the override
/// does not apply to `workflow_id` or its signer lacks the security role.
pub fn override_input(
    content: &Value,
    id: &str,
    legacy: bool,
    signer_is_security: bool,
    workflow_id: Option<&str>,
) -> Result<OverrideInput, UnknownVerdict> {
    let flags = if legacy {
        content
    } else {
        content.get("flags").unwrap_or(&Value::Null)
    };
    let verdict = present(flags.get("forced_verdict"))
        .or_else(|| present(flags.get("verdict")))
        .or_else(|| present(content.get("verdict")));
    let forced_verdict = match verdict {
        None => None,
        Some(v) => {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            Some(Verdict::forceable(&text).ok_or(UnknownVerdict(format!("`{text}`")))?)
        }
    };
    let bypass = flags
        .get("bypass_micro_pilot")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if forced_verdict.is_none() && !bypass {
        return Err(UnknownVerdict("missing".to_string()));
    }
    let scoped = present(content.get("workflow_id"));
    let target = scoped.and_then(Value::as_str);
    let refused = if !signer_is_security {
        Some("signer_not_security".to_string())
    } else if scoped.is_some() && (target.is_none() || target != workflow_id) {
        // A workflow id that is not a string matches no workflow.
        Some("other_workflow".to_string())
    } else if scoped.is_none() && !legacy {
        // A signed override is always scoped to one workflow.
        Some("other_workflow".to_string())
    } else {
        None
    };
    Ok(OverrideInput {
        id: Some(id.to_string()),
        legacy,
        bypass_micro_pilot: bypass,
        forced_verdict,
        refused,
    })
}
