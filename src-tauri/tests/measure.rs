//! The desktop app's performance figures (README, "Measured"), on the
//! release build: cold start to an interactive bundle list, idle memory,
//! the lint round trip of a 10,000-rule bundle as the editor makes it, and
//! keystrokes in that bundle's editor. Run by `cargo xtask measure`, which
//! builds the app and starts Xvfb, tauri-driver and a Secret Service; it
//! prints the figures and asserts nothing (a benchmark, not a test).

#[allow(dead_code)]
#[path = "e2e/driver.rs"]
mod driver;

use std::path::Path;
use std::time::{Duration, Instant};

use driver::App;
use serde_json::{Value, json};

const RUNS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

/// 10,000 rules in 100 agent/action groups, as YAML: per group 20
/// categories × 5 risk bands, one in 25 rules a VIP exception.
fn big_bundle() -> String {
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
    let mut out = String::from(
        "apiVersion: gavel/v1\nkind: PolicyBundle\nmetadata:\n  name: big-bundle\n  version: 1.0.0\n  default_effect: deny\nrules:\n",
    );
    for g in 0..100 {
        const NAMESPACES: [&str; 10] = [
            "inbox", "ops", "billing", "support", "deploy", "kb", "sales", "hr", "legal", "infra",
        ];
        let letters: String = [b'a' + (g / 26) as u8, b'a' + (g % 26) as u8]
            .iter()
            .map(|&b| b as char)
            .collect();
        let agent = format!("{}.agent_{letters}", NAMESPACES[g % 10]);
        let action = ACTIONS[g % ACTIONS.len()];
        for k in 0..100 {
            let (category, band) = (k % 20, k / 20);
            let effect = match k % 3 {
                0 => "allow",
                1 => "deny",
                _ => "needs_approval",
            };
            out.push_str(&format!(
                "  - id: g{g}-r{k}\n    agent: {agent}\n    action: {action}\n    effect: {effect}\n    conditions: {{category: cat{category}, \">=risk_score\": {}, \"<risk_score\": {}{}}}\n    reason: Group {g} rule {k} for category {category} in risk band {band}\n    priority: {}\n    budget: {{cost: 0.01, compute: 1, risk: low}}\n",
                band * 20,
                band * 20 + 20,
                if k % 25 == 0 { ", \"sender.vip\": true" } else { "" },
                10 + (k % 80),
            ));
        }
    }
    out
}

/// Memory of a process and of its descendants, by name: resident (RSS,
/// shared library pages counted in each process) and proportional (PSS,
/// shared pages split between their users), in MiB.
fn memory(root: u32) -> Vec<(String, f64, f64)> {
    let kib = |text: &str, key: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    let mut out = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let name = status
            .lines()
            .find_map(|l| l.strip_prefix("Name:"))
            .unwrap_or("?")
            .trim()
            .to_string();
        out.push((name, kib(&status, "VmRSS:"), kib(&rollup, "Pss:")));
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        queue.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    out
}

/// The app's process: the newest whose executable is the app binary.
fn app_pid(binary: &Path) -> Option<u32> {
    let mut found = None;
    for e in std::fs::read_dir("/proc").ok()?.filter_map(Result::ok) {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|x| x == binary) {
            found = Some(found.map_or(pid, |f: u32| f.max(pid)));
        }
    }
    found
}

fn main() {
    let binary = std::fs::canonicalize(
        std::env::var("GAVEL_DESKTOP_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_gavel-desktop").to_string()),
    )
    .expect("the app binary");
    println!("app: {}", binary.display());

    // Cold start: a new app process until the bundle list can be used.
    let mut starts = Vec::new();
    for i in 0..RUNS {
        let home = driver::home_with_examples();
        let t0 = Instant::now();
        let app = App::start_in(&format!("measure-start-{i}"), home);
        app.label("Bundle inbox-triage");
        starts.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "cold start to an interactive bundle list (WebDriver session and process start included): median {:.0} ms, runs {:?}",
        median(starts.clone()),
        starts.iter().map(|s| s.round()).collect::<Vec<_>>()
    );

    // Idle memory, and the 10,000-rule bundle in the editor.
    let app = App::start_in("measure", driver::home_with_examples());
    app.label("Bundle inbox-triage");
    std::thread::sleep(Duration::from_secs(5));
    if let Some(pid) = app_pid(&binary) {
        let procs = memory(pid);
        let rss: f64 = procs.iter().map(|(_, r, _)| r).sum();
        let pss: f64 = procs.iter().map(|(_, _, p)| p).sum();
        println!(
            "idle memory (bundle list shown, 5 s idle): RSS {rss:.0} MiB in all, PSS {pss:.0} MiB in all"
        );
        for (name, rss, pss) in &procs {
            println!("  {name}: RSS {rss:.0} MiB, PSS {pss:.0} MiB");
        }
    }
    let text = big_bundle();
    println!("10,000-rule bundle: {} bytes of YAML", text.len());
    // The first lint parses the whole document; then, as when typing, each
    // lint changes one rule (in the middle of the bundle) and the editor's
    // parse cache parses that rule again.
    let timings = app.script_async(
        "const [text, runs, done] = arguments;
         const invoke = window.__TAURI_INTERNALS__.invoke;
         (async () => {
           const trips = [], inRust = [];
           let t0 = performance.now();
           let r = await invoke('lint', {document: text, fileName: 'big.yaml'});
           const first = [performance.now() - t0, r.elapsed_ms];
           let findings = r.findings.length;
           for (let i = 0; i < runs; i++) {
             const doc = text.replace('reason: Group 50 rule 50 ', 'reason: Group 50 rule 50 edit ' + i + ' ');
             t0 = performance.now();
             r = await invoke('lint', {document: doc, fileName: 'big.yaml'});
             trips.push(performance.now() - t0);
             inRust.push(r.elapsed_ms);
             findings = r.findings.length;
           }
           done({first, trips, inRust, findings});
         })().catch(e => done({error: String(e && e.message || e)}));",
        json!([text, 15]),
    );
    let first = as_numbers(&timings["first"]);
    let trips: Vec<f64> = as_numbers(&timings["trips"]);
    let in_rust: Vec<f64> = as_numbers(&timings["inRust"]);
    assert!(
        !trips.is_empty() && first.len() == 2,
        "lint did not run: {timings}"
    );
    println!(
        "first lint of the 10,000-rule bundle (whole document parsed): round trip {:.0} ms, in Rust {:.0} ms",
        first[0], first[1]
    );
    println!(
        "lint round trip as you type in it (one rule changed, invoke → Rust lint → result in the page, 15 runs): median {:.0} ms, p90 {:.0} ms; in Rust median {:.0} ms; {} findings",
        median(trips.clone()),
        percentile(trips, 0.9),
        median(in_rust),
        timings["findings"]
    );

    // Keystrokes in the editor with the whole bundle open.
    let made = app.script_async(
        "const [text, done] = arguments;
         const invoke = window.__TAURI_INTERNALS__.invoke;
         (async () => {
           await invoke('create_identity', {name: 'Measure', email: 'measure@example.com'});
           await invoke('import_bundle', {fileName: 'big.yaml', document: text});
           done(true);
         })().catch(e => done(String(e && e.message || e)));",
        json!([text]),
    );
    assert_eq!(made, json!(true), "import: {made}");
    app.press("Refresh bundles");
    app.press("Bundle big-bundle");
    app.press("big-bundle@1.0.0");
    app.press("Open in editor");
    let content = app.find(".cm-content");
    app.click(&content);
    let mut keys = Vec::new();
    for c in "abcdefghijklmnopqrst".chars() {
        let t0 = Instant::now();
        app.type_into(&content, &c.to_string());
        keys.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "a keystroke in the 10,000-rule bundle's editor (WebDriver key event to its return, 20 keys): median {:.1} ms, max {:.1} ms",
        median(keys.clone()),
        keys.iter().copied().fold(0.0, f64::max)
    );
    app.screenshot("measure-big-bundle");
}

fn as_numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}
