import { describe, expect, it } from "vitest";
import { moveIndex, scrollTopFor, visibleRange } from "./virtual";

describe("visibleRange", () => {
  it("renders the rows in view plus overscan", () => {
    expect(visibleRange(10_000, 20, 0, 100, 2)).toEqual({
      start: 0,
      end: 7,
      offset: 0,
      total: 200_000,
    });
    expect(visibleRange(10_000, 20, 1000, 100, 2)).toEqual({
      start: 48,
      end: 57,
      offset: 960,
      total: 200_000,
    });
  });
  it("handles partial rows at both edges", () => {
    const r = visibleRange(100, 20, 10, 50, 0);
    expect([r.start, r.end]).toEqual([0, 3]);
  });
  it("clamps at the end and past-the-end scroll positions", () => {
    const r = visibleRange(100, 20, 99_999, 100, 2);
    expect(r.end).toBe(100);
    expect(r.start).toBe(93);
  });
  it("handles an empty list and negative scroll", () => {
    expect(visibleRange(0, 20, 0, 100)).toEqual({ start: 0, end: 0, offset: 0, total: 0 });
    expect(visibleRange(5, 20, -50, 100, 0)).toEqual({ start: 0, end: 5, offset: 0, total: 100 });
  });
  it("renders a bounded number of rows however long the list", () => {
    const r = visibleRange(1_000_000, 28, 5_000_000, 600);
    expect(r.end - r.start).toBeLessThan(40);
  });
});

describe("scrollTopFor", () => {
  it("leaves a visible row alone", () => {
    expect(scrollTopFor(3, 20, 0, 100)).toBe(0);
  });
  it("scrolls up to a row above", () => {
    expect(scrollTopFor(2, 20, 100, 100)).toBe(40);
  });
  it("scrolls down just enough for a row below", () => {
    expect(scrollTopFor(10, 20, 0, 100)).toBe(120);
  });
});

describe("moveIndex", () => {
  it("clamps", () => {
    expect(moveIndex(0, -1, 5)).toBe(0);
    expect(moveIndex(4, 1, 5)).toBe(4);
    expect(moveIndex(-1, 1, 5)).toBe(0);
    expect(moveIndex(2, 1, 0)).toBe(-1);
  });
});
