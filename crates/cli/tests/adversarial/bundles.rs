//! Bundles at the size limit: refused before parsing, and parsed whole
//! within the bounds.

use std::time::Duration;

use crate::*;

/// Regression: a file over 16 MiB is refused before it is read, by size.
#[test]
fn over_the_size_limit_is_refused_before_parsing() {
    let dir = workdir();
    let big = write(dir.path(), "big.json", vec![b' '; (16 << 20) + 1]);
    let r = run(dir.path(), &["validate", &big], None);
    r.assert_bounded("validate 16 MiB + 1", Duration::from_secs(10));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("file too large"), "{}", r.stderr);
    assert!(r.peak_bytes < 64 << 20, "refused without reading it whole");
}

fn alias_bomb() -> String {
    let mut text = format!("big: &s \"{}\"\nrepeats:\n", "x".repeat(1 << 20));
    for _ in 0..2_000 {
        text.push_str("  - *s\n");
    }
    text
}

/// Regression: the alias limit counted values, not bytes: a 1 MB string
/// anchored once and repeated 2,000 times took 4.1 GB, in `validate` and in
/// the governance policy loader alike.
#[test]
fn yaml_aliases_are_bounded_by_expanded_bytes() {
    let dir = workdir();
    let bomb = write(dir.path(), "bomb.yaml", alias_bomb());
    let r = run(dir.path(), &["validate", &bomb], None);
    r.assert_bounded("validate, 1 MB alias x 2,000", Duration::from_secs(10));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("once its aliases are expanded"),
        "{}",
        r.stderr
    );

    let card = write(
        dir.path(),
        "card.json",
        r#"{"raroi": 2.0, "confidence": 0.9}"#,
    );
    let r = run(
        dir.path(),
        &["scorecard", "eval", &card, "--policy", &bomb, "--no-log"],
        None,
    );
    r.assert_bounded("scorecard eval, policy alias bomb", Duration::from_secs(10));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("once its aliases are expanded"),
        "{}",
        r.stderr
    );
}

fn regex_bundle(patterns: impl Iterator<Item = String>) -> String {
    let mut text = String::from("rules:\n");
    for (i, p) in patterns.enumerate() {
        text.push_str(&format!(
            "  - {{id: r{i:05}, agent: inbox.triage, action: quarantine, effect: allow, \
             reason: A good reason here, conditions: {{\"matches:subject\": '{p}'}}}}\n"
        ));
    }
    text
}

/// Regression: 5,000 rules with `matches: '\w{20}'` (869 KB) took 44 s and
/// 5.8 GB; 5,000 distinct ones must stop at the bundle's regex budget, and
/// 5,000 oversized ones took 32 s to refuse.
#[test]
fn regular_expressions_have_a_bundle_budget() {
    let dir = workdir();
    let same = write(
        dir.path(),
        "same.yaml",
        regex_bundle((0..5_000).map(|_| r"\w{20}".to_string())),
    );
    let r = run(dir.path(), &["validate", &same], None);
    r.assert_bounded("5,000 identical \\w{20}", Duration::from_secs(10));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(dir.path(), &["lint", &same, "--format", "json"], None);
    r.assert_bounded("lint 5,000 identical \\w{20}", Duration::from_secs(20));

    let distinct = write(
        dir.path(),
        "distinct.yaml",
        regex_bundle((0..5_000).map(|i| format!(r"\w{{20}}-{i}"))),
    );
    let r = run(dir.path(), &["validate", &distinct], None);
    r.assert_bounded("5,000 distinct \\w{20}", Duration::from_secs(10));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("need more than 64 MiB compiled"),
        "{}",
        r.stderr
    );

    let oversized = write(
        dir.path(),
        "oversized.yaml",
        regex_bundle((0..5_000).map(|i| format!(r"\w{{500}}{i}"))),
    );
    let r = run(dir.path(), &["validate", &oversized], None);
    r.assert_bounded("5,000 oversized patterns", Duration::from_secs(10));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("compiles to more than 1 MiB"),
        "{}",
        r.stderr
    );
}

/// Regression: each key of a mapping was compared with every earlier one
/// (hours for a million keys), and each unknown field was looked up again
/// to locate it (40,000 took 2.5 s). Both are indexed now: a mapping of
/// half a million unknown keys (hours when n²) is refused in seconds,
/// listing the first problems.
#[test]
fn a_mapping_of_half_a_million_keys_is_read_in_seconds() {
    let dir = workdir();
    let keys = 500_000;
    let json: Vec<String> = (0..keys).map(|i| format!("\"k{i}\":1")).collect();
    let json = write(
        dir.path(),
        "wide.json",
        format!("{{\"rules\":[],\"metadata\":{{{}}}}}", json.join(",")),
    );
    let yaml: String = (0..keys).map(|i| format!("  k{i}: 1\n")).collect();
    let yaml = write(dir.path(), "wide.yaml", format!("metadata:\n{yaml}"));
    for (name, file) in [("JSON object", &json), ("YAML mapping", &yaml)] {
        let r = run(dir.path(), &["validate", file, "--format", "json"], None);
        r.assert_bounded(
            &format!("validate, a {name} of 500,000 keys"),
            Duration::from_secs(30),
        );
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert!(
            // 499,900 unknown fields, and the YAML lacks `rules` too.
            r.stderr.contains("and 499900 more problems not listed")
                || r.stderr.contains("and 499901 more problems not listed"),
            "{name}: {}",
            &r.stderr[r.stderr.len().saturating_sub(500)..]
        );
    }
    // A duplicate far into a wide mapping is still found.
    let mut dup: Vec<String> = (0..keys).map(|i| format!("\"k{i}\":1")).collect();
    dup.push("\"k7\":2".into());
    let dup = write(
        dir.path(),
        "dup.json",
        format!("{{\"rules\":[],\"metadata\":{{{}}}}}", dup.join(",")),
    );
    let r = run(dir.path(), &["validate", &dup], None);
    r.assert_bounded("a duplicate after 500,000 keys", Duration::from_secs(10));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("duplicate key `k7`"), "{}", r.stderr);
}

/// Regression: a 15 MB array of tiny rules held 1.37 GB of located tree
/// before the values cap and the shrunk collections; it is refused by the
/// cap on values a document may hold.
#[test]
fn a_document_of_millions_of_values_is_refused_by_count() {
    let dir = workdir();
    let rules: Vec<&str> = vec!["{\"x\":1}"; 2_000_000];
    let dense = write(
        dir.path(),
        "dense.json",
        format!("{{\"rules\":[{}]}}", rules.join(",")),
    );
    let r = run(dir.path(), &["validate", &dense], None);
    r.assert_bounded("validate, 2,000,000 one-key rules", Duration::from_secs(10));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("more than 2000000 values"),
        "{}",
        r.stderr
    );
}
