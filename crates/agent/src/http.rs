//! The agent's HTTP interface (DESIGN §11.11): decide one request or a
//! batch, status, Prometheus metrics, `policyChanged` events, reload and
//! health. Requests are decoded straight into the engine's typed
//! `Request`, never into a generic JSON value first.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gavel_policy::Request;

use crate::agent::Agent;
use crate::body::{Batch, BodyError, DecideBody, decode_batch_body, decode_decide_body};
use crate::config::MAX_BATCH_BYTES;
use crate::serve;

/// Histogram bounds, in seconds.
const BOUNDS: [f64; 10] = [
    0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 1.0,
];

/// A latency histogram (counts per bound, sum in nanoseconds).
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; 11],
    sum_nanos: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = BOUNDS.iter().position(|b| s <= *b).unwrap_or(BOUNDS.len());
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_nanos.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c.load(Ordering::Relaxed);
            let le = BOUNDS
                .get(i)
                .map_or_else(|| "+Inf".to_string(), ToString::to_string);
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        #[allow(clippy::cast_precision_loss)]
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub request_duration: Histogram,
    pub evaluation_duration: Histogram,
    pub bad_requests: AtomicU64,
}

pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// 503 until a verified version is loaded (callers treat it as deny).
fn not_loaded() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "no_policy_loaded",
        "no verified version is loaded yet; treat this as deny",
    )
}

fn json(body: impl Into<axum::body::Body>) -> Response {
    let mut r = Response::new(body.into());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

/// A decision's JSON as a response body, without copying it.
struct Shared(Arc<str>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The router over `agent` for every route but `POST /v1/decide`, which
/// `server.rs` answers itself with [`decide_bytes`].
pub fn router(agent: Arc<Agent>) -> Router {
    Router::new()
        .route(
            "/v1/decide/batch",
            post(decide_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BYTES)),
        )
        .route("/v1/status", get(status))
        .route("/metrics", get(metrics))
        .route("/v1/events", get(events))
        .route("/v1/reload", post(reload))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(agent)
}

fn log_decision(agent: &Agent, request: &str, decision: &str) {
    if let Some(log) = &agent.decision_log {
        // One line a decision: a request that parsed can hold line breaks
        // only as whitespace between its tokens (inside strings they are
        // escapes), so they become spaces.
        let request: std::borrow::Cow<'_, str> = if request.contains(['\n', '\r']) {
            request.replace(['\n', '\r'], " ").into()
        } else {
            request.into()
        };
        // The decision carries `version` and `digest`: what made it.
        let _ = log.send(format!(
            "{{\"timestamp\":\"{}\",\"request\":{request},\"decision\":{decision}}}",
            gavel_trust::rfc3339(jiff::Timestamp::now())
        ));
    }
}

/// The answer to `POST /v1/decide` with `body`.
pub(crate) fn decide_bytes(agent: &Agent, body: &[u8]) -> Response {
    let started = Instant::now();
    let Some(loaded) = agent.loaded.load_full() else {
        return not_loaded();
    };
    let response = match decode_decide_body(body) {
        Ok(DecideBody { text, mut request }) => {
            let served = loaded.pick(&request);
            let (out, took) = serve::decide(served, &mut request, started);
            if let Some(took) = took {
                agent.metrics.evaluation_duration.observe(took);
            }
            log_decision(agent, text, &out);
            json(Bytes::from_owner(Shared(out)))
        }
        Err(e) => {
            agent.metrics.bad_requests.fetch_add(1, Ordering::Relaxed);
            refused(&e)
        }
    };
    agent.metrics.request_duration.observe(started.elapsed());
    response
}

/// The answer to a body refused as a whole.
fn refused(e: &BodyError) -> Response {
    let status = match e {
        BodyError::TooMany(_) => StatusCode::PAYLOAD_TOO_LARGE,
        BodyError::NotUtf8 | BodyError::Invalid(_) => StatusCode::BAD_REQUEST,
    };
    error(status, e.code(), &e.to_string())
}

/// Decides `r` into `out` with what is loaded; a request without a time
/// is decided at `now`, the batch's one clock reading.
fn decide_item(
    loaded: &serve::Loaded,
    mut r: Request<'_>,
    now: jiff::Timestamp,
    out: &mut Vec<u8>,
) -> usize {
    r.timestamp.get_or_insert(now);
    let served = loaded.pick(&r);
    let at = out.len();
    serve::decide_into(served, &mut r, out);
    at
}

async fn decide_batch(State(agent): State<Arc<Agent>>, body: Bytes) -> Response {
    let started = Instant::now();
    let Some(loaded) = agent.loaded.load_full() else {
        return not_loaded();
    };
    // Most batches read whole: one pass decodes them. One that does not
    // (or one whose requests are logged as sent) is read item by item, so
    // a bad request gets its error in its place.
    let batch = match decode_batch_body(&body, agent.decision_log.is_none()) {
        Ok(b) => b,
        Err(e) => return refused(&e),
    };
    let now = jiff::Timestamp::now();
    // A batch is bulk work: decided without the cache (its requests are
    // rarely repeated, and would push out the ones that are).
    let mut out: Vec<u8> = Vec::with_capacity(body.len() + 16);
    out.extend_from_slice(b"{\"decisions\":[");
    match batch {
        Batch::Whole(requests) => {
            for (i, r) in requests.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                decide_item(&loaded, r, now, &mut out);
            }
        }
        Batch::Items(items) => {
            for (i, item) in items.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match item.request {
                    Ok(r) => {
                        let at = decide_item(&loaded, r, now, &mut out);
                        if agent.decision_log.is_some() {
                            let decision = String::from_utf8_lossy(&out[at..]).into_owned();
                            log_decision(&agent, item.text, &decision);
                        }
                    }
                    Err(m) => {
                        let e =
                            serde_json::json!({"error": {"code": "invalid_request", "message": m}});
                        out.extend_from_slice(e.to_string().as_bytes());
                    }
                }
            }
        }
    }
    out.extend_from_slice(b"]}");
    agent.metrics.request_duration.observe(started.elapsed());
    json(out)
}

async fn status(State(agent): State<Arc<Agent>>) -> Response {
    let loaded = agent.loaded.load_full();
    let now = jiff::Timestamp::now();
    let last_poll = agent
        .last_poll
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    let slot = |role: &str, s: &serve::Served, percent: Option<u8>| {
        serde_json::json!({
            "role": role, "version": s.version, "digest": s.digest,
            "percent": percent, "loaded_at": s.loaded_at,
            "counters": s.counters.view(),
        })
    };
    let body = serde_json::json!({
        "environment": agent.config.environment,
        "bundle": agent.config.bundle,
        "serial": loaded.as_ref().map(|l| l.serial),
        "expires_at": loaded.as_ref().and_then(|l| l.expires_at).map(gavel_trust::rfc3339),
        "stale": loaded.as_ref().is_some_and(|l| l.stale(now)),
        "loaded": loaded.as_ref().map(|l| {
            let mut v = vec![slot("stable", &l.stable, None)];
            if let Some((c, p)) = &l.canary {
                v.push(slot("canary", c, Some(*p)));
            }
            v
        }).unwrap_or_default(),
        "last_poll": last_poll,
    });
    json(body.to_string())
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

async fn metrics(State(agent): State<Arc<Agent>>) -> Response {
    let mut out = String::with_capacity(4096);
    let loaded = agent.loaded.load_full();
    let served: Vec<&serve::Served> = loaded
        .as_ref()
        .map(|l| {
            std::iter::once(&l.stable)
                .chain(l.canary.as_ref().map(|(c, _)| c))
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "# HELP policy_engine_requests_total Decisions made, by decision and version.\n# TYPE policy_engine_requests_total counter"
    );
    for s in &served {
        let c = s.counters.view();
        for (decision, n) in [
            ("allow", c.allow),
            ("deny", c.deny),
            ("needs_approval", c.needs_approval),
        ] {
            let _ = writeln!(
                out,
                "policy_engine_requests_total{{decision=\"{decision}\",version=\"{}\"}} {n}",
                label(&s.version)
            );
        }
    }
    for (name, help, f) in [
        (
            "policy_engine_cache_hits_total",
            "Decisions answered from the cache.",
            (|s: &serve::Served| s.counters.cache_hits.load(Ordering::Relaxed))
                as fn(&serve::Served) -> u64,
        ),
        (
            "policy_engine_cache_misses_total",
            "Decisions the cache did not have.",
            |s: &serve::Served| s.counters.cache_misses.load(Ordering::Relaxed),
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for s in &served {
            let _ = writeln!(out, "{name}{{version=\"{}\"}} {}", label(&s.version), f(s));
        }
    }
    let _ = writeln!(
        out,
        "# HELP policy_engine_policies_loaded Versions serving (stable and canary).\n# TYPE policy_engine_policies_loaded gauge\npolicy_engine_policies_loaded {}",
        served.len()
    );
    let _ = writeln!(
        out,
        "# HELP policy_engine_policy_updates_total Rollouts loaded.\n# TYPE policy_engine_policy_updates_total counter\npolicy_engine_policy_updates_total {}",
        agent.policy_updates.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP policy_engine_policy_errors_total Polls that failed or were refused.\n# TYPE policy_engine_policy_errors_total counter\npolicy_engine_policy_errors_total {}",
        agent.policy_errors.load(Ordering::Relaxed)
    );
    let stale = loaded
        .as_ref()
        .is_some_and(|l| l.stale(jiff::Timestamp::now()));
    let _ = writeln!(
        out,
        "# HELP policy_engine_rollout_stale 1 while the rollout document serving has expired.\n# TYPE policy_engine_rollout_stale gauge\npolicy_engine_rollout_stale {}",
        u8::from(stale)
    );
    agent.metrics.request_duration.render(
        &mut out,
        "policy_engine_request_duration_seconds",
        "Time to answer a decide request, body to response.",
    );
    agent.metrics.evaluation_duration.render(
        &mut out,
        "policy_engine_evaluation_duration_seconds",
        "Time the engine took for one decision (answers from the cache are not timed).",
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}

async fn events(
    State(agent): State<Arc<Agent>>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = agent.events.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(data) => {
                    return Some((Ok(Event::default().event("policyChanged").data(data)), rx));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

async fn reload(State(agent): State<Arc<Agent>>, headers: HeaderMap) -> Response {
    let Some(token) = &agent.config.admin_token else {
        return error(
            StatusCode::FORBIDDEN,
            "reload_disabled",
            "no admin_token is configured, so reload is off",
        );
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let same = given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "reload needs `Authorization: Bearer <admin_token>`",
        );
    }
    agent.poll_now.notify_one();
    (StatusCode::ACCEPTED, "").into_response()
}
