//! Simulation cases: the curated fixtures, and custom files as a JSON array,
//! JSON Lines or CSV. A bad line is reported with its number; nothing is
//! silently dropped.

use std::borrow::Cow;

use serde::Deserialize;

use crate::model::Effect;
use crate::value::{Value, parse_timestamp};

/// One simulation case: a request, and optionally what it should decide.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub case_id: String,
    pub agent: String,
    pub action: String,
    pub context: Value<'static>,
    pub timestamp: Option<jiff::Timestamp>,
    pub subject: Option<String>,
    pub expected_effect: Option<Effect>,
    /// The rule that should decide (`Some(None)`: no rule should match).
    pub expected_rule: Option<Option<String>>,
}

impl Case {
    /// The context as JSON, for reports.
    pub fn context_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.context).unwrap_or(serde_json::Value::Null)
    }
}

/// A case file that cannot be used, located by line (and column).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{message}", location(*.line, *.column))]
pub struct DatasetError {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: "),
        (Some(l), None) => format!("line {l}: "),
        _ => String::new(),
    }
}

fn error(line: usize, message: impl Into<String>) -> DatasetError {
    DatasetError {
        line: Some(line),
        column: None,
        message: message.into(),
    }
}

fn json_error(e: &serde_json::Error, line_offset: usize) -> DatasetError {
    let message = e.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    DatasetError {
        line: Some(e.line() + line_offset),
        column: Some(e.column()),
        message,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    case_id: Option<String>,
    agent: String,
    action: String,
    #[serde(default)]
    context: Option<serde_json::Value>,
    timestamp: Option<String>,
    subject: Option<String>,
    request_id: Option<String>,
    expected_effect: Option<String>,
    #[serde(default, deserialize_with = "present")]
    expected_rule: Option<Option<String>>,
}

/// Distinguishes `"expected_rule": null` (no rule) from a missing field.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn effect(text: &str) -> Result<Effect, String> {
    Effect::parse(text).ok_or_else(|| {
        format!("`expected_effect` `{text}` is not one of `allow`, `deny`, `needs_approval`")
    })
}

impl RawCase {
    fn into_case(self, n: usize) -> Result<Case, String> {
        let context = match self.context {
            None => Value::Object(Vec::new()),
            Some(v @ serde_json::Value::Object(_)) => Value::from_json(&v),
            Some(other) => {
                let found = Value::from_json(&other).type_name();
                return Err(format!("`context` must be an object, found {found}"));
            }
        };
        Ok(Case {
            case_id: self
                .case_id
                .or(self.request_id)
                .unwrap_or_else(|| format!("case-{n}")),
            agent: self.agent,
            action: self.action,
            context,
            timestamp: self.timestamp.as_deref().map(parse_timestamp).transpose()?,
            subject: self.subject,
            expected_effect: self.expected_effect.as_deref().map(effect).transpose()?,
            expected_rule: self.expected_rule,
        })
    }
}

/// The shape of a custom case file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseFormat {
    JsonArray,
    JsonLines,
    Csv,
}

impl CaseFormat {
    /// By extension (`.json`, `.jsonl`/`.ndjson`, `.csv`), else by content.
    pub fn detect(name: &str, text: &str) -> CaseFormat {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            CaseFormat::JsonLines
        } else if lower.ends_with(".json") {
            CaseFormat::JsonArray
        } else if lower.ends_with(".csv") {
            CaseFormat::Csv
        } else {
            match text.trim_start().chars().next() {
                Some('[') => CaseFormat::JsonArray,
                Some('{') => CaseFormat::JsonLines,
                _ => CaseFormat::Csv,
            }
        }
    }
}

/// Reads cases from a custom file's text.
pub fn parse_cases(text: &str, format: CaseFormat) -> Result<Vec<Case>, DatasetError> {
    match format {
        CaseFormat::JsonArray => {
            let raw: Vec<RawCase> = serde_json::from_str(text).map_err(|e| json_error(&e, 0))?;
            // Locate per-case problems by the case's position in the array.
            raw.into_iter()
                .enumerate()
                .map(|(i, r)| {
                    r.into_case(i + 1).map_err(|m| DatasetError {
                        line: None,
                        column: None,
                        message: format!("case {} of the array: {m}", i + 1),
                    })
                })
                .collect()
        }
        CaseFormat::JsonLines => {
            let mut out = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let raw: RawCase = serde_json::from_str(line).map_err(|e| json_error(&e, i))?;
                out.push(raw.into_case(out.len() + 1).map_err(|m| error(i + 1, m))?);
            }
            Ok(out)
        }
        CaseFormat::Csv => parse_csv(text),
    }
}

/// The nine curated cases shipped in `fixtures/sim/cases.json`.
pub fn fixture_cases() -> Vec<Case> {
    parse_cases(
        include_str!("../../../../fixtures/sim/cases.json"),
        CaseFormat::JsonArray,
    )
    .unwrap_or_default()
}

/// CSV: a header with `case_id, agent, action, expected_effect`; every other
/// column is a context field (dotted names nest), numbers read as numbers,
/// empty cells left out.
fn parse_csv(text: &str) -> Result<Vec<Case>, DatasetError> {
    let rows = csv_rows(text)?;
    let mut rows = rows
        .into_iter()
        .filter(|(_, cells)| !(cells.len() == 1 && cells.iter().all(|c| c.is_empty())));
    let Some((header_line, header)) = rows.next() else {
        return Ok(Vec::new());
    };
    let col = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(agent_col), Some(action_col)) = (col("agent"), col("action")) else {
        return Err(error(
            header_line,
            "the CSV header needs `agent` and `action` columns (and optionally `case_id`, `expected_effect`, `timestamp`, then context fields)",
        ));
    };
    let special = [
        "case_id",
        "agent",
        "action",
        "expected_effect",
        "expected_rule",
        "timestamp",
        "subject",
    ];
    let mut out = Vec::new();
    for (line, cells) in rows {
        if cells.len() != header.len() {
            return Err(error(
                line,
                format!(
                    "{} cells where the header has {} columns",
                    cells.len(),
                    header.len()
                ),
            ));
        }
        let cell = |i: Option<usize>| {
            i.and_then(|i| cells.get(i))
                .map(|c| c.trim())
                .filter(|c| !c.is_empty())
        };
        let mut context: Vec<(Cow<'static, str>, Value<'static>)> = Vec::new();
        for (name, value) in header.iter().zip(&cells) {
            let name = name.trim();
            let value = value.trim();
            if special.contains(&name) || value.is_empty() {
                continue;
            }
            let v = match value.parse::<f64>() {
                Ok(n) if n.is_finite() && !value.starts_with('+') => Value::Number(n),
                _ => Value::String(Cow::Owned(value.to_string())),
            };
            insert_path(&mut context, name, v);
        }
        let agent = cell(Some(agent_col)).ok_or_else(|| error(line, "`agent` is empty"))?;
        let action = cell(Some(action_col)).ok_or_else(|| error(line, "`action` is empty"))?;
        out.push(Case {
            case_id: cell(col("case_id"))
                .map_or_else(|| format!("case-{}", out.len() + 1), str::to_string),
            agent: agent.to_string(),
            action: action.to_string(),
            context: Value::Object(context),
            timestamp: cell(col("timestamp"))
                .map(parse_timestamp)
                .transpose()
                .map_err(|m| error(line, m))?,
            subject: cell(col("subject")).map(str::to_string),
            expected_effect: cell(col("expected_effect"))
                .map(effect)
                .transpose()
                .map_err(|m| error(line, m))?,
            expected_rule: cell(col("expected_rule")).map(|r| Some(r.to_string())),
        });
    }
    Ok(out)
}

fn insert_path(
    map: &mut Vec<(Cow<'static, str>, Value<'static>)>,
    path: &str,
    value: Value<'static>,
) {
    match path.split_once('.') {
        None => map.push((Cow::Owned(path.to_string()), value)),
        Some((first, rest)) => {
            let pos = match map.iter().position(|(k, _)| k == first) {
                Some(p) => p,
                None => {
                    map.push((Cow::Owned(first.to_string()), Value::Object(Vec::new())));
                    map.len() - 1
                }
            };
            if let Some((_, Value::Object(inner))) = map.get_mut(pos) {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// Splits CSV text (RFC 4180 quoting) into rows of cells, each with the
/// line it starts on.
fn csv_rows(text: &str) -> Result<Vec<(usize, Vec<String>)>, DatasetError> {
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut row_line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                cell.push(c);
            }
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => cells.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                cells.push(std::mem::take(&mut cell));
                rows.push((row_line, std::mem::take(&mut cells)));
                line += 1;
                row_line = line;
            }
            (false, c) => cell.push(c),
        }
    }
    if quoted {
        return Err(error(
            row_line,
            "a quoted cell is not closed: add the closing `\"`",
        ));
    }
    if !cell.is_empty() || !cells.is_empty() {
        cells.push(cell);
        rows.push((row_line, cells));
    }
    Ok(rows)
}

/// A decision an agent served, as its decision log records it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedDecision {
    pub case: Case,
    pub served: Effect,
    pub served_rule: Option<String>,
}

/// Reads a decision log (JSON Lines): each line is either
/// `{request: {agent, action, context, timestamp?, …}, decision: {effect,
/// rule_id}, …}` or a flat `{agent, action, context, timestamp?, effect,
/// rule_id?}`; other fields (digest, version, request_id…) are kept out.
pub fn parse_decision_log(text: &str) -> Result<Vec<LoggedDecision>, DatasetError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| json_error(&e, i))?;
        let request = v.get("request").unwrap_or(&v);
        let decision = v.get("decision").unwrap_or(&v);
        let served = decision
            .get("effect")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| error(n, "no served `effect` (or `decision.effect`)"))?;
        let served =
            effect(served).map_err(|m| error(n, m.replace("expected_effect", "effect")))?;
        let text_of = |k: &str| {
            request
                .get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        let agent = text_of("agent").ok_or_else(|| error(n, "no `agent` in the logged request"))?;
        let action =
            text_of("action").ok_or_else(|| error(n, "no `action` in the logged request"))?;
        let context: Value<'static> = match request.get("context") {
            None => Value::Object(Vec::new()),
            Some(c @ serde_json::Value::Object(_)) => Value::from_json(c),
            Some(_) => return Err(error(n, "`context` must be an object")),
        };
        let timestamp = match text_of("timestamp").or_else(|| {
            v.get("timestamp")
                .and_then(|t| t.as_str())
                .map(str::to_string)
        }) {
            Some(t) => Some(parse_timestamp(&t).map_err(|m| error(n, m))?),
            None => None,
        };
        let case_id = text_of("request_id")
            .or_else(|| {
                v.get("request_id")
                    .and_then(|t| t.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| format!("line-{n}"));
        out.push(LoggedDecision {
            served_rule: decision
                .get("rule_id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
            served,
            case: Case {
                case_id,
                agent,
                action,
                context,
                timestamp,
                subject: text_of("subject"),
                expected_effect: None,
                expected_rule: None,
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_nesting_and_numbers() {
        let text = "case_id,agent,action,expected_effect,risk_score,sender.domain,note\n\
                    c1,inbox.triage,quarantine,allow,95,evil.example,\"a, b\"\n\
                    c2,inbox.triage,quarantine,,12.5,,\"say \"\"hi\"\"\"\n";
        let cases = parse_cases(text, CaseFormat::Csv).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].expected_effect, Some(Effect::Allow));
        assert_eq!(
            cases[0].context.get("risk_score"),
            Some(&Value::Number(95.0))
        );
        assert_eq!(
            cases[0].context.get("sender").and_then(|s| s.get("domain")),
            Some(&Value::String("evil.example".into()))
        );
        assert_eq!(
            cases[0].context.get("note"),
            Some(&Value::String("a, b".into()))
        );
        assert_eq!(cases[1].expected_effect, None);
        assert!(cases[1].context.get("sender").is_none());
        assert_eq!(
            cases[1].context.get("note"),
            Some(&Value::String("say \"hi\"".into()))
        );
    }

    #[test]
    fn bad_lines_are_located() {
        let e = parse_cases(
            "case_id,agent,action\nc1,a.b,deploy\nc2,a.b\n",
            CaseFormat::Csv,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3));
        let e = parse_cases(
            "case_id,agent,action,expected_effect\nc1,a.b,deploy,maybe\n",
            CaseFormat::Csv,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("`maybe`"), "{e}");
        let jsonl =
            "{\"agent\":\"a.b\",\"action\":\"x\"}\n\n{\"agent\":\"a.b\",\"actoin\":\"x\"}\n";
        let e = parse_cases(jsonl, CaseFormat::JsonLines).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("unknown field `actoin`"), "{e}");
        let e = parse_cases(
            "[\n{\"agent\":\"a.b\",\"action\":\"x\"},\n{\"agent\": 3}\n]",
            CaseFormat::JsonArray,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3));
    }

    #[test]
    fn the_nine_fixtures_load() {
        let cases = fixture_cases();
        assert_eq!(cases.len(), 9);
        assert!(cases.iter().all(|c| c.expected_effect.is_some()));
    }

    #[test]
    fn decision_logs_in_both_shapes() {
        let log = "{\"request\":{\"agent\":\"a.b\",\"action\":\"x\",\"context\":{\"k\":1},\"request_id\":\"r1\"},\"decision\":{\"effect\":\"allow\",\"rule_id\":\"r\"},\"digest\":\"sha256:00\"}\n\
                   {\"agent\":\"a.b\",\"action\":\"y\",\"effect\":\"deny\"}\n";
        let d = parse_decision_log(log).unwrap();
        assert_eq!(d[0].case.case_id, "r1");
        assert_eq!(d[0].served_rule.as_deref(), Some("r"));
        assert_eq!(d[1].served, Effect::Deny);
        assert_eq!(d[1].case.case_id, "line-2");
        assert_eq!(
            parse_decision_log("{\"agent\":\"a.b\"}\n")
                .unwrap_err()
                .line,
            Some(1)
        );
    }
}
