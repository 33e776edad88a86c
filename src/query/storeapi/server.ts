/**
 * StoreServer: the Thanos StoreAPI (`thanos.Store` Series, LabelNames, LabelValues) and InfoAPI
 * (`thanos.info.Info/Info`) over gRPC, so Thanos Query (and other Sluice nodes, client.ts) can
 * read this node as they read a Thanos Receive on `--grpc-address`. What is served, and which
 * request fields are honoured, is written down in docs/format/storeapi.md.
 *
 * Data comes from a StoreProvider (the node's tenants, heads and blocks); this file decides which
 * tenants a request selects (matchers on the tenant label and the external labels are decided
 * here, never sent to the provider), orders the series of all selected tenants by their labels,
 * and streams them. It is also the gRPC edge: coded errors become gRPC status codes here
 * (grpcStatusOf), as src/gateway/status.ts does for HTTP. It touches nothing but the provider
 * and its own listening socket.
 */
import * as grpc from '@grpc/grpc-js';
import { SluiceError, ErrorCode, isSluiceError } from '../../errors.js';
import { compileMatcher, type CompiledMatcher, type Matcher } from '../../model/matchers.js';
import { tenantExternalLabels, type Labels } from '../../model/labels.js';
import { XorIterator } from '../../chunkenc/xor.js';
import type { Logger } from '../../util/log.js';
import { seriesCount, seriesLabels, type RawSeriesSet } from '../seriesSet.js';
import {
  STORE_SERVICE, INFO_SERVICE, ChunkEncoding, PartialResponseStrategy, clampInt64, matcherFromWire, toNum,
  type AggrChunkMsg, type InfoResponseMsg, type LabelMsg, type LabelNamesRequestMsg, type LabelNamesResponseMsg,
  type LabelValuesRequestMsg, type LabelValuesResponseMsg, type SeriesMsg, type SeriesRequestMsg, type SeriesResponseMsg,
} from './schema.js';

/** StoreProvider is what a node offers the StoreAPI: its tenants and their data. */
export interface StoreProvider {
  /** Tenants with data (any order). */
  tenants(): Promise<string[]>;
  /** Raw selection for one tenant; labels already include external labels + the tenant label. */
  select(tenant: string, matchers: Matcher[], mint: number, maxt: number): Promise<RawSeriesSet>;
  /** Label names of one tenant's series matching `matchers` (without external/tenant labels is fine). */
  labelNames(tenant: string, matchers: Matcher[], mint: number, maxt: number): Promise<string[]>;
  /** Values of label `name` of one tenant's series matching `matchers`. */
  labelValues(tenant: string, name: string, matchers: Matcher[], mint: number, maxt: number): Promise<string[]>;
  /** The tenant label name (e.g. tenant_id) and the node's external labels (without it). */
  tenantLabelName: string;
  externalLabels: [string, string][];
  /**
   * Oldest/newest sample time this node may hold (ms), for Info. A node still receiving should
   * answer +Infinity as the newest (sent as MaxInt64, as Thanos Receive does).
   */
  timeRange(): Promise<[number, number]>;
}

/** MAX_MESSAGE_BYTES bounds one gRPC message either way (Thanos Query's default is larger still). */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** FRAME_CHUNK_BYTES: a series whose chunks exceed this is split over several frames (Thanos: 1 MiB). */
const FRAME_CHUNK_BYTES = 1024 * 1024;

/** AGGR_CHUNK_OVERHEAD bounds the encoded size of one AggrChunk beyond its data (tags, lengths, times). */
const AGGR_CHUNK_OVERHEAD = 32;

/** grpcStatusOf is the one place a coded error becomes a gRPC status code. */
export function grpcStatusOf(e: unknown): grpc.status {
  if (!isSluiceError(e)) return grpc.status.INTERNAL;
  switch (e.code) {
    case ErrorCode.BadRequest:
    case ErrorCode.InvalidTenant: return grpc.status.INVALID_ARGUMENT;
    case ErrorCode.Unavailable: return grpc.status.UNAVAILABLE;
    case ErrorCode.TooLarge:
    case ErrorCode.TooManyRequests: return grpc.status.RESOURCE_EXHAUSTED;
    default: return grpc.status.INTERNAL;
  }
}

/** toStatus builds the error object grpc-js sends as the call's status. */
function toStatus(e: unknown): grpc.ServerErrorResponse {
  const msg = e instanceof Error ? e.message : String(e);
  return Object.assign(new Error(msg), { code: grpcStatusOf(e), details: msg });
}

const badRequest = (msg: string): SluiceError => new SluiceError(ErrorCode.BadRequest, msg);

/** Selection is the outcome of splitting a request's matchers. */
interface Selection {
  /** Tenants whose external labels (tenant label included) satisfy the matchers on them. */
  tenants: string[];
  /** The matchers on series labels, for the provider. */
  rest: Matcher[];
}

/** One series of the response: its final labels (flattened) and where its chunks are. */
interface OutSeries {
  labels: string[];
  parts: { set: RawSeriesSet; i: number }[];
}

/**
 * compareCodePoints orders strings by Unicode code point, which is the byte order of their UTF-8
 * (Go's string comparison, hence Thanos'): JavaScript's `<` compares UTF-16 units and would put
 * characters above U+FFFF before U+E000…U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length < b.length ? a.length : b.length;
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length - b.length;
  let ca = a.charCodeAt(i);
  let cb = b.charCodeAt(i);
  if (ca >= 0xd800 && cb >= 0xd800) {
    // Surrogates (D800–DFFF) stand for code points above FFFF: move them above E000–FFFF.
    ca = ca >= 0xe000 ? ca - 0x800 : ca + 0x2000;
    cb = cb >= 0xe000 ? cb - 0x800 : cb + 0x2000;
  }
  return ca - cb;
}

/** compareFlat orders flattened label sets (name, value, …) as Prometheus' labels.Compare does. */
function compareFlat(a: string[], b: string[]): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const c = compareCodePoints(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** sameFlat tells whether two flattened label sets are equal. */
function sameFlat(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** dropLabels removes the labels named in `drop` from a flattened set, keeping the order. */
function dropLabels(flat: string[], drop: ReadonlySet<string>): string[] {
  if (drop.size === 0) return flat;
  const out: string[] = [];
  for (let k = 0; k < flat.length; k += 2) {
    if (!drop.has(flat[k]!)) out.push(flat[k]!, flat[k + 1]!);
  }
  return out;
}

/** sortedUnique sorts strings in code point order and removes duplicates and empty strings. */
function sortedUnique(xs: Iterable<string>): string[] {
  const out = [...new Set(xs)].filter((x) => x !== '');
  out.sort(compareCodePoints);
  return out;
}

/** limitOf reads a request limit: 0 or less means none. */
function limitOf(v: Parameters<typeof toNum>[0]): number {
  const n = toNum(v);
  return n > 0 ? n : Infinity;
}

/** abortsOnFailure tells whether the request wants a failing tenant to fail the whole call. */
function abortsOnFailure(r: { partialResponseDisabled?: boolean; partialResponseStrategy?: number }): boolean {
  return r.partialResponseDisabled === true || r.partialResponseStrategy === PartialResponseStrategy.ABORT;
}

const xorIt = new XorIterator();

/** xorTimeRange decodes the first and last timestamp of an XOR chunk ([NaN, NaN] when empty). */
function xorTimeRange(data: Uint8Array): [number, number] {
  xorIt.reset(data, 0, data.length);
  if (!xorIt.next()) return [NaN, NaN];
  const first = xorIt.t;
  let last = first;
  while (xorIt.next()) last = xorIt.t;
  return [first, last];
}

/** StoreServer serves the StoreAPI and InfoAPI of one node over gRPC. */
export class StoreServer {
  private readonly provider: StoreProvider;
  private readonly log: Logger;
  private server: grpc.Server | undefined;

  constructor(provider: StoreProvider, log: Logger) {
    this.provider = provider;
    this.log = log;
  }

  /** start listens on host:port (port 0: any) and resolves with the bound port. */
  async start(host: string, port: number): Promise<number> {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    });
    server.addService(STORE_SERVICE, {
      Series: (call: grpc.ServerWritableStream<SeriesRequestMsg, SeriesResponseMsg>) => { void this.series(call); },
      LabelNames: (call: grpc.ServerUnaryCall<LabelNamesRequestMsg, LabelNamesResponseMsg>, cb: grpc.sendUnaryData<LabelNamesResponseMsg>) => {
        this.unary('LabelNames', () => this.labelNames(call.request), cb);
      },
      LabelValues: (call: grpc.ServerUnaryCall<LabelValuesRequestMsg, LabelValuesResponseMsg>, cb: grpc.sendUnaryData<LabelValuesResponseMsg>) => {
        this.unary('LabelValues', () => this.labelValues(call.request), cb);
      },
    });
    server.addService(INFO_SERVICE, {
      Info: (_call: grpc.ServerUnaryCall<unknown, InfoResponseMsg>, cb: grpc.sendUnaryData<InfoResponseMsg>) => {
        this.unary('Info', () => this.info(), cb);
      },
    });
    const addr = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    }).catch((e: unknown) => {
      server.forceShutdown();
      throw new SluiceError(ErrorCode.Config, `gRPC listen on ${addr}: ${(e as Error).message}`, { cause: e });
    });
    this.server = server;
    this.log.info('StoreAPI listening', { address: `${host}:${bound}` });
    return bound;
  }

  /** stop refuses new calls, lets running ones finish for up to graceMs, then cancels them. */
  async stop(graceMs: number): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { server.forceShutdown(); resolve(); }, graceMs);
      server.tryShutdown(() => { clearTimeout(timer); resolve(); });
    });
  }

  /** unary answers a unary call from an async handler, mapping errors to status codes. */
  private unary<T>(method: string, run: () => Promise<T>, cb: grpc.sendUnaryData<T>): void {
    run().then((v) => cb(null, v), (e: unknown) => {
      this.logFailure(method, e);
      cb(toStatus(e));
    });
  }

  private logFailure(method: string, e: unknown): void {
    const code = grpcStatusOf(e);
    const fields = { method, code: grpc.status[code], err: e instanceof Error ? e.message : String(e) };
    if (code === grpc.status.INVALID_ARGUMENT) this.log.debug('StoreAPI request refused', fields);
    else this.log.warn('StoreAPI request failed', fields);
  }

  /**
   * select splits matchers: those on the tenant label or an external label decide which tenants
   * take part; the rest go to the provider. Every matcher is compiled, so a bad regex is a bad
   * request even when no tenant is selected.
   */
  private async select(matchers: Matcher[]): Promise<Selection> {
    const { tenantLabelName, externalLabels } = this.provider;
    const ext = new Map<string, string>(externalLabels);
    const onExt: CompiledMatcher[] = [];
    const rest: Matcher[] = [];
    for (const m of matchers) {
      const c = compileMatcher(m);
      if (m.name === tenantLabelName || ext.has(m.name)) onExt.push(c);
      else rest.push(m);
    }
    const tenants = (await this.provider.tenants()).filter((t) => onExt.every((c) => c.matches(c.name === tenantLabelName ? t : ext.get(c.name)!)));
    tenants.sort(compareCodePoints);
    return { tenants, rest };
  }

  /** perTenant runs `fn` for every tenant; failures abort or become warnings, per the request. */
  private async perTenant<T>(tenants: string[], abort: boolean, fn: (t: string) => Promise<T>): Promise<{ results: [string, T][]; warnings: string[] }> {
    const settled = await Promise.allSettled(tenants.map(fn));
    const results: [string, T][] = [];
    const warnings: string[] = [];
    settled.forEach((r, k) => {
      if (r.status === 'fulfilled') { results.push([tenants[k]!, r.value]); return; }
      const e = r.reason as unknown;
      // A bad request is the caller's fault whatever the strategy.
      if (abort || grpcStatusOf(e) === grpc.status.INVALID_ARGUMENT) throw e;
      const msg = `tenant ${JSON.stringify(tenants[k])}: ${e instanceof Error ? e.message : String(e)}`;
      this.log.warn('StoreAPI tenant failed, answering partially', { err: msg });
      warnings.push(msg);
    });
    return { results, warnings };
  }

  /** series serves one Series call. */
  private async series(call: grpc.ServerWritableStream<SeriesRequestMsg, SeriesResponseMsg>): Promise<void> {
    try {
      const r = call.request;
      const mint = toNum(r.minTime);
      const maxt = toNum(r.maxTime);
      if (mint > maxt) throw badRequest(`min_time ${mint} is after max_time ${maxt}`);
      const sel = await this.select(r.matchers.map(matcherFromWire));
      if (sel.tenants.length > 0 && sel.rest.length === 0) throw badRequest('no matchers specified (excluding external labels)');
      const { results, warnings } = await this.perTenant(sel.tenants, abortsOnFailure(r), (t) => this.provider.select(t, sel.rest, mint, maxt));
      const out = this.order(results.map(([, set]) => set), new Set(r.withoutReplicaLabels ?? []), limitOf(r.limit));
      const batch = Math.max(1, toNum(r.responseBatchSize));
      await this.stream(call, out, r.skipChunks === true, batch);
      for (const w of warnings) {
        if (call.cancelled || call.destroyed) return;
        await send(call, { warning: w });
      }
      if (!call.cancelled && !call.destroyed) call.end();
    } catch (e) {
      this.logFailure('Series', e);
      if (!call.cancelled && !call.destroyed) call.emit('error', toStatus(e));
    }
  }

  /**
   * order lists the series of all sets sorted by their labels (after dropping `drop`); series
   * whose labels became equal are merged into one, and at most `limit` are kept.
   */
  private order(sets: RawSeriesSet[], drop: ReadonlySet<string>, limit: number): OutSeries[] {
    const all: OutSeries[] = [];
    for (const set of sets) {
      const n = seriesCount(set);
      for (let i = 0; i < n; i++) all.push({ labels: dropLabels(seriesLabels(set, i).flat(), drop), parts: [{ set, i }] });
    }
    all.sort((a, b) => compareFlat(a.labels, b.labels));
    const out: OutSeries[] = [];
    for (const s of all) {
      const prev = out[out.length - 1];
      if (prev !== undefined && sameFlat(prev.labels, s.labels)) prev.parts.push(...s.parts);
      else if (out.length < limit) out.push(s);
      else break;
    }
    return out;
  }

  /** stream writes the series, one per frame (or `batch` per SeriesBatch frame when asked). */
  private async stream(call: grpc.ServerWritableStream<SeriesRequestMsg, SeriesResponseMsg>, out: OutSeries[], skipChunks: boolean, batch: number): Promise<void> {
    let pending: SeriesMsg[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      const msg: SeriesResponseMsg = batch > 1 ? { batch: { series: pending } } : { series: pending[0]! };
      pending = [];
      pendingBytes = 0;
      await send(call, msg);
    };
    for (const s of out) {
      if (call.cancelled || call.destroyed) return;
      const labels: LabelMsg[] = new Array(s.labels.length >> 1);
      for (let k = 0; k < labels.length; k++) labels[k] = { name: s.labels[2 * k]!, value: s.labels[2 * k + 1]! };
      const chunks = skipChunks ? [] : chunksOf(s);
      // Thanos Query fails on a series without chunks unless it asked for none.
      if (!skipChunks && chunks.length === 0) continue;
      const frames = skipChunks ? [[]] : splitFrames(chunks);
      for (const chunks of frames) {
        pending.push({ labels, chunks });
        for (const c of chunks) pendingBytes += c.raw!.data.length + AGGR_CHUNK_OVERHEAD;
        if (pending.length >= batch || pendingBytes >= FRAME_CHUNK_BYTES) await flush();
      }
    }
    await flush();
  }

  /** labelNames serves one LabelNames call. */
  private async labelNames(r: LabelNamesRequestMsg): Promise<LabelNamesResponseMsg> {
    const [start, end] = this.range(r.start, r.end);
    const sel = await this.select(r.matchers.map(matcherFromWire));
    const { results, warnings } = await this.perTenant(sel.tenants, abortsOnFailure(r), (t) => this.provider.labelNames(t, sel.rest, start, end));
    const names: string[] = [];
    for (const [, ns] of results) {
      // As Thanos: a tenant adds its external label names only when it has series at all.
      if (ns.length === 0) continue;
      names.push(...ns, this.provider.tenantLabelName);
      for (const [n] of this.provider.externalLabels) names.push(n);
    }
    const drop = new Set(r.withoutReplicaLabels ?? []);
    const out = sortedUnique(names).filter((n) => !drop.has(n));
    return { names: out.slice(0, limitOf(r.limit)), warnings };
  }

  /** labelValues serves one LabelValues call. */
  private async labelValues(r: LabelValuesRequestMsg): Promise<LabelValuesResponseMsg> {
    if (r.label === '') throw badRequest('label name parameter cannot be empty');
    const [start, end] = this.range(r.start, r.end);
    const sel = await this.select(r.matchers.map(matcherFromWire));
    const { tenantLabelName, externalLabels } = this.provider;
    const extValue = new Map<string, string>(externalLabels).get(r.label);
    const abort = abortsOnFailure(r);
    let values: string[] = [];
    let warnings: string[];
    if (r.label === tenantLabelName || extValue !== undefined) {
      // The value is the tenant's own (or the node's): given by every tenant with matching series.
      const got = await this.perTenant(sel.tenants, abort, (t) => this.provider.labelNames(t, sel.rest, start, end));
      for (const [t, ns] of got.results) if (ns.length > 0) values.push(r.label === tenantLabelName ? t : extValue!);
      warnings = got.warnings;
    } else {
      const got = await this.perTenant(sel.tenants, abort, (t) => this.provider.labelValues(t, r.label, sel.rest, start, end));
      for (const [, vs] of got.results) values.push(...vs);
      warnings = got.warnings;
    }
    values = sortedUnique(values);
    return { values: values.slice(0, limitOf(r.limit)), warnings };
  }

  /** range reads a label request's time range (start > end is a bad request). */
  private range(startV: Parameters<typeof toNum>[0], endV: Parameters<typeof toNum>[0]): [number, number] {
    const start = toNum(startV);
    const end = toNum(endV);
    if (start > end) throw badRequest(`start ${start} is after end ${end}`);
    return [start, end];
  }

  /** info serves thanos.info.Info/Info: one label set per tenant, the store's time range. */
  private async info(): Promise<InfoResponseMsg> {
    const { tenantLabelName, externalLabels } = this.provider;
    const [tenants, [minT, maxT]] = await Promise.all([this.provider.tenants(), this.provider.timeRange()]);
    tenants.sort(compareCodePoints);
    const sets = tenants.map((t) => ({ labels: toLabelMsgs(tenantExternalLabels(externalLabels, tenantLabelName, t)) }));
    const minTime = clampInt64(minT);
    const maxTime = clampInt64(maxT);
    return {
      labelSets: sets,
      componentType: 'receive',
      store: {
        minTime,
        maxTime,
        supportsSharding: false,
        supportsWithoutReplicaLabels: true,
        tsdbInfos: sets.map((labels) => ({ labels, minTime, maxTime })),
      },
    };
  }
}

/** toLabelMsgs turns Labels into Label messages. */
function toLabelMsgs(ls: Labels): LabelMsg[] {
  return ls.map(([name, value]) => ({ name, value }));
}

/** chunksOf lists a series' chunks (from every part) as AggrChunks, sorted by time. */
function chunksOf(s: OutSeries): AggrChunkMsg[] {
  const out: AggrChunkMsg[] = [];
  for (const { set, i } of s.parts) {
    for (let c = set.seriesChunks[i]!; c < set.seriesChunks[i + 1]!; c++) {
      const data = set.bytes.subarray(set.chunkOffs[c]!, set.chunkOffs[c + 1]!);
      let minT = set.chunkMinT ? set.chunkMinT[c]! : NaN;
      let maxT = set.chunkMaxT ? set.chunkMaxT[c]! : NaN;
      if (Number.isNaN(minT) || Number.isNaN(maxT)) [minT, maxT] = xorTimeRange(data);
      if (Number.isNaN(minT)) continue; // an empty chunk carries nothing
      out.push({ minTime: minT, maxTime: maxT, raw: { type: ChunkEncoding.XOR, data } });
    }
  }
  // Thanos Query expects a series' chunks ordered by time (overlaps are allowed).
  if (s.parts.length > 1 || !isSorted(out)) out.sort((a, b) => (a.minTime as number) - (b.minTime as number) || (a.maxTime as number) - (b.maxTime as number));
  return out;
}

function isSorted(cs: AggrChunkMsg[]): boolean {
  for (let k = 1; k < cs.length; k++) if ((cs[k - 1]!.minTime as number) > (cs[k]!.minTime as number)) return false;
  return true;
}

/** splitFrames cuts a series' chunks into groups of about FRAME_CHUNK_BYTES (at least one chunk each). */
function splitFrames(chunks: AggrChunkMsg[]): AggrChunkMsg[][] {
  const frames: AggrChunkMsg[][] = [];
  let cur: AggrChunkMsg[] = [];
  let bytes = 0;
  for (const c of chunks) {
    const n = c.raw!.data.length + AGGR_CHUNK_OVERHEAD;
    if (cur.length > 0 && bytes + n > FRAME_CHUNK_BYTES) {
      frames.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(c);
    bytes += n;
  }
  if (cur.length > 0 || frames.length === 0) frames.push(cur);
  return frames;
}

/** send writes one message, waiting for the stream to drain when its buffer is full. */
async function send(call: grpc.ServerWritableStream<SeriesRequestMsg, SeriesResponseMsg>, msg: SeriesResponseMsg): Promise<void> {
  if (call.write(msg)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('close', done);
      resolve();
    };
    call.on('drain', done);
    call.on('close', done);
  });
}
