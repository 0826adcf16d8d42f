//! The linter (DESIGN §3.2, §11.5): findings, not errors, for every problem
//! a bundle has, including rules that can never decide anything.
//!
//! `conflict`, `unreachable` and `unsatisfiable` are exact: they reason over
//! each rule's region (see `region.rs`). Where a condition cannot be
//! reasoned about exactly the linter stays silent rather than guess, so
//! every `unreachable` or `unsatisfiable` finding is true.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::doc::{Node, NodeValue};
use crate::model::{ActionPattern, AgentPattern, ConditionKey, Effect, Rule, parse_condition_key};
use crate::region::{Cover, Region, RuleRegion, Universe, covered, escapes};
use crate::validate::{Check, check_document};

/// How bad a finding is; only errors fail a lint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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
        "analysis-incomplete" => "The exact checks ran out of their work budget",
        _ => "",
    }
}

/// A reason shorter than this many characters is a warning.
pub const SHORT_REASON: usize = 10;
/// A `budget.cost` over this many USD is a warning.
pub const HIGH_COST: f64 = 1000.0;

/// One problem the linter found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub rule_id: Option<String>,
    /// The rule's 0-based position in the bundle.
    pub index: Option<usize>,
    /// The rule's 1-based line (or the problem's, outside rules).
    pub line: Option<u32>,
    pub message: String,
    pub suggestion: String,
    /// The other rules involved: the other side of a conflict, the
    /// shadowing rules, the first use of a duplicated id.
    pub related_rules: Vec<String>,
    /// For `conflict`: a request both rules match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<serde_json::Value>,
    /// The file, as given on the command line (set by the caller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// Counts over the findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    pub total_rules: usize,
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
    pub total_issues: usize,
    /// Rules whose exact checks were skipped when the work budget ran out.
    pub analysis_incomplete: usize,
}

impl Summary {
    /// Adds another file's counts (`gavel lint A B` reports one summary).
    pub fn add(&mut self, o: &Summary) {
        self.total_rules += o.total_rules;
        self.errors += o.errors;
        self.warnings += o.warnings;
        self.info += o.info;
        self.total_issues += o.total_issues;
        self.analysis_incomplete += o.analysis_incomplete;
    }
}

/// The linter's result for one document.
#[derive(Debug, Clone, PartialEq)]
pub struct LintReport {
    pub summary: Summary,
    /// In order: severity, then the table's order of checks, then rule index.
    pub findings: Vec<Finding>,
}

impl LintReport {
    /// True when there are no errors; warnings never fail.
    pub fn passed(&self) -> bool {
        self.summary.errors == 0
    }
}

/// Knobs of the linter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LintConfig {
    /// Box operations the exact checks may spend per agent/action group.
    pub work_budget: u64,
}

impl Default for LintConfig {
    fn default() -> Self {
        LintConfig {
            work_budget: 20_000,
        }
    }
}

/// Lints a parsed document (which need not be a valid bundle).
pub fn lint(document: &Node, config: &LintConfig) -> LintReport {
    let (bundle, problems) = check_document(document);
    let rule_nodes: Vec<&Node> = match &document.value {
        NodeValue::Seq(items) => items.iter().collect(),
        _ => document
            .get("rules")
            .and_then(Node::as_seq)
            .map(|s| s.iter().collect())
            .unwrap_or_default(),
    };
    let mut out = Findings {
        findings: Vec::new(),
        nodes: &rule_nodes,
    };

    // Problems validation found, each under its own code.
    let mut broken: HashSet<usize> = HashSet::new();
    for p in &problems {
        let code = match p.check {
            Check::InvalidRule => "invalid-rule",
            Check::MissingId => "missing-id",
            Check::DuplicateId => "duplicate-id",
            Check::MissingReason => "missing-reason",
            Check::InvalidConditions => "invalid-conditions",
            Check::UnknownAction => "unknown-action",
        };
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
        let mut f = out.finding(
            code,
            Severity::Error,
            p.index,
            p.diagnostic.message.clone(),
            suggestion,
        );
        if p.index.is_none() {
            f.line = p.diagnostic.line;
        }
        f.related_rules = p.related.clone();
        out.findings.push(f);
    }

    for r in &bundle.rules {
        let chars = r.reason.chars().count();
        if chars > 0 && chars < SHORT_REASON && !r.reason.trim().is_empty() {
            let f = out.finding(
                "short-reason",
                Severity::Warning,
                Some(r.index),
                format!("reason `{}` is {chars} characters; under {SHORT_REASON} rarely explains a rule", r.reason),
                "say why the rule exists, for the person reading a decision it made",
            );
            out.findings.push(f);
        }
        suspicious(r, &mut out);
    }

    let incomplete = exact_checks(&bundle, &broken, config, &mut out);

    for r in &bundle.rules {
        if r.effect == Effect::NeedsApproval && r.budget.is_none() {
            let f = out.finding(
                "missing-budget",
                Severity::Warning,
                Some(r.index),
                format!("rule `{}` asks for approval but has no `budget`", r.id),
                "add `budget: {cost: …, compute: …, risk: low|medium|high}` so simulations can estimate what approvals cost",
            );
            out.findings.push(f);
        }
        if let Some(cost) = r.budget.and_then(|b| b.cost).filter(|c| *c > HIGH_COST) {
            let f = out.finding(
                "high-cost",
                Severity::Warning,
                Some(r.index),
                format!(
                    "rule `{}` costs ${cost:.2} a match, over ${HIGH_COST:.0}",
                    r.id
                ),
                "check the unit (USD per match) or split the action into cheaper steps",
            );
            out.findings.push(f);
        }
    }
    for r in bundle.rules.iter().filter(|r| !r.enabled) {
        let f = out.finding(
            "disabled",
            Severity::Info,
            Some(r.index),
            format!("rule `{}` is disabled and decides nothing", r.id),
            "remove it when it is no longer needed; the version history keeps it",
        );
        out.findings.push(f);
    }
    if incomplete > 0 {
        out.findings.push(Finding {
            code: "analysis-incomplete",
            severity: Severity::Info,
            rule_id: None,
            index: None,
            line: None,
            message: format!(
                "the exact checks ran out of their work budget: conflicts, shadowing and satisfiability of {incomplete} rule{} were not analysed",
                if incomplete == 1 { "" } else { "s" }
            ),
            suggestion: "split large agent/action groups, or run `gavel lint` with a larger budget".to_string(),
            related_rules: Vec::new(),
            witness: None,
            file: None,
        });
    }

    let mut findings = out.findings;
    let order = |code: &str| {
        CHECKS
            .iter()
            .position(|c| *c == code)
            .unwrap_or(CHECKS.len())
    };
    findings.sort_by_key(|f| (f.severity, order(f.code), f.index.map_or(0, |i| i + 1)));
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let summary = Summary {
        total_rules: rule_nodes.len(),
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
        info: count(Severity::Info),
        total_issues: findings.len(),
        analysis_incomplete: incomplete,
    };
    LintReport { summary, findings }
}

struct Findings<'a> {
    findings: Vec<Finding>,
    nodes: &'a [&'a Node],
}

impl Findings<'_> {
    fn finding(
        &self,
        code: &'static str,
        severity: Severity,
        index: Option<usize>,
        message: String,
        suggestion: &str,
    ) -> Finding {
        let node = index.and_then(|i| self.nodes.get(i));
        Finding {
            code,
            severity,
            rule_id: node
                .and_then(|n| n.get("id"))
                .and_then(Node::as_str)
                .map(str::to_string),
            index,
            line: node.map(|n| n.location.line),
            message,
            suggestion: suggestion.to_string(),
            related_rules: Vec::new(),
            witness: None,
            file: None,
        }
    }
}

/// `=>x`, `!x`, `>>x`, `risk_score>=`, and values like `">30"`.
fn suspicious(r: &Rule, out: &mut Findings<'_>) {
    const OPS: [&str; 6] = [">=", "<=", "==", "!=", ">", "<"];
    for c in &r.conditions {
        let key = c.key.as_str();
        let plain = matches!(parse_condition_key(key), ConditionKey::Plain(_));
        let problem = if plain && key.starts_with(['<', '>', '=', '!']) {
            let fixed = suggest_prefix(key);
            Some((
                format!("condition key `{key}` starts like an operator but is none, so it compares a field literally named `{key}`, which requests never have"),
                match fixed {
                    Some(f) => format!("did you mean `{f}`?"),
                    None => "write the operator first: `>=field`, `<=field`, `>field`, `<field`, `==field` or `!=field`".to_string(),
                },
            ))
        } else if let Some(op) = OPS.iter().find(|op| plain && key.ends_with(*op)) {
            let field = key.trim_end_matches(['<', '>', '=', '!']);
            Some((
                format!(
                    "condition key `{key}` puts the operator after the field, so it never matches"
                ),
                format!("write `{op}{field}`"),
            ))
        } else if let (Some(text), crate::model::Op::Eq | crate::model::Op::Ne) =
            (operand_text(c), c.op)
        {
            looks_like_expression(text).map(|(op, rest)| {
                let field = key.trim_start_matches(['=', '!']);
                (
                    format!("condition `{key}` compares with the string `{text}`, which looks like an operator expression"),
                    format!("write `\"{op}{field}\": {rest}`"),
                )
            })
        } else {
            None
        };
        if let Some((message, suggestion)) = problem {
            let f = out.finding(
                "suspicious-operator",
                Severity::Warning,
                Some(r.index),
                message,
                &suggestion,
            );
            out.findings.push(f);
        }
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
/// left unanalysed when a group's work budget ran out.
fn exact_checks(
    bundle: &crate::model::Bundle,
    broken: &HashSet<usize>,
    config: &LintConfig,
    out: &mut Findings<'_>,
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

    // Rules grouped by (agent pattern, action pattern); two groups are
    // compared only when their patterns overlap.
    let mut group_of: Vec<usize> = Vec::with_capacity(order.len());
    let mut groups: Vec<(&AgentPattern, &ActionPattern, Vec<usize>)> = Vec::new();
    let mut group_index: HashMap<(&AgentPattern, &ActionPattern), usize> = HashMap::new();
    for (pos, r) in order.iter().enumerate() {
        let g = *group_index.entry((&r.agent, &r.action)).or_insert_with(|| {
            groups.push((&r.agent, &r.action, Vec::new()));
            groups.len() - 1
        });
        if let Some(group) = groups.get_mut(g) {
            group.2.push(pos);
        }
        group_of.push(g);
    }
    let overlapping: Vec<Vec<usize>> = groups
        .iter()
        .map(|(a, b, _)| {
            groups
                .iter()
                .enumerate()
                .filter(|(_, (c, d, _))| agents_overlap(a, c) && actions_overlap(b, d))
                .map(|(h, _)| h)
                .collect()
        })
        .collect();

    let mut empty = vec![false; order.len()];
    for (pos, rr) in regions.iter().enumerate() {
        if rr.region.is_empty() {
            if let Some(e) = empty.get_mut(pos) {
                *e = true;
            }
            if let Some(r) = order.get(pos) {
                let f = out.finding(
                    "unsatisfiable",
                    Severity::Warning,
                    Some(r.index),
                    format!(
                        "the conditions of rule `{}` can never hold together{}",
                        r.id,
                        clash(r, &universe, rr)
                    ),
                    "fix the thresholds, or remove the rule: it matches no request",
                );
                out.findings.push(f);
            }
        }
    }

    // Conflicts: an allow and a deny rule that can match the same request.
    for (pos, r) in order.iter().enumerate() {
        let (Some(rr), false) = (regions.get(pos), empty.get(pos).copied().unwrap_or(true)) else {
            continue;
        };
        if !rr.exact || !matches!(r.effect, Effect::Allow | Effect::Deny) {
            continue;
        }
        let g = group_of.get(pos).copied().unwrap_or(0);
        for &h in overlapping.get(g).into_iter().flatten() {
            let Some((_, _, members)) = groups.get(h) else {
                continue;
            };
            for &other in members.iter().filter(|&&o| o > pos) {
                let (Some(o), Some(or)) = (order.get(other), regions.get(other)) else {
                    continue;
                };
                let opposite = matches!(
                    (r.effect, o.effect),
                    (Effect::Allow, Effect::Deny) | (Effect::Deny, Effect::Allow)
                );
                if !opposite || !or.exact || empty.get(other).copied().unwrap_or(true) {
                    continue;
                }
                if rr.region.intersects(&or.region) {
                    let witness = universe.witness(&rr.region.intersect(&or.region));
                    let mut f = out.finding(
                        "conflict",
                        Severity::Warning,
                        Some(r.index),
                        format!(
                            "{} rule `{}` and {} rule `{}` can both match one request; `{}` decides it",
                            r.effect, r.id, o.effect, o.id, r.id
                        ),
                        "make the rules exclusive (narrow one's conditions), or keep the priority order deliberately: the witness request shows an overlap",
                    );
                    f.related_rules = vec![o.id.clone()];
                    f.witness = Some(witness);
                    out.findings.push(f);
                }
            }
        }
    }

    // Unreachable: covered by the union of the rules decided before it.
    let mut budget: Vec<u64> = vec![config.work_budget; groups.len()];
    let mut incomplete = 0;
    for (pos, r) in order.iter().enumerate() {
        if empty.get(pos).copied().unwrap_or(true) {
            continue;
        }
        let Some(rr) = regions.get(pos) else { continue };
        let g = group_of.get(pos).copied().unwrap_or(0);
        let mut earlier: Vec<usize> = overlapping
            .get(g)
            .into_iter()
            .flatten()
            .filter_map(|h| groups.get(*h))
            .flat_map(|(_, _, members)| members.iter().copied().filter(|&o| o < pos))
            .filter(|&o| {
                regions
                    .get(o)
                    .is_some_and(|or| or.exact && rr.region.intersects(&or.region))
                    && !empty.get(o).copied().unwrap_or(true)
            })
            .collect();
        if earlier.is_empty() {
            continue;
        }
        earlier.sort_unstable();
        let Some(work) = budget.get_mut(g) else {
            continue;
        };
        if *work == 0 {
            incomplete += 1;
            continue;
        }
        let boxes: Vec<&Region> = earlier
            .iter()
            .filter_map(|&o| regions.get(o).map(|x| &x.region))
            .collect();
        // The common shadowing: one earlier rule matches everything this
        // one does. Then that rule alone is named.
        let single = earlier.iter().find(|&&o| {
            regions
                .get(o)
                .is_some_and(|or| rr.region.is_subset_of(&or.region, &universe))
        });
        let outcome = if single.is_some() {
            Cover::Covered
        } else if escapes(&rr.region, &boxes, &universe) {
            Cover::NotCovered
        } else {
            // Larger boxes first: the search splits less.
            let mut sorted = boxes.clone();
            sorted.sort_by_key(|b| b.constraints());
            covered(&rr.region, &sorted, work, &universe)
        };
        match outcome {
            Cover::NotCovered => {}
            Cover::Unknown => incomplete += 1,
            Cover::Covered => {
                let shadows = match single {
                    Some(&o) => vec![o],
                    None => minimal_cover(&rr.region, &earlier, &regions, work, &universe),
                };
                let names: Vec<String> = shadows
                    .iter()
                    .filter_map(|&o| order.get(o))
                    .map(|o| o.id.clone())
                    .collect();
                let list = names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut f = out.finding(
                    "unreachable",
                    Severity::Warning,
                    Some(r.index),
                    format!(
                        "rule `{}` can never decide: every request it matches is decided first by {list}",
                        r.id
                    ),
                    &format!(
                        "remove it, raise its priority above {list}, or narrow the earlier rule{}",
                        if names.len() == 1 { "" } else { "s" }
                    ),
                );
                f.related_rules = names;
                out.findings.push(f);
            }
        }
    }
    incomplete
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
    if keep.len() > 16 {
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
