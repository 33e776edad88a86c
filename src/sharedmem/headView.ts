/**
 * HeadView reads a shard's head from any thread, without asking the shard: series labels and
 * chunk bytes straight from the SharedArrayBuffer segments the shard announced.
 *
 * Reading protocol (seqlock per series): read SEQLOCK with Atomics.load; if odd, retry; read the
 * chunk pointers and copy the bytes; read SEQLOCK again; if it changed, the shard moved or closed
 * the chunk meanwhile, so retry. Closed chunks are immutable once linked, but truncation unlinks
 * old ones (headTruncate.ts), so the closed-chain walk is checked against SEQLOCK too. Bytes of the open chunk beyond its published sample count are ignored by the
 * XOR iterator (the shard writes bits before it bumps the count).
 */
import { ArenaView, offsetOf } from './arena.js';
import { SeriesTableView, i32Base, f64Base } from './seriesTable.js';
import { CLOSED_CHUNK_HEADER_BYTES, SeriesF64, SeriesI32 } from './layout.js';
import { decodeLabelBlob, type Labels } from '../model/labels.js';

/** ChunkCopy is one chunk's XOR bytes (with the 2-byte count header) and its time range. */
export interface ChunkCopy {
  minT: number;
  maxT: number;
  data: Uint8Array;
}

/**
 * ChunkSink receives chunk bytes read from shared memory: src[off, off+len) must be copied before
 * put() returns. Everything put since mark() is dropped by rollback() when the read was torn.
 */
export interface ChunkSink {
  mark(): void;
  rollback(): void;
  put(src: Uint8Array, off: number, len: number, minT: number, maxT: number): void;
}

/**
 * A read torn by the shard (it held the series mid-update, or moved or truncated it meanwhile) is
 * retried at once SPIN_READS times, then with sleeps growing to 1 ms: on a busy machine the shard
 * thread can be descheduled while it holds a series' seqlock, for longer than any spin. A series
 * that stays torn for RETRY_BUDGET_MS is reported as an error.
 */
const SPIN_READS = 64;
const RETRY_BUDGET_MS = 2000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** backoff waits before retry number `attempt`; false once the budget from `since` is spent. */
function backoff(attempt: number, since: number): boolean {
  if (attempt < SPIN_READS) return true;
  if (performance.now() - since > RETRY_BUDGET_MS) return false;
  Atomics.wait(sleeper, 0, 0, Math.min(1, 0.02 * 2 ** Math.min(6, attempt - SPIN_READS)));
  return true;
}

function growI32(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/** HeadView is a read-only window on one shard's head. */
export class HeadView {
  readonly series = new SeriesTableView();
  readonly arena = new ArenaView();
  /** Scratch for chunksInto: the closed chunks of one walk. */
  private walk = new Int32Array(64);

  /**
   * setRefresh installs how this view takes segment news waiting for it synchronously (the
   * shard pool drains the shard's news port): an address in a segment not known yet is then
   * resolved at once, without returning to the event loop that would deliver the news.
   */
  setRefresh(refresh: () => boolean): void {
    this.series.refresh = refresh;
    this.arena.refresh = refresh;
  }

  /** addSegment registers a segment announced by the shard. */
  addSegment(kind: 'series' | 'arena', index: number, sab: SharedArrayBuffer): void {
    if (kind === 'series') this.series.addSegment(index, sab);
    else this.arena.addSegment(index, sab);
  }

  /**
   * labels returns the label set of series `ref`. No lock: a label blob never changes while its
   * series lives, nor for 60 s after the series is dropped (then its ref and blob may be reused;
   * readers copy what they select at once).
   */
  labels(ref: number): Labels {
    const seg = this.series.seg(ref);
    const b = i32Base(ref);
    const addr = Atomics.load(seg.i32, b + SeriesI32.LABELS_PTR);
    const len = seg.i32[b + SeriesI32.LABELS_LEN]!;
    const bytes = this.arena.copy(addr, len);
    return decodeLabelBlob(bytes, 0, len);
  }

  /**
   * labelsInto hands series `ref`'s label blob, in shared memory, to `f` (which must copy what it
   * keeps): no decoding, no copy of its own. The blob is stable as labels() says.
   */
  labelsInto<T>(ref: number, f: (buf: Uint8Array, off: number, len: number) => T): T {
    const seg = this.series.seg(ref);
    const b = i32Base(ref);
    const addr = Atomics.load(seg.i32, b + SeriesI32.LABELS_PTR);
    return f(this.arena.segmentOf(addr), offsetOf(addr), seg.i32[b + SeriesI32.LABELS_LEN]!);
  }

  /** timeRange returns [first, last] sample timestamps of series `ref`. */
  timeRange(ref: number): [number, number] {
    const seg = this.series.seg(ref);
    const f = f64Base(ref);
    return [seg.f64[f + SeriesF64.FIRST_T]!, seg.f64[f + SeriesF64.LAST_T]!];
  }

  /**
   * chunks copies every chunk of series `ref` overlapping [mint, maxt], oldest first.
   * Throws after RETRY_BUDGET_MS of torn reads (the shard would have to be moving this one chunk
   * continuously), which callers report as unavailable.
   */
  chunks(ref: number, mint = -Infinity, maxt = Infinity): ChunkCopy[] {
    const out: ChunkCopy[] = [];
    let mark = 0;
    this.chunksInto(ref, mint, maxt, {
      mark: () => { mark = out.length; },
      rollback: () => { out.length = mark; },
      put: (src, off, len, minT, maxT) => { out.push({ minT, maxT, data: src.slice(off, off + len) }); },
    });
    return out;
  }

  /**
   * chunksInto copies every chunk of series `ref` overlapping [mint, maxt], oldest first, into
   * `sink`: what chunks() does without a buffer per chunk. A read torn by the shard moving or
   * truncating the series is rolled back in the sink and retried.
   */
  chunksInto(ref: number, mint: number, maxt: number, sink: ChunkSink): void {
    const seg = this.series.seg(ref);
    const b = i32Base(ref);
    const f = f64Base(ref);
    const since = performance.now();
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0 && !backoff(attempt, since)) break;
      const v1 = Atomics.load(seg.i32, b + SeriesI32.SEQLOCK);
      if (v1 & 1) continue;
      const cptr = seg.i32[b + SeriesI32.CHUNK_PTR]!;
      const ccap = seg.i32[b + SeriesI32.CHUNK_CAP]!;
      const cmint = seg.f64[f + SeriesF64.CHUNK_MINT]!;
      const lastT = seg.f64[f + SeriesF64.LAST_T]!;
      let closed = seg.i32[b + SeriesI32.CLOSED_PTR]!;
      sink.mark();
      // Closed chunks never change, but truncation unlinks old ones and frees their segments:
      // a walk that raced it may read a dropped (or reused) segment, so everything copied is
      // checked against the seqlock afterwards and the series read again if it moved meanwhile.
      let torn = false;
      let n = 0;
      try {
        // Newest first along the chain: note the overlapping ones, copy them oldest first.
        while (closed !== 0) {
          const dv = this.arena.viewOf(closed);
          if (dv === undefined) { torn = true; break; }
          const off = offsetOf(closed);
          const minT = dv.getFloat64(off, true);
          const maxT = dv.getFloat64(off + 8, true);
          const prev = dv.getInt32(off + 16, true);
          if (maxT < mint) break;
          if (minT <= maxt) {
            if (n === this.walk.length) this.walk = growI32(this.walk);
            this.walk[n++] = closed;
          }
          closed = prev;
        }
        for (let k = n - 1; k >= 0 && !torn; k--) {
          const at = this.walk[k]!;
          const dv = this.arena.viewOf(at);
          if (dv === undefined) { torn = true; break; }
          const off = offsetOf(at);
          const len = dv.getInt32(off + 20, true);
          sink.put(this.arena.segmentOf(at), off + CLOSED_CHUNK_HEADER_BYTES, len, dv.getFloat64(off, true), dv.getFloat64(off + 8, true));
        }
        if (!torn && cptr !== 0 && cmint <= maxt && lastT >= mint) {
          sink.put(this.arena.segmentOf(cptr), offsetOf(cptr), ccap, cmint, lastT);
        }
      } catch {
        torn = true;
      }
      if (!torn && Atomics.load(seg.i32, b + SeriesI32.SEQLOCK) === v1) return;
      sink.rollback();
    }
    throw new Error(`series ${ref}: chunk kept changing for ${RETRY_BUDGET_MS} ms of reads`);
  }
}
