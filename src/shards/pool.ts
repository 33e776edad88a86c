/**
 * ShardPool runs the shard threads: it allocates their rings and control blocks (handed to the
 * gateway threads, which write batches, see link.ts), supervises the threads, forwards control
 * queries and reads their statistics.
 */
import { Worker } from 'node:worker_threads';
import { workerExecArgv } from '../util/profile.js';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createRingBuffers, type RingBuffers } from '../sharedmem/ring.js';
import { RingCtl, SHARD_CTL_BYTES, ShardCtl, ShardState, STAT_BYTES, StatSlot } from '../sharedmem/layout.js';
import { HeadView } from '../sharedmem/headView.js';
import { ErrorCode, SluiceError, fromWire } from '../errors.js';
import type { FromShard, ShardInit, ShardQuery, ToShard } from './protocol.js';
import type { SelectQuery } from './headRead.js';
import type { Labels } from '../model/labels.js';

/** QueryMessage is a ShardQuery before the pool numbers it. */
type QueryMessage = ShardQuery extends infer Q ? (Q extends ShardQuery ? Omit<Q, 'id'> : never) : never;

/** Shard is the main thread's handle on one shard thread: its buffers, queries and statistics. */
export class Shard {
  readonly index: number;
  /** One ring per gateway thread; gateway g writes rings[g]. */
  readonly rings: RingBuffers[];
  /** The shard's control block (ShardCtl), shared with the gateways. */
  readonly ctlSab: SharedArrayBuffer;
  readonly ctl: Int32Array<SharedArrayBuffer>;
  readonly stats: Float64Array<SharedArrayBuffer>;
  readonly view = new HeadView();
  readonly worker: Worker;
  private nextQueryId = 1;
  private readonly queries = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  failed: Error | undefined;
  readonly ready: Promise<void>;
  /** What the shard replayed from its WAL at start, if it has one. */
  replay: Extract<FromShard, { type: 'ready' }>['replay'];

  constructor(index: number, gateways: number, ringBytes: number, blockDurationMs: number, wal: { dir?: string; fsync: 'off' | 'batch' | 'always' }) {
    this.index = index;
    this.rings = Array.from({ length: gateways }, () => createRingBuffers(ringBytes));
    this.ctlSab = new SharedArrayBuffer(SHARD_CTL_BYTES);
    this.ctl = new Int32Array(this.ctlSab);
    const statsSab = new SharedArrayBuffer(STAT_BYTES);
    this.stats = new Float64Array(statsSab);
    const init: ShardInit = { index, rings: this.rings, ctl: this.ctlSab, stats: statsSab, blockDurationMs, walFsync: wal.fsync };
    if (wal.dir !== undefined) init.walDir = join(wal.dir, `shard-${String(index).padStart(3, '0')}`);
    this.worker = new Worker(fileURLToPath(new URL('./worker.js', import.meta.url)), {
      workerData: init,
      name: `sluice-shard-${index}`,
      // Shards never inherit preload flags (--import/--require) of the parent.
      execArgv: workerExecArgv(),
      env: process.env,
    });
    let onReady!: () => void;
    let onFail!: (e: Error) => void;
    this.ready = new Promise<void>((res, rej) => { onReady = res; onFail = rej; });
    this.worker.on('message', (m: FromShard) => {
      switch (m.type) {
        case 'segment': this.view.addSegment(m.kind, m.index, m.sab); break;
        case 'ready': this.replay = m.replay; onReady(); break;
        case 'reply': {
          const q = this.queries.get(m.id);
          if (!q) break;
          this.queries.delete(m.id);
          if ('error' in m) q.reject(fromWire(m.error)); else q.resolve(m.result);
          break;
        }
        case 'stopped': break;
      }
    });
    const fail = (e: Error): void => {
      if (this.failed) return;
      this.failed = e;
      onFail(e);
      // Tell the gateways: every waiter on this shard's rings wakes and gives up (503).
      if (Atomics.load(this.ctl, ShardCtl.STATE) !== ShardState.STOPPED) Atomics.store(this.ctl, ShardCtl.STATE, ShardState.FAILED);
      for (const r of this.rings) Atomics.notify(new Int32Array(r.ctl), RingCtl.DONE_SEQ);
      const err = new SluiceError(ErrorCode.Unavailable, `shard ${index} is unavailable: ${e.message}`);
      for (const q of this.queries.values()) q.reject(err);
      this.queries.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`shard thread exited with code ${code}`)));
  }

  /** ringUsed returns the bytes waiting in all of this shard's rings. */
  ringUsed(): number {
    let n = 0;
    for (const r of this.rings) {
      const c = new Int32Array(r.ctl);
      n += ((Atomics.load(c, RingCtl.HEAD) >>> 0) - (Atomics.load(c, RingCtl.TAIL) >>> 0)) >>> 0;
    }
    return n;
  }

  /** ringCapacity returns the bytes of all of this shard's rings. */
  ringCapacity(): number {
    return this.rings.reduce((a, r) => a + r.data.byteLength, 0);
  }

  /** query sends a control query and resolves with the shard's answer. */
  query<T>(msg: QueryMessage): Promise<T> {
    if (this.failed) return Promise.reject(new SluiceError(ErrorCode.Unavailable, `shard ${this.index} is unavailable`));
    const id = this.nextQueryId++;
    return new Promise<T>((resolve, reject) => {
      this.queries.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, id } as ToShard);
    });
  }

  /** stat reads one of the shard's statistics. */
  stat(slot: number): number {
    return this.stats[slot]!;
  }

  /** stop asks the shard to finish and waits for its thread to end. */
  async stop(): Promise<void> {
    if (this.failed) return;
    Atomics.store(this.ctl, ShardCtl.STATE, ShardState.STOPPED);
    const exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.worker.postMessage({ type: 'stop' } satisfies ToShard);
    await exited;
  }
}

/** ShardPoolOptions configures the pool. */
export interface ShardPoolOptions {
  shards: number;
  /** Gateway threads: each gets its own ring to every shard. */
  gateways: number;
  /** WAL base directory (each shard logs to shard-NNN below it); undefined runs without a WAL. */
  walDir?: string;
  walFsync?: 'off' | 'batch' | 'always';
  ringBytes: number;
  blockDurationMs: number;
}

/** ShardPool starts N shards and fans queries out to all of them. */
export class ShardPool {
  readonly shards: Shard[];

  constructor(opts: ShardPoolOptions) {
    this.shards = Array.from({ length: opts.shards }, (_, i) => new Shard(i, opts.gateways, opts.ringBytes, opts.blockDurationMs, opts.walDir === undefined ? { fsync: opts.walFsync ?? 'batch' } : { dir: opts.walDir, fsync: opts.walFsync ?? 'batch' }));
  }

  /** ready resolves when every shard thread runs. */
  async ready(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.ready));
  }

  /** series returns the label sets of matching series across shards, unsorted. */
  async series(q: SelectQuery): Promise<Labels[]> {
    const parts = await Promise.all(this.shards.map((s) => s.query<Labels[]>({ type: 'query', op: 'series', q })));
    return parts.flat();
  }

  /** labelNames returns the distinct label names across shards, sorted. */
  async labelNames(q: SelectQuery): Promise<string[]> {
    const parts = await Promise.all(this.shards.map((s) => s.query<string[]>({ type: 'query', op: 'labelNames', q })));
    return [...new Set(parts.flat())].sort();
  }

  /** labelValues returns the distinct values of one label across shards, sorted. */
  async labelValues(name: string, q: SelectQuery): Promise<string[]> {
    const parts = await Promise.all(this.shards.map((s) => s.query<string[]>({ type: 'query', op: 'labelValues', name, q })));
    return [...new Set(parts.flat())].sort();
  }

  /** seriesCount sums the shards' series counters. */
  seriesCount(): number {
    let n = 0;
    for (const s of this.shards) n += s.stat(StatSlot.SERIES);
    return n;
  }

  /** stop stops every shard. */
  async stop(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.stop()));
  }
}
