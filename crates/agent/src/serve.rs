//! What the agent serves: the versions loaded (stable and canary), each
//! with its engine, counters and decision cache, swapped as one value so a
//! request sees one consistent rollout; and deciding a request with them.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher as _, BuildHasherDefault, Hasher};
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
/// When full, the oldest entry goes (first in, first out): one removal per
/// insert, never a pause to sweep the whole map.
#[derive(Debug)]
pub struct Cache {
    capacity: usize,
    ttl: Duration,
    inner: Mutex<CacheInner>,
}

/// Keys are hashed once with foldhash, seeded at random for each cache
/// (several times faster than the standard SipHash on keys of a few
/// hundred bytes; an outsider who cannot read the seed cannot choose
/// colliding keys), and the map is keyed by that hash: evicting the oldest
/// entry never reads its key again. Each entry keeps its whole key, so two
/// keys with one hash never answer for each other (the newer replaces the
/// older).
#[derive(Debug, Default)]
struct CacheInner {
    hasher: foldhash::fast::RandomState,
    map: HashMap<u64, Entry, BuildHasherDefault<Prehashed>>,
    order: VecDeque<u64>,
}

#[derive(Debug)]
struct Entry {
    key: Box<[u8]>,
    at: Instant,
    value: Cached,
}

/// The map's hasher: its keys are already hashes.
#[derive(Debug, Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed; any other input still hashes.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl Cache {
    pub fn new(capacity: usize, ttl: Duration) -> Cache {
        Cache {
            capacity,
            ttl,
            inner: Mutex::new(CacheInner::default()),
        }
    }

    /// The decision cached for `key` if it is younger than the time to
    /// live at `now`.
    pub fn get(&self, key: &[u8], now: Instant) -> Option<Cached> {
        if self.capacity == 0 {
            return None;
        }
        let inner = self.inner.lock().ok()?;
        let hash = inner.hasher.hash_one(key);
        inner
            .map
            .get(&hash)
            .filter(|e| &*e.key == key && now.saturating_duration_since(e.at) < self.ttl)
            .map(|e| e.value.clone())
    }

    /// Keeps `value` for `key` from `now`, letting the oldest entry go
    /// when the cache is full.
    pub fn put(&self, key: &[u8], value: Cached, now: Instant) {
        if self.capacity == 0 {
            return;
        }
        if let Ok(mut inner) = self.inner.lock() {
            let hash = inner.hasher.hash_one(key);
            if let Some(entry) = inner.map.get_mut(&hash) {
                *entry = Entry {
                    key: key.into(),
                    at: now,
                    value,
                };
                return;
            }
            while inner.map.len() >= self.capacity {
                let Some(oldest) = inner.order.pop_front() else {
                    break;
                };
                inner.map.remove(&oldest);
            }
            inner.order.push_back(hash);
            inner.map.insert(
                hash,
                Entry {
                    key: key.into(),
                    at: now,
                    value,
                },
            );
        }
    }

    /// How many decisions it holds.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.map.len())
    }
}

/// The cache key of a request: everything but `request_id`, written into
/// `key` (cleared first). Each text goes in after its length, the time as
/// numbers and the context last, so two requests that differ share no key
/// (a NUL byte in a field cannot pass for a separator).
pub fn cache_key(r: &Request<'_>, key: &mut Vec<u8>) {
    fn text(key: &mut Vec<u8>, s: &str) {
        key.extend_from_slice(&(s.len() as u64).to_le_bytes());
        key.extend_from_slice(s.as_bytes());
    }
    key.clear();
    text(key, &r.agent);
    text(key, &r.action);
    match &r.subject {
        Some(s) => {
            key.push(1);
            text(key, s);
        }
        None => key.push(0),
    }
    match r.timestamp {
        Some(t) => {
            key.push(1);
            key.extend_from_slice(&t.as_second().to_le_bytes());
            key.extend_from_slice(&t.subsec_nanosecond().to_le_bytes());
        }
        None => key.push(0),
    }
    // A context that cannot be written (never, for parsed JSON) leaves the
    // key ending in a 1, which no written context does: no false hits.
    if serde_json::to_writer(&mut *key, &r.context).is_err() {
        key.push(1);
    }
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
    /// `,"version":…,"digest":…}`: what every decision of this version
    /// ends with, made once.
    suffix: String,
}

impl Served {
    pub fn new(
        version: String,
        digest: String,
        activated_at: String,
        engine: Engine,
        cache: Cache,
    ) -> Served {
        let suffix = format!(
            ",\"version\":{},\"digest\":{}}}",
            serde_json::Value::from(version.as_str()),
            serde_json::Value::from(digest.as_str())
        );
        Served {
            version,
            digest,
            activated_at,
            loaded_at: gavel_trust::rfc3339(jiff::Timestamp::now()),
            engine,
            counters: Counters::default(),
            cache,
            suffix,
        }
    }
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
#[derive(Debug, Clone)]
pub struct Cached {
    pub json: Arc<str>,
    effect: Effect,
    no_match: bool,
    errors: bool,
    cost: Option<f64>,
}

/// Decides `r` with `served` without the cache, appending the decision's
/// JSON (with `version` and `digest`) to `out`.
pub fn decide_into(served: &Served, r: &mut Request<'_>, out: &mut Vec<u8>) -> Cached {
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
    let start = out.len();
    if serde_json::to_writer(&mut *out, &d).is_err() || out.last() != Some(&b'}') {
        out.truncate(start);
        out.extend_from_slice(b"{}");
    }
    out.pop();
    out.extend_from_slice(served.suffix.as_bytes());
    cached
}

/// Decides `r` with `served` at `now`: the decision's JSON with `version`
/// and `digest` added, from the cache when it has it, and how long the
/// engine took when it decided (not for an answer from the cache).
pub fn decide(served: &Served, r: &mut Request<'_>, now: Instant) -> (Arc<str>, Option<Duration>) {
    let mut key = Vec::with_capacity(256);
    cache_key(r, &mut key);
    if let Some(hit) = served.cache.get(&key, now) {
        served.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        served
            .counters
            .record(hit.effect, hit.no_match, hit.errors, hit.cost);
        return (hit.json, None);
    }
    served.counters.cache_misses.fetch_add(1, Ordering::Relaxed);
    let mut out = Vec::with_capacity(256);
    let started = Instant::now();
    let cached = decide_into(served, r, &mut out);
    let took = started.elapsed();
    let json: Arc<str> = Arc::from(String::from_utf8(out).unwrap_or_default());
    served.cache.put(
        &key,
        Cached {
            json: Arc::clone(&json),
            ..cached
        },
        now,
    );
    (json, Some(took))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(n: usize) -> Cached {
        Cached {
            json: Arc::from(n.to_string()),
            effect: Effect::Allow,
            no_match: false,
            errors: false,
            cost: None,
        }
    }

    #[test]
    fn a_full_cache_lets_the_oldest_go_and_entries_expire() {
        let t0 = Instant::now();
        let c = Cache::new(3, Duration::from_secs(60));
        for i in 0..5 {
            c.put(format!("k{i}").as_bytes(), cached(i), t0);
        }
        assert_eq!(c.len(), 3);
        assert!(c.get(b"k0", t0).is_none() && c.get(b"k1", t0).is_none());
        assert_eq!(&*c.get(b"k4", t0).unwrap().json, "4");
        assert!(c.get(b"k5", t0).is_none() && c.get(b"k", t0).is_none());
        // Putting a key again replaces it without growing or evicting.
        c.put(b"k4", cached(40), t0);
        assert_eq!((c.len(), &*c.get(b"k4", t0).unwrap().json), (3, "40"));
        assert_eq!(&*c.get(b"k2", t0).unwrap().json, "2");
        // The time to live, counted from the put.
        let later = t0 + Duration::from_secs(59);
        assert!(c.get(b"k3", later).is_some());
        assert!(
            c.get(b"k3", t0 + Duration::from_secs(60)).is_none(),
            "expired"
        );
        c.put(b"k3", cached(3), later);
        assert!(
            c.get(b"k3", t0 + Duration::from_secs(60)).is_some(),
            "put again"
        );
        let none = Cache::new(0, Duration::from_secs(60));
        none.put(b"k", cached(1), t0);
        assert!(none.get(b"k", t0).is_none());
    }

    #[test]
    fn two_keys_with_one_hash_never_answer_for_each_other() {
        let t0 = Instant::now();
        let c = Cache::new(3, Duration::from_secs(60));
        c.put(b"a", cached(1), t0);
        // Another key filed under the first one's hash, as a collision would.
        if let Ok(mut inner) = c.inner.lock() {
            let hash = inner.hasher.hash_one(b"a".as_slice());
            if let Some(e) = inner.map.get_mut(&hash) {
                e.key = b"b".as_slice().into();
            }
        }
        assert!(c.get(b"a", t0).is_none(), "the entry holds another key");
        c.put(b"a", cached(2), t0);
        assert_eq!((&*c.get(b"a", t0).unwrap().json, c.len()), ("2", 1));
    }

    #[test]
    fn the_key_leaves_out_only_the_request_id() {
        let a: Request<'_> = serde_json::from_str(
            r#"{"agent": "a.b", "action": "x", "request_id": "1", "context": {"n": 1}}"#,
        )
        .unwrap();
        let b: Request<'_> = serde_json::from_str(
            r#"{"agent": "a.b", "action": "x", "request_id": "2", "context": {"n": 1}}"#,
        )
        .unwrap();
        let c: Request<'_> =
            serde_json::from_str(r#"{"agent": "a.b", "action": "x", "context": {"n": 2}}"#)
                .unwrap();
        let d: Request<'_> = serde_json::from_str(
            r#"{"agent": "a.b", "action": "x", "subject": "s", "context": {"n": 1}}"#,
        )
        .unwrap();
        let key = |r: &Request<'_>| {
            let mut k = vec![9; 3];
            cache_key(r, &mut k);
            k
        };
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c));
        assert_ne!(key(&a), key(&d));
        let mut fresh = Vec::new();
        cache_key(&a, &mut fresh);
        assert_eq!(key(&a), fresh, "cleared first");
    }

    /// Regression (found writing the `batch_body` fuzz target's cached
    /// against uncached check): fields were joined with NUL bytes, so
    /// `{"agent": "a\u0000b", "action": "c"}` and `{"agent": "a",
    /// "action": "b\u0000c"}` had one key, and the second was answered
    /// with the first one's cached decision.
    #[test]
    fn requests_that_differ_never_share_a_key() {
        let requests = [
            r#"{"agent": "a\u0000b", "action": "c"}"#,
            r#"{"agent": "a", "action": "b\u0000c"}"#,
            r#"{"agent": "a", "action": "b", "subject": "c"}"#,
            r#"{"agent": "a", "action": "b", "subject": ""}"#,
            r#"{"agent": "a", "action": "b"}"#,
            r#"{"agent": "a", "action": "b\u0000", "subject": "\u0000"}"#,
            r#"{"agent": "a", "action": "b", "timestamp": "2026-01-01T00:00:00Z"}"#,
            r#"{"agent": "a", "action": "b", "timestamp": "2026-01-01T00:00:00.5Z"}"#,
            r#"{"agent": "a", "action": "b", "subject": "2026-01-01T00:00:00Z"}"#,
        ];
        let keys: Vec<Vec<u8>> = requests
            .iter()
            .map(|text| {
                let r: Request<'_> = serde_json::from_str(text).unwrap();
                let mut k = Vec::new();
                cache_key(&r, &mut k);
                k
            })
            .collect();
        for (i, a) in keys.iter().enumerate() {
            for (j, b) in keys.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "{} and {}", requests[i], requests[j]);
            }
        }
    }
}
