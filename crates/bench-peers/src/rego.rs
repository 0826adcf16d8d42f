//! The bundle as a Rego module (rego.v1), and regorus behind the [`Peer`]
//! interface twice: its tree-walking interpreter ([`RegorusPeer`]) and its
//! bytecode virtual machine ([`RvmPeer`]).
//!
//! The module is what a Rego author writes for a layered policy: one
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
use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::{Engine, Rc, Value};

use crate::{ActionSpec, AgentSpec, BundleSpec, Cond, Peer};

/// The rule a decision is read from.
pub const DECISION: &str = "data.gavel.decision";

/// The bundle as one Rego module, rules in bundle order.
pub fn module(spec: &BundleSpec) -> String {
    let mut out = String::from(
        "package gavel\n\nimport rego.v1\n\n\
         default decision := \"deny\"\n\n\
         decision := \"deny\" if {\n\tdeny\n} else := \"needs_approval\" if {\n\tneeds_approval\n} else := \"allow\" if {\n\tallow\n}\n\n\
         default deny := false\n\ndefault needs_approval := false\n\ndefault allow := false\n",
    );
    for rule in &spec.rules {
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
                Cond::Eq { value, .. } => writeln!(out, "\tinput.context.{field} == \"{value}\""),
            };
        }
        out.push_str("}\n");
    }
    out
}

fn effect(value: &Value) -> anyhow::Result<Effect> {
    let text = value
        .as_string()
        .map_err(|e| anyhow!("regorus decision is not a string: {e}"))?;
    Effect::parse(text).ok_or_else(|| anyhow!("regorus decision `{text}` is not an effect"))
}

fn engine(module: &str) -> anyhow::Result<Engine> {
    let mut engine = Engine::new();
    engine
        .add_policy("gavel.rego".to_string(), module.to_string())
        .map_err(|e| anyhow!("regorus policy: {e}"))?;
    Ok(engine)
}

/// regorus's interpreter with the module added once; a request is its
/// input as a regorus value.
#[derive(Debug)]
pub struct RegorusPeer {
    engine: Engine,
}

impl RegorusPeer {
    pub fn new(module: &str) -> anyhow::Result<RegorusPeer> {
        Ok(RegorusPeer {
            engine: engine(module)?,
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
    pub fn new(module: &str) -> anyhow::Result<RvmPeer> {
        let mut engine = engine(module)?;
        let entry: Rc<str> = DECISION.into();
        let policy = engine
            .compile_with_entrypoint(&entry)
            .map_err(|e| anyhow!("regorus compile: {e}"))?;
        let program: Arc<Program> = Compiler::compile_from_policy(&policy, &[DECISION])
            .map_err(|e| anyhow!("regorus rvm compile: {e}"))?;
        let mut vm = RegoVM::new();
        vm.load_program(program);
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
