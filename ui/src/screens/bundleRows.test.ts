import { describe, expect, it } from "vitest";
import {
  bundleRows,
  type ListedVersion,
  matchesQuery,
  previousVersion,
  rowIndexOf,
} from "./bundleRows";

function v(name: string, version: string, extra: Partial<ListedVersion> = {}): ListedVersion {
  return {
    reference: `${name}@${version}`,
    name,
    version,
    author: "alice",
    digest: `sha256:${name.length}abc${version.replaceAll(".", "")}`,
    status: "draft",
    created_at: "2026-11-30T10:00:00Z",
    ...extra,
  };
}

// Newest first, as the back end lists them.
const versions = [
  v("inbox", "1.2.0", { status: "active", author: "bob", digest: "sha256:deadbeef" }),
  v("deploy", "2.0.0"),
  v("inbox", "1.1.0", { status: "superseded" }),
  v("deploy", "1.0.0", { status: "rejected" }),
  v("inbox", "1.0.0", { status: "superseded" }),
];

describe("bundleRows", () => {
  it("groups by name in order of the newest version, versions newest first", () => {
    const rows = bundleRows(versions, "", "");
    expect(rows.map((r) => (r.kind === "group" ? `# ${r.name}` : r.version.reference))).toEqual([
      "# inbox",
      "inbox@1.2.0",
      "inbox@1.1.0",
      "inbox@1.0.0",
      "# deploy",
      "deploy@2.0.0",
      "deploy@1.0.0",
    ]);
  });
  it("filters by status and drops empty groups, counting shown and total", () => {
    const rows = bundleRows(versions, "", "superseded");
    expect(rows[0]).toEqual({ kind: "group", name: "inbox", total: 3, shown: 2 });
    expect(rows).toHaveLength(3);
  });
  it("searches", () => {
    expect(bundleRows(versions, "dep", "").filter((r) => r.kind === "version")).toHaveLength(2);
    expect(bundleRows(versions, "", "no-such-status")).toEqual([]);
  });
  it("handles an empty list", () => {
    expect(bundleRows([], "x", "")).toEqual([]);
  });
});

describe("matchesQuery", () => {
  const x = versions[0]!;
  it("matches name, version, reference and author", () => {
    expect(matchesQuery(x, "INBOX")).toBe(true);
    expect(matchesQuery(x, "1.2")).toBe(true);
    expect(matchesQuery(x, "inbox@1.2.0")).toBe(true);
    expect(matchesQuery(x, "bob")).toBe(true);
    expect(matchesQuery(x, "carol")).toBe(false);
  });
  it("matches a digest prefix with or without sha256:", () => {
    expect(matchesQuery(x, "deadbe")).toBe(true);
    expect(matchesQuery(x, "sha256:dead")).toBe(true);
    expect(matchesQuery(x, "adbeef")).toBe(false);
    expect(matchesQuery(x, "sha256:")).toBe(false);
  });
});

describe("previousVersion and rowIndexOf", () => {
  it("finds the version before, within the same bundle", () => {
    expect(previousVersion(versions, versions[0]!)?.reference).toBe("inbox@1.1.0");
    expect(previousVersion(versions, versions[4]!)).toBeUndefined();
    expect(previousVersion(versions, v("other", "1.0.0"))).toBeUndefined();
  });
  it("finds a version's row", () => {
    const rows = bundleRows(versions, "", "");
    expect(rowIndexOf(rows, "deploy@2.0.0")).toBe(5);
    expect(rowIndexOf(rows, null)).toBe(-1);
  });
});
