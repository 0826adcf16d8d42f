//! The agreement check CI runs: Gavel, Cedar and regorus (interpreter and
//! virtual machine) give the same effect on every shared request, and the
//! check does catch a translation that is wrong. A last test pins the
//! semantic differences BENCHMARKS.md documents, outside the generated set.

use gavel_bench_peers::agree::{Engines, Scope, check};
use gavel_bench_peers::rego::{INDEXED_POLICY, Program};
use gavel_bench_peers::{
    BUNDLE_SEED, BundleSpec, Peer, REQUEST_SEED, REQUESTS, Translations, requests,
};
use gavel_policy::Effect;

/// All engines agree on the shared requests in `range` at `rules` rules.
fn agree_at(rules: usize, range: std::ops::Range<usize>) {
    let spec = BundleSpec::generate(rules, BUNDLE_SEED);
    let shared = &requests(REQUESTS, REQUEST_SEED)[range];
    // Every engine decides every request prepared, and the first 300 from
    // JSON text as well (the same decision after another decoding).
    let scope = Scope {
        peers: shared.len(),
        peers_json: 300,
    };
    let report =
        check(&spec, &spec.translations(), shared, scope).expect("engines build and decide");
    assert_eq!(report.checked, shared.len());
    let listed: Vec<String> = report
        .disagreements
        .iter()
        .take(5)
        .map(ToString::to_string)
        .collect();
    assert!(
        report.disagreements.is_empty(),
        "{rules} rules: {} disagreements, first: {listed:#?}",
        report.disagreements.len()
    );
    // Every effect is represented, so agreement means something.
    for (effect, count) in ["allow", "deny", "needs_approval"]
        .iter()
        .zip(report.effects)
    {
        assert!(count >= 20, "{rules} rules: only {count} {effect} answers");
    }
}

#[test]
fn engines_agree_at_100_rules() {
    agree_at(100, 0..REQUESTS);
}

// The 1,000-rule check in two halves, so that the test threads share it.
#[test]
fn engines_agree_at_1_000_rules_first_half() {
    agree_at(1_000, 0..REQUESTS / 2);
}

#[test]
fn engines_agree_at_1_000_rules_second_half() {
    agree_at(1_000, REQUESTS / 2..REQUESTS);
}

#[test]
fn about_six_rules_examined_per_request_at_1_000_rules() {
    let spec = BundleSpec::generate(1_000, BUNDLE_SEED);
    let report = check(
        &spec,
        &spec.translations(),
        &requests(2_000, REQUEST_SEED),
        Scope {
            peers: 0,
            peers_json: 0,
        },
    )
    .unwrap();
    assert!(
        (4.0..=8.0).contains(&report.examined_mean),
        "{} rules examined per request",
        report.examined_mean
    );
}

/// Each translation altered in one small way (a threshold off by one, a
/// needs_approval policy reported as allow, a namespace pattern dropped,
/// the effects' order swapped) must be caught.
#[test]
fn a_wrong_translation_is_caught() {
    let spec = BundleSpec::generate(100, BUNDLE_SEED);
    let shared = requests(1_000, REQUEST_SEED);
    let good = spec.translations();
    let alterations: [(&str, Translations); 5] = [
        (
            "cedar `>=` as `>`",
            Translations {
                cedar: good.cedar.replace(" >= ", " > "),
                ..good.clone()
            },
        ),
        (
            "cedar without the needs_approval annotation",
            Translations {
                cedar: good
                    .cedar
                    .replace("@effect(\"needs_approval\")", "@effect(\"allow\")"),
                ..good.clone()
            },
        ),
        (
            "rego `ns.*` as any agent",
            Translations {
                rego: Program {
                    files: good
                        .rego
                        .files
                        .iter()
                        .map(|file| {
                            file.lines()
                                .filter(|l| !l.contains("startswith"))
                                .collect::<Vec<_>>()
                                .join("\n")
                        })
                        .collect(),
                    data: None,
                },
                ..good.clone()
            },
        ),
        (
            "rego needs_approval above deny",
            Translations {
                rego: Program {
                    files: good
                        .rego
                        .files
                        .iter()
                        .map(|file| file.replacen("\tdeny\n", "\tneeds_approval\n", 1))
                        .collect(),
                    data: None,
                },
                ..good.clone()
            },
        ),
        (
            "indexed rego `>=` as `>`",
            Translations {
                rego_indexed: Program {
                    files: vec![INDEXED_POLICY.replacen(
                        "not input.context[field] >= value",
                        "not input.context[field] > value",
                        1,
                    )],
                    data: good.rego_indexed.data.clone(),
                },
                ..good.clone()
            },
        ),
    ];
    for (what, altered) in alterations {
        assert!(
            altered.cedar != good.cedar
                || altered.rego != good.rego
                || altered.rego_indexed != good.rego_indexed,
            "{what}: not altered"
        );
        let report = check(&spec, &altered, &shared, Scope::ALL).unwrap();
        assert!(!report.disagreements.is_empty(), "{what}: not caught");
    }
}

/// The differences BENCHMARKS.md lists, each shown on one request outside
/// the generated set: the generator never produces them.
#[test]
fn documented_differences() {
    let spec = BundleSpec::generate(0, BUNDLE_SEED);
    let mut t = spec.translations();
    t.gavel = r#"{"apiVersion": "gavel/v1", "kind": "PolicyBundle",
        "metadata": {"name": "d", "version": "1.0.0", "default_effect": "deny"},
        "rules": [
          {"id": "risky", "agent": "billing.*", "action": "deploy", "effect": "allow",
           "conditions": {">=risk_score": 70}, "reason": "r"}]}"#
        .to_string();
    t.cedar =
        "permit (principal in Namespace::\"billing\", action == Action::\"deploy\", resource) \
               when { context has risk_score && context.risk_score >= 70 };"
            .to_string();
    t.rego = Program {
        files: vec![
            "package gavel\nimport rego.v1\ndefault decision := \"deny\"\n\
             decision := \"allow\" if {\n\tstartswith(input.agent, \"billing.\")\n\t\
             input.action == \"deploy\"\n\tinput.context.risk_score >= 70\n}\n"
                .to_string(),
        ],
        data: None,
    };
    t.rego_indexed = Program {
        files: vec![INDEXED_POLICY.to_string()],
        data: Some(
            r#"{"rules": {"allow": {"billing.*": {"deploy": [
                {"ge": {"risk_score": 70}, "gt": {}, "le": {}, "lt": {}, "in": {}, "eq": {}}]}}}}"#
                .to_string(),
        ),
    };
    let mut engines = Engines::new(&t).unwrap();
    // Gavel, Cedar, then regorus's interpreter and VM on the rule bodies
    // and on the indexed data.
    let answers = |e: &mut Engines, text: &str| -> [Effect; 6] {
        let g = e.gavel.prepare(text).unwrap();
        let c = e.cedar.prepare(text).unwrap();
        let r = e.regorus.prepare(text).unwrap();
        [
            e.gavel.decide(&g).unwrap(),
            e.cedar.decide(&c).unwrap(),
            e.regorus.decide(&r).unwrap(),
            e.rvm.as_mut().unwrap().decide(&r).unwrap(),
            e.regorus_indexed.decide(&r).unwrap(),
            e.rvm_indexed.decide(&r).unwrap(),
        ]
    };
    use Effect::{Allow, Deny};
    // The same request with a number: all allow.
    assert_eq!(
        answers(
            &mut engines,
            r#"{"agent": "billing.alpha", "action": "deploy", "context": {"risk_score": 80}}"#
        ),
        [Allow; 6]
    );
    // A string where a number is compared: Gavel says false (and records an
    // evaluation error), Cedar's policy errors and is skipped; Rego orders
    // values of different types (numbers before strings), so `"high" >= 70`
    // holds.
    assert_eq!(
        answers(
            &mut engines,
            r#"{"agent": "billing.alpha", "action": "deploy", "context": {"risk_score": "high"}}"#
        ),
        [Deny, Deny, Allow, Allow, Allow, Allow]
    );
    // An agent missing from Cedar's entity store: Cedar cannot know its
    // namespace, Gavel and Rego read it from the name.
    assert_eq!(
        answers(
            &mut engines,
            r#"{"agent": "billing.newcomer", "action": "deploy", "context": {"risk_score": 80}}"#
        ),
        [Allow, Deny, Allow, Allow, Allow, Allow]
    );
    // A number that is not an integer: Cedar has no such number (its
    // `decimal` extension is another type), so the context is refused.
    let fraction =
        r#"{"agent": "billing.alpha", "action": "deploy", "context": {"risk_score": 80.5}}"#;
    assert!(engines.cedar.prepare(fraction).is_err());
    assert_eq!(engines.gavel.decide_json(fraction).unwrap(), Allow);
}
