//! Generated bundles and requests for benchmarks: realistic shapes (agent
//! and action groups, numeric thresholds, set membership, a few wildcard
//! rules), the same for the same seed on every machine.

use serde_json::{Value, json};

/// The value after `name` on a benchmark binary's command line.
pub fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// A small portable generator (SplitMix64), so benchmarks are repeatable.
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
}

/// The standard vocabulary: every group is an (agent, action) pair.
const ACTIONS: [&str; 9] = gavel_policy::STANDARD_ACTIONS;
const CATEGORIES: [&str; 6] = [
    "phishing",
    "spam",
    "newsletter",
    "invoice",
    "internal",
    "unknown",
];
const REGIONS: [&str; 5] = ["eu", "us", "apac", "latam", "mea"];

/// An agent name from a number: `team` + letters, `.worker`.
fn agent(i: u64) -> String {
    let mut name = String::from("team");
    let mut n = i;
    loop {
        name.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    format!("{name}.worker")
}

/// How many agent/action groups a bundle of `rules` rules spreads over:
/// ten rules a group, at most 100 groups.
pub fn groups(rules: usize) -> usize {
    (rules / 10).clamp(1, 100)
}

fn group(g: u64) -> (String, &'static str) {
    (agent(g / 9), ACTIONS[(g % 9) as usize])
}

/// A bundle of `rules` rules as JSON text: most rules are exact
/// agent/action rules with two or three conditions; one in fifty is a
/// wildcard rule at low priority.
pub fn bundle_json(rules: usize, seed: u64) -> String {
    generate(rules, seed, true)
}

/// Like [`bundle_json`], with every rule in one of the agent/action groups
/// (no `*` rules): the shape the lint and diff benchmarks use.
pub fn grouped_bundle_json(rules: usize, seed: u64) -> String {
    generate(rules, seed, false)
}

fn generate(rules: usize, seed: u64, wildcards: bool) -> String {
    let mut rng = Rng::new(seed);
    let groups = groups(rules) as u64;
    let effects = ["allow", "deny", "needs_approval"];
    let list: Vec<Value> = (0..rules)
        .map(|i| {
            let (agent, action) = group(i as u64 % groups);
            let effect = effects[rng.below(3) as usize];
            let wildcard = wildcards && i % 50 == 49;
            let mut conditions = serde_json::Map::new();
            conditions.insert(">=risk_score".into(), json!(rng.below(100)));
            conditions.insert(
                "category".into(),
                json!(CATEGORIES[rng.below(CATEGORIES.len() as u64) as usize]),
            );
            if rng.below(2) == 0 {
                let a = REGIONS[rng.below(5) as usize];
                let b = REGIONS[rng.below(5) as usize];
                conditions.insert("in:sender.region".into(), json!([a, b]));
            }
            let mut rule = json!({
                "id": format!("rule-{i:05}"),
                "agent": if wildcard { "*".to_string() } else { agent },
                "action": if wildcard { "*" } else { action },
                "effect": effect,
                "conditions": conditions,
                "reason": "Generated rule for benchmarks",
                "priority": if wildcard { 1 } else { rng.below(101) },
            });
            if effect == "needs_approval" {
                rule["budget"] = json!({"cost": 1.5, "compute": 1, "risk": "medium"});
            }
            rule
        })
        .collect();
    json!({
        "apiVersion": "gavel/v1",
        "kind": "PolicyBundle",
        "metadata": {"name": "generated", "version": "1.0.0", "default_effect": "deny"},
        "rules": list,
    })
    .to_string()
}

/// `count` requests as JSON text, spread over the bundle's groups (and one
/// in ten for an agent the bundle does not name).
pub fn requests_json(rules: usize, count: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed ^ 0xDEAD_BEEF);
    let groups = groups(rules) as u64;
    (0..count)
        .map(|i| {
            let (agent, action) = if i % 10 == 9 {
                ("unknown.agent".to_string(), "deploy")
            } else {
                group(rng.below(groups))
            };
            json!({
                "agent": agent,
                "action": action,
                "context": {
                    "risk_score": rng.below(100),
                    "category": CATEGORIES[rng.below(CATEGORIES.len() as u64) as usize],
                    "sender": {"region": REGIONS[rng.below(5) as usize], "domain": "example.com"},
                },
            })
            .to_string()
        })
        .collect()
}

/// A new version of a generated bundle: every hundredth rule's threshold
/// moves, and one rule in five hundred is removed and replaced by a new one.
pub fn edited_json(bundle: &str) -> String {
    let mut doc: Value = serde_json::from_str(bundle).unwrap_or(Value::Null);
    if let Some(rules) = doc["rules"].as_array_mut() {
        for (i, rule) in rules.iter_mut().enumerate() {
            if i % 100 == 7 {
                if let Some(t) = rule["conditions"][">=risk_score"].as_u64() {
                    rule["conditions"][">=risk_score"] = json!(t + 1);
                }
            }
            if i % 500 == 3 {
                rule["id"] = json!(format!("replacement-{i:05}"));
            }
        }
    }
    doc["metadata"]["version"] = json!("1.0.1");
    doc.to_string()
}

/// A bundle shaped like a maintained policy: `rules` rules in 100
/// agent/action groups; in each group, twenty categories each get a ladder
/// of five risk bands (allow, allow, approval, approval, deny) that do not
/// overlap, and one rule in twenty-five is a higher-priority exception for
/// VIP senders (which conflicts with the deny band of its category).
pub fn structured_bundle_json(rules: usize) -> String {
    let groups = groups(rules) as u64;
    let per_group = (rules as u64).div_ceil(groups);
    let list: Vec<Value> = (0..rules as u64)
        .map(|i| {
            let (agent, action) = group(i / per_group);
            let k = i % per_group;
            let category = format!("category-{}", k % 20);
            let band = (k / 20) % 5;
            let mut conditions = serde_json::Map::new();
            conditions.insert("category".into(), json!(category));
            let (effect, priority) = if k % 25 == 24 {
                conditions.insert("exists:sender.vip".into(), json!(true));
                ("allow", 80)
            } else {
                conditions.insert(">=risk_score".into(), json!(band * 20));
                conditions.insert("<risk_score".into(), json!(band * 20 + 20));
                if k % 10 == 3 {
                    conditions.insert("in:sender.region".into(), json!(["eu", "us"]));
                }
                (
                    ["allow", "allow", "needs_approval", "needs_approval", "deny"][band as usize],
                    50,
                )
            };
            let mut rule = json!({
                "id": format!("rule-{i:05}"),
                "agent": agent,
                "action": action,
                "effect": effect,
                "conditions": conditions,
                "reason": "Generated rule for benchmarks",
                "priority": priority,
            });
            if effect == "needs_approval" {
                rule["budget"] = json!({"cost": 2.5, "compute": 1, "risk": "medium"});
            }
            rule
        })
        .collect();
    json!({
        "apiVersion": "gavel/v1",
        "kind": "PolicyBundle",
        "metadata": {"name": "structured", "version": "1.0.0", "default_effect": "deny"},
        "rules": list,
    })
    .to_string()
}

/// A 20-rule governance policy with a variance limit and a scenario
/// minimum: each rule a few comparisons joined by `and` / `or`.
pub fn governance_policy_json() -> Value {
    let rules: Vec<Value> = (0..20u32)
        .map(|i| {
            let t = 0.5 + f64::from(i) * 0.05;
            let decision = ["no_go", "pilot", "demote"][i as usize % 3];
            json!({
                "decision": decision,
                "condition": format!("raroi < {t:.2} and confidence > 0.{} or sandbox_roi is not None and sandbox_roi < {:.2} and adapter_roi > 3", 5 + i % 4, 0.01 * f64::from(i)),
                "reason_code": format!("rule_{i}"),
            })
        })
        .collect();
    json!({"max_variance": 0.2, "scenario_thresholds": {"latency": 0.3}, "rules": rules})
}

/// `n` workflow scorecards with every field set, values spread evenly.
pub fn scorecards_json(n: usize) -> Vec<Value> {
    let mut rng = Rng::new(7);
    let mut f = |scale: f64| (rng.below(10_000) as f64) / 10_000.0 * scale;
    (0..n)
        .map(|i| {
            json!({
                "workflow_id": format!("wf-{i}"),
                "alignment_status": "pass",
                "raroi": f(2.5),
                "confidence": f(1.0),
                "sandbox_roi": f(1.0),
                "adapter_roi": f(2.0),
                "scenario_scores": {"latency": f(1.0), "accuracy": f(1.0)},
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_bundles_validate() {
        for text in [
            super::structured_bundle_json(10_000),
            super::grouped_bundle_json(1_000, 1),
            super::bundle_json(1_000, 2),
        ] {
            let b = gavel_policy::parse_bundle(&text, gavel_policy::Format::Json).unwrap();
            assert!(!b.rules.is_empty());
            eprintln!("{} rules, {} bytes", b.rules.len(), text.len());
        }
        let edited = super::edited_json(&super::grouped_bundle_json(1_000, 1));
        assert!(gavel_policy::parse_bundle(&edited, gavel_policy::Format::Json).is_ok());
    }
}
