/**
 * CutSeries holds the series a block cut writes, compactly: per series its shard, its ref and its
 * labels as ids into one table of distinct strings (4 bytes per name or value), instead of a
 * decoded `Labels` array per series (about 1.1 KB a series at 8 labels). Strings are interned by
 * their UTF-8 bytes (an open-addressing table over a byte arena): a string is decoded only the
 * first time it is seen, so gathering 100k series of 8 labels decodes 200k strings, not 800k,
 * and looks none up in a Map (441 → 183 ms; the table takes about the memory the Map did, and is
 * dropped by sort()). The cut's memory is then the distinct strings (which the index's symbol
 * table needs anyway) plus ~75 bytes a series. sort() puts the series in Prometheus' label order (labels.Compare over UTF-8 bytes) by
 * comparing string ranks, with no string comparison per pair. Touches nothing but its own arrays.
 */
import { LABEL_SEP, type Labels } from '../model/labels.js';
import { compareUtf8 } from './index/order.js';

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** CutSeries collects (shard, ref, label blob) triples, then sorts them and hands out their labels. */
export class CutSeries {
  /**
   * strings holds each distinct name and value once, and the empty string; after sort(), in
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
  // The interning table (dropped by sort()): each string's bytes at
  // bytes[strAt[id], strAt[id] + strLen[id]), its hash, and the slots (id + 1; 0 = empty),
  // probed linearly.
  private bytes = new Uint8Array(64 * 1024);
  private bytesUsed = 0;
  private strAt = new Uint32Array(1024);
  private strLen = new Uint32Array(1024);
  private hashes = new Uint32Array(1024);
  private slots = new Int32Array(4096);

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
    this.intern(this.scratch, 0, 0); // the empty string is id 0
  }

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
      if (w === this.labels.length) this.labels = grow(this.labels);
      this.labels[w++] = this.intern(b, p, q);
      p = q + 1;
    }
    this.shards[this.n] = shard;
    this.refs[this.n] = ref;
    this.starts[++this.n] = w;
  }

  /** intern returns the id of the string whose UTF-8 bytes are b[p, q), adding it if new. */
  private intern(b: Uint8Array, p: number, q: number): number {
    let h = 0x811c9dc5; // FNV-1a
    for (let i = p; i < q; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    h >>>= 0;
    const n = q - p;
    const slots = this.slots;
    if (slots.length === 0) throw new Error('CutSeries: add() after sort()');
    const mask = slots.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const e = slots[s]!;
      if (e === 0) break;
      const id = e - 1;
      if (this.hashes[id] !== h || this.strLen[id] !== n) continue;
      const a = this.strAt[id]!;
      const bytes = this.bytes;
      let i = 0;
      while (i < n && bytes[a + i] === b[p + i]) i++;
      if (i === n) return id;
    }
    // New: keep its bytes for later comparisons and decode it, once.
    const id = this.strings.length;
    if (id === this.strAt.length) {
      this.strAt = grow(this.strAt);
      this.strLen = grow(this.strLen);
      this.hashes = grow(this.hashes);
    }
    if (this.bytesUsed + n > this.bytes.length) {
      const nb = new Uint8Array(Math.max(this.bytes.length * 2, this.bytesUsed + n));
      nb.set(this.bytes.subarray(0, this.bytesUsed));
      this.bytes = nb;
    }
    this.bytes.set(b.subarray(p, q), this.bytesUsed);
    this.strAt[id] = this.bytesUsed;
    this.strLen[id] = n;
    this.hashes[id] = h;
    this.bytesUsed += n;
    this.strings.push(utf8.decode(b.subarray(p, q)));
    if (2 * (id + 1) > slots.length) this.rehash(slots.length * 2);
    else this.place(id);
    return id;
  }

  /** place puts string `id` into the first free slot of its probe sequence. */
  private place(id: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let s = this.hashes[id]! & mask;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = id + 1;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size);
    for (let id = 0; id < this.strings.length; id++) this.place(id);
  }

  /**
   * sort orders the strings by UTF-8 bytes (renumbering the ids to their ranks) and the series by
   * their labels; the interning table is dropped. Call once, after the last add().
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
    this.dropInterning();
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

  private dropInterning(): void {
    this.bytes = new Uint8Array(0);
    this.bytesUsed = 0;
    this.strAt = new Uint32Array(0);
    this.strLen = new Uint32Array(0);
    this.hashes = new Uint32Array(0);
    this.slots = new Int32Array(0);
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
