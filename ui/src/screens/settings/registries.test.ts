import { describe, expect, it } from "vitest";
import {
  checkRegistryDraft,
  checkRegistryName,
  checkRegistryUrl,
  registryHint,
} from "./registries";

describe("checkRegistryUrl", () => {
  it("tells the three forms apart", () => {
    expect(checkRegistryUrl("oci://registry.example.com/team")).toMatchObject({
      form: "https",
      ok: true,
    });
    expect(checkRegistryUrl("oci://registry.example.com/team").text).toContain("HTTPS");
    const http = checkRegistryUrl(" oci+http://127.0.0.1:5055/policies/ ");
    expect(http).toMatchObject({ form: "http", ok: true });
    expect(http.text).toContain("127.0.0.1:5055, bundles under policies/");
    expect(http.text).toContain("loopback");
    expect(checkRegistryUrl("dir:/mnt/usb/gavel")).toMatchObject({ form: "dir", ok: true });
    expect(checkRegistryUrl("/mnt/usb/gavel")).toMatchObject({ form: "dir", ok: true });
    expect(checkRegistryUrl("oci://host")).toMatchObject({ form: "https", ok: true });
  });

  it("says what is wrong", () => {
    expect(checkRegistryUrl("").ok).toBe(false);
    expect(checkRegistryUrl("https://r.example.com/x").text).toContain("oci://");
    expect(checkRegistryUrl("registry.example.com").ok).toBe(false);
    expect(checkRegistryUrl("oci:///team").text).toContain("host");
    expect(checkRegistryUrl("oci://u@host/team").ok).toBe(false);
    expect(checkRegistryUrl("oci://host/Team").text).toContain("namespace");
    expect(checkRegistryUrl("oci://host/a--b/c.d").ok).toBe(true);
    expect(checkRegistryUrl("oci://host/a-/b").ok).toBe(false);
    expect(checkRegistryUrl("dir:").ok).toBe(false);
  });
});

describe("checkRegistryName", () => {
  it("accepts what the back end accepts", () => {
    expect(checkRegistryName("team")).toBeUndefined();
    expect(checkRegistryName("team-2_eu")).toBeUndefined();
    expect(checkRegistryName("")).toBeDefined();
    expect(checkRegistryName("2team")).toBeDefined();
    expect(checkRegistryName("Team")).toBeDefined();
    expect(checkRegistryName("a".repeat(65))).toBeDefined();
  });
});

describe("checkRegistryDraft", () => {
  it("needs a user name with a password", () => {
    const ok = { name: "team", url: "oci://r.example.com/t", username: "", password: "" };
    expect(checkRegistryDraft(ok)).toEqual({});
    expect(checkRegistryDraft({ ...ok, password: "pw" }).username).toBeDefined();
    expect(checkRegistryDraft({ ...ok, password: "pw", username: "ada" })).toEqual({});
    expect(Object.keys(checkRegistryDraft({ ...ok, name: "", url: "x" })).sort()).toEqual([
      "name",
      "url",
    ]);
  });
});

describe("registryHint", () => {
  it("says what to do when the registry is down", () => {
    expect(registryHint("registry_unreachable")).toBe(
      "The registry cannot be reached: check it runs, then Sync again",
    );
    for (const code of [
      "invalid",
      "refused",
      "not_found",
      "not_bound",
      "tag_moved",
      "registry_refused",
      "registry_error",
      "registry_unauthorized",
      "keychain",
      "no_identity",
    ])
      expect(registryHint(code)).toBeTruthy();
    expect(registryHint("something_else")).toBeUndefined();
  });
});
