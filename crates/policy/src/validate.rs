//! From text to a validated [`Bundle`]: parse, check against the JSON Schema
//! files in `schema/`, then the checks a schema cannot express (unique ids,
//! the action vocabulary, condition keys, regexes, time zones).
//!
//! Every problem is collected, located (line, column, JSON pointer) and
//! returned together, so one run shows everything to fix.

use std::sync::OnceLock;

use crate::doc::{Key, Location, Node, NodeValue, pointer_token};
use crate::error::{Diagnostic, LoadError, MAX_FILE_BYTES};
use crate::model::{
    ActionPattern, AgentPattern, Budget, Bundle, Condition, ConditionKey, Effect, Field, Metadata,
    Op, Operand, Pattern, Risk, Rule, STANDARD_ACTIONS, parse_condition_key,
};
use crate::value::Value;
use crate::{json, yaml};

/// The bundle schema (draft 7), as published for editors.
pub const BUNDLE_SCHEMA: &str = include_str!("../schema/bundle.schema.json");
/// The rule schema (draft 7), referenced by the bundle schema.
pub const RULE_SCHEMA: &str = include_str!("../schema/rule.schema.json");

const RULE_SCHEMA_ID: &str = "https://gavel.dev/schema/rule.schema.json";

/// The fields a rule may have, in the order Gavel writes them (also for
/// "did you mean" suggestions).
pub const RULE_FIELDS: [&str; 13] = [
    "id",
    "agent",
    "action",
    "effect",
    "conditions",
    "reason",
    "priority",
    "budget",
    "approvals_required",
    "enabled",
    "tags",
    "metadata",
    "description",
];

/// The largest compiled size of one `matches:` pattern.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The most memory all of a bundle's distinct `matches:` patterns may take
/// once compiled, with [`REGEX_RUNTIME_BYTES`] set aside for each one's
/// search cache: about a thousand typical patterns, or a few dozen large
/// ones such as `\w{20}` (about 1 MB each).
pub const REGEX_BUNDLE_BUDGET: usize = 64 << 20;

/// The lazy DFA cache of one pattern (per searching thread). Small, so that
/// a bundle's searches stay bounded; a pattern that needs more falls back to
/// slower engines instead of growing.
const REGEX_RUNTIME_BYTES: usize = 64 << 10;

/// The `matches:` patterns of one bundle: compiled once each, within
/// [`REGEX_BUNDLE_BUDGET`].
#[derive(Default)]
struct Patterns {
    compiled: std::collections::HashMap<String, Pattern>,
    used: usize,
}

impl Patterns {
    /// The compiled pattern, or why it cannot be used. A pattern that fails
    /// to compile costs its size limit, so a bundle of oversized patterns
    /// stops being compiled once the budget is spent.
    fn get(&mut self, source: &str) -> Result<Pattern, String> {
        if let Some(p) = self.compiled.get(source) {
            return Ok(p.clone());
        }
        if self.used >= REGEX_BUNDLE_BUDGET {
            return Err(format!(
                "the bundle's regular expressions need more than {} MiB compiled; \
                 use fewer distinct `matches:` patterns, or simpler ones",
                REGEX_BUNDLE_BUDGET >> 20
            ));
        }
        let config = regex_automata::meta::Config::new()
            .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
            .onepass_size_limit(Some(REGEX_SIZE_LIMIT))
            .dfa_size_limit(Some(REGEX_SIZE_LIMIT))
            .hybrid_cache_capacity(REGEX_RUNTIME_BYTES);
        match regex_automata::meta::Regex::builder()
            .configure(config)
            .build(source)
        {
            Ok(regex) => {
                self.used = self
                    .used
                    .saturating_add(regex.memory_usage() + REGEX_RUNTIME_BYTES);
                let p = Pattern::new(source, regex);
                self.compiled.insert(source.to_string(), p.clone());
                Ok(p)
            }
            Err(e) => {
                self.used = self.used.saturating_add(REGEX_SIZE_LIMIT);
                Err(match e.syntax_error() {
                    Some(syntax) => syntax
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                    None if e.size_limit().is_some() => format!(
                        "it compiles to more than {} MiB; simplify it (bounded repetitions of \
                         Unicode classes such as `\\w{{20}}` are large)",
                        REGEX_SIZE_LIMIT >> 20
                    ),
                    None => e.to_string(),
                })
            }
        }
    }
}

/// The syntax a text is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    /// Chooses by file name: `.json` is JSON, `.yaml`/`.yml` YAML; otherwise
    /// text that starts with `{` or `[` is read as JSON, anything else as YAML.
    pub fn detect(name: &str, text: &str) -> Format {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".json") || lower.ends_with(".jsonl") {
            Format::Json
        } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Format::Yaml
        } else if text.trim_start().starts_with(['{', '[']) {
            Format::Json
        } else {
            Format::Yaml
        }
    }
}

/// Parses a document (no validation) with the size and emptiness limits.
pub fn parse_document(text: &str, format: Format) -> Result<Node, LoadError> {
    let bytes = text.len() as u64;
    if bytes > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge { bytes });
    }
    if text.trim().is_empty() {
        return Err(LoadError::Empty);
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        Format::Json => json::parse(text).map_err(LoadError::Syntax),
        Format::Yaml => yaml::parse(text)
            .map_err(LoadError::Syntax)?
            .ok_or(LoadError::Empty),
    }
}

/// Parses and validates a bundle.
pub fn parse_bundle(text: &str, format: Format) -> Result<Bundle, LoadError> {
    Bundle::from_document(parse_document(text, format)?)
}

impl Bundle {
    /// Validates a parsed document and builds the bundle.
    pub fn from_document(document: Node) -> Result<Bundle, LoadError> {
        let (mut bundle, problems) = check_document(&document);
        if problems.is_empty() {
            bundle.document = document;
            return Ok(bundle);
        }
        let total = problems.len();
        let mut diags: Vec<Diagnostic> = problems.kept.into_iter().map(|p| p.diagnostic).collect();
        diags.sort_by_key(|d| (d.line, d.column));
        diags.dedup();
        let dropped = total - diags.len();
        if diags.len() > MAX_LISTED_PROBLEMS || dropped > 0 {
            diags.truncate(MAX_LISTED_PROBLEMS);
            let rest = total - diags.len();
            diags.push(Diagnostic {
                message: format!(
                    "and {rest} more problem{} not listed; fix these first, or see them all by check with `gavel lint`",
                    if rest == 1 { "" } else { "s" }
                ),
                pointer: None,
                line: None,
                column: None,
            });
        }
        Err(LoadError::Invalid(diags))
    }
}

/// The lint check a validation problem belongs to (DESIGN §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// A schema violation of a rule, or of the bundle around the rules.
    InvalidRule,
    MissingId,
    DuplicateId,
    MissingReason,
    InvalidConditions,
    UnknownAction,
}

impl Check {
    pub const COUNT: usize = 6;
    pub const ALL: [Check; Check::COUNT] = [
        Check::InvalidRule,
        Check::MissingId,
        Check::DuplicateId,
        Check::MissingReason,
        Check::InvalidConditions,
        Check::UnknownAction,
    ];
}

/// One validation problem, with the rule it concerns.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub check: Check,
    pub index: Option<usize>,
    pub diagnostic: Diagnostic,
    /// Other rules involved (the first use of a duplicated id).
    pub related: Vec<String>,
}

/// How many problems of one check are kept whole (message, location); past
/// it only the check and the rule are kept, so a 16 MiB file of broken rules
/// cannot fill memory with messages. No report lists more of one check
/// (`gavel lint --max-findings` stops at this), and validation lists far
/// fewer ([`MAX_LISTED_PROBLEMS`]).
pub const KEPT_PROBLEMS_PER_CHECK: usize = 10_000;

/// How many problems a failed validation lists; the rest are counted in one
/// last diagnostic. Fix the first ones and run again (`gavel lint` lists
/// them by check).
pub const MAX_LISTED_PROBLEMS: usize = 100;

/// The problems of one document: the first [`KEPT_PROBLEMS_PER_CHECK`] of
/// each check whole; past them only a count per check and the rules they
/// concern (once each), a few bytes a rule however many problems it has.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    pub kept: Vec<Problem>,
    /// Problems not kept whole, per check (in `Check` order).
    pub dropped: [usize; Check::COUNT],
    /// The rules of the problems not kept whole, each once, ascending
    /// where the problems came in rule order.
    pub dropped_rules: Vec<usize>,
    per_check: [usize; Check::COUNT],
}

impl Problems {
    fn push(&mut self, check: Check, index: Option<usize>, diagnostic: Diagnostic) {
        self.add(Problem {
            check,
            index,
            diagnostic,
            related: Vec::new(),
        });
    }

    fn add(&mut self, problem: Problem) {
        let n = self
            .per_check
            .get_mut(problem.check as usize)
            .map_or(usize::MAX, |n| {
                *n += 1;
                *n
            });
        if n <= KEPT_PROBLEMS_PER_CHECK {
            self.kept.push(problem);
            return;
        }
        if let Some(d) = self.dropped.get_mut(problem.check as usize) {
            *d += 1;
        }
        if let Some(i) = problem.index {
            // Problems of one rule come together: keep each rule once.
            if !self.dropped_rules.ends_with(&[i]) {
                self.dropped_rules.push(i);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        self.kept.len() + self.dropped.iter().sum::<usize>()
    }
}

/// Validates a document, returning the bundle as far as it can be built and
/// every problem found. The bundle is meaningful for the rules without
/// problems; its `document` is left empty (the caller owns the document).
pub(crate) fn check_document(document: &Node) -> (Bundle, Problems) {
    let mut problems = Problems::default();
    schema_problems(document, &mut problems);
    let bundle = build(document, &mut problems);
    (bundle, problems)
}

struct Schemas {
    document: jsonschema::Validator,
    rule: jsonschema::Validator,
}

fn schemas() -> Result<&'static Schemas, String> {
    static SCHEMAS: OnceLock<Result<Schemas, String>> = OnceLock::new();
    SCHEMAS
        .get_or_init(|| {
            let combined = combined_schema()?;
            let build = |def: &str| {
                let mut root = combined.clone();
                if let Some(obj) = root.as_object_mut() {
                    obj.insert(
                        "allOf".to_string(),
                        serde_json::json!([{ "$ref": format!("#/definitions/{def}") }]),
                    );
                }
                jsonschema::draft7::options()
                    .offline()
                    .build(&root)
                    .map_err(|e| e.to_string())
            };
            Ok(Schemas {
                document: build("document")?,
                rule: build("rule")?,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The bundle schema with the rule schema inlined as `#/definitions/rule`.
/// Validating through a cross-document `$ref` cost ~25 µs a rule; inlined,
/// under 1 µs.
fn combined_schema() -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    let parse = |s: &str| serde_json::from_str::<J>(s).map_err(|e| e.to_string());
    let mut bundle = parse(BUNDLE_SCHEMA)?;
    let mut rule = parse(RULE_SCHEMA)?;
    let rule_defs = rule
        .as_object_mut()
        .and_then(|o| {
            o.remove("$schema");
            o.remove("$id");
            o.remove("definitions")
        })
        .unwrap_or(J::Null);
    let defs = bundle
        .get_mut("definitions")
        .and_then(J::as_object_mut)
        .ok_or("the bundle schema has no definitions")?;
    if let J::Object(extra) = rule_defs {
        defs.extend(extra);
    }
    defs.insert("rule".to_string(), rule);
    let text = bundle.to_string().replace(
        &format!(
            "\"$ref\":\"{}\"",
            RULE_SCHEMA_ID.rsplit('/').next().unwrap_or_default()
        ),
        "\"$ref\":\"#/definitions/rule\"",
    );
    let mut combined = parse(&text)?;
    if let Some(o) = combined.as_object_mut() {
        o.remove("oneOf");
        o.remove("$id");
    }
    Ok(combined)
}

/// Runs the JSON Schema over the document and locates each error.
fn schema_problems(document: &Node, out: &mut Problems) {
    let problem = |check, index, diagnostic| Problem {
        check,
        index,
        diagnostic,
        related: Vec::new(),
    };
    let schemas = match schemas() {
        Ok(s) => s,
        Err(e) => {
            out.add(problem(
                Check::InvalidRule,
                None,
                Diagnostic::at(
                    document.location,
                    format!("internal error: the bundle schema does not compile: {e}"),
                ),
            ));
            return;
        }
    };
    // Rules are validated one at a time: each converted value is dropped
    // before the next is built, which keeps a 10,000-rule bundle's
    // validation from being dominated by allocating and freeing one big tree.
    let mut run =
        |validator: &jsonschema::Validator, instance: &serde_json::Value, prefix: &str| {
            if validator.is_valid(instance) {
                return;
            }
            for e in validator.iter_errors(instance) {
                let pointer = format!("{prefix}{}", e.instance_path().as_str());
                let (check, index) = classify(&pointer, e.kind());
                for d in describe_schema_error(document, &pointer, &e) {
                    out.add(problem(check, index, d));
                }
            }
        };
    let rules = match &document.value {
        NodeValue::Seq(items) => Some((items.as_slice(), "")),
        NodeValue::Map(entries) => {
            let rules = document.get("rules");
            let shell: serde_json::Map<String, serde_json::Value> = entries
                .iter()
                .map(|(k, v)| match (&v.value, k.name.as_str()) {
                    (NodeValue::Seq(_), "rules") => {
                        (k.name.clone(), serde_json::Value::Array(Vec::new()))
                    }
                    _ => (k.name.clone(), v.to_json()),
                })
                .collect();
            run(&schemas.document, &serde_json::Value::Object(shell), "");
            rules.and_then(Node::as_seq).map(|items| (items, "/rules"))
        }
        _ => {
            out.add(problem(
                Check::InvalidRule,
                None,
                Diagnostic::at(
                    document.location,
                    format!(
                        "expected a bundle (an object with `rules`) or a list of rules, found {}",
                        document.type_name()
                    ),
                )
                .with_pointer(""),
            ));
            return;
        }
    };
    if let Some((items, prefix)) = rules {
        for (i, item) in items.iter().enumerate() {
            run(&schemas.rule, &item.to_json(), &format!("{prefix}/{i}"));
        }
    }
}

/// Which check a schema error at `pointer` belongs to, and which rule.
fn classify(
    pointer: &str,
    kind: &jsonschema::error::ValidationErrorKind,
) -> (Check, Option<usize>) {
    use jsonschema::error::ValidationErrorKind as K;
    let in_rules = pointer.strip_prefix("/rules").unwrap_or(pointer);
    let Some(rest) = in_rules.strip_prefix('/') else {
        return (Check::InvalidRule, None);
    };
    let (index, field) = rest.split_once('/').map_or((rest, ""), |(i, f)| (i, f));
    let Ok(index) = index.parse::<usize>() else {
        return (Check::InvalidRule, None);
    };
    let check = match (field, kind) {
        ("", K::Required { property }) if property.as_str() == Some("id") => Check::MissingId,
        ("", K::Required { property }) if property.as_str() == Some("reason") => {
            Check::MissingReason
        }
        ("reason", K::MinLength { .. }) => Check::MissingReason,
        (f, _) if f == "conditions" || f.starts_with("conditions/") => Check::InvalidConditions,
        _ => Check::InvalidRule,
    };
    (check, Some(index))
}

/// How many unknown field names of one mapping get a "did you mean".
const SUGGESTED_NAMES: usize = 1_000;

fn describe_schema_error(
    document: &Node,
    pointer: &str,
    e: &jsonschema::ValidationError<'_>,
) -> Vec<Diagnostic> {
    use jsonschema::error::{TypeKind, ValidationErrorKind as K};
    let pointer = pointer.to_string();
    let field = last_field(&pointer);
    let node = document.pointer(&pointer);
    let located = |message: String, pointer: String| {
        Diagnostic::at(document.locate(&pointer), message).with_pointer(pointer)
    };
    let message = match e.kind() {
        K::AdditionalProperties { unexpected } => {
            let in_rule = is_rule_pointer(&pointer);
            // Each name's key, found through one index: a lookup per name
            // made a mapping of 40,000 unknown keys take seconds (n²).
            let keys: std::collections::HashMap<&str, Location> = node
                .and_then(Node::as_map)
                .into_iter()
                .flatten()
                .map(|(k, _)| (k.name.as_str(), k.location))
                .collect();
            return unexpected
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let p = format!("{pointer}/{}", pointer_token(name));
                    let key_loc = keys
                        .get(name.as_str())
                        .copied()
                        .unwrap_or_else(|| document.locate(&pointer));
                    let mut m = format!("unknown field `{name}`");
                    let known: &[&str] = if in_rule {
                        &RULE_FIELDS[..12]
                    } else if pointer.ends_with("/budget") {
                        &["cost", "compute", "risk"]
                    } else if pointer == "/metadata" {
                        &[
                            "name",
                            "version",
                            "notes",
                            "description",
                            "owner",
                            "default_effect",
                            "actions",
                            "timezone",
                            "labels",
                        ]
                    } else {
                        &["apiVersion", "kind", "metadata", "rules"]
                    };
                    // Suggestions for the first names only: past the
                    // problems an error lists, nobody reads them.
                    let suggestion = if i < SUGGESTED_NAMES {
                        did_you_mean(name, known)
                    } else {
                        None
                    };
                    if let Some(s) = suggestion {
                        m.push_str(&format!("; did you mean `{s}`?"));
                    } else if in_rule {
                        m.push_str("; free-form data goes in the rule's `metadata`");
                    }
                    Diagnostic::at(key_loc, m).with_pointer(p)
                })
                .collect();
        }
        K::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let what = if is_rule_pointer(&pointer) {
                "rule"
            } else {
                "object"
            };
            format!("{what} is missing required field `{name}`")
        }
        K::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => type_word(&format!("{t:?}")),
                TypeKind::Multiple(ts) => ts
                    .into_iter()
                    .map(|t| type_word(&format!("{t:?}")))
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            let found = node.map(describe_value).unwrap_or_default();
            if pointer.contains("/conditions/") {
                format!("condition `{field}` needs {expected} operand, found {found}")
            } else {
                format!("`{field}` must be {expected}, found {found}")
            }
        }
        K::Pattern { pattern } => {
            let found = node.map(describe_value).unwrap_or_default();
            match (field.as_str(), is_rule_pointer(parent(&pointer))) {
                ("id", true) => format!(
                    "rule id {found} must be 3-64 characters of lowercase letters, digits, `_` or `-`"
                ),
                ("agent", true) => {
                    format!("agent {found} must look like `inbox.triage`, `inbox.*` or `*`")
                }
                ("version", _) => format!(
                    "version {found} is not a semantic version MAJOR.MINOR.PATCH such as `1.4.0`"
                ),
                _ => format!("`{field}` {found} does not match `{pattern}`"),
            }
        }
        K::Enum { options } => {
            let found = node.map(describe_value).unwrap_or_default();
            let opts = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|o| format!("`{}`", o.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            format!("`{field}` must be one of {opts}, found {found}")
        }
        K::Constant { expected_value } => {
            let found = node.map(describe_value).unwrap_or_default();
            format!(
                "`{field}` must be `{}`, found {found}",
                expected_value.as_str().unwrap_or_default()
            )
        }
        _ => format!("`{field}`: {e}"),
    };
    vec![located(message, pointer)]
}

fn type_word(t: &str) -> String {
    match t.to_ascii_lowercase().as_str() {
        "array" => "a list".to_string(),
        "object" => "an object".to_string(),
        "integer" => "an integer".to_string(),
        "number" => "a number".to_string(),
        "string" => "a string".to_string(),
        "boolean" => "a boolean".to_string(),
        "null" => "null".to_string(),
        other => other.to_string(),
    }
}

fn describe_value(node: &Node) -> String {
    match &node.value {
        NodeValue::String(s) => format!("string `{s}`"),
        NodeValue::Int(i) => format!("number `{i}`"),
        NodeValue::Float(f) => format!("number `{f}`"),
        NodeValue::Bool(b) => format!("boolean `{b}`"),
        NodeValue::Null => "null".to_string(),
        NodeValue::Seq(_) => "a list".to_string(),
        NodeValue::Map(_) => "an object".to_string(),
    }
}

fn last_field(pointer: &str) -> String {
    pointer
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .replace("~1", "/")
        .replace("~0", "~")
}

fn parent(pointer: &str) -> &str {
    pointer.rsplit_once('/').map_or("", |(p, _)| p)
}

/// `/rules/3` or `/3` (a bare list).
fn is_rule_pointer(pointer: &str) -> bool {
    let p = pointer.strip_prefix("/rules").unwrap_or(pointer);
    p.strip_prefix('/')
        .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
}

/// The known name closest to `name`, when it is close enough to be a typo.
pub fn did_you_mean<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (levenshtein(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let diagonal = prev.get(j).copied().unwrap_or(usize::MAX) + usize::from(ca != *cb);
            let above = prev.get(j + 1).copied().unwrap_or(usize::MAX - 1) + 1;
            let left = cur.last().copied().unwrap_or(usize::MAX - 1) + 1;
            cur.push(diagonal.min(above).min(left));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// Builds the bundle, adding the problems only code can find. The result is
/// meaningful only when no diagnostics were produced.
fn build(document: &Node, diags: &mut Problems) -> Bundle {
    let (bare_list, rules_node, rules_pointer) = match &document.value {
        NodeValue::Seq(_) => (true, Some(document), String::new()),
        _ => (false, document.get("rules"), "/rules".to_string()),
    };
    let metadata = document
        .get("metadata")
        .map(|m| metadata(m, diags))
        .unwrap_or_default();
    let timezone = match &metadata.timezone {
        None => jiff::tz::TimeZone::UTC,
        Some(name) => match jiff::tz::TimeZone::get(name) {
            Ok(tz) => tz,
            Err(_) => {
                let loc = document.locate("/metadata/timezone");
                diags.push(
                    Check::InvalidRule,
                    None,
                    Diagnostic::at(
                        loc,
                        format!("unknown time zone `{name}`; use an IANA name such as `Europe/Berlin` or `UTC`"),
                    )
                    .with_pointer("/metadata/timezone"),
                );
                jiff::tz::TimeZone::UTC
            }
        },
    };
    let mut rules: Vec<Rule> = Vec::new();
    let mut patterns = Patterns::default();
    let mut first_use: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (index, node) in rules_node
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let pointer = format!("{rules_pointer}/{index}");
        if let Some(rule) = rule(node, index, &pointer, &metadata, diags, &mut patterns) {
            let first = match first_use.get(&rule.id) {
                // A rule without an id is `missing-id`, not a duplicate.
                _ if rule.id.is_empty() => None,
                Some(&pos) => rules.get(pos),
                None => {
                    first_use.insert(rule.id.clone(), rules.len());
                    None
                }
            };
            if let Some(first) = first {
                let loc = node.get("id").map_or(node.location, |n| n.location);
                diags.add(Problem {
                    check: Check::DuplicateId,
                    index: Some(index),
                    diagnostic: Diagnostic::at(
                        loc,
                        format!(
                            "duplicate rule id `{}` (first used by rule {} at line {}); ids must be unique",
                            rule.id, first.index, first.location.line
                        ),
                    )
                    .with_pointer(format!("{pointer}/id")),
                    related: vec![first.id.clone()],
                });
            }
            rules.push(rule);
        }
    }
    Bundle {
        metadata,
        rules,
        bare_list,
        document: Node::new(NodeValue::Null, Location::default()),
        timezone,
    }
}

fn metadata(node: &Node, diags: &mut Problems) -> Metadata {
    let text = |k: &str| node.get(k).and_then(Node::as_str).map(str::to_string);
    let actions: Vec<String> = node
        .get("actions")
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect();
    for (i, a) in actions.iter().enumerate() {
        if STANDARD_ACTIONS.contains(&a.as_str()) {
            let p = format!("/metadata/actions/{i}");
            let loc = node
                .get("actions")
                .and_then(Node::as_seq)
                .and_then(|s| s.get(i))
                .map_or(node.location, |n| n.location);
            diags.push(
                Check::InvalidRule,
                None,
                Diagnostic::at(
                    loc,
                    format!("action `{a}` is already standard; remove it from `metadata.actions`"),
                )
                .with_pointer(p),
            );
        }
    }
    Metadata {
        name: text("name"),
        version: text("version"),
        notes: text("notes"),
        default_effect: node
            .get("default_effect")
            .and_then(Node::as_str)
            .and_then(Effect::parse)
            .unwrap_or_default(),
        actions,
        timezone: text("timezone"),
    }
}

fn rule(
    node: &Node,
    index: usize,
    pointer: &str,
    metadata: &Metadata,
    diags: &mut Problems,
    patterns: &mut Patterns,
) -> Option<Rule> {
    // Shape problems were reported by the schema; build what can be built
    // so that the code-only checks still run on the rest.
    node.as_map()?;
    let text = |k: &str| node.get(k).and_then(Node::as_str);
    let action = text("action").unwrap_or_default();
    if !action.is_empty()
        && action != "*"
        && !STANDARD_ACTIONS.contains(&action)
        && !metadata.actions.iter().any(|a| a == action)
    {
        let mut m = format!("unknown action `{action}`");
        if let Some(s) = did_you_mean(action, &STANDARD_ACTIONS) {
            m.push_str(&format!("; did you mean `{s}`?"));
        }
        m.push_str(" (declare extra actions in `metadata.actions`)");
        diags.push(
            Check::UnknownAction,
            Some(index),
            Diagnostic::at(node.get("action").map_or(node.location, |n| n.location), m)
                .with_pointer(format!("{pointer}/action")),
        );
    }
    if let Some(reason) = node.get("reason").filter(|r| {
        r.as_str()
            .is_some_and(|s| !s.is_empty() && s.trim().is_empty())
    }) {
        diags.push(
            Check::MissingReason,
            Some(index),
            Diagnostic::at(
                reason.location,
                "`reason` is blank; say why the rule exists",
            )
            .with_pointer(format!("{pointer}/reason")),
        );
    }
    let conditions = match node.get("conditions").and_then(Node::as_map) {
        Some(entries) => entries
            .iter()
            .filter_map(|(k, v)| condition(k, v, index, pointer, diags, patterns))
            .collect(),
        None => Vec::new(),
    };
    let budget = node.get("budget").map(|b| Budget {
        cost: b.get("cost").and_then(Node::as_f64),
        compute: b.get("compute").and_then(|c| match c.value {
            NodeValue::Int(i) => u64::try_from(i).ok(),
            _ => None,
        }),
        risk: match b.get("risk").and_then(Node::as_str) {
            Some("low") => Some(Risk::Low),
            Some("medium") => Some(Risk::Medium),
            Some("high") => Some(Risk::High),
            _ => None,
        },
    });
    let int = |k: &str| match node.get(k).map(|n| &n.value) {
        Some(NodeValue::Int(i)) => Some(*i),
        _ => None,
    };
    Some(Rule {
        id: text("id").unwrap_or_default().to_string(),
        agent: AgentPattern::parse(text("agent").unwrap_or_default()),
        action: ActionPattern::parse(action),
        effect: text("effect").and_then(Effect::parse).unwrap_or_default(),
        conditions,
        reason: text("reason").unwrap_or_default().to_string(),
        priority: int("priority")
            .and_then(|p| u8::try_from(p).ok())
            .unwrap_or(50),
        budget,
        approvals_required: int("approvals_required")
            .and_then(|a| u32::try_from(a).ok())
            .unwrap_or(1),
        enabled: !matches!(
            node.get("enabled").map(|n| &n.value),
            Some(NodeValue::Bool(false))
        ),
        tags: node
            .get("tags")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect(),
        index,
        location: node.location,
    })
}

fn condition(
    key: &Key,
    value: &Node,
    index: usize,
    pointer: &str,
    diags: &mut Problems,
    patterns: &mut Patterns,
) -> Option<Condition> {
    let mut fail = |loc: Location, m: String| {
        let pointer = format!("{pointer}/conditions/{}", pointer_token(&key.name));
        diags.push(
            Check::InvalidConditions,
            Some(index),
            Diagnostic::at(loc, m).with_pointer(pointer),
        );
        None
    };
    let (op, field, well_formed) = match parse_condition_key(&key.name) {
        ConditionKey::Valid(op, field) => (op, field, true),
        ConditionKey::Plain(name) => (Op::Eq, Field::Path(vec![name]), false),
        ConditionKey::UnknownWord(word) => {
            return fail(
                key.location,
                format!(
                    "unknown operator `{word}:` in condition `{}`; use `in:`, `not_in:`, `contains:`, `matches:` or `exists:`",
                    key.name
                ),
            );
        }
        ConditionKey::BadPath(_, path) => {
            return fail(
                key.location,
                format!(
                    "invalid field path `{path}` in condition `{}`; a path is names of letters, digits, `_`, `$` or `-` joined by `.`",
                    key.name
                ),
            );
        }
    };
    let operand = match op {
        Op::Ge | Op::Le | Op::Gt | Op::Lt => match value.as_f64() {
            Some(n) => Operand::Number(n),
            None => return None, // the schema reported the operand type
        },
        Op::In | Op::NotIn => match value.as_seq() {
            Some(items) => Operand::List(items.iter().map(Value::from_node).collect()),
            None => return None,
        },
        Op::Exists => match value.value {
            NodeValue::Bool(b) => Operand::Exists(b),
            _ => return None,
        },
        Op::Matches => {
            let pattern = value.as_str()?;
            match patterns.get(pattern) {
                Ok(re) => Operand::Regex(re),
                Err(detail) => {
                    return fail(
                        value.location,
                        format!(
                            "invalid regular expression `{pattern}` in condition `{}`: {detail}",
                            key.name
                        ),
                    );
                }
            }
        }
        Op::Eq | Op::Ne | Op::Contains => Operand::Value(Value::from_node(value)),
    };
    Some(Condition {
        key: key.name.clone(),
        op,
        field,
        operand,
        well_formed,
        location: key.location,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(text: &str) -> Vec<Diagnostic> {
        match parse_bundle(text, Format::Yaml) {
            Ok(_) => panic!("expected {text:?} to be invalid"),
            Err(LoadError::Invalid(d)) => d,
            Err(e) => panic!("expected validation errors, got {e}"),
        }
    }

    const RULE: &str = "id: abc\n    agent: inbox.triage\n    action: quarantine\n    effect: allow\n    reason: A good reason here\n";

    fn regex_rules(patterns: impl Iterator<Item = String>) -> String {
        let mut text = String::from("rules:\n");
        for (i, p) in patterns.enumerate() {
            text.push_str(&format!(
                "  - {{id: r{i:05}, agent: inbox.triage, action: quarantine, effect: allow, \
                 reason: A good reason here, conditions: {{\"matches:subject\": '{p}'}}}}\n"
            ));
        }
        text
    }

    /// Regression: every rule compiled its own copy, so 5,000 rules with
    /// `\w{20}` took 44 s and 5.8 GB. Identical patterns share one program.
    #[test]
    fn identical_patterns_are_compiled_once() {
        let text = regex_rules((0..5_000).map(|_| r"\w{20}".to_string()));
        let b = parse_bundle(&text, Format::Yaml).unwrap();
        let first = match &b.rules[0].conditions[0].operand {
            Operand::Regex(p) => p.clone(),
            other => panic!("{other:?}"),
        };
        assert!(first.is_match(&"é".repeat(20)) && !first.is_match("short"));
        assert_eq!(b.rules.len(), 5_000);
    }

    /// Regression: a bundle had no budget for its patterns, only each
    /// pattern had a size limit; distinct large patterns are refused once
    /// the bundle's budget is spent, and those past it are not compiled.
    #[test]
    fn distinct_large_patterns_stop_at_the_bundle_budget() {
        let text = regex_rules((0..120).map(|i| format!(r"\w{{20}}-{i}")));
        let d = invalid(&text);
        let over: Vec<&Diagnostic> = d
            .iter()
            .filter(|d| {
                d.message
                    .contains("regular expressions need more than 64 MiB")
            })
            .collect();
        // About 1.1 MB each: the first ~57 fit, the rest are refused (fewer
        // than the 100 problems an error lists).
        assert!(over.len() > 40 && over.len() < 80, "{}", over.len());
        assert_eq!(
            over[0].pointer.as_deref(),
            Some(&*format!(
                "/rules/{}/conditions/matches:subject",
                120 - over.len()
            ))
        );
        // Small patterns fit by the hundred.
        let small = regex_rules((0..500).map(|i| format!("^user-{i}$")));
        assert_eq!(parse_bundle(&small, Format::Yaml).unwrap().rules.len(), 500);
    }

    /// Regression: 5,000 patterns over the size limit took 32 s to refuse;
    /// each failure costs the budget, so only the first few are compiled.
    #[test]
    fn oversized_patterns_are_refused_by_name_and_budget() {
        let text = regex_rules((0..300).map(|i| format!(r"\w{{500}}{i}")));
        let d = invalid(&text);
        assert!(
            d[0].message.contains("compiles to more than 1 MiB"),
            "{}",
            d[0]
        );
        assert!(d[0].message.contains("`\\w{500}0`"), "{}", d[0]);
        // 64 oversized patterns spend the budget; the rest are refused by it,
        // and the error lists the first 100 problems and counts the others.
        let last = &d[MAX_LISTED_PROBLEMS - 1];
        assert!(last.message.contains("need more than 64 MiB"), "{last}");
        let more = &d[MAX_LISTED_PROBLEMS];
        assert!(
            more.message
                .starts_with(&format!("and {} more problems", 300 - MAX_LISTED_PROBLEMS)),
            "{more}"
        );
    }

    /// Regression: every problem of a file was kept and listed, so 16 MiB
    /// of broken rules took 900 MB and printed 149 MB. A failed validation
    /// lists the first problems and counts the rest; past a cap per check
    /// only the check and the rule are kept.
    #[test]
    fn validation_lists_the_first_problems_and_counts_the_rest() {
        let mut text = String::from("rules:\n");
        let n = KEPT_PROBLEMS_PER_CHECK + 500;
        for i in 0..n {
            text.push_str(&format!(
                "  - {{id: r{i:05}, agent: inbox.triage, action: quarantine, effect: allow, reason: A good reason here, priorty: 1}}\n"
            ));
        }
        let d = invalid(&text);
        assert_eq!(d.len(), MAX_LISTED_PROBLEMS + 1);
        assert!(d[0].message.contains("did you mean `priority`"), "{}", d[0]);
        assert_eq!(d[0].line, Some(2));
        let last = d.last().unwrap();
        assert_eq!(
            last.message,
            format!(
                "and {} more problems not listed; fix these first, or see them all by check with `gavel lint`",
                n - MAX_LISTED_PROBLEMS
            )
        );
        let doc = parse_document(&text, Format::Yaml).unwrap();
        let (_, problems) = check_document(&doc);
        assert_eq!(problems.len(), n);
        assert_eq!(problems.kept.len(), KEPT_PROBLEMS_PER_CHECK);
        assert_eq!(problems.dropped[Check::InvalidRule as usize], 500);
        assert_eq!(problems.dropped_rules.len(), 500);
        assert_eq!(problems.dropped_rules[0], KEPT_PROBLEMS_PER_CHECK);
        // A few problems are all listed, with no count line.
        let few = invalid(
            "rules:\n  - {id: abc, agent: inbox.triage, action: quarantine, effect: allow, reason: A good reason here, priorty: 1}\n",
        );
        assert_eq!(few.len(), 1);
    }

    #[test]
    fn a_minimal_bundle_validates() {
        let b = parse_bundle(&format!("rules:\n  - {RULE}"), Format::Yaml).unwrap();
        assert_eq!(b.rules.len(), 1);
        assert_eq!(b.rules[0].priority, 50);
        assert_eq!(b.metadata.default_effect, Effect::Deny);
        assert!(!b.bare_list);
        let b = parse_bundle(
            &format!("- {}", RULE.replace("\n    ", "\n  ")),
            Format::Yaml,
        )
        .unwrap();
        assert!(b.bare_list);
    }

    #[test]
    fn unknown_field_suggests_the_nearest() {
        let d = invalid(&format!("rules:\n  - {RULE}    priorty: 3\n"));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(
            d[0].message,
            "unknown field `priorty`; did you mean `priority`?"
        );
        assert_eq!(d[0].pointer.as_deref(), Some("/rules/0/priorty"));
        assert_eq!((d[0].line, d[0].column), (Some(7), Some(5)));
    }

    #[test]
    fn wrong_types_are_located() {
        let d = invalid(&format!("rules:\n  - {RULE}    priority: high\n"));
        assert_eq!(
            d[0].message,
            "`priority` must be an integer, found string `high`"
        );
        assert_eq!((d[0].line, d[0].column), (Some(7), Some(15)));
        let d = invalid(&format!(
            "rules:\n  - {RULE}    conditions: {{\">=risk\": \"90\"}}\n"
        ));
        assert!(
            d[0].message
                .contains("needs a number operand, found string `90`"),
            "{d:?}"
        );
        assert_eq!(d[0].pointer.as_deref(), Some("/rules/0/conditions/>=risk"));
    }

    #[test]
    fn code_only_checks() {
        let d = invalid(&format!(
            "rules:\n  - {RULE}    conditions: {{\"between:x\": 1}}\n"
        ));
        assert!(
            d[0].message.starts_with("unknown operator `between:`"),
            "{d:?}"
        );
        let d = invalid(&format!(
            "rules:\n  - {RULE}    conditions: {{\"matches:x\": \"(\"}}\n"
        ));
        assert!(
            d[0].message.starts_with("invalid regular expression `(`"),
            "{d:?}"
        );
        let d = invalid(&format!("rules:\n  - {RULE}  - {RULE}"));
        assert!(
            d[0].message
                .contains("duplicate rule id `abc` (first used by rule 0 at line 2)"),
            "{d:?}"
        );
        let d = invalid(&format!(
            "rules:\n  - {}",
            RULE.replace("quarantine", "archive")
        ));
        assert!(
            d[0].message.starts_with("unknown action `archive`"),
            "{d:?}"
        );
        let ok = format!(
            "metadata: {{actions: [archive]}}\nrules:\n  - {}",
            RULE.replace("quarantine", "archive")
        );
        assert!(parse_bundle(&ok, Format::Yaml).is_ok());
        let d = invalid(&format!(
            "metadata: {{timezone: Mars/Base}}\nrules:\n  - {RULE}"
        ));
        assert!(
            d[0].message.starts_with("unknown time zone `Mars/Base`"),
            "{d:?}"
        );
    }

    #[test]
    fn did_you_mean_is_conservative() {
        assert_eq!(did_you_mean("priorty", &RULE_FIELDS), Some("priority"));
        assert_eq!(did_you_mean("condition", &RULE_FIELDS), Some("conditions"));
        assert_eq!(did_you_mean("zzz", &RULE_FIELDS), None);
    }
}
