/**
 * ReceiveHandler answers remote-write requests on a gateway thread: readiness and the thread's
 * budget of buffered body bytes (both decided when the headers arrive), tenant, content
 * type, the tenant's limits (head series, body size, then the write gate: src/gateway/limits.ts),
 * then the ingest pipeline (with a hashring: placement and fan-out, src/gateway/replication.ts);
 * every failure becomes one status here (src/gateway/status.ts), and
 * per-request metrics are updated once.
 */
import { Ingest, checkContentType, type IngestOutcome } from './ingest.js';
import { Replication, type ReplicationOptions } from './replication.js';
import { GatewayLimits, LimitError, type TenantBounds } from './limits.js';
import { DEFAULT_ROUTE_LIMITS } from './route.js';
import { GatewayLimitMetrics } from '../metrics/limits.js';
import type { LimitsConfig } from '../receive/limits.js';
import { resolveTenant } from './tenant.js';
import { RETRY_AFTER_SECONDS, statusOf } from './status.js';
import { NodeCtl } from '../sharedmem/layout.js';
import { STORE_API_PATH } from '../peer/discovery.js';
import { ErrorCode, SluiceError } from '../errors.js';
import type { BodyBudget, HttpReply, HttpRequest, Route } from './http.js';
import type { GatewayMetrics } from '../metrics/gateway.js';
import type { ShardLink } from '../shards/link.js';
import type { Logger } from '../util/log.js';

/** ReceiveOptions configures a handler. */
export interface ReceiveOptions {
  tenantHeader: string;
  defaultTenant: string;
  maxBodyBytes: number;
  maxDecompressedBytes: number;
  /** The limits config (--receive.limits-config-file), if any. */
  limits?: LimitsConfig;
  /** Gateway threads sharing max_concurrency (each gets ceil(max / gateways)); 1 if absent. */
  gateways?: number;
  /** Hashring replication; absent = ingestor only (every write stored here, no per-request cost). */
  replication?: ReplicationOptions;
  /** The bound StoreAPI port, told to peers at GET /api/v1/status/storeapi (multi-node reads). */
  storeApiPort?: number;
  /**
   * Most bytes of remote-write bodies the node buffers at once (--receive.max-inflight-body-bytes),
   * shared evenly by the gateway threads; absent or 0: no bound.
   */
  maxInflightBodyBytes?: number;
  /**
   * How long in-flight remote-write requests may run after the gateway is told to stop before
   * their connections are closed (the part of --http-grace-period they get); absent: no bound.
   */
  closeGraceMs?: number;
}

/** NOT_READY answers writes while the receiver starts (WAL replay) or shuts down. */
const NOT_READY: HttpReply = { status: 503, headers: { 'retry-after': RETRY_AFTER_SECONDS }, body: 'receiver is not ready\n' };

/**
 * ReceiveBodyBudget bounds the bytes of remote-write bodies one gateway thread buffers at once
 * (reserved from their headers, held until their reply is sent). Without it, N uploads of up to
 * 32 MiB each are N × 32 MiB. A request it has no room for is refused with 503 and Retry-After,
 * not 429: it is the receiver's capacity that is short, not the tenant's quota, and Prometheus
 * retries 5xx always but 429 only with `retry_on_http_429`, which is off by default.
 * Owned by one gateway thread (no atomics: http.ts calls it from that thread only).
 */
export class ReceiveBodyBudget implements BodyBudget {
  /** Most bytes held at once; one request is always let in when nothing is held. */
  readonly maxBytes: number;
  /** Bytes held now. */
  held = 0;
  /** Requests refused so far (exported as a counter at scrape time). */
  refused = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  tryTake(bytes: number): boolean {
    if (this.held > 0 && this.held + bytes > this.maxBytes) return false;
    this.held += bytes;
    return true;
  }

  release(bytes: number): void {
    this.held -= bytes;
  }

  refusal(bytes: number, held: number): HttpReply {
    this.refused++;
    const e = new SluiceError(ErrorCode.Unavailable,
      `receiver is busy: buffering this request's body (${bytes + held} bytes) would pass the limit of ${this.maxBytes} bytes ` +
      `of request bodies in flight per gateway thread (${this.held - held} held by other requests; --receive.max-inflight-body-bytes); retry later`);
    return { status: statusOf(e), headers: { 'retry-after': RETRY_AFTER_SECONDS }, body: e.message + '\n' };
  }
}

/** ReceiveHandler serves /api/v1/receive and /api/v1/write. */
export class ReceiveHandler {
  private readonly ingest: Ingest;
  private readonly opts: ReceiveOptions;
  private readonly nodeCtl: Int32Array;
  private readonly metrics: GatewayMetrics;
  private readonly log: Logger;
  /** The limits of this thread; the main thread updates its head-series set (worker.ts). */
  readonly limits: GatewayLimits;
  private readonly limitMetrics: GatewayLimitMetrics | undefined;
  /** Placement and fan-out, when a hashring is configured. */
  readonly replication: Replication | undefined;
  /** New series this thread saw per tenant (summed over threads at scrape time). */
  private readonly tenantSeries = new Map<string, number>();
  /** This thread's share of --receive.max-inflight-body-bytes (none when unbounded). */
  readonly bodyBudget: ReceiveBodyBudget | undefined;

  constructor(links: ShardLink[], nodeCtl: Int32Array, metrics: GatewayMetrics, opts: ReceiveOptions, log: Logger) {
    this.ingest = new Ingest(links, { maxDecompressedBytes: opts.maxDecompressedBytes });
    this.opts = opts;
    this.nodeCtl = nodeCtl;
    this.metrics = metrics;
    this.log = log;
    this.limits = new GatewayLimits(opts.limits, opts.gateways ?? 1, { route: DEFAULT_ROUTE_LIMITS });
    this.limitMetrics = opts.limits === undefined ? undefined : new GatewayLimitMetrics(metrics.registry, this.limits.gate !== undefined);
    this.replication = opts.replication === undefined ? undefined : new Replication(opts.replication, metrics.registry);
    const total = opts.maxInflightBodyBytes ?? 0;
    this.bodyBudget = total > 0 ? new ReceiveBodyBudget(Math.ceil(total / (opts.gateways ?? 1))) : undefined;
    const b = this.bodyBudget;
    if (b !== undefined) metrics.watchBodyBudget(() => b.held, b.maxBytes, () => b.refused);
  }

  /** routes returns the remote-write routes. */
  routes(): Route[] {
    const handler = (req: HttpRequest, body: Uint8Array): Promise<HttpReply> => this.handle(req, body);
    // Readiness is decided when the headers arrive: a request whose body is still uploading when
    // shutdown starts is in flight and is answered in full; one that starts after gets 503.
    const admit = (): HttpReply | undefined => {
      if (Atomics.load(this.nodeCtl, NodeCtl.READY) === 1) return undefined;
      this.metrics.notReady.inc();
      return NOT_READY;
    };
    const budget = this.bodyBudget;
    const routeBounds = {
      ...(budget !== undefined ? { budget } : {}),
      ...(this.opts.closeGraceMs !== undefined ? { closeGraceMs: this.opts.closeGraceMs } : {}),
    };
    // Bodies over every tenant's size_bytes_limit are refused from Content-Length, before reading.
    const largest = this.limits.largestBody();
    const maxBodyBytes = largest > 0 ? Math.min(largest, this.opts.maxBodyBytes) : this.opts.maxBodyBytes;
    const storeApi = JSON.stringify({ port: this.opts.storeApiPort ?? 0 });
    return [
      { method: 'POST', path: '/api/v1/receive', handler, maxBodyBytes, admit, ...routeBounds },
      { method: 'POST', path: '/api/v1/write', handler, maxBodyBytes, admit, ...routeBounds },
      // Peers find this node's StoreAPI here, from the address the hashring names (src/query/peerReads.ts).
      { method: 'GET', path: STORE_API_PATH, maxBodyBytes: 0, handler: () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: storeApi }) },
    ];
  }

  private async handle(req: HttpRequest, body: Uint8Array): Promise<HttpReply> {
    const started = performance.now();
    let tenant = this.opts.defaultTenant;
    let reply: HttpReply;
    let series = 0;
    let samples = 0;
    try {
      tenant = resolveTenant(req.headers, this.opts.tenantHeader, this.opts.defaultTenant);
      checkContentType(req.headers.get('content-type'), req.headers.get('content-encoding'));
      const bounds = this.limits.forTenant(tenant);
      if (bounds !== undefined) {
        this.limits.checkHeadSeries(tenant, bounds);
        bounds.checkBody(body.length, tenant);
      }
      const replica = this.replication === undefined ? 0 : this.replication.replicaOf(req.headers);
      const out = this.limits.gate === undefined ? await this.run(tenant, body, bounds, replica) : await this.gated(tenant, body, bounds, replica);
      series = out.series + out.invalidSeries;
      samples = out.samples + out.invalidSamples;
      // Counted once this node's own write is done, which may be after a quorum answer.
      if (out.localDone === undefined) this.countStored(tenant, out);
      else void out.localDone.then(() => this.countStored(tenant, out));
      reply = out.conflict === '' ? { status: 200 } : { status: 409, body: out.conflict + '\n' };
    } catch (e) {
      if (e instanceof LimitError && this.limitMetrics !== undefined) {
        if (e.code === ErrorCode.TooManyRequests) this.limitMetrics.headSeriesLimited.inc({ tenant });
        else this.limitMetrics.limitsHit.observe({ tenant, limit: e.limit }, e.over);
      }
      const status = statusOf(e);
      if (status === 500) this.log.error('remote-write failed', { tenant, err: e instanceof Error ? e.message : String(e) });
      const headers: Record<string, string> = status === 503 || status === 429 ? { 'retry-after': RETRY_AFTER_SECONDS } : {};
      reply = { status, headers, body: (e instanceof Error ? e.message : String(e)) + '\n' };
    }
    const code = String(reply.status);
    const m = this.metrics;
    m.httpDuration.observe({ handler: 'receive', code, method: 'post', tenant }, (performance.now() - started) / 1000);
    m.httpRequests.inc({ handler: 'receive', code, method: 'post', tenant });
    m.writeTimeseries.observe({ code, tenant }, series);
    m.writeSamples.observe({ code, tenant }, samples);
    return reply;
  }

  /** countStored adds what a request stored and refused to the tenant's metrics. */
  private countStored(tenant: string, out: IngestOutcome): void {
    const m = this.metrics;
    if (out.appended > 0) m.samplesAppended.inc({ tenant, type: 'float' }, out.appended);
    if (out.newSeriesByShard > 0) {
      const n = (this.tenantSeries.get(tenant) ?? 0) + out.newSeriesByShard;
      this.tenantSeries.set(tenant, n);
      m.headSeries.set({ tenant }, n);
    }
    if (out.outOfOrder > 0) m.rejectedSamples.inc({ tenant, reason: 'out_of_order' }, out.outOfOrder);
    if (out.duplicate > 0) m.rejectedSamples.inc({ tenant, reason: 'duplicate' }, out.duplicate);
    if (out.tooOld > 0) m.rejectedSamples.inc({ tenant, reason: 'out_of_bounds' }, out.tooOld);
    if (out.invalidSamples > 0) m.rejectedSamples.inc({ tenant, reason: 'invalid_labels' }, out.invalidSamples);
    if (out.exemplarsDropped > 0) m.dropped.inc({ kind: 'exemplar' }, out.exemplarsDropped);
    if (out.histogramsDropped > 0) m.dropped.inc({ kind: 'histogram' }, out.histogramsDropped);
    if (out.metadataDropped > 0) m.dropped.inc({ kind: 'metadata' }, out.metadataDropped);
  }

  /** run ingests one request: locally, or placed and fanned out when a hashring is configured. */
  private run(tenant: string, body: Uint8Array, bounds: TenantBounds | undefined, replica: number): Promise<IngestOutcome> {
    return this.replication === undefined ? this.ingest.write(tenant, body, bounds) : this.replication.write(this.ingest, tenant, body, bounds, replica);
  }

  /**
   * gated runs the ingest inside the write gate (max_concurrency): it waits for a slot, or fails
   * with 503 when too many wait; the slot is released however the ingest ends.
   */
  private async gated(tenant: string, body: Uint8Array, bounds: TenantBounds | undefined, replica: number): Promise<IngestOutcome> {
    const gate = this.limits.gate!;
    const m = this.limitMetrics!;
    const waitStart = performance.now();
    m.gateTotal!.inc();
    const wait = gate.enter();
    if (wait !== undefined) {
      try { await wait; } finally { m.gateDuration!.observe((performance.now() - waitStart) / 1000); }
    } else m.gateDuration!.observe(0);
    m.gateInFlight!.inc();
    try {
      return await this.run(tenant, body, bounds, replica);
    } finally {
      m.gateInFlight!.dec();
      gate.leave();
    }
  }
}
