import { describe, expect, it } from "vitest";
import {
  deltaTone,
  effectLabel,
  formatCostDelta,
  formatCount,
  formatElapsed,
  formatMoney,
  formatRate,
  formatRateDelta,
  formatSize,
  formatUnits,
  progressText,
  sortedRuleHits,
  transitionRows,
} from "./format";

describe("numbers", () => {
  it("formats counts, rates, money and units", () => {
    expect(formatCount(1234567)).toBe("1,234,567");
    expect(formatRate(0.4125)).toBe("41.3%");
    expect(formatRate(0)).toBe("0.0%");
    expect(formatRate(1)).toBe("100.0%");
    expect(formatRate(Number.NaN)).toBe("—");
    expect(formatMoney(1200)).toBe("$1,200.00");
    expect(formatMoney(0.05)).toBe("$0.05");
    expect(formatMoney(-3)).toBe("−$3.00");
    expect(formatUnits(120)).toBe("120");
    expect(formatUnits(3.456)).toBe("3.46");
  });
});

describe("deltas", () => {
  it("signs rate deltas in percentage points", () => {
    expect(formatRateDelta(0.025)).toBe("+2.5 pp");
    expect(formatRateDelta(-0.001)).toBe("−0.1 pp");
    expect(formatRateDelta(0)).toBe("±0 pp");
    expect(formatRateDelta(-0)).toBe("±0 pp");
  });
  it("signs cost deltas", () => {
    expect(formatCostDelta(12)).toBe("+$12.00");
    expect(formatCostDelta(-0.5)).toBe("−$0.50");
    expect(formatCostDelta(0.001)).toBe("±$0.00");
    expect(formatCostDelta(1234.5)).toBe("+$1,234.50");
  });
  it("colours more allowed and more cost as a warning, other rates neutrally", () => {
    expect(deltaTone("allow_rate", 0.01)).toBe("bad");
    expect(deltaTone("allow_rate", -0.01)).toBe("good");
    expect(deltaTone("cost", 5)).toBe("bad");
    expect(deltaTone("cost", -5)).toBe("good");
    expect(deltaTone("deny_rate", 0.2)).toBe("info");
    expect(deltaTone("deny_rate", 0)).toBe("zero");
    expect(deltaTone("cost", 0.001)).toBe("zero");
  });
});

describe("formatSize", () => {
  it("picks a unit", () => {
    expect(formatSize(812)).toBe("812 B");
    expect(formatSize(2100)).toBe("2.1 kB");
    expect(formatSize(3_400_000)).toBe("3.4 MB");
  });
});

describe("formatElapsed", () => {
  it("picks a unit", () => {
    expect(formatElapsed(0.42)).toBe("0.4 ms");
    expect(formatElapsed(523.4)).toBe("523 ms");
    expect(formatElapsed(1250)).toBe("1.25 s");
    expect(formatElapsed(123_000)).toBe("2 min 3 s");
    expect(formatElapsed(-1)).toBe("—");
  });
});

describe("progressText", () => {
  it("says N of M cases with the fraction done", () => {
    expect(progressText(4096, 10_000)).toEqual({ text: "4,096 of 10,000 cases", fraction: 0.4096 });
    expect(progressText(12, 10).fraction).toBe(1);
  });
  it("says N cases while the total is unknown", () => {
    expect(progressText(8192, null)).toEqual({ text: "8,192 cases", fraction: null });
  });
});

describe("sortedRuleHits", () => {
  it("sorts by hits, ties in decision order", () => {
    expect(sortedRuleHits({ first: 2, second: 9, third: 2, fourth: 0 })).toEqual([
      { id: "second", hits: 9 },
      { id: "first", hits: 2 },
      { id: "third", hits: 2 },
      { id: "fourth", hits: 0 },
    ]);
    expect(sortedRuleHits({})).toEqual([]);
  });
});

describe("transitionRows", () => {
  it("splits keys and sorts by count", () => {
    expect(
      transitionRows({ "allow->deny": 3, "deny->needs_approval": 7, "x->y": undefined }),
    ).toEqual([
      { key: "deny->needs_approval", from: "deny", to: "needs approval", count: 7 },
      { key: "allow->deny", from: "allow", to: "deny", count: 3 },
    ]);
  });
  it("labels effects", () => {
    expect(effectLabel("needs_approval")).toBe("needs approval");
  });
});
