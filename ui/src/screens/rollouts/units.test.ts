import { describe, expect, it } from "vitest";
import type { BundleIndex } from "../../bindings/BundleIndex";
import type { BundleStatus } from "../../bindings/BundleStatus";
import type { EnvStatus } from "../../bindings/EnvStatus";
import {
  activationText,
  anythingActive,
  bakeText,
  candidates,
  checkConfirmation,
  checkReason,
  durationText,
  expectedOf,
  findUnit,
  gateBadgeClass,
  gateNumber,
  gateTone,
  groupUnits,
  readGateReport,
  reasonCount,
  refusalTitle,
  rollbackReady,
} from "./units";

const slot = (bundle: string, version: string, digest: string) => ({
  reference: `${bundle}@${version}`,
  version,
  digest,
  activated_at: "2025-01-01T00:00:00Z",
});

function bundle(name: string, over: Partial<BundleStatus> = {}): BundleStatus {
  return {
    bundle: name,
    serial: 1,
    active: slot(name, "1.0.0", `sha256:a-${name}`),
    canary: null,
    last_gates: null,
    pending: [],
    ...over,
  };
}

function env(name: string, bundles: BundleStatus[], canary = true): EnvStatus {
  return {
    name,
    bundles,
    quorum: 1,
    canary,
    bake_time_seconds: 3600,
    min_samples: 100,
    created_at: "2025-01-01T00:00:00Z",
  };
}

describe("groupUnits", () => {
  it("keeps the environments' order and sorts bundles by name", () => {
    const groups = groupUnits({
      environments: [
        env("dev", [bundle("zeta"), bundle("alpha")]),
        env("staging", []),
        env("prod", [bundle("mid")]),
      ],
    });
    expect(groups.map((g) => g.environment.name)).toEqual(["dev", "staging", "prod"]);
    expect(groups[0]?.units.map((u) => u.status.bundle)).toEqual(["alpha", "zeta"]);
    expect(groups[1]?.units).toEqual([]);
    expect(findUnit(groups, "mid", "prod")?.environment.name).toBe("prod");
    expect(findUnit(groups, "mid", "dev")).toBeUndefined();
    expect(findUnit(groups, undefined, "dev")).toBeUndefined();
  });

  it("knows whether anything is active", () => {
    expect(anythingActive(groupUnits({ environments: [env("dev", [])] }))).toBe(false);
    expect(
      anythingActive(groupUnits({ environments: [env("dev", [bundle("a", { active: null })])] })),
    ).toBe(false);
    expect(anythingActive(groupUnits({ environments: [env("dev", [bundle("a")])] }))).toBe(true);
  });
});

describe("time left", () => {
  it("says baked once the bake time has elapsed", () => {
    expect(bakeText(0)).toBe("baked");
    expect(bakeText(-5)).toBe("baked");
  });
  it("gives the two largest parts", () => {
    expect(bakeText(3 * 3600 + 12 * 60 + 7)).toBe("3 h 12 min left");
    expect(durationText(45 * 60)).toBe("45 min");
    expect(durationText(30)).toBe("30 s");
    expect(durationText(2 * 86_400 + 4 * 3600 + 60)).toBe("2 d 4 h");
    expect(durationText(3600)).toBe("1 h");
  });
});

describe("reason and confirmation", () => {
  it("needs 10 characters, trimmed, and says how many more", () => {
    expect(checkReason("")).toEqual({
      ok: false,
      reason: "A rollback needs a reason of at least 10 characters.",
    });
    expect(checkReason("  short  ")).toEqual({
      ok: false,
      reason: "A rollback needs at least 10 characters (5 more).",
    });
    expect(checkReason("error rate spiked").ok).toBe(true);
    expect(reasonCount(" abc ")).toBe("3 / 10");
  });
  it("asks prod to be typed, and nothing elsewhere", () => {
    expect(checkConfirmation("staging", "").ok).toBe(true);
    expect(checkConfirmation("prod", "").ok).toBe(false);
    expect(checkConfirmation("prod", "Prod").ok).toBe(false);
    expect(checkConfirmation("prod", "prod").ok).toBe(true);
    expect(rollbackReady("prod", "error rate spiked", "prod").ok).toBe(true);
    expect(rollbackReady("prod", "error rate spiked", "pro").ok).toBe(false);
    expect(rollbackReady("prod", "short", "prod").ok).toBe(false);
    expect(rollbackReady("dev", "error rate spiked", "").ok).toBe(true);
  });
});

describe("expectedOf", () => {
  it("names each slot's digest, or none where nothing is there", () => {
    expect(expectedOf(bundle("a"))).toEqual({ active: "sha256:a-a", canary: "none" });
    expect(expectedOf(bundle("a", { active: null }))).toEqual({ active: "none", canary: "none" });
    const canary = {
      ...slot("a", "1.1.0", "sha256:c"),
      percent: 10,
      since: "2025-01-02T00:00:00Z",
      bake_time_left_seconds: 10,
    };
    expect(expectedOf(bundle("a", { canary }))).toEqual({
      active: "sha256:a-a",
      canary: "sha256:c",
    });
  });
});

describe("gates", () => {
  it("colours pass green, fail red, inconclusive amber, skipped grey", () => {
    expect(gateTone("pass")).toBe("ok");
    expect(gateTone("fail")).toBe("bad");
    expect(gateTone("inconclusive")).toBe("warn");
    expect(gateTone("skipped")).toBe("neutral");
    expect(gateBadgeClass("fail")).toBe("badge badge-bad");
  });
  it("reads a stored report, ignoring what is not a gate", () => {
    const r = readGateReport({
      passed: false,
      failures: ["Insufficient samples: 50 < 100", 3],
      gates: [
        { name: "samples", state: "inconclusive", value: 50, threshold: 100, message: "m" },
        { nope: 1 },
      ],
    });
    expect(r?.failures).toEqual(["Insufficient samples: 50 < 100"]);
    expect(r?.gates).toHaveLength(1);
    expect(readGateReport(null)).toBeNull();
    expect(readGateReport({ passed: true })).toBeNull();
  });
  it("formats values by gate", () => {
    expect(gateNumber("samples", 50)).toBe("50");
    expect(gateNumber("error_rate", 0.075)).toBe("7.5%");
    expect(gateNumber("vs_stable", 0.01)).toBe("0.01");
    expect(gateNumber("deny_rate", null)).toBe("—");
  });
});

describe("activation", () => {
  it("offers approved pending versions and approved versions of the index, once each", () => {
    const status = bundle("a", {
      pending: [
        {
          reference: "a@1.1.0",
          digest: "sha256:p1",
          state: "approved",
          approvals: 1,
          required: 1,
          needs: 0,
          approvers: ["bo"],
        },
        {
          reference: "a@1.2.0",
          digest: "sha256:p2",
          state: "pending",
          approvals: 0,
          required: 1,
          needs: 1,
          approvers: [],
        },
      ],
    });
    const row = (reference: string, name: string, state: "approved" | "pending", e: string) => ({
      environments: [{ environment: e, state }],
      id: 1,
      reference,
      name,
      version: reference.split("@")[1] ?? "",
      digest: `sha256:${reference}`,
      format: "yaml" as const,
      author: "ada",
      created_at: "",
      status: "approved" as const,
      source: "editor" as const,
      provenance: null,
      notes: "",
    });
    const index = {
      environments: ["dev"],
      versions: [
        row("a@1.1.0", "a", "approved", "dev"),
        row("a@1.3.0", "a", "approved", "dev"),
        row("a@1.4.0", "a", "approved", "prod"),
        row("b@1.0.0", "b", "approved", "dev"),
      ],
    } as unknown as BundleIndex;
    expect(candidates(status, "dev", index).map((c) => c.reference)).toEqual([
      "a@1.1.0",
      "a@1.3.0",
    ]);
    expect(candidates(status, "dev", null).map((c) => c.reference)).toEqual(["a@1.1.0"]);
  });
  it("says whether a canary starts", () => {
    expect(activationText(env("staging", []), bundle("a"))).toBe("canary at 10%");
    expect(activationText(env("staging", []), bundle("a", { active: null }))).toMatch(
      /^100% at once: nothing is active/,
    );
    expect(activationText(env("dev", [], false), bundle("a"))).toMatch(/canary off/);
  });
  it("titles a refusal by code", () => {
    expect(refusalTitle("stale_state")).toBe("Someone changed this rollout since you loaded it");
    expect(refusalTitle("whatever")).toBe("The change was refused");
  });
});
