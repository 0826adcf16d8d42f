//! Pure helpers of the Audit screen: the filters as typed and as sent, times and
//! hashes as shown, the verification result in words, and hints by error code.

import type { AuditEntry } from "../../bindings/AuditEntry";
import type { AuditFilters } from "../../bindings/AuditFilters";
import type { AuditVerification } from "../../bindings/AuditVerification";
import type { BreakKind } from "../../bindings/BreakKind";
import type { CheckpointCheck } from "../../bindings/CheckpointCheck";
import { errorHint } from "../../errors";

/** The filters as typed in the filter bar. */
export interface FilterForm {
  actor: string;
  action: string;
  subject: string;
  since: string;
  until: string;
}

export function emptyForm(subject?: string): FilterForm {
  return { actor: "", action: "", subject: subject ?? "", since: "", until: "" };
}

/** How many entries the list asks for (the back end allows 1 to 10,000). */
export const LIMITS = [100, 1000, 10000] as const;
export const DEFAULT_LIMIT = 1000;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Null when `text` is empty, a date or an RFC 3339 time; else what is wrong. */
export function checkTime(text: string): string | null {
  const t = text.trim();
  if (t === "" || DATE.test(t) || RFC3339.test(t)) return null;
  return "give a date (2026-11-23) or an RFC 3339 time (2026-11-23T15:04:05Z)";
}

export interface FilterCheck {
  filters: AuditFilters;
  /** Problems by field (`since`, `until`); empty when the filters can be sent. */
  errors: Partial<Record<"since" | "until", string>>;
}

function blankToNull(s: string): string | null {
  const t = s.trim();
  return t === "" ? null : t;
}

/** The filters to send, blanks as null, with the problems of the time fields. */
export function toFilters(form: FilterForm, limit: number): FilterCheck {
  const errors: FilterCheck["errors"] = {};
  const since = checkTime(form.since);
  const until = checkTime(form.until);
  if (since) errors.since = `Since: ${since}`;
  if (until) errors.until = `Until: ${until}`;
  return {
    filters: {
      actor: blankToNull(form.actor),
      action: blankToNull(form.action),
      subject: blankToNull(form.subject),
      since: blankToNull(form.since),
      until: blankToNull(form.until),
      limit,
    },
    errors,
  };
}

/** True when any filter (not the limit) narrows the list. */
export function isFiltered(f: AuditFilters): boolean {
  return [f.actor, f.action, f.subject, f.since, f.until].some((v) => v !== null && v !== "");
}

/** A stored time (RFC 3339 UTC with milliseconds) in local time to the second. */
export function timeText(at: string): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return at;
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The first digits of a hash, for a row or a summary (the whole one goes in a title). */
export function shortHash(hash: string, digits = 12): string {
  return hash.length <= digits ? hash : `${hash.slice(0, digits)}…`;
}

/** An entry's details, pretty-printed. */
export function detailsText(details: unknown): string {
  if (details === null || details === undefined) return "null";
  if (typeof details === "string") return details;
  return JSON.stringify(details, null, 2);
}

/** A badge tone for an action: refusals and removals red, grants green, keys blue. */
export function actionTone(action: string): "ok" | "bad" | "warn" | "info" | "neutral" {
  const verb = action.split(".").pop() ?? action;
  if (/^(reject|rollback|untrust|delete|revoke|rotate|fail)/.test(verb)) return "bad";
  if (action.startsWith("override") || action.startsWith("incident") || verb === "gates")
    return "warn";
  if (/^(approve|activate|promote|resolve)/.test(verb)) return "ok";
  if (/^(key|identity|audit|trust)/.test(action)) return "info";
  return "neutral";
}

/** The row of `seq` in a list (newest first), or -1. */
export function indexOfSeq(entries: readonly AuditEntry[], seq: number): number {
  return entries.findIndex((e) => e.seq === seq);
}

/** The row to show for a bad entry that may be missing: itself, else the nearest older one. */
export function rowForSeq(entries: readonly AuditEntry[], seq: number): number {
  const exact = indexOfSeq(entries, seq);
  if (exact >= 0) return exact;
  // Newest first: the first entry older than `seq`.
  const older = entries.findIndex((e) => e.seq < seq);
  return older >= 0 ? older : entries.length - 1;
}

export interface Located {
  /** The row to select (-1 when the list is empty). */
  row: number;
  /** `found`; `missing` (the list reaches past it, so it is not in the log); `beyond` (older than the list reaches). */
  state: "found" | "missing" | "beyond";
}

/** Where entry `seq` is in a list (newest first) asked for with `limit`. */
export function locate(entries: readonly AuditEntry[], seq: number, limit: number): Located {
  const row = rowForSeq(entries, seq);
  if (row >= 0 && entries[row]?.seq === seq) return { row, state: "found" };
  const oldest = entries[entries.length - 1];
  // A list shorter than its limit is the whole log: what it lacks was removed.
  if (oldest && oldest.seq > seq && entries.length >= limit) return { row, state: "beyond" };
  return { row, state: "missing" };
}

/** The smallest list limit that reaches back to `seq` when the log ends at `lastSeq`. */
export function limitToReach(seq: number, lastSeq: number, current: number): number {
  const needed = Math.max(1, lastSeq - seq + 2);
  if (needed <= current) return current;
  return LIMITS.find((l) => l >= needed) ?? 10000;
}

export const KIND_TEXT: Record<BreakKind, string> = {
  edited: "an entry's content or hash was changed after it was written",
  removed: "one or more entries were deleted from the middle of the log",
  reordered: "entries are out of order",
  truncated: "the newest entries were removed below what the checkpoint vouches for",
};

export interface Verdict {
  tone: "ok" | "bad";
  /** The headline; for a break, the part before the entry number. */
  headline: string;
}

/** The headline of a verification. */
export function verdict(v: AuditVerification): Verdict {
  if (v.first_bad) return { tone: "bad", headline: "Broken at entry #" };
  const entries = `${v.entries.toLocaleString("en-US")} ${v.entries === 1 ? "entry" : "entries"}`;
  const last = v.entries === 0 ? "the log is empty" : `last #${v.last_seq}`;
  return { tone: "ok", headline: `Intact: ${entries}, ${last}` };
}

/** What a checkpoint check means, in a sentence. */
export function checkpointText(c: CheckpointCheck): string {
  if (c.valid) {
    const signer =
      c.signed_by.length > 0 ? `, signed by operator key ${c.signed_by.join(", ")}` : "";
    return `The checkpoint is valid: it vouches for entry #${c.seq} (hash ${shortHash(c.hash ?? "")})${c.at ? ` as of ${timeText(c.at)}` : ""}${signer}. Removing entries up to #${c.seq} would be detected.`;
  }
  const why: Record<string, string> = {
    malformed: "it is not a checkpoint file",
    unknown_key: "it is not signed by a trusted operator key",
    bad_signature: "its signature does not match its content",
    wrong_payload_type: "it is another kind of signed document",
    expired: "it has expired",
    not_yet_valid: "it is not valid yet (check the clock)",
  };
  const reason = c.reason ? (why[c.reason] ?? c.reason.replaceAll("_", " ")) : "it did not verify";
  return `The checkpoint is not valid: ${reason}. Nothing it states was used.`;
}

export const NO_CHECKPOINT_NOTE =
  "Without a checkpoint, removing the newest entries cannot be detected: what remains is still a valid chain. Make a checkpoint, keep it away from this machine, and verify against it.";

const HINTS: Record<string, string> = {
  invalid:
    "Since and Until take a date (2026-11-23) or an RFC 3339 time (2026-11-23T15:04:05Z); a checkpoint must be the JSON file Make checkpoint saved.",
  keychain:
    "The operator key could not be read from the OS keychain: unlock the keychain and try again.",
  store_unavailable: "The store could not be opened: check the data directory in Settings.",
};

/** What the user can do about an error of this screen. */
export function auditHint(code: string): string | undefined {
  return HINTS[code] ?? errorHint(code);
}
