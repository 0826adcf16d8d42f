//! The diff: matching by id, field changes, and the class of every kind of
//! change (DESIGN §11.6), with the version bump it suggests.

use gavel_policy::{Bump, Class, Diff, Format, diff, parse_bundle};

fn rule(id: &str, effect: &str, extra: &str) -> String {
    format!(
        "  - {{id: {id}, agent: inbox.triage, action: quarantine, effect: {effect}, reason: Reason long enough{extra}}}\n"
    )
}

fn bundle(version: &str, rules: &[String]) -> String {
    format!(
        "metadata: {{name: demo, version: {version}}}\nrules:\n{}",
        rules.concat()
    )
}

fn d(old: &str, new: &str) -> Diff {
    diff(
        &parse_bundle(old, Format::Yaml).unwrap(),
        &parse_bundle(new, Format::Yaml).unwrap(),
    )
}

/// Class of a one-rule change from `before` to `after` (both a rule's extra text and effect).
fn class_of(before: (&str, &str), after: (&str, &str)) -> Class {
    let old = bundle("1.0.0", &[rule("subject", before.0, before.1)]);
    let new = bundle("1.0.0", &[rule("subject", after.0, after.1)]);
    let r = d(&old, &new);
    r.class
}

#[test]
fn nothing_changed() {
    let b = bundle(
        "1.2.3",
        &[rule("a-rule", "allow", ""), rule("b-rule", "deny", "")],
    );
    let r = d(&b, &b);
    assert_eq!(
        (r.class, r.bump, r.suggested_version.as_str(), r.unchanged),
        (Class::None, Bump::None, "1.2.3", 2)
    );
    // Key order and 1 vs 1.0 are not changes; neither is writing a default.
    let a = bundle(
        "1.0.0",
        &[rule("x-rule", "allow", ", conditions: {a: 1, b: 2}")],
    );
    let b = bundle(
        "1.0.0",
        &[rule(
            "x-rule",
            "allow",
            ", conditions: {b: 2, a: 1.0}, priority: 50, enabled: true",
        )],
    );
    assert_eq!(d(&a, &b).class, Class::None);
}

#[test]
fn neutral_changes_bump_the_patch() {
    let old = bundle("1.2.3", &[rule("a-rule", "allow", ", tags: [x]")]);
    let new = bundle(
        "1.2.3",
        &[rule("a-rule", "allow", ", tags: [y]")
            .replace("Reason long enough", "Another reason here")],
    );
    let r = d(&old, &new);
    assert_eq!(
        (r.class, r.bump, r.suggested_version.as_str()),
        (Class::Neutral, Bump::Patch, "1.2.4")
    );
    let m = &r.modified[0];
    let fields: Vec<&str> = m.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["reason", "tags"]);
    assert_eq!(m.changes[1].before, serde_json::json!(["x"]));
    assert_eq!(m.changes[1].after, serde_json::json!(["y"]));
}

#[test]
fn thresholds_on_allow_and_deny_rules() {
    let c = |op_before: &str, op_after: &str, effect: &str| {
        class_of(
            (effect, &format!(", conditions: {{\"{op_before}\": 90}}")),
            (effect, &format!(", conditions: {{\"{op_after}\": 90}}")),
        )
    };
    // >= to > shrinks the region by one point.
    assert_eq!(c(">=risk", ">risk", "allow"), Class::Tightening);
    assert_eq!(c(">risk", ">=risk", "allow"), Class::Loosening);
    assert_eq!(c(">=risk", ">risk", "deny"), Class::Loosening);
    assert_eq!(c(">risk", ">=risk", "deny"), Class::Tightening);
    assert_eq!(
        class_of(
            (
                "needs_approval",
                ", budget: {cost: 1}, conditions: {\">risk\": 90}"
            ),
            (
                "needs_approval",
                ", budget: {cost: 1}, conditions: {\">=risk\": 90}"
            )
        ),
        Class::Loosening
    );
    // A threshold that moves both ways at once (>= 90 to <= 95): grows and shrinks.
    assert_eq!(
        class_of(
            ("allow", ", conditions: {\">=risk\": 90}"),
            ("allow", ", conditions: {\"<=risk\": 95}")
        ),
        Class::Loosening
    );
    // A new condition narrows an allow rule.
    assert_eq!(
        class_of(("allow", ""), ("allow", ", conditions: {kind: spam}")),
        Class::Tightening
    );
}

#[test]
fn effects_move_toward_or_away_from_allow() {
    assert_eq!(class_of(("deny", ""), ("allow", "")), Class::Loosening);
    assert_eq!(
        class_of(("allow", ""), ("needs_approval", ", budget: {cost: 1}")),
        Class::Tightening
    );
    assert_eq!(
        class_of(("deny", ""), ("needs_approval", ", budget: {cost: 1}")),
        Class::Loosening
    );
}

#[test]
fn adding_removing_enabling_disabling() {
    let base = bundle("2.0.0", &[rule("keep", "allow", ", conditions: {k: 1}")]);
    let with = |r: String| bundle("2.0.0", &[rule("keep", "allow", ", conditions: {k: 1}"), r]);
    let added_allow = d(&base, &with(rule("new-allow", "allow", "")));
    assert_eq!(
        (added_allow.class, added_allow.suggested_version.as_str()),
        (Class::Loosening, "3.0.0")
    );
    assert_eq!(added_allow.added[0].id, "new-allow");
    let added_deny = d(&base, &with(rule("new-deny", "deny", "")));
    assert_eq!(
        (added_deny.class, added_deny.suggested_version.as_str()),
        (Class::Tightening, "2.1.0")
    );
    assert_eq!(
        d(&with(rule("old-deny", "deny", "")), &base).class,
        Class::Loosening
    );
    assert_eq!(
        d(&with(rule("old-allow", "allow", "")), &base).class,
        Class::Tightening
    );
    assert_eq!(
        class_of(("deny", ""), ("deny", ", enabled: false")),
        Class::Loosening
    );
    assert_eq!(
        class_of(("allow", ", enabled: false"), ("allow", "")),
        Class::Loosening
    );
    assert_eq!(
        class_of(("allow", ""), ("allow", ", enabled: false")),
        Class::Tightening
    );
    // A disabled rule's edits change nothing.
    assert_eq!(
        class_of(("allow", ", enabled: false"), ("deny", ", enabled: false")),
        Class::Neutral
    );
}

#[test]
fn priority_moves_past_overlapping_rules() {
    let make = |allow_priority: u8| {
        bundle(
            "1.0.0",
            &[
                rule(
                    "deny-spam",
                    "deny",
                    ", priority: 60, conditions: {kind: spam}",
                ),
                rule(
                    "allow-all",
                    "allow",
                    &format!(", priority: {allow_priority}"),
                ),
            ],
        )
    };
    assert_eq!(d(&make(50), &make(70)).class, Class::Loosening);
    assert_eq!(d(&make(70), &make(50)).class, Class::Tightening);
    assert_eq!(d(&make(40), &make(50)).class, Class::Neutral);
    // No overlap: moving past a rule for other requests changes nothing.
    let disjoint = |p: u8| {
        bundle(
            "1.0.0",
            &[
                rule(
                    "deny-spam",
                    "deny",
                    ", priority: 60, conditions: {kind: spam}",
                ),
                rule(
                    "allow-ham",
                    "allow",
                    &format!(", priority: {p}, conditions: {{kind: ham}}"),
                ),
            ],
        )
    };
    assert_eq!(d(&disjoint(50), &disjoint(70)).class, Class::Neutral);
}

#[test]
fn approvals_and_inexact_conditions() {
    let na = |n: u32| {
        (
            "needs_approval",
            format!(", budget: {{cost: 1}}, approvals_required: {n}"),
        )
    };
    let (e1, x1) = na(2);
    let (e2, x2) = na(1);
    assert_eq!(class_of((e1, &x1), (e2, &x2)), Class::Loosening);
    assert_eq!(class_of((e2, &x2), (e1, &x1)), Class::Tightening);
    // A regex change cannot be compared exactly: loosening.
    assert_eq!(
        class_of(
            ("allow", ", conditions: {\"matches:s\": \"^a\"}"),
            ("allow", ", conditions: {\"matches:s\": \"^ab\"}")
        ),
        Class::Loosening
    );
}

#[test]
fn metadata_is_compared() {
    let m = |extra: &str| {
        format!(
            "metadata: {{name: demo, version: 1.0.0{extra}}}\nrules:\n{}",
            rule("r-one", "allow", "")
        )
    };
    let r = d(&m(""), &m(", default_effect: allow"));
    assert_eq!(r.class, Class::Loosening);
    assert_eq!(r.metadata_changes[0].field, "default_effect");
    assert_eq!(r.metadata_changes[0].before, "deny");
    assert_eq!(
        d(
            &m(", default_effect: allow"),
            &m(", default_effect: needs_approval")
        )
        .class,
        Class::Tightening
    );
    assert_eq!(d(&m(""), &m(", notes: hello")).class, Class::Neutral);
    // Version alone is not a change.
    assert_eq!(
        d(&m(""), &m("").replace("1.0.0", "1.0.1")).class,
        Class::None
    );
    // A time zone shift moves time windows only where rules use them.
    assert_eq!(
        d(&m(""), &m(", timezone: Europe/Berlin")).class,
        Class::Neutral
    );
    let timed = |tz: &str| {
        format!(
            "metadata: {{version: 1.0.0{tz}}}\nrules:\n{}",
            rule("r-day", "allow", ", conditions: {\"<$hour\": 9}")
        )
    };
    assert_eq!(
        d(&timed(""), &timed(", timezone: Europe/Berlin")).class,
        Class::Loosening
    );
}

#[test]
fn example_bundle_against_an_edited_copy() {
    let text =
        std::fs::read_to_string(crate::fixtures().join("bundles/inbox-triage.yaml")).unwrap();
    let edited = text.replace(
        "{\">=risk_score\": 90, \"category\": \"phishing\"}",
        "{\">=risk_score\": 80, \"category\": \"phishing\"}",
    );
    assert_ne!(text, edited, "the fixture changed; update this test");
    let r = d(&text, &edited);
    assert_eq!(r.modified.len(), 1);
    assert_eq!(r.modified[0].id, "quarantine-high-risk");
    assert_eq!(
        (r.class, r.bump, r.suggested_version.as_str()),
        (Class::Loosening, Bump::Major, "2.0.0")
    );
    assert_eq!(r.unchanged, 9);
}
