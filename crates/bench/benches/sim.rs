//! 1,000,000 synthetic cases over a 1,000-rule bundle on all cores:
//! generation, evaluation (deciding every case) and the full report
//! (per-case rows, examples, hits) measured apart.

use criterion::{Criterion, criterion_group, criterion_main};
use gavel_bench::bundle_json;
use gavel_policy::sim::{SimConfig, decide_all, report, synthetic_cases};
use gavel_policy::{Engine, Format, parse_bundle};

fn sim_bench(c: &mut Criterion) {
    let bundle = parse_bundle(&bundle_json(1_000, 42), Format::Json).expect("valid");
    let engine = Engine::compile(&bundle);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let t = std::time::Instant::now();
    let cases = synthetic_cases(&bundle, 1_000_000, 1337);
    eprintln!(
        "generated {} cases in {:?} ({threads} threads available)",
        cases.len(),
        t.elapsed()
    );
    let config = SimConfig {
        threads,
        progress: None,
    };
    let t = std::time::Instant::now();
    let results = decide_all(&engine, &cases, &config);
    let elapsed = t.elapsed();
    eprintln!(
        "evaluated once: {:?}, {:.0} decisions/s",
        elapsed,
        results.len() as f64 / elapsed.as_secs_f64()
    );
    let mut group = c.benchmark_group("sim");
    group.sample_size(10);
    group.bench_function("generate_1m", |b| {
        b.iter(|| synthetic_cases(&bundle, 1_000_000, 1337))
    });
    group.bench_function("evaluate_1m_cases_1000_rules", |b| {
        b.iter(|| decide_all(&engine, &cases, &config))
    });
    group.bench_function("report_1m", |b| {
        b.iter(|| report(&engine, &cases, &results))
    });
    group.finish();
}

criterion_group!(benches, sim_bench);
criterion_main!(benches);
