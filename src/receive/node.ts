/**
 * ReceiveNode wires one Sluice receiver: the shard pool, the remote-write gateway on
 * --remote-write.address, and the admin/read HTTP server on --http-address. It owns start-up
 * order (shards first, then listeners, then ready) and graceful shutdown (not ready, stop
 * accepting, finish in-flight requests, stop shards).
 */
import { mkdirSync } from 'node:fs';
import { ShardPool } from '../shards/pool.js';
import { Ingest, checkContentType } from '../gateway/ingest.js';
import { chooseEngine, listen, type HttpReply, type HttpRequest, type Listener, type Route } from '../gateway/http.js';
import { resolveTenant } from '../gateway/tenant.js';
import { RETRY_AFTER_SECONDS, statusOf } from '../gateway/status.js';
import { snappyEngine } from '../gateway/snappy.js';
import { ReceiveMetrics } from '../metrics/registry.js';
import { MetadataApi } from '../query/api.js';
import { ErrorCode, SluiceError } from '../errors.js';
import { Logger } from '../util/log.js';
import type { ReceiveConfig } from './flags.js';

/** MAX_BODY_BYTES bounds a compressed remote-write body; MAX_DECOMPRESSED_BYTES its decoded size. */
const MAX_BODY_BYTES = 32 << 20;
const MAX_DECOMPRESSED_BYTES = 64 << 20;

/** ReceiveNode is a running receiver. */
export class ReceiveNode {
  readonly cfg: ReceiveConfig;
  readonly log: Logger;
  readonly pool: ShardPool;
  readonly metrics: ReceiveMetrics;
  private readonly ingest: Ingest;
  private ready = false;
  private stopping = false;
  private inFlight = 0;
  private idle: (() => void) | undefined;
  remoteWrite: Listener | undefined;
  http: Listener | undefined;
  /** Cumulative new series per tenant (the head keeps every series until blocks land). */
  private readonly tenantSeries = new Map<string, number>();

  constructor(cfg: ReceiveConfig, log = new Logger(cfg.logLevel, cfg.logFormat)) {
    this.cfg = cfg;
    this.log = log;
    mkdirSync(cfg.tsdbPath, { recursive: true });
    this.pool = new ShardPool({ shards: cfg.shards, ringBytes: cfg.ringBytes, blockDurationMs: cfg.blockDurationMs });
    this.metrics = new ReceiveMetrics(this.pool);
    this.ingest = new Ingest(this.pool, { maxDecompressedBytes: MAX_DECOMPRESSED_BYTES });
  }

  /** start brings the node up and resolves once it is ready. */
  async start(): Promise<void> {
    const { engine, warning } = chooseEngine();
    if (warning) this.log.warn(warning);
    // The admin server comes up first so /-/healthy answers (and /-/ready says 503) during start.
    this.http = await listen(engine, this.cfg.httpAddress.host, this.cfg.httpAddress.port, this.adminRoutes(), this.log);
    await this.pool.ready();
    this.remoteWrite = await listen(engine, this.cfg.remoteWriteAddress.host, this.cfg.remoteWriteAddress.port, this.writeRoutes(), this.log);
    this.ready = true;
    this.log.info('receiver ready', {
      remote_write: `${this.cfg.remoteWriteAddress.host}:${this.remoteWrite.port}`,
      http: `${this.cfg.httpAddress.host}:${this.http.port}`,
      shards: this.cfg.shards, http_engine: engine, snappy: snappyEngine, tsdb_path: this.cfg.tsdbPath,
    });
  }

  private writeRoutes(): Route[] {
    const handler = (req: HttpRequest, body: Uint8Array): Promise<HttpReply> => this.handleWrite(req, body);
    return [
      { method: 'POST', path: '/api/v1/receive', handler, maxBodyBytes: MAX_BODY_BYTES },
      { method: 'POST', path: '/api/v1/write', handler, maxBodyBytes: MAX_BODY_BYTES },
    ];
  }

  /** handleWrite answers one remote-write request; every failure becomes one status here. */
  private async handleWrite(req: HttpRequest, body: Uint8Array): Promise<HttpReply> {
    const started = performance.now();
    let tenant = this.cfg.defaultTenant;
    let reply: HttpReply;
    let series = 0;
    let samples = 0;
    this.inFlight++;
    try {
      if (!this.ready || this.stopping) throw new SluiceError(ErrorCode.Unavailable, 'receiver is not ready');
      tenant = resolveTenant(req.headers, this.cfg.tenantHeader, this.cfg.defaultTenant);
      checkContentType(req.headers.get('content-type'), req.headers.get('content-encoding'));
      const out = await this.ingest.write(tenant, body);
      series = out.series + out.invalidSeries;
      samples = out.samples + out.invalidSamples;
      const m = this.metrics;
      if (out.appended > 0) m.samplesAppended.inc({ tenant, type: 'float' }, out.appended);
      if (out.newSeriesByShard > 0) {
        const n = (this.tenantSeries.get(tenant) ?? 0) + out.newSeriesByShard;
        this.tenantSeries.set(tenant, n);
        m.headSeries.set({ tenant }, n);
      }
      if (out.outOfOrder > 0) m.rejectedSamples.inc({ tenant, reason: 'out_of_order' }, out.outOfOrder);
      if (out.duplicate > 0) m.rejectedSamples.inc({ tenant, reason: 'duplicate' }, out.duplicate);
      if (out.invalidSamples > 0) m.rejectedSamples.inc({ tenant, reason: 'invalid_labels' }, out.invalidSamples);
      if (out.exemplarsDropped > 0) m.dropped.inc({ kind: 'exemplar' }, out.exemplarsDropped);
      if (out.histogramsDropped > 0) m.dropped.inc({ kind: 'histogram' }, out.histogramsDropped);
      if (out.metadataDropped > 0) m.dropped.inc({ kind: 'metadata' }, out.metadataDropped);
      reply = out.conflict === '' ? { status: 200 } : { status: 409, body: out.conflict + '\n' };
    } catch (e) {
      const status = statusOf(e);
      if (status === 500) this.log.error('remote-write failed', { tenant, err: e instanceof Error ? e.message : String(e) });
      const headers: Record<string, string> = status === 503 || status === 429 ? { 'retry-after': RETRY_AFTER_SECONDS } : {};
      reply = { status, headers, body: (e instanceof Error ? e.message : String(e)) + '\n' };
    } finally {
      this.inFlight--;
      if (this.inFlight === 0 && this.idle) this.idle();
    }
    const code = String(reply.status);
    const m = this.metrics;
    m.httpDuration.observe({ handler: 'receive', code, method: 'post', tenant }, (performance.now() - started) / 1000);
    m.httpRequests.inc({ handler: 'receive', code, method: 'post', tenant });
    m.writeTimeseries.observe({ code, tenant }, series);
    m.writeSamples.observe({ code, tenant }, samples);
    return reply;
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
        handler: () => (this.ready && !this.stopping ? { status: 200, body: 'Sluice is Ready.\n' } : { status: 503, body: 'Sluice is not ready.\n' }),
      },
      {
        method: 'GET', path: '/metrics', maxBodyBytes: 0,
        handler: async () => ({ status: 200, headers: { 'content-type': this.metrics.registry.contentType }, body: await this.metrics.registry.metrics() }),
      },
      ...api.routes(),
    ];
  }

  /**
   * stop shuts down gracefully: not ready, close listeners, wait for in-flight requests (at most
   * the grace period), then stop the shards.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.ready = false;
    this.log.info('shutting down', { in_flight: this.inFlight });
    this.remoteWrite?.close();
    if (this.inFlight > 0) {
      await Promise.race([
        new Promise<void>((r) => { this.idle = r; }),
        new Promise<void>((r) => setTimeout(r, this.cfg.httpGracePeriodMs).unref()),
      ]);
    }
    await this.pool.stop();
    this.http?.close();
    this.log.info('stopped');
  }
}
