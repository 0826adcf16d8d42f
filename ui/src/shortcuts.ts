//! Keyboard shortcuts as data: parsing chords such as "Mod+Shift+L", matching them
//! against key events and formatting them for display. Pure, so it is unit-tested.

/** A parsed chord. `mod` is Ctrl on Windows/Linux and Cmd on macOS. */
export interface Chord {
  key: string;
  mod: boolean;
  shift: boolean;
  alt: boolean;
}

/** The part of a `KeyboardEvent` the matcher reads (so tests can pass plain objects). */
export interface KeyLike {
  key: string;
  code?: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
}

/** Parses "Mod+Shift+L", "Mod+Enter", "Mod+1". Modifier names are case-insensitive. */
export function parseChord(text: string): Chord {
  const chord: Chord = { key: "", mod: false, shift: false, alt: false };
  const parts = text.split("+");
  for (const [i, raw] of parts.entries()) {
    const part = raw.trim();
    const lower = part.toLowerCase();
    const last = i === parts.length - 1;
    if (!last && (lower === "mod" || lower === "ctrl" || lower === "cmd")) chord.mod = true;
    else if (!last && lower === "shift") chord.shift = true;
    else if (!last && lower === "alt") chord.alt = true;
    else if (last) chord.key = normaliseKey(part);
    else throw new Error(`unknown modifier \`${part}\` in \`${text}\``);
  }
  if (chord.key === "") throw new Error(`no key in \`${text}\``);
  return chord;
}

function normaliseKey(key: string): string {
  return key.length === 1 ? key.toLowerCase() : key;
}

/** The key an event stands for: digits by their physical key, so Shift+1 is still "1". */
function eventKey(event: KeyLike): string {
  if (event.code?.startsWith("Digit")) return event.code.slice(5);
  if (event.code?.startsWith("Key") && event.code.length === 4)
    return event.code.slice(3).toLowerCase();
  return normaliseKey(event.key);
}

/** Whether `event` is exactly `chord` (extra modifiers do not match). */
export function matchesChord(chord: Chord, event: KeyLike, isMac: boolean): boolean {
  const mod = isMac ? event.metaKey : event.ctrlKey;
  const other = isMac ? event.ctrlKey : event.metaKey;
  return (
    mod === chord.mod &&
    !other &&
    event.shiftKey === chord.shift &&
    event.altKey === chord.alt &&
    eventKey(event) === chord.key
  );
}

/** The first item whose shortcut matches `event`, if any. */
export function findByShortcut<T extends { shortcut?: string }>(
  items: readonly T[],
  event: KeyLike,
  isMac: boolean,
): T | undefined {
  return items.find(
    (item) => item.shortcut !== undefined && matchesChord(parseChord(item.shortcut), event, isMac),
  );
}

/** "Ctrl+Shift+L" on Windows/Linux, "⌘⇧L" on macOS. */
export function formatChord(text: string, isMac: boolean): string {
  const chord = parseChord(text);
  const key = chord.key.length === 1 ? chord.key.toUpperCase() : chord.key;
  if (isMac) {
    return `${chord.alt ? "⌥" : ""}${chord.shift ? "⇧" : ""}${chord.mod ? "⌘" : ""}${key === "Enter" ? "↩" : key}`;
  }
  return [chord.mod ? "Ctrl" : "", chord.alt ? "Alt" : "", chord.shift ? "Shift" : "", key]
    .filter((part) => part !== "")
    .join("+");
}

/** Whether the platform uses Cmd as the command modifier. */
export function detectMac(platform: string = globalThis.navigator?.platform ?? ""): boolean {
  return /mac|iphone|ipad/i.test(platform);
}
