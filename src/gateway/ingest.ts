/**
 * Ingest is the remote-write pipeline of one gateway thread, independent of HTTP:
 * check headers → snappy → decode → route → write each shard's batch → wait until every shard
 * that holds part of the request has appended it → one answer.
 *
 * Decoder and router are reused between requests; a request is processed synchronously up to the
 * point where batches sit in the rings, so no two requests share them at once. With a hashring,
 * src/gateway/replication.ts drives the same steps (decode, place, writePlaced) around a fan-out.
 */
import { WriteRequestDecoder } from './wire.js';
import { snappyUncompress, snappyUncompressedLength } from './snappy.js';
import { Router, type PlacedSeries, type RouteLimits, DEFAULT_ROUTE_LIMITS } from './route.js';
import { ErrorCode, SluiceError } from '../errors.js';
import type { ShardLink, ShardResult } from '../shards/link.js';
import type { TenantBounds } from './limits.js';

/** IngestOptions bounds a request. */
export interface IngestOptions {
  /** Largest decompressed body, bytes (413 above). */
  maxDecompressedBytes: number;
  limits?: RouteLimits;
}

/** IngestOutcome is the request's result, for the answer and for metrics. */
export interface IngestOutcome {
  series: number;
  samples: number;
  appended: number;
  newSeriesByShard: number;
  duplicate: number;
  outOfOrder: number;
  tooOld: number;
  invalidSeries: number;
  invalidSamples: number;
  exemplarsDropped: number;
  histogramsDropped: number;
  metadataDropped: number;
  /** Set when some samples were refused: the 409 message. */
  conflict: string;
  /**
   * Set when the answer came at quorum before this node's own write finished: settles when it
   * has, and only then are the counts above (appended, refused…) complete.
   */
  localDone?: Promise<void>;
}

const enc = new TextEncoder();

/** checkContentType accepts remote-write 1.0 bodies; anything else is 415. */
export function checkContentType(contentType: string | undefined, contentEncoding: string | undefined): void {
  const ct = (contentType ?? '').replace(/\s+/g, '').toLowerCase();
  if (ct !== '' && ct !== 'application/x-protobuf' && ct !== 'application/x-protobuf;proto=prometheus.writerequest') {
    if (ct === 'application/x-protobuf;proto=io.prometheus.write.v2.request') {
      throw new SluiceError(ErrorCode.UnsupportedMediaType, 'remote-write 2.0 (io.prometheus.write.v2.Request) is not supported yet; send remote-write 1.0 (prometheus.WriteRequest)');
    }
    throw new SluiceError(ErrorCode.UnsupportedMediaType, `unsupported Content-Type ${JSON.stringify(contentType)}; expected application/x-protobuf`);
  }
  const ce = (contentEncoding ?? '').trim().toLowerCase();
  if (ce !== 'snappy') {
    throw new SluiceError(ErrorCode.UnsupportedMediaType, `unsupported Content-Encoding ${JSON.stringify(contentEncoding ?? '')}; expected snappy`);
  }
}

/** Ingest runs the pipeline for one gateway thread. */
export class Ingest {
  private readonly links: ShardLink[];
  private readonly decoder = new WriteRequestDecoder();
  private readonly router: Router;
  private readonly opts: IngestOptions;
  private readonly tenantBytes = new Map<string, Uint8Array>();
  /** The decoded body of the current request. */
  private raw: Uint8Array = new Uint8Array(0);

  constructor(links: ShardLink[], opts: IngestOptions) {
    this.links = links;
    this.opts = opts;
    this.router = new Router(links.length, opts.limits ?? DEFAULT_ROUTE_LIMITS);
  }

  /**
   * write ingests one snappy-compressed WriteRequest for `tenant`, within the tenant's `bounds`
   * of the limits config if one is loaded (decompressed size, series and samples: 413; labels:
   * 400, checked before anything reaches a shard). Throws coded errors.
   */
  async write(tenant: string, body: Uint8Array, bounds?: TenantBounds): Promise<IngestOutcome> {
    const tb = this.decode(tenant, body, bounds);
    const r = this.router;
    r.route(this.decoder, this.raw, tb, bounds?.route ?? r.limits);
    const out = this.newOutcome();
    // Unavailable wins over conflicts (Thanos: a retryable cause makes the whole request retryable).
    const submitError = await this.submitBatches(out);
    if (submitError !== undefined) throw submitError;
    out.conflict = conflictMessage(out, this.router.stats.firstInvalid);
    return out;
  }

  /**
   * decode checks, decompresses and decodes a body into the reusable decoder (the decoded bytes
   * stay in `raw` until the next request) and returns the tenant's UTF-8 bytes.
   */
  decode(tenant: string, body: Uint8Array, bounds?: TenantBounds): Uint8Array {
    if (body.length === 0) throw new SluiceError(ErrorCode.BadRequest, 'empty request body');
    const n = snappyUncompressedLength(body);
    if (n > this.opts.maxDecompressedBytes) {
      throw new SluiceError(ErrorCode.TooLarge, `decompressed body of ${n} bytes is over the limit of ${this.opts.maxDecompressedBytes} bytes`);
    }
    bounds?.checkDecompressed(n, tenant);
    const out0 = snappyUncompress(body);
    // A plain Uint8Array view: subarray() on a Buffer builds a FastBuffer, which costs on the hot path.
    const raw = Object.getPrototypeOf(out0) === Uint8Array.prototype ? out0 : new Uint8Array(out0.buffer, out0.byteOffset, out0.byteLength);
    this.raw = raw;
    const d = this.decoder;
    d.decode(raw, raw.length);
    bounds?.checkCounts(d.seriesCount, d.sampleCount, tenant);
    let tb = this.tenantBytes.get(tenant);
    if (tb === undefined) {
      tb = enc.encode(tenant);
      if (this.tenantBytes.size < 10000) this.tenantBytes.set(tenant, tb);
    }
    return tb;
  }

  /**
   * place validates and hashes the decoded request's series (after decode()) into `placed`
   * without writing anything; invalid series are counted in `router.stats`.
   */
  place(tb: Uint8Array, placed: PlacedSeries, bounds?: TenantBounds): void {
    const r = this.router;
    r.route(this.decoder, this.raw, tb, bounds?.route ?? r.limits, placed);
  }

  /**
   * writePlaced writes the placed series `series` to the local shards and adds the shards' counts
   * to `out`. Synchronous until every batch sits in a ring (the decoder and `placed` may be reused
   * afterwards); resolves with the local conflict message ('' if none) or rejects with the first
   * submit error (Unavailable).
   */
  async writePlaced(tb: Uint8Array, placed: PlacedSeries, series: Int32Array, out: IngestOutcome): Promise<string> {
    this.router.routeSubset(this.decoder, tb, placed, series);
    const before = out.outOfOrder + out.duplicate + out.tooOld;
    const o0 = out.outOfOrder, d0 = out.duplicate, t0 = out.tooOld;
    const err = await this.submitBatches(out);
    if (err !== undefined) throw err;
    if (out.outOfOrder + out.duplicate + out.tooOld === before) return '';
    return conflictMessage({ outOfOrder: out.outOfOrder - o0, duplicate: out.duplicate - d0, tooOld: out.tooOld - t0, invalidSeries: 0, invalidSamples: 0 }, '');
  }

  /** newOutcome returns an outcome holding the router's counts of the current request. */
  newOutcome(): IngestOutcome {
    const st = this.router.stats;
    return {
      series: st.series, samples: st.samples, appended: 0, newSeriesByShard: 0, duplicate: 0, outOfOrder: 0, tooOld: 0,
      invalidSeries: st.invalidSeries, invalidSamples: st.invalidSamples,
      exemplarsDropped: st.exemplarsDropped, histogramsDropped: st.histogramsDropped, metadataDropped: st.metadataDropped,
      conflict: '',
    };
  }

  /** The first invalid label set's reason of the current request ('' if none). */
  get firstInvalid(): string {
    return this.router.stats.firstInvalid;
  }

  /** The decoder of the current request (valid until the next decode()). */
  get decoded(): WriteRequestDecoder {
    return this.decoder;
  }

  /**
   * submitBatches hands every non-empty batch to its shard (synchronously), waits for all and
   * adds their counts to `out`; returns the first submit error instead of throwing it, after
   * every submitted batch settled.
   */
  private async submitBatches(out: IngestOutcome): Promise<unknown> {
    const r = this.router;
    const waits: Promise<ShardResult>[] = [];
    let submitError: unknown;
    // A batch too large for its ring refuses the whole request before any of it is written.
    for (let i = 0; i < r.batches.length; i++) if (r.batches[i]!.series !== 0) this.links[i]!.checkFits(r.batches[i]!.len);
    for (let i = 0; i < r.batches.length; i++) {
      const b = r.batches[i]!;
      if (b.series === 0) continue;
      try {
        waits.push(this.links[i]!.submit(b.bytes, b.len, b.u32));
      } catch (e) {
        submitError ??= e;
      }
    }
    const results = await Promise.allSettled(waits);
    for (const res of results) {
      if (res.status === 'rejected') { submitError ??= res.reason; continue; }
      out.appended += res.value.appended;
      out.duplicate += res.value.duplicate;
      out.outOfOrder += res.value.outOfOrder;
      out.tooOld += res.value.tooOld;
      out.newSeriesByShard += res.value.newSeries;
    }
    return submitError;
  }
}

/** ConflictCounts are the counts a 409 message is built from. */
type ConflictCounts = Pick<IngestOutcome, 'outOfOrder' | 'duplicate' | 'tooOld' | 'invalidSeries' | 'invalidSamples'>;

/** conflictMessage renders refused samples per class ('' when nothing was refused). */
export function conflictMessage(c: ConflictCounts, firstInvalid: string): string {
  const parts: string[] = [];
  if (c.outOfOrder > 0) parts.push(`add ${c.outOfOrder} samples: out of order sample`);
  if (c.duplicate > 0) parts.push(`add ${c.duplicate} samples: duplicate sample for timestamp`);
  if (c.tooOld > 0) parts.push(`add ${c.tooOld} samples: out of bounds`);
  if (c.invalidSeries > 0) parts.push(`add ${c.invalidSeries} series (${c.invalidSamples} samples): ${firstInvalid}`);
  return parts.join('; ');
}
