/**
 * Postings: sorted lists of series refs. Two parts:
 *  - PostingsCollector gathers, while the index writer streams series, which series carry which
 *    label pair, in typed arrays only (8 bytes per label of each series, 4 per series for the
 *    all-series list; no object per label pair), and hands them out per label name grouped by
 *    value in symbol order, which is the order the postings sections are written in.
 *  - set operations on sorted Uint32Array lists (intersect, union, subtract) for the readers.
 * Touches nothing but its own arrays.
 */

/** PAIR_BLOCK is how many u32s one block of a PairList holds (64 KiB). */
const PAIR_BLOCK = 1 << 14;

/**
 * PairList is an append-only list of u32 pairs in fixed 64 KiB blocks: growing never copies, so
 * it leaves nothing for the collector (doubling one array per label name left outgrown arrays
 * about as large as the lists, ~8 MB at 100k series of 8 labels, until the cut thread's next
 * full collection).
 */
class PairList {
  readonly blocks: Uint32Array[] = [];
  /** n counts the u32s appended (twice the pairs). */
  n = 0;
  private cur: Uint32Array = new Uint32Array(0);
  private at = 0;

  push2(x: number, y: number): void {
    if (this.at === this.cur.length) {
      // The first block of a name starts small: rare names stay cheap.
      this.cur = new Uint32Array(this.blocks.length === 0 ? 64 : PAIR_BLOCK);
      this.blocks.push(this.cur);
      this.at = 0;
    }
    this.cur[this.at++] = x;
    this.cur[this.at++] = y;
    this.n += 2;
  }

  /** used returns how many u32s block `b` holds (all but the last are full). */
  used(b: number): number {
    return b === this.blocks.length - 1 ? this.at : this.blocks[b]!.length;
  }
}

/** U32List is a growable Uint32Array (the all-series list: one ref per series). */
class U32List {
  a: Uint32Array;
  n = 0;

  constructor(cap = 16) {
    this.a = new Uint32Array(cap);
  }

  push(x: number): void {
    if (this.n + 1 > this.a.length) this.grow(this.n + 1);
    this.a[this.n++] = x;
  }

  private grow(need: number): void {
    let cap = this.a.length * 2;
    while (cap < need) cap *= 2;
    const na = new Uint32Array(cap);
    na.set(this.a.subarray(0, this.n));
    this.a = na;
  }
}

/** ValueGroups are the postings of one label name: distinct values and each value's refs. */
export interface ValueGroups {
  /** values holds the distinct value symbols, ascending. */
  values: Uint32Array;
  /** starts[i]..starts[i+1] is the range of `refs` holding the series of values[i]. */
  starts: Uint32Array;
  /** refs holds the series refs, grouped by value, ascending within a group. */
  refs: Uint32Array;
}

/**
 * PostingsCollector records (name, value, series ref) triples as series are written (refs must
 * be added in increasing order) and groups them per name at the end.
 */
export class PostingsCollector {
  /** byName maps a name symbol to its (value symbol, ref) pairs. */
  private readonly byName = new Map<number, PairList>();
  private readonly all = new U32List(1024);
  /** counts is scratch indexed by symbol, zero between calls to take(). */
  private readonly counts: Uint32Array;

  /** numSymbols bounds the symbol indexes that will be added. */
  constructor(numSymbols: number) {
    this.counts = new Uint32Array(numSymbols);
  }

  /** addSeries records that series `ref` exists (the all-series list). */
  addSeries(ref: number): void {
    this.all.push(ref);
  }

  /** add records that series `ref` has the label (nameSym, valueSym). */
  add(nameSym: number, valueSym: number, ref: number): void {
    let l = this.byName.get(nameSym);
    if (l === undefined) {
      l = new PairList();
      this.byName.set(nameSym, l);
    }
    l.push2(valueSym, ref);
  }

  /** allSeries returns every series ref added, ascending. */
  allSeries(): Uint32Array {
    return this.all.a.subarray(0, this.all.n);
  }

  /** names returns the label name symbols seen, ascending (so in byte order of the names). */
  names(): Uint32Array {
    return Uint32Array.from(this.byName.keys()).sort();
  }

  /** distinctValues returns the distinct value symbols of one name, ascending (for its label index). */
  distinctValues(nameSym: number): Uint32Array {
    const l = this.byName.get(nameSym);
    if (l === undefined) return new Uint32Array(0);
    const seen = this.counts;
    const distinct = new Uint32Array(l.n >>> 1);
    let k = 0;
    for (let b = 0; b < l.blocks.length; b++) {
      const p = l.blocks[b]!;
      for (let i = 0, end = l.used(b); i < end; i += 2) {
        const v = p[i]!;
        if (seen[v] === 0) {
          seen[v] = 1;
          distinct[k++] = v;
        }
      }
    }
    for (let j = 0; j < k; j++) seen[distinct[j]!] = 0;
    return distinct.slice(0, k).sort();
  }

  /**
   * take returns the postings of one name grouped by value and forgets the name, so memory is
   * released name by name while postings are written. Counting sort keyed by value symbol:
   * O(pairs + distinct values × log distinct values), stable, so refs stay ascending.
   */
  take(nameSym: number): ValueGroups {
    const l = this.byName.get(nameSym);
    this.byName.delete(nameSym);
    if (l === undefined) return { values: new Uint32Array(0), starts: new Uint32Array(1), refs: new Uint32Array(0) };
    const n = l.n >>> 1;
    const counts = this.counts;
    const distinct = new Uint32Array(n);
    let k = 0;
    for (let b = 0; b < l.blocks.length; b++) {
      const p = l.blocks[b]!;
      for (let i = 0, end = l.used(b); i < end; i += 2) {
        const v = p[i]!;
        if (counts[v]++ === 0) distinct[k++] = v;
      }
    }
    const values = distinct.slice(0, k).sort();
    const starts = new Uint32Array(k + 1);
    let acc = 0;
    for (let j = 0; j < k; j++) {
      const v = values[j]!;
      const c = counts[v]!;
      counts[v] = acc;
      starts[j] = acc;
      acc += c;
    }
    starts[k] = n;
    const refs = new Uint32Array(n);
    for (let b = 0; b < l.blocks.length; b++) {
      const p = l.blocks[b]!;
      for (let i = 0, end = l.used(b); i < end; i += 2) refs[counts[p[i]!]!++] = p[i + 1]!;
    }
    for (let j = 0; j < k; j++) counts[values[j]!] = 0;
    return { values, starts, refs };
  }
}

/** EMPTY_POSTINGS is the empty list. */
export const EMPTY_POSTINGS = new Uint32Array(0);

/**
 * intersect returns the refs present in both sorted lists. When one list is much shorter (a
 * 200-series selector against the 100k-series list of its metric name), each of its refs is
 * looked up in the longer list by galloping search instead of walking the whole longer list.
 */
export function intersect(a: Uint32Array, b: Uint32Array): Uint32Array {
  if (a.length === 0 || b.length === 0) return EMPTY_POSTINGS;
  if (a.length > b.length) [a, b] = [b, a];
  if (b.length >= 16 * a.length) return intersectGalloping(a, b);
  const out = new Uint32Array(a.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      out[k++] = x;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return out.subarray(0, k);
}

/** intersectGalloping intersects sorted `short` with the much longer sorted `long`. */
function intersectGalloping(short: Uint32Array, long: Uint32Array): Uint32Array {
  const out = new Uint32Array(short.length);
  let k = 0;
  let lo = 0;
  for (let i = 0; i < short.length && lo < long.length; i++) {
    const x = short[i]!;
    // Gallop: find hi with long[hi] >= x, doubling the step from lo.
    let step = 1;
    let hi = lo;
    while (hi < long.length && long[hi]! < x) {
      lo = hi + 1;
      hi += step;
      step *= 2;
    }
    if (hi > long.length - 1) hi = long.length - 1;
    // Binary search in [lo, hi] for the first element >= x.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (long[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    if (lo < long.length && long[lo] === x) out[k++] = x;
  }
  return out.subarray(0, k);
}

/** subtract returns the refs of sorted list `a` that are not in sorted list `b`. */
export function subtract(a: Uint32Array, b: Uint32Array): Uint32Array {
  if (a.length === 0 || b.length === 0) return a;
  const out = new Uint32Array(a.length);
  let j = 0;
  let k = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    while (j < b.length && b[j]! < x) j++;
    if (j < b.length && b[j] === x) continue;
    out[k++] = x;
  }
  return out.subarray(0, k);
}

/** union returns the sorted, duplicate-free union of sorted lists. */
export function union(lists: readonly Uint32Array[]): Uint32Array {
  if (lists.length === 0) return EMPTY_POSTINGS;
  if (lists.length === 1) return lists[0]!;
  let total = 0;
  for (const l of lists) total += l.length;
  const all = new Uint32Array(total);
  let p = 0;
  for (const l of lists) {
    all.set(l, p);
    p += l.length;
  }
  all.sort();
  let k = 0;
  for (let i = 0; i < total; i++) if (k === 0 || all[i] !== all[k - 1]) all[k++] = all[i]!;
  return all.subarray(0, k);
}
