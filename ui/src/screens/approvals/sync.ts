//! Pure helpers of the sync bar (DESIGN §11.16): the status line ("Last sync 14:02: 1
//! version and 2 approvals fetched, 1 published"), and the problems grouped by bundle.

import type { SyncProblem } from "../../bindings/SyncProblem";
import type { SyncReport } from "../../bindings/SyncReport";
import type { SyncStatus } from "../../bindings/SyncStatus";

/** Five minutes between automatic syncs. */
export const SYNC_EVERY_MS = 5 * 60 * 1000;

/** "14:02" in local time (the input unchanged when it is not a time). */
export function clockTime(at: string): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return at;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "1 version and 2 approvals fetched, 1 published", or "nothing new". */
export function countsText(reports: readonly SyncReport[]): string {
  let versions = 0;
  let approvals = 0;
  let rollouts = 0;
  let published = 0;
  let trust = 0;
  for (const r of reports) {
    trust += r.fetched_trust.length;
    rollouts += r.fetched_rollouts.length;
    versions += r.fetched_versions.length;
    approvals += r.fetched_approvals.length;
    published += r.published.length;
  }
  const fetched: string[] = [];
  if (versions > 0) fetched.push(count(versions, "version", "versions"));
  if (approvals > 0) fetched.push(count(approvals, "approval", "approvals"));
  if (rollouts > 0) fetched.push(count(rollouts, "rollout", "rollouts"));
  if (trust > 0) fetched.push(count(trust, "trust document", "trust documents"));
  const parts: string[] = [];
  if (fetched.length > 0) {
    const last = fetched.pop();
    const list = fetched.length > 0 ? `${fetched.join(", ")} and ${last}` : last;
    parts.push(`${list} fetched`);
  }
  if (published > 0) parts.push(`${published} published`);
  return parts.length === 0 ? "nothing new" : parts.join(", ");
}

/**
 * The status line: "Never synced", "Last sync 14:02: …", or "Last sync 14:02 failed"
 * (`failed`: the last sync itself failed, rather than a publish since).
 */
export function syncStatusText(status: SyncStatus | null, failed = false): string {
  if (!status || status.at === null) return "Never synced";
  const when = `Last sync ${clockTime(status.at)}`;
  if (failed || (status.error && status.reports.length === 0)) return `${when} failed`;
  return `${when}: ${countsText(status.reports)}`;
}

export interface ProblemGroup {
  bundle: string;
  registry: string;
  problems: SyncProblem[];
}

/** The bundles that had problems, each with its problems sorted by tag. */
export function groupProblems(reports: readonly SyncReport[]): ProblemGroup[] {
  const byKey = new Map<string, ProblemGroup>();
  for (const r of reports) {
    if (r.problems.length === 0) continue;
    const key = `${r.bundle}\u0000${r.registry}`;
    const group = byKey.get(key) ?? { bundle: r.bundle, registry: r.registry, problems: [] };
    group.problems.push(...r.problems);
    byKey.set(key, group);
  }
  return [...byKey.values()]
    .map((g) => ({ ...g, problems: [...g.problems].sort((a, b) => a.tag.localeCompare(b.tag)) }))
    .sort((a, b) => a.bundle.localeCompare(b.bundle) || a.registry.localeCompare(b.registry));
}

/** How many problems in all. */
export function problemCount(groups: readonly ProblemGroup[]): number {
  return groups.reduce((n, g) => n + g.problems.length, 0);
}
