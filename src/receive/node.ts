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
import { ShardPool, type ShardEvent } from '../shards/pool.js';
import { GatewayPool } from '../gateway/pool.js';
import { chooseEngine, listen, type Listener, type Route } from '../gateway/http.js';
import { snappyEngine } from '../gateway/snappy.js';
import { NodeMetrics } from '../metrics/node.js';
import { MetadataApi } from '../query/api.js';
import { NODE_CTL_BYTES, NodeCtl } from '../sharedmem/layout.js';
import { Logger } from '../util/log.js';
import type { ReceiveConfig } from './flags.js';

/** MAX_BODY_BYTES bounds a compressed remote-write body; MAX_DECOMPRESSED_BYTES its decoded size. */
const MAX_BODY_BYTES = 32 << 20;
const MAX_DECOMPRESSED_BYTES = 64 << 20;

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
  http: Listener | undefined;
  /** The bound remote-write port. */
  remoteWritePort = 0;

  constructor(cfg: ReceiveConfig, log = new Logger(cfg.logLevel, cfg.logFormat), tuning: NodeTuning = {}) {
    this.cfg = cfg;
    this.log = log;
    mkdirSync(cfg.tsdbPath, { recursive: true });
    const walDir = join(cfg.tsdbPath, 'wal');
    checkWalLayout(walDir, cfg.shards);
    this.pool = new ShardPool({
      shards: cfg.shards, gateways: cfg.gateways, ringBytes: cfg.ringBytes, blockDurationMs: cfg.blockDurationMs,
      walDir, walFsync: cfg.walFsync,
      onEvent: (e) => this.onShardEvent(e),
      ...(tuning.shardRestartMinMs !== undefined ? { restartMinMs: tuning.shardRestartMinMs } : {}),
    });
    this.metrics = new NodeMetrics(this.pool, () => this.gateways.snapshots());
  }

  /** onShardEvent logs what the shard supervisor reports. */
  private onShardEvent(e: ShardEvent): void {
    switch (e.type) {
      case 'failed': this.log.error('shard thread died; restarting it', { shard: e.shard, err: e.error, restart_in_ms: e.restartInMs }); break;
      case 'restarted': {
        const r = e.replay;
        this.log.warn('shard thread restarted', { shard: e.shard, series: r?.series ?? 0, samples: r?.samples ?? 0, ms: Math.round(r?.ms ?? 0), corruptions: r?.corruptions.length ?? 0 });
        break;
      }
      case 'walError': this.log.error('WAL write failed; answering 503 until it succeeds again', { shard: e.shard, err: e.message }); break;
      case 'walRecovered': this.log.info('WAL writes succeed again', { shard: e.shard }); break;
    }
  }

  /** ready tells whether remote-write is accepted. */
  isReady(): boolean {
    return Atomics.load(this.nodeCtl, NodeCtl.READY) === 1;
  }

  /** start brings the node up and resolves once it is ready. */
  async start(): Promise<void> {
    const { engine, warning } = chooseEngine();
    if (warning) this.log.warn(warning);
    // node:http cannot share a port between threads on this Node version: one gateway then.
    const gateways = engine === 'uws' ? this.cfg.gateways : 1;
    // The admin server comes up first so /-/healthy answers (and /-/ready says 503) during start.
    this.http = await listen(engine, this.cfg.httpAddress.host, this.cfg.httpAddress.port, this.adminRoutes(), this.log);
    // Gateways listen first and answer 503 until every shard has replayed its WAL.
    await this.gateways.start({
      gateways, host: this.cfg.remoteWriteAddress.host, port: this.cfg.remoteWriteAddress.port, engine,
      nodeCtl: this.nodeCtlSab, logLevel: this.cfg.logLevel, logFormat: this.cfg.logFormat,
      receive: {
        tenantHeader: this.cfg.tenantHeader, defaultTenant: this.cfg.defaultTenant,
        maxBodyBytes: MAX_BODY_BYTES, maxDecompressedBytes: MAX_DECOMPRESSED_BYTES,
      },
    }, this.pool);
    this.remoteWritePort = this.gateways.port;
    await this.pool.ready();
    for (const sh of this.pool.shards) {
      const r = sh.replay;
      if (!r) continue;
      if (r.series > 0 || r.samples > 0) this.log.info('WAL replayed', { shard: sh.index, series: r.series, samples: r.samples, ms: Math.round(r.ms) });
      if (r.tornTail) this.log.warn('WAL torn tail cut', { shard: sh.index, segment: r.tornTail.segment, offset: r.tornTail.offset });
      for (const c of r.corruptions) this.log.error('WAL corruption skipped', { shard: sh.index, segment: c.segment, offset: c.offset, reason: c.reason });
    }
    Atomics.store(this.nodeCtl, NodeCtl.READY, 1);
    this.log.info('receiver ready', {
      remote_write: `${this.cfg.remoteWriteAddress.host}:${this.remoteWritePort}`,
      http: `${this.cfg.httpAddress.host}:${this.http.port}`,
      shards: this.cfg.shards, gateways, http_engine: engine, snappy: snappyEngine, tsdb_path: this.cfg.tsdbPath,
    });
  }

  private adminRoutes(): Route[] {
    const api = new MetadataApi(this.pool, {
      tenantHeader: this.cfg.tenantHeader, defaultTenant: this.cfg.defaultTenant,
      tenantLabelName: this.cfg.tenantLabelName, externalLabels: this.cfg.externalLabels,
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
      ...api.routes(),
    ];
  }

  /**
   * stop shuts down gracefully: not ready (remote-write answers 503), gateways stop accepting and
   * finish in-flight requests (at most the grace period), then the shards stop.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    Atomics.store(this.nodeCtl, NodeCtl.READY, 0);
    this.log.info('shutting down');
    await this.gateways.stop(this.cfg.httpGracePeriodMs);
    await this.pool.stop();
    this.http?.closeAll();
    this.log.info('stopped');
  }
}
