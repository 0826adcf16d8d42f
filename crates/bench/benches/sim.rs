//! 1,000,000 synthetic cases over a 1,000-rule bundle on all cores:
//! generation, evaluation (deciding every case) and the streamed run
//! (deciding a chunk at a time, summing, the examples and hits, and a result
//! row for every case, as `gavel sim` does) measured apart.

use criterion::{Criterion, criterion_group, criterion_main};
use gavel_bench::bundle_json;
use gavel_policy::sim::{
    Case, ResultRow, SimConfig, SimRun, SyntheticCases, decide_all, synthetic_cases,
};
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
        b.iter(|| {
            SyntheticCases::new(&bundle, 1337)
                .take(1_000_000)
                .map(|c| c.case_id.len())
                .sum::<usize>()
        })
    });
    group.bench_function("evaluate_1m_cases_1000_rules", |b| {
        b.iter(|| decide_all(&engine, &cases, &config))
    });
    group.bench_function("stream_1m", |b| {
        b.iter_batched(
            || cases.clone(),
            |cases| {
                let mut run = SimRun::new(&engine, config);
                let mut rows = 0usize;
                let mut sink = |_: &Case, row: &ResultRow<'_>| -> Result<(), ()> {
                    rows += usize::from(row.no_match);
                    Ok(())
                };
                for case in cases {
                    run.push(case, &mut sink).ok();
                }
                (run.finish(&mut sink).ok(), rows)
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, sim_bench);
criterion_main!(benches);
