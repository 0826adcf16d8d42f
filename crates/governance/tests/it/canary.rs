//! Canary gates and the automatic-rollback trip (DESIGN §7, §11.8): every
//! gate at and around its threshold, the statistics against values worked
//! out by hand (and with Python's `math.erfc`, noted beside each), and the
//! reading of metrics files.

use gavel_governance::canary::{
    AUTO_ROLLBACK_MIN_DECISIONS, Gate, GateConfig, GateReport, GateState, Histogram,
    MAX_HISTOGRAM_COSTS, Metrics, MetricsError, check, erfc, mann_whitney, normal_cdf, normal_sf,
    rollback_trip, two_proportion_z,
};
use serde_json::{Value, json};

fn metrics(doc: Value) -> Metrics {
    Metrics::from_json(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"))
}

fn report(doc: Value) -> GateReport {
    check(&metrics(doc), &GateConfig::default())
}

fn gate<'r>(r: &'r GateReport, name: &str) -> &'r Gate {
    r.gates
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no gate `{name}` in {r:?}"))
}

/// A canary of `total` decisions with `errors` and `denies`, costs equal.
fn canary(total: u64, errors: u64, denies: u64) -> Value {
    json!({"total_decisions": total, "error_count": errors, "deny_count": denies,
           "baseline_avg_cost": 1.0, "canary_avg_cost": 1.0})
}

fn with(mut doc: Value, key: &str, v: Value) -> Value {
    doc[key] = v;
    doc
}

fn state(doc: Value, name: &str) -> (GateState, String) {
    let r = report(doc);
    let g = gate(&r, name);
    (g.state, g.message.clone())
}

#[track_caller]
fn close(actual: f64, expected: f64, relative: f64) {
    assert!(
        (actual - expected).abs() <= relative * expected.abs(),
        "{actual} is not within {relative} of {expected}"
    );
}

#[test]
fn gates_come_in_order_and_serialise_as_the_contract_says() {
    let r = report(with(
        canary(200, 15, 80),
        "stable",
        json!({"total_decisions": 200, "error_count": 2, "deny_count": 60, "no_match_count": 0}),
    ));
    let names: Vec<&str> = r.gates.iter().map(|g| g.name).collect();
    assert_eq!(
        names,
        [
            "samples",
            "error_rate",
            "deny_rate",
            "cost_increase",
            "vs_stable"
        ]
    );
    let v = serde_json::to_value(&r).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["failures", "gates", "passed"]);
    for g in v["gates"].as_array().unwrap() {
        let mut keys: Vec<&str> = g.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["message", "name", "state", "threshold", "value"]);
    }
    assert_eq!(v["passed"], false);
    assert_eq!(
        v["gates"][1],
        json!({"name": "error_rate", "state": "fail", "value": 0.075, "threshold": 0.05,
               "message": "Error rate too high: 7.50% > 5.00%"})
    );
    assert_eq!(
        v["gates"][2]["message"],
        "Deny rate too high: 40.00% > 30.00%"
    );
    assert_eq!(v["gates"][0]["state"], "pass");
    assert_eq!(v["gates"][0]["value"], 200.0);
    assert_eq!(v["gates"][0]["threshold"], 100.0);
    // The error rate is 7.5% against 1%: vs_stable fails too, and lists it.
    assert_eq!(v["gates"][4]["state"], "fail");
    assert_eq!(v["gates"][4]["threshold"], 0.01);
    assert_eq!(
        r.failures,
        [
            "Error rate too high: 7.50% > 5.00%",
            "Deny rate too high: 40.00% > 30.00%",
            "Error rate above stable: 7.5% vs 1.0% (+6.5 points, p=0.0006)",
        ]
    );
    // Every state's spelling.
    let states: Vec<Value> = [
        GateState::Pass,
        GateState::Fail,
        GateState::Inconclusive,
        GateState::Skipped,
    ]
    .iter()
    .map(|s| serde_json::to_value(s).unwrap())
    .collect();
    assert_eq!(
        states,
        [
            json!("pass"),
            json!("fail"),
            json!("inconclusive"),
            json!("skipped")
        ]
    );
    assert_eq!(GateState::Inconclusive.to_string(), "inconclusive");
}

#[test]
fn fixed_rates_pass_at_their_threshold_and_fail_just_over() {
    assert_eq!(
        state(canary(100, 5, 0), "error_rate"),
        (GateState::Pass, "Error rate 5.00% <= 5.00%".into())
    );
    assert_eq!(
        state(canary(100, 6, 0), "error_rate"),
        (GateState::Fail, "Error rate too high: 6.00% > 5.00%".into())
    );
    assert_eq!(
        state(canary(100, 0, 30), "deny_rate"),
        (GateState::Pass, "Deny rate 30.00% <= 30.00%".into())
    );
    assert_eq!(state(canary(100, 0, 31), "deny_rate").0, GateState::Fail);
    // Compared exactly: one error past 5% of ten billion still fails, and
    // exactly 5% of an odd total still passes.
    assert_eq!(
        state(canary(10_000_000_000, 500_000_001, 0), "error_rate").0,
        GateState::Fail
    );
    assert_eq!(
        state(canary(10_000_000_000, 500_000_000, 0), "error_rate").0,
        GateState::Pass
    );
    assert_eq!(state(canary(300, 15, 90), "error_rate").0, GateState::Pass);
    assert_eq!(state(canary(300, 15, 90), "deny_rate").0, GateState::Pass);
    let r = report(canary(100, 5, 30));
    assert!(r.passed, "{r:?}");
    assert!(r.failures.is_empty());
    assert_eq!(gate(&r, "error_rate").value, Some(0.05));
    assert_eq!(gate(&r, "deny_rate").threshold, Some(0.3));
}

#[test]
fn too_few_samples_are_inconclusive_and_every_rate_is_still_judged() {
    let r = report(canary(99, 10, 0));
    assert!(!r.passed);
    let s = gate(&r, "samples");
    assert_eq!(
        (s.state, s.message.as_str(), s.value, s.threshold),
        (
            GateState::Inconclusive,
            "Insufficient samples: 99 < 100",
            Some(99.0),
            Some(100.0)
        )
    );
    assert_eq!(gate(&r, "error_rate").state, GateState::Fail);
    assert_eq!(
        r.failures,
        [
            "Insufficient samples: 99 < 100",
            "Error rate too high: 10.10% > 5.00%"
        ]
    );
    let r = report(canary(50, 0, 0));
    assert_eq!(r.failures, ["Insufficient samples: 50 < 100"]);
    assert_eq!(gate(&r, "error_rate").state, GateState::Pass);
    // Exactly the minimum passes; the environment's minimum is used.
    assert!(report(canary(100, 0, 0)).passed);
    let low = GateConfig { min_samples: 50 };
    assert!(check(&metrics(canary(50, 0, 0)), &low).passed);
    assert!(!check(&metrics(canary(49, 0, 0)), &low).passed);
    assert_eq!(GateConfig::default().min_samples, 100);
}

#[test]
fn no_decisions_never_pass() {
    let r = report(canary(0, 0, 0));
    assert!(!r.passed);
    for name in ["samples", "error_rate", "deny_rate", "cost_increase"] {
        assert_eq!(gate(&r, name).state, GateState::Inconclusive, "{name}");
    }
    for name in ["error_rate", "deny_rate", "cost_increase"] {
        assert_eq!(gate(&r, name).value, None, "{name}");
    }
    assert_eq!(
        r.failures,
        [
            "Insufficient samples: 0 < 100",
            "Error rate unknown: no decisions",
            "Deny rate unknown: no decisions",
            "Cost increase unknown: no decisions",
        ]
    );
    // A minimum of 0 is read as 1: no data is never enough.
    let r = check(&metrics(canary(0, 0, 0)), &GateConfig { min_samples: 0 });
    assert_eq!(gate(&r, "samples").message, "Insufficient samples: 0 < 1");
    assert!(!r.passed);
    let r = check(&metrics(canary(1, 0, 0)), &GateConfig { min_samples: 0 });
    assert!(r.passed, "{r:?}");
}

fn costs(baseline: f64, canary_cost: f64) -> Value {
    json!({"total_decisions": 100, "baseline_avg_cost": baseline, "canary_avg_cost": canary_cost})
}

#[test]
fn cost_increase_gate() {
    assert_eq!(
        state(costs(1.0, 1.5), "cost_increase"),
        (
            GateState::Fail,
            "Cost increase too high: 50.00% > 20.00%".into()
        )
    );
    assert_eq!(
        state(costs(1.0, 1.2), "cost_increase"),
        (GateState::Pass, "Cost increase 20.00% <= 20.00%".into())
    );
    // 0.84 over 0.7 computes as 20.000000000000004%: still exactly 20%.
    assert_eq!(state(costs(0.7, 0.84), "cost_increase").0, GateState::Pass);
    assert_eq!(
        state(costs(1.0, 1.200_001), "cost_increase").0,
        GateState::Fail
    );
    assert_eq!(
        state(costs(2.0, 1.0), "cost_increase"),
        (GateState::Pass, "Cost increase -50.00% <= 20.00%".into())
    );
    let r = report(costs(2.0, 2.5));
    let g = gate(&r, "cost_increase");
    assert_eq!((g.value, g.threshold), (Some(0.25), Some(0.2)));
    // A baseline of 0 skips the gate (a skipped gate does not hold a pass back).
    let r = report(costs(0.0, 3.0));
    let g = gate(&r, "cost_increase");
    assert_eq!((g.state, g.value), (GateState::Skipped, None));
    assert_eq!(g.message, "Baseline cost is 0: no increase to measure");
    assert!(r.passed, "{r:?}");
    // Costs a caller built by hand that are not numbers: inconclusive.
    let mut m = metrics(costs(1.0, 1.0));
    m.canary_avg_cost = f64::NAN;
    let r = check(&m, &GateConfig::default());
    assert_eq!(
        gate(&r, "cost_increase").message,
        "Cost increase unknown: the costs are not numbers 0 or more"
    );
    assert!(!r.passed);
    m.canary_avg_cost = 1.0;
    m.baseline_avg_cost = f64::INFINITY;
    assert_eq!(
        gate(&check(&m, &GateConfig::default()), "cost_increase").state,
        GateState::Inconclusive
    );
    m.baseline_avg_cost = -1.0;
    assert_eq!(
        gate(&check(&m, &GateConfig::default()), "cost_increase").state,
        GateState::Inconclusive
    );
}

/// A canary and a stable version with the given (total, errors, denies,
/// no-matches) and optional histograms.
fn pair(c: [u64; 4], s: [u64; 4]) -> Value {
    json!({"total_decisions": c[0], "error_count": c[1], "deny_count": c[2], "no_match_count": c[3],
           "baseline_avg_cost": 1.0, "canary_avg_cost": 1.0,
           "stable": {"total_decisions": s[0], "error_count": s[1], "deny_count": s[2], "no_match_count": s[3]}})
}

fn vs_stable(doc: Value) -> Gate {
    gate(&report(doc), "vs_stable").clone()
}

#[test]
fn vs_stable_is_skipped_without_stable_and_inconclusive_below_the_minimum() {
    let g = vs_stable(canary(100, 0, 0));
    assert_eq!(
        (g.state, g.value, g.threshold),
        (GateState::Skipped, None, None)
    );
    assert!(report(canary(100, 0, 0)).passed);
    let r = report(pair([100, 0, 20, 0], [99, 0, 20, 0]));
    let g = gate(&r, "vs_stable");
    assert_eq!(
        (g.state, g.message.as_str(), g.value),
        (
            GateState::Inconclusive,
            "Insufficient samples vs stable: stable 99 < 100",
            None
        )
    );
    assert_eq!(
        r.failures,
        ["Insufficient samples vs stable: stable 99 < 100"]
    );
    assert!(!r.passed);
    assert_eq!(
        vs_stable(pair([99, 0, 20, 0], [100, 0, 20, 0])).message,
        "Insufficient samples vs stable: canary 99 < 100"
    );
    assert_eq!(
        vs_stable(pair([0, 0, 0, 0], [5, 0, 0, 0])).message,
        "Insufficient samples vs stable: canary 0 < 100, stable 5 < 100"
    );
    // `stable: null` is no stable.
    assert_eq!(
        vs_stable(with(canary(100, 0, 0), "stable", Value::Null)).state,
        GateState::Skipped
    );
}

#[test]
fn vs_stable_passes_equal_rates_and_fails_a_clearly_higher_deny_rate() {
    let g = vs_stable(pair([100, 2, 25, 3], [100, 2, 25, 3]));
    assert_eq!(g.state, GateState::Pass, "{g:?}");
    assert_eq!(g.threshold, Some(0.01));
    assert_eq!(
        g.message,
        "No metric worse than stable beyond its allowance: deny 25.0% vs 25.0% (p=0.5000); \
         error 2.0% vs 2.0% (p=0.5000); no-match 3.0% vs 3.0% (p=0.5000); cost not compared (no histograms)"
    );
    // 41% vs 30% at 1,000 each: z = 5.1402 (python: math.erfc gives p = 1.37e-7).
    let r = report(pair([1000, 0, 410, 0], [1000, 0, 300, 0]));
    let g = gate(&r, "vs_stable");
    assert_eq!(g.state, GateState::Fail);
    assert_eq!(
        r.failures,
        [
            "Deny rate too high: 41.00% > 30.00%",
            "Deny rate above stable: 41.0% vs 30.0% (+11.0 points, p<0.0001)"
        ]
    );
    close(g.value.unwrap(), 1.371_916_648_108_954_5e-7, 1e-5);
    // At 400 each, p = 0.000575 (z = 3.2510) shows with four decimals.
    assert_eq!(
        vs_stable(pair([400, 0, 164, 0], [400, 0, 120, 0])).message,
        "Deny rate above stable: 41.0% vs 30.0% (+11.0 points, p=0.0006)"
    );
    // All-zero rates, and identical rates of 100%, pass.
    let g = vs_stable(pair([100, 0, 0, 0], [100, 0, 0, 0]));
    assert_eq!((g.state, g.value), (GateState::Pass, Some(1.0)));
    assert_eq!(
        vs_stable(pair([100, 0, 100, 0], [100, 0, 100, 0])).state,
        GateState::Pass
    );
    // A lower canary rate never fails, however significant.
    assert_eq!(
        vs_stable(pair([1000, 0, 100, 0], [1000, 0, 600, 0])).state,
        GateState::Pass
    );
}

#[test]
fn vs_stable_needs_both_significance_and_more_than_the_allowance() {
    // Error: 2.00% vs 1.00% at 10,000 each is significant (z = 5.82) but
    // exactly the 1-point allowance; one more error is past it.
    let g = vs_stable(pair([10_000, 200, 0, 0], [10_000, 100, 0, 0]));
    assert_eq!(g.state, GateState::Pass, "{g:?}");
    assert!(g.value.unwrap() < 1e-6);
    let g = vs_stable(pair([10_000, 201, 0, 0], [10_000, 100, 0, 0]));
    assert_eq!(g.state, GateState::Fail);
    assert!(
        g.message
            .starts_with("Error rate above stable: 2.0% vs 1.0% (+1.0 points")
    );
    // Deny: 5 points allowed.
    assert_eq!(
        vs_stable(pair([10_000, 0, 3500, 0], [10_000, 0, 3000, 0])).state,
        GateState::Pass
    );
    assert_eq!(
        vs_stable(pair([10_000, 0, 3501, 0], [10_000, 0, 3000, 0])).state,
        GateState::Fail
    );
    // No-match: 2 points allowed.
    assert_eq!(
        vs_stable(pair([10_000, 0, 0, 700], [10_000, 0, 0, 500])).state,
        GateState::Pass
    );
    let g = vs_stable(pair([10_000, 0, 0, 701], [10_000, 0, 0, 500]));
    assert_eq!(g.state, GateState::Fail);
    assert!(
        g.message
            .starts_with("No-match rate above stable: 7.0% vs 5.0% (+2.0 points")
    );
    // Far more than the allowance but not significant: 30% vs 20% at 100
    // each gives z = 1.633 (by hand: pooled 0.25, sd 0.0612).
    assert_eq!(
        vs_stable(pair([100, 0, 30, 0], [100, 0, 20, 0])).state,
        GateState::Pass
    );
    // Significant at z = 2.052 against 2.326: 6% vs 4% errors at 1,000 is
    // not yet significant enough, although 2 points is past 1.
    assert_eq!(
        vs_stable(pair([1000, 60, 0, 0], [1000, 40, 0, 0])).state,
        GateState::Pass
    );
    // Several metrics failing are each listed.
    let r = report(pair([1000, 40, 450, 300], [1000, 5, 300, 100]));
    let g = gate(&r, "vs_stable");
    assert_eq!(g.state, GateState::Fail);
    let reasons: Vec<&str> = r
        .failures
        .iter()
        .filter(|f| f.contains("above stable"))
        .map(|f| f.split(':').next().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "Deny rate above stable",
            "Error rate above stable",
            "No-match rate above stable"
        ]
    );
    assert_eq!(g.message.matches("above stable").count(), 3);
}

fn with_histograms(canary_h: Value, stable_h: Value) -> Value {
    let mut doc = pair([200, 0, 0, 0], [200, 0, 0, 0]);
    doc["cost_histogram"] = canary_h;
    doc["stable"]["cost_histogram"] = stable_h;
    doc
}

#[test]
fn vs_stable_cost_by_rank_test() {
    // Equal histograms pass.
    let same = json!({"0": 150, "2.5": 50});
    let g = vs_stable(with_histograms(same.clone(), same.clone()));
    assert_eq!(g.state, GateState::Pass, "{g:?}");
    assert!(
        g.message.ends_with(
            "cost mean 0.62 vs 0.62, HL shift +0.00 (98% interval +0.00 to +0.00), p=0.5002"
        ),
        "{}",
        g.message
    );
    // Clearly shifted: every canary decision costs 1 more.
    let g = vs_stable(with_histograms(
        json!({"1": 100, "2": 100}),
        json!({"0": 100, "1": 100}),
    ));
    assert_eq!(g.state, GateState::Fail, "{g:?}");
    assert_eq!(
        g.message,
        "Cost per decision above stable: mean 1.50 vs 0.50, HL shift +1.00 (98% interval +1.00 to +1.00), p<0.0001"
    );
    // Significant but within 20%: 0.84 over 0.7 is exactly 20% more.
    let g = vs_stable(with_histograms(json!({"0.84": 200}), json!({"0.7": 200})));
    assert_eq!(g.state, GateState::Pass, "{g:?}");
    assert!(g.value.unwrap() < 1e-10);
    let g = vs_stable(with_histograms(json!({"0.85": 200}), json!({"0.7": 200})));
    assert_eq!(g.state, GateState::Fail, "{g:?}");
    // A stable mean of 0: any significant cost fails.
    let g = vs_stable(with_histograms(
        json!({"0": 150, "0.01": 50}),
        json!({"0": 200}),
    ));
    assert_eq!(g.state, GateState::Fail, "{g:?}");
    // Far higher but not significant (p = 0.1055 by hand, see below).
    let g = vs_stable(with_histograms(
        json!({"1": 3, "2": 2, "40": 1}),
        json!({"0": 2, "1": 2, "3": 1}),
    ));
    assert_eq!(g.state, GateState::Pass, "{g:?}");
    // Left out when a side has no histogram, or an empty one.
    let mut doc = pair([200, 0, 0, 0], [200, 0, 0, 0]);
    doc["cost_histogram"] = json!({"5": 200});
    let g = vs_stable(doc.clone());
    assert_eq!(g.state, GateState::Pass);
    assert!(
        g.message
            .ends_with("cost not compared (no stable histogram)"),
        "{}",
        g.message
    );
    doc["stable"]["cost_histogram"] = json!({});
    assert!(
        vs_stable(doc.clone())
            .message
            .ends_with("cost not compared (an empty histogram)")
    );
    doc.as_object_mut().unwrap().remove("cost_histogram");
    assert!(
        vs_stable(doc)
            .message
            .ends_with("cost not compared (no canary histogram)")
    );
}

#[test]
fn normal_distribution_matches_python_math_erfc() {
    // python3 -c "import math; print(math.erfc(x))"
    for (x, expected) in [
        (0.0, 1.0),
        (0.1, 0.887_537_083_981_715_2),
        (0.5, 0.479_500_122_186_953_5),
        (1.0, 0.157_299_207_050_285_13),
        (1.5, 0.033_894_853_524_689_274),
        (2.0, 0.004_677_734_981_047_265),
        (3.0, 2.209_049_699_858_543_8e-5),
        (4.0, 1.541_725_790_028_002e-8),
        (5.0, 1.537_459_794_428_035_1e-12),
        (6.0, 2.151_973_671_249_891_6e-17),
        (-0.5, 1.520_499_877_813_046_5),
        (-1.0, 1.842_700_792_949_715),
        (-2.0, 1.995_322_265_018_952_8),
    ] {
        close(erfc(x), expected, 2e-7);
    }
    close(normal_cdf(1.96), 0.975_002_104_851_779_5, 1e-7);
    close(normal_cdf(2.326), 0.989_990_724_659_132_3, 1e-7);
    close(normal_sf(2.326), 1.0 - 0.989_990_724_659_132_3, 1e-5);
    close(normal_sf(0.0), 0.5, 1e-7);
    close(normal_sf(-1.96), 0.975_002_104_851_779_5, 1e-7);
}

#[test]
fn two_proportion_z_by_hand() {
    // 30/100 vs 20/100: pooled 0.25, sd sqrt(0.25 * 0.75 * 0.02) = 0.061237,
    // z = 0.1 / 0.061237 = 1.632993.
    close(
        two_proportion_z(30, 100, 20, 100).unwrap(),
        1.632_993_161_855_451_8,
        1e-12,
    );
    close(
        two_proportion_z(410, 1000, 300, 1000).unwrap(),
        5.140_243_037_285_987,
        1e-12,
    );
    // Unequal sizes: 60/1000 vs 40/1000 gives 2.051957 (python, same formula).
    close(
        two_proportion_z(60, 1000, 40, 1000).unwrap(),
        2.051_956_704_170_308,
        1e-12,
    );
    close(
        two_proportion_z(20, 100, 30, 100).unwrap(),
        -1.632_993_161_855_451_8,
        1e-12,
    );
    // 5/50 vs 10/200: pooled 0.06, sd sqrt(0.06 * 0.94 * 0.025) = 0.037550,
    // z = 0.05 / 0.037550 = 1.331559 (python: 1.3315591032282688).
    close(
        two_proportion_z(5, 50, 10, 200).unwrap(),
        1.331_559_103_228_268_8,
        1e-12,
    );
    assert_eq!(two_proportion_z(0, 100, 0, 100), None);
    assert_eq!(two_proportion_z(100, 100, 100, 100), None);
    assert_eq!(two_proportion_z(0, 0, 1, 100), None);
    assert_eq!(two_proportion_z(1, 100, 0, 0), None);
}

fn hist(bins: &[(f64, u64)]) -> Histogram {
    Histogram::new(bins.iter().copied()).unwrap()
}

#[test]
fn mann_whitney_by_hand() {
    // Canary [1,1,1,2,2,4] against stable [0,0,1,1,3]: each 1 beats two 0s
    // and ties two 1s (3), each 2 beats four (8), the 4 beats all five:
    // U = 9 + 8 + 5 = 22 of 30 pairs. Ties: 0 x2, 1 x5, 2 x2, 3 x1, 4 x1, so
    // sd^2 = 30/12 * (12 - (6 + 120 + 6)/110) = 27, sd = 5.196152;
    // z = (22 - 15 - 0.5)/5.196152 = 1.250926, p = 0.105481 (python erfc).
    let t = mann_whitney(
        &hist(&[(1.0, 3), (2.0, 2), (4.0, 1)]),
        &hist(&[(0.0, 2), (1.0, 2), (3.0, 1)]),
    )
    .unwrap();
    assert_eq!(t.u, 22.0);
    close(t.z, 1.250_925_583_244_189_2, 1e-12);
    close(t.p, 0.105_480_814_517_930_01, 1e-6);
    // The 30 differences sorted: their 15th and 16th are both 1.
    assert_eq!(t.shift, 1.0);
    // c = floor(15 - 2.326 * 5.196) = 2: the 2nd smallest and 2nd largest.
    assert_eq!(t.interval, (-2.0, 4.0));
    // A larger case checked against python's midrank computation.
    let t = mann_whitney(
        &hist(&[(0.5, 10), (1.5, 30), (2.0, 20)]),
        &hist(&[(0.5, 25), (1.0, 30), (1.5, 5)]),
    )
    .unwrap();
    assert_eq!(t.u, 3050.0);
    close(t.z, 6.799_829_442_564_728, 1e-12);
    close(t.p, 5.237_154_011_535_339_4e-12, 1e-6);
    assert_eq!((t.shift, t.interval), (1.0, (0.5, 1.0)));
    // Stable costs above every canary cost, tied among themselves: canary
    // [1,1,1,2,2] against stable [0,0,3,3,3,3,5,5,5] gives U = 5 * 2 = 10;
    // ties 0 x2, 1 x3, 2 x2, 3 x4, 5 x3, sd = 7.333313, z = -1.772732 (python).
    let t = mann_whitney(
        &hist(&[(1.0, 3), (2.0, 2)]),
        &hist(&[(0.0, 2), (3.0, 4), (5.0, 3)]),
    )
    .unwrap();
    assert_eq!(t.u, 10.0);
    close(t.z, -1.772_732_303_874_589_7, 1e-12);
    close(t.p, 0.961_863_462_221_812_5, 1e-6);
    assert_eq!((t.shift, t.interval), (-2.0, (-4.0, 1.0)));
    // Identical histograms: U is half the pairs, z a hair below 0.
    let h = hist(&[(1.0, 50), (2.0, 50)]);
    let t = mann_whitney(&h, &h).unwrap();
    assert_eq!(t.u, 5000.0);
    close(t.z, -0.001_410_673_597_966_588_4, 1e-9);
    assert_eq!((t.shift, t.interval), (0.0, (0.0, 0.0)));
    assert!(t.shift.is_sign_positive());
    // One cost everywhere: no spread, no evidence.
    let one = hist(&[(3.0, 10)]);
    let t = mann_whitney(&one, &one).unwrap();
    assert_eq!((t.u, t.z, t.p), (50.0, 0.0, 1.0));
    assert_eq!(mann_whitney(&hist(&[]), &one), None);
    assert_eq!(mann_whitney(&one, &hist(&[])), None);
    // Canary lower: U small, p near 1.
    let t = mann_whitney(&hist(&[(0.0, 10)]), &hist(&[(1.0, 10)])).unwrap();
    assert_eq!((t.u, t.shift, t.interval), (0.0, -1.0, (-1.0, -1.0)));
    assert!(t.p > 0.999);
}

/// A small deterministic generator (a linear congruential one).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }

    fn histogram(&mut self) -> Vec<(f64, u64)> {
        (0..1 + self.next(6))
            .map(|_| (self.next(12) as f64 * 0.25, 1 + self.next(4)))
            .collect()
    }
}

/// U by counting every pair, and the pairwise differences sorted.
fn brute_force(a: &[(f64, u64)], b: &[(f64, u64)]) -> (f64, Vec<f64>) {
    let expand = |h: &[(f64, u64)]| -> Vec<f64> {
        h.iter()
            .flat_map(|&(c, n)| std::iter::repeat_n(c, n as usize))
            .collect()
    };
    let (xs, ys) = (expand(a), expand(b));
    let mut u = 0.0;
    let mut diffs = Vec::new();
    for x in &xs {
        for y in &ys {
            u += if x > y {
                1.0
            } else if x == y {
                0.5
            } else {
                0.0
            };
            diffs.push(x - y);
        }
    }
    diffs.sort_by(f64::total_cmp);
    (u, diffs)
}

#[test]
fn rank_test_agrees_with_counting_every_pair() {
    let mut rng = Lcg(7);
    for _ in 0..300 {
        let (a, b) = (rng.histogram(), rng.histogram());
        let (ha, hb) = (hist(&a), hist(&b));
        let t = mann_whitney(&ha, &hb).unwrap();
        let (u, diffs) = brute_force(ha.bins(), hb.bins());
        assert_eq!(t.u, u, "{a:?} {b:?}");
        // z from the tie groups of the pooled sample, counted one by one.
        let (n1, n2) = (ha.decisions() as f64, hb.decisions() as f64);
        let n = n1 + n2;
        let mut pooled: Vec<f64> = ha
            .bins()
            .iter()
            .chain(hb.bins())
            .flat_map(|&(c, k)| std::iter::repeat_n(c, k as usize))
            .collect();
        pooled.sort_by(f64::total_cmp);
        let ties: f64 = pooled
            .chunk_by(|x, y| x == y)
            .map(|g| (g.len() as f64).powi(3) - g.len() as f64)
            .sum();
        let sd = (n1 * n2 / 12.0 * (n + 1.0 - ties / (n * (n - 1.0)))).sqrt();
        if sd > 0.0 {
            close(t.z, (u - n1 * n2 / 2.0 - 0.5) / sd, 1e-9);
        } else {
            assert_eq!((t.z, t.p), (0.0, 1.0));
        }
        let w = diffs.len();
        let median = if w % 2 == 1 {
            diffs[w / 2]
        } else {
            (diffs[w / 2 - 1] + diffs[w / 2]) / 2.0
        };
        assert_eq!(t.shift, median, "{a:?} {b:?}");
        assert!(t.interval.0 <= t.shift && t.shift <= t.interval.1);
        assert!(diffs.contains(&t.interval.0) && diffs.contains(&t.interval.1));
        // The interval is symmetric in rank: as many differences below its
        // lower end as above its upper end.
        let below = diffs.iter().filter(|d| **d < t.interval.0).count();
        let above = diffs.iter().filter(|d| **d > t.interval.1).count();
        let lower_rank = diffs.iter().filter(|d| **d <= t.interval.0).count();
        let upper_rank = w - diffs.iter().filter(|d| **d < t.interval.1).count();
        assert!(below < lower_rank.max(1) && above < upper_rank.max(1));
        // The canary's U and the stable's add up to every pair.
        let back = mann_whitney(&hb, &ha).unwrap();
        assert_eq!(t.u + back.u, w as f64);
        assert_eq!(t.shift, -back.shift + 0.0);
    }
}

/// The rank test over the largest histograms takes a few dozen passes over
/// them, not a list of their hundred million pairs of costs.
#[test]
fn largest_histograms_are_judged_without_listing_every_pair() {
    let side = |offset: f64| -> serde_json::Map<String, Value> {
        (0..MAX_HISTOGRAM_COSTS)
            .map(|i| (format!("{}", i as f64 * 0.01 + offset), json!(3)))
            .collect()
    };
    let mut doc = pair([30_000, 0, 0, 0], [30_000, 0, 0, 0]);
    doc["cost_histogram"] = Value::Object(side(0.0));
    doc["stable"]["cost_histogram"] = Value::Object(side(0.005));
    let m = metrics(doc);
    let h = m.canary.cost_histogram.as_ref().unwrap();
    assert_eq!(h.bins().len(), MAX_HISTOGRAM_COSTS);
    let t = mann_whitney(
        h,
        m.stable.as_ref().unwrap().cost_histogram.as_ref().unwrap(),
    )
    .unwrap();
    // Stable costs are 0.005 higher: the median difference is near -0.005.
    assert!(t.shift < 0.0 && t.shift > -0.01, "{t:?}");
    assert!(t.p > 0.5);
    let g = gate(&check(&m, &GateConfig::default()), "vs_stable").clone();
    assert_eq!(g.state, GateState::Pass);
}

#[test]
fn histograms_merge_costs_and_refuse_bad_ones() {
    let h = hist(&[(2.0, 1), (0.5, 2), (2.0, 3), (1.0, 0), (-0.0, 4)]);
    assert_eq!(h.bins(), &[(0.0, 4), (0.5, 2), (2.0, 4)]);
    assert!(h.bins()[0].0.is_sign_positive());
    assert_eq!(h.decisions(), 10);
    close(h.mean(), (0.5 * 2.0 + 2.0 * 4.0) / 10.0, 1e-15);
    assert_eq!(hist(&[]).mean(), 0.0);
    assert_eq!(Histogram::new([(-1.0, 1)]), None);
    assert_eq!(Histogram::new([(f64::NAN, 1)]), None);
    assert_eq!(Histogram::new([(f64::INFINITY, 1)]), None);
    assert_eq!(Histogram::new([(1.0, 1 << 53)]), None);
    assert!(Histogram::new([(1.0, (1 << 53) - 1)]).is_some());
    let many = |n: u64| Histogram::new((0..n).map(|i| (i as f64, 1)));
    assert!(many(MAX_HISTOGRAM_COSTS as u64).is_some());
    assert_eq!(many(MAX_HISTOGRAM_COSTS as u64 + 1), None);
}

fn error(doc: Value) -> MetricsError {
    match Metrics::from_json(&doc) {
        Ok(m) => panic!("{doc} was read as {m:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_error(doc: Value, pointer: &str, text: &str) {
    let e = error(doc);
    assert_eq!(e.pointer(), pointer, "{e}");
    assert_eq!(e.to_string(), text);
}

#[test]
fn metrics_are_read_with_defaults() {
    let m = metrics(json!({"baseline_avg_cost": 1, "canary_avg_cost": 0.5}));
    assert_eq!(m.canary.total_decisions, 0);
    assert_eq!((m.baseline_avg_cost, m.canary_avg_cost), (1.0, 0.5));
    assert_eq!(m.stable, None);
    let m = metrics(
        json!({"total_decisions": 100.0, "error_count": null, "deny_count": 3,
        "no_match_count": 4, "baseline_avg_cost": 0, "canary_avg_cost": 0,
        "cost_histogram": {"0": 90, " 2.5 ": 10, "1e0": 0},
        "stable": {"total_decisions": 7, "no_match_count": 7, "cost_histogram": null}}),
    );
    assert_eq!(
        (
            m.canary.total_decisions,
            m.canary.error_count,
            m.canary.deny_count,
            m.canary.no_match_count
        ),
        (100, 0, 3, 4)
    );
    assert_eq!(
        m.canary.cost_histogram.unwrap().bins(),
        &[(0.0, 90), (2.5, 10)]
    );
    let s = m.stable.unwrap();
    assert_eq!((s.total_decisions, s.no_match_count), (7, 7));
    assert_eq!(s.cost_histogram, None);
    // Counts up to the limit, and exactly equal to the total.
    let m = metrics(json!({"total_decisions": 9_007_199_254_740_991_u64,
        "deny_count": 9_007_199_254_740_991_u64, "baseline_avg_cost": 0, "canary_avg_cost": 0}));
    assert_eq!(m.canary.deny_count, (1 << 53) - 1);
}

#[test]
fn bad_metrics_name_their_field() {
    let ok = || json!({"total_decisions": 100, "baseline_avg_cost": 1, "canary_avg_cost": 1});
    assert_error(
        json!([1]),
        "",
        "the metrics must be a JSON object of counts and costs, found a list `[1]`",
    );
    assert_error(
        with(ok(), "deny_cuont", json!(3)),
        "/deny_cuont",
        "unknown field `deny_cuont`; did you mean `deny_count`?",
    );
    assert_error(
        with(ok(), "zzz", json!(3)),
        "/zzz",
        "unknown field `zzz`; known fields: total_decisions, error_count, deny_count, \
         no_match_count, baseline_avg_cost, canary_avg_cost, cost_histogram, stable",
    );
    assert_error(
        with(
            ok(),
            "stable",
            json!({"total_decisions": 5, "canary_avg_cost": 1}),
        ),
        "/stable/canary_avg_cost",
        "unknown field `stable.canary_avg_cost`; known fields: total_decisions, error_count, \
         deny_count, no_match_count, cost_histogram",
    );
    assert_error(
        with(
            ok(),
            "stable",
            json!({"total_decisions": 5, "eror_count": 1}),
        ),
        "/stable/eror_count",
        "unknown field `stable.eror_count`; did you mean `error_count`?",
    );
    assert_error(
        with(
            ok(),
            "stable",
            json!({"total_decisions": 5, "deny_count": 6}),
        ),
        "/stable/deny_count",
        "`stable.deny_count` is 6, more than the 5 decisions in `total_decisions`; a count cannot exceed the decisions it counts",
    );
    for (key, pointer) in [
        ("error_count", "/error_count"),
        ("deny_count", "/deny_count"),
        ("no_match_count", "/no_match_count"),
    ] {
        assert_eq!(error(with(ok(), key, json!(101))).pointer(), pointer);
        // Exactly the total is fine.
        metrics(with(ok(), key, json!(100)));
    }
    for (bad, found) in [
        (json!(-1), "a number `-1`"),
        (json!(1.5), "a number `1.5`"),
        (json!("3"), "a string `\"3\"`"),
        (json!(true), "a boolean `true`"),
        (
            json!(9_007_199_254_740_992_u64),
            "a number `9007199254740992`",
        ),
        (json!(1e300), "a number `1e+300`"),
    ] {
        assert_error(
            with(ok(), "deny_count", bad),
            "/deny_count",
            &format!(
                "`deny_count` must be a whole number from 0 to 9007199254740991, found {found}"
            ),
        );
    }
    assert_error(
        with(ok(), "stable", json!({"total_decisions": -2})),
        "/stable/total_decisions",
        "`stable.total_decisions` must be a whole number from 0 to 9007199254740991, found a number `-2`",
    );
    assert_error(
        with(ok(), "stable", json!([])),
        "/stable",
        "`stable` must be an object of the stable version's counts, found a list `[]`",
    );
    let mut no_cost = ok();
    no_cost.as_object_mut().unwrap().remove("baseline_avg_cost");
    assert_error(
        no_cost,
        "/baseline_avg_cost",
        "`baseline_avg_cost` is missing; give the average cost per decision, a number 0 or more (0 when decisions cost nothing)",
    );
    let mut no_cost = ok();
    no_cost.as_object_mut().unwrap().remove("canary_avg_cost");
    assert_eq!(error(no_cost).pointer(), "/canary_avg_cost");
    assert_error(
        with(ok(), "canary_avg_cost", json!(-0.5)),
        "/canary_avg_cost",
        "`canary_avg_cost` must be a number 0 or more, found a number `-0.5`",
    );
    assert_error(
        with(ok(), "baseline_avg_cost", Value::Null),
        "/baseline_avg_cost",
        "`baseline_avg_cost` must be a number 0 or more, found null",
    );
    assert_error(
        with(ok(), "cost_histogram", json!({"abc": 1})),
        "/cost_histogram/abc",
        "`cost_histogram[\"abc\"]` is not a cost: write each cost as a number 0 or more, such as \"0.5\"",
    );
    for key in ["-1", "inf", "NaN", ""] {
        let e = error(with(ok(), "cost_histogram", json!({key: 1})));
        assert!(matches!(e, MetricsError::BadCost { .. }), "{key}: {e}");
        assert!(e.at_key());
    }
    assert_error(
        with(ok(), "cost_histogram", json!({"0.5": "12"})),
        "/cost_histogram/0.5",
        "`cost_histogram[\"0.5\"]` must be a whole number from 0 to 9007199254740991, found a string `\"12\"`",
    );
    assert_error(
        with(ok(), "cost_histogram", json!([1, 2])),
        "/cost_histogram",
        "`cost_histogram` must be an object of costs to counts, such as {\"0\": 80, \"2.5\": 20}, found a list `[1,2]`",
    );
    assert_error(
        with(ok(), "cost_histogram", json!({"0": 60, "1": 41})),
        "/cost_histogram",
        "`cost_histogram` counts 101 decisions, more than the 100 in `total_decisions`; count each decision once",
    );
    metrics(with(ok(), "cost_histogram", json!({"0": 60, "1": 40})));
    assert_error(
        with(
            ok(),
            "stable",
            json!({"total_decisions": 1, "cost_histogram": {"0": 1, "0.0": 1}}),
        ),
        "/stable/cost_histogram",
        "`stable.cost_histogram` counts 2 decisions, more than the 1 in `total_decisions`; count each decision once",
    );
    let mut big = serde_json::Map::new();
    for i in 0..=MAX_HISTOGRAM_COSTS {
        big.insert(i.to_string(), json!(0));
    }
    assert_error(
        with(ok(), "cost_histogram", Value::Object(big.clone())),
        "/cost_histogram",
        "`cost_histogram` has more than 10000 distinct costs; round the costs to fewer values",
    );
    big.remove("0");
    metrics(with(ok(), "cost_histogram", Value::Object(big)));
    assert_error(
        with(
            ok(),
            "cost_histogram",
            json!({"1": 9_007_199_254_740_991_u64, "2": 1}),
        ),
        "/cost_histogram",
        "`cost_histogram` counts 9007199254740992 decisions, more than the 100 in `total_decisions`; count each decision once",
    );
    // Paths: plain names dotted, other keys quoted.
    let path = |doc: Value| error(doc).path().map(ToString::to_string).unwrap();
    assert_eq!(path(with(ok(), "stable", json!({"_x": 1}))), "stable._x");
    assert_eq!(path(with(ok(), "stable", json!({"a_9": 1}))), "stable.a_9");
    assert_eq!(
        path(with(ok(), "stable", json!({"9lives": 1}))),
        "stable[\"9lives\"]"
    );
    assert_eq!(path(with(ok(), "x-y", json!(1))), "[\"x-y\"]");
    assert_eq!(path(with(ok(), "x_y", json!(1))), "x_y");
    // A value is shown whole up to 40 characters, cut past them.
    let forty = "a".repeat(38);
    assert_eq!(
        error(with(ok(), "deny_count", json!(forty))).to_string(),
        format!(
            "`deny_count` must be a whole number from 0 to 9007199254740991, found a string `\"{forty}\"`"
        )
    );
    let cut = "b".repeat(39);
    assert!(
        error(with(ok(), "deny_count", json!(cut)))
            .to_string()
            .ends_with(&format!("found a string `\"{}...`", "b".repeat(36))),
    );
    // Where each error is: a key, or a value.
    assert!(error(with(ok(), "zzz", json!(1))).at_key());
    assert!(!error(with(ok(), "deny_count", json!(-1))).at_key());
    assert_eq!(error(json!(null)).path(), None);
    assert_eq!(
        error(with(ok(), "stable", json!({"a/b": 1}))).pointer(),
        "/stable/a~1b"
    );
    assert_eq!(
        error(with(ok(), "cost_histogram", json!({"x": 1})))
            .path()
            .map(ToString::to_string),
        Some("cost_histogram[\"x\"]".to_string())
    );
}

fn trip(
    total: u64,
    errors: u64,
    denies: u64,
    no_match: u64,
    cost: (f64, f64),
) -> Option<Vec<String>> {
    let m = metrics(
        json!({"total_decisions": total, "error_count": errors, "deny_count": denies,
        "no_match_count": no_match, "baseline_avg_cost": cost.0, "canary_avg_cost": cost.1}),
    );
    rollback_trip(&m).map(|t| t.reasons)
}

#[test]
fn rollback_trips_past_each_threshold_after_fifty_decisions() {
    assert_eq!(AUTO_ROLLBACK_MIN_DECISIONS, 50);
    let even = (1.0, 1.0);
    // Below 50 decisions nothing trips, however bad.
    assert_eq!(trip(49, 49, 49, 49, (1.0, 10.0)), None);
    assert_eq!(trip(0, 0, 0, 0, (1.0, 10.0)), None);
    // At 50: each threshold exactly is not past it; one more is.
    assert_eq!(trip(50, 5, 25, 10, (1.0, 1.5)), None);
    assert_eq!(
        trip(50, 6, 0, 0, even),
        Some(vec!["Error rate 12.00% > 10.00%".to_string()])
    );
    assert_eq!(
        trip(50, 0, 26, 0, even),
        Some(vec!["Deny rate 52.00% > 50.00%".to_string()])
    );
    assert_eq!(
        trip(50, 0, 0, 11, even),
        Some(vec!["No-match rate 22.00% > 20.00%".to_string()])
    );
    assert_eq!(
        trip(50, 0, 0, 0, (1.0, 1.51)),
        Some(vec!["Cost increase 51.00% > 50.00%".to_string()])
    );
    // 0.45 over 0.3 computes as 50.00000000000001%: still exactly 50%.
    assert_eq!(trip(50, 0, 0, 0, (0.3, 0.45)), None);
    // No baseline cost, no cost trip.
    assert_eq!(trip(50, 0, 0, 0, (0.0, 100.0)), None);
    // Exactness on large totals.
    assert!(trip(10_000_000_000, 1_000_000_001, 0, 0, even).is_some());
    assert_eq!(trip(10_000_000_000, 1_000_000_000, 0, 0, even), None);
    // Every threshold crossed is listed.
    assert_eq!(
        trip(100, 20, 60, 30, (2.0, 4.0)),
        Some(vec![
            "Error rate 20.00% > 10.00%".to_string(),
            "Deny rate 60.00% > 50.00%".to_string(),
            "Cost increase 100.00% > 50.00%".to_string(),
            "No-match rate 30.00% > 20.00%".to_string(),
        ])
    );
    // Costs a caller built by hand that are not numbers do not trip.
    let mut m =
        metrics(json!({"total_decisions": 50, "baseline_avg_cost": 1, "canary_avg_cost": 1}));
    m.canary_avg_cost = f64::NAN;
    assert_eq!(rollback_trip(&m), None);
    m.canary_avg_cost = f64::INFINITY;
    assert_eq!(rollback_trip(&m), None);
}
