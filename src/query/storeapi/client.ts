/**
 * StoreClient: calls a Thanos StoreAPI / InfoAPI over gRPC (another Sluice node, a Thanos
 * Receive, Sidecar or Store Gateway). Used for multi-node reads; tests use it against
 * StoreServer. Series streams decoded series with their raw XOR chunk bytes; a series a store
 * split over several frames comes out as one item. It touches nothing but its own channel.
 *
 * Errors are StoreApiError (a SluiceError carrying the gRPC status code); an aborted call
 * rejects with the AbortSignal's reason.
 */
import * as grpc from '@grpc/grpc-js';
import { SluiceError, ErrorCode } from '../../errors.js';
import type { Matcher } from '../../model/matchers.js';
import {
  CODEC, ChunkEncoding, METHOD, PartialResponseStrategy, clampInt64, matcherToWire, toNum,
  type InfoResponseMsg, type LabelMsg, type LabelNamesRequestMsg, type SeriesMsg, type SeriesResponseMsg,
} from './schema.js';

/** StoreApiError is a failed StoreAPI call; grpcCode is the gRPC status code. */
export class StoreApiError extends SluiceError {
  readonly grpcCode: grpc.status;
  constructor(grpcCode: grpc.status, message: string, options?: { cause?: unknown }) {
    super(codeOf(grpcCode), message, options);
    this.grpcCode = grpcCode;
    this.name = 'StoreApiError';
  }
}

/** codeOf maps a gRPC status code back to our error codes. */
function codeOf(c: grpc.status): ErrorCode {
  switch (c) {
    case grpc.status.INVALID_ARGUMENT: return ErrorCode.BadRequest;
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
    case grpc.status.CANCELLED: return ErrorCode.Unavailable;
    case grpc.status.RESOURCE_EXHAUSTED: return ErrorCode.TooManyRequests;
    default: return ErrorCode.Internal;
  }
}

/** StoreSeriesRequest is what series() asks for. */
export interface StoreSeriesRequest {
  minTime: number;
  maxTime: number;
  matchers: Matcher[];
  withoutReplicaLabels?: string[];
  skipChunks?: boolean;
  /** At most this many series (0 or absent: no limit). */
  limit?: number;
  /** Ask the store to send this many series per frame (SeriesBatch). */
  batchSize?: number;
  /** true: a store that fails in part answers with warnings; default false: the call fails. */
  partialResponse?: boolean;
}

/** StoreChunk is one raw XOR chunk (TSDB chunk bytes: 2-byte count + bit stream) and its time range. */
export interface StoreChunk { minT: number; maxT: number; data: Uint8Array }

/** StoreSeries is one series: sorted labels and its XOR chunks. */
export interface StoreSeries { labels: [string, string][]; chunks: StoreChunk[] }

/** StoreLabelsRequest is what labelNames() and labelValues() ask for. */
export interface StoreLabelsRequest {
  start: number;
  end: number;
  matchers?: Matcher[];
  limit?: number;
  withoutReplicaLabels?: string[];
  partialResponse?: boolean;
  /** When given, the store's warnings are appended here. */
  warnings?: string[];
}

/** StoreInfo is the answer of Info. */
export interface StoreInfo {
  componentType: string;
  labelSets: [string, string][][];
  store?: {
    minTime: number;
    maxTime: number;
    supportsSharding: boolean;
    supportsWithoutReplicaLabels: boolean;
    tsdbInfos: { labels: [string, string][]; minTime: number; maxTime: number }[];
  };
}

/** MAX_MESSAGE_BYTES bounds one received message. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** DEFAULT_TIMEOUT_MS is the deadline of one call (the default --query.timeout). */
const DEFAULT_TIMEOUT_MS = 120_000;

const fromLabelMsgs = (ls: LabelMsg[] | null | undefined): [string, string][] => (ls ?? []).map((l) => [l.name, l.value]);

function sameLabels(a: [string, string][], b: [string, string][]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]![0] !== b[i]![0] || a[i]![1] !== b[i]![1]) return false;
  return true;
}

/** labelsRequest is the part LabelNames and LabelValues requests share. */
function labelsRequest(req: StoreLabelsRequest): LabelNamesRequestMsg {
  return {
    start: clampInt64(req.start),
    end: clampInt64(req.end),
    matchers: (req.matchers ?? []).map(matcherToWire),
    limit: req.limit ?? 0,
    withoutReplicaLabels: req.withoutReplicaLabels ?? [],
    partialResponseStrategy: req.partialResponse === true ? PartialResponseStrategy.WARN : PartialResponseStrategy.ABORT,
  };
}

/** StoreClient calls one StoreAPI endpoint. */
export class StoreClient {
  private readonly client: grpc.Client;
  private readonly timeoutMs: number;
  private readonly address: string;

  constructor(address: string, opts?: { timeoutMs?: number }) {
    this.address = address;
    this.timeoutMs = opts?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    });
  }

  private deadline(): Date {
    return new Date(Date.now() + this.timeoutMs);
  }

  private fail(e: unknown, method: string, signal?: AbortSignal): unknown {
    if (signal?.aborted) return signal.reason;
    const se = e as Partial<grpc.ServiceError>;
    if (typeof se.code === 'number') {
      return new StoreApiError(se.code, `${method} ${this.address}: ${grpc.status[se.code] ?? se.code}: ${se.details ?? se.message ?? ''}`, { cause: e });
    }
    return new StoreApiError(grpc.status.INTERNAL, `${method} ${this.address}: ${(e as Error).message}`, { cause: e });
  }

  /**
   * series streams a Series call; each item is a series (labels sorted, chunks as sent) or a
   * warning. Breaking out of the loop or aborting `signal` cancels the call.
   */
  async *series(req: StoreSeriesRequest, signal?: AbortSignal): AsyncIterable<StoreSeries | { warning: string }> {
    signal?.throwIfAborted();
    const call = this.client.makeServerStreamRequest(METHOD.Series, CODEC.seriesReq.ser, CODEC.seriesRes.de, {
      minTime: clampInt64(req.minTime),
      maxTime: clampInt64(req.maxTime),
      matchers: req.matchers.map(matcherToWire),
      skipChunks: req.skipChunks === true,
      withoutReplicaLabels: req.withoutReplicaLabels ?? [],
      limit: req.limit ?? 0,
      responseBatchSize: req.batchSize ?? 0,
      partialResponseStrategy: req.partialResponse === true ? PartialResponseStrategy.WARN : PartialResponseStrategy.ABORT,
    }, new grpc.Metadata(), { deadline: this.deadline() });
    const onAbort = (): void => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    // One series is held back so that frames continuing it (same labels) can be joined.
    let held: StoreSeries | undefined;
    const skipped = { n: 0, first: '' };
    try {
      for await (const m of call as AsyncIterable<SeriesResponseMsg>) {
        let list: SeriesMsg[];
        if (m.series) list = [m.series];
        else if (m.batch) list = m.batch.series;
        else if (typeof m.warning === 'string' && m.warning !== '') {
          yield { warning: m.warning };
          continue;
        } else continue; // hints or a field we do not know
        for (const sm of list) {
          const s = toSeries(sm, skipped);
          if (held !== undefined && sameLabels(held.labels, s.labels)) {
            held.chunks.push(...s.chunks);
            continue;
          }
          if (held !== undefined) yield held;
          held = s;
        }
      }
      if (held !== undefined) yield held;
      if (skipped.n > 0) yield { warning: `${this.address}: skipped ${skipped.n} non-XOR chunks (first in ${skipped.first})` };
    } catch (e) {
      throw this.fail(e, 'Series', signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      call.cancel();
    }
  }

  /** unary runs a unary call with a deadline. */
  private unary<Req, Res>(method: string, ser: (v: Req) => Buffer, de: (b: Buffer) => Res, arg: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.client.makeUnaryRequest(method, ser, de, arg, new grpc.Metadata(), { deadline: this.deadline() }, (err, v) => {
        if (err || v === undefined) reject(this.fail(err ?? new Error('empty response'), method));
        else resolve(v);
      });
    });
  }

  /** labelNames returns the label names of the series matching the request, sorted. */
  async labelNames(req: StoreLabelsRequest): Promise<string[]> {
    const res = await this.unary(METHOD.LabelNames, CODEC.namesReq.ser, CODEC.namesRes.de, labelsRequest(req));
    req.warnings?.push(...res.warnings);
    return [...res.names];
  }

  /** labelValues returns the values of label `label` of the series matching the request, sorted. */
  async labelValues(label: string, req: StoreLabelsRequest): Promise<string[]> {
    const res = await this.unary(METHOD.LabelValues, CODEC.valuesReq.ser, CODEC.valuesRes.de, { label, ...labelsRequest(req) });
    req.warnings?.push(...res.warnings);
    return [...res.values];
  }

  /** info calls thanos.info.Info/Info. */
  async info(): Promise<StoreInfo> {
    const r: InfoResponseMsg = await this.unary(METHOD.Info, CODEC.infoReq.ser, CODEC.infoRes.de, {});
    const out: StoreInfo = { componentType: r.componentType, labelSets: r.labelSets.map((s) => fromLabelMsgs(s.labels)) };
    if (r.store) {
      out.store = {
        minTime: toNum(r.store.minTime),
        maxTime: toNum(r.store.maxTime),
        supportsSharding: r.store.supportsSharding,
        supportsWithoutReplicaLabels: r.store.supportsWithoutReplicaLabels,
        tsdbInfos: r.store.tsdbInfos.map((t) => ({ labels: fromLabelMsgs(t.labels?.labels), minTime: toNum(t.minTime), maxTime: toNum(t.maxTime) })),
      };
    }
    return out;
  }

  /**
   * connect opens the channel's connection now rather than at the first call; resolves once it
   * is ready, rejects when it is not within `ms`.
   */
  connect(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + ms, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** close closes the channel; calls in flight are cancelled. */
  close(): void {
    this.client.close();
  }
}

/** toSeries converts one Series message, leaving out (and noting) chunks that are not raw XOR. */
function toSeries(sm: SeriesMsg, skipped: { n: number; first: string }): StoreSeries {
  const labels = fromLabelMsgs(sm.labels);
  const chunks: StoreChunk[] = [];
  for (const c of sm.chunks) {
    if (!c.raw || c.raw.type !== ChunkEncoding.XOR) {
      if (skipped.n++ === 0) skipped.first = JSON.stringify(Object.fromEntries(labels));
      continue;
    }
    chunks.push({ minT: toNum(c.minTime), maxT: toNum(c.maxTime), data: c.raw.data });
  }
  return { labels, chunks };
}
