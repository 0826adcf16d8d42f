//! `gavel lint` and diagnostics at the size limit: a 16 MiB bundle of
//! overlapping rules (findings grow with the square of the rules), and
//! one-line files (the source line is megabytes long).

use std::fmt::Write as _;
use std::time::Duration;

use crate::*;

/// Just under the 16 MiB limit.
const NEAR_LIMIT: usize = (16 << 20) - (64 << 10);

/// One agent/action group of rules whose numeric ranges on three fields
/// overlap, `allow` and `deny` alternating, as one line of JSON of about
/// `bytes` bytes: every allow rule conflicts with every deny rule.
fn overlapping_bundle(bytes: usize) -> String {
    let mut text = String::from("{\"rules\":[");
    let mut i = 0u64;
    while text.len() < bytes - 400 {
        if i > 0 {
            text.push(',');
        }
        let effect = if i % 2 == 0 { "allow" } else { "deny" };
        let _ = write!(
            text,
            "{{\"id\":\"r{i:07}\",\"agent\":\"inbox.triage\",\"action\":\"quarantine\",\"effect\":\"{effect}\",\"conditions\":{{\">=a\":{},\"<b\":{},\">c\":-{}}},\"reason\":\"Overlapping rule for the linter\",\"priority\":{}}}",
            i % 97,
            1000 - i % 89,
            i % 83,
            i % 101
        );
        i += 1;
    }
    text.push_str("]}");
    text
}

/// Regression: 2,000 such rules took 655 MB and printed 61 MB of JSON;
/// 10,000 were killed. At 16 MiB (about 90,000 rules) every format stays
/// bounded, the summary counts what was found, and the list is capped.
#[test]
fn lint_of_16_mib_of_overlapping_rules_is_bounded_in_every_format() {
    let dir = workdir();
    let text = overlapping_bundle(NEAR_LIMIT);
    let rules = text.matches("\"id\"").count();
    let path = write(dir.path(), "overlapping.json", &text);
    drop(text);
    for format in ["json", "sarif", "text"] {
        let r = run(dir.path(), &["lint", &path, "--format", format], None);
        r.assert_bounded(
            &format!("lint --format {format}, {rules} overlapping rules, 16 MiB"),
            Duration::from_secs(20),
        );
        assert_eq!(r.code, 0, "warnings only: {}", r.stderr);
        assert!(
            r.stdout.len() < 16 << 20,
            "{format}: {} bytes of output",
            r.stdout.len()
        );
        let out = r.stdout_text();
        match format {
            "json" => {
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                let s = &v["summary"];
                assert_eq!(s["total_rules"].as_u64(), Some(rules as u64));
                assert!(s["left_out"].as_u64().unwrap() > 0, "{s}");
                assert!(s["analysis_incomplete"].as_u64().unwrap() > 0, "{s}");
                assert!(v["warnings"].as_array().unwrap().len() <= 2_000);
                let info = v["info"].as_array().unwrap();
                assert_eq!(info.last().unwrap()["code"], "analysis-incomplete");
            }
            "sarif" => {
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                assert!(v["runs"][0]["results"].as_array().unwrap().len() <= 2_001);
            }
            _ => {
                assert!(out.contains("info[analysis-incomplete]"), "{}", &out[..500]);
                assert!(out.contains("not listed"), "{}", &out[out.len() - 500..]);
            }
        }
    }
}

/// A one-line bundle of `rules` valid rules (about 9.7 MB at 55,000).
fn one_line_bundle(rules: usize) -> String {
    let mut text = String::from("[");
    for i in 0..rules {
        if i > 0 {
            text.push(',');
        }
        let _ = write!(
            text,
            "{{\"id\":\"rule-{i:06}\",\"agent\":\"team{}{}.worker\",\"action\":\"quarantine\",\"effect\":\"allow\",\"conditions\":{{\">=risk\":{}}},\"reason\":\"Generated rule, one of many\",\"priority\":{}}}",
            char::from(b'a' + (i % 26) as u8),
            char::from(b'a' + (i / 26 % 26) as u8),
            i % 100,
            i % 101
        );
    }
    text.push(']');
    text
}

/// Regression: one error in a 9.7 MB one-line file printed 19.5 MB (the
/// whole line, twice); a 462 KB one-line bundle with many findings was
/// killed at 24 GB. Now each diagnostic shows a window of the line.
#[test]
fn one_line_files_print_small_diagnostics() {
    let dir = workdir();
    let mut text = one_line_bundle(55_000);
    let at = text.len() / 2;
    let at = at + text[at..].find("\"priority\"").unwrap();
    text.replace_range(at..at + 10, "\"priorty\"");
    let typo = write(dir.path(), "typo.json", &text);
    let r = run(dir.path(), &["validate", &typo], None);
    r.assert_bounded(
        "validate, 9.7 MB one line, one error",
        Duration::from_secs(20),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.len() < 1_000,
        "{} bytes: {}",
        r.stderr.len(),
        r.stderr
    );
    assert!(r.stderr.contains("unknown field `priorty`"), "{}", r.stderr);
    assert!(
        r.stderr.contains("\"priorty\""),
        "the line around it: {}",
        r.stderr
    );

    // Lint lists the typo first, with the same window, among the warnings
    // of the generated rules (lower priorities shadowed by higher ones).
    let r = run(dir.path(), &["lint", &typo], None);
    r.assert_bounded("lint, 9.7 MB one line, one error", Duration::from_secs(20));
    assert_eq!(r.code, 1);
    let out = r.stdout_text();
    assert!(
        out.starts_with("error[invalid-rule]: unknown field `priorty`"),
        "{}",
        &out[..1000]
    );
    assert!(out.len() < 4 << 20, "{} bytes", out.len());
    assert!(
        out.lines().all(|l| l.chars().count() < 400),
        "a line was printed whole"
    );

    // A syntax error deep in the line.
    let mut broken = text.clone();
    let at = broken.len() / 3;
    let at = at + broken[at..].find(":{").unwrap();
    broken.replace_range(at..at + 1, " ");
    let broken = write(dir.path(), "broken.json", &broken);
    let r = run(dir.path(), &["lint", &broken], None);
    r.assert_bounded(
        "lint, 9.7 MB one line, a syntax error",
        Duration::from_secs(20),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.len() < 1_000,
        "{} bytes: {}",
        r.stderr.len(),
        r.stderr
    );
    assert!(r.stderr.contains('^'), "{}", r.stderr);
}

/// Every rule of a 16 MiB one-line bundle has a finding (a short reason,
/// a missing budget): text output shows a window of the line for each of
/// the listed ones, never the line itself.
#[test]
fn lint_text_of_a_16_mib_one_line_bundle_with_a_finding_per_rule_is_bounded() {
    let dir = workdir();
    let text = one_line_bundle(100_000)
        .replace(
            "\"reason\":\"Generated rule, one of many\"",
            "\"reason\":\"short\"",
        )
        .replace("\"effect\":\"allow\"", "\"effect\":\"needs_approval\"");
    assert!(text.len() < 16 << 20, "{}", text.len());
    let path = write(dir.path(), "findings.json", &text);
    let r = run(dir.path(), &["lint", &path], None);
    r.assert_bounded(
        &format!(
            "lint text, {} MB one line, 200,000 findings",
            text.len() >> 20
        ),
        Duration::from_secs(20),
    );
    assert_eq!(r.code, 0);
    let out = r.stdout_text();
    assert!(out.len() < 4 << 20, "{} bytes of output", out.len());
    assert!(out.contains("warning[short-reason]"), "{}", &out[..1000]);
    assert!(
        out.lines().all(|l| l.chars().count() < 400),
        "a line was printed whole"
    );
}

/// A lower-case name for `i` (`a`, `b`, …, `ba`, …).
fn letters(mut i: usize) -> String {
    let mut s = String::new();
    loop {
        s.push(char::from(b'a' + (i % 26) as u8));
        i /= 26;
        if i == 0 {
            return s;
        }
    }
}

/// Regression: the linter's universe of names was built with linear
/// look-ups, and each rule's agent set was a bit per agent the bundle
/// names: 100,000 rules each naming their own agent (under a `*` and a
/// namespace rule), or their own field, took minutes and, for agents,
/// 100,000² bits.
#[test]
fn lint_of_a_bundle_naming_100_000_agents_or_fields_is_bounded() {
    let dir = workdir();
    for (what, rule) in [
        (
            "agents",
            (|i: usize| {
                format!(
                    "{{\"id\":\"r{i:06}\",\"agent\":\"team.{}\",\"action\":\"quarantine\",\"effect\":\"{}\",\"conditions\":{{\">=a\":{}}},\"reason\":\"Distinct agent rule\",\"priority\":{}}}",
                    letters(i),
                    if i % 2 == 0 { "allow" } else { "deny" },
                    i % 50,
                    i % 101
                )
            }) as fn(usize) -> String,
        ),
        ("fields", |i: usize| {
            format!(
                "{{\"id\":\"f{i:06}\",\"agent\":\"inbox.triage\",\"action\":\"quarantine\",\"effect\":\"{}\",\"conditions\":{{\">=field_{}\":1}},\"reason\":\"Distinct field rule\",\"priority\":{}}}",
                if i % 2 == 0 { "allow" } else { "deny" },
                letters(i),
                i % 101
            )
        }),
    ] {
        let mut text = String::from(
            "{\"rules\":[{\"id\":\"wild\",\"agent\":\"*\",\"action\":\"*\",\"effect\":\"deny\",\"reason\":\"Catch all at the bottom\",\"priority\":0},{\"id\":\"team-wide\",\"agent\":\"team.*\",\"action\":\"quarantine\",\"effect\":\"allow\",\"conditions\":{\">=b\":3},\"reason\":\"Namespace-wide rule\",\"priority\":1}",
        );
        for i in 0..100_000 {
            text.push(',');
            text.push_str(&rule(i));
        }
        text.push_str("]}");
        let path = write(dir.path(), &format!("{what}.json"), &text);
        let r = run(dir.path(), &["lint", &path, "--format", "json"], None);
        r.assert_bounded(
            &format!(
                "lint, 100,000 rules naming their own {what}, {} MB",
                text.len() >> 20
            ),
            Duration::from_secs(20),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout_text()).unwrap();
        assert_eq!(v["summary"]["total_rules"], 100_002);
    }
}
