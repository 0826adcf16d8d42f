//! The peer benchmark: Gavel, Cedar and regorus on generated bundles of
//! 100, 1,000 and 10,000 rules and 10,000 shared requests. It first checks
//! that every engine gives the same effect on every request at every size
//! (and stops on a disagreement), then times each engine on prepared
//! requests and from request JSON text, and prints a markdown table.
//!
//! Run pinned to one core (BENCHMARKS.md):
//! `taskset -c 0 cargo run --release -p gavel-bench-peers --bin peers`
//!
//! Options: `--sizes 100,1000` (default all three), `--budget SECONDS`
//! (the longest one engine is timed at one size in one mode; default 8),
//! `--engines gavel,cedar` (time only these and the floor; all are still
//! checked for agreement).

use std::time::{Duration, Instant};

// The allocator the `gavel` binary (the CLI and the agent) runs with, from
// its own source: requests read from JSON allocate their context, so the
// "from JSON" figures are those of the process that serves them. Cedar and
// regorus, in the same process, allocate through it too.
#[path = "../../../cli/src/alloc.rs"]
mod alloc;

#[global_allocator]
static ALLOCATOR: alloc::Mimalloc = alloc::Mimalloc;

use anyhow::{Context as _, bail};
use gavel_bench_peers::agree::{Engines, Scope, check};
use gavel_bench_peers::floor::Floor;
use gavel_bench_peers::measure::{Stats, human, measure};
use gavel_bench_peers::{BUNDLE_SEED, BundleSpec, Peer, REQUEST_SEED, REQUESTS, SIZES, requests};

/// The value after `name` on the command line.
fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// One row of the table.
struct Row {
    engine: &'static str,
    rules: usize,
    prepared: Stats,
    json: Option<Stats>,
}

fn time_peer<P: Peer>(
    engine: &'static str,
    peer: &mut P,
    rules: usize,
    texts: &[String],
    budget: Duration,
) -> anyhow::Result<Row> {
    let prepared: Vec<P::Prepared> = texts
        .iter()
        .map(|t| peer.prepare(t))
        .collect::<anyhow::Result<_>>()?;
    let p = measure(texts.len(), budget, |i| peer.decide(&prepared[i]))
        .with_context(|| format!("{engine} prepared"))?;
    eprintln!("  {engine:<19} prepared  {}", describe(&p));
    let j = measure(texts.len(), budget, |i| peer.decide_json(&texts[i]))
        .with_context(|| format!("{engine} json"))?;
    eprintln!("  {engine:<19} json      {}", describe(&j));
    Ok(Row {
        engine,
        rules,
        prepared: p,
        json: Some(j),
    })
}

fn describe(s: &Stats) -> String {
    format!(
        "median {} p99 {} stream mean {} ({} requests x {} passes, {} reps a sample)",
        human(s.median_ns),
        human(s.p99_ns),
        human(s.stream_mean_ns),
        s.requests,
        s.passes,
        s.reps
    )
}

/// The CPUs this process may run on, as the kernel lists them.
fn allowed_cpus() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = match arg(&args, "--sizes") {
        Some(list) => list
            .split(',')
            .map(|s| s.trim().parse().with_context(|| format!("size `{s}`")))
            .collect::<anyhow::Result<_>>()?,
        None => SIZES.to_vec(),
    };
    let budget = Duration::from_secs_f64(match arg(&args, "--budget") {
        Some(s) => s.parse().with_context(|| format!("budget `{s}`"))?,
        None => 8.0,
    });
    // `--engines gavel,cedar`: time only these (and the floor); every
    // engine is still checked for agreement.
    let only: Option<Vec<String>> =
        arg(&args, "--engines").map(|l| l.split(',').map(|e| e.trim().to_string()).collect());
    const ENGINES: [&str; 6] = [
        "gavel",
        "cedar",
        "regorus",
        "regorus-rvm",
        "regorus-indexed",
        "regorus-indexed-rvm",
    ];
    if let Some(unknown) = only
        .iter()
        .flatten()
        .find(|e| !ENGINES.contains(&e.as_str()))
    {
        bail!(
            "--engines: no engine `{unknown}`; the engines are {}",
            ENGINES.join(", ")
        );
    }
    let timed = |engine: &str| only.as_ref().is_none_or(|o| o.iter().any(|e| e == engine));
    let cpus = allowed_cpus();
    eprintln!("allowed CPUs: {cpus}");
    if cpus.contains(',') || cpus.contains('-') {
        eprintln!("warning: not pinned to one core; run under `taskset -c 0`");
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with `--release`");
    }

    let shared = requests(REQUESTS, REQUEST_SEED);
    let texts: Vec<String> = shared.iter().map(|r| r.json()).collect();

    // Agreement first, at every size: a table of engines that disagree
    // would compare different work.
    let mut specs = Vec::new();
    for &rules in &sizes {
        let spec = BundleSpec::generate(rules, BUNDLE_SEED);
        let translations = spec.translations();
        let start = Instant::now();
        let scope = if rules > 1_000 {
            Scope {
                peers: 2_000,
                peers_json: 500,
            }
        } else {
            Scope {
                peers: REQUESTS,
                peers_json: 1_000,
            }
        };
        let report = check(&spec, &translations, &shared, scope)?;
        eprintln!(
            "{rules} rules: all engines agree (Gavel on {} requests prepared and from JSON, \
             the peers on the first {} prepared and the first {} from JSON; \
             {} allow, {} deny, {} needs_approval; Gavel tries {:.1} rules a request) in {:.1} s",
            report.checked,
            scope.peers.min(report.checked),
            scope.peers_json.min(report.checked),
            report.effects[0],
            report.effects[1],
            report.effects[2],
            report.examined_mean,
            start.elapsed().as_secs_f64()
        );
        if let Some(first) = report.disagreements.first() {
            bail!(
                "{rules} rules: {} requests decided differently, first: {first}",
                report.disagreements.len()
            );
        }
        specs.push((rules, spec, translations));
    }

    let mut rows = Vec::new();
    let mut refused = Vec::new();
    for (rules, spec, translations) in &specs {
        let rules = *rules;
        eprintln!("timing at {rules} rules");
        let floor = Floor::new(spec);
        let prepared: Vec<_> = texts
            .iter()
            .map(|t| floor.prepare(t))
            .collect::<anyhow::Result<_>>()?;
        let stats = measure(texts.len(), budget, |i| Ok(floor.decide(&prepared[i])))?;
        eprintln!("  {:<19} prepared  {}", "floor", describe(&stats));
        rows.push(Row {
            engine: "floor",
            rules,
            prepared: stats,
            json: None,
        });
        let mut engines = Engines::new(translations)?;
        if timed("gavel") {
            rows.push(time_peer(
                "gavel",
                &mut engines.gavel,
                rules,
                &texts,
                budget,
            )?);
        }
        if timed("cedar") {
            rows.push(time_peer(
                "cedar",
                &mut engines.cedar,
                rules,
                &texts,
                budget,
            )?);
        }
        if timed("regorus") {
            rows.push(time_peer(
                "regorus",
                &mut engines.regorus,
                rules,
                &texts,
                budget,
            )?);
        }
        match &mut engines.rvm {
            Ok(_) if !timed("regorus-rvm") => {}
            Ok(rvm) => rows.push(time_peer("regorus-rvm", rvm, rules, &texts, budget)?),
            Err(e) => {
                eprintln!("  regorus-rvm         refused: {e}");
                refused.push(format!("regorus-rvm at {rules} rules: {e}"));
            }
        }
        if timed("regorus-indexed") {
            rows.push(time_peer(
                "regorus-indexed",
                &mut engines.regorus_indexed,
                rules,
                &texts,
                budget,
            )?);
        }
        if timed("regorus-indexed-rvm") {
            rows.push(time_peer(
                "regorus-indexed-rvm",
                &mut engines.rvm_indexed,
                rules,
                &texts,
                budget,
            )?);
        }
    }

    println!(
        "| engine | rules | prepared median | prepared p99 | JSON median | JSON p99 | prepared stream mean | requests timed |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let (jm, jp, jn) = match &r.json {
            Some(j) => (
                human(j.median_ns),
                human(j.p99_ns),
                format!(" / {}", j.requests),
            ),
            None => ("–".to_string(), "–".to_string(), String::new()),
        };
        println!(
            "| {} | {} | {} | {} | {jm} | {jp} | {} | {}{jn} |",
            r.engine,
            r.rules,
            human(r.prepared.median_ns),
            human(r.prepared.p99_ns),
            human(r.prepared.stream_mean_ns),
            r.prepared.requests,
        );
    }

    for r in &refused {
        println!("\nNot timed: {r}");
    }

    println!();
    println!("| rules | engine | prepared median ÷ Gavel's | JSON median ÷ Gavel's |");
    println!("|---:|---|---:|---:|");
    for &(rules, _, _) in &specs {
        let Some(gavel) = rows
            .iter()
            .find(|r| r.rules == rules && r.engine == "gavel")
        else {
            continue;
        };
        for r in rows
            .iter()
            .filter(|r| r.rules == rules && r.engine != "gavel")
        {
            let json = match (&r.json, &gavel.json) {
                (Some(j), Some(g)) => format!("{:.0}×", j.median_ns / g.median_ns),
                _ => "–".to_string(),
            };
            println!(
                "| {rules} | {} | {} | {json} |",
                r.engine,
                ratio(r.prepared.median_ns / gavel.prepared.median_ns)
            );
        }
    }
    Ok(())
}

/// A ratio written with the precision it deserves.
fn ratio(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2}×")
    } else {
        format!("{x:.0}×")
    }
}
