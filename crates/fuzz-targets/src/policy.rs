//! Bundles: the YAML and JSON readers, validation, the linter and the diff
//! on any text (`bundle_yaml`, `bundle_json`), and the compiled engine
//! against a linear scan with conditions evaluated by code written here
//! (`engine_diff`).

use std::fmt::Write as _;

use gavel_policy::{
    Bundle, Engine, Format, LintConfig, Node, NodeValue, Request, diff, lint, parse_document,
    parse_json_value, sim,
};
use serde_json::Value as Json;

use crate::Source;

/// A YAML bundle: read, validated, linted, compiled, diffed with itself,
/// and its synthetic cases decided; the document written as JSON reads
/// back as the same values through the JSON reader.
pub fn bundle_yaml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        bundle_text(text, Format::Yaml);
    }
}

/// A JSON bundle, as [`bundle_yaml`]; and the one-pass reader
/// (`parse_json_value`) gives exactly the located reader's value whenever
/// it gives one.
pub fn bundle_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(fast) = parse_json_value(text) {
        match parse_document(text, Format::Json) {
            Ok(doc) => assert_eq!(doc.to_json(), fast, "one-pass and located JSON differ"),
            Err(e) => panic!("the one-pass reader took what the located one refuses: {e}"),
        }
    }
    bundle_text(text, Format::Json);
}

fn bundle_text(text: &str, format: Format) {
    let document = match parse_document(text, format) {
        Ok(d) => d,
        Err(e) => {
            // Every error renders, with its locations.
            let _ = (e.to_string(), e.code(), e.diagnostics());
            return;
        }
    };
    if format == Format::Yaml && finite(&document) {
        let json = document.to_json().to_string();
        match parse_document(&json, Format::Json) {
            Ok(again) => assert!(
                again.same_value(&document),
                "YAML read as JSON changed: {json}"
            ),
            Err(e) => panic!("a YAML document written as JSON does not read: {e}\n{json}"),
        }
    }
    let report = lint(&document, &LintConfig::default());
    let bundle = match Bundle::from_document(document) {
        Ok(b) => b,
        Err(e) => {
            let _ = (e.to_string(), e.diagnostics());
            return;
        }
    };
    let engine = Engine::compile(&bundle);
    let same = diff(&bundle, &bundle);
    assert!(
        same.added.is_empty() && same.removed.is_empty() && same.modified.is_empty(),
        "a bundle differs from itself: {same:?}"
    );
    let never = lint_claims(&report);
    for case in sim::synthetic_cases(&bundle, 16, text.len() as u64) {
        let mut request =
            Request::new(case.agent.as_str(), case.action.as_str()).with_context(case.context);
        request.timestamp = case.timestamp;
        let decision = engine.decide(&request);
        let explained = engine.explain(&request);
        assert_eq!(explained.decision.rule_id(), decision.rule_id());
        never.check(&bundle, &request, decision.rule_id());
    }
}

/// Whether every float of `node` is finite (JSON has no other kind).
fn finite(node: &Node) -> bool {
    match &node.value {
        NodeValue::Float(f) => f.is_finite(),
        NodeValue::Seq(items) => items.iter().all(finite),
        NodeValue::Map(entries) => entries.iter().all(|(_, v)| finite(v)),
        _ => true,
    }
}

/// What the linter says can never happen: rules that never match
/// (`unsatisfiable`) and rules that never decide (`unreachable`).
#[derive(Debug, Default)]
struct Never {
    matches: Vec<usize>,
    decides: Vec<String>,
}

fn lint_claims(report: &gavel_policy::LintReport) -> Never {
    let mut never = Never::default();
    for f in &report.findings {
        match (f.code, f.index, &f.rule_id) {
            ("unsatisfiable", Some(i), _) => never.matches.push(i),
            ("unreachable", _, Some(id)) => never.decides.push(id.clone()),
            _ => {}
        }
    }
    never
}

impl Never {
    fn check(&self, bundle: &Bundle, request: &Request<'_>, decided: Option<&str>) {
        for &i in &self.matches {
            if let Some(rule) = bundle.rules.get(i) {
                assert!(
                    !bundle.rule_matches(rule, request),
                    "rule `{}` is linted unsatisfiable but matches {request:?}",
                    rule.id
                );
            }
        }
        if let Some(id) = decided {
            assert!(
                !self.decides.iter().any(|d| d == id),
                "rule `{id}` is linted unreachable but decides {request:?}"
            );
        }
    }
}

// ---- engine_diff: the engine against a linear scan -------------------------

const AGENTS: [&str; 8] = ["*", "a.*", "b.*", "a.b", "a.c", "b.x", "a.bb", "ab.b"];
const ACTIONS: [&str; 4] = ["*", "deploy", "delete", "zap"];
const REQ_AGENTS: [&str; 11] = [
    "a.b", "a.c", "b.x", "a.bb", "ab.b", "a", "a.b.c", "", "a.", "c.d", "b",
];
const REQ_ACTIONS: [&str; 5] = ["deploy", "delete", "zap", "other", "*"];
const ZONES: [Option<&str>; 5] = [
    None,
    Some("UTC"),
    Some("America/New_York"),
    Some("Asia/Kolkata"),
    Some("Australia/Lord_Howe"),
];
/// Condition fields; `=>n` and `n>=` are not in the grammar, so they are
/// plain field names compared with `==`.
const FIELDS: [&str; 10] = [
    "n", "s", "l", "o", "o.k", "o.k.z", "$hour", "$weekday", "a-b", "$x",
];
const PLAIN: [&str; 2] = ["=>n", "n>="];
const CONTEXT_KEYS: [&str; 8] = ["n", "s", "l", "o", "a-b", "$x", "=>n", "n>="];
const OPS: [&str; 12] = [
    "",
    "==",
    "!=",
    ">=",
    "<=",
    ">",
    "<",
    "in:",
    "not_in:",
    "contains:",
    "matches:",
    "exists:",
];
/// Patterns with what they mean, written without a regex engine.
const PATTERNS: [&str; 9] = [
    "^a",
    "b$",
    "(?i)A",
    "[0-9]+",
    "",
    ".",
    "^$",
    "a|b",
    "^(mon|tue)$",
];

fn pattern_matches(pattern: &str, s: &str) -> bool {
    match pattern {
        "^a" => s.starts_with('a'),
        "b$" => s.ends_with('b'),
        "(?i)A" => s.contains(['a', 'A']),
        "[0-9]+" => s.bytes().any(|b| b.is_ascii_digit()),
        "" => true,
        "." => s.chars().any(|c| c != '\n'),
        "^$" => s.is_empty(),
        "a|b" => s.contains(['a', 'b']),
        "^(mon|tue)$" => s == "mon" || s == "tue",
        _ => false,
    }
}

/// Scalars for operands and contexts, as JSON text.
const SCALARS: [&str; 24] = [
    "0",
    "1",
    "-1",
    "1.5",
    "0.30000000000000004",
    "1e300",
    "-0.0",
    "4.5e15",
    "23",
    "12",
    "\"a\"",
    "\"b\"",
    "\"\"",
    "\"1\"",
    "\"ab\"",
    "\"mon\"",
    "\"sat\"",
    "\"A1\"",
    "\"x\\ny\"",
    "true",
    "false",
    "null",
    "1.0",
    "\"é\"",
];
const NUMBERS: [&str; 9] = ["0", "1", "-1", "1.5", "12", "23", "1e300", "-0.0", "5"];

/// Numbers that are rare: integers past 2^53 that a double holds exactly
/// (one past, 2^53 + 1, is refused as a request: issue 26), a subnormal, NUL.
const CONTEXT_SCALARS: [&str; 4] = [
    "9007199254740994",
    "18446744073709551616",
    "-1e-320",
    "\"\\u0000\"",
];

fn scalar(src: &mut Source<'_>) -> String {
    src.pick(&SCALARS).unwrap_or("null").to_string()
}

fn context_scalar(src: &mut Source<'_>) -> String {
    if src.below(8) == 0 {
        src.pick(&CONTEXT_SCALARS).unwrap_or("0").to_string()
    } else {
        scalar(src)
    }
}

/// A scalar, a list of scalars, or a small object.
fn value(src: &mut Source<'_>, depth: u8) -> String {
    value_of(src, depth, scalar)
}

fn context_value(src: &mut Source<'_>, depth: u8) -> String {
    value_of(src, depth, context_scalar)
}

fn value_of(src: &mut Source<'_>, depth: u8, scalar: fn(&mut Source<'_>) -> String) -> String {
    match src.below(8) {
        0 | 1 if depth < 2 => {
            let n = src.below(4);
            let items: Vec<String> = (0..n).map(|_| value_of(src, depth + 1, scalar)).collect();
            format!("[{}]", items.join(","))
        }
        2 if depth < 2 => {
            let mut out = String::from("{");
            if src.bool() {
                let _ = write!(out, "\"k\":{}", value_of(src, depth + 1, scalar));
                if src.bool() {
                    let _ = write!(out, ",\"z\":{}", scalar(src));
                }
            }
            out.push('}');
            out
        }
        _ => scalar(src),
    }
}

#[derive(Debug)]
struct CondSpec {
    key: String,
    op: &'static str,
    /// The field: a path, `$hour`, `$weekday`, or a plain name.
    field: String,
    plain: bool,
    operand: String,
}

#[derive(Debug)]
struct RuleSpec {
    agent: &'static str,
    action: &'static str,
    effect: &'static str,
    priority: u8,
    enabled: bool,
    approvals: Option<u8>,
    conditions: Vec<CondSpec>,
}

#[derive(Debug)]
struct BundleSpec {
    default_effect: &'static str,
    zone: Option<&'static str>,
    rules: Vec<RuleSpec>,
}

const EFFECTS: [&str; 3] = ["allow", "deny", "needs_approval"];

/// Bundle-wide choices that steer the rules toward what the engine
/// indexes: many rules under one agent and action (a long candidate list),
/// one field most of them compare with strings (the list split on it), and
/// more fields than the engine caches per request.
#[derive(Debug, Clone, Copy)]
struct Shape {
    focus: bool,
    key: &'static str,
    /// Out of 4: how often a condition is on `key`.
    keyed: usize,
    wide: bool,
}

/// Extra fields of a wide bundle: more than the engine caches.
const WIDE: [&str; 18] = [
    "w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9", "w10", "w11", "w12", "w13", "w14",
    "w15", "w16", "w17",
];
/// Fields a bundle may key its rules on (top-level, so requests set them).
const KEYS: [&str; 6] = ["s", "n", "l", "a-b", "$x", "w3"];
/// Strings keyed conditions compare with.
const TEXTS: [&str; 7] = ["a", "b", "ab", "mon", "", "1", "é"];
const KEY_OPS: [&str; 7] = ["", "", "!=", "in:", "not_in:", ">=", "exists:"];

fn shape(src: &mut Source<'_>) -> Shape {
    Shape {
        focus: src.bool(),
        key: src.pick(&KEYS).unwrap_or("s"),
        keyed: src.below(4),
        wide: src.bool(),
    }
}

fn field(src: &mut Source<'_>, shape: Shape) -> &'static str {
    if shape.wide && src.bool() {
        src.pick(&WIDE).unwrap_or("w0")
    } else {
        src.pick(&FIELDS).unwrap_or("n")
    }
}

fn text(src: &mut Source<'_>) -> String {
    Json::from(src.pick(&TEXTS).unwrap_or("a")).to_string()
}

fn condition(src: &mut Source<'_>, shape: Shape) -> CondSpec {
    if src.below(4) < shape.keyed {
        let op = src.pick(&KEY_OPS).unwrap_or("");
        let operand = match op {
            ">=" => src.pick(&NUMBERS).unwrap_or("0").to_string(),
            "exists:" => src.bool().to_string(),
            "in:" | "not_in:" => {
                let n = 1 + src.below(3);
                let items: Vec<String> = (0..n)
                    .map(|_| {
                        if src.below(8) == 0 {
                            scalar(src)
                        } else {
                            text(src)
                        }
                    })
                    .collect();
                format!("[{}]", items.join(","))
            }
            _ if src.below(8) == 0 => scalar(src),
            _ => text(src),
        };
        return CondSpec {
            key: format!("{op}{}", shape.key),
            op: if op.is_empty() { "==" } else { op },
            field: shape.key.to_string(),
            plain: false,
            operand,
        };
    }
    if src.below(16) == 0 {
        let field = src.pick(&PLAIN).unwrap_or("=>n");
        return CondSpec {
            key: field.to_string(),
            op: "==",
            field: field.to_string(),
            plain: true,
            operand: scalar(src),
        };
    }
    let op = src.pick(&OPS).unwrap_or("");
    let field = field(src, shape);
    let operand = match op {
        ">=" | "<=" | ">" | "<" => src.pick(&NUMBERS).unwrap_or("0").to_string(),
        "in:" | "not_in:" => {
            let n = src.below(4);
            let items: Vec<String> = (0..n).map(|_| value(src, 1)).collect();
            format!("[{}]", items.join(","))
        }
        "exists:" => src.bool().to_string(),
        "matches:" => Json::from(src.pick(&PATTERNS).unwrap_or("")).to_string(),
        _ => value(src, 0),
    };
    CondSpec {
        key: format!("{op}{field}"),
        op: if op.is_empty() { "==" } else { op },
        field: field.to_string(),
        plain: false,
        operand,
    }
}

const FOCUS_AGENTS: [&str; 3] = ["*", "a.*", "a.b"];
const FOCUS_ACTIONS: [&str; 2] = ["*", "deploy"];

fn bundle_spec(src: &mut Source<'_>) -> (BundleSpec, Shape) {
    let default_effect = src.pick(&EFFECTS).unwrap_or("deny");
    let zone = src.pick(&ZONES).flatten();
    let shape = shape(src);
    let n = if shape.focus {
        src.below(49)
    } else {
        src.below(13)
    };
    let rules = (0..n)
        .map(|_| {
            let mut conditions: Vec<CondSpec> = Vec::new();
            for _ in 0..src.below(4) {
                let c = condition(src, shape);
                // A key given twice is refused: keep the first.
                if !conditions.iter().any(|d| d.key == c.key) {
                    conditions.push(c);
                }
            }
            let (agent, action) = if shape.focus && src.below(4) != 0 {
                (
                    src.pick(&FOCUS_AGENTS).unwrap_or("*"),
                    src.pick(&FOCUS_ACTIONS).unwrap_or("*"),
                )
            } else {
                (
                    src.pick(&AGENTS).unwrap_or("*"),
                    src.pick(&ACTIONS).unwrap_or("*"),
                )
            };
            RuleSpec {
                agent,
                action,
                effect: src.pick(&EFFECTS).unwrap_or("deny"),
                priority: src.pick(&[50, 50, 0, 100, 1, 99]).unwrap_or(50),
                enabled: src.byte() < 224,
                approvals: src.bool().then(|| src.byte() % 4 + 1),
                conditions,
            }
        })
        .collect();
    (
        BundleSpec {
            default_effect,
            zone,
            rules,
        },
        shape,
    )
}

fn rule_id(i: usize) -> String {
    format!("rule-{i:03}")
}

/// The bundle as JSON text, keys in the order given.
fn bundle_text_of(spec: &BundleSpec) -> String {
    let mut out = format!(
        "{{\"metadata\":{{\"default_effect\":\"{}\",\"actions\":[\"zap\"]",
        spec.default_effect
    );
    if let Some(zone) = spec.zone {
        let _ = write!(out, ",\"timezone\":\"{zone}\"");
    }
    out.push_str("},\"rules\":[");
    for (i, r) in spec.rules.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"id\":\"{}\",\"agent\":\"{}\",\"action\":\"{}\",\"effect\":\"{}\",\"priority\":{},\"enabled\":{},\"reason\":\"generated rule {i}\"",
            rule_id(i),
            r.agent,
            r.action,
            r.effect,
            r.priority,
            r.enabled
        );
        if let Some(a) = r.approvals {
            let _ = write!(out, ",\"approvals_required\":{a}");
        }
        out.push_str(",\"conditions\":{");
        for (j, c) in r.conditions.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}:{}", Json::from(c.key.as_str()), c.operand);
        }
        out.push_str("}}");
    }
    out.push_str("]}");
    out
}

/// A request as JSON text, with its timestamp.
fn request_text(src: &mut Source<'_>, shape: Shape) -> (String, Option<jiff::Timestamp>) {
    let (agent, action) = if shape.focus && src.below(4) != 0 {
        ("a.b", "deploy")
    } else {
        (
            src.pick(&REQ_AGENTS).unwrap_or("a.b"),
            src.pick(&REQ_ACTIONS).unwrap_or("deploy"),
        )
    };
    let mut entries: Vec<(&str, String)> = Vec::new();
    if src.below(4) < shape.keyed {
        let v = match src.below(8) {
            0 => context_value(src, 0),
            _ => text(src),
        };
        entries.push((shape.key, v));
    }
    for _ in 0..src.below(if shape.wide { 20 } else { 6 }) {
        let key = if shape.wide && src.bool() {
            src.pick(&WIDE).unwrap_or("w0")
        } else {
            src.pick(&CONTEXT_KEYS).unwrap_or("n")
        };
        if entries.iter().any(|(k, _)| *k == key) {
            continue;
        }
        entries.push((key, context_value(src, 0)));
    }
    let context: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}:{v}", Json::from(*k)))
        .collect();
    let context = format!("{{{}}}", context.join(","));
    let timestamp = src.bool().then(|| {
        // 2026-11-23T00:00:00Z, a Monday, plus up to a week.
        let offset = i64::from(src.byte()) * 2700 + i64::from(src.byte()) * 60;
        jiff::Timestamp::from_second(1_795_392_000 + offset).unwrap_or(crate::now())
    });
    let mut text = format!(
        "{{\"agent\":{},\"action\":{},\"context\":{context}",
        Json::from(agent),
        Json::from(action)
    );
    if let Some(t) = timestamp {
        let _ = write!(text, ",\"timestamp\":\"{t}\"");
    }
    text.push('}');
    (text, timestamp)
}

/// JSON equality as the engine defines it: numbers by value, objects by
/// their keys in any order, strings never equal to numbers.
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The field's value: a path into the context, or the hour or weekday in
/// the bundle's zone.
fn field_value(c: &CondSpec, context: &Json, time: Option<&jiff::civil::DateTime>) -> Option<Json> {
    match (c.plain, c.field.as_str()) {
        (false, "$hour") => time.map(|t| Json::from(t.hour())),
        (false, "$weekday") => time.and_then(|t| {
            let day = usize::try_from(t.weekday().to_monday_zero_offset()).ok()?;
            WEEKDAYS.get(day).map(|d| Json::from(*d))
        }),
        // `null` is missing; a dotted path absent nested is one flat key.
        (false, path) => path
            .split('.')
            .try_fold(context, |v, segment| v.get(segment))
            .filter(|v| !v.is_null())
            .or_else(|| context.get(path).filter(|v| !v.is_null()))
            .cloned(),
        (true, name) => context.get(name).filter(|v| !v.is_null()).cloned(),
    }
}

/// Whether `c` holds, and whether it is an evaluation error (an ordering
/// on a present value that is not a number).
fn holds(c: &CondSpec, context: &Json, time: Option<&jiff::civil::DateTime>) -> (bool, bool) {
    let operand: Json = serde_json::from_str(&c.operand).unwrap_or(Json::Null);
    let Some(value) = field_value(c, context, time) else {
        return (c.op == "exists:" && operand == Json::Bool(false), false);
    };
    let items = || operand.as_array().map(Vec::as_slice).unwrap_or_default();
    match c.op {
        "exists:" => (operand == Json::Bool(true), false),
        ">=" | "<=" | ">" | "<" => match (value.as_f64(), operand.as_f64()) {
            (Some(v), Some(o)) => (
                match c.op {
                    ">=" => v >= o,
                    "<=" => v <= o,
                    ">" => v > o,
                    _ => v < o,
                },
                false,
            ),
            _ => (false, true),
        },
        "in:" => (items().iter().any(|i| same(&value, i)), false),
        "not_in:" => (!items().iter().any(|i| same(&value, i)), false),
        "matches:" => (
            value
                .as_str()
                .is_some_and(|s| pattern_matches(operand.as_str().unwrap_or("?"), s)),
            false,
        ),
        "contains:" => (
            match (&value, &operand) {
                (Json::String(s), Json::String(needle)) => s.contains(needle.as_str()),
                (Json::Array(items), o) => items.iter().any(|i| same(i, o)),
                _ => false,
            },
            false,
        ),
        "!=" => (!same(&value, &operand), false),
        _ => (same(&value, &operand), false),
    }
}

fn agent_matches(pattern: &str, agent: &str) -> bool {
    pattern == "*"
        || pattern == agent
        || pattern
            .strip_suffix('*')
            .is_some_and(|prefix| agent.starts_with(prefix))
}

/// What the linear scan decides.
#[derive(Debug, PartialEq)]
struct Scan {
    effect: String,
    rule: Option<String>,
    /// `(rule id, condition key)` of each evaluation error, in order.
    errors: Vec<(String, String)>,
    /// The rules tried, in order.
    tried: Vec<String>,
}

/// Whether rule `r` matches on its own; the evaluation errors on the way
/// (conditions stop at the first that fails).
fn rule_holds(
    r: &RuleSpec,
    agent: &str,
    action: &str,
    context: &Json,
    time: Option<&jiff::civil::DateTime>,
) -> Option<(bool, Vec<String>)> {
    if !(agent_matches(r.agent, agent) && (r.action == "*" || r.action == action)) {
        return None;
    }
    let mut errors = Vec::new();
    for c in &r.conditions {
        let (ok, error) = holds(c, context, time);
        if error {
            errors.push(c.key.clone());
        }
        if !ok {
            return Some((false, errors));
        }
    }
    Some((true, errors))
}

fn scan(
    spec: &BundleSpec,
    agent: &str,
    action: &str,
    context: &Json,
    time: Option<&jiff::civil::DateTime>,
) -> Scan {
    let mut order: Vec<(usize, &RuleSpec)> = spec
        .rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.enabled)
        .collect();
    order.sort_by(|(i, a), (j, b)| b.priority.cmp(&a.priority).then(i.cmp(j)));
    let mut out = Scan {
        effect: spec.default_effect.to_string(),
        rule: None,
        errors: Vec::new(),
        tried: Vec::new(),
    };
    for (i, r) in order {
        let Some((ok, errors)) = rule_holds(r, agent, action, context, time) else {
            continue;
        };
        out.tried.push(rule_id(i));
        out.errors
            .extend(errors.into_iter().map(|k| (rule_id(i), k)));
        if ok {
            out.effect = r.effect.to_string();
            out.rule = Some(rule_id(i));
            break;
        }
    }
    out
}

/// A bundle written from a small vocabulary (every operator, wildcards,
/// namespaces, priority ties, disabled rules, time zones) and requests
/// around it: the compiled engine must decide each as a linear scan over
/// the rules in priority order does, with conditions evaluated here on
/// `serde_json` values (the same effect, deciding rule and evaluation
/// errors); `explain` must agree and list the rules tried;
/// `Bundle::rule_matches` must agree rule by rule; and no rule the linter
/// calls unsatisfiable or unreachable may match or decide.
pub fn engine_diff(data: &[u8]) {
    let mut src = Source::new(data);
    let (spec, shape) = bundle_spec(&mut src);
    let text = bundle_text_of(&spec);
    let bundle = match gavel_policy::parse_bundle(&text, Format::Json) {
        Ok(b) => b,
        Err(e) => panic!("a generated bundle does not load: {e}\n{text}"),
    };
    let engine = Engine::compile(&bundle);
    let zone = match spec.zone {
        Some(name) => match jiff::tz::TimeZone::get(name) {
            Ok(z) => z,
            Err(e) => panic!("time zone `{name}`: {e}"),
        },
        None => jiff::tz::TimeZone::UTC,
    };
    let never = match parse_document(&text, Format::Json) {
        Ok(doc) => lint_claims(&lint(&doc, &LintConfig::default())),
        Err(e) => panic!("{e}"),
    };
    let requests = 1 + src.below(8);
    for _ in 0..requests {
        let (request_text, timestamp) = request_text(&mut src, shape);
        let request: Request<'_> = match serde_json::from_str(&request_text) {
            Ok(r) => r,
            Err(e) => panic!("a generated request does not read: {e}\n{request_text}"),
        };
        let json: Json = serde_json::from_str(&request_text).unwrap_or(Json::Null);
        let context = json.get("context").cloned().unwrap_or(Json::Null);
        let time = timestamp.map(|t| zone.to_datetime(t));
        let (agent, action) = (request.agent.as_ref(), request.action.as_ref());
        let want = scan(&spec, agent, action, &context, time.as_ref());

        let decision = engine.decide(&request);
        let got = Scan {
            effect: decision.effect.as_str().to_string(),
            rule: decision.rule_id().map(str::to_string),
            errors: decision
                .errors
                .iter()
                .map(|e| (e.rule_id.to_string(), e.condition.to_string()))
                .collect(),
            tried: want.tried.clone(),
        };
        assert_eq!(got, want, "request {request_text}\nbundle {text}");

        let explained = engine.explain(&request);
        let steps: Vec<String> = explained
            .steps
            .iter()
            .map(|s| s.rule_id.to_string())
            .collect();
        assert_eq!(
            steps, want.tried,
            "explain: request {request_text}\nbundle {text}"
        );
        assert_eq!(
            explained.decision.rule_id(),
            decision.rule_id(),
            "explain decides otherwise: request {request_text}\nbundle {text}"
        );
        assert_eq!(explained.decision.effect, decision.effect);
        assert_eq!(
            explained.steps.last().is_some_and(|s| s.matched),
            decision.rule.is_some()
        );

        for (i, (r, rule)) in spec.rules.iter().zip(&bundle.rules).enumerate() {
            let alone =
                rule_holds(r, agent, action, &context, time.as_ref()).is_some_and(|(ok, _)| ok);
            assert_eq!(
                bundle.rule_matches(rule, &request),
                alone,
                "rule_matches of rule {i}: request {request_text}\nbundle {text}"
            );
        }
        never.check(&bundle, &request, decision.rule_id());
    }
}
