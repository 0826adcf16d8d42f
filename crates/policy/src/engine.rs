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
use crate::texts::TextTable;
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
    /// This rule's conditions as the engine evaluates them: a range of
    /// [`Engine::tests`].
    tests: (u32, u32),
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
    agents: TextTable,
    agent_namespace: Vec<u32>,
    namespaces: TextTable,
    actions: TextTable,
    groups: FxHashMap<u64, Box<[u32]>>,
    /// The merged candidate list of every (agent, action) a request can
    /// resolve to, when they fit the budget; else the groups are merged per
    /// request.
    combos: Option<Combos>,
    /// Every context path a condition reads, by slot (most read first), and
    /// how a request's values for them are found.
    reads: Reads,
    /// Every enabled rule's conditions, compiled, rule after rule, each
    /// rule's followed by an [`END`] test holding its rank: a decision walks
    /// a rule's tests from its first (what the candidate lists hold) and
    /// reads the rules only for the one that matched.
    tests: Box<[Test]>,
    default_effect: Effect,
    timezone: jiff::tz::TimeZone,
}

/// The candidate lists of every agent key (0 = no known agent or namespace,
/// then the agent ids, then the namespace ids) × action key (0 = no known
/// action, then the action ids): `spans[agent * actions + action]` is a
/// range of `ranks`, in decision order. Once built, `ranks` holds each
/// rule's first test (in [`Engine::tests`]) in place of its rank: the same
/// order, one lookup less a rule tried.
#[derive(Debug)]
struct Combos {
    actions: usize,
    spans: Box<[Span]>,
    ranks: Box<[u32]>,
    indexes: Box<[FieldIndex]>,
}

/// One key's candidates: a range of [`Combos::ranks`], and the index of a
/// long list ([`NO_INDEX`] when it has none).
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
    index: u32,
}

const NO_INDEX: u32 = u32::MAX;

/// A long candidate list split on the field most of its rules compare with
/// strings (`category: invoice`, `in:region: [eu, us]`): for each of the
/// slot's strings, the rules that can still match when the request has that
/// string (the rules naming it, and those not keyed on the field), and for
/// any other value the rules not keyed on it. Skipping a rule must change
/// nothing but the time: the tests before its key can only be ordering
/// tests (`>=x`), which add an evaluation error when their field is there
/// and not a number; a request with such a value in one of the `guards`
/// slots walks the whole list.
#[derive(Debug)]
struct FieldIndex {
    slot: u32,
    guards: Box<[u32]>,
    other: (u32, u32),
    by_text: Box<[(u32, u32)]>,
}

/// What a rule is keyed on: a slot, the ids of the strings it must be, and
/// the slots of the ordering tests before it.
type Key<'t> = (u32, &'t [u32], Vec<u32>);

/// Lists longer than this get a [`FieldIndex`] when one pays.
const LONG_LIST: usize = 24;

/// A context path conditions read, and the strings they compare it with.
#[derive(Debug)]
struct Slot {
    path: Box<[Box<str>]>,
    /// While compiling: each string's id, as conditions name them.
    texts: FxHashMap<Box<str>, u32>,
    /// The same, as [`Fields`] looks a request's string up.
    table: TextTable,
}

/// The slots, and how a request's values for them are found. Slots whose
/// path is one key come first: the first [`CACHED`] of them ([`Reads::flat`])
/// are found together in one pass over the context; cached slots after them
/// (nested paths) are looked up when first read.
#[derive(Debug)]
struct Reads {
    slots: Box<[Slot]>,
    /// The one-key slots that are cached, by that key.
    keys: TextTable,
    /// How many they are: slots `0..flat`.
    flat: usize,
}

impl Reads {
    fn new(slots: Vec<Slot>) -> Reads {
        let slots: Box<[Slot]> = slots
            .into_iter()
            .map(|mut slot| {
                slot.table = TextTable::new(slot.texts.iter().map(|(t, &id)| (&**t, id)));
                slot
            })
            .collect();
        // One-key slots are first (`Engine::compile` orders them so).
        let flat = slots
            .iter()
            .take(CACHED)
            .take_while(|s| s.path.len() == 1)
            .count();
        let keys = TextTable::new(
            slots
                .iter()
                .take(flat)
                .enumerate()
                .filter_map(|(i, s)| Some((&**s.path.first()?, i as u32))),
        );
        Reads { slots, keys, flat }
    }

    /// The value of a slot in `context` and, when it is a string some
    /// condition on the slot names, that string's id (else [`NO_TEXT`]).
    fn find<'c, 'a>(&self, context: &'c Value<'a>, i: usize) -> (Option<&'c Value<'a>>, u32) {
        let Some(slot) = self.slots.get(i) else {
            return (None, NO_TEXT);
        };
        let value = lookup(context, &slot.path);
        (value, slot.id_of(value))
    }
}

impl Slot {
    /// The id of a value among the slot's strings ([`NO_TEXT`] if none).
    #[inline(always)]
    fn id_of(&self, value: Option<&Value<'_>>) -> u32 {
        match value {
            Some(Value::String(s)) => self.table.get(s).unwrap_or(NO_TEXT),
            _ => NO_TEXT,
        }
    }
}

/// The most entries the merged candidate lists may hold together, beyond
/// sixteen a rule: past it, a bundle whose wildcard rules would repeat in
/// too many lists merges its groups per request instead.
const COMBO_BUDGET: usize = 1 << 20;

/// A condition as the engine evaluates it: which field it reads and its
/// test, specialised for the common operand shapes.
#[derive(Debug)]
struct Test {
    /// A slot of [`Engine::paths`], or [`HOUR`] / [`WEEKDAY`].
    slot: u32,
    /// The condition's position in its rule (for errors and the general case).
    cond: u32,
    kind: Kind,
}

const HOUR: u32 = u32::MAX;
const WEEKDAY: u32 = u32::MAX - 1;
/// The slot of the test ending a rule's tests (its `cond` is the rule's rank).
const END: u32 = u32::MAX - 2;
/// The slot of a path with no slot (none: every path read has one).
const NO_SLOT: u32 = u32::MAX - 3;

#[derive(Debug)]
enum Kind {
    Exists(bool),
    /// `>=`, `<=`, `>`, `<` against a number.
    Ge(f64),
    Le(f64),
    Gt(f64),
    Lt(f64),
    /// `==` / `!=` a string, by its id among its slot's strings.
    EqText(u32),
    NeText(u32),
    EqNumber(f64),
    NeNumber(f64),
    /// `in:` / `not_in:` a list of strings only, by id.
    InTexts(Box<[u32]>),
    NotInTexts(Box<[u32]>),
    /// The same when every id is below 64: bit `id` set for each (one test
    /// of a bit in place of a scan).
    InMask(u64),
    NotInMask(u64),
    /// Anything else: the condition itself, evaluated as written.
    General,
    /// The end of a rule's tests (slot [`END`]): every test held.
    End,
}

/// A string's id where no condition on its slot names that string (or the
/// value is not a string).
const NO_TEXT: u32 = u32::MAX;

impl Kind {
    fn order(op: Op, limit: f64) -> Kind {
        match op {
            Op::Ge => Kind::Ge(limit),
            Op::Le => Kind::Le(limit),
            Op::Gt => Kind::Gt(limit),
            Op::Lt => Kind::Lt(limit),
            _ => Kind::General,
        }
    }

    /// The test of `cond`; strings are interned into `texts`, the strings of
    /// its slot (none for `$hour` and `$weekday`: those stay general).
    fn of(cond: &Condition, texts: Option<&mut FxHashMap<Box<str>, u32>>) -> Kind {
        let Some(texts) = texts else {
            return match (&cond.operand, cond.op) {
                (Operand::Exists(want), _) => Kind::Exists(*want),
                (Operand::Number(limit), op) => Kind::order(op, *limit),
                _ => Kind::General,
            };
        };
        let mut intern = |s: &str| -> u32 {
            let next = texts.len() as u32;
            *texts.entry(s.into()).or_insert(next)
        };
        let mut ids = |items: &[Value<'static>]| -> Option<Box<[u32]>> {
            items.iter().map(|i| i.as_str().map(&mut intern)).collect()
        };
        match (&cond.operand, cond.op) {
            (Operand::Exists(want), _) => Kind::Exists(*want),
            (Operand::Number(limit), op) => Kind::order(op, *limit),
            (Operand::Value(Value::String(s)), Op::Eq) => Kind::EqText(intern(s)),
            (Operand::Value(Value::String(s)), Op::Ne) => Kind::NeText(intern(s)),
            (Operand::Value(Value::Number(n)), Op::Eq) => Kind::EqNumber(*n),
            (Operand::Value(Value::Number(n)), Op::Ne) => Kind::NeNumber(*n),
            (Operand::List(items), Op::In) => ids(items).map_or(Kind::General, Kind::InTexts),
            (Operand::List(items), Op::NotIn) => ids(items).map_or(Kind::General, Kind::NotInTexts),
            _ => Kind::General,
        }
    }
}

/// The ids as a bit set, when each is below 64.
fn mask(ids: &[u32]) -> Option<u64> {
    ids.iter()
        .try_fold(0u64, |bits, &id| (id < 64).then(|| bits | 1 << id))
}

/// The context values of one request by slot: the one-key slots found
/// together, in one pass over the context ([`Fields::fill`]); other cached
/// slots each looked up once, when first read; slots past [`CACHED`] looked
/// up each time.
struct Fields<'c, 'a> {
    context: &'c Value<'a>,
    filled: bool,
    /// The nested slots looked up so far, as a bit set.
    known: u32,
    values: [Option<&'c Value<'a>>; CACHED],
    ids: [u32; CACHED],
}

const CACHED: usize = 16;

impl<'c, 'a> Fields<'c, 'a> {
    fn new(context: &'c Value<'a>) -> Self {
        Fields {
            context,
            filled: false,
            known: 0,
            values: [None; CACHED],
            ids: [NO_TEXT; CACHED],
        }
    }

    /// The value of a slot and, when it is a string some condition on the
    /// slot names, that string's id (else [`NO_TEXT`]).
    #[inline(always)]
    fn get(&mut self, reads: &Reads, slot: u32) -> (Option<&'c Value<'a>>, u32) {
        let i = slot as usize;
        if i < reads.flat {
            self.ready(reads);
            return self.cached(i);
        }
        if i < CACHED {
            if self.known & 1 << i == 0 {
                self.nested(reads, i);
            }
            return self.cached(i);
        }
        reads.find(self.context, i)
    }

    /// Looks a nested cached slot up and keeps what it found.
    #[inline(never)]
    fn nested(&mut self, reads: &Reads, i: usize) {
        let (value, id) = reads.find(self.context, i);
        if let (Some(v), Some(d)) = (self.values.get_mut(i), self.ids.get_mut(i)) {
            *v = value;
            *d = id;
            self.known |= 1 << i;
        }
    }

    /// A cached slot's value and string id: a one-key slot once
    /// [`Fields::fill`] has run, a nested one once [`Fields::nested`] has.
    #[inline(always)]
    fn cached(&self, i: usize) -> (Option<&'c Value<'a>>, u32) {
        debug_assert!(i < CACHED);
        let i = i % CACHED;
        match (self.values.get(i), self.ids.get(i)) {
            (Some(&value), Some(&id)) => (value, id),
            _ => (None, NO_TEXT),
        }
    }

    /// Fills the cache unless it is filled.
    #[inline(always)]
    fn ready(&mut self, reads: &Reads) {
        if !self.filled {
            self.fill(reads);
        }
    }

    /// Finds the one-key slots' values, and the ids of those that are
    /// strings, in one pass over the context's keys. The pass runs from the
    /// last entry to the first and each key found overwrites its slot, so
    /// the first entry of a key counts, as [`lookup`] has it (and `null` is
    /// missing).
    #[inline(never)]
    fn fill(&mut self, reads: &Reads) {
        self.filled = true;
        let Value::Object(entries) = self.context else {
            return;
        };
        for (key, value) in entries.iter().rev() {
            let Some(i) = reads.keys.get(key) else {
                continue;
            };
            // `keys` holds cached slots only: `% CACHED` changes nothing
            // but spares the bounds checks.
            let i = i as usize % CACHED;
            let found = (!matches!(value, Value::Null)).then_some(value);
            let id = reads.slots.get(i).map_or(NO_TEXT, |slot| slot.id_of(found));
            if let (Some(v), Some(d)) = (self.values.get_mut(i), self.ids.get_mut(i)) {
                *v = found;
                *d = id;
            }
        }
    }
}

/// Agent keys: 0 is `*`, then exact agents, then namespaces.
const ANY: u32 = 0;

fn group_key(agent: u32, action: u32) -> u64 {
    (u64::from(agent) << 32) | u64::from(action)
}

/// The part of an agent before its first dot. A byte scan: `split_once`
/// is not always inlined, and agents are short.
#[inline(always)]
fn namespace_of(agent: &str) -> Option<&str> {
    let dot = agent.bytes().position(|b| b == b'.')?;
    agent.get(..dot)
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

        // Slots: the paths conditions read.
        let mut uses: FxHashMap<&[String], usize> = FxHashMap::default();
        for r in &order {
            for c in &r.conditions {
                if let Field::Path(p) = &c.field {
                    *uses.entry(p.as_slice()).or_default() += 1;
                }
            }
        }
        let mut by_use: Vec<(&[String], usize)> = uses.into_iter().collect();
        // One-key paths first (found in one pass over a request's context),
        // each kind most read first (so that they are the ones cached).
        by_use.sort_by(|a, b| {
            (a.0.len() > 1)
                .cmp(&(b.0.len() > 1))
                .then(b.1.cmp(&a.1))
                .then_with(|| a.0.cmp(b.0))
        });
        let slots: FxHashMap<&[String], u32> = by_use
            .iter()
            .enumerate()
            .map(|(i, (p, _))| (*p, i as u32))
            .collect();
        let mut slot_list: Vec<Slot> = by_use
            .iter()
            .map(|(p, _)| Slot {
                path: p.iter().map(|s| Box::from(s.as_str())).collect(),
                texts: FxHashMap::default(),
                table: TextTable::new([]),
            })
            .collect();
        let mut tests = Vec::new();

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
            let first = tests.len() as u32;
            for (i, c) in r.conditions.iter().enumerate() {
                let slot = match &c.field {
                    Field::Path(p) => slots.get(p.as_slice()).copied().unwrap_or(NO_SLOT),
                    Field::Hour => HOUR,
                    Field::Weekday => WEEKDAY,
                };
                let texts = slot_list.get_mut(slot as usize).map(|s| &mut s.texts);
                tests.push(Test {
                    slot,
                    cond: i as u32,
                    kind: Kind::of(c, texts),
                });
            }
            let end = tests.len() as u32;
            tests.push(Test {
                slot: END,
                cond: rank as u32,
                kind: Kind::End,
            });
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
                tests: (first, end),
            });
        }
        let groups: FxHashMap<u64, Box<[u32]>> = groups
            .into_iter()
            .map(|(k, v)| (k, v.into_boxed_slice()))
            .collect();
        let test_spans: Box<[(u32, u32)]> = rules.iter().map(|r| r.tests).collect();
        let combos = Combos::build(
            &groups,
            agents.len(),
            namespaces.len(),
            &agent_namespace,
            actions.len(),
            rules.len(),
        )
        .map(|c| {
            c.indexed(&tests, &test_spans, &slot_list)
                .by_first_test(&test_spans)
        });
        for t in &mut tests {
            t.kind = match std::mem::replace(&mut t.kind, Kind::General) {
                Kind::InTexts(ids) => mask(&ids).map_or(Kind::InTexts(ids), Kind::InMask),
                Kind::NotInTexts(ids) => mask(&ids).map_or(Kind::NotInTexts(ids), Kind::NotInMask),
                kind => kind,
            };
        }
        let table =
            |map: &FxHashMap<Box<str>, u32>| TextTable::new(map.iter().map(|(t, &id)| (&**t, id)));
        Engine {
            rules: rules.into_boxed_slice(),
            agents: table(&agents),
            agent_namespace,
            namespaces: table(&namespaces),
            actions: table(&actions),
            groups,
            combos,
            reads: Reads::new(slot_list),
            tests: tests.into_boxed_slice(),
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
        let mut fields = Fields::new(context);
        let mut errors = Vec::new();
        let (agent_key, action_key) = self.keys(agent, action);
        let found = match self
            .combos
            .as_ref()
            .and_then(|c| c.list(agent_key, action_key, &mut fields, &self.reads))
        {
            Some(list) => {
                if !list.is_empty() {
                    fields.ready(&self.reads);
                }
                list.iter()
                    .find_map(|&first| self.rule_holds(first, &mut fields, &mut clock, &mut errors))
                    .and_then(|rank| self.rules.get(rank as usize))
            }
            None => {
                fields.ready(&self.reads);
                self.merged(agent_key, action_key).find(|rule| {
                    self.rule_holds(rule.tests.0, &mut fields, &mut clock, &mut errors)
                        .is_some()
                })
            }
        };
        Decision {
            effect: found.map_or(self.default_effect, |r| r.effect),
            rule: found,
            errors,
        }
    }

    /// The rank of the rule whose tests start at `first` when every one of
    /// them holds. `fields` must be filled ([`Fields::ready`]).
    #[inline(always)]
    fn rule_holds<'e, 'c, 'a>(
        &'e self,
        first: u32,
        fields: &mut Fields<'c, 'a>,
        clock: &mut Clock<'_>,
        errors: &mut Vec<EvalError<'e>>,
    ) -> Option<u32> {
        let mut at = first as usize;
        while let Some(t) = self.tests.get(at) {
            at += 1;
            let (value, id) = if (t.slot as usize) < self.reads.flat {
                fields.cached(t.slot as usize)
            } else if t.slot < END {
                fields.get(&self.reads, t.slot)
            } else if t.slot == END {
                return Some(t.cond);
            } else {
                let derived = clock.derived();
                let value =
                    derived.map(|(hour, weekday)| if t.slot == HOUR { hour } else { weekday });
                (value, NO_TEXT)
            };
            let Some(value) = value else {
                // Only `exists: false` holds on a missing field (`Kind::of`
                // gives every `exists:` condition its own kind).
                if matches!(t.kind, Kind::Exists(false)) {
                    continue;
                }
                return None;
            };
            let holds = match &t.kind {
                Kind::Exists(want) => *want,
                Kind::Ge(limit) | Kind::Le(limit) | Kind::Gt(limit) | Kind::Lt(limit) => {
                    match value {
                        Value::Number(v) => match t.kind {
                            Kind::Ge(_) => *v >= *limit,
                            Kind::Le(_) => *v <= *limit,
                            Kind::Gt(_) => *v > *limit,
                            _ => *v < *limit,
                        },
                        other => {
                            let rule = self.rule_after(at);
                            if let Some((rule, c)) =
                                rule.and_then(|r| Some((r, r.conditions.get(t.cond as usize)?)))
                            {
                                errors.push(EvalError {
                                    rule_id: &rule.id,
                                    condition: &c.key,
                                    found: other.type_name(),
                                });
                            }
                            false
                        }
                    }
                }
                Kind::EqText(want) => id == *want,
                Kind::NeText(want) => id != *want,
                Kind::EqNumber(n) => matches!(value, Value::Number(v) if v == n),
                Kind::NeNumber(n) => !matches!(value, Value::Number(v) if v == n),
                Kind::InTexts(ids) => ids.contains(&id),
                Kind::NotInTexts(ids) => !ids.contains(&id),
                Kind::InMask(bits) => id < 64 && bits & (1 << (id & 63)) != 0,
                Kind::NotInMask(bits) => !(id < 64 && bits & (1 << (id & 63)) != 0),
                Kind::General => self.rule_after(at).is_some_and(|rule| {
                    rule.conditions
                        .get(t.cond as usize)
                        .is_some_and(|c| holds_on(c, Some(value), &rule.id, errors))
                }),
                Kind::End => true,
            };
            if !holds {
                return None;
            }
        }
        None
    }

    /// The rule of the tests from `at` on, by the [`END`] test closing its
    /// tests: for the rare test that needs its rule (an evaluation error, a
    /// general condition).
    #[cold]
    fn rule_after(&self, at: usize) -> Option<&CompiledRule> {
        let end = self.tests.get(at..)?.iter().find(|t| t.slot == END)?;
        self.rules.get(end.cond as usize)
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

    /// The request's agent key (its agent id, else its namespace's id, else
    /// [`ANY`]) and action key (its action id, else [`ANY`]).
    #[inline(always)]
    fn keys(&self, agent: &str, action: &str) -> (u32, u32) {
        let agent_key = match self.agents.get(agent) {
            Some(id) => id,
            None => namespace_of(agent)
                .and_then(|ns| self.namespaces.get(ns))
                .unwrap_or(ANY),
        };
        (agent_key, self.actions.get(action).unwrap_or(ANY))
    }

    /// The rules whose agent and action patterns match, in decision order.
    fn candidates<'e>(&'e self, agent: &str, action: &str) -> Candidates<'e> {
        let (agent_key, action_key) = self.keys(agent, action);
        self.merged(agent_key, action_key)
    }

    /// The candidates of an agent and action key: the (at most six) groups
    /// merged by rank.
    #[inline(always)]
    fn merged(&self, agent_key: u32, action_key: u32) -> Candidates<'_> {
        let lists = group_lists(&self.groups, &self.agent_namespace, agent_key, action_key);
        Candidates {
            rules: &self.rules,
            lists: lists.0,
            n: lists.1,
        }
    }
}

/// The groups an agent key and action key select: the agent's own, its
/// namespace's and `*`, each with the action's own and `*`.
#[inline(always)]
fn group_lists<'g>(
    groups: &'g FxHashMap<u64, Box<[u32]>>,
    agent_namespace: &[u32],
    agent_key: u32,
    action_key: u32,
) -> ([&'g [u32]; 6], usize) {
    // An agent id has its namespace (or none); a namespace key is itself.
    let ns = agent_namespace
        .get(agent_key as usize)
        .copied()
        .unwrap_or(ANY);
    let agent_id = (agent_key != ANY).then_some(agent_key);
    let ns_id = (ns != ANY && ns != agent_key).then_some(ns);
    let action_id = (action_key != ANY).then_some(action_key);
    let mut lists: [&[u32]; 6] = [&[]; 6];
    let mut n = 0;
    for agent in [agent_id, ns_id, Some(ANY)].into_iter().flatten() {
        for action in [action_id, Some(ANY)].into_iter().flatten() {
            if let (Some(list), Some(slot)) =
                (groups.get(&group_key(agent, action)), lists.get_mut(n))
            {
                *slot = list;
                n += 1;
            }
        }
    }
    (lists, n)
}

impl Combos {
    /// Merges the groups of every agent key and action key, unless together
    /// they would pass the budget.
    fn build(
        groups: &FxHashMap<u64, Box<[u32]>>,
        agents: usize,
        namespaces: usize,
        agent_namespace: &[u32],
        actions: usize,
        rules: usize,
    ) -> Option<Combos> {
        let agent_keys = 1 + agents + namespaces;
        let action_keys = 1 + actions;
        let budget = COMBO_BUDGET.max(16 * rules);
        let mut total = 0usize;
        for a in 0..agent_keys {
            for x in 0..action_keys {
                let (lists, n) = group_lists(groups, agent_namespace, a as u32, x as u32);
                total += lists.iter().take(n).map(|l| l.len()).sum::<usize>();
                if total > budget {
                    return None;
                }
            }
        }
        let mut spans = Vec::with_capacity(agent_keys * action_keys);
        let mut ranks = Vec::with_capacity(total);
        for a in 0..agent_keys {
            for x in 0..action_keys {
                let (lists, n) = group_lists(groups, agent_namespace, a as u32, x as u32);
                let start = ranks.len();
                for l in lists.iter().take(n) {
                    ranks.extend_from_slice(l);
                }
                if let Some(merged) = ranks.get_mut(start..) {
                    merged.sort_unstable();
                }
                spans.push(Span {
                    start: start as u32,
                    end: ranks.len() as u32,
                    index: NO_INDEX,
                });
            }
        }
        Some(Combos {
            actions: action_keys,
            spans: spans.into_boxed_slice(),
            ranks: ranks.into_boxed_slice(),
            indexes: Box::default(),
        })
    }

    /// Adds a [`FieldIndex`] to each long list where one field keys at least
    /// half its rules, within the budget.
    fn indexed(mut self, tests: &[Test], test_spans: &[(u32, u32)], slots: &[Slot]) -> Combos {
        // Each rule's possible keys, by rank: a slot and the strings it must
        // be, with the slots of the ordering tests before that test. Tests
        // after one that might add an error otherwise are no keys.
        let keys: Vec<Vec<Key<'_>>> = test_spans
            .iter()
            .map(|&(first, end)| {
                let tests = tests.get(first as usize..end as usize).unwrap_or_default();
                let mut guards = Vec::new();
                let mut keys: Vec<Key<'_>> = Vec::new();
                for t in tests {
                    let key = match &t.kind {
                        Kind::EqText(id) => Some((t.slot, std::slice::from_ref(id))),
                        Kind::InTexts(ids) => Some((t.slot, &ids[..])),
                        Kind::Ge(_) | Kind::Le(_) | Kind::Gt(_) | Kind::Lt(_)
                            if t.slot < WEEKDAY =>
                        {
                            guards.push(t.slot);
                            None
                        }
                        Kind::Ge(_) | Kind::Le(_) | Kind::Gt(_) | Kind::Lt(_) | Kind::General => {
                            break;
                        }
                        _ => None,
                    };
                    if let Some((slot, ids)) = key {
                        if keys.iter().all(|k| k.0 != slot) {
                            keys.push((slot, ids, guards.clone()));
                        }
                    }
                }
                keys
            })
            .collect();
        let budget = COMBO_BUDGET.max(16 * test_spans.len());
        let mut ranks = self.ranks.to_vec();
        let mut indexes = Vec::new();
        for span in self.spans.iter_mut() {
            let Some(list) = self.ranks.get(span.start as usize..span.end as usize) else {
                continue;
            };
            if list.len() <= LONG_LIST {
                continue;
            }
            let keys_of = |rank: u32| keys.get(rank as usize).map_or(&[][..], Vec::as_slice);
            let mut counts: FxHashMap<u32, usize> = FxHashMap::default();
            for &rank in list {
                for (slot, _, _) in keys_of(rank) {
                    *counts.entry(*slot).or_default() += 1;
                }
            }
            let Some((slot, keyed)) = counts
                .into_iter()
                .max_by_key(|&(slot, n)| (n, std::cmp::Reverse(slot)))
            else {
                continue;
            };
            let texts = slots.get(slot as usize).map_or(0, |s| s.texts.len());
            let unkeyed = list.len() - keyed;
            let size = unkeyed * (texts + 1) + keyed * 4;
            if keyed * 3 < list.len() || ranks.len() + size > budget {
                continue;
            }
            let keyed_on = |rank: u32| keys_of(rank).iter().find(|(s, _, _)| *s == slot);
            let mut guards: Vec<u32> = list
                .iter()
                .filter_map(|&r| keyed_on(r))
                .flat_map(|(_, _, g)| g.iter().copied())
                .collect();
            guards.sort_unstable();
            guards.dedup();
            let start = ranks.len() as u32;
            ranks.extend(list.iter().filter(|&&r| keyed_on(r).is_none()));
            let other = (start, ranks.len() as u32);
            let by_text = (0..texts as u32)
                .map(|id| {
                    let start = ranks.len() as u32;
                    ranks.extend(
                        list.iter()
                            .filter(|&&r| keyed_on(r).is_none_or(|(_, ids, _)| ids.contains(&id))),
                    );
                    (start, ranks.len() as u32)
                })
                .collect();
            span.index = indexes.len() as u32;
            indexes.push(FieldIndex {
                slot,
                guards: guards.into_boxed_slice(),
                other,
                by_text,
            });
        }
        self.ranks = ranks.into_boxed_slice();
        self.indexes = indexes.into_boxed_slice();
        self
    }

    /// Each rank in the lists replaced by its rule's first test.
    fn by_first_test(mut self, test_spans: &[(u32, u32)]) -> Combos {
        for r in self.ranks.iter_mut() {
            *r = test_spans
                .get(*r as usize)
                .map_or(u32::MAX, |&(first, _)| first);
        }
        self
    }

    /// The candidates of a key; for an indexed list, those left by the
    /// request's value of the indexed field (each by its rule's first test).
    #[inline(always)]
    fn list<'c, 'a>(
        &self,
        agent_key: u32,
        action_key: u32,
        fields: &mut Fields<'c, 'a>,
        reads: &Reads,
    ) -> Option<&[u32]> {
        let span = self
            .spans
            .get(agent_key as usize * self.actions + action_key as usize)?;
        let (start, end) = match self.indexes.get(span.index as usize) {
            None => (span.start, span.end),
            Some(index) => {
                let exact = index.guards.iter().all(|&g| {
                    !matches!(fields.get(reads, g).0, Some(v) if !matches!(v, Value::Number(_)))
                });
                if exact {
                    let (_, id) = fields.get(reads, index.slot);
                    index
                        .by_text
                        .get(id as usize)
                        .copied()
                        .unwrap_or(index.other)
                } else {
                    (span.start, span.end)
                }
            }
        };
        self.ranks.get(start as usize..end as usize)
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
        return match &cond.field {
            Field::Path(p)
                if p.iter()
                    .try_fold(context, |v, s| v.get(s))
                    .or_else(|| context.get(&path))
                    .is_some_and(|v| matches!(v, Value::Null)) =>
            {
                format!("`{path}` is null, which counts as missing")
            }
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
    let value = field_value(&cond.field, context, clock);
    holds_on(cond, value, rule_id, errors)
}

/// Evaluates one condition on its field's value (`None`: missing).
fn holds_on<'e>(
    cond: &'e Condition,
    value: Option<&Value<'_>>,
    rule_id: &'e str,
    errors: &mut Vec<EvalError<'e>>,
) -> bool {
    let Some(value) = value else {
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

/// The value at `path` in a request's context. `null` counts as missing (as
/// the seed projects' `None` does: `{"category": null}` matches neither
/// `category: null` nor `!=category: spam`, only `exists:category: false`).
/// A dotted path absent as nested objects is looked up as one flat key of
/// that name (`{"sender.domain": "x.com"}` for `sender.domain`).
fn lookup<'v, 'a, S: AsRef<str>>(context: &'v Value<'a>, path: &[S]) -> Option<&'v Value<'a>> {
    let mut node = Some(context);
    for segment in path {
        node = node.and_then(|n| n.get(segment.as_ref()));
    }
    match node {
        Some(Value::Null) | None if path.len() > 1 => match context {
            Value::Object(entries) => entries
                .iter()
                .find(|(k, _)| is_joined(k, path))
                .map(|(_, v)| v)
                .filter(|v| !matches!(v, Value::Null)),
            _ => None,
        },
        Some(Value::Null) => None,
        found => found,
    }
}

/// Whether `key` is the segments of `path` joined by dots.
fn is_joined<S: AsRef<str>>(key: &str, path: &[S]) -> bool {
    let mut rest = key;
    for (i, segment) in path.iter().enumerate() {
        if i > 0 {
            match rest.strip_prefix('.') {
                Some(r) => rest = r,
                None => return false,
            }
        }
        match rest.strip_prefix(segment.as_ref()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A small repeatable generator (SplitMix64).
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % n
        }
    }

    const TEXTS: [&str; 4] = ["a", "b", "x.com", "1"];
    const EFFECTS: [&str; 3] = ["allow", "deny", "needs_approval"];

    /// Rules over 40 fields (more than a request caches), `$hour` and
    /// `$weekday`, every operator, wildcards and namespaces.
    fn wide_bundle(rng: &mut Rng, fields: u64) -> Bundle {
        let agents = ["ns.a", "ns.b", "ns.*", "other.c", "*"];
        let actions = ["deploy", "delete", "*"];
        let rules: Vec<serde_json::Value> = (0..300)
            .map(|i| {
                let mut conditions = serde_json::Map::new();
                for _ in 0..rng.below(4) {
                    let field = match rng.below(12) {
                        0 => "$hour".to_string(),
                        1 => "$weekday".to_string(),
                        2 => format!("nested.f{}", rng.below(3)),
                        _ => format!("f{}", rng.below(fields)),
                    };
                    let text = TEXTS[rng.below(4) as usize];
                    let (op, operand) = match rng.below(13) {
                        11 => ("<=", json!(rng.below(3))),
                        12 => (">", json!(rng.below(3))),
                        0 => ("", json!(text)),
                        1 => ("!=", json!(text)),
                        2 => ("==", json!(rng.below(3))),
                        3 => ("!=", json!(rng.below(3))),
                        4 => (">=", json!(rng.below(3))),
                        5 => ("<", json!(rng.below(3))),
                        6 => ("in:", json!([text, TEXTS[rng.below(4) as usize]])),
                        7 if rng.below(2) == 0 => ("not_in:", json!([text, 1])),
                        7 => ("not_in:", json!([text, "x.org"])),
                        8 => ("exists:", json!(rng.below(2) == 0)),
                        9 => ("contains:", json!(text)),
                        _ => ("matches:", json!("^x")),
                    };
                    let field = if field == "$weekday" && op.is_empty() {
                        conditions.insert(field, json!("mon"));
                        continue;
                    } else {
                        field
                    };
                    conditions.insert(format!("{op}{field}"), operand);
                }
                json!({
                    "id": format!("rule-{i:03}"),
                    "agent": agents[rng.below(5) as usize],
                    "action": actions[rng.below(3) as usize],
                    "effect": EFFECTS[rng.below(3) as usize],
                    "priority": rng.below(4) * 30,
                    "conditions": conditions,
                    "reason": "generated",
                })
            })
            .collect();
        let text = json!({"apiVersion": "gavel/v1", "kind": "PolicyBundle",
            "metadata": {"name": "wide", "default_effect": "deny"}, "rules": rules})
        .to_string();
        parse_bundle(&text, Format::Json).expect("generated bundle is valid")
    }

    /// Most rules compare `category` with strings, some after an ordering
    /// test on `score` (which adds an error when `score` is a string).
    fn keyed_bundle(rng: &mut Rng) -> Bundle {
        let rules: Vec<serde_json::Value> = (0..300)
            .map(|i| {
                let mut conditions = serde_json::Map::new();
                if rng.below(3) == 0 {
                    conditions.insert(">=score".into(), json!(rng.below(3)));
                }
                let text = TEXTS[rng.below(4) as usize];
                match rng.below(8) {
                    0..=2 => conditions.insert("category".into(), json!(text)),
                    3 | 4 => conditions.insert("in:category".into(), json!(["b", text])),
                    5 => conditions.insert("in:category".into(), json!([text, 1])),
                    6 => conditions.insert("!=category".into(), json!(text)),
                    _ => conditions.insert("exists:category".into(), json!(true)),
                };
                if rng.below(3) == 0 {
                    conditions.insert("<score".into(), json!(rng.below(3)));
                }
                // A second field rules may be keyed on.
                if rng.below(3) == 0 {
                    conditions.insert("region".into(), json!(TEXTS[rng.below(4) as usize]));
                }
                let agent = ["ns.a", "ns.*", "*"][rng.below(3) as usize];
                let action = ["deploy", "*"][rng.below(2) as usize];
                json!({
                    "id": format!("rule-{i:03}"),
                    "agent": agent,
                    "action": action,
                    "effect": EFFECTS[rng.below(3) as usize],
                    "priority": rng.below(4) * 30,
                    "conditions": conditions,
                    "reason": "generated",
                })
            })
            .collect();
        let text = json!({"apiVersion": "gavel/v1", "kind": "PolicyBundle",
            "metadata": {"name": "keyed", "default_effect": "deny"}, "rules": rules})
        .to_string();
        parse_bundle(&text, Format::Json).expect("generated bundle is valid")
    }

    fn request_json(rng: &mut Rng, fields: u64) -> String {
        if fields == 0 {
            let mut context = serde_json::Map::new();
            let category = [
                json!("a"),
                json!("b"),
                json!("x.com"),
                json!(1),
                json!("zz"),
            ];
            if rng.below(5) > 0 {
                context.insert("category".into(), category[rng.below(5) as usize].clone());
            }
            let score = [json!(0), json!(1), json!(2), json!("2")];
            if rng.below(5) > 0 {
                context.insert("score".into(), score[rng.below(4) as usize].clone());
            }
            if rng.below(2) > 0 {
                context.insert("region".into(), category[rng.below(5) as usize].clone());
            }
            let agent = ["ns.a", "ns.b", "other.c"][rng.below(3) as usize];
            let action = ["deploy", "delete"][rng.below(2) as usize];
            return json!({"agent": agent, "action": action, "context": context}).to_string();
        }
        let mut context = serde_json::Map::new();
        for _ in 0..rng.below(fields.min(30)) {
            let value = match rng.below(5) {
                0 => json!(rng.below(3)),
                1 => json!(TEXTS[rng.below(4) as usize]),
                2 => json!("x.org"),
                3 => json!([TEXTS[rng.below(4) as usize]]),
                _ => json!(null),
            };
            context.insert(format!("f{}", rng.below(fields)), value);
        }
        context.insert(
            "nested".into(),
            json!({"f1": TEXTS[rng.below(4) as usize], "f2": 2}),
        );
        let agent = ["ns.a", "ns.b", "ns.zz", "other.c", "lone"][rng.below(5) as usize];
        let action = ["deploy", "delete", "read"][rng.below(3) as usize];
        let mut r = json!({"agent": agent, "action": action, "context": context});
        if rng.below(2) == 0 {
            r["timestamp"] = json!(format!(
                "2026-11-2{}T0{}:00:00Z",
                rng.below(7) + 1,
                rng.below(10)
            ));
        }
        r.to_string()
    }

    fn shown(d: &Decision<'_>) -> String {
        serde_json::to_string(d).unwrap_or_default()
    }

    /// The compiled tests, the slot cache (and the slots past it) and the
    /// merged candidate lists decide exactly as the conditions evaluated as
    /// written over the groups merged per request (`explain`'s way), errors
    /// included; and so does an engine whose lists were over budget.
    #[test]
    fn compiled_decisions_match_conditions_as_written() {
        let mut rng = Rng(7);
        // 40 fields: past the slot cache; 0: long lists indexed on a field.
        for fields in [40, 40, 0, 0] {
            let bundle = if fields > 0 {
                wide_bundle(&mut rng, fields)
            } else {
                keyed_bundle(&mut rng)
            };
            let engine = Engine::compile(&bundle);
            let combos = engine.combos.as_ref().expect("within the budget");
            if fields > 0 {
                assert!(
                    engine.reads.slots.len() > CACHED,
                    "{} slots",
                    engine.reads.slots.len()
                );
            } else {
                assert!(!combos.indexes.is_empty());
                assert!(combos.indexes.iter().any(|i| !i.guards.is_empty()));
            }
            let mut merged = Engine::compile(&bundle);
            merged.combos = None;
            let mut matched = 0;
            for _ in 0..2_000 {
                let text = request_json(&mut rng, fields);
                let request: Request<'_> = serde_json::from_str(&text).expect("valid request");
                let want = shown(&engine.explain(&request).decision);
                assert_eq!(shown(&engine.decide(&request)), want, "{text}");
                // The rule a plain scan of every rule in decision order
                // finds (patterns matched as written, no groups).
                let scanned = engine.rules().iter().find(|r| {
                    bundle
                        .rules
                        .get(r.index())
                        .is_some_and(|rule| bundle.rule_matches(rule, &request))
                });
                assert_eq!(
                    engine.decide(&request).rule_id(),
                    scanned.map(CompiledRule::id),
                    "{text}"
                );
                assert_eq!(shown(&merged.decide(&request)), want, "{text}");
                matched += usize::from(!engine.decide(&request).no_match());
            }
            // The requests reach rules, not only the default.
            assert!(matched > 200, "{matched} of 2,000 matched");
        }
    }

    /// The one pass over a context (and the nested slots' lookups, kept) find,
    /// for every slot, the value and the string id a lookup of the slot's
    /// path finds: keys in any order, keys
    /// no condition reads, `null` (missing), a key given twice (the first
    /// counts, even when it is `null`; decoding refuses this, a `Value` built
    /// in code need not), nested paths and their flat dotted keys, slots past
    /// the cache, and contexts that are not objects.
    #[test]
    fn one_pass_over_a_context_finds_what_a_lookup_finds() {
        let mut rng = Rng(11);
        // 12 one-key slots and two nested ones, all cached; 20 and two, the
        // nested ones and four one-key slots past the cache of 16.
        for keys in [12, 20] {
            let mut conditions = serde_json::Map::new();
            for i in 0..keys {
                conditions.insert(format!("k{i}"), json!(["a", "b", "x.com"][i % 3]));
            }
            conditions.insert("s.r".into(), json!("eu"));
            conditions.insert(">=s.t".into(), json!(3));
            let bundle = parse_bundle(
                &json!({"apiVersion": "gavel/v1", "kind": "PolicyBundle",
                "metadata": {"name": "reads", "actions": ["read"]},
                "rules": [{"id": "reads-rule", "agent": "*", "action": "read", "effect": "allow",
                    "reason": "r", "conditions": conditions},
                    // Read twice: the nested paths are read most.
                    {"id": "nested-rule", "agent": "*", "action": "read", "effect": "deny",
                    "reason": "r", "conditions": {"s.r": "us", ">=s.t": 1}}]})
                .to_string(),
                Format::Json,
            )
            .expect("valid");
            let engine = Engine::compile(&bundle);
            let reads = &engine.reads;
            assert_eq!(reads.flat, keys.min(CACHED));
            assert_eq!(reads.slots.len() > CACHED, keys > 12);
            assert!(
                reads
                    .slots
                    .iter()
                    .skip(reads.flat)
                    .all(|s| s.path.len() == 2 || keys > 12)
            );
            let value = |rng: &mut Rng| -> Value<'static> {
                match rng.below(7) {
                    0 => Value::Null,
                    1 => Value::Number(rng.below(5) as f64),
                    2 => Value::Bool(true),
                    3 => {
                        Value::String(["a", "b", "x.com", "eu", "zz"][rng.below(5) as usize].into())
                    }
                    4 => Value::Object(vec![
                        ("r".into(), Value::String("eu".into())),
                        ("t".into(), Value::Number(4.0)),
                    ]),
                    _ => Value::String("a".into()),
                }
            };
            let mut found = 0;
            for _ in 0..3_000 {
                let mut entries: Vec<(Cow<'static, str>, Value<'static>)> = Vec::new();
                for _ in 0..rng.below(30) {
                    let key = match rng.below(6) {
                        0 => "s".to_string(),
                        1 => ["s.r", "s.t"][rng.below(2) as usize].to_string(),
                        2 => format!("other{}", rng.below(4)),
                        _ => format!("k{}", rng.below(22)),
                    };
                    entries.push((key.into(), value(&mut rng)));
                }
                let context = match rng.below(20) {
                    0 => Value::Array(vec![Value::Number(1.0)]),
                    1 => Value::Null,
                    _ => Value::Object(entries),
                };
                let mut fields = Fields::new(&context);
                for i in 0..reads.slots.len() as u32 {
                    let want = reads.find(&context, i as usize);
                    let got = fields.get(reads, i);
                    assert_eq!(got.1, want.1, "slot {i} in {context:?}");
                    assert!(
                        match (got.0, want.0) {
                            (Some(g), Some(w)) => std::ptr::eq(g, w),
                            (g, w) => g.is_none() && w.is_none(),
                        },
                        "slot {i} in {context:?}"
                    );
                    found += usize::from(want.1 != NO_TEXT);
                }
            }
            assert!(found > 1_000, "{found} strings found");
        }
    }

    /// Letters for a number (`0` → `a`, `7` → `h`, `26` → `ab`).
    fn name(mut i: usize) -> String {
        let mut s = String::new();
        loop {
            s.push(char::from(b'a' + (i % 26) as u8));
            i /= 26;
            if i == 0 {
                return s;
            }
        }
    }

    #[test]
    fn lists_past_the_budget_are_merged_per_request() {
        // 300 `*` rules in every list of 200 agents × 200 actions.
        let mut rules: Vec<serde_json::Value> = (0..200)
            .map(|i| {
                json!({"id": format!("exact-{i:03}"), "agent": format!("team.n{}", name(i)),
                "action": format!("act{i}"), "effect": "allow", "reason": "r"})
            })
            .collect();
        rules.extend((0..300).map(|i| {
            json!({"id": format!("any-{i:03}"), "agent": "*", "action": "*",
                "effect": "deny", "reason": "r", "conditions": {"n": i}})
        }));
        let actions: Vec<String> = (0..200).map(|i| format!("act{i}")).collect();
        let text = json!({"apiVersion": "gavel/v1", "kind": "PolicyBundle",
            "metadata": {"name": "wide", "actions": actions}, "rules": rules})
        .to_string();
        let engine = Engine::compile(&parse_bundle(&text, Format::Json).expect("valid"));
        assert!(engine.combos.is_none());
        let r: Request<'_> =
            serde_json::from_str(r#"{"agent":"team.nh","action":"act7","context":{"n":299}}"#)
                .expect("valid");
        assert_eq!(engine.decide(&r).rule_id(), Some("exact-007"));
        let r: Request<'_> =
            serde_json::from_str(r#"{"agent":"team.nh","action":"act8","context":{"n":299}}"#)
                .expect("valid");
        assert_eq!(engine.decide(&r).rule_id(), Some("any-299"));
    }

    /// A field compared with many strings and one with few both find the
    /// request's string, nested or not; a string no rule names matches none
    /// of them.
    #[test]
    fn strings_are_found_among_many_or_few() {
        let mut rules: Vec<serde_json::Value> = (0..12)
            .map(|i| {
                json!({"id": format!("cat-{i:02}"), "agent": "*", "action": "read",
                    "effect": if i % 2 == 0 { "allow" } else { "needs_approval" },
                    "reason": "r", "conditions": {"category": format!("c{i}"), "sender.region": "eu"}})
            })
            .collect();
        rules.push(
            json!({"id": "from-us", "agent": "*", "action": "read", "effect": "deny",
            "reason": "r", "conditions": {"sender.region": "us"}}),
        );
        let text = json!({"apiVersion": "gavel/v1", "kind": "PolicyBundle",
            "metadata": {"name": "texts", "actions": ["read"]}, "rules": rules})
        .to_string();
        let engine = Engine::compile(&parse_bundle(&text, Format::Json).expect("valid"));
        let sizes: Vec<usize> = engine.reads.slots.iter().map(|s| s.table.len()).collect();
        assert!(sizes.contains(&12) && sizes.contains(&2), "{sizes:?}");
        let decide = |category: &str, region: &str| {
            let text = json!({"agent": "a.b", "action": "read",
                "context": {"category": category, "sender": {"region": region}}})
            .to_string();
            let r: Request<'_> = serde_json::from_str(&text).expect("valid");
            engine.decide(&r).rule_id().map(str::to_string)
        };
        for i in 0..12 {
            assert_eq!(decide(&format!("c{i}"), "eu"), Some(format!("cat-{i:02}")));
        }
        assert_eq!(decide("c5", "us").as_deref(), Some("from-us"));
        assert_eq!(decide("c12", "eu"), None);
        assert_eq!(decide("c1", "e"), None);
    }
}
