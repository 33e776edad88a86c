/**
 * CutSeries holds the series a block cut writes, compactly: per series its shard, its ref and its
 * labels as ids into one table of distinct strings (4 bytes per name or value), instead of a
 * decoded `Labels` array per series (about 1.1 KB a series at 8 labels). Strings are interned by
 * their UTF-8 bytes (LabelInterner, src/model/labelIntern.ts): a string is decoded only the
 * first time it is seen, so gathering 100k series of 8 labels decodes 200k strings, not 800k,
 * and looks none up in a Map (441 → 183 ms; the interner takes about the memory the Map did,
 * and is dropped by sort()). The cut's memory is then the distinct strings (which the index's
 * symbol table needs anyway) plus ~75 bytes a series. sort() puts the series in Prometheus'
 * label order (labels.Compare over UTF-8 bytes) by comparing string ranks, with no string
 * comparison per pair. Touches nothing but its own arrays.
 */
import { LABEL_SEP, type Labels } from '../model/labels.js';
import { LabelInterner } from '../model/labelIntern.js';
import { compareUtf8 } from './index/order.js';

/** CutSeries collects (shard, ref, label blob) triples, then sorts them and hands out their labels. */
export class CutSeries {
  /**
   * strings holds, after sort(), each distinct name and value once and the empty string, in
   * UTF-8 byte order (the empty string first): a block index's symbol table as it is.
   */
  strings: string[] = [];
  private shards: Uint16Array;
  private refs: Int32Array;
  /** starts[i]..starts[i+1] are series i's string ids in `labels` (name, value, name, value, …). */
  private starts: Uint32Array;
  private labels: Uint32Array;
  private n = 0;
  private order: Uint32Array = new Uint32Array(0);
  /** scratch is a private copy of the blob being decoded (shared memory is not decoded in place). */
  private scratch = new Uint8Array(256);
  /** interner gives each distinct string its id (dropped by sort()). */
  private interner: LabelInterner | undefined;

  /**
   * expectSeries sizes the per-series arrays, and the label ids for 8 labels a series (more may
   * be added; they grow): grown by doubling, they would leave as much again for the collector.
   */
  constructor(expectSeries = 1024) {
    const cap = Math.max(16, expectSeries + 1);
    this.shards = new Uint16Array(cap);
    this.refs = new Int32Array(cap);
    this.starts = new Uint32Array(cap + 1);
    this.labels = new Uint32Array(16 * cap);
    this.interner = new LabelInterner();
    this.interner.id(this.scratch, 0, 0); // the empty string is id 0
  }

  /** size is the number of series added. */
  get size(): number { return this.n; }

  /** add records one series from its label blob `buf[off, off+len)` (copied before decoding). */
  add(shard: number, ref: number, buf: Uint8Array, off: number, len: number): void {
    if (this.n + 1 >= this.refs.length) this.growSeries();
    if (this.scratch.length < len) this.scratch = new Uint8Array(Math.max(len, this.scratch.length * 2));
    const interner = this.interner;
    if (interner === undefined) throw new Error('CutSeries: add() after sort()');
    const b = this.scratch;
    b.set(buf.subarray(off, off + len));
    let w = this.starts[this.n]!;
    let p = 0;
    while (p < len) {
      let q = p;
      while (b[q] !== LABEL_SEP) q++;
      if (w === this.labels.length) this.labels = grow(this.labels);
      this.labels[w++] = interner.id(b, p, q);
      p = q + 1;
    }
    this.shards[this.n] = shard;
    this.refs[this.n] = ref;
    this.starts[++this.n] = w;
  }

  /**
   * sort orders the strings by UTF-8 bytes (renumbering the ids to their ranks) and the series by
   * their labels; the interning table is dropped. Call once, after the last add().
   */
  sort(): void {
    if (this.interner === undefined) throw new Error('CutSeries: sort() called twice');
    const strs = this.interner.strings;
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
    this.interner = undefined;
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

  /**
   * labelRefs returns series i's labels as indexes into `strings` (name, value, …), after
   * sort(): a view of the shared array, not a copy.
   */
  labelRefs(i: number): Uint32Array {
    return this.labels.subarray(this.starts[i]!, this.starts[i + 1]!);
  }

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
