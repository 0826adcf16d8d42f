import { describe, expect, it } from "vitest";
import type { ScorecardRow } from "../../bindings/ScorecardRow";
import type { Verdict } from "../../bindings/Verdict";
import {
  addFiles,
  cellText,
  elapsedText,
  explainReason,
  filterRows,
  linesText,
  NO_FILTER,
  numberText,
  pastedFile,
  projectionView,
  reasonOptions,
  rowName,
  runReasons,
  scorecardFiles,
  sinceParam,
  timeText,
  UNREADABLE,
  untilParam,
  verdictOptions,
  verdictTone,
} from "./results";

const overrides = {
  mode: null,
  applied: null,
  override_id: null,
  legacy: null,
  refused: null,
  bypass_micro_pilot: null,
  forced_verdict: null,
};

function row(
  source: string,
  id: string | null,
  verdict: Verdict,
  reasons: string[] = [],
): ScorecardRow {
  return {
    source,
    evaluation: { workflow_id: id, verdict, reason_codes: reasons, overrides, foresight: null },
    error: null,
  };
}

const bad: ScorecardRow = { source: "batch.jsonl:4", evaluation: null, error: "not JSON" };
const rows: ScorecardRow[] = [
  row("a.json", "invoice-triage", "promote"),
  row("batch.jsonl:1", "Outbound-Email", "no_go", ["raroi_below_threshold"]),
  row("batch.jsonl:2", null, "no_go", ["confidence_below_threshold", "raroi_below_threshold"]),
  bad,
  row("batch.jsonl:5", "forecast-dip", "pilot", ["projected_roi_below_threshold"]),
];

describe("rows", () => {
  it("are named by workflow id, else by source", () => {
    expect(rowName(rows[0]!)).toBe("invoice-triage");
    expect(rowName(rows[2]!)).toBe("batch.jsonl:2");
    expect(rowName(bad)).toBe("batch.jsonl:4");
  });

  it("filter by verdict, reason, unreadable and text (id or source, any case)", () => {
    expect(filterRows(rows, NO_FILTER)).toEqual([0, 1, 2, 3, 4]);
    expect(filterRows(rows, { ...NO_FILTER, verdict: "no_go" })).toEqual([1, 2]);
    expect(filterRows(rows, { ...NO_FILTER, verdict: UNREADABLE })).toEqual([3]);
    expect(filterRows(rows, { ...NO_FILTER, reason: "raroi_below_threshold" })).toEqual([1, 2]);
    expect(
      filterRows(rows, { verdict: "no_go", reason: "confidence_below_threshold", search: "" }),
    ).toEqual([2]);
    expect(filterRows(rows, { ...NO_FILTER, search: " outbound " })).toEqual([1]);
    expect(filterRows(rows, { ...NO_FILTER, search: "JSONL:" })).toEqual([1, 2, 3, 4]);
    expect(filterRows(rows, { ...NO_FILTER, search: "nothing" })).toEqual([]);
  });

  it("filter 10,000 rows quickly", () => {
    const many = Array.from({ length: 10_000 }, (_, i) =>
      row(`b.jsonl:${i + 1}`, `wf-${i}`, i % 2 ? "promote" : "no_go"),
    );
    const t = performance.now();
    expect(filterRows(many, { ...NO_FILTER, verdict: "promote", search: "wf-9" }).length).toBe(556);
    expect(performance.now() - t).toBeLessThan(200);
  });
});

describe("filter options", () => {
  it("list the verdicts present in the screen's order, with counts, and the unreadable", () => {
    expect(verdictOptions({ no_go: 2, promote: 1, demote: 0 }, 1)).toEqual([
      { value: "", label: "All verdicts" },
      { value: "promote", label: "promote (1)" },
      { value: "no_go", label: "no go (2)" },
      { value: UNREADABLE, label: "could not be read (1)" },
    ]);
    expect(verdictOptions({}, 0)).toEqual([{ value: "", label: "All verdicts" }]);
  });

  it("list reason codes most frequent first, then by name", () => {
    expect(reasonOptions({ b: 1, a: 1, c: 3, z: 0 }).map((o) => o.label)).toEqual([
      "All reasons",
      "c (3)",
      "a (1)",
      "b (1)",
    ]);
  });
});

describe("words", () => {
  it("explain known codes, scenario thresholds, and policy codes", () => {
    expect(explainReason("raroi_below_threshold")).toContain("raroi_threshold");
    expect(explainReason("safety_below_min")).toContain("“safety”");
    expect(explainReason("thin_margin")).toBe("Set by a rule of the policy.");
  });

  it("give verdicts a tone", () => {
    expect(verdictTone("promote")).toBe("ok");
    expect(verdictTone("borderline")).toBe("warn");
    expect(verdictTone("demote")).toBe("bad");
    expect(verdictTone("odd")).toBe("neutral");
  });

  it("format numbers, cells, times, durations and sizes", () => {
    expect(numberText(2)).toBe("2");
    expect(numberText(0.123456)).toBe("0.1235");
    expect(numberText(-0.03)).toBe("-0.03");
    expect(cellText(null)).toBe("—");
    expect(cellText(true)).toBe("yes");
    expect(cellText([1, 0.5])).toBe("1, 0.5");
    expect(cellText({ a: 1 })).toBe('{"a":1}');
    expect(timeText("2026-11-23T15:04:05.000Z")).toBe("2026-11-23 15:04");
    expect(timeText("yesterday")).toBe("yesterday");
    expect(elapsedText(12.4)).toBe("12 ms");
    expect(elapsedText(1440)).toBe("1.4 s");
    expect(linesText("")).toBe("0 lines");
    expect(linesText("{}\n")).toBe("1 line");
    expect(linesText("a\nb\nc")).toBe("3 lines");
  });
});

describe("projections", () => {
  it("as a table of a list of objects, cycle first, missing cells blank", () => {
    expect(
      projectionView([
        { roi: 0.05, cycle: 1 },
        { cycle: 2, roi: -0.03, risk: 0.123456 },
      ]),
    ).toEqual({
      kind: "table",
      columns: ["cycle", "roi", "risk"],
      rows: [
        ["1", "0.05", ""],
        ["2", "-0.03", "0.1235"],
      ],
    });
  });

  it("as a table of numbers or of an object; empty; otherwise JSON", () => {
    expect(projectionView([0.5, 1])).toEqual({
      kind: "table",
      columns: ["#", "value"],
      rows: [
        ["1", "0.5"],
        ["2", "1"],
      ],
    });
    expect(projectionView({ a: [1, 2], b: 0.5 })).toEqual({
      kind: "table",
      columns: ["name", "value"],
      rows: [
        ["a", "1, 2"],
        ["b", "0.5"],
      ],
    });
    expect(projectionView([])).toEqual({ kind: "empty" });
    expect(projectionView(null)).toEqual({ kind: "empty" });
    expect(projectionView([1, "x"]).kind).toBe("text");
  });
});

describe("files", () => {
  it("send pasted JSON Lines (and one-line JSON) as pasted.jsonl, pretty JSON as pasted.json", () => {
    expect(pastedFile("  \n")).toBeNull();
    expect(pastedFile('{"a":1}\n{"a":2}')?.name).toBe("pasted.jsonl");
    expect(pastedFile('{"a":1}')?.name).toBe("pasted.jsonl");
    expect(pastedFile('{\n  "a": 1\n}')?.name).toBe("pasted.json");
    expect(pastedFile("not json\nat all")?.name).toBe("pasted.jsonl");
  });

  it("add files, one of the same name replacing it; the pasted text last", () => {
    const a = { name: "a.json", text: "1" };
    const b = { name: "b.json", text: "2" };
    expect(addFiles([a, b], [{ name: "a.json", text: "3" }])).toEqual([
      b,
      { name: "a.json", text: "3" },
    ]);
    expect(scorecardFiles([a], "")).toEqual([a]);
    expect(scorecardFiles([a], '{"x":1}')).toEqual([a, { name: "pasted.jsonl", text: '{"x":1}' }]);
  });
});

describe("run history", () => {
  it("dates: since from the start of the day, until through its end", () => {
    expect(sinceParam("")).toBeNull();
    expect(sinceParam("2026-11-23")).toBe("2026-11-23");
    expect(untilParam(" ")).toBeNull();
    expect(untilParam("2026-11-23")).toBe("2026-11-23T23:59:59.999Z");
    expect(untilParam("2026-11-23T10:00:00Z")).toBe("2026-11-23T10:00:00Z");
  });

  it("reads the reason codes of a log line", () => {
    expect(runReasons({ reason_codes: ["a", 1, "b"] })).toEqual(["a", "b"]);
    expect(runReasons(null)).toEqual([]);
    expect(runReasons({})).toEqual([]);
  });
});
