/**
 * Ingest is the remote-write pipeline of one gateway thread, independent of HTTP:
 * check headers → snappy → decode → route → write each shard's batch → wait until every shard
 * that holds part of the request has appended it → one answer.
 *
 * Decoder and router are reused between requests; a request is processed synchronously up to the
 * point where batches sit in the rings, so no two requests share them at once.
 */
import { WriteRequestDecoder } from './wire.js';
import { snappyUncompress, snappyUncompressedLength } from './snappy.js';
import { Router, type RouteLimits, DEFAULT_ROUTE_LIMITS } from './route.js';
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
    if (body.length === 0) throw new SluiceError(ErrorCode.BadRequest, 'empty request body');
    const n = snappyUncompressedLength(body);
    if (n > this.opts.maxDecompressedBytes) {
      throw new SluiceError(ErrorCode.TooLarge, `decompressed body of ${n} bytes is over the limit of ${this.opts.maxDecompressedBytes} bytes`);
    }
    bounds?.checkDecompressed(n, tenant);
    const out0 = snappyUncompress(body);
    // A plain Uint8Array view: subarray() on a Buffer builds a FastBuffer, which costs on the hot path.
    const raw = Object.getPrototypeOf(out0) === Uint8Array.prototype ? out0 : new Uint8Array(out0.buffer, out0.byteOffset, out0.byteLength);
    const d = this.decoder;
    d.decode(raw, raw.length);
    bounds?.checkCounts(d.seriesCount, d.sampleCount, tenant);
    let tb = this.tenantBytes.get(tenant);
    if (tb === undefined) {
      tb = enc.encode(tenant);
      if (this.tenantBytes.size < 10000) this.tenantBytes.set(tenant, tb);
    }
    const r = this.router;
    r.route(d, raw, tb, bounds?.route ?? r.limits);
    const st = r.stats;
    const waits: Promise<ShardResult>[] = [];
    let submitError: unknown;
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
    const out: IngestOutcome = {
      series: st.series, samples: st.samples, appended: 0, newSeriesByShard: 0, duplicate: 0, outOfOrder: 0, tooOld: 0,
      invalidSeries: st.invalidSeries, invalidSamples: st.invalidSamples,
      exemplarsDropped: st.exemplarsDropped, histogramsDropped: st.histogramsDropped, metadataDropped: st.metadataDropped,
      conflict: '',
    };
    for (const res of results) {
      if (res.status === 'rejected') { submitError ??= res.reason; continue; }
      out.appended += res.value.appended;
      out.duplicate += res.value.duplicate;
      out.outOfOrder += res.value.outOfOrder;
      out.tooOld += res.value.tooOld;
      out.newSeriesByShard += res.value.newSeries;
    }
    // Unavailable wins over conflicts (Thanos: a retryable cause makes the whole request retryable).
    if (submitError !== undefined) throw submitError;
    const parts: string[] = [];
    if (out.outOfOrder > 0) parts.push(`add ${out.outOfOrder} samples: out of order sample`);
    if (out.duplicate > 0) parts.push(`add ${out.duplicate} samples: duplicate sample for timestamp`);
    if (out.tooOld > 0) parts.push(`add ${out.tooOld} samples: out of bounds`);
    if (out.invalidSeries > 0) parts.push(`add ${out.invalidSeries} series (${out.invalidSamples} samples): ${st.firstInvalid}`);
    out.conflict = parts.join('; ');
    return out;
  }
}
