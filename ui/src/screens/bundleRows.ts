//! The bundle list's rows: versions grouped by bundle name (groups in order of their
//! newest version, versions newest first), narrowed by the search box and the status
//! filter. Only presentation: the versions and their states come from the back end.

/** The fields of a version row that the list reads (the generated type has more). */
export interface ListedVersion {
  reference: string;
  name: string;
  version: string;
  author: string;
  digest: string;
  status: string;
  created_at: string;
}

export type BundleRow<V extends ListedVersion> =
  | { kind: "group"; name: string; total: number; shown: number }
  | { kind: "version"; version: V };

/** Whether `v` matches the search text: name, version or author contain it, or the digest starts with it. */
export function matchesQuery(v: ListedVersion, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (q === "") return true;
  if (v.name.toLowerCase().includes(q)) return true;
  if (v.version.toLowerCase().includes(q)) return true;
  if (v.reference.toLowerCase().includes(q)) return true;
  if (v.author.toLowerCase().includes(q)) return true;
  const digest = v.digest.toLowerCase();
  const hex = digest.startsWith("sha256:") ? digest.slice(7) : digest;
  const qHex = q.startsWith("sha256:") ? q.slice(7) : q;
  return qHex.length > 0 && hex.startsWith(qHex);
}

/**
 * Rows for `versions` (given newest first). `status` "" means every status. Groups
 * keep the order in which their newest version appears.
 */
export function bundleRows<V extends ListedVersion>(
  versions: readonly V[],
  query: string,
  status: string,
): BundleRow<V>[] {
  const groups = new Map<string, { total: number; shown: V[] }>();
  for (const v of versions) {
    let g = groups.get(v.name);
    if (!g) {
      g = { total: 0, shown: [] };
      groups.set(v.name, g);
    }
    g.total++;
    if ((status === "" || v.status === status) && matchesQuery(v, query)) g.shown.push(v);
  }
  const rows: BundleRow<V>[] = [];
  for (const [name, g] of groups) {
    if (g.shown.length === 0) continue;
    rows.push({ kind: "group", name, total: g.total, shown: g.shown.length });
    for (const version of g.shown) rows.push({ kind: "version", version });
  }
  return rows;
}

/** The version stored just before `v` of the same bundle (the next one in a newest-first list). */
export function previousVersion<V extends ListedVersion>(
  versions: readonly V[],
  v: V,
): V | undefined {
  const i = versions.findIndex((x) => x.reference === v.reference);
  if (i < 0) return undefined;
  for (let j = i + 1; j < versions.length; j++) {
    const candidate = versions[j];
    if (candidate && candidate.name === v.name) return candidate;
  }
  return undefined;
}

/** The row index of the version `reference`, or -1. */
export function rowIndexOf<V extends ListedVersion>(
  rows: readonly BundleRow<V>[],
  reference: string | null,
): number {
  if (reference === null) return -1;
  return rows.findIndex((r) => r.kind === "version" && r.version.reference === reference);
}
