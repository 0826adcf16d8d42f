//! Timing one engine on many requests: the median and 99th percentile of
//! the time per decision, and the mean over a stream of distinct requests.
//!
//! A decision can take 100 ns, not far above the cost of reading the clock
//! (tens of nanoseconds), so a sample is one request decided `reps` times
//! in a row and divided by `reps`, with `reps` chosen so that a sample lasts
//! at least [`MIN_SAMPLE`]. Deciding the same request again finds it in the
//! caches and the branch predictors warm: the median and p99 are figures
//! for a warm request. The stream mean decides each request once, in turn,
//! under one clock reading, so it includes the cost of moving from one
//! request to the next.

use std::hint::black_box;
use std::time::{Duration, Instant};

use gavel_policy::Effect;

/// The shortest sample: the clock's cost is then about 1 % of it.
pub const MIN_SAMPLE: Duration = Duration::from_micros(2);

/// The most repetitions a sample has.
const MAX_REPS: u32 = 10_000;

/// How many requests [`calibrate`] times, and how many times at most.
const PROBE: usize = 20;
const CALIBRATIONS: usize = 16;

/// A first pass shorter than this is timed again, warm (see [`measure`]).
const REESTIMATE_BELOW: Duration = Duration::from_millis(50);

/// What one engine's timing found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Median over all samples, in nanoseconds per decision.
    pub median_ns: f64,
    /// 99th percentile over all samples.
    pub p99_ns: f64,
    /// Total time over the requests decided once each, divided by their count.
    pub stream_mean_ns: f64,
    /// How many distinct requests were timed (the first `requests` of the
    /// shared set).
    pub requests: usize,
    /// How many times the samples went over those requests.
    pub passes: usize,
    /// How many times a sample decides its request.
    pub reps: u32,
}

/// Times `decide(i)` for requests `0..available`: a warm-up over the first
/// hundred to estimate the cost, samples of the first twenty to set the
/// repetitions ([`calibrate`]), then as many requests and passes (up to
/// three) as fit in `budget`, at least 100 requests.
pub fn measure(
    available: usize,
    budget: Duration,
    mut decide: impl FnMut(usize) -> anyhow::Result<Effect>,
) -> anyhow::Result<Stats> {
    let warm = available.min(100);
    let start = Instant::now();
    for i in 0..warm {
        black_box(decide(i)?);
    }
    let cold = start.elapsed();
    let mut estimate = cold.as_secs_f64() / warm.max(1) as f64;
    if cold < REESTIMATE_BELOW {
        // The first pass is cold (caches, page faults, lazy set-up) and can
        // take several times what a decision takes after it: estimated from
        // it, a sample of a fast engine lasts a fraction of MIN_SAMPLE and
        // its two clock readings weigh on every figure. A second pass times
        // each decision and takes the median, which a preemption does not move.
        estimate = warm_estimate(warm, &mut decide)?.min(estimate);
    }
    let reps = ((MIN_SAMPLE.as_secs_f64() / estimate.max(1e-9)).ceil() as u32).clamp(1, MAX_REPS);
    let (reps, per_sample) = calibrate(reps, warm.min(PROBE), &mut decide)?;
    let fits = (budget.as_secs_f64() / per_sample.max(1e-9)) as usize;
    let requests = available.min(fits.max(100));
    let passes = (fits / requests.max(1)).clamp(1, 3);

    let mut samples = Vec::with_capacity(requests * passes);
    for _ in 0..passes {
        for i in 0..requests {
            let start = Instant::now();
            for _ in 0..reps {
                black_box(decide(black_box(i))?);
            }
            samples.push(start.elapsed().as_secs_f64() * 1e9 / f64::from(reps));
        }
    }
    let start = Instant::now();
    for i in 0..requests {
        black_box(decide(black_box(i))?);
    }
    let stream_mean_ns = start.elapsed().as_secs_f64() * 1e9 / requests as f64;

    samples.sort_by(f64::total_cmp);
    Ok(Stats {
        median_ns: quantile(&samples, 0.5),
        p99_ns: quantile(&samples, 0.99),
        stream_mean_ns,
        requests,
        passes,
        reps,
    })
}

/// The estimate times each request once, after another: a request decided
/// again at once is faster (its data in the caches, its branches learned),
/// so a sample of the estimated `reps` can last well under [`MIN_SAMPLE`],
/// and its first decision and the clock then weigh on its figure (at 5
/// repetitions of a 250 ns decision, about 8 % of it). Samples of the first
/// `probe` requests are timed as the real ones will be, and `reps` grows
/// until their median lasts `MIN_SAMPLE`. Returns `reps` and that median,
/// in seconds.
fn calibrate(
    mut reps: u32,
    probe: usize,
    decide: &mut impl FnMut(usize) -> anyhow::Result<Effect>,
) -> anyhow::Result<(u32, f64)> {
    let goal = MIN_SAMPLE.as_secs_f64();
    if probe == 0 {
        // No request to time: nothing will be sampled either.
        return Ok((reps, goal));
    }
    let mut times = Vec::with_capacity(probe);
    let mut round = 1;
    loop {
        times.clear();
        for i in 0..probe {
            let start = Instant::now();
            for _ in 0..reps {
                black_box(decide(black_box(i))?);
            }
            times.push(start.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let sample = quantile(&times, 0.5);
        if sample >= goal || reps >= MAX_REPS || round == CALIBRATIONS {
            return Ok((reps, sample));
        }
        let grown = (f64::from(reps) * goal / sample.max(1e-12)).ceil() as u32;
        reps = grown.max(reps + 1).min(MAX_REPS);
        round += 1;
    }
}

/// The median time of one decision, in seconds, over requests `0..warm`
/// decided once each (clock readings included: it errs on the long side).
fn warm_estimate(
    warm: usize,
    decide: &mut impl FnMut(usize) -> anyhow::Result<Effect>,
) -> anyhow::Result<f64> {
    let mut times = Vec::with_capacity(warm);
    for i in 0..warm {
        let start = Instant::now();
        black_box(decide(black_box(i))?);
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(quantile(&times, 0.5))
}

/// The sample at rank `q` of sorted samples (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A duration in nanoseconds, written for a table: `85 ns`, `1.24 µs`,
/// `3.10 ms`.
pub fn human(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quantile_is_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(super::quantile(&v, 0.5), 50.0);
        assert_eq!(super::quantile(&v, 0.99), 99.0);
        assert_eq!(super::quantile(&[7.0], 0.99), 7.0);
        assert!(super::quantile(&[], 0.5).is_nan());
    }

    /// A sample lasts at least `MIN_SAMPLE` even when the first decisions
    /// are slow: 100 cold decisions of 50 µs each, then near-instant ones,
    /// must give many repetitions a sample (the cold pass alone gave one).
    #[test]
    fn a_cold_start_does_not_shorten_the_samples() {
        use std::time::{Duration, Instant};
        let mut calls = 0usize;
        let stats = super::measure(1_000, Duration::from_millis(50), |_| {
            calls += 1;
            if calls <= 100 {
                let start = Instant::now();
                while start.elapsed() < Duration::from_micros(50) {}
            }
            Ok(gavel_policy::Effect::Allow)
        })
        .expect("no decision fails");
        assert!(stats.reps >= 5, "{} reps a sample", stats.reps);
    }

    /// A sample lasts at least `MIN_SAMPLE` even when a request decided
    /// again at once is much faster than one decided after another: with 1
    /// µs for a new request and 100 ns (and the spin's clock readings) for
    /// a repeat, the estimate alone gives 2 or 3 repetitions, samples of
    /// about 1.2 µs.
    #[test]
    fn samples_last_the_minimum_when_repeats_are_faster() {
        use std::time::{Duration, Instant};
        let spin = |d: Duration| {
            let start = Instant::now();
            while start.elapsed() < d {}
        };
        let mut last = usize::MAX;
        let stats = super::measure(1_000, Duration::from_millis(50), |i| {
            spin(if i == last {
                Duration::from_nanos(100)
            } else {
                Duration::from_micros(1)
            });
            last = i;
            Ok(gavel_policy::Effect::Allow)
        })
        .expect("no decision fails");
        let sample = stats.median_ns * f64::from(stats.reps);
        assert!(
            sample >= 0.9 * super::MIN_SAMPLE.as_nanos() as f64,
            "median sample {sample:.0} ns ({} reps)",
            stats.reps
        );
    }

    /// No requests: nothing is decided, and the figures say so (NaN).
    #[test]
    fn no_requests_decides_nothing() {
        let stats = super::measure(0, std::time::Duration::from_millis(10), |i| {
            anyhow::bail!("request {i} does not exist")
        })
        .expect("nothing to decide, nothing fails");
        assert_eq!(stats.requests, 0);
        assert!(stats.median_ns.is_nan());
    }

    #[test]
    fn human_units() {
        assert_eq!(super::human(85.4), "85 ns");
        assert_eq!(super::human(1_240.0), "1.24 µs");
        assert_eq!(super::human(3_100_000.0), "3.10 ms");
    }
}
