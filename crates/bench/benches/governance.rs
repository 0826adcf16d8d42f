//! 100,000 scorecards read (every field's type checked) and evaluated
//! against a 20-rule policy, on one core.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gavel_bench::Rng;
use gavel_governance::{OverrideInput, Policy, Scorecard, evaluate};
use serde_json::{Value, json};

fn policy() -> Policy {
    let mut rules = Vec::new();
    for i in 0..20 {
        let t = 0.5 + f64::from(i) * 0.05;
        let decision = ["no_go", "pilot", "demote"][i as usize % 3];
        rules.push(json!({
            "decision": decision,
            "condition": format!("raroi < {t:.2} and confidence > 0.{} or sandbox_roi is not None and sandbox_roi < {:.2} and adapter_roi > 3", 5 + i % 4, 0.01 * f64::from(i)),
            "reason_code": format!("rule_{i}"),
        }));
    }
    Policy::from_json(
        &json!({"max_variance": 0.2, "scenario_thresholds": {"latency": 0.3}, "rules": rules}),
    )
    .expect("valid policy")
}

fn scorecards(n: usize) -> Vec<Value> {
    let mut rng = Rng::new(7);
    let mut f = |scale: f64| (rng.below(10_000) as f64) / 10_000.0 * scale;
    (0..n)
        .map(|i| {
            json!({
                "workflow_id": format!("wf-{i}"),
                "alignment_status": "pass",
                "raroi": f(2.5),
                "confidence": f(1.0),
                "sandbox_roi": f(1.0),
                "adapter_roi": f(2.0),
                "scenario_scores": {"latency": f(1.0), "accuracy": f(1.0)},
            })
        })
        .collect()
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
