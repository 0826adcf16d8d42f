//! Where Gavel now answers as the seed projects do (issue 26): `null` is
//! missing, a dotted key also reads a flat key of that name, integers past
//! ±2^53 are refused instead of rounded, and budgets round and breach as
//! the seed's simulator does. Each expected value is the seed's answer,
//! except for operators the seed's engine does not have (`exists:`, `in:`,
//! `not_in:`: it reads such keys as field names), where they are Gavel's
//! with `null` read as the seed reads `None`.

use gavel_policy::sim::{CaseFormat, SimConfig, parse_cases, simulate};
use gavel_policy::{Engine, Format, Request, parse_bundle};

fn engine(yaml: &str) -> Engine {
    Engine::builder()
        .with_source(yaml, Format::Yaml)
        .build()
        .unwrap()
}

/// The rule that decides `context` for agent `a.b` doing `deploy` (`None`: no
/// rule matched).
fn deciding(engine: &Engine, context: &str) -> Option<String> {
    let text = format!(r#"{{"agent":"a.b","action":"deploy","context":{context}}}"#);
    let request = Request::from_json(&text).unwrap();
    engine.decide(&request).rule_id().map(str::to_string)
}

#[test]
fn a_null_value_is_missing_as_the_seeds_none_is() {
    // The seed: `actual = context.get(key); if actual is None: no match`,
    // and `exists:` false holds for a key absent or None.
    for (condition, null, absent, spam, ham) in [
        ("'!=category': spam", false, false, false, true),
        ("category: null", false, false, false, false),
        ("'==category': null", false, false, false, false),
        ("'exists:category': false", true, true, false, false),
        ("'exists:category': true", false, false, true, true),
        ("'in:category': [null, spam]", false, false, true, false),
        ("'not_in:category': [null, spam]", false, false, false, true),
    ] {
        let e = engine(&format!(
            "rules:\n  - {{id: r-1, agent: a.b, action: deploy, effect: deny, reason: Under test, conditions: {{{condition}}}}}\n"
        ));
        let matched = |context: &str| deciding(&e, context).is_some();
        assert_eq!(matched(r#"{"category":null}"#), null, "{condition} on null");
        assert_eq!(matched("{}"), absent, "{condition} on absent");
        assert_eq!(
            matched(r#"{"category":"spam"}"#),
            spam,
            "{condition} on spam"
        );
        assert_eq!(matched(r#"{"category":"ham"}"#), ham, "{condition} on ham");
    }
    // Nested: a null on the way, or at the end, is missing too.
    let e = engine(
        "rules:\n  - {id: r-1, agent: a.b, action: deploy, effect: deny, reason: Under test, conditions: {'!=sender.domain': x.com}}\n",
    );
    assert_eq!(deciding(&e, r#"{"sender":null}"#), None);
    assert_eq!(deciding(&e, r#"{"sender":{"domain":null}}"#), None);
    assert_eq!(
        deciding(&e, r#"{"sender":{"domain":"y.com"}}"#).as_deref(),
        Some("r-1")
    );
    // `--explain` says why a present null did not count.
    let why = |context: &str| {
        let text = format!(r#"{{"agent":"a.b","action":"deploy","context":{context}}}"#);
        let request = Request::from_json(&text).unwrap();
        let steps = e.explain(&request).steps;
        steps.first().and_then(|s| s.message.clone()).unwrap()
    };
    assert_eq!(
        why(r#"{"sender":{"domain":null}}"#),
        "`sender.domain` is null, which counts as missing"
    );
    assert_eq!(
        why(r#"{"sender":{}}"#),
        "`sender.domain` is not in the request's context"
    );
    assert_eq!(
        why(r#"{"sender.domain":null}"#),
        "`sender.domain` is null, which counts as missing"
    );
}

#[test]
fn a_dotted_key_reads_a_flat_key_of_that_name_when_the_nested_path_is_absent() {
    let e = engine(
        "rules:\n  - {id: r-1, agent: a.b, action: deploy, effect: deny, reason: Under test, conditions: {sender.domain: x.com}}\n  - {id: r-2, agent: a.b, action: deploy, effect: allow, reason: Under test, conditions: {'>=risk.score': 80}}\n",
    );
    assert_eq!(
        deciding(&e, r#"{"sender.domain":"x.com"}"#).as_deref(),
        Some("r-1")
    );
    assert_eq!(
        deciding(&e, r#"{"sender":{"domain":"x.com"}}"#).as_deref(),
        Some("r-1")
    );
    assert_eq!(deciding(&e, r#"{"sender.domain":"y.com"}"#), None);
    // The nested path wins when it is there.
    assert_eq!(
        deciding(
            &e,
            r#"{"sender":{"domain":"y.com"},"sender.domain":"x.com"}"#
        ),
        None
    );
    // A nested null is missing: the flat key is read.
    assert_eq!(
        deciding(&e, r#"{"sender":{"domain":null},"sender.domain":"x.com"}"#).as_deref(),
        Some("r-1")
    );
    // Numbers too, and only the whole name: `risk.scor` and `risk.scores`
    // are other keys.
    assert_eq!(deciding(&e, r#"{"risk.score":80}"#).as_deref(), Some("r-2"));
    assert_eq!(deciding(&e, r#"{"risk.score":79}"#), None);
    assert_eq!(deciding(&e, r#"{"risk.scores":90,"risk.scor":90}"#), None);
    assert_eq!(
        deciding(&e, r#"{"risk":{"score":"x"},"risk.score":90}"#),
        None
    );
}

#[test]
fn integers_past_2_53_are_refused_naming_the_field() {
    let err = Request::from_json(
        r#"{"agent":"a.b","action":"deploy","context":{"order":{"amount":9007199254740993}}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`context.order.amount`") && err.contains("9007199254740993"),
        "{err}"
    );
    let err = Request::from_json(
        r#"{"agent":"a.b","action":"deploy","context":{"ids":[1,-9007199254740993]}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("`context.ids[1]`"), "{err}");
    // ±2^53 itself, and integers a double holds exactly, are read (as
    // bundles read them).
    for (text, n) in [
        ("9007199254740992", 9_007_199_254_740_992.0),
        ("-9007199254740992", -9_007_199_254_740_992.0),
        ("9007199254740994", 9_007_199_254_740_994.0),
        ("1152921504606846976", 1_152_921_504_606_846_976.0),
        ("123456789012345", 123_456_789_012_345.0),
    ] {
        let json = format!(r#"{{"agent":"a.b","action":"deploy","context":{{"n":{text}}}}}"#);
        let r = Request::from_json(&json).unwrap();
        assert_eq!(
            r.context.get("n").and_then(|v| v.as_f64()),
            Some(n),
            "{text}"
        );
    }
    // The rounding the refusal prevents: 2^53 + 1 would equal 2^53.
    let e = engine(
        "rules:\n  - {id: r-1, agent: a.b, action: deploy, effect: deny, reason: Under test, conditions: {n: 9007199254740992}}\n",
    );
    assert_eq!(
        deciding(&e, r#"{"n":9007199254740992}"#).as_deref(),
        Some("r-1")
    );
    assert!(
        Request::from_json(r#"{"agent":"a.b","action":"deploy","context":{"n":9007199254740993}}"#)
            .is_err()
    );
    // Simulation cases read the same way.
    let err = parse_cases(
        "{\"agent\":\"a.b\",\"action\":\"x\"}\n{\"agent\":\"a.b\",\"action\":\"x\",\"context\":{\"n\":18014398509481985}}\n",
        CaseFormat::JsonLines,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`context.n`") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn budgets_round_like_python_and_breach_on_the_exact_total() {
    let sim = |cost: &str, n: usize| {
        let bundle = parse_bundle(
            &format!(
                "rules:\n  - {{id: spend, agent: ops.buyer, action: apply, effect: needs_approval, reason: Needs a sign-off, budget: {{cost: {cost}}}}}\n"
            ),
            Format::Yaml,
        )
        .unwrap();
        let cases = parse_cases(
            &"{\"agent\":\"ops.buyer\",\"action\":\"apply\"}\n".repeat(n),
            CaseFormat::JsonLines,
        )
        .unwrap();
        simulate(&bundle, &cases, &SimConfig::default()).summary
    };
    // Python: round(0.125, 2) == 0.12 (0.125 is exact: a tie, to even);
    // round(0.375, 2) == 0.38; round(2.675, 2) == 2.67 (2.675 is below).
    assert_eq!(sim("0.125", 1).estimated_cost, 0.12);
    assert_eq!(sim("0.375", 1).estimated_cost, 0.38);
    assert_eq!(sim("2.675", 1).estimated_cost, 2.67);
    // Two approvals at $500.002: the seed sums 1000.004 > 1000, a breach,
    // and prints the total as `{:.2f}`.
    let s = sim("500.002", 2);
    assert_eq!(s.estimated_cost, 1000.0);
    assert_eq!(s.breaches, ["budget.cost: $1000.00 > $1000"]);
    // Exactly $1,000 is not a breach.
    assert!(sim("500", 2).breaches.is_empty());
}
