//! The actions of the command palette and keyboard shortcuts. Screen-specific actions
//! (save, lint now, simulate, toggle problems) are provided by the screen on view
//! through `useScreenCommands`; the shell supplies navigation and "New bundle".

import { createContext, useContext, useEffect } from "react";
import { type Navigate, NEW_BUNDLE_TEXT, RAIL } from "./route";

export type ScreenCommandId = "save" | "lint" | "simulate" | "toggleProblems" | "addRule";

export type ScreenCommands = Partial<Record<ScreenCommandId, () => void>>;

export interface Command {
  id: string;
  title: string;
  /** A chord such as "Mod+Shift+L" (see `shortcuts.ts`). */
  shortcut?: string;
  /** Absent when the action is not available on the current screen. */
  run?: () => void;
  /** Why it is not available, shown greyed in the palette. */
  unavailable?: string;
}

export const SCREEN_COMMANDS: readonly {
  id: ScreenCommandId;
  title: string;
  shortcut?: string;
  unavailable: string;
}[] = [
  { id: "save", title: "Save", shortcut: "Mod+S", unavailable: "open a bundle in the editor" },
  {
    id: "lint",
    title: "Lint now",
    shortcut: "Mod+Shift+L",
    unavailable: "open a bundle in the editor",
  },
  {
    id: "simulate",
    title: "Simulate current bundle",
    shortcut: "Mod+Enter",
    unavailable: "select a saved version",
  },
  {
    id: "toggleProblems",
    title: "Toggle problems panel",
    unavailable: "open a bundle in the editor",
  },
  { id: "addRule", title: "Add rule", unavailable: "open an editable bundle in the editor" },
];

/** Setter through which the screen on view registers its handlers with the shell. */
export const ScreenCommandsContext = createContext<(commands: ScreenCommands) => void>(() => {});

/**
 * Registers `commands` while the calling screen is mounted and `enabled` (the editor
 * stays mounted, hidden, while other screens are shown, so that unsaved work survives). Pass a stable object
 * (`useMemo`) or handlers that read refs, so the shell is not updated every render.
 */
export function useScreenCommands(commands: ScreenCommands, enabled = true): void {
  const set = useContext(ScreenCommandsContext);
  useEffect(() => {
    if (!enabled) return;
    set(commands);
    return () => set({});
  }, [set, commands, enabled]);
}

/**
 * Every action of the palette: the palette itself, the rail's screens (Mod+1..4), the
 * screen on view's actions (unavailable where it supplies none) and "New bundle".
 */
export function shellCommands(
  navigate: Navigate,
  screen: ScreenCommands,
  openPalette: () => void,
): Command[] {
  const list: Command[] = [
    { id: "palette", title: "Show command palette", shortcut: "Mod+K", run: openPalette },
  ];
  RAIL.forEach((item, i) => {
    list.push({
      id: `go-${item.screen}`,
      title: `Go to ${item.title}`,
      shortcut: i < 9 ? `Mod+${i + 1}` : undefined,
      run: () => navigate({ screen: item.screen }),
    });
  });
  for (const c of SCREEN_COMMANDS) {
    list.push({
      id: c.id,
      title: c.title,
      shortcut: c.shortcut,
      run: screen[c.id],
      unavailable: c.unavailable,
    });
  }
  list.push({
    id: "new-bundle",
    title: "New bundle",
    run: () => navigate({ screen: "editor", draftText: NEW_BUNDLE_TEXT }),
  });
  return list;
}
