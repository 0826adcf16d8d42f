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
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
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
    let (status, _) = http(
        port,
        "POST",
        "/v1/decide",
        &[],
        &format!("{{\"agent\": \"{}\"}}", "a".repeat(70_000)),
    );
    assert_eq!(status, 413);
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

    let (_, status) = json(port, "GET", "/v1/status", "");
    assert_eq!(status["serial"], 1, "{status}");
    assert_eq!(status["bundle"], "inbox-triage");
    assert_eq!(status["stale"], false);
    assert_eq!(status["loaded"][0]["role"], "stable");
    assert_eq!(status["loaded"][0]["digest"], digest.as_str());
    assert_eq!(status["loaded"][0]["counters"]["decisions"], 3);
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
