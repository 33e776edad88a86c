/**
 * RawSeriesSet: the series one `select` found, as label blobs plus their XOR chunks' raw bytes,
 * each packed into one buffer, so that a selection gathered on the main thread (shared-memory
 * heads, local and bucket blocks, peers) crosses to a query worker as a few transferable arrays
 * instead of millions of strings and numbers. Labels stay in blob form (src/model/labels.ts) from
 * the head's arena to the worker; decoding (and merging a series found in several places) happens
 * where the query is evaluated (src/query/seriesDecode.ts).
 *
 * Layout: series i's label blob is labelBytes[labelOffs[i], labelOffs[i+1]) (external labels and
 * the tenant label included, replica labels dropped), its chunks are chunk indexes
 * [seriesChunks[i], seriesChunks[i+1]), chunk j's bytes are bytes[chunkOffs[j], chunkOffs[j+1]),
 * and merged[i] is 1 when its chunks came from several sources (they may overlap and are then
 * sorted and de-duplicated by timestamp). When the sources gave each chunk's time range, chunk j
 * spans [chunkMinT[j], chunkMaxT[j]] ms (NaN: not known).
 */
import type { BufferSource } from '../util/bufferPool.js';
import {
  blobLabelsBytes, decodeLabelBlob, encodeLabelBlob, mergeLabelBlob, toBlobLabels, type BlobLabels, type Labels,
} from '../model/labels.js';
import type { ChunkSink } from '../sharedmem/headView.js';

/** RawSeriesSet is a selection in transferable form. */
export interface RawSeriesSet {
  labelBytes: Uint8Array;
  labelOffs: Uint32Array;
  seriesChunks: Uint32Array;
  chunkOffs: Uint32Array;
  bytes: Uint8Array;
  merged: Uint8Array;
  /** chunkMinT[j] is chunk j's first sample time (ms), NaN when not known; absent when no source gave times. */
  chunkMinT?: Float64Array;
  /** chunkMaxT[j] is chunk j's last sample time (ms), NaN when not known; absent when no source gave times. */
  chunkMaxT?: Float64Array;
  /** Why the set may be incomplete (a peer that could not be read); absent when complete. */
  warnings?: string[];
}

/** seriesCount is the number of series in a set. */
export function seriesCount(s: RawSeriesSet): number {
  return s.labelOffs.length - 1;
}

/** seriesLabels decodes series i's labels. */
export function seriesLabels(s: RawSeriesSet, i: number): Labels {
  return decodeLabelBlob(s.labelBytes, s.labelOffs[i]!, s.labelOffs[i + 1]! - s.labelOffs[i]!);
}

/** transferList names the buffers of a set for postMessage. */
export function transferList(s: RawSeriesSet): ArrayBuffer[] {
  const l = [s.labelBytes.buffer, s.labelOffs.buffer, s.seriesChunks.buffer, s.chunkOffs.buffer, s.bytes.buffer, s.merged.buffer] as ArrayBuffer[];
  if (s.chunkMinT) l.push(s.chunkMinT.buffer as ArrayBuffer);
  if (s.chunkMaxT) l.push(s.chunkMaxT.buffer as ArrayBuffer);
  return [...new Set(l)];
}

/**
 * Bytes is a growable byte buffer. With a BufferSource (a query thread's pool,
 * src/util/bufferPool.ts) its large steps come from the source and the outgrown ones go back to it
 * at once; the last one stays out with the set built on it.
 */
class Bytes {
  buf = new Uint8Array(1 << 16);
  len = 0;
  private readonly source: BufferSource | undefined;
  constructor(source?: BufferSource) {
    this.source = source;
  }
  /** room makes space for n more bytes. */
  room(n: number): Uint8Array {
    if (this.len + n > this.buf.length) {
      const want = Math.max(this.buf.length * 2, this.len + n);
      const b = this.source ? this.source.take(want) : new Uint8Array(want);
      b.set(this.buf.subarray(0, this.len));
      this.source?.give(this.buf);
      this.buf = b;
    }
    return this.buf;
  }
}

/** Column is a growable typed-array column. */
class Column<T extends Int32Array | Float64Array> {
  a: T;
  constructor(a: T) {
    this.a = a;
  }
  set(i: number, v: number): void {
    if (i >= this.a.length) {
      const b = new (this.a.constructor as new (n: number) => T)(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[i] = v;
  }
}

/** SeriesSetOptions: labels every series gets, and labels every series loses. */
export interface SeriesSetOptions {
  /** Set on every series, replacing labels of the same name (external labels, tenant label). */
  external?: Labels;
  /** Removed from every series after `external` is applied (--query.replica-label). */
  drop?: string[];
  /**
   * buffers: where the label and chunk bytes' large buffers come from (a query thread's lease,
   * src/util/bufferPool.ts); the set built reads from them until the lease is released.
   */
  buffers?: BufferSource;
}

/**
 * SeriesSetBuilder collects series from several sources straight into packed buffers: label
 * blobs (external labels merged in, dropped labels left out) and chunk bytes. The first source's
 * series are known to be distinct (a series lives on one shard) and are only listed; the index
 * that merges a series found again is built when a second source starts adding, so a head-only
 * selection builds no keys at all. Chunks may be added in any order; when they arrive series by
 * series (the usual case) build() hands the buffers over without copying them again.
 */
export class SeriesSetBuilder implements ChunkSink {
  private readonly external: BlobLabels;
  private readonly extBytes: number;
  private readonly drop: BlobLabels;
  private readonly labels: Bytes;
  private readonly labelOff = new Column(new Int32Array(1024));
  private readonly sources = new Column(new Int32Array(1024));
  private nSeries = 0;
  private byKey: Map<string, number> | undefined;
  private readonly bytes: Bytes;
  private readonly chunkOff = new Column(new Int32Array(4096));
  private readonly chunkSeries = new Column(new Int32Array(4096));
  private readonly minT = new Column(new Float64Array(4096));
  private readonly maxT = new Column(new Float64Array(4096));
  private nChunks = 0;
  private ordered = true;
  private hasTimes = false;
  private current = 0;
  private markChunks = 0;
  private markBytes = 0;

  constructor(opts: SeriesSetOptions = {}) {
    this.external = toBlobLabels(opts.external ?? []);
    this.extBytes = blobLabelsBytes(this.external);
    this.drop = toBlobLabels((opts.drop ?? []).map((n) => [n, '']));
    this.labels = new Bytes(opts.buffers);
    this.bytes = new Bytes(opts.buffers);
  }

  /**
   * addDistinctBlob lists a series, given as a label blob without the external labels, that no
   * other call of addDistinctBlob adds (the heads' series). Returns its index for chunk().
   */
  addDistinctBlob(src: Uint8Array, off: number, len: number): number {
    if (this.byKey !== undefined || this.drop.length > 0) return this.addBlob(src, off, len, true);
    const i = this.nSeries++;
    const buf = this.labels.room(len + this.extBytes);
    this.labels.len = mergeLabelBlob(buf, this.labels.len, src, off, len, this.external, this.drop);
    this.labelOff.set(i + 1, this.labels.len);
    this.sources.set(i, 1);
    return i;
  }

  /** add starts (or continues, from another source) the series with `labels`, external labels not yet set. */
  add(labels: Labels): number {
    const blob = encodeLabelBlob(labels);
    return this.addBlob(blob, 0, blob.length, true);
  }

  /** addComplete is add() for a label set that already has its external labels (a peer's series). */
  addComplete(labels: Labels): number {
    const blob = encodeLabelBlob(labels);
    return this.addBlob(blob, 0, blob.length, false);
  }

  private addBlob(src: Uint8Array, off: number, len: number, external: boolean): number {
    const keys = this.keyIndex();
    const at = this.labels.len;
    const buf = this.labels.room(len + this.extBytes);
    const end = mergeLabelBlob(buf, at, src, off, len, external ? this.external : [], this.drop);
    const key = latin1Key(buf, at, end);
    const found = keys.get(key);
    if (found !== undefined) {
      this.sources.set(found, this.sources.a[found]! + 1);
      return found;
    }
    const i = this.nSeries++;
    keys.set(key, i);
    this.labels.len = end;
    this.labelOff.set(i + 1, end);
    this.sources.set(i, 1);
    return i;
  }

  /**
   * addSet adds every series of a packed set whose labels are complete already (external labels
   * set, replica labels dropped): the blocks and peers of a selection gathered in another thread.
   * A series the set had merged from several sources stays marked so.
   */
  addSet(s: RawSeriesSet): void {
    const n = seriesCount(s);
    const { labelBytes, labelOffs, seriesChunks, chunkOffs, bytes } = s;
    for (let i = 0; i < n; i++) {
      const e = this.addBlob(labelBytes, labelOffs[i]!, labelOffs[i + 1]! - labelOffs[i]!, false);
      if (s.merged[i] === 1) this.sources.set(e, this.sources.a[e]! + 1);
      for (let c = seriesChunks[i]!; c < seriesChunks[i + 1]!; c++) {
        this.chunk(e, bytes, chunkOffs[c]!, chunkOffs[c + 1]! - chunkOffs[c]!, s.chunkMinT?.[c] ?? NaN, s.chunkMaxT?.[c] ?? NaN);
      }
    }
  }

  /** keyIndex builds (once) the index of the series listed so far by label blob. */
  private keyIndex(): Map<string, number> {
    if (this.byKey === undefined) {
      this.byKey = new Map();
      const offs = this.labelOff.a;
      for (let i = 0; i < this.nSeries; i++) this.byKey.set(latin1Key(this.labels.buf, offs[i]!, offs[i + 1]!), i);
    }
    return this.byKey;
  }

  /** chunk appends one chunk's XOR bytes src[off, off+len) to series `series`, with its time range (ms) when known. */
  chunk(series: number, src: Uint8Array, off: number, len: number, minT = NaN, maxT = NaN): void {
    const c = this.nChunks++;
    if (c > 0 && this.chunkSeries.a[c - 1]! > series) this.ordered = false;
    const buf = this.bytes.room(len);
    buf.set(len === src.length && off === 0 ? src : src.subarray(off, off + len), this.bytes.len);
    this.chunkOff.set(c, this.bytes.len);
    this.bytes.len += len;
    this.chunkSeries.set(c, series);
    this.minT.set(c, minT);
    this.maxT.set(c, maxT);
    if (!Number.isNaN(minT) || !Number.isNaN(maxT)) this.hasTimes = true;
  }

  /** into makes put() add chunks to series `series` (the ChunkSink of a shared-memory read). */
  into(series: number): this {
    this.current = series;
    return this;
  }

  /** put is chunk() for the series named by into(). */
  put(src: Uint8Array, off: number, len: number, minT: number, maxT: number): void {
    this.chunk(this.current, src, off, len, minT, maxT);
  }

  /** mark remembers how many chunks there are, for rollback(). */
  mark(): void {
    this.markChunks = this.nChunks;
    this.markBytes = this.bytes.len;
  }

  /** rollback forgets the chunks added since mark() (a torn read of shared memory). */
  rollback(): void {
    this.nChunks = this.markChunks;
    this.bytes.len = this.markBytes;
  }

  /** build packs the collected series; series without chunks are left out. */
  build(): RawSeriesSet {
    const n = this.nSeries;
    const nc = this.nChunks;
    // Chunks grouped by series, in the order they came.
    let order: Int32Array | undefined;
    if (!this.ordered) {
      order = new Int32Array(nc);
      for (let c = 0; c < nc; c++) order[c] = c;
      const cs = this.chunkSeries.a;
      order.sort((a, b) => cs[a]! - cs[b]! || a - b);
    }
    const counts = new Int32Array(n);
    for (let c = 0; c < nc; c++) counts[this.chunkSeries.a[c]!]!++;
    let kept = 0;
    for (let i = 0; i < n; i++) if (counts[i]! > 0) kept++;
    const seriesChunks = new Uint32Array(kept + 1);
    const merged = new Uint8Array(kept);
    const lOff = this.labelOff.a;
    let labelBytes: Uint8Array;
    let labelOffs: Uint32Array;
    if (kept === n) {
      labelBytes = this.labels.buf.subarray(0, this.labels.len);
      labelOffs = Uint32Array.from(lOff.subarray(0, n + 1));
    } else {
      labelOffs = new Uint32Array(kept + 1);
      let size = 0;
      for (let i = 0; i < n; i++) if (counts[i]! > 0) size += lOff[i + 1]! - lOff[i]!;
      labelBytes = new Uint8Array(size);
      let k = 0;
      let w = 0;
      for (let i = 0; i < n; i++) {
        if (counts[i] === 0) continue;
        labelBytes.set(this.labels.buf.subarray(lOff[i]!, lOff[i + 1]!), w);
        w += lOff[i + 1]! - lOff[i]!;
        labelOffs[++k] = w;
      }
    }
    let k = 0;
    let c = 0;
    for (let i = 0; i < n; i++) {
      if (counts[i] === 0) continue;
      seriesChunks[k] = c;
      merged[k] = this.sources.a[i]! > 1 ? 1 : 0;
      c += counts[i]!;
      k++;
    }
    seriesChunks[kept] = c;
    const chunkOffs = new Uint32Array(nc + 1);
    let bytes: Uint8Array;
    const co = this.chunkOff.a;
    const chunkEnd = (j: number): number => (j + 1 < nc ? co[j + 1]! : this.bytes.len);
    if (order === undefined) {
      chunkOffs.set(co.subarray(0, nc));
      chunkOffs[nc] = this.bytes.len;
      bytes = this.bytes.buf.subarray(0, this.bytes.len);
    } else {
      bytes = new Uint8Array(this.bytes.len);
      let w = 0;
      for (let j = 0; j < nc; j++) {
        const from = order[j]!;
        bytes.set(this.bytes.buf.subarray(co[from]!, chunkEnd(from)), w);
        chunkOffs[j] = w;
        w += chunkEnd(from) - co[from]!;
      }
      chunkOffs[nc] = w;
    }
    const set: RawSeriesSet = { labelBytes, labelOffs, seriesChunks, chunkOffs, bytes, merged };
    if (this.hasTimes) {
      const pick = (col: Float64Array): Float64Array => {
        const out = new Float64Array(nc);
        for (let j = 0; j < nc; j++) out[j] = col[order === undefined ? j : order[j]!]!;
        return out;
      };
      set.chunkMinT = pick(this.minT.a);
      set.chunkMaxT = pick(this.maxT.a);
    }
    return set;
  }
}

/** One char per byte (windows-1252, a one-to-one map of bytes to chars): map keys of label blobs. */
const keyDecoder = new TextDecoder('latin1');

/** latin1Key is a map key made of a byte range. */
function latin1Key(buf: Uint8Array, from: number, to: number): string {
  return keyDecoder.decode(buf.subarray(from, to));
}
