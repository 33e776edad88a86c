/**
 * ShardPool runs the shard threads and is the main thread's only door to them: it writes batches
 * into each shard's ring, learns when they are appended (one Atomics.waitAsync loop per shard on
 * DONE_SEQ, not a message per batch), and forwards control queries.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { createRingBuffers, RingProducer, type RingBuffers } from '../sharedmem/ring.js';
import {
  RESULT_SLOTS, RESULT_SLOT_I32, ResultSlot, RingCtl, ShardState, STAT_BYTES, StatSlot,
} from '../sharedmem/layout.js';
import { HeadView } from '../sharedmem/headView.js';
import { ErrorCode, SluiceError, fromWire } from '../errors.js';
import type { FromShard, ShardInit, ShardQuery, ToShard } from './protocol.js';
import type { SelectQuery } from './headRead.js';
import type { Labels } from '../model/labels.js';

/** ShardResult is what one shard did with its part of a request. */
export interface ShardResult {
  appended: number;
  duplicate: number;
  outOfOrder: number;
  newSeries: number;
}

interface Pending {
  seq: number;
  resolve: (r: ShardResult) => void;
  reject: (e: Error) => void;
}

/** QueryMessage is a ShardQuery before the pool numbers it. */
type QueryMessage = ShardQuery extends infer Q ? (Q extends ShardQuery ? Omit<Q, 'id'> : never) : never;

/** At most this many batches may wait in one shard (well below RESULT_SLOTS). */
const MAX_PENDING_BATCHES = RESULT_SLOTS - 24;

/** Shard is the main thread's handle on one shard thread. */
export class Shard {
  readonly index: number;
  readonly buffers: RingBuffers;
  readonly producer: RingProducer;
  readonly ctl: Int32Array<SharedArrayBuffer>;
  readonly results: Int32Array<SharedArrayBuffer>;
  readonly stats: Float64Array<SharedArrayBuffer>;
  readonly view = new HeadView();
  readonly worker: Worker;
  private seq = 0;
  private readonly pending: Pending[] = [];
  private pendingHead = 0;
  private waiting = false;
  private nextQueryId = 1;
  private readonly queries = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  failed: Error | undefined;
  readonly ready: Promise<void>;

  constructor(index: number, ringBytes: number, blockDurationMs: number) {
    this.index = index;
    this.buffers = createRingBuffers(ringBytes);
    this.producer = new RingProducer(this.buffers);
    this.ctl = this.producer.ctl;
    this.results = new Int32Array(this.buffers.results);
    const statsSab = new SharedArrayBuffer(STAT_BYTES);
    this.stats = new Float64Array(statsSab);
    const init: ShardInit = { index, ring: this.buffers, stats: statsSab, blockDurationMs };
    this.worker = new Worker(fileURLToPath(new URL('./worker.js', import.meta.url)), {
      workerData: init,
      name: `sluice-shard-${index}`,
      // Shards never inherit preload flags (--import/--require) of the parent.
      execArgv: [],
      env: process.env,
    });
    let onReady!: () => void;
    let onFail!: (e: Error) => void;
    this.ready = new Promise<void>((res, rej) => { onReady = res; onFail = rej; });
    this.worker.on('message', (m: FromShard) => {
      switch (m.type) {
        case 'segment': this.view.addSegment(m.kind, m.index, m.sab); break;
        case 'ready': onReady(); break;
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
      const err = new SluiceError(ErrorCode.Unavailable, `shard ${index} is unavailable: ${e.message}`);
      for (let i = this.pendingHead; i < this.pending.length; i++) this.pending[i]!.reject(err);
      this.pending.length = 0;
      this.pendingHead = 0;
      for (const q of this.queries.values()) q.reject(err);
      this.queries.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`shard thread exited with code ${code}`)));
  }

  /** inFlight is the number of batches written and not yet appended. */
  inFlight(): number {
    return this.pending.length - this.pendingHead;
  }

  /**
   * submit writes a framed batch (whose seq field is set here) and resolves when the shard has
   * appended it. Throws Unavailable (retryable) when the shard failed or its ring is full.
   */
  submit(rec: Uint8Array, len: number, u32: Uint32Array): Promise<ShardResult> {
    if (this.failed) throw new SluiceError(ErrorCode.Unavailable, `shard ${this.index} is unavailable`);
    if (this.inFlight() >= MAX_PENDING_BATCHES) {
      throw new SluiceError(ErrorCode.Unavailable, `shard ${this.index} is overloaded: ${this.inFlight()} batches waiting`);
    }
    const seq = (this.seq + 1) | 0;
    u32[2] = seq >>> 0;
    if (!this.producer.tryWrite(rec, len)) {
      throw new SluiceError(ErrorCode.Unavailable, `shard ${this.index} is overloaded: write ring full (${this.producer.capacity} bytes)`);
    }
    this.seq = seq;
    return new Promise<ShardResult>((resolve, reject) => {
      this.pending.push({ seq, resolve, reject });
      if (!this.waiting) void this.waitDone();
    });
  }

  /** waitDone resolves pending batches as DONE_SEQ advances; one loop per shard at most. */
  private async waitDone(): Promise<void> {
    this.waiting = true;
    try {
      while (this.inFlight() > 0 && !this.failed) {
        const done = Atomics.load(this.ctl, RingCtl.DONE_SEQ);
        let progressed = false;
        while (this.pendingHead < this.pending.length) {
          const p = this.pending[this.pendingHead]!;
          if (((done - p.seq) | 0) < 0) break;
          const o = (p.seq & (RESULT_SLOTS - 1)) * RESULT_SLOT_I32;
          const r = this.results;
          p.resolve({
            appended: r[o + ResultSlot.APPENDED]!,
            duplicate: r[o + ResultSlot.DUPLICATE]!,
            outOfOrder: r[o + ResultSlot.OUT_OF_ORDER]!,
            newSeries: r[o + ResultSlot.NEW_SERIES]!,
          });
          this.pendingHead++;
          progressed = true;
        }
        if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
          this.pending.splice(0, this.pendingHead);
          this.pendingHead = 0;
        }
        if (progressed) continue;
        if (Atomics.load(this.ctl, RingCtl.STATE) === ShardState.FAILED) break;
        const w = Atomics.waitAsync(this.ctl, RingCtl.DONE_SEQ, done, 1000);
        if (w.async) await w.value;
      }
    } finally {
      this.waiting = false;
    }
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
    const exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.worker.postMessage({ type: 'stop' } satisfies ToShard);
    await exited;
  }
}

/** ShardPoolOptions configures the pool. */
export interface ShardPoolOptions {
  shards: number;
  ringBytes: number;
  blockDurationMs: number;
}

/** ShardPool starts N shards and fans queries out to all of them. */
export class ShardPool {
  readonly shards: Shard[];

  constructor(opts: ShardPoolOptions) {
    this.shards = Array.from({ length: opts.shards }, (_, i) => new Shard(i, opts.ringBytes, opts.blockDurationMs));
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
