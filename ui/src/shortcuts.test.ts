import { describe, expect, it } from "vitest";
import {
  detectMac,
  findByShortcut,
  formatChord,
  type KeyLike,
  matchesChord,
  parseChord,
} from "./shortcuts";

function key(k: string, mods: Partial<KeyLike> = {}): KeyLike {
  return { key: k, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, ...mods };
}

describe("parseChord", () => {
  it("reads modifiers and key", () => {
    expect(parseChord("Mod+Shift+L")).toEqual({ key: "l", mod: true, shift: true, alt: false });
    expect(parseChord("Mod+Enter")).toEqual({ key: "Enter", mod: true, shift: false, alt: false });
    expect(parseChord("Mod+1").key).toBe("1");
  });
  it("refuses unknown modifiers and missing keys", () => {
    expect(() => parseChord("Hyper+K")).toThrow(/unknown modifier/);
    expect(() => parseChord("Mod+")).toThrow(/no key/);
  });
});

describe("matchesChord", () => {
  const save = parseChord("Mod+S");
  it("uses Ctrl off macOS and Cmd on macOS", () => {
    expect(matchesChord(save, key("s", { ctrlKey: true }), false)).toBe(true);
    expect(matchesChord(save, key("s", { metaKey: true }), false)).toBe(false);
    expect(matchesChord(save, key("s", { metaKey: true }), true)).toBe(true);
    expect(matchesChord(save, key("s", { ctrlKey: true }), true)).toBe(false);
  });
  it("requires the exact modifiers", () => {
    expect(matchesChord(save, key("s"), false)).toBe(false);
    expect(matchesChord(save, key("S", { ctrlKey: true, shiftKey: true }), false)).toBe(false);
    expect(matchesChord(save, key("s", { ctrlKey: true, altKey: true }), false)).toBe(false);
  });
  it("matches Shift chords whatever the letter case", () => {
    const lint = parseChord("Mod+Shift+L");
    expect(matchesChord(lint, key("L", { ctrlKey: true, shiftKey: true }), false)).toBe(true);
    expect(matchesChord(lint, key("l", { ctrlKey: true }), false)).toBe(false);
  });
  it("reads digits by their physical key", () => {
    const one = parseChord("Mod+1");
    expect(matchesChord(one, key("1", { ctrlKey: true, code: "Digit1" }), false)).toBe(true);
    expect(matchesChord(one, key("&", { ctrlKey: true, code: "Digit1" }), false)).toBe(true);
    expect(matchesChord(one, key("2", { ctrlKey: true, code: "Digit2" }), false)).toBe(false);
  });
  it("reads letters by their physical key when the layout gives another character", () => {
    expect(
      matchesChord(parseChord("Mod+K"), key("κ", { ctrlKey: true, code: "KeyK" }), false),
    ).toBe(true);
  });
  it("matches named keys", () => {
    const sim = parseChord("Mod+Enter");
    expect(matchesChord(sim, key("Enter", { ctrlKey: true, code: "Enter" }), false)).toBe(true);
  });
});

describe("findByShortcut", () => {
  const items = [
    { id: "none" },
    { id: "save", shortcut: "Mod+S" },
    { id: "lint", shortcut: "Mod+Shift+L" },
  ];
  it("finds the matching item or nothing", () => {
    expect(findByShortcut(items, key("L", { ctrlKey: true, shiftKey: true }), false)?.id).toBe(
      "lint",
    );
    expect(findByShortcut(items, key("x", { ctrlKey: true }), false)).toBeUndefined();
  });
});

describe("formatChord", () => {
  it("formats for each platform", () => {
    expect(formatChord("Mod+Shift+L", false)).toBe("Ctrl+Shift+L");
    expect(formatChord("Mod+Shift+L", true)).toBe("⇧⌘L");
    expect(formatChord("Mod+Enter", true)).toBe("⌘↩");
    expect(formatChord("Mod+1", false)).toBe("Ctrl+1");
  });
  it("detects macOS", () => {
    expect(detectMac("MacIntel")).toBe(true);
    expect(detectMac("Linux x86_64")).toBe(false);
  });
});
