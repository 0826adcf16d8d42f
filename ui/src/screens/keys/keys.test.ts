import { describe, expect, it } from "vitest";
import type { KeyInfo } from "../../bindings/KeyInfo";
import type { KeysView } from "../../bindings/KeysView";
import {
  backupPath,
  checkIdentity,
  checkPassphrase,
  fileStem,
  isOperatorKey,
  keysHint,
  newIdentityRoles,
  personRoles,
  publicKeyPath,
  rolesText,
  sameRoles,
  splitKeys,
  toggleRole,
} from "./keys";

const key = (over: Partial<KeyInfo>): KeyInfo => ({
  keyid: "0123456789abcdef",
  name: "ada",
  email: "ada@example.com",
  roles: [],
  identity: false,
  retired: false,
  added_at: "2026-11-23T15:04:05Z",
  ...over,
});

const view = (keys: KeyInfo[], can_grant: boolean): KeysView => ({
  keys,
  acting: keys.find((k) => k.identity)?.name ?? null,
  can_grant,
});

describe("lists", () => {
  it("splits identities from trusted keys, current before retired, by name", () => {
    const keys = [
      key({ keyid: "1", name: "zed", identity: true }),
      key({ keyid: "2", name: "ada", identity: true, retired: true }),
      key({ keyid: "3", name: "ada", identity: true }),
      key({ keyid: "4", name: "bob" }),
      key({ keyid: "5", name: "operator", roles: ["operator"] }),
    ];
    const { identities, trusted } = splitKeys(keys);
    expect(identities.map((k) => k.keyid)).toEqual(["3", "1", "2"]);
    expect(trusted.map((k) => k.keyid)).toEqual(["4", "5"]);
    expect(isOperatorKey(trusted[1] as KeyInfo)).toBe(true);
  });
});

describe("roles", () => {
  it("gives the first identity every role, and says so", () => {
    const c = newIdentityRoles(view([], false));
    expect(c.editable).toBe(false);
    expect(c.fixed).toEqual(["author", "approver", "analyst", "security"]);
    expect(c.note).toContain("every role");
  });

  it("disables the roles with the reason when the actor cannot grant", () => {
    const c = newIdentityRoles(view([key({ identity: true })], false));
    expect(c.editable).toBe(false);
    expect(c.note).toContain("Only a security identity grants roles");
  });

  it("lets a security identity choose", () => {
    expect(newIdentityRoles(view([key({ identity: true })], true)).editable).toBe(true);
  });

  it("toggles roles in a fixed order and compares sets", () => {
    expect(toggleRole([], "security")).toEqual(["security"]);
    expect(toggleRole(["security"], "author")).toEqual(["author", "security"]);
    expect(toggleRole(["author", "security"], "author")).toEqual(["security"]);
    expect(personRoles(["operator", "approver"])).toEqual(["approver"]);
    expect(sameRoles(["a", "b"], ["b", "a"])).toBe(true);
    expect(sameRoles(["a"], ["a", "b"])).toBe(false);
    expect(rolesText([])).toBe("no role");
  });
});

describe("forms", () => {
  it("checks a new identity", () => {
    expect(checkIdentity("ada", "ada@example.com")).toEqual({});
    expect(checkIdentity(" ", "")).toEqual({
      name: "Give a name.",
      email: "Give an email address.",
    });
    expect(checkIdentity("ada", "ada").email).toBeDefined();
  });

  it("asks for 12 characters and the same passphrase twice", () => {
    expect(checkPassphrase("short", "short")).toContain("12");
    expect(checkPassphrase("            ", "            ")).toContain("spaces");
    expect(checkPassphrase("correct horse", "correct hors")).toContain("differ");
    expect(checkPassphrase("correct horse", "correct horse")).toBeNull();
  });

  it("names files after the key", () => {
    expect(publicKeyPath("ada")).toBe("~/ada.pub.json");
    expect(backupPath("Ada Lovelace")).toBe("~/Ada-Lovelace.gavel-key.age");
    expect(fileStem("../../etc/passwd")).toBe("etc-passwd");
    expect(fileStem("///")).toBe("key");
  });

  it("has hints for its codes", () => {
    for (const code of ["refused", "invalid", "keychain", "not_found", "invalid_key"])
      expect(keysHint(code)).toBeDefined();
    expect(keysHint("bad_passphrase")).toContain("Nothing was changed");
    expect(keysHint("invalid_backup")).toContain("backup");
  });
});
