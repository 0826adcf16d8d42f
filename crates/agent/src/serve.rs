//! What the agent serves: the versions loaded (stable and canary), each
//! with its engine, counters and decision cache, swapped as one value so a
//! request sees one consistent rollout; and deciding a request with them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gavel_policy::{Effect, Engine, Request};
use serde::Serialize;

use crate::verify;

/// Upper bounds of the cost histogram, in dollars.
pub const COST_BUCKETS: [f64; 8] = [
    0.01,
    0.1,
    1.0,
    10.0,
    100.0,
    1_000.0,
    10_000.0,
    f64::INFINITY,
];

#[derive(Debug, Default)]
pub struct Counters {
    pub decisions: AtomicU64,
    pub allow: AtomicU64,
    pub deny: AtomicU64,
    pub needs_approval: AtomicU64,
    pub no_match: AtomicU64,
    pub errors: AtomicU64,
    /// Cost in millionths of a dollar.
    pub cost_micros: AtomicU64,
    pub cost_histogram: [AtomicU64; 8],
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CountersView {
    pub decisions: u64,
    pub allow: u64,
    pub deny: u64,
    pub needs_approval: u64,
    pub no_match: u64,
    pub errors: u64,
    pub cost_total: f64,
    /// `[{le, count}]`, cumulative as Prometheus histograms are.
    pub cost_histogram: Vec<(String, u64)>,
}

impl Counters {
    fn record(&self, effect: Effect, no_match: bool, errors: bool, cost: Option<f64>) {
        self.decisions.fetch_add(1, Ordering::Relaxed);
        match effect {
            Effect::Allow => &self.allow,
            Effect::Deny => &self.deny,
            Effect::NeedsApproval => &self.needs_approval,
        }
        .fetch_add(1, Ordering::Relaxed);
        if no_match {
            self.no_match.fetch_add(1, Ordering::Relaxed);
        }
        if errors {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(c) = cost.filter(|c| c.is_finite() && *c >= 0.0) {
            // Whole micro-dollars: the float-to-int cast saturates.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            self.cost_micros
                .fetch_add((c * 1e6).round() as u64, Ordering::Relaxed);
            if let Some(i) = COST_BUCKETS.iter().position(|b| c <= *b) {
                if let Some(b) = self.cost_histogram.get(i) {
                    b.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    pub fn view(&self) -> CountersView {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut cumulative = 0;
        let cost_histogram = COST_BUCKETS
            .iter()
            .zip(&self.cost_histogram)
            .map(|(le, n)| {
                cumulative += get(n);
                let le = if le.is_infinite() {
                    "+Inf".to_string()
                } else {
                    le.to_string()
                };
                (le, cumulative)
            })
            .collect();
        #[allow(clippy::cast_precision_loss)]
        let cost_total = get(&self.cost_micros) as f64 / 1e6;
        CountersView {
            decisions: get(&self.decisions),
            allow: get(&self.allow),
            deny: get(&self.deny),
            needs_approval: get(&self.needs_approval),
            no_match: get(&self.no_match),
            errors: get(&self.errors),
            cost_total,
            cost_histogram,
        }
    }
}

/// A decision cache: capacity and time to live, keyed by the request
/// without its `request_id`. One per version served, so a swap empties it.
#[derive(Debug)]
pub struct Cache {
    capacity: usize,
    ttl: Duration,
    map: Mutex<HashMap<String, (Instant, Arc<Cached>)>>,
}

impl Cache {
    pub fn new(capacity: usize, ttl: Duration) -> Cache {
        Cache {
            capacity,
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str) -> Option<Arc<Cached>> {
        let map = self.map.lock().ok()?;
        map.get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| Arc::clone(v))
    }

    pub fn put(&self, key: String, value: Arc<Cached>) {
        if self.capacity == 0 {
            return;
        }
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= self.capacity {
                let now = Instant::now();
                map.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
                if map.len() >= self.capacity {
                    map.clear();
                }
            }
            map.insert(key, (Instant::now(), value));
        }
    }
}

/// The cache key of a request: everything but `request_id`.
pub fn cache_key(r: &Request<'_>) -> String {
    let mut key = String::with_capacity(64);
    key.push_str(&r.agent);
    key.push('\0');
    key.push_str(&r.action);
    key.push('\0');
    if let Some(s) = &r.subject {
        key.push_str(s);
    }
    key.push('\0');
    if let Some(t) = r.timestamp {
        key.push_str(&t.to_string());
    }
    key.push('\0');
    key.push_str(&serde_json::to_string(&r.context).unwrap_or_default());
    key
}

/// One version serving.
#[derive(Debug)]
pub struct Served {
    pub version: String,
    pub digest: String,
    pub activated_at: String,
    pub loaded_at: String,
    pub engine: Engine,
    pub counters: Counters,
    pub cache: Cache,
}

/// The rollout serving: stable, and a canary with its percent.
#[derive(Debug)]
pub struct Loaded {
    pub bundle: String,
    pub serial: u64,
    pub expires_at: Option<jiff::Timestamp>,
    pub envelope: serde_json::Value,
    pub stable: Served,
    pub canary: Option<(Served, u8)>,
}

impl Loaded {
    /// The version that decides a request: the canary for the subjects its
    /// percent selects (§11.11), the stable one otherwise.
    pub fn pick(&self, r: &Request<'_>) -> &Served {
        match &self.canary {
            Some((c, percent))
                if verify::to_canary(
                    &self.bundle,
                    r.subject.as_deref(),
                    r.request_id.as_deref(),
                    *percent,
                ) =>
            {
                c
            }
            _ => &self.stable,
        }
    }

    pub fn stale(&self, now: jiff::Timestamp) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

/// A decision as served, with what its counters need.
#[derive(Debug)]
pub struct Cached {
    pub json: Arc<str>,
    effect: Effect,
    no_match: bool,
    errors: bool,
    cost: Option<f64>,
}

/// Decides `r` with `served`: the decision's JSON with `version` and
/// `digest` added, from the cache when it has it.
pub fn decide(served: &Served, r: &mut Request<'_>) -> Arc<str> {
    let key = cache_key(r);
    if let Some(hit) = served.cache.get(&key) {
        served.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        served
            .counters
            .record(hit.effect, hit.no_match, hit.errors, hit.cost);
        return Arc::clone(&hit.json);
    }
    served.counters.cache_misses.fetch_add(1, Ordering::Relaxed);
    if r.timestamp.is_none() {
        r.timestamp = Some(jiff::Timestamp::now());
    }
    let d = served.engine.decide(r);
    let cached = Cached {
        json: Arc::from(""),
        effect: d.effect,
        no_match: d.no_match(),
        errors: !d.errors.is_empty(),
        cost: d.budget().and_then(|b| b.cost),
    };
    served
        .counters
        .record(cached.effect, cached.no_match, cached.errors, cached.cost);
    let mut json = serde_json::to_string(&d).unwrap_or_else(|_| "{}".into());
    json.pop();
    json.push_str(",\"version\":");
    json.push_str(&serde_json::to_string(&served.version).unwrap_or_default());
    json.push_str(",\"digest\":");
    json.push_str(&serde_json::to_string(&served.digest).unwrap_or_default());
    json.push('}');
    let json: Arc<str> = Arc::from(json);
    served.cache.put(
        key,
        Arc::new(Cached {
            json: Arc::clone(&json),
            ..cached
        }),
    );
    json
}
