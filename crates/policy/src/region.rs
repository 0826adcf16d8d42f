//! Exact reasoning about the set of requests a rule matches (its region).
//!
//! A region is a product: a set of agents, a set of actions, and for each
//! field a set of values (numeric intervals with open and closed ends,
//! finite or co-finite string sets, booleans, null, "missing"). A rule's
//! conditions are per-field constraints, so its region is one such box.
//! The linter asks whether boxes are empty, overlap, or are covered by a
//! union of other boxes; the diff asks whether one contains another.
//!
//! Conditions that cannot be reasoned about exactly (`contains:` and
//! `matches:` on context fields, operands that are lists or objects, a path
//! that is a prefix of another path) make a region *inexact*: it is then an
//! over-approximation, and callers only draw conclusions that stay true.

use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::{Value as Json, json};
use smallvec::SmallVec;

use crate::model::{ActionPattern, AgentPattern, Bundle, Condition, Field, Op, Operand, Rule};
use crate::value::Value;

// ---------------------------------------------------------------- numbers --

/// An interval of the real line; infinite ends are always open.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Iv {
    lo: f64,
    lo_in: bool,
    hi: f64,
    hi_in: bool,
}

impl Iv {
    fn nonempty(self) -> bool {
        self.lo < self.hi || (self.lo == self.hi && self.lo_in && self.hi_in)
    }

    fn intersect(self, o: Iv) -> Iv {
        let (lo, lo_in) = if self.lo > o.lo {
            (self.lo, self.lo_in)
        } else if o.lo > self.lo {
            (o.lo, o.lo_in)
        } else {
            (self.lo, self.lo_in && o.lo_in)
        };
        let (hi, hi_in) = if self.hi < o.hi {
            (self.hi, self.hi_in)
        } else if o.hi < self.hi {
            (o.hi, o.hi_in)
        } else {
            (self.hi, self.hi_in && o.hi_in)
        };
        Iv {
            lo,
            lo_in,
            hi,
            hi_in,
        }
    }

    fn contains(self, x: f64) -> bool {
        (self.lo < x || (self.lo == x && self.lo_in))
            && (x < self.hi || (x == self.hi && self.hi_in))
    }

    /// A value inside, preferring the ends and whole numbers.
    fn pick(self) -> f64 {
        if self.lo_in {
            return self.lo;
        }
        if self.hi_in {
            return self.hi;
        }
        match (self.lo.is_finite(), self.hi.is_finite()) {
            (false, false) => 0.0,
            (true, false) => self.lo.floor() + 1.0,
            (false, true) => self.hi.ceil() - 1.0,
            (true, true) => {
                let whole = self.lo.floor() + 1.0;
                if whole < self.hi {
                    whole
                } else {
                    (self.lo + self.hi) / 2.0
                }
            }
        }
    }
}

/// A union of disjoint intervals, sorted.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Numbers(SmallVec<[Iv; 2]>);

impl Numbers {
    fn all() -> Self {
        Numbers(smallvec::smallvec![Iv {
            lo: f64::NEG_INFINITY,
            lo_in: false,
            hi: f64::INFINITY,
            hi_in: false,
        }])
    }

    fn point(x: f64) -> Self {
        Numbers(smallvec::smallvec![Iv {
            lo: x,
            lo_in: true,
            hi: x,
            hi_in: true,
        }])
    }

    fn points(mut xs: Vec<f64>) -> Self {
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        Numbers(xs.into_iter().flat_map(|x| Numbers::point(x).0).collect())
    }

    fn ordering(op: Op, x: f64) -> Self {
        let (inf, ninf) = (f64::INFINITY, f64::NEG_INFINITY);
        let iv = match op {
            Op::Ge => Iv {
                lo: x,
                lo_in: true,
                hi: inf,
                hi_in: false,
            },
            Op::Gt => Iv {
                lo: x,
                lo_in: false,
                hi: inf,
                hi_in: false,
            },
            Op::Le => Iv {
                lo: ninf,
                lo_in: false,
                hi: x,
                hi_in: true,
            },
            _ => Iv {
                lo: ninf,
                lo_in: false,
                hi: x,
                hi_in: false,
            },
        };
        Numbers(smallvec::smallvec![iv])
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn intersect(&self, o: &Numbers) -> Numbers {
        let mut out = SmallVec::new();
        for a in &self.0 {
            for b in &o.0 {
                let c = a.intersect(*b);
                if c.nonempty() {
                    out.push(c);
                }
            }
        }
        Numbers(out)
    }

    fn intersects(&self, o: &Numbers) -> bool {
        self.0
            .iter()
            .any(|a| o.0.iter().any(|b| a.intersect(*b).nonempty()))
    }

    fn complement(&self) -> Numbers {
        let mut out = SmallVec::new();
        let (mut lo, mut lo_in) = (f64::NEG_INFINITY, false);
        for iv in &self.0 {
            let gap = Iv {
                lo,
                lo_in,
                hi: iv.lo,
                hi_in: !iv.lo_in,
            };
            if gap.nonempty() {
                out.push(gap);
            }
            lo = iv.hi;
            lo_in = !iv.hi_in;
        }
        let last = Iv {
            lo,
            lo_in,
            hi: f64::INFINITY,
            hi_in: false,
        };
        if last.nonempty() {
            out.push(last);
        }
        Numbers(out)
    }

    fn contains(&self, x: f64) -> bool {
        self.0.iter().any(|iv| iv.contains(x))
    }

    fn pick(&self) -> Option<f64> {
        self.0.first().map(|iv| iv.pick())
    }
}

// ---------------------------------------------------------------- strings --

/// A finite set of strings, or all strings but a finite set. Strings are
/// interned ids.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Strings {
    In(Ids),
    NotIn(Ids),
}

type Ids = SmallVec<[u32; 4]>;

fn sorted_inter(a: &[u32], b: &[u32]) -> Ids {
    a.iter()
        .filter(|x| b.binary_search(x).is_ok())
        .copied()
        .collect()
}

fn sorted_minus(a: &[u32], b: &[u32]) -> Ids {
    a.iter()
        .filter(|x| b.binary_search(x).is_err())
        .copied()
        .collect()
}

fn sorted_union(a: &[u32], b: &[u32]) -> Ids {
    let mut v: Ids = a.iter().chain(b).copied().collect();
    v.sort_unstable();
    v.dedup();
    v
}

impl Strings {
    fn is_empty(&self) -> bool {
        matches!(self, Strings::In(v) if v.is_empty())
    }

    fn intersect(&self, o: &Strings) -> Strings {
        match (self, o) {
            (Strings::In(a), Strings::In(b)) => Strings::In(sorted_inter(a, b)),
            (Strings::In(a), Strings::NotIn(b)) | (Strings::NotIn(b), Strings::In(a)) => {
                Strings::In(sorted_minus(a, b))
            }
            (Strings::NotIn(a), Strings::NotIn(b)) => Strings::NotIn(sorted_union(a, b)),
        }
    }

    fn intersects(&self, o: &Strings) -> bool {
        match (self, o) {
            (Strings::In(a), Strings::In(b)) => a.iter().any(|x| b.binary_search(x).is_ok()),
            (Strings::In(a), Strings::NotIn(b)) | (Strings::NotIn(b), Strings::In(a)) => {
                a.iter().any(|x| b.binary_search(x).is_err())
            }
            (Strings::NotIn(_), Strings::NotIn(_)) => true,
        }
    }

    fn complement(&self) -> Strings {
        match self {
            Strings::In(a) => Strings::NotIn(a.clone()),
            Strings::NotIn(a) => Strings::In(a.clone()),
        }
    }
}

// ----------------------------------------------------------------- values --

/// The values a context field may take: each kind of JSON value, plus
/// "missing" (which `null` is: the engine reads a `null` as missing, so no
/// condition tells them apart). Lists and objects are all-or-nothing (no
/// exact condition singles one out).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Values {
    missing: bool,
    falsy: bool,
    truthy: bool,
    numbers: Numbers,
    strings: Strings,
    compound: bool,
}

impl Values {
    fn all() -> Self {
        Values {
            missing: true,
            falsy: true,
            truthy: true,
            numbers: Numbers::all(),
            strings: Strings::NotIn(Ids::new()),
            compound: true,
        }
    }

    fn none() -> Self {
        Values {
            missing: false,
            falsy: false,
            truthy: false,
            numbers: Numbers::default(),
            strings: Strings::In(Ids::new()),
            compound: false,
        }
    }

    fn present() -> Self {
        Values {
            missing: false,
            ..Values::all()
        }
    }

    fn is_empty(&self) -> bool {
        !self.missing
            && !self.falsy
            && !self.truthy
            && !self.compound
            && self.numbers.is_empty()
            && self.strings.is_empty()
    }

    fn intersect(&self, o: &Values) -> Values {
        Values {
            missing: self.missing && o.missing,
            falsy: self.falsy && o.falsy,
            truthy: self.truthy && o.truthy,
            numbers: self.numbers.intersect(&o.numbers),
            strings: self.strings.intersect(&o.strings),
            compound: self.compound && o.compound,
        }
    }

    fn intersects(&self, o: &Values) -> bool {
        (self.missing && o.missing)
            || (self.falsy && o.falsy)
            || (self.truthy && o.truthy)
            || (self.compound && o.compound)
            || self.numbers.intersects(&o.numbers)
            || self.strings.intersects(&o.strings)
    }

    fn complement(&self) -> Values {
        Values {
            missing: !self.missing,
            falsy: !self.falsy,
            truthy: !self.truthy,
            numbers: self.numbers.complement(),
            strings: self.strings.complement(),
            compound: !self.compound,
        }
    }
}

// ----------------------------------------------------------------- fields --

/// What a region dimension is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum FieldKey {
    Path(Vec<String>),
    /// Whether the request has a timestamp (bit 0: missing, bit 1: present).
    Time,
    /// `$hour` when the timestamp is present: 24 bits.
    Hour,
    /// `$weekday` when the timestamp is present: 7 bits, Monday first.
    Weekday,
}

const TIME_MISSING: u32 = 1;
const TIME_PRESENT: u32 = 2;
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A set of values of one dimension.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dim {
    Values(Values),
    /// A subset of a small finite universe, as bits.
    Mask(u32),
}

fn full_mask(key: &FieldKey) -> u32 {
    match key {
        FieldKey::Time => 0b11,
        FieldKey::Hour => (1 << 24) - 1,
        FieldKey::Weekday => (1 << 7) - 1,
        FieldKey::Path(_) => 0,
    }
}

impl Dim {
    fn is_empty(&self) -> bool {
        match self {
            Dim::Values(v) => v.is_empty(),
            Dim::Mask(m) => *m == 0,
        }
    }

    fn intersect(&self, o: &Dim) -> Dim {
        match (self, o) {
            (Dim::Values(a), Dim::Values(b)) => Dim::Values(a.intersect(b)),
            (Dim::Mask(a), Dim::Mask(b)) => Dim::Mask(a & b),
            // Never mixed: a key always has the same kind.
            (a, _) => a.clone(),
        }
    }

    fn intersects(&self, o: &Dim) -> bool {
        match (self, o) {
            (Dim::Values(a), Dim::Values(b)) => a.intersects(b),
            (Dim::Mask(a), Dim::Mask(b)) => a & b != 0,
            _ => true,
        }
    }

    fn minus(&self, o: &Dim, key: &FieldKey) -> Dim {
        match (self, o) {
            (Dim::Values(a), Dim::Values(b)) => Dim::Values(a.intersect(&b.complement())),
            (Dim::Mask(a), Dim::Mask(b)) => Dim::Mask(a & !b & full_mask(key)),
            (a, _) => a.clone(),
        }
    }
}

// ---------------------------------------------------------------- regions --

/// A set of atoms of the agent or action universe, as sorted, disjoint,
/// half-open ranges of atom indices. A pattern is one range (the atoms of a
/// namespace are consecutive), so a rule's set stays one range however many
/// agents a bundle names; subtraction adds a range per box subtracted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Atoms(SmallVec<[(u32, u32); 1]>);

impl Atoms {
    fn range(start: u32, end: u32) -> Atoms {
        if start < end {
            Atoms(smallvec::smallvec![(start, end)])
        } else {
            Atoms(SmallVec::new())
        }
    }

    fn contains(&self, i: usize) -> bool {
        let Ok(i) = u32::try_from(i) else {
            return false;
        };
        let k = self.0.partition_point(|&(_, end)| end <= i);
        self.0.get(k).is_some_and(|&(start, _)| start <= i)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn intersect(&self, o: &Atoms) -> Atoms {
        let mut out = SmallVec::new();
        let (mut i, mut j) = (0, 0);
        while let (Some(&(a0, a1)), Some(&(b0, b1))) = (self.0.get(i), o.0.get(j)) {
            let (lo, hi) = (a0.max(b0), a1.min(b1));
            if lo < hi {
                out.push((lo, hi));
            }
            if a1 < b1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Atoms(out)
    }

    fn intersects(&self, o: &Atoms) -> bool {
        let (mut i, mut j) = (0, 0);
        while let (Some(&(a0, a1)), Some(&(b0, b1))) = (self.0.get(i), o.0.get(j)) {
            if a0.max(b0) < a1.min(b1) {
                return true;
            }
            if a1 < b1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        false
    }

    fn minus(&self, o: &Atoms) -> Atoms {
        let mut out = SmallVec::new();
        let mut j = 0;
        for &(a0, a1) in &self.0 {
            let mut start = a0;
            while let Some(&(b0, b1)) = o.0.get(j) {
                if b1 <= start {
                    j += 1;
                    continue;
                }
                if b0 >= a1 {
                    break;
                }
                if b0 > start {
                    out.push((start, b0));
                }
                start = b1;
                if b1 >= a1 {
                    break;
                }
                j += 1;
            }
            if start < a1 {
                out.push((start, a1));
            }
        }
        Atoms(out)
    }

    fn first(&self) -> Option<usize> {
        self.0.first().map(|&(start, _)| start as usize)
    }
}

/// A box of requests: agents × actions × one set per constrained field
/// (fields not listed are unconstrained).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Region {
    agents: Atoms,
    actions: Atoms,
    fields: SmallVec<[(u32, Dim); 4]>,
}

impl Region {
    pub(crate) fn is_empty(&self) -> bool {
        self.agents.is_empty()
            || self.actions.is_empty()
            || self.fields.iter().any(|(_, d)| d.is_empty())
    }

    fn dim(&self, id: u32) -> Option<&Dim> {
        self.fields
            .binary_search_by_key(&id, |(k, _)| *k)
            .ok()
            .and_then(|i| self.fields.get(i))
            .map(|(_, d)| d)
    }

    /// Whether some request lies in both.
    pub(crate) fn intersects(&self, o: &Region) -> bool {
        if !self.agents.intersects(&o.agents) || !self.actions.intersects(&o.actions) {
            return false;
        }
        // Walk both sorted field lists.
        let (mut i, mut j) = (0, 0);
        loop {
            match (self.fields.get(i), o.fields.get(j)) {
                (Some((a, da)), Some((b, db))) if a == b => {
                    if !da.intersects(db) {
                        return false;
                    }
                    i += 1;
                    j += 1;
                }
                (Some((a, da)), Some((b, _))) if a < b => {
                    if da.is_empty() {
                        return false;
                    }
                    i += 1;
                }
                (Some(_), Some((_, db))) | (None, Some((_, db))) => {
                    if db.is_empty() {
                        return false;
                    }
                    j += 1;
                }
                (Some((_, da)), None) => {
                    if da.is_empty() {
                        return false;
                    }
                    i += 1;
                }
                (None, None) => return true,
            }
        }
    }

    pub(crate) fn intersect(&self, o: &Region) -> Region {
        let mut fields: SmallVec<[(u32, Dim); 4]> =
            SmallVec::with_capacity(self.fields.len() + o.fields.len());
        let (mut i, mut j) = (0, 0);
        loop {
            match (self.fields.get(i), o.fields.get(j)) {
                (Some((a, da)), Some((b, db))) if a == b => {
                    fields.push((*a, da.intersect(db)));
                    i += 1;
                    j += 1;
                }
                (Some((a, da)), Some((b, _))) if a < b => {
                    fields.push((*a, da.clone()));
                    i += 1;
                }
                (Some(_), Some((b, db))) | (None, Some((b, db))) => {
                    fields.push((*b, db.clone()));
                    j += 1;
                }
                (Some((a, da)), None) => {
                    fields.push((*a, da.clone()));
                    i += 1;
                }
                (None, None) => break,
            }
        }
        Region {
            agents: self.agents.intersect(&o.agents),
            actions: self.actions.intersect(&o.actions),
            fields,
        }
    }
}

// -------------------------------------------------------------- universe --

/// A rule's region, and whether it is exact.
#[derive(Debug, Clone)]
pub(crate) struct RuleRegion {
    pub region: Region,
    /// False when some condition could not be reasoned about: the region is
    /// then a superset of the requests the rule matches.
    pub exact: bool,
}

/// An atom of the agent universe: every agent name falls in exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AgentAtom {
    /// An agent a rule names.
    Name(String),
    /// Any other agent of a namespace a rule names (`inbox.*`).
    Other(String),
    /// Any agent outside every such namespace and name.
    Outside,
}

/// The names a bundle (or two) mention, as atoms and interned ids, so that
/// regions of their rules can be compared.
#[derive(Debug, Default)]
pub(crate) struct Universe {
    /// Agent atoms, namespace by namespace (its names, then its other
    /// agents when a rule names the namespace), then [`AgentAtom::Outside`].
    agent_atoms: Vec<AgentAtom>,
    /// The atom of each agent name.
    agent_index: FxHashMap<String, u32>,
    /// The atoms of each namespace that a rule names (`inbox.*`).
    namespaces: FxHashMap<String, (u32, u32)>,
    /// Action atoms: the actions rules name, then "any other action".
    actions: Vec<String>,
    action_index: FxHashMap<String, u32>,
    strings: FxHashMap<String, u32>,
    string_names: Vec<String>,
    fields: FxHashMap<FieldKey, u32>,
    paths: FxHashMap<Vec<String>, u32>,
    field_keys: Vec<FieldKey>,
    /// Paths that are a prefix of another path: not reasoned about.
    overlapping_paths: FxHashSet<Vec<String>>,
    timezone: Option<jiff::tz::TimeZone>,
}

/// The namespace of an agent name: what precedes its first dot.
fn namespace_of(name: &str) -> &str {
    name.split_once('.').map_or("", |(ns, _)| ns)
}

impl Universe {
    /// Collects the names of every rule of the given bundles (hashed: a
    /// bundle may name a hundred thousand agents or fields).
    pub(crate) fn new(bundles: &[&Bundle]) -> Universe {
        let mut u = Universe::default();
        // Namespaces in order of first mention, each with its names and
        // whether a pattern names it.
        let mut spaces: Vec<(&str, Vec<&str>, bool)> = Vec::new();
        let mut space_of: FxHashMap<&str, usize> = FxHashMap::default();
        let mut names: FxHashSet<&str> = FxHashSet::default();
        let mut paths: FxHashSet<&[String]> = FxHashSet::default();
        for b in bundles {
            if u.timezone.is_none() {
                u.timezone = Some(b.timezone.clone());
            }
            for r in &b.rules {
                let (ns, name) = match &r.agent {
                    AgentPattern::Exact(a) => (namespace_of(a), Some(a.as_str())),
                    AgentPattern::Namespace(ns) => (ns.as_str(), None),
                    AgentPattern::Any => ("", None),
                };
                if !matches!(r.agent, AgentPattern::Any) {
                    let k = *space_of.entry(ns).or_insert_with(|| {
                        spaces.push((ns, Vec::new(), false));
                        spaces.len() - 1
                    });
                    if let Some(space) = spaces.get_mut(k) {
                        match name {
                            Some(name) if names.insert(name) => space.1.push(name),
                            Some(_) => {}
                            None => space.2 = true,
                        }
                    }
                }
                if let ActionPattern::Exact(a) = &r.action {
                    if !u.action_index.contains_key(a) {
                        u.action_index.insert(a.clone(), u.actions.len() as u32);
                        u.actions.push(a.clone());
                    }
                }
                for c in &r.conditions {
                    if let Field::Path(p) = &c.field {
                        paths.insert(p);
                    }
                }
            }
        }
        for (ns, names, named) in spaces {
            let start = u.agent_atoms.len() as u32;
            for name in names {
                u.agent_index
                    .insert(name.to_string(), u.agent_atoms.len() as u32);
                u.agent_atoms.push(AgentAtom::Name(name.to_string()));
            }
            if named {
                u.agent_atoms.push(AgentAtom::Other(ns.to_string()));
                u.namespaces
                    .insert(ns.to_string(), (start, u.agent_atoms.len() as u32));
            }
        }
        u.agent_atoms.push(AgentAtom::Outside);
        // A path and a longer one it prefixes are both left out.
        for q in &paths {
            for len in 1..q.len() {
                if let Some(p) = q.get(..len).filter(|p| paths.contains(p)) {
                    u.overlapping_paths.insert(p.to_vec());
                    u.overlapping_paths.insert(q.to_vec());
                }
            }
        }
        u
    }

    /// The key of a field id (ids come from this universe).
    fn key(&self, id: u32) -> &FieldKey {
        static TIME: FieldKey = FieldKey::Time;
        self.field_keys.get(id as usize).unwrap_or(&TIME)
    }

    fn agents_of(&self, p: &AgentPattern) -> Atoms {
        match p {
            AgentPattern::Any => Atoms::range(0, self.agent_atoms.len() as u32),
            AgentPattern::Exact(a) => match self.agent_index.get(a) {
                Some(&i) => Atoms::range(i, i + 1),
                None => Atoms::range(0, 0),
            },
            AgentPattern::Namespace(ns) => match self.namespaces.get(ns) {
                Some(&(start, end)) => Atoms::range(start, end),
                None => Atoms::range(0, 0),
            },
        }
    }

    fn actions_of(&self, p: &ActionPattern) -> Atoms {
        match p {
            ActionPattern::Any => Atoms::range(0, self.actions.len() as u32 + 1),
            ActionPattern::Exact(a) => match self.action_index.get(a) {
                Some(&i) => Atoms::range(i, i + 1),
                None => Atoms::range(0, 0),
            },
        }
    }

    fn path_field(&mut self, path: &[String]) -> u32 {
        if let Some(&id) = self.paths.get(path) {
            return id;
        }
        let id = self.field(FieldKey::Path(path.to_vec()));
        self.paths.insert(path.to_vec(), id);
        id
    }

    fn field(&mut self, key: FieldKey) -> u32 {
        if let Some(&id) = self.fields.get(&key) {
            return id;
        }
        let id = self.field_keys.len() as u32;
        self.field_keys.push(key.clone());
        self.fields.insert(key, id);
        id
    }

    fn string(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.strings.get(s) {
            return id;
        }
        let id = self.string_names.len() as u32;
        self.string_names.push(s.to_string());
        self.strings.insert(s.to_string(), id);
        id
    }

    /// The region of a rule (its agent, action and conditions; whether it is
    /// enabled is the caller's business).
    pub(crate) fn region(&mut self, rule: &Rule) -> RuleRegion {
        let mut exact = true;
        let mut fields: SmallVec<[(u32, Dim); 4]> = SmallVec::new();
        for c in &rule.conditions {
            for (id, dim) in self.constraints(c, &mut exact) {
                match fields.binary_search_by_key(&id, |(k, _)| *k) {
                    Ok(i) => {
                        if let Some(slot) = fields.get_mut(i) {
                            slot.1 = slot.1.intersect(&dim);
                        }
                    }
                    Err(i) => fields.insert(i, (id, dim)),
                }
            }
        }
        RuleRegion {
            region: Region {
                agents: self.agents_of(&rule.agent),
                actions: self.actions_of(&rule.action),
                fields,
            },
            exact,
        }
    }

    /// The constraints one condition puts on the dimensions.
    fn constraints(&mut self, c: &Condition, exact: &mut bool) -> SmallVec<[(u32, Dim); 2]> {
        match &c.field {
            Field::Path(path) => {
                if self.overlapping_paths.contains(path) {
                    *exact = false;
                    return SmallVec::new();
                }
                match self.values(c) {
                    Some(v) => smallvec::smallvec![(self.path_field(path), Dim::Values(v))],
                    None => {
                        *exact = false;
                        SmallVec::new()
                    }
                }
            }
            Field::Hour | Field::Weekday => {
                let (key, universe): (FieldKey, Vec<Value<'static>>) = if c.field == Field::Hour {
                    (
                        FieldKey::Hour,
                        (0..24).map(|h| Value::Number(f64::from(h))).collect(),
                    )
                } else {
                    (
                        FieldKey::Weekday,
                        WEEKDAYS
                            .iter()
                            .map(|d| Value::String((*d).into()))
                            .collect(),
                    )
                };
                let time = self.field(FieldKey::Time);
                if let Operand::Exists(want) = c.operand {
                    let mask = if want { TIME_PRESENT } else { TIME_MISSING };
                    return smallvec::smallvec![(time, Dim::Mask(mask))];
                }
                // Every other operator needs the timestamp; over the small
                // universe each one can be decided value by value, exactly.
                let mut mask = 0u32;
                for (i, v) in universe.iter().enumerate() {
                    if condition_holds(c, v) {
                        mask |= 1 << i;
                    }
                }
                let id = self.field(key);
                smallvec::smallvec![(time, Dim::Mask(TIME_PRESENT)), (id, Dim::Mask(mask))]
            }
        }
    }

    /// The values of a context field that satisfy `c`; `None` when that set
    /// cannot be described exactly.
    fn values(&mut self, c: &Condition) -> Option<Values> {
        let single = |u: &mut Universe, v: &Value<'_>| -> Option<Values> {
            let mut s = Values::none();
            match v {
                // `null` is missing, which no `==` or `in` matches.
                Value::Null => {}
                Value::Bool(true) => s.truthy = true,
                Value::Bool(false) => s.falsy = true,
                Value::Number(n) => s.numbers = Numbers::point(*n),
                Value::String(t) => s.strings = Strings::In(smallvec::smallvec![u.string(t)]),
                Value::Array(_) | Value::Object(_) => return None,
            }
            Some(s)
        };
        let set_of = |u: &mut Universe, items: &[Value<'_>]| -> Option<Values> {
            let mut s = Values::none();
            let mut nums = Vec::new();
            let mut strs = Ids::new();
            for v in items {
                match v {
                    Value::Null => {}
                    Value::Bool(true) => s.truthy = true,
                    Value::Bool(false) => s.falsy = true,
                    Value::Number(n) => nums.push(*n),
                    Value::String(t) => strs.push(u.string(t)),
                    Value::Array(_) | Value::Object(_) => return None,
                }
            }
            strs.sort_unstable();
            strs.dedup();
            s.numbers = Numbers::points(nums);
            s.strings = Strings::In(strs);
            Some(s)
        };
        let present = Values::present();
        match (&c.operand, c.op) {
            (Operand::Exists(true), _) => Some(present),
            (Operand::Exists(false), _) => Some(Values {
                missing: true,
                ..Values::none()
            }),
            (Operand::Number(n), op) => Some(Values {
                numbers: Numbers::ordering(op, *n),
                ..Values::none()
            }),
            (Operand::List(items), Op::In) => set_of(self, items),
            (Operand::List(items), _) => {
                Some(present.intersect(&set_of(self, items)?.complement()))
            }
            (Operand::Value(v), Op::Eq) => single(self, v),
            (Operand::Value(v), Op::Ne) => Some(present.intersect(&single(self, v)?.complement())),
            _ => None,
        }
    }

    /// A request in `region` (which must not be empty), as JSON.
    pub(crate) fn witness(&self, region: &Region) -> Json {
        let agent = region
            .agents
            .first()
            .map(|i| self.agent_atom_name(i))
            .unwrap_or_default();
        let action = region
            .actions
            .first()
            .map(|i| self.action_atom_name(i))
            .unwrap_or_default();
        let mut context = serde_json::Map::new();
        let mut hour = 12u32;
        let mut weekday = 0u32;
        let mut time = TIME_MISSING;
        for (id, dim) in &region.fields {
            let Some(key) = self.field_keys.get(*id as usize) else {
                continue;
            };
            match (key, dim) {
                (FieldKey::Path(path), Dim::Values(v)) => {
                    if let Some(value) = self.pick_value(v) {
                        insert_path(&mut context, path, value);
                    }
                }
                (FieldKey::Time, Dim::Mask(m)) => {
                    time = if m & TIME_MISSING != 0 {
                        TIME_MISSING
                    } else {
                        TIME_PRESENT
                    }
                }
                (FieldKey::Hour, Dim::Mask(m)) => hour = m.trailing_zeros().min(23),
                (FieldKey::Weekday, Dim::Mask(m)) => weekday = m.trailing_zeros().min(6),
                _ => {}
            }
        }
        let mut request = json!({"agent": agent, "action": action, "context": context});
        let uses_time = region
            .fields
            .iter()
            .any(|(id, _)| matches!(self.field_keys.get(*id as usize), Some(FieldKey::Time)));
        if uses_time && time == TIME_PRESENT {
            if let Some(ts) = self.timestamp(hour, weekday) {
                if let Some(obj) = request.as_object_mut() {
                    obj.insert("timestamp".to_string(), Json::String(ts));
                }
            }
        }
        request
    }

    /// A timestamp whose local hour and weekday in the bundle's zone are
    /// the given ones (a January week, clear of daylight-saving changes).
    fn timestamp(&self, hour: u32, weekday: u32) -> Option<String> {
        let tz = self.timezone.clone().unwrap_or(jiff::tz::TimeZone::UTC);
        // 2026-01-05 is a Monday.
        let day = i8::try_from(5 + weekday).ok()?;
        let dt = jiff::civil::date(2026, 1, day).at(i8::try_from(hour).ok()?, 30, 0, 0);
        let ts = tz.to_timestamp(dt).ok()?;
        Some(ts.to_string())
    }

    /// About how many bytes the witness request of a region inside
    /// `region` takes as JSON, at most: the names of its fields and the
    /// longest value each could be given. Cheap, so callers can decide
    /// before building one.
    pub(crate) fn witness_bytes(&self, region: &Region) -> usize {
        let mut bytes = 128usize;
        for (id, dim) in &region.fields {
            let name: usize = match self.field_keys.get(*id as usize) {
                Some(FieldKey::Path(path)) => path.iter().map(|p| p.len() + 8).sum(),
                _ => 32,
            };
            let value = match dim {
                Dim::Values(Values {
                    strings: Strings::In(ids),
                    ..
                }) => ids
                    .iter()
                    .filter_map(|i| self.string_names.get(*i as usize))
                    .map(String::len)
                    .max()
                    .unwrap_or(0),
                _ => 0,
            };
            bytes = bytes.saturating_add(name + value + 32);
        }
        bytes
    }

    /// The field whose set is empty in `region`, if one is.
    pub(crate) fn empty_field(&self, region: &Region) -> Option<FieldKey> {
        region
            .fields
            .iter()
            .find(|(_, d)| d.is_empty())
            .and_then(|(id, _)| self.field_keys.get(*id as usize).cloned())
    }

    /// Whether condition `c` constrains the dimension `key`.
    pub(crate) fn condition_is_on(&self, c: &Condition, key: &FieldKey) -> bool {
        match (&c.field, key) {
            (Field::Path(p), FieldKey::Path(q)) => p == q,
            (Field::Hour | Field::Weekday, FieldKey::Time) => true,
            (Field::Hour, FieldKey::Hour) | (Field::Weekday, FieldKey::Weekday) => true,
            _ => false,
        }
    }

    fn agent_atom_name(&self, i: usize) -> String {
        // "Another agent of namespace N", or "an agent outside every
        // namespace named": a name no pattern singles out.
        let (mut ns, mut agent) = match self.agent_atoms.get(i) {
            Some(AgentAtom::Name(a)) => return a.clone(),
            Some(AgentAtom::Other(ns)) => (ns.clone(), "other".to_string()),
            _ => ("other".to_string(), "agent".to_string()),
        };
        let outside = !matches!(self.agent_atoms.get(i), Some(AgentAtom::Other(_)));
        loop {
            let name = format!("{ns}.{agent}");
            let clash = self.agent_index.contains_key(&name)
                || (outside && self.namespaces.contains_key(&ns));
            if !clash {
                return name;
            }
            if outside {
                ns.push('x');
            } else {
                agent.push('x');
            }
        }
    }

    fn action_atom_name(&self, i: usize) -> String {
        if let Some(a) = self.actions.get(i) {
            return a.clone();
        }
        let mut name = "other_action".to_string();
        while self.action_index.contains_key(&name) {
            name.push('x');
        }
        name
    }

    fn pick_value(&self, v: &Values) -> Option<Json> {
        if v.missing {
            return None;
        }
        if let Some(n) = v.numbers.pick() {
            return Some(number_json(n));
        }
        match &v.strings {
            Strings::In(ids) if !ids.is_empty() => {
                return ids
                    .first()
                    .and_then(|id| self.string_names.get(*id as usize))
                    .map(|s| json!(s));
            }
            Strings::NotIn(ids) => {
                let mut s = "value".to_string();
                let mut k = 0;
                while ids
                    .iter()
                    .any(|id| self.string_names.get(*id as usize) == Some(&s))
                {
                    k += 1;
                    s = format!("value{k}");
                }
                return Some(json!(s));
            }
            _ => {}
        }
        if v.truthy {
            return Some(json!(true));
        }
        if v.falsy {
            return Some(json!(false));
        }
        if v.compound {
            return Some(json!({}));
        }
        None
    }
}

fn number_json(n: f64) -> Json {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

fn insert_path(map: &mut serde_json::Map<String, Json>, path: &[String], value: Json) {
    match path {
        [] => {}
        [last] => {
            map.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = map.entry(first.clone()).or_insert_with(|| json!({}));
            if let Json::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// Whether `c` holds for the value `v` (used over small finite universes).
pub(crate) fn condition_holds(c: &Condition, v: &Value<'_>) -> bool {
    use crate::engine::equal;
    match (&c.operand, c.op) {
        (Operand::Exists(want), _) => *want,
        (Operand::Number(limit), op) => match v.as_f64() {
            Some(x) => match op {
                Op::Ge => x >= *limit,
                Op::Le => x <= *limit,
                Op::Gt => x > *limit,
                _ => x < *limit,
            },
            None => false,
        },
        (Operand::List(items), Op::In) => items.iter().any(|i| equal(v, i)),
        (Operand::List(items), _) => !items.iter().any(|i| equal(v, i)),
        (Operand::Regex(re), _) => v.as_str().is_some_and(|s| re.is_match(s)),
        (Operand::Value(o), Op::Contains) => match v {
            Value::String(s) => o.as_str().is_some_and(|n| s.contains(n)),
            _ => false,
        },
        (Operand::Value(o), Op::Ne) => !equal(v, o),
        (Operand::Value(o), _) => equal(v, o),
    }
}

// ----------------------------------------------------------------- points --

/// One value of one dimension: a single request, for cheap membership tests.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PointValue {
    Missing,
    Bool(bool),
    Num(f64),
    /// An interned string, or (`None`) a string no rule mentions.
    Str(Option<u32>),
    Compound,
    Bit(u32),
}

impl Dim {
    fn contains(&self, v: PointValue) -> bool {
        match (self, v) {
            (Dim::Mask(m), PointValue::Bit(b)) => m & (1 << b) != 0,
            (Dim::Values(s), v) => match v {
                PointValue::Missing => s.missing,
                PointValue::Bool(true) => s.truthy,
                PointValue::Bool(false) => s.falsy,
                PointValue::Num(x) => s.numbers.contains(x),
                PointValue::Str(id) => match (&s.strings, id) {
                    (Strings::In(ids), Some(id)) => ids.binary_search(&id).is_ok(),
                    (Strings::NotIn(ids), Some(id)) => ids.binary_search(&id).is_err(),
                    (Strings::In(_), None) => false,
                    (Strings::NotIn(_), None) => true,
                },
                PointValue::Compound => s.compound,
                PointValue::Bit(_) => false,
            },
            _ => false,
        }
    }

    /// A value of this (non-empty) set, preferring "missing": most
    /// conditions need a field present, so it escapes the most boxes.
    fn pick(&self) -> Option<PointValue> {
        match self {
            Dim::Mask(m) => (*m != 0).then(|| PointValue::Bit(m.trailing_zeros())),
            Dim::Values(s) => {
                if s.missing {
                    return Some(PointValue::Missing);
                }
                if let Some(x) = s.numbers.pick() {
                    return Some(PointValue::Num(x));
                }
                match &s.strings {
                    Strings::In(ids) if !ids.is_empty() => {
                        return ids.first().map(|i| PointValue::Str(Some(*i)));
                    }
                    Strings::NotIn(_) => return Some(PointValue::Str(None)),
                    Strings::In(_) => {}
                }
                [
                    (s.truthy, PointValue::Bool(true)),
                    (s.falsy, PointValue::Bool(false)),
                    (s.compound, PointValue::Compound),
                ]
                .into_iter()
                .find(|(ok, _)| *ok)
                .map(|(_, v)| v)
            }
        }
    }
}

/// A single request, dimension by dimension.
#[derive(Debug, Clone)]
struct Point {
    agent: usize,
    action: usize,
    fields: SmallVec<[(u32, PointValue); 8]>,
}

impl Point {
    fn value(&self, id: u32) -> Option<PointValue> {
        // Fields are kept sorted by id (`escapes` builds them in order).
        self.fields
            .binary_search_by_key(&id, |(k, _)| *k)
            .ok()
            .and_then(|i| self.fields.get(i))
            .map(|(_, v)| *v)
    }
}

impl Region {
    fn contains(&self, p: &Point) -> bool {
        self.agents.contains(p.agent)
            && self.actions.contains(p.action)
            && self
                .fields
                .iter()
                .all(|(id, d)| p.value(*id).is_some_and(|v| d.contains(v)))
    }
}

/// Looks for a request in `r` outside every region of `others` by walking:
/// start at a corner of `r`; while some box contains the point, move one
/// coordinate out of that box (staying in `r`). Finding one proves `r` is
/// not covered; not finding one proves nothing (the exact search decides).
/// Each membership test spends [`cost`] of `work`; out of work, it gives up.
pub(crate) fn escapes(r: &Region, others: &[&Region], universe: &Universe, work: &mut u64) -> bool {
    let full = |id: u32| full_dim(universe.key(id));
    let own = |id: u32| r.dim(id).cloned().unwrap_or_else(|| full(id));
    let (Some(agent), Some(action)) = (r.agents.first(), r.actions.first()) else {
        return false;
    };
    let mut point = Point {
        agent,
        action,
        fields: SmallVec::new(),
    };
    let mut ids: SmallVec<[u32; 8]> = r.fields.iter().map(|(k, _)| *k).collect();
    for o in others {
        ids.extend(o.fields.iter().map(|(k, _)| *k));
    }
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        match own(id).pick() {
            Some(v) => point.fields.push((id, v)),
            None => return false,
        }
    }
    for step in 0..(2 * others.len() + 4) {
        let mut inside = None;
        for o in others {
            let c = cost(&[o]);
            if *work < c {
                return false;
            }
            *work -= c;
            if o.contains(&point) {
                inside = Some(o);
                break;
            }
        }
        let Some(inside) = inside else {
            return true;
        };
        // Move out of `inside` along one of its dimensions, rotating the
        // starting dimension so the walk does not bounce between two boxes.
        let n = inside.fields.len() + 2;
        let mut moved = false;
        for k in 0..n {
            match (k + step) % n {
                0 => {
                    if let Some(a) = r.agents.minus(&inside.agents).first() {
                        point.agent = a;
                        moved = true;
                    }
                }
                1 => {
                    if let Some(a) = r.actions.minus(&inside.actions).first() {
                        point.action = a;
                        moved = true;
                    }
                }
                f => {
                    let Some((id, sd)) = inside.fields.get(f - 2) else {
                        continue;
                    };
                    let key = universe.key(*id);
                    if let Some(v) = own(*id).minus(sd, key).pick() {
                        let slot = point
                            .fields
                            .binary_search_by_key(id, |(k, _)| *k)
                            .ok()
                            .and_then(|i| point.fields.get_mut(i));
                        if let Some(slot) = slot {
                            slot.1 = v;
                            moved = true;
                        }
                    }
                }
            }
            if moved {
                break;
            }
        }
        if !moved {
            return false;
        }
    }
    false
}

// ------------------------------------------------------------------ cover --

/// The outcome of a bounded search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cover {
    Covered,
    NotCovered,
    /// The work budget ran out.
    Unknown,
}

/// What comparing or copying these boxes costs in units of work: one per
/// box, plus one per 16 fields they hold, so that rules with thousands of
/// conditions spend the budget in proportion to the work they cause.
pub(crate) fn cost(boxes: &[&Region]) -> u64 {
    let fields: usize = boxes.iter().map(|b| b.fields.len()).sum();
    boxes.len() as u64 + (fields / 16) as u64
}

/// The most fields the pieces waiting in `covered`'s search may hold
/// together (about 100 bytes each): past it the search gives up as if out
/// of work, so memory stays bounded whatever the budget.
const MAX_PENDING_FIELDS: usize = 1 << 20;

/// Whether `r` lies inside the union of `others`: subtract them one by one
/// (a box minus a box is at most one disjoint box per dimension) and look
/// for a piece that survives. Depth first, with an explicit stack (the
/// search may go as deep as there are boxes). `work` is decremented per box
/// considered and per 32 fields of the pieces built.
pub(crate) fn covered(
    r: &Region,
    others: &[&Region],
    work: &mut u64,
    universe: &Universe,
) -> Cover {
    if r.is_empty() {
        return Cover::Covered;
    }
    // Each entry: a piece of `r` not yet covered, and the first box of
    // `others` it still has to be checked against.
    let mut stack: Vec<(Region, usize)> = vec![(r.clone(), 0)];
    let mut pending = r.fields.len();
    let mut unknown = false;
    while let Some((piece, from)) = stack.pop() {
        pending = pending.saturating_sub(piece.fields.len());
        if piece.is_empty() {
            continue;
        }
        let mut next = from;
        let hit = loop {
            let Some(s) = others.get(next) else {
                // This piece lies outside every box.
                return Cover::NotCovered;
            };
            let c = 1 + ((piece.fields.len() + s.fields.len()) / 16) as u64;
            if *work < c {
                break None;
            }
            *work -= c;
            if piece.intersects(s) {
                break Some(*s);
            }
            next += 1;
        };
        let Some(s) = hit else {
            unknown = true;
            continue;
        };
        // Pieces cost one unit per 32 fields copied; they must fit the work
        // left and the memory bound.
        let affordable = usize::try_from(*work)
            .unwrap_or(usize::MAX)
            .saturating_mul(32)
            .min(MAX_PENDING_FIELDS - pending.min(MAX_PENDING_FIELDS));
        let Some(pieces) = minus_within(&piece, s, universe, affordable) else {
            *work = work.saturating_sub((affordable / 32) as u64);
            unknown = true;
            continue;
        };
        let fields: usize = pieces.iter().map(|p| p.fields.len()).sum();
        *work = work.saturating_sub((fields / 32) as u64);
        pending += fields;
        // Reversed, so the first piece is searched first.
        stack.extend(pieces.into_iter().rev().map(|p| (p, next + 1)));
    }
    if unknown {
        Cover::Unknown
    } else {
        Cover::Covered
    }
}

/// `r` minus `s` as disjoint boxes.
pub(crate) fn minus(r: &Region, s: &Region, universe: &Universe) -> Vec<Region> {
    minus_within(r, s, universe, usize::MAX).unwrap_or_default()
}

/// `r` minus `s`, or `None` as soon as the pieces would hold more than
/// `max_fields` fields together (each piece is a copy of `r`, so a box of
/// many conditions minus another makes many large pieces).
fn minus_within(
    r: &Region,
    s: &Region,
    universe: &Universe,
    max_fields: usize,
) -> Option<Vec<Region>> {
    let mut out = Vec::new();
    let mut fields = 0usize;
    let mut room = |n: usize| {
        fields = fields.saturating_add(n);
        fields <= max_fields
    };
    let mut prefix = r.clone();
    // Agents.
    let rest = prefix.agents.minus(&s.agents);
    if !rest.is_empty() {
        if !room(prefix.fields.len()) {
            return None;
        }
        out.push(Region {
            agents: rest,
            ..prefix.clone()
        });
    }
    prefix.agents = prefix.agents.intersect(&s.agents);
    let rest = prefix.actions.minus(&s.actions);
    if !rest.is_empty() {
        if !room(prefix.fields.len()) {
            return None;
        }
        out.push(Region {
            actions: rest,
            ..prefix.clone()
        });
    }
    prefix.actions = prefix.actions.intersect(&s.actions);
    for (id, sd) in &s.fields {
        let key = universe.key(*id);
        let rd = prefix.dim(*id).cloned().unwrap_or_else(|| full_dim(key));
        let rest = rd.minus(sd, key);
        if !rest.is_empty() {
            if !room(prefix.fields.len() + 1) {
                return None;
            }
            let mut piece = prefix.clone();
            set_dim(&mut piece, *id, rest);
            out.push(piece);
        }
        let inter = rd.intersect(sd);
        set_dim(&mut prefix, *id, inter);
    }
    Some(out)
}

fn full_dim(key: &FieldKey) -> Dim {
    match key {
        FieldKey::Path(_) => Dim::Values(Values::all()),
        k => Dim::Mask(full_mask(k)),
    }
}

fn set_dim(r: &mut Region, id: u32, d: Dim) {
    match r.fields.binary_search_by_key(&id, |(k, _)| *k) {
        Ok(i) => {
            if let Some(slot) = r.fields.get_mut(i) {
                slot.1 = d;
            }
        }
        Err(i) => r.fields.insert(i, (id, d)),
    }
}

impl Region {
    /// Whether every request in `self` is in `o` (without building pieces).
    pub(crate) fn is_subset_of(&self, o: &Region, universe: &Universe) -> bool {
        if !self.agents.minus(&o.agents).is_empty() || !self.actions.minus(&o.actions).is_empty() {
            return false;
        }
        o.fields.iter().all(|(id, od)| {
            let key = universe.key(*id);
            match self.dim(*id) {
                Some(sd) => sd.minus(od, key).is_empty(),
                None => full_dim(key).minus(od, key).is_empty(),
            }
        })
    }

    /// How many fields it constrains: fewer usually means a larger box.
    pub(crate) fn constraints(&self) -> usize {
        self.fields.len()
    }
}

/// Whether `a` is a subset of `b`.
pub(crate) fn subset(a: &Region, b: &Region, universe: &Universe) -> bool {
    minus(a, b, universe).iter().all(Region::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Range sets of atoms against plain sets of indices, on every set of
    /// up to three ranges over ten atoms drawn by a small generator.
    #[test]
    fn atom_ranges_match_sets_of_atoms() {
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        let mut draw = || {
            let mut ranges: SmallVec<[(u32, u32); 1]> = SmallVec::new();
            let mut at = 0u32;
            for _ in 0..next(4) {
                let start = at + next(3) as u32;
                let end = start + 1 + next(3) as u32;
                if end > 10 {
                    break;
                }
                ranges.push((start, end));
                at = end + 1;
            }
            Atoms(ranges)
        };
        let set = |a: &Atoms| -> Vec<usize> { (0..10).filter(|i| a.contains(*i)).collect() };
        for _ in 0..2_000 {
            let (a, b) = (draw(), draw());
            let (sa, sb) = (set(&a), set(&b));
            let inter: Vec<usize> = sa.iter().copied().filter(|i| sb.contains(i)).collect();
            let minus: Vec<usize> = sa.iter().copied().filter(|i| !sb.contains(i)).collect();
            assert_eq!(set(&a.intersect(&b)), inter, "{a:?} ∩ {b:?}");
            assert_eq!(a.intersects(&b), !inter.is_empty(), "{a:?} ∩ {b:?}");
            assert_eq!(set(&a.minus(&b)), minus, "{a:?} − {b:?}");
            assert_eq!(a.minus(&b).is_empty(), minus.is_empty());
            assert_eq!(a.first(), sa.first().copied());
        }
    }

    #[test]
    fn interval_algebra() {
        let ge90 = Numbers::ordering(Op::Ge, 90.0);
        let lt50 = Numbers::ordering(Op::Lt, 50.0);
        assert!(ge90.intersect(&lt50).is_empty());
        let c = ge90.complement();
        assert!(c.contains(89.999) && !c.contains(90.0));
        assert_eq!(c.complement(), ge90);
        let p = Numbers::points(vec![3.0, 1.0, 3.0]);
        assert!(p.contains(1.0) && p.contains(3.0) && !p.contains(2.0));
        assert!(p.complement().contains(2.0) && !p.complement().contains(3.0));
        assert_eq!(Numbers::ordering(Op::Gt, 5.0).pick(), Some(6.0));
        assert_eq!(
            Numbers::ordering(Op::Ge, 5.0)
                .intersect(&Numbers::ordering(Op::Lt, 5.5))
                .pick(),
            Some(5.0)
        );
        let open = Numbers::ordering(Op::Gt, 5.0).intersect(&Numbers::ordering(Op::Lt, 5.5));
        assert_eq!(open.pick(), Some(5.25));
    }
}
