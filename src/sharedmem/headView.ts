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
import { ARENA_SEG_SHIFT, CLOSED_CHUNK_HEADER_BYTES, SeriesF64, SeriesI32 } from './layout.js';
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

const MAX_RETRIES = 1000;

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

  /** addSegment registers a segment announced by the shard. */
  addSegment(kind: 'series' | 'arena', index: number, sab: SharedArrayBuffer): void {
    if (kind === 'series') this.series.addSegment(index, sab);
    else this.arena.addSegment(index, sab);
  }

  /** labels returns the label set of series `ref` (immutable after creation: no lock needed). */
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
   * keeps): no decoding, no copy of its own. Label blobs never change once written.
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
   * Throws after MAX_RETRIES torn reads (the shard would have to be moving this one chunk
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
    for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
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
          const dv = this.arena.views[closed >>> ARENA_SEG_SHIFT];
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
          const dv = this.arena.views[at >>> ARENA_SEG_SHIFT];
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
    throw new Error(`series ${ref}: chunk kept changing during ${MAX_RETRIES} reads`);
  }
}
