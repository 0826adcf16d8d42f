//! Pure helpers of the Settings screen (DESIGN §11.8 environments, §11.14 the updater):
//! bake times as people write them ("1 h", "1h 30m"), the environment form's early checks
//! and what it sends, the sentence a check for updates says, and hints by error code.
//! The back end validates again; these only say early what it would refuse.

import type { EnvForm } from "../../bindings/EnvForm";
import type { Environment } from "../../bindings/Environment";
import type { UpdateCheck } from "../../bindings/UpdateCheck";

/** "0", "30 min", "1 h", "24 h", "1 h 30 min", "2 d 3 h" (days only past 48 h). */
export function bakeText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s === 0) return "0";
  const totalMin = Math.floor(s / 60);
  let h = Math.floor(totalMin / 60);
  const m = totalMin % 60;
  const parts: string[] = [];
  if (h > 48) {
    parts.push(`${Math.floor(h / 24)} d`);
    h %= 24;
  }
  if (h > 0) parts.push(`${h} h`);
  if (m > 0) parts.push(`${m} min`);
  if (parts.length === 0) return `${s} s`;
  return parts.join(" ");
}

/** The bake time as the edit field shows it: "24h", "1h 30m", "45m", "0". */
export function bakeInput(seconds: number): string {
  const totalMin = Math.max(0, Math.round(seconds / 60));
  const h = Math.floor(totalMin / 60);
  const m = totalMin % 60;
  if (h === 0 && m === 0) return "0";
  return [h > 0 ? `${h}h` : "", m > 0 ? `${m}m` : ""].filter(Boolean).join(" ");
}

/**
 * Reads a bake time in hours and minutes: "24h", "1h 30m", "90m", "1:30", "1.5" (hours),
 * "2" (hours), "0". Seconds, or an error to show.
 */
export function parseBake(text: string): { seconds: number } | { error: string } {
  const t = text.trim().toLowerCase();
  const bad = { error: "give hours and minutes: 24h, 1h 30m, 90m or 1:30" };
  if (t === "") return bad;
  let minutes: number;
  const clock = /^(\d+):([0-5]?\d)$/.exec(t);
  const hm = /^(?:(\d+(?:\.\d+)?)\s*h(?:ours?)?)?\s*(?:(\d+)\s*m(?:in(?:utes?)?)?)?$/.exec(t);
  if (/^\d+(?:\.\d+)?$/.test(t)) minutes = Number(t) * 60;
  else if (clock) minutes = Number(clock[1]) * 60 + Number(clock[2]);
  else if (hm && (hm[1] !== undefined || hm[2] !== undefined))
    minutes = Number(hm[1] ?? 0) * 60 + Number(hm[2] ?? 0);
  else return bad;
  if (!Number.isFinite(minutes)) return bad;
  const seconds = Math.round(minutes * 60);
  if (seconds > 366 * 86_400) return { error: "at most a year" };
  return { seconds };
}

/** What an environment's form holds while it is edited. */
export interface EnvDraft {
  quorum: string;
  canary: boolean;
  bake: string;
  samples: string;
}

export function draftOf(e: Environment): EnvDraft {
  return {
    quorum: String(e.quorum),
    canary: e.canary,
    bake: bakeInput(e.bake_time_seconds),
    samples: String(e.min_samples),
  };
}

/** A new environment's defaults (the back end's for `env add`). */
export const NEW_ENV_DRAFT: EnvDraft = { quorum: "1", canary: true, bake: "1h", samples: "100" };

export interface EnvProblems {
  name?: string;
  quorum?: string;
  bake?: string;
  samples?: string;
}

function wholeAtLeastOne(text: string): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n >= 1 && Number.isSafeInteger(n) ? n : null;
}

/** The form the back end takes, or the problems to show by field. */
export function checkEnvDraft(
  d: EnvDraft,
): { ok: true; form: EnvForm } | { ok: false; problems: EnvProblems } {
  const problems: EnvProblems = {};
  const quorum = wholeAtLeastOne(d.quorum);
  if (quorum === null) problems.quorum = "a whole number, at least 1";
  const samples = wholeAtLeastOne(d.samples);
  if (samples === null) problems.samples = "a whole number, at least 1";
  const bake = parseBake(d.bake);
  if ("error" in bake) problems.bake = bake.error;
  if (quorum === null || samples === null || "error" in bake) return { ok: false, problems };
  return {
    ok: true,
    form: { quorum, canary: d.canary, bake_time_seconds: bake.seconds, min_samples: samples },
  };
}

/** An environment name as the back end takes it, or why not. */
export function checkEnvName(name: string): string | undefined {
  const n = name.trim();
  if (n === "") return "name the environment";
  if (!/^[a-z][a-z0-9_-]*$/.test(n))
    return "lowercase letters, digits, - or _, starting with a letter";
  return undefined;
}

/** The sentence a check for updates says. */
export function updateText(u: UpdateCheck): string {
  if (!u.available) return `Gavel ${u.current_version} is up to date`;
  const notes = u.notes?.trim() ? u.notes.trim() : "no release notes";
  return `Version ${u.version ?? "?"} is available: ${notes}`;
}

/** Hints for this screen's error codes (errors.ts covers the shared ones). */
export function settingsHint(code: string): string | undefined {
  switch (code) {
    case "invalid_setting":
      return "Quorum and minimum samples are whole numbers of at least 1; a name uses lowercase letters, digits, - or _.";
    case "environment_exists":
      return "An environment of that name exists: edit it in the table instead.";
    case "not_found":
      return "The environment is gone: refresh the list.";
    case "invalid":
      return "The endpoint is an https:// URL of the update manifest, and the public key is the one `tauri signer generate` printed.";
    default:
      return undefined;
  }
}
