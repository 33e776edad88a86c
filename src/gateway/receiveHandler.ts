/**
 * ReceiveHandler answers remote-write requests on a gateway thread: readiness, tenant, content
 * type, then the ingest pipeline; every failure becomes one status here (src/gateway/status.ts),
 * and per-request metrics are updated once.
 */
import { Ingest, checkContentType } from './ingest.js';
import { resolveTenant } from './tenant.js';
import { RETRY_AFTER_SECONDS, statusOf } from './status.js';
import { NodeCtl } from '../sharedmem/layout.js';
import { ErrorCode, SluiceError } from '../errors.js';
import type { HttpReply, HttpRequest, Route } from './http.js';
import type { GatewayMetrics } from '../metrics/gateway.js';
import type { ShardLink } from '../shards/link.js';
import type { Logger } from '../util/log.js';

/** ReceiveOptions configures a handler. */
export interface ReceiveOptions {
  tenantHeader: string;
  defaultTenant: string;
  maxBodyBytes: number;
  maxDecompressedBytes: number;
}

/** ReceiveHandler serves /api/v1/receive and /api/v1/write. */
export class ReceiveHandler {
  private readonly ingest: Ingest;
  private readonly opts: ReceiveOptions;
  private readonly nodeCtl: Int32Array;
  private readonly metrics: GatewayMetrics;
  private readonly log: Logger;
  /** New series this thread saw per tenant (summed over threads at scrape time). */
  private readonly tenantSeries = new Map<string, number>();
  inFlight = 0;
  private idle: (() => void) | undefined;

  constructor(links: ShardLink[], nodeCtl: Int32Array, metrics: GatewayMetrics, opts: ReceiveOptions, log: Logger) {
    this.ingest = new Ingest(links, { maxDecompressedBytes: opts.maxDecompressedBytes });
    this.opts = opts;
    this.nodeCtl = nodeCtl;
    this.metrics = metrics;
    this.log = log;
  }

  /** routes returns the remote-write routes. */
  routes(): Route[] {
    const handler = (req: HttpRequest, body: Uint8Array): Promise<HttpReply> => this.handle(req, body);
    return [
      { method: 'POST', path: '/api/v1/receive', handler, maxBodyBytes: this.opts.maxBodyBytes },
      { method: 'POST', path: '/api/v1/write', handler, maxBodyBytes: this.opts.maxBodyBytes },
    ];
  }

  /** drained resolves once no request is in flight. */
  drained(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((r) => { this.idle = r; });
  }

  private async handle(req: HttpRequest, body: Uint8Array): Promise<HttpReply> {
    const started = performance.now();
    let tenant = this.opts.defaultTenant;
    let reply: HttpReply;
    let series = 0;
    let samples = 0;
    this.inFlight++;
    try {
      if (Atomics.load(this.nodeCtl, NodeCtl.READY) !== 1) throw new SluiceError(ErrorCode.Unavailable, 'receiver is not ready');
      tenant = resolveTenant(req.headers, this.opts.tenantHeader, this.opts.defaultTenant);
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
      if (this.inFlight === 0 && this.idle) { this.idle(); this.idle = undefined; }
    }
    const code = String(reply.status);
    const m = this.metrics;
    m.httpDuration.observe({ handler: 'receive', code, method: 'post', tenant }, (performance.now() - started) / 1000);
    m.httpRequests.inc({ handler: 'receive', code, method: 'post', tenant });
    m.writeTimeseries.observe({ code, tenant }, series);
    m.writeSamples.observe({ code, tenant }, samples);
    return reply;
  }
}
