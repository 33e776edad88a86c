/**
 * ReceiveNode wires one Sluice receiver: the shard threads, the gateway threads on
 * --remote-write.address, and the admin/read HTTP server on --http-address (main thread). It owns
 * start-up order (admin server, shards, gateways, then ready) and graceful shutdown (not ready,
 * gateways stop accepting and finish in-flight requests, shards stop).
 *
 *   main thread      admin HTTP (/metrics, /-/ready, read API), supervision
 *   gateway threads  remote-write HTTP → decode → route → rings
 *   shard threads    rings → head (SharedArrayBuffer) + label index
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkWalLayout } from '../shards/walLayout.js';
import { BlockCutter, readWatermark } from '../blocks/cut.js';
import { Shipper } from '../blocks/shipper.js';
import { applyRetention } from '../blocks/retention.js';
import { newBucket } from '../blocks/objstore/config.js';
import type { Bucket } from '../blocks/objstore/bucket.js';
import { CheckpointThread } from '../wal/checkpointThread.js';
import { CutThread } from '../blocks/cutThread.js';
import { exposeGc } from '../util/exposeGc.js';
import { BlockSet } from '../query/blockSet.js';
import { PromqlApi } from '../query/promqlApi.js';
import type { QuerierOptions } from '../query/querier.js';
import { QueryPool } from '../query/workerPool.js';
import { StoreServer } from '../query/storeapi/server.js';
import { NodeStoreProvider } from '../query/storeProvider.js';
import { ShardPool, type ShardEvent, type ShardReplay } from '../shards/pool.js';
import { GatewayPool } from '../gateway/pool.js';
import { chooseEngine, listen, type Listener, type Route } from '../gateway/http.js';
import { snappyEngine } from '../gateway/snappy.js';
import { NodeMetrics } from '../metrics/node.js';
import { MetadataApi } from '../query/api.js';
import { NODE_CTL_BYTES, NodeCtl, ShardCtl, ShardState } from '../sharedmem/layout.js';
import { Logger } from '../util/log.js';
import type { ReceiveConfig } from './flags.js';
import { ErrorCode, SluiceError } from '../errors.js';
import { statusOf } from '../gateway/status.js';
import { hasHeadSeriesLimits } from './limits.js';
import { overHeadSeriesLimit } from '../gateway/limits.js';
import { registerConfiguredLimits } from '../metrics/limits.js';
import { HashringWatcher } from '../peer/watcher.js';
import { Hashrings } from '../peer/hashrings.js';
import { parseHashringsConfig } from '../peer/config.js';
import { PeerReads } from '../query/peerReads.js';
import { HashringMetrics } from '../peer/metrics.js';
import { hashringsJson, type ReplicationOptions } from '../gateway/replication.js';
import { gcMode } from '../util/nodeFlags.js';
import { lowerV8HelperPriority } from '../util/thread.js';

/** MAX_BODY_BYTES bounds a compressed remote-write body; MAX_DECOMPRESSED_BYTES its decoded size. */
const MAX_BODY_BYTES = 32 << 20;
const MAX_DECOMPRESSED_BYTES = 64 << 20;
/** How often the shards' per-tenant series counts are summed for head_series_limit. */
const HEAD_SERIES_POLL_MS = 5000;
/**
 * STOP_RESERVE_MS: the part of --http-grace-period (at most a quarter of it) kept for closing
 * the WALs after in-flight requests and block uploads had the rest.
 */
const STOP_RESERVE_MS = 1000;

/** stopReserveMs is the part of a grace period of `graceMs` kept for closing the WALs. */
function stopReserveMs(graceMs: number): number {
  return Math.min(STOP_RESERVE_MS, graceMs / 4);
}

/** within resolves with true when `p` settles within `ms`, false otherwise (p keeps running). */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), Math.max(0, ms)); });
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** NodeTuning holds settings that are not flags (tests use them to widen timing windows). */
export interface NodeTuning {
  /** First delay before a dead shard thread is replaced (100 ms). */
  shardRestartMinMs?: number;
}

/** ReceiveNode is a running receiver. */
export class ReceiveNode {
  readonly cfg: ReceiveConfig;
  readonly log: Logger;
  readonly pool: ShardPool;
  readonly gateways = new GatewayPool();
  readonly metrics: NodeMetrics;
  private readonly nodeCtlSab = new SharedArrayBuffer(NODE_CTL_BYTES);
  private readonly nodeCtl = new Int32Array(this.nodeCtlSab);
  private stopping = false;
  private stopped: Promise<void> | undefined;
  http: Listener | undefined;
  /** Blocks: cutting the head, uploading, retention (set up by start()). */
  cutter: BlockCutter | undefined;
  /** WAL checkpoints after cuts, in a thread at SCHED_IDLE (started with the blocks). */
  private readonly checkpoints: CheckpointThread;
  /** Block writes of head cuts, in a thread at SCHED_IDLE that reads the heads itself (started with the blocks). */
  private readonly cutThread: CutThread;
  shipper: Shipper | undefined;
  private readonly bucket: Bucket;
  /** The blocks queries read: local ones and those only in the bucket. */
  private readonly blockSet: BlockSet;
  /** PromQL evaluation threads (none with --query.workers=0). */
  private readonly queryPool: QueryPool | undefined;
  private blockTimer: NodeJS.Timeout | undefined;
  private blockPass: Promise<void> = Promise.resolve();
  /** The bound remote-write port. */
  remoteWritePort = 0;
  /** grpcPort is the bound StoreAPI port (useful when --grpc-address asked for port 0). */
  grpcPort = 0;
  private store: StoreServer | undefined;
  /** Multi-node reads: the other endpoints of the hashring (with a hashring only). */
  private peers: PeerReads | undefined;
  /** Head-series polling (limits config): the timer, and the last set sent to the gateways. */
  private headSeriesTimer: NodeJS.Timeout | undefined;
  private headSeriesOver = '[]';
  private headSeriesPoll: Promise<void> | undefined;
  /** Reloads --receive.hashrings-file and hands new versions to the gateways. */
  private hashringWatcher: HashringWatcher | undefined;

  constructor(cfg: ReceiveConfig, log = new Logger(cfg.logLevel, cfg.logFormat), tuning: NodeTuning = {}) {
    this.cfg = cfg;
    this.log = log;
    this.checkpoints = new CheckpointThread(cfg.cutCpuPriority);
    this.cutThread = new CutThread({ cpuPriority: cfg.cutCpuPriority, subscribe: (shards) => this.pool.subscribe(shards) });
    mkdirSync(cfg.tsdbPath, { recursive: true });
    const walDir = join(cfg.tsdbPath, 'wal');
    checkWalLayout(walDir, cfg.shards);
    this.pool = new ShardPool({
      shards: cfg.shards, gateways: cfg.gateways, ringBytes: cfg.ringBytes, blockDurationMs: cfg.blockDurationMs,
      walDir, walFsync: cfg.walFsync,
      // Everything older is already in blocks: refused on append and skipped on replay.
      minValidT: readWatermark(cfg.tsdbPath),
      onEvent: (e) => this.onShardEvent(e),
      ...(tuning.shardRestartMinMs !== undefined ? { restartMinMs: tuning.shardRestartMinMs } : {}),
    });
    this.bucket = newBucket(cfg.objstore);
    this.blockSet = new BlockSet(join(cfg.tsdbPath, 'blocks'), this.bucket, cfg.query.postingsCacheBytes);
    const h = cfg.hashrings;
    if (h !== undefined) {
      const rings = new Hashrings(parseHashringsConfig(h.text, h.file === '' ? '--receive.hashrings' : h.file), { algorithm: h.algorithm, replicationFactor: cfg.replicationFactor });
      this.peers = new PeerReads(rings, { localEndpoint: h.localEndpoint, tenantLabelName: cfg.tenantLabelName, timeoutMs: cfg.query.timeoutMs });
    }
    const q = cfg.query;
    const metrics = new NodeMetrics(this.pool, () => this.gateways.snapshots());
    this.metrics = metrics;
    metrics.watchPostingsCache(this.blockSet.postings);
    this.queryPool = q.workers === 0 ? undefined : new QueryPool({
      threads: q.workers, splitThreads: q.splitThreads, lookbackDelta: q.lookbackDeltaMs, maxSamples: q.maxSamples, timeoutMs: q.timeoutMs, cpuPriority: q.cpuPriority, warmUp: q.warmUp,
      onSplit: (outcome) => metrics.querySplits.inc({ outcome }),
    });
  }

  /** onShardEvent logs what the shard supervisor reports. */
  private onShardEvent(e: ShardEvent): void {
    switch (e.type) {
      case 'failed': this.log.error('shard thread died; restarting it', { shard: e.shard, err: e.error, restart_in_ms: e.restartInMs }); break;
      case 'restarted': {
        const r = e.replay;
        this.log.warn('shard thread restarted', { shard: e.shard, series: r?.series ?? 0, samples: r?.samples ?? 0, ms: Math.round(r?.ms ?? 0), corruptions: r?.corruptions.length ?? 0 });
        if (r !== undefined) this.logReplayFindings(e.shard, r);
        break;
      }
      case 'walError': this.log.error('WAL write failed; answering 503 until it succeeds again', { shard: e.shard, err: e.message }); break;
      case 'walRecovered': this.log.info('WAL writes succeed again', { shard: e.shard }); break;
    }
  }

  /** logReplayFindings logs where a replay of shard `shard`'s WAL cut a torn tail or skipped corruption. */
  private logReplayFindings(shard: number, r: NonNullable<ShardReplay>): void {
    if (r.tornTail) this.log.warn('WAL torn tail cut', { shard, segment: r.tornTail.segment, offset: r.tornTail.offset });
    for (const c of r.corruptions) this.log.error('WAL corruption skipped', { shard, segment: c.segment, offset: c.offset, reason: c.reason });
  }

  /** ready tells whether remote-write is accepted. */
  isReady(): boolean {
    return Atomics.load(this.nodeCtl, NodeCtl.READY) === 1;
  }

  /**
   * start brings the node up and resolves once it is ready (or, when stop() was called meanwhile,
   * once it knows it must not turn ready). A start that fails halfway (a port taken) stops what
   * it had started before it rejects, so no thread or listener outlives it.
   */
  async start(): Promise<void> {
    try {
      await this.startAll();
    } catch (e) {
      await this.stop().catch(() => {});
      throw e;
    }
  }

  private async startAll(): Promise<void> {
    const { engine, warning } = chooseEngine();
    if (warning) this.log.warn(warning);
    // node:http cannot share a port between threads on this Node version: one gateway then.
    const gateways = engine === 'uws' ? this.cfg.gateways : 1;
    // The admin server comes up first so /-/healthy answers (and /-/ready says 503) during start.
    this.http = await listen(engine, this.cfg.httpAddress.host, this.cfg.httpAddress.port, this.adminRoutes(), this.log, true);
    // The Thanos StoreAPI (for Thanos Query, and peers' multi-node reads); the gateways tell peers
    // its port. It serves this node's own data only (no fan-out: callers fan out themselves).
    this.store = new StoreServer(new NodeStoreProvider({ ...this.querierOptions(), replicaLabels: [] }), this.log);
    this.grpcPort = await this.store.start(this.cfg.grpcAddress.host, this.cfg.grpcAddress.port);
    // Gateways listen first and answer 503 until every shard has replayed its WAL.
    await this.gateways.start({
      gateways, host: this.cfg.remoteWriteAddress.host, port: this.cfg.remoteWriteAddress.port, engine,
      nodeCtl: this.nodeCtlSab, logLevel: this.cfg.logLevel, logFormat: this.cfg.logFormat,
      receive: {
        tenantHeader: this.cfg.tenantHeader, defaultTenant: this.cfg.defaultTenant,
        maxBodyBytes: MAX_BODY_BYTES, maxDecompressedBytes: MAX_DECOMPRESSED_BYTES, maxInflightBodyBytes: this.cfg.maxInflightBodyBytes,
        ...(this.cfg.limits !== undefined ? { limits: this.cfg.limits } : {}),
        ...(this.cfg.hashrings !== undefined ? { replication: this.replicationOptions() } : {}),
        storeApiPort: this.grpcPort,
        // Gateways cut their in-flight requests off by themselves (see stop()).
        closeGraceMs: this.cfg.httpGracePeriodMs - stopReserveMs(this.cfg.httpGracePeriodMs),
      },
    }, this.pool);
    this.remoteWritePort = this.gateways.port;
    try {
      await this.pool.ready();
    } catch (e) {
      // stop() ends shards still replaying when its deadline comes: that is no start failure.
      if (this.stopping) return;
      throw e;
    }
    // Stopped while the WALs replayed: never turn ready.
    if (this.stopping) return;
    for (const sh of this.pool.shards) {
      const r = sh.replay;
      if (!r) continue;
      if (r.series > 0 || r.samples > 0) this.log.info('WAL replayed', { shard: sh.index, series: r.series, samples: r.samples, ms: Math.round(r.ms) });
      this.logReplayFindings(sh.index, r);
    }
    const limits = this.cfg.limits;
    if (limits !== undefined) {
      // Each gateway thread gates ceil(max_concurrency / gateways) requests (src/gateway/limits.ts).
      registerConfiguredLimits(this.metrics.registry, limits, gateways * Math.ceil(limits.maxConcurrency / gateways));
      if (limits.ignored.length > 0) this.log.info('limits config: meta-monitoring keys ignored; head series are counted by the shards', { keys: limits.ignored.join(',') });
      if (hasHeadSeriesLimits(limits)) {
        await this.pollHeadSeries();
        this.headSeriesTimer = setInterval(() => {
          this.pollHeadSeries().catch((e: unknown) => this.log.warn('head series poll failed', { err: e instanceof Error ? e.message : String(e) }));
        }, HEAD_SERIES_POLL_MS).unref();
      }
    }
    this.startBlocks();
    this.startHashringWatcher();
    Atomics.store(this.nodeCtl, NodeCtl.READY, 1);
    if (gcMode() !== 'single-threaded') {
      this.log.info('garbage collection runs on V8\'s shared helper threads at normal priority: start node with --single-threaded-gc so that query threads collect at their own priority (src/util/nodeFlags.ts)');
    } else {
      this.lowerV8Helpers();
    }
    this.log.info('receiver ready', {
      remote_write: `${this.cfg.remoteWriteAddress.host}:${this.remoteWritePort}`,
      http: `${this.cfg.httpAddress.host}:${this.http.port}`, grpc: `${this.cfg.grpcAddress.host}:${this.grpcPort}`,
      shards: this.cfg.shards, gateways, http_engine: engine, snappy: snappyEngine, gc: gcMode(), tsdb_path: this.cfg.tsdbPath,
    });
  }

  /**
   * lowerV8Helpers puts V8's platform threads at --v8.helper-cpu-priority (the first node of a
   * process decides): under --single-threaded-gc they only compile, and the compiling of a cut's
   * code would otherwise compete with ingestion (src/util/thread.ts).
   */
  private lowerV8Helpers(): void {
    const want = this.cfg.v8HelperCpuPriority;
    if (want === 'normal') return;
    const r = lowerV8HelperPriority(want);
    if (r === undefined) this.log.warn('V8\'s background threads not found: their CPU priority is left as it is', { wanted: want });
    else this.log.info('V8 background threads lowered', { threads: r.threads, priority: r.got });
  }

  /**
   * pollHeadSeries sums the shards' active series per tenant and tells every gateway thread which
   * tenants reached their head_series_limit (answered 429 until a later poll finds them below).
   * Runs every HEAD_SERIES_POLL_MS while such limits are configured; resolves once the gateways
   * have the new set (tests call it to skip the wait). Polls never overlap: a call during one
   * waits for it and then polls afresh.
   */
  async pollHeadSeries(): Promise<void> {
    while (this.headSeriesPoll !== undefined) await this.headSeriesPoll;
    this.headSeriesPoll = this.pollHeadSeriesOnce();
    try { await this.headSeriesPoll; } finally { this.headSeriesPoll = undefined; }
  }

  private async pollHeadSeriesOnce(): Promise<void> {
    const cfg = this.cfg.limits;
    if (cfg === undefined || this.stopping) return;
    const over = overHeadSeriesLimit(cfg, await this.pool.tenantSeries());
    const key = JSON.stringify(over);
    if (key === this.headSeriesOver || this.stopping) return;
    const before = new Set((JSON.parse(this.headSeriesOver) as [string, number][]).map(([t]) => t));
    for (const [tenant, series] of over) {
      if (!before.has(tenant)) this.log.warn('tenant reached its head series limit; refusing its writes with 429', { tenant, series });
    }
    this.headSeriesOver = key;
    await this.gateways.setHeadSeriesOver(over);
  }

  /** replicationOptions are the gateways' hashring settings (cfg.hashrings must be set). */
  private replicationOptions(): ReplicationOptions {
    const h = this.cfg.hashrings!;
    return {
      hashrings: h.text, source: h.file === '' ? '--receive.hashrings' : h.file, algorithm: h.algorithm,
      replicationFactor: this.cfg.replicationFactor, localEndpoint: h.localEndpoint, replicaHeader: h.replicaHeader.toLowerCase(),
      forwardTimeoutMs: h.forwardTimeoutMs, forwardMaxBackoffMs: h.forwardMaxBackoffMs, connections: h.forwardConnections,
      tenantHeader: this.cfg.tenantHeader,
    };
  }

  /**
   * startHashringWatcher re-reads --receive.hashrings-file and pushes new versions to every gateway
   * and to the peer reads (which then connect to the new rings' peers).
   */
  private startHashringWatcher(): void {
    const h = this.cfg.hashrings;
    if (h === undefined || h.file === '') return;
    const w = new HashringWatcher({
      path: h.file, intervalMs: h.refreshIntervalMs, algorithm: h.algorithm, replicationFactor: this.cfg.replicationFactor,
      metrics: new HashringMetrics(this.metrics.registry),
      onChange: (rings) => {
        this.peers?.setRings(rings);
        this.peers?.connect();
        void this.gateways.setHashrings(hashringsJson(rings.configs)).then((err) => {
          if (err !== '') this.log.error('hashring reload refused by a gateway', { err });
          else this.log.info('hashring file reloaded', { hashrings: rings.configs.length, endpoints: rings.addresses().size });
        });
      },
      onError: (e) => this.log.error('hashring file reload failed; keeping the rings in use', { err: e.message }),
    });
    // The file may have changed since the flags read it: the gateways get what the watcher loaded.
    const rings = w.load();
    this.peers?.setRings(rings);
    void this.gateways.setHashrings(hashringsJson(rings.configs));
    w.start();
    this.hashringWatcher = w;
  }

  /**
   * startBlocks starts the block side: the cutter (checked every few seconds: Prometheus' rule,
   * the oldest range once the head spans 1.5 block durations), the shipper, and local retention.
   */
  private startBlocks(): void {
    const cfg = this.cfg;
    const walDir = join(cfg.tsdbPath, 'wal');
    this.checkpoints.start();
    this.cutThread.start();
    const gc = exposeGc();
    this.cutter = new BlockCutter({
      pool: this.pool, tsdbPath: cfg.tsdbPath, blockDurationMs: cfg.blockDurationMs,
      externalLabels: cfg.externalLabels, tenantLabelName: cfg.tenantLabelName, log: this.log,
      checkpoint: async (shard, upTo, mint, live) => {
        // Only the series the shard's head still holds (series GC, src/shards/headTruncate.ts).
        // In a thread of its own at SCHED_IDLE: ingestion keeps the CPU (src/wal/checkpointThread.ts).
        const st = await this.checkpoints.run(join(walDir, `shard-${String(shard).padStart(3, '0')}`), upTo, mint, cfg.walFsync !== 'off', live);
        this.log.info('WAL checkpoint', { shard, up_to_segment: upTo, ...st });
      },
      onBlocks: () => this.blockSet.invalidate(),
      // Query threads read the heads after the main thread listed the blocks for them.
      readersDone: () => this.queryPool?.drained() ?? Promise.resolve(),
      // In a thread of its own at SCHED_IDLE, as the checkpoints (src/blocks/cutThread.ts).
      writer: this.cutThread,
      ...(gc !== undefined ? { collect: gc } : {}),
    });
    this.shipper = new Shipper({ dir: this.cutter.blocksDir, bucket: this.bucket, registry: this.metrics.registry, logger: this.log });
    this.shipper.start();
    const everyMs = Math.min(15_000, Math.max(250, cfg.blockDurationMs / 8));
    this.blockTimer = setInterval(() => {
      this.blockPass = this.blockPass.then(() => this.blockTick()).catch((e: unknown) => {
        this.log.error('block cut failed; retrying later', { err: e instanceof Error ? e.message : String(e) });
      });
    }, everyMs);
  }

  private async blockTick(): Promise<void> {
    if (this.stopping || !this.cutter) return;
    const cut = await this.cutter.maybeCut();
    // The cut made its blocks visible to queries itself (onBlocks).
    if (cut && cut.blocks.length > 0) this.shipper?.notify();
    await applyRetention(this.cutter.blocksDir, this.cfg.retentionMs, this.shipper ?? null, Date.now(), this.log);
  }

  /**
   * flush cuts the whole head into blocks and uploads them. Returns the new blocks' ULIDs and,
   * when the upload failed, why: the blocks are cut all the same, stay queued and are uploaded
   * when the object store answers again (also after a restart).
   */
  async flush(): Promise<{ ulids: string[]; uploadError?: string }> {
    if (!this.cutter || !this.shipper) throw new SluiceError(ErrorCode.Unavailable, 'the receiver is not ready');
    const cut = await this.cutter.flush();
    const ulids = cut?.blocks.map((b) => b.ulid) ?? [];
    try {
      await this.shipper.sync();
    } catch (e) {
      return { ulids, uploadError: e instanceof Error ? e.message : String(e) };
    } finally {
      this.blockSet.invalidate();
    }
    return { ulids };
  }

  /** querierOptions: where this node's queries read (shards and blocks) and the labels added. */
  private querierOptions(): QuerierOptions {
    return {
      pool: this.pool, blocks: this.blockSet, tenantLabelName: this.cfg.tenantLabelName, externalLabels: this.cfg.externalLabels,
      replicaLabels: this.cfg.query.replicaLabels,
    };
  }

  private adminRoutes(): Route[] {
    const api = new MetadataApi({
      ...this.querierOptions(),
      ...(this.peers ? { peers: this.peers } : {}),
      tenantHeader: this.cfg.tenantHeader, defaultTenant: this.cfg.defaultTenant,
    });
    const promql = new PromqlApi({
      ...this.querierOptions(),
      ...(this.peers ? { peers: this.peers } : {}),
      tenantHeader: this.cfg.tenantHeader, defaultTenant: this.cfg.defaultTenant,
      lookbackDeltaMs: this.cfg.query.lookbackDeltaMs, maxSamples: this.cfg.query.maxSamples, timeoutMs: this.cfg.query.timeoutMs,
      ...(this.queryPool ? { workers: this.queryPool } : {}),
      observe: (handler, code, seconds) => this.metrics.queryDuration.observe({ handler, code: String(code) }, seconds),
    });
    return [
      { method: 'GET', path: '/-/healthy', maxBodyBytes: 0, handler: () => ({ status: 200, body: 'Sluice is Healthy.\n' }) },
      {
        method: 'GET', path: '/-/ready', maxBodyBytes: 0,
        handler: () => (this.isReady() ? { status: 200, body: 'Sluice is Ready.\n' } : { status: 503, body: 'Sluice is not ready.\n' }),
      },
      {
        method: 'GET', path: '/metrics', maxBodyBytes: 0,
        handler: async () => ({ status: 200, headers: { 'content-type': this.metrics.contentType }, body: await this.metrics.render() }),
      },
      {
        method: 'POST', path: '/api/v1/admin/tsdb/flush', maxBodyBytes: 1 << 16,
        handler: async () => {
          try {
            const { ulids, uploadError } = await this.flush();
            if (uploadError !== undefined) {
              // Cut, not uploaded: 503 (an operator must not treat the data as shipped), with the ULIDs.
              return {
                status: 503, headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ status: 'error', errorType: 'unavailable', error: `blocks cut but not uploaded (queued, retried): ${uploadError}`, data: { ulids } }),
              };
            }
            return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'success', data: { ulids } }) };
          } catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            return { status: statusOf(e), headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'error', errorType: 'unavailable', error: msg }) };
          }
        },
      },
      ...api.routes(),
      ...promql.routes(),
    ];
  }

  /**
   * stop shuts down gracefully within --http-grace-period, one deadline counted from the call for
   * everything: not ready (/-/ready and remote-write answer 503); the gateways stop accepting and
   * finish their in-flight requests, and StoreAPI reads end; a block cut or upload still running
   * is waited for, then abandoned (a block not uploaded stays on disk and out of
   * thanos.shipper.json, so it is uploaded after the next start); the shards finish their round,
   * fsync and close their WALs. Requests and blocks get the grace period less a reserve
   * (STOP_RESERVE_MS, at most a quarter of it); closing the WALs is always waited for, as it is
   * what makes acknowledged samples durable, but a shard still replaying its WAL at the deadline
   * (it has acknowledged nothing) is ended instead. Resolves once it is safe to exit; a second
   * call returns the same promise.
   */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    const grace = this.cfg.httpGracePeriodMs;
    const began = performance.now();
    const deadline = began + grace;
    const reserve = stopReserveMs(grace);
    /** ms left for requests and blocks. */
    const left = (): number => Math.max(0, deadline - reserve - performance.now());
    if (this.headSeriesTimer !== undefined) clearInterval(this.headSeriesTimer);
    if (this.blockTimer !== undefined) clearInterval(this.blockTimer);
    this.hashringWatcher?.stop();
    Atomics.store(this.nodeCtl, NodeCtl.READY, 0);
    this.log.info('shutting down', { grace_ms: grace });
    // Requests in flight: remote-write on the gateways (each cuts its own off at the deadline:
    // closeGraceMs), StoreAPI reads.
    await Promise.all([this.gateways.stop(left() + reserve / 2), this.store?.stop(left())]);
    // A block cut or upload still running at the deadline is abandoned (see above).
    const blocks = Promise.all([this.blockPass, this.shipper?.stop()]);
    if (!(await within(blocks, left()))) {
      this.log.warn('block cut or upload still running at the shutdown deadline; abandoned (blocks not uploaded yet are uploaded after the next start)', { grace_ms: grace });
    }
    await this.stopShards(deadline);
    // What is left holds no data: bounded by the rest of the grace period.
    const rest = Promise.all([this.queryPool?.close(), this.peers?.close(), this.blockSet.close(), this.bucket.close(), this.checkpoints.close(), this.cutThread.close()]);
    if (!(await within(rest, deadline - performance.now()))) this.log.warn('query threads or object store connections did not close within the grace period; leaving them');
    this.http?.closeAll();
    this.log.info('stopped', { ms: Math.round(performance.now() - began) });
  }

  /**
   * stopShards stops every shard: each finishes its round, fsyncs and closes its WAL. Past the
   * deadline, shards still replaying their WAL (never ready, so nothing acknowledged) are ended;
   * the others are waited for.
   */
  private async stopShards(deadline: number): Promise<void> {
    const replaying = this.pool.shards.filter((s) => {
      const st = Atomics.load(s.ctl, ShardCtl.STATE);
      return s.failed === undefined && (st === ShardState.STARTING || st === ShardState.RESTARTING);
    });
    const stopped = this.pool.stop();
    if (await within(stopped, deadline - performance.now())) return;
    if (replaying.length > 0) {
      this.log.warn('shard still replaying its WAL at the shutdown deadline; ended (it is replayed again at the next start)', { shards: replaying.map((s) => s.index).join(',') });
      await Promise.all(replaying.map((s) => s.worker.terminate()));
    }
    await stopped;
  }
}
