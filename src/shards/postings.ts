/**
 * Postings: the label index of one tenant in one shard. For every label name and value it keeps
 * the sorted list of series refs carrying that pair. Refs are dense and handed out in increasing
 * order, so appending keeps every list sorted without a sort.
 *
 * Memory: most label values of high-cardinality labels (pod, instance) belong to one series, so a
 * list of one ref is stored as the bare number; it becomes a PostingsList on the second ref.
 */

/** PostingsList is a growable sorted list of series refs. */
export class PostingsList {
  refs: Int32Array;
  n: number;
  constructor(a: number, b: number) {
    this.refs = new Int32Array(4);
    this.refs[0] = a;
    this.refs[1] = b;
    this.n = 2;
  }
  push(ref: number): void {
    if (this.n === this.refs.length) {
      const next = new Int32Array(this.refs.length * 2);
      next.set(this.refs);
      this.refs = next;
    }
    this.refs[this.n++] = ref;
  }
  view(): Int32Array {
    return this.refs.subarray(0, this.n);
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
  /** All series refs of the tenant, in ref order. */
  readonly all: PostingsList = new PostingsList(0, 0);

  constructor() {
    this.all.n = 0;
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
