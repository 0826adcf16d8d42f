//! The rules of a diff side by side, virtualised: only the rows in view are in the DOM,
//! so 10,000 rules scroll smoothly. A row is its header line (id, status, class) and,
//! unfolded, one line per field with the old version on the left and the new on the
//! right; fields the back end listed as changed are marked on both sides. Heights are
//! computed, not measured (`fields.ts`), so scrolling never jumps.

import { useLayoutEffect, useMemo, useRef, useState } from "react";
import type { RulePair } from "../../bindings/RulePair";
import { classTone, type FieldLine, rowHeight, statusTone } from "./fields";
import { prefixOffsets, variableRange } from "./layout";

/** A cell of the rules table (divs, because the rows are positioned by the virtual list). */
function Cell({
  header,
  label,
  className,
  children,
}: {
  header?: boolean;
  label?: string;
  className?: string;
  children: React.ReactNode;
}) {
  return (
    // biome-ignore lint/a11y/useAriaPropsSupportedByRole: cells and row headers take a name; the rule cannot see the role
    <div role={header ? "rowheader" : "cell"} aria-label={label} className={className}>
      {children}
    </div>
  );
}

function Side({
  lines,
  side,
  absent,
}: {
  lines: FieldLine[];
  side: "old" | "new";
  absent: boolean;
}) {
  if (absent) {
    return (
      <Cell className={`rule-side rule-side-${side} absent`}>
        <div className="field-line muted">
          {side === "old" ? "not in the old version" : "not in the new version"}
        </div>
      </Cell>
    );
  }
  return (
    <Cell className={`rule-side rule-side-${side}`}>
      {lines.map((l) => {
        const value = side === "old" ? l.old : l.new;
        return (
          <div
            key={l.field}
            className={`field-line${l.changed ? " changed" : ""}`}
            data-field={l.field}
          >
            <span className="field-name">{l.field}</span>
            {value === null ? (
              <span className="field-value muted" title="not written (the default applies)">
                —
              </span>
            ) : (
              <span className="field-value truncate" title={value}>
                {value}
              </span>
            )}
          </div>
        );
      })}
    </Cell>
  );
}

function RuleRow({
  pair,
  lines,
  expanded,
  onToggle,
}: {
  pair: RulePair;
  lines: FieldLine[];
  expanded: boolean;
  onToggle: () => void;
}) {
  const changed = pair.changed_fields.length;
  return (
    // biome-ignore lint/a11y/useSemanticElements: the virtual list positions its rows, which a <tr> cannot be
    <div
      role="row"
      tabIndex={-1}
      aria-label={`Rule ${pair.id}`}
      aria-expanded={expanded}
      className={`rule-row status-${pair.status}`}
    >
      {/* biome-ignore lint/a11y/noStaticElementInteractions: the fold button in this header is the keyboard path */}
      {/* biome-ignore lint/a11y/useKeyWithClickEvents: the fold button in this header is the keyboard path */}
      <div className="rule-head" onClick={onToggle}>
        <Cell header className="rule-title">
          <button
            type="button"
            className="icon-button fold"
            aria-label={`${expanded ? "Fold" : "Unfold"} rule ${pair.id}`}
            aria-expanded={expanded}
            onClick={(e) => {
              e.stopPropagation();
              onToggle();
            }}
          >
            {expanded ? "▾" : "▸"}
          </button>
          <span className="rule-id truncate mono" title={pair.id}>
            {pair.id}
          </span>
        </Cell>
        <Cell label={`Status of ${pair.id}`}>
          <span className={`badge badge-${statusTone(pair.status)}`}>{pair.status}</span>
        </Cell>
        <Cell label={`Class of ${pair.id}`}>
          <span className={`badge badge-${classTone(pair.class)}`} title={`class: ${pair.class}`}>
            {pair.class}
          </span>
        </Cell>
        <Cell className="rule-changed truncate muted">
          {pair.status === "modified" && (
            <span title={pair.changed_fields.join(", ")}>
              {changed === 1 ? "1 field changed" : `${changed} fields changed`}:{" "}
              {pair.changed_fields.join(", ")}
            </span>
          )}
        </Cell>
      </div>
      {expanded && (
        <>
          <Side lines={lines} side="old" absent={pair.old === null} />
          <Side lines={lines} side="new" absent={pair.new === null} />
        </>
      )}
    </div>
  );
}

export function RuleRows({
  pairs,
  lines,
  isExpanded,
  onToggle,
}: {
  pairs: readonly RulePair[];
  /** The field lines of each pair, index for index. */
  lines: readonly FieldLine[][];
  isExpanded: (pair: RulePair) => boolean;
  onToggle: (pair: RulePair) => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(400);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setHeight(el.clientHeight);
    const observer = new ResizeObserver(() => setHeight(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const heights = useMemo(
    () =>
      pairs.map((p, i) => {
        const absentSide = p.old === null || p.new === null;
        const count = Math.max(lines[i]?.length ?? 0, absentSide ? 1 : 0);
        return rowHeight(count, isExpanded(p));
      }),
    [pairs, lines, isExpanded],
  );
  const offsets = useMemo(() => prefixOffsets(heights), [heights]);
  const range = variableRange(offsets, scrollTop, height);
  const total = offsets[offsets.length - 1] ?? 0;

  const rows: React.ReactNode[] = [];
  for (let i = range.start; i < range.end; i++) {
    const pair = pairs[i];
    if (!pair) continue;
    rows.push(
      <div
        key={`${pair.status}:${pair.id}`}
        className="rule-slot"
        style={{ top: offsets[i], height: heights[i] }}
      >
        <RuleRow
          pair={pair}
          lines={lines[i] ?? []}
          expanded={isExpanded(pair)}
          onToggle={() => onToggle(pair)}
        />
      </div>,
    );
  }

  return (
    // biome-ignore lint/a11y/useSemanticElements: a virtual list's rows come and go, which a <table> cannot
    <div
      ref={ref}
      className="rule-rows"
      role="table"
      aria-label="Rules side by side"
      aria-rowcount={pairs.length}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
    >
      <div style={{ position: "relative", height: total }}>{rows}</div>
    </div>
  );
}
