//! The one sync of the app (DESIGN §11.16): a module-level store shared by every mount of
//! the sync bar, with ONE timer for the whole app. The first mount starts it (syncing at
//! once when a registry exists); it then syncs every five minutes while the app is open,
//! whichever screen shows, and a sync already running is joined rather than repeated.

import { api } from "../../api";
import type { SyncStatus } from "../../bindings/SyncStatus";
import { type ErrorLike, toErrorLike } from "../../errors";
import { SYNC_EVERY_MS } from "./sync";

export interface SyncState {
  /** The last status (null until read). */
  status: SyncStatus | null;
  /** How many registries exist (null until read). */
  registries: number | null;
  running: boolean;
  /** The last sync's failure, or reading the registries failed. */
  error: ErrorLike | null;
  /** The last sync failed as a whole. */
  failed: boolean;
  /** Bumped after each sync that finished, so the inbox reloads. */
  generation: number;
}

let state: SyncState = {
  status: null,
  registries: null,
  running: false,
  error: null,
  failed: false,
  generation: 0,
};
const listeners = new Set<() => void>();
let inflight: Promise<void> | null = null;
let timer: ReturnType<typeof setInterval> | null = null;
let lastFinished = 0;
/** Opening the screen again within this long does not sync again. */
const FRESH_MS = 30 * 1000;

function set(patch: Partial<SyncState>) {
  state = { ...state, ...patch };
  for (const l of listeners) l();
}

export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function snapshot(): SyncState {
  return state;
}

/** Re-reads how many registries exist (and the last status). */
export async function refreshRegistries(): Promise<number> {
  try {
    const [list, status] = await Promise.all([api.registries(), api.syncStatus()]);
    set({ registries: list.length, status, error: status.error ?? null });
    return list.length;
  } catch (e) {
    set({ error: toErrorLike(e) });
    return state.registries ?? 0;
  }
}

/** Syncs now (joins a sync already running). */
export function syncNow(): Promise<void> {
  if (inflight) return inflight;
  set({ running: true });
  inflight = (async () => {
    try {
      const status = await api.sync();
      set({ status, error: status.error ?? null, failed: false });
    } catch (e) {
      const error = toErrorLike(e);
      // The back end keeps the failure with its time in the status.
      const status = await api.syncStatus().catch(() => state.status);
      set({ status, error, failed: true });
    } finally {
      inflight = null;
      lastFinished = Date.now();
      set({ running: false, generation: state.generation + 1 });
    }
  })();
  return inflight;
}

/** Syncs when a registry exists. */
async function syncIfShared(): Promise<void> {
  if ((await refreshRegistries()) > 0) await syncNow();
}

/**
 * The screen opened: syncs when a registry exists (unless a sync just finished), and
 * starts the app's one timer the first time.
 */
export function startSyncing(): void {
  if (timer === null) timer = setInterval(() => void syncIfShared(), SYNC_EVERY_MS);
  if (inflight) return;
  if (Date.now() - lastFinished < FRESH_MS) void refreshRegistries();
  else void syncIfShared();
}
