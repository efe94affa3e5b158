/**
 * The "Perhaps you meant …" guess in PostgREST's errors: its fuzzy string set (n-grams of sizes 3
 * then 2, cosine similarity, the best 50 re-scored by normalised Levenshtein distance). Written
 * here from that description so the hints name the same candidate. Pure.
 */

/** Lower case, and only letters, digits, spaces and commas, as the set normalises its entries. */
function normalized(text: string): string {
  return [...text.toLowerCase()].filter((ch) => /[\p{L}\p{N}\s,]/u.test(ch)).join('');
}

function gramCounts(text: string, size: number): Map<string, number> {
  const padded = [...`-${normalized(text)}-`];
  const counts = new Map<string, number>();
  for (let i = 0; i + size <= padded.length; i++) {
    const gram = padded.slice(i, i + size).join('');
    counts.set(gram, (counts.get(gram) ?? 0) + 1);
  }
  return counts;
}

const magnitude = (counts: Map<string, number>) => Math.sqrt([...counts.values()].reduce((s, n) => s + n * n, 0));

function levenshtein(a: readonly string[], b: readonly string[]): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** 1 for equal strings, 0 for nothing in common. */
function similarity(a: string, b: string): number {
  const [x, y] = [[...a], [...b]];
  const longest = Math.max(x.length, y.length);
  return longest === 0 ? 1 : 1 - levenshtein(x, y) / longest;
}

/** The entry most like `query` with a score of at least `minScore`, as the set's `getOne`. */
export function closestMatch(entries: readonly string[], query: string, minScore: number): string | undefined {
  const key = query.toLowerCase();
  const lowered = [...new Set(entries.map((e) => e.toLowerCase()))];
  if (lowered.includes(key)) return entries.find((e) => e.toLowerCase() === key);
  for (const size of [3, 2]) {
    const wanted = gramCounts(key, size);
    const wantedMagnitude = magnitude(wanted);
    const scored = lowered.flatMap((entry) => {
      const counts = gramCounts(entry, size);
      let dot = 0;
      for (const [gram, n] of wanted) dot += n * (counts.get(gram) ?? 0);
      return dot > 0 ? [{ entry, score: dot / (wantedMagnitude * magnitude(counts)) }] : [];
    });
    const best = scored
      .sort((a, b) => b.score - a.score)
      .slice(0, 50)
      .map(({ entry }) => ({ entry, score: similarity(key, entry) }))
      .sort((a, b) => b.score - a.score)
      .filter((m) => m.score >= minScore);
    const found = best[0];
    if (found) return entries.find((e) => e.toLowerCase() === found.entry);
  }
  return undefined;
}
