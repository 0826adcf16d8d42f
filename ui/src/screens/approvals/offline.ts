//! Pure helpers of the offline review (DESIGN §1 the offline reviewer, §7): which
//! versions can be packed, the default names of the package and approval files, the
//! sentences an import and a report say, and titles and hints by error code. Whether a
//! package holds, and whether an approval counts, is decided in Rust.

import type { ApprovalRecord } from "../../bindings/ApprovalRecord";
import type { BundleIndex } from "../../bindings/BundleIndex";
import type { VersionRow } from "../../bindings/VersionRow";
import { approvalsText } from "./inbox";

/** Versions that may be under review somewhere: submitted and not over (newest first). */
export function packCandidates(index: BundleIndex): VersionRow[] {
  return index.versions.filter(
    (v) =>
      v.status === "submitted" ||
      v.status === "approved" ||
      (v.status === "active" && v.environments.some((e) => e.state === "pending")),
  );
}

/** The environment to pack for by default: the first where the version waits, else the first. */
export function defaultEnvironment(
  row: VersionRow | undefined,
  order: readonly string[],
  preferred?: string,
): string {
  if (preferred && order.includes(preferred)) return preferred;
  const pending = new Set(
    (row?.environments ?? []).filter((e) => e.state === "pending").map((e) => e.environment),
  );
  return order.find((e) => pending.has(e)) ?? order[0] ?? "";
}

/** `NAME@VERSION` → [name, version] (the version after the last `@`). */
export function splitReference(reference: string): [string, string] {
  const at = reference.lastIndexOf("@");
  if (at <= 0) return [reference, ""];
  return [reference.slice(0, at), reference.slice(at + 1)];
}

function safe(part: string): string {
  return part.replace(/[^A-Za-z0-9._-]+/g, "-");
}

/** `~/<bundle>-<version>-<env>.<kind>.json`. */
export function reviewFileName(
  bundle: string,
  version: string,
  environment: string,
  kind: "review" | "approval",
): string {
  const parts = [bundle, version, environment].filter((p) => p !== "").map(safe);
  return `~/${parts.join("-")}.${kind}.json`;
}

/** "Approvals now 2 of 2, quorum reached" after an import. */
export function importText(r: Pick<ApprovalRecord, "approvals" | "required">): string {
  const base = `Approvals now ${approvalsText(r.approvals, r.required)}`;
  return r.approvals >= r.required ? `${base}, quorum reached` : base;
}

/** A number from a JSON object of the package (`null` when absent or not a number). */
export function num(obj: unknown, key: string): number | null {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return null;
  const v = (obj as Record<string, unknown>)[key];
  return typeof v === "number" ? v : null;
}

/** A string from a JSON object of the package. */
export function str(obj: unknown, key: string): string | null {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return null;
  const v = (obj as Record<string, unknown>)[key];
  return typeof v === "string" ? v : null;
}

/** The length of a list in a JSON object of the package. */
export function count(obj: unknown, key: string): number {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return 0;
  const v = (obj as Record<string, unknown>)[key];
  return Array.isArray(v) ? v.length : 0;
}

/** "2 added, 1 removed, 3 modified" of the package's diff object. */
export function diffText(diff: unknown): string {
  return `${count(diff, "added")} added, ${count(diff, "removed")} removed, ${count(diff, "modified")} modified`;
}

/** Tone of a package signature's status. */
export function signatureTone(status: string): "ok" | "warn" | "bad" {
  if (status === "verified") return "ok";
  if (status === "unknown_signer") return "warn";
  return "bad";
}

/** What a package signature's status means. */
export function signatureText(status: string): string {
  switch (status) {
    case "verified":
      return "signed by a trusted author key";
    case "unknown_signer":
      return "signed by a key this machine does not know (the digests are what an approval binds)";
    case "invalid":
      return "the signature does not hold";
    default:
      return status.replaceAll("_", " ");
  }
}

/** Headlines of the offline review's refusals, by code. */
export function offlineTitle(code: string): string {
  switch (code) {
    case "package_refused":
      return "The review package was refused";
    case "approval_refused":
      return "The approval file was refused";
    case "author_cannot_approve":
      return "The author cannot approve their own version";
    case "already_decided":
      return "This approver has already decided on this version here";
    case "not_an_approver":
      return "This identity is not an approver";
    case "not_submitted":
      return "The version is not submitted";
    case "review_closed":
      return "This review is closed";
    case "comment_required":
      return "A comment is required";
    case "no_identity":
      return "An identity is needed";
    case "keychain":
      return "The signing key could not be read from the keychain";
    case "invalid":
      return "The file could not be read";
    case "not_found":
      return "Not found";
    default:
      return "Refused";
  }
}

/** What to do about an offline review refusal (errors.ts covers the shared codes). */
export function offlineHint(code: string): string | undefined {
  switch (code) {
    case "package_refused":
      return "Nothing was signed: ask the console for a new package (Pack review).";
    case "approval_refused":
      return "Nothing was recorded: check that the reviewer's key is trusted here (Keys) and that the version is still under review in that environment.";
    case "invalid":
      return "Open the .review.json or .approval.json file Gavel wrote, unchanged.";
    default:
      return undefined;
  }
}
