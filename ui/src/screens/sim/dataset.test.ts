import { describe, expect, it } from "vitest";
import {
  acceptedDatasetFile,
  buildDataset,
  type DatasetForm,
  parseCount,
  parseSeed,
} from "./dataset";

describe("parseCount", () => {
  it("reads whole numbers with separators", () => {
    expect(parseCount("1000")).toEqual({ ok: true, value: 1000 });
    expect(parseCount(" 10,000 ")).toEqual({ ok: true, value: 10_000 });
    expect(parseCount("10_000_000")).toEqual({ ok: true, value: 10_000_000 });
  });
  it("refuses what the back end would", () => {
    expect(parseCount("").ok).toBe(false);
    expect(parseCount("0").ok).toBe(false);
    expect(parseCount("-5").ok).toBe(false);
    expect(parseCount("1.5").ok).toBe(false);
    expect(parseCount("1e3").ok).toBe(false);
    expect(parseCount("10000001").ok).toBe(false);
    expect(parseCount("abc")).toEqual({
      ok: false,
      message: "The case count must be a whole number.",
    });
  });
});

describe("parseSeed", () => {
  it("takes 0 up to 2^53 - 1", () => {
    expect(parseSeed("0")).toEqual({ ok: true, value: 0 });
    expect(parseSeed("1337")).toEqual({ ok: true, value: 1337 });
    expect(parseSeed(String(Number.MAX_SAFE_INTEGER)).ok).toBe(true);
    expect(parseSeed("9007199254740992").ok).toBe(false);
    expect(parseSeed("").ok).toBe(false);
  });
});

describe("acceptedDatasetFile", () => {
  it("knows the dataset extensions, in any case", () => {
    for (const name of ["a.json", "a.JSONL", "b.ndjson", "c.csv"])
      expect(acceptedDatasetFile(name)).toBe(true);
    for (const name of ["a.yaml", "json", "a.json.txt"])
      expect(acceptedDatasetFile(name)).toBe(false);
  });
});

describe("buildDataset", () => {
  const form: DatasetForm = { kind: "fixtures", count: "1000", seed: "1337", file: null };
  it("builds each kind", () => {
    expect(buildDataset(form)).toEqual({ ok: true, spec: { kind: "fixtures" } });
    expect(buildDataset({ ...form, kind: "synthetic" })).toEqual({
      ok: true,
      spec: { kind: "synthetic", count: 1000, seed: 1337 },
    });
    expect(
      buildDataset({ ...form, kind: "file", file: { name: "cases.csv", text: "a,b" } }),
    ).toEqual({
      ok: true,
      spec: { kind: "file", name: "cases.csv", text: "a,b" },
    });
  });
  it("says why it cannot run", () => {
    expect(buildDataset({ ...form, kind: "synthetic", count: "0" }).ok).toBe(false);
    expect(buildDataset({ ...form, kind: "synthetic", seed: "x" }).ok).toBe(false);
    expect(buildDataset({ ...form, kind: "file" }).ok).toBe(false);
    expect(buildDataset({ ...form, kind: "file", file: { name: "b.yaml", text: "" } }).ok).toBe(
      false,
    );
  });
});
