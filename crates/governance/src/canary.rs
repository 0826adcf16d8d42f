//! Canary gates and the automatic-rollback trip (DESIGN §7, §11.8): the
//! fixed gates teams already use (samples, error rate, deny rate, cost
//! increase), a statistical judgment against the stable version serving in
//! the same window (`vs_stable`), and the thresholds past which a canary is
//! rolled back without waiting for a person.
//!
//! Pure: metrics arrive as a JSON value and leave as a report; no IO, no
//! clock. The statistics are written here (a normal tail from an `erfc`
//! approximation, a pooled two-proportion z-test, a Mann-Whitney U test
//! over cost histograms with its Hodges-Lehmann shift), so the gates need
//! no numerical crate.
//!
//! In a [`Gate`], rates and the cost increase are fractions (`0.05` is 5%),
//! `samples` counts decisions, and `vs_stable` gives the smallest one-sided
//! p-value of the metrics it compared against α = 0.01.
//!
//! ```
//! use gavel_governance::canary::{Metrics, GateConfig, check};
//! let m = serde_json::json!({"total_decisions": 200, "error_count": 4, "deny_count": 50,
//!     "baseline_avg_cost": 1.0, "canary_avg_cost": 1.1});
//! let report = check(&Metrics::from_json(&m).unwrap(), &GateConfig::default());
//! assert!(report.passed);
//! ```

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

/// The decisions a canary needs before its gates can pass (an
/// environment's `min_samples` setting overrides it).
pub const DEFAULT_MIN_SAMPLES: u64 = 100;
/// The canary decisions automatic rollback waits for before it may trip.
pub const AUTO_ROLLBACK_MIN_DECISIONS: u64 = 50;
/// The most distinct costs one `cost_histogram` may hold, so that the rank
/// test stays cheap (it reads each side's costs a few dozen times).
pub const MAX_HISTOGRAM_COSTS: usize = 10_000;
/// The largest count read: the largest whole number a JSON number holds
/// exactly (2^53 - 1).
pub const MAX_COUNT: u64 = (1 << 53) - 1;

/// Fixed gates: the highest error and deny rates that pass, in percent.
const MAX_ERROR_PERCENT: u64 = 5;
const MAX_DENY_PERCENT: u64 = 30;
/// The largest cost increase over the baseline that passes.
const MAX_COST_INCREASE: f64 = 0.20;

/// `vs_stable`: a rate is significantly higher when z exceeds this
/// (one-sided, α = 0.01), and fails only when it is also higher by more
/// than its allowance, in percentage points.
const Z_CRITICAL: f64 = 2.326;
const ALPHA: f64 = 0.01;
const DENY_ALLOWANCE_POINTS: u64 = 5;
const ERROR_ALLOWANCE_POINTS: u64 = 1;
const NO_MATCH_ALLOWANCE_POINTS: u64 = 2;
/// How much higher the canary's mean cost may be than the stable one's.
const COST_ALLOWANCE: f64 = 0.20;

/// Automatic rollback: rates in percent, the cost increase as a fraction.
const TRIP_ERROR_PERCENT: u64 = 10;
const TRIP_DENY_PERCENT: u64 = 50;
const TRIP_NO_MATCH_PERCENT: u64 = 20;
const TRIP_COST_INCREASE: f64 = 0.50;

const CANARY_FIELDS: [&str; 8] = [
    "total_decisions",
    "error_count",
    "deny_count",
    "no_match_count",
    "baseline_avg_cost",
    "canary_avg_cost",
    "cost_histogram",
    "stable",
];
const STABLE_FIELDS: [&str; 5] = [
    "total_decisions",
    "error_count",
    "deny_count",
    "no_match_count",
    "cost_histogram",
];
const COUNT_FIELDS: [&str; 3] = ["error_count", "deny_count", "no_match_count"];

/// Where a field is in the metrics: `stable.deny_count`,
/// `cost_histogram["0.5"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath(Vec<String>);

impl FieldPath {
    fn child(&self, key: &str) -> FieldPath {
        let mut tokens = self.0.clone();
        tokens.push(key.to_string());
        FieldPath(tokens)
    }

    /// The RFC 6901 pointer of the field (`/stable/deny_count`).
    pub fn pointer(&self) -> String {
        self.0
            .iter()
            .map(|t| format!("/{}", gavel_policy::doc::pointer_token(t)))
            .collect()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous: Option<&str> = None;
        for (i, token) in self.0.iter().enumerate() {
            // A histogram's keys are costs, always quoted: `cost_histogram["0.5"]`.
            let plain = previous != Some("cost_histogram")
                && token.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            previous = Some(token);
            if !plain {
                write!(f, "[{token:?}]")?;
            } else if i > 0 {
                write!(f, ".{token}")?;
            } else {
                f.write_str(token)?;
            }
        }
        Ok(())
    }
}

/// Why a metrics document cannot be used. Each variant names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    #[error("the metrics must be a JSON object of counts and costs, found {found}")]
    NotAnObject { found: String },
    #[error("`{at}` must be {expected}, found {found}")]
    WrongType {
        at: FieldPath,
        expected: &'static str,
        found: String,
    },
    #[error("`{at}` is missing; give {expected}")]
    Missing {
        at: FieldPath,
        expected: &'static str,
    },
    #[error("unknown field `{at}`; {}", match suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("known fields: {}", known.join(", ")),
    })]
    UnknownField {
        at: FieldPath,
        suggestion: Option<&'static str>,
        known: &'static [&'static str],
    },
    #[error(
        "`{at}` is {count}, more than the {total} decisions in `total_decisions`; a count cannot exceed the decisions it counts"
    )]
    CountAboveTotal {
        at: FieldPath,
        count: u64,
        total: u64,
    },
    #[error(
        "`{at}` counts {decisions} decisions, more than the {total} in `total_decisions`; count each decision once"
    )]
    HistogramAboveTotal {
        at: FieldPath,
        decisions: u128,
        total: u64,
    },
    #[error("`{at}` has more than {limit} distinct costs; round the costs to fewer values")]
    TooManyCosts { at: FieldPath, limit: usize },
    #[error("`{at}` is not a cost: write each cost as a number 0 or more, such as \"0.5\"")]
    BadCost { at: FieldPath },
}

impl MetricsError {
    /// The offending field (the whole document for [`MetricsError::NotAnObject`]).
    pub fn path(&self) -> Option<&FieldPath> {
        match self {
            MetricsError::NotAnObject { .. } => None,
            MetricsError::WrongType { at, .. }
            | MetricsError::Missing { at, .. }
            | MetricsError::UnknownField { at, .. }
            | MetricsError::CountAboveTotal { at, .. }
            | MetricsError::HistogramAboveTotal { at, .. }
            | MetricsError::TooManyCosts { at, .. }
            | MetricsError::BadCost { at } => Some(at),
        }
    }

    /// The RFC 6901 pointer of the offending field (`""` for the whole
    /// document), to locate it in the file.
    pub fn pointer(&self) -> String {
        self.path().map(FieldPath::pointer).unwrap_or_default()
    }

    /// Whether the field's key, not its value, is the problem.
    pub fn at_key(&self) -> bool {
        matches!(
            self,
            MetricsError::UnknownField { .. } | MetricsError::BadCost { .. }
        )
    }
}

/// How many decisions had each cost: distinct costs (finite, 0 or more) in
/// ascending order, each with a count above 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bins: Vec<(f64, u64)>,
    decisions: u64,
}

impl Histogram {
    /// A histogram from `(cost, count)` pairs in any order; a cost given
    /// twice adds up, zero counts are dropped. `None` when a cost is
    /// negative or not finite, when there are more than
    /// [`MAX_HISTOGRAM_COSTS`] distinct costs, or when the counts add up to
    /// more than [`MAX_COUNT`].
    pub fn new(bins: impl IntoIterator<Item = (f64, u64)>) -> Option<Histogram> {
        let mut all: Vec<(f64, u64)> = Vec::new();
        for (cost, count) in bins {
            if !(cost.is_finite() && cost >= 0.0) {
                return None;
            }
            if count > 0 {
                // -0.0 and 0.0 are one cost.
                all.push((cost + 0.0, count));
            }
        }
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f64, u64)> = Vec::with_capacity(all.len());
        let mut decisions = 0u64;
        for (cost, count) in all {
            decisions = decisions.checked_add(count).filter(|d| *d <= MAX_COUNT)?;
            match merged.last_mut() {
                Some(last) if last.0 == cost => last.1 += count,
                _ => merged.push((cost, count)),
            }
        }
        (merged.len() <= MAX_HISTOGRAM_COSTS).then_some(Histogram {
            bins: merged,
            decisions,
        })
    }

    /// The distinct costs in ascending order, with their counts.
    pub fn bins(&self) -> &[(f64, u64)] {
        &self.bins
    }

    /// How many decisions the histogram counts.
    pub fn decisions(&self) -> u64 {
        self.decisions
    }

    /// The mean cost per decision (0 for an empty histogram).
    pub fn mean(&self) -> f64 {
        if self.decisions == 0 {
            return 0.0;
        }
        let sum: f64 = self.bins.iter().map(|(c, n)| c * *n as f64).sum();
        sum / self.decisions as f64
    }
}

/// One version's counters over the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub total_decisions: u64,
    pub error_count: u64,
    pub deny_count: u64,
    pub no_match_count: u64,
    /// The costs of the decisions it covers (which may be fewer than
    /// `total_decisions`: the histogram is then a sample of them).
    pub cost_histogram: Option<Histogram>,
}

/// What `gavel canary check` reads (DESIGN §11.8): the canary's counters
/// and costs, and optionally the stable version's counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    pub canary: Counts,
    /// The average cost per decision of the version the canary replaces.
    pub baseline_avg_cost: f64,
    pub canary_avg_cost: f64,
    pub stable: Option<Counts>,
}

fn describe(v: &Value) -> String {
    let kind = match v {
        Value::Null => return "null".to_string(),
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    let mut text = v.to_string();
    if text.chars().count() > 40 {
        text = text.chars().take(37).collect::<String>() + "...";
    }
    format!("{kind} `{text}`")
}

const COUNT_EXPECTED: &str = "a whole number from 0 to 9007199254740991";

/// A count: a whole number (`12` or `12.0`) from 0 to [`MAX_COUNT`].
fn count(v: &Value, at: &FieldPath) -> Result<u64, MetricsError> {
    let n = match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..=MAX_COUNT as f64).contains(f))
                .map(|f| f as u64)
        }),
        _ => None,
    };
    n.filter(|n| *n <= MAX_COUNT)
        .ok_or_else(|| MetricsError::WrongType {
            at: at.clone(),
            expected: COUNT_EXPECTED,
            found: describe(v),
        })
}

fn unknown(at: FieldPath, key: &str, known: &'static [&'static str]) -> MetricsError {
    MetricsError::UnknownField {
        at,
        suggestion: gavel_policy::did_you_mean(key, known),
        known,
    }
}

/// Reads `total_decisions`, the counts and `cost_histogram` of one side;
/// the caller has refused unknown fields.
fn counts(map: &Map<String, Value>, at: &FieldPath) -> Result<Counts, MetricsError> {
    let field = |key: &str| -> Result<u64, MetricsError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(0),
            Some(v) => count(v, &at.child(key)),
        }
    };
    let total = field("total_decisions")?;
    let mut c = Counts {
        total_decisions: total,
        error_count: field("error_count")?,
        deny_count: field("deny_count")?,
        no_match_count: field("no_match_count")?,
        cost_histogram: None,
    };
    for (key, n) in COUNT_FIELDS
        .iter()
        .zip([c.error_count, c.deny_count, c.no_match_count])
    {
        if n > total {
            return Err(MetricsError::CountAboveTotal {
                at: at.child(key),
                count: n,
                total,
            });
        }
    }
    if let Some(v) = map.get("cost_histogram").filter(|v| !v.is_null()) {
        let h = histogram(v, &at.child("cost_histogram"), total)?;
        c.cost_histogram = Some(h);
    }
    Ok(c)
}

/// A `cost_histogram` whose counts add up to at most `total`.
fn histogram(v: &Value, at: &FieldPath, total: u64) -> Result<Histogram, MetricsError> {
    let Value::Object(map) = v else {
        return Err(MetricsError::WrongType {
            at: at.clone(),
            expected: "an object of costs to counts, such as {\"0\": 80, \"2.5\": 20}",
            found: describe(v),
        });
    };
    // Bounded before anything is built: a million keys are refused, not sorted.
    if map.len() > MAX_HISTOGRAM_COSTS {
        return Err(MetricsError::TooManyCosts {
            at: at.clone(),
            limit: MAX_HISTOGRAM_COSTS,
        });
    }
    let mut bins = Vec::with_capacity(map.len());
    for (key, n) in map {
        let cost = key
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|c| c.is_finite() && *c >= 0.0)
            .ok_or_else(|| MetricsError::BadCost { at: at.child(key) })?;
        bins.push((cost, count(n, &at.child(key))?));
    }
    let decisions: u128 = bins.iter().map(|(_, n)| u128::from(*n)).sum();
    if decisions > u128::from(total) {
        return Err(MetricsError::HistogramAboveTotal {
            at: at.clone(),
            decisions,
            total,
        });
    }
    // Every cost is valid, there are few enough, and their counts add up to
    // at most `total`: the histogram can be built.
    Histogram::new(bins).ok_or_else(|| MetricsError::TooManyCosts {
        at: at.clone(),
        limit: MAX_HISTOGRAM_COSTS,
    })
}

fn cost(map: &Map<String, Value>, key: &str) -> Result<f64, MetricsError> {
    let at = FieldPath(vec![key.to_string()]);
    match map.get(key) {
        None => Err(MetricsError::Missing {
            at,
            expected: "the average cost per decision, a number 0 or more (0 when decisions cost nothing)",
        }),
        Some(v) => v
            .as_f64()
            .filter(|c| c.is_finite() && *c >= 0.0)
            .ok_or_else(|| MetricsError::WrongType {
                at,
                expected: "a number 0 or more",
                found: describe(v),
            }),
    }
}

impl Metrics {
    /// Reads `{total_decisions, error_count, deny_count, no_match_count?,
    /// baseline_avg_cost, canary_avg_cost, cost_histogram?, stable?:
    /// {total_decisions, error_count, deny_count, no_match_count,
    /// cost_histogram?}}`. A missing (or `null`) count is 0; the two
    /// average costs are required.
    pub fn from_json(doc: &Value) -> Result<Metrics, MetricsError> {
        let Value::Object(map) = doc else {
            return Err(MetricsError::NotAnObject {
                found: describe(doc),
            });
        };
        let root = FieldPath(Vec::new());
        if let Some(k) = map.keys().find(|k| !CANARY_FIELDS.contains(&k.as_str())) {
            return Err(unknown(root.child(k), k, &CANARY_FIELDS));
        }
        let canary = counts(map, &root)?;
        let baseline_avg_cost = cost(map, "baseline_avg_cost")?;
        let canary_avg_cost = cost(map, "canary_avg_cost")?;
        let stable = match map.get("stable") {
            None | Some(Value::Null) => None,
            Some(Value::Object(s)) => {
                let at = root.child("stable");
                if let Some(k) = s.keys().find(|k| !STABLE_FIELDS.contains(&k.as_str())) {
                    return Err(unknown(at.child(k), k, &STABLE_FIELDS));
                }
                Some(counts(s, &at)?)
            }
            Some(v) => {
                return Err(MetricsError::WrongType {
                    at: root.child("stable"),
                    expected: "an object of the stable version's counts",
                    found: describe(v),
                });
            }
        };
        Ok(Metrics {
            canary,
            baseline_avg_cost,
            canary_avg_cost,
            stable,
        })
    }
}

/// The minimum of decisions each side needs (an environment's
/// `min_samples`); 0 is read as 1: no data never passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateConfig {
    pub min_samples: u64,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            min_samples: DEFAULT_MIN_SAMPLES,
        }
    }
}

/// A gate's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum GateState {
    Pass,
    Fail,
    Inconclusive,
    Skipped,
}

impl GateState {
    pub fn as_str(self) -> &'static str {
        match self {
            GateState::Pass => "pass",
            GateState::Fail => "fail",
            GateState::Inconclusive => "inconclusive",
            GateState::Skipped => "skipped",
        }
    }
}

impl fmt::Display for GateState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One gate: `samples`, `error_rate`, `deny_rate`, `cost_increase` or
/// `vs_stable`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Gate {
    pub name: &'static str,
    pub state: GateState,
    /// Decisions (`samples`), a fraction (rates, `cost_increase`), or the
    /// smallest p-value (`vs_stable`); `null` when not measured.
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub message: String,
}

/// `{passed, failures, gates}` (DESIGN §11.8).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GateReport {
    /// Every gate is `pass` or `skipped`.
    pub passed: bool,
    /// The reason of every gate that is `fail` or `inconclusive`, in gate
    /// order (`vs_stable` gives one per metric that failed).
    pub failures: Vec<String>,
    pub gates: Vec<Gate>,
}

fn percent(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}

fn rate(count: u64, total: u64) -> f64 {
    count as f64 / total as f64
}

/// `count / total` is over `limit_percent`, compared exactly.
fn over_percent(count: u64, total: u64, limit_percent: u64) -> bool {
    u128::from(count) * 100 > u128::from(limit_percent) * u128::from(total)
}

/// Whether a cost ratio is over `limit`, compared at nine decimals: costs
/// are decimals written by agents, and an increase of exactly 20% may
/// compute as 20.000000000000004%. (Rates are compared exactly, as whole
/// numbers.)
fn over_fraction(ratio: f64, limit: f64) -> bool {
    (ratio * 1e9).round() > (limit * 1e9).round()
}

/// The cost increase over `baseline` as a fraction, when it can be
/// measured (a baseline above 0, both costs finite).
fn increase(cost: f64, baseline: f64) -> Option<f64> {
    (baseline > 0.0 && baseline.is_finite() && cost.is_finite())
        .then(|| (cost - baseline) / baseline)
}

fn gate(name: &'static str, state: GateState, value: Option<f64>, threshold: f64) -> Gate {
    Gate {
        name,
        state,
        value,
        threshold: Some(threshold),
        message: String::new(),
    }
}

fn samples_gate(total: u64, min: u64) -> Gate {
    let passes = total >= min;
    Gate {
        message: if passes {
            format!("{total} decisions, at least {min}")
        } else {
            format!("Insufficient samples: {total} < {min}")
        },
        ..gate(
            "samples",
            if passes {
                GateState::Pass
            } else {
                GateState::Inconclusive
            },
            Some(total as f64),
            min as f64,
        )
    }
}

fn rate_gate(name: &'static str, label: &str, count: u64, total: u64, max_percent: u64) -> Gate {
    let threshold = max_percent as f64 / 100.0;
    if total == 0 {
        return Gate {
            message: format!("{label} unknown: no decisions"),
            ..gate(name, GateState::Inconclusive, None, threshold)
        };
    }
    let value = rate(count, total);
    let (state, message) = if over_percent(count, total, max_percent) {
        (
            GateState::Fail,
            format!(
                "{label} too high: {} > {}",
                percent(value),
                percent(threshold)
            ),
        )
    } else {
        (
            GateState::Pass,
            format!("{label} {} <= {}", percent(value), percent(threshold)),
        )
    };
    Gate {
        message,
        ..gate(name, state, Some(value), threshold)
    }
}

fn cost_gate(m: &Metrics) -> Gate {
    let name = "cost_increase";
    if m.baseline_avg_cost == 0.0 {
        return Gate {
            message: "Baseline cost is 0: no increase to measure".to_string(),
            ..gate(name, GateState::Skipped, None, MAX_COST_INCREASE)
        };
    }
    let measured = increase(m.canary_avg_cost, m.baseline_avg_cost);
    let (Some(up), true) = (measured, m.canary.total_decisions > 0) else {
        let why = if m.canary.total_decisions == 0 {
            "no decisions"
        } else {
            "the costs are not numbers 0 or more"
        };
        return Gate {
            message: format!("Cost increase unknown: {why}"),
            ..gate(name, GateState::Inconclusive, None, MAX_COST_INCREASE)
        };
    };
    let (state, message) = if over_fraction(up, MAX_COST_INCREASE) {
        (
            GateState::Fail,
            format!(
                "Cost increase too high: {} > {}",
                percent(up),
                percent(MAX_COST_INCREASE)
            ),
        )
    } else {
        (
            GateState::Pass,
            format!(
                "Cost increase {} <= {}",
                percent(up),
                percent(MAX_COST_INCREASE)
            ),
        )
    };
    Gate {
        message,
        ..gate(name, state, Some(up), MAX_COST_INCREASE)
    }
}

/// The complementary error function, by a Chebyshev fit whose relative
/// error is below 1.2e-7 everywhere (Press et al., Numerical Recipes,
/// §6.2): relative, so that tail p-values stay meaningful.
pub fn erfc(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let tail = t * (-x * x + poly).exp();
    if x >= 0.0 { tail } else { 2.0 - tail }
}

/// The standard normal distribution function Φ(z).
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The one-sided p-value of `z`: P(Z > z) = 1 - Φ(z), computed from the
/// tail so that small values keep their precision.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The pooled two-proportion z statistic of `x1/n1` (canary) against
/// `x2/n2` (stable): positive when the canary's rate is higher. `None`
/// when it is undefined: a side without decisions, or a pooled rate of 0
/// or 1 (all-zero or identical all-one rates, which pass).
pub fn two_proportion_z(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<f64> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let pooled = (x1 as f64 + x2 as f64) / (n1f + n2f);
    let variance = pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f);
    (variance > 0.0).then(|| (rate(x1, n1) - rate(x2, n2)) / variance.sqrt())
}

/// A Mann-Whitney U test of the canary's costs against the stable
/// version's, one-sided (canary higher), with the Hodges-Lehmann shift.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankTest {
    /// The canary's U: the (canary, stable) decision pairs where the canary
    /// cost more, ties counted half.
    pub u: f64,
    /// (U - mean - 0.5) / sd, with the tie-corrected sd and a continuity
    /// correction of one half; 0 when every cost is the same.
    pub z: f64,
    /// P(Z > z); 1 when every cost is the same.
    pub p: f64,
    /// The Hodges-Lehmann shift: the median of the differences canary cost
    /// minus stable cost over every pair of decisions.
    pub shift: f64,
    /// Its 98% interval (normal approximation).
    pub interval: (f64, f64),
}

/// A float's place in the order of all floats, as an integer (finite
/// values only); the map is its own inverse.
fn order_key(x: f64) -> i64 {
    let bits = x.to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

fn from_order_key(key: i64) -> f64 {
    f64::from_bits((key ^ (((key >> 63) as u64) >> 1) as i64) as u64)
}

/// How many (canary, stable) decision pairs differ by at most `d` (canary
/// cost minus stable cost). For each canary cost, in ascending order, the
/// stable costs close enough are a suffix of theirs, which only shrinks.
fn pairs_at_most(a: &[(f64, u64)], b: &[(f64, u64)], d: f64) -> u128 {
    let mut rest = b.iter().peekable();
    let mut suffix: u128 = b.iter().map(|(_, n)| u128::from(*n)).sum();
    let mut total = 0u128;
    for &(x, na) in a {
        while let Some(&&(y, nb)) = rest.peek() {
            if x - y <= d {
                break;
            }
            suffix -= u128::from(nb);
            rest.next();
        }
        total += u128::from(na) * suffix;
    }
    total
}

/// The `k`-th smallest (from 1) pairwise difference, found by bisection
/// over the floats between the smallest and the largest difference: a few
/// dozen passes over the two histograms, instead of a list of every pair.
fn kth_difference(a: &[(f64, u64)], b: &[(f64, u64)], k: u128) -> f64 {
    let (Some(a_min), Some(a_max), Some(b_min), Some(b_max)) =
        (a.first(), a.last(), b.first(), b.last())
    else {
        return 0.0;
    };
    // pairs_at_most(lo) < k <= pairs_at_most(hi), as float order keys.
    let mut lo = i128::from(order_key(a_min.0 - b_max.0)) - 1;
    let mut hi = i128::from(order_key(a_max.0 - b_min.0));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let d = from_order_key(i64::try_from(mid).unwrap_or_default());
        if pairs_at_most(a, b, d) >= k {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    // A difference of 0 is +0.0; the search may land on -0.0, its twin.
    from_order_key(i64::try_from(hi).unwrap_or_default()) + 0.0
}

/// The Mann-Whitney U test of `canary` against `stable` costs; `None` when
/// either histogram is empty.
pub fn mann_whitney(canary: &Histogram, stable: &Histogram) -> Option<RankTest> {
    let (a, b) = (canary.bins(), stable.bins());
    let (n1, n2) = (canary.decisions(), stable.decisions());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    // Twice U, exactly: each canary decision counts 2 for every stable
    // decision below it and 1 for every one tied with it. Ties per
    // distinct cost, for the variance.
    let mut twice_u = 0u128;
    let mut ties = 0.0f64;
    let mut below = 0u128;
    let mut j = b.iter().peekable();
    for &(x, na) in a {
        while let Some(&&(y, nb)) = j.peek() {
            if y >= x {
                break;
            }
            below += u128::from(nb);
            let t = nb as f64;
            ties += t * t * t - t;
            j.next();
        }
        let tied = match j.peek() {
            Some(&&(y, nb)) if y == x => {
                j.next();
                nb
            }
            _ => 0,
        };
        twice_u += u128::from(na) * (2 * below + u128::from(tied));
        below += u128::from(tied);
        let t = (na + tied) as f64;
        ties += t * t * t - t;
    }
    for &(_, nb) in j {
        let t = nb as f64;
        ties += t * t * t - t;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let n = n1f + n2f;
    let u = twice_u as f64 / 2.0;
    let mean = n1f * n2f / 2.0;
    let variance = n1f * n2f / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    let sd = variance.max(0.0).sqrt();
    let (z, p) = if sd > 0.0 {
        let z = (u - mean - 0.5) / sd;
        (z, normal_sf(z))
    } else {
        (0.0, 1.0)
    };
    let pairs = u128::from(n1) * u128::from(n2);
    let shift = if pairs % 2 == 1 {
        kth_difference(a, b, pairs / 2 + 1)
    } else {
        (kth_difference(a, b, pairs / 2) + kth_difference(a, b, pairs / 2 + 1)) / 2.0
    };
    // The interval's ends are the c-th smallest and c-th largest
    // differences, c = pairs/2 - z(0.99) * sd.
    let c = ((pairs as f64 / 2.0 - Z_CRITICAL * sd).floor() as u128).max(1);
    let interval = (kth_difference(a, b, c), kth_difference(a, b, pairs + 1 - c));
    Some(RankTest {
        u,
        z,
        p,
        shift,
        interval,
    })
}

/// `p=0.0004`, or `p<0.0001` below what four decimals show.
fn p_text(p: f64) -> String {
    if p < 0.0001 {
        "p<0.0001".to_string()
    } else {
        format!("p={p:.4}")
    }
}

/// One metric compared with the stable version.
struct Compared {
    p: f64,
    /// The reason text when it fails.
    failure: Option<String>,
    /// What was compared, for the message when nothing fails.
    summary: String,
}

fn compare_rate(
    label: &str,
    short: &str,
    (x1, n1): (u64, u64),
    (x2, n2): (u64, u64),
    allowance_points: u64,
) -> Compared {
    let (r1, r2) = (rate(x1, n1), rate(x2, n2));
    let z = two_proportion_z(x1, n1, x2, n2);
    let p = z.map_or(1.0, normal_sf);
    // Higher by more than the allowance, compared exactly:
    // x1/n1 - x2/n2 > a/100  <=>  100 (x1 n2 - x2 n1) > a n1 n2.
    let lhs = 100 * (i128::from(x1) * i128::from(n2) - i128::from(x2) * i128::from(n1));
    let beyond = lhs > i128::from(allowance_points) * i128::from(n1) * i128::from(n2);
    let significant = z.is_some_and(|z| z > Z_CRITICAL);
    let points = (r1 - r2) * 100.0;
    let rates = format!("{:.1}% vs {:.1}%", r1 * 100.0, r2 * 100.0);
    Compared {
        p,
        failure: (significant && beyond).then(|| {
            format!(
                "{label} above stable: {rates} ({points:+.1} points, {})",
                p_text(p)
            )
        }),
        summary: format!("{short} {rates} ({})", p_text(p)),
    }
}

fn compare_cost(canary: &Histogram, stable: &Histogram) -> Option<Compared> {
    let test = mann_whitney(canary, stable)?;
    let (m1, m2) = (canary.mean(), stable.mean());
    let higher = if m2 > 0.0 {
        over_fraction((m1 - m2) / m2, COST_ALLOWANCE)
    } else {
        m1 > 0.0
    };
    let detail = format!(
        "mean {m1:.2} vs {m2:.2}, HL shift {:+.2} (98% interval {:+.2} to {:+.2}), {}",
        test.shift,
        test.interval.0,
        test.interval.1,
        p_text(test.p)
    );
    Some(Compared {
        p: test.p,
        failure: (test.p < ALPHA && higher)
            .then(|| format!("Cost per decision above stable: {detail}")),
        summary: format!("cost {detail}"),
    })
}

/// `vs_stable` and the reasons it adds to `failures`.
fn vs_stable_gate(m: &Metrics, min: u64) -> (Gate, Vec<String>) {
    let name = "vs_stable";
    let Some(stable) = &m.stable else {
        let g = Gate {
            name,
            state: GateState::Skipped,
            value: None,
            threshold: None,
            message: "No stable metrics: compared with the fixed thresholds only".to_string(),
        };
        return (g, Vec::new());
    };
    let c = &m.canary;
    let short: Vec<String> = [("canary", c), ("stable", stable)]
        .iter()
        .filter(|(_, side)| side.total_decisions < min)
        .map(|(label, side)| format!("{label} {} < {min}", side.total_decisions))
        .collect();
    if !short.is_empty() {
        let message = format!("Insufficient samples vs stable: {}", short.join(", "));
        let g = Gate {
            message: message.clone(),
            ..gate(name, GateState::Inconclusive, None, ALPHA)
        };
        return (g, vec![message]);
    }
    let (n1, n2) = (c.total_decisions, stable.total_decisions);
    let mut compared = vec![
        compare_rate(
            "Deny rate",
            "deny",
            (c.deny_count, n1),
            (stable.deny_count, n2),
            DENY_ALLOWANCE_POINTS,
        ),
        compare_rate(
            "Error rate",
            "error",
            (c.error_count, n1),
            (stable.error_count, n2),
            ERROR_ALLOWANCE_POINTS,
        ),
        compare_rate(
            "No-match rate",
            "no-match",
            (c.no_match_count, n1),
            (stable.no_match_count, n2),
            NO_MATCH_ALLOWANCE_POINTS,
        ),
    ];
    let mut left_out = None;
    match (&c.cost_histogram, &stable.cost_histogram) {
        (Some(h1), Some(h2)) => match compare_cost(h1, h2) {
            Some(cost) => compared.push(cost),
            None => left_out = Some("cost not compared (an empty histogram)"),
        },
        (None, None) => left_out = Some("cost not compared (no histograms)"),
        (None, Some(_)) => left_out = Some("cost not compared (no canary histogram)"),
        (Some(_), None) => left_out = Some("cost not compared (no stable histogram)"),
    }
    let value = compared.iter().map(|x| x.p).fold(1.0, f64::min);
    let failures: Vec<String> = compared.iter().filter_map(|x| x.failure.clone()).collect();
    let (state, message) = if failures.is_empty() {
        let mut parts: Vec<String> = compared.into_iter().map(|x| x.summary).collect();
        parts.extend(left_out.map(str::to_string));
        (
            GateState::Pass,
            format!(
                "No metric worse than stable beyond its allowance: {}",
                parts.join("; ")
            ),
        )
    } else {
        (GateState::Fail, failures.join("; "))
    };
    let g = Gate {
        message,
        ..gate(name, state, Some(value), ALPHA)
    };
    (g, failures)
}

/// Evaluates every gate (DESIGN §11.8), in the order `samples`,
/// `error_rate`, `deny_rate`, `cost_increase`, `vs_stable`; rates are
/// evaluated whenever there are decisions, even below the minimum.
pub fn check(m: &Metrics, config: &GateConfig) -> GateReport {
    let min = config.min_samples.max(1);
    let c = &m.canary;
    let mut gates = vec![
        samples_gate(c.total_decisions, min),
        rate_gate(
            "error_rate",
            "Error rate",
            c.error_count,
            c.total_decisions,
            MAX_ERROR_PERCENT,
        ),
        rate_gate(
            "deny_rate",
            "Deny rate",
            c.deny_count,
            c.total_decisions,
            MAX_DENY_PERCENT,
        ),
        cost_gate(m),
    ];
    let mut failures: Vec<String> = gates
        .iter()
        .filter(|g| matches!(g.state, GateState::Fail | GateState::Inconclusive))
        .map(|g| g.message.clone())
        .collect();
    let (vs, reasons) = vs_stable_gate(m, min);
    gates.push(vs);
    failures.extend(reasons);
    GateReport {
        passed: gates
            .iter()
            .all(|g| matches!(g.state, GateState::Pass | GateState::Skipped)),
        failures,
        gates,
    }
}

/// Why automatic rollback tripped: every threshold crossed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trip {
    pub reasons: Vec<String>,
}

/// Whether automatic rollback trips (DESIGN §7, §11.8): once the canary has
/// [`AUTO_ROLLBACK_MIN_DECISIONS`] decisions, when its error rate is over
/// 10%, its deny rate over 50%, its cost over +50% of the baseline (not
/// with a baseline of 0), or its no-match rate over 20%.
pub fn rollback_trip(m: &Metrics) -> Option<Trip> {
    let c = &m.canary;
    let total = c.total_decisions;
    if total < AUTO_ROLLBACK_MIN_DECISIONS {
        return None;
    }
    let mut reasons = Vec::new();
    for (label, n, limit) in [
        ("Error rate", c.error_count, TRIP_ERROR_PERCENT),
        ("Deny rate", c.deny_count, TRIP_DENY_PERCENT),
    ] {
        if over_percent(n, total, limit) {
            reasons.push(format!(
                "{label} {} > {}",
                percent(rate(n, total)),
                percent(limit as f64 / 100.0)
            ));
        }
    }
    if let Some(up) = increase(m.canary_avg_cost, m.baseline_avg_cost)
        .filter(|up| over_fraction(*up, TRIP_COST_INCREASE))
    {
        reasons.push(format!(
            "Cost increase {} > {}",
            percent(up),
            percent(TRIP_COST_INCREASE)
        ));
    }
    if over_percent(c.no_match_count, total, TRIP_NO_MATCH_PERCENT) {
        reasons.push(format!(
            "No-match rate {} > {}",
            percent(rate(c.no_match_count, total)),
            percent(TRIP_NO_MATCH_PERCENT as f64 / 100.0)
        ));
    }
    (!reasons.is_empty()).then_some(Trip { reasons })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four decimals down to 0.0001 itself; below it, `p<0.0001`.
    #[test]
    fn p_values_are_written_with_four_decimals() {
        assert_eq!(p_text(0.0001), "p=0.0001");
        assert_eq!(p_text(0.000_099_9), "p<0.0001");
        assert_eq!(p_text(0.012_34), "p=0.0123");
    }
}
