import { describe, expect, it } from "vitest";
import type { RegistryRow } from "../../bindings/RegistryRow";
import { artifactKind, bindingOf, bytesText, canPush, layersText } from "./registry";

const row = (name: string, bundles: string[]): RegistryRow => ({
  name,
  url: `oci://r.example.com/${name}`,
  username: null,
  added_at: "2025-01-01T00:00:00Z",
  bundles,
});

describe("bindingOf", () => {
  it("finds the registry a bundle is bound to", () => {
    const rows = [row("a", ["x"]), row("b", ["payments", "y"])];
    expect(bindingOf(rows, "payments")?.name).toBe("b");
    expect(bindingOf(rows, "none")).toBeUndefined();
  });
});

describe("canPush", () => {
  it("refuses drafts only", () => {
    expect(canPush("draft")).toBe(false);
    expect(canPush("submitted")).toBe(true);
    expect(canPush("active")).toBe(true);
  });
});

describe("artifactKind", () => {
  it("names the gavel artifacts", () => {
    const a = (tag: string, artifact_type: string) => ({
      tag,
      artifact_type,
      digest: "",
      layers: [],
    });
    expect(artifactKind(a("1.0.0", "application/vnd.gavel.bundle.v1"))).toBe("bundle");
    expect(artifactKind(a("sha256-ab.sig", "application/vnd.gavel.signatures.v1"))).toBe(
      "signatures",
    );
    expect(
      artifactKind(a("sha256-ab.approval-k-prod", "application/vnd.gavel.signatures.v1")),
    ).toBe("approval");
    expect(artifactKind(a("x", "application/other"))).toBe("application/other");
  });
});

describe("sizes", () => {
  it("reads bytes", () => {
    expect(bytesText(512)).toBe("512 B");
    expect(bytesText(1536)).toBe("1.5 KiB");
    expect(bytesText(20 * 1024 * 1024)).toBe("20 MiB");
    expect(layersText([1024, 512])).toBe("2 layers, 1.5 KiB");
    expect(layersText([10])).toBe("1 layer, 10 B");
  });
});
