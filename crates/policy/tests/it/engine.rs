//! The engine's promises as a library: the builder, deciding without
//! allocating, and swapping bundles while other threads decide.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gavel_policy::{Effect, Engine, Format, Request, SharedEngine, parse_bundle};

/// Counts allocations made by the current thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

#[allow(unsafe_code, reason = "a counting wrapper around the system allocator")]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwards the caller's layout to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(crate::fixtures().join("bundles").join(name)).unwrap()
}

#[test]
fn builder_compiles_from_text() {
    let text = fixture("knowledge-management.yaml");
    let engine = Engine::builder()
        .with_source(&text, Format::Yaml)
        .build()
        .unwrap();
    assert!(!engine.rules().is_empty());
    let err = Engine::builder()
        .with_source("rules: [", Format::Yaml)
        .build()
        .unwrap_err();
    assert_eq!(err.code(), "syntax_error");
    let bundle = parse_bundle(&text, Format::Yaml).unwrap();
    assert_eq!(
        Engine::builder()
            .with_bundle(bundle)
            .build()
            .unwrap()
            .rules()
            .len(),
        engine.rules().len()
    );
}

#[test]
fn deciding_does_not_allocate() {
    let engine =
        Engine::compile(&parse_bundle(&fixture("deployment-safety.yaml"), Format::Yaml).unwrap());
    let texts = [
        r#"{"agent":"planner.deploy","action":"deploy","context":{"env":"prod","canary":{"status":"passed","error_rate":0.001},"tag":"v1.2.3"},"timestamp":"2026-11-23T10:00:00Z"}"#,
        r#"{"agent":"planner.deploy","action":"rollback","context":{"emergency":true},"timestamp":"2026-11-23T23:30:00Z"}"#,
        r#"{"agent":"nobody.here","action":"deploy","context":{}}"#,
    ];
    let requests: Vec<Request<'_>> = texts
        .iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect();
    let mut effects = Vec::with_capacity(3_000);
    let before = allocations();
    for _ in 0..1_000 {
        for r in &requests {
            let d = engine.decide(r);
            assert!(d.errors.is_empty());
            effects.push(d.effect);
        }
    }
    assert_eq!(allocations() - before, 0, "decide allocated");
    assert!(effects.contains(&Effect::Allow) && effects.contains(&Effect::Deny));
    // The counter is live: a decision that reports an evaluation error does allocate.
    let bad: Request<'_> = serde_json::from_str(
        r#"{"agent":"planner.deploy","action":"deploy","context":{"env":"prod","canary":{"status":"passed","error_rate":"low"}},"timestamp":"2026-11-23T10:00:00Z"}"#,
    )
    .unwrap();
    let before = allocations();
    let d = engine.decide(&bad);
    assert!(!d.errors.is_empty() && allocations() > before);
}

#[test]
fn swapping_while_other_threads_decide() {
    let allow = r#"[{"id": "all", "agent": "*", "action": "*", "effect": "allow", "reason": "everything is allowed"}]"#;
    let deny = r#"[{"id": "none", "agent": "*", "action": "*", "effect": "deny", "reason": "nothing is allowed"}]"#;
    let compile = |t: &str| Engine::compile(&parse_bundle(t, Format::Json).unwrap());
    let shared = Arc::new(SharedEngine::new(compile(allow)));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let request = Request::new("inbox.triage", "delete");
                let mut seen = [0u64; 2];
                while !stop.load(Ordering::Relaxed) {
                    let engine = shared.load();
                    let d = engine.decide(&request);
                    // Effect and rule always come from the same bundle.
                    match (d.effect, d.rule_id()) {
                        (Effect::Allow, Some("all")) => seen[0] += 1,
                        (Effect::Deny, Some("none")) => seen[1] += 1,
                        other => panic!("torn decision {other:?}"),
                    }
                }
                seen
            })
        })
        .collect();
    for i in 0..2_000 {
        shared.swap(compile(if i % 2 == 0 { deny } else { allow }));
    }
    stop.store(true, Ordering::Relaxed);
    let total: u64 = readers
        .into_iter()
        .map(|r| r.join().unwrap().iter().sum::<u64>())
        .sum();
    assert!(total > 0);
    // The last swap published `allow`; every new snapshot sees it.
    assert_eq!(
        shared.load().decide(&Request::new("a.b", "x")).effect,
        Effect::Allow
    );
}

const EXPLAINED: &str = r#"
metadata: {default_effect: deny}
rules:
  - id: block-spam
    agent: inbox.triage
    action: quarantine
    effect: deny
    priority: 90
    conditions: {category: spam}
    reason: Spam is quarantined by a person
  - id: high-risk
    agent: inbox.*
    action: quarantine
    effect: allow
    priority: 80
    conditions: {">=risk_score": 90, "exists:sender": true}
    reason: High risk goes straight to quarantine
  - id: other-agent
    agent: planner.deploy
    action: quarantine
    effect: allow
    reason: Never tried for an inbox request
  - id: fallback
    agent: "*"
    action: "*"
    effect: needs_approval
    priority: 10
    conditions: {"matches:subject": "^urgent"}
    reason: Everything else urgent needs a person
"#;

fn explain(
    request: &str,
) -> (
    gavel_policy::Decision<'static>,
    Vec<gavel_policy::Step<'static>>,
) {
    let engine: &'static Engine = Box::leak(Box::new(Engine::compile(
        &parse_bundle(EXPLAINED, Format::Yaml).unwrap(),
    )));
    let request: Request<'_> = serde_json::from_str(request).unwrap();
    let e = engine.explain(&request);
    // The explanation decides exactly as `decide` does.
    let plain = engine.decide(&request);
    assert_eq!(
        (plain.effect, plain.rule_id(), plain.errors.len()),
        (
            e.decision.effect,
            e.decision.rule_id(),
            e.decision.errors.len()
        )
    );
    (e.decision, e.steps)
}

/// `decide --explain`: every rule tried, in order, with the first condition
/// that failed and why, or that it matched; rules for other agents are not
/// listed.
#[test]
fn explain_lists_each_rule_tried_with_the_first_failing_condition() {
    let (d, steps) = explain(
        r#"{"agent":"inbox.triage","action":"quarantine","context":{"category":"phishing","risk_score":42,"sender":"x"},"subject":"s"}"#,
    );
    assert_eq!(d.effect, Effect::Deny);
    assert!(d.no_match());
    let ids: Vec<&str> = steps.iter().map(|s| s.rule_id).collect();
    assert_eq!(ids, ["block-spam", "high-risk", "fallback"]);
    assert!(steps.iter().all(|s| !s.matched));
    assert_eq!(steps[0].condition, Some("category"));
    assert_eq!(
        steps[0].message.as_deref(),
        Some(r#"`category: "spam"` does not hold: `category` is "phishing""#)
    );
    assert_eq!(steps[1].condition, Some(">=risk_score"));
    assert_eq!(
        steps[1].message.as_deref(),
        Some("`>=risk_score: 90` does not hold: `risk_score` is 42")
    );
    assert_eq!(
        steps[2].message.as_deref(),
        Some("`subject` is not in the request's context")
    );
    assert_eq!((steps[1].index, steps[1].priority), (1, 80));

    // The second condition fails after the first held; a wrong type says so.
    let (d, steps) =
        explain(r#"{"agent":"inbox.triage","action":"quarantine","context":{"risk_score":95}}"#);
    assert!(d.no_match());
    assert_eq!(steps[1].condition, Some("exists:sender"));
    let (d, steps) = explain(
        r#"{"agent":"inbox.triage","action":"quarantine","context":{"risk_score":"high"}}"#,
    );
    assert_eq!(d.errors.len(), 1);
    assert_eq!(
        steps[1].message.as_deref(),
        Some(r#"`>=risk_score` compares numbers, but `risk_score` is a string ("high")"#)
    );

    // A match ends the list and is marked.
    let (d, steps) = explain(
        r#"{"agent":"inbox.triage","action":"quarantine","context":{"risk_score":95,"sender":"a@b.c"}}"#,
    );
    assert_eq!((d.effect, d.rule_id()), (Effect::Allow, Some("high-risk")));
    assert_eq!(steps.len(), 2);
    assert!(steps[1].matched && steps[1].condition.is_none() && steps[1].message.is_none());
    let json = serde_json::to_value(&steps[1]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"rule_id": "high-risk", "index": 1, "priority": 80, "effect": "allow", "matched": true})
    );

    // No candidate rule at all: an empty list and the default.
    let (d, steps) = explain(r#"{"agent":"nobody.here","action":"deploy"}"#);
    assert!(d.no_match());
    assert_eq!(
        steps.iter().map(|s| s.rule_id).collect::<Vec<_>>(),
        ["fallback"]
    );
}

/// Each kind of failing condition says what was wrong in words.
#[test]
fn explain_says_why_each_kind_of_condition_failed() {
    let bundle = r#"
rules:
  - {id: r-absent, agent: a.b, action: apply, effect: allow, reason: Only without a flag, conditions: {"exists:flag": false}}
  - {id: r-hour, agent: a.b, action: apply, effect: allow, reason: Office hours only here, conditions: {">=$hour": 9}}
  - {id: r-regex, agent: a.b, action: apply, effect: allow, reason: Text that starts urgent, conditions: {"matches:note": "^urgent"}}
  - {id: r-list, agent: a.b, action: apply, effect: allow, reason: Only listed teams here, conditions: {"in:team": ["red", "blue"]}}
  - {id: r-long, agent: a.b, action: apply, effect: allow, reason: A long value compared, conditions: {"text": "x"}}
"#;
    let engine = Engine::compile(&parse_bundle(bundle, Format::Yaml).unwrap());
    let long = "y".repeat(200);
    let text = format!(
        r#"{{"agent":"a.b","action":"apply","context":{{"flag":1,"note":7,"team":"green","text":"{long}"}}}}"#
    );
    let request: Request<'_> = serde_json::from_str(&text).unwrap();
    let e = engine.explain(&request);
    let messages: Vec<&str> = e
        .steps
        .iter()
        .map(|s| s.message.as_deref().unwrap())
        .collect();
    assert_eq!(messages[0], "`flag` is present (1)");
    assert_eq!(
        messages[1],
        "`$hour` needs the request's `timestamp`, which it has not got"
    );
    assert_eq!(
        messages[2],
        "`note` is a number (7), and `^urgent` matches only text"
    );
    assert_eq!(
        messages[3],
        r#"`in:team: ["red","blue"]` does not hold: `team` is "green""#
    );
    // Text that does not match: the pattern and the text.
    let text = r#"{"agent":"a.b","action":"apply","context":{"flag":1,"note":"later please"}}"#;
    let request: Request<'_> = serde_json::from_str(text).unwrap();
    let e2 = engine.explain(&request);
    assert_eq!(
        e2.steps[2].message.as_deref(),
        Some(r#"`matches:note: /^urgent/` does not hold: `note` is "later please""#)
    );
    // Long values are cut to one readable line.
    assert!(messages[4].ends_with('…'), "{}", messages[4]);
    assert!(messages[4].chars().count() < 140, "{}", messages[4]);
    assert!(e.decision.no_match());
    assert!(e.steps.iter().all(|s| !s.matched));
}

/// `in:` and `not_in:` lists of strings are tested as bit sets when every
/// string's id is below 64: a list naming the 65th string of its field, or
/// one string twice, must decide as the list reads, and so must a request
/// with the 65th string against a set holding the first (cargo mutants: a
/// set built with `^` dropped a repeated string, one allowing id 64
/// overflowed or read it as the first). Few rules, so that no index skips
/// any.
#[test]
fn in_lists_of_strings_past_the_64th_or_repeated_match_as_written() {
    // A rule that never matches gives `kind` seventy strings, `s0` first.
    let strings: Vec<String> = (0..70).map(|i| format!("s{i}")).collect();
    let mut rules = vec![
        serde_json::json!({"id": "strings", "agent": "*", "action": "*",
        "effect": "deny", "reason": "never matches",
        "conditions": {"in:kind": strings, "exists:never": true}}),
    ];
    // Lists naming `s64` or `s65` are scanned, the others are bit sets.
    for (id, key, list, flag) in [
        (
            "not-in-65",
            "not_in:kind",
            serde_json::json!(["s65"]),
            Some("flag"),
        ),
        (
            "not-in-0",
            "not_in:kind",
            serde_json::json!(["s0"]),
            Some("other_flag"),
        ),
        ("in-0", "in:kind", serde_json::json!(["s0"]), None),
        ("in-64", "in:kind", serde_json::json!(["s64"]), None),
        ("in-twice", "in:kind", serde_json::json!(["s1", "s1"]), None),
        (
            "not-in-twice",
            "not_in:kind",
            serde_json::json!(["s2", "s2", "s3"]),
            None,
        ),
    ] {
        // The `not_in:` rules above the others are tried only on a flag.
        let mut conditions = serde_json::json!({key: list});
        if let Some(flag) = flag {
            conditions[format!("exists:{flag}")] = serde_json::json!(true);
        }
        rules.push(serde_json::json!({"id": id, "agent": "*", "action": "*",
            "effect": "allow", "reason": "a list", "conditions": conditions}));
    }
    let bundle = serde_json::json!({"metadata": {"default_effect": "deny"}, "rules": rules});
    let engine = Engine::compile(&parse_bundle(&bundle.to_string(), Format::Json).unwrap());
    for (kind, flag, want) in [
        ("s0", "", Some("in-0")),
        ("s64", "", Some("in-64")),
        ("s1", "", Some("in-twice")),
        ("s2", "", None),
        ("s3", "", None),
        ("s4", "", Some("not-in-twice")),
        ("other", "", Some("not-in-twice")),
        ("s65", "flag", Some("not-in-twice")),
        ("s4", "flag", Some("not-in-65")),
        ("s64", "other_flag", Some("not-in-0")),
        ("s0", "other_flag", Some("in-0")),
    ] {
        let flag = if flag.is_empty() {
            String::new()
        } else {
            format!(r#","{flag}":1"#)
        };
        let text =
            format!(r#"{{"agent":"a.b","action":"read","context":{{"kind":"{kind}"{flag}}}}}"#);
        let request: Request<'_> = serde_json::from_str(&text).unwrap();
        assert_eq!(engine.decide(&request).rule_id(), want, "{kind} {flag}");
    }
}
