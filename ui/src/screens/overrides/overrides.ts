//! Pure helpers of the Overrides screen (DESIGN §6, §11.3, §11.12): the issue form's
//! early checks, the rows of the issued and used lists (read from audit entries), the
//! sentence a verification says, default file names, and titles and hints by error code.
//! The back end decides: these only say early what it would refuse and show what it
//! returned.

import type { AuditEntry } from "../../bindings/AuditEntry";
import type { OverrideForm } from "../../bindings/OverrideForm";
import type { OverrideVerification } from "../../bindings/OverrideVerification";

/** The minimum length of an override's reason (the console's MIN_REASON_CHARS). */
export const MIN_REASON = 10;

/** The verdicts an override can force (§11.12). */
export const FORCEABLE = ["promote", "demote", "pilot", "no_go"] as const;

/** What the issue form holds while it is being filled in. */
export interface IssueDraft {
  workflow: string;
  /** "" for none. */
  verdict: string;
  bypass: boolean;
  reason: string;
  expiresIn: string;
}

export const EMPTY_DRAFT: IssueDraft = {
  workflow: "",
  verdict: "",
  bypass: false,
  reason: "",
  expiresIn: "24h",
};

/** Problems by field; empty when the form can be sent. */
export interface DraftProblems {
  workflow?: string;
  flags?: string;
  reason?: string;
  expiresIn?: string;
}

/** Characters of the reason as the back end counts them (trimmed, by code point). */
export function reasonLength(reason: string): number {
  return [...reason.trim()].length;
}

/** `24h`, `90m`, `7d`, `2w`, `3600s`: a number and one unit, as the back end reads it. */
export function checkExpiresIn(text: string): string | undefined {
  const t = text.trim();
  if (t === "") return undefined; // the back end's default, 24 h
  const m = /^(\d+)([smhdw])$/.exec(t);
  if (!m) return "give a number and a unit: 90m, 24h, 7d";
  const per: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
  const seconds = Number(m[1]) * (per[m[2] ?? "s"] ?? 1);
  if (seconds <= 0) return "an override must be valid for some time";
  if (seconds > 366 * 86_400) return "at most a year";
  return undefined;
}

export function checkDraft(d: IssueDraft): DraftProblems {
  const p: DraftProblems = {};
  if (d.workflow.trim() === "") p.workflow = "name the workflow the override is for";
  if (d.verdict === "" && !d.bypass)
    p.flags = "force a verdict or bypass the micro-pilot (or both)";
  const n = reasonLength(d.reason);
  if (n < MIN_REASON) p.reason = `say why, in at least ${MIN_REASON} characters (${n} so far)`;
  const e = checkExpiresIn(d.expiresIn);
  if (e) p.expiresIn = e;
  return p;
}

export function hasProblems(p: DraftProblems): boolean {
  return Object.keys(p).length > 0;
}

/** The form the back end takes. */
export function formOf(d: IssueDraft): OverrideForm {
  return {
    workflow_id: d.workflow.trim(),
    forced_verdict: d.verdict === "" ? null : d.verdict,
    bypass_micro_pilot: d.bypass,
    reason: d.reason.trim(),
    expires_in: d.expiresIn.trim() === "" ? null : d.expiresIn.trim(),
  };
}

/** The file an override is saved to by default. */
export function overrideFileName(id: string): string {
  const safe = id.replace(/[^A-Za-z0-9._-]+/g, "-");
  return `~/${safe}.override.json`;
}

function field(details: unknown, key: string): unknown {
  if (typeof details !== "object" || details === null || Array.isArray(details)) return undefined;
  return (details as Record<string, unknown>)[key];
}

function text(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return null;
}

/** An issued override as the list shows it (from its `override.issue` audit entry). */
export interface IssuedRow {
  seq: number;
  id: string;
  workflow: string;
  actor: string;
  at: string;
  expiresAt: string | null;
  /** "forces promote · bypasses micro-pilot" */
  effect: string;
  reason: string;
}

/** What an override does, in words. */
export function effectText(verdict: string | null, bypass: boolean | null): string {
  const parts: string[] = [];
  if (verdict) parts.push(`forces ${verdict}`);
  if (bypass) parts.push("bypasses micro-pilot");
  return parts.length === 0 ? "no effect named" : parts.join(" · ");
}

export function issuedRow(e: AuditEntry): IssuedRow {
  const d = e.details;
  return {
    seq: e.seq,
    id: text(field(d, "id")) ?? `#${e.seq}`,
    workflow: e.subject,
    actor: e.actor,
    at: e.at,
    expiresAt: text(field(d, "expires_at")),
    effect: effectText(text(field(d, "forced_verdict")), field(d, "bypass_micro_pilot") === true),
    reason: text(field(d, "reason")) ?? "",
  };
}

/** A used override as the list shows it (from its `override.use` audit entry). */
export interface UsedRow {
  seq: number;
  id: string;
  workflow: string;
  actor: string;
  at: string;
  verdict: string | null;
  legacy: boolean;
}

export function usedRow(e: AuditEntry): UsedRow {
  const d = e.details;
  return {
    seq: e.seq,
    id: e.subject,
    workflow: text(field(d, "workflow_id")) ?? "any workflow",
    actor: e.actor,
    at: e.at,
    verdict: text(field(d, "verdict")),
    legacy: field(d, "legacy") === true,
  };
}

/** Rows whose id, workflow, actor or reason contains the filter (case-insensitive). */
export function filterRows<T extends { id: string; workflow: string; actor: string }>(
  rows: readonly T[],
  filter: string,
): T[] {
  const f = filter.trim().toLowerCase();
  if (f === "") return [...rows];
  return rows.filter((r) =>
    [r.id, r.workflow, r.actor, (r as { reason?: string }).reason ?? ""].some((s) =>
      s.toLowerCase().includes(f),
    ),
  );
}

/** "2026-05-01 14:03 UTC" of an RFC 3339 time (the text as given when it is not one). */
export function timeText(at: string | null): string {
  if (!at) return "—";
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(at);
  return m ? `${m[1]} ${m[2]} UTC` : at;
}

/** Whether an RFC 3339 time is past at `now` (ms since the epoch). */
export function isPast(at: string | null, now: number): boolean {
  if (!at) return false;
  const t = Date.parse(at);
  return Number.isFinite(t) && t <= now;
}

/** The sentence a verification says: valid (what it does) or why not. */
export function verificationText(v: OverrideVerification): string {
  if (!v.valid) return v.message;
  const what = effectText(v.forced_verdict, v.bypass_micro_pilot);
  const scope =
    v.scope === "any_workflow" || !v.workflow_id ? "any workflow" : `workflow ${v.workflow_id}`;
  const signers =
    v.signers.length > 0
      ? v.signers.map((s) => s.name).join(", ")
      : v.legacy
        ? "the shared secret (legacy)"
        : "no one named";
  const expires = v.expires_at ? `, expires ${timeText(v.expires_at)}` : "";
  return `Valid: ${what} for ${scope}, signed by ${signers}${expires}`;
}

/** What a verification's `format` means, for people. */
export function formatText(format: string): string {
  switch (format) {
    case "dsse":
      return "signed envelope (DSSE)";
    case "team-hmac":
      return "team export (shared secret)";
    case "legacy-override":
      return "legacy override file {data, signature}";
    case "legacy-export":
      return "legacy policy-studio export";
    default:
      return "not a signed document Gavel knows";
  }
}

/** Headlines of refusals and failures, by code. */
export function refusalTitle(code: string): string {
  switch (code) {
    case "refused":
      return "Refused";
    case "invalid":
      return "Not valid";
    case "invalid_override":
      return "The override forces an unknown verdict";
    case "no_identity":
      return "No identity";
    case "keychain":
      return "Keychain";
    case "not_found":
      return "Not found";
    default:
      return code;
  }
}

/** What to do about an error of this screen, by code (errors.ts covers the shared ones). */
export function overrideHint(code: string): string | undefined {
  switch (code) {
    case "refused":
      return "Only an identity with the security role issues overrides: act as one, or ask a security identity to grant the role in Keys.";
    case "invalid":
      return "Check the workflow, the verdict or bypass, the reason (10+ characters) and the expiry (e.g. 24h).";
    case "invalid_override":
      return "Its signature holds, but it forces a verdict no override may force (only promote, demote, pilot or no_go): ask its issuer for a new one.";
    case "not_found":
      return "A legacy file needs the name of the keychain secret it was signed with.";
    default:
      return undefined;
  }
}

/** What a verification's `reason` code means, for people. */
export function reasonHint(reason: string | null, legacy = false): string | undefined {
  if (legacy && (reason === "unknown_key" || reason === "bad_signature"))
    return "A legacy file is signed with a shared secret: name that keychain secret in Legacy secret name, then verify again.";
  switch (reason) {
    case "malformed":
      return "The file is not a signed override Gavel can read.";
    case "unknown_key":
      return "No trusted key signed it: trust the issuer's key in Keys (with the security role).";
    case "bad_signature":
      return "The signature does not match: the file was changed after it was signed.";
    case "wrong_payload_type":
      return "It is a signed document, but not an override.";
    case "not_yet_valid":
      return "It is not valid yet: check the clocks of the issuing machine and this one.";
    case "expired":
      return "It has expired: ask the security team for a new override.";
    case "used":
      return "It has already been used: an override is valid for one use.";
    default:
      return undefined;
  }
}
