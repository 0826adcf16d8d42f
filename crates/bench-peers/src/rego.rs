//! The bundle in Rego (rego.v1) two ways, and regorus behind the [`Peer`]
//! interface twice: its tree-walking interpreter ([`RegorusPeer`]) and its
//! bytecode virtual machine ([`RvmPeer`]). The two ways are a module of
//! rule bodies ([`modules`]) and the rules as data for one fixed program
//! ([`INDEXED_POLICY`], [`indexed_data`]).
//!
//! The module of rule bodies is what a Rego author writes for a layered policy: one
//! `deny if { ... }`, `needs_approval if { ... }` or `allow if { ... }` rule
//! a Gavel rule, the agent and action tests first (`input.agent == "…"`, or
//! `startswith(input.agent, "ns.")` for `ns.*`, nothing for `*`), then the
//! conditions; and one `decision` that picks the strongest:
//!
//! ```rego
//! default decision := "deny"
//! decision := "deny" if { deny } else := "needs_approval" if { needs_approval } else := "allow" if { allow }
//! ```
//!
//! A condition on a missing field is undefined in Rego, so the rule's body
//! fails: the same as Gavel's "a condition on a missing field is false".

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::anyhow;
use gavel_policy::Effect;
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm;
use regorus::rvm::vm::RegoVM;
use regorus::{Engine, Rc, Value};

use crate::{ActionSpec, AgentSpec, BundleSpec, CmpOp, Cond, Peer};

/// The rule a decision is read from.
pub const DECISION: &str = "data.gavel.decision";

/// How many rules a Rego file holds: regorus refuses a file over 1 MiB or
/// 20,000 lines, and an author of 10,000 rules splits them anyway.
pub const RULES_PER_FILE: usize = 1_000;

/// The bundle as Rego files of one package: the first holds the decision,
/// each next one up to [`RULES_PER_FILE`] rules, in bundle order.
pub fn modules(spec: &BundleSpec) -> Vec<String> {
    let mut files = vec![String::from(
        "package gavel\n\nimport rego.v1\n\n\
         default decision := \"deny\"\n\n\
         decision := \"deny\" if {\n\tdeny\n} else := \"needs_approval\" if {\n\tneeds_approval\n} else := \"allow\" if {\n\tallow\n}\n\n\
         default deny := false\n\ndefault needs_approval := false\n\ndefault allow := false\n",
    )];
    for chunk in spec.rules.chunks(RULES_PER_FILE) {
        let mut out = String::from("package gavel\n\nimport rego.v1\n");
        for rule in chunk {
            let head = match rule.effect {
                Effect::Deny => "deny",
                Effect::NeedsApproval => "needs_approval",
                Effect::Allow => "allow",
            };
            let _ = write!(out, "\n# {}\n{head} if {{\n", rule.id);
            match &rule.agent {
                AgentSpec::Exact(a) => {
                    let _ = writeln!(out, "\tinput.agent == \"{a}\"");
                }
                AgentSpec::Namespace(ns) => {
                    let _ = writeln!(out, "\tstartswith(input.agent, \"{ns}.\")");
                }
                AgentSpec::Any => {}
            }
            if let ActionSpec::Exact(a) = rule.action {
                let _ = writeln!(out, "\tinput.action == \"{a}\"");
            }
            for cond in &rule.conditions {
                let field = cond.field();
                let _ = match cond {
                    Cond::Cmp { op, value, .. } => {
                        writeln!(out, "\tinput.context.{field} {} {value}", op.symbol())
                    }
                    Cond::In { values, .. } => {
                        let set: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
                        writeln!(out, "\tinput.context.{field} in {{{}}}", set.join(", "))
                    }
                    Cond::Eq { value, .. } => {
                        writeln!(out, "\tinput.context.{field} == \"{value}\"")
                    }
                };
            }
            out.push_str("}\n");
        }
        files.push(out);
    }
    files
}

/// The same policy written as data plus a fixed Rego program, which is
/// what a Rego author does when there are thousands of rules and the engine
/// does not index rule bodies (regorus evaluates every `deny if` body of
/// the module above for every request): the rules live in
/// `data.rules[effect][agent pattern][action pattern]`, and the program
/// looks up the six groups a request can fall in (its agent, its
/// namespace's `ns.*` or `*`, times its action or `*`), strongest effect
/// first. A rule matches when none of its conditions fails: the same
/// written with `every` (one loop an operator) is what a rego.v1 author
/// would write first, but regorus 0.14.1's virtual machine skips an `every`
/// that follows one over an empty object and answers wrongly, which the
/// agreement check caught.
pub const INDEXED_POLICY: &str = r#"package gavel

import rego.v1

agent_patterns contains input.agent

agent_patterns contains concat("", [split(input.agent, ".")[0], ".*"]) if contains(input.agent, ".")

agent_patterns contains "*"

action_patterns := {input.action, "*"}

# Some rule of this effect, among the groups the request falls in, has
# no condition that fails.
matches(effect) if {
	some agent in agent_patterns
	some action in action_patterns
	some rule in data.rules[effect][agent][action]
	not fails(rule)
}

# A condition on a missing field fails (`not` of an undefined comparison).
fails(rule) if {
	some field, value in rule.ge
	not input.context[field] >= value
}

fails(rule) if {
	some field, value in rule.gt
	not input.context[field] > value
}

fails(rule) if {
	some field, value in rule.le
	not input.context[field] <= value
}

fails(rule) if {
	some field, value in rule.lt
	not input.context[field] < value
}

fails(rule) if {
	some field, values in rule["in"]
	not input.context[field] in values
}

fails(rule) if {
	some field, value in rule.eq
	not input.context[field] == value
}

default decision := "deny"

decision := "deny" if {
	matches("deny")
} else := "needs_approval" if {
	matches("needs_approval")
} else := "allow" if {
	matches("allow")
}
"#;

/// The rules as the data [`INDEXED_POLICY`] reads: each rule an object of
/// its conditions by operator (`ge`, `gt`, `le`, `lt`, `in`, `eq`: field →
/// operand), every operator present (an empty object when unused).
pub fn indexed_data(spec: &BundleSpec) -> String {
    use serde_json::{Map, Value as J, json};
    let mut rules = Map::new();
    for rule in &spec.rules {
        let agent = match &rule.agent {
            AgentSpec::Exact(a) => a.clone(),
            AgentSpec::Namespace(ns) => format!("{ns}.*"),
            AgentSpec::Any => "*".to_string(),
        };
        let action = match rule.action {
            ActionSpec::Exact(a) => a,
            ActionSpec::Any => "*",
        };
        let mut ops: Map<String, J> = ["ge", "gt", "le", "lt", "in", "eq"]
            .iter()
            .map(|op| ((*op).to_string(), json!({})))
            .collect();
        for cond in &rule.conditions {
            let (op, value) = match cond {
                Cond::Cmp { op, value, .. } => (
                    match op {
                        CmpOp::Ge => "ge",
                        CmpOp::Gt => "gt",
                        CmpOp::Le => "le",
                        CmpOp::Lt => "lt",
                    },
                    json!(value),
                ),
                Cond::In { values, .. } => ("in", json!(values)),
                Cond::Eq { value, .. } => ("eq", json!(value)),
            };
            if let Some(J::Object(fields)) = ops.get_mut(op) {
                fields.insert(cond.field().to_string(), value);
            }
        }
        let group = rules
            .entry(rule.effect.as_str())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .and_then(|by_agent| {
                by_agent
                    .entry(agent)
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
            })
            .and_then(|by_action| {
                by_action
                    .entry(action)
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
            });
        if let Some(list) = group {
            list.push(J::Object(ops));
        }
    }
    json!({ "rules": rules }).to_string()
}

fn effect(value: &Value) -> anyhow::Result<Effect> {
    let text = value
        .as_string()
        .map_err(|e| anyhow!("regorus decision is not a string: {e}"))?;
    Effect::parse(text).ok_or_else(|| anyhow!("regorus decision `{text}` is not an effect"))
}

/// A Rego program: its files and the data it reads (JSON text, if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub files: Vec<String>,
    pub data: Option<String>,
}

impl Program {
    /// The bundle as rule bodies ([`modules`]).
    pub fn rules(spec: &BundleSpec) -> Program {
        Program {
            files: modules(spec),
            data: None,
        }
    }

    /// The bundle as data for the fixed [`INDEXED_POLICY`].
    pub fn indexed(spec: &BundleSpec) -> Program {
        Program {
            files: vec![INDEXED_POLICY.to_string()],
            data: Some(indexed_data(spec)),
        }
    }
}

fn engine(program: &Program) -> anyhow::Result<Engine> {
    let mut engine = Engine::new();
    for (i, file) in program.files.iter().enumerate() {
        engine
            .add_policy(format!("gavel-{i}.rego"), file.clone())
            .map_err(|e| anyhow!("regorus policy: {e}"))?;
    }
    if let Some(data) = &program.data {
        engine
            .add_data_json(data)
            .map_err(|e| anyhow!("regorus data: {e}"))?;
    }
    Ok(engine)
}

/// regorus's interpreter with the files added once; a request is its
/// input as a regorus value.
#[derive(Debug)]
pub struct RegorusPeer {
    engine: Engine,
}

impl RegorusPeer {
    pub fn new(program: &Program) -> anyhow::Result<RegorusPeer> {
        Ok(RegorusPeer {
            engine: engine(program)?,
        })
    }
}

impl Peer for RegorusPeer {
    type Prepared = Value;

    fn prepare(&self, text: &str) -> anyhow::Result<Value> {
        Value::from_json_str(text).map_err(|e| anyhow!("regorus input: {e}"))
    }

    fn decide(&mut self, input: &Value) -> anyhow::Result<Effect> {
        // A clone of a regorus value is a reference count.
        self.engine.set_input(input.clone());
        let out = self
            .engine
            .eval_rule(DECISION.to_string())
            .map_err(|e| anyhow!("regorus: {e}"))?;
        effect(&out)
    }

    fn decide_json(&mut self, text: &str) -> anyhow::Result<Effect> {
        self.engine
            .set_input_json(text)
            .map_err(|e| anyhow!("regorus input: {e}"))?;
        let out = self
            .engine
            .eval_rule(DECISION.to_string())
            .map_err(|e| anyhow!("regorus: {e}"))?;
        effect(&out)
    }
}

/// regorus's virtual machine (RVM) running the module compiled to
/// bytecode once, with `data.gavel.decision` as the entry point.
pub struct RvmPeer {
    vm: RegoVM,
}

impl std::fmt::Debug for RvmPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RvmPeer")
    }
}

impl RvmPeer {
    pub fn new(program: &Program) -> anyhow::Result<RvmPeer> {
        let mut engine = engine(program)?;
        let entry: Rc<str> = DECISION.into();
        let policy = engine
            .compile_with_entrypoint(&entry)
            .map_err(|e| anyhow!("regorus compile: {e}"))?;
        let bytecode: Arc<rvm::program::Program> =
            Compiler::compile_from_policy(&policy, &[DECISION])
                .map_err(|e| anyhow!("regorus rvm compile: {e}"))?;
        let mut vm = RegoVM::new();
        vm.load_program(bytecode);
        if let Some(data) = &program.data {
            let data = Value::from_json_str(data).map_err(|e| anyhow!("regorus data: {e}"))?;
            vm.set_data(data).map_err(|e| anyhow!("rvm data: {e}"))?;
        }
        Ok(RvmPeer { vm })
    }
}

impl Peer for RvmPeer {
    type Prepared = Value;

    fn prepare(&self, text: &str) -> anyhow::Result<Value> {
        Value::from_json_str(text).map_err(|e| anyhow!("regorus input: {e}"))
    }

    fn decide(&mut self, input: &Value) -> anyhow::Result<Effect> {
        self.vm.set_input(input.clone());
        let out = self.vm.execute().map_err(|e| anyhow!("rvm: {e}"))?;
        effect(&out)
    }

    fn decide_json(&mut self, text: &str) -> anyhow::Result<Effect> {
        let input = Value::from_json_str(text).map_err(|e| anyhow!("regorus input: {e}"))?;
        self.decide(&input)
    }
}
