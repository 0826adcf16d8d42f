//! The sync bar at the top of the inbox (DESIGN §11.16): Sync with the team, the last
//! sync's outcome, what did not verify, and why a sync failed. The timer lives in
//! `syncRunner` (one for the app); this only shows it and asks it.

import { useEffect, useMemo, useRef, useSyncExternalStore } from "react";
import type { ErrorLike } from "../../errors";
import { errorHint } from "../../errors";
import type { Navigate } from "../../route";
import { registryHint } from "../settings/registries";
import { groupProblems, problemCount, syncStatusText } from "./sync";
import { snapshot, startSyncing, subscribe, syncNow } from "./syncRunner";

function SyncError({ error }: { error: ErrorLike }) {
  const hint = registryHint(error.code) ?? errorHint(error.code);
  return (
    <div className="ovr-refusal sync-error" role="alert" aria-label="Sync error">
      <strong>
        Not in sync <code>{error.code}</code>
      </strong>
      <p>{error.message}</p>
      {hint && hint !== error.message && <p className="sync-hint">{hint}</p>}
    </div>
  );
}

export function SyncBar({ navigate, onSynced }: { navigate: Navigate; onSynced: () => void }) {
  const state = useSyncExternalStore(subscribe, snapshot);
  const groups = useMemo(() => groupProblems(state.status?.reports ?? []), [state.status]);
  const problems = problemCount(groups);

  useEffect(() => {
    startSyncing();
  }, []);

  // Reload the inbox after each sync that finishes while the screen shows.
  const seen = useRef(state.generation);
  const onSyncedRef = useRef(onSynced);
  onSyncedRef.current = onSynced;
  useEffect(() => {
    if (state.generation !== seen.current) {
      seen.current = state.generation;
      onSyncedRef.current();
    }
  }, [state.generation]);

  if (state.registries === 0 && !state.running) {
    return (
      <section className="sync-bar" aria-label="Team sync">
        <output className="sync-status muted" aria-label="Sync status">
          Share with your team: add a registry in Settings
        </output>
        <button
          type="button"
          aria-label="Add a registry in Settings"
          onClick={() => navigate({ screen: "settings" })}
        >
          Open Settings
        </button>
      </section>
    );
  }

  return (
    <section className="sync-bar" aria-label="Team sync" aria-busy={state.running}>
      <div className="sync-line">
        <button
          type="button"
          aria-label="Sync with the team"
          title="Fetch the team's versions and approvals from the registry, and publish yours"
          disabled={state.running || state.registries === null}
          onClick={() => void syncNow()}
        >
          {state.running ? "Syncing…" : "Sync"}
        </button>
        <output
          className="sync-status truncate"
          aria-label="Sync status"
          aria-live="polite"
          title={state.status?.at ?? undefined}
        >
          {state.registries === null && state.status === null
            ? "Reading the registries…"
            : syncStatusText(state.status, state.failed)}
        </output>
      </div>
      {state.error && <SyncError error={state.error} />}
      {problems > 0 && (
        <details className="sync-problems" open={problems <= 3}>
          <summary>
            {problems} {problems === 1 ? "artifact" : "artifacts"} did not verify (not imported)
          </summary>
          <ul aria-label="Sync problems">
            {groups.map((g) =>
              g.problems.map((p) => (
                <li className="sync-problem" key={`${g.bundle} ${g.registry} ${p.tag}`}>
                  <span className="mono truncate" title={`${g.bundle} via ${g.registry}: ${p.tag}`}>
                    {g.bundle} · {p.tag}
                  </span>
                  <span className="sync-reason" title={p.reason}>
                    {p.reason}
                  </span>
                </li>
              )),
            )}
          </ul>
        </details>
      )}
    </section>
  );
}
