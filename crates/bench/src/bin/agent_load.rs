//! The agent's load benchmark (README "Measured performance"): a real
//! `gavel agent` serving the inbox-triage example from a signed rollout in
//! a directory registry, pinned to core 0, loaded by `wrk` pinned to core
//! 1; then the batch endpoint; then a new version swapped in under load,
//! counting failed requests.
//!
//! ```sh
//! cargo build --release -p gavel-cli -p gavel-bench
//! target/release/agent_load [--gavel target/release/gavel] [--seconds 10] [--connections 16] [--depth 8] [--batch 1000]
//! ```
//!
//! Needs `wrk` and `taskset` (Debian: wrk, util-linux). Not a test: it
//! prints numbers, and fails only when something breaks (a failed request
//! during the swap included).

use std::io::Read as _;
use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gavel_registry::artifact::{
    self, BUNDLE_ARTIFACT, BUNDLE_LAYER, DSSE_LAYER, ROLLOUT_ARTIFACT, SIGNATURES_ARTIFACT,
};
use gavel_registry::{Descriptor, Location, Manifest, Target};
use gavel_trust::ed25519::SigningKey;
use gavel_trust::{PayloadKind, PublicKey, Role};
use serde_json::{Value, json};

type Fail = Box<dyn std::error::Error>;

const INBOX: &str = include_str!("../../../../fixtures/bundles/inbox-triage.yaml");

fn bundle(version: &str) -> Result<Value, Fail> {
    let doc = gavel_policy::parse_document(INBOX, gavel_policy::Format::Yaml)?;
    let mut v = doc.to_json();
    v["metadata"]["version"] = version.into();
    Ok(v)
}

fn digest(b: &Value) -> Result<String, Fail> {
    Ok(gavel_trust::bundle_digest(b)?.to_string())
}

fn sign(kind: PayloadKind, statement: Value, key: &SigningKey) -> Result<Value, Fail> {
    let p = gavel_trust::stamp(kind, &statement, jiff::Timestamp::now(), 86_400)?;
    Ok(gavel_trust::sign_dsse(kind.media_type(), &p, &[key])?)
}

async fn publish(
    t: &Target,
    repo: &str,
    op: &SigningKey,
    ann: &SigningKey,
    serial: u64,
    b: &Value,
) -> Result<(), Fail> {
    let d = digest(b)?;
    let version = b["metadata"]["version"].as_str().unwrap_or("0.0.0");
    let bytes = gavel_trust::canonicalize(b)?.into_bytes();
    let m = Manifest::new(
        BUNDLE_ARTIFACT,
        vec![Descriptor::of(BUNDLE_LAYER, &bytes)],
        None,
    );
    t.push(repo, &m, &[&bytes], Some(&artifact::version_tag(version)?))
        .await?;
    let approval = sign(
        PayloadKind::Approval,
        json!({"digest": d, "base_digest": null, "version": version, "environment": "prod",
               "decision": "approve", "comment": "", "approver": "ann", "roles": ["approver"],
               "evidence": {"lint": {}, "impact": {"allow_to_deny": 0, "deny_to_allow": 0, "other": 0}}}),
        ann,
    )?
    .to_string()
    .into_bytes();
    let sigs = Manifest::new(
        SIGNATURES_ARTIFACT,
        vec![Descriptor::of(DSSE_LAYER, &approval)],
        None,
    );
    t.push(repo, &sigs, &[&approval], Some(&artifact::sig_tag(&d)?))
        .await?;
    let rollout = sign(
        PayloadKind::Rollout,
        json!({"bundle": "inbox-triage", "environment": "prod", "serial": serial,
               "stable": {"version": version, "digest": d,
                          "activated_at": gavel_trust::rfc3339(jiff::Timestamp::now())},
               "canary": null}),
        op,
    )?
    .to_string()
    .into_bytes();
    let m = Manifest::new(
        ROLLOUT_ARTIFACT,
        vec![Descriptor::of(DSSE_LAYER, &rollout)],
        None,
    );
    t.push(repo, &m, &[&rollout], Some("rollout-prod")).await?;
    Ok(())
}

fn http(port: u16, method: &str, path: &str, auth: Option<&str>) -> Result<String, Fail> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    let auth = auth
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n{auth}\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one wrk run measured.
#[derive(Debug)]
struct Run {
    requests_per_second: f64,
    p50: String,
    p99: String,
    non_2xx: u64,
    socket_errors: String,
}

fn wrk(script: &Path, url: &str, seconds: u64, connections: u32) -> Result<Run, Fail> {
    let out = Command::new("taskset")
        .args(["-c", "1", "wrk", "-t1"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .map(|l| l[prefix.len()..].trim().to_string())
    };
    let percentile = |p: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(p))
            .and_then(|l| l.split_whitespace().nth(1))
            // wrk prints 0.00us where it kept no sample (pipelined runs).
            .filter(|v| *v != "0.00us")
            .unwrap_or("n/a")
            .to_string()
    };
    Ok(Run {
        requests_per_second: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        p50: percentile("50%"),
        p99: percentile("99%"),
        non_2xx: field("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        socket_errors: field("Socket errors:").unwrap_or_else(|| "none".into()),
    })
}

const REQUEST: &str = r#"{"agent":"inbox.triage","action":"archive","subject":"user-SUBJECT","context":{"category":"newsletter","risk_score":12,"sender":{"domain":"news.example.com","vip":false}}}"#;

/// Distinct subjects of the single-decision runs.
const SUBJECTS: usize = 100_000;

fn scripts(dir: &Path, batch: usize, depth: usize) -> Result<[PathBuf; 3], Fail> {
    // 100,000 requests with distinct subjects, formatted once when wrk
    // starts (so the generator's own work per request is small) and sent
    // in turn: more than the decision cache holds, so decisions are made.
    let prelude = format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nrequests = {{}}\nfor i = 1, {SUBJECTS} do\n  requests[i] = wrk.format(nil, nil, nil, '{}')\nend\nn = 0\n",
        REQUEST.replace("SUBJECT", "' .. i .. '")
    );
    let one = dir.join("decide.lua");
    std::fs::write(
        &one,
        format!(
            "{prelude}request = function()\n  n = n % {SUBJECTS} + 1\n  return requests[n]\nend\n"
        ),
    )?;
    // The same requests, `depth` at a time in one write (HTTP/1.1
    // pipelining): what the server does when the kernel's work for a
    // round trip is shared by several requests.
    let piped = dir.join("pipelined.lua");
    std::fs::write(
        &piped,
        format!(
            "{prelude}request = function()\n  local out = {{}}\n  for j = 1, {depth} do\n    n = n % {SUBJECTS} + 1\n    out[j] = requests[n]\n  end\n  return table.concat(out)\nend\n"
        ),
    )?;
    // Sixteen batches of distinct subjects, sent in turn.
    let many = dir.join("batch.lua");
    let mut lua = String::from(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nbodies = {}\n",
    );
    for b in 0..16 {
        let items: Vec<String> = (0..batch)
            .map(|i| REQUEST.replace("SUBJECT", &format!("{b}-{i}")))
            .collect();
        lua.push_str(&format!(
            "bodies[{}] = [[{{\"requests\":[{}]}}]]\n",
            b + 1,
            items.join(",")
        ));
    }
    lua.push_str("n = 0\nrequest = function()\n  n = n % 16 + 1\n  return wrk.format(nil, nil, nil, bodies[n])\nend\n");
    std::fs::write(&many, lua)?;
    Ok([one, many, piped])
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Fail> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| gavel_bench::arg(&args, name);
    let gavel = PathBuf::from(arg("--gavel").unwrap_or_else(|| "target/release/gavel".into()));
    let seconds: u64 = arg("--seconds").and_then(|s| s.parse().ok()).unwrap_or(10);
    let batch: usize = arg("--batch").and_then(|s| s.parse().ok()).unwrap_or(1000);
    let connections: u32 = arg("--connections")
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let depth: usize = arg("--depth").and_then(|s| s.parse().ok()).unwrap_or(8);
    let dir = tempfile::tempdir()?;
    let registry = dir.path().join("registry");
    let location = Location::parse(&format!("dir:{}", registry.display()))?;
    let t = Target::open(&location, None)?;
    let repo = location.repository("inbox-triage")?;
    let (op, ann) = (
        SigningKey::from_bytes(&[1; 32]),
        SigningKey::from_bytes(&[2; 32]),
    );
    let keys = vec![
        PublicKey::new(&op.verifying_key(), "console", "", vec![Role::Operator]),
        PublicKey::new(&ann.verifying_key(), "ann", "", vec![Role::Approver]),
    ];
    std::fs::write(dir.path().join("keys.json"), serde_json::to_string(&keys)?)?;
    publish(&t, &repo, &op, &ann, 1, &bundle("1.0.0")?).await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    std::fs::write(
        dir.path().join("agent.yaml"),
        format!(
            "listen: 127.0.0.1:{port}\nregistry: {{url: 'dir:{}'}}\nbundle: inbox-triage\nenvironment: prod\npoll_interval: 1h\ntrust: {{keys: [keys.json]}}\nstate_dir: state\nadmin_token: bench\nlog_format: json\n",
            registry.display()
        ),
    )?;
    let agent = Agent(
        Command::new("taskset")
            .args(["-c", "0"])
            .arg(&gavel)
            .args(["agent", "run", "--config"])
            .arg(dir.path().join("agent.yaml"))
            .env("TOKIO_WORKER_THREADS", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("agent.log"))?)
            .spawn()?,
    );
    let started = Instant::now();
    while !http(port, "GET", "/v1/status", None).is_ok_and(|s| s.contains("\"serial\":1")) {
        if started.elapsed() > Duration::from_secs(20) {
            let log = std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default();
            return Err(format!("the agent did not load 1.0.0:\n{log}").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let [one, many, piped] = scripts(dir.path(), batch, depth)?;
    let base = format!("http://127.0.0.1:{port}");
    let single = wrk(&one, &format!("{base}/v1/decide"), seconds, connections)?;
    let batched = wrk(&many, &format!("{base}/v1/decide/batch"), seconds, 4)?;
    let pipelined = wrk(&piped, &format!("{base}/v1/decide"), seconds, connections)?;
    // A swap under load: 2.0.0 published and reloaded a third of the way in.
    let (op2, ann2, t2, b2, repo2) = (
        op.clone(),
        ann.clone(),
        t.clone(),
        bundle("2.0.0")?,
        repo.clone(),
    );
    let swap_after = Duration::from_secs(seconds / 3);
    let swapper = std::thread::spawn(move || -> Result<(), String> {
        std::thread::sleep(swap_after);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(publish(&t2, &repo2, &op2, &ann2, 2, &b2))
            .map_err(|e| e.to_string())?;
        http(port, "POST", "/v1/reload", Some("bench")).map_err(|e| e.to_string())?;
        Ok(())
    });
    let during = wrk(&one, &format!("{base}/v1/decide"), seconds, connections)?;
    swapper.join().map_err(|_| "the swap thread panicked")??;
    let status = http(port, "GET", "/v1/status", None)?;
    drop(agent);
    let swapped = status.contains("\"serial\":2");
    println!("| run | requests/s | decisions/s | p50 | p99 | failed |");
    println!("|---|---|---|---|---|---|");
    let row = |name: &str, r: &Run, per: usize| {
        println!(
            "| {name} | {:.0} | {:.0} | {} | {} | {} non-2xx, socket errors: {} |",
            r.requests_per_second,
            r.requests_per_second * per as f64,
            r.p50,
            r.p99,
            r.non_2xx,
            r.socket_errors
        );
    };
    row(
        &format!("POST /v1/decide, {connections} connections"),
        &single,
        1,
    );
    row(
        &format!("POST /v1/decide/batch ({batch} a batch), 4 connections"),
        &batched,
        batch,
    );
    row(
        &format!("POST /v1/decide pipelined {depth} deep, {connections} connections"),
        &pipelined,
        1,
    );
    row("/v1/decide while 2.0.0 is swapped in", &during, 1);
    println!("swapped to serial 2 during the run: {swapped}");
    if !swapped || during.non_2xx > 0 || during.socket_errors != "none" {
        return Err("the swap under load failed requests or did not happen".into());
    }
    Ok(())
}
