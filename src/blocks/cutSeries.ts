/**
 * CutSeries holds the series a block cut writes, compactly: per series its shard, its ref and its
 * labels as ids into one table of distinct strings (4 bytes per name or value), instead of a
 * decoded `Labels` array per series (about 1.1 KB a series at 8 labels). The cut's memory is then
 * the distinct strings (which the index's symbol table needs anyway) plus ~75 bytes a series.
 * sort() puts the series in Prometheus' label order (labels.Compare over UTF-8 bytes) by comparing
 * string ranks, with no string comparison per pair. Touches nothing but its own arrays.
 */
import { LABEL_SEP, type Labels } from '../model/labels.js';
import { compareUtf8 } from './index/order.js';

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** CutSeries collects (shard, ref, label blob) triples, then sorts them and hands out their labels. */
export class CutSeries {
  /** strings holds each distinct name and value once; after sort(), in UTF-8 byte order. */
  strings: string[] = [];
  private readonly ids = new Map<string, number>();
  private shards = new Uint16Array(1024);
  private refs = new Int32Array(1024);
  /** starts[i]..starts[i+1] are series i's string ids in `labels` (name, value, name, value, …). */
  private starts = new Uint32Array(1025);
  private labels = new Uint32Array(8192);
  private n = 0;
  private order: Uint32Array = new Uint32Array(0);
  /** scratch is a private copy of the blob being decoded (shared memory is not decoded in place). */
  private scratch = new Uint8Array(256);

  /** size is the number of series added. */
  get size(): number { return this.n; }

  /** add records one series from its label blob `buf[off, off+len)` (copied before decoding). */
  add(shard: number, ref: number, buf: Uint8Array, off: number, len: number): void {
    if (this.n + 1 >= this.refs.length) this.growSeries();
    if (this.scratch.length < len) this.scratch = new Uint8Array(Math.max(len, this.scratch.length * 2));
    const b = this.scratch;
    b.set(buf.subarray(off, off + len));
    let w = this.starts[this.n]!;
    let p = 0;
    while (p < len) {
      let q = p;
      while (b[q] !== LABEL_SEP) q++;
      const s = utf8.decode(b.subarray(p, q));
      let id = this.ids.get(s);
      if (id === undefined) {
        id = this.strings.length;
        this.strings.push(s);
        this.ids.set(s, id);
      }
      if (w === this.labels.length) this.labels = grow(this.labels);
      this.labels[w++] = id;
      p = q + 1;
    }
    this.shards[this.n] = shard;
    this.refs[this.n] = ref;
    this.starts[++this.n] = w;
  }

  /**
   * sort orders the strings by UTF-8 bytes (renumbering the ids to their ranks) and the series by
   * their labels; the id map is dropped. Call once, after the last add().
   */
  sort(): void {
    const strs = this.strings;
    const byRank = new Uint32Array(strs.length);
    for (let i = 0; i < byRank.length; i++) byRank[i] = i;
    let astral = false;
    for (const s of strs) {
      for (let i = 0; i < s.length && !astral; i++) if (s.charCodeAt(i) >= 0xd800) astral = true;
      if (astral) break;
    }
    // Without surrogates or U+E000..U+FFFF, UTF-16 order is UTF-8 order and `<` is enough.
    byRank.sort(astral ? (a, b) => compareUtf8(strs[a]!, strs[b]!) : (a, b) => (strs[a]! < strs[b]! ? -1 : strs[a]! > strs[b]! ? 1 : 0));
    const rank = new Uint32Array(strs.length);
    const sorted: string[] = new Array(strs.length);
    for (let r = 0; r < byRank.length; r++) {
      rank[byRank[r]!] = r;
      sorted[r] = strs[byRank[r]!]!;
    }
    const lab = this.labels;
    const end = this.starts[this.n]!;
    for (let j = 0; j < end; j++) lab[j] = rank[lab[j]!]!;
    this.strings = sorted;
    this.ids.clear();
    const st = this.starts;
    // Equal ranks are equal strings and ranks follow byte order, so comparing the rank sequences
    // (name, value, name, value, …) is labels.Compare; a shorter set that is a prefix sorts first.
    const order = new Uint32Array(this.n);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((a, b) => {
      const sa = st[a]!;
      const la = st[a + 1]! - sa;
      const sb = st[b]!;
      const lb = st[b + 1]! - sb;
      const l = Math.min(la, lb);
      for (let k = 0; k < l; k++) {
        const d = lab[sa + k]! - lab[sb + k]!;
        if (d !== 0) return d;
      }
      return la - lb;
    });
    this.order = order;
  }

  /** at returns the index of the k-th series in label order (after sort()). */
  at(k: number): number { return this.order[k]!; }

  shard(i: number): number { return this.shards[i]!; }

  ref(i: number): number { return this.refs[i]!; }

  /** labelsInto fills `out` with series i's labels (reusing its pairs) and returns it. */
  labelsInto(i: number, out: Labels): Labels {
    const s = this.starts[i]!;
    const pairs = (this.starts[i + 1]! - s) >>> 1;
    for (let k = 0; k < pairs; k++) {
      const name = this.strings[this.labels[s + 2 * k]!]!;
      const value = this.strings[this.labels[s + 2 * k + 1]!]!;
      const pair = out[k];
      if (pair === undefined) out.push([name, value]);
      else { pair[0] = name; pair[1] = value; }
    }
    out.length = pairs;
    return out;
  }

  private growSeries(): void {
    const cap = this.refs.length * 2;
    const sh = new Uint16Array(cap); sh.set(this.shards); this.shards = sh;
    const rf = new Int32Array(cap); rf.set(this.refs); this.refs = rf;
    const st = new Uint32Array(cap + 1); st.set(this.starts); this.starts = st;
  }
}

function grow(a: Uint32Array): Uint32Array<ArrayBuffer> {
  const b = new Uint32Array(a.length * 2);
  b.set(a);
  return b;
}
