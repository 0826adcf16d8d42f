//! `lint` of generated 10,000-rule bundles in 100 agent/action groups (a
//! structured one shaped like a maintained policy, and a random one where
//! most rules overlap), and `diff` of two 10,000-rule versions. Parsing is
//! measured apart.

use criterion::{Criterion, criterion_group, criterion_main};
use gavel_bench::{edited_json, grouped_bundle_json, structured_bundle_json};
use gavel_policy::{Format, LintConfig, diff, lint, parse_bundle, parse_document};

fn lint_bench(c: &mut Criterion) {
    let config = LintConfig::default();
    let mut group = c.benchmark_group("lint");
    group.sample_size(20);
    for (name, text) in [
        ("structured_10000", structured_bundle_json(10_000)),
        ("random_10000", grouped_bundle_json(10_000, 42)),
    ] {
        let doc = parse_document(&text, Format::Json).expect("generated bundle parses");
        let report = lint(&doc, &config);
        eprintln!(
            "lint {name}: {} findings, {} rules left unanalysed",
            report.summary.total_issues, report.summary.analysis_incomplete
        );
        group.bench_function(format!("parse_{name}"), |b| {
            b.iter(|| parse_document(std::hint::black_box(&text), Format::Json))
        });
        group.bench_function(format!("lint_{name}"), |b| {
            b.iter(|| lint(std::hint::black_box(&doc), &config))
        });
    }
    group.finish();
}

fn diff_bench(c: &mut Criterion) {
    let old_text = grouped_bundle_json(10_000, 42);
    let new_text = edited_json(&old_text);
    let old = parse_bundle(&old_text, Format::Json).expect("valid");
    let new = parse_bundle(&new_text, Format::Json).expect("valid");
    let d = diff(&old, &new);
    eprintln!(
        "diff: {} added, {} removed, {} modified, {} unchanged, class {}",
        d.added.len(),
        d.removed.len(),
        d.modified.len(),
        d.unchanged,
        d.class
    );
    let mut group = c.benchmark_group("diff");
    group.sample_size(20);
    group.bench_function("diff_10000", |b| {
        b.iter(|| diff(std::hint::black_box(&old), &new))
    });
    group.finish();
}

criterion_group!(benches, lint_bench, diff_bench);
criterion_main!(benches);
