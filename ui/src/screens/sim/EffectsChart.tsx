//! A hand-written SVG bar chart: one labelled horizontal bar per outcome, an axis with
//! round ticks, the count at the end of each bar. Used for a run's effects and, in
//! compare mode, for both versions side by side.

import { barLengths, countAxis, tickLabel } from "./chart";
import { formatCount } from "./format";

export interface Bar {
  label: string;
  value: number;
  /** Class of the bar's colour (`bar-allow`, `bar-deny`, …, see sim.css). */
  tone: string;
}

const LABEL_W = 110;
const BAR_W = 230;
const VALUE_W = 70;
const ROW_H = 26;
const AXIS_H = 22;

export function EffectsChart({ bars, title }: { bars: readonly Bar[]; title: string }) {
  const axis = countAxis(Math.max(0, ...bars.map((b) => b.value)));
  const axisMax = axis.max;
  const lengths = barLengths(
    bars.map((b) => b.value),
    BAR_W,
    axisMax,
  );
  const width = LABEL_W + BAR_W + VALUE_W;
  const height = bars.length * ROW_H + AXIS_H;
  const description = bars.map((b) => `${b.label} ${formatCount(b.value)}`).join(", ");
  return (
    <svg
      className="effects-chart"
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={`${title}: ${description}`}
      preserveAspectRatio="xMinYMin meet"
    >
      <title>{`${title}: ${description}`}</title>
      {axis.ticks.map((t) => {
        const x = LABEL_W + (t / axisMax) * BAR_W;
        return (
          <g key={t} className="chart-tick">
            <line x1={x} x2={x} y1={0} y2={bars.length * ROW_H} />
            <text x={x} y={height - 6} textAnchor="middle">
              {tickLabel(t)}
            </text>
          </g>
        );
      })}
      {bars.map((b, i) => {
        const y = i * ROW_H;
        const len = lengths[i] ?? 0;
        return (
          <g key={b.label}>
            <text
              className="chart-label"
              x={LABEL_W - 8}
              y={y + ROW_H / 2}
              dominantBaseline="middle"
              textAnchor="end"
            >
              {b.label}
            </text>
            <rect
              className={`chart-bar ${b.tone}`}
              x={LABEL_W}
              y={y + 5}
              width={len}
              height={ROW_H - 10}
              rx={2}
            />
            <text
              className="chart-value"
              x={LABEL_W + len + 6}
              y={y + ROW_H / 2}
              dominantBaseline="middle"
            >
              {formatCount(b.value)}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
