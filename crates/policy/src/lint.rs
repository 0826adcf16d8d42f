//! The linter (DESIGN §3.2, §11.5): findings, not errors, for every problem
//! a bundle has, including rules that can never decide anything.
//!
//! `conflict`, `unreachable` and `unsatisfiable` are exact: they reason over
//! each rule's region (see `region.rs`). Where a condition cannot be
//! reasoned about exactly the linter stays silent rather than guess, so
//! every `unreachable` or `unsatisfiable` finding is true.
//!
//! The linter stays bounded on any input. The exact checks compare rules in
//! pairs, so their work grows with the square of a group's size: it is
//! budgeted per agent/action group and in total, and rules left when it runs
//! out are counted, not analysed. The number of findings can grow the same
//! way (every allow rule against every deny rule): each check lists at most
//! [`LintConfig::max_findings`] of them and counts the rest.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::doc::{Location, Node, NodeValue};
use crate::model::{
    ActionPattern, AgentPattern, ConditionKey, Effect, Field, Op, Operand, Rule,
    parse_condition_key,
};
use crate::region::{Cover, Region, RuleRegion, Universe, cost, covered, escapes};
use crate::validate::{Check, check_document};
use crate::value::Value;

/// How bad a finding is; only errors fail a lint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// The checks, in the order they run and findings are listed.
pub const CHECKS: [&str; 15] = [
    "invalid-rule",
    "missing-id",
    "duplicate-id",
    "missing-reason",
    "short-reason",
    "invalid-conditions",
    "suspicious-operator",
    "unsatisfiable",
    "conflict",
    "unreachable",
    "missing-budget",
    "high-cost",
    "unknown-action",
    "disabled",
    "analysis-incomplete",
];

/// What each check looks for, for tools that list them (SARIF).
pub fn describe_check(code: &str) -> &'static str {
    match code {
        "invalid-rule" => "The rule breaks the bundle schema",
        "missing-id" => "The rule has no id",
        "duplicate-id" => "Another rule already uses this id",
        "missing-reason" => "The rule has no reason",
        "short-reason" => "The reason is under 10 characters",
        "invalid-conditions" => "The conditions are not an object of valid operators and operands",
        "suspicious-operator" => "A condition key or value looks like a mistyped operator",
        "unsatisfiable" => "The rule's conditions can never hold together",
        "conflict" => "An allow and a deny rule can match the same request",
        "unreachable" => "Rules decided earlier match every request this rule matches",
        "missing-budget" => "A needs_approval rule has no budget",
        "high-cost" => "The budget's cost is over $1000",
        "unknown-action" => "The action is not in the vocabulary",
        "disabled" => "The rule is disabled",
        "analysis-incomplete" => {
            "The exact checks ran out of their work budget, or findings were left out of the list"
        }
        _ => "",
    }
}

/// The severity of every finding of a check.
pub fn check_severity(code: &str) -> Severity {
    match code {
        "short-reason"
        | "suspicious-operator"
        | "unsatisfiable"
        | "conflict"
        | "unreachable"
        | "missing-budget"
        | "high-cost" => Severity::Warning,
        "disabled" | "analysis-incomplete" => Severity::Info,
        _ => Severity::Error,
    }
}

/// A reason shorter than this many characters is a warning.
pub const SHORT_REASON: usize = 10;
/// A `budget.cost` over this many USD is a warning.
pub const HIGH_COST: f64 = 1000.0;
/// The findings of one check listed together hold at most this many bytes
/// of text per finding allowed ([`LintConfig::max_findings`]): a conflict's
/// witness is as large as the two rules' conditions, so counting alone would
/// not bound the output.
pub const FINDING_BYTES: usize = 8 << 10;
/// All checks together list at most this many times
/// [`LintConfig::max_findings`].
pub const TOTAL_FINDINGS_FACTOR: usize = 10;
/// An `unreachable` finding names at most this many shadowing rules.
pub const MAX_NAMED_RULES: usize = 16;

/// One problem the linter found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub rule_id: Option<String>,
    /// The rule's 0-based position in the bundle.
    pub index: Option<usize>,
    /// The rule's 1-based line (or the problem's, outside rules).
    pub line: Option<u32>,
    /// The 1-based column (in characters) where the rule starts, or the
    /// problem's: on a one-line file, the line alone does not say where.
    pub column: Option<u32>,
    pub message: String,
    pub suggestion: String,
    /// The other rules involved: the other side of a conflict, the
    /// shadowing rules, the first use of a duplicated id.
    pub related_rules: Vec<String>,
    /// For `conflict`: a request both rules match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<serde_json::Value>,
    /// The file, as given on the command line (see [`Linter::add`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl Finding {
    /// About how many bytes the finding takes as JSON.
    fn bytes(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        let related: usize = self.related_rules.iter().map(|r| r.len() + 4).sum();
        let witness = self.witness.as_ref().map_or(0, |_| 64);
        192 + self.message.len()
            + self.suggestion.len()
            + text(&self.rule_id)
            + text(&self.file)
            + related
            + witness
    }
}

/// Counts over the findings. `errors`, `warnings`, `info` and
/// `total_issues` count every finding found, listed or not; `left_out` the
/// ones found but not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "LintSummary"))]
pub struct Summary {
    pub total_rules: usize,
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
    pub total_issues: usize,
    /// Rules whose exact checks were skipped when the work budget ran out.
    pub analysis_incomplete: usize,
    /// Findings found but not listed (over the caps of [`LintConfig`]).
    pub left_out: usize,
}

impl Summary {
    /// Adds another report's counts.
    pub fn add(&mut self, o: &Summary) {
        self.total_rules += o.total_rules;
        self.errors += o.errors;
        self.warnings += o.warnings;
        self.info += o.info;
        self.total_issues += o.total_issues;
        self.analysis_incomplete += o.analysis_incomplete;
        self.left_out += o.left_out;
    }
}

/// The linter's result for one document (or several, through [`Linter`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LintReport {
    pub summary: Summary,
    /// In order: severity, then the table's order of checks, then file,
    /// then rule index.
    pub findings: Vec<Finding>,
    /// Per check (in [`CHECKS`] order), how many findings were found and
    /// not listed; checks with none are left out.
    pub left_out: Vec<(&'static str, usize)>,
}

impl LintReport {
    /// True when there are no errors (listed or not); warnings never fail.
    pub fn passed(&self) -> bool {
        self.summary.errors == 0
    }
}

/// Knobs of the linter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LintConfig {
    /// Work the exact checks may spend per agent/action group. A unit is
    /// one comparison of two rules' regions (one more per 16 conditions they
    /// hold), one step of box subtraction, or 32 fields copied by it.
    pub work_budget: u64,
    /// Work the exact checks may spend on a document in all.
    pub total_work_budget: u64,
    /// Findings listed per check; the rest are counted. All checks
    /// together list at most [`TOTAL_FINDINGS_FACTOR`] times as many.
    pub max_findings: usize,
}

impl Default for LintConfig {
    fn default() -> Self {
        LintConfig {
            work_budget: 2_000_000,
            total_work_budget: 20_000_000,
            max_findings: 1_000,
        }
    }
}

/// Lints a parsed document (which need not be a valid bundle).
pub fn lint(document: &Node, config: &LintConfig) -> LintReport {
    let mut linter = Linter::new(*config);
    linter.add(None, document);
    linter.finish()
}

/// Lints several documents into one report (`gavel lint A B`): one
/// summary, and the caps on findings apply to all of them together.
#[derive(Debug)]
pub struct Linter {
    config: LintConfig,
    listed: Listed,
    summary: Summary,
    files: Vec<Option<String>>,
    /// Rules left unanalysed, per file that had some.
    incomplete: Vec<(Option<String>, usize)>,
}

impl Linter {
    pub fn new(config: LintConfig) -> Linter {
        Linter {
            config,
            listed: Listed::new(config.max_findings),
            summary: Summary::default(),
            files: Vec::new(),
            incomplete: Vec::new(),
        }
    }

    /// Lints one document; `file` (as given on the command line) is set on
    /// its findings.
    pub fn add(&mut self, file: Option<&str>, document: &Node) {
        let (bundle, problems) = check_document(document);
        let rule_nodes: Vec<&Node> = match &document.value {
            NodeValue::Seq(items) => items.iter().collect(),
            _ => document
                .get("rules")
                .and_then(Node::as_seq)
                .map(|s| s.iter().collect())
                .unwrap_or_default(),
        };
        let doc = Doc {
            file: file.map(str::to_string),
            file_no: self.files.len(),
            rules: rule_nodes
                .iter()
                .map(|n| (n.get("id").and_then(Node::as_str), n.location))
                .collect(),
        };
        self.files.push(doc.file.clone());
        let out = &mut self.listed;

        // Problems validation found, each under its own code.
        let mut broken: HashSet<usize> = HashSet::new();
        // Past the first problems of a check validation keeps only the
        // check and the rule: counted, never listed (no list is that long).
        for (check, &n) in Check::ALL.iter().zip(&problems.dropped) {
            for _ in 0..n {
                out.count_unlisted(check_code(*check));
            }
        }
        broken.extend(problems.dropped_rules.iter().copied());
        for p in &problems.kept {
            let code = check_code(p.check);
            if let Some(i) = p.index {
                broken.insert(i);
            }
            let suggestion = match p.check {
                Check::MissingId => {
                    "add an `id`: 3-64 characters of a-z, 0-9, `_` or `-`, unique in the bundle"
                }
                Check::DuplicateId => {
                    "rename one of the rules; ids identify rules in diffs, approvals and decision logs"
                }
                Check::MissingReason => {
                    "add a `reason` saying why the rule exists; it is shown with every decision"
                }
                Check::InvalidConditions => {
                    "write conditions as an object of `[op]field: operand`, ops `>=`, `<=`, `>`, `<`, `==`, `!=`, `in:`, `not_in:`, `contains:`, `matches:`, `exists:`"
                }
                Check::UnknownAction => "use a standard action or declare it in `metadata.actions`",
                Check::InvalidRule => "fix the field as the message says (see the bundle schema)",
            };
            out.offer(&doc, code, p.index, 0, || {
                let mut f = doc.finding(code, p.index, p.diagnostic.message.clone(), suggestion);
                if p.index.is_none() {
                    f.line = p.diagnostic.line;
                    f.column = p.diagnostic.column;
                }
                f.related_rules = p.related.clone();
                f
            });
        }

        for r in &bundle.rules {
            let chars = r.reason.chars().count();
            if chars > 0 && chars < SHORT_REASON && !r.reason.trim().is_empty() {
                out.offer(&doc, "short-reason", Some(r.index), 0, || {
                    doc.finding(
                        "short-reason",
                        Some(r.index),
                        format!("reason `{}` is {chars} characters; under {SHORT_REASON} rarely explains a rule", r.reason),
                        "say why the rule exists, for the person reading a decision it made",
                    )
                });
            }
            suspicious(r, &doc, out);
        }

        let incomplete = exact_checks(&bundle, &broken, &self.config, &doc, out);

        for r in &bundle.rules {
            if r.effect == Effect::NeedsApproval && r.budget.is_none() {
                out.offer(&doc, "missing-budget", Some(r.index), 0, || {
                    doc.finding(
                        "missing-budget",
                        Some(r.index),
                        format!("rule `{}` asks for approval but has no `budget`", r.id),
                        "add `budget: {cost: …, compute: …, risk: low|medium|high}` so simulations can estimate what approvals cost",
                    )
                });
            }
            if let Some(cost) = r.budget.and_then(|b| b.cost).filter(|c| *c > HIGH_COST) {
                out.offer(&doc, "high-cost", Some(r.index), 0, || {
                    doc.finding(
                        "high-cost",
                        Some(r.index),
                        format!(
                            "rule `{}` costs ${cost:.2} a match, over ${HIGH_COST:.0}",
                            r.id
                        ),
                        "check the unit (USD per match) or split the action into cheaper steps",
                    )
                });
            }
        }
        for r in bundle.rules.iter().filter(|r| !r.enabled) {
            out.offer(&doc, "disabled", Some(r.index), 0, || {
                doc.finding(
                    "disabled",
                    Some(r.index),
                    format!("rule `{}` is disabled and decides nothing", r.id),
                    "remove it when it is no longer needed; the version history keeps it",
                )
            });
        }
        self.summary.total_rules += rule_nodes.len();
        self.summary.analysis_incomplete += incomplete;
        if incomplete > 0 {
            self.incomplete.push((doc.file.clone(), incomplete));
        }
    }

    /// The report: every check's findings cut to the caps, counted in full.
    pub fn finish(self) -> LintReport {
        let Linter {
            config,
            listed,
            mut summary,
            files,
            incomplete,
        } = self;
        let max = config.max_findings;
        let total_max = max.saturating_mul(TOTAL_FINDINGS_FACTOR);
        let mut checks: Vec<(usize, List)> = listed.lists.into_iter().enumerate().collect();
        checks.sort_by_key(|(c, _)| {
            let code = CHECKS.get(*c).copied().unwrap_or_default();
            (check_severity(code), *c)
        });
        let mut findings = Vec::new();
        let mut left_out = Vec::new();
        for (c, list) in checks {
            let code = CHECKS.get(c).copied().unwrap_or_default();
            let kept = List::cut(list.kept, max, max.saturating_mul(FINDING_BYTES));
            let room = total_max.saturating_sub(findings.len());
            let shown = kept.len().min(room);
            findings.extend(kept.into_iter().take(shown).map(|k| k.finding));
            match check_severity(code) {
                Severity::Error => summary.errors += list.found,
                Severity::Warning => summary.warnings += list.found,
                Severity::Info => summary.info += list.found,
            }
            summary.total_issues += list.found;
            if list.found > shown {
                left_out.push((c, code, list.found, list.found - shown));
                summary.left_out += list.found - shown;
            }
        }
        let single_file = match files.as_slice() {
            [only] => only.clone(),
            _ => None,
        };
        let mut message = Vec::new();
        let mut suggestion = Vec::new();
        if summary.analysis_incomplete > 0 {
            let n = summary.analysis_incomplete;
            let per_file = if incomplete.len() > 1 {
                let parts: Vec<String> = incomplete
                    .iter()
                    .map(|(f, n)| format!("`{}`: {n}", f.as_deref().unwrap_or("<input>")))
                    .collect();
                format!(" ({})", parts.join(", "))
            } else {
                String::new()
            };
            message.push(format!(
                "the exact checks ran out of their work budget: conflicts and shadowing of {n} rule{} were not analysed{per_file}",
                plural(n)
            ));
            suggestion.push(
                "split large agent/action groups (the budget is per group): rules left unanalysed may still conflict or be unreachable"
                    .to_string(),
            );
        }
        if !left_out.is_empty() {
            left_out.sort_by_key(|(c, ..)| *c);
            let parts: Vec<String> = left_out
                .iter()
                .map(|(_, code, found, out)| format!("{out} of {found} `{code}`"))
                .collect();
            message.push(format!(
                "{} finding{} left out of the list: {} (at most {max} are listed per check, {total_max} in all)",
                summary.left_out,
                if summary.left_out == 1 { " was" } else { "s were" },
                parts.join(", ")
            ));
            suggestion.push(format!(
                "fix the listed findings and lint again, or list more with `gavel lint --max-findings N` (now {max}; memory grows with N)"
            ));
        }
        if !message.is_empty() {
            findings.push(Finding {
                code: "analysis-incomplete",
                severity: Severity::Info,
                rule_id: None,
                index: None,
                line: None,
                column: None,
                message: message.join("; "),
                suggestion: suggestion.join("; "),
                related_rules: Vec::new(),
                witness: None,
                file: single_file,
            });
            summary.info += 1;
            summary.total_issues += 1;
        }
        LintReport {
            summary,
            findings,
            left_out: left_out
                .into_iter()
                .map(|(_, code, _, out)| (code, out))
                .collect(),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The document being linted: its file and where each rule starts.
struct Doc<'a> {
    file: Option<String>,
    file_no: usize,
    /// Per rule node: its id (when it has a string one) and location.
    rules: Vec<(Option<&'a str>, Location)>,
}

impl Doc<'_> {
    fn finding(
        &self,
        code: &'static str,
        index: Option<usize>,
        message: String,
        suggestion: &str,
    ) -> Finding {
        let rule = index.and_then(|i| self.rules.get(i));
        Finding {
            code,
            severity: check_severity(code),
            rule_id: rule.and_then(|(id, _)| id.map(str::to_string)),
            index,
            line: rule.map(|(_, l)| l.line),
            column: rule.map(|(_, l)| l.column),
            message,
            suggestion: suggestion.to_string(),
            related_rules: Vec::new(),
            witness: None,
            file: self.file.clone(),
        }
    }
}

/// Where a finding sorts within its check: file, then rule index (findings
/// outside rules first), then the order found.
type Key = (usize, usize, u64);

#[derive(Debug)]
struct Kept {
    key: Key,
    bytes: usize,
    finding: Finding,
}

/// The findings of one check: all of them counted, the first ones kept.
#[derive(Debug, Default)]
struct List {
    found: usize,
    kept: Vec<Kept>,
    bytes: usize,
    /// Once the list is full, findings that sort after this can never be
    /// listed, so they are counted without being built.
    cutoff: Option<Key>,
}

impl List {
    /// The findings to list: in order, at most `max` and `max_bytes` of
    /// them (one too large for what is left is skipped, the next may fit).
    fn cut(mut kept: Vec<Kept>, max: usize, max_bytes: usize) -> Vec<Kept> {
        kept.sort_by_key(|k| k.key);
        let mut bytes = 0usize;
        let mut out = Vec::with_capacity(max.min(kept.len()));
        for k in kept {
            if out.len() >= max {
                break;
            }
            if bytes + k.bytes <= max_bytes {
                bytes += k.bytes;
                out.push(k);
            }
        }
        out
    }

    fn compact(&mut self, max: usize, max_bytes: usize) {
        let kept = List::cut(std::mem::take(&mut self.kept), max, max_bytes);
        if kept.len() >= max {
            self.cutoff = kept.last().map(|k| k.key);
        }
        self.bytes = kept.iter().map(|k| k.bytes).sum();
        self.kept = kept;
    }
}

/// The findings of every check, bounded while they are collected.
#[derive(Debug)]
struct Listed {
    lists: Vec<List>,
    max: usize,
    max_bytes: usize,
    seq: u64,
}

/// The lint code of a validation problem's check.
fn check_code(check: Check) -> &'static str {
    match check {
        Check::InvalidRule => "invalid-rule",
        Check::MissingId => "missing-id",
        Check::DuplicateId => "duplicate-id",
        Check::MissingReason => "missing-reason",
        Check::InvalidConditions => "invalid-conditions",
        Check::UnknownAction => "unknown-action",
    }
}

impl Listed {
    /// Counts a finding of `code` that is never listed.
    fn count_unlisted(&mut self, code: &'static str) {
        if let Some(list) = CHECKS
            .iter()
            .position(|c| *c == code)
            .and_then(|c| self.lists.get_mut(c))
        {
            self.seq += 1;
            list.found += 1;
        }
    }

    fn new(max: usize) -> Listed {
        Listed {
            lists: CHECKS.iter().map(|_| List::default()).collect(),
            max,
            max_bytes: max.saturating_mul(FINDING_BYTES),
            seq: 0,
        }
    }

    /// Counts a finding of `code` on rule `index`, and builds and keeps it
    /// while it may still be listed. `estimate` is what the finding will
    /// take at least beyond its text (a witness), known before building it.
    fn offer(
        &mut self,
        doc: &Doc<'_>,
        code: &'static str,
        index: Option<usize>,
        estimate: usize,
        build: impl FnOnce() -> Finding,
    ) {
        let Some(list) = CHECKS
            .iter()
            .position(|c| *c == code)
            .and_then(|c| self.lists.get_mut(c))
        else {
            return;
        };
        self.seq += 1;
        list.found += 1;
        let key = (doc.file_no, index.map_or(0, |i| i + 1), self.seq);
        if self.max == 0 || estimate > self.max_bytes || list.cutoff.is_some_and(|c| key > c) {
            return;
        }
        let finding = build();
        let bytes = finding.bytes() + estimate;
        if bytes > self.max_bytes {
            return;
        }
        list.bytes += bytes;
        list.kept.push(Kept {
            key,
            bytes,
            finding,
        });
        if list.kept.len() >= self.max.saturating_mul(2)
            || list.bytes > self.max_bytes.saturating_mul(2)
        {
            list.compact(self.max, self.max_bytes);
        }
    }
}

/// `=>x`, `!x`, `>>x`, `risk_score>=`, and values like `">30"`.
fn suspicious(r: &Rule, doc: &Doc<'_>, out: &mut Listed) {
    const OPS: [&str; 6] = [">=", "<=", "==", "!=", ">", "<"];
    for c in &r.conditions {
        let key = c.key.as_str();
        let plain = matches!(parse_condition_key(key), ConditionKey::Plain(_));
        let problem = if plain && key.starts_with(['<', '>', '=', '!']) {
            Some(Suspicious::Prefix)
        } else if let Some(op) = OPS.iter().find(|op| plain && key.ends_with(*op)) {
            Some(Suspicious::Suffix(op))
        } else if let (Some(text), crate::model::Op::Eq | crate::model::Op::Ne) =
            (operand_text(c), c.op)
        {
            looks_like_expression(text).map(|(op, rest)| Suspicious::Expression { text, op, rest })
        } else {
            None
        };
        if let Some(problem) = problem {
            out.offer(doc, "suspicious-operator", Some(r.index), 0, || {
                let (message, suggestion) = problem.explain(key);
                doc.finding("suspicious-operator", Some(r.index), message, &suggestion)
            });
        }
    }
}

/// What looks wrong with a condition (found cheaply; the message is built
/// only for findings that will be listed).
enum Suspicious<'a> {
    /// `=>x`, `!x`, `>>x`.
    Prefix,
    /// `risk_score>=`.
    Suffix(&'static str),
    /// `x: ">30"`.
    Expression {
        text: &'a str,
        op: &'static str,
        rest: &'a str,
    },
}

impl Suspicious<'_> {
    /// The message and the suggestion.
    fn explain(&self, key: &str) -> (String, String) {
        match self {
            Suspicious::Prefix => {
                let key = clip(key);
                (
                    format!("condition key `{key}` starts like an operator but is none, so it compares a field literally named `{key}`, which requests never have"),
                    match suggest_prefix(&key) {
                        Some(f) => format!("did you mean `{f}`?"),
                        None => "write the operator first: `>=field`, `<=field`, `>field`, `<field`, `==field` or `!=field`".to_string(),
                    },
                )
            }
            Suspicious::Suffix(op) => (
                format!(
                    "condition key `{}` puts the operator after the field, so it never matches",
                    clip(key)
                ),
                format!(
                    "write `{op}{}`",
                    clip(key.trim_end_matches(['<', '>', '=', '!']))
                ),
            ),
            Suspicious::Expression { text, op, rest } => (
                format!(
                    "condition `{}` compares with the string `{}`, which looks like an operator expression",
                    clip(key),
                    clip(text)
                ),
                format!(
                    "write `\"{op}{}\": {}`",
                    clip(key.trim_start_matches(['=', '!'])),
                    clip(rest)
                ),
            ),
        }
    }
}

/// User input quoted in a message, cut to at most 80 characters (a key or
/// value may be megabytes long).
fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        None => std::borrow::Cow::Borrowed(text),
        Some((end, _)) => std::borrow::Cow::Owned(format!("{}…", text.get(..end).unwrap_or(text))),
    }
}

fn operand_text(c: &crate::model::Condition) -> Option<&str> {
    match &c.operand {
        crate::model::Operand::Value(v) => v.as_str(),
        _ => None,
    }
}

/// `">30"` → `(">", "30")`.
fn looks_like_expression(text: &str) -> Option<(&'static str, &str)> {
    let t = text.trim();
    for op in [">=", "<=", "==", "!=", ">", "<"] {
        if let Some(rest) = t.strip_prefix(op) {
            let rest = rest.trim();
            if rest.parse::<f64>().is_ok() {
                return Some((op, rest));
            }
        }
    }
    None
}

fn suggest_prefix(key: &str) -> Option<String> {
    let fixes = [
        ("=>", ">="),
        ("=<", "<="),
        (">>", ">"),
        ("<<", "<"),
        ("=", "=="),
        ("!", "!="),
    ];
    fixes.iter().find_map(|(bad, good)| {
        let rest = key.strip_prefix(bad)?;
        crate::model::is_path(rest).then(|| format!("{good}{rest}"))
    })
}

/// `unsatisfiable`, `conflict` and `unreachable`. Returns how many rules were
/// left unanalysed when the work budget ran out.
fn exact_checks(
    bundle: &crate::model::Bundle,
    broken: &HashSet<usize>,
    config: &LintConfig,
    doc: &Doc<'_>,
    out: &mut Listed,
) -> usize {
    let mut universe = Universe::new(&[bundle]);
    // Disabled rules match nothing; rules with errors are not reasoned about.
    let mut order: Vec<&Rule> = bundle
        .rules
        .iter()
        .filter(|r| r.enabled && !broken.contains(&r.index))
        .collect();
    order.sort_by_key(|r| std::cmp::Reverse(r.priority));
    let regions: Vec<RuleRegion> = order.iter().map(|r| universe.region(r)).collect();
    let universe = universe;
    let empty: Vec<bool> = regions.iter().map(|rr| rr.region.is_empty()).collect();

    for (pos, rr) in regions.iter().enumerate() {
        let (Some(r), true) = (order.get(pos), rr.region.is_empty()) else {
            continue;
        };
        out.offer(doc, "unsatisfiable", Some(r.index), 0, || {
            doc.finding(
                "unsatisfiable",
                Some(r.index),
                format!(
                    "the conditions of rule `{}` can never hold together{}",
                    r.id,
                    clash(r, &universe, rr)
                ),
                null_help(r)
                    .as_deref()
                    .unwrap_or("fix the thresholds, or remove the rule: it matches no request"),
            )
        });
    }

    let groups = Groups::new(&order, &regions, &empty);
    let mut work = Work {
        left: vec![config.work_budget; groups.keys.len()],
        total: config.total_work_budget,
    };
    let exact = Exact {
        order: &order,
        regions: &regions,
        universe: &universe,
        groups: &groups,
        witness_bytes: regions
            .iter()
            .map(|rr| universe.witness_bytes(&rr.region))
            .collect(),
    };
    // Rule by rule in decision order, both pair checks: when a group's
    // budget runs out, the rules left in it are the ones not analysed.
    let mut incomplete = 0;
    let mut overlapping = Vec::new();
    for pos in 0..order.len() {
        if empty.get(pos).copied().unwrap_or(true) {
            continue;
        }
        let g = groups.of.get(pos).copied().unwrap_or(0);
        let done = groups.overlapping(g, &mut overlapping, &mut work)
            && exact.conflicts(pos, g, &overlapping, &mut work, doc, out)
            && exact.unreachable(pos, g, &overlapping, &mut work, doc, out);
        if !done {
            incomplete += 1;
        }
    }
    incomplete
}

/// The work left: per group and in total.
struct Work {
    left: Vec<u64>,
    total: u64,
}

impl Work {
    fn available(&self, g: usize) -> u64 {
        self.left.get(g).copied().unwrap_or(0).min(self.total)
    }

    /// Takes `cost` from group `g`'s budget; false (taking nothing) when it
    /// is not there.
    fn spend(&mut self, g: usize, cost: u64) -> bool {
        if self.available(g) < cost {
            return false;
        }
        if let Some(left) = self.left.get_mut(g) {
            *left -= cost;
        }
        self.total -= cost;
        true
    }

    /// Runs a search that counts its own work down, and charges group `g`
    /// what it used.
    fn run<T>(&mut self, g: usize, search: impl FnOnce(&mut u64) -> T) -> T {
        let available = self.available(g);
        let mut left = available;
        let result = search(&mut left);
        let used = available.saturating_sub(left);
        if let Some(l) = self.left.get_mut(g) {
            *l = l.saturating_sub(used);
        }
        self.total = self.total.saturating_sub(used);
        result
    }
}

/// An agent pattern as an index key, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AgentKey<'a> {
    Any,
    Namespace(&'a str),
    Exact(&'a str),
}

impl<'a> AgentKey<'a> {
    fn of(p: &'a AgentPattern) -> Self {
        match p {
            AgentPattern::Any => AgentKey::Any,
            AgentPattern::Namespace(ns) => AgentKey::Namespace(ns),
            AgentPattern::Exact(a) => AgentKey::Exact(a),
        }
    }
}

/// Rules grouped by (agent pattern, action pattern), with an index to find
/// the groups whose patterns overlap a group's without comparing every two
/// groups.
struct Groups<'a> {
    /// The group of each rule (by position in decision order).
    of: Vec<usize>,
    keys: Vec<(&'a AgentPattern, &'a ActionPattern)>,
    /// Per group, positions of rules the others are compared with (exact
    /// and satisfiable), ascending: `allow` and `deny` rules, and all.
    allow: Vec<Vec<usize>>,
    deny: Vec<Vec<usize>>,
    all: Vec<Vec<usize>>,
    /// Groups by agent pattern, then action pattern.
    by_agent: HashMap<AgentKey<'a>, HashMap<&'a ActionPattern, usize>>,
    /// Groups of any agent pattern by action pattern.
    by_action: HashMap<&'a ActionPattern, Vec<usize>>,
    /// Exact agent names by each namespace that matches them.
    in_namespace: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> Groups<'a> {
    fn new(order: &[&'a Rule], regions: &[RuleRegion], empty: &[bool]) -> Groups<'a> {
        let mut g = Groups {
            of: Vec::with_capacity(order.len()),
            keys: Vec::new(),
            allow: Vec::new(),
            deny: Vec::new(),
            all: Vec::new(),
            by_agent: HashMap::new(),
            by_action: HashMap::new(),
            in_namespace: HashMap::new(),
        };
        for (pos, r) in order.iter().enumerate() {
            let n = g.keys.len();
            let id = *g
                .by_agent
                .entry(AgentKey::of(&r.agent))
                .or_default()
                .entry(&r.action)
                .or_insert(n);
            if id == n {
                g.keys.push((&r.agent, &r.action));
                g.allow.push(Vec::new());
                g.deny.push(Vec::new());
                g.all.push(Vec::new());
                g.by_action.entry(&r.action).or_default().push(id);
                if let AgentPattern::Exact(name) = &r.agent {
                    for (dot, _) in name.match_indices('.') {
                        if let Some(ns) = name.get(..dot) {
                            let names = g.in_namespace.entry(ns).or_default();
                            if names.last() != Some(&name.as_str()) {
                                names.push(name);
                            }
                        }
                    }
                }
            }
            g.of.push(id);
            let compared = regions.get(pos).is_some_and(|rr| rr.exact)
                && !empty.get(pos).copied().unwrap_or(true);
            if compared {
                let lists = [
                    (r.effect == Effect::Allow, &mut g.allow),
                    (r.effect == Effect::Deny, &mut g.deny),
                    (true, &mut g.all),
                ];
                for (member, list) in lists {
                    if let (true, Some(l)) = (member, list.get_mut(id)) {
                        l.push(pos);
                    }
                }
            }
        }
        g
    }

    /// The groups whose agent and action patterns overlap group `g`'s,
    /// ascending, into `out`. Spends one unit per group looked at; false
    /// when the budget runs out.
    fn overlapping(&self, g: usize, out: &mut Vec<usize>, work: &mut Work) -> bool {
        out.clear();
        let Some(&(agent, action)) = self.keys.get(g) else {
            return true;
        };
        let mut candidates: Vec<usize> = Vec::new();
        let of_agent = |key: AgentKey<'_>, into: &mut Vec<usize>| {
            let Some(by_action) = self.by_agent.get(&key) else {
                return;
            };
            match action {
                ActionPattern::Any => into.extend(by_action.values().copied()),
                ActionPattern::Exact(_) => into.extend(
                    [by_action.get(action), by_action.get(&ActionPattern::Any)]
                        .into_iter()
                        .flatten()
                        .copied(),
                ),
            }
        };
        match agent {
            AgentPattern::Any => match action {
                ActionPattern::Any => candidates.extend(0..self.keys.len()),
                ActionPattern::Exact(_) => candidates.extend(
                    [
                        self.by_action.get(action),
                        self.by_action.get(&ActionPattern::Any),
                    ]
                    .into_iter()
                    .flatten()
                    .flatten()
                    .copied(),
                ),
            },
            AgentPattern::Exact(name) => {
                of_agent(AgentKey::Exact(name), &mut candidates);
                for (dot, _) in name.match_indices('.') {
                    if let Some(ns) = name.get(..dot) {
                        of_agent(AgentKey::Namespace(ns), &mut candidates);
                    }
                }
                of_agent(AgentKey::Any, &mut candidates);
            }
            AgentPattern::Namespace(ns) => {
                of_agent(AgentKey::Namespace(ns), &mut candidates);
                of_agent(AgentKey::Any, &mut candidates);
                for name in self.in_namespace.get(ns.as_str()).into_iter().flatten() {
                    if !work.spend(g, 1) {
                        return false;
                    }
                    of_agent(AgentKey::Exact(name), &mut candidates);
                }
            }
        }
        if !work.spend(g, candidates.len() as u64) {
            return false;
        }
        out.extend(candidates.into_iter().filter(|&h| {
            self.keys
                .get(h)
                .is_some_and(|(a, b)| agents_overlap(agent, a) && actions_overlap(action, b))
        }));
        out.sort_unstable();
        out.dedup();
        true
    }
}

/// What the pair checks compare.
struct Exact<'a> {
    order: &'a [&'a Rule],
    regions: &'a [RuleRegion],
    universe: &'a Universe,
    groups: &'a Groups<'a>,
    /// Per rule, an upper bound of what its part of a witness takes.
    witness_bytes: Vec<usize>,
}

impl Exact<'_> {
    /// Conflicts of the rule at `pos` with the rules decided after it: an
    /// allow and a deny rule that can match the same request. False when the
    /// budget ran out before every pair was compared.
    fn conflicts(
        &self,
        pos: usize,
        g: usize,
        overlapping: &[usize],
        work: &mut Work,
        doc: &Doc<'_>,
        out: &mut Listed,
    ) -> bool {
        let (Some(r), Some(rr)) = (self.order.get(pos), self.regions.get(pos)) else {
            return true;
        };
        let others = match r.effect {
            Effect::Allow if rr.exact => &self.groups.deny,
            Effect::Deny if rr.exact => &self.groups.allow,
            _ => return true,
        };
        for &h in overlapping {
            let members = others.get(h).map_or(&[][..], Vec::as_slice);
            let after = members.partition_point(|&o| o <= pos);
            for &other in members.get(after..).unwrap_or_default() {
                let (Some(o), Some(or)) = (self.order.get(other), self.regions.get(other)) else {
                    continue;
                };
                if !work.spend(g, cost(&[&rr.region, &or.region])) {
                    return false;
                }
                if !rr.region.intersects(&or.region) {
                    continue;
                }
                let estimate = self.witness_bytes.get(pos).copied().unwrap_or(0)
                    + self.witness_bytes.get(other).copied().unwrap_or(0);
                out.offer(doc, "conflict", Some(r.index), estimate, || {
                    let witness = self.universe.witness(&rr.region.intersect(&or.region));
                    let mut f = doc.finding(
                        "conflict",
                        Some(r.index),
                        format!(
                            "{} rule `{}` and {} rule `{}` can both match one request; `{}` decides it",
                            r.effect, r.id, o.effect, o.id, r.id
                        ),
                        "make the rules exclusive (narrow one's conditions), or keep the priority order deliberately: the witness request shows an overlap",
                    );
                    f.related_rules = vec![o.id.clone()];
                    f.witness = Some(witness);
                    f
                });
            }
        }
        true
    }

    /// Whether the rule at `pos` is covered by the union of the rules decided
    /// before it. False when the budget ran out before it was known.
    fn unreachable(
        &self,
        pos: usize,
        g: usize,
        overlapping: &[usize],
        work: &mut Work,
        doc: &Doc<'_>,
        out: &mut Listed,
    ) -> bool {
        let (Some(r), Some(rr)) = (self.order.get(pos), self.regions.get(pos)) else {
            return true;
        };
        let mut earlier: Vec<usize> = Vec::new();
        for &h in overlapping {
            let members = self.groups.all.get(h).map_or(&[][..], Vec::as_slice);
            let before = members.partition_point(|&o| o < pos);
            for &o in members.get(..before).unwrap_or_default() {
                let Some(or) = self.regions.get(o) else {
                    continue;
                };
                if !work.spend(g, cost(&[&rr.region, &or.region])) {
                    return false;
                }
                if rr.region.intersects(&or.region) {
                    earlier.push(o);
                }
            }
        }
        if earlier.is_empty() {
            return true;
        }
        earlier.sort_unstable();
        // The common shadowing: one earlier rule matches everything this
        // one does. Then that rule alone is named.
        let mut single = None;
        for &o in &earlier {
            let Some(or) = self.regions.get(o) else {
                continue;
            };
            if !work.spend(g, cost(&[&rr.region, &or.region])) {
                return false;
            }
            if rr.region.is_subset_of(&or.region, self.universe) {
                single = Some(o);
                break;
            }
        }
        let outcome = if single.is_some() {
            Cover::Covered
        } else {
            let boxes: Vec<&Region> = earlier
                .iter()
                .filter_map(|&o| self.regions.get(o).map(|x| &x.region))
                .collect();
            if work.run(g, |w| escapes(&rr.region, &boxes, self.universe, w)) {
                Cover::NotCovered
            } else {
                // Larger boxes first: the search splits less.
                let mut sorted = boxes;
                sorted.sort_by_key(|b| b.constraints());
                work.run(g, |w| covered(&rr.region, &sorted, w, self.universe))
            }
        };
        match outcome {
            Cover::NotCovered => true,
            Cover::Unknown => false,
            Cover::Covered => {
                out.offer(doc, "unreachable", Some(r.index), 0, || {
                    let shadows = match single {
                        Some(o) => vec![o],
                        None => work.run(g, |w| {
                            minimal_cover(&rr.region, &earlier, self.regions, w, self.universe)
                        }),
                    };
                    let names: Vec<String> = shadows
                        .iter()
                        .take(MAX_NAMED_RULES)
                        .filter_map(|&o| self.order.get(o))
                        .map(|o| o.id.clone())
                        .collect();
                    let more = shadows.len().saturating_sub(names.len());
                    let mut list = names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    if more > 0 {
                        list.push_str(&format!(" and {more} more rule{}", plural(more)));
                    }
                    let mut f = doc.finding(
                        "unreachable",
                        Some(r.index),
                        format!(
                            "rule `{}` can never decide: every request it matches is decided first by {list}",
                            r.id
                        ),
                        &format!(
                            "remove it, raise its priority above {list}, or narrow the earlier rule{}",
                            plural(shadows.len())
                        ),
                    );
                    f.related_rules = names;
                    f
                });
                true
            }
        }
    }
}

/// Drops shadowing rules that the others cover without, while the budget
/// allows; what is left is named in the finding.
fn minimal_cover(
    region: &Region,
    earlier: &[usize],
    regions: &[RuleRegion],
    work: &mut u64,
    universe: &Universe,
) -> Vec<usize> {
    let mut keep: Vec<usize> = earlier.to_vec();
    if keep.len() > MAX_NAMED_RULES {
        return keep;
    }
    let mut i = keep.len();
    while i > 0 {
        i -= 1;
        let trial: Vec<usize> = keep
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, o)| *o)
            .collect();
        let boxes: Vec<&Region> = trial
            .iter()
            .filter_map(|&o| regions.get(o).map(|x| &x.region))
            .collect();
        if !boxes.is_empty() && covered(region, &boxes, work, universe) == Cover::Covered {
            keep = trial;
        }
    }
    keep
}

/// For an unsatisfiable rule: the conditions on the field that cannot hold.
fn clash(rule: &Rule, universe: &Universe, rr: &RuleRegion) -> String {
    let Some(field) = universe.empty_field(&rr.region) else {
        return String::new();
    };
    let keys: Vec<String> = rule
        .conditions
        .iter()
        .filter(|c| universe.condition_is_on(c, &field))
        .map(|c| format!("`{}`", c.key))
        .collect();
    if keys.is_empty() {
        String::new()
    } else {
        format!(" ({})", keys.join(" and "))
    }
}

/// Some agent name matches both patterns.
pub fn agents_overlap(a: &AgentPattern, b: &AgentPattern) -> bool {
    use AgentPattern::*;
    match (a, b) {
        (Any, _) | (_, Any) => true,
        (Exact(x), Exact(y)) => x == y,
        (Namespace(ns), Exact(x)) | (Exact(x), Namespace(ns)) => Namespace(ns.clone()).matches(x),
        (Namespace(x), Namespace(y)) => x == y,
    }
}

/// Some action matches both patterns.
pub fn actions_overlap(a: &ActionPattern, b: &ActionPattern) -> bool {
    match (a, b) {
        (ActionPattern::Any, _) | (_, ActionPattern::Any) => true,
        (ActionPattern::Exact(x), ActionPattern::Exact(y)) => x == y,
    }
}

/// The help for a rule that compares a field with `null`: a `null` in a
/// request counts as missing, so `x: null` matches nothing (issue 26).
fn null_help(rule: &Rule) -> Option<String> {
    let c = rule
        .conditions
        .iter()
        .find(|c| c.op == Op::Eq && matches!(&c.operand, Operand::Value(Value::Null)))?;
    let field = match &c.field {
        Field::Path(p) => p.join("."),
        _ => return None,
    };
    Some(format!(
        "a `null` in a request counts as missing: to match a missing `{field}`, write `exists:{field}: false`"
    ))
}
