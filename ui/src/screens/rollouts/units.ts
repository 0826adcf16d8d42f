//! Pure helpers of the Rollouts screen: the deployment units (bundle, environment) of a
//! status in the store's order, time-left text, the expected state a change names, the
//! checks a rollback's reason and confirmation need, gate badges and refusal titles.
//! No business rule is decided here: the back end refuses (by `code`), these only say it
//! early and show what it returned.

import type { BundleIndex } from "../../bindings/BundleIndex";
import type { BundleStatus } from "../../bindings/BundleStatus";
import type { EnvStatus } from "../../bindings/EnvStatus";
import type { Expected } from "../../bindings/Expected";
import type { Gate } from "../../bindings/Gate";
import type { GateReport } from "../../bindings/GateReport";
import type { GateState } from "../../bindings/GateState";
import type { Status } from "../../bindings/Status";

/** The minimum length of a rollback's reason and an incident's resolution (DESIGN §7). */
export const MIN_REASON = 10;

/** One deployment unit: a bundle in an environment, with the environment's settings. */
export interface Unit {
  key: string;
  environment: EnvStatus;
  status: BundleStatus;
}

/** The key of a unit. */
export function unitKey(bundle: string, environment: string): string {
  return `${environment}\u0000${bundle}`;
}

/** The units per environment, environments in the order given, bundles by name. */
export interface EnvGroup {
  environment: EnvStatus;
  units: Unit[];
}

export function groupUnits(status: Status): EnvGroup[] {
  return status.environments.map((environment) => ({
    environment,
    units: [...environment.bundles]
      .sort((a, b) => a.bundle.localeCompare(b.bundle))
      .map((s) => ({ key: unitKey(s.bundle, environment.name), environment, status: s })),
  }));
}

/** Every unit, in list order. */
export function allUnits(groups: readonly EnvGroup[]): Unit[] {
  return groups.flatMap((g) => g.units);
}

/** The unit named by the route, if it is listed. */
export function findUnit(
  groups: readonly EnvGroup[],
  bundle: string | undefined,
  environment: string | undefined,
): Unit | undefined {
  if (bundle === undefined || environment === undefined) return undefined;
  const key = unitKey(bundle, environment);
  return allUnits(groups).find((u) => u.key === key);
}

/** Whether anything is active anywhere (else the screen explains how to start). */
export function anythingActive(groups: readonly EnvGroup[]): boolean {
  return allUnits(groups).some((u) => u.status.active !== null);
}

/** "3 h 12 min", "45 min", "2 d 4 h", "30 s" (the two largest parts). */
export function durationText(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const parts: string[] = [];
  if (d > 0) parts.push(`${d} d`);
  if (h > 0) parts.push(`${h} h`);
  if (m > 0) parts.push(`${m} min`);
  if (parts.length === 0) return `${sec} s`;
  return parts.slice(0, 2).join(" ");
}

/** "3 h 12 min left", or "baked" once the bake time has elapsed. */
export function bakeText(leftSeconds: number): string {
  return leftSeconds <= 0 ? "baked" : `${durationText(leftSeconds)} left`;
}

/** "1 of 2". */
export function approvalsText(approvals: number, required: number): string {
  return `${approvals} of ${required}`;
}

/**
 * The state the screen shows, as a change names it (DESIGN §11.9): each slot's digest,
 * or `none` where nothing is there (null would mean "not checked").
 */
export function expectedOf(status: BundleStatus): Expected {
  return {
    active: status.active?.digest ?? "none",
    canary: status.canary?.digest ?? "none",
  };
}

export type Check = { ok: true } | { ok: false; reason: string };

/** Whether a reason (a rollback's, or an incident's resolution) is long enough. */
export function checkReason(text: string, what = "A rollback"): Check {
  const length = [...text.trim()].length;
  if (length >= MIN_REASON) return { ok: true };
  return {
    ok: false,
    reason:
      length === 0
        ? `${what} needs a reason of at least ${MIN_REASON} characters.`
        : `${what} needs at least ${MIN_REASON} characters (${MIN_REASON - length} more).`,
  };
}

/** The characters a reason counts ("7 / 10"). */
export function reasonCount(text: string): string {
  return `${[...text.trim()].length} / ${MIN_REASON}`;
}

/** Whether a typed confirmation is needed: rolling back in an environment named `prod`. */
export function needsConfirmation(environment: string): boolean {
  return environment === "prod";
}

/** Whether the typed confirmation allows the rollback (always, where none is needed). */
export function checkConfirmation(environment: string, typed: string): Check {
  if (!needsConfirmation(environment)) return { ok: true };
  if (typed.trim() === environment) return { ok: true };
  return { ok: false, reason: `Type ${environment} to confirm a rollback in ${environment}.` };
}

/** Whether a rollback can be asked for: a reason of 10+ characters and, for prod, the name typed. */
export function rollbackReady(environment: string, reason: string, typed: string): Check {
  const r = checkReason(reason);
  if (!r.ok) return r;
  return checkConfirmation(environment, typed);
}

/** The badge tone of a gate's state: pass green, fail red, inconclusive amber, skipped grey. */
export function gateTone(state: GateState | string): "ok" | "bad" | "warn" | "neutral" {
  switch (state) {
    case "pass":
      return "ok";
    case "fail":
      return "bad";
    case "inconclusive":
      return "warn";
    default:
      return "neutral";
  }
}

/** The badge class of a gate's state. */
export function gateBadgeClass(state: GateState | string): string {
  return `badge badge-${gateTone(state)}`;
}

function isGate(g: unknown): g is Gate {
  if (typeof g !== "object" || g === null) return false;
  const o = g as Record<string, unknown>;
  return typeof o.name === "string" && typeof o.state === "string";
}

/** A recorded gate check's report (JSON as stored) read as a `GateReport`; null if it is not one. */
export function readGateReport(report: unknown): GateReport | null {
  if (typeof report !== "object" || report === null) return null;
  const o = report as Record<string, unknown>;
  if (!Array.isArray(o.gates)) return null;
  const num = (v: unknown) => (typeof v === "number" ? v : null);
  return {
    passed: o.passed === true,
    failures: Array.isArray(o.failures)
      ? o.failures.filter((f): f is string => typeof f === "string")
      : [],
    gates: o.gates.filter(isGate).map((g) => ({
      name: g.name,
      state: g.state,
      value: num(g.value),
      threshold: num(g.threshold),
      message: typeof g.message === "string" ? g.message : "",
    })),
  };
}

/** A gate's value or threshold: counts as integers, fractions as percent, p-values as is. */
export function gateNumber(name: string, v: number | null): string {
  if (v === null) return "—";
  if (name === "samples") return String(Math.round(v));
  if (name === "vs_stable") return v < 0.0001 && v > 0 ? v.toExponential(1) : String(+v.toFixed(4));
  return `${+(v * 100).toFixed(2)}%`;
}

/** A version that can be activated in a unit: a pending one at its quorum, or an approved one. */
export interface Candidate {
  reference: string;
  digest: string;
  /** Where it was found, for the option's title. */
  detail: string;
}

/**
 * The versions the Activate select offers: the unit's pending versions in state
 * `approved`, then versions of the bundle that the index shows approved in this
 * environment (no duplicates).
 */
export function candidates(
  status: BundleStatus,
  environment: string,
  index: BundleIndex | null,
): Candidate[] {
  const out: Candidate[] = [];
  const seen = new Set<string>();
  for (const p of status.pending) {
    if (p.state !== "approved") continue;
    seen.add(p.reference);
    out.push({
      reference: p.reference,
      digest: p.digest,
      detail: `approved: ${approvalsText(p.approvals, p.required)}`,
    });
  }
  for (const v of index?.versions ?? []) {
    if (v.name !== status.bundle || seen.has(v.reference)) continue;
    if (!v.environments.some((e) => e.environment === environment && e.state === "approved"))
      continue;
    seen.add(v.reference);
    out.push({ reference: v.reference, digest: v.digest, detail: `approved in ${environment}` });
  }
  return out;
}

/** What activating does here (DESIGN §11.8): a 10% canary, or 100% at once. */
export function activationText(environment: EnvStatus, status: BundleStatus): string {
  if (status.active !== null && environment.canary) return "canary at 10%";
  if (status.active === null) return "100% at once: nothing is active here";
  return "100% at once: canary off in this environment";
}

/** The headline of a refused change, by `code` only (the back end's message follows it). */
export function refusalTitle(code: string): string {
  switch (code) {
    case "stale_state":
      return "Someone changed this rollout since you loaded it";
    case "quorum_not_met":
      return "This version has not reached its quorum here";
    case "rejected":
      return "This version was rejected here";
    case "canary_running":
      return "A canary is already running here";
    case "already_active":
      return "This version is already active or in canary here";
    case "no_rollout":
      return "Nothing is active here";
    case "no_canary":
      return "No canary is running here";
    case "not_ready":
      return "The canary is not ready to be promoted";
    case "nothing_to_roll_back":
      return "There is no previous version to roll back to";
    case "ambiguous_bundle":
      return "Several bundles are active here: name one";
    case "already_resolved":
      return "This incident is already resolved";
    case "invalid_metrics":
      return "The metrics are not usable";
    case "empty_file":
      return "The metrics are empty";
    case "comment_required":
      return "A reason of at least 10 characters is required";
    case "no_identity":
      return "An identity is needed to act";
    case "keychain":
      return "The signing key could not be read from the keychain";
    default:
      return "The change was refused";
  }
}

/** Formats an RFC 3339 time for people (the raw value stays in the title). */
export function timeText(at: string | null | undefined): string {
  if (!at) return "—";
  const t = Date.parse(at);
  if (Number.isNaN(t)) return at;
  return new Date(t).toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}
