//! Scorecard batches past the 16 MiB whole-file limit: JSON Lines are
//! streamed, so memory holds one scorecard and the batch summary, whatever
//! the file's size.

use std::time::Duration;

use crate::*;

/// 120,000 scorecards, one a line (about 26 MB, over the 16 MiB limit of
/// a whole file), evaluated, printed and logged within the bounds.
#[test]
fn a_jsonl_batch_over_16_mib_is_streamed_in_bounded_memory() {
    let dir = workdir();
    let n = 120_000;
    let mut text = String::with_capacity(n * 240);
    for i in 0..n {
        let x = (i % 1000) as f64 / 1000.0;
        text.push_str(&format!(
            "{{\"workflow_id\": \"wf-{i:06}\", \"alignment_status\": \"pass\", \"raroi\": {r:.3}, \"confidence\": {c:.3}, \"sandbox_roi\": {x:.3}, \"adapter_roi\": {a:.3}, \"scenario_scores\": {{\"latency\": {x:.3}, \"accuracy\": {c:.3}}}, \"forecast\": {{\"projections\": [{{\"cycle\": 1, \"roi\": {p:.3}}}], \"confidence\": {c:.3}}}, \"patch_summary\": \"batch {i}\"}}\n",
            r = 2.5 * x,
            c = 1.0 - x / 2.0,
            a = 2.0 * x,
            p = x - 0.1,
        ));
    }
    let cards = write(dir.path(), "cards.jsonl", &text);
    assert!(text.len() as u64 > 16 << 20, "{} bytes", text.len());
    drop(text);
    let policy = write(
        dir.path(),
        "policy.yaml",
        "max_variance: 0.2\nrules:\n  - decision: pilot\n    condition: \"raroi > 2 and confidence < 0.1\"\n    reason_code: odd\n",
    );
    let log = dir.path().join("log.jsonl");
    let log = log.to_str().unwrap();
    let r = run(
        dir.path(),
        &[
            "scorecard",
            "eval",
            &cards,
            "--policy",
            &policy,
            "--log",
            log,
            "--format",
            "json",
        ],
        None,
    );
    r.assert_bounded(
        "scorecard eval, 120,000-line JSONL (26 MB)",
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.iter().filter(|b| **b == b'\n').count(), n);
    let logged = std::fs::read(log).unwrap();
    assert_eq!(logged.iter().filter(|b| **b == b'\n').count(), n);
    // Streaming: far less than the input held as JSON values.
    assert!(
        r.peak_bytes < 64 << 20,
        "peak {} MB: the batch is not streamed",
        r.peak_bytes >> 20
    );
    // The text summary counts every card.
    let r = run(
        dir.path(),
        &["scorecard", "eval", &cards, "--policy", &policy, "--no-log"],
        None,
    );
    r.assert_bounded(
        "scorecard eval, same batch, text summary",
        Duration::from_secs(30),
    );
    assert!(r.stdout_text().contains(&format!("\n{n} scorecards\n")));
}
