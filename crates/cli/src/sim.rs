//! `gavel sim`, `gavel sim compare`, `gavel sim replay` and `gavel test`.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gavel_policy::Bundle;
use gavel_policy::sim::{
    self, Case, CaseFormat, Comparison, Replay, SimConfig, Simulation, Summary, fixture_cases,
    parse_cases, parse_decision_log, synthetic_cases,
};

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::{load_bundle, read_text};

/// Where cases come from.
#[derive(Debug, Clone, clap::Args)]
pub struct DatasetArgs {
    /// `fixtures` (the nine curated cases), `synthetic`, or a file (JSON array, JSONL or CSV).
    #[arg(long, default_value = "fixtures")]
    pub dataset: String,
    /// Synthetic cases to generate.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Seed of the synthetic generator: the same seed gives the same cases everywhere.
    #[arg(long, default_value_t = 1337)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

fn threads(requested: Option<usize>) -> usize {
    requested
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
        .max(1)
}

/// Reads a case file, or makes the named dataset for `bundles`.
fn cases(args: &DatasetArgs, bundles: &[&Bundle]) -> Result<Vec<Case>, Failure> {
    match args.dataset.as_str() {
        "fixtures" => Ok(fixture_cases()),
        "synthetic" => {
            let per = args.count.div_ceil(bundles.len().max(1));
            let mut out = Vec::with_capacity(args.count);
            for (i, b) in bundles.iter().enumerate() {
                let n = per.min(args.count - out.len());
                let mut cases = synthetic_cases(b, n, args.seed.wrapping_add(i as u64));
                if i > 0 {
                    for c in &mut cases {
                        c.case_id = format!("{}-b{}", c.case_id, i + 1);
                    }
                }
                out.extend(cases);
            }
            Ok(out)
        }
        file => read_cases(file),
    }
}

fn read_cases(file: &str) -> Result<Vec<Case>, Failure> {
    let text = read_text(file)?;
    parse_cases(&text, CaseFormat::detect(file, &text)).map_err(|e| {
        let mut f = Failure::new("invalid_cases", format!("invalid case file: {}", e.message))
            .in_file(file);
        f.source = Some(text.clone());
        if let Some(d) = f.diagnostics.first_mut() {
            d.line = e.line.and_then(|l| u32::try_from(l).ok());
            d.column = e.column.and_then(|c| u32::try_from(c).ok());
        }
        f
    })
}

/// A progress bar on standard error, drawn only on a terminal and only for
/// runs long enough to need one.
struct Progress {
    total: usize,
    started: Instant,
    last: Mutex<Instant>,
}

impl Progress {
    fn new(total: usize) -> Option<Progress> {
        (total >= 50_000 && std::io::stderr().is_terminal()).then(|| Progress {
            total,
            started: Instant::now(),
            last: Mutex::new(Instant::now()),
        })
    }

    fn tick(&self, done: usize) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.elapsed() < Duration::from_millis(100) && done < self.total {
            return;
        }
        *last = Instant::now();
        let width = 30;
        let filled = (done.min(self.total) * width) / self.total.max(1);
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        eprint!(
            "\r[{}{}] {done}/{} cases, {:.0}/s",
            "#".repeat(filled),
            " ".repeat(width - filled),
            self.total,
            rate
        );
        if done >= self.total {
            eprintln!();
        }
        let _ = std::io::stderr().flush();
    }
}

fn config<'p>(threads: usize, progress: Option<&'p (dyn Fn(usize) + Sync)>) -> SimConfig<'p> {
    SimConfig { threads, progress }
}

/// `gavel sim BUNDLE`: 0 done, 2 bad input.
pub fn run(bundle: &str, args: &DatasetArgs, format: OutputFormat) -> Result<ExitCode, Failure> {
    let b = load_bundle(bundle)?;
    let cases = cases(args, &[&b])?;
    let bar = Progress::new(cases.len());
    let tick = |n: usize| {
        if let Some(p) = &bar {
            p.tick(n);
        }
    };
    let sim = sim::simulate(&b, &cases, &config(threads(args.threads), Some(&tick)));
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string(&sim).unwrap_or_default()),
        _ => print!("{}", text(&sim, &args.dataset)),
    }
    Ok(ExitCode::SUCCESS)
}

fn summary_lines(out: &mut String, s: &Summary) {
    let pct = |r: f64| format!("{:.1}%", r * 100.0);
    let _ = writeln!(
        out,
        "  allow            {:>8}  {:>6}",
        s.allow_count,
        pct(s.allow_rate)
    );
    let _ = writeln!(
        out,
        "  deny             {:>8}  {:>6}",
        s.deny_count,
        pct(s.deny_rate)
    );
    let _ = writeln!(
        out,
        "  needs_approval   {:>8}  {:>6}",
        s.approval_count,
        pct(s.approval_rate)
    );
    let _ = writeln!(
        out,
        "  no match         {:>8}  {:>6}",
        s.no_match_count,
        pct(s.no_match_rate)
    );
    let _ = writeln!(out, "  with errors      {:>8}", s.error_count);
    let _ = writeln!(
        out,
        "  estimated cost   ${:.2}, compute {} units (approvals only)",
        s.estimated_cost, s.estimated_compute
    );
    if s.breaches.is_empty() {
        let _ = writeln!(out, "  breaches         none");
    }
    for b in &s.breaches {
        let _ = writeln!(out, "  BREACH           {b}");
    }
}

fn text(sim: &Simulation, dataset: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} cases ({dataset})", sim.summary.total_cases);
    summary_lines(&mut out, &sim.summary);
    if !sim.examples.is_empty() {
        let _ = writeln!(out, "examples:");
        for e in &sim.examples {
            let by = e
                .matched_rule
                .as_deref()
                .map_or("no rule matched".to_string(), |r| format!("rule `{r}`"));
            let _ = writeln!(out, "  {:<15} {}  ({by})", e.effect.as_str(), e.case_id);
        }
    }
    let _ = writeln!(out, "rule hits:");
    for (id, n) in &sim.rule_hits.0 {
        let _ = writeln!(out, "  {n:>8}  {id}");
    }
    let expected = sim.results.iter().filter(|r| r.passed.is_some()).count();
    if expected > 0 {
        let _ = writeln!(
            out,
            "expectations: {} met, {} not met",
            expected - sim.failures.len(),
            sim.failures.len()
        );
        for f in &sim.failures {
            let _ = writeln!(
                out,
                "  {}: expected {}, got {}",
                f.case_id, f.expected, f.actual
            );
        }
    }
    out
}

/// `gavel sim compare OLD NEW`: 0 done, 2 bad input.
pub fn compare(
    old: &str,
    new: &str,
    args: &DatasetArgs,
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let (a, b) = (load_bundle(old)?, load_bundle(new)?);
    let cases = cases(args, &[&a, &b])?;
    let c = sim::compare(&a, &b, &cases, &config(threads(args.threads), None));
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string(&c).unwrap_or_default()),
        _ => print!("{}", compare_text(&c, old, new)),
    }
    Ok(ExitCode::SUCCESS)
}

fn compare_text(c: &Comparison, old: &str, new: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "A: {old}");
    summary_lines(&mut out, &c.summary_a);
    let _ = writeln!(out, "B: {new}");
    summary_lines(&mut out, &c.summary_b);
    let d = &c.deltas;
    let _ = writeln!(
        out,
        "deltas (B - A): allow {:+.3}, deny {:+.3}, approval {:+.3}, no match {:+.3}, cost {:+.2}",
        d.allow_rate, d.deny_rate, d.approval_rate, d.no_match_rate, d.cost
    );
    changes_text(&mut out, &c.changes, c.total_changes, &c.transitions);
    out
}

fn changes_text(
    out: &mut String,
    changes: &[sim::Change],
    total: usize,
    transitions: &std::collections::BTreeMap<String, usize>,
) {
    let _ = writeln!(
        out,
        "{total} case{} changed",
        if total == 1 { "" } else { "s" }
    );
    for (t, n) in transitions {
        let _ = writeln!(out, "  {t}: {n}");
    }
    for c in changes.iter().take(50) {
        let rule = |r: &Option<String>| {
            r.as_deref()
                .map_or("no rule".to_string(), |r| format!("`{r}`"))
        };
        let _ = writeln!(
            out,
            "  {}: {} ({}) -> {} ({})",
            c.case_id,
            c.before,
            rule(&c.before_rule),
            c.after,
            rule(&c.after_rule)
        );
    }
    if changes.len() > 50 {
        let _ = writeln!(
            out,
            "  … and {} more (use --format json for all)",
            changes.len() - 50
        );
    }
}

/// `gavel sim replay BUNDLE LOG`: 0 done, 2 bad input.
pub fn replay(
    bundle: &str,
    log: &str,
    threads_arg: Option<usize>,
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let b = load_bundle(bundle)?;
    let text = read_text(log)?;
    let decisions = parse_decision_log(&text).map_err(|e| {
        let mut f = Failure::new(
            "invalid_log",
            format!("invalid decision log: {}", e.message),
        )
        .in_file(log);
        if let Some(d) = f.diagnostics.first_mut() {
            d.line = e.line.and_then(|l| u32::try_from(l).ok());
            d.column = e.column.and_then(|c| u32::try_from(c).ok());
        }
        f
    })?;
    let r: Replay = sim::replay(&b, &decisions, &config(threads(threads_arg), None));
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string(&r).unwrap_or_default()),
        _ => {
            let mut out = String::new();
            let _ = writeln!(
                out,
                "replayed {} decisions against {bundle}",
                r.total_decisions
            );
            summary_lines(&mut out, &r.summary);
            changes_text(&mut out, &r.changes, r.total_changes, &r.transitions);
            print!("{out}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `gavel test BUNDLE CASES…`: 0 every case as expected, 1 any mismatch,
/// 2 bad input (including a file without a single expectation).
pub fn test(bundle: &str, files: &[String], format: OutputFormat) -> Result<ExitCode, Failure> {
    let b = load_bundle(bundle)?;
    let mut total = 0;
    let mut failures = Vec::new();
    for file in files {
        let cases = read_cases(file)?;
        let tests = cases
            .iter()
            .filter(|c| c.expected_effect.is_some() || c.expected_rule.is_some())
            .count();
        if tests == 0 {
            return Err(Failure::new(
                "invalid_cases",
                "no case has `expected_effect` or `expected_rule`, so nothing is tested; add expectations",
            )
            .in_file(file));
        }
        total += tests;
        let sim = sim::simulate(&b, &cases, &SimConfig::default());
        failures.extend(sim.failures.into_iter().map(|f| (file.clone(), f)));
    }
    match format {
        OutputFormat::Json => {
            let list: Vec<serde_json::Value> = failures
                .iter()
                .map(|(file, f)| {
                    let mut v = serde_json::to_value(f).unwrap_or_default();
                    v["file"] = file.clone().into();
                    v
                })
                .collect();
            let out = serde_json::json!({
                "passed": failures.is_empty(),
                "total": total,
                "failed": failures.len(),
                "failures": list,
            });
            println!("{out}");
        }
        _ => {
            for (file, f) in &failures {
                let rule = |r: &Option<String>| {
                    r.as_deref()
                        .map_or("no rule".to_string(), |r| format!("rule `{r}`"))
                };
                let expected = match &f.expected_rule {
                    Some(r) => format!("{} by {}", f.expected, rule(r)),
                    None => f.expected.to_string(),
                };
                println!(
                    "FAIL {file}: {}: expected {expected}, got {} by {}",
                    f.case_id,
                    f.actual,
                    rule(&f.actual_rule)
                );
            }
            println!(
                "{bundle}: {} passed, {} failed",
                total - failures.len(),
                failures.len()
            );
        }
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
