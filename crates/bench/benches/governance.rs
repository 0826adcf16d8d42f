//! 100,000 scorecards read (every field's type checked) and evaluated
//! against a 20-rule policy, on one core.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gavel_governance::{OverrideInput, Policy, Scorecard, evaluate};
use serde_json::Value;

fn policy() -> Policy {
    Policy::from_json(&gavel_bench::governance_policy_json()).expect("valid policy")
}

fn scorecards(n: usize) -> Vec<Value> {
    gavel_bench::scorecards_json(n)
}

fn bench(c: &mut Criterion) {
    let p = policy();
    let cards = scorecards(100_000);
    let none = OverrideInput::default();
    let mut group = c.benchmark_group("governance");
    group.sample_size(10);
    group.throughput(Throughput::Elements(cards.len() as u64));
    group.bench_function("evaluate_100k_scorecards_20_rules", |b| {
        b.iter(|| {
            cards
                .iter()
                .map(|card| {
                    let card = Scorecard::from_json(card).expect("well-typed scorecard");
                    evaluate(&card, &p, &none).reason_codes.len()
                })
                .sum::<usize>()
        })
    });
    let read: Vec<Scorecard<'_>> = cards
        .iter()
        .map(|c| Scorecard::from_json(c).expect("well-typed scorecard"))
        .collect();
    group.bench_function("evaluate_100k_read_scorecards_20_rules", |b| {
        b.iter(|| {
            read.iter()
                .map(|card| evaluate(card, &p, &none).reason_codes.len())
                .sum::<usize>()
        })
    });
    group.bench_function("read_100k_scorecards", |b| {
        b.iter(|| {
            cards
                .iter()
                .map(|card| {
                    Scorecard::from_json(card)
                        .map_or(0, |c| c.scenario_scores.map_or(0, |s| s.len()))
                })
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
