import { describe, expect, it } from "vitest";
import {
  classTone,
  diffCounts,
  expandedByDefault,
  formatValue,
  isIdentical,
  rowHeight,
  ruleFieldLines,
  visiblePairs,
} from "./fields";

describe("formatValue", () => {
  it("shows strings bare and the rest as compact JSON", () => {
    expect(formatValue("inbox.*")).toBe("inbox.*");
    expect(formatValue(90)).toBe("90");
    expect(formatValue(false)).toBe("false");
    expect(formatValue(null)).toBe("null");
    expect(formatValue({ ">=risk_score": 90 })).toBe('{">=risk_score":90}');
    expect(formatValue(["a", "b"])).toBe('["a","b"]');
  });
});

describe("ruleFieldLines", () => {
  it("lists the fields in the diff's order, marking the changed ones on both sides", () => {
    const lines = ruleFieldLines({
      old: { id: "r", effect: "deny", agent: "a", action: "x", tags: ["t"] },
      new: { id: "r", effect: "allow", agent: "a", action: "x", zeta: 1, tags: ["t"] },
      changed_fields: ["effect"],
    });
    expect(lines.map((l) => l.field)).toEqual(["id", "agent", "action", "effect", "tags", "zeta"]);
    expect(lines.find((l) => l.field === "effect")).toEqual({
      field: "effect",
      old: "deny",
      new: "allow",
      changed: true,
    });
    expect(lines.find((l) => l.field === "zeta")).toEqual({
      field: "zeta",
      old: null,
      new: "1",
      changed: false,
    });
  });
  it("shows a changed field written on one side only (the other took its default)", () => {
    const lines = ruleFieldLines({
      old: { id: "r", priority: 60 },
      new: { id: "r" },
      changed_fields: ["priority"],
    });
    expect(lines).toContainEqual({ field: "priority", old: "60", new: null, changed: true });
  });
  it("leaves the missing side empty for added and removed rules", () => {
    const added = ruleFieldLines({
      old: null,
      new: { id: "r", effect: "deny" },
      changed_fields: [],
    });
    expect(added.map((l) => [l.field, l.old, l.new])).toEqual([
      ["id", null, "r"],
      ["effect", null, "deny"],
    ]);
    const removed = ruleFieldLines({ old: { id: "r" }, new: null, changed_fields: [] });
    expect(removed).toEqual([{ field: "id", old: "r", new: null, changed: false }]);
  });
});

const pair = (id: string, status: "added" | "removed" | "modified" | "unchanged") => ({
  id,
  status,
  class: "none" as const,
  old: null,
  new: null,
  changed_fields: [],
});

describe("visiblePairs", () => {
  it("hides unchanged rules unless asked", () => {
    const rules = [
      pair("a", "unchanged"),
      pair("b", "modified"),
      pair("c", "added"),
      pair("d", "removed"),
    ];
    expect(visiblePairs(rules, false).map((r) => r.id)).toEqual(["b", "c", "d"]);
    expect(visiblePairs(rules, true).map((r) => r.id)).toEqual(["a", "b", "c", "d"]);
  });
});

describe("summary", () => {
  const empty = { added: [], removed: [], modified: [], unchanged: 4, metadata_changes: [] };
  it("counts", () => {
    expect(diffCounts(empty)).toEqual({ added: 0, removed: 0, modified: 0, unchanged: 4 });
  });
  it("calls two versions without changes identical", () => {
    expect(isIdentical(empty)).toBe(true);
    expect(
      isIdentical({
        ...empty,
        metadata_changes: [{ field: "notes", before: "a", after: "b", class: "neutral" }],
      }),
    ).toBe(false);
  });
  it("colours classes", () => {
    expect(classTone("loosening")).toBe("bad");
    expect(classTone("tightening")).toBe("warn");
    expect(classTone("neutral")).toBe("neutral");
    expect(classTone("none")).toBe("muted");
  });
  it("sizes rows: folded is the header only", () => {
    expect(rowHeight(10, false)).toBe(rowHeight(0, false));
    expect(rowHeight(10, true)).toBeGreaterThan(rowHeight(9, true));
    expect(expandedByDefault("unchanged")).toBe(false);
    expect(expandedByDefault("modified")).toBe(true);
  });
});
