//! The typed reading of a scorecard (DESIGN §4, §11.12): every field the
//! evaluator or the decision log reads is checked for its type here, once,
//! so that a wrong-typed value is bad input naming its field instead of a
//! value the evaluator silently skips (which would fail open: a score of
//! `"0.1"` is not below any minimum).
//!
//! Fields the evaluator does not know are free-form and ignored, unless
//! their name is a near miss of a known one (`secuirty_status`): a typo must
//! not hide a veto.

use std::borrow::Cow;

use gavel_policy::doc::pointer_token;
use serde_json::{Map, Value};
use smallvec::SmallVec;

/// The top-level fields of a scorecard.
const FIELDS: [&str; 12] = [
    "workflow_id",
    "alignment_status",
    "alignment",
    "security_status",
    "security",
    "raroi",
    "confidence",
    "sandbox_roi",
    "adapter_roi",
    "scenario_scores",
    "forecast",
    "patch_summary",
];

const FORECAST_FIELDS: [&str; 4] = ["projections", "confidence", "collapse_risk", "dag_impact"];
const PROJECTION_FIELDS: [&str; 5] = ["cycle", "roi", "risk", "confidence", "decay"];
const STATUS_FIELDS: [&str; 1] = ["status"];

/// Why a scorecard cannot be evaluated. Every variant names the field by
/// its JSON pointer (RFC 6901) in the scorecard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScorecardError {
    #[error("a scorecard is a JSON object, found {found}")]
    NotAnObject { found: String },
    #[error("`{pointer}` must be {expected}, found {found}")]
    WrongType {
        pointer: String,
        expected: &'static str,
        found: String,
    },
    #[error("`{pointer}` is missing: {expected}")]
    Missing {
        pointer: String,
        expected: &'static str,
    },
    #[error(
        "`{flat}` says `{flat_value}` but `{nested}` says `{nested_value}`; give one status, or the same in both"
    )]
    ConflictingStatus {
        flat: String,
        flat_value: String,
        nested: String,
        nested_value: String,
    },
    #[error("unknown field `{pointer}`; did you mean `{suggestion}`?")]
    Misspelled {
        pointer: String,
        suggestion: &'static str,
    },
}

impl ScorecardError {
    /// The JSON pointer of the offending field (`""` for the whole card).
    pub fn pointer(&self) -> &str {
        match self {
            ScorecardError::NotAnObject { .. } => "",
            ScorecardError::WrongType { pointer, .. }
            | ScorecardError::Missing { pointer, .. }
            | ScorecardError::Misspelled { pointer, .. } => pointer,
            ScorecardError::ConflictingStatus { nested, .. } => nested,
        }
    }
}

/// A scorecard whose every field has the type DESIGN §4 gives it.
/// Borrowed from the JSON it was read from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scorecard<'c> {
    pub workflow_id: Option<&'c str>,
    /// `alignment_status`, else `alignment.status` (`true`/`false` read as
    /// `pass`/`fail`).
    pub alignment_status: Option<Cow<'c, str>>,
    pub security_status: Option<Cow<'c, str>>,
    pub raroi: Option<f64>,
    pub confidence: Option<f64>,
    pub sandbox_roi: Option<f64>,
    pub adapter_roi: Option<f64>,
    /// `None` without `scenario_scores`; the scores in key order otherwise.
    pub scenario_scores: Option<Scores<'c>>,
    pub forecast: Option<Forecast<'c>>,
    pub patch_summary: Option<&'c str>,
}

/// A scorecard's `forecast`, read for the foresight gate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Forecast<'c> {
    /// The `projections` list as given (each entry checked), for the output
    /// and the decision log.
    pub projections: Option<&'c Value>,
    /// The lowest projected ROI.
    pub min_roi: Option<f64>,
    pub confidence: Option<f64>,
    /// `collapse_risk` is `true`, `"Immediate collapse risk"` or `"brittle"`.
    pub collapse_risk: bool,
    /// The `dag_impact` value as given (a number or `{node: roi}`).
    pub dag_impact: Option<&'c Value>,
    /// Some downstream impact is below 0.
    pub negative_dag_impact: bool,
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

fn child(parent: &str, key: &str) -> String {
    format!("{parent}/{}", pointer_token(key))
}

fn wrong(pointer: String, expected: &'static str, v: &Value) -> ScorecardError {
    ScorecardError::WrongType {
        pointer,
        expected,
        found: describe(v),
    }
}

/// A number, or absent when `null`.
fn number(v: &Value, pointer: impl FnOnce() -> String) -> Result<Option<f64>, ScorecardError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_f64()),
        other => Err(wrong(pointer(), "a number", other)),
    }
}

fn string(v: &Value, pointer: impl FnOnce() -> String) -> Result<Option<&str>, ScorecardError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(wrong(pointer(), "a string", other)),
    }
}

fn status<'c>(
    v: &'c Value,
    pointer: impl FnOnce() -> String,
) -> Result<Option<Cow<'c, str>>, ScorecardError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(Cow::Borrowed(s))),
        Value::Bool(b) => Ok(Some(Cow::Borrowed(if *b { "pass" } else { "fail" }))),
        other => Err(wrong(
            pointer(),
            "a status string such as `pass` (or true/false)",
            other,
        )),
    }
}

/// A field the reader does not know: free-form, unless it is a near miss
/// of a known name.
fn unknown(parent: &str, key: &str, known: &[&'static str]) -> Result<(), ScorecardError> {
    match gavel_policy::did_you_mean(key, known) {
        Some(suggestion) => Err(ScorecardError::Misspelled {
            pointer: child(parent, key),
            suggestion,
        }),
        None => Ok(()),
    }
}

fn object<'c>(
    v: &'c Value,
    pointer: impl FnOnce() -> String,
    expected: &'static str,
) -> Result<Option<&'c Map<String, Value>>, ScorecardError> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) => Ok(Some(m)),
        other => Err(wrong(pointer(), expected, other)),
    }
}

/// `alignment: {status}` / `security: {status}`.
fn nested_status<'c>(v: &'c Value, key: &str) -> Result<Option<Cow<'c, str>>, ScorecardError> {
    let Some(m) = object(
        v,
        || child("", key),
        "an object such as `{\"status\": \"pass\"}`",
    )?
    else {
        return Ok(None);
    };
    let mut out = None;
    for (k, v) in m {
        if k == "status" {
            out = status(v, || format!("/{key}/status"))?;
        } else {
            unknown(&child("", key), k, &STATUS_FIELDS)?;
        }
    }
    Ok(out)
}

/// Both forms given: they must agree on whether the check passed.
fn merge<'c>(
    flat: Option<Cow<'c, str>>,
    nested: Option<Cow<'c, str>>,
    name: &str,
) -> Result<Option<Cow<'c, str>>, ScorecardError> {
    match (flat, nested) {
        (Some(f), Some(n)) if passes(&f) != passes(&n) => Err(ScorecardError::ConflictingStatus {
            flat: format!("/{name}_status"),
            flat_value: f.into_owned(),
            nested: format!("/{name}/status"),
            nested_value: n.into_owned(),
        }),
        (Some(f), _) => Ok(Some(f)),
        (None, n) => Ok(n),
    }
}

/// A status passes when it is `pass`, in any case.
pub(crate) fn passes(s: &str) -> bool {
    s.eq_ignore_ascii_case("pass")
}

/// Scenario scores by name, in key order.
pub type Scores<'c> = SmallVec<[(&'c str, f64); 8]>;

fn scenario_scores(v: &Value) -> Result<Option<Scores<'_>>, ScorecardError> {
    let Some(m) = object(
        v,
        || "/scenario_scores".to_string(),
        "an object of scenario names to numbers",
    )?
    else {
        return Ok(None);
    };
    let mut scores = SmallVec::new();
    for (name, s) in m {
        match s {
            Value::Number(n) => {
                if let Some(x) = n.as_f64() {
                    scores.push((name.as_str(), x));
                }
            }
            other => {
                return Err(wrong(child("/scenario_scores", name), "a number", other));
            }
        }
    }
    Ok(Some(scores))
}

fn forecast(v: &Value) -> Result<Option<Forecast<'_>>, ScorecardError> {
    let Some(m) = object(
        v,
        || "/forecast".to_string(),
        "an object `{projections, confidence, collapse_risk, dag_impact}`",
    )?
    else {
        return Ok(None);
    };
    let mut f = Forecast::default();
    for (k, v) in m {
        match k.as_str() {
            "projections" => {
                f.projections = Some(v).filter(|v| !v.is_null());
                f.min_roi = projections(v)?;
            }
            "confidence" => f.confidence = number(v, || "/forecast/confidence".into())?,
            "collapse_risk" => {
                f.collapse_risk = match v {
                    Value::Null => false,
                    Value::Bool(b) => *b,
                    Value::String(s) => {
                        s == "Immediate collapse risk" || s.eq_ignore_ascii_case("brittle")
                    }
                    other => {
                        return Err(wrong(
                            "/forecast/collapse_risk".into(),
                            "true, false or a string such as `brittle`",
                            other,
                        ));
                    }
                };
            }
            "dag_impact" => {
                f.dag_impact = Some(v).filter(|v| !v.is_null());
                f.negative_dag_impact = match v {
                    Value::Null => false,
                    Value::Number(n) => n.as_f64().is_some_and(|x| x < 0.0),
                    Value::Object(nodes) => {
                        let mut negative = false;
                        for (node, roi) in nodes {
                            let x = number(roi, || child("/forecast/dag_impact", node))?
                                .ok_or_else(|| {
                                    wrong(child("/forecast/dag_impact", node), "a number", roi)
                                })?;
                            negative |= x < 0.0;
                        }
                        negative
                    }
                    other => {
                        return Err(wrong(
                            "/forecast/dag_impact".into(),
                            "a number or an object of node names to numbers",
                            other,
                        ));
                    }
                };
            }
            _ => unknown("/forecast", k, &FORECAST_FIELDS)?,
        }
    }
    Ok(Some(f))
}

/// Checks each projection and returns the lowest ROI.
fn projections(v: &Value) -> Result<Option<f64>, ScorecardError> {
    let items = match v {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        other => {
            return Err(wrong(
                "/forecast/projections".into(),
                "a list of `{cycle, roi, risk, confidence, decay}` objects",
                other,
            ));
        }
    };
    let mut min: Option<f64> = None;
    for (i, p) in items.iter().enumerate() {
        let at = || format!("/forecast/projections/{i}");
        let Value::Object(m) = p else {
            return Err(wrong(
                at(),
                "an object `{cycle, roi, risk, confidence, decay}`",
                p,
            ));
        };
        let mut roi = None;
        for (k, v) in m {
            match k.as_str() {
                "roi" => roi = number(v, || format!("{}/roi", at()))?,
                "cycle" | "risk" | "confidence" | "decay" => {
                    number(v, || child(&at(), k))?;
                }
                _ => unknown(&at(), k, &PROJECTION_FIELDS)?,
            }
        }
        let roi = roi.ok_or_else(|| ScorecardError::Missing {
            pointer: format!("{}/roi", at()),
            expected: "every projection needs its `roi` (a number)",
        })?;
        min = Some(min.map_or(roi, |m| m.min(roi)));
    }
    Ok(min)
}

/// Which known fields a line gave, to refuse one given twice.
mod seen {
    pub const WORKFLOW_ID: u16 = 1;
    pub const ALIGNMENT_STATUS: u16 = 1 << 1;
    pub const SECURITY_STATUS: u16 = 1 << 2;
    pub const RAROI: u16 = 1 << 3;
    pub const CONFIDENCE: u16 = 1 << 4;
    pub const SANDBOX_ROI: u16 = 1 << 5;
    pub const ADAPTER_ROI: u16 = 1 << 6;
    pub const SCENARIO_SCORES: u16 = 1 << 7;
    pub const PATCH_SUMMARY: u16 = 1 << 8;
    pub const NESTED: u16 = 1 << 9;
}

/// The most scenario scores [`Scorecard::from_line`] reads itself.
const LINE_MAX_SCORES: usize = 64;

/// A number as `gavel_policy::parse_json_value` reads it (`None` for
/// `null` where `nullable`), or unsure.
struct Number {
    nullable: bool,
}

impl<'de> serde::de::DeserializeSeed<'de> for Number {
    type Value = Option<f64>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<f64>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Number {
    type Value = Option<f64>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a number")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<f64>, E> {
        if self.nullable {
            Ok(None)
        } else {
            Err(E::custom("null"))
        }
    }
    #[allow(clippy::cast_precision_loss)]
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Option<f64>, E> {
        if v.unsigned_abs() > gavel_policy::doc::MAX_SAFE_INTEGER.unsigned_abs() {
            return Err(E::custom("integer outside ±2^53"));
        }
        Ok(Some(v as f64))
    }
    #[allow(clippy::cast_precision_loss)]
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Option<f64>, E> {
        if v > gavel_policy::doc::MAX_SAFE_INTEGER.unsigned_abs() {
            return Err(E::custom("integer outside ±2^53"));
        }
        Ok(Some(v as f64))
    }
    #[allow(clippy::cast_precision_loss)]
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Option<f64>, E> {
        // As the JSON reader: an integral value past 2^53 and `-0` are
        // read with locations.
        let big = v.abs() >= gavel_policy::doc::MAX_SAFE_INTEGER as f64;
        if (big && v.fract() == 0.0) || (v == 0.0 && v.is_sign_negative()) || !v.is_finite() {
            return Err(E::custom("a number to read with locations"));
        }
        Ok(Some(v))
    }
}

/// A string without escapes (borrowed from the line), or `null`.
struct Text;

impl<'de> serde::de::DeserializeSeed<'de> for Text {
    type Value = Option<&'de str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Text {
    type Value = Option<&'de str>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
}

/// A status: a string without escapes, `true`/`false`, or `null`.
struct Status;

impl<'de> serde::de::DeserializeSeed<'de> for Status {
    type Value = Option<Cow<'de, str>>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Status {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a status")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(if v { "pass" } else { "fail" })))
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
}

/// `null` only (a nested status or a forecast given as `null`).
struct Null;

impl<'de> serde::de::DeserializeSeed<'de> for Null {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Null {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("null")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// `scenario_scores`: names without escapes to numbers, at most
/// [`LINE_MAX_SCORES`], in key order, no name twice; or `null`.
struct LineScores;

impl<'de> serde::de::DeserializeSeed<'de> for LineScores {
    type Value = Option<Scores<'de>>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for LineScores {
    type Value = Option<Scores<'de>>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scenario scores")
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut scores: Scores<'de> = SmallVec::new();
        while let Some(name) = map.next_key::<&'de str>()? {
            let score = map.next_value_seed(Number { nullable: false })?;
            if scores.len() == LINE_MAX_SCORES {
                return Err(serde::de::Error::custom("many scores"));
            }
            scores.extend(score.map(|s| (name, s)));
        }
        // Key order, as the JSON tree's map keeps them.
        scores.sort_unstable_by(|a, b| a.0.cmp(b.0));
        if scores
            .iter()
            .zip(scores.iter().skip(1))
            .any(|(a, b)| a.0 == b.0)
        {
            return Err(serde::de::Error::custom("a name given twice"));
        }
        Ok(Some(scores))
    }
}

/// The whole scorecard of a line.
struct Line;

impl<'de> serde::de::Visitor<'de> for Line {
    type Value = Scorecard<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a scorecard")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut s = Scorecard::default();
        let mut given = 0u16;
        while let Some(key) = map.next_key::<&'de str>()? {
            let bit = match key {
                "workflow_id" => {
                    s.workflow_id = map.next_value_seed(Text)?;
                    seen::WORKFLOW_ID
                }
                "alignment_status" => {
                    s.alignment_status = map.next_value_seed(Status)?;
                    seen::ALIGNMENT_STATUS
                }
                "security_status" => {
                    s.security_status = map.next_value_seed(Status)?;
                    seen::SECURITY_STATUS
                }
                "raroi" => {
                    s.raroi = map.next_value_seed(Number { nullable: true })?;
                    seen::RAROI
                }
                "confidence" => {
                    s.confidence = map.next_value_seed(Number { nullable: true })?;
                    seen::CONFIDENCE
                }
                "sandbox_roi" => {
                    s.sandbox_roi = map.next_value_seed(Number { nullable: true })?;
                    seen::SANDBOX_ROI
                }
                "adapter_roi" => {
                    s.adapter_roi = map.next_value_seed(Number { nullable: true })?;
                    seen::ADAPTER_ROI
                }
                "scenario_scores" => {
                    s.scenario_scores = map.next_value_seed(LineScores)?;
                    seen::SCENARIO_SCORES
                }
                "patch_summary" => {
                    s.patch_summary = map.next_value_seed(Text)?;
                    seen::PATCH_SUMMARY
                }
                // Given as `null`, these read as absent; anything else
                // (and any other field) is read with the JSON tree.
                "alignment" | "security" | "forecast" if given & seen::NESTED == 0 => {
                    map.next_value_seed(Null)?;
                    seen::NESTED
                }
                _ => return Err(serde::de::Error::custom("read with the JSON tree")),
            };
            if given & bit != 0 {
                return Err(serde::de::Error::custom("a field given twice"));
            }
            given |= bit;
        }
        Ok(s)
    }
}

impl<'c> Scorecard<'c> {
    /// Reads a scorecard of one JSON Lines line in one pass, without a
    /// JSON tree, when it is sure to read as [`Scorecard::from_json`]
    /// reads the tree `gavel_policy::parse_json_value` gives: the flat
    /// fields (strings without escapes, numbers within ±2^53), scenario
    /// scores, `null` for the nested ones. `None` for anything else (a
    /// nested status or forecast, an unknown field, an escape, a wrong
    /// type, a syntax error): the caller reads it the other way, which
    /// says what is wrong, if anything.
    pub fn from_line(line: &'c str) -> Option<Scorecard<'c>> {
        use serde::Deserializer as _;
        let line = line.strip_prefix('\u{feff}').unwrap_or(line);
        let mut de = serde_json::Deserializer::from_str(line);
        let card = (&mut de).deserialize_map(Line).ok()?;
        de.end().ok()?;
        Some(card)
    }
}

impl<'c> Scorecard<'c> {
    /// Reads a scorecard, checking every field's type (one pass over the
    /// object).
    pub fn from_json(card: &'c Value) -> Result<Scorecard<'c>, ScorecardError> {
        let Value::Object(map) = card else {
            return Err(ScorecardError::NotAnObject {
                found: describe(card),
            });
        };
        let mut s = Scorecard::default();
        let (mut alignment, mut alignment_nested) = (None, None);
        let (mut security, mut security_nested) = (None, None);
        for (k, v) in map {
            match k.as_str() {
                "workflow_id" => s.workflow_id = string(v, || "/workflow_id".into())?,
                "alignment_status" => alignment = status(v, || "/alignment_status".into())?,
                "alignment" => alignment_nested = nested_status(v, "alignment")?,
                "security_status" => security = status(v, || "/security_status".into())?,
                "security" => security_nested = nested_status(v, "security")?,
                "raroi" => s.raroi = number(v, || "/raroi".into())?,
                "confidence" => s.confidence = number(v, || "/confidence".into())?,
                "sandbox_roi" => s.sandbox_roi = number(v, || "/sandbox_roi".into())?,
                "adapter_roi" => s.adapter_roi = number(v, || "/adapter_roi".into())?,
                "scenario_scores" => s.scenario_scores = scenario_scores(v)?,
                "forecast" => s.forecast = forecast(v)?,
                "patch_summary" => s.patch_summary = string(v, || "/patch_summary".into())?,
                _ => unknown("", k, &FIELDS)?,
            }
        }
        s.alignment_status = merge(alignment, alignment_nested, "alignment")?;
        s.security_status = merge(security, security_nested, "security")?;
        Ok(s)
    }
}
