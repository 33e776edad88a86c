/**
 * Head truncation after a block cut: every chunk that ends before the cut time is dropped from the
 * series (the block now holds it), the series' time range moves up, and the arena generations of
 * the dropped ranges are freed whole. Series themselves stay (their labels, index entries and last
 * sample, so out-of-order checks still hold); a restart drops the ones without data.
 *
 * Runs on the shard thread between rounds. Readers in other threads are protected by the series
 * seqlock: every unlink is bracketed by it, and HeadView re-checks it after walking a chain.
 */
import { ARENA_SEG_SHIFT, SeriesF64, SeriesI32 } from '../sharedmem/layout.js';
import { offsetOf, slotClassFor } from '../sharedmem/arena.js';
import { f64Base, i32Base } from '../sharedmem/seriesTable.js';
import type { Head } from './head.js';

/** TruncateStats says what a truncation removed. */
export interface TruncateStats {
  chunks: number;
  openChunks: number;
  bytesFreed: number;
  ms: number;
}

/**
 * truncateHead drops every chunk whose samples all lie before `cut` (a multiple of the block
 * duration, or the end of a flush). The head must already refuse samples older than `cut`
 * (minValidT ≥ cut), so nothing can be added to what is dropped.
 */
export function truncateHead(head: Head, cut: number): TruncateStats {
  const started = performance.now();
  let chunks = 0;
  let openChunks = 0;
  const views = head.arena.views;
  for (let ref = 0; ref < head.series.count; ref++) {
    const seg = head.series.seg(ref);
    const i32 = seg.i32;
    const f64 = seg.f64;
    const b = i32Base(ref);
    const f = f64Base(ref);
    if (f64[f + SeriesF64.FIRST_T]! >= cut) continue;
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
    if (removed === 0 && !dropOpen) continue;
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
  const bytesFreed = head.arena.dropGenerationsBefore(Math.floor(cut / head.opts.blockDurationMs));
  head.minT = Math.max(head.minT, cut);
  return { chunks, openChunks, bytesFreed, ms: performance.now() - started };
}
