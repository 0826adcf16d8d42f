//! The simulator's dataset choice as the back end's `DatasetSpec`: the nine fixtures,
//! synthetic cases (count and seed, checked here so that a typo is caught before a
//! run), or a file's text. Pure, so it is unit-tested.

import type { DatasetSpec } from "../../bindings/DatasetSpec";

export type DatasetKind = DatasetSpec["kind"];

export const DEFAULT_COUNT = 1000;
export const DEFAULT_SEED = 1337;
/** The back end's limit on synthetic cases (`MAX_SYNTHETIC_CASES`). */
export const MAX_COUNT = 10_000_000;
/** Seeds cross as JSON numbers, exact up to 2^53 − 1. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

/** File names the dataset picker takes (JSON array, JSON Lines, CSV). */
export const DATASET_EXTENSIONS: readonly string[] = [".json", ".jsonl", ".ndjson", ".csv"];

export type Parsed = { ok: true; value: number } | { ok: false; message: string };

function parseWhole(text: string, what: string, min: number, max: number): Parsed {
  const t = text.trim().replaceAll(/[_,\s]/g, "");
  if (t === "") return { ok: false, message: `Give a ${what}.` };
  if (!/^\d+$/.test(t)) return { ok: false, message: `The ${what} must be a whole number.` };
  const value = Number(t);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    return {
      ok: false,
      message: `The ${what} must be from ${min.toLocaleString("en-US")} to ${max.toLocaleString("en-US")}.`,
    };
  }
  return { ok: true, value };
}

/** A case count: a whole number from 1 to 10,000,000 ("10,000" and "10_000" are read). */
export function parseCount(text: string): Parsed {
  return parseWhole(text, "case count", 1, MAX_COUNT);
}

/** A seed: a whole number from 0 to 2^53 − 1. */
export function parseSeed(text: string): Parsed {
  return parseWhole(text, "seed", 0, MAX_SEED);
}

/** Whether a file's name has one of the dataset extensions. */
export function acceptedDatasetFile(name: string): boolean {
  const lower = name.toLowerCase();
  return DATASET_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

export interface DatasetForm {
  kind: DatasetKind;
  count: string;
  seed: string;
  file: { name: string; text: string } | null;
}

export type Built = { ok: true; spec: DatasetSpec } | { ok: false; message: string };

/** The spec to run, or why the form cannot run yet. */
export function buildDataset(form: DatasetForm): Built {
  switch (form.kind) {
    case "fixtures":
      return { ok: true, spec: { kind: "fixtures" } };
    case "synthetic": {
      const count = parseCount(form.count);
      if (!count.ok) return count;
      const seed = parseSeed(form.seed);
      if (!seed.ok) return seed;
      return { ok: true, spec: { kind: "synthetic", count: count.value, seed: seed.value } };
    }
    case "file":
      if (!form.file)
        return { ok: false, message: "Choose a dataset file (.json, .jsonl, .ndjson or .csv)." };
      if (!acceptedDatasetFile(form.file.name)) {
        return {
          ok: false,
          message: `“${form.file.name}” is not a .json, .jsonl, .ndjson or .csv file.`,
        };
      }
      return { ok: true, spec: { kind: "file", name: form.file.name, text: form.file.text } };
  }
}
