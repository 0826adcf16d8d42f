//! `decide` on generated bundles of 10, 100, 1,000 and 10,000 rules.
//! Requests are decoded before timing: this measures the decision alone.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gavel_bench::{bundle_json, requests_json};
use gavel_policy::{Engine, Format, Request, parse_bundle};

fn decide(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    for rules in [10usize, 100, 1_000, 10_000] {
        let bundle =
            parse_bundle(&bundle_json(rules, 42), Format::Json).expect("generated bundle is valid");
        let engine = Engine::compile(&bundle);
        let texts = requests_json(rules, 1024, 7);
        let requests: Vec<Request<'_>> = texts
            .iter()
            .map(|t| serde_json::from_str(t).expect("generated request is valid"))
            .collect();
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(
            BenchmarkId::from_parameter(rules),
            &requests,
            |b, requests| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % requests.len();
                    let d = engine.decide(std::hint::black_box(&requests[i]));
                    std::hint::black_box(d.effect)
                });
            },
        );
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    // For context: decoding a request costs more than deciding it.
    let texts = requests_json(1_000, 1024, 7);
    c.bench_function("decode_request", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % texts.len();
            let r: Request<'_> =
                serde_json::from_str(std::hint::black_box(&texts[i])).expect("valid");
            std::hint::black_box(r.agent.len())
        });
    });
}

criterion_group!(benches, decide, decode);
criterion_main!(benches);
