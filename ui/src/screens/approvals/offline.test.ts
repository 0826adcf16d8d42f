import { describe, expect, it } from "vitest";
import type { BundleIndex } from "../../bindings/BundleIndex";
import type { VersionRow } from "../../bindings/VersionRow";
import {
  defaultEnvironment,
  diffText,
  importText,
  num,
  packCandidates,
  reviewFileName,
  signatureTone,
  splitReference,
  str,
} from "./offline";

const row = (reference: string, status: VersionRow["status"], pending: string[] = []): VersionRow =>
  ({
    reference,
    status,
    environments: pending.map((environment) => ({ environment, state: "pending" })),
  }) as unknown as VersionRow;

describe("packing", () => {
  const index: BundleIndex = {
    environments: ["dev", "staging", "prod"],
    versions: [
      row("a@1.0.2", "draft"),
      row("a@1.0.1", "submitted", ["staging", "prod"]),
      row("b@2.0.0", "active", ["prod"]),
      row("b@1.0.0", "active"),
      row("c@1.0.0", "rejected"),
      row("d@1.0.0", "approved", ["prod"]),
    ],
  };

  it("offers versions still under review somewhere", () => {
    expect(packCandidates(index).map((v) => v.reference)).toEqual([
      "a@1.0.1",
      "b@2.0.0",
      "d@1.0.0",
    ]);
  });

  it("packs for the first environment where the version waits", () => {
    const order = index.environments;
    expect(defaultEnvironment(index.versions[1], order)).toBe("staging");
    expect(defaultEnvironment(index.versions[2], order)).toBe("prod");
    expect(defaultEnvironment(undefined, order)).toBe("dev");
    expect(defaultEnvironment(index.versions[1], order, "prod")).toBe("prod");
    expect(defaultEnvironment(index.versions[1], order, "nowhere")).toBe("staging");
    expect(defaultEnvironment(undefined, [])).toBe("");
  });
});

describe("file names", () => {
  it("splits a reference at its last @", () => {
    expect(splitReference("inbox-triage@1.0.1")).toEqual(["inbox-triage", "1.0.1"]);
    expect(splitReference("@scope/x@2.0.0")).toEqual(["@scope/x", "2.0.0"]);
    expect(splitReference("plain")).toEqual(["plain", ""]);
  });

  it("names packages and approvals after bundle, version and environment", () => {
    expect(reviewFileName("inbox-triage", "1.0.1", "prod", "review")).toBe(
      "~/inbox-triage-1.0.1-prod.review.json",
    );
    expect(reviewFileName("@scope/x y", "2.0.0", "prod", "approval")).toBe(
      "~/-scope-x-y-2.0.0-prod.approval.json",
    );
  });
});

describe("reports", () => {
  it("says how far an import brought the quorum", () => {
    expect(importText({ approvals: 1, required: 2 })).toBe("Approvals now 1 of 2");
    expect(importText({ approvals: 2, required: 2 })).toBe("Approvals now 2 of 2, quorum reached");
  });

  it("reads the package's JSON defensively", () => {
    expect(num({ cases: 12 }, "cases")).toBe(12);
    expect(num({ cases: "12" }, "cases")).toBeNull();
    expect(num(null, "cases")).toBeNull();
    expect(str({ class: "restrictive" }, "class")).toBe("restrictive");
    expect(str([], "class")).toBeNull();
    expect(diffText({ added: [1, 2], removed: [], modified: [1] })).toBe(
      "2 added, 0 removed, 1 modified",
    );
    expect(diffText(undefined)).toBe("0 added, 0 removed, 0 modified");
  });

  it("colours a package signature by its status", () => {
    expect(signatureTone("verified")).toBe("ok");
    expect(signatureTone("unknown_signer")).toBe("warn");
    expect(signatureTone("invalid")).toBe("bad");
  });
});
