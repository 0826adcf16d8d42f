//! Generated bundles and requests for benchmarks: realistic shapes (agent
//! and action groups, numeric thresholds, set membership, a few wildcard
//! rules), the same for the same seed on every machine.

use serde_json::{Value, json};

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

const ACTIONS: [&str; 9] = [
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
    let mut rng = Rng::new(seed);
    let groups = groups(rules) as u64;
    let effects = ["allow", "deny", "needs_approval"];
    let list: Vec<Value> = (0..rules)
        .map(|i| {
            let (agent, action) = group(i as u64 % groups);
            let effect = effects[rng.below(3) as usize];
            let wildcard = i % 50 == 49;
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
