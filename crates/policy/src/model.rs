//! The bundle model: what a validated bundle says, with source locations.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::doc::{Location, Node};
use crate::value::Value;

/// The standard action vocabulary; bundles may add to it in `metadata.actions`.
pub const STANDARD_ACTIONS: [&str; 9] = [
    "allow",
    "quarantine",
    "escalate",
    "apply",
    "update",
    "delete",
    "reindex",
    "deploy",
    "rollback",
];

/// What a decision says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
    NeedsApproval,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
            Effect::NeedsApproval => "needs_approval",
        }
    }

    pub fn parse(s: &str) -> Option<Effect> {
        match s {
            "allow" => Some(Effect::Allow),
            "deny" => Some(Effect::Deny),
            "needs_approval" => Some(Effect::NeedsApproval),
            _ => None,
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated bundle. Built by [`crate::parse_bundle`] or
/// [`Bundle::from_document`]; the document it came from is kept for digests
/// and diagnostics.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub metadata: Metadata,
    pub rules: Vec<Rule>,
    /// True when the file was a bare list of rules.
    pub bare_list: bool,
    pub(crate) document: Node,
    pub(crate) timezone: jiff::tz::TimeZone,
}

impl Bundle {
    /// The document as parsed, in the JSON data model with locations.
    pub fn document(&self) -> &Node {
        &self.document
    }

    /// The time zone `$hour` and `$weekday` are read in (UTC by default).
    pub fn timezone(&self) -> &jiff::tz::TimeZone {
        &self.timezone
    }

    /// Whether `action` is in the bundle's vocabulary.
    pub fn knows_action(&self, action: &str) -> bool {
        action == "*"
            || STANDARD_ACTIONS.contains(&action)
            || self.metadata.actions.iter().any(|a| a == action)
    }
}

/// Bundle metadata (empty for a bare rule list).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    pub name: Option<String>,
    pub version: Option<String>,
    pub notes: Option<String>,
    pub default_effect: Effect,
    pub actions: Vec<String>,
    pub timezone: Option<String>,
}

impl Default for Effect {
    /// The decision when no rule matches and the bundle says nothing.
    fn default() -> Self {
        Effect::Deny
    }
}

/// Which agents a rule covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AgentPattern {
    /// `*`
    Any,
    /// `inbox.*`: the namespace without the dot.
    Namespace(String),
    /// `inbox.triage`
    Exact(String),
}

impl AgentPattern {
    pub fn parse(s: &str) -> AgentPattern {
        if s == "*" {
            AgentPattern::Any
        } else if let Some(ns) = s.strip_suffix(".*") {
            AgentPattern::Namespace(ns.to_string())
        } else {
            AgentPattern::Exact(s.to_string())
        }
    }

    pub fn matches(&self, agent: &str) -> bool {
        match self {
            AgentPattern::Any => true,
            AgentPattern::Namespace(ns) => agent
                .strip_prefix(ns.as_str())
                .is_some_and(|rest| rest.starts_with('.')),
            AgentPattern::Exact(a) => a == agent,
        }
    }
}

impl fmt::Display for AgentPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentPattern::Any => f.write_str("*"),
            AgentPattern::Namespace(ns) => write!(f, "{ns}.*"),
            AgentPattern::Exact(a) => f.write_str(a),
        }
    }
}

/// Which actions a rule covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ActionPattern {
    Any,
    Exact(String),
}

impl ActionPattern {
    pub fn parse(s: &str) -> ActionPattern {
        if s == "*" {
            ActionPattern::Any
        } else {
            ActionPattern::Exact(s.to_string())
        }
    }

    pub fn matches(&self, action: &str) -> bool {
        match self {
            ActionPattern::Any => true,
            ActionPattern::Exact(a) => a == action,
        }
    }
}

impl fmt::Display for ActionPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionPattern::Any => f.write_str("*"),
            ActionPattern::Exact(a) => f.write_str(a),
        }
    }
}

/// A rule's risk label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    Medium,
    High,
}

/// What a match costs. Each field is optional; a missing cost or compute
/// counts as 0 in sums.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Budget {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
}

/// One rule of a bundle.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub agent: AgentPattern,
    pub action: ActionPattern,
    pub effect: Effect,
    pub conditions: Vec<Condition>,
    pub reason: String,
    pub priority: u8,
    pub budget: Option<Budget>,
    pub approvals_required: u32,
    pub enabled: bool,
    pub tags: Vec<String>,
    /// 0-based position in the bundle.
    pub index: usize,
    /// Where the rule starts in the source.
    pub location: Location,
}

/// A condition operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Ge,
    Le,
    Gt,
    Lt,
    In,
    NotIn,
    Contains,
    Matches,
    Exists,
}

impl Op {
    /// The prefix operators, longest first (the order keys are tried in).
    pub const PREFIXES: [(&'static str, Op); 6] = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        (">", Op::Gt),
        ("<", Op::Lt),
    ];

    /// The word operators, written `word:path`.
    pub const WORDS: [(&'static str, Op); 5] = [
        ("in", Op::In),
        ("not_in", Op::NotIn),
        ("contains", Op::Contains),
        ("matches", Op::Matches),
        ("exists", Op::Exists),
    ];

    pub fn is_ordering(self) -> bool {
        matches!(self, Op::Ge | Op::Le | Op::Gt | Op::Lt)
    }
}

/// The field a condition reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// A path into the request context, split at dots. A key that is not a
    /// valid path is one segment holding the whole key.
    Path(Vec<String>),
    /// `$hour`, 0–23 in the bundle's time zone.
    Hour,
    /// `$weekday`, `mon` … `sun` in the bundle's time zone.
    Weekday,
}

/// The right-hand side of a condition, pre-parsed.
#[derive(Debug, Clone)]
pub enum Operand {
    Value(Value<'static>),
    Number(f64),
    List(Vec<Value<'static>>),
    Regex(Pattern),
    Exists(bool),
}

/// A compiled `matches:` pattern. Identical patterns of one bundle share
/// one compiled program (cloning is cheap).
#[derive(Clone)]
pub struct Pattern {
    source: std::sync::Arc<str>,
    regex: regex_automata::meta::Regex,
}

impl Pattern {
    pub(crate) fn new(source: &str, regex: regex_automata::meta::Regex) -> Self {
        Pattern {
            source: source.into(),
            regex,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// An unanchored search, as DESIGN §11.2 says.
    pub fn is_match(&self, haystack: &str) -> bool {
        self.regex.is_match(haystack)
    }
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pattern({:?})", &*self.source)
    }
}

/// One condition of a rule.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The key as written (`>=risk_score`).
    pub key: String,
    pub op: Op,
    pub field: Field,
    pub operand: Operand,
    /// Whether the key follows the grammar (`false` for `=>x`,
    /// `risk_score>=`: a plain field name that no real field has).
    pub well_formed: bool,
    pub location: Location,
}

/// How a condition key reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionKey {
    /// An operator and a field that follow the grammar.
    Valid(Op, Field),
    /// Not in the grammar: compared with `==` as a plain field name.
    Plain(String),
    /// `word:…` with a word that is not an operator.
    UnknownWord(String),
    /// A known word operator with an invalid path after the colon.
    BadPath(Op, String),
}

/// Whether `s` is a field path: segments of `[A-Za-z0-9_$-]` joined by `.`.
pub fn is_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'-'))
        })
}

fn field(path: &str) -> Field {
    match path {
        "$hour" => Field::Hour,
        "$weekday" => Field::Weekday,
        p => Field::Path(p.split('.').map(str::to_string).collect()),
    }
}

/// Reads a condition key by the grammar of DESIGN §11.2.
pub fn parse_condition_key(key: &str) -> ConditionKey {
    if let Some((word, rest)) = key.split_once(':') {
        let is_word = !word.is_empty()
            && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && word
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
        if is_word {
            return match Op::WORDS.iter().find(|(w, _)| *w == word) {
                Some(&(_, op)) if is_path(rest) => ConditionKey::Valid(op, field(rest)),
                Some(&(_, op)) => ConditionKey::BadPath(op, rest.to_string()),
                None => ConditionKey::UnknownWord(word.to_string()),
            };
        }
    }
    for (prefix, op) in Op::PREFIXES {
        if let Some(rest) = key.strip_prefix(prefix) {
            if is_path(rest) {
                return ConditionKey::Valid(op, field(rest));
            }
            return ConditionKey::Plain(key.to_string());
        }
    }
    if is_path(key) {
        ConditionKey::Valid(Op::Eq, field(key))
    } else {
        ConditionKey::Plain(key.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_keys_follow_the_grammar() {
        let path = |p: &[&str]| Field::Path(p.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            parse_condition_key(">=risk_score"),
            ConditionKey::Valid(Op::Ge, path(&["risk_score"]))
        );
        assert_eq!(
            parse_condition_key(">x"),
            ConditionKey::Valid(Op::Gt, path(&["x"]))
        );
        assert_eq!(
            parse_condition_key("sender.domain"),
            ConditionKey::Valid(Op::Eq, path(&["sender", "domain"]))
        );
        assert_eq!(
            parse_condition_key("in:$weekday"),
            ConditionKey::Valid(Op::In, Field::Weekday)
        );
        assert_eq!(
            parse_condition_key("<$hour"),
            ConditionKey::Valid(Op::Lt, Field::Hour)
        );
        assert_eq!(
            parse_condition_key("not_in:a.b"),
            ConditionKey::Valid(Op::NotIn, path(&["a", "b"]))
        );
        assert_eq!(
            parse_condition_key("=>x"),
            ConditionKey::Plain("=>x".into())
        );
        assert_eq!(
            parse_condition_key(">>x"),
            ConditionKey::Plain(">>x".into())
        );
        assert_eq!(parse_condition_key("!x"), ConditionKey::Plain("!x".into()));
        assert_eq!(
            parse_condition_key("risk_score>="),
            ConditionKey::Plain("risk_score>=".into())
        );
        assert_eq!(
            parse_condition_key("between:x"),
            ConditionKey::UnknownWord("between".into())
        );
        assert_eq!(
            parse_condition_key("in:a..b"),
            ConditionKey::BadPath(Op::In, "a..b".into())
        );
    }

    #[test]
    fn patterns_match_names() {
        assert!(AgentPattern::parse("*").matches("inbox.triage"));
        assert!(AgentPattern::parse("inbox.*").matches("inbox.triage"));
        assert!(!AgentPattern::parse("inbox.*").matches("inboxes.triage"));
        assert!(!AgentPattern::parse("inbox.*").matches("inbox"));
        assert!(AgentPattern::parse("inbox.triage").matches("inbox.triage"));
        assert!(!ActionPattern::parse("deploy").matches("rollback"));
    }
}
