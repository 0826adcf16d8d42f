//! Choosing versions in the Diff and Simulator pickers: the index's versions grouped by
//! bundle name, and the version stored just before another of the same name (the
//! default "old" side of a diff and the default version to compare against). Pure, so
//! it is unit-tested; the versions themselves come from `api.bundleIndex()`.

/** The fields of a version that the pickers read (the generated `VersionRow` has more). */
export interface PickedVersion {
  reference: string;
  name: string;
  version: string;
  status: string;
}

export interface VersionGroup<V extends PickedVersion> {
  name: string;
  /** Newest first, as the index lists them. */
  versions: V[];
}

/** Versions (given newest first) grouped by name, groups in order of their newest version. */
export function groupVersions<V extends PickedVersion>(versions: readonly V[]): VersionGroup<V>[] {
  const groups = new Map<string, V[]>();
  for (const v of versions) {
    const list = groups.get(v.name);
    if (list) list.push(v);
    else groups.set(v.name, [v]);
  }
  return [...groups].map(([name, list]) => ({ name, versions: list }));
}

/**
 * The version of the same name stored just before `reference` (the next one of that
 * name in a newest-first list), or undefined when it is the first or not listed.
 */
export function previousOf<V extends PickedVersion>(
  versions: readonly V[],
  reference: string,
): V | undefined {
  const i = versions.findIndex((v) => v.reference === reference);
  const current = versions[i];
  if (i < 0 || !current) return undefined;
  for (let j = i + 1; j < versions.length; j++) {
    const candidate = versions[j];
    if (candidate && candidate.name === current.name) return candidate;
  }
  return undefined;
}

/** Whether `reference` names one of `versions`. */
export function isListed(
  versions: readonly PickedVersion[],
  reference: string | undefined,
): boolean {
  return reference !== undefined && versions.some((v) => v.reference === reference);
}

/**
 * The sides a diff opens with. Given both, they are kept; given only the new one, the
 * old one is its predecessor; given only the old one, the new one is the newest of its
 * name; given neither, the newest version that has a predecessor, against it. A side
 * that cannot be chosen is "".
 */
export function defaultDiffSides(
  versions: readonly PickedVersion[],
  oldRef: string | undefined,
  newRef: string | undefined,
): { old: string; new: string } {
  const oldName = versions.find((v) => v.reference === oldRef)?.name;
  const newest =
    oldName !== undefined
      ? versions.find((v) => v.name === oldName)
      : (versions.find((v) => previousOf(versions, v.reference) !== undefined) ?? versions[0]);
  const newSide = newRef ?? newest?.reference ?? "";
  const oldSide = oldRef ?? (newSide ? (previousOf(versions, newSide)?.reference ?? "") : "");
  return { old: oldSide, new: newSide };
}

/** The option text of a version in a picker: "1.2.0 · draft". */
export function optionLabel(v: PickedVersion): string {
  return `${v.version} · ${v.status.replaceAll("_", " ")}`;
}

/** `text` cut in the middle to at most `max` characters ("big-bundle…checks"). */
export function middleEllipsis(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  const keep = Math.max(2, max - 1);
  const head = Math.ceil(keep / 2);
  return `${chars.slice(0, head).join("")}…${chars.slice(chars.length - (keep - head)).join("")}`;
}

/**
 * A version's text in a picker: its name cut in the middle when long, so the version
 * always shows in a closed select ("big-bundle…checks@1.1.0 · draft").
 */
export function pickerLabel(v: PickedVersion, maxName = 20): string {
  return `${middleEllipsis(v.name, maxName)}@${optionLabel(v)}`;
}
