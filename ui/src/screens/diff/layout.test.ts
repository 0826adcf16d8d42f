import { describe, expect, it } from "vitest";
import { prefixOffsets, rowAt, variableRange } from "./layout";

describe("prefixOffsets", () => {
  it("sums heights", () => {
    expect(prefixOffsets([10, 20, 30])).toEqual([0, 10, 30, 60]);
    expect(prefixOffsets([])).toEqual([0]);
  });
});

describe("rowAt", () => {
  const offsets = prefixOffsets([10, 20, 30]);
  it("finds the row containing a pixel", () => {
    expect(rowAt(offsets, 0)).toBe(0);
    expect(rowAt(offsets, 9)).toBe(0);
    expect(rowAt(offsets, 10)).toBe(1);
    expect(rowAt(offsets, 29)).toBe(1);
    expect(rowAt(offsets, 30)).toBe(2);
    expect(rowAt(offsets, 1000)).toBe(2);
    expect(rowAt(offsets, -5)).toBe(0);
  });
});

describe("variableRange", () => {
  it("renders the rows in view plus overscan", () => {
    const offsets = prefixOffsets(Array.from({ length: 10_000 }, (_, i) => (i % 2 ? 30 : 150)));
    const r = variableRange(offsets, 90_000, 600, 2);
    // 90,000 px is the top of row 1,000 (each pair of rows is 180 px).
    expect(r.start).toBe(998);
    expect(r.end).toBeLessThanOrEqual(1000 + 8 + 2);
    expect(r.end).toBeGreaterThan(1004);
  });
  it("clamps at the end and handles empty lists", () => {
    const offsets = prefixOffsets([100, 100, 100]);
    expect(variableRange(offsets, 99_999, 150, 0)).toEqual({ start: 1, end: 3 });
    expect(variableRange(prefixOffsets([]), 0, 100)).toEqual({ start: 0, end: 0 });
  });
});
