import { describe, expect, it } from "vitest";
import type { SyncReport } from "../../bindings/SyncReport";
import { clockTime, countsText, groupProblems, problemCount, syncStatusText } from "./sync";

function report(patch: Partial<SyncReport>): SyncReport {
  return {
    bundle: "payments",
    registry: "team",
    fetched_versions: [],
    fetched_approvals: [],
    fetched_rollouts: [],
    fetched_trust: [],
    published: [],
    problems: [],
    ...patch,
  };
}

const at = new Date(2025, 4, 6, 14, 2, 30).toISOString();

describe("syncStatusText", () => {
  it("says never before the first sync", () => {
    expect(syncStatusText(null)).toBe("Never synced");
    expect(syncStatusText({ at: null, reports: [], error: null })).toBe("Never synced");
  });

  it("counts what was fetched and published", () => {
    const status = {
      at,
      error: null,
      reports: [
        report({ fetched_versions: ["payments@1.1.0"], fetched_approvals: ["a"] }),
        report({ bundle: "hr", fetched_approvals: ["b"], published: ["hr@2.0.0"] }),
      ],
    };
    expect(syncStatusText(status)).toBe(
      "Last sync 14:02: 1 version and 2 approvals fetched, 1 published",
    );
  });

  it("says nothing new, and failed", () => {
    expect(syncStatusText({ at, error: null, reports: [report({})] })).toBe(
      "Last sync 14:02: nothing new",
    );
    expect(syncStatusText({ at, error: null, reports: [] })).toBe("Last sync 14:02: nothing new");
    const error = { code: "registry_unreachable", message: "down", line: null, column: null };
    expect(syncStatusText({ at, error, reports: [] })).toBe("Last sync 14:02 failed");
    expect(syncStatusText({ at, error, reports: [report({})] }, true)).toBe(
      "Last sync 14:02 failed",
    );
  });
});

describe("countsText", () => {
  it("pluralises and leaves out zeros", () => {
    expect(countsText([report({ fetched_versions: ["a", "b"] })])).toBe("2 versions fetched");
    expect(countsText([report({ published: ["a", "b", "c"] })])).toBe("3 published");
    expect(countsText([report({ fetched_approvals: ["a"] })])).toBe("1 approval fetched");
    expect(countsText([report({ fetched_trust: ["trust v2 signed by alice, bob"] })])).toBe(
      "1 trust document fetched",
    );
    expect(countsText([report({ fetched_rollouts: ["rollout-prod serial 2"] })])).toBe(
      "1 rollout fetched",
    );
  });
});

describe("clockTime", () => {
  it("pads, and keeps what is not a time", () => {
    expect(clockTime(new Date(2025, 0, 1, 9, 5).toISOString())).toBe("09:05");
    expect(clockTime("soon")).toBe("soon");
  });
});

describe("groupProblems", () => {
  it("groups by bundle and sorts by tag", () => {
    const groups = groupProblems([
      report({ bundle: "zeta", problems: [{ tag: "1.0.0", reason: "untrusted author" }] }),
      report({ bundle: "alpha" }),
      report({
        bundle: "beta",
        problems: [
          { tag: "sha256-b.approval-k-prod", reason: "bad signature" },
          { tag: "2.0.0", reason: "digest mismatch" },
        ],
      }),
    ]);
    expect(groups.map((g) => g.bundle)).toEqual(["beta", "zeta"]);
    expect(groups[0]?.problems.map((p) => p.tag)).toEqual(["2.0.0", "sha256-b.approval-k-prod"]);
    expect(problemCount(groups)).toBe(3);
    expect(groupProblems([])).toEqual([]);
  });
});
