import { Text } from "@codemirror/state";
import { describe, expect, it } from "vitest";
import {
  countBySeverity,
  diagnosticSeverity,
  findingRange,
  offsetOf,
  toDiagnostic,
} from "./positions";

const doc = Text.of(["rules:", "  - id: a-rule", "    reason: 😀 ok", ""]);

describe("offsetOf", () => {
  it("maps line and column to an offset", () => {
    expect(offsetOf(doc, 1, 1)).toBe(0);
    expect(offsetOf(doc, 2, 5)).toBe(7 + 4);
  });
  it("counts a surrogate pair as one character", () => {
    const line3 = doc.line(3).from;
    // "    reason: " is 12 characters; the emoji is column 13, the space after it 14.
    expect(offsetOf(doc, 3, 13)).toBe(line3 + 12);
    expect(offsetOf(doc, 3, 14)).toBe(line3 + 14);
  });
  it("clamps lines and columns", () => {
    expect(offsetOf(doc, 0, 0)).toBe(0);
    expect(offsetOf(doc, 99, 1)).toBe(doc.line(4).from);
    expect(offsetOf(doc, 1, 99)).toBe(6);
  });
  it("handles a one-line document", () => {
    const one = Text.of(['[{"id": "x"}]']);
    expect(offsetOf(one, 1, 2)).toBe(1);
  });
});

describe("findingRange", () => {
  it("underlines from the column to the end of the line", () => {
    const from = doc.line(2).from + 4;
    expect(
      findingRange(doc, { line: 2, column: 5, severity: "error", code: "c", message: "m" }),
    ).toEqual({
      from,
      to: doc.line(2).to,
    });
  });
  it("is not empty at the end of a line", () => {
    const r = findingRange(doc, {
      line: 1,
      column: 99,
      severity: "error",
      code: "c",
      message: "m",
    });
    expect(r.to - r.from).toBe(1);
  });
  it("defaults a missing column to the start of the line", () => {
    const r = findingRange(doc, {
      line: 2,
      column: null,
      severity: "warning",
      code: "c",
      message: "m",
    });
    expect(r.from).toBe(doc.line(2).from);
  });
});

describe("toDiagnostic", () => {
  it("carries severity, code and help", () => {
    const d = toDiagnostic(doc, {
      line: 2,
      column: 5,
      severity: "warning",
      code: "short-reason",
      message: "reason is short",
      suggestion: "say why",
    });
    expect(d.severity).toBe("warning");
    expect(d.source).toBe("short-reason");
    expect(d.message).toBe("reason is short\nhelp: say why");
  });
  it("maps unknown severities to info", () => {
    expect(diagnosticSeverity("info")).toBe("info");
    expect(diagnosticSeverity("note")).toBe("info");
  });
});

describe("countBySeverity", () => {
  it("counts", () => {
    expect(
      countBySeverity([
        { severity: "error" },
        { severity: "warning" },
        { severity: "warning" },
        { severity: "info" },
      ]),
    ).toEqual({
      errors: 1,
      warnings: 2,
      info: 1,
    });
  });
});
