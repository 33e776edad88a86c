/**
 * Head truncation after a block cut: every chunk that ends before the cut time is dropped from the
 * series (the block now holds it), the series' time range moves up, and the arena generations of
 * the dropped ranges are freed whole. Then series GC: a series left with no chunk and no sample
 * since the cut is dropped from the head (Head.drop: hash table, label index, ref quarantine), as
 * Prometheus' head GC does, so series churn (pods restarting) does not grow the head for ever.
 * The WAL ids of the series still live are returned, for the WAL checkpoint to keep only them.
 *
 * Runs on the shard thread between rounds, in slices (truncateSteps) or whole (truncateHead),
 * possibly while a round waits for its WAL write (its validated samples are not in chunks yet,
 * but they moved LAST_T past the cut, so their series stay). Readers in other threads are protected by the series seqlock: every unlink is bracketed
 * by it, and HeadView re-checks it after walking a chain; a dropped series reads as empty.
 */
import { ARENA_SEG_SHIFT, SeriesF64, SeriesI32 } from '../sharedmem/layout.js';
import { offsetOf, slotClassFor } from '../sharedmem/arena.js';
import { f64Base, i32Base } from '../sharedmem/seriesTable.js';
import type { Head } from './head.js';

/** TruncateStats says what a truncation removed, and which series are left. */
export interface TruncateStats {
  chunks: number;
  openChunks: number;
  bytesFreed: number;
  /** seriesDropped: series removed for having no data left (series GC). */
  seriesDropped: number;
  /** seriesLive: series the head holds afterwards. */
  seriesLive: number;
  /** liveWalRefs are the WAL ids of those series, unordered (for the checkpoint's keepSeries). */
  liveWalRefs: Float64Array;
  ms: number;
}

/** TIME_CHECK_SERIES is how often (in series) truncateSteps looks at the clock. */
const TIME_CHECK_SERIES = 256;

/** Scratch for the refs one pass drops (grown as needed, kept). */
let dead = new Int32Array(1024);

function pushDead(n: number, ref: number): void {
  if (n === dead.length) {
    const next = new Int32Array(dead.length * 2);
    next.set(dead);
    dead = next;
  }
  dead[n] = ref;
}

/**
 * truncateHead drops every chunk whose samples all lie before `cut` (a multiple of the block
 * duration, or the end of a flush), then every series left without data: no closed chunk, no
 * open chunk, and no sample accepted at or after min(cut, minValidT) (one accepted by a round
 * still waiting for its WAL write counts). The head must already refuse samples older than `cut`
 * (minValidT ≥ cut), so nothing can be added to what is dropped; a dropped series can take no
 * sample its absence would misjudge either (any sample at or before its last one is now too old).
 */
export function truncateHead(head: Head, cut: number): TruncateStats {
  const steps = truncateSteps(head, cut, Infinity);
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

/**
 * truncateSteps is truncateHead in slices: it yields after `slice` series, or sooner once a slice
 * has run `sliceMs` (checked every TIME_CHECK_SERIES series), so the shard can run rounds in
 * between. A slice's cost depends on how much of the head is cold: 8192 series took 0.4 ms
 * when there was nothing to drop and 12-19 ms right after a cut had read every chunk (bench:cut),
 * which remote-write requests waited out. Between slices, rounds may add samples and series:
 * new series start after the cut and are skipped, and a series found empty in a slice is
 * checked again before it is dropped. Chunks of one series are always unlinked within one slice.
 * The arena generations are dropped at the end, once no series links into them.
 */
export function* truncateSteps(head: Head, cut: number, slice: number, sliceMs = Infinity): Generator<void, TruncateStats> {
  const started = performance.now();
  let chunks = 0;
  let openChunks = 0;
  let nDead = 0;
  const bound = Math.min(cut, head.minValidT);
  let views = head.arena.views;
  let live = head.live;
  let inSlice = 0;
  let sliceStart = performance.now();
  for (let ref = 0; ref < head.series.count; ref++) {
    if (++inSlice > slice || (inSlice % TIME_CHECK_SERIES === 0 && performance.now() - sliceStart > sliceMs)) {
      inSlice = 1;
      yield;
      sliceStart = performance.now();
      // Rounds may have grown the tables meanwhile.
      views = head.arena.views;
      live = head.live;
    }
    if (live[ref] !== 1) continue;
    const seg = head.series.seg(ref);
    const i32 = seg.i32;
    const f64 = seg.f64;
    const b = i32Base(ref);
    const f = f64Base(ref);
    if (f64[f + SeriesF64.FIRST_T]! >= cut) {
      // Nothing to unlink; a series that never kept a sample may still be garbage.
      if (isEmpty(i32, f64, b, f, bound)) pushDead(nDead++, ref);
      continue;
    }
    // Find the newest closed chunk that ends before the cut; it and all older ones go.
    let newer = 0;
    let addr = i32[b + SeriesI32.CLOSED_PTR]!;
    let oldestKeptMinT = Infinity;
    while (addr !== 0) {
      const dv = views[addr >>> ARENA_SEG_SHIFT]!;
      const off = offsetOf(addr);
      if (dv.getFloat64(off + 8, true) < cut) break;
      oldestKeptMinT = dv.getFloat64(off, true);
      newer = addr;
      addr = dv.getInt32(off + 16, true);
    }
    let removed = 0;
    for (let a = addr; a !== 0; a = views[a >>> ARENA_SEG_SHIFT]!.getInt32(offsetOf(a) + 16, true)) removed++;
    const cptr = i32[b + SeriesI32.CHUNK_PTR]!;
    const dropOpen = cptr !== 0 && f64[f + SeriesF64.LAST_T]! < cut;
    if (removed > 0 || dropOpen) {
      Atomics.add(i32, b + SeriesI32.SEQLOCK, 1);
      if (removed > 0) {
        if (newer === 0) i32[b + SeriesI32.CLOSED_PTR] = 0;
        else views[newer >>> ARENA_SEG_SHIFT]!.setInt32(offsetOf(newer) + 16, 0, true);
        i32[b + SeriesI32.NUM_CLOSED] = i32[b + SeriesI32.NUM_CLOSED]! - removed;
      }
      if (dropOpen) {
        head.arena.freeSlot(cptr, slotClassFor(i32[b + SeriesI32.CHUNK_CAP]!));
        i32[b + SeriesI32.CHUNK_PTR] = 0;
        i32[b + SeriesI32.CHUNK_CAP] = 0;
      }
      // The series' data now starts at its oldest kept chunk (or it has none left).
      const openMinT = i32[b + SeriesI32.CHUNK_PTR] !== 0 ? f64[f + SeriesF64.CHUNK_MINT]! : Infinity;
      f64[f + SeriesF64.FIRST_T] = Math.min(oldestKeptMinT, openMinT);
      Atomics.add(i32, b + SeriesI32.SEQLOCK, 1);
      chunks += removed;
      if (dropOpen) openChunks++;
    }
    if (isEmpty(i32, f64, b, f, bound)) pushDead(nDead++, ref);
  }
  // Found empty in an earlier slice: a round since may have given it a sample (then it stays).
  let kept = 0;
  for (let i = 0; i < nDead; i++) {
    const ref = dead[i]!;
    const seg = head.series.seg(ref);
    if (head.live[ref] === 1 && isEmpty(seg.i32, seg.f64, i32Base(ref), f64Base(ref), bound)) dead[kept++] = ref;
  }
  nDead = kept;
  head.drop(dead, nDead);
  const bytesFreed = head.arena.dropGenerationsBefore(Math.floor(cut / head.opts.blockDurationMs));
  head.minT = Math.max(head.minT, cut);
  return { chunks, openChunks, bytesFreed, seriesDropped: nDead, seriesLive: head.liveCount, liveWalRefs: liveWalRefs(head), ms: performance.now() - started };
}

/**
 * dropEmptySeries drops every live series that holds no chunk (replay ends with it: series whose
 * samples were all older than the head's lower bound, or that never had one). Returns how many.
 * Must not run while a round has validated samples that are not applied yet.
 */
export function dropEmptySeries(head: Head): number {
  let nDead = 0;
  const live = head.live;
  for (let ref = 0; ref < head.series.count; ref++) {
    if (live[ref] !== 1) continue;
    const seg = head.series.seg(ref);
    const b = i32Base(ref);
    if (seg.i32[b + SeriesI32.CHUNK_PTR] === 0 && seg.i32[b + SeriesI32.CLOSED_PTR] === 0) pushDead(nDead++, ref);
  }
  head.drop(dead, nDead);
  return nDead;
}

/** liveWalRefs returns the WAL ids of the head's live series. */
export function liveWalRefs(head: Head): Float64Array {
  const out = new Float64Array(head.liveCount);
  const { live, walRefs } = head;
  let n = 0;
  for (let ref = 0; ref < head.series.count; ref++) if (live[ref] === 1) out[n++] = walRefs[ref]!;
  return out;
}

/** isEmpty tells whether a series holds no chunk and no sample accepted at or after `bound`. */
function isEmpty(i32: Int32Array, f64: Float64Array, b: number, f: number, bound: number): boolean {
  return i32[b + SeriesI32.CHUNK_PTR] === 0 && i32[b + SeriesI32.CLOSED_PTR] === 0 && f64[f + SeriesF64.LAST_T]! < bound;
}
