//! A fixed-row-height virtual list: renders only the rows in view (plus a few), so a
//! list of 10,000 rows scrolls as smoothly as one of ten. Range maths in `virtual.ts`.

import { type ReactNode, useEffect, useLayoutEffect, useRef, useState } from "react";
import { scrollTopFor, visibleRange } from "../virtual";

export interface VirtualListProps {
  count: number;
  rowHeight: number;
  renderRow: (index: number) => ReactNode;
  /** Accessible name of the list. */
  label: string;
  role?: "list" | "listbox";
  className?: string;
  /** When set, the list scrolls (minimally) so this row is in view. */
  scrollToIndex?: number;
  onKeyDown?: (event: React.KeyboardEvent<HTMLDivElement>) => void;
  tabIndex?: number;
  activeDescendant?: string;
}

export function VirtualList(props: VirtualListProps) {
  const { count, rowHeight, renderRow, scrollToIndex } = props;
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

  useEffect(() => {
    const el = ref.current;
    if (!el || scrollToIndex === undefined || scrollToIndex < 0) return;
    const top = scrollTopFor(scrollToIndex, rowHeight, el.scrollTop, el.clientHeight);
    if (top !== el.scrollTop) el.scrollTop = top;
  }, [scrollToIndex, rowHeight]);

  const listRole = props.role ?? "list";
  const range = visibleRange(count, rowHeight, scrollTop, height);
  const rows: ReactNode[] = [];
  for (let i = range.start; i < range.end; i++) {
    rows.push(
      <div
        key={i}
        className="vrow"
        role={listRole === "list" ? "listitem" : undefined}
        style={{ top: i * rowHeight, height: rowHeight }}
      >
        {renderRow(i)}
      </div>,
    );
  }
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: the list scrolls, and a listbox takes arrow keys
    // biome-ignore lint/a11y/useAriaPropsSupportedByRole: the role is list or listbox, which both take a label
    <div
      ref={ref}
      className={`vlist ${props.className ?? ""}`}
      role={listRole}
      aria-label={props.label}
      aria-activedescendant={listRole === "listbox" ? props.activeDescendant : undefined}
      tabIndex={props.tabIndex}
      onKeyDown={props.onKeyDown}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
    >
      <div className="vlist-inner" style={{ height: range.total }}>
        {rows}
      </div>
    </div>
  );
}
