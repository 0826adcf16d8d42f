//! The command palette (Ctrl/Cmd+K): a fuzzy-filtered list of actions with their
//! shortcuts. Arrow keys move, Enter runs, Escape closes.

import { useEffect, useMemo, useRef, useState } from "react";
import type { Command } from "../commands";
import { fuzzyFilter } from "../fuzzy";
import { formatChord } from "../shortcuts";
import { moveIndex } from "../virtual";
import { trapTab, useRestoreFocus } from "./focus";

function Highlighted({ text, indices }: { text: string; indices: number[] }) {
  const set = new Set(indices);
  return (
    <>
      {[...text].map((ch, i) =>
        set.has(i) ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: characters of a fixed string
          <mark key={i}>{ch}</mark>
        ) : (
          // biome-ignore lint/suspicious/noArrayIndexKey: characters of a fixed string
          <span key={i}>{ch}</span>
        ),
      )}
    </>
  );
}

export function Palette({
  commands,
  isMac,
  onClose,
}: {
  commands: readonly Command[];
  isMac: boolean;
  onClose: () => void;
}) {
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  useRestoreFocus();
  const results = useMemo(() => fuzzyFilter(commands, query, (c) => c.title), [commands, query]);

  useEffect(() => input.current?.focus(), []);

  const run = (command: Command | undefined) => {
    if (!command?.run) return;
    onClose();
    command.run();
  };

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      setActive((a) => moveIndex(a, e.key === "ArrowDown" ? 1 : -1, results.length));
    } else if (e.key === "Enter") {
      e.preventDefault();
      run(results[active]?.item);
    } else if (e.key === "Escape") {
      e.preventDefault();
      onClose();
    } else {
      trapTab(e as React.KeyboardEvent<HTMLElement>);
    }
  };

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: clicking the backdrop closes the palette; Escape does the same from the keyboard
    // biome-ignore lint/a11y/useKeyWithClickEvents: Escape in the input closes it
    <div className="backdrop" onClick={onClose}>
      <div
        className="palette"
        role="dialog"
        aria-modal="true"
        aria-label="Command palette"
        onClick={(e) => e.stopPropagation()}
        onKeyDown={onKeyDown}
      >
        <input
          ref={input}
          type="text"
          role="combobox"
          aria-expanded="true"
          aria-controls="palette-list"
          aria-activedescendant={results[active] ? `palette-${results[active].item.id}` : undefined}
          aria-label="Search commands"
          placeholder="Type a command…"
          value={query}
          onChange={(e) => {
            setQuery(e.target.value);
            setActive(0);
          }}
        />
        <div id="palette-list" role="listbox" aria-label="Commands" className="palette-list">
          {results.length === 0 && (
            <div className="empty-inline">No command matches “{query}”.</div>
          )}
          {results.map(({ item, match }, i) => (
            <div
              key={item.id}
              id={`palette-${item.id}`}
              role="option"
              aria-selected={i === active}
              aria-disabled={!item.run}
              aria-label={item.title}
              tabIndex={-1}
              className={`palette-item${i === active ? " active" : ""}${item.run ? "" : " disabled"}`}
              onMouseEnter={() => setActive(i)}
              onClick={() => run(item)}
              onKeyDown={() => {}}
            >
              <span className="palette-title">
                <Highlighted text={item.title} indices={match.indices} />
                {!item.run && item.unavailable && (
                  <span className="muted"> — {item.unavailable}</span>
                )}
              </span>
              {item.shortcut && <kbd>{formatChord(item.shortcut, isMac)}</kbd>}
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}
