//! Scaling for the simulator's hand-written SVG bar charts: an axis for counts with whole,
//! round ticks, and bar lengths proportional to it (a non-zero value always shows).

/**
 * An axis for counts: a whole, round step (1, 2 or 5 × 10^k) giving about `target`
 * intervals, and the axis maximum, the first multiple of the step at or above `max`.
 */
export function countAxis(max: number, target = 4): { max: number; step: number; ticks: number[] } {
  const top = Number.isFinite(max) && max > 0 ? max : 1;
  const raw = Math.max(1, top / target);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((c) => c >= raw - 1e-9) ?? 10 * power;
  const axisMax = Math.max(step, Math.ceil(top / step - 1e-9) * step);
  const out: number[] = [];
  for (let t = 0; t <= axisMax + 1e-9; t += step) out.push(t);
  return { max: axisMax, step, ticks: out };
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
