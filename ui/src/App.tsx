//! The shell: navigation rail, header with the acting identity, the screen on view,
//! the command palette and global keyboard shortcuts, and the notification area.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api } from "./api";
import { AppInfoProvider, useAppInfo } from "./appInfo";
import { type ScreenCommands, ScreenCommandsContext, shellCommands } from "./commands";
import { trapTab } from "./components/focus";
import { Palette } from "./components/Palette";
import { Failed } from "./components/States";
import { ToastProvider, useNotify } from "./components/Toasts";
import { IdentityHeader } from "./IdentityHeader";
import { RAIL, type Route } from "./route";
import { ApprovalsScreen } from "./screens/Approvals";
import { AuditScreen } from "./screens/Audit";
import { BundlesScreen } from "./screens/Bundles";
import { DiffScreen } from "./screens/Diff";
import { EditorScreen } from "./screens/Editor";
import { KeysScreen } from "./screens/Keys";
import { OverridesScreen } from "./screens/Overrides";
import { RolloutsScreen } from "./screens/Rollouts";
import { ScorecardsScreen } from "./screens/Scorecards";
import { SettingsScreen } from "./screens/Settings";
import { SimulatorScreen } from "./screens/Simulator";
import { WelcomeScreen } from "./screens/Welcome";
import { detectMac, findByShortcut, formatChord } from "./shortcuts";

const RAIL_ICONS: Record<string, string> = {
  bundles: "▤",
  editor: "✎",
  diff: "⇄",
  simulator: "▶",
  approvals: "✔",
  rollouts: "⇪",
  scorecards: "▦",
  overrides: "⚑",
  audit: "☰",
  keys: "⚷",
  settings: "⚙",
};

export function App() {
  return (
    <ToastProvider>
      <AppInfoProvider>
        <Shell />
      </AppInfoProvider>
    </ToastProvider>
  );
}

/** Whether `route` opens a document in the editor (rather than showing the open one). */
function opensDocument(route: Route): boolean {
  return (
    route.screen === "editor" && (route.reference !== undefined || route.draftText !== undefined)
  );
}

function Shell() {
  const [route, setRoute] = useState<Route>({ screen: "welcome" });
  // The editor stays mounted once opened, so that unsaved work survives a look at another screen.
  const [editor, setEditor] = useState<{ route: Route; session: number } | null>(null);
  const [pending, setPending] = useState<Route | null>(null);
  const [paletteOpen, setPaletteOpen] = useState(false);
  const [screenCommands, setScreenCommands] = useState<ScreenCommands>({});
  const editorDirty = useRef(false);
  const keepEditing = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (pending) keepEditing.current?.focus();
  }, [pending]);
  const isMac = useMemo(() => detectMac(), []);
  // The first run's welcome screen is for an empty store: a store with
  // versions opens on the bundle list.
  const { info, error: startError, reload: reloadInfo } = useAppInfo();
  const placed = useRef(false);
  useEffect(() => {
    if (placed.current || !info) return;
    placed.current = true;
    if (info.versions > 0) setRoute((r) => (r.screen === "welcome" ? { screen: "bundles" } : r));
  }, [info]);

  const go = useCallback((r: Route) => {
    if (opensDocument(r)) {
      editorDirty.current = false;
      setEditor((e) => ({ route: r, session: (e?.session ?? 0) + 1 }));
    }
    setRoute(r);
  }, []);

  const navigate = useCallback(
    (r: Route) => {
      if (opensDocument(r) && editorDirty.current) setPending(r);
      else go(r);
    },
    [go],
  );

  const commands = useMemo(
    () => shellCommands(navigate, screenCommands, () => setPaletteOpen(true)),
    [navigate, screenCommands],
  );

  // Shortcuts are read in the capture phase so that they win over the editor's own keymap.
  const notify = useNotify();
  const notifyRef = useRef(notify);
  notifyRef.current = notify;
  // With "Check at start" on (Settings), one check when the window opens; a failed check
  // stays quiet here (Settings shows why when asked).
  useEffect(() => {
    void (async () => {
      try {
        const settings = await api.updaterSettings();
        if (!settings.check_at_start) return;
        const found = await api.checkForUpdate();
        if (found.available)
          notifyRef.current.info(
            `Gavel ${found.version ?? ""} is available: download and install it in Settings`,
          );
      } catch {
        // Off, or the endpoint is unreachable: nothing to say at start.
      }
    })();
  }, []);
  const commandsRef = useRef(commands);
  commandsRef.current = commands;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.isComposing) return;
      const command = findByShortcut(commandsRef.current, e, isMac);
      if (!command) return;
      e.preventDefault();
      e.stopPropagation();
      if (command.id === "palette") setPaletteOpen((open) => !open);
      else if (command.run) command.run();
      else
        notifyRef.current.info(`${command.title}: ${command.unavailable ?? "not available here"}`);
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, [isMac]);

  const screenProps = { route, navigate };
  let screen: React.ReactNode;
  if (startError && !info) {
    // Without its store the app can do nothing: say why, and what to do.
    screen = (
      <section className="screen" aria-label="Start error">
        <Failed what="Gavel cannot start" error={startError} onRetry={() => void reloadInfo()} />
      </section>
    );
  } else
    switch (route.screen) {
      case "welcome":
        screen = <WelcomeScreen {...screenProps} />;
        break;
      case "bundles":
        screen = <BundlesScreen {...screenProps} />;
        break;
      case "editor":
        screen = null; // kept mounted below
        break;
      case "diff":
        screen = <DiffScreen {...screenProps} />;
        break;
      case "simulator":
        screen = <SimulatorScreen {...screenProps} />;
        break;
      case "approvals":
        screen = <ApprovalsScreen {...screenProps} />;
        break;
      case "rollouts":
        screen = <RolloutsScreen {...screenProps} />;
        break;
      case "scorecards":
        screen = <ScorecardsScreen {...screenProps} />;
        break;
      case "overrides":
        screen = <OverridesScreen {...screenProps} />;
        break;
      case "audit":
        screen = <AuditScreen {...screenProps} />;
        break;
      case "keys":
        screen = <KeysScreen {...screenProps} />;
        break;
      case "settings":
        screen = <SettingsScreen {...screenProps} />;
        break;
    }

  return (
    <ScreenCommandsContext.Provider value={setScreenCommands}>
      <div className="shell">
        <nav className="rail" aria-label="Screens">
          <button
            type="button"
            className="rail-logo"
            aria-label="Home"
            title="Home"
            onClick={() => navigate({ screen: "welcome" })}
          >
            G
          </button>
          {RAIL.map((item, i) => (
            <button
              key={item.screen}
              type="button"
              className={`rail-button${route.screen === item.screen ? " current" : ""}`}
              aria-label={item.title}
              aria-current={route.screen === item.screen ? "page" : undefined}
              title={i < 9 ? `${item.title} (${formatChord(`Mod+${i + 1}`, isMac)})` : item.title}
              onClick={() => navigate({ screen: item.screen })}
            >
              <span aria-hidden="true" className="rail-icon">
                {RAIL_ICONS[item.screen]}
              </span>
              <span className="rail-label">{item.title}</span>
            </button>
          ))}
          <div className="rail-spacer" />
          <button
            type="button"
            className="rail-button"
            aria-label="Open command palette"
            title={`Command palette (${formatChord("Mod+K", isMac)})`}
            onClick={() => setPaletteOpen(true)}
          >
            <span aria-hidden="true" className="rail-icon">
              ⌘
            </span>
            <span className="rail-label">Commands</span>
          </button>
        </nav>
        <header className="header">
          <span className="header-title">Gavel</span>
          <IdentityHeader />
        </header>
        <main className="main">
          {screen}
          {route.screen === "editor" && !editor && (
            <EditorScreen route={route} navigate={navigate} />
          )}
          {editor && (
            <div className="screen" hidden={route.screen !== "editor"}>
              <EditorScreen
                key={editor.session}
                route={editor.route}
                navigate={navigate}
                active={route.screen === "editor"}
                onDirtyChange={(dirty) => {
                  editorDirty.current = dirty;
                }}
              />
            </div>
          )}
        </main>
      </div>
      {pending && (
        <div className="backdrop">
          <div
            className="dialog"
            role="alertdialog"
            aria-modal="true"
            aria-label="Discard unsaved changes?"
            onKeyDown={(e) => {
              if (e.key === "Escape") {
                setPending(null);
                setRoute({ screen: "editor" });
              }
              trapTab(e);
            }}
          >
            <h2>Discard unsaved changes?</h2>
            <p>
              The editor has changes that are not saved. Opening another document discards them.
            </p>
            <div className="detail-actions" style={{ justifyContent: "flex-end" }}>
              <button
                ref={keepEditing}
                type="button"
                onClick={() => {
                  setPending(null);
                  setRoute({ screen: "editor" });
                }}
              >
                Keep editing
              </button>
              <button
                type="button"
                className="danger"
                aria-label="Discard changes"
                onClick={() => {
                  const r = pending;
                  setPending(null);
                  go(r);
                }}
              >
                Discard changes
              </button>
            </div>
          </div>
        </div>
      )}
      {paletteOpen && (
        <Palette commands={commands} isMac={isMac} onClose={() => setPaletteOpen(false)} />
      )}
    </ScreenCommandsContext.Provider>
  );
}
