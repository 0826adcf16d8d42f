//! The side-by-side layout of one rule of a diff: each field on its own line, old on the
//! left and new on the right, the fields the back end listed as changed marked on both
//! sides; and the row heights that follow from it. Only presentation: which fields
//! changed, and how each change is classed, comes from Rust.

import type { Class } from "../../bindings/Class";
import type { DiffView } from "../../bindings/DiffView";
import type { RulePair } from "../../bindings/RulePair";
import type { RuleStatus } from "../../bindings/RuleStatus";
import type { JsonValue } from "../../bindings/serde_json/JsonValue";

/** Rule fields in the order the diff lists changes; other fields follow, sorted. */
export const RULE_FIELD_ORDER: readonly string[] = [
  "id",
  "agent",
  "action",
  "effect",
  "conditions",
  "priority",
  "enabled",
  "approvals_required",
  "budget",
  "reason",
  "tags",
  "metadata",
];

export interface FieldLine {
  field: string;
  /** The field's value as text on each side, or null where the rule does not write it. */
  old: string | null;
  new: string | null;
  changed: boolean;
}

/** A JSON value on one line: strings bare, everything else as compact JSON. */
export function formatValue(value: JsonValue | undefined): string {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value) ?? "null";
}

function fieldsOf(rule: JsonValue | null): Record<string, JsonValue | undefined> | null {
  if (rule === null || typeof rule !== "object" || Array.isArray(rule)) return null;
  return rule as Record<string, JsonValue | undefined>;
}

/**
 * The lines of a rule pair: every field either side writes (plus any field listed as
 * changed, which may be written on one side only and defaulted on the other).
 */
export function ruleFieldLines(
  pair: Pick<RulePair, "old" | "new" | "changed_fields">,
): FieldLine[] {
  const oldFields = fieldsOf(pair.old);
  const newFields = fieldsOf(pair.new);
  const names = new Set<string>([
    ...Object.keys(oldFields ?? {}),
    ...Object.keys(newFields ?? {}),
    ...pair.changed_fields,
  ]);
  const known = RULE_FIELD_ORDER.filter((f) => names.has(f));
  const others = [...names].filter((f) => !RULE_FIELD_ORDER.includes(f)).sort();
  const changed = new Set(pair.changed_fields);
  return [...known, ...others].map((field) => {
    const o = oldFields && field in oldFields ? formatValue(oldFields[field]) : null;
    const n = newFields && field in newFields ? formatValue(newFields[field]) : null;
    return { field, old: o, new: n, changed: changed.has(field) };
  });
}

/** The rows shown: every rule, or only those that differ. */
export function visiblePairs(rules: readonly RulePair[], showUnchanged: boolean): RulePair[] {
  return showUnchanged ? [...rules] : rules.filter((r) => r.status !== "unchanged");
}

export interface DiffCounts {
  added: number;
  removed: number;
  modified: number;
  unchanged: number;
}

export function diffCounts(
  view: Pick<DiffView, "added" | "removed" | "modified" | "unchanged">,
): DiffCounts {
  return {
    added: view.added.length,
    removed: view.removed.length,
    modified: view.modified.length,
    unchanged: view.unchanged,
  };
}

/** Whether the two versions differ in nothing the diff looks at. */
export function isIdentical(
  view: Pick<DiffView, "added" | "removed" | "modified" | "metadata_changes">,
): boolean {
  return (
    view.added.length === 0 &&
    view.removed.length === 0 &&
    view.modified.length === 0 &&
    view.metadata_changes.length === 0
  );
}

/** Badge tone of a class: loosening red, tightening amber, neutral grey, none muted. */
export function classTone(c: Class): "bad" | "warn" | "neutral" | "muted" {
  switch (c) {
    case "loosening":
      return "bad";
    case "tightening":
      return "warn";
    case "neutral":
      return "neutral";
    default:
      return "muted";
  }
}

export function statusTone(s: RuleStatus): "ok" | "bad" | "info" | "muted" {
  switch (s) {
    case "added":
      return "ok";
    case "removed":
      return "bad";
    case "modified":
      return "info";
    default:
      return "muted";
  }
}

/** Row geometry in pixels: a header line, then one line per field when expanded. */
export const ROW_HEAD = 30;
export const FIELD_LINE = 19;
export const ROW_PAD = 8;

export function rowHeight(fieldCount: number, expanded: boolean): number {
  return expanded ? ROW_HEAD + fieldCount * FIELD_LINE + ROW_PAD : ROW_HEAD;
}

/** Whether a row opens expanded: rules that changed do, unchanged ones start folded. */
export function expandedByDefault(status: RuleStatus): boolean {
  return status !== "unchanged";
}
