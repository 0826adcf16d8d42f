//! Range maths for a virtual list whose rows have known but different heights (the
//! diff's rules: folded or one line per field). Offsets are prefix sums; the rows in
//! view are found by binary search, so 10,000 rules cost a few comparisons a scroll.

/** `offsets[i]` is the top of row i; `offsets[n]` the height of the whole list. */
export function prefixOffsets(heights: readonly number[]): number[] {
  const offsets = new Array<number>(heights.length + 1);
  let top = 0;
  offsets[0] = 0;
  for (let i = 0; i < heights.length; i++) {
    top += Math.max(0, heights[i] ?? 0);
    offsets[i + 1] = top;
  }
  return offsets;
}

/** The row containing pixel `y` (the last row when `y` is past the end, 0 when empty). */
export function rowAt(offsets: readonly number[], y: number): number {
  const n = offsets.length - 1;
  if (n <= 0) return 0;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((offsets[mid] ?? 0) <= y) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Rows to render for a scroll position: `[start, end)`, with `overscan` rows either side. */
export function variableRange(
  offsets: readonly number[],
  scrollTop: number,
  viewportHeight: number,
  overscan = 3,
): { start: number; end: number } {
  const n = offsets.length - 1;
  if (n <= 0) return { start: 0, end: 0 };
  const total = offsets[n] ?? 0;
  const top = Math.min(Math.max(0, scrollTop), Math.max(0, total - viewportHeight));
  const first = rowAt(offsets, top);
  const last = rowAt(offsets, top + Math.max(0, viewportHeight) - 1);
  return { start: Math.max(0, first - overscan), end: Math.min(n, last + 1 + overscan) };
}
