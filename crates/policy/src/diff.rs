//! The diff of two bundle versions and the version bump it suggests
//! (DESIGN §3.4, §11.6).
//!
//! Rules are matched by id. Each change is classed by what it does to
//! decisions: loosening when some request could now get a more permissive
//! effect (deny < needs_approval < allow), tightening in the mirror cases,
//! neutral when no decision can change (reason, tags, metadata). Region
//! growth and shrinkage are decided exactly where the conditions allow, and
//! count as loosening where they do not.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value as Json;

use crate::doc::Node;
use crate::engine::equal;
use crate::lint::{actions_overlap, agents_overlap};
use crate::model::{Bundle, Effect, Field, Rule};
use crate::region::{Region, Universe, subset};
use crate::value::Value;

/// What a change does to decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Class {
    None,
    Neutral,
    Tightening,
    Loosening,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::None => "none",
            Class::Neutral => "neutral",
            Class::Tightening => "tightening",
            Class::Loosening => "loosening",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The semantic-version part to increase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    None,
    Patch,
    Minor,
    Major,
}

impl Bump {
    pub fn of(class: Class) -> Bump {
        match class {
            Class::None => Bump::None,
            Class::Neutral => Bump::Patch,
            Class::Tightening => Bump::Minor,
            Class::Loosening => Bump::Major,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Bump::None => "none",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

/// A field of a rule or of the metadata, before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldChange {
    pub field: String,
    pub before: Json,
    pub after: Json,
}

/// An added or removed rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RuleEntry {
    pub id: String,
    pub class: Class,
    pub effect: Effect,
    pub enabled: bool,
}

/// A rule present in both versions whose fields differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RuleChange {
    pub id: String,
    pub class: Class,
    pub changes: Vec<FieldChange>,
}

/// A metadata field that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MetadataChange {
    pub field: String,
    pub before: Json,
    pub after: Json,
    pub class: Class,
}

/// The difference between two versions: `{added, removed, modified,
/// unchanged, metadata_changes, class, bump, suggested_version}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Diff {
    pub added: Vec<RuleEntry>,
    pub removed: Vec<RuleEntry>,
    pub modified: Vec<RuleChange>,
    pub unchanged: usize,
    pub metadata_changes: Vec<MetadataChange>,
    pub class: Class,
    pub bump: Bump,
    pub suggested_version: String,
}

/// Rule fields and their defaults, in the order changes are listed.
const RULE_FIELDS: [(&str, Option<&str>); 11] = [
    ("agent", None),
    ("action", None),
    ("effect", None),
    ("conditions", Some("{}")),
    ("priority", Some("50")),
    ("enabled", Some("true")),
    ("approvals_required", Some("1")),
    ("budget", Some("null")),
    ("reason", None),
    ("tags", Some("[]")),
    ("metadata", Some("{}")),
];

const METADATA_FIELDS: [(&str, Option<&str>); 8] = [
    ("default_effect", Some("\"deny\"")),
    ("actions", Some("[]")),
    ("timezone", Some("\"UTC\"")),
    ("name", None),
    ("notes", None),
    ("description", None),
    ("owner", None),
    ("labels", Some("{}")),
];

/// How permissive an effect is.
fn rank(e: Effect) -> u8 {
    match e {
        Effect::Deny => 0,
        Effect::NeedsApproval => 1,
        Effect::Allow => 2,
    }
}

fn direction(before: Effect, after: Effect) -> Class {
    match rank(after).cmp(&rank(before)) {
        std::cmp::Ordering::Greater => Class::Loosening,
        std::cmp::Ordering::Less => Class::Tightening,
        std::cmp::Ordering::Equal => Class::Neutral,
    }
}

/// An effect that lets more through than a deny (allow, needs approval).
fn permits(e: Effect) -> bool {
    e != Effect::Deny
}

/// A rule's field as written, with its default filled in.
fn field_value(node: Option<&Node>, name: &str, default: Option<&str>) -> Json {
    match node.and_then(|n| n.get(name)) {
        Some(v) => v.to_json(),
        None => default
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(Json::Null),
    }
}

fn same(a: &Json, b: &Json) -> bool {
    equal(&Value::from_json(a), &Value::from_json(b))
}

fn rule_nodes(b: &Bundle) -> Vec<&Node> {
    match b.document.as_seq() {
        Some(items) => items.iter().collect(),
        None => b
            .document
            .get("rules")
            .and_then(Node::as_seq)
            .map(|s| s.iter().collect())
            .unwrap_or_default(),
    }
}

/// Compares two versions of a bundle.
pub fn diff(old: &Bundle, new: &Bundle) -> Diff {
    let mut universe = Universe::new(&[old, new]);
    let old_nodes = rule_nodes(old);
    let new_nodes = rule_nodes(new);
    let old_by_id: HashMap<&str, &Rule> = old.rules.iter().map(|r| (r.id.as_str(), r)).collect();
    let new_by_id: HashMap<&str, &Rule> = new.rules.iter().map(|r| (r.id.as_str(), r)).collect();

    let mut added = Vec::new();
    let mut modified = Vec::new();
    let mut unchanged = 0;
    for r in &new.rules {
        let Some(before) = old_by_id.get(r.id.as_str()) else {
            let class = if !r.enabled {
                Class::Neutral
            } else if permits(r.effect) {
                Class::Loosening
            } else {
                Class::Tightening
            };
            added.push(RuleEntry {
                id: r.id.clone(),
                class,
                effect: r.effect,
                enabled: r.enabled,
            });
            continue;
        };
        let (bn, an) = (
            old_nodes.get(before.index).copied(),
            new_nodes.get(r.index).copied(),
        );
        if let (Some(b), Some(a)) = (bn, an) {
            if b.same_value(a) {
                unchanged += 1;
                continue;
            }
        }
        let changes: Vec<FieldChange> = RULE_FIELDS
            .iter()
            .filter_map(|(name, default)| {
                let (b, a) = (
                    field_value(bn, name, *default),
                    field_value(an, name, *default),
                );
                (!same(&b, &a)).then(|| FieldChange {
                    field: (*name).to_string(),
                    before: b,
                    after: a,
                })
            })
            .collect();
        if changes.is_empty() {
            unchanged += 1;
            continue;
        }
        let class = classify(before, r, &changes, &mut universe, &old_by_id, &new_by_id);
        modified.push(RuleChange {
            id: r.id.clone(),
            class,
            changes,
        });
    }
    let removed: Vec<RuleEntry> = old
        .rules
        .iter()
        .filter(|r| !new_by_id.contains_key(r.id.as_str()))
        .map(|r| {
            let class = if !r.enabled {
                Class::Neutral
            } else if permits(r.effect) {
                Class::Tightening
            } else {
                Class::Loosening
            };
            RuleEntry {
                id: r.id.clone(),
                class,
                effect: r.effect,
                enabled: r.enabled,
            }
        })
        .collect();

    let metadata_changes = metadata_changes(old, new);
    let class = added
        .iter()
        .map(|e| e.class)
        .chain(removed.iter().map(|e| e.class))
        .chain(modified.iter().map(|m| m.class))
        .chain(metadata_changes.iter().map(|m| m.class))
        .max()
        .unwrap_or(Class::None);
    let bump = Bump::of(class);
    let suggested_version = next_version(old.metadata.version.as_deref(), bump);
    Diff {
        added,
        removed,
        modified,
        unchanged,
        metadata_changes,
        class,
        bump,
        suggested_version,
    }
}

/// The region a rule decides in a version: empty when disabled.
fn live_region(universe: &mut Universe, r: &Rule) -> (Option<Region>, bool) {
    if !r.enabled {
        return (None, true);
    }
    let rr = universe.region(r);
    (Some(rr.region), rr.exact)
}

fn classify(
    before: &Rule,
    after: &Rule,
    changes: &[FieldChange],
    universe: &mut Universe,
    old_by_id: &HashMap<&str, &Rule>,
    new_by_id: &HashMap<&str, &Rule>,
) -> Class {
    let changed = |f: &str| changes.iter().any(|c| c.field == f);
    let mut class = Class::Neutral;
    let region_fields = ["agent", "action", "conditions", "enabled"];

    if region_fields.iter().any(|f| changed(f)) {
        let (rb, exact_b) = live_region(universe, before);
        let (ra, exact_a) = live_region(universe, after);
        if !(exact_b && exact_a) {
            // Cannot compare exactly: count it as loosening (§11.6).
            return Class::Loosening;
        }
        let grows = match (&ra, &rb) {
            (Some(a), Some(b)) => !subset(a, b, universe),
            (Some(a), None) => !a.is_empty(),
            (None, _) => false,
        };
        let shrinks = match (&rb, &ra) {
            (Some(b), Some(a)) => !subset(b, a, universe),
            (Some(b), None) => !b.is_empty(),
            (None, _) => false,
        };
        if grows {
            class = class.max(if permits(after.effect) {
                Class::Loosening
            } else {
                Class::Tightening
            });
        }
        if shrinks {
            class = class.max(if permits(before.effect) {
                Class::Tightening
            } else {
                Class::Loosening
            });
        }
    }
    if changed("effect") && (before.enabled || after.enabled) {
        class = class.max(direction(before.effect, after.effect));
    }
    if changed("approvals_required") && after.effect == Effect::NeedsApproval && after.enabled {
        class = class.max(
            match after.approvals_required.cmp(&before.approvals_required) {
                std::cmp::Ordering::Less => Class::Loosening,
                std::cmp::Ordering::Greater => Class::Tightening,
                std::cmp::Ordering::Equal => Class::Neutral,
            },
        );
    }
    if changed("priority") && before.enabled && after.enabled {
        class = class.max(reordering(before, after, universe, old_by_id, new_by_id));
    }
    class
}

/// Decision order: higher priority first, then file order.
fn precedes(a: &Rule, b: &Rule) -> bool {
    (std::cmp::Reverse(a.priority), a.index) < (std::cmp::Reverse(b.priority), b.index)
}

/// A priority change that moves the rule past overlapping rules: ahead of a
/// stricter one loosens, ahead of a looser one tightens, and the mirror when
/// it falls behind.
fn reordering(
    before: &Rule,
    after: &Rule,
    universe: &mut Universe,
    old_by_id: &HashMap<&str, &Rule>,
    new_by_id: &HashMap<&str, &Rule>,
) -> Class {
    let mut class = Class::Neutral;
    let mine = universe.region(after);
    for (id, other_after) in new_by_id {
        if *id == after.id || !other_after.enabled {
            continue;
        }
        let Some(other_before) = old_by_id.get(id) else {
            continue;
        };
        if !other_before.enabled
            || !agents_overlap(&after.agent, &other_after.agent)
            || !actions_overlap(&after.action, &other_after.action)
        {
            continue;
        }
        let was_first = precedes(before, other_before);
        let is_first = precedes(after, other_after);
        if was_first == is_first {
            continue;
        }
        let theirs = universe.region(other_after);
        let overlap = !(mine.exact && theirs.exact) || mine.region.intersects(&theirs.region);
        if !overlap {
            continue;
        }
        // Whoever now decides the overlap: compare its effect with the
        // effect that decided it before.
        let (now, was) = if is_first {
            (after.effect, other_after.effect)
        } else {
            (other_after.effect, after.effect)
        };
        class = class.max(direction(was, now));
    }
    class
}

fn metadata_changes(old: &Bundle, new: &Bundle) -> Vec<MetadataChange> {
    let (om, nm) = (old.document.get("metadata"), new.document.get("metadata"));
    let uses_time = |b: &Bundle| {
        b.rules.iter().any(|r| {
            r.enabled
                && r.conditions
                    .iter()
                    .any(|c| matches!(c.field, Field::Hour | Field::Weekday))
        })
    };
    METADATA_FIELDS
        .iter()
        .filter_map(|(name, default)| {
            let (before, after) = (
                field_value(om, name, *default),
                field_value(nm, name, *default),
            );
            if same(&before, &after) {
                return None;
            }
            let class = match *name {
                "default_effect" => {
                    direction(old.metadata.default_effect, new.metadata.default_effect)
                }
                // Shifting the clock moves every time window: some request
                // gets a looser outcome somewhere.
                "timezone" if uses_time(old) || uses_time(new) => Class::Loosening,
                _ => Class::Neutral,
            };
            Some(MetadataChange {
                field: (*name).to_string(),
                before,
                after,
                class,
            })
        })
        .collect()
}

/// `1.4.2` bumped; a missing or unreadable version counts as `0.0.0`.
/// Pre-release and build parts are dropped by a bump.
pub fn next_version(current: Option<&str>, bump: Bump) -> String {
    let text = current.unwrap_or("0.0.0");
    if bump == Bump::None {
        return text.to_string();
    }
    let core = text.split(['-', '+']).next().unwrap_or("0.0.0");
    let mut parts = core.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    match bump {
        Bump::Major => format!("{}.0.0", major + 1),
        Bump::Minor => format!("{major}.{}.0", minor + 1),
        Bump::Patch | Bump::None => format!("{major}.{minor}.{}", patch + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_bump() {
        assert_eq!(next_version(Some("1.4.2"), Bump::Major), "2.0.0");
        assert_eq!(next_version(Some("1.4.2"), Bump::Minor), "1.5.0");
        assert_eq!(next_version(Some("1.4.2"), Bump::Patch), "1.4.3");
        assert_eq!(next_version(Some("1.4.2-rc.1+b7"), Bump::Patch), "1.4.3");
        assert_eq!(next_version(Some("1.4.2"), Bump::None), "1.4.2");
        assert_eq!(next_version(None, Bump::Minor), "0.1.0");
    }
}
