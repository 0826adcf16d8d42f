//! The floor: the least any engine must do for a decision, a hash lookup
//! of the request's agent and action and one numeric comparison. It is not
//! a policy engine (it ignores every rule but one per agent and action);
//! it shows what the machine and the harness cost.

use anyhow::Context as _;
use gavel_policy::Effect;
use rustc_hash::FxHashMap;
use serde::Deserialize;

use crate::{ActionSpec, AgentSpec, BundleSpec, Cond};

/// A request reduced to what the floor reads: its agent and action as one
/// key, and its risk score.
#[derive(Debug, Clone)]
pub struct FloorRequest {
    key: String,
    risk_score: i64,
}

/// One risk threshold per (agent, action), from the first rule that names
/// both and compares `risk_score`.
#[derive(Debug)]
pub struct Floor {
    thresholds: FxHashMap<String, i64>,
}

fn key(agent: &str, action: &str) -> String {
    format!("{agent}\u{0}{action}")
}

#[derive(Deserialize)]
struct Wire<'a> {
    agent: &'a str,
    action: &'a str,
    #[serde(default)]
    context: WireContext,
}

#[derive(Deserialize, Default)]
struct WireContext {
    risk_score: Option<i64>,
}

impl Floor {
    pub fn new(spec: &BundleSpec) -> Floor {
        let mut thresholds = FxHashMap::default();
        for rule in &spec.rules {
            if let (AgentSpec::Exact(agent), ActionSpec::Exact(action)) =
                (&rule.agent, &rule.action)
            {
                for cond in &rule.conditions {
                    if let Cond::Cmp {
                        field: "risk_score",
                        value,
                        ..
                    } = cond
                    {
                        thresholds.entry(key(agent, action)).or_insert(*value);
                    }
                }
            }
        }
        Floor { thresholds }
    }

    pub fn prepare(&self, text: &str) -> anyhow::Result<FloorRequest> {
        let wire: Wire<'_> = serde_json::from_str(text).context("floor request")?;
        Ok(FloorRequest {
            key: key(wire.agent, wire.action),
            risk_score: wire.context.risk_score.unwrap_or(0),
        })
    }

    pub fn decide(&self, request: &FloorRequest) -> Effect {
        match self.thresholds.get(&request.key) {
            Some(t) if request.risk_score >= *t => Effect::Allow,
            _ => Effect::Deny,
        }
    }
}
