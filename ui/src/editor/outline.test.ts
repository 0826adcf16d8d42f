import { describe, expect, it } from "vitest";
import { ruleOutline } from "./outline";

describe("ruleOutline", () => {
  it("lists the rules of a bundle with their start offsets", () => {
    const text = [
      "apiVersion: gavel/v1",
      "rules:",
      "  - id: one",
      "    agent: x",
      '  - {id: "two", agent: y}',
      "  - id: 'it''s'",
      "",
    ].join("\n");
    const out = ruleOutline(text);
    expect(out.map((e) => e.id)).toEqual(["one", "two", "it's"]);
    expect(text.slice(out[0]!.from, out[0]!.from + 6)).toBe("id: on");
    expect(text[out[1]!.from]).toBe("{");
  });

  it("skips comments between the key and the rules", () => {
    const text = "rules:\n  # kept for history\n  - id: one # trailing\n\n  # next\n  - id: two\n";
    expect(ruleOutline(text).map((e) => e.id)).toEqual(["one", "two"]);
  });

  it("reads a bare list of rules", () => {
    const out = ruleOutline("- id: a\n  agent: x\n- id: b\n");
    expect(out.map((e) => [e.index, e.id])).toEqual([
      [0, "a"],
      [1, "b"],
    ]);
  });

  it("reads JSON", () => {
    const text =
      '{"metadata": {"name": "n"}, "rules": [{"id": "j1", "agent": "x"}, {"agent": "y"}]}';
    const out = ruleOutline(text);
    expect(out.map((e) => e.id)).toEqual(["j1", null]);
    expect(text[out[1]!.from]).toBe("{");
  });

  it("gives rules without an id a null id", () => {
    expect(ruleOutline("rules:\n  - agent: x\n").map((e) => e.id)).toEqual([null]);
  });

  it("is empty for documents without rules or that are not collections", () => {
    expect(ruleOutline("")).toEqual([]);
    expect(ruleOutline("metadata: {name: x}\n")).toEqual([]);
    expect(ruleOutline("just text")).toEqual([]);
    expect(ruleOutline("rules: 3\n")).toEqual([]);
  });

  it("does not take an id nested deeper than the rule", () => {
    expect(
      ruleOutline("rules:\n  - metadata: {id: inner}\n    agent: x\n").map((e) => e.id),
    ).toEqual([null]);
  });
});
