//! The compiled engine: a bundle indexed by agent and action, with operands
//! and regexes prepared once, deciding without allocating.
//!
//! Rules are stored in decision order (priority descending, file order for
//! ties), so a rule's position is its rank. Each (agent pattern, action
//! pattern) group keeps the ranks of its rules; a request touches at most six
//! groups (exact, namespace and `*` agents, each with the exact and `*`
//! action) and walks them merged by rank, stopping at the first match.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;
use serde::Serialize;
use serde::ser::SerializeStruct;

use crate::error::LoadError;
use crate::model::{
    ActionPattern, AgentPattern, Budget, Bundle, Condition, Effect, Field, Op, Operand,
};
use crate::validate::{Format, parse_bundle};
use crate::value::{Request, Value};

/// A rule as the engine holds it.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    id: Box<str>,
    effect: Effect,
    reason: Box<str>,
    budget: Option<Budget>,
    approvals_required: u32,
    priority: u8,
    index: usize,
    rank: usize,
    conditions: Box<[Condition]>,
}

impl CompiledRule {
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn effect(&self) -> Effect {
        self.effect
    }
    pub fn reason(&self) -> &str {
        &self.reason
    }
    pub fn budget(&self) -> Option<&Budget> {
        self.budget.as_ref()
    }
    pub fn approvals_required(&self) -> u32 {
        self.approvals_required
    }
    pub fn priority(&self) -> u8 {
        self.priority
    }
    /// The rule's 0-based position in its bundle file.
    pub fn index(&self) -> usize {
        self.index
    }
    /// The rule's position in decision order (in [`Engine::rules`]).
    pub fn rank(&self) -> usize {
        self.rank
    }
}

/// A compiled bundle. Cheap to share behind an `Arc`; see [`SharedEngine`]
/// for swapping bundles while other threads decide.
#[derive(Debug)]
pub struct Engine {
    rules: Box<[CompiledRule]>,
    agents: FxHashMap<Box<str>, u32>,
    agent_namespace: Vec<u32>,
    namespaces: FxHashMap<Box<str>, u32>,
    actions: FxHashMap<Box<str>, u32>,
    groups: FxHashMap<u64, Box<[u32]>>,
    default_effect: Effect,
    timezone: jiff::tz::TimeZone,
}

/// Agent keys: 0 is `*`, then exact agents, then namespaces.
const ANY: u32 = 0;

fn group_key(agent: u32, action: u32) -> u64 {
    (u64::from(agent) << 32) | u64::from(action)
}

fn namespace_of(agent: &str) -> Option<&str> {
    agent.split_once('.').map(|(ns, _)| ns)
}

impl Engine {
    /// Starts a builder (bundle from a value or from text; no files).
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Compiles a validated bundle.
    pub fn compile(bundle: &Bundle) -> Engine {
        let mut order: Vec<&crate::model::Rule> =
            bundle.rules.iter().filter(|r| r.enabled).collect();
        // Stable: ties keep file order.
        order.sort_by_key(|r| std::cmp::Reverse(r.priority));

        let mut agents: FxHashMap<Box<str>, u32> = FxHashMap::default();
        let mut namespaces: FxHashMap<Box<str>, u32> = FxHashMap::default();
        let mut actions: FxHashMap<Box<str>, u32> = FxHashMap::default();
        for r in &order {
            if let AgentPattern::Exact(a) = &r.agent {
                let next = agents.len() as u32 + 1;
                agents.entry(a.as_str().into()).or_insert(next);
            }
            if let ActionPattern::Exact(a) = &r.action {
                let next = actions.len() as u32 + 1;
                actions.entry(a.as_str().into()).or_insert(next);
            }
        }
        let first_ns = agents.len() as u32 + 1;
        for r in &order {
            if let AgentPattern::Namespace(ns) = &r.agent {
                let next = first_ns + namespaces.len() as u32;
                namespaces.entry(ns.as_str().into()).or_insert(next);
            }
        }
        let mut agent_namespace = vec![ANY; agents.len() + 1];
        for (name, &id) in &agents {
            let ns = namespace_of(name)
                .and_then(|ns| namespaces.get(ns))
                .copied();
            if let Some(slot) = agent_namespace.get_mut(id as usize) {
                *slot = ns.unwrap_or(ANY);
            }
        }

        let mut groups: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
        let mut rules = Vec::with_capacity(order.len());
        for (rank, r) in order.iter().enumerate() {
            let agent = match &r.agent {
                AgentPattern::Any => ANY,
                AgentPattern::Exact(a) => agents.get(a.as_str()).copied().unwrap_or(ANY),
                AgentPattern::Namespace(ns) => namespaces.get(ns.as_str()).copied().unwrap_or(ANY),
            };
            let action = match &r.action {
                ActionPattern::Any => ANY,
                ActionPattern::Exact(a) => actions.get(a.as_str()).copied().unwrap_or(ANY),
            };
            groups
                .entry(group_key(agent, action))
                .or_default()
                .push(rank as u32);
            rules.push(CompiledRule {
                id: r.id.as_str().into(),
                effect: r.effect,
                reason: r.reason.as_str().into(),
                budget: r.budget,
                approvals_required: r.approvals_required,
                priority: r.priority,
                index: r.index,
                rank,
                conditions: r.conditions.clone().into_boxed_slice(),
            });
        }
        Engine {
            rules: rules.into_boxed_slice(),
            agents,
            agent_namespace,
            namespaces,
            actions,
            groups: groups
                .into_iter()
                .map(|(k, v)| (k, v.into_boxed_slice()))
                .collect(),
            default_effect: bundle.metadata.default_effect,
            timezone: bundle.timezone.clone(),
        }
    }

    /// The enabled rules in decision order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    pub fn default_effect(&self) -> Effect {
        self.default_effect
    }

    /// Decides a request. Allocates nothing unless an evaluation error is met.
    pub fn decide<'e>(&'e self, request: &Request<'_>) -> Decision<'e> {
        self.decide_parts(
            &request.agent,
            &request.action,
            &request.context,
            request.timestamp,
        )
    }

    /// Decides a request given by its parts (no request value needed).
    pub fn decide_parts<'e>(
        &'e self,
        agent: &str,
        action: &str,
        context: &Value<'_>,
        timestamp: Option<jiff::Timestamp>,
    ) -> Decision<'e> {
        let mut clock = Clock::new(timestamp, &self.timezone);
        let mut errors = Vec::new();
        for rule in self.candidates(agent, action) {
            if rule
                .conditions
                .iter()
                .all(|c| holds(c, &rule.id, context, &mut clock, &mut errors))
            {
                return Decision {
                    effect: rule.effect,
                    rule: Some(rule),
                    errors,
                };
            }
        }
        Decision {
            effect: self.default_effect,
            rule: None,
            errors,
        }
    }

    /// Decides a request and says why: every rule whose agent and action
    /// match the request, in the order they were tried, each with the first
    /// condition that did not hold or that it matched. Slower than
    /// [`Engine::decide`] (it allocates the steps); for people, not the hot
    /// path.
    pub fn explain<'e>(&'e self, request: &Request<'_>) -> Explanation<'e> {
        let mut clock = Clock::new(request.timestamp, &self.timezone);
        let mut errors = Vec::new();
        let mut steps = Vec::new();
        for rule in self.candidates(&request.agent, &request.action) {
            let failed = rule
                .conditions
                .iter()
                .find(|c| !holds(c, &rule.id, &request.context, &mut clock, &mut errors));
            let step = |failed: Option<String>, condition: Option<&'e str>| Step {
                rule_id: &rule.id,
                index: rule.index,
                priority: rule.priority,
                effect: rule.effect,
                matched: failed.is_none(),
                condition,
                message: failed,
            };
            match failed {
                None => {
                    steps.push(step(None, None));
                    return Explanation {
                        decision: Decision {
                            effect: rule.effect,
                            rule: Some(rule),
                            errors,
                        },
                        steps,
                    };
                }
                Some(c) => {
                    let why = why_not(c, &request.context, &mut clock);
                    steps.push(step(Some(why), Some(&c.key)));
                }
            }
        }
        Explanation {
            decision: Decision {
                effect: self.default_effect,
                rule: None,
                errors,
            },
            steps,
        }
    }

    /// The rules whose agent and action patterns match, in decision order:
    /// the (at most six) groups of the request merged by rank.
    #[inline(always)]
    fn candidates<'e>(&'e self, agent: &str, action: &str) -> Candidates<'e> {
        let agent_id = self.agents.get(agent).copied();
        let ns_id = match agent_id {
            Some(id) => self
                .agent_namespace
                .get(id as usize)
                .copied()
                .filter(|&n| n != ANY),
            None => namespace_of(agent).and_then(|ns| self.namespaces.get(ns).copied()),
        };
        let action_id = self.actions.get(action).copied();

        let mut lists: [&[u32]; 6] = [&[]; 6];
        let mut n = 0;
        for agent in [agent_id, ns_id, Some(ANY)].into_iter().flatten() {
            for action in [action_id, Some(ANY)].into_iter().flatten() {
                if let (Some(list), Some(slot)) =
                    (self.groups.get(&group_key(agent, action)), lists.get_mut(n))
                {
                    *slot = list;
                    n += 1;
                }
            }
        }
        Candidates {
            rules: &self.rules,
            lists,
            n,
        }
    }
}

/// Iterates the candidate rules of one request by rank.
struct Candidates<'e> {
    rules: &'e [CompiledRule],
    lists: [&'e [u32]; 6],
    n: usize,
}

impl<'e> Iterator for Candidates<'e> {
    type Item = &'e CompiledRule;

    #[inline(always)]
    fn next(&mut self) -> Option<&'e CompiledRule> {
        // Merge the sorted lists: the smallest head is the next rule in
        // decision order.
        let mut best: Option<(usize, u32)> = None;
        for (i, list) in self.lists.iter().take(self.n).enumerate() {
            if let Some(&rank) = list.first() {
                if best.is_none_or(|(_, b)| rank < b) {
                    best = Some((i, rank));
                }
            }
        }
        let (i, rank) = best?;
        if let Some(list) = self.lists.get_mut(i) {
            *list = list.get(1..).unwrap_or_default();
        }
        self.rules.get(rank as usize)
    }
}

/// A decision with the rules tried on the way.
#[derive(Debug, Clone)]
pub struct Explanation<'e> {
    pub decision: Decision<'e>,
    pub steps: Vec<Step<'e>>,
}

/// One rule tried for a request: `matched`, or the first condition that
/// did not hold (`condition`, as written) and why (`message`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step<'e> {
    pub rule_id: &'e str,
    /// The rule's 0-based position in its bundle file.
    pub index: usize,
    pub priority: u8,
    pub effect: Effect,
    pub matched: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<&'e str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Why `cond` does not hold for `context`, in words.
fn why_not(cond: &Condition, context: &Value<'_>, clock: &mut Clock<'_>) -> String {
    let path = match &cond.field {
        Field::Path(p) => p.join("."),
        Field::Hour => "$hour".to_string(),
        Field::Weekday => "$weekday".to_string(),
    };
    let Some(value) = field_value(&cond.field, context, clock) else {
        return match cond.field {
            Field::Path(_) => format!("`{path}` is not in the request's context"),
            _ => format!("`{path}` needs the request's `timestamp`, which it has not got"),
        };
    };
    let shown = brief(&serde_json::to_string(value).unwrap_or_default());
    match (&cond.operand, cond.op) {
        (Operand::Exists(_), _) => format!("`{path}` is present ({shown})"),
        (Operand::Number(_), _) if !matches!(value, Value::Number(_)) => format!(
            "`{}` compares numbers, but `{path}` is a {} ({shown})",
            cond.key,
            value.type_name()
        ),
        (Operand::Regex(re), _) if value.as_str().is_none() => format!(
            "`{path}` is a {} ({shown}), and `{}` matches only text",
            value.type_name(),
            re.as_str()
        ),
        _ => {
            let operand = match &cond.operand {
                Operand::Number(n) => format!("{n}"),
                Operand::List(items) => brief(&serde_json::to_string(items).unwrap_or_default()),
                Operand::Regex(re) => format!("/{}/", re.as_str()),
                Operand::Value(v) => brief(&serde_json::to_string(v).unwrap_or_default()),
                Operand::Exists(b) => b.to_string(),
            };
            format!(
                "`{}: {operand}` does not hold: `{path}` is {shown}",
                cond.key
            )
        }
    }
}

/// A value as text, cut to a length a person reads in one line.
fn brief(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_string(),
    }
}

impl Bundle {
    /// Whether `rule` (one of this bundle's) matches `request` on its own,
    /// whatever the other rules and whether it is enabled.
    pub fn rule_matches(&self, rule: &crate::model::Rule, request: &Request<'_>) -> bool {
        let mut clock = Clock::new(request.timestamp, &self.timezone);
        let mut errors = Vec::new();
        rule.agent.matches(&request.agent)
            && rule.action.matches(&request.action)
            && rule
                .conditions
                .iter()
                .all(|c| holds(c, &rule.id, &request.context, &mut clock, &mut errors))
    }
}

/// The request's time in the bundle's zone, and the `$hour` and `$weekday`
/// values derived from it: each computed once per request, when a condition
/// first needs it.
struct Clock<'t> {
    timestamp: Option<jiff::Timestamp>,
    timezone: &'t jiff::tz::TimeZone,
    /// `None` until computed; then `(hour, weekday)`, or `None` inside
    /// when the request has no timestamp.
    derived: Option<Option<(Value<'static>, Value<'static>)>>,
}

impl<'t> Clock<'t> {
    fn new(timestamp: Option<jiff::Timestamp>, timezone: &'t jiff::tz::TimeZone) -> Self {
        Clock {
            timestamp,
            timezone,
            derived: None,
        }
    }

    fn derived(&mut self) -> Option<&(Value<'static>, Value<'static>)> {
        let (timestamp, timezone) = (self.timestamp, self.timezone);
        self.derived
            .get_or_insert_with(|| {
                timestamp.map(|ts| {
                    let dt = timezone.to_datetime(ts);
                    let day = dt.weekday().to_monday_zero_offset() as usize;
                    (
                        Value::Number(f64::from(dt.hour())),
                        Value::String(Cow::Borrowed(WEEKDAYS.get(day).copied().unwrap_or("mon"))),
                    )
                })
            })
            .as_ref()
    }
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The value a condition's field has for a request: a path into its
/// context, or the hour or weekday of its timestamp in the bundle's zone.
#[inline(always)]
fn field_value<'s, 'a: 's>(
    field: &Field,
    context: &'s Value<'a>,
    clock: &'s mut Clock<'_>,
) -> Option<&'s Value<'a>> {
    match field {
        Field::Path(path) => lookup(context, path),
        Field::Hour => clock.derived().map(|(hour, _)| hour),
        Field::Weekday => clock.derived().map(|(_, weekday)| weekday),
    }
}

/// Evaluates one condition; records an evaluation error where the spec asks.
fn holds<'e>(
    cond: &'e Condition,
    rule_id: &'e str,
    context: &Value<'_>,
    clock: &mut Clock<'_>,
    errors: &mut Vec<EvalError<'e>>,
) -> bool {
    let Some(value) = field_value(&cond.field, context, clock) else {
        return matches!(cond.operand, Operand::Exists(false));
    };
    match (&cond.operand, cond.op) {
        (Operand::Exists(want), _) => *want,
        (Operand::Number(limit), op) => match value {
            Value::Number(v) => match op {
                Op::Ge => *v >= *limit,
                Op::Le => *v <= *limit,
                Op::Gt => *v > *limit,
                Op::Lt => *v < *limit,
                _ => false,
            },
            other => {
                errors.push(EvalError {
                    rule_id,
                    condition: &cond.key,
                    found: other.type_name(),
                });
                false
            }
        },
        (Operand::List(items), Op::In) => items.iter().any(|i| equal(value, i)),
        (Operand::List(items), _) => !items.iter().any(|i| equal(value, i)),
        (Operand::Regex(re), _) => value.as_str().is_some_and(|s| re.is_match(s)),
        (Operand::Value(operand), Op::Contains) => match value {
            Value::String(s) => operand.as_str().is_some_and(|needle| s.contains(needle)),
            Value::Array(items) => items.iter().any(|i| equal(i, operand)),
            _ => false,
        },
        (Operand::Value(operand), Op::Ne) => !equal(value, operand),
        (Operand::Value(operand), _) => equal(value, operand),
    }
}

fn lookup<'v, 'a>(context: &'v Value<'a>, path: &[String]) -> Option<&'v Value<'a>> {
    let mut node = context;
    for segment in path {
        node = node.get(segment)?;
    }
    Some(node)
}

/// JSON equality with numbers compared numerically; strings never equal numbers.
pub(crate) fn equal(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| b.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => false,
    }
}

/// An error met while evaluating: an ordering operator on a value that is
/// not a number. The condition counts as false.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError<'e> {
    pub rule_id: &'e str,
    pub condition: &'e str,
    pub found: &'static str,
}

impl fmt::Display for EvalError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` compares numbers, but the request has a {}",
            self.condition, self.found
        )
    }
}

impl Serialize for EvalError<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("EvalError", 3)?;
        st.serialize_field("rule_id", self.rule_id)?;
        st.serialize_field("condition", self.condition)?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}

/// A decision: the effect, the deciding rule (none when nothing matched)
/// and the evaluation errors met on the way.
#[derive(Debug, Clone)]
pub struct Decision<'e> {
    pub effect: Effect,
    pub rule: Option<&'e CompiledRule>,
    pub errors: Vec<EvalError<'e>>,
}

/// The reason given when no rule matched.
pub const NO_MATCH_REASON: &str = "no rule matched";

impl Decision<'_> {
    pub fn no_match(&self) -> bool {
        self.rule.is_none()
    }
    pub fn rule_id(&self) -> Option<&str> {
        self.rule.map(CompiledRule::id)
    }
    pub fn reason(&self) -> &str {
        self.rule.map_or(NO_MATCH_REASON, CompiledRule::reason)
    }
    pub fn budget(&self) -> Option<&Budget> {
        self.rule.and_then(CompiledRule::budget)
    }
    /// How many approvers a `needs_approval` decision needs.
    pub fn approvals_required(&self) -> Option<u32> {
        (self.effect == Effect::NeedsApproval)
            .then(|| self.rule.map_or(1, CompiledRule::approvals_required))
    }
}

impl Serialize for Decision<'_> {
    /// `{effect, rule_id, reason, no_match, errors, budget, approvals_required?}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let approvals = self.approvals_required();
        let mut st = s.serialize_struct("Decision", 7)?;
        st.serialize_field("effect", &self.effect)?;
        st.serialize_field("rule_id", &self.rule_id())?;
        st.serialize_field("reason", self.reason())?;
        st.serialize_field("no_match", &self.no_match())?;
        st.serialize_field("errors", &self.errors)?;
        st.serialize_field("budget", &self.budget())?;
        if let Some(a) = approvals {
            st.serialize_field("approvals_required", &a)?;
        } else {
            st.skip_field("approvals_required")?;
        }
        st.end()
    }
}

/// Builds an [`Engine`] from a bundle value or bundle text. Reading files,
/// caches and reloading live outside this crate.
#[derive(Debug, Default)]
pub struct EngineBuilder {
    source: Option<Result<Bundle, LoadError>>,
}

impl EngineBuilder {
    pub fn with_bundle(mut self, bundle: Bundle) -> Self {
        self.source = Some(Ok(bundle));
        self
    }

    /// Parses and validates bundle text (JSON or YAML).
    pub fn with_source(mut self, text: &str, format: Format) -> Self {
        self.source = Some(parse_bundle(text, format));
        self
    }

    pub fn build(self) -> Result<Engine, LoadError> {
        match self.source {
            Some(Ok(bundle)) => Ok(Engine::compile(&bundle)),
            Some(Err(e)) => Err(e),
            None => Err(LoadError::Empty),
        }
    }
}

/// An engine that can be replaced while other threads decide: readers take a
/// snapshot (`load`) and keep deciding on it; `swap` publishes a new one.
#[derive(Debug)]
pub struct SharedEngine {
    current: ArcSwap<Engine>,
}

impl SharedEngine {
    pub fn new(engine: Engine) -> Self {
        SharedEngine {
            current: ArcSwap::from_pointee(engine),
        }
    }

    /// The current engine. Cheap (no allocation, no lock); hold the guard
    /// only for the decision.
    pub fn load(&self) -> arc_swap::Guard<Arc<Engine>> {
        self.current.load()
    }

    /// Publishes a new engine and returns the one it replaced.
    pub fn swap(&self, engine: Engine) -> Arc<Engine> {
        self.current.swap(Arc::new(engine))
    }
}
