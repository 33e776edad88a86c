/**
 * Postings: the label index of one tenant in one shard. For every label name and value it keeps
 * the sorted list of series refs carrying that pair. Owned by the shard thread; touches nothing
 * else.
 *
 * Order: fresh refs are handed out in increasing order and are appended as they come; a ref
 * reused after series GC (head.ts) is smaller than the list's last one, so it goes to an unsorted
 * tail that is sorted and merged into the sorted part the next time the list is read (one linear
 * merge, not a sort of the whole list per read).
 *
 * Removal (series GC) is batched: the refs of every series dropped by one truncation are removed
 * in one pass over each list they touch, so a churn of N series costs the length of the touched
 * lists, not N times it.
 *
 * Memory: most label values of high-cardinality labels (pod, instance) belong to one series, so a
 * list of one ref is stored as the bare number; it becomes a PostingsList on the second ref, and
 * goes back to a bare number (or away) when removal leaves one ref (or none).
 */

/** PostingsList is a growable list of series refs, sorted when read. */
export class PostingsList {
  refs: Int32Array;
  n: number;
  /** refs[0, sortedN) are sorted; refs[sortedN, n) were appended out of order (see view). */
  sortedN: number;
  /** mark is the GC pass that last queued this list for removal (TenantIndex.remove). */
  mark = 0;

  /** The list of the two distinct refs `a` and `b`, in either order. */
  constructor(a: number, b: number) {
    this.refs = new Int32Array(4);
    this.refs[0] = Math.min(a, b);
    this.refs[1] = Math.max(a, b);
    this.n = 2;
    this.sortedN = 2;
  }

  /** push appends `ref` (not already in the list). */
  push(ref: number): void {
    if (this.n === this.refs.length) {
      const next = new Int32Array(this.refs.length * 2);
      next.set(this.refs);
      this.refs = next;
    }
    if (this.sortedN === this.n && (this.n === 0 || ref > this.refs[this.n - 1]!)) this.sortedN++;
    this.refs[this.n++] = ref;
  }

  /** view returns the refs, sorted (sorting the out-of-order tail first if there is one). */
  view(): Int32Array {
    if (this.sortedN < this.n) this.settle();
    return this.refs.subarray(0, this.n);
  }

  /** settle sorts the tail and merges it into the sorted part. */
  private settle(): void {
    const { refs, n, sortedN } = this;
    const tail = refs.slice(sortedN, n).sort();
    const out = new Int32Array(refs.length);
    let i = 0, j = 0, k = 0;
    while (i < sortedN && j < tail.length) out[k++] = refs[i]! < tail[j]! ? refs[i++]! : tail[j++]!;
    while (i < sortedN) out[k++] = refs[i++]!;
    while (j < tail.length) out[k++] = tail[j++]!;
    this.refs = out;
    this.sortedN = n;
  }

  /**
   * retain keeps the refs for which `live[ref]` is 1, in their order, and shrinks the buffer when
   * it is mostly empty. Returns the number kept.
   */
  retain(live: Uint8Array): number {
    const refs = this.refs;
    let k = 0;
    let sortedKept = 0;
    for (let i = 0; i < this.n; i++) {
      const r = refs[i]!;
      if (live[r] !== 1) continue;
      refs[k++] = r;
      if (i < this.sortedN) sortedKept++;
    }
    this.n = k;
    this.sortedN = sortedKept;
    if (refs.length > 8 && k * 4 < refs.length) this.refs = refs.slice(0, Math.max(4, k * 2));
    return k;
  }
}

/** Posting is one ref (a number) or a list. */
export type Posting = number | PostingsList;

/** postingView returns a posting's refs as a sorted Int32Array. */
export function postingView(p: Posting): Int32Array {
  return typeof p === 'number' ? Int32Array.of(p) : p.view();
}

/** TenantIndex is the label index of one tenant. Owned by the shard thread. */
export class TenantIndex {
  /** name → value → posting. */
  readonly byName = new Map<string, Map<string, Posting>>();
  /** All series refs of the tenant (read through `view()`, which sorts them). */
  readonly all: PostingsList = new PostingsList(0, 0);
  /** Numbers the removal passes (PostingsList.mark). */
  private pass = 0;

  constructor() {
    this.all.n = 0;
    this.all.sortedN = 0;
  }

  /** add indexes series `ref` under each of its label pairs. */
  add(ref: number, names: string[], values: string[]): void {
    this.all.push(ref);
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      let vals = this.byName.get(name);
      if (vals === undefined) {
        vals = new Map();
        this.byName.set(name, vals);
      }
      const value = values[i]!;
      const p = vals.get(value);
      if (p === undefined) vals.set(value, ref);
      else if (typeof p === 'number') vals.set(value, new PostingsList(p, ref));
      else p.push(ref);
    }
  }

  /**
   * remove unindexes the series `refs[0, n)` of this tenant, whose `live` entries the caller has
   * already set to 0 (every other ref in this index must be 1 there). `pairsOf(ref, names,
   * values)` fills the label pairs a series was indexed under. Bare-ref postings are deleted at
   * once; every list that holds a dropped ref is filtered once, after all refs were seen; values
   * and names left without series disappear, so label APIs no longer return them.
   */
  remove(refs: Int32Array, n: number, live: Uint8Array, pairsOf: (ref: number, names: string[], values: string[]) => void): void {
    if (n === 0) return;
    const pass = ++this.pass;
    const touched: { vals: Map<string, Posting>; name: string; value: string; list: PostingsList }[] = [];
    const names: string[] = [];
    const values: string[] = [];
    for (let i = 0; i < n; i++) {
      const ref = refs[i]!;
      names.length = 0;
      values.length = 0;
      pairsOf(ref, names, values);
      for (let k = 0; k < names.length; k++) {
        const name = names[k]!;
        const vals = this.byName.get(name);
        if (vals === undefined) continue;
        const value = values[k]!;
        const p = vals.get(value);
        if (p === undefined) continue;
        if (typeof p === 'number') {
          if (p !== ref) continue;
          vals.delete(value);
          if (vals.size === 0) this.byName.delete(name);
        } else if (p.mark !== pass) {
          p.mark = pass;
          touched.push({ vals, name, value, list: p });
        }
      }
    }
    for (const t of touched) {
      const kept = t.list.retain(live);
      if (kept > 1) continue;
      if (kept === 1) t.vals.set(t.value, t.list.refs[0]!);
      else {
        t.vals.delete(t.value);
        if (t.vals.size === 0) this.byName.delete(t.name);
      }
    }
    this.all.retain(live);
  }
}

/** intersect returns the refs present in both sorted lists. */
export function intersect(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(Math.min(a.length, b.length));
  let i = 0, j = 0, n = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!, y = b[j]!;
    if (x === y) { out[n++] = x; i++; j++; } else if (x < y) i++; else j++;
  }
  return out.subarray(0, n);
}

/** subtract returns the refs of `a` not in `b` (both sorted). */
export function subtract(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length);
  let i = 0, j = 0, n = 0;
  while (i < a.length) {
    const x = a[i]!;
    while (j < b.length && b[j]! < x) j++;
    if (j < b.length && b[j] === x) { i++; continue; }
    out[n++] = x; i++;
  }
  return out.subarray(0, n);
}

/** union returns the sorted union of several sorted lists. */
export function union(lists: Int32Array[]): Int32Array {
  if (lists.length === 0) return new Int32Array(0);
  if (lists.length === 1) return lists[0]!;
  let total = 0;
  for (const l of lists) total += l.length;
  const all = new Int32Array(total);
  let p = 0;
  for (const l of lists) { all.set(l, p); p += l.length; }
  all.sort();
  let n = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[n++] = all[i]!;
  return all.subarray(0, n);
}
