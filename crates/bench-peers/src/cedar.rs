//! The bundle as Cedar policies, and Cedar's authorizer behind the
//! [`Peer`] interface.
//!
//! A deny rule is a `forbid`, an allow rule a `permit`, a needs_approval
//! rule a `permit` annotated `@effect("needs_approval")`. Agents are
//! entities `Agent::"ns.name"` whose parent is `Namespace::"ns"`, so `ns.*`
//! is `principal in Namespace::"ns"`; the entity store holds every agent the
//! deployment knows ([`crate::known_agents`]). Cedar's answer maps back to an
//! effect: Deny is deny; Allow is needs_approval when a needs_approval
//! policy is among the determining policies, else allow. Conditions test
//! `context has f` first, as a Cedar author must for an optional field.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::str::FromStr as _;

use anyhow::Context as _;
use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request,
};
use gavel_policy::Effect;
use serde::Deserialize;

use crate::{ActionSpec, AgentSpec, BundleSpec, Cond, NAMESPACES, Peer, known_agents};

/// The bundle as Cedar policy text, one policy a rule in bundle order.
pub fn policies(spec: &BundleSpec) -> String {
    let mut out = String::new();
    for rule in &spec.rules {
        let (kind, effect) = match rule.effect {
            Effect::Deny => ("forbid", "deny"),
            Effect::NeedsApproval => ("permit", "needs_approval"),
            Effect::Allow => ("permit", "allow"),
        };
        let principal = match &rule.agent {
            AgentSpec::Exact(a) => format!("principal == Agent::\"{a}\""),
            AgentSpec::Namespace(ns) => format!("principal in Namespace::\"{ns}\""),
            AgentSpec::Any => "principal".to_string(),
        };
        let action = match rule.action {
            ActionSpec::Exact(a) => format!("action == Action::\"{a}\""),
            ActionSpec::Any => "action".to_string(),
        };
        let when: Vec<String> = rule.conditions.iter().map(condition).collect();
        let _ = writeln!(
            out,
            "@id(\"{}\")\n@effect(\"{effect}\")\n{kind} ({principal}, {action}, resource)\nwhen {{ {} }};\n",
            rule.id,
            when.join(" && ")
        );
    }
    out
}

fn condition(cond: &Cond) -> String {
    let field = cond.field();
    let test = match cond {
        Cond::Cmp { op, value, .. } => format!("context.{field} {} {value}", op.symbol()),
        Cond::In { values, .. } => {
            let set: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
            format!("[{}].contains(context.{field})", set.join(", "))
        }
        Cond::Eq { value, .. } => format!("context.{field} == \"{value}\""),
    };
    format!("context has {field} && {test}")
}

/// Every agent the deployment knows, each in its namespace.
pub fn entities() -> anyhow::Result<Entities> {
    let namespace = EntityTypeName::from_str("Namespace").context("namespace type")?;
    let agent = EntityTypeName::from_str("Agent").context("agent type")?;
    let ns_uid = |ns: &str| EntityUid::from_type_name_and_id(namespace.clone(), EntityId::new(ns));
    let mut list: Vec<Entity> = NAMESPACES
        .iter()
        .map(|ns| Entity::new_no_attrs(ns_uid(ns), HashSet::new()))
        .collect();
    for name in known_agents() {
        let ns = name.split('.').next().unwrap_or_default();
        let uid = EntityUid::from_type_name_and_id(agent.clone(), EntityId::new(&name));
        list.push(Entity::new_no_attrs(uid, HashSet::from([ns_uid(ns)])));
    }
    Entities::from_entities(list, None).context("cedar entities")
}

/// Cedar's authorizer with the policy set, the entity store and the ids
/// of the needs_approval policies built once.
#[derive(Debug)]
pub struct CedarPeer {
    authorizer: Authorizer,
    policies: PolicySet,
    entities: Entities,
    needs_approval: HashSet<PolicyId>,
    agent_type: EntityTypeName,
    action_type: EntityTypeName,
    resource: EntityUid,
}

impl CedarPeer {
    pub fn new(policy_text: &str) -> anyhow::Result<CedarPeer> {
        let policies = PolicySet::from_str(policy_text).context("cedar policies")?;
        let needs_approval = policies
            .policies()
            .filter(|p| p.annotation("effect") == Some("needs_approval"))
            .map(|p| p.id().clone())
            .collect();
        Ok(CedarPeer {
            authorizer: Authorizer::new(),
            policies,
            entities: entities()?,
            needs_approval,
            agent_type: EntityTypeName::from_str("Agent").context("agent type")?,
            action_type: EntityTypeName::from_str("Action").context("action type")?,
            resource: EntityUid::from_str("Resource::\"gavel\"").context("resource")?,
        })
    }
}

/// A request as it arrives: the context stays a JSON object for
/// `Context::from_json_value`.
#[derive(Deserialize)]
struct Wire {
    agent: String,
    action: String,
    #[serde(default)]
    context: serde_json::Value,
}

impl Peer for CedarPeer {
    type Prepared = Request;

    fn prepare(&self, text: &str) -> anyhow::Result<Request> {
        let wire: Wire = serde_json::from_str(text).context("cedar request")?;
        let principal =
            EntityUid::from_type_name_and_id(self.agent_type.clone(), EntityId::new(&wire.agent));
        let action =
            EntityUid::from_type_name_and_id(self.action_type.clone(), EntityId::new(&wire.action));
        let context = Context::from_json_value(wire.context, None).context("cedar context")?;
        Request::new(principal, action, self.resource.clone(), context, None)
            .context("cedar request")
    }

    fn decide(&mut self, request: &Request) -> anyhow::Result<Effect> {
        let response = self
            .authorizer
            .is_authorized(request, &self.policies, &self.entities);
        Ok(match response.decision() {
            Decision::Deny => Effect::Deny,
            Decision::Allow => {
                if response
                    .diagnostics()
                    .reason()
                    .any(|id| self.needs_approval.contains(id))
                {
                    Effect::NeedsApproval
                } else {
                    Effect::Allow
                }
            }
        })
    }

    fn decide_json(&mut self, text: &str) -> anyhow::Result<Effect> {
        let request = self.prepare(text)?;
        self.decide(&request)
    }
}
