//! The simulator at scale: millions of synthetic cases and datasets well
//! over the 16 MiB limit of whole files, each in memory that does not grow
//! with the number of cases (DESIGN §11.7).

use std::io::{BufRead, Write};
use std::time::Duration;

use crate::*;

const BUNDLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/bundles/deployment-safety.yaml"
);

/// Peak memory a streamed run stays under: far below what holding the
/// cases would take (about 1 KB a case).
const STREAMED_PEAK: u64 = 256 << 20;

fn report(r: &Run) -> serde_json::Value {
    serde_json::from_slice(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", r.stderr))
}

/// Counts the lines of a file without holding it.
fn count_lines(path: &str) -> (usize, String) {
    let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).unwrap());
    let (mut n, mut last) = (0, String::new());
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        n += 1;
        std::mem::swap(&mut last, &mut line);
        line.clear();
    }
    (n, last)
}

/// Regression: 5,000,000 synthetic cases took 4.95 GB (every case held)
/// and their JSON printed every result.
#[test]
fn five_million_synthetic_cases_in_bounded_memory() {
    let dir = workdir();
    let r = run(
        dir.path(),
        &[
            "sim",
            BUNDLE,
            "--dataset",
            "synthetic",
            "--count",
            "5000000",
            "--format",
            "json",
        ],
        None,
    );
    // 5.5 s alone; room for a busy CI machine (43 s was seen beside
    // four builds).
    r.assert_bounded("sim 5,000,000 synthetic cases", Duration::from_secs(60));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = report(&r);
    assert_eq!(v["summary"]["total_cases"], 5_000_000);
    assert!(
        v.get("results").is_none(),
        "no per-case results above 10,000"
    );
    assert!(
        r.stdout.len() < 64 << 10,
        "{} bytes of JSON",
        r.stdout.len()
    );
    assert!(
        r.peak_bytes < STREAMED_PEAK,
        "peak {} MB",
        r.peak_bytes >> 20
    );
}

/// Every case streams to the results file, in order, without being held.
#[test]
fn five_million_synthetic_results_stream_to_a_file() {
    let dir = workdir();
    let file = dir.path().join("results.jsonl");
    let f = file.to_str().unwrap();
    let r = run(
        dir.path(),
        &[
            "sim",
            BUNDLE,
            "--dataset",
            "synthetic",
            "--count",
            "5000000",
            "--results",
            f,
            "--format",
            "json",
        ],
        None,
    );
    r.assert_bounded(
        "sim 5,000,000 synthetic cases --results",
        Duration::from_secs(90),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.peak_bytes < STREAMED_PEAK,
        "peak {} MB",
        r.peak_bytes >> 20
    );
    let (n, last) = count_lines(f);
    assert_eq!(n, 5_000_000);
    let last: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(last["case_id"], "synthetic-5000000");
    eprintln!(
        "  results file: {} MB",
        std::fs::metadata(&file).unwrap().len() >> 20
    );
}

/// Writes `lines` lines made by `line(i)` until the file passes `bytes`.
fn write_lines(
    path: &std::path::Path,
    header: &str,
    bytes: u64,
    line: impl Fn(usize) -> String,
) -> usize {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(header.as_bytes()).unwrap();
    let (mut written, mut n) = (header.len() as u64, 0);
    while written < bytes {
        let l = line(n);
        out.write_all(l.as_bytes()).unwrap();
        written += l.len() as u64;
        n += 1;
    }
    out.flush().unwrap();
    n
}

const FORTY_MB: u64 = 40 << 20;

/// Regression: a JSON Lines dataset was read whole, so one over 16 MiB was
/// refused.
#[test]
fn forty_mb_jsonl_dataset_is_streamed() {
    let dir = workdir();
    let path = dir.path().join("cases.jsonl");
    let pad = "x".repeat(120);
    let n = write_lines(&path, "", FORTY_MB, |i| {
        format!(
            "{{\"case_id\":\"c{i}\",\"agent\":\"planner.deploy\",\"action\":\"deploy\",\"context\":{{\"env\":\"prod\",\"risk_score\":{},\"note\":\"{pad}\"}}}}\n",
            i % 100
        )
    });
    let r = run(
        dir.path(),
        &[
            "sim",
            BUNDLE,
            "--dataset",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    r.assert_bounded("sim 40 MB JSONL dataset", Duration::from_secs(30));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(report(&r)["summary"]["total_cases"], n);
    assert!(
        r.peak_bytes < STREAMED_PEAK,
        "peak {} MB",
        r.peak_bytes >> 20
    );
}

/// CSV is streamed a row at a time too.
#[test]
fn forty_mb_csv_dataset_is_streamed() {
    let dir = workdir();
    let path = dir.path().join("cases.csv");
    let pad = "x".repeat(120);
    let n = write_lines(
        &path,
        "case_id,agent,action,env,risk_score,note\n",
        FORTY_MB,
        |i| format!("c{i},planner.deploy,deploy,prod,{},{pad}\n", i % 100),
    );
    let r = run(
        dir.path(),
        &[
            "sim",
            BUNDLE,
            "--dataset",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    r.assert_bounded("sim 40 MB CSV dataset", Duration::from_secs(30));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(report(&r)["summary"]["total_cases"], n);
    assert!(
        r.peak_bytes < STREAMED_PEAK,
        "peak {} MB",
        r.peak_bytes >> 20
    );
}

/// A decision log is replayed a line at a time, and its changes bounded.
#[test]
fn forty_mb_decision_log_is_replayed_streaming() {
    let dir = workdir();
    let path = dir.path().join("decisions.jsonl");
    let pad = "x".repeat(120);
    let n = write_lines(&path, "", FORTY_MB, |i| {
        format!(
            "{{\"request\":{{\"agent\":\"planner.deploy\",\"action\":\"deploy\",\"context\":{{\"env\":\"prod\",\"note\":\"{pad}\"}},\"request_id\":\"r{i}\"}},\"decision\":{{\"effect\":\"allow\"}}}}\n"
        )
    });
    let r = run(
        dir.path(),
        &[
            "sim",
            "replay",
            BUNDLE,
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    r.assert_bounded("sim replay 40 MB decision log", Duration::from_secs(30));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = report(&r);
    assert_eq!(v["total_decisions"], n);
    assert!(v["changes"].as_array().unwrap().len() <= 1_000);
    assert!(
        r.peak_bytes < STREAMED_PEAK,
        "peak {} MB",
        r.peak_bytes >> 20
    );
}

/// A CSV row without end is refused at 1 MiB with its line.
#[test]
fn endless_csv_row_is_refused_with_its_line() {
    let dir = workdir();
    let path = dir.path().join("cases.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    out.write_all(b"agent,action,note\na.b,deploy,ok\na.b,deploy,\"")
        .unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..64 {
        out.write_all(&chunk).unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let r = run(
        dir.path(),
        &[
            "sim",
            BUNDLE,
            "--dataset",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    r.assert_bounded("sim CSV with a 64 MB row", Duration::from_secs(10));
    assert_eq!(r.code, 2);
    let e = &report(&r)["error"];
    assert_eq!(e["line"], 3, "{e}");
    assert!(e["message"].as_str().unwrap().contains("1 MiB"), "{e}");
    assert!(r.peak_bytes < 64 << 20, "peak {} MB", r.peak_bytes >> 20);
}

/// Regression: `gavel test` kept every failure and every case id as text,
/// so a large failing run grew without bound. It lists the first 1,000
/// failures, counts the rest, and remembers ids by a 128-bit hash.
#[test]
fn gavel_test_of_a_million_failing_cases_is_bounded() {
    let dir = workdir();
    let path = dir.path().join("cases.jsonl");
    let n = write_lines(&path, "", 200 << 20, |i| {
        format!(
            "{{\"case_id\":\"case-with-a-long-identifier-{i:012}\",\"agent\":\"planner.deploy\",\"action\":\"deploy\",\"context\":{{\"env\":\"prod\",\"risk_score\":{}}},\"expected_effect\":\"{}\"}}\n",
            i % 100,
            if i % 2 == 0 { "allow" } else { "deny" }
        )
    });
    let r = run(
        dir.path(),
        &["test", BUNDLE, path.to_str().unwrap(), "--format", "json"],
        None,
    );
    r.assert_bounded(
        &format!("gavel test, {n} cases (200 MB JSONL)"),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = report(&r);
    assert_eq!(v["total"], n);
    assert_eq!(v["failures"].as_array().unwrap().len(), 1_000);
    assert!(v["failed"].as_u64().unwrap() > 1_000, "{v}");
}
