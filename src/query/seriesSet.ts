/**
 * RawSeriesSet: the series one `select` found, as labels plus their XOR chunks' raw bytes packed
 * into one buffer, so that a selection gathered on the main thread (shared-memory heads, local and
 * bucket blocks) crosses to a query worker as a few transferable arrays instead of millions of
 * numbers. Decoding (and merging a series found in several places) happens where the query is
 * evaluated: decodeSeriesSet.
 *
 * Layout: series i has labels `labels[i]` (name, value, name, value… flattened), its chunks are
 * chunk indexes [seriesChunks[i], seriesChunks[i+1]), chunk j's bytes are
 * bytes[chunkOffs[j], chunkOffs[j+1]), and merged[i] is 1 when its chunks came from several
 * sources (they may overlap and are then sorted and de-duplicated by timestamp). When the sources
 * gave each chunk's time range, chunk j spans [chunkMinT[j], chunkMaxT[j]] ms (NaN: not known).
 */
import { XorIterator } from '../chunkenc/xor.js';
import type { Labels } from '../model/labels.js';
import type { SeriesData } from './promql/storage.js';

/** RawSeriesSet is a selection in transferable form. */
export interface RawSeriesSet {
  labels: string[][];
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

/** transferList names the buffers of a set for postMessage. */
export function transferList(s: RawSeriesSet): ArrayBuffer[] {
  const l = [s.seriesChunks.buffer, s.chunkOffs.buffer, s.bytes.buffer, s.merged.buffer] as ArrayBuffer[];
  if (s.chunkMinT) l.push(s.chunkMinT.buffer as ArrayBuffer);
  if (s.chunkMaxT) l.push(s.chunkMaxT.buffer as ArrayBuffer);
  return l;
}

function labelsKey(labels: Labels): string {
  let key = '';
  for (const [n, v] of labels) key += n + '\xff' + v + '\xff';
  return key;
}

interface Entry {
  labels: Labels;
  chunks: Uint8Array[];
  minT: number[];
  maxT: number[];
  sources: number;
}

/**
 * SeriesSetBuilder collects series from several sources. The first source's series are known to
 * be distinct (a series lives on one shard) and are only listed; the label-set index that merges
 * a series found again is built when a second source starts adding, so a head-only selection
 * builds no keys at all.
 */
export class SeriesSetBuilder {
  private readonly entries: Entry[] = [];
  private byKey: Map<string, Entry> | undefined;
  private nChunks = 0;
  private nBytes = 0;
  private hasTimes = false;

  /** addDistinct lists a series no other call of addDistinct adds (the heads' series). */
  addDistinct(labels: Labels): Entry {
    if (this.byKey !== undefined) return this.add(labels);
    const e: Entry = { labels, chunks: [], minT: [], maxT: [], sources: 1 };
    this.entries.push(e);
    return e;
  }

  /** add starts (or continues, from another source) the series with `labels`. */
  add(labels: Labels): Entry {
    if (this.byKey === undefined) {
      this.byKey = new Map();
      for (const x of this.entries) this.byKey.set(labelsKey(x.labels), x);
    }
    const key = labelsKey(labels);
    let e = this.byKey.get(key);
    if (e === undefined) {
      e = { labels, chunks: [], minT: [], maxT: [], sources: 0 };
      this.byKey.set(key, e);
      this.entries.push(e);
    }
    e.sources++;
    return e;
  }

  /** chunk appends one chunk's XOR bytes to a series, with its time range (ms) when known. */
  chunk(e: Entry, data: Uint8Array, minT = NaN, maxT = NaN): void {
    e.chunks.push(data);
    e.minT.push(minT);
    e.maxT.push(maxT);
    if (!Number.isNaN(minT) || !Number.isNaN(maxT)) this.hasTimes = true;
    this.nChunks++;
    this.nBytes += data.length;
  }

  /** build packs the collected series, passing each label set through `relabel` first. */
  build(relabel: (l: Labels) => Labels): RawSeriesSet {
    const entries = this.entries.filter((e) => e.chunks.length > 0);
    const seriesChunks = new Uint32Array(entries.length + 1);
    const chunkOffs = new Uint32Array(this.nChunks + 1);
    const bytes = new Uint8Array(this.nBytes);
    const merged = new Uint8Array(entries.length);
    const labels: string[][] = new Array(entries.length);
    const chunkMinT = this.hasTimes ? new Float64Array(this.nChunks) : undefined;
    const chunkMaxT = this.hasTimes ? new Float64Array(this.nChunks) : undefined;
    let c = 0;
    let off = 0;
    entries.forEach((e, i) => {
      labels[i] = relabel(e.labels).flat();
      merged[i] = e.sources > 1 ? 1 : 0;
      seriesChunks[i] = c;
      e.chunks.forEach((d, k) => {
        if (chunkMinT && chunkMaxT) {
          chunkMinT[c] = e.minT[k]!;
          chunkMaxT[c] = e.maxT[k]!;
        }
        chunkOffs[c++] = off;
        bytes.set(d, off);
        off += d.length;
      });
    });
    seriesChunks[entries.length] = c;
    chunkOffs[c] = off;
    const set: RawSeriesSet = { labels, seriesChunks, chunkOffs, bytes, merged };
    if (chunkMinT && chunkMaxT) {
      set.chunkMinT = chunkMinT;
      set.chunkMaxT = chunkMaxT;
    }
    return set;
  }
}

/** SampleBuf collects one series' samples. */
class SampleBuf {
  t = new Float64Array(256);
  v = new Float64Array(256);
  n = 0;
  push(t: number, v: number): void {
    if (this.n === this.t.length) {
      const nt = new Float64Array(this.n * 2); nt.set(this.t); this.t = nt;
      const nv = new Float64Array(this.n * 2); nv.set(this.v); this.v = nv;
    }
    this.t[this.n] = t;
    this.v[this.n++] = v;
  }
}

/**
 * decodeSeriesSet decodes every series' samples within [mint, maxt]; a series whose chunks came
 * from several sources is sorted by timestamp and each timestamp kept once.
 */
export function decodeSeriesSet(s: RawSeriesSet, mint: number, maxt: number): SeriesData[] {
  const it = new XorIterator();
  const buf = new SampleBuf();
  const out: SeriesData[] = new Array(s.labels.length);
  for (let i = 0; i < s.labels.length; i++) {
    buf.n = 0;
    for (let c = s.seriesChunks[i]!; c < s.seriesChunks[i + 1]!; c++) {
      it.reset(s.bytes, s.chunkOffs[c]!, s.chunkOffs[c + 1]! - s.chunkOffs[c]!);
      while (it.next()) {
        const t = it.t;
        if (t < mint) continue;
        if (t > maxt) break;
        buf.push(t, it.v);
      }
    }
    const flat = s.labels[i]!;
    const labels: Labels = new Array(flat.length >> 1);
    for (let k = 0; k < labels.length; k++) labels[k] = [flat[2 * k]!, flat[2 * k + 1]!];
    out[i] = s.merged[i] === 1 ? mergeSorted(labels, buf) : { labels, t: buf.t.slice(0, buf.n), v: buf.v.slice(0, buf.n) };
  }
  return out.filter((d) => d.t.length > 0);
}

/** mergeSorted orders samples gathered from several sources by time, each timestamp once. */
function mergeSorted(labels: Labels, buf: SampleBuf): SeriesData {
  const { t, v } = buf;
  const idx = Array.from({ length: buf.n }, (_, i) => i).sort((a, b) => t[a]! - t[b]!);
  const nt = new Float64Array(buf.n);
  const nv = new Float64Array(buf.n);
  let k = 0;
  for (const i of idx) {
    if (k > 0 && nt[k - 1] === t[i]) continue;
    nt[k] = t[i]!;
    nv[k++] = v[i]!;
  }
  return { labels, t: nt.slice(0, k), v: nv.slice(0, k) };
}
