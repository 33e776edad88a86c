/**
 * Test harness for series GC: drives a Head (and optionally its ShardWal) the way the shard
 * thread does — find or create the series, validate samples, log the round, apply it — without
 * rings or threads, and truncates it as a block cut would. Used by gc.test.ts and churn memory
 * measurements; it has no tests of its own.
 */
import { Head } from '../../src/shards/head.js';
import { HeadView } from '../../src/sharedmem/headView.js';
import { PendingAppends } from '../../src/shards/pending.js';
import { accept, applyPending, type BatchResult } from '../../src/shards/headAppend.js';
import { truncateHead, type TruncateStats } from '../../src/shards/headTruncate.js';
import { ShardWal, type ReplayStats } from '../../src/shards/wal.js';
import { WasmXxh64 } from '../../src/hash/xxhash64Wasm.js';
import { encodeLabelBlob, type Labels } from '../../src/model/labels.js';
import { XorIterator } from '../../src/chunkenc/xor.js';

export const H = 3_600_000;
/** T0 is 2h-aligned. */
export const T0 = Math.floor(1_700_000_000_000 / (2 * H)) * 2 * H;

const enc = new TextEncoder();
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** Harness is one shard's head, fed directly. */
export class Harness {
  readonly head: Head;
  readonly view = new HeadView();
  wal: ShardWal | undefined;
  replay: ReplayStats | undefined;
  private readonly pend = new PendingAppends();
  private readonly hasher = new WasmXxh64();
  readonly res: BatchResult = { seq: 0, appended: 0, duplicate: 0, outOfOrder: 0, tooOld: 0, newSeries: 0 };

  private constructor(quarantineMs: number | undefined, minValidT: number) {
    const view = this.view;
    this.head = new Head({
      blockDurationMs: 2 * H,
      onSegment: (k, i, sab) => view.addSegment(k, i, sab),
      onDropSegment: (i) => view.arena.dropSegment(i),
      ...(quarantineMs !== undefined ? { seriesQuarantineMs: quarantineMs } : {}),
    });
    this.head.minValidT = minValidT;
  }

  /** open makes a harness; with `walDir` its WAL is replayed first, then logged to. */
  static async open(opts: { walDir?: string; quarantineMs?: number; minValidT?: number } = {}): Promise<Harness> {
    const h = new Harness(opts.quarantineMs, opts.minValidT ?? -Infinity);
    if (opts.walDir !== undefined) {
      const { wal, stats } = await ShardWal.open(opts.walDir, 'off', h.head);
      h.wal = wal;
      h.replay = stats;
    }
    return h;
  }

  /** ref finds (or, with `create`, creates) the series of `tenant` with `labels` (sorted by name). */
  ref(tenant: string, labels: Labels, create = false): number {
    const blob = encodeLabelBlob(labels);
    const tb = enc.encode(tenant);
    const h = this.hasher;
    const lo = h.hashJoined(tb, 0xff, blob);
    const hi = h.hi | 0;
    const buf = new ArrayBuffer((blob.length + 7) & ~7);
    const bytes = new Uint8Array(buf);
    bytes.set(blob);
    const tid = this.head.tenantId(tenant);
    let ref = this.head.lookup(tid, lo, hi, bytes, new Uint32Array(buf), 0, blob.length);
    if (ref === -1 && create) {
      ref = this.head.create(tid, lo, hi, bytes, 0, blob.length);
      this.pend.created(ref);
    }
    return ref;
  }

  /** add validates samples [t, v] of a series (created if new) into the pending round. */
  add(tenant: string, labels: Labels, samples: readonly (readonly [number, number])[]): number {
    const ref = this.ref(tenant, labels, true);
    for (const [t, v] of samples) {
      f64[0] = v;
      const lo = u32[0]! | 0, hi = u32[1]! | 0;
      if (accept(this.head, ref, t, lo, hi, this.res)) this.pend.push(ref, t, lo, hi);
    }
    return ref;
  }

  /** commit logs the pending round (if there is a WAL) and applies it. */
  async commit(): Promise<void> {
    if (this.wal !== undefined) await this.wal.logRound(this.head, this.pend);
    applyPending(this.head, this.pend);
  }

  /** cut does what a block cut does to a shard: refuse older samples, rotate, truncate. */
  cut(upTo: number): { walSegment: number; stats: TruncateStats } {
    this.head.minValidT = Math.max(this.head.minValidT, upTo);
    const walSegment = this.wal === undefined ? -1 : this.wal.rotate();
    return { walSegment, stats: truncateHead(this.head, upTo) };
  }

  /** samples reads series `ref`'s samples back through HeadView (as another thread would). */
  samples(ref: number): [number, number][] {
    const out: [number, number][] = [];
    const it = new XorIterator();
    for (const c of this.view.chunks(ref)) {
      it.reset(c.data, 0, c.data.length);
      while (it.next()) out.push([it.t, it.v]);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.wal?.close();
  }
}
