//! Pure helpers of the Keys screen: the two lists, who may grant roles, the checks of
//! the forms (identity, passphrase), file names, and hints by error code.

import type { KeyInfo } from "../../bindings/KeyInfo";
import type { KeysView } from "../../bindings/KeysView";
import { errorHint } from "../../errors";

/** The roles a person can hold (`operator` is the console's service key). */
export const PERSON_ROLES = ["author", "approver", "analyst", "security"] as const;
export type PersonRole = (typeof PERSON_ROLES)[number];

export const MIN_PASSPHRASE = 12;

/** The store's identities and the other trusted keys, current keys before retired ones. */
export function splitKeys(keys: readonly KeyInfo[]): { identities: KeyInfo[]; trusted: KeyInfo[] } {
  const order = (a: KeyInfo, b: KeyInfo) =>
    Number(a.retired) - Number(b.retired) ||
    a.name.localeCompare(b.name) ||
    b.added_at.localeCompare(a.added_at);
  return {
    identities: keys.filter((k) => k.identity).sort(order),
    trusted: keys.filter((k) => !k.identity).sort(order),
  };
}

/** The console's own service key: its role is not a person's, so it is not edited here. */
export function isOperatorKey(k: KeyInfo): boolean {
  return k.roles.includes("operator");
}

export interface RoleChoice {
  /** The checkboxes can be changed. */
  editable: boolean;
  /** Why not, or what will happen; null when nothing needs saying. */
  note: string | null;
  /** The roles shown checked when they cannot be changed. */
  fixed: PersonRole[] | null;
}

export const GRANT_REASON = "Only a security identity grants roles";

/** Whether a new identity's roles can be chosen, and why not. */
export function newIdentityRoles(view: KeysView): RoleChoice {
  const hasIdentity = view.keys.some((k) => k.identity);
  if (!hasIdentity)
    return {
      editable: false,
      note: "The store's first identity gets every role (author, approver, analyst, security): it can then grant roles to the others.",
      fixed: [...PERSON_ROLES],
    };
  if (!view.can_grant)
    return {
      editable: false,
      note: `${GRANT_REASON}: this identity starts with no role until one grants it some.`,
      fixed: [],
    };
  return { editable: true, note: null, fixed: null };
}

/** The roles of a key that the person-role checkboxes show. */
export function personRoles(roles: readonly string[]): PersonRole[] {
  return PERSON_ROLES.filter((r) => roles.includes(r));
}

export function toggleRole(roles: readonly PersonRole[], role: PersonRole): PersonRole[] {
  return roles.includes(role)
    ? roles.filter((r) => r !== role)
    : PERSON_ROLES.filter((r) => r === role || roles.includes(r));
}

export function sameRoles(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((r) => b.includes(r));
}

export interface IdentityCheck {
  name?: string;
  email?: string;
}

/** What is wrong with a new identity's name and email (empty when it can be sent). */
export function checkIdentity(name: string, email: string): IdentityCheck {
  const out: IdentityCheck = {};
  const n = name.trim();
  const e = email.trim();
  if (n === "") out.name = "Give a name.";
  else if (n.length > 64) out.name = "A name has at most 64 characters.";
  if (e === "") out.email = "Give an email address.";
  else if (!/^[^\s@]+@[^\s@]+$/.test(e)) out.email = "That is not an email address.";
  return out;
}

/** What is wrong with a backup passphrase and its repetition, or null. */
export function checkPassphrase(passphrase: string, repeat: string): string | null {
  if (passphrase.length < MIN_PASSPHRASE)
    return `The passphrase needs at least ${MIN_PASSPHRASE} characters (${passphrase.length} now).`;
  if (passphrase.trim() === "") return "The passphrase cannot be only spaces.";
  if (repeat !== passphrase) return "The two passphrases differ.";
  return null;
}

/** A file name made of a key's name (path separators and odd characters replaced). */
export function fileStem(name: string): string {
  const stem = name
    .trim()
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[.-]+|-+$/g, "");
  return stem === "" ? "key" : stem;
}

export const publicKeyPath = (name: string) => `~/${fileStem(name)}.pub.json`;
export const backupPath = (name: string) => `~/${fileStem(name)}.gavel-key.age`;

/** A date as the lists show it. */
export function dateText(at: string): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return at;
  return d.toLocaleDateString(undefined, { dateStyle: "medium" });
}

export function rolesText(roles: readonly string[]): string {
  return roles.length === 0 ? "no role" : roles.join(", ");
}

const HINTS: Record<string, string> = {
  refused:
    "Trusting, untrusting and granting roles is a security identity's act: choose one in the header, or ask a security engineer.",
  invalid: "Check the values given: the message names what is wrong.",
  keychain: "The private key is kept in the OS keychain: unlock it and try again.",
  not_found: "The key is no longer in the trust store: refresh the list.",
  invalid_key:
    "Give a public key file (from Export public key, or `gavel keys export`) or a trust store export.",
  bad_passphrase:
    "Nothing was changed: type the passphrase the backup was made with (it is case-sensitive).",
  invalid_backup:
    "This is not a key backup made by Back up key (or `gavel keys backup`), or it was damaged.",
  exists: "Choose another path, or replace the file.",
};

/** What the user can do about an error of this screen. */
export function keysHint(code: string): string | undefined {
  return HINTS[code] ?? errorHint(code);
}
