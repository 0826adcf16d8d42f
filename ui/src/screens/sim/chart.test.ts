import { describe, expect, it } from "vitest";
import { barLengths, niceMax, tickLabel, ticks } from "./chart";

describe("niceMax", () => {
  it("rounds up to 1, 2, 2.5 or 5 times a power of ten", () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(-3)).toBe(1);
    expect(niceMax(1)).toBe(1);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(9)).toBe(10);
    expect(niceMax(180)).toBe(200);
    expect(niceMax(210)).toBe(250);
    expect(niceMax(412)).toBe(500);
    expect(niceMax(1000)).toBe(1000);
    expect(niceMax(0.3)).toBeCloseTo(0.5);
  });
});

describe("ticks", () => {
  it("spaces ticks evenly from zero", () => {
    expect(ticks(200)).toEqual([0, 50, 100, 150, 200]);
    expect(ticks(10, 2)).toEqual([0, 5, 10]);
  });
  it("labels them shortly", () => {
    expect(tickLabel(250)).toBe("250");
    expect(tickLabel(1500)).toBe("1.5k");
    expect(tickLabel(2_000_000)).toBe("2M");
    expect(tickLabel(0.5)).toBe("0.5");
  });
});

describe("barLengths", () => {
  it("scales proportionally to the axis", () => {
    expect(barLengths([0, 50, 100], 200, 100)).toEqual([0, 100, 200]);
  });
  it("keeps a tiny non-zero value visible and never passes the axis", () => {
    expect(barLengths([1, 10_000], 100, 10_000)).toEqual([2, 100]);
    expect(barLengths([300], 100, 200)).toEqual([100]);
  });
  it("survives a zero axis", () => {
    expect(barLengths([0, 0], 100, 0)).toEqual([0, 0]);
  });
});
