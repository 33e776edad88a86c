/**
 * ShardPool runs the shard threads: it allocates their rings and control blocks (handed to the
 * gateway threads, which write batches, see link.ts), supervises the threads, forwards control
 * queries and reads their statistics.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { workerExecArgv } from '../util/profile.js';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createRingBuffers, type RingBuffers } from '../sharedmem/ring.js';
import { RingCtl, SHARD_CTL_BYTES, ShardCtl, ShardState, STAT_BYTES, StatSlot } from '../sharedmem/layout.js';
import { HeadView } from '../sharedmem/headView.js';
import { HeadFeed } from '../sharedmem/headFeed.js';
import { ErrorCode, SluiceError, fromWire } from '../errors.js';
import type { FromShard, ShardInit, ShardQuery, ToShard } from './protocol.js';
import type { SelectQuery } from './headRead.js';
import type { Labels } from '../model/labels.js';
import type { HeadRefs } from '../sharedmem/headFeed.js';

/**
 * TenantSeriesQuery asks a shard for its active series per tenant, answered as
 * `[tenant, series][]` (for head_series_limit; polled by src/receive/node.ts).
 */
export interface TenantSeriesQuery { type: 'query'; id: number; op: 'tenantSeries' }

/** QueryMessage is a ShardQuery (or a TenantSeriesQuery) before the pool numbers it. */
type QueryMessage = ShardQuery | TenantSeriesQuery extends infer Q ? (Q extends ShardQuery | TenantSeriesQuery ? Omit<Q, 'id'> : never) : never;

/** ShardEvent is what a shard reports to its supervisor's owner (for logs and metrics). */
export type ShardEvent =
  | { type: 'failed'; shard: number; error: string; restartInMs: number }
  | { type: 'restarted'; shard: number; replay: ShardReplay | undefined }
  | { type: 'walError'; shard: number; message: string }
  | { type: 'walRecovered'; shard: number };

/** ShardReplay is what a shard replayed from its WAL at start. */
export type ShardReplay = Extract<FromShard, { type: 'ready' }>['replay'];

/** Restart backoff after a shard thread dies: doubles per quick failure, up to the cap. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 10_000;
/** A thread that ran this long before dying is restarted at once again (backoff resets). */
const RESTART_STABLE_MS = 60_000;

/**
 * Shard is the main thread's handle on one shard thread: its buffers, queries and statistics.
 * It supervises the thread: one that dies is replaced by a new thread over the same rings,
 * control block and WAL directory, which answers what the dead one left in the rings (503),
 * replays the WAL and then serves again; requests touching the shard get 503 meanwhile.
 */
export class Shard {
  readonly index: number;
  /** One ring per gateway thread; gateway g writes rings[g]. */
  readonly rings: RingBuffers[];
  /** The shard's control block (ShardCtl), shared with the gateways. */
  readonly ctlSab: SharedArrayBuffer;
  readonly ctl: Int32Array<SharedArrayBuffer>;
  readonly stats: Float64Array<SharedArrayBuffer>;
  /** The running thread's head, readable from this thread; replaced when the thread is. */
  view = new HeadView();
  /**
   * generation numbers the shard's threads (1 for the first, +1 per replacement): refs and
   * segment feeds are only valid within the generation that handed them out.
   */
  generation = 0;
  worker!: Worker;
  /** Threads that died and were replaced. */
  restarts = 0;
  /** Corrupt WAL records skipped by every replay of this shard so far. */
  walCorruptions = 0;
  private nextQueryId = 1;
  private readonly queries = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  /** Why the current thread is down (undefined while it runs or starts). */
  failed: Error | undefined;
  /** Resolves when the first thread has replayed and runs (rejects if it dies first). */
  readonly ready: Promise<void>;
  /** What the shard replayed from its WAL at its last start, if it has one. */
  replay: ShardReplay;
  private readonly init: Omit<ShardInit, 'restart' | 'minValidT' | 'segments'>;
  /** Samples older than this are in blocks (a replacement thread starts with it). */
  minValidT = -Infinity;
  private readonly statsSab: SharedArrayBuffer;
  private readonly onEvent: (e: ShardEvent) => void;
  private stopping = false;
  private startedAt = 0;
  private readonly restartMinMs: number;
  private backoffMs: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private onFirstReady: (() => void) | undefined;
  private onFirstFail: ((e: Error) => void) | undefined;

  constructor(index: number, opts: ShardPoolOptions) {
    const { gateways, ringBytes, blockDurationMs } = opts;
    const wal = { fsync: opts.walFsync ?? 'batch' };
    const restartMinMs = opts.restartMinMs ?? RESTART_MIN_MS;
    this.index = index;
    this.onEvent = opts.onEvent ?? (() => {});
    this.restartMinMs = restartMinMs;
    this.backoffMs = restartMinMs;
    this.minValidT = opts.minValidT ?? -Infinity;
    this.rings = Array.from({ length: gateways }, () => createRingBuffers(ringBytes));
    this.ctlSab = new SharedArrayBuffer(SHARD_CTL_BYTES);
    this.ctl = new Int32Array(this.ctlSab);
    this.statsSab = new SharedArrayBuffer(STAT_BYTES);
    this.stats = new Float64Array(this.statsSab);
    const init: Omit<ShardInit, 'restart' | 'minValidT' | 'segments'> = { index, rings: this.rings, ctl: this.ctlSab, stats: this.statsSab, blockDurationMs, walFsync: wal.fsync };
    if (opts.walDir !== undefined) init.walDir = join(opts.walDir, `shard-${String(index).padStart(3, '0')}`);
    this.init = init;
    this.ready = new Promise<void>((res, rej) => { this.onFirstReady = res; this.onFirstFail = rej; });
    // Nobody may be waiting on ready() when a later restart fails: keep that rejection quiet.
    this.ready.catch(() => {});
    this.spawn(false);
  }

  /** spawn starts a shard thread (a replacement when `restart`). */
  private spawn(restart: boolean): void {
    this.generation++;
    this.startedAt = performance.now();
    // Segment news come on their own port, so that a reader can take them synchronously when it
    // meets a segment it does not know yet (HeadFeed), while this thread is busy.
    const { port1: news, port2: newsForShard } = new MessageChannel();
    const feed = new HeadFeed(news, true);
    this.view = feed.view;
    const worker = new Worker(fileURLToPath(new URL('./worker.js', import.meta.url)), {
      workerData: { ...this.init, restart, minValidT: this.minValidT, segments: newsForShard } satisfies ShardInit,
      transferList: [newsForShard],
      name: `sluice-shard-${this.index}`,
      // Shards never inherit preload flags (--import/--require) of the parent.
      execArgv: workerExecArgv(),
      env: process.env,
    });
    this.worker = worker;
    worker.once('exit', () => feed.close());
    worker.on('message', (m: FromShard) => {
      switch (m.type) {
        case 'ready':
          this.replay = m.replay;
          this.walCorruptions += m.replay?.corruptions.length ?? 0;
          this.failed = undefined;
          if (restart) this.onEvent({ type: 'restarted', shard: this.index, replay: m.replay });
          this.onFirstReady?.();
          this.onFirstReady = undefined;
          this.onFirstFail = undefined;
          break;
        case 'reply': {
          const q = this.queries.get(m.id);
          if (!q) break;
          this.queries.delete(m.id);
          if ('error' in m) q.reject(fromWire(m.error)); else q.resolve(m.result);
          break;
        }
        case 'walError': this.onEvent({ type: 'walError', shard: this.index, message: m.message }); break;
        case 'walRecovered': this.onEvent({ type: 'walRecovered', shard: this.index }); break;
        case 'stopped': break;
      }
    });
    let down = false;
    const fail = (e: Error): void => {
      if (down || worker !== this.worker) return;
      down = true;
      this.failed = e;
      // Tell the gateways: every waiter on this shard's rings wakes and gives up (503).
      if (Atomics.load(this.ctl, ShardCtl.STATE) !== ShardState.STOPPED) Atomics.store(this.ctl, ShardCtl.STATE, ShardState.FAILED);
      for (const r of this.rings) Atomics.notify(new Int32Array(r.ctl), RingCtl.DONE_SEQ);
      const err = new SluiceError(ErrorCode.Unavailable, `shard ${this.index} is unavailable: ${e.message}`);
      for (const q of this.queries.values()) q.reject(err);
      this.queries.clear();
      if (this.stopping) return;
      if (this.onFirstFail) {
        // It died before its first start completed (e.g. the WAL cannot be read): that is fatal.
        this.onFirstFail(e);
        this.onFirstFail = undefined;
        this.onFirstReady = undefined;
        return;
      }
      if (performance.now() - this.startedAt > RESTART_STABLE_MS) this.backoffMs = this.restartMinMs;
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, Math.max(RESTART_MAX_MS, this.restartMinMs));
      this.onEvent({ type: 'failed', shard: this.index, error: e.message, restartInMs: delay });
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (this.stopping) return;
        this.restarts++;
        Atomics.store(this.ctl, ShardCtl.STATE, ShardState.RESTARTING);
        this.spawn(true);
      }, delay);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`shard thread exited with code ${code}`)));
  }

  /**
   * subscribe opens one more feed of this shard's segment news, for a reader in another thread
   * (src/sharedmem/headFeed.ts; transfer the port there and open HeadFeed(port, false) on it). It
   * belongs to the current generation and closes when that thread ends.
   */
  subscribe(): MessagePort {
    if (this.failed) throw new SluiceError(ErrorCode.Unavailable, `shard ${this.index} is unavailable`);
    const { port1, port2 } = new MessageChannel();
    this.worker.postMessage({ type: 'subscribe', port: port2 } satisfies ToShard, [port2]);
    return port1;
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
      this.worker.postMessage({ ...msg, id } as ToShard | TenantSeriesQuery);
    });
  }

  /** stat reads one of the shard's statistics. */
  stat(slot: number): number {
    return this.stats[slot]!;
  }

  /** stop asks the shard to finish and waits for its thread to end (no restart after). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    if (this.failed) return;
    Atomics.store(this.ctl, ShardCtl.STATE, ShardState.STOPPED);
    const worker = this.worker;
    const exited = new Promise<void>((r) => worker.once('exit', () => r()));
    worker.postMessage({ type: 'stop' } satisfies ToShard);
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
  /** Receives shard failures, restarts and WAL trouble (for logs). */
  onEvent?: (e: ShardEvent) => void;
  /** First delay before a dead shard thread is replaced (doubles per quick failure; 100 ms). */
  restartMinMs?: number;
  /** Samples older than this are already in blocks: refused, and skipped on replay. */
  minValidT?: number;
}

/** ShardPool starts N shards and fans queries out to all of them. */
export class ShardPool {
  readonly shards: Shard[];

  constructor(opts: ShardPoolOptions) {
    this.shards = Array.from({ length: opts.shards }, (_, i) => new Shard(i, opts));
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

  /**
   * refs returns each shard's refs of the series matching `q`, with the generation they belong to
   * (read them through a feed of that generation: src/sharedmem/headFeed.ts).
   */
  refs(q: SelectQuery): Promise<HeadRefs[]> {
    return Promise.all(this.shards.map(async (sh): Promise<HeadRefs> => {
      const generation = sh.generation;
      const refs = await sh.query<Int32Array>({ type: 'query', op: 'refs', q });
      return { shard: sh.index, generation, refs };
    }));
  }

  /** subscribe opens a feed of each named shard's segment news for another thread (Shard.subscribe). */
  subscribe(shards: readonly number[]): { ports: MessagePort[]; generations: number[] } {
    return { ports: shards.map((i) => this.shards[i]!.subscribe()), generations: shards.map((i) => this.shards[i]!.generation) };
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

  /**
   * tenantSeries sums the shards' active series per tenant. Best effort: a shard that is down
   * (restarting) counts as none until it answers again.
   */
  async tenantSeries(): Promise<Map<string, number>> {
    const parts = await Promise.all(this.shards.map((s) => s.query<[string, number][]>({ type: 'query', op: 'tenantSeries' }).catch((): [string, number][] => [])));
    const sum = new Map<string, number>();
    for (const part of parts) for (const [t, n] of part) sum.set(t, (sum.get(t) ?? 0) + n);
    return sum;
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
