//! Bad input gives a located, actionable error, never a panic.

use gavel_policy::{Format, LoadError, parse_bundle};

fn error(text: &str, format: Format) -> LoadError {
    match parse_bundle(text, format) {
        Ok(_) => panic!("expected an error for {text:?}"),
        Err(e) => e,
    }
}

/// The first diagnostic's message, line and column.
fn first(e: &LoadError) -> (String, Option<u32>, Option<u32>) {
    let d = e.diagnostics().into_iter().next().unwrap();
    (d.message, d.line, d.column)
}

const GOOD_RULE: &str = r#"{"id": "abc", "agent": "inbox.triage", "action": "quarantine", "effect": "allow", "reason": "A good reason here"}"#;

#[test]
fn malformed_yaml() {
    let e = error("rules:\n  - id: abc\n   agent: [unclosed\n", Format::Yaml);
    let (m, line, col) = first(&e);
    assert!(matches!(e, LoadError::Syntax(_)));
    assert!(m.starts_with("invalid YAML"), "{m}");
    assert!(line.is_some() && col.is_some());
}

#[test]
fn malformed_json() {
    let e = error("{\"rules\": [\n  {\"id\": \"abc\",}\n]}", Format::Json);
    assert_eq!(
        first(&e),
        (
            "expected a string key in double quotes, found `}`".into(),
            Some(2),
            Some(16)
        )
    );
}

#[test]
fn wrong_type() {
    let text = format!(
        "{{\"rules\": [{}]}}",
        GOOD_RULE.replace("\"effect\": \"allow\"", "\"effect\": 3")
    );
    let e = error(&text, Format::Json);
    let d = &e.diagnostics()[0];
    assert_eq!(
        d.message,
        "`effect` must be one of `allow`, `deny`, `needs_approval`, found number `3`"
    );
    assert_eq!(d.pointer.as_deref(), Some("/rules/0/effect"));
    assert_eq!((d.line, d.column), (Some(1), Some(85)));
}

#[test]
fn unknown_operator() {
    let text = "rules:\n  - id: abc\n    agent: inbox.triage\n    action: quarantine\n    effect: allow\n    reason: A good reason here\n    conditions:\n      \"approx:score\": 3\n";
    let e = error(text, Format::Yaml);
    let d = &e.diagnostics()[0];
    assert!(
        d.message.starts_with("unknown operator `approx:`"),
        "{}",
        d.message
    );
    assert_eq!((d.line, d.column), (Some(8), Some(7)));
    assert_eq!(
        d.pointer.as_deref(),
        Some("/rules/0/conditions/approx:score")
    );
}

#[test]
fn invalid_regex() {
    let text = "- id: abc\n  agent: inbox.triage\n  action: quarantine\n  effect: allow\n  reason: A good reason here\n  conditions: {\"matches:subject\": \"[a-\"}\n";
    let e = error(text, Format::Yaml);
    let d = &e.diagnostics()[0];
    assert!(
        d.message.starts_with("invalid regular expression `[a-`"),
        "{}",
        d.message
    );
    assert_eq!(d.line, Some(6));
}

#[test]
fn duplicate_keys() {
    let e = error("rules: []\nmetadata: {}\nrules: []\n", Format::Yaml);
    assert_eq!(
        first(&e),
        (
            "duplicate key `rules` (first at line 1); remove one of them".into(),
            Some(3),
            Some(1)
        )
    );
    let e = error("{\"rules\": [], \"rules\": []}", Format::Json);
    assert!(first(&e).0.starts_with("duplicate key `rules`"));
}

#[test]
fn empty_files() {
    for (text, format) in [
        ("", Format::Yaml),
        ("  \n\n", Format::Json),
        ("# nothing\n", Format::Yaml),
    ] {
        assert_eq!(error(text, format), LoadError::Empty, "{text:?}");
    }
    assert!(LoadError::Empty.to_string().starts_with("file is empty"));
}

#[test]
fn fifty_megabytes_is_refused_before_parsing() {
    let text = "a".repeat(50 * 1024 * 1024);
    let e = error(&text, Format::Yaml);
    assert_eq!(
        e,
        LoadError::TooLarge {
            bytes: 50 * 1024 * 1024
        }
    );
    assert_eq!(
        e.to_string(),
        "file too large: 52428800 bytes, limit 16 MiB"
    );
}

#[test]
fn not_a_bundle_at_all() {
    let e = error("just some text\n", Format::Yaml);
    let (m, line, _) = first(&e);
    assert_eq!(
        m,
        "expected a bundle (an object with `rules`) or a list of rules, found string"
    );
    assert_eq!(line, Some(1));
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "rules:\n  - id: A\n    agent: bad agent\n    action: quarantine\n    effect: allow\n    reason: A good reason here\n  - {id: abc, agent: inbox.triage, action: quarantine, effect: maybe, reason: A good reason here, priority: 101}\n";
    let e = error(text, Format::Yaml);
    let lines: Vec<_> = e.diagnostics().iter().map(|d| d.line).collect();
    assert_eq!(e.diagnostics().len(), 5, "{e}");
    assert!(
        lines.windows(2).all(|w| w[0] <= w[1]),
        "sorted by line: {lines:?}"
    );
}

#[test]
fn garbage_bytes_never_panic() {
    // A few adversarial shapes; the fuzz-like loop below covers truncations.
    let good =
        std::fs::read_to_string(crate::fixtures().join("bundles/inbox-triage.yaml")).unwrap();
    for cut in (0..good.len()).step_by(7) {
        if let Some(prefix) = good.get(..cut) {
            let _ = parse_bundle(prefix, Format::Yaml);
            let _ = parse_bundle(prefix, Format::Json);
        }
    }
    for text in [
        "[",
        "{",
        "- - - -",
        "*a",
        "&a [*a]",
        "? [a]\n: b",
        "!!binary aGVsbG8=",
        "\u{feff}",
    ] {
        let _ = parse_bundle(text, Format::Yaml);
        let _ = parse_bundle(text, Format::Json);
    }
}
