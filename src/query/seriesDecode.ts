/**
 * Decoding a RawSeriesSet (src/query/seriesSet.ts) where the query is evaluated: label blobs
 * through an interning decoder, XOR chunks with the bulk decoder, a series found in several
 * places merged by timestamp. Two ways:
 *   - decodeSeriesSet: every series' samples at once, as views into a few large pages;
 *   - lazySeriesSet: the labels now, each series' samples when first read. A range function reads
 *     its series one at a time and releases each (src/query/promql/rangeEval.ts), so its samples
 *     are decoded into one scratch buffer the series take turns in: `sum by (cluster)
 *     (rate(x[5m]))` over 100k series × 480 samples then never holds the 48M samples (768 MB of
 *     pages) at once, only one series' and the results.
 * Pure: touches only the arrays it makes.
 */
import { decodeXorInto, ensureRoom, newSampleColumns, xorSampleCount, type SampleColumns } from '../chunkenc/xorBulk.js';
import { LabelInterner, LabelPick } from '../model/labelIntern.js';
import type { Labels } from '../model/labels.js';
import { prepareSeries, type PreparedSeries } from './promql/evaluator.js';
import type { SelectHints, SeriesData } from './promql/storage.js';
import { seriesCount, type RawSeriesSet } from './seriesSet.js';

/** PAGE_SAMPLES is the size of the sample pages decodeSeriesSet cuts series' columns from. */
const PAGE_SAMPLES = 1 << 20;

/**
 * decodeSeriesSet decodes every series' samples within [mint, maxt]; a series whose chunks came
 * from several sources is sorted by timestamp and each timestamp kept once. Series' columns are
 * views into a few large pages (one allocation per million samples, not two per series). With
 * `only` (sorted label names), each series' labels are those alone (a query's label projection).
 */
export function decodeSeriesSet(s: RawSeriesSet, mint: number, maxt: number, interner = new LabelInterner(), only?: readonly string[]): SeriesData[] {
  const pick = only === undefined ? undefined : new LabelPick(only);
  const n = seriesCount(s);
  const { bytes, chunkOffs, seriesChunks } = s;
  let total = 0;
  for (let c = 0; c < seriesChunks[n]!; c++) total += xorSampleCount(bytes, chunkOffs[c]!, chunkOffs[c + 1]! - chunkOffs[c]!);
  let page = newSampleColumns(Math.min(total, PAGE_SAMPLES));
  const out: SeriesData[] = [];
  for (let i = 0; i < n; i++) {
    const need = seriesSamples(s, i);
    if (page.n + need > page.t.length) page = newSampleColumns(Math.max(need, Math.min(total, PAGE_SAMPLES)));
    const start = page.n;
    decodeSeriesInto(s, i, mint, maxt, page);
    total -= need;
    if (page.n === start) continue;
    out.push({ labels: labelsOf(s, i, interner, pick), t: page.t.subarray(start, page.n), v: page.v.subarray(start, page.n) });
  }
  return out;
}

/** labelsOf decodes series i's labels (with `pick`, those alone). */
function labelsOf(s: RawSeriesSet, i: number, interner: LabelInterner, pick: LabelPick | undefined): Labels {
  const off = s.labelOffs[i]!;
  const len = s.labelOffs[i + 1]! - off;
  return pick === undefined ? interner.decode(s.labelBytes, off, len) : interner.decodeOnly(s.labelBytes, off, len, pick);
}

/** chunksByTime lists chunks [c0, c1) by first timestamp when every one is known, else as they are. */
function chunksByTime(s: RawSeriesSet, c0: number, c1: number): number[] {
  const idx: number[] = [];
  for (let c = c0; c < c1; c++) idx.push(c);
  const minT = s.chunkMinT;
  if (minT === undefined) return idx;
  for (const c of idx) if (Number.isNaN(minT[c]!)) return idx;
  return idx.sort((a, b) => minT[a]! - minT[b]! || a - b);
}

/** Scratch for mergeRuns: one merged series at a time. */
const scratch = newSampleColumns(1024);

/**
 * mergeRuns merges the sorted runs page[start, ends[0]), [ends[0], ends[1])… into one sorted
 * run at page[start, page.n), each timestamp once: where runs share a timestamp, the earlier
 * run's sample stays. Runs already in order (a block's chunks, then the head's) are only checked
 * and de-duplicated; overlapping runs (a head chunk reaching back into the block cut from it)
 * are merged pairwise through a scratch buffer.
 */
function mergeRuns(page: SampleColumns, start: number, ends: number[]): void {
  let accEnd = ends[0] ?? start;
  for (let r = 1; r < ends.length; r++) {
    const end = ends[r]!;
    if (end === accEnd) continue;
    const { t, w } = page;
    if (accEnd === start || t[accEnd]! > t[accEnd - 1]!) {
      accEnd = end; // in order already: nothing to merge
      continue;
    }
    // Merge acc [start, accEnd) and run [accEnd, end) into scratch, then copy back.
    scratch.n = 0;
    ensureRoom(scratch, end - start);
    const st = scratch.t;
    const sw = scratch.w;
    let a = start;
    let b = accEnd;
    let o = 0;
    while (a < accEnd || b < end) {
      const takeA = b >= end || (a < accEnd && t[a]! <= t[b]!);
      const k = takeA ? a++ : b++;
      if (!takeA && a > start && o > 0 && st[o - 1] === t[k]) continue; // the earlier run's sample stays
      st[o] = t[k]!;
      sw[2 * o] = w[2 * k]!;
      sw[2 * o + 1] = w[2 * k + 1]!;
      o++;
    }
    t.set(st.subarray(0, o), start);
    w.set(sw.subarray(0, 2 * o), 2 * start);
    // Later runs were decoded after `end`: move them down to follow the merged part.
    const gap = end - (start + o);
    if (gap > 0) {
      const last = ends[ends.length - 1]!;
      t.copyWithin(start + o, end, last);
      w.copyWithin(2 * (start + o), 2 * end, 2 * last);
      for (let q = r + 1; q < ends.length; q++) ends[q] = ends[q]! - gap;
      page.n -= gap;
    }
    accEnd = start + o;
  }
  // Equal timestamps inside the (now sorted) result: keep the first.
  const { t, w } = page;
  let o = start + 1;
  for (let k = start + 1; k < page.n; k++) {
    if (t[k] === t[o - 1]) continue;
    t[o] = t[k]!;
    w[2 * o] = w[2 * k]!;
    w[2 * o + 1] = w[2 * k + 1]!;
    o++;
  }
  if (page.n > start) page.n = o;
}

/**
 * decodeSelection decodes a selection for the engine as its hints ask: lazily when the query
 * reads the series one at a time (a range function's argument), else all at once.
 */
export function decodeSelection(s: RawSeriesSet, mint: number, maxt: number, hints?: SelectHints): SeriesData[] {
  return hints?.lazy === true ? lazySeriesSet(s, mint, maxt, undefined, hints.labels) : decodeSeriesSet(s, mint, maxt, undefined, hints?.labels);
}

/** decodeSeriesInto appends series i's samples within [mint, maxt] to `page` (merged by timestamp when it has several sources). */
function decodeSeriesInto(s: RawSeriesSet, i: number, mint: number, maxt: number, page: SampleColumns): void {
  const { bytes, chunkOffs, seriesChunks } = s;
  const c0 = seriesChunks[i]!;
  const c1 = seriesChunks[i + 1]!;
  if (s.merged[i] === 1) {
    // Chunks from several sources (a block's, then the head's, which may overlap it): each
    // chunk is a sorted run; runs are merged, each timestamp kept once (the first source's).
    const start = page.n;
    const runs: number[] = [];
    for (const c of chunksByTime(s, c0, c1)) {
      decodeXorInto(bytes, chunkOffs[c]!, chunkOffs[c + 1]! - chunkOffs[c]!, mint, maxt, page);
      runs.push(page.n);
    }
    mergeRuns(page, start, runs);
  } else {
    for (let c = c0; c < c1; c++) decodeXorInto(bytes, chunkOffs[c]!, chunkOffs[c + 1]! - chunkOffs[c]!, mint, maxt, page);
  }
}

/** seriesSamples is the sample count of series i's chunks (an upper bound on what decoding keeps). */
function seriesSamples(s: RawSeriesSet, i: number): number {
  const { bytes, chunkOffs, seriesChunks } = s;
  let need = 0;
  for (let c = seriesChunks[i]!; c < seriesChunks[i + 1]!; c++) need += xorSampleCount(bytes, chunkOffs[c]!, chunkOffs[c + 1]! - chunkOffs[c]!);
  return need;
}

/** LazySource is what the lazy series of one set share: the set, the range, one scratch buffer. */
interface LazySource {
  set: RawSeriesSet;
  mint: number;
  maxt: number;
  scratch: SampleColumns;
  /** The series whose samples are in `scratch` now, if any. */
  owner: LazySeries | null;
}

/**
 * LazySeries is a series whose samples are decoded when first read, as SeriesData and as the
 * engine's PreparedSeries (stale markers located). release() gives its samples up: they may then
 * be overwritten, and a later read decodes them again. While one series holds the set's scratch
 * buffer, another that is read decodes into arrays of its own.
 */
export class LazySeries implements PreparedSeries {
  readonly labels: Labels;
  private readonly src: LazySource;
  private readonly index: number;
  /** The sample count of its chunks: the room a decode needs. */
  private readonly need: number;
  private p: PreparedSeries | undefined = undefined;

  constructor(labels: Labels, src: LazySource, index: number, need: number) {
    this.labels = labels;
    this.src = src;
    this.index = index;
    this.need = need;
  }

  private load(): PreparedSeries {
    if (this.p !== undefined) return this.p;
    const src = this.src;
    let cols: SampleColumns;
    if (src.owner === null) {
      cols = src.scratch;
      cols.n = 0;
      ensureRoom(cols, this.need);
      src.owner = this;
    } else {
      cols = newSampleColumns(this.need);
    }
    decodeSeriesInto(src.set, this.index, src.mint, src.maxt, cols);
    this.p = prepareSeries({ labels: this.labels, t: cols.t.subarray(0, cols.n), v: cols.v.subarray(0, cols.n) });
    return this.p;
  }

  get t(): Float64Array { return this.load().t; }
  get v(): Float64Array { return this.load().v; }
  get stale(): Uint8Array | null { return this.load().stale; }
  get ct(): Float64Array { return this.load().ct; }
  get cv(): Float64Array { return this.load().cv; }
  get cst(): Float64Array | undefined { return undefined; }

  /** release gives the decoded samples up (the scratch buffer goes to the next series read). */
  release(): void {
    this.p = undefined;
    if (this.src.owner === this) this.src.owner = null;
  }
}

/**
 * lazySeriesSet decodes every series' labels now (with `only`, those alone) and its samples when
 * first read. Series without a sample in their chunks are left out; one whose chunks hold none within
 * [mint, maxt] is kept, and reads as empty.
 */
export function lazySeriesSet(s: RawSeriesSet, mint: number, maxt: number, interner = new LabelInterner(), only?: readonly string[]): LazySeries[] {
  const pick = only === undefined ? undefined : new LabelPick(only);
  const n = seriesCount(s);
  const src: LazySource = { set: s, mint, maxt, scratch: newSampleColumns(1024), owner: null };
  const out: LazySeries[] = [];
  for (let i = 0; i < n; i++) {
    const need = seriesSamples(s, i);
    if (need === 0) continue;
    out.push(new LazySeries(labelsOf(s, i, interner, pick), src, i, need));
  }
  return out;
}
