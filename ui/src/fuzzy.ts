//! Fuzzy matching for the command palette: the query's characters must appear in order
//! in the text; runs of consecutive characters, word starts and an early first match
//! score higher. Pure, so it is unit-tested.

export interface FuzzyMatch {
  score: number;
  /** Indices in the text of the matched characters, for highlighting. */
  indices: number[];
}

function isWordStart(text: string, i: number): boolean {
  if (i === 0) return true;
  const prev = text[i - 1] ?? "";
  const cur = text[i] ?? "";
  return /[\s\-_:/.]/.test(prev) || (prev === prev.toLowerCase() && cur !== cur.toLowerCase());
}

/** Scores `text` against `query`; `null` when it does not match. An empty query matches everything. */
export function fuzzyMatch(query: string, text: string): FuzzyMatch | null {
  const q = query.trim().toLowerCase();
  if (q === "") return { score: 0, indices: [] };
  const t = text.toLowerCase();
  const indices: number[] = [];
  let score = 0;
  let from = 0;
  let prev = -2;
  for (const ch of q) {
    if (ch === " ") continue;
    // Prefer the next occurrence at a word start over the very next one.
    const next = t.indexOf(ch, from);
    if (next === -1) return null;
    let pick = next;
    if (next !== prev + 1 && !isWordStart(text, next)) {
      for (let j = next + 1; j < t.length; j++) {
        if (t[j] === ch && isWordStart(text, j)) {
          pick = j;
          break;
        }
      }
    }
    score += 1;
    if (pick === prev + 1) score += 5;
    if (isWordStart(text, pick)) score += 8;
    indices.push(pick);
    prev = pick;
    from = pick + 1;
  }
  score -= (indices[0] ?? 0) * 0.5;
  score -= (text.length - q.length) * 0.05;
  return { score, indices };
}

/** Items matching `query`, best first; ties keep their original order. */
export function fuzzyFilter<T>(
  items: readonly T[],
  query: string,
  text: (item: T) => string,
): { item: T; match: FuzzyMatch }[] {
  const out: { item: T; match: FuzzyMatch; order: number }[] = [];
  items.forEach((item, order) => {
    const match = fuzzyMatch(query, text(item));
    if (match) out.push({ item, match, order });
  });
  if (query.trim() !== "") out.sort((a, b) => b.match.score - a.match.score || a.order - b.order);
  return out.map(({ item, match }) => ({ item, match }));
}
