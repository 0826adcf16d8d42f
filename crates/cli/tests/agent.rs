//! `gavel agent` as a real process against a real registry on loopback
//! (DESIGN §8, §11.11): a console (the library, with an in-memory keychain)
//! submits, approves, activates and publishes; the agent, started before
//! anything is published, answers 503 until it has a verified version,
//! then emits `policyChanged`, serves the version with its digest, reports
//! it in `/v1/status` and `/metrics`, logs each decision with the digest
//! that made it, and — restarted with the registry gone — serves its last
//! good version from disk.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gavel_console::{Console, MemoryKeychain};
use gavel_registry::testing::{LoopbackRegistry, free_port};
use gavel_trust::Role;
use serde_json::Value;

/// One HTTP/1.1 exchange on loopback: the status and the body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn json(port: u16, method: &str, path: &str, body: &str) -> (u16, Value) {
    let (status, text) = http(port, method, path, &[], body);
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

struct AgentProcess {
    child: Child,
    port: u16,
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AgentProcess {
    fn start(config: &Path, port: u16) -> AgentProcess {
        let child = Command::new(env!("CARGO_BIN_EXE_gavel"))
            .args(["agent", "run", "--config"])
            .arg(config)
            .env_remove("GAVEL_AGENT_LISTEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = child;
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut said = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut said);
                }
                panic!("the agent stopped ({status}): {said}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the agent did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        AgentProcess { child, port }
    }

    /// Its log so far (it is stopped to read it).
    fn stop_and_log(mut self) -> Vec<Value> {
        let _ = self.child.kill();
        let mut text = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut text);
        }
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// Waits for the first `policyChanged` event on an open stream.
fn next_event(stream: &mut BufReader<TcpStream>) -> Value {
    let mut event = String::new();
    loop {
        let mut line = String::new();
        assert!(
            stream.read_line(&mut line).unwrap() > 0,
            "the event stream closed"
        );
        let line = line.trim_end();
        if let Some(e) = line.strip_prefix("event: ") {
            event = e.to_string();
        } else if let Some(d) = line.strip_prefix("data: ") {
            if event == "policyChanged" {
                return serde_json::from_str(d).unwrap();
            }
        }
    }
}

/// `promtool check metrics` (Prometheus's own linter of the text format)
/// accepts `text`.
fn promtool_accepts(text: &str) {
    let mut p = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (cargo xtask installs Debian's prometheus package)");
    p.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const REQUEST: &str = r#"{"agent": "inbox.triage", "action": "archive", "subject": "user-7", "context": {"category": "newsletter"}}"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_agent_serves_what_the_console_activates_and_survives_the_registry() {
    let reg = LoopbackRegistry::start();
    let url = reg.url("team");
    let home = tempfile::tempdir().unwrap();
    let c = Console::open(home.path(), Arc::new(MemoryKeychain::default()))
        .await
        .unwrap();
    c.generate_identity("alice", "alice@example.com", None, None)
        .await
        .unwrap();
    c.init(true).await.unwrap();
    c.registry_add("team", &url, None, None, None)
        .await
        .unwrap();
    c.bind_bundle("inbox-triage", "team", None).await.unwrap();

    // The agent's trust: the console's operator key and the approver's.
    let work = tempfile::tempdir().unwrap();
    let operator = c.operator_key().await.unwrap().public_key;
    let alice = c.export_key("alice").await.unwrap();
    let keys = work.path().join("keys.json");
    std::fs::write(
        &keys,
        serde_json::to_string(&vec![operator, alice]).unwrap(),
    )
    .unwrap();
    let port = free_port();
    let config = work.path().join("agent.yaml");
    let log = work.path().join("decisions.jsonl");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\nregistry: {{url: '{url}'}}\nbundle: inbox-triage\nenvironment: staging\npoll_interval: 300ms\ntrust: {{keys: [keys.json], quorum: 1}}\nstate_dir: state\ndecision_log: decisions.jsonl\nadmin_token: s3cret-token\n"
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(["agent", "check-config", "--format", "json"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let agent = AgentProcess::start(&config, port);
    let (status, body) = json(port, "POST", "/v1/decide", REQUEST);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "no_policy_loaded");
    // Listen for events before anything is published.
    let mut events = TcpStream::connect(("127.0.0.1", port)).unwrap();
    events
        .write_all(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    events
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut events = BufReader::new(events);

    // The console approves and activates 1.0.0 in staging and publishes.
    c.generate_identity(
        "bob",
        "bob@example.com",
        Some(vec![Role::Author, Role::Approver]),
        Some("alice"),
    )
    .await
    .unwrap();
    c.submit("inbox-triage@1.0.0", Some("alice")).await.unwrap();
    c.decide(
        "inbox-triage@1.0.0",
        "staging",
        gavel_console::Decision::Approve,
        "fine",
        None,
        Some("alice"),
    )
    .await
    .unwrap();
    let t = c
        .activate(
            "inbox-triage@1.0.0",
            "staging",
            &gavel_console::Expect::default(),
            Some("alice"),
        )
        .await
        .unwrap();
    c.publish_rollout(&t, Some("alice")).await.unwrap();
    let digest = t.rollout.active.digest.clone();
    // Reload needs the admin token.
    let (status, _) = http(port, "POST", "/v1/reload", &[], "");
    assert_eq!(status, 401);
    let (status, _) = http(
        port,
        "POST",
        "/v1/reload",
        &[("Authorization", "Bearer s3cret-token")],
        "",
    );
    assert_eq!(status, 202);

    let changed = next_event(&mut events);
    assert_eq!(changed["serial"], 1, "{changed}");
    assert_eq!(changed["version"], "1.0.0");
    assert_eq!(changed["digest"], digest.as_str());
    assert_eq!(changed["environment"], "staging");

    let (status, decision) = json(port, "POST", "/v1/decide", REQUEST);
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["version"], "1.0.0");
    assert_eq!(decision["digest"], digest.as_str());
    assert!(decision["effect"].is_string());
    let (status, bad) = json(port, "POST", "/v1/decide", r#"{"agent": "x"}"#);
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["error"]["code"], "invalid_request");
    let (status, too_large) = http(
        port,
        "POST",
        "/v1/decide",
        &[],
        &format!("{{\"agent\": \"{}\"}}", "a".repeat(70_000)),
    );
    assert_eq!(status, 413);
    assert!(too_large.contains("too_large"), "{too_large}");
    // Pipelined: three requests in one write, answered in order.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let post = |body: &str, close: &str| {
        format!(
            "POST /v1/decide HTTP/1.1\r\nHost: x\r\n{close}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let pipelined = [
        post(REQUEST, ""),
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
        post("{\"agent\": 1}", "Connection: close\r\n"),
    ]
    .concat();
    s.write_all(pipelined.as_bytes()).unwrap();
    let mut answers = String::new();
    s.read_to_string(&mut answers).unwrap();
    let statuses: Vec<&str> = answers
        .split("HTTP/1.1 ")
        .skip(1)
        .filter_map(|a| a.split_once("\r\n").map(|(status, _)| status))
        .collect();
    assert_eq!(
        statuses,
        ["200 OK", "200 OK", "400 Bad Request"],
        "{answers}"
    );
    assert!(
        answers.contains(&format!("\"digest\":\"{digest}\"")),
        "{answers}"
    );
    assert!(answers.contains("ok\n") && answers.contains("invalid_request"));
    let (status, batch) = json(
        port,
        "POST",
        "/v1/decide/batch",
        &format!("{{\"requests\": [{REQUEST}, {{\"nope\": 1}}, {REQUEST}]}}"),
    );
    assert_eq!(status, 200, "{batch}");
    let decisions = batch["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 3);
    assert_eq!(decisions[0]["digest"], digest.as_str());
    assert_eq!(decisions[1]["error"]["code"], "invalid_request");
    assert_eq!(decisions[2], decisions[0]);
    // The same request again (spread over lines) comes from the cache
    // (batches bypass it).
    let (_, again) = json(port, "POST", "/v1/decide", &REQUEST.replace(", ", ",\n  "));
    assert_eq!(again, decision);

    let (_, status) = json(port, "GET", "/v1/status", "");
    assert_eq!(status["serial"], 1, "{status}");
    assert_eq!(status["bundle"], "inbox-triage");
    assert_eq!(status["stale"], false);
    assert_eq!(status["loaded"][0]["role"], "stable");
    assert_eq!(status["loaded"][0]["digest"], digest.as_str());
    assert_eq!(status["loaded"][0]["counters"]["decisions"], 5);
    assert_eq!(status["last_poll"]["ok"], true);
    let (status, metrics) = http(port, "GET", "/metrics", &[], "");
    assert_eq!(status, 200);
    promtool_accepts(&metrics);
    assert!(
        metrics.contains("policy_engine_policies_loaded 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("policy_engine_policy_updates_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("policy_engine_rollout_stale 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("policy_engine_cache_hits_total{version=\"1.0.0\"} 2"),
        "{metrics}"
    );

    // The decision log: each decision with the digest that made it.
    let logged = std::fs::read_to_string(work.path().join(&log)).unwrap();
    let first: Value = serde_json::from_str(logged.lines().next().unwrap()).unwrap();
    assert_eq!(first["decision"]["digest"], digest.as_str());
    assert_eq!(first["request"]["subject"], "user-7");
    // `gavel sim replay` reads it: the same bundle decides every line the same.
    let replay = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(["sim", "replay", "--format", "json"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bundles/inbox-triage.yaml"))
        .arg(work.path().join(&log))
        .output()
        .unwrap();
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let replayed: Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(replayed["total_decisions"], 5, "{replayed}");
    assert_eq!(replayed["total_changes"], 0, "{replayed}");

    // The registry goes away: the agent keeps serving; restarted, it
    // serves the last good version from disk.
    drop(reg);
    std::thread::sleep(Duration::from_millis(2500));
    let (status, decision) = json(port, "POST", "/v1/decide", REQUEST);
    assert_eq!(
        (status, &decision["digest"]),
        (200, &Value::from(digest.as_str()))
    );
    let lines = agent.stop_and_log();
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "policy changed" && l["serial"] == 1),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "warn" && l["reason"] == "registry"),
        "{lines:?}"
    );
    let again = AgentProcess::start(&config, port);
    let (status, decision) = json(again.port, "POST", "/v1/decide", REQUEST);
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["digest"], digest.as_str());
}

/// Keys and documents made by hand, as an attacker or a console would.
mod forge {
    use gavel_registry::artifact::{
        self, BUNDLE_ARTIFACT, BUNDLE_LAYER, DSSE_LAYER, SIGNATURES_ARTIFACT,
    };
    use gavel_registry::{Descriptor, Manifest, Target};
    use gavel_trust::ed25519::SigningKey;
    use gavel_trust::{PayloadKind, PublicKey, Role};
    use serde_json::{Value, json};

    pub const REPO: &str = "team/inbox-triage";

    pub fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    pub fn public(k: &SigningKey, name: &str, roles: Vec<Role>) -> PublicKey {
        PublicKey::new(&k.verifying_key(), name, "", roles)
    }

    pub fn bundle(version: &str, effect: &str) -> Value {
        json!({
            "apiVersion": "gavel/v1", "kind": "PolicyBundle",
            "metadata": {"name": "inbox-triage", "version": version},
            "rules": [{"id": "quarantine-spam", "agent": "inbox.triage", "action": "quarantine",
                       "effect": effect, "reason": "Spam is quarantined"}],
        })
    }

    pub fn digest(b: &Value) -> String {
        gavel_trust::bundle_digest(b).unwrap().to_string()
    }

    fn sign(
        kind: PayloadKind,
        statement: Value,
        k: &SigningKey,
        issued: jiff::Timestamp,
        validity: i64,
    ) -> Value {
        let p = gavel_trust::stamp(kind, &statement, issued, validity).unwrap();
        gavel_trust::sign_dsse(kind.media_type(), &p, &[k]).unwrap()
    }

    pub fn approval(k: &SigningKey, name: &str, b: &Value, env: &str) -> Value {
        sign(
            PayloadKind::Approval,
            json!({
                "digest": digest(b), "base_digest": null,
                "version": b["metadata"]["version"], "environment": env,
                "decision": "approve", "comment": "", "approver": name, "roles": ["approver"],
                "evidence": {"lint": {}, "impact": {"allow_to_deny": 0, "deny_to_allow": 0, "other": 0}},
            }),
            k,
            jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60),
            86_400,
        )
    }

    pub fn rollout(
        operator: &SigningKey,
        serial: u64,
        stable: &Value,
        canary: Option<(&Value, u8)>,
        issued: jiff::Timestamp,
        validity: i64,
    ) -> Value {
        let at = gavel_trust::rfc3339(jiff::Timestamp::now());
        let slot = |b: &Value| json!({"version": b["metadata"]["version"], "digest": digest(b), "activated_at": at});
        let canary = canary.map(|(b, p)| {
            let mut s = slot(b);
            s["percent"] = p.into();
            s
        });
        sign(
            PayloadKind::Rollout,
            json!({"bundle": "inbox-triage", "environment": "staging", "serial": serial,
                   "stable": slot(stable), "canary": canary}),
            operator,
            issued,
            validity,
        )
    }

    /// Pushes a version (tagged with its version) and its signatures.
    pub async fn push_version(t: &Target, b: &Value, envelopes: &[Value]) {
        let bytes = gavel_trust::canonicalize(b).unwrap().into_bytes();
        let m = Manifest::new(
            BUNDLE_ARTIFACT,
            vec![Descriptor::of(BUNDLE_LAYER, &bytes)],
            None,
        );
        let tag = artifact::version_tag(b["metadata"]["version"].as_str().unwrap()).unwrap();
        t.push(REPO, &m, &[&bytes], Some(&tag)).await.unwrap();
        let blobs: Vec<Vec<u8>> = envelopes
            .iter()
            .map(|e| e.to_string().into_bytes())
            .collect();
        let layers = blobs
            .iter()
            .map(|b| Descriptor::of(DSSE_LAYER, b))
            .collect();
        let sigs = Manifest::new(SIGNATURES_ARTIFACT, layers, None);
        let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
        t.push(
            REPO,
            &sigs,
            &refs,
            Some(&artifact::sig_tag(&digest(b)).unwrap()),
        )
        .await
        .unwrap();
    }

    pub async fn push_rollout(t: &Target, doc: &Value) {
        let bytes = doc.to_string().into_bytes();
        let m = Manifest::new(
            artifact::ROLLOUT_ARTIFACT,
            vec![Descriptor::of(DSSE_LAYER, &bytes)],
            None,
        );
        t.push(REPO, &m, &[&bytes], Some("rollout-staging"))
            .await
            .unwrap();
    }
}

/// Publishes `doc` as the rollout, asks for a poll and waits for the
/// refusal `code`; the old version (`serving`) still serves.
async fn expect_refused(
    t: &gavel_registry::Target,
    port: u16,
    old: &str,
    doc: serde_json::Value,
    code: &'static str,
) {
    forge::push_rollout(t, &doc).await;
    let s = poll_until(port, code, |s| {
        s["last_poll"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with(code))
    });
    assert_eq!(s["serial"], 1, "{code}: {s}");
    assert_eq!(serving(port), old, "{code}: the old version keeps serving");
}

fn write_keys(dir: &Path, keys: &[gavel_trust::PublicKey]) {
    std::fs::write(dir.join("keys.json"), serde_json::to_string(keys).unwrap()).unwrap();
}

/// An agent configuration for inbox-triage in staging at `registry`,
/// polling only when asked (admin token `t`), with `trust` and any
/// `extra` lines.
fn write_config(
    dir: &Path,
    port: u16,
    registry: &str,
    trust: &str,
    extra: &str,
) -> std::path::PathBuf {
    let config = dir.join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\nregistry: {{url: '{registry}'}}\nbundle: inbox-triage\nenvironment: staging\npoll_interval: 1h\ntrust: {trust}\nstate_dir: state\nadmin_token: t\n{extra}"
        ),
    )
    .unwrap();
    config
}

/// Asks for a poll and waits until the status shows `check` holds.
fn poll_until(port: u16, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        http(
            port,
            "POST",
            "/v1/reload",
            &[("Authorization", "Bearer t")],
            "",
        );
        std::thread::sleep(Duration::from_millis(150));
        let (_, status) = json(port, "GET", "/v1/status", "");
        if check(&status) {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: {status}"
        );
    }
}

const SPAM: &str = r#"{"agent": "inbox.triage", "action": "quarantine", "subject": "s-1"}"#;

fn serving(port: u16) -> String {
    let (status, d) = json(port, "POST", "/v1/decide", SPAM);
    assert_eq!(status, 200, "{d}");
    d["digest"].as_str().unwrap().to_string()
}

/// Each attack of §8 is refused with its reason in the log and the status
/// while the version loaded keeps serving; then a canary at 10% takes 10%
/// ± 1.5 points of 10,000 subjects, the same ones after a restart.
#[tokio::test(flavor = "multi_thread")]
async fn attacks_are_refused_while_the_old_version_serves_and_the_canary_splits_by_subject() {
    use gavel_trust::Role;
    let reg = LoopbackRegistry::start();
    let url = reg.url("team");
    let t = gavel_registry::Target::open(&gavel_registry::Location::parse(&url).unwrap(), None)
        .unwrap();
    let (op, ann, ben, mal) = (forge::key(1), forge::key(2), forge::key(3), forge::key(9));
    let work = tempfile::tempdir().unwrap();
    let keys = vec![
        forge::public(&op, "console", vec![Role::Operator]),
        forge::public(&ann, "ann", vec![Role::Approver]),
        forge::public(&ben, "ben", vec![Role::Approver]),
    ];
    write_keys(work.path(), &keys);
    let port = free_port();
    let config = write_config(
        work.path(),
        port,
        &url,
        "{keys: [keys.json], quorum: 2}",
        "",
    );
    let now = jiff::Timestamp::now();
    let week = 7 * 86_400;
    let approved = |b: &serde_json::Value| {
        vec![
            forge::approval(&ann, "ann", b, "staging"),
            forge::approval(&ben, "ben", b, "staging"),
        ]
    };

    let v1 = forge::bundle("1.0.0", "deny");
    forge::push_version(&t, &v1, &approved(&v1)).await;
    let first = forge::rollout(&op, 1, &v1, None, now, week);
    forge::push_rollout(&t, &first).await;
    let agent = AgentProcess::start(&config, port);
    poll_until(port, "serial 1", |s| s["serial"] == 1);
    let d1 = forge::digest(&v1);
    assert_eq!(serving(port), d1);

    let v2 = forge::bundle("1.1.0", "allow");
    // A rollout document signed by a key the agent does not trust.
    forge::push_version(&t, &v2, &approved(&v2)).await;
    expect_refused(
        &t,
        port,
        &d1,
        forge::rollout(&mal, 2, &v2, None, now, week),
        "untrusted",
    )
    .await;
    // A bad signature: the operator's signature over another payload.
    let mut forged = forge::rollout(&op, 2, &v2, None, now, week);
    forged["payload"] = forge::rollout(&op, 3, &v2, None, now, week)["payload"].clone();
    expect_refused(&t, port, &d1, forged, "bad_signature").await;
    // An expired rollout document (the freeze attack).
    let old = now - jiff::SignedDuration::from_hours(24 * 10);
    expect_refused(
        &t,
        port,
        &d1,
        forge::rollout(&op, 2, &v2, None, old, 86_400),
        "expired",
    )
    .await;
    // Too few approvals: one of the two needed.
    forge::push_version(&t, &v2, &[forge::approval(&ann, "ann", &v2, "staging")]).await;
    expect_refused(
        &t,
        port,
        &d1,
        forge::rollout(&op, 2, &v2, None, now, week),
        "too_few_approvals",
    )
    .await;
    // Approvals from a key the agent does not trust, or for another environment.
    forge::push_version(
        &t,
        &v2,
        &[
            forge::approval(&ann, "ann", &v2, "staging"),
            forge::approval(&mal, "mal", &v2, "staging"),
        ],
    )
    .await;
    expect_refused(
        &t,
        port,
        &d1,
        forge::rollout(&op, 2, &v2, None, now, week),
        "too_few_approvals",
    )
    .await;
    forge::push_version(
        &t,
        &v2,
        &[
            forge::approval(&ann, "ann", &v2, "prod"),
            forge::approval(&ben, "ben", &v2, "prod"),
        ],
    )
    .await;
    expect_refused(
        &t,
        port,
        &d1,
        forge::rollout(&op, 2, &v2, None, now, week),
        "too_few_approvals",
    )
    .await;
    // A version the document does not name: the tag 1.1.0 holds other bytes.
    let other = forge::bundle("1.1.0", "needs_approval");
    forge::push_version(&t, &other, &approved(&other)).await;
    expect_refused(
        &t,
        port,
        &d1,
        forge::rollout(&op, 2, &v2, None, now, week),
        "not_named",
    )
    .await;
    // A blob whose bytes do not match its digest.
    forge::push_version(&t, &v2, &approved(&v2)).await;
    let bytes = gavel_trust::canonicalize(&v2).unwrap();
    let blob = reg.blob_file(&forge::digest(&v2));
    std::fs::write(&blob, bytes.replace("allow", "deny ")).unwrap();
    expect_refused(
        &t,
        port,
        &d1,
        forge::rollout(&op, 2, &v2, None, now, week),
        "digest_mismatch",
    )
    .await;
    std::fs::write(&blob, &bytes).unwrap();

    // The real thing loads; then an older serial is refused.
    forge::push_rollout(&t, &forge::rollout(&op, 3, &v2, None, now, week)).await;
    poll_until(port, "serial 3", |s| s["serial"] == 3);
    let d2 = forge::digest(&v2);
    assert_eq!(serving(port), d2);
    forge::push_rollout(&t, &first).await;
    let s = poll_until(port, "lower serial", |s| {
        s["last_poll"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("lower_serial"))
    });
    assert_eq!(s["serial"], 3);
    assert_eq!(serving(port), d2);
    let lines = agent.stop_and_log();
    for code in [
        "untrusted",
        "bad_signature",
        "expired",
        "too_few_approvals",
        "not_named",
        "digest_mismatch",
        "lower_serial",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l["level"] == "error" && l["reason"] == code),
            "no logged refusal `{code}`: {lines:?}"
        );
    }

    // A canary at 10%: 10% ± 1.5 points of 10,000 subjects, the same ones
    // after a restart (which loads the rollout from disk).
    let v3 = forge::bundle("1.2.0", "needs_approval");
    forge::push_version(&t, &v3, &approved(&v3)).await;
    forge::push_rollout(&t, &forge::rollout(&op, 4, &v2, Some((&v3, 10)), now, week)).await;
    let agent = AgentProcess::start(&config, port);
    poll_until(port, "serial 4", |s| s["serial"] == 4);
    let d3 = forge::digest(&v3);
    let batch = format!(
        "{{\"requests\": [{}]}}",
        (0..10_000)
            .map(|i| format!(
                r#"{{"agent": "inbox.triage", "action": "quarantine", "subject": "subject-{i}"}}"#
            ))
            .collect::<Vec<_>>()
            .join(",")
    );
    let canary_subjects = |port: u16| -> Vec<usize> {
        let (status, out) = json(port, "POST", "/v1/decide/batch", &batch);
        assert_eq!(status, 200);
        out["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .filter(|(_, d)| d["digest"] == d3.as_str())
            .map(|(i, _)| i)
            .collect()
    };
    let first_split = canary_subjects(port);
    assert!(
        (850..=1150).contains(&first_split.len()),
        "{} of 10,000 to the canary",
        first_split.len()
    );
    // Without a decision log a batch is decoded in one pass; a bad item
    // still gets its error in its place, and the limit holds.
    let one = r#"{"agent": "inbox.triage", "action": "quarantine", "subject": "subject-1"}"#;
    let (status, mixed) = json(
        port,
        "POST",
        "/v1/decide/batch",
        &format!(r#"{{"requests": [{one}, {{"agent": 7}}, {one}]}}"#),
    );
    assert_eq!(status, 200, "{mixed}");
    assert_eq!(mixed["decisions"][1]["error"]["code"], "invalid_request");
    assert_eq!(mixed["decisions"][0], mixed["decisions"][2]);
    let (_, single) = json(port, "POST", "/v1/decide", one);
    assert_eq!(mixed["decisions"][0]["digest"], single["digest"]);
    assert_eq!(mixed["decisions"][0]["effect"], single["effect"]);
    let over = format!("{{\"requests\": [{}]}}", vec![one; 10_001].join(","));
    let (status, refused) = json(port, "POST", "/v1/decide/batch", &over);
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (413, Some("too_large"))
    );
    drop(agent);
    drop(reg);
    let again = AgentProcess::start(&config, port);
    assert_eq!(
        canary_subjects(again.port),
        first_split,
        "the same subjects after a restart"
    );
}

/// An agent following the team's trust document: a document signed by the
/// root security key brings a new operator key, whose rollout is then
/// served; a document signed by an untrusted key changes nothing and is
/// logged; after a restart the followed document still holds.
#[tokio::test(flavor = "multi_thread")]
async fn the_agent_follows_a_trust_document_signed_by_its_security_quorum() {
    use gavel_trust::{PayloadKind, Role};
    let reg = LoopbackRegistry::start();
    let url = reg.url("team");
    let t = gavel_registry::Target::open(&gavel_registry::Location::parse(&url).unwrap(), None)
        .unwrap();
    let (op, ann, sec, op2, mal) = (
        forge::key(1),
        forge::key(2),
        forge::key(4),
        forge::key(5),
        forge::key(9),
    );
    let root = vec![
        forge::public(&op, "console", vec![Role::Operator]),
        forge::public(&ann, "ann", vec![Role::Approver]),
        forge::public(&sec, "sec", vec![Role::Security]),
    ];
    let work = tempfile::tempdir().unwrap();
    write_keys(work.path(), &root);
    let port = free_port();
    let config = write_config(
        work.path(),
        port,
        &url,
        "{keys: [keys.json], document: true}",
        "",
    );
    let now = jiff::Timestamp::now();
    let week = 7 * 86_400;
    let v1 = forge::bundle("1.0.0", "deny");
    forge::push_version(&t, &v1, &[forge::approval(&ann, "ann", &v1, "staging")]).await;
    let push_trust = |doc: serde_json::Value| {
        let t = &t;
        async move {
            let bytes = doc.to_string().into_bytes();
            let m = gavel_registry::Manifest::new(
                gavel_registry::artifact::TRUST_ARTIFACT,
                vec![gavel_registry::Descriptor::of(
                    gavel_registry::artifact::DSSE_LAYER,
                    &bytes,
                )],
                None,
            );
            t.push(forge::REPO, &m, &[&bytes], Some("trust"))
                .await
                .unwrap();
        }
    };
    let trust_doc = |version: i64,
                     keys: &[gavel_trust::PublicKey],
                     signer: &gavel_trust::ed25519::SigningKey| {
        let p = gavel_trust::stamp(
            PayloadKind::Trust,
            &serde_json::json!({"version": version, "keys": keys, "quorum": 1}),
            now,
            week,
        )
        .unwrap();
        gavel_trust::sign_dsse(PayloadKind::Trust.media_type(), &p, &[signer]).unwrap()
    };
    // The operator key rotates: v1 of the trust document lists op2 instead.
    let rotated = vec![
        forge::public(&op2, "console-2", vec![Role::Operator]),
        forge::public(&ann, "ann", vec![Role::Approver]),
        forge::public(&sec, "sec", vec![Role::Security]),
    ];
    // First a forgery: mallory, trusted nowhere, lists her own operator key.
    let forged = vec![
        forge::public(&mal, "mal", vec![Role::Operator, Role::Security]),
        forge::public(&ann, "ann", vec![Role::Approver]),
    ];
    push_trust(trust_doc(1, &forged, &mal)).await;
    forge::push_rollout(&t, &forge::rollout(&mal, 1, &v1, None, now, week)).await;
    let agent = AgentProcess::start(&config, port);
    let s = poll_until(port, "refused", |s| {
        s["last_poll"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("untrusted"))
    });
    assert!(s["serial"].is_null(), "{s}");
    // Then the real rotation, signed by the root security key.
    push_trust(trust_doc(1, &rotated, &sec)).await;
    forge::push_rollout(&t, &forge::rollout(&op2, 1, &v1, None, now, week)).await;
    poll_until(port, "serial 1 by the rotated operator key", |s| {
        s["serial"] == 1
    });
    assert_eq!(serving(port), forge::digest(&v1));
    let lines = agent.stop_and_log();
    assert!(
        lines.iter().any(|l| l["reason"] == "trust_untrusted"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "trust document followed" && l["version"] == 1),
        "{lines:?}"
    );
    // Restarted, it still trusts op2 (and no longer the root operator key).
    let v2 = forge::bundle("1.1.0", "allow");
    forge::push_version(&t, &v2, &[forge::approval(&ann, "ann", &v2, "staging")]).await;
    forge::push_rollout(&t, &forge::rollout(&op, 2, &v2, None, now, week)).await;
    let again = AgentProcess::start(&config, port);
    let s = poll_until(again.port, "the old operator key is refused", |s| {
        s["last_poll"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("untrusted"))
    });
    assert_eq!(s["serial"], 1, "{s}");
    forge::push_rollout(&t, &forge::rollout(&op2, 2, &v2, None, now, week)).await;
    poll_until(again.port, "serial 2", |s| s["serial"] == 2);
}

/// With `tls.cert` and `tls.key` the agent speaks HTTPS only: a client that
/// trusts the certificate is answered, plain HTTP is not; a key that does
/// not go with the certificate is refused by `check-config`.
#[tokio::test(flavor = "multi_thread")]
async fn the_agent_serves_https_with_its_certificate() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let work = tempfile::tempdir().unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(work.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // A test CA and a server certificate it signs for 127.0.0.1.
    std::fs::write(
        work.path().join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=gavel-test-ca",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=gavel-agent",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", "other.pem"]);
    let op = forge::key(1);
    let keys = vec![
        forge::public(&op, "console", vec![gavel_trust::Role::Operator]),
        forge::public(&forge::key(2), "ann", vec![gavel_trust::Role::Approver]),
    ];
    write_keys(work.path(), &keys);
    let port = free_port();
    let config = |key: &str| {
        let path = work.path().join(format!("agent-{key}.yaml"));
        std::fs::write(
            &path,
            format!(
                "listen: 127.0.0.1:{port}\nregistry: {{url: 'oci+http://127.0.0.1:{}/team'}}\nbundle: inbox-triage\nenvironment: staging\ntrust: {{keys: [keys.json]}}\nstate_dir: state\ntls: {{cert: cert.pem, key: {key}}}\nlimits: {{read_timeout: 2s, max_connections: 2}}\n",
                free_port()
            ),
        )
        .unwrap();
        path
    };
    let bad = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(["agent", "check-config"])
        .arg(config("other.pem"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("usable pair"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    let _agent = AgentProcess::start(&config("key.pem"), port);
    let cert = reqwest::Certificate::from_pem(&std::fs::read(work.path().join("ca.pem")).unwrap())
        .unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(cert)
        .build()
        .unwrap();
    let r = client
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(format!("https://127.0.0.1:{port}/v1/decide"))
        .body(SPAM)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "nothing loaded yet");
    // Plain HTTP gets no answer.
    assert!(
        reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_err()
    );
    // Handshakes are bounded like connections: two clients that connect and
    // never say hello hold both slots, so a third is shaken hands with only
    // when they are cut (`read_timeout`, 2 s). Without the bound it was
    // answered at once, and any number of silent sockets were held.
    drop(client);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let silent: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let fresh = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(work.path().join("ca.pem")).unwrap())
                .unwrap(),
        )
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let asked = std::time::Instant::now();
    let r = fresh
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap();
    let waited = asked.elapsed();
    assert_eq!(r.status(), 200);
    assert!(
        waited >= std::time::Duration::from_millis(1200),
        "answered after {waited:?} while two silent clients held the handshake slots"
    );
    drop(silent);
}

/// A proxy in front of the registry that forwards every request (one per
/// connection) except a download of `endless`, which it answers with a
/// body that never ends, a byte every 20 ms.
fn endless_proxy(registry: u16, endless: String) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let endless = endless.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let line = text.lines().next().unwrap_or("").to_string();
                if line.starts_with("GET ") && line.contains(&format!("/blobs/{endless}")) {
                    let _ = client.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
                    );
                    while client.write_all(b"1\r\n{\r\n").is_ok() {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    return;
                }
                let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", registry)) else {
                    return;
                };
                let forwarded: String = text
                    .lines()
                    .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                    .take_while(|l| !l.is_empty())
                    .map(|l| format!("{l}\r\n"))
                    .collect();
                let _ =
                    upstream.write_all(format!("{forwarded}Connection: close\r\n\r\n").as_bytes());
                let _ = std::io::copy(&mut upstream, &mut client);
            });
        }
    });
    port
}

/// Slow and endless downloads are cut off by `limits.fetch_timeout` while
/// the old version serves; a rollout document that expires while loaded
/// is served as stale (status, metric, log); a registry that stops and
/// comes back is caught up with.
#[tokio::test(flavor = "multi_thread")]
async fn endless_downloads_expiry_and_a_registry_restart() {
    use gavel_trust::Role;
    let mut reg = LoopbackRegistry::start();
    let url = reg.url("team");
    let t = gavel_registry::Target::open(&gavel_registry::Location::parse(&url).unwrap(), None)
        .unwrap();
    let (op, ann) = (forge::key(1), forge::key(2));
    let keys = vec![
        forge::public(&op, "console", vec![Role::Operator]),
        forge::public(&ann, "ann", vec![Role::Approver]),
    ];
    let work = tempfile::tempdir().unwrap();
    write_keys(work.path(), &keys);
    let now = jiff::Timestamp::now();
    let week = 7 * 86_400;
    let v1 = forge::bundle("1.0.0", "deny");
    let v2 = forge::bundle("1.1.0", "allow");
    for v in [&v1, &v2] {
        forge::push_version(&t, v, &[forge::approval(&ann, "ann", v, "staging")]).await;
    }
    let proxy = endless_proxy(reg.port, forge::digest(&v2));
    let port = free_port();
    let config = write_config(
        work.path(),
        port,
        &format!("oci+http://127.0.0.1:{proxy}/team"),
        "{keys: [keys.json]}",
        "limits: {fetch_timeout: 1s}\n",
    );
    // 1.0.0 with a document valid for three seconds.
    forge::push_rollout(&t, &forge::rollout(&op, 1, &v1, None, now, 3)).await;
    let agent = AgentProcess::start(&config, port);
    poll_until(port, "serial 1", |s| s["serial"] == 1);
    // 1.1.0's bundle never finishes downloading.
    forge::push_rollout(&t, &forge::rollout(&op, 2, &v2, None, now, week)).await;
    let started = Instant::now();
    let s = poll_until(port, "timeout", |s| {
        s["last_poll"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("timeout"))
    });
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(s["serial"], 1);
    assert_eq!(serving(port), forge::digest(&v1));
    // By now the three seconds have passed: stale, still serving.
    std::thread::sleep(Duration::from_millis(
        3000u64.saturating_sub(u64::try_from(started.elapsed().as_millis()).unwrap_or(0)),
    ));
    let s = poll_until(port, "stale", |s| s["stale"] == true);
    assert_eq!(s["serial"], 1);
    assert_eq!(serving(port), forge::digest(&v1));
    let (_, metrics) = http(port, "GET", "/metrics", &[], "");
    assert!(
        metrics.contains("policy_engine_rollout_stale 1"),
        "{metrics}"
    );
    // The registry stops: still serving; it comes back with a new
    // document: caught up.
    reg.stop();
    // (Through the proxy a registry that is down is a closed connection,
    // retried until the fetch's time is up.)
    let s = poll_until(port, "registry down", |s| {
        s["last_poll"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("the rollout document"))
    });
    assert_eq!(s["serial"], 1);
    assert_eq!(serving(port), forge::digest(&v1));
    reg.restart();
    let v3 = forge::bundle("1.2.0", "needs_approval");
    forge::push_version(&t, &v3, &[forge::approval(&ann, "ann", &v3, "staging")]).await;
    forge::push_rollout(&t, &forge::rollout(&op, 3, &v3, None, now, week)).await;
    let s = poll_until(port, "caught up", |s| s["serial"] == 3);
    assert_eq!(s["stale"], false);
    assert_eq!(serving(port), forge::digest(&v3));
    let lines = agent.stop_and_log();
    assert!(lines.iter().any(|l| l["reason"] == "timeout"), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "error"
                && l["msg"].as_str().is_some_and(|m| m.contains("expired"))),
        "{lines:?}"
    );
}

/// An agent that starts with only an expired last good document on disk
/// (and no registry) serves it as stale rather than nothing.
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_last_good_document_is_served_as_stale_at_start() {
    use gavel_trust::Role;
    let reg = LoopbackRegistry::start();
    let url = reg.url("team");
    let t = gavel_registry::Target::open(&gavel_registry::Location::parse(&url).unwrap(), None)
        .unwrap();
    let (op, ann) = (forge::key(1), forge::key(2));
    let keys = vec![
        forge::public(&op, "console", vec![Role::Operator]),
        forge::public(&ann, "ann", vec![Role::Approver]),
    ];
    let work = tempfile::tempdir().unwrap();
    write_keys(work.path(), &keys);
    let v1 = forge::bundle("1.0.0", "deny");
    forge::push_version(&t, &v1, &[forge::approval(&ann, "ann", &v1, "staging")]).await;
    forge::push_rollout(
        &t,
        &forge::rollout(&op, 1, &v1, None, jiff::Timestamp::now(), 2),
    )
    .await;
    let port = free_port();
    let config = write_config(work.path(), port, &url, "{keys: [keys.json]}", "");
    let agent = AgentProcess::start(&config, port);
    poll_until(port, "serial 1", |s| s["serial"] == 1);
    drop(agent);
    drop(reg);
    std::thread::sleep(Duration::from_millis(2200));
    let again = AgentProcess::start(&config, port);
    let (_, status) = json(again.port, "GET", "/v1/status", "");
    assert_eq!(
        (&status["serial"], &status["stale"]),
        (&Value::from(1), &Value::Bool(true)),
        "{status}"
    );
    assert_eq!(serving(again.port), forge::digest(&v1));
    let lines = again.stop_and_log();
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "serving the last good version from disk"),
        "{lines:?}"
    );
}

/// Slow and idle clients are cut off after `limits.read_timeout`, and no
/// more than `limits.max_connections` connections are served at once: a
/// request past the limit is answered once a slot frees. (No registry is
/// needed: the agent serves HTTP, 503 for decisions, from the start.)
#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_are_cut_off_and_connections_are_bounded() {
    let work = tempfile::tempdir().unwrap();
    write_keys(
        work.path(),
        &[
            forge::public(&forge::key(1), "console", vec![Role::Operator]),
            forge::public(&forge::key(2), "ann", vec![Role::Approver]),
        ],
    );
    let port = free_port();
    let config = write_config(
        work.path(),
        port,
        &format!("oci+http://127.0.0.1:{}/team", free_port()),
        "{keys: [keys.json]}",
        "limits: {read_timeout: 1s, max_connections: 2}\n",
    );
    let agent = AgentProcess::start(&config, port);
    let open = || {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };
    // Everything the server sends until it closes, and when it closed.
    let until_closed = |mut s: TcpStream, since: Instant| {
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        (String::from_utf8_lossy(&out).to_string(), since.elapsed())
    };
    let cut_in_time = |what: &str, took: Duration| {
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(5),
            "{what}: cut off after {took:?}, expected about 1 s"
        );
    };

    // A body that never finishes: 408 `timeout`, then the connection closes.
    let mut s = open();
    let started = Instant::now();
    s.write_all(b"POST /v1/decide HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{\"agent\"")
        .unwrap();
    let (answer, took) = until_closed(s, started);
    cut_in_time("a slow body", took);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"timeout""#), "{answer}");
    // The same for a batch's body.
    let mut s = open();
    let started = Instant::now();
    s.write_all(
        b"POST /v1/decide/batch HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{\"requests\"",
    )
    .unwrap();
    let (answer, took) = until_closed(s, started);
    cut_in_time("a slow batch body", took);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // Headers that never finish, and a connection that sends nothing: closed.
    let mut s = open();
    let started = Instant::now();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHo").unwrap();
    cut_in_time("slow headers", until_closed(s, started).1);
    let started = Instant::now();
    cut_in_time("an idle connection", until_closed(open(), started).1);
    // A kept-alive connection is served, then closed once idle.
    let mut s = open();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let (answer, took) = until_closed(s, started);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    cut_in_time("an idle kept-alive connection", took);

    // Two idle connections hold both slots: a third request is answered
    // only when the server cuts them off, about a second later.
    let (a, b) = (open(), open());
    std::thread::sleep(Duration::from_millis(200));
    let mut c = open();
    let started = Instant::now();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (answer, took) = until_closed(c, started);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(5),
        "the third connection was served after {took:?}: the limit did not hold"
    );
    drop((a, b));
    // With slots free, a request is answered at once.
    let (status, _) = http(port, "GET", "/healthz", &[], "");
    assert_eq!(status, 200);
    let lines = agent.stop_and_log();
    assert!(
        lines.iter().any(|l| l["msg"]
            .as_str()
            .is_some_and(|m| m.starts_with("connection limit reached"))
            && l["max_connections"] == 2),
        "{lines:?}"
    );
}
