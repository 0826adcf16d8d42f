import { describe, expect, it } from "vitest";
import {
  defaultDiffSides,
  groupVersions,
  isListed,
  middleEllipsis,
  optionLabel,
  pickerLabel,
  previousOf,
} from "./versions";

const v = (name: string, version: string, status = "draft") => ({
  reference: `${name}@${version}`,
  name,
  version,
  status,
});

// Newest first, as the index lists them; two bundles interleaved.
const versions = [
  v("a", "1.2.0"),
  v("b", "2.0.0", "active"),
  v("a", "1.1.0"),
  v("b", "1.0.0"),
  v("a", "1.0.0"),
];

describe("previousOf", () => {
  it("finds the version of the same name stored just before", () => {
    expect(previousOf(versions, "a@1.2.0")?.reference).toBe("a@1.1.0");
    expect(previousOf(versions, "a@1.1.0")?.reference).toBe("a@1.0.0");
    expect(previousOf(versions, "b@2.0.0")?.reference).toBe("b@1.0.0");
  });
  it("has none for a first version or an unknown reference", () => {
    expect(previousOf(versions, "a@1.0.0")).toBeUndefined();
    expect(previousOf(versions, "c@1.0.0")).toBeUndefined();
    expect(previousOf([], "a@1.0.0")).toBeUndefined();
  });
});

describe("defaultDiffSides", () => {
  it("keeps both sides when given", () => {
    expect(defaultDiffSides(versions, "b@1.0.0", "a@1.2.0")).toEqual({
      old: "b@1.0.0",
      new: "a@1.2.0",
    });
  });
  it("takes the previous version of the same name when only new is given", () => {
    expect(defaultDiffSides(versions, undefined, "b@2.0.0")).toEqual({
      old: "b@1.0.0",
      new: "b@2.0.0",
    });
    expect(defaultDiffSides(versions, undefined, "a@1.0.0")).toEqual({ old: "", new: "a@1.0.0" });
  });
  it("takes the newest of the same name when only old is given", () => {
    expect(defaultDiffSides(versions, "b@1.0.0", undefined)).toEqual({
      old: "b@1.0.0",
      new: "b@2.0.0",
    });
  });
  it("opens on the newest version against its predecessor, or nothing", () => {
    expect(defaultDiffSides(versions, undefined, undefined)).toEqual({
      old: "a@1.1.0",
      new: "a@1.2.0",
    });
    expect(defaultDiffSides([], undefined, undefined)).toEqual({ old: "", new: "" });
    // The newest version is a bundle's first: the newest one with a predecessor is shown.
    const firstNewest = [v("c", "1.0.0"), ...versions];
    expect(defaultDiffSides(firstNewest, undefined, undefined)).toEqual({
      old: "a@1.1.0",
      new: "a@1.2.0",
    });
    expect(defaultDiffSides([v("c", "1.0.0")], undefined, undefined)).toEqual({
      old: "",
      new: "c@1.0.0",
    });
  });
});

describe("groupVersions", () => {
  it("groups by name in order of each name's newest version, keeping order inside", () => {
    const groups = groupVersions(versions);
    expect(groups.map((g) => g.name)).toEqual(["a", "b"]);
    expect(groups[0]!.versions.map((x) => x.version)).toEqual(["1.2.0", "1.1.0", "1.0.0"]);
    expect(groups[1]!.versions.map((x) => x.version)).toEqual(["2.0.0", "1.0.0"]);
  });
});

describe("labels", () => {
  it("says version and status", () => {
    expect(optionLabel(v("a", "1.0.0", "rolled_back"))).toBe("1.0.0 · rolled back");
  });
  it("cuts long names in the middle so the version still shows", () => {
    expect(middleEllipsis("short", 10)).toBe("short");
    expect(middleEllipsis("abcdefghij", 10)).toBe("abcdefghij");
    expect(middleEllipsis("abcdefghijk", 10)).toBe("abcde…hijk");
    expect([...middleEllipsis("x".repeat(100), 24)].length).toBe(24);
    expect(pickerLabel(v("big-bundle-with-a-rather-long-name", "1.1.0"), 16)).toBe(
      "big-bund…ng-name@1.1.0 · draft",
    );
    expect(pickerLabel(v("a", "1.0.0"))).toBe("a@1.0.0 · draft");
  });
  it("knows listed references", () => {
    expect(isListed(versions, "a@1.0.0")).toBe(true);
    expect(isListed(versions, "a@9.0.0")).toBe(false);
    expect(isListed(versions, undefined)).toBe(false);
  });
});
