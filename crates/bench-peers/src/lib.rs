//! Gavel's engine next to two peers, Cedar (`cedar-policy`) and OPA's Rego
//! (`regorus`), on the same generated bundles and requests.
//!
//! A bundle is generated once as a [`BundleSpec`] and rendered three ways:
//! as a Gavel bundle ([`BundleSpec::gavel_json`]), as Cedar policies
//! ([`cedar::policies`]) and as a Rego package ([`rego::modules`]). The
//! translation is equivalent by construction of the bundle, not in general:
//! Gavel decides by the first matching rule in priority order, Cedar and Rego
//! have no priorities. Generated priorities are layered by effect (every
//! deny rule above every needs_approval rule above every allow rule), so
//! Gavel's answer is "deny if any deny rule matches, else needs_approval if
//! any needs_approval rule matches, else allow if any allow rule matches,
//! else deny", which is what the Cedar and Rego translations say.
//! BENCHMARKS.md at the repository root lists the differences between the
//! engines that this shape avoids.
//!
//! [`agree::check`] decides every request with every engine and reports the
//! requests on which they differ; `src/bin/peers.rs` checks agreement and
//! then times each engine ([`measure`]).
//!
//! This crate is a benchmark, not a product: it is not a default member of
//! the workspace, and nothing else depends on it.
//!
//! ```no_run
//! use gavel_bench_peers::agree::{Scope, check};
//!
//! let spec = gavel_bench_peers::BundleSpec::generate(100, 42);
//! let requests = gavel_bench_peers::requests(1_000, 7);
//! let report = check(&spec, &spec.translations(), &requests, Scope::ALL)?;
//! assert!(report.disagreements.is_empty());
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod agree;
pub mod cedar;
pub mod floor;
pub mod gavel;
pub mod measure;
pub mod rego;

use gavel_policy::Effect;
use serde_json::{Value, json};

/// A small portable generator (SplitMix64), so every machine generates the
/// same bundles and requests for the same seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A uniformly chosen element.
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        let i = self.below(items.len() as u64) as usize;
        items[i].clone()
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

/// The namespaces agents live in.
pub const NAMESPACES: [&str; 6] = ["billing", "support", "inbox", "ops", "search", "release"];

/// Agent names within a namespace: rules name the first five; `spare` is
/// an agent the deployment knows (Cedar's entity store has it) that no rule
/// names by itself, reached only through `ns.*` and `*` rules.
const AGENT_NAMES: [&str; 6] = ["alpha", "bravo", "charlie", "delta", "echo", "spare"];
const NAMED_PER_NAMESPACE: usize = 5;

/// Agents in namespaces no bundle mentions (and no entity store holds).
const UNKNOWN_AGENTS: [&str; 3] = ["ghost.runner", "temp.worker", "intern.helper"];

/// Actions beyond Gavel's standard vocabulary, declared in the bundle's
/// `metadata.actions`.
pub const CUSTOM_ACTIONS: [&str; 11] = [
    "send_email",
    "refund",
    "read_file",
    "write_file",
    "run_query",
    "open_ticket",
    "merge_pr",
    "restart",
    "rotate_key",
    "export_data",
    "invite_user",
];

/// An action some requests ask for that no bundle declares: only `*`
/// rules cover it.
const UNDECLARED_ACTION: &str = "teleport";

/// Values of the two string fields of a request's context.
pub const CATEGORIES: [&str; 8] = [
    "phishing",
    "spam",
    "newsletter",
    "invoice",
    "internal",
    "legal",
    "hr",
    "unknown",
];
pub const REGIONS: [&str; 6] = ["eu", "us", "apac", "latam", "mea", "anz"];

/// Every action of the generated vocabulary: the standard ones, then the
/// declared ones.
pub fn actions() -> Vec<&'static str> {
    gavel_policy::STANDARD_ACTIONS
        .iter()
        .chain(CUSTOM_ACTIONS.iter())
        .copied()
        .collect()
}

/// Every agent the deployment knows: those rules name and one spare per
/// namespace (Cedar's entity store holds exactly these).
pub fn known_agents() -> Vec<String> {
    NAMESPACES
        .iter()
        .flat_map(|ns| AGENT_NAMES.iter().map(move |name| format!("{ns}.{name}")))
        .collect()
}

/// The agents rules name by themselves.
fn named_agents() -> Vec<String> {
    NAMESPACES
        .iter()
        .flat_map(|ns| {
            AGENT_NAMES[..NAMED_PER_NAMESPACE]
                .iter()
                .map(move |name| format!("{ns}.{name}"))
        })
        .collect()
}

/// Which agents a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentSpec {
    /// `ns.name`
    Exact(String),
    /// `ns.*`
    Namespace(&'static str),
    /// `*`
    Any,
}

/// Which actions a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionSpec {
    Exact(&'static str),
    Any,
}

/// An ordering operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Ge,
    Gt,
    Le,
    Lt,
}

impl CmpOp {
    /// As Gavel, Cedar and Rego all write it.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Ge => ">=",
            CmpOp::Gt => ">",
            CmpOp::Le => "<=",
            CmpOp::Lt => "<",
        }
    }

    pub fn holds(self, left: i64, right: i64) -> bool {
        match self {
            CmpOp::Ge => left >= right,
            CmpOp::Gt => left > right,
            CmpOp::Le => left <= right,
            CmpOp::Lt => left < right,
        }
    }
}

/// One condition on a top-level field of the request's context. Fields are
/// integers (`risk_score`, `amount`) or strings (`category`, `region`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// `">=risk_score": 70`
    Cmp {
        field: &'static str,
        op: CmpOp,
        value: i64,
    },
    /// `"in:category": ["spam", "phishing"]`
    In {
        field: &'static str,
        values: Vec<&'static str>,
    },
    /// `"category": "spam"`
    Eq {
        field: &'static str,
        value: &'static str,
    },
}

impl Cond {
    pub fn field(&self) -> &'static str {
        match self {
            Cond::Cmp { field, .. } | Cond::In { field, .. } | Cond::Eq { field, .. } => field,
        }
    }
}

/// One generated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub id: String,
    pub agent: AgentSpec,
    pub action: ActionSpec,
    pub effect: Effect,
    pub priority: u8,
    pub conditions: Vec<Cond>,
}

/// A generated bundle, before it is written in any engine's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSpec {
    pub rules: Vec<RuleSpec>,
}

/// Priorities by effect: the layers never overlap, so the first match in
/// priority order has the strongest effect of all the matches.
fn priority_layer(effect: Effect) -> (u64, u64) {
    match effect {
        Effect::Deny => (67, 100),
        Effect::NeedsApproval => (34, 66),
        Effect::Allow => (0, 33),
    }
}

impl BundleSpec {
    /// `rules` rules over a fixed universe of 30 agents in 6 namespaces and
    /// 20 actions: 86 % name one agent, 10 % a namespace (`ns.*`), 4 % every
    /// agent; 94 % name one action, 6 % every action (`*`); 25 % deny, 20 %
    /// needs_approval, 55 % allow, at priorities layered by effect; deny
    /// rules have three conditions, needs_approval rules two or three, allow
    /// rules one to three, each on a distinct field. At 1,000 rules Gavel
    /// tries about six rules a request.
    pub fn generate(rules: usize, seed: u64) -> BundleSpec {
        let mut rng = Rng::new(seed);
        let agents = named_agents();
        let actions = actions();
        let rules = (0..rules)
            .map(|i| {
                let effect = match rng.below(20) {
                    0..=4 => Effect::Deny,
                    5..=8 => Effect::NeedsApproval,
                    _ => Effect::Allow,
                };
                let (lo, hi) = priority_layer(effect);
                let priority = rng.between(lo, hi) as u8;
                let agent = match rng.below(100) {
                    0..=85 => AgentSpec::Exact(rng.pick(&agents)),
                    86..=95 => AgentSpec::Namespace(rng.pick(&NAMESPACES)),
                    _ => AgentSpec::Any,
                };
                let action = if rng.percent(94) {
                    ActionSpec::Exact(rng.pick(&actions))
                } else {
                    ActionSpec::Any
                };
                let mut fields = vec!["risk_score", "amount", "category", "region"];
                // One to three conditions; the stronger the effect, the
                // narrower the rule (deny rules are guards on particular
                // cases, allow rules broad).
                let count = match effect {
                    Effect::Deny => 3,
                    Effect::NeedsApproval => rng.between(2, 3),
                    Effect::Allow => rng.between(1, 3),
                } as usize;
                let conditions = (0..count)
                    .map(|_| {
                        let field = fields.remove(rng.below(fields.len() as u64) as usize);
                        condition(&mut rng, field)
                    })
                    .collect();
                RuleSpec {
                    id: format!("rule-{i:05}"),
                    agent,
                    action,
                    effect,
                    priority,
                    conditions,
                }
            })
            .collect();
        BundleSpec { rules }
    }

    /// The Gavel bundle as JSON text (default effect deny, the custom
    /// actions declared).
    pub fn gavel_json(&self) -> String {
        let rules: Vec<Value> = self
            .rules
            .iter()
            .map(|rule| {
                let mut conditions = serde_json::Map::new();
                for cond in &rule.conditions {
                    let (key, value) = match cond {
                        Cond::Cmp { field, op, value } => {
                            (format!("{}{field}", op.symbol()), json!(value))
                        }
                        Cond::In { field, values } => (format!("in:{field}"), json!(values)),
                        Cond::Eq { field, value } => ((*field).to_string(), json!(value)),
                    };
                    conditions.insert(key, value);
                }
                json!({
                    "id": rule.id,
                    "agent": match &rule.agent {
                        AgentSpec::Exact(a) => a.clone(),
                        AgentSpec::Namespace(ns) => format!("{ns}.*"),
                        AgentSpec::Any => "*".to_string(),
                    },
                    "action": match rule.action {
                        ActionSpec::Exact(a) => a,
                        ActionSpec::Any => "*",
                    },
                    "effect": rule.effect.as_str(),
                    "priority": rule.priority,
                    "conditions": conditions,
                    "reason": "Generated rule for the peer benchmark",
                })
            })
            .collect();
        json!({
            "apiVersion": "gavel/v1",
            "kind": "PolicyBundle",
            "metadata": {
                "name": "peers",
                "version": "1.0.0",
                "default_effect": "deny",
                "actions": CUSTOM_ACTIONS,
            },
            "rules": rules,
        })
        .to_string()
    }

    /// The bundle in all three languages.
    pub fn translations(&self) -> Translations {
        Translations {
            gavel: self.gavel_json(),
            cedar: cedar::policies(self),
            rego: rego::Program::rules(self),
            rego_indexed: rego::Program::indexed(self),
        }
    }

    /// What the layered semantics say for `request`: deny if any deny rule
    /// matches, else needs_approval if any matches, else allow if any
    /// matches, else deny. The agreement tests check all three engines
    /// against this too.
    pub fn expected(&self, request: &RequestSpec) -> Effect {
        let mut best: Option<Effect> = None;
        for rule in self.rules.iter().filter(|r| r.matches(request)) {
            best = Some(match (best, rule.effect) {
                (_, Effect::Deny) | (Some(Effect::Deny), _) => Effect::Deny,
                (_, Effect::NeedsApproval) | (Some(Effect::NeedsApproval), _) => {
                    Effect::NeedsApproval
                }
                _ => Effect::Allow,
            });
        }
        best.unwrap_or(Effect::Deny)
    }
}

fn condition(rng: &mut Rng, field: &'static str) -> Cond {
    let op = rng.pick(&[CmpOp::Ge, CmpOp::Gt, CmpOp::Le, CmpOp::Lt]);
    match field {
        // Thresholds and request values share a grid, so that a request
        // often sits on a threshold: `>=` and `>` then differ.
        "risk_score" => Cond::Cmp {
            field,
            op,
            value: rng.between(2, 18) as i64 * 5,
        },
        "amount" => Cond::Cmp {
            field,
            op,
            value: rng.between(1, 19) as i64 * 500,
        },
        _ => {
            let pool: &[&'static str] = if field == "category" {
                &CATEGORIES
            } else {
                &REGIONS
            };
            if rng.percent(60) {
                let mut values: Vec<&'static str> = Vec::new();
                let want = rng.between(2, 3) as usize;
                while values.len() < want {
                    let v = rng.pick(pool);
                    if !values.contains(&v) {
                        values.push(v);
                    }
                }
                Cond::In { field, values }
            } else {
                Cond::Eq {
                    field,
                    value: rng.pick(pool),
                }
            }
        }
    }
}

impl RuleSpec {
    /// The rule's agent and action patterns and all its conditions hold.
    pub fn matches(&self, request: &RequestSpec) -> bool {
        self.covers(request) && self.conditions.iter().all(|c| request.satisfies(c))
    }

    /// The rule's agent and action patterns hold (it is a candidate).
    pub fn covers(&self, request: &RequestSpec) -> bool {
        let agent = match &self.agent {
            AgentSpec::Exact(a) => *a == request.agent,
            AgentSpec::Namespace(ns) => request
                .agent
                .strip_prefix(*ns)
                .is_some_and(|rest| rest.starts_with('.')),
            AgentSpec::Any => true,
        };
        let action = match self.action {
            ActionSpec::Exact(a) => a == request.action,
            ActionSpec::Any => true,
        };
        agent && action
    }
}

/// The bundle as Gavel JSON, Cedar policies and Rego files.
#[derive(Debug, Clone)]
pub struct Translations {
    pub gavel: String,
    pub cedar: String,
    /// The Rego package: one rule body a Gavel rule.
    pub rego: rego::Program,
    /// The rules as data for a fixed Rego program that looks them up by
    /// agent and action.
    pub rego_indexed: rego::Program,
}

/// One generated request: an agent, an action and a context of up to four
/// fields (any of which may be missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSpec {
    pub agent: String,
    pub action: String,
    pub risk_score: Option<i64>,
    pub amount: Option<i64>,
    pub category: Option<&'static str>,
    pub region: Option<&'static str>,
}

impl RequestSpec {
    /// `{agent, action, context}` as JSON text, the fields in that order.
    pub fn json(&self) -> String {
        let mut context = serde_json::Map::new();
        if let Some(v) = self.risk_score {
            context.insert("risk_score".into(), json!(v));
        }
        if let Some(v) = self.amount {
            context.insert("amount".into(), json!(v));
        }
        if let Some(v) = self.category {
            context.insert("category".into(), json!(v));
        }
        if let Some(v) = self.region {
            context.insert("region".into(), json!(v));
        }
        json!({"agent": self.agent, "action": self.action, "context": context}).to_string()
    }

    fn number(&self, field: &str) -> Option<i64> {
        match field {
            "risk_score" => self.risk_score,
            "amount" => self.amount,
            _ => None,
        }
    }

    fn text(&self, field: &str) -> Option<&'static str> {
        match field {
            "category" => self.category,
            "region" => self.region,
            _ => None,
        }
    }

    /// A condition on a missing field is false.
    pub fn satisfies(&self, cond: &Cond) -> bool {
        match cond {
            Cond::Cmp { field, op, value } => {
                self.number(field).is_some_and(|v| op.holds(v, *value))
            }
            Cond::In { field, values } => self.text(field).is_some_and(|v| values.contains(&v)),
            Cond::Eq { field, value } => self.text(field) == Some(*value),
        }
    }
}

/// `count` requests: 80 % from agents rules name, 8 % from a namespace's
/// spare agent, 12 % from agents of unknown namespaces; 97 % for an action
/// of the vocabulary, 3 % for an undeclared one; each context field present
/// most of the time (risk_score 92 %, 0–100 in steps of 5; amount 85 %,
/// 0–10,000 in steps of 500; category 95 %; region 90 %).
pub fn requests(count: usize, seed: u64) -> Vec<RequestSpec> {
    let mut rng = Rng::new(seed ^ 0x5EED_F00D);
    let named = named_agents();
    let actions = actions();
    (0..count)
        .map(|_| {
            let agent = match rng.below(100) {
                0..=79 => rng.pick(&named),
                80..=87 => format!("{}.spare", rng.pick(&NAMESPACES)),
                _ => (rng.pick(&UNKNOWN_AGENTS)).to_string(),
            };
            let action = if rng.percent(97) {
                rng.pick(&actions)
            } else {
                UNDECLARED_ACTION
            };
            RequestSpec {
                agent,
                action: action.to_string(),
                risk_score: rng.percent(92).then(|| rng.below(21) as i64 * 5),
                amount: rng.percent(85).then(|| rng.below(21) as i64 * 500),
                category: rng.percent(95).then(|| rng.pick(&CATEGORIES)),
                region: rng.percent(90).then(|| rng.pick(&REGIONS)),
            }
        })
        .collect()
}

/// One engine deciding requests, from prepared requests or from JSON text.
pub trait Peer {
    /// A request with everything that can be built before the decision
    /// built (the engine's own request type).
    type Prepared;
    /// A request decoded from `{agent, action, context}` JSON text.
    fn prepare(&self, text: &str) -> anyhow::Result<Self::Prepared>;
    /// The decision alone.
    fn decide(&mut self, request: &Self::Prepared) -> anyhow::Result<Effect>;
    /// Decoding the request text and deciding.
    fn decide_json(&mut self, text: &str) -> anyhow::Result<Effect>;
}

/// The sizes the benchmark and the agreement test use.
pub const SIZES: [usize; 3] = [100, 1_000, 10_000];
/// How many shared requests every engine decides.
pub const REQUESTS: usize = 10_000;
/// The seeds of every generated bundle and of the shared requests.
pub const BUNDLE_SEED: u64 = 42;
pub const REQUEST_SEED: u64 = 7;
