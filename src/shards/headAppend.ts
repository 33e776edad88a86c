/**
 * Appending to the head, in the two steps of the commit protocol (pending.ts): validateBatch reads
 * a batch record from a ring and applies Prometheus' rules sample by sample (older than the
 * series' last accepted sample: out of order; same timestamp, other value bits: duplicate; same
 * bits: accepted silently), counting refusals per class and collecting the valid rest; after the
 * WAL has logged them, applyPending XOR-encodes them into the head chunks.
 *
 * Hot path: no allocation per sample or per existing series. The chunk seqlock protocol that lets
 * other threads read the head is in headView.ts; every change of CHUNK_PTR / CLOSED_PTR below is
 * bracketed by seqlockBegin/End (do not reorder).
 */
import {
  ARENA_SEG_SHIFT, BATCH_HEADER_BYTES, CHUNK_SLOT_CLASSES, CLOSED_CHUNK_HEADER_BYTES, MAX_BYTES_PER_XOR_CHUNK,
  SAMPLES_PER_CHUNK, SAMPLE_BYTES, SERIES_HEADER_BYTES, SERIES_XOR_STATE_OFFSET, SeriesF64, SeriesI32,
} from '../sharedmem/layout.js';
import { offsetOf, slotClassFor } from '../sharedmem/arena.js';
import { byteBase, f64Base, i32Base, type SeriesSegment } from '../sharedmem/seriesTable.js';
import { xorAppend, xorByteLength, xorLastTimestamp, xorLastValueHi, xorLastValueLo, xorNumSamples, xorStateInit } from '../chunkenc/xor.js';
import type { Head } from './head.js';
import type { PendingAppends } from './pending.js';

/** BatchResult counts what one batch did; reused between batches. */
export interface BatchResult {
  seq: number;
  appended: number;
  duplicate: number;
  outOfOrder: number;
  /** Samples older than the head's lower bound (their range is already in a block). */
  tooOld: number;
  newSeries: number;
}

const utf8 = new TextDecoder();

/** BatchViews are the typed views of the ring's data buffer. */
export interface BatchViews {
  bytes: Uint8Array;
  u32: Uint32Array;
  f64: Float64Array;
}

/**
 * validateBatch reads the batch at byte offset `pos` of the ring: it finds or creates each series
 * and checks each sample against the series' last accepted one, counting refusals in `out` and
 * collecting the valid samples in `pend` (step 1 of the commit protocol in pending.ts). LAST_T and
 * the last value move with every accepted sample, so later samples of the same round are checked
 * against it. Returns the record's byte length.
 */
export function validateBatch(head: Head, v: BatchViews, pos: number, out: BatchResult, pend: PendingAppends): number {
  const u32 = v.u32;
  const w = pos >>> 2;
  const byteLength = u32[w + 1]!;
  out.seq = u32[w + 2]! | 0;
  const seriesCount = u32[w + 3]!;
  const tenantLen = u32[w + 4]!;
  const tenantName = utf8.decode(v.bytes.subarray(pos + BATCH_HEADER_BYTES, pos + BATCH_HEADER_BYTES + tenantLen));
  const tenant = head.tenantId(tenantName);
  out.appended = 0; out.duplicate = 0; out.outOfOrder = 0; out.tooOld = 0; out.newSeries = 0;
  let p = (pos + BATCH_HEADER_BYTES + tenantLen + 7) & ~7;
  for (let s = 0; s < seriesCount; s++) {
    const sw = p >>> 2;
    const hashLo = u32[sw]! | 0;
    const hashHi = u32[sw + 1]! | 0;
    const labelBytes = u32[sw + 2]!;
    const sampleCount = u32[sw + 3]!;
    const labOff = p + SERIES_HEADER_BYTES;
    let ref = head.lookup(tenant, hashLo, hashHi, v.bytes, u32, labOff, labelBytes);
    if (ref === -1) {
      ref = head.create(tenant, hashLo, hashHi, v.bytes, labOff, labelBytes);
      pend.created(ref);
      out.newSeries++;
    }
    p = (labOff + labelBytes + 7) & ~7;
    for (let k = 0; k < sampleCount; k++, p += SAMPLE_BYTES) {
      const t = v.f64[p >>> 3]!;
      const vLo = u32[(p >>> 2) + 2]! | 0;
      const vHi = u32[(p >>> 2) + 3]! | 0;
      if (accept(head, ref, t, vLo, vHi, out)) pend.push(ref, t, vLo, vHi);
    }
  }
  return byteLength;
}

/**
 * accept applies Prometheus' rules to one sample of series `ref`: older than the last accepted
 * one is out of order; the same timestamp with other value bits is a duplicate; the same bits are
 * accepted silently (false, nothing to append). Accepted samples move LAST_T and the last value.
 */
export function accept(head: Head, ref: number, t: number, vLo: number, vHi: number, out: BatchResult): boolean {
  const seg = head.series.seg(ref);
  const i32 = seg.i32;
  const f64 = seg.f64;
  const b = i32Base(ref);
  const f = f64Base(ref);
  const lastT = f64[f + SeriesF64.LAST_T]!;
  if (t < head.minValidT) {
    out.tooOld++;
    return false;
  }
  if (t <= lastT) {
    if (t < lastT) out.outOfOrder++;
    else if (i32[b + SeriesI32.LAST_V_LO] !== vLo || i32[b + SeriesI32.LAST_V_HI] !== vHi) out.duplicate++;
    return false;
  }
  f64[f + SeriesF64.LAST_T] = t;
  i32[b + SeriesI32.LAST_V_LO] = vLo;
  i32[b + SeriesI32.LAST_V_HI] = vHi;
  if (f64[f + SeriesF64.FIRST_T]! > t) f64[f + SeriesF64.FIRST_T] = t;
  if (t < head.minT) head.minT = t;
  if (t > head.maxT) head.maxT = t;
  out.appended++;
  return true;
}

/** applyPending appends the collected samples to the head chunks (step 3), then clears `pend`. */
export function applyPending(head: Head, pend: PendingAppends): void {
  const { refs, ts, lo, hi } = pend;
  for (let i = 0; i < pend.n; i++) appendSample(head, refs[i]!, ts[i]!, lo[i]!, hi[i]!);
  pend.clear();
}

/**
 * rollbackPending undoes what validateBatch did to the series' last-sample fields for a round the
 * WAL could not log, then clears `pend`: each touched series gets back the last sample of its
 * chunk (or the empty state if it has none). Series the round created stay (unsampled).
 */
export function rollbackPending(head: Head, pend: PendingAppends): void {
  const refs = pend.refs;
  for (let i = 0; i < pend.n; i++) {
    const ref = refs[i]!;
    const seg = head.series.seg(ref);
    const b = i32Base(ref);
    const f = f64Base(ref);
    if (seg.i32[b + SeriesI32.CHUNK_PTR] !== 0) {
      const so = byteBase(ref) + SERIES_XOR_STATE_OFFSET;
      seg.f64[f + SeriesF64.LAST_T] = xorLastTimestamp(seg.f64, so);
      seg.i32[b + SeriesI32.LAST_V_LO] = xorLastValueLo(seg.i32, so);
      seg.i32[b + SeriesI32.LAST_V_HI] = xorLastValueHi(seg.i32, so);
    } else {
      seg.f64[f + SeriesF64.LAST_T] = -Infinity;
      seg.f64[f + SeriesF64.FIRST_T] = Infinity;
    }
  }
  pend.clear();
}

/** appendSample XOR-encodes one accepted sample into the series' open chunk, cutting as needed. */
export function appendSample(head: Head, ref: number, t: number, vLo: number, vHi: number): void {
  const seg = head.series.seg(ref);
  const i32 = seg.i32;
  const f64 = seg.f64;
  const b = i32Base(ref);
  const f = f64Base(ref);
  const so = byteBase(ref) + SERIES_XOR_STATE_OFFSET;
  let cptr = i32[b + SeriesI32.CHUNK_PTR]!;
  if (cptr !== 0) {
    const full = xorNumSamples(i32, so) >= SAMPLES_PER_CHUNK || xorByteLength(i32, so) >= MAX_BYTES_PER_XOR_CHUNK;
    const dur = head.opts.blockDurationMs;
    const chunkMint = f64[f + SeriesF64.CHUNK_MINT]!;
    if (full || t >= Math.floor(chunkMint / dur) * dur + dur) {
      closeChunk(head, seg, ref);
      cptr = 0;
    }
  }
  if (cptr === 0) {
    openChunk(head, seg, ref, t);
    cptr = i32[b + SeriesI32.CHUNK_PTR]!;
  }
  for (;;) {
    const data = head.arena.segmentOf(cptr);
    if (xorAppend(f64, i32, so, data, offsetOf(cptr), i32[b + SeriesI32.CHUNK_CAP]!, t, vLo, vHi)) break;
    cptr = growChunk(head, seg, ref);
  }
}

/** seqlockBegin marks the series' chunk pointers as changing (odd). */
function seqlockBegin(i32: Int32Array, b: number): void {
  Atomics.add(i32, b + SeriesI32.SEQLOCK, 1);
}

/** seqlockEnd publishes the change (even again). */
function seqlockEnd(i32: Int32Array, b: number): void {
  Atomics.add(i32, b + SeriesI32.SEQLOCK, 1);
}

function openChunk(head: Head, seg: SeriesSegment, ref: number, t: number): void {
  const b = i32Base(ref);
  const addr = head.arena.allocSlot(0);
  xorStateInit(seg.f64, seg.i32, byteBase(ref) + SERIES_XOR_STATE_OFFSET);
  const data = head.arena.segmentOf(addr);
  const off = offsetOf(addr);
  data[off] = 0;
  data[off + 1] = 0;
  seqlockBegin(seg.i32, b);
  seg.f64[f64Base(ref) + SeriesF64.CHUNK_MINT] = t;
  seg.i32[b + SeriesI32.CHUNK_CAP] = CHUNK_SLOT_CLASSES[0];
  seg.i32[b + SeriesI32.CHUNK_PTR] = addr;
  seqlockEnd(seg.i32, b);
}

/** growChunk moves the open chunk into the next size class and returns its new address. */
function growChunk(head: Head, seg: SeriesSegment, ref: number): number {
  const b = i32Base(ref);
  const i32 = seg.i32;
  const old = i32[b + SeriesI32.CHUNK_PTR]!;
  const cap = i32[b + SeriesI32.CHUNK_CAP]!;
  const cls = slotClassFor(cap);
  if (cls + 1 >= CHUNK_SLOT_CLASSES.length) throw new RangeError(`head chunk of series ${ref} outgrew ${cap} bytes`);
  const addr = head.arena.allocSlot(cls + 1);
  const used = xorByteLength(i32, byteBase(ref) + SERIES_XOR_STATE_OFFSET);
  const src = head.arena.segmentOf(old);
  const dst = head.arena.segmentOf(addr);
  const so = offsetOf(old);
  dst.set(src.subarray(so, so + Math.min(used + 1, cap)), offsetOf(addr));
  seqlockBegin(i32, b);
  i32[b + SeriesI32.CHUNK_PTR] = addr;
  i32[b + SeriesI32.CHUNK_CAP] = CHUNK_SLOT_CLASSES[cls + 1]!;
  seqlockEnd(i32, b);
  head.arena.freeSlot(old, cls);
  return addr;
}

/** closeChunk copies the open chunk into an exact-size closed chunk linked from the series. */
function closeChunk(head: Head, seg: SeriesSegment, ref: number): void {
  const b = i32Base(ref);
  const f = f64Base(ref);
  const i32 = seg.i32;
  const old = i32[b + SeriesI32.CHUNK_PTR]!;
  const cap = i32[b + SeriesI32.CHUNK_CAP]!;
  const len = xorByteLength(i32, byteBase(ref) + SERIES_XOR_STATE_OFFSET);
  // In its block range's generation: dropped whole once the range is in a block (arena.ts).
  const gen = Math.floor(seg.f64[f + SeriesF64.CHUNK_MINT]! / head.opts.blockDurationMs);
  const addr = head.arena.allocGen(gen, CLOSED_CHUNK_HEADER_BYTES + len);
  const dv = head.arena.views[addr >>> ARENA_SEG_SHIFT]!;
  const off = offsetOf(addr);
  dv.setFloat64(off, seg.f64[f + SeriesF64.CHUNK_MINT]!, true);
  // The chunk's own last timestamp: LAST_T is the last *accepted* sample and may be further on.
  dv.setFloat64(off + 8, xorLastTimestamp(seg.f64, byteBase(ref) + SERIES_XOR_STATE_OFFSET), true);
  dv.setInt32(off + 16, i32[b + SeriesI32.CLOSED_PTR]!, true);
  dv.setInt32(off + 20, len, true);
  const src = head.arena.segmentOf(old);
  const so = offsetOf(old);
  head.arena.segmentOf(addr).set(src.subarray(so, so + len), off + CLOSED_CHUNK_HEADER_BYTES);
  seqlockBegin(i32, b);
  i32[b + SeriesI32.CLOSED_PTR] = addr;
  i32[b + SeriesI32.NUM_CLOSED] = i32[b + SeriesI32.NUM_CLOSED]! + 1;
  i32[b + SeriesI32.CHUNK_PTR] = 0;
  i32[b + SeriesI32.CHUNK_CAP] = 0;
  seqlockEnd(i32, b);
  head.arena.freeSlot(old, slotClassFor(cap));
}
