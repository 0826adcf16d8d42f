//! Pure helpers of the Scorecards screen: filtering and labelling the result rows,
//! the filters' options with their counts, plain-language reason codes, the foresight
//! projections as a table, numbers and times as text, the pasted text as a file, and
//! the run history's date filters. The evaluator itself runs in Rust (DESIGN §4); these
//! only show what it returned.

import type { NamedText } from "../../bindings/NamedText";
import type { ScorecardRow } from "../../bindings/ScorecardRow";
import type { JsonValue } from "../../bindings/serde_json/JsonValue";
import type { Verdict } from "../../bindings/Verdict";

/** Every verdict, in the order the screen lists them. */
export const VERDICTS: readonly Verdict[] = ["promote", "pilot", "borderline", "no_go", "demote"];

/** The verdict filter's value for rows that could not be read. */
export const UNREADABLE = "__unreadable";

/** The badge tone of a verdict (see `.badge-*` in styles.css). */
export function verdictTone(verdict: string): string {
  switch (verdict) {
    case "promote":
      return "ok";
    case "pilot":
      return "info";
    case "borderline":
      return "warn";
    case "no_go":
    case "demote":
      return "bad";
    default:
      return "neutral";
  }
}

/** "no_go" → "no go". */
export function verdictText(verdict: string): string {
  return verdict.replaceAll("_", " ");
}

/** A row's name: its workflow id, else where it came from. */
export function rowName(row: ScorecardRow): string {
  const id = row.evaluation?.workflow_id;
  return id != null && id !== "" ? id : row.source;
}

export interface RowFilter {
  /** "" for all, a verdict, or `UNREADABLE`. */
  verdict: string;
  /** "" for all, else a reason code the row must carry. */
  reason: string;
  /** Case-insensitive text in the workflow id or the source. */
  search: string;
}

export const NO_FILTER: RowFilter = { verdict: "", reason: "", search: "" };

/** The indices of the rows `filter` keeps, in order. */
export function filterRows(rows: readonly ScorecardRow[], filter: RowFilter): number[] {
  const needle = filter.search.trim().toLowerCase();
  const out: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as ScorecardRow;
    const e = row.evaluation;
    if (filter.verdict === UNREADABLE) {
      if (e) continue;
    } else if (filter.verdict !== "" && e?.verdict !== filter.verdict) continue;
    if (filter.reason !== "" && !e?.reason_codes.includes(filter.reason)) continue;
    if (
      needle !== "" &&
      !(e?.workflow_id ?? "").toLowerCase().includes(needle) &&
      !row.source.toLowerCase().includes(needle)
    )
      continue;
    out.push(i);
  }
  return out;
}

export interface Option {
  value: string;
  label: string;
}

/** "All" and each verdict present, with its count; "Could not be read" when some were not. */
export function verdictOptions(verdicts: { [key in string]?: number }, invalid: number): Option[] {
  const present = Object.keys(verdicts).filter((v) => (verdicts[v] ?? 0) > 0);
  const known = VERDICTS.filter((v) => present.includes(v));
  const other = present.filter((v) => !(VERDICTS as readonly string[]).includes(v)).sort();
  const options: Option[] = [{ value: "", label: "All verdicts" }];
  for (const v of [...known, ...other])
    options.push({ value: v, label: `${verdictText(v)} (${verdicts[v] ?? 0})` });
  if (invalid > 0) options.push({ value: UNREADABLE, label: `could not be read (${invalid})` });
  return options;
}

/** "All" and each reason code present, most frequent first, with its count. */
export function reasonOptions(codes: { [key in string]?: number }): Option[] {
  const entries = Object.entries(codes)
    .filter((e): e is [string, number] => (e[1] ?? 0) > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return [
    { value: "", label: "All reasons" },
    ...entries.map(([code, n]) => ({ value: code, label: `${code} (${n})` })),
  ];
}

const REASONS: Record<string, string> = {
  alignment_veto:
    "The alignment status is not “pass”: a veto, so the workflow is demoted whatever else it scores.",
  security_veto:
    "The security status is not “pass”: a veto, so the workflow is demoted whatever else it scores.",
  micro_pilot:
    "The sandbox ROI is below the policy's low mark while the adapter ROI is above its high mark: run it as a micro-pilot first.",
  variance_above_max:
    "The scenario scores vary more than the policy's max_variance allows: results are too uneven to trust.",
  raroi_below_threshold:
    "The risk-adjusted ROI (RAROI) is missing or below the policy's raroi_threshold.",
  confidence_below_threshold:
    "The confidence is missing or below the policy's confidence_threshold.",
  scenario_below_min: "The lowest scenario score is below the policy's scenario_score_min.",
  projected_roi_below_threshold:
    "Foresight: a projected ROI in the forecast is below the policy's roi_forecast_min.",
  low_confidence: "Foresight: the forecast's confidence is below foresight_confidence_min.",
  roi_collapse_risk: "Foresight: the forecast reports a risk that the ROI collapses.",
  negative_dag_impact:
    "Foresight: the workflow lowers the ROI of something downstream, and the policy does not allow a negative impact.",
  manual_override: "A signed override set this verdict.",
};

/** A reason code in plain words. */
export function explainReason(code: string): string {
  const known = REASONS[code];
  if (known) return known;
  const scenario = /^(.+)_below_min$/.exec(code);
  if (scenario)
    return `The “${scenario[1]}” scenario scored below its minimum in the policy's scenario_thresholds.`;
  return "Set by a rule of the policy.";
}

/** A number for people: integers as they are, others to at most 4 decimals. */
export function numberText(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return String(n);
  return String(Number.parseFloat(n.toFixed(4)));
}

/** A JSON value in one cell: numbers formatted, strings bare, the rest as compact JSON. */
export function cellText(v: JsonValue | undefined): string {
  if (v === undefined) return "";
  if (v === null) return "—";
  if (typeof v === "number") return numberText(v);
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (Array.isArray(v) && v.every((x) => typeof x === "number"))
    return (v as number[]).map(numberText).join(", ");
  return JSON.stringify(v);
}

export type ProjectionView =
  | { kind: "empty" }
  | { kind: "table"; columns: string[]; rows: string[][] }
  | { kind: "text"; text: string };

const isObject = (v: JsonValue): v is { [key in string]?: JsonValue } =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The projections JSON as a table: a list of objects gives a column per key (`cycle`
 * first, then in first-seen order); a list of numbers a row per index; an object of
 * numbers (or of lists) a row per key; anything else its JSON.
 */
export function projectionView(value: JsonValue): ProjectionView {
  if (value === null) return { kind: "empty" };
  if (Array.isArray(value)) {
    if (value.length === 0) return { kind: "empty" };
    if (value.every(isObject)) {
      const columns: string[] = [];
      for (const item of value)
        for (const k of Object.keys(item)) if (!columns.includes(k)) columns.push(k);
      const cycle = columns.indexOf("cycle");
      if (cycle > 0) columns.unshift(...columns.splice(cycle, 1));
      return {
        kind: "table",
        columns,
        rows: value.map((item) => columns.map((c) => cellText(item[c]))),
      };
    }
    if (value.every((v) => typeof v === "number" || v === null))
      return {
        kind: "table",
        columns: ["#", "value"],
        rows: value.map((v, i) => [String(i + 1), cellText(v)]),
      };
    return { kind: "text", text: JSON.stringify(value, null, 2) };
  }
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return { kind: "empty" };
    return {
      kind: "table",
      columns: ["name", "value"],
      rows: keys.map((k) => [k, cellText(value[k])]),
    };
  }
  return { kind: "text", text: cellText(value) };
}

/**
 * The pasted text as the file sent: `pasted.jsonl` (JSON Lines, or one line of JSON);
 * a JSON document spread over several lines (pretty-printed) goes as `pasted.json`, as
 * its lines alone are not scorecards. Blank text is no file.
 */
export function pastedFile(text: string): NamedText | null {
  if (text.trim() === "") return null;
  const lines = text.split("\n").filter((l) => l.trim() !== "").length;
  if (lines > 1) {
    try {
      JSON.parse(text);
      return { name: "pasted.json", text };
    } catch {
      // JSON Lines (or not JSON: the back end says which line).
    }
  }
  return { name: "pasted.jsonl", text };
}

/** The scorecard files to send: the opened ones, then the pasted text. */
export function scorecardFiles(files: readonly NamedText[], pasted: string): NamedText[] {
  const p = pastedFile(pasted);
  return p ? [...files, p] : [...files];
}

/** Adds `added` to `files`, a file of the same name replacing the one there. */
export function addFiles(files: readonly NamedText[], added: readonly NamedText[]): NamedText[] {
  const names = new Set(added.map((f) => f.name));
  return [...files.filter((f) => !names.has(f.name)), ...added];
}

/** A run-history date filter: `since` from the day's start; `until` through its end (UTC). */
export function sinceParam(date: string): string | null {
  return date.trim() === "" ? null : date.trim();
}

export function untilParam(date: string): string | null {
  const d = date.trim();
  if (d === "") return null;
  return /^\d{4}-\d{2}-\d{2}$/.test(d) ? `${d}T23:59:59.999Z` : d;
}

/** "2026-11-23 15:04" from an RFC 3339 time (UTC as stored); the text itself otherwise. */
export function timeText(at: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(at);
  return m ? `${m[1]} ${m[2]}` : at;
}

/** "12 ms", "1.4 s". */
export function elapsedText(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The size of a text for the file list: "12 lines", "1 line". */
export function linesText(text: string): string {
  const n = text === "" ? 0 : text.replace(/\n$/, "").split("\n").length;
  return n === 1 ? "1 line" : `${n.toLocaleString("en")} lines`;
}

/** Reason codes of a run's decision-log line. */
export function runReasons(logLine: JsonValue): string[] {
  if (!isObject(logLine)) return [];
  const codes = logLine.reason_codes;
  return Array.isArray(codes) ? codes.filter((c): c is string => typeof c === "string") : [];
}
