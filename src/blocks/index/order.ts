/**
 * The orderings of the block index: strings compare by their UTF-8 bytes (Go's string order),
 * label sets by Prometheus' labels.Compare on top of that. Symbols, series and the postings
 * offset table must all follow it, because Prometheus binary-searches them with Go comparisons.
 *
 * JavaScript's `<` compares UTF-16 code units, which agrees with UTF-8 byte order except where a
 * character above U+FFFF (a surrogate pair, 0xD800–0xDFFF) meets one in U+E000–U+FFFF: UTF-16
 * puts the astral character first, UTF-8 puts it last. These functions correct that case.
 * Pure functions; no state.
 */
import type { Labels } from '../../model/labels.js';

/** compareUtf8 orders two strings by their UTF-8 bytes (negative, 0 or positive). */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (astral code points) sort after U+E000..U+FFFF in code-point order.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** compareLabelsUtf8 orders label sets as Prometheus' labels.Compare does (byte order). */
export function compareLabelsUtf8(a: Labels, b: Labels): number {
  const l = Math.min(a.length, b.length);
  for (let i = 0; i < l; i++) {
    const [an, av] = a[i]!;
    const [bn, bv] = b[i]!;
    if (an !== bn) return compareUtf8(an, bn);
    if (av !== bv) return compareUtf8(av, bv);
  }
  return a.length - b.length;
}

/**
 * sortSymbols returns the distinct strings of `symbols` sorted by UTF-8 bytes. When no string
 * holds a code unit at or above 0xD800 the engine's native comparison is already byte order,
 * so the (much faster) comparator-free sort is used.
 */
export function sortSymbols(symbols: Iterable<string>): string[] {
  const all = Array.isArray(symbols) ? (symbols as string[]).slice() : Array.from(symbols);
  let special = false;
  for (const s of all) {
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) >= 0xd800) {
        special = true;
        break;
      }
    }
    if (special) break;
  }
  if (special) all.sort(compareUtf8);
  else all.sort();
  let w = 0;
  for (let i = 0; i < all.length; i++) {
    if (i === 0 || all[i] !== all[w - 1]) all[w++] = all[i]!;
  }
  all.length = w;
  return all;
}
