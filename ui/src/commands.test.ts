import { describe, expect, it, vi } from "vitest";
import { SCREEN_COMMANDS, shellCommands } from "./commands";
import { findByShortcut, type KeyLike, parseChord } from "./shortcuts";

function ctrl(key: string, extra: Partial<KeyLike> = {}): KeyLike {
  return { key, ctrlKey: true, metaKey: false, shiftKey: false, altKey: false, ...extra };
}

describe("shellCommands", () => {
  it("gives every action a unique id and a shortcut that parses, used once", () => {
    const commands = shellCommands(
      () => {},
      {},
      () => {},
    );
    const ids = commands.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    const chords = commands.flatMap((c) =>
      c.shortcut ? [JSON.stringify(parseChord(c.shortcut))] : [],
    );
    expect(new Set(chords).size).toBe(chords.length);
  });

  it("has the brief's shortcuts", () => {
    const commands = shellCommands(
      () => {},
      {},
      () => {},
    );
    const by = (id: string) => commands.find((c) => c.id === id)?.shortcut;
    expect(by("save")).toBe("Mod+S");
    expect(by("lint")).toBe("Mod+Shift+L");
    expect(by("simulate")).toBe("Mod+Enter");
    expect(by("palette")).toBe("Mod+K");
    expect(["go-bundles", "go-editor", "go-diff", "go-simulator"].map(by)).toEqual([
      "Mod+1",
      "Mod+2",
      "Mod+3",
      "Mod+4",
    ]);
  });

  it("switches screens by Ctrl+number", () => {
    const navigate = vi.fn();
    const commands = shellCommands(navigate, {}, () => {});
    findByShortcut(commands, ctrl("3", { code: "Digit3" }), false)?.run?.();
    expect(navigate).toHaveBeenCalledWith({ screen: "diff" });
  });

  it("runs the screen's handler, and leaves the action unavailable without one", () => {
    const save = vi.fn();
    const withSave = shellCommands(
      () => {},
      { save },
      () => {},
    );
    findByShortcut(withSave, ctrl("s", { code: "KeyS" }), false)?.run?.();
    expect(save).toHaveBeenCalledOnce();
    const without = shellCommands(
      () => {},
      {},
      () => {},
    );
    const lint = without.find((c) => c.id === "lint");
    expect(lint?.run).toBeUndefined();
    expect(lint?.unavailable).toBe(SCREEN_COMMANDS.find((c) => c.id === "lint")?.unavailable);
  });

  it("opens a new bundle in the editor", () => {
    const navigate = vi.fn();
    shellCommands(navigate, {}, () => {})
      .find((c) => c.id === "new-bundle")
      ?.run?.();
    expect(navigate.mock.calls[0]?.[0]).toMatchObject({ screen: "editor" });
    expect(navigate.mock.calls[0]?.[0].draftText).toContain("apiVersion: gavel/v1");
  });
});
