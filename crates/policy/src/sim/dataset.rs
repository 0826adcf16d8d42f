//! Simulation cases: the curated fixtures, and custom files as a JSON array,
//! JSON Lines or CSV; decision logs. A bad line is reported with its
//! number; nothing is silently dropped.
//!
//! This module opens no file. Line-oriented inputs are parsed a record at a
//! time, so the caller can stream a file of any size: JSON Lines a line at a
//! time ([`parse_case_line`], [`parse_logged_decision`]), CSV a row at a time
//! from any [`std::io::Read`] ([`CsvCases`], through the `csv` crate). A JSON
//! array is one document ([`parse_cases`]).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::Read;

use serde::Deserialize;

use crate::model::Effect;
use crate::validate::did_you_mean;
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
    /// The line of its file the case starts on, when known.
    pub line: Option<usize>,
    /// Whether the file named the case (`case_id` or `request_id`); when it
    /// did not, `case_id` is made up (`case-N`).
    pub id_given: bool,
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

/// The fields a case may have.
pub const CASE_FIELDS: &[&str] = &[
    "case_id",
    "agent",
    "action",
    "context",
    "timestamp",
    "subject",
    "request_id",
    "expected_effect",
    "expected_rule",
];

/// serde's message without its location (reported apart), an unknown field
/// with the nearest known one.
fn json_error(e: &serde_json::Error, line_offset: usize) -> DatasetError {
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message);
    DatasetError {
        line: Some(e.line() + line_offset),
        column: Some(e.column()),
        message: unknown_field(message).unwrap_or_else(|| message.to_string()),
    }
}

/// `unknown field `x`, expected one of …` as "did you mean" when a known
/// field is near.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (name, _) = rest.split_once("`, expected")?;
    Some(match did_you_mean(name, CASE_FIELDS) {
        Some(known) => format!("unknown field `{name}`; did you mean `{known}`?"),
        None => format!(
            "unknown field `{name}`; a case has {}, and free-form data goes in `context`",
            CASE_FIELDS
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// A case as read: its context decoded straight into the engine's value
/// (borrowing the text; a key given twice is refused, as in a request).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase<'a> {
    case_id: Option<String>,
    agent: String,
    action: String,
    #[serde(default, borrow, deserialize_with = "context")]
    context: Option<Value<'a>>,
    timestamp: Option<String>,
    subject: Option<String>,
    request_id: Option<String>,
    expected_effect: Option<String>,
    #[serde(default, deserialize_with = "present")]
    expected_rule: Option<Option<String>>,
    /// The context the quick reader built, already owned (then `context`
    /// is `None`).
    #[serde(skip)]
    owned_context: Option<Value<'static>>,
}

impl<'a> From<crate::request_json::CaseFields<'a, 'static>> for RawCase<'a> {
    /// The context is already owned: `into_case` then has nothing to copy.
    fn from(c: crate::request_json::CaseFields<'a, 'static>) -> Self {
        let owned = |s: Option<&str>| s.map(str::to_string);
        RawCase {
            case_id: owned(c.case_id),
            agent: c.agent.unwrap_or_default().to_string(),
            action: c.action.unwrap_or_default().to_string(),
            context: None,
            owned_context: c.context,
            timestamp: owned(c.timestamp),
            subject: owned(c.subject),
            request_id: owned(c.request_id),
            expected_effect: owned(c.expected_effect),
            expected_rule: c.expected_rule.map(owned),
        }
    }
}

fn context<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value<'de>>, D::Error> {
    match crate::value::deserialize_field(d, "context")? {
        Value::Null => Ok(None),
        v => Ok(Some(v)),
    }
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

impl RawCase<'_> {
    fn into_case(self, ordinal: usize, line: Option<usize>) -> Result<Case, String> {
        let context = match self.context {
            None => self
                .owned_context
                .unwrap_or_else(|| Value::Object(Vec::new())),
            Some(v @ Value::Object(_)) => v.into_owned(),
            Some(other) => {
                return Err(format!(
                    "`context` must be an object, found {}",
                    other.type_name()
                ));
            }
        };
        let id = self.case_id.or(self.request_id);
        Ok(Case {
            id_given: id.is_some(),
            case_id: id.unwrap_or_else(|| format!("case-{ordinal}")),
            agent: self.agent,
            action: self.action,
            context,
            timestamp: self.timestamp.as_deref().map(parse_timestamp).transpose()?,
            subject: self.subject,
            expected_effect: self.expected_effect.as_deref().map(effect).transpose()?,
            expected_rule: self.expected_rule,
            line,
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
    /// By extension (`.json`, `.jsonl`/`.ndjson`, `.csv`), else by the first
    /// character of `start` (the file's beginning is enough).
    pub fn detect(name: &str, start: &str) -> CaseFormat {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            CaseFormat::JsonLines
        } else if lower.ends_with(".json") {
            CaseFormat::JsonArray
        } else if lower.ends_with(".csv") {
            CaseFormat::Csv
        } else {
            match start
                .trim_start_matches('\u{feff}')
                .trim_start()
                .chars()
                .next()
            {
                Some('[') => CaseFormat::JsonArray,
                Some('{') => CaseFormat::JsonLines,
                _ => CaseFormat::Csv,
            }
        }
    }
}

/// Reads one line of a JSON Lines case file: `None` for a blank line.
/// `number` is the line's 1-based number, `ordinal` the case's (it names
/// a case without `case_id`: `case-N`).
pub fn parse_case_line(
    line: &str,
    number: usize,
    ordinal: usize,
) -> Result<Option<Case>, DatasetError> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let raw = match crate::request_json::read_case(line, &|s| Cow::Owned(s.to_string())) {
        Some(quick) => RawCase::from(quick),
        None => serde_json::from_str(line).map_err(|e| json_error(&e, number - 1))?,
    };
    raw.into_case(ordinal, Some(number))
        .map(Some)
        .map_err(|m| error(number, m))
}

/// A JSON Lines case as the simulator decides and reports it, its strings
/// borrowed from the line wherever the line holds them as they are (the
/// batch path: no copy of a case's strings, see [`parse_case_line_as_read`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseLine<'a> {
    pub case_id: Cow<'a, str>,
    pub agent: Cow<'a, str>,
    pub action: Cow<'a, str>,
    pub context: Value<'a>,
    pub timestamp: Option<jiff::Timestamp>,
    pub expected_effect: Option<Effect>,
    /// The rule that should decide (`Some(None)`: no rule should match).
    pub expected_rule: Option<Option<Cow<'a, str>>>,
    /// The line of its file.
    pub line: usize,
}

impl From<Case> for CaseLine<'static> {
    fn from(c: Case) -> Self {
        CaseLine {
            case_id: Cow::Owned(c.case_id),
            agent: Cow::Owned(c.agent),
            action: Cow::Owned(c.action),
            context: c.context,
            timestamp: c.timestamp,
            expected_effect: c.expected_effect,
            expected_rule: c.expected_rule.map(|r| r.map(Cow::Owned)),
            line: c.line.unwrap_or_default(),
        }
    }
}

/// [`parse_case_line`] without copying: the same case (as a [`CaseLine`];
/// `subject`, which no decision reads, left out) and the same errors, its
/// strings borrowed from `line` when the quick reader is sure of it.
pub fn parse_case_line_as_read(
    line: &str,
    number: usize,
    ordinal: usize,
) -> Result<Option<CaseLine<'_>>, DatasetError> {
    let Some(c) = crate::request_json::read_case(line, &Cow::Borrowed) else {
        return Ok(parse_case_line(line, number, ordinal)?.map(CaseLine::from));
    };
    let id = c.case_id.or(c.request_id);
    let fail = |m: String| error(number, m);
    Ok(Some(CaseLine {
        case_id: id.map_or_else(|| Cow::Owned(format!("case-{ordinal}")), Cow::Borrowed),
        agent: Cow::Borrowed(c.agent.unwrap_or_default()),
        action: Cow::Borrowed(c.action.unwrap_or_default()),
        context: c.context.unwrap_or_else(|| Value::Object(Vec::new())),
        timestamp: c.timestamp.map(parse_timestamp).transpose().map_err(fail)?,
        expected_effect: c.expected_effect.map(effect).transpose().map_err(fail)?,
        expected_rule: c.expected_rule.map(|r| r.map(Cow::Borrowed)),
        line: number,
    }))
}

/// Reads cases from a whole text (a JSON array must be read this way; JSON
/// Lines and CSV can be, when they are small).
pub fn parse_cases(text: &str, format: CaseFormat) -> Result<Vec<Case>, DatasetError> {
    match format {
        CaseFormat::JsonArray => {
            let raw: Vec<RawCase<'_>> =
                serde_json::from_str(text).map_err(|e| json_error(&e, 0))?;
            // Locate per-case problems by the case's position in the array.
            raw.into_iter()
                .enumerate()
                .map(|(i, r)| {
                    r.into_case(i + 1, None).map_err(|m| DatasetError {
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
                let line = if i == 0 {
                    line.trim_start_matches('\u{feff}')
                } else {
                    line
                };
                if let Some(case) = parse_case_line(line, i + 1, out.len() + 1)? {
                    out.push(case);
                }
            }
            Ok(out)
        }
        CaseFormat::Csv => CsvCases::new(text.as_bytes(), usize::MAX).collect(),
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

/// Columns that are fields of the case rather than of its context.
const CSV_SPECIAL: [&str; 7] = [
    "case_id",
    "agent",
    "action",
    "expected_effect",
    "expected_rule",
    "timestamp",
    "subject",
];

/// A reader that refuses to give more than `budget` bytes between two
/// resets: one CSV row may not hold more than that, so a hostile file
/// cannot grow a row without end.
#[derive(Debug)]
struct RowLimit<R> {
    inner: R,
    limit: usize,
    used: usize,
}

impl<R: Read> Read for RowLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.used >= self.limit {
            return Err(std::io::Error::other(RowTooLong));
        }
        let room = (self.limit - self.used).min(buf.len());
        let n = self.inner.read(buf.get_mut(..room).unwrap_or_default())?;
        self.used += n;
        Ok(n)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("row too long")]
struct RowTooLong;

/// Where each context column goes: a tree of names built from the header
/// once, so a row is laid out in time proportional to its width.
#[derive(Debug)]
enum Slot {
    Leaf(usize),
    Object(Tree),
}

/// One object of the slot tree: its entries in column order, and where
/// each nested object sits among them (found by name, so a header of many
/// dotted columns is placed in linear time, not by a scan per column).
#[derive(Debug, Default)]
struct Tree {
    entries: Vec<(String, Slot)>,
    objects: HashMap<String, usize>,
}

/// How many names a dotted CSV column may nest (`a.b.c` is 3): a request
/// context read from JSON cannot nest much deeper (readers stop at 128
/// levels), and the header is placed and each row laid out by recursion.
const MAX_COLUMN_DEPTH: usize = 64;

#[derive(Debug)]
struct Header {
    width: usize,
    agent: usize,
    action: usize,
    case_id: Option<usize>,
    expected_effect: Option<usize>,
    expected_rule: Option<usize>,
    timestamp: Option<usize>,
    subject: Option<usize>,
    /// Columns without a name (a trailing comma): their cells must be empty.
    unnamed: Vec<usize>,
    context: Tree,
}

/// The cases of a CSV file, a row at a time: a header with `agent` and
/// `action` (and optionally `case_id`, `expected_effect`, `expected_rule`,
/// `timestamp`, `subject`); every other column is a context field (dotted
/// names nest), numbers read as numbers, empty cells left out. A UTF-8 byte
/// order mark is dropped; duplicated columns, and a column that is also the
/// prefix of a dotted one (`customer`, `customer.tier`), are refused.
#[derive(Debug)]
pub struct CsvCases<R: Read> {
    reader: csv::Reader<RowLimit<R>>,
    header: Option<Header>,
    record: csv::StringRecord,
    ordinal: usize,
    done: bool,
}

impl<R: Read> CsvCases<R> {
    /// Reads `reader` as CSV, refusing a row over `max_row_bytes`.
    pub fn new(reader: R, max_row_bytes: usize) -> Self {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(RowLimit {
                inner: reader,
                limit: max_row_bytes,
                used: 0,
            });
        CsvCases {
            reader,
            header: None,
            record: csv::StringRecord::new(),
            ordinal: 0,
            done: false,
        }
    }

    /// The next row, with the line it starts on.
    fn row(&mut self) -> Result<Option<usize>, DatasetError> {
        // The budget counts from the end of the previous row (plus what the
        // parser had read ahead, at most its buffer).
        self.reader.get_mut().used = 0;
        match self.reader.read_record(&mut self.record) {
            Ok(true) => {
                Ok(Some(self.record.position().map_or(1, |p| {
                    usize::try_from(p.line()).unwrap_or(usize::MAX)
                })))
            }
            Ok(false) => Ok(None),
            Err(e) => Err(self.csv_error(&e)),
        }
    }

    fn csv_error(&self, e: &csv::Error) -> DatasetError {
        let line = e
            .position()
            .map(csv::Position::line)
            .unwrap_or_else(|| self.reader.position().line());
        let line = usize::try_from(line).unwrap_or(usize::MAX);
        match e.kind() {
            csv::ErrorKind::Io(io) if io.get_ref().is_some_and(|i| i.is::<RowTooLong>()) => error(
                line,
                format!(
                    "a CSV row is longer than {}, the limit for one row; put one case on each row",
                    bytes(self.reader.get_ref().limit)
                ),
            ),
            csv::ErrorKind::Utf8 { err, .. } => error(
                line,
                format!(
                    "column {} is not UTF-8 text (invalid byte at offset {})",
                    err.field() + 1,
                    err.valid_up_to()
                ),
            ),
            _ => error(line, format!("cannot read the CSV: {e}")),
        }
    }

    fn header(&mut self, line: usize) -> Result<Header, DatasetError> {
        let names: Vec<String> = self
            .record
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let n = if i == 0 {
                    n.trim_start_matches('\u{feff}')
                } else {
                    n
                };
                n.trim().to_string()
            })
            .collect();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut unnamed = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() {
                unnamed.push(i);
                continue;
            }
            if let Some(first) = seen.insert(name, i) {
                return Err(error(
                    line,
                    format!(
                        "columns {} and {} are both named `{name}`: a case would be decided on one value and reported with the other; rename or remove one",
                        first + 1,
                        i + 1
                    ),
                ));
            }
        }
        let col = |name: &str| seen.get(name).copied();
        let (Some(agent), Some(action)) = (col("agent"), col("action")) else {
            return Err(error(
                line,
                "the CSV header needs `agent` and `action` columns (and optionally `case_id`, `expected_effect`, `expected_rule`, `timestamp`, `subject`, then context fields)",
            ));
        };
        let context_names: HashSet<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| !n.is_empty() && !CSV_SPECIAL.contains(n))
            .collect();
        let mut context = Tree::default();
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() || CSV_SPECIAL.contains(&name.as_str()) {
                continue;
            }
            let depth = name.split('.').take(MAX_COLUMN_DEPTH + 1).count();
            if depth > MAX_COLUMN_DEPTH {
                return Err(error(
                    line,
                    format!(
                        "column {} nests more than {MAX_COLUMN_DEPTH} names (`a.b.c` nests 3); flatten the dotted name",
                        i + 1
                    ),
                ));
            }
            for (dot, _) in name.match_indices('.') {
                let prefix = name.get(..dot).unwrap_or_default();
                if context_names.contains(prefix) {
                    return Err(error(
                        line,
                        format!(
                            "columns `{prefix}` and `{name}` collide: `{prefix}` would be both a value and an object holding `{}`; rename one",
                            name.get(dot + 1..).unwrap_or_default()
                        ),
                    ));
                }
            }
            place(&mut context, name, i);
        }
        Ok(Header {
            width: names.len(),
            agent,
            action,
            case_id: col("case_id"),
            expected_effect: col("expected_effect"),
            expected_rule: col("expected_rule"),
            timestamp: col("timestamp"),
            subject: col("subject"),
            unnamed,
            context,
        })
    }

    fn case(&mut self, line: usize) -> Result<Case, DatasetError> {
        let record = &self.record;
        let Some(h) = &self.header else {
            return Err(error(line, "the CSV has no header"));
        };
        if record.len() != h.width {
            return Err(error(
                line,
                format!(
                    "{} cells where the header has {} columns",
                    record.len(),
                    h.width
                ),
            ));
        }
        let cell = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|c| !c.is_empty())
        };
        if let Some(i) = h.unnamed.iter().find(|&&i| cell(Some(i)).is_some()) {
            return Err(error(
                line,
                format!(
                    "column {} has a value but no name in the header; name the column",
                    i + 1
                ),
            ));
        }
        let agent = cell(Some(h.agent)).ok_or_else(|| error(line, "`agent` is empty"))?;
        let action = cell(Some(h.action)).ok_or_else(|| error(line, "`action` is empty"))?;
        self.ordinal += 1;
        let id = cell(h.case_id);
        Ok(Case {
            case_id: id.map_or_else(|| format!("case-{}", self.ordinal), str::to_string),
            id_given: id.is_some(),
            agent: agent.to_string(),
            action: action.to_string(),
            context: Value::Object(layout(&h.context, record)),
            timestamp: cell(h.timestamp)
                .map(parse_timestamp)
                .transpose()
                .map_err(|m| error(line, m))?,
            subject: cell(h.subject).map(str::to_string),
            expected_effect: cell(h.expected_effect)
                .map(effect)
                .transpose()
                .map_err(|m| error(line, m))?,
            expected_rule: cell(h.expected_rule).map(|r| Some(r.to_string())),
            line: Some(line),
        })
    }

    fn step(&mut self) -> Result<Option<Case>, DatasetError> {
        loop {
            let Some(line) = self.row()? else {
                return Ok(None);
            };
            // A line holding nothing but an empty cell is a blank line.
            if self.record.len() == 1 && self.record.get(0).is_some_and(str::is_empty) {
                continue;
            }
            if self.header.is_none() {
                self.header = Some(self.header(line)?);
                continue;
            }
            return self.case(line).map(Some);
        }
    }
}

impl<R: Read> Iterator for CsvCases<R> {
    type Item = Result<Case, DatasetError>;

    /// The next case; after an error, nothing more.
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.step();
        if !matches!(next, Ok(Some(_))) {
            self.done = true;
        }
        next.transpose()
    }
}

fn bytes(n: usize) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// Puts column `index` at the dotted `path` of the slot tree.
fn place(tree: &mut Tree, path: &str, index: usize) {
    match path.split_once('.') {
        None => tree.entries.push((path.to_string(), Slot::Leaf(index))),
        Some((first, rest)) => {
            let at = match tree.objects.get(first) {
                Some(&at) => at,
                None => {
                    tree.entries
                        .push((first.to_string(), Slot::Object(Tree::default())));
                    let at = tree.entries.len() - 1;
                    tree.objects.insert(first.to_string(), at);
                    at
                }
            };
            if let Some((_, Slot::Object(inner))) = tree.entries.get_mut(at) {
                place(inner, rest, index);
            }
        }
    }
}

/// A row's context: its non-empty cells where the tree puts them; an object
/// whose cells are all empty is left out.
fn layout(tree: &Tree, record: &csv::StringRecord) -> Vec<(Cow<'static, str>, Value<'static>)> {
    let mut out = Vec::new();
    for (name, slot) in &tree.entries {
        let value = match slot {
            Slot::Leaf(i) => {
                let cell = record.get(*i).map(str::trim).unwrap_or_default();
                if cell.is_empty() {
                    continue;
                }
                match cell.parse::<f64>() {
                    Ok(n) if n.is_finite() && !cell.starts_with('+') => Value::Number(n),
                    _ => Value::String(Cow::Owned(cell.to_string())),
                }
            }
            Slot::Object(inner) => {
                let inner = layout(inner, record);
                if inner.is_empty() {
                    continue;
                }
                Value::Object(inner)
            }
        };
        out.push((Cow::Owned(name.clone()), value));
    }
    out
}

/// A decision an agent served, as its decision log records it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedDecision {
    pub case: Case,
    pub served: Effect,
    pub served_rule: Option<String>,
}

/// Reads one line of a decision log (JSON Lines): `None` for a blank line.
/// A line is either `{request: {agent, action, context, timestamp?, …},
/// decision: {effect, rule_id}, …}` or a flat `{agent, action, context,
/// timestamp?, effect, rule_id?}`; other fields (digest, version,
/// request_id…) are kept out.
pub fn parse_logged_decision(
    line: &str,
    number: usize,
) -> Result<Option<LoggedDecision>, DatasetError> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let n = number;
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| json_error(&e, n - 1))?;
    let request = v.get("request").unwrap_or(&v);
    let decision = v.get("decision").unwrap_or(&v);
    let served = decision
        .get("effect")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| error(n, "no served `effect` (or `decision.effect`)"))?;
    let served = effect(served).map_err(|m| error(n, m.replace("expected_effect", "effect")))?;
    let text_of = |k: &str| {
        request
            .get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    };
    let top = |k: &str| v.get(k).and_then(|t| t.as_str()).map(str::to_string);
    let agent = text_of("agent").ok_or_else(|| error(n, "no `agent` in the logged request"))?;
    let action = text_of("action").ok_or_else(|| error(n, "no `action` in the logged request"))?;
    let context: Value<'static> = match request.get("context") {
        None => Value::Object(Vec::new()),
        Some(c @ serde_json::Value::Object(_)) => Value::from_json(c),
        Some(_) => return Err(error(n, "`context` must be an object")),
    };
    let timestamp = match text_of("timestamp").or_else(|| top("timestamp")) {
        Some(t) => Some(parse_timestamp(&t).map_err(|m| error(n, m))?),
        None => None,
    };
    let id = text_of("request_id").or_else(|| top("request_id"));
    Ok(Some(LoggedDecision {
        served_rule: decision
            .get("rule_id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
        served,
        case: Case {
            id_given: id.is_some(),
            case_id: id.unwrap_or_else(|| format!("line-{n}")),
            agent,
            action,
            context,
            timestamp,
            subject: text_of("subject"),
            expected_effect: None,
            expected_rule: None,
            line: Some(n),
        },
    }))
}

/// Reads a whole decision log (see [`parse_logged_decision`]).
pub fn parse_decision_log(text: &str) -> Result<Vec<LoggedDecision>, DatasetError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(d) = parse_logged_decision(line, i + 1)? {
            out.push(d);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A line as serde alone reads it (the quick reader skipped).
    fn by_serde(line: &str) -> Result<Option<Case>, DatasetError> {
        if line.trim().is_empty() {
            return Ok(None);
        }
        let raw: RawCase<'_> = serde_json::from_str(line).map_err(|e| json_error(&e, 0))?;
        raw.into_case(7, Some(1)).map(Some).map_err(|m| error(1, m))
    }

    #[track_caller]
    fn same_case(line: &str) {
        assert_eq!(
            parse_case_line(line, 1, 7),
            by_serde(line),
            "the quick reader differs from serde on {line}"
        );
        assert_eq!(
            parse_case_line_as_read(line, 1, 7),
            by_serde(line).map(|c| c.map(CaseLine::from)),
            "the borrowing reader differs from serde on {line}"
        );
    }

    #[test]
    fn case_lines_read_quickly_as_serde_reads_them() {
        for line in [
            r#"{"case_id":"c-1","agent":"a.b","action":"x","context":{"n":1,"s":"t","o":{"l":[1,"2",null,true]}}}"#,
            r#"{"agent":"a.b","action":"x"}"#,
            r#" { "agent" : "a.b" , "action" : "x" , "context" : null , "case_id" : null } "#,
            r#"{"agent":"a.b","action":"x","request_id":"r-9","subject":"u","timestamp":"2026-11-23T15:04:05Z"}"#,
            r#"{"agent":"a.b","action":"x","expected_effect":"deny","expected_rule":"r1"}"#,
            r#"{"agent":"a.b","action":"x","expected_rule":null}"#,
            r#"{"agent":"a.b","action":"x","expected_effect":null,"subject":null,"timestamp":null}"#,
        ] {
            assert!(
                crate::request_json::read_case(line, &Cow::Borrowed).is_some(),
                "not read quickly: {line}"
            );
            same_case(line);
        }
        // Refused, or left to serde: the same answer, the same words.
        for line in [
            r#"{"agent":"a.b","action":"x","context":[1]}"#,
            r#"{"agent":"a.b","action":"x","context":{"k":1,"k":2}}"#,
            r#"{"agent":"a.b","agent":"a.b","action":"x"}"#,
            r#"{"agent":"a.b","action":"x","case_id":"1","case_id":"2"}"#,
            r#"{"agent":"a.b","action":"x","expected_rule":"a","expected_rule":null}"#,
            r#"{"agent":"a.b","action":"x","contxt":{}}"#,
            r#"{"agent":"a.b"}"#,
            r#"{"action":"x"}"#,
            r#"{"agent":null,"action":"x"}"#,
            r#"{"agent":"a.b","action":"x","timestamp":"soon"}"#,
            r#"{"agent":"a.b","action":"x","expected_effect":"maybe"}"#,
            r#"{"agent":"a\u002eb","action":"x"}"#,
            r#"{"agent":"a.b","action":"x","case_id":7}"#,
            r#"{"agent":"a.b","action":"x"} trailing"#,
            r#"[{"agent":"a.b","action":"x"}]"#,
            "{",
            "   ",
        ] {
            same_case(line);
        }
    }

    fn text() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            "[a-z.]{0,6}".prop_map(serde_json::Value::from),
            any::<String>().prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
            any::<i32>().prop_map(serde_json::Value::from),
        ]
    }

    proptest! {
        /// Any mix of the case fields, with any values, reads the same.
        #[test]
        fn any_case_line_reads_as_serde_reads_it(
            fields in prop::collection::vec(
                (prop::sample::select(CASE_FIELDS.to_vec()), text()), 0..8),
            context in prop::collection::btree_map("[a-z]{1,3}", text(), 0..5),
            spaced in any::<bool>(),
        ) {
            let mut parts: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}:{v}", serde_json::json!(k)))
                .collect();
            parts.push(format!(r#""context":{}"#, serde_json::json!(context)));
            let sep = if spaced { " , " } else { "," };
            let line = format!("{{{}}}", parts.join(sep));
            prop_assert_eq!(parse_case_line(&line, 1, 7), by_serde(&line));
            prop_assert_eq!(
                parse_case_line_as_read(&line, 1, 7),
                by_serde(&line).map(|c| c.map(CaseLine::from))
            );
        }
    }

    /// Regression (found by the `dataset_csv` fuzz target): a dotted
    /// column nested a context object per dot, so `x....y` with 200,000
    /// dots overflowed the stack placing it (and at 130 the cases could not
    /// be written as JSON and read back); and a header of 100,000 dotted
    /// columns (`c1.a,c2.a,…`, 1 MiB) took over a minute, each column
    /// scanning every one before it.
    #[test]
    fn csv_headers_nest_boundedly_and_place_in_linear_time() {
        let deep = format!("agent,action,x{}y\na.b,c,1\n", ".".repeat(200_000));
        let e = parse_cases(&deep, CaseFormat::Csv).unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("nests more than 64"), "{e}");
        let most = format!("agent,action,{}\na.b,c,1\n", ["n"; 64].join("."));
        let cases = parse_cases(&most, CaseFormat::Csv).unwrap();
        let mut v = &cases[0].context;
        for _ in 0..64 {
            v = v.get("n").unwrap();
        }
        assert_eq!(v, &Value::Number(1.0));

        let n = 100_000;
        let columns: Vec<String> = (0..n).map(|i| format!("c{i}.a")).collect();
        let wide = format!(
            "agent,action,{}\na.b,c{}\n",
            columns.join(","),
            ",1".repeat(n)
        );
        let started = std::time::Instant::now();
        let cases = parse_cases(&wide, CaseFormat::Csv).unwrap();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            cases[0].context.get("c99999").and_then(|c| c.get("a")),
            Some(&Value::Number(1.0))
        );
    }

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
        // A context key given twice is refused, as in a decision request
        // (it was the last copy that counted).
        let jsonl = "{\"agent\":\"a.b\",\"action\":\"x\"}\n{\"agent\":\"a.b\",\"action\":\"x\",\"context\":{\"n\":1,\"n\":2}}\n";
        let e = parse_cases(jsonl, CaseFormat::JsonLines).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("duplicate key `n`"), "{e}");
        let e = parse_cases(
            "{\"agent\":\"a.b\",\"action\":\"x\",\"context\":[1]}",
            CaseFormat::JsonLines,
        )
        .unwrap_err();
        assert!(
            e.message.contains("`context` must be an object, found"),
            "{e}"
        );
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
