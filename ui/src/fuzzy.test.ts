import { describe, expect, it } from "vitest";
import { fuzzyFilter, fuzzyMatch } from "./fuzzy";

describe("fuzzyMatch", () => {
  it("matches characters in order, case-insensitively", () => {
    expect(fuzzyMatch("sv", "Save")?.indices).toEqual([0, 2]);
    expect(fuzzyMatch("SAVE", "save")).not.toBeNull();
    expect(fuzzyMatch("vs", "Save")).toBeNull();
    expect(fuzzyMatch("x", "Save")).toBeNull();
  });
  it("matches everything on an empty query", () => {
    expect(fuzzyMatch("", "anything")).toEqual({ score: 0, indices: [] });
    expect(fuzzyMatch("   ", "anything")).toEqual({ score: 0, indices: [] });
  });
  it("prefers word starts", () => {
    expect(fuzzyMatch("ln", "Lint now")?.indices).toEqual([0, 5]);
  });
  it("ignores spaces in the query", () => {
    expect(fuzzyMatch("go diff", "Go to Diff")).not.toBeNull();
  });
});

describe("fuzzyFilter", () => {
  const actions = [
    "Go to Bundles",
    "Go to Editor",
    "Save",
    "Lint now",
    "Simulate current bundle",
    "New bundle",
  ];
  it("ranks prefix and contiguous matches first", () => {
    const names = fuzzyFilter(actions, "lint", (a) => a).map((r) => r.item);
    expect(names[0]).toBe("Lint now");
  });
  it("ranks word-start matches above scattered ones", () => {
    const names = fuzzyFilter(actions, "nb", (a) => a).map((r) => r.item);
    expect(names[0]).toBe("New bundle");
  });
  it("keeps the original order for an empty query and drops non-matches", () => {
    expect(fuzzyFilter(actions, "", (a) => a).map((r) => r.item)).toEqual(actions);
    expect(fuzzyFilter(actions, "zzz", (a) => a)).toEqual([]);
  });
  it("is stable for equal scores", () => {
    const same = ["ab", "ab", "ab"].map((text, id) => ({ text, id }));
    expect(fuzzyFilter(same, "ab", (x) => x.text).map((r) => r.item.id)).toEqual([0, 1, 2]);
  });
});
