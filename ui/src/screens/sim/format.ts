//! How the simulator's numbers read: rates as percentages, signed deltas with their
//! colour, money, elapsed time, progress, and the rule hits and transitions in order.
//! The numbers themselves (rates rounded to 3 decimals, costs to 2) come from Rust.

import type { Deltas } from "../../bindings/Deltas";
import type { Effect } from "../../bindings/Effect";

/** A count with thousands separators: 12,345. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** A rate (0..1) as a percentage with one decimal: 0.4125 → "41.3%". */
export function formatRate(rate: number): string {
  if (!Number.isFinite(rate)) return "—";
  return `${(rate * 100).toFixed(1)}%`;
}

/** Money as the CLI prints it, with separators: $1,200.00. */
export function formatMoney(amount: number): string {
  const sign = amount < 0 ? "−" : "";
  return `${sign}$${Math.abs(amount).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** Compute units, at most two decimals: 120, 3.5. */
export function formatUnits(units: number): string {
  return units.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** A rate delta in percentage points, signed: +2.5 pp, −0.1 pp, ±0 pp. */
export function formatRateDelta(delta: number): string {
  const pp = Math.round(delta * 1000) / 10;
  if (pp === 0) return "±0 pp";
  return `${pp > 0 ? "+" : "−"}${Math.abs(pp).toFixed(1)} pp`;
}

/** A cost delta, signed: +$12.00, −$0.50, ±$0.00. */
export function formatCostDelta(delta: number): string {
  const cents = Math.round(delta * 100);
  if (cents === 0) return "±$0.00";
  return `${cents > 0 ? "+" : "−"}$${(Math.abs(cents) / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

export type DeltaKey = keyof Deltas;

/**
 * The colour of a delta (B minus A): more allowed or more cost reads as a warning
 * (`up-bad`), less as a relief (`down-good`); the other rates move without judgement.
 */
export function deltaTone(key: DeltaKey, delta: number): "zero" | "bad" | "good" | "info" {
  const significant =
    key === "cost" ? Math.round(delta * 100) !== 0 : Math.round(delta * 1000) !== 0;
  if (!significant) return "zero";
  if (key === "allow_rate" || key === "cost") return delta > 0 ? "bad" : "good";
  return "info";
}

/** A size in characters (about bytes) as people read it: 812 B, 2.1 kB, 3.4 MB. */
export function formatSize(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)} kB`;
  return `${(n / 1_000_000).toFixed(1)} MB`;
}

/** Elapsed time: 0.4 ms, 523 ms, 1.25 s, 2 min 3 s. */
export function formatElapsed(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** "N of M cases" (or "N cases" while the total is unknown) and the fraction done, if known. */
export function progressText(
  done: number,
  total: number | null,
): { text: string; fraction: number | null } {
  if (total === null || total <= 0) return { text: `${formatCount(done)} cases`, fraction: null };
  return {
    text: `${formatCount(done)} of ${formatCount(total)} cases`,
    fraction: Math.min(1, Math.max(0, done / total)),
  };
}

export interface RuleHit {
  id: string;
  hits: number;
}

/** Rule hits, most hit first; ties keep the decision order the back end gave. */
export function sortedRuleHits(hits: Record<string, number>): RuleHit[] {
  return Object.entries(hits)
    .map(([id, n], order) => ({ id, hits: n, order }))
    .sort((a, b) => b.hits - a.hits || a.order - b.order)
    .map(({ id, hits: n }) => ({ id, hits: n }));
}

export interface Transition {
  key: string;
  from: string;
  to: string;
  count: number;
}

/** `{"allow->deny": 3}` as rows, most frequent first. */
export function transitionRows(transitions: { [key in string]?: number }): Transition[] {
  return Object.entries(transitions)
    .filter((e): e is [string, number] => typeof e[1] === "number")
    .map(([key, count]) => {
      const [from = key, to = ""] = key.split("->");
      return { key, from: effectLabel(from), to: effectLabel(to), count };
    })
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
}

/** An effect (or outcome) as people read it: "needs approval", "no match". */
export function effectLabel(effect: Effect | string): string {
  return effect.replaceAll("_", " ");
}
