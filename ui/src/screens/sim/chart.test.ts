import { describe, expect, it } from "vitest";
import { barLengths, countAxis, tickLabel } from "./chart";

describe("tickLabel", () => {
  it("labels ticks shortly", () => {
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

describe("countAxis", () => {
  it("steps by whole, round numbers", () => {
    expect(countAxis(5)).toEqual({ max: 6, step: 2, ticks: [0, 2, 4, 6] });
    expect(countAxis(3)).toEqual({ max: 3, step: 1, ticks: [0, 1, 2, 3] });
    expect(countAxis(502)).toEqual({ max: 600, step: 200, ticks: [0, 200, 400, 600] });
    expect(countAxis(1000)).toEqual({ max: 1000, step: 500, ticks: [0, 500, 1000] });
    expect(countAxis(9_999_999).step).toBe(5_000_000);
  });
  it("has an axis with nothing to show", () => {
    expect(countAxis(0)).toEqual({ max: 1, step: 1, ticks: [0, 1] });
  });
});
