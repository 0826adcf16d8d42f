//! Scaling for the simulator's hand-written SVG bar charts: a "nice" axis maximum with
//! round ticks, and bar lengths proportional to it (a non-zero value always shows).

/** The smallest 1, 2, 2.5 or 5 × 10^k at or above `max` (1 for 0 or less). */
export function niceMax(max: number): number {
  if (!Number.isFinite(max) || max <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) {
    const candidate = step * power;
    if (candidate >= max - 1e-9) return candidate;
  }
  return 10 * power;
}

/** `count + 1` evenly spaced ticks from 0 to `max`. */
export function ticks(max: number, count = 4): number[] {
  const out: number[] = [];
  for (let i = 0; i <= count; i++) out.push((max * i) / count);
  return out;
}

/**
 * Bar lengths in pixels for `values` on an axis of `length` pixels reaching `axisMax`:
 * proportional, at least `minVisible` for any value above zero, never past the axis.
 */
export function barLengths(
  values: readonly number[],
  length: number,
  axisMax: number,
  minVisible = 2,
): number[] {
  const max = axisMax > 0 ? axisMax : 1;
  return values.map((v) => {
    if (!(v > 0)) return 0;
    return Math.min(length, Math.max(minVisible, (v / max) * length));
  });
}

/** A tick's label: 0, 250, 1.5k, 2M. */
export function tickLabel(value: number): string {
  const abs = Math.abs(value);
  const trim = (x: number) => String(Math.round(x * 10) / 10);
  if (abs >= 1_000_000) return `${trim(value / 1_000_000)}M`;
  if (abs >= 1000) return `${trim(value / 1000)}k`;
  return trim(value);
}
