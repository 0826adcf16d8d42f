//! The two batch paths users feel (issue 25, `BENCHMARKS.md`): `gavel sim`
//! over a 100,000-case JSON Lines file against a generated 1,000-rule
//! bundle, and `gavel scorecard eval` of 100,000 scorecards in JSON Lines
//! with the decision log (and the runs recorded in the store), and without. Each is run as a real process, five times; the
//! median wall time is printed.
//!
//! ```sh
//! cargo build --release -p gavel-cli -p gavel-bench
//! target/release/batch_paths [--gavel target/release/gavel] [--runs 5] [--keep DIR]
//! ```
//!
//! `--keep DIR` writes the inputs to DIR and leaves them there (to profile
//! one command by hand).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

type Fail = Box<dyn std::error::Error>;

/// Writes the bundle, the cases, the policy and the scorecards into `dir`.
fn inputs(dir: &Path) -> Result<(), Fail> {
    std::fs::write(dir.join("bundle.json"), gavel_bench::bundle_json(1_000, 42))?;
    let mut cases = std::io::BufWriter::new(std::fs::File::create(dir.join("cases.jsonl"))?);
    for (i, r) in gavel_bench::requests_json(1_000, 100_000, 42)
        .iter()
        .enumerate()
    {
        // `{"agent": …}` → `{"case_id":"c-i","agent": …}`
        writeln!(cases, "{{\"case_id\":\"c-{i}\",{}", &r[1..])?;
    }
    cases.flush()?;
    std::fs::write(
        dir.join("policy.json"),
        gavel_bench::governance_policy_json().to_string(),
    )?;
    let mut cards = std::io::BufWriter::new(std::fs::File::create(dir.join("cards.jsonl"))?);
    for c in gavel_bench::scorecards_json(100_000) {
        writeln!(cards, "{c}")?;
    }
    cards.flush()?;
    Ok(())
}

/// Runs `gavel args…` `runs` times (after `before` each time); the median
/// wall time.
fn median(
    gavel: &Path,
    dir: &Path,
    args: &[&str],
    runs: usize,
    before: impl Fn() -> Result<(), Fail>,
) -> Result<Duration, Fail> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        before()?;
        let started = Instant::now();
        let out = Command::new(gavel)
            .args(args)
            .current_dir(dir)
            .env("GAVEL_HOME", dir.join("home"))
            .output()?;
        times.push(started.elapsed());
        if !out.status.success() {
            return Err(format!(
                "gavel {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn main() -> Result<(), Fail> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| gavel_bench::arg(&args, name);
    let gavel = std::path::absolute(PathBuf::from(
        arg("--gavel").unwrap_or_else(|| "target/release/gavel".into()),
    ))?;
    let runs: usize = arg("--runs").and_then(|s| s.parse().ok()).unwrap_or(5);
    let temp = tempfile::tempdir()?;
    let dir = match arg("--keep") {
        Some(d) => {
            std::fs::create_dir_all(&d)?;
            PathBuf::from(d)
        }
        None => temp.path().to_path_buf(),
    };
    inputs(&dir)?;
    let sim = median(
        &gavel,
        &dir,
        &[
            "sim",
            "bundle.json",
            "--dataset",
            "cases.jsonl",
            "--format",
            "json",
        ],
        runs,
        || Ok(()),
    )?;
    let log = dir.join("decisions.jsonl");
    let cards = median(
        &gavel,
        &dir,
        &[
            "scorecard",
            "eval",
            "--policy",
            "policy.json",
            "cards.jsonl",
            "--log",
            "decisions.jsonl",
            "--format",
            "json",
        ],
        runs,
        || {
            // Each run starts from a new log and a new store, so runs
            // measure the same work.
            for gone in [
                std::fs::remove_file(&log),
                std::fs::remove_dir_all(dir.join("home")),
            ] {
                match gone {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
            }
            Ok(())
        },
    )?;
    let bare = median(
        &gavel,
        &dir,
        &[
            "scorecard",
            "eval",
            "--policy",
            "policy.json",
            "cards.jsonl",
            "--no-log",
            "--format",
            "json",
        ],
        runs,
        || Ok(()),
    )?;
    println!("| path | median of {runs} |");
    println!("|---|---|");
    println!(
        "| `gavel sim` 1,000 rules, 100,000 cases (JSON Lines) | {:.3} s |",
        sim.as_secs_f64()
    );
    println!(
        "| `gavel scorecard eval` 100,000 scorecards (JSON Lines) with the decision log | {:.3} s |",
        cards.as_secs_f64()
    );
    println!(
        "| the same with `--no-log` (no decision log, no runs recorded in the store) | {:.3} s |",
        bare.as_secs_f64()
    );
    Ok(())
}
