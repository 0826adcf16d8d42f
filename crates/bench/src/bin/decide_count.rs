//! Decisions in a loop, for instruction counts under callgrind
//! (`valgrind --tool=callgrind --toggle-collect='*decide_loop*'`), which
//! repeat exactly where wall-clock times on a shared machine do not.
//!
//! `decide_count [--rules N] [--rounds R] [--json] [--bundle F --requests F]`:
//! decides the 1,024 generated requests R times on a bundle of N rules
//! (default 1,000 and 100), or the given bundle and JSON Lines requests;
//! with `--json`, each decision starts from the request's JSON text.

use gavel_bench::{arg, bundle_json, requests_json};
use gavel_policy::{Engine, Format, Request, parse_bundle};

#[inline(never)]
fn decide_loop(engine: &Engine, requests: &[Request<'_>], rounds: usize) -> usize {
    let mut allowed = 0;
    for _ in 0..rounds {
        for r in requests {
            let d = engine.decide(std::hint::black_box(r));
            allowed += usize::from(d.effect == gavel_policy::Effect::Allow);
        }
    }
    allowed
}

#[inline(never)]
fn decide_json_loop(engine: &Engine, texts: &[String], rounds: usize) -> usize {
    let mut allowed = 0;
    for _ in 0..rounds {
        for t in texts {
            let r = Request::from_json(std::hint::black_box(t)).expect("valid");
            let d = engine.decide(&r);
            allowed += usize::from(d.effect == gavel_policy::Effect::Allow);
        }
    }
    allowed
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rules: usize = arg(&args, "--rules")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let rounds: usize = arg(&args, "--rounds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let json = args.iter().any(|a| a == "--json");
    // `--bundle FILE --requests FILE` (JSON, JSON Lines): another workload,
    // such as the peer benchmark's (`cargo run -p gavel-bench-peers --bin dump`).
    let (bundle_text, texts) = match (arg(&args, "--bundle"), arg(&args, "--requests")) {
        (Some(b), Some(r)) => (
            std::fs::read_to_string(b).expect("bundle file"),
            std::fs::read_to_string(r)
                .expect("requests file")
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect(),
        ),
        _ => (bundle_json(rules, 42), requests_json(rules, 1024, 7)),
    };
    let bundle = parse_bundle(&bundle_text, Format::Json).expect("valid bundle");
    let engine = Engine::compile(&bundle);
    if args.iter().any(|a| a == "--stats") {
        // How many rules a decision tries, on average (to compare bundles).
        let mut tried = 0;
        for t in &texts {
            let r: Request<'_> = serde_json::from_str(t).expect("generated request");
            tried += engine.explain(&r).steps.len();
        }
        println!(
            "{:.1} rules tried a decision",
            tried as f64 / texts.len() as f64
        );
    }
    let start = std::time::Instant::now();
    let allowed = if json {
        decide_json_loop(&engine, &texts, rounds)
    } else {
        let requests: Vec<Request<'_>> = texts
            .iter()
            .map(|t| serde_json::from_str(t).expect("generated request"))
            .collect();
        decide_loop(&engine, &requests, rounds)
    };
    let n = texts.len() * rounds;
    println!(
        "{n} decisions ({allowed} allowed), {:.1} ns each",
        start.elapsed().as_nanos() as f64 / n as f64
    );
}
